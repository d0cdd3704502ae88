/* neon.c - AArch64 Advanced SIMD (NEON) kernels. Built twice:
 *   - as itself for baseline armv8-a (every AArch64 CPU): table "neon";
 *   - included by neon_dotprod.c, compiled with -march=armv8.2-a+dotprod
 *     (Cortex-A55/A76, Neoverse N1, Apple M1 and later): table "neon-dot".
 * The only difference is how 32 int8 products become four int32 lanes
 * (dot32 below); both give the same lanes, so the two tables return the same
 * bits. Used only after the getauxval probe (cpu_features_arm.c) says so.
 *
 * Integer dots: Q4 weights are unpacked to int8 and multiplied with the Q8
 * activation block; the block's integer sum is exact, and one float multiply
 * -add per block (d_x * d_y) scales it, as in the reference. R16-packed
 * weights (pack.h) have their own GEMM tiles below, bit-exact with the
 * packed reference, which is why this table asks for them (r16_types). */
#include <arm_neon.h>

#include "kernels.h"

#ifndef QLM_NEON_OPS /* neon_dotprod.c defines these before including us */
#define QLM_NEON_OPS qlm_ops_neon
#define QLM_NEON_NAME "neon"
#endif

/* Both builds must inline the row kernels with a constant row count so the
 * 4-row loops unroll; the code (and so the rounding) is the same either way. */
#define NEON_INLINE static inline __attribute__((always_inline))
/* ... and the loop over the rows must unroll too, or the accumulators live
 * in memory instead of registers. */
#define UNROLL_ROWS _Pragma("GCC unroll 4")

/* ---------------------------------------------------------------- helpers */

/* FCVT widening: exact for every half, subnormals included (Linux runs
 * with FPCR.FZ16 clear). */
static inline float h2f(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* 32 int8 values: one quant block. */
typedef struct {
    int8x16_t lo, hi;
} i8x32;

static inline i8x32 load_i8x32(const int8_t *qs) { return (i8x32){vld1q_s8(qs), vld1q_s8(qs + 16)}; }

/* Q4 block layout (ggml): byte j holds value j in its low nibble and value
 * j + 16 in its high nibble, so low nibbles then high nibbles give the 32
 * values in the order of the Q8 activation block. */
static inline i8x32 q4_unpack(const uint8_t *qs) {
    const uint8x16_t b = vld1q_u8(qs);
    return (i8x32){vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f))), vreinterpretq_s8_u8(vshrq_n_u8(b, 4))};
}

static inline i8x32 q4_unpack_signed(const uint8_t *qs) { /* Q4_0: q - 8 in [-8, 7] */
    const i8x32 u = q4_unpack(qs);
    const int8x16_t eight = vdupq_n_s8(8);
    return (i8x32){vsubq_s8(u.lo, eight), vsubq_s8(u.hi, eight)};
}

#ifdef __ARM_FEATURE_DOTPROD
/* SDOT: lane k += x[4k..4k+3] . y[4k..4k+3], for each 16-byte half. */
static inline int32x4_t dot16(int32x4_t acc, int8x16_t x, int8x16_t y) { return vdotq_s32(acc, x, y); }
#else
/* Baseline: products widened to int16 (SMULL/SMULL2), adjacent pairs added
 * (ADDP), then pairs of pairs widened into int32 (SADALP), which puts in lane
 * k exactly the 4 products SDOT puts there. No int16 overflow: activations
 * are clamped to [-127, 127] by our quantizers and weights are >= -128, so a
 * pair sums to at most 2 * 128 * 127 = 32512 < 32767. */
static inline int32x4_t dot16(int32x4_t acc, int8x16_t x, int8x16_t y) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(x), vget_low_s8(y));
    const int16x8_t p1 = vmull_high_s8(x, y);
    return vpadalq_s16(acc, vpaddq_s16(p0, p1));
}
#endif

