/* avx512.c - AVX-512 (F/BW/VL + VNNI + BF16) kernels: Cooper Lake, Ice Lake
 * / Sapphire Rapids and later servers, Zen 4 and later. Compiled with its own
 * -mavx512* flags and called only after the cpuid/xgetbv probe (select.c).
 *
 * Integer dots use VNNI's vpdpbusd (unsigned x signed bytes, four products
 * summed into each int32 lane, no int16 saturation step). Signed weights go
 * in as |x| with their sign moved onto the activations (_mm256_sign_epi8).
 * Two 32-value blocks share one 512-bit register: lanes 0-7 hold block i,
 * lanes 8-15 block i+1, each scaled by its own d before accumulation. */
#include <immintrin.h>

#include "kernels.h"

/* ---------------------------------------------------------------- helpers */

static inline __m512i join256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* a in lanes 0-7, b in lanes 8-15 */
static inline __m512 scale2(float a, float b) {
    return _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(a), _mm512_set1_ps(b));
}

/* Q4 block layout (ggml): byte j holds value j (low nibble) and value j + 16
 * (high nibble): low then high nibbles give the values in order. */
static inline __m256i q4_unpack(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)qs), m4 = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(b, m4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
    return _mm256_set_m128i(hi, lo);
}

static inline __m256i load_q8(const int8_t *qs) { return _mm256_loadu_si256((const __m256i *)qs); }

/* Signed x times signed y for one block: |x| unsigned, sign folded into y. */
static inline __m256i signed_pair_x(__m256i x) { return _mm256_sign_epi8(x, x); }
static inline __m256i signed_pair_y(__m256i x, __m256i y) { return _mm256_sign_epi8(y, x); }

/* 16 int32 lanes of u (unsigned) . s (signed), as float */
static inline __m512 dot2(__m512i u, __m512i s) {
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, s));
}

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* A lone last block goes through the low half with a 256-bit vpdpbusd. */
static inline __m256 dot1(__m256i u, __m256i s) {
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s));
}

/* ------------------------------------------------------- quant dot products */

static void dot_q4_0_q8_0_avx512(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q4_0 *x = vx;
    const qlm_block_q8_0 *y = vy;
    const int64_t nb = n / QLM_QK4_0;
    const __m256i eight = _mm256_set1_epi8(8);
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i x0 = _mm256_sub_epi8(q4_unpack(x[i].qs), eight);
        const __m256i x1 = _mm256_sub_epi8(q4_unpack(x[i + 1].qs), eight);
        const __m512i u = join256(signed_pair_x(x0), signed_pair_x(x1));
        const __m512i v =
            join256(signed_pair_y(x0, load_q8(y[i].qs)), signed_pair_y(x1, load_q8(y[i + 1].qs)));
        const __m512 d =
            scale2(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d), _cvtsh_ss(x[i + 1].d) * _cvtsh_ss(y[i + 1].d));
        acc = _mm512_fmadd_ps(d, dot2(u, v), acc);
    }
    __m256 tail = _mm256_setzero_ps();
    if (i < nb) {
        const __m256i x0 = _mm256_sub_epi8(q4_unpack(x[i].qs), eight);
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        tail = _mm256_mul_ps(d, dot1(signed_pair_x(x0), signed_pair_y(x0, load_q8(y[i].qs))));
    }
    *s = _mm512_reduce_add_ps(acc) + hsum256(tail);
}

/* sum (d_x q + m_x)(d_y p) = d_x d_y sum(q p) + m_x s_y, s_y = d_y sum(p)
 * precomputed in the Q8_1 block; q is unsigned, so vpdpbusd takes it as is. */
