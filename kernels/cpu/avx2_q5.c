/* avx2_q5.c - AVX2 dot kernels for Q5_0 (x Q8_0) and Q5_1 (x Q8_1), the
 * AVX2 table's (avx2.c). Built with the AVX2 flags (Makefile).
 *
 * A Q5 block's 32 quants are the Q4 nibbles plus a fifth bit per value from
 * qh, spread to one byte per value (qb_bits_to_bytes). Q5_0's value q - 16 is
 * the nibble with 0xf0 OR-ed in where the bit is clear (as int8: nibble - 16)
 * and goes through the signed dot; Q5_1's q = nibble | 0x10 where the bit is
 * set is unsigned and multiplies the activations directly. The integer block
 * sums are exact, the float steps per block those of the Q4 kernels. */
#include "avx2_blocks.h"

static inline __m256i q5_0_weights(const qlm_block_q5_0 *b) {
    const __m256i high = qb_bits_to_bytes(b->qh);
    return _mm256_or_si256(qb_nibbles(b->qs), _mm256_andnot_si256(high, _mm256_set1_epi8((char)0xf0)));
}

static inline float q5_0_scale(const qlm_block_q5_0 *b) { return _cvtsh_ss(b->d); }

QLM_AVX2_Q8_0_ROWS(q5_0_rows, qlm_block_q5_0, q5_0_weights, q5_0_scale)

void qlm_dot_q5_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y) { q5_0_rows(1, n, s, x, 0, y); }

void qlm_dot4_q5_0_q8_0_avx2(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    q5_0_rows(4, n, s, x, bx, y);
}

static inline __m256i q5_1_weights(const qlm_block_q5_1 *b) {
    const __m256i high = qb_bits_to_bytes(b->qh);
    return _mm256_or_si256(qb_nibbles(b->qs), _mm256_and_si256(high, _mm256_set1_epi8(0x10)));
}

/* sum (d_x q + m_x)(d_y p) = d_x d_y sum(q p) + m_x s_y, s_y = d_y sum(p)
 * stored in the Q8_1 block. Per row, as avx2.c's Q4_1 kernels: two vector
 * accumulators (even, odd blocks) and one scalar for the m_x s_y terms,
 * which a pair of blocks adds as (m0 + m1). */
static QLM_ALWAYS_INLINE void q5_1_rows(int nr, int64_t n, float *s, const void *vx, size_t bx, const void *vy) {
    const qlm_block_q8_1 *y = vy;
    const qlm_block_q5_1 *x[4];
    __m256 acc0[4], acc1[4];
    float accm[4];
    for (int k = 0; k < nr; k++) {
        x[k] = (const qlm_block_q5_1 *)((const char *)vx + k * bx);
        acc0[k] = acc1[k] = _mm256_setzero_ps();
        accm[k] = 0.0f;
    }
    const int64_t nb = n / QLM_QK5_1;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256i y1 = _mm256_loadu_si256((const __m256i *)y[i + 1].qs);
        const float dy0 = _cvtsh_ss(y[i].d), dy1 = _cvtsh_ss(y[i + 1].d);
        const float sy0 = _cvtsh_ss(y[i].s), sy1 = _cvtsh_ss(y[i + 1].s);
        for (int k = 0; k < nr; k++) {
            const qlm_block_q5_1 *b = x[k] + i;
            const __m256 p0 = qb_dot_u8_i8(q5_1_weights(&b[0]), y0), p1 = qb_dot_u8_i8(q5_1_weights(&b[1]), y1);
            acc0[k] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b[0].d) * dy0), p0, acc0[k]);
            acc1[k] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b[1].d) * dy1), p1, acc1[k]);
            const float m0 = _cvtsh_ss(b[0].m) * sy0, m1 = _cvtsh_ss(b[1].m) * sy1;
            accm[k] += m0 + m1;
        }
    }
    for (int k = 0; k < nr; k++) {
        if (i < nb) {
            const qlm_block_q5_1 *b = x[k] + i;
            const __m256 p = qb_dot_u8_i8(q5_1_weights(b), _mm256_loadu_si256((const __m256i *)y[i].qs));
            acc0[k] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b->d) * _cvtsh_ss(y[i].d)), p, acc0[k]);
            const float m = _cvtsh_ss(b->m) * _cvtsh_ss(y[i].s);
            accm[k] += m;
        }
        s[k] = qb_hsum_ps(_mm256_add_ps(acc0[k], acc1[k])) + accm[k];
    }
}

void qlm_dot_q5_1_q8_1_avx2(int64_t n, float *s, const void *x, const void *y) { q5_1_rows(1, n, s, x, 0, y); }

void qlm_dot4_q5_1_q8_1_avx2(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    q5_1_rows(4, n, s, x, bx, y);
}
