/* avx2_kquants_low.c - AVX2 dot products of Q2_K, Q3_K, IQ4_XS, TQ1_0 and
 * TQ2_0 weights with Q8_K activations, bit-identical with the references in
 * engine/quant_ref_kquants_low.c: each block's integer sums are exact in any
 * order, and the float operations per block are the reference's, in its
 * order, accumulated block by block into one float per row.
 *
 * Integer products use vpmaddubsw (unsigned weight byte x signed activation
 * byte, adjacent pairs summed to int16) and vpmaddwd against int16
 * sub-block scales (pairs summed to int32). No pair saturates int16: Q2_K
 * weights are 0..3 (2 x 3 x 127), Q3_K's are fed as q + 4 = 0..7 (the -4
 * comes back through the bsums), IQ4_XS grid values |v| <= 127 go in as
 * |v| with the sign moved onto the activation (2 x 127 x 127 = 32258),
 * ternary quants as t + 1 = 0..2 (see below). */
#include <immintrin.h>
#include <string.h>

#include "avx2_blocks.h"
#include "kernels.h"
#include "kquants_scales.h"

/* The constant loops over a block's parts run fully unrolled (shift counts,
 * lane selections and scale shuffles become immediates; GCC's -O2, which
 * the NEON files get, would keep them rolled). */
#define UNROLL _Pragma("GCC unroll 8")

static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* Of 16 int16 scales (sub-blocks 0..15), the 8 of half h (sub-blocks 8h..8h
 * + 7, the 128 values 128h..) in both 128-bit lanes. */
static inline __m256i half_scales(__m256i sc16, int h) {
    return h ? _mm256_permute2x128_si256(sc16, sc16, 0x11) : _mm256_permute2x128_si256(sc16, sc16, 0x00);
}

/* From half_scales' 8 int16, scale 2s in every word of the low lane and
 * scale 2s + 1 in the high lane: the two 16-value sub-blocks of the 32
 * values 128h + 32s.. (a maddubs result's low lane holds values 0..15). */
static inline __m256i pair_scales(__m256i half, int s) {
    const __m128i lo = _mm_set1_epi16((short)((4 * s) | ((4 * s + 1) << 8)));
    const __m128i hi = _mm_set1_epi16((short)((4 * s + 2) | ((4 * s + 3) << 8)));
    return _mm256_shuffle_epi8(half, _mm256_set_m128i(hi, lo));
}

/* The 2-bit field s (bits 2s, 2s + 1) of 32 bytes: values 128h + 32s + l. */
static inline __m256i two_bits(__m256i q, int s) {
    return _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), _mm256_set1_epi8(3));
}

static inline __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* ==================================================================== Q2_K */

/* isum = sum_j (sc_j & 15) sum(q a), msum = sum_j (sc_j >> 4) bsums_j. */
static QLM_ALWAYS_INLINE float q2_k_term(const qlm_block_q2_k *x, const qlm_block_q8_k *y) {
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales), m4 = _mm_set1_epi8(0x0f);
    const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, m4));
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), m4));
    const int msum = hsum_epi32(_mm256_madd_epi16(mn16, load256(y->bsums)));
    __m256i acc = _mm256_setzero_si256();
    UNROLL
    for (int h = 0; h < 2; h++) {
        const __m256i q = load256(x->qs + 32 * h), half = half_scales(sc16, h);
        UNROLL
        for (int s = 0; s < 4; s++) {
            const __m256i p = _mm256_maddubs_epi16(two_bits(q, s), load256(y->qs + 128 * h + 32 * s));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, pair_scales(half, s)));
        }
    }
    const int isum = hsum_epi32(acc);
    const float d = _cvtsh_ss(x->d) * y->d;
    const float dm = _cvtsh_ss(x->dmin) * y->d;
    const float t0 = d * (float)isum;
    const float t1 = dm * (float)msum;
    return t0 - t1;
}

/* ==================================================================== Q3_K */

/* 4 in each byte whose hmask bit k (0..7) is set: the bit shifted to bit 2
 * within its byte. 16-bit shifts by at most 5 right or 2 left move no bit
 * that the mask keeps across a byte boundary: two operations where a
 * broadcast bit, an and, a compare and an and took four. */
static inline __m256i hmask_four(__m256i hm, int k) {
    const __m256i b = k >= 2 ? _mm256_srli_epi16(hm, k - 2) : _mm256_slli_epi16(hm, 2 - k);
    return _mm256_and_si256(b, _mm256_set1_epi8(4));
}

