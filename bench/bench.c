/* bench.c - throughput benchmark in the spirit of llama-bench: prompt
 * processing (pp N: one batch of N tokens) and token generation (tg N: N
 * single-token decodes), repeated, reported as mean +- sd tokens/s with the
 * bytes of weights streamed per generated token. Markdown or JSON. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qlm.h"

#define MAX_LIST 16

typedef struct int_list { int v[MAX_LIST]; int n; } int_list;

typedef struct bench_opts {
    const char *model;
    int_list pp, tg, threads;
    int reps, json;
} bench_opts;

typedef struct result {
    const char *test_kind; /* "pp" or "tg" */
    int n_tokens, n_threads;
    double mean, sd;       /* tokens per second */
} result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_list(const char *s, int_list *l) {
    l->n = 0;
    while (*s && l->n < MAX_LIST) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || v < 0 || v > 1000000) return 0;
        l->v[l->n++] = (int)v;
        if (*end == ',') end++;
        else if (*end) return 0;
        s = end;
    }
    return *s == '\0';
}

static void usage(FILE *f) {
    fputs("usage: bench -m MODEL.gguf [options]\n"
          "  -p, --n-prompt LIST   prompt lengths to test, comma separated (default 128); 0 = none\n"
          "  -n, --n-gen LIST      generation lengths to test (default 32); 0 = none\n"
          "  -t, --threads LIST    thread counts (default: all cores)\n"
          "  -r, --repetitions N   repetitions of each test (default 3)\n"
          "  -o, --output md|json  output format (default md)\n"
          "  -h, --help\n", f);
}

static int parse_args(bench_opts *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 2;
        if (!v) return fprintf(stderr, "error: %s needs a value (see --help)\n", a), 1;
        int ok = 1;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) ok = parse_list(v, &o->pp);
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) ok = parse_list(v, &o->tg);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = parse_list(v, &o->threads);
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) ok = (o->reps = atoi(v)) > 0;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) ok = (o->json = !strcmp(v, "json")) || !strcmp(v, "md");
        else return fprintf(stderr, "error: unknown option %s (see --help)\n", a), 1;
        if (!ok) return fprintf(stderr, "error: bad value '%s' for %s\n", v, a), 1;
        i++;
    }
    if (!o->model) return fprintf(stderr, "error: no model given (-m FILE)\n"), 1;
    return 0;
}

/* One timed run: pp = one decode of n tokens; tg = n decodes of one token. */
static qlm_status run_once(qlm_context *ctx, const char *kind, int n, int32_t n_vocab, double *secs) {
    qlm_context_reset(ctx);
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (!toks) return QLM_ERR_NOMEM;
    for (int i = 0; i < n; i++) toks[i] = (int32_t)((i * 7919 + 13) % n_vocab); /* arbitrary valid ids */
    qlm_status st = QLM_OK;
    double t0 = now_s();
    if (!strcmp(kind, "pp")) {
        st = qlm_decode(ctx, toks, n, NULL);
    } else {
        for (int i = 0; i < n && st == QLM_OK; i++) st = qlm_decode(ctx, &toks[i], 1, NULL);
    }
    *secs = now_s() - t0;
    free(toks);
    return st;
}

static int run_test(qlm_model *m, const char *kind, int n, int threads, int reps, result *r) {
    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = n + 1;
    cp.n_batch = n > 0 ? n : 1;
    cp.n_threads = threads;
    qlm_context *ctx = NULL;
    if (qlm_context_new(m, &cp, &ctx) != QLM_OK) {
        fprintf(stderr, "error: %s\n", ctx ? qlm_context_last_error(ctx) : "out of memory");
        qlm_context_free(ctx);
        return 1;
    }
    double secs, sum = 0, sum2 = 0;
    qlm_status st = run_once(ctx, kind, n < 8 ? n : 8, qlm_model_n_vocab(m), &secs); /* warm-up */
    for (int i = 0; i < reps && st == QLM_OK; i++) {
        st = run_once(ctx, kind, n, qlm_model_n_vocab(m), &secs);
        double tps = n / secs;
        sum += tps;
        sum2 += tps * tps;
    }
    if (st != QLM_OK) fprintf(stderr, "error: %s\n", qlm_context_last_error(ctx));
    qlm_context_free(ctx);
    r->test_kind = kind;
    r->n_tokens = n;
    r->n_threads = threads;
    r->mean = sum / reps;
    r->sd = reps > 1 ? sqrt(fmax(0.0, (sum2 - sum * sum / reps) / (reps - 1))) : 0.0;
    return st != QLM_OK;
}

