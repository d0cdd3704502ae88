/* sampler.c - the token sampler: a chain of filter stages ending in one pick.
 *
 * Semantics follow llama.cpp's samplers (src/llama-sampling.cpp) so that
 * outputs can be compared with it:
 *  - penalties: for every DISTINCT token t seen c times in the last last_n
 *    accepted tokens, logit /= repeat if positive (*= repeat if <= 0), then
 *    logit -= c * frequency + presence. The repeat penalty is applied once per
 *    distinct token, the frequency penalty scales with the count.
 *  - top-k: keep the k highest logits (k <= 0 or k >= n: keep all).
 *  - top-p: softmax the sorted candidates and keep the shortest prefix whose
 *    cumulative probability reaches p, never fewer than min_keep (p >= 1: off).
 *  - min-p: keep candidates with prob >= p * max prob, evaluated on logits as
 *    logit >= max_logit + log(p); never fewer than min_keep (p <= 0: off).
 *  - temp: logits /= t; t <= 0 keeps only the arg max (greedy).
 *  - greedy: arg max, ties broken towards the lowest token id.
 *  - dist: a draw from softmax(logits) with the sampler's own PRNG.
 *
 * Input hygiene: NaN logits are treated as -inf (never picked unless nothing
 * else is left, then sampling fails); +inf is kept and wins the softmax.
 *
 * Randomness: xoshiro256** (Blackman & Vigna, 2018) seeded through splitmix64,
 * one state per sampler, no global state: the same seed and the same inputs
 * give the same tokens on every platform.
 */
#include "errbuf.h"
#include "sampler_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Documented default seed of qlm_sampler_default_params(): deterministic runs
 * unless the caller picks a seed (llama.cpp's 0xFFFFFFFF means "random"; we
 * prefer reproducibility and leave randomness to the caller). */
#define SAMPLER_DEFAULT_SEED 42u
#define SAMPLER_MAX_STAGES 16
/* a penalty window longer than any context we could hold is a caller bug */
#define SAMPLER_MAX_LAST_N (1 << 24)

typedef enum stage_kind {
    STAGE_PENALTIES,
    STAGE_TOP_K,
    STAGE_TOP_P,
    STAGE_MIN_P,
    STAGE_TEMP,
    STAGE_GREEDY,
    STAGE_DIST
} stage_kind;

typedef struct stage {
    stage_kind kind;
    int32_t n;       /* top-k k, penalties last_n */
    float f[3];      /* p / temp / (repeat, frequency, presence) */
    size_t min_keep;
} stage;

typedef struct cand {
    int32_t id;
    float logit;
} cand;

/* The working set of one qlm_sampler_sample call. */
typedef struct cand_set {
    cand *c;
    int32_t n;
    int sorted;   /* c is in descending (logit, then ascending id) order */
    int identity; /* c[i].id == i for every i (nothing removed or moved) */
} cand_set;

struct qlm_sampler {
    qlm_errbuf err;
    stage stages[SAMPLER_MAX_STAGES];
    int n_stages;
    int has_pick;
    uint64_t seed;
    uint64_t rng[4];
    /* penalty history: a ring of the last hist_cap accepted tokens */
    int32_t *hist;
    int32_t *hist_sorted; /* scratch for counting distinct tokens */
    int32_t hist_cap, hist_len, hist_head;
    /* candidate scratch, grown only when n_vocab grows */
    cand *cands;
    int32_t cands_cap;
};

/* ------------------------------------------------------------------ PRNG */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static void rng_seed(qlm_sampler *s) {
    uint64_t x = s->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
}

static uint64_t rng_next_u64(qlm_sampler *s) {
    uint64_t *st = s->rng;
    uint64_t result = rotl(st[1] * 5, 7) * 9;
    uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl(st[3], 45);
    return result;
}

