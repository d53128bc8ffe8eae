/* The portable kernels of kernels.c, for one element type.
 *
 * kernels.c includes this file once per type after defining T (the element type), S (the name suffix),
 * LOAD(v) (an element to float) and STORE(x) (a float to an element). Plain loops marked
 * `omp simd`, which the compiler vectorises for the CPU it builds on; the arithmetic is float32 with
 * one rounding at the store, as in the AVX-512 bf16 paths of kernels.c.
 */
#define GX_CAT_(a, b) a##_##b
#define GX_CAT(a, b) GX_CAT_(a, b)
#define NAME(f) GX_CAT(f, S)

static inline void NAME(layer_norm)(const T *x, int64_t n, int64_t d, float eps, T *out, float *mean, float *rstd) {
    for (int64_t i = 0; i < n; i++) {
        const T *row = x + i * d;
        T *o = out + i * d;
        float sum = 0.0f, var = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < d; j++) sum += LOAD(row[j]);
        float m = sum / (float)d;
#pragma omp simd reduction(+ : var)
        for (int64_t j = 0; j < d; j++) {
            float c = LOAD(row[j]) - m;
            var += c * c;
        }
        float r = 1.0f / sqrtf(var / (float)d + eps);
#pragma omp simd
        for (int64_t j = 0; j < d; j++) o[j] = STORE((LOAD(row[j]) - m) * r);
        mean[i] = m;
        rstd[i] = r;
    }
}

static inline void NAME(rotate_add)(const T *x, const T *u, const int32_t *index, const float *bias, int64_t n,
                             int64_t tracks, int64_t ts, T *out) {
    for (int64_t i = 0; i < n; i++) {
        for (int64_t t = 0; t < tracks; t++) {
            int64_t r = i * tracks + t;
            const T *src = u + (int64_t)index[r] * ts, *xr = x + r * ts;
            const float *b = bias + t * ts;
            T *o = out + r * ts;
            if (i + GX_PREFETCH_ROWS < n) __builtin_prefetch(u + (int64_t)index[r + GX_PREFETCH_ROWS * tracks] * ts);
#pragma omp simd
            for (int64_t j = 0; j < ts; j++) o[j] = STORE(LOAD(xr[j]) + LOAD(src[j]) + b[j]);
        }
    }
}

static inline void NAME(gather_colsum)(const T *g, const int32_t *index, int64_t n, int64_t tracks, int64_t ts, T *out,
                                float *colsum) {
    int64_t d = tracks * ts;
    float acc[d];
    memset(acc, 0, sizeof(float) * d);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t t = 0; t < tracks; t++) {
            int64_t r = i * tracks + t;
            const T *src = g + (int64_t)index[r] * ts;
            T *o = out + r * ts;
            float *a = acc + t * ts;
            if (i + GX_PREFETCH_ROWS < n) __builtin_prefetch(g + (int64_t)index[r + GX_PREFETCH_ROWS * tracks] * ts);
#pragma omp simd
            for (int64_t j = 0; j < ts; j++) {
                o[j] = src[j];
                a[j] += LOAD(src[j]);
            }
        }
        if ((i + 1) % FLUSH_ROWS == 0) flush(colsum, acc, d);
    }
    flush(colsum, acc, d);
}

static inline void NAME(gelu_backward_colsum)(const T *grad, const T *a, int64_t n, int64_t h, T *out, float *colsum) {
    float acc[h];
    memset(acc, 0, sizeof(float) * h);
    for (int64_t i = 0; i < n; i++) {
        const T *gr = grad + i * h, *ar = a + i * h;
        T *o = out + i * h;
#pragma omp simd
        for (int64_t j = 0; j < h; j++) {
            float value = LOAD(gr[j]) * gelu_derivative(LOAD(ar[j]));
            o[j] = STORE(value);
            acc[j] += value;
        }
        if ((i + 1) % FLUSH_ROWS == 0) flush(colsum, acc, h);
    }
    flush(colsum, acc, h);
}

static inline void NAME(layer_norm_backward_add)(const T *grad, const T *x, const float *mean, const float *rstd,
                                          const T *residual, int64_t n, int64_t d, T *out) {
    for (int64_t i = 0; i < n; i++) {
        const T *gr = grad + i * d, *xr = x + i * d, *res = residual + i * d;
        T *o = out + i * d;
        float m = mean[i], r = rstd[i], sum_g = 0.0f, sum_gx = 0.0f;
#pragma omp simd reduction(+ : sum_g, sum_gx)
        for (int64_t j = 0; j < d; j++) {
            float g = LOAD(gr[j]);
            sum_g += g;
            sum_gx += g * (LOAD(xr[j]) - m) * r;
        }
        float mean_g = sum_g / (float)d, mean_gx = sum_gx / (float)d;
#pragma omp simd
        for (int64_t j = 0; j < d; j++) {
            float xhat = (LOAD(xr[j]) - m) * r;
            o[j] = STORE(LOAD(res[j]) + r * (LOAD(gr[j]) - mean_g - xhat * mean_gx));
        }
    }
}

#undef NAME
#undef GX_CAT
#undef GX_CAT_
