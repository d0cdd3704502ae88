/* context.h - one inference stream: KV cache, scratch buffers, position. */
#ifndef QLM_CONTEXT_H
#define QLM_CONTEXT_H

#include "model.h"

struct qlm_context {
    qlm_errbuf err;
    qlm_model *model;
    const qlm_ops *ops;
    int32_t n_ctx, n_batch, n_past;
    int n_threads;
    int logits_all;
    qlm_type kv_type;   /* F32 or F16 */
    size_t kv_elem;     /* bytes per KV element */
    void *k_cache;      /* (n_layer, n_ctx, n_head_kv * head_dim), post-RoPE keys */
    void *v_cache;      /* same layout */
    float *theta;       /* (n_rot / 2) RoPE angle per unit position */
    float *theta_swa;   /* the same for sliding-window layers (their own base) */
    /* activations for up to n_batch tokens */
    float *x;           /* (n_batch, n_embd) residual stream */
    float *xb;          /* (n_batch, n_embd) normed input / branch output */
    float *q;           /* (n_batch, n_head * head_dim) */
    float *k, *v;       /* (n_batch, n_head_kv * head_dim) */
    float *att;         /* (n_batch, n_head * head_dim) attention output */
    float *hb, *hb2;    /* (n_batch, n_ff) FFN gate / up */
    float *scores;      /* (n_threads, heads per KV head, n_ctx) attention scores */
    void *act_scratch;  /* activations converted for integer dot products */
    void *row_tmp;      /* one embedding row's bytes, unpacked from R16 */
    float *logits;      /* (n_logits, n_vocab) */
    int32_t n_logits;   /* rows valid in logits after the last decode */
    struct qlm_cuda_ctx *cuda; /* the GPU layers' cache and buffers; NULL without */
};

/* Runs the model over n_tok <= n_batch tokens at positions n_past.., writes
 * their K/V to the cache and, if want_logits, logits of the last token (or all
 * with logits_all). Does not advance n_past. Fails only on the GPU (the
 * message is in ctx->err). */
qlm_status qlm_forward(qlm_context *ctx, const int32_t *tokens, int32_t n_tok, int want_logits);

/* The RoPE angles layer il rotates by. */
static inline const float *qlm_layer_theta(const qlm_context *ctx, int il) {
    return ctx->model->layers[il].swa ? ctx->theta_swa : ctx->theta;
}

#endif
