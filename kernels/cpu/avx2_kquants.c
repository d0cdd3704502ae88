/* avx2_kquants.c - AVX2 dot products of the K-quants Q4_K, Q5_K and Q6_K
 * with Q8_K activations, and the Q8_K activation quantizer (the AVX-512
 * table uses it too). Bit-identical to engine/quant_ref_kquants.c: the
 * per-block integer sums are exact in any order, and the float operations
 * per block are the reference's, in its order, one block after another.
 *
 * Integer sums: _mm256_maddubs_epi16 multiplies the unsigned quants by the
 * signed activations and adds pairs into int16 (at most 2 * 63 * 127 = 16002
 * for Q6_K's 6-bit quants, no saturation); _mm256_madd_epi16 then multiplies
 * those by the sub-block scale (broadcast per 128-bit lane with a byte
 * shuffle) and adds pairs into int32. Every int32 lane stays far below
 * 2^31 (the totals are below 2^28, see quant_ref_kquants.c). */
#include <immintrin.h>
#include <string.h>

#include "kernels.h"
#include "kquants_scales.h"

static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline int32_t hsum_i32_128(__m128i s) {
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* Byte-shuffle control that broadcasts int16 element e of each 128-bit lane. */
static inline __m256i bcast16(int e_lo, int e_hi) {
    return _mm256_set_m128i(_mm_set1_epi16((short)((2 * e_hi + 1) << 8 | 2 * e_hi)),
                            _mm_set1_epi16((short)((2 * e_lo + 1) << 8 | 2 * e_lo)));
}

/* msum = sum_j m[j] (bsums[2j] + bsums[2j + 1]); the pair sums fit int16
 * (2 * 16 * 127). */
static inline int32_t k4_msum(const uint32_t *u, const int16_t *bsums) {
    const __m128i m = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)u[3], (int)u[2]));
    const __m128i b = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                                     _mm_loadu_si128((const __m128i *)(bsums + 8)));
    return hsum_i32_128(_mm_madd_epi16(m, b));
}

/* isum and msum of one Q4_K (qh NULL) or Q5_K block against a Q8_K block:
 * group g of 32 quant bytes holds sub-block 2g in its low nibbles and 2g + 1
 * in its high ones; Q5_K's fifth bit of those is bit 2g (2g + 1) of qh. */
static QLM_ALWAYS_INLINE void k4_isums(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh,
                                       const qlm_block_q8_k *y, int32_t *isum, int32_t *msum) {
    uint32_t u[4];
    qlm_k4_unpack(scales, u);
    *msum = k4_msum(u, y->bsums);
    const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)u[1], (int)u[0])));
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    const __m256i hb = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    __m256i acc = _mm256_setzero_si256();
    for (int g = 0; g < 4; g++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * g), one);
            const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * g + 1), one);
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(h0, 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(h1, 4));
        }
        const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y->qs + 64 * g)));
        const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y->qs + 64 * g + 32)));
        const __m256i slo = _mm256_shuffle_epi8(sc, bcast16(2 * g, 2 * g));
        const __m256i shi = _mm256_shuffle_epi8(sc, bcast16(2 * g + 1, 2 * g + 1));
        acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(plo, slo), _mm256_madd_epi16(phi, shi)));
    }
    *isum = hsum_i32(acc);
}

/* The reference's float operations for one Q4_K/Q5_K block. */
static inline float k4_accumulate(float sum, uint16_t xd, uint16_t xdmin, float yd, int32_t isum, int32_t msum) {
    const float d = _cvtsh_ss(xd) * yd;
    const float dm = _cvtsh_ss(xdmin) * yd;
    const float t0 = d * (float)isum;
    const float t1 = dm * (float)msum;
    sum += t0;
    sum -= t1;
    return sum;
}

/* isum of one Q6_K block: q (0..63) times a by maddubs, scaled per
 * sub-block of 16 (one per 128-bit lane), minus 32 sum_j sc[j] bsums[j] for
 * the offset. Half h: ql[64h + l] holds values 128h + l (low nibble) and
 * 128h + 64 + l (high), ql[64h + 32 + l] values + 32 and + 96; qh[32h + l]
 * their top 2 bits at bits 0, 2, 4, 6. */
