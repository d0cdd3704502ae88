/* cuda_test.h - what the CUDA suites share: each test skips, with a message,
 * in a build without CUDA or on a machine without a device (the emulated
 * build, make CUDA=emu, reports one, so there they run). */
#ifndef QLM_CUDA_TEST_H
#define QLM_CUDA_TEST_H

#include <criterion/criterion.h>

#ifdef QLM_HAVE_CUDA
#include "cuda.h"
#define CUDA_SKIP_WITHOUT_DEVICE()                                                                  \
    do {                                                                                            \
        if (qlm_cuda_device_count() == 0) cr_skip_test("no CUDA device found: GPU tests skipped"); \
    } while (0)
#else
#define CUDA_SKIP_WITHOUT_DEVICE() cr_skip_test("built without CUDA (nvcc not found or CUDA=0): GPU tests skipped")
#endif

#endif
