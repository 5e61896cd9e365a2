"""The measured tables of the site and of the README, rendered from the JSON the benchmark
scripts write: nothing here is typed in by hand.

    python docs/scripts/tables.py            # rewrite docs/generated/*.md and the README blocks
    python docs/scripts/tables.py --check    # exit 1 if any of them is out of date

Sources: ``benchmarks/results.json`` (``python benchmarks/bench.py``),
``benchmarks/accuracy.json`` and ``benchmarks/accuracy-*.json`` (``python benchmarks/accuracy.py``),
``benchmarks/ablation-*.json``, ``benchmarks/nielsen-protocol*.json`` and
``benchmarks/nielsen-plateau.json`` (``python
benchmarks/accuracy.py ... -- OPTIONS``).  The pages
include the generated files with ``--8<--`` (pymdownx.snippets); ``tests/test_docs.py`` fails
when they no longer match the JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
OUT = ROOT / "docs" / "generated"
README = ROOT / "README.md"

#: presets in the order the tables list them; a preset with no measurement gets a marked row
PRESET_ORDER = ["3b1b", "nielsen", "nielsen-ch3"]
RIVAL_NAMES = {"jax": "JAX scan", "torch": "PyTorch eager", "numpy": "plain NumPy",
               "textbook": "per-example loop"}
#: the ablations, in the order of the story (each row adds one thing)
ABLATIONS = [
    ("ablation-constant.json", "3b1b", "plain SGD, constant η = 1.0"),
    ("ablation-cosine.json", "3b1b", "+ η decaying (cosine) from 1.0 towards 0.02"),
    (None, "3b1b", "+ L2 weight decay 5e-5: the `3b1b` preset"),
    ("ablation-nielsen-normal-init.json", "nielsen", "`nielsen` with chapter 1's N(0, 1) weights"),
    (None, "nielsen", "`nielsen` preset (scaled initialisation)"),
]


# --------------------------------------------------------------------------- formatting
def seconds(x: float | None) -> str:
    if x is None:
        return "–"
    if x < 1:
        return f"{x:.3f} s"
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s" if x < 100 else f"{x:.0f} s"


def spread(low: str, high: str) -> str:
    """``low – high``, or the one value when they read the same."""
    return low if low == high else f"{low} – {high}"


def ratio(x: float | None) -> str:
    if x is None:
        return ""
    return f"x{x:.1f}" if x < 10 else f"x{x:.0f}"


def percent(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def number(x: float) -> str:
    """1.0, 0.02, 5e-5: as a person would write an option's value."""
    if float(x).is_integer():
        return f"{x:.1f}"
    if abs(x) < 0.001:
        mantissa, exponent = f"{x:.0e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:g}"


def net_name(sizes: list[int]) -> str:
    return "-".join(map(str, sizes))


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def load(name: str) -> dict[str, Any] | None:
    path = BENCH / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# --------------------------------------------------------------------------- speed
def speed_machine(res: dict[str, Any]) -> str:
    m, s = res.get("machine", {}), res.get("settings", {})
    versions = ", ".join(f"{k} {m[k]}" for k in ("python", "numpy", "torch", "jax") if m.get(k))
    return (f"Measured on {m.get('cpus', '?')} CPUs ({m.get('processor', '?')}, "
            f"{m.get('platform', '?')}); {versions}.  Settings: η = {s.get('eta', '?')}, "
            f"median of {s.get('repeats', '?')} rounds, PyTorch on "
            f"{s.get('torch_threads', '?')} thread(s), nudge threads: "
            f"{s.get('nudge_threads', '?')}, the per-example loop timed on "
            f"{s.get('textbook_examples', '?'):,} examples and scaled to 60,000.\n")


def speed_epochs(res: dict[str, Any]) -> str:
    rows = []
    for e in res.get("epochs", []):
        nudge = e.get("nudge", {})
        row = [net_name(e["sizes"]), str(e["batch_size"]), f"**{seconds(nudge.get('seconds'))}**"]
        for key in RIVAL_NAMES:
            r = e.get(key)
            row.append(f"{seconds(r['seconds'])} ({ratio(r.get('ratio_to_nudge'))})"
                       if isinstance(r, dict) and "seconds" in r else "not run")
        rows.append(row)
    return table(["network", "B", "nudge", *RIVAL_NAMES.values()], rows)


