/* neon_lut.c - NEON dot kernels for the table formats IQ4_NL and MXFP4
 * (x Q8_0), the NEON tables' (neon.c). Built twice, as neon.c: baseline
 * here, with SDOT through neon_dotprod_lut.c (neon_blocks.h).
 *
 * TBL looks up 16 int8 values at once from the 16-entry table (ggml's
 * kvalues_iq4nl: -127..113; kvalues_mxfp4: twice the E2M1 values, -12..12);
 * the values go through the signed int8 block dot, whose sums are exact.
 * Block scales: d_x d_y (IQ4_NL), 2^(e - 128) d_y (MXFP4), one float product
 * each as the reference's. */
#include "neon_blocks.h"

static inline nb_i8x32 lut_lookup(const int8_t table[16], const uint8_t *qs) {
    const int8x16_t t = vld1q_s8(table);
    const uint8x16x2_t nib = nb_nibbles(qs);
    return (nb_i8x32){vqtbl1q_s8(t, nib.val[0]), vqtbl1q_s8(t, nib.val[1])};
}

static inline nb_i8x32 iq4_nl_weights(const qlm_block_iq4_nl *b) { return lut_lookup(qlm_kvalues_iq4nl, b->qs); }
static inline float iq4_nl_scale(const qlm_block_iq4_nl *b) { return nb_h2f(b->d); }
static inline nb_i8x32 mxfp4_weights(const qlm_block_mxfp4 *b) { return lut_lookup(qlm_kvalues_mxfp4, b->qs); }
static inline float mxfp4_scale(const qlm_block_mxfp4 *b) { return qlm_e8m0_half(b->e); }

QLM_NEON_Q8_0_ROWS(iq4_nl_rows, qlm_block_iq4_nl, iq4_nl_weights, iq4_nl_scale)
QLM_NEON_Q8_0_ROWS(mxfp4_rows, qlm_block_mxfp4, mxfp4_weights, mxfp4_scale)

void QLM_NEON_FN(qlm_dot_iq4_nl_q8_0)(int64_t n, float *s, const void *x, const void *y) {
    iq4_nl_rows(1, n, s, x, 0, y);
}

void QLM_NEON_FN(qlm_dot4_iq4_nl_q8_0)(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    iq4_nl_rows(4, n, s, x, bx, y);
}

void QLM_NEON_FN(qlm_dot_mxfp4_q8_0)(int64_t n, float *s, const void *x, const void *y) {
    mxfp4_rows(1, n, s, x, 0, y);
}

void QLM_NEON_FN(qlm_dot4_mxfp4_q8_0)(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    mxfp4_rows(4, n, s, x, bx, y);
}
