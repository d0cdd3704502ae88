/* avx512_r16_kquants.h - the R16 K-quant decoding shared by the AVX-512
 * tiles and panels (avx512_r16_kquants.c) and the AMX panels
 * (amx_kquants.c): per-block scales, quant chunks and the panel slab
 * decoder. Include only from files built with the AVX-512 flags; the
 * layouts and the definition the kernels reproduce are described in
 * avx512_r16_kquants.c. */
#ifndef QLM_AVX512_R16_KQUANTS_H
#define QLM_AVX512_R16_KQUANTS_H

#include <immintrin.h>
#include <string.h>

#include "avx512_blocks.h"
#include "kernels.h"

#define TILE 8


/* The decoded per-block state shared by the tile's tokens. */
typedef struct k_block {
    __m512 d, dmin;      /* the 16 rows' fp16 scales as floats */
    __m512i sc_lo, sc_hi; /* scales of sub-blocks 0-3 and 4-7, one byte each per lane */
    __m512i m02, m13, m46, m57; /* minimums as int16 pairs (m0, m2), (m1, m3), ... per lane */
} k_block;

/* Quant chunk c of a packed block whose header is 2 fields (d, dmin or
 * d, scales_h: 64 bytes); Q6_K's has one (q6_chunk). */
static inline __m512i chunk(const uint8_t *blk, int c) { return _mm512_loadu_si512(blk + 64 + 64 * c); }

/* The 12 scale bytes of each lane as qlm_k4_unpack does for one row. */
static QLM_ALWAYS_INLINE void k_decode(const uint8_t *blk, k_block *k) {
    const __m512i u0 = chunk(blk, 0), u1 = chunk(blk, 1), u2 = chunk(blk, 2);
    const __m512i m6 = _mm512_set1_epi32(0x3f3f3f3f), m4 = _mm512_set1_epi32(0x0f0f0f0f);
    const __m512i m2 = _mm512_set1_epi32(0x03030303), lo16 = _mm512_set1_epi32(0x00ff00ff);
    k->d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
    k->dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + 32)));
    k->sc_lo = _mm512_and_si512(u0, m6);
    k->sc_hi = _mm512_or_si512(_mm512_and_si512(u2, m4),
                               _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 6), m2), 4));
    const __m512i m_lo = _mm512_and_si512(u1, m6);
    const __m512i m_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), m4),
                                         _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 6), m2), 4));
    k->m02 = _mm512_and_si512(m_lo, lo16);
    k->m13 = _mm512_and_si512(_mm512_srli_epi32(m_lo, 8), lo16);
    k->m46 = _mm512_and_si512(m_hi, lo16);
    k->m57 = _mm512_and_si512(_mm512_srli_epi32(m_hi, 8), lo16);
}

/* Sub-block j's scale as an int32 per lane. */
static inline __m512i sub_scale(const k_block *k, int j) {
    const __m512i s = j < 4 ? k->sc_lo : k->sc_hi;
    return _mm512_and_si512(_mm512_srli_epi32(s, 8 * (j % 4)), _mm512_set1_epi32(0xff));
}

/* Chunk k (0..7) of sub-block j as unsigned quants: qs chunk 8 (j / 2) + k,
 * low nibbles for even j, high for odd; Q5_K ORs in bit j of qh chunk k as
 * bit 4 of each byte (qh shifted so bit j lands on bit 4 of its own byte). */
static QLM_ALWAYS_INLINE __m512i sub_quants(const uint8_t *blk, int q5, int j, int k) {
    const __m512i v = chunk(blk, 3 + (q5 ? 8 : 0) + 8 * (j / 2) + k);
    const __m512i n = _mm512_and_si512(j % 2 ? _mm512_srli_epi16(v, 4) : v, _mm512_set1_epi8(0x0f));
    if (!q5) return n;
    const __m512i h = chunk(blk, 3 + k);
    const __m512i bit = j <= 4 ? _mm512_slli_epi32(h, 4 - j) : _mm512_srli_epi32(h, j - 4);
    return _mm512_ternarylogic_epi32(n, bit, _mm512_set1_epi8(0x10), 0xf8); /* n | (bit & 0x10) */
}

/* msum of one token for the 16 rows: the Q8_K bsums summed in pairs (P_j,
 * one per sub-block) as the int16 pairs (P0, P2), (P1, P3), (P4, P6), (P5,
 * P7) broadcast against the minimums' pairs by vpdpwssd. */
