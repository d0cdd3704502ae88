/* quant_ref_q5.c - scalar references for the 32-value formats Q5_0, Q5_1,
 * IQ4_NL and MXFP4 (block layouts in types.h).
 *
 * Quantizers: bit for bit ggml's, with the same single-precision operations
 * in the same order (-ffp-contract=off; products in their own statements):
 * Q5_0, Q5_1 and MXFP4 as quantize_row_*_ref (mirrored by gguf-py, the
 * fixtures' oracle), IQ4_NL as quantize_iq4_nl without an importance matrix,
 * which is what llama-quantize writes into IQ4_NL files. Where ggml's C has
 * undefined behaviour (float -> int conversions of NaN, Inf or out-of-range
 * values) we clamp instead; those inputs only occur in broken data.
 *
 * Dot products, as quant_ref.c's: the integer block sum is exact, then per
 * block the float operations of ggml's generic code, d = d_x * d_y then
 * d * sum (Q5_1 adds m_x * s_y), accumulated in block order into one float.
 * SIMD kernels may regroup the float sums; kcheck bounds them. */
#include "quant_ref.h"
#include "types.h"

#include <float.h>
#include <math.h>
#include <string.h>

const int8_t qlm_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
const int8_t qlm_kvalues_mxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* v truncated into [0, hi] (v already offset to be non-negative); NaN gives
 * 0. For the finite values ggml converts, the same as its (int8_t) cast. */
static inline uint8_t trunc_clamp(float v, float hi) {
    if (!(v >= 0.0f)) return 0;
    if (v > hi) return (uint8_t)hi;
    return (uint8_t)v;
}

/* The 5-bit quant of value j (0..31) of a Q5 block. */
static inline int q5_quant(const uint8_t *qs, uint32_t qh, int j) {
    const int lo = j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
    return lo | (int)((qh >> j) & 1) << 4;
}

static inline uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static inline void store_qh(uint8_t qh[4], uint32_t v) {
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(v >> 8 * k);
}

/* 32 quants (0..31) into the nibbles and the fifth bits of a Q5 block. */
static void q5_pack(const uint8_t q[32], uint8_t qs[16], uint8_t qh[4]) {
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | (q[j + 16] & 0x0f) << 4);
        h |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    store_qh(qh, h);
}

/* ------------------------------------------------------------------ Q5_0 */

/* Symmetric 5-bit: the value of largest magnitude (sign kept, the first of
 * ties) maps to -16, so [-16, 15] is used and the extreme value is exact. */
static void q5_0_quantize_block(const float *x, qlm_block_q5_0 *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = qlm_fp32_to_fp16(d);
    uint8_t q[32];
    for (int j = 0; j < 32; j++) {
        const float v = x[j] * id;
        q[j] = trunc_clamp(v + 16.5f, 31.0f); /* round half up of v + 16 */
    }
    q5_pack(q, b->qs, b->qh);
}

void qlm_q5_0_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / QLM_QK5_0; i++) q5_0_quantize_block(src + i * QLM_QK5_0, &b[i]);
}

void qlm_q5_0_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / QLM_QK5_0; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d);
        const uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < 32; j++) dst[i * 32 + j] = (float)(q5_quant(b[i].qs, qh, j) - 16) * d;
    }
}

/* ------------------------------------------------------------------ Q5_1 */

/* Asymmetric 5-bit: min maps to 0 and max to 31, x = q d + m. ggml starts
 * the min/max scan at +-FLT_MAX (not Inf); kept, it matters only for Inf. */
static void q5_1_quantize_block(const float *x, qlm_block_q5_1 *b) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = qlm_fp32_to_fp16(d);
    b->m = qlm_fp32_to_fp16(min);
    uint8_t q[32];
    for (int j = 0; j < 32; j++) {
        const float v = (x[j] - min) * id;
        q[j] = trunc_clamp(v + 0.5f, 31.0f);
    }
    q5_pack(q, b->qs, b->qh);
}

void qlm_q5_1_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / QLM_QK5_1; i++) q5_1_quantize_block(src + i * QLM_QK5_1, &b[i]);
}

void qlm_q5_1_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / QLM_QK5_1; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d), m = qlm_fp16_to_fp32(b[i].m);
        const uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < 32; j++) {
            const float p = (float)q5_quant(b[i].qs, qh, j) * d; /* two roundings, as ggml */
            dst[i * 32 + j] = p + m;
        }
    }
}

