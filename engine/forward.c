/* forward.c - the transformer forward pass, shared by prompt processing
 * (many tokens) and decoding (one token) through n_tok. Every computation goes
 * through the ops table; this file knows shapes, not instructions. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "context.h"
#include "pack.h"
#ifdef QLM_HAVE_CUDA
#include "cuda.h"
#endif

static void embed_tokens(qlm_context *ctx, const int32_t *tokens, int32_t n_tok) {
    const qlm_tensor *e = &ctx->model->tok_embd;
    const int64_t n_embd = ctx->model->hp.n_embd;
    const float scale = ctx->model->hp.embd_scale;
    for (int32_t i = 0; i < n_tok; i++) qlm_tensor_row_to_float(e, tokens[i], ctx->x + i * n_embd, ctx->row_tmp);
    if (scale != 1.0f)
        for (int64_t j = 0; j < n_tok * n_embd; j++) ctx->x[j] *= scale;
}

/* The per-token steps between the matmuls (norms, bias, RoPE, the cache
 * store, the FFN activation, the residual add) run over the threads for a
 * prompt batch, each step one parallel region over tokens; a single token
 * (decoding) stays on the calling thread, where starting the team would
 * cost more than the work. Tokens are independent here, so the split never
 * changes a result. */
#define PAR_MIN_TOKENS 4

/* out (n_rows vectors of n) = RMSNorm of x with weight w (out may be x). */
static void rmsnorm_rows(const qlm_context *ctx, float *out, const float *x, const qlm_tensor *w, int64_t n_rows,
                         int64_t n) {
    for (int64_t r = 0; r < n_rows; r++)
        ctx->ops->rmsnorm(out + r * n, x + r * n, w->data, n, ctx->model->hp.rms_eps);
}

