/* test_api.c - API misuse must give errors with messages, never crashes. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "context.h" /* internals, for the shift test */
#include "qlm.h"
#include "test_util.h"

static qlm_model *load_model(void) {
    qlm_model *m = NULL;
    qlm_status st = qlm_model_load(tu_model_path(), NULL, &m);
    cr_assert_eq(st, QLM_OK, "loading %s: %s", tu_model_path(), qlm_model_last_error(m));
    return m;
}

Test(api, null_arguments) {
    cr_expect_eq(qlm_model_load("x", NULL, NULL), QLM_ERR_INVALID_ARG);
    qlm_model *m = NULL;
    cr_expect_eq(qlm_model_load(NULL, NULL, &m), QLM_ERR_INVALID_ARG);
    cr_expect(strlen(qlm_last_error(m)) > 0);
    qlm_model_free(m);
    qlm_context *c = NULL;
    cr_expect_eq(qlm_context_new(NULL, NULL, &c), QLM_ERR_INVALID_ARG);
    qlm_context_free(c);
    cr_expect_eq(qlm_decode(NULL, NULL, 0, NULL), QLM_ERR_INVALID_ARG);
    qlm_model_free(NULL);
    qlm_context_free(NULL);
    qlm_sampler_free(NULL);
    qlm_tokenizer_free(NULL);
    cr_expect_eq(qlm_model_n_vocab(NULL), 0);
    cr_expect_null(qlm_model_chat_template(NULL));
    cr_expect_eq(qlm_generate(NULL, NULL, NULL, NULL, NULL), QLM_ERR_INVALID_ARG);
    cr_expect_eq(qlm_tokenize_alloc(NULL, "x", 1, NULL, NULL, 0), QLM_ERR_INVALID_ARG);
}

Test(api, missing_file_names_the_path) {
    qlm_model *m = NULL;
    cr_assert_eq(qlm_model_load("/nonexistent/dir/model.gguf", NULL, &m), QLM_ERR_IO);
    cr_expect(strstr(qlm_last_error(m), "/nonexistent/dir/model.gguf") != NULL, "message: %s", qlm_last_error(m));
    qlm_model_free(m);
}

Test(api, metadata_getters) {
    qlm_model *m = load_model();
    cr_expect_str_eq(qlm_model_arch(m), "llama");
    cr_expect_eq(qlm_model_n_vocab(m), 49152);
    cr_expect_eq(qlm_model_n_layer(m), 30);
    cr_expect_eq(qlm_model_n_embd(m), 576);
    cr_expect_eq(qlm_model_n_ctx_train(m), 8192);
    /* 134.5 M parameters by llama.cpp's count for SmolLM2-135M */
    cr_expect(qlm_model_n_params(m) > 130000000 && qlm_model_n_params(m) < 140000000);
    cr_expect(strstr(qlm_model_chat_template(m), "<|im_start|>") != NULL);
    cr_expect_str_eq(qlm_model_meta_str(m, "tokenizer.ggml.pre"), "smollm");
    cr_expect_eq(qlm_model_tensor_count(m), 272);
    qlm_tensor_info ti;
    cr_expect_eq(qlm_model_tensor_info(m, 0, &ti), QLM_OK);
    cr_expect_str_eq(ti.name, "token_embd.weight");
    cr_expect_str_eq(ti.type_name, "Q8_0");
    cr_expect_eq(qlm_model_tensor_info(m, 272, &ti), QLM_ERR_INVALID_ARG);
    qlm_model_free(m);
}

Test(api, context_sizes) {
    qlm_model *m = load_model();
    qlm_context_params p = qlm_context_default_params();
    qlm_context *c = NULL;
    p.n_ctx = -1;
    cr_expect_eq(qlm_context_new(m, &p, &c), QLM_ERR_INVALID_ARG);
    cr_expect(strlen(qlm_last_error(c)) > 0);
    qlm_context_free(c);
    p.n_ctx = 1 << 30;
    cr_expect_eq(qlm_context_new(m, &p, &c), QLM_ERR_INVALID_ARG);
    qlm_context_free(c);
    p.n_ctx = 1 << 24; /* 16 M tokens: hundreds of GiB of KV cache */
    cr_expect_eq(qlm_context_new(m, &p, &c), QLM_ERR_NOMEM);
    cr_expect(strstr(qlm_last_error(c), "GiB") != NULL, "message: %s", qlm_last_error(c));
    qlm_context_free(c);
    p.n_ctx = 0; /* default: min(n_ctx_train, 4096) */
    cr_assert_eq(qlm_context_new(m, &p, &c), QLM_OK);
    cr_expect_eq(qlm_context_n_ctx(c), 4096);
    qlm_context_free(c);
    qlm_model_free(m);
}

Test(api, decode_past_context_and_bad_tokens) {
    qlm_model *m = load_model();
    qlm_context_params p = qlm_context_default_params();
    p.n_ctx = 8;
    qlm_context *c = NULL;
    cr_assert_eq(qlm_context_new(m, &p, &c), QLM_OK);
    int32_t toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    cr_expect_eq(qlm_decode(c, toks, 9, NULL), QLM_ERR_CONTEXT_FULL);
    cr_expect_eq(qlm_context_n_past(c), 0, "a failed decode changes nothing");
    cr_expect_eq(qlm_decode(c, toks, 5, NULL), QLM_OK);
    cr_expect_eq(qlm_decode(c, toks, 4, NULL), QLM_ERR_CONTEXT_FULL);
    cr_expect(strstr(qlm_last_error(c), "context") != NULL);
    cr_expect_eq(qlm_decode(c, toks, 0, NULL), QLM_ERR_INVALID_ARG);
    int32_t bad[2] = {5, 49152};
    qlm_context_reset(c);
    cr_expect_eq(qlm_decode(c, bad, 2, NULL), QLM_ERR_INVALID_ARG);
    cr_expect(strstr(qlm_last_error(c), "49152") != NULL, "message: %s", qlm_last_error(c));
    bad[1] = -3;
    cr_expect_eq(qlm_decode(c, bad, 2, NULL), QLM_ERR_INVALID_ARG);
    qlm_context_free(c);
    qlm_model_free(m);
}

