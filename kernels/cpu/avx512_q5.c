/* avx512_q5.c - AVX-512 (BW, VL, VNNI) dot kernels for Q5_0 (x Q8_0) and
 * Q5_1 (x Q8_1), the AVX-512 table's (avx512.c). Built with the AVX-512
 * flags (Makefile).
 *
 * A Q5 block's fifth bits are a 32-bit mask as they are (bit j of the
 * little-endian qh is value j), so AVX-512BW's byte-masked add applies them
 * to the nibbles directly: Q5_0's q - 16 is the nibble minus 16 where the bit
 * is clear, Q5_1's q the nibble plus 16 where it is set; two blocks' masks
 * side by side make the 64-bit mask of a block pair. The integer block
 * sums are exact; the float steps per block are avx512.c's Q4 kernels'. */
#include "avx512_blocks.h"

static inline uint32_t qh32(const uint8_t qh[4]) {
    uint32_t h;
    memcpy(&h, qh, 4);
    return h;
}

static inline __mmask64 qh_pair(const uint8_t *qh0, const uint8_t *qh1) {
    return (__mmask64)qh32(qh0) | (__mmask64)qh32(qh1) << 32;
}

static inline __m512i q5_nibbles2(const uint8_t *qs0, const uint8_t *qs1) {
    return qz_join(qb_nibbles(qs0), qb_nibbles(qs1));
}

static inline __m512i q5_0_weights2(const qlm_block_q5_0 *b0, const qlm_block_q5_0 *b1) {
    const __m512i nib = q5_nibbles2(b0->qs, b1->qs);
    return _mm512_mask_sub_epi8(nib, ~qh_pair(b0->qh, b1->qh), nib, _mm512_set1_epi8(16));
}

static inline __m256i q5_0_weights1(const qlm_block_q5_0 *b) {
    const __m256i nib = qb_nibbles(b->qs);
    return _mm256_mask_sub_epi8(nib, (__mmask32)~qh32(b->qh), nib, _mm256_set1_epi8(16));
}

static inline float q5_0_scale(const qlm_block_q5_0 *b) { return _cvtsh_ss(b->d); }

QLM_AVX512_Q8_0_ROWS(q5_0_rows, qlm_block_q5_0, q5_0_weights2, q5_0_weights1, q5_0_scale)

void qlm_dot_q5_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y) { q5_0_rows(1, n, s, x, 0, y); }

void qlm_dot4_q5_0_q8_0_avx512(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    q5_0_rows(4, n, s, x, bx, y);
}

static inline __m512i q5_1_weights2(const qlm_block_q5_1 *b0, const qlm_block_q5_1 *b1) {
    const __m512i nib = q5_nibbles2(b0->qs, b1->qs);
    return _mm512_mask_add_epi8(nib, qh_pair(b0->qh, b1->qh), nib, _mm512_set1_epi8(16));
}

static inline __m256i q5_1_weights1(const qlm_block_q5_1 *b) {
    const __m256i nib = qb_nibbles(b->qs);
    return _mm256_mask_add_epi8(nib, (__mmask32)qh32(b->qh), nib, _mm256_set1_epi8(16));
}

/* sum (d_x q + m_x)(d_y p) = d_x d_y sum(q p) + m_x s_y, s_y = d_y sum(p)
 * stored in the Q8_1 block; q in [0, 31] is vpdpbusd's unsigned operand as
 * it is. Per row, avx512.c's Q4_1 order: one accumulator over block pairs,
 * one scalar for the m_x s_y terms (a pair adds m0 + m1), the lone last
 * block as a 256-bit term. */
static QLM_ALWAYS_INLINE void q5_1_rows(int nr, int64_t n, float *s, const void *vx, size_t bx, const void *vy) {
    const qlm_block_q8_1 *y = vy;
    const qlm_block_q5_1 *x[4];
    __m512 acc[4];
    float accm[4];
    for (int k = 0; k < nr; k++) {
        x[k] = (const qlm_block_q5_1 *)((const char *)vx + k * bx);
        acc[k] = _mm512_setzero_ps();
        accm[k] = 0.0f;
    }
    const int64_t nb = n / QLM_QK5_1;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m512i yy = qz_load_q8_2(y[i].qs, y[i + 1].qs);
        const float dy0 = _cvtsh_ss(y[i].d), dy1 = _cvtsh_ss(y[i + 1].d);
        const float sy0 = _cvtsh_ss(y[i].s), sy1 = _cvtsh_ss(y[i + 1].s);
        for (int k = 0; k < nr; k++) {
            const qlm_block_q5_1 *b = x[k] + i;
            const __m512 d = qz_scale2(_cvtsh_ss(b[0].d) * dy0, _cvtsh_ss(b[1].d) * dy1);
            acc[k] = _mm512_fmadd_ps(d, qz_dot2_u8(q5_1_weights2(&b[0], &b[1]), yy), acc[k]);
            const float m0 = _cvtsh_ss(b[0].m) * sy0, m1 = _cvtsh_ss(b[1].m) * sy1;
            accm[k] += m0 + m1;
        }
    }
    for (int k = 0; k < nr; k++) {
        __m256 tail = _mm256_setzero_ps();
        if (i < nb) {
            const qlm_block_q5_1 *b = x[k] + i;
            const __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d) * _cvtsh_ss(y[i].d));
            tail = _mm256_mul_ps(d, qz_dot1_u8(q5_1_weights1(b), _mm256_loadu_si256((const __m256i *)y[i].qs)));
            const float m = _cvtsh_ss(b->m) * _cvtsh_ss(y[i].s);
            accm[k] += m;
        }
        s[k] = _mm512_reduce_add_ps(acc[k]) + qb_hsum_ps(tail) + accm[k];
    }
}

void qlm_dot_q5_1_q8_1_avx512(int64_t n, float *s, const void *x, const void *y) { q5_1_rows(1, n, s, x, 0, y); }

void qlm_dot4_q5_1_q8_1_avx512(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    q5_1_rows(4, n, s, x, bx, y);
}
