/* cuda.h - the CUDA backend entry points (the .cu files beside it, built when
 * nvcc is found: make CUDA=auto|0|1). The GPU ops table plugs in here. */
#ifndef QLM_CUDA_H
#define QLM_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices; 0 when there is no driver or no device. */
int qlm_cuda_device_count(void);

#ifdef __cplusplus
}
#endif
#endif
