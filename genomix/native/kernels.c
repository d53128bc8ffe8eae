/* Fused elementwise passes of a ChordMixer block on bf16 or float32 rows (CPU).
 *
 * Why: on a CPU, a bf16 training step spends about two thirds of its time in elementwise passes that
 * are bound by memory traffic (LayerNorm, the rotation gather, the residual add, GELU's backward, the
 * bias-gradient sums). Each kernel here does in one pass what ATen does in two or three, in float32
 * arithmetic with one rounding to bf16 at the end. Every function is single-threaded and touches only
 * the rows it is given, so callers split rows across threads.
 *
 * bf16 values are passed as uint16_t; indices are int32 rows of `ts` channels (genomix's rotation
 * layout, see genomix/models/rotation.py). Column sums are accumulated in float32 and added to
 * `colsum` (the caller zeroes it). Each kernel exists for bf16 (gx_NAME: AVX-512 intrinsics where the
 * CPU has AVX-512 BF16, else the portable loops of generic.h) and for float32 (gx_NAME_f32: the
 * portable loops, which the compiler vectorises for the CPU it builds on).
 *
 * Compiled on first use by genomix/native/__init__.py with the system C compiler.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef uint16_t bf16;

#if defined(__AVX512F__) && defined(__AVX512BF16__) && defined(__AVX512BW__)
#include <immintrin.h>
#define GX_AVX512 1
/* 16 bf16 <-> 16 float32 under a mask (a row's last vector may be partial) */
static inline __mmask16 mask16(int64_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u); }
static inline __m512 load16(const bf16 *p, __mmask16 k) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p)), 16));
}
static inline void store16(bf16 *p, __mmask16 k, __m512 v) {
    _mm256_mask_storeu_epi16(p, k, (__m256i)_mm512_cvtneps_pbh(v));
}
/* exp(y) for y <= 0, the polynomial of exp_neg below */
static inline __m512 exp_neg16(__m512 y) {
    y = _mm512_max_ps(y, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_fmadd_ps(y, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
                                    _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), y);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}
#endif

#define FLUSH_ROWS 512 /* rows summed in a local float32 buffer before it is added to colsum */
/* Gathers ask for the source rows of the row this far ahead: the rotation reads one short row from each
 * of n_tracks far-apart streams per row, more streams than the hardware prefetchers follow. Measured on
 * the 2-vCPU AMD EPYC (Zen 4) of docs/benchmarks.md, 16,384 rows x 15 tracks of 16 channels, CPU time,
 * before -> after in one run: float32 rotate_add 3.8 -> 3.0 ms, gather_colsum 3.7 -> 3.1 ms; bf16
 * rotate_add 5.2 -> 1.8 ms, gather_colsum 4.3 -> 1.6 ms (4 rows ahead about the same, 16 a little slower). */
#define GX_PREFETCH_ROWS 8

static inline float bf2f(bf16 v) {
    union { uint32_t u; float f; } c;
    c.u = (uint32_t)v << 16;
    return c.f;
}

/* Round to nearest even, as torch does; NaN stays NaN. */
static inline bf16 f2bf(float f) {
    union { float f; uint32_t u; } c;
    c.f = f;
    uint32_t u = c.u;
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x40u;
    return (bf16)(((u & 0x7fffffffu) > 0x7f800000u) ? nan : rounded);
}

/* exp(y) for y <= 0 (Cephes' single-precision polynomial; relative error about 1e-7). */
static inline float exp_neg(float y) {
    y = y < -87.0f ? -87.0f : y;
    float n = floorf(y * 1.44269504088896341f + 0.5f);
    float r = y - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { uint32_t u; float f; } scale;
    scale.u = (uint32_t)((int32_t)n + 127) << 23;
    return p * scale.f;
}

static void flush(float *colsum, float *acc, int64_t d) {
    for (int64_t j = 0; j < d; j++) {
        colsum[j] += acc[j];
        acc[j] = 0.0f;
    }
}

/* GELU'(x) = Phi(x) + x phi(x) (exact GELU), with erf from Abramowitz & Stegun 7.1.26 (absolute error
 * below 1.5e-7): erf(z) = 1 - poly(t) exp(-z^2), t = 1 / (1 + p z), z = |x| / sqrt(2). */
#define A_S_P 0.3275911f
#define A_S_1 0.254829592f
#define A_S_2 -0.284496736f
#define A_S_3 1.421413741f
#define A_S_4 -1.453152027f
#define A_S_5 1.061405429f
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static inline float gelu_derivative(float x) {
    float e = exp_neg(-0.5f * x * x);
    float t = 1.0f / (1.0f + A_S_P * fabsf(x) * INV_SQRT2);
    float poly = t * (A_S_1 + t * (A_S_2 + t * (A_S_3 + t * (A_S_4 + t * A_S_5))));
    float erf_abs = 1.0f - poly * e;
    return 0.5f * (1.0f + (x < 0.0f ? -erf_abs : erf_abs)) + x * e * INV_SQRT_2PI;
}

