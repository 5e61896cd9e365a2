"""The compiled SGD kernel behind :mod:`nudge.fast` (imported only when it is used).

Layout of ``params`` (float32, one flat array): for each layer l, Wˡᵀ as an
(n_in, n_out) row-major block at ``wo[l]`` (row i = the weights *from* input
neuron i) and bˡ at ``bo[l]``.  ``grads`` has the same layout.  ``acts`` and
``deltas`` hold aˡ and δˡ of the current example for l = 1..L (layer l at
``a_off[l-1]``).  Codes: hidden 0 sigmoid, 1 relu, 2 tanh; output 0 sigmoid,
1 softmax; cost 0 quadratic (Σ (a − y)², no ½), 1 cross-entropy.

No fastmath: every operation is the float32 operation of ``nudge.network``;
only the order of the sums differs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_ZERO = np.float32(0.0)


@njit(cache=True, nogil=True)
def _step(p, g, eta):
    """p ← p − η g; g ← 0."""
    for j in range(p.shape[0]):
        p[j] -= eta * g[j]
        g[j] = _ZERO


@njit(cache=True, nogil=True)
def _activate(kind, a):
    """a = σ(z) in place (kind: 0 sigmoid, 1 relu, 2 tanh, 3 softmax)."""
    lo, hi = 0, a.shape[0]
    if kind == 0:
        for j in range(lo, hi):
            a[j] = _ONE / (_ONE + np.exp(-a[j]))
    elif kind == 1:
        for j in range(lo, hi):
            if a[j] < _ZERO:
                a[j] = _ZERO
    elif kind == 2:
        for j in range(lo, hi):
            a[j] = np.tanh(a[j])
    else:
        zmax = a[lo]
        for j in range(lo + 1, hi):
            if a[j] > zmax:
                zmax = a[j]
        total = _ZERO
        for j in range(lo, hi):
            a[j] = np.exp(a[j] - zmax)
            total += a[j]
        for j in range(lo, hi):
            a[j] = a[j] / total


@njit(cache=True, nogil=True)
def _derivative(kind, a):
    """σ'(z) from a = σ(z)."""
    if kind == 0:
        return a * (_ONE - a)
    if kind == 1:
        return _ONE if a > _ZERO else _ZERO
    return _ONE - a * a


@njit(cache=True, nogil=True)
def count_nonzero(X):
    """The number of non-zero entries of X (np.count_nonzero makes a boolean copy)."""
    k = 0
    for r in range(X.shape[0]):
        x = X[r]
        for p in range(x.shape[0]):
            k += x[p] != 0
    return k


@njit(cache=True, nogil=True)
def sparse_rows(X, indptr, idx, val):
    """The non-zero entries of each row of X (CSR: row r is idx/val[indptr[r]:indptr[r+1]])."""
    k = 0
    indptr[0] = 0
    for r in range(X.shape[0]):
        x = X[r]
        for p in range(x.shape[0]):
            if x[p] != 0:
                idx[k] = p
                val[k] = x[p]
                k += 1
        indptr[r + 1] = k
    return k