double qlm_sampler_rng_next(qlm_sampler *s) {
    /* the top 53 bits give every double in [0, 1) on a 2^-53 grid */
    return (double)(rng_next_u64(s) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------- lifecycle */

qlm_status qlm_sampler_chain_new(uint64_t seed, qlm_sampler **out) {
    if (!out) return QLM_ERR_INVALID_ARG;
    *out = NULL;
    qlm_sampler *s = calloc(1, sizeof *s);
    if (!s) return QLM_ERR_NOMEM;
    s->seed = seed;
    rng_seed(s);
    *out = s;
    return QLM_OK;
}

void qlm_sampler_free(qlm_sampler *s) {
    if (!s) return;
    free(s->hist);
    free(s->hist_sorted);
    free(s->cands);
    free(s);
}

const char *qlm_sampler_last_error(const qlm_sampler *s) {
    return s ? s->err.msg : "sampler is NULL";
}

void qlm_sampler_reset(qlm_sampler *s) {
    if (!s) return;
    s->hist_len = 0;
    s->hist_head = 0;
    rng_seed(s);
}

void qlm_sampler_accept(qlm_sampler *s, int32_t token) {
    /* negative ids cannot match a candidate; without a penalty stage there is
     * no history to keep */
    if (!s || s->hist_cap == 0 || token < 0) return;
    s->hist[s->hist_head] = token;
    s->hist_head = (s->hist_head + 1) % s->hist_cap;
    if (s->hist_len < s->hist_cap) s->hist_len++;
}

/* -------------------------------------------------------------- building */

static qlm_status check_room(qlm_sampler *s) {
    if (s->has_pick)
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG,
                       "sampler: no stage may follow the pick (greedy/dist)");
    if (s->n_stages == SAMPLER_MAX_STAGES)
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG, "sampler: more than %d stages",
                       SAMPLER_MAX_STAGES);
    return QLM_OK;
}

static qlm_status add_stage(qlm_sampler *s, stage st) {
    qlm_status status = check_room(s);
    if (status != QLM_OK) return status;
    s->stages[s->n_stages++] = st;
    if (st.kind == STAGE_GREEDY || st.kind == STAGE_DIST) s->has_pick = 1;
    qlm_err_clear(&s->err);
    return QLM_OK;
}

/* Grows the history ring so that it covers last_n tokens, keeping its
 * contents in order. */
static qlm_status grow_history(qlm_sampler *s, int32_t last_n) {
    if (last_n <= s->hist_cap) return QLM_OK;
    int32_t *h = malloc((size_t)last_n * sizeof *h);
    int32_t *hs = malloc((size_t)last_n * sizeof *hs);
    if (!h || !hs) {
        free(h);
        free(hs);
        return qlm_err(&s->err, QLM_ERR_NOMEM, "sampler: history of %d tokens", (int)last_n);
    }
    for (int32_t i = 0; i < s->hist_len; i++) {
        int32_t src = (s->hist_head - s->hist_len + i + s->hist_cap) % s->hist_cap;
        h[i] = s->hist[src];
    }
    free(s->hist);
    free(s->hist_sorted);
    s->hist = h;
    s->hist_sorted = hs;
    s->hist_cap = last_n;
    s->hist_head = s->hist_len % last_n;
    return QLM_OK;
}

qlm_status qlm_sampler_add_penalties(qlm_sampler *s, int32_t last_n, float repeat,
                                     float frequency, float presence) {
    if (!s) return QLM_ERR_INVALID_ARG;
    if (last_n < 0 || last_n > SAMPLER_MAX_LAST_N)
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG, "penalties: last_n %d outside [0, %d]",
                       (int)last_n, SAMPLER_MAX_LAST_N);
    if (!isfinite(repeat) || repeat <= 0.0f)
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG, "penalties: repeat %g must be > 0",
                       (double)repeat);
    if (!isfinite(frequency) || !isfinite(presence))
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG,
                       "penalties: frequency %g / presence %g must be finite", (double)frequency,
                       (double)presence);
    qlm_status st = check_room(s);
    if (st == QLM_OK) st = grow_history(s, last_n);
    if (st != QLM_OK) return st;
    return add_stage(s, (stage){.kind = STAGE_PENALTIES, .n = last_n,
                                .f = {repeat, frequency, presence}});
}

qlm_status qlm_sampler_add_top_k(qlm_sampler *s, int32_t k) {
    if (!s) return QLM_ERR_INVALID_ARG;
    return add_stage(s, (stage){.kind = STAGE_TOP_K, .n = k});
}

static qlm_status add_p_stage(qlm_sampler *s, stage_kind kind, const char *name, float p,
                              size_t min_keep, float p_max) {
    if (!s) return QLM_ERR_INVALID_ARG;
    if (isnan(p) || p < 0.0f || p > p_max)
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG, "%s: p %g outside [0, %g]", name,
                       (double)p, (double)p_max);
    return add_stage(s, (stage){.kind = kind, .f = {p, 0, 0}, .min_keep = min_keep});
}

qlm_status qlm_sampler_add_top_p(qlm_sampler *s, float p, size_t min_keep) {
    /* p >= 1 is accepted and means "off", like llama.cpp */
    return add_p_stage(s, STAGE_TOP_P, "top-p", p, min_keep, INFINITY);
}

