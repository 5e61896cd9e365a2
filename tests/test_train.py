"""The trainer: SGD exactly as described, optimisers, history, Ctrl-C, divergence."""

import os
import signal

import numpy as np
import pytest

from nudge import Network, NudgeError, train
from nudge.errors import DivergenceError
from nudge.train import Control, evaluate


def test_one_epoch_is_shuffle_split_and_one_step_per_mini_batch(digits):
    X, y = digits.X_train[:105], digits.y_train[:105]
    net = Network([64, 12, 10], seed=1)
    manual = net.copy()
    history = train(net, X, y, epochs=1, batch_size=10, learning_rate=2.0, seed=7,
                    engine="reference")
    order = np.random.default_rng(7).permutation(len(X))
    for start in range(0, len(X), 10):       # 11 steps: the last mini-batch has 5 examples
        batch = order[start:start + 10]
        manual.update_mini_batch(X[batch], y[batch], 2.0)
    assert history.epochs[0].steps == 11
    for a, b in zip(net.weights + net.biases, manual.weights + manual.biases):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_full_batch_gradient_descent(digits):
    X, y = digits.X_train[:200], digits.y_train[:200]
    net = Network([64, 8, 10], seed=2, dtype=np.float64)
    manual = net.copy()
    history = train(net, X, y, epochs=3, batch_size=None, learning_rate=1.0, engine="reference")
    for _ in range(3):
        manual.update_mini_batch(X, y, 1.0)
    assert [r.steps for r in history.epochs] == [1, 1, 1]
    for a, b in zip(net.weights, manual.weights):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_same_seed_same_result(digits):
    results = []
    for _ in range(2):
        net = Network([64, 16, 10], seed=4)
        train(net, digits.X_train, digits.y_train, epochs=2, batch_size=10, learning_rate=3.0)
        results.append(net.weights[0].copy())
    np.testing.assert_array_equal(*results)


def test_a_network_without_a_seed_is_shuffled_by_one_that_is_recorded(digits):
    """A network from_parameters (another framework's, a model file without a seed) has
    net.seed None: its shuffling came from fresh entropy and history.settings["seed"] was
    None, so the run could not be repeated.  The seed drawn is recorded and repeats it."""
    start = Network([64, 16, 10], seed=4)
    runs = []
    for seed in (None, "recorded"):
        net = Network.from_parameters(start.weights, start.biases)
        assert net.seed is None
        h = train(net, digits.X_train, digits.y_train, epochs=2, learning_rate=3.0,
                  seed=runs[0][0] if seed == "recorded" else None)
        assert isinstance(h.settings["seed"], int) and net.seed is None
        runs.append((h.settings["seed"], net.weights[0]))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize("optimizer,eta", [("sgd", 3.0), ("momentum", 0.1), ("adam", 0.01)])
def test_every_optimizer_learns(digits, optimizer, eta):
    net = Network([64, 16, 10], seed=0)
    before = evaluate(net, digits.X_test, digits.y_test)
    history = train(net, digits.X_train, digits.y_train, epochs=5, batch_size=10,
                    learning_rate=eta, optimizer=optimizer, test_data=digits.test_data)
    assert history.last.test_cost < before[0] / 2
    assert history.last.test_accuracy > 0.8
    assert history.settings["optimizer"] == optimizer


@pytest.mark.parametrize("momentum,eta", [(0.9, 0.3), (0.99, 0.03), (0.0, 3.0)])
def test_momentum_takes_sgd_steady_step_by_default(digits, momentum, eta):
    """Momentum's default η was a fixed 0.5, a steady step η/(1 − μ) of 5 (SGD's default
    is 3): it is SGD's η × (1 − μ), whatever μ is."""
    h = Network([64, 16, 10], seed=0).fit(digits.X_train, digits.y_train, epochs=1,
                                          optimizer="momentum", momentum=momentum)
    assert h.settings["learning_rate"] == eta
    assert Network([64, 10]).fit(digits.X_train, digits.y_train, epochs=1,
                                 optimizer="adam").settings["learning_rate"] == 0.003


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_momentum_given_to_another_optimizer_is_refused(digits, optimizer):
    """fit(optimizer="sgd", momentum=0.5) trained plain SGD and dropped the 0.5 without a
    word (the default, 0.9, could not be told from a value given): now μ defaults to None
    and a μ with any optimiser but momentum is an error, before any step."""
    net = Network([64, 10], seed=0)
    before = [w.copy() for w in net.weights]
    with pytest.raises(NudgeError, match=rf"^momentum 0.5 is for optimizer='momentum' "
                                         rf"\({optimizer} has none\): pass "):
        net.fit(digits.X_train, digits.y_train, epochs=1, optimizer=optimizer, momentum=0.5)
    assert all((a == b).all() for a, b in zip(before, net.weights))
    h = net.fit(digits.X_train, digits.y_train, epochs=1, optimizer=optimizer)
    assert h.settings["momentum"] is None
    assert train(Network([64, 10], seed=0), digits.X_train, digits.y_train, epochs=1,
                 optimizer="momentum").settings["momentum"] == 0.9


