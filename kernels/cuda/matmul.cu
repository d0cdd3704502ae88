// matmul.cu - the kernels behind matmul.cuh: activation quantization, the
// decode GEMV (quantized and float weights), the prefill path's conversions
// around cublasGemmEx, and the embedding lookup.
//
// Where tuning for H100/H200 goes (the memory-bound GEMV is what matters;
// each note sits where it applies):
//  - per-type loaders: one lane per 16-value group reads its block's bytes
//    as they are scattered (2 or 4 bytes at a time); 128-bit loads of whole
//    blocks into registers or shared memory, then the shuffles, would move
//    the same bytes in fewer instructions;
//  - more than one row per warp for short rows (n_in of a few hundred
//    leaves most lanes idle), and more loads in flight per lane;
//  - the table lookups (IQ4, MXFP4) by __byte_perm;
//  - the prefill path: a fused dequantize-in-the-tile int8 or F16 GEMM
//    (mma) instead of dequantizing to a scratch matrix first.
#include <cublas_v2.h>
#include <math.h>
#include <stdlib.h>

#include "common.cuh"
#include "matmul.cuh"
#include "quants.cuh"

#define GEMV_WARPS 4 // rows (one warp each) per block of the GEMV
#define EW_BLOCK 256 // threads of the element-wise kernels
#define ROW_BLOCK 256 // threads of the per-token conversion (one block a token)
#define SCRATCH_ALIGN 256

struct qlm_cu_blas {
    cublasHandle_t handle;
};

// ----------------------------------------------------------------- helpers

// 16 bytes from a 16-byte aligned address in one load (LDG.128).
struct alignas(16) mm_u32x4 {
    uint32_t v[4];
};
struct alignas(8) mm_u32x2 {
    uint32_t v[2];
};

static QLM_HD mm_u32x4 ld128(const void *p) {
#if defined(__CUDA_ARCH__)
    return *(const mm_u32x4 *)p;
#else
    qlm_check_align(p, 16);
    mm_u32x4 r;
    memcpy(&r, p, sizeof r);
    return r;
#endif
}

static QLM_HD mm_u32x2 ld64(const void *p) {
#if defined(__CUDA_ARCH__)
    return *(const mm_u32x2 *)p;
#else
    qlm_check_align(p, 8);
    mm_u32x2 r;
    memcpy(&r, p, sizeof r);
    return r;
#endif
}

static QLM_HD void st128(void *p, mm_u32x4 v) {
#if defined(__CUDA_ARCH__)
    *(mm_u32x4 *)p = v;
#else
    qlm_check_align(p, 16);
    memcpy(p, &v, sizeof v);
#endif
}

// A failed cuBLAS call as a runtime error (the runtime has no cuBLAS codes):
// out of memory as such, anything else as "not supported".
static cudaError_t blas_error(cublasStatus_t st) {
    return st == CUBLAS_STATUS_ALLOC_FAILED ? cudaErrorMemoryAllocation : cudaErrorNotSupported;
}

