"""The compiled SGD kernel behind :mod:`nudge.fast` (imported only when it is used).

Layout of ``params`` (float32, one flat array): for each layer l, Wˡᵀ as an
(n_in, n_out) row-major block at ``wo[l]`` (row i = the weights *from* input
neuron i) and bˡ at ``bo[l]``.  The kernel's gradient buffer for layers 2..L has
the same layout; aˡ and δˡ of each example of a mini-batch are kept as rows of
two small (batch, n₁+…+n_L) buffers.  Codes: hidden 0 sigmoid, 1 relu, 2 tanh; output 0 sigmoid,
1 softmax; cost 0 quadratic (Σ (a − y)², no ½), 1 cross-entropy.

No fastmath: every operation is the float32 operation of ``nudge.network``,
except that the vector code fuses the first layer's multiply-adds (FMA, one
rounding instead of two) and computes the sigmoid with its own vector exp
(within a few ulp of libm's); the order of the sums differs too.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core.errors import NumbaError

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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _activate(kind, A, i, lo, hi):
    """a = σ(z) in place on A[i, lo:hi] (kind: 0 sigmoid, 1 relu, 2 tanh, 3 softmax)."""
    if kind == 0:
        for j in range(lo, hi):
            A[i, j] = _ONE / (_ONE + np.exp(-A[i, j]))
    elif kind == 1:
        for j in range(lo, hi):
            if A[i, j] < _ZERO:
                A[i, j] = _ZERO
    elif kind == 2:
        for j in range(lo, hi):
            A[i, j] = np.tanh(A[i, j])
    else:
        zmax = A[i, lo]
        for j in range(lo + 1, hi):
            if A[i, j] > zmax:
                zmax = A[i, j]
        total = _ZERO
        for j in range(lo, hi):
            A[i, j] = np.exp(A[i, j] - zmax)
            total += A[i, j]
        for j in range(lo, hi):
            A[i, j] = A[i, j] / total


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
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


# --------------------------------------------------------------------------- 16-float vectors
# LLVM keeps the first layer's 16-wide row operations scalar (the accumulators
# live in memory because they may alias the weights), so the hot loops use
# explicit <16 x float> vectors: a few Numba intrinsics that emit LLVM vector IR.
# Lanes past ``n`` are masked off (not read, not written), so any width works:
# full blocks of 16, then one partial block.  Every lane does the float32
# operations of the scalar code in the same order, except that the first layer's
# multiply-adds are fused (FMA) and the sigmoid's exp is a vector polynomial, so the
# results agree with the scalar loops to float32 rounding, not bit for bit
# (checked in tests/test_fast.py).  Where they cannot be compiled, run_sgd_steps
# falls back to the scalar loops.
_V = 16


def _define_vectors():
    """The vector type and intrinsics (a tuple of them), or an exception."""
    from llvmlite import binding as llvm
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic, models, register_model

    f32 = ir.FloatType()
    vty = ir.VectorType(f32, _V)
    i32 = ir.IntType(32)
    i64 = ir.IntType(64)
    mty = ir.VectorType(ir.IntType(1), _V)
    ptr = "p0" if llvm.llvm_version_info[0] >= 15 else f"p0v{_V}f32"   # opaque pointers

    class F32x16(types.Type):
        def __init__(self) -> None:
            super().__init__(name="nudge_f32x16")

    vec = F32x16()

    @register_model(F32x16)
    class _Model(models.PrimitiveModel):
        def __init__(self, dmm, fe_type):
            super().__init__(dmm, fe_type, vty)

    def is_f32_array(a):
        return isinstance(a, types.Array) and a.dtype == types.float32 and a.layout == "C"

    def address(context, builder, arrty, arr, off):
        data = context.make_array(arrty)(context, builder, arr).data
        return builder.bitcast(builder.gep(data, [off]), vty.as_pointer())

    def mask(builder, n):                       # lanes 0..n-1
        lanes = ir.Constant(ir.VectorType(i64, _V), list(range(_V)))
        nn = builder.insert_element(ir.Constant(ir.VectorType(i64, _V), None), n,
                                    ir.Constant(i32, 0))
        nn = builder.shuffle_vector(nn, nn, ir.Constant(ir.VectorType(i32, _V), [0] * _V))
        return builder.icmp_signed("<", lanes, nn)

    def splat(builder, s):
        v = builder.insert_element(ir.Constant(vty, None), s, ir.Constant(i32, 0))
        return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, _V), [0] * _V))

    def load(context, builder, arrty, arr, off, n):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty.as_pointer(), i32, mty, vty]),
            f"llvm.masked.load.v{_V}f32.{ptr}")
        return builder.call(fn, [address(context, builder, arrty, arr, off), ir.Constant(i32, 4),
                                 mask(builder, n), ir.Constant(vty, [0.0] * _V)])

    def store(context, builder, arrty, arr, off, n, v):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [vty, vty.as_pointer(), i32, mty]),
            f"llvm.masked.store.v{_V}f32.{ptr}")
        builder.call(fn, [v, address(context, builder, arrty, arr, off), ir.Constant(i32, 4),
                          mask(builder, n)])

    @intrinsic
    def vzero(typingctx):
        """A vector of zeros."""
        def codegen(context, builder, sig, args):
            return ir.Constant(vty, [0.0] * _V)
        return vec(), codegen

    @intrinsic
    def vload(typingctx, arr, off, n):
        """arr.flat[off:off+n] (n ≤ 16; the other lanes 0)."""
        if not is_f32_array(arr):
            return None

        def codegen(context, builder, sig, args):
            return load(context, builder, sig.args[0], *args)
        return vec(arr, types.intp, types.intp), codegen

    @intrinsic
    def vstore(typingctx, arr, off, n, v):
        """arr.flat[off:off+n] = v[:n]."""
        if not is_f32_array(arr) or v != vec:
            return None

        def codegen(context, builder, sig, args):
            store(context, builder, sig.args[0], *args)
            return context.get_dummy_value()
        return types.none(arr, types.intp, types.intp, vec), codegen

    @intrinsic
    def vadd(typingctx, a, b):
        """a + b."""
        if a != vec or b != vec:
            return None

        def codegen(context, builder, sig, args):
            return builder.fadd(*args)
        return vec(vec, vec), codegen

    @intrinsic
    def vsub(typingctx, a, b):
        """a − b."""
        if a != vec or b != vec:
            return None

        def codegen(context, builder, sig, args):
            return builder.fsub(*args)
        return vec(vec, vec), codegen

    @intrinsic
    def vmul(typingctx, a, b):
        """a * b, b a vector or a float32 (then every lane times b)."""
        if a != vec or b not in (vec, types.float32):
            return None

        def codegen(context, builder, sig, args):
            x, y = args
            return builder.fmul(x, y if sig.args[1] == vec else splat(builder, y))
        return vec(vec, b), codegen

    @intrinsic
    def vfma(typingctx, a, b, c):
        """a * b + c rounded once (fused), b a vector or a float32."""
        if a != vec or b not in (vec, types.float32) or c != vec:
            return None

        def codegen(context, builder, sig, args):
            x, y, z = args
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty, vty, vty]), f"llvm.fma.v{_V}f32")
            return builder.call(fn, [x, y if sig.args[1] == vec else splat(builder, y), z])
        return vec(vec, b, vec), codegen

    @intrinsic
    def prefetch(typingctx, arr, off):
        """Ask for the cache line holding arr.flat[off] (a hint: no effect on results)."""
        if not isinstance(arr, types.Array) or arr.layout != "C":
            return None

        def codegen(context, builder, sig, args):
            a, o = args
            data = context.make_array(sig.args[0])(context, builder, a).data
            i8p = ir.IntType(8).as_pointer()
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                f"llvm.prefetch.{'p0' if ptr == 'p0' else 'p0i8'}")
            builder.call(fn, [builder.bitcast(builder.gep(data, [o]), i8p), ir.Constant(i32, 0),
                              ir.Constant(i32, 3), ir.Constant(i32, 1)])
            return context.get_dummy_value()
        return types.none(arr, types.intp), codegen

    @intrinsic
    def vsigmoid(typingctx, a):
        """1 / (1 + exp(−a)) lane by lane, exp as Cephes' expf (range reduction by
        ln 2, a degree-5 polynomial, 2ⁿ through the exponent bits): within a few
        ulp of libm's expf, 16 lanes at once instead of 16 calls."""
        if a != vec:
            return None

        def codegen(context, builder, sig, args):
            def c(x):
                return ir.Constant(vty, [x] * _V)
            x = builder.fsub(c(0.0), args[0])                       # −a
            lo = builder.fcmp_ordered("<", x, c(-87.3))
            x = builder.select(lo, c(-87.3), x)
            hi = builder.fcmp_ordered(">", x, c(88.3))
            x = builder.select(hi, c(88.3), x)
            rint = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vty, [vty]), f"llvm.rint.v{_V}f32")
            n = builder.call(rint, [builder.fmul(x, c(1.44269504088896341))])
            r = builder.fsub(x, builder.fmul(n, c(0.693359375)))
            r = builder.fsub(r, builder.fmul(n, c(-2.12194440e-4)))
            p = c(1.9875691500e-4)
            for k in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
                      5.0000001201e-1):
                p = builder.fadd(builder.fmul(p, r), c(k))
            e = builder.fadd(builder.fadd(builder.fmul(p, builder.fmul(r, r)), r), c(1.0))
            ni = builder.fptosi(n, ir.VectorType(i32, _V))
            ni = builder.shl(builder.add(ni, ir.Constant(ni.type, [127] * _V)),
                             ir.Constant(ni.type, [23] * _V))
            e = builder.fmul(e, builder.bitcast(ni, vty))
            return builder.fdiv(c(1.0), builder.fadd(c(1.0), e))
        return vec(vec), codegen

    return vzero, vload, vstore, vadd, vsub, vmul, vfma, prefetch, vsigmoid