def test_fit_warns_when_it_ends_at_chance_and_says_what_to_try(digits):
    """The command line notes a run that learned nothing and what to try; fit() said
    nothing.  It warns now (a ChanceWarning, nudge train's words in Python's names);
    train() itself, under the CLI, the page and sweeps, does not."""
    import warnings

    from nudge import ChanceWarning

    tiny = dict(epochs=2, learning_rate=1e-4, test_data=digits.test_data)
    with pytest.warns(ChanceWarning, match=r"^a test accuracy of \d+\.\d\d% is about chance "
                      r"\(1 in 10\): the network has learned nothing useful; with eta 0.0001 "
                      r"\(sgd's default is 3\) the steps may be too small to get anywhere in 2 "
                      r"epochs: try a larger learning rate or more epochs$") as caught:
        Network([64, 16, 10], seed=0).fit(digits.X_train, digits.y_train, **tiny)
    assert caught[0].filename == __file__                   # at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(Network([64, 16, 10], seed=0), digits.X_train, digits.y_train, **tiny)
        Network([64, 16, 10], seed=0).fit(digits.X_train, digits.y_train, epochs=2,
                                          learning_rate=1e-4)     # no test set: no verdict
        Network([64, 16, 10], seed=0).fit(digits.X_train, digits.y_train, epochs=5,
                                          learning_rate=3.0, test_data=digits.test_data)
    # momentum 0 takes SGD's steps, so its usual eta is SGD's 3 (not 3 x (1 - 0.9))
    with pytest.warns(ChanceWarning, match=r"with eta 0.0001 \(momentum's default is 3\)"):
        Network([64, 16, 10], seed=0).fit(digits.X_train, digits.y_train, optimizer="momentum",
                                          momentum=0.0, **tiny)


def test_cosine_schedule_decays_the_learning_rate(digits):
    from nudge.schedules import learning_rate_at

    history = train(Network([64, 10, 10], seed=0), digits.X_train, digits.y_train, epochs=4,
                    learning_rate=2.0, schedule="cosine", min_learning_rate=0.1)
    etas = history.column("learning_rate")
    assert etas[0] == 2.0 and etas == sorted(etas, reverse=True) and etas[-1] > 0.1
    assert etas[2] == pytest.approx(0.1 + 1.9 * 0.5 * (1 + np.cos(np.pi * 2 / 4)))
    assert learning_rate_at(3, 4, 2.0) == 2.0
    with pytest.raises(NudgeError, match="unknown learning-rate schedule"):
        learning_rate_at(1, 4, 2.0, "exponential")


def test_weight_decay_shrinks_weights(digits):
    plain, decayed = Network([64, 16, 10], seed=0), Network([64, 16, 10], seed=0)
    for net, wd in ((plain, 0.0), (decayed, 0.05)):
        train(net, digits.X_train, digits.y_train, epochs=2, learning_rate=1.0, weight_decay=wd,
              engine="reference")
    assert np.linalg.norm(decayed.weights[0]) < np.linalg.norm(plain.weights[0])


def test_history_records_each_epoch_and_callback_can_stop(digits):
    seen = []

    def callback(record, net):
        seen.append(record.epoch)
        return record.epoch < 2

    history = train(Network([64, 10, 10], seed=0), digits.X_train, digits.y_train, epochs=5,
                    test_data=digits.test_data, callback=callback)
    assert seen == [1, 2] and history.stopped == "callback"
    r = history.last
    assert r.train_cost > 0 and r.test_cost > 0 and 0 <= r.test_accuracy <= 1 and r.seconds >= 0
    assert history.to_dict()["epochs"][0]["epoch"] == 1


def test_the_run_records_live_in_nudge_history():
    """EpochRecord and History are in nudge.history (train.py is the loop); the names the
    API documents, nudge.History and nudge.train.History, are the same classes."""
    import nudge
    from nudge import history
    from nudge.train import EpochRecord, History  # nudge.train is also the function

    assert nudge.History is History is history.History
    assert nudge.EpochRecord is EpochRecord is history.EpochRecord


def test_a_history_shows_itself_in_a_line_and_in_a_notebook_table(digits):
    """``net.fit(...)`` last in a cell showed the dataclass repr: every EpochRecord and the
    settings, 7,000 characters for 30 epochs of the digits, and no HTML table."""
    net = Network([64, 10, 10], seed=0)
    history = net.fit(digits.X_train[:200], digits.y_train[:200], epochs=30, batch_size=20,
                      test_data=digits.test_data)
    text = repr(history)
    assert text.startswith("History(30 epochs, stopped='finished', train_cost=")
    assert f"test_accuracy={history.last.test_accuracy:.4g}" in text and len(text) < 150
    html = history._repr_html_()
    assert html.count("<tr>") == 1 + 5 + 1 + 10 and "… 15 more" in html
    assert "<th>test accuracy</th>" in html and "validation" not in html   # no empty columns
    short = net.fit(digits.X_train[:200], digits.y_train[:200], epochs=2, batch_size=20,
                    monitor_train_cost=False)
    assert short._repr_html_().count("<tr>") == 3 and "train cost" not in short._repr_html_()
    assert repr(short).startswith("History(2 epochs, stopped='finished', ")
    assert "best_epoch" not in repr(short)


