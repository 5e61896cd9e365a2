"""The documentation: the site builds with warnings as errors, every page's figures and
outputs exist and come from the command shown, the measured tables match the benchmark
JSON, and the README is a short front door whose test command CI runs."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import nudge
import nudge.insight

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
TEST_COMMAND = ('pip install -e ".[test]" && ruff check src tests benchmarks && mypy src '
                '&& pytest -q')


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(DOCS / "scripts"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(DOCS / "scripts"))
    return module


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md")
                  if not {"scripts", "generated", "outputs"} & set(p.relative_to(DOCS).parts))


# --------------------------------------------------------------------------- the site
def test_site_builds_with_warnings_as_errors(tmp_path):
    """``mkdocs build --strict`` (as CI runs it), then the API reference holds every public
    name of ``nudge`` and ``nudge.insight`` and the tutorial page shows its figures."""
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocs_jupyter"):
        pytest.importorskip(module, reason="the docs extra is not installed")
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(site)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    api = ((site / "api/nudge/index.html").read_text(encoding="utf-8")
           + (site / "api/insight/index.html").read_text(encoding="utf-8"))
    ids = set(re.findall(r'id="(nudge\.[\w.]+)"', api))

    def documented(module: str, name: str) -> bool:       # nudge.x or nudge.sub.x
        return f"{module}.{name}" in ids or any(
            i.startswith(module + ".") and i.endswith("." + name) for i in ids)
    missing = [f"nudge.{n}" for n in nudge.__all__ if not documented("nudge", n)]
    missing += [f"nudge.insight.{n}" for n in nudge.insight.__all__
                if not documented("nudge.insight", n)]
    assert not missing, f"not in the API reference: {missing}"
    tutorial = (site / "tutorial/index.html").read_text(encoding="utf-8")
    assert tutorial.count("data:image/png") >= 6
    assert ":func:" not in api and ":class:" not in api     # Sphinx roles rendered as code


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [str(p.relative_to(DOCS)) for p in _pages()
               if str(p.relative_to(DOCS)) not in nav]
    assert not missing


def test_included_outputs_and_figures_exist():
    """Every ``--8<--`` include and every figure a page shows is there (the build checks
    this too, but only where mkdocs is installed)."""
    missing = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        for inc in re.findall(r'--8<-- "([^"]+)"', text):
            if not (DOCS / inc).is_file():
                missing.append(f"{page.name}: {inc}")
        for img in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
            if not img.startswith("http") and not (page.parent / img).resolve().is_file():
                missing.append(f"{page.name}: {img}")
    assert not missing


def test_each_output_is_made_by_the_command_it_shows():
    """The output files start with the very command regenerate.py runs, and every figure
    a command writes is in docs/figures/."""
    regenerate = _script("regenerate")
    for name, command, figures in regenerate.COMMANDS + regenerate.HELP:
        text = (DOCS / "outputs" / f"{name}.txt").read_text(encoding="utf-8")
        shown = regenerate._wrap(command)
        assert text.startswith(f"$ {shown}\n"), f"docs/outputs/{name}.txt: run {command!r}"
        assert shlex.split(shown.replace("\\\n", " ")) == shlex.split(command)
        for fig in figures:
            assert fig in command and (DOCS / "figures" / fig).is_file()


def test_the_help_on_the_command_line_page_is_the_current_one(tmp_path):
    """Each command's ``--help`` as the installed nudge prints it (after a change to the
    command line: ``python docs/scripts/regenerate.py --only help``)."""
    regenerate = _script("regenerate")
    stale = [name for name, command, _ in regenerate.HELP
             if regenerate.run(command, tmp_path)
             != (DOCS / "outputs" / f"{name}.txt").read_text(encoding="utf-8")]
    assert not stale, f"out of date, run python docs/scripts/regenerate.py --only help: {stale}"


def test_the_command_line_page_states_the_widths_its_outputs_have():
    """The page says which terminal width the ``--help`` shown was made for (the
    ``COLUMNS`` regenerate.py sets) and to what width the commands wrap their text
    (:data:`nudge.display.WIDTH`), and the shown help fits that width."""
    from nudge.display import WIDTH

    regenerate = _script("regenerate")
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert f"a {regenerate.COLUMNS}-column terminal" in page
    assert f"wrapped to {WIDTH} columns" in page
    for name, _, _ in regenerate.HELP:
        lines = (DOCS / "outputs" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        assert max(len(line) for line in lines[1:]) <= int(regenerate.COLUMNS), name


def test_a_section_named_as_below_or_above_is_there():
    """``see "Heading" below`` (or above) points the reader the right way on its page."""
    wrong = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        headings = {m.group(1): m.start() for m in re.finditer(r"^#+ (.+)$", text, re.M)}
        for m in re.finditer(r'"([^"\n]+)" (below|above)', text):
            at = headings.get(m.group(1))
            if at is not None and (at > m.start()) != (m.group(2) == "below"):
                wrong.append(f"{page.name}: {m.group(0)}")
    assert not wrong


#: terms the videos never use, and the words that explain them where a "See the gradient"
#: page uses them
EXPLAINED = {"Hessian": "second derivatives", "cosine": "angle between"}


def test_insight_pages_say_what_the_terms_the_videos_never_use_are():
    """A "See the gradient" page that names the Hessian says it is the matrix of the cost's
    second derivatives; one that reads a mini-batch's cosine says it is of an angle."""
    unexplained = [f"{p.name}: {term}" for p in (DOCS / "insight").glob("*.md")
                   for term, words in EXPLAINED.items()
                   if term in (text := p.read_text(encoding="utf-8")) and words not in text]
    assert not unexplained