/* isum = sum_j sc_j sum((u - 4) a) = sum_j sc_j sum(u a) - 4 sum_j sc_j
 * bsums_j, u = q + 4 = the two low bits plus 4 x the hmask bit. */
static QLM_ALWAYS_INLINE float q3_k_term(const qlm_block_q3_k *x, const qlm_block_q8_k *y) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(qlm_q3_k_scales_avx2(x->scales));
    __m256i acc = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(y->bsums)), 2);
    acc = _mm256_sub_epi32(_mm256_setzero_si256(), acc);
    const __m256i hm = load256(x->hmask);
    UNROLL
    for (int h = 0; h < 2; h++) {
        const __m256i q = load256(x->qs + 32 * h), half = half_scales(sc16, h);
        UNROLL
        for (int s = 0; s < 4; s++) {
            const __m256i u = _mm256_or_si256(two_bits(q, s), hmask_four(hm, 4 * h + s));
            const __m256i p = _mm256_maddubs_epi16(u, load256(y->qs + 128 * h + 32 * s));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, pair_scales(half, s)));
        }
    }
    const int isum = hsum_epi32(acc);
    const float d = _cvtsh_ss(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* ================================================================== IQ4_XS */

/* ggml's kvalues_iq4nl in both lanes, for vpshufb. */
static inline __m256i iq4_table(void) {
    const __m128i t = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    return _mm256_broadcastsi128_si256(t);
}

/* Sub-block scales ls - 32 of an IQ4_XS block. */
static inline void iq4_xs_scales(const qlm_block_iq4_xs *x, int ls[8]) {
    UNROLL
    for (int ib = 0; ib < 8; ib++)
        ls[ib] =
            (((x->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x->scales_h >> (2 * ib)) & 3) << 4)) - 32;
}

/* isum = sum_ib ls_ib sum(v a); two sub-blocks a step: their 32 bytes of
 * qs give low nibbles (values 0-15 of each) and high nibbles (16-31), which
 * the lane permutes put in value order, one sub-block per register. */
