/* avx2_r16.c - AVX2 kernels for R16-packed weights (pack.h). A 256-bit
 * register holds 4 quant bytes of 8 rows, so each 16-row group is done as
 * two halves: rows 0-7 are the first 32 bytes of every 64-byte chunk, rows
 * 8-15 the second.
 *
 * Without VNNI the integer dot is vpmaddubsw (unsigned x signed bytes into
 * saturating int16 pairs) then vpmaddwd by ones into int32 lanes. Q4 nibbles
 * are at most 15 and activations at most 127 in magnitude, so one pair is at
 * most 3810 and the 8 chunks of a block sum to at most 30480 < 32767: the
 * int16 sums never saturate and the whole block needs one vpmaddwd. Q8_0
 * weights are signed: |w| times the activation with w's sign (vpsignb), one
 * vpmaddwd per chunk since two pairs could exceed int16. The table formats
 * look their nibbles up (vpshufb) as signed values and take the same signed
 * path: IQ4_NL's (|w| <= 127) as Q8_0's, MXFP4's (|w| <= 12: a pair at most
 * 3048, the block at most 24384) with one vpmaddwd per block. Q5_0's
 * q = nibble | fifth bit << 4 is unsigned (value q - 16, the 16 taken back
 * as 16 * sum(a), as Q4_0's 8): a pair is at most 2 * 31 * 127 = 7874, so
 * four chunks (31496) share one vpmaddwd.
 *
 * Per block: acc += (float)isum * (dw * da) (+ mw * s for Q4_1), multiplies
 * and adds separate and in the reference's order: results equal
 * qlm_gemm_r16_*_ref bit for bit. */
#include <immintrin.h>
#include <string.h>

#include "avx2_blocks.h"
#include "kernels.h"

enum { KIND_Q4_0, KIND_Q4_1, KIND_Q8_0, KIND_Q5_0, KIND_IQ4_NL, KIND_MXFP4 };
#define TILE 2
_Static_assert(TILE == 2, "QB_R16_TOKEN_PAIRS runs tiles of 2");

static inline __m256 load_f16x8(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/* MXFP4's 8 row scales 2^(e - 128) from their E8M0 bytes, built as float
 * bits exactly as qlm_e8m0_half: subnormal 0x00200000 << e for e < 2, else
 * the exponent field e - 1. */
static inline __m256 load_e8m0_half8(const uint8_t *p) {
    const __m256i e = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
    const __m256i tiny = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
    const __m256i small = _mm256_cmpgt_epi32(_mm256_set1_epi32(2), e);
    return _mm256_castsi256_ps(_mm256_blendv_epi8(normal, tiny, small));
}

/* Half h's 8 block scales dw (header field 0: 2 bytes a row, MXFP4's 1). */
static inline __m256 row_scales(int kind, const uint8_t *w, int h) {
    return kind == KIND_MXFP4 ? load_e8m0_half8(w + 8 * h) : load_f16x8(w + 16 * h);
}

/* Q5_0's fifth bits as 0x10 bytes for chunks c (bits 8b + 4 (c % 2) + k of
 * each row's qh, k = 0..3) with b = c / 2 for values 0..15 (c < 4) and
 * b = 2 + (c - 4) / 2 for values 16..31: byte b of each row's qh copied to
 * its 4 bytes, then bit k (4 + k for odd c) of byte k tested. */
static inline void q5_high(__m256i qh, __m256i hi[8]) {
    const __m256i even = _mm256_set1_epi32(0x08040201), odd = _mm256_set1_epi32((int)0x80402010u);
    const __m256i b16 = _mm256_set1_epi8(0x10);
    /* byte 0 of each dword, in every byte of the dword (vpshufb is in-lane) */
    const __m256i dword0 = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4, 4,
                                            4, 8, 8, 8, 8, 12, 12, 12, 12);
    for (int b = 0; b < 4; b++) {
        const __m256i rep = _mm256_shuffle_epi8(qh, _mm256_add_epi8(dword0, _mm256_set1_epi8((char)b)));
        const int c = b < 2 ? 2 * b : 4 + 2 * (b - 2);
        hi[c] = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(rep, even), even), b16);
        hi[c + 1] = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(rep, odd), odd), b16);
    }
}

/* Chunk c's 32 bytes for half h; Q4: c < 4 low nibbles, c >= 4 high (Q5_0:
 * after its qh chunk, fifth bits OR-ed in; IQ4_NL, MXFP4: looked up). */
