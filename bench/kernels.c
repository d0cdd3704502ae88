/* kernels.c - matmul micro-benchmark: every kernel table this machine runs
 * (qlm_ops_list, reference first) x every weight type with a quantizer and a
 * dot product, on a 4096 x 4096 weight matrix.
 *  - decode (n_tok = 1) is memory-bound, so it cycles through enough copies
 *    of the matrix to exceed the last-level cache and reports GB/s of
 *    weights read;
 *  - prefill (n_tok = 64) is compute-bound and reports GFLOP/s.
 * Each is compared with the reference table at the same thread count.
 * Types the loader repacks are measured in both layouts: as stored (rows)
 * and interleaved (r16, what a loaded model runs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ops.h"
#include "pack.h"

#define KB_N 4096             /* rows and columns of the weight matrix */
#define KB_PP_TOK 64          /* tokens of the prefill case */
#define KB_SET_BYTES (256ull << 20) /* decode working set: 8x a 32 MiB LLC */
#define KB_MAX_COPIES 64
#define KB_MIN_SECONDS 0.3

typedef struct kb_result { double tg_gbs, tg_gflops, pp_gflops; } kb_result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Uniform in [-1, 1): the values do not matter for speed, only that they
 * are not all equal (some quantizers special-case zero blocks). */
static float uniform(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(*s >> 40) / (float)(1 << 23) - 1.0f;
}

/* Packs one KB_N x KB_N matrix in place, as the model loader does. */
static int pack_matrix(qlm_type t, char *w) {
    qlm_tensor wt = {.type = t, .ne = {KB_N, KB_N, 1, 1}, .row_bytes = qlm_row_size(t, KB_N), .data = w};
    void *tmp = malloc(QLM_PACK_ROWS * wt.row_bytes);
    if (!tmp) return 0;
    qlm_pack_groups(&wt, w, 0, KB_N / QLM_PACK_ROWS, tmp);
    free(tmp);
    return 1;
}

/* copies x (KB_N x KB_N) matrices of type t, one after another. */
static void *make_weights(qlm_type t, qlm_layout layout, size_t copies, size_t *bytes_one) {
    const size_t rb = qlm_row_size(t, KB_N), bytes = rb * KB_N;
    char *w = malloc(bytes * copies);
    float *row = malloc(sizeof(float) * KB_N);
    if (w && row) {
        uint64_t s = 42;
        for (int r = 0; r < KB_N; r++) {
            for (int i = 0; i < KB_N; i++) row[i] = uniform(&s);
            qlm_type_traits_get(t)->from_float(row, w + (size_t)r * rb, KB_N);
        }
        if (layout == QLM_LAYOUT_R16 && !pack_matrix(t, w)) copies = 0;
        for (size_t c = 1; c < copies; c++) memcpy(w + c * bytes, w, bytes);
    }
    if (!copies || !w || !row) {
        free(w);
        w = NULL;
    }
    free(row);
    *bytes_one = bytes;
    return w;
}

/* Best time of one call of fn over a run of at least KB_MIN_SECONDS. */
static double time_decode(const qlm_ops *ops, qlm_tensor *w, const char *base, size_t bytes,
                          size_t copies, const float *x, float *y, void *scratch, int nt) {
    double best = 1e30, start = now_s();
    for (int pass = 0; pass < 3 || now_s() - start < KB_MIN_SECONDS; pass++) {
        double t0 = now_s();
        for (size_t c = 0; c < copies; c++) {
            w->data = base + c * bytes;
            ops->matmul(w, x, 1, y, scratch, nt);
        }
        double dt = (now_s() - t0) / (double)copies;
        if (pass > 0 && dt < best) best = dt; /* pass 0 warms up */
    }
    return best;
}

