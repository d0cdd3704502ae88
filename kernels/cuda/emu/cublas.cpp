// cublas.cpp - the emulator's cuBLAS: column-major GEMMs on the CPU.
//
// op(B) is packed once as float columns, op(A) eight rows at a time; an
// 8 x 4 register tile then sums over k in order (so each result is the plain
// float dot product of its row and column, the same as a naive loop) and the
// epilogue applies alpha, beta and C's type.
#include <vector>

#include <cublas_v2.h>

struct qlm_emu_cublas {
    cudaStream_t stream;
    cublasMath_t math;
};

namespace {

// ---------------------------------------------------------------------------
// Conversions (round to nearest even, as the GPU's)
// ---------------------------------------------------------------------------
uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float h2f(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return float_of(sign | 0x7f800000u | man << 13);
    if (exp) return float_of(sign | (exp + 112u) << 23 | man << 13);
    const float v = (float)man * 5.9604644775390625e-8f; // subnormal: man * 2^-24, exact
    return sign ? -v : v;
}

uint16_t f2h(float f) {
    uint32_t x = bits_of(f);
    const uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu)); // NaN stays NaN
    if (x >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);                        // rounds to >= 65520: Inf
    if (x < 0x38800000u) // a half subnormal (or zero): count units of 2^-24, rounded to even by the FPU
        return (uint16_t)(sign | (uint32_t)nearbyintf(float_of(x) * 16777216.0f));
    uint32_t h = (x >> 13) - (112u << 10);
    const uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

float bf2f(uint16_t h) { return float_of((uint32_t)h << 16); }

uint16_t f2bf(float f) {
    const uint32_t x = bits_of(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// TF32 keeps 10 of float's 23 mantissa bits.
float round_tf32(float f) {
    uint32_t x = bits_of(f);
    if ((x & 0x7f800000u) == 0x7f800000u) return f;
    x += 0xfffu + ((x >> 13) & 1u);
    return float_of(x & ~0x1fffu);
}

enum { ROUND_NONE, ROUND_TF32, ROUND_F16, ROUND_BF16 };

size_t type_size(cudaDataType_t t) { return t == CUDA_R_32F ? 4 : 2; }

float load(const void *p, cudaDataType_t t, size_t i) {
    if (t == CUDA_R_32F) return ((const float *)p)[i];
    const uint16_t h = ((const uint16_t *)p)[i];
    return t == CUDA_R_16F ? h2f(h) : bf2f(h);
}

void store(void *p, cudaDataType_t t, size_t i, float v) {
    if (t == CUDA_R_32F) ((float *)p)[i] = v;
    else ((uint16_t *)p)[i] = t == CUDA_R_16F ? f2h(v) : f2bf(v);
}

float round_input(float v, int mode) {
    switch (mode) {
    case ROUND_TF32: return round_tf32(v);
    case ROUND_F16: return h2f(f2h(v));
    case ROUND_BF16: return bf2f(f2bf(v));
    default: return v;
    }
}

// ---------------------------------------------------------------------------
// The product
// ---------------------------------------------------------------------------
struct gemm_args {
    bool ta, tb;
    int m, n, k;
    float alpha, beta;
    const void *A, *B;
    void *C;
    cudaDataType_t at, bt, ct;
    int lda, ldb, ldc;
    int round; // ROUND_*: what the compute type does to the inputs
};

typedef float v4 __attribute__((vector_size(16)));

inline v4 ld4(const float *p) {
    v4 v;
    memcpy(&v, p, 16);
    return v;
}

// C's rows i0.. (up to 8) and columns j.. (nc of them) from acc[c][r].
void epilogue(const gemm_args &g, int i0, int rows, int j, int nc, const float acc[4][8]) {
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < rows; r++) {
            const size_t idx = (size_t)(i0 + r) + (size_t)(j + c) * (size_t)g.ldc;
            float v = g.alpha * acc[c][r];
            if (g.beta != 0.0f) v += g.beta * load(g.C, g.ct, idx); // beta 0: C is not read (it may be NaN)
            store(g.C, g.ct, idx, v);
        }
}

void gemm(const gemm_args &g) {
    const int m = g.m, n = g.n, k = g.k;
    if (m == 0 || n == 0) return;
    // op(B)(p, j) as columns of k floats
    std::vector<float> bp((size_t)n * k);
    for (int j = 0; j < n; j++)
        for (int p = 0; p < k; p++) {
            const size_t idx = g.tb ? (size_t)j + (size_t)p * g.ldb : (size_t)p + (size_t)j * g.ldb;
            bp[(size_t)j * k + p] = round_input(load(g.B, g.bt, idx), g.round);
        }
    std::vector<float> ap((size_t)k * 8 + 8); // op(A)'s rows i0..i0+7, interleaved: ap[p * 8 + r]
    for (int i0 = 0; i0 < m; i0 += 8) {
        const int rows = m - i0 < 8 ? m - i0 : 8;
        for (int p = 0; p < k; p++)
            for (int r = 0; r < 8; r++) {
                float v = 0.0f;
                if (r < rows) {
                    const int i = i0 + r;
                    const size_t idx = g.ta ? (size_t)p + (size_t)i * g.lda : (size_t)i + (size_t)p * g.lda;
                    v = round_input(load(g.A, g.at, idx), g.round);
                }
                ap[(size_t)p * 8 + r] = v;
            }
        const float *a = ap.data();
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            const float *b0 = &bp[(size_t)j * k], *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
            v4 l0 = {0, 0, 0, 0}, l1 = l0, l2 = l0, l3 = l0, h0 = l0, h1 = l0, h2 = l0, h3 = l0;
            for (int p = 0; p < k; p++) {
                const v4 lo = ld4(a + 8 * p), hi = ld4(a + 8 * p + 4);
                l0 += lo * b0[p];
                h0 += hi * b0[p];
                l1 += lo * b1[p];
                h1 += hi * b1[p];
                l2 += lo * b2[p];
                h2 += hi * b2[p];
                l3 += lo * b3[p];
                h3 += hi * b3[p];
            }
            float acc[4][8];
            memcpy(&acc[0][0], &l0, 16);
            memcpy(&acc[0][4], &h0, 16);
            memcpy(&acc[1][0], &l1, 16);
            memcpy(&acc[1][4], &h1, 16);
            memcpy(&acc[2][0], &l2, 16);
            memcpy(&acc[2][4], &h2, 16);
            memcpy(&acc[3][0], &l3, 16);
            memcpy(&acc[3][4], &h3, 16);
            epilogue(g, i0, rows, j, 4, acc);
        }
        for (; j < n; j++) {
            const float *b0 = &bp[(size_t)j * k];
            v4 l0 = {0, 0, 0, 0}, h0 = l0;
            for (int p = 0; p < k; p++) {
                l0 += ld4(a + 8 * p) * b0[p];
                h0 += ld4(a + 8 * p + 4) * b0[p];
            }
            float acc[4][8];
            memcpy(&acc[0][0], &l0, 16);
            memcpy(&acc[0][4], &h0, 16);
            epilogue(g, i0, rows, j, 1, acc);
        }
    }
}