static QLM_ALWAYS_INLINE __m512i k_msum(const k_block *k, const int16_t *bsums) {
    const __m128i p = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                                     _mm_loadu_si128((const __m128i *)(bsums + 8)));
    const __m128i order = _mm_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15);
    const __m512i q = _mm512_castsi128_si512(_mm_shuffle_epi8(p, order));
    __m512i acc = _mm512_dpwssd_epi32(_mm512_setzero_si512(), k->m02,
                                      _mm512_permutexvar_epi32(_mm512_set1_epi32(0), q));
    acc = _mm512_dpwssd_epi32(acc, k->m13, _mm512_permutexvar_epi32(_mm512_set1_epi32(1), q));
    acc = _mm512_dpwssd_epi32(acc, k->m46, _mm512_permutexvar_epi32(_mm512_set1_epi32(2), q));
    return _mm512_dpwssd_epi32(acc, k->m57, _mm512_permutexvar_epi32(_mm512_set1_epi32(3), q));
}


/* isum of a single token (decode): the tile's loop would run one chain of
 * 8 dependent vpdpbusd per sub-block; here each loaded chunk feeds both of
 * its sub-blocks (low and high nibbles) and each sub-block sums into two
 * alternating accumulators, so four chains are in flight. */
static QLM_ALWAYS_INLINE __m512i isum_one_token(const uint8_t *w, int q5, const k_block *k, const int8_t *aq) {
    __m512i isum = _mm512_setzero_si512();
    for (int g = 0; g < 4; g++) {
        __m512i lo[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
        __m512i hi[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int c = 0; c < 8; c++) {
            lo[c % 2] = _mm512_dpbusd_epi32(lo[c % 2], sub_quants(w, q5, 2 * g, c), qz_bcast4(aq + 64 * g + 4 * c));
            hi[c % 2] = _mm512_dpbusd_epi32(hi[c % 2], sub_quants(w, q5, 2 * g + 1, c),
                                            qz_bcast4(aq + 64 * g + 32 + 4 * c));
        }
        isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_add_epi32(lo[0], lo[1]), sub_scale(k, 2 * g)));
        isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_add_epi32(hi[0], hi[1]), sub_scale(k, 2 * g + 1)));
    }
    return isum;
}

/* The integer sums of one block for T tokens (Q4_K, Q5_K). */
static QLM_ALWAYS_INLINE void k4_isums(int q5, int T, const uint8_t *w, const k_block *k,
                                       const qlm_block_q8_k *const *a, __m512i *isum) {
    if (T == 1) {
        isum[0] = isum_one_token(w, q5, k, a[0]->qs);
        return;
    }
    for (int j = 0; j < 8; j++) {
        __m512i u[8];
        for (int c = 0; c < 8; c++) u[c] = sub_quants(w, q5, j, c);
        const __m512i sc = sub_scale(k, j);
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const int8_t *aq = a[t]->qs + 32 * j;
            __m512i s = _mm512_setzero_si512();
            for (int c = 0; c < 8; c++) s = _mm512_dpbusd_epi32(s, u[c], qz_bcast4(aq + 4 * c));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, sc));
        }
    }
}

/* ------------------------------------------------------------------ IQ4_XS
 * Packed block: d (16 x fp16), scales_h (16 x uint16), then chunk 0 the 4
 * scales_l bytes of each row, chunks 1-32 qs: chunk 1 + 4 ib + k holds
 * values 32 ib + 4k .. + 3 (low nibbles) and 32 ib + 16 + 4k .. (high).
 * Weights kvalues[nibble] looked up as kvalues + 128 (unsigned, vpshufb),
 * the offset taken back exactly: dot_ib = sum (u * a) - 128 (bsums[2 ib] +
 * bsums[2 ib + 1]). Then isum = sum_ib ls_ib * dot_ib (|dot| <= 32 * 255 *
 * 128, |ls| <= 32: exact in int32) and the reference's float steps,
 * sum += (d_x * d_y) * isum, lane-wise. */

/* Sub-block ib's signed 6-bit scale per lane: 4 bits from scales_l, 2 from
 * scales_h, minus 32. */
static inline __m512i xs_scale(__m512i sl, __m512i sh, int ib) {
    const __m512i lo = _mm512_and_si512(_mm512_srli_epi32(sl, 4 * ib), _mm512_set1_epi32(0xf));
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi32(sh, 2 * ib), _mm512_set1_epi32(3));
    return _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32));
}