static double time_prefill(const qlm_ops *ops, const qlm_tensor *w, const float *x, float *y,
                           void *scratch, int nt) {
    double best = 1e30, start = now_s();
    for (int k = 0; k < 1 || now_s() - start < KB_MIN_SECONDS; k++) {
        double t0 = now_s();
        ops->matmul(w, x, KB_PP_TOK, y, scratch, nt);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

static int bench_type(const qlm_ops *ops, qlm_type t, qlm_layout layout, int nt, kb_result *r) {
    size_t bytes = 0, copies;
    const size_t one = qlm_row_size(t, KB_N) * KB_N;
    copies = (size_t)(KB_SET_BYTES + one - 1) / one;
    copies = copies > KB_MAX_COPIES ? KB_MAX_COPIES : copies < 1 ? 1 : copies;
    char *w = make_weights(t, layout, copies, &bytes);
    float *x = malloc(sizeof(float) * KB_N * KB_PP_TOK), *y = malloc(sizeof(float) * KB_N * KB_PP_TOK);
    void *scratch = malloc(qlm_matmul_scratch_size(t, KB_N, KB_PP_TOK) + 64);
    int ok = w && x && y && scratch;
    if (ok) {
        uint64_t s = 7;
        for (int i = 0; i < KB_N * KB_PP_TOK; i++) x[i] = uniform(&s);
        qlm_tensor wt = {.name = "bench", .type = t, .layout = layout, .ne = {KB_N, KB_N, 1, 1},
                         .row_bytes = qlm_row_size(t, KB_N), .data = w};
        const double flops1 = 2.0 * KB_N * KB_N;
        double dt = time_decode(ops, &wt, w, bytes, copies, x, y, scratch, nt);
        r->tg_gbs = bytes / dt / 1e9;
        r->tg_gflops = flops1 / dt / 1e9;
        wt.data = w;
        r->pp_gflops = flops1 * KB_PP_TOK / time_prefill(ops, &wt, x, y, scratch, nt) / 1e9;
    }
    free(w);
    free(x);
    free(y);
    free(scratch);
    return ok;
}

static const char *layout_name(qlm_layout l) { return l == QLM_LAYOUT_R16 ? "r16" : "rows"; }

static void print_row(const char *table, qlm_type t, qlm_layout l, int nt, const kb_result *r,
                      const kb_result *ref, int json, int *first) {
    if (json) {
        printf("%s  {\"kernels\": \"%s\", \"type\": \"%s\", \"layout\": \"%s\", \"n_threads\": %d, "
               "\"n\": %d, \"tg_gbps\": %.3f, \"tg_gflops\": %.3f, \"tg_vs_ref\": %.3f, \"pp_n_tok\": %d, "
               "\"pp_gflops\": %.3f, \"pp_vs_ref\": %.3f}", *first ? "" : ",\n", table, qlm_type_name(t),
               layout_name(l), nt, KB_N, r->tg_gbs, r->tg_gflops, r->tg_gbs / ref->tg_gbs, KB_PP_TOK, r->pp_gflops,
               r->pp_gflops / ref->pp_gflops);
    } else {
        printf("| %-8s | %-5s | %-6s | %7d | %10.2f | %11.2f | %6.2fx | %12.2f | %6.2fx |\n", table,
               qlm_type_name(t), layout_name(l), nt, r->tg_gbs, r->tg_gflops, r->tg_gbs / ref->tg_gbs, r->pp_gflops, r->pp_gflops / ref->pp_gflops);
    }
    *first = 0;
    fflush(stdout);
}

int kernels_bench(const int_list *threads, int json, int only_type) {
    const qlm_ops *tables[16];
    const int n_tables = qlm_ops_list(tables, 16);
    int first = 1;
    if (json) printf("[\n");
    else printf("matmul %d x %d: tg = 1 token (weights streamed from memory), pp = %d tokens\n\n"
                "| kernels  | type  | layout | threads | tg GB/s    | tg GFLOP/s  | vs ref  | pp%d GFLOP/s  | vs ref  |\n"
                "|----------|-------|--------|--------:|-----------:|------------:|--------:|-------------:|--------:|\n",
                KB_N, KB_N, KB_PP_TOK, KB_PP_TOK);
    for (uint32_t t = 0; t < QLM_TYPE_COUNT; t++) {
        const qlm_type_traits *tt = qlm_type_traits_get(t);
        if (!tt || !tt->name || !tt->from_float || !tt->vec_dot || KB_N % tt->block_size) continue;
        if (only_type >= 0 && (uint32_t)only_type != t) continue;
        const int n_layouts = qlm_pack_supported((qlm_type)t, KB_N, KB_N) ? 2 : 1;
        for (int li = 0; li < n_layouts; li++)
            for (int ti = 0; ti < threads->n; ti++) {
                kb_result ref = {0, 0, 0};
                for (int k = 0; k < n_tables; k++) {
                    kb_result r;
                    if (!bench_type(tables[k], (qlm_type)t, (qlm_layout)li, threads->v[ti], &r)) {
                        fprintf(stderr, "error: out of memory benchmarking %s\n", tt->name);
                        return 1;
                    }
                    if (k == 0) ref = r; /* qlm_ops_list puts the reference first */
                    print_row(tables[k]->name, (qlm_type)t, (qlm_layout)li, threads->v[ti], &r, &ref, json,
                              &first);
                }
            }
    }
    if (json) printf("\n]\n");
    return 0;
}
