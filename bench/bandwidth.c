/* bandwidth.c - the machine's read bandwidth, measured in the same run as
 * the model so "% of bandwidth" compares like with like.
 *
 * Streams a buffer much larger than the last-level cache and sums it. The
 * sum uses several independent vector accumulators of floats: a single (or
 * double) accumulator is a dependency chain the compiler may not reorder
 * without -ffast-math, which on two cores would make the probe compute-bound
 * and understate the memory limit. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define BW_BYTES (1ull << 30) /* 1 GiB: far beyond any LLC */
#define BW_PASSES 5

/* 8 accumulators x 4 floats: enough independent adds to cover FP add
 * latency at two per cycle; plain SSE2 so it runs on any x86-64 (a 16-byte
 * load per add is still far more than memory can feed). */
typedef float v4f __attribute__((vector_size(16)));

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static float sum_chunk(const v4f *p, size_t n) {
    v4f a[8] = {{0}};
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += p[i + j];
    v4f s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    return s[0] + s[1] + s[2] + s[3];
}

/* One pass: each thread sums its contiguous slice. Returns seconds. */
static double pass(const v4f *buf, size_t n, int n_threads, volatile float *sink) {
    float total = 0.0f;
    double t0 = now_s();
    #pragma omp parallel num_threads(n_threads) reduction(+ : total)
    {
        size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
        size_t per = n / nt / 8 * 8;
        total += sum_chunk(buf + id * per, per);
    }
    double dt = now_s() - t0;
    *sink = total;
    return dt;
}

double bw_probe(int n_threads) {
    const size_t n = BW_BYTES / sizeof(v4f);
    v4f *buf = aligned_alloc(64, BW_BYTES);
    if (!buf) return 0.0;
    /* Touch every page first (by the threads that will read it): untouched
     * pages all map the shared zero page and would read from cache. */
    #pragma omp parallel for num_threads(n_threads) schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = (v4f){1.0f, 2.0f, 3.0f, 4.0f};
    volatile float sink = 0.0f;
    double best = 1e30;
    for (int k = 0; k < BW_PASSES; k++) {
        double dt = pass(buf, n, n_threads, &sink);
        if (dt < best) best = dt;
    }
    free(buf);
    const size_t nt = (size_t)(n_threads > 0 ? n_threads : 1);
    return (double)(n / nt / 8 * 8 * nt) * sizeof(v4f) / best / 1e9;
}
