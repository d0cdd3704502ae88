/* neon_kquants_low.c - AArch64 NEON dot products of Q2_K, Q3_K, IQ4_XS,
 * TQ1_0 and TQ2_0 weights with Q8_K activations, bit-identical with the references in
 * engine/quant_ref_kquants_low.c: per block, exact integer sums (in any
 * lane order), then the reference's float operations in its order.
 *
 * Built twice, like neon.c: as itself for baseline armv8-a (*_neon), and
 * included by neon_dotprod_kquants_low.c with -march=armv8.2-a+dotprod
 * (*_neon_dot), where dot16 is one SDOT. Weights are decoded to int8
 * (Q2_K 0..3, Q3_K -4..3, IQ4_XS grid values by TBL, ternary -1..1), 16
 * values per dot, then multiplied by the sub-block scale into int32 lanes. */
#include <arm_neon.h>
#include <string.h>

#include "kernels.h"
#include "kquants_scales.h"

/* The constant loops over a block's parts run fully unrolled (shift counts,
 * lane selections and scale shuffles become immediates; GCC's -O2, which
 * the NEON files get, would keep them rolled). */
#define UNROLL _Pragma("GCC unroll 8")

#ifdef __ARM_FEATURE_DOTPROD
/* SDOT: lane k += x[4k..4k+3] . y[4k..4k+3]. */
static inline int32x4_t dot16(int8x16_t x, int8x16_t y) { return vdotq_s32(vdupq_n_s32(0), x, y); }
#else
/* Products widened to int16, adjacent pairs added (no overflow: |x| <= 128
 * and |y| <= 127 give |pair| <= 32512), pairs of pairs widened to int32:
 * the same lanes as SDOT. */
static inline int32x4_t dot16(int8x16_t x, int8x16_t y) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(x), vget_low_s8(y));
    const int16x8_t p1 = vmull_high_s8(x, y);
    return vpaddlq_s16(vpaddq_s16(p0, p1));
}
#endif

/* FCVT widening: exact for every half (Linux runs with FPCR.FZ16 clear). */
static inline float h2f(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* The 2-bit field s of 16 qs bytes (values 128h + 32s + l, l the byte). */
static inline int8x16_t two_bits(uint8x16_t q, int s) {
    return vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * s))), vdupq_n_u8(3)));
}

/* sum over 16 int16 bsums times 16 int16 factors, exact in int32. */
static inline int bsums_dot(const int16_t *bsums, int16x8_t f0, int16x8_t f1) {
    const int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
    int32x4_t t = vmull_s16(vget_low_s16(b0), vget_low_s16(f0));
    t = vmlal_high_s16(t, b0, f0);
    t = vmlal_s16(t, vget_low_s16(b1), vget_low_s16(f1));
    t = vmlal_high_s16(t, b1, f1);
    return vaddvq_s32(t);
}

/* ==================================================================== Q2_K */

static QLM_ALWAYS_INLINE float q2_k_term(const qlm_block_q2_k *x, const qlm_block_q8_k *y) {
    const uint8x16_t sc8 = vld1q_u8(x->scales);
    const uint8x16_t mn8 = vshrq_n_u8(sc8, 4);
    const int msum = bsums_dot(y->bsums, vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mn8))),
                               vreinterpretq_s16_u16(vmovl_high_u8(mn8)));
    int32x4_t acc = vdupq_n_s32(0);
    UNROLL
    for (int h = 0; h < 2; h++) {
        const uint8x16_t q0 = vld1q_u8(x->qs + 32 * h), q1 = vld1q_u8(x->qs + 32 * h + 16);
        UNROLL
        for (int s = 0; s < 4; s++) {
            const int8_t *a = y->qs + 128 * h + 32 * s;
            const int j = 8 * h + 2 * s; /* the sub-blocks of bytes 0-15 and 16-31 */
            acc = vmlaq_n_s32(acc, dot16(two_bits(q0, s), vld1q_s8(a)), x->scales[j] & 0xf);
            acc = vmlaq_n_s32(acc, dot16(two_bits(q1, s), vld1q_s8(a + 16)), x->scales[j + 1] & 0xf);
        }
    }
    const int isum = vaddvq_s32(acc);
    const float d = h2f(x->d) * y->d;
    const float dm = h2f(x->dmin) * y->d;
    const float t0 = d * (float)isum;
    const float t1 = dm * (float)msum;
    return t0 - t1;
}

