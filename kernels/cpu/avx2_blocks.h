/* avx2_blocks.h - the int8 block-dot helpers and the rows template of the
 * AVX2 kernels outside avx2.c (avx2_q5.c, avx2_lut.c; also reused by the
 * AVX-512 files for their one-block tails). Include only from files built
 * with the AVX2 flags (avx2_*.c, avx512_*.c: see the Makefile).
 *
 * Integer dots use maddubs as avx2.c does: unsigned times signed bytes, so a
 * signed weight goes in as |x| with its sign moved onto the activation.
 * Pair sums stay below int16 saturation: weights are within [-128, 127] (or
 * [0, 31] unsigned), activations within [-127, 127] (our quantizers clamp),
 * so a pair is at most 2 * 128 * 127 = 32512 < 32767. */
#ifndef QLM_AVX2_BLOCKS_H
#define QLM_AVX2_BLOCKS_H

#include <immintrin.h>
#include <string.h>

#include "kernels.h"

/* The token loop of the AVX2 R16 kernels (16 ymm registers hold tiles of 2
 * tokens): TILE(kind, T, w, nb, act, act_stride, y, ldy) for pairs, then
 * one token. */
#define QB_R16_TOKEN_PAIRS(TILE, kind, w, nb, act, act_stride, n_tok, y, ldy)                                \
    do {                                                                                                     \
        const char *ac_ = (const char *)(act);                                                               \
        int64_t t_ = 0;                                                                                      \
        for (; t_ + 2 <= (n_tok); t_ += 2) TILE(kind, 2, w, nb, ac_ + t_ * (act_stride), act_stride, (y) + t_ * (ldy), ldy); \
        if (t_ < (n_tok)) TILE(kind, 1, w, nb, ac_ + t_ * (act_stride), act_stride, (y) + t_ * (ldy), ldy);  \
    } while (0)

/* The 4 bytes at p in every 32-bit lane (R16 tiles: 4 activation bytes
 * against 4 quant bytes of each row). */
static inline __m256i qb_bcast4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

static inline float qb_hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The 32 nibbles of a 4-bit block in value order: byte j holds value j in
 * its low nibble and value j + 16 in its high nibble (ggml). */
static inline __m256i qb_nibbles(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)qs), m4 = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(b, m4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
    return _mm256_set_m128i(hi, lo);
}

/* 0xff in byte j where bit j of the little-endian 32-bit qh is set: byte j
 * gets qh's byte j / 8 (the shuffle works within 128-bit lanes, each of
 * which holds all four bytes), then every bit but j % 8 is forced on. */
static inline __m256i qb_bits_to_bytes(const uint8_t qh[4]) {
    uint32_t h;
    memcpy(&h, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)h), _mm256_setr_epi64x(0, 0x0101010101010101ll, 0x0202020202020202ll,
                                                       0x0303030303030303ll));
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfell);
    return _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi64x(-1));
}

/* 8 int32 partial sums of u (unsigned bytes) times s (signed bytes), as
 * float: exact, |lane| <= 4 * 255 * 127 < 2^24. */
