"""Figures for the noise scale, the curvature, the edge of stability and the line between two
networks: each function takes what the insight function returned and writes one PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..plots import new_figure, text_label
from .curvature import Curvature
from .interpolate import Interpolation
from .noise import CriticalBatch, NoiseScale, TrackedNoise
from .plots import COLORS, save_figure
from .stability import StabilityReport


# =========================================================================== noise scale
def plot_noise(ns: NoiseScale, path: str | Path, title: str = "") -> Path:
    """What B_simple means for the batch size: the gradient error of a mini-batch, and the
    steps and examples McCandlish et al.'s model predicts, against B."""
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(11, 4))
    B = np.unique(np.round(np.geomspace(1, ns.n, 200)).astype(int))
    b = ns.b_simple
    err = [ns.relative_error(int(x)) for x in B]
    ax1.loglog(B, err, "-", color="tab:blue", label="rms |g_B − G| / |G| (exact, "
               "without replacement)")
    ax1.axhline(1, color="gray", ls=":", lw=1)
    silent = ns.mean_example_norm_squared == 0     # every gₓ = 0: the error is 0/0
    if silent:
        ax1.text(0.5, 0.5, "undefined: every mini-batch's gradient is exactly 0,\nas G is "
                 "(no noise at all), so |g_B − G| / |G| is 0/0", ha="center", va="center",
                 transform=ax1.transAxes, fontsize=9)
    if np.isfinite(b) and b >= 1:
        ax1.axvline(b, color="tab:red", ls="--", label=f"B_simple = {b:,.0f}")
    ax1.set_xlabel("mini-batch size B")
    ax1.set_ylabel("relative error of the mini-batch gradient")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3, which="both")
    ax1.set_title("how far a mini-batch's gradient is from the true one", fontsize=9)
    if np.isfinite(b) and b > 0:
        ax2.loglog(B, 1 + b / B, "-", color="tab:orange", label="steps S / S_min = 1 + B_simple/B")
        ax2.loglog(B, 1 + B / b, "-", color="tab:green",
                   label="examples E / E_min = 1 + B/B_simple")
        ax2.axvline(b, color="tab:red", ls="--", label="B_simple")
        ax2.legend(fontsize=8)
    ax2.set_xlabel("mini-batch size B")
    ax2.set_ylabel("steps or examples to reach a given cost, relative to the least")
    ax2.grid(alpha=0.3, which="both")
    ax2.set_title("McCandlish et al.'s model, with B_simple for B_noise:\nsmaller wastes "
                  "steps, larger wastes examples", fontsize=9)
    fig.suptitle(title or f"gradient noise scale over {ns.n:,} examples: tr Σ = "
                 f"{ns.trace_covariance:.3g}, |G|² = {ns.gradient_norm_squared:.3g}, "
                 f"B_simple = {'undefined (0/0)' if silent else format(b, ',.1f')}",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_noise_tracking(records: Sequence[TrackedNoise], path: str | Path,
                        title: str = "") -> Path:
    """B_simple after each epoch of training, against the epoch and against the cost."""
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(11, 4))
    epochs = [r.epoch for r in records]
    b = [r.b_simple for r in records]
    cost = [r.cost for r in records]
    ax1.semilogy(epochs, b, "o-", ms=3)
    ax1.set_xlabel("epoch (0: before training)")
    ax1.set_ylabel("B_simple = tr Σ / |G|²")
    ax1.grid(alpha=0.3, which="both")
    ax2.loglog(cost, b, "o-", ms=3, color="tab:purple")
    for r in (records[0], records[-1]):
        ax2.annotate(f"epoch {r.epoch}", (r.cost, r.b_simple), fontsize=8,
                     textcoords="offset points", xytext=(4, 4))
    ax2.invert_xaxis()
    ax2.set_xlabel("training cost C (falling to the right)")
    ax2.set_ylabel("B_simple")
    ax2.grid(alpha=0.3, which="both")
    fig.suptitle(title or "the gradient noise scale during training: the lower the cost, the "
                 "bigger the batch worth using", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_critical_batch(fits: Sequence[CriticalBatch], targets: Sequence[float],
                        b_simple: Sequence[Sequence[float]], path: str | Path,
                        title: str = "",
                        b_noise: Sequence[Sequence[float]] | None = None) -> Path:
    """Left: steps against examples to each target cost, one point per batch size, with the
    fitted hyperbola (S/S_min − 1)(E/E_min − 1) = 1.  Right: the fitted B_crit against the
    target cost beside the measured B_simple (its range when measured on several runs) and,
    if given, the curvature-weighted B_noise (the runs it was measured in)."""
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(12, 4.6))
    for i, (fit, target) in enumerate(zip(fits, targets)):
        c = COLORS[i % len(COLORS)]
        S = np.array(fit.steps)
        E = S * np.array(fit.batch_sizes)
        ax1.loglog(S, E, "o", color=c, label=f"cost {target:g}: B_crit = {fit.b_crit:,.0f}")
        for s, e, B in zip(S, E, fit.batch_sizes):
            if i == 0:
                ax1.annotate(f"B={B}", (s, e), fontsize=7, textcoords="offset points",
                             xytext=(3, 3))
        Bs = np.geomspace(0.3 * min(fit.batch_sizes), 3 * max(fit.batch_sizes), 200)
        ax1.loglog(fit.s_min * (1 + fit.b_crit / Bs), fit.e_min * (1 + Bs / fit.b_crit), "-",
                   color=c, lw=1)
    ax1.set_xlabel("steps S to reach the cost")
    ax1.set_ylabel("examples E = B S to reach the cost")
    ax1.set_title("each point a batch size (its best η); lines: (S/S_min − 1)(E/E_min − 1) = 1",
                  fontsize=9)
    ax1.legend(fontsize=7)
    ax1.grid(alpha=0.3, which="both")
    t = np.array(targets)
    ax2.loglog(t, [f.b_crit for f in fits], "o-", color="tab:red", label="fitted B_crit = "
               "E_min / S_min")
    mid = np.array([np.median(v) for v in b_simple])
    lo = np.array([np.min(v) for v in b_simple])
    hi = np.array([np.max(v) for v in b_simple])
    ax2.loglog(t, mid, "s-", color="tab:blue", label="measured B_simple when the run reaches it")
    ax2.fill_between(t, lo, hi, color="tab:blue", alpha=0.2,
                     label="B_simple, range over the batch sizes' best runs")
    if b_noise is not None:
        ax2.loglog(t, [np.median(v) for v in b_noise], "^--", color="tab:green",
                   label="measured B_noise = tr(HΣ)/GᵀHG (median of its runs)")
        for ti, v in zip(t, b_noise):
            ax2.plot([ti] * len(v), v, ".", color="tab:green", ms=4)
    ax2.set_xticks(t)
    ax2.set_xticklabels([f"{v:g}" for v in t])
    ax2.minorticks_off()
    ax2.invert_xaxis()
    ax2.set_xlabel("target training cost (lower: further into training)")
    ax2.set_ylabel("batch size")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, which="both")
    ax2.set_title("does the noise scale predict the critical batch size?", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


# =========================================================================== curvature
def plot_curvature(cv: Curvature, path: str | Path, title: str = "") -> Path:
    """The largest and smallest eigenvalues of the Hessian, and what λ_max means for η."""
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(11, 4))
    top, low = cv.largest, cv.smallest
    values = list(top) + list(low)
    names = [f"λ{i}" for i in range(1, len(top) + 1)] + [
        "λmin" if i == 0 else f"λmin+{i}" for i in range(len(low))]
    x = np.arange(len(values)) + np.array([0] * len(top) + [1] * len(low))
    colors = ["tab:blue"] * len(top) + ["tab:red" if v < 0 else "tab:green" for v in low]
    ax1.bar(x, values, color=colors)
    for xi, v in zip(x, values):                 # the value on each bar (tiny ones too)
        ax1.annotate(f"{v:.3g}", (xi, max(v, 0)), ha="center", va="bottom", fontsize=7)
    ax1.set_xticks(x)
    ax1.set_xticklabels(names, fontsize=7)
    ax1.axhline(0, color="black", lw=0.6)
    ax1.set_ylabel("eigenvalue of the Hessian\n(second derivative along its eigenvector)")
    trace = (f"; tr H ≈ {cv.trace_estimate:.3g} ± {cv.trace_standard_error:.2g}"
             if cv.trace_estimate is not None and cv.trace_standard_error is not None else "")
    ax1.set_title(f"the largest (blue) and smallest eigenvalues{trace}", fontsize=9)
    ax1.grid(alpha=0.3, axis="y")
    # the parabola along the top eigenvector, and where η steps land
    lam = top[0]
    t = np.linspace(-1.15, 1.15, 201)
    ax2.plot(t, 0.5 * lam * t ** 2, color="black", lw=1, label="C ≈ C₀ + ½ λ_max t²")
    if cv.max_stable_learning_rate:
        for f, c in ((0.8, "tab:green"), (1.1, "tab:red")):
            eta = f * cv.max_stable_learning_rate
            pts = [0.3]
            for _ in range(7):
                pts.append(pts[-1] * (1 - eta * lam))
            pts_a = np.array(pts)
            ax2.plot(pts_a, 0.5 * lam * pts_a ** 2, "o-", color=c, ms=4, lw=0.8,
                     label=f"η = {f:g} × 2/λ_max: t ← (1 − ηλ_max) t = {1 - eta * lam:+.2f} t")
    ax2.set_xlabel("distance t along the top eigenvector")
    ax2.set_ylabel("cost change")
    ax2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1)
    eta_txt = (f"2/λ_max = {cv.max_stable_learning_rate:.3g}" if cv.max_stable_learning_rate
               else "no limit")
    ax2.set_title(f"gradient descent along the sharpest direction: stable below {eta_txt}",
                  fontsize=9)
    ax2.grid(alpha=0.3)
    fig.suptitle(title or f"curvature of the cost over {cv.n_examples:,} examples "
                 f"({cv.products} Hessian-vector products, {cv.seconds:.1f} s)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_stability(reports: Sequence[StabilityReport], path: str | Path,
                   titles: Sequence[str] | None = None) -> Path:
    """One row per report: the cost after each full-batch step (left) and λ_max along the
    runs with each run's 2/η (right)."""
    fig, axes = new_figure(len(reports), 2, figsize=(12, 4.2 * len(reports)), squeeze=False)
    for row, rep in enumerate(reports):
        ax1, ax2 = axes[row]
        for i, r in enumerate(rep.runs):
            c = COLORS[i % len(COLORS)]
            ax1.semilogy(r.steps, r.costs, "-", color=c, lw=1.2,
                         label=f"η = {r.learning_rate:.3g} ({r.factor:.2f} × 2/λ₀)"
                         + (f", overflow at {r.diverged_at}" if r.diverged_at is not None
                            else ""))
            ax2.plot(r.sharpness_steps, r.sharpness, "o-", color=c, ms=2.5, lw=1)
            ax2.axhline(r.threshold, color=c, ls="--", lw=1, label=f"2/η = {r.threshold:.3g}")
        ax1.set_xlabel("full-batch gradient descent steps")
        ax1.set_ylabel(f"cost C over the {rep.n_examples:,} training examples")
        ax1.legend(fontsize=8)
        ax1.grid(alpha=0.3, which="both")
        ax2.set_xlabel("full-batch gradient descent steps")
        ax2.set_ylabel("sharpness λ_max (top Hessian eigenvalue)")
        ax2.legend(fontsize=8)
        ax2.grid(alpha=0.3)
        head = titles[row] if titles else ""
        ax1.set_title(f"{head}cost (λ₀ = {rep.initial_sharpness:.3g}: 2/λ₀ = "
                      f"{rep.max_stable_learning_rate:.3g})", fontsize=9)
        ax2.set_title(f"{head}sharpness along the runs; dashed: 2/η of each", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


# =========================================================================== interpolation
def plot_interpolation(lines: Sequence[Interpolation], path: str | Path,
                       title: str = "") -> Path:
    """The cost and the accuracy along the straight line(s) from θ_A (t = 0) to θ_B (t = 1)."""
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(11, 4))
    for i, line in enumerate(lines):
        c = COLORS[i % len(COLORS)] if len(lines) > 1 else "tab:blue"
        lab = text_label(f"{line.label_a} → {line.label_b}", 40)   # from file names
        ax1.plot(line.ts, line.costs, "-", color=c, marker=".", label=lab)
        ax1.plot([0, 1], [line.cost_a, line.cost_b], ":", color=c, lw=1)
        ax2.plot(line.ts, 100 * np.asarray(line.accuracies), "-", color=c, marker=".", label=lab)
    for ax in (ax1, ax2):
        for x in (0, 1):
            ax.axvline(x, color="gray", lw=0.6)
        ax.set_xlabel("t:  θ = (1 − t) θ_A + t θ_B")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    ax1.set_yscale("log")
    ax1.set_ylabel(f"cost C over {lines[0].n_examples:,} examples")
    ax1.set_title("cost along the line (dotted: the straight line between the ends)",
                  fontsize=9)
    ax2.set_ylabel("accuracy (%)")
    ax2.set_title("accuracy along the line", fontsize=9)
    fig.suptitle(title or text_label("; ".join(
        f"{ln.label_a} → {ln.label_b}: barrier {ln.barrier:.3g}" for ln in lines), 120),
        fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
