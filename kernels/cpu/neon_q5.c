/* neon_q5.c - NEON dot kernels for Q5_0 (x Q8_0) and Q5_1 (x Q8_1), the
 * NEON tables' (neon.c). Built twice, as neon.c: baseline here, with SDOT
 * through neon_dotprod_q5.c (neon_blocks.h).
 *
 * A Q5 block's fifth bits become one byte mask per value with CMTST (byte j
 * tests bit j % 8 of qh byte j / 8); Q5_0's q - 16 is the nibble with 0xf0
 * OR-ed in where the bit is clear (as int8: nibble - 16), Q5_1's q the
 * nibble with 0x10 OR-ed in where it is set (0..31, a valid int8). The
 * integer block sums are exact, the float steps per block neon.c's Q4
 * kernels'. */
#include <string.h>

#include "neon_blocks.h"

/* 0xff in byte j of (lo, hi) where bit j of the block's qh is set. */
static inline uint8x16x2_t q5_high_bits(const uint8_t qh[4]) {
    static const uint8_t sel[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bit = vld1q_u8(sel);
    const uint8x16_t lo = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
    const uint8x16_t hi = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
    return (uint8x16x2_t){{vtstq_u8(lo, bit), vtstq_u8(hi, bit)}};
}

static inline nb_i8x32 q5_0_weights(const qlm_block_q5_0 *b) {
    const uint8x16x2_t nib = nb_nibbles(b->qs), high = q5_high_bits(b->qh);
    const uint8x16_t f0 = vdupq_n_u8(0xf0);
    return (nb_i8x32){vreinterpretq_s8_u8(vorrq_u8(nib.val[0], vbicq_u8(f0, high.val[0]))),
                      vreinterpretq_s8_u8(vorrq_u8(nib.val[1], vbicq_u8(f0, high.val[1])))};
}

static inline float q5_0_scale(const qlm_block_q5_0 *b) { return nb_h2f(b->d); }

QLM_NEON_Q8_0_ROWS(q5_0_rows, qlm_block_q5_0, q5_0_weights, q5_0_scale)

void QLM_NEON_FN(qlm_dot_q5_0_q8_0)(int64_t n, float *s, const void *x, const void *y) {
    q5_0_rows(1, n, s, x, 0, y);
}

void QLM_NEON_FN(qlm_dot4_q5_0_q8_0)(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    q5_0_rows(4, n, s, x, bx, y);
}

static inline nb_i8x32 q5_1_weights(const qlm_block_q5_1 *b) {
    const uint8x16x2_t nib = nb_nibbles(b->qs), high = q5_high_bits(b->qh);
    const uint8x16_t h10 = vdupq_n_u8(0x10);
    return (nb_i8x32){vreinterpretq_s8_u8(vorrq_u8(nib.val[0], vandq_u8(high.val[0], h10))),
                      vreinterpretq_s8_u8(vorrq_u8(nib.val[1], vandq_u8(high.val[1], h10)))};
}

/* sum (d_x q + m_x)(d_y p) = d_x d_y sum(q p) + m_x s_y, s_y = d_y sum(p)
 * stored in the Q8_1 block; the m_x s_y terms go into one scalar per row in
 * block order (neon.c's Q4_1 order). */
static inline float32x4_t q5_1_step(float32x4_t acc, float *accm, const qlm_block_q5_1 *x,
                                    const qlm_block_q8_1 *yb, nb_i8x32 y) {
    const float m = nb_h2f(x->m) * nb_h2f(yb->s);
    *accm += m;
    return nb_scale_add(acc, nb_dot32(q5_1_weights(x), y), nb_h2f(x->d) * nb_h2f(yb->d));
}

static inline __attribute__((always_inline)) void q5_1_rows(int nr, int64_t n, float *s, const void *vx,
                                                            size_t bx, const void *vy) {
    const qlm_block_q8_1 *y = vy;
    const qlm_block_q5_1 *x[4];
    const int64_t nb = n / QLM_QK5_1;
    float32x4_t acc0[4], acc1[4];
    float accm[4];
    for (int k = 0; k < nr; k++) {
        x[k] = (const qlm_block_q5_1 *)((const char *)vx + k * bx);
        acc0[k] = acc1[k] = vdupq_n_f32(0.0f);
        accm[k] = 0.0f;
    }
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const nb_i8x32 y0 = nb_load_i8x32(y[i].qs), y1 = nb_load_i8x32(y[i + 1].qs);
        NB_UNROLL_ROWS
        for (int k = 0; k < nr; k++) {
            acc0[k] = q5_1_step(acc0[k], &accm[k], &x[k][i], &y[i], y0);
            acc1[k] = q5_1_step(acc1[k], &accm[k], &x[k][i + 1], &y[i + 1], y1);
        }
    }
    for (int k = 0; k < nr; k++) {
        if (i < nb) acc0[k] = q5_1_step(acc0[k], &accm[k], &x[k][i], &y[i], nb_load_i8x32(y[i].qs));
        s[k] = vaddvq_f32(vaddq_f32(acc0[k], acc1[k])) + accm[k];
    }
}

void QLM_NEON_FN(qlm_dot_q5_1_q8_1)(int64_t n, float *s, const void *x, const void *y) {
    q5_1_rows(1, n, s, x, 0, y);
}

void QLM_NEON_FN(qlm_dot4_q5_1_q8_1)(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    q5_1_rows(4, n, s, x, bx, y);
}
