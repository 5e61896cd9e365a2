"""The Hessian-vector product (R-operator) against PyTorch's Hessian and finite differences of
the gradient; eigenvalues by Lanczos against a dense eigendecomposition; Hutchinson's trace;
full-batch descent around 2/λ_max; ``nudge curvature`` and ``nudge stability``."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch_reference as ref

from nudge import insight as ins
from nudge.cli import main
from nudge.errors import NudgeError
from nudge.insight.hessian import HessianOperator, activation_second
from nudge.modelfile import save
from nudge.network import Network


def _net(arch, seed=0):
    return Network(seed=seed, dtype=np.float64, **arch)


# --------------------------------------------------------------------------- H v
@pytest.mark.parametrize("arch", ref.ARCHS)
def test_hessian_equals_pytorch_autograd_hessian(arch):
    torch = pytest.importorskip("torch")
    net = _net(arch, seed=1)
    X, y = ref.data(25, arch["sizes"][0], arch["sizes"][-1])
    theta = torch.tensor(ins.get_parameters(net))
    H_torch = torch.autograd.functional.hessian(
        lambda t: ref.cost(torch, net, t, X, y), theta).numpy()
    H = ins.hessian_matrix(net, X, y)
    scale = np.abs(H_torch).max()
    np.testing.assert_allclose(H, H_torch, rtol=0, atol=1e-12 * scale)
    v = np.random.default_rng(0).standard_normal(net.n_parameters)
    np.testing.assert_allclose(ins.hessian_vector_product(net, X, y, v), H_torch @ v,
                               rtol=1e-10, atol=1e-12 * scale * np.abs(v).sum())


@pytest.mark.parametrize("output,cost", [("softmax", "cross-entropy"),
                                         ("sigmoid", "cross-entropy"), ("softmax", "quadratic")])
def test_hessian_with_desired_output_rows_equals_pytorch(output, cost):
    """Rows that are not one-hot and do not sum to 1 (softmax with cross-entropy: the
    Hessian of −Σ y ln softmax(z) scales with Σⱼyⱼ)."""
    torch = pytest.importorskip("torch")
    net = _net(dict(sizes=[4, 3, 3], activation="tanh", output=output, cost=cost), seed=2)
    X = np.random.default_rng(3).integers(0, 256, (7, 4), dtype=np.uint8)
    Y = np.random.default_rng(4).random((7, 3)) * 2
    H_torch = torch.autograd.functional.hessian(lambda t: ref.costs_of(
        torch, net, t, torch.tensor(X / 255.0), torch.tensor(Y)).mean(),
        torch.tensor(ins.get_parameters(net))).numpy()
    np.testing.assert_allclose(ins.hessian_matrix(net, X, Y), H_torch, rtol=0,
                               atol=1e-12 * np.abs(H_torch).max())


@pytest.mark.parametrize("arch", [dict(sizes=[64, 16, 16, 10]), *ref.ARCHS[1:]])
def test_hessian_vector_product_is_the_derivative_of_the_gradient(arch, digits):
    """(∇C(θ + εv) − ∇C(θ − εv)) / 2ε → H v with an error of order ε²."""
    sizes = [64, *arch["sizes"][1:-1], 10]
    net = _net({**arch, "sizes": sizes}, seed=2)
    X, y = digits.X_train[:300], digits.y_train[:300]
    v = np.random.default_rng(1).standard_normal(net.n_parameters)
    Hv = ins.hessian_vector_product(net, X, y, v, chunk=128)
    theta = ins.get_parameters(net)
    errors = []
    for eps in (1e-3, 5e-4):
        grads = []
        for sign in (1, -1):
            ins.set_parameters(net, theta + sign * eps * v)
            grads.append(ins.full_gradient(net, X, y).flat())
        ins.set_parameters(net, theta)
        fd = (grads[0] - grads[1]) / (2 * eps)
        errors.append(np.linalg.norm(fd - Hv) / np.linalg.norm(Hv))
    assert errors[0] < 1e-4
    if arch.get("activation") != "relu":           # ReLU's kinks spoil the ε² law
        assert errors[0] / errors[1] == pytest.approx(4, rel=0.2)


def test_chunks_and_float32_do_not_change_the_product(digits):
    net = _net(dict(sizes=[64, 16, 16, 10]), seed=3)
    X, y = digits.X_train[:500], digits.y_train[:500]
    v = np.random.default_rng(2).standard_normal(net.n_parameters)
    whole = ins.hessian_vector_product(net, X, y, v)
    np.testing.assert_allclose(ins.hessian_vector_product(net, X, y, v, chunk=7), whole,
                               rtol=1e-11, atol=1e-14 * np.abs(whole).max())
    f32 = ins.hessian_vector_product(net.astype(np.float32), X, y, v, dtype=np.float32)
    assert np.linalg.norm(f32 - whole) < 1e-5 * np.linalg.norm(whole)
    H = ins.HessianOperator(net, X, y)
    np.testing.assert_allclose(H @ v, whole, rtol=1e-13)
    assert (H @ np.stack([v, 2 * v], axis=1)).shape == (net.n_parameters, 2)
    assert H.products == 3


def test_the_r_operator_equations_number_layers_as_the_network_does():
    """The module docstring writes zˡ = Wˡ aˡ⁻¹ with a⁰ the inputs, layers from 1 as in
    nudge.network; it says which array Wˡ is (it once said the layers counted from 0,
    which would make a⁰ the first hidden layer)."""
    from nudge.insight import hessian

    doc = hessian.__doc__
    assert "zˡ = Wˡ aˡ⁻¹ + bˡ" in doc and "R a⁰ = 0" in doc
    assert "``net.weights[l-1]``" in doc and "a⁰ the inputs" in doc
    assert "from 0" not in doc


def test_activation_second_derivatives_by_finite_differences():
    z = np.linspace(-3, 3, 13)
    h = 1e-5
    from nudge.network import activate, activation_prime

    for kind in ("sigmoid", "tanh"):
        d = (activation_prime(kind, z + h, activate(kind, z + h))
             - activation_prime(kind, z - h, activate(kind, z - h))) / (2 * h)
        np.testing.assert_allclose(activation_second(kind, activate(kind, z)), d, atol=1e-8)
    assert not activation_second("relu", np.maximum(z, 0)).any()


def test_product_refuses_bad_vectors_and_sizes(digits):
    net = _net(dict(sizes=[64, 10]))
    with pytest.raises(NudgeError, match="650 values"):
        ins.hessian_vector_product(net, digits.X_train[:10], digits.y_train[:10], np.ones(3))
    with pytest.raises(NudgeError, match="no examples"):
        ins.hessian_vector_product(net, digits.X_train[:0], digits.y_train[:0],
                                   np.ones(net.n_parameters))
    with pytest.raises(NudgeError, match="too big"):
        ins.hessian_matrix(_net(dict(sizes=[64, 64, 10])), digits.X_train[:10],
                           digits.y_train[:10])


# --------------------------------------------------------------------------- eigenvalues
def test_lanczos_eigenvalues_equal_the_dense_eigendecomposition(digits):
    net = _net(dict(sizes=[64, 6, 10]), seed=4)           # 460 parameters
    X, y = digits.X_train[:400], digits.y_train[:400]
    H = ins.hessian_matrix(net, X, y)
    dense = np.linalg.eigvalsh(H)
    cv = ins.curvature(net, X, y, k=4, smallest=2, hutchinson=0, method="lanczos",
                       tol=1e-10, tol_smallest=1e-10)
    np.testing.assert_allclose(cv.largest, dense[::-1][:4], rtol=1e-7)
    np.testing.assert_allclose(cv.smallest, dense[:2], rtol=0, atol=1e-8 * dense[-1])
    np.testing.assert_allclose(cv.smallest_rayleigh, dense[:2], rtol=0, atol=1e-8 * dense[-1])
    assert cv.negative_curvature == (dense[0] < -100 * np.finfo(float).eps * dense[-1])
    assert cv.max_stable_learning_rate == pytest.approx(2 / dense[-1], rel=1e-7)
    assert cv.top_vectors.shape == (4, net.n_parameters)
    for lam, u in zip(cv.largest, cv.top_vectors):
        np.testing.assert_allclose(H @ u, lam * u, atol=1e-6 * dense[-1])
    d = cv.to_dict()
    assert "top_vectors" not in d
    json.dumps(d)
    from scipy.sparse.linalg import eigsh  # the operator, for SciPy users

    top = eigsh(ins.HessianOperator(net, X, y).linear_operator(), k=2, which="LA",
                tol=1e-10, return_eigenvectors=False)
    np.testing.assert_allclose(np.sort(top)[::-1], dense[::-1][:2], rtol=1e-7)
    tiny = _net(ref.ARCHS[0], seed=1)                      # 66 parameters: "auto" is dense
    Xt, yt = ref.data(30, 6, 3)
    small = ins.curvature(tiny, Xt, yt, k=3, smallest=2, hutchinson=0)
    exact = np.linalg.eigvalsh(ins.hessian_matrix(tiny, Xt, yt))
    assert small.method == "dense" and small.products == tiny.n_parameters + 2
    np.testing.assert_allclose(small.largest, exact[::-1][:3], rtol=1e-12)
    np.testing.assert_allclose(small.smallest, exact[:2], rtol=1e-10, atol=1e-15)


def test_a_hessian_with_few_eigenvalues_is_exact_where_lanczos_breaks_down(digits):
    from nudge.insight.curvature import _exhausted_krylov, _largest

    rng = np.random.default_rng(3)                 # rank 4: Lanczos' space closes at once
    V = np.linalg.qr(rng.standard_normal((300, 4)))[0]
    A = V @ np.diag([5.0, 2.0, -1.0, 0.5]) @ V.T
    vals, vecs = _exhausted_krylov(lambda v: A @ v, 300, 3, rng.standard_normal(300), 1e-9)
    np.testing.assert_allclose(vals, [5.0, 2.0, 0.5], rtol=1e-10)
    np.testing.assert_allclose(A @ vecs, vecs * vals, atol=1e-10)
    vals, _ = _largest(lambda v: 0 * v, 300, 2, 1e-4, rng.standard_normal(300), 20, 0,
                       np.float64)                 # H = 0: every eigenvalue is 0
    np.testing.assert_array_equal(vals, [0.0, 0.0])
    X, y = digits.X_train[:100], digits.y_train[:100]
    for dead in (16, 8):       # every hidden neuron dead (H has rank <= 10), or half of layer 1
        net = Network([64, 16, 16, 10], activation="relu", cost="cross-entropy", seed=1)
        net.biases[0][:dead] = -100.0
        if dead == 16:
            net.biases[1][...] = -100.0
        dense = np.linalg.eigvalsh(ins.hessian_matrix(net, X, y))
        H = HessianOperator(net, X, y, dtype=np.float32)
        start = np.zeros(net.n_parameters)
        start[0] = 1.0             # a dead weight: H start = 0, ARPACK's "starting vector is zero"
        top, _ = ins.top_eigenvalues(H, 1, v0=start)   # as nudge stability starts its measures
        assert top[0] == pytest.approx(dense[-1], rel=1e-4)
        cv = ins.curvature(net, X, y, k=3, smallest=1, hutchinson=0, method="lanczos")
        np.testing.assert_allclose(cv.largest, dense[::-1][:3], rtol=1e-4)


@pytest.mark.parametrize("sizes", [[64, 4, 10], [64, 16, 10]])    # dense, Lanczos
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_hessian_of_zeros_is_flat_not_a_bowl(digits, sizes, dtype):
    """Saturated sigmoid outputs (z = -1000: a = 0 exactly) make H = 0; its smallest
    eigenvalue came out 0 and the summary said 'a bowl (convex)' (or, from Lanczos' shift,
    -1.7e-316 'within the rounding of +-0')."""
    net = Network(sizes, seed=0, dtype=dtype)
    net.weights[-1][:] = 0
    net.biases[-1][:] = -1000
    cv = ins.curvature(net, digits.X_train[:100], digits.y_train[:100], k=2, hutchinson=0)
    assert cv.largest == [0, 0] and cv.method == ("dense" if sizes[1] == 4 else "lanczos")
    assert "bowl (convex)" not in cv.summary and "rounding" not in cv.summary
    assert cv.summary.startswith("every eigenvalue is 0")
    assert f"the cost is flat here to {np.dtype(dtype)} precision" in cv.summary
    assert "neither a bowl nor a saddle" in cv.summary


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_flat_point_has_eigenvalues_of_exactly_0_not_lanczos_residue(digits, dtype):
    """H = 0 (saturated outputs): the summary said flat, while the smallest eigenvalues came
    out of Lanczos' shift (1e-300) as -1.7e-316, below the smallest normal number, and
    were listed so (and in --json) beside largest ones of 0."""
    net = Network([64, 16, 10], seed=0, dtype=dtype)
    net.weights[-1][:] = 0
    net.biases[-1][:] = -1000
    for seed in range(4):                  # the residue came with some seeds, not others
        cv = ins.curvature(net, digits.X_train[:100], digits.y_train[:100], k=3, smallest=2,
                           hutchinson=2, seed=seed)
        values = cv.largest + cv.smallest + cv.smallest_rayleigh + [cv.trace_estimate]
        assert cv.method == "lanczos" and cv.summary.startswith("every eigenvalue is 0")
        assert all(v == 0 and math.copysign(1, v) == 1 for v in values), values


def test_cli_curvature_shows_a_flat_point_as_zeros(capsys, saturated_model):
    _, path = saturated_model                  # 650 parameters: Lanczos
    for seed in range(4):
        argv = ["curvature", path, "--examples", "100", "--top", "2", "--smallest", "2",
                "--hutchinson", "2", "--seed", str(seed)]
        assert main(argv) == 0
        out = capsys.readouterr().out
        rows = out.split("value\n")[1].splitlines()[1:5]
        assert [r.split()[2] for r in rows] == ["+0.00000e+00"] * 4, out
        assert not re.search(r"e-3\d\d", out)
        assert "flat here to float64 precision" in " ".join(out.split())
        assert main(argv + ["--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["largest"] + data["smallest"] == [0.0] * 4
    # one Hutchinson vector is 'a vector', not '1 vectors'
    assert main(["curvature", path, "--examples", "100", "--top", "1", "--hutchinson", "1"]) == 0
    assert "(sum of all 650 eigenvalues, Hutchinson, 1 vector): 0" in capsys.readouterr().out


def test_hutchinson_is_the_mean_of_v_h_v_and_near_the_trace(digits):
    net = _net(dict(sizes=[64, 5, 10]), seed=5)
    X, y = digits.X_train[:300], digits.y_train[:300]
    Hd = ins.hessian_matrix(net, X, y)
    H = ins.HessianOperator(net, X, y)
    est, se = ins.hutchinson_trace(H, 200, seed=3)
    rng = np.random.default_rng(3 + 2)                     # the same ±1 vectors
    vs = [rng.integers(0, 2, net.n_parameters) * 2.0 - 1 for _ in range(200)]
    q = [v @ Hd @ v for v in vs]
    assert est == pytest.approx(np.mean(q), rel=1e-10)
    assert se == pytest.approx(np.std(q, ddof=1) / math.sqrt(200), rel=1e-8)
    assert abs(est - np.trace(Hd)) < 4 * se


def test_curvature_defaults_on_a_digits_model(digits):
    net = Network([64, 16, 16, 10], seed=6)
    net.fit(digits.X_train, digits.y_train, epochs=3, batch_size=10, learning_rate=3.0,
            seed=6, monitor_train_cost=False)
    cv = ins.curvature(net, digits.X_train, digits.y_train)
    assert cv.method == "lanczos" and cv.dtype == "float32"
    assert len(cv.largest) == 5 and len(cv.smallest) == 1
    assert cv.largest == sorted(cv.largest, reverse=True)
    assert cv.smallest[0] <= cv.largest[-1]
    assert cv.smallest_rayleigh[0] == pytest.approx(cv.smallest[0], rel=1e-2,
                                                    abs=1e-4 * cv.largest[0])
    c64 = ins.curvature(net, digits.X_train, digits.y_train, k=2, smallest=0, hutchinson=0,
                        dtype=np.float64)
    np.testing.assert_allclose(c64.largest, cv.largest[:2], rtol=1e-4)
    assert "2/lambda_max" in cv.summary and cv.trace_estimate > 0


@pytest.mark.parametrize("kw, words", [
    (dict(k=0), "at least 1"), (dict(k=2000), "too many"), (dict(smallest=-1), "at least 0"),
    (dict(hutchinson=10**6), "at most"), (dict(method="qr"), "unknown method"),
    (dict(tol=0.0), "between 0 and 1"), (dict(k=1.5), "whole number"),
    (dict(tol="1e-4"), "between 0 and 1"), (dict(tol_smallest=math.nan), "between 0 and 1"),
    (dict(method="q" * 5000), r"unknown method 'qqq.*\.\.\.: choose one of auto, lanczos, dense$"),
    (dict(k=list(range(5000))), r"k must be a whole number of at least 1, got \[0, 1, .*\.\.\.$"),
])
def test_curvature_refuses_bad_requests(digits, kw, words):
    net = Network([64, 10], seed=0)
    with pytest.raises(NudgeError, match=words):
        ins.curvature(net, digits.X_train[:50], digits.y_train[:50], **kw)


@pytest.mark.parametrize("call, words", [
    (lambda H: ins.top_eigenvalues(H, 0), "k must be a whole number of at least 1"),
    (lambda H: ins.top_eigenvalues(H, 650), "at most 100 for this network"),
    (lambda H: ins.top_eigenvalues(H, 10**9), "too many"),
    (lambda H: ins.top_eigenvalues(H, 1, tol=math.nan), "tol must be between 0 and 1"),
    (lambda H: ins.top_eigenvalues(H, 1, v0=np.ones(3)), "v0 has shape"),
    (lambda H: ins.top_eigenvalues(H, 1, seed=-1), "seed -1"),
    (lambda H: ins.hutchinson_trace(H, 0), "at least 1"),
    (lambda H: ins.hutchinson_trace(H, 10**12), "at most 10,000"),
    (lambda H: ins.hutchinson_trace(H, 2.5), "whole number"),
])
def test_eigenvalue_and_trace_helpers_refuse_bad_counts(digits, call, words):
    """top_eigenvalues and hutchinson_trace are public too: k=0 and k >= the parameters were
    SciPy's ValueError and TypeError, and 10**12 Hutchinson samples ran for ever."""
    H = ins.HessianOperator(Network([64, 10], seed=0), digits.X_train[:50], digits.y_train[:50])
    with pytest.raises(NudgeError, match=words):
        call(H)


