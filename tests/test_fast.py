"""The fast engine gives the reference's weights (float32 rounding aside)."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest

from nudge import fast
from nudge.errors import NudgeError
from nudge.network import Network, desired_outputs
from nudge.train import train

needs_numba = pytest.mark.skipif(not fast.numba_available(), reason="numba is not installed")
needs_c = pytest.mark.skipif(not fast.c_kernel_available(),
                             reason=f"the C kernel was not built ({fast._c_error})")
if not (fast.numba_available() or fast.c_kernel_available()):
    pytestmark = pytest.mark.skip(reason="neither the C kernel nor numba is available")


@pytest.fixture
def numba_kernel(monkeypatch):
    """The Numba kernel even where the C kernel is built (as if it were not)."""
    if not fast.numba_available():
        pytest.skip("numba is not installed")
    monkeypatch.setattr(fast, "_c_kernel", False)


@pytest.fixture
def no_numba(monkeypatch):
    """As if numba could not be imported."""
    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("No module named 'numba'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numba)
    monkeypatch.delitem(sys.modules, "nudge._fast_kernel", raising=False)
    monkeypatch.setattr(fast, "_kernel", None)
    monkeypatch.setattr(fast, "_numba_error", None)


def sparse_pixels(n: int, n_in: int = 784, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 'images', ~80% zeros like MNIST, and labels 0..9."""
    rng = np.random.default_rng(seed)
    X = ((rng.random((n, n_in)) < 0.2) * rng.integers(1, 256, (n, n_in))).astype(np.uint8)
    X[0] = 0                     # an all-black image
    X[1] = 255                   # an all-white one
    return X, rng.integers(0, 10, n)


def reference_epoch(net: Network, X, y, order, batch_size, eta) -> None:
    Y = desired_outputs(y, net.sizes[-1], net.dtype.type)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        net.update_mini_batch(X[batch], Y[batch], eta)


def assert_same_parameters(a: Network, b: Network, atol: float = 2e-5) -> None:
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        assert p.dtype == q.dtype == np.float32
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=atol)


CASES = [
    # sizes, batch size, activation, output, cost, learning rate
    ([784, 16, 16, 10], 10, "sigmoid", "sigmoid", "quadratic", 3.0),   # 3b1b
    ([784, 30, 10], 10, "sigmoid", "sigmoid", "quadratic", 1.5),       # Nielsen
    ([784, 16, 16, 10], 7, "sigmoid", "sigmoid", "quadratic", 3.0),    # 503 = 71*7 + 6
    ([784, 20, 12, 8, 10], 32, "sigmoid", "sigmoid", "quadratic", 2.0),
    ([784, 10], 5, "sigmoid", "sigmoid", "quadratic", 1.0),            # no hidden layer
    pytest.param([784, 24, 10], 16, "relu", "softmax", "cross-entropy", 0.1, marks=needs_numba),
    pytest.param([784, 17, 10], 9, "tanh", "softmax", "quadratic", 0.1, marks=needs_numba),
    pytest.param([784, 17, 10], 9, "relu", "sigmoid", "cross-entropy", 0.1, marks=needs_numba),
    ([784, 600, 10], 250, "sigmoid", "sigmoid", "quadratic", 1.0),     # BLAS path
    ([784, 520, 10], 300, "tanh", "softmax", "cross-entropy", 0.05),   # BLAS path
]


