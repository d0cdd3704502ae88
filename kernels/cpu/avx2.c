/* avx2.c - AVX2 + FMA + F16C kernels (Haswell / Zen 1 and later). Compiled
 * with -mavx2 -mfma -mf16c and called only after the cpuid/xgetbv probe says
 * so (select.c). Provides the per-type dot products and activation
 * quantizers; the matmul driver (matmul.c) does the rest.
 *
 * Integer dots use the maddubs trick: _mm256_maddubs_epi16 multiplies
 * unsigned by signed bytes, so a signed x is fed as |x| with its sign moved
 * onto y (_mm256_sign_epi8). Pair sums stay far below int16 saturation: Q4
 * gives |x| <= 8 (or 15 unsigned), Q8 |x| <= 128, and our activations are
 * clamped to [-127, 127], so 2 * 128 * 127 < 32767. */
#include <immintrin.h>
#include <math.h>

#include "exp.h"
#include "kernels.h"

/* ---------------------------------------------------------------- helpers */

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax_ps(__m256 v) { /* lanes hold no NaN here */
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* Q4 block layout (ggml): byte j holds value j in its low nibble and value
 * j + 16 in its high nibble, so low nibbles then high nibbles give the 32
 * values in order, matching the 32 int8 of the Q8 activation block. */
static inline __m256i q4_unpack(const uint8_t *qs) {
    const __m128i b = _mm_loadu_si128((const __m128i *)qs), m4 = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(b, m4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
    return _mm256_set_m128i(hi, lo);
}

/* 8 int32 partial sums of u (unsigned bytes) times s (signed bytes), as float. */
static inline __m256 dot_u8_i8(__m256i u, __m256i s) {
    const __m256i p16 = _mm256_maddubs_epi16(u, s);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

static inline __m256 dot_i8_i8(__m256i x, __m256i y) {
    return dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* ------------------------------------------------------- quant dot products */

static void dot_q4_0_q8_0_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q4_0 *x = vx;
    const qlm_block_q8_0 *y = vy;
    const int64_t nb = n / QLM_QK4_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    /* two independent accumulators hide the FMA latency */
    for (; i + 1 < nb; i += 2) {
        const __m256i x0 = _mm256_sub_epi8(q4_unpack(x[i].qs), _mm256_set1_epi8(8));
        const __m256i x1 = _mm256_sub_epi8(q4_unpack(x[i + 1].qs), _mm256_set1_epi8(8));
        const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        const __m256 d1 = _mm256_set1_ps(_cvtsh_ss(x[i + 1].d) * _cvtsh_ss(y[i + 1].d));
        acc0 = _mm256_fmadd_ps(d0, dot_i8_i8(x0, _mm256_loadu_si256((const __m256i *)y[i].qs)), acc0);
        acc1 = _mm256_fmadd_ps(d1, dot_i8_i8(x1, _mm256_loadu_si256((const __m256i *)y[i + 1].qs)), acc1);
    }
    if (i < nb) {
        const __m256i x0 = _mm256_sub_epi8(q4_unpack(x[i].qs), _mm256_set1_epi8(8));
        const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        acc0 = _mm256_fmadd_ps(d0, dot_i8_i8(x0, _mm256_loadu_si256((const __m256i *)y[i].qs)), acc0);
    }
    *s = hsum_ps(_mm256_add_ps(acc0, acc1));
}

/* sum (d_x q + m_x)(d_y p) = d_x d_y sum(q p) + m_x s_y with s_y = d_y sum(p)
 * stored in the Q8_1 block; q is unsigned, so maddubs takes it directly. */
static void dot_q4_1_q8_1_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q4_1 *x = vx;
    const qlm_block_q8_1 *y = vy;
    const int64_t nb = n / QLM_QK4_1;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float accm = 0.0f;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        const __m256 d1 = _mm256_set1_ps(_cvtsh_ss(x[i + 1].d) * _cvtsh_ss(y[i + 1].d));
        const __m256 p0 = dot_u8_i8(q4_unpack(x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        const __m256 p1 = dot_u8_i8(q4_unpack(x[i + 1].qs), _mm256_loadu_si256((const __m256i *)y[i + 1].qs));
        acc0 = _mm256_fmadd_ps(d0, p0, acc0);
        acc1 = _mm256_fmadd_ps(d1, p1, acc1);
        const float m0 = _cvtsh_ss(x[i].m) * _cvtsh_ss(y[i].s);
        const float m1 = _cvtsh_ss(x[i + 1].m) * _cvtsh_ss(y[i + 1].s);
        accm += m0 + m1;
    }
    if (i < nb) {
        const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        const __m256 p0 = dot_u8_i8(q4_unpack(x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc0 = _mm256_fmadd_ps(d0, p0, acc0);
        const float m0 = _cvtsh_ss(x[i].m) * _cvtsh_ss(y[i].s);
        accm += m0;
    }
    *s = hsum_ps(_mm256_add_ps(acc0, acc1)) + accm;
}

/* Four Q4_1 rows against one activation row, each row's operations in the
 * same order as dot_q4_1_q8_1_avx2 (so the results are identical). */
static void dot4_q4_1_q8_1_avx2(int64_t n, float *s, const void *vx, size_t bx, const void *vy) {
    const qlm_block_q8_1 *y = vy;
    const qlm_block_q4_1 *x[4];
    for (int k = 0; k < 4; k++)
        x[k] = (const qlm_block_q4_1 *)((const char *)vx + k * bx);
    const int64_t nb = n / QLM_QK4_1;
    __m256 acc0[4], acc1[4];
    float accm[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int k = 0; k < 4; k++)
        acc0[k] = acc1[k] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256i y1 = _mm256_loadu_si256((const __m256i *)y[i + 1].qs);
        const float dy0 = _cvtsh_ss(y[i].d), dy1 = _cvtsh_ss(y[i + 1].d);
        const float sy0 = _cvtsh_ss(y[i].s), sy1 = _cvtsh_ss(y[i + 1].s);
        for (int k = 0; k < 4; k++) {
            const qlm_block_q4_1 *b = x[k] + i;
            acc0[k] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b[0].d) * dy0),
                                      dot_u8_i8(q4_unpack(b[0].qs), y0), acc0[k]);
            acc1[k] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b[1].d) * dy1),
                                      dot_u8_i8(q4_unpack(b[1].qs), y1), acc1[k]);
            const float m0 = _cvtsh_ss(b[0].m) * sy0, m1 = _cvtsh_ss(b[1].m) * sy1;
            accm[k] += m0 + m1;
        }
    }
    for (int k = 0; k < 4; k++) {
        if (i < nb) {
            const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(x[k][i].d) * _cvtsh_ss(y[i].d));
            const __m256 p0 = dot_u8_i8(q4_unpack(x[k][i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
            acc0[k] = _mm256_fmadd_ps(d0, p0, acc0[k]);
            const float m0 = _cvtsh_ss(x[k][i].m) * _cvtsh_ss(y[i].s);
            accm[k] += m0;
        }
        s[k] = hsum_ps(_mm256_add_ps(acc0[k], acc1[k])) + accm[k];
    }
}

static void dot_q8_0_q8_0_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const qlm_block_q8_0 *x = vx;
    const qlm_block_q8_0 *y = vy;
    const int64_t nb = n / QLM_QK8_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        const __m256 d1 = _mm256_set1_ps(_cvtsh_ss(x[i + 1].d) * _cvtsh_ss(y[i + 1].d));
        const __m256 p0 = dot_i8_i8(_mm256_loadu_si256((const __m256i *)x[i].qs),
                                    _mm256_loadu_si256((const __m256i *)y[i].qs));
        const __m256 p1 = dot_i8_i8(_mm256_loadu_si256((const __m256i *)x[i + 1].qs),
                                    _mm256_loadu_si256((const __m256i *)y[i + 1].qs));
        acc0 = _mm256_fmadd_ps(d0, p0, acc0);
        acc1 = _mm256_fmadd_ps(d1, p1, acc1);
    }
    if (i < nb) {
        const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(x[i].d) * _cvtsh_ss(y[i].d));
        const __m256 p0 = dot_i8_i8(_mm256_loadu_si256((const __m256i *)x[i].qs),
                                    _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc0 = _mm256_fmadd_ps(d0, p0, acc0);
    }
    *s = hsum_ps(_mm256_add_ps(acc0, acc1));
}