#ifdef GX_AVX512
static inline __m512 gelu_derivative16(__m512 x) {
    __m512 e = exp_neg16(_mm512_mul_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(-0.5f)));
    __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(INV_SQRT2));
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(z, _mm512_set1_ps(A_S_P), _mm512_set1_ps(1.0f)));
    __m512 poly = _mm512_fmadd_ps(t, _mm512_set1_ps(A_S_5), _mm512_set1_ps(A_S_4));
    poly = _mm512_fmadd_ps(t, poly, _mm512_set1_ps(A_S_3));
    poly = _mm512_fmadd_ps(t, poly, _mm512_set1_ps(A_S_2));
    poly = _mm512_fmadd_ps(t, poly, _mm512_set1_ps(A_S_1));
    poly = _mm512_mul_ps(t, poly);
    __m512 erf_abs = _mm512_fnmadd_ps(poly, e, _mm512_set1_ps(1.0f));
    __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 erf = _mm512_mask_sub_ps(erf_abs, negative, _mm512_setzero_ps(), erf_abs);
    __m512 cdf = _mm512_mul_ps(_mm512_add_ps(erf, _mm512_set1_ps(1.0f)), _mm512_set1_ps(0.5f));
    return _mm512_fmadd_ps(_mm512_mul_ps(x, e), _mm512_set1_ps(INV_SQRT_2PI), cdf);
}
#endif

/* The portable kernels, once per element type (see generic.h). */
#define T bf16
#define S bf16
#define LOAD(v) bf2f(v)
#define STORE(x) f2bf(x)
#include "generic.h"
#undef T
#undef S
#undef LOAD
#undef STORE

#define T float
#define S f32
#define LOAD(v) (v)
#define STORE(x) (x)
#include "generic.h"
#undef T
#undef S
#undef LOAD
#undef STORE

/* Normalize each row (no affine): out = (x - mean) * rstd; mean and rstd (float32) per row. */
void gx_layer_norm(const bf16 *x, int64_t n, int64_t d, float eps, bf16 *out, float *mean, float *rstd) {
#ifdef GX_AVX512
    for (int64_t i = 0; i < n; i++) {
        const bf16 *row = x + i * d;
        bf16 *o = out + i * d;
        __m512 sum = _mm512_setzero_ps();
        for (int64_t j = 0; j < d; j += 16) sum = _mm512_add_ps(sum, load16(row + j, mask16(d - j)));
        float m = _mm512_reduce_add_ps(sum) / (float)d;
        __m512 vm = _mm512_set1_ps(m), var = _mm512_setzero_ps();
        for (int64_t j = 0; j < d; j += 16) {
            __mmask16 k = mask16(d - j);
            __m512 c = _mm512_maskz_sub_ps(k, load16(row + j, k), vm);
            var = _mm512_fmadd_ps(c, c, var);
        }
        float r = 1.0f / sqrtf(_mm512_reduce_add_ps(var) / (float)d + eps);
        __m512 vr = _mm512_set1_ps(r);
        for (int64_t j = 0; j < d; j += 16) {
            __mmask16 k = mask16(d - j);
            store16(o + j, k, _mm512_mul_ps(_mm512_sub_ps(load16(row + j, k), vm), vr));
        }
        mean[i] = m;
        rstd[i] = r;
    }
#else
    layer_norm_bf16(x, n, d, eps, out, mean, rstd);
#endif
}

/* out = x + rotate(u) + bias: row r = (token, track) of `ts` channels reads u's row index[r]. */
void gx_rotate_add(const bf16 *x, const bf16 *u, const int32_t *index, const float *bias, int64_t n,
                   int64_t tracks, int64_t ts, bf16 *out) {
#ifdef GX_AVX512
    for (int64_t i = 0; i < n; i++) {
        for (int64_t t = 0; t < tracks; t++) {
            int64_t r = i * tracks + t;
            const bf16 *src = u + (int64_t)index[r] * ts, *xr = x + r * ts;
            const float *b = bias + t * ts;
            bf16 *o = out + r * ts;
            if (i + GX_PREFETCH_ROWS < n) __builtin_prefetch(u + (int64_t)index[r + GX_PREFETCH_ROWS * tracks] * ts);
            for (int64_t j = 0; j < ts; j += 16) {
                __mmask16 k = mask16(ts - j);
                __m512 v = _mm512_add_ps(load16(xr + j, k), load16(src + j, k));
                store16(o + j, k, _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + j)));
            }
        }
    }
#else
    rotate_add_bf16(x, u, index, bias, n, tracks, ts, out);
#endif
}

