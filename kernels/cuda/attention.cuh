// attention.cuh - causal grouped-query attention on the GPU, the CUDA
// counterpart of engine/forward.c's attention() over qlm_ops.attention_heads.
//
// The n_tok new queries (q, out: (n_tok, n_head * head_dim) floats) attend
// over one layer's KV cache (k_cache, v_cache: (n_ctx, n_head_kv * head_dim),
// F16 or F32, position 0 first). Token t of the batch is at position
// n_past + t and sees positions [first, n_past + t], where with
// n_kv = n_past + t + 1, first = window > 0 && n_kv > window ? n_kv - window : 0.
// Query head h uses KV head h / (n_head / n_head_kv).
//
// n_past is read on the device (*d_n_past): the decode step is captured once
// into a CUDA graph and replayed at every position, so neither the grids nor
// any host-side decision depend on it. A device-side n_past with
// n_past < 0 or n_past + n_tok > n_ctx makes every output NaN (no cache
// access out of range).
#ifndef QLM_CUDA_ATTENTION_CUH
#define QLM_CUDA_ATTENTION_CUH

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#define QLM_CU_ATTN_MAX_HEAD_DIM 256
#define QLM_CU_ATTN_MAX_CTX (1 << 22)
// Positions per split-KV chunk: one block each (per token and KV head).
#define QLM_CU_ATTN_CHUNK 256
// Batches up to this many tokens take the split-KV kernel, larger ones the
// flash (prefill) kernel.
#define QLM_CU_ATTN_SPLIT_MAX_TOK 8

// Which kernel qlm_cu_attention_with runs (qlm_cu_attention: AUTO).
typedef enum qlm_cu_attn_kernel {
    QLM_CU_ATTN_AUTO = 0,     // split-KV for n_tok <= QLM_CU_ATTN_SPLIT_MAX_TOK, else flash
    QLM_CU_ATTN_SPLIT_KV = 1, // split-KV flash decoding + combine
    QLM_CU_ATTN_FLASH = 2     // FlashAttention-2 style query tiles
} qlm_cu_attn_kernel;

// Device scratch bytes qlm_cu_attention needs for batches of up to
// n_tok_max tokens (the split-KV partials); 0 for unsupported shapes.
size_t qlm_cu_attention_scratch_size(int n_tok_max, int n_head, int head_dim, int n_ctx);

// out = softmax(scale * q K^T) V as above, on stream s. scratch: device
// memory of qlm_cu_attention_scratch_size(>= n_tok, ...) bytes (may be NULL
// when that is 0). Returns cudaErrorInvalidValue, launching nothing, for
// unsupported shapes: head_dim not a multiple of 8 in [8, 256], n_head not a
// multiple of n_head_kv, n_ctx outside [1, QLM_CU_ATTN_MAX_CTX],
// n_tok > n_ctx, window < 0, a NULL pointer; n_tok == 0 does nothing.
cudaError_t qlm_cu_attention(cudaStream_t s, float *out, const float *q, const void *k_cache, const void *v_cache,
                             int kv_is_f16, int n_tok, const int32_t *d_n_past, int n_ctx, int n_head, int n_head_kv,
                             int head_dim, float scale, int window, void *scratch);

// The same with the kernel chosen by the caller (tests run both kernels on
// every shape). scratch: qlm_cu_attention_split_scratch_size(n_tok, ...)
// bytes for QLM_CU_ATTN_SPLIT_KV, whatever n_tok is.
cudaError_t qlm_cu_attention_with(qlm_cu_attn_kernel kernel, cudaStream_t s, float *out, const float *q,
                                  const void *k_cache, const void *v_cache, int kv_is_f16, int n_tok,
                                  const int32_t *d_n_past, int n_ctx, int n_head, int n_head_kv, int head_dim,
                                  float scale, int window, void *scratch);

// Bytes of split-KV partials for n_tok tokens (0 for unsupported shapes).
size_t qlm_cu_attention_split_scratch_size(int n_tok, int n_head, int head_dim, int n_ctx);

#endif
