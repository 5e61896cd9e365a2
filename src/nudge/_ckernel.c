/* The ahead-of-time compiled SGD kernel behind nudge.fast (loaded with ctypes).
 *
 * The same mathematics, layout and order of operations as _fast_kernel.sgd_steps
 * (the Numba kernel), for its most common case: float32, sigmoid hidden layers,
 * sigmoid output, quadratic cost, any number of layers.  Anything else returns
 * NUDGE_UNSUPPORTED and the caller uses the Numba kernel or the reference code.
 *
 * Layout of params (float32, one flat array): for each layer l, W^l transposed as
 * an (n_in, n_out) row-major block at wo[l] (row i = the weights *from* input i)
 * and b^l at bo[l].  Row r of the inputs is val[indptr[r]:indptr[r+1]] (uint8
 * times scale, or float32) at columns idx[...] (uint16).
 *
 * Plain C99 plus GCC/Clang vector extensions (16 floats); no fast-math.  As in
 * the Numba kernel, the compiler may fuse multiply-adds (FMA) where the CPU has
 * them; the sigmoid's exp is Cephes' expf polynomial (within a few ulp of libm).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NUDGE_OK 0
#define NUDGE_UNSUPPORTED 1
#define NUDGE_NO_MEMORY 2

#define V 16
#if defined(__GNUC__) && !defined(__clang__)
/* the 16-float helpers are always inlined: no vector is passed by value between functions */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float v16 __attribute__((vector_size(64)));

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HOT
#endif
#define INLINE static inline __attribute__((always_inline))

INLINE v16 ld(const float *p) { v16 v; memcpy(&v, p, sizeof v); return v; }
#define st(p, v) do { v16 st_ = (v); memcpy((p), &st_, sizeof st_); } while (0)

/* 1 / (1 + exp(-z)), exp as Cephes' expf: range reduction by ln 2, a degree-5
 * polynomial, 2^n through the exponent bits (as the Numba kernel's vsigmoid). */
INLINE float sigmoid(float z)
{
    float x = -z;
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    /* round to nearest (ties to even), as rint, for |x log2 e| < 2^22 */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = (p * (r * r) + r) + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    e = e * two_n;
    return 1.0f / (1.0f + e);
}

INLINE void sigmoid_row(float *restrict a, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        a[j] = sigmoid(a[j]);
}

INLINE float pixel(const void *val, int val_float, float scale, int64_t k)
{
    return val_float ? ((const float *)val)[k] : (float)((const uint8_t *)val)[k] * scale;
}

/* a[0:n1] = z1 = sum over the lit pixels of x_p W0[p] + b1: four running sums (four
 * short dependency chains), 16 columns at a time, then the columns left over. */
INLINE void first_forward(const float *restrict W0, int64_t n1, const uint16_t *restrict idx,
                          const void *val, int val_float, float scale, int64_t lo, int64_t hi,
                          const float *restrict b1, float *restrict a)
{
    /* blocks of 16 columns; a last partial block, if the row is at least 16 wide, as the
     * block of the row's last 16 columns (the overlapped columns get the same values) */
    int64_t j = 0;
    for (; j < n1 && n1 >= V; j = (j + 2 * V <= n1 || j + V == n1) ? j + V : n1 - V) {
        v16 s = {0}, t = {0}, u = {0}, q = {0};
        int64_t k = lo;
        for (; k + 3 < hi; k += 4) {
            s += ld(W0 + idx[k] * n1 + j) * pixel(val, val_float, scale, k);
            t += ld(W0 + idx[k + 1] * n1 + j) * pixel(val, val_float, scale, k + 1);
            u += ld(W0 + idx[k + 2] * n1 + j) * pixel(val, val_float, scale, k + 2);
            q += ld(W0 + idx[k + 3] * n1 + j) * pixel(val, val_float, scale, k + 3);
        }
        for (; k < hi; k++)
            s += ld(W0 + idx[k] * n1 + j) * pixel(val, val_float, scale, k);
        st(a + j, ((s + t) + (u + q)) + ld(b1 + j));
        if (j + V == n1)
            break;
    }
    if (n1 >= V)
        j = n1;
    for (; j < n1; j++) {
        float s = 0, t = 0, u = 0, q = 0;
        int64_t k = lo;
        for (; k + 3 < hi; k += 4) {
            s += W0[idx[k] * n1 + j] * pixel(val, val_float, scale, k);
            t += W0[idx[k + 1] * n1 + j] * pixel(val, val_float, scale, k + 1);
            u += W0[idx[k + 2] * n1 + j] * pixel(val, val_float, scale, k + 2);
            q += W0[idx[k + 3] * n1 + j] * pixel(val, val_float, scale, k + 3);
        }
        for (; k < hi; k++)
            s += W0[idx[k] * n1 + j] * pixel(val, val_float, scale, k);
        a[j] = ((s + t) + (u + q)) + b1[j];
    }
}