@pytest.mark.parametrize("kernel", ["c", "numba"])
@pytest.mark.parametrize("sizes,batch_size,activation,output,cost,eta", CASES)
def test_epoch_matches_reference(sizes, batch_size, activation, output, cost, eta, kernel,
                                 monkeypatch):
    X, y = sparse_pixels(503)
    net = Network(sizes, activation, output, cost, seed=3)
    if kernel == "numba":
        if not fast.numba_available():
            pytest.skip("numba is not installed")
        monkeypatch.setattr(fast, "_c_kernel", False)
    elif not fast.c_supports(net):
        pytest.skip("the C kernel is not built or does not train this network")
    ref = net.copy()
    order = np.random.default_rng(5).permutation(len(X))
    steps = fast.sgd_epoch(net, X, y, order, batch_size, eta)
    if not fast.use_blas(sizes, batch_size):
        assert fast.last_kernel == kernel
    reference_epoch(ref, X, y, order, batch_size, eta)
    assert steps == -(-len(X) // batch_size)
    assert_same_parameters(net, ref)
    assert not np.array_equal(net.weights[0], Network(sizes, seed=3).weights[0])  # it moved


@pytest.mark.parametrize("sizes,batch_size,activation", [
    ([784, 16, 16, 10], 10, "sigmoid"), ([784, 600, 10], 250, "sigmoid"),
    ([784, 600, 10], 250, "tanh"),                 # tanh: no C kernel, so the BLAS path
])
def test_weight_decay_matches_the_reference_trainer(sizes, batch_size, activation):
    """θ ← θ − η (g + λθ) for the weights, as nudge.train.SGD does (kernels and BLAS path)."""
    X, y = sparse_pixels(400, seed=4)
    net = Network(sizes, activation, seed=2)
    ref = net.copy()
    fast_history = train(net, X, y, epochs=2, batch_size=batch_size, learning_rate=1.0,
                         weight_decay=0.01, engine="fast", seed=3, monitor_train_cost=False)
    train(ref, X, y, epochs=2, batch_size=batch_size, learning_rate=1.0, weight_decay=0.01,
          engine="reference", seed=3, monitor_train_cost=False)
    assert fast_history.settings["engine"] == "fast"
    assert_same_parameters(net, ref)
    if activation == "tanh":
        assert fast.last_kernel == "blas"
    plain = Network(sizes, activation, seed=2)
    train(plain, X, y, epochs=2, batch_size=batch_size, learning_rate=1.0, engine="fast",
          seed=3, monitor_train_cost=False)
    assert np.linalg.norm(net.weights[0]) < np.linalg.norm(plain.weights[0])


def test_prepared_inputs_rows_and_several_epochs():
    """Prepared inputs (as train() uses them) over 3 epochs, desired-output rows as targets."""
    X, y = sparse_pixels(300, seed=1)
    Y = desired_outputs(y, 10)
    net = Network([784, 16, 16, 10], seed=1)
    ref = net.copy()
    inputs = fast.prepare(X, net.sizes, 10)
    assert isinstance(inputs, fast.Inputs)
    rng = np.random.default_rng(2)
    for _ in range(3):
        order = rng.permutation(len(X))
        fast.sgd_epoch(net, inputs, Y, order, 10, 3.0)
        reference_epoch(ref, X, y, order, 10, 3.0)
    assert_same_parameters(net, ref, atol=5e-5)


def test_float_inputs_are_not_scaled():
    rng = np.random.default_rng(4)
    X = rng.random((120, 50)).astype(np.float64) * (rng.random((120, 50)) < 0.5)
    y = rng.integers(0, 3, 120)
    net = Network([50, 8, 3], seed=0)
    ref = net.copy()
    order = rng.permutation(120)
    fast.sgd_epoch(net, X, y, order, 8, 0.5)
    reference_epoch(ref, X, y, order, 8, 0.5)
    assert_same_parameters(net, ref)


def test_full_batch_and_single_example_batches():
    X, y = sparse_pixels(64, n_in=30)
    for batch_size in (1, 64):
        net = Network([30, 5, 10], seed=2)
        ref = net.copy()
        order = np.arange(64)
        assert fast.sgd_epoch(net, X, y, order, batch_size, 1.0) == 64 // batch_size
        reference_epoch(ref, X, y, order, batch_size, 1.0)
        assert_same_parameters(net, ref)


def test_train_uses_fast_engine_and_matches_reference_engine():
    X, y = sparse_pixels(400, seed=7)
    a, b = Network([784, 16, 16, 10], seed=0), Network([784, 16, 16, 10], seed=0)
    ha = train(a, X, y, epochs=2, batch_size=10, learning_rate=3.0, seed=1, engine="fast")
    hb = train(b, X, y, epochs=2, batch_size=10, learning_rate=3.0, seed=1, engine="reference")
    assert ha.settings["engine"] == "fast" and hb.settings["engine"] == "reference"
    assert [r.steps for r in ha.epochs] == [r.steps for r in hb.epochs] == [40, 40]
    assert_same_parameters(a, b, atol=5e-5)
    np.testing.assert_allclose(ha.column("train_cost"), hb.column("train_cost"), rtol=1e-4)


def test_stop_is_honoured_between_chunks(monkeypatch):
    monkeypatch.setattr(fast, "EXAMPLES_PER_CHUNK", 50)
    X, y = sparse_pixels(500)

    class Stop:
        requested = False

    class Bar:
        def __init__(self) -> None:
            self.n = 0

        def update(self, k: int) -> None:
            self.n += k
            stop.requested = True     # "Ctrl-C" during the first chunk

    stop, bar = Stop(), Bar()
    net = Network([784, 16, 10], seed=0)
    ref = net.copy()
    order = np.arange(500)
    steps = fast.sgd_epoch(net, X, y, order, 5, 1.0, stop=stop, bar=bar)
    assert steps == bar.n == 10               # one chunk: 50 examples in batches of 5
    reference_epoch(ref, X, y, order[:50], 5, 1.0)
    assert_same_parameters(net, ref)


@pytest.mark.parametrize("kwargs,message", [
    ({"optimizer": "adam"}, "optimizer 'adam'"),
    ({"optimizer": "momentum"}, "optimizer 'momentum'"),
])
def test_fast_engine_refuses_what_it_cannot_do(kwargs, message):
    X, y = sparse_pixels(20, n_in=30)
    net = Network([30, 5, 10], seed=0)
    with pytest.raises(NudgeError, match=message) as info:
        train(net, X, y, epochs=1, engine="fast", **kwargs)
    assert "\n" not in str(info.value) and "--engine reference" in str(info.value)
    history = train(net, X, y, epochs=1, **kwargs)         # auto: the reference runs
    assert history.settings["engine"] == "reference"


def test_float64_network_uses_reference():
    net = Network([30, 5, 10], seed=0, dtype=np.float64)
    assert not fast.supports(net, "sgd", 0.0, "auto")
    with pytest.raises(NudgeError, match="float64"):
        fast.supports(net, "sgd", 0.0, "fast")


def test_falls_back_when_neither_kernel_can_run(monkeypatch, no_numba):
    monkeypatch.setattr(fast, "_c_kernel", False)
    net = Network([30, 5, 10], seed=0)
    assert not fast.supports(net, "sgd", 0.0, "auto")
    with pytest.raises(NudgeError, match="numba cannot be imported"):
        fast.supports(net, "sgd", 0.0, "fast")
    X, y = sparse_pixels(20, n_in=30)
    assert train(net, X, y, epochs=1).settings["engine"] == "reference"


def test_blas_path_choice():
    assert not fast.use_blas([784, 16, 16, 10], 10)
    assert not fast.use_blas([784, 1024, 10], 10)
    assert fast.use_blas([784, 1024, 10], 1000)
    # the C kernel keeps wide layers and large batches up to 1,024 hidden neurons
    assert not fast.use_blas([784, 1024, 10], 1000, c_kernel=True)
    assert fast.use_blas([784, 2048, 10], 100, c_kernel=True)


@pytest.mark.parametrize("sizes", [[784, 8, 10], [784, 16, 16, 10], [784, 32, 17, 10],
                                   [784, 17, 10], [784, 40, 24, 10], [784, 150, 10]])
def test_vector_widths_match_reference(sizes, numba_kernel):
    """The <16 x float> helpers: full blocks of 16 (16, 32), a partial block alone (8, 10)
    and after full ones (17, 24, 40), and a first layer wide enough to go row by row (150)."""
    X, y = sparse_pixels(257, seed=9)
    net = Network(sizes, seed=4)
    ref = net.copy()
    order = np.random.default_rng(1).permutation(len(X))
    fast.sgd_epoch(net, X, y, order, 10, 2.0)
    reference_epoch(ref, X, y, order, 10, 2.0)
    assert_same_parameters(net, ref)


@needs_numba
@pytest.mark.parametrize("n1,n_o", [(8, 10), (16, 16), (32, 10), (17, 10), (16, 3), (100, 33),
                                    (150, 10)])
def test_vector_helpers_agree_with_the_scalar_loops(n1, n_o):
    # not bit for bit: the vector code fuses the first layer's multiply-adds (FMA)
    kernel = fast._load_kernel()
    assert kernel.simd_difference(n1, n_o) < 1e-4


@needs_numba
def test_vector_sigmoid_is_within_a_few_ulp_of_numpys():
    kernel = fast._load_kernel()
    z = np.random.default_rng(0).normal(0, 8, (50, 37)).astype(np.float32)
    z[0, :9] = [-100, -88.5, -87.5, -20, 0, 20, 87.5, 88.5, 100]
    got = z.copy()
    kernel.sigmoid_rows(got)
    with np.errstate(over="ignore"):
        want = np.float32(1) / (np.float32(1) + np.exp(-z))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-37)


