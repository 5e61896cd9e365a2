"""Training: stochastic gradient descent, as in the videos.

One *epoch*: shuffle the training examples, split them into *mini-batches*
of ``batch_size``, and take one step downhill per mini-batch using the
gradient of that mini-batch's average cost (an estimate of the true
gradient).  With ``batch_size`` equal to the number of examples this is plain
(full-batch) gradient descent.

Optimisers (how a step uses the gradient g = ∂C/∂θ)::

    sgd       θ ← θ − η g                                   (the default)
    momentum  v ← μ v − η g;  θ ← θ + v
    adam      m ← β₁m + (1−β₁)g;  s ← β₂s + (1−β₂)g²;  θ ← θ − η m̂ / (√ŝ + ε)

Learning-rate schedules: ``constant`` (η every epoch, the default) or
``cosine``: in epoch e of E, η_e = η_min + (η − η_min) (1 + cos(π (e−1)/E)) / 2,
big steps first and ever smaller ones as the network settles.

``weight_decay`` λ adds (λ/2) Σ w² to the cost (L2), i.e. λ w to each weight's
gradient; biases are not decayed.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import DivergenceError, NudgeError
from .network import Network, desired_outputs

OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "cosine")
DEFAULT_LEARNING_RATES = {"sgd": 3.0, "momentum": 0.5, "adam": 0.003}


# --------------------------------------------------------------------------- results
@dataclass
class EpochRecord:
    """What one epoch did.  Costs are averages over the whole set, after the epoch."""

    epoch: int
    train_cost: float | None
    test_cost: float | None
    test_accuracy: float | None
    seconds: float          # time spent on the SGD steps of this epoch
    steps: int              # mini-batch steps taken in this epoch
    learning_rate: float | None = None   # η used in this epoch


@dataclass
class History:
    """The per-epoch record of a training run, plus why it stopped."""

    epochs: list[EpochRecord] = field(default_factory=list)
    stopped: str = "finished"          # "finished", "interrupted" or "callback"
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def last(self) -> EpochRecord | None:
        return self.epochs[-1] if self.epochs else None

    @property
    def train_seconds(self) -> float:
        return float(sum(r.seconds for r in self.epochs))

    def column(self, name: str) -> list[Any]:
        """One field over the epochs, e.g. ``history.column("test_accuracy")``."""
        return [getattr(r, name) for r in self.epochs]

    def as_dict(self) -> dict[str, Any]:
        return {"epochs": [asdict(r) for r in self.epochs], "stopped": self.stopped,
                "settings": self.settings, "train_seconds": self.train_seconds}


# --------------------------------------------------------------------------- optimisers
class SGD:
    """θ ← θ − η (g + λθ)   (λθ only for weights, only when weight_decay > 0)."""

    def __init__(self, learning_rate: float, weight_decay: float = 0.0) -> None:
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay

    def step(self, net: Network, grad_w: list[np.ndarray], grad_b: list[np.ndarray]) -> None:
        """One step for every parameter; weights get the decay term λθ, biases do not."""
        if self.weight_decay:
            grad_w = [g + self.weight_decay * W for g, W in zip(grad_w, net.weights)]
        for i, (p, g) in enumerate(zip(net.weights + net.biases, grad_w + grad_b)):
            self.update(i, p, g)

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        p -= self.learning_rate * g


class Momentum(SGD):
    """v ← μ v − η g;  θ ← θ + v."""

    def __init__(self, learning_rate: float, momentum: float = 0.9,
                 weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        self.momentum = momentum
        self.velocity: dict[int, np.ndarray] = {}

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        v = self.velocity.setdefault(i, np.zeros_like(p))
        v *= self.momentum
        v -= self.learning_rate * g
        p += v


class Adam(SGD):
    """Adam (Kingma & Ba, 2015) with bias-corrected first and second moments."""

    def __init__(self, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m: dict[int, np.ndarray] = {}
        self.s: dict[int, np.ndarray] = {}
        self.t = 0

    def step(self, net: Network, grad_w: list[np.ndarray], grad_b: list[np.ndarray]) -> None:
        self.t += 1
        super().step(net, grad_w, grad_b)

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        m = self.m.setdefault(i, np.zeros_like(p))
        s = self.s.setdefault(i, np.zeros_like(p))
        m *= self.beta1
        m += (1 - self.beta1) * g
        s *= self.beta2
        s += (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1 ** self.t)
        s_hat = s / (1 - self.beta2 ** self.t)
        p -= (self.learning_rate * m_hat / (np.sqrt(s_hat) + self.eps)).astype(p.dtype)


def learning_rate_at(epoch: int, epochs: int, learning_rate: float, schedule: str = "constant",
                     min_learning_rate: float = 0.0) -> float:
    """η for epoch ``epoch`` (1-based) of ``epochs`` under the schedule."""
    if schedule == "constant":
        return learning_rate
    if schedule == "cosine":
        progress = (epoch - 1) / epochs
        return min_learning_rate + (learning_rate - min_learning_rate) * 0.5 * (
            1 + math.cos(math.pi * progress))
    raise NudgeError(f"unknown learning-rate schedule {schedule!r}: choose one of "
                     f"{', '.join(SCHEDULES)}")


def make_optimizer(name: str, learning_rate: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> SGD:
    if name == "sgd":
        return SGD(learning_rate, weight_decay)
    if name == "momentum":
        return Momentum(learning_rate, momentum, weight_decay)
    if name == "adam":
        return Adam(learning_rate, weight_decay=weight_decay)
    raise NudgeError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")


# --------------------------------------------------------------------------- evaluation
def evaluate(net: Network, X: Any, y: Any, chunk: int = 2000) -> tuple[float, float]:
    """(average cost, accuracy) over a data set, in chunks so memory stays small."""
    n = len(X)
    if n == 0:
        raise NudgeError("cannot evaluate on an empty data set")
    total_cost, correct = 0.0, 0
    for start in range(0, n, chunk):
        Xc, yc = X[start:start + chunk], np.asarray(y[start:start + chunk])
        out = net.feedforward(Xc)
        total_cost += float(np.sum(net.example_costs(Xc, yc)))
        correct += int(np.sum(np.argmax(out, axis=1) == yc))
    return total_cost / n, correct / n


# --------------------------------------------------------------------------- Ctrl-C
class _StopFlag:
    """Turns the first Ctrl-C into a request to stop after the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:          # a second Ctrl-C aborts at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


