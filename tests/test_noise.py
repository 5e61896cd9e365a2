"""The gradient noise scale against per-example gradients from PyTorch, its tracking during
training, the critical-batch fit, and ``nudge noise`` / ``nudge train --track noise``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch_reference as ref

from nudge import insight as ins
from nudge.cli import main
from nudge.errors import NudgeError
from nudge.modelfile import load
from nudge.network import Network
from nudge.train import train


@pytest.mark.parametrize("arch", ref.ARCHS)
def test_noise_scale_equals_pytorch_per_example_gradients(arch):
    torch = pytest.importorskip("torch")
    net = Network(seed=3, dtype=np.float64, **arch)
    X, y = ref.data(40, arch["sizes"][0], arch["sizes"][-1])
    theta = torch.tensor(ins.get_parameters(net))
    # each example's gradient ∇Cₓ by autograd, one example at a time
    per = torch.stack([torch.func.grad(lambda t, i=i: ref.example_costs(
        torch, net, t, X[i:i + 1], y[i:i + 1])[0])(theta) for i in range(len(X))])
    G = per.mean(0)
    trace = ((per - G) ** 2).sum(1).mean().item()
    ns = ins.noise_scale(net, X, y, chunk=7)
    assert ns.n == 40 and ns.dtype == "float64"
    assert ns.gradient_norm_squared == pytest.approx((G @ G).item(), rel=1e-10)
    assert ns.mean_example_norm_squared == pytest.approx((per ** 2).sum(1).mean().item(),
                                                         rel=1e-10)
    assert ns.trace_covariance == pytest.approx(trace, rel=1e-9)
    assert ns.b_simple == pytest.approx(trace / (G @ G).item(), rel=1e-9)
    assert ns.cost == pytest.approx(ref.cost(torch, net, theta, X, y).item(), rel=1e-12)


@pytest.mark.parametrize("arch", ref.ARCHS[:2])
def test_hessian_noise_scale_equals_pytorch(arch):
    torch = pytest.importorskip("torch")
    net = Network(seed=4, dtype=np.float64, **arch)
    X, y = ref.data(30, arch["sizes"][0], arch["sizes"][-1], seed=2)
    theta = torch.tensor(ins.get_parameters(net))
    per = torch.stack([torch.func.grad(lambda t, i=i: ref.example_costs(
        torch, net, t, X[i:i + 1], y[i:i + 1])[0])(theta) for i in range(len(X))]).numpy()
    H = torch.autograd.functional.hessian(lambda t: ref.cost(torch, net, t, X, y),
                                          theta).numpy()
    G = per.mean(0)
    D = per - G
    trace = float(np.mean(np.einsum("xi,ij,xj->x", D, H, D)))
    exact = ins.hessian_noise_scale(net, X, y, samples=None)
    assert exact.samples == 30 and exact.trace_standard_error == 0
    assert exact.gradient_h_gradient == pytest.approx(G @ H @ G, rel=1e-9)
    assert exact.trace_h_sigma == pytest.approx(trace, rel=1e-9)
    assert exact.b_noise == pytest.approx(trace / (G @ H @ G), rel=1e-9)
    assert exact.b_simple == pytest.approx(ins.noise_scale(net, X, y).b_simple, rel=1e-12)
    # a float32 network with dtype=float64: every product in float64, the examples' own
    # gradients too (they were float32: gₓ − G then carried float32 rounding)
    as64 = ins.hessian_noise_scale(net.astype(np.float32), X, y, samples=None,
                                   dtype=np.float64)
    net32in64 = net.astype(np.float32).astype(np.float64)
    assert as64.trace_h_sigma == pytest.approx(
        ins.hessian_noise_scale(net32in64, X, y, samples=None).trace_h_sigma, rel=1e-12)
    sampled = ins.hessian_noise_scale(net, X, y, samples=20, seed=1)
    assert abs(sampled.trace_h_sigma - trace) < 5 * sampled.trace_standard_error
    with pytest.raises(NudgeError, match="samples"):
        ins.hessian_noise_scale(net, X, y, samples=31)


def test_noise_scale_with_vmap_on_the_digits(digits):
    torch = pytest.importorskip("torch")
    from torch.func import grad, vmap

    net = Network([64, 16, 16, 10], seed=2, dtype=np.float64)
    X, y = digits.X_train[:500], digits.y_train[:500]
    theta = torch.tensor(ins.get_parameters(net))
    A = torch.as_tensor(X, dtype=torch.float64) / 255.0
    Y = torch.as_tensor(np.eye(10)[y])
    # every example's gradient at once: vmap over the rows of (A, Y) of grad with respect to θ
    per = vmap(grad(lambda t, a, yy: ref.costs_of(torch, net, t, a, yy)),
               in_dims=(None, 0, 0))(theta, A, Y)
    G = per.mean(0)
    trace = ((per - G) ** 2).sum(1).mean().item()
    ns = ins.noise_scale(net, X, y)
    assert ns.b_simple == pytest.approx(trace / (G @ G).item(), rel=1e-9)
    # float32 products (a trained model's own dtype) agree to float32 precision
    ns32 = ins.noise_scale(net.astype(np.float32), X, y)
    assert ns32.b_simple == pytest.approx(ns.b_simple, rel=1e-4)


def test_relative_error_is_the_sampling_theory(digits):
    net = Network([64, 16, 10], seed=5, dtype=np.float64)
    X, y = digits.X_train[:600], digits.y_train[:600]
    ns = ins.noise_scale(net, X, y)
    report = ins.minibatch_estimates(net, X, y, [1, 10, 100], draws=5, seed=0,
                                     check_examples=0)
    for e in report.estimates:
        assert ns.relative_error(e.batch_size) == pytest.approx(e.predicted_relative_error,
                                                                rel=1e-9)
    assert ns.relative_error(600) == 0
    with pytest.raises(NudgeError):
        ns.relative_error(601)
    assert "B_simple" in ns.explanation()
    json.dumps(ns.to_dict())


def test_a_zero_gradient_has_an_infinite_noise_scale():
    """Targets equal to the network's own outputs: G = 0 (and every gₓ = 0)."""
    net = Network([3, 2], seed=1, dtype=np.float64)
    X = np.random.default_rng(0).random((20, 3))
    Y = net.feedforward(X)
    ns = ins.noise_scale(net, X, Y)
    assert ns.b_simple == math.inf
    # every g_B = G = 0: |g_B - G| / |G| is 0/0 for every batch size (it was inf below n)
    assert all(math.isnan(ns.relative_error(B)) for B in (1, 7, 19, 20))
    assert ins.hessian_noise_scale(net, X, Y, samples=None).b_simple == math.inf
    assert "exactly 0" in ns.explanation()
    # every gₓ = 0 too: no mini-batch is 'pure noise', each one's gradient is exactly 0
    assert ns.mean_example_norm_squared == 0 and "pure noise" not in ns.explanation()
    assert ns.explanation().startswith("the gradient over these examples is exactly 0, and so "
                                       "is every example's own gradient: every mini-batch's "
                                       "gradient is exactly 0 as well, with no noise at all")
    # G = 0 while the examples' own gradients are not: then every mini-batch is all noise
    cancel = ins.NoiseScale(20, ns.cost, 0.0, 0.5, 0.5, math.inf, ns.seconds, ns.dtype)
    assert "exactly 0: every mini-batch is pure noise" in cancel.explanation()
    assert cancel.relative_error(19) == math.inf and math.isnan(cancel.relative_error(20))
    with pytest.raises(NudgeError):
        ns.relative_error(21)


