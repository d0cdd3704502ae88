/* avx512_kquants_low.c - AVX-512 (F/BW/VL/VNNI) dot products of Q2_K, Q3_K,
 * IQ4_XS, TQ1_0 and TQ2_0 weights with Q8_K activations, bit-identical with the
 * references in engine/quant_ref_kquants_low.c: the integer block sums are
 * exact in any order, the float operations per block are the reference's.
 *
 * 64 values a step. Q2_K and Q3_K: vpmaddubsw (unsigned 0..3 or, for Q3_K,
 * q + 4 = 0..7, times signed activations: pairs far from int16 saturation)
 * then VNNI vpdpwssd against the int16 sub-block scales (8 words per
 * 16-value sub-block); Q3_K's -4 comes back through the bsums. IQ4_XS: the
 * grid value plus 128 (1..241, unsigned) by vpshufb, VNNI vpdpbusd with the
 * activations (int32 lanes of 4 products, 8 lanes per 32-value sub-block),
 * the lanes folded so one vpmulld applies the 8 sub-block scales, and
 * 128 sum(a) taken back out through the bsums. Ternary: t + 1 = 0..2 by
 * vpdpbusd, - sum(a) through the bsums. */
#include <immintrin.h>
#include <string.h>

#include "avx2_blocks.h"
#include "kernels.h"
#include "kquants_scales.h"

/* The constant loops over a block's parts run fully unrolled (shift counts,
 * lane selections and scale shuffles become immediates; GCC's -O2, which
 * the NEON files get, would keep them rolled). */
#define UNROLL _Pragma("GCC unroll 8")

static inline __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline __m512i load512(const void *p) { return _mm512_loadu_si512(p); }

static inline int hsum256_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* Word k of the result = int16 scale b + k / 8 of sc16 (k = 0..31): the
 * scales of the four 16-value sub-blocks b..b + 3 in one step's order. */
static inline __m512i quad_scales(__m256i sc16, int b) {
    static const uint16_t group[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                       2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    const __m512i idx = _mm512_add_epi16(_mm512_loadu_si512(group), _mm512_set1_epi16((short)b));
    return _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(sc16));
}

/* The 2-bit fields s and s + 1 of 32 qs bytes (values 128h + 32s + l and
 * 128h + 32(s + 1) + l, l = 0..31): 64 bytes in value order. */
static inline __m512i two_bits_pair(__m256i q, int s) {
    const __m512i qq = _mm512_broadcast_i64x4(q);
    const __m512i shift =
        _mm512_inserti64x4(_mm512_set1_epi16((short)(2 * s)), _mm256_set1_epi16((short)(2 * s + 2)), 1);
    return _mm512_and_si512(_mm512_srlv_epi16(qq, shift), _mm512_set1_epi8(3));
}

/* ==================================================================== Q2_K */

static QLM_ALWAYS_INLINE float q2_k_term(const qlm_block_q2_k *x, const qlm_block_q8_k *y) {
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales), m4 = _mm_set1_epi8(0x0f);
    const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, m4));
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), m4));
    const int msum = hsum256_epi32(_mm256_madd_epi16(mn16, load256(y->bsums)));
    __m512i acc = _mm512_setzero_si512();
    UNROLL
    for (int h = 0; h < 2; h++) {
        const __m256i q = load256(x->qs + 32 * h);
        UNROLL
        for (int s = 0; s < 4; s += 2) {
            const __m512i p = _mm512_maddubs_epi16(two_bits_pair(q, s), load512(y->qs + 128 * h + 32 * s));
            acc = _mm512_dpwssd_epi32(acc, p, quad_scales(sc16, 8 * h + 2 * s));
        }
    }
    const int isum = _mm512_reduce_add_epi32(acc);
    const float d = _cvtsh_ss(x->d) * y->d;
    const float dm = _cvtsh_ss(x->dmin) * y->d;
    const float t0 = d * (float)isum;
    const float t1 = dm * (float)msum;
    return t0 - t1;
}

/* ==================================================================== Q3_K */

/* u = q + 4: the two low bits, plus 4 where the hmask bit of the value's
 * group (4h + s for the 32 values 128h + 32s..) is set. */
