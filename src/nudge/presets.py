"""Named set-ups: the network of 3Blue1Brown's videos and those of Nielsen's chapters 1 and 3.

Learning rates are for nudge's cost, Σⱼ (aⱼ − yⱼ)² with no factor ½.  Nielsen's
book uses ½ Σⱼ (aⱼ − yⱼ)², whose gradient is half as large, so his η = 3.0 is
the same step as η = 1.5 here: the ``nielsen`` preset takes exactly his steps.

Initialisation: every preset uses ``scaled`` (weights ~ N(0, 1/n_in)), which
trains better and far more reliably than chapter 1's N(0, 1): with ``--init normal``
one of three ``nielsen`` seeds saturated its hidden neurons and ended far below the
others (the measured table is in docs/accuracy.md, "What it takes").

``nielsen-ch3`` is chapter 3's ``network2`` set-up: his cross-entropy cost is
nudge's (no ½), and his L2 term (λ/2n) Σ w² with λ = 5.0 and n = 50,000 is
nudge's ``weight_decay`` λ/n = 1e-4 (``θ ← (1 − ηλ/n) θ − η g``); nudge trains it on
all 60,000 training images (he kept 10,000 for validation: ``--validation 10000``
does the same; docs/accuracy.md compares the two).
"""

from __future__ import annotations

from typing import Any

#: the preset a command starts from when none is named
DEFAULT_PRESET = "3b1b"

PRESETS: dict[str, dict[str, Any]] = {
    "3b1b": {
        "sizes": [784, 16, 16, 10], "activation": "sigmoid", "output": "sigmoid",
        "cost": "quadratic", "init": "scaled",
        "epochs": 30, "batch_size": 10, "learning_rate": 1.0,
        "schedule": "cosine", "min_learning_rate": 0.02, "weight_decay": 5e-5,
        "description": "784-16-16-10 sigmoid, quadratic cost (3Blue1Brown's network), B=10, "
                       "eta 1.0 decaying (cosine) towards 0.02 over 30 epochs, L2 weight "
                       "decay 5e-5",
    },
    "nielsen": {
        "sizes": [784, 30, 10], "activation": "sigmoid", "output": "sigmoid",
        "cost": "quadratic", "init": "scaled",
        "epochs": 30, "batch_size": 10, "learning_rate": 1.5, "schedule": "constant",
        "weight_decay": 0.0,
        "description": "784-30-10 sigmoid, quadratic cost, B=10, Nielsen's eta=3.0 "
                       "(1.5 on nudge's cost without the 1/2), 30 epochs (Nielsen, chapter 1)",
    },
    "nielsen-ch3": {
        "sizes": [784, 100, 10], "activation": "sigmoid", "output": "sigmoid",
        "cost": "cross-entropy", "init": "scaled",
        "epochs": 60, "batch_size": 10, "learning_rate": 0.1, "schedule": "constant",
        "weight_decay": 1e-4,
        "description": "784-100-10 sigmoid, cross-entropy cost, B=10, eta 0.1, L2 weight "
                       "decay 1e-4 (Nielsen's lambda=5.0 over n=50,000), 60 epochs "
                       "(Nielsen, chapter 3: 98.04%)",
    },
}