/* ==================================================================== Q3_K */

/* The 16 6-bit scales minus 32 (kquants_scales.h). */
static inline void q3_k_scales(const uint8_t *packed, int8_t sc[16]) {
    uint32_t u[4];
    qlm_q3_k_unpack(packed, u);
    vst1q_s8(sc, vsubq_s8(vreinterpretq_s8_u8(vld1q_u8((const uint8_t *)u)), vdupq_n_s8(32)));
}

static QLM_ALWAYS_INLINE float q3_k_term(const qlm_block_q3_k *x, const qlm_block_q8_k *y) {
    int8_t sc[16];
    q3_k_scales(x->scales, sc);
    const uint8x16_t hm0 = vld1q_u8(x->hmask), hm1 = vld1q_u8(x->hmask + 16), four = vdupq_n_u8(4);
    int32x4_t acc = vdupq_n_s32(0);
    UNROLL
    for (int h = 0; h < 2; h++) {
        const uint8x16_t q0 = vld1q_u8(x->qs + 32 * h), q1 = vld1q_u8(x->qs + 32 * h + 16);
        UNROLL
        for (int s = 0; s < 4; s++) {
            const int8_t *a = y->qs + 128 * h + 32 * s;
            const int j = 8 * h + 2 * s;
            const uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << (4 * h + s)));
            /* q = low bits + 4 x hmask bit - 4, in -4..3 */
            const int8x16_t w0 =
                vsubq_s8(vorrq_s8(two_bits(q0, s), vreinterpretq_s8_u8(vandq_u8(vtstq_u8(hm0, bit), four))),
                         vdupq_n_s8(4));
            const int8x16_t w1 =
                vsubq_s8(vorrq_s8(two_bits(q1, s), vreinterpretq_s8_u8(vandq_u8(vtstq_u8(hm1, bit), four))),
                         vdupq_n_s8(4));
            acc = vmlaq_n_s32(acc, dot16(w0, vld1q_s8(a)), sc[j]);
            acc = vmlaq_n_s32(acc, dot16(w1, vld1q_s8(a + 16)), sc[j + 1]);
        }
    }
    const int isum = vaddvq_s32(acc);
    const float d = h2f(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* ================================================================== IQ4_XS */

static QLM_ALWAYS_INLINE float iq4_xs_term(const qlm_block_iq4_xs *x, const qlm_block_q8_k *y) {
    static const int8_t kvalues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                       1,    13,   25,  38,  53,  69,  89,  113};
    const int8x16_t table = vld1q_s8(kvalues);
    int32x4_t acc = vdupq_n_s32(0);
    UNROLL
    for (int ib = 0; ib < 8; ib++) {
        const int ls =
            (((x->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x->scales_h >> (2 * ib)) & 3) << 4)) - 32;
        const uint8x16_t q = vld1q_u8(x->qs + 16 * ib);
        const int8x16_t lo = vqtbl1q_s8(table, vandq_u8(q, vdupq_n_u8(0xf))),
                        hi = vqtbl1q_s8(table, vshrq_n_u8(q, 4));
        const int32x4_t sub =
            vaddq_s32(dot16(lo, vld1q_s8(y->qs + 32 * ib)), dot16(hi, vld1q_s8(y->qs + 32 * ib + 16)));
        acc = vmlaq_n_s32(acc, sub, ls);
    }
    const int isum = vaddvq_s32(acc);
    const float d = h2f(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* ================================================================= ternary */

static QLM_ALWAYS_INLINE float tq2_0_term(const qlm_block_tq2_0 *x, const qlm_block_q8_k *y) {
    const int8x16_t one = vdupq_n_s8(1);
    int32x4_t acc = vdupq_n_s32(0);
    UNROLL
    for (int h = 0; h < 2; h++) {
        const uint8x16_t q0 = vld1q_u8(x->qs + 32 * h), q1 = vld1q_u8(x->qs + 32 * h + 16);
        UNROLL
        for (int s = 0; s < 4; s++) {
            const int8_t *a = y->qs + 128 * h + 32 * s;
            acc = vaddq_s32(acc, dot16(vsubq_s8(two_bits(q0, s), one), vld1q_s8(a)));
            acc = vaddq_s32(acc, dot16(vsubq_s8(two_bits(q1, s), one), vld1q_s8(a + 16)));
        }
    }
    const int isum = vaddvq_s32(acc);
    const float d = h2f(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* TQ1_0's trit of each byte b for multipliers p (3^n per byte): (b * p mod
 * 256) * 3 >> 8, minus 1: -1..1. */
static inline int8x16_t trits(uint8x16_t b, uint8x16_t p) {
    const uint8x16_t q = vmulq_u8(b, p), three = vdupq_n_u8(3);
    const uint8x16_t t = vcombine_u8(vshrn_n_u16(vmull_u8(vget_low_u8(q), vget_low_u8(three)), 8),
                                     vshrn_n_u16(vmull_high_u8(q, three), 8));
    return vsubq_s8(vreinterpretq_s8_u8(t), vdupq_n_s8(1));
}

/* Values 32n + m: trit n of qs[m] (m < 32); 160 + 16n + m: trit n of
 * qs[32 + m]; 240 + 4n + j: trit n of qh[j] (qh repeated per group of 4). */
static QLM_ALWAYS_INLINE float tq1_0_term(const qlm_block_tq1_0 *x, const qlm_block_q8_k *y) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    static const uint8_t qh_pow3[16] = {1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27};
    const uint8x16_t b0 = vld1q_u8(x->qs), b1 = vld1q_u8(x->qs + 16), b2 = vld1q_u8(x->qs + 32);
    uint32_t qhw;
    memcpy(&qhw, x->qh, 4);
    int32x4_t acc = vdupq_n_s32(0);
    UNROLL
    for (int n = 0; n < 5; n++) {
        const uint8x16_t p = vdupq_n_u8(pow3[n]);
        acc = vaddq_s32(acc, dot16(trits(b0, p), vld1q_s8(y->qs + 32 * n)));
        acc = vaddq_s32(acc, dot16(trits(b1, p), vld1q_s8(y->qs + 32 * n + 16)));
        acc = vaddq_s32(acc, dot16(trits(b2, p), vld1q_s8(y->qs + 160 + 16 * n)));
    }
    const uint8x16_t bh = vreinterpretq_u8_u32(vdupq_n_u32(qhw));
    acc = vaddq_s32(acc, dot16(trits(bh, vld1q_u8(qh_pow3)), vld1q_s8(y->qs + 240)));
    const int isum = vaddvq_s32(acc);
    const float d = h2f(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* ============================================================ entry points */

/* One row: blocks in order into one float, as the reference. There is no
 * 4-row variant: sharing the activation loads gains nothing measurable here
 * (the block work is integer-bound), and when the weights come from memory,
 * four interleaved rows of a few KB each are four short streams that the
 * prefetchers follow worse than one row after another: measured 2-4x
 * slower per block than this row kernel (a single thread, 4096 x 16384). */
#define KQ_LOW_DOTS(NAME, BLOCK, TERM)                                                                       \
    void QLM_NEON_FN(qlm_dot_##NAME)(int64_t n, float *s, const void *vx, const void *vy) {                 \
        const BLOCK *x = vx;                                                                                 \
        const qlm_block_q8_k *y = vy;                                                                        \
        float sum = 0.0f;                                                                                    \
        for (int64_t i = 0; i < n / QLM_QK_K; i++)                                                           \
            sum += TERM(&x[i], &y[i]);                                                                       \
        *s = sum;                                                                                            \
    }

KQ_LOW_DOTS(q2_k_q8_k, qlm_block_q2_k, q2_k_term)
KQ_LOW_DOTS(q3_k_q8_k, qlm_block_q3_k, q3_k_term)
KQ_LOW_DOTS(iq4_xs_q8_k, qlm_block_iq4_xs, iq4_xs_term)
KQ_LOW_DOTS(tq1_0_q8_k, qlm_block_tq1_0, tq1_0_term)
KQ_LOW_DOTS(tq2_0_q8_k, qlm_block_tq2_0, tq2_0_term)
