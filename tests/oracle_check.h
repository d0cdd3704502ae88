/* oracle_check.h - one prompt of a model against llama.cpp's fixtures
 * (tests/gen/gen_llama_oracle.py, gen_type_oracle.py): the first-step
 * top-10 logits and the greedy tokens. Shared by test_forward.c and
 * test_quantize.c; header-only like test_util.h. */
#ifndef QLM_ORACLE_CHECK_H
#define QLM_ORACLE_CHECK_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "qlm.h"
#include "test_util.h"

#define OC_N_GREEDY 64 /* greedy steps in each fixture */
/* steps followed: all of them, or the first 16 in a sanitized build, or at
 * most QLM_TEST_GREEDY_STEPS (make test's pass on the CUDA emulator, where
 * a step costs a second) */
static inline int oc_steps(void) {
    const char *e = getenv("QLM_TEST_GREEDY_STEPS");
    const int cap = e && atoi(e) > 0 ? atoi(e) : OC_N_GREEDY, n = TU_SANITIZED ? 16 : OC_N_GREEDY;
    return cap < n ? cap : n;
}
#define OC_STEPS oc_steps()

typedef struct oc_oracle {
    const char *prompt_tokens; /* fixture paths: llama.cpp's prompt ids, */
    const char *greedy;        /* its 64 "id margin" greedy steps */
    const char *top10;         /* and its 10 best first-step "id logit" */
    const char *label;         /* names the case in messages */
    qlm_kv_type kv;
    double logit_tol;  /* each top-10 logit, after the common shift is removed */
    double shift_tol;  /* the common shift of the top-10 (changes no probability) */
    double tie_margin; /* a token may differ only where llama.cpp's margin is below this */
} oc_oracle;

typedef struct oc_result {
    int matched;         /* greedy steps equal to llama.cpp's (OC_STEPS: all) */
    double margin;       /* llama.cpp's margin at the first differing step (0 if none) */
    double shift;        /* common shift of the first-step top-10 logits */
    double max_residual; /* largest top-10 logit difference after the shift */
} oc_result;

static inline size_t oc_read_ids(const char *path, int32_t *ids, size_t cap) {
    char *s = tu_read_file(path, NULL);
    cr_assert(s, "missing fixture %s", path);
    double v[4096];
    size_t n = tu_parse_numbers(s, v, cap < 4096 ? cap : 4096);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)v[i];
    free(s);
    return n;
}

static inline int oc_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Reads a fixture of n "id value" lines into v[2n]. */
static inline void oc_read_pairs(const char *path, double *v, size_t n) {
    char *s = tu_read_file(path, NULL);
    cr_assert(s, "missing fixture %s", path);
    cr_assert_eq(tu_parse_numbers(s, v, 2 * n), 2 * n, "%s: expected %zu lines", path, n);
    free(s);
}

static inline void oc_check_top10(const oc_oracle *o, const float *logits, oc_result *r) {
    double v[20];
    oc_read_pairs(o->top10, v, 10);
    double shift = 0;
    for (int i = 0; i < 10; i++) shift += (logits[(int)v[2 * i]] - v[2 * i + 1]) / 10;
    r->shift = shift;
    cr_expect(fabs(shift) < o->shift_tol, "%s: top-10 logits shifted by %f from llama.cpp's", o->label, shift);
    for (int i = 0; i < 10; i++) {
        const int id = (int)v[2 * i];
        const double d = fabs(logits[id] - shift - v[2 * i + 1]);
        r->max_residual = d > r->max_residual ? d : r->max_residual;
        cr_expect(d < o->logit_tol, "%s: logit of token %d is %f, llama.cpp %f (common shift %f)", o->label, id,
                  logits[id], v[2 * i + 1], shift);
    }
}

/* Feeds llama.cpp's prompt ids, compares the top-10, then follows the
 * greedy tokens until one differs, which must be at a near-tie. */
static inline oc_result oc_check(qlm_model *m, const oc_oracle *o) {
    oc_result r = {0};
    int32_t prompt[1024];
    double v[2 * OC_N_GREEDY];
    const size_t n_prompt = oc_read_ids(o->prompt_tokens, prompt, 1024);
    oc_read_pairs(o->greedy, v, OC_N_GREEDY);

    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = 1024;
    cp.kv_type = o->kv;
    qlm_context *ctx = NULL;
    cr_assert_eq(qlm_context_new(m, &cp, &ctx), QLM_OK, "%s", qlm_context_last_error(ctx));
    const float *logits = NULL;
    cr_assert_eq(qlm_decode(ctx, prompt, (int32_t)n_prompt, &logits), QLM_OK, "%s", qlm_context_last_error(ctx));
    oc_check_top10(o, logits, &r);
    for (r.matched = 0; r.matched < OC_STEPS; r.matched++) {
        const int i = r.matched;
        int32_t tok = oc_argmax(logits, qlm_model_n_vocab(m));
        if (tok != (int32_t)v[2 * i]) {
            r.margin = v[2 * i + 1];
            cr_assert(r.margin < o->tie_margin, "%s step %d: got token %d, llama.cpp %d (margin %.4f)", o->label, i,
                      tok, (int)v[2 * i], r.margin);
            fprintf(stderr, "note: %s (kv %s, %s) left llama.cpp's tokens at step %d, a near-tie (margin %.4f)\n",
                    o->label, o->kv == QLM_KV_F16 ? "f16" : "f32", qlm_system_info(), i, r.margin);
            break;
        }
        cr_assert_eq(qlm_decode(ctx, &tok, 1, &logits), QLM_OK, "%s", qlm_context_last_error(ctx));
    }
    qlm_context_free(ctx);
    return r;
}

#endif
