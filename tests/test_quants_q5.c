/* test_quants_q5.c - the references of Q5_0, Q5_1, IQ4_NL and MXFP4
 * (engine/quant_ref_q5.c) against outside oracles.
 *
 * Quantizers and dequantizers: bit for bit against the fixtures in
 * tests/fixtures/quant/ (gguf-py for Q5_0, Q5_1, MXFP4; llama.cpp's
 * libggml-base for IQ4_NL; see tests/gen/). Dot products: against a dot in
 * double from the raw block fields (decoded here independently of
 * quant_ref_q5.c), within a rounding bound derived below, and exactly where
 * the scales make every operation exact. Plus the layouts on hand-built
 * blocks and the non-finite / out-of-range inputs where ggml's C has no
 * defined result. Run from the repo root (the fixtures' paths). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "quant_fixture.h"
#include "types.h"

static const qlm_type_traits *tr(qlm_type t) {
    const qlm_type_traits *tt = qlm_type_traits_get(t);
    cr_assert(tt && tt->to_float && tt->from_float, "type %d incomplete", (int)t);
    cr_assert(tt->vec_dot || t == QLM_TYPE_Q8_0 || t == QLM_TYPE_Q8_1, "type %d: no vec_dot", (int)t);
    return tt;
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Same bits, or both NaN (a NaN's sign is the hardware's choice). */

/* ------------------------------------------------------------- fixtures */

Test(quants_q5, fixture_q5_0) { qf_check("q5_0", QLM_TYPE_Q5_0); }
Test(quants_q5, fixture_q5_1) { qf_check("q5_1", QLM_TYPE_Q5_1); }
Test(quants_q5, fixture_iq4_nl) { qf_check("iq4_nl", QLM_TYPE_IQ4_NL); }
Test(quants_q5, fixture_mxfp4) { qf_check("mxfp4", QLM_TYPE_MXFP4); }

/* --------------------------------------------------------------- layouts */

static const int8_t iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
static const int8_t mxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

Test(quants_q5, tables_and_sizes) {
    cr_assert(memcmp(qlm_kvalues_iq4nl, iq4nl, 16) == 0 && memcmp(qlm_kvalues_mxfp4, mxfp4, 16) == 0);
    static const struct { qlm_type t; size_t size; qlm_type act; } want[] = {
        {QLM_TYPE_Q5_0, 22, QLM_TYPE_Q8_0}, {QLM_TYPE_Q5_1, 24, QLM_TYPE_Q8_1},
        {QLM_TYPE_IQ4_NL, 18, QLM_TYPE_Q8_0}, {QLM_TYPE_MXFP4, 17, QLM_TYPE_Q8_0}};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(tr(want[i].t)->block_size, 32);
        cr_assert_eq(tr(want[i].t)->type_size, want[i].size);
        cr_assert_eq(tr(want[i].t)->vec_dot_type, want[i].act);
    }
    /* E8M0 halves: 2^(e - 128), subnormal for e < 2 */
    cr_assert_eq(bits(qlm_e8m0_half(0)), 0x00200000u);
    cr_assert_eq(bits(qlm_e8m0_half(1)), 0x00400000u);
    cr_assert_eq(qlm_e8m0_half(2), 0x1p-126f);
    cr_assert_eq(qlm_e8m0_half(128), 1.0f);
    cr_assert_eq(qlm_e8m0_half(255), 0x1p127f);
}

/* Value j of a Q5 block: low nibble of byte j (j < 16) or high nibble of
 * byte j - 16, fifth bit = bit j of qh read little-endian. */
Test(quants_q5, q5_layout) {
    qlm_block_q5_0 b0 = {.d = 0x3c00 /* 1.0 */, .qh = {0x01, 0x00, 0x00, 0x80}};
    for (int j = 0; j < 16; j++) b0.qs[j] = (uint8_t)(j | (15 - j) << 4);
    float y[32];
    tr(QLM_TYPE_Q5_0)->to_float(&b0, y, 32);
    for (int j = 0; j < 32; j++) {
        const int lo = j < 16 ? j : 15 - (j - 16), hi = j == 0 || j == 31;
        cr_assert_eq(y[j], (float)(lo + 16 * hi - 16), "Q5_0 value %d: %g", j, (double)y[j]);
    }
    qlm_block_q5_1 b1 = {.d = 0x4000 /* 2 */, .m = 0xbc00 /* -1 */, .qh = {0x00, 0x01, 0x00, 0x00}};
    memcpy(b1.qs, b0.qs, 16);
    tr(QLM_TYPE_Q5_1)->to_float(&b1, y, 32);
    for (int j = 0; j < 32; j++) {
        const int lo = j < 16 ? j : 15 - (j - 16), hi = j == 8;
        cr_assert_eq(y[j], 2.0f * (float)(lo + 16 * hi) - 1.0f, "Q5_1 value %d", j);
    }
}