/* The 32 products of a block in four int32 lanes, exact. */
static inline int32x4_t dot32(i8x32 x, i8x32 y) {
    return dot16(dot16(vdupq_n_s32(0), x.lo, y.lo), x.hi, y.hi);
}

/* acc += d * lanes: lanes are below 2^24 in magnitude (32 * 128 * 127), so
 * the int -> float conversion is exact. */
static inline float32x4_t scale_add(float32x4_t acc, int32x4_t lanes, float d) {
    return vfmaq_n_f32(acc, vcvtq_f32_s32(lanes), d);
}

/* ------------------------------------------------------- quant dot products */

/* Each kernel below is written once for nr rows (1 or 4) at row stride bx:
 * every row runs the same operations in the same order whatever nr is, so
 * dot and dot4 agree bit for bit (kernels.h). Two accumulators per row
 * (even and odd blocks) hide the FMA latency; each activation block is
 * loaded once for all rows. */

static inline const void *row_at(const void *x, int k, size_t bx) { return (const char *)x + k * bx; }

/* acc += d_x d_y * (x . y) for one Q8_0 weight block */
static inline float32x4_t step_q8_0(float32x4_t acc, const qlm_block_q8_0 *x, i8x32 y, float dy) {
    return scale_add(acc, dot32(load_i8x32(x->qs), y), h2f(x->d) * dy);
}

static inline float32x4_t step_q4_0(float32x4_t acc, const qlm_block_q4_0 *x, i8x32 y, float dy) {
    return scale_add(acc, dot32(q4_unpack_signed(x->qs), y), h2f(x->d) * dy);
}

/* The rows kernel for weights against Q8_0 activations (Q8_0, Q4_0): X is
 * the weight block type, STEP its per-block step above. */
#define Q8_ACT_ROWS(NAME, X, QK, STEP)                                                                       \
    NEON_INLINE void NAME(int nr, int64_t n, float *s, const void *vx, size_t bx, const void *vy) {          \
        const qlm_block_q8_0 *y = vy;                                                                        \
        const X *x[4];                                                                                       \
        const int64_t nb = n / QK;                                                                           \
        float32x4_t acc0[4], acc1[4];                                                                        \
        for (int k = 0; k < nr; k++) {                                                                       \
            x[k] = row_at(vx, k, bx);                                                                        \
            acc0[k] = acc1[k] = vdupq_n_f32(0.0f);                                                           \
        }                                                                                                    \
        int64_t i = 0;                                                                                       \
        for (; i + 1 < nb; i += 2) {                                                                         \
            const i8x32 y0 = load_i8x32(y[i].qs), y1 = load_i8x32(y[i + 1].qs);                              \
            const float dy0 = h2f(y[i].d), dy1 = h2f(y[i + 1].d);                                            \
            UNROLL_ROWS                                                                                      \
            for (int k = 0; k < nr; k++) {                                                                   \
                acc0[k] = STEP(acc0[k], &x[k][i], y0, dy0);                                                  \
                acc1[k] = STEP(acc1[k], &x[k][i + 1], y1, dy1);                                              \
            }                                                                                                \
        }                                                                                                    \
        for (int k = 0; k < nr; k++) {                                                                       \
            if (i < nb) acc0[k] = STEP(acc0[k], &x[k][i], load_i8x32(y[i].qs), h2f(y[i].d));                 \
            s[k] = vaddvq_f32(vaddq_f32(acc0[k], acc1[k]));                                                  \
        }                                                                                                    \
    }

Q8_ACT_ROWS(q8_0_rows, qlm_block_q8_0, QLM_QK8_0, step_q8_0)
Q8_ACT_ROWS(q4_0_rows, qlm_block_q4_0, QLM_QK4_0, step_q4_0)

/* sum (d_x q + m_x)(d_y p) = d_x d_y sum(q p) + m_x s_y, s_y = d_y sum(p)
 * precomputed in the Q8_1 block; q in [0, 15] is a valid int8 as it is.
 * The m_x s_y terms go into one scalar float per row, in block order. */