/* W0[p] -= x_p e for each lit pixel p (e = eta delta1) */
INLINE void first_update(float *restrict W0, int64_t n1, const uint16_t *restrict idx,
                         const void *val, int val_float, float scale, int64_t lo, int64_t hi,
                         const float *restrict e)
{
    int64_t j = 0;
    for (; j + V <= n1; j += V) {
        v16 ej = ld(e + j);
        for (int64_t k = lo; k < hi; k++) {
            float *w = W0 + idx[k] * n1 + j;
            st(w, ld(w) - ej * pixel(val, val_float, scale, k));
        }
    }
    if (j < n1 && n1 >= V) {
        /* the row's last 16 columns, those already updated with e = 0 (w - 0 x = w) */
        float tail[V];
        memcpy(tail, e + n1 - V, sizeof tail);
        for (int64_t c = 0; c < j - (n1 - V); c++)
            tail[c] = 0.0f;
        v16 ej = ld(tail);
        for (int64_t k = lo; k < hi; k++) {
            float *w = W0 + idx[k] * n1 + n1 - V;
            st(w, ld(w) - ej * pixel(val, val_float, scale, k));
        }
    } else if (j < n1) {
        for (int64_t k = lo; k < hi; k++) {
            float x = pixel(val, val_float, scale, k);
            float *w = W0 + idx[k] * n1;
            for (int64_t c = j; c < n1; c++)
                w[c] -= e[c] * x;
        }
    }
}

/* out = W a + b for a layer above the first (W transposed in params at w) */
INLINE void dense_forward(const float *restrict w, const float *restrict b, int64_t n_in,
                          int64_t n_o, const float *restrict a, float *restrict out)
{
    int64_t j = 0;
    for (; j < n_o && n_o >= V; j = (j + 2 * V <= n_o || j + V == n_o) ? j + V : n_o - V) {
        v16 acc = ld(b + j);
        for (int64_t c = 0; c < n_in; c++)
            acc += ld(w + c * n_o + j) * a[c];
        st(out + j, acc);
        if (j + V == n_o)
            break;
    }
    if (n_o >= V)
        j = n_o;
    for (; j < n_o; j++) {
        float acc = b[j];
        for (int64_t c = 0; c < n_in; c++)
            acc += w[c * n_o + j] * a[c];
        out[j] = acc;
    }
}

/* dC/db += d, dC/dW^T += a d^T, and the delta below = (W^T d) . sigma'(z), the last
 * from Wn, the weights in (n_o, n_in) layout */
INLINE void dense_backward(const float *restrict Wn, float *restrict gw, float *restrict gb,
                           int64_t n_in, int64_t n_o, const float *restrict a,
                           const float *restrict d, float *restrict d_in)
{
    for (int64_t j = 0; j < n_o; j++)
        gb[j] += d[j];
    for (int64_t c = 0; c < n_in; c++) {
        float ac = a[c];
        float *g = gw + c * n_o;
        for (int64_t j = 0; j < n_o; j++)
            g[j] += d[j] * ac;
    }
    for (int64_t c = 0; c < n_in; c++)
        d_in[c] = 0.0f;
    for (int64_t j = 0; j < n_o; j++) {
        const float *w = Wn + j * n_in;
        float dj = d[j];
        for (int64_t c = 0; c < n_in; c++)
            d_in[c] += w[c] * dj;
    }
    for (int64_t c = 0; c < n_in; c++)
        d_in[c] *= a[c] * (1.0f - a[c]);
}

static void untransposed(const float *restrict wt, float *restrict wn, int64_t n_in, int64_t n_o)
{
    for (int64_t c = 0; c < n_in; c++)
        for (int64_t j = 0; j < n_o; j++)
            wn[j * n_in + c] = wt[c * n_o + j];
}