static void add_rows(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

/* Stores token i's new K/V rows (kv_dim each) at position n_past + i of layer il. */
static void kv_store(qlm_context *ctx, int il, int32_t i) {
    const qlm_hparams *hp = &ctx->model->hp;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    const size_t off = ((size_t)il * ctx->n_ctx + ctx->n_past + i) * kv_dim;
    const float *k = ctx->k + i * kv_dim, *v = ctx->v + i * kv_dim;
    if (ctx->kv_type == QLM_TYPE_F32) {
        memcpy((float *)ctx->k_cache + off, k, kv_dim * sizeof(float));
        memcpy((float *)ctx->v_cache + off, v, kv_dim * sizeof(float));
        return;
    }
    ctx->ops->to_f16((uint16_t *)ctx->k_cache + off, k, kv_dim);
    ctx->ops->to_f16((uint16_t *)ctx->v_cache + off, v, kv_dim);
}

/* Token i's q, k, v rows after the QKV matmul: biases, per-head Q/K norms,
 * RoPE at its position, then K and V into the cache. */
static void qkv_finish_token(qlm_context *ctx, int il, int32_t i) {
    const qlm_hparams *hp = &ctx->model->hp;
    const qlm_layer *l = &ctx->model->layers[il];
    const qlm_ops *ops = ctx->ops;
    const int64_t q_dim = (int64_t)hp->n_head * hp->head_dim, kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    float *q = ctx->q + i * q_dim, *k = ctx->k + i * kv_dim, *v = ctx->v + i * kv_dim;
    if (l->bq.data) add_rows(q, l->bq.data, q_dim);
    if (l->bk.data) add_rows(k, l->bk.data, kv_dim);
    if (l->bv.data) add_rows(v, l->bv.data, kv_dim);
    if (l->attn_q_norm.data) rmsnorm_rows(ctx, q, q, &l->attn_q_norm, hp->n_head, hp->head_dim);
    if (l->attn_k_norm.data) rmsnorm_rows(ctx, k, k, &l->attn_k_norm, hp->n_head_kv, hp->head_dim);
    const float *theta = qlm_layer_theta(ctx, il);
    const float pos = (float)(ctx->n_past + i);
    ops->rope(q, hp->n_head, hp->head_dim, hp->n_rot, theta, pos, hp->rope_style);
    ops->rope(k, hp->n_head_kv, hp->head_dim, hp->n_rot, theta, pos, hp->rope_style);
    /* llama.cpp's F16 KV path converts Q to F16 before the Q.K dot product;
     * doing the same keeps our greedy tokens on the same side of near-ties */
    if (ctx->kv_type == QLM_TYPE_F16) ops->round_f16(q, q_dim);
    kv_store(ctx, il, i);
}

static void qkv_finish(qlm_context *ctx, int il, int32_t n_tok) {
#pragma omp parallel for num_threads(ctx->n_threads) if (n_tok >= PAR_MIN_TOKENS) schedule(static)
    for (int32_t i = 0; i < n_tok; i++) qkv_finish_token(ctx, il, i);
}

/* The end of a block for every token: the branch output in xb gets its
 * post-norm (if any) and is added to the residual x; then xb = next_norm(x),
 * the input of the next block (none after the last layer). */
static void residual(qlm_context *ctx, const qlm_tensor *post_norm, const qlm_tensor *next_norm, int32_t n_tok) {
    const int64_t e = ctx->model->hp.n_embd;
#pragma omp parallel for num_threads(ctx->n_threads) if (n_tok >= PAR_MIN_TOKENS) schedule(static)
    for (int32_t i = 0; i < n_tok; i++) {
        float *x = ctx->x + i * e, *xb = ctx->xb + i * e;
        if (post_norm->data) rmsnorm_rows(ctx, xb, xb, post_norm, 1, e);
        add_rows(x, xb, e);
        if (next_norm) rmsnorm_rows(ctx, xb, x, next_norm, 1, e);
    }
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

/* x += Wo attention(...) for layer il over the normed input in xb; then
 * xb = next_norm(x). */
static void attention_block(qlm_context *ctx, int il, int32_t n_tok, const qlm_tensor *next_norm) {
    const qlm_layer *l = &ctx->model->layers[il];
    const qlm_ops *ops = ctx->ops;
    /* q (n_tok, q_dim), k and v (n_tok, kv_dim): one pass over the threads */
    const qlm_tensor *qkv[3] = {&l->wq, &l->wk, &l->wv};
    float *const qkv_out[3] = {ctx->q, ctx->k, ctx->v};
    ops->matmul_n(qkv, qkv_out, 3, ctx->xb, n_tok, ctx->act_scratch, ctx->n_threads);
    qkv_finish(ctx, il, n_tok);
    attention(ctx, il, n_tok);                                                   /* att (n_tok, q_dim) */
    ops->matmul(&l->wo, ctx->att, n_tok, ctx->xb, ctx->act_scratch, ctx->n_threads); /* xb (n_tok, e) */
    residual(ctx, &l->attn_post_norm, next_norm, n_tok);
}

/* h (n_tok, n_ff) = act(gate) * up, token rows over the threads. */
static void ffn_activation(qlm_context *ctx, int32_t n_tok) {
    const int64_t n_ff = ctx->model->hp.n_ff;
    const int gelu = ctx->model->hp.ffn_act == QLM_FFN_GELU_TANH;
#pragma omp parallel for num_threads(ctx->n_threads) if (n_tok >= PAR_MIN_TOKENS) schedule(static)
    for (int32_t i = 0; i < n_tok; i++) {
        float *h = ctx->hb + i * n_ff;
        const float *up = ctx->hb2 + i * n_ff;
        if (gelu) ctx->ops->geglu(h, h, up, n_ff);
        else ctx->ops->swiglu(h, h, up, n_ff);
    }
}

/* x += W_down (act(W_gate xn) * W_up xn) for layer il over the normed input
 * in xb; then xb = next_norm(x). */
static void ffn_block(qlm_context *ctx, int il, int32_t n_tok, const qlm_tensor *next_norm) {
    const qlm_layer *l = &ctx->model->layers[il];
    const qlm_ops *ops = ctx->ops;
    const qlm_tensor *gate_up[2] = {&l->ffn_gate, &l->ffn_up};
    float *const gate_up_out[2] = {ctx->hb, ctx->hb2}; /* (n_tok, n_ff) each */
    ops->matmul_n(gate_up, gate_up_out, 2, ctx->xb, n_tok, ctx->act_scratch, ctx->n_threads);
    ffn_activation(ctx, n_tok);
    ops->matmul(&l->ffn_down, ctx->hb, n_tok, ctx->xb, ctx->act_scratch, ctx->n_threads); /* xb (n_tok, e) */
    residual(ctx, &l->ffn_post_norm, next_norm, n_tok);
}

/* The GPU's share of the step (kernels/cuda/cuda.h): its layers, and the
 * output when it holds all of them. Returns the first layer left for the
 * CPU (n_layer: none, the logits are in place). */
static qlm_status gpu_layers(qlm_context *ctx, int32_t n_tok, int want_logits, int *il_cpu) {
    *il_cpu = 0;
#ifdef QLM_HAVE_CUDA
    if (!ctx->cuda) return QLM_OK;
    qlm_status st = qlm_cuda_forward(ctx->cuda, ctx->x, n_tok, ctx->n_past, want_logits, ctx->logits,
                                     &ctx->n_logits, &ctx->err);
    const int n_gpu = qlm_cuda_model_n_layers(ctx->model->cuda);
    *il_cpu = qlm_cuda_model_has_output(ctx->model->cuda) ? ctx->model->hp.n_layer : n_gpu;
#else
    (void)ctx, (void)n_tok, (void)want_logits;
    qlm_status st = QLM_OK;
#endif
    return st;
}

qlm_status qlm_forward(qlm_context *ctx, const int32_t *tokens, int32_t n_tok, int want_logits) {
    const qlm_model *m = ctx->model;
    const qlm_hparams *hp = &m->hp;

    embed_tokens(ctx, tokens, n_tok); /* x (n_tok, e) */
    int il0;
    qlm_status st = gpu_layers(ctx, n_tok, want_logits, &il0);
    if (st != QLM_OK || il0 == hp->n_layer) return st;
    rmsnorm_rows(ctx, ctx->xb, ctx->x, &m->layers[il0].attn_norm, n_tok, hp->n_embd);
    for (int il = il0; il < hp->n_layer; il++) {
        const qlm_layer *l = &m->layers[il];
        attention_block(ctx, il, n_tok, &l->ffn_norm);
        ffn_block(ctx, il, n_tok, il + 1 < hp->n_layer ? &m->layers[il + 1].attn_norm : NULL);
    }
    if (want_logits) output_logits(ctx, n_tok); /* logits (n_logits, n_vocab) */
    return QLM_OK;
}
