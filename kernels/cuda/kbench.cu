// kbench.cu - times one device matmul for bench --kernels --device cuda:
// the weights uploaded once, x random, qlm_cu_matmul enqueued reps times
// between two events after a warm-up call.
#include <stdio.h>
#include <stdlib.h>

#include "cuda.h"
#include "matmul.cuh"

struct kb_bufs {
    void *w, *scratch;
    float *x, *y;
    qlm_cu_blas *blas;
    cudaEvent_t t0, t1;
};

static void kb_free(kb_bufs *b) {
    cudaFree(b->w), cudaFree(b->scratch), cudaFree(b->x), cudaFree(b->y);
    if (b->blas) qlm_cu_blas_destroy(b->blas);
    if (b->t0) cudaEventDestroy(b->t0);
    if (b->t1) cudaEventDestroy(b->t1);
}

static cudaError_t kb_alloc(kb_bufs *b, const qlm_cu_weight *w, const void *w_host, int64_t n_tok) {
    const size_t wb = (size_t)w->n_out * w->row_bytes;
    const size_t xb = sizeof(float) * (size_t)(n_tok * w->n_in), yb = sizeof(float) * (size_t)(n_tok * w->n_out);
    const size_t sb = qlm_cu_matmul_scratch_size(w->type, w->n_in, w->n_out, n_tok);
    cudaError_t e = cudaMalloc(&b->w, wb);
    if (e == cudaSuccess) e = cudaMalloc(&b->x, xb);
    if (e == cudaSuccess) e = cudaMalloc(&b->y, yb);
    if (e == cudaSuccess) e = cudaMalloc(&b->scratch, sb ? sb : 1);
    if (e == cudaSuccess) e = cudaMemcpy(b->w, w_host, wb, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) return e;
    float *x = (float *)malloc(xb);
    if (!x) return cudaErrorMemoryAllocation;
    uint64_t s = 7;
    for (int64_t i = 0; i < n_tok * w->n_in; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)(s >> 40) / (float)(1 << 23) - 1.0f;
    }
    e = cudaMemcpy(b->x, x, xb, cudaMemcpyHostToDevice);
    free(x);
    if (e == cudaSuccess) e = cudaEventCreate(&b->t0);
    if (e == cudaSuccess) e = cudaEventCreate(&b->t1);
    if (e == cudaSuccess && !(b->blas = qlm_cu_blas_create(0))) e = cudaErrorNotSupported; // cuBLAS would not start
    return e;
}

extern "C" double qlm_cuda_time_matmul(int type, const void *w_host, int64_t n_in, int64_t n_out, int64_t n_tok,
                                       int reps, char *msg, size_t cap) {
    qlm_cu_weight w = {(qlm_type)type, n_in, n_out, qlm_row_size((qlm_type)type, n_in), NULL};
    kb_bufs b = {};
    float ms = -1.0f;
    cudaError_t e = kb_alloc(&b, &w, w_host, n_tok);
    w.data = b.w;
    if (e == cudaSuccess) e = qlm_cu_matmul(b.blas, 0, &w, b.x, n_tok, b.y, b.scratch); // warm-up
    if (e == cudaSuccess) e = cudaEventRecord(b.t0, 0);
    for (int r = 0; r < reps && e == cudaSuccess; r++) e = qlm_cu_matmul(b.blas, 0, &w, b.x, n_tok, b.y, b.scratch);
    if (e == cudaSuccess) e = cudaEventRecord(b.t1, 0);
    if (e == cudaSuccess) e = cudaEventSynchronize(b.t1);
    if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, b.t0, b.t1);
    if (e != cudaSuccess) snprintf(msg, cap, "%s", cudaGetErrorString(e));
    kb_free(&b);
    cudaGetLastError();
    return e == cudaSuccess ? ms / reps : -1.0;
}