/* ---------------------------------------------------------------- IQ4_NL */

/* sum w q x and sum w q^2 (w = x^2, no importance matrix) for the indices
 * the scale 1/id gives. */
static void iq4_nl_fit(const float *x, float id, float *sumqx, float *sumq2) {
    uint8_t L[32];
    qlm_iq4nl_index32(x, id, L);
    float sx = 0.0f, s2 = 0.0f;
    for (int j = 0; j < 32; j++) {
        const float q = (float)qlm_kvalues_iq4nl[L[j]];
        const float w = x[j] * x[j];
        const float wq = w * q;
        const float t = wq * x[j], t2 = wq * q;
        sx += t;
        s2 += t2;
    }
    *sumqx = sx, *sumq2 = s2;
}

/* ggml's quantize_row_iq4_nl_impl for one 32-value block with ntry = 7
 * (quantize_iq4_nl): a weighted least-squares scale from the max-based
 * first guess, then 15 more starting scales (max maps to -127 + itry), the
 * best kept; the quants are redone with the final float scale. */
static void iq4_nl_quantize_block(const float *x, qlm_block_iq4_nl *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    float d = 0.0f;
    if (!(amax < 1e-15f)) { /* ggml's GROUP_MAX_EPS: below it the block is zero */
        const float neg_max = -max;
        d = neg_max / (float)qlm_kvalues_iq4nl[0];
        float sumqx, sumq2;
        iq4_nl_fit(x, 1.0f / d, &sumqx, &sumq2);
        d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
        float best = d * sumqx;
        for (int itry = -7; itry <= 7; itry++) {
            const float id = (float)(itry + qlm_kvalues_iq4nl[0]) / max;
            iq4_nl_fit(x, id, &sumqx, &sumq2);
            const float lhs = sumqx * sumqx, rhs = best * sumq2;
            if (sumq2 > 0.0f && lhs > rhs) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
    }
    b->d = qlm_fp32_to_fp16(d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f; /* NaN d is "true" in ggml's C too */
    uint8_t L[32];
    qlm_iq4nl_index32(x, id, L);
    for (int j = 0; j < 16; j++) b->qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
}

void qlm_iq4_nl_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_iq4_nl *b = dst;
    for (int64_t i = 0; i < n / QLM_QK4_NL; i++) iq4_nl_quantize_block(src + i * QLM_QK4_NL, &b[i]);
}

void qlm_iq4_nl_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_iq4_nl *b = src;
    for (int64_t i = 0; i < n / QLM_QK4_NL; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d);
        for (int j = 0; j < 16; j++) {
            dst[i * 32 + j] = d * (float)qlm_kvalues_iq4nl[b[i].qs[j] & 0x0f];
            dst[i * 32 + j + 16] = d * (float)qlm_kvalues_iq4nl[b[i].qs[j] >> 4];
        }
    }
}

/* ----------------------------------------------------------------- MXFP4 */

/* The shared exponent: floor(log2(amax)) - 2 + 127, so amax / 2^(e-127)
 * lands in [4, 8) and the largest E2M1 value, 6, covers it after rounding
 * (ggml). log2f as ggml calls it (glibc's agrees with numpy's on the powers
 * of two and their neighbours, where rounding decides the floor). Outside
 * [0, 255] ggml's cast is undefined: amax < 2^-125 gets 0, the finest scale
 * (x86's conversion would wrap to a huge one), and Inf gets 0 as on x86. */
static uint8_t mxfp4_exponent(float amax) {
    if (!(amax > 0.0f) || isinf(amax)) return 0;
    const float t = floorf(log2f(amax)) - 2.0f + 127.0f;
    if (!(t >= 0.0f)) return 0;
    return t > 255.0f ? 255 : (uint8_t)t;
}

/* The index whose value (kvalue * d) is nearest to x, the first of ties
 * (ggml's best_index_mxfp4: index 0 wins for NaN and infinite x). */
