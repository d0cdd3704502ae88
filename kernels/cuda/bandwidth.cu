// bandwidth.cu - the device's measured read bandwidth, the yardstick bench
// divides decode's weight traffic by (the % of HBM it reports). A kernel
// streams a buffer far larger than L2 with 128-bit loads and sums it (the
// sum is written, so the loads cannot be dropped); best of several passes.
#include "common.cuh"
#include "cuda.h"

#define BW_BLOCK 512

static __global__ void read_kernel(const uint4 *buf, int64_t n, unsigned *sink) {
    unsigned acc = 0;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const uint4 v = buf[i];
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x9e3779b9u) *sink = acc; // practically never true, but the compiler cannot know
}

extern "C" double qlm_cuda_read_bandwidth_gbps(size_t bytes, int passes) {
    cudaDeviceProp p;
    if (qlm_cuda_device_count() == 0 || cudaGetDeviceProperties(&p, 0) != cudaSuccess) return 0.0;
    const int64_t n = (int64_t)(bytes / sizeof(uint4));
    uint4 *buf = NULL;
    unsigned *sink = NULL;
    cudaEvent_t t0 = NULL, t1 = NULL;
    double best = 0.0;
    if (cudaMalloc((void **)&buf, (size_t)n * sizeof(uint4)) != cudaSuccess ||
        cudaMalloc((void **)&sink, sizeof(unsigned)) != cudaSuccess || cudaEventCreate(&t0) != cudaSuccess ||
        cudaEventCreate(&t1) != cudaSuccess || cudaMemset(buf, 1, (size_t)n * sizeof(uint4)) != cudaSuccess)
        goto done;
    for (int pass = 0; pass <= passes; pass++) { // pass 0 warms up
        const unsigned blocks = (unsigned)p.multiProcessorCount * 4;
        cudaEventRecord(t0, 0);
        QLM_LAUNCH(read_kernel, blocks, BW_BLOCK, 0, (cudaStream_t)0, buf, n, sink);
        cudaEventRecord(t1, 0);
        float ms = 0.0f;
        if (cudaEventSynchronize(t1) != cudaSuccess || cudaEventElapsedTime(&ms, t0, t1) != cudaSuccess) break;
        const double gbs = (double)n * sizeof(uint4) / (ms * 1e-3) / 1e9;
        if (pass > 0 && gbs > best) best = gbs;
    }
done:
    if (t0) cudaEventDestroy(t0);
    if (t1) cudaEventDestroy(t1);
    cudaFree(sink);
    cudaFree(buf);
    cudaGetLastError();
    return best;
}
