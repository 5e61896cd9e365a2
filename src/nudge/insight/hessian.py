"""The Hessian times a vector, exactly: backpropagation differentiated (Pearlmutter's R-operator).

For a direction v in parameter space (laid out like θ, see :func:`get_parameters`), the
R-operator R{·} = d/dε (·)(θ + εv) at ε = 0 is applied to every line of the forward pass
and of backpropagation.  With V, c the parts of v that belong to the weights W and biases b
(layers from 1, as in :mod:`nudge.network`: Wˡ is ``net.weights[l-1]`` and a⁰ the inputs;
⊙ element-wise)::

    forward          zˡ = Wˡ aˡ⁻¹ + bˡ,        aˡ = σ(zˡ)
    R-forward      R zˡ = Wˡ R aˡ⁻¹ + Vˡ aˡ⁻¹ + cˡ,    R aˡ = σ'(zˡ) ⊙ R zˡ,   R a⁰ = 0
    backward         δˡ⁻¹ = (Wˡᵀ δˡ) ⊙ σ'(zˡ⁻¹)
    R-backward     R δˡ⁻¹ = (Wˡᵀ R δˡ + Vˡᵀ δˡ) ⊙ σ'(zˡ⁻¹) + (Wˡᵀ δˡ) ⊙ σ''(zˡ⁻¹) ⊙ R zˡ⁻¹
    gradient         ∂C/∂Wˡ = mean over x of δˡ aˡ⁻¹ᵀ,     ∂C/∂bˡ = mean of δˡ
    H v            R{∂C/∂Wˡ} = mean of (R δˡ aˡ⁻¹ᵀ + δˡ R aˡ⁻¹ᵀ),   R{∂C/∂bˡ} = mean of R δˡ

and R δᴸ at the output is the derivative of δᴸ(zᴸ) (see :func:`_output_r`).  The result is
H v, with H the Hessian of the average cost C (without weight decay), exact up to rounding:
no finite differences.  One product costs about two gradients; the forward pass and the δ's
do not depend on v and are kept (:class:`HessianOperator`), so repeated products (Lanczos,
power iteration, Hutchinson) cost only the R-passes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bounds import check_count, check_dtype
from ..checks import check_data
from ..errors import NudgeError
from ..inputs import as_inputs
from ..network import Network, activation_prime, check_network
from .common import CHUNK
from .parameters import flatten, unflatten

#: the largest network :func:`hessian_matrix` forms densely (n_parameters² values)
MAX_DENSE_PARAMETERS = 4000


def activation_second(kind: str, a: np.ndarray) -> np.ndarray:
    """σ''(z), written with a = σ(z): sigmoid σ'(1 − 2a), tanh −2a(1 − a²), ReLU 0."""
    if kind == "sigmoid":
        return a * (1 - a) * (1 - 2 * a)
    if kind == "tanh":
        return -2 * a * (1 - a * a)
    if kind == "relu":
        return np.zeros_like(a)
    raise ValueError(kind)


def _output_r(net: Network, a: np.ndarray, y: np.ndarray, Rz: np.ndarray) -> np.ndarray:
    """R δᴸ: the change of δᴸ = ∂Cₓ/∂zᴸ (:meth:`Network.output_error`) along R zᴸ."""
    if net.output == "sigmoid":
        Ra = a * (1 - a) * Rz
    else:                                   # softmax: R a = a ⊙ (R z − a·R z)
        Ra = a * (Rz - np.sum(a * Rz, axis=1, keepdims=True))
    if net.cost_function == "cross-entropy":
        # δ = a − y (sigmoid), a Σⱼyⱼ − y (softmax: a − y for a label)
        return Ra if net.output == "sigmoid" else Ra * y.sum(axis=1, keepdims=True)
    g, Rg = net.output_cost_gradient(a, y), 2 * Ra     # quadratic: g = ∂Cₓ/∂a = 2 (a − y)
    if net.output == "sigmoid":             # δ = g ⊙ a(1 − a)
        return Rg * a * (1 - a) + g * (1 - 2 * a) * Ra
    # δ = a ⊙ (g − g·a)
    ga = np.sum(g * a, axis=1, keepdims=True)
    R_ga = np.sum(Rg * a + g * Ra, axis=1, keepdims=True)
    return Ra * (g - ga) + a * (Rg - R_ga)


class _Chunk:
    """What one chunk of examples contributes that does not depend on v."""

    def __init__(self, net: Network, X: Any, y: Any) -> None:
        activations, zs, deltas = net.deltas(X, y)
        L = len(net.weights)
        self.a = activations                 # a⁰ (the inputs) ... aᴸ
        self.deltas = deltas                 # δ of each layer, per example (not / n)
        self.y = net.desired_outputs(y)
        self.prime = [activation_prime(net.activation, zs[l], activations[l + 1])
                      for l in range(L - 1)]
        # (Wˡᵀ δˡ) ⊙ σ''(zˡ⁻¹): the part of R δˡ⁻¹ that moves with R zˡ⁻¹
        self.second = [(deltas[l + 1] @ net.weights[l + 1])
                       * activation_second(net.activation, activations[l + 1])
                       for l in range(L - 1)]
        self.n = len(self.y)


