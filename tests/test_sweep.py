"""nudge sweep: the grid, the results file (resume, repair, never twice), the local pool,
divergence as a result, the summary and figure, bad options, and a real Dask cluster
with a worker killed mid-sweep."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge.cli import main
from nudge.errors import NudgeError
from nudge.sweep import MAX_POINTS, ResultsFile, expand, parse_list, parse_seeds, read, run_sweep
from nudge.sweep.grid import MAX_VALUES, data_sha256, point_key

SMALL = ["--dataset", "digits", "--epochs", "2", "--quiet"]


def run(capsys, *argv):
    code = main(["sweep", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


# --------------------------------------------------------------------------- the grid
def test_seeds_take_lists_and_ranges():
    assert parse_seeds("1-5") == [1, 2, 3, 4, 5]
    assert parse_seeds("3,1-2,10,2") == [3, 1, 2, 10]
    assert parse_seeds("0") == [0]


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 20)), min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_seed_ranges_are_their_numbers_once_each(ranges):
    text = ",".join(f"{a}-{a + n}" if n else str(a) for a, n in ranges)
    expected = []
    for a, n in ranges:
        for s in range(a, a + n + 1):
            if s not in expected:
                expected.append(s)
    assert parse_seeds(text) == expected


@pytest.mark.parametrize("text, message", [
    ("5-1", "runs backwards"), ("-3", "0 or more"), ("a", "not a whole number"),
    ("1,,2", "empty value"), ("1-99999999", "more than"), ("5000000000", "at most"),
])
def test_bad_seeds_are_one_line_errors(text, message):
    with pytest.raises(NudgeError, match=message) as e:
        parse_seeds(text)
    assert "\n" not in str(e.value)


def test_the_sweep_api_refuses_arguments_of_the_wrong_kind_in_one_line(tmp_path):
    """expand(None) or a list of pairs, run_sweep of a dict, a results file named None:
    AttributeError and pathlib's TypeError before."""
    for texts in (None, [("learning_rate", "0.1")]):
        with pytest.raises(NudgeError, match="a dict of option names to texts"):
            expand(texts)
    with pytest.raises(NudgeError, match="the Grid that expand.. returns, not a dict"):
        run_sweep({"learning_rate": [0.1]}, tmp_path / "out.jsonl")
    for call in (read, ResultsFile):
        with pytest.raises(NudgeError, match="the results file must be a file name .* not None"):
            call(None)


def test_a_negative_zero_is_zero_one_grid_point():
    """--momentum 0,-0 ran twice, its table naming 'momentum=-0' best, tied with 0."""
    for option in ("momentum", "weight_decay", "min_learning_rate"):
        values = parse_list(option, "0,-0")
        assert values == [0.0] and json.dumps(values) == "[0.0]", option
    assert json.dumps(parse_list("momentum", "-0")) == "[0.0]"


def test_option_lists():
    assert parse_list("learning_rate", "0.3,1,3") == [0.3, 1.0, 3.0]
    assert parse_list("learning_rate", "1,1.0") == [1.0]
    assert parse_list("batch_size", "10,full") == [10, None]
    assert parse_list("sizes", "64,16,10/64,30,10") == [[64, 16, 10], [64, 30, 10]]
    assert parse_list("hidden", "4/16,16/none") == [[4], [16, 16], []]
    for option, text, message in [("learning_rate", "0", "above 0"),
                                  ("momentum", "1", "below 1"), ("epochs", "0", "at least 1"),
                                  ("activation", "relux", "choose from"),
                                  ("sizes", "64", "at least 2"), ("sizes", "64,x", "layer"),
                                  ("learning_rate", "nan", "finite")]:
        with pytest.raises(NudgeError, match=message):
            parse_list(option, text)


def test_momentum_and_weight_decay_are_checked_by_the_trainers_rule():
    """The sweep's lists use nudge.optimizers' one rule for μ and λ (train's, the same
    bounds and words), naming the sweep's flag."""
    for option, text, words in (("momentum", "1", r"^--momentum must be a number of at least 0 "
                                 r"and below 1 \(0\.9 is usual\), got 1\.0$"),
                                ("momentum", "-0.5", "^--momentum must be"),
                                ("weight_decay", "2", r"^--weight-decay must be a number from 0 "
                                 r"to 1 \(1e-4 is usual\), got 2\.0$")):
        with pytest.raises(NudgeError, match=words):
            parse_list(option, text)
    assert parse_list("momentum", "0,0.99") == [0.0, 0.99]
    assert parse_list("weight_decay", "0,1e-4,1") == [0.0, 1e-4, 1.0]


def test_momentum_is_swept_for_the_momentum_optimizer_only(digits):
    with pytest.raises(NudgeError, match="--momentum is for --optimizer momentum"):
        expand({"momentum": "0.5,0.9", "epochs": "1"}, datasets=lambda name: digits)
    grid = expand({"optimizer": "sgd,momentum", "momentum": "0.5,0.9", "epochs": "1"},
                  datasets=lambda name: digits)
    runs = sorted((p.settings["optimizer"], p.settings["momentum"]) for p in grid.points)
    assert runs == [("momentum", 0.5), ("momentum", 0.9), ("sgd", 0.9)]   # sgd runs once
    with pytest.raises(NudgeError, match="--seeds ''"):
        parse_seeds("")


def test_min_learning_rate_is_swept_for_the_decaying_schedules_only(digits):
    """As --momentum without the momentum optimizer: a floor where every run keeps eta
    fixed (a constant schedule, given or the preset's) is refused, not dropped unsaid."""
    for texts in ({"schedule": "constant", "min_learning_rate": "0.1,0.2"},
                  {"preset": "nielsen", "min_learning_rate": "0.1"}):
        with pytest.raises(NudgeError, match="--min-learning-rate is for the cosine and "
                                             "plateau schedules"):
            expand({**texts, "epochs": "1"}, datasets=lambda name: digits)
    grid = expand({"schedule": "constant,cosine", "min_learning_rate": "0.1,0.2",
                   "epochs": "1"}, datasets=lambda name: digits)
    runs = sorted((p.settings["schedule"], p.settings["min_learning_rate"])
                  for p in grid.points)
    assert runs == [("constant", 0.0), ("cosine", 0.1), ("cosine", 0.2)]  # constant once


@given(lrs=st.lists(st.sampled_from([0.1, 0.3, 1.0, 3.0]), min_size=1, max_size=4),
       batches=st.lists(st.sampled_from([1, 10, 100]), min_size=1, max_size=3),
       seeds=st.lists(st.integers(0, 50), min_size=1, max_size=4))
@settings(max_examples=25, deadline=None)
def test_grid_is_the_product_of_the_distinct_values(digits, lrs, batches, seeds):
    grid = expand({"learning_rate": ",".join(map(str, lrs)),
                   "batch_size": ",".join(map(str, batches)), "epochs": "2"},
                  seeds=",".join(map(str, seeds)), datasets=lambda name: digits)
    assert len(grid.points) == len(set(lrs)) * len(set(batches)) * len(set(seeds))
    assert len({p.key for p in grid.points}) == len(grid.points)
    for p in grid.points:
        assert p.key == point_key(p.settings, p.seed)
        assert p.settings["learning_rate"] in lrs and p.settings["batch_size"] in batches


def test_the_preset_and_options_merge_once(digits):
    """--learning-rate 1 is the 3b1b preset's own: a point written two ways is one point."""
    both = expand({"preset": "3b1b", "epochs": "2"}, seeds="1", datasets=lambda n: digits)
    given_ = expand({"epochs": "2", "learning_rate": "1"}, seeds="1", datasets=lambda n: digits)
    assert both.points[0].settings["learning_rate"] == 1.0
    assert both.points[0].settings["min_learning_rate"] == 0.02
    # resolve's rule: a given learning rate resets the cosine floor, so these two differ
    assert given_.points[0].settings["min_learning_rate"] == 0.0
    assert both.points[0].key != given_.points[0].key


