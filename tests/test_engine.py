"""The engines: the compiled one (the C kernel) gives the reference's weights.

Tolerances: the compiled engine's float32 arithmetic differs from NumPy's in rounding
order only (sums over pixels and examples, fused multiply-adds, Cephes' exp and tanh
polynomials), so its weights are compared with the reference engine's at rtol 1e-4 and
atol 2e-5 (5e-5 after a few hundred steps): float32 rounding, not mathematics.  Where the
kernel does the same operations in the same order (one thread or two, one call or
several), the weights must be equal bit for bit; so must the AVX-512 and AVX2 builds' for
the set-ups below (GCC may fuse multiply-adds differently at the two widths in a short
loop, so that is checked, not promised for every set-up).
"""

from __future__ import annotations

import ctypes
import itertools
import json

import numpy as np
import pytest

from nudge import engine as engines
from nudge.cli import main as cli_main
from nudge.engine import CompiledEngine, ReferenceEngine, clib, compiled, make_engine
from nudge.engine import threads as thread_rules
from nudge.errors import NudgeError
from nudge.inputs import desired_outputs
from nudge.network import ACTIVATIONS, COSTS, OUTPUTS, Network
from nudge.train import evaluate, train

needs_c = pytest.mark.skipif(not clib.available(),
                             reason=f"the C kernel was not built ({clib._c_error})")


