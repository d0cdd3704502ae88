/* test_kquants_low.c - the low-bit super-block formats Q2_K, Q3_K, IQ4_XS
 * and the ternary TQ1_0, TQ2_0 (engine/quant_ref_kquants_low.c) and their
 * SIMD dot products.
 *
 * Oracles: llama.cpp's quantizers (for TQ1_0/TQ2_0 also gguf-py's, which
 * agree) and gguf-py's dequantizers, through the
 * fixtures of tests/gen/gen_kquant_low_fixtures.py (bit-exact bytes and
 * floats); a double-precision dot product computed here from the raw block
 * fields (independent of the reference's decoding) for vec_dot; and the
 * reference table itself for the SIMD tables, which must return its bits
 * exactly (the dot products' float operations are defined per block). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "types.h"
#include "quant_fixture.h"


static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static float rng_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) * 0x1p-53);
}

static const qlm_type_traits *traits(qlm_type t) {
    const qlm_type_traits *tt = qlm_type_traits_get(t);
    cr_assert(tt && tt->to_float && tt->from_float && tt->vec_dot, "type %d is not computable", (int)t);
    return tt;
}

/* ------------------------------------------------------------- fixtures */

Test(kquants_low, fixture_q2_k) { qf_check("q2_k", QLM_TYPE_Q2_K); }
Test(kquants_low, fixture_q3_k) { qf_check("q3_k", QLM_TYPE_Q3_K); }
Test(kquants_low, fixture_iq4_xs) { qf_check("iq4_xs", QLM_TYPE_IQ4_XS); }
Test(kquants_low, fixture_tq1_0) { qf_check("tq1_0", QLM_TYPE_TQ1_0); }
Test(kquants_low, fixture_tq2_0) { qf_check("tq2_0", QLM_TYPE_TQ2_0); }

/* ------------------------------------------------ exact values, in double */

/* Weight i of a block as two exact parts, value = scale * q - offset, read
 * from the raw bytes as the ggml-common.h comments describe the layouts
 * (written independently of quant_ref_kquants_low.c): scale = d times the
 * sub-block scale, offset Q2_K's dmin times the sub-block min. */
typedef struct {
    double scale, q, offset;
} weight_parts;

static double h2d(uint16_t h) { return (double)qlm_fp16_to_fp32(h); } /* exact widening */