try:
    (_vzero, _vload, _vstore, _vadd, _vsub, _vmul, _vfma, _prefetch,
     _vsigmoid) = _define_vectors()
    _vectors_defined = True
except Exception:  # an llvmlite/Numba without what they need: the scalar loops
    _vectors_defined = False


# --------------------------------------------------------------------------- layer helpers
# Each comes twice, with vectors (*_simd) and as plain loops (*_scalar).  W0 is
# the first layer's Wᵀ (n_in, n1), params the flat parameters (weights at w_at,
# biases at b_at), A and D the (batch, n₁+…+n_L) buffers of aˡ and δˡ, example i.

@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _first_forward_simd(W0, idx, val, scale, lo, hi, params, b_at, A, i, tmp):
    """A[i, :n1] = z¹ = Σ over the lit pixels of x_p W0[p] + b¹.  Up to 128 wide the
    pixels go round four running sums in registers (fused multiply-adds; four
    short dependency chains), 16 columns at a time; wider, a pixel's row is read
    whole, even and odd pixels in two sums (in A and tmp), which keeps the reads
    sequential."""
    n1 = W0.shape[1]
    row = i * A.shape[1]
    if n1 > 8 * _V:
        for j in range(0, n1, _V):
            w = min(_V, n1 - j)
            _vstore(A, row + j, w, _vzero())
            _vstore(tmp, j, w, _vzero())
        for k in range(lo, hi - 1, 2):
            p = idx[k] * n1
            q = idx[k + 1] * n1
            v = np.float32(val[k]) * scale
            u = np.float32(val[k + 1]) * scale
            for j in range(0, n1, _V):
                w = min(_V, n1 - j)
                _vstore(A, row + j, w, _vadd(_vload(A, row + j, w), _vmul(_vload(W0, p + j, w), v)))
                _vstore(tmp, j, w, _vadd(_vload(tmp, j, w), _vmul(_vload(W0, q + j, w), u)))
        if (hi - lo) % 2:
            p = idx[hi - 1] * n1
            v = np.float32(val[hi - 1]) * scale
            for j in range(0, n1, _V):
                w = min(_V, n1 - j)
                _vstore(A, row + j, w, _vadd(_vload(A, row + j, w), _vmul(_vload(W0, p + j, w), v)))
        for j in range(0, n1, _V):
            w = min(_V, n1 - j)
            _vstore(A, row + j, w, _vadd(_vadd(_vload(A, row + j, w), _vload(tmp, j, w)),
                                         _vload(params, b_at + j, w)))
        return
    for j in range(0, n1, _V):
        w = min(_V, n1 - j)
        s = _vzero()
        t = _vzero()
        u = _vzero()
        q = _vzero()
        k = lo
        while k + 3 < hi:
            s = _vfma(_vload(W0, idx[k] * n1 + j, w), np.float32(val[k]) * scale, s)
            t = _vfma(_vload(W0, idx[k + 1] * n1 + j, w), np.float32(val[k + 1]) * scale, t)
            u = _vfma(_vload(W0, idx[k + 2] * n1 + j, w), np.float32(val[k + 2]) * scale, u)
            q = _vfma(_vload(W0, idx[k + 3] * n1 + j, w), np.float32(val[k + 3]) * scale, q)
            k += 4
        while k < hi:
            s = _vfma(_vload(W0, idx[k] * n1 + j, w), np.float32(val[k]) * scale, s)
            k += 1
        _vstore(A, row + j, w, _vadd(_vadd(_vadd(s, t), _vadd(u, q)), _vload(params, b_at + j, w)))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _activate_simd(kind, A, i, lo, hi):
    """_activate, the sigmoid 16 lanes at a time (_vsigmoid)."""
    if kind != 0:
        _activate(kind, A, i, lo, hi)
        return
    row = i * A.shape[1]
    for j in range(lo, hi, _V):
        w = min(_V, hi - j)
        _vstore(A, row + j, w, _vsigmoid(_vload(A, row + j, w)))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _first_forward_scalar(W0, idx, val, scale, lo, hi, params, b_at, A, i, tmp):
    n1 = W0.shape[1]
    for j in range(n1):
        s = _ZERO
        t = _ZERO
        u = _ZERO
        q = _ZERO
        k = lo
        while k + 3 < hi:
            s += W0[idx[k], j] * (np.float32(val[k]) * scale)
            t += W0[idx[k + 1], j] * (np.float32(val[k + 1]) * scale)
            u += W0[idx[k + 2], j] * (np.float32(val[k + 2]) * scale)
            q += W0[idx[k + 3], j] * (np.float32(val[k + 3]) * scale)
            k += 4
        while k < hi:
            s += W0[idx[k], j] * (np.float32(val[k]) * scale)
            k += 1
        A[i, j] = ((s + t) + (u + q)) + params[b_at + j]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _prefetch_simd(order, k, indptr, idx, val, classes, rows):
    """Start fetching what example order[k + 2] reads (its pixels), and the row
    offsets and label of order[k + 8]: all at random places, cache misses otherwise."""
    n = order.shape[0]
    if k + 8 < n:
        r = order[k + 8]
        _prefetch(indptr, r)
        if classes.shape[0] > 0:
            _prefetch(classes, r)
        elif rows.shape[0] > 0:
            _prefetch(rows, r * rows.shape[1])
    if k + 2 < n:
        r = order[k + 2]
        lo = indptr[r]
        hi = indptr[r + 1]
        step = 64 // idx.itemsize
        for t in range(lo, hi + step, step):
            _prefetch(idx, min(t, hi))
        step = 64 // val.itemsize
        for t in range(lo, hi + step, step):
            _prefetch(val, min(t, hi))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _prefetch_scalar(order, k, indptr, idx, val, classes, rows):
    pass


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _first_update_simd(W0, idx, val, scale, lo, hi, e):
    """W0[p] −= x_p e for each lit pixel p (e = η δ¹): 16 columns at a time up to 128
    wide, a whole row at a time wider."""
    n1 = W0.shape[1]
    if n1 > 8 * _V:
        for k in range(lo, hi):
            p = idx[k] * n1
            v = np.float32(val[k]) * scale
            for j in range(0, n1, _V):
                w = min(_V, n1 - j)
                _vstore(W0, p + j, w, _vsub(_vload(W0, p + j, w), _vmul(_vload(e, j, w), v)))
        return
    for j in range(0, n1, _V):
        w = min(_V, n1 - j)
        ej = _vsub(_vzero(), _vload(e, j, w))
        for k in range(lo, hi):
            at = idx[k] * n1 + j
            _vstore(W0, at, w, _vfma(ej, np.float32(val[k]) * scale, _vload(W0, at, w)))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _first_update_scalar(W0, idx, val, scale, lo, hi, e):
    n1 = W0.shape[1]
    for k in range(lo, hi):
        p = idx[k]
        v = np.float32(val[k]) * scale
        for j in range(n1):
            W0[p, j] -= v * e[j]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _dense_forward_simd(params, w_at, b_at, n_in, n_o, A, i, a_in, a_out):
    """A[i, a_out:a_out+n_o] = W A[i, a_in:a_in+n_in] + b (z of a layer above the first)."""
    row = i * A.shape[1] + a_out
    for j in range(0, n_o, _V):
        w = min(_V, n_o - j)
        acc = _vload(params, b_at + j, w)
        for c in range(n_in):
            acc = _vadd(acc, _vmul(_vload(params, w_at + c * n_o + j, w), A[i, a_in + c]))
        _vstore(A, row + j, w, acc)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _dense_forward_scalar(params, w_at, b_at, n_in, n_o, A, i, a_in, a_out):
    for j in range(n_o):
        A[i, a_out + j] = params[b_at + j]
    for c in range(n_in):
        v = A[i, a_in + c]
        base = w_at + c * n_o
        for j in range(n_o):
            A[i, a_out + j] += params[base + j] * v


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _dense_backward_simd(params, Wn, grads, w_at, b_at, n_in, n_o, A, D, i, a_in, a_out,
                         hidden):
    """∂C/∂b += δ, ∂C/∂Wᵀ += a δᵀ, and the δ below = (Wᵀ δ) ⊙ σ'(z) (into D[i, a_in:]),
    the last from Wn, the weights in (n_o, n_in) layout (vectors over the inputs)."""
    d_at = i * D.shape[1] + a_out
    for j in range(0, n_o, _V):
        w = min(_V, n_o - j)
        d = _vload(D, d_at + j, w)
        _vstore(grads, b_at + j, w, _vadd(_vload(grads, b_at + j, w), d))
        for c in range(n_in):
            at = w_at + c * n_o + j
            _vstore(grads, at, w, _vadd(_vload(grads, at, w), _vmul(d, A[i, a_in + c])))
    for c in range(0, n_in, _V):
        w = min(_V, n_in - c)
        s = _vzero()
        for j in range(n_o):
            s = _vadd(s, _vmul(_vload(Wn, w_at + j * n_in + c, w), D[i, a_out + j]))
        _vstore(D, i * D.shape[1] + a_in + c, w, s)
    for c in range(n_in):
        D[i, a_in + c] *= _derivative(hidden, A[i, a_in + c])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _dense_backward_scalar(params, Wn, grads, w_at, b_at, n_in, n_o, A, D, i, a_in, a_out,
                           hidden):
    for j in range(n_o):
        grads[b_at + j] += D[i, a_out + j]
    for c in range(n_in):
        base = w_at + c * n_o
        a = A[i, a_in + c]
        s = _ZERO
        for j in range(n_o):
            s += params[base + j] * D[i, a_out + j]
        for j in range(n_o):
            grads[base + j] += a * D[i, a_out + j]
        D[i, a_in + c] = s * _derivative(hidden, a)