def test_saturated_outputs_do_not_lose_the_examples_gradients_in_float32(digits):
    """Outputs near 0 (z = -60, as after a diverged run): each example's δ is about 1e-26,
    whose square underflows in float32 while |G|² (summed in float64) does not; the
    per-example norms are squared in float64, so B_simple is that of the float64 network
    (it was 0: mean |gₓ|² came out 0, below |G|²)."""
    net = Network([64, 10], seed=0)
    net.weights[0][:] = 0
    net.biases[0][:] = -60
    X, y = digits.X_train[:300], digits.y_train[:300]
    ns32 = ins.noise_scale(net, X, y)
    ns64 = ins.noise_scale(net.astype(np.float64), X, y)
    assert ns32.mean_example_norm_squared >= ns32.gradient_norm_squared > 0
    assert ns32.b_simple == pytest.approx(ns64.b_simple, rel=1e-4)
    assert ns64.b_simple > 1


def test_noise_scale_refuses_too_few_examples(digits):
    net = Network([64, 10], seed=0)
    with pytest.raises(NudgeError, match="at least 2"):
        ins.noise_scale(net, digits.X_train[:1], digits.y_train[:1])


def test_tracker_records_every_epoch_as_the_trainer_goes(digits):
    net = Network([64, 16, 10], seed=1)
    X, y = digits.X_train[:400], digits.y_train[:400]
    tracker = ins.NoiseTracker(X, y)
    first = tracker.start(net)
    assert first.epoch == 0
    assert first.b_simple == pytest.approx(ins.noise_scale(net, X, y).b_simple)
    history = train(net, X, y, epochs=3, batch_size=20, learning_rate=2.0, seed=0,
                    callback=tracker)
    assert [r.epoch for r in tracker.records] == [0, 1, 2, 3]
    end = ins.noise_scale(net, X, y)
    assert tracker.records[-1].b_simple == pytest.approx(end.b_simple, rel=1e-12)
    assert tracker.records[-1].cost == pytest.approx(history.last.train_cost, rel=1e-5)
    assert json.loads(json.dumps(tracker.to_dict()))[1]["epoch"] == 1