Test(quants_q5, lut_layouts) {
    qlm_block_iq4_nl bi = {.d = 0x3800 /* 0.5 */};
    qlm_block_mxfp4 bm = {.e = 130 /* 2^2 per unit */};
    for (int j = 0; j < 16; j++) bi.qs[j] = bm.qs[j] = (uint8_t)(j | (15 - j) << 4);
    float y[32];
    tr(QLM_TYPE_IQ4_NL)->to_float(&bi, y, 32);
    for (int j = 0; j < 32; j++) cr_assert_eq(y[j], 0.5f * (float)iq4nl[j < 16 ? j : 31 - j]);
    tr(QLM_TYPE_MXFP4)->to_float(&bm, y, 32);
    for (int j = 0; j < 32; j++) cr_assert_eq(y[j], 4.0f * (float)mxfp4[j < 16 ? j : 31 - j]);
}

/* Quantizers on values the formats represent exactly come back exactly. */
Test(quants_q5, exact_round_trips) {
    float x[32], y[32];
    uint8_t blk[32];
    for (int j = 0; j < 32; j++) x[j] = j == 5 ? -16.0f : (float)(j % 31) - 15.0f; /* -16 is the signed max */
    tr(QLM_TYPE_Q5_0)->from_float(x, blk, 32);
    tr(QLM_TYPE_Q5_0)->to_float(blk, y, 32);
    cr_assert(memcmp(x, y, sizeof x) == 0, "Q5_0");
    for (int j = 0; j < 32; j++) x[j] = 0.25f * (float)(j == 3 ? 31 : j % 31) + 1.0f; /* d = 0.25, m = 1 */
    tr(QLM_TYPE_Q5_1)->from_float(x, blk, 32);
    tr(QLM_TYPE_Q5_1)->to_float(blk, y, 32);
    cr_assert(memcmp(x, y, sizeof x) == 0, "Q5_1");
    for (int j = 0; j < 32; j++) x[j] = 0.125f * (float)mxfp4[(j * 7) % 16];
    x[9] = -1.5f; /* amax 1.5: e = 0 - 2 + 127 = 125, one unit 2^-3 */
    tr(QLM_TYPE_MXFP4)->from_float(x, blk, 32);
    cr_assert_eq(blk[0], 125);
    tr(QLM_TYPE_MXFP4)->to_float(blk, y, 32);
    cr_assert(memcmp(x, y, sizeof x) == 0, "MXFP4");
    for (int j = 0; j < 32; j++) x[j] = (float)iq4nl[(j * 5) % 16]; /* the table itself, scale 1 */
    tr(QLM_TYPE_IQ4_NL)->from_float(x, blk, 32);
    tr(QLM_TYPE_IQ4_NL)->to_float(blk, y, 32);
    cr_assert(memcmp(x, y, sizeof x) == 0, "IQ4_NL");
}

/* ggml's C converts these to integers with undefined behaviour (NaN, Inf,
 * an MXFP4 exponent below 0): ours must give defined, documented bytes (the
 * sanitized build checks that nothing undefined happens on the way). */
Test(quants_q5, nonfinite_and_out_of_range) {
    const qlm_type types[4] = {QLM_TYPE_Q5_0, QLM_TYPE_Q5_1, QLM_TYPE_IQ4_NL, QLM_TYPE_MXFP4};
    float x[32], y[32];
    uint8_t blk[32];
    for (int t = 0; t < 4; t++)
        for (int k = 0; k < 3; k++) {
            for (int j = 0; j < 32; j++) x[j] = (float)(j - 10) * 0.1f;
            x[7] = k == 0 ? NAN : k == 1 ? INFINITY : -INFINITY;
            tr(types[t])->from_float(x, blk, 32);
            tr(types[t])->to_float(blk, y, 32); /* runs; values unspecified */
        }
    /* MXFP4: Inf in the block gives exponent 0 (as ggml on x86) */
    for (int j = 0; j < 32; j++) x[j] = 1.0f;
    x[3] = INFINITY;
    tr(QLM_TYPE_MXFP4)->from_float(x, blk, 32);
    cr_assert_eq(blk[0], 0);
    /* MXFP4: amax below 2^-125 would need a negative exponent: the finest, 0,
     * which represents these values (units of 2^-128) well */
    for (int j = 0; j < 32; j++) x[j] = (float)mxfp4[j % 16] * 0x1p-128f;
    tr(QLM_TYPE_MXFP4)->from_float(x, blk, 32);
    cr_assert_eq(blk[0], 0);
    tr(QLM_TYPE_MXFP4)->to_float(blk, y, 32);
    cr_assert(memcmp(x, y, sizeof x) == 0);
    /* the largest finite amax: exponent 127 - 2 + 127 = 252 */
    x[0] = 3.4e38f;
    tr(QLM_TYPE_MXFP4)->from_float(x, blk, 32);
    cr_assert_eq(blk[0], 252);
    /* IQ4_NL: a block below ggml's 1e-15 threshold is zero: d = 0, every
     * index 8 (the table value nearest to 0) */
    for (int j = 0; j < 32; j++) x[j] = 1e-17f * (float)(j - 16); /* amax 1.6e-16 */
    tr(QLM_TYPE_IQ4_NL)->from_float(x, blk, 32);
    cr_assert(blk[0] == 0 && blk[1] == 0);
    for (int j = 2; j < 18; j++) cr_assert_eq(blk[j], 0x88);
}