static inline float32x4_t step_q4_1(float32x4_t acc, float *accm, const qlm_block_q4_1 *x,
                                    const qlm_block_q8_1 *yb, i8x32 y) {
    const float m = h2f(x->m) * h2f(yb->s);
    *accm += m;
    return scale_add(acc, dot32(q4_unpack(x->qs), y), h2f(x->d) * h2f(yb->d));
}

NEON_INLINE void q4_1_rows(int nr, int64_t n, float *s, const void *vx, size_t bx, const void *vy) {
    const qlm_block_q8_1 *y = vy;
    const qlm_block_q4_1 *x[4];
    const int64_t nb = n / QLM_QK4_1;
    float32x4_t acc0[4], acc1[4];
    float accm[4];
    for (int k = 0; k < nr; k++) {
        x[k] = row_at(vx, k, bx);
        acc0[k] = acc1[k] = vdupq_n_f32(0.0f);
        accm[k] = 0.0f;
    }
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const i8x32 y0 = load_i8x32(y[i].qs), y1 = load_i8x32(y[i + 1].qs);
        UNROLL_ROWS
        for (int k = 0; k < nr; k++) {
            acc0[k] = step_q4_1(acc0[k], &accm[k], &x[k][i], &y[i], y0);
            acc1[k] = step_q4_1(acc1[k], &accm[k], &x[k][i + 1], &y[i + 1], y1);
        }
    }
    for (int k = 0; k < nr; k++) {
        if (i < nb) acc0[k] = step_q4_1(acc0[k], &accm[k], &x[k][i], &y[i], load_i8x32(y[i].qs));
        s[k] = vaddvq_f32(vaddq_f32(acc0[k], acc1[k])) + accm[k];
    }
}

static void dot_q8_0_q8_0_neon(int64_t n, float *s, const void *x, const void *y) {
    q8_0_rows(1, n, s, x, 0, y);
}
static void dot_q4_0_q8_0_neon(int64_t n, float *s, const void *x, const void *y) {
    q4_0_rows(1, n, s, x, 0, y);
}
static void dot_q4_1_q8_1_neon(int64_t n, float *s, const void *x, const void *y) {
    q4_1_rows(1, n, s, x, 0, y);
}

static void dot4_q8_0_q8_0_neon(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    q8_0_rows(4, n, s, x, bx, y);
}
static void dot4_q4_0_q8_0_neon(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    q4_0_rows(4, n, s, x, bx, y);
}
static void dot4_q4_1_q8_1_neon(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    q4_1_rows(4, n, s, x, bx, y);
}

/* ------------------------------------------------------- float dot products */

/* 4 weights widened to float: FCVTL is exact for halves; a bfloat is the top
 * half of a float, so a 16-bit left shift (SHLL) is exact too. */
static inline float32x4_t load4_f32(const void *p, int64_t i) { return vld1q_f32((const float *)p + i); }
static inline float32x4_t load4_h(const void *p, int64_t i) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p + i)));
}
static inline float32x4_t load4_b(const void *p, int64_t i) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)p + i), 16));
}
static inline float at_f32(const void *p, int64_t i) { return ((const float *)p)[i]; }
static inline float at_h(const void *p, int64_t i) { return h2f(((const uint16_t *)p)[i]); }
static inline float at_b(const void *p, int64_t i) { return qlm_bf16_to_fp32(((const uint16_t *)p)[i]); }

/* Four accumulators of 4 lanes over 16 values a step, then 4 at a time, then
 * a scalar tail (rows of float types have any length). */