# --------------------------------------------------------------------------- stability
@pytest.fixture(scope="module")
def trained(digits):
    net = Network([64, 16, 10], seed=1)
    net.fit(digits.X_train, digits.y_train, epochs=5, batch_size=10, learning_rate=3.0, seed=1,
            monitor_train_cost=False)
    return net


def test_descent_below_2_over_lambda_is_steady_and_above_it_overshoots(digits, trained):
    X, y = digits.X_train[:500], digits.y_train[:500]
    report = ins.stability(trained, X, y, factors=[0.5, 3.0], steps=25, every=5)
    lam0 = ins.curvature(trained, X, y, k=1, smallest=0, hutchinson=0).largest[0]
    assert report.initial_sharpness == pytest.approx(lam0, rel=1e-3)
    steady, wild = report.runs
    assert steady.learning_rate == pytest.approx(0.5 * 2 / report.initial_sharpness)
    assert steady.steps == list(range(26)) and steady.sharpness_steps == [0, 5, 10, 15, 20, 25]
    assert steady.costs[0] == wild.costs[0] == pytest.approx(report.initial_cost)
    assert np.all(np.diff(steady.costs) < 0)               # every step downhill
    assert max(wild.costs) > wild.costs[0]                 # overshoots: the cost rises
    assert wild.threshold == pytest.approx(2 / wild.learning_rate)
    json.dumps(report.to_dict())
    assert "every" not in steady.what_happened()
    assert f"the cost rose to {max(wild.costs):.4f}" in wild.what_happened()


