/* quant_ref.c - scalar reference conversions and dot products for the
 * formats in the type table (F32, F16, BF16, Q4_0, Q4_1, Q8_0, Q8_1).
 *
 * The quantizers reproduce ggml's *_ref quantizers bit for bit (as mirrored by
 * gguf-py's gguf/quants.py, our test oracle), so a file quantized by qlm equals
 * one quantized by llama.cpp. Every step is single-precision float in the same
 * order as ggml; this relies on the compiler not fusing a*b+c into an FMA,
 * which GCC and Clang guarantee in ISO C mode (-std=c11 implies
 * -ffp-contract=off on GCC; Clang's default "on" only fuses within one
 * expression, so the products below are kept in their own statements).
 *
 * The dot products follow ggml's generic (non-SIMD) code: integer sums inside
 * a block, one float multiply-add per block, blocks accumulated in order in a
 * float. SIMD kernels reorder the sums; the tests bound both against a
 * double-precision reference. */
#include "quant_ref.h"
#include "types.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ float types */

void qlm_f32_to_float(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void qlm_f32_from_float(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

/* Half-precision rows are accessed as uint16_t: GGUF aligns tensor data to
 * 32 bytes (general.alignment, a multiple of 8), so 2-byte alignment holds. */
void qlm_f16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = qlm_fp16_to_fp32(h[i]);
}

void qlm_f16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = qlm_fp32_to_fp16(src[i]);
}

void qlm_bf16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = qlm_bf16_to_fp32(h[i]);
}

void qlm_bf16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = qlm_fp32_to_bf16(src[i]);
}

/* ------------------------------------------------------------------ Q4_0 */

/* Truncates v (a float already offset to be non-negative) into [0, hi].
 * Clamping in float first keeps the conversion defined for NaN/Inf inputs,
 * where ggml's result is unspecified anyway; for finite inputs it equals
 * ggml's MIN(hi, (int8_t)v). */
static inline uint8_t trunc_clamp(float v, float hi) {
    if (!(v >= 0.0f)) return 0;
    if (v > hi) return (uint8_t)hi;
    return (uint8_t)v;
}

/* Symmetric 4-bit: the value of largest magnitude (sign kept) maps to -8, so
 * the full range [-8, 7] is used and the extreme value is exact. */
static void q4_0_quantize_block(const float *x, qlm_block_q4_0 *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QLM_QK4_0; j++) {
        if (fabsf(x[j]) > amax) { /* strict: the first of tied magnitudes wins */
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = qlm_fp32_to_fp16(d);
    for (int j = 0; j < QLM_QK4_0 / 2; j++) {
        const float v0 = x[j] * id;
        const float v1 = x[j + QLM_QK4_0 / 2] * id;
        /* + 8.5 then truncation = round half up of (v + 8) for v + 8 >= 0 */
        const uint8_t q0 = trunc_clamp(v0 + 8.5f, 15.0f);
        const uint8_t q1 = trunc_clamp(v1 + 8.5f, 15.0f);
        b->qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
}

void qlm_q4_0_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QLM_QK4_0; i++) q4_0_quantize_block(src + i * QLM_QK4_0, &b[i]);
}

void qlm_q4_0_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / QLM_QK4_0; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d);
        float *y = dst + i * QLM_QK4_0;
        for (int j = 0; j < QLM_QK4_0 / 2; j++) {
            y[j] = d * (float)((b[i].qs[j] & 0x0f) - 8);
            y[j + QLM_QK4_0 / 2] = d * (float)((b[i].qs[j] >> 4) - 8);
        }
    }
}

/* ------------------------------------------------------------------ Q4_1 */

/* Asymmetric 4-bit: min maps to 0 and max to 15, x = q*d + m. */
static void q4_1_quantize_block(const float *x, qlm_block_q4_1 *b) {
    float min = INFINITY, max = -INFINITY;
    for (int j = 0; j < QLM_QK4_1; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = qlm_fp32_to_fp16(d);
    b->m = qlm_fp32_to_fp16(min);
    for (int j = 0; j < QLM_QK4_1 / 2; j++) {
        const float v0 = (x[j] - min) * id;
        const float v1 = (x[j + QLM_QK4_1 / 2] - min) * id;
        const uint8_t q0 = trunc_clamp(v0 + 0.5f, 15.0f);
        const uint8_t q1 = trunc_clamp(v1 + 0.5f, 15.0f);
        b->qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
}

void qlm_q4_1_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QLM_QK4_1; i++) q4_1_quantize_block(src + i * QLM_QK4_1, &b[i]);
}