INLINE void prefetch_ahead(const int64_t *order, int64_t k, int64_t n, const int64_t *indptr,
                           const uint16_t *idx, const void *val, int val_float)
{
    if (k + 8 < n)
        __builtin_prefetch(indptr + order[k + 8]);
    if (k + 2 < n) {
        int64_t r = order[k + 2];
        int64_t lo = indptr[r], hi = indptr[r + 1];
        for (int64_t t = lo; t < hi + 32; t += 32)
            __builtin_prefetch(idx + (t < hi ? t : hi));
        int64_t step = val_float ? 16 : 64;
        const char *v = (const char *)val;
        size_t size = val_float ? 4 : 1;
        for (int64_t t = lo; t < hi + step; t += step)
            __builtin_prefetch(v + (size_t)(t < hi ? t : hi) * size);
    }
}

INLINE int sgd_steps(const int64_t *indptr, const uint16_t *idx, const void *val, int val_float,
                     float scale, const int64_t *classes, const float *rows,
                     const int64_t *order, int64_t n, int64_t first, int64_t last,
                     int64_t batch_size, float eta, float decay, float *params,
                     const int64_t *sizes, int64_t L, const int64_t *wo, const int64_t *bo)
{
    int64_t n1 = sizes[1], n_out = sizes[L];
    int64_t off[65];
    off[0] = 0;
    for (int64_t l = 0; l < L; l++)
        off[l + 1] = off[l] + sizes[l + 1];
    int64_t width = off[L];
    int64_t n_params = bo[L - 1] + n_out;
    float *A = calloc((size_t)(batch_size * width), sizeof(float));
    float *D = calloc((size_t)(batch_size * width), sizeof(float));
    float *grads = calloc((size_t)n_params, sizeof(float));   /* layers 2..L only */
    float *Wn = calloc((size_t)n_params, sizeof(float));      /* their W, (n_o, n_in) */
    float *e = calloc((size_t)n1, sizeof(float));
    if (!A || !D || !grads || !Wn || !e) {
        free(A); free(D); free(grads); free(Wn); free(e);
        return NUDGE_NO_MEMORY;
    }
    for (int64_t l = 1; l < L; l++)
        untransposed(params + wo[l], Wn + wo[l], sizes[l], sizes[l + 1]);
    float *W0 = params + wo[0];
    float *b1 = params + bo[0];
    for (int64_t start = first; start < last; start += batch_size) {
        int64_t end = start + batch_size < n ? start + batch_size : n;
        float m = (float)(end - start);
        for (int64_t k = start; k < end; k++) {
            float *a = A + (k - start) * width;
            float *d = D + (k - start) * width;
            int64_t r = order[k];
            prefetch_ahead(order, k, n, indptr, idx, val, val_float);
            /* forward: z1 = W1 a0 + b1 over the lit pixels only */
            first_forward(W0, n1, idx, val, val_float, scale, indptr[r], indptr[r + 1], b1, a);
            sigmoid_row(a, n1);
            for (int64_t l = 1; l < L; l++) {
                dense_forward(params + wo[l], params + bo[l], sizes[l], sizes[l + 1],
                              a + off[l - 1], a + off[l]);
                sigmoid_row(a + off[l], sizes[l + 1]);
            }
            /* delta^L of the batch's average cost, as Network.output_error / m */
            int64_t o = off[L - 1];
            for (int64_t j = 0; j < n_out; j++) {
                float aj = a[o + j];
                float y = classes ? (classes[r] == j ? 1.0f : 0.0f) : rows[r * n_out + j];
                d[o + j] = 2.0f * (aj - y) * aj * (1.0f - aj) / m;
            }
            /* backward: accumulate dC/db, dC/dW of layers 2..L, propagate delta down */
            for (int64_t l = L - 1; l > 0; l--)
                dense_backward(Wn + wo[l], grads + wo[l], grads + bo[l], sizes[l], sizes[l + 1],
                               a + off[l - 1], d + off[l], d + off[l - 1]);
        }
        /* the step: theta -= eta dC/dtheta (weights first scaled by 1 - eta lambda) */
        if (decay != 1.0f) {
            for (int64_t l = 0; l < L; l++) {
                float *w = params + wo[l];
                int64_t size = sizes[l] * sizes[l + 1];
                for (int64_t j = 0; j < size; j++)
                    w[j] *= decay;
            }
        }
        for (int64_t l = 1; l < L; l++) {
            float *p = params + wo[l], *g = grads + wo[l];
            int64_t size = sizes[l] * sizes[l + 1] + sizes[l + 1];   /* W then b: contiguous */
            for (int64_t j = 0; j < size; j++) {
                p[j] -= eta * g[j];
                g[j] = 0.0f;
            }
            untransposed(params + wo[l], Wn + wo[l], sizes[l], sizes[l + 1]);
        }
        /* layer 1: every example's -eta x_p delta1 straight into the rows it lit */
        for (int64_t k = start; k < end; k++) {
            const float *d = D + (k - start) * width;
            for (int64_t j = 0; j < n1; j++) {
                e[j] = eta * d[j];
                b1[j] -= e[j];
            }
            int64_t r = order[k];
            first_update(W0, n1, idx, val, val_float, scale, indptr[r], indptr[r + 1], e);
        }
    }
    free(A); free(D); free(grads); free(Wn); free(e);
    return NUDGE_OK;
}

