/* avx512_r16.c - AVX-512 VNNI kernels for R16-packed weights (pack.h): 16
 * rows x up to TILE tokens per call of tile().
 *
 * Each 64-byte load holds 4 quant bytes of each of the 16 rows, one row per
 * 32-bit lane, so vpdpbusd against 4 activation bytes broadcast to all lanes
 * accumulates 16 row dots at once, and the block's 16 scales are one vector.
 * The weights are decoded once per block and reused for every token of the
 * tile (prompt processing), which is what makes this a GEMM rather than
 * repeated GEMVs.
 *
 * vpdpbusd multiplies unsigned by signed bytes: Q4 nibbles are unsigned as
 * stored, and so are Q5_0's q = nibble | fifth bit << 4 (value q - 16; Q5_1:
 * q, plus the min term as Q4_1); Q8_0
 * weights get +128 (xor 0x80), and the table formats (IQ4_NL, MXFP4) look
 * their nibbles up (vpshufb) in their kvalues table + 128 (1..241 and
 * 116..140: unsigned bytes). The offset is taken back exactly
 * in integers: isum = dot(u, a) - offset * sum(a), sum(a) precomputed per
 * activation block; vpdpbusd does not saturate and |isum| < 32 * 255 * 128.
 * Then per block acc += (float)isum * (dw * da) (+ mw * s
 * for Q4_1), with separate multiplies and adds in the reference's order, so
 * results equal qlm_gemm_r16_*_ref bit for bit. */
#include <immintrin.h>
#include <string.h>

#include "avx512_blocks.h"
#include "kernels.h"

enum { KIND_Q4_0, KIND_Q4_1, KIND_Q8_0, KIND_Q5_0, KIND_IQ4_NL, KIND_MXFP4, KIND_Q5_1 };
#define TILE 8

static inline __m512 load_f16x16(const uint8_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

/* MXFP4's 16 row scales 2^(e - 128) from their E8M0 bytes, built as float
 * bits exactly as qlm_e8m0_half: subnormal 0x00200000 << e for e < 2, else
 * the exponent field e - 1. */
static inline __m512 load_e8m0_half16(const uint8_t *p) {
    const __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
    const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
    const __m512i tiny = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
    const __mmask16 small = _mm512_cmplt_epu32_mask(e, _mm512_set1_epi32(2));
    return _mm512_castsi512_ps(_mm512_mask_blend_epi32(small, normal, tiny));
}

/* The 16 rows' block scales dw (header field 0). */
static inline __m512 row_scales(int kind, const uint8_t *w) {
    return kind == KIND_MXFP4 ? load_e8m0_half16(w) : load_f16x16(w);
}

/* A table format's kvalues + 128, as unsigned bytes in every 128-bit lane
 * (vpshufb looks up within lanes). */
static inline __m512i lut_u8(int kind) {
    const int8_t *k = kind == KIND_IQ4_NL ? qlm_kvalues_iq4nl : qlm_kvalues_mxfp4;
    const __m512i t = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)k));
    return _mm512_xor_si512(t, _mm512_set1_epi8((char)0x80));
}

/* Q5_0's fifth bits of 4 consecutive values, one row per lane: the low 4
 * bits n of each lane (qh shifted to the first of the values; vpermd reads
 * only those 4 bits of its index) select the dword whose byte k is 0x10
 * when bit k of n is set. */
static inline __m512i q5_high4(__m512i qh_shifted) {
    const __m512i spread = _mm512_setr_epi32(0x00000000, 0x00000010, 0x00001000, 0x00001010, 0x00100000,
                                             0x00100010, 0x00101000, 0x00101010, 0x10000000, 0x10000010,
                                             0x10001000, 0x10001010, 0x10100000, 0x10100010, 0x10101000, 0x10101010);
    return _mm512_permutexvar_epi32(qh_shifted, spread);
}

/* Weights of one packed block as 8 vectors of unsigned bytes: u[c] pairs
 * with activation bytes 4c..4c+3 of the block (Q4: c < 4 low nibbles, c >= 4
 * high nibbles = values 16 + 4(c-4)..; Q5_0: the same after its qh chunk,
 * with the fifth bits of those values OR-ed in; Q8_0: chunk c). */
