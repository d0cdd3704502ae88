// forward.cu - the transformer step on the device, the same steps in the
// same order as engine/forward.c (read that file first): per layer the QKV
// matmuls, biases, Q/K norms, RoPE, the cache store, attention, the output
// projection and the residual; then the FFN; then the output head. Every
// kernel is enqueued on the context's stream; nothing here waits for the
// device, so the one-token step can be captured into a graph (context.cu).
#include "attention.cuh"
#include "backend.cuh"
#include "ops.cuh"

static cudaError_t matmul(qlm_cuda_ctx *cc, const qlm_cu_weight *w, const float *x, int32_t n_tok, float *y) {
    return qlm_cu_matmul(cc->blas, cc->stream, w, x, n_tok, y, cc->mm_scratch);
}

// q, k, v of n_tok tokens after the QKV matmuls: biases, per-head norms,
// RoPE, Q rounded as the F16 cache path does, then K and V into the cache.
static cudaError_t qkv_finish(qlm_cuda_ctx *cc, int il, int32_t n_tok) {
    const qlm_hparams *hp = &cc->cm->model->hp;
    const qlm_cu_layer *l = &cc->cm->layers[il];
    const cudaStream_t s = cc->stream;
    const int64_t q_dim = (int64_t)hp->n_head * hp->head_dim, kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    if (l->bq) QLM_CU_TRY(qlm_cu_add_bias(s, cc->q, l->bq, n_tok, q_dim));
    if (l->bk) QLM_CU_TRY(qlm_cu_add_bias(s, cc->k, l->bk, n_tok, kv_dim));
    if (l->bv) QLM_CU_TRY(qlm_cu_add_bias(s, cc->v, l->bv, n_tok, kv_dim));
    if (l->q_norm) QLM_CU_TRY(qlm_cu_rmsnorm(s, cc->q, cc->q, l->q_norm, n_tok * hp->n_head, hp->head_dim, hp->rms_eps));
    if (l->k_norm)
        QLM_CU_TRY(qlm_cu_rmsnorm(s, cc->k, cc->k, l->k_norm, n_tok * hp->n_head_kv, hp->head_dim, hp->rms_eps));
    const float *theta = l->swa ? cc->theta_swa : cc->theta;
    const int neox = hp->rope_style == QLM_ROPE_NEOX;
    QLM_CU_TRY(qlm_cu_rope(s, cc->q, n_tok, hp->n_head, hp->head_dim, hp->n_rot, theta, cc->d_n_past, 0.0f, neox));
    QLM_CU_TRY(qlm_cu_rope(s, cc->k, n_tok, hp->n_head_kv, hp->head_dim, hp->n_rot, theta, cc->d_n_past, 0.0f, neox));
    if (cc->kv_f16) QLM_CU_TRY(qlm_cu_round_f16(s, cc->q, n_tok * q_dim));
    const size_t layer = (size_t)il * cc->ctx->n_ctx * kv_dim * (cc->kv_f16 ? 2 : 4);
    return qlm_cu_kv_store(s, (char *)cc->k_cache + layer, (char *)cc->v_cache + layer, cc->k, cc->v, n_tok, kv_dim,
                           cc->d_n_past, cc->kv_f16);
}

