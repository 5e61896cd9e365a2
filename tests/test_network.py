"""The core mathematics: cost convention, shapes, and gradients checked two ways."""

import inspect
import itertools
import re

import numpy as np
import pytest

from nudge import ChanceWarning, Network, NudgeError
from nudge import insight as ins
from nudge.bounds import parameter_count
from nudge.inputs import desired_outputs
from nudge.network import ACTIVATIONS, COSTS, OUTPUTS
from nudge.train import train

COMBOS = list(itertools.product(ACTIVATIONS, OUTPUTS, COSTS))


def random_problem(sizes, n=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return X, y


def test_3b1b_network_has_13002_parameters():
    net = Network([784, 16, 16, 10])
    assert net.n_parameters == 13002
    assert [w.shape for w in net.weights] == [(16, 784), (16, 16), (10, 16)]
    assert [b.shape for b in net.biases] == [(16,), (16,), (10,)]
    assert all(w.dtype == np.float32 for w in net.weights)
    # the count a model file's metadata and the size bound are checked with, from sizes alone
    assert parameter_count([784, 16, 16, 10]) == 13002
    assert parameter_count([64, 5]) == Network([64, 5]).n_parameters == 325


def test_quadratic_cost_is_sum_of_squares_without_half_averaged_over_examples():
    net = Network([3, 2], seed=1, dtype=np.float64)
    X = np.array([[0.1, 0.2, 0.3], [0.9, 0.0, 0.5]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    a = 1 / (1 + np.exp(-(X @ net.weights[0].T + net.biases[0])))
    expected = np.mean(np.sum((a - Y) ** 2, axis=1))
    assert net.cost(X, Y) == pytest.approx(expected, rel=1e-12)
    # labels are one-hot encoded
    assert net.cost(X, np.array([0, 1])) == pytest.approx(expected, rel=1e-12)


def test_feedforward_single_example_and_batch_agree():
    net = Network([5, 4, 3], seed=2)
    X, _ = random_problem([5, 4, 3], n=4)
    batch = net.feedforward(X)
    assert batch.shape == (4, 3)
    np.testing.assert_allclose(net.feedforward(X[1]), batch[1], rtol=1e-6)


def test_uint8_pixels_are_read_as_intensity_over_255():
    net = Network([4, 3], seed=0)
    pixels = np.array([[0, 51, 255, 128]], dtype=np.uint8)
    np.testing.assert_allclose(net.feedforward(pixels), net.feedforward(pixels / 255.0),
                               rtol=1e-6)


def test_same_seed_same_initialisation_and_init_scales():
    a, b = Network([30, 20, 10], seed=5), Network([30, 20, 10], seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))
    big = Network([400, 300, 10], init="normal", seed=0)
    small = Network([400, 300, 10], init="scaled", seed=0)
    assert big.weights[0].std() == pytest.approx(1.0, rel=0.02)
    assert small.weights[0].std() == pytest.approx(1 / np.sqrt(400), rel=0.02)


def test_a_network_made_without_a_seed_records_the_one_it_drew():
    """Without a seed the run could not be repeated; the drawn seed is kept instead."""
    a, b = Network([6, 4, 3]), Network([6, 4, 3])
    assert isinstance(a.seed, int) and a.seed != b.seed
    again = Network([6, 4, 3], seed=a.seed)
    assert all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases,
                                                    again.weights + again.biases))
    X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    y = np.arange(20) % 3
    history = a.fit(X, y, epochs=2, batch_size=5, learning_rate=0.5)
    assert history.settings["seed"] == a.seed
    again.fit(X, y, epochs=2, batch_size=5, learning_rate=0.5)
    assert all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases,
                                                    again.weights + again.biases))


def _options(function, skip):
    return list(inspect.signature(function).parameters.values())[skip:]


def test_fit_spells_out_trains_options():
    """fit(**options) showed help() and editors nothing: its options are train's, one by one
    (names, keyword-only, defaults and annotations), so that neither can change alone."""
    fit, options = _options(Network.fit, 3), _options(train, 3)     # after self/net, X, y
    assert [p.name for p in fit] == [p.name for p in options]
    assert fit == options
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in fit)
    assert inspect.signature(Network.fit).return_annotation == "History"


