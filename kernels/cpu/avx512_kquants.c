/* avx512_kquants.c - AVX-512 VNNI dot products of the K-quants Q4_K, Q5_K
 * and Q6_K with Q8_K activations, and the Q8_K activation quantizer.
 * Bit-identical to engine/quant_ref_kquants.c: exact per-block
 * integer sums, then the reference's float operations per block, in order.
 *
 * Integer sums, 64 values per step: the quants of two (Q6_K: four)
 * sub-blocks in one 512-bit register against the 64 activations they
 * multiply, which Q8_K stores contiguously. VPDPBUSD (unsigned quants x
 * signed activations) leaves in each int32 lane the sum of 4 products, at
 * most 4 * 63 * 127 = 32004 in magnitude, so the lane read as two int16 is
 * (the sum, its sign extension); VPDPWSSD against the sub-block scale in
 * the low int16 and 0 in the high one then adds scale * sum exactly. */
#include <immintrin.h>
#include <string.h>

#include "kernels.h"
#include "kquants_scales.h"

static inline int32_t hsum_i32_128(__m128i s) {
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline int32_t hsum_i32_512(__m512i v) {
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return hsum_i32_128(_mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
}

/* msum = sum_j m[j] (bsums[2j] + bsums[2j + 1]). */
static inline int32_t k4_msum(const uint32_t *u, const int16_t *bsums) {
    const __m128i m = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)u[3], (int)u[2]));
    const __m128i b = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                                     _mm_loadu_si128((const __m128i *)(bsums + 8)));
    return hsum_i32_128(_mm_madd_epi16(m, b));
}

/* Two 32-byte halves as one register: a in bytes 0-31, b in 32-63. */
static inline __m512i join(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1); }

/* One Q4_K (qh NULL) or Q5_K block decoded once for every token that
 * multiplies it: group g's 32 bytes give sub-block 2g (low nibbles) and
 * 2g + 1 (high), which multiply activations 64g .. 64g + 63; Q5_K's fifth
 * bits are bits 2g and 2g + 1 of qh[0..31]. sc[g] holds sc[2g] in lanes 0-7
 * and sc[2g + 1] in lanes 8-15 (int32, high int16 zero). */
typedef struct k4_block {
    __m512i z[4], sc[4];
    uint32_t u[4]; /* scales and minimums as bytes (qlm_k4_unpack) */
} k4_block;

static QLM_ALWAYS_INLINE void k4_decode(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, k4_block *k) {
    qlm_k4_unpack(scales, k->u);
    const __m512i sc32 = _mm512_cvtepu8_epi32(_mm_set_epi32(0, 0, (int)k->u[1], (int)k->u[0]));
    const __m512i m4 = _mm512_set1_epi8(0x0f), b16 = _mm512_set1_epi8(16);
    const __m256i hb = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    const __m512i hz = join(hb, hb);
    for (int g = 0; g < 4; g++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
        __m512i z = _mm512_and_si512(join(q, _mm256_srli_epi16(q, 4)), m4);
        if (qh) {
            const __m512i bit = join(_mm256_set1_epi8((char)(1 << 2 * g)), _mm256_set1_epi8((char)(1 << (2 * g + 1))));
            z = _mm512_mask_add_epi8(z, _mm512_test_epi8_mask(hz, bit), z, b16); /* bit 4 was clear: add = or */
        }
        k->z[g] = z;
        k->sc[g] = _mm512_permutexvar_epi32(join(_mm256_set1_epi32(2 * g), _mm256_set1_epi32(2 * g + 1)), sc32);
    }
}

/* isum and msum of a decoded Q4_K/Q5_K block against one token's block. */
static QLM_ALWAYS_INLINE void k4_isums(const k4_block *k, const qlm_block_q8_k *y, int32_t *isum, int32_t *msum) {
    *msum = k4_msum(k->u, y->bsums);
    __m512i acc = _mm512_setzero_si512();
    for (int g = 0; g < 4; g++) {
        const __m512i a = _mm512_loadu_si512((const void *)(y->qs + 64 * g));
        acc = _mm512_dpwssd_epi32(acc, _mm512_dpbusd_epi32(_mm512_setzero_si512(), k->z[g], a), k->sc[g]);
    }
    *isum = hsum_i32_512(acc);
}

static inline float k4_accumulate(float sum, uint16_t xd, uint16_t xdmin, float yd, int32_t isum, int32_t msum) {
    const float d = _cvtsh_ss(xd) * yd;
    const float dm = _cvtsh_ss(xdmin) * yd;
    const float t0 = d * (float)isum;
    const float t1 = dm * (float)msum;
    sum += t0;
    sum -= t1;
    return sum;
}