static cudaError_t attention_block(qlm_cuda_ctx *cc, int il, int32_t n_tok, const float *next_norm) {
    const qlm_hparams *hp = &cc->cm->model->hp;
    const qlm_cu_layer *l = &cc->cm->layers[il];
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    QLM_CU_TRY(matmul(cc, &l->wq, cc->xb, n_tok, cc->q));
    QLM_CU_TRY(matmul(cc, &l->wk, cc->xb, n_tok, cc->k));
    QLM_CU_TRY(matmul(cc, &l->wv, cc->xb, n_tok, cc->v));
    QLM_CU_TRY(qkv_finish(cc, il, n_tok));
    const size_t layer = (size_t)il * cc->ctx->n_ctx * kv_dim * (cc->kv_f16 ? 2 : 4);
    QLM_CU_TRY(qlm_cu_attention(cc->stream, cc->att, cc->q, (char *)cc->k_cache + layer, (char *)cc->v_cache + layer,
                         cc->kv_f16, n_tok, cc->d_n_past, cc->ctx->n_ctx, hp->n_head, hp->n_head_kv, hp->head_dim,
                         hp->attn_scale, l->swa ? hp->n_swa : 0, cc->att_scratch));
    QLM_CU_TRY(matmul(cc, &l->wo, cc->att, n_tok, cc->xb));
    return qlm_cu_residual(cc->stream, cc->x, cc->xb, l->attn_post_norm, next_norm, n_tok, hp->n_embd, hp->rms_eps);
}

static cudaError_t ffn_block(qlm_cuda_ctx *cc, int il, int32_t n_tok, const float *next_norm) {
    const qlm_hparams *hp = &cc->cm->model->hp;
    const qlm_cu_layer *l = &cc->cm->layers[il];
    QLM_CU_TRY(matmul(cc, &l->gate, cc->xb, n_tok, cc->hb));
    QLM_CU_TRY(matmul(cc, &l->up, cc->xb, n_tok, cc->hb2));
    QLM_CU_TRY(qlm_cu_glu(cc->stream, cc->hb, cc->hb, cc->hb2, (int64_t)n_tok * hp->n_ff, hp->ffn_act == QLM_FFN_GELU_TANH));
    QLM_CU_TRY(matmul(cc, &l->down, cc->hb, n_tok, cc->xb));
    return qlm_cu_residual(cc->stream, cc->x, cc->xb, l->ffn_post_norm, next_norm, n_tok, hp->n_embd, hp->rms_eps);
}

// logits of the last token (or all of them with logits_all) into cc->logits.
static cudaError_t output_logits(qlm_cuda_ctx *cc, int32_t n_tok) {
    const qlm_hparams *hp = &cc->cm->model->hp;
    const int32_t first = cc->ctx->logits_all ? 0 : n_tok - 1, n = n_tok - first;
    QLM_CU_TRY(qlm_cu_rmsnorm(cc->stream, cc->xb, cc->x + (int64_t)first * hp->n_embd, cc->cm->output_norm, n, hp->n_embd,
                       hp->rms_eps));
    QLM_CU_TRY(matmul(cc, &cc->cm->output, cc->xb, n, cc->logits));
    if (hp->logit_softcap > 0.0f)
        QLM_CU_TRY(qlm_cu_softcap(cc->stream, cc->logits, (int64_t)n * hp->n_vocab, hp->logit_softcap));
    return cudaSuccess;
}

// x holds the n_tok scaled embeddings (the host computes them: one row per
// token, from the CPU's copy of token_embd).
cudaError_t qlm_cu_forward_enqueue(qlm_cuda_ctx *cc, int32_t n_tok, int want_logits) {
    const qlm_cuda_model *cm = cc->cm;
    const qlm_hparams *hp = &cm->model->hp;
    if (cm->n_layers > 0)
        QLM_CU_TRY(qlm_cu_rmsnorm(cc->stream, cc->xb, cc->x, cm->layers[0].attn_norm, n_tok, hp->n_embd, hp->rms_eps));
    for (int il = 0; il < cm->n_layers; il++) {
        const qlm_cu_layer *l = &cm->layers[il];
        QLM_CU_TRY(attention_block(cc, il, n_tok, l->ffn_norm));
        // the next layer's input norm; none after the device's last layer
        QLM_CU_TRY(ffn_block(cc, il, n_tok, il + 1 < cm->n_layers ? cm->layers[il + 1].attn_norm : NULL));
    }
    if (cm->has_output && want_logits) QLM_CU_TRY(output_logits(cc, n_tok));
    return cudaSuccess;
}
