/* The ahead-of-time compiled SGD kernel of nudge's compiled engine (nudge.engine.compiled;
 * nudge.engine.clib loads it with ctypes).
 *
 * The mathematics of nudge.network (Network.backprop) and nudge.optimizers, for float32
 * networks: hidden layers sigmoid, relu or tanh; output sigmoid or softmax; cost quadratic
 * or cross-entropy; plain SGD or momentum, either with weight decay; any number of layers
 * (up to 64).  Only the float32 rounding order differs from the NumPy code.
 *
 * Layout of params (float32, one flat array): for each layer l, W^l transposed as
 * an (n_in, n_out) row-major block at wo[l] (row i = the weights *from* input i)
 * and b^l at bo[l].  The momentum's velocity, where there is one, has the same layout.
 * Row r of the inputs is val[indptr[r]:indptr[r+1]] (uint8 times scale, or float32) at
 * columns idx[...] (uint16).
 *
 * Plain C99 plus GCC/Clang vector extensions (V floats, below); no fast-math.  The
 * compiler may fuse multiply-adds (FMA) where the CPU has them; exp is Cephes' expf
 * polynomial (within a few ulp of libm), tanh Cephes' tanhf.
 *
 * What Python decides (the thread rules) it passes in: the kernel sums the first layer in
 * two pixel ranges when given a split > 0, and uses two threads when asked to (and the
 * ranges are two).  Each function's arguments come in one struct, whose fields are listed
 * once (NUDGE_STEPS_ARGS, NUDGE_ROWS_ARGS, NUDGE_FORWARD_ARGS); nudge_signature() describes
 * them for nudge.engine.clib to check.
 */
#if !defined(_WIN32) && (defined(__unix__) || defined(__APPLE__))
#define NUDGE_PTHREADS 1
#include <pthread.h>
#include <sched.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NUDGE_OK 0
#define NUDGE_UNSUPPORTED 1
#define NUDGE_NO_MEMORY 2

/* a layer's function: the hidden codes are nudge.engine.compiled.HIDDEN's; the output's
 * (OUTPUT: 0 sigmoid, 1 softmax) become ACT_SIGMOID or ACT_SOFTMAX */
enum { ACT_SIGMOID = 0, ACT_RELU = 1, ACT_TANH = 2, ACT_SOFTMAX = 3 };
/* the cost (COST: 0 quadratic, 1 cross-entropy) */
enum { COST_QUADRATIC = 0, COST_CROSS_ENTROPY = 1 };

/* V floats per vector: as wide as the registers of the CPU this build is for (setup.py
 * builds this file three times on x86-64: -mavx512*, -mavx2 -mfma, and plain;
 * nudge.engine.clib loads the best build the CPU runs).  Wider vectors than the
 * registers would be kept in memory by GCC, several times slower.  Every lane does the
 * same float32 operations whatever V is (sums across lanes are done in order, one float at
 * a time), so the builds with FMA usually give the same weights bit for bit; but GCC may
 * fuse a multiply and an add in a short loop (a softmax over a few outputs) in one width
 * and not the other, so in general they agree to float32 rounding. */
#if defined(__AVX512F__)
#define V 16
#define NUDGE_ISA "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
#define V 8
#define NUDGE_ISA "avx2"
#else
#define V 4
#define NUDGE_ISA "base"
#endif
#if defined(__GNUC__) && !defined(__clang__)
/* the vector helpers are always inlined: no vector is passed by value between functions */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float vf __attribute__((vector_size(4 * V)));
#define PAD(x) (((x) + V - 1) / V * V)

#define INLINE static inline __attribute__((always_inline))

INLINE vf ld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
#define st(p, v) do { vf st_ = (v); memcpy((p), &st_, sizeof st_); } while (0)

/* exp(x) as Cephes' expf: x clamped to [-87.3, 88.3], range reduction by ln 2, a
 * degree-5 polynomial, 2^n through the exponent bits. */
INLINE float exp_poly(float x)
{
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
    /* 2^n from n's bits in n + 1.5 * 2^23 (unsigned: no float-to-int conversion, which a
     * NaN would make undefined; a NaN x makes e NaN, and so the result) */
    float shifted = n + 12582912.0f;
    uint32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    bits = (bits - 0x4B400000u + 127u) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return e * two_n;
}

/* 1 / (1 + exp(-z)) */
INLINE float sigmoid(float z)
{
    return 1.0f / (1.0f + exp_poly(-z));
}

/* tanh(z) as Cephes' tanhf: an odd polynomial below |z| = 0.625, 1 - 2 / (exp(2|z|) + 1)
 * above (both computed, then one chosen, so that a row's loop is vectorised) */
INLINE float tanh_poly(float z)
{
    float x = __builtin_fabsf(z), s = z * z;
    float small = ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s
                    + 1.33314422036e-1f) * s - 3.33332819422e-1f) * s * x + x;
    float big = 1.0f - 2.0f / (exp_poly(x + x) + 1.0f);
    return __builtin_copysignf(x < 0.625f ? small : big, z);
}

INLINE float pixel(const void *val, int val_float, float scale, int64_t k)
{
    return val_float ? ((const float *)val)[k] : (float)((const uint8_t *)val)[k] * scale;
}

/* z1 for the V-column blocks starting at columns j[0..NB-1], in one pass over the lit
 * pixels: four running sums per block (four short dependency chains, pixel k in chain
 * k mod 4), so each block's sums are the same whichever blocks share the pass. */
INLINE void forward_blocks(const float *restrict W0, int64_t n1, const uint16_t *restrict idx,
                           const void *val, int val_float, float scale, int64_t lo, int64_t hi,
                           const float *restrict b1, float *restrict a, const int64_t *j,
                           const int NB)
{
    vf s[4] = {{0}}, t[4] = {{0}}, u[4] = {{0}}, q[4] = {{0}};
    int64_t k = lo;
    for (; k + 3 < hi; k += 4) {
        const float *w0 = W0 + idx[k] * n1, *w1 = W0 + idx[k + 1] * n1;
        const float *w2 = W0 + idx[k + 2] * n1, *w3 = W0 + idx[k + 3] * n1;
        float x0 = pixel(val, val_float, scale, k), x1 = pixel(val, val_float, scale, k + 1);
        float x2 = pixel(val, val_float, scale, k + 2), x3 = pixel(val, val_float, scale, k + 3);
        for (int b = 0; b < NB; b++) {
            s[b] += ld(w0 + j[b]) * x0;
            t[b] += ld(w1 + j[b]) * x1;
            u[b] += ld(w2 + j[b]) * x2;
            q[b] += ld(w3 + j[b]) * x3;
        }
    }
    for (; k < hi; k++) {
        const float *w0 = W0 + idx[k] * n1;
        float x0 = pixel(val, val_float, scale, k);
        for (int b = 0; b < NB; b++)
            s[b] += ld(w0 + j[b]) * x0;
    }
    for (int b = 0; b < NB; b++)
        st(a + j[b], ((s[b] + t[b]) + (u[b] + q[b])) + ld(b1 + j[b]));
}

/* a[0:n1] = z1 = sum over the lit pixels of x_p W0[p] + b1, V columns at a time (up to
 * four blocks of them per pass over the pixels); a last partial block, if the row is at
 * least V wide, as the block of the row's last V columns (the overlapped columns get the
 * same values); narrower rows column by column. */