@pytest.mark.parametrize("engine", ["reference", "auto"])
def test_ctrl_c_stops_after_the_current_step_and_keeps_the_model(digits, engine):
    net = Network([64, 10, 10], seed=0)

    def press_ctrl_c(progress, net):
        if progress.epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)

    # Ctrl-C in the middle of epoch 2, after its first step: the run stops there
    history = train(net, digits.X_train, digits.y_train, epochs=5, batch_size=10,
                    on_steps=press_ctrl_c, every=1, engine=engine)
    assert history.stopped == "interrupted"
    assert len(history.epochs) == 2 and history.epochs[1].steps == 1
    assert [r.complete for r in history.epochs] == [True, False]     # the 2nd cut short
    assert all(np.isfinite(w).all() for w in net.weights)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_divergence_stops_with_advice_and_restores_the_last_finite_model(digits):
    net = Network([64, 32, 10], activation="relu", output="softmax", cost="cross-entropy",
                  init="normal", seed=0)
    start = net.snapshot()
    arrays = [id(p) for p in net.weights + net.biases]
    with pytest.raises(DivergenceError, match="smaller one") as e:
        train(net, digits.X_train, digits.y_train, epochs=1, learning_rate=1e30,
              engine="reference")
    assert e.value.epoch == 1 and e.value.learning_rate == 1e30
    assert e.value.history.epochs == []                    # the epochs before the diverged one
    # the first epoch diverged: back to the start, in place (references to the arrays hold)
    assert [id(p) for p in net.weights + net.biases] == arrays
    for p, q in zip(net.weights + net.biases, start[0] + start[1]):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kwargs,match", [
    ({"epochs": 0}, "epochs must be"),
    ({"batch_size": 0}, "batch size must be"),
    ({"batch_size": 10**6}, "larger than"),
    ({"learning_rate": -1}, "learning rate must be"),
    ({"learning_rate": float("nan")}, "learning rate must be"),
    ({"optimizer": "rmsprop"}, "unknown optimizer"),
    ({"engine": "gpu"}, "unknown engine"),
    ({"weight_decay": -0.1}, "weight decay"),
    ({"seed": -1}, "seed -1: give a whole number"),
    ({"seed": 2.5}, "seed 2.5"),
    ({"learning_rate": 10**400}, "learning rate must be a finite number"),
    ({"momentum": "0.5", "optimizer": "momentum"}, "momentum must be a number"),
    ({"test_data": ([[0.0] * 10], [1])}, "test inputs have shape"),
    ({"test_data": [0, 1, 2]}, "test_data must be a pair"),
    ({"validation_data": ([[0.0] * 64] * 3, [1])}, "3 validation inputs but 1 labels"),
    ({"min_learning_rate": "0.01"}, "minimum learning rate .* must be a number"),
    ({"min_learning_rate": None}, "minimum learning rate .* must be a number"),
    ({"callback": 1}, "callback must be a function"),
    ({"on_steps": "print"}, "on_steps must be a function"),
    ({"control": 1}, "control must be a nudge.Control"),
])
def test_nonsense_options_are_refused(digits, kwargs, match):
    with pytest.raises(NudgeError, match=match):
        train(Network([64, 10, 10]), digits.X_train, digits.y_train, **kwargs)


@pytest.mark.parametrize("option", ["optimizer", "schedule"])
def test_an_unknown_choice_is_named_in_one_short_line(digits, option):
    """The optimiser and the schedule are checked by the one rule for choices
    (nudge.bounds.check_choice): a long wrong value is cut short, not echoed whole."""
    with pytest.raises(NudgeError, match="choose one of") as e:
        train(Network([64, 10], seed=0), digits.X_train[:20], digits.y_train[:20], epochs=1,
              **{option: "x" * 5000})
    assert len(str(e.value)) < 200 and "\n" not in str(e.value)


def test_held_out_data_is_checked_before_any_step(digits):
    net = Network([64, 10, 10], seed=1)
    start = net.snapshot()
    with pytest.raises(NudgeError, match="test inputs have shape"):
        train(net, digits.X_train, digits.y_train, epochs=2,
              test_data=(digits.X_test[:, :10], digits.y_test))
    for p, q in zip(net.weights + net.biases, start[0] + start[1]):
        np.testing.assert_array_equal(p, q)                # not an epoch trained first


def test_weight_decay_given_as_text_is_used_as_its_number(digits):
    a, b = Network([64, 10, 10], seed=1), Network([64, 10, 10], seed=1)
    train(a, digits.X_train, digits.y_train, epochs=1, weight_decay="0.01", seed=0)
    train(b, digits.X_train, digits.y_train, epochs=1, weight_decay=0.01, seed=0)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


