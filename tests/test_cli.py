"""The command line end to end, on small data, and every kind of bad input."""

import argparse
import json
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nudge import Network, NudgeError, load, save, train
from nudge.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def digits_model(tmp_path, capsys):
    path = tmp_path / "digits.safetensors"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "8", "--seed", "1",
                         "--out", str(path), "--quiet")
    assert code == 0, err
    return path


def test_help_for_every_command(capsys):
    for argv in (["--help"], ["train", "--help"], ["evaluate", "--help"],
                 ["predict", "--help"], ["info", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
        assert "usage: nudge" in capsys.readouterr().out


def test_train_prints_table_and_saves_model(tmp_path, capsys):
    out_path, plot = tmp_path / "m.safetensors", tmp_path / "h.png"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "3", "--seed", "2",
                         "--out", str(out_path), "--plot", str(plot), "--quiet")
    assert code == 0, err
    assert "test accuracy" in out and f"saved {out_path}" in out
    net = load(out_path)
    assert net.sizes == [64, 16, 16, 10] and net.metadata["dataset"] == "digits"
    assert net.metadata["epochs_trained"] == 3 and net.metadata["training"]["seed"] == 2
    assert Image.open(plot).size[0] > 100


def test_train_json(tmp_path, capsys):
    out_path = tmp_path / "m.safetensors"
    code, out, _ = run(capsys, "train", "--dataset", "digits", "--epochs", "2", "--json",
                       "--sizes", "64,20,10", "--optimizer", "adam", "--out", str(out_path))
    assert code == 0
    result = json.loads(out)
    for key in ("test_accuracy", "test_cost", "epochs", "train_seconds", "model_path"):
        assert key in result
    assert result["epochs"] == 2 and result["model_path"] == str(out_path)
    assert result["sizes"] == [64, 20, 10]
    assert list(result) == [
        "test_accuracy", "test_cost", "validation_accuracy", "validation_cost", "n_validation",
        "train_cost", "epochs", "best_epoch", "train_seconds", "model_path", "plot_path",
        "dataset", "sizes", "seed", "stopped", "settings", "history", "tracked",
        "track_plot_path", "started_from", "error"] and result["error"] is None


def test_train_json_says_why_it_saved_nothing(tmp_path, capsys):
    """A run that diverged printed nothing on stdout with --json (the error went to stderr
    alone): a script reading the document had nothing to parse.  It gets one object: the
    error, and what the run had done (its settings and the epochs before)."""
    out_path = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "2", "--json",
                         "--learning-rate", "1e30", "--activation", "relu", "--seed", "1",
                         "--out", str(out_path))
    assert code == 1 and not out_path.exists()
    result = json.loads(out)
    assert "diverged in epoch 1" in result["error"] and "nothing was saved" in result["error"]
    assert err == f"nudge train: error: {result['error']}\n"
    assert result["stopped"] == "diverged" and result["model_path"] is None
    assert result["history"] == [] and result["epochs"] == 0
    assert result["settings"]["learning_rate"] == 1e30 and result["seed"] == 1
    assert result["sizes"] == [64, 16, 16, 10] and result["dataset"] == "digits"


def test_a_run_that_saved_nothing_lists_its_epochs_as_a_saved_run_does():
    """With --track noise, a saved run's epochs each carry their noise scale; those of a
    run that diverged after some epochs (and saved nothing) did not: its --json object
    built the rows again without them.  One rule now (a run diverging in epoch 2 cannot be
    had on every machine by the command, so its two results are built from a real run)."""
    from nudge import load_dataset
    from nudge.cli import trained
    from nudge.insight import NoiseTracker

    data = load_dataset("digits")
    net = Network([64, 8, 10], seed=1)
    tracker = NoiseTracker(data.X_train[:300], data.y_train[:300])
    tracker.start(net)
    history = train(net, data.X_train[:300], data.y_train[:300], epochs=2, seed=1,
                    callback=tracker)
    args = argparse.Namespace(preset=None)
    saved = trained.model_metadata(args, data, None, history, tracker)
    unsaved = trained.unsaved_result(history, "diverged", data, net.sizes, 1, tracker)
    assert [row["noise_scale"]["epoch"] for row in unsaved["history"]] == [1, 2]
    assert unsaved["history"] == saved["history"] and unsaved["tracked"] == saved["tracked"]


@pytest.mark.parametrize("argv", [
    ["info", "missing.safetensors"],
    ["evaluate", "missing.safetensors"],
    ["noise", "missing.safetensors"],
    ["predict", "missing.safetensors", "one.png"],
    ["sweep", "--report", "missing.jsonl"],
    ["train", "--dataset", "digits", "--plot", "curve.jpg"],
], ids=lambda argv: argv[0])
def test_every_json_command_gives_its_error_as_json(argv, tmp_path, capsys, monkeypatch):
    """The errors of --json commands went to stderr alone; stdout is one JSON object
    whatever happens, its "error" the line on stderr."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv, "--json")
    assert code == 1 and err.count("\n") == 1
    command, message = err.strip().split(": error: ")
    assert command == f"nudge {argv[0]}" and json.loads(out) == {"error": message}


@pytest.mark.parametrize("argv, flag", [
    (["sweep", "--report", ""], "--report"),
    (["train", "--dataset", "digits", "--epochs", "1", "--plot", ""], "--plot"),
    (["train", "--dataset", "digits", "--epochs", "1", "--out", ""], "--out"),
    (["train", "--dataset", "digits", "--epochs", "1", "--start-from", ""], "--start-from"),
    (["info", ""], "MODEL"),
    (["serve", "--save-dir", ""], "--save-dir"),
], ids=lambda v: v if isinstance(v, str) else v[0])
def test_an_empty_file_name_is_an_error_not_no_option(argv, flag, tmp_path, capsys,
                                                     monkeypatch):
    """`--report "$FILE"` with FILE unset ran a whole sweep into sweep.jsonl instead of
    summarising a file (an empty name read as no --report), `--plot ""` saved no figure
    and said nothing, `--out ""` was '. is a folder'."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 1 and err == f'nudge {argv[0]}: error: {flag}: the name is empty (""); ' \
                                 "give a name\n"
    assert list(tmp_path.iterdir()) == []


