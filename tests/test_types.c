/* test_types.c - the type table, half/bfloat conversions and the reference
 * quantizers and dot products of engine/quant_ref.c.
 *
 * Oracles: gguf-py's quantizers (fixtures from tests/gen/gen_quant_fixtures.py,
 * read relative to the repo root) for bit-exact bytes; double-precision
 * references computed here for the conversions and the dot products. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include "quant_fixture.h"


/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static void rng_seed(uint64_t seed) { rng_state = seed; }

/* splitmix64: tiny, deterministic, good enough for test data */
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static float rng_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) * 0x1p-53);
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static const qlm_type_traits *traits(qlm_type t) {
    const qlm_type_traits *tt = qlm_type_traits_get(t);
    cr_assert_not_null(tt, "no traits for type %d", (int)t);
    return tt;
}

/* Exact value of a finite binary16 pattern, computed independently of types.c:
 * normal (1024 + m) * 2^(e-25), subnormal m * 2^-24. The pattern 0x7c00 reads
 * as 2^16, the value a rounding past 65504 would reach: that lets the rounding
 * reference treat overflow to Inf as an ordinary round-up. */
static double half_value(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    return (h & 0x8000) ? -v : v;
}

/* Exact value of a bfloat16 pattern; 0x7f80 (Inf) reads as 2^128 as above. */
static double bf16_value(uint16_t h) {
    if ((h & 0x7fff) == 0x7f80) return (h & 0x8000) ? -0x1p128 : 0x1p128;
    return (double)f32_from_bits((uint32_t)h << 16);
}

/* Picks lo or lo+1 (consecutive magnitudes around a), nearest, ties to even. */
static uint16_t round_between(double a, uint16_t lo, double vlo, double vhi) {
    double dlo = a - vlo, dhi = vhi - a;
    if (dlo < dhi) return lo;
    if (dhi < dlo) return (uint16_t)(lo + 1);
    return (lo & 1) ? (uint16_t)(lo + 1) : lo;
}

/* Reference f32 -> f16 for finite f: binary search of the largest positive
 * pattern not above |f| (patterns are ordered like their values). */
static uint16_t ref_fp32_to_fp16(float f) {
    double a = fabs((double)f);
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    if (a >= 65536.0) return sign | 0x7c00;
    uint16_t lo = 0, hi = 0x7c00; /* half_value(lo) <= a < half_value(hi) */
    while (hi - lo > 1) {
        uint16_t mid = (uint16_t)((lo + hi) / 2);
        if (half_value(mid) <= a) lo = mid;
        else hi = mid;
    }
    return sign | round_between(a, lo, half_value(lo), half_value(lo + 1));
}

/* Reference f32 -> bf16 for finite f: the neighbours are the truncation and
 * the next pattern up. */
static uint16_t ref_fp32_to_bf16(float f) {
    double a = fabs((double)f);
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    uint16_t lo = (uint16_t)((f32_bits(f) & 0x7fffffffu) >> 16);
    return sign | round_between(a, lo, bf16_value(lo), bf16_value(lo + 1));
}

/* --------------------------------------------------------- type table */

Test(types, table_sizes) {
    cr_assert_eq(traits(QLM_TYPE_F32)->type_size, sizeof(float));
    cr_assert_eq(traits(QLM_TYPE_F16)->type_size, sizeof(uint16_t));
    cr_assert_eq(traits(QLM_TYPE_BF16)->type_size, sizeof(uint16_t));
    cr_assert_eq(traits(QLM_TYPE_Q4_0)->type_size, sizeof(qlm_block_q4_0));
    cr_assert_eq(traits(QLM_TYPE_Q4_1)->type_size, sizeof(qlm_block_q4_1));
    cr_assert_eq(traits(QLM_TYPE_Q8_0)->type_size, sizeof(qlm_block_q8_0));
    cr_assert_eq(traits(QLM_TYPE_Q8_1)->type_size, sizeof(qlm_block_q8_1));
    cr_assert_eq(traits(QLM_TYPE_Q4_0)->block_size, QLM_QK4_0);
    cr_assert_eq(traits(QLM_TYPE_Q4_1)->block_size, QLM_QK4_1);
    cr_assert_eq(traits(QLM_TYPE_Q8_0)->block_size, QLM_QK8_0);
    cr_assert_eq(traits(QLM_TYPE_Q8_1)->block_size, QLM_QK8_1);
    /* GGUF's sizes for a few rows qlm only validates (ggml's type traits) */
    cr_assert_eq(traits(QLM_TYPE_Q6_K)->type_size, 210);
    cr_assert_eq(traits(QLM_TYPE_Q4_K)->block_size, 256);
}

