"""The line between two networks (``interpolate``), a model's initial weights, and the
landscape's directions (filter-normalised ones, the slope along each, weight decay)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nudge import insight as ins
from nudge.cli import main
from nudge.errors import NudgeError
from nudge.modelfile import load
from nudge.network import Network
from nudge.settings import resolve


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, digits):
    folder = tmp_path_factory.mktemp("m")
    paths = []
    for seed in (1, 2):
        path = folder / f"seed{seed}.safetensors"
        assert main(["train", "--dataset", "digits", "--epochs", "4", "--seed", str(seed),
                     "--out", str(path), "--quiet", "--json"]) == 0
        paths.append(str(path))
    return paths


# --------------------------------------------------------------------------- interpolate
def test_the_line_passes_through_both_networks_and_their_average(digits):
    a, b = Network([64, 16, 10], seed=1), Network([64, 16, 10], seed=2)
    b.fit(digits.X_train, digits.y_train, epochs=1, batch_size=10, learning_rate=3.0)
    X, y = digits.X_train[:400], digits.y_train[:400]
    line = ins.interpolate(a, b, X, y, ts=[0.5, 1.2], labels=("a", "b"))
    np.testing.assert_array_equal(line.ts, [0.0, 0.5, 1.0, 1.2])          # 0 and 1 added
    assert line.costs[0] == pytest.approx(a.cost(X, y), rel=1e-6)
    assert line.costs[2] == pytest.approx(b.cost(X, y), rel=1e-6)
    assert line.accuracies[2] == b.score(X, y) and line.accuracy_a == a.score(X, y)
    mid = a.copy()
    ins.set_parameters(mid, (ins.get_parameters(a) + ins.get_parameters(b)) / 2)
    assert line.costs[1] == pytest.approx(mid.cost(X, y), rel=1e-6)
    assert line.accuracies[1] == mid.score(X, y)
    rise = line.costs[1] - (line.cost_a + line.cost_b) / 2
    assert line.barrier == pytest.approx(max(0.0, rise))
    assert line.distance == pytest.approx(np.linalg.norm(ins.get_parameters(b)
                                                         - ins.get_parameters(a)))
    json.dumps(line.to_dict())


def test_a_ridge_only_where_the_cost_rises_above_both_ends(digits):
    b = Network([64, 16, 10], seed=1)
    b.fit(digits.X_train, digits.y_train, epochs=5, batch_size=10, learning_rate=3.0,
          schedule="constant")
    a = b.copy()                                 # -θ to θ: the cost falls all the way, bent
    ins.set_parameters(a, -ins.get_parameters(b))
    X, y = digits.X_train[:400], digits.y_train[:400]
    down = ins.interpolate(a, b, X, y, ts=np.linspace(0, 1, 21), labels=("start", "end"))
    costs = down.costs
    assert down.monotone_from_a and costs.max() == costs[0]             # falls all the way
    assert down.barrier > 0.05 * costs[0] and down.summary.startswith("no ridge, but a bend")
    other = Network([64, 16, 10], seed=2)
    other.fit(digits.X_train, digits.y_train, epochs=5, batch_size=10, learning_rate=3.0,
              schedule="constant")
    apart = ins.interpolate(b, other, X, y, ts=np.linspace(0, 1, 21))
    assert apart.costs.max() > max(apart.cost_a, apart.cost_b)
    assert apart.summary.startswith("a ridge: at t = ")


def test_default_line_and_bad_lines(digits):
    a = Network([64, 10], seed=1)
    X, y = digits.X_train[:50], digits.y_train[:50]
    line = ins.interpolate(a, a.copy(), X, y)
    assert len(line.ts) == 31 and line.ts[0] == -0.25 and line.ts[-1] == 1.25
    assert 0.0 in line.ts and 1.0 in line.ts
    np.testing.assert_allclose(line.costs, line.costs[0])                 # A = B: flat
    assert line.barrier < 1e-12 and "no ridge" in line.summary
    with pytest.raises(NudgeError, match="sizes"):
        ins.interpolate(a, Network([64, 12, 10]), X, y)
    with pytest.raises(NudgeError, match="activation"):
        ins.interpolate(a, Network([64, 10], activation="tanh"), X, y)
    with pytest.raises(NudgeError):
        ins.interpolate(a, a, X, y, points=1)
    with pytest.raises(NudgeError):
        ins.interpolate(a, a, X, y, start=1.0, end=0.0)
    with pytest.raises(NudgeError):
        ins.interpolate(a, a, X[:0], y[:0])


def test_initial_network_is_the_one_training_started_from(two_models, digits):
    net = load(two_models[0])
    init = ins.initial_network(net)
    setup = resolve("3b1b", n_inputs=64, n_classes=10)
    expected = setup.network(1)                         # as nudge train made it (seed 1)
    np.testing.assert_array_equal(ins.get_parameters(init), ins.get_parameters(expected))
    assert init.config == net.config and init.dtype == net.dtype
    assert not np.array_equal(ins.get_parameters(init), ins.get_parameters(net))
    no_seed = net.copy()
    no_seed.seed = None
    with pytest.raises(NudgeError, match="seed"):
        ins.initial_network(no_seed)


def test_cli_interpolate(capsys, two_models, tmp_path):
    png = tmp_path / "i.png"
    assert main(["interpolate", *two_models, "--points", "11", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "ridge" in out and "+0.000" in out and "+1.000" in out and png.is_file()
    assert main(["interpolate", two_models[0], "--from-init", "--json", "--examples", "300",
                 "--from", "0", "--to", "1", "--points", "6"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["label_a"] == "initial weights" and data["n_examples"] == 300
    assert data["ts"] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert data["cost_b"] < data["cost_a"]


@pytest.mark.parametrize("argv, words", [
    (["interpolate", "{a}"], "two models"),
    (["interpolate", "{a}", "{b}", "--from-init"], "two models"),
    (["interpolate", "{a}", "{b}", "--from", "2", "--to", "1"], "below"),
    (["interpolate", "{a}", "/nonexistent.safetensors"], "no such model file"),
])
def test_cli_interpolate_errors(capsys, two_models, argv, words):
    argv = [s.replace("{a}", two_models[0]).replace("{b}", two_models[1]) for s in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


# --------------------------------------------------------------------------- landscape
def test_filter_normalised_directions(digits):
    net = Network([64, 16, 10], seed=0, dtype=np.float64)
    d = ins.filter_normalized_direction(net, np.random.default_rng(0))
    weights, biases = ins.unflatten(net, d)
    for D, W in zip(weights, net.weights):               # each neuron's row: |d_j| = |w_j|
        np.testing.assert_allclose(np.linalg.norm(D, axis=1), np.linalg.norm(W, axis=1))
    assert all(not b.any() for b in biases)              # biases are not moved
    X, y = digits.X_train[:300], digits.y_train[:300]
    land = ins.landscape(net, X, y, points=9, grid=5, directions="filter", dtype=np.float64)
    assert land.offsets.max() == 1.0                     # default span 1 for filter
    mid = 4
    for k in range(2):
        assert land.cost_along[k][mid] == pytest.approx(land.cost, rel=1e-12)
        assert land.slopes[k] == pytest.approx(land.predicted_slopes[k], rel=1e-4)
    np.testing.assert_allclose(land.plane_costs[2, :], land.cost_along[0][::2], rtol=1e-12)
    np.testing.assert_allclose(land.plane_costs[:, 2], land.cost_along[1][::2], rtol=1e-12)
    assert "filter" in land.labels[0]


def test_gradient_directions_slopes_and_weight_decay(digits):
    net = Network([64, 16, 10], seed=0, dtype=np.float64)
    X, y = digits.X_train[:300], digits.y_train[:300]
    land = ins.landscape(net, X, y, span=1.0, points=5, grid=3, dtype=np.float64)
    assert land.directions == "gradient"
    assert land.predicted_slopes[0] == pytest.approx(-land.gradient_norm, rel=1e-12)
    assert abs(land.predicted_slopes[1]) < 1e-12 * land.gradient_norm      # ⟂ by construction
    assert abs(land.slopes[1]) < 1e-6 * land.gradient_norm
    assert land.slope_downhill == pytest.approx(-land.gradient_norm, rel=1e-5)
    lam = 0.01
    wd = ins.landscape(net, X, y, span=1.0, points=5, grid=3, dtype=np.float64,
                       weight_decay=lam)
    penalty = 0.5 * lam * sum(np.sum(W ** 2) for W in net.weights)
    assert wd.cost == pytest.approx(land.cost + penalty, rel=1e-12)
    assert wd.cost_along[0][2] == pytest.approx(land.cost + penalty, rel=1e-12)
    g = ins.full_gradient(net, X, y)
    full = ins.flatten([gw + lam * W for gw, W in zip(g.weights, net.weights)], g.biases)
    assert wd.gradient_norm == pytest.approx(np.linalg.norm(full), rel=1e-12)
    assert wd.slopes[0] == pytest.approx(-wd.gradient_norm, rel=1e-5)
    with pytest.raises(NudgeError, match="unknown directions 'pca': choose one of gradient, "
                       "filter$"):
        ins.landscape(net, X, y, directions="pca")
    with pytest.raises(NudgeError, match="unknown directions 'ppp.*\\.\\.\\.: choose"):
        ins.landscape(net, X, y, directions="p" * 5000)    # cut short, not echoed whole
    with pytest.raises(NudgeError, match="weight decay"):
        ins.landscape(net, X, y, weight_decay=-1.0)
    for span, words in (("3", "span must be a number, got '3'"), (math.nan, "finite"),
                        (1e4, "at most 1,000")):          # "3" was a TypeError
        with pytest.raises(NudgeError, match=words):
            ins.landscape(net, X, y, span=span)


@pytest.mark.parametrize("directions", ["gradient", "filter"])
def test_measured_slopes_do_not_depend_on_the_span(digits, directions):
    """The slope at the model is a central difference of the directions' own scale: with
    the step 1e-3 of --span, a span of 1e-5 measured rounding (0 downhill, and 40% of
    |grad C| along the direction orthogonal to it) and a span of 1000 a chord 2 long."""
    net = Network([64, 16, 10], seed=0)
    X, y = digits.X_train[:300], digits.y_train[:300]
    for span in (1e-5, 1000.0):
        land = ins.landscape(net, X, y, span=span, points=3, grid=3, directions=directions)
        for k in range(2):
            assert land.slopes[k] == pytest.approx(land.predicted_slopes[k],
                                                   abs=0.02 * land.gradient_norm * land.norms[k])


def test_cli_landscape_filter_and_decay(capsys, two_models, tmp_path):
    png = tmp_path / "l.png"
    assert main(["landscape", two_models[0], "--directions", "filter", "--examples", "200",
                 "--points", "7", "--grid", "3", "--weight-decay", "0.001", "--plot",
                 str(png)]) == 0
    out = capsys.readouterr().out
    assert "filter-normalised" in out and "lambda = 0.001" in out and png.is_file()
    assert main(["landscape", two_models[0], "--examples", "200", "--points", "5", "--grid",
                 "3"]) == 0
    out = capsys.readouterr().out
    assert "0 by construction" in out and "no weight decay" in out
    assert main(["landscape", two_models[0], "--examples", "100", "--points", "5", "--grid",
                 "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["directions"] == "gradient" and len(data["cost_along"]) == 2