static void dot_q4_1_q8_1_avx512(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q4_1 *x = vx;
    const qlm_block_q8_1 *y = vy;
    const int64_t nb = n / QLM_QK4_1;
    __m512 acc = _mm512_setzero_ps();
    float accm = 0.0f;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m512i u = join256(q4_unpack(x[i].qs), q4_unpack(x[i + 1].qs));
        const __m512i v = join256(load_q8(y[i].qs), load_q8(y[i + 1].qs));
        const __m512 d =
            scale2(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d), _cvtsh_ss(x[i + 1].d) * _cvtsh_ss(y[i + 1].d));
        acc = _mm512_fmadd_ps(d, dot2(u, v), acc);
        const float m0 = _cvtsh_ss(x[i].m) * _cvtsh_ss(y[i].s);
        const float m1 = _cvtsh_ss(x[i + 1].m) * _cvtsh_ss(y[i + 1].s);
        accm += m0 + m1;
    }
    __m256 tail = _mm256_setzero_ps();
    if (i < nb) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        tail = _mm256_mul_ps(d, dot1(q4_unpack(x[i].qs), load_q8(y[i].qs)));
        const float m0 = _cvtsh_ss(x[i].m) * _cvtsh_ss(y[i].s);
        accm += m0;
    }
    *s = _mm512_reduce_add_ps(acc) + hsum256(tail) + accm;
}

/* Four Q4_1 rows against one activation row, each row's operations in the
 * same order as dot_q4_1_q8_1_avx512 (so the results are identical). */
static void dot4_q4_1_q8_1_avx512(int64_t n, float *s, const void *vx, size_t bx, const void *vy) {
    const qlm_block_q8_1 *y = vy;
    const qlm_block_q4_1 *x[4];
    for (int k = 0; k < 4; k++)
        x[k] = (const qlm_block_q4_1 *)((const char *)vx + k * bx);
    const int64_t nb = n / QLM_QK4_1;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    float accm[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m512i v = join256(load_q8(y[i].qs), load_q8(y[i + 1].qs));
        const float dy0 = _cvtsh_ss(y[i].d), dy1 = _cvtsh_ss(y[i + 1].d);
        const float sy0 = _cvtsh_ss(y[i].s), sy1 = _cvtsh_ss(y[i + 1].s);
        for (int k = 0; k < 4; k++) {
            const qlm_block_q4_1 *b = x[k] + i;
            const __m512i u = join256(q4_unpack(b[0].qs), q4_unpack(b[1].qs));
            const __m512 d = scale2(_cvtsh_ss(b[0].d) * dy0, _cvtsh_ss(b[1].d) * dy1);
            acc[k] = _mm512_fmadd_ps(d, dot2(u, v), acc[k]);
            const float m0 = _cvtsh_ss(b[0].m) * sy0, m1 = _cvtsh_ss(b[1].m) * sy1;
            accm[k] += m0 + m1;
        }
    }
    for (int k = 0; k < 4; k++) {
        __m256 tail = _mm256_setzero_ps();
        if (i < nb) {
            const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[k][i].d) * _cvtsh_ss(y[i].d));
            tail = _mm256_mul_ps(d, dot1(q4_unpack(x[k][i].qs), load_q8(y[i].qs)));
            const float m0 = _cvtsh_ss(x[k][i].m) * _cvtsh_ss(y[i].s);
            accm[k] += m0;
        }
        s[k] = _mm512_reduce_add_ps(acc[k]) + hsum256(tail) + accm[k];
    }
}

static void dot_q8_0_q8_0_avx512(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q8_0 *x = vx;
    const qlm_block_q8_0 *y = vy;
    const int64_t nb = n / QLM_QK8_0;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i x0 = load_q8(x[i].qs), x1 = load_q8(x[i + 1].qs);
        const __m512i u = join256(signed_pair_x(x0), signed_pair_x(x1));
        const __m512i v =
            join256(signed_pair_y(x0, load_q8(y[i].qs)), signed_pair_y(x1, load_q8(y[i + 1].qs)));
        const __m512 d =
            scale2(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d), _cvtsh_ss(x[i + 1].d) * _cvtsh_ss(y[i + 1].d));
        acc = _mm512_fmadd_ps(d, dot2(u, v), acc);
    }
    __m256 tail = _mm256_setzero_ps();
    if (i < nb) {
        const __m256i x0 = load_q8(x[i].qs);
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        tail = _mm256_mul_ps(d, dot1(signed_pair_x(x0), signed_pair_y(x0, load_q8(y[i].qs))));
    }
    *s = _mm512_reduce_add_ps(acc) + hsum256(tail);
}