/* Four Q8_0 rows, each in dot_q8_0_q8_0_avx2's order (identical results). */
static void dot4_q8_0_q8_0_avx2(int64_t n, float *s, const void *vx, size_t bx, const void *vy) {
    const qlm_block_q8_0 *y = vy;
    const qlm_block_q8_0 *x[4];
    for (int k = 0; k < 4; k++)
        x[k] = (const qlm_block_q8_0 *)((const char *)vx + k * bx);
    const int64_t nb = n / QLM_QK8_0;
    __m256 acc0[4], acc1[4];
    for (int k = 0; k < 4; k++)
        acc0[k] = acc1[k] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256i y1 = _mm256_loadu_si256((const __m256i *)y[i + 1].qs);
        const float dy0 = _cvtsh_ss(y[i].d), dy1 = _cvtsh_ss(y[i + 1].d);
        for (int k = 0; k < 4; k++) {
            const qlm_block_q8_0 *b = x[k] + i;
            const __m256 p0 = dot_i8_i8(_mm256_loadu_si256((const __m256i *)b[0].qs), y0);
            const __m256 p1 = dot_i8_i8(_mm256_loadu_si256((const __m256i *)b[1].qs), y1);
            acc0[k] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b[0].d) * dy0), p0, acc0[k]);
            acc1[k] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b[1].d) * dy1), p1, acc1[k]);
        }
    }
    for (int k = 0; k < 4; k++) {
        if (i < nb) {
            const __m256 d0 = _mm256_set1_ps(_cvtsh_ss(x[k][i].d) * _cvtsh_ss(y[i].d));
            const __m256 p0 = dot_i8_i8(_mm256_loadu_si256((const __m256i *)x[k][i].qs),
                                        _mm256_loadu_si256((const __m256i *)y[i].qs));
            acc0[k] = _mm256_fmadd_ps(d0, p0, acc0[k]);
        }
        s[k] = hsum_ps(_mm256_add_ps(acc0[k], acc1[k]));
    }
}

