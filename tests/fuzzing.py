"""What every property-based (Hypothesis) test file shares: how many examples a run tries.

The default run tries a few hundred examples per property (``FAST``-sized); the slow suite
(``pytest -m slow``) thousands.  No deadline (the machines are noisy), and fixtures that
are set up once per test are fine (the properties do not depend on them being fresh).
"""

from hypothesis import HealthCheck, settings


def examples(n: int) -> settings:
    """Hypothesis settings that try ``n`` examples."""
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