/* Four Q8_0 rows, each in dot_q8_0_q8_0_avx512's order (identical results). */
static void dot4_q8_0_q8_0_avx512(int64_t n, float *s, const void *vx, size_t bx, const void *vy) {
    const qlm_block_q8_0 *y = vy;
    const qlm_block_q8_0 *x[4];
    for (int k = 0; k < 4; k++)
        x[k] = (const qlm_block_q8_0 *)((const char *)vx + k * bx);
    const int64_t nb = n / QLM_QK8_0;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i y0 = load_q8(y[i].qs), y1 = load_q8(y[i + 1].qs);
        const float dy0 = _cvtsh_ss(y[i].d), dy1 = _cvtsh_ss(y[i + 1].d);
        for (int k = 0; k < 4; k++) {
            const qlm_block_q8_0 *b = x[k] + i;
            const __m256i x0 = load_q8(b[0].qs), x1 = load_q8(b[1].qs);
            const __m512i u = join256(signed_pair_x(x0), signed_pair_x(x1));
            const __m512i v = join256(signed_pair_y(x0, y0), signed_pair_y(x1, y1));
            const __m512 d = scale2(_cvtsh_ss(b[0].d) * dy0, _cvtsh_ss(b[1].d) * dy1);
            acc[k] = _mm512_fmadd_ps(d, dot2(u, v), acc[k]);
        }
    }
    for (int k = 0; k < 4; k++) {
        __m256 tail = _mm256_setzero_ps();
        if (i < nb) {
            const __m256i x0 = load_q8(x[k][i].qs);
            const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[k][i].d) * _cvtsh_ss(y[i].d));
            tail = _mm256_mul_ps(d, dot1(signed_pair_x(x0), signed_pair_y(x0, load_q8(y[i].qs))));
        }
        s[k] = _mm512_reduce_add_ps(acc[k]) + hsum256(tail);
    }
}

/* ------------------------------------------------------- float dot products */

/* 16 floats, or 16 halves widened exactly by vcvtph2ps. */
static inline __m512 load16_f32(const void *p, int64_t i) { return _mm512_loadu_ps((const float *)p + i); }
static inline __m512 load16_h(const void *p, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i)));
}
static inline float at_f32(const void *p, int64_t i) { return ((const float *)p)[i]; }
static inline float at_h(const void *p, int64_t i) { return _cvtsh_ss(((const uint16_t *)p)[i]); }

/* F32 / F16 weights x F32 activations, R rows x T tokens: each (row, token)
 * pair one accumulator over 16-value chunks (fused multiply-add), its 16
 * lanes summed, then the tail in scalar. The 1-row dot, dot4 and the token
 * tiles share this order, so a row's result never depends on blocking.
 * 4 x 4 keeps 16 accumulators in registers and loads (and widens) each
 * weight chunk once for 4 tokens. */
static QLM_ALWAYS_INLINE __m512 load16_w(int f16, const void *p, int64_t i) {
    return f16 ? load16_h(p, i) : load16_f32(p, i);
}

static QLM_ALWAYS_INLINE void float_tile(int f16, int R, int T, int64_t n, float *y, int64_t ldy, const void *w,
                                         size_t rb, const void *x, size_t xb) {
    __m512 acc[4][4];
    QLM_UNROLL_TILE for (int r = 0; r < R; r++) QLM_UNROLL_TILE for (int t = 0; t < T; t++) acc[r][t] =
        _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 xv[4];
        QLM_UNROLL_TILE for (int t = 0; t < T; t++) xv[t] = _mm512_loadu_ps((const float *)((const char *)x + t * xb) + i);
        QLM_UNROLL_TILE for (int r = 0; r < R; r++) {
            const __m512 wv = load16_w(f16, (const char *)w + r * rb, i);
            QLM_UNROLL_TILE for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float sum = _mm512_reduce_add_ps(acc[r][t]);
            const void *wr = (const char *)w + r * rb;
            const float *xt = (const float *)((const char *)x + t * xb);
            for (int64_t j = i; j < n; j++) {
                const float p = (f16 ? at_h(wr, j) : at_f32(wr, j)) * xt[j];
                sum += p;
            }
            y[t * ldy + r] = sum;
        }
}

