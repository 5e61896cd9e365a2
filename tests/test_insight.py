"""Tests of nudge.insight: the gradient made visible must be the gradient."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

from nudge import insight as ins
from nudge.cli import main
from nudge.data import load_dataset
from nudge.errors import NudgeError
from nudge.network import Network


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _net(sizes, seed=0, **kw) -> Network:
    return Network(sizes, seed=seed, **kw).astype(np.float64)


def _random_data(n, n_in, n_out=10, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, n_in), dtype=np.uint8), rng.integers(0, n_out, n)


ARCHS = [
    dict(sizes=[64, 16, 16, 10]),
    dict(sizes=[64, 12, 10], activation="relu", output="softmax", cost="cross-entropy"),
    dict(sizes=[64, 8, 7, 10], activation="tanh", output="sigmoid", cost="cross-entropy"),
    dict(sizes=[64, 10], output="softmax", cost="quadratic"),
]


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("arch", ARCHS)
def test_each_examples_nudges_are_its_negative_backprop_gradient(arch):
    net = _net(**arch)
    X, y = _random_data(7, 64)
    nudges = ins.example_nudges(net, X, y)
    for x in range(len(X)):
        gw, gb = net.backprop(X[x:x + 1], y[x:x + 1])
        np.testing.assert_allclose(nudges.example(x), -ins.flatten(gw, gb), rtol=1e-12,
                                   atol=1e-15)
        assert nudges.costs[x] == pytest.approx(net.cost(X[x:x + 1], y[x:x + 1]), rel=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
def test_example_wishes_are_the_examples_negative_gradient(arch, digits):
    net = _net(**arch)
    for i in (0, 5, 111):
        w = ins.example_wishes(net, digits.X_train[i], digits.y_train[i], i)
        gw, gb = net.backprop(digits.X_train[i:i + 1], digits.y_train[i:i + 1])
        np.testing.assert_allclose(w.flat(), -ins.flatten(gw, gb), rtol=1e-12, atol=1e-15)
        assert w.label == digits.y_train[i]
        assert w.predicted == net.predict(digits.X_train[i:i + 1])[0]
        assert w.image.shape == (8, 8)
        # the chain: previous-layer wish of layer l is the activation wish of layer l-1,
        # and the contributions of the neurons sum to it
        for lower, upper in zip(w.layers[:-1], w.layers[1:]):
            np.testing.assert_allclose(upper.previous_activation_wish, lower.activation_wish)
            np.testing.assert_allclose(upper.contributions.sum(axis=0),
                                       upper.previous_activation_wish)
        # weight nudges are bias nudges times the activation they come from
        for lw in w.layers:
            np.testing.assert_allclose(lw.weight_nudges,
                                       np.outer(lw.bias_nudges, lw.previous_activations))


def _output_cost(net, b, y):
    """Cₓ as a function of the output activations b (for finite differences)."""
    if net.cost_function == "quadratic":
        return np.sum((b - y) ** 2)
    if net.output == "sigmoid":
        return -np.sum(y * np.log(b) + (1 - y) * np.log(1 - b))
    return -np.sum(y * np.log(b))


def test_output_wish_is_minus_the_cost_derivative_by_finite_differences(digits):
    for arch in ARCHS:
        net = _net(**arch)
        w = ins.example_wishes(net, digits.X_train[3], digits.y_train[3])
        a, y = w.outputs, w.targets
        h = 1e-6
        for j in range(len(a)):
            up, down = a.copy(), a.copy()
            up[j] += h
            down[j] -= h
            fd = (_output_cost(net, up, y) - _output_cost(net, down, y)) / (2 * h)
            assert -w.output_wish[j] == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_average_of_all_examples_nudges_is_the_full_gradient(digits):
    net = _net([64, 16, 16, 10])
    X, y = digits.X_train, digits.y_train
    avg = ins.average_of_nudges(net, X, y, chunk=100)
    gw, gb = net.backprop(X, y)
    full = ins.flatten(gw, gb)
    mine = ins.flatten(avg[:3], avg[3:])
    assert np.max(np.abs(mine + full)) <= 1e-15 * max(1.0, np.max(np.abs(full))) * 10
    np.testing.assert_allclose(mine, -full, rtol=1e-11, atol=1e-17)
    check = ins.average_check(net, X, y)
    assert check.n_examples == len(X)
    assert check.max_difference < 1e-15


@pytest.mark.parametrize("arch", ARCHS)
def test_full_gradient_in_chunks_equals_backprop(arch, digits):
    net = _net(**arch)
    X, y = digits.X_train, digits.y_train
    g = ins.full_gradient(net, X, y, chunk=333)
    gw, gb = net.backprop(X, y)
    np.testing.assert_allclose(g.flat(), ins.flatten(gw, gb), rtol=1e-11, atol=1e-16)
    assert g.cost == pytest.approx(net.cost(X, y), rel=1e-12)
    assert g.n_examples == len(X) and g.dtype == "float64"
    # mean ‖∇Cₓ‖² from the δ's alone equals the one from the formed per-example gradients
    nudges = ins.example_nudges(net, X[:200], y[:200])
    direct = np.mean([np.sum(nudges.example(i) ** 2) for i in range(200)])
    assert ins.full_gradient(net, X[:200], y[:200]).mean_example_norm_sq == pytest.approx(
        direct, rel=1e-10)


def test_float32_gradient_is_close_to_float64(digits):
    net32 = Network([64, 16, 16, 10], seed=3)
    g32 = ins.full_gradient(net32, digits.X_train, digits.y_train)
    g64 = ins.full_gradient(net32, digits.X_train, digits.y_train, dtype=np.float64)
    assert g32.dtype == "float32"
    np.testing.assert_allclose(g32.flat(), g64.flat(), rtol=1e-3, atol=1e-6 * g64.norm)


# --------------------------------------------------------------------------- sensitivity
def test_sensitivity_ranking_is_a_sort_of_abs_gradient(digits):
    net = _net([64, 16, 16, 10], seed=2)
    X, y = digits.X_train[:500], digits.y_train[:500]
    sens = ins.sensitivity(net, X, y, k=20)
    gw, gb = net.backprop(X, y)
    flat = ins.flatten(gw, gb)
    expected = np.sort(np.abs(flat))[::-1]
    np.testing.assert_allclose(np.abs(sens.gradient[sens.order]), expected, rtol=1e-10)
    assert sorted(sens.order.tolist()) == list(range(net.n_parameters))
    tops = [r.sensitivity for r in sens.top]
    assert tops == sorted(tops, reverse=True)
    np.testing.assert_allclose(tops, expected[:20], rtol=1e-10)
    np.testing.assert_allclose([r.sensitivity for r in sens.bottom], expected[-20:], rtol=1e-10,
                               atol=1e-300)
    for r in sens.top + sens.bottom:
        p = ins.locate(net, r.index)
        assert r.gradient == pytest.approx(p.value(gw, gb), rel=1e-10)
        assert r.direction == ("increase" if r.gradient < 0 else
                               "decrease" if r.gradient > 0 else "stay")
    n_top = -(-net.n_parameters // 100)
    assert sens.top_percent_share == pytest.approx(
        np.sum(expected[:n_top] ** 2) / np.sum(expected ** 2), rel=1e-10)
    assert sum(ls.share_of_squared for ls in sens.layers) == pytest.approx(1.0)
    assert sens.to_dict()["n_parameters"] == net.n_parameters
    json.dumps(sens.to_dict())


@pytest.mark.parametrize("split", ["validation", "Train", None, 1])
def test_the_split_is_one_of_train_and_test(digits, split):
    """sensitivity(..., split='validation') was taken and printed as it was."""
    net = _net([64, 16, 10])
    X, y = digits.X_train[:50], digits.y_train[:50]
    with pytest.raises(NudgeError, match="unknown split .*: choose one of train, test"):
        ins.sensitivity(net, X, y, split=split)
    with pytest.raises(NudgeError, match="unknown split"):
        ins.example_wishes(net, X[0], y[0], 0, split)
    assert ins.sensitivity(net, X, y, split="test").split == "test"


def test_compare_reports_the_ratio_and_signs(digits):
    net = _net([64, 16, 16, 10], seed=2)
    sens = ins.sensitivity(net, digits.X_train[:300], digits.y_train[:300])
    cmp = ins.compare(net, sens, "w1[3,20]", "layer 3 bias of output 2")
    g = sens.gradient
    a, b = ins.parse_parameter(net, "w1[3,20]").index, ins.parse_parameter(net, "b3[2]").index
    assert cmp.ratio == pytest.approx(abs(g[a]) / abs(g[b]))
    assert cmp.a.gradient == g[a] and cmp.b.gradient == g[b]
    assert cmp.a.rank == int(np.nonzero(sens.order == a)[0][0]) + 1
    assert f"{max(cmp.ratio, 1 / cmp.ratio):.1f}x" in cmp.text


def test_compare_with_a_parameter_whose_gradient_is_zero(digits):
    # pixel (0, 0) of the 8x8 digits is always 0: the weights from it have gradient 0
    net = _net([64, 16, 16, 10], seed=2)
    sens = ins.sensitivity(net, digits.X_train[:300], digits.y_train[:300])
    zero, other = "w1[0,0]", "b3[2]"
    assert sens.gradient[ins.parse_parameter(net, zero).index] == 0
    cmp = ins.compare(net, sens, zero, other)          # was a ZeroDivisionError
    assert cmp.ratio == 0 and "w1" not in cmp.text
    assert cmp.text.startswith("the cost does not change at all with layer 1 weight from "
                               "input pixel (row 0, col 0)")
    assert ins.compare(net, sens, other, zero).ratio == math.inf
    both = ins.compare(net, sens, zero, "w1[1,0]")       # was: "... but does with" one of them
    assert math.isnan(both.ratio) and "both gradients are 0" in both.text
    assert "but does" not in both.text
    assert json.loads(json.dumps(both.to_dict(), allow_nan=False))["ratio"] is None


def test_sensitivity_of_a_tiny_float32_gradient_is_not_rounded_to_zero(digits):
    """A gradient of 1e-25 would square to 1e-50, below float32's range: the gradient of
    a float32 run is held in float64, so |grad C| and the shares scale with it, and do not
    become 0 or undefined."""
    net = _net([64, 16, 10], seed=2)
    X, y = digits.X_train[:300], digits.y_train[:300]
    g = ins.full_gradient(net, X, y, dtype=np.float32)
    usual = ins.sensitivity(net, X, y, gradient=g)
    for arr in g.weights + g.biases:
        arr *= np.float32(1e-25)
    tiny = ins.sensitivity(net, X, y, gradient=g)
    assert tiny.gradient_norm == pytest.approx(1e-25 * usual.gradient_norm, rel=1e-5)
    assert tiny.top_percent_share == pytest.approx(usual.top_percent_share, rel=1e-5)
    assert [la.share_of_squared for la in tiny.layers] == pytest.approx(
        [la.share_of_squared for la in usual.layers], rel=1e-5)
    assert [la.norm for la in tiny.layers] == pytest.approx(
        [1e-25 * la.norm for la in usual.layers], rel=1e-5)


def test_compare_refuses_the_sensitivity_of_another_network(digits):
    """A Sensitivity of a smaller network was read at the bigger one's indices: an
    IndexError (or, the other way round, another network's numbers under these names)."""
    small, big = _net([64, 10], seed=0), _net([64, 16, 16, 10], seed=0)
    X, y = digits.X_train[:100], digits.y_train[:100]
    for net, other in ((big, small), (small, big)):
        with pytest.raises(NudgeError, match="not of this one"):
            ins.compare(net, ins.sensitivity(other, X, y), "b1[0]", "b1[1]")


def test_linear_prediction_matches_to_first_order(digits):
    net = Network([64, 16, 16, 10], seed=4)          # float32: the check runs in float64
    X, y = digits.X_train[:400], digits.y_train[:400]
    rows = ins.linear_check(net, X, y, learning_rates=(0.4, 0.2, 0.1, 0.05))
    for r in rows:
        assert r.predicted_change < 0
        assert r.actual_change < 0
        assert r.relative_error < 0.2
    # halving the step divides the error by about four: second order
    for big, small in zip(rows[:-1], rows[1:]):
        assert abs(big.error / small.error) == pytest.approx(4.0, rel=0.15)


def test_linear_check_of_a_zero_gradient_has_no_relative_error(capsys, digits, saturated_model):
    """Predicted and actual change both 0: the relative error was inf; 0/0 is undefined."""
    net, path = saturated_model
    rows = ins.linear_check(net, digits.X_train[:100], digits.y_train[:100])
    assert all(r.predicted_change == r.actual_change == 0 for r in rows)
    assert all(math.isnan(r.relative_error) for r in rows)
    code, out, err = _run(capsys, ["sensitivity", path, "--examples", "100"])
    assert code == 0 and err == ""
    assert "inf" not in out and "undefined" in out.split("relative error")[-1]
    assert "both 0 (the gradient is 0), and 0/0 has no value" in " ".join(out.split())
    code, out, err = _run(capsys, ["sensitivity", path, "--examples", "100", "--json"])
    assert [r["relative_error"] for r in json.loads(out)["linear_check"]] == [None] * 3


def test_sensitivity_of_a_zero_gradient_has_no_shares(capsys, digits, saturated_model,
                                                      tmp_path):
    """|grad C|^2 = 0: 'the top 1% of parameters hold 0.0%' of it and each layer's share
    '0.0%' were 0/0 shown as 0; the figure's log scale of means that are all 0 warned."""
    import warnings

    net, path = saturated_model
    sens = ins.sensitivity(net, digits.X_train[:100], digits.y_train[:100])
    assert sens.gradient_norm == 0 and math.isnan(sens.top_percent_share)
    assert all(math.isnan(ls.share_of_squared) for ls in sens.layers)
    png = tmp_path / "s.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = _run(capsys, ["sensitivity", path, "--examples", "100", "--plot",
                                       str(png)])
    assert code == 0 and err == "" and [str(w.message) for w in caught] == []
    words = " ".join(out.split())
    assert "0.0%" not in out and ("the top 1% of parameters (7) hold an undefined share of "
                                  "|grad C|^2: it is 0 (the gradient is 0), and 0/0 has no "
                                  "value; 650 have a gradient of exactly 0") in words
    shares = out.split("share of |grad C|^2\n")[1].splitlines()[1:3]
    assert [r.split()[-1] for r in shares] == ["undefined", "undefined"]
    code, out, err = _run(capsys, ["sensitivity", path, "--examples", "100", "--json"])
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert data["top_percent_share"] is None
    assert [ls["share_of_squared"] for ls in data["layers"]] == [None, None]


