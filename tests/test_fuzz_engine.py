"""Property-based tests of the engines: the C kernel against the NumPy reference.

Any layer sizes (around the vector widths 4, 8 and 16 of the three builds too), every
activation, output and cost, sgd and momentum with and without weight decay, uint8, other
whole-number and float inputs (in any memory layout), labels and desired-output rows,
mini-batches of 1, of n and of sizes that leave a partial last one: ``train(engine="fast")``
on every build of the C kernel this CPU runs gives the reference engine's weights to
test_engine.py's tolerance.  Where float32 rounding piles up over the steps (a large η,
momentum 0.99, a relu flipping at 0, weights running off), the run is judged step by
step instead: each engine's step from the same parameters, within the tolerance or within
8 times what rounding moves the reference's step from float64's.

Where the kernel promises equality bit for bit it is checked as such: steps in calls of
any length (whole mini-batches) against one call; ``on_steps`` callbacks, pauses, single
steps, a stop and a learning rate set between calls against the engine called directly
with the same steps (and against a run left alone where η never changed); one thread,
two, and the two timed against each other.  The slow variants (``-m slow``) try more
set-ups, with first layers wide enough for two pixel ranges, threads and whole rows.
"""

from __future__ import annotations

import importlib
import itertools
from contextlib import contextmanager

import numpy as np
import pytest
from fuzzing import examples
from hypothesis import event, given, reject
from hypothesis import strategies as st

from nudge.checks import check_data
from nudge.control import Control
from nudge.engine import CompiledEngine, ReferenceEngine, clib, make_engine
from nudge.engine import threads as thread_rules
from nudge.errors import DivergenceError
from nudge.network import ACTIVATIONS, COSTS, OUTPUTS, Network
from nudge.optimizers import DEFAULT_MOMENTUM
from nudge.train import train

#: the module (nudge.train is also the function, in nudge's namespace)
train_module = importlib.import_module("nudge.train")

pytestmark = pytest.mark.skipif(not clib.available(),
                                reason=f"the C kernel was not built ({clib._c_error})")

FAST, SLOW = examples(150), examples(1000)
FAST_CHUNKS, FAST_CONTROL = examples(100), examples(100)

#: widths around the vector widths of the builds (4, 8, 16 floats) and the kernel's
#: thresholds (3 V + 1: layers done in functions of their own)
WIDTHS = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 47, 48, 49, 50, 64, 65]
KINDS = list(itertools.product(ACTIVATIONS, OUTPUTS, COSTS))


