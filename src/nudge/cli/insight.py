"""``nudge sensitivity``, ``nudges``, ``average`` and ``descent``: the gradient, made visible
(the library is :mod:`nudge.insight`, the figures :mod:`nudge.insight.plots`).  ``landscape``
and ``interpolate`` are in :mod:`nudge.cli.minima`; ``noise``, ``curvature`` and
``stability`` in :mod:`nudge.cli.curvature`."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ..bounds import MAX_COUNT, MAX_DESCENT_EPOCHS, MAX_DRAWS
from ..checks import check_batch_fits
from ..display import duration, factor, number, percent, ratio, say, table
from ..errors import NudgeError, printable
from ..network import Network
from .common import (
    add_data_options,
    add_examples,
    add_json_option,
    add_model_argument,
    add_plot,
    add_split,
    batch_list,
    bounded_int,
    check_plot,
    data_for_model,
    examples_of,
    float_list,
    int_list,
    layer_sizes,
    load_data,
    load_model,
    model_examples,
    positive_int,
    print_json,
    print_plot,
    seed_type,
)

if TYPE_CHECKING:
    from .. import insight as ins


# register() is long only because it declares every option of its commands, one statement
# per option (argparse); it has no logic
def register(sub: Any) -> None:
    # ------------------------------------------------------------------ sensitivity
    p = sub.add_parser(
        "sensitivity", help="the gradient as sensitivities: which weights and biases matter",
        description="Compute the gradient of the cost over a set of examples (default: the "
                    "whole training set) and rank every weight and bias by |dC/dtheta|. Layers "
                    "count from 1 (layer l = weights[l-1]); neurons, pixels, rows and columns "
                    "from 0.")
    add_model_argument(p)
    add_examples(p)
    p.add_argument("--top", type=positive_int, default=10, metavar="K",
                   help="how many of the most and least sensitive to show (default 10)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="compare two parameters, e.g. 'layer 1 weight from input pixel (row 12, "
                        "col 7) to hidden neuron 3' 'b3[2]' (short forms: w1[3,343], b3[2], #N)")
    p.add_argument("--steps", type=float_list, default=[1.0, 0.1, 0.01], metavar="ETA,...",
                   help="learning rates of the check steps -eta*grad C (default 1,0.1,0.01)")
    add_plot(p, "|dC/dw| of each first-layer neuron as an image, and a per-layer bar chart")
    add_json_option(p)
    p.set_defaults(func=cmd_sensitivity)

    # ------------------------------------------------------------------ nudges
    p = sub.add_parser(
        "nudges", help="one example's wished-for nudges, from the outputs back to layer 1",
        description="For one example, show the chain of the video: outputs vs desired outputs, "
                    "the wished-for nudge of each output, the three ways to get there (biases, "
                    "weights, previous activations), and the same wishes layer by layer back to "
                    "the first. The nudges shown are exactly -grad C_x of this example.")
    add_model_argument(p)
    p.add_argument("--example", type=int, required=True, metavar="I",
                   help="which example (counting from 0)")
    add_data_options(p, default=None)
    add_split(p, "--dataset-split")          # its first name, still taken
    p.add_argument("--show", type=positive_int, default=5, metavar="K",
                   help="how many of the largest nudges to list per layer (default 5)")
    add_plot(p, "the digit, outputs vs desired outputs, and the nudges of every layer")
    add_json_option(p)
    p.set_defaults(func=cmd_nudges)

    # ------------------------------------------------------------------ average
    p = sub.add_parser(
        "average", help="the full gradient vs mini-batch estimates of it",
        description="Check that the average of all examples' nudges is the full gradient, then "
                    "for several batch sizes measure how well a random mini-batch's gradient "
                    "estimates it (cosine similarity, relative error, time per estimate).")
    add_model_argument(p)
    add_data_options(p, default=None)
    p.add_argument("--examples", type=positive_int, metavar="N",
                   help="use only the first N training examples (default: all)")
    p.add_argument("--batch-sizes", type=int_list, metavar="B,...",
                   help="batch sizes (default: those of 1,10,100,1000,10000 up to the number "
                        "of examples)")
    p.add_argument("--draws", type=bounded_int(1, MAX_DRAWS), default=30, metavar="N",
                   help="random mini-batches per batch size (default 30)")
    p.add_argument("--check-examples", type=bounded_int(0, MAX_COUNT), default=2000, metavar="N",
                   help="how many examples' own nudges to average for the equality check "
                        "(default 2000; 0 skips it)")
    p.add_argument("--seed", type=seed_type, default=0, help="fixes the random batches (default 0)")
    add_plot(p, "cosine, relative error and time against batch size")
    add_json_option(p)
    p.set_defaults(func=cmd_average)

    # ------------------------------------------------------------------ descent
    p = sub.add_parser(
        "descent", help="full-batch gradient descent vs SGD from the same start",
        description="Train one initial network with full-batch gradient descent and with "
                    "mini-batch SGD, recording the cost against examples processed and wall "
                    "time, and say how much sooner each reaches the cost full-batch GD ends at. "
                    "Default learning rates: 4 for full-batch GD, 3 for mini-batches.")
    add_data_options(p)
    p.add_argument("--batch-sizes", type=batch_list, default=[None, 100, 10],
                   metavar="B,...", help="'full' and/or mini-batch sizes (default full,100,10)")
    p.add_argument("--epochs", type=bounded_int(1, MAX_DESCENT_EPOCHS), default=100,
                   help="passes over the training examples (default 100: 100 full-batch "
                        "steps)")
    p.add_argument("--learning-rates", type=float_list, metavar="ETA,...",
                   help="one eta for all, or one per batch size (default: 4 for full, 3 for "
                        "mini-batches)")
    p.add_argument("--train-limit", type=positive_int, default=5000, metavar="N",
                   help="use the first N training images (default 5000)")
    p.add_argument("--sizes", type=layer_sizes, metavar="N,N,...",
                   help="layer sizes (default: inputs,16,16,10)")
    p.add_argument("--seed", type=seed_type, default=0, help="initial network and shuffling "
                   "(default 0)")
    p.add_argument("--monitor", type=positive_int, default=2000, metavar="N",
                   help="random training examples the recorded cost is measured on "
                        "(default 2000)")
    add_plot(p, "cost against examples processed and against seconds")
    p.add_argument("--paths-plot", metavar="FILE.png",
                   help="save a figure: the paths on their two main directions over cost "
                        "contours")
    add_json_option(p)
    p.set_defaults(func=cmd_descent)


# ====================================================================== sensitivity
def _param_rows(items: list[ins.RankedParameter]) -> list[list[Any]]:
    return [[r.rank, number(r.gradient), r.direction, r.name] for r in items]


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from .. import insight as ins

    check_plot(args.plot)
    net = load_model(args.model)
    data = data_for_model(net, args.dataset, args.data_dir)
    shape = data.image_shape
    if args.compare:                                   # fail on bad names before the work
        for name in args.compare:
            ins.parse_parameter(net, name, shape)
    X, y = examples_of(data, args.split, args.examples)
    sens = ins.sensitivity(net, X, y, k=args.top, split=args.split, image_shape=shape)
    cmp = None
    if args.compare:
        a, b = args.compare                            # --compare takes exactly two names
        cmp = ins.compare(net, sens, a, b, image_shape=shape)
    check = ins.linear_check(net, X, y, learning_rates=args.steps)
    if args.plot:
        from ..insight.plots import plot_sensitivity

        plot_sensitivity(net, sens, args.plot)
    if args.json:
        print_json({"model": args.model, "dataset": data.name, **sens.to_dict(),
                    "compare": cmp.to_dict() if cmp else None,
                    "linear_check": [r.to_dict() for r in check], "plot_path": args.plot})
        return 0
    say(f"{printable(args.model)}: gradient of the cost over {sens.n_examples:,} "
        f"{data.name} {args.split} examples in {duration(sens.seconds)} "
        f"({sens.dtype}, vectorised)")
    say(f"cost C = {sens.cost:.6f}   |grad C| = {sens.gradient_norm:.4e}   "
        f"{sens.n_parameters:,} parameters")
    zero = np.isnan(sens.top_percent_share)          # |grad C|^2 = 0: every share is 0/0
    say(f"the top 1% of parameters ({max(1, -(-sens.n_parameters // 100))}) hold "
        + ("an undefined share of |grad C|^2: it is 0 (the gradient is 0), and 0/0 has no "
           "value" if zero else f"{100 * sens.top_percent_share:.1f}% of |grad C|^2")
        + (f"; {sens.zero_count:,} have a gradient of exactly 0"
           if sens.zero_count else ""))
    print("\nmost sensitive (direction: the way gradient descent nudges it)")
    print(table(["rank", "dC/dtheta", "direction", "parameter"], _param_rows(sens.top)))
    print("\nleast sensitive")
    print(table(["rank", "dC/dtheta", "direction", "parameter"], _param_rows(sens.bottom)))
    print("\nper layer")
    print(table(["layer", "kind", "count", "|grad|", "mean |dC/dtheta|", "share of |grad C|^2"],
                [[ls.layer, ls.kind, f"{ls.count:,}", f"{ls.norm:.3e}", f"{ls.mean_abs:.3e}",
                  percent(ls.share_of_squared)] for ls in sens.layers]))
    if cmp:
        say(f"\n{cmp.text}")
        for r in (cmp.a, cmp.b):
            move = "leave it as it is" if r.direction == "stay" else f"{r.direction} it"
            say(f"  {r.name}: dC/dtheta = {number(r.gradient)} (rank {r.rank:,}): "
                f"gradient descent would {move}")
    say("\ncheck: step against the gradient, delta theta = -eta grad C (float64)")
    print(table(["eta", "step length", "predicted grad C . delta theta", "actual change",
                 "error", "relative error"],
                [[f"{r.learning_rate:g}", f"{r.step_length:.3e}", number(r.predicted_change),
                  number(r.actual_change), f"{r.error:.2e}", ratio(r.relative_error, ".2e")]
                 for r in check]))
    if any(np.isnan(r.relative_error) for r in check):
        say("relative error undefined: the predicted and the actual change are both 0 (the "
            "gradient is 0), and 0/0 has no value")
    print_plot(args.plot, gap=True)
    return 0


# ====================================================================== nudges
def cmd_nudges(args: argparse.Namespace) -> int:
    from .. import insight as ins

    check_plot(args.plot)
    net, data, X, y = model_examples(args, args.split, None)
    if not 0 <= args.example < len(X):
        raise NudgeError(f"--example {args.example} does not exist: the {data.name} "
                         f"{args.split} set has {len(X):,} examples, numbered 0 to "
                         f"{len(X) - 1:,}")
    t = time.perf_counter()
    w = ins.example_wishes(net, X[args.example], y[args.example], args.example, args.split,
                           data.image_shape)
    seconds = time.perf_counter() - t
    if args.plot:
        from ..insight.plots import plot_wishes

        plot_wishes(w, args.plot, data.classes)
    if args.json:
        print_json({"model": args.model, "dataset": data.name, "seconds": seconds,
                    **w.to_dict(), "plot_path": args.plot})
        return 0
    L = len(w.layers)
    say(f"{data.name} {args.split} example {args.example}: label {w.label}, the "
        f"network reads {w.predicted}; cost C_x = {w.cost:.4f}  "
        f"({1e3 * seconds:.1f} ms)")
    say("\noutputs, desired outputs and the wished-for nudge of each (-dC_x/da)")
    largest = max(1e-12, float(np.max(np.abs(w.output_wish))))
    bars = [("up   " if d > 0 else "down " if d < 0 else "none ")
            + "#" * round(20 * abs(d) / largest) for d in w.output_wish]
    print(table(["output", "a", "desired", "wished-for nudge", ""],
                [[j, f"{a:.4f}", f"{t_:.0f}", number(d), bar.ljust(25)]
                 for j, (a, t_, d, bar) in enumerate(zip(w.outputs, w.targets,
                                                         w.output_wish, bars))]))
    if net.output == "softmax":
        say("(softmax: the outputs add up to 1, so raising one lowers the others; "
            "each output neuron's delta " + (
                "is a_j - desired_j, whatever its own wished-for nudge)"
                if net.cost_function == "cross-entropy" else
                "mixes the wished-for nudges of all the outputs)"), hang=1)
    shape = data.image_shape
    for lw in reversed(w.layers):
        kind = "output" if lw.layer == L else "hidden"
        say(f"\nlayer {lw.layer} ({kind}, {len(lw.bias_nudges)} neurons): the three "
            "ways to get the wished-for nudges")
        say("  1. change the biases: nudge = -delta (largest: "
            + ", ".join(f"neuron {j} {number(lw.bias_nudges[j], '+.2e')}" for j in
                        np.argsort(-np.abs(lw.bias_nudges))[:args.show]) + ")",
            hang=5)
        flat = np.argsort(-np.abs(lw.weight_nudges), axis=None)[:args.show]
        say("  2. change the weights: nudge = -delta_j * a_k, bigger from brighter "
            "neurons:", hang=5)
        n_in = lw.weight_nudges.shape[1]
        for idx in flat:
            j, k = divmod(int(idx), n_in)
            p = ins.make_parameter(net, "weight", lw.layer, j, k, shape)
            say(f"       {number(lw.weight_nudges[j, k], '+.2e')}  {p.name}  (a_k = "
                f"{lw.previous_activations[k]:.3f})", hang=18)
        if lw.layer > 1:
            wish = lw.previous_activation_wish
            top = np.argsort(-np.abs(wish))[:args.show]
            say(f"  3. change layer {lw.layer - 1}'s activations: wish = sum over "
                f"this layer's neurons of -delta_j W_jk (largest: "
                + ", ".join(f"neuron {k} {number(wish[k], '+.2e')}" for k in top)
                + ")", hang=5)
    say("\nthese nudges are exactly -grad C_x: one gradient descent step on this "
        "example alone moves every parameter by eta times them", hang=0)
    print_plot(args.plot)
    return 0


# ====================================================================== average
def cmd_average(args: argparse.Namespace) -> int:
    from .. import insight as ins

    check_plot(args.plot)
    if args.check_examples < 0:
        raise NudgeError("--check-examples must be 0 or more")
    net, data, X, y = model_examples(args, "train", args.examples)
    sizes = args.batch_sizes               # None: the API's, those up to the examples
    for b in sizes or []:
        check_batch_fits(b, len(X), "--batch-sizes: batch size", f"{data.name} training example",
                         "give batch sizes up to {n}, or more --examples")
    report = ins.minibatch_estimates(net, X, y, sizes, args.draws, args.seed,
                                     check_examples=min(args.check_examples, len(X)))
    if args.plot:
        from ..insight.plots import plot_average

        plot_average(report, args.plot)
    if args.json:
        print_json({"model": args.model, "dataset": data.name, **report.to_dict(),
                    "plot_path": args.plot})
        return 0
    say(f"{printable(args.model)}: full gradient over {report.n_examples:,} "
        f"{data.name} training examples in {duration(report.full_seconds)} "
        f"({report.dtype}); C = {report.cost:.6f}, |grad C| = "
        f"{report.gradient_norm:.4e}")
    if report.check is not None:
        c = report.check
        say(f"the average of the first {c.n_examples:,} examples' own nudges (each "
            f"example's -grad C_x formed separately) equals -grad C over them: max "
            f"difference {c.max_difference:.1e} (largest component "
            f"{c.max_gradient:.1e}; float64)")
    say(f"\nrandom mini-batches ({args.draws} draws per size) as estimates of the "
        "full gradient")
    print(table(["batch size", "mean cosine", "worst cosine", "mean rel. error",
                 "rms rel. error", "predicted rms", "ms per estimate"],
                [[f"{e.batch_size:,}", ratio(e.mean_cosine, ".4f"), ratio(e.min_cosine, ".4f"),
                  ratio(e.mean_relative_error, ".3f"), ratio(e.rms_relative_error, ".3f"),
                  ratio(e.predicted_relative_error, ".3f"),
                  f"{1e3 * e.seconds_per_estimate:.2f}"] for e in report.estimates]))
    if report.note:
        say(report.note)
    say("rel. error = |g_B - G| / |G| (g_B: a mini-batch's gradient, G = grad C: "
        "the full one); predicted rms = sqrt((n-B)/(B(n-1)) * (mean |grad C_x|^2 - "
        "|G|^2)) / |G|")
    print_plot(args.plot, gap=True)
    return 0


# ====================================================================== descent
def cmd_descent(args: argparse.Namespace) -> int:
    from .. import insight as ins

    check_plot(args.plot)
    check_plot(args.paths_plot)
    data = load_data(args.dataset, args.data_dir)
    data = data.subset(args.train_limit, None)
    sizes = args.sizes or [data.n_inputs, 16, 16, len(data.classes)]
    if sizes[0] != data.n_inputs or sizes[-1] != len(data.classes):
        raise NudgeError(f"--sizes must start with {data.n_inputs} inputs and end with "
                         f"{len(data.classes)} outputs for {data.name}")
    rates = args.learning_rates
    if rates is not None and len(rates) == 1:
        rates = rates * len(args.batch_sizes)
    net0 = Network(sizes, seed=args.seed)
    report = ins.descent(net0, data.X_train, data.y_train, args.batch_sizes, args.epochs, rates,
                         args.seed, args.monitor)
    if args.plot:
        from ..insight.plots import plot_descent_costs

        plot_descent_costs(report, args.plot)
    if args.paths_plot:
        from ..insight.plots import plot_descent_paths

        plot_descent_paths(report, args.paths_plot)
    if args.json:
        print_json({"dataset": data.name, **report.to_dict(), "plot_path": args.plot,
                    "paths_plot_path": args.paths_plot})
        return 0
    say(f"{'-'.join(map(str, sizes))} from one start (seed {args.seed}), "
        f"{args.epochs} epochs over {report.n_train:,} {data.name} training examples; "
        f"cost measured on {report.n_monitor:,} of them")
    print(table(["method", "eta", "steps", "examples", "training time", "start cost",
                 "final cost", "train accuracy"],
                [[r.label, f"{r.learning_rate:g}", f"{r.steps[-1]:,}", f"{r.examples[-1]:,}",
                  duration(r.seconds[-1]), f"{r.costs[0]:.4f}", f"{r.costs[-1]:.4f}",
                  f"{100 * r.final_accuracy:.1f}%"] for r in report.runs]))
    say(f"\nto reach cost {report.target_cost:.4f}:")
    print(table(["method", "examples", "time", "fewer examples", "sooner"],
                [[rc.label, f"{rc.examples:,}" if rc.examples is not None else "never",
                  duration(rc.seconds) if rc.seconds is not None else "-",
                  factor(rc.fewer_examples) if rc.fewer_examples else "-",
                  factor(rc.less_time) if rc.less_time else "-"] for rc in report.reached]))
    say(f"\n{report.summary}")
    say(f"the two main directions of the paths hold {100 * sum(report.explained):.0f}% "
        "of their variance")
    for path in (args.plot, args.paths_plot):
        print_plot(path)
    return 0
