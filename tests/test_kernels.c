/* test_kernels.c - every op of every kernel table this machine runs (the
 * scalar reference and each SIMD table from qlm_ops_list) against a
 * double-precision reference, on odd sizes, partial rotations and extreme
 * scales, plus SIMD-vs-reference checks on adversarial matmul inputs. The
 * bounds hold for any summation order: SIMD kernels reorder float adds. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h" /* qlm_expf_ref */
#include "ops.h"
#include "pack.h"
#include "qlm.h"

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

/* gelu_tanh(g) u = 0.5 g (1 + tanh(z/2)) u against double, computed as
 * g / (1 + e^-z) u (the tanh form cancels for g << 0). Bound: the argument
 * z = 2 sqrt(2/pi) g (1 + 0.044715 g^2) takes 4 roundings and 2 rounded
 * constants, up to ~7 U |z| absolute, which exp turns relative; exp itself
 * 2 ulp, then an add, a divide and a multiply: (8 + 8 |z|) U relative. */
Test(kernels, geglu_matches_double_and_extremes) {
    float g[10] = {0.0f, 1.0f, -1.0f, 3.0f, -3.0f, 20.0f, -20.0f, 1000.0f, -1000.0f, 1e-30f};
    float u[10] = {1.0f, 2.0f, -3.0f, 0.5f, 0.5f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f}, h[10];
    for (size_t t = 0; t < N_TABLES; t++) {
        tables[t]->geglu(h, g, u, 10);
        for (int i = 0; i < 10; i++) {
            const double x = g[i], z = 1.5957691216057308 * x * (1.0 + 0.044715 * x * x);
            const double want = x / (1.0 + exp(-z)) * u[i]; /* 0.5 x (1 + tanh(z / 2)) without cancellation */
            const double tol = (8 + 8 * fmin(fabs(z), 100.0)) * 0x1p-24 * fabs(want) + 1e-38;
            cr_expect(fabs(h[i] - want) <= tol, "%s geglu(%g) = %.9g, want %.9g", tables[t]->name, g[i], h[i], want);
        }
        cr_expect(h[8] == 0.0f, "gelu(-1000) is zero, not NaN");
        cr_expect(h[7] == 1000.0f, "gelu(1000) is the input");
    }
}

/* The engine's exp, which every table replays bit for bit: within 2 ulp of
 * exp over the whole range softmax and SiLU use (Cephes' polynomial is
 * ~1 ulp; the reduction adds at most one more rounding), and exactly 0, +Inf,
 * NaN at the edges. */
Test(kernels, expf_ref_within_2_ulp) {
    double worst = 0;
    for (float x = -87.0f; x < 88.0f; x += 0.0013f) {
        const double want = exp((double)x), got = qlm_expf_ref(x);
        const double ulp = ldexp(1.0, ilogb(want) - 23);
        const double err = fabs(got - want) / ulp;
        if (err > worst) worst = err;
    }
    cr_expect_leq(worst, 2.0, "worst error %.2f ulp", worst);
    cr_expect_eq(qlm_expf_ref(0.0f), 1.0f);
    cr_expect_eq(qlm_expf_ref(-100.0f), 0.0f);
    cr_expect(isinf(qlm_expf_ref(100.0f)));
    cr_expect(isnan(qlm_expf_ref(NAN)));
    cr_expect_eq(qlm_expf_ref(-INFINITY), 0.0f);
}

/* SiLU, GELU and attention are reproduced bit for bit by every table (see the
 * forward test every_kernel_table_matches_ref for why): lengths around the
 * vector widths, inputs across exp's range and its edges. */
