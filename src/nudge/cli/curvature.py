"""``nudge noise``, ``curvature`` and ``stability``: how good a mini-batch is, how steep the
valley is, and what that means for the learning rate (the library: :mod:`nudge.insight`,
the figures :mod:`nudge.insight.curvature_plots`)."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..bounds import MAX_EIGENVALUES, MAX_HUTCHINSON, MAX_STABILITY_STEPS
from ..display import counted, duration, number, ratio, say, table
from ..errors import NudgeError, printable
from ..network import Network
from .common import (
    add_data_options,
    add_examples,
    add_json_option,
    add_model_argument,
    add_plot,
    bounded_int,
    check_plot,
    data_for_model,
    float_list,
    layer_sizes,
    load_data,
    load_model,
    model_examples,
    positive_float,
    positive_int,
    print_json,
    print_plot,
    seed_type,
)


def tolerance_type(text: str) -> float:
    """``--tol``: a relative tolerance, above 0 and below 1."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be below 1 (1e-4 is usual)")
    return value


# register() is long only because it declares every option of its commands, one statement
# per option (argparse); it has no logic
def register(sub: Any) -> None:
    # ------------------------------------------------------------------ noise
    p = sub.add_parser(
        "noise", help="the gradient noise scale: which batch sizes waste steps or examples",
        description="The simple gradient noise scale B_simple = tr(Sigma) / |G|^2 of a model "
                    "over a set of examples (McCandlish et al. 2018): G is the gradient of the "
                    "average cost (no weight decay), Sigma the covariance of the examples' own "
                    "gradients. Exact, from the per-example backpropagation, without forming "
                    "any example's gradient.")
    add_model_argument(p)
    add_examples(p)
    add_plot(p, "a mini-batch's gradient error and the predicted steps and examples against B")
    add_json_option(p)
    p.set_defaults(func=cmd_noise)

    # ------------------------------------------------------------------ curvature
    p = sub.add_parser(
        "curvature", help="the Hessian's largest and smallest eigenvalues, and 2/lambda_max",
        description="Eigenvalues of the Hessian of the average cost (no weight decay) over a set "
                    "of examples, by Lanczos iteration on exact Hessian-vector products "
                    "(backpropagation differentiated: Pearlmutter's R-operator): the largest "
                    "(the sharpness; full-batch gradient descent is stable for learning rates "
                    "below 2/lambda_max), the smallest (negative ones: the cost curves down, "
                    "not a minimum), and Hutchinson's estimate of the trace.")
    add_model_argument(p)
    add_examples(p)
    p.add_argument("--top", type=bounded_int(1, MAX_EIGENVALUES),
                   default=5, metavar="K", help="how many of the largest eigenvalues (default 5)")
    p.add_argument("--smallest", type=bounded_int(0, MAX_EIGENVALUES),
                   default=1, metavar="K",
                   help="how many of the smallest eigenvalues (default 1; 0: none)")
    p.add_argument("--hutchinson", type=bounded_int(0, MAX_HUTCHINSON),
                   default=10, metavar="N",
                   help="random vectors for Hutchinson's trace estimate (default 10; 0: none)")
    p.add_argument("--tol", type=tolerance_type, default=1e-4,
                   help="relative tolerance of the largest eigenvalues (default 1e-4; the "
                        "smallest are found to 1e-3 of lambda_max and checked by u^T H u)")
    p.add_argument("--float64", action="store_true",
                   help="Hessian products in float64 (default: the model's float32, "
                        "faster)")
    p.add_argument("--seed", type=seed_type, default=0,
                   help="the random start and Hutchinson vectors (default 0)")
    add_plot(p, "the eigenvalues, and gradient descent on the sharpest parabola")
    add_json_option(p)
    p.set_defaults(func=cmd_curvature)

    # ------------------------------------------------------------------ stability
    p = sub.add_parser(
        "stability", help="full-batch descent just under and over 2/lambda_max; the edge of "
                          "stability",
        description="Full-batch gradient descent from one start (a model, or a new network) at "
                    "learning rates given as multiples of 2/lambda_max there (below 1: stable; "
                    "above 1: steps along the sharpest direction overshoot and grow), the cost "
                    "after every step and lambda_max every few steps (it rises towards 2/eta: "
                    "the edge of stability, Cohen et al. 2021).")
    p.add_argument("model", metavar="MODEL", nargs="?",
                   help="start from this model (default: a new network, --sizes, --seed)")
    add_data_options(p)
    p.add_argument("--train-limit", type=positive_int, default=5000, metavar="N",
                   help="full batch = the first N training images (default 5000)")
    p.add_argument("--sizes", type=layer_sizes, metavar="N,N,...",
                   help="layer sizes of the new network (default: inputs,16,16,10)")
    p.add_argument("--seed", type=seed_type, help="the new network (default 0)")
    p.add_argument("--factors", type=float_list, metavar="F,...",
                   help="learning rates as multiples of 2/lambda_max at the start "
                        "(default 0.9,1.1)")
    p.add_argument("--learning-rates", type=float_list, metavar="ETA,...",
                   help="learning rates instead of --factors")
    p.add_argument("--steps", type=bounded_int(1, MAX_STABILITY_STEPS),
                   default=100, help="full-batch steps per run (default 100)")
    p.add_argument("--every", type=positive_int, default=5, metavar="K",
                   help="measure lambda_max every K steps (default 5)")
    add_plot(p, "the cost per step and lambda_max along the runs, with 2/eta")
    add_json_option(p)
    p.set_defaults(func=cmd_stability)