qlm_status qlm_sampler_add_min_p(qlm_sampler *s, float p, size_t min_keep) {
    return add_p_stage(s, STAGE_MIN_P, "min-p", p, min_keep, 1.0f);
}

qlm_status qlm_sampler_add_temp(qlm_sampler *s, float t) {
    if (!s) return QLM_ERR_INVALID_ARG;
    if (isnan(t)) return qlm_err(&s->err, QLM_ERR_INVALID_ARG, "temp: NaN");
    return add_stage(s, (stage){.kind = STAGE_TEMP, .f = {t, 0, 0}});
}

qlm_status qlm_sampler_add_greedy(qlm_sampler *s) {
    if (!s) return QLM_ERR_INVALID_ARG;
    return add_stage(s, (stage){.kind = STAGE_GREEDY});
}

qlm_status qlm_sampler_add_dist(qlm_sampler *s) {
    if (!s) return QLM_ERR_INVALID_ARG;
    return add_stage(s, (stage){.kind = STAGE_DIST});
}

/* ------------------------------------------------------ candidate order */

/* a ranks before b: higher logit, ties towards the lower id */
static int cand_better(const cand *a, const cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cand_cmp(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (cand_better(a, b)) return -1;
    if (cand_better(b, a)) return 1;
    return 0;
}

static void cands_sort(cand_set *cs) {
    if (cs->sorted) return;
    qsort(cs->c, (size_t)cs->n, sizeof *cs->c, cand_cmp);
    cs->sorted = 1;
    cs->identity = 0;
}

/* Min-heap on rank (the root is the worst kept candidate). */
static void heap_sift_down(cand *h, int32_t n, int32_t i) {
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cand_better(&h[w], &h[l])) w = l;
        if (r < n && cand_better(&h[w], &h[r])) w = r;
        if (w == i) return;
        cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Keeps the best k candidates, sorted, in O(n log k) instead of a full sort:
 * decode calls this once per token over the whole vocabulary. */
static void cands_top_k(cand_set *cs, int32_t k) {
    if (k <= 0) return;
    if (k >= cs->n) {
        cands_sort(cs);
        return;
    }
    if (!cs->sorted) {
        for (int32_t i = k / 2 - 1; i >= 0; i--) heap_sift_down(cs->c, k, i);
        for (int32_t i = k; i < cs->n; i++) {
            if (cand_better(&cs->c[i], &cs->c[0])) {
                cs->c[0] = cs->c[i];
                heap_sift_down(cs->c, k, 0);
            }
        }
    }
    cs->n = k;
    cs->identity = 0;
    cs->sorted = 0;
    cands_sort(cs);
}

/* Index of the best candidate (ties towards the lowest id). */
static int32_t cands_argmax(const cand_set *cs) {
    if (cs->sorted) return 0;
    int32_t best = 0;
    for (int32_t i = 1; i < cs->n; i++)
        if (cand_better(&cs->c[i], &cs->c[best])) best = i;
    return best;
}

/* --------------------------------------------------------------- stages */

static int32_t find_cand(const cand_set *cs, int32_t id) {
    if (cs->identity) return id < cs->n ? id : -1;
    for (int32_t i = 0; i < cs->n; i++)
        if (cs->c[i].id == id) return i;
    return -1;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void apply_penalties(qlm_sampler *s, const stage *st, cand_set *cs) {
    float repeat = st->f[0], freq = st->f[1], presence = st->f[2];
    if (repeat == 1.0f && freq == 0.0f && presence == 0.0f) return;
    int32_t n = st->n < s->hist_len ? st->n : s->hist_len;
    if (n == 0) return;
    /* the window is the n most recent tokens of the ring */
    for (int32_t i = 0; i < n; i++)
        s->hist_sorted[i] = s->hist[(s->hist_head - 1 - i + s->hist_cap) % s->hist_cap];
    qsort(s->hist_sorted, (size_t)n, sizeof *s->hist_sorted, cmp_i32);
    for (int32_t i = 0; i < n;) {
        int32_t tok = s->hist_sorted[i], count = 0;
        while (i < n && s->hist_sorted[i] == tok) {
            count++;
            i++;
        }
        int32_t j = find_cand(cs, tok);
        if (j < 0) continue;
        float *l = &cs->c[j].logit;
        if (*l <= 0.0f)
            *l *= repeat;
        else
            *l /= repeat;
        *l -= (float)count * freq + presence;
    }
    cs->sorted = 0;
}

static void apply_top_p(const stage *st, cand_set *cs) {
    float p = st->f[0];
    if (p >= 1.0f || cs->n <= 1) return;
    cands_sort(cs);
    float max = cs->c[0].logit;
    if (!isfinite(max)) return; /* -inf: nothing to rank; +inf: one winner */
    double sum = 0.0;
    for (int32_t i = 0; i < cs->n; i++) sum += exp((double)cs->c[i].logit - max);
    double cum = 0.0;
    for (int32_t i = 0; i < cs->n; i++) {
        cum += exp((double)cs->c[i].logit - max) / sum;
        if (cum >= p && (size_t)i + 1 >= st->min_keep) {
            cs->n = i + 1;
            return;
        }
    }
}

static void apply_min_p(const stage *st, cand_set *cs) {
    float p = st->f[0];
    if (p <= 0.0f || cs->n <= 1) return;
    float max = cs->c[cands_argmax(cs)].logit;
    if (!isfinite(max)) return;
    /* prob_i >= p * prob_max  <=>  logit_i >= logit_max + log(p) */
    float min_logit = max + logf(p);
    int32_t kept = 0;
    for (int32_t i = 0; i < cs->n; i++)
        if (cs->c[i].logit >= min_logit) kept++;
    if ((size_t)kept < st->min_keep) {
        cands_sort(cs);
        kept = st->min_keep < (size_t)cs->n ? (int32_t)st->min_keep : cs->n;
        cs->n = kept;
        return;
    }
    int32_t w = 0; /* compaction keeps the relative order (and sortedness) */
    for (int32_t i = 0; i < cs->n; i++)
        if (cs->c[i].logit >= min_logit) cs->c[w++] = cs->c[i];
    if (w != cs->n) cs->identity = 0;
    cs->n = w;
}

static void apply_temp(const stage *st, cand_set *cs) {
    float t = st->f[0];
    if (t <= 0.0f) {
        /* temperature zero is the limit of sharpening: only the arg max stays */
        cs->c[0] = cs->c[cands_argmax(cs)];
        if (cs->n != 1) cs->identity = 0;
        cs->n = 1;
        cs->sorted = 1;
        return;
    }
    for (int32_t i = 0; i < cs->n; i++) cs->c[i].logit /= t;
}

static void apply_filter(qlm_sampler *s, const stage *st, cand_set *cs) {
    switch (st->kind) {
    case STAGE_PENALTIES: apply_penalties(s, st, cs); break;
    case STAGE_TOP_K: cands_top_k(cs, st->n); break;
    case STAGE_TOP_P: apply_top_p(st, cs); break;
    case STAGE_MIN_P: apply_min_p(st, cs); break;
    case STAGE_TEMP: apply_temp(st, cs); break;
    case STAGE_GREEDY:
    case STAGE_DIST: break;
    }
}

/* ---------------------------------------------------------------- picks */

static qlm_status pick_dist(qlm_sampler *s, const cand_set *cs, int32_t *out) {
    float max = cs->c[cands_argmax(cs)].logit;
    double sum = 0.0;
    for (int32_t i = 0; i < cs->n; i++) {
        float l = cs->c[i].logit;
        /* +inf candidates share all the mass */
        sum += isinf(max) ? (l == max) : exp((double)l - max);
    }
    double u = qlm_sampler_rng_next(s) * sum, cum = 0.0;
    int32_t last = -1;
    for (int32_t i = 0; i < cs->n; i++) {
        float l = cs->c[i].logit;
        double w = isinf(max) ? (l == max) : exp((double)l - max);
        if (w <= 0.0) continue;
        last = i;
        cum += w;
        if (u < cum) break;
    }
    /* rounding can leave u just past the total: the last positive weight wins */
    *out = cs->c[last].id;
    return QLM_OK;
}

/* ---------------------------------------------------------------- run */

/* Copies logits into the scratch candidates and runs every filter stage. */
static qlm_status run_chain(qlm_sampler *s, const float *logits, int32_t n_vocab,
                            cand_set *cs) {
    if (!logits) return qlm_err(&s->err, QLM_ERR_INVALID_ARG, "sampler: logits is NULL");
    if (n_vocab <= 0)
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG, "sampler: n_vocab %d <= 0", (int)n_vocab);
    if (n_vocab > s->cands_cap) {
        cand *c = realloc(s->cands, (size_t)n_vocab * sizeof *c);
        if (!c)
            return qlm_err(&s->err, QLM_ERR_NOMEM, "sampler: %d candidates", (int)n_vocab);
        s->cands = c;
        s->cands_cap = n_vocab;
    }
    for (int32_t i = 0; i < n_vocab; i++) {
        s->cands[i].id = i;
        s->cands[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
    }
    *cs = (cand_set){.c = s->cands, .n = n_vocab, .sorted = 0, .identity = 1};
    for (int i = 0; i < s->n_stages; i++) apply_filter(s, &s->stages[i], cs);
    return QLM_OK;
}

qlm_status qlm_sampler_sample(qlm_sampler *s, const float *logits, int32_t n_vocab,
                              int32_t *out) {
    if (!s) return QLM_ERR_INVALID_ARG;
    if (!out) return qlm_err(&s->err, QLM_ERR_INVALID_ARG, "sampler: out is NULL");
    if (!s->has_pick)
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG,
                       "sampler: the chain has no pick stage (add greedy or dist last)");
    cand_set cs;
    qlm_status st = run_chain(s, logits, n_vocab, &cs);
    if (st != QLM_OK) return st;
    int32_t best = cands_argmax(&cs);
    if (cs.c[best].logit == -INFINITY)
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG,
                       "sampler: every candidate logit is -inf or NaN");
    if (s->stages[s->n_stages - 1].kind == STAGE_DIST) return pick_dist(s, &cs, out);
    *out = cs.c[best].id;
    return QLM_OK;
}