HOT static int steps_u8(const int64_t *indptr, const uint16_t *idx, const void *val, float scale,
                        const int64_t *classes, const float *rows, const int64_t *order,
                        int64_t n, int64_t first, int64_t last, int64_t batch_size, float eta,
                        float decay, float *params, const int64_t *sizes, int64_t L,
                        const int64_t *wo, const int64_t *bo)
{
    return sgd_steps(indptr, idx, val, 0, scale, classes, rows, order, n, first, last,
                     batch_size, eta, decay, params, sizes, L, wo, bo);
}

HOT static int steps_f32(const int64_t *indptr, const uint16_t *idx, const void *val,
                         float scale, const int64_t *classes, const float *rows,
                         const int64_t *order, int64_t n, int64_t first, int64_t last,
                         int64_t batch_size, float eta, float decay, float *params,
                         const int64_t *sizes, int64_t L, const int64_t *wo, const int64_t *bo)
{
    return sgd_steps(indptr, idx, val, 1, scale, classes, rows, order, n, first, last,
                     batch_size, eta, decay, params, sizes, L, wo, bo);
}

/* SGD steps on the examples order[first:last], batch_size at a time (the last batch of
 * the epoch may be smaller), parameters updated in place.  classes (one class number
 * per row) or, if NULL, rows (desired outputs, n_out per row).  decay = 1 - eta lambda
 * scales the weights (not the biases) at each step.  Codes as in _fast_kernel: hidden
 * 0 sigmoid, output 0 sigmoid, cost 0 quadratic; anything else is unsupported. */
int nudge_sgd_steps(const int64_t *indptr, const uint16_t *idx, const void *val, int val_float,
                    float scale, const int64_t *classes, const float *rows,
                    const int64_t *order, int64_t n, int64_t first, int64_t last,
                    int64_t batch_size, float eta, float decay, float *params,
                    const int64_t *sizes, int64_t L, const int64_t *wo, const int64_t *bo,
                    int hidden, int output, int cost)
{
    if (hidden != 0 || output != 0 || cost != 0 || L < 1 || L > 64 || batch_size < 1)
        return NUDGE_UNSUPPORTED;
    if (first < 0 || last > n || first >= last)
        return NUDGE_OK;
    if (val_float)
        return steps_f32(indptr, idx, val, scale, classes, rows, order, n, first, last,
                         batch_size, eta, decay, params, sizes, L, wo, bo);
    return steps_u8(indptr, idx, val, scale, classes, rows, order, n, first, last, batch_size,
                    eta, decay, params, sizes, L, wo, bo);
}

/* The non-zero entries of each row of the uint8 matrix X (n rows of d values, rows
 * `stride` bytes apart), d < 65536.  counts_only: indptr only (indptr[0] = 0,
 * indptr[r + 1] = the entries of rows 0..r), to size idx and val; then again to fill them. */
int nudge_sparse_rows_u8(const uint8_t *X, int64_t n, int64_t d, int64_t stride,
                         int64_t *indptr, uint16_t *idx, uint8_t *val, int counts_only)
{
    if (d >= 65536)
        return NUDGE_UNSUPPORTED;
    int64_t k = 0;
    indptr[0] = 0;
    for (int64_t r = 0; r < n; r++) {
        const uint8_t *x = X + r * stride;
        if (counts_only) {
            int64_t c = 0;
            for (int64_t p = 0; p < d; p++)
                c += x[p] != 0;
            k += c;
        } else {
            for (int64_t p = 0; p < d; p++) {
                if (x[p] != 0) {
                    idx[k] = (uint16_t)p;
                    val[k] = x[p];
                    k++;
                }
            }
        }
        indptr[r + 1] = k;
    }
    return NUDGE_OK;
}

/* The interface version Python checks before calling. */
int nudge_abi_version(void) { return 1; }

/* setuptools builds this file as an extension module and, on some platforms, exports
 * PyInit_<name>; it is not a Python module (nudge.fast loads it with ctypes). */
void *PyInit__ckernel(void) { return NULL; }