static weight_parts weight_at(qlm_type t, const void *row, int64_t i) {
    static const int kv[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    const int64_t b = i / 256, j = i % 256;
    /* Q2_K / Q3_K 2-bit fields: 4 values per byte, 32 bytes per 128 values */
    const int byte = (int)(32 * (j / 128) + j % 32), shift = (int)(2 * ((j % 128) / 32));
    switch (t) {
    case QLM_TYPE_Q2_K: {
        const qlm_block_q2_k *x = (const qlm_block_q2_k *)row + b;
        const int sc = x->scales[j / 16];
        return (weight_parts){h2d(x->d) * (sc & 15), (x->qs[byte] >> shift) & 3, h2d(x->dmin) * (sc >> 4)};
    }
    case QLM_TYPE_Q3_K: {
        const qlm_block_q3_k *x = (const qlm_block_q3_k *)row + b;
        const int s = (int)(j / 16);
        /* 6-bit scales: 16 low nibbles (bytes 0-7, low then high nibble
         * halves), 16 pairs of high bits (bytes 8-11, two bits a scale) */
        const int lo = (x->scales[s % 8] >> (4 * (s / 8))) & 15;
        const int hi = (x->scales[8 + s % 4] >> (2 * (s / 4))) & 3;
        const int high_bit = (x->hmask[j % 32] >> (j / 32)) & 1;
        const int q = ((x->qs[byte] >> shift) & 3) + 4 * high_bit - 4;
        return (weight_parts){h2d(x->d) * ((lo | hi << 4) - 32), q, 0};
    }
    case QLM_TYPE_IQ4_XS: {
        const qlm_block_iq4_xs *x = (const qlm_block_iq4_xs *)row + b;
        const int s = (int)(j / 32);
        const int ls = ((x->scales_l[s / 2] >> (4 * (s % 2))) & 15) | (((x->scales_h >> (2 * s)) & 3) << 4);
        const int q = (x->qs[16 * s + j % 16] >> (4 * ((j % 32) / 16))) & 15;
        return (weight_parts){h2d(x->d) * (ls - 32), kv[q], 0};
    }
    case QLM_TYPE_TQ1_0: { /* trit n of a byte: ((byte * 3^n mod 256) * 3) >> 8 */
        const qlm_block_tq1_0 *x = (const qlm_block_tq1_0 *)row + b;
        static const int pow3[5] = {1, 3, 9, 27, 81};
        const int v = (int)j;
        const int byte_val = v < 160   ? x->qs[v % 32]
                             : v < 240 ? x->qs[32 + (v - 160) % 16]
                                       : x->qh[(v - 240) % 4];
        const int n = v < 160 ? v / 32 : v < 240 ? (v - 160) / 16 : (v - 240) / 4;
        return (weight_parts){h2d(x->d), (((byte_val * pow3[n]) % 256) * 3) / 256 - 1, 0};
    }
    case QLM_TYPE_TQ2_0: {
        const qlm_block_tq2_0 *x = (const qlm_block_tq2_0 *)row + b;
        return (weight_parts){h2d(x->d), ((x->qs[byte] >> shift) & 3) - 1, 0};
    }
    default:
        cr_assert_fail("no exact decoder for type %d", (int)t);
    }
    return (weight_parts){0, 0, 0};
}

/* The decoder above against to_float (verified against gguf-py by the
 * fixtures): to_float rounds d * sc, then its product with q (and Q2_K's
 * dmin * m and the difference), so they agree within those roundings. */
static void check_decoder(const char *name, qlm_type type) {
    qf_fixture fx = qf_load(name);
    float *deq = malloc(fx.n_cols * sizeof(float));
    for (uint32_t r = 0; r < fx.n_rows; r++) {
        const uint8_t *row = fx.quant + (size_t)r * fx.row_bytes;
        traits(type)->to_float(row, deq, fx.n_cols);
        for (uint32_t i = 0; i < fx.n_cols; i++) {
            const weight_parts w = weight_at(type, row, i);
            const double a = w.scale * w.q, want = a - w.offset;
            if (!isfinite(deq[i]) || !isfinite(want)) continue;
            cr_assert_leq(fabs(deq[i] - want), 0x1p-22 * (fabs(a) + fabs(w.offset)) + 0x1p-140,
                          "%s row %u [%u]: to_float %a, exact %a", name, r, i, (double)deq[i], want);
        }
    }
    free(deq);
    qf_free(&fx);
}

Test(kquants_low, decoder_q2_k) { check_decoder("q2_k", QLM_TYPE_Q2_K); }
Test(kquants_low, decoder_q3_k) { check_decoder("q3_k", QLM_TYPE_Q3_K); }
Test(kquants_low, decoder_iq4_xs) { check_decoder("iq4_xs", QLM_TYPE_IQ4_XS); }
Test(kquants_low, decoder_tq1_0) { check_decoder("tq1_0", QLM_TYPE_TQ1_0); }
Test(kquants_low, decoder_tq2_0) { check_decoder("tq2_0", QLM_TYPE_TQ2_0); }

/* --------------------------------------------------------- dot products */

/* vec_dot against the exact sum in double of (scale q - offset) * d_y a.
 * The reference's block term is t0 - t1 (t1 = 0 but for Q2_K): d_x d_y,
 * then the product with the integer sum (its conversion to float exact or,
 * for IQ4_XS past 2^24, one more rounding), Q2_K's dmin d_y and its
 * product, the difference: at most 3 roundings relative to |t0| + |t1|.
 * The blocks' running float sum adds one rounding of each partial sum S_k
 * (Higham, "Accuracy and Stability of Numerical Algorithms", sec. 3.1):
 *   |err| <= 1.01 u (3 sum_k (|t0_k| + |t1_k|) + sum_k |S_k|). */
static void check_vec_dot(qlm_type type, int64_t n, float lo, float hi) {
    const qlm_type_traits *xt = traits(type), *yt = qlm_type_traits_get(QLM_TYPE_Q8_K);
    float *xf = malloc((size_t)n * sizeof(float)), *yf = malloc((size_t)n * sizeof(float));
    void *xq = malloc(qlm_row_size(type, n)), *yq = malloc(qlm_row_size(QLM_TYPE_Q8_K, n));
    cr_assert(xf && yf && xq && yq);
    for (int64_t i = 0; i < n; i++)
        xf[i] = rng_uniform(lo, hi), yf[i] = rng_uniform(-1.0f, 1.0f);
    xt->from_float(xf, xq, n);
    yt->from_float(yf, yq, n);
    float got = NAN;
    xt->vec_dot(n, &got, xq, yq);
    double ref = 0, terms = 0, partials = 0;
    for (int64_t b = 0; b < n / 256; b++) {
        const qlm_block_q8_k *yb = (const qlm_block_q8_k *)yq + b;
        double t0 = 0, t1 = 0;
        for (int j = 0; j < 256; j++) {
            const weight_parts w = weight_at(type, xq, 256 * b + j);
            t0 += w.scale * w.q * yb->d * yb->qs[j]; /* exact: 11 x 6 x 8 x 24 bits, few terms */
            t1 += w.offset * yb->d * yb->qs[j];
        }
        ref += t0 - t1;
        terms += fabs(t0) + fabs(t1);
        partials += fabs(ref);
    }
    const double bound = 1.01 * 0x1p-24 * (3 * terms + partials);
    cr_assert_leq(fabs((double)got - ref), bound, "%s n=%ld: got %.9g, exact %.9g (bound %.3g)", xt->name,
                  (long)n, (double)got, ref, bound);
    free(xf), free(yf), free(xq), free(yq);
}

static void check_vec_dot_sizes(qlm_type type, uint64_t seed, float lo, float hi) {
    static const int64_t sizes[] = {256, 512, 4096, 256 * 37};
    rng_state = seed;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int rep = 0; rep < 4; rep++)
            check_vec_dot(type, sizes[k], lo, hi);
}