def test_what_a_stability_run_did_is_told_from_its_numbers():
    """Over 2/λ_max the steps need not overshoot visibly (the network can reach a flatter
    place first): the words follow the run's costs and λ_max, never a fixed story."""
    from nudge.insight.stability import StabilityRun

    def run(factor, costs, sharpness, diverged_at=None):
        return StabilityRun("r", 4.0, factor, list(range(len(costs))), costs,
                            [0, len(costs) - 1], sharpness, diverged_at)   # 2/eta = 0.5

    calm = run(1.1, [0.08, 0.06, 0.04], [0.55, 0.3]).what_happened()
    assert "never rose above its start (0.0800 -> 0.0400)" in calm and "overshot" not in calm
    assert "below 2/eta = 0.5: the steps moved the network somewhere flatter" in calm
    catapult = run(1.1, [0.05, 0.4, 0.03], [0.55, 0.2]).what_happened()
    assert "the cost rose to 0.4000 (from 0.0500) and ended at 0.0300" in catapult
    assert "overshot until the network reached somewhere flatter" in catapult
    edge = run(0.9, [0.08, 0.07, 0.06], [0.4, 0.49]).what_happened()
    assert "within 10% of 2/eta = 0.5: at the edge of stability" in edge
    assert "overflowed at step 7" in run(3.0, [0.1, 5.0], [0.6, 0.6], 7).what_happened()