def test_same_seed_same_model(tmp_path, capsys):
    paths = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for p in paths:
        assert run(capsys, "train", "--dataset", "digits", "--epochs", "2", "--seed", "9",
                   "--out", str(p), "--quiet")[0] == 0
    a, b = load(paths[0]), load(paths[1])
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


@pytest.fixture
def offline(monkeypatch):
    """No MNIST anywhere and no network: every mirror refuses at once."""
    import nudge.data

    monkeypatch.delenv("NUDGE_DATA", raising=False)
    monkeypatch.setattr("nudge.data._SOURCES", {
        k: {**v, "mirrors": ["http://127.0.0.1:9/"]} for k, v in nudge.data._SOURCES.items()})


def test_falls_back_to_digits_only_when_nothing_is_configured(tmp_path, capsys, offline):
    code, out, err = run(capsys, "train", "--epochs", "1", "--out",
                         str(tmp_path / "m.safetensors"), "--quiet")
    assert code == 0
    (line,) = [e for e in err.splitlines() if e.startswith("nudge: MNIST")]
    assert "Using the embedded 8x8 digits instead" in line and "..." not in line
    assert "a download was tried and failed" in line and "--data-dir DIR" in line
    assert "--dataset mnist makes this an error" in line
    code, out, err = run(capsys, "train", "--dataset", "mnist", "--epochs", "1", "--out",
                         str(tmp_path / "n.safetensors"))
    assert code == 1 and "--data-dir DIR, or set NUDGE_DATA" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "n.safetensors").exists()


def test_fallback_never_replaces_a_model_of_another_dataset(tmp_path, capsys, offline):
    from nudge import Network, save

    out = tmp_path / "model.safetensors"
    save(Network([784, 16, 10], seed=0), out, dataset="mnist")
    before = out.read_bytes()
    code, _, err = run(capsys, "train", "--epochs", "1", "--out", str(out), "--quiet")
    assert code == 1 and out.read_bytes() == before
    last = err.strip().splitlines()[-1]
    assert "holds a model trained on mnist" in last and "--dataset digits" in last
    code, _, err = run(capsys, "train", "--dataset", "digits", "--epochs", "1", "--out",
                       str(out), "--quiet")
    assert code == 0 and load(out).metadata["dataset"] == "digits"


@pytest.mark.parametrize("how", ["typo", "empty", "corrupt", "env-empty"])
def test_configured_mnist_that_cannot_be_used_is_an_error(how, tmp_path, capsys, offline,
                                                         monkeypatch, mnist_path):
    folder = tmp_path / "data"
    argv = ["--data-dir", str(folder)]
    if how == "typo":
        argv = ["--data-dir", str(tmp_path / "dtaa")]
    if how in ("empty", "env-empty"):
        folder.mkdir()
    if how == "env-empty":
        monkeypatch.setenv("NUDGE_DATA", str(folder))
        argv = []
    if how == "corrupt":
        folder.mkdir()
        for f in mnist_path.glob("*.gz"):
            (folder / f.name).write_bytes(f.read_bytes())
        victim = folder / "train-labels-idx1-ubyte.gz"
        victim.write_bytes(victim.read_bytes()[:-1000])
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"precious")
    code, _, err = run(capsys, "train", *argv, "--epochs", "1", "--out", str(out), "--quiet")
    assert code == 1 and out.read_bytes() == b"precious", err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "8x8" not in err


def test_evaluate_text_and_json(digits_model, capsys):
    code, out, _ = run(capsys, "evaluate", str(digits_model))
    assert code == 0 and "confusion matrix" in out and "accuracy" in out
    code, out, _ = run(capsys, "evaluate", str(digits_model), "--json")
    result = json.loads(out)
    assert result["n_examples"] == 300
    confusion = np.array(result["confusion_matrix"])
    assert confusion.sum() == 300
    assert result["accuracy"] == pytest.approx(np.trace(confusion) / 300)
    assert set(result["per_class_accuracy"]) == {str(d) for d in range(10)}


def test_ctrl_c_with_json_still_gives_a_document(digits_model, capsys, monkeypatch):
    import os

    import nudge.cli.model as model

    real_evaluate = model.evaluate

    def ctrl_c_while_evaluating(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(model, "evaluate", ctrl_c_while_evaluating)
    code, out, err = run(capsys, "evaluate", str(digits_model), "--json")
    assert code == 130 and err == "nudge evaluate: interrupted\n"
    assert json.loads(out) == {"error": "interrupted"}


def test_validation_holds_out_the_last_training_images(tmp_path, capsys):
    path = tmp_path / "v.safetensors"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "8", "--seed", "1",
                         "--validation", "297", "--out", str(path), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["n_validation"] == 297 and 0.3 < result["validation_accuracy"] <= 1
    assert all(row["validation_accuracy"] is not None for row in result["history"])
    metadata = load(path).metadata
    assert metadata["n_train"] == 1200 and metadata["n_validation"] == 297
    code, out, _ = run(capsys, "evaluate", str(path), "--split", "validation", "--json")
    held_out = json.loads(out)
    assert code == 0 and held_out["n_examples"] == 297 and held_out["split"] == "validation"
    assert held_out["accuracy"] == pytest.approx(result["validation_accuracy"])
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "2", "--quiet",
                         "--validation", "297", "--out", str(path))
    assert code == 0 and "validation accuracy" in out and "297 held out" in err
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0 and "on the 297 training images held out" in out
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "1", "--quiet",
                         "--out", str(path))
    assert code == 0 and "1 epoch, batch size" in err
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0 and "after 1 epoch (" in out