def test_a_numpy_false_from_a_callback_stops_training(digits):
    history = train(Network([64, 10, 10], seed=1), digits.X_train, digits.y_train, epochs=5,
                    callback=lambda record, net: np.float64(record.epoch) < 2)
    assert history.stopped == "callback" and len(history.epochs) == 2


def test_mismatched_data_is_refused(digits):
    with pytest.raises(NudgeError, match="expects rows of 784"):
        train(Network([784, 10, 10]), digits.X_train, digits.y_train)
    with pytest.raises(NudgeError, match="labels"):
        train(Network([64, 10, 10]), digits.X_train, digits.y_train[:-1])
    X, y = digits.X_train[:50] / np.float32(255), digits.y_train[:50]
    nan = X.copy()
    nan[3, 5] = np.nan
    for kwargs, words in (({"X": nan}, "training inputs hold NaN"),       # not "diverged"
                          ({"test_data": (nan, y)}, "test inputs hold NaN"),
                          ({"validation_data": (nan, y)}, "validation inputs hold NaN"),
                          ({"X": X.astype(str)}, "must be numbers")):
        with pytest.raises(NudgeError, match=words):
            train(Network([64, 10, 10]), kwargs.pop("X", X), y, epochs=1, **kwargs)
    net = Network([64, 10, 10])
    net.weights[0] = net.weights[0].T                    # set by hand, the wrong way round
    with pytest.raises(NudgeError, match=r"layer 1's weights are shape \(64, 10\)"):
        train(net, X, y, epochs=1)


def _nan(net):
    net.weights[1][0, 0] = np.nan


@pytest.mark.parametrize("engine", ["reference", "auto"])
@pytest.mark.parametrize("change, words", [
    (lambda net: net.weights.__setitem__(0, np.zeros((2, 2), np.float32)),
     r"layer 1's weights are shape \(2, 2\)"),
    (lambda net: net.weights.__setitem__(0, net.weights[0].astype(np.float64)),
     "layer 1's weights are float64 in this float32 network"),
    (lambda net: net.biases.__setitem__(1, net.biases[1].astype(np.float16)),
     "layer 2's biases are float16 in this float32 network"),
    (lambda net: net.weights.__setitem__(0, net.weights[0].astype(np.int64)),
     r"layer 1's weights are shape \(10, 64\) \(int64\)"),
    (lambda net: net.weights.append(np.zeros((3, 3), np.float32)),
     "a 64-10-10 network has 2 layers of weights and biases, not 3 and 2"),
    (lambda net: net.weights[0].setflags(write=False), "layer 1's weights are a read-only array"),
    (lambda net: setattr(net, "activation", "softsign"), "unknown activation 'softsign'"),
    (_nan, "layer 2's weights hold NaN or infinite values: set finite ones"),
])
def test_parameters_set_by_hand_before_or_during_training_get_one_line(digits, engine, change,
                                                                      words):
    """Weights replaced by hand, before training or from a callback (of another shape or
    float type, read-only, NaN), were numpy's errors (a matmul's core dimension, 'output
    array is read-only', a cast), or trained silently: float64 weights in a float32 network
    in mixed precision with the reference engine and rounded to float32 by the fast one, a
    NaN weight as 'training diverged ... try a smaller learning rate'.  Now one line, before
    the first step or right after the callback that set them."""
    X, y = digits.X_train[:40], digits.y_train[:40]
    net = Network([64, 10, 10], seed=0)
    change(net)
    with pytest.raises(NudgeError, match=words):
        train(net, X, y, epochs=1, batch_size=10, engine=engine)
    for hook in ("on_steps", "callback"):
        net = Network([64, 10, 10], seed=0)
        with pytest.raises(NudgeError, match=words):
            train(net, X, y, epochs=2, batch_size=10, engine=engine, every=1,
                  **{hook: lambda *args: change(args[-1])})


def test_learns_a_real_mnist_subset(mnist):
    small = mnist.subset(10000, 2000)
    net = Network([784, 16, 16, 10], seed=0)
    history = train(net, small.X_train, small.y_train, epochs=4, batch_size=10,
                    learning_rate=1.0, test_data=small.test_data)
    assert history.last.test_accuracy > 0.85


# --------------------------------------------------------------------------- watching and steering
@pytest.mark.parametrize("engine", ["reference", "auto"])
def test_on_steps_every_k_and_at_listed_steps(digits, engine):
    X, y = digits.X_train[:300], digits.y_train[:300]
    seen = []
    train(Network([64, 10, 10], seed=0), X, y, epochs=2, batch_size=10, engine=engine,
          on_steps=lambda p, net: seen.append((p.epoch, p.step, p.epoch_step, p.seen)),
          every=7)
    assert [s[1] for s in seen] == list(range(7, 61, 7))           # 30 steps per epoch
    assert all(seen_ == 10 * step for _, step, _, seen_ in seen)
    assert seen[4][0] == 2 and seen[4][2] == 5                       # step 35 = epoch 2's 5th
    at = []
    train(Network([64, 10, 10], seed=0), X, y, epochs=2, batch_size=10, engine=engine,
          on_steps=lambda p, net: at.append(p.step), every=[1, 2, 3, 29, 30, 31, 60])
    assert at == [1, 2, 3, 29, 30, 31, 60]
    at = []                       # past the list's last count: no more calls, not every call
    train(Network([64, 10, 10], seed=0), X, y, epochs=2, batch_size=10, engine=engine,
          on_steps=lambda p, net: at.append(p.step), every=[5, 20])
    assert at == [5, 20]