def test_insight_pages_show_their_command_output_and_figure():
    for name in ("sensitivity", "nudges", "average", "descent", "landscape"):
        text = (DOCS / "insight" / f"{name}.md").read_text(encoding="utf-8")
        assert f'--8<-- "outputs/{name}.txt"' in text
        assert "../figures/insight-" in text


def test_tables_match_the_benchmark_json():
    """The speed and accuracy tables (and the README's key figures) are rendered from
    benchmarks/*.json; after a benchmark is re-run, ``python docs/scripts/tables.py``."""
    tables = _script("tables")
    stale = [str(path.relative_to(ROOT)) for path, text in tables.render().items()
             if not path.is_file() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date, run python docs/scripts/tables.py: {stale}"


def test_a_preset_without_measurement_gets_a_marked_row():
    tables = _script("tables")
    text = tables.accuracy_presets()
    for preset in nudge.PRESETS:
        assert f"`{preset}`" in text
    if "nielsen-ch3" not in tables.accuracy_runs():
        assert "| `nielsen-ch3` | **not measured yet**" in text


def test_the_mathematics_page_maps_nielsens_names():
    """A reader of Nielsen's book finds his mini-batch size m (his step divides by it) and
    his ½ on the page that states nudge's conventions."""
    page = (DOCS / "mathematics.md").read_text(encoding="utf-8")
    assert "Nielsen's m" in page and "(η/m)" in page
    assert "The cost has no ½" in page


# --------------------------------------------------------------------------- the README
def test_readme_is_a_short_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    assert TEST_COMMAND in text
    for word in ("issue 4", "previous kernel", "third run", "third full run", "Numba"):
        assert word.lower() not in text.lower(), word
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).exists(), link


def test_ci_runs_the_readme_test_command_and_builds_the_docs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in ci
    assert "mkdocs build --strict" in ci
    assert ci.index(TEST_COMMAND) < ci.index("mkdocs build --strict")


def test_every_copy_of_the_test_command_is_the_readmes():
    """The pages that show the test command (getting started, contributing, the index)
    show the one CI runs, not an older copy of it."""
    start = 'pip install -e ".[test]" &&'
    for path in [README, ROOT / ".ci" / "run", *_pages()]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if start in line:
                assert TEST_COMMAND in line, f"{path.relative_to(ROOT)}: {line.strip()}"


def test_every_public_name_and_its_methods_have_a_docstring():
    """What ``nudge`` and ``nudge.insight`` export, and the public methods and properties of
    their classes, each say what they are on the API reference page (a dataclass without a
    docstring shows only its generated signature there)."""
    import inspect

    import nudge
    import nudge.insight as ins

    bare = []
    for module in (nudge, ins):
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            doc = (obj.__doc__ or "").strip()
            if not doc or (inspect.isclass(obj) and doc.startswith(f"{name}(")):
                bare.append(f"{module.__name__}.{name}")
            for attr, value in (vars(obj).items() if inspect.isclass(obj) else ()):
                f = value.fget if isinstance(value, property) else value
                if not attr.startswith("_") and callable(f) and not (f.__doc__ or "").strip():
                    bare.append(f"{module.__name__}.{name}.{attr}")
    assert not bare, f"no docstring: {bare}"


