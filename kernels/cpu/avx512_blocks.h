/* avx512_blocks.h - helpers and the rows template of the AVX-512 block-dot
 * kernels outside avx512.c (avx512_q5.c, avx512_lut.c). Include only from
 * files built with the AVX-512 flags (avx512_*.c, see the Makefile).
 *
 * As avx512.c: VNNI's vpdpbusd (unsigned x signed bytes, four products into
 * each int32 lane, no saturation step), two 32-value blocks per 512-bit
 * register (lanes 0-7 block i, 8-15 block i + 1, each scaled by its own d),
 * a lone last block through the 256-bit form. Signed weights go in as |w|
 * with the activation negated where w < 0 (weights are never -128; our
 * activations are within [-127, 127], so the negation cannot overflow). */
#ifndef QLM_AVX512_BLOCKS_H
#define QLM_AVX512_BLOCKS_H

#include "avx2_blocks.h"

/* The 4 bytes at p in every 32-bit lane (qb_bcast4's 512-bit form). */
static inline __m512i qz_bcast4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

static inline __m512i qz_join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* a in lanes 0-7, b in lanes 8-15 */
static inline __m512 qz_scale2(float a, float b) {
    return _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(a), _mm512_set1_ps(b));
}

static inline __m512i qz_load_q8_2(const int8_t *q0, const int8_t *q1) {
    return qz_join(_mm256_loadu_si256((const __m256i *)q0), _mm256_loadu_si256((const __m256i *)q1));
}

/* 16 int32 lanes of w . y (both signed bytes), as float (exact: < 2^24). */
static inline __m512 qz_dot2_s8(__m512i w, __m512i y) {
    const __m512i v = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(w), _mm512_setzero_si512(), y);
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), v));
}

/* unsigned u . signed y */
static inline __m512 qz_dot2_u8(__m512i u, __m512i y) {
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, y));
}

/* One block, 8 lanes */
static inline __m256 qz_dot1_s8(__m256i w, __m256i y) {
    return _mm256_cvtepi32_ps(
        _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(y, w)));
}

static inline __m256 qz_dot1_u8(__m256i u, __m256i y) {
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, y));
}

/* The rows kernel (nr = 1 or 4 rows at stride bx, a constant after
 * inlining) for signed int8 weights against Q8_0 activations, avx512.c's
 * Q4_0 order: per row one accumulator over block pairs (WEIGHTS2(b0, b1)
 * -> __m512i), a lone last block (WEIGHTS1(b) -> __m256i) scaled into its
 * own 256-bit term, then reduce(acc) + hsum(tail). Block scale: SCALE(b) *
 * d_y, one float product as the reference's. Every row runs exactly these
 * operations whatever nr is, so dot and dot4 agree bit for bit. */
#define QLM_AVX512_Q8_0_ROWS(NAME, X, WEIGHTS2, WEIGHTS1, SCALE)                                             \
    static QLM_ALWAYS_INLINE void NAME(int nr, int64_t n, float *s, const void *vx, size_t bx,               \
                                       const void *vy) {                                                     \
        const qlm_block_q8_0 *y = vy;                                                                        \
        const X *x[4];                                                                                       \
        __m512 acc[4];                                                                                       \
        for (int k = 0; k < nr; k++) {                                                                       \
            x[k] = (const X *)((const char *)vx + k * bx);                                                   \
            acc[k] = _mm512_setzero_ps();                                                                    \
        }                                                                                                    \
        const int64_t nb = n / 32;                                                                           \
        int64_t i = 0;                                                                                       \
        for (; i + 1 < nb; i += 2) {                                                                         \
            const __m512i yy = qz_load_q8_2(y[i].qs, y[i + 1].qs);                                           \
            const float dy0 = _cvtsh_ss(y[i].d), dy1 = _cvtsh_ss(y[i + 1].d);                                \
            for (int k = 0; k < nr; k++) {                                                                   \
                const X *b = x[k] + i;                                                                       \
                const __m512 d = qz_scale2(SCALE(&b[0]) * dy0, SCALE(&b[1]) * dy1);                          \
                acc[k] = _mm512_fmadd_ps(d, qz_dot2_s8(WEIGHTS2(&b[0], &b[1]), yy), acc[k]);                 \
            }                                                                                                \
        }                                                                                                    \
        for (int k = 0; k < nr; k++) {                                                                       \
            __m256 tail = _mm256_setzero_ps();                                                               \
            if (i < nb) {                                                                                    \
                const __m256 d = _mm256_set1_ps(SCALE(&x[k][i]) * _cvtsh_ss(y[i].d));                        \
                tail = _mm256_mul_ps(                                                                        \
                    d, qz_dot1_s8(WEIGHTS1(&x[k][i]), _mm256_loadu_si256((const __m256i *)y[i].qs)));        \
            }                                                                                                \
            s[k] = _mm512_reduce_add_ps(acc[k]) + qb_hsum_ps(tail);                                          \
        }                                                                                                    \
    }

#endif