def test_callbacks_do_not_change_the_result(digits):
    """Calling the engine in small pieces (for callbacks) gives the same weights."""
    X, y = digits.X_train[:300], digits.y_train[:300]
    a, b = Network([64, 10, 10], seed=0), Network([64, 10, 10], seed=0)
    train(a, X, y, epochs=2, batch_size=10, seed=3)
    train(b, X, y, epochs=2, batch_size=10, seed=3, on_steps=lambda p, net: None, every=3)
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(p, q)


def test_on_steps_returning_false_stops_and_progress_has_the_last_batch(digits):
    X, y = digits.X_train[:300], digits.y_train[:300]
    got = []

    def watch(p, net):
        got.append(p)
        return p.step < 4

    history = train(Network([64, 10, 10], seed=0), X, y, epochs=3, batch_size=10,
                    on_steps=watch, every=2, seed=5)
    assert history.stopped == "callback" and history.epochs[0].steps == 4
    order = np.random.default_rng(5).permutation(300)
    np.testing.assert_array_equal(got[-1].batch, order[30:40])
    assert got[-1].learning_rate == 3.0 and got[-1].seconds > 0


def test_progress_has_the_partial_last_batch_of_an_epoch(digits):
    X, y = digits.X_train[:37], digits.y_train[:37]
    got = []
    train(Network([64, 10, 10], seed=0), X, y, epochs=1, batch_size=10, seed=5,
          on_steps=lambda p, net: got.append(p))
    order = np.random.default_rng(5).permutation(37)
    assert got[-1].epoch_step == 4
    np.testing.assert_array_equal(got[-1].batch, order[30:37])    # 7 examples, not 10


def test_control_pause_step_resume_and_new_learning_rate(digits):
    import threading
    import time

    X, y = digits.X_train[:300], digits.y_train[:300]
    control = Control()
    control.pause()
    steps, rates = [], []

    def watch(p, net):
        steps.append(p.step)
        rates.append(p.learning_rate)

    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("h", train(
        Network([64, 10, 10], seed=0), X, y, epochs=1, batch_size=10, control=control,
        on_steps=watch)))
    worker.start()
    worker.join(0.3)
    assert worker.is_alive() and steps == []                     # paused: no step taken
    control.step()
    control.step()
    end = time.monotonic() + 30           # (2 s was all a busy machine's thread was given)
    while len(steps) < 2 and time.monotonic() < end:
        worker.join(0.02)
    assert steps == [1, 2]                                       # one mini-batch each
    control.set_learning_rate(0.5)
    control.resume()
    worker.join(10)
    assert not worker.is_alive()
    assert result["h"].epochs[0].steps == 30 and rates[-1] == 0.5
    assert result["h"].epochs[0].learning_rate == 0.5