Test(types, table_rows_consistent) {
    for (uint32_t t = 0; t < QLM_TYPE_COUNT; t++) {
        const qlm_type_traits *tt = qlm_type_traits_get(t);
        if (!tt) {
            cr_assert_str_eq(qlm_type_name(t), "?");
            continue;
        }
        cr_assert_str_eq(qlm_type_name(t), tt->name);
        cr_assert_gt(tt->block_size, 0, "%s", tt->name);
        cr_assert_gt(tt->type_size, 0, "%s", tt->name);
        if (tt->vec_dot) {
            /* activations are converted to vec_dot_type, so it must be producible */
            const qlm_type_traits *vt = qlm_type_traits_get(tt->vec_dot_type);
            cr_assert_not_null(vt, "%s", tt->name);
            cr_assert_not_null(vt->from_float, "%s", tt->name);
            cr_assert_eq(tt->block_size % vt->block_size, 0, "%s", tt->name);
            cr_assert_not_null(tt->to_float, "%s", tt->name);
        }
    }
    cr_assert_null(qlm_type_traits_get(4)); /* Q4_2, removed from GGUF */
    cr_assert_null(qlm_type_traits_get(QLM_TYPE_COUNT));
    cr_assert_null(qlm_type_traits_get(0xffffffffu));
    cr_assert_str_eq(qlm_type_name(1000), "?");
}

Test(types, row_size) {
    for (uint32_t t = 0; t < QLM_TYPE_COUNT; t++) {
        const qlm_type_traits *tt = qlm_type_traits_get(t);
        if (!tt) {
            cr_assert_eq(qlm_row_size((qlm_type)t, 256), 0);
            continue;
        }
        int64_t bs = tt->block_size;
        cr_assert_eq(qlm_row_size((qlm_type)t, 0), 0);
        cr_assert_eq(qlm_row_size((qlm_type)t, bs), tt->type_size, "%s", tt->name);
        cr_assert_eq(qlm_row_size((qlm_type)t, 7 * bs), 7 * tt->type_size, "%s", tt->name);
        cr_assert_eq(qlm_row_size((qlm_type)t, 4096 * bs), 4096 * tt->type_size, "%s", tt->name);
        cr_assert_eq(qlm_row_size((qlm_type)t, -bs), 0, "%s", tt->name);
        if (bs > 1) {
            cr_assert_eq(qlm_row_size((qlm_type)t, bs + 1), 0, "%s", tt->name);
            cr_assert_eq(qlm_row_size((qlm_type)t, bs - 1), 0, "%s", tt->name);
            cr_assert_eq(qlm_row_size((qlm_type)t, 3 * bs + bs / 2), 0, "%s", tt->name);
        }
    }
}

/* ------------------------------------------------------------ binary16 */

Test(types, fp16_to_fp32_exhaustive) {
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = qlm_fp16_to_fp32((uint16_t)h);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) { /* NaN: sign and payload carried */
            cr_assert(isnan(f), "h=%04x", h);
            uint32_t want = ((h & 0x8000u) << 16) | 0x7f800000u | ((h & 0x3ffu) << 13);
            cr_assert_eq(f32_bits(f), want, "h=%04x", h);
        } else if ((h & 0x7fff) == 0x7c00) {
            cr_assert(isinf(f) && !signbit(f) == !(h & 0x8000), "h=%04x", h);
        } else {
            cr_assert_eq((double)f, half_value((uint16_t)h), "h=%04x", h);
            cr_assert_eq(!signbit(f), !(h & 0x8000), "h=%04x sign", h); /* -0 */
        }
    }
}

