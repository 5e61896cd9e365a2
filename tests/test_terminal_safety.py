"""Text from files cannot drive the terminal: whatever nudge prints that came from a model
file, a results file or a file name has its control, bidi and zero-width characters
escaped (``nudge.errors.printable``, the one place that does it), while letters of every
script print as they are; ``--json`` is JSON-escaped; a model file's names are refused."""

import json
import os
import subprocess
import sys
import warnings

import pytest
from PIL import Image

from nudge import Network, load, save
from nudge.cli import main
from nudge.errors import ModelFileError, NudgeError, is_printable, printable

#: an OSC title change with BEL, clear screen, carriage return and line break, an 8-bit
#: CSI (C1), DEL, a right-to-left override, a left-to-right isolate, a zero-width space
EVIL = "\x1b]0;pwned\x07\x1b[2J\r\n\x9b31m\x7f\u202e\u2066\u200b"
RAW = ["\x1b", "\x07", "\r", "\x9b", "\x7f", "\u202e", "\u2066", "\u200b", "\udcff"]
#: ordinary text in other scripts: accents, Arabic-Indic and Devanagari digits, Persian
#: with its zero-width non-joiner, a no-break space, CJK, an emoji joined by ZWJs
KIND = ["chiffre é", "۳", "तीन", "می\u200cخواهم", "a\u00a0b", "数字\u3000三",
        "👩\u200d👩\u200d👧", "Ωμέγα", "ß", "x"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean(text: str) -> None:
    for c in RAW:
        assert c not in text, (c, text)


def test_printable_escapes_what_drives_a_terminal_and_keeps_text():
    for c in RAW + ["\n", "\t", "\x00", "\x85", "\u2028", "\u2029", "\u200e", "\u2067",
                    "\u061c", "\ufeff", "\U000e0041"]:
        shown = printable(f"a{c}b")
        assert shown.startswith("a\\") and shown.endswith("b") and shown.isascii(), shown
        assert not is_printable(c)
    assert printable("\x1b[2J") == "\\x1b[2J" and printable("\u202e") == "\\u202e"
    assert printable(EVIL) == ("\\x1b]0;pwned\\x07\\x1b[2J\\r\\n\\x9b31m\\x7f\\u202e\\u2066"
                               "\\u200b")
    for text in KIND + ["C:\\models\\m.safetensors", "", " spaced  out "]:
        assert printable(text) == text and is_printable(text), text
    assert printable(3) == "3" and printable(None) == "None"
    assert str(NudgeError(f"bad {EVIL}")) == "bad " + printable(EVIL)


# --------------------------------------------------------------------------- model files
def _model(path, **metadata):
    return save(Network([64, 10], seed=0), path, **metadata)


def _picture(path, digits):
    Image.fromarray(digits.X_test[0].reshape(8, 8)).resize((80, 80)).save(path)
    return path


def test_a_models_free_text_is_shown_escaped_by_info_and_predict(tmp_path, capsys, digits):
    """preset, created and training are free text (save keeps it): printed escaped, one line
    each; class names in other scripts print unchanged; a picture's hostile name too."""
    model = _model(tmp_path / "m.safetensors", dataset="digits", preset="3b1b" + EVIL,
                   created=EVIL, classes=KIND, training={"note": EVIL, EVIL: 1})
    picture = _picture(tmp_path / f"seven{EVIL[:10]}.png", digits)
    code, out, err = run(capsys, "info", str(model))
    assert code == 0, err
    assert_clean(out + err)
    preset = next(line for line in out.splitlines() if line.lstrip().startswith("preset"))
    assert "3b1b\\x1b]0;pwned\\x07" in preset and "\\u202e" in preset and "\\r\\n" in preset
    code, out, err = run(capsys, "predict", str(model), str(picture))
    assert code == 0, err
    assert_clean(out + err)
    first = out.splitlines()[0]
    assert "\\x1b]0;pwned" in first and first.split(": ")[-1] in KIND
    missing = tmp_path / f"gone{EVIL}.png"
    code, out, err = run(capsys, "predict", str(model), str(missing))
    assert code == 1 and err.count("\n") == 1 and "gone\\x1b" in err
    assert_clean(out + err)


def test_info_shows_a_screen_of_a_long_free_text_and_json_all_of_it(tmp_path, capsys):
    from nudge.cli.model import MAX_FIELD

    model = _model(tmp_path / "m.safetensors", dataset="digits", training={"note": "x" * 100_000})
    code, out, err = run(capsys, "info", str(model))
    assert code == 0, err
    assert len(out) < 2 * MAX_FIELD + 1000 and "(cut: 100,005 characters in all)" in out
    code, out, err = run(capsys, "info", str(model), "--json")
    assert json.loads(out)["metadata"]["training"]["note"] == "x" * 100_000


def test_json_output_is_escaped_and_keeps_the_exact_text(tmp_path, capsys, digits):
    model = _model(tmp_path / f"m{EVIL}.safetensors", dataset="digits", preset=EVIL,
                   classes=KIND)
    picture = _picture(tmp_path / f"p{EVIL[:10]}.png", digits)
    for argv in (["info", str(model), "--json"], ["predict", str(model), str(picture), "--json"]):
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert_clean(out + err)
        result = json.loads(out)
        assert result["model"] == str(model)
    assert result["predictions"][0]["image"] == str(picture)
    assert json.loads(run(capsys, "info", str(model), "--json")[1])["metadata"]["preset"] == EVIL


@pytest.mark.parametrize("key,value", [
    ("classes", ["ok"] * 9 + [f"nine{EVIL}"]),
    ("classes", ["ok"] * 9 + ["a\rb"]),
    ("classes", ["ok"] * 9 + ["\u202eenin"]),
    ("classes", ["ok"] * 9 + [""]),
    ("classes", ["ok"] * 9 + ["n" * 101]),
    ("dataset", f"digits{EVIL}"),
])
def test_a_model_whose_names_hold_control_characters_is_refused(tmp_path, capsys, key, value):
    """Class and dataset names are names nudge writes from its datasets: one with control,
    bidi or zero-width characters is damage or tampering, refused by load (the library's
    users print names too) and by save; the error line shows the name escaped."""
    from safetensors.numpy import save_file

    good = _model(tmp_path / "good.safetensors", dataset="digits")
    header = json.loads(_header(good))
    header[key] = value
    path = tmp_path / "bad.safetensors"
    net = load(good)
    save_file({"0.weight": net.weights[0], "0.bias": net.biases[0]}, str(path),
              metadata={"format": "nudge-model", "nudge": json.dumps(header)})
    with pytest.raises(ModelFileError, match=f"invalid {key}") as e:
        load(path)
    assert "\n" not in str(e.value) and "damaged" in str(e.value)
    assert_clean(str(e.value))
    code, out, err = run(capsys, "info", str(path))
    assert code == 1 and err.count("\n") == 1 and f"invalid {key}" in err
    assert_clean(out + err)
    with pytest.raises(NudgeError, match=f"invalid {key}.*not saved"):
        save(net, tmp_path / "new.safetensors", **{key: value})
    assert not (tmp_path / "new.safetensors").exists()


def _header(path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), "np") as f:
        return f.metadata()["nudge"]


