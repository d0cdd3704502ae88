/* test_kquants.c - the K-quant references (engine/quant_ref_kquants.c):
 * Q4_K, Q5_K and Q6_K quantizers and dequantizers against llama.cpp's own
 * bytes and gguf-py's values (fixtures from tests/gen/gen_kquant_fixtures.py,
 * read relative to the repo root), the round trip against bounds derived
 * from how the quantizers choose their quants, and the dot products with
 * Q8_K against their definition and a double-precision product. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include "quant_fixture.h"

/* Unit roundoff of float. */
#define U 0x1p-24

static const qlm_type_traits *traits(qlm_type t) {
    const qlm_type_traits *tt = qlm_type_traits_get(t);
    cr_assert(tt && tt->to_float && tt->from_float && tt->vec_dot, "type %d is not computable", (int)t);
    return tt;
}

static uint64_t rng_state;

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double rng_uniform(void) { return (double)(rng_next() >> 11) * 0x1p-53; }

static float rng_normal(void) { /* Box-Muller */
    const double u = rng_uniform() + 0x1p-60, v = rng_uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* --------------------------------------------------------------- fixtures */

Test(kquants, fixture_q4_k) { qf_check("q4_k", QLM_TYPE_Q4_K); }
Test(kquants, fixture_q5_k) { qf_check("q5_k", QLM_TYPE_Q5_K); }
Test(kquants, fixture_q6_k) { qf_check("q6_k", QLM_TYPE_Q6_K); }

Test(kquants, table_rows) {
    const qlm_type types[3] = {QLM_TYPE_Q4_K, QLM_TYPE_Q5_K, QLM_TYPE_Q6_K};
    const size_t sizes[3] = {144, 176, 210}; /* ggml's block sizes */
    for (int t = 0; t < 3; t++) {
        const qlm_type_traits *tt = traits(types[t]);
        cr_assert_eq(tt->type_size, sizes[t]);
        cr_assert_eq(tt->block_size, QLM_QK_K);
        cr_assert_eq(tt->vec_dot_type, QLM_TYPE_Q8_K);
    }
}

/* ---------------------------------------------------------- round trips */

/* Sub-block j's step S and offset M as stored (x ~ S q - M for Q4_K/Q5_K,
 * x ~ S (q - 32) for Q6_K with M = 0), decoded here independently of the
 * reference: ggml's 12-byte packing of 6-bit scales and minimums. */
static void k4_sub(const uint8_t *s, int j, int *sc, int *m) {
    const int lo_sc = j < 4 ? s[j] & 63 : s[j + 4] & 15, lo_m = j < 4 ? s[j + 4] & 63 : s[j + 4] >> 4;
    *sc = j < 4 ? lo_sc : lo_sc | (s[j - 4] >> 6) << 4;
    *m = j < 4 ? lo_m : lo_m | (s[j] >> 6) << 4;
}

typedef struct sub_grid {
    int n;         /* values per sub-block */
    double step;   /* S */
    double lo, hi; /* the representable range: -M .. -M + qmax S (Q6_K: -32 S .. 31 S) */
} sub_grid;

static sub_grid grid_of(qlm_type type, const void *blk, int j) {
    if (type == QLM_TYPE_Q6_K) {
        const qlm_block_q6_k *b = blk;
        const double s = (double)qlm_fp16_to_fp32(b->d) * b->scales[j];
        return (sub_grid){16, fabs(s), fmin(-32 * s, 31 * s), fmax(-32 * s, 31 * s)};
    }
    const qlm_block_q4_k *b = blk; /* Q5_K starts with the same fields */
    int sc, m;
    k4_sub(b->scales, j, &sc, &m);
    const double s = (double)qlm_fp16_to_fp32(b->d) * sc, mm = (double)qlm_fp16_to_fp32(b->dmin) * m;
    const int qmax = type == QLM_TYPE_Q4_K ? 15 : 31;
    return (sub_grid){32, s, -mm, -mm + qmax * s};
}

/* Round trip of n values (finite, |x| < 1e6). The final quants are chosen
 * as round((x + M) / S) clamped to the grid, so each value comes back as the
 * grid point nearest to it: within S / 2 inside the range, else the nearer
 * end. The float arithmetic adds a few roundings: the division and
 * round-to-int (<= 2 U |x + M| / S steps, i.e. 2 U |x + M| absolute), and
 * to_float's products and subtraction (<= 3 U (qmax S + M)). Sub-blocks
 * whose S is 0 keep the search's quants (ggml's choice) and come back as
 * -M: covered by the error statistics, not this check. Returns the sum of
 * squared errors. */
static double check_round_trip(qlm_type type, const float *x, int64_t n, const char *what) {
    const qlm_type_traits *tt = traits(type);
    void *q = malloc(qlm_row_size(type, n));
    float *y = malloc((size_t)n * sizeof(float));
    cr_assert(q && y);
    tt->from_float(x, q, n);
    tt->to_float(q, y, n);
    double sse = 0;
    for (int64_t b = 0; b < n / QLM_QK_K; b++) {
        const void *blk = (const char *)q + b * tt->type_size;
        const int n_sub = type == QLM_TYPE_Q6_K ? 16 : 8;
        for (int j = 0; j < n_sub; j++) {
            const sub_grid g = grid_of(type, blk, j);
            for (int i = 0; i < g.n; i++) {
                const int64_t k = b * QLM_QK_K + j * g.n + i;
                const double err = fabs((double)y[k] - x[k]);
                sse += err * err;
                if (g.step == 0) continue;
                const double dist = x[k] < g.lo ? g.lo - x[k] : x[k] > g.hi ? x[k] - g.hi : 0;
                const double tol = dist + g.step / 2 + 4 * U * (fabs(x[k]) + fabs(g.lo) + fabs(g.hi));
                cr_assert(err <= tol, "%s %s value %lld: x %.9g came back %.9g (S %.6g range %.6g..%.6g)", what,
                          tt->name, (long long)k, (double)x[k], (double)y[k], g.step, g.lo, g.hi);
            }
        }
    }
    free(q), free(y);
    return sse;
}

/* Normal data, 64 super-blocks: every value within its grid bound, and the
 * RMS error near what uniform quantization gives. A sub-block of 32 normal
 * values spans about 4 sigma, so a step of about 4 sigma / qmax and an RMS
 * error of step / sqrt(12): 0.077 sigma for Q4_K (qmax 15), 0.037 for Q5_K
 * (31); Q6_K's symmetric 64-level grid over 16 values (max about 1.8 sigma)
 * gives 0.016. The 6-bit scales, the shared F16 super-block scales and the
 * clamping add to that; the limits allow 1.6x. */
static void check_round_trip_stats(qlm_type type, double rms_limit) {
    enum { N = 64 * QLM_QK_K };
    float *x = malloc(N * sizeof(float));
    cr_assert(x);
    rng_state = 0x5eed0000u + (uint64_t)type;
    for (int i = 0; i < N; i++) x[i] = rng_normal();
    const double rms = sqrt(check_round_trip(type, x, N, "normal") / N);
    cr_assert(rms < rms_limit, "%s: RMS round-trip error %.4f sigma, limit %.4f", qlm_type_name(type), rms,
              rms_limit);
    /* every sub-block its own scale and offset, 1e-3 .. 1e3 */
    for (int i = 0; i < N; i++)
        x[i] = x[i] * (float)pow(10.0, (double)((i / 32) % 7 - 3)) + (float)((i / 64) % 3) - 1.0f;
    check_round_trip(type, x, N, "scaled");
    free(x);
}

Test(kquants, round_trip_q4_k) { check_round_trip_stats(QLM_TYPE_Q4_K, 1.6 * 0.077); }
Test(kquants, round_trip_q5_k) { check_round_trip_stats(QLM_TYPE_Q5_K, 1.6 * 0.037); }
Test(kquants, round_trip_q6_k) { check_round_trip_stats(QLM_TYPE_Q6_K, 1.6 * 0.016); }

/* Non-finite and extreme inputs: no crash (and, under UBSan, no undefined
 * behaviour); the bytes are whatever the arithmetic gives, as in ggml. */
Test(kquants, nonfinite_inputs) {
    const qlm_type types[3] = {QLM_TYPE_Q4_K, QLM_TYPE_Q5_K, QLM_TYPE_Q6_K};
    float x[QLM_QK_K], y[QLM_QK_K];
    uint8_t q[256];
    const float bad[5] = {NAN, INFINITY, -INFINITY, 3.4e38f, -1e-45f};
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 5; k++) {
            for (int i = 0; i < QLM_QK_K; i++) x[i] = (float)(i % 7) - 3.0f;
            x[k * 37] = bad[k];
            if (k == 1) x[200] = NAN;
            traits(types[t])->from_float(x, q, QLM_QK_K);
            traits(types[t])->to_float(q, y, QLM_QK_K);
        }
}