# ====================================================================== noise
def cmd_noise(args: argparse.Namespace) -> int:
    from .. import insight as ins

    check_plot(args.plot)
    net, data, X, y = model_examples(args, args.split, args.examples)
    ns = ins.noise_scale(net, X, y)
    sizes = sorted({b for b in (1, 10, 100, 1000, 10000, ns.n) if b <= ns.n})
    if np.isfinite(ns.b_simple) and 1 <= ns.b_simple <= ns.n:
        sizes = sorted(set(sizes) | {int(round(ns.b_simple))})
    rows = [[f"{B:,}", ratio(ns.relative_error(B), ".3f")] for B in sizes]
    silent = ns.mean_example_norm_squared == 0         # every gₓ = 0: B_simple is 0/0
    if args.plot:
        from ..insight.curvature_plots import plot_noise

        plot_noise(ns, args.plot)
    if args.json:
        print_json({"model": args.model, "dataset": data.name, "split": args.split,
                    **ns.to_dict(), "explanation": ns.explanation(),
                    "relative_errors": {str(B): ns.relative_error(B) for B in sizes},
                    "plot_path": args.plot})
        return 0
    say(f"{printable(args.model)}: gradient noise over {ns.n:,} {data.name} "
        f"{args.split} examples in {duration(ns.seconds)} ({ns.dtype}); cost C = "
        f"{ns.cost:.6f} (no weight decay)")
    print(table(["quantity", "value"], [
        ["|G|^2, the squared length of the gradient G = grad C", f"{ns.gradient_norm_squared:.4e}"],
        ["mean |g_x|^2, one example's own gradient", f"{ns.mean_example_norm_squared:.4e}"],
        ["tr Sigma = mean |g_x|^2 - |G|^2, the spread", f"{ns.trace_covariance:.4e}"],
        ["B_simple = tr Sigma / |G|^2", "undefined" if silent else f"{ns.b_simple:,.2f}"],
    ]))
    say(f"\n{ns.explanation()}.", hang=0)
    say("\nhow far a random mini-batch's gradient is from G (root mean square of "
        "|g_B - G| / |G|)")
    print(table(["batch size", "relative error"], rows))
    if silent:
        say("relative error undefined: every mini-batch's gradient g_B is exactly 0, as G is "
            "(no noise at all), so |g_B - G| / |G| is 0/0")
    elif ns.gradient_norm_squared == 0:
        say(f"relative error undefined for all {ns.n:,} examples, whose gradient is G = 0 "
            "(0/0); infinite for smaller batches, whose gradients are not 0")
    print_plot(args.plot, gap=True)
    return 0


