"""The cost of a nudge network written again in PyTorch (float64), as a function of the flat
parameter vector θ laid out like ``nudge.insight.get_parameters``: an independent reference
for gradients, per-example gradients and Hessians (autograd, not nudge's backpropagation)."""

from __future__ import annotations

import numpy as np

from nudge.inputs import desired_outputs
from nudge.network import Network

ARCHS = [
    dict(sizes=[6, 5, 4, 3]),
    dict(sizes=[6, 5, 3], activation="relu", output="softmax", cost="cross-entropy"),
    dict(sizes=[6, 4, 4, 3], activation="tanh", output="sigmoid", cost="cross-entropy"),
    dict(sizes=[6, 5, 3], activation="tanh", output="softmax", cost="quadratic"),
]


def data(n: int, n_in: int, n_out: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, n_in), dtype=np.uint8), rng.integers(0, n_out, n)


def example_costs(torch, net: Network, theta, X: np.ndarray, y: np.ndarray):
    """Cₓ for each row of X (uint8 pixels) with labels y, at parameters θ (a float64 tensor)."""
    A = torch.as_tensor(np.atleast_2d(X), dtype=torch.float64) / 255.0
    Y = torch.as_tensor(desired_outputs(np.atleast_1d(y), net.sizes[-1], np.float64))
    return costs_of(torch, net, theta, A, Y)


def costs_of(torch, net: Network, theta, A, Y):
    """Cₓ of each row of the input activations A (floats) with desired outputs Y (rows), all
    tensors: a pure function of its arguments, as ``torch.func.vmap`` needs."""
    a, at, L, z = A, 0, len(net.weights), None
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        Wt = theta[at:at + W.size].reshape(W.shape)
        at += W.size
        bt = theta[at:at + b.size]
        at += b.size
        z = a @ Wt.T + bt
        if l == L - 1:
            a = torch.sigmoid(z) if net.output == "sigmoid" else torch.softmax(z, dim=-1)
        else:
            a = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}[
                net.activation](z)
    if net.cost_function == "quadratic":
        return ((a - Y) ** 2).sum(dim=-1)
    if net.output == "sigmoid":
        return (torch.nn.functional.softplus(z) - Y * z).sum(dim=-1)
    return -(Y * torch.log_softmax(z, dim=-1)).sum(dim=-1)


def cost(torch, net: Network, theta, X: np.ndarray, y: np.ndarray):
    """C = the mean of Cₓ."""
    return example_costs(torch, net, theta, X, y).mean()
