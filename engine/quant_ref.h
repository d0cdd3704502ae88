/* quant_ref.h - the scalar reference conversions and dot products behind the
 * type table (engine/quant_ref.c). Only types.c and quant_ref.c include this:
 * everyone else goes through qlm_type_traits_get. */
#ifndef QLM_QUANT_REF_H
#define QLM_QUANT_REF_H

#include <stdint.h>

void qlm_f32_to_float(const void *src, float *dst, int64_t n);
void qlm_f32_from_float(const float *src, void *dst, int64_t n);
void qlm_f16_to_float(const void *src, float *dst, int64_t n);
void qlm_f16_from_float(const float *src, void *dst, int64_t n);
void qlm_bf16_to_float(const void *src, float *dst, int64_t n);
void qlm_bf16_from_float(const float *src, void *dst, int64_t n);
void qlm_q4_0_to_float(const void *src, float *dst, int64_t n);
void qlm_q4_0_from_float(const float *src, void *dst, int64_t n);
void qlm_q4_1_to_float(const void *src, float *dst, int64_t n);
void qlm_q4_1_from_float(const float *src, void *dst, int64_t n);
void qlm_q8_0_to_float(const void *src, float *dst, int64_t n);
void qlm_q8_0_from_float(const float *src, void *dst, int64_t n);
void qlm_q8_1_to_float(const void *src, float *dst, int64_t n);
void qlm_q8_1_from_float(const float *src, void *dst, int64_t n);
void qlm_q8_k_to_float(const void *src, float *dst, int64_t n);
void qlm_q8_k_from_float(const float *src, void *dst, int64_t n);
void qlm_vec_dot_f32_f32(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_f16_f32(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_bf16_f32(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_bf16_bf16(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_q4_0_q8_0(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_q4_1_q8_1(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_q8_0_q8_0(int64_t n, float *s, const void *x, const void *y);

/* K-quants Q4_K, Q5_K, Q6_K (engine/quant_ref_kquants.c); activations Q8_K. */
void qlm_q4_k_to_float(const void *src, float *dst, int64_t n);
void qlm_q4_k_from_float(const float *src, void *dst, int64_t n);
void qlm_q5_k_to_float(const void *src, float *dst, int64_t n);
void qlm_q5_k_from_float(const float *src, void *dst, int64_t n);
void qlm_q6_k_to_float(const void *src, float *dst, int64_t n);
void qlm_q6_k_from_float(const float *src, void *dst, int64_t n);
void qlm_vec_dot_q4_k_q8_k(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_q5_k_q8_k(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_q6_k_q8_k(int64_t n, float *s, const void *x, const void *y);
/* sum plus one Q4_K (Q5_K) block x dotted with one Q8_K block y, by the
 * row dot's operations: the row dot is a chain of these from 0. */
float qlm_dot_block_q4_k(float sum, const void *x, const void *y);
float qlm_dot_block_q5_k(float sum, const void *x, const void *y);
float qlm_dot_block_q6_k(float sum, const void *x, const void *y);

/* Q5_0, Q5_1, IQ4_NL, MXFP4 (engine/quant_ref_q5.c); activations Q8_0
 * (Q8_1 for Q5_1). */
void qlm_q5_0_to_float(const void *src, float *dst, int64_t n);
void qlm_q5_0_from_float(const float *src, void *dst, int64_t n);
void qlm_q5_1_to_float(const void *src, float *dst, int64_t n);
void qlm_q5_1_from_float(const float *src, void *dst, int64_t n);
void qlm_iq4_nl_to_float(const void *src, float *dst, int64_t n);
void qlm_iq4_nl_from_float(const float *src, void *dst, int64_t n);
void qlm_mxfp4_to_float(const void *src, float *dst, int64_t n);
void qlm_mxfp4_from_float(const float *src, void *dst, int64_t n);
void qlm_vec_dot_q5_0_q8_0(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_q5_1_q8_1(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_iq4_nl_q8_0(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_mxfp4_q8_0(int64_t n, float *s, const void *x, const void *y);

/* L[j] = the index of the qlm_kvalues_iq4nl value nearest to id * x[j]
 * (j < 32), exactly as ggml's best_index_int8 finds it with a binary search
 * (a tie goes to the larger value, NaN to 15), counted as the midpoints
 * between neighbours that the value is not below. IQ4_NL's and IQ4_XS's
 * quantizers need it 512 times per 32 values; the search's unpredictable
 * branches made them 10x slower than the other quantizers, and this form
 * vectorizes across j. Checked equal to ggml's on all 2^32 float bit
 * patterns: near a midpoint the differences ggml compares are exact, so
 * comparing with the midpoint is the same test. */
static inline void qlm_iq4nl_index32(const float *x, float id, uint8_t *L) {
    static const float mid[15] = {-115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f, -4.5f,
                                  7.0f,    19.0f,  31.5f,  45.5f,  61.0f,  79.0f,  101.0f};
    float a[32];
    int32_t l[32];
    for (int j = 0; j < 32; j++) a[j] = id * x[j], l[j] = 0;
    for (int k = 0; k < 15; k++)
        for (int j = 0; j < 32; j++) l[j] += !(a[j] < mid[k]);
    for (int j = 0; j < 32; j++) L[j] = (uint8_t)l[j];
}

/* Q2_K, Q3_K, IQ4_XS, TQ1_0, TQ2_0 (engine/quant_ref_kquants_low.c);
 * activations Q8_K. */
void qlm_q2_k_to_float(const void *src, float *dst, int64_t n);
void qlm_q2_k_from_float(const float *src, void *dst, int64_t n);
void qlm_q3_k_to_float(const void *src, float *dst, int64_t n);
void qlm_q3_k_from_float(const float *src, void *dst, int64_t n);
void qlm_iq4_xs_to_float(const void *src, float *dst, int64_t n);
void qlm_iq4_xs_from_float(const float *src, void *dst, int64_t n);
void qlm_vec_dot_q2_k_q8_k(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_q3_k_q8_k(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_iq4_xs_q8_k(int64_t n, float *s, const void *x, const void *y);
/* sum plus one Q2_K (Q3_K, IQ4_XS, TQ2_0) block . one Q8_K block (the row
 * dot's step). */
float qlm_dot_block_q2_k(float sum, const void *x, const void *y);
float qlm_dot_block_q3_k(float sum, const void *x, const void *y);
float qlm_dot_block_iq4_xs(float sum, const void *x, const void *y);
float qlm_dot_block_tq2_0(float sum, const void *x, const void *y);
void qlm_tq1_0_to_float(const void *src, float *dst, int64_t n);
void qlm_tq1_0_from_float(const float *src, void *dst, int64_t n);
void qlm_tq2_0_to_float(const void *src, float *dst, int64_t n);
void qlm_tq2_0_from_float(const float *src, void *dst, int64_t n);
/* The same n values (a multiple of 256) rewritten from TQ1_0 into TQ2_0
 * blocks, which give the same dot products bit for bit. */
void qlm_tq1_0_to_tq2_0(const void *src, void *dst, int64_t n);
void qlm_vec_dot_tq1_0_q8_k(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_tq2_0_q8_k(int64_t n, float *s, const void *x, const void *y);

#endif
