// backend.cuh - the CUDA backend's state: the model's device weights
// (model.cu) and a context's device buffers (context.cu, forward.cu).
#ifndef QLM_CUDA_BACKEND_CUH
#define QLM_CUDA_BACKEND_CUH

#include <cuda_runtime.h>

extern "C" {
#include "context.h"
#include "cuda.h"
}
#include "matmul.cuh"

// One layer's weights on the device. Norm weights and biases are F32
// vectors (NULL when the architecture has none).
struct qlm_cu_layer {
    qlm_cu_weight wq, wk, wv, wo, gate, up, down;
    const float *attn_norm, *ffn_norm;
    const float *bq, *bk, *bv;
    const float *q_norm, *k_norm;
    const float *attn_post_norm, *ffn_post_norm;
    int swa;
};

struct qlm_cuda_model {
    const qlm_model *model;
    int n_layers;            // layers [0, n_layers) are on the device
    int has_output;          // output norm + head too
    qlm_cu_layer *layers;
    qlm_cu_weight output;
    const float *output_norm;
    void *arena;             // every weight, one allocation
    size_t arena_bytes;
};

struct qlm_cuda_ctx {
    qlm_cuda_model *cm;
    const qlm_context *ctx;  // n_ctx, n_batch, kv type, logits_all, theta
    cudaStream_t stream;
    qlm_cu_blas *blas;
    int kv_f16;
    // device buffers, n_batch rows each (see context.h for the shapes)
    float *x, *xb, *q, *k, *v, *att, *hb, *hb2, *logits;
    void *k_cache, *v_cache; // (n_layers, n_ctx, kv_dim)
    float *theta, *theta_swa;
    int32_t *d_n_past;
    void *mm_scratch, *att_scratch;
    // pinned host staging for the graph's copies: the position, the decode
    // step's input row and its output (logits or the residual row)
    int32_t *h_n_past;
    float *h_x, *h_out;
    // the one-token decode step, captured on first use
    cudaGraphExec_t decode_graph;
    int decode_graph_logits; // what the captured graph was built for
};

// Returns from the calling function at the first failed enqueue.
#define QLM_CU_TRY(expr)                       \
    do {                                       \
        cudaError_t e_ = (expr);               \
        if (e_ != cudaSuccess) return e_;      \
    } while (0)

// The step itself (forward.cu): enqueues everything for n_tok tokens whose
// embeddings are in cc->x, n_past already in d_n_past.
cudaError_t qlm_cu_forward_enqueue(qlm_cuda_ctx *cc, int32_t n_tok, int want_logits);

#endif
