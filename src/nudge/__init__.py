"""nudge: a neural network that learns to read handwritten digits by gradient descent.

The core in one hop: the cost, the forward pass and backpropagation (where the
gradient is computed) are in :mod:`nudge.network`; how a step uses the gradient in
:mod:`nudge.optimizers`; the one training loop (SGD, mini-batches, epochs) in
:mod:`nudge.train`; the engines that take its steps (NumPy reference, compiled C)
in :mod:`nudge.engine`; what the gradient means, made visible, in
:mod:`nudge.insight`.

The names below are imported on first use, so that ``import nudge`` (and the start
of the ``nudge`` command, which can then turn a Ctrl-C into a one-line message) costs
almost nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_WHERE = {
    "Control": "control", "Progress": "control",
    "Dataset": "data", "load_dataset": "data", "read_idx": "data",
    "NudgeError": "errors",
    "load": "modelfile", "save": "modelfile",
    "Network": "network",
    "PRESETS": "presets",
    "EpochRecord": "train", "History": "train", "evaluate": "train", "train": "train",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nudge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
