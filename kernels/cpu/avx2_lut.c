/* avx2_lut.c - AVX2 dot kernels for the table formats IQ4_NL and MXFP4
 * (x Q8_0), the AVX2 table's (avx2.c). Built with the AVX2 flags.
 *
 * A 4-bit index selects an int8 value from a 16-entry table (ggml's
 * kvalues_iq4nl: -127..113; kvalues_mxfp4: twice the E2M1 values, -12..12):
 * vpshufb with the table in both 128-bit lanes looks up 32 at once. The
 * values then go through the signed int8 dot; the integer block sums are
 * exact. Block scales: d_x d_y (IQ4_NL), 2^(e - 128) d_y (MXFP4), one float
 * product each as in the reference. */
#include "avx2_blocks.h"

static inline __m256i lut_lookup(const int8_t table[16], const uint8_t *qs) {
    const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)table));
    return _mm256_shuffle_epi8(t, qb_nibbles(qs));
}

static inline __m256i iq4_nl_weights(const qlm_block_iq4_nl *b) { return lut_lookup(qlm_kvalues_iq4nl, b->qs); }
static inline float iq4_nl_scale(const qlm_block_iq4_nl *b) { return _cvtsh_ss(b->d); }
static inline __m256i mxfp4_weights(const qlm_block_mxfp4 *b) { return lut_lookup(qlm_kvalues_mxfp4, b->qs); }
static inline float mxfp4_scale(const qlm_block_mxfp4 *b) { return qlm_e8m0_half(b->e); }

QLM_AVX2_Q8_0_ROWS(iq4_nl_rows, qlm_block_iq4_nl, iq4_nl_weights, iq4_nl_scale)
QLM_AVX2_Q8_0_ROWS(mxfp4_rows, qlm_block_mxfp4, mxfp4_weights, mxfp4_scale)

void qlm_dot_iq4_nl_q8_0_avx2(int64_t n, float *s, const void *x, const void *y) {
    iq4_nl_rows(1, n, s, x, 0, y);
}

void qlm_dot4_iq4_nl_q8_0_avx2(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    iq4_nl_rows(4, n, s, x, bx, y);
}

void qlm_dot_mxfp4_q8_0_avx2(int64_t n, float *s, const void *x, const void *y) { mxfp4_rows(1, n, s, x, 0, y); }

void qlm_dot4_mxfp4_q8_0_avx2(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    mxfp4_rows(4, n, s, x, bx, y);
}
