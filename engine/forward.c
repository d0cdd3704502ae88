/* forward.c - the transformer forward pass, shared by prompt processing
 * (many tokens) and decoding (one token) through n_tok. Every computation goes
 * through the ops table; this file knows shapes, not instructions. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "context.h"
#include "pack.h"

static void embed_tokens(qlm_context *ctx, const int32_t *tokens, int32_t n_tok) {
    const qlm_tensor *e = &ctx->model->tok_embd;
    const int64_t n_embd = ctx->model->hp.n_embd;
    for (int32_t i = 0; i < n_tok; i++) qlm_tensor_row_to_float(e, tokens[i], ctx->x + i * n_embd, ctx->row_tmp);
}

/* Stores the new K/V rows (n_tok, kv_dim) at positions n_past.. of layer il. */
static void kv_store(qlm_context *ctx, int il, int32_t n_tok) {
    const qlm_hparams *hp = &ctx->model->hp;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    const size_t off = ((size_t)il * ctx->n_ctx + ctx->n_past) * kv_dim;
    if (ctx->kv_type == QLM_TYPE_F32) {
        memcpy((float *)ctx->k_cache + off, ctx->k, n_tok * kv_dim * sizeof(float));
        memcpy((float *)ctx->v_cache + off, ctx->v, n_tok * kv_dim * sizeof(float));
        return;
    }
    ctx->ops->to_f16((uint16_t *)ctx->k_cache + off, ctx->k, n_tok * kv_dim);
    ctx->ops->to_f16((uint16_t *)ctx->v_cache + off, ctx->v, n_tok * kv_dim);
}

/* Causal grouped-query attention of the n_tok new queries over the cache.
 * A work item is the query heads of one token that share a KV head (K and V
 * are read once for all of them), split further when there are too few
 * items to keep every thread busy (decoding one token). */
static void attention(qlm_context *ctx, int il, int32_t n_tok) {
    const qlm_hparams *hp = &ctx->model->hp;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim, q_dim = (int64_t)hp->n_head * hp->head_dim;
    const int group = hp->n_head / hp->n_head_kv; /* query heads per KV head */
    const float scale = 1.0f / sqrtf((float)hp->head_dim);
    const char *kl = (const char *)ctx->k_cache + (size_t)il * ctx->n_ctx * kv_dim * ctx->kv_elem;
    const char *vl = (const char *)ctx->v_cache + (size_t)il * ctx->n_ctx * kv_dim * ctx->kv_elem;
    int parts = 1; /* pieces each group is split into */
    while (parts < group && (int64_t)n_tok * hp->n_head_kv * parts < 2 * ctx->n_threads) parts *= 2;
    const int per = (group + parts - 1) / parts;
    const int64_t n_work = (int64_t)n_tok * hp->n_head_kv * parts;
#pragma omp parallel for num_threads(ctx->n_threads) schedule(dynamic, 1)
    for (int64_t w = 0; w < n_work; w++) {
        const int64_t t = w / (hp->n_head_kv * parts), kvh = w / parts % hp->n_head_kv;
        const int h0 = (int)(kvh * group + (w % parts) * per);
        const int n = h0 + per <= (kvh + 1) * group ? per : (int)((kvh + 1) * group - h0);
        if (n <= 0) continue;
        const size_t head_off = (size_t)kvh * hp->head_dim * ctx->kv_elem;
        float *scores = ctx->scores + (size_t)omp_get_thread_num() * ctx->n_ctx * group;
        ctx->ops->attention_heads(ctx->att + t * q_dim + (int64_t)h0 * hp->head_dim,
                                  ctx->q + t * q_dim + (int64_t)h0 * hp->head_dim, n, kl + head_off, vl + head_off,
                                  ctx->kv_type, ctx->n_past + t + 1, kv_dim, hp->head_dim, scale, scores);
    }
}

