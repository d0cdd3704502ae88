// ops.cu - the small kernels of ops.cuh. They are memory-light next to the
// matmuls; what matters is one launch per step and no host round trips.
// Element-wise kernels use a grid-stride loop over QLM_EW_BLOCK threads;
// row kernels (norms) one block per row with a block-wide sum.
#include <math.h>

#include "common.cuh"
#include "exp.h"
#include "ops.cuh"

#define QLM_EW_BLOCK 256
#define QLM_ROW_BLOCK 256

static unsigned ew_blocks(int64_t n) {
    const int64_t b = (n + QLM_EW_BLOCK - 1) / QLM_EW_BLOCK;
    return (unsigned)(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

static __device__ int64_t ew_start() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }
static __device__ int64_t ew_stride() { return (int64_t)gridDim.x * blockDim.x; }

// Sum of v over the block (QLM_ROW_BLOCK threads); every thread gets it.
// Partials: one per warp in shared memory, folded by every thread in the
// same order, so all threads hold the identical value.
static __device__ float block_sum(float v) {
    __shared__ float part[QLM_ROW_BLOCK / QLM_WARP];
    v = qlm_warp_sum(v);
    if (threadIdx.x % QLM_WARP == 0) part[threadIdx.x / QLM_WARP] = v;
    __syncthreads();
    float s = 0.0f;
    for (int w = 0; w < QLM_ROW_BLOCK / QLM_WARP; w++) s += part[w];
    __syncthreads(); // part is reused by the next call
    return s;
}

// 1 / rms of row x (n), as the CPU computes it: the mean of squares, then
// 1 / sqrtf(mean + eps).
static __device__ float row_rms_scale(const float *x, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += x[i] * x[i];
    const float mean = block_sum(ss) / (float)n;
    return 1.0f / sqrtf(mean + eps);
}

static __global__ void rmsnorm_kernel(float *out, const float *x, const float *w, int64_t n, float eps) {
    const float *xr = x + (int64_t)blockIdx.x * n;
    float *o = out + (int64_t)blockIdx.x * n;
    const float scale = row_rms_scale(xr, n, eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) o[i] = xr[i] * scale * w[i];
}

cudaError_t qlm_cu_rmsnorm(cudaStream_t s, float *out, const float *x, const float *w, int64_t n_rows, int64_t n,
                           float eps) {
    if (n_rows <= 0) return cudaSuccess;
    QLM_LAUNCH(rmsnorm_kernel, (unsigned)n_rows, QLM_ROW_BLOCK, 0, s, out, x, w, n, eps);
    return cudaGetLastError();
}

static __global__ void residual_kernel(float *x, float *xb, const float *post_w, const float *next_w, int64_t n,
                                       float eps) {
    float *xr = x + (int64_t)blockIdx.x * n, *br = xb + (int64_t)blockIdx.x * n;
    const float post = post_w ? row_rms_scale(br, n, eps) : 1.0f;
    __syncthreads(); // every thread has read br before it is rewritten
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) xr[i] += post_w ? br[i] * post * post_w[i] : br[i];
    if (!next_w) return;
    __syncthreads(); // x complete before its norm
    const float scale = row_rms_scale(xr, n, eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) br[i] = xr[i] * scale * next_w[i];
}

cudaError_t qlm_cu_residual(cudaStream_t s, float *x, float *xb, const float *post_w, const float *next_w,
                            int64_t n_tok, int64_t n, float eps) {
    if (n_tok <= 0) return cudaSuccess;
    QLM_LAUNCH(residual_kernel, (unsigned)n_tok, QLM_ROW_BLOCK, 0, s, x, xb, post_w, next_w, n, eps);
    return cudaGetLastError();
}

static __global__ void add_bias_kernel(float *x, const float *b, int64_t total, int64_t n) {
    for (int64_t i = ew_start(); i < total; i += ew_stride()) x[i] += b[i % n];
}

cudaError_t qlm_cu_add_bias(cudaStream_t s, float *x, const float *b, int64_t n_rows, int64_t n) {
    const int64_t total = n_rows * n;
    if (total <= 0) return cudaSuccess;
    QLM_LAUNCH(add_bias_kernel, ew_blocks(total), QLM_EW_BLOCK, 0, s, x, b, total, n);
    return cudaGetLastError();
}

static __global__ void scale_kernel(float *x, int64_t n, float f) {
    for (int64_t i = ew_start(); i < n; i += ew_stride()) x[i] *= f;
}

cudaError_t qlm_cu_scale(cudaStream_t s, float *x, int64_t n, float f) {
    if (n <= 0) return cudaSuccess;
    QLM_LAUNCH(scale_kernel, ew_blocks(n), QLM_EW_BLOCK, 0, s, x, n, f);
    return cudaGetLastError();
}

static __global__ void softcap_kernel(float *x, int64_t n, float cap) {
    for (int64_t i = ew_start(); i < n; i += ew_stride()) x[i] = cap * tanhf(x[i] / cap);
}

cudaError_t qlm_cu_softcap(cudaStream_t s, float *x, int64_t n, float cap) {
    if (n <= 0) return cudaSuccess;
    QLM_LAUNCH(softcap_kernel, ew_blocks(n), QLM_EW_BLOCK, 0, s, x, n, cap);
    return cudaGetLastError();
}