/* Q2_K also on weights offset from zero, so its min term matters. */
Test(kquants_low, vec_dot_q2_k) {
    check_vec_dot_sizes(QLM_TYPE_Q2_K, 41, -1.0f, 1.0f);
    check_vec_dot_sizes(QLM_TYPE_Q2_K, 42, -0.25f, 1.0f);
}
Test(kquants_low, vec_dot_q3_k) { check_vec_dot_sizes(QLM_TYPE_Q3_K, 43, -1.0f, 1.0f); }
Test(kquants_low, vec_dot_iq4_xs) { check_vec_dot_sizes(QLM_TYPE_IQ4_XS, 44, -1.0f, 1.0f); }
Test(kquants_low, vec_dot_tq1_0) { check_vec_dot_sizes(QLM_TYPE_TQ1_0, 45, -1.0f, 1.0f); }
Test(kquants_low, vec_dot_tq2_0) { check_vec_dot_sizes(QLM_TYPE_TQ2_0, 46, -1.0f, 1.0f); }

/* IQ4_XS's integer block sum past 2^24 (hand-made blocks: every quant the
 * grid's -127, every sub-block scale -32, activations +-127): the
 * definition converts it to float with one rounding, so the result is
 * d_x d_y fl(isum) exactly, here with d_x = d_y = 1 so nothing else rounds. */
Test(kquants_low, iq4_xs_large_block_sum) {
    qlm_block_iq4_xs x;
    qlm_block_q8_k y;
    memset(&x, 0, sizeof x); /* ls = 0 everywhere: scale -32; q = 0: -127 */
    x.d = qlm_fp32_to_fp16(1.0f);
    y.d = 1.0f;
    int64_t isum = 0;
    for (int i = 0; i < 256; i++) {
        y.qs[i] = (int8_t)(i % 3 ? -127 : -125);
        isum += (int64_t)-32 * -127 * y.qs[i];
    }
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int i = 0; i < 16; i++)
            s += y.qs[16 * j + i];
        y.bsums[j] = (int16_t)s;
    }
    cr_assert_gt(llabs(isum), 1 << 24);
    float s;
    traits(QLM_TYPE_IQ4_XS)->vec_dot(256, &s, &x, &y);
    cr_assert_eq(s, (float)isum, "got %.9g, want fl(%lld) = %.9g", (double)s, (long long)isum,
                 (double)(float)isum);
}

/* Non-finite and overflowing inputs: the quantizers and dot products run
 * without undefined behaviour (make asan checks that), deterministically. */
Test(kquants_low, nonfinite_inputs) {
    static const qlm_type types[] = {QLM_TYPE_Q2_K, QLM_TYPE_Q3_K, QLM_TYPE_IQ4_XS, QLM_TYPE_TQ1_0,
                                     QLM_TYPE_TQ2_0};
    enum { N = 512 };
    float x[N], d[N];
    for (int i = 0; i < N; i++)
        x[i] = rng_uniform(-1.0f, 1.0f);
    x[1] = NAN, x[40] = INFINITY, x[300] = -INFINITY, x[301] = 3e38f, x[302] = -3e38f, x[303] = 1e-45f;
    qlm_block_q8_k y[N / 256];
    qlm_type_traits_get(QLM_TYPE_Q8_K)->from_float(x, y, N);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const qlm_type_traits *tt = traits(types[t]);
        uint8_t q1[N / 256 * 136], q2[N / 256 * 136];
        tt->from_float(x, q1, N);
        tt->from_float(x, q2, N);
        cr_assert(memcmp(q1, q2, qlm_row_size(types[t], N)) == 0, "%s", tt->name);
        tt->to_float(q1, d, N);
        float s1, s2;
        tt->vec_dot(N, &s1, q1, y);
        tt->vec_dot(N, &s2, q2, y);
        cr_assert(qf_same_float(s1, s2), "%s", tt->name);
    }
}

/* ---------------------------------------------------- SIMD = reference */

