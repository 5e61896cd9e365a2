"""nudge: a neural network that learns to read handwritten digits by gradient descent.

The core in one hop: the cost, the forward pass and backpropagation are in
:mod:`nudge.network`; the training loop (SGD, mini-batches, epochs) is in
:mod:`nudge.train`.
"""

from .data import Dataset, load_dataset, read_idx
from .errors import NudgeError
from .modelfile import load, save
from .network import Network
from .presets import PRESETS
from .train import EpochRecord, History, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "Dataset", "EpochRecord", "History", "Network", "NudgeError", "PRESETS",
    "evaluate", "load", "load_dataset", "read_idx", "save", "train",
]
