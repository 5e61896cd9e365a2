"""What the page tells a learner while a run goes: each warning, with what to try.

Every warning is ``(kind, text, advice)``; a run shows each kind once.  The numbers they
come from are measured by :class:`nudge.web.training.TrainingJob`; the sentences are here,
in one place, so that a teacher can read (and reword) all of them at once.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..network import Network
from ..presets import DEFAULT_PRESET, PRESETS
from ..settings import TrainingSetup

#: a neuron whose activation varies less than this over the checked images is dead
DEAD_RANGE = 1e-3

Advice = tuple[str, str, str]


def cost_infinite() -> Advice:
    return ("rising", "The cost became infinite: the steps are far too big.",
            "Stop and start again with a learning rate 10 times smaller.")


def cost_rising() -> Advice:
    return ("rising", "The cost is higher than when training started: the steps overshoot "
            "the valley.", "Try a learning rate 3 to 10 times smaller.")


def near_chance(accuracy: float, classes: int, setup: TrainingSetup) -> Advice:
    if setup.preset not in PRESETS:         # "custom": the fields the form left out are the
        setup = dataclasses.replace(setup, preset=DEFAULT_PRESET)   # default preset's
    why = setup.chance_advice()             # as nudge train says it, by the run's own eta
    return ("chance", f"Test accuracy {100 * accuracy:.1f}% is near chance "
            f"({100 / classes:.0f}%): the network has learned nothing useful.",
            f"{why[0].upper()}{why[1:]}; or the 3b1b preset's settings.")


def dead_neurons(net: Network, X: np.ndarray) -> list[int]:
    """Per hidden layer, how many neurons give (almost) the same activation for every
    row of ``X``: dead (ReLU at 0) or saturated, so they no longer learn."""
    activations, _ = net.forward(X)
    return [int(np.sum(np.ptp(a, axis=0) < DEAD_RANGE)) for a in activations[1:-1]]


def dead(count: int, hidden: int, activation: str) -> Advice:
    why = ("they output 0 for every input (ReLU)" if activation == "relu" else
           "they are saturated: the same output for every input")
    return ("dead", f"{count} of {hidden} hidden neurons are dead: {why}, so they no longer "
            "learn.", "Try a smaller learning rate or a larger batch size (batch size 1 takes "
            "the noisiest steps); with ReLU, sigmoid or tanh may do better.")


def diverged(learning_rate: float) -> Advice:
    return ("diverged", "The cost became NaN or infinite: gradient descent diverged.",
            f"Start again with a smaller learning rate, e.g. {learning_rate / 10:g}.")


def measure_failed(error: Exception) -> Advice:
    return ("measure", f"The curvature and noise could not be measured ({error}).",
            "Train without the measurements.")