static void print_row(const qlm_model *m, const result *r, int json, int first) {
    const double gib = qlm_model_size_bytes(m) / 1073741824.0;
    /* every generated token streams all weights once: GB/s = tok/s x bytes */
    const double gbs = r->mean * qlm_model_size_bytes(m) / 1e9;
    if (json) {
        printf("%s  {\"model\": \"%s\", \"arch\": \"%s\", \"size_bytes\": %llu, \"n_params\": %llu, "
               "\"backend\": \"cpu-%s\", \"n_threads\": %d, \"test\": \"%s%d\", \"avg_ts\": %.3f, "
               "\"stddev_ts\": %.3f, \"weights_gbps\": %.3f}", first ? "" : ",\n", qlm_model_name(m),
               qlm_model_arch(m), (unsigned long long)qlm_model_size_bytes(m),
               (unsigned long long)qlm_model_n_params(m), qlm_system_info(), r->n_threads, r->test_kind,
               r->n_tokens, r->mean, r->sd, strcmp(r->test_kind, "tg") ? 0.0 : gbs);
        return;
    }
    char gb[32] = "";
    if (!strcmp(r->test_kind, "tg")) snprintf(gb, sizeof gb, "%.2f", gbs);
    printf("| %-24.24s | %9.2f MiB | %8.2f M | cpu-%-6s | %7d | %6s%-5d | %9.2f ± %-7.2f | %9s |\n",
           qlm_model_name(m), gib * 1024.0, qlm_model_n_params(m) / 1e6, qlm_system_info(), r->n_threads,
           r->test_kind, r->n_tokens, r->mean, r->sd, gb);
}

static int run_all(qlm_model *m, const bench_opts *o) {
    int first = 1, rc = 0;
    if (o->json) printf("[\n");
    else printf("| %-24s | %13s | %10s | %-10s | %7s | %11s | %19s | %9s |\n"
                "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "model", "size", "params", "backend", "threads",
                "test", "t/s", "GB/s", "---", "---:", "---:", "---", "---:", "---:", "---:", "---:");
    for (int ti = 0; ti < o->threads.n; ti++) {
        const int_list *lists[2] = {&o->pp, &o->tg};
        const char *kinds[2] = {"pp", "tg"};
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < lists[k]->n; i++) {
                if (lists[k]->v[i] == 0) continue;
                result r = {kinds[k], 0, 0, 0.0, 0.0};
                rc |= run_test(m, kinds[k], lists[k]->v[i], o->threads.v[ti], o->reps, &r);
                print_row(m, &r, o->json, first);
                first = 0;
                fflush(stdout);
            }
    }
    if (o->json) printf("\n]\n");
    return rc;
}

int main(int argc, char **argv) {
    bench_opts o = {.pp = {{128}, 1}, .tg = {{32}, 1}, .threads = {{0}, 1}, .reps = 3};
    int r = parse_args(&o, argc, argv);
    if (r == 2) return usage(stdout), 0;
    if (r) return 1;
    for (int i = 0; i < o.threads.n; i++)
        if (o.threads.v[i] <= 0) o.threads.v[i] = (int)sysconf(_SC_NPROCESSORS_ONLN);
    qlm_model_params mp = qlm_model_default_params();
    qlm_model *m = NULL;
    if (qlm_model_load(o.model, &mp, &m) != QLM_OK) {
        fprintf(stderr, "error: %s\n", m ? qlm_model_last_error(m) : "out of memory");
        qlm_model_free(m);
        return 1;
    }
    r = run_all(m, &o);
    qlm_model_free(m);
    return r;
}