/* ------------------------------------------------------- float dot products */

/* Widens 8 halves / bfloats to float: F16C is exact; a bfloat is the top
 * half of a float, so a 16-bit shift is too. */
static inline __m256 load8_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load8_bf16(const uint16_t *p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

static inline __m256 load8_f32(const void *p, int64_t i) { return _mm256_loadu_ps((const float *)p + i); }
static inline __m256 load8_h(const void *p, int64_t i) { return load8_f16((const uint16_t *)p + i); }
static inline __m256 load8_b(const void *p, int64_t i) { return load8_bf16((const uint16_t *)p + i); }
static inline float at_f32(const void *p, int64_t i) { return ((const float *)p)[i]; }
static inline float at_h(const void *p, int64_t i) { return _cvtsh_ss(((const uint16_t *)p)[i]); }
static inline float at_b(const void *p, int64_t i) { return qlm_bf16_to_fp32(((const uint16_t *)p)[i]); }

/* Four accumulators of 8 lanes over 32 values a step, then 8 at a time, then
 * a scalar tail (rows of float types have any length). */
#define FLOAT_DOT2(NAME, LOAD, AT, LOADY, ATY)                                                                            \
    static void NAME(int64_t n, float *s, const void *vx, const void *vy) {                                  \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                          \
        int64_t i = 0;                                                                                       \
        for (; i + 32 <= n; i += 32) {                                                                       \
            a0 = _mm256_fmadd_ps(LOAD(vx, i), LOADY(vy, i), a0);                                   \
            a1 = _mm256_fmadd_ps(LOAD(vx, i + 8), LOADY(vy, i + 8), a1);                           \
            a2 = _mm256_fmadd_ps(LOAD(vx, i + 16), LOADY(vy, i + 16), a2);                         \
            a3 = _mm256_fmadd_ps(LOAD(vx, i + 24), LOADY(vy, i + 24), a3);                         \
        }                                                                                                    \
        for (; i + 8 <= n; i += 8)                                                                           \
            a0 = _mm256_fmadd_ps(LOAD(vx, i), LOADY(vy, i), a0);                                   \
        float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));                    \
        for (; i < n; i++) {                                                                                 \
            const float p = AT(vx, i) * ATY(vy, i);                                                                \
            sum += p;                                                                                        \
        }                                                                                                    \
        *s = sum;                                                                                            \
    }

