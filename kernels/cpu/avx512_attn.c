/* avx512_attn.c - attention for several query heads sharing one K/V head
 * (grouped-query attention) with an F16 cache: each K and V row is widened
 * once per position and used by every head of the group, and a 64-wide head
 * is 4 registers, so the whole group's accumulators stay in registers.
 *
 * Bit for bit the reference (ref.c): q.k in 16 lanes (element i to lane
 * i % 16, multiply then add) folded j+8, +4, +2, +1; the reference softmax
 * order; each output summed over positions in order, multiply then add.
 * Other head sizes and F32 caches use the AVX2 kernel per head. */
#include <immintrin.h>

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

/* scores[h][p] for n heads of 64 dims. */
static void scores64(float *scores, const float *q, int n, const uint16_t *k, int64_t n_kv, int64_t stride,
                     float scale) {
    for (int64_t p = 0; p < n_kv; p++) {
        const uint16_t *kp = k + p * stride;
        const __m512 k0 = load16_h(kp), k1 = load16_h(kp + 16), k2 = load16_h(kp + 32), k3 = load16_h(kp + 48);
        for (int h = 0; h < n; h++) {
            const float *qh = q + h * 64;
            __m512 a = _mm512_mul_ps(_mm512_loadu_ps(qh), k0);
            a = _mm512_add_ps(a, _mm512_mul_ps(_mm512_loadu_ps(qh + 16), k1));
            a = _mm512_add_ps(a, _mm512_mul_ps(_mm512_loadu_ps(qh + 32), k2));
            a = _mm512_add_ps(a, _mm512_mul_ps(_mm512_loadu_ps(qh + 48), k3));
            scores[h * n_kv + p] = fold16(a) * scale;
        }
    }
}

/* out[h] = sum_p scores[h][p] v[p] for n heads of 64 dims. The reference
 * starts each sum at 0 and adds every term; 0 + t == t, so starting from the
 * first term is the same. */
static void weighted64(float *out, const float *scores, int n, const uint16_t *v, int64_t n_kv, int64_t stride) {
    __m512 acc[MAX_GROUP][4];
    for (int h = 0; h < n; h++)
        for (int c = 0; c < 4; c++) acc[h][c] = _mm512_setzero_ps();
    for (int64_t p = 0; p < n_kv; p++) {
        const uint16_t *vp = v + p * stride;
        const __m512 v0 = load16_h(vp), v1 = load16_h(vp + 16), v2 = load16_h(vp + 32), v3 = load16_h(vp + 48);
        for (int h = 0; h < n; h++) {
            const __m512 s = _mm512_set1_ps(scores[h * n_kv + p]);
            acc[h][0] = _mm512_add_ps(acc[h][0], _mm512_mul_ps(s, v0));
            acc[h][1] = _mm512_add_ps(acc[h][1], _mm512_mul_ps(s, v1));
            acc[h][2] = _mm512_add_ps(acc[h][2], _mm512_mul_ps(s, v2));
            acc[h][3] = _mm512_add_ps(acc[h][3], _mm512_mul_ps(s, v3));
        }
    }
    for (int h = 0; h < n; h++)
        for (int c = 0; c < 4; c++) _mm512_storeu_ps(out + h * 64 + 16 * c, acc[h][c]);
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
        for (int h = 0; h < n; h++) qlm_cpu_softmax_avx2(scratch + h * n_kv, n_kv, 1);
        weighted64(out + h0 * 64, scratch, n, v, n_kv, stride);
    }
}