Test(kernels, swiglu_geglu_and_attention_bitwise_equal_ref) {
    float g[203], u[203], h[203], hr[203];
    fill(g, 203, 30.0f), fill(u, 203, 2.0f);
    g[3] = NAN, g[10] = 1000.0f, g[11] = -1000.0f, g[12] = 88.5f, g[13] = -88.0f, g[14] = 0.0f;
    for (size_t t = 0; t < N_TABLES; t++)
        for (int n = 1; n <= 203; n += 17) {
            tables[t]->swiglu(h, g, u, n);
            qlm_ops_ref.swiglu(hr, g, u, n);
            cr_expect(memcmp(h, hr, n * sizeof(float)) == 0, "%s swiglu n %d", tables[t]->name, n);
            tables[t]->geglu(h, g, u, n);
            qlm_ops_ref.geglu(hr, g, u, n);
            cr_expect(memcmp(h, hr, n * sizeof(float)) == 0, "%s geglu n %d", tables[t]->name, n);
        }
    const int hds[] = {64, 72, 80, 128};
    for (size_t t = 0; t < N_TABLES; t++)
        for (int i = 0; i < 4; i++)
            for (int64_t n_kv = 1; n_kv <= 70; n_kv += 23) {
                const int hd = hds[i];
                float q[128], *kf = malloc(n_kv * hd * 4), *vf = malloc(n_kv * hd * 4), out[128], outr[128];
                uint16_t *k = malloc(n_kv * hd * 2), *v = malloc(n_kv * hd * 2);
                float *scr = malloc(n_kv * 4);
                fill(q, hd, 3.0f), fill(kf, n_kv * hd, 3.0f), fill(vf, n_kv * hd, 1.0f);
                for (int64_t j = 0; j < n_kv * hd; j++) k[j] = qlm_fp32_to_fp16(kf[j]), v[j] = qlm_fp32_to_fp16(vf[j]);
                for (int d = 0; d < hd; d++) q[d] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(q[d]));
                tables[t]->attention_head(out, q, k, v, QLM_TYPE_F16, n_kv, hd, hd, 0.125f, scr);
                qlm_ops_ref.attention_head(outr, q, k, v, QLM_TYPE_F16, n_kv, hd, hd, 0.125f, scr);
                cr_expect(memcmp(out, outr, hd * sizeof(float)) == 0, "%s attention hd %d n_kv %lld", tables[t]->name,
                          hd, (long long)n_kv);
                free(kf), free(vf), free(k), free(v), free(scr);
            }
    /* several query heads sharing one K/V head (GQA), K/V rows strided as
     * in the cache: the grouped kernels against the reference head by head,
     * on fewer positions than one 16-position step, steps plus a tail, and
     * a long context */
    const int64_t n_kvs[] = {5, 37, 300}, stride = 3 * 64;
    const int heads[] = {1, 3, 8, 9};
    float *q = malloc(9 * 64 * 4), *out = malloc(9 * 64 * 4), *outr = malloc(9 * 64 * 4), *scr = malloc(9 * 300 * 4);
    uint16_t *k = malloc(300 * stride * 2), *v = malloc(300 * stride * 2);
    for (int64_t j = 0; j < 300 * stride; j++) k[j] = qlm_fp32_to_fp16(frand() * 3), v[j] = qlm_fp32_to_fp16(frand());
    for (int d = 0; d < 9 * 64; d++) q[d] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(frand() * 3));
    for (size_t t = 0; t < N_TABLES; t++)
        for (int n = 0; n < 3; n++)
            for (int i = 0; i < 4; i++) {
                const int64_t n_kv = n_kvs[n];
                tables[t]->attention_heads(out, q, heads[i], k + 64, v + 64, QLM_TYPE_F16, n_kv, stride, 64, 0.125f,
                                           scr);
                for (int h = 0; h < heads[i]; h++)
                    qlm_ops_ref.attention_head(outr + h * 64, q + h * 64, k + 64, v + 64, QLM_TYPE_F16, n_kv, stride,
                                               64, 0.125f, scr);
                cr_expect(memcmp(out, outr, heads[i] * 64 * sizeof(float)) == 0, "%s attention_heads x%d n_kv %lld",
                          tables[t]->name, heads[i], (long long)n_kv);
            }
    free(q), free(out), free(outr), free(scr), free(k), free(v);
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
    qlm_tensor w = {"w", type, {n_in, n_out, 1, 1}, row, wq, QLM_LAYOUT_ROWS};
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
    qlm_tensor w = {"w", QLM_TYPE_Q4_1, {n_in, n_out, 1, 1}, row, wq, QLM_LAYOUT_ROWS};
    for (size_t t = 0; t < N_TABLES; t++) {
        tables[t]->matmul(&w, x, n_tok, y1, scr, 1);
        tables[t]->matmul(&w, x, n_tok, y2, scr, 2);
        cr_expect(memcmp(y1, y2, n_out * n_tok * 4) == 0);
    }
    free(wf), free(x), free(y1), free(y2), free(wq), free(scr);
}

