/* test_sampler.c - sampler chain: exact candidate sets per stage, penalties,
 * picks, seeded determinism and the statistics of the random draw. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qlm.h"
#include "sampler_internal.h"

#define MAXV 64

/* logits whose softmax is exactly probs (up to rounding) */
static void logits_from_probs(const double *probs, int n, float *out) {
    for (int i = 0; i < n; i++) out[i] = (float)log(probs[i]);
}

static qlm_sampler *chain(uint64_t seed) {
    qlm_sampler *s = NULL;
    cr_assert_eq(qlm_sampler_chain_new(seed, &s), QLM_OK);
    cr_assert_not_null(s);
    return s;
}

/* Survivors of the chain's filters; returns their count. */
static size_t survivors(qlm_sampler *s, const float *logits, int n, int32_t *ids, float *l) {
    size_t n_out = 0;
    qlm_status st = qlm_sampler_run_filters(s, logits, n, ids, l, MAXV, &n_out);
    cr_assert_eq(st, QLM_OK, "%s", qlm_sampler_last_error(s));
    return n_out;
}

static void assert_ids(const int32_t *got, size_t n_got, const int32_t *want, size_t n_want) {
    cr_assert_eq(n_got, n_want, "kept %zu candidates, want %zu", n_got, n_want);
    for (size_t i = 0; i < n_want; i++)
        cr_assert_eq(got[i], want[i], "survivor %zu: id %d, want %d", i, got[i], want[i]);
}

/* deterministic pseudo-random logits for the tests (not the sampler's RNG) */
static void fill_logits(float *l, int n, uint32_t seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        l[i] = (float)(seed >> 8) / (float)(1u << 24) * 10.0f - 5.0f;
    }
}

/* ---------------------------------------------------------------- filters */

Test(sampler, top_k_keeps_k_best_ties_to_lower_id) {
    const float l[] = {1, 5, 3, 5, 2, 0};
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_top_k(s, 3), QLM_OK);
    int32_t ids[MAXV];
    size_t n = survivors(s, l, 6, ids, NULL);
    assert_ids(ids, n, (const int32_t[]){1, 3, 2}, 3);
    qlm_sampler_free(s);
}

Test(sampler, top_k_off_and_larger_than_vocab) {
    const float l[] = {1, 5, 3};
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_top_k(s, 0), QLM_OK);
    cr_assert_eq(qlm_sampler_add_top_k(s, 10), QLM_OK);
    int32_t ids[MAXV];
    size_t n = survivors(s, l, 3, ids, NULL);
    assert_ids(ids, n, (const int32_t[]){1, 2, 0}, 3);
    qlm_sampler_free(s);
}

Test(sampler, top_k_matches_full_sort_on_large_vocab) {
    enum { N = 50000, K = 40 };
    float *l = malloc(N * sizeof *l);
    fill_logits(l, N, 7);
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_top_k(s, K), QLM_OK);
    int32_t ids[MAXV];
    size_t n = survivors(s, l, N, ids, NULL);
    cr_assert_eq(n, K);
    /* reference: repeated arg max with the same tie rule */
    char *taken = calloc(N, 1);
    for (int r = 0; r < K; r++) {
        int best = -1;
        for (int i = 0; i < N; i++)
            if (!taken[i] && (best < 0 || l[i] > l[best])) best = i;
        taken[best] = 1;
        cr_assert_eq(ids[r], best, "rank %d", r);
    }
    free(taken);
    free(l);
    qlm_sampler_free(s);
}

Test(sampler, top_p_keeps_smallest_prefix_reaching_p) {
    const double probs[] = {0.1, 0.4, 0.2, 0.3};
    float l[4];
    logits_from_probs(probs, 4, l);
    int32_t ids[MAXV];
    struct { float p; size_t min_keep; int32_t want[4]; size_t n; } cases[] = {
        {0.65f, 1, {1, 3}, 2},        /* 0.4 + 0.3 = 0.7 >= 0.65 */
        {0.35f, 1, {1}, 1},           /* 0.4 alone */
        {0.75f, 1, {1, 3, 2}, 3},     /* 0.9 */
        {0.35f, 3, {1, 3, 2}, 3},     /* min_keep wins */
        {0.95f, 1, {1, 3, 2, 0}, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        qlm_sampler *s = chain(1);
        cr_assert_eq(qlm_sampler_add_top_p(s, cases[c].p, cases[c].min_keep), QLM_OK);
        size_t n = survivors(s, l, 4, ids, NULL);
        assert_ids(ids, n, cases[c].want, cases[c].n);
        qlm_sampler_free(s);
    }
}

Test(sampler, top_p_one_is_off) {
    const float l[] = {0, 3, 1};
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_top_p(s, 1.0f, 1), QLM_OK);
    int32_t ids[MAXV];
    size_t n = survivors(s, l, 3, ids, NULL);
    cr_assert_eq(n, 3);
    qlm_sampler_free(s);
}