static QLM_ALWAYS_INLINE float iq4_xs_term(const qlm_block_iq4_xs *x, const qlm_block_q8_k *y) {
    int ls[8];
    iq4_xs_scales(x, ls);
    const __m256i table = iq4_table(), m4 = _mm256_set1_epi8(0x0f);
    __m256i acc = _mm256_setzero_si256();
    UNROLL
    for (int ib = 0; ib < 8; ib += 2) {
        const __m256i q = load256(x->qs + 16 * ib);
        const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        UNROLL
        for (int t = 0; t < 2; t++) {
            const __m256i idx =
                t ? _mm256_permute2x128_si256(lo, hi, 0x31) : _mm256_permute2x128_si256(lo, hi, 0x20);
            const __m256i v = _mm256_shuffle_epi8(table, idx);
            const __m256i a = load256(y->qs + 32 * (ib + t));
            const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(a, v));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16((short)ls[ib + t])));
        }
    }
    const int isum = hsum_epi32(acc);
    const float d = _cvtsh_ss(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* ================================================================= ternary */

/* Ternary quants go in as t + 1 = 0..2 (unsigned for vpmaddubsw; pairs at
 * most 2 x 2 x 127, and 8 such steps summed in int16 stay below 4100), the
 * -1 comes back as - sum(a) = - sum(bsums). */
static inline int q8_k_sum(const qlm_block_q8_k *y) {
    return hsum_epi32(_mm256_madd_epi16(load256(y->bsums), _mm256_set1_epi16(1)));
}

static inline int hsum_epi16(__m256i v) { return hsum_epi32(_mm256_madd_epi16(v, _mm256_set1_epi16(1))); }

static QLM_ALWAYS_INLINE float tq2_0_term(const qlm_block_tq2_0 *x, const qlm_block_q8_k *y) {
    __m256i acc = _mm256_setzero_si256();
    UNROLL
    for (int h = 0; h < 2; h++) {
        const __m256i q = load256(x->qs + 32 * h);
        UNROLL
        for (int s = 0; s < 4; s++)
            acc = _mm256_add_epi16(acc,
                                   _mm256_maddubs_epi16(two_bits(q, s), load256(y->qs + 128 * h + 32 * s)));
    }
    const int isum = hsum_epi16(acc) - q8_k_sum(y);
    const float d = _cvtsh_ss(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* TQ1_0's trit n of byte b is ((b * 3^n mod 256) * 3) >> 8 (0..2). On 16-bit
 * words holding two bytes, with each word's multiplier 3^n in p: the low
 * byte's b * p mod 256 is the low byte of the word product; the high byte's
 * is the high byte of (word & 0xff00) * p. Then (q * 3) >> 8 is the high
 * half of q * 768 (low byte) or of (q << 8) * 3 (high byte, shifted back). */
static inline __m256i trits(__m256i b, __m256i p) {
    const __m256i lo_mask = _mm256_set1_epi16(0x00ff);
    const __m256i ql = _mm256_and_si256(_mm256_mullo_epi16(b, p), lo_mask);
    const __m256i qh = _mm256_mullo_epi16(_mm256_andnot_si256(lo_mask, b), p);
    const __m256i tl = _mm256_mulhi_epu16(ql, _mm256_set1_epi16(768));
    const __m256i th = _mm256_slli_epi16(_mm256_mulhi_epu16(qh, _mm256_set1_epi16(3)), 8);
    return _mm256_or_si256(tl, th);
}

/* Values 0..159: trit n of qs[0..31] (32n + m); 160..223: trits 0-1, 2-3
 * of qs[32..47] in the two lanes (160 + 16n + m); 224..255: trit 4 of
 * qs[32..47] and the four trits of qh[0..3] (240 + 4n + j, byte j repeated
 * per group of 4). */
static QLM_ALWAYS_INLINE float tq1_0_term(const qlm_block_tq1_0 *x, const qlm_block_q8_k *y) {
    const __m256i b0 = load256(x->qs);
    const __m256i b1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x->qs + 32)));
    uint32_t qh;
    memcpy(&qh, x->qh, 4);
    const __m256i b2 = _mm256_inserti128_si256(b1, _mm_set1_epi32((int)qh), 1);
    __m256i acc = _mm256_setzero_si256();
    static const short pow3[5] = {1, 3, 9, 27, 81};
    UNROLL
    for (int n = 0; n < 5; n++)
        acc = _mm256_add_epi16(
            acc, _mm256_maddubs_epi16(trits(b0, _mm256_set1_epi16(pow3[n])), load256(y->qs + 32 * n)));
    UNROLL
    for (int n = 0; n < 4; n += 2) {
        const __m256i p = _mm256_set_m128i(_mm_set1_epi16(pow3[n + 1]), _mm_set1_epi16(pow3[n]));
        acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(trits(b1, p), load256(y->qs + 160 + 16 * n)));
    }
    const __m256i p2 = _mm256_set_m128i(_mm_setr_epi16(1, 1, 3, 3, 9, 9, 27, 27), _mm_set1_epi16(81));
    acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(trits(b2, p2), load256(y->qs + 224)));
    const int isum = hsum_epi16(acc) - q8_k_sum(y);
    const float d = _cvtsh_ss(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* ============================================================ entry points */

/* One row: blocks in order into one float, as the reference. There is no
 * 4-row variant: sharing the activation loads gains nothing measurable here
 * (the block work is integer-bound), and when the weights come from memory,
 * four interleaved rows of a few KB each are four short streams that the
 * prefetchers follow worse than one row after another: measured 2-4x
 * slower per block than this row kernel (a single thread, 4096 x 16384). */
#define KQ_LOW_DOTS(NAME, BLOCK, TERM)                                                                       \
    void qlm_dot_##NAME##_avx2(int64_t n, float *s, const void *vx, const void *vy) {                        \
        const BLOCK *x = vx;                                                                                 \
        const qlm_block_q8_k *y = vy;                                                                        \
        float sum = 0.0f;                                                                                    \
        for (int64_t i = 0; i < n / QLM_QK_K; i++)                                                           \
            sum += TERM(&x[i], &y[i]);                                                                       \
        *s = sum;                                                                                            \
    }

KQ_LOW_DOTS(q2_k_q8_k, qlm_block_q2_k, q2_k_term)
KQ_LOW_DOTS(q3_k_q8_k, qlm_block_q3_k, q3_k_term)
KQ_LOW_DOTS(iq4_xs_q8_k, qlm_block_iq4_xs, iq4_xs_term)
KQ_LOW_DOTS(tq1_0_q8_k, qlm_block_tq1_0, tq1_0_term)
KQ_LOW_DOTS(tq2_0_q8_k, qlm_block_tq2_0, tq2_0_term)
