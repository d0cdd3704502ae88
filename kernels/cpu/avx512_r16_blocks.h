/* avx512_r16_blocks.h - the 32-value block formats' R16 decoding for the
 * AVX-512 tiles (avx512_r16.c) and the AMX tiles (amx.c): row scales and
 * quant chunks of one packed block of 16 rows. Include only from files
 * built with the AVX-512 flags. */
#ifndef QLM_AVX512_R16_BLOCKS_H
#define QLM_AVX512_R16_BLOCKS_H

#include <immintrin.h>

#include "kernels.h"

enum { KIND_Q4_0, KIND_Q4_1, KIND_Q8_0, KIND_Q5_0, KIND_IQ4_NL, KIND_MXFP4, KIND_Q5_1 };
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

/* Bytes of a kind's header fields per row (d; d and m; MXFP4's e) and of
 * its quants, and the offset decode's unsigned bytes carry (the weight is
 * u - offset; 0 for the formats with a min term, whose q is unsigned). */
static inline size_t r16_header(int kind) {
    return kind == KIND_Q4_1 || kind == KIND_Q5_1 ? 4 : kind == KIND_MXFP4 ? 1 : 2;
}
static inline size_t r16_quants(int kind) {
    return kind == KIND_Q8_0 ? 32 : kind == KIND_Q5_0 || kind == KIND_Q5_1 ? 20 : 16;
}
static inline int r16_offset(int kind) {
    return kind == KIND_Q4_0 ? 8 : kind == KIND_Q5_0 ? 16 : kind == KIND_Q4_1 || kind == KIND_Q5_1 ? 0 : 128;
}

#endif