@needs_numba
def test_falls_back_to_scalar_loops_when_vectors_cannot_compile(monkeypatch):
    kernel = fast._load_kernel()
    calls = []

    class Failing:
        signatures: list = []

        def __call__(self, *args):
            calls.append(kernel._simd)
            if kernel._simd:
                raise kernel.NumbaError("no masked vector loads here")
            return 7

    monkeypatch.setattr(kernel, "sgd_steps", Failing())
    try:
        assert kernel.run_sgd_steps(1, 2) == 7
        assert calls == [True, False]
        assert kernel._first_forward is kernel._first_forward_scalar
        assert kernel._dense_backward is kernel._dense_backward_scalar
    finally:
        kernel._use_vectors(True)
    assert kernel._first_forward is kernel._first_forward_simd


# --------------------------------------------------------------------------- the C kernel
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
    net = Network(sizes, seed=6)
    ref = net.copy()
    h = train(net, X, y, epochs=2, batch_size=batch_size, learning_rate=2.0,
              weight_decay=decay, engine="fast", seed=4, monitor_train_cost=False,
              threads=threads)
    assert fast.last_kernel == "c" and h.settings["engine"] == "fast"
    assert h.settings["threads"] == fast.kernel_threads(sizes, batch_size, threads)
    train(ref, X, y, epochs=2, batch_size=batch_size, learning_rate=2.0, weight_decay=decay,
          engine="reference", seed=4, monitor_train_cost=False)
    assert_same_parameters(net, ref, atol=5e-5)
    assert [r.steps for r in h.epochs] == [-(-257 // batch_size)] * 2


@needs_c
def test_c_kernel_float_inputs_and_desired_output_rows():
    rng = np.random.default_rng(8)
    X = rng.random((130, 40)).astype(np.float32) * (rng.random((130, 40)) < 0.4)
    Y = desired_outputs(rng.integers(0, 6, 130), 6)
    net = Network([40, 9, 6], seed=1)
    ref = net.copy()
    order = rng.permutation(130)
    fast.sgd_epoch(net, X, Y, order, 12, 1.5)
    assert fast.last_kernel == "c"
    for start in range(0, 130, 12):
        ref.update_mini_batch(X[order[start:start + 12]], Y[order[start:start + 12]], 1.5)
    assert_same_parameters(net, ref)


@needs_c
def test_c_kernel_runs_without_numba(monkeypatch, no_numba):
    """The C path imports no Numba: supports() and the epoch with numba unimportable."""
    X, y = sparse_pixels(100, seed=3)
    net = Network([784, 16, 16, 10], seed=0)
    ref = net.copy()
    assert fast.supports(net, "sgd", 0.0, "fast")
    h = train(net, X, y, epochs=1, batch_size=10, learning_rate=3.0, engine="fast", seed=1,
              monitor_train_cost=False)
    assert h.settings["engine"] == "fast" and fast.last_kernel == "c"
    assert "nudge._fast_kernel" not in sys.modules
    train(ref, X, y, epochs=1, batch_size=10, learning_rate=3.0, engine="reference", seed=1,
          monitor_train_cost=False)
    assert_same_parameters(net, ref)
    # what the C kernel does not train needs numba: here, the reference runs
    relu = Network([784, 16, 10], activation="relu", seed=0)
    assert not fast.supports(relu, "sgd", 0.0, "auto")
    with pytest.raises(NudgeError, match="numba cannot be imported"):
        fast.supports(relu, "sgd", 0.0, "fast")


@needs_numba
def test_falls_back_to_numba_when_the_c_kernel_is_absent(monkeypatch):
    monkeypatch.setattr(fast, "_c_library_path", lambda name="_ckernel": None)
    monkeypatch.setattr(fast, "_c_kernel", None)
    assert not fast.c_kernel_available() and "not built" in fast._c_error
    X, y = sparse_pixels(120, seed=2)
    net = Network([784, 16, 16, 10], seed=0)
    ref = net.copy()
    assert fast.supports(net, "sgd", 0.0, "fast")
    order = np.random.default_rng(0).permutation(120)
    fast.sgd_epoch(net, X, y, order, 10, 3.0)
    assert fast.last_kernel == "numba"
    reference_epoch(ref, X, y, order, 10, 3.0)
    assert_same_parameters(net, ref)


def test_c_kernel_load_failure_is_not_an_error(monkeypatch, tmp_path):
    bad = tmp_path / "_ckernel.so"
    bad.write_bytes(b"not a shared library")
    monkeypatch.setattr(fast, "_c_library_path", lambda name="_ckernel": str(bad))
    monkeypatch.setattr(fast, "_c_kernel", None)
    assert fast._load_c_kernel() is None and fast._c_error.startswith("OSError")
    assert not fast.c_kernel_available()


@pytest.mark.parametrize("how", ["c", "numpy"])
@pytest.mark.parametrize("strided", [False, True])
def test_inputs_are_the_nonzero_entries(monkeypatch, how, strided):
    """The sparse rows, made by the C library's loop or by NumPy in chunks."""
    if how == "numpy":
        monkeypatch.setattr(fast, "_load_c_kernel", lambda: None)
    elif not fast.c_kernel_available():
        pytest.skip(f"the C kernel was not built ({fast._c_error})")
    monkeypatch.setattr(fast.Inputs, "CHUNK", 7)
    X, _ = sparse_pixels(50, n_in=60, seed=5)
    X = X[:, ::2] if strided else X[:, :30]          # not C-contiguous either way
    inputs = fast.Inputs(X)
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
@pytest.mark.parametrize("sizes,batch_size,decay,rows,floats", [
    ([784, 512, 10], 10, 0.0, False, False),           # the narrowest shared
    ([784, 520, 30, 10], 32, 0.01, False, False),
    ([784, 530, 10], 4, 0.0, True, False),             # desired-output rows
    ([784, 600, 10], 1000, 0.0, False, True),          # float pixels, one partial batch
    ([784, 800, 10], 10, 0.005, False, False),         # whole rows (over 768)
])
def test_two_threads_give_the_same_weights_bit_for_bit(sizes, batch_size, decay, rows, floats):
    """Two threads each sum and step the first-layer rows of half of the pixels; both
    do the upper layers on their own copies.  Every parameter gets the same operations
    in the same order as with one thread, so the weights are equal, not just close."""
    X, y = sparse_pixels(1003, n_in=sizes[0], seed=5)
    if floats:
        X = X.astype(np.float32) / 255
    labels = desired_outputs(y, sizes[-1], np.float32) if rows else y
    nets = {}
    for threads in (1, 2):
        net = Network(sizes, seed=3)
        h = train(net, X, labels, epochs=2, batch_size=batch_size, learning_rate=1.0,
                  weight_decay=decay, engine="fast", seed=8, monitor_train_cost=False,
                  threads=threads)
        assert fast.last_kernel == "c" and h.settings["threads"] == threads
        nets[threads] = net
    for p, q in zip(nets[1].weights + nets[1].biases, nets[2].weights + nets[2].biases):
        assert np.array_equal(p, q)


def test_thread_count_rules(monkeypatch):
    monkeypatch.delenv("NUDGE_THREADS", raising=False)
    monkeypatch.setattr(fast, "available_cpus", lambda: 8)
    assert fast.kernel_threads([784, 16, 16, 10], 10) == 1      # too small to share
    assert fast.kernel_threads([784, 511, 10], 10, threads=2) == 1
    assert fast.kernel_threads([784, 512, 10], 10) == 2
    assert fast.kernel_threads([784, 512, 10], 10, threads=1) == 1
    assert fast.kernel_threads([784, 512, 10], 2) == 1           # batch too small
    assert fast.kernel_threads([784, 512, 10], 5000) == 1        # or too large
    assert fast.kernel_threads([784, 600], 10) == 1              # no hidden layer
    monkeypatch.setenv("NUDGE_THREADS", "1")
    assert fast.kernel_threads([784, 512, 10], 10) == 1
    assert fast.kernel_threads([784, 512, 10], 10, threads=2) == 2   # the argument wins
    monkeypatch.setenv("NUDGE_THREADS", "many")
    with pytest.raises(NudgeError, match="NUDGE_THREADS='many'"):
        fast.kernel_threads([784, 512, 10], 10)
    monkeypatch.delenv("NUDGE_THREADS")
    monkeypatch.setattr(fast, "available_cpus", lambda: 1)
    assert fast.kernel_threads([784, 512, 10], 10) == 1
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(NudgeError, match="threads must be 1 or 2"):
            fast.check_threads(bad)


def test_train_refuses_a_bad_thread_count():
    X, y = sparse_pixels(20)
    with pytest.raises(NudgeError, match="threads must be 1 or 2"):
        train(Network([784, 10], seed=0), X, y, epochs=1, threads=0)


@needs_c
def test_split_halves_the_lit_pixels():
    X, _ = sparse_pixels(300, seed=2)
    X[:, :100] = 0                              # nothing lit at the top
    inputs = fast.Inputs(X)
    counts = np.bincount(inputs.idx, minlength=784)
    below = counts[:inputs.split].sum()
    assert abs(below - counts.sum() / 2) <= counts.max()
    assert fast.Inputs(np.zeros((3, 784), np.uint8)).split == 392


# --------------------------------------------------------------------------- the C builds
def keep_c_kernel_state(monkeypatch) -> None:
    """Puts the loaded C kernel back as it was after the test."""
    for name in ("_c_kernel", "_c_sparse_rows", "c_kernel_isa"):
        monkeypatch.setattr(fast, name, getattr(fast, name))


@needs_c
def test_the_best_build_the_cpu_runs_is_loaded(monkeypatch):
    keep_c_kernel_state(monkeypatch)
    monkeypatch.setattr(fast, "_c_kernel", None)
    fast._load_c_kernel()
    best = fast.c_kernel_builds()[0]
    assert fast.c_kernel_isa == {"_ckernel_avx512": "avx512", "_ckernel_avx2": "avx2",
                                 "_ckernel": "base"}[best]
    net = Network([784, 16, 10], seed=0)
    X, y = sparse_pixels(40)
    h = train(net, X, y, epochs=1, engine="fast", monitor_train_cost=False)
    assert h.settings["kernel_isa"] == fast.c_kernel_isa


@needs_c
@pytest.mark.parametrize("sizes,batch_size", [([784, 16, 16, 10], 10), ([784, 30, 10], 7),
                                               ([784, 100, 10], 100), ([784, 10], 5)])
def test_every_build_gives_the_reference_weights(monkeypatch, sizes, batch_size):
    """Each build (its own vector width: 16, 8 or 4 floats) against the reference; the
    builds with fused multiply-adds (AVX-512, AVX2) give the same weights bit for bit."""
    keep_c_kernel_state(monkeypatch)
    X, y = sparse_pixels(203, seed=9)
    ref = Network(sizes, seed=2)
    train(ref, X, y, epochs=1, batch_size=batch_size, learning_rate=2.0, weight_decay=0.01,
          engine="reference", seed=1, monitor_train_cost=False)
    nets = {}
    for build in fast.c_kernel_builds():
        monkeypatch.setattr(fast, "_c_kernel", None)
        fast._load_c_kernel(build)
        net = Network(sizes, seed=2)
        train(net, X, y, epochs=1, batch_size=batch_size, learning_rate=2.0,
              weight_decay=0.01, engine="fast", seed=1, monitor_train_cost=False)
        assert fast.last_kernel == "c"
        assert_same_parameters(net, ref)
        nets[fast.c_kernel_isa] = net
    monkeypatch.setattr(fast, "_c_kernel", None)
    if "avx512" in nets and "avx2" in nets:
        a, b = nets["avx512"], nets["avx2"]
        for p, q in zip(a.weights + a.biases, b.weights + b.biases):
            assert np.array_equal(p, q)