# --------------------------------------------------------------------------- the trainer
def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise NudgeError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _positive_float(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NudgeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise NudgeError(f"{name} must be a finite number above 0, got {value!r}")
    return v


def train(
    net: Network,
    X: Any,
    y: Any,
    *,
    epochs: int = 30,
    batch_size: int | None = 10,
    learning_rate: float | None = None,
    schedule: str = "constant",
    min_learning_rate: float = 0.0,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    test_data: tuple[Any, Any] | None = None,
    seed: int | None = None,
    callback: Callable[[EpochRecord, Network], Any] | None = None,
    progress: bool = False,
    monitor_train_cost: bool = True,
    engine: str = "auto",
    threads: int | None = None,
) -> History:
    """Train ``net`` in place by mini-batch stochastic gradient descent.

    ``X`` holds one example per row (uint8 pixels are read as intensity/255),
    ``y`` the labels (or desired output rows).  ``batch_size=None`` means the
    whole training set: full-batch gradient descent.  ``test_data=(X, y)`` is
    evaluated after every epoch.  ``callback(record, net)`` runs after every
    epoch; returning ``False`` stops training.  ``seed`` fixes the shuffling
    (default: the network's seed).  ``schedule`` is ``"constant"`` or
    ``"cosine"`` (η decays to ``min_learning_rate`` over the epochs).
    ``engine`` is ``"reference"`` (the NumPy code in ``nudge.network``),
    ``"fast"`` (a compiled epoch kernel for plain SGD) or ``"auto"`` (fast
    where it applies).  ``threads`` (1 or 2; default ``$NUDGE_THREADS``, else
    2 where two CPUs are free): how many threads the compiled C kernel may use
    for networks big enough to share (``nudge.fast.kernel_threads``); the
    result is the same either way.

    The first Ctrl-C stops after the current step and returns the history so
    far (``history.stopped == "interrupted"``); the network keeps what it learned.
    A NaN or infinite cost raises :class:`DivergenceError` with the network
    restored to its last finite state.
    """
    if optimizer not in OPTIMIZERS:
        raise NudgeError(f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    epochs = _positive_int("epochs", epochs)
    if learning_rate is None:
        learning_rate = DEFAULT_LEARNING_RATES[optimizer]
    learning_rate = _positive_float("learning rate", learning_rate)
    learning_rate_at(1, epochs, learning_rate, schedule)          # validates the schedule
    if not (0 <= min_learning_rate <= learning_rate):
        raise NudgeError(f"the minimum learning rate must be between 0 and the learning rate "
                         f"{learning_rate:g}, got {min_learning_rate!r}")
    if weight_decay < 0 or not math.isfinite(weight_decay):
        raise NudgeError(f"weight decay must be 0 or more, got {weight_decay!r}")
    if not 0 <= momentum < 1:
        raise NudgeError(f"momentum must be in [0, 1), got {momentum!r}")
    X = np.asarray(X)
    n = len(X)
    if n == 0:
        raise NudgeError("there are no training examples")
    batch_size = n if batch_size is None else _positive_int("batch size", batch_size)
    if batch_size > n:
        raise NudgeError(f"batch size {batch_size} is larger than the {n} training examples: "
                         f"use at most {n} (that is full-batch gradient descent)")
    if X.ndim != 2 or X.shape[1] != net.sizes[0]:
        raise NudgeError(f"training inputs have shape {X.shape}; the network expects rows of "
                         f"{net.sizes[0]} values")
    Y = desired_outputs(y, net.sizes[-1], net.dtype.type)
    if len(Y) != n:
        raise NudgeError(f"{n} training inputs but {len(Y)} labels")
    labels = np.asarray(y)

    from . import fast

    threads = fast.check_threads(threads)

    use_fast = fast.supports(net, optimizer, weight_decay, engine)
    fast_inputs = (fast.prepare(X, net.sizes, batch_size, fast.c_supports(net))
                   if use_fast else None)
    opt = make_optimizer(optimizer, learning_rate, momentum, weight_decay)
    rng = np.random.default_rng(net.seed if seed is None else seed)
    history = History(settings={
        "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "schedule": schedule,
        "min_learning_rate": min_learning_rate if schedule != "constant" else None,
        "optimizer": optimizer, "momentum": momentum if optimizer == "momentum" else None,
        "weight_decay": weight_decay, "seed": seed if seed is not None else net.seed,
        "engine": "fast" if use_fast else "reference",
    })
    steps_per_epoch = -(-n // batch_size)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs * steps_per_epoch, unit="step", desc="training",
                   dynamic_ncols=True, leave=True)
    try:
        # a diverging run overflows on its way to NaN: we report that ourselves, once
        with _StopFlag() as stop, np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(1, epochs + 1):
                snapshot = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
                order = rng.permutation(n)
                eta = learning_rate_at(epoch, epochs, learning_rate, schedule, min_learning_rate)
                opt.learning_rate = eta
                start_time = time.perf_counter()
                if use_fast:
                    steps = fast.sgd_epoch(net, fast_inputs, labels, order, batch_size,
                                           eta, stop=stop, bar=bar,
                                           weight_decay=weight_decay, threads=threads)
                    history.settings["kernel"] = fast.last_kernel     # "c", "numba" or "blas"
                    history.settings["threads"] = fast.last_threads
                    if fast.last_kernel == "c":
                        history.settings["kernel_isa"] = fast.c_kernel_isa
                else:
                    steps = _reference_epoch(net, X, Y, order, batch_size, opt, stop, bar)
                seconds = time.perf_counter() - start_time
                record = _end_of_epoch(net, epoch, X, labels, test_data, seconds, steps,
                                       monitor_train_cost, snapshot, eta, history)
                history.epochs.append(record)
                if bar is not None and record.test_accuracy is not None:
                    bar.set_postfix(epoch=epoch, test_acc=f"{record.test_accuracy:.2%}")
                if stop.requested:
                    history.stopped = "interrupted"
                    break
                if callback is not None and callback(record, net) is False:
                    history.stopped = "callback"
                    break
    finally:
        if bar is not None:
            bar.close()
    return history


def _reference_epoch(net: Network, X: np.ndarray, Y: np.ndarray, order: np.ndarray,
                     batch_size: int, opt: SGD, stop: _StopFlag, bar: Any) -> int:
    """One epoch with the readable NumPy code: a mini-batch at a time."""
    steps = 0
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        grad_w, grad_b = net.backprop(X[batch], Y[batch])
        opt.step(net, grad_w, grad_b)
        steps += 1
        if bar is not None:
            bar.update(1)
        if stop.requested:
            break
    return steps


def _end_of_epoch(net: Network, epoch: int, X: np.ndarray, labels: np.ndarray,
                  test_data: tuple[Any, Any] | None, seconds: float, steps: int,
                  monitor_train_cost: bool, snapshot: tuple[list, list], learning_rate: float,
                  history: History) -> EpochRecord:
    finite = all(np.isfinite(w).all() for w in net.weights) and all(
        np.isfinite(b).all() for b in net.biases)
    train_cost = evaluate(net, X, labels)[0] if (monitor_train_cost and finite) else None
    test_cost = test_accuracy = None
    if test_data is not None and finite:
        test_cost, test_accuracy = evaluate(net, *test_data)
    costs = [c for c in (train_cost, test_cost) if c is not None]
    if not finite or not all(math.isfinite(c) for c in costs):
        net.weights, net.biases = snapshot
        err = DivergenceError(
            f"training diverged in epoch {epoch} (the cost became NaN or infinite) with "
            f"learning rate {learning_rate:g}: try a smaller one, e.g. "
            f"--learning-rate {learning_rate / 10:g}"
        )
        err.history = history  # type: ignore[attr-defined]
        raise err
    return EpochRecord(epoch, train_cost, test_cost, test_accuracy, seconds, steps,
                       learning_rate)
