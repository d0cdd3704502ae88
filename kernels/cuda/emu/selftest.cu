// selftest.cu - the CUDA emulator's self-test: one kernel per feature, each
// checked against values worked out here; exits non-zero on any failure.
// Build and run (the command is in README.md, one line):
//   g++ -x c++ -std=c++17 -O2 -Wall -Wextra -Werror -DQLM_CUDA_EMU -Ikernels/cuda/emu -Ikernels/cuda
//       kernels/cuda/emu/selftest.cu kernels/cuda/emu/emu.cpp kernels/cuda/emu/cublas.cpp
//       -x none kernels/cuda/emu/switch.S -o /tmp/emu-selftest && /tmp/emu-selftest [-v]
// It is plain CUDA too (nvcc -Ikernels/cuda ... -lcublas), so that on a GPU the
// same expectations check the emulator's semantics against the hardware's;
// the death tests and the switch counter are the emulator's alone.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include <cuda_runtime.h>
#include <cublas_v2.h>

#include "common.cuh"

#if defined(QLM_CUDA_EMU)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static int g_fail;

#define CK(x)                                                                                             \
    do {                                                                                                  \
        const cudaError_t e_ = (x);                                                                       \
        if (e_ != cudaSuccess) {                                                                          \
            printf("FAIL %s:%d: %s -> %s\n", __FILE__, __LINE__, #x, cudaGetErrorName(e_));               \
            g_fail++;                                                                                     \
        }                                                                                                 \
    } while (0)
#define EXPECT(c, ...)                                                                                    \
    do {                                                                                                  \
        if (!(c)) {                                                                                       \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #c);                                           \
            printf(__VA_ARGS__);                                                                          \
            printf("\n");                                                                                 \
            g_fail++;                                                                                     \
        }                                                                                                 \
    } while (0)

static double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class T> static T *dalloc(size_t n) {
    T *p = nullptr;
    CK(cudaMalloc(&p, n * sizeof(T)));
    return p;
}

// ---------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------
__global__ void k_block_sum(const float *x, float *out, int n) {
    __shared__ float s[256];
    const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    s[t] = i < n ? x[i] : 0.0f;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h >>= 1) {
        if (t < h) s[t] += s[t + h];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

__global__ void k_warp_reduce(const float *x, float *sum, float *mx) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    sum[i] = qlm_warp_sum(x[i]);
    mx[i] = qlm_warp_max(x[i]);
}

__global__ void k_shfl(int *down, int *up, int *idx, int *bfly, float *fdown, double *dxor) {
    const int l = threadIdx.x, v = 100 + l;
    down[l] = __shfl_down_sync(0xffffffffu, v, 3, 16);
    up[l] = __shfl_up_sync(0xffffffffu, v, 5, 16);
    idx[l] = __shfl_sync(0xffffffffu, v, 21, 16);
    bfly[l] = __shfl_xor_sync(0xffffffffu, v, 20, 16);
    fdown[l] = __shfl_down_sync(0xffffffffu, (float)v * 0.5f, 1);
    dxor[l] = __shfl_xor_sync(0xffffffffu, v + 0.25, 1); // 8 bytes
}

__global__ void k_dyn(float *out, int n, int *zeroed) {
    QLM_DYN_SHARED(float, buf);
    const int t = threadIdx.x;
#if defined(QLM_CUDA_EMU)
    if (t == 0) { // the emulator hands each block zeroed dynamic shared memory
        int z = 1;
        for (int i = 0; i < n; i++) z &= buf[i] == 0.0f;
        zeroed[blockIdx.x] = z;
    }
    __syncthreads();
#else
    if (t == 0) zeroed[blockIdx.x] = 1;
#endif
    for (int i = t; i < n; i += blockDim.x) buf[i] = (float)(i + blockIdx.x * n);
    __syncthreads();
    for (int i = t; i < n; i += blockDim.x) out[blockIdx.x * n + i] = buf[n - 1 - i];
}

__global__ void k_index(int *out, unsigned *ballots) {
    const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const int lin = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const int nthr = blockDim.x * blockDim.y * blockDim.z;
    out[block * nthr + lin] = block * 1000 + lin;
    const unsigned b = __ballot_sync(0xffffffffu, threadIdx.y == 1);
    if (lin % 32 == 0) ballots[block * 2 + lin / 32] = b;
}

// 100 threads, 63 of which return at once; the rest still meet at barriers.
__global__ void k_early(int *out) {
    __shared__ int s[100];
    const int t = threadIdx.x;
    if (t >= 37) return;
    s[t] = t * 3;
    __syncwarp(t < 32 ? 0xffffffffu : 0x1fu);
    __syncthreads();
    const int odd = __syncthreads_count(t % 2);
    out[blockIdx.x * 100 + t] = s[36 - t] + odd;
}

__global__ void k_vote(int *out) {
    const int l = threadIdx.x;
    out[l * 3 + 0] = __any_sync(0xffffffffu, l == 40);
    out[l * 3 + 1] = __all_sync(0xffffffffu, l < 48);
    out[l * 3 + 2] = __syncthreads_or(l == 63);
}

__global__ void k_atomic(int *cnt, float *fsum, unsigned *mx) {
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(cnt, 1);
    atomicAdd(fsum, 0.5f);
    atomicMax(mx, i);
}

__global__ void k_incr(int *p) {
    if (threadIdx.x == 0 && blockIdx.x == 0) *p += 1;
}

__global__ void k_bench_sync(int iters, int *sink) {
    int acc = 0;
    for (int i = 0; i < iters; i++) {
        __syncthreads();
        acc += i;
    }
    if (threadIdx.x == 0) *sink = acc;
}

__global__ void k_bench_shfl(int iters, float *sink) {
    float v = (float)threadIdx.x;
    for (int i = 0; i < iters; i++) v = qlm_warp_sum(v) * (1.0f / 32.0f);
    if (threadIdx.x == 0) *sink = v;
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------
static void test_block_sum() {
    const int n = 7 * 256 - 19; // the last block is partly empty
    float *hx = new float[n], out[7], *x = dalloc<float>(n), *d_out = dalloc<float>(7);
    for (int i = 0; i < n; i++) hx[i] = (float)(i % 17 - 8);
    CK(cudaMemcpy(x, hx, n * sizeof(float), cudaMemcpyHostToDevice));
    QLM_LAUNCH(k_block_sum, 7, 256, 0, 0, x, d_out, n);
    CK(cudaGetLastError());
    CK(cudaMemcpy(out, d_out, sizeof out, cudaMemcpyDeviceToHost));
    for (int b = 0; b < 7; b++) {
        float want = 0;
        for (int i = b * 256; i < n && i < (b + 1) * 256; i++) want += hx[i];
        EXPECT(out[b] == want, "block %d: %g, want %g", b, out[b], want);
    }
    CK(cudaFree(x));
    CK(cudaFree(d_out));
    delete[] hx;
}

static void test_warp_reduce() {
    const int n = 3 * 64;
    float hx[n], hs[n], hm[n];
    for (int i = 0; i < n; i++) hx[i] = (float)((i * 37) % 101) - 50.0f;
    float *x = dalloc<float>(n), *s = dalloc<float>(n), *m = dalloc<float>(n);
    CK(cudaMemcpy(x, hx, sizeof hx, cudaMemcpyHostToDevice));
    QLM_LAUNCH(k_warp_reduce, 3, 64, 0, 0, x, s, m);
    CK(cudaMemcpy(hs, s, sizeof hs, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hm, m, sizeof hm, cudaMemcpyDeviceToHost));
    for (int w = 0; w < n / 32; w++) {
        float ws = 0, wm = -1e30f;
        for (int l = 0; l < 32; l++) {
            ws += hx[w * 32 + l];
            wm = hx[w * 32 + l] > wm ? hx[w * 32 + l] : wm;
        }
        for (int l = 0; l < 32; l++) {
            EXPECT(hs[w * 32 + l] == ws, "warp %d lane %d sum %g, want %g", w, l, hs[w * 32 + l], ws);
            EXPECT(hm[w * 32 + l] == wm, "warp %d lane %d max %g, want %g", w, l, hm[w * 32 + l], wm);
        }
    }
    CK(cudaFree(x));
    CK(cudaFree(s));
    CK(cudaFree(m));
}

// The documented semantics, written out per case for width 16.
static void test_shfl() {
    int *down = dalloc<int>(64), *up = dalloc<int>(64), *idx = dalloc<int>(64), *bfly = dalloc<int>(64);
    float *fdown = dalloc<float>(64);
    double *dxor = dalloc<double>(64);
    QLM_LAUNCH(k_shfl, 1, 64, 0, 0, down, up, idx, bfly, fdown, dxor);
    int hd[64], hu[64], hi[64], hb[64];
    float hf[64];
    double hp[64];
    CK(cudaMemcpy(hd, down, sizeof hd, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hu, up, sizeof hu, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hi, idx, sizeof hi, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hb, bfly, sizeof hb, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hf, fdown, sizeof hf, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hp, dxor, sizeof hp, cudaMemcpyDeviceToHost));
    for (int t = 0; t < 64; t++) {
        const int lane = t % 32, seg = t - lane % 16; // seg: the thread id where t's 16-lane segment starts
        const int wd = lane % 16 + 3 <= 15 ? t + 3 : t;  // down 3: own value in the segment's last 3
        const int wu = lane % 16 >= 5 ? t - 5 : t;       // up 5: own value in the segment's first 5
        const int wi = seg + 5;                          // 21 mod 16
        // xor 20 from lane l: l ^ 20 lies in a later segment for l < 16 (own
        // value), in the earlier one for l >= 16
        const int wbx = lane < 16 ? t : t - lane + (lane ^ 20);
        EXPECT(hd[t] == 100 + wd, "down t %d: %d, want %d", t, hd[t], 100 + wd);
        EXPECT(hu[t] == 100 + wu, "up t %d: %d, want %d", t, hu[t], 100 + wu);
        EXPECT(hi[t] == 100 + wi, "idx t %d: %d, want %d", t, hi[t], 100 + wi);
        EXPECT(hb[t] == 100 + wbx, "xor t %d: %d, want %d", t, hb[t], 100 + wbx);
        const int wf = lane < 31 ? t + 1 : t;
        EXPECT(hf[t] == (float)(100 + wf) * 0.5f, "float down t %d: %g", t, hf[t]);
        const int wp = t ^ 1;
        EXPECT(hp[t] == 100 + wp + 0.25, "double xor t %d: %g", t, hp[t]);
    }
    CK(cudaFree(down));
    CK(cudaFree(up));
    CK(cudaFree(idx));
    CK(cudaFree(bfly));
    CK(cudaFree(fdown));
    CK(cudaFree(dxor));
}

static void test_dyn_shared() {
    const int n = 3000, blocks = 3;
    float *out = dalloc<float>(n * blocks), *h = new float[n * blocks];
    int *zeroed = dalloc<int>(blocks), hz[blocks];
    QLM_LAUNCH(k_dyn, blocks, 128, n * sizeof(float), 0, out, n, zeroed);
    CK(cudaGetLastError());
    CK(cudaMemcpy(h, out, n * blocks * sizeof(float), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hz, zeroed, sizeof hz, cudaMemcpyDeviceToHost));
    for (int b = 0; b < blocks; b++) {
        EXPECT(hz[b] == 1, "block %d: dynamic shared memory not zeroed", b);
        for (int i = 0; i < n; i++)
            if (h[b * n + i] != (float)(n - 1 - i + b * n)) {
                EXPECT(false, "block %d i %d: %g", b, i, h[b * n + i]);
                break;
            }
    }
    CK(cudaFree(out));
    CK(cudaFree(zeroed));
    delete[] h;
}

static void test_index() {
    const dim3 grid(3, 2, 2), block(8, 4, 2);
    const int nb = 12, nt = 64;
    int *out = dalloc<int>(nb * nt), h[nb * nt];
    unsigned *ballots = dalloc<unsigned>(nb * 2), hb[nb * 2];
    QLM_LAUNCH(k_index, grid, block, 0, 0, out, ballots);
    CK(cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hb, ballots, sizeof hb, cudaMemcpyDeviceToHost));
    for (int b = 0; b < nb; b++) {
        for (int t = 0; t < nt; t++) EXPECT(h[b * nt + t] == b * 1000 + t, "block %d thread %d: %d", b, t, h[b * nt + t]);
        // threadIdx.x fastest: lanes 8-15 of each warp have threadIdx.y == 1
        for (int w = 0; w < 2; w++) EXPECT(hb[b * 2 + w] == 0x0000ff00u, "block %d warp %d ballot %08x", b, w, hb[b * 2 + w]);
    }
    CK(cudaFree(out));
    CK(cudaFree(ballots));
}

static void test_early_return() {
    int *out = dalloc<int>(200), h[200];
    QLM_LAUNCH(k_early, 2, 100, 0, 0, out);
    CK(cudaGetLastError());
    CK(cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost));
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 37; t++)
            EXPECT(h[b * 100 + t] == (36 - t) * 3 + 18, "block %d thread %d: %d", b, t, h[b * 100 + t]);
    CK(cudaFree(out));
}

