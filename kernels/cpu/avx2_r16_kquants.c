/* avx2_r16_kquants.c - AVX2 kernels for R16-packed Q4_K, Q5_K and IQ4_XS
 * (pack.h; the layouts are described in avx512_r16_kquants.c): 16 rows x up
 * to TILE tokens of Q8_K activations, as two halves of 8 rows (the first and
 * second 32 bytes of every 64-byte field and chunk). Q6_K stays row-major
 * here: a packed AVX2 tile decoded 22% slower than its row kernel (28 GB/s,
 * one thread), its 1.3x on prompts not worth that.
 *
 * Without VNNI: vpmaddubsw of the unsigned nibbles against 4 broadcast
 * activation bytes gives saturating int16 pairs, each at most 2 * 15 * 128
 * = 3840 in magnitude, so a sub-block's 8 chunks sum to at most 30720 <
 * 32767 in int16; vpmaddwd of that sum with the sub-block's scale in both
 * int16 halves of the lane then adds scale * dot exactly in int32 (|isum| <=
 * 8 * 63 * 61440). The minimums the same way: the scales m as int16 pairs
 * against the Q8_K bsums summed in pairs. Then the reference's float steps
 * lane-wise, so results equal qlm_dot_block_q4_k's bit for bit; the other
 * formats below say how their sums stay within int16. */
#include <immintrin.h>
#include <string.h>

#include "avx2_blocks.h"
#include "kernels.h"
#include "kquants_scales.h"

/* 16 ymm registers: a sub-block's 8 chunks, the tokens' sums and the
 * accumulators of both halves fill them at 2 tokens. */
#define TILE 2
_Static_assert(TILE == 2, "QB_R16_TOKEN_PAIRS runs tiles of 2");

/* Chunk c (after the 64-byte d, dmin header) of half h. */
static inline __m256i chunk8(const uint8_t *blk, int c, int h) {
    return _mm256_loadu_si256((const __m256i *)(blk + 64 + 64 * c + 32 * h));
}

/* Half h's scales and minimums, one int32 lane a row: sc[j] = scale of
 * sub-block j in both int16 halves; m02 = (m0, m2) int16 pairs, m13, m46,
 * m57 likewise (qlm_k4_unpack's byte order, lane-wise). */
typedef struct k4_half {
    __m256 d, dmin;
    __m256i sc[8], m02, m13, m46, m57;
} k4_half;

static QLM_ALWAYS_INLINE void k4_half_decode(const uint8_t *blk, int h, k4_half *k) {
    const __m256i u0 = chunk8(blk, 0, h), u1 = chunk8(blk, 1, h), u2 = chunk8(blk, 2, h);
    const __m256i m6 = _mm256_set1_epi32(0x3f3f3f3f), m4 = _mm256_set1_epi32(0x0f0f0f0f);
    const __m256i m2 = _mm256_set1_epi32(0x03030303), lo16 = _mm256_set1_epi32(0x00ff00ff);
    k->d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16 * h)));
    k->dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 32 + 16 * h)));
    const __m256i sc_lo = _mm256_and_si256(u0, m6);
    const __m256i sc_hi = _mm256_or_si256(_mm256_and_si256(u2, m4),
                                          _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u0, 6), m2), 4));
    const __m256i m_lo = _mm256_and_si256(u1, m6);
    const __m256i m_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), m4),
                                         _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u1, 6), m2), 4));
    for (int j = 0; j < 8; j++) {
        const __m256i b = _mm256_and_si256(_mm256_srli_epi32(j < 4 ? sc_lo : sc_hi, 8 * (j % 4)),
                                           _mm256_set1_epi32(0xff));
        k->sc[j] = _mm256_or_si256(b, _mm256_slli_epi32(b, 16));
    }
    k->m02 = _mm256_and_si256(m_lo, lo16);
    k->m13 = _mm256_and_si256(_mm256_srli_epi32(m_lo, 8), lo16);
    k->m46 = _mm256_and_si256(m_hi, lo16);
    k->m57 = _mm256_and_si256(_mm256_srli_epi32(m_hi, 8), lo16);
}

/* msum of one token for the half's 8 rows (see avx512_r16_kquants.c). */
static QLM_ALWAYS_INLINE __m256i k4_msum(const k4_half *k, const int16_t *bsums) {
    const __m128i p = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                                     _mm_loadu_si128((const __m128i *)(bsums + 8)));
    const __m128i q = _mm_shuffle_epi8(p, _mm_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15));
    __m256i acc = _mm256_madd_epi16(k->m02, _mm256_set1_epi32(_mm_extract_epi32(q, 0)));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(k->m13, _mm256_set1_epi32(_mm_extract_epi32(q, 1))));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(k->m46, _mm256_set1_epi32(_mm_extract_epi32(q, 2))));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(k->m57, _mm256_set1_epi32(_mm_extract_epi32(q, 3))));
}

/* ---------------------------------------------------- per-format sums */

enum { KIND_Q4_K, KIND_Q5_K, KIND_IQ4_XS };

/* Q4_K / Q5_K: sub-block j's 8 chunks as unsigned quants (Q5_K: qh chunk c
 * = chunk 3 + c, bit j of each byte becomes bit 4; qs after it). */
static QLM_ALWAYS_INLINE void k4_quants(const uint8_t *w, int q5, int h, int j, __m256i u[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int c = 0; c < 8; c++) {
        const __m256i v = chunk8(w, 3 + (q5 ? 8 : 0) + 8 * (j / 2) + c, h);
        u[c] = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(v, 4) : v, m4);
        if (q5) {
            const __m256i qh = chunk8(w, 3 + c, h);
            const __m256i bit = j <= 4 ? _mm256_slli_epi16(qh, 4 - j) : _mm256_srli_epi16(qh, j - 4);
            u[c] = _mm256_or_si256(u[c], _mm256_and_si256(bit, _mm256_set1_epi8(0x10)));
        }
    }
}