@njit(cache=True, nogil=True)
def _untransposed(params, Wn, w_at, n_in, n_o):
    """Wn.flat[w_at:] = W, (n_o, n_in), from Wᵀ in params.flat[w_at:]."""
    for c in range(n_in):
        for j in range(n_o):
            Wn[w_at + j * n_in + c] = params[w_at + c * n_o + j]


@njit(cache=True, nogil=True)
def _helpers_on_an_example(simd, n1, n_o):
    """The helpers, vector or scalar, on a made-up 40-n1-n_o network and one example
    (23 lit pixels): forward, backward, first-layer step."""
    n_in = 40
    p = np.sin(np.arange(n_in * n1 + n1 + n1 * n_o + n_o) * 0.37).astype(np.float32)
    pix = np.arange(1, n_in, 2).astype(np.int32)[:23]
    xs = np.cos(np.arange(pix.shape[0]) * 0.11).astype(np.float32)
    one = np.float32(1.0)
    b1, w2 = n_in * n1, n_in * n1 + n1
    b2 = w2 + n1 * n_o
    W0 = p[:n_in * n1].reshape(n_in, n1)
    A = np.zeros((2, n1 + n_o), dtype=np.float32)
    D = np.zeros((2, n1 + n_o), dtype=np.float32)
    g = np.zeros(p.shape[0], dtype=np.float32)
    Wn = np.zeros(p.shape[0], dtype=np.float32)
    tmp = np.zeros(n1, dtype=np.float32)
    _untransposed(p, Wn, w2, n1, n_o)
    if simd:
        _first_forward_simd(W0, pix, xs, one, 0, pix.shape[0], p, b1, A, 1, tmp)
        _dense_forward_simd(p, w2, b2, n1, n_o, A, 1, 0, n1)
        D[1] = A[1]
        _dense_backward_simd(p, Wn, g, w2, b2, n1, n_o, A, D, 1, 0, n1, 0)
        _first_update_simd(W0, pix, xs, one, 0, pix.shape[0], D[1, :n1].copy())
    else:
        _first_forward_scalar(W0, pix, xs, one, 0, pix.shape[0], p, b1, A, 1, tmp)
        _dense_forward_scalar(p, w2, b2, n1, n_o, A, 1, 0, n1)
        D[1] = A[1]
        _dense_backward_scalar(p, Wn, g, w2, b2, n1, n_o, A, D, 1, 0, n1, 0)
        _first_update_scalar(W0, pix, xs, one, 0, pix.shape[0], D[1, :n1].copy())
    return p, A, D, g