static QLM_ALWAYS_INLINE float q3_k_term(const qlm_block_q3_k *x, const qlm_block_q8_k *y) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(qlm_q3_k_scales_avx2(x->scales));
    const int corr = hsum256_epi32(_mm256_madd_epi16(sc16, load256(y->bsums)));
    const __m512i hm = _mm512_broadcast_i64x4(load256(x->hmask)), four = _mm512_set1_epi8(4);
    __m512i acc = _mm512_setzero_si512();
    UNROLL
    for (int h = 0; h < 2; h++) {
        const __m256i q = load256(x->qs + 32 * h);
        UNROLL
        for (int s = 0; s < 4; s += 2) {
            const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (4 * h + s))),
                                                   _mm256_set1_epi8((char)(1 << (4 * h + s + 1))), 1);
            const __m512i w = two_bits_pair(q, s);
            const __m512i u = _mm512_mask_add_epi8(w, _mm512_test_epi8_mask(hm, bit), w, four);
            const __m512i p = _mm512_maddubs_epi16(u, load512(y->qs + 128 * h + 32 * s));
            acc = _mm512_dpwssd_epi32(acc, p, quad_scales(sc16, 8 * h + 2 * s));
        }
    }
    const int isum = _mm512_reduce_add_epi32(acc) - 4 * corr;
    const float d = _cvtsh_ss(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* ================================================================== IQ4_XS */

/* ggml's kvalues_iq4nl plus 128 (unsigned bytes for vpdpbusd), per lane. */
static inline __m512i iq4_table_u8(void) {
    const __m128i t = _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153,
                                    (char)166, (char)181, (char)197, (char)217, (char)241);
    return _mm512_broadcast_i32x4(t);
}

/* isum = sum_ib ls_ib sum(v a) = sum_ib ls_ib (sum((v + 128) a) - 128 sum(a)),
 * with sum(a) over sub-block ib = bsums[2 ib] + bsums[2 ib + 1]. Each step
 * takes two sub-blocks' 32 qs bytes: lanes [q0, q0, q1, q1] shifted by
 * [0, 4, 0, 4] give the 64 indices in value order, and vpdpbusd leaves
 * sub-block 2j's sums in 128-bit lanes 0-1 of t[j], 2j + 1's in lanes 2-3.
 * Two unpack-and-add rounds fold the four t into one register whose 128-bit
 * lane k holds, in element j, t[j]'s lane-k total: sub-block 2j + k / 2.
 * One multiply by those scales, then the sum. */
static QLM_ALWAYS_INLINE float iq4_xs_term(const qlm_block_iq4_xs *x, const qlm_block_q8_k *y) {
    int ls[8], corr = 0;
    UNROLL
    for (int ib = 0; ib < 8; ib++) {
        ls[ib] =
            (((x->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x->scales_h >> (2 * ib)) & 3) << 4)) - 32;
        corr += ls[ib] * (y->bsums[2 * ib] + y->bsums[2 * ib + 1]);
    }
    const __m512i table = iq4_table_u8(), m4 = _mm512_set1_epi8(0x0f);
    const long long f = 0x0004000400040004ll;                       /* every 16-bit count 4 */
    const __m512i shift = _mm512_set_epi64(f, f, 0, 0, f, f, 0, 0); /* per 128-bit lane: 0, 4, 0, 4 */
    __m512i t[4];
    UNROLL
    for (int j = 0; j < 4; j++) {
        const __m512i q = _mm512_castsi256_si512(load256(x->qs + 32 * j));
        const __m512i qq = _mm512_shuffle_i64x2(q, q, 0x50);
        const __m512i idx = _mm512_and_si512(_mm512_srlv_epi16(qq, shift), m4);
        t[j] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_shuffle_epi8(table, idx),
                                   load512(y->qs + 64 * j));
    }
    const __m512i u0 = _mm512_add_epi32(_mm512_unpacklo_epi32(t[0], t[1]), _mm512_unpackhi_epi32(t[0], t[1]));
    const __m512i u1 = _mm512_add_epi32(_mm512_unpacklo_epi32(t[2], t[3]), _mm512_unpackhi_epi32(t[2], t[3]));
    const __m512i v = _mm512_add_epi32(_mm512_unpacklo_epi64(u0, u1), _mm512_unpackhi_epi64(u0, u1));
    const __m512i sc = _mm512_setr_epi32(ls[0], ls[2], ls[4], ls[6], ls[0], ls[2], ls[4], ls[6], ls[1], ls[3],
                                         ls[5], ls[7], ls[1], ls[3], ls[5], ls[7]);
    const int isum = _mm512_reduce_add_epi32(_mm512_mullo_epi32(v, sc)) - 128 * corr;
    const float d = _cvtsh_ss(x->d) * y->d;
    const float r = d * (float)isum;
    return r;
}

/* ================================================================= ternary */

