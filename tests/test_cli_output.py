"""What the commands print, read as a student reads it: numbers in one format, words that
agree with the numbers, advice that fits the case (small data: the embedded 8x8 digits)."""

import re

import pytest

from nudge.cli import main
from nudge.display import duration, epochs_done


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def held_out_model(tmp_path_factory):
    """A digits model trained with 1,000 of its 1,497 training images held out."""
    path = tmp_path_factory.mktemp("held") / "m.safetensors"
    assert main(["train", "--dataset", "digits", "--epochs", "2", "--seed", "1",
                 "--validation", "1000", "--out", str(path), "--quiet"]) == 0
    return path


def test_durations_keep_their_significant_digits():
    assert duration(0.0023) == "0.0023 s"
    assert duration(0.24) == "0.24 s"
    assert duration(12.34) == "12 s"
    assert duration(0.1027) == "0.10 s" and duration(9.96) == "10 s"   # zeros kept, no "10."


def test_epochs_cut_short_are_said_to_be():
    assert [epochs_done(1), epochs_done(3), epochs_done(1, more=True)] == [
        "1 epoch", "3 epochs", "1 more epoch"]
    assert [epochs_done(1, True), epochs_done(3, True)] == [
        "part of an epoch", "less than 3 epochs"]
    assert [epochs_done(1, True, True), epochs_done(3, True, True)] == [
        "part of one more epoch", "less than 3 more epochs"]


def test_the_epoch_table_marks_an_epoch_cut_short(tmp_path, capsys, monkeypatch):
    """Ctrl-C in epoch 2: its row is "2 (part)" (the first epoch's row is whole)."""
    import os
    import signal

    import nudge.cli.core as core

    real_train = core.train

    def press_in_epoch_two(progress, net):
        if progress.epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)

    def ctrl_c_in_epoch_two(*args, **kwargs):
        kwargs.update(every=1, on_steps=press_in_epoch_two)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(core, "train", ctrl_c_in_epoch_two)
    assert main(["train", "--dataset", "digits", "--epochs", "5",
                 "--out", str(tmp_path / "m.safetensors")]) == 130
    rows = [line.split()[0:2] for line in capsys.readouterr().out.splitlines()]
    assert ["1", "(part)"] not in rows and ["2", "(part)"] in rows


def test_train_and_info_give_seconds_with_significant_digits(tmp_path, capsys):
    """A run of a few milliseconds was "0.0s of training" in train's summary, "0.00s" in its
    table, and "0.0047s" in info: one format, never a nought for time that was spent."""
    path = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "2", "--seed", "1",
                         "--out", path, "--quiet")
    assert code == 0, err
    spent = re.search(r", (\S+) s of training\)", out)
    assert spent and float(spent.group(1)) > 0, out
    assert re.search(r"\S s\n\n", out), out               # the table's time column, with unit
    code, out, err = run(capsys, "info", path)
    assert code == 0, err
    assert re.search(r"after 2 epochs \(\S+ s of training\)", out), out


def test_info_counts_held_out_images_with_thousands_separators(held_out_model, capsys):
    code, out, err = run(capsys, "info", held_out_model)
    assert code == 0, err
    assert "on the 1,000 training images held out" in out
    assert "1,000 held out" in out


def test_info_says_no_count_of_epochs_the_metadata_does_not_hold(tmp_path, capsys):
    """A model saved from Python with its accuracy but not its epochs: nudge info said
    "after None epochs" (and "at epoch 2 of None" with a best epoch)."""
    from nudge import Network, save

    path = tmp_path / "m.safetensors"
    for metadata, said in (({}, "test accuracy 50.00%\n"),
                           ({"best_epoch": 2}, "test accuracy 50.00% at epoch 2, the best")):
        save(Network([4, 3, 2], seed=1), path, test_accuracy=0.5, **metadata)
        code, out, err = run(capsys, "info", str(path))
        assert code == 0, err
        assert said in out and "None" not in out


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("digits") / "m.safetensors"
    assert main(["train", "--dataset", "digits", "--epochs", "3", "--seed", "1",
                 "--out", str(path), "--quiet"]) == 0
    return path


def test_average_by_default_measures_the_batch_sizes_the_data_allows(digits_model, capsys):
    """The default batch sizes went up to 10,000, so ``nudge average`` failed on the 1,497
    training images of the 8x8 digits (and with any --examples below 10,000)."""
    code, out, err = run(capsys, "average", digits_model, "--draws", "2",
                         "--check-examples", "10")
    assert code == 0, err
    sizes = [line.split()[0] for line in out.splitlines()[5:]
             if line[:10].strip().replace(",", "").isdigit()]
    assert sizes == ["1", "10", "100", "1,000"], out
    code, out, err = run(capsys, "average", digits_model, "--examples", "50",
                         "--batch-sizes", "10,100")
    assert code == 1 and err.count("\n") == 1
    assert "--batch-sizes: batch size 100 is larger than the 50 digits training examples" in err