@njit(cache=True, nogil=True)
def _sigmoid_rows(A):
    for i in range(A.shape[0]):
        _activate_row(0, A, i, 0, A.shape[1])


def sigmoid_rows(A: np.ndarray) -> None:
    """A = σ(A) in place, row by row, as sgd_steps does it (for the tests)."""
    _sigmoid_rows(A)


def simd_difference(n1: int = 17, n_o: int = 10) -> float:
    """The largest difference, relative to 1 + |value|, between what the vector and
    the scalar helpers compute on a small example (float32 rounding: the layers
    above the first sum W δ in another order)."""
    a = _helpers_on_an_example(True, n1, n_o)
    b = _helpers_on_an_example(False, n1, n_o)
    return max(float((np.abs(x.astype(np.float64) - y) / (1 + np.abs(y))).max())
               for x, y in zip(a, b))


def _use_vectors(on: bool) -> None:
    """Make sgd_steps (when it is next compiled) use the vector helpers or the scalar loops."""
    global _simd, _first_forward, _first_update, _dense_forward, _dense_backward, _prefetch_ahead
    global _activate_row
    _simd = on and _vectors_defined
    if _simd:
        _prefetch_ahead = _prefetch_simd
        _activate_row = _activate_simd
        _first_forward, _first_update = _first_forward_simd, _first_update_simd
        _dense_forward, _dense_backward = _dense_forward_simd, _dense_backward_simd
    else:
        _prefetch_ahead = _prefetch_scalar
        _activate_row = _activate
        _first_forward, _first_update = _first_forward_scalar, _first_update_scalar
        _dense_forward, _dense_backward = _dense_forward_scalar, _dense_backward_scalar