#define FLOAT_DOT2(NAME, LOAD, AT, LOADY, ATY)                                                                            \
    static void NAME(int64_t n, float *s, const void *vx, const void *vy) {                                  \
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;                                       \
        int64_t i = 0;                                                                                       \
        for (; i + 16 <= n; i += 16) {                                                                       \
            a0 = vfmaq_f32(a0, LOAD(vx, i), LOADY(vy, i));                                               \
            a1 = vfmaq_f32(a1, LOAD(vx, i + 4), LOADY(vy, i + 4));                                       \
            a2 = vfmaq_f32(a2, LOAD(vx, i + 8), LOADY(vy, i + 8));                                       \
            a3 = vfmaq_f32(a3, LOAD(vx, i + 12), LOADY(vy, i + 12));                                     \
        }                                                                                                    \
        for (; i + 4 <= n; i += 4)                                                                           \
            a0 = vfmaq_f32(a0, LOAD(vx, i), LOADY(vy, i));                                               \
        float sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));                             \
        for (; i < n; i++) {                                                                                 \
            const float p = AT(vx, i) * ATY(vy, i);                                                                \
            sum += p;                                                                                        \
        }                                                                                                    \
        *s = sum;                                                                                            \
    }

#define FLOAT_DOT(NAME, LOAD, AT) FLOAT_DOT2(NAME, LOAD, AT, load4_f32, at_f32)

FLOAT_DOT(dot_f32_f32_neon, load4_f32, at_f32)
FLOAT_DOT(dot_f16_f32_neon, load4_h, at_h)
FLOAT_DOT2(dot_bf16_bf16_neon, load4_b, at_b, load4_b, at_b) /* activations as BF16, as ggml */

/* ------------------------------------------------- activation quantizers */

/* One block of 32 into int8, bit-identical to quant_ref.c's q8_quantize:
 *   - amax with FMAXNM, which like fmaxf returns the number when the other
 *     operand is a NaN (FMAX would return the NaN);
 *   - x * id rounded by FCVTAS: to nearest, ties away from zero, which is
 *     roundf; NaN converts to 0 and +-Inf saturate, then the clamp to
 *     [-127, 127] gives the reference's values for both. */
static float q8_block(const float *x, int8_t *qs, int *sum) {
    float32x4_t v[8], amax = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; k++) {
        v[k] = vld1q_f32(x + 4 * k);
        amax = vmaxnmq_f32(amax, vabsq_f32(v[k]));
    }
    const float d = vmaxnmvq_f32(amax) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int32x4_t q[8], total = vdupq_n_s32(0);
    for (int k = 0; k < 8; k++) {
        q[k] = vcvtaq_s32_f32(vmulq_n_f32(v[k], id));
        q[k] = vminq_s32(vmaxq_s32(q[k], vdupq_n_s32(-127)), vdupq_n_s32(127));
        total = vaddq_s32(total, q[k]);
    }
    *sum = vaddvq_s32(total);
    for (int k = 0; k < 8; k += 4) { /* values fit in int8 already: plain narrowing */
        const int16x8_t a = vcombine_s16(vmovn_s32(q[k]), vmovn_s32(q[k + 1]));
        const int16x8_t b = vcombine_s16(vmovn_s32(q[k + 2]), vmovn_s32(q[k + 3]));
        vst1q_s8(qs + 4 * k, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
    }
    return d;
}

QLM_CPU_Q8_QUANTIZERS(neon, q8_block)

/* --------------------------------------------- packed (R16) weights, GEMM
 * One 16-row group (pack.h) x up to R16_TILE tokens per r16_tile call. A
 * packed quant chunk is 16 rows x 4 bytes: a 128-bit register holds 4 bytes
 * of each of 4 rows ("quad" q = rows 4q..4q+3), one row per 32-bit lane, so
 * a lane dot against 4 activation bytes broadcast gives 4 row dots at once
 * (SDOT's by-element form; the baseline build widens, as dot16).
 *
 * A whole block is 16 (Q4) or 32 (Q8_0) weight registers, too many to keep
 * next to the accumulators of several tokens, so the group is walked one
 * quad at a time: a quad's 8 weight vectors are loaded and decoded once per
 * block and reused for every token of the tile, with one accumulator per
 * token in registers. The quads take turns over batches of R16_BATCH blocks
 * (the batch stays in L1 for the next quad's pass), the other quads'
 * accumulators waiting on the stack; each output still sums its blocks in
 * order.
 *
 * Q4_1 nibbles (0..15) are valid int8 as they are, Q8_0 weights are int8
 * already, Q4_0's are nibble - 8, Q5_0's (nibble | fifth bit << 4) - 16 and
 * the table formats' (IQ4_NL, MXFP4) their kvalues looked up by TBL, so
 * the integer dots are exactly the reference's isum. Then per block, in
 * the reference's order and with separate multiplies and adds (a fused multiply-add would round once
 * less), acc += (float)isum * (dw * da), then for Q4_1 acc += mw * s: the
 * results are qlm_gemm_r16_*_ref's bit for bit. */