/* ------------------------------------------------ SIMD vs ref, adversarial */

enum { W_RANDOM, W_EXTREME, X_RANDOM, X_SCALES, X_NONFINITE };

/* Block scales at the edges of F16: the largest normal (65504), the smallest
 * normal (2^-14) and zero blocks, cycling over blocks; float types get
 * elements at the same edges instead. MXFP4's one-byte E8M0 scale gets its
 * own edges: e = 252, the largest whose values (12 * 2^124) the float
 * oracle's dequantization keeps finite, and e = 0 (2^-128, subnormal). */
static void make_extreme(qlm_type type, void *row, int64_t n_in) {
    const qlm_type_traits *tt = qlm_type_traits_get(type);
    const int64_t nb = n_in / tt->block_size;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = (uint8_t *)row + b * tt->type_size;
        const uint16_t edge[4] = {0x7bff, 0x0400, 0x0000, 0};
        if (tt->is_quantized) {
            if (b % 4 == 3) continue;
            if (type == QLM_TYPE_MXFP4) blk[0] = b % 4 == 0 ? 252 : 0;
            else memcpy(blk, &edge[b % 4], 2); /* d is the first field of every block */
            if (b % 4 == 2) memset(blk + 2, 0, tt->type_size - 2); /* a zero block (Q4_1: m = 0 too) */
        } else if (b % 7 == 0) {
            const float big = type == QLM_TYPE_F16 ? 65504.0f : 1e30f, tiny = type == QLM_TYPE_F16 ? 6.1035156e-5f : 1e-30f;
            const float v = (b / 7) % 2 ? tiny : -big;
            tt->from_float(&v, blk, 1);
        }
    }
}

static void make_activations(float *x, int64_t n_in, int64_t n_tok, int xcase) {
    fill(x, n_in * n_tok, 4.0f);
    /* each block its own magnitude, 1e-30 .. 1e6: the top keeps a Q8 block's
     * scale (amax / 127) below F16's 65504; beyond it the scale is Inf, which
     * X_NONFINITE covers */
    static const float mags[6] = {1e-30f, 1e-20f, 1e-10f, 1.0f, 1e4f, 1e6f};
    if (xcase == X_SCALES)
        for (int64_t i = 0; i < n_in * n_tok; i++) x[i] *= mags[(i / 32) % 6];
    if (xcase == X_NONFINITE) {
        x[5 % n_in] = NAN;
        if (n_tok > 1) x[n_in + n_in / 2] = INFINITY;
    }
}

/* One adversarial case on one table: each output against the double product
 * of the dequantized operands (within the same 1e-5 * sum|w x| bound as
 * check_matmul), and NaN/Inf exactly where the reference table has them. */