Test(sampler, min_p_keeps_prob_above_fraction_of_max) {
    const double probs[] = {0.5, 0.2, 0.1, 0.05, 0.15};
    float l[5];
    logits_from_probs(probs, 5, l);
    int32_t ids[MAXV];
    qlm_sampler *s = chain(1);
    /* threshold 0.25 * 0.5 = 0.125: 0.5, 0.2 and 0.15 stay (vocab order) */
    cr_assert_eq(qlm_sampler_add_min_p(s, 0.25f, 1), QLM_OK);
    size_t n = survivors(s, l, 5, ids, NULL);
    assert_ids(ids, n, (const int32_t[]){0, 1, 4}, 3);
    qlm_sampler_free(s);

    /* threshold 0.45: only 0.5 passes, min_keep 3 keeps the best three */
    s = chain(1);
    cr_assert_eq(qlm_sampler_add_min_p(s, 0.9f, 3), QLM_OK);
    n = survivors(s, l, 5, ids, NULL);
    assert_ids(ids, n, (const int32_t[]){0, 1, 4}, 3);
    qlm_sampler_free(s);
}

Test(sampler, temp_scales_and_zero_keeps_argmax) {
    const float l[] = {1, 4, -2, 4};
    float out[MAXV];
    int32_t ids[MAXV];
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_temp(s, 2.0f), QLM_OK);
    size_t n = survivors(s, l, 4, ids, out);
    cr_assert_eq(n, 4);
    for (int i = 0; i < 4; i++) cr_assert_float_eq(out[i], l[ids[i]] / 2.0f, 1e-6);
    qlm_sampler_free(s);

    s = chain(1);
    cr_assert_eq(qlm_sampler_add_temp(s, 0.0f), QLM_OK);
    n = survivors(s, l, 4, ids, NULL);
    assert_ids(ids, n, (const int32_t[]){1}, 1);
    qlm_sampler_free(s);
}

/* -------------------------------------------------------------- penalties */

static float penalised(qlm_sampler *s, const float *l, int n, int32_t id) {
    int32_t ids[MAXV];
    float out[MAXV];
    size_t k = survivors(s, l, n, ids, out);
    for (size_t i = 0; i < k; i++)
        if (ids[i] == id) return out[i];
    cr_assert_fail("token %d removed", id);
    return 0;
}

Test(sampler, repeat_penalty_once_per_distinct_token) {
    const float l[] = {1, 2, 4, -2, 3, 0.5f};
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_penalties(s, 64, 2.0f, 0.0f, 0.0f), QLM_OK);
    qlm_sampler_accept(s, 2);
    qlm_sampler_accept(s, 2);
    qlm_sampler_accept(s, 3);
    qlm_sampler_accept(s, 2);
    cr_assert_float_eq(penalised(s, l, 6, 2), 2.0f, 1e-6);  /* 4 / 2, not 4 / 8 */
    cr_assert_float_eq(penalised(s, l, 6, 3), -4.0f, 1e-6); /* negative: times 2 */
    cr_assert_float_eq(penalised(s, l, 6, 4), 3.0f, 1e-6);  /* never seen */
    qlm_sampler_free(s);
}

Test(sampler, frequency_scales_with_count_presence_does_not) {
    const float l[] = {1, 2, 4, -2, 3, 0.5f};
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_penalties(s, 64, 2.0f, 0.5f, 0.25f), QLM_OK);
    int32_t hist[] = {2, 4, 2, 2, 99 /* outside the vocab: ignored */};
    for (int i = 0; i < 5; i++) qlm_sampler_accept(s, hist[i]);
    cr_assert_float_eq(penalised(s, l, 6, 2), 4.0f / 2 - 3 * 0.5f - 0.25f, 1e-6);
    cr_assert_float_eq(penalised(s, l, 6, 4), 3.0f / 2 - 1 * 0.5f - 0.25f, 1e-6);
    cr_assert_float_eq(penalised(s, l, 6, 0), 1.0f, 1e-6);
    qlm_sampler_free(s);
}

