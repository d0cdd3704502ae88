/* avx512_r16_kquants_low.c - AVX-512 VNNI kernels for R16-packed Q2_K,
 * Q3_K and TQ2_0 (pack.h): 16 rows x up to TILE tokens of Q8_K activations per tile.
 *
 * Both formats store 256 values a block as 16 sub-blocks of 16 with 2-bit
 * fields in qs: byte l (0..31) of half h holds value 128h + 32s + l in bits
 * 2s, 2s + 1. Packed, qs chunk k (0..15; h = k / 8) holds bytes 4k .. 4k + 3
 * of every row (row r in 32-bit lane r), so field s of chunk 8h + k is 4
 * values of sub-block 8h + 2s + k / 4 (k < 8), matching the 4 activation
 * bytes 128h + 32s + 4k .. broadcast to every lane: one vpdpbusd gives 16
 * rows' partial dots.
 *
 * Bit-identical to the row-major references (qlm_dot_block_q2_k / _q3_k):
 * per row and block the exact integer sums, then the reference's float
 * steps lane-wise in its order (the build has -ffp-contract=off: no FMA).
 * Sub-block dots (|dot| <= 16 * 7 * 128 < 2^15) are combined in pairs as
 * the two int16 words of a lane and multiplied by the pair's scales with
 * vpdpwssd; Q2_K's tiles instead multiply the 2-bit quants by their scale
 * bytewise once per block (q * sc <= 45) so every token's sum is one chain
 * of vpdpbusd. */
#include <immintrin.h>
#include <string.h>

#include "avx512_blocks.h"
#include "kernels.h"

#define TILE 8

/* Bytes p and p + 1 (p = 0 or 2) of each 32-bit lane as the lane's two
 * 16-bit words (zero-extended). */
static inline __m512i pair_words(__m512i v, int p) {
    const __m128i idx = p == 0 ? _mm_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1)
                               : _mm_setr_epi8(2, -1, 3, -1, 6, -1, 7, -1, 10, -1, 11, -1, 14, -1, 15, -1);
    return _mm512_shuffle_epi8(v, _mm512_broadcast_i32x4(idx));
}

/* int32 lanes lo, hi (each within int16 range) as the low and high words of
 * each lane: exact, for vpdpwssd against a pair of scales. */
static inline __m512i words2(__m512i lo, __m512i hi) {
    return _mm512_mask_blend_epi16(0xaaaaaaaau, lo, _mm512_slli_epi32(hi, 16));
}

/* Field s (0..3) of each byte of a qs chunk: 2-bit quants 0..3. */
static inline __m512i field2(__m512i v, int s) {
    return _mm512_and_si512(s ? _mm512_srli_epi32(v, 2 * s) : v, _mm512_set1_epi8(3));
}

/* -------------------------------------------------------------------- Q2_K
 * Packed block: d (16 x fp16), dmin (16 x fp16), chunks 0-3 the 16 scale
 * bytes (chunk c: sub-blocks 4c .. 4c + 3; scale in the low nibble, minimum
 * in the high one), chunks 4-19 qs. Per row: isum = sum_j sc_j dot_j
 * (quants 0..3 unsigned for vpdpbusd), msum = sum_j m_j bsums[j] (vpdpwssd
 * of the minimum pairs against the Q8_K bsum pairs), then d = d_x * d_y,
 * dm = dmin_x * d_y, t0 = d * isum, t1 = dm * msum, sum += t0 - t1. */

static inline __m512i q2_chunk(const uint8_t *blk, int c) { return _mm512_loadu_si512(blk + 64 + 64 * c); }

/* Sub-blocks 2i, 2i + 1's scale bytes (low nibble and high) as words. */
static inline __m512i q2_pair(const uint8_t *blk, int i) {
    return pair_words(q2_chunk(blk, i / 2), 2 * (i % 2));
}
static inline __m512i q2_scale_pair(const uint8_t *blk, int i) {
    return _mm512_and_si512(q2_pair(blk, i), _mm512_set1_epi16(0x0f));
}
static inline __m512i q2_min_pair(const uint8_t *blk, int i) { return _mm512_srli_epi16(q2_pair(blk, i), 4); }

/* Sub-block j's scale (0..15) in both words of each lane: multiplying the
 * words of a quant vector by it (vpmullw) multiplies each byte (<= 45). */
