/* neon_kquants.c - AArch64 NEON dot products of the K-quants Q4_K, Q5_K
 * and Q6_K with Q8_K activations, and the Q8_K activation quantizer.
 * Compiled twice, like neon.c: as baseline armv8-a (names ..._neon) and,
 * included by neon_dotprod_kquants.c, with the dot-product extension (names
 * ..._neon_dot, QLM_NEON_FN in kernels.h). Both give the same bits, and the
 * same as engine/quant_ref_kquants.c: exact per-block integer sums, then
 * the reference's float operations per block, in order.
 *
 * Integer sums per sub-block (16 or 32 values) in four int32 lanes, then
 * multiplied by the sub-block scale into the block's lanes (vmlaq_n_s32).
 * Q6_K's quants are offset to q - 32 in [-32, 31] before multiplying, so
 * no bsums are needed for it. */
#include <arm_neon.h>
#include <string.h>

#include "kernels.h"
#include "kquants_scales.h"

#ifdef __ARM_FEATURE_DOTPROD
/* SDOT: lane k += x[4k..4k+3] . y[4k..4k+3]. */
static inline int32x4_t dot16(int32x4_t acc, int8x16_t x, int8x16_t y) { return vdotq_s32(acc, x, y); }
#else
/* SMULL/SMULL2, ADDP, SADALP: lane k gets the same 4 products as SDOT's.
 * int16 is enough: quants are at most 63 in magnitude (Q6_K unsigned; the
 * others smaller), activations 127, so a pair sums to at most 2 * 63 * 128. */
static inline int32x4_t dot16(int32x4_t acc, int8x16_t x, int8x16_t y) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(x), vget_low_s8(y));
    const int16x8_t p1 = vmull_high_s8(x, y);
    return vpadalq_s16(acc, vpaddq_s16(p0, p1));
}
#endif

/* FCVT widening: exact for every half (Linux runs with FPCR.FZ16 clear). */
static inline float h2f(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

static inline int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

/* msum = sum_j m[j] (bsums[2j] + bsums[2j + 1]); the pair sums fit int16. */
static inline int32_t k4_msum(const uint8_t *m, const int16_t *bsums) {
    const int16x8_t b = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
    const int16x8_t mm = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(m)));
    const int32x4_t p = vmlal_s16(vmull_s16(vget_low_s16(mm), vget_low_s16(b)), vget_high_s16(mm), vget_high_s16(b));
    return vaddvq_s32(p);
}

/* isum and msum of one Q4_K (qh NULL) or Q5_K block: group g's 32 bytes
 * give sub-block 2g in their low nibbles and 2g + 1 in their high ones;
 * Q5_K's fifth bits are bits 2g, 2g + 1 of qh[0..31]. */
static QLM_ALWAYS_INLINE void k4_isums(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh,
                                       const qlm_block_q8_k *y, int32_t *isum, int32_t *msum) {
    uint32_t u[4];
    qlm_k4_unpack(scales, u);
    uint8_t sc[8], m[8];
    memcpy(sc, u, 8);
    memcpy(m, u + 2, 8);
    *msum = k4_msum(m, y->bsums);
    const uint8x16_t m4 = vdupq_n_u8(0x0f), b16 = vdupq_n_u8(0x10);
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if (qh) h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
    int32x4_t acc = vdupq_n_s32(0);
    for (int g = 0; g < 4; g++) {
        const uint8x16_t b0 = vld1q_u8(qs + 32 * g), b1 = vld1q_u8(qs + 32 * g + 16);
        uint8x16_t l0 = vandq_u8(b0, m4), l1 = vandq_u8(b1, m4), u0 = vshrq_n_u8(b0, 4), u1 = vshrq_n_u8(b1, 4);
        if (qh) {
            const uint8x16_t bl = vdupq_n_u8((uint8_t)(1 << 2 * g)), bu = vdupq_n_u8((uint8_t)(2 << 2 * g));
            l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(h0, bl), b16));
            l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(h1, bl), b16));
            u0 = vorrq_u8(u0, vandq_u8(vtstq_u8(h0, bu), b16));
            u1 = vorrq_u8(u1, vandq_u8(vtstq_u8(h1, bu), b16));
        }
        const int8_t *a = y->qs + 64 * g;
        const int32x4_t slo = dot16(dot16(vdupq_n_s32(0), s8(l0), vld1q_s8(a)), s8(l1), vld1q_s8(a + 16));
        const int32x4_t shi = dot16(dot16(vdupq_n_s32(0), s8(u0), vld1q_s8(a + 32)), s8(u1), vld1q_s8(a + 48));
        acc = vmlaq_n_s32(acc, slo, sc[2 * g]);
        acc = vmlaq_n_s32(acc, shi, sc[2 * g + 1]);
    }
    *isum = vaddvq_s32(acc);
}

static inline float k4_accumulate(float sum, uint16_t xd, uint16_t xdmin, float yd, int32_t isum, int32_t msum) {
    const float d = h2f(xd) * yd;
    const float dm = h2f(xdmin) * yd;
    const float t0 = d * (float)isum;
    const float t1 = dm * (float)msum;
    sum += t0;
    sum -= t1;
    return sum;
}

/* isum of one Q6_K block. Half h: ql[64h + l] holds values 128h + l (low
 * nibble) and 128h + 64 + l (high), ql[64h + 32 + l] values + 32 and + 96;
 * qh[32h + l] their top 2 bits at bits 0, 2, 4, 6. Each 16-byte register is
 * one sub-block of 16, scale sc[(128h + 32 quarter + 16 r) / 16]. */