def test_stability_refuses_bad_settings(digits, trained):
    X, y = digits.X_train[:100], digits.y_train[:100]
    for kw in (dict(steps=0), dict(every=0), dict(factors=[]), dict(factors=[-1.0]),
               dict(learning_rates=[math.nan])):
        with pytest.raises(NudgeError):
            ins.stability(trained, X, y, **kw)


def test_a_run_or_row_given_twice_is_refused(digits, trained, digits_model, capsys):
    """nudge stability --factors 0.5,0.5 ran one run twice, and nudge average
    --batch-sizes 10,10 drew the same batch size's row twice: a repeat is a one-line
    error (the same rule for every list whose entries are runs or rows)."""
    from nudge.cli import main

    X, y = digits.X_train[:100], digits.y_train[:100]
    with pytest.raises(NudgeError, match=r"^factors: 0.5 is given twice; give each once$"):
        ins.stability(trained, X, y, factors=[0.5, 1.0, 0.5], steps=2)
    with pytest.raises(NudgeError, match=r"^batch sizes: 10 is given twice; give each once$"):
        ins.minibatch_estimates(trained, X, y, batch_sizes=[10, 10])
    code = main(["average", str(digits_model), "--batch-sizes", "10,1,10"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "batch sizes: 10 is given twice" in err


# --------------------------------------------------------------------------- the CLI
@pytest.fixture(scope="module")
def digits_model(tmp_path_factory, trained):
    path = tmp_path_factory.mktemp("m") / "digits.safetensors"
    save(trained, path, dataset="digits")
    return str(path)


def test_cli_curvature(capsys, digits_model, tmp_path):
    png = tmp_path / "c.png"
    assert main(["curvature", digits_model, "--top", "3", "--hutchinson", "3", "--plot",
                 str(png)]) == 0
    out = capsys.readouterr().out
    assert "largest 3" in out and "smallest 1" in out and "2/lambda_max" in out
    assert png.stat().st_size > 1000
    assert main(["curvature", digits_model, "--json", "--top", "2", "--smallest", "0",
                 "--hutchinson", "0", "--examples", "300", "--float64"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["largest"]) == 2 and data["smallest"] == [] and data["dtype"] == "float64"
    assert data["n_examples"] == 300 and data["trace_estimate"] is None


def test_cli_stability(capsys, digits_model, tmp_path):
    png = tmp_path / "s.png"
    assert main(["stability", digits_model, "--train-limit", "300", "--steps", "6",
                 "--every", "3", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "2/lambda_max" in out and "edge of stability" in out and png.is_file()
    assert main(["stability", "--dataset", "digits", "--train-limit", "200", "--steps", "4",
                 "--learning-rates", "1,2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["learning_rate"] for r in data["runs"]] == [1.0, 2.0]
    assert data["start"].startswith("a new 64-16-16-10 network")


@pytest.mark.parametrize("argv, words", [
    (["curvature", "{m}", "--top", "700"], None),
    (["curvature", "{m}", "--tol", "2"], None),        # was exit 1, unlike other options
    (["curvature", "{m}", "--tol", "0"], None),
    (["stability", "--dataset", "digits", "--sizes", "64,3,9"], "outputs"),
    (["curvature", "/nonexistent.safetensors"], "no such model file"),
])
def test_cli_curvature_errors(capsys, digits_model, argv, words):
    argv = [a.replace("{m}", digits_model) for a in argv]
    if words is None:                                      # argparse range check: exit 2
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        return
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


# --------------------------------------------------------------------------- full MNIST
@pytest.mark.slow
def test_full_mnist_noise_and_curvature_in_float32_match_float64(mnist):
    """(their speed is measured by benchmarks/curvature_speed.py, not by a timed test)"""
    net = Network([784, 16, 16, 10], seed=1)
    net.fit(mnist.X_train, mnist.y_train, epochs=1, batch_size=10, learning_rate=1.0, seed=1,
            monitor_train_cost=False)
    X, y = mnist.X_train, mnist.y_train
    ns32, ns64 = ins.noise_scale(net, X, y), ins.noise_scale(net, X, y, dtype=np.float64)
    assert ns32.n == 60000 and ns32.b_simple == pytest.approx(ns64.b_simple, rel=1e-4)
    c32 = ins.curvature(net, X, y, k=3, smallest=0, hutchinson=0)
    c64 = ins.curvature(net, X, y, k=3, smallest=0, hutchinson=0, dtype=np.float64)
    np.testing.assert_allclose(c32.largest, c64.largest, rtol=1e-4)
    assert c32.products <= 60