#define FLOAT_KERNELS(T, F16)                                                                                \
    static void dot_##T##_avx512(int64_t n, float *s, const void *x, const void *y) {                        \
        float_tile(F16, 1, 1, n, s, 0, x, 0, y, 0);                                                          \
    }                                                                                                        \
    static void dot4_##T##_avx512(int64_t n, float *s, const void *x, size_t bx, const void *y) {            \
        float_tile(F16, 4, 1, n, s, 0, x, bx, y, 0);                                                         \
    }                                                                                                        \
    static void gemm4x2_##T##_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t rb,             \
                                     const void *x, size_t xb) {                                             \
        float_tile(F16, 4, 2, n, y, ldy, w, rb, x, xb);                                                      \
    }                                                                                                        \
    static void gemm4x4_##T##_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t rb,             \
                                     const void *x, size_t xb) {                                             \
        float_tile(F16, 4, 4, n, y, ldy, w, rb, x, xb);                                                      \
    }

FLOAT_KERNELS(f32, 0)
FLOAT_KERNELS(f16, 1)

/* BF16 x BF16 (activations converted to BF16, as ggml) with AVX512_BF16's
 * vdpbf16ps: 32 products per instruction, no widening of the weights. Each
 * (row, token) pair: one accumulator over 32-value chunks, the 16 lanes
 * summed, then the tail in scalar; dot and the tiles share this order. */
static inline __m512bh load32_bh(const void *p, int64_t i) {
    return (__m512bh)_mm512_loadu_si512((const uint16_t *)p + i);
}

static QLM_ALWAYS_INLINE void bf16_tile(int R, int T, int64_t n, float *y, int64_t ldy, const void *w, size_t rb,
                                        const void *x, size_t xb) {
    __m512 acc[4][4];
    QLM_UNROLL_TILE for (int r = 0; r < R; r++) QLM_UNROLL_TILE for (int t = 0; t < T; t++) acc[r][t] =
        _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh xv[4];
        QLM_UNROLL_TILE for (int t = 0; t < T; t++) xv[t] = load32_bh((const char *)x + t * xb, i);
        QLM_UNROLL_TILE for (int r = 0; r < R; r++) {
            const __m512bh wv = load32_bh((const char *)w + r * rb, i);
            QLM_UNROLL_TILE for (int t = 0; t < T; t++) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv, xv[t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float sum = _mm512_reduce_add_ps(acc[r][t]);
            const uint16_t *wr = (const uint16_t *)((const char *)w + r * rb);
            const uint16_t *xt = (const uint16_t *)((const char *)x + t * xb);
            for (int64_t j = i; j < n; j++) {
                const float p = qlm_bf16_to_fp32(wr[j]) * qlm_bf16_to_fp32(xt[j]);
                sum += p;
            }
            y[t * ldy + r] = sum;
        }
}

static void dot_bf16_bf16_avx512(int64_t n, float *s, const void *x, const void *y) {
    bf16_tile(1, 1, n, s, 0, x, 0, y, 0);
}
static void dot4_bf16_avx512(int64_t n, float *s, const void *x, size_t bx, const void *y) {
    bf16_tile(4, 1, n, s, 0, x, bx, y, 0);
}
static void gemm4x2_bf16_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t rb, const void *x,
                                size_t xb) {
    bf16_tile(4, 2, n, y, ldy, w, rb, x, xb);
}
static void gemm4x4_bf16_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t rb, const void *x,
                                size_t xb) {
    bf16_tile(4, 4, n, y, ldy, w, rb, x, xb);
}



/* ------------------------------------------------- activation quantizers */

/* roundf (half away from zero), as the reference quantizer; the hardware's
 * nearest-even mode differs on exact halves. v - trunc(v) is exact. */
static inline __m512 round_away(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 up =
        _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u));
    const __m512 one = _mm512_castsi512_ps(_mm512_or_si512(sign, _mm512_castps_si512(_mm512_set1_ps(1.0f))));
    return _mm512_mask_add_ps(t, up, t, one);
}

/* One block of 32 into int8, bit-identical to quant_ref.c's q8_quantize:
 * amax ignores NaN like fmaxf (max_ps returns its second operand when the
 * first is NaN), NaN quantizes to 0, results clamp to [-127, 127]. */
static float q8_block(const float *x, int8_t *qs, int *sum) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    __m512 amax = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_setzero_ps());
    amax = _mm512_max_ps(_mm512_abs_ps(v1), amax);
    const float d = _mm512_reduce_max_ps(amax) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    __m512i q[2];
    const __m512 v[2] = {v0, v1};
    for (int k = 0; k < 2; k++) {
        __m512 r = round_away(_mm512_mul_ps(v[k], _mm512_set1_ps(id)));
        r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(r, r, _CMP_ORD_Q), r); /* NaN -> 0 */
        r = _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
        q[k] = _mm512_cvttps_epi32(r);
    }
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q[0], q[1]));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtsepi32_epi8(q[0]));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtsepi32_epi8(q[1]));
    return d;
}