# --------------------------------------------------------------------------- naming
def test_named_parameters_map_to_the_right_entries():
    net = _net([784, 16, 16, 10])
    p = ins.parse_parameter(net, "layer 1 weight from input pixel (row 12, col 7) to hidden "
                                 "neuron 3")
    assert p.array_index == ("weights", 0, (3, 12 * 28 + 7))
    theta = ins.get_parameters(net)
    assert theta[p.index] == net.weights[0][3, 12 * 28 + 7]
    assert p.name == ins.parameter_name(net, p.index)
    b = ins.parse_parameter(net, "layer 3 bias of output 2")
    assert theta[b.index] == net.biases[2][2]
    w2 = ins.parse_parameter(net, "layer 2 weight from hidden neuron 5 to hidden neuron 1")
    assert theta[w2.index] == net.weights[1][1, 5]
    w3 = ins.parse_parameter(net, "Layer 3  weight from hidden neuron 15 to output 9")
    assert theta[w3.index] == net.weights[2][9, 15]
    assert ins.parse_parameter(net, "w1[3,343]") == p
    assert ins.parse_parameter(net, "b3[2]") == b
    assert ins.parse_parameter(net, f"#{p.index}") == p
    assert ins.parse_parameter(net, "layer 1 weight from input 343 to hidden neuron 3") == p


