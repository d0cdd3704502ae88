/* context.c - qlm_context: allocation (all buffers once, none in the token
 * loop), qlm_decode, context shifting. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#ifdef QLM_HAVE_CUDA
#include "cuda.h"
#endif

#define QLM_MAX_CTX (1 << 24)

/* Physical memory: a KV cache larger than this cannot be meant (and a lazily
 * committed calloc would only fail later, at a page fault). */
static uint64_t phys_mem_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : (uint64_t)1 << 40;
}

qlm_context_params qlm_context_default_params(void) {
    qlm_context_params p = {.n_ctx = 0, .n_batch = 512, .n_threads = 0, .kv_type = QLM_KV_F16,
                            .logits_all = 0};
    return p;
}

static void *alloc_floats(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

static size_t max_scratch(const qlm_model *m, int64_t n_tok) {
    size_t s = qlm_matmul_scratch_size(m->output.type, m->hp.n_embd, n_tok);
    for (int il = 0; il < m->hp.n_layer; il++) {
        const qlm_layer *l = &m->layers[il];
        const qlm_tensor *ts[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
            size_t z = qlm_matmul_scratch_size(ts[i]->type, ts[i]->ne[0], n_tok);
            if (z > s) s = z;
        }
    }
    return s;
}

/* RoPE angle per unit position for each rotated pair: base^(-2i/n_rot),
 * times the linear scaling factor, divided by per-dim factors if present.
 * Sliding-window layers use their own base and no scaling (llama.cpp's
 * rope_freq_scale_train_swa is 1). */
static void init_theta(qlm_context *ctx) {
    const qlm_model *m = ctx->model;
    const qlm_hparams *hp = &m->hp;
    for (int i = 0; i < hp->n_rot / 2; i++) {
        const float ex = -2.0f * (float)i / (float)hp->n_rot;
        float t = hp->rope_freq_scale * powf(hp->rope_freq_base, ex);
        if (m->rope_freqs.data) t /= ((const float *)m->rope_freqs.data)[i];
        ctx->theta[i] = t;
        ctx->theta_swa[i] = hp->n_swa > 0 ? powf(hp->rope_freq_base_swa, ex) : t;
    }
}

static qlm_status context_alloc(qlm_context *c) {
    const qlm_hparams *hp = &c->model->hp;
    const int64_t nb = c->n_batch, q_dim = (int64_t)hp->n_head * hp->head_dim;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    const uint64_t kv_bytes = (uint64_t)hp->n_layer * (uint64_t)c->n_ctx * (uint64_t)kv_dim * c->kv_elem;
    if (2 * kv_bytes > phys_mem_bytes())
        return qlm_err(&c->err, QLM_ERR_NOMEM, "n_ctx %d needs a %.1f GiB KV cache, more than this machine's "
                       "%.1f GiB of memory", c->n_ctx, 2.0 * kv_bytes / 1073741824.0,
                       phys_mem_bytes() / 1073741824.0);
    c->k_cache = calloc(1, (size_t)kv_bytes);
    c->v_cache = calloc(1, (size_t)kv_bytes);
    c->theta = alloc_floats(hp->n_rot / 2);
    c->theta_swa = alloc_floats(hp->n_rot / 2);
    c->x = alloc_floats(nb * hp->n_embd);
    c->xb = alloc_floats(nb * hp->n_embd);
    c->q = alloc_floats(nb * q_dim);
    c->att = alloc_floats(nb * q_dim);
    c->k = alloc_floats(nb * kv_dim);
    c->v = alloc_floats(nb * kv_dim);
    c->hb = alloc_floats(nb * hp->n_ff);
    c->hb2 = alloc_floats(nb * hp->n_ff);
    c->scores = alloc_floats((int64_t)c->n_threads * c->n_ctx * (hp->n_head / hp->n_head_kv));
    c->act_scratch = malloc(max_scratch(c->model, nb) + 1);
    c->row_tmp = malloc(c->model->tok_embd.row_bytes + 1);
    c->logits = alloc_floats((c->logits_all ? nb : 1) * (int64_t)hp->n_vocab);
    if (!c->k_cache || !c->v_cache || !c->theta || !c->theta_swa || !c->x || !c->xb || !c->q || !c->att || !c->k ||
        !c->v || !c->hb || !c->hb2 || !c->scores || !c->act_scratch || !c->row_tmp || !c->logits)
        return qlm_err(&c->err, QLM_ERR_NOMEM, "out of memory allocating a context of %d tokens "
                       "(KV cache %.1f MiB)", c->n_ctx, 2.0 * kv_bytes / 1048576.0);
    init_theta(c);
#ifdef QLM_HAVE_CUDA
    if (c->model->cuda) return qlm_cuda_ctx_new(c->model->cuda, c, &c->cuda, &c->err);
#endif
    return QLM_OK;
}

static qlm_status context_init(qlm_context *c, const qlm_context_params *p) {
    const qlm_model *m = c->model;
    if (m->vocab_only || !m->layers)
        return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "%s: model was loaded without weights", m->path);
    if (p->n_ctx < 0 || p->n_ctx > QLM_MAX_CTX)
        return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "n_ctx %d out of range [0, %d]", p->n_ctx, QLM_MAX_CTX);
    if (p->n_batch < 0)
        return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "n_batch %d is negative", p->n_batch);
    if (p->kv_type != QLM_KV_F32 && p->kv_type != QLM_KV_F16)
        return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "unknown KV cache type %d", (int)p->kv_type);
    c->n_ctx = p->n_ctx ? p->n_ctx : (m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096);
    if (c->n_ctx <= 0) c->n_ctx = 4096;
    c->n_batch = p->n_batch ? p->n_batch : 512;
    if (c->n_batch > c->n_ctx) c->n_batch = c->n_ctx;
    c->n_threads = p->n_threads > 0 ? p->n_threads : m->n_threads;
    c->logits_all = p->logits_all != 0;
    c->kv_type = p->kv_type == QLM_KV_F32 ? QLM_TYPE_F32 : QLM_TYPE_F16;
    c->kv_elem = c->kv_type == QLM_TYPE_F32 ? 4 : 2;
    c->ops = m->ops;
    if (c->n_ctx > m->hp.n_ctx_train)
        qlm_log(&m->log, QLM_LOG_WARN, "n_ctx %d exceeds the %d tokens the model was trained on",
                c->n_ctx, m->hp.n_ctx_train);
    return context_alloc(c);
}