def speed_spread(res: dict[str, Any]) -> str:
    rows = []
    for e in res.get("epochs", []):
        nudge = e.get("nudge", {})
        runs = nudge.get("all", [])
        paired = [ratio(e[k].get("paired_ratio")) if isinstance(e.get(k), dict) else "–"
                  for k in ("jax", "torch")]
        rows.append([net_name(e["sizes"]), str(e["batch_size"]), str(len(runs)),
                     spread(seconds(min(runs)), seconds(max(runs))) if runs else "–",
                     *paired, f"{nudge.get('engine', '?')}, {nudge.get('threads', '?')}"])
    return table(["network", "B", "nudge runs", "fastest – slowest", "paired ratio, JAX",
                  "paired ratio, PyTorch", "engine, threads"], rows)


def speed_builds(res: dict[str, Any]) -> str:
    rows = [[b.get("isa", "?"), net_name(b["sizes"]), str(b["batch_size"]),
             seconds(b.get("seconds")), str(len(b.get("all", [])))]
            for b in res.get("builds", [])]
    if not rows:
        return "*(no build comparison in benchmarks/results.json)*\n"
    return table(["C kernel build", "network", "B", "epoch (median)", "runs"], rows)


def speed_time_to_95(res: dict[str, Any]) -> str:
    rows = []
    for r in res.get("time_to_95", []):
        rows.append([f"`{r['preset']}`", str(r["seed"]),
                     str(r["epochs"]) if r.get("reached") else "not reached",
                     seconds(r.get("train_seconds")),
                     seconds(r.get("wall_seconds_with_evaluation")),
                     percent(r.get("test_accuracy"))])
    return table(["preset", "seed", "epochs to ≥ 95%", "training time", "with evaluation",
                  "test accuracy then"], rows)


def speed_startup(res: dict[str, Any]) -> str:
    rows = []
    st = res.get("startup_seconds")
    if st:
        runs = st.get("all", [])
        rows.append(["start-up: the `nudge train` command to the end of the first SGD step "
                     "(data cached)", f"**{seconds(st['median'])}**",
                     f"median of {len(runs)}, {spread(seconds(min(runs)), seconds(max(runs)))}"
                     if runs else ""])
    rss = res.get("nudge_train_peak_rss_mb")
    if rss:
        rows.append(["peak memory (RSS) of `nudge train`, 3b1b, 1 epoch, full MNIST",
                     f"**{rss['3b1b_1_epoch']:.0f} MB**", f"`{rss.get('measured_with', '')}`"])
    return table(["what", "measured", "how"], rows)


def speed_scaling(res: dict[str, Any]) -> str:
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in res.get("scaling", []):
        groups.setdefault(net_name(s["sizes"]), []).append(s)
    rows = []
    for name, runs in groups.items():
        def join(key: str, runs: list[dict[str, Any]] = runs) -> str:
            return " / ".join(seconds(r.get(key)).removesuffix(" s") for r in runs) + " s"
        rows.append([name, " / ".join(str(r["batch_size"]) for r in runs),
                     join("nudge_seconds"),
                     " / ".join(sorted({str(r.get("nudge_threads", "?")) for r in runs})),
                     join("numpy_seconds")])
    return table(["network", "B", "nudge", "threads", "plain NumPy"], rows)


# --------------------------------------------------------------------------- accuracy
def accuracy_runs() -> dict[str, list[dict[str, Any]]]:
    """The plain preset runs (no extra options), by preset, from accuracy.json and any
    accuracy-*.json (e.g. one preset measured on its own)."""
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    paths = sorted(BENCH.glob("accuracy-*.json")) + [BENCH / "accuracy.json"]
    for path in paths:                       # accuracy.json last: it wins
        if path.is_file():
            for r in json.loads(path.read_text(encoding="utf-8")).get("runs", []):
                if not r.get("extra"):
                    runs[r["preset"], r["seed"]] = r
    by_preset: dict[str, list[dict[str, Any]]] = {}
    for (preset, _), r in sorted(runs.items()):
        by_preset.setdefault(preset, []).append(r)
    return by_preset