/* f16 -> f32 -> f16 is the identity; NaNs come back quiet (bit 9 set, the
 * F16C behaviour) with sign and payload otherwise kept. */
Test(types, fp16_round_trip_exhaustive) {
    for (uint32_t h = 0; h < 0x10000; h++) {
        uint16_t back = qlm_fp32_to_fp16(qlm_fp16_to_fp32((uint16_t)h));
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        uint16_t want = is_nan ? (uint16_t)(h | 0x200) : (uint16_t)h;
        cr_assert_eq(back, want, "h=%04x -> %04x", h, back);
    }
}

static void check_f2h(float f) {
    uint16_t got = qlm_fp32_to_fp16(f);
    if (isnan(f)) {
        cr_assert((got & 0x7c00) == 0x7c00 && (got & 0x200), "NaN %08x -> %04x", f32_bits(f), got);
        cr_assert_eq(got >> 15, f32_bits(f) >> 31, "NaN sign %08x", f32_bits(f));
        return;
    }
    uint16_t want = ref_fp32_to_fp16(f);
    cr_assert_eq(got, want, "f=%a (%08x): got %04x want %04x", (double)f, f32_bits(f), got, want);
}

Test(types, fp32_to_fp16_boundaries) {
    cr_assert_eq(qlm_fp32_to_fp16(65504.0f), 0x7bff);
    cr_assert_eq(qlm_fp32_to_fp16(65519.996f), 0x7bff);
    cr_assert_eq(qlm_fp32_to_fp16(65520.0f), 0x7c00); /* the tie rounds to even: Inf */
    cr_assert_eq(qlm_fp32_to_fp16(-65520.0f), 0xfc00);
    cr_assert_eq(qlm_fp32_to_fp16(0x1p-24f), 0x0001);    /* smallest subnormal */
    cr_assert_eq(qlm_fp32_to_fp16(0x1p-25f), 0x0000);    /* half of it: tie to even 0 */
    cr_assert_eq(qlm_fp32_to_fp16(0x1.000002p-25f), 0x0001);
    cr_assert_eq(qlm_fp32_to_fp16(0x3p-25f), 0x0002);    /* 1.5 ulp: tie to even 2 */
    cr_assert_eq(qlm_fp32_to_fp16(0x1p-14f), 0x0400);    /* smallest normal */
    cr_assert_eq(qlm_fp32_to_fp16(0x1.ff8p-15f), 0x03ff); /* largest subnormal */
    cr_assert_eq(qlm_fp32_to_fp16(0x1.ffcp-15f), 0x0400); /* tie above it: to even, normal */
    cr_assert_eq(qlm_fp32_to_fp16(-0.0f), 0x8000);
    cr_assert_eq(qlm_fp32_to_fp16(INFINITY), 0x7c00);
    cr_assert_eq(qlm_fp32_to_fp16(-INFINITY), 0xfc00);
    cr_assert_eq(qlm_fp32_to_fp16(FLT_MAX), 0x7c00);
    cr_assert_eq(qlm_fp32_to_fp16(1.0f), 0x3c00);
    cr_assert_eq(qlm_fp32_to_fp16(f32_from_bits(0x7fc00000)), 0x7e00);
    cr_assert_eq(qlm_fp32_to_fp16(f32_from_bits(0xffc00000)), 0xfe00);
    check_f2h(f32_from_bits(0x7f800001)); /* signalling NaN: must stay a NaN */
    check_f2h(f32_from_bits(0x7fa00000));
    check_f2h(FLT_MIN);
    check_f2h(FLT_TRUE_MIN);
}

/* Every rounding decision: each midpoint between adjacent halves and the
 * floats on either side of it, both signs. */