// Bytes from a matrix's first element to one past its last.
size_t span(int rows, int cols, int ld, cudaDataType_t t) {
    if (rows == 0 || cols == 0) return 0;
    return ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * type_size(t);
}

bool ranges_ok(const gemm_args &g, bool report) {
    const bool need_ab = g.k > 0 && g.alpha != 0.0f;
    struct { const char *name; const void *p; size_t n; } r[3] = {
        {"A", g.A, need_ab ? span(g.ta ? g.k : g.m, g.ta ? g.m : g.k, g.lda, g.at) : 0},
        {"B", g.B, need_ab ? span(g.tb ? g.n : g.k, g.tb ? g.k : g.n, g.ldb, g.bt) : 0},
        {"C", g.C, span(g.m, g.n, g.ldc, g.ct)},
    };
    for (int i = 0; i < 3; i++)
        if (r[i].n && !qlm_emu_is_device_range(r[i].p, r[i].n, true)) {
            if (report)
                fprintf(stderr, "qlm emu: cuBLAS GEMM (m %d, n %d, k %d): %s = %p does not hold its %zu bytes inside one "
                        "cudaMalloc allocation\n", g.m, g.n, g.k, r[i].name, r[i].p, r[i].n);
            return false;
        }
    return true;
}

bool input_type(cudaDataType_t t) { return t == CUDA_R_32F || t == CUDA_R_16F || t == CUDA_R_16BF; }