Test(sampler, penalty_window_is_last_n_tokens) {
    const float l[] = {1, 1, 1, 1, 1, 1};
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_penalties(s, 3, 1.0f, 1.0f, 0.0f), QLM_OK);
    int32_t hist[] = {0, 0, 0, 0, 1, 2, 5, 5}; /* the ring wraps; window = {2, 5, 5} */
    for (int i = 0; i < 8; i++) qlm_sampler_accept(s, hist[i]);
    cr_assert_float_eq(penalised(s, l, 6, 0), 1.0f, 1e-6);
    cr_assert_float_eq(penalised(s, l, 6, 1), 1.0f, 1e-6);
    cr_assert_float_eq(penalised(s, l, 6, 2), 0.0f, 1e-6);
    cr_assert_float_eq(penalised(s, l, 6, 5), -1.0f, 1e-6);
    qlm_sampler_reset(s);
    cr_assert_float_eq(penalised(s, l, 6, 5), 1.0f, 1e-6);
    qlm_sampler_free(s);
}

Test(sampler, penalties_after_top_k_find_moved_candidates) {
    const float l[] = {1, 2, 4, -2, 3, 0.5f};
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_top_k(s, 3), QLM_OK);
    cr_assert_eq(qlm_sampler_add_penalties(s, 8, 4.0f, 0.0f, 0.0f), QLM_OK);
    qlm_sampler_accept(s, 2);
    qlm_sampler_accept(s, 0); /* filtered out by top-k: no effect */
    cr_assert_float_eq(penalised(s, l, 6, 2), 1.0f, 1e-6);
    cr_assert_float_eq(penalised(s, l, 6, 4), 3.0f, 1e-6);
    qlm_sampler_free(s);
}

/* ------------------------------------------------------------------ picks */

Test(sampler, greedy_argmax_ties_to_lowest_id) {
    const float l[] = {0, 7, 3, 7, NAN, 7};
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_greedy(s), QLM_OK);
    int32_t tok = -1;
    cr_assert_eq(qlm_sampler_sample(s, l, 6, &tok), QLM_OK);
    cr_assert_eq(tok, 1);
    qlm_sampler_free(s);
}

Test(sampler, nan_logits_are_minus_infinity) {
    const float l[] = {NAN, -1, NAN};
    const float all_nan[] = {NAN, NAN};
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_dist(s), QLM_OK);
    int32_t tok = -1;
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(qlm_sampler_sample(s, l, 3, &tok), QLM_OK);
        cr_assert_eq(tok, 1);
    }
    cr_assert_eq(qlm_sampler_sample(s, all_nan, 2, &tok), QLM_ERR_INVALID_ARG);
    cr_assert(strlen(qlm_sampler_last_error(s)) > 0);
    qlm_sampler_free(s);
}

Test(sampler, logits_are_not_modified) {
    float l[32], copy[32];
    fill_logits(l, 32, 3);
    memcpy(copy, l, sizeof l);
    qlm_sampler_params p = qlm_sampler_default_params();
    p.repeat_penalty = 1.3f;
    p.frequency_penalty = 0.2f;
    qlm_sampler *s = NULL;
    cr_assert_eq(qlm_sampler_from_params(&p, &s), QLM_OK);
    int32_t tok;
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(qlm_sampler_sample(s, l, 32, &tok), QLM_OK);
        qlm_sampler_accept(s, tok);
    }
    cr_assert_eq(memcmp(l, copy, sizeof l), 0);
    qlm_sampler_free(s);
}

/* Chi-square goodness of fit of 20000 seeded draws against the softmax: the
 * seed is fixed, so this is deterministic, not flaky. */
Test(sampler, dist_matches_distribution) {
    const double probs[] = {0.5, 0.25, 0.15, 0.1};
    float l[4];
    logits_from_probs(probs, 4, l);
    qlm_sampler *s = chain(1234);
    cr_assert_eq(qlm_sampler_add_dist(s), QLM_OK);
    enum { N = 20000 };
    int counts[4] = {0};
    for (int i = 0; i < N; i++) {
        int32_t tok = -1;
        cr_assert_eq(qlm_sampler_sample(s, l, 4, &tok), QLM_OK);
        cr_assert(tok >= 0 && tok < 4);
        counts[tok]++;
    }
    double chi2 = 0;
    for (int i = 0; i < 4; i++) {
        double e = N * probs[i];
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    /* 3 degrees of freedom: P(chi2 > 16.27) = 0.001 */
    cr_assert_lt(chi2, 16.27, "chi2 %.2f counts %d %d %d %d", chi2, counts[0], counts[1],
                 counts[2], counts[3]);
    qlm_sampler_free(s);
}

Test(sampler, rng_is_uniform_in_unit_interval) {
    qlm_sampler *s = chain(99);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = qlm_sampler_rng_next(s);
        cr_assert(u >= 0.0 && u < 1.0);
        sum += u;
    }
    cr_assert_float_eq(sum / 100000, 0.5, 0.005);
    qlm_sampler_free(s);
}