def test_patience_keeps_the_best_epoch_and_says_so(tmp_path, capsys):
    path = tmp_path / "p.safetensors"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "300", "--seed",
                         "1", "--learning-rate", "3", "--schedule", "constant",
                         "--validation", "297", "--patience", "4", "--out", str(path), "--json")
    assert code == 0, err
    result = json.loads(out)
    best = result["best_epoch"]
    assert result["stopped"] == "no improvement" and result["epochs"] == best + 4
    kept = result["history"][best - 1]
    assert result["test_accuracy"] == kept["test_accuracy"]
    assert result["validation_accuracy"] == max(r["validation_accuracy"]
                                                for r in result["history"])
    held_out = json.loads(run(capsys, "evaluate", str(path), "--split", "validation",
                              "--json")[1])
    assert held_out["accuracy"] == pytest.approx(kept["validation_accuracy"])
    code, out, _ = run(capsys, "info", str(path))
    assert f"at epoch {best} of {best + 4}" in out
    code, _, err = run(capsys, "train", "--dataset", "digits", "--patience", "3", "--out",
                       str(tmp_path / "q.safetensors"))
    assert code == 1 and "patience (early stopping) needs held-out examples" in err
    assert not (tmp_path / "q.safetensors").exists()


@pytest.mark.parametrize("args,eta", [
    ([], 0.1), (["--momentum", "0.99"], 0.01), (["--preset", "nielsen-ch3"], 0.01),
    (["--preset", "nielsen"], 0.15), (["--learning-rate", "0.7"], 0.7)])
def test_momentum_default_eta_is_the_preset_steady_step(tmp_path, capsys, args, eta):
    """--optimizer momentum took η = 0.5 whatever the preset: a steady step η/(1 − μ) of
    5, five times the 3b1b preset's and 50 times nielsen-ch3's (the nielsen preset reached
    76-83% in 10 epochs); it takes the preset's η × (1 − μ), named in --help."""
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "1",
                         "--optimizer", "momentum", *args, "--json",
                         "--out", str(tmp_path / "m.safetensors"))
    assert code == 0, err
    assert json.loads(out)["settings"]["learning_rate"] == eta


def test_a_negative_zero_option_is_recorded_as_zero(tmp_path, capsys):
    """--momentum -0 (as --weight-decay -0) was recorded, and shown by nudge info, as
    momentum=-0.0."""
    path = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "1",
                         "--optimizer", "momentum", "--momentum", "-0", "--weight-decay", "-0",
                         "--json", "--out", str(path))
    assert code == 0, err
    settings = json.loads(out)["settings"]
    assert str(settings["momentum"]) == "0.0" and str(settings["weight_decay"]) == "0.0"
    assert settings["learning_rate"] == 1.0                   # the 3b1b preset's x (1 - 0)
    code, out, _ = run(capsys, "info", str(path))
    assert "momentum=0.0," in " ".join(out.split()) and "-0" not in out


def test_plateau_schedule_halves_eta_and_shows_it(tmp_path, capsys):
    path = tmp_path / "p.safetensors"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "400", "--seed",
                         "1", "--learning-rate", "3", "--schedule", "plateau",
                         "--min-learning-rate", "0.75", "--validation", "297", "--patience",
                         "4", "--out", str(path))
    assert code == 0, err
    assert "(halved after 4 epochs without a rise, while eta/2 >= 0.75)" in err
    assert "eta" in out.splitlines()[0]
    assert "at eta 0.75; half of it would pass eta_min 0.75)" in out
    etas = [r["learning_rate"] for r in load(path).metadata["history"]]
    assert etas[0] == 3 and etas[-1] == 0.75 and sorted(set(etas)) == [0.75, 1.5, 3]
    code, out, err = run(capsys, "train", "--dataset", "digits", "--schedule", "plateau",
                         "--validation", "297", "--patience", "50", "--epochs", "3", "--json",
                         "--out", str(tmp_path / "r.safetensors"))    # the 3b1b preset's η
    assert code == 0 and json.loads(out)["settings"]["min_learning_rate"] == 1 / 64
    assert "all 3 epochs ran before the plateau schedule had halved eta as far" in err
    code, _, err = run(capsys, "train", "--dataset", "digits", "--schedule", "plateau",
                       "--validation", "297", "--patience", "50", "--epochs", "1",
                       "--out", str(tmp_path / "one.safetensors"))
    assert code == 0 and "the only epoch ran before the plateau schedule" in err
    code, _, err = run(capsys, "train", "--dataset", "digits", "--schedule", "plateau",
                       "--validation", "297", "--out", str(tmp_path / "q.safetensors"))
    assert code == 1 and "plateau schedule halves the learning rate" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "q.safetensors").exists()


@pytest.mark.parametrize("argv, words, status", [
    # the option named as the user wrote it, by the parser (it said "span must be...")
    (["landscape", "--span", "1e300"], "argument --span: '1e300' is too large: give at most "
                                       "1,000", 2),
    (["interpolate", "--from=-1e30", "--to=1e30"], "each from -1,000 to 1,000", 1),
    (["interpolate", "--from", "-1e30"], "each from -1,000 to 1,000", 1),   # no '=' needed
    (["interpolate", "--from", "-2.5E+3"], "each from -1,000 to 1,000", 1),
    (["sensitivity", "--steps", "1,1e300"], "at most 1,000 (a linear prediction", 1),
])
def test_absurd_sizes_of_insight_options_are_refused(digits_model, capsys, argv, words,
                                                     status):
    command, *options = argv
    extra = [str(digits_model)] if command == "interpolate" else []
    try:
        code = main([command, str(digits_model), *extra, "--dataset", "digits", *options])
    except SystemExit as e:              # the parser's refusal
        code = e.code
    out, err = capsys.readouterr()
    assert code == status and words in err and err.count("\n") == 1 and out == ""