enum { R16_Q4_0, R16_Q4_1, R16_Q8_0, R16_Q5_0, R16_IQ4_NL, R16_MXFP4 };
#define R16_TILE 8
#define R16_BATCH 16
/* The chunk loops unroll fully too: a weight array indexed by a loop
 * counter would otherwise live on the stack. */
#define UNROLL_CHUNKS _Pragma("GCC unroll 8")

/* acc lane k += the 4 bytes of row k in w . bytes 4 lane..4 lane+3 of a;
 * lane must be a constant (an immediate of SDOT and DUP). */
#ifdef __ARM_FEATURE_DOTPROD
#define DOT_LANE(acc, w, a, lane) vdotq_laneq_s32(acc, w, a, lane)
#else
#define DOT_LANE(acc, w, a, lane)                                                                            \
    dot16(acc, w, vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a), lane)))
#endif

static inline size_t r16_header(int kind) { return kind == R16_Q4_1 ? 4 : kind == R16_MXFP4 ? 1 : 2; }
static inline size_t r16_block_bytes(int kind) {
    return (r16_header(kind) + (kind == R16_Q8_0 ? 32 : kind == R16_Q5_0 ? 20 : 16)) * QLM_PACK_ROWS;
}

/* Quad q's 4 block scales dw: fp16 d, or MXFP4's 2^(e - 128) built as
 * float bits exactly as qlm_e8m0_half (subnormal 0x00200000 << e for
 * e < 2, else the exponent field e - 1). */
static inline float32x4_t r16_quad_scale(int kind, const uint8_t *blk, int q) {
    if (kind != R16_MXFP4) return load4_h(blk, 4 * q);
    /* 8 bytes loaded, 4 used: the block's quants follow its 16 e bytes */
    const uint32x4_t e = vmovl_u16(vget_low_u16(vmovl_u8(vld1_u8(blk + 4 * q))));
    const uint32x4_t normal = vshlq_n_u32(vsubq_u32(e, vdupq_n_u32(1)), 23);
    const uint32x4_t tiny = vshlq_u32(vdupq_n_u32(0x00200000), vreinterpretq_s32_u32(e));
    return vreinterpretq_f32_u32(vbslq_u32(vcltq_u32(e, vdupq_n_u32(2)), tiny, normal));
}

/* Q5_0: the 16 subtracted from the chunk's nibbles where the fifth bit is
 * clear. Chunk c's values 4c + k (c < 4; 16 + 4 (c - 4) + k otherwise) have
 * their fifth bits in byte b = c / 2 (2 + (c - 4) / 2) of each row's qh, bit
 * 4 (c % 2) + k: that byte copied to the row's 4 bytes (TBL), bit tested. */
static inline int8x16_t r16_q5_minus(uint8x16_t qh, int c) {
    static const uint8_t lanes[16] = {0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12};
    const int b = c < 4 ? c / 2 : 2 + (c - 4) / 2;
    const uint8x16_t rep = vqtbl1q_u8(qh, vaddq_u8(vld1q_u8(lanes), vdupq_n_u8((uint8_t)b)));
    const uint8x16_t bits = vreinterpretq_u8_u32(vdupq_n_u32(c % 2 ? 0x80402010u : 0x08040201u));
    return vreinterpretq_s8_u8(vbicq_u8(vdupq_n_u8(16), vtstq_u8(rep, bits)));
}

