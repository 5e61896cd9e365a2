"""Property-based tests of the command line's option parsing.

Any argument list: argparse's one line and exit 2 (or help and exit 0), never a
traceback.  For ``train``, ``evaluate``, ``predict`` and ``info`` the command also runs
(training itself is replaced by a stub: everything up to the first step is checked):
exit 0, or 1 with one ``nudge ...: error:`` line, never an exception.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pytest
from fuzzing import examples
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from nudge.cli import build_parser, main

FAST, SLOW = examples(150), examples(2000)
PATH_OPTIONS = {"--out", "--plot", "--track-plot", "--paths-plot", "--data-dir", "--save-dir",
                "--model", "--report", "--tls-ca-file", "--tls-cert", "--tls-key"}
NASTY = ["0", "1", "-1", "2", "1e20", "1e9", "nan", "inf", "-inf", "", " ", "full", "x",
         ",,,", "10", "64,16,10", "784,16,10", "64,0,10", "64,-3,10", "64,100000,10",
         ",".join(["64"] + ["8"] * 70 + ["10"]), "99999999999999999999", "2147483648",
         "4294967296", "4294967295", "0.5", "-0.0", "1,2", "1e-300", "1e300", "0x10", "१२",
         "--", "-", "--json", "auto", "digits", "mnist", "fashion-mnist", "adam", "cosine"]
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=12),
                   st.integers(-2**70, 2**70).map(str), st.floats().map(str))
safe_names = st.one_of(
    st.sampled_from(["m.safetensors", "p.png", "x.jpg", ".", "..", "", "sub/m.safetensors",
                     "n" * 300, "missing-folder", "model.safetensors"]),
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
            min_size=1, max_size=20))


def _commands() -> dict[str, list[argparse.Action]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: [a for a in p._actions if not isinstance(a, argparse._HelpAction)]
            for name, p in sub.choices.items()}


COMMANDS = _commands()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    from nudge import Network, save

    folder = tmp_path_factory.mktemp("fuzz-cli")
    save(Network([64, 16, 10], seed=0), folder / "digits.safetensors", dataset="digits")
    img = Image.new("L", (40, 40), 255)
    ImageDraw.Draw(img).line([(20, 5), (20, 35)], fill=0, width=4)
    img.save(folder / "one.png")
    return folder


@st.composite
def argvs(draw, commands):
    name = draw(st.sampled_from(commands))
    argv = [name]
    for action in COMMANDS[name]:
        if action.option_strings:
            continue
        count = {None: 1, "?": draw(st.integers(0, 1)), "+": draw(st.integers(1, 3))}.get(
            action.nargs, 1)
        for _ in range(count):
            argv.append(draw(st.sampled_from(["digits.safetensors", "one.png", "missing"])
                             | values))
    options = [a for a in COMMANDS[name] if a.option_strings]
    for action in draw(st.lists(st.sampled_from(options), max_size=6)) if options else []:
        flag = draw(st.sampled_from(action.option_strings))
        argv.append(flag)
        n = action.nargs if isinstance(action.nargs, int) else 1
        for _ in range(n):
            if action.choices and draw(st.booleans()):
                argv.append(str(draw(st.sampled_from(list(action.choices)))))
            elif flag in PATH_OPTIONS:
                argv.append(draw(safe_names))
            else:
                argv.append(draw(values))
    if draw(st.booleans()):                           # a random option name, now and then
        argv.append(draw(st.sampled_from(["--bogus", "-x", "--epoch", "--size"])))
    return argv


def _argparse_line(err: str, argv: list[str]) -> None:
    """argparse's one line (an argument it echoes may hold a line break of its own)."""
    assert "Traceback" not in err and err.startswith("nudge") and err.count("error:") >= 1
    assert err.endswith("--help)\n"), (argv, err)
    if not any(c in a for a in argv for c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        assert len(err.strip().splitlines()) == 1, (argv, err)


def _parse_property(argv, capsys) -> None:
    try:
        build_parser().parse_args(argv)
    except SystemExit as e:
        out, err = capsys.readouterr()
        assert e.code in (0, 2), (argv, e.code)
        if e.code == 2:
            _argparse_line(err, argv)
    capsys.readouterr()


@FAST
@given(argvs(sorted(COMMANDS)))
def test_option_parsing_of_every_command(capsys, argv):
    _parse_property(argv, capsys)


class _Reached(Exception):
    """Training would start: every check before it passed."""


def _run_property(argv, workdir, capsys, monkeypatch) -> None:
    import nudge.cli.core as core

    def stub(*args, **kwargs):
        raise _Reached

    monkeypatch.setattr(core, "train", stub)
    monkeypatch.chdir(workdir)
    before = set(os.listdir(workdir))
    try:
        code = main(argv)
    except _Reached:
        code = None
    except SystemExit as e:
        code = e.code
        assert code in (0, 2), (argv, code)
    out, err = capsys.readouterr()
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        _argparse_line(err, argv)
    if code == 1:
        errors = [line for line in err.splitlines() if "error:" in line]
        assert errors and all(line.startswith("nudge ") for line in errors), (argv, err)
        if argv[0] != "predict":
            assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], (argv, err)
    assert code in (None, 0, 1, 2), (argv, code)
    for name in set(os.listdir(workdir)) - before:        # nothing saved: train is a stub
        assert not name.endswith(".tmp"), (argv, name)
        path = Path(workdir) / name
        if path.is_dir():
            os.rmdir(path)
        else:
            path.unlink()


@FAST
@given(argvs(["train", "evaluate", "predict", "info"]))
def test_commands_run_to_an_answer_or_one_line(workdir, capsys, monkeypatch, argv):
    if argv[0] == "train" and "--dataset" not in argv:
        argv += ["--dataset", "digits"]
    _run_property(argv, workdir, capsys, monkeypatch)


@pytest.mark.slow
@SLOW
@given(argvs(sorted(COMMANDS)))
def test_option_parsing_of_every_command_many(capsys, argv):
    _parse_property(argv, capsys)


@pytest.mark.slow
@SLOW
@given(argvs(["train", "evaluate", "predict", "info"]))
def test_commands_run_to_an_answer_or_one_line_many(workdir, capsys, monkeypatch, argv):
    _run_property(argv, workdir, capsys, monkeypatch)


def test_the_vocabulary_covers_every_command():
    assert {"train", "evaluate", "predict", "info"} <= set(COMMANDS)
    assert tempfile.gettempdir()


def test_file_names_with_line_breaks_still_give_one_line(workdir, capsys, monkeypatch):
    monkeypatch.chdir(workdir)
    for argv in (["evaluate", "a\r\nb.safetensors"], ["info", "x\n"],
                 ["predict", "digits.safetensors", "no\nsuch.png"],
                 ["train", "--dataset", "digits", "--out", "sub\n/m.safetensors"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "\\n" in err, err