# --------------------------------------------------------------------------- the source's text
SRC = Path(nudge.__file__).parent
ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):`~?([^`]+)`")
_MISSING = object()


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` names a module or an attribute of one (``nudge.x.y``, ``ast.walk``)."""
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _names_in(module: str, is_package: bool, target: str, text: str) -> bool:
    """A cross-reference as Sphinx reads it in ``module`` (source ``text``): ``.x`` from its
    package, a full name, or a name of the module, of one of its classes (an instance
    attribute too), or of a package above it."""
    import importlib
    import inspect

    package = module if is_package else module.rpartition(".")[0]
    if target.startswith("."):
        target = target[1:]
        while target.startswith("."):
            package, target = package.rpartition(".")[0], target[1:]
        return _resolves(f"{package}.{target}")
    if _resolves(target):
        return True
    mod = importlib.import_module(module)
    scopes = [mod, *(c for _, c in inspect.getmembers(mod, inspect.isclass))]
    while package:
        scopes.append(importlib.import_module(package))
        package = package.rpartition(".")[0]
    for scope in scopes:
        obj: object = scope
        for attr in target.split("."):
            obj = getattr(obj, attr, _MISSING)
            if obj is _MISSING:
                break
        if obj is not _MISSING:
            return True
    return f"self.{target} =" in text or f"self.{target}: " in text


def test_every_cross_reference_in_the_source_names_something_that_exists():
    """Each :func:`x`, :mod:`y`, :data:`z`... of a docstring or comment in src/nudge names an
    existing module, function, class or constant: a renamed or removed one is a dead link in
    the API reference and a wrong hop for a reader."""
    pytest.importorskip("starlette", reason="the web page's modules need starlette")
    dead = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "__main__.py":
            continue
        rel = path.relative_to(SRC.parent).with_suffix("")
        is_package = rel.name == "__init__"
        module = ".".join(rel.parts[:-1] if is_package else rel.parts)
        text = path.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            for target in ROLE.findall(line):
                if not _names_in(module, is_package, target.rstrip("()"), text):
                    dead.append(f"{path.relative_to(SRC)}:{n}: {target}")
    assert not dead, "cross-references to nothing:\n" + "\n".join(dead)


def test_every_benchmark_the_source_and_docs_cite_exists():
    """A number measured by ``benchmarks/NAME.py`` (as docstrings and pages say) can be
    measured again: the script is there."""
    cited = {(path, name) for path in [*SRC.rglob("*.py"), *_pages()]
             for name in re.findall(r"benchmarks/(\w+\.py)", path.read_text(encoding="utf-8"))}
    missing = sorted(f"{p.relative_to(ROOT)}: benchmarks/{n}" for p, n in cited
                     if not (ROOT / "benchmarks" / n).is_file())
    assert not missing, "benchmark scripts cited but absent:\n" + "\n".join(missing)


def test_the_web_page_states_the_save_name_rule_the_server_applies():
    """The Models view's names were '1 to 64 letters, digits, - or _' on the page, which
    allows '-x' and '_x'; the server (and the form's pattern) wants a letter or a digit
    first."""
    from nudge.web.validation import SAVE_NAME

    text = " ".join((DOCS / "web.md").read_text(encoding="utf-8").split())
    assert "1 to 64 letters, digits, `-` or `_`, starting with a letter or a digit" in text
    assert SAVE_NAME.fullmatch("a-_9") and SAVE_NAME.fullmatch("9" * 64)
    assert not any(SAVE_NAME.fullmatch(n) for n in ("-x", "_x", "9" * 65))


def test_getting_started_says_the_training_output_leaves_out_the_opening_lines(tmp_path):
    """The page showed the table alone as `nudge train`'s output; a learner also sees the
    opening lines (what it trains, on what, how), which go to the standard error."""
    text = " ".join((DOCS / "getting-started.md").read_text(encoding="utf-8").split())
    assert "a few lines on the standard error, with the progress bar, so not in the output" in text
    out = (DOCS / "outputs" / "train.txt").read_text(encoding="utf-8")
    assert "training 784-16-16-10" not in out and "epoch    eta" in out
    run = subprocess.run([sys.executable, "-m", "nudge", "train", "--dataset", "digits",
                          "--epochs", "1", "--out", str(tmp_path / "m.safetensors")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("training 64-16-16-10") and "training 64" not in run.stdout
    assert run.stdout.startswith("epoch ")