static void test_vote() {
    int *out = dalloc<int>(64 * 3), h[64 * 3];
    QLM_LAUNCH(k_vote, 1, 64, 0, 0, out);
    CK(cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost));
    for (int l = 0; l < 64; l++) {
        EXPECT(h[l * 3] == (l >= 32), "any lane %d: %d", l, h[l * 3]);
        EXPECT(h[l * 3 + 1] == (l < 32), "all lane %d: %d", l, h[l * 3 + 1]);
        EXPECT(h[l * 3 + 2] == 1, "syncthreads_or lane %d: %d", l, h[l * 3 + 2]);
    }
    CK(cudaFree(out));
}

static void test_atomic() {
    int *cnt = dalloc<int>(1), hc;
    float *fsum = dalloc<float>(1), hf;
    unsigned *mx = dalloc<unsigned>(1), hm;
    CK(cudaMemset(cnt, 0, 4));
    CK(cudaMemset(fsum, 0, 4));
    CK(cudaMemset(mx, 0, 4));
    QLM_LAUNCH(k_atomic, 13, 128, 0, 0, cnt, fsum, mx);
    CK(cudaMemcpy(&hc, cnt, 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(&hf, fsum, 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(&hm, mx, 4, cudaMemcpyDeviceToHost));
    EXPECT(hc == 13 * 128, "count %d", hc);
    EXPECT(hf == 13 * 128 * 0.5f, "float sum %g", hf);
    EXPECT(hm == 13 * 128 - 1, "max %u", hm);
    CK(cudaFree(cnt));
    CK(cudaFree(fsum));
    CK(cudaFree(mx));
}

static void test_config_errors() {
    int *p = dalloc<int>(1), h = 0;
    CK(cudaMemset(p, 0, 4));
    CK(cudaGetLastError());
#if defined(QLM_CUDA_EMU)
    fprintf(stderr, "(2 expected complaints follow)\n");
#endif
    QLM_LAUNCH(k_incr, 1, 1025, 0, 0, p);
    EXPECT(cudaGetLastError() == cudaErrorInvalidConfiguration, "1025 threads per block accepted");
    EXPECT(cudaGetLastError() == cudaSuccess, "cudaGetLastError did not clear the error");
    QLM_LAUNCH(k_incr, 1, 32, 300 * 1024, 0, p);
    EXPECT(cudaGetLastError() != cudaSuccess, "300 KiB of dynamic shared memory accepted");
    CK(cudaMemcpy(&h, p, 4, cudaMemcpyDeviceToHost));
    EXPECT(h == 0, "a refused launch ran");
    CK(cudaFree(p));
}

static void test_memory() {
    void *a = nullptr, *b = nullptr;
    CK(cudaMalloc(&a, 0));
    CK(cudaMalloc(&b, 0));
    EXPECT(a && b && a != b, "0-byte allocations %p %p", a, b);
    CK(cudaFree(a));
    CK(cudaFree(b));
#if defined(QLM_CUDA_EMU)
    unsigned char *d = dalloc<unsigned char>(64), h[128];
    CK(cudaMemcpy(h, d, 64, cudaMemcpyDeviceToHost));
    EXPECT(h[0] == 0xA5 && h[63] == 0xA5, "fresh allocation not filled with 0xA5: %02x", h[0]);
    fprintf(stderr, "(3 expected complaints follow)\n");
    EXPECT(cudaMemcpy(h, d, 65, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue, "overrunning copy accepted");
    EXPECT(cudaMemcpy(d, h, 8, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue, "swapped direction accepted");
    EXPECT(cudaFree(h) == cudaErrorInvalidValue, "cudaFree of a host pointer accepted");
    cudaGetLastError();
    CK(cudaFree(d));
#endif
}

static void test_graph() {
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    int *counter = dalloc<int>(1), *copy = dalloc<int>(1), h = -1;
    CK(cudaMemset(counter, 0, 4));
    CK(cudaMemset(copy, 0xff, 4));

    cudaGraph_t g = nullptr;
    cudaGraphExec_t x = nullptr;
    cudaStreamCaptureStatus st;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    CK(cudaStreamIsCapturing(s, &st));
    EXPECT(st == cudaStreamCaptureStatusActive, "capture status %d", (int)st);
    QLM_LAUNCH(k_incr, 1, 32, 0, s, counter);
    CK(cudaMemcpyAsync(copy, counter, 4, cudaMemcpyDeviceToDevice, s));
    CK(cudaStreamEndCapture(s, &g));
#if defined(QLM_CUDA_EMU)
    size_t nodes = 0;
    CK(cudaGraphGetNodes(g, nullptr, &nodes));
    EXPECT(nodes == 2, "%zu nodes captured", nodes);
#endif
    CK(cudaMemcpy(&h, counter, 4, cudaMemcpyDeviceToHost));
    EXPECT(h == 0, "a captured launch ran during capture: %d", h);
    CK(cudaGraphInstantiate(&x, g, 0));
    CK(cudaGraphLaunch(x, s));
    CK(cudaGraphLaunch(x, s));
    CK(cudaStreamSynchronize(s));
    CK(cudaMemcpy(&h, counter, 4, cudaMemcpyDeviceToHost));
    EXPECT(h == 2, "counter %d after two replays", h);
    CK(cudaMemcpy(&h, copy, 4, cudaMemcpyDeviceToHost));
    EXPECT(h == 2, "copy %d after two replays", h);
    CK(cudaGraphExecDestroy(x));
    CK(cudaGraphDestroy(g));

    // capture on the legacy default stream is refused
    EXPECT(cudaStreamBeginCapture(0, cudaStreamCaptureModeGlobal) != cudaSuccess, "capture on stream 0 accepted");
    cudaGetLastError();

    // a synchronous copy inside the captured step is refused, and breaks the capture
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    QLM_LAUNCH(k_incr, 1, 32, 0, s, counter);
    EXPECT(cudaMemcpy(&h, counter, 4, cudaMemcpyDeviceToHost) != cudaSuccess, "cudaMemcpy during capture accepted");
    g = nullptr;
    EXPECT(cudaStreamEndCapture(s, &g) != cudaSuccess && !g, "an invalidated capture ended well");
    if (g) CK(cudaGraphDestroy(g));
    cudaGetLastError();
    CK(cudaMemcpy(&h, counter, 4, cudaMemcpyDeviceToHost));
    EXPECT(h == 2, "counter %d after the broken capture", h);

    CK(cudaFree(counter));
    CK(cudaFree(copy));
    CK(cudaStreamDestroy(s));
}

// ---------------------------------------------------------------------------
// cuBLAS
// ---------------------------------------------------------------------------
static float input_value(int i, int j, int salt) { return (float)((i * 7 + j * 13 + salt) % 29 - 14) / 16.0f; }

static void fill(void *dst, cudaDataType_t t, int rows, int cols, int ld, int salt, float *ref) {
    for (int j = 0; j < cols; j++)
        for (int i = 0; i < ld; i++) {
            const float v = i < rows ? input_value(i, j, salt) : 1e30f; // padding must not be read
            const size_t at = (size_t)i + (size_t)j * ld;
            if (t == CUDA_R_32F) ((float *)dst)[at] = v;
            else ((uint16_t *)dst)[at] = t == CUDA_R_16F ? qlm_f2h(v) : (uint16_t)(qlm_f2u(v) >> 16);
            if (i < rows) ref[at] = v; // exact in all three types
        }
}

static void test_gemm_case(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, cudaDataType_t at,
                           cudaDataType_t ct, float beta) {
    const int m = 37, n = 29, k = 45;
    const int arows = ta == CUBLAS_OP_N ? m : k, acols = ta == CUBLAS_OP_N ? k : m;
    const int brows = tb == CUBLAS_OP_N ? k : n, bcols = tb == CUBLAS_OP_N ? n : k;
    const int lda = arows + 3, ldb = brows + 1, ldc = m + 2;
    const size_t es = at == CUDA_R_32F ? 4 : 2, cs = ct == CUDA_R_32F ? 4 : 2;
    std::vector<float> ra((size_t)lda * acols), rb((size_t)ldb * bcols), rc((size_t)ldc * n);
    std::vector<unsigned char> ha(lda * acols * es), hb(ldb * bcols * es), hc(ldc * n * cs), out(ldc * n * cs);
    fill(ha.data(), at, arows, acols, lda, 1, ra.data());
    fill(hb.data(), at, brows, bcols, ldb, 2, rb.data());
    fill(hc.data(), ct, m, n, ldc, 3, rc.data());
    if (beta == 0.0f) // C is not read when beta is 0: NaN there must not show
        for (size_t i = 0; i < hc.size(); i++) hc[i] = 0xff;
    void *da, *db, *dc;
    CK(cudaMalloc(&da, ha.size()));
    CK(cudaMalloc(&db, hb.size()));
    CK(cudaMalloc(&dc, hc.size()));
    CK(cudaMemcpy(da, ha.data(), ha.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(db, hb.data(), hb.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dc, hc.data(), hc.size(), cudaMemcpyHostToDevice));
    const float alpha = 1.5f;
    const cublasStatus_t st = cublasGemmEx(h, ta, tb, m, n, k, &alpha, da, at, lda, db, at, ldb, &beta, dc, ct, ldc,
                                           CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    EXPECT(st == CUBLAS_STATUS_SUCCESS, "cublasGemmEx: %s", cublasGetStatusString(st));
    CK(cudaMemcpy(out.data(), dc, out.size(), cudaMemcpyDeviceToHost));
    int bad = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double want = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                const double a = ta == CUBLAS_OP_N ? ra[i + (size_t)p * lda] : ra[p + (size_t)i * lda];
                const double b = tb == CUBLAS_OP_N ? rb[p + (size_t)j * ldb] : rb[j + (size_t)p * ldb];
                want += a * b;
                mag += fabs(a * b);
            }
            want = alpha * want + (beta != 0.0f ? beta * rc[i + (size_t)j * ldc] : 0.0);
            const size_t at_c = i + (size_t)j * ldc;
            const float got = ct == CUDA_R_32F ? ((float *)out.data())[at_c] : qlm_h2f(((uint16_t *)out.data())[at_c]);
            const double tol = ct == CUDA_R_32F ? 1e-5 * (mag + 1) : fabs(want) / 1024.0 + 1e-5 * (mag + 1);
            if (!(fabs(got - want) <= tol) && bad++ < 3)
                printf("FAIL gemm ta %d tb %d A %d C %d beta %g: C(%d,%d) = %.7g, want %.7g\n", (int)ta, (int)tb,
                       (int)at, (int)ct, beta, i, j, got, want);
        }
    g_fail += bad;
    CK(cudaFree(da));
    CK(cudaFree(db));
    CK(cudaFree(dc));
}

static void test_gemm() {
    cublasHandle_t h;
    EXPECT(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
    const cudaDataType_t types[3] = {CUDA_R_32F, CUDA_R_16F, CUDA_R_16BF};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int t = 0; t < 3; t++) {
                const cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
                test_gemm_case(h, oa, ob, types[t], CUDA_R_32F, 0.5f);
                test_gemm_case(h, oa, ob, types[t], CUDA_R_32F, 0.0f);
                if (types[t] == CUDA_R_16F) test_gemm_case(h, oa, ob, CUDA_R_16F, CUDA_R_16F, 0.5f);
            }

    // cuBLAS's own rules: A and B of one type
    void *d;
    CK(cudaMalloc(&d, 4096));
    const float one = 1.0f, zero = 0.0f;
    EXPECT(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, CUDA_R_16F, 4, d, CUDA_R_32F, 4, &zero, d,
                        CUDA_R_32F, 4, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS,
           "mixed A/B types accepted");
    EXPECT(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, d, CUDA_R_32F, 3, d, CUDA_R_32F, 4, &zero, d,
                        CUDA_R_32F, 4, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_INVALID_VALUE,
           "lda < m accepted");

    // TF32: 1 + 2^-12 times 1 is 1
    float hv[2] = {1.0f + 1.0f / 4096.0f, 1.0f}, r = 0;
    CK(cudaMemcpy(d, hv, 8, cudaMemcpyHostToDevice));
    EXPECT(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, d, CUDA_R_32F, 1, (float *)d + 1, CUDA_R_32F, 1,
                        &zero, (float *)d + 2, CUDA_R_32F, 1, CUBLAS_COMPUTE_32F_FAST_TF32,
                        CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS,
           "TF32 gemm");
    CK(cudaMemcpy(&r, (float *)d + 2, 4, cudaMemcpyDeviceToHost));
    EXPECT(r == 1.0f, "TF32 product %.9g, want 1", r);

    // F16 output rounds to nearest even: 1.5 * (1 + 3 * 2^-10) = 1.5 + 4.5 * 2^-10
    // lies halfway between two halves; the even one is 1.5 + 4 * 2^-10
    const float one_and_half = 1.5f;
    uint16_t h3[3] = {qlm_f2h(1.0f + 3.0f / 1024.0f), qlm_f2h(1.0f), 0};
    CK(cudaMemcpy(d, h3, 6, cudaMemcpyHostToDevice));
    EXPECT(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one_and_half, d, CUDA_R_16F, 1, (uint16_t *)d + 1,
                        CUDA_R_16F, 1, &zero, (uint16_t *)d + 2, CUDA_R_16F, 1, CUBLAS_COMPUTE_32F,
                        CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS,
           "F16 gemm");
    CK(cudaMemcpy(h3, d, 6, cudaMemcpyDeviceToHost));
    EXPECT(h3[2] == qlm_f2h(1.5f + 4.0f / 1024.0f), "F16 tie rounded to %#06x, want %#06x", h3[2],
           qlm_f2h(1.5f + 4.0f / 1024.0f));

    // captured with its stream, replayed twice: C += A * B twice
    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    EXPECT(cublasSetStream(h, s) == CUBLAS_STATUS_SUCCESS, "cublasSetStream");
    float hm[3] = {2.0f, 3.0f, 1.0f};
    CK(cudaMemcpy(d, hm, 12, cudaMemcpyHostToDevice));
    cudaGraph_t g;
    cudaGraphExec_t x;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    EXPECT(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, (float *)d, 1, (float *)d + 1, 1, &one,
                       (float *)d + 2, 1) == CUBLAS_STATUS_SUCCESS,
           "captured sgemm");
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaMemcpy(&r, (float *)d + 2, 4, cudaMemcpyDeviceToHost));
    EXPECT(r == 1.0f, "captured gemm ran during capture: %g", r);
    CK(cudaGraphInstantiate(&x, g, 0));
    CK(cudaGraphLaunch(x, s));
    CK(cudaGraphLaunch(x, s));
    CK(cudaStreamSynchronize(s));
    CK(cudaMemcpy(&r, (float *)d + 2, 4, cudaMemcpyDeviceToHost));
    EXPECT(r == 13.0f, "after two replays %g, want 13", r);
    CK(cudaGraphExecDestroy(x));
    CK(cudaGraphDestroy(g));
    EXPECT(cublasSetStream(h, 0) == CUBLAS_STATUS_SUCCESS, "cublasSetStream");
    CK(cudaStreamDestroy(s));
    CK(cudaFree(d));

    // speed: a prefill-sized product
    const int M = 2048, N = 512, K = 576;
    void *a, *b, *c;
    CK(cudaMalloc(&a, (size_t)M * K * 2));
    CK(cudaMalloc(&b, (size_t)K * N * 2));
    CK(cudaMalloc(&c, (size_t)M * N * 4));
    CK(cudaMemset(a, 0x3c, (size_t)M * K * 2)); // F16 0x3c3c = 1.06
    CK(cudaMemset(b, 0x3c, (size_t)K * N * 2));
    CK(cudaDeviceSynchronize());
    const double t0 = now_s();
    EXPECT(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &one, a, CUDA_R_16F, K, b, CUDA_R_16F, K, &zero, c,
                        CUDA_R_32F, M, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS,
           "big gemm");
    CK(cudaDeviceSynchronize());
    printf("gemm %dx%dx%d (F16 in, F32 out): %.3f s\n", M, N, K, now_s() - t0);
    CK(cudaFree(a));
    CK(cudaFree(b));
    CK(cudaFree(c));
    EXPECT(cublasDestroy(h) == CUBLAS_STATUS_SUCCESS, "cublasDestroy");
}

// ---------------------------------------------------------------------------
// The emulator alone: kernel bugs it must abort on, and its switch rate
// ---------------------------------------------------------------------------
#if defined(QLM_CUDA_EMU)
__global__ void k_deadlock() {
    const int t = threadIdx.x;
    if (t >= 32 && t < 48) __syncwarp(); // waits for lanes 48-63 of its warp, which wait at __syncthreads
    __syncthreads();
}

__global__ void k_exited_lane(float *out) { out[threadIdx.x] = qlm_warp_sum(1.0f); } // 48 threads

__global__ void k_mismatch() {
    if (threadIdx.x % 2) __syncwarp();
    else __ballot_sync(0xffffffffu, 1);
}

static void run_deadlock() { QLM_LAUNCH(k_deadlock, 1, 64, 0, 0); }
static void run_exited_lane() {
    float *p;
    cudaMalloc(&p, 48 * 4);
    QLM_LAUNCH(k_exited_lane, 1, 48, 0, 0, p);
}
static void run_mismatch() { QLM_LAUNCH(k_mismatch, 1, 32, 0, 0); }

// Runs fn in a child, which must abort with `needle` in its message.
static void expect_abort(const char *name, void (*fn)(), const char *needle, bool verbose) {
    int fd[2];
    if (pipe(fd) != 0) {
        EXPECT(false, "pipe");
        return;
    }
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        fn();
        _exit(0);
    }
    close(fd[1]);
    char buf[8192];
    size_t len = 0;
    for (ssize_t r; (r = read(fd[0], buf + len, sizeof buf - 1 - len)) > 0;) len += (size_t)r;
    buf[len] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    const bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    EXPECT(aborted && strstr(buf, needle), "%s: status %d, message: %s", name, status, buf);
    if (verbose) printf("--- %s:\n%s", name, buf);
}

static void bench() {
    int *sink = dalloc<int>(1);
    float *fsink = dalloc<float>(1);
    unsigned long long s0 = qlm_emu_switches();
    double t0 = now_s();
    QLM_LAUNCH(k_bench_sync, 4, 1024, 0, 0, 500, sink);
    double dt = now_s() - t0;
    unsigned long long n = qlm_emu_switches() - s0;
    printf("switch rate, __syncthreads x 1024 threads: %.1f M switches/s (%llu in %.3f s)\n", n / dt / 1e6, n, dt);
    s0 = qlm_emu_switches();
    t0 = now_s();
    QLM_LAUNCH(k_bench_shfl, 4, 256, 0, 0, 200, fsink);
    dt = now_s() - t0;
    n = qlm_emu_switches() - s0;
    printf("switch rate, warp shuffles x 256 threads:   %.1f M switches/s (%llu in %.3f s, %.1f M shuffles/s)\n",
           n / dt / 1e6, n, dt, 4.0 * 256 * 200 * 5 / dt / 1e6);
    CK(cudaFree(sink));
    CK(cudaFree(fsink));
}
#endif

int main(int argc, char **argv) {
    const bool verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    int count = 0;
    CK(cudaGetDeviceCount(&count));
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s, %d SMs, sm_%d%d\n", prop.name, prop.multiProcessorCount, prop.major, prop.minor);

    test_block_sum();
    test_warp_reduce();
    test_shfl();
    test_dyn_shared();
    test_index();
    test_early_return();
    test_vote();
    test_atomic();
    test_config_errors();
    test_memory();
    test_graph();
    test_gemm();
#if defined(QLM_CUDA_EMU)
    expect_abort("deadlock", run_deadlock, "deadlock in block (0,0,0)", verbose);
    expect_abort("shuffle from an exited lane", run_exited_lane, "shfl from exited lane", verbose);
    expect_abort("mismatched warp sync points", run_mismatch, "waits at", verbose);
    bench();
#endif
    CK(cudaGetLastError());
    printf("%s (%d failures)\n", g_fail ? "FAIL" : "ok", g_fail);
    return g_fail ? 1 : 0;
}