/* The integer sums of one IQ4_XS block for T tokens. */
static QLM_ALWAYS_INLINE void xs_isums(int T, const uint8_t *w, const qlm_block_q8_k *const *a, __m512i *isum) {
    const __m512i lut = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)qlm_kvalues_iq4nl)),
                                         _mm512_set1_epi8((char)0x80));
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i sh = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(w + 32)));
    const __m512i sl = chunk(w, 0);
    for (int ib = 0; ib < 8; ib++) {
        __m512i u[8];
        for (int k = 0; k < 4; k++) {
            const __m512i v = chunk(w, 1 + 4 * ib + k);
            u[k] = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m4));
            u[k + 4] = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
        }
        const __m512i ls = xs_scale(sl, sh, ib);
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const int8_t *aq = a[t]->qs + 32 * ib;
            const int off = -128 * (a[t]->bsums[2 * ib] + a[t]->bsums[2 * ib + 1]);
            __m512i s[2] = {_mm512_set1_epi32(off), _mm512_setzero_si512()};
            for (int k = 0; k < 4; k++) {
                s[0] = _mm512_dpbusd_epi32(s[0], u[k], qz_bcast4(aq + 4 * k));
                s[1] = _mm512_dpbusd_epi32(s[1], u[k + 4], qz_bcast4(aq + 16 + 4 * k));
            }
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(_mm512_add_epi32(s[0], s[1]), ls));
        }
    }
}

/* -------------------------------------------------------------------- Q6_K
 * Packed block: d (16 x fp16), then chunks 0-31 ql, 32-47 qh, 48-51 the 16
 * signed scales. In half h, ql chunk 16h + k holds values 128h + 4k .. + 3
 * (low nibbles) and 128h + 64 + 4k .. (high); chunk 16h + 8 + k values
 * 128h + 32 + 4k .. and 128h + 96 + 4k ..; qh chunk 32 + 8h + k their top
 * two bits, quarter q at bits 2q, 2q + 1. Quants u = 0..63 are unsigned for
 * vpdpbusd; the -32 is taken back per 16-value sub-block j from the Q8_K
 * sums: dot_j = sum u * a - 32 bsums[j] (exact), isum = sum_j sc_j dot_j,
 * then sum += (d_x * d_y) * isum lane-wise, as the reference. */

/* Quarter q of chunk k in half h as unsigned 6-bit quants. */
static inline __m512i q6_chunk(const uint8_t *blk, int c) { return _mm512_loadu_si512(blk + 32 + 64 * c); }

static QLM_ALWAYS_INLINE __m512i q6_quants(const uint8_t *blk, int h, int q, int k) {
    const __m512i lo = q6_chunk(blk, 16 * h + 8 * (q & 1) + k), hi = q6_chunk(blk, 32 + 8 * h + k);
    const __m512i nib = _mm512_and_si512(q < 2 ? lo : _mm512_srli_epi16(lo, 4), _mm512_set1_epi8(0x0f));
    const __m512i top = 2 * q <= 4 ? _mm512_slli_epi16(hi, 4 - 2 * q) : _mm512_srli_epi16(hi, 2 * q - 4);
    return _mm512_ternarylogic_epi32(nib, top, _mm512_set1_epi8(0x30), 0xf8); /* nib | (top & 0x30) */
}

/* Sub-block j's signed scale per lane (byte j % 4 of chunk 48 + j / 4). */
static inline __m512i q6_scale(const uint8_t *blk, int j) {
    return _mm512_srai_epi32(_mm512_slli_epi32(q6_chunk(blk, 48 + j / 4), 24 - 8 * (j % 4)), 24);
}

/* isum of a single token (decode), where decoding is not shared by other
 * tokens: each loaded ql pair and qh chunk gives all four quarters at once
 * (the tile's loop decodes per quarter and loads each chunk twice), summed
 * into the 8 sub-block accumulators of the half. */