/* One Q6_K block decoded once for every token. Half h: ql[64h .. 64h + 63]
 * hold values 128h + 0 .. 63 in their low nibbles and 128h + 64 .. 127 in
 * their high ones; qh[32h + l] the top 2 bits of values 128h + l, + 32,
 * + 64, + 96 at bits 0, 2, 4, 6. The scales (signed) as int32 lanes with the
 * high int16 cleared, for VPDPWSSD; the -32 offset is -32 sum_j sc[j]
 * bsums[j], an int16 madd per token. */
typedef struct q6_block {
    __m512i z[4], sc[4]; /* z[2h] = values 128h + 0..63, z[2h + 1] = 128h + 64..127 */
    __m256i sc16;        /* the 16 scales as int16 */
} q6_block;

static QLM_ALWAYS_INLINE void q6_decode(const qlm_block_q6_k *x, q6_block *k) {
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales);
    const __m512i sc32 = _mm512_and_si512(_mm512_cvtepi8_epi32(sc8), _mm512_set1_epi32(0xffff));
    const __m512i m4 = _mm512_set1_epi8(0x0f), m3 = _mm512_set1_epi8(3);
    const __m512i quarter = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    k->sc16 = _mm256_cvtepi8_epi16(sc8);
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512((const void *)(x->ql + 64 * h));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
        const __m512i h01 = _mm512_and_si512(join(qh, _mm256_srli_epi16(qh, 2)), m3);
        const __m512i h23 = _mm512_and_si512(join(_mm256_srli_epi16(qh, 4), _mm256_srli_epi16(qh, 6)), m3);
        k->z[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(h01, 4));
        k->z[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(h23, 4));
        k->sc[2 * h] = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h)), sc32);
        k->sc[2 * h + 1] = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(8 * h + 4)), sc32);
    }
}

/* isum of a decoded Q6_K block against one token's block. */
static QLM_ALWAYS_INLINE int32_t q6_isum(const q6_block *k, const qlm_block_q8_k *y) {
    const __m256i off = _mm256_madd_epi16(k->sc16, _mm256_loadu_si256((const __m256i *)y->bsums));
    __m512i acc = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5)));
    acc = _mm512_inserti64x4(acc, _mm256_setzero_si256(), 1);
    for (int c = 0; c < 4; c++) {
        const __m512i a = _mm512_loadu_si512((const void *)(y->qs + 64 * c));
        acc = _mm512_dpwssd_epi32(acc, _mm512_dpbusd_epi32(_mm512_setzero_si512(), k->z[c], a), k->sc[c]);
    }
    return hsum_i32_512(acc);
}

static inline float q6_accumulate(float sum, uint16_t xd, float yd, int32_t isum) {
    const float d = _cvtsh_ss(xd) * yd;
    const float t = d * (float)isum;
    sum += t;
    return sum;
}

/* ----------------------------------------------------- row and tile kernels */

/* Rows R x tokens T (a constant at each call): each weight block is decoded
 * once and multiplied by the T tokens' blocks; every (row, token) gets the
 * 1-row dot's exact integer sums and float steps in block order, so the
 * tiles equal the row kernel bit for bit. y[t * ldy + r]. */
#define KQ_TILE(NAME, BLOCK_T, DECODED_T, DECODE, ACCUMULATE)                                                \
    static QLM_ALWAYS_INLINE void NAME(int R, int T, int64_t n, float *y, int64_t ldy, const void *w,         \
                                       size_t row_bytes, const void *act, size_t act_bytes) {                \
        for (int r = 0; r < R; r++) {                                                                        \
            const BLOCK_T *x = (const void *)((const char *)w + r * row_bytes);                              \
            float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};                                                         \
            for (int64_t i = 0; i < n / QLM_QK_K; i++) {                                                     \
                DECODED_T k;                                                                                 \
                DECODE;                                                                                      \
                for (int t = 0; t < T; t++) {                                                                \
                    const qlm_block_q8_k *yb = (const qlm_block_q8_k *)((const char *)act + t * act_bytes) + i; \
                    ACCUMULATE;                                                                              \
                }                                                                                            \
            }                                                                                                \
            for (int t = 0; t < T; t++) y[t * ldy + r] = sum[t];                                             \
        }                                                                                                    \
    }

#define K4_ACCUMULATE                                                                                        \
    int32_t isum, msum;                                                                                      \
    k4_isums(&k, yb, &isum, &msum);                                                                          \
    sum[t] = k4_accumulate(sum[t], x[i].d, x[i].dmin, yb->d, isum, msum)

KQ_TILE(q4_k_tile, qlm_block_q4_k, k4_block, k4_decode(x[i].scales, x[i].qs, NULL, &k), K4_ACCUMULATE)
KQ_TILE(q5_k_tile, qlm_block_q5_k, k4_block, k4_decode(x[i].scales, x[i].qs, x[i].qh, &k), K4_ACCUMULATE)
KQ_TILE(q6_k_tile, qlm_block_q6_k, q6_block, q6_decode(&x[i], &k),
        sum[t] = q6_accumulate(sum[t], x[i].d, yb->d, q6_isum(&k, yb)))

