// ops.cuh - the forward pass's small kernels on the GPU: norms, RoPE, the
// cache store, activations, residual adds. All pointers are device pointers;
// rows are contiguous. Kernels that depend on the position read n_past from
// device memory (d_n_past) so that a captured decode graph replays at every
// position unchanged. Each returns the launch's error (cudaGetLastError).
#ifndef QLM_CUDA_OPS_CUH
#define QLM_CUDA_OPS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

// out (n_rows, n) = x / rms(x) * w, each row on its own (out may be x).
cudaError_t qlm_cu_rmsnorm(cudaStream_t s, float *out, const float *x, const float *w, int64_t n_rows, int64_t n,
                           float eps);

// The end of a block for each of n_tok tokens (rows of n): xb gets its post
// norm (post_w, may be NULL), x += xb, then xb = rmsnorm(x) * next_w (none
// when next_w is NULL).
cudaError_t qlm_cu_residual(cudaStream_t s, float *x, float *xb, const float *post_w, const float *next_w,
                            int64_t n_tok, int64_t n, float eps);

// x (n_rows, n) += b (n) on every row.
cudaError_t qlm_cu_add_bias(cudaStream_t s, float *x, const float *b, int64_t n_rows, int64_t n);

// x (n) *= f
cudaError_t qlm_cu_scale(cudaStream_t s, float *x, int64_t n, float f);

// x (n) = cap * tanh(x / cap)
cudaError_t qlm_cu_softcap(cudaStream_t s, float *x, int64_t n, float cap);

// x (n) rounded to F16 and back (llama.cpp's F16-cache path rounds Q so).
cudaError_t qlm_cu_round_f16(cudaStream_t s, float *x, int64_t n);

// Rotates the n_head heads of each of n_tok tokens (rows of n_head *
// head_dim) by position *d_n_past + t (d_n_past NULL: every row by pos0, as
// the context shift does): the first n_rot dims of each head, pair i by
// angle pos * theta[i]; neox: pairs (i, i + n_rot/2), else (2i, 2i+1).
cudaError_t qlm_cu_rope(cudaStream_t s, float *x, int64_t n_tok, int n_head, int head_dim, int n_rot,
                        const float *theta, const int32_t *d_n_past, float pos0, int neox);

// Token t's k and v rows (kv_dim each) into the layer's caches at row
// *d_n_past + t, as F16 (kv_f16) or F32.
cudaError_t qlm_cu_kv_store(cudaStream_t s, void *k_cache, void *v_cache, const float *k, const float *v,
                            int64_t n_tok, int64_t kv_dim, const int32_t *d_n_past, int kv_f16);

// h (n) = act(gate (n)) * up (n): SiLU (gelu = 0) or GELU-tanh (gelu = 1).
cudaError_t qlm_cu_glu(cudaStream_t s, float *h, const float *gate, const float *up, int64_t n, int gelu);

// dst (n) = src (n), each F16 (…_f16 = 1) or F32, converted as they differ.
cudaError_t qlm_cu_convert(cudaStream_t s, void *dst, int dst_f16, const void *src, int src_f16, int64_t n);

#endif