/* Every table this machine runs, through matmul (so the row kernels and
 * the Q8_K activation quantizer both take part, whatever row blocking the
 * driver picks), must return the reference table's bits: the integer sums
 * are exact in any order and the float operations per block are fixed.
 * Row counts 1, 3, 4, 5 and 9, 1 and 3 tokens, activations of ordinary,
 * tiny and huge magnitude, weights from the quantizer and from random
 * bytes (every bit pattern a file may hold, fp16 scales sanitized to
 * finite values so the result is comparable). */
static void check_tables_case(qlm_type type, int64_t n_in, int64_t rows, int64_t n_tok, float xscale,
                              int random_bytes) {
    const qlm_ops *tables[16];
    const int n_tables = qlm_ops_list(tables, 16);
    const qlm_type_traits *tt = traits(type);
    const size_t row = qlm_row_size(type, n_in);
    uint8_t *w = malloc(row * (size_t)rows);
    float *wf = malloc((size_t)(n_in * rows) * sizeof(float)),
          *x = malloc((size_t)(n_in * n_tok) * sizeof(float));
    float *y = malloc((size_t)(rows * n_tok) * sizeof(float)),
          *yr = malloc((size_t)(rows * n_tok) * sizeof(float));
    void *scr = malloc(qlm_matmul_scratch_size(type, n_in, n_tok) + 64);
    cr_assert(w && wf && x && y && yr && scr);
    for (int64_t i = 0; i < n_in * rows; i++)
        wf[i] = rng_uniform(-1.0f, 1.0f);
    for (int64_t i = 0; i < n_in * n_tok; i++)
        x[i] = rng_uniform(-1.0f, 1.0f) * xscale;
    for (int64_t r = 0; r < rows; r++)
        tt->from_float(wf + r * n_in, w + r * row, n_in);
    if (random_bytes) {
        for (size_t i = 0; i < row * (size_t)rows; i++)
            w[i] = (uint8_t)rng_next();
        for (size_t b = 0; b < row * (size_t)rows / tt->type_size; b++) { /* fp16 fields: small finite */
            uint8_t *blk = w + b * tt->type_size;
            const size_t at[5][2] = {{80, 82}, {108, 108}, {0, 0}, {52, 52}, {64, 64}}; /* d (and dmin) */
            const int k = type == QLM_TYPE_Q2_K     ? 0
                          : type == QLM_TYPE_Q3_K   ? 1
                          : type == QLM_TYPE_IQ4_XS ? 2
                          : type == QLM_TYPE_TQ1_0  ? 3
                                                    : 4;
            for (int f = 0; f < 2; f++)
                blk[at[k][f] + 1] &= 0x3f; /* exponent < 16: |d| < 2 */
        }
    }
    const qlm_tensor wt = {.name = "w", .type = type, .ne = {n_in, rows, 1, 1}, .row_bytes = row, .data = w};
    qlm_ops_ref.matmul(&wt, x, n_tok, yr, scr, 1);
    for (int t = 1; t < n_tables; t++) {
        memset(y, 0xff, (size_t)(rows * n_tok) * sizeof(float));
        tables[t]->matmul(&wt, x, n_tok, y, scr, 1);
        for (int64_t i = 0; i < rows * n_tok; i++)
            cr_assert(memcmp(&y[i], &yr[i], sizeof(float)) == 0,
                      "%s %s n_in %ld rows %ld n_tok %ld x*%g%s: out %ld = %a, reference %a", tables[t]->name,
                      tt->name, (long)n_in, (long)rows, (long)n_tok, (double)xscale,
                      random_bytes ? " random" : "", (long)i, (double)y[i], (double)yr[i]);
    }
    free(w), free(wf), free(x), free(y), free(yr), free(scr);
}

static void check_tables(qlm_type type) {
    static const int64_t rows[] = {1, 3, 4, 5, 9};
    static const float xscales[] = {1.0f, 1e-30f, 1e30f};
    rng_state = 50 + (uint64_t)type;
    for (int random_bytes = 0; random_bytes < 2; random_bytes++)
        for (size_t r = 0; r < 5; r++)
            for (int64_t n_tok = 1; n_tok <= 3; n_tok += 2)
                for (size_t s = 0; s < 3; s++) {
                    check_tables_case(type, 256, rows[r], n_tok, xscales[s], random_bytes);
                    check_tables_case(type, 256 * 7, rows[r], n_tok, xscales[s], random_bytes);
                }
}

Test(kquants_low, simd_bits_q2_k) { check_tables(QLM_TYPE_Q2_K); }
Test(kquants_low, simd_bits_q3_k) { check_tables(QLM_TYPE_Q3_K); }
Test(kquants_low, simd_bits_iq4_xs) { check_tables(QLM_TYPE_IQ4_XS); }
Test(kquants_low, simd_bits_tq1_0) { check_tables(QLM_TYPE_TQ1_0); }
Test(kquants_low, simd_bits_tq2_0) { check_tables(QLM_TYPE_TQ2_0); }