@pytest.mark.parametrize("sizes", [[784, 16, 16, 10], [64, 16, 16, 10], [64, 10], [5, 3, 2]])
def test_every_parameter_name_round_trips(sizes):
    net = _net(sizes)
    theta = ins.get_parameters(net)
    weights, biases = ins.unflatten(net, np.arange(net.n_parameters, dtype=float))
    for i in range(net.n_parameters):
        p = ins.locate(net, i)
        assert ins.parse_parameter(net, p.name) == p
        which, l, idx = p.array_index
        arr = (net.weights if which == "weights" else net.biases)[l]
        assert arr[idx] == theta[i]
        assert p.value(weights, biases) == i
    assert ins.parameter_name(net, 0).startswith("layer 1 weight from input")


def test_digits_names_use_8x8_rows_and_columns():
    net = _net([64, 16, 16, 10])
    p = ins.parse_parameter(net, "layer 1 weight from input pixel (row 5, col 7) to hidden "
                                 "neuron 3")
    assert ins.get_parameters(net)[p.index] == net.weights[0][3, 5 * 8 + 7]
    assert ins.parameter_name(net, p.index) == ("layer 1 weight from input pixel (row 5, col 7)"
                                                " to hidden neuron 3")
    assert ins.parameter_name(net, ins.parse_parameter(net, "b3[9]").index) == \
        "layer 3 bias of output 9"


@pytest.mark.parametrize("text", [
    "layer 4 bias of output 2",                                    # no layer 4
    "layer 1 weight from input pixel (row 8, col 0) to hidden neuron 3",   # 8x8 image
    "layer 1 weight from input pixel (row 1, col 1) to output 3",  # layer 1 is hidden
    "layer 3 bias of hidden neuron 2",                             # layer 3 is the output
    "layer 2 weight from input pixel (row 1, col 1) to hidden neuron 3",
    "layer 1 bias of hidden neuron 16",
    "w1[16,0]", "b3[10]", "#13002", "the best weight", "",
    "w1[" + "9" * 5000 + ",0]", "#" + "9" * 4000,                   # past int()'s digit limit
])
def test_bad_parameter_names_are_reported(text):
    net = _net([64, 16, 16, 10])
    with pytest.raises(NudgeError):
        ins.parse_parameter(net, text)


@pytest.mark.parametrize("index", [1.5, 1.0, True, "1", -1, None])
def test_a_parameter_index_must_be_an_int(index):
    """locate(net, 1.5) and parameter_name(net, True) were parameter #1 (int() of them)."""
    net = _net([64, 16, 10])
    for f in (ins.locate, ins.parameter_name):
        with pytest.raises(NudgeError, match="parameter index must be a whole number") as e:
            f(net, index)
        assert "\n" not in str(e.value)
    assert ins.locate(net, np.int64(1)) == ins.locate(net, 1)


def test_set_parameters_round_trip():
    net = _net([64, 16, 10])
    theta = ins.get_parameters(net)
    other = net.copy()
    ins.set_parameters(other, theta * 2)
    np.testing.assert_array_equal(other.weights[1], 2 * net.weights[1])
    np.testing.assert_array_equal(ins.get_parameters(other), 2 * theta)
    with pytest.raises(NudgeError):
        ins.unflatten(net, theta[:-1])


