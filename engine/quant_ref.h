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

#endif