@pytest.mark.parametrize("options, advice, not_said", [
    (["--learning-rate", "0.0001"], "too small to get anywhere in 2 epochs: try a larger "
     "--learning-rate or more --epochs", "smaller"),
    (["--activation", "relu", "--output", "softmax", "--cost", "cross-entropy"],
     "or steps of eta 1 too large (ReLU neurons stop firing", "sigmoid"),
    (["--epochs", "1"], "1 epoch may be too few to get going (try more --epochs)", "far"),
    (["--learning-rate", "500"], "with eta 500 (the 3b1b preset's is 1) the steps may be far "
     "too large (sigmoid neurons saturate): try a smaller --learning-rate", "larger"),
])
def test_the_note_on_a_run_that_learned_nothing_fits_its_cause(tmp_path, capsys, options,
                                                                advice, not_said):
    """It said 'the steps may be far too large (a sigmoid network saturates): try a smaller
    --learning-rate' also for eta = 0.0001, and for a ReLU network."""
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "2", "--seed", "1",
                         "--out", tmp_path / "m.safetensors", "--quiet", *options)
    assert code == 0, err
    assert "about chance" in err and advice in err, err
    assert not_said not in err.split("about chance")[1]


def test_nudges_names_no_direction_for_no_wish_and_aligns_the_bars(tmp_path, capsys):
    """With softmax and cross-entropy only the desired output has a wish (-dC_x/da is 0 for
    the others): those rows said "down" for +0.000e+00, and the bars, right-aligned, began
    at a different column for every length."""
    path = tmp_path / "softmax.safetensors"
    assert run(capsys, "train", "--dataset", "digits", "--epochs", "2", "--seed", "1",
               "--output", "softmax", "--cost", "cross-entropy", "--out", path,
               "--quiet")[0] == 0
    code, out, err = run(capsys, "nudges", path, "--example", "3", "--show", "2")
    assert code == 0, err
    rows = [line for line in out.splitlines() if re.match(r"\s+\d\s+0\.\d{4}\s+[01]\s", line)]
    assert len(rows) == 10, out
    for line in rows:
        wish = float(line.split()[3])
        word = "up" if wish > 0 else "down" if wish < 0 else "none"
        assert line.split()[4] == word, line
    assert len({line.index(line.split()[4]) for line in rows}) == 1, out
    assert "(softmax: the outputs add up to 1" in out and "a_j - desired_j" in out
    assert all(line == line.rstrip() for line in out.splitlines())


def test_nudges_says_desired_output_and_wished_for_nudge(fitted_model, capsys):
    """The docs' words (docs/mathematics.md: desired output, wished-for nudges), the page's
    too: nudge nudges said "wished change" where the page said "wished nudge"."""
    code, out, err = run(capsys, "nudges", fitted_model, "--dataset", "digits", "--example",
                         "0", "--show", "1")
    assert code == 0, err
    assert "outputs, desired outputs and the wished-for nudge of each" in out
    assert re.search(r"^output +a +desired +wished-for nudge$", out, re.M), out
    assert "wished change" not in out and "ways to get the wished-for nudges" in out


def test_sweep_counts_in_words_not_with_an_s_in_brackets(tmp_path, capsys):
    """'over 2 seed(s)', 'on 1 local worker(s)': nudge.display.counted says it in words."""
    out_file = tmp_path / "s.jsonl"
    code, out, err = run(capsys, "sweep", "--dataset", "digits", "--hidden", "4/8",
                         "--seeds", "1-2", "--epochs", "1", "--workers", "1", "--out", out_file)
    assert code == 0, err
    assert "on 1 local worker" in err and "over 2 seeds" in out
    assert "(s)" not in out + err


def test_train_says_what_it_trains_in_words_within_80_columns(tmp_path, capsys):
    """It printed Python's reprs, 'training Network(64-16-16-10, activation='sigmoid', ...,
    1482 parameters)' and 'on Dataset('digits', train=1497, ...)', lines of over 100
    columns with counts unseparated."""
    code, out, err = run(capsys, "train", "--dataset", "digits", "--epochs", "1", "--seed", "1",
                         "--validation", "1000", "--schedule", "plateau", "--patience", "2",
                         "--out", tmp_path / "m.safetensors", "--quiet")
    assert code == 0, err
    head = err.splitlines()[:4]
    assert head[0] == "training 64-16-16-10: sigmoid hidden, sigmoid output, quadratic cost"
    assert head[1] == "  on digits (8x8 images): 497 to train on, 1,000 held out, 300 to test"
    assert head[2].startswith("  1,482 weights and biases; 1 epoch, batch size 10, sgd, seed 1")
    assert head[3].startswith("  eta 1 (halved after 2 epochs without a rise")
    assert all(len(line) <= 80 for line in head), head