Test(types, fp32_to_fp16_midpoints) {
    for (uint32_t h = 0; h < 0x7c00; h++) {
        float mid = (float)((half_value((uint16_t)h) + half_value((uint16_t)(h + 1))) / 2);
        cr_assert_eq((double)mid, (half_value((uint16_t)h) + half_value((uint16_t)(h + 1))) / 2);
        const float cases[] = {mid, nextafterf(mid, INFINITY), nextafterf(mid, 0.0f),
                               (float)half_value((uint16_t)h)};
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            check_f2h(cases[i]);
            check_f2h(-cases[i]);
        }
    }
}

Test(types, fp32_to_fp16_random) {
    rng_seed(1);
    for (int i = 0; i < 1 << 21; i++) {
        uint64_t r = rng_next();
        check_f2h(f32_from_bits((uint32_t)r));
        /* and a float inside the half range, where the interesting cases are */
        check_f2h(f32_from_bits(0x33000000u + (uint32_t)(r >> 32) % (0x47800000u - 0x33000000u)));
    }
}

/* ------------------------------------------------------------- bfloat16 */

Test(types, bf16_exhaustive) {
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = qlm_bf16_to_fp32((uint16_t)h);
        cr_assert_eq(f32_bits(f), h << 16, "h=%04x", h); /* bf16 is the top half of f32 */
        int is_nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        uint16_t want = is_nan ? (uint16_t)(h | 0x40) : (uint16_t)h; /* NaN made quiet */
        cr_assert_eq(qlm_fp32_to_bf16(f), want, "round trip h=%04x", h);
    }
}

static void check_f2b(float f) {
    uint16_t got = qlm_fp32_to_bf16(f);
    if (isnan(f)) { /* ggml/gguf-py rule: top 16 bits with the quiet bit forced */
        cr_assert_eq(got, (uint16_t)((f32_bits(f) >> 16) | 0x40), "NaN %08x", f32_bits(f));
        return;
    }
    uint16_t want = ref_fp32_to_bf16(f);
    cr_assert_eq(got, want, "f=%a (%08x): got %04x want %04x", (double)f, f32_bits(f), got, want);
}

Test(types, fp32_to_bf16_rounding) {
    cr_assert_eq(qlm_fp32_to_bf16(f32_from_bits(0x3f808000)), 0x3f80); /* tie, even below */
    cr_assert_eq(qlm_fp32_to_bf16(f32_from_bits(0x3f818000)), 0x3f82); /* tie, even above */
    cr_assert_eq(qlm_fp32_to_bf16(FLT_MAX), 0x7f80);                   /* rounds to Inf */
    cr_assert_eq(qlm_fp32_to_bf16(-0.0f), 0x8000);
    cr_assert_eq(qlm_fp32_to_bf16(f32_from_bits(0x7f800001)), 0x7fc0);
    check_f2b(FLT_TRUE_MIN);
    check_f2b(f32_from_bits(0x00008000)); /* subnormal tie to even 0 */
    check_f2b(f32_from_bits(0x00018000)); /* subnormal tie to even 2 */
    rng_seed(2);
    for (int i = 0; i < 1 << 22; i++) check_f2b(f32_from_bits((uint32_t)rng_next()));
    for (uint32_t h = 0; h < 0x7f80; h++) { /* each midpoint and its neighbours */
        uint32_t mid = (h << 16) | 0x8000;
        check_f2b(f32_from_bits(mid));
        check_f2b(f32_from_bits(mid - 1));
        check_f2b(f32_from_bits(mid + 1));
        check_f2b(f32_from_bits(mid | 0x80000000u));
    }
}

/* ------------------------------------------------------ gguf-py fixtures */

Test(types, fixture_f16) { qf_check("f16", QLM_TYPE_F16); }
Test(types, fixture_bf16) { qf_check("bf16", QLM_TYPE_BF16); }
Test(types, fixture_q4_0) { qf_check("q4_0", QLM_TYPE_Q4_0); }
Test(types, fixture_q4_1) { qf_check("q4_1", QLM_TYPE_Q4_1); }
Test(types, fixture_q8_0) { qf_check("q8_0", QLM_TYPE_Q8_0); }