static inline void decode(int kind, const uint8_t *qs, __m512i u[8]) {
    if (kind == KIND_Q5_0 || kind == KIND_Q5_1) {
        const __m512i qh = _mm512_loadu_si512(qs), m4 = _mm512_set1_epi8(0x0f);
        for (int c = 0; c < 4; c++) {
            const __m512i v = _mm512_loadu_si512(qs + 64 * (c + 1));
            u[c] = _mm512_or_si512(_mm512_and_si512(v, m4), q5_high4(_mm512_srli_epi32(qh, 4 * c)));
            u[c + 4] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4),
                                       q5_high4(_mm512_srli_epi32(qh, 16 + 4 * c)));
        }
        return;
    }
    if (kind == KIND_Q8_0) {
        const __m512i bias = _mm512_set1_epi8((char)0x80);
        for (int c = 0; c < 8; c++) u[c] = _mm512_xor_si512(_mm512_loadu_si512(qs + 64 * c), bias);
        return;
    }
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int c = 0; c < 4; c++) {
        const __m512i v = _mm512_loadu_si512(qs + 64 * c);
        u[c] = _mm512_and_si512(v, m4);
        u[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
    if (kind == KIND_IQ4_NL || kind == KIND_MXFP4) {
        const __m512i t = lut_u8(kind);
        for (int c = 0; c < 8; c++) u[c] = _mm512_shuffle_epi8(t, u[c]);
    }
}

/* Activation offset of chunk c (see decode). */
static inline int chunk_at(int kind, int c) { return kind == KIND_Q8_0 ? 4 * c : (c < 4 ? 4 * c : 16 + 4 * (c - 4)); }

static QLM_ALWAYS_INLINE void tile(int kind, int T, const uint8_t *w, int64_t nb, const char *act, size_t act_stride,
                        float *y, int64_t ldy) {
    const int has_min = kind == KIND_Q4_1 || kind == KIND_Q5_1;
    const size_t header = has_min ? 4 : kind == KIND_MXFP4 ? 1 : 2;
    const size_t quants = kind == KIND_Q8_0 ? 32 : kind == KIND_Q5_0 || kind == KIND_Q5_1 ? 20 : 16;
    const size_t block = (header + quants) * QLM_PACK_ROWS;
    const int offset = kind == KIND_Q4_0 ? 8 : kind == KIND_Q5_0 ? 16 : has_min ? 0 : 128;
    const int64_t n_in = nb * 32;
    qlm_act8 a[TILE];
    __m512 acc[TILE];
    for (int j = 0; j < T; j++) {
        a[j] = qlm_act8_view(act + j * act_stride, n_in);
        acc[j] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++, w += block) {
        if (T == 1) qlm_prefetch_ahead(w, block); /* decode: see QLM_PREFETCH_BYTES */
        const __m512 dw = row_scales(kind, w);
        __m512i u[8];
        decode(kind, w + header * QLM_PACK_ROWS, u);
        QLM_UNROLL_TILE
        for (int j = 0; j < T; j++) {
            const int8_t *aq = a[j].q + b * 32;
            __m512i isum = _mm512_setzero_si512();
            for (int c = 0; c < 8; c++) isum = _mm512_dpbusd_epi32(isum, u[c], qz_bcast4(aq + chunk_at(kind, c)));
            if (offset) isum = _mm512_sub_epi32(isum, _mm512_set1_epi32(offset * a[j].sum[b]));
            const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(a[j].d[b]));
            acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), dd));
            if (has_min)
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(load_f16x16(w + 32), _mm512_set1_ps(a[j].s[b])));
        }
    }
    for (int j = 0; j < T; j++) _mm512_storeu_ps(y + j * ldy, acc[j]);
}

/* All tokens, 8 at a time (QLM_R16_TOKEN_TILES). */
static QLM_ALWAYS_INLINE void gemm(int kind, const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                        float *y, int64_t ldy) {
    QLM_R16_TOKEN_TILES(tile, kind, w, nb, act, act_stride, n_tok, y, ldy);
}

QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_0_avx512, gemm, KIND_Q4_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_1_avx512, gemm, KIND_Q4_1)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q8_0_avx512, gemm, KIND_Q8_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q5_0_avx512, gemm, KIND_Q5_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_iq4_nl_avx512, gemm, KIND_IQ4_NL)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_mxfp4_avx512, gemm, KIND_MXFP4)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q5_1_avx512, gemm, KIND_Q5_1)