#define FLOAT_DOT(NAME, LOAD, AT) FLOAT_DOT2(NAME, LOAD, AT, load8_f32, at_f32)

FLOAT_DOT(dot_f32_f32_avx2, load8_f32, at_f32)
FLOAT_DOT(dot_f16_f32_avx2, load8_h, at_h)
FLOAT_DOT2(dot_bf16_bf16_avx2, load8_b, at_b, load8_b, at_b) /* activations as BF16, as ggml */

/* Exported for the AVX-512 table's decode path (kernels.h). */
void qlm_dot_f32_avx2(int64_t n, float *s, const void *x, const void *y) { dot_f32_f32_avx2(n, s, x, y); }
void qlm_dot_f16_avx2(int64_t n, float *s, const void *x, const void *y) { dot_f16_f32_avx2(n, s, x, y); }
void qlm_dot_bf16_avx2(int64_t n, float *s, const void *x, const void *y) { dot_bf16_bf16_avx2(n, s, x, y); }

/* ------------------------------------------------- activation quantizers */

/* roundf (half away from zero), which the reference quantizer uses; the
 * hardware's nearest-even mode differs on exact halves. v - trunc(v) is
 * exact, so the comparison with 0.5 is too. */
static inline __m256 round_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

/* One block of 32 into int8, bit-identical to quant_ref.c's q8_quantize:
 * amax ignores NaN like fmaxf (max_ps returns its second operand when the
 * first is NaN), NaN quantizes to 0, results clamp to [-127, 127]. */
static float q8_block(const float *x, int8_t *qs, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4], amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        amax = _mm256_max_ps(_mm256_andnot_ps(sign, v[k]), amax);
    }
    const float d = hmax_ps(amax) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    __m256i q[4];
    for (int k = 0; k < 4; k++) {
        __m256 r = round_away(_mm256_mul_ps(v[k], _mm256_set1_ps(id)));
        r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q)); /* NaN -> 0 */
        r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
        q[k] = _mm256_cvttps_epi32(r);
    }
    *sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    /* packs work within 128-bit lanes: dwords come out as 0,4,1,5,2,6,3,7 */
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    _mm256_storeu_si256((__m256i *)qs,
                        _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    return d;
}

QLM_CPU_Q8_QUANTIZERS(avx2, q8_block)

/* Activations to BF16 exactly as qlm_fp32_to_bf16: round to nearest even on
 * the bits, NaN made quiet (the hardware's vcvtneps2bf16 would also flush
 * denormals, so it is not used). */
void qlm_quantize_bf16_avx2(const float *x, void *dst, int64_t n) {
    const __m256i abs = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    uint16_t *out = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(v, 16), _mm256_set1_epi32(1));
        __m256i r = _mm256_srli_epi32(_mm256_add_epi32(v, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(v, abs), inf);
        const __m256i q = _mm256_or_si256(_mm256_srli_epi32(v, 16), _mm256_set1_epi32(0x40));
        r = _mm256_blendv_epi8(r, q, nan);
        const __m256i packed = _mm256_packus_epi32(r, r); /* 16-bit lanes, per 128-bit half */
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08)));
    }
    for (; i < n; i++) out[i] = qlm_fp32_to_bf16(x[i]);
}

/* -------------------------------------------------------------- attention */

/* qlm_expf_ref on 8 lanes: the same operations in the same order. */
static inline __m256 exp8(__m256 x) {
    const __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(QLM_LOG2E)), _mm256_set1_ps(QLM_ROUND_MAGIC));
    const __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(QLM_ROUND_MAGIC));
    const __m256 r1 = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(QLM_LN2_HI)));
    const __m256 r = _mm256_sub_ps(r1, _mm256_mul_ps(n, _mm256_set1_ps(QLM_LN2_LO)));
    __m256 p = _mm256_set1_ps(QLM_EXP_P0);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(QLM_EXP_P1));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(QLM_EXP_P2));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(QLM_EXP_P3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(QLM_EXP_P4));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(QLM_EXP_P5));
    const __m256 e = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.0f));
    /* n is in [-126, 128] here (clamped below); exponent bits n + 127 */
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(e, _mm256_castsi256_ps(bits));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(QLM_EXP_HI), _CMP_GT_OQ));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(QLM_EXP_LO), _CMP_LT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); /* NaN stays NaN */
}