@st.composite
def setups(draw, wide: str | None = None):
    """A network, training data and train() options; ``wide``: "maybe" or "always" a
    first hidden layer wide enough for two pixel ranges (and threads), or whole rows."""
    n_in = draw(st.sampled_from(WIDTHS) | st.integers(1, 100))
    hidden = draw(st.lists(st.sampled_from(WIDTHS) | st.integers(1, 70),
                           min_size=1 if wide == "always" else 0, max_size=3))
    if wide and hidden and (wide == "always" or draw(st.booleans())):
        hidden[0] = draw(st.sampled_from([512, 513, 520, 527, 776, 800]))
    n_out = draw(st.integers(1, 12))
    sizes = [n_in, *hidden, n_out]
    kinds = draw(st.sampled_from(KINDS))
    n = draw(st.integers(1, 200))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    lit = draw(st.sampled_from([0.0, 0.05, 0.2, 0.5, 1.0]))
    pixels = draw(st.sampled_from(["uint8", "int64", "float32", "float64", "signed"]))
    mask = rng.random((n, n_in)) < lit
    if pixels in ("uint8", "int64"):
        X = (mask * rng.integers(1, 256, (n, n_in))).astype(pixels)
    elif pixels == "signed":
        X = (mask * rng.uniform(-2, 2, (n, n_in))).astype(np.float32)
    else:
        X = (mask * rng.random((n, n_in))).astype(pixels)
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":                       # every other column of a wider array
        wider = np.zeros((n, 2 * n_in), dtype=X.dtype)
        wider[:, ::2] = X
        X = wider[:, ::2]
    labels = draw(st.sampled_from(["classes", "one-hot", "rows", "any rows"]))
    classes = rng.integers(0, n_out, n)
    if labels == "classes":
        y = classes.astype(draw(st.sampled_from(["int64", "int32", "uint8"])))
    else:
        y = np.eye(n_out, dtype=draw(st.sampled_from(["float32", "float64", "int64"])))[classes]
        if labels == "rows":                     # probabilities that need not sum to 1
            y = rng.random((n, n_out)).astype(np.float32)
        elif labels == "any rows":      # (with cross-entropy: no minimum, the weights run off)
            y = rng.uniform(-1, 2, (n, n_out))
    batch = draw(st.sampled_from(["one", "n", "any", "partial"]))
    if batch == "one":
        batch_size = 1
    elif batch == "n":
        batch_size = n
    elif batch == "partial" and n > 2:               # a size that does not divide n
        batch_size = draw(st.sampled_from([b for b in range(2, n) if n % b]))
    else:
        batch_size = draw(st.integers(1, n))
    optimizer = draw(st.sampled_from(["sgd", "momentum"]))
    options = dict(
        epochs=draw(st.integers(1, 3)), batch_size=batch_size,
        learning_rate=draw(st.sampled_from([0.001, 0.01, 0.05, 0.3, 1.0, 3.0])),
        weight_decay=draw(st.sampled_from([0.0, 0.0, 1e-4, 0.01, 0.1, 1.0])),
        optimizer=optimizer, momentum=draw(st.sampled_from([0.0, 0.5, 0.9, 0.99])),
        seed=draw(st.integers(0, 100)), monitor_train_cost=False)
    if optimizer == "momentum":              # as test_engine's: η of 0.02-0.05 with μ 0.9
        options["learning_rate"] = min(options["learning_rate"], 0.3)
    else:                                    # train() takes a μ for momentum only
        options["momentum"] = None
    net = Network(sizes, *kinds, seed=seed % 1000)
    return net, X, y, options


def step_options(options) -> dict:
    """The engines' keyword arguments for a step (their μ a number for every optimiser)."""
    momentum = options["momentum"]
    return dict(optimizer=options["optimizer"], weight_decay=options["weight_decay"],
                momentum=DEFAULT_MOMENTUM if momentum is None else momentum)


def close(a: Network, b: Network, atol: float) -> bool:
    return all(np.allclose(p, q, rtol=1e-4, atol=atol)
               for p, q in zip(a.weights + a.biases, b.weights + b.biases))


def equal(a: Network, b: Network) -> bool:
    return all(np.array_equal(p, q, equal_nan=True)
               for p, q in zip(a.weights + a.biases, b.weights + b.biases))


def trains(net: Network, X, y, **options):
    """train()'s history; a run that diverges is no example (the engines' weights are
    compared where they are finite)."""
    try:
        return train(net, X, y, **options)
    except DivergenceError:
        reject()


def farthest(a: Network, b: Network) -> float:
    return max(float(np.max(np.abs(p.astype(np.float64) - q)))
               for p, q in zip(a.weights + a.biases, b.weights + b.biases))


