/* attention_testing.h - host-array entry points to the CUDA attention kernels
 * (kernels/cuda/attention.cuh) for the C test suite: they upload, run on
 * the default stream, synchronize and download. n_past travels as a device
 * int, as in the forward pass's captured graph. */
#ifndef QLM_CUDA_ATTENTION_TESTING_H
#define QLM_CUDA_ATTENTION_TESTING_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out (n_tok, n_head * head_dim) = attention of q (n_tok, n_head * head_dim)
 * over the caches k_cache, v_cache ((n_ctx, n_head_kv * head_dim) F16
 * halves when kv_is_f16, else floats), qlm_cu_attention's kernel choice.
 * Returns 0 on success; otherwise nonzero with the reason in msg. */
int qlm_cuda_test_attention(const float *q, const void *k_cache, const void *v_cache, int kv_is_f16, int n_tok,
                            int n_past, int n_ctx, int n_head, int n_head_kv, int head_dim, float scale, int window,
                            float *out, char *msg, size_t msg_len);

/* The same with the kernel forced: 0 automatic, 1 split-KV (decode), 2 flash
 * (prefill), so that both kernels run on every shape. */
int qlm_cuda_test_attention_kernel(int kernel, const float *q, const void *k_cache, const void *v_cache,
                                   int kv_is_f16, int n_tok, int n_past, int n_ctx, int n_head, int n_head_kv,
                                   int head_dim, float scale, int window, float *out, char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif
#endif