Test(types, f32_identity) {
    const float in[4] = {1.5f, -0.0f, INFINITY, f32_from_bits(0x7fa00001)};
    float mid[4], out[4];
    traits(QLM_TYPE_F32)->from_float(in, mid, 4);
    traits(QLM_TYPE_F32)->to_float(mid, out, 4);
    cr_assert(memcmp(in, out, sizeof in) == 0);
}

/* --------------------------------------------------------- dot products */

/* Exact (double) dequantization of element i of a row, from the block fields;
 * independent of quant_ref.c's to_float. */
static double deq_value(qlm_type t, const void *row, int64_t i) {
    int64_t b = i / 32, j = i % 32;
    switch (t) {
    case QLM_TYPE_F32: return ((const float *)row)[i];
    case QLM_TYPE_F16: return half_value(((const uint16_t *)row)[i]);
    case QLM_TYPE_BF16: return bf16_value(((const uint16_t *)row)[i]);
    case QLM_TYPE_Q4_0: {
        const qlm_block_q4_0 *x = (const qlm_block_q4_0 *)row + b;
        int q = j < 16 ? (x->qs[j] & 0xf) : (x->qs[j - 16] >> 4);
        return half_value(x->d) * (q - 8);
    }
    case QLM_TYPE_Q4_1: {
        const qlm_block_q4_1 *x = (const qlm_block_q4_1 *)row + b;
        int q = j < 16 ? (x->qs[j] & 0xf) : (x->qs[j - 16] >> 4);
        return half_value(x->d) * q + half_value(x->m);
    }
    case QLM_TYPE_Q8_0: return half_value(((const qlm_block_q8_0 *)row + b)->d) *
                               ((const qlm_block_q8_0 *)row + b)->qs[j];
    case QLM_TYPE_Q8_1: return half_value(((const qlm_block_q8_1 *)row + b)->d) *
                               ((const qlm_block_q8_1 *)row + b)->qs[j];
    default: cr_assert_fail("no reference for type %d", (int)t);
    }
    return 0;
}

/* Per-term rounding of the kernel, in units of u = 2^-24 times |term|:
 * float types round one product per element; Q4_0/Q8_0 blocks round the two
 * scale multiplies; Q4_1 blocks round d*d, *sumi, m*s and their sum (3 is a
 * first-order bound for all of those, relative to |A| + |B|). */
static int term_roundings(qlm_type t) {
    return t == QLM_TYPE_Q4_1 ? 3 : (t == QLM_TYPE_Q4_0 || t == QLM_TYPE_Q8_0) ? 2 : 1;
}

/* Checks vec_dot against sum_i x_i*y_i in double over the dequantized rows.
 * Tolerance: a running error bound for the kernel's left-to-right float sum
 * of terms t_k (one per element, or one per block for quantized types):
 *   |err| <= u * (r * sum|t_k| + sum_k |S_k|)        (Higham, "Accuracy and
 * Stability of Numerical Algorithms", 2nd ed., sec. 3.1), S_k the partial
 * sums, r the roundings inside one term; first order, hence the 1.01 slack.
 * It is far tighter than the a-priori gamma_n bound (n*u = 2.4e-4 relative at
 * n = 4096): dropping or misplacing a single element fails it. For Q4_1 the
 * kernel uses the fp16 s = d*sum(q) of the Q8_1 block, not the exact sum, so
 * the measured gap |m_x| * |s - d_y*sum(q)| per block is added. */