// cuBLAS's rules for cublasGemmEx with a 32-bit float compute type.
cublasStatus_t check(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                     const void *alpha, cudaDataType_t at, int lda, cudaDataType_t bt, int ldb, const void *beta,
                     cudaDataType_t ct, int ldc, cublasComputeType_t compute, int *round) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if ((unsigned)ta > CUBLAS_OP_C || (unsigned)tb > CUBLAS_OP_C || m < 0 || n < 0 || k < 0 || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    const int arows = ta == CUBLAS_OP_N ? m : k, brows = tb == CUBLAS_OP_N ? k : n;
    if (lda < (arows > 1 ? arows : 1) || ldb < (brows > 1 ? brows : 1) || ldc < (m > 1 ? m : 1))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!input_type(at) || bt != at || (ct != CUDA_R_32F && ct != at)) return CUBLAS_STATUS_NOT_SUPPORTED;
    switch (compute) {
    case CUBLAS_COMPUTE_32F:
        *round = at == CUDA_R_32F && h->math == CUBLAS_TF32_TENSOR_OP_MATH ? ROUND_TF32 : ROUND_NONE;
        return CUBLAS_STATUS_SUCCESS;
    case CUBLAS_COMPUTE_32F_PEDANTIC: *round = ROUND_NONE; return CUBLAS_STATUS_SUCCESS;
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
        if (at != CUDA_R_32F || ct != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED; // these take F32 only
        *round = compute == CUBLAS_COMPUTE_32F_FAST_16F    ? ROUND_F16
                 : compute == CUBLAS_COMPUTE_32F_FAST_16BF ? ROUND_BF16
                                                           : ROUND_TF32;
        return CUBLAS_STATUS_SUCCESS;
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
}

// Runs the batch now, or records it when the handle's stream is captured
// (alpha and beta are host values: taken now, as cuBLAS does).
cublasStatus_t submit(cublasHandle_t h, const gemm_args &g0, long long sa, long long sb, long long sc, int batch) {
    for (int i = 0; i < batch; i++) {
        gemm_args g = g0;
        g.A = (const char *)g0.A + (size_t)(i * sa) * type_size(g0.at);
        g.B = (const char *)g0.B + (size_t)(i * sb) * type_size(g0.bt);
        g.C = (char *)g0.C + (size_t)(i * sc) * type_size(g0.ct);
        if (!ranges_ok(g, true)) return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    const cudaError_t e = qlm_emu_submit(h->stream, [=] {
        for (int i = 0; i < batch; i++) {
            gemm_args g = g0;
            g.A = (const char *)g0.A + (size_t)(i * sa) * type_size(g0.at);
            g.B = (const char *)g0.B + (size_t)(i * sb) * type_size(g0.bt);
            g.C = (char *)g0.C + (size_t)(i * sc) * type_size(g0.ct);
            if (!ranges_ok(g, true)) {
                fprintf(stderr, "qlm emu: a replayed cuBLAS GEMM no longer addresses live memory\n");
                abort();
            }
            gemm(g);
        }
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

} // namespace

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = new qlm_emu_cublas{nullptr, CUBLAS_DEFAULT_MATH};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t *stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
    *stream = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void *workspace, size_t bytes) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    (void)workspace;
    (void)bytes;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t status) {
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "CUBLAS_STATUS_UNKNOWN_ERROR";
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void *alpha, const void *A, cudaDataType_t Atype,
                                          int lda, long long strideA, const void *B, cudaDataType_t Btype, int ldb,
                                          long long strideB, const void *beta, void *C, cudaDataType_t Ctype, int ldc,
                                          long long strideC, int batchCount, cublasComputeType_t computeType,
                                          cublasGemmAlgo_t algo) {
    (void)algo;
    int round = ROUND_NONE;
    const cublasStatus_t s = check(handle, transa, transb, m, n, k, alpha, Atype, lda, Btype, ldb, beta, Ctype, ldc,
                                   computeType, &round);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    if (batchCount < 0) return CUBLAS_STATUS_INVALID_VALUE;
    gemm_args g;
    g.ta = transa != CUBLAS_OP_N;
    g.tb = transb != CUBLAS_OP_N;
    g.m = m;
    g.n = n;
    g.k = k;
    memcpy(&g.alpha, alpha, 4);
    memcpy(&g.beta, beta, 4);
    g.A = A;
    g.B = B;
    g.C = C;
    g.at = Atype;
    g.bt = Btype;
    g.ct = Ctype;
    g.lda = lda;
    g.ldb = ldb;
    g.ldc = ldc;
    g.round = round;
    return submit(handle, g, strideA, strideB, strideC, batchCount);
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void *alpha, const void *A, cudaDataType_t Atype, int lda, const void *B,
                            cudaDataType_t Btype, int ldb, const void *beta, void *C, cudaDataType_t Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
    return cublasGemmStridedBatchedEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta,
                                      C, Ctype, ldc, 0, 1, computeType, algo);
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                           const float *beta, float *C, int ldc) {
    return cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, beta, C,
                        CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}