static void check_matmul_adv_layout(const qlm_ops *ops, qlm_type type, int64_t n_in, int64_t n_out,
                                    int64_t n_tok, int wcase, int xcase, qlm_layout layout) {
    const qlm_type_traits *tt = qlm_type_traits_get(type), *at = qlm_type_traits_get(tt->vec_dot_type);
    const size_t row = qlm_row_size(type, n_in), arow = qlm_row_size(tt->vec_dot_type, n_in);
    float *wf = malloc(n_in * n_out * 4), *x = malloc(n_in * n_tok * 4), *wd = malloc(n_in * n_out * 4);
    float *xd = malloc(n_in * 4), *y = malloc(n_out * n_tok * 4), *yr = malloc(n_out * n_tok * 4);
    void *wq = malloc(row * n_out), *xq = malloc(arow), *scr = malloc(qlm_matmul_scratch_size(type, n_in, n_tok) + 1);
    fill(wf, n_in * n_out, 0.5f);
    make_activations(x, n_in, n_tok, xcase);
    for (int64_t r = 0; r < n_out; r++) {
        tt->from_float(wf + r * n_in, (char *)wq + r * row, n_in);
        if (wcase == W_EXTREME) make_extreme(type, (char *)wq + r * row, n_in);
        tt->to_float((char *)wq + r * row, wd + r * n_in, n_in);
    }
    qlm_tensor w = {"w", type, {n_in, n_out, 1, 1}, row, wq, QLM_LAYOUT_ROWS};
    void *packed = NULL; /* R16: the kernels read a packed copy; wq stays row-major for the checks */
    if (layout == QLM_LAYOUT_R16) {
        void *tmp = malloc(QLM_PACK_ROWS * row);
        packed = malloc(row * n_out);
        memcpy(packed, wq, row * n_out);
        qlm_pack_groups(&w, packed, 0, n_out / QLM_PACK_ROWS, tmp);
        free(tmp);
        w.data = packed, w.layout = QLM_LAYOUT_R16;
    }
    ops->matmul(&w, x, n_tok, y, scr, 2);
    qlm_ops_ref.matmul(&w, x, n_tok, yr, scr, 2);
    /* R16 kernels compute each block's integer dot exactly and apply the
     * scales with separate multiplies and adds in the reference's order:
     * every ISA gives the reference's bits */
    if (packed)
        for (int64_t i = 0; i < n_out * n_tok; i++)
            cr_expect(memcmp(&y[i], &yr[i], 4) == 0 || (isnan(y[i]) && isnan(yr[i])),
                      "%s %s r16 n %lld out %lld: [%lld] %.9g vs ref %.9g", ops->name, tt->name, (long long)n_in,
                      (long long)n_out, (long long)i, y[i], yr[i]);
    for (int64_t i = 0; i < n_tok; i++) {
        at->from_float(x + i * n_in, xq, n_in);
        at->to_float(xq, xd, n_in);
        for (int64_t r = 0; r < n_out; r++) {
            const float got = y[i * n_out + r], ref = yr[i * n_out + r];
            /* Non-finite exactly where the reference is, NaN wherever it is NaN.
             * An Inf may come out as NaN: once lanes hold +Inf and -Inf partial
             * sums, whether they meet (NaN) depends on the summation order. */
            cr_expect(isfinite(got) == isfinite(ref) && (!isnan(ref) || isnan(got)), "%s %s n %lld tok %lld row %lld case %d/%d: "
                      "%g vs ref %g", ops->name, tt->name, (long long)n_in, (long long)i, (long long)r, wcase, xcase, got, ref);
            if (!isfinite(ref)) continue;
            double want = 0, mag = 0;
            for (int64_t j = 0; j < n_in; j++) {
                const double p = (double)wd[r * n_in + j] * xd[j];
                want += p, mag += fabs(p);
            }
            const double slack = type == QLM_TYPE_Q4_1 ? q4_1_offset_slack((char *)wq + r * row, xq, n_in) : 0;
            cr_expect(fabs(got - want) <= 1e-5 * mag + 1.01 * slack + 1e-30, "%s %s n %lld tok %lld row %lld case %d/%d: "
                      "%.9g vs %.9g", ops->name, tt->name, (long long)n_in, (long long)i, (long long)r, wcase, xcase, got, want);
        }
    }
    free(wf), free(x), free(wd), free(xd), free(y), free(yr), free(wq), free(xq), free(scr), free(packed);
}

static void check_matmul_adv(const qlm_ops *ops, qlm_type type, int64_t n_in, int64_t n_out, int64_t n_tok,
                             int wcase, int xcase) {
    check_matmul_adv_layout(ops, type, n_in, n_out, n_tok, wcase, xcase, QLM_LAYOUT_ROWS);
}

/* n a multiple of the block (32) but not of the SIMD width (8/16 floats, 64
 * bytes = two blocks), rows that leave a remainder for any row blocking. */
