/* kernels.h - internals shared by the CPU kernel tables (not for the engine):
 * the matmul driver every ISA table uses, and the reference ops that SIMD
 * tables reuse where they have no faster version yet. */
#ifndef QLM_CPU_KERNELS_H
#define QLM_CPU_KERNELS_H

#include "ops.h"

/* Quantizes n activations (n a multiple of the block size) into dst. */
typedef void (*qlm_quantize_fn)(const float *x, void *dst, int64_t n);

/* One ISA's matmul building blocks. Indexed by qlm_type: dot by the weight
 * type (its activations are the type table's vec_dot_type), quantize by the
 * activation type. NULL entries fall back to the type table's reference. */
/* s[k] = dot(row k, y) for the 4 weight rows at x + k * row_bytes. Each row's
 * result must equal what the 1-row dot gives (same operations in the same
 * order): which rows get blocked depends on the row count, and results must
 * not. Blocking 4 rows reuses each activation load 4 times and keeps 4
 * independent weight streams in flight. */
typedef void (*qlm_vec_dot4_fn)(int64_t n, float *s, const void *x, size_t row_bytes, const void *y);

typedef struct qlm_cpu_kernels {
    qlm_vec_dot_fn dot[QLM_TYPE_COUNT];
    qlm_vec_dot4_fn dot4[QLM_TYPE_COUNT]; /* optional */
    qlm_quantize_fn quantize[QLM_TYPE_COUNT];
} qlm_cpu_kernels;

/* y (n_tok, rows) = x (n_tok, n_in) @ W^T: activations converted once, then
 * rows split statically over threads (each row summed by one thread in a
 * fixed order, so the thread count never changes a result). */
void qlm_cpu_matmul(const qlm_cpu_kernels *k, const qlm_tensor *w, const float *x, int64_t n_tok, float *y,
                    void *scratch, int n_threads);

void qlm_cpu_rmsnorm_ref(float *out, const float *x, const float *w, int64_t n, float eps);
void qlm_cpu_rope_ref(float *x, int n_head, int head_dim, int n_rot, const float *theta, float pos,
                      qlm_rope_style style);
void qlm_cpu_attention_head_ref(float *out, const float *q, const void *k, const void *v, qlm_type kv_type,
                                int64_t n_kv, int64_t stride, int head_dim, float scale, float *scratch);
/* F16-cache attention with F16C (avx2.c): shared by the AVX2 and AVX-512 tables. */
void qlm_cpu_attention_head_avx2(float *out, const float *q, const void *k, const void *v, qlm_type kv_type,
                                 int64_t n_kv, int64_t stride, int head_dim, float scale, float *scratch);
void qlm_cpu_softmax_ref(float *scores, int64_t n, int round_f16);
void qlm_cpu_swiglu_ref(float *h, const float *gate, const float *up, int64_t n);

#endif