# --------------------------------------------------------------------------- critical batch
def test_fit_recovers_the_critical_batch_size():
    B = np.array([1, 4, 16, 64, 256, 1024, 6000])
    S = 120.0 * (1 + 300.0 / B)
    fit = ins.fit_critical_batch(B, S)
    assert fit.b_crit == pytest.approx(300.0, rel=1e-6)
    assert fit.s_min == pytest.approx(120.0, rel=1e-6)
    assert fit.e_min == pytest.approx(36000.0, rel=1e-6)
    assert fit.rms_log_error < 1e-8
    # (S/S_min − 1)(E/E_min − 1) = 1 at every measured point
    E = B * S
    np.testing.assert_allclose((S / fit.s_min - 1) * (E / fit.e_min - 1), 1, rtol=1e-5)
    noisy = S * np.exp(np.random.default_rng(0).normal(0, 0.05, len(S)))
    assert ins.fit_critical_batch(B, noisy).b_crit == pytest.approx(300, rel=0.3)


@pytest.mark.parametrize("B, S", [([1, 2], [3, 4]), ([1, 2, 3], [3, 0, 4]),
                                  ([1, 2, 3], [3, math.inf, 4]), ([1, 2, -3], [1, 2, 3]),
                                  # these three were ValueError, OverflowError, OverflowError
                                  ([1, 2, math.nan], [1, 2, 3]), ([1, 2, math.inf], [1, 2, 3]),
                                  ([1, 2, 1e308], [1, 2, 3])])
def test_fit_refuses_bad_measurements(B, S):
    with pytest.raises(NudgeError):
        ins.fit_critical_batch(B, S)


# --------------------------------------------------------------------------- the CLI
def test_cli_noise(capsys, fitted_model, tmp_path, digits):
    png = tmp_path / "noise.png"
    assert main(["noise", fitted_model, "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "B_simple" in out and "waste steps" in out and "waste examples" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["noise", fitted_model, "--json", "--examples", "300", "--split", "test"]) == 0
    data = json.loads(capsys.readouterr().out)
    ns = ins.noise_scale(load(fitted_model), digits.X_test[:300], digits.y_test[:300])
    assert data["n"] == 300 and data["b_simple"] == pytest.approx(ns.b_simple)


def test_cli_noise_of_a_zero_gradient_shows_no_noise_not_infinite_errors(capsys, tmp_path,
                                                                         saturated_model):
    """Every example's gradient 0 (saturated outputs): the explanation said 'no noise at all'
    while the table gave the batches smaller than n a relative error of 'inf'; every one is
    0/0 (g_B = G = 0), and B_simple too."""
    _, path = saturated_model
    png = tmp_path / "noise.png"
    assert main(["noise", path, "--examples", "100", "--plot", str(png)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "inf" not in out and "no noise at all" in out
    rows = out.split("relative error\n")[1].splitlines()[1:4]
    assert [r.split() for r in rows] == [["1", "undefined"], ["10", "undefined"],
                                         ["100", "undefined"]]
    assert "B_simple = tr Sigma / |G|^2   undefined" in out
    assert ("relative error undefined: every mini-batch's gradient g_B is exactly 0, as G is "
            "(no noise at all), so |g_B - G| / |G| is 0/0") in " ".join(out.split())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["noise", path, "--examples", "100", "--json"]) == 0
    data = json.loads(capsys.readouterr().out,
                      parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert data["relative_errors"] == {"1": None, "10": None, "100": None}
    assert data["b_simple"] is None


def test_cli_train_tracks_the_noise_scale(capsys, tmp_path):
    out = tmp_path / "m.safetensors"
    png = tmp_path / "track.png"
    assert main(["train", "--dataset", "digits", "--epochs", "3", "--seed", "2", "--out",
                 str(out), "--track", "noise", "--track-plot", str(png), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    tracked = data["tracked"]["noise"]
    assert [r["epoch"] for r in tracked] == [0, 1, 2, 3]
    assert [row["noise_scale"]["epoch"] for row in data["history"]] == [1, 2, 3]
    assert data["track_plot_path"] == str(png) and png.stat().st_size > 1000
    net = load(out)
    assert net.metadata["tracked"]["noise"] == tracked
    assert net.metadata["history"][-1]["noise_scale"]["b_simple"] == tracked[-1]["b_simple"]


@pytest.mark.parametrize("argv, words", [
    (["train", "--dataset", "digits", "--track-plot", "t.png"], "needs --track noise"),
    (["train", "--dataset", "digits", "--track", "noise", "--track-plot", "t.jpg"], "PNG"),
    (["noise", "/nonexistent.safetensors"], "no such model file"),
])
def test_cli_noise_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]