Test(kernels, matmul_simd_matches_ref_adversarial) {
    const qlm_type types[] = {QLM_TYPE_F32, QLM_TYPE_F16, QLM_TYPE_BF16, QLM_TYPE_Q8_0, QLM_TYPE_Q4_0, QLM_TYPE_Q4_1};
    const int64_t ns[] = {32, 96, 160, 544}, outs[] = {1, 3, 65};
    for (size_t t = 0; t < N_TABLES; t++)
        for (size_t k = 0; k < 6; k++)
            for (int a = 0; a < 4; a++)
                for (int o = 0; o < 3; o++)
                    for (int wc = W_RANDOM; wc <= W_EXTREME; wc++)
                        for (int xc = X_RANDOM; xc <= X_NONFINITE; xc++)
                            check_matmul_adv(tables[t], types[k], ns[a], outs[o], o == 1 ? 1 : 3, wc, xc);
    /* float rows of any length: tails shorter than one vector */
    for (size_t t = 0; t < N_TABLES; t++)
        for (size_t k = 0; k < 3; k++)
            for (int64_t n = 1; n <= 40; n += 3) check_matmul_adv(tables[t], types[k], n, 3, 2, W_RANDOM, X_NONFINITE);
}

/* The packed (R16) kernels: 16-row groups x token tiles of 8 (AVX-512) and
 * 2 (AVX2) with every tail, against the double product and bit for bit
 * against the packed reference. */
Test(kernels, matmul_r16_matches_ref_adversarial) {
    const qlm_type types[] = {QLM_TYPE_Q8_0, QLM_TYPE_Q4_0,   QLM_TYPE_Q4_1,
                              QLM_TYPE_Q5_0, QLM_TYPE_IQ4_NL, QLM_TYPE_MXFP4};
    const size_t n_types = sizeof types / sizeof types[0];
    const int64_t ns[] = {32, 96, 544}, toks[] = {1, 2, 3, 7, 8, 13};
    for (size_t t = 0; t < N_TABLES; t++)
        for (size_t k = 0; k < n_types; k++)
            for (int a = 0; a < 3; a++)
                for (int o = 0; o < 6; o++)
                    for (int wc = W_RANDOM; wc <= W_EXTREME; wc++)
                        for (int xc = X_RANDOM; xc <= X_NONFINITE; xc++)
                            check_matmul_adv_layout(tables[t], types[k], ns[a], o % 2 ? 48 : 16, toks[o], wc, xc,
                                                    QLM_LAYOUT_R16);
    for (size_t t = 0; t < N_TABLES; t++) /* a long row: 128 blocks */
        for (size_t k = 0; k < n_types; k++)
            check_matmul_adv_layout(tables[t], types[k], 4096, 32, 5, W_RANDOM, X_SCALES, QLM_LAYOUT_R16);
}

/* A NaN activation poisons a float-weight row; the Q8 quantizers map NaN to
 * 0 (the reference does, via fmaxf and its NaN check), so there the row
 * stays finite, on every table alike. An Inf activation makes the block
 * scale Inf, and 0 * Inf turns the row into NaN. */
Test(kernels, matmul_nonfinite_activations_like_ref) {
    const int64_t n_in = 64;
    float x[2 * 64], wf[64], y[2];
    for (int i = 0; i < 128; i++) x[i] = 0.25f;
    x[3] = NAN, x[64 + 3] = INFINITY;
    for (int i = 0; i < 64; i++) wf[i] = 0.5f;
    const qlm_type types[] = {QLM_TYPE_F32, QLM_TYPE_F16, QLM_TYPE_BF16, QLM_TYPE_Q8_0, QLM_TYPE_Q4_0, QLM_TYPE_Q4_1};
    for (size_t t = 0; t < N_TABLES; t++)
        for (int k = 0; k < 6; k++) {
            const qlm_type_traits *tt = qlm_type_traits_get(types[k]);
            uint8_t wq[256], scr[256];
            tt->from_float(wf, wq, n_in);
            qlm_tensor w = {"w", types[k], {n_in, 1, 1, 1}, qlm_row_size(types[k], n_in), wq, QLM_LAYOUT_ROWS};
            tables[t]->matmul(&w, x, 2, y, scr, 1);
            cr_expect(tt->is_quantized ? isfinite(y[0]) : isnan(y[0]), "%s %s NaN row: %g", tables[t]->name, tt->name, y[0]);
            cr_expect(tt->is_quantized ? isnan(y[1]) : isinf(y[1]), "%s %s Inf row: %g", tables[t]->name, tt->name, y[1]);
        }
}