/* The reference's maximum: NaNs are skipped (maxps returns its second
 * operand, the running maximum, when the first is NaN), and which of two
 * equal-valued zeros wins cannot change a softmax (exp(s - +0) == exp(s - -0)). */
float qlm_cpu_max_avx2(const float *s, int64_t n) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t p = 0;
    for (; p + 8 <= n; p += 8) vmax = _mm256_max_ps(_mm256_loadu_ps(s + p), vmax);
    float lane[8], max = -INFINITY;
    _mm256_storeu_ps(lane, vmax);
    for (int j = 0; j < 8; j++)
        if (lane[j] > max) max = lane[j];
    for (; p < n; p++)
        if (s[p] > max) max = s[p];
    return max;
}

/* qlm_cpu_softmax_ref's order: exps lane-wise, the double partial sums
 * p % 8 in two registers (lanes 0-3, 4-7), a scalar tail into the same
 * lanes, then the 4, 2, 1 fold. */
void qlm_cpu_softmax_avx2(float *s, int64_t n, int round_f16) {
    const float max = qlm_cpu_max_avx2(s, n);
    const __m256 vmax = _mm256_set1_ps(max);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int64_t p = 0;
    for (; p + 8 <= n; p += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + p), vmax));
        _mm256_storeu_ps(s + p, e);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double lane[8];
    _mm256_storeu_pd(lane, lo);
    _mm256_storeu_pd(lane + 4, hi);
    for (; p < n; p++) {
        s[p] = qlm_expf_ref(s[p] - max);
        lane[p % 8] += (double)s[p];
    }
    for (int w = 4; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) lane[j] += lane[j + w];
    const __m256 inv = _mm256_set1_ps((float)(1.0 / lane[0]));
    for (p = 0; p + 8 <= n; p += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(s + p), inv);
        if (round_f16) v = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        _mm256_storeu_ps(s + p, v);
    }
    for (; p < n; p++) {
        s[p] *= _mm256_cvtss_f32(inv);
        if (round_f16) s[p] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(s[p]));
    }
}

/* vcvtps2ph rounds to nearest even like qlm_fp32_to_fp16 (NaNs may differ
 * in payload, never in being NaN). */
void qlm_cpu_to_f16_avx2(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    qlm_cpu_to_f16_ref(dst + i, src + i, n - i);
}

void qlm_cpu_round_f16_avx2(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i),
                                                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
    qlm_cpu_round_f16_ref(x + i, n - i);
}

/* The reference's lane order (ref.c): partial sum j of the squares of
 * x[8i + j], lanes 0-3 in lo and 4-7 in hi. */
void qlm_cpu_rmsnorm_avx2(float *out, const float *x, const float *w, int64_t n, float eps) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i), sq = _mm256_mul_ps(v, v);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
    }
    double lane[8];
    _mm256_storeu_pd(lane, lo);
    _mm256_storeu_pd(lane + 4, hi);
    for (int64_t k = i; k < n; k++) lane[k % 8] += (double)(x[k] * x[k]);
    const float scale = qlm_cpu_rmsnorm_scale(lane, n, eps);
    const __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
    for (; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* h = silu(gate) * up with the reference's exp and operation order. */
void qlm_cpu_swiglu_avx2(float *h, const float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        const __m256 sg = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(h + i, _mm256_mul_ps(sg, _mm256_loadu_ps(up + i)));
    }
    qlm_cpu_swiglu_ref(h + i, gate + i, up + i, n - i);
}

/* h = gelu_tanh(gate) * up with the reference's operations in its order. */
void qlm_cpu_geglu_avx2(float *h, const float *gate, const float *up, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), c3 = _mm256_set1_ps(QLM_GELU_C3), k2 = _mm256_set1_ps(QLM_GELU_2K);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(gate + i);
        const __m256 c = _mm256_mul_ps(c3, _mm256_mul_ps(x, x));
        const __m256 z = _mm256_mul_ps(_mm256_mul_ps(k2, x), _mm256_add_ps(one, c));
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), z));
        const __m256 g = _mm256_div_ps(x, _mm256_add_ps(one, e));
        _mm256_storeu_ps(h + i, _mm256_mul_ps(g, _mm256_loadu_ps(up + i)));
    }
    qlm_cpu_geglu_ref(h + i, gate + i, up + i, n - i);
}