/* ---------------------------------------------------------- dot products */

/* The definition (quant_ref_kquants.c) for blocks at the integer extremes:
 * every quant at its largest magnitude, 6-bit scales 63 (Q6_K: -128),
 * activations 127, so |isum| passes 2^24 and (float)isum rounds; the result
 * must be exactly the defined float operations. */
Test(kquants, dot_definition_extremes) {
    qlm_block_q8_k a;
    a.d = 0.0123f;
    for (int i = 0; i < QLM_QK_K; i++) a.qs[i] = (int8_t)(i % 5 == 4 ? -127 : 127);
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int i = 0; i < 16; i++) s += a.qs[16 * j + i];
        a.bsums[j] = (int16_t)s;
    }
    int32_t asum = 0;
    for (int i = 0; i < QLM_QK_K; i++) asum += a.qs[i];
    float got;

    qlm_block_q4_k b4;
    b4.d = qlm_fp32_to_fp16(0.7f), b4.dmin = qlm_fp32_to_fp16(0.3f);
    memset(b4.scales, 0xff, sizeof b4.scales); /* sc = m = 63 for all 8 */
    memset(b4.qs, 0xff, sizeof b4.qs);         /* q = 15 */
    traits(QLM_TYPE_Q4_K)->vec_dot(QLM_QK_K, &got, &b4, &a);
    int32_t isum = 63 * 15 * asum, msum = 63 * asum;
    cr_assert_gt(abs(isum), 1 << 24);
    float d = qlm_fp16_to_fp32(b4.d) * a.d, dm = qlm_fp16_to_fp32(b4.dmin) * a.d;
    float t0 = d * (float)isum, t1 = dm * (float)msum, want = 0.0f;
    want += t0;
    want -= t1;
    cr_assert(memcmp(&got, &want, 4) == 0, "Q4_K: got %a, definition %a", (double)got, (double)want);

    qlm_block_q5_k b5;
    b5.d = b4.d, b5.dmin = b4.dmin;
    memset(b5.scales, 0xff, sizeof b5.scales);
    memset(b5.qs, 0xff, sizeof b5.qs);
    memset(b5.qh, 0xff, sizeof b5.qh); /* q = 31 */
    traits(QLM_TYPE_Q5_K)->vec_dot(QLM_QK_K, &got, &b5, &a);
    isum = 63 * 31 * asum;
    t0 = d * (float)isum, want = 0.0f;
    want += t0;
    want -= t1;
    cr_assert(memcmp(&got, &want, 4) == 0, "Q5_K: got %a, definition %a", (double)got, (double)want);

    qlm_block_q6_k b6;
    b6.d = qlm_fp32_to_fp16(0.01f);
    memset(b6.ql, 0, sizeof b6.ql), memset(b6.qh, 0, sizeof b6.qh); /* q - 32 = -32 */
    memset(b6.scales, 0x80, sizeof b6.scales);                      /* -128 */
    traits(QLM_TYPE_Q6_K)->vec_dot(QLM_QK_K, &got, &b6, &a);
    isum = -128 * -32 * asum;
    cr_assert_gt(abs(isum), 1 << 24);
    d = qlm_fp16_to_fp32(b6.d) * a.d;
    want = d * (float)isum;
    cr_assert(memcmp(&got, &want, 4) == 0, "Q6_K: got %a, definition %a", (double)got, (double)want);
}

