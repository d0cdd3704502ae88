/* test_cuda.c - the device probe. It skips, with a message, where the build
 * has no CUDA (make CUDA=0 or no nvcc) or the machine has no device. */
#include "cuda_test.h"

Test(cuda, device_probe) {
    CUDA_SKIP_WITHOUT_DEVICE();
#ifdef QLM_HAVE_CUDA
    cr_expect(qlm_cuda_device_count() > 0);
#endif
}