def steps_of(X, options) -> int:
    return options["epochs"] * -(-len(X) // options["batch_size"])


@contextmanager
def c_build(build: str):
    """The C kernel's build ``build`` loaded for the block, the best one again after it."""
    try:
        clib._c_kernel = None
        assert clib._load_c_kernel(build) is not None
        yield clib.c_kernel_isa
    finally:
        clib._c_kernel = None
        clib._load_c_kernel()


def near_a_kink(net: Network, X, batch: np.ndarray) -> bool:
    """Whether a relu's input (some hidden zˡ of the batch, in float64) is so close to 0
    that float32 rounding may put it on either side (one engine's neuron passes the
    gradient, the other's does not)."""
    if net.activation != "relu" or len(net.sizes) < 3:
        return False
    zs = net.astype(np.float64).forward(X[batch])[1][:-1]
    return any(np.any(np.abs(z) < 1e-4) for z in zs)


def sync_velocity(fast: CompiledEngine, ref: ReferenceEngine, net: Network) -> None:
    """The compiled engine's momentum velocity set to the reference optimiser's."""
    if fast.velocity is None or not ref.optimizer.velocity:
        return
    p, L = fast.packed, len(net.weights)
    for l in range(L):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        fast.velocity[p.wo[l]:p.wo[l] + n_in * n_out] = ref.optimizer.velocity[l].T.ravel()
        fast.velocity[p.bo[l]:p.bo[l] + n_out] = ref.optimizer.velocity[L + l]


def assert_each_step_matches(net: Network, X, y, options, runs) -> None:
    """The steps one at a time, each engine's from the reference's parameters (and
    velocity), compared step by step: rounding cannot pile up over steps.  A step that
    is not within test_engine.py's tolerance is within 8 times what float32 rounding
    moves the reference's step from float64's (1 − a² of a saturated tanh, say, keeps
    few digits), or near a relu's kink.  ``runs``: (order, first, last) of each call."""
    X = check_data(net, X, y)[0]
    B, eta = options["batch_size"], options["learning_rate"]
    kw = step_options(options)
    ref, fast = net.copy(), net.copy()
    R, F = ReferenceEngine(ref, X, y, B, **kw), CompiledEngine(fast, X, y, B, **kw)
    for order, first, last in runs:
        for a in range(first, last, B):
            b = min(a + B, last)
            for mine, theirs in zip(fast.weights + fast.biases, ref.weights + ref.biases):
                mine[...] = theirs
            sync_velocity(F, R, ref)             # (both zero before the first step)
            exact = ref.astype(np.float64)
            E = ReferenceEngine(exact, X, y, B, **kw)
            E.optimizer.velocity = {i: v.astype(np.float64)
                                    for i, v in getattr(R.optimizer, "velocity", {}).items()}
            with np.errstate(over="ignore", invalid="ignore"):
                if not all(np.isfinite(z).all() for z in ref.forward(X[order[a:b]])[1]):
                    reject()                     # overflowed: a diverged run, by a step
            kink = near_a_kink(ref, X, order[a:b])
            start = ref.copy(), {i: v.copy() for i, v in
                                 getattr(R.optimizer, "velocity", {}).items()}
            for engine, trained in ((F, fast), (R, ref), (E, exact)):
                engine.run(trained, order, a, b, eta)
            if close(fast, ref, 2e-5) or not all(np.isfinite(p).all() for p in ref.weights):
                continue
            if kink:
                event("a step near a relu's kink")
                continue
            event("a step judged against float64's")
            rounding = max(farthest(ref, exact), reordered_rounding(
                *start, X, y, B, kw, (order, a, b, eta), exact, seed=a))
            assert farthest(fast, ref) <= 8 * rounding + 2e-5, (
                f"step on order[{a}:{b}]: {farthest(fast, ref):.3g} from the reference's, "
                f"which is {farthest(ref, exact):.3g} from float64's ({rounding:.3g} in "
                "another order of additions)")


def reordered_rounding(net: Network, velocity, X, y, B, kw, step, exact: Network,
                       seed: int, orders: int = 8) -> float:
    """How far float32 rounding moves the reference engine's step (from ``net`` and the
    momentum's ``velocity``) from float64's ``exact``, the most over ``orders`` orders of
    the sums' terms: the pixels and every hidden layer's neurons shuffled (the same
    network, its sums added up in another order).  Where a sum cancels (inputs of ±2,
    weights of ±35 adding up to a z of -0.8), the order alone moves a step by 20 times
    what it moved in the reference's own order, and the kernel's order is another one."""
    order, a, b, eta = step
    L, rng, most = len(net.weights), np.random.default_rng(seed), 0.0
    for _ in range(orders):
        perms = [rng.permutation(n) for n in net.sizes[:-1]] + [np.arange(net.sizes[-1])]
        shuffled = net.copy()
        for l in range(L):
            shuffled.weights[l] = np.ascontiguousarray(net.weights[l][perms[l + 1]][:, perms[l]])
            shuffled.biases[l] = net.biases[l][perms[l + 1]].copy()
        engine = ReferenceEngine(shuffled, np.ascontiguousarray(X[:, perms[0]]), y, B, **kw)
        for i, v in velocity.items():
            l = i % L
            engine.optimizer.velocity[i] = (v[perms[l + 1]][:, perms[l]] if i < L
                                            else v[perms[l + 1]]).copy()
        engine.run(shuffled, order, a, b, eta)
        for l in range(L):
            back_out, back_in = np.argsort(perms[l + 1]), np.argsort(perms[l])
            shuffled.weights[l] = shuffled.weights[l][back_out][:, back_in]
            shuffled.biases[l] = shuffled.biases[l][back_out]
        most = max(most, farthest(shuffled, exact))
    return most


def epochs_of(X, options) -> list[tuple[np.ndarray, int, int]]:
    """train()'s calls: each epoch's order (from its seed), whole."""
    rng = np.random.default_rng(options["seed"])
    return [(rng.permutation(len(X)), 0, len(X)) for _ in range(options["epochs"])]


def assert_matches_reference(net: Network, X, y, options) -> None:
    """``net`` trained by every build of the kernel gives the reference engine's weights
    (test_engine.py's tolerance: rtol 1e-4, atol 2e-5, 5e-5 past a hundred steps), or,
    where float32 rounding piles up (a large η, many steps, a relu at 0), each step does
    from the same parameters."""
    ref = net.copy()
    trains(ref, X, y, engine="reference", **{k: v for k, v in options.items()
                                              if k != "threads"})
    atol = 2e-5 if steps_of(X, options) < 100 else 5e-5
    builds = {}
    for build in clib.c_kernel_builds():
        fast = net.copy()
        with c_build(build) as isa:
            h = trains(fast, X, y, engine="fast", **options)
            assert h.settings["kernel_isa"] == isa
            builds[isa] = fast
            if isa == "avx2" and "avx512" in builds:  # equal for most set-ups, not promised
                event(f"avx2 and avx512 equal: {equal(fast, builds['avx512'])}")
            if not close(fast, ref, atol):
                event("judged step by step")
                assert_each_step_matches(net, X, y, options, epochs_of(X, options))


# --------------------------------------------------------------------------- the mathematics
@FAST
@given(setups())
def test_fast_engine_matches_reference(setup):
    net, X, y, options = setup
    assert_matches_reference(net, X, y, options)


@pytest.mark.slow
@SLOW
@given(setups(wide="maybe"), st.sampled_from([1, 2]))
def test_fast_engine_matches_reference_many(setup, threads):
    net, X, y, options = setup
    assert_matches_reference(net, X, y, {**options, "threads": threads})


@pytest.mark.slow
@examples(300)
@given(setups(wide="always"), st.integers(1, 300))
def test_one_thread_and_two_give_the_same_weights(monkeypatch, setup, probe):
    """One thread, two, and the two timed against each other (calls cut into pieces of
    ``probe`` examples or so, on either): the same weights bit for bit."""
    net, X, y, options = setup
    monkeypatch.delenv("NUDGE_THREADS", raising=False)
    monkeypatch.setattr(thread_rules, "available_cpus", lambda: 2)
    monkeypatch.setattr(thread_rules, "PROBE_EXAMPLES", probe)
    monkeypatch.setattr(thread_rules, "REPROBE_EXAMPLES", 3 * probe)
    nets = []
    for threads in (1, 2, None):
        nets.append(trained := net.copy())
        h = trains(trained, X, y, engine="fast", threads=threads, **options)
        event(f"threads={threads}: {h.settings['threads']}, timed "
              f"{sorted(h.settings.get('examples_by_threads', {}))}")
    assert equal(nets[0], nets[1]) and equal(nets[0], nets[2])


# --------------------------------------------------------------------------- steps in pieces
@st.composite
def cuts(draw, n: int, batch_size: int) -> list[int]:
    """Where calls of the engine end in an epoch of n: whole mini-batches, the last at n."""
    ends = draw(st.lists(st.integers(1, -(-n // batch_size)), max_size=5, unique=True))
    return sorted({0, n, *(min(e * batch_size, n) for e in ends)})


def pieces(engine_kind: str, net: Network, X, y, options, orders, cut_lists):
    """``net`` trained on each order in calls of the engine from cut to cut."""
    engine = make_engine(net, X, y, options["batch_size"], **step_options(options),
                         engine=engine_kind, threads=options.get("threads"))
    steps = 0
    for order, cut in zip(orders, cut_lists):
        for a, b in zip(cut, cut[1:]):
            steps += engine.run(net, order, a, b, options["learning_rate"])
    return steps


def chunks_property(setup, data, engine_kind: str) -> None:
    net, X, y, options = setup
    B = options["batch_size"]
    rng = np.random.default_rng(options["seed"])
    orders = [rng.permutation(len(X)) for _ in range(options["epochs"])]
    if engine_kind == "fast":
        X = check_data(net, X, y)[0]         # train()'s uint8 for int64
    whole, parts = net.copy(), net.copy()
    cut_lists = [data.draw(cuts(len(X), B)) for _ in orders]
    assert pieces(engine_kind, whole, X, y, options, orders,
                  [[0, len(X)]] * len(orders)) == steps_of(X, options)
    assert pieces(engine_kind, parts, X, y, options, orders, cut_lists) == steps_of(X, options)
    assert equal(whole, parts)
    if engine_kind == "fast":                 # and one call an epoch is train()'s epoch
        trained = net.copy()
        trains(trained, X, y, engine="fast", **options)
        assert equal(trained, whole)


@FAST_CHUNKS
@given(setups(), st.data(), st.sampled_from(["fast", "reference"]))
def test_calls_in_pieces_give_one_calls_weights(setup, data, engine_kind):
    chunks_property(setup, data, engine_kind)


@pytest.mark.slow
@SLOW
@given(setups(wide="maybe"), st.data(), st.sampled_from(["fast", "reference"]))
def test_calls_in_pieces_give_one_calls_weights_many(setup, data, engine_kind):
    chunks_property(setup, data, engine_kind)


# --------------------------------------------------------------------------- steering
ACTIONS = ["nothing", "pause", "resume", "rate", "schedule", "stop"]


def control_property(monkeypatch, setup, data, engine_kind: str) -> None:
    """train() with ``on_steps`` steering it through a :class:`Control` (a pause with
    single steps granted, a resume, a new learning rate, back to the schedule's, a stop):
    the weights of the engine called directly with the same steps and learning rates."""
    net, X, y, options = setup
    monkeypatch.setattr(train_module, "EXAMPLES_PER_CALL",
                        data.draw(st.sampled_from([1, 7, 50, 5000])))
    every = data.draw(st.sampled_from([None, 1, 2, 3]))
    plan = data.draw(st.lists(st.sampled_from(ACTIONS), max_size=12))
    rates = [0.5, 1.5, 0.1]
    control = Control()
    etas: list[tuple[int, float]] = []        # (steps so far, η) as each callback saw it

    def on_steps(progress, trained):
        etas.append((progress.step, progress.learning_rate))
        action = plan.pop(0) if plan else "nothing"
        if action == "stop":
            control.stop()
            return
        if action == "pause":
            control.pause()
        elif action == "resume":
            control.resume()
        elif action == "rate":
            control.set_learning_rate(options["learning_rate"] * rates[len(plan) % 3])
        elif action == "schedule":
            control.set_learning_rate(None)
        if control.paused and plan:           # single steps from here: every k callbacks
            control.step(every or 1)          # come after k of them, so k are granted
        elif control.paused:
            control.resume()                  # nothing left to do: run to the end

    trained = net.copy()
    h = trains(trained, X, y, engine=engine_kind, on_steps=on_steps, every=every,
              control=control, **options)
    taken = sum(r.steps for r in h.epochs)
    # the same steps by the engine itself, each callback's η from where the last left off
    direct = net.copy()
    Xc = check_data(net, X, y)[0]
    engine = make_engine(direct, Xc, y, options["batch_size"], **step_options(options),
                         engine=engine_kind, threads=options.get("threads"))
    rng = np.random.default_rng(options["seed"])
    B, per_epoch = options["batch_size"], -(-len(X) // options["batch_size"])
    etas_by_step = {}
    done = 0
    for step, eta in etas:
        for s in range(done, step):
            etas_by_step[s] = eta
        done = step
    step = 0
    for _ in range(options["epochs"]):
        order = rng.permutation(len(X))
        for k in range(per_epoch):
            if step >= taken:
                break
            eta = etas_by_step.get(step, control.learning_rate or options["learning_rate"])
            engine.run(direct, order, k * B, min((k + 1) * B, len(X)), eta)
            step += 1
    assert equal(trained, direct)
    if h.stopped is None:
        assert taken == steps_of(X, options)
        if control.learning_rate in (None, options["learning_rate"]) and all(
                eta == options["learning_rate"] for _, eta in etas):
            # paused, stepped and resumed only: the weights of a run left alone
            alone = net.copy()
            trains(alone, X, y, engine=engine_kind, **options)
            assert equal(trained, alone)


@FAST_CONTROL
@given(setups(), st.data(), st.sampled_from(["fast", "reference"]))
def test_steering_a_run_gives_the_engines_weights(monkeypatch, setup, data, engine_kind):
    control_property(monkeypatch, setup, data, engine_kind)


@pytest.mark.slow
@SLOW
@given(setups(wide="maybe"), st.data(), st.sampled_from(["fast", "reference"]))
def test_steering_a_run_gives_the_engines_weights_many(monkeypatch, setup, data, engine_kind):
    control_property(monkeypatch, setup, data, engine_kind)


# --------------------------------------------------------------------------- the engines alone
@FAST
@given(setups(), st.data())
def test_engines_called_directly_agree(setup, data):
    """make_engine's engines given the inputs as they are (no train() in front): the same
    steps, whatever the inputs' type."""
    net, X, y, options = setup
    B, eta = options["batch_size"], options["learning_rate"]
    rng = np.random.default_rng(options["seed"])
    order = data.draw(st.sampled_from([
        rng.permutation(len(X)), rng.integers(0, len(X), data.draw(st.integers(1, 2 * len(X)))),
        np.arange(len(X))[::-1]]))                   # with repeats, longer or shorter
    first = B * data.draw(st.integers(0, (len(order) - 1) // B))
    last = data.draw(st.integers(first + 1, len(order)))
    nets = {}
    for kind in ("fast", "reference"):
        nets[kind] = trained = net.copy()
        engine = make_engine(trained, X, y, B, **step_options(options), engine=kind)
        assert isinstance(engine, CompiledEngine if kind == "fast" else ReferenceEngine)
        with np.errstate(over="ignore", invalid="ignore"):        # a run running off
            assert engine.run(trained, order, first, last, eta) == -(-(last - first) // B)
    if not all(np.isfinite(p).all() for p in nets["reference"].weights):
        reject()                                   # diverged
    if not close(nets["fast"], nets["reference"], 2e-5):
        event("judged step by step")
        assert_each_step_matches(net, X, y, options, [(order, first, last)])


@pytest.mark.slow
@SLOW
@given(setups(wide="maybe"), st.data())
def test_engines_called_directly_agree_many(setup, data):
    test_engines_called_directly_agree.hypothesis.inner_test(setup, data)


@FAST
@given(setups(wide="maybe"))
def test_output_sums_are_the_forward_pass(setup):
    """The kernel's forward pass alone (how train() measures the training set) gives
    Network.forward's zᴸ, on every build."""
    net, X, y, options = setup
    X = check_data(net, X, y)[0]
    want = net.forward(X)[1][-1]
    scale = 1 + float(np.max(np.abs(want), initial=0))
    for build in clib.c_kernel_builds():
        with c_build(build):
            z = make_engine(net, X, y, options["batch_size"], engine="fast").output_sums(net)
        assert z.shape == want.shape and z.dtype == np.float32
        np.testing.assert_allclose(z, want, rtol=1e-5, atol=1e-5 * scale)
