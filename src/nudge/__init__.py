"""nudge: a neural network that learns to read handwritten digits by gradient descent.

The core in one hop: the cost, the forward pass and backpropagation (where the
gradient is computed) are in :mod:`nudge.network`; how a step uses the gradient in
:mod:`nudge.optimizers`; the one training loop (SGD, mini-batches, epochs) in
:mod:`nudge.train`; the engines that take its steps in :mod:`nudge.engine` (the NumPy
reference calls ``Network.backprop``; the compiled one computes the same gradient in C,
``engine/_ckernel.c``); what the gradient means, made visible, in
:mod:`nudge.insight`.
"""

from ._start import quiet_ctrl_c_while_starting, started_as_the_command

if started_as_the_command():
    quiet_ctrl_c_while_starting()

from .control import Control, Progress  # noqa: E402
from .data import Dataset, load_dataset  # noqa: E402
from .errors import NudgeError  # noqa: E402
from .history import EpochRecord, History  # noqa: E402
from .idx import read_idx  # noqa: E402
from .modelfile import load, save  # noqa: E402
from .network import Network  # noqa: E402
from .presets import PRESETS  # noqa: E402
from .train import ChanceWarning, evaluate, train  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ChanceWarning", "Control", "Dataset", "EpochRecord", "History", "Network", "NudgeError",
    "PRESETS", "Progress", "evaluate", "load", "load_dataset", "read_idx", "save", "train",
]