qlm_status qlm_sampler_run_filters(qlm_sampler *s, const float *logits, int32_t n_vocab,
                                   int32_t *ids, float *logits_out, size_t cap,
                                   size_t *n_out) {
    if (!s) return QLM_ERR_INVALID_ARG;
    if (!n_out || (cap > 0 && !ids))
        return qlm_err(&s->err, QLM_ERR_INVALID_ARG, "sampler: NULL output");
    cand_set cs;
    qlm_status st = run_chain(s, logits, n_vocab, &cs);
    if (st != QLM_OK) return st;
    *n_out = (size_t)cs.n;
    if ((size_t)cs.n > cap)
        return qlm_err(&s->err, QLM_ERR_BUFFER_TOO_SMALL, "sampler: %d survivors, room for %zu",
                       (int)cs.n, cap);
    for (int32_t i = 0; i < cs.n; i++) {
        ids[i] = cs.c[i].id;
        if (logits_out) logits_out[i] = cs.c[i].logit;
    }
    return QLM_OK;
}

/* --------------------------------------------------------------- params */

qlm_sampler_params qlm_sampler_default_params(void) {
    /* llama.cpp's common defaults, with a fixed seed (see SAMPLER_DEFAULT_SEED) */
    return (qlm_sampler_params){
        .seed = SAMPLER_DEFAULT_SEED,
        .temp = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .frequency_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .penalty_last_n = 64,
    };
}