QLM_CPU_Q8_QUANTIZERS(avx512, q8_block)

/* ------------------------------------------------------------------ table */

static const qlm_cpu_kernels kernels = {
    .dot = {[QLM_TYPE_F32] = dot_f32_avx512,
            [QLM_TYPE_Q2_K] = qlm_dot_q2_k_q8_k_avx512,
            [QLM_TYPE_Q3_K] = qlm_dot_q3_k_q8_k_avx512,
            [QLM_TYPE_IQ4_XS] = qlm_dot_iq4_xs_q8_k_avx512,
            [QLM_TYPE_TQ1_0] = qlm_dot_tq1_0_q8_k_avx512,
            [QLM_TYPE_TQ2_0] = qlm_dot_tq2_0_q8_k_avx512,
            [QLM_TYPE_Q5_0] = qlm_dot_q5_0_q8_0_avx512,
            [QLM_TYPE_Q5_1] = qlm_dot_q5_1_q8_1_avx512,
            [QLM_TYPE_IQ4_NL] = qlm_dot_iq4_nl_q8_0_avx512,
            [QLM_TYPE_MXFP4] = qlm_dot_mxfp4_q8_0_avx512,
            [QLM_TYPE_F16] = dot_f16_avx512,
            [QLM_TYPE_BF16] = dot_bf16_bf16_avx512,
            [QLM_TYPE_Q4_0] = dot_q4_0_q8_0_avx512,
            [QLM_TYPE_Q4_1] = dot_q4_1_q8_1_avx512,
            [QLM_TYPE_Q8_0] = dot_q8_0_q8_0_avx512,
            [QLM_TYPE_Q4_K] = qlm_dot_q4_k_avx512,
            [QLM_TYPE_Q5_K] = qlm_dot_q5_k_avx512,
            [QLM_TYPE_Q6_K] = qlm_dot_q6_k_avx512},
    .dot4 = {[QLM_TYPE_F32] = dot4_f32_avx512,
             [QLM_TYPE_Q5_0] = qlm_dot4_q5_0_q8_0_avx512,
             [QLM_TYPE_Q5_1] = qlm_dot4_q5_1_q8_1_avx512,
             [QLM_TYPE_IQ4_NL] = qlm_dot4_iq4_nl_q8_0_avx512,
             [QLM_TYPE_MXFP4] = qlm_dot4_mxfp4_q8_0_avx512,
             [QLM_TYPE_F16] = dot4_f16_avx512,
             [QLM_TYPE_BF16] = dot4_bf16_avx512,
             [QLM_TYPE_Q4_1] = dot4_q4_1_q8_1_avx512,
             [QLM_TYPE_Q8_0] = dot4_q8_0_q8_0_avx512},
    .dot_decode = {[QLM_TYPE_F32] = qlm_dot_f32_avx2, [QLM_TYPE_F16] = qlm_dot_f16_avx2,
                   [QLM_TYPE_BF16] = qlm_dot_bf16_avx2},
    .gemm4x4 = {[QLM_TYPE_F32] = gemm4x4_f32_avx512,
                [QLM_TYPE_F16] = gemm4x4_f16_avx512,
                [QLM_TYPE_BF16] = gemm4x4_bf16_avx512,
                [QLM_TYPE_Q4_K] = qlm_gemm4x4_q4_k_avx512,
                [QLM_TYPE_Q5_K] = qlm_gemm4x4_q5_k_avx512,
                [QLM_TYPE_Q6_K] = qlm_gemm4x4_q6_k_avx512},
    .gemm4x2 = {[QLM_TYPE_F32] = gemm4x2_f32_avx512,
                [QLM_TYPE_F16] = gemm4x2_f16_avx512,
                [QLM_TYPE_BF16] = gemm4x2_bf16_avx512,
                [QLM_TYPE_Q4_K] = qlm_gemm4x2_q4_k_avx512,
                [QLM_TYPE_Q5_K] = qlm_gemm4x2_q5_k_avx512,
                [QLM_TYPE_Q6_K] = qlm_gemm4x2_q6_k_avx512},
    .quantize = {[QLM_TYPE_Q8_0] = quantize_q8_0_avx512, [QLM_TYPE_Q8_1] = quantize_q8_1_avx512,
                 [QLM_TYPE_Q8_K] = qlm_quantize_q8_k_avx512,
                 [QLM_TYPE_BF16] = qlm_quantize_bf16_avx2},
    .gemm_r16 = {[QLM_TYPE_Q4_0] = qlm_gemm_r16_q4_0_avx512,
                 [QLM_TYPE_Q5_0] = qlm_gemm_r16_q5_0_avx512,
                 [QLM_TYPE_IQ4_NL] = qlm_gemm_r16_iq4_nl_avx512,
                 [QLM_TYPE_MXFP4] = qlm_gemm_r16_mxfp4_avx512,
                 [QLM_TYPE_Q4_1] = qlm_gemm_r16_q4_1_avx512,
                 [QLM_TYPE_Q8_0] = qlm_gemm_r16_q8_0_avx512,
                 [QLM_TYPE_Q4_K] = qlm_gemm_r16_q4_k_avx512,
                 [QLM_TYPE_Q5_K] = qlm_gemm_r16_q5_k_avx512,
                 [QLM_TYPE_Q6_K] = qlm_gemm_r16_q6_k_avx512,
                 [QLM_TYPE_Q5_1] = qlm_gemm_r16_q5_1_avx512,
                 [QLM_TYPE_IQ4_XS] = qlm_gemm_r16_iq4_xs_avx512,
                 [QLM_TYPE_Q2_K] = qlm_gemm_r16_q2_k_avx512,
                 [QLM_TYPE_Q3_K] = qlm_gemm_r16_q3_k_avx512,
                 [QLM_TYPE_TQ2_0] = qlm_gemm_r16_tq2_0_avx512,
                 [QLM_TYPE_F16] = qlm_gemm_r16_f16_avx512,
                 [QLM_TYPE_BF16] = qlm_gemm_r16_bf16_avx512,
                 [QLM_TYPE_F32] = qlm_gemm_r16_f32_avx512},
    .quantize_act8 = quantize_act8_avx512,
};