static QLM_ALWAYS_INLINE int32_t q6_isum(const qlm_block_q6_k *x, const qlm_block_q8_k *y) {
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m3 = vdupq_n_u8(0x30);
    const int8x16_t off = vdupq_n_s8(32);
    int32x4_t acc = vdupq_n_s32(0);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x->ql + 64 * h, *qhp = x->qh + 32 * h;
        const int8_t *a = y->qs + 128 * h;
        const int8_t *sc = x->scales + 8 * h;
        for (int r = 0; r < 2; r++) { /* values l = 16 r .. 16 r + 15 of each quarter */
            const uint8x16_t lo = vld1q_u8(ql + 16 * r), hi = vld1q_u8(ql + 32 + 16 * r);
            const uint8x16_t qh = vld1q_u8(qhp + 16 * r);
            uint8x16_t q[4];
            q[0] = vorrq_u8(vandq_u8(lo, m4), vandq_u8(vshlq_n_u8(qh, 4), m3));
            q[1] = vorrq_u8(vandq_u8(hi, m4), vandq_u8(vshlq_n_u8(qh, 2), m3));
            q[2] = vorrq_u8(vshrq_n_u8(lo, 4), vandq_u8(qh, m3));
            q[3] = vorrq_u8(vshrq_n_u8(hi, 4), vandq_u8(vshrq_n_u8(qh, 2), m3));
            for (int k = 0; k < 4; k++) {
                const int8x16_t v = vsubq_s8(s8(q[k]), off);
                const int32x4_t s = dot16(vdupq_n_s32(0), v, vld1q_s8(a + 32 * k + 16 * r));
                acc = vmlaq_n_s32(acc, s, sc[2 * k + r]);
            }
        }
    }
    return vaddvq_s32(acc);
}

static inline float q6_accumulate(float sum, uint16_t xd, float yd, int32_t isum) {
    const float d = h2f(xd) * yd;
    const float t = d * (float)isum;
    sum += t;
    return sum;
}

/* ------------------------------------------------------------ row kernels */

void QLM_NEON_FN(qlm_dot_q4_k)(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q4_k *x = vx;
    const qlm_block_q8_k *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) {
        int32_t isum, msum;
        k4_isums(x[i].scales, x[i].qs, NULL, &y[i], &isum, &msum);
        sum = k4_accumulate(sum, x[i].d, x[i].dmin, y[i].d, isum, msum);
    }
    *s = sum;
}

void QLM_NEON_FN(qlm_dot_q5_k)(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q5_k *x = vx;
    const qlm_block_q8_k *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) {
        int32_t isum, msum;
        k4_isums(x[i].scales, x[i].qs, x[i].qh, &y[i], &isum, &msum);
        sum = k4_accumulate(sum, x[i].d, x[i].dmin, y[i].d, isum, msum);
    }
    *s = sum;
}

void QLM_NEON_FN(qlm_dot_q6_k)(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q6_k *x = vx;
    const qlm_block_q8_k *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) sum = q6_accumulate(sum, x[i].d, y[i].d, q6_isum(&x[i], &y[i]));
    *s = sum;
}

/* -------------------------------------------------- Q8_K activations */

/* One block, byte-identical to quant_ref.c's q8_k_quantize_block: amax
 * ignoring NaNs (FMAXNM), the first element of that magnitude gives the
 * sign, iscale = -127 / max, FCVTNS rounds to nearest even like ggml's
 * magic-number round; lanes whose product is NaN or beyond 4194303 in
 * magnitude (iscale Inf for a subnormal max) become 0 as in the reference. */
static void q8_k_block(const float *x, qlm_block_q8_k *b) {
    float32x4_t vmax = vdupq_n_f32(0.0f);
    for (int j = 0; j < QLM_QK_K; j += 4) vmax = vmaxnmq_f32(vmax, vabsq_f32(vld1q_f32(x + j)));
    const float amax = vmaxnmvq_f32(vmax);
    memset(b, 0, sizeof *b);
    if (amax == 0.0f || !(amax <= 3.4e38f)) return;
    float max = 0.0f;
    for (int j = 0; j < QLM_QK_K; j++)
        if (x[j] == amax || x[j] == -amax) {
            max = x[j];
            break;
        }
    const float iscale = -127.0f / max;
    const float32x4_t lim = vdupq_n_f32(4194303.0f);
    for (int j = 0; j < QLM_QK_K; j += 16) {
        int16x8_t h[2];
        for (int k = 0; k < 2; k++) {
            int32x4_t r[2];
            for (int e = 0; e < 2; e++) {
                const float32x4_t v = vmulq_n_f32(vld1q_f32(x + j + 8 * k + 4 * e), iscale);
                r[e] = vandq_s32(vcvtnq_s32_f32(v), vreinterpretq_s32_u32(vcaleq_f32(v, lim)));
            }
            h[k] = vcombine_s16(vqmovn_s32(r[0]), vqmovn_s32(r[1]));
        }
        const int8x16_t q = vmaxq_s8(vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])), vdupq_n_s8(-127));
        vst1q_s8(b->qs + j, q);
        b->bsums[j / 16] = vaddlvq_s8(q);
    }
    b->d = 1.0f / iscale;
}

void QLM_NEON_FN(qlm_quantize_q8_k)(const float *x, void *dst, int64_t n) {
    qlm_block_q8_k *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) q8_k_block(x + i * QLM_QK_K, &b[i]);
}