def test_fit_passes_every_option_on_to_train():
    X = np.random.default_rng(0).random((30, 6)).astype(np.float32)
    y = np.arange(30) % 3
    held_out, seen = (X[:9], y[:9]), []
    options = dict(epochs=3, batch_size=4, learning_rate=0.3, schedule="cosine",
                   min_learning_rate=0.01, optimizer="momentum", momentum=0.5,
                   weight_decay=1e-3, test_data=held_out, validation_data=held_out,
                   patience=2, seed=5, every=2, control=None, progress=False,
                   monitor_train_cost=False, engine="reference", threads=1)
    a, b = Network([6, 5, 3], seed=1), Network([6, 5, 3], seed=1)
    with pytest.warns(ChanceWarning):          # random labels: nothing to learn
        ha = a.fit(X, y, callback=lambda r, net: seen.append(("epoch", r.epoch)),
                   on_steps=lambda p, net: seen.append(("steps", p.step)), **options)
    hb = train(b, X, y, **options)
    assert ha.settings == hb.settings and ha.settings["optimizer"] == "momentum"
    assert [r.validation_accuracy for r in ha.epochs] == [r.validation_accuracy
                                                          for r in hb.epochs]
    assert all(np.array_equal(p, q) for p, q in zip(a.weights + a.biases, b.weights + b.biases))
    assert ("epoch", 1) in seen and ("steps", 2) in seen


def _finite_difference_gradient(net, X, y, eps=1e-6):
    grads = []
    for param in net.weights + net.biases:
        g = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + eps
            up = net.cost(X, y)
            param[idx] = old - eps
            down = net.cost(X, y)
            param[idx] = old
            g[idx] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("activation,output,cost", COMBOS)
def test_backprop_matches_finite_differences(activation, output, cost):
    rng = np.random.default_rng(hash((activation, output, cost)) % 2**32)
    for trial in range(2):
        depth = rng.integers(1, 4)
        sizes = [int(rng.integers(2, 6)) for _ in range(depth + 1)] + [int(rng.integers(2, 5))]
        net = Network(sizes, activation, output, cost, seed=trial, dtype=np.float64)
        X, y = random_problem(sizes, n=5, seed=trial)
        if activation == "relu":            # keep away from the kink, where FD is undefined
            X = X + 0.05
        grad_w, grad_b = net.backprop(X, y)
        numeric = _finite_difference_gradient(net, X, y)
        analytic = np.concatenate([g.ravel() for g in grad_w + grad_b])
        numeric = np.concatenate([g.ravel() for g in numeric])
        rel = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(analytic + numeric), 1e-12)
        assert rel <= 1e-6, (sizes, rel)


