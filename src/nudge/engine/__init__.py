"""Engines: what takes the SGD steps for :func:`nudge.train.train`.

Two engines run the same mathematics (tested against each other):

* ``reference`` (:mod:`.reference`): ``Network.backprop`` and the optimisers of
  :mod:`nudge.optimizers`, in NumPy.  Every set-up: any dtype, every optimiser.
* ``fast`` (:mod:`.compiled`): the C kernel, for float32 networks trained with SGD or
  momentum (every activation, output and cost; not Adam).

An engine is made once per run with :func:`make_engine` and then asked for steps:
``engine.run(net, order, first, last, learning_rate)`` takes the mini-batch steps on
``order[first:last]`` in place.  The training loop (``nudge.train``) decides how many
steps per call, and does everything between calls (callbacks, pausing, Ctrl-C).
``engine.output_sums(net)`` gives the training inputs' output sums zᴸ by the engine's own
forward pass (the fast engine's reads only the lit pixels), or None: the trainer then
measures the training set with NumPy.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..errors import NudgeError, printable
from ..optimizers import DEFAULT_MOMENTUM
from . import clib, compiled
from . import threads as thread_rules
from .compiled import CompiledEngine
from .reference import ReferenceEngine

ENGINES = ("auto", "reference", "fast")
#: with a mini-batch of at least WIDE_MIN_BATCH examples and a hidden layer wider than
#: WIDE_MIN_HIDDEN neurons, matrix-matrix products (BLAS, the reference engine) beat the
#: kernel's example-at-a-time loop, so ``auto`` picks the reference engine there
WIDE_MIN_BATCH = 100
WIDE_MIN_HIDDEN = 1024

_said_no_c = False


def wide_for_the_kernel(sizes: list[int], batch_size: int) -> bool:
    """Whether ``auto`` leaves this network and mini-batch to the reference engine's BLAS."""
    return batch_size >= WIDE_MIN_BATCH and max(sizes[1:-1], default=0) > WIDE_MIN_HIDDEN


def make_engine(net: Any, X: np.ndarray, labels: Any, batch_size: int, *,
                optimizer: str = "sgd", momentum: float = DEFAULT_MOMENTUM,
                weight_decay: float = 0.0,
                engine: str = "auto", threads: int | None = None) -> Any:
    """The engine that will train ``net`` on ``(X, labels)``.

    ``engine="auto"``: the compiled engine where it applies, else the reference;
    ``"reference"``: always the reference; ``"fast"``: the compiled engine, and a
    set-up it cannot train is an error (one line saying why).  The first time an
    installation without the C kernel trains, one line on stderr says so.
    """
    global _said_no_c
    if engine not in ENGINES:
        raise NudgeError(f"unknown engine {engine!r}: choose auto, reference or fast")
    threads = thread_rules.check_threads(threads)
    if engine == "fast" or engine == "auto" and compiled.unsupported_reason(
            net, optimizer) is None and not wide_for_the_kernel(net.sizes, batch_size):
        # "fast" for a set-up the kernel cannot train: CompiledEngine says why
        return CompiledEngine(net, X, labels, batch_size, optimizer=optimizer,
                              momentum=momentum, weight_decay=weight_decay, threads=threads)
    if engine == "auto" and not _said_no_c and clib.unavailable_reason() is not None:
        _said_no_c = True
        print(f"nudge: training with the NumPy reference engine, because "
              f"{printable(clib.unavailable_reason())}", file=sys.stderr)
    return ReferenceEngine(net, X, labels, batch_size, optimizer=optimizer,
                           momentum=momentum, weight_decay=weight_decay)


__all__ = ["ENGINES", "CompiledEngine", "ReferenceEngine", "make_engine",
           "wide_for_the_kernel"]