static inline void decode(int kind, const uint8_t *qs, int h, __m256i u[8]) {
    if (kind == KIND_Q8_0) {
        for (int c = 0; c < 8; c++) u[c] = _mm256_loadu_si256((const __m256i *)(qs + 64 * c + 32 * h));
        return;
    }
    const uint8_t *q4 = kind == KIND_Q5_0 ? qs + 64 : qs;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int c = 0; c < 4; c++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(q4 + 64 * c + 32 * h));
        u[c] = _mm256_and_si256(v, m4);
        u[c + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    }
    if (kind == KIND_Q5_0) {
        __m256i hi[8];
        q5_high(_mm256_loadu_si256((const __m256i *)(qs + 32 * h)), hi);
        for (int c = 0; c < 8; c++) u[c] = _mm256_or_si256(u[c], hi[c]);
    } else if (kind == KIND_IQ4_NL || kind == KIND_MXFP4) {
        const int8_t *k = kind == KIND_IQ4_NL ? qlm_kvalues_iq4nl : qlm_kvalues_mxfp4;
        const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)k));
        for (int c = 0; c < 8; c++) u[c] = _mm256_shuffle_epi8(t, u[c]);
    }
}

static inline int chunk_at(int kind, int c) { return kind == KIND_Q8_0 ? 4 * c : (c < 4 ? 4 * c : 16 + 4 * (c - 4)); }

/* Integer dot of 8 rows' block with one token's block of activations. */
static inline __m256i block_dot(int kind, const __m256i u[8], const int8_t *aq) {
    const __m256i ones = _mm256_set1_epi16(1);
    if (kind == KIND_Q8_0 || kind == KIND_IQ4_NL) {
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            const __m256i a = qb_bcast4(aq + chunk_at(kind, c));
            const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(u[c], u[c]), _mm256_sign_epi8(a, u[c]));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, ones));
        }
        return isum;
    }
    if (kind == KIND_MXFP4) {
        __m256i s16 = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            const __m256i a = qb_bcast4(aq + chunk_at(kind, c));
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_sign_epi8(u[c], u[c]), _mm256_sign_epi8(a, u[c])));
        }
        return _mm256_madd_epi16(s16, ones);
    }
    if (kind == KIND_Q5_0) {
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(u[c], qb_bcast4(aq + chunk_at(kind, c))));
            s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(u[c + 4], qb_bcast4(aq + chunk_at(kind, c + 4))));
        }
        return _mm256_add_epi32(_mm256_madd_epi16(s0, ones), _mm256_madd_epi16(s1, ones));
    }
    __m256i s16 = _mm256_setzero_si256();
    for (int c = 0; c < 8; c++) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(u[c], qb_bcast4(aq + chunk_at(kind, c))));
    return _mm256_madd_epi16(s16, ones);
}

static QLM_ALWAYS_INLINE void tile(int kind, int T, const uint8_t *w, int64_t nb, const char *act, size_t act_stride,
                        float *y, int64_t ldy) {
    const size_t header = kind == KIND_Q4_1 ? 4 : kind == KIND_MXFP4 ? 1 : 2;
    const size_t quants = kind == KIND_Q8_0 ? 32 : kind == KIND_Q5_0 ? 20 : 16;
    const size_t block = (header + quants) * QLM_PACK_ROWS;
    const int offset = kind == KIND_Q4_0 ? 8 : kind == KIND_Q5_0 ? 16 : 0;
    qlm_act8 a[TILE];
    __m256 acc[2][TILE];
    for (int j = 0; j < T; j++) {
        a[j] = qlm_act8_view(act + j * act_stride, nb * 32);
        acc[0][j] = acc[1][j] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++, w += block) {
        for (int h = 0; h < 2; h++) {
            const __m256 dw = row_scales(kind, w, h);
            __m256i u[8];
            decode(kind, w + header * QLM_PACK_ROWS, h, u);
            QLM_UNROLL_TILE
            for (int j = 0; j < T; j++) {
                __m256i isum = block_dot(kind, u, a[j].q + b * 32);
                if (offset) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(offset * a[j].sum[b]));
                const __m256 dd = _mm256_mul_ps(dw, _mm256_set1_ps(a[j].d[b]));
                acc[h][j] = _mm256_add_ps(acc[h][j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), dd));
                if (kind == KIND_Q4_1)
                    acc[h][j] = _mm256_add_ps(acc[h][j],
                                              _mm256_mul_ps(load_f16x8(w + 32 + 16 * h), _mm256_set1_ps(a[j].s[b])));
            }
        }
    }
    for (int j = 0; j < T; j++) {
        _mm256_storeu_ps(y + j * ldy, acc[0][j]);
        _mm256_storeu_ps(y + j * ldy + 8, acc[1][j]);
    }
}

static QLM_ALWAYS_INLINE void gemm(int kind, const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                        float *y, int64_t ldy) {
    QB_R16_TOKEN_PAIRS(tile, kind, w, nb, act, act_stride, n_tok, y, ldy);
}

QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_0_avx2, gemm, KIND_Q4_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_1_avx2, gemm, KIND_Q4_1)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q8_0_avx2, gemm, KIND_Q8_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q5_0_avx2, gemm, KIND_Q5_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_iq4_nl_avx2, gemm, KIND_IQ4_NL)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_mxfp4_avx2, gemm, KIND_MXFP4)