void qlm_q4_1_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / QLM_QK4_1; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d), m = qlm_fp16_to_fp32(b[i].m);
        float *y = dst + i * QLM_QK4_1;
        for (int j = 0; j < QLM_QK4_1 / 2; j++) {
            const float p0 = d * (float)(b[i].qs[j] & 0x0f); /* two roundings, as ggml */
            const float p1 = d * (float)(b[i].qs[j] >> 4);
            y[j] = p0 + m;
            y[j + QLM_QK4_1 / 2] = p1 + m;
        }
    }
}

/* ----------------------------------------------------------- Q8_0 / Q8_1 */

/* round(v) half away from zero into [-127, 127]; NaN gives 0 instead of UB. */
static inline int8_t round_q8(float v) {
    const float r = roundf(v);
    if (!(r > -127.0f)) return r != r ? 0 : -127;
    if (r > 127.0f) return 127;
    return (int8_t)r;
}

/* Symmetric 8-bit: d = max|x| / 127. Returns the float (not yet fp16) scale,
 * which Q8_1's s uses, and the sum of the quants. */
static float q8_quantize(const float *x, int8_t *qs, int *sum) {
    float amax = 0.0f;
    for (int j = 0; j < QLM_QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int acc = 0;
    for (int j = 0; j < QLM_QK8_0; j++) {
        qs[j] = round_q8(x[j] * id);
        acc += qs[j];
    }
    *sum = acc;
    return d;
}

void qlm_q8_0_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QLM_QK8_0; i++) {
        int sum;
        b[i].d = qlm_fp32_to_fp16(q8_quantize(src + i * QLM_QK8_0, b[i].qs, &sum));
    }
}

void qlm_q8_0_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QLM_QK8_0; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d);
        for (int j = 0; j < QLM_QK8_0; j++) dst[i * QLM_QK8_0 + j] = (float)b[i].qs[j] * d;
    }
}

/* As Q8_0 plus s = d*sum(q), with d the unrounded float scale (ggml's
 * quantize_row_q8_1_ref), so s carries one fp16 rounding only. */
void qlm_q8_1_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QLM_QK8_1; i++) {
        int sum;
        const float d = q8_quantize(src + i * QLM_QK8_1, b[i].qs, &sum);
        b[i].d = qlm_fp32_to_fp16(d);
        b[i].s = qlm_fp32_to_fp16((float)sum * d);
    }
}

void qlm_q8_1_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q8_1 *b = src;
    for (int64_t i = 0; i < n / QLM_QK8_1; i++) {
        const float d = qlm_fp16_to_fp32(b[i].d);
        for (int j = 0; j < QLM_QK8_1; j++) dst[i * QLM_QK8_1 + j] = (float)b[i].qs[j] * d;
    }
}

/* ---------------------------------------------------------- dot products */

/* Float dots: one product and one float add per element, left to right, so
 * the rounding error is bounded by the running sum (the test checks exactly
 * that bound). ggml's scalar fallback sums in double; we keep float so the
 * reference behaves like the SIMD kernels (float lanes) it is compared to. */
void qlm_vec_dot_f32_f32(int64_t n, float *s, const void *x, const void *y) {
    const float *a = x, *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        const float p = a[i] * b[i];
        sum += p;
    }
    *s = sum;
}

void qlm_vec_dot_f16_f32(int64_t n, float *s, const void *x, const void *y) {
    const uint16_t *a = x;
    const float *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        const float p = qlm_fp16_to_fp32(a[i]) * b[i]; /* the widening is exact */
        sum += p;
    }
    *s = sum;
}

void qlm_vec_dot_bf16_f32(int64_t n, float *s, const void *x, const void *y) {
    const uint16_t *a = x;
    const float *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        const float p = qlm_bf16_to_fp32(a[i]) * b[i];
        sum += p;
    }
    *s = sum;
}

/* BF16 weights take BF16 activations (ggml's vec_dot_type for BF16): each
 * product of two bfloats is exact in float; the sum rounds. */