INLINE void first_forward(const float *restrict W0, int64_t n1, const uint16_t *restrict idx,
                          const void *val, int val_float, float scale, int64_t lo, int64_t hi,
                          const float *restrict b1, float *restrict a)
{
    if (n1 >= V) {
        int64_t nb = (n1 + V - 1) / V;
        for (int64_t b0 = 0; b0 < nb; b0 += 4) {
            int64_t j[4];
            int cnt = nb - b0 < 4 ? (int)(nb - b0) : 4;
            for (int b = 0; b < cnt; b++)
                j[b] = b0 + b < nb - 1 ? (b0 + b) * V : n1 - V;
            if (cnt == 4)
                forward_blocks(W0, n1, idx, val, val_float, scale, lo, hi, b1, a, j, 4);
            else if (cnt == 3)
                forward_blocks(W0, n1, idx, val, val_float, scale, lo, hi, b1, a, j, 3);
            else if (cnt == 2)
                forward_blocks(W0, n1, idx, val, val_float, scale, lo, hi, b1, a, j, 2);
            else
                forward_blocks(W0, n1, idx, val, val_float, scale, lo, hi, b1, a, j, 1);
        }
        return;
    }
    for (int64_t j = 0; j < n1; j++) {
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

/* W0[p][j0 : j0 + V NB] -= x_p e[j0 : j0 + V NB] for each lit pixel p */
INLINE void update_blocks(float *restrict W0, int64_t n1, const uint16_t *restrict idx,
                          const void *val, int val_float, float scale, int64_t lo, int64_t hi,
                          const float *restrict e, int64_t j0, const int NB)
{
    vf ej[4];
    for (int b = 0; b < NB; b++)
        ej[b] = ld(e + j0 + b * V);
    for (int64_t k = lo; k < hi; k++) {
        float *w = W0 + idx[k] * n1 + j0;
        float x = pixel(val, val_float, scale, k);
        for (int b = 0; b < NB; b++)
            st(w + b * V, ld(w + b * V) - ej[b] * x);
    }
}

/* W0[p] -= x_p e for each lit pixel p (e = eta delta1) */
INLINE void first_update(float *restrict W0, int64_t n1, const uint16_t *restrict idx,
                         const void *val, int val_float, float scale, int64_t lo, int64_t hi,
                         const float *restrict e)
{
    int64_t j = 0;
    /* the whole V-column blocks, up to four per pass over the pixels */
    for (; j + V <= n1; j += 4 * V) {
        int nb = (n1 - j) / V < 4 ? (int)((n1 - j) / V) : 4;
        if (nb == 4)
            update_blocks(W0, n1, idx, val, val_float, scale, lo, hi, e, j, 4);
        else if (nb == 3)
            update_blocks(W0, n1, idx, val, val_float, scale, lo, hi, e, j, 3);
        else if (nb == 2)
            update_blocks(W0, n1, idx, val, val_float, scale, lo, hi, e, j, 2);
        else
            update_blocks(W0, n1, idx, val, val_float, scale, lo, hi, e, j, 1);
    }
    j = n1 - n1 % V;
    if (j < n1 && n1 >= V) {
        /* the row's last V columns, those already updated with e = 0 (w - 0 x = w) */
        float tail[V];
        memcpy(tail, e + n1 - V, sizeof tail);
        for (int64_t c = 0; c < j - (n1 - V); c++)
            tail[c] = 0.0f;
        vf ej = ld(tail);
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

/* The wide first layer (more than WIDE_MIN columns): a pixel's whole row at a time, even
 * and odd pixels in two sums (a and tmp), so that the reads of W0 are sequential. */
INLINE void wide_first_forward(const float *restrict W0, int64_t n1, const uint16_t *restrict idx,
                               const void *val, int val_float, float scale, int64_t lo,
                               int64_t hi, const float *restrict b1, float *restrict a,
                               float *restrict tmp)
{
    int64_t nv = n1 - n1 % V;
    memset(a, 0, (size_t)n1 * sizeof(float));
    memset(tmp, 0, (size_t)n1 * sizeof(float));
    int64_t k = lo;
    for (; k + 1 < hi; k += 2) {
        const float *w = W0 + idx[k] * n1, *u = W0 + idx[k + 1] * n1;
        float x = pixel(val, val_float, scale, k), y = pixel(val, val_float, scale, k + 1);
        for (int64_t j = 0; j < nv; j += V) {
            st(a + j, ld(a + j) + ld(w + j) * x);
            st(tmp + j, ld(tmp + j) + ld(u + j) * y);
        }
        for (int64_t j = nv; j < n1; j++) {
            a[j] += w[j] * x;
            tmp[j] += u[j] * y;
        }
    }
    if (k < hi) {
        const float *w = W0 + idx[k] * n1;
        float x = pixel(val, val_float, scale, k);
        for (int64_t j = 0; j < nv; j += V)
            st(a + j, ld(a + j) + ld(w + j) * x);
        for (int64_t j = nv; j < n1; j++)
            a[j] += w[j] * x;
    }
    for (int64_t j = 0; j < nv; j += V)
        st(a + j, (ld(a + j) + ld(tmp + j)) + ld(b1 + j));
    for (int64_t j = nv; j < n1; j++)
        a[j] = (a[j] + tmp[j]) + b1[j];
}

INLINE void wide_first_update(float *restrict W0, int64_t n1, const uint16_t *restrict idx,
                              const void *val, int val_float, float scale, int64_t lo,
                              int64_t hi, const float *restrict e)
{
    int64_t nv = n1 - n1 % V;
    for (int64_t k = lo; k < hi; k++) {
        float *w = W0 + idx[k] * n1;
        float x = pixel(val, val_float, scale, k);
        for (int64_t j = 0; j < nv; j += V)
            st(w + j, ld(w + j) - ld(e + j) * x);
        for (int64_t j = nv; j < n1; j++)
            w[j] -= e[j] * x;
    }
}

/* first layers wider than this are done a whole row at a time: measured at B = 100 (three
 * runs of python benchmarks/kernel_against.py --commit HEAD --define WIDE_MIN=0 --setups
 * 784-256-10:100 784-512-10:100 784-768-10:100, and WIDE_MIN=100000 for 784-1024-10:100),
 * the blocked passes of first_forward and first_update took 0.71-0.80 of the whole rows'
 * time at 256 columns, 0.87-0.91 at 512 and 0.83-0.94 at 768, the whole rows 0.59-0.83 of
 * the blocked passes' at 1,024 (W1 no longer fits in the L2 cache, and each pass would
 * read it again) */
#define WIDE_MIN 768

/* The first layer's work for one example (its sum over a range of lit pixels, and its
 * step on their rows), for layers of four vectors or more compiled as functions of their
 * own, one for uint8 pixels and one for float ones.  Inlined into the training loop, their
 * vector sums competed for registers with the loop's own state and GCC spilled more of
 * them (AVX2 has 16 vector registers; four blocks of four sums take them all).  Narrower
 * layers stay inlined: there the call would cost more than it saves. */
#define OUTLINED_MIN (3 * V + 1)
#define NOINLINE static __attribute__((noinline))
NOINLINE void sum_pixels_u8(const float *W0, int64_t n1, const uint16_t *idx, const void *val,
                            float scale, int64_t lo, int64_t hi, const float *b1, float *a,
                            float *tmp)
{
    if (n1 > WIDE_MIN)
        wide_first_forward(W0, n1, idx, val, 0, scale, lo, hi, b1, a, tmp);
    else
        first_forward(W0, n1, idx, val, 0, scale, lo, hi, b1, a);
}

NOINLINE void sum_pixels_f32(const float *W0, int64_t n1, const uint16_t *idx, const void *val,
                             float scale, int64_t lo, int64_t hi, const float *b1, float *a,
                             float *tmp)
{
    if (n1 > WIDE_MIN)
        wide_first_forward(W0, n1, idx, val, 1, scale, lo, hi, b1, a, tmp);
    else
        first_forward(W0, n1, idx, val, 1, scale, lo, hi, b1, a);
}

/* W0[p] -= x_p e for the lit pixels lo..hi */
NOINLINE void step_pixels_u8(float *W0, int64_t n1, const uint16_t *idx, const void *val,
                             float scale, int64_t lo, int64_t hi, const float *e)
{
    if (n1 > WIDE_MIN)
        wide_first_update(W0, n1, idx, val, 0, scale, lo, hi, e);
    else
        first_update(W0, n1, idx, val, 0, scale, lo, hi, e);
}

NOINLINE void step_pixels_f32(float *W0, int64_t n1, const uint16_t *idx, const void *val,
                              float scale, int64_t lo, int64_t hi, const float *e)
{
    if (n1 > WIDE_MIN)
        wide_first_update(W0, n1, idx, val, 1, scale, lo, hi, e);
    else
        first_update(W0, n1, idx, val, 1, scale, lo, hi, e);
}

INLINE void step_pixels(float *W0, int64_t n1, const uint16_t *idx, const void *val,
                        float scale, int64_t lo, int64_t hi, const float *e, const int val_float)
{
    if (n1 < OUTLINED_MIN)
        first_update(W0, n1, idx, val, val_float, scale, lo, hi, e);
    else if (val_float)
        step_pixels_f32(W0, n1, idx, val, scale, lo, hi, e);
    else
        step_pixels_u8(W0, n1, idx, val, scale, lo, hi, e);
}

/* Layers above the first are kept, during a call, in padded copies: M, W^T with its rows
 * padded with zeros to a whole number po of V-float vectors, then b (padded) as one more
 * row; and N, W itself (n_o rows of pi floats, zero padded), for the deltas.  The
 * activations and deltas of a layer take a whole number of vectors too, their padding
 * kept 0, so every loop below is over whole vectors (no tails). */

/* out = W a + b (po floats; the padding columns get 0) */
INLINE void dense_forward(const float *restrict M, int64_t n_in, int64_t po,
                          const float *restrict a, float *restrict out)
{
    for (int64_t j = 0; j < po; j += V) {
        vf s = ld(M + n_in * po + j), t = {0}, u = {0}, q = {0};
        int64_t c = 0;
        for (; c + 3 < n_in; c += 4) {
            s += ld(M + c * po + j) * a[c];
            t += ld(M + (c + 1) * po + j) * a[c + 1];
            u += ld(M + (c + 2) * po + j) * a[c + 2];
            q += ld(M + (c + 3) * po + j) * a[c + 3];
        }
        for (; c < n_in; c++)
            s += ld(M + c * po + j) * a[c];
        st(out + j, (s + t) + (u + q));
    }
}

/* the delta below, (W^T d) . sigma'(z), from N; sigma' (of the hidden function `kind`)
 * written with a = sigma(z): a (1 - a), 1 - a^2, or 1 where a > 0 (relu: a > 0 iff z > 0) */
INLINE void dense_delta(const float *restrict N, int64_t n_o, int64_t pi,
                        const float *restrict a, const float *restrict d, float *restrict d_in,
                        const int kind)
{
    for (int64_t c = 0; c < pi; c += V) {
        vf s = {0}, t = {0};
        int64_t j = 0;
        for (; j + 1 < n_o; j += 2) {
            s += ld(N + j * pi + c) * d[j];
            t += ld(N + (j + 1) * pi + c) * d[j + 1];
        }
        for (; j < n_o; j++)
            s += ld(N + j * pi + c) * d[j];
        vf ac = ld(a + c);
        if (kind == ACT_SIGMOID)
            st(d_in + c, (s + t) * (ac * (1.0f - ac)));
        else if (kind == ACT_TANH)
            st(d_in + c, (s + t) * (1.0f - ac * ac));
        else
            st(d_in + c, (s + t) * __builtin_convertvector(-(ac > 0.0f), vf));
    }
}

/* N from M: N[j, c] = W^T[c, j] */
static void transposed(const float *restrict M, float *restrict N, int64_t n_in, int64_t n_o,
                       int64_t pi, int64_t po)
{
    for (int64_t c = 0; c < n_in; c++)
        for (int64_t j = 0; j < n_o; j++)
            N[j * pi + c] = M[c * po + j];
}

/* X[r] -= eta * (the sum over the m examples of P_k[r] Q_k), for the `rows` rows of X,
 * each `len` floats; example k's P and Q are `width` floats after example k-1's. */
INLINE void step_rows(float *restrict X, int64_t rows, int64_t len, const float *restrict P,
                      const float *restrict Q, int64_t width, int64_t m, float eta)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < len; j += V) {
            vf g = {0};
            for (int64_t k = 0; k < m; k++)
                g += ld(Q + k * width + j) * P[k * width + r];
            st(X + r * len + j, ld(X + r * len + j) - eta * g);
        }
}

/* The step of a layer above the first, theta -= eta dC/dtheta (the weights first shrunk:
 * w -= shrink w, shrink = eta lambda), with dC/dtheta summed over the batch's m examples (rows
 * `width` apart in A and D) in example order: in M, dC/dW^T = the sum of a d^T (rows
 * c < n_in) and dC/db = the sum of d (row n_in); in N, the same sums for W (so N stays W,
 * with no transposing; the same numbers, bit for bit).  For large batches, where the
 * sums cost more than transposing, N is M transposed. */
#define SUMS_FOR_N_MAX 24
INLINE void dense_step(float *restrict M, float *restrict N, int64_t n_in, int64_t n_o,
                       int64_t pi, int64_t po, const float *restrict A, const float *restrict D,
                       int64_t width, int64_t m, float eta, float shrink)
{
    int n_by_sums = m <= SUMS_FOR_N_MAX;
    if (shrink != 0.0f) {
        for (int64_t q = 0; q < n_in * po; q++)
            M[q] -= shrink * M[q];
        for (int64_t q = 0; n_by_sums && q < n_o * pi; q++)
            N[q] -= shrink * N[q];
    }
    step_rows(M, n_in, po, A, D, width, m, eta);
    for (int64_t j = 0; j < po; j += V) {
        vf g = {0};
        for (int64_t k = 0; k < m; k++)
            g += ld(D + k * width + j);
        st(M + n_in * po + j, ld(M + n_in * po + j) - eta * g);
    }
    if (n_by_sums)
        step_rows(N, n_o, pi, D, A, width, m, eta);
    else
        transposed(M, N, n_in, n_o, pi, po);
}

/* The same step with momentum (nudge.optimizers.Momentum): for each parameter, with g its
 * dC/dtheta summed as in dense_step (plus lambda w for the weights), v = mu v - eta g and
 * theta += v; VM holds v in M's layout.  N is then M transposed. */
INLINE void dense_momentum_step(float *restrict M, float *restrict VM, float *restrict N,
                                int64_t n_in, int64_t n_o, int64_t pi, int64_t po,
                                const float *restrict A, const float *restrict D, int64_t width,
                                int64_t m, float eta, float mu, float lambda)
{
    for (int64_t r = 0; r <= n_in; r++)
        for (int64_t j = 0; j < po; j += V) {
            vf g = {0};
            if (r < n_in)
                for (int64_t k = 0; k < m; k++)
                    g += ld(D + k * width + j) * A[k * width + r];
            else                                /* the biases' row: no decay */
                for (int64_t k = 0; k < m; k++)
                    g += ld(D + k * width + j);
            float *w = M + r * po + j, *v = VM + r * po + j;
            if (lambda != 0.0f && r < n_in)
                g += lambda * ld(w);
            vf vj = mu * ld(v) - eta * g;
            st(v, vj);
            st(w, ld(w) + vj);
        }
    transposed(M, N, n_in, n_o, pi, po);
}

/* The first layer's momentum step on W0's floats q0..q1 (the rows p0..p1 of W1^T, q = p n1;
 * V0: their velocity, G0: their dC/dW summed over the batch, zeroed again here) */
static void first_momentum_step(float *restrict W0, float *restrict V0, float *restrict G0,
                                int64_t q0, int64_t q1, float eta, float mu, float lambda)
{
    if (lambda != 0.0f)
        for (int64_t q = q0; q < q1; q++) {
            float v = mu * V0[q] - eta * (G0[q] + lambda * W0[q]);
            V0[q] = v;
            W0[q] += v;
            G0[q] = 0.0f;
        }
    else
        for (int64_t q = q0; q < q1; q++) {
            float v = mu * V0[q] - eta * G0[q];
            V0[q] = v;
            W0[q] += v;
            G0[q] = 0.0f;
        }
}

/* the activations' padding (lanes n to the next whole vector) set to 0, so that the
 * padding of every delta, gradient and weight stays 0 */
typedef int32_t vi __attribute__((vector_size(4 * V)));
#if V == 16
static const vi IOTA = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
#elif V == 8
static const vi IOTA = {0, 1, 2, 3, 4, 5, 6, 7};
#else
static const vi IOTA = {0, 1, 2, 3};
#endif

/* 1.0f in the lanes where IOTA < n, 0.0f elsewhere */
INLINE vf lanes_below(int64_t n)
{
    vi below = IOTA < ((vi){0} + (int32_t)n);
    return __builtin_convertvector(-below, vf);
}

INLINE void clear_padding(float *a, int64_t n)
{
    if (n % V) {
        float *last = a + n - n % V;
        st(last, ld(last) * lanes_below(n % V));
    }
}

/* a = sigma(z) in place for a row of n values (a whole number of vectors; the padding
 * set to 0 again).  softmax: exp(z - max z) / the sum, the sum in order. */
INLINE void activate(float *restrict a, int64_t n, int kind)
{
    int64_t pn = PAD(n);
    switch (kind) {
    case ACT_SIGMOID:
        for (int64_t j = 0; j < pn; j++)
            a[j] = sigmoid(a[j]);
        break;
    case ACT_RELU:
        for (int64_t j = 0; j < pn; j++)
            a[j] = a[j] > 0.0f ? a[j] : 0.0f;
        break;
    case ACT_TANH:
        for (int64_t j = 0; j < pn; j++)
            a[j] = tanh_poly(a[j]);
        break;
    default: {
        float top = a[0], sum = 0.0f;
        for (int64_t j = 1; j < n; j++)
            top = a[j] > top ? a[j] : top;
        for (int64_t j = 0; j < n; j++) {
            a[j] = exp_poly(a[j] - top);
            sum += a[j];
        }
        for (int64_t j = 0; j < n; j++)
            a[j] = a[j] / sum;
        for (int64_t j = n; j < pn; j++)
            a[j] = 0.0f;
        return;
    }
    }
    clear_padding(a, n);
}

/* activate() on the m rows of A (width floats apart), the choice of function made once */
INLINE void activate_rows(float *restrict A, int64_t m, int64_t width, int64_t n, int kind)
{
    switch (kind) {
    case ACT_SIGMOID:
        for (int64_t k = 0; k < m; k++)
            activate(A + k * width, n, ACT_SIGMOID);
        break;
    case ACT_RELU:
        for (int64_t k = 0; k < m; k++)
            activate(A + k * width, n, ACT_RELU);
        break;
    case ACT_TANH:
        for (int64_t k = 0; k < m; k++)
            activate(A + k * width, n, ACT_TANH);
        break;
    default:
        for (int64_t k = 0; k < m; k++)
            activate(A + k * width, n, ACT_SOFTMAX);
    }
}

/* delta^L = dC/dz^L / m for the n_out outputs (the batch's average cost, as
 * Network.output_error / m), a whole number of vectors: y one-hot (the class) or a row.
 * Quadratic cost: 2 (a - y) a (1 - a) for a sigmoid output, a (g - g.a) with g = 2 (a - y)
 * for softmax; cross-entropy: a - y for a sigmoid output, a sum(y) - y for softmax (the
 * derivative of -sum y ln softmax(z); a - y for a class, whose y sums to 1). */
INLINE void output_delta(const float *restrict a, float *restrict d, int64_t n_out, float two_m,
                         int64_t cls, const float *row, int output, int cost, float m)
{
    if (cost == COST_QUADRATIC && output == ACT_SOFTMAX) {
        float dot = 0.0f;
        for (int64_t j = 0; j < n_out; j++) {
            float y = row ? row[j] : (float)(j == cls);
            d[j] = 2.0f * (a[j] - y);
            dot += d[j] * a[j];
        }
        for (int64_t j = 0; j < n_out; j++)
            d[j] = a[j] * (d[j] - dot) / m;
        return;                                 /* the padding of d stays 0 */
    }
    float total = 0.0f;                         /* softmax, cross-entropy: sum(y) of a row */
    if (cost == COST_CROSS_ENTROPY && output == ACT_SOFTMAX && row)
        for (int64_t j = 0; j < n_out; j++)
            total += row[j];
    for (int64_t j = 0; j < PAD(n_out); j += V) {
        vf y;
        if (row) {
            float buf[V] = {0};
            memcpy(buf, row + j, (size_t)(n_out - j < V ? n_out - j : V) * sizeof(float));
            y = ld(buf);
        } else {
            vi hit = IOTA == ((vi){0} + (int32_t)(cls - j));
            y = __builtin_convertvector(-hit, vf);
        }
        vf aj = ld(a + j);
        if (cost == COST_QUADRATIC)
            st(d + j, two_m * (aj - y) * aj * (1.0f - aj));
        else if (output == ACT_SOFTMAX && row)
            st(d + j, (aj * total - y) / m);
        else
            st(d + j, (aj - y) / m);
    }
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

/* the first position in idx[lo:hi] (ascending) holding a pixel >= p (branch-free) */
INLINE int64_t lower_bound(const uint16_t *idx, int64_t lo, int64_t hi, int64_t p)
{
    int64_t len = hi - lo;
    const uint16_t *base = idx + lo;
    while (len > 1) {
        int64_t half = len / 2;
        base = base[half - 1] < p ? base + half : base;
        len -= half;
    }
    return (base - idx) + (len == 1 && *base < p);
}

/* One thread's own state: its copies of the upper layers (M, N) and of b1, updated in
 * step with the other thread's (the same operations, so the same numbers), and buffers. */
struct lane {
    float *A, *D, *M, *N, *b1, *e, *tmp, *zero;
    int64_t *pos;               /* each example's first lit pixel >= split (its idx position) */
    float *VM, *vb1, *gb1;      /* momentum: the velocity of M and of b1; the sum of delta1 */
};

/* One call's work.  Given a split (> 0), the pixels are split in two ranges, [0, split)
 * and [split, d): z1 of every example is (the sum over range 0 + the sum over range 1) +
 * b1, and with two threads each one owns a range: it sums and steps only the rows of W1^T
 * of its pixels, so no row of W1 is written by one thread and read by the other.  Both
 * threads then do the upper layers, each for the whole batch, on their own copies.  One
 * thread does both ranges itself: the result is the same, bit for bit.  Without a split,
 * the first layer is summed in one range, on one thread.  (Which networks get a split and
 * two threads is nudge.engine.threads' choice: two_ranges and kernel_threads.) */
struct job {
    const int64_t *indptr;
    const uint16_t *idx;
    const void *val;
    float scale;
    const int64_t *classes;
    const float *rows;
    const int64_t *order;
    int64_t n, first, last, batch_size, split;
    int two_ranges;             /* whether z1 is summed in two pixel ranges (see above) */
    float eta, shrink;
    int hidden, output, cost;   /* ACT_ and COST_ codes */
    int momentum;               /* with momentum mu (and weight decay lambda), else plain SGD */
    float mu, lambda;
    float *V0, *G0;             /* momentum: W1^T's velocity (in place) and its gradient */
    const int64_t *sizes;
    int64_t L, width, off[65], mo[65], no[65];
    float *W0;
    float *Z;                   /* two threads: the range sums, [2 parities][2 ranges][batch] */
    int threads, val_float;
    int go, count, sense;       /* start flag and barrier (atomics) */
    struct lane lanes[2];
};

/* Wait until both threads got here.  Spins (the waits are short), then yields. */
static void barrier(struct job *j, int *sense)
{
    *sense = !*sense;
    if (__atomic_fetch_add(&j->count, 1, __ATOMIC_ACQ_REL) == j->threads - 1) {
        __atomic_store_n(&j->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&j->sense, *sense, __ATOMIC_RELEASE);
        return;
    }
    for (long spins = 0; __atomic_load_n(&j->sense, __ATOMIC_ACQUIRE) != *sense; spins++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
#ifdef NUDGE_PTHREADS
        if (spins > 4000)
            sched_yield();
#endif
    }
}

/* z = the sum over the lit pixels lo..hi of x_p W1^T[p], + bias */
INLINE void first_sum(const struct job *j, const struct lane *me, int64_t lo, int64_t hi,
                      const float *bias, float *z, const int val_float)
{
    if (j->sizes[1] < OUTLINED_MIN)
        first_forward(j->W0, j->sizes[1], j->idx, j->val, val_float, j->scale, lo, hi, bias, z);
    else if (val_float)
        sum_pixels_f32(j->W0, j->sizes[1], j->idx, j->val, j->scale, lo, hi, bias, z, me->tmp);
    else
        sum_pixels_u8(j->W0, j->sizes[1], j->idx, j->val, j->scale, lo, hi, bias, z, me->tmp);
}

/* output_delta for the batch's examples start..end (rows of A and D), the output function
 * and cost given as constants (cross-entropy: the output function only matters for rows) */
INLINE void output_deltas(const struct job *j, const float *A, float *D, int64_t start,
                          int64_t end, float two_m, const int output, const int cost)
{
    int64_t L = j->L, n_out = j->sizes[L], at = j->off[L - 1];
    for (int64_t k = start; k < end; k++) {
        int64_t r = j->order[k], q = (k - start) * j->width + at;
        output_delta(A + q, D + q, n_out, two_m, j->classes ? j->classes[r] : -1,
                     j->classes ? NULL : j->rows + r * n_out, output, cost,
                     (float)(end - start));
    }
}

/* The first layer's step with momentum: dC/dW1^T summed into G0 (each example's x_p delta1
 * into the rows of the pixels it lit, this thread's pixels), then v and W1^T stepped
 * densely on this thread's rows p0..p1 (every row moves with its velocity) and b1 with its
 * own (each thread keeps its copy of b1, as of the upper layers). */
INLINE void first_momentum(struct job *j, struct lane *me, int64_t start, int64_t end,
                           int64_t p0, int64_t p1, const int val_float)
{
    const int64_t *order = j->order, *indptr = j->indptr;
    int64_t n1 = j->sizes[1], T = j->threads, t = me - j->lanes;
    float *e = me->e, *gb1 = me->gb1, *vb1 = me->vb1, *b1 = me->b1;
    for (int64_t k = start; k < end; k++) {
        const float *d = me->D + (k - start) * j->width;
        for (int64_t c = 0; c < n1; c++) {
            e[c] = -d[c];                       /* first_update subtracts e x_p */
            gb1[c] += d[c];
        }
        int64_t r = order[k], lo = indptr[r], hi = indptr[r + 1];
        if (T > 1 && t == 0)
            hi = me->pos[k - start];
        else if (T > 1)
            lo = me->pos[k - start];
        step_pixels(j->G0, n1, j->idx, j->val, j->scale, lo, hi, e, val_float);
    }
    for (int64_t c = 0; c < n1; c++) {
        vb1[c] = j->mu * vb1[c] - j->eta * gb1[c];
        b1[c] += vb1[c];
        gb1[c] = 0.0f;
    }
    first_momentum_step(j->W0, j->V0, j->G0, p0 * n1, p1 * n1, j->eta, j->mu, j->lambda);
}

/* Thread t's share of the steps on order[first:last], batch_size at a time. */
INLINE void run_thread(struct job *j, int t, const int val_float)
{
    const int64_t *sizes = j->sizes, *order = j->order, *indptr = j->indptr;
    const int64_t *off = j->off, *mo = j->mo, *no = j->no;
    int64_t L = j->L, n1 = sizes[1], pn1 = PAD(n1), width = j->width;
    int64_t B = j->batch_size;
    int T = j->threads, sense = 0, parity = 0;
    struct lane *me = &j->lanes[t];
    float *A = me->A, *D = me->D, *M = me->M, *N = me->N, *b1 = me->b1, *e = me->e;
    float *W0 = j->W0, eta = j->eta, shrink = j->shrink;
    int hidden = j->hidden, first_kind = L == 1 ? j->output : hidden;
    /* the rows of W1^T this thread steps */
    int64_t p0 = T == 1 || t == 0 ? 0 : j->split, p1 = T == 1 || t == 1 ? sizes[0] : j->split;
    for (int64_t start = j->first; start < j->last; start += B) {
        int64_t end = start + B < j->last ? start + B : j->last, m = end - start;
        float two_m = 2.0f / (float)m;
#define ROW(X, k) ((X) + ((k) - start) * width)
        /* forward, first layer: the sums over the pixel ranges */
        for (int64_t k = start; k < end; k++) {
            int64_t r = order[k], lo = indptr[r], hi = indptr[r + 1];
            prefetch_ahead(order, k, j->n, indptr, j->idx, j->val, val_float);
            if (!j->two_ranges) {
                first_sum(j, me, lo, hi, b1, ROW(A, k), val_float);
                continue;
            }
            int64_t pos = lower_bound(j->idx, lo, hi, j->split);
            if (T == 1) {               /* both ranges here; e (the step's buffer) as scratch */
                float *a = ROW(A, k);
                first_sum(j, me, lo, pos, me->zero, a, val_float);
                first_sum(j, me, pos, hi, me->zero, me->e, val_float);
                for (int64_t c = 0; c < pn1; c += V)
                    st(a + c, (ld(a + c) + ld(me->e + c)) + ld(b1 + c));
            } else {                    /* this thread's range, for the step too */
                me->pos[k - start] = pos;
                float *z = j->Z + ((parity * 2 + t) * B + (k - start)) * pn1;
                first_sum(j, me, t == 0 ? lo : pos, t == 0 ? pos : hi, me->zero, z, val_float);
            }
        }
        if (T > 1) {
            barrier(j, &sense);
            const float *z0 = j->Z + parity * 2 * B * pn1, *z1 = z0 + B * pn1;
            for (int64_t k = start; k < end; k++) {
                float *a = ROW(A, k);
                int64_t q = (k - start) * pn1;
                for (int64_t c = 0; c < pn1; c += V)
                    st(a + c, (ld(z0 + q + c) + ld(z1 + q + c)) + ld(b1 + c));
            }
            parity ^= 1;
        }
        /* layer by layer, each over the batch's examples (independent of each other, so
         * that the CPU overlaps them); ROW(A, k), ROW(D, k): example k's a and delta */
        activate_rows(A, m, width, n1, first_kind);
        for (int64_t l = 1; l < L; l++) {
            int64_t po = PAD(sizes[l + 1]);
            for (int64_t k = start; k < end; k++) {
                float *a = ROW(A, k);
                dense_forward(M + mo[l], sizes[l], po, a + off[l - 1], a + off[l]);
            }
            activate_rows(A + off[l], m, width, sizes[l + 1], l == L - 1 ? j->output : hidden);
        }
        if (j->cost == COST_CROSS_ENTROPY && j->output == ACT_SOFTMAX && !j->classes)
            output_deltas(j, A, D, start, end, two_m, ACT_SOFTMAX, COST_CROSS_ENTROPY);
        else if (j->cost == COST_CROSS_ENTROPY)           /* a - y */
            output_deltas(j, A, D, start, end, two_m, ACT_SIGMOID, COST_CROSS_ENTROPY);
        else if (j->output == ACT_SOFTMAX)
            output_deltas(j, A, D, start, end, two_m, ACT_SOFTMAX, COST_QUADRATIC);
        else
            output_deltas(j, A, D, start, end, two_m, ACT_SIGMOID, COST_QUADRATIC);
        /* backward, layer by layer: propagate delta down (with the weights from before the
         * step), then the layer's step (plain SGD: weights first shrunk, w -= shrink w) */
        for (int64_t l = L - 1; l > 0; l--) {
            int64_t n_in = sizes[l], n_o = sizes[l + 1], pi = PAD(n_in), po = PAD(n_o);
            const float *Nl = N + no[l];
            /* sigma' of the hidden function, one loop for each (no choice per vector) */
            if (hidden == ACT_SIGMOID)
                for (int64_t k = start; k < end; k++)
                    dense_delta(Nl, n_o, pi, ROW(A, k) + off[l - 1], ROW(D, k) + off[l],
                                ROW(D, k) + off[l - 1], ACT_SIGMOID);
            else if (hidden == ACT_TANH)
                for (int64_t k = start; k < end; k++)
                    dense_delta(Nl, n_o, pi, ROW(A, k) + off[l - 1], ROW(D, k) + off[l],
                                ROW(D, k) + off[l - 1], ACT_TANH);
            else
                for (int64_t k = start; k < end; k++)
                    dense_delta(Nl, n_o, pi, ROW(A, k) + off[l - 1], ROW(D, k) + off[l],
                                ROW(D, k) + off[l - 1], ACT_RELU);
            if (j->momentum)
                dense_momentum_step(M + mo[l], me->VM + mo[l], N + no[l], n_in, n_o, pi, po,
                                    A + off[l - 1], D + off[l], width, m, eta, j->mu,
                                    j->lambda);
            else
                dense_step(M + mo[l], N + no[l], n_in, n_o, pi, po, A + off[l - 1],
                           D + off[l], width, m, eta, shrink);
        }
        if (j->momentum) {
            first_momentum(j, me, start, end, p0, p1, val_float);
            continue;
        }
        /* the first layer's step: every example's -eta x_p delta1 straight into the rows
         * of the pixels it lit (this thread's pixels) */
        if (shrink != 0.0f)
            for (int64_t q = p0 * n1; q < p1 * n1; q++)
                W0[q] -= shrink * W0[q];
        for (int64_t k = start; k < end; k++) {
            const float *d = ROW(D, k);
            for (int64_t c = 0; c < n1; c++) {
                e[c] = eta * d[c];
                b1[c] -= e[c];
            }
            int64_t r = order[k], lo = indptr[r], hi = indptr[r + 1];
            if (T > 1 && t == 0)
                hi = me->pos[k - start];
            else if (T > 1)
                lo = me->pos[k - start];
            step_pixels(W0, n1, j->idx, j->val, j->scale, lo, hi, e, val_float);
        }
#undef ROW
    }
}

/* run_thread for uint8 or float pixels */
static void run_u8(struct job *j, int t) { run_thread(j, t, 0); }
static void run_f32(struct job *j, int t) { run_thread(j, t, 1); }

static void run(struct job *j, int t)
{
    if (j->val_float)
        run_f32(j, t);
    else
        run_u8(j, t);
}

#ifdef NUDGE_PTHREADS
static void *second_thread(void *arg)
{
    struct job *j = arg;
    for (long spins = 0; !__atomic_load_n(&j->go, __ATOMIC_ACQUIRE); spins++)
        if (spins > 1000)
            sched_yield();
    if (j->threads == 2)
        run(j, 1);
    return NULL;
}
#endif

static void free_job(struct job *j)
{
    for (int t = 0; t < 2; t++) {
        struct lane *me = &j->lanes[t];
        free(me->A); free(me->D); free(me->M); free(me->N); free(me->b1); free(me->e);
        free(me->tmp); free(me->zero); free(me->pos); free(me->VM); free(me->vb1);
        free(me->gb1);
    }
    free(j->Z);
    free(j->G0);
}

/* an upper layer's W^T and b (from the flat layout at wo, bo) into M's padded layout */
static void pack_layer(float *restrict M, const float *restrict flat, int64_t wo, int64_t bo,
                       int64_t n_in, int64_t n_o)
{
    int64_t po = PAD(n_o);
    for (int64_t c = 0; c < n_in; c++)
        memcpy(M + c * po, flat + wo + c * n_o, (size_t)n_o * sizeof(float));
    memcpy(M + n_in * po, flat + bo, (size_t)n_o * sizeof(float));
}

/* ... and back */
static void unpack_layer(const float *restrict M, float *restrict flat, int64_t wo, int64_t bo,
                         int64_t n_in, int64_t n_o)
{
    int64_t po = PAD(n_o);
    for (int64_t c = 0; c < n_in; c++)
        memcpy(flat + wo + c * n_o, M + c * po, (size_t)n_o * sizeof(float));
    memcpy(flat + bo, M + n_in * po, (size_t)n_o * sizeof(float));
}

/* where each layer's activations start in a row of A (off), and its M and N (mo, no) */
static void layout(struct job *j)
{
    const int64_t *sizes = j->sizes;
    int64_t L = j->L, *off = j->off, *mo = j->mo, *no = j->no;
    off[0] = 0;
    mo[0] = mo[1] = no[0] = no[1] = 0;
    for (int64_t l = 0; l < L; l++)
        off[l + 1] = off[l] + PAD(sizes[l + 1]);
    for (int64_t l = 1; l < L; l++) {
        mo[l + 1] = mo[l] + (sizes[l] + 1) * PAD(sizes[l + 1]);
        no[l + 1] = no[l] + sizes[l + 1] * PAD(sizes[l]);
    }
    j->width = off[L];
}

static int sgd_steps(struct job *j, int threads, float *params, float *velocity,
                     const int64_t *wo, const int64_t *bo)
{
    const int64_t *sizes = j->sizes;
    int64_t L = j->L, n1 = sizes[1], pn1 = PAD(n1), B = j->batch_size;
    int64_t *mo = j->mo, *no = j->no;
    layout(j);
    /* two threads each own one of the two pixel ranges: without them, one thread */
    j->threads = threads >= 2 && j->two_ranges ? 2 : 1;
#ifndef NUDGE_PTHREADS
    j->threads = 1;
#endif
    j->W0 = params + wo[0];
    /* zeroed: the padding stays 0 */
    int ok = 1;
    if (j->momentum) {
        j->V0 = velocity + wo[0];
        j->G0 = calloc((size_t)(sizes[0] * n1), sizeof(float));
        ok = j->G0 != NULL;
    }
    for (int t = 0; ok && t < j->threads; t++) {
        struct lane *me = &j->lanes[t];
        me->A = calloc((size_t)(B * j->width), sizeof(float));
        me->D = calloc((size_t)(B * j->width), sizeof(float));
        me->M = calloc((size_t)(mo[L] + 1), sizeof(float));
        me->N = calloc((size_t)(no[L] + 1), sizeof(float));
        me->b1 = calloc((size_t)pn1, sizeof(float));
        me->e = calloc((size_t)pn1, sizeof(float));
        me->tmp = calloc((size_t)pn1, sizeof(float));
        me->zero = calloc((size_t)pn1, sizeof(float));
        me->pos = calloc((size_t)B, sizeof(int64_t));
        ok = ok && me->A && me->D && me->M && me->N && me->b1 && me->e && me->tmp && me->zero
             && me->pos;
        if (ok && j->momentum) {
            me->VM = calloc((size_t)(mo[L] + 1), sizeof(float));
            me->vb1 = calloc((size_t)pn1, sizeof(float));
            me->gb1 = calloc((size_t)pn1, sizeof(float));
            ok = me->VM && me->vb1 && me->gb1;
        }
        if (!ok)
            break;
        for (int64_t l = 1; l < L; l++) {
            int64_t n_in = sizes[l], n_o = sizes[l + 1];
            pack_layer(me->M + mo[l], params, wo[l], bo[l], n_in, n_o);
            transposed(me->M + mo[l], me->N + no[l], n_in, n_o, PAD(n_in), PAD(n_o));
            if (j->momentum)
                pack_layer(me->VM + mo[l], velocity, wo[l], bo[l], n_in, n_o);
        }
        memcpy(me->b1, params + bo[0], (size_t)n1 * sizeof(float));
        if (j->momentum)
            memcpy(me->vb1, velocity + bo[0], (size_t)n1 * sizeof(float));
    }
    if (ok && j->threads == 2) {
        j->Z = calloc((size_t)(4 * B * pn1), sizeof(float));
        ok = j->Z != NULL;
    }
    if (!ok) {
        free_job(j);
        return NUDGE_NO_MEMORY;
    }
#ifdef NUDGE_PTHREADS
    pthread_t second;
    if (j->threads == 2 && pthread_create(&second, NULL, second_thread, j) != 0)
        j->threads = 1;         /* the same result, on one thread */
    __atomic_store_n(&j->go, 1, __ATOMIC_RELEASE);
    run(j, 0);
    if (j->threads == 2)
        pthread_join(second, NULL);
#else
    run(j, 0);
#endif
    const struct lane *me = &j->lanes[0];
    for (int64_t l = 1; l < L; l++) {
        unpack_layer(me->M + mo[l], params, wo[l], bo[l], sizes[l], sizes[l + 1]);
        if (j->momentum)
            unpack_layer(me->VM + mo[l], velocity, wo[l], bo[l], sizes[l], sizes[l + 1]);
    }
    memcpy(params + bo[0], me->b1, (size_t)n1 * sizeof(float));
    if (j->momentum)
        memcpy(velocity + bo[0], me->vb1, (size_t)n1 * sizeof(float));
    free_job(j);
    return NUDGE_OK;
}

/* The output layer's weighted sums z^L of the input rows first..last, into out (a row of
 * sizes[L] floats each): the forward pass of the steps above, on one thread, with no step.
 * nudge.train measures the training set's cost with it (the cost and accuracy are worked
 * out from z^L in Python, by nudge.network's formulas). */
#define FORWARD_ROWS 64
static int forward_rows(struct job *j, const float *params, const int64_t *wo,
                        const int64_t *bo, float *out)
{
    const int64_t *sizes = j->sizes, *off = j->off, *mo = j->mo;
    int64_t L = j->L, n1 = sizes[1], n_out = sizes[L];
    layout(j);
    int64_t width = j->width;
    struct lane *me = &j->lanes[0];
    me->A = calloc((size_t)(FORWARD_ROWS * width), sizeof(float));
    me->M = calloc((size_t)(mo[L] + 1), sizeof(float));
    me->b1 = calloc((size_t)PAD(n1), sizeof(float));
    me->tmp = calloc((size_t)PAD(n1), sizeof(float));
    if (!me->A || !me->M || !me->b1 || !me->tmp) {
        free_job(j);
        return NUDGE_NO_MEMORY;
    }
    for (int64_t l = 1; l < L; l++)
        pack_layer(me->M + mo[l], params, wo[l], bo[l], sizes[l], sizes[l + 1]);
    memcpy(me->b1, params + bo[0], (size_t)n1 * sizeof(float));
    j->W0 = (float *)params + wo[0];            /* only read */
    float *A = me->A;
    for (int64_t start = j->first; start < j->last; start += FORWARD_ROWS) {
        int64_t end = start + FORWARD_ROWS < j->last ? start + FORWARD_ROWS : j->last;
        int64_t m = end - start;
        for (int64_t k = 0; k < m; k++)
            first_sum(j, me, j->indptr[start + k], j->indptr[start + k + 1], me->b1,
                      A + k * width, j->val_float);
        for (int64_t l = 1; l < L; l++) {
            activate_rows(A + off[l - 1], m, width, sizes[l], j->hidden);
            for (int64_t k = 0; k < m; k++)
                dense_forward(me->M + mo[l], sizes[l], PAD(sizes[l + 1]),
                              A + k * width + off[l - 1], A + k * width + off[l]);
        }
        for (int64_t k = 0; k < m; k++)
            memcpy(out + (start - j->first + k) * n_out, A + k * width + off[L - 1],
                   (size_t)n_out * sizeof(float));
    }
    free_job(j);
    return NUDGE_OK;
}

/* The arguments of nudge_sgd_steps, one struct (nudge_steps_args) whose fields are
 * listed once, here: X(C type, name, code for nudge_signature: p pointer, q int64, i int,
 * f float).  nudge.engine.clib builds the same struct with ctypes from its own list
 * (STEPS_ARGS) and checks the two against each other (nudge_signature) before calling. */
#define NUDGE_STEPS_ARGS(X)                                                                  \
    X(const int64_t *, indptr, p)   /* row r's entries: indptr[r] to indptr[r + 1] */       \
    X(const uint16_t *, idx, p)     /* ... their columns (pixels), ascending */             \
    X(const void *, val, p)         /* ... their values: uint8 (times scale) or float32 */  \
    X(int, val_float, i)            /* 1: val is float32 */                                 \
    X(float, scale, f)                                                                      \
    X(const int64_t *, classes, p)  /* one class number per row, or NULL: */                \
    X(const float *, rows, p)       /* ... the desired outputs, n_out per row */            \
    X(const int64_t *, order, p)    /* the rows in the order they are trained on */         \
    X(int64_t, n, q)                /* the length of order */                               \
    X(int64_t, first, q)            /* the steps on order[first:last] */                    \
    X(int64_t, last, q)                                                                     \
    X(int64_t, batch_size, q)                                                               \
    X(float, eta, f)                /* the learning rate */                                 \
    X(float, shrink, f)             /* plain SGD: eta lambda, w -= shrink w before a step */\
    X(float *, params, p)           /* the parameters (layout: top of this file) */         \
    X(const int64_t *, sizes, p)    /* L + 1 layer sizes */                                 \
    X(int64_t, L, q)                                                                        \
    X(const int64_t *, wo, p)       /* where each layer's W^T starts in params */           \
    X(const int64_t *, bo, p)       /* ... and its b */                                     \
    X(int, hidden, i)               /* 0 sigmoid, 1 relu, 2 tanh */                         \
    X(int, output, i)               /* 0 sigmoid, 1 softmax */                              \
    X(int, cost, i)                 /* 0 quadratic, 1 cross-entropy */                      \
    X(int64_t, split, q)            /* > 0: the first pixel of the second range */          \
    X(int, threads, i)              /* 1, or 2 (with a split) */                            \
    X(float *, velocity, p)         /* momentum: v, laid out as params; NULL: plain SGD */  \
    X(float, momentum, f)           /* mu */                                                \
    X(float, weight_decay, f)       /* momentum: lambda (plain SGD: in shrink) */

/* The arguments of nudge_sparse_rows_u8, the same way */
#define NUDGE_ROWS_ARGS(X)                                                                   \
    X(const uint8_t *, pixels, p)   /* n rows of d values, `stride` bytes apart */          \
    X(int64_t, n, q)                                                                        \
    X(int64_t, d, q)                                                                        \
    X(int64_t, stride, q)                                                                   \
    X(int64_t *, indptr, p)                                                                 \
    X(uint16_t *, idx, p)                                                                   \
    X(uint8_t *, val, p)                                                                    \
    X(int, counts_only, i)

/* The arguments of nudge_forward, the same way */
#define NUDGE_FORWARD_ARGS(X)                                                                \
    X(const int64_t *, indptr, p)   /* the input rows, as for nudge_sgd_steps */            \
    X(const uint16_t *, idx, p)                                                             \
    X(const void *, val, p)                                                                 \
    X(int, val_float, i)                                                                    \
    X(float, scale, f)                                                                      \
    X(int64_t, first, q)            /* the rows first..last */                              \
    X(int64_t, last, q)                                                                     \
    X(const float *, params, p)     /* as for nudge_sgd_steps, only read */                 \
    X(const int64_t *, sizes, p)                                                            \
    X(int64_t, L, q)                                                                        \
    X(const int64_t *, wo, p)                                                               \
    X(const int64_t *, bo, p)                                                               \
    X(int, hidden, i)               /* 0 sigmoid, 1 relu, 2 tanh */                         \
    X(float *, out, p)              /* z^L: last - first rows of sizes[L] floats */

#define NUDGE_FIELD(type, name, code) type name;
struct nudge_steps_args { NUDGE_STEPS_ARGS(NUDGE_FIELD) };
struct nudge_rows_args { NUDGE_ROWS_ARGS(NUDGE_FIELD) };
struct nudge_forward_args { NUDGE_FORWARD_ARGS(NUDGE_FIELD) };
#undef NUDGE_FIELD

/* "nudge_sgd_steps(indptr:p idx:p ...) nudge_sparse_rows_u8(pixels:p ...) nudge_forward(..)" */
#define NUDGE_SIG(type, name, code) " " #name ":" #code
const char *nudge_signature(void)
{
    return "nudge_sgd_steps(" NUDGE_STEPS_ARGS(NUDGE_SIG) " ) nudge_sparse_rows_u8("
           NUDGE_ROWS_ARGS(NUDGE_SIG) " ) nudge_forward(" NUDGE_FORWARD_ARGS(NUDGE_SIG) " )";
}
#undef NUDGE_SIG

/* A job (all else 0) on the input rows first..last for a network of sizes[0..L], its
 * hidden layers' function `hidden`: what both entry points below start from */
static void new_job(struct job *j, const int64_t *indptr, const uint16_t *idx,
                    const void *val, int val_float, float scale, int64_t first, int64_t last,
                    const int64_t *sizes, int64_t L, int hidden)
{
    memset(j, 0, sizeof *j);
    j->indptr = indptr;
    j->idx = idx;
    j->val = val;
    j->val_float = val_float != 0;
    j->scale = scale;
    j->first = first;
    j->last = last;
    j->sizes = sizes;
    j->L = L;
    j->hidden = hidden;
}

/* SGD steps (plain or with momentum) on the examples order[first:last], batch_size at a
 * time (the last batch of the epoch may be smaller), parameters (and velocity) updated in
 * place; see NUDGE_STEPS_ARGS.  An argument out of range is NUDGE_UNSUPPORTED. */
int nudge_sgd_steps(const struct nudge_steps_args *a)
{
    if (a->hidden < 0 || a->hidden > 2 || a->output < 0 || a->output > 1 || a->cost < 0
        || a->cost > 1 || a->L < 1 || a->L > 64 || a->batch_size < 1)
        return NUDGE_UNSUPPORTED;
    if (a->first < 0 || a->last > a->n || a->first > a->last)
        return NUDGE_UNSUPPORTED;
    if (a->first == a->last)
        return NUDGE_OK;
    struct job j;
    new_job(&j, a->indptr, a->idx, a->val, a->val_float, a->scale, a->first, a->last,
            a->sizes, a->L, a->hidden);
    j.classes = a->classes;
    j.rows = a->rows;
    j.order = a->order;
    j.n = a->n;
    j.batch_size = a->batch_size;
    j.two_ranges = a->split > 0;
    j.split = a->split > a->sizes[0] ? a->sizes[0] : a->split;
    j.eta = a->eta;
    j.shrink = a->shrink;
    j.output = a->output == 1 ? ACT_SOFTMAX : ACT_SIGMOID;
    j.cost = a->cost;
    j.momentum = a->velocity != NULL;
    j.mu = a->momentum;
    j.lambda = a->weight_decay;
    return sgd_steps(&j, a->threads, a->params, a->velocity, a->wo, a->bo);
}

/* The output sums z^L of the input rows first..last (see forward_rows and
 * NUDGE_FORWARD_ARGS).  An argument out of range is NUDGE_UNSUPPORTED. */
int nudge_forward(const struct nudge_forward_args *a)
{
    if (a->hidden < 0 || a->hidden > 2 || a->L < 1 || a->L > 64 || a->first < 0
        || a->first > a->last)
        return NUDGE_UNSUPPORTED;
    struct job j;
    new_job(&j, a->indptr, a->idx, a->val, a->val_float, a->scale, a->first, a->last,
            a->sizes, a->L, a->hidden);
    return forward_rows(&j, a->params, a->wo, a->bo, a->out);
}

/* The non-zero entries of each row of the uint8 matrix `pixels` (n rows of d values, rows
 * `stride` bytes apart), d < 65536.  counts_only: indptr only (indptr[0] = 0,
 * indptr[r + 1] = the entries of rows 0..r), to size idx and val; then again to fill them. */
int nudge_sparse_rows_u8(const struct nudge_rows_args *a)
{
    if (a->d >= 65536)
        return NUDGE_UNSUPPORTED;
    int64_t k = 0, d = a->d;
    a->indptr[0] = 0;
    for (int64_t r = 0; r < a->n; r++) {
        const uint8_t *x = a->pixels + r * a->stride;
        if (a->counts_only) {
            int64_t c = 0;
            for (int64_t p = 0; p < d; p++)
                c += x[p] != 0;
            k += c;
        } else {
            for (int64_t p = 0; p < d; p++) {
                if (x[p] != 0) {
                    a->idx[k] = (uint16_t)p;
                    a->val[k] = x[p];
                    k++;
                }
            }
        }
        a->indptr[r + 1] = k;
    }
    return NUDGE_OK;
}

/* The instruction set this build is for: "avx512", "avx2" or "base". */
const char *nudge_isa(void) { return NUDGE_ISA; }

/* The best build this CPU runs: 2 AVX-512 (F, BW, DQ, VL), 1 AVX2 with FMA, 0 neither. */
int nudge_cpu_level(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
#endif
    return 0;
}

/* setuptools builds this file as extension modules (NUDGE_MODULE: _ckernel,
 * _ckernel_avx2, _ckernel_avx512) and, on some platforms, exports PyInit_<name>; they are
 * not Python modules (nudge.engine.clib loads them with ctypes). */
#ifndef NUDGE_MODULE
#define NUDGE_MODULE _ckernel
#endif
#define NUDGE_CAT(a, b) a##b
#define NUDGE_PYINIT(m) NUDGE_CAT(PyInit_, m)
void *NUDGE_PYINIT(NUDGE_MODULE)(void) { return NULL; }
