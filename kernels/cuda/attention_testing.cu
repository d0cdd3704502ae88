// attention_testing.cu - see attention_testing.h.
#include <stdio.h>

#include "attention.cuh"
#include "attention_testing.h"

namespace {

// Device buffers of one call, freed together.
struct Buffers {
    float *q = nullptr, *out = nullptr;
    void *k = nullptr, *v = nullptr, *scratch = nullptr;
    int32_t *n_past = nullptr;
    ~Buffers() {
        cudaFree(q), cudaFree(out), cudaFree(k), cudaFree(v), cudaFree(scratch), cudaFree(n_past);
    }
};

int fail(char *msg, size_t msg_len, const char *what, cudaError_t e) {
    if (msg && msg_len) snprintf(msg, msg_len, "%s: %s", what, cudaGetErrorString(e));
    return 1;
}

} // namespace

extern "C" int qlm_cuda_test_attention_kernel(int kernel, const float *q, const void *k_cache, const void *v_cache,
                                              int kv_is_f16, int n_tok, int n_past, int n_ctx, int n_head,
                                              int n_head_kv, int head_dim, float scale, int window, float *out,
                                              char *msg, size_t msg_len) {
    if (n_tok <= 0 || n_ctx <= 0 || n_head <= 0 || n_head_kv <= 0 || head_dim <= 0)
        return fail(msg, msg_len, "bad test shape", cudaErrorInvalidValue);
    const size_t q_bytes = (size_t)n_tok * n_head * head_dim * sizeof(float);
    const size_t kv_bytes = (size_t)n_ctx * n_head_kv * head_dim * (kv_is_f16 ? 2 : 4);
    // The split-KV partials for n_tok tokens, whichever kernel runs.
    const size_t scratch_bytes = qlm_cu_attention_split_scratch_size(n_tok, n_head, head_dim, n_ctx);
    Buffers b;
    cudaError_t e;
    if ((e = cudaMalloc((void **)&b.q, q_bytes)) != cudaSuccess || (e = cudaMalloc((void **)&b.out, q_bytes)) != cudaSuccess ||
        (e = cudaMalloc(&b.k, kv_bytes)) != cudaSuccess || (e = cudaMalloc(&b.v, kv_bytes)) != cudaSuccess ||
        (e = cudaMalloc(&b.scratch, scratch_bytes ? scratch_bytes : 1)) != cudaSuccess ||
        (e = cudaMalloc((void **)&b.n_past, sizeof(int32_t))) != cudaSuccess)
        return fail(msg, msg_len, "cudaMalloc", e);
    const int32_t n_past32 = n_past;
    if ((e = cudaMemcpy(b.q, q, q_bytes, cudaMemcpyHostToDevice)) != cudaSuccess ||
        (e = cudaMemcpy(b.k, k_cache, kv_bytes, cudaMemcpyHostToDevice)) != cudaSuccess ||
        (e = cudaMemcpy(b.v, v_cache, kv_bytes, cudaMemcpyHostToDevice)) != cudaSuccess ||
        (e = cudaMemcpy(b.n_past, &n_past32, sizeof n_past32, cudaMemcpyHostToDevice)) != cudaSuccess)
        return fail(msg, msg_len, "upload", e);
    // Poison the output: a row the kernels forget to write shows as NaN.
    if ((e = cudaMemset(b.out, 0xff, q_bytes)) != cudaSuccess) return fail(msg, msg_len, "cudaMemset", e);
    e = qlm_cu_attention_with((qlm_cu_attn_kernel)kernel, 0, b.out, b.q, b.k, b.v, kv_is_f16, n_tok, b.n_past, n_ctx,
                              n_head, n_head_kv, head_dim, scale, window, b.scratch);
    if (e != cudaSuccess) return fail(msg, msg_len, "qlm_cu_attention", e);
    if ((e = cudaDeviceSynchronize()) != cudaSuccess) return fail(msg, msg_len, "kernel", e);
    if ((e = cudaMemcpy(out, b.out, q_bytes, cudaMemcpyDeviceToHost)) != cudaSuccess)
        return fail(msg, msg_len, "download", e);
    return 0;
}

extern "C" int qlm_cuda_test_attention(const float *q, const void *k_cache, const void *v_cache, int kv_is_f16,
                                       int n_tok, int n_past, int n_ctx, int n_head, int n_head_kv, int head_dim,
                                       float scale, int window, float *out, char *msg, size_t msg_len) {
    return qlm_cuda_test_attention_kernel(QLM_CU_ATTN_AUTO, q, k_cache, v_cache, kv_is_f16, n_tok, n_past, n_ctx,
                                          n_head, n_head_kv, head_dim, scale, window, out, msg, msg_len);
}
