/* avx512_lut.c - AVX-512 (BW, VL, VNNI) dot kernels for the table formats
 * IQ4_NL and MXFP4 (x Q8_0), the AVX-512 table's (avx512.c). Built with the
 * AVX-512 flags (Makefile).
 *
 * vpshufb with the 16-entry int8 table (ggml's kvalues_iq4nl, kvalues_mxfp4)
 * in every 128-bit lane looks up the 64 values of a block pair at once
 * (vpermb would need VBMI, which the table's CPUs need not have; the
 * in-lane shuffle does the same job for a 16-entry table). The values go
 * through the signed dot (avx512_blocks.h); integer block sums are exact.
 * Block scales: d_x d_y (IQ4_NL), 2^(e - 128) d_y (MXFP4), one float
 * product each as the reference's. */
#include "avx512_blocks.h"

static inline __m512i lut2(const int8_t table[16], const uint8_t *qs0, const uint8_t *qs1) {
    const __m512i t = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)table));
    return _mm512_shuffle_epi8(t, qz_join(qb_nibbles(qs0), qb_nibbles(qs1)));
}

static inline __m256i lut1(const int8_t table[16], const uint8_t *qs) {
    const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)table));
    return _mm256_shuffle_epi8(t, qb_nibbles(qs));
}

static inline __m512i iq4_nl_weights2(const qlm_block_iq4_nl *b0, const qlm_block_iq4_nl *b1) {
    return lut2(qlm_kvalues_iq4nl, b0->qs, b1->qs);
}
static inline __m256i iq4_nl_weights1(const qlm_block_iq4_nl *b) { return lut1(qlm_kvalues_iq4nl, b->qs); }
static inline float iq4_nl_scale(const qlm_block_iq4_nl *b) { return _cvtsh_ss(b->d); }

static inline __m512i mxfp4_weights2(const qlm_block_mxfp4 *b0, const qlm_block_mxfp4 *b1) {
    return lut2(qlm_kvalues_mxfp4, b0->qs, b1->qs);
}
static inline __m256i mxfp4_weights1(const qlm_block_mxfp4 *b) { return lut1(qlm_kvalues_mxfp4, b->qs); }
static inline float mxfp4_scale(const qlm_block_mxfp4 *b) { return qlm_e8m0_half(b->e); }

QLM_AVX512_Q8_0_ROWS(iq4_nl_rows, qlm_block_iq4_nl, iq4_nl_weights2, iq4_nl_weights1, iq4_nl_scale)
QLM_AVX512_Q8_0_ROWS(mxfp4_rows, qlm_block_mxfp4, mxfp4_weights2, mxfp4_weights1, mxfp4_scale)

void qlm_dot_iq4_nl_q8_0_avx512(int64_t n, float *s, const void *x, const void *y) {
    iq4_nl_rows(1, n, s, x, 0, y);
}

void qlm_dot4_iq4_nl_q8_0_avx512(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    iq4_nl_rows(4, n, s, x, bx, y);
}

void qlm_dot_mxfp4_q8_0_avx512(int64_t n, float *s, const void *x, const void *y) {
    mxfp4_rows(1, n, s, x, 0, y);
}

void qlm_dot4_mxfp4_q8_0_avx512(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    mxfp4_rows(4, n, s, x, bx, y);
}