void qlm_quantize_act8_avx512(const float *x, void *dst, int64_t n) { quantize_act8_avx512(x, dst, n); }

QLM_CPU_MATMUL_ENTRY_POINTS(avx512, kernels)

/* The reference's lane order (ref.c): partial sum j of the squares of
 * x[8i + j]; 16 values a step, values i .. i + 7 then i + 8 .. i + 15 into
 * the 8 double lanes. */
void qlm_cpu_rmsnorm_avx512(float *out, const float *x, const float *w, int64_t n, float eps) {
    __m512d acc = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i), sq = _mm512_mul_ps(v, v);
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sq), 1))));
    }
    double lane[8];
    _mm512_storeu_pd(lane, acc);
    for (int64_t k = i; k < n; k++) lane[k % 8] += (double)(x[k] * x[k]);
    const float scale = qlm_cpu_rmsnorm_scale(lane, n, eps);
    const __m512 vs = _mm512_set1_ps(scale);
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs), _mm512_loadu_ps(w + i)));
    for (; i < n; i++) out[i] = x[i] * scale * w[i];
}

const qlm_ops qlm_ops_avx512 = {
    .name = "avx512",
    .r16_types = QLM_R16_TYPES_SIMD | QLM_R16_TYPES_K | QLM_R16_TYPES_FLOAT,
    .matmul = matmul_avx512,
    .matmul_n = matmul_n_avx512,
    .rmsnorm = qlm_cpu_rmsnorm_avx512,
    .rope = qlm_cpu_rope_ref,
    .attention_head = qlm_cpu_attention_head_avx2, /* AVX2 code; AVX-512 CPUs run it */
    .attention_heads = qlm_cpu_attention_heads_avx512,
    .swiglu = qlm_cpu_swiglu_avx2, /* AVX2 code, as attention */
    .geglu = qlm_cpu_geglu_avx2,
    .to_f16 = qlm_cpu_to_f16_avx2,
    .round_f16 = qlm_cpu_round_f16_avx2,
};
