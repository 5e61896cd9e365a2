"""Named set-ups: the network of 3Blue1Brown's videos and the one of Nielsen's chapter 1.

Learning rates are for nudge's cost, Σⱼ (aⱼ − yⱼ)² with no factor ½.  Nielsen's
book uses ½ Σⱼ (aⱼ − yⱼ)², whose gradient is half as large, so his η = 3.0 is
the same step as η = 1.5 here: the ``nielsen`` preset takes exactly his steps.

Initialisation: both presets use ``scaled`` (weights ~ N(0, 1/n_in)), which
trains better and far more reliably than chapter 1's N(0, 1): measured with
``nudge train --preset nielsen --init normal`` seeds 1, 2, 3 gave 95.60%,
95.12% and 85.69% (saturated hidden neurons), against 96.01%, 96.11% and
more with ``scaled`` (see the README's Results).
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "3b1b": {
        "sizes": [784, 16, 16, 10], "activation": "sigmoid", "output": "sigmoid",
        "cost": "quadratic", "init": "scaled",
        "epochs": 30, "batch_size": 10, "learning_rate": 1.0,
        "schedule": "cosine", "min_learning_rate": 0.02, "weight_decay": 5e-5,
        "description": "784-16-16-10 sigmoid, quadratic cost (3Blue1Brown's network), B=10, "
                       "eta 1.0 decaying (cosine) to 0.02 over 30 epochs, L2 weight decay 5e-5",
    },
    "nielsen": {
        "sizes": [784, 30, 10], "activation": "sigmoid", "output": "sigmoid",
        "cost": "quadratic", "init": "scaled",
        "epochs": 30, "batch_size": 10, "learning_rate": 1.5, "schedule": "constant",
        "weight_decay": 0.0,
        "description": "784-30-10 sigmoid, quadratic cost, B=10, Nielsen's eta=3.0 "
                       "(1.5 on nudge's cost without the 1/2), 30 epochs (Nielsen, chapter 1)",
    },
}
