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
    const float scale = ctx->model->hp.embd_scale;
    for (int32_t i = 0; i < n_tok; i++) qlm_tensor_row_to_float(e, tokens[i], ctx->x + i * n_embd, ctx->row_tmp);
    if (scale != 1.0f)
        for (int64_t j = 0; j < n_tok * n_embd; j++) ctx->x[j] *= scale;
}

/* out (n_rows vectors of n) = RMSNorm of x with weight w (out may be x):
 * the pre-norms, per-head Q/K norms, post-norms and the output norm. */
static void rmsnorm_rows(const qlm_context *ctx, float *out, const float *x, const qlm_tensor *w, int64_t n_rows,
                         int64_t n) {
    for (int64_t r = 0; r < n_rows; r++)
        ctx->ops->rmsnorm(out + r * n, x + r * n, w->data, n, ctx->model->hp.rms_eps);
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
    const float scale = hp->attn_scale;
    const int32_t window = ctx->model->layers[il].swa ? hp->n_swa : 0; /* 0: every earlier position */
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
        const int64_t n_kv = ctx->n_past + t + 1, first = window && n_kv > window ? n_kv - window : 0;
        const size_t off = ((size_t)first * kv_dim + (size_t)kvh * hp->head_dim) * ctx->kv_elem;
        float *scores = ctx->scores + (size_t)omp_get_thread_num() * ctx->n_ctx * group;
        ctx->ops->attention_heads(ctx->att + t * q_dim + (int64_t)h0 * hp->head_dim,
                                  ctx->q + t * q_dim + (int64_t)h0 * hp->head_dim, n, kl + off, vl + off,
                                  ctx->kv_type, n_kv - first, kv_dim, hp->head_dim, scale, scores);
    }
}