/* The reference's lane order (ref.c, dot16_kv): lanes 0-7 in a, 8-15 in b,
 * fused multiply-adds from 0, then the same pairwise fold. */
static float dot_f16_row(const float *q, const uint16_t *k, int head_dim) {
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    int d = 0;
    for (; d + 16 <= head_dim; d += 16) {
        a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8_f16(k + d), a);
        b = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), load8_f16(k + d + 8), b);
    }
    if (d < head_dim) /* head_dim % 16 == 8: the tail feeds lanes 0-7 */
        a = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load8_f16(k + d), a);
    const __m256 s8 = _mm256_add_ps(a, b);                                                   /* j + j+8 */
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1)); /* + 4 */
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));                                  /* + 2 */
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));                                /* + 1 */
}

/* out (hd) += sum_p scores[p] v[p], 64 dims (8 registers) at a time with the
 * positions inner: each V row is read once, contiguously, per chunk (the
 * reference walks V by columns). */
static void weighted_v_f16(float *out, const float *scores, const uint16_t *v, int64_t n_kv, int64_t stride,
                           int head_dim) {
    for (int d0 = 0; d0 < head_dim; d0 += 64) {
        const int nv = (head_dim - d0 < 64 ? head_dim - d0 : 64) / 8;
        __m256 acc[8];
        for (int j = 0; j < nv; j++)
            acc[j] = _mm256_setzero_ps();
        for (int64_t p = 0; p < n_kv; p++) {
            const __m256 w = _mm256_set1_ps(scores[p]);
            const uint16_t *vp = v + p * stride + d0;
            for (int j = 0; j < nv; j++)
                acc[j] = _mm256_fmadd_ps(w, load8_f16(vp + 8 * j), acc[j]); /* as the reference */
        }
        for (int j = 0; j < nv; j++)
            _mm256_storeu_ps(out + d0 + 8 * j, acc[j]);
    }
}

/* The reference's two passes with F16 K/V widened by F16C, in the
 * reference's operation order (the same bits); the softmax is the
 * reference's. F32 caches and head sizes that are not a multiple of 8 use
 * the reference. */
void qlm_cpu_attention_head_avx2(float *out, const float *q, const void *k, const void *v, qlm_type kv_type,
                                 int64_t n_kv, int64_t stride, int head_dim, float scale, float *scores) {
    if (kv_type != QLM_TYPE_F16 || head_dim % 8 != 0) {
        qlm_cpu_attention_head_ref(out, q, k, v, kv_type, n_kv, stride, head_dim, scale, scores);
        return;
    }
    for (int64_t p = 0; p < n_kv; p++)
        scores[p] = dot_f16_row(q, (const uint16_t *)k + p * stride, head_dim) * scale;
    qlm_cpu_softmax_avx2(scores, n_kv, 1);
    weighted_v_f16(out, scores, v, n_kv, stride, head_dim);
}

void qlm_cpu_attention_heads_avx2(float *out, const float *q, int n_heads, const void *k, const void *v,
                                  qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim, float scale,
                                  float *scratch) {
    for (int h = 0; h < n_heads; h++)
        qlm_cpu_attention_head_avx2(out + (int64_t)h * head_dim, q + (int64_t)h * head_dim, k, v, kv_type, n_kv,
                                    stride, head_dim, scale, scratch + h * n_kv);
}

/* ------------------------------------------------------------------ table */