qlm_status qlm_context_new(qlm_model *model, const qlm_context_params *params, qlm_context **out) {
    if (!out) return QLM_ERR_INVALID_ARG;
    *out = NULL;
    qlm_context *c = calloc(1, sizeof *c);
    if (!c) return QLM_ERR_NOMEM;
    *out = c;
    c->model = model;
    if (!model) return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "model is NULL");
    qlm_context_params p = params ? *params : qlm_context_default_params();
    qlm_status st = context_init(c, &p);
    if (st != QLM_OK) qlm_log(&model->log, QLM_LOG_ERROR, "%s", c->err.msg);
    return st;
}

void qlm_context_free(qlm_context *c) {
    if (!c) return;
    void *bufs[] = {c->k_cache, c->v_cache, c->theta, c->theta_swa, c->x, c->xb, c->q, c->att, c->k, c->v,
                    c->hb, c->hb2, c->scores, c->act_scratch, c->row_tmp, c->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
#ifdef QLM_HAVE_CUDA
    qlm_cuda_ctx_free(c->cuda);
#endif
    free(c);
}

const char *qlm_context_last_error(const qlm_context *c) { return c ? c->err.msg : "context is NULL"; }
int32_t qlm_context_n_ctx(const qlm_context *c) { return c ? c->n_ctx : 0; }
int32_t qlm_context_n_past(const qlm_context *c) { return c ? c->n_past : 0; }

void qlm_context_reset(qlm_context *c) {
    if (!c) return;
    c->n_past = 0;
    c->n_logits = 0;
}

static qlm_status check_tokens(qlm_context *c, const int32_t *tokens, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->model->hp.n_vocab)
            return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "token %d at index %d is outside the vocabulary [0, %d)",
                           tokens[i], i, c->model->hp.n_vocab);
    return QLM_OK;
}