def _summary(runs: list[dict[str, Any]]) -> tuple[float, float]:
    accs = [r["test_accuracy"] for r in runs]
    return statistics.mean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0


def accuracy_presets() -> str:
    by_preset = accuracy_runs()
    rows = []
    for preset in PRESET_ORDER + sorted(set(by_preset) - set(PRESET_ORDER)):
        runs = sorted(by_preset.get(preset, []), key=lambda r: r["seed"])
        if not runs:
            rows.append([f"`{preset}`", "**not measured yet**", "(run "
                         "`python benchmarks/accuracy.py`)", "", "", "", ""])
            continue
        mean, sd = _summary(runs)
        secs = [r["train_seconds"] for r in runs]
        rows.append([f"`{preset}`", ", ".join(str(r["seed"]) for r in runs),
                     ", ".join(percent(r["test_accuracy"]) for r in runs),
                     f"**{percent(mean)}**", percent(sd),
                     ", ".join(str(r.get("first_epoch_at_95") or "–") for r in runs),
                     f"{spread(f'{min(secs):.1f}', f'{max(secs):.1f}')} s"])
    return table(["preset", "seeds", "test accuracy", "mean", "spread (sd)",
                  "first epoch ≥ 95%", "training time"], rows)


def accuracy_ablations() -> str:
    by_preset = accuracy_runs()
    rows = []
    for name, preset, what in ABLATIONS:
        if name is None:
            runs, options = by_preset.get(preset, []), "(none)"
        else:
            data = load(name)
            if data is None:
                continue
            runs = data["runs"]
            options = "`-- " + " ".join(runs[0].get("extra", [])) + "`"
        if not runs:
            continue
        runs = sorted(runs, key=lambda r: r["seed"])
        rows.append([what, options, ", ".join(percent(r["test_accuracy"]) for r in runs),
                     f"**{percent(_summary(runs)[0])}**"])
    return table(["set-up", "extra options", "seeds 1, 2, 3", "mean"], rows)


#: Nielsen's own protocol (train on the first 50,000, validate on the last 10,000)
NIELSEN_PROTOCOL = [
    ("nielsen-protocol.json", "`nielsen-ch3` (N(0, 1/n_in) weights)"),
    ("nielsen-protocol-normal-init.json", "`nielsen-ch3` with Nielsen's N(0, 1) weights"),
    ("nielsen-plateau.json", "`nielsen-ch3` with his learning-rate schedule"),
]


def _pm(values: list[float]) -> str:
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"**{percent(mean)}** ± {percent(sd)}"


def accuracy_nielsen() -> str:
    """nielsen-ch3 as Nielsen measured it: the accuracy on the 10,000 held-out images."""
    rows = []
    for name, what in NIELSEN_PROTOCOL:
        data = load(name)
        if data is None:
            continue
        runs = sorted(data["runs"], key=lambda r: r["seed"])
        held = [r["validation_accuracy"] for r in runs]
        rows.append([what, "`-- " + " ".join(runs[0].get("extra", [])) + "`",
                     ", ".join(str(r["seed"]) for r in runs),
                     ", ".join(percent(v) for v in held), _pm(held),
                     _pm([r["test_accuracy"] for r in runs])])
    return table(["set-up", "extra options", "seeds", "validation accuracy", "mean ± sd",
                  "test accuracy, mean ± sd"], rows)


# --------------------------------------------------------------------------- README
def _preset_columns(preset: str) -> tuple[str, str]:
    """(network, training) of a preset in words, from ``nudge.PRESETS`` itself."""
    from nudge import PRESETS

    p = PRESETS[preset]
    network = (f"{net_name(p['sizes'])}, {p['activation']}, {p['cost']} cost"
               + (f", {p['output']} output" if p["output"] != "sigmoid" else ""))
    eta = f"η = {number(p['learning_rate'])}"
    if p.get("schedule") == "cosine":
        eta += f" decaying (cosine) towards {number(p['min_learning_rate'])}"
    training = f"B = {p['batch_size']}, {p['epochs']} epochs, {eta}"
    if p.get("weight_decay"):
        training += f", weight decay {number(p['weight_decay'])}"
    return network, training


