// probe.cu - asks the CUDA runtime for devices. A machine with the toolkit
// but no GPU or driver answers 0, so the CPU path is taken.
#include <cuda_runtime.h>

#include "cuda.h"

extern "C" int qlm_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky error so later calls start clean
        return 0;
    }
    return n;
}