static __global__ void round_f16_kernel(float *x, int64_t n) {
    for (int64_t i = ew_start(); i < n; i += ew_stride()) x[i] = qlm_h2f(qlm_f2h(x[i]));
}

cudaError_t qlm_cu_round_f16(cudaStream_t s, float *x, int64_t n) {
    if (n <= 0) return cudaSuccess;
    QLM_LAUNCH(round_f16_kernel, ew_blocks(n), QLM_EW_BLOCK, 0, s, x, n);
    return cudaGetLastError();
}

// One thread per rotated pair of one head of one token.
static __global__ void rope_kernel(float *x, int64_t n_tok, int n_head, int head_dim, int n_rot, const float *theta,
                                   const int32_t *d_n_past, float pos0, int neox) {
    const int half = n_rot / 2;
    const int64_t total = n_tok * n_head * half;
    for (int64_t j = ew_start(); j < total; j += ew_stride()) {
        const int i = (int)(j % half);
        const int64_t th = j / half, t = th / n_head; // th: token * n_head + head
        const float pos = d_n_past ? (float)(*d_n_past + t) : pos0;
        const float a = pos * theta[i], c = cosf(a), sn = sinf(a);
        float *v = x + th * head_dim;
        const int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
        const float x0 = v[i0], x1 = v[i1];
        v[i0] = x0 * c - x1 * sn;
        v[i1] = x0 * sn + x1 * c;
    }
}

cudaError_t qlm_cu_rope(cudaStream_t s, float *x, int64_t n_tok, int n_head, int head_dim, int n_rot,
                        const float *theta, const int32_t *d_n_past, float pos0, int neox) {
    const int64_t total = n_tok * n_head * (n_rot / 2);
    if (total <= 0) return cudaSuccess;
    QLM_LAUNCH(rope_kernel, ew_blocks(total), QLM_EW_BLOCK, 0, s, x, n_tok, n_head, head_dim, n_rot, theta, d_n_past,
               pos0, neox);
    return cudaGetLastError();
}

static __global__ void kv_store_kernel(void *k_cache, void *v_cache, const float *k, const float *v, int64_t total,
                                       int64_t kv_dim, const int32_t *d_n_past, int kv_f16) {
    const int64_t base = (int64_t)*d_n_past * kv_dim; // row n_past + t starts at base + t * kv_dim
    for (int64_t i = ew_start(); i < total; i += ew_stride()) {
        if (kv_f16) {
            ((uint16_t *)k_cache)[base + i] = qlm_f2h(k[i]);
            ((uint16_t *)v_cache)[base + i] = qlm_f2h(v[i]);
        } else {
            ((float *)k_cache)[base + i] = k[i];
            ((float *)v_cache)[base + i] = v[i];
        }
    }
}

cudaError_t qlm_cu_kv_store(cudaStream_t s, void *k_cache, void *v_cache, const float *k, const float *v,
                            int64_t n_tok, int64_t kv_dim, const int32_t *d_n_past, int kv_f16) {
    const int64_t total = n_tok * kv_dim;
    if (total <= 0) return cudaSuccess;
    QLM_LAUNCH(kv_store_kernel, ew_blocks(total), QLM_EW_BLOCK, 0, s, k_cache, v_cache, k, v, total, kv_dim,
               d_n_past, kv_f16);
    return cudaGetLastError();
}

// The CPU's formulas (kernels/cpu/ref.c): silu(g) = g / (1 + e^-g); GELU-tanh
// as g / (1 + e^(-2u)), u = sqrt(2/pi) (g + 0.044715 g^3). expf here is the
// device's, not qlm_expf_ref: results agree to an ulp or two, not bit for bit.
static __global__ void glu_kernel(float *h, const float *gate, const float *up, int64_t n, int gelu) {
    for (int64_t i = ew_start(); i < n; i += ew_stride()) {
        const float g = gate[i];
        const float z = gelu ? QLM_GELU_2K * g * (1.0f + QLM_GELU_C3 * g * g) : g;
        h[i] = g / (1.0f + expf(-z)) * up[i];
    }
}

cudaError_t qlm_cu_glu(cudaStream_t s, float *h, const float *gate, const float *up, int64_t n, int gelu) {
    if (n <= 0) return cudaSuccess;
    QLM_LAUNCH(glu_kernel, ew_blocks(n), QLM_EW_BLOCK, 0, s, h, gate, up, n, gelu);
    return cudaGetLastError();
}

static __global__ void convert_kernel(void *dst, int dst_f16, const void *src, int src_f16, int64_t n) {
    for (int64_t i = ew_start(); i < n; i += ew_stride()) {
        const float v = src_f16 ? qlm_h2f(((const uint16_t *)src)[i]) : ((const float *)src)[i];
        if (dst_f16) ((uint16_t *)dst)[i] = qlm_f2h(v);
        else ((float *)dst)[i] = v;
    }
}

cudaError_t qlm_cu_convert(cudaStream_t s, void *dst, int dst_f16, const void *src, int src_f16, int64_t n) {
    if (n <= 0) return cudaSuccess;
    QLM_LAUNCH(convert_kernel, ew_blocks(n), QLM_EW_BLOCK, 0, s, dst, dst_f16, src, src_f16, n);
    return cudaGetLastError();
}