#define KQ_ENTRY_POINTS(TYPE)                                                                                \
    void qlm_dot_##TYPE##_avx512(int64_t n, float *s, const void *x, const void *y) {                         \
        TYPE##_tile(1, 1, n, s, 1, x, 0, y, 0);                                                              \
    }                                                                                                        \
    void qlm_gemm4x2_##TYPE##_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t row_bytes,       \
                                     const void *x, size_t x_bytes) {                                        \
        TYPE##_tile(4, 2, n, y, ldy, w, row_bytes, x, x_bytes);                                              \
    }                                                                                                        \
    void qlm_gemm4x4_##TYPE##_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t row_bytes,       \
                                     const void *x, size_t x_bytes) {                                        \
        TYPE##_tile(4, 4, n, y, ldy, w, row_bytes, x, x_bytes);                                              \
    }

KQ_ENTRY_POINTS(q4_k)
KQ_ENTRY_POINTS(q5_k)
KQ_ENTRY_POINTS(q6_k)

/* -------------------------------------------------- Q8_K activations */

/* 16 bytes' sums of 64 quants (4 groups): the group sums of q0 .. q3
 * (bytes 64 i + 16 g ..), as int16 in group order 4 i + g. vpdpbusd against
 * ones gives 4-byte sums; two lane-local shuffles spread each 128-bit lane's
 * total (one group) over its lane; element 4g + i of the blend takes q_i's
 * group g, and the permute puts it at 4i + g. */
static inline __m256i q8_k_bsums(const __m512i q[4]) {
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i s[4];
    for (int i = 0; i < 4; i++) {
        __m512i v = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, q[i]);
        v = _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_BADC));
        s[i] = _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_CDAB));
    }
    __m512i r = _mm512_mask_mov_epi32(s[0], 0x2222, s[1]);
    r = _mm512_mask_mov_epi32(r, 0x4444, s[2]);
    r = _mm512_mask_mov_epi32(r, 0x8888, s[3]);
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_cvtepi32_epi16(_mm512_permutexvar_epi32(order, r));
}

/* One block, byte-identical to quant_ref.c's q8_k_quantize_block (as the
 * AVX2 one, avx2_kquants.c: NaNs skipped by maxps's operand order, the first
 * element of the largest magnitude gives the sign, cvtps2dq's nearest-even
 * rounding, out-of-range and NaN products become 0), 16 values a step. */
static void q8_k_block(const float *x, qlm_block_q8_k *b) {
    __m512 vmax = _mm512_setzero_ps();
    for (int j = 0; j < QLM_QK_K; j += 16) vmax = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + j)), vmax);
    const float amax = _mm512_reduce_max_ps(vmax);
    memset(b, 0, sizeof *b);
    if (amax == 0.0f || !(amax <= 3.4e38f)) return;
    int first = 0;
    for (int j = 0; j < QLM_QK_K; j += 16) {
        const __m512 a = _mm512_abs_ps(_mm512_loadu_ps(x + j));
        const unsigned m = _mm512_cmp_ps_mask(a, _mm512_set1_ps(amax), _CMP_EQ_OQ);
        if (m) {
            int k = 0;
            while (!(m >> k & 1)) k++;
            first = j + k;
            break;
        }
    }
    const float iscale = -127.0f / x[first];
    const __m512 vs = _mm512_set1_ps(iscale), lim = _mm512_set1_ps(4194303.0f);
    __m512i q[4];
    for (int j = 0; j < QLM_QK_K; j += 64) {
        __m128i p[4];
        for (int k = 0; k < 4; k++) {
            const __m512 v = _mm512_mul_ps(vs, _mm512_loadu_ps(x + j + 16 * k));
            const __mmask16 ok = _mm512_cmp_ps_mask(_mm512_abs_ps(v), lim, _CMP_LE_OQ);
            p[k] = _mm512_cvtsepi32_epi8(_mm512_maskz_cvtps_epi32(ok, v));
        }
        const __m512i w = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_set_m128i(p[1], p[0])), _mm256_set_m128i(p[3], p[2]), 1);
        q[j / 64] = _mm512_max_epi8(w, _mm512_set1_epi8(-127));
        _mm512_storeu_si512(b->qs + j, q[j / 64]);
    }
    _mm256_storeu_si256((__m256i *)b->bsums, q8_k_bsums(q));
    b->d = 1.0f / iscale;
}

void qlm_quantize_q8_k_avx512(const float *x, void *dst, int64_t n) {
    qlm_block_q8_k *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) q8_k_block(x + i * QLM_QK_K, &b[i]);
}