/* ------------------------------------------------------------ determinism */

static void draw(qlm_sampler *s, const float *l, int n, int32_t *out, int k) {
    for (int i = 0; i < k; i++) {
        cr_assert_eq(qlm_sampler_sample(s, l, n, &out[i]), QLM_OK);
        qlm_sampler_accept(s, out[i]);
    }
}

Test(sampler, same_seed_same_tokens_other_seed_differs) {
    enum { V = 200, K = 100 };
    float l[V];
    fill_logits(l, V, 11);
    qlm_sampler_params p = qlm_sampler_default_params();
    p.temp = 1.5f; /* flat enough that the draw matters */
    p.top_k = 0;
    p.min_p = 0;
    qlm_sampler *a, *b, *c;
    cr_assert_eq(qlm_sampler_from_params(&p, &a), QLM_OK);
    cr_assert_eq(qlm_sampler_from_params(&p, &b), QLM_OK);
    p.seed += 1;
    cr_assert_eq(qlm_sampler_from_params(&p, &c), QLM_OK);
    int32_t ta[K], tb[K], tc[K];
    draw(a, l, V, ta, K);
    draw(b, l, V, tb, K);
    draw(c, l, V, tc, K);
    cr_assert_eq(memcmp(ta, tb, sizeof ta), 0);
    cr_assert_neq(memcmp(ta, tc, sizeof ta), 0);
    /* reset: history cleared and RNG re-seeded, so the run repeats */
    qlm_sampler_reset(a);
    draw(a, l, V, tb, K);
    cr_assert_eq(memcmp(ta, tb, sizeof ta), 0);
    qlm_sampler_free(a);
    qlm_sampler_free(b);
    qlm_sampler_free(c);
}

Test(sampler, vocab_size_may_change_between_calls) {
    float big[300], small[5] = {0, 0, 9, 0, 0};
    fill_logits(big, 300, 5);
    qlm_sampler *s = chain(3);
    cr_assert_eq(qlm_sampler_add_greedy(s), QLM_OK);
    int32_t tok;
    cr_assert_eq(qlm_sampler_sample(s, small, 5, &tok), QLM_OK);
    cr_assert_eq(tok, 2);
    cr_assert_eq(qlm_sampler_sample(s, big, 300, &tok), QLM_OK);
    cr_assert_eq(qlm_sampler_sample(s, small, 5, &tok), QLM_OK);
    cr_assert_eq(tok, 2);
    qlm_sampler_free(s);
}

/* ----------------------------------------------------------------- params */

Test(sampler, default_params) {
    qlm_sampler_params p = qlm_sampler_default_params();
    cr_assert_float_eq(p.temp, 0.8f, 1e-7);
    cr_assert_eq(p.top_k, 40);
    cr_assert_float_eq(p.top_p, 0.95f, 1e-7);
    cr_assert_float_eq(p.min_p, 0.05f, 1e-7);
    cr_assert_float_eq(p.repeat_penalty, 1.0f, 1e-7);
    cr_assert_eq(p.penalty_last_n, 64);
    cr_assert_eq(p.seed, 42);
}

Test(sampler, from_params_temp_zero_is_greedy) {
    float l[100];
    fill_logits(l, 100, 9);
    int best = 0;
    for (int i = 1; i < 100; i++)
        if (l[i] > l[best]) best = i;
    qlm_sampler_params p = qlm_sampler_default_params();
    p.temp = 0.0f;
    qlm_sampler *s;
    cr_assert_eq(qlm_sampler_from_params(&p, &s), QLM_OK);
    for (int i = 0; i < 5; i++) {
        int32_t tok;
        cr_assert_eq(qlm_sampler_sample(s, l, 100, &tok), QLM_OK);
        cr_assert_eq(tok, best);
    }
    qlm_sampler_free(s);
}