static inline __m512i q2_scale_words(const uint8_t *blk, int j) {
    const char e = (char)(j % 4);
    const __m128i idx =
        _mm_setr_epi8(e, -1, e, -1, e + 4, -1, e + 4, -1, e + 8, -1, e + 8, -1, e + 12, -1, e + 12, -1);
    return _mm512_and_si512(_mm512_shuffle_epi8(q2_chunk(blk, j / 4), _mm512_broadcast_i32x4(idx)),
                            _mm512_set1_epi16(0x0f));
}

/* msum of one token for the 16 rows. */
static QLM_ALWAYS_INLINE __m512i q2_msum(const uint8_t *w, const int16_t *bsums) {
    __m512i m[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    QLM_UNROLL_TILE
    for (int i = 0; i < 8; i++)
        m[i % 2] = _mm512_dpwssd_epi32(m[i % 2], q2_min_pair(w, i), qz_bcast4(bsums + 2 * i));
    return _mm512_add_epi32(m[0], m[1]);
}

/* isum of a single token (decode): each qs chunk feeds its four fields'
 * sub-blocks, eight accumulators per half (chains of four vpdpbusd), the
 * sub-block sums then scaled pairwise by vpdpwssd. */
static QLM_ALWAYS_INLINE __m512i q2_isum_one_token(const uint8_t *w, const int8_t *aq) {
    __m512i isum[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    QLM_UNROLL_TILE
    for (int h = 0; h < 2; h++) {
        __m512i s[8]; /* s[2 f + k / 4]: sub-block 8h + 2f + k / 4 */
        QLM_UNROLL_TILE
        for (int i = 0; i < 8; i++)
            s[i] = _mm512_setzero_si512();
        QLM_UNROLL_TILE
        for (int k = 0; k < 8; k++) {
            const __m512i v = q2_chunk(w, 4 + 8 * h + k);
            QLM_UNROLL_TILE
            for (int f = 0; f < 4; f++)
                s[2 * f + k / 4] = _mm512_dpbusd_epi32(s[2 * f + k / 4], field2(v, f),
                                                       qz_bcast4(aq + 128 * h + 32 * f + 4 * k));
        }
        QLM_UNROLL_TILE
        for (int f = 0; f < 4; f++)
            isum[f % 2] =
                _mm512_dpwssd_epi32(isum[f % 2], words2(s[2 * f], s[2 * f + 1]), q2_scale_pair(w, 4 * h + f));
    }
    return _mm512_add_epi32(isum[0], isum[1]);
}

/* The integer sums isum of one block for T tokens; the tile's loop scales
 * the quants once per block, then each token sums 64 vpdpbusd. */
static QLM_ALWAYS_INLINE void q2_isums(int T, const uint8_t *w, const qlm_block_q8_k *const *a,
                                       __m512i *isum) {
    if (T == 1) {
        isum[0] = q2_isum_one_token(w, a[0]->qs);
        return;
    }
    for (int hf = 0; hf < 8; hf++) { /* field f = hf % 4 of half h = hf / 4: values 32 hf .. + 31 */
        const int h = hf / 4, f = hf % 4;
        const __m512i sc0 = q2_scale_words(w, 2 * hf), sc1 = q2_scale_words(w, 2 * hf + 1);
        __m512i u[8];
        QLM_UNROLL_TILE
        for (int k = 0; k < 8; k++)
            u[k] = _mm512_mullo_epi16(field2(q2_chunk(w, 4 + 8 * h + k), f), k < 4 ? sc0 : sc1);
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const int8_t *aq = a[t]->qs + 32 * hf;
            QLM_UNROLL_TILE
            for (int k = 0; k < 8; k++)
                isum[t] = _mm512_dpbusd_epi32(isum[t], u[k], qz_bcast4(aq + 4 * k));
        }
    }
}

/* -------------------------------------------------------------------- Q3_K
 * Packed block: d (16 x fp16), chunks 0-7 hmask (chunk k: hmask[4k .. 4k +
 * 3], whose bit 4h + s is the third bit of the value in field s of qs chunk
 * 8h + k), chunks 8-23 qs, chunks 24-26 the 12 scale bytes. Quants u = q +
 * 4 (0..7) are unsigned for vpdpbusd; the -4 comes back through the Q8_K
 * bsums: isum = sum_j sc_j (sum u a - 4 bsums[j]) = sum_j sc_j dot_j - 4
 * sum_j sc_j bsums[j] (exact), then d = d_x * d_y, t = d * isum, sum += t,
 * lane-wise as the reference. */

static inline __m512i q3_chunk(const uint8_t *blk, int c) { return _mm512_loadu_si512(blk + 32 + 64 * c); }

/* u of field s of qs chunk v, its third bit bit p = 4h + s of hmask chunk
 * hm moved to bit 2 (shifts within a 32-bit lane: bit 2 of each byte comes
 * from the same byte for these counts). */
static QLM_ALWAYS_INLINE __m512i q3_quants(__m512i v, __m512i hm, int s, int p) {
    const __m512i hb = p < 2 ? _mm512_slli_epi32(hm, 2 - p) : p > 2 ? _mm512_srli_epi32(hm, p - 2) : hm;
    return _mm512_ternarylogic_epi32(field2(v, s), hb, _mm512_set1_epi8(4), 0xf8); /* lo | (hb & 4) */
}

/* The 6-bit scales (unsigned, before the -32) of sub-blocks 4g .. 4g + 3,
 * one byte each per lane: the low 4 bits from scale bytes 4 (g % 2) .. (low
 * nibbles for g < 2, high for g >= 2), the high 2 bits at bits 2g of bytes
 * 8 .. 11 (qlm_q3_k_scale's unpacking, lane-wise). */
static inline __m512i q3_scale_bytes(const uint8_t *blk, int g) {
    const __m512i l = q3_chunk(blk, 24 + g % 2), h = q3_chunk(blk, 26);
    const __m512i lo = _mm512_and_si512(g < 2 ? l : _mm512_srli_epi32(l, 4), _mm512_set1_epi8(0x0f));
    const __m512i hi = g < 2 ? _mm512_slli_epi32(h, 4 - 2 * g) : g == 2 ? h : _mm512_srli_epi32(h, 2);
    return _mm512_ternarylogic_epi32(lo, hi, _mm512_set1_epi8(0x30), 0xf8); /* lo | (hi & 0x30) */
}

/* Sub-blocks 2i, 2i + 1's signed scales (-32..31) as the words of a lane. */
static inline __m512i q3_scale_pair(const uint8_t *blk, int i) {
    return _mm512_sub_epi16(pair_words(q3_scale_bytes(blk, i / 2), 2 * (i % 2)), _mm512_set1_epi16(32));
}

/* isum of a single token (decode), as q2_isum_one_token; the bsum term
 * sum_j sc_j bsums[j] in a chain of its own. */
static QLM_ALWAYS_INLINE __m512i q3_isum_one_token(const uint8_t *w, const qlm_block_q8_k *a) {
    __m512i isum[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()}, corr = _mm512_setzero_si512();
    QLM_UNROLL_TILE
    for (int h = 0; h < 2; h++) {
        __m512i s[8]; /* s[2 f + k / 4]: sub-block 8h + 2f + k / 4 */
        QLM_UNROLL_TILE
        for (int i = 0; i < 8; i++)
            s[i] = _mm512_setzero_si512();
        const int8_t *aq = a->qs + 128 * h;
        QLM_UNROLL_TILE
        for (int k = 0; k < 8; k++) {
            const __m512i v = q3_chunk(w, 8 + 8 * h + k), hm = q3_chunk(w, k);
            QLM_UNROLL_TILE
            for (int f = 0; f < 4; f++)
                s[2 * f + k / 4] = _mm512_dpbusd_epi32(s[2 * f + k / 4], q3_quants(v, hm, f, 4 * h + f),
                                                       qz_bcast4(aq + 32 * f + 4 * k));
        }
        QLM_UNROLL_TILE
        for (int f = 0; f < 4; f++) {
            const __m512i sc = q3_scale_pair(w, 4 * h + f);
            isum[f % 2] = _mm512_dpwssd_epi32(isum[f % 2], words2(s[2 * f], s[2 * f + 1]), sc);
            corr = _mm512_dpwssd_epi32(corr, qz_bcast4(a->bsums + 8 * h + 2 * f), sc);
        }
    }
    return _mm512_sub_epi32(_mm512_add_epi32(isum[0], isum[1]), _mm512_slli_epi32(corr, 2));
}

/* The integer sums isum of one block for T tokens. */
static QLM_ALWAYS_INLINE void q3_isums(int T, const uint8_t *w, const qlm_block_q8_k *const *a,
                                       __m512i *isum) {
    if (T == 1) {
        isum[0] = q3_isum_one_token(w, a[0]);
        return;
    }
    for (int hf = 0; hf < 8; hf++) { /* field f = hf % 4 of half h = hf / 4: sub-blocks 2hf, 2hf + 1 */
        const int h = hf / 4, f = hf % 4;
        __m512i u[8];
        QLM_UNROLL_TILE
        for (int k = 0; k < 8; k++)
            u[k] = q3_quants(q3_chunk(w, 8 + 8 * h + k), q3_chunk(w, k), f, hf);
        const __m512i sc = q3_scale_pair(w, hf);
        const __m512i sc4 = _mm512_sub_epi16(_mm512_setzero_si512(), _mm512_slli_epi16(sc, 2)); /* -4 sc */
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const int8_t *aq = a[t]->qs + 32 * hf;
            __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
            QLM_UNROLL_TILE
            for (int k = 0; k < 4; k++) {
                s0 = _mm512_dpbusd_epi32(s0, u[k], qz_bcast4(aq + 4 * k));
                s1 = _mm512_dpbusd_epi32(s1, u[k + 4], qz_bcast4(aq + 16 + 4 * k));
            }
            isum[t] = _mm512_dpwssd_epi32(isum[t], words2(s0, s1), sc);
            isum[t] = _mm512_dpwssd_epi32(isum[t], qz_bcast4(a[t]->bsums + 2 * hf), sc4);
        }
    }
}

