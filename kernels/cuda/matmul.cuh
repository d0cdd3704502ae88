// matmul.cuh - y = x W^T on the device for every weight type the engine
// reads: the forward pass's projections (matmul.cu) and the embedding
// lookup.
//
// Two paths, chosen by the number of tokens:
//  - decode (n_tok <= QLM_CU_GEMV_MAX_TOK): a GEMV that reads each weight
//    row once for all tokens. Quantized weights meet int8 activations
//    (32-value blocks, float scale amax / 127, rounded as the CPU's Q8_0
//    quantizer) through dp4a; F32/F16/BF16 weights meet the float
//    activations as they are. No cuBLAS, no allocation: capturable into a
//    CUDA graph.
//  - prefill (more tokens): the weights dequantized to F16 (chunks of rows
//    into the scratch), x to F16 with a power-of-two scale per token (so
//    F16's range never clips a token; the scale is undone on y), one
//    cublasGemmEx per chunk with F32 accumulation. F16 weights go to cuBLAS
//    as they are, BF16 weights with x rounded to BF16 (as the CPU's BF16
//    dot rounds it), F32 weights as an F32 GEMM.
//
// Requirements: every pointer a device pointer; W's rows contiguous
// (row_bytes apart, the file's layout) starting 16-byte aligned (cudaMalloc
// and the model arena's 256-byte alignment give that); x and y (n_tok rows
// of n_in and n_out floats) 16-byte aligned for the vector loads (else the
// float GEMV falls back to scalar loads); y must not overlap x or the
// scratch; the scratch (qlm_cu_matmul_scratch_size bytes) 256-byte aligned.
// n_in is a multiple of the type's block size.
#ifndef QLM_CUDA_MATMUL_CUH
#define QLM_CUDA_MATMUL_CUH

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "types.h"
}

// Largest batch the GEMV path takes; bigger batches go through cuBLAS.
#define QLM_CU_GEMV_MAX_TOK 8

// A weight matrix on the device: n_out rows of n_in values of `type`, each
// row row_bytes (= qlm_row_size(type, n_in)) long, as in the GGUF file.
struct qlm_cu_weight {
    qlm_type type;
    int64_t n_in, n_out;
    size_t row_bytes;
    const void *data;
};

// cuBLAS's handle for the prefill path (opaque).
struct qlm_cu_blas;

// A handle whose work goes to stream s (each matmul sets its own stream
// again); NULL when cuBLAS cannot start.
qlm_cu_blas *qlm_cu_blas_create(cudaStream_t s);
void qlm_cu_blas_destroy(qlm_cu_blas *b);

// Whether qlm_cu_matmul and qlm_cu_get_rows take weights of type t: F32,
// F16, BF16 and every quantized type with a CPU reference (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, IQ4_NL, MXFP4, Q2_K..Q6_K, IQ4_XS, TQ1_0, TQ2_0).
bool qlm_cu_type_supported(qlm_type t);

// Device scratch bytes that any qlm_cu_matmul of this weight shape with up
// to n_tok tokens needs (it grows with n_tok, so the size for the largest
// batch serves every smaller one). The decode path holds the int8
// activations (about 1.2 n_tok n_in bytes); the prefill path x in 16 bits
// (2 n_tok n_in bytes) plus, for quantized weights, a chunk of F16 weight
// rows (at most QLM_CU_DEQUANT_MAX_ELEMS values, 64 MiB). 0 when nothing is
// needed (or the type is unsupported).
#define QLM_CU_DEQUANT_MAX_ELEMS ((int64_t)1 << 25)
size_t qlm_cu_matmul_scratch_size(qlm_type type, int64_t n_in, int64_t n_out, int64_t n_tok);

// y (n_tok, n_out) = x (n_tok, n_in) W^T, enqueued on s. blas may be NULL
// when n_tok <= QLM_CU_GEMV_MAX_TOK. Returns the launch's error, or
// cudaErrorInvalidValue for an unsupported type or shape (or no blas on the
// prefill path), or, when a cuBLAS call fails, cudaErrorMemoryAllocation
// (its allocation) or cudaErrorNotSupported (anything else). A NaN in token t's x makes all of
// token t's outputs NaN and touches no other token.
cudaError_t qlm_cu_matmul(qlm_cu_blas *blas, cudaStream_t s, const qlm_cu_weight *w, const float *x, int64_t n_tok,
                          float *y, void *scratch);

// qlm_cu_matmul with the prefill path's F16 weight chunk limited to
// max_chunk_values values (0 or more than QLM_CU_DEQUANT_MAX_ELEMS: that):
// lets the tests run the chunked GEMM on small matrices.
cudaError_t qlm_cu_matmul_chunked(qlm_cu_blas *blas, cudaStream_t s, const qlm_cu_weight *w, const float *x,
                                  int64_t n_tok, float *y, void *scratch, int64_t max_chunk_values);

// out (n, n_in) = rows rows[0..n) of W dequantized, bit-identical to the
// type's reference to_float (the embedding lookup). A row index outside
// [0, n_out) gives a row of NaN (and reads nothing).
cudaError_t qlm_cu_get_rows(cudaStream_t s, const qlm_cu_weight *w, const int32_t *rows, int64_t n, float *out);

#endif
