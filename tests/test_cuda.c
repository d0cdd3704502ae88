/* test_cuda.c - GPU checks. They skip, with a message, where the build has no
 * CUDA (make CUDA=0 or no nvcc) or the machine has no device. */
#include <criterion/criterion.h>

#ifdef QLM_HAVE_CUDA
#include "cuda.h"
#endif

Test(cuda, device_probe) {
#ifdef QLM_HAVE_CUDA
    int n = qlm_cuda_device_count();
    if (n == 0) cr_skip_test("no CUDA device found: GPU tests skipped");
    cr_expect(n > 0);
#else
    cr_skip_test("built without CUDA (nvcc not found or CUDA=0): GPU tests skipped");
#endif
}
