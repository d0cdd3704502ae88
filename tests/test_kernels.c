/* test_kernels.c - every op of every kernel table against a double-precision
 * reference, on odd sizes, partial rotations and extreme scales. Only the
 * scalar table exists so far; SIMD tables join the `tables` list below and get
 * the same checks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* every table this machine runs; filled before each test */
static const qlm_ops *tables[16];
static size_t N_TABLES;

static void load_tables(void) { N_TABLES = (size_t)qlm_ops_list(tables, 16); }
TestSuite(kernels, .init = load_tables);

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float frand(void) { /* uniform in [-1, 1), splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((z >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static void fill(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = frand() * scale;
}

/* |got - want| <= tol * (|want| + floor): relative with an absolute floor. */
static void expect_close(double got, double want, double tol, double floor, const char *what, int64_t i) {
    cr_expect(fabs(got - want) <= tol * (fabs(want) + floor), "%s[%lld]: got %.9g want %.9g", what, (long long)i,
              got, want);
}

Test(kernels, rmsnorm_matches_double) {
    const int64_t sizes[] = {1, 7, 64, 576, 4097};
    const float scales[] = {1.0f, 1e-18f, 1e18f};
    for (size_t t = 0; t < N_TABLES; t++)
        for (size_t s = 0; s < 5; s++)
            for (size_t k = 0; k < 3; k++) {
                const int64_t n = sizes[s];
                float *x = malloc(n * 4), *w = malloc(n * 4), *out = malloc(n * 4);
                fill(x, n, scales[k]);
                fill(w, n, 2.0f);
                tables[t]->rmsnorm(out, x, w, n, 1e-5f);
                double ss = 0;
                for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
                const double inv = 1.0 / sqrt(ss / n + 1e-5);
                /* a few float roundings (mean, sqrt, two products): 1e-6 relative; the
                 * floor covers outputs that are tiny because w or x is */
                for (int64_t i = 0; i < n; i++) expect_close(out[i], x[i] * inv * w[i], 1e-6, 1e-30, "rmsnorm", i);
                free(x), free(w), free(out);
            }
}

Test(kernels, rmsnorm_propagates_nan) {
    float x[8] = {1, 2, 3, NAN, 5, 6, 7, 8}, w[8] = {1, 1, 1, 1, 1, 1, 1, 1}, out[8];
    qlm_ops_ref.rmsnorm(out, x, w, 8, 1e-5f);
    for (int i = 0; i < 8; i++) cr_expect(isnan(out[i]), "a NaN input poisons the whole row");
}

/* The reference rotation, in double, from the same float angle the kernel uses. */
static void rope_double(double *v, const float *x, int head_dim, int n_rot, const float *theta, float pos,
                        qlm_rope_style style) {
    for (int d = 0; d < head_dim; d++) v[d] = x[d];
    for (int i = 0; i < n_rot / 2; i++) {
        const float a = pos * theta[i];
        const int i0 = style == QLM_ROPE_NEOX ? i : 2 * i, i1 = style == QLM_ROPE_NEOX ? i + n_rot / 2 : 2 * i + 1;
        v[i0] = x[i0] * cos((double)a) - x[i1] * sin((double)a);
        v[i1] = x[i0] * sin((double)a) + x[i1] * cos((double)a);
    }
}

Test(kernels, rope_both_styles_partial_rotation) {
    const int head_dim = 64, n_head = 3;
    const int n_rots[] = {64, 32, 2};
    const float positions[] = {0.0f, 1.0f, 17.0f, 4095.0f, -4.0f};
    float theta[32], x[3 * 64], y[3 * 64];
    double want[64];
    for (int i = 0; i < 32; i++) theta[i] = powf(10000.0f, -2.0f * i / 64.0f);
    for (size_t t = 0; t < N_TABLES; t++)
        for (int style = 0; style < 2; style++)
            for (int r = 0; r < 3; r++)
                for (int p = 0; p < 5; p++) {
                    const qlm_rope_style st = style ? QLM_ROPE_NEOX : QLM_ROPE_NORM;
                    fill(x, n_head * head_dim, 3.0f);
                    memcpy(y, x, sizeof x);
                    tables[t]->rope(y, n_head, head_dim, n_rots[r], theta, positions[p], st);
                    for (int h = 0; h < n_head; h++) {
                        rope_double(want, x + h * head_dim, head_dim, n_rots[r], theta, positions[p], st);
                        /* cosf/sinf are within 1-2 ulp; |x| <= 3 so 1e-6 absolute suffices */
                        for (int d = 0; d < head_dim; d++)
                            cr_expect(fabs(y[h * head_dim + d] - want[d]) < 1e-6 * 3 * 4, "rope style %d n_rot %d pos %g "
                                      "head %d dim %d: %g vs %g", style, n_rots[r], positions[p], h, d,
                                      y[h * head_dim + d], want[d]);
                    }
                }
}

Test(kernels, swiglu_matches_double_and_extremes) {
    float g[9] = {0.0f, 1.0f, -1.0f, 20.0f, -20.0f, 100.0f, -1000.0f, 1e-30f, NAN};
    float u[9] = {1.0f, 2.0f, -3.0f, 0.5f, 0.5f, 1.0f, 1.0f, 1.0f, 1.0f}, h[9];
    for (size_t t = 0; t < N_TABLES; t++) {
        tables[t]->swiglu(h, g, u, 9);
        for (int i = 0; i < 8; i++) {
            const double want = g[i] / (1.0 + exp(-(double)g[i])) * u[i];
            expect_close(h[i], want, 1e-6, 1e-30, "swiglu", i);
        }
        cr_expect(isnan(h[8]));
        cr_expect(h[6] == 0.0f, "silu(-1000) underflows to zero, not NaN");
    }
}

/* softmax(scale q.K) V in double over the values as the kernel sees them
 * (F16 caches hold rounded values; Q is rounded like the forward pass does). */
static void attention_double(double *out, const float *q, const float *k, const float *v, int64_t n_kv,
                             int hd, float scale) {
    double *s = malloc(n_kv * sizeof(double)), max = -INFINITY, sum = 0;
    for (int64_t p = 0; p < n_kv; p++) {
        s[p] = 0;
        for (int d = 0; d < hd; d++) s[p] += (double)q[d] * k[p * hd + d];
        s[p] *= scale;
        if (s[p] > max) max = s[p];
    }
    for (int64_t p = 0; p < n_kv; p++) sum += (s[p] = exp(s[p] - max));
    for (int d = 0; d < hd; d++) {
        out[d] = 0;
        for (int64_t p = 0; p < n_kv; p++) out[d] += s[p] / sum * v[p * hd + d];
    }
    free(s);
}

static float round_f16(float x) { return qlm_fp16_to_fp32(qlm_fp32_to_fp16(x)); }

static void check_attention(const qlm_ops *ops, int64_t n_kv, int hd, int f16, float qscale) {
    float *q = malloc(hd * 4), *k = malloc(n_kv * hd * 4), *v = malloc(n_kv * hd * 4), *out = malloc(hd * 4);
    float *scores = malloc(n_kv * 4);
    uint16_t *k16 = malloc(n_kv * hd * 2), *v16 = malloc(n_kv * hd * 2);
    double *want = malloc(hd * sizeof(double));
    fill(q, hd, qscale), fill(k, n_kv * hd, 1.0f), fill(v, n_kv * hd, 1.0f);
    if (f16) {
        for (int d = 0; d < hd; d++) q[d] = round_f16(q[d]);
        for (int64_t i = 0; i < n_kv * hd; i++) {
            k16[i] = qlm_fp32_to_fp16(k[i]), k[i] = qlm_fp16_to_fp32(k16[i]);
            v16[i] = qlm_fp32_to_fp16(v[i]), v[i] = qlm_fp16_to_fp32(v16[i]);
        }
    }
    const float scale = 1.0f / sqrtf((float)hd);
    ops->attention_head(out, q, f16 ? (void *)k16 : (void *)k, f16 ? (void *)v16 : (void *)v,
                        f16 ? QLM_TYPE_F16 : QLM_TYPE_F32, n_kv, hd, hd, scale, scores);
    attention_double(want, q, k, v, n_kv, hd, scale);
    /* outputs are convex combinations of |v| <= 1. F32: float sums over n_kv
     * terms, error <= n_kv * 2^-24 * 1 ~ 2e-5 at n_kv 300. F16: each
     * probability is rounded to F16 (relative 2^-11), so |error| <= 2^-11. */
    const double tol = f16 ? 6e-4 : 3e-5;
    for (int d = 0; d < hd; d++)
        cr_expect(fabs(out[d] - want[d]) <= tol, "attention n_kv %lld f16 %d dim %d: %g vs %g", (long long)n_kv,
                  f16, d, out[d], want[d]);
    free(q), free(k), free(v), free(out), free(scores), free(k16), free(v16), free(want);
}

Test(kernels, attention_head_matches_double) {
    const int64_t lens[] = {1, 2, 17, 300};
    for (size_t t = 0; t < N_TABLES; t++)
        for (int f16 = 0; f16 < 2; f16++)
            for (int i = 0; i < 4; i++) {
                check_attention(tables[t], lens[i], 64, f16, 1.0f);
                check_attention(tables[t], lens[i], 48, f16, 30.0f); /* peaked softmax */
            }
}

/* Q4_1 . Q8_1 uses the Q8_1 block's s = d * sum(q) stored in F16 for the
 * offset term m * s: its rounding (2^-11 relative) is part of the format, so
 * the bound adds sum over blocks of |m| * |s_f16 - d * sum(q)|. */
static double q4_1_offset_slack(const void *wrow, const void *xrow, int64_t n_in) {
    const qlm_block_q4_1 *w = wrow;
    const qlm_block_q8_1 *x = xrow;
    double slack = 0;
    for (int64_t b = 0; b < n_in / QLM_QK4_1; b++) {
        int sum = 0;
        for (int j = 0; j < QLM_QK8_1; j++) sum += x[b].qs[j];
        slack += fabs(qlm_fp16_to_fp32(w[b].m)) *
                 fabs(qlm_fp16_to_fp32(x[b].s) - (double)qlm_fp16_to_fp32(x[b].d) * sum);
    }
    return slack;
}

/* matmul: y = W x for each weight type, against a double product of the
 * dequantized weights and the dequantized (converted) activations. */
static void check_matmul(const qlm_ops *ops, qlm_type type, int64_t n_in, int64_t n_out, int64_t n_tok, int threads) {
    const qlm_type_traits *tt = qlm_type_traits_get(type), *at = qlm_type_traits_get(tt->vec_dot_type);
    float *wf = malloc(n_in * n_out * 4), *x = malloc(n_in * n_tok * 4), *y = malloc(n_out * n_tok * 4);
    float *wd = malloc(n_in * n_out * 4), *xd = malloc(n_in * 4);
    const size_t row = qlm_row_size(type, n_in), arow = qlm_row_size(tt->vec_dot_type, n_in);
    void *wq = malloc(row * n_out), *xq = malloc(arow), *scr = malloc(qlm_matmul_scratch_size(type, n_in, n_tok) + 1);
    fill(wf, n_in * n_out, 0.5f), fill(x, n_in * n_tok, 4.0f);
    for (int64_t r = 0; r < n_out; r++) {
        tt->from_float(wf + r * n_in, (char *)wq + r * row, n_in);
        tt->to_float((char *)wq + r * row, wd + r * n_in, n_in);
    }
    qlm_tensor w = {"w", type, {n_in, n_out, 1, 1}, row, wq};
    ops->matmul(&w, x, n_tok, y, scr, threads);
    for (int64_t i = 0; i < n_tok; i++) {
        at->from_float(x + i * n_in, xq, n_in);
        at->to_float(xq, xd, n_in);
        for (int64_t r = 0; r < n_out; r++) {
            double want = 0, mag = 0;
            for (int64_t j = 0; j < n_in; j++) want += (double)wd[r * n_in + j] * xd[j], mag += fabs((double)wd[r * n_in + j] * xd[j]);
            /* float accumulation over n_in terms plus per-block scaling: within
             * 1e-5 of the magnitude sum for n_in <= 4096 (see test_types.c) */
            const double slack = type == QLM_TYPE_Q4_1 ? q4_1_offset_slack((char *)wq + r * row, xq, n_in) : 0;
            cr_expect(fabs(y[i * n_out + r] - want) <= 1e-5 * mag + 1.01 * slack + 1e-30, "%s matmul tok %lld row %lld: %g vs %g",
                      tt->name, (long long)i, (long long)r, y[i * n_out + r], want);
        }
    }
    free(wf), free(x), free(y), free(wd), free(xd), free(wq), free(xq), free(scr);
}

Test(kernels, matmul_every_type_odd_shapes) {
    const qlm_type types[] = {QLM_TYPE_F32, QLM_TYPE_F16, QLM_TYPE_BF16, QLM_TYPE_Q8_0, QLM_TYPE_Q4_0, QLM_TYPE_Q4_1};
    const int64_t outs[] = {1, 3, 65};
    const int64_t toks[] = {1, 5};
    for (size_t t = 0; t < N_TABLES; t++)
        for (size_t k = 0; k < 6; k++)
            for (int o = 0; o < 3; o++)
                for (int b = 0; b < 2; b++) {
                    check_matmul(tables[t], types[k], 32, outs[o], toks[b], 2);
                    check_matmul(tables[t], types[k], 4096, outs[o], toks[b], 1);
                }
    for (size_t t = 0; t < N_TABLES; t++) check_matmul(tables[t], QLM_TYPE_F32, 7, 3, 2, 2); /* non-block size */
}

/* Splitting rows over threads never changes a result: each row's sum is
 * computed by one thread in a fixed order. */
Test(kernels, matmul_thread_count_is_invisible) {
    const int64_t n_in = 256, n_out = 37, n_tok = 3;
    const size_t row = qlm_row_size(QLM_TYPE_Q4_1, n_in);
    float *wf = malloc(n_in * n_out * 4), *x = malloc(n_in * n_tok * 4), *y1 = malloc(n_out * n_tok * 4),
          *y2 = malloc(n_out * n_tok * 4);
    void *wq = malloc(row * n_out), *scr = malloc(qlm_matmul_scratch_size(QLM_TYPE_Q4_1, n_in, n_tok));
    fill(wf, n_in * n_out, 1.0f), fill(x, n_in * n_tok, 1.0f);
    qlm_type_traits_get(QLM_TYPE_Q4_1)->from_float(wf, wq, n_in * n_out);
    qlm_tensor w = {"w", QLM_TYPE_Q4_1, {n_in, n_out, 1, 1}, row, wq};
    for (size_t t = 0; t < N_TABLES; t++) {
        tables[t]->matmul(&w, x, n_tok, y1, scr, 1);
        tables[t]->matmul(&w, x, n_tok, y2, scr, 2);
        cr_expect(memcmp(y1, y2, n_out * n_tok * 4) == 0);
    }
    free(wf), free(x), free(y1), free(y2), free(wq), free(scr);
}
