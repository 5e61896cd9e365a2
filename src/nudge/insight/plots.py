"""Figures for :mod:`nudge.insight`: each function takes the dataclass an insight function
returned and writes one PNG (atomically, with :func:`nudge.plots.save_figure`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from ..display import percent
from ..network import Network
from ..plots import new_figure
from . import (
    AverageReport,
    DescentReport,
    ExampleWishes,
    Landscape,
    Sensitivity,
    input_image_shape,
    unflatten,
)

DPI = 90


def save_figure(fig: Any, path: str | Path) -> Path:
    """:func:`nudge.plots.save_figure` at ``DPI`` dots per inch (small files)."""
    return plots.save_figure(fig, path, dpi=DPI)


COLORS = ["tab:red", "orange", "#ff4dff", "tab:cyan", "tab:brown", "black"]


def _grid(n: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def _image_axes(fig: Any, spec: Any, images: list[np.ndarray], titles: list[str],
                cmap: str, symmetric: bool, label: str, cols: int | None = None,
                shared: bool = True) -> None:
    """A grid of small images in one sub-area of a figure.  ``shared``: one colour scale
    for all (with a colour bar); otherwise each image is scaled to its own largest value,
    which its title states."""
    rows, cols = _grid(len(images)) if cols is None else (math.ceil(len(images) / cols), cols)
    sub = spec.subgridspec(rows, cols, wspace=0.05, hspace=0.35)
    top = max(float(np.max(np.abs(im))) for im in images) or 1.0
    last = None
    for i, (im, title) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(sub[i // cols, i % cols])
        own = float(np.max(np.abs(im)))
        vmax = top if shared else (own or 1.0)
        last = ax.imshow(im, cmap=cmap, vmin=-vmax if symmetric else 0.0, vmax=vmax)
        scale = f"±{own:.1e}" if own else "all 0"
        ax.set_title(title if shared else f"{title}\n{scale}", fontsize=7, pad=2)
        ax.set_xticks([])
        ax.set_yticks([])
    if last is not None and shared:
        cbar = fig.colorbar(last, ax=fig.axes[-len(images):], shrink=0.8, pad=0.02)
        cbar.set_label(label, fontsize=8)
        cbar.ax.tick_params(labelsize=7)


# =========================================================================== sensitivity
def plot_sensitivity(net: Network, sens: Sensitivity, path: str | Path, title: str = "") -> Path:
    """|∂C/∂w| of each first-layer neuron's weights as an image; per-layer bar chart."""
    import matplotlib.gridspec as gridspec

    gw, gb = unflatten(net, sens.gradient)
    shape = input_image_shape(net.sizes[0])
    fig, _ = new_figure(figsize=(11, 4.6))
    fig.clf()
    spec = gridspec.GridSpec(1, 2, figure=fig, width_ratios=[1.25, 1], wspace=0.4)
    n_show = min(net.sizes[1], 16)
    if shape is not None:
        images = [np.abs(gw[0][j]).reshape(shape) for j in range(n_show)]
        titles = [f"neuron {j}" for j in range(n_show)]
        _image_axes(fig, spec[0], images, titles, "magma", False, "|∂C/∂w|")
        fig.text(0.27, 0.97, f"layer 1: |∂C/∂w| of the weights into each of the first "
                 f"{n_show} neurons", ha="center", fontsize=9)
    else:
        ax = fig.add_subplot(spec[0])
        ax.imshow(np.abs(gw[0]), aspect="auto", cmap="magma")
        ax.set_xlabel("input")
        ax.set_ylabel("layer-1 neuron")
        ax.set_title("layer 1: |∂C/∂w|")
    ax = fig.add_subplot(spec[1])
    labels, shares, means = [], [], []
    for ls in sens.layers:
        labels.append(f"{'W' if ls.kind == 'weights' else 'b'}{ls.layer}\n({ls.count:,})")
        shares.append(ls.share_of_squared)
        means.append(ls.mean_abs)
    x = np.arange(len(labels))
    bars = ax.bar(x, means, color=["tab:blue" if ls.kind == "weights" else "tab:orange"
                                   for ls in sens.layers])
    logs = max(means) > 0                    # all 0 (the gradient is 0): no log scale
    if logs:
        ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("mean |∂C/∂θ|" + (" (log scale)" if logs else ": all 0"))
    for b, s in zip(bars, shares):
        ax.annotate(percent(s), (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center", va="bottom", fontsize=7)
    ax.set_title("per layer: weights Wˡ (blue), biases bˡ (orange);\nlabels: share of ‖∇C‖²",
                 fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title or f"sensitivity of the cost over {sens.n_examples:,} {sens.split} "
                 f"examples (C = {sens.cost:.4f}, ‖∇C‖ = {sens.gradient_norm:.3g})",
                 fontsize=10, y=1.04)
    return save_figure(fig, path)


# =========================================================================== one example
def plot_wishes(w: ExampleWishes, path: str | Path, classes: list[str] | None = None) -> Path:
    """The input, outputs vs desired outputs with the wished-for nudges, each hidden layer's wishes,
    and the first-layer weight nudges as images (each is the input times −δ¹ⱼ)."""
    return save_figure(wishes_figure(w, classes), path)


def wishes_figure(w: ExampleWishes, classes: list[str] | None = None) -> Any:
    """:func:`plot_wishes`'s figure (a matplotlib ``Figure``), not yet saved."""
    import matplotlib.gridspec as gridspec
    from matplotlib.ticker import MaxNLocator

    L = len(w.layers)
    cols = max(3, L)
    fig, _ = new_figure(figsize=(11, 11))
    fig.clf()
    spec = gridspec.GridSpec(4, cols, figure=fig, hspace=0.75, wspace=0.3,
                             height_ratios=[1.1, 0.8, 0.8, 1.4])
    ax = fig.add_subplot(spec[0, 0])
    image = w.image if w.image.ndim == 2 else w.image[None, :]
    ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    where = f"{w.split} example {w.index}" if w.index is not None else "the example"
    ax.set_title(f"{where}: label {w.label}, read as {w.predicted}\ncost Cₓ = {w.cost:.4f}",
                 fontsize=9)

    ax = fig.add_subplot(spec[0, 1:])
    k = len(w.outputs)
    x = np.arange(k)
    ax.bar(x - 0.2, w.outputs, 0.4, label="output aᴸ", color="tab:blue")
    ax.bar(x + 0.2, w.targets, 0.4, label="desired y", color="lightgray")
    scale = 0.4 / (float(np.max(np.abs(w.output_wish))) or 1.0)
    for j in range(k):
        if w.output_wish[j] != 0:
            ax.annotate("", (j - 0.2, w.outputs[j] + scale * w.output_wish[j]),
                        (j - 0.2, w.outputs[j]),
                        arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 1.2})
    ax.set_ylim(min(-0.05, float(np.min(w.outputs + scale * w.output_wish)) - 0.05),
                max(1.05, float(np.max(w.outputs + scale * w.output_wish)) + 0.05))
    ax.set_xticks(x)
    ax.set_xticklabels(classes if classes and len(classes) == k else [str(i) for i in x],
                       fontsize=8)
    ax.set_title(f"outputs vs desired; red arrows: the wished-for nudges −∂Cₓ/∂aᴸ (x{scale:.3g})",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper right")

    # row 2: each layer's bias nudges; row 3: the wished-for nudges of the layer before it
    for c, lw in enumerate(reversed(w.layers)):
        ax = fig.add_subplot(spec[1, c])
        n = len(lw.bias_nudges)
        ax.bar(np.arange(n), lw.bias_nudges,
               color=["tab:green" if v > 0 else "tab:red" for v in lw.bias_nudges])
        ax.axhline(0, color="black", lw=0.5)
        kind = "output" if lw.layer == L else "hidden"
        ax.set_title(f"layer {lw.layer} ({kind}): bias nudges −δ\n(green: up, red: down)",
                     fontsize=9)
        ax.set_xlim(-0.7, n - 0.3)                 # neurons 0 to n - 1: no neuron 2.5 or n
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("output" if lw.layer == L else "neuron", fontsize=7)
        ax.tick_params(labelsize=7)
        if lw.layer > 1:
            ax = fig.add_subplot(spec[2, c])
            m = len(lw.previous_activation_wish)
            ax.bar(np.arange(m), lw.previous_activation_wish, color="tab:purple")
            ax.axhline(0, color="black", lw=0.5)
            ax.set_title(f"wished-for nudges of layer {lw.layer - 1}'s activations,\n"
                         f"Σⱼ −δⱼ Wⱼₖ over layer {lw.layer}'s neurons", fontsize=8)
            ax.set_xlim(-0.7, m - 0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel(f"neuron k of layer {lw.layer - 1}", fontsize=7)
            ax.tick_params(labelsize=7)

    first = w.layers[0]
    shape = w.image.shape if w.image.ndim == 2 else None
    n_show = min(len(first.bias_nudges), 16)
    if shape is not None:
        images = [first.weight_nudges[j].reshape(shape) for j in range(n_show)]
        titles = [f"→ neuron {j}" for j in range(n_show)]
        _image_axes(fig, spec[3, :], images, titles, "RdBu", True, "weight nudge −δ¹ⱼ xₖ",
                    cols=8, shared=False)
        fig.text(0.5, 0.31, "layer 1 weight nudges as images: each is the input times "
                 "−δ¹ⱼ (blue = increase, red = decrease; each on its own scale)",
                 ha="center", fontsize=9)
    return fig


# =========================================================================== averages
def plot_average(report: AverageReport, path: str | Path) -> Path:
    """Mini-batch estimates of the gradient: cosine, relative error, time per estimate."""
    fig, (ax1, ax2, ax3) = new_figure(1, 3, figsize=(12, 3.6))
    B = [e.batch_size for e in report.estimates]
    ax1.plot(B, [e.mean_cosine for e in report.estimates], "o-", label="mean")
    ax1.plot(B, [e.min_cosine for e in report.estimates], "v--", alpha=0.6, label="worst draw")
    ax1.set_xscale("log")
    ax1.set_ylim(min(0, min(e.min_cosine for e in report.estimates)) - 0.02, 1.02)
    ax1.set_xlabel("mini-batch size B")
    ax1.set_ylabel("cosine(mini-batch gradient, full gradient)")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.loglog(B, [e.rms_relative_error for e in report.estimates], "o-",
               label="measured (root mean square)")
    ax2.loglog(B, [e.mean_relative_error for e in report.estimates], "s:", alpha=0.6,
               label="measured (mean)")
    ax2.loglog(B, [e.predicted_relative_error for e in report.estimates], "k--",
               label="predicted √((n−B)/(B(n−1))·tr Σ) / ‖G‖")
    ax2.set_xlabel("mini-batch size B")
    ax2.set_ylabel("‖g_B − G‖ / ‖G‖")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3, which="both")
    ax3.loglog(B, [1e3 * e.seconds_per_estimate for e in report.estimates], "o-",
               color="tab:green", label="one mini-batch")
    ax3.axhline(1e3 * report.full_seconds, color="tab:red", ls="--",
                label=f"all {report.n_examples:,} examples")
    ax3.set_xlabel("mini-batch size B")
    ax3.set_ylabel("milliseconds per gradient")
    ax3.legend(fontsize=8)
    ax3.grid(alpha=0.3, which="both")
    fig.suptitle(f"how well a random mini-batch estimates the gradient over {report.n_examples:,}"
                 f" examples ({report.estimates[0].draws} draws per size)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


# =========================================================================== descent
def plot_descent_costs(report: DescentReport, path: str | Path) -> Path:
    """Cost against examples processed and against seconds of training."""
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(11, 3.8))
    for i, r in enumerate(report.runs):          # from the first step on (log scales)
        c = COLORS[i % len(COLORS)]
        lab = f"{r.label} (η={r.learning_rate:g})"
        ax1.plot(r.examples[1:], r.costs[1:], "-", color=c, label=lab, marker=".", ms=3)
        ax2.plot(r.seconds[1:], r.costs[1:], "-", color=c, label=lab, marker=".", ms=3)
    for ax, xl in ((ax1, "examples processed (log scale)"),
                   (ax2, "seconds of training (log scale)")):
        ax.axhline(report.runs[0].costs[0], color="black", ls="--", lw=0.8,
                   label=f"start {report.runs[0].costs[0]:.3f}")
        ax.axhline(report.target_cost, color="gray", ls=":", lw=1,
                   label=f"target {report.target_cost:.3f}")
        ax.set_xscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel(f"cost C on {report.n_monitor:,} training examples")
        ax.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=8)
    fig.suptitle(f"{'-'.join(map(str, report.sizes))} from one start (seed {report.seed}), "
                 f"{report.epochs} epochs over {report.n_train:,} examples", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_descent_paths(report: DescentReport, path: str | Path) -> Path:
    """The paths on their two main PCA directions, over contours of the cost on that plane.

    A path that stays within a tenth of the picture (full-batch GD usually does: it takes
    one careful step per epoch) is shown again, magnified, in a panel on the right."""
    all_points = np.concatenate([r.projected for r in report.runs])
    extent = float(np.ptp(all_points, axis=0).max()) or 1.0
    small = [r for r in report.runs if float(np.ptp(r.projected, axis=0).max()) < 0.1 * extent]
    if small:
        fig, (ax, zoom) = new_figure(1, 2, figsize=(13, 6),
                                     gridspec_kw={"width_ratios": [1.25, 1], "wspace": 0.4})
    else:
        fig, ax = new_figure(figsize=(7.5, 6))
        zoom = None
    U, V = np.meshgrid(report.plane_u, report.plane_v)
    levels = np.quantile(report.plane_costs, np.linspace(0, 1, 16))
    levels = np.unique(levels)
    cs = ax.contourf(U, V, report.plane_costs, levels=levels, cmap="viridis", alpha=0.85)
    ax.contour(U, V, report.plane_costs, levels=levels, colors="white", linewidths=0.4)
    cbar = fig.colorbar(cs, ax=ax)
    cbar.set_label("cost on the plane")
    start = report.runs[0].projected[0]
    for axes in [ax] + ([zoom] if zoom is not None else []):
        for i, r in enumerate(report.runs):
            c = COLORS[i % len(COLORS)]
            axes.plot(r.projected[:, 0], r.projected[:, 1], "-", color=c, lw=1.6,
                      marker=".", ms=3, label=f"{r.label} (η={r.learning_rate:g})")
            axes.plot(r.projected[-1, 0], r.projected[-1, 1], "*", color=c, ms=12, mec="black")
        axes.plot(start[0], start[1], "o", color="black", ms=7, label="start")
    ev = report.explained
    ax.set_xlabel(f"direction 1 ({100 * ev[0]:.0f}% of the variance)")
    ax.set_ylabel(f"direction 2 ({100 * ev[1]:.0f}% of the variance)")
    ax.legend(fontsize=8, loc="best")
    ax.set_title("paths through parameter space, projected on their two main directions\n"
                 "(the paths leave this plane: a contour under a point is not exactly its cost)",
                 fontsize=9)
    if zoom is not None:
        box = np.concatenate([r.projected for r in small] + [start[None, :]])
        lo, hi = box.min(axis=0), box.max(axis=0)
        pad = np.maximum(0.15 * (hi - lo), 1e-3 * extent)
        zoom.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        zoom.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        zoom.set_title("magnified around the start: " + ", ".join(r.label for r in small),
                       fontsize=9)
        zoom.set_xlabel("direction 1")
        zoom.set_ylabel("direction 2")
        zoom.grid(alpha=0.3)
    return save_figure(fig, path)


# =========================================================================== landscape
def figure_notation(text: str) -> str:
    """A label in the terminal's ASCII ("along -grad C", "orthogonal to grad (C + decay)") in
    the figures' notation: the minus sign and nabla ("along −∇C", "orthogonal to
    ∇(C + decay)"), as their titles write them."""
    return text.replace("-grad ", "−∇").replace("grad ", "∇")


def plot_landscape(land: Landscape, path: str | Path) -> Path:
    """The cost along the two directions, and on the plane they span."""
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(11, 4.2))
    labels = [figure_notation(label) for label in land.labels]
    t = land.offsets
    gradient = land.directions == "gradient"
    for k, color in enumerate(("tab:red", "tab:blue")):
        ax1.plot(t, land.cost_along[k], "-", color=color, label=labels[k])
    near = np.abs(t) <= 0.25 * t.max()
    for k, color in enumerate(("tab:red", "tab:blue")):
        if gradient and k == 1:
            continue                      # slope 0 by construction: nothing to predict
        ax1.plot(t[near], land.cost + land.predicted_slopes[k] * t[near], "--", color=color,
                 lw=1, label=f"linear prediction C + (∇C·d{k + 1}) t")
    ax1.plot([land.best_offset], [land.best_cost], "v", color="tab:red", ms=8)
    ax1.set_xlabel("distance t moved in parameter space" if gradient else
                   "t (1 = each neuron's weights moved by their own length)")
    wd = f" + (λ/2)Σw², λ = {land.weight_decay:g}" if land.weight_decay else " (no weight decay)"
    ax1.set_ylabel(f"cost C over {land.n_examples:,} examples{wd}", fontsize=8)
    ax1.legend(fontsize=7)
    ax1.grid(alpha=0.3)
    U, V = np.meshgrid(land.grid, land.grid)
    cs = ax2.contourf(U, V, land.plane_costs, levels=20, cmap="viridis")
    ax2.contour(U, V, land.plane_costs, levels=20, colors="white", linewidths=0.3)
    fig.colorbar(cs, ax=ax2, label="cost")
    ax2.plot(0, 0, "o", color="white", mec="black", label="the model")
    if gradient:
        ax2.annotate("", (0.4 * land.grid.max(), 0), (0, 0),
                     arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 2})
    ax2.set_xlabel(labels[0], fontsize=8)
    ax2.set_ylabel(labels[1], fontsize=8)
    ax2.legend(fontsize=8, loc="upper left")
    kind = ("directions: −∇C and a random one made orthogonal to it (its slope is 0 by "
            "construction)" if gradient else "filter-normalised random directions (Li et al. "
            "2018)")
    fig.suptitle(f"the cost around the model (C = {land.cost:.4f}, ‖∇C‖ = "
                 f"{land.gradient_norm:.3g}); {kind}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
