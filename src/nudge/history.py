"""What a training run did: an :class:`EpochRecord` per epoch and the run's
:class:`History` (why it stopped, the epoch it kept, the settings and engine it ran with),
as :func:`nudge.train.train` returns it (also importable from there and from ``nudge``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .display import history_html, history_text


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
    validation_cost: float | None = None      # on the held-out examples, if any
    validation_accuracy: float | None = None
    complete: bool = True    # False: cut short by a stop (fewer steps than an epoch has)


@dataclass
class History:
    """The per-epoch record of a training run, plus why it stopped."""

    epochs: list[EpochRecord] = field(default_factory=list)
    stopped: str = "finished"   # "finished", "stopped" (Control.stop), "interrupted" (Ctrl-C),
    #                              "callback", "no improvement" or "diverged" (with patience,
    #                              after the best epoch)
    best_epoch: int | None = None      # with patience: the epoch whose parameters were kept
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def last(self) -> EpochRecord | None:
        """The record of the last epoch (None before the first)."""
        return self.epochs[-1] if self.epochs else None

    @property
    def kept(self) -> EpochRecord | None:
        """The record of the epoch whose parameters the network ended with: the best one
        with ``patience`` (early stopping), else the last."""
        if self.best_epoch is not None:
            return self.epochs[self.best_epoch - 1]
        return self.last

    @property
    def train_seconds(self) -> float:
        """Seconds spent taking steps, over all epochs (evaluation not counted)."""
        return float(sum(r.seconds for r in self.epochs))

    @property
    def engine(self) -> dict[str, Any]:
        """What took the steps: ``engine``, ``kernel``, ``kernel_isa``, ``threads`` (the
        most it could use) and ``threads_timed`` (whether it chose by the clock); None
        where they do not apply."""
        return {**{k: self.settings.get(k) for k in ("engine", "kernel", "kernel_isa",
                                                    "threads")},
                "threads_timed": bool(self.settings.get("threads_timed"))}

    def column(self, name: str) -> list[Any]:
        """One field over the epochs, e.g. ``history.column("test_accuracy")``."""
        return [getattr(r, name) for r in self.epochs]

    def to_dict(self) -> dict[str, Any]:
        """Every field, and ``train_seconds``, as JSON-friendly values (epochs as dicts)."""
        return {"epochs": [asdict(r) for r in self.epochs], "stopped": self.stopped,
                "best_epoch": self.best_epoch,
                "settings": self.settings, "train_seconds": self.train_seconds}

    def __repr__(self) -> str:
        return history_text(self)

    def _repr_html_(self) -> str:
        """A table of the epochs for Jupyter (:func:`nudge.display.history_html`)."""
        return history_html(self)
