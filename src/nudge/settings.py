"""One place where a preset and the options a user gave become a training set-up.

The CLI (``nudge train``, ``nudge sweep``) and the web page both call
:func:`resolve`; the rules are:

* every option left out (None) takes the preset's value;
* the learning rate: the one given, else the preset's for ``sgd``, that × (1 − μ) for
  ``momentum`` (the same steady step), 0.003 for ``adam``
  (:func:`nudge.optimizers.default_learning_rate`);
* the schedule's floor: the one given (refused under the ``constant`` schedule, which
  has none, as a momentum is refused without the momentum optimiser), else the preset's
  when neither the learning rate, the optimiser nor the schedule was changed, else 0 (0
  for ``constant``;
  for ``plateau`` 0 means η/64, :func:`nudge.schedules.plateau_floor`, applied by the
  trainer);
* the layer sizes: the ones given, else the preset's hidden layers between the
  data's inputs and classes; either way checked against the data and the bounds of a
  network (:func:`nudge.bounds.check_sizes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .bounds import check_choice, check_sizes
from .display import counted
from .errors import NudgeError
from .network import Network
from .optimizers import (
    DEFAULT_LEARNING_RATES,
    DEFAULT_MOMENTUM,
    check_momentum,
    check_optimizer,
    default_learning_rate,
)
from .presets import PRESETS
from .schedules import check_min_learning_rate, plateau_floor

#: the other names of the training options, as command-line flags (``--eta`` is
#: ``--learning-rate``): ``nudge train``'s and ``nudge sweep``'s options and the names
#: ``nudge sweep --axes`` takes all come from here
ALIASES: dict[str, tuple[str, ...]] = {"learning_rate": ("eta",)}


def flags(option: str) -> list[str]:
    """An option's command-line flags, its own first: ``learning_rate`` ->
    ``["--learning-rate", "--eta"]``."""
    return ["--" + n.replace("_", "-") for n in (option, *ALIASES.get(option, ()))]


def option_named(name: str) -> str:
    """The option that a flag's name without its dashes, or an alias, names:
    ``learning-rate`` and ``eta`` -> ``learning_rate``; another name, with ``_`` for ``-``."""
    name = name.strip().replace("-", "_")
    return next((o for o, others in ALIASES.items() if name in others), name)


@dataclass
class TrainingSetup:
    """A network's architecture and how to train it, with every choice made."""

    preset: str
    sizes: list[int]
    activation: str
    output: str
    cost: str
    init: str
    epochs: int
    batch_size: int | None           # None: full-batch gradient descent
    learning_rate: float
    schedule: str
    min_learning_rate: float
    weight_decay: float
    optimizer: str = "sgd"
    momentum: float = DEFAULT_MOMENTUM

    def network(self, seed: int | None) -> Network:
        """A freshly initialised network of this architecture."""
        return Network(self.sizes, activation=self.activation, output=self.output,
                       cost=self.cost, init=self.init, seed=seed)

    def architecture(self) -> dict[str, Any]:
        """The network's architecture, as :func:`architecture_of` gives a network's."""
        return {"sizes": list(self.sizes), "activation": self.activation,
                "output": self.output, "cost": self.cost, "init": self.init}

    def train_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`nudge.train.train` for this set-up."""
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "schedule": self.schedule,
                "min_learning_rate": self.min_learning_rate, "optimizer": self.optimizer,
                "momentum": self.momentum if self.optimizer == "momentum" else None,
                "weight_decay": self.weight_decay}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def chance_note(self, accuracy: float, classes: int, learning_rate: str = "learning rate",
                    epochs: str = "epochs") -> str:
        """What ``nudge train`` notes (and :meth:`nudge.Network.fit` warns) when a run of
        this set-up ends at about chance: the accuracy, then :meth:`chance_advice`."""
        return (f"a test accuracy of {100 * accuracy:.2f}% is about chance (1 in {classes}): "
                "the network has learned nothing useful; "
                + self.chance_advice(learning_rate, epochs))

    def chance_advice(self, learning_rate: str = "learning rate",
                      epochs: str = "epochs", ran: int | None = None) -> str:
        """Why a run of this set-up may have learned nothing, and what to try, judged by its
        η against the usual one (the preset's for sgd, else the optimiser's default): steps
        far smaller get nowhere; far larger ones saturate sigmoid and tanh neurons, or
        silence ReLU ones; near it, too few epochs (a sigmoid network at first sits on a
        plateau) or steps still too large.  The options named as the caller's users write
        them (``--learning-rate``, ``--epochs`` on the command line); ``ran``: the epochs
        finished by a run that goes on (the page's, told while it trains), which may
        still get going in those to come."""
        eta, known = self.learning_rate, self.preset in PRESETS
        sgd = PRESETS[self.preset]["learning_rate"] if known else DEFAULT_LEARNING_RATES["sgd"]
        usual = default_learning_rate(self.optimizer, sgd, self.momentum)
        whose = (f"the {self.preset} preset's" if known and self.optimizer == "sgd"
                 else f"{self.optimizer}'s default")
        if eta <= usual / 10:
            return (f"with eta {eta:g} ({whose} is {usual:g}) the steps may be too small to "
                    f"get anywhere in {counted(self.epochs, 'epoch')}: try a larger "
                    f"{learning_rate} or more {epochs}")
        why = ("ReLU neurons stop firing: they output 0 for every image"
               if self.activation == "relu" else f"{self.activation} neurons saturate")
        if eta >= usual * 10:
            return (f"with eta {eta:g} ({whose} is {usual:g}) the steps may be far too large "
                    f"({why}): try a smaller {learning_rate}")
        steps = f"steps of eta {eta:g} too large ({why}: try a smaller {learning_rate})"
        if ran is not None and ran < self.epochs:
            when = ("in its first epoch" if ran == 0
                    else f"after {counted(ran, 'epoch')} of {self.epochs}")
            return (f"{when} it may not have got going yet (a network often sits on a "
                    f"plateau at first: let it run), or {steps}")
        return (f"{counted(self.epochs, 'epoch')} may be too few to get going (try more "
                f"{epochs}), or {steps}")


def architecture_of(net: Network) -> dict[str, Any]:
    """A network's architecture as :func:`resolve` takes it: what a run that trains the
    network further keeps (``nudge train --start-from``, the page's "train further")."""
    return {"sizes": list(net.sizes), "activation": net.activation, "output": net.output,
            "cost": net.cost_function, "init": net.init}


def applicable(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` as a run used them, for showing: None for what means nothing in it (the
    momentum coefficient unless the optimiser is ``momentum``, the schedule's floor under
    the ``constant`` schedule), and the ``plateau`` schedule's floor as the trainer applies
    it (0: η/64, :func:`nudge.schedules.plateau_floor`).  ``nudge train --json`` and a
    sweep's summary show settings so; a sweep's results file keeps what :func:`resolve`
    chose (its keys hash that)."""
    out = dict(settings)
    if out.get("momentum") is not None and out.get("optimizer", "sgd") != "momentum":
        out["momentum"] = None
    floor, schedule = out.get("min_learning_rate"), out.get("schedule", "constant")
    if floor is not None and schedule == "constant":
        out["min_learning_rate"] = None
    elif floor is not None and schedule == "plateau" and out.get("learning_rate") is not None:
        out["min_learning_rate"] = plateau_floor(out["learning_rate"], floor)
    return out


def preset(name: str) -> dict[str, Any]:
    """The preset called ``name``, or a one-line error listing them."""
    return dict(PRESETS[check_choice("preset", name, tuple(PRESETS))])


def resolve(preset_name: str, *, n_inputs: int, n_classes: int,
            sizes: list[int] | None = None, hidden: list[int] | None = None,
            activation: str | None = None, output: str | None = None,
            cost: str | None = None, init: str | None = None, epochs: int | None = None,
            batch_size: int | None | Literal["preset"] = "preset",
            learning_rate: float | None = None, schedule: str | None = None,
            min_learning_rate: float | None = None,
            weight_decay: float | None = None, optimizer: str = "sgd",
            momentum: float | None = None) -> TrainingSetup:
    """The preset with the given options applied (see the module's rules).

    ``sizes`` (all layers) or ``hidden`` (the hidden layers only) replace the preset's
    architecture; ``batch_size="preset"`` keeps the preset's, ``None`` is full batch.
    ``momentum`` is for the momentum optimiser only (default
    :data:`~nudge.optimizers.DEFAULT_MOMENTUM`).
    """
    p = preset(preset_name)
    check_optimizer(optimizer)
    if momentum is not None and optimizer != "momentum":
        raise NudgeError(f"--momentum {momentum:g} is for --optimizer momentum ({optimizer} "
                         "has none): add --optimizer momentum, or leave --momentum out")
    if sizes is None:
        middle = p["sizes"][1:-1] if hidden is None else list(hidden)
        sizes = [n_inputs, *middle, n_classes]
    sizes = check_sizes(sizes)
    if sizes[0] != n_inputs:
        raise NudgeError(f"--sizes starts with {sizes[0]} inputs but the images have "
                         f"{n_inputs} pixels: start the sizes with {n_inputs}")
    if sizes[-1] != n_classes:
        raise NudgeError(f"--sizes ends with {sizes[-1]} outputs but the data has "
                         f"{n_classes} classes: end the sizes with {n_classes}")
    momentum = DEFAULT_MOMENTUM if momentum is None else check_momentum(momentum, "--momentum")
    eta = (float(learning_rate) if learning_rate is not None
           else default_learning_rate(optimizer, float(p["learning_rate"]), momentum))
    own = schedule in (None, p.get("schedule", "constant"))    # the preset's own schedule
    given_schedule, schedule = schedule, schedule or p.get("schedule", "constant")
    if min_learning_rate is not None and schedule == "constant":
        which = ("--schedule constant" if given_schedule else
                 f"the {preset_name} preset's schedule, constant,")
        raise NudgeError(f"--min-learning-rate {min_learning_rate:g} is for --schedule cosine "
                         f"or plateau; {which} keeps eta fixed: add --schedule cosine, or "
                         "leave --min-learning-rate out")
    if min_learning_rate is not None:
        floor = float(min_learning_rate)
    elif learning_rate is None and optimizer == "sgd" and own:
        floor = float(p.get("min_learning_rate", 0.0))
    else:
        floor = 0.0
    if schedule == "constant":
        floor = 0.0                                     # the preset's floor, unused
    check_min_learning_rate(floor, eta)
    return TrainingSetup(
        preset=preset_name, sizes=sizes, activation=activation or p["activation"],
        output=output or p["output"], cost=cost or p["cost"], init=init or p["init"],
        epochs=int(epochs or p["epochs"]),
        batch_size=p["batch_size"] if batch_size == "preset" else batch_size,
        learning_rate=eta, schedule=schedule, min_learning_rate=floor,
        weight_decay=float(p.get("weight_decay", 0.0) if weight_decay is None else weight_decay),
        optimizer=optimizer, momentum=momentum)