/* ------------------------------------------------------------------- TQ2_0
 * Packed block: d (16 x fp16), then chunks 0-15 qs, laid out as Q2_K's:
 * field s of chunk 8h + k holds values 128h + 32s + 4k .. + 3. The fields
 * (0..3, the trit plus one; 3, which no quantizer writes, counts as 2 as in
 * the reference) are unsigned for vpdpbusd, and the +1 comes back through
 * the Q8_K sums: isum = sum u a - sum a (exact). No sub-block scales: every
 * token's sum is plain vpdpbusd chains (four for one token, two each for a
 * tile of tokens, to cover the instruction's latency). Then d = d_x * d_y,
 * t = d * isum, sum += t lane-wise, as the reference. */

static inline int32_t bsum_total(const int16_t *bsums) {
    int32_t s = 0;
    for (int j = 0; j < 16; j++) s += bsums[j];
    return s;
}

static QLM_ALWAYS_INLINE void tq2_isums(int T, const uint8_t *w, const qlm_block_q8_k *const *a, __m512i *isum) {
    const int nc = T == 1 ? 4 : 2; /* chains per token */
    __m512i ch[4][TILE];
    QLM_UNROLL_TILE
    for (int t = 0; t < T; t++) {
        ch[0][t] = _mm512_set1_epi32(-bsum_total(a[t]->bsums));
        ch[1][t] = ch[2][t] = ch[3][t] = _mm512_setzero_si512();
    }
    for (int k = 0; k < 16; k++) {
        const __m512i v = q3_chunk(w, k);
        const __m512i u[4] = {field2(v, 0), field2(v, 1), field2(v, 2), field2(v, 3)};
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const int8_t *aq = a[t]->qs + 128 * (k / 8) + 4 * (k % 8);
            for (int f = 0; f < 4; f++)
                ch[f % nc][t] = _mm512_dpbusd_epi32(ch[f % nc][t], u[f], qz_bcast4(aq + 32 * f));
        }
    }
    QLM_UNROLL_TILE
    for (int t = 0; t < T; t++) {
        __m512i s = _mm512_add_epi32(ch[0][t], ch[1][t]);
        if (nc == 4) s = _mm512_add_epi32(s, _mm512_add_epi32(ch[2][t], ch[3][t]));
        isum[t] = s;
    }
}

