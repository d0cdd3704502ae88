/* generate.c - qlm_generate: tokenize, prefill, sample until done, streaming
 * whole UTF-8 characters to the caller. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"

qlm_generate_params qlm_generate_default_params(void) {
    qlm_generate_params p = {.n_predict = -1, .tokenize_flags = QLM_TOKENIZE_MODEL_DEFAULT_BOS,
                             .context_shift = 0, .on_token = NULL, .user = NULL, .stop = NULL};
    return p;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static qlm_status tokenize_prompt(qlm_context *c, const char *prompt, unsigned flags, int32_t **ids, size_t *n) {
    qlm_status st = qlm_tokenize_alloc(c->model->tok, prompt, strlen(prompt), ids, n, flags);
    if (st != QLM_OK) return qlm_err(&c->err, st, "tokenizing the prompt failed: %s", qlm_status_str(st));
    if (*n == 0) return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "the prompt is empty");
    return QLM_OK;
}

/* Hands the token's text to the callback as complete UTF-8; non-zero = stop. */
static int emit(const qlm_context *c, qlm_utf8_stream *us, int32_t id, const qlm_generate_params *p) {
    if (!p->on_token) return 0;
    char piece[256], text[3 * 256 + 12];
    size_t n = 0;
    if (qlm_token_to_piece(c->model->tok, id, piece, sizeof piece, &n, 0) != QLM_OK) n = 0;
    size_t m = qlm_utf8_stream_push(us, piece, n, text, sizeof text);
    return p->on_token(id, text, m, p->user);
}

static qlm_status make_room(qlm_context *c, const qlm_generate_params *p, int32_t n_keep) {
    if (c->n_past < c->n_ctx) return QLM_OK;
    if (!p->context_shift)
        return qlm_err(&c->err, QLM_ERR_CONTEXT_FULL, "context is full (%d tokens); enable context shifting "
                       "or use a larger context", c->n_ctx);
    return qlm_context_shift(c, n_keep, (c->n_past - n_keep) / 2);
}

static qlm_status sample_loop(qlm_context *c, qlm_sampler *s, const float *logits, const qlm_generate_params *p,
                              int32_t n_keep, qlm_generate_stats *st) {
    qlm_utf8_stream us = {{0}, 0};
    qlm_status rc = QLM_OK;
    const int32_t n_vocab = c->model->hp.n_vocab;
    while (p->n_predict < 0 || st->n_generated < p->n_predict) {
        if (p->stop && *p->stop) { rc = QLM_ERR_STOPPED; break; }
        int32_t id;
        if ((rc = qlm_sampler_sample(s, logits, n_vocab, &id)) != QLM_OK) {
            qlm_err(&c->err, rc, "sampling failed: %s", qlm_sampler_last_error(s));
            break;
        }
        qlm_sampler_accept(s, id);
        st->n_generated++;
        if (qlm_token_is_eog(c->model->tok, id)) break;
        if (emit(c, &us, id, p)) { rc = QLM_ERR_STOPPED; break; }
        if (p->n_predict >= 0 && st->n_generated >= p->n_predict) break;
        if ((rc = make_room(c, p, n_keep)) != QLM_OK) break;
        if ((rc = qlm_decode(c, &id, 1, &logits)) != QLM_OK) break;
    }
    char tail[8];
    size_t n = qlm_utf8_stream_flush(&us, tail, sizeof tail);
    if (n && p->on_token) p->on_token(-1, tail, n, p->user);
    return rc;
}

qlm_status qlm_generate(qlm_context *c, qlm_sampler *s, const char *prompt, const qlm_generate_params *params,
                        qlm_generate_stats *stats) {
    if (!c) return QLM_ERR_INVALID_ARG;
    if (!s || !prompt) return qlm_err(&c->err, QLM_ERR_INVALID_ARG, "sampler and prompt must not be NULL");
    qlm_generate_params p = params ? *params : qlm_generate_default_params();
    qlm_generate_stats st = {0, 0, 0.0, 0.0};
    int32_t *ids = NULL;
    size_t n = 0;
    qlm_status rc = tokenize_prompt(c, prompt, p.tokenize_flags, &ids, &n);
    if (rc == QLM_OK && n >= (size_t)(c->n_ctx - c->n_past))
        rc = qlm_err(&c->err, QLM_ERR_CONTEXT_FULL, "the prompt is %zu tokens but only %d context positions "
                     "are free", n, c->n_ctx - c->n_past);
    const float *logits = NULL;
    if (rc == QLM_OK) {
        double t0 = now_ms();
        rc = qlm_decode(c, ids, (int32_t)n, &logits);
        st.t_prompt_ms = now_ms() - t0;
        st.n_prompt = (int32_t)n;
        for (size_t i = 0; i < n; i++) qlm_sampler_accept(s, ids[i]);
    }
    if (rc == QLM_OK) {
        double t0 = now_ms();
        /* a shift keeps the BOS token: models treat the first position specially */
        const int32_t n_keep = ids[0] == qlm_token_bos(c->model->tok) ? 1 : 0;
        rc = sample_loop(c, s, logits, &p, n_keep, &st);
        st.t_generate_ms = now_ms() - t0;
    }
    free(ids);
    if (stats) *stats = st;
    return rc;
}