/* Ternary quants go in as t + 1 = 0..2 (unsigned, for vpdpbusd); the -1
 * comes back as - sum(a) = - sum(bsums). */
static inline int q8_k_sum(const qlm_block_q8_k *y) {
    return hsum256_epi32(_mm256_madd_epi16(load256(y->bsums), _mm256_set1_epi16(1)));
}

static QLM_ALWAYS_INLINE float tq2_0_term(const qlm_block_tq2_0 *x, const qlm_block_q8_k *y) {
    __m512i acc = _mm512_setzero_si512();
    UNROLL
    for (int h = 0; h < 2; h++) {
        const __m256i q = load256(x->qs + 32 * h);
        UNROLL
        for (int s = 0; s < 4; s += 2)
            acc = _mm512_dpbusd_epi32(acc, two_bits_pair(q, s), load512(y->qs + 128 * h + 32 * s));
    }
    const int isum = _mm512_reduce_add_epi32(acc) - q8_k_sum(y);
    const float d = _cvtsh_ss(x->d) * y->d;
    const float t = d * (float)isum;
    return t;
}

/* TQ1_0's trit n of byte b, ((b * 3^n mod 256) * 3) >> 8, on words of two
 * bytes with multipliers 3^n in p (as avx2_kquants_low.c's trits). */
static inline __m512i trits(__m512i b, __m512i p) {
    const __m512i lo_mask = _mm512_set1_epi16(0x00ff);
    const __m512i ql = _mm512_and_si512(_mm512_mullo_epi16(b, p), lo_mask);
    const __m512i qh = _mm512_mullo_epi16(_mm512_andnot_si512(lo_mask, b), p);
    const __m512i tl = _mm512_mulhi_epu16(ql, _mm512_set1_epi16(768));
    const __m512i th = _mm512_slli_epi16(_mm512_mulhi_epu16(qh, _mm512_set1_epi16(3)), 8);
    return _mm512_or_si512(tl, th);
}

/* Four steps of 64 values: qs[0..31] twice with trits 0|1, 2|3; trit 4 of
 * qs[0..31] and trits 0, 1 of qs[32..47] (values 128..191); trits 2, 3, 4
 * of qs[32..47] and qh's four (values 192..255; qh byte j repeated per
 * group of 4, 240 + 4n + j). Multipliers per 128-bit lane of words. */
static QLM_ALWAYS_INLINE float tq1_0_term(const qlm_block_tq1_0 *x, const qlm_block_q8_k *y) {
    const __m256i b0 = load256(x->qs);
    const __m128i b1 = _mm_loadu_si128((const __m128i *)(x->qs + 32));
    uint32_t qhw;
    memcpy(&qhw, x->qh, 4);
    const __m256i b11 = _mm256_broadcastsi128_si256(b1);
    const __m512i v01 = _mm512_broadcast_i64x4(b0);
    const __m512i v2 = _mm512_inserti64x4(_mm512_castsi256_si512(b0), b11, 1);
    const __m512i v3 = _mm512_inserti64x4(
        _mm512_castsi256_si512(b11),
        _mm256_inserti128_si256(_mm256_castsi128_si256(b1), _mm_set1_epi32((int)qhw), 1), 1);
    const __m512i p0 = _mm512_inserti64x4(_mm512_set1_epi16(1), _mm256_set1_epi16(3), 1);
    const __m512i p1 = _mm512_inserti64x4(_mm512_set1_epi16(9), _mm256_set1_epi16(27), 1);
    const __m512i p2 = _mm512_inserti64x4(
        _mm512_set1_epi16(81), _mm256_setr_epi16(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3), 1);
    const __m512i p3 = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_setr_epi16(9, 9, 9, 9, 9, 9, 9, 9, 27, 27, 27, 27, 27, 27, 27, 27)),
        _mm256_setr_epi16(81, 81, 81, 81, 81, 81, 81, 81, 1, 1, 3, 3, 9, 9, 27, 27), 1);
    __m512i acc = _mm512_dpbusd_epi32(_mm512_setzero_si512(), trits(v01, p0), load512(y->qs));
    acc = _mm512_dpbusd_epi32(acc, trits(v01, p1), load512(y->qs + 64));
    acc = _mm512_dpbusd_epi32(acc, trits(v2, p2), load512(y->qs + 128));
    acc = _mm512_dpbusd_epi32(acc, trits(v3, p3), load512(y->qs + 192));
    const int isum = _mm512_reduce_add_epi32(acc) - q8_k_sum(y);
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
    void qlm_dot_##NAME##_avx512(int64_t n, float *s, const void *vx, const void *vy) {                      \
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