static size_t align_up(size_t n) { return (n + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN; }

static unsigned ew_blocks(int64_t n) {
    const int64_t b = (n + EW_BLOCK - 1) / EW_BLOCK;
    return (unsigned)(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

static __device__ int64_t ew_start() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }
static __device__ int64_t ew_stride() { return (int64_t)gridDim.x * blockDim.x; }

// The larger of a and b, NaN if either is: fmaxf drops NaN, and a NaN in x
// must reach the outputs of its token.
static QLM_HD float max_nan(float a, float b) { return (b > a || b != b) ? b : a; }

static __device__ float warp_max_nan(float v) {
    for (int off = QLM_WARP / 2; off > 0; off >>= 1) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

// float -> bfloat16, round to nearest even, NaN kept quiet (engine/types.c's
// qlm_fp32_to_bf16).
static QLM_HD uint16_t f2bf(float f) {
    uint32_t x = qlm_f2u(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

// ------------------------------------------------------ type properties

// Values per block and bytes per block of each supported type (F32, F16,
// BF16: 1 value).
struct mm_shape {
    int block_values, block_bytes;
    bool quantized;
};

struct mm_shape_of {
    template <int T> static void run(mm_shape *s) {
        *s = mm_shape{qlm_qfmt<T>::block_values, qlm_qfmt<T>::block_bytes, true};
    }
};

static bool get_shape(qlm_type t, mm_shape *s) {
    switch (t) {
    case QLM_TYPE_F32: *s = mm_shape{1, 4, false}; return true;
    case QLM_TYPE_F16:
    case QLM_TYPE_BF16: *s = mm_shape{1, 2, false}; return true;
    default: return qlm_dispatch_quant<mm_shape_of>(t, s);
    }
}

bool qlm_cu_type_supported(qlm_type t) {
    mm_shape s;
    return get_shape(t, &s);
}

// The weight as the kernels need it: a supported type, whole blocks, rows
// of the type's size, data 16-byte aligned (the loads assume it; checked
// here, where a mistake is an error code rather than a device fault).
static bool weight_ok(const qlm_cu_weight *w, mm_shape *s) {
    if (!w || !get_shape(w->type, s) || w->n_in <= 0 || w->n_out < 0 || w->n_in % s->block_values) return false;
    if (w->n_out > 0 && (!w->data || (uintptr_t)w->data % 16)) return false;
    return w->row_bytes == (size_t)(w->n_in / s->block_values) * (size_t)s->block_bytes;
}

// ============================================================ decode path

// The int8 activations of n_tok rows of n_in (SoA in the scratch): quants
// (n_tok, n_in), one float scale per 32 values, the sum of each 16 quants
// (the m * sum(a) term of the weights with a minimum).
struct mm_act8 {
    int8_t *qs;
    float *d;
    int16_t *sum16;
};

static size_t act8_bytes(int64_t n_tok, int64_t n_in) {
    return align_up((size_t)(n_tok * n_in)) + align_up((size_t)(n_tok * n_in / 32) * sizeof(float)) +
           align_up((size_t)(n_tok * n_in / 16) * sizeof(int16_t));
}

static mm_act8 act8_layout(void *scratch, int64_t n_tok, int64_t n_in) {
    char *p = (char *)scratch;
    mm_act8 a;
    a.qs = (int8_t *)p;
    p += align_up((size_t)(n_tok * n_in));
    a.d = (float *)p;
    p += align_up((size_t)(n_tok * n_in / 32) * sizeof(float));
    a.sum16 = (int16_t *)p;
    return a;
}

// round(v) half away from zero into [-127, 127], NaN to 0 (the CPU's
// round_q8 in engine/quant_ref.c).
static __device__ int round_q8(float v) {
    const float r = roundf(v);
    if (!(r > -127.0f)) return r != r ? 0 : -127;
    if (r > 127.0f) return 127;
    return (int)r;
}

// One warp per 32-value block, one value per lane: d = amax / 127, q =
// round(x / d), bit for bit the CPU reference's Q8_0 quants with d kept in
// float. A NaN anywhere in the block makes d NaN (its quants 0), so the
// block's products are NaN. x's rows are whole blocks, so block b of the
// flat (n_tok * n_in) array is block b % (n_in / 32) of token b / (n_in / 32).
static __global__ void quantize_act_kernel(const float *x, int64_t n_blocks, mm_act8 a) {
    const int64_t blk = (int64_t)blockIdx.x * (blockDim.x / QLM_WARP) + threadIdx.x / QLM_WARP;
    if (blk >= n_blocks) return; // the whole warp
    const int lane = threadIdx.x % QLM_WARP;
    const float v = x[blk * 32 + lane];
    const float amax = warp_max_nan(fabsf(v));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const int q = round_q8(v * id);
    a.qs[blk * 32 + lane] = (int8_t)q;
    int s = q; // the sum of each half-warp's 16 quants
    for (int off = 8; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    if (lane == 0) a.d[blk] = d;
    if (lane % 16 == 0) a.sum16[blk * 2 + lane / 16] = (int16_t)s;
}

// y[t][row] for NT tokens, one warp per weight row, lane l on groups l, l +
// 32, ...: per 16-value group (d, m, q) of the weight and the token's int8
// quants a with scale da,
//     sum_i w_i x_i ~ da (d dot(q, a) + m sum(a)),
// accumulated per lane in float, then summed across the warp.
// Tuning: the lanes of a warp read 32 consecutive groups, i.e. a contiguous
// span of blocks (coalesced, but each lane's bytes arrive in several
// narrow loads; see the file comment).
template <int T, int NT>
static __global__ void gemv_quant_kernel(const uint8_t *w, size_t row_bytes, int64_t n_out, int64_t n_in, mm_act8 a,
                                         float *y) {
    const int64_t row = (int64_t)blockIdx.x * GEMV_WARPS + threadIdx.x / QLM_WARP;
    if (row >= n_out) return; // the whole warp
    const int lane = threadIdx.x % QLM_WARP;
    const uint8_t *wr = w + row * row_bytes;
    const int n_groups = (int)(n_in / 16);
    float acc[NT];
    for (int t = 0; t < NT; t++) acc[t] = 0.0f;
    for (int g = lane; g < n_groups; g += QLM_WARP) {
        int q[4];
        float d, m;
        qlm_unpack16<T>(wr, g, q, d, m);
        for (int t = 0; t < NT; t++) {
            const int64_t at = t * n_in + 16 * (int64_t)g;
            const mm_u32x4 av = ld128(a.qs + at);
            int dot = 0;
            for (int k = 0; k < 4; k++) dot = qlm_dp4a(q[k], (int)av.v[k], dot);
            float part = d * (float)dot;
            if (qlm_qfmt<T>::has_min) part += m * (float)a.sum16[at / 16];
            acc[t] += a.d[at / 32] * part;
        }
    }
    for (int t = 0; t < NT; t++) {
        const float sum = qlm_warp_sum(acc[t]);
        if (lane == 0) y[t * n_out + row] = sum;
    }
}

// Four consecutive weights of a float-type row from an aligned address
// (16 bytes of F32, 8 of F16/BF16).
template <int T> static QLM_HD void mm_load4(const uint8_t *p, float v[4]);
template <> QLM_HD void mm_load4<QLM_TYPE_F32>(const uint8_t *p, float v[4]) {
    const mm_u32x4 r = ld128(p);
    for (int k = 0; k < 4; k++) v[k] = qlm_u2f(r.v[k]);
}
template <> QLM_HD void mm_load4<QLM_TYPE_F16>(const uint8_t *p, float v[4]) {
    const mm_u32x2 r = ld64(p);
    for (int k = 0; k < 4; k++) v[k] = qlm_h2f((uint16_t)(r.v[k / 2] >> 16 * (k % 2)));
}
template <> QLM_HD void mm_load4<QLM_TYPE_BF16>(const uint8_t *p, float v[4]) {
    const mm_u32x2 r = ld64(p);
    for (int k = 0; k < 4; k++) v[k] = qlm_bf2f((uint16_t)(r.v[k / 2] >> 16 * (k % 2)));
}

// Float weights against float activations, one warp per row. VEC: lane l
// takes 4 consecutive values at 4 l + 128 j (vector loads; n_in a multiple
// of 4, rows and x aligned); otherwise one value at l + 32 j.
template <int T, int NT, bool VEC>
static __global__ void gemv_float_kernel(const uint8_t *w, size_t row_bytes, int64_t n_out, int64_t n_in,
                                         const float *x, float *y) {
    const int64_t row = (int64_t)blockIdx.x * GEMV_WARPS + threadIdx.x / QLM_WARP;
    if (row >= n_out) return; // the whole warp
    const int lane = threadIdx.x % QLM_WARP;
    const uint8_t *wr = w + row * row_bytes;
    constexpr int elem = T == QLM_TYPE_F32 ? 4 : 2;
    float acc[NT];
    for (int t = 0; t < NT; t++) acc[t] = 0.0f;
    if (VEC) {
        for (int64_t i = 4 * lane; i < n_in; i += 4 * QLM_WARP) {
            float wv[4];
            mm_load4<T>(wr + i * elem, wv);
            for (int t = 0; t < NT; t++) {
                const mm_u32x4 xv = ld128(x + t * n_in + i);
                for (int k = 0; k < 4; k++) acc[t] += wv[k] * qlm_u2f(xv.v[k]);
            }
        }
    } else {
        for (int64_t i = lane; i < n_in; i += QLM_WARP) {
            const float wv = qlm_float_at<T>(wr, i);
            for (int t = 0; t < NT; t++) acc[t] += wv * x[t * n_in + i];
        }
    }
    for (int t = 0; t < NT; t++) {
        const float sum = qlm_warp_sum(acc[t]);
        if (lane == 0) y[t * n_out + row] = sum;
    }
}

// Launches kernel template K<T, NT> (K::launch<T, NT>) for NT = n_tok.
template <class K, int T, class... A> static void launch_nt(int64_t n_tok, A... args) {
    switch (n_tok) {
    case 1: K::template launch<T, 1>(args...); break;
    case 2: K::template launch<T, 2>(args...); break;
    case 3: K::template launch<T, 3>(args...); break;
    case 4: K::template launch<T, 4>(args...); break;
    case 5: K::template launch<T, 5>(args...); break;
    case 6: K::template launch<T, 6>(args...); break;
    case 7: K::template launch<T, 7>(args...); break;
    default: K::template launch<T, 8>(args...); break;
    }
}
static_assert(QLM_CU_GEMV_MAX_TOK == 8, "launch_nt covers 1..8 tokens");

static unsigned gemv_blocks(int64_t n_out) { return (unsigned)((n_out + GEMV_WARPS - 1) / GEMV_WARPS); }

struct mm_gemv_quant {
    template <int T, int NT>
    static void launch(cudaStream_t s, const qlm_cu_weight *w, mm_act8 a, float *y) {
        void (*kernel)(const uint8_t *, size_t, int64_t, int64_t, mm_act8, float *) = gemv_quant_kernel<T, NT>;
        QLM_LAUNCH(kernel, gemv_blocks(w->n_out), GEMV_WARPS * QLM_WARP, 0, s, (const uint8_t *)w->data,
                   w->row_bytes, w->n_out, w->n_in, a, y);
    }
    template <int T> static void run(cudaStream_t s, const qlm_cu_weight *w, mm_act8 a, int64_t n_tok, float *y) {
        launch_nt<mm_gemv_quant, T>(n_tok, s, w, a, y);
    }
};

template <bool VEC> struct mm_gemv_float {
    template <int T, int NT>
    static void launch(cudaStream_t s, const qlm_cu_weight *w, const float *x, float *y) {
        void (*kernel)(const uint8_t *, size_t, int64_t, int64_t, const float *, float *) =
            gemv_float_kernel<T, NT, VEC>;
        QLM_LAUNCH(kernel, gemv_blocks(w->n_out), GEMV_WARPS * QLM_WARP, 0, s, (const uint8_t *)w->data,
                   w->row_bytes, w->n_out, w->n_in, x, y);
    }
};

static bool aligned(const void *p, size_t a) { return (uintptr_t)p % a == 0; }

template <bool VEC>
static void launch_gemv_float(cudaStream_t s, const qlm_cu_weight *w, const float *x, int64_t n_tok, float *y) {
    switch (w->type) {
    case QLM_TYPE_F32: launch_nt<mm_gemv_float<VEC>, QLM_TYPE_F32>(n_tok, s, w, x, y); break;
    case QLM_TYPE_F16: launch_nt<mm_gemv_float<VEC>, QLM_TYPE_F16>(n_tok, s, w, x, y); break;
    default: launch_nt<mm_gemv_float<VEC>, QLM_TYPE_BF16>(n_tok, s, w, x, y); break;
    }
}

static cudaError_t matmul_gemv(cudaStream_t s, const qlm_cu_weight *w, const mm_shape *shape, const float *x,
                               int64_t n_tok, float *y, void *scratch) {
    if (!shape->quantized) {
        const size_t wa = w->type == QLM_TYPE_F32 ? 16 : 8;
        const bool vec = w->n_in % 4 == 0 && aligned(w->data, wa) && w->row_bytes % wa == 0 && aligned(x, 16);
        if (vec) launch_gemv_float<true>(s, w, x, n_tok, y);
        else launch_gemv_float<false>(s, w, x, n_tok, y);
        return cudaGetLastError();
    }
    const mm_act8 a = act8_layout(scratch, n_tok, w->n_in);
    const int64_t n_blocks = n_tok * w->n_in / 32;
    const int64_t warps_per_block = EW_BLOCK / QLM_WARP;
    QLM_LAUNCH(quantize_act_kernel, (unsigned)((n_blocks + warps_per_block - 1) / warps_per_block), EW_BLOCK, 0, s,
               x, n_blocks, a);
    qlm_dispatch_quant<mm_gemv_quant>(w->type, s, w, a, n_tok, y);
    return cudaGetLastError();
}

// =========================================================== prefill path

// Power of two s with |x| / s in [2^14, 2^15) for the token's amax, so x / s
// is exact and fits F16 (max 65504) with the most headroom above its
// subnormals; an amax below 2^-112 gets 2^-126 (x / s still < 2^15), zero
// gets 1, and Inf/NaN themselves (every value of the token then NaN).
static QLM_HD float f16_token_scale(float amax) {
    const uint32_t e = (qlm_f2u(amax) >> 23) & 0xffu;
    if (e == 0xffu) return amax;
    if (amax == 0.0f) return 1.0f;
    return qlm_u2f((e > 15u ? e - 14u : 1u) << 23);
}

// x (n_tok, n_in) floats to 16 bits, one block per token: F16 of x / s_t
// with s_t in scale[t] (f16 = true), or BF16 of x as it is (f16 = false).
static __global__ void convert_x_kernel(const float *x, int64_t n_in, uint16_t *out, float *scale, bool f16) {
    __shared__ float part[ROW_BLOCK / QLM_WARP];
    const float *xr = x + (int64_t)blockIdx.x * n_in;
    uint16_t *o = out + (int64_t)blockIdx.x * n_in;
    if (!f16) {
        for (int64_t i = threadIdx.x; i < n_in; i += blockDim.x) o[i] = f2bf(xr[i]);
        return;
    }
    float amax = 0.0f;
    for (int64_t i = threadIdx.x; i < n_in; i += blockDim.x) amax = max_nan(amax, fabsf(xr[i]));
    amax = warp_max_nan(amax);
    if (threadIdx.x % QLM_WARP == 0) part[threadIdx.x / QLM_WARP] = amax;
    __syncthreads();
    amax = 0.0f;
    for (int k = 0; k < ROW_BLOCK / QLM_WARP; k++) amax = max_nan(amax, part[k]);
    const float s = f16_token_scale(amax), inv = 1.0f / s; // exact: a power of two (or NaN/0 with non-finite s)
    if (threadIdx.x == 0) scale[blockIdx.x] = s;
    for (int64_t i = threadIdx.x; i < n_in; i += blockDim.x) o[i] = qlm_f2h(xr[i] * inv);
}

// y (n_tok, n_out): each token's row times its scale (undoes x / s_t).
static __global__ void unscale_y_kernel(float *y, int64_t n_out, int64_t total, const float *scale) {
    for (int64_t i = ew_start(); i < total; i += ew_stride()) y[i] *= scale[i / n_out];
}

// n_rows rows of W (type T) to F16, one thread per 16-value group: the
// reference's float value, rounded to F16, written as 32 bytes.
template <int T>
static __global__ void dequant_f16_kernel(const uint8_t *w, size_t row_bytes, int64_t n_rows, int64_t n_in,
                                          uint16_t *out) {
    const int64_t per_row = n_in / 16, total = n_rows * per_row;
    for (int64_t i = ew_start(); i < total; i += ew_stride()) {
        const int64_t r = i / per_row, g = i % per_row;
        int q[4];
        float d, m;
        qlm_unpack16<T>(w + r * row_bytes, g, q, d, m);
        mm_u32x4 h[2] = {};
        for (int k = 0; k < 16; k++) {
            const uint32_t v = qlm_f2h(qlm_dequant1<T>(d, m, qlm_q_at(q, k)));
            h[k / 8].v[(k % 8) / 2] |= v << 16 * (k % 2);
        }
        uint16_t *o = out + r * n_in + 16 * g;
        st128(o, h[0]);
        st128(o + 8, h[1]);
    }
}

struct mm_dequant_f16 {
    template <int T>
    static void run(cudaStream_t s, const uint8_t *w, size_t row_bytes, int64_t n_rows, int64_t n_in, uint16_t *out) {
        QLM_LAUNCH(dequant_f16_kernel<T>, ew_blocks(n_rows * n_in / 16), EW_BLOCK, 0, s, w, row_bytes, n_rows, n_in,
                   out);
    }
};

// Rows of quantized W per dequantize + GEMM step: all of them when they fit
// max_values (QLM_CU_DEQUANT_MAX_ELEMS by default), else a multiple of 128
// that does (at least one row).
static int64_t chunk_rows(int64_t n_in, int64_t n_out, int64_t max_values = QLM_CU_DEQUANT_MAX_ELEMS) {
    int64_t rows = max_values / n_in;
    if (rows >= n_out) return n_out;
    if (rows > 128) rows -= rows % 128;
    return rows < 1 ? 1 : rows;
}

// The prefill scratch: x in 16 bits, the token scales, a chunk of F16 rows.
struct mm_gemm_scratch {
    uint16_t *x16;
    float *scale;
    uint16_t *w16;
};

static size_t gemm_bytes(const mm_shape *shape, qlm_type type, int64_t n_in, int64_t n_out, int64_t n_tok) {
    if (type == QLM_TYPE_F32) return 0;
    size_t b = align_up((size_t)(n_tok * n_in) * 2) + align_up((size_t)n_tok * sizeof(float));
    if (shape->quantized) b += align_up((size_t)(chunk_rows(n_in, n_out) * n_in) * 2);
    return b;
}

static mm_gemm_scratch gemm_layout(void *scratch, int64_t n_in, int64_t n_tok) {
    char *p = (char *)scratch;
    mm_gemm_scratch g;
    g.x16 = (uint16_t *)p;
    p += align_up((size_t)(n_tok * n_in) * 2);
    g.scale = (float *)p;
    p += align_up((size_t)n_tok * sizeof(float));
    g.w16 = (uint16_t *)p;
    return g;
}

// y[:, o0 .. o0 + m) = x W[o0 .. o0 + m)^T. cuBLAS is column-major: W's
// rows (n_in apart) are the columns of A (k x m), op(A) = A^T; x's rows are
// the columns of B (k x n); C (m x n, ldc = n_out) is y's row-major layout.
static cublasStatus_t gemm(cublasHandle_t h, int64_t m, int64_t n_tok, int64_t n_in, const void *a, cudaDataType at,
                           const void *b, cudaDataType bt, float *c, int64_t n_out) {
    const float one = 1.0f, zero = 0.0f;
    return cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)m, (int)n_tok, (int)n_in, &one, a, at, (int)n_in, b, bt,
                        (int)n_in, &zero, c, CUDA_R_32F, (int)n_out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

static cudaError_t matmul_gemm(qlm_cu_blas *blas, cudaStream_t s, const qlm_cu_weight *w, const float *x,
                               int64_t n_tok, float *y, void *scratch, int64_t max_chunk_values) {
    if (!blas) return cudaErrorInvalidValue;
    cublasStatus_t st = cublasSetStream(blas->handle, s);
    if (st != CUBLAS_STATUS_SUCCESS) return blas_error(st);
    const int64_t n_in = w->n_in, n_out = w->n_out;
    if (w->type == QLM_TYPE_F32) {
        st = gemm(blas->handle, n_out, n_tok, n_in, w->data, CUDA_R_32F, x, CUDA_R_32F, y, n_out);
        return st != CUBLAS_STATUS_SUCCESS ? blas_error(st) : cudaGetLastError();
    }
    const mm_gemm_scratch g = gemm_layout(scratch, n_in, n_tok);
    const bool bf16 = w->type == QLM_TYPE_BF16;
    QLM_LAUNCH(convert_x_kernel, (unsigned)n_tok, ROW_BLOCK, 0, s, x, n_in, g.x16, g.scale, !bf16);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    if (bf16) {
        st = gemm(blas->handle, n_out, n_tok, n_in, w->data, CUDA_R_16BF, g.x16, CUDA_R_16BF, y, n_out);
        return st != CUBLAS_STATUS_SUCCESS ? blas_error(st) : cudaGetLastError();
    }
    if (w->type == QLM_TYPE_F16) {
        st = gemm(blas->handle, n_out, n_tok, n_in, w->data, CUDA_R_16F, g.x16, CUDA_R_16F, y, n_out);
    } else {
        const int64_t rows = chunk_rows(n_in, n_out, max_chunk_values);
        for (int64_t o0 = 0; o0 < n_out && st == CUBLAS_STATUS_SUCCESS; o0 += rows) {
            const int64_t m = n_out - o0 < rows ? n_out - o0 : rows;
            const uint8_t *wc = (const uint8_t *)w->data + o0 * w->row_bytes;
            qlm_dispatch_quant<mm_dequant_f16>(w->type, s, wc, w->row_bytes, m, n_in, g.w16);
            if ((e = cudaGetLastError()) != cudaSuccess) return e;
            st = gemm(blas->handle, m, n_tok, n_in, g.w16, CUDA_R_16F, g.x16, CUDA_R_16F, y + o0, n_out);
        }
    }
    if (st != CUBLAS_STATUS_SUCCESS) return blas_error(st);
    QLM_LAUNCH(unscale_y_kernel, ew_blocks(n_tok * n_out), EW_BLOCK, 0, s, y, n_out, n_tok * n_out, g.scale);
    return cudaGetLastError();
}

// ==================================================================== API

qlm_cu_blas *qlm_cu_blas_create(cudaStream_t s) {
    qlm_cu_blas *b = (qlm_cu_blas *)calloc(1, sizeof *b);
    if (!b) return NULL;
    if (cublasCreate(&b->handle) != CUBLAS_STATUS_SUCCESS) {
        free(b);
        return NULL;
    }
    if (cublasSetStream(b->handle, s) != CUBLAS_STATUS_SUCCESS) {
        qlm_cu_blas_destroy(b);
        return NULL;
    }
    return b;
}

void qlm_cu_blas_destroy(qlm_cu_blas *b) {
    if (!b) return;
    cublasDestroy(b->handle);
    free(b);
}

size_t qlm_cu_matmul_scratch_size(qlm_type type, int64_t n_in, int64_t n_out, int64_t n_tok) {
    mm_shape shape;
    if (!get_shape(type, &shape) || n_in <= 0 || n_in % shape.block_values || n_out <= 0 || n_tok <= 0) return 0;
    const int64_t n_gemv = n_tok < QLM_CU_GEMV_MAX_TOK ? n_tok : QLM_CU_GEMV_MAX_TOK;
    const size_t gemv = shape.quantized ? act8_bytes(n_gemv, n_in) : 0;
    const size_t prefill = n_tok > QLM_CU_GEMV_MAX_TOK ? gemm_bytes(&shape, type, n_in, n_out, n_tok) : 0;
    return gemv > prefill ? gemv : prefill;
}

cudaError_t qlm_cu_matmul_chunked(qlm_cu_blas *blas, cudaStream_t s, const qlm_cu_weight *w, const float *x,
                                  int64_t n_tok, float *y, void *scratch, int64_t max_chunk_values) {
    mm_shape shape;
    if (max_chunk_values <= 0 || max_chunk_values > QLM_CU_DEQUANT_MAX_ELEMS) max_chunk_values = QLM_CU_DEQUANT_MAX_ELEMS;
    if (!weight_ok(w, &shape) || n_tok < 0) return cudaErrorInvalidValue;
    if (n_tok == 0 || w->n_out == 0) return cudaSuccess;
    if (n_tok <= QLM_CU_GEMV_MAX_TOK) return matmul_gemv(s, w, &shape, x, n_tok, y, scratch);
    return matmul_gemm(blas, s, w, x, n_tok, y, scratch, max_chunk_values);
}

cudaError_t qlm_cu_matmul(qlm_cu_blas *blas, cudaStream_t s, const qlm_cu_weight *w, const float *x, int64_t n_tok,
                          float *y, void *scratch) {
    return qlm_cu_matmul_chunked(blas, s, w, x, n_tok, y, scratch, QLM_CU_DEQUANT_MAX_ELEMS);
}

// ================================================================ get_rows

// Quantized rows: one thread per 16-value group of an output row.
template <int T>
static __global__ void get_rows_quant_kernel(const uint8_t *w, size_t row_bytes, int64_t n_rows, int64_t n_in,
                                             const int32_t *rows, int64_t n, float *out) {
    const int64_t per_row = n_in / 16, total = n * per_row;
    for (int64_t i = ew_start(); i < total; i += ew_stride()) {
        const int64_t k = i / per_row, g = i % per_row, r = rows[k];
        float *o = out + k * n_in + 16 * g;
        if (r < 0 || r >= n_rows) {
            for (int j = 0; j < 16; j++) o[j] = qlm_u2f(0x7fc00000u);
            continue;
        }
        int q[4];
        float d, m;
        qlm_unpack16<T>(w + r * row_bytes, g, q, d, m);
        for (int j = 0; j < 16; j++) o[j] = qlm_dequant1<T>(d, m, qlm_q_at(q, j));
    }
}

struct mm_get_rows_quant {
    template <int T>
    static void run(cudaStream_t s, const qlm_cu_weight *w, const int32_t *rows, int64_t n, float *out) {
        QLM_LAUNCH(get_rows_quant_kernel<T>, ew_blocks(n * w->n_in / 16), EW_BLOCK, 0, s, (const uint8_t *)w->data,
                   w->row_bytes, w->n_out, w->n_in, rows, n, out);
    }
};

// Float rows: one thread per value.
template <int T>
static __global__ void get_rows_float_kernel(const uint8_t *w, size_t row_bytes, int64_t n_rows, int64_t n_in,
                                             const int32_t *rows, int64_t n, float *out) {
    const int64_t total = n * n_in;
    for (int64_t i = ew_start(); i < total; i += ew_stride()) {
        const int64_t k = i / n_in, j = i % n_in, r = rows[k];
        out[i] = r < 0 || r >= n_rows ? qlm_u2f(0x7fc00000u) : qlm_float_at<T>(w + r * row_bytes, j);
    }
}

template <int T> static void launch_get_rows_float(cudaStream_t s, const qlm_cu_weight *w, const int32_t *rows,
                                                   int64_t n, float *out) {
    QLM_LAUNCH(get_rows_float_kernel<T>, ew_blocks(n * w->n_in), EW_BLOCK, 0, s, (const uint8_t *)w->data,
               w->row_bytes, w->n_out, w->n_in, rows, n, out);
}

cudaError_t qlm_cu_get_rows(cudaStream_t s, const qlm_cu_weight *w, const int32_t *rows, int64_t n, float *out) {
    mm_shape shape;
    if (!weight_ok(w, &shape) || n < 0) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    switch (w->type) {
    case QLM_TYPE_F32: launch_get_rows_float<QLM_TYPE_F32>(s, w, rows, n, out); break;
    case QLM_TYPE_F16: launch_get_rows_float<QLM_TYPE_F16>(s, w, rows, n, out); break;
    case QLM_TYPE_BF16: launch_get_rows_float<QLM_TYPE_BF16>(s, w, rows, n, out); break;
    default: qlm_dispatch_quant<mm_get_rows_quant>(w->type, s, w, rows, n, out); break;
    }
    return cudaGetLastError();
}
