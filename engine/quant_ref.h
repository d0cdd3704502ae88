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
void qlm_tq1_0_to_float(const void *src, float *dst, int64_t n);
void qlm_tq1_0_from_float(const float *src, void *dst, int64_t n);
void qlm_tq2_0_to_float(const void *src, float *dst, int64_t n);
void qlm_tq2_0_from_float(const float *src, void *dst, int64_t n);
void qlm_vec_dot_tq1_0_q8_k(int64_t n, float *s, const void *x, const void *y);
void qlm_vec_dot_tq2_0_q8_k(int64_t n, float *s, const void *x, const void *y);

#endif