@pytest.mark.parametrize("activation,output,cost", COMBOS)
def test_backprop_equals_pytorch_autograd(activation, output, cost):
    torch = pytest.importorskip("torch")
    sizes = [6, 5, 4, 3]
    net = Network(sizes, activation, output, cost, seed=3, dtype=np.float64)
    X, y = random_problem(sizes, n=9, seed=4)
    grad_w, grad_b = net.backprop(X, y)

    acts = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}
    Ws = [torch.tensor(w, requires_grad=True) for w in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    a = torch.tensor(X)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W.T + b
        if l < len(Ws) - 1:
            a = acts[activation](z)
        else:
            a = torch.sigmoid(z) if output == "sigmoid" else torch.softmax(z, dim=1)
    Y = torch.tensor(desired_outputs(y, sizes[-1], np.float64))
    if cost == "quadratic":
        C = ((a - Y) ** 2).sum(dim=1).mean()
    elif output == "sigmoid":
        C = torch.nn.functional.binary_cross_entropy_with_logits(z, Y, reduction="sum") / len(X)
    else:
        C = torch.nn.functional.cross_entropy(z, torch.tensor(y))
    assert float(C.detach()) == pytest.approx(net.cost(X, y), rel=1e-12)
    C.backward()
    for mine, theirs in zip(grad_w + grad_b, Ws + bs):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("activation,output,cost", COMBOS)
def test_backprop_with_desired_output_rows_is_the_gradient_of_the_cost(activation, output, cost):
    """Desired-output rows need not be one-hot nor sum to 1: the gradient is still that of
    the cost nudge reports (for softmax with cross-entropy δᴸ = a Σⱼyⱼ − y, not a − y)."""
    torch = pytest.importorskip("torch")
    import torch_reference as ref

    net = Network([5, 4, 3], activation, output, cost, seed=2, dtype=np.float64)
    X = np.random.default_rng(5).integers(0, 256, (6, 5), dtype=np.uint8)
    Y = np.random.default_rng(6).random((6, 3)) * 2         # rows summing to 0.2 ... 5
    theta = torch.tensor(ins.get_parameters(net), requires_grad=True)
    C = ref.costs_of(torch, net, theta, torch.tensor(X / 255.0), torch.tensor(Y)).mean()
    assert float(C.detach()) == pytest.approx(net.cost(X, Y), rel=1e-12)
    C.backward()
    np.testing.assert_allclose(ins.flatten(*net.backprop(X, Y)), theta.grad.numpy(),
                               rtol=0, atol=1e-12)


def test_update_mini_batch_steps_against_the_gradient():
    net = Network([4, 3, 2], seed=0, dtype=np.float64)
    X, y = random_problem([4, 3, 2])
    before = net.copy()
    grad_w, grad_b = net.backprop(X, y)
    net.update_mini_batch(X, y, 0.5)
    for new, old, g in zip(net.weights + net.biases, before.weights + before.biases,
                           grad_w + grad_b):
        np.testing.assert_allclose(new, old - 0.5 * g)
    assert net.cost(X, y) < before.cost(X, y)


def test_float64_copy_is_independent():
    net = Network([4, 3, 2], seed=0)
    net64 = net.astype(np.float64)
    assert net64.weights[0].dtype == np.float64
    net64.weights[0][0, 0] += 1
    assert net.weights[0][0, 0] != net64.weights[0][0, 0]


@pytest.mark.parametrize("kwargs,match", [
    ({"sizes": [784]}, "layer sizes"),
    ({"sizes": [784, 0, 10]}, "layer sizes"),
    ({"sizes": [4, 2], "activation": "softsign"}, "unknown activation"),
    ({"sizes": [4, 2], "output": "relu"}, "unknown output"),
    ({"sizes": [4, 2], "cost": "hinge"}, "unknown cost"),
    ({"sizes": [4, 2], "init": "zeros"}, "unknown init"),
    ({"sizes": [784, 10**9, 10]}, "at most 4,096"),                 # before allocating
    ({"sizes": [784, 4096, 4096, 4096, 10]}, "at most 25,000,000"),
    ({"sizes": [2] * 70}, "at most 64 layers"),
    ({"sizes": [784, 16.5, 10]}, "whole numbers"),
    ({"sizes": [784, "16", 10]}, "whole numbers"),
    ({"sizes": "784,16,10"}, "a list"),
    ({"sizes": [4, 2], "seed": -1}, "seed -1: give a whole number"),
    ({"sizes": [4, 2], "seed": 1.5}, "seed 1.5"),
    ({"sizes": [4, 2], "seed": "3"}, "seed '3'"),
    ({"sizes": [4, 2], "seed": True}, "seed True"),
    ({"sizes": [4, 2], "seed": 2**128}, "from 0 to 2\\*\\*128 - 1"),
])
def test_invalid_networks_are_refused_with_clear_messages(kwargs, match):
    with pytest.raises(NudgeError, match=match):
        Network(**kwargs)


def test_wrong_input_shape_and_labels_are_refused():
    net = Network([4, 3, 2])
    with pytest.raises(NudgeError, match="expects rows of 4"):
        net.feedforward(np.zeros((2, 5)))
    with pytest.raises(NudgeError, match="labels must be whole numbers from 0 to 1"):
        net.cost(np.zeros((2, 4)), np.array([0, 7]))


def test_inputs_shaped_as_one_example_or_as_images_get_the_reshape_that_fits():
    """One example where a batch is wanted, one 28x28 image, or images (n, 28, 28) as
    torchvision and Keras give MNIST: the error says how to make rows of 784 (it said
    "shape (784,) but ... rows of 784 values", which reads as a contradiction)."""
    from nudge import evaluate, train

    net, x = Network([784, 3, 10], seed=0), np.zeros(784, dtype=np.uint8)
    images, labels = np.zeros((6, 28, 28), dtype=np.uint8), np.zeros(6, dtype=int)
    one = r"shape \(784,\) .*rows of 784 values .*: for one example, give a batch of one, " \
          r"X\.reshape\(1, 784\)$"
    for call in (lambda: net.cost(x, [3]), lambda: net.backprop(x, [3]),
                 lambda: net.example_costs(x, [3]), lambda: net.deltas(x, [3])):
        with pytest.raises(NudgeError, match=one):
            call()
    with pytest.raises(NudgeError, match=r"shape \(28, 28\) .*X\.reshape\(1, 784\)$"):
        net.predict(x.reshape(28, 28))
    flatten = (r"shape \(6, 28, 28\) .*: flatten each example into a row, "
               r"X\.reshape\(len\(X\), 784\)$")
    for call in (lambda: net.predict(images), lambda: evaluate(net, images, labels),
                 lambda: train(net, images, labels, epochs=1, batch_size=2),
                 lambda: ins.full_gradient(net, images, labels)):
        with pytest.raises(NudgeError, match=flatten):
            call()
    with pytest.raises(NudgeError, match=r"got shape \(28, 28\): give x\.reshape\(784\)$"):
        ins.example_wishes(net, x.reshape(28, 28), 3)
    with pytest.raises(NudgeError, match=r"rows of 784 values \(one example per row\)$"):
        net.predict(np.zeros((2, 100)))          # no reshape makes rows of 784: no advice
    # one row of the wrong length is named as given (it said "shape (1, 783)", a shape
    # nobody passed: the row made a batch of one before it was looked at)
    for row in (np.zeros(783), [], np.zeros(1568, dtype=np.uint8)):
        for call in (net.predict, net.feedforward, lambda r: net.score(r, 3)):
            with pytest.raises(NudgeError, match=rf"^inputs have shape \({len(row)},\) but"):
                call(row)
    assert net.predict(x).shape == () and net.predict(images.reshape(6, -1)).shape == (6,)


def test_nonsense_inputs_and_desired_outputs_are_refused_not_read_as_numbers():
    """A NaN pixel, a pixel too large for float32 or a string is a one-line error wherever
    the network reads inputs (predict, cost, backprop), not a prediction of digit 0; a NaN
    in a desired-output row is one too, not a NaN cost."""
    net = Network([4, 3, 2], seed=0)
    for X, words in ((np.array([[np.nan, 0, 0, 0]]), "NaN or infinite"),
                     (np.array([[1e300, 0, 0, 0]]), "NaN or infinite"),
                     (np.array([["a", "b", "c", "d"]]), "must be numbers")):
        for read in (net.predict, lambda X: net.cost(X, [0]), lambda X: net.backprop(X, [0])):
            with pytest.raises(NudgeError, match=words):
                read(X)
    with pytest.raises(NudgeError, match="desired outputs must be finite"):
        net.cost(np.zeros((1, 4)), np.array([[np.nan, 1.0]]))
    assert net.predict(np.zeros((2, 4), dtype=np.uint8)).shape == (2,)


def test_training_refuses_pixels_too_large_for_float32():
    from nudge.train import train

    X = np.zeros((10, 4))
    X[3, 1] = 1e300
    with pytest.raises(NudgeError, match="too large for float32"):
        train(Network([4, 3, 2], seed=0), X, np.zeros(10, dtype=int), epochs=1)


def test_odd_constructor_arguments_and_label_counts_get_one_line():
    with pytest.raises(NudgeError, match="dtype 'bogus'"):
        Network([4, 2], dtype="bogus")
    with pytest.raises(NudgeError, match="give a list"):
        Network({4, 2})                       # a set has no order
    with pytest.raises(NudgeError, match="3 inputs but labels of shape"):
        Network([4, 2], seed=0).score(np.zeros((3, 4)), [0, 1])


def test_score_refuses_labels_no_output_can_match():
    """Labels 10, -1 or 0.5 never equal a prediction: the accuracy was 0.0, without a word."""
    net, X = Network([4, 2], seed=0), np.zeros((3, 4))
    for labels in ([0, 1, 2], [0, -1, 1], [0.5, 1, 0], ["a", "b", "c"]):
        with pytest.raises(NudgeError, match="labels must be whole numbers from 0 to 1"):
            net.score(X, labels)
    assert net.score(X, [0, 1, 1]) in (0.0, 1 / 3, 2 / 3, 1.0)


def test_score_takes_desired_output_rows_as_evaluate_does():
    """One-hot (or soft) rows: the class is the largest entry, as evaluate() and cost() take
    them (score refused them: '3 inputs but labels of shape (3, 2)')."""
    from nudge import evaluate

    net = Network([4, 3, 2], seed=0)
    X, labels = np.random.default_rng(1).random((30, 4)), np.arange(30) % 2
    rows = np.eye(2)[labels]
    assert net.score(X, rows) == net.score(X, labels) == evaluate(net, X, rows)[1]
    assert net.score(X, 0.8 * rows + 0.1) == net.score(X, labels)
    with pytest.raises(NudgeError, match="3 columns but the network has 2 outputs"):
        net.score(X, np.eye(3)[labels])


def test_score_and_cost_of_one_example_or_of_none():
    """No examples: one line, as evaluate gives (score and cost were NaN with numpy's
    "Mean of empty slice" warning); one example with its label alone or in a list: its
    accuracy (score(x, [3]) was a TypeError from len() of a 0-d prediction)."""
    import warnings

    net, x = Network([4, 3, 2], seed=0), np.array([0.1, 0.2, 0.3, 0.4])
    digit = int(net.predict(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for labels in ([], np.zeros(0, dtype=int)):     # [] is float64: it was an IndexError
            with pytest.raises(NudgeError, match="^cannot score on an empty data set$"):
                net.score(np.zeros((0, 4)), labels)
            with pytest.raises(NudgeError, match="^cannot compute the cost of an empty data"):
                net.cost(np.zeros((0, 4)), labels)
        for label in (digit, [digit], np.array([digit])):
            assert net.score(x, label) == 1.0
        assert net.score(x, 1 - digit) == 0.0
        assert net.score(x[None], [digit]) == 1.0
    with pytest.raises(NudgeError, match=r"^1 inputs but labels of shape \(2,\)$"):
        net.score(x, [0, 1])


def test_labels_read_as_floats_are_told_to_be_integers():
    """Labels 3.0 (np.loadtxt and pandas read a CSV's column as floats) were told they
    "must be whole numbers from 0 to 9", which they are; 0.5 and 10.0 still are."""
    from nudge import evaluate, train

    net, X = Network([4, 3, 10], seed=0), np.zeros((4, 4))
    floats = np.array([3.0, 0.0, 9.0, 1.0])
    fix = (r"^labels must be whole numbers from 0 to 9 as integers, not floats \(float64\): "
           r"give y\.astype\(int\)$")
    for call in (lambda: net.score(X, floats), lambda: net.cost(X, floats),
                 lambda: evaluate(net, X, floats), lambda: ins.full_gradient(net, X, floats),
                 lambda: train(net, X, floats, epochs=1, batch_size=2)):
        with pytest.raises(NudgeError, match=fix):
            call()
    for odd in ([3.0, 0.5, 9.0, 1.0], [3.0, 10.0, 9.0, 1.0], [3.0, np.nan, 1.0, 1.0]):
        with pytest.raises(NudgeError, match="^labels must be whole numbers from 0 to 9$"):
            net.score(X, odd)
    assert 0 <= net.score(X, floats.astype(int)) <= 1


def test_training_and_evaluating_what_is_no_data_set_gets_one_line():
    from nudge import evaluate, train

    net, X, y = Network([4, 2], seed=0), np.zeros((6, 4)), np.zeros(6, int)
    for inputs, labels, words in ((None, y, "inputs have shape"), ("abc", y, "inputs have shape"),
                                  ([[1, 2], [3]], [0, 1], "not ragged lists"),
                                  (X, None, "labels of shape"), (X, y[:2], "6 .*but 2 labels")):
        with pytest.raises(NudgeError, match=words):
            train(net, inputs, labels, epochs=1)
        with pytest.raises(NudgeError, match=words):
            evaluate(net, inputs, labels)
    with pytest.raises(NudgeError, match="not ragged lists"):
        net.forward([[1, 2, 3, 4], [1]])


def test_the_low_level_methods_refuse_what_they_cannot_use():
    """feedforward, restore and update_mini_batch: one line, not numpy's error (or, for a NaN
    learning rate, weights filled with NaN without a word)."""
    from nudge.insight import NoiseTracker

    net = Network([4, 2], seed=0)
    before = net.snapshot()
    with pytest.raises(NudgeError, match="not ragged lists"):
        net.feedforward([[1, 2, 3, 4], [1]])
    for other in (Network([4, 3, 2]).snapshot(), None, ([], [])):
        with pytest.raises(NudgeError, match="not a snapshot of this 4-2 network"):
            net.restore(other)
    for eta, words in (("x", "must be a number"), (float("nan"), "must be a finite number"),
                       (True, "must be a number"), (0, "must be a finite number")):
        with pytest.raises(NudgeError, match=f"learning rate {words}"):
            net.update_mini_batch(np.zeros((2, 4)), desired_outputs([0, 1], 2), eta)
    assert all((p == q).all() for p, q in zip(net.weights + net.biases, before[0] + before[1]))
    net.restore(before)
    # labels for another number of inputs: numpy's broadcast error in cost and example_costs
    for method in (net.cost, net.example_costs, net.backprop):
        with pytest.raises(NudgeError, match="6 inputs but 2 desired outputs"):
            method(np.zeros((6, 4)), [0, 1])
    # no examples: the average gradient was zeros, and a step took none without a word
    with pytest.raises(NudgeError, match="cannot average the gradient over an empty batch"):
        net.update_mini_batch(np.zeros((0, 4)), np.zeros(0, int), 0.1)
    with pytest.raises(NudgeError, match="a row of numbers and a label for each"):
        NoiseTracker(np.zeros((5, 4)), [0, 1])


def test_predictions_of_parameters_set_by_hand_are_checked_first():
    """predict, score and feedforward of weights set by hand that do not fit: one line, as
    evaluate and save give. NaN weights were read as digit 0 for every image (argmax of a
    NaN row), a layer left out read the hidden layer as the answer, and a transposed or
    float64 layer was numpy's error or went through."""
    X, y = np.random.default_rng(0).random((5, 4)), [0, 1, 2, 0, 1]
    for spoil, words in [
            (lambda n: n.weights[0].fill(np.nan), "layer 1's weights hold NaN or infinite"),
            (lambda n: n.biases[1].fill(np.inf), "layer 2's biases hold NaN or infinite"),
            (lambda n: n.weights.pop(), "has 2 layers of weights and biases, not 1 and 2"),
            (lambda n: n.weights.__setitem__(0, n.weights[0].T.copy()), "shape (5, 4)"),
            (lambda n: n.weights.__setitem__(0, n.weights[0].astype(np.float64)),
             "float64 in this float32 network")]:
        net = Network([4, 5, 3], seed=0)
        spoil(net)
        for method, args in (("predict", (X,)), ("predict", (X[0],)), ("score", (X, y)),
                             ("feedforward", (X,))):
            with pytest.raises(NudgeError, match=re.escape(words)):
                getattr(net, method)(*args)


def test_whole_number_pixels_of_any_type_are_intensities():
    """A list of ints (int64) or int16 pixels read as the same 0-255 intensities as uint8
    (they were fed in unscaled: 255 where a uint8 255 is 1.0); outside 0-255, one line."""
    from nudge import evaluate, train

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (30, 16)).astype(np.uint8)
    y = rng.integers(0, 3, 30)
    net = Network([16, 5, 3], seed=1)
    for other in (X.astype(np.int64), X.astype(np.int16), X.tolist()):
        np.testing.assert_array_equal(net.feedforward(other), net.feedforward(X))
        assert evaluate(net, other, y) == evaluate(net, X, y)
    for engine in ("reference", "auto"):             # auto: the C kernel where it is built
        a, b = Network([16, 5, 3], seed=1), Network([16, 5, 3], seed=1)
        for net_, pixels in ((a, X), (b, X.astype(np.int32))):
            train(net_, pixels, y, epochs=2, batch_size=4, engine=engine, seed=2,
                  monitor_train_cost=False)
        assert all((p == q).all() for p, q in zip(a.weights + a.biases, b.weights + b.biases))
    for bad in (X.astype(np.int64) + 1000, -X.astype(np.int16) - 1):
        with pytest.raises(NudgeError, match="whole-number pixels are intensities from 0 to 255"):
            net.feedforward(bad)
        with pytest.raises(NudgeError, match="whole-number pixels are intensities"):
            train(Network([16, 5, 3], seed=1), bad, y, epochs=1)


def test_float_pixels_from_0_to_255_are_refused_not_read_255_times_too_bright():
    """Floats are read as they are (intensities in [0, 1]): an image read as floats, whole
    numbers 0-255, was taken as it was (every pixel up to 255 times too bright, a wrong
    accuracy and a wrong network, silently); it is a one-line error everywhere inputs go.
    Floats on another scale (fractions, negative values) and whole-number floats in
    [0, 1] are taken as they are.  (X // 16: whole numbers 0-15, as scikit-learn's
    8x8 digits are 0-16.)"""
    from nudge import evaluate, insight, train

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (30, 16)).astype(np.uint8)
    y = rng.integers(0, 3, 30)
    net = Network([16, 5, 3], seed=1)
    for floats in (X.astype(np.float32), X.astype(np.float64).tolist(),
                   np.asfortranarray(X.astype(np.float16)), (X // 16).astype(float)):
        for call, args, kwargs in (
                (net.predict, (floats,), {}), (net.predict, (floats[0],), {}),
                (net.score, (floats, y), {}), (evaluate, (net, floats, y), {}),
                (train, (net.copy(), floats, y), {"epochs": 1}),
                (train, (net.copy(), X, y), {"epochs": 1, "test_data": (floats, y)}),
                (insight.sensitivity, (net, floats, y), {})):
            with pytest.raises(NudgeError, match=r"whole numbers from 0 to \d+ held as "
                               r"floats.*intensities in \[0, 1\].*X / 255"):
                call(*args, **kwargs)
    for fine in (X / 255, X / 255 * 3 - 1, (X > 128).astype(np.float32), X - 100.0):
        net.predict(fine)
        evaluate(net, fine, y)


def test_a_network_from_given_parameters(tmp_path, monkeypatch):
    """from_parameters: weights (n_out, n_in) and biases from elsewhere (another framework,
    a file) make the network they define, copied and checked; copies and model files are
    made that way too, without drawing random weights only to replace them."""
    import nudge

    source = Network([6, 4, 3], "tanh", "softmax", "cross-entropy", seed=9, dtype=np.float64)
    net = Network.from_parameters([W.tolist() for W in source.weights], source.biases,
                                  "tanh", "softmax", "cross-entropy", seed=9)
    assert net.sizes == [6, 4, 3] and net.dtype == np.float64 and net.seed == 9
    assert net.config == source.config
    X = np.random.default_rng(1).random((5, 6))
    assert np.array_equal(net.feedforward(X), source.feedforward(X))
    assert net.biases[0] is not source.biases[0]                   # copies
    assert Network.from_parameters(source.weights, source.biases).seed is None
    for weights, biases, words in [
            ([], [], "one weight matrix (n_out, n_in) and one bias vector"),
            (source.weights, source.biases[:1], "one weight matrix"),
            ([np.zeros(6)], [np.zeros(1)], "one weight matrix"),
            ([np.zeros((4, 6)), np.zeros((3, 5))], [np.zeros(4), np.zeros(3)],
             "layer 2's weights are shape (3, 5)"),
            ([np.full((4, 6), np.nan)], [np.zeros(4)], "hold NaN or infinite values"),
            ([np.zeros((4, 6), dtype=np.int64)], [np.zeros(4)], "float32 or float64")]:
        with pytest.raises(NudgeError, match=re.escape(words)):
            Network.from_parameters(weights, biases)
    nudge.save(source, tmp_path / "m.safetensors")

    def no_draws(*args, **kwargs):
        raise AssertionError("random numbers drawn for parameters that are given")

    monkeypatch.setattr(np.random, "default_rng", no_draws)
    loaded, copied = nudge.load(tmp_path / "m.safetensors"), source.astype(np.float32)
    assert loaded.seed == copied.seed == 9 and copied.dtype == np.float32
    assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, source.weights))


def test_the_confusion_matrix_counts_labels_against_answers():
    """One rule for nudge evaluate and the web page's mistakes view."""
    from nudge.inputs import confusion_matrix

    counts = confusion_matrix([0, 0, 1, 2, 2, 2], np.array([0, 1, 1, 2, 0, 2]), 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert counts.sum() == 6 and counts.dtype == np.int64