# --------------------------------------------------------------------------- averages
def test_minibatch_estimates_improve_with_batch_size_as_predicted(digits):
    net = _net([64, 16, 16, 10], seed=5)
    X, y = digits.X_train, digits.y_train
    report = ins.minibatch_estimates(net, X, y, [1, 10, 100, len(X)], draws=40, seed=1,
                                     check_examples=300)
    est = {e.batch_size: e for e in report.estimates}
    assert est[len(X)].mean_cosine == pytest.approx(1.0, abs=1e-12)
    assert est[len(X)].mean_relative_error < 1e-12
    assert est[len(X)].predicted_relative_error == 0
    assert est[1].mean_cosine < est[10].mean_cosine < est[100].mean_cosine < 1
    assert est[1].mean_relative_error > est[10].mean_relative_error > est[100].mean_relative_error
    for B in (10, 100):       # measured root-mean-square error close to the sampling theory
        assert est[B].rms_relative_error == pytest.approx(est[B].predicted_relative_error,
                                                          rel=0.3)
        assert est[B].mean_relative_error <= est[B].rms_relative_error
    assert report.check is not None and report.check.max_difference < 1e-15
    json.dumps(report.to_dict())
    with pytest.raises(NudgeError):
        ins.minibatch_estimates(net, X, y, [len(X) + 1])


# --------------------------------------------------------------------------- descent
def test_descent_runs_from_one_start_and_records_costs(digits):
    net0 = Network([64, 16, 10], seed=0)
    before = ins.get_parameters(net0)
    report = ins.descent(net0, digits.X_train[:600], digits.y_train[:600],
                         batch_sizes=[None, 20], epochs=8, seed=1, monitor=300, records=20,
                         grid=7)
    np.testing.assert_array_equal(ins.get_parameters(net0), before)     # untouched
    full, sgd = report.runs
    assert full.batch_size is None and sgd.batch_size == 20
    assert full.learning_rate == ins.default_learning_rate(None)
    assert full.costs[0] == sgd.costs[0]                                # the same start
    np.testing.assert_array_equal(full.path[0], before)
    assert full.steps[-1] == 8 and full.examples[-1] == 8 * 600
    assert sgd.steps[-1] == 8 * 30 and sgd.examples[-1] == 8 * 600
    assert all(np.diff(r.examples).min() > 0 and np.diff(r.seconds).min() >= 0
               for r in report.runs)
    assert sgd.costs[-1] < full.costs[-1] < full.costs[0]
    assert report.target_cost == full.costs[-1]
    reached = {r.label: r for r in report.reached}
    assert reached["SGD, B=20"].examples < reached["full-batch GD"].examples
    assert reached["SGD, B=20"].fewer_examples == pytest.approx(
        reached["full-batch GD"].examples / reached["SGD, B=20"].examples)
    assert report.plane_costs.shape == (7, 7)
    assert 0 < sum(report.explained) <= 1 + 1e-9
    # the projection of the path's points is onto orthonormal directions through their mean
    pts = np.concatenate([r.path for r in report.runs])
    proj = np.concatenate([r.projected for r in report.runs])
    assert np.allclose(proj.mean(axis=0), 0, atol=1e-8)
    assert "SGD, B=20" in report.summary
    json.dumps(report.to_dict())
    assert len(pts) == len(proj)

    # every time in the summary is written with its significant digits: a run that took
    # 2 ms reads "0.002 s" next to its "Nx sooner", never "0.00 s"
    shown = [float(t) for t in re.findall(r"([0-9.e+-]+) s\b", report.summary)]
    assert shown and all(t > 0 for t in shown), report.summary


def test_descent_s_how_many_times_fewer_keeps_its_digits(digits):
    """B=10 at eta 2 reached eta 1's final cost in 1.6 times fewer examples: the summary
    said "(2x fewer)" (and 1.17 times "(1x fewer)", no gain at all; 0.4 "(0x fewer)")."""
    from nudge.display import factor, times

    report = ins.descent(Network([64, 12, 10], seed=3), digits.X_train[:600],
                         digits.y_train[:600], [10, 10], 20, [2, 1], 3)
    fast = next(r for r in report.reached if r.label == "SGD, B=10 at eta 2")
    assert 1 < fast.fewer_examples < 10
    assert f"({fast.fewer_examples:.2g}x fewer)" in report.summary, report.summary
    assert [times(r) for r in (37.2, 1.6, 1.17, 1.02, 0.4)] == [
        "37x fewer", "1.6x fewer", "1.2x fewer", "about as many", "2.5x more"]
    assert times(0.5, "sooner", "later") == "2x later"
    assert [factor(r) for r in (37.2, 1.6, 0.62)] == ["37x", "1.6x", "0.62x"]


def test_descent_rejects_bad_settings(digits):
    net0 = Network([64, 16, 10], seed=0)
    with pytest.raises(NudgeError):
        ins.descent(net0, digits.X_train[:100], digits.y_train[:100], batch_sizes=[1000])
    with pytest.raises(NudgeError):
        ins.descent(net0, digits.X_train[:100], digits.y_train[:100], batch_sizes=[None, 10],
                    learning_rates=[1.0])
    with pytest.raises(NudgeError, match="seed -2"):
        ins.descent(net0, digits.X_train[:100], digits.y_train[:100], seed=-2)