static void add_rows(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

static void output_logits(qlm_context *ctx, int32_t n_tok) {
    const qlm_model *m = ctx->model;
    const int64_t n_embd = m->hp.n_embd;
    const int32_t first = ctx->logits_all ? 0 : n_tok - 1; /* rows that need logits */
    ctx->n_logits = n_tok - first;
    for (int32_t i = first; i < n_tok; i++)
        ctx->ops->rmsnorm(ctx->xb + (i - first) * n_embd, ctx->x + i * n_embd, m->output_norm.data, n_embd,
                          m->hp.rms_eps);
    ctx->ops->matmul(&m->output, ctx->xb, ctx->n_logits, ctx->logits, ctx->act_scratch, ctx->n_threads);
}

void qlm_forward(qlm_context *ctx, const int32_t *tokens, int32_t n_tok, int want_logits) {
    const qlm_model *m = ctx->model;
    const qlm_hparams *hp = &m->hp;
    const qlm_ops *ops = ctx->ops;
    const int nt = ctx->n_threads;
    const int64_t e = hp->n_embd, q_dim = (int64_t)hp->n_head * hp->head_dim;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    void *scr = ctx->act_scratch;

    embed_tokens(ctx, tokens, n_tok); /* x (n_tok, e) */
    for (int il = 0; il < hp->n_layer; il++) {
        const qlm_layer *l = &m->layers[il];
        /* attention block: x += Wo attn(rope(Wq xn), rope(Wk xn), Wv xn) */
        for (int32_t i = 0; i < n_tok; i++)
            ops->rmsnorm(ctx->xb + i * e, ctx->x + i * e, l->attn_norm.data, e, hp->rms_eps);
        /* q (n_tok, q_dim), k and v (n_tok, kv_dim): one pass over the threads */
        const qlm_tensor *qkv[3] = {&l->wq, &l->wk, &l->wv};
        float *const qkv_out[3] = {ctx->q, ctx->k, ctx->v};
        ops->matmul_n(qkv, qkv_out, 3, ctx->xb, n_tok, scr, nt);
        for (int32_t i = 0; i < n_tok; i++) {
            const float pos = (float)(ctx->n_past + i);
            ops->rope(ctx->q + i * q_dim, hp->n_head, hp->head_dim, hp->n_rot, ctx->theta, pos, hp->rope_style);
            ops->rope(ctx->k + i * kv_dim, hp->n_head_kv, hp->head_dim, hp->n_rot, ctx->theta, pos, hp->rope_style);
        }
        /* llama.cpp's F16 KV path converts Q to F16 before the Q.K dot product;
         * doing the same keeps our greedy tokens on the same side of near-ties */
        if (ctx->kv_type == QLM_TYPE_F16) ops->round_f16(ctx->q, n_tok * q_dim);
        kv_store(ctx, il, n_tok);
        attention(ctx, il, n_tok);                            /* att (n_tok, q_dim) */
        ops->matmul(&l->wo, ctx->att, n_tok, ctx->xb, scr, nt); /* xb (n_tok, e) */
        add_rows(ctx->x, ctx->xb, n_tok * e);

        /* FFN block: x += W_down (silu(W_gate xn) * W_up xn) */
        for (int32_t i = 0; i < n_tok; i++)
            ops->rmsnorm(ctx->xb + i * e, ctx->x + i * e, l->ffn_norm.data, e, hp->rms_eps);
        const qlm_tensor *gate_up[2] = {&l->ffn_gate, &l->ffn_up};
        float *const gate_up_out[2] = {ctx->hb, ctx->hb2}; /* (n_tok, n_ff) each */
        ops->matmul_n(gate_up, gate_up_out, 2, ctx->xb, n_tok, scr, nt);
        ops->swiglu(ctx->hb, ctx->hb, ctx->hb2, n_tok * (int64_t)hp->n_ff);
        ops->matmul(&l->ffn_down, ctx->hb, n_tok, ctx->xb, scr, nt); /* xb (n_tok, e) */
        add_rows(ctx->x, ctx->xb, n_tok * e);
    }
    if (want_logits) output_logits(ctx, n_tok); /* logits (n_logits, n_vocab) */
}
