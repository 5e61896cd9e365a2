"""What the page tells a learner while a run goes: each warning, with what to try.

Every warning is ``(kind, text, advice)``; a run shows each kind once.  The numbers they
come from are measured by :class:`nudge.web.training.TrainingJob`; the sentences are here,
in one place, so that a teacher can read (and reword) all of them at once, and so is the
rule that judges a run's sampled mini-batch costs while an epoch goes (:class:`CostWatch`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque

import numpy as np

from ..network import Network
from ..presets import DEFAULT_PRESET, PRESETS
from ..settings import TrainingSetup

#: a neuron whose activation varies less than this over the checked images is dead
DEAD_RANGE = 1e-3
#: a share of the hidden neurons dead before the page warns of it (one of 30 tanh neurons
#: saturates in a healthy nielsen run at 90%: true, but no reason for other settings)
DEAD_SHARE = 0.1

#: a sampled cost counts as too high only this far (a share) above its mark
MARGIN = 0.1
#: ...and only when this many sampled costs in a row (the page's updates) are
SUSTAINED = 10
#: the quick "rising": twice that many in a row above this multiple of the start's cost
#: (a model trained further, at cost 0.09, has 4 in 10 of its mini-batches above 1.1 times
#: that, and ten in a row come by chance in a long demo; above twice it, up to 3 in 10 do
#: (with momentum): ten in a row about once in 150,000 samples, a 30-minute demo's 36,000
#: a one in five chance; twenty in a row, once in 3e10)
RISEN = 2.0
#: the steady "rising": the smoothed cost above the start by MARGIN, once this share of
#: the run (and at least 2,000 examples) has gone, so that the smoothing has warmed up...
SETTLED = 0.02
#: ...and above it by this many standard errors of the start's cost too: that is measured
#: on 1,000 images, and a trained model's (cost 0.06-0.09: most images cost ~0, the few it
#: gets wrong ~1) varies by 17% from one 1,000 images to the next, so the first 1,000 sat
#: 15% below the mini-batches' mean (0.056 against 0.066) and a model trained further at
#: B=1000, learning nothing new and losing nothing, was told its cost rose
CERTAIN = 3
#: "stuck" wants the costs above the chance mark over at least this many examples (or half
#: an epoch, where that is fewer): a healthy tanh network on the nielsen preset's steps
#: sits at cost 1 (every output 0) for 200-600 examples before it learns (MNIST, 8 seeds),
#: and ten samples at 100/s are 100 examples, so it was told "near chance" two seconds in,
#: to reach 90% by the epoch's end; a network broken by its steps stays there
STALLED = 2000

Advice = tuple[str, str, str]


def chance_cost(net: Network, labels: np.ndarray) -> float:
    """The cost (``net``'s own cost function) of a network that has learned nothing and
    guesses: 1/k for each of its k outputs, whatever the image (the labels' desired outputs
    ``y``).  A run whose cost stays clearly above it does worse than such a guess."""
    k = net.sizes[-1]
    a = np.full((len(labels), k), 1 / k)
    z = np.zeros_like(a) if net.output == "softmax" else np.full_like(a, -math.log(k - 1))
    return float(np.mean(net.output_costs(a, z, net.desired_outputs(labels))))


class CostWatch:
    """Judges a run's sampled mini-batch costs as they come, so that a run in trouble is
    told while its first epoch goes, not at its end.  :meth:`add` says ``"rising"``
    (:func:`cost_rising`) when the last 2 × :data:`SUSTAINED` costs were all above
    :data:`RISEN` times the cost at the start (``first``), or when the smoothed cost is
    above it by :data:`MARGIN` and :data:`CERTAIN` of its standard errors once
    :data:`SETTLED` of the run has gone; and ``"stuck"`` when the costs have been above
    :func:`chance_cost` by the margin over :data:`STALLED` examples (half an epoch where
    fewer), the last :data:`SUSTAINED` all of them, and those no lower (by the margin) on
    average than the ones before them: worse than a guess, and not getting better (steps
    so large that the outputs saturated, or too small to get anywhere); the caller then
    measures the test accuracy (:func:`near_chance`).  A single
    mini-batch's cost is noisy; all of them in a row above the mark is not (a healthy
    run's, on its first plateau, sit at the chance cost, not above it).  After a
    ``"stuck"`` the costs before are set aside: the next judgement waits for new ones."""

    def __init__(self, first: float | None, chance: float | None, total_examples: int = 0,
                 epoch_examples: int = 0, first_error: float = 0.0) -> None:
        """``first``: the cost at the start, ``first_error`` its standard error (the images'
        costs' standard deviation over the square root of their number)."""
        self.first, self.chance, self.total = first, chance, total_examples
        self.first_error = first_error
        self.stalled = min(STALLED, epoch_examples // 2) if epoch_examples else STALLED
        self.costs: deque[float] = deque(maxlen=2 * SUSTAINED)
        self.above_since: int | None = None     # examples seen as the costs went above

    @classmethod
    def for_run(cls, net: Network, X: np.ndarray, y: np.ndarray, total_examples: int,
                epoch_examples: int) -> CostWatch:
        """The watch of a run of ``net`` starting now, its start's cost measured on ``X``."""
        with np.errstate(all="ignore"):
            costs = net.example_costs(X, y).astype(np.float64)
        chance = chance_cost(net, y) if net.sizes[-1] > 1 else None
        return cls(float(np.mean(costs)), chance, total_examples, epoch_examples,
                   float(np.std(costs) / math.sqrt(len(costs))))

    def add(self, cost: float, smoothed: float | None = None, seen: int = 0) -> list[str]:
        """``cost``: the last sampled one; ``smoothed``: the run's smoothed cost after it,
        ``seen`` examples into the run."""
        self.costs.append(cost)
        recent = list(self.costs)[-SUSTAINED:]
        found = []
        if self.first is not None and (
                len(self.costs) == self.costs.maxlen and min(self.costs) > RISEN * self.first
                or smoothed is not None and seen >= max(2000, SETTLED * self.total)
                and smoothed > (1 + MARGIN) * self.first + CERTAIN * self.first_error):
            found.append("rising")
        mark = math.inf if self.chance is None else (1 + MARGIN) * self.chance
        if cost <= mark:
            self.above_since = None
        elif self.above_since is None:
            self.above_since = seen
        if (self.above_since is not None and seen - self.above_since >= self.stalled
                and len(self.costs) == self.costs.maxlen and min(recent) > mark
                and np.mean(recent) > (1 - MARGIN) * np.mean(list(self.costs)[:SUSTAINED])):
            self.costs.clear()
            found.append("stuck")
        return found


def cost_infinite() -> Advice:
    return ("rising", "The cost became infinite: the steps are far too big.",
            "Stop and start again with a learning rate 10 times smaller.")


def cost_rising() -> Advice:
    return ("rising", "The cost is higher than when training started: the steps overshoot "
            "the valley.", "Try a learning rate 3 to 10 times smaller.")


def near_chance(accuracy: float, classes: int, setup: TrainingSetup,
                learning_rate: float | None = None, ran: int | None = None) -> Advice:
    """``learning_rate``: the η set on the page while the run goes, if any (the advice is
    about the steps being taken, not those the run started with); ``ran``: the epochs
    finished so far (a run with more to come may yet get going)."""
    if setup.preset not in PRESETS:         # "custom": the fields the form left out are the
        setup = dataclasses.replace(setup, preset=DEFAULT_PRESET)   # default preset's
    if learning_rate is not None:
        setup = dataclasses.replace(setup, learning_rate=learning_rate)
    why = setup.chance_advice(ran=ran)      # as nudge train says it, by the run's own eta
    return ("chance", f"Test accuracy {100 * accuracy:.1f}% is near chance "
            f"({100 / classes:.0f}%): the network has learned nothing useful.",
            f"{why[0].upper()}{why[1:]}; or the 3b1b preset's settings.")


def since_risen(warnings: list[dict[str, str]], accuracy: float,
                epoch: int) -> list[dict[str, str]] | None:
    """The run's ``warnings`` with its near-chance one marked as passed, when a later
    epoch's ``accuracy`` is no longer near chance (a run that sat on a plateau, then got
    going): it stays, as what happened, and says so, once; None when there is none to mark."""
    if not any(w["kind"] == "chance" and "since" not in w for w in warnings):
        return None
    since = f"It has since risen above chance: {100 * accuracy:.1f}% after epoch {epoch}."
    return [{**w, "since": since} if w["kind"] == "chance" else w for w in warnings]


def dead_neurons(net: Network, X: np.ndarray) -> list[int]:
    """Per hidden layer, how many neurons give (almost) the same activation for every
    row of ``X``: dead (ReLU at 0) or saturated, so they no longer learn."""
    activations, _ = net.forward(X)
    return [int(np.sum(np.ptp(a, axis=0) < DEAD_RANGE)) for a in activations[1:-1]]


def too_many_dead(count: int, hidden: int) -> bool:
    """Whether ``count`` dead neurons of ``hidden`` are worth a warning (:data:`DEAD_SHARE`
    of them, at least one)."""
    return count > 0 and count >= DEAD_SHARE * hidden


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