static QLM_ALWAYS_INLINE int32_t q6_isum(const qlm_block_q6_k *x, const qlm_block_q8_k *y) {
    const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
    const __m256i off = _mm256_madd_epi16(sc, _mm256_loadu_si256((const __m256i *)y->bsums));
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    __m256i acc = _mm256_slli_epi32(off, 5);
    acc = _mm256_sub_epi32(_mm256_setzero_si256(), acc);
    for (int h = 0; h < 2; h++) {
        const __m256i s = _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc, 1) : _mm256_castsi256_si128(sc));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
        for (int k = 0; k < 4; k++) {
            const __m256i a = _mm256_loadu_si256((const __m256i *)(y->qs + 128 * h + 32 * k));
            const __m256i p = _mm256_maddubs_epi16(q[k], a);
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_shuffle_epi8(s, bcast16(2 * k, 2 * k + 1))));
        }
    }
    return hsum_i32(acc);
}

static inline float q6_accumulate(float sum, uint16_t xd, float yd, int32_t isum) {
    const float d = _cvtsh_ss(xd) * yd;
    const float t = d * (float)isum;
    sum += t;
    return sum;
}

/* ------------------------------------------------------------ row kernels */

void qlm_dot_q4_k_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q4_k *x = vx;
    const qlm_block_q8_k *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) {
        int32_t isum, msum;
        k4_isums(x[i].scales, x[i].qs, NULL, &y[i], &isum, &msum);
        sum = k4_accumulate(sum, x[i].d, x[i].dmin, y[i].d, isum, msum);
    }
    *s = sum;
}

void qlm_dot_q5_k_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q5_k *x = vx;
    const qlm_block_q8_k *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) {
        int32_t isum, msum;
        k4_isums(x[i].scales, x[i].qs, x[i].qh, &y[i], &isum, &msum);
        sum = k4_accumulate(sum, x[i].d, x[i].dmin, y[i].d, isum, msum);
    }
    *s = sum;
}

void qlm_dot_q6_k_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q6_k *x = vx;
    const qlm_block_q8_k *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) sum = q6_accumulate(sum, x[i].d, y[i].d, q6_isum(&x[i], &y[i]));
    *s = sum;
}

/* -------------------------------------------------- Q8_K activations */

/* One block, byte-identical to quant_ref.c's q8_k_quantize_block: amax over
 * |x| ignoring NaNs (maxps returns its second operand when the first is
 * NaN), the first element of that magnitude gives the sign, iscale =
 * -127 / max; cvtps2dq rounds to nearest even like ggml's magic-number
 * round. Lanes whose product is NaN or beyond 4194303 in magnitude (iscale
 * Inf for a subnormal max) become 0 as in the reference, instead of
 * cvtps2dq's 0x80000000. */
static void q8_k_block(const float *x, qlm_block_q8_k *b) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 vmax = _mm256_setzero_ps();
    for (int j = 0; j < QLM_QK_K; j += 8) vmax = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask), vmax);
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax = _mm_cvtss_f32(m);
    memset(b, 0, sizeof *b);
    if (amax == 0.0f || !(amax <= 3.4e38f)) return;
    float max = 0.0f;
    for (int j = 0; j < QLM_QK_K; j++)
        if (x[j] == amax || x[j] == -amax) {
            max = x[j];
            break;
        }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale), lim = _mm256_set1_ps(4194303.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), lo = _mm256_set1_epi8(-127);
    for (int j = 0; j < QLM_QK_K; j += 32) {
        __m256i r[4];
        for (int k = 0; k < 4; k++) {
            const __m256 v = _mm256_mul_ps(vs, _mm256_loadu_ps(x + j + 8 * k));
            const __m256 ok = _mm256_cmp_ps(_mm256_and_ps(v, abs_mask), lim, _CMP_LE_OQ);
            r[k] = _mm256_and_si256(_mm256_cvtps_epi32(v), _mm256_castps_si256(ok));
        }
        /* packs interleave the 128-bit lanes; the permute restores order */
        const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
        const __m256i q = _mm256_max_epi8(_mm256_permutevar8x32_epi32(p, perm), lo);
        _mm256_storeu_si256((__m256i *)(b->qs + j), q);
    }
    const __m256i ones = _mm256_set1_epi16(1);
    for (int j = 0; j < QLM_QK_K / 16; j++) {
        const __m256i q16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b->qs + 16 * j)));
        b->bsums[j] = (int16_t)hsum_i32(_mm256_madd_epi16(q16, ones));
    }
    b->d = 1.0f / iscale;
}

void qlm_quantize_q8_k_avx2(const float *x, void *dst, int64_t n) {
    qlm_block_q8_k *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) q8_k_block(x + i * QLM_QK_K, &b[i]);
}
