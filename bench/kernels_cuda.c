/* kernels_cuda.c - bench --kernels --device cuda: every weight type's device
 * matmul (kernels/cuda/matmul.cu) on a 4096-wide weight whose row count
 * makes it at least 512 MiB, far beyond any GPU's L2 (50-60 MiB on an
 * H100/H200), so decode streams it from HBM:
 *  - decode (1 token): GB/s of weights read, and % of the device's read
 *    bandwidth measured in the same run (the 90% target);
 *  - prefill (512 tokens): GFLOP/s (the cuBLAS path).
 * Without CUDA in the build or a device it says so and fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#ifdef QLM_HAVE_CUDA
#include "cuda.h"
#endif

#define KC_N_IN 4096
#define KC_MIN_BYTES (512ull << 20)
#define KC_PP_TOK 512
#define KC_REPS_TG 20
#define KC_REPS_PP 5

#ifdef QLM_HAVE_CUDA
double qlm_cuda_time_matmul(int type, const void *w_host, int64_t n_in, int64_t n_out, int64_t n_tok, int reps,
                            char *msg, size_t cap);

/* n_out rows of random weights of type t (a quantized row repeated: the
 * values do not matter for speed, only the bytes). */
static void *make_rows(qlm_type t, int64_t n_out) {
    const size_t rb = qlm_row_size(t, KC_N_IN);
    char *w = malloc(rb * (size_t)n_out);
    float *row = malloc(sizeof(float) * KC_N_IN);
    if (w && row) {
        uint64_t s = 42;
        for (int i = 0; i < KC_N_IN; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            row[i] = (float)(s >> 40) / (float)(1 << 23) - 1.0f;
        }
        qlm_type_traits_get(t)->from_float(row, w, KC_N_IN);
        for (int64_t r = 1; r < n_out; r++) memcpy(w + (size_t)r * rb, w, rb);
    }
    free(row);
    return w;
}

static int bench_one(qlm_type t, double dev_bw, int json, int *first) {
    const size_t rb = qlm_row_size(t, KC_N_IN);
    const int64_t n_out = (int64_t)((KC_MIN_BYTES + rb - 1) / rb + 255) / 256 * 256;
    void *w = make_rows(t, n_out);
    if (!w) return fprintf(stderr, "error: out of memory for %s\n", qlm_type_name(t)), 1;
    char msg[256] = "";
    const double tg_ms = qlm_cuda_time_matmul(t, w, KC_N_IN, n_out, 1, KC_REPS_TG, msg, sizeof msg);
    const double pp_ms = tg_ms > 0 ? qlm_cuda_time_matmul(t, w, KC_N_IN, n_out, KC_PP_TOK, KC_REPS_PP, msg, sizeof msg)
                                   : -1.0;
    free(w);
    if (tg_ms <= 0 || pp_ms <= 0) return fprintf(stderr, "error: %s: %s\n", qlm_type_name(t), msg), 1;
    const double bytes = (double)rb * n_out, gbs = bytes / (tg_ms * 1e-3) / 1e9;
    const double pp_gflops = 2.0 * KC_N_IN * n_out * KC_PP_TOK / (pp_ms * 1e-3) / 1e9;
    if (json)
        printf("%s  {\"kernels\": \"cuda\", \"type\": \"%s\", \"n_in\": %d, \"n_out\": %lld, \"tg_ms\": %.4f, "
               "\"tg_gbps\": %.2f, \"bandwidth_gbps\": %.2f, \"pct_bandwidth\": %.2f, \"pp_n_tok\": %d, "
               "\"pp_gflops\": %.1f}",
               *first ? "" : ",\n", qlm_type_name(t), KC_N_IN, (long long)n_out, tg_ms, gbs, dev_bw,
               dev_bw > 0 ? 100.0 * gbs / dev_bw : 0.0, KC_PP_TOK, pp_gflops);
    else
        printf("| %-7s | %9lld | %9.3f | %8.1f | %5.1f%% | %12.1f |\n", qlm_type_name(t), (long long)n_out, tg_ms,
               gbs, dev_bw > 0 ? 100.0 * gbs / dev_bw : 0.0, pp_gflops);
    *first = 0;
    fflush(stdout);
    return 0;
}
#endif

int kernels_bench_cuda(int json, int only_type) {
#ifdef QLM_HAVE_CUDA
    char dev[160];
    qlm_cuda_describe(dev, sizeof dev);
    if (!*dev) return fprintf(stderr, "error: --kernels --device cuda: no CUDA device found\n"), 1;
    const double bw = qlm_cuda_read_bandwidth_gbps((size_t)2 << 30, 5);
    fprintf(stderr, "device %s: read bandwidth %.1f GB/s\n", dev, bw);
    if (json) printf("[\n");
    else printf("%s, read bandwidth %.1f GB/s; weights %d wide, >= 512 MiB; tg = 1 token, pp = %d tokens\n\n"
                "| type    |      rows |     tg ms | tg GB/s  | %% bw  | pp GFLOP/s   |\n"
                "|---------|----------:|----------:|---------:|-------:|-------------:|\n", dev, bw, KC_N_IN, KC_PP_TOK);
    int first = 1, rc = 0;
    for (uint32_t t = 0; t < QLM_TYPE_COUNT; t++) {
        const qlm_type_traits *tt = qlm_type_traits_get(t);
        if (!tt || !tt->name || !tt->from_float || !tt->vec_dot || KC_N_IN % tt->block_size) continue;
        if (only_type >= 0 && (uint32_t)only_type != t) continue;
        rc |= bench_one((qlm_type)t, bw, json, &first);
    }
    if (json) printf("\n]\n");
    return rc;
#else
    (void)json, (void)only_type;
    fprintf(stderr, "error: --kernels --device cuda: this build has no CUDA (make CUDA=1)\n");
    return 1;
#endif
}