static QLM_ALWAYS_INLINE __m512i q6_isum_one_token(const uint8_t *w, const qlm_block_q8_k *a) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), m6 = _mm512_set1_epi8(0x3f);
    __m512i isum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        __m512i s[8];
        for (int i = 0; i < 8; i++) s[i] = _mm512_set1_epi32(-32 * a->bsums[8 * h + i]);
        const int8_t *aq = a->qs + 128 * h;
        QLM_UNROLL_TILE /* constant k: the accumulators stay registers */
        for (int k = 0; k < 8; k++) {
            const __m512i A = q6_chunk(w, 16 * h + k), B = q6_chunk(w, 16 * h + 8 + k), H = q6_chunk(w, 32 + 8 * h + k);
            const __m512i u0 = _mm512_ternarylogic_epi32(A, _mm512_slli_epi16(H, 4), m4, 0xe4); /* m4 ? A : H << 4 */
            const __m512i u1 = _mm512_ternarylogic_epi32(B, _mm512_slli_epi16(H, 2), m4, 0xe4);
            const __m512i u2 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(A, 4), H, m4, 0xe4);
            const __m512i u3 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(B, 4), _mm512_srli_epi16(H, 2), m4, 0xe4);
            /* quarter q's bits 4-5 come from qh bits 2q, 2q + 1; the select
             * leaves qh's next two bits above them, cleared by m6 */
            const int i = k / 4; /* sub-block 2q + i of the half */
            s[0 + i] = _mm512_dpbusd_epi32(s[0 + i], _mm512_and_si512(u0, m6), qz_bcast4(aq + 4 * k));
            s[2 + i] = _mm512_dpbusd_epi32(s[2 + i], _mm512_and_si512(u1, m6), qz_bcast4(aq + 32 + 4 * k));
            s[4 + i] = _mm512_dpbusd_epi32(s[4 + i], _mm512_and_si512(u2, m6), qz_bcast4(aq + 64 + 4 * k));
            s[6 + i] = _mm512_dpbusd_epi32(s[6 + i], _mm512_and_si512(u3, m6), qz_bcast4(aq + 96 + 4 * k));
        }
        for (int i = 0; i < 8; i++) isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s[i], q6_scale(w, 8 * h + i)));
    }
    return isum;
}

/* The integer sums of one Q6_K block for T tokens. */
static QLM_ALWAYS_INLINE void q6_isums(int T, const uint8_t *w, const qlm_block_q8_k *const *a, __m512i *isum) {
    if (T == 1) {
        isum[0] = q6_isum_one_token(w, a[0]);
        return;
    }
    for (int hq = 0; hq < 8; hq++) { /* 32 values 128h + 32q .. : sub-blocks j and j + 1 */
        const int h = hq / 4, q = hq % 4, j = 8 * h + 2 * q;
        __m512i u[8];
        for (int k = 0; k < 8; k++) u[k] = q6_quants(w, h, q, k);
        const __m512i sc0 = q6_scale(w, j), sc1 = q6_scale(w, j + 1);
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const int8_t *aq = a[t]->qs + 32 * hq;
            __m512i s0 = _mm512_set1_epi32(-32 * a[t]->bsums[j]);
            __m512i s1 = _mm512_set1_epi32(-32 * a[t]->bsums[j + 1]);
            for (int k = 0; k < 4; k++) {
                s0 = _mm512_dpbusd_epi32(s0, u[k], qz_bcast4(aq + 4 * k));
                s1 = _mm512_dpbusd_epi32(s1, u[k + 4], qz_bcast4(aq + 16 + 4 * k));
            }
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s0, sc0));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s1, sc1));
        }
    }
}

/* ------------------------------------------------------------- the kinds */

enum { KIND_Q4_K, KIND_Q5_K, KIND_Q6_K, KIND_IQ4_XS };

static inline size_t packed_block_bytes(int kind) {
    static const size_t bytes[] = {sizeof(qlm_block_q4_k), sizeof(qlm_block_q5_k), sizeof(qlm_block_q6_k),
                                   sizeof(qlm_block_iq4_xs)};
    return bytes[kind] * QLM_PACK_ROWS;
}

/* ---------------------------------------------------------- prompt panels
 * The tiles above decode each block's quants (nibbles, Q5_K's fifth bits,
 * Q6_K's top bits, IQ4_XS's lookup) and sub-block scales once per tile of 8
 * tokens. A prompt call (PANEL_MIN_TOKENS tokens or more) instead decodes a
 * slab of PANEL_BLOCKS blocks of its 16 rows once for all its tokens into
 * unsigned quant chunks (chunk c: values 4c .. 4c + 3, the tile's operands
 * as they are) and int32 scale vectors, then runs every token over the
 * slab. The integer sums are the tiles' (same quants, offsets and scales),
 * and each token's running float sum passes from slab to slab through y,
 * so the float steps are the tile's, in block order: the same bits. */
