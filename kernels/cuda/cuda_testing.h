/* cuda_testing.h - host entry points into the CUDA kernels for the test
 * suites (kernels/cuda/testing.cu): each uploads its inputs, runs one
 * operation on a stream of its own, downloads the result and frees
 * everything it allocated. C-compatible; built only with QLM_HAVE_CUDA.
 * Each returns 0 on success, else nonzero with the reason in msg. */
#ifndef QLM_CUDA_TESTING_H
#define QLM_CUDA_TESTING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y (n_tok, n_out) = x (n_tok, n_in) W^T through qlm_cu_matmul, W given as
 * n_out rows of n_in values of type `type` (qlm_type), in the file layout. */
int qlm_cuda_test_matmul(int type, const void *w_host, int64_t n_in, int64_t n_out, const float *x_host,
                         int64_t n_tok, float *y_host, char *msg, size_t msg_len);

/* The same with the prefill path's F16 weight chunk limited to
 * max_chunk_values values (qlm_cu_matmul_chunked), so that small matrices
 * take several dequantize + GEMM steps. */
int qlm_cuda_test_matmul_chunked(int type, const void *w_host, int64_t n_in, int64_t n_out, const float *x_host,
                                 int64_t n_tok, int64_t max_chunk_values, float *y_host, char *msg, size_t msg_len);

/* out (n, n_in) = rows rows[0..n) of W (n_rows_total rows) through
 * qlm_cu_get_rows. */
int qlm_cuda_test_get_rows(int type, const void *w_host, int64_t n_in, int64_t n_rows_total, const int32_t *rows,
                           int64_t n, float *out_host, char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif
#endif
