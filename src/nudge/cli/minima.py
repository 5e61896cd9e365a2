"""``nudge landscape`` and ``interpolate``: the cost around a model and between two
(the library: :mod:`nudge.insight`, the figures :mod:`nudge.insight.plots` and
:mod:`nudge.insight.curvature_plots`)."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..bounds import DIRECTIONS, MAX_GRID, MAX_INTERPOLATION_POINTS, MAX_LANDSCAPE_POINTS, MAX_SPAN
from ..display import duration, number, say, table
from ..errors import NudgeError, printable
from .common import (
    add_data_options,
    add_examples,
    add_json_option,
    add_model_argument,
    add_plot,
    at_most,
    bounded_int,
    check_plot,
    data_for_model,
    examples_of,
    load_model,
    model_examples,
    positive_float,
    positive_int,
    print_json,
    print_plot,
    seed_type,
    weight_decay_type,
)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number")
    return value


def register(sub: Any) -> None:
    # ------------------------------------------------------------------ landscape
    p = sub.add_parser(
        "landscape", help="the cost along two directions through a model, and on their plane",
        description="Slices of the cost through a model's parameters. --directions gradient "
                    "(default): along the downhill direction -grad C and along a random "
                    "direction made orthogonal to the gradient (so its slope at the model is 0 "
                    "by construction; its bending is curvature). --directions filter: along "
                    "two random directions normalised filter by filter (each neuron's incoming "
                    "weights moved in proportion to their own length, biases not moved; Li et "
                    "al. 2018). The cost is the average cost without weight decay unless "
                    "--weight-decay is given.")
    add_model_argument(p)
    add_data_options(p, default=None)
    p.add_argument("--examples", type=positive_int, default=2000, metavar="N",
                   help="the cost is over the first N training examples (default 2000)")
    p.add_argument("--directions", choices=DIRECTIONS, default="gradient",
                   help="gradient (-grad C and a random direction orthogonal to it) or filter "
                        "(two filter-normalised random directions) (default gradient)")
    p.add_argument("--span", type=at_most(positive_float, MAX_SPAN),
                   help="how far to go each way (default 3, a distance in parameter space, "
                        "for gradient; 1, a fraction of each neuron's weights, for filter)")
    p.add_argument("--points", type=bounded_int(3, MAX_LANDSCAPE_POINTS), default=41,
                   help="points per line (41)")
    p.add_argument("--grid", type=bounded_int(3, MAX_GRID), default=21,
                   help="grid points per side (21)")
    p.add_argument("--seed", type=seed_type, default=0,
                   help="the random direction(s) (default 0)")
    p.add_argument("--weight-decay", type=weight_decay_type, default=0.0, metavar="LAMBDA",
                   help="add lambda/2 * sum(w^2) over the weights to the cost, as training "
                        "with --weight-decay does (default 0: the cost alone)")
    add_plot(p, "the 1-D slices and the 2-D contours")
    add_json_option(p)
    p.set_defaults(func=cmd_landscape)

    # ------------------------------------------------------------------ interpolate
    p = sub.add_parser(
        "interpolate", help="the cost and accuracy on the straight line between two models",
        description="The cost (no weight decay) and accuracy at (1-t) theta_A + t theta_B for t "
                    "from --from to --to: do two trained networks sit in one valley, or is "
                    "there a ridge between them? With --from-init, A is the model's own "
                    "initial weights (re-created from the seed in its file) and B the model.")
    p.add_argument("model_a", metavar="A", help="a model file (t = 0)")
    p.add_argument("model_b", metavar="B", nargs="?", help="another model file (t = 1)")
    p.add_argument("--from-init", action="store_true",
                   help="from A's initial weights (t = 0) to A itself (t = 1)")
    add_examples(p)
    p.add_argument("--points", type=bounded_int(2, MAX_INTERPOLATION_POINTS), default=31,
                   help="points on the line (default 31)")
    p.add_argument("--from", dest="t_from", type=_number, default=-0.25, metavar="T",
                   help="where the line starts (default -0.25)")
    p.add_argument("--to", dest="t_to", type=_number, default=1.25, metavar="T",
                   help="where the line ends (default 1.25)")
    add_plot(p, "the cost and the accuracy along the line")
    add_json_option(p)
    p.set_defaults(func=cmd_interpolate)


# ====================================================================== landscape
def cmd_landscape(args: argparse.Namespace) -> int:
    from .. import insight as ins

    check_plot(args.plot)
    net, data, X, y = model_examples(args, "train", args.examples)
    land = ins.landscape(net, X, y, args.span, args.points, args.grid, args.seed,
                         directions=args.directions, weight_decay=args.weight_decay)
    if args.plot:
        from ..insight.plots import plot_landscape

        plot_landscape(land, args.plot)
    if args.json:
        print_json({"model": args.model, "dataset": data.name, **land.to_dict(),
                    "plot_path": args.plot})
        return 0
    if args.weight_decay:
        say(f"{printable(args.model)}: cost over {land.n_examples:,} {data.name} "
            f"training examples with weight decay, C + (lambda/2) sum w^2 = "
            f"{land.cost:.6f} (lambda = {args.weight_decay:g}), its gradient's "
            f"length {land.gradient_norm:.4e}")
    else:
        say(f"{printable(args.model)}: cost over {land.n_examples:,} {data.name} "
            f"training examples C = {land.cost:.6f} (no weight decay), |grad C| = "
            f"{land.gradient_norm:.4e}")
    names = ["d1", "d2"]
    grad = "grad (C + decay)" if args.weight_decay else "grad C"     # of the cost sliced
    for k in range(2):
        say(f"{names[k]} = {land.labels[k]} (length {land.norms[k]:.4g}): slope at "
            f"the model measured {number(land.slopes[k], '+.4e')}, theory {grad} . "
            f"{names[k]} = {number(land.predicted_slopes[k], '+.4e')}")
    if args.directions == "gradient":
        say(f"(d2 was made orthogonal to {grad}, so its slope is 0 by construction; "
            "what the cost does along it is curvature)")
    span = land.offsets.max()
    say(f"lowest cost along d1 within +-{span:g}: {land.best_cost:.6f} at t = "
        f"{number(land.best_offset, '+.3f')}")
    idx = np.linspace(0, len(land.offsets) - 1, min(len(land.offsets), 11)).round().astype(int)
    print(table(["t", "cost along d1", "cost along d2"],
                [[number(land.offsets[i], "+.2f"), f"{land.cost_along[0][i]:.5f}",
                  f"{land.cost_along[1][i]:.5f}"] for i in idx]))
    say(f"2-D plane: cost from {land.plane_costs.min():.4f} to "
        f"{land.plane_costs.max():.4f} on a {args.grid}x{args.grid} grid")
    print_plot(args.plot)
    return 0


# ====================================================================== interpolate
def cmd_interpolate(args: argparse.Namespace) -> int:
    from .. import insight as ins

    check_plot(args.plot)
    if args.from_init == (args.model_b is not None):
        raise NudgeError("give two models A B, or one model with --from-init")
    if not args.t_from < args.t_to:
        raise NudgeError(f"--from {args.t_from:g} must be below --to {args.t_to:g}")
    net_a = load_model(args.model_a)
    if args.from_init:
        net_b, net_a = net_a, ins.initial_network(net_a)
        labels = ("initial weights", args.model_a)
    else:
        net_b = load_model(args.model_b)
        labels = (args.model_a, args.model_b)
    data = data_for_model(net_b, args.dataset, args.data_dir)
    X, y = examples_of(data, args.split, args.examples)
    line = ins.interpolate(net_a, net_b, X, y, points=args.points, start=args.t_from,
                           end=args.t_to, labels=labels)
    if args.plot:
        from ..insight.curvature_plots import plot_interpolation

        plot_interpolation([line], args.plot)
    if args.json:
        print_json({"dataset": data.name, "split": args.split, **line.to_dict(),
                    "plot_path": args.plot})
        return 0
    say(f"the straight line (1-t) A + t B from A = {printable(labels[0])} to B = "
        f"{printable(labels[1])}: |theta_B - theta_A| = {line.distance:.4g}; cost "
        f"(no weight decay) and accuracy over {line.n_examples:,} {data.name} "
        f"{args.split} examples ({duration(line.seconds)})")
    idx = np.unique(np.linspace(0, len(line.ts) - 1, min(len(line.ts), 16)).round()
                    .astype(int).tolist() + [int(np.searchsorted(line.ts, v)) for v in (0, 1)])
    print(table(["t", "cost", "accuracy"],
                [[number(line.ts[i], "+.3f"), f"{line.costs[i]:.5f}",
                  f"{100 * line.accuracies[i]:.2f}%"] for i in idx]))
    say(f"\n{printable(line.summary)}.", hang=0)
    print_plot(args.plot)
    return 0