static inline __m256 qb_dot_u8_i8(__m256i u, __m256i s) {
    const __m256i p16 = _mm256_maddubs_epi16(u, s);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

static inline __m256 qb_dot_i8_i8(__m256i x, __m256i y) {
    return qb_dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* The rows kernel (nr = 1 or 4 rows at stride bx; a constant after
 * inlining) for a format whose weights are 32 signed int8 per block
 * (WEIGHTS(block) -> __m256i in value order) against Q8_0 activations, with
 * block scale SCALE(block) * d_y formed as one float product as the
 * reference does. Per row: two accumulators (even, odd blocks) hide the FMA
 * latency, a lone last block goes into the first, then one horizontal sum;
 * every row runs exactly these operations whatever nr is, so dot and dot4
 * agree bit for bit. */
#define QLM_AVX2_Q8_0_ROWS(NAME, X, WEIGHTS, SCALE)                                                          \
    static QLM_ALWAYS_INLINE void NAME(int nr, int64_t n, float *s, const void *vx, size_t bx,               \
                                       const void *vy) {                                                     \
        const qlm_block_q8_0 *y = vy;                                                                        \
        const X *x[4];                                                                                       \
        __m256 acc0[4], acc1[4];                                                                             \
        for (int k = 0; k < nr; k++) {                                                                       \
            x[k] = (const X *)((const char *)vx + k * bx);                                                   \
            acc0[k] = acc1[k] = _mm256_setzero_ps();                                                         \
        }                                                                                                    \
        const int64_t nb = n / 32;                                                                           \
        int64_t i = 0;                                                                                       \
        for (; i + 1 < nb; i += 2) {                                                                         \
            const __m256i y0 = _mm256_loadu_si256((const __m256i *)y[i].qs);                                 \
            const __m256i y1 = _mm256_loadu_si256((const __m256i *)y[i + 1].qs);                             \
            const float dy0 = _cvtsh_ss(y[i].d), dy1 = _cvtsh_ss(y[i + 1].d);                                \
            for (int k = 0; k < nr; k++) {                                                                   \
                const X *b = x[k] + i;                                                                       \
                const __m256 p0 = qb_dot_i8_i8(WEIGHTS(&b[0]), y0), p1 = qb_dot_i8_i8(WEIGHTS(&b[1]), y1);   \
                acc0[k] = _mm256_fmadd_ps(_mm256_set1_ps(SCALE(&b[0]) * dy0), p0, acc0[k]);                  \
                acc1[k] = _mm256_fmadd_ps(_mm256_set1_ps(SCALE(&b[1]) * dy1), p1, acc1[k]);                  \
            }                                                                                                \
        }                                                                                                    \
        for (int k = 0; k < nr; k++) {                                                                       \
            if (i < nb) {                                                                                    \
                const __m256 p = qb_dot_i8_i8(WEIGHTS(&x[k][i]), _mm256_loadu_si256((const __m256i *)y[i].qs)); \
                acc0[k] = _mm256_fmadd_ps(_mm256_set1_ps(SCALE(&x[k][i]) * _cvtsh_ss(y[i].d)), p, acc0[k]);  \
            }                                                                                                \
            s[k] = qb_hsum_ps(_mm256_add_ps(acc0[k], acc1[k]));                                              \
        }                                                                                                    \
    }

/* Q3_K's 16 6-bit sub-block scales minus 32, as int8, unpacked in
 * registers (kquants_scales.h's qlm_q3_k_unpack, four 32-bit lanes at once:
 * low nibbles of bytes 0-7 shifted by 0 or 4, top bits of bytes 8-11
 * shifted by 0, 2, 4, 6). Going through memory instead, the four 32-bit
 * stores and the 16-byte load after them missed store forwarding, a stall
 * that made the AVX2 row kernel 2.6x slower. Reads exactly the 12 bytes. */
static inline __m128i qlm_q3_k_scales_avx2(const uint8_t *packed) {
    int32_t hi;
    memcpy(&hi, packed + 8, 4);
    const __m128i lo8 = _mm_loadl_epi64((const __m128i *)packed);
    const __m128i lo = _mm_srlv_epi32(_mm_unpacklo_epi64(lo8, lo8), _mm_setr_epi32(0, 0, 4, 4));
    const __m128i top = _mm_srlv_epi32(_mm_set1_epi32(hi), _mm_setr_epi32(0, 2, 4, 6));
    const __m128i sc = _mm_or_si128(_mm_and_si128(lo, _mm_set1_epi8(0x0f)),
                                    _mm_slli_epi32(_mm_and_si128(top, _mm_set1_epi8(0x03)), 4));
    return _mm_sub_epi8(sc, _mm_set1_epi8(32));
}

#endif
