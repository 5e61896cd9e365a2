"""nudge: a neural network that learns to read handwritten digits by gradient descent.

The core in one hop: the cost, the forward pass and backpropagation (where the
gradient is computed) are in :mod:`nudge.network`; how a step uses the gradient in
:mod:`nudge.optimizers`; the one training loop (SGD, mini-batches, epochs) in
:mod:`nudge.train`; the engines that take its steps (NumPy reference, compiled C)
in :mod:`nudge.engine`; what the gradient means, made visible, in
:mod:`nudge.insight`.
"""

from .control import Control, Progress
from .data import Dataset, load_dataset, read_idx
from .errors import NudgeError
from .modelfile import load, save
from .network import Network
from .presets import PRESETS
from .train import EpochRecord, History, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "Control", "Dataset", "EpochRecord", "History", "Network", "NudgeError", "PRESETS",
    "Progress", "evaluate", "load", "load_dataset", "read_idx", "save", "train",
]