/* The 8 weight vectors of quad q in a block's quant bytes: w[c] pairs with
 * activation bytes 4c..4c+3, i.e. lane c % 4 of activation register c / 4.
 * Q4: c < 4 are the low nibbles of chunk c (values 4c..), c >= 4 the high
 * nibbles of chunk c - 4 (values 16 + 4(c - 4).., ggml's nibble order);
 * Q8_0: chunk c. */
static inline void r16_quad_weights(int kind, const uint8_t *qs, int q, int8x16_t w[8]) {
    if (kind == R16_Q8_0) {
        UNROLL_CHUNKS
        for (int c = 0; c < 8; c++)
            w[c] = vld1q_s8((const int8_t *)qs + 64 * c + 16 * q);
        return;
    }
    const uint8_t *q4 = kind == R16_Q5_0 ? qs + 64 : qs; /* Q5_0: after qh */
    const int8x16_t offset = vdupq_n_s8(kind == R16_Q4_0 ? 8 : 0);
    UNROLL_CHUNKS
    for (int c = 0; c < 4; c++) {
        const uint8x16_t v = vld1q_u8(q4 + 64 * c + 16 * q);
        w[c] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f))), offset);
        w[c + 4] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), offset);
    }
    if (kind == R16_Q5_0) {
        const uint8x16_t qh = vld1q_u8(qs + 16 * q);
        UNROLL_CHUNKS
        for (int c = 0; c < 8; c++)
            w[c] = vsubq_s8(w[c], r16_q5_minus(qh, c));
    } else if (kind == R16_IQ4_NL || kind == R16_MXFP4) {
        const int8x16_t t = vld1q_s8(kind == R16_IQ4_NL ? qlm_kvalues_iq4nl : qlm_kvalues_mxfp4);
        UNROLL_CHUNKS
        for (int c = 0; c < 8; c++)
            w[c] = vqtbl1q_s8(t, vreinterpretq_u8_s8(w[c]));
    }
}

/* The 4 row dots of a quad with one token's 32 quants (a0 holds bytes
 * 0..15, a1 16..31). Exact: |sum| <= 32 * 128 * 127. */
static inline int32x4_t r16_quad_dot(const int8x16_t w[8], int8x16_t a0, int8x16_t a1) {
    int32x4_t acc = DOT_LANE(vdupq_n_s32(0), w[0], a0, 0);
    acc = DOT_LANE(acc, w[1], a0, 1);
    acc = DOT_LANE(acc, w[2], a0, 2);
    acc = DOT_LANE(acc, w[3], a0, 3);
    acc = DOT_LANE(acc, w[4], a1, 0);
    acc = DOT_LANE(acc, w[5], a1, 1);
    acc = DOT_LANE(acc, w[6], a1, 2);
    return DOT_LANE(acc, w[7], a1, 3);
}

/* Blocks [b0, b1) of quad q for T tokens (T a constant after inlining):
 * acc[j] holds rows 4q..4q+3 of token j, kept in registers meanwhile. */
