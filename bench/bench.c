/* bench.c - throughput benchmark in the spirit of llama-bench: prompt
 * processing (pp N: one batch of N tokens) and token generation (tg N: N
 * single-token decodes), repeated, reported as mean +- sd tokens/s. For tg
 * it also reports the GB/s of weights streamed and that as a share of the
 * read bandwidth measured in the same run, since decode is memory-bound.
 * The model is a GGUF file or a synthetic one (synth.c); --bandwidth and
 * --kernels run the probe and the matmul micro-benchmark alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "qlm.h"
#ifdef QLM_HAVE_CUDA
#include "cuda.h"
#endif

typedef struct result {
    const char *kind; /* "pp" or "tg" */
    int n_tokens, n_threads;
    double mean, sd;  /* tokens per second */
    double bw;        /* probe GB/s at this thread count; 0 if not measured */
} result;

/* What one generated token reads, how to name the model in a row, and
 * where it runs ("cpu-avx512", or "cuda" with the device's name). */
typedef struct model_info {
    uint64_t bytes_per_token;
    char label[96], type[16], backend[32], device[160];
} model_info;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Every weight is read once per token except the embedding table, of which
 * one row is read, unless it doubles as the output head (tied). Bytes as
 * loaded: what the kernels stream, more than the file's where the loader
 * transcoded a weight (TQ1_0 into TQ2_0); the type named is the file's. */