static void check_vec_dot(qlm_type tx, int64_t n, float lo, float hi) {
    const qlm_type_traits *xt = traits(tx), *yt = traits(xt->vec_dot_type);
    float *xf = malloc((size_t)n * sizeof(float)), *yf = malloc((size_t)n * sizeof(float));
    void *xq = malloc(qlm_row_size(tx, n)), *yq = malloc(qlm_row_size(xt->vec_dot_type, n));
    cr_assert(xf && yf && xq && yq);
    for (int64_t i = 0; i < n; i++) {
        xf[i] = rng_uniform(lo, hi);
        yf[i] = rng_uniform(-1.0f, 1.0f);
    }
    xt->from_float(xf, xq, n);
    yt->from_float(yf, yq, n);
    float got = NAN;
    xt->vec_dot(n, &got, xq, yq);

    int64_t per_term = xt->block_size; /* elements summed exactly into one term */
    double ref = 0, abs_sum = 0, term_abs = 0, partial_abs = 0, gap = 0, term = 0;
    for (int64_t i = 0; i < n; i++) {
        double p = deq_value(tx, xq, i) * deq_value(xt->vec_dot_type, yq, i);
        ref += p;
        abs_sum += fabs(p);
        term += p;
        if ((i + 1) % per_term) continue;
        if (tx == QLM_TYPE_Q4_1) { /* the kernel's term uses s; measure the gap */
            const qlm_block_q4_1 *xb = (const qlm_block_q4_1 *)xq + i / 32;
            const qlm_block_q8_1 *yb = (const qlm_block_q8_1 *)yq + i / 32;
            int qsum = 0;
            for (int j = 0; j < 32; j++) qsum += yb->qs[j];
            double sgap = half_value(yb->s) - half_value(yb->d) * qsum;
            gap += fabs(half_value(xb->m) * sgap);
            /* |A| + |B|: A the d_x*d_y*sum(q*p) part, B = m_x*s */
            double a = term - half_value(xb->m) * half_value(yb->d) * qsum;
            term_abs += fabs(a) + fabs(half_value(xb->m) * half_value(yb->s));
        } else {
            term_abs += fabs(term);
        }
        partial_abs += fabs(ref);
        term = 0;
    }
    const double u = 0x1p-24;
    double bound = 1.01 * u * (term_roundings(tx) * term_abs + partial_abs);
    cr_assert_leq(fabs((double)got - ref), bound + gap,
                  "%s.%s n=%ld: got %.9g, reference %.9g, |err| %.3g > bound %.3g + gap %.3g",
                  xt->name, yt->name, (long)n, (double)got, ref, fabs(got - ref), bound, gap);
    /* the bound itself stays small: <= 1e-5 of sum|x_i*y_i| here */
    cr_assert_leq(bound, 1e-5 * abs_sum, "%s n=%ld: bound %.3g", xt->name, (long)n, bound);
    free(xf);
    free(yf);
    free(xq);
    free(yq);
}

static const int64_t dot_sizes[] = {32, 64, 96, 256, 4096, 32 * 37};

static void check_vec_dot_sizes(qlm_type tx, uint64_t seed, float lo, float hi) {
    rng_seed(seed);
    for (size_t k = 0; k < sizeof dot_sizes / sizeof dot_sizes[0]; k++)
        for (int rep = 0; rep < 4; rep++) check_vec_dot(tx, dot_sizes[k], lo, hi);
}

Test(types, vec_dot_f32_f32) { check_vec_dot_sizes(QLM_TYPE_F32, 10, -1.0f, 1.0f); }
Test(types, vec_dot_f16_f32) { check_vec_dot_sizes(QLM_TYPE_F16, 11, -1.0f, 1.0f); }
Test(types, vec_dot_bf16_f32) { check_vec_dot_sizes(QLM_TYPE_BF16, 12, -1.0f, 1.0f); }
Test(types, vec_dot_q4_0_q8_0) { check_vec_dot_sizes(QLM_TYPE_Q4_0, 13, -1.0f, 1.0f); }
Test(types, vec_dot_q8_0_q8_0) { check_vec_dot_sizes(QLM_TYPE_Q8_0, 14, -1.0f, 1.0f); }
/* offset weights so Q4_1's m term matters */
Test(types, vec_dot_q4_1_q8_1) { check_vec_dot_sizes(QLM_TYPE_Q4_1, 15, -0.25f, 1.0f); }