def test_descent_refuses_a_run_twice_and_names_a_batch_size_that_comes_again(digits, capsys):
    """batch sizes full,full ran full-batch GD twice, the same numbers in two rows of one
    name.  The same batch size at the same eta is refused (the command line, Python and
    the page share the rule); at two etas it is two runs, GD's classic comparison, whose
    sentence and 'to reach' rows name each one's eta."""
    from nudge.cli import main

    net0, X, y = Network([64, 16, 10], seed=0), digits.X_train[:300], digits.y_train[:300]
    for sizes, etas in (([None, None], None), ([10, 20, 10], [3.0, 3.0, 3.0])):
        with pytest.raises(NudgeError, match=r"^batch size (full|10) with learning rate (4|3) "
                                             r"is given twice: give each run once"):
            ins.descent(net0, X, y, batch_sizes=sizes, learning_rates=etas, epochs=2)
    report = ins.descent(net0, X, y, batch_sizes=[None, None, 10], learning_rates=[1, 4, 3],
                         epochs=3, monitor=100, records=5, grid=3)
    assert [r.label for r in report.reached] == ["full-batch GD at eta 1",
                                                 "full-batch GD at eta 4", "SGD, B=10"]
    assert report.summary.startswith("full-batch GD at eta 1 reached cost")
    assert "; full-batch GD at eta 4 after" in report.summary
    assert report.summary_in("η =") == report.summary.replace("at eta", "at η =")   # the page
    # on 300 examples, a batch of 300 is full-batch GD: the same run, whatever the spelling
    with pytest.raises(NudgeError, match=r"^batch sizes full and 300 with learning rate 2 "
                                         r"are the same run \(300 is every training"):
        ins.descent(net0, X, y, batch_sizes=[None, 10, 300], learning_rates=[2, 3, 2],
                    epochs=2)
    code = main(["descent", "--dataset", "digits", "--batch-sizes", "full,FULL",
                 "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "batch size full with learning rate 4 is given twice" in err


@pytest.mark.parametrize("call, words", [
    (lambda net, X, y: ins.total_cost(net, X, y, chunk=-5), "chunk must be"),
    (lambda net, X, y: ins.full_gradient(net, X, y, chunk=0), "chunk must be"),
    (lambda net, X, y: ins.noise_scale(net, X, y, chunk=2.5), "chunk must be"),
    (lambda net, X, y: ins.average_of_nudges(net, X, y, chunk=-1), "chunk must be"),
    (lambda net, X, y: ins.landscape(net, X, y, points=10**6), "points must be at most"),
    (lambda net, X, y: ins.landscape(net, X, y, grid=10**4), "grid must be at most"),
    (lambda net, X, y: ins.descent(net, X, y, grid=10**4), "grid must be at most"),
    (lambda net, X, y: ins.descent(net, X, y, epochs=10**9), "epochs must be at most"),
    (lambda net, X, y: ins.descent(net, X, y, records=1), "records must be"),
    (lambda net, X, y: ins.minibatch_estimates(net, X, y, batch_sizes=[10], draws=10**9),
     "draws must be at"),
    (lambda net, X, y: ins.minibatch_estimates(net, X, y, batch_sizes=[1] * 1000),
     "batch sizes: give from 1 to 100"),
    (lambda net, X, y: ins.stability(net, X, y, factors=[1.0] * 10**5), "factors: give"),
    (lambda net, X, y: ins.stability(net, X, y, every="10"), "every must be"),
    (lambda net, X, y: ins.stability(net, X, y, tol=-1), "tol must be"),
    (lambda net, X, y: ins.stability(net, X, y, factors=[1e300]), "factors above 0 and at"),
    (lambda net, X, y: ins.landscape(net, X, y, seed=-1), "seed -1"),
    (lambda net, X, y: ins.minibatch_estimates(net, X, y, batch_sizes=[10], seed=-1),
     "seed -1"),
    (lambda net, X, y: ins.curvature(net, X, y, seed=-1), "seed -1"),
    (lambda net, X, y: ins.hessian_noise_scale(net, X, y, samples=2.5), "samples must be"),
    (lambda net, X, y: ins.sensitivity(net, X, y, k=-1), "k must be"),
    (lambda net, X, y: ins.sensitivity(net, X, y, k=10**12), "k must be at most"),
    (lambda net, X, y: ins.fit_critical_batch([1, 2, "a"], [1, 2, 3]), "must be numbers"),
    # numpy's TypeError, a ValueError from inside, or taken as it was (index -4, "4")
    *((call, r"^dtype 'floaty': give float32 or float64$") for call in (
        lambda net, X, y: ins.sensitivity(net, X, y, dtype="floaty"),
        lambda net, X, y: ins.full_gradient(net, X, y, dtype="floaty"),
        lambda net, X, y: ins.minibatch_estimates(net, X, y, batch_sizes=[10], dtype="floaty"),
        lambda net, X, y: ins.landscape(net, X, y, dtype="floaty"),
        lambda net, X, y: ins.noise_scale(net, X, y, dtype="floaty"),
        lambda net, X, y: ins.hessian_noise_scale(net, X, y, dtype="floaty"),
        lambda net, X, y: ins.curvature(net, X, y, dtype="floaty"),
        lambda net, X, y: ins.HessianOperator(net, X, y, dtype="floaty"))),
    (lambda net, X, y: ins.make_parameter(net, "weights", 1, 3, 10),
     r"^unknown kind 'weights': choose one of weight, bias$"),
    (lambda net, X, y: ins.set_parameters(net, np.array(["0.5"] * net.n_parameters)),
     r"^a parameter vector must hold numbers, got an array of <U3$"),
    (lambda net, X, y: ins.example_wishes(net, X[0], y[0], index=-4),
     r"^index must be a whole number of at least 0, got -4$"),
    (lambda net, X, y: ins.example_wishes(net, X[0], y[0], index="4"), "index must be"),
])
def test_insight_sizes_and_counts_are_bounded_with_one_line(digits, call, words):
    """The API bounds what the command line bounds, before any work: a typo such as
    points=10**6 or a negative chunk (which summed nothing) is a one-line error."""
    with pytest.raises(NudgeError, match=words):
        call(Network([64, 16, 10], seed=0), digits.X_train[:100], digits.y_train[:100])


def _spoilt(how):
    net = Network([64, 16, 10], seed=0)
    if how == "nan":
        net.weights[0][3, 5] = np.nan
    else:
        net.biases[1] = np.zeros(3, np.float32)
    return net


@pytest.mark.parametrize("call", [
    lambda net, X, y: ins.curvature(net, X, y, k=2),
    lambda net, X, y: ins.stability(net, X, y, steps=2),
    lambda net, X, y: ins.noise_scale(net, X, y),
    lambda net, X, y: ins.sensitivity(net, X, y),
    lambda net, X, y: ins.interpolate(Network([64, 16, 10], seed=1), net, X, y, points=3),
    lambda net, X, y: ins.hessian_vector_product(net, X, y, np.zeros(1210)),
    lambda net, X, y: ins.linear_check(net, X, y),
    lambda net, X, y: ins.total_cost(net, X, y),
    lambda net, X, y: ins.example_wishes(net, X[0], y[0]),    # NaN wishes, AttributeError
])
def test_insight_refuses_a_network_that_is_not_one_or_is_spoilt(digits, call):
    """A network whose weights were set by hand: NaN ones made curvature call the Hessian
    'a bowl (convex)' and stability fail in ARPACK with LAPACK's lines on stderr; a bias of
    the wrong shape, numpy's broadcast error; something that is no network at all, an
    AttributeError.  Each is one line now."""
    X, y = digits.X_train[:30], digits.y_train[:30]
    with pytest.raises(NudgeError, match="layer 1's weights hold NaN or infinite values"):
        call(_spoilt("nan"), X, y)
    with pytest.raises(NudgeError, match=r"layer 2's biases are shape \(3,\)"):
        call(_spoilt("shape"), X, y)
    with pytest.raises(NudgeError, match="must be a nudge.Network, got a str"):
        call("model.safetensors", X, y)


def test_one_cost_over_a_data_set(digits):
    """total_cost, descent's and interpolate's costs are train.evaluate's: float64 sums,
    whatever the chunk."""
    from nudge.train import evaluate

    net = Network([64, 16, 10], seed=0)
    X, y = digits.X_train[:700], digits.y_train[:700]
    exact = float(np.mean(net.astype(np.float64).example_costs(X, y)))
    cost, accuracy = evaluate(net, X, y)
    assert cost == pytest.approx(exact, rel=1e-6)
    assert accuracy == net.score(X, y)
    for chunk in (1, 7, 700, 5000):
        assert ins.total_cost(net, X, y, chunk=chunk) == pytest.approx(cost, rel=1e-6)
    line = ins.interpolate(net, net.copy(), X, y, ts=[0.0, 1.0], chunk=64)
    assert line.cost_a == pytest.approx(cost, rel=1e-6) and line.accuracy_a == accuracy
    # Network.cost is the same C, averaged in the network's float type: equal but for
    # rounding (float32's last digits)
    assert net.cost(X, y) == pytest.approx(cost, rel=1e-6)
    wide = net.astype(np.float64)
    for chunk in (7, 5000):
        assert ins.total_cost(wide, X, y, chunk=chunk) == pytest.approx(wide.cost(X, y),
                                                                         rel=1e-12)


# --------------------------------------------------------------------------- landscape
def test_landscape_slices(digits):
    net = Network([64, 16, 10], seed=0)
    X, y = digits.X_train[:300], digits.y_train[:300]
    land = ins.landscape(net, X, y, span=2.0, points=21, grid=5, seed=0)
    mid = len(land.offsets) // 2
    assert land.offsets[mid] == 0
    assert land.cost_downhill[mid] == pytest.approx(land.cost, rel=1e-4)
    assert land.cost_random[mid] == pytest.approx(land.cost, rel=1e-4)
    assert land.plane_costs[2, 2] == pytest.approx(land.cost, rel=1e-4)
    np.testing.assert_allclose(land.plane_costs[2, :], land.cost_downhill[::5], rtol=1e-4)
    np.testing.assert_allclose(land.plane_costs[:, 2], land.cost_random[::5], rtol=1e-4)
    assert land.slope_downhill == pytest.approx(-land.gradient_norm, rel=0.02)
    assert land.best_cost < land.cost
    assert land.best_cost == min(land.cost_downhill)
    json.dumps(land.to_dict())


@pytest.mark.parametrize("weight_decay, downhill", [(0.0, "along −∇C (downhill)"),
                                                     (1e-3, "along −∇(C + decay) (downhill)")])
def test_the_landscape_figure_writes_the_gradient_as_its_title_does(digits, tmp_path,
                                                                  monkeypatch, weight_decay,
                                                                  downhill):
    """The legend and the axes said '-grad C' (the terminal's ASCII) under a title of
    '−∇C'.  The real figure is drawn and saved; save_figure is only watched, to read it."""
    from nudge.insight import plots

    drawn = []
    save = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.append(fig) or
                        save(fig, path))
    net = Network([64, 16, 10], seed=0)
    land = ins.landscape(net, digits.X_train[:100], digits.y_train[:100], points=9, grid=3,
                         weight_decay=weight_decay)
    assert land.labels[0] == downhill.replace("−∇", "-grad ")   # the terminal keeps ASCII
    png = plots.plot_landscape(land, tmp_path / "l.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = drawn
    ax1, ax2 = fig.axes[:2]
    texts = ([t.get_text() for ax in (ax1, ax2) for t in ax.get_legend().get_texts()]
             + [ax2.get_xlabel(), ax2.get_ylabel(), fig._suptitle.get_text()])
    assert not [t for t in texts if "grad" in t or "-" in t.replace("−", "")], texts
    assert downhill in texts and ax2.get_xlabel() == downhill
    assert "−∇C" in fig._suptitle.get_text()


# --------------------------------------------------------------------------- the CLI
def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_sensitivity(capsys, fitted_model, tmp_path):
    png = tmp_path / "s.png"
    code, out, err = _run(capsys, ["sensitivity", fitted_model, "--top", "3", "--compare",
                                   "layer 1 weight from input pixel (row 3, col 4) to hidden "
                                   "neuron 2", "b3[2]", "--plot", str(png)])
    assert code == 0, err
    assert "most sensitive" in out
    assert "more sensitive to" in out or "less sensitive to" in out
    assert "layer 1 weight from input pixel (row 3, col 4) to hidden neuron 2" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # pixel (0, 0) of the 8x8 digits is always 0: its weights' gradient is 0 (was "... would
    # stay it")
    code, out, err = _run(capsys, ["sensitivity", fitted_model, "--compare", "w1[0,0]", "b3[2]"])
    assert code == 0, err
    words = " ".join(out.split())                      # the prose is wrapped to 80 columns
    assert "gradient descent would leave it as it is" in words and "stay it" not in words
    code, out, err = _run(capsys, ["sensitivity", fitted_model, "--json", "--examples", "100"])
    assert code == 0, err
    data = json.loads(out)
    assert data["n_examples"] == 100 and len(data["top"]) == 10
    assert len(data["linear_check"]) == 3


def test_cli_nudges(capsys, fitted_model, tmp_path):
    png = tmp_path / "n.png"
    code, out, err = _run(capsys, ["nudges", fitted_model, "--example", "4", "--plot", str(png)])
    assert code == 0, err
    assert "the three ways" in out and png.stat().st_size > 1000
    code, out, err = _run(capsys, ["nudges", fitted_model, "--example", "2",
                                   "--dataset-split", "test", "--json"])
    assert code == 0, err
    data = json.loads(out)
    d = load_dataset("digits")
    assert data["label"] == int(d.y_test[2]) and data["split"] == "test"
    assert len(data["layers"]) == 3
    code, out, err = _run(capsys, ["nudges", fitted_model, "--example", "2",    # as elsewhere
                                   "--split", "test", "--json"])
    again = json.loads(out)
    data.pop("seconds"), again.pop("seconds")
    assert code == 0 and again == data


def test_nudges_figure_numbers_neurons_with_whole_numbers_and_says_its_colours(digits):
    """The per-neuron bar charts of ``nudge nudges --plot`` had matplotlib's default ticks,
    0.0, 2.5, 5.0, ... 12.5 under the 16 neurons of a hidden layer (there is no neuron 2.5),
    no axis label, and bias bars in green and red explained nowhere in the figure."""
    from nudge.insight.plots import wishes_figure

    net = _net([64, 16, 16, 10], seed=1)
    w = ins.example_wishes(net, digits.X_train[0], digits.y_train[0], index=0)
    fig = wishes_figure(w)
    fig.canvas.draw()                                  # the ticks as they are drawn
    bars = [ax for ax in fig.axes if "bias nudges" in ax.get_title()
            or "wished-for nudges of layer" in ax.get_title()]
    assert len(bars) == 5                              # three layers' biases, two wishes
    for ax in bars:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), (ax.get_title(), ticks)
        n = len(ax.patches)                            # one bar a neuron, 0 to n - 1
        assert -1 < lo and hi < n and max(ticks) <= n - 1, (ax.get_title(), lo, hi, n)
        assert ax.get_xlabel() in ("neuron", "output") or ax.get_xlabel().startswith("neuron k")
    assert all("green: up, red: down" in ax.get_title() for ax in bars
               if "bias nudges" in ax.get_title())


def test_minibatch_estimates_default_to_the_batch_sizes_the_data_allows(capsys, fitted_model,
                                                                        digits):
    """The defaults 1 to 10,000 failed on any set of fewer than 10,000 examples: ``nudge
    average`` on a digits model, ``--examples 5000``, and the tutorial worked around it."""
    net = _net([64, 16, 10], seed=3)
    report = ins.minibatch_estimates(net, digits.X_train[:300], digits.y_train[:300], draws=2,
                                     check_examples=0)
    assert [e.batch_size for e in report.estimates] == [1, 10, 100]
    with pytest.raises(NudgeError, match="batch size 1000 is not possible with 300 examples"):
        ins.minibatch_estimates(net, digits.X_train[:300], digits.y_train[:300], [10, 1000])
    code, out, err = _run(capsys, ["average", fitted_model, "--examples", "150", "--draws", "2",
                                   "--check-examples", "0", "--json"])
    assert code == 0, err
    assert [e["batch_size"] for e in json.loads(out)["estimates"]] == [1, 10, 100]


def test_average_of_a_zero_gradient_says_the_relative_error_is_undefined(digits, saturated_model):
    """|G| = 0 (saturated outputs): a NumPy RuntimeWarning (0/0) went to stderr and the
    table showed a measured error 'nan' beside a predicted 'inf', and cosines of 0."""
    import subprocess
    import sys

    net, path = saturated_model
    report = ins.minibatch_estimates(net, digits.X_train[:200], digits.y_train[:200], [1, 10],
                                     draws=3, check_examples=0)
    assert report.gradient_norm == 0 and report.note == (
        f"the full gradient G is 0 over these examples (|G| = 0 in {net.dtype}): a mini-batch's "
        "cosine with G and its relative error |g_B - G| / |G| divide by 0, so they are "
        "undefined")
    for e in report.estimates:
        assert all(math.isnan(v) for v in (e.mean_cosine, e.min_cosine, e.mean_relative_error,
                                           e.rms_relative_error, e.predicted_relative_error))
    argv = [sys.executable, "-m", "nudge", "average", path, "--examples", "200", "--draws", "3"]
    text = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert text.returncode == 0 and text.stderr == ""            # no RuntimeWarning
    words = " ".join(text.stdout.split())
    assert "nan" not in words and "inf" not in words and "undefined" in words
    assert report.note in words
    js = subprocess.run(argv + ["--json"], capture_output=True, text=True, timeout=120)
    assert js.returncode == 0 and js.stderr == ""
    out = json.loads(js.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert out["note"] == report.note
    assert {e["rms_relative_error"] for e in out["estimates"]} == {None}
    assert {e["predicted_relative_error"] for e in out["estimates"]} == {None}


def test_cli_average_and_landscape(capsys, fitted_model, tmp_path):
    code, out, err = _run(capsys, ["average", fitted_model, "--batch-sizes", "1,10,100",
                                   "--draws", "5", "--check-examples", "200", "--plot",
                                   str(tmp_path / "a.png")])
    assert code == 0, err
    assert "max difference" in out and (tmp_path / "a.png").is_file()
    code, out, err = _run(capsys, ["average", fitted_model, "--batch-sizes", "10",
                                   "--draws", "3", "--json"])
    assert code == 0, err
    assert json.loads(out)["estimates"][0]["batch_size"] == 10
    code, out, err = _run(capsys, ["landscape", fitted_model, "--examples", "200", "--points",
                                   "9", "--grid", "5", "--plot", str(tmp_path / "l.png")])
    assert code == 0, err
    assert "slope" in out and (tmp_path / "l.png").is_file()


def test_cli_descent(capsys, tmp_path):
    code, out, err = _run(capsys, ["descent", "--dataset", "digits", "--train-limit", "300",
                                   "--epochs", "3", "--batch-sizes", "full,30",
                                   "--plot", str(tmp_path / "c.png"),
                                   "--paths-plot", str(tmp_path / "p.png")])
    assert code == 0, err
    assert "full-batch GD" in out and "SGD, B=30" in out
    assert (tmp_path / "c.png").is_file() and (tmp_path / "p.png").is_file()
    code, out, err = _run(capsys, ["descent", "--dataset", "digits", "--train-limit", "200",
                                   "--epochs", "2", "--batch-sizes", "full,20", "--json",
                                   "--learning-rates", "5"])
    assert code == 0, err
    data = json.loads(out)
    assert [r["learning_rate"] for r in data["runs"]] == [5.0, 5.0]


@pytest.mark.parametrize("argv, words", [
    (["nudges", "{m}", "--example", "5000"], "does not exist"),
    (["nudges", "{m}", "--example", "-1"], "does not exist"),
    (["sensitivity", "{m}", "--compare", "w1[0,0]", "the best weight"], "not the name"),
    (["sensitivity", "{m}", "--compare", "layer 9 bias of output 1", "b3[0]"], "layer 9"),
    (["sensitivity", "/nonexistent/model.safetensors"], "no such model file"),
    (["nudges", "/nonexistent/model.safetensors", "--example", "1"], "no such model file"),
    (["average", "{m}", "--batch-sizes", "100000"],
     "--batch-sizes: batch size 100000 is larger than the"),
    (["sensitivity", "{m}", "--plot", "out.jpg"], "PNG"),
    (["descent", "--dataset", "digits", "--batch-sizes", "full,5000"], "not possible"),
    (["descent", "--dataset", "digits", "--batch-sizes", "full,10", "--learning-rates",
      "1,2,3"], "learning rates"),
])
def test_cli_bad_input_gives_one_line_error(capsys, fitted_model, argv, words):
    code, out, err = _run(capsys, [a.replace("{m}", fitted_model) for a in argv])
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert words in lines[0]


def test_cli_bad_option_values_exit_2(capsys, fitted_model):
    with pytest.raises(SystemExit) as e:
        main(["descent", "--batch-sizes", "full,zero"])
    assert e.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# --------------------------------------------------------------------------- full MNIST
MNIST_DIR = os.environ.get("NUDGE_DATA")
needs_mnist = pytest.mark.skipif(
    not MNIST_DIR or not (Path(MNIST_DIR) / "train-images-idx3-ubyte.gz").exists()
    and not (Path(MNIST_DIR) / "train-images-idx3-ubyte").exists(),
    reason="full MNIST not available (set NUDGE_DATA)")


@needs_mnist
def test_full_mnist_sensitivity_is_correct():
    # (its speed is measured by benchmarks/insight_speed.py, not by a timed test)
    data = load_dataset("mnist")
    net = Network([784, 16, 16, 10], seed=1)
    sens = ins.sensitivity(net, data.X_train, data.y_train)
    assert sens.n_examples == 60000
    g64 = ins.full_gradient(net, data.X_train[:3000], data.y_train[:3000], dtype=np.float64)
    gw, gb = net.astype(np.float64).backprop(data.X_train[:3000], data.y_train[:3000])
    np.testing.assert_allclose(g64.flat(), ins.flatten(gw, gb), rtol=1e-10, atol=1e-18)
    ins.example_wishes(net, data.X_train[0], data.y_train[0], 0)
    p = ins.parse_parameter(net, "layer 1 weight from input pixel (row 12, col 7) to hidden "
                                 "neuron 3")
    assert sens.gradient[p.index] == ins.flatten(*ins.unflatten(net, sens.gradient))[p.index]
    assert ins.unflatten(net, sens.gradient)[0][0][3, 12 * 28 + 7] == sens.gradient[p.index]


@needs_mnist
@pytest.mark.slow
def test_full_mnist_descent_default(capsys, tmp_path):
    code, out, err = _run(capsys, ["descent", "--dataset", "mnist"])
    assert code == 0, err
    assert "fewer" in out


_DATA_FUNCTIONS = [
    lambda net, X, y: ins.full_gradient(net, X, y),
    lambda net, X, y: ins.total_cost(net, X, y),
    lambda net, X, y: ins.example_nudges(net, X, y),
    lambda net, X, y: ins.example_deltas(net, X, y),
    lambda net, X, y: ins.average_of_nudges(net, X, y),
    lambda net, X, y: ins.average_check(net, X, y),
    lambda net, X, y: ins.minibatch_estimates(net, X, y, batch_sizes=[5], draws=2),
    lambda net, X, y: ins.sensitivity(net, X, y),
    lambda net, X, y: ins.linear_check(net, X, y),
    lambda net, X, y: ins.descent(net, X, y, batch_sizes=[None], epochs=1),
    lambda net, X, y: ins.landscape(net, X, y, points=3, grid=3),
    lambda net, X, y: ins.noise_scale(net, X, y),
    lambda net, X, y: ins.hessian_noise_scale(net, X, y, samples=2),
    lambda net, X, y: ins.curvature(net, X, y, k=1, smallest=0),
    lambda net, X, y: ins.stability(net, X, y, steps=1),
    lambda net, X, y: ins.hessian_matrix(net, X, y),
    lambda net, X, y: ins.interpolate(net, net, X, y, points=2),
]


@pytest.mark.parametrize("call", _DATA_FUNCTIONS)
@pytest.mark.parametrize("data, words", [
    (("X", None), "labels (of shape|must be a 1-D)"),
    ((None, "y"), "inputs (have shape|must be numbers)"),
    (("abc", "y"), "inputs (have shape|must be numbers)"),
    (([[1, 2], [3]], [1, 2]), "not ragged lists"),
    (("X", "y3"), "20 inputs but 3 (labels|desired outputs)"),
    (("X1", "y1"), "inputs have shape"),
])
def test_inputs_and_labels_that_are_no_data_set_get_one_line(digits, call, data, words):
    """None, a string, a ragged list, a single example or labels of another length: a
    one-line error naming the inputs or labels (it was numpy's TypeError, IndexError or
    ValueError, and descent's ZeroDivisionError for no examples)."""
    X, y = digits.X_train[:20], digits.y_train[:20]
    known = {"X": X, "y": y, "y3": y[:3], "X1": X[0], "y1": y[:1]}
    args = [known.get(d, d) if isinstance(d, str) else d for d in data]
    with pytest.raises(NudgeError, match=words) as e:
        call(Network([64, 4, 10], seed=0), *args)
    assert "\n" not in str(e.value)
    if call is _DATA_FUNCTIONS[9]:
        with pytest.raises(NudgeError, match="there are no training examples"):
            call(Network([64, 4, 10], seed=0), X[:0], y[:0])


def test_a_batch_size_that_cannot_be_drawn_is_one_rule_everywhere(digits):
    """minibatch_estimates, descent and the noise scale's batch error each said it their own
    way (one with the fix, one without, one with 'full'): one rule, one message now."""
    from nudge.insight.noise import batch_error

    net = _net([64, 8, 10], seed=1)
    X, y = digits.X_train[:50], digits.y_train[:50]
    for call, words in (
            (lambda: ins.minibatch_estimates(net, X, y, [0], check_examples=0),
             "batch size 0 is not possible with 50 examples: use 1 to 50"),
            (lambda: ins.descent(net, X, y, batch_sizes=[None, 51], epochs=1),
             "batch size 51 is not possible with 50 training examples: use 1 to 50, or 'full'"),
            (lambda: batch_error(50, 51, 1.0),
             "batch size 51 is not possible with 50 examples: use 1 to 50")):
        with pytest.raises(NudgeError) as e:
            call()
        assert str(e.value) == words


@pytest.mark.parametrize("size", [2.5, "10", True, None])
def test_a_batch_size_that_is_not_a_whole_number_is_refused(digits, size):
    """minibatch_estimates([2.5]) was NumPy's TypeError from rng.choice, descent(["10"])
    Python's from the comparison, and relative_error(2.5) quietly the error of 2."""
    net = _net([64, 8, 10], seed=1)
    X, y = digits.X_train[:50], digits.y_train[:50]
    calls = [lambda: ins.minibatch_estimates(net, X, y, [size], check_examples=0),
             lambda: ins.noise_scale(net, X, y).relative_error(size)]
    if size is not None:                                 # None is descent's full batch
        calls.append(lambda: ins.descent(net, X, y, batch_sizes=[size], epochs=1))
    for call in calls:
        with pytest.raises(NudgeError, match="is not a whole number: use 1 to 50"):
            call()