static uint8_t mxfp4_best_index(float x, float d) {
    int best = 0;
    float p = (float)qlm_kvalues_mxfp4[0] * d;
    float best_err = fabsf(p - x);
    for (int i = 1; i < 16; i++) {
        p = (float)qlm_kvalues_mxfp4[i] * d;
        const float err = fabsf(p - x);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return (uint8_t)best;
}

static void mxfp4_quantize_block(const float *x, qlm_block_mxfp4 *b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]);
    b->e = mxfp4_exponent(amax);
    const float d = qlm_e8m0_half(b->e);
    for (int j = 0; j < 16; j++)
        b->qs[j] = (uint8_t)(mxfp4_best_index(x[j], d) | mxfp4_best_index(x[j + 16], d) << 4);
}

void qlm_mxfp4_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_mxfp4 *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_MXFP4; i++) mxfp4_quantize_block(src + i * QLM_QK_MXFP4, &b[i]);
}

void qlm_mxfp4_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_mxfp4 *b = src;
    for (int64_t i = 0; i < n / QLM_QK_MXFP4; i++) {
        const float d = qlm_e8m0_half(b[i].e);
        for (int j = 0; j < 16; j++) {
            dst[i * 32 + j] = (float)qlm_kvalues_mxfp4[b[i].qs[j] & 0x0f] * d;
            dst[i * 32 + j + 16] = (float)qlm_kvalues_mxfp4[b[i].qs[j] >> 4] * d;
        }
    }
}

/* ---------------------------------------------------------- dot products */

/* |sum| <= 32 * 16 * 127 (Q5_0), 32 * 31 * 127 (Q5_1), 32 * 127 * 127
 * (IQ4_NL), 32 * 12 * 127 (MXFP4): exact in int and in float. */
void qlm_vec_dot_q5_0_q8_0(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q5_0 *a = x;
    const qlm_block_q8_0 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK5_0; i++) {
        const uint32_t qh = load_qh(a[i].qh);
        int sumi = 0;
        for (int j = 0; j < 32; j++) sumi += (q5_quant(a[i].qs, qh, j) - 16) * b[i].qs[j];
        const float d = qlm_fp16_to_fp32(a[i].d) * qlm_fp16_to_fp32(b[i].d);
        const float t = d * (float)sumi;
        sum += t;
    }
    *s = sum;
}

/* sum_j (d_x q_j + m_x)(d_y p_j) = d_x d_y sum(q p) + m_x s_y, s_y the Q8_1
 * block's stored d_y sum(p), as Q4_1. */
void qlm_vec_dot_q5_1_q8_1(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q5_1 *a = x;
    const qlm_block_q8_1 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK5_1; i++) {
        const uint32_t qh = load_qh(a[i].qh);
        int sumi = 0;
        for (int j = 0; j < 32; j++) sumi += q5_quant(a[i].qs, qh, j) * b[i].qs[j];
        const float dd = qlm_fp16_to_fp32(a[i].d) * qlm_fp16_to_fp32(b[i].d);
        const float t0 = dd * (float)sumi;
        const float t1 = qlm_fp16_to_fp32(a[i].m) * qlm_fp16_to_fp32(b[i].s);
        sum += t0 + t1;
    }
    *s = sum;
}

/* One block's integer dot of 4-bit table indices with the Q8 quants. */
static int lut_block_dot(const int8_t *table, const uint8_t *qs, const int8_t *q8) {
    int sumi = 0;
    for (int j = 0; j < 16; j++) {
        sumi += table[qs[j] & 0x0f] * q8[j];
        sumi += table[qs[j] >> 4] * q8[j + 16];
    }
    return sumi;
}

void qlm_vec_dot_iq4_nl_q8_0(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_iq4_nl *a = x;
    const qlm_block_q8_0 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK4_NL; i++) {
        const int sumi = lut_block_dot(qlm_kvalues_iq4nl, a[i].qs, b[i].qs);
        const float d = qlm_fp16_to_fp32(a[i].d) * qlm_fp16_to_fp32(b[i].d);
        const float t = d * (float)sumi;
        sum += t;
    }
    *s = sum;
}

/* The block scale is 2^(e - 128) * d_y, one float product (it rounds only
 * when it falls below FLT_MIN or past FLT_MAX). */
void qlm_vec_dot_mxfp4_q8_0(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_mxfp4 *a = x;
    const qlm_block_q8_0 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_MXFP4; i++) {
        const int sumi = lut_block_dot(qlm_kvalues_mxfp4, a[i].qs, b[i].qs);
        const float d = qlm_e8m0_half(a[i].e) * qlm_fp16_to_fp32(b[i].d);
        const float t = d * (float)sumi;
        sum += t;
    }
    *s = sum;
}