/* ------------------------------------------------------------- the tiles */

enum { KIND_Q2_K, KIND_Q3_K, KIND_TQ2_0 };

static size_t packed_block_bytes(int kind) {
    static const size_t bytes[] = {sizeof(qlm_block_q2_k), sizeof(qlm_block_q3_k), sizeof(qlm_block_tq2_0)};
    return bytes[kind] * QLM_PACK_ROWS;
}

/* 16 rows x T tokens (a constant at each call): per block, every token's
 * exact integer sums, then the reference's float steps lane-wise, in block
 * order (Q3_K's and TQ2_0's are the same). Each format's first header field
 * is d, 16 x fp16. */
static QLM_ALWAYS_INLINE void tile(int kind, int T, const uint8_t *w, int64_t nb, const char *act,
                                   size_t act_stride, float *y, int64_t ldy) {
    const int q2 = kind == KIND_Q2_K;
    const size_t block = packed_block_bytes(kind);
    __m512 acc[TILE];
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++, w += block) {
        if (T == 1) qlm_prefetch_ahead(w, block); /* see QLM_PREFETCH_BYTES */
        const qlm_block_q8_k *a[TILE];
        __m512i isum[TILE];
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            a[t] = (const qlm_block_q8_k *)(act + t * act_stride) + b;
            isum[t] = _mm512_setzero_si512();
        }
        if (q2)
            q2_isums(T, w, a, isum);
        else if (kind == KIND_Q3_K)
            q3_isums(T, w, a, isum);
        else
            tq2_isums(T, w, a, isum);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w));
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const __m512 yd = _mm512_set1_ps(a[t]->d);
            const __m512 t0 = _mm512_mul_ps(_mm512_mul_ps(dw, yd), _mm512_cvtepi32_ps(isum[t]));
            if (q2) { /* sum += t0 - t1 */
                const __m512 dm =
                    _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + 32))), yd);
                const __m512 t1 = _mm512_mul_ps(dm, _mm512_cvtepi32_ps(q2_msum(w, a[t]->bsums)));
                acc[t] = _mm512_add_ps(acc[t], _mm512_sub_ps(t0, t1));
            } else {
                acc[t] = _mm512_add_ps(acc[t], t0);
            }
        }
    }
    for (int t = 0; t < T; t++)
        _mm512_storeu_ps(y + t * ldy, acc[t]);
}