_use_vectors(True)


def run_sgd_steps(*args):
    """sgd_steps(*args); if it cannot be compiled with the vector helpers here (an
    LLVM without masked vector loads, say), it is compiled with the scalar loops.
    Numba caches whichever compiled, so later runs load that one."""
    try:
        return sgd_steps(*args)
    except (NumbaError, RuntimeError):
        if not _simd or sgd_steps.signatures:
            raise
        _use_vectors(False)
        return sgd_steps(*args)


@njit(cache=True, nogil=True, error_model="numpy")
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
    Wn = np.zeros(params.shape[0], dtype=np.float32)      # their W, (n_o, n_in)
    for l in range(1, L):
        _untransposed(params, Wn, wo[l], sizes[l], sizes[l + 1])
    z2 = np.zeros(n1, dtype=np.float32)
    b1 = params[bo[0]:bo[0] + n1]
    for start in range(first, last, batch_size):
        end = min(start + batch_size, n)
        m = np.float32(end - start)
        for k in range(start, end):
            i = k - start
            r = order[k]
            lo = indptr[r]
            hi = indptr[r + 1]
            _prefetch_ahead(order, k, indptr, idx, val, classes, rows)
            # ---- forward: z¹ = W¹a⁰ + b¹ over the non-zero pixels only
            _first_forward(W0, idx, val, scale, lo, hi, params, bo[0], A, i, z2)
            _activate_row(out_kind if L == 1 else hidden, A, i, 0, n1)
            for l in range(1, L):
                _dense_forward(params, wo[l], bo[l], sizes[l], sizes[l + 1], A, i, off[l - 1],
                               off[l])
                _activate_row(out_kind if l == L - 1 else hidden, A, i, off[l], off[l + 1])
            # ---- δᴸ of the batch's average cost, as Network.output_error / m
            o = off[L - 1]
            label = classes[r] if one_hot else -1
            if output == 1 and cost == 0:          # softmax with quadratic cost
                s = _ZERO
                for j in range(n_out):
                    y = (_ONE if label == j else _ZERO) if one_hot else rows[r, j]
                    D[i, o + j] = _TWO * (A[i, o + j] - y)
                    s += D[i, o + j] * A[i, o + j]
                for j in range(n_out):
                    D[i, o + j] = A[i, o + j] * (D[i, o + j] - s) / m
            else:
                for j in range(n_out):
                    a = A[i, o + j]
                    y = (_ONE if label == j else _ZERO) if one_hot else rows[r, j]
                    if cost == 1:
                        d = a - y
                    else:
                        d = _TWO * (a - y) * a * (_ONE - a)
                    D[i, o + j] = d / m
            # ---- backward: accumulate ∂C/∂b, ∂C/∂W of layers 2..L, propagate δ down
            for l in range(L - 1, 0, -1):
                _dense_backward(params, Wn, grads, wo[l], bo[l], sizes[l], sizes[l + 1], A, D, i,
                                off[l - 1], off[l], hidden)
        # ---- the step: θ ← θ − η ∂C/∂θ.  Layer 1: every example's −η x_p δ¹ straight
        # into the rows of the pixels it lit (all forwards above used the old weights)
        if decay != _ONE:
            for l in range(L):
                _decay(params[wo[l]:wo[l] + sizes[l] * sizes[l + 1]], decay)
        for l in range(1, L):
            size = sizes[l] * sizes[l + 1]
            _step(params[wo[l]:wo[l] + size], grads[wo[l]:wo[l] + size], eta)
            _step(params[bo[l]:bo[l] + sizes[l + 1]], grads[bo[l]:bo[l] + sizes[l + 1]], eta)
            _untransposed(params, Wn, wo[l], sizes[l], sizes[l + 1])
        for k in range(start, end):
            i = k - start
            for j in range(n1):
                z2[j] = eta * D[i, j]
                b1[j] -= z2[j]
            r = order[k]
            _first_update(W0, idx, val, scale, indptr[r], indptr[r + 1], z2)