def readme_accuracy() -> str:
    """The README's presets table with each preset's measured accuracy (or a marked gap)."""
    from nudge import PRESETS

    by_preset = accuracy_runs()
    rows = []
    for preset in [p for p in PRESET_ORDER if p in PRESETS] + sorted(
            set(PRESETS) - set(PRESET_ORDER)):
        runs = sorted(by_preset.get(preset, []), key=lambda r: r["seed"])
        if runs:
            mean, sd = _summary(runs)
            acc = (f"**{percent(mean)}** ± {percent(sd)} (seeds "
                   f"{', '.join(str(r['seed']) for r in runs)})")
        else:
            acc = "**not measured yet**"
        name = f"`{preset}`" + (" (default)" if preset == "3b1b" else "")
        rows.append([name, *_preset_columns(preset), acc])
    return table(["preset", "network", "training", "test accuracy, mean ± sd"], rows)


def readme_speed(res: dict[str, Any]) -> str:
    """The README's speed figures: one epoch against PyTorch and JAX, and time to 95%."""
    rows = []
    for e in res.get("epochs", []):
        if e["sizes"] != [784, 16, 16, 10]:
            continue
        rivals = [f"{seconds(e[k]['seconds'])} ({ratio(e[k].get('ratio_to_nudge'))})"
                  if isinstance(e.get(k), dict) else "not run" for k in ("jax", "torch")]
        rows.append([f"one epoch (60,000 images), 784-16-16-10, B = {e['batch_size']}",
                     f"**{seconds(e['nudge']['seconds'])}**", *rivals])
    t95 = [r for r in res.get("time_to_95", []) if r["preset"] == "3b1b" and r.get("reached")]
    if t95:
        secs = [r["train_seconds"] for r in t95]
        rows.append([f"`3b1b` preset to 95% test accuracy (seeds "
                     f"{', '.join(str(r['seed']) for r in t95)})",
                     f"**{spread(seconds(min(secs)), seconds(max(secs)))}**", "", ""])
    m = res.get("machine", {})
    return (table(["", "nudge", RIVAL_NAMES["jax"], RIVAL_NAMES["torch"]], rows)
            + f"\nMeasured on {m.get('cpus', '?')} CPUs ({m.get('processor', '?')}); the "
            "full tables, the method and the machine: [docs/speed.md](docs/speed.md).\n")


#: the README's generated blocks: name → what goes between its markers
README_BLOCKS = {"accuracy": lambda res: readme_accuracy(), "speed": readme_speed}


def markers(name: str) -> tuple[str, str]:
    return (f"<!-- {name}: generated by docs/scripts/tables.py from benchmarks/*.json -->",
            f"<!-- {name}: end -->")


def readme_text(readme: str, res: dict[str, Any]) -> str:
    """The README with each generated block re-rendered (blocks without markers: left out)."""
    for name, make in README_BLOCKS.items():
        start, end = markers(name)
        if start in readme and end in readme:
            before, rest = readme.split(start, 1)
            readme = before + start + "\n" + make(res) + end + rest.split(end, 1)[1]
    return readme


def render() -> dict[Path, str]:
    """Every generated file: path → text."""
    res = load("results.json") or {}
    files = {
        "speed-machine.md": speed_machine(res), "speed-epochs.md": speed_epochs(res),
        "speed-spread.md": speed_spread(res), "speed-builds.md": speed_builds(res),
        "speed-time-to-95.md": speed_time_to_95(res), "speed-startup.md": speed_startup(res),
        "speed-scaling.md": speed_scaling(res), "accuracy-presets.md": accuracy_presets(),
        "accuracy-ablations.md": accuracy_ablations(),
        "accuracy-nielsen.md": accuracy_nielsen(),
    }
    out = {OUT / name: text for name, text in files.items()}
    out[README] = readme_text(README.read_text(encoding="utf-8"), res)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only say whether they are up to date")
    args = ap.parse_args()
    stale = []
    for path, text in render().items():
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        if old != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "rewritten"
    for p in stale:
        print(f"{p}: {verb}")
    if args.check and stale:
        print("run: python docs/scripts/tables.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