qlm_status qlm_decode(qlm_context *c, const int32_t *tokens, int32_t n, const float **logits) {
    if (!c) return QLM_ERR_INVALID_ARG;
    if (logits) *logits = NULL;
    if (!c->k_cache) return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "context was not created successfully");
    if (!tokens || n <= 0) return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "decode needs at least one token");
    if (n > c->n_ctx - c->n_past)
        return qlm_err(&c->err, QLM_ERR_CONTEXT_FULL, "%d tokens do not fit: %d of %d context positions are used",
                       n, c->n_past, c->n_ctx);
    if (c->logits_all && n > c->n_batch)
        return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "with logits_all a decode holds at most n_batch = %d tokens",
                       c->n_batch);
    qlm_status st = check_tokens(c, tokens, n);
    if (st != QLM_OK) return st;
    for (int32_t i = 0; i < n; i += c->n_batch) {
        const int32_t nb = n - i < c->n_batch ? n - i : c->n_batch;
        if ((st = qlm_forward(c, tokens + i, nb, i + nb == n)) != QLM_OK) return st;
        c->n_past += nb;
    }
    if (logits) *logits = c->logits + (size_t)(c->n_logits - 1) * c->model->hp.n_vocab;
    return QLM_OK;
}

const float *qlm_context_logits(const qlm_context *c, int32_t i) {
    if (!c || !c->logits_all || i < 0 || i >= c->n_logits) return NULL;
    return c->logits + (size_t)i * c->model->hp.n_vocab;
}

/* Moves one layer's cached rows [src, src + n) down to dst and rotates the keys
 * back by `delta` positions: RoPE angles are linear in position, so a rotation
 * by -delta turns a key at position p into the key at p - delta. */
static void shift_layer(qlm_context *c, int il, int32_t dst, int32_t src, int32_t n, float delta) {
    const qlm_hparams *hp = &c->model->hp;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    for (int32_t p = 0; p < n; p++) {
        const size_t from = ((size_t)il * c->n_ctx + src + p) * kv_dim, to = ((size_t)il * c->n_ctx + dst + p) * kv_dim;
        float *row = c->k; /* scratch: (kv_dim) */
        for (int64_t d = 0; d < kv_dim; d++)
            row[d] = c->kv_type == QLM_TYPE_F16 ? qlm_fp16_to_fp32(((uint16_t *)c->k_cache)[from + d])
                                                : ((float *)c->k_cache)[from + d];
        c->ops->rope(row, hp->n_head_kv, hp->head_dim, hp->n_rot, qlm_layer_theta(c, il), -delta, hp->rope_style);
        for (int64_t d = 0; d < kv_dim; d++) {
            if (c->kv_type == QLM_TYPE_F16)
                ((uint16_t *)c->k_cache)[to + d] = qlm_fp32_to_fp16(row[d]);
            else
                ((float *)c->k_cache)[to + d] = row[d];
        }
        memmove((char *)c->v_cache + to * c->kv_elem, (char *)c->v_cache + from * c->kv_elem, kv_dim * c->kv_elem);
    }
}

qlm_status qlm_context_shift(qlm_context *c, int32_t n_keep, int32_t n_discard) {
    if (!c) return QLM_ERR_INVALID_ARG;
    if (n_keep < 0 || n_discard <= 0 || n_keep > c->n_past || n_discard > c->n_past - n_keep)
        return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "cannot discard %d tokens after keeping %d of %d",
                       n_discard, n_keep, c->n_past);
    const int32_t n_move = c->n_past - n_keep - n_discard;
    int il = 0; /* the GPU's layers first, on the device */
#ifdef QLM_HAVE_CUDA
    if (c->cuda) {
        qlm_status st = qlm_cuda_kv_shift(c->cuda, n_keep, n_keep + n_discard, n_move, (float)n_discard, &c->err);
        if (st != QLM_OK) return st;
        il = qlm_cuda_model_n_layers(c->model->cuda);
    }
#endif
    for (; il < c->model->hp.n_layer; il++)
        shift_layer(c, il, n_keep, n_keep + n_discard, n_move, (float)n_discard);
    c->n_past -= n_discard;
    c->n_logits = 0;
    return QLM_OK;
}