/* ------------------------------------------------------ Q3_K prompt panels
 * Q3_K's quant q (-4..3) times its sub-block's scale sc (-32..31) lies in
 * -124..128, so u = q sc + 124 (0..252) is one unsigned byte: with the
 * scales folded into the quants, a token's isum is plain vpdpbusd chains,
 * sum_j sc_j sum q a = sum u a - 124 sum a (exact: |sum u a| <= 256 * 252 *
 * 128), with no per-sub-block multiply and no third-bit decode. Folding
 * costs about as much as decoding, so it is done for prompts: once per
 * call for all its tokens, a slab of PANEL_BLOCKS blocks at a time (32 KiB,
 * in L1 with the tokens' activations), instead of once per tile of 8
 * tokens. Each token's running sum passes from slab to slab through y, so
 * the float steps are the tile's, in block order: the same bits. */
enum { PANEL_BLOCKS = 8, PANEL_MIN_TOKENS = 32 };

typedef struct q3_panel {
    __m512i u[PANEL_BLOCKS][64]; /* chunk c of block b: values 4c .. 4c + 3 of the 16 rows */
    __m512 d[PANEL_BLOCKS];      /* the rows' d */
} q3_panel;

/* Sub-block j's signed scale (-32..31) in every byte of each lane. */
static inline __m512i q3_scale_bytes_of(const uint8_t *blk, int j) {
    const char e = (char)(j % 4);
    const __m128i idx = _mm_setr_epi8(e, e, e, e, e + 4, e + 4, e + 4, e + 4, e + 8, e + 8, e + 8, e + 8,
                                      e + 12, e + 12, e + 12, e + 12);
    const __m512i s = _mm512_shuffle_epi8(q3_scale_bytes(blk, j / 4), _mm512_broadcast_i32x4(idx));
    return _mm512_sub_epi8(s, _mm512_set1_epi8(32));
}

/* (u - 4) sc + 124 bytewise for u = q + 4 (0..7): 124 - 4 sc, plus sc, 2 sc
 * and 4 sc where u has bit 0, 1, 2. Wrapping byte arithmetic is exact
 * here: the result is in 0..252. */
static inline __m512i q3_fold(__m512i u, __m512i sc) {
    const __m512i sc2 = _mm512_add_epi8(sc, sc), sc4 = _mm512_add_epi8(sc2, sc2);
    __m512i r = _mm512_sub_epi8(_mm512_set1_epi8(124), sc4);
    r = _mm512_mask_add_epi8(r, _mm512_test_epi8_mask(u, _mm512_set1_epi8(1)), r, sc);
    r = _mm512_mask_add_epi8(r, _mm512_test_epi8_mask(u, _mm512_set1_epi8(2)), r, sc2);
    return _mm512_mask_add_epi8(r, _mm512_test_epi8_mask(u, _mm512_set1_epi8(4)), r, sc4);
}