def test_the_grid_is_bounded_before_it_is_built(digits):
    with pytest.raises(NudgeError, match=f"at most {MAX_POINTS:,}"):
        expand({"learning_rate": "1,2,3,4,5,6,7,8,9,10,11"}, seeds=f"0-{MAX_VALUES - 1}",
               datasets=lambda n: digits)
    with pytest.raises(NudgeError, match="at most"):
        parse_list("epochs", ",".join(["1"] * (MAX_VALUES + 1)))
    with pytest.raises(NudgeError, match="starts with 784"):
        expand({"sizes": "784,16,10"}, datasets=lambda n: digits)
    with pytest.raises(NudgeError, match="larger than"):
        expand({"batch_size": "5000"}, datasets=lambda n: digits)
    for option, text, words in (("sizes", "64,100000,10", "at most 4,096"),
                                ("hidden", "4096,4096,4096", "at most 25,000,000"),
                                ("hidden", ",".join(["1"] * 70), "at most 64 layers")):
        with pytest.raises(NudgeError, match=words):       # the bounds of nudge train
            expand({option: text}, datasets=lambda n: digits)


def test_full_and_a_batch_of_every_training_image_are_one_run_refused(tmp_path, capsys,
                                                                       digits):
    """--batch-size 1497,full on the 1,497 training images of digits trained one setting
    twice under two names (two rows, 'tied'); refused before anything runs, naming both
    spellings, as a value given twice is refused (nudge.bounds.check_list). A number
    written twice (1e1,10) is one value, one run, as before."""
    n = len(digits.X_train)
    out = tmp_path / "s.jsonl"
    for extra, images, size in (([], f"{n:,} training images of digits", n),
                                (["--validation", "100"], f"{n - 100:,} training images of "
                                 "digits left after --validation 100", n - 100)):
        code, _, err = run(capsys, *SMALL, "--batch-size", f"10,{size},full", *extra,
                           "--out", str(out))
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
        assert err.endswith(f"--batch-size on the {images}: {size} and 'full' are the same "
                            "run; give one of them\n"), err
        assert not out.exists()
    # the other way round too, and from Python
    with pytest.raises(NudgeError, match=f"'full' and {n} are the same run"):
        expand({"batch_size": f"full,{n}"}, datasets=lambda name: digits)
    # on fewer images the same number is a run of its own
    assert len(expand({"batch_size": f"full,{n - 1}"}, datasets=lambda name: digits,
                      ).points) == 2
    assert parse_list("learning_rate", "1e1,10") == [10.0]


# --------------------------------------------------------------------------- local pool
def test_local_pool_runs_every_point_once_and_resumes(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    argv = [*SMALL, "--learning-rate", "1,3", "--seeds", "1-3", "--out", str(out),
            "--workers", "2"]
    code, text, err = run(capsys, *argv)
    assert code == 0, err
    assert "running 6 on 2 local workers" in err
    records = lines(out)
    assert len(records) == 6 and len({r["key"] for r in records}) == 6
    r = records[0]
    assert r["engine"]["engine"] == "fast" and r["engine"]["threads"] == 1
    assert len(r["epochs"]) == 2 and r["test_accuracy"] == r["epochs"][-1]["test_accuracy"]
    assert r["diverged"] is False and r["seconds"] > 0
    assert "eta" in text and "±" in text and "best: eta=3" in text

    # a crash: three whole lines and half of the fourth are left
    raw = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(raw[:3]) + raw[3][:40])
    code, text, err = run(capsys, *argv)
    assert code == 0, err
    assert "3 already in" in err and "half-written" in err
    again = out.read_bytes()
    assert again.startswith(b"".join(raw[:3]))            # the old lines stay, untouched
    records = lines(out)
    assert sorted(r["key"] for r in records) == sorted(json.loads(x)["key"] for x in raw)

    # the same command once more runs nothing
    code, text, err = run(capsys, *argv)
    assert code == 0 and "6 already in" in err and "running 0" in err
    assert out.read_bytes() == again


def test_the_opening_note_counts_one_run_as_one_run(tmp_path, capsys):
    code, _, err = run(capsys, *SMALL, "--seeds", "1", "--out", str(tmp_path / "one.jsonl"))
    assert code == 0, err
    assert "sweep: 1 run (0 already in" in err and "1 runs" not in err