static void add_rows(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

/* x (n_rows, b->ne[0]) += bias b on every row. */
static void add_bias(float *x, const qlm_tensor *b, int32_t n_rows) {
    for (int32_t r = 0; r < n_rows; r++) add_rows(x + r * b->ne[0], b->data, b->ne[0]);
}

static void output_logits(qlm_context *ctx, int32_t n_tok) {
    const qlm_model *m = ctx->model;
    const int64_t n_embd = m->hp.n_embd;
    const int32_t first = ctx->logits_all ? 0 : n_tok - 1; /* rows that need logits */
    ctx->n_logits = n_tok - first;
    rmsnorm_rows(ctx, ctx->xb, ctx->x + first * n_embd, &m->output_norm, ctx->n_logits, n_embd);
    ctx->ops->matmul(&m->output, ctx->xb, ctx->n_logits, ctx->logits, ctx->act_scratch, ctx->n_threads);
    const float cap = m->hp.logit_softcap;
    if (cap > 0.0f)
        for (int64_t j = 0; j < (int64_t)ctx->n_logits * m->hp.n_vocab; j++)
            ctx->logits[j] = cap * tanhf(ctx->logits[j] / cap);
}

/* x += Wo attention(...) for layer il over the normed input in xb. */
static void attention_block(qlm_context *ctx, int il, int32_t n_tok) {
    const qlm_hparams *hp = &ctx->model->hp;
    const qlm_layer *l = &ctx->model->layers[il];
    const qlm_ops *ops = ctx->ops;
    const int64_t e = hp->n_embd, q_dim = (int64_t)hp->n_head * hp->head_dim;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    /* q (n_tok, q_dim), k and v (n_tok, kv_dim): one pass over the threads */
    const qlm_tensor *qkv[3] = {&l->wq, &l->wk, &l->wv};
    float *const qkv_out[3] = {ctx->q, ctx->k, ctx->v};
    ops->matmul_n(qkv, qkv_out, 3, ctx->xb, n_tok, ctx->act_scratch, ctx->n_threads);
    if (l->bq.data) add_bias(ctx->q, &l->bq, n_tok);
    if (l->bk.data) add_bias(ctx->k, &l->bk, n_tok);
    if (l->bv.data) add_bias(ctx->v, &l->bv, n_tok);
    if (l->attn_q_norm.data) rmsnorm_rows(ctx, ctx->q, ctx->q, &l->attn_q_norm, n_tok * hp->n_head, hp->head_dim);
    if (l->attn_k_norm.data) rmsnorm_rows(ctx, ctx->k, ctx->k, &l->attn_k_norm, n_tok * hp->n_head_kv, hp->head_dim);
    const float *theta = qlm_layer_theta(ctx, il);
    for (int32_t i = 0; i < n_tok; i++) {
        const float pos = (float)(ctx->n_past + i);
        ops->rope(ctx->q + i * q_dim, hp->n_head, hp->head_dim, hp->n_rot, theta, pos, hp->rope_style);
        ops->rope(ctx->k + i * kv_dim, hp->n_head_kv, hp->head_dim, hp->n_rot, theta, pos, hp->rope_style);
    }
    /* llama.cpp's F16 KV path converts Q to F16 before the Q.K dot product;
     * doing the same keeps our greedy tokens on the same side of near-ties */
    if (ctx->kv_type == QLM_TYPE_F16) ops->round_f16(ctx->q, n_tok * q_dim);
    kv_store(ctx, il, n_tok);
    attention(ctx, il, n_tok);                                                   /* att (n_tok, q_dim) */
    ops->matmul(&l->wo, ctx->att, n_tok, ctx->xb, ctx->act_scratch, ctx->n_threads); /* xb (n_tok, e) */
    if (l->attn_post_norm.data) rmsnorm_rows(ctx, ctx->xb, ctx->xb, &l->attn_post_norm, n_tok, e);
    add_rows(ctx->x, ctx->xb, n_tok * e);
}

/* x += W_down (act(W_gate xn) * W_up xn) for layer il over the normed input in xb. */
static void ffn_block(qlm_context *ctx, int il, int32_t n_tok) {
    const qlm_hparams *hp = &ctx->model->hp;
    const qlm_layer *l = &ctx->model->layers[il];
    const qlm_ops *ops = ctx->ops;
    const int64_t e = hp->n_embd, n = n_tok * (int64_t)hp->n_ff;
    const qlm_tensor *gate_up[2] = {&l->ffn_gate, &l->ffn_up};
    float *const gate_up_out[2] = {ctx->hb, ctx->hb2}; /* (n_tok, n_ff) each */
    ops->matmul_n(gate_up, gate_up_out, 2, ctx->xb, n_tok, ctx->act_scratch, ctx->n_threads);
    if (hp->ffn_act == QLM_FFN_GELU_TANH)
        ops->geglu(ctx->hb, ctx->hb, ctx->hb2, n);
    else
        ops->swiglu(ctx->hb, ctx->hb, ctx->hb2, n);
    ops->matmul(&l->ffn_down, ctx->hb, n_tok, ctx->xb, ctx->act_scratch, ctx->n_threads); /* xb (n_tok, e) */
    if (l->ffn_post_norm.data) rmsnorm_rows(ctx, ctx->xb, ctx->xb, &l->ffn_post_norm, n_tok, e);
    add_rows(ctx->x, ctx->xb, n_tok * e);
}

void qlm_forward(qlm_context *ctx, const int32_t *tokens, int32_t n_tok, int want_logits) {
    const qlm_model *m = ctx->model;
    const qlm_hparams *hp = &m->hp;
    const int64_t e = hp->n_embd;

    embed_tokens(ctx, tokens, n_tok); /* x (n_tok, e) */
    for (int il = 0; il < hp->n_layer; il++) {
        const qlm_layer *l = &m->layers[il];
        rmsnorm_rows(ctx, ctx->xb, ctx->x, &l->attn_norm, n_tok, e);
        attention_block(ctx, il, n_tok);
        rmsnorm_rows(ctx, ctx->xb, ctx->x, &l->ffn_norm, n_tok, e);
        ffn_block(ctx, il, n_tok);
    }
    if (want_logits) output_logits(ctx, n_tok); /* logits (n_logits, n_vocab) */
}