def sparse_pixels(n: int, n_in: int = 784, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 'images', ~80% zeros like MNIST, and labels 0..9."""
    rng = np.random.default_rng(seed)
    X = ((rng.random((n, n_in)) < 0.2) * rng.integers(1, 256, (n, n_in))).astype(np.uint8)
    X[0] = 0                     # an all-black image
    X[1] = 255                   # an all-white one
    return X, rng.integers(0, 10, n)


def reference_epoch(net: Network, X, y, order, batch_size, eta) -> None:
    """Plain SGD with Network.update_mini_batch (the textbook loop, no engine)."""
    Y = desired_outputs(y, net.sizes[-1], net.dtype.type)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        net.update_mini_batch(X[batch], Y[batch], eta)


def fast_epoch(net: Network, X, y, order, batch_size, eta, **options) -> int:
    """One epoch over ``order`` with the compiled engine, in one call."""
    engine = CompiledEngine(net, X, y, batch_size, **options)
    return engine.run(net, order, 0, len(order), eta)


def assert_same_parameters(a: Network, b: Network, atol: float = 2e-5) -> None:
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        assert p.dtype == q.dtype == np.float32
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=atol)


def assert_equal_parameters(a: Network, b: Network) -> None:
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        assert np.array_equal(p, q)


def both_engines(sizes, X, y, *, kinds=("sigmoid", "sigmoid", "quadratic"), seed=6,
                 **options) -> tuple[Network, Network, object]:
    """The same network trained by train() with the fast and the reference engine."""
    net = Network(sizes, *kinds, seed=seed)
    ref = net.copy()
    options.setdefault("monitor_train_cost", False)
    h = train(net, X, y, engine="fast", **options)
    options.pop("threads", None)
    train(ref, X, y, engine="reference", **options)
    assert h.settings["engine"] == "fast" and h.settings["kernel"] == "c"
    return net, ref, h


# --------------------------------------------------------------------------- the mathematics
CASES = [
    # sizes, batch size, activation, output, cost, learning rate
    ([784, 16, 16, 10], 10, "sigmoid", "sigmoid", "quadratic", 3.0),   # 3b1b
    ([784, 30, 10], 10, "sigmoid", "sigmoid", "quadratic", 1.5),       # Nielsen
    ([784, 16, 16, 10], 7, "sigmoid", "sigmoid", "quadratic", 3.0),    # 503 = 71*7 + 6
    ([784, 20, 12, 8, 10], 32, "sigmoid", "sigmoid", "quadratic", 2.0),
    ([784, 10], 5, "sigmoid", "sigmoid", "quadratic", 1.0),            # no hidden layer
    ([784, 24, 10], 16, "relu", "softmax", "cross-entropy", 0.1),
    ([784, 17, 10], 9, "tanh", "softmax", "quadratic", 0.1),
    ([784, 17, 10], 9, "relu", "sigmoid", "cross-entropy", 0.1),
    ([784, 600, 10], 250, "sigmoid", "sigmoid", "quadratic", 1.0),     # two pixel ranges
    ([784, 520, 10], 300, "tanh", "softmax", "cross-entropy", 0.05),
    ([784, 10], 5, "sigmoid", "softmax", "cross-entropy", 0.5),        # softmax first layer
]


@needs_c
@pytest.mark.parametrize("sizes,batch_size,activation,output,cost,eta", CASES)
def test_epoch_matches_reference(sizes, batch_size, activation, output, cost, eta):
    X, y = sparse_pixels(503)
    net = Network(sizes, activation, output, cost, seed=3)
    ref = net.copy()
    order = np.random.default_rng(5).permutation(len(X))
    steps = fast_epoch(net, X, y, order, batch_size, eta)
    reference_epoch(ref, X, y, order, batch_size, eta)
    assert steps == -(-len(X) // batch_size)
    assert_same_parameters(net, ref)
    assert not np.array_equal(net.weights[0], Network(sizes, seed=3).weights[0])  # it moved


KINDS = list(itertools.product(ACTIVATIONS, OUTPUTS, COSTS))


@needs_c
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
@pytest.mark.parametrize("activation,output,cost", KINDS)
def test_every_kind_of_network_matches_reference(activation, output, cost, optimizer):
    """Each hidden function x output x cost, with plain SGD and with momentum (whose
    velocity carries over from epoch to epoch), two hidden layers of odd widths."""
    X, y = sparse_pixels(257, seed=11)
    net, ref, _ = both_engines([784, 24, 17, 10], X, y, kinds=(activation, output, cost),
                               epochs=2, batch_size=7, learning_rate=0.05, optimizer=optimizer,
                               seed=4)
    assert_same_parameters(net, ref)
    assert not np.array_equal(net.weights[1], Network([784, 24, 17, 10], seed=6).weights[1])


@needs_c
@pytest.mark.parametrize("sizes,kinds,optimizer,decay,threads", [
    ([784, 16, 16, 10], ("sigmoid", "sigmoid", "quadratic"), "momentum", 0.0, 1),
    ([784, 16, 16, 10], ("sigmoid", "sigmoid", "quadratic"), "momentum", 0.01, 1),
    ([784, 30, 10], ("relu", "softmax", "cross-entropy"), "momentum", 0.001, 1),
    ([784, 17, 33, 5, 10], ("tanh", "sigmoid", "cross-entropy"), "momentum", 0.01, 1),
    ([784, 10], ("sigmoid", "softmax", "cross-entropy"), "momentum", 0.01, 1),
    ([784, 800, 10], ("sigmoid", "sigmoid", "quadratic"), "momentum", 0.005, 2),  # whole rows
    ([784, 520, 30, 10], ("relu", "softmax", "cross-entropy"), "momentum", 0.01, 2),
    ([784, 520, 10], ("tanh", "sigmoid", "quadratic"), "sgd", 0.01, 2),
    ([784, 24, 10], ("relu", "softmax", "quadratic"), "sgd", 0.01, 1),
])
def test_momentum_and_weight_decay_match_reference(sizes, kinds, optimizer, decay, threads):
    """v <- mu v - eta (g + lambda W), theta <- theta + v (nudge.optimizers.Momentum; the
    biases without lambda), over three epochs: the velocity persists between the engine's
    calls and epochs.  First layers summed in one range or two, on one thread or two."""
    X, y = sparse_pixels(257, seed=12)
    net, ref, h = both_engines(sizes, X, y, kinds=kinds, epochs=3, batch_size=10,
                               learning_rate=0.02, optimizer=optimizer,
                               momentum=0.9 if optimizer == "momentum" else None,
                               weight_decay=decay, seed=2, threads=threads)
    assert h.settings["threads"] == thread_rules.kernel_threads(sizes, 10, threads)
    assert h.settings["optimizer"] == optimizer
    assert_same_parameters(net, ref, atol=5e-5)


@needs_c
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
@pytest.mark.parametrize("sizes", [[784, 16, 16, 10], [784, 520, 10]])
def test_calls_in_chunks_give_one_calls_weights_bit_for_bit(sizes, optimizer):
    """The steps on order[first:last] only, and the next call goes on from there (with the
    velocity kept by the engine): chunks of any size give the weights of one call."""
    X, y = sparse_pixels(300, seed=1)
    order = np.random.default_rng(3).permutation(len(X))
    nets = []
    for cuts in ([0, 300], [0, 50, 60, 200, 300]):
        net = Network(sizes, "relu", "softmax", "cross-entropy", seed=1)
        engine = CompiledEngine(net, X, y, 10, optimizer=optimizer, weight_decay=0.001)
        steps = [engine.run(net, order, a, b, 0.05) for a, b in zip(cuts, cuts[1:])]
        assert sum(steps) == 30
        nets.append(net)
    assert_equal_parameters(*nets)
    part = Network([784, 16, 10], seed=0)
    ref = part.copy()
    assert fast_epoch(part, X, y, order[:50], 5, 1.0) == 10
    reference_epoch(ref, X, y, order[:50], 5, 1.0)
    assert_same_parameters(part, ref)


@needs_c
@pytest.mark.parametrize("sizes,batch_size,activation", [
    ([784, 16, 16, 10], 10, "sigmoid"), ([784, 600, 10], 250, "sigmoid"),
    ([784, 600, 10], 250, "tanh"),
])
def test_weight_decay_matches_the_reference_trainer(sizes, batch_size, activation):
    """θ ← θ − η (g + λθ) for the weights, as nudge.optimizers.SGD does."""
    X, y = sparse_pixels(400, seed=4)
    net = Network(sizes, activation, seed=2)
    ref = net.copy()
    fast_history = train(net, X, y, epochs=2, batch_size=batch_size, learning_rate=1.0,
                         weight_decay=0.01, engine="fast", seed=3, monitor_train_cost=False)
    train(ref, X, y, epochs=2, batch_size=batch_size, learning_rate=1.0, weight_decay=0.01,
          engine="reference", seed=3, monitor_train_cost=False)
    assert fast_history.settings["engine"] == "fast"
    assert fast_history.settings["kernel"] == "c"
    assert_same_parameters(net, ref)
    plain = Network(sizes, activation, seed=2)
    train(plain, X, y, epochs=2, batch_size=batch_size, learning_rate=1.0, engine="fast",
          seed=3, monitor_train_cost=False)
    assert np.linalg.norm(net.weights[0]) < np.linalg.norm(plain.weights[0])


@needs_c
@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_weight_decay_alone_shrinks_weights_by_eta_lambda_each_step(engine):
    """A weight whose gradient is 0 (from a pixel that is dark in every image) only decays:
    after N steps it is w (1 - eta lambda)^N.  The C kernel scaled by float32(1 - eta
    lambda), which is off by up to 3e-8: here (eta lambda = 25.5 * 2^-24, half-way between
    two float32 steps below 1) a steady 2% error in the decay of every such weight."""
    eta, lam = 0.5, 25.5 * 2.0**-24 / 0.5
    rng = np.random.default_rng(0)
    X = np.zeros((64, 40), np.uint8)
    X[:, :20] = rng.integers(0, 256, (64, 20))               # pixels 20..39 always dark
    y = rng.integers(0, 3, 64)
    net = Network([40, 8, 3], seed=1)
    start = net.weights[0][:, 20:].astype(np.float64)
    train(net, X, y, epochs=40, batch_size=8, learning_rate=eta, weight_decay=lam,
          engine=engine, seed=3, monitor_train_cost=False)
    steps = 40 * 64 // 8
    decayed = 1 - net.weights[0][:, 20:] / start               # the share each weight lost
    exact = 1 - (1 - eta * lam) ** steps
    assert np.median(decayed) / exact == pytest.approx(1, abs=2e-3)


@needs_c
@pytest.mark.parametrize("kinds", [("sigmoid", "sigmoid", "quadratic"),
                                   ("relu", "softmax", "quadratic"),
                                   ("tanh", "softmax", "cross-entropy")])
def test_prepared_inputs_rows_and_several_epochs(kinds):
    """Inputs made once (as train() does), over 3 epochs, desired-output rows as targets."""
    X, y = sparse_pixels(300, seed=1)
    Y = desired_outputs(y, 10)
    net = Network([784, 16, 16, 10], *kinds, seed=1)
    ref = net.copy()
    inputs = compiled.Inputs(X)
    assert len(inputs) == 300
    eta = 3.0 if kinds[0] == "sigmoid" else 0.1
    engine = CompiledEngine(net, inputs, Y, 10)
    assert engine.inputs is inputs
    rng = np.random.default_rng(2)
    for _ in range(3):
        order = rng.permutation(len(X))
        engine.run(net, order, 0, len(order), eta)
        reference_epoch(ref, X, y, order, 10, eta)
    assert_same_parameters(net, ref, atol=5e-5)


@needs_c
@pytest.mark.parametrize("kinds,optimizer", [(("sigmoid", "sigmoid", "quadratic"), "sgd"),
                                             (("tanh", "softmax", "quadratic"), "momentum")])
def test_float_inputs_are_not_scaled(kinds, optimizer):
    rng = np.random.default_rng(4)
    X = rng.random((120, 50)).astype(np.float64) * (rng.random((120, 50)) < 0.5)
    y = rng.integers(0, 3, 120)
    net = Network([50, 8, 3], *kinds, seed=0)
    ref = net.copy()
    order = rng.permutation(120)
    fast_epoch(net, X, y, order, 8, 0.5, optimizer=optimizer)
    ReferenceEngine(ref, X, y, 8, optimizer=optimizer).run(ref, order, 0, 120, 0.5)
    assert_same_parameters(net, ref)


@needs_c
def test_whole_number_pixels_of_any_type_are_intensities():
    """int64 pixels (what a list of ints makes) given to the engines themselves, not
    through train(): the compiled engine reads them as intensity/255, as uint8 ones and
    as the reference engine does (not as floats 0-255); out of 0-255 they are refused."""
    X, y = sparse_pixels(40, n_in=30)
    order = np.random.default_rng(0).permutation(40)
    nets = {}
    for kind, dtype in itertools.product(("fast", "reference"), (np.uint8, np.int64)):
        nets[kind, dtype] = net = Network([30, 5, 10], seed=0)
        make_engine(net, X.astype(dtype), y, 10, engine=kind).run(net, order, 0, 40, 0.5)
    assert_equal_parameters(nets["fast", np.int64], nets["fast", np.uint8])
    assert_same_parameters(nets["fast", np.int64], nets["reference", np.int64])
    with pytest.raises(NudgeError, match="intensities from 0 to 255"):
        CompiledEngine(Network([30, 5, 10]), X.astype(np.int64) * 2, y, 10)


@needs_c
@pytest.mark.parametrize("kinds", [("sigmoid", "sigmoid", "quadratic"),
                                   ("relu", "softmax", "cross-entropy"),
                                   ("tanh", "sigmoid", "cross-entropy")])
def test_full_batch_and_single_example_batches(kinds):
    X, y = sparse_pixels(64, n_in=30)
    # (at eta 1 and B = 1, tanh's float32 rounding alone moves the reference 6e-5 from the
    # float64 result: too close to chaos for a float32 comparison)
    eta = 1.0 if kinds[0] == "sigmoid" else 0.3
    for batch_size in (1, 7, 64):
        net = Network([30, 5, 10], *kinds, seed=2)
        ref = net.copy()
        order = np.arange(64)
        assert fast_epoch(net, X, y, order, batch_size, eta) == -(-64 // batch_size)
        reference_epoch(ref, X, y, order, batch_size, eta)
        assert_same_parameters(net, ref)


@needs_c
def test_train_uses_fast_engine_and_matches_reference_engine():
    X, y = sparse_pixels(400, seed=7)
    a, b = Network([784, 16, 16, 10], seed=0), Network([784, 16, 16, 10], seed=0)
    ha = train(a, X, y, epochs=2, batch_size=10, learning_rate=3.0, seed=1, engine="fast")
    hb = train(b, X, y, epochs=2, batch_size=10, learning_rate=3.0, seed=1, engine="reference")
    assert ha.settings["engine"] == "fast" and hb.settings["engine"] == "reference"
    assert [r.steps for r in ha.epochs] == [r.steps for r in hb.epochs] == [40, 40]
    assert_same_parameters(a, b, atol=5e-5)
    np.testing.assert_allclose(ha.column("train_cost"), hb.column("train_cost"), rtol=1e-4)


@pytest.mark.parametrize("kinds", KINDS)
def test_auto_picks_the_compiled_engine_for_every_kind(kinds):
    X, y = sparse_pixels(20, n_in=30)
    for optimizer in ("sgd", "momentum"):
        net = Network([30, 5, 10], *kinds, seed=0)
        assert compiled.unsupported_reason(net, optimizer) in (None,
                                                                clib.unavailable_reason())
        engine = make_engine(net, X, y, 10, optimizer=optimizer)
        assert isinstance(engine, CompiledEngine if clib.available() else ReferenceEngine)


def test_fast_engine_refuses_what_it_cannot_do():
    X, y = sparse_pixels(20, n_in=30)
    net = Network([30, 5, 10], seed=0)
    with pytest.raises(NudgeError, match="optimizer 'adam'") as info:
        train(net, X, y, epochs=1, engine="fast", optimizer="adam")
    assert "\n" not in str(info.value) and "--engine reference" in str(info.value)
    history = train(net, X, y, epochs=1, optimizer="adam")         # auto: the reference runs
    assert history.settings["engine"] == "reference"


def test_steps_end_where_they_are_asked_to_and_bad_ranges_are_refused():
    X, y = sparse_pixels(100, n_in=30)
    order = np.random.default_rng(1).permutation(100)
    fast, ref = Network([30, 8, 10], seed=0), Network([30, 8, 10], seed=0)
    assert CompiledEngine(fast, X, y, 10).run(fast, order, 0, 15, 0.5) == 2
    assert ReferenceEngine(ref, X, y, 10).run(ref, order, 0, 15, 0.5) == 2
    assert_same_parameters(fast, ref)                   # 15 examples, not 20
    engine = CompiledEngine(fast, X, y, 10)
    for first, last, bad in ((0, 101, order), (-10, 10, order), (0, 10, order + 100)):
        with pytest.raises(NudgeError, match="order"):
            engine.run(fast, bad, first, last, 0.5)
    for labels, words in ((y + 10, "from 0 to 9"), (y[:50], "100 training inputs but 50"),
                          (y.astype(float), "whole numbers"), (y[None, None], "1-D")):
        with pytest.raises(NudgeError, match=words):
            CompiledEngine(fast, X, labels, 10)


def test_float64_network_uses_reference():
    net = Network([30, 5, 10], seed=0, dtype=np.float64)
    assert "float64" in compiled.unsupported_reason(net, "sgd")
    X, y = sparse_pixels(20, n_in=30)
    assert isinstance(make_engine(net, X, y, 10), ReferenceEngine)
    with pytest.raises(NudgeError, match="float64"):
        make_engine(net, X, y, 10, engine="fast")


def test_wide_layers_and_large_batches_go_to_the_reference():
    """``auto`` leaves hidden layers over 1,024 wide with B >= 100 to NumPy's BLAS."""
    wide = engines.wide_for_the_kernel
    assert not wide([784, 16, 16, 10], 10)
    assert not wide([784, 1024, 10], 10)
    # the C kernel keeps wide layers and large batches up to 1,024 hidden neurons
    assert not wide([784, 1024, 10], 1000)
    assert wide([784, 2048, 10], 100)


@needs_c
@pytest.mark.parametrize("sizes", [[784, 8, 10], [784, 16, 16, 10], [784, 32, 17, 10],
                                   [784, 17, 10], [784, 40, 24, 10], [784, 150, 10]])
@pytest.mark.parametrize("kinds,optimizer", [(("sigmoid", "sigmoid", "quadratic"), "sgd"),
                                             (("relu", "softmax", "cross-entropy"), "momentum")])
def test_vector_widths_match_reference(sizes, kinds, optimizer):
    """Full vectors (16, 32), a partial one alone (8, 10) and after full ones (17, 24, 40),
    and a first layer wide enough for several passes over the pixels (150)."""
    X, y = sparse_pixels(257, seed=9)
    net = Network(sizes, *kinds, seed=4)
    ref = net.copy()
    order = np.random.default_rng(1).permutation(len(X))
    eta = 2.0 if optimizer == "sgd" else 0.05
    fast_epoch(net, X, y, order, 10, eta, optimizer=optimizer)
    ReferenceEngine(ref, X, y, 10, optimizer=optimizer).run(ref, order, 0, len(X), eta)
    assert_same_parameters(net, ref)


@needs_c
@pytest.mark.parametrize("sizes,batch_size,decay", [
    ([784, 16, 16, 10], 10, 0.0), ([784, 16, 16, 10], 100, 0.0), ([784, 16, 16, 10], 7, 0.01),
    ([784, 30, 10], 1, 0.0), ([784, 10], 64, 0.0), ([784, 17, 33, 5, 10], 13, 0.02),
    ([784, 40, 24, 10], 10, 0.0), ([784, 150, 10], 10, 0.005), ([50, 8, 10], 8, 0.0),
    ([784, 256, 10], 10, 0.0), ([784, 200, 19, 10], 7, 0.01), ([784, 70, 10], 9, 0.01),
    ([784, 100, 10], 32, 0.0), ([784, 800, 10], 10, 0.0), ([784, 520, 30, 10], 6, 0.01),
])
@pytest.mark.parametrize("threads", [1, 2])
def test_c_kernel_matches_reference_trainer(sizes, batch_size, decay, threads):
    """Several depths and widths (full 16-float blocks, partial ones, both; up to four
    blocks per pass over the pixels, more in several passes; first layers over 768 wide,
    done a whole row at a time; from 512 wide, summed in two pixel ranges, on one thread or
    two), batches that leave a partial last batch (257 = 25*10 + 7, ...), with and without
    weight decay."""
    X, y = sparse_pixels(257, n_in=sizes[0], seed=11)
    net, ref, h = both_engines(sizes, X, y, epochs=2, batch_size=batch_size,
                               learning_rate=2.0, weight_decay=decay, seed=4, threads=threads)
    assert h.settings["threads"] == thread_rules.kernel_threads(sizes, batch_size, threads)
    assert_same_parameters(net, ref, atol=5e-5)
    assert [r.steps for r in h.epochs] == [-(-257 // batch_size)] * 2


@needs_c
@pytest.mark.parametrize("kinds", [("sigmoid", "sigmoid", "quadratic"),
                                   ("relu", "sigmoid", "quadratic"),
                                   ("sigmoid", "softmax", "quadratic"),
                                   ("tanh", "softmax", "cross-entropy")])
def test_c_kernel_float_inputs_and_desired_output_rows(kinds):
    rng = np.random.default_rng(8)
    X = rng.random((130, 40)).astype(np.float32) * (rng.random((130, 40)) < 0.4)
    Y = desired_outputs(rng.integers(0, 6, 130), 6)
    Y[:5] = rng.random((5, 6))                  # rows that are not one-hot
    net = Network([40, 9, 6], *kinds, seed=1)
    ref = net.copy()
    order = rng.permutation(130)
    fast_epoch(net, X, Y, order, 12, 0.5)
    for start in range(0, 130, 12):
        ref.update_mini_batch(X[order[start:start + 12]], Y[order[start:start + 12]], 0.5)
    assert_same_parameters(net, ref)


@needs_c
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_changes_to_the_network_between_calls_are_trained_on(optimizer):
    """The engine keeps its buffers from call to call but reads the network before every
    call: a weight set in place, a bias array replaced, a step per call, all as the
    reference engine sees them; a network of other sizes is refused."""
    X, y = sparse_pixels(120, seed=8)
    order = np.random.default_rng(2).permutation(len(X))
    net = Network([784, 20, 10], seed=5)
    ref = net.copy()
    fast = CompiledEngine(net, X, y, 4, optimizer=optimizer)
    slow = ReferenceEngine(ref, X, y, 4, optimizer=optimizer)
    for first in range(0, 40, 4):                      # one step per call
        for engine, n in ((fast, net), (slow, ref)):
            engine.run(n, order, first, first + 4, 0.3)
    for n in (net, ref):
        n.weights[0][3, :] = 0.5
        n.biases[1] = np.linspace(-1, 1, 10, dtype=np.float32)
    for engine, n in ((fast, net), (slow, ref)):
        engine.run(n, order, 40, len(order), 0.3)
    assert_same_parameters(net, ref)
    with pytest.raises(NudgeError, match="made for a 784-20-10 network"):
        fast.run(Network([784, 21, 10], seed=5), order, 0, 4, 0.3)


# --------------------------------------------------------------------------- the forward pass
@needs_c
@pytest.mark.parametrize("sizes", [[784, 24, 17, 10], [784, 10], [784, 5, 10], [784, 800, 10],
                                   [784, 40, 3, 3, 10]])
@pytest.mark.parametrize("activation,output,cost", KINDS[::2])
@pytest.mark.parametrize("pixels", ["uint8", "float32"])
def test_output_sums_are_the_forward_pass(sizes, activation, output, cost, pixels):
    """The kernel's forward pass alone gives Network.forward's zᴸ (to float32 rounding) for
    every kind of network and width (narrower than a vector, blocked, whole rows), and
    evaluate() on them the same cost and accuracy."""
    X, y = sparse_pixels(150, seed=2)
    if pixels == "float32":
        X = X.astype(np.float32) / 255
    net = Network(sizes, activation, output, cost, seed=1)
    engine = make_engine(net, X, y, 10, engine="fast")
    z = engine.output_sums(net)
    want = net.forward(X)[1][-1]
    assert z.shape == want.shape and z.dtype == np.float32
    np.testing.assert_allclose(z, want, rtol=1e-5, atol=1e-5)
    cost_c, acc_c = evaluate(net, X, y, output_sums=z)
    cost_np, acc_np = evaluate(net, X, y)
    assert cost_c == pytest.approx(cost_np, rel=1e-5) and acc_c == acc_np


@needs_c
def test_the_training_cost_each_epoch_is_measured_by_the_engine_that_trains():
    """With the fast engine the recorded training cost is that of the network after the
    epoch (the kernel's forward pass), as the reference engine's (NumPy's) is."""
    X, y = sparse_pixels(300, seed=4)
    for engine in ("fast", "reference"):
        net = Network([784, 20, 10], seed=2)
        h = train(net, X, y, epochs=2, batch_size=10, learning_rate=0.5, engine=engine)
        assert h.settings["engine"] == engine
        assert h.epochs[-1].train_cost == pytest.approx(evaluate(net, X, y)[0], rel=1e-5)
    assert ReferenceEngine(net, X, y, 10).output_sums(net) is None


# --------------------------------------------------------------------------- no C kernel
@pytest.fixture
def no_c_kernel(monkeypatch):
    """As in an installation without the C kernel (no compiler when it was installed)."""
    monkeypatch.setattr(clib, "_c_library_path", lambda name="_ckernel": None)
    monkeypatch.setattr(clib, "_c_kernel", None)
    monkeypatch.setattr(clib, "_c_error", None)
    monkeypatch.setattr(engines, "_said_no_c", False)


def test_without_the_c_kernel_the_reference_trains_and_says_so(no_c_kernel, capsys):
    assert not clib.available() and "not built" in clib._c_error
    X, y = sparse_pixels(120, seed=2)
    net = Network([784, 16, 16, 10], seed=0)
    ref = net.copy()
    h = train(net, X, y, epochs=1, batch_size=10, learning_rate=3.0, seed=1,
              monitor_train_cost=False)
    err = capsys.readouterr().err
    assert h.settings["engine"] == "reference" and h.settings["kernel"] is None
    assert err.count("\n") == 1 and err.startswith("nudge: training with the NumPy reference")
    assert "C kernel is not available" in err
    train(ref, X, y, epochs=1, batch_size=10, learning_rate=3.0, seed=1, engine="reference",
          monitor_train_cost=False)
    assert_equal_parameters(net, ref)
    train(net, X, y, epochs=1, monitor_train_cost=False)
    assert capsys.readouterr().err == ""                          # said once
    with pytest.raises(NudgeError, match="C kernel is not available"):
        train(net, X, y, epochs=1, engine="fast")


def test_without_the_c_kernel_json_settings_say_reference(no_c_kernel, tmp_path, capsys):
    code = cli_main(["train", "--dataset", "digits", "--epochs", "1", "--json",
                     "--out", str(tmp_path / "m.safetensors")])
    out, err = capsys.readouterr()
    assert code == 0
    settings = json.loads(out)["settings"]
    assert settings["engine"] == "reference" and settings["kernel"] is None
    assert len([ln for ln in err.splitlines() if "NumPy reference engine" in ln]) == 1


def test_c_kernel_load_failure_is_not_an_error(monkeypatch, tmp_path):
    bad = tmp_path / "_ckernel.so"
    bad.write_bytes(b"not a shared library")
    monkeypatch.setattr(clib, "_c_library_path", lambda name="_ckernel": str(bad))
    monkeypatch.setattr(clib, "_c_kernel", None)
    assert clib._load_c_kernel() is None and clib._c_error.startswith("OSError")
    assert not clib.available()


@needs_c
def test_a_kernel_with_other_arguments_is_refused(monkeypatch):
    """The C struct's fields and Python's list are compared before the kernel is used: a
    field added, dropped or retyped on one side only makes the library 'another version'."""
    keep_c_kernel_state(monkeypatch)
    lib = ctypes.CDLL(clib._c_library_path("_ckernel"))
    lib.nudge_signature.restype = ctypes.c_char_p
    assert lib.nudge_signature().decode() == clib.signature()
    assert " velocity:p momentum:f weight_decay:f )" in clib.signature()
    fields = clib.STEPS_ARGS
    for changed in (fields[:-1], [*fields[:-1], ("weight_decay", ctypes.c_int)],
                    [*fields, ("extra", ctypes.c_int)]):
        monkeypatch.setattr(clib, "STEPS_ARGS", changed)
        monkeypatch.setattr(clib, "_c_kernel", None)
        assert clib._load_c_kernel() is None
        assert "another version of nudge" in clib._c_error


@pytest.mark.parametrize("how", ["c", "numpy"])
@pytest.mark.parametrize("strided", [False, True])
def test_inputs_are_the_nonzero_entries(monkeypatch, how, strided):
    """The sparse rows, made by the C library's loop or by NumPy in chunks."""
    if how == "numpy":
        monkeypatch.setattr(clib, "_load_c_kernel", lambda: None)
    elif not clib.available():
        pytest.skip(f"the C kernel was not built ({clib._c_error})")
    monkeypatch.setattr(compiled.Inputs, "CHUNK", 7)
    X, _ = sparse_pixels(50, n_in=60, seed=5)
    X = X[:, ::2] if strided else X[:, :30]          # not C-contiguous either way
    inputs = compiled.Inputs(X)
    assert inputs.idx.dtype == np.uint16 and inputs.val.dtype == np.uint8
    assert inputs.indptr[-1] == np.count_nonzero(X)
    for r in range(len(X)):
        lo, hi = inputs.indptr[r], inputs.indptr[r + 1]
        dense = np.zeros(30, dtype=np.uint8)
        dense[inputs.idx[lo:hi]] = inputs.val[lo:hi]
        np.testing.assert_array_equal(dense, X[r])
        assert np.all(np.diff(inputs.idx[lo:hi].astype(int)) > 0)


# --------------------------------------------------------------------------- two threads
@needs_c
@pytest.mark.parametrize("sizes,batch_size,decay,rows,floats,kinds,optimizer", [
    ([784, 512, 10], 10, 0.0, False, False, None, "sgd"),         # the narrowest shared
    ([784, 520, 30, 10], 32, 0.01, False, False, None, "sgd"),
    ([784, 530, 10], 4, 0.0, True, False, None, "sgd"),           # desired-output rows
    ([784, 600, 10], 1000, 0.0, False, True, None, "sgd"),        # float pixels, one batch
    ([784, 800, 10], 10, 0.005, False, False, None, "sgd"),       # whole rows (over 768)
    ([784, 520, 17, 10], 10, 0.0, False, False, ("relu", "softmax", "cross-entropy"), "sgd"),
    ([784, 530, 10], 8, 0.0, True, False, ("tanh", "softmax", "quadratic"), "sgd"),
    ([784, 520, 30, 10], 10, 0.01, False, False, ("tanh", "sigmoid", "cross-entropy"),
     "momentum"),
    ([784, 800, 10], 16, 0.0, False, True, ("relu", "softmax", "cross-entropy"), "momentum"),
])
def test_two_threads_give_the_same_weights_bit_for_bit(sizes, batch_size, decay, rows, floats,
                                                       kinds, optimizer):
    """Two threads each sum and step the first-layer rows of half of the pixels; both
    do the upper layers on their own copies.  Every parameter gets the same operations
    in the same order as with one thread, so the weights are equal, not just close."""
    X, y = sparse_pixels(1003, n_in=sizes[0], seed=5)
    if floats:
        X = X.astype(np.float32) / 255
    labels = desired_outputs(y, sizes[-1], np.float32) if rows else y
    kinds = kinds or ("sigmoid", "sigmoid", "quadratic")
    eta = 1.0 if optimizer == "sgd" and kinds[0] == "sigmoid" else 0.02
    nets = {}
    for threads in (1, 2):
        net = Network(sizes, *kinds, seed=3)
        h = train(net, X, labels, epochs=2, batch_size=batch_size, learning_rate=eta,
                  weight_decay=decay, optimizer=optimizer, engine="fast", seed=8,
                  monitor_train_cost=False, threads=threads)
        assert h.settings["kernel"] == "c" and h.settings["threads"] == threads
        nets[threads] = net
    assert_equal_parameters(nets[1], nets[2])


def test_thread_count_rules(monkeypatch):
    monkeypatch.delenv("NUDGE_THREADS", raising=False)
    monkeypatch.setattr(thread_rules, "available_cpus", lambda: 8)
    kernel_threads = thread_rules.kernel_threads
    assert kernel_threads([784, 16, 16, 10], 10) == 1      # too small to share
    assert kernel_threads([784, 511, 10], 10, threads=2) == 1
    assert kernel_threads([784, 512, 10], 10) == 2
    assert kernel_threads([784, 512, 10], 10, threads=1) == 1
    assert kernel_threads([784, 512, 10], 2) == 1           # batch too small
    assert kernel_threads([784, 512, 10], 5000) == 1        # or too large
    assert kernel_threads([784, 600], 10) == 1              # no hidden layer
    monkeypatch.setenv("NUDGE_THREADS", "1")
    assert kernel_threads([784, 512, 10], 10) == 1
    assert kernel_threads([784, 512, 10], 10, threads=2) == 2   # the argument wins
    monkeypatch.setenv("NUDGE_THREADS", "many")
    with pytest.raises(NudgeError, match="NUDGE_THREADS='many'"):
        kernel_threads([784, 512, 10], 10)
    monkeypatch.delenv("NUDGE_THREADS")
    monkeypatch.setattr(thread_rules, "available_cpus", lambda: 1)
    assert kernel_threads([784, 512, 10], 10) == 1
    monkeypatch.setattr(thread_rules, "KERNEL_THREADS", 1)      # a build without threads
    assert kernel_threads([784, 512, 10], 10, threads=2) == 1
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(NudgeError, match="threads must be a whole number of 1 or more"):
            thread_rules.check_threads(bad)


def test_thread_timer_trains_on_the_faster_and_times_again():
    """Two threads timed first, then one, each on a whole probe (short calls add up);
    then the faster; the slower again after ``reprobe`` examples; a faster that slows
    down below the other's last timing gives way at once."""
    timer = thread_rules.ThreadTimer(10, probe=95, reprobe=1000)    # probe: 100 examples
    assert timer.next(30) == (2, 30)
    timer.record(2, 30, 0.3)
    assert timer.next(5000) == (2, 70)
    timer.record(2, 70, 0.7)                    # two threads: 100 examples/s
    assert timer.next(5000) == (1, 100)
    timer.record(1, 100, 0.5)                   # one: 200 examples/s, the faster
    assert timer.faster == 1 and timer.next(5000) == (1, 1000)
    timer.record(1, 600, 3.0)
    assert timer.next(5000) == (1, 400)
    timer.record(1, 400, 2.0)
    assert timer.next(5000) == (2, 100)         # 1,000 on the faster: time the slower
    timer.record(2, 100, 0.25)                  # 400 examples/s now
    assert timer.faster == 2 and timer.next(5000) == (2, 1000)
    timer.record(2, 1000, 10.0)                 # slowed to 100/s: one thread's 200 wins
    assert timer.next(5000) == (1, 1000)
    assert timer.examples == {1: 1100, 2: 1200}


def test_threads_are_timed_only_where_nobody_said(monkeypatch):
    monkeypatch.delenv("NUDGE_THREADS", raising=False)
    monkeypatch.setattr(thread_rules, "available_cpus", lambda: 2)
    assert thread_rules.given_threads() is None
    assert thread_rules.given_threads(1) == 1 and thread_rules.given_threads(5) == 2
    monkeypatch.setenv("NUDGE_THREADS", "1")
    assert thread_rules.given_threads() == 1
    if clib.available():
        X, y = sparse_pixels(40)
        assert CompiledEngine(Network([784, 512, 10]), X, y, 10).timer is None
        monkeypatch.delenv("NUDGE_THREADS")
        assert CompiledEngine(Network([784, 512, 10]), X, y, 10).timer is not None
        assert CompiledEngine(Network([784, 512, 10]), X, y, 10, threads=2).timer is None
        assert CompiledEngine(Network([784, 64, 10]), X, y, 10).timer is None


@needs_c
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_timed_threads_give_the_same_weights_bit_for_bit(monkeypatch, optimizer):
    """Timing one thread against two cuts the calls into pieces on either: the weights
    are those of one thread in one call, and History.settings says what ran."""
    monkeypatch.delenv("NUDGE_THREADS", raising=False)
    monkeypatch.setattr(thread_rules, "available_cpus", lambda: 2)
    monkeypatch.setattr(thread_rules, "PROBE_EXAMPLES", 50)
    X, y = sparse_pixels(603, seed=7)
    nets, histories = {}, {}
    for threads in (1, None):
        nets[threads] = net = Network([784, 520, 12, 10], seed=4)
        histories[threads] = train(net, X, y, epochs=3, batch_size=10, learning_rate=0.5,
                                   weight_decay=0.001, optimizer=optimizer, engine="fast",
                                   seed=3, monitor_train_cost=False, threads=threads)
    assert_equal_parameters(nets[1], nets[None])
    timed = histories[None].settings
    assert timed["threads"] == 2 and timed["threads_timed"] is True
    used = timed["examples_by_threads"]
    assert used["1"] >= 50 and used["2"] >= 50 and used["1"] + used["2"] == 3 * 603
    assert "threads_timed" not in histories[1].settings
    assert histories[1].engine["threads_timed"] is False
    assert histories[None].engine == {"engine": "fast", "kernel": "c",
                                      "kernel_isa": clib.c_kernel_isa, "threads": 2,
                                      "threads_timed": True}


@needs_c
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_timed_threads_keep_whole_mini_batches_when_an_epoch_ends_in_a_partial_one(
        monkeypatch, optimizer):
    """With a partial last mini-batch (603 examples, B = 10) a probe that spans the end of
    an epoch must still cut the next epoch's steps at mini-batch boundaries: a piece of 7
    examples would make a mini-batch of 7 and shift every later one."""
    monkeypatch.delenv("NUDGE_THREADS", raising=False)
    monkeypatch.setattr(thread_rules, "available_cpus", lambda: 2)
    monkeypatch.setattr(thread_rules, "PROBE_EXAMPLES", 1000)    # longer than an epoch
    X, y = sparse_pixels(603, seed=7)
    nets = {}
    for threads in (1, None):
        nets[threads] = net = Network([784, 520, 12, 10], seed=4)
        train(net, X, y, epochs=4, batch_size=10, learning_rate=0.5, optimizer=optimizer,
              engine="fast", seed=3, monitor_train_cost=False, threads=threads)
    assert_equal_parameters(nets[1], nets[None])


def test_thread_timer_asks_for_whole_mini_batches():
    timer = thread_rules.ThreadTimer(10, probe=95, reprobe=1000)    # probe: 100 examples
    assert timer.next(63) == (2, 63)            # an epoch of 63 examples: the last batch 3
    timer.record(2, 63, 0.1)
    assert timer.next(63) == (2, 40)            # 37 would end inside a mini-batch


@needs_c
def test_two_ranges_only_where_python_says():
    """The kernel takes the split and the threads it is given: a split for first layers of
    TWO_THREADS_MIN_HIDDEN neurons or more, none below (one range)."""
    X, y = sparse_pixels(40)
    assert CompiledEngine(Network([784, 511, 10]), X, y, 10).split == 0
    assert CompiledEngine(Network([784, 600]), X, y, 10).split == 0
    wide = CompiledEngine(Network([784, 512, 10]), X, y, 10)
    assert wide.split == wide.inputs.split > 0


def test_train_refuses_a_bad_thread_count():
    X, y = sparse_pixels(20)
    with pytest.raises(NudgeError, match="threads must be a whole number of 1 or more"):
        train(Network([784, 10], seed=0), X, y, epochs=1, threads=0)


@needs_c
def test_split_halves_the_lit_pixels():
    X, _ = sparse_pixels(300, seed=2)
    X[:, :100] = 0                              # nothing lit at the top
    inputs = compiled.Inputs(X)
    counts = np.bincount(inputs.idx, minlength=784)
    below = counts[:inputs.split].sum()
    assert abs(below - counts.sum() / 2) <= counts.max()
    assert compiled.Inputs(np.zeros((3, 784), np.uint8)).split == 392
    X = np.zeros((5, 784), np.uint8)
    X[:, 0] = 9                                 # every lit pixel is pixel 0: still a split
    assert compiled.Inputs(X).split == 1


# --------------------------------------------------------------------------- the C builds
def keep_c_kernel_state(monkeypatch) -> None:
    """Puts the loaded C kernel back as it was after the test."""
    for name in ("_c_kernel", "_c_sparse_rows", "_c_forward", "_c_error", "c_kernel_isa"):
        monkeypatch.setattr(clib, name, getattr(clib, name))


@needs_c
def test_the_best_build_the_cpu_runs_is_loaded(monkeypatch):
    keep_c_kernel_state(monkeypatch)
    monkeypatch.setattr(clib, "_c_kernel", None)
    clib._load_c_kernel()
    best = clib.c_kernel_builds()[0]
    assert clib.c_kernel_isa == {"_ckernel_avx512": "avx512", "_ckernel_avx2": "avx2",
                                     "_ckernel": "base"}[best]
    net = Network([784, 16, 10], seed=0)
    X, y = sparse_pixels(40)
    h = train(net, X, y, epochs=1, engine="fast", monitor_train_cost=False)
    assert h.settings["kernel_isa"] == clib.c_kernel_isa


@needs_c
@pytest.mark.parametrize("sizes,batch_size,kinds,optimizer", [
    ([784, 16, 16, 10], 10, ("sigmoid", "sigmoid", "quadratic"), "sgd"),
    ([784, 30, 10], 7, ("sigmoid", "sigmoid", "quadratic"), "sgd"),
    ([784, 100, 10], 100, ("sigmoid", "sigmoid", "quadratic"), "sgd"),
    ([784, 10], 5, ("sigmoid", "sigmoid", "quadratic"), "sgd"),
    ([784, 30, 10], 10, ("relu", "softmax", "cross-entropy"), "sgd"),
    ([784, 24, 17, 10], 7, ("tanh", "softmax", "quadratic"), "momentum"),
    ([784, 40, 10], 10, ("relu", "sigmoid", "cross-entropy"), "momentum"),
    ([784, 520, 10], 10, ("tanh", "sigmoid", "quadratic"), "sgd"),
])
def test_every_build_gives_the_reference_weights(monkeypatch, sizes, batch_size, kinds,
                                                 optimizer):
    """Each build (its own vector width: 16, 8 or 4 floats) against the reference; the
    builds with fused multiply-adds (AVX-512, AVX2) give the same weights bit for bit
    for these set-ups."""
    keep_c_kernel_state(monkeypatch)
    X, y = sparse_pixels(203, seed=9)
    eta = 2.0 if kinds[0] == "sigmoid" and optimizer == "sgd" else 0.05
    options = dict(epochs=1, batch_size=batch_size, learning_rate=eta, weight_decay=0.01,
                   optimizer=optimizer, seed=1, monitor_train_cost=False)
    ref = Network(sizes, *kinds, seed=2)
    train(ref, X, y, engine="reference", **options)
    nets = {}
    for build in clib.c_kernel_builds():
        monkeypatch.setattr(clib, "_c_kernel", None)
        clib._load_c_kernel(build)
        net = Network(sizes, *kinds, seed=2)
        h = train(net, X, y, engine="fast", **options)
        assert h.settings["kernel"] == "c" and h.settings["kernel_isa"] == clib.c_kernel_isa
        assert_same_parameters(net, ref)
        nets[clib.c_kernel_isa] = net
    monkeypatch.setattr(clib, "_c_kernel", None)
    if "avx512" in nets and "avx2" in nets:
        assert_equal_parameters(nets["avx512"], nets["avx2"])