/* Shifting drops cached tokens [n_keep, n_keep + n_discard) and slides the
 * rest down: V rows move unchanged and K rows are rotated back by n_discard
 * positions, i.e. equal RoPE(-n_discard) of the old rows. Checked on the
 * context's internals (F32 cache so the comparison is exact up to float ops). */
Test(api, context_shift_moves_and_rerotates, .timeout = 300) {
    qlm_model *m = load_model();
    qlm_context_params p = qlm_context_default_params();
    p.n_ctx = 32;
    p.kv_type = QLM_KV_F32;
    qlm_context *c = NULL;
    cr_assert_eq(qlm_context_new(m, &p, &c), QLM_OK);
    int32_t toks[10] = {504, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 30};
    cr_assert_eq(qlm_decode(c, toks, 10, NULL), QLM_OK);
    const qlm_hparams *hp = &m->hp;
    const size_t kv_dim = (size_t)hp->n_head_kv * hp->head_dim, layer = (size_t)c->n_ctx * kv_dim;
    const size_t total = (size_t)hp->n_layer * layer;
    float *k0 = malloc(total * sizeof(float)), *v0 = malloc(total * sizeof(float));
    memcpy(k0, c->k_cache, total * sizeof(float));
    memcpy(v0, c->v_cache, total * sizeof(float));
    cr_assert_eq(qlm_context_shift(c, 2, 4), QLM_OK);
    cr_expect_eq(qlm_context_n_past(c), 6);
    const float *kc = c->k_cache, *vc = c->v_cache;
    float row[1024];
    cr_assert(kv_dim <= 1024);
    for (int il = 0; il < hp->n_layer; il++)
        for (int pos = 0; pos < 6; pos++) {
            const int from = pos < 2 ? pos : pos + 4;
            memcpy(row, k0 + il * layer + from * kv_dim, kv_dim * sizeof(float));
            if (pos >= 2) m->ops->rope(row, hp->n_head_kv, hp->head_dim, hp->n_rot, c->theta, -4.0f, hp->rope_style);
            for (size_t d = 0; d < kv_dim; d++) {
                cr_assert_float_eq(kc[il * layer + pos * kv_dim + d], row[d], 1e-6f, "layer %d pos %d dim %zu", il, pos, d);
                cr_assert_eq(vc[il * layer + pos * kv_dim + d], v0[il * layer + from * kv_dim + d]);
            }
        }
    /* rotating a key at p by -4 gives the key at p - 4: RoPE angles add */
    memcpy(row, k0 + 9 * kv_dim, kv_dim * sizeof(float));
    float fresh[1024];
    memcpy(fresh, row, kv_dim * sizeof(float));
    m->ops->rope(row, hp->n_head_kv, hp->head_dim, hp->n_rot, c->theta, -9.0f, hp->rope_style);
    m->ops->rope(fresh, hp->n_head_kv, hp->head_dim, hp->n_rot, c->theta, -5.0f, hp->rope_style);
    m->ops->rope(fresh, hp->n_head_kv, hp->head_dim, hp->n_rot, c->theta, -4.0f, hp->rope_style);
    for (size_t d = 0; d < kv_dim; d++) cr_expect_float_eq(row[d], fresh[d], 1e-4f * (1 + fabsf(row[d])));
    cr_expect_eq(qlm_decode(c, toks, 4, NULL), QLM_OK, "decoding continues after a shift");
    cr_expect_eq(qlm_context_shift(c, 0, 100), QLM_ERR_INVALID_ARG);
    free(k0), free(v0);
    qlm_context_free(c);
    qlm_model_free(m);
}

Test(api, status_strings) {
    for (int s = QLM_OK; s <= QLM_ERR_INTERNAL; s++) cr_expect(strlen(qlm_status_str((qlm_status)s)) > 0);
}

/* Contexts share a model but nothing else: two threads decoding at once get
 * exactly what one thread gets alone. */
typedef struct decode_job {
    qlm_model *m;
    float first_logit[4];
    qlm_status st;
} decode_job;

static void *decode_thread(void *arg) {
    decode_job *j = arg;
    qlm_context_params p = qlm_context_default_params();
    p.n_ctx = 64;
    p.n_threads = 1;
    qlm_context *c = NULL;
    int32_t toks[6] = {504, 2365, 6354, 16438, 27003, 690};
    const float *l = NULL;
    j->st = qlm_context_new(j->m, &p, &c);
    if (j->st == QLM_OK) j->st = qlm_decode(c, toks, 6, &l);
    if (j->st == QLM_OK) memcpy(j->first_logit, l, sizeof j->first_logit);
    qlm_context_free(c);
    return NULL;
}

Test(api, contexts_on_two_threads, .timeout = 300) {
    qlm_model *m = load_model();
    decode_job alone = {m, {0}, QLM_OK}, jobs[2] = {{m, {0}, QLM_OK}, {m, {0}, QLM_OK}};
    decode_thread(&alone);
    cr_assert_eq(alone.st, QLM_OK);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&th[i], NULL, decode_thread, &jobs[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(jobs[i].st, QLM_OK);
        cr_expect(memcmp(jobs[i].first_logit, alone.first_logit, sizeof alone.first_logit) == 0);
    }
    qlm_model_free(m);
}