def test_a_last_line_missing_only_its_newline_is_kept(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    argv = [*SMALL, "--seeds", "1,2", "--out", str(out)]
    assert run(capsys, *argv)[0] == 0
    whole = out.read_bytes()
    out.write_bytes(whole[:-1])
    code, _, err = run(capsys, *argv)
    assert code == 0 and "2 already in" in err
    assert out.read_bytes() == whole


def test_a_damaged_middle_line_is_an_error_not_skipped(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    argv = [*SMALL, "--seeds", "1,2", "--out", str(out)]
    assert run(capsys, *argv)[0] == 0
    first, second = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(first[:30] + b"\n" + second)
    code, _, err = run(capsys, *argv)
    assert code == 1 and "line 1 is not a nudge sweep result" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_another_kind_of_file_is_never_cut(tmp_path, capsys):
    out = tmp_path / "notes.txt"
    out.write_bytes(b"my notes, no newline at the end")
    code, _, err = run(capsys, *SMALL, "--out", str(out))
    assert code == 1 and "notes.txt is not a nudge sweep results file" in err
    assert out.read_bytes() == b"my notes, no newline at the end"
    code, _, err = run(capsys, "--report", str(out))
    assert code == 1 and "notes.txt is not a nudge sweep results file" in err
    assert "remove" not in err and err.count("\n") == 1
    code, _, err = run(capsys, *SMALL, "--out", "/dev/null")
    assert code == 1 and "/dev/null is not a regular file" in err and err.count("\n") == 1


def test_a_line_nested_too_deep_for_json_is_not_a_result(tmp_path, capsys):
    """Brackets nested 100,000 deep overflow the JSON parser's recursion: such a line is no
    result (a one-line error, as for any other), not a RecursionError traceback."""
    out = tmp_path / "s.jsonl"
    out.write_bytes(b"[" * 100_000 + b"\n")
    code, _, err = run(capsys, "--report", str(out))
    assert code == 1 and "is not a nudge sweep results file" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    code, _, err = run(capsys, *SMALL, "--out", str(out))
    assert code == 1 and "is not a nudge sweep results file" in err and err.count("\n") == 1
    out.write_bytes(b"")
    assert run(capsys, *SMALL, "--out", str(out))[0] == 0
    out.write_bytes(out.read_bytes() + b'{"key": ' + b"[" * 100_000 + b"\n" + out.read_bytes())
    before = out.read_bytes()
    code, _, err = run(capsys, "--report", str(out))
    assert code == 1 and "line 2 is not a nudge sweep result" in err and err.count("\n") == 1
    assert out.read_bytes() == before


def test_a_full_disk_is_one_line_and_leaves_whole_lines(tmp_path):
    """A write that fails (here a file-size limit, EFBIG; the disk full is ENOSPC) ends the
    sweep with one line, not an OSError traceback, and leaves no half line behind; the same
    command then resumes, each point once."""
    import resource

    out = tmp_path / "f.jsonl"
    argv = [sys.executable, "-m", "nudge", "sweep", *SMALL, "--seeds", "1-4", "--workers", "2",
            "--out", str(out)]
    assert subprocess.run([*argv[:-4], "--seeds", "1", "--out", str(out)],
                          capture_output=True, timeout=60).returncode == 0
    limit = out.stat().st_size * 5 // 2           # room for one more result, not two

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = subprocess.run(argv, capture_output=True, timeout=60, preexec_fn=small_files)
    err = full.stderr.decode()
    assert full.returncode == 1 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith(f"nudge sweep: error: --out {out}: cannot add a "
                                           "result (the file is larger than this process "
                                           "may write (ulimit -f)")
    assert out.read_bytes().endswith(b"\n") and len(lines(out)) == 2
    done = subprocess.run(argv, capture_output=True, timeout=60)
    assert done.returncode == 0 and b"2 already in" in done.stderr, done.stderr.decode()
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == 4 and len(set(keys)) == 4


def test_one_sweep_at_a_time_per_file(tmp_path):
    out = tmp_path / "s.jsonl"
    with ResultsFile(out):
        with pytest.raises(NudgeError, match="another nudge sweep"):
            ResultsFile(out)
    ResultsFile(out).close()


def test_divergence_is_a_result(tmp_path, capsys):
    out = tmp_path / "d.jsonl"
    code, text, err = run(capsys, *SMALL, "--activation", "relu", "--learning-rate", "0.1,1e6",
                          "--seeds", "1,2", "--out", str(out), "--json")
    assert code == 0, err
    summary = json.loads(text)
    assert summary["ran"] == 4 and summary["diverged"] == 2
    diverged = [r for r in lines(out) if r["diverged"]]
    assert len(diverged) == 2
    for r in diverged:
        assert r["settings"]["learning_rate"] == 1e6 and r["test_accuracy"] is None
        assert r["diverged_in_epoch"] == len(r["epochs"]) + 1
    row = next(row for row in summary["rows"] if row["settings"]["learning_rate"] == 1e6)
    assert row["diverged"] == 2 and row["test_accuracy"]["mean"] is None


def test_the_bands_of_a_sweep_where_some_settings_diverged_say_so(tmp_path, capsys):
    """One setting of two diverged: the bands' title read '(1 best of 2 settings)', as if
    the other had been left out for being worse."""
    from nudge.plots import new_figure
    from nudge.sweep.plots import _bands
    from nudge.sweep.summary import summarise

    out = tmp_path / "d.jsonl"
    code, _, err = run(capsys, *SMALL, "--activation", "relu", "--learning-rate", "0.1,1e6",
                       "--out", str(out))
    assert code == 0, err
    fig, ax = new_figure(1, 1)
    _bands(ax, summarise(read(out)[0]))
    title = ax.get_title().replace("\n", " ")
    assert "(1 setting diverged, not drawn)" in title and "best of" not in title, title


def test_a_sweep_where_every_run_diverged_says_so_in_its_summary_and_figure(tmp_path, capsys):
    """Every run diverged: the figure drew empty axes without a word (its bands titled '0
    best of 4 settings', a colour bar for no colour) and the summary said nothing but the
    table's 'diverged'. Now the summary notes it and the figure writes the same words."""
    from nudge.plots import new_figure
    from nudge.sweep.plots import _bands, _line
    from nudge.sweep.summary import ALL_DIVERGED, summarise

    out, png = tmp_path / "d.jsonl", tmp_path / "d.png"
    code, text, err = run(capsys, *SMALL, "--activation", "relu", "--learning-rate",
                          "1e6,1e7", "--out", str(out), "--plot", str(png))
    assert code == 0 and png.stat().st_size > 1000, err
    assert f"nudge: {ALL_DIVERGED}\n" in err and "diverged" in text
    assert ALL_DIVERGED.startswith("every run diverged")
    code, text, err = run(capsys, "--report", str(out), "--plot", str(png), "--json")
    assert code == 0 and json.loads(text)["notes"] == [ALL_DIVERGED], err
    summary = summarise(read(out)[0])
    fig, (left, right) = new_figure(1, 2)
    _line(left, summary, "learning_rate")
    _bands(right, summary)
    assert [t.get_text() for t in left.texts] == ["diverged", "diverged"]
    assert [t.get_text().replace("\n", " ") for t in right.texts] == [ALL_DIVERGED]
    assert "best of" not in right.get_title() and left.get_ylim() == (0, 100)


def test_the_figure_of_one_run_is_titled_1_run(tmp_path, capsys):
    """The figure's title read '1 runs, on digits, ...'."""
    from nudge.sweep.summary import summarise, title

    assert run(capsys, *SMALL, "--out", str(tmp_path / "one.jsonl"))[0] == 0
    assert title(summarise(lines(tmp_path / "one.jsonl"))).startswith("1 run, on digits")


def test_report_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "s.jsonl", tmp_path / "s.png"
    assert run(capsys, *SMALL, "--learning-rate", "1,3", "--batch-size", "10,50",
               "--seeds", "1,2", "--out", str(out))[0] == 0
    code, text, err = run(capsys, "--report", str(out), "--plot", str(png))
    assert code == 0, err
    assert text.splitlines()[0].split()[:4] == ["B", "eta", "seeds", "test"]
    assert len(text.splitlines()) == 2 + 4 + 2 + 1 and f"plot  {png}" in text
    from PIL import Image

    assert Image.open(png).size[0] > 600
    code, text, _ = run(capsys, "--report", str(out), "--json")
    summary = json.loads(text)
    assert summary["runs"] == 8 and summary["swept"] == ["batch_size", "learning_rate"]
    row = summary["rows"][0]
    assert row["runs"] == 2 and row["seeds"] == [1, 2]
    assert row["test_accuracy"]["sd"] is not None and len(row["per_epoch"]["epoch"]) == 2
    assert summary["best"]["test_accuracy"]["mean"] == max(
        r["test_accuracy"]["mean"] for r in summary["rows"])
    # a half-written last line: the report leaves it out and says so, the file is untouched
    out.write_bytes(out.read_bytes() + b'{"key": "abc", "sett')
    records, notes = read(out)
    assert len(records) == 8 and "half written" in notes[0]


def test_the_summary_does_not_depend_on_the_order_the_runs_finished_in():
    """A results file lists its runs as they finished (on Dask, in any order) and a grid
    lists its seeds as typed: the same runs in another order are the same summary, to the
    last bit (the mean of 0.1, 0.2, 0.3 was 0.20000000000000004 one way, 0.19999999999999998
    the other)."""
    import itertools

    from nudge.sweep import summarise

    def result(eta: float, seed: int, accuracy: float) -> dict:
        return {"key": f"{eta}/{seed}", "settings": {"learning_rate": eta}, "seed": seed,
                "test_accuracy": accuracy, "test_cost": accuracy / 7, "diverged": False,
                "seconds": 0.1 * seed, "epochs": [{"epoch": 1, "test_accuracy": accuracy}]}

    runs = [result(eta, seed, accuracy) for eta in (1.0, 3.0)
            for seed, accuracy in zip((1, 2, 3), (0.1, 0.2, 0.3))]
    first = json.dumps(summarise(runs))
    for order in itertools.islice(itertools.permutations(runs), 0, 720, 37):
        assert json.dumps(summarise(list(order))) == first


def test_held_out_images_rank_the_settings_and_keep_old_keys(tmp_path, capsys, digits):
    out, png = tmp_path / "s.jsonl", tmp_path / "s.png"
    code, text, err = run(capsys, *SMALL, "--learning-rate", "1,3", "--seeds", "1,2",
                          "--validation", "297", "--out", str(out), "--plot", str(png))
    assert code == 0, err
    records = lines(out)
    assert all(r["settings"]["validation"] == 297 for r in records)
    for r in records:                      # the run held out the last 297 images, no more
        assert r["validation_accuracy"] == r["epochs"][-1]["validation_accuracy"]
        assert round(r["validation_accuracy"] * 297) == pytest.approx(
            r["validation_accuracy"] * 297)
    assert "validation accuracy" in text.splitlines()[0]
    assert "best by validation accuracy: eta=" in text
    summary = json.loads(run(capsys, "--report", str(out), "--json")[1])
    assert summary["score"] == "validation_accuracy"
    assert summary["best"]["validation_accuracy"]["mean"] == max(
        r["validation_accuracy"]["mean"] for r in summary["rows"])
    assert summary["rows"][0]["per_epoch"]["accuracy_mean"][-1] == pytest.approx(
        summary["rows"][0]["validation_accuracy"]["mean"])
    # the same command again runs nothing; another number held out is another point
    code, _, err = run(capsys, *SMALL, "--learning-rate", "1,3", "--seeds", "1,2",
                       "--validation", "297", "--out", str(out))
    assert code == 0 and "running 0" in err
    plain = expand({"learning_rate": "1"}, datasets=lambda n: digits).points[0]
    held = expand({"learning_rate": "1"}, datasets=lambda n: digits, validation=10).points[0]
    assert held.key != plain.key
    old = {k: v for k, v in plain.settings.items() if k != "validation"}   # an older file
    assert point_key(old, plain.seed) == plain.key
    with pytest.raises(NudgeError, match="hold out between 1 and 1,496"):
        expand({"learning_rate": "1"}, datasets=lambda n: digits, validation=1497)
    with pytest.raises(NudgeError, match="larger than the 1,197 training images of digits "
                                         "left after --validation 300"):
        expand({"batch_size": "1200"}, datasets=lambda n: digits, validation=300)


def test_patience_in_a_sweep_keeps_each_runs_best_epoch(tmp_path, capsys, digits):
    out = tmp_path / "s.jsonl"
    code, text, err = run(capsys, "--dataset", "digits", "--epochs", "200", "--quiet",
                          "--learning-rate", "3", "--schedule", "constant", "--seeds", "1,2",
                          "--validation", "297", "--patience", "3", "--out", str(out))
    assert code == 0, err
    for r in lines(out):
        best = r["best_epoch"]
        assert r["settings"]["patience"] == 3 and len(r["epochs"]) == best + 3 < 200
        kept = r["epochs"][best - 1]
        assert r["test_accuracy"] == kept["test_accuracy"]
        assert r["validation_accuracy"] == max(e["validation_accuracy"] for e in r["epochs"])
    plain = expand({"learning_rate": "1"}, datasets=lambda n: digits, validation=10).points[0]
    patient = expand({"learning_rate": "1"}, datasets=lambda n: digits, validation=10,
                     patience=5).points[0]
    assert patient.key != plain.key
    with pytest.raises(NudgeError, match="needs held-out examples"):
        expand({"learning_rate": "1"}, datasets=lambda n: digits, patience=5)
    with pytest.raises(NudgeError, match="plateau schedule halves the learning rate"):
        expand({"schedule": "constant,plateau"}, datasets=lambda n: digits, validation=10)
    plateau = expand({"schedule": "plateau", "learning_rate": "3"},
                     datasets=lambda n: digits, validation=10, patience=5).points[0]
    assert plateau.settings["min_learning_rate"] == 0.0       # the trainer's η/64


@pytest.mark.parametrize("path,value,message", [
    (("validation_accuracy",), "abc", 'validation_accuracy "abc" is not a number from 0 to 1'),
    (("validation_accuracy",), {"a": 1}, "validation_accuracy"),
    (("validation_accuracy",), 10**400, "validation_accuracy"),
    (("validation_accuracy",), -5, "validation_accuracy -5 is not"),
    (("validation_accuracy",), True, "validation_accuracy true is not"),
    (("test_accuracy",), "0.99", "test_accuracy"),
    (("test_accuracy",), 1e308, "test_accuracy"),
    (("seconds",), None, "seconds null is not"),
    (("epochs",), 5, "epochs 5 is not a list"),
    (("epochs",), [1, 2], "epochs[0] 1 is not a JSON object"),
    (("epochs", 0, "validation_accuracy"), "abc", "epochs[0].validation_accuracy"),
    (("settings", "validation"), "300", 'settings.validation "300" is not'),
    (("settings", "validation"), -1, "settings.validation -1 is not"),
    (("settings", "learning_rate"), "abc", "settings.learning_rate"),
    (("data_sha256",), "abc", 'data_sha256 "abc" is not a SHA-256'),
])
def test_a_damaged_value_in_a_results_file_is_a_one_line_error(path, value, message, tmp_path,
                                                                 capsys):
    out = tmp_path / "s.jsonl"
    assert run(capsys, *SMALL, "--learning-rate", "1,3", "--validation", "297",
               "--out", str(out))[0] == 0
    records = lines(out)
    target = records[1]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    before = out.read_bytes()
    for argv in (["--report", str(out)],
                 [*SMALL, "--learning-rate", "1,3", "--validation", "297", "--out", str(out)]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and f"{out} line 2: {message}" in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert out.read_bytes() == before


def test_a_results_file_that_is_no_file_or_too_large_is_refused_unread(tmp_path, capsys,
                                                                       monkeypatch):
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)                                     # reading it would wait for ever
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"x" * 2000)
    monkeypatch.setattr("nudge.sweep.results.MAX_RESULTS_BYTES", 1000)
    for argv, words in ((["--report", str(fifo)], "is a FIFO"),
                        (["--report", "/dev/zero"], "is a character device"),
                        (["--report", str(big)], "2,000 bytes is more than the 1,000"),
                        ([*SMALL, "--out", str(big)], "2,000 bytes is more than the 1,000")):
        code, _, err = run(capsys, *argv)
        assert code == 1 and words in err and err.count("\n") == 1, err
    assert big.read_bytes() == b"x" * 2000


def test_runs_without_held_out_images_are_not_ranked_by_test_accuracy(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert run(capsys, *SMALL, "--learning-rate", "1,3", "--validation", "297",
               "--out", str(out))[0] == 0
    assert run(capsys, *SMALL, "--learning-rate", "10", "--out", str(out))[0] == 0
    code, text, err = run(capsys, "--report", str(out))
    assert code == 0 and "1 of 3 finished runs held no images out" in err
    assert "best by validation accuracy" in text
    row = next(line for line in text.splitlines() if line.lstrip().startswith("10 "))
    assert " - " in row                       # no validation accuracy for that setting
    summary = json.loads(run(capsys, "--report", str(out), "--json")[1])
    assert summary["score"] == "validation_accuracy" and summary["best"]["settings"][
        "learning_rate"] != 10


def test_plot_with_one_swept_option_and_with_none(tmp_path, capsys):
    for extra, name in ((["--hidden", "4/8/16"], "one.png"), ([], "none.png")):
        code, _, err = run(capsys, *SMALL, *extra, "--seeds", "1,2",
                           "--out", str(tmp_path / f"{name}.jsonl"),
                           "--plot", str(tmp_path / name))
        assert code == 0, err
        assert (tmp_path / name).stat().st_size > 1000


def test_three_swept_options_train_cost_and_chosen_axes(tmp_path, capsys):
    out, png = tmp_path / "s.jsonl", tmp_path / "s.png"
    code, text, err = run(capsys, *SMALL, "--learning-rate", "1,3", "--batch-size", "10,50",
                          "--hidden", "8/16", "--train-cost", "--out", str(out),
                          "--plot", str(png), "--axes", "batch-size,learning-rate", "--json")
    assert code == 0, err
    summary = json.loads(text)
    assert summary["swept"] == ["sizes", "batch_size", "learning_rate"]
    assert summary["settings_count"] == 8 and png.stat().st_size > 1000
    assert all(e["train_cost"] is not None for r in lines(out) for e in r["epochs"])


def test_axes_take_the_names_the_options_take(tmp_path, capsys):
    """--eta is --learning-rate, but --axes eta was 'not swept here'. --axes takes an
    option's other names (nudge.settings.ALIASES, the one table the flags come from too)
    and its error lists them."""
    out, png = tmp_path / "s.jsonl", tmp_path / "s.png"
    code, _, err = run(capsys, *SMALL, "--eta", "1,3", "--batch-size", "10,50", "--out",
                       str(out), "--plot", str(png), "--axes", "batch-size,eta")
    assert code == 0 and png.stat().st_size > 1000, err
    code, _, err = run(capsys, "--report", str(out), "--plot", str(png), "--axes",
                       "eta,batch-size", "--json")
    assert code == 0, err
    for argv in ([*SMALL, "--eta", "1,3", "--hidden", "4/8", "--out", str(out)],
                 ["--report", str(out)]):
        code, _, err = run(capsys, *argv, "--plot", str(png), "--axes", "eta,epochs")
        assert code == 1 and err.count("\n") == 1, err
    assert err.endswith("--axes: 'epochs' is not swept here; choose from batch-size, "
                        "learning-rate (or eta)\n"), err
    code, _, err = run(capsys, *SMALL, "--eta", "1,3", "--hidden", "4/8", "--plot", str(png),
                       "--axes", "learning-rate,epochs", "--out", str(tmp_path / "t.jsonl"))
    assert err.endswith("choose from sizes (or hidden), learning-rate (or eta)\n"), err
    code, _, err = run(capsys, "--report", str(out), "--plot", str(png), "--axes",
                       "eta,learning-rate")
    assert code == 1 and "name two different swept options" in err, err


def test_settings_show_only_what_applies_as_nudge_train_does(tmp_path, capsys):
    """No momentum coefficient for an optimizer without one, no floor for the constant
    schedule, the plateau's floor as the trainer applies it; the results file keeps what
    resolve chose (its keys hash it: files written before this resume)."""
    out = tmp_path / "s.jsonl"
    code, text, err = run(capsys, *SMALL, "--train-limit", "200", "--test-limit", "50",
                          "--optimizer", "sgd,momentum,adam", "--momentum", "0.5,0.8",
                          "--schedule", "constant", "--out", str(out), "--json")
    assert code == 0, err
    rows = {(r["settings"]["optimizer"], r["settings"]["momentum"]): r
            for r in json.loads(text)["rows"]}
    assert set(rows) == {("sgd", None), ("adam", None), ("momentum", 0.5), ("momentum", 0.8)}
    assert all(r["settings"]["min_learning_rate"] is None for r in rows.values())
    assert rows["sgd", None]["swept"]["momentum"] is None
    assert {r["settings"]["momentum"] for r in lines(out)} == {0.5, 0.8, 0.9}  # keys kept
    code, text, err = run(capsys, *SMALL, "--train-limit", "200", "--test-limit", "50",
                          "--optimizer", "sgd,momentum,adam", "--momentum", "0.5,0.8",
                          "--schedule", "constant", "--out", str(out))
    assert code == 0 and "4 runs (4 already in" in err
    row = next(line for line in text.splitlines() if line.lstrip().startswith("sgd"))
    assert " - " in row

    trained = main(["train", "--dataset", "digits", "--epochs", "1", "--schedule", "plateau",
                    "--validation", "297", "--patience", "2", "--learning-rate", "2",
                    "--out", str(tmp_path / "m.safetensors"), "--json"])
    assert trained == 0
    shown = json.loads(capsys.readouterr()[0])["settings"]
    assert shown["momentum"] is None and shown["min_learning_rate"] == 2 / 64
    from nudge.settings import applicable  # the one rule, for both

    assert applicable({"optimizer": "sgd", "momentum": 0.9, "schedule": "plateau",
                       "learning_rate": 2.0, "min_learning_rate": 0.0}) == {
        "optimizer": "sgd", "momentum": None, "schedule": "plateau", "learning_rate": 2.0,
        "min_learning_rate": shown["min_learning_rate"]}


def _result(settings: dict, seed: int, accuracy: float, seconds: float = 0.5) -> dict:
    return {"key": f"{json.dumps(settings)}/{seed}", "settings": settings, "seed": seed,
            "test_accuracy": accuracy, "test_cost": 0.1, "diverged": False,
            "seconds": seconds, "epochs": [{"epoch": 1, "test_accuracy": accuracy}]}


def test_settings_tied_for_best_are_named(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    results = [_result({"learning_rate": eta}, seed, accuracy)
               for eta, accuracies in ((0.3, (0.5, 0.6)), (1.0, (0.8, 0.9)), (3.0, (0.9, 0.8)),
                                       (10.0, (0.85, 0.85)))
               for seed, accuracy in zip((1, 2), accuracies)]
    out.write_text("".join(json.dumps(r) + "\n" for r in results))
    summary = json.loads(run(capsys, "--report", str(out), "--json")[1])
    assert summary["best"]["swept"] == {"learning_rate": 1.0}
    assert summary["tied"] == [{"learning_rate": 3.0}, {"learning_rate": 10.0}]
    text = run(capsys, "--report", str(out))[1]
    assert "best: eta=1: 85.00 ± 7.07% over 2 seeds" in text
    assert "tied with it: eta=3, eta=10 (the same mean test accuracy" in text
    out.write_text("".join(json.dumps(r) + "\n" for r in results[:4]))
    summary = json.loads(run(capsys, "--report", str(out), "--json")[1])
    assert summary["tied"] == [] and "tied" not in run(capsys, "--report", str(out))[1]


def test_of_settings_tied_for_best_the_first_in_the_table_is_named(tmp_path, capsys):
    """0.3, 0.2, 0.1 sum to one bit less than 0.1, 0.2, 0.3: a tie, yet the later row, its
    mean a bit higher, was named best and the first one 'tied with it'."""
    out = tmp_path / "s.jsonl"
    out.write_text("".join(json.dumps(_result({"learning_rate": eta}, seed, accuracy)) + "\n"
                           for eta, accuracies in ((0.3, (0.3, 0.2, 0.1)), (1.0, (0.1, 0.2, 0.3)))
                           for seed, accuracy in zip((1, 2, 3), accuracies)))
    summary = json.loads(run(capsys, "--report", str(out), "--json")[1])
    assert [row["swept"] for row in summary["rows"]] == [{"learning_rate": 0.3},
                                                         {"learning_rate": 1.0}]
    assert summary["best"]["swept"] == {"learning_rate": 0.3}
    assert summary["tied"] == [{"learning_rate": 1.0}]


def test_the_time_per_run_reads_sensibly_when_tiny(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    out.write_text("".join(json.dumps(_result({"learning_rate": eta}, 1, 0.5, seconds)) + "\n"
                           for eta, seconds in ((1.0, 0.00042), (3.0, 12.5))))
    table = run(capsys, "--report", str(out))[1].splitlines()
    assert table[0].endswith("time/run")                 # it printed 0.00 (s/run)
    assert table[2].endswith(" 0.00042 s") and table[3].endswith(" 12 s")


def test_a_resume_never_mixes_runs_with_and_without_the_training_cost(tmp_path, capsys):
    """--train-cost changes what a run records, not the run, so it is no part of a key; a
    sweep that would leave the grid's runs recorded both ways is refused in one line."""
    out = tmp_path / "s.jsonl"
    argv = [*SMALL, "--train-limit", "200", "--test-limit", "50", "--out", str(out)]
    assert run(capsys, *argv, "--learning-rate", "1,3")[0] == 0
    before = out.read_bytes()
    code, _, err = run(capsys, *argv, "--learning-rate", "1,3,10", "--train-cost")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "--train-cost" in err and "2 runs of this grid recorded without" in err
    assert out.read_bytes() == before                   # nothing run, nothing written

    fresh = tmp_path / "t.jsonl"
    argv[-1] = str(fresh)
    assert run(capsys, *argv, "--learning-rate", "1,3", "--train-cost")[0] == 0
    code, _, err = run(capsys, *argv, "--learning-rate", "1,3,10")
    assert code == 1 and "record the training cost; add --train-cost" in err
    code, _, err = run(capsys, *argv, "--learning-rate", "1,3")     # nothing to add
    assert code == 0 and "running 0" in err
    code, _, err = run(capsys, *argv, "--learning-rate", "1,3,10", "--train-cost")
    assert code == 0, err
    assert all("train_cost" in e for r in lines(fresh) for e in r["epochs"])
    assert len(lines(fresh)) == 3


def test_a_resume_with_other_data_of_the_same_name_is_refused(tmp_path, capsys, digits):
    """A key names the dataset, its limits and the images held out, not the images: each
    line records data_sha256, and a resume with other data under the same name (a changed
    copy) is refused in one line; lines written before it existed resume unchecked."""
    out = tmp_path / "s.jsonl"
    argv = [*SMALL, "--train-limit", "200", "--test-limit", "50", "--out", str(out)]
    assert run(capsys, *argv, "--learning-rate", "1,3")[0] == 0
    sha = data_sha256(digits.subset(200, 50))            # what the runs trained on
    assert [r["data_sha256"] for r in lines(out)] == [sha, sha]
    before = out.read_bytes()

    changed = digits.subset(200, 50)
    changed.X_train = changed.X_train.copy()
    changed.X_train[7, 30] ^= 1                           # one pixel of one image
    for rates in ("1,3", "1,3,10"):                       # finished, or more to run
        grid = expand({"learning_rate": rates, "epochs": "2"}, datasets=lambda n: changed,
                      train_limit=200, test_limit=50)
        assert {p.key for p in grid.points} >= {r["key"] for r in lines(out)}
        with pytest.raises(NudgeError, match=f"^{out}: 2 runs of this grid were trained on "
                           "other digits data than this sweep's .*same data, or choose another "
                           "--out$"):
            run_sweep(grid, out, workers=1)
        assert out.read_bytes() == before                 # nothing run, nothing written

    # an older file's lines have no data_sha256: they resume, with a note, and the new
    # line records it
    out.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "data_sha256"})
                           + "\n" for r in lines(out)))
    code, _, err = run(capsys, *argv, "--learning-rate", "1,3,10")
    assert code == 0, err
    assert "2 runs of this grid written by an older nudge record no data_sha256" in err
    assert [r.get("data_sha256") for r in lines(out)] == [None, None, sha]
    code, _, err = run(capsys, *argv, "--learning-rate", "10")     # the same data
    assert code == 0 and "running 0" in err and "older nudge" not in err