class HessianOperator:
    """H, the Hessian of the average cost over ``X`` at the network's current parameters,
    as an operator: ``H @ v`` (or :meth:`matvec`) is the exact product by the R-operator.

    ``dtype`` is the precision of the products (default float64; float32 is 2.3-2.5x as
    fast: ``benchmarks/curvature_speed.py``); the sums over the chunks of ``chunk`` examples
    are accumulated in float64.  The forward pass is kept, so the operator holds the inputs
    in ``dtype`` (for 60,000 MNIST images: 188 MB in float32, 376 MB in float64).  It is
    bound to the parameters it was made at: make a new one after the network changes."""

    def __init__(self, net: Network, X: Any, y: Any, chunk: int = CHUNK,
                 dtype: Any = np.float64) -> None:
        X, y = check_data(net, X, y)
        n = len(X)
        if n == 0:
            raise NudgeError("there are no examples to take the Hessian over")
        chunk = check_count("chunk", chunk)
        self.net = net if net.dtype == check_dtype(dtype) else net.astype(dtype)
        self.dtype = self.net.dtype
        self.n = n
        self.n_parameters = net.n_parameters
        self.shape = (net.n_parameters, net.n_parameters)
        self.products = 0
        self.chunks = [_Chunk(self.net, as_inputs(X[s:s + chunk], self.dtype.type),
                              y[s:s + chunk]) for s in range(0, n, chunk)]

    def matvec(self, v: Any) -> np.ndarray:
        """H v for one vector laid out like θ (float64 result)."""
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (self.n_parameters,):
            v = v.reshape(-1)                  # SciPy passes (N, 1) columns
        Vw, Vb = unflatten(self.net, v.astype(self.dtype, copy=False))
        W = self.net.weights
        L = len(W)
        sum_w = [np.zeros(w.shape) for w in W]
        sum_b = [np.zeros(w.shape[0]) for w in W]
        for c in self.chunks:
            Rz: list[np.ndarray] = []
            Ra: list[np.ndarray | None] = [None]       # R a⁰ = 0
            for l in range(L):
                r = c.a[l] @ Vw[l].T + Vb[l]               # Vˡ aˡ⁻¹ + cˡ
                ra = Ra[l]
                if ra is not None:
                    r += ra @ W[l].T                       # + Wˡ R aˡ⁻¹
                Rz.append(r)
                if l < L - 1:
                    Ra.append(c.prime[l] * r)              # R aˡ = σ'(zˡ) ⊙ R zˡ
            Rd = _output_r(self.net, c.a[L], c.y, Rz[L - 1])
            for l in range(L - 1, -1, -1):
                sum_w[l] += (c.a[l].T @ Rd).T              # R δˡ aˡ⁻¹ᵀ
                ra = Ra[l]
                if ra is not None:
                    sum_w[l] += (ra.T @ c.deltas[l]).T     # δˡ R aˡ⁻¹ᵀ
                sum_b[l] += Rd.sum(axis=0, dtype=np.float64)
                if l > 0:
                    Rd = ((Rd @ W[l] + c.deltas[l] @ Vw[l]) * c.prime[l - 1]
                          + c.second[l - 1] * Rz[l - 1])
        self.products += 1
        return flatten([s / self.n for s in sum_w], [s / self.n for s in sum_b])

    def __matmul__(self, v: Any) -> np.ndarray:
        v = np.asarray(v)
        if v.ndim == 2:
            return np.stack([self.matvec(col) for col in v.T], axis=1)
        return self.matvec(v)

    def linear_operator(self) -> Any:
        """This operator as a :class:`scipy.sparse.linalg.LinearOperator` (symmetric)."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.matvec,
                              dtype=np.float64)


def hessian_vector_product(net: Network, X: Any, y: Any, v: Any, chunk: int = CHUNK,
                           dtype: Any = np.float64) -> np.ndarray:
    """H v: the Hessian of the average cost C over the examples (rows of ``X``; no weight
    decay) times ``v``, both laid out like :func:`get_parameters`; exact, by the R-operator
    (see the module docstring).  For many products make one :class:`HessianOperator`."""
    check_network(net)
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (net.n_parameters,):
        raise NudgeError(f"v needs {net.n_parameters} values laid out like the parameters, "
                         f"got shape {v.shape}")
    return HessianOperator(net, X, y, chunk, dtype).matvec(v)


def hessian_matrix(net: Network, X: Any, y: Any, dtype: Any = np.float64) -> np.ndarray:
    """The whole Hessian as a dense matrix, one R-operator product per parameter (small
    networks only: at most :data:`MAX_DENSE_PARAMETERS` parameters)."""
    if check_network(net).n_parameters > MAX_DENSE_PARAMETERS:
        raise NudgeError(f"a dense Hessian of {net.n_parameters:,} parameters is too big; "
                         f"use at most {MAX_DENSE_PARAMETERS:,}, or HessianOperator")
    H = HessianOperator(net, X, y, dtype=dtype)
    eye = np.eye(net.n_parameters)
    M = np.stack([H.matvec(e) for e in eye], axis=1)
    return (M + M.T) / 2
