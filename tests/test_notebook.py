"""The tutorial notebook runs top to bottom without an error, and the objects it shows have
readable HTML summaries in Jupyter (``_repr_html_``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import nudge
import nudge.insight as ins
from nudge.display import value_html

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"


# --------------------------------------------------------------------------- HTML summaries
def test_network_html_summary_lists_layers_parameters_and_stored_accuracy(tmp_path):
    net = nudge.Network([784, 16, 16, 10], seed=1)
    html = net._repr_html_()
    assert "784-16-16-10" in html and "13,002 parameters" in html
    assert "16&times;784 + 16 = 12,560" in html and "quadratic" in html and "sigmoid" in html
    assert "accuracy" not in html                    # nothing measured yet
    nudge.save(net, tmp_path / "m.safetensors", test_accuracy=0.9423, dataset="mnist",
               epochs_trained=3)
    html = nudge.load(tmp_path / "m.safetensors")._repr_html_()
    assert "test accuracy <b>94.23%</b> on mnist after 3 epochs" in html


def test_network_html_escapes_metadata(tmp_path):
    net = nudge.Network([4, 3, 2], seed=0)
    net.metadata = {"test_accuracy": 0.5, "dataset": "<script>"}
    assert "<script>" not in net._repr_html_()


def test_insight_results_have_html_summaries(digits):
    net = nudge.Network([64, 16, 10], seed=1)
    X, y = digits.X_train, digits.y_train
    sens = ins.sensitivity(net, X, y, k=3)
    html = sens._repr_html_()
    assert html.startswith("<div><b>Sensitivity</b>")
    assert "<th>rank</th>" in html and "layer 2 bias of output" in html   # top as a table
    assert "gradient</th>" not in html.split("<table>")[1].split("top")[0]  # _skip honoured
    wishes = ins.example_wishes(net, X[0], y[0], index=0)
    html = wishes._repr_html_()
    assert "ExampleWishes" in html and "array (8, 8) float32" in html
    report = ins.minibatch_estimates(net, X, y, batch_sizes=[1, 10, 100], draws=3)
    assert "<th>batch_size</th>" in report._repr_html_()
    comparison = ins.compare(net, sens, "b2[1]", "b1[0]")
    assert "more sensitive" in comparison._repr_html_() or "less sensitive" in \
        comparison._repr_html_()
    many = [ins.locate(net, i) for i in range(25)]
    assert "15 more" in value_html(many)


# --------------------------------------------------------------------------- the notebook
LOAD_MNIST = 'nudge.load_dataset("mnist")'


def _execute(nb, folder: Path) -> float:
    """Run ``nb`` in place with nbclient in ``folder``; fails on the first cell that raises.
    Returns the seconds it took."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    env_before = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        started = time.perf_counter()
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(folder)}})
        client.execute()
        seconds = time.perf_counter() - started
    finally:
        if env_before is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = env_before
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) >= 6, "the figures are shown inline"
    return seconds


def _text(cell) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                   for o in cell.get("outputs", []))


def test_notebook_runs_top_to_bottom(tmp_path, mnist_path, monkeypatch):
    """Executes docs/tutorial.ipynb with nbclient (in a copy: the stored outputs stay as
    they are) on full MNIST, as the stored outputs were made."""
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setenv("NUDGE_DATA", str(mnist_path))       # the kernel inherits it
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert sum(c.cell_type == "code" for c in nb.cells) >= 10
    seconds = _execute(nb, tmp_path)
    assert "Dataset('mnist', train=60000" in _text(nb.cells[1])
    print(f"notebook ran in {seconds:.1f} s")


def test_notebook_runs_on_the_embedded_digits_without_mnist(tmp_path):
    """Offline, without MNIST, the notebook says so and tells the same story on the
    embedded 8x8 digits.  The loading line is pointed at an empty folder (a ``data_dir``
    is never downloaded into), so the test needs no network and downloads nothing."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code" and LOAD_MNIST in c.source)
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    first.source = first.source.replace(
        LOAD_MNIST, f'nudge.load_dataset("mnist", data_dir={str(empty)!r})')
    _execute(nb, tmp_path)
    text = _text(first)
    assert "MNIST is not available: using the embedded 8x8 digits" in text
    assert "Dataset('digits'" in text


def test_stored_notebook_has_figures_and_no_errors():
    """The site shows the notebook's stored outputs (mkdocs-jupyter, execute: false), so
    they must be there: figures, and no error."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 6
    assert all(c.get("execution_count") is not None for c in nb.cells
               if c.cell_type == "code"), "stored outputs come from one run, top to bottom"
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))


# --------------------------------------------------------------------------- the notebook's text
def _sections(nb) -> dict[str, list]:
    """The cells of each numbered ``## N.`` section, by its heading line."""
    sections: dict[str, list] = {}
    current = None
    for cell in nb.cells:
        first = cell.source.splitlines()[0] if cell.source else ""
        if cell.cell_type == "markdown" and first.startswith("## "):
            current = first if first[3:4].isdigit() else None
            if current:
                sections[current] = []
        if current:
            sections[current].append(cell)
    return sections


def test_every_section_ends_with_what_to_take_away():
    """Each numbered section's last text says what to take away from it."""
    nbformat = pytest.importorskip("nbformat")
    sections = _sections(nbformat.read(NOTEBOOK, as_version=4))
    assert len(sections) >= 9
    for heading, cells in sections.items():
        last_text = [c for c in cells if c.cell_type == "markdown"][-1].source
        assert "**Take-away:**" in last_text, heading


def test_descent_section_names_the_learning_rates_its_stored_output_used():
    """Section 7's prose and its stored output name the same η, the ones
    ``ins.descent`` uses by default (full-batch GD's default changed from 10 to 4: the
    prose said 4 while the stored output still showed 'eta 10')."""
    nbformat = pytest.importorskip("nbformat")
    cells = next(v for k, v in _sections(nbformat.read(NOTEBOOK, as_version=4)).items()
                 if k.startswith("## 7."))
    prose = cells[0].source
    code = next(c for c in cells if c.cell_type == "code" and "ins.descent(" in c.source)
    out = _text(code)
    for label, batch in (("full-batch GD", None), ("SGD, B=100", 100), ("SGD, B=10", 10)):
        eta = ins.default_learning_rate(batch)
        assert f"{label} (eta {eta:g})" in out, label
        assert f"η = {eta:g}" in prose, label


def test_code_cells_use_only_public_names():
    """The notebook teaches nudge's public API: no ``_private`` name of nudge."""
    import re

    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.findall(r"\b(?:nudge|ins|plots|net\w*)\._\w", code)
    assert not re.findall(r"from nudge[\w.]* import .*\b_\w", code)