/* QLM_CPU forces any listed table; unknown names fall back to the best one
 * with a reason. Criterion runs each test in its own process, so setenv here
 * touches no other test. */
Test(kernels, qlm_cpu_env_selects_table) {
    const char *note;
    const qlm_ops *best = tables[N_TABLES - 1]; /* the list runs reference first, best last */
    unsetenv("QLM_CPU");
    cr_expect_eq(qlm_ops_select_note(&note), best);
    cr_expect_null(note);
    cr_expect_str_eq(qlm_system_info(), best->name);
    for (size_t t = 0; t < N_TABLES; t++) {
        setenv("QLM_CPU", tables[t]->name, 1);
        cr_expect_eq(qlm_ops_select_note(&note), tables[t], "QLM_CPU=%s", tables[t]->name);
        cr_expect_null(note, "QLM_CPU=%s: %s", tables[t]->name, note);
    }
    setenv("QLM_CPU", "avx9000", 1);
    cr_expect_eq(qlm_ops_select_note(&note), best);
    cr_expect_not_null(note);
    cr_expect_not_null(qlm_system_kernels_note());
    cr_expect_str_eq(qlm_ops_list(tables, 16) > 0 ? tables[0]->name : "", "ref");
}

/* Blocked kernels (several rows per call) give each row exactly what the
 * 1-row kernel gives: W (9 rows, two blocks of 4 and a remainder) equals the
 * rows multiplied one at a time, bit for bit. */
Test(kernels, matmul_row_blocking_is_invisible) {
    const qlm_type types[] = {QLM_TYPE_F32, QLM_TYPE_F16, QLM_TYPE_BF16, QLM_TYPE_Q8_0, QLM_TYPE_Q4_0, QLM_TYPE_Q4_1};
    const int64_t n_in = 160, n_out = 9, n_tok = 2;
    float *wf = malloc(n_in * n_out * 4), *x = malloc(n_in * n_tok * 4), *y = malloc(n_out * n_tok * 4), y1[2];
    fill(wf, n_in * n_out, 1.0f), fill(x, n_in * n_tok, 1.0f);
    for (size_t t = 0; t < N_TABLES; t++)
        for (int k = 0; k < 6; k++) {
            const qlm_type_traits *tt = qlm_type_traits_get(types[k]);
            const size_t row = qlm_row_size(types[k], n_in);
            void *wq = malloc(row * n_out), *scr = malloc(qlm_matmul_scratch_size(types[k], n_in, n_tok) + 1);
            tt->from_float(wf, wq, n_in * n_out);
            qlm_tensor w = {"w", types[k], {n_in, n_out, 1, 1}, row, wq, QLM_LAYOUT_ROWS};
            tables[t]->matmul(&w, x, n_tok, y, scr, 2);
            for (int64_t r = 0; r < n_out; r++) {
                qlm_tensor wr = {"w", types[k], {n_in, 1, 1, 1}, row, (char *)wq + r * row, QLM_LAYOUT_ROWS};
                tables[t]->matmul(&wr, x, n_tok, y1, scr, 1);
                for (int i = 0; i < n_tok; i++)
                    cr_expect(memcmp(&y1[i], &y[i * n_out + r], 4) == 0, "%s %s row %lld tok %d: %.9g vs %.9g",
                              tables[t]->name, tt->name, (long long)r, i, y[i * n_out + r], y1[i]);
            }
            free(wq), free(scr);
        }
    free(wf), free(x), free(y);
}

/* Head sizes that split unevenly over the SIMD attention's 64-dim chunks
 * (80: 64 + 16; 72: not a multiple of 16; 128: two chunks; 36: the
 * reference fallback) and long contexts. */
Test(kernels, attention_head_odd_head_sizes) {
    const int hds[] = {36, 72, 80, 128};
    for (size_t t = 0; t < N_TABLES; t++)
        for (int f16 = 0; f16 < 2; f16++)
            for (int i = 0; i < 4; i++) {
                check_attention(tables[t], 3, hds[i], f16, 1.0f);
                /* F32's bound in check_attention assumes n_kv <= 300 */
                check_attention(tables[t], f16 ? 1000 : 300, hds[i], f16, 4.0f);
            }
}