static QLM_ALWAYS_INLINE void r16_quad_blocks(int kind, int T, const uint8_t *w, int q, int64_t b0,
                                              int64_t b1, const qlm_act8 *a, float32x4_t *acc) {
    const size_t header = r16_header(kind), block = r16_block_bytes(kind);
    float32x4_t s[R16_TILE];
    QLM_UNROLL_TILE
    for (int j = 0; j < T; j++)
        s[j] = acc[j];
    for (int64_t b = b0; b < b1; b++) {
        const uint8_t *blk = w + b * block;
        const float32x4_t dw = r16_quad_scale(kind, blk, q);
        const float32x4_t mw = kind == R16_Q4_1 ? load4_h(blk + 2 * QLM_PACK_ROWS, 4 * q) : dw;
        int8x16_t wq[8];
        r16_quad_weights(kind, blk + header * QLM_PACK_ROWS, q, wq);
        QLM_UNROLL_TILE
        for (int j = 0; j < T; j++) {
            const int8_t *aq = a[j].q + b * 32;
            const int32x4_t isum = r16_quad_dot(wq, vld1q_s8(aq), vld1q_s8(aq + 16));
            const float32x4_t dd = vmulq_n_f32(dw, a[j].d[b]);
            s[j] = vaddq_f32(s[j], vmulq_f32(vcvtq_f32_s32(isum), dd));
            if (kind == R16_Q4_1) s[j] = vaddq_f32(s[j], vmulq_n_f32(mw, a[j].s[b]));
        }
    }
    QLM_UNROLL_TILE
    for (int j = 0; j < T; j++)
        acc[j] = s[j];
}

/* T tokens of one group, T <= R16_TILE. */
static QLM_ALWAYS_INLINE void r16_tile(int kind, int T, const uint8_t *w, int64_t nb, const char *act,
                                       size_t act_stride, float *y, int64_t ldy) {
    qlm_act8 a[R16_TILE];
    float32x4_t acc[4][R16_TILE];
    for (int j = 0; j < T; j++) {
        a[j] = qlm_act8_view(act + j * act_stride, nb * 32);
        for (int q = 0; q < 4; q++)
            acc[q][j] = vdupq_n_f32(0.0f);
    }
    for (int64_t b0 = 0; b0 < nb; b0 += R16_BATCH) {
        const int64_t b1 = b0 + R16_BATCH < nb ? b0 + R16_BATCH : nb;
        for (int q = 0; q < 4; q++)
            r16_quad_blocks(kind, T, w, q, b0, b1, a, acc[q]);
    }
    for (int j = 0; j < T; j++)
        for (int q = 0; q < 4; q++)
            vst1q_f32(y + j * ldy + 4 * q, acc[q][j]);
}

/* All tokens, 8 at a time (QLM_R16_TOKEN_TILES). */
static QLM_ALWAYS_INLINE void r16_gemm(int kind, const void *w, int64_t nb, const void *act,
                                       size_t act_stride, int64_t n_tok, float *y, int64_t ldy) {
    QLM_R16_TOKEN_TILES(r16_tile, kind, w, nb, act, act_stride, n_tok, y, ldy);
}

QLM_R16_ENTRY_POINT(static, gemm_r16_q4_0_neon, r16_gemm, R16_Q4_0)
QLM_R16_ENTRY_POINT(static, gemm_r16_q4_1_neon, r16_gemm, R16_Q4_1)
QLM_R16_ENTRY_POINT(static, gemm_r16_q8_0_neon, r16_gemm, R16_Q8_0)
QLM_R16_ENTRY_POINT(static, gemm_r16_q5_0_neon, r16_gemm, R16_Q5_0)
QLM_R16_ENTRY_POINT(static, gemm_r16_iq4_nl_neon, r16_gemm, R16_IQ4_NL)
QLM_R16_ENTRY_POINT(static, gemm_r16_mxfp4_neon, r16_gemm, R16_MXFP4)

/* ------------------------------------------------------------------ table */