@njit(cache=True, nogil=True)
def sgd_steps(indptr, idx, val, scale, classes, rows, order, first, last, batch_size, eta,
              W0, G0, params, grads, sizes, wo, bo, hidden, output, cost,
              acts, a_off, deltas, nz_val, touched, touched_list):
    """SGD steps on the examples order[first:last], batch_size at a time (the last
    batch of the epoch may be smaller).  Updates params (and W0, its first layer's
    Wᵀ as an (n_in, n_out) view) in place.  Row r's inputs are the non-zero
    values val[indptr[r]:indptr[r+1]] (times scale) at positions idx[...]."""
    L = sizes.shape[0] - 1
    n1 = sizes[1]
    n_out = sizes[L]
    n = order.shape[0]
    one_hot = rows.shape[0] == 0
    out_kind = 0 if output == 0 else 3
    a1 = acts[0:n1]
    d1 = deltas[0:n1]
    z2 = np.zeros(n1, dtype=np.float32)
    b1 = params[bo[0]:bo[0] + n1]
    gb1 = grads[bo[0]:bo[0] + n1]
    for start in range(first, last, batch_size):
        end = min(start + batch_size, n)
        m = np.float32(end - start)
        n_touched = 0
        for k in range(start, end):
            r = order[k]
            lo = indptr[r]
            nnz = indptr[r + 1] - lo
            pix = idx[lo:lo + nnz]
            for t in range(nnz):
                nz_val[t] = np.float32(val[lo + t]) * scale
            # ---- forward: z¹ = W¹a⁰ + b¹ over the non-zero pixels only
            for j in range(n1):                    # two running sums (even and odd
                a1[j] = _ZERO                      # pixels) halve the dependency chain
                z2[j] = _ZERO
            for t in range(0, nnz - 1, 2):
                p = pix[t]
                q = pix[t + 1]
                v = nz_val[t]
                u = nz_val[t + 1]
                for j in range(n1):
                    a1[j] += W0[p, j] * v
                    z2[j] += W0[q, j] * u
            if nnz % 2:
                p = pix[nnz - 1]
                v = nz_val[nnz - 1]
                for j in range(n1):
                    a1[j] += W0[p, j] * v
            for j in range(n1):
                a1[j] = (a1[j] + z2[j]) + b1[j]
            _activate(out_kind if L == 1 else hidden, a1)
            for l in range(1, L):
                n_in = sizes[l]
                n_o = sizes[l + 1]
                a_in = acts[a_off[l - 1]:a_off[l - 1] + n_in]
                a_o = acts[a_off[l]:a_off[l] + n_o]
                b = params[bo[l]:bo[l] + n_o]
                W = params[wo[l]:wo[l] + n_in * n_o]
                for j in range(n_o):
                    a_o[j] = b[j]
                for i in range(n_in):
                    v = a_in[i]
                    w = W[i * n_o:(i + 1) * n_o]
                    for j in range(n_o):
                        a_o[j] += w[j] * v
                _activate(out_kind if l == L - 1 else hidden, a_o)
            # ---- δᴸ of the batch's average cost, as Network.output_error / m
            a_o = acts[a_off[L - 1]:a_off[L - 1] + n_out]
            d_o = deltas[a_off[L - 1]:a_off[L - 1] + n_out]
            if output == 1 and cost == 0:          # softmax with quadratic cost
                s = _ZERO
                for j in range(n_out):
                    y = (_ONE if classes[r] == j else _ZERO) if one_hot else rows[r, j]
                    d_o[j] = _TWO * (a_o[j] - y)
                    s += d_o[j] * a_o[j]
                for j in range(n_out):
                    d_o[j] = a_o[j] * (d_o[j] - s) / m
            else:
                for j in range(n_out):
                    a = a_o[j]
                    y = (_ONE if classes[r] == j else _ZERO) if one_hot else rows[r, j]
                    if cost == 1:
                        d = a - y
                    else:
                        d = _TWO * (a - y) * a * (_ONE - a)
                    d_o[j] = d / m
            # ---- backward: accumulate ∂C/∂b, ∂C/∂W, propagate δ down
            for l in range(L - 1, 0, -1):
                n_in = sizes[l]
                n_o = sizes[l + 1]
                a_in = acts[a_off[l - 1]:a_off[l - 1] + n_in]
                d_in = deltas[a_off[l - 1]:a_off[l - 1] + n_in]
                d_o = deltas[a_off[l]:a_off[l] + n_o]
                gb = grads[bo[l]:bo[l] + n_o]
                W = params[wo[l]:wo[l] + n_in * n_o]
                G = grads[wo[l]:wo[l] + n_in * n_o]
                for j in range(n_o):
                    gb[j] += d_o[j]
                for i in range(n_in):
                    w = W[i * n_o:(i + 1) * n_o]
                    g = G[i * n_o:(i + 1) * n_o]
                    a = a_in[i]
                    s = _ZERO
                    for j in range(n_o):
                        s += w[j] * d_o[j]
                    for j in range(n_o):
                        g[j] += a * d_o[j]
                    d_in[i] = s * _derivative(hidden, a)
            for j in range(n1):
                gb1[j] += d1[j]
            for t in range(nnz):
                p = pix[t]
                v = nz_val[t]
                for j in range(n1):
                    G0[p, j] += v * d1[j]
                touched_list[n_touched] = p          # remember each row once
                n_touched += 1 - touched[p]
                touched[p] = 1
        # ---- the step: θ ← θ − η ∂C/∂θ, and the gradient back to 0
        for l in range(L):
            _step(params[bo[l]:bo[l] + sizes[l + 1]], grads[bo[l]:bo[l] + sizes[l + 1]], eta)
        for l in range(1, L):
            size = sizes[l] * sizes[l + 1]
            _step(params[wo[l]:wo[l] + size], grads[wo[l]:wo[l] + size], eta)
        for t in range(n_touched):
            p = touched_list[t]
            touched[p] = 0
            _step(W0[p], G0[p], eta)