def test_a_network_without_hidden_layers_is_not_said_to_have_sigmoid_hidden_ones(tmp_path,
                                                                              capsys):
    """train and info called a 64-10 network 'sigmoid hidden': it has no hidden layer."""
    model = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "train", "--dataset", "digits", "--sizes", "64,10",
                         "--epochs", "1", "--seed", "1", "--out", model, "--quiet")
    assert code == 0, err
    assert err.splitlines()[0] == ("training 64-10: no hidden layer, sigmoid output, "
                                   "quadratic cost")
    code, out, err = run(capsys, "info", model)
    assert code == 0, err
    assert "64-10  (no hidden layer, sigmoid" in out and "sigmoid hidden" not in out


def test_sensitivity_counts_a_layers_parameters_with_thousands_separators(digits_model,
                                                                           capsys):
    code, out, err = run(capsys, "sensitivity", digits_model, "--examples", "100", "--top", "2")
    assert code == 0, err
    assert re.search(r"^\s+1\s+weights\s+1,024\s", out, re.M), out      # 16 x 64, was 1024


def _prose(out: str) -> list[str]:
    """The lines of ``out`` outside its tables (a table: the line above a rule of dashes,
    the rule, and the lines after it up to a blank line, none wider than the rule)."""
    prose, width = [], 0
    for line in out.splitlines():
        if re.fullmatch(r"-+(  -+)*", line):
            width = len(line)
            prose.pop()                                     # the header
        elif not line or len(line) > width:
            width = 0
        if not width:
            prose.append(line)
    return prose


@pytest.fixture(scope="module")
def tracked_model(tmp_path_factory):
    """A digits model with early stopping and the noise scale tracked: the longest
    ``nudge info`` (its training settings alone were a line of about 190 columns)."""
    path = tmp_path_factory.mktemp("tracked") / "m.safetensors"
    assert main(["train", "--dataset", "digits", "--epochs", "2", "--seed", "1", "--quiet",
                 "--validation", "300", "--patience", "2", "--schedule", "plateau",
                 "--track", "noise", "--out", str(path)]) == 0
    return path


