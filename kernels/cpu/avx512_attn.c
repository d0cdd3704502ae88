/* avx512_attn.c - attention for several query heads sharing one K/V head
 * (grouped-query attention) with an F16 cache: each K and V row is widened
 * once per position and used by every head of the group, and a 64-wide head
 * is 4 registers, so the whole group's accumulators stay in registers.
 *
 * Bit for bit the reference (ref.c): q.k in 16 lanes (element i to lane
 * i % 16, fused multiply-adds from 0) folded j+8, +4, +2, +1; the reference
 * softmax order; each output summed over positions in order, fused
 * multiply-adds from 0.
 * Other head sizes and F32 caches use the AVX2 kernel per head. */
#include <immintrin.h>
#include <math.h>

#include "exp.h"
#include "kernels.h"

#define MAX_GROUP 8 /* heads per pass: 8 x 4 accumulators + 4 V registers fit */

static inline __m512 load16_h(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

/* The reference fold of 16 lanes: j + j+8, then + 4, + 2, + 1. */
static inline float fold16(__m512 v) {
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

/* q . k of one head (q in 4 registers) against a widened 64-value K row,
 * the reference's per-lane products and sums, before the fold. */
static inline __m512 qk_lanes(const __m512 q[4], const float *k) {
    __m512 a = _mm512_fmadd_ps(q[0], _mm512_loadu_ps(k), _mm512_setzero_ps());
    a = _mm512_fmadd_ps(q[1], _mm512_loadu_ps(k + 16), a);
    a = _mm512_fmadd_ps(q[2], _mm512_loadu_ps(k + 32), a);
    return _mm512_fmadd_ps(q[3], _mm512_loadu_ps(k + 48), a);
}

/* One fold level for 16 registers at once: lanes of a and b that are
 * `half` apart are added (fold16's j + half) and the sums of a and b
 * interleave in blocks of `half` lanes. After the levels 8, 4, 2, 1 lane i
 * holds fold16 of the i-th input register, with fold16's additions. */
static inline __m512 fold_pair(__m512 a, __m512 b, int half) {
    static const int32_t lo[4][16] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
        {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
        {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
        {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30}};
    const int level = half == 8 ? 0 : half == 4 ? 1 : half == 2 ? 2 : 3;
    const __m512i il = _mm512_loadu_si512(lo[level]);
    const __m512i ih = _mm512_add_epi32(il, _mm512_set1_epi32(half));
    return _mm512_add_ps(_mm512_permutex2var_ps(a, il, b), _mm512_permutex2var_ps(a, ih, b));
}

/* fold16 of v[0..15] into the lanes of one register. */
static inline __m512 fold16x16(__m512 v[16]) {
    for (int i = 0; i < 8; i++) v[i] = fold_pair(v[i], v[i + 8], 8);  /* v[i]: lanes of i, i+8 */
    for (int i = 0; i < 4; i++) v[i] = fold_pair(v[i], v[i + 4], 4);  /* i, i+4, i+8, i+12 */
    for (int i = 0; i < 2; i++) v[i] = fold_pair(v[i], v[i + 2], 2);  /* i, i+2, ..., i+14 */
    return fold_pair(v[0], v[1], 1);                                  /* 0, 1, ..., 15 */
}

/* scores[h][p] for n heads of 64 dims. Positions go 16 at a time: their K
 * rows are widened once into kbuf for all heads, and each head's 16 lane
 * sums are folded together (fold16x16) instead of one by one. */
static void scores64(float *scores, const float *q, int n, const uint16_t *k, int64_t n_kv, int64_t stride,
                     float scale) {
    float kbuf[16 * 64];
    const __m512 vscale = _mm512_set1_ps(scale);
    int64_t p0 = 0;
    for (; p0 + 16 <= n_kv; p0 += 16) {
        for (int j = 0; j < 16; j++)
            for (int c = 0; c < 4; c++) _mm512_storeu_ps(kbuf + 64 * j + 16 * c, load16_h(k + (p0 + j) * stride + 16 * c));
        for (int h = 0; h < n; h++) {
            const __m512 qh[4] = {_mm512_loadu_ps(q + h * 64), _mm512_loadu_ps(q + h * 64 + 16),
                                  _mm512_loadu_ps(q + h * 64 + 32), _mm512_loadu_ps(q + h * 64 + 48)};
            __m512 a[16];
            for (int j = 0; j < 16; j++) a[j] = qk_lanes(qh, kbuf + 64 * j);
            _mm512_storeu_ps(scores + h * n_kv + p0, _mm512_mul_ps(fold16x16(a), vscale));
        }
    }
    for (int64_t p = p0; p < n_kv; p++) {
        const uint16_t *kp = k + p * stride;
        for (int c = 0; c < 4; c++) _mm512_storeu_ps(kbuf + 16 * c, load16_h(kp + 16 * c));
        for (int h = 0; h < n; h++) {
            const __m512 qh[4] = {_mm512_loadu_ps(q + h * 64), _mm512_loadu_ps(q + h * 64 + 16),
                                  _mm512_loadu_ps(q + h * 64 + 32), _mm512_loadu_ps(q + h * 64 + 48)};
            scores[h * n_kv + p] = fold16(qk_lanes(qh, kbuf)) * scale;
        }
    }
}

/* out[h] = sum_p scores[h][p] v[p] for n heads of 64 dims, from 0 as the
 * reference. */
static void weighted64(float *out, const float *scores, int n, const uint16_t *v, int64_t n_kv, int64_t stride) {
    __m512 acc[MAX_GROUP][4];
    for (int h = 0; h < n; h++)
        for (int c = 0; c < 4; c++) acc[h][c] = _mm512_setzero_ps();
    for (int64_t p = 0; p < n_kv; p++) {
        const uint16_t *vp = v + p * stride;
        const __m512 v0 = load16_h(vp), v1 = load16_h(vp + 16), v2 = load16_h(vp + 32), v3 = load16_h(vp + 48);
        for (int h = 0; h < n; h++) {
            const __m512 s = _mm512_set1_ps(scores[h * n_kv + p]);
            acc[h][0] = _mm512_fmadd_ps(s, v0, acc[h][0]);
            acc[h][1] = _mm512_fmadd_ps(s, v1, acc[h][1]);
            acc[h][2] = _mm512_fmadd_ps(s, v2, acc[h][2]);
            acc[h][3] = _mm512_fmadd_ps(s, v3, acc[h][3]);
        }
    }
    for (int h = 0; h < n; h++)
        for (int c = 0; c < 4; c++) _mm512_storeu_ps(out + h * 64 + 16 * c, acc[h][c]);
}

/* qlm_expf_ref on 16 lanes: exp8's (avx2.c) operations in its order. */
static inline __m512 exp16(__m512 x) {
    const __m512 magic = _mm512_set1_ps(QLM_ROUND_MAGIC);
    const __m512 n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(QLM_LOG2E)), magic), magic);
    const __m512 r1 = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(QLM_LN2_HI)));
    const __m512 r = _mm512_sub_ps(r1, _mm512_mul_ps(n, _mm512_set1_ps(QLM_LN2_LO)));
    __m512 p = _mm512_set1_ps(QLM_EXP_P0);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(QLM_EXP_P1));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(QLM_EXP_P2));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(QLM_EXP_P3));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(QLM_EXP_P4));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(QLM_EXP_P5));
    const __m512 e = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
    /* n is in [-126, 128] where the result is kept (the masks below) */
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    __m512 y = _mm512_mul_ps(e, _mm512_castsi512_ps(bits));
    y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(QLM_EXP_HI), _CMP_GT_OQ), y,
                             _mm512_set1_ps(INFINITY));
    y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(QLM_EXP_LO), _CMP_LT_OQ), y, _mm512_setzero_ps());
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x); /* NaN stays NaN */
}