def test_a_pause_or_resume_voids_the_steps_asked_for_before_it():
    import threading

    from nudge.control import MAX_GRANTED

    control = Control()
    control.pause()
    control.step(50)                   # Step pressed 50 times, then Resume, then Pause
    control.resume()
    control.pause()
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(control._steps_allowed(5)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and got == []          # paused: the 50 are gone
    control.step()
    waiter.join(5)
    assert got == [1]
    control.step(10**12)
    assert control._granted == MAX_GRANTED           # bounded


def test_control_stop_and_speed_limit(digits):
    import time

    X, y = digits.X_train[:400], digits.y_train[:400]
    control = Control()
    control.set_speed(2000)                                      # examples per second
    started = time.perf_counter()
    history = train(Network([64, 10, 10], seed=0), X, y, epochs=1, batch_size=10,
                    control=control)
    assert time.perf_counter() - started >= 0.15                # 400 examples at 2,000/s
    assert history.stopped == "finished"
    control = Control()
    control.stop()
    history = train(Network([64, 10, 10], seed=0), X, y, epochs=3, control=control)
    assert history.stopped == "stopped" and history.epochs[0].steps == 0
    with pytest.raises(NudgeError, match="speed"):
        Control().set_speed(-1)


def test_an_absurdly_slow_speed_waits_until_stopped(digits):
    """1e-300 examples a second is a wait longer than any timeout the OS takes: it is
    capped, not an OverflowError in the training thread."""
    import threading

    control, errors = Control(), []
    control.set_speed(1e-300)

    def run():
        try:
            train(Network([64, 10, 10], seed=0), digits.X_train[:100], digits.y_train[:100],
                  epochs=1, control=control)
        except Exception as e:  # noqa: BLE001 - the test reports it
            errors.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(0.5)
    control.stop()
    worker.join(10)
    assert not worker.is_alive() and errors == []


@pytest.mark.parametrize("then", ["stop", "pause", "faster"])
def test_a_slow_speed_does_not_delay_a_stop_pause_or_new_speed(digits, then):
    """At 10^-6 examples a second one mini-batch of 10 is months of waiting: a stop, a
    pause or a new speed ends the wait at once (a wait they did not end never ends, so
    the test needs no clock)."""
    import threading
    import time

    X, y = digits.X_train[:100], digits.y_train[:100]
    control = Control()
    seen = threading.Event()
    done = {}

    def slow_down(p, net):                # after the first step: a months-long wait
        if p.step == 1:
            control.set_speed(1e-6)
            seen.set()

    def run():
        done["history"] = train(Network([64, 10, 10], seed=0), X, y, epochs=1,
                                batch_size=10, control=control, on_steps=slow_down, every=1)
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    assert seen.wait(30)                  # the second step's wait is about to begin
    time.sleep(0.3)                       # (likely begun: either way it must end)
    if then == "stop":
        control.stop()
    elif then == "pause":
        control.pause()
    else:
        control.set_speed(None)
    if then == "pause":
        time.sleep(0.5)
        assert worker.is_alive()          # paused, not finished
        control.stop()
    worker.join(60)
    assert not worker.is_alive()
    assert done["history"].stopped == ("finished" if then == "faster" else "stopped")


def test_a_new_speed_set_just_before_the_wait_is_the_one_kept_to(digits):
    """The wait for the speed limit is worked out from the speed it holds the lock for: a
    full speed set after the engine's call and before the wait (the page's speed menu
    changed at that moment) ends the slow speed, not a wait of the old one's length."""
    import threading

    class LandsBeforeTheWait(Control):
        def _pace(self, *args):
            if self.examples_per_second is not None:
                self.set_speed(None)                 # pressed just as the wait begins
            super()._pace(*args)

    control = LandsBeforeTheWait()
    control.set_speed(1e-6)                          # months for one mini-batch
    done = {}
    worker = threading.Thread(daemon=True, target=lambda: done.update(history=train(
        Network([64, 10, 10], seed=0), digits.X_train[:100], digits.y_train[:100], epochs=1,
        batch_size=10, control=control)))
    worker.start()
    worker.join(60)
    assert not worker.is_alive() and done["history"].stopped == "finished"
    control.stop()


def test_a_paused_run_is_held_once_the_steps_asked_for_are_taken(digits):
    """Control.held: paused, and every step asked for taken and reported, so that nothing
    more happens until asked (what the page's and the tests' one-step-at-a-time wait for,
    rather than for the run to look still for a while)."""
    import threading
    import time

    control, reported = Control(), []
    in_steps, release = threading.Event(), threading.Event()

    def on_steps(p, net):
        reported.append(p.step)
        in_steps.set()
        assert release.wait(30)

    def until_held():
        end = time.monotonic() + 30
        while not control.held:
            assert time.monotonic() < end, "the paused run did not settle"
            time.sleep(0.01)

    control.pause()                                   # before the first step
    worker = threading.Thread(daemon=True, target=lambda: train(
        Network([64, 10, 10], seed=0), digits.X_train[:100], digits.y_train[:100],
        epochs=1, batch_size=10, control=control, on_steps=on_steps, every=1))
    worker.start()
    until_held()
    assert reported == []
    control.step()
    assert not control.held                           # asked for, not taken
    assert in_steps.wait(30)
    assert not control.held                           # taken, being reported
    release.set()
    until_held()
    assert reported == [1]
    control.stop()
    worker.join(30)
    assert not worker.is_alive() and not control.held


def test_every_is_validated(digits):
    with pytest.raises(NudgeError, match="every"):
        train(Network([64, 10, 10], seed=0), digits.X_train[:50], digits.y_train[:50],
              epochs=1, on_steps=lambda p, n: None, every=0)
    with pytest.raises(NudgeError, match="epochs must be at most"):
        train(Network([64, 10, 10], seed=0), digits.X_train[:50], digits.y_train[:50],
              epochs=10**20)
    for every, words in (("abc", "every 'abc'"), (range(0, 10**12, 7), "at most 1,000,000"),
                         ([1.5], "whole numbers"), (7.0, "every 7.0")):
        with pytest.raises(NudgeError, match=words):
            train(Network([64, 10, 10], seed=0), digits.X_train[:50], digits.y_train[:50],
                  epochs=1, on_steps=lambda p, n: None, every=every)
    with pytest.raises(NudgeError, match="steps must be"):
        Control().step(float("nan"))
    with pytest.raises(NudgeError, match="chunk must be"):
        evaluate(Network([64, 10, 10], seed=0), digits.X_train[:50], digits.y_train[:50],
                 chunk=-1)


def test_fit_with_desired_output_rows(digits):
    """Desired-output rows (one-hot) train and evaluate like labels."""
    X, y = digits.X_train[:200], digits.y_train[:200]
    rows = np.eye(10)[y]
    a, b = Network([64, 10, 10], seed=0), Network([64, 10, 10], seed=0)
    ha = a.fit(X, rows, epochs=2, test_data=(digits.X_test[:50], np.eye(10)[digits.y_test[:50]]))
    hb = b.fit(X, y, epochs=2, test_data=(digits.X_test[:50], digits.y_test[:50]))
    assert ha.last.test_accuracy == hb.last.test_accuracy
    np.testing.assert_allclose(ha.column("train_cost"), hb.column("train_cost"), rtol=1e-5)


def test_validation_data_is_evaluated_every_epoch_and_never_trained_on(digits):
    rest, (X_val, y_val) = digits.hold_out(300)
    assert len(rest.X_train) == len(digits.X_train) - 300
    np.testing.assert_array_equal(X_val, digits.X_train[-300:])
    np.testing.assert_array_equal(rest.X_train, digits.X_train[:-300])
    net = Network([64, 16, 10], seed=3)
    twin = net.copy()
    history = train(net, rest.X_train, rest.y_train, epochs=2, learning_rate=3.0,
                    test_data=rest.test_data, validation_data=(X_val, y_val), seed=5)
    train(twin, rest.X_train, rest.y_train, epochs=2, learning_rate=3.0, seed=5)
    for a, b in zip(net.weights + net.biases, twin.weights + twin.biases):
        np.testing.assert_array_equal(a, b)            # watching it changes nothing
    assert all(r.validation_accuracy is not None for r in history.epochs)
    last = history.last
    assert (last.validation_cost, last.validation_accuracy) == evaluate(net, X_val, y_val)
    assert history.to_dict()["epochs"][-1]["validation_accuracy"] == last.validation_accuracy
    plain = train(Network([64, 16, 10], seed=3), rest.X_train, rest.y_train, epochs=1)
    assert plain.last.validation_accuracy is None


@pytest.mark.parametrize("n", [0, -1, 1497, 10**9, True])
def test_hold_out_is_bounded(digits, n):
    with pytest.raises(NudgeError, match="hold out between 1 and 1,496"):
        digits.hold_out(n)


def test_patience_stops_and_keeps_the_best_epoch(digits):
    rest, held_out = digits.hold_out(300)
    net = Network([64, 16, 10], seed=3)
    seen: list[int] = []
    history = train(net, rest.X_train, rest.y_train, epochs=200, learning_rate=3.0,
                    validation_data=held_out, patience=3, seed=5, test_data=rest.test_data,
                    callback=lambda record, net: seen.append(record.epoch))
    assert seen == history.column("epoch")                 # the callback saw every epoch
    accuracies = history.column("validation_accuracy")
    best = history.best_epoch
    assert history.stopped == "no improvement" and len(history.epochs) == best + 3 < 200
    assert accuracies[best - 1] == max(accuracies)            # the first epoch at the peak
    assert accuracies.index(max(accuracies)) == best - 1
    assert history.kept is history.epochs[best - 1] and history.settings["patience"] == 3
    twin = Network([64, 16, 10], seed=3)         # the same run, stopped at the best epoch
    train(twin, rest.X_train, rest.y_train, epochs=200, learning_rate=3.0, seed=5,
          callback=lambda record, net: record.epoch < best)
    for a, b in zip(net.weights + net.biases, twin.weights + twin.biases):
        np.testing.assert_array_equal(a, b)
    assert evaluate(net, *held_out) == (history.kept.validation_cost,
                                        history.kept.validation_accuracy)
    with pytest.raises(NudgeError, match="needs held-out examples"):
        train(Network([64, 16, 10]), rest.X_train, rest.y_train, patience=3)
    with pytest.raises(NudgeError, match="patience must be"):
        train(Network([64, 16, 10]), rest.X_train, rest.y_train, patience=0,
              validation_data=held_out)


def test_patience_is_checked_where_the_other_options_are():
    """check_patience is in nudge.checks with the other checks of train's options (train,
    nudge train and nudge sweep use it); nudge.control only watches and steers a run."""
    from nudge import checks, control

    assert checks.check_patience(None, False, 10) is None
    assert checks.check_patience(3, True, 10) == 3
    with pytest.raises(NudgeError, match="needs held-out examples"):
        checks.check_patience(3, False, 10)
    with pytest.raises(NudgeError, match="at most 10"):
        checks.check_patience(11, True, 10)
    assert not hasattr(control, "check_patience")


def test_plateau_schedule_halves_eta_at_each_plateau(digits):
    rest, held_out = digits.hold_out(300)
    net = Network([64, 16, 10], seed=3)
    history = train(net, rest.X_train, rest.y_train, epochs=1000, learning_rate=3.0,
                    schedule="plateau", min_learning_rate=3.0 / 8, validation_data=held_out,
                    patience=3, seed=5)
    etas, accuracies = history.column("learning_rate"), history.column("validation_accuracy")
    eta, best, best_epoch, since, expected = 3.0, -1.0, 0, 0, []   # the rule, replayed
    for epoch, accuracy in enumerate(accuracies, 1):
        expected.append(eta)
        if accuracy > best:
            best, best_epoch = accuracy, epoch
        elif epoch - max(best_epoch, since) >= 3:
            if eta / 2 < 3.0 / 8:
                break
            eta, since = eta / 2, epoch
    assert etas == expected and epoch == len(accuracies) < 1000
    assert sorted(set(etas)) == [0.375, 0.75, 1.5, 3.0]           # every level, down to η_min
    assert history.stopped == "no improvement" and history.best_epoch == best_epoch
    assert evaluate(net, *held_out) == (history.kept.validation_cost, best)
    assert history.settings["schedule"] == "plateau"
    control = Control()                          # the same run, η changed by hand
    twin = Network([64, 16, 10], seed=3)
    train(twin, rest.X_train, rest.y_train, epochs=best_epoch, learning_rate=3.0, seed=5,
          control=control,
          callback=lambda record, net: control.set_learning_rate(expected[record.epoch]))
    for a, b in zip(net.weights + net.biases, twin.weights + twin.biases):
        np.testing.assert_array_equal(a, b)
    default = train(Network([64, 16, 10], seed=3), rest.X_train, rest.y_train, epochs=2,
                    learning_rate=3.0, schedule="plateau", validation_data=held_out,
                    patience=3)
    assert default.settings["min_learning_rate"] == 3.0 / 64       # Nielsen's 1/128 rule
    with pytest.raises(NudgeError, match="plateau schedule halves the learning rate"):
        train(Network([64, 16, 10]), rest.X_train, rest.y_train, schedule="plateau",
              validation_data=held_out)


def test_with_patience_a_later_divergence_keeps_the_best_epoch(digits):
    rest, held_out = digits.hold_out(300)
    control = Control()

    def blow_up(record, net):                  # after epoch 4: a step far too large
        if record.epoch == 4:
            control.set_learning_rate(1e30)
    net = Network([64, 16, 10], activation="relu", seed=3)
    history = train(net, rest.X_train, rest.y_train, epochs=50, learning_rate=0.5,
                    validation_data=held_out, patience=10, seed=5, control=control,
                    callback=blow_up)
    assert history.stopped == "diverged" and len(history.epochs) == 4
    best = history.best_epoch
    assert history.kept.validation_accuracy == max(history.column("validation_accuracy"))
    assert evaluate(net, *held_out) == (history.kept.validation_cost,
                                        history.kept.validation_accuracy)
    assert best <= 4 and all(np.isfinite(w).all() for w in net.weights)
    with pytest.raises(DivergenceError):        # no best epoch yet: the error, as always
        train(net, rest.X_train, rest.y_train, epochs=5, learning_rate=1e30,
              validation_data=held_out, patience=3)


def test_hold_out_takes_whole_numbers_only(digits):
    for bad in (5.5, "10", None):
        with pytest.raises(NudgeError, match="hold out between 1 and"):
            digits.hold_out(bad)


def test_a_learning_rate_is_a_number_not_text():
    X, y = np.zeros((20, 4)), np.zeros(20, int)
    for eta in ("1", True, b"1"):
        with pytest.raises(NudgeError, match="learning rate must be a number"):
            train(Network([4, 2], seed=0), X, y, epochs=1, learning_rate=eta)
    assert train(Network([4, 2], seed=0), X, y, epochs=1, learning_rate=np.float32(1)).last


def test_each_call_starts_afresh_and_a_saved_model_continues_as_the_one_in_memory(
        digits, tmp_path):
    """What train's docstring says of a second call: the shuffle stream starts again from
    the seed (the network's, by default), so two one-epoch calls see the same order, which
    one two-epoch call does not; through a model file it continues bit for bit as the
    network in memory does."""
    from nudge import load, save

    X, y = digits.X_train[:300], digits.y_train[:300]
    first_batches = []

    def note_first(progress, net):
        if progress.epoch_step == 1:
            first_batches.append(progress.batch.tolist())

    options = dict(batch_size=10, learning_rate=1.0, every=1, on_steps=note_first)
    net = Network([64, 12, 10], seed=3)
    train(net, X, y, epochs=1, **options)
    train(net, X, y, epochs=1, **options)
    train(Network([64, 12, 10], seed=3), X, y, epochs=2, **options)
    assert first_batches[0] == first_batches[1] == first_batches[2] != first_batches[3]

    saved = load(save(net, tmp_path / "m.safetensors"))
    for n in (net, saved):
        train(n, X, y, epochs=2, batch_size=10, learning_rate=1.0, optimizer="momentum",
              seed=11)
    for a, b in zip(net.weights + net.biases, saved.weights + saved.biases):
        np.testing.assert_array_equal(a, b)