static qlm_status build_from_params(qlm_sampler *s, const qlm_sampler_params *p) {
    qlm_status st = QLM_OK;
    int penal = p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f ||
                p->presence_penalty != 0.0f;
    if (penal && p->penalty_last_n != 0)
        st = qlm_sampler_add_penalties(s, p->penalty_last_n, p->repeat_penalty,
                                       p->frequency_penalty, p->presence_penalty);
    if (st == QLM_OK && isnan(p->temp)) st = qlm_sampler_add_temp(s, p->temp);
    if (st != QLM_OK) return st;
    /* the filters cannot remove the arg max, so greedy skips them */
    if (p->temp <= 0.0f) return qlm_sampler_add_greedy(s);
    if (p->top_k > 0) st = qlm_sampler_add_top_k(s, p->top_k);
    if (st == QLM_OK && (isnan(p->top_p) || p->top_p < 1.0f))
        st = qlm_sampler_add_top_p(s, p->top_p, 1);
    if (st == QLM_OK && (isnan(p->min_p) || p->min_p > 0.0f))
        st = qlm_sampler_add_min_p(s, p->min_p, 1);
    if (st == QLM_OK) st = qlm_sampler_add_temp(s, p->temp);
    if (st == QLM_OK) st = qlm_sampler_add_dist(s);
    return st;
}

qlm_status qlm_sampler_from_params(const qlm_sampler_params *p, qlm_sampler **out) {
    if (!out) return QLM_ERR_INVALID_ARG;
    *out = NULL;
    if (!p) return QLM_ERR_INVALID_ARG;
    qlm_sampler *s;
    qlm_status st = qlm_sampler_chain_new(p->seed, &s);
    if (st != QLM_OK) return st;
    st = build_from_params(s, p);
    /* like the other constructors, a failed build still hands back the
     * handle so the caller can read why */
    *out = s;
    return st;
}