Test(sampler, from_params_rejects_bad_values) {
    qlm_sampler_params base = qlm_sampler_default_params(), p;
    qlm_sampler *s;
    p = base, p.top_p = NAN;
    cr_assert_eq(qlm_sampler_from_params(&p, &s), QLM_ERR_INVALID_ARG);
    cr_assert_not_null(s); /* handed back so the reason can be read */
    cr_assert(strstr(qlm_sampler_last_error(s), "top-p") != NULL, "%s", qlm_sampler_last_error(s));
    qlm_sampler_free(s);
    p = base, p.min_p = NAN;
    cr_assert_eq(qlm_sampler_from_params(&p, &s), QLM_ERR_INVALID_ARG);
    qlm_sampler_free(s);
    p = base, p.temp = NAN;
    cr_assert_eq(qlm_sampler_from_params(&p, &s), QLM_ERR_INVALID_ARG);
    qlm_sampler_free(s);
    p = base, p.repeat_penalty = 0.0f;
    cr_assert_eq(qlm_sampler_from_params(&p, &s), QLM_ERR_INVALID_ARG);
    qlm_sampler_free(s);
    p = base, p.repeat_penalty = 1.1f, p.penalty_last_n = -1;
    cr_assert_eq(qlm_sampler_from_params(&p, &s), QLM_ERR_INVALID_ARG);
    qlm_sampler_free(s);
    cr_assert_eq(qlm_sampler_from_params(NULL, &s), QLM_ERR_INVALID_ARG);
    cr_assert_null(s);
    cr_assert_eq(qlm_sampler_from_params(&base, NULL), QLM_ERR_INVALID_ARG);
}

Test(sampler, stage_arguments_validated) {
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_top_p(s, -0.1f, 1), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_top_p(s, NAN, 1), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_min_p(s, -0.1f, 1), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_min_p(s, 1.5f, 1), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_min_p(s, NAN, 1), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_temp(s, NAN), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_penalties(s, -1, 1.1f, 0, 0), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_penalties(s, INT32_MAX, 1.1f, 0, 0), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_penalties(s, 8, -1.0f, 0, 0), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_penalties(s, 8, 1.1f, NAN, 0), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_penalties(s, 8, 1.1f, 0, INFINITY), QLM_ERR_INVALID_ARG);
    qlm_sampler_free(s);
}

Test(sampler, chain_needs_exactly_one_final_pick) {
    const float l[] = {0, 1};
    int32_t tok;
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_add_top_k(s, 1), QLM_OK);
    cr_assert_eq(qlm_sampler_sample(s, l, 2, &tok), QLM_ERR_INVALID_ARG);
    cr_assert(strstr(qlm_sampler_last_error(s), "pick") != NULL);
    cr_assert_eq(qlm_sampler_add_greedy(s), QLM_OK);
    cr_assert_eq(qlm_sampler_add_dist(s), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_temp(s, 1.0f), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_penalties(s, 4, 1.1f, 0, 0), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_sample(s, l, 2, &tok), QLM_OK);
    cr_assert_eq(tok, 1);
    qlm_sampler_free(s);
}

Test(sampler, null_args_and_bad_vocab) {
    const float l[] = {0, 1};
    int32_t tok;
    qlm_sampler *s = NULL;
    cr_assert_eq(qlm_sampler_chain_new(1, NULL), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_top_k(NULL, 1), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_top_p(NULL, 0.5f, 1), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_min_p(NULL, 0.5f, 1), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_temp(NULL, 1.0f), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_penalties(NULL, 1, 1.1f, 0, 0), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_greedy(NULL), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_add_dist(NULL), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_sample(NULL, l, 2, &tok), QLM_ERR_INVALID_ARG);
    qlm_sampler_accept(NULL, 1);
    qlm_sampler_reset(NULL);
    qlm_sampler_free(NULL);
    cr_assert_not_null(qlm_sampler_last_error(NULL));
    s = chain(1);
    cr_assert_eq(qlm_sampler_add_greedy(s), QLM_OK);
    cr_assert_eq(qlm_sampler_sample(s, NULL, 2, &tok), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_sample(s, l, 2, NULL), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_sample(s, l, 0, &tok), QLM_ERR_INVALID_ARG);
    cr_assert_eq(qlm_sampler_sample(s, l, -5, &tok), QLM_ERR_INVALID_ARG);
    cr_assert(strstr(qlm_sampler_last_error(s), "n_vocab") != NULL);
    qlm_sampler_free(s);
}

Test(sampler, run_filters_size_contract) {
    const float l[] = {0, 1, 2};
    int32_t ids[2];
    size_t n = 0;
    qlm_sampler *s = chain(1);
    cr_assert_eq(qlm_sampler_run_filters(s, l, 3, ids, NULL, 2, &n), QLM_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(n, 3);
    qlm_sampler_free(s);
}
