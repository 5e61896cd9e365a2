"""The learn view's curvature and noise panel, measured live while a run goes.

Every :data:`INSIGHT_GAP` seconds a thread of its own measures the sharpness λ_max of the
cost (against 2/η, where plain gradient descent stops being stable) and the gradient
noise scale B_simple (against the batch size), over :data:`INSIGHT_EXAMPLES` training
images, on a copy of the network that the training thread hands over between two steps
(:meth:`Measurements.offer`): the run never waits for a measurement.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..control import Progress
from ..network import Network
from . import advice

INSIGHT_EXAMPLES = 1000      # training images the curvature and noise panel measures on
INSIGHT_GAP = 3.0            # seconds between two of its measurements (0.03-0.04 s each on
#                              784-16-16-10: benchmarks/curvature_speed.py)
MAX_INSIGHT_POINTS = 500     # ...which are thinned to half past this (a long run sends fewer)


class Measurements:
    """The panel's measurements of one run: ``points`` (safe to read at any moment), one
    dict per measurement.  ``going()`` says whether the run still goes; ``warn(kind, text,
    advice)`` and ``bump()`` are the job's (a failed measurement is a warning; a new point
    a visible change)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, batch_size: int,
                 going: Callable[[], bool], warn: Callable[[str, str, str], None],
                 bump: Callable[[], None]) -> None:
        self.X, self.y = X[:INSIGHT_EXAMPLES], y[:INSIGHT_EXAMPLES]
        self.batch_size = batch_size
        self.going, self.warn, self.bump = going, warn, bump
        self.points: list[dict[str, Any]] = []
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._want_copy = threading.Event()
        self._copy_ready = threading.Event()
        self._copy: tuple[Network, int, int, float] | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="nudge-insight", daemon=True)
        self._thread.start()

    def offer(self, net: Network, p: Progress) -> None:
        """From the training thread, between two steps: a copy of ``net`` if one is asked
        for."""
        if self._want_copy.is_set():
            self._want_copy.clear()
            self._copy = (net.copy(), p.seen, p.epoch, p.learning_rate)
            self._copy_ready.set()

    def finish(self) -> None:
        """The run has ended: the thread stops waiting for a copy, and is waited for."""
        self._done.set()
        self._copy_ready.set()
        if self._thread is not None:
            self._thread.join(30)

    def _watch(self) -> None:
        from ..insight import curvature, noise_scale

        last = -1
        while self.going():
            self._copy_ready.clear()
            self._want_copy.set()
            if not self._copy_ready.wait(INSIGHT_GAP) or self._copy is None:
                continue                            # paused, or the run has ended
            net, seen, epoch, eta = self._copy
            self._copy = None
            if seen != last:
                last = seen
                self._measure(net, seen, epoch, eta, noise_scale, curvature)
            if self._done.wait(INSIGHT_GAP):
                return

    def _measure(self, net: Network, seen: int, epoch: int, eta: float, noise_scale: Any,
                 curvature: Any) -> None:
        try:
            with np.errstate(all="ignore"):
                b = noise_scale(net, self.X, self.y).b_simple
                lam = curvature(net, self.X, self.y, k=1, smallest=0, hutchinson=0,
                                tol=1e-3).largest[0]
        except Exception as e:  # noqa: BLE001 - a measurement that fails is said, not fatal
            self.warn(*advice.measure_failed(e))
            return
        point = {"seen": seen, "epoch": epoch, "b_simple": b if math.isfinite(b) else None,
                 "lambda_max": lam if math.isfinite(lam) else None, "learning_rate": eta,
                 "two_over_eta": 2 / eta, "batch_size": self.batch_size}
        points = [*self.points, point]                     # every other one, past the bound
        self.points = points if len(points) <= MAX_INSIGHT_POINTS else points[::-2][::-1]
        self.bump()