# ====================================================================== curvature
def cmd_curvature(args: argparse.Namespace) -> int:
    from .. import insight as ins

    check_plot(args.plot)
    net, data, X, y = model_examples(args, args.split, args.examples)
    cv = ins.curvature(net, X, y, k=args.top, smallest=args.smallest,
                       hutchinson=args.hutchinson, seed=args.seed, tol=args.tol,
                       dtype=np.float64 if args.float64 else None)
    if args.plot:
        from ..insight.curvature_plots import plot_curvature

        plot_curvature(cv, args.plot)
    if args.json:
        print_json({"model": args.model, "dataset": data.name, "split": args.split,
                    **cv.to_dict(), "plot_path": args.plot})
        return 0
    say(f"{printable(args.model)}: Hessian of the cost (no weight decay) over "
        f"{cv.n_examples:,} {data.name} {args.split} examples, {cv.n_parameters:,} "
        f"parameters: {cv.products} exact Hessian-vector products ({cv.method}, "
        f"{cv.dtype}) in {duration(cv.seconds)}")
    rows = [[f"largest {i + 1}", number(v, "+.5e")] for i, v in enumerate(cv.largest)]
    rows += [[f"smallest {i + 1}", f"{number(v, '+.5e')}  (u^T H u = {number(q)})"]
             for i, (v, q) in enumerate(zip(cv.smallest, cv.smallest_rayleigh))]
    print(table(["eigenvalue", "value"], rows))
    if cv.trace_estimate is not None:
        se = (f" +- {cv.trace_standard_error:.2g}" if cv.trace_standard_error is not None
              else "")
        say(f"trace of H (sum of all {cv.n_parameters:,} eigenvalues, Hutchinson, "
            f"{counted(cv.hutchinson_samples, 'vector')}): {cv.trace_estimate:.4g}{se}")
    if cv.max_stable_learning_rate is not None:
        say("largest stable learning rate for full-batch gradient descent: "
            f"2/lambda_max = {cv.max_stable_learning_rate:.4g}")
    say(f"\n{cv.summary}.", hang=0)
    print_plot(args.plot, gap=True)
    return 0


# ====================================================================== stability
def cmd_stability(args: argparse.Namespace) -> int:
    from .. import insight as ins

    check_plot(args.plot)
    if args.factors is not None and args.learning_rates is not None:
        raise NudgeError("--factors and --learning-rates both give the learning rates; use "
                         "one of them")
    if args.model and (args.sizes is not None or args.seed is not None):
        raise NudgeError(f"--sizes and --seed make a new network; {args.model} is used as it "
                         "is: leave them out, or leave out the model")
    if args.model:
        net0 = load_model(args.model)
        data = data_for_model(net0, None if args.dataset == "auto" else args.dataset,
                              args.data_dir)
        start = args.model
    else:
        data = load_data(args.dataset, args.data_dir)
        sizes = args.sizes or [data.n_inputs, 16, 16, len(data.classes)]
        if sizes[0] != data.n_inputs or sizes[-1] != len(data.classes):
            raise NudgeError(f"--sizes must start with {data.n_inputs} inputs and end with "
                             f"{len(data.classes)} outputs for {data.name}")
        seed = 0 if args.seed is None else args.seed
        net0 = Network(sizes, seed=seed)
        start = f"a new {'-'.join(map(str, sizes))} network (seed {seed})"
    X, y = data.X_train[:args.train_limit], data.y_train[:args.train_limit]
    report = ins.stability(net0, X, y, factors=args.factors or [0.9, 1.1],
                           learning_rates=args.learning_rates, steps=args.steps,
                           every=args.every)
    if args.plot:
        from ..insight.curvature_plots import plot_stability

        plot_stability([report], args.plot)
    if args.json:
        print_json({"start": start, "dataset": data.name, **report.to_dict(),
                    "plot_path": args.plot})
        return 0
    say(f"full-batch gradient descent from {printable(start)} over "
        f"{report.n_examples:,} {data.name} training examples: cost "
        f"{report.initial_cost:.4f}, lambda_max {report.initial_sharpness:.4g}, so "
        f"2/lambda_max = {report.max_stable_learning_rate:.4g} "
        f"({duration(report.seconds)})")
    print(table(["eta", "x 2/lambda_max", "2/eta", "final cost", "highest cost",
                 "lambda_max: start", "highest", "end", "parameters"],
                [[f"{r.learning_rate:.4g}", f"{r.factor:.3g}", f"{r.threshold:.4g}",
                  f"{r.costs[-1]:.4f}", f"{max(r.costs):.4f}", f"{r.sharpness[0]:.4g}",
                  f"{max(r.sharpness):.4g}", f"{r.sharpness[-1]:.4g}",
                  "overflowed" if r.diverged_at is not None else "finite"]
                 for r in report.runs]))
    say("\nbelow 2/lambda_max each step shrinks the error along the sharpest "
        "direction; above it the error there overshoots and grows, until the network "
        "reaches somewhere flatter (or blows up); lambda_max itself often rises "
        "towards 2/eta and hovers there (the edge of stability). These runs:", hang=0)
    for r in report.runs:
        say(f"  {r.what_happened()}")
    print_plot(args.plot)
    return 0
