/* neon_blocks.h - the int8 block-dot helpers and rows template of the NEON
 * kernels outside neon.c (neon_q5.c, neon_lut.c). Each of those files is
 * built twice like neon.c: as itself (baseline armv8-a) and included by its
 * neon_dotprod_*.c twin with -march=armv8.2-a+dotprod, where dot16 below is
 * SDOT. Both give the same int32 lanes, so the tables agree bit for bit;
 * QLM_NEON_FN (kernels.h) names the two builds' functions apart. */
#ifndef QLM_NEON_BLOCKS_H
#define QLM_NEON_BLOCKS_H

#include <arm_neon.h>

#include "kernels.h"

/* FCVT widening: exact for every half (Linux runs with FPCR.FZ16 clear). */
static inline float nb_h2f(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* 32 int8 values of one block, in value order. */
typedef struct {
    int8x16_t lo, hi;
} nb_i8x32;

static inline nb_i8x32 nb_load_i8x32(const int8_t *qs) { return (nb_i8x32){vld1q_s8(qs), vld1q_s8(qs + 16)}; }

/* The 4-bit indices of a block in value order: byte j holds value j in its
 * low nibble and value j + 16 in its high nibble (ggml). */
static inline uint8x16x2_t nb_nibbles(const uint8_t *qs) {
    const uint8x16_t b = vld1q_u8(qs);
    return (uint8x16x2_t){{vandq_u8(b, vdupq_n_u8(0x0f)), vshrq_n_u8(b, 4)}};
}

#ifdef __ARM_FEATURE_DOTPROD
/* SDOT: lane k += x[4k..4k+3] . y[4k..4k+3] */
static inline int32x4_t nb_dot16(int32x4_t acc, int8x16_t x, int8x16_t y) { return vdotq_s32(acc, x, y); }
#else
/* Baseline: SMULL/SMULL2, adjacent pairs added (ADDP), pairs of pairs
 * widened into int32 (SADALP): lane k gets exactly SDOT's 4 products. No
 * int16 overflow: weights are within [-127, 127] here and activations within
 * [-127, 127] (our quantizers clamp), so a pair is at most 2 * 127 * 127. */
static inline int32x4_t nb_dot16(int32x4_t acc, int8x16_t x, int8x16_t y) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(x), vget_low_s8(y));
    const int16x8_t p1 = vmull_high_s8(x, y);
    return vpadalq_s16(acc, vpaddq_s16(p0, p1));
}
#endif

/* The 32 products of a block in four int32 lanes, exact. */
static inline int32x4_t nb_dot32(nb_i8x32 x, nb_i8x32 y) {
    return nb_dot16(nb_dot16(vdupq_n_s32(0), x.lo, y.lo), x.hi, y.hi);
}

/* acc += d * lanes (|lanes| < 2^24: the conversion is exact). */
static inline float32x4_t nb_scale_add(float32x4_t acc, int32x4_t lanes, float d) {
    return vfmaq_n_f32(acc, vcvtq_f32_s32(lanes), d);
}

/* Both builds must inline the rows kernels with a constant row count, and
 * unroll the loop over the rows, or the accumulators live in memory. */
#define NB_UNROLL_ROWS _Pragma("GCC unroll 4")

/* The rows kernel (nr = 1 or 4 rows at stride bx) for signed int8 weights
 * (WEIGHTS(block) -> nb_i8x32) against Q8_0 activations, neon.c's Q8_0 /
 * Q4_0 order: per row two accumulators (even, odd blocks), a lone last
 * block into the first, then vaddvq of their sum. Block scale SCALE(block)
 * * d_y, one float product as the reference's. Every row runs exactly these
 * operations whatever nr is, so dot and dot4 agree bit for bit. */
#define QLM_NEON_Q8_0_ROWS(NAME, X, WEIGHTS, SCALE)                                                          \
    static inline __attribute__((always_inline)) void NAME(int nr, int64_t n, float *s, const void *vx,     \
                                                           size_t bx, const void *vy) {                     \
        const qlm_block_q8_0 *y = vy;                                                                        \
        const X *x[4];                                                                                       \
        const int64_t nb = n / 32;                                                                           \
        float32x4_t acc0[4], acc1[4];                                                                        \
        for (int k = 0; k < nr; k++) {                                                                       \
            x[k] = (const X *)((const char *)vx + k * bx);                                                   \
            acc0[k] = acc1[k] = vdupq_n_f32(0.0f);                                                           \
        }                                                                                                    \
        int64_t i = 0;                                                                                       \
        for (; i + 1 < nb; i += 2) {                                                                         \
            const nb_i8x32 y0 = nb_load_i8x32(y[i].qs), y1 = nb_load_i8x32(y[i + 1].qs);                     \
            const float dy0 = nb_h2f(y[i].d), dy1 = nb_h2f(y[i + 1].d);                                      \
            NB_UNROLL_ROWS                                                                                   \
            for (int k = 0; k < nr; k++) {                                                                   \
                const X *b = x[k] + i;                                                                       \
                acc0[k] = nb_scale_add(acc0[k], nb_dot32(WEIGHTS(&b[0]), y0), SCALE(&b[0]) * dy0);           \
                acc1[k] = nb_scale_add(acc1[k], nb_dot32(WEIGHTS(&b[1]), y1), SCALE(&b[1]) * dy1);           \
            }                                                                                                \
        }                                                                                                    \
        for (int k = 0; k < nr; k++) {                                                                       \
            if (i < nb)                                                                                      \
                acc0[k] = nb_scale_add(acc0[k], nb_dot32(WEIGHTS(&x[k][i]), nb_load_i8x32(y[i].qs)),         \
                                       SCALE(&x[k][i]) * nb_h2f(y[i].d));                                    \
            s[k] = vaddvq_f32(vaddq_f32(acc0[k], acc1[k]));                                                  \
        }                                                                                                    \
    }

#endif