/* qlm_cpu_softmax_ref bit for bit, 16 values a step: the double partial
 * sum of lane j takes values 8i + j in order (lanes 0-7 of a step, then
 * 8-15), as the reference's p % 8 sums; the AVX2 version does the tail. */
static void softmax16(float *s, int64_t n, int round_f16) {
    const int64_t n16 = n / 16 * 16;
    if (n16 == 0) {
        qlm_cpu_softmax_avx2(s, n, round_f16);
        return;
    }
    const float max = qlm_cpu_max_avx2(s, n);
    const __m512 vmax = _mm512_set1_ps(max);
    __m512d acc = _mm512_setzero_pd();
    for (int64_t p = 0; p < n16; p += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + p), vmax));
        _mm512_storeu_ps(s + p, e);
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    double lane[8];
    _mm512_storeu_pd(lane, acc);
    for (int64_t p = n16; p < n; p++) {
        s[p] = qlm_expf_ref(s[p] - max);
        lane[p % 8] += (double)s[p];
    }
    for (int w = 4; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) lane[j] += lane[j + w];
    const float inv = (float)(1.0 / lane[0]);
    const __m512 vinv = _mm512_set1_ps(inv);
    for (int64_t p = 0; p < n16; p += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(s + p), vinv);
        if (round_f16) v = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        _mm512_storeu_ps(s + p, v);
    }
    for (int64_t p = n16; p < n; p++) {
        s[p] *= inv;
        if (round_f16) s[p] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(s[p]));
    }
}

void qlm_cpu_attention_heads_avx512(float *out, const float *q, int n_heads, const void *k, const void *v,
                                    qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim, float scale,
                                    float *scratch) {
    if (kv_type != QLM_TYPE_F16 || head_dim != 64) {
        qlm_cpu_attention_heads_avx2(out, q, n_heads, k, v, kv_type, n_kv, stride, head_dim, scale, scratch);
        return;
    }
    for (int h0 = 0; h0 < n_heads; h0 += MAX_GROUP) {
        const int n = n_heads - h0 < MAX_GROUP ? n_heads - h0 : MAX_GROUP;
        scores64(scratch, q + h0 * 64, n, k, n_kv, stride, scale);
        for (int h = 0; h < n; h++) softmax16(scratch + h * n_kv, n_kv, 1);
        weighted64(out + h0 * 64, scratch, n, v, n_kv, stride);
    }
}