/* out = rotate(g) by `index` (a gather of ts-channel rows), and colsum += the column sums of out. The
 * portable loop: an AVX-512 version measured the same (a gather is bound by memory, not arithmetic). */
void gx_gather_colsum(const bf16 *g, const int32_t *index, int64_t n, int64_t tracks, int64_t ts, bf16 *out,
                      float *colsum) {
    gather_colsum_bf16(g, index, n, tracks, ts, out, colsum);
}

/* out = grad * GELU'(a), and colsum += the column sums of out (before rounding). */
void gx_gelu_backward_colsum(const bf16 *grad, const bf16 *a, int64_t n, int64_t h, bf16 *out, float *colsum) {
#ifdef GX_AVX512
    float acc[h];
    memset(acc, 0, sizeof(float) * h);
    for (int64_t i = 0; i < n; i++) {
        const bf16 *gr = grad + i * h, *ar = a + i * h;
        bf16 *o = out + i * h;
        for (int64_t j = 0; j < h; j += 16) {
            __mmask16 k = mask16(h - j);
            __m512 value = _mm512_mul_ps(load16(gr + j, k), gelu_derivative16(load16(ar + j, k)));
            store16(o + j, k, value);
            _mm512_mask_storeu_ps(acc + j, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, acc + j), value));
        }
        if ((i + 1) % FLUSH_ROWS == 0) flush(colsum, acc, h);
    }
    flush(colsum, acc, h);
#else
    gelu_backward_colsum_bf16(grad, a, n, h, out, colsum);
#endif
}

/* out = residual + LayerNorm'(x) applied to grad (no affine), from x and its float32 mean and rstd:
 * rstd * (grad - mean(grad) - xhat * mean(grad * xhat)). */
void gx_layer_norm_backward_add(const bf16 *grad, const bf16 *x, const float *mean, const float *rstd,
                                const bf16 *residual, int64_t n, int64_t d, bf16 *out) {
#ifdef GX_AVX512
    for (int64_t i = 0; i < n; i++) {
        const bf16 *gr = grad + i * d, *xr = x + i * d, *res = residual + i * d;
        bf16 *o = out + i * d;
        __m512 vm = _mm512_set1_ps(mean[i]), vr = _mm512_set1_ps(rstd[i]);
        __m512 sum_g = _mm512_setzero_ps(), sum_gx = _mm512_setzero_ps();
        for (int64_t j = 0; j < d; j += 16) {
            __mmask16 k = mask16(d - j);
            __m512 g = load16(gr + j, k);
            __m512 xhat = _mm512_mul_ps(_mm512_maskz_sub_ps(k, load16(xr + j, k), vm), vr);
            sum_g = _mm512_add_ps(sum_g, g);
            sum_gx = _mm512_fmadd_ps(g, xhat, sum_gx);
        }
        __m512 mean_g = _mm512_set1_ps(_mm512_reduce_add_ps(sum_g) / (float)d);
        __m512 mean_gx = _mm512_set1_ps(_mm512_reduce_add_ps(sum_gx) / (float)d);
        for (int64_t j = 0; j < d; j += 16) {
            __mmask16 k = mask16(d - j);
            __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(load16(xr + j, k), vm), vr);
            __m512 inner = _mm512_fnmadd_ps(xhat, mean_gx, _mm512_sub_ps(load16(gr + j, k), mean_g));
            store16(o + j, k, _mm512_fmadd_ps(inner, vr, load16(res + j, k)));
        }
    }
#else
    layer_norm_backward_add_bf16(grad, x, mean, rstd, residual, n, d, out);
#endif
}

/* float32: the portable loops. */
void gx_layer_norm_f32(const float *x, int64_t n, int64_t d, float eps, float *out, float *mean, float *rstd) {
    layer_norm_f32(x, n, d, eps, out, mean, rstd);
}
void gx_rotate_add_f32(const float *x, const float *u, const int32_t *index, const float *bias, int64_t n,
                       int64_t tracks, int64_t ts, float *out) {
    rotate_add_f32(x, u, index, bias, n, tracks, ts, out);
}
void gx_gather_colsum_f32(const float *g, const int32_t *index, int64_t n, int64_t tracks, int64_t ts, float *out,
                          float *colsum) {
    gather_colsum_f32(g, index, n, tracks, ts, out, colsum);
}
void gx_gelu_backward_colsum_f32(const float *grad, const float *a, int64_t n, int64_t h, float *out,
                                 float *colsum) {
    gelu_backward_colsum_f32(grad, a, n, h, out, colsum);
}
void gx_layer_norm_backward_add_f32(const float *grad, const float *x, const float *mean, const float *rstd,
                                    const float *residual, int64_t n, int64_t d, float *out) {
    layer_norm_backward_add_f32(grad, x, mean, rstd, residual, n, d, out);
}

/* A version number the loader checks, so a stale library is never used with newer Python code. */
int gx_version(void) { return 2; }