enum { PANEL_BLOCKS = 4, PANEL_MIN_TOKENS = 32 };

typedef struct k_panel {
    __m512i u[PANEL_BLOCKS][64];  /* unsigned quant chunks */
    __m512i sc[PANEL_BLOCKS][16]; /* sub-block scales (Q6_K: 16 of 16 values; others 8 of 32) */
    __m512i pw[PANEL_BLOCKS][8];  /* word pairs against the Q8_K sums' pairs (panel_bsum_term) */
    __m512 d[PANEL_BLOCKS], dmin[PANEL_BLOCKS];
} k_panel;

/* Word w (0, 1) of each lane of v, in both words of the lane. */
static inline __m512i word_twice(__m512i v, int w) {
    const __m512i x = _mm512_and_si512(w ? _mm512_srli_epi32(v, 16) : v, _mm512_set1_epi32(0xffff));
    return _mm512_or_si512(x, _mm512_slli_epi32(x, 16));
}

/* The term over the Q8_K sums, sum_i pw_i . (bsums[2i], bsums[2i + 1]):
 * vpdpwssd against each pair of sums broadcast from memory. With pw_i =
 * (m_i, m_i) it is Q4_K/Q5_K's msum = sum_i m_i (bsums[2i] + bsums[2i + 1]),
 * with pw_i = (sc_2i, sc_2i+1) Q6_K's sum_j sc_j bsums[j], whose -32 times
 * it is the sum of the tile's per-sub-block offsets, and with pw_i = (ls_i,
 * ls_i) IQ4_XS's, -128 times (exact integers: the tiles' isum). */
static QLM_ALWAYS_INLINE __m512i panel_bsum_term(const __m512i pw[8], const int16_t *bsums) {
    __m512i t[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    QLM_UNROLL_TILE
    for (int i = 0; i < 8; i++) t[i % 2] = _mm512_dpwssd_epi32(t[i % 2], pw[i], qz_bcast4(bsums + 2 * i));
    return _mm512_add_epi32(t[0], t[1]);
}

/* Block w of kind into slot b of p. */
static inline void panel_decode(int kind, const uint8_t *w, k_panel *p, int b) {
    __m512i *u = p->u[b], *sc = p->sc[b];
    p->d[b] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w));
    if (kind == KIND_Q4_K || kind == KIND_Q5_K) {
        k_block k;
        k_decode(w, &k);
        p->dmin[b] = k.dmin;
        const __m512i m[4] = {k.m02, k.m13, k.m46, k.m57}; /* (m0, m2), (m1, m3), (m4, m6), (m5, m7) */
        for (int i = 0; i < 8; i++) p->pw[b][i] = word_twice(m[(i / 4) * 2 + i % 2], (i % 4) / 2);
        for (int j = 0; j < 8; j++) {
            sc[j] = sub_scale(&k, j);
            for (int c = 0; c < 8; c++) u[8 * j + c] = sub_quants(w, kind == KIND_Q5_K, j, c);
        }
    } else if (kind == KIND_IQ4_XS) {
        const __m512i lut = _mm512_xor_si512(
            _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)qlm_kvalues_iq4nl)), _mm512_set1_epi8((char)0x80));
        const __m512i m4 = _mm512_set1_epi8(0x0f);
        const __m512i sh = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(w + 32)));
        const __m512i sl = chunk(w, 0);
        for (int ib = 0; ib < 8; ib++) {
            for (int k = 0; k < 4; k++) {
                const __m512i v = chunk(w, 1 + 4 * ib + k);
                u[8 * ib + k] = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m4));
                u[8 * ib + k + 4] = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
            }
            sc[ib] = xs_scale(sl, sh, ib);
            p->pw[b][ib] = word_twice(sc[ib], 0); /* (ls, ls): -32..31 */
        }
    } else { /* Q6_K */
        for (int hq = 0; hq < 8; hq++)
            for (int k = 0; k < 8; k++) u[8 * hq + k] = q6_quants(w, hq / 4, hq % 4, k);
        for (int j = 0; j < 16; j++) sc[j] = q6_scale(w, j);
        for (int i = 0; i < 8; i++) /* (sc_2i, sc_2i+1) as words: -128..127 */
            p->pw[b][i] = _mm512_mask_blend_epi16(0xaaaaaaaau, sc[2 * i], _mm512_slli_epi32(sc[2 * i + 1], 16));
    }
}

#endif