/* vec_dot against the double-precision dot of the dequantized rows. The
 * dequantized weights carry up to 3 roundings each (d sc, the product with
 * q, the subtraction of dmin m: 3 U (|d sc q| + |dmin m|)), the activations
 * none (d q8 is exact in double). The dot's own error: per block the scale
 * products, (float)isum and the products with them (3 U of |t0|, 2 U of
 * |t1|), then 2 additions per block into the running sum (each at most U of
 * the sum, which is bounded by sum |t|). So with mag = sum over elements of
 * (|d sc q| + |dmin m|) |a|: |error| <= (2 n_blocks + 8) U mag. */
static void check_vec_dot(qlm_type type, int64_t n, uint64_t seed, float wscale, float offset) {
    const qlm_type_traits *tt = traits(type), *at = qlm_type_traits_get(QLM_TYPE_Q8_K);
    float *w = malloc((size_t)n * 4), *x = malloc((size_t)n * 4), *wd = malloc((size_t)n * 4);
    void *wq = malloc(qlm_row_size(type, n)), *xq = malloc(qlm_row_size(QLM_TYPE_Q8_K, n));
    cr_assert(w && x && wd && wq && xq);
    rng_state = seed;
    for (int64_t i = 0; i < n; i++) w[i] = rng_normal() * wscale + offset, x[i] = rng_normal();
    tt->from_float(w, wq, n);
    at->from_float(x, xq, n);
    tt->to_float(wq, wd, n);
    const qlm_block_q8_k *xb = xq;
    double want = 0, mag = 0;
    for (int64_t i = 0; i < n; i++) {
        const double a = (double)xb[i / QLM_QK_K].d * xb[i / QLM_QK_K].qs[i % QLM_QK_K];
        want += (double)wd[i] * a;
        /* d sc q = w + dmin m (up to the roundings above), and grid_of's lo is
         * -dmin m (0 for Q6_K) */
        const int sub = type == QLM_TYPE_Q6_K ? 16 : 32;
        const double mm = -grid_of(type, (const char *)wq + i / QLM_QK_K * tt->type_size, (int)(i % QLM_QK_K) / sub).lo;
        mag += (fabs((double)wd[i] + (type == QLM_TYPE_Q6_K ? 0 : mm)) + (type == QLM_TYPE_Q6_K ? 0 : fabs(mm))) *
               fabs(a);
    }
    float got;
    tt->vec_dot(n, &got, wq, xq);
    const double tol = (2.0 * (double)(n / QLM_QK_K) + 8) * U * mag;
    cr_assert(fabs(got - want) <= tol, "%s n %lld: got %.9g, double %.9g (bound %.3g)", tt->name, (long long)n,
              (double)got, want, tol);
    free(w), free(x), free(wd), free(wq), free(xq);
}

Test(kquants, vec_dot_vs_double) {
    const qlm_type types[3] = {QLM_TYPE_Q4_K, QLM_TYPE_Q5_K, QLM_TYPE_Q6_K};
    const int64_t ns[4] = {256, 512, 1280, 4096};
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 4; k++) {
            check_vec_dot(types[t], ns[k], 100 + (uint64_t)(t * 4 + k), 1.0f, 0.0f);
            check_vec_dot(types[t], ns[k], 200 + (uint64_t)(t * 4 + k), 0.01f, 0.5f);
        }
}