def test_a_grid_made_from_the_data_by_name_fingerprints_it_as_limited(digits):
    """expand() without ``datasets`` fingerprinted (and checked batch sizes against) the
    whole dataset, not the --train-limit and --test-limit part its runs train on: a
    results file of the command line (which limits first) was refused on resume."""
    grid = expand({"dataset": "digits", "epochs": "1"}, train_limit=300, test_limit=100)
    assert grid.data == {"digits": data_sha256(digits.subset(300, 100))}
    same = expand({"dataset": "digits", "epochs": "1"}, train_limit=300, test_limit=100,
                  datasets=lambda n: digits)              # given whole: limited the same
    assert same.data == grid.data
    with pytest.raises(NudgeError, match="--batch-size.* 200 training images of digits"):
        expand({"dataset": "digits", "batch_size": "500"}, train_limit=200)


def test_a_sweep_from_python_trains_on_the_datasets_given_on_the_local_pool(tmp_path, digits):
    """run_sweep(datasets=...) without a Dask client trained on the data each worker loaded
    by name, not on the arrays given, and recorded the grid's data_sha256: the local pool
    now trains on the arrays given (sent once to each worker), and each line records the
    fingerprint of what it trained on, with a note where the grid was made from other data."""
    import dataclasses

    import numpy as np

    from nudge import train
    from nudge.settings import TrainingSetup

    changed = dataclasses.replace(digits, y_train=np.roll(digits.y_train, 1))  # wrong labels
    grid = expand({"dataset": "digits", "preset": "nielsen", "epochs": "5"}, seeds="1-2",
                  train_limit=300, test_limit=100)        # made from the digits by name
    given, by_name = tmp_path / "given.jsonl", tmp_path / "by-name.jsonl"
    run = run_sweep(grid, given, workers=2, datasets={"digits": changed})
    run_sweep(grid, by_name, workers=1)
    assert any("datasets['digits'] is not the digits data the grid was made from" in n
               for n in run.notes)
    data = changed.subset(300, 100)
    for record, other in zip(lines(given), lines(by_name)):
        setup = TrainingSetup(**{k: v for k, v in record["settings"].items()
                                 if k in TrainingSetup.__dataclass_fields__})
        history = train(setup.network(record["seed"]), data.X_train, data.y_train,
                        **setup.train_options(), test_data=data.test_data, seed=record["seed"],
                        engine="auto", threads=1)
        assert record["test_accuracy"] == history.kept.test_accuracy
        assert record["test_cost"] == pytest.approx(history.kept.test_cost, rel=1e-9)
        assert record["data_sha256"] == data_sha256(data) != other["data_sha256"]
        assert other["data_sha256"] == grid.data["digits"]
        assert abs(record["test_accuracy"] - other["test_accuracy"]) > 0.2
    with pytest.raises(NudgeError, match="2 runs of this grid were trained on other digits"):
        run_sweep(grid, given, workers=1)                 # a resume checks the data used