@pytest.mark.parametrize("argv", [
    ["train", "--sizes", "64,,10"], ["train", "--sizes", "64,16,10,"],
    ["descent", "--batch-sizes", "full,,10"], ["stability", "--factors", "0.5,,1"],
    ["average", "MODEL", "--batch-sizes", "1,,10"], ["sensitivity", "MODEL", "--steps", ","],
])
def test_an_empty_value_in_a_list_is_refused_not_dropped(digits_model, tmp_path, capsys,
                                                         monkeypatch, argv):
    """``--sizes 64,,10`` is a typo (a layer left out): it trained a 64-10 network."""
    monkeypatch.chdir(tmp_path)
    argv = [str(digits_model) if a == "MODEL" else a for a in argv]
    with pytest.raises(SystemExit) as e:
        main([*argv, "--dataset", "digits"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "has an empty value: separate the values with single commas" \
        in err and "Traceback" not in err
    assert not (tmp_path / "model.safetensors").exists()


@pytest.mark.parametrize("command", ["train", "landscape"])
def test_weight_decay_is_at_most_one(digits_model, tmp_path, capsys, command):
    argv = (["train", "--dataset", "digits", "--out", str(tmp_path / "w.safetensors")]
            if command == "train" else ["landscape", str(digits_model), "--dataset", "digits"])
    with pytest.raises(SystemExit):
        main([*argv, "--weight-decay", "1e300"])
    assert "give at most 1 (1e-4 is usual)" in capsys.readouterr().err
    with pytest.raises(NudgeError, match="weight decay must be a number from 0 to 1"):
        train(Network([64, 10]), np.zeros((5, 64)), np.zeros(5, int), weight_decay=2.0)


@pytest.mark.parametrize("argv, words", [
    (["stability", "MODEL", "--sizes", "64,10"], "--sizes and --seed make a new network"),
    (["stability", "MODEL", "--seed", "0"], "--sizes and --seed make a new network"),
    (["stability", "--factors", "1", "--learning-rates", "1"], "use one of them"),
    (["descent", "--plot", "same.png", "--paths-plot", "./same.png"], "give two names"),
    (["sweep", "--scheduler", " "], "--scheduler needs an address"),
    (["sweep", "--scheduler", "tcp://127.0.0.1:9", "--workers", "3"], "leave out --workers"),
])
def test_options_that_contradict_each_other_are_refused(digits_model, tmp_path, capsys,
                                                        monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    argv = [str(digits_model) if a == "MODEL" else a for a in argv]
    code, out, err = run(capsys, *argv, "--dataset", "digits")
    assert code == 1 and words in err and err.count("\n") == 1
    assert not (tmp_path / "same.png").exists()


@pytest.mark.parametrize("argv, words", [
    (["train", "--out", "same.png", "--plot", "same.png"], "--out and --plot are both"),
    (["train", "--plot", "same.png", "--track", "noise", "--track-plot", "same.png"],
     "--plot and --track-plot are both"),
    (["noise", "MODEL", "--plot", "LINK"], "--plot LINK is the file MODEL reads"),
    (["sensitivity", "MODEL", "--plot", "MODEL"], "is the file MODEL reads"),
    (["interpolate", "MODEL", "MODEL", "--plot", "LINK"], "is the file A reads"),
    (["sweep", "--out", "same.png", "--plot", "same.png"], "--out and --plot are both"),
    (["sweep", "--report", "LINK", "--plot", "MODEL"], "is the file --report reads"),
])
def test_a_command_never_writes_over_its_own_files(digits_model, tmp_path, capsys,
                                                   monkeypatch, argv, words):
    """One file named twice (also through a link): refused before any work, nothing lost."""
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "link.png"
    link.symlink_to(digits_model)
    saved = digits_model.read_bytes()
    argv = [str(digits_model) if a == "MODEL" else str(link) if a == "LINK" else a
            for a in argv]
    code, out, err = run(capsys, *argv, "--dataset", "digits")
    assert code == 1 and words.replace("LINK", str(link)) in err and err.count("\n") == 1
    assert digits_model.read_bytes() == saved and not (tmp_path / "same.png").exists()
    # a second hard link is another name: an atomic write there leaves this file as it was
    hard = tmp_path / "hard.png"
    hard.hardlink_to(digits_model)
    code, out, err = run(capsys, "sensitivity", str(digits_model), "--plot", str(hard),
                         "--examples", "50")
    assert code == 0, err
    assert digits_model.read_bytes() == saved and hard.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("command", [
    ["train", "--dataset", "digits", "--epochs", "1", "--quiet", "--out", "new.safetensors"],
    ["descent", "--dataset", "digits", "--epochs", "1", "--train-limit", "100"],
    ["sweep", "--report", "results.jsonl"],
], ids=lambda c: c[0])
@pytest.mark.parametrize("target", ["notes", "link"])
def test_a_figure_replaces_only_a_png(command, target, digits_model, tmp_path, capsys,
                                      monkeypatch):
    """--plot notes.png (notes, not an image) or a link named .png to a model: the figure
    replaced that file and it was lost; now refused before any work, the file kept."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results.jsonl").write_text("")
    (tmp_path / "notes.png").write_text("my notes")
    (tmp_path / "link.png").symlink_to(digits_model)
    kept = {p: p.read_bytes() for p in (tmp_path / "notes.png", digits_model)}
    name = f"{target}.png"
    code, _, err = run(capsys, *command, "--plot", name)
    assert code == 1 and err.count("\n") == 1
    assert f"--plot {name} is a file but not a PNG image" in err
    assert {p: p.read_bytes() for p in kept} == kept and not Path("new.safetensors").exists()


def test_a_run_that_learned_nothing_says_so(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--dataset", "digits", "--learning-rate", "1e4",
                       "--epochs", "2", "--seed", "1", "--out", str(tmp_path / "m.safetensors"))
    assert code == 0 and "is about chance (1 in 10): the network has learned nothing" in err
    code, _, err = run(capsys, "train", "--dataset", "digits", "--epochs", "5", "--seed", "1",
                       "--learning-rate", "3", "--out", str(tmp_path / "m.safetensors"))
    assert code == 0 and "chance" not in err


def test_evaluate_validation_needs_held_out_images(digits_model, tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", str(digits_model), "--split", "validation")
    assert code == 1 and "trained without --validation" in err and "Traceback" not in err
    net = load(digits_model)
    damaged = tmp_path / "damaged.safetensors"
    save(net, damaged, **{**net.metadata, "n_train": 1400, "n_validation": 500})
    code, _, err = run(capsys, "evaluate", str(damaged), "--split", "validation")
    assert code == 1 and "do not fit the 1,497 training images" in err
    save(net, damaged, **{**net.metadata, "n_train": 1000, "n_validation": 497,
                          "dataset": "fashion-mnist"})      # same image size, other images
    code, _, err = run(capsys, "evaluate", str(damaged), "--split", "validation", "--dataset",
                        "digits")
    assert code == 1 and "held-out images are fashion-mnist's, not digits's" in err


@pytest.mark.parametrize("key,value", [
    ("n_validation", True), ("n_validation", -5), ("n_validation", 200.0), ("n_validation", "7"),
    ("validation_accuracy", -3), ("validation_accuracy", True), ("validation_accuracy", 1e308),
    ("validation_accuracy", "0.7"), ("validation_accuracy", 10**400), ("test_accuracy", 10**400),
    ("validation_cost", -1.0), ("n_train", "5,000 digits"),
])
def test_model_metadata_values_are_checked(key, value, digits_model, tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    damaged = tmp_path / "damaged.safetensors"
    with safe_open(digits_model, framework="numpy") as f:
        header = f.metadata()
    info = {**json.loads(header["nudge"]), key: "@"}
    raw = "1" + "0" * 5000 if value == "5,000 digits" else json.dumps(value)
    save_file(load_file(digits_model), damaged,          # written as it is, not by nudge.save
              metadata={**header, "nudge": json.dumps(info).replace('"@"', raw)})
    code, _, err = run(capsys, "info", str(damaged))
    expected = "a whole number of" if value == "5,000 digits" else f"invalid {key}"
    assert code == 1 and expected in err and "Traceback" not in err
    assert err.count("\n") == 1 and "sys.set_int_max_str_digits" not in err


def test_a_model_of_an_unknown_dataset_asks_for_dataset(digits_model, tmp_path, capsys):
    net = load(digits_model)
    odd = save(net, tmp_path / "odd.safetensors", **{**net.metadata, "dataset": "../../etc"})
    code, _, err = run(capsys, "evaluate", str(odd))
    assert code == 1 and "names the dataset '../../etc'" in err and "give --dataset" in err
    assert run(capsys, "evaluate", str(odd), "--dataset", "digits")[0] == 0


def test_info(digits_model, capsys):
    code, out, _ = run(capsys, "info", str(digits_model))
    assert code == 0 and "64-16-16-10" in out and "1,482" in out
    info = json.loads(run(capsys, "info", str(digits_model), "--json")[1])
    assert info["n_parameters"] == 1482 and info["metadata"]["dataset"] == "digits"
    md = info["metadata"]                 # how many images: what a re-run needs to know
    assert f"  images        {md['n_train']:,} trained on, {md['n_test']:,} tested\n" in out


def test_predict_reads_an_image(digits_model, tmp_path, capsys, digits):
    # draw an 8x8 test digit large, as a light-on-dark PNG
    img = Image.fromarray(digits.X_test[0].reshape(8, 8)).resize((80, 80), Image.NEAREST)
    img.save(tmp_path / "d.png")
    code, out, _ = run(capsys, "predict", str(digits_model), str(tmp_path / "d.png"), "--json")
    assert code == 0
    pred = json.loads(out)["predictions"][0]
    assert len(pred["activations"]) == 10 and pred["digit"] == int(np.argmax(pred["activations"]))
    code, out, _ = run(capsys, "predict", str(digits_model), str(tmp_path / "d.png"))
    assert code == 0 and out.startswith(f"{tmp_path / 'd.png'}: ")


@pytest.mark.parametrize("argv,message", [
    (["train", "--epochs", "0"], "must be at least 1"),
    (["train", "--epochs", "1e20"], "not a whole number"),
    (["train", "--epochs", "100001"], "at most 100,000"),
    (["train", "--seed", "-1"], "at least 0"),
    (["train", "--seed", str(2**32)], "at most"),
    (["train", "--sizes", "784,100000,10"], "at most 4,096"),
    (["train", "--sizes", ",".join(["10"] * 70)], "at most 64 layers"),
    (["train", "--sizes", "784,4096,4096,4096,10"], "at most 25,000,000"),
    (["train", "--momentum", "1"], "below 1"),
    (["train", "--train-limit", "99999999999"], "at most"),
    (["train", "--epochs", "ten"], "not a whole number"),
    (["train", "--learning-rate", "nan"], "finite number"),
    (["train", "--sizes", "784,x,10"], "layer sizes"),
    (["train", "--dataset", "cifar"], "invalid choice"),
    (["train", "--optimizer", "rmsprop"], "invalid choice"),
])
def test_nonsense_options_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("argv,json_too", [
    (["info", "--json"], True),                                  # MODEL missing
    (["train", "--epochs", "0", "--json"], True),
    (["evaluate", "m.safetensors", "--split", "x", "--js"], True),   # argparse's prefix
    (["info", "m.safetensors", "--json", "--bogus"], True),      # found by nudge's parser
    (["serve", "--json"], False),                                # serve has no --json
    (["trian", "--json"], False),                                # no command chosen
    (["train", "--epochs", "0"], False),
])
def test_usage_errors_give_their_json_when_asked(argv, json_too, capsys):
    """A usage error (exit 2) of a command given --json printed nothing on stdout: a script
    reading it got no document; now it gets {"error": ...}, the line on stderr."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    assert e.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    if json_too:
        assert json.loads(out) == {"error": err.strip().split(": error: ", 1)[1]}
    else:
        assert out == ""


@pytest.mark.parametrize("argv,suggested", [
    (["trian"], "'trian': did you mean 'train'?"),
    (["train", "--activation", "sigmod"], "'sigmod': did you mean 'sigmoid'?"),
    (["evaluate", "m.safetensors", "--split", "tset"], "'tset': did you mean 'test'?"),
    (["train", "--activation", "xyz"], None),                    # nothing close: the list
])
def test_a_misspelt_choice_names_the_closest(argv, suggested, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "(choose from '" in err
    assert (suggested in err) if suggested else "did you mean" not in err


@pytest.mark.parametrize("extra,message", [
    (["--sizes", "784,16,10"], "start the sizes with 64"),
    (["--sizes", "64,16,3"], "end the sizes with 10"),
    (["--batch-size", "5000"], "--batch-size 5000 is larger than the 1,497"),
    (["--validation", "1490"], "the 3b1b preset's batch size 10 is larger than the 7 training "
                               "images left after --validation 1,490"),
    (["--out", "/nonexistent/dir/m.safetensors"], "does not exist"),
    (["--plot", "curve.jpg"], "PNG"),
    (["--learning-rate", "1e30", "--activation", "relu"], "diverged"),
    (["--validation", "1497"], "hold out between 1 and 1,496"),
    (["--validation", "1496"], "the 3b1b preset's batch size 10 is larger than the 1 training "
                               "image left after --validation 1,496: use a smaller"),
    (["--train-limit", "100", "--validation", "100"], "hold out between 1 and 99"),
    (["--momentum", "0.5"], "--momentum 0.5 is for --optimizer momentum (sgd has none)"),
    (["--momentum", "0.5", "--optimizer", "adam"], "(adam has none)"),
    (["--schedule", "constant", "--min-learning-rate", "0.1"],
     "--min-learning-rate 0.1 is for --schedule cosine or plateau; --schedule constant"),
    (["--preset", "nielsen", "--min-learning-rate", "0.1"],
     "the nielsen preset's schedule, constant, keeps eta fixed: add --schedule cosine"),
    (["--out", "notes.txt"], "--out notes.txt is a file but not a nudge model; nothing was "
                             "trained or replaced"),
])
def test_bad_training_requests_fail_cleanly_and_save_nothing(extra, message, tmp_path, capsys,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    existing = save(Network([64, 4, 10], seed=0), tmp_path / "model.safetensors")
    precious = existing.read_bytes()
    (tmp_path / "notes.txt").write_text("my notes")
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "2", "--quiet",
                         *extra)
    assert code == 1 and message in err.strip().splitlines()[-1], err
    assert sum("error" in line for line in err.splitlines()) == 1 and "Traceback" not in err
    assert existing.read_bytes() == precious
    assert (tmp_path / "notes.txt").read_text() == "my notes"


def test_bad_model_and_image_files(tmp_path, digits_model, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 50)
    for argv in (["info", str(bad)], ["evaluate", str(tmp_path / "missing.safetensors")],
                 ["predict", str(digits_model), str(tmp_path / "missing.png")]):
        code, out, err = run(capsys, *argv)
        assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    code, _, err = run(capsys, "predict", str(digits_model), str(blank))
    assert code == 1 and "blank" in err
    for command in ("info", "predict"):         # a folder is called one, by both
        argv = [command, str(tmp_path)] if command == "info" else [command, str(digits_model),
                                                                   str(tmp_path)]
        code, _, err = run(capsys, *argv)
        assert code == 1 and "is a folder, not a regular file" in err


def test_evaluate_on_mismatched_dataset(digits_model, capsys, mnist_path):
    code, _, err = run(capsys, "evaluate", str(digits_model), "--dataset", "mnist",
                       "--data-dir", str(mnist_path))
    assert code == 1 and "reads 64 inputs" in err


def test_train_on_mnist_subset_and_predict_a_drawn_digit(tmp_path, capsys, mnist_path):
    path = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "train", "--dataset", "mnist", "--data-dir", str(mnist_path),
                         "--epochs", "3", "--train-limit", "20000", "--seed", "0",
                         "--out", str(path), "--quiet", "--json")
    assert code == 0, err
    assert json.loads(out)["test_accuracy"] > 0.88
    img = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(img).line([(140, 30), (140, 250)], fill=0, width=22)     # a "1"
    img.save(tmp_path / "one.png")
    code, out, _ = run(capsys, "predict", str(path), str(tmp_path / "one.png"), "--json")
    assert json.loads(out)["predictions"][0]["digit"] == 1


def test_predict_reports_each_image(digits_model, tmp_path, capsys, digits):
    good = tmp_path / "good.png"
    Image.fromarray(digits.X_test[0].reshape(8, 8)).resize((80, 80), Image.NEAREST).save(good)
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    (tmp_path / "junk.png").write_bytes(b"junk")
    paths = [str(blank), str(good), str(tmp_path / "missing.png"), str(tmp_path / "junk.png")]
    code, out, err = run(capsys, "predict", str(digits_model), *paths)
    assert code == 1 and out.startswith(f"{good}: ")
    lines = err.strip().splitlines()
    assert len(lines) == 4 and "Traceback" not in err
    assert lines[0].startswith(f"nudge predict: error: {blank}: ") and "blank" in lines[0]
    assert str(tmp_path / "missing.png") in lines[1] and "junk.png" in lines[2]
    assert lines[3] == "nudge predict: 3 of 4 images could not be read"
    code, out, _ = run(capsys, "predict", str(digits_model), *paths, "--json")
    result = json.loads(out)
    assert code == 1 and result["failed"] == 3
    assert [("error" in p) for p in result["predictions"]] == [True, False, True, True]
    assert result["predictions"][0]["image"] == str(blank)


def test_ctrl_c_after_one_step_saves_and_exits_130(tmp_path, capsys, monkeypatch):
    import os
    import signal

    import nudge.cli.core as core

    real_train = core.train

    def one_step_then_ctrl_c(*args, **kwargs):
        kwargs.update(every=1, on_steps=lambda progress, net: os.kill(os.getpid(),
                                                                       signal.SIGINT))
        return real_train(*args, **kwargs)

    monkeypatch.setattr(core, "train", one_step_then_ctrl_c)
    out = tmp_path / "m.safetensors"
    code, _, err = run(capsys, "train", "--dataset", "digits", "--epochs", "50", "--out",
                       str(out), "--quiet")
    assert code == 130 and "stopped by Ctrl-C" in err
    assert load(out).metadata["stopped"] == "interrupted"
    # one step of the first epoch: that epoch is recorded, and said to be, cut short
    assert "stopped by Ctrl-C in epoch 1, part of the way through" in " ".join(err.split())
    assert [r["complete"] for r in load(out).metadata["history"]] == [False]
    code, said, _ = run(capsys, "info", str(out))
    assert code == 0 and "after part of an epoch (" in " ".join(said.split())


def test_the_note_at_chance_after_ctrl_c_counts_the_epochs_that_ran(tmp_path, capsys,
                                                                     monkeypatch):
    """A run stopped by Ctrl-C after its first epoch, at chance, was told '50 epochs may
    be too few...': the planned count, not the one epoch it ran."""
    import os

    import nudge.cli.core as core

    real_train = core.train

    def ctrl_c_after_epoch_one(*args, **kwargs):
        kwargs.update(callback=lambda record, net: os.kill(os.getpid(), signal.SIGINT))
        return real_train(*args, **kwargs)

    monkeypatch.setattr(core, "train", ctrl_c_after_epoch_one)
    code, _, err = run(capsys, "train", "--dataset", "digits", "--epochs", "50",
                       "--learning-rate", "0.0001", "--seed", "1",
                       "--out", str(tmp_path / "m.safetensors"), "--quiet")
    assert code == 130 and "stopped by Ctrl-C" in err, err
    ran = len(load(tmp_path / "m.safetensors").metadata["history"])
    chance = err.split("about chance")[1]
    assert "50 epochs" not in chance and f"get anywhere in {ran} epoch" in chance, err


@pytest.mark.parametrize("during", ["model", "plot"])
def test_ctrl_c_while_saving_finishes_the_save_then_exits_130(during, tmp_path, capsys,
                                                             monkeypatch):
    """A finished run's model (and figure) are saved even when Ctrl-C comes while they are
    being written: the training is not thrown away at its very end."""
    import os

    import nudge.modelfile
    import nudge.plots

    module = nudge.modelfile if during == "model" else nudge.plots
    real_write = module.atomic_write_bytes

    def ctrl_c_while_writing(path, data):
        os.kill(os.getpid(), signal.SIGINT)
        return real_write(path, data)

    monkeypatch.setattr(module, "atomic_write_bytes", ctrl_c_while_writing)
    out, plot = tmp_path / "m.safetensors", tmp_path / "p.png"
    code, _, err = run(capsys, "train", "--dataset", "digits", "--epochs", "2", "--out",
                       str(out), "--plot", str(plot), "--quiet")
    assert code == 130 and "Ctrl-C while saving" in err, err
    assert load(out).metadata["epochs_trained"] == 2 and plot.stat().st_size > 0


@pytest.mark.parametrize("as_json", [False, True])
def test_failed_save_goes_to_a_fallback_place(as_json, tmp_path, capsys, monkeypatch):
    import nudge.modelfile
    from nudge.errors import NudgeError

    monkeypatch.setenv("NUDGE_CACHE", str(tmp_path / "cache"))
    real_save = nudge.modelfile.save
    wanted = tmp_path / "m.safetensors"

    def disk_full_there(net, path, **metadata):
        if path == wanted:
            raise NudgeError(f"{path}: could not be saved (the disk is full; free some space "
                             "or choose another place)")
        return real_save(net, path, **metadata)

    monkeypatch.setattr(nudge.modelfile, "save", disk_full_there)
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "1", "--out",
                         str(wanted), "--quiet", *(["--json"] if as_json else []))
    assert code == 1 and not wanted.exists()
    (rescued,) = (tmp_path / "cache" / "rescued").glob("nudge-rescued-*.safetensors")
    last = err.strip().splitlines()[-1]
    assert "disk is full" in last and f"saved to {rescued} instead" in last
    if as_json:                    # one document: the result, its error said
        result = json.loads(out)
        assert result["model_path"] == str(rescued) and result["epochs"] == 1
        assert last.endswith(result["error"]) and list(result)[-1] == "error"
    else:
        assert f"saved {rescued}" in out
    assert load(rescued).metadata["dataset"] == "digits"


@pytest.mark.parametrize("make,message", [
    (lambda p: p.with_name("x" * 300), "300 bytes long"),
    (lambda p: (p.write_bytes(b"old"), p.chmod(0o444), p)[-1], "read-only"),
    (lambda p: (p.mkdir(), p)[-1], "is a folder"),
    (lambda p: (__import__("os").mkfifo(p), p)[-1], "FIFO"),
    (lambda p: p / "sub" / "m.safetensors", "does not exist"),
])
def test_unusable_destinations_are_refused_before_training(make, message, tmp_path, capsys):
    target = make(tmp_path / "m.safetensors")
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "1", "--out",
                         str(target), "--quiet")
    assert code == 1 and message in err and "training" not in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [
    ["train", "--dataset", "digits", "--epochs", "1", "--quiet", "--plot"],
    ["descent", "--dataset", "digits", "--epochs", "1", "--paths-plot"],
])
def test_a_figure_named_as_a_folder_is_refused_with_a_figure_name(argv, tmp_path, capsys,
                                                                   monkeypatch):
    """A --plot that names a folder was told 'give a file name such as
    curves.png/model.safetensors' (a model's name, for a figure, which must end in .png)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "curves.png").mkdir()
    code, out, err = run(capsys, *argv, "curves.png")
    assert code == 1 and err.strip().endswith(
        "curves.png is a folder; give a file name such as curves.png/figure.png"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]


def test_out_through_a_symlink_keeps_the_link_and_the_mode(tmp_path, capsys):
    import os

    real = save(Network([64, 4, 10], seed=0), tmp_path / "real.safetensors")
    real.chmod(0o640)
    link = tmp_path / "link.safetensors"
    link.symlink_to(real.name)
    code, _, err = run(capsys, "train", "--dataset", "digits", "--epochs", "1", "--out",
                       str(link), "--quiet")
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == real.name
    assert real.stat().st_mode & 0o777 == 0o640 and load(link).sizes[0] == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.safetensors",
                                                          "real.safetensors"]


def test_ctrl_c_while_starting_and_memory_error_are_one_line(monkeypatch, capsys):
    """A Ctrl-C while the command modules load, and a MemoryError in a command: one line,
    exit 130 and 1, no traceback."""
    import importlib

    from nudge import cli

    real = importlib.import_module

    def interrupted(name, package=None):
        if name == ".sweep":
            raise KeyboardInterrupt         # the signal arrives during this import
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", interrupted)
    assert cli.main(["info"]) == 130
    assert capsys.readouterr().err == "nudge: interrupted while starting\n"
    monkeypatch.setattr(importlib, "import_module", real)

    def out_of_memory(args):
        raise MemoryError

    parser = cli.build_parser()
    args = parser.parse_args(["info", "model.safetensors"])
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: args)
    args.func = out_of_memory
    assert cli.main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of memory" in err


def test_ctrl_c_at_any_moment_of_start_up_is_one_line():
    """SIGINT sent to a starting `python -m nudge` at several moments: never a traceback
    from nudge's code; exit 130 (or 1: it had finished).  In the first few milliseconds
    Python itself is still starting (runpy, site): a Ctrl-C there is Python's, not ours,
    and so is one while Python finds nudge/_start.py, the first line of nudge's code (it
    sets the handler, with nothing but built-in modules: `import signal` would take
    milliseconds more)."""
    import re
    import subprocess
    import sys
    import time

    for delay in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45):
        proc = subprocess.Popen([sys.executable, "-m", "nudge", "info", "missing.safetensors"],
                                stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        if "Traceback" in err:
            ours = re.findall(r'File "[^"]*/nudge/([^"]+)", line \d+', err)
            assert ours in ([], ["__init__.py"]), err           # not in nudge's code
            assert not ours or "from ._start import" in err, err
            continue
        assert proc.returncode in (130, 1, -signal.SIGINT), (delay, proc.returncode, err)
        assert err.count("\n") <= 1, err


def test_ctrl_c_while_the_command_ends_adds_nothing(tmp_path):
    """A Ctrl-C while the one-line error is written, or after the command returned, leaves
    the line and the exit status as they were (no traceback from the last moments)."""
    import subprocess
    import sys

    script = tmp_path / "nudge" / "__main__.py"        # as `python -m nudge` names itself
    script.parent.mkdir()
    script.write_text(
        "import os, signal, sys\n"
        "import nudge.cli as cli\n"
        "real = cli.printable\n"
        "def ctrl_c_while_writing(text):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(text)\n"
        "cli.printable = ctrl_c_while_writing\n"
        "code = cli.main(['info', 'missing.safetensors'])\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "print('ended', code)\n"
        "sys.exit(code)\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == "ended 1\n", proc.stderr
    assert proc.stderr.count("\n") == 1 and "nudge info: error:" in proc.stderr


def test_ctrl_c_in_code_run_by_exec_is_still_one_line_and_130(tmp_path):
    """`python -m nudge stability` ended "killed by SIGINT" (status -2), its one line
    written, when the Ctrl-C came while SciPy was being imported: NumPy's f2py runs strings
    with eval() then, and CPython notes a KeyboardInterrupt out of such a string as
    unhandled for the whole process even though nudge handled it; under `python -m` the
    interpreter then kills itself with SIGINT at exit.  Here the Ctrl-C comes in the first
    string that the command runs with exec() or eval() (the profile hook below), as
    `python -m` runs a module."""
    import subprocess
    import sys

    (tmp_path / "ctrl_c_in_exec.py").write_text(
        "import os, signal, sys\n"
        "import nudge._start\n"
        "from nudge.cli import main\n"
        "real_started, fired = nudge._start.started, []\n"
        "def hook(frame, event, arg):\n"
        "    if (event == 'call' and frame.f_code.co_filename == '<string>' and not fired\n"
        "            and frame.f_code.co_name == '<module>'):\n"
        "        fired.append(1)\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "def started():\n"
        "    real_started()\n"
        "    sys.setprofile(hook)\n"
        "nudge._start.started = started\n"
        "code = main(['stability', '--dataset', 'digits', '--steps', '2'])\n"
        "print('fired' if fired else 'never fired', code)\n"
        "sys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-m", "ctrl_c_in_exec"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert proc.stdout.splitlines()[-1:] == ["fired 130"], (proc.stdout, proc.stderr)
    assert proc.returncode == 130 and proc.stderr == "nudge stability: interrupted\n"


def test_ctrl_c_at_any_moment_of_nudge_stability_is_one_line():
    """SIGINT to `python -m nudge stability` at several moments, SciPy's import among them:
    its one line and exit status 130 (or 0: it had finished), never a traceback or death by
    the signal."""
    import subprocess
    import sys
    import time

    for delay in (0.45, 0.55, 0.65, 0.75, 0.85, 1.0):     # start-up ends after ~0.45 s
        proc = subprocess.Popen([sys.executable, "-m", "nudge", "stability", "--dataset",
                                 "digits", "--steps", "2"],
                                stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode in (130, 0), (delay, proc.returncode, err)
        if proc.returncode == 130:
            assert err in ("nudge stability: interrupted\n",
                           "nudge: interrupted while starting\n"), (delay, err)
        else:
            assert "lambda_max" in out and "Traceback" not in err, (delay, err)


def test_from_nudge_import_train_is_the_function():
    import nudge.train  # noqa: F401  (the module, imported first)
    from nudge import train

    assert callable(train) and train.__module__ == "nudge.train"


@pytest.mark.parametrize("argv,what", [
    (["average", "m.safetensors", "--draws", "100000"], "--draws"),
    (["average", "m.safetensors", "--seed", "-1"], "--seed"),
    (["average", "m.safetensors", "--check-examples", "-1"], "--check-examples"),
    (["average", "m.safetensors", "--batch-sizes", ",".join(["1"] * 101)], "at most 100"),
    (["descent", "m.safetensors", "--epochs", "99999"], "--epochs"),
    (["descent", "m.safetensors", "--seed", "-1"], "--seed"),
    (["descent", "m.safetensors", "--batch-sizes", "full,2000000"], "--batch-sizes"),
    (["stability", "--factors", ",".join(["1"] * 101)], "at most 100"),
])
def test_insight_counts_and_lists_are_bounded(argv, what, capsys):
    from nudge.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and what in err and err.count("\n") == 1