/* Block w's 64 chunks of folded quants, in value order (chunk c: values
 * 4c .. 4c + 3, against activation bytes 4c ..). */
static void q3_panel_block(const uint8_t *w, __m512i *u) {
    for (int hf = 0; hf < 8; hf++) {
        const int h = hf / 4, f = hf % 4;
        const __m512i sc0 = q3_scale_bytes_of(w, 2 * hf), sc1 = q3_scale_bytes_of(w, 2 * hf + 1);
        for (int k = 0; k < 8; k++)
            u[8 * hf + k] = q3_fold(q3_quants(q3_chunk(w, 8 + 8 * h + k), q3_chunk(w, k), f, hf), k < 4 ? sc0 : sc1);
    }
}

/* 16 rows x T tokens over blocks [0, nb) of the panel p, whose first block
 * is block b0 of the row: each token's sum continues from y unless b0 = 0.
 * One chain a token: two (the block's halves, or two blocks) measured 20%
 * slower with GCC 12, which spills the extra accumulators. */
static QLM_ALWAYS_INLINE void panel_tile(int64_t b0, int T, const q3_panel *p, int64_t nb, const char *act,
                                         size_t act_stride, float *y, int64_t ldy) {
    __m512 acc[TILE];
    QLM_UNROLL_TILE
    for (int t = 0; t < T; t++)
        acc[t] = b0 ? _mm512_loadu_ps(y + t * ldy) : _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const qlm_block_q8_k *a[TILE];
        __m512i ch[TILE];
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            a[t] = (const qlm_block_q8_k *)(act + t * act_stride) + b0 + b;
            ch[t] = _mm512_set1_epi32(-124 * bsum_total(a[t]->bsums));
        }
        QLM_UNROLL_TILE
        for (int c = 0; c < 64; c++) {
            const __m512i u = p->u[b][c];
            QLM_UNROLL_TILE
            for (int t = 0; t < T; t++)
                ch[t] = _mm512_dpbusd_epi32(ch[t], u, qz_bcast4(a[t]->qs + 4 * c));
        }
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const __m512 yd = _mm512_set1_ps(a[t]->d);
            const __m512i isum = ch[t];
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(p->d[b], yd), _mm512_cvtepi32_ps(isum)));
        }
    }
    for (int t = 0; t < T; t++)
        _mm512_storeu_ps(y + t * ldy, acc[t]);
}

static void q3_panel_gemm(const uint8_t *w, int64_t nb, const char *act, size_t act_stride, int64_t n_tok,
                          float *y, int64_t ldy) {
    const size_t block = packed_block_bytes(KIND_Q3_K);
    q3_panel p;
    for (int64_t b0 = 0; b0 < nb; b0 += PANEL_BLOCKS) {
        const int64_t n = nb - b0 < PANEL_BLOCKS ? nb - b0 : PANEL_BLOCKS;
        for (int64_t b = 0; b < n; b++) {
            const uint8_t *blk = w + (size_t)(b0 + b) * block;
            q3_panel_block(blk, p.u[b]);
            p.d[b] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
        }
        QLM_R16_TOKEN_TILES(panel_tile, b0, &p, n, act, act_stride, n_tok, y, ldy);
    }
}

/* All tokens, 8 at a time (QLM_R16_TOKEN_TILES); Q3_K prompts by panels. */
static QLM_ALWAYS_INLINE void gemm(int kind, const void *w, int64_t nb, const void *act, size_t act_stride,
                                   int64_t n_tok, float *y, int64_t ldy) {
    if (kind == KIND_Q3_K && n_tok >= PANEL_MIN_TOKENS) {
        q3_panel_gemm(w, nb, act, act_stride, n_tok, y, ldy);
        return;
    }
    QLM_R16_TOKEN_TILES(tile, kind, w, nb, act, act_stride, n_tok, y, ldy);
}

QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q2_k_avx512, gemm, KIND_Q2_K)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q3_k_avx512, gemm, KIND_Q3_K)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_tq2_0_avx512, gemm, KIND_TQ2_0)