def test_json_keeps_the_files_notes_beside_the_summarys(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    results = [_result({"learning_rate": 1.0, "validation": 10}, 1, 0.5),
               _result({"learning_rate": 3.0}, 1, 0.6)]
    results[0]["validation_accuracy"] = 0.4
    out.write_text("".join(json.dumps(r) + "\n" for r in results) + '{"key": "abc", "se')
    notes = json.loads(run(capsys, "--report", str(out), "--json")[1])["notes"]
    assert len(notes) == 2
    assert "half written" in notes[0] and "held no images out" in notes[1]


@pytest.mark.parametrize("argv, message", [
    (["--learning-rate", "0,1"], "above 0"),
    (["--seeds", "9-1"], "runs backwards"),
    (["--sizes", "784,16,10"], "starts with 784"),
    (["--sizes", "64,10", "--hidden", "16"], "use one of them"),
    (["--batch-size", "10,x"], "not a whole number"),
    (["--preset", "3b1b,nope"], "unknown value"),
    (["--learning-rate", ",".join(str(i + 1) for i in range(11)), "--seeds", "0-9999"],
     "at most 100,000"),
    (["--plot", "x.jpg"], "PNG"),
    (["--axes", "learning-rate,epochs", "--learning-rate", "1,3", "--plot", "x.png"],
     "not swept"),
    (["--axes", "learning-rate,epochs", "--learning-rate", "1,3"],
     "--axes chooses the heat map's two options: add --plot FILE.png"),
    (["--report", "x.jsonl", "--axes", "a,b"], "add --plot FILE.png, or leave --axes out"),
    (["--timeout", "5"], "--timeout is for a Dask cluster: add --scheduler ADDRESS"),
    (["--tls-cert", "c.pem", "--tls-key", "k.pem"],
     "--tls-cert, --tls-key are for a Dask cluster: add --scheduler ADDRESS, or leave them"),
    (["--report", "missing.jsonl"], "no such results file"),
    (["--report", "x.jsonl", "--seeds", "1"], "leave out --seeds"),
    (["--report", "x.jsonl", "--train-cost"], "leave out --train-cost"),
    (["--report", "x.jsonl", "--data-dir", "."], "leave out --data-dir"),
    (["--report", "x.jsonl", "--out", "y.jsonl"], "leave out --out"),
    (["--report", "x.jsonl", "--timeout", "5"], "leave out --timeout"),
    (["--scheduler", "tcp://127.0.0.1:9", "--timeout", "1"], "cannot reach a Dask scheduler"),
    (["--scheduler", "garbage"], "missing port number"),
    (["--scheduler", "http://127.0.0.1:8786"], "unknown address scheme 'http'"),
    (["--scheduler", "tcp://127.0.0.1:9", "--tls-cert", "c.pem"], "all three"),
    (["--out", "/nonexistent/folder/s.jsonl"], "does not exist"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, monkeypatch, argv, message):
    pytest.importorskip("distributed") if "--scheduler" in argv else None
    monkeypatch.chdir(tmp_path)
    grid = [] if "--report" in argv else ["--dataset", "digits", "--epochs", "1"]
    code, out, err = run(capsys, *grid, *argv)
    assert code == 1, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_local_workers_are_bounded(tmp_path, capsys, digits):
    """--workers 100000 started a process per grid point (up to 100,000 of them)."""
    from nudge.sweep import run_sweep
    from nudge.sweep.runner import MAX_WORKERS

    out = tmp_path / "w.jsonl"
    with pytest.raises(SystemExit) as bounded:
        run(capsys, *SMALL, "--out", str(out), "--workers", str(MAX_WORKERS + 1))
    err = capsys.readouterr().err
    assert bounded.value.code == 2 and f"--workers: '{MAX_WORKERS + 1}' must be at most " \
        f"{MAX_WORKERS}" in err and err.count("\n") == 1
    grid = expand({"epochs": "1"}, datasets=lambda n: digits)
    for workers in (0, 10**6):
        with pytest.raises(NudgeError, match="workers must be"):
            run_sweep(grid, out, workers=workers)
    assert out.read_bytes() == b""


# --------------------------------------------------------------------------- Dask
def test_another_kind_of_server_is_named_so_not_by_what_dask_made_of_its_bytes(tmp_path,
                                                                                capsys):
    """A server that greets first (SSH, SMTP) had its greeting read as Dask's frame lengths:
    'cannot reach a Dask scheduler there (Unable to allocate 2.82 EiB for an array ...)'."""
    pytest.importorskip("distributed")
    import threading

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)

        def greet() -> None:
            with contextlib.suppress(OSError):
                while True:
                    connection, _ = server.accept()
                    with connection:
                        connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
                        connection.recv(100)

        threading.Thread(target=greet, daemon=True).start()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        code, _, err = run(capsys, "--dataset", "digits", "--epochs", "1", "--out",
                           str(tmp_path / "s.jsonl"), "--scheduler", address, "--timeout", "5")
    assert code == 1 and err.count("\n") == 1
    assert "something answers there, but not a Dask scheduler" in err and "allocate" not in err


def test_a_port_that_accepts_and_never_answers_is_a_one_line_error(tmp_path, capsys):
    pytest.importorskip("distributed")
    with socket.socket() as silent:              # connections are accepted, never answered
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        code, _, err = run(capsys, "--dataset", "digits", "--epochs", "1", "--out",
                           str(tmp_path / "s.jsonl"), "--scheduler", address, "--timeout", "1")
    assert code == 1 and "no answer within 1 s" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as bounded:
        run(capsys, "--scheduler", address, "--timeout", "1e300")
    err = capsys.readouterr().err
    assert bounded.value.code == 2 and "give at most 3,600 seconds" in err
    assert err.count("\n") == 1


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def dask_cluster(tmp_path, request):
    """`dask scheduler` and two `dask worker` processes (one thread each, no nanny, so a
    killed worker stays dead) on 127.0.0.1; stopped however the test ends.  Parametrized
    indirectly, ``(workers, nanny)`` chooses another cluster (a nanny restarts its killed
    worker).  Yields the address, the worker processes and the scheduler process."""
    distributed = pytest.importorskip("distributed")
    count, nanny = getattr(request, "param", (2, False))
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    logs = [open(tmp_path / f"dask-{i}.log", "wb") for i in range(count + 1)]
    where = tmp_path / "scheduler.json"
    processes = []
    try:
        # a port the scheduler takes itself (one found free beforehand may be taken by the
        # time it binds: an outgoing connection's port, say), told in the scheduler file
        processes.append(subprocess.Popen(
            [*dask, "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(where),
             "--no-dashboard"], stdout=logs[0], stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60           # the scheduler's start, on a slow machine
        address = None
        while address is None:
            assert processes[0].poll() is None, (tmp_path / "dask-0.log").read_text()
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
            try:
                address = json.loads(where.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        for i in range(1, count + 1):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                 "1", "--nanny" if nanny else "--no-nanny", "--no-dashboard", "--host",
                 "127.0.0.1"], stdout=logs[i], stderr=subprocess.STDOUT))
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(count, timeout=60)
        yield address, processes[1:], processes[0]
    finally:
        for p in reversed(processes):
            _stop(p)
        for f in logs:
            f.close()


def test_a_scheduler_lost_before_the_data_is_sent_is_one_line(dask_cluster, digits):
    """The scheduler gone while the data is scattered (seconds for MNIST) gave Dask's
    CommClosedError and a traceback; it is the sweep's one line.  Killed before the data is
    sent, so no timing is involved."""
    from nudge.sweep.grid import expand
    from nudge.sweep.runner import LOST_SCHEDULER, connect, run_points

    address, _, scheduler = dask_cluster
    grid = expand({"epochs": "1"}, seeds="1", datasets=lambda name: digits)
    points = [{"key": p.key, "settings": p.settings, "seed": p.seed, "train_cost": False}
              for p in grid.points]
    # the client tries to reach its lost scheduler again for `timeout` seconds before the
    # sweep learns it is gone: 3 s here (10 s took 10 s), ample to connect on 127.0.0.1
    client = connect(address, timeout=3)
    try:
        os.kill(scheduler.pid, signal.SIGKILL)
        scheduler.wait(30)
        started = time.monotonic()
        with pytest.raises(NudgeError) as caught:
            run_points(points, lambda r: None, client=client, datasets={"digits": digits})
        assert str(caught.value) == LOST_SCHEDULER
        assert time.monotonic() - started < 60
    finally:
        client.close(timeout=5)


def test_dask_cluster_with_a_worker_killed_mid_sweep(tmp_path, dask_cluster):
    address, workers, _ = dask_cluster
    out = tmp_path / "cluster.jsonl"
    argv = [sys.executable, "-m", "nudge", "sweep", "--dataset", "digits", "--epochs", "150",
            "--learning-rate", "1,3", "--seeds", "1-6", "--out", str(out), "--scheduler",
            address, "--json"]
    sweep = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        first = None
        while first is None and time.monotonic() < deadline and sweep.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n"):
                first = json.loads(out.read_bytes().split(b"\n")[0])
            time.sleep(0.02)
        assert first is not None, "no result appeared"
        # kill the worker that wrote the first result: it has started its next run
        pid = int(first["worker"].rsplit("/", 1)[1])
        victim = next((w for w in workers if w.pid == pid), workers[0])
        os.kill(victim.pid, signal.SIGKILL)
        stdout, stderr = sweep.communicate(timeout=120)
    finally:
        _stop(sweep)
    assert sweep.returncode == 0, stderr.decode()
    summary = json.loads(stdout)
    assert summary["engine"] == "dask" and summary["points"] == 12
    records = lines(out)
    keys = [r["key"] for r in records]
    assert len(keys) == 12 and len(set(keys)) == 12           # every point, exactly once
    assert {r["worker"] for r in records} - {first["worker"]}, "the other worker ran nothing"
    assert sum(r["worker"] == first["worker"] for r in records) < 12


def _sweep_with_a_first_result(out: Path, *where: str) -> tuple[list[str], subprocess.Popen]:
    """A sweep of 8 slow runs on 2 local workers (or ``where``: --scheduler ADDRESS), as its
    own process, once its first result is in ``out`` (or 60 s have passed): its command
    line and the process."""
    argv = [sys.executable, "-m", "nudge", "sweep", "--dataset", "digits", "--epochs", "150",
            "--seeds", "1-8", "--out", str(out), *(where or ("--workers", "2")), "--quiet"]
    sweep = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sweep.poll() is None and not (
            out.exists() and out.read_bytes().count(b"\n")):
        time.sleep(0.02)
    return argv, sweep


def test_ctrl_c_stops_at_once_and_the_same_command_resumes(tmp_path):
    """SIGINT to the sweep alone (as a closed terminal or `kill -INT` sends it): the runs
    under way are dropped, the finished ones stay; the rerun does the rest, each once."""
    out = tmp_path / "c.jsonl"
    argv, sweep = _sweep_with_a_first_result(out)
    try:
        sweep.send_signal(signal.SIGINT)
        stopped = time.monotonic()
        _, stderr = sweep.communicate(timeout=60)
    finally:
        _stop(sweep)
    assert time.monotonic() - stopped < 5
    assert sweep.returncode == 130, stderr.decode()
    assert b"run the same command again" in stderr and b"Traceback" not in stderr
    before = len(lines(out))
    assert 1 <= before < 8
    done = subprocess.run(argv, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert f"{before} already in".encode() in done.stderr
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == 8 and len(set(keys)) == 8


def test_a_ctrl_c_while_processes_start_is_raised_once_they_have():
    """ctrl_c_held: a Ctrl-C inside is raised as it ends, and a process started inside
    begins with SIGINT blocked (so its start-up cannot end in a traceback)."""
    from nudge.control import ctrl_c_held

    reached = False
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_held():
            os.kill(os.getpid(), signal.SIGINT)
            child = subprocess.run([sys.executable, "-c", "import signal; print(signal.SIGINT "
                                    "in signal.pthread_sigmask(signal.SIG_BLOCK, []))"],
                                   capture_output=True, text=True, timeout=60)
            reached = True
    assert reached and child.stdout.strip() == "True"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_sweep_workers_start_with_ctrl_c_held(tmp_path):
    """A Ctrl-C to the terminal's process group while the pool started (the forkserver
    importing nudge, a worker unpickling its queues) printed their tracebacks after the
    sweep's one line; the processes now start with SIGINT blocked."""
    out = tmp_path / "w.jsonl"
    _, sweep = _sweep_with_a_first_result(out)
    try:
        first = json.loads(out.read_bytes().split(b"\n")[0])
        pid = int(first["worker"].rsplit("/", 1)[1])
        status = Path(f"/proc/{pid}/status").read_text()
    finally:
        _stop(sweep)
    blocked = int(next(line for line in status.splitlines()
                       if line.startswith("SigBlk:")).split()[1], 16)
    assert blocked >> (signal.SIGINT - 1) & 1


def test_a_tls_scheduler_without_certificates_is_a_one_line_error(tmp_path, capsys):
    pytest.importorskip("distributed")
    code, _, err = run(capsys, *SMALL, "--out", str(tmp_path / "t.jsonl"), "--scheduler",
                       "tls://127.0.0.1:9", "--timeout", "1")
    assert code == 1 and "--tls-ca-file, --tls-cert and --tls-key" in err
    assert err.count("\n") == 1


def _kill_the_first_results_worker(out, *options):
    """A sweep (``_sweep_with_a_first_result``) whose first result's worker process is then
    killed with SIGKILL: (the ended sweep, that result, its stderr)."""
    _, sweep = _sweep_with_a_first_result(out, *options)
    try:
        first = json.loads(out.read_bytes().split(b"\n")[0])
        os.kill(int(first["worker"].rsplit("/", 1)[1]), signal.SIGKILL)
        _, stderr = sweep.communicate(timeout=120)
    finally:
        _stop(sweep)
    return sweep, first, stderr


def test_a_local_worker_killed_mid_run_loses_nothing(tmp_path):
    """SIGKILL to one worker of the local pool: a new pool does the points left; every
    point is in the file exactly once, and the sweep ends normally."""
    out = tmp_path / "k.jsonl"
    sweep, _, stderr = _kill_the_first_results_worker(out)
    assert sweep.returncode == 0, stderr.decode()
    assert b"a sweep worker process died" in stderr
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == 8 and len(set(keys)) == 8


def _descendants(pid: int) -> set[int]:
    """The processes under ``pid`` (its children, theirs...), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue               # not a process, or one that has just ended
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":       # a zombie has ended: only its parent's wait is left
            parents[int(entry.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        pid = todo.pop()
        children = {p for p, parent in parents.items() if parent == pid}
        todo += children - found
        found |= children
    return found


#: a sweep from Python that ends as argv[1] says (normally, on an error of the caller's, or
#: at a Ctrl-C while its runs are under way), then prints the processes it leaves
LEAVES = """
import json, os, signal, sys, time
from nudge.sweep import expand, run_sweep
sys.path.insert(0, sys.argv[3])
from test_sweep import _descendants

def on_result(record):
    if sys.argv[1] == "error":
        raise OSError("the disk is full")
    if sys.argv[1] == "ctrl-c":
        os.kill(os.getpid(), signal.SIGINT)

grid = expand({"dataset": "digits", "epochs": "2" if sys.argv[1] != "ctrl-c" else "150"},
              seeds="1-4")
try:
    run_sweep(grid, sys.argv[2], workers=2, on_result=on_result)
    ended = "normally"
except (OSError, KeyboardInterrupt) as e:
    ended = type(e).__name__
print(json.dumps({"ended": ended, "left": sorted(_descendants(os.getpid()))}))
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("how, ended", [("normal", "normally"), ("error", "OSError"),
                                        ("ctrl-c", "KeyboardInterrupt")])
def test_a_sweep_from_python_leaves_no_helper_process_however_it_ends(tmp_path, how, ended):
    """multiprocessing's forkserver and resource tracker, started for the local pool, stayed
    idle in the sweep's process after it ended, until that process exited (a notebook's, a
    test session's); the sweep now stops those it started."""
    done = subprocess.run([sys.executable, "-c", LEAVES, how, str(tmp_path / "s.jsonl"),
                           str(Path(__file__).parent)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ended": ended, "left": []}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_killed_sweep_leaves_no_process_behind(tmp_path):
    """The sweep's process killed (kill -9, out of memory; SIGTERM and a closed terminal's
    SIGHUP end it without cleaning up too): its workers waited for a task for ever, each
    holding the forkserver's pipe, so the idle forkserver stayed as well, until the
    machine's session ended.  The workers now end with the sweep, and the helpers with them."""
    _, sweep = _sweep_with_a_first_result(tmp_path / "k.jsonl")
    left: set[int] = set()
    try:
        left = _descendants(sweep.pid)
        assert len(left) >= 3                 # the forkserver, its workers, the tracker
        sweep.kill()
        sweep.wait(10)
        deadline = time.monotonic() + 10
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = {pid for pid in left if Path(f"/proc/{pid}").exists()
                    and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"}
    finally:
        _stop(sweep)
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    assert not left, "processes of the killed sweep are still running"


@pytest.mark.parametrize("dask_cluster", [(1, True)], indirect=True)
def test_a_dask_worker_lost_with_the_only_copy_of_the_data_loses_nothing(tmp_path,
                                                                          dask_cluster):
    """One worker under a nanny, killed (SIGKILL) mid-run: the nanny starts a new one, but
    the scattered data died with the old.  The sweep sends it again and finishes, every
    point once (it stopped with "a run failed on the cluster (FutureCancelledError ...)")."""
    address, _, _ = dask_cluster
    out = tmp_path / "n.jsonl"
    sweep, first, stderr = _kill_the_first_results_worker(out, "--scheduler", address)
    assert sweep.returncode == 0, stderr.decode()
    assert b"the Dask workers holding the data were lost" in stderr
    records = lines(out)
    keys = [r["key"] for r in records]
    assert len(keys) == 8 and len(set(keys)) == 8
    assert {r["worker"] for r in records} - {first["worker"]}, "no new worker ran anything"


def test_a_dask_scheduler_lost_mid_sweep_is_one_line_and_the_local_pool_resumes(tmp_path,
                                                                                 dask_cluster):
    """The scheduler killed (SIGKILL) mid-sweep: one line that says so (it said "a run
    failed on the cluster (FutureCancelledError ...)"), exit status 1, the finished runs
    kept; the same grid then resumes on this machine (a point's key does not depend on
    where it ran), each point once."""
    address, _, scheduler = dask_cluster
    out = tmp_path / "s.jsonl"
    argv, sweep = _sweep_with_a_first_result(out, "--scheduler", address)
    try:
        os.kill(scheduler.pid, signal.SIGKILL)
        _, stderr = sweep.communicate(timeout=60)
    finally:
        _stop(sweep)
    assert sweep.returncode == 1, stderr.decode()
    err = stderr.decode()
    assert "lost the connection to the Dask scheduler" in err.splitlines()[-1]
    assert err.count("\n") == 2 and "Traceback" not in err, err     # the sweep's note, then it
    before = len(lines(out))
    assert 1 <= before < 8
    local = [a for a in argv if a not in ("--scheduler", address)]
    done = subprocess.run(local, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert f"{before} already in".encode() in done.stderr
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == 8 and len(set(keys)) == 8


def test_dask_logs_nothing_from_before_its_client_to_after_it_is_closed(dask_cluster):
    """A message queued less than 10 ms after the client's last one (a run's release, as
    the two workers finish together) waits for Dask's batching interval; the scheduler
    lost meanwhile, Dask logs "Batched Comm Closed" and a traceback, any time until the
    client is closed: the scheduler-lost sweep above now and then wrote 14 lines to stderr
    instead of 2 (its note, then the one line), under load.  quiet_dask, which `nudge
    sweep --scheduler` runs in, keeps every Dask log record from being made."""
    import logging

    from nudge.sweep.runner import connect, quiet_dask

    address, _, scheduler = dask_cluster
    made: list[logging.LogRecord] = []
    keep = logging.Handler()
    keep.emit = made.append                                 # type: ignore[method-assign]
    logging.getLogger("distributed").addHandler(keep)
    try:
        with quiet_dask():
            client = connect(address, timeout=10)
            try:
                futures = client.map(abs, [-1, -2])
                client.cancel(futures[0])
                client.cancel(futures[1])                  # waits for the 10 ms interval
                os.kill(scheduler.pid, signal.SIGKILL)
                deadline = time.monotonic() + 30
                while client.status == "running" and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert client.status != "running", "the client did not see its scheduler go"
            finally:
                client.close()
    finally:
        logging.getLogger("distributed").removeHandler(keep)
    assert [f"{r.name}: {r.getMessage()}" for r in made] == []


def test_dask_is_quiet_even_when_first_imported_inside_quiet_dask():
    """`nudge sweep --scheduler` imports Dask inside quiet_dask, and Dask's import sets its
    loggers' levels: quiet_dask set them first, so Dask logged after all (the full suite
    failed once with a "distributed.client - ERROR" traceback before the sweep's line)."""
    pytest.importorskip("distributed")
    code = ("import logging, sys\nfrom nudge.sweep.runner import quiet_dask\n"
            "with quiet_dask():\n    import distributed\n"
            "    sys.exit(logging.getLogger('distributed.client').isEnabledFor(logging.CRITICAL))")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_a_long_sweep_outlives_more_worker_deaths_than_the_restarts(tmp_path):
    """A local worker killed (SIGKILL) more often than POOL_RESTARTS, each time after the
    new pool finished a run: the sweep goes on to the end (it stopped at the fourth death
    however many runs had finished in between), every point once.  Only pools in a row
    that die before finishing anything stop it."""
    import threading

    from nudge.sweep.runner import POOL_RESTARTS

    out = tmp_path / "r.jsonl"
    argv = [sys.executable, "-m", "nudge", "sweep", "--dataset", "digits", "--epochs", "200",
            "--hidden", "256", "--seeds", "1-12", "--out", str(out), "--workers", "2", "--quiet"]

    sweep = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.extend(sweep.stderr), daemon=True)
    reader.start()

    def deaths() -> int:
        return sum(b"a sweep worker process died" in line for line in list(stderr))

    killed: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while deaths() <= POOL_RESTARTS and time.monotonic() < deadline and sweep.poll() is None:
            whole = out.read_bytes().split(b"\n")[:-1] if out.exists() else []
            pid = int(json.loads(whole[-1])["worker"].rsplit("/", 1)[1]) if whole else None
            if pid is not None and pid not in killed and len(whole) < 12:
                killed.add(pid)
                try:
                    os.kill(pid, signal.SIGKILL)    # it has started its next run
                except ProcessLookupError:          # a broken pool's, already gone
                    pass
            time.sleep(0.05)
        sweep.wait(120)
        reader.join(10)
    finally:
        _stop(sweep)
    assert sweep.returncode == 0, b"".join(stderr).decode()
    assert deaths() > POOL_RESTARTS
    keys = [r["key"] for r in lines(out)]
    assert len(keys) == 12 and len(set(keys)) == 12