void qlm_vec_dot_bf16_bf16(int64_t n, float *s, const void *x, const void *y) {
    const uint16_t *a = x, *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        const float p = qlm_bf16_to_fp32(a[i]) * qlm_bf16_to_fp32(b[i]);
        sum += p;
    }
    *s = sum;
}

/* Quant dots: the integer block sum is exact (|sum| <= 32*8*127 fits easily);
 * only the per-block scaling and the accumulation round. */
void qlm_vec_dot_q4_0_q8_0(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q4_0 *a = x;
    const qlm_block_q8_0 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK4_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QLM_QK4_0 / 2; j++) {
            sumi += ((a[i].qs[j] & 0x0f) - 8) * b[i].qs[j];
            sumi += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + QLM_QK4_0 / 2];
        }
        const float t = (float)sumi * qlm_fp16_to_fp32(a[i].d) * qlm_fp16_to_fp32(b[i].d);
        sum += t;
    }
    *s = sum;
}

/* sum_j (d_x q_j + m_x)(d_y p_j) = d_x d_y sum(q p) + m_x (d_y sum p), and the
 * last factor is the precomputed s of the Q8_1 block. */
void qlm_vec_dot_q4_1_q8_1(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q4_1 *a = x;
    const qlm_block_q8_1 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK4_1; i++) {
        int sumi = 0;
        for (int j = 0; j < QLM_QK4_1 / 2; j++) {
            sumi += (a[i].qs[j] & 0x0f) * b[i].qs[j];
            sumi += (a[i].qs[j] >> 4) * b[i].qs[j + QLM_QK4_1 / 2];
        }
        const float dd = qlm_fp16_to_fp32(a[i].d) * qlm_fp16_to_fp32(b[i].d);
        const float t0 = dd * (float)sumi;
        const float t1 = qlm_fp16_to_fp32(a[i].m) * qlm_fp16_to_fp32(b[i].s);
        sum += t0 + t1;
    }
    *s = sum;
}

void qlm_vec_dot_q8_0_q8_0(int64_t n, float *s, const void *x, const void *y) {
    const qlm_block_q8_0 *a = x;
    const qlm_block_q8_0 *b = y;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QLM_QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QLM_QK8_0; j++) sumi += a[i].qs[j] * b[i].qs[j];
        const float t = (float)sumi * (qlm_fp16_to_fp32(a[i].d) * qlm_fp16_to_fp32(b[i].d));
        sum += t;
    }
    *s = sum;
}

/* ------------------------------------------------------------------ Q8_K */

/* ggml's round to nearest (ties to even) for |v| <= 2^22: adding 1.5 * 2^23
 * leaves the rounded integer in the low mantissa bits. */
static inline int nearest_int(float v) {
    const float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* The value of largest magnitude (sign kept, first of ties) maps to -127, so
 * d = max / -127 and every quant is in [-127, 127] (ggml's
 * quantize_row_q8_K_ref, bit for bit). NaN or Inf inputs give a NaN or zero
 * scale; the quants are then clamped garbage, never undefined behaviour. */
static void q8_k_quantize_block(const float *x, qlm_block_q8_k *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QLM_QK_K; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    memset(b, 0, sizeof *b);
    if (amax == 0.0f || !(amax <= 3.4e38f)) return;
    const float iscale = -127.0f / max;
    for (int j = 0; j < QLM_QK_K; j++) {
        const float v = iscale * x[j];
        const int q = v == v && fabsf(v) <= 4194303.0f ? nearest_int(v) : 0;
        b->qs[j] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
    for (int j = 0; j < QLM_QK_K / 16; j++) {
        int sum = 0;
        for (int i = 0; i < 16; i++) sum += b->qs[j * 16 + i];
        b->bsums[j] = (int16_t)sum;
    }
    b->d = 1.0f / iscale;
}

void qlm_q8_k_from_float(const float *src, void *dst, int64_t n) {
    qlm_block_q8_k *b = dst;
    for (int64_t i = 0; i < n / QLM_QK_K; i++) q8_k_quantize_block(src + i * QLM_QK_K, &b[i]);
}

void qlm_q8_k_to_float(const void *src, float *dst, int64_t n) {
    const qlm_block_q8_k *b = src;
    for (int64_t i = 0; i < n / QLM_QK_K; i++)
        for (int j = 0; j < QLM_QK_K; j++) dst[i * QLM_QK_K + j] = b[i].d * (float)b[i].qs[j];
}