/* ---------------------------------------------------------- dot products */

static uint64_t rng = 0x243f6a8885a308d3u;

static float frand(void) { /* splitmix64, uniform in [-1, 1) */
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (float)((double)(z >> 40) * 0x1p-23 - 1.0);
}

static double h(uint16_t v) { return (double)qlm_fp16_to_fp32(v); }

/* Weight j of a block as the integer the format multiplies (decoded here,
 * not by quant_ref_q5.c) and the block's scale. */
static int wq(qlm_type t, const uint8_t *blk, int j) {
    const uint8_t *qs = blk + (t == QLM_TYPE_Q5_0 ? 6 : t == QLM_TYPE_Q5_1 ? 8 : t == QLM_TYPE_IQ4_NL ? 2 : 1);
    const int nib = j < 16 ? qs[j] & 15 : qs[j - 16] >> 4;
    if (t == QLM_TYPE_IQ4_NL) return iq4nl[nib];
    if (t == QLM_TYPE_MXFP4) return mxfp4[nib];
    const uint8_t *qh = blk + (t == QLM_TYPE_Q5_0 ? 2 : 4);
    const int q = nib | ((qh[j / 8] >> (j % 8)) & 1) << 4;
    return t == QLM_TYPE_Q5_0 ? q - 16 : q;
}

/* The reference's block term in double, exact: d_x d_y isum (+ m_x s_y);
 * *rnd gets the roundings the float version takes (|t| relative): the scale
 * product (exact for MXFP4 while normal: a power of two times d_y), the
 * product with isum, Q5_1's m s and sum. */
static double block_term(qlm_type t, const uint8_t *w, const uint8_t *a, double *abs_term, int *rnd) {
    const int8_t *q8 = (const int8_t *)(a + (t == QLM_TYPE_Q5_1 ? 4 : 2));
    uint16_t dy, dx;
    memcpy(&dy, a, 2);
    memcpy(&dx, w, 2);
    long isum = 0;
    for (int j = 0; j < 32; j++) isum += (long)wq(t, w, j) * q8[j];
    double d, off = 0;
    *rnd = 2;
    if (t == QLM_TYPE_MXFP4) {
        d = ldexp(1.0, w[0] - 128) * h(dy);
    } else {
        d = h(dx) * h(dy);
    }
    if (t == QLM_TYPE_Q5_1) {
        uint16_t m, s;
        memcpy(&m, w + 2, 2);
        memcpy(&s, a + 2, 2);
        off = h(m) * h(s);
        *rnd = 3;
    }
    *abs_term = fabs(d * (double)isum) + fabs(off);
    return d * (double)isum + off;
}

/* Bound for the reference's in-order float sum of terms t_k, each with r
 * roundings: |err| <= 1.01 u (r sum |t_k| + sum_k |S_k|), S_k the partial
 * sums (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
 * sec. 3.1; 1.01 covers the second-order terms). Far tighter than n u:
 * a dropped or misplaced block fails it. */