static const qlm_cpu_kernels kernels = {
    .dot = {[QLM_TYPE_F32] = dot_f32_f32_avx2,
            [QLM_TYPE_Q2_K] = qlm_dot_q2_k_q8_k_avx2,
            [QLM_TYPE_Q3_K] = qlm_dot_q3_k_q8_k_avx2,
            [QLM_TYPE_IQ4_XS] = qlm_dot_iq4_xs_q8_k_avx2,
            [QLM_TYPE_TQ1_0] = qlm_dot_tq1_0_q8_k_avx2,
            [QLM_TYPE_TQ2_0] = qlm_dot_tq2_0_q8_k_avx2,
            [QLM_TYPE_Q5_0] = qlm_dot_q5_0_q8_0_avx2,
            [QLM_TYPE_Q5_1] = qlm_dot_q5_1_q8_1_avx2,
            [QLM_TYPE_IQ4_NL] = qlm_dot_iq4_nl_q8_0_avx2,
            [QLM_TYPE_MXFP4] = qlm_dot_mxfp4_q8_0_avx2,
            [QLM_TYPE_F16] = dot_f16_f32_avx2,
            [QLM_TYPE_BF16] = dot_bf16_bf16_avx2,
            [QLM_TYPE_Q4_0] = dot_q4_0_q8_0_avx2,
            [QLM_TYPE_Q4_1] = dot_q4_1_q8_1_avx2,
            [QLM_TYPE_Q8_0] = dot_q8_0_q8_0_avx2,
            [QLM_TYPE_Q4_K] = qlm_dot_q4_k_avx2,
            [QLM_TYPE_Q5_K] = qlm_dot_q5_k_avx2,
            [QLM_TYPE_Q6_K] = qlm_dot_q6_k_avx2},
    .dot4 = {[QLM_TYPE_Q5_0] = qlm_dot4_q5_0_q8_0_avx2,
             [QLM_TYPE_Q5_1] = qlm_dot4_q5_1_q8_1_avx2,
             [QLM_TYPE_IQ4_NL] = qlm_dot4_iq4_nl_q8_0_avx2,
             [QLM_TYPE_MXFP4] = qlm_dot4_mxfp4_q8_0_avx2,
             [QLM_TYPE_Q4_1] = dot4_q4_1_q8_1_avx2,
             [QLM_TYPE_Q8_0] = dot4_q8_0_q8_0_avx2},
    .quantize = {[QLM_TYPE_Q8_0] = quantize_q8_0_avx2, [QLM_TYPE_Q8_1] = quantize_q8_1_avx2,
                 [QLM_TYPE_Q8_K] = qlm_quantize_q8_k_avx2,
                 [QLM_TYPE_BF16] = qlm_quantize_bf16_avx2},
    .gemm_r16 = {[QLM_TYPE_Q4_0] = qlm_gemm_r16_q4_0_avx2,
                 [QLM_TYPE_Q4_1] = qlm_gemm_r16_q4_1_avx2,
                 [QLM_TYPE_Q8_0] = qlm_gemm_r16_q8_0_avx2,
                 [QLM_TYPE_Q5_0] = qlm_gemm_r16_q5_0_avx2,
                 [QLM_TYPE_IQ4_NL] = qlm_gemm_r16_iq4_nl_avx2,
                 [QLM_TYPE_MXFP4] = qlm_gemm_r16_mxfp4_avx2,
                 [QLM_TYPE_Q4_K] = qlm_gemm_r16_q4_k_avx2,
                 [QLM_TYPE_Q5_K] = qlm_gemm_r16_q5_k_avx2,
                 [QLM_TYPE_IQ4_XS] = qlm_gemm_r16_iq4_xs_avx2},
    .quantize_act8 = quantize_act8_avx2,
};

QLM_CPU_MATMUL_ENTRY_POINTS(avx2, kernels)

const qlm_ops qlm_ops_avx2 = {
    .name = "avx2",
    .r16_types = QLM_R16_TYPES_SIMD | QLM_R16_TYPES_K_AVX2,
    .matmul = matmul_avx2,
    .matmul_n = matmul_n_avx2,
    .rmsnorm = qlm_cpu_rmsnorm_avx2,
    .rope = qlm_cpu_rope_ref,
    .attention_head = qlm_cpu_attention_head_avx2,
    .attention_heads = qlm_cpu_attention_heads_avx2,
    .swiglu = qlm_cpu_swiglu_avx2,
    .geglu = qlm_cpu_geglu_avx2,
    .to_f16 = qlm_cpu_to_f16_avx2,
    .round_f16 = qlm_cpu_round_f16_avx2,
};