@pytest.mark.parametrize("argv", [
    ["info", "MODEL"],
    ["sensitivity", "MODEL", "--examples", "200", "--top", "2", "--compare", "b3[2]",
     "w1[3,20]"],
    ["nudges", "MODEL", "--example", "0"],
    ["average", "MODEL", "--examples", "200", "--draws", "2", "--check-examples", "50"],
    ["descent", "--dataset", "digits", "--train-limit", "200", "--epochs", "2"],
    ["landscape", "MODEL", "--examples", "200", "--points", "5", "--grid", "3",
     "--weight-decay", "1e-4"],
    ["interpolate", "MODEL", "--from-init", "--examples", "200", "--points", "5"],
    ["noise", "MODEL", "--examples", "200"],
    ["curvature", "MODEL", "--examples", "200", "--top", "2"],
    ["stability", "--dataset", "digits", "--train-limit", "200", "--steps", "5",
     "--factors", "0.5,1.1"],
    ["train", "--dataset", "digits", "--epochs", "1", "--seed", "1", "--track", "noise",
     "--sizes", "64,100,100,100,100,10", "--output", "softmax", "--cost", "cross-entropy",
     "--out", "OUT", "--quiet"],
    ["sweep", "--dataset", "digits", "--hidden", "4/8", "--activation", "sigmoid,relu",
     "--learning-rate", "1,3", "--epochs", "1", "--workers", "1", "--validation", "300",
     "--out", "s.jsonl"],
], ids=lambda argv: argv[0])
def test_prose_is_wrapped_to_80_columns_and_tables_are_not(argv, tracked_model, tmp_path,
                                                           capsys, monkeypatch):
    """The summaries were single lines of up to 700 columns (noise's explanation), which
    a terminal breaks inside words; a wrapped line keeps its words, numbers and formulas
    whole ("2/lambda_max = 3.047", "neuron 5 +3.82e-01"), and tables keep their rows."""
    monkeypatch.chdir(tmp_path)                  # a short name: a path is never broken
    argv = [str(tracked_model) if a == "MODEL" else "o.safetensors" if a == "OUT" else a
            for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    prose = _prose(out)
    assert all(len(line) <= 80 for line in prose), [ln for ln in prose if len(ln) > 80]
    assert len(prose) < len(out.splitlines()) or argv[0] == "info"     # tables stay
    assert not re.search(r"(=|\+-)$", out, re.M), out                 # no formula split
    if argv[0] == "train":                                           # its header, on stderr
        header = err.split("\nnudge:")[0].splitlines()
        assert all(len(line) <= 80 for line in header), header


@pytest.mark.parametrize("examples", ["200", "900", "1797"])
def test_noise_keeps_its_formula_on_one_line(tracked_model, capsys, examples):
    """The explanation wrote sqrt((n - B)/(B (n - 1)) B_simple): its products were
    spaces, so the wrapped line could end in "/(B" and go on "(n - 1)) B_simple)"; the
    formula is written as nudge average writes it, with an operator for each product, which
    the wrapping never splits (whatever the widths of the numbers before it)."""
    code, out, err = run(capsys, "noise", tracked_model, "--examples", examples)
    assert code == 0, err
    assert any("sqrt((n - B)/(B(n - 1)) * B_simple)" in line for line in out.splitlines())


def test_info_wraps_its_values_under_the_value_column(tracked_model, capsys):
    code, out, err = run(capsys, "info", tracked_model)
    assert code == 0, err
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  training      "))
    assert len(lines[start]) <= 80 and len(lines[start + 1]) <= 80, lines
    assert lines[start + 1][:16].isspace() and not lines[start + 1][16].isspace(), lines
    settings = " ".join(line.strip() for line in lines[start:start + 4])
    assert "epochs=2, batch_size=10, learning_rate=1.0, schedule=plateau" in settings


def test_nudges_are_never_a_negative_zero(tracked_model, capsys):
    """-delta_j * a_k is -0.0 in floating point where a pixel is 0 and delta_j > 0: those
    nudges printed as "-0.00e+00", as if they pushed the weight down."""
    code, out, err = run(capsys, "nudges", tracked_model, "--example", "0", "--show", "1024")
    assert code == 0, err
    assert "+0.00e+00" in out and "-0.00e+00" not in out
    assert not re.search(r"-0\.0+e\+00", out)


def test_wrapped_keeps_what_fits_and_breaks_only_between_words():
    from nudge.display import WIDTH, wrapped

    short = "  a line   that fits, spaces and all"
    assert wrapped(short) == short
    text = ("the sharpest direction curves the cost with second derivative lambda_max = "
            "0.6563: gradient descent is stable below 2/lambda_max = 3.047, trace 4.571 +- "
            "0.35, largest: neuron 5 +3.82e-01, neuron 12 -1.36e-01 " * 3).strip()
    lines = wrapped(f"  {text}").splitlines()
    assert all(len(line) <= WIDTH for line in lines) and len(lines) > 3
    assert lines[0].startswith("  the") and all(line.startswith("    ") for line in lines[1:])
    assert " ".join(" ".join(lines).split()) == text                  # nothing lost
    joined = "\n".join(lines)
    for whole in ("lambda_max = 0.6563:", "2/lambda_max = 3.047,", "4.571 +- 0.35,",
                  "neuron 5 +3.82e-01,", "neuron 12 -1.36e-01"):
        assert joined.count(whole) == 3, (whole, joined)
    assert wrapped(f"label  {text}", hang=7).splitlines()[1].startswith("       ")
    assert wrapped(text, hang=0).splitlines()[1][0] != " "
    assert wrapped("a " + "x" * 100 + " y") == "a " + "x" * 100 + "\n  y"   # never "a" alone


def test_say_prints_the_wrapped_text_to_its_file(capsys):
    import io

    from nudge.display import say, wrapped

    text = "the cost " + "falls as the nudges add up " * 6
    say(text, hang=0)
    assert capsys.readouterr().out == wrapped(text, hang=0) + "\n"
    sink = io.StringIO()
    say(text, file=sink)
    assert sink.getvalue() == wrapped(text) + "\n" and "\n  " in sink.getvalue()


def test_number_never_shows_a_negative_zero():
    from nudge.display import number

    assert number(-0.0) == "+0.000e+00" and number(-0.0, ".2e") == "0.00e+00"
    assert number(-1e-9, "+.4f") == "+0.0000" and number(-1e-9, ".2%") == "0.00%"
    assert number(-2.5e-3) == "-2.500e-03" and number(3.0, "+.1f") == "+3.0"
    assert number(float("-inf")) == "-inf" and number(float("nan")) == "+nan"