/* A known answer, so a consistently wrong nibble order cannot hide behind a
 * reference that shares it: x in [-8, 7] (exact in Q4_0 with d = 1, -8 first
 * so it is the signed max) and y integers with max 127 (exact in Q8_0, d = 1). */
Test(types, vec_dot_known_answer) {
    float x[32], y[32];
    double want = 0;
    for (int i = 0; i < 32; i++) {
        x[i] = (float)(i % 16) - 8.0f;
        y[i] = i == 0 ? 127.0f : (float)(i - 16);
        want += (double)x[i] * y[i];
    }
    qlm_block_q4_0 bx;
    qlm_block_q8_0 by;
    traits(QLM_TYPE_Q4_0)->from_float(x, &bx, 32);
    traits(QLM_TYPE_Q8_0)->from_float(y, &by, 32);
    cr_assert_eq(qlm_fp16_to_fp32(bx.d), 1.0f);
    cr_assert_eq(qlm_fp16_to_fp32(by.d), 1.0f);
    cr_assert_eq(bx.qs[1], 0x11); /* x[1] = x[17] = -7 -> q = 1 in both nibbles */
    float s;
    traits(QLM_TYPE_Q4_0)->vec_dot(32, &s, &bx, &by);
    cr_assert_eq((double)s, want);
    traits(QLM_TYPE_Q8_0)->from_float(x, &by, 32); /* x in Q8_0: d = 8/127, not exact */
    qlm_block_q8_0 by2;
    traits(QLM_TYPE_Q8_0)->from_float(y, &by2, 32);
    traits(QLM_TYPE_Q8_0)->vec_dot(32, &s, &by, &by2);
    cr_assert_float_eq(s, want, 0.01 * fabs(want));
}

/* Q8_1's s is fp16(d*sum(q)) with d the unrounded float scale amax/127
 * (ggml's quantize_row_q8_1_ref), checked exactly. Against the stored fp16 d
 * it then differs by at most the two fp16 roundings, 2^-10 |d16*sum| (+ one
 * subnormal ulp), while d16 is a normal half; where d underflows (tiny
 * blocks) s keeps what d lost, so only the exact rule applies. */
Test(types, q8_1_sum_field) {
    rng_seed(20);
    enum { N = 32 * 64 };
    float x[N];
    qlm_block_q8_1 b[N / 32];
    for (int i = 0; i < N; i++) x[i] = rng_uniform(-1.0f, 2.0f) * (float)(1 + i / 256);
    for (int i = 0; i < 32; i++) x[i] = 1e-6f * rng_uniform(-1.0f, 1.0f);  /* d underflows */
    for (int i = 32; i < 64; i++) x[i] = 1e-3f * rng_uniform(-1.0f, 1.0f); /* d subnormal */
    traits(QLM_TYPE_Q8_1)->from_float(x, b, N);
    for (int k = 0; k < N / 32; k++) {
        int sum = 0;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            sum += b[k].qs[j];
            amax = fmaxf(amax, fabsf(x[32 * k + j]));
        }
        const float d32 = amax / 127.0f;
        cr_assert_eq(b[k].s, qlm_fp32_to_fp16((float)sum * d32), "block %d", k);
        double want = half_value(b[k].d) * sum, got = half_value(b[k].s);
        if (half_value(b[k].d) >= 0x1p-14)
            cr_assert_leq(fabs(got - want), 0x1p-10 * fabs(want) + 0x1p-24,
                          "block %d: s %.9g, d*sum %.9g", k, got, want);
    }
    /* and Q8_1's quants and d are Q8_0's */
    qlm_block_q8_0 b0[N / 32];
    traits(QLM_TYPE_Q8_0)->from_float(x, b0, N);
    for (int k = 0; k < N / 32; k++) {
        cr_assert_eq(b[k].d, b0[k].d);
        cr_assert(memcmp(b[k].qs, b0[k].qs, 32) == 0, "block %d", k);
    }
}
