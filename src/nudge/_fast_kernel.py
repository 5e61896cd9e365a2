"""The compiled SGD kernel behind :mod:`nudge.fast` (imported only when it is used).

Layout of ``params`` (float32, one flat array): for each layer l, Wˡᵀ as an
(n_in, n_out) row-major block at ``wo[l]`` (row i = the weights *from* input
neuron i) and bˡ at ``bo[l]``.  The kernel's gradient buffer for layers 2..L has
the same layout; aˡ and δˡ of each example of a mini-batch are kept as rows of
two small (batch, n₁+…+n_L) buffers.  Codes: hidden 0 sigmoid, 1 relu, 2 tanh; output 0 sigmoid,
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
def _decay(p, decay):
    """p ← (1 − ηλ) p: the weight-decay part of θ ← θ − η (g + λθ)."""
    for j in range(p.shape[0]):
        p[j] *= decay


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
def gather_rows(indptr, idx, val, scale, order, first, last):
    """The rows order[first:last] copied next to each other, as (ptr, pixel index,
    float32 intensity): a chunk's inputs then stream from a few MB in cache instead of
    being fetched row by row from all over the data set."""
    total = 0
    for k in range(first, last):
        r = order[k]
        total += indptr[r + 1] - indptr[r]
    ptr = np.empty(last - first + 1, dtype=np.int64)
    pix = np.empty(total, dtype=np.int32)
    x = np.empty(total, dtype=np.float32)
    t = 0
    ptr[0] = 0
    for k in range(first, last):
        r = order[k]
        for s in range(indptr[r], indptr[r + 1]):
            pix[t] = idx[s]
            x[t] = np.float32(val[s]) * scale
            t += 1
        ptr[k - first + 1] = t
    return ptr, pix, x


@njit(cache=True, nogil=True)
def sgd_steps(indptr, idx, val, scale, classes, rows, order, first, last, batch_size, eta,
              decay, W0, params, sizes, wo, bo, hidden, output, cost):
    """SGD steps on the examples order[first:last], batch_size at a time (the last
    batch of the epoch may be smaller).  Updates params (and W0, its first layer's
    Wᵀ as an (n_in, n_out) view) in place.  Row r's inputs are the non-zero
    values val[indptr[r]:indptr[r+1]] (times scale) at positions idx[...].

    A mini-batch at a time: forward and backward for each of its examples with
    the weights as they were before the step (keeping each example's aˡ and δˡ),
    then the step.  The first layer's step goes straight into the rows of W¹ᵀ of
    the pixels each example lit, −η x_p δ¹ per example: no gradient buffer.
    ``decay`` = 1 − ηλ scales every weight (not the biases) at each step (L2
    weight decay λ); 1 means none."""
    L = sizes.shape[0] - 1
    n1 = sizes[1]
    n_out = sizes[L]
    n = order.shape[0]
    one_hot = rows.shape[0] == 0
    out_kind = 0 if output == 0 else 3
    off = np.zeros(L + 1, dtype=np.int64)          # layer l+1's aˡ⁺¹, δˡ⁺¹ at off[l]
    for l in range(L):
        off[l + 1] = off[l] + sizes[l + 1]
    A = np.zeros((batch_size, off[L]), dtype=np.float32)
    D = np.zeros((batch_size, off[L]), dtype=np.float32)
    grads = np.zeros(params.shape[0], dtype=np.float32)   # layers 2..L only
    z2 = np.zeros(n1, dtype=np.float32)
    b1 = params[bo[0]:bo[0] + n1]
    ptr, pix, xs = gather_rows(indptr, idx, val, scale, order, first, last)
    for start in range(first, last, batch_size):
        end = min(start + batch_size, n)
        m = np.float32(end - start)
        for k in range(start, end):
            i = k - start
            r = order[k]
            lo = ptr[k - first]
            hi = ptr[k - first + 1]
            a1 = A[i, 0:n1]
            # ---- forward: z¹ = W¹a⁰ + b¹ over the non-zero pixels only, in two
            # running sums (even and odd pixels) to halve the dependency chain
            for j in range(n1):
                a1[j] = _ZERO
                z2[j] = _ZERO
            for t in range(lo, hi - 1, 2):
                p = pix[t]
                q = pix[t + 1]
                v = xs[t]
                u = xs[t + 1]
                for j in range(n1):
                    a1[j] += W0[p, j] * v
                    z2[j] += W0[q, j] * u
            if (hi - lo) % 2:
                p = pix[hi - 1]
                v = xs[hi - 1]
                for j in range(n1):
                    a1[j] += W0[p, j] * v
            for j in range(n1):
                a1[j] = (a1[j] + z2[j]) + b1[j]
            _activate(out_kind if L == 1 else hidden, a1)
            for l in range(1, L):
                n_in = sizes[l]
                n_o = sizes[l + 1]
                a_in = A[i, off[l - 1]:off[l]]
                a_o = A[i, off[l]:off[l + 1]]
                b = params[bo[l]:bo[l] + n_o]
                W = params[wo[l]:wo[l] + n_in * n_o]
                for j in range(n_o):
                    a_o[j] = b[j]
                for c in range(n_in):
                    v = a_in[c]
                    base = c * n_o
                    for j in range(n_o):
                        a_o[j] += W[base + j] * v
                _activate(out_kind if l == L - 1 else hidden, a_o)
            # ---- δᴸ of the batch's average cost, as Network.output_error / m
            a_o = A[i, off[L - 1]:off[L]]
            d_o = D[i, off[L - 1]:off[L]]
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
            # ---- backward: accumulate ∂C/∂b, ∂C/∂W of layers 2..L, propagate δ down
            for l in range(L - 1, 0, -1):
                n_in = sizes[l]
                n_o = sizes[l + 1]
                a_in = A[i, off[l - 1]:off[l]]
                d_in = D[i, off[l - 1]:off[l]]
                d_o = D[i, off[l]:off[l + 1]]
                gb = grads[bo[l]:bo[l] + n_o]
                W = params[wo[l]:wo[l] + n_in * n_o]
                G = grads[wo[l]:wo[l] + n_in * n_o]
                for j in range(n_o):
                    gb[j] += d_o[j]
                for c in range(n_in):
                    base = c * n_o
                    a = a_in[c]
                    s = _ZERO
                    for j in range(n_o):
                        s += W[base + j] * d_o[j]
                    for j in range(n_o):
                        G[base + j] += a * d_o[j]
                    d_in[c] = s * _derivative(hidden, a)
        # ---- the step: θ ← θ − η ∂C/∂θ.  Layer 1: every example's −η x_p δ¹ straight
        # into the rows of the pixels it lit (all forwards above used the old weights)
        if decay != _ONE:
            for l in range(L):
                _decay(params[wo[l]:wo[l] + sizes[l] * sizes[l + 1]], decay)
        for l in range(1, L):
            size = sizes[l] * sizes[l + 1]
            _step(params[wo[l]:wo[l] + size], grads[wo[l]:wo[l] + size], eta)
            _step(params[bo[l]:bo[l] + sizes[l + 1]], grads[bo[l]:bo[l] + sizes[l + 1]], eta)
        for k in range(start, end):
            i = k - start
            d1 = D[i, 0:n1]
            for j in range(n1):
                z2[j] = eta * d1[j]
                b1[j] -= z2[j]
            for t in range(ptr[k - first], ptr[k - first + 1]):
                p = pix[t]
                v = xs[t]
                for j in range(n1):
                    W0[p, j] -= v * z2[j]
