// testing.cu - cuda_testing.h: the matmul kernels driven from host memory
// for the tests (tests/test_cuda_matmul.c), on a real GPU or the emulator.
#include <stdarg.h>
#include <stdio.h>

#include "cuda_testing.h"
#include "matmul.cuh"

// Everything one call allocates, freed in one place whatever failed.
struct test_run {
    cudaStream_t stream;
    qlm_cu_blas *blas;
    void *buf[4];
    int n_buf;
    char *msg;
    size_t msg_len;
};

static int fail(test_run *r, const char *fmt, ...) {
    if (r->msg && r->msg_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg, r->msg_len, fmt, ap);
        va_end(ap);
    }
    return 1;
}

static int check(test_run *r, cudaError_t e, const char *what) {
    return e == cudaSuccess ? 0 : fail(r, "%s: %s", what, cudaGetErrorString(e));
}

// A device buffer of `bytes` (at least 1), holding a copy of src if given.
static int upload(test_run *r, void **dst, const void *src, size_t bytes) {
    if (check(r, cudaMalloc(dst, bytes ? bytes : 1), "cudaMalloc")) return 1;
    r->buf[r->n_buf++] = *dst;
    return src && bytes ? check(r, cudaMemcpy(*dst, src, bytes, cudaMemcpyHostToDevice), "upload") : 0;
}

static void release(test_run *r) {
    for (int i = 0; i < r->n_buf; i++) cudaFree(r->buf[i]);
    if (r->blas) qlm_cu_blas_destroy(r->blas);
    if (r->stream) cudaStreamDestroy(r->stream);
}

static int weight(test_run *r, int type, const void *w_host, int64_t n_in, int64_t n_rows, qlm_cu_weight *w) {
    const size_t row_bytes = qlm_row_size((qlm_type)type, n_in);
    if (!qlm_cu_type_supported((qlm_type)type) || row_bytes == 0)
        return fail(r, "type %d with %lld values a row: not supported", type, (long long)n_in);
    w->type = (qlm_type)type;
    w->n_in = n_in;
    w->n_out = n_rows;
    w->row_bytes = row_bytes;
    void *d = NULL;
    if (upload(r, &d, w_host, row_bytes * (size_t)n_rows)) return 1;
    w->data = d;
    return 0;
}

static int run_matmul(test_run *r, int type, const void *w_host, int64_t n_in, int64_t n_out, const float *x_host,
                      int64_t n_tok, int64_t max_chunk_values, float *y_host) {
    if (check(r, cudaStreamCreate(&r->stream), "cudaStreamCreate")) return 1;
    qlm_cu_weight w;
    if (weight(r, type, w_host, n_in, n_out, &w)) return 1;
    if (n_tok > QLM_CU_GEMV_MAX_TOK && !(r->blas = qlm_cu_blas_create(r->stream))) return fail(r, "cuBLAS init");
    void *x, *y, *scratch;
    const size_t y_bytes = (size_t)(n_tok * n_out) * sizeof(float);
    if (upload(r, &x, x_host, (size_t)(n_tok * n_in) * sizeof(float)) || upload(r, &y, NULL, y_bytes) ||
        upload(r, &scratch, NULL, qlm_cu_matmul_scratch_size(w.type, n_in, n_out, n_tok)))
        return 1;
    const cudaError_t e =
        qlm_cu_matmul_chunked(r->blas, r->stream, &w, (const float *)x, n_tok, (float *)y, scratch, max_chunk_values);
    if (check(r, e, "matmul") ||
        check(r, cudaStreamSynchronize(r->stream), "matmul (run)"))
        return 1;
    return check(r, cudaMemcpy(y_host, y, y_bytes, cudaMemcpyDeviceToHost), "download");
}

extern "C" int qlm_cuda_test_matmul_chunked(int type, const void *w_host, int64_t n_in, int64_t n_out,
                                            const float *x_host, int64_t n_tok, int64_t max_chunk_values,
                                            float *y_host, char *msg, size_t msg_len) {
    test_run r = {};
    r.msg = msg, r.msg_len = msg_len;
    const int rc = run_matmul(&r, type, w_host, n_in, n_out, x_host, n_tok, max_chunk_values, y_host);
    release(&r);
    return rc;
}

extern "C" int qlm_cuda_test_matmul(int type, const void *w_host, int64_t n_in, int64_t n_out, const float *x_host,
                                    int64_t n_tok, float *y_host, char *msg, size_t msg_len) {
    return qlm_cuda_test_matmul_chunked(type, w_host, n_in, n_out, x_host, n_tok, 0, y_host, msg, msg_len);
}

static int run_get_rows(test_run *r, int type, const void *w_host, int64_t n_in, int64_t n_rows_total,
                        const int32_t *rows, int64_t n, float *out_host) {
    if (check(r, cudaStreamCreate(&r->stream), "cudaStreamCreate")) return 1;
    qlm_cu_weight w;
    if (weight(r, type, w_host, n_in, n_rows_total, &w)) return 1;
    void *d_rows, *out;
    const size_t out_bytes = (size_t)(n * n_in) * sizeof(float);
    if (upload(r, &d_rows, rows, (size_t)n * sizeof(int32_t)) || upload(r, &out, NULL, out_bytes)) return 1;
    if (check(r, qlm_cu_get_rows(r->stream, &w, (const int32_t *)d_rows, n, (float *)out), "get_rows") ||
        check(r, cudaStreamSynchronize(r->stream), "get_rows (run)"))
        return 1;
    return check(r, cudaMemcpy(out_host, out, out_bytes, cudaMemcpyDeviceToHost), "download");
}

extern "C" int qlm_cuda_test_get_rows(int type, const void *w_host, int64_t n_in, int64_t n_rows_total,
                                      const int32_t *rows, int64_t n, float *out_host, char *msg, size_t msg_len) {
    test_run r = {};
    r.msg = msg, r.msg_len = msg_len;
    const int rc = run_get_rows(&r, type, w_host, n_in, n_rows_total, rows, n, out_host);
    release(&r);
    return rc;
}