/* Q5_K's quants reach 31: a pair is at most 2 * 31 * 127 = 7874, so 4
 * chunks share an int16 sum (31496) and the sub-block takes two. */
static QLM_ALWAYS_INLINE void k4_isums(int q5, int T, const uint8_t *w, int h, const k4_half *k,
                                       const qlm_block_q8_k *const *a, __m256i *isum) {
    for (int j = 0; j < 8; j++) {
        __m256i u[8];
        k4_quants(w, q5, h, j, u);
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const int8_t *aq = a[t]->qs + 32 * j;
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(u[c], qb_bcast4(aq + 4 * c)));
                s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(u[c + 4], qb_bcast4(aq + 16 + 4 * c)));
            }
            if (!q5) s0 = _mm256_add_epi16(s0, s1); /* Q4: at most 30480 */
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s0, k->sc[j]));
            if (q5) isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s1, k->sc[j]));
        }
    }
}

/* A signed scale (int32 lane) in both int16 halves of its lane. */
static inline __m256i pair16(__m256i v) {
    return _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(v, 16));
}

/* IQ4_XS: the table's signed values with vpsignb, as avx2_r16.c's IQ4_NL:
 * |w| times the activation with w's sign (Q8_K quants are within +-127), a
 * pair at most 2 * 127 * 127 = 32258, each chunk's pairs scaled by vpmaddwd. */
static QLM_ALWAYS_INLINE void xs_isums(int T, const uint8_t *w, int h, const qlm_block_q8_k *const *a,
                                       __m256i *isum) {
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qlm_kvalues_iq4nl));
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i sh = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + 32 + 16 * h)));
    const __m256i sl = chunk8(w, 0, h);
    for (int ib = 0; ib < 8; ib++) {
        __m256i u[8];
        for (int k = 0; k < 4; k++) {
            const __m256i v = chunk8(w, 1 + 4 * ib + k, h);
            u[k] = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, m4));
            u[k + 4] = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
        }
        const __m256i lo = _mm256_and_si256(_mm256_srli_epi32(sl, 4 * ib), _mm256_set1_epi32(0xf));
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi32(sh, 2 * ib), _mm256_set1_epi32(3));
        const __m256i ls = pair16(_mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32)));
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const int8_t *aq = a[t]->qs + 32 * ib;
            for (int c = 0; c < 8; c++) {
                const __m256i act = qb_bcast4(aq + (c < 4 ? 4 * c : 16 + 4 * (c - 4)));
                const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(u[c], u[c]), _mm256_sign_epi8(act, u[c]));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, ls));
            }
        }
    }
}

/* ------------------------------------------------------------- the tile */

static size_t packed_block_bytes(int kind) {
    static const size_t bytes[] = {sizeof(qlm_block_q4_k), sizeof(qlm_block_q5_k), sizeof(qlm_block_iq4_xs)};
    return bytes[kind] * QLM_PACK_ROWS;
}

static QLM_ALWAYS_INLINE void tile(int kind, int T, const uint8_t *w, int64_t nb, const char *act, size_t act_stride,
                                   float *y, int64_t ldy) {
    const size_t block = packed_block_bytes(kind);
    const int with_min = kind == KIND_Q4_K || kind == KIND_Q5_K;
    __m256 acc[2][TILE];
    for (int t = 0; t < T; t++) acc[0][t] = acc[1][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++, w += block) {
        if (T == 1) qlm_prefetch_ahead(w, block); /* see QLM_PREFETCH_BYTES */
        const qlm_block_q8_k *a[TILE];
        for (int t = 0; t < T; t++) a[t] = (const qlm_block_q8_k *)(act + t * act_stride) + b;
        for (int h = 0; h < 2; h++) {
            __m256i isum[TILE];
            for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();
            k4_half k;
            if (with_min) {
                k4_half_decode(w, h, &k);
                k4_isums(kind == KIND_Q5_K, T, w, h, &k, a, isum);
            } else {
                k.d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + 16 * h)));
                xs_isums(T, w, h, a, isum);
            }
            QLM_UNROLL_TILE
            for (int t = 0; t < T; t++) {
                const __m256 yd = _mm256_set1_ps(a[t]->d);
                const __m256 t0 = _mm256_mul_ps(_mm256_mul_ps(k.d, yd), _mm256_cvtepi32_ps(isum[t]));
                acc[h][t] = _mm256_add_ps(acc[h][t], t0);
                if (with_min) {
                    const __m256 dm = _mm256_mul_ps(k.dmin, yd);
                    acc[h][t] = _mm256_sub_ps(acc[h][t], _mm256_mul_ps(dm, _mm256_cvtepi32_ps(k4_msum(&k, a[t]->bsums))));
                }
            }
        }
    }
    for (int t = 0; t < T; t++) {
        _mm256_storeu_ps(y + t * ldy, acc[0][t]);
        _mm256_storeu_ps(y + t * ldy + 8, acc[1][t]);
    }
}

static QLM_ALWAYS_INLINE void gemm(int kind, const void *w, int64_t nb, const void *act, size_t act_stride,
                                   int64_t n_tok, float *y, int64_t ldy) {
    QB_R16_TOKEN_PAIRS(tile, kind, w, nb, act, act_stride, n_tok, y, ldy);
}

QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_k_avx2, gemm, KIND_Q4_K)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q5_k_avx2, gemm, KIND_Q5_K)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_iq4_xs_avx2, gemm, KIND_IQ4_XS)