static void check_dot(qlm_type t, int64_t n, float wlo, float whi, float ascale) {
    const qlm_type_traits *tt = tr(t), *at = tr(tt->vec_dot_type);
    float *xf = malloc((size_t)n * 4), *yf = malloc((size_t)n * 4);
    uint8_t *w = malloc(qlm_row_size(t, n)), *a = malloc(qlm_row_size(tt->vec_dot_type, n));
    cr_assert(xf && yf && w && a);
    for (int64_t i = 0; i < n; i++) {
        xf[i] = wlo + (whi - wlo) * (0.5f * frand() + 0.5f);
        yf[i] = ascale * frand();
    }
    tt->from_float(xf, w, n);
    at->from_float(yf, a, n);
    float got;
    tt->vec_dot(n, &got, w, a);
    double want = 0, terms = 0, partials = 0, mag = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        double abs_term;
        int rnd;
        want += block_term(t, w + b * tt->type_size, a + b * at->type_size, &abs_term, &rnd);
        terms += rnd * abs_term, partials += fabs(want), mag += abs_term;
    }
    const double bound = 1.01 * 0x1p-24 * (terms + partials);
    cr_assert_leq(fabs((double)got - want), bound, "%s n %ld: got %.9g, exact %.9g, bound %.3g", tt->name, (long)n,
                  (double)got, want, bound);
    cr_assert_leq(bound, 1e-4 * mag + 1e-30, "%s n %ld: bound %.3g too loose", tt->name, (long)n, bound);
    free(xf), free(yf), free(w), free(a);
}

static void check_dots(qlm_type t, float wlo, float whi) {
    static const int64_t sizes[] = {32, 64, 96, 640, 4096, 32 * 37};
    static const float ascales[] = {1.0f, 1e-3f, 300.0f};
    for (int s = 0; s < 6; s++)
        for (int k = 0; k < 3; k++) check_dot(t, sizes[s], wlo, whi, ascales[k]);
}

Test(quants_q5, vec_dot_q5_0) { check_dots(QLM_TYPE_Q5_0, -1.0f, 1.0f); }
Test(quants_q5, vec_dot_q5_1) { check_dots(QLM_TYPE_Q5_1, -0.25f, 1.0f); } /* offset: m matters */
Test(quants_q5, vec_dot_iq4_nl) { check_dots(QLM_TYPE_IQ4_NL, -1.0f, 1.0f); }
Test(quants_q5, vec_dot_mxfp4) { check_dots(QLM_TYPE_MXFP4, -2.0f, 2.0f); }

/* Known answers where every float operation is exact (power-of-two scales,
 * small integers), so the definition itself is pinned: Q5_1 uses the
 * activation block's stored s, not d * sum(q) recomputed; MXFP4 the scale
 * 2^(e - 128) d_y. */
Test(quants_q5, vec_dot_known_answers) {
    qlm_block_q8_0 y0 = {.d = 0x3800 /* 0.5 */};
    qlm_block_q8_1 y1 = {.d = 0x3800, .s = 0x4400 /* 4, deliberately not d * sum */};
    for (int j = 0; j < 32; j++) y0.qs[j] = y1.qs[j] = (int8_t)(j % 2 ? -j : j);
    qlm_block_q5_0 b0 = {.d = 0x4000 /* 2 */, .qh = {0xff, 0x00, 0xff, 0x00}};
    qlm_block_q5_1 b1 = {.d = 0x4000, .m = 0x3c00 /* 1 */, .qh = {0xff, 0x00, 0xff, 0x00}};
    qlm_block_iq4_nl bi = {.d = 0x4000};
    qlm_block_mxfp4 bm = {.e = 126 /* 2^-2 */};
    for (int j = 0; j < 16; j++) b0.qs[j] = b1.qs[j] = bi.qs[j] = bm.qs[j] = (uint8_t)(j | (j ^ 5) << 4);
    long i0 = 0, i1 = 0, ii = 0, im = 0;
    for (int j = 0; j < 32; j++) {
        const int nib = j < 16 ? j : (j - 16) ^ 5, hi = (j / 8) % 2 == 0;
        i0 += (long)(nib + 16 * hi - 16) * y0.qs[j];
        i1 += (long)(nib + 16 * hi) * y1.qs[j];
        ii += (long)iq4nl[nib] * y0.qs[j];
        im += (long)mxfp4[nib] * y0.qs[j];
    }
    float s;
    tr(QLM_TYPE_Q5_0)->vec_dot(32, &s, &b0, &y0);
    cr_assert_eq((double)s, 1.0 * (double)i0);
    tr(QLM_TYPE_Q5_1)->vec_dot(32, &s, &b1, &y1);
    cr_assert_eq((double)s, 1.0 * (double)i1 + 4.0);
    tr(QLM_TYPE_IQ4_NL)->vec_dot(32, &s, &bi, &y0);
    cr_assert_eq((double)s, 1.0 * (double)ii);
    tr(QLM_TYPE_MXFP4)->vec_dot(32, &s, &bm, &y0);
    cr_assert_eq((double)s, 0.125 * (double)im);
}