# --------------------------------------------------------------------------- file names
@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory, digits):
    """A digits model whose file name holds escape sequences and an undecodable byte."""
    folder = tmp_path_factory.mktemp("evil")
    net = Network([64, 12, 10], seed=3)
    net.fit(digits.X_train, digits.y_train, epochs=1, batch_size=10, learning_rate=3.0,
            seed=3, monitor_train_cost=False)
    name = os.fsdecode(b"m\x1b[2J\r\xe2\x80\xae\xff") + ".safetensors"
    return str(save(net, folder / name, dataset="digits")), folder


@pytest.mark.parametrize("argv", [
    ["info", "M"],
    ["evaluate", "M"],
    ["sensitivity", "M", "--examples", "100", "--plot", "P"],
    ["nudges", "M", "--example", "0", "--plot", "P"],
    ["average", "M", "--examples", "200", "--batch-sizes", "1,10", "--draws", "3",
     "--plot", "P"],
    ["landscape", "M", "--examples", "100", "--points", "5", "--grid", "3", "--plot", "P"],
    ["interpolate", "M", "M", "--examples", "100", "--points", "5", "--plot", "P"],
    ["interpolate", "M", "--from-init", "--examples", "100", "--points", "5"],
    ["noise", "M", "--examples", "100", "--plot", "P"],
    ["curvature", "M", "--examples", "100", "--top", "1", "--smallest", "0", "--plot", "P"],
    ["stability", "M", "--train-limit", "100", "--steps", "3", "--plot", "P"],
    ["train", "--dataset", "digits", "--epochs", "1", "--quiet", "--out", "M2",
     "--plot", "P"],
])
def test_file_names_are_shown_escaped_by_every_command(capsys, hostile_model, argv):
    """The model, picture, plot and output names each command echoes: a file name (from a
    glob, say) with escape sequences, a carriage return, a bidi override or bytes that are
    not UTF-8 is shown escaped and cannot crash the output either."""
    model, folder = hostile_model
    plot = str(folder / os.fsdecode(b"plot\x1b]0;pwned\x07\xff.png"))
    names = {"M": model, "P": plot, "M2": str(folder / os.fsdecode(b"out\x1b[H\xff.st"))}
    argv = [names.get(a, a) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert_clean(out + err)
    assert "\\x1b" in out and "\\udcff" in out


def test_the_command_line_in_a_real_terminal_encoding(tmp_path, digits):
    """The same through a real process writing UTF-8 (strict): nothing raw, no crash."""
    model = _model(tmp_path / "m\x1b[2J.safetensors", dataset="digits", preset=EVIL,
                   classes=KIND)
    picture = _picture(tmp_path / os.fsdecode(b"p\x1b[2J\xff.png"), digits)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    for argv in (["info", str(model)], ["predict", str(model), str(picture)]):
        proc = subprocess.run([sys.executable, "-m", "nudge", *argv], capture_output=True,
                              env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        text = proc.stdout.decode("utf-8") + proc.stderr.decode("utf-8")
        assert_clean(text)
        assert "\\x1b[2J" in text
    assert "p\\x1b[2J\\udcff.png: " in text and text.splitlines()[0].split(": ")[-1] in KIND


# --------------------------------------------------------------------------- sweep results
def test_a_results_files_names_are_shown_escaped_in_the_sweep_table(tmp_path, capsys):
    """A sweep's results file is data too: its setting names (a preset, a dataset) print
    escaped in the table and the best-setting line; --json keeps them exact."""
    def record(preset, seed):
        return {"settings": {"dataset": "digits", "preset": preset, "learning_rate": 3.0},
                "seed": seed, "diverged": False, "test_accuracy": 0.5 + seed / 10,
                "test_cost": 0.1, "seconds": 1.0, "epochs": []}

    out = tmp_path / f"s{EVIL[:4]}.jsonl"
    out.write_text("".join(json.dumps(record(p, s)) + "\n"
                           for s, p in enumerate(["3b1b", f"evil{EVIL}"], start=1)))
    code, text, err = main(["sweep", "--report", str(out)]), *capsys.readouterr()
    assert code == 0, err
    assert_clean(text + err)
    assert "evil\\x1b]0;pwned" in text and "best: preset=evil\\x1b" in text
    code = main(["sweep", "--report", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["best"]["settings"]["preset"] == f"evil{EVIL}"


def test_dollar_signs_in_names_do_not_stop_a_figure(tmp_path, capsys, digits):
    """matplotlib reads $...$ as mathematics: a model file or a results file whose names
    hold an unbalanced formula (a$x_{$b) still gets its figure, the name shown as it is."""
    net = Network([64, 10], seed=0)
    model = str(save(net, tmp_path / "a$x_{$b.safetensors", dataset="digits"))
    code, _, err = run(capsys, "interpolate", model, model, "--examples", "50", "--points",
                       "3", "--plot", str(tmp_path / "line.png"))
    assert code == 0 and (tmp_path / "line.png").stat().st_size > 0, err

    def record(preset, seed):
        return {"settings": {"dataset": "digits", "preset": preset, "learning_rate": 3.0},
                "seed": seed, "diverged": False, "test_accuracy": 0.5, "test_cost": 0.1,
                "seconds": 1.0, "epochs": [{"epoch": 1, "test_accuracy": 0.5}]}

    results = tmp_path / "s.jsonl"
    results.write_text("".join(json.dumps(record(p, s)) + "\n"
                               for s, p in enumerate(["3b1b", "a$x_{$b"], start=1)))
    code = main(["sweep", "--report", str(results), "--plot", str(tmp_path / "s.png")])
    assert code == 0 and (tmp_path / "s.png").stat().st_size > 0, capsys.readouterr().err


def test_notes_are_shown_escaped(capsys):
    from nudge.cli.common import note

    note(f"a file named {EVIL}")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\\x1b" in err
    assert_clean(err)


def test_the_web_servers_log_of_a_request_path_is_escaped(caplog):
    """A request path is percent-decoded: %1b in a URL that hits a bug reaches the log (the
    server's terminal) escaped."""
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    from starlette.applications import Starlette
    from starlette.routing import Route

    with warnings.catch_warnings():        # newer Starlette suggests httpx2; httpx works
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from nudge.web.server import json_errors

    async def broken(request):
        raise RuntimeError("a bug")

    app = Starlette(routes=[Route("/{rest:path}", json_errors(broken))])
    with TestClient(app) as client:
        response = client.get("/x%1b%5b2J%e2%80%ae")
    assert response.status_code == 500
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "\\x1b[2J" in logged and "\\u202e" in logged
    assert_clean(logged)