static const qlm_cpu_kernels kernels = {
    .dot = {[QLM_TYPE_F32] = dot_f32_f32_neon,
            [QLM_TYPE_Q5_0] = QLM_NEON_FN(qlm_dot_q5_0_q8_0),
            [QLM_TYPE_Q5_1] = QLM_NEON_FN(qlm_dot_q5_1_q8_1),
            [QLM_TYPE_IQ4_NL] = QLM_NEON_FN(qlm_dot_iq4_nl_q8_0),
            [QLM_TYPE_MXFP4] = QLM_NEON_FN(qlm_dot_mxfp4_q8_0),
            [QLM_TYPE_Q2_K] = QLM_NEON_FN(qlm_dot_q2_k_q8_k),
            [QLM_TYPE_Q3_K] = QLM_NEON_FN(qlm_dot_q3_k_q8_k),
            [QLM_TYPE_IQ4_XS] = QLM_NEON_FN(qlm_dot_iq4_xs_q8_k),
            [QLM_TYPE_TQ1_0] = QLM_NEON_FN(qlm_dot_tq1_0_q8_k),
            [QLM_TYPE_TQ2_0] = QLM_NEON_FN(qlm_dot_tq2_0_q8_k),
            [QLM_TYPE_F16] = dot_f16_f32_neon,
            [QLM_TYPE_BF16] = dot_bf16_bf16_neon,
            [QLM_TYPE_Q4_0] = dot_q4_0_q8_0_neon,
            [QLM_TYPE_Q4_1] = dot_q4_1_q8_1_neon,
            [QLM_TYPE_Q8_0] = dot_q8_0_q8_0_neon,
            [QLM_TYPE_Q4_K] = QLM_NEON_FN(qlm_dot_q4_k),
            [QLM_TYPE_Q5_K] = QLM_NEON_FN(qlm_dot_q5_k),
            [QLM_TYPE_Q6_K] = QLM_NEON_FN(qlm_dot_q6_k)},
    .dot4 = {[QLM_TYPE_Q5_0] = QLM_NEON_FN(qlm_dot4_q5_0_q8_0),
             [QLM_TYPE_Q5_1] = QLM_NEON_FN(qlm_dot4_q5_1_q8_1),
             [QLM_TYPE_IQ4_NL] = QLM_NEON_FN(qlm_dot4_iq4_nl_q8_0),
             [QLM_TYPE_MXFP4] = QLM_NEON_FN(qlm_dot4_mxfp4_q8_0),
             [QLM_TYPE_Q4_0] = dot4_q4_0_q8_0_neon,
             [QLM_TYPE_Q4_1] = dot4_q4_1_q8_1_neon,
             [QLM_TYPE_Q8_0] = dot4_q8_0_q8_0_neon},
    .quantize = {[QLM_TYPE_Q8_0] = quantize_q8_0_neon, [QLM_TYPE_Q8_1] = quantize_q8_1_neon,
                 [QLM_TYPE_Q8_K] = QLM_NEON_FN(qlm_quantize_q8_k)},
    .gemm_r16 = {[QLM_TYPE_Q4_0] = gemm_r16_q4_0_neon,
                 [QLM_TYPE_Q4_1] = gemm_r16_q4_1_neon,
                 [QLM_TYPE_Q8_0] = gemm_r16_q8_0_neon,
                 [QLM_TYPE_Q5_0] = gemm_r16_q5_0_neon,
                 [QLM_TYPE_IQ4_NL] = gemm_r16_iq4_nl_neon,
                 [QLM_TYPE_MXFP4] = gemm_r16_mxfp4_neon},
    .quantize_act8 = quantize_act8_neon,
};

QLM_CPU_MATMUL_ENTRY_POINTS(neon, kernels)

/* Non-matmul ops are the reference ones until NEON versions exist. */
const qlm_ops QLM_NEON_OPS = {
    .name = QLM_NEON_NAME,
    .r16_types = QLM_R16_TYPES_SIMD,
    .matmul = matmul_neon,
    .matmul_n = matmul_n_neon,
    .rmsnorm = qlm_cpu_rmsnorm_ref,
    .rope = qlm_cpu_rope_ref,
    .attention_head = qlm_cpu_attention_head_ref,
    .attention_heads = qlm_cpu_attention_heads_ref,
    .swiglu = qlm_cpu_swiglu_ref,
    .geglu = qlm_cpu_geglu_ref,
    .to_f16 = qlm_cpu_to_f16_ref,
    .round_f16 = qlm_cpu_round_f16_ref,
};