static void model_info_get(const qlm_model *m, model_info *mi) {
    uint64_t embd = 0, rest = 0, by_type[QLM_TYPE_COUNT] = {0};
    int has_output = 0;
    for (int64_t i = 0; i < qlm_model_tensor_count(m); i++) {
        qlm_tensor_info ti;
        if (qlm_model_tensor_info(m, i, &ti) != QLM_OK) continue;
        if (!strcmp(ti.name, "token_embd.weight")) embd = ti.loaded_bytes;
        else rest += ti.loaded_bytes;
        has_output |= !strcmp(ti.name, "output.weight");
        for (uint32_t t = 0; t < QLM_TYPE_COUNT && ti.n_dims >= 2; t++)
            if (!strcmp(qlm_type_name(t), ti.type_name)) by_type[t] += ti.n_bytes;
    }
    mi->bytes_per_token = rest + (has_output ? 0 : embd);
    uint32_t top = 0;
    for (uint32_t t = 1; t < QLM_TYPE_COUNT; t++) top = by_type[t] > by_type[top] ? t : top;
    snprintf(mi->type, sizeof mi->type, "%s", qlm_type_name(top));
    const char *name = *qlm_model_name(m) ? qlm_model_name(m) : qlm_model_arch(m);
    if (strstr(name, mi->type)) snprintf(mi->label, sizeof mi->label, "%s", name);
    else snprintf(mi->label, sizeof mi->label, "%s %s", name, mi->type);
    int n_gpu = 0;
    const int gpu = !strcmp(qlm_model_device(m, &n_gpu), "cuda");
    if (gpu && n_gpu < qlm_model_n_layer(m)) snprintf(mi->backend, sizeof mi->backend, "cuda-ngl%d", n_gpu);
    else if (gpu) snprintf(mi->backend, sizeof mi->backend, "cuda");
    else snprintf(mi->backend, sizeof mi->backend, "cpu-%s", qlm_system_info());
    snprintf(mi->device, sizeof mi->device, "cpu");
#ifdef QLM_HAVE_CUDA
    if (gpu) qlm_cuda_describe(mi->device, sizeof mi->device);
#endif
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

static int run_test(qlm_model *m, int threads, int reps, result *r) {
    const int n = r->n_tokens;
    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = n + 1;
    cp.n_batch = n;
    cp.n_threads = threads;
    qlm_context *ctx = NULL;
    if (qlm_context_new(m, &cp, &ctx) != QLM_OK) {
        fprintf(stderr, "error: %s\n", ctx ? qlm_context_last_error(ctx) : "out of memory");
        qlm_context_free(ctx);
        return 1;
    }
    double secs, sum = 0, sum2 = 0;
    qlm_status st = run_once(ctx, r->kind, n < 8 ? n : 8, qlm_model_n_vocab(m), &secs); /* warm-up */
    for (int i = 0; i < reps && st == QLM_OK; i++) {
        st = run_once(ctx, r->kind, n, qlm_model_n_vocab(m), &secs);
        double tps = n / secs;
        sum += tps;
        sum2 += tps * tps;
    }
    if (st != QLM_OK) fprintf(stderr, "error: %s\n", qlm_context_last_error(ctx));
    qlm_context_free(ctx);
    r->n_threads = threads;
    r->mean = sum / reps;
    r->sd = reps > 1 ? sqrt(fmax(0.0, (sum2 - sum * sum / reps) / (reps - 1))) : 0.0;
    return st != QLM_OK;
}

static void iso_date(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* model names come from the file: escape them for JSON. */
static void json_escape(const char *s, char *out, size_t cap) {
    size_t w = 0;
    for (; *s && w + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') w += (size_t)snprintf(out + w, cap - w, "\\%c", c);
        else if (c < 0x20) w += (size_t)snprintf(out + w, cap - w, "\\u%04x", c);
        else out[w++] = (char)c;
    }
    out[w] = '\0';
}

static void print_json_row(const qlm_model *m, const model_info *mi, const result *r, int first) {
    const int tg = !strcmp(r->kind, "tg");
    const double gbs = tg ? r->mean * (double)mi->bytes_per_token / 1e9 : 0.0;
    char date[32], label[256], device[320];
    iso_date(date, sizeof date);
    json_escape(mi->label, label, sizeof label);
    json_escape(mi->device, device, sizeof device);
    printf("%s  {\"model\": \"%s\", \"arch\": \"%s\", \"type\": \"%s\", \"size_bytes\": %llu, "
           "\"n_params\": %llu, \"backend\": \"%s\", \"device\": \"%s\", \"n_threads\": %d, \"test\": \"%s%d\", "
           "\"n_prompt\": %d, \"n_gen\": %d, \"avg_ts\": %.3f, \"stddev_ts\": %.3f, "
           "\"weights_bytes_per_token\": %llu, \"weights_gbps\": %.3f, \"bandwidth_gbps\": %.3f, "
           "\"pct_bandwidth\": %.2f, \"date\": \"%s\", \"qlm_version\": \"%s\"}",
           first ? "" : ",\n", label, qlm_model_arch(m), mi->type,
           (unsigned long long)qlm_model_size_bytes(m), (unsigned long long)qlm_model_n_params(m),
           mi->backend, device, r->n_threads, r->kind, r->n_tokens, tg ? 0 : r->n_tokens,
           tg ? r->n_tokens : 0, r->mean, r->sd, (unsigned long long)mi->bytes_per_token, gbs, r->bw,
           tg && r->bw > 0 ? 100.0 * gbs / r->bw : 0.0, date, QLM_VERSION);
}

static void print_md_row(const qlm_model *m, const model_info *mi, const result *r) {
    char gb[32] = "", pct[32] = "";
    if (!strcmp(r->kind, "tg")) {
        const double gbs = r->mean * (double)mi->bytes_per_token / 1e9;
        snprintf(gb, sizeof gb, "%.2f", gbs);
        if (r->bw > 0) snprintf(pct, sizeof pct, "%.0f%% of %.1f", 100.0 * gbs / r->bw, r->bw);
    }
    printf("| %-36.36s | %9.2f MiB | %8.2f M | %-10s | %7d | %6s%-5d | %9.2f ± %-7.2f | %7s | %-13s |\n",
           mi->label, qlm_model_size_bytes(m) / 1048576.0, qlm_model_n_params(m) / 1e6, mi->backend,
           r->n_threads, r->kind, r->n_tokens, r->mean, r->sd, gb, pct);
}

static void print_md_header(void) {
    printf("| %-36s | %13s | %10s | %-10s | %7s | %11s | %19s | %7s | %-13s |\n"
           "|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "model", "size", "params", "backend", "threads", "test",
           "t/s", "GB/s", "% bandwidth", "---", "---:", "---:", "---", "---:", "---:", "---:", "---:", "---");
}

/* Probe per thread count, before the model is loaded (the probe's 1 GiB and
 * a large model need not fit together). */
static void measure_bandwidth(const int_list *threads, double *bw) {
    for (int i = 0; i < threads->n; i++) bw[i] = bw_probe(threads->v[i]);
}

/* On the GPU the yardstick is the device's read bandwidth, measured once
 * after the model is loaded (2 GiB, best of 5 passes), for every row. */
static int on_gpu(const qlm_model *m) { return !strcmp(qlm_model_device(m, NULL), "cuda"); }

static int run_all(qlm_model *m, const bench_opts *o, double *bw) {
    model_info mi;
    model_info_get(m, &mi);
#ifdef QLM_HAVE_CUDA
    if (on_gpu(m)) {
        const double dev_bw = qlm_cuda_read_bandwidth_gbps((size_t)2 << 30, 5);
        for (int i = 0; i < o->threads.n; i++) bw[i] = dev_bw;
        fprintf(stderr, "device %s: read bandwidth %.1f GB/s\n", mi.device, dev_bw);
    }
#endif
    int first = 1, rc = 0;
    if (o->json) printf("[\n");
    else print_md_header();
    for (int ti = 0; ti < o->threads.n; ti++) {
        const int_list *lists[2] = {&o->pp, &o->tg};
        const char *kinds[2] = {"pp", "tg"};
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < lists[k]->n; i++) {
                if (lists[k]->v[i] == 0) continue;
                result r = {kinds[k], lists[k]->v[i], 0, 0.0, 0.0, bw[ti]};
                rc |= run_test(m, o->threads.v[ti], o->reps, &r);
                if (k == 1 && !on_gpu(m)) { /* bandwidth drifts on shared machines: divide by the higher of the
                               * probe before loading and one right after this test */
                    const double after = bw_probe(o->threads.v[ti]);
                    if (after > r.bw) r.bw = after;
                }
                if (o->json) print_json_row(m, &mi, &r, first);
                else print_md_row(m, &mi, &r);
                first = 0;
                fflush(stdout);
            }
    }
    if (o->json) printf("\n]\n");
    return rc;
}

static int run_bandwidth(const bench_opts *o) {
#ifdef QLM_HAVE_CUDA
    if (o->device == QLM_DEVICE_CUDA) { /* the GPU's HBM: 2 GiB, best of 5 passes */
        char dev[160];
        qlm_cuda_describe(dev, sizeof dev);
        const double gbs = qlm_cuda_read_bandwidth_gbps((size_t)2 << 30, 5);
        if (gbs <= 0) return fprintf(stderr, "error: no CUDA device to measure\n"), 1;
        if (o->json) printf("[\n  {\"device\": \"%s\", \"bandwidth_gbps\": %.3f}\n]\n", dev, gbs);
        else printf("| device | read GB/s |\n|---|---:|\n| %s | %.1f |\n", dev, gbs);
        return 0;
    }
#endif
    if (o->json) printf("[\n");
    else printf("| threads | read GB/s |\n|--------:|----------:|\n");
    for (int i = 0; i < o->threads.n; i++) {
        double gbs = bw_probe(o->threads.v[i]);
        if (gbs <= 0) return fprintf(stderr, "error: out of memory for the bandwidth probe\n"), 1;
        if (o->json) printf("%s  {\"n_threads\": %d, \"bandwidth_gbps\": %.3f}", i ? ",\n" : "", o->threads.v[i], gbs);
        else printf("| %7d | %9.2f |\n", o->threads.v[i], gbs);
        fflush(stdout);
    }
    if (o->json) printf("\n]\n");
    return 0;
}

/* Writes the synthetic model to --write FILE or a temporary file; *tmp says
 * whether the caller must delete it. 0 on success. */
static int make_synthetic(const bench_opts *o, char *path, size_t cap, int *tmp) {
    const synth_preset *p = synth_find(o->synthetic);
    *tmp = !o->write_path;
    if (o->write_path) {
        snprintf(path, cap, "%s", o->write_path);
    } else {
        const char *dir = getenv("TMPDIR");
        snprintf(path, cap, "%s/qlm-bench-XXXXXX.gguf", dir && *dir ? dir : "/tmp");
        int fd = mkstemps(path, 5);
        if (fd < 0) return fprintf(stderr, "error: cannot create a temporary file %s\n", path), 1;
        close(fd);
    }
    fprintf(stderr, "synthetic: writing %s %s to %s\n", p->name, qlm_type_name(o->type), path);
    char err[256];
    double t0 = now_s();
    if (synth_write(p, o->type, o->seed, path, isatty(2) ? 2 : 1, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        if (*tmp) remove(path);
        return 1;
    }
    fprintf(stderr, "synthetic: done in %.1f s\n", now_s() - t0);
    return 0;
}

static int bench_model(const bench_opts *o) {
    char path[4096];
    int tmp = 0;
    if (o->synthetic && make_synthetic(o, path, sizeof path, &tmp)) return 1;
    if (!o->synthetic) snprintf(path, sizeof path, "%s", o->model);
    double bw[BENCH_MAX_LIST] = {0};
    int any_tg = 0;
    for (int i = 0; i < o->tg.n; i++) any_tg |= o->tg.v[i] > 0;
    if (any_tg && o->device != QLM_DEVICE_CUDA) measure_bandwidth(&o->threads, bw);
    qlm_model_params mp = qlm_model_default_params();
    mp.device = o->device;
    mp.n_gpu_layers = o->n_gpu_layers;
    qlm_model *m = NULL;
    int rc = 1;
    if (qlm_model_load(path, &mp, &m) != QLM_OK)
        fprintf(stderr, "error: %s\n", m ? qlm_model_last_error(m) : "out of memory");
    else
        rc = run_all(m, o, bw);
    qlm_model_free(m);
    if (tmp) remove(path);
    return rc;
}

int main(int argc, char **argv) {
    bench_opts o = bench_default_opts();
    char err[256];
    if (bench_parse_args(&o, argc, argv, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    if (o.help) return bench_usage(stdout), 0;
    for (int i = 0; i < o.threads.n; i++)
        if (o.threads.v[i] <= 0) o.threads.v[i] = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (o.mode == BENCH_BANDWIDTH) return run_bandwidth(&o);
    if (o.mode == BENCH_KERNELS && o.device == QLM_DEVICE_CUDA)
        return kernels_bench_cuda(o.json, o.typed ? (int)o.type : -1);
    if (o.mode == BENCH_KERNELS) return kernels_bench(&o.threads, o.json, o.typed ? (int)o.type : -1);
    return bench_model(&o);
}
