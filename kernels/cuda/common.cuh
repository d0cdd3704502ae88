// common.cuh - what every CUDA kernel file shares: the launch macro, dynamic
// shared memory, F16/BF16 conversions, dp4a and warp reductions.
//
// Every .cu file here builds two ways:
//  - with nvcc for the GPU (make CUDA=1), and
//  - with the host C++ compiler against the CUDA emulator in kernels/cuda/emu
//    (QLM_CUDA_EMU; make test's cuda-emu suites), which runs each block's
//    threads as coroutines on the CPU so that every kernel, the forward pass
//    and the graph capture are tested on machines without a GPU.
// So kernels use only the subset the emulator implements (emu/README): the
// launch macro below instead of <<<...>>>, QLM_DYN_SHARED instead of
// `extern __shared__`, and the helpers below instead of raw intrinsics.
#ifndef QLM_CUDA_COMMON_CUH
#define QLM_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDA_ARCH__)
#include <cuda_fp16.h>
#endif

#define QLM_HD __host__ __device__ __forceinline__
#define QLM_WARP 32

// kernel<<<grid, block, shmem, stream>>>(args...), which the emulator cannot
// parse; there it runs the launch on the CPU (or records it while a stream
// is being captured into a graph).
#if defined(QLM_CUDA_EMU)
#define QLM_LAUNCH(kernel, grid, block, shmem, stream, ...) \
    qlm_emu_launch((grid), (block), (shmem), (stream), [=]() { kernel(__VA_ARGS__); })
#define QLM_DYN_SHARED(T, name) T *name = (T *)qlm_emu_dynamic_shared()
#else
#define QLM_LAUNCH(kernel, grid, block, shmem, stream, ...) kernel<<<(grid), (block), (shmem), (stream)>>>(__VA_ARGS__)
#define QLM_DYN_SHARED(T, name) extern __shared__ __align__(16) unsigned char qlm_dyn_smem_[]; T *name = (T *)qlm_dyn_smem_
#endif

// IEEE half -> float, exact (the host path mirrors engine/types.c).
QLM_HD float qlm_h2f(uint16_t h) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(h));
#else
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1fu) bits = sign | 0x7f800000u | (man << 13); // Inf / NaN
    else if (exp != 0) bits = sign | ((exp + 112u) << 23) | (man << 13);
    else if (man == 0) bits = sign;
    else { // subnormal: normalize
        int e = -1;
        uint32_t m = man;
        do { e++; m <<= 1; } while (!(m & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
#endif
}

// float -> IEEE half, round to nearest even (overflow to Inf, NaN kept NaN).
QLM_HD uint16_t qlm_f2h(float f) {
#if defined(__CUDA_ARCH__)
    return __half_as_ushort(__float2half_rn(f));
#else
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu)); // NaN
    if (x >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); // rounds to >= 65520: Inf
    if (x < 0x38800000u) { // below the smallest normal half: subnormal or zero
        if (x < 0x33000000u) return (uint16_t)sign; // below half the smallest subnormal
        const uint32_t e = x >> 23, m = (x & 0x7fffffu) | 0x800000u, shift = 126u - e;
        uint32_t h = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((x >> 13) - (112u << 10));
    const uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
#endif
}

// bfloat16 -> float: the high half of the float's bits.
QLM_HD float qlm_bf2f(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float f;
#if defined(__CUDA_ARCH__)
    f = __uint_as_float(bits);
#else
    memcpy(&f, &bits, 4);
#endif
    return f;
}

QLM_HD uint32_t qlm_f2u(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
#endif
}

QLM_HD float qlm_u2f(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, 4);
    return f;
#endif
}

// c + the dot product of a's and b's four signed bytes (dp4a, sm_61+).
QLM_HD int qlm_dp4a(int a, int b, int c) {
#if defined(__CUDA_ARCH__)
    return __dp4a(a, b, c);
#else
    for (int i = 0; i < 4; i++) c += (int)(int8_t)(a >> 8 * i) * (int)(int8_t)(b >> 8 * i);
    return c;
#endif
}

// Four bytes from a possibly unaligned address (GGUF blocks are 2-byte aligned).
QLM_HD int qlm_load_i32(const uint8_t *p) {
    return (int)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

// Sum and maximum over the 32 lanes of a warp; every lane gets the result.
// The butterfly order is fixed, so a result never depends on timing.
__device__ __forceinline__ float qlm_warp_sum(float v) {
    for (int off = QLM_WARP / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

__device__ __forceinline__ float qlm_warp_max(float v) {
    for (int off = QLM_WARP / 2; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

#endif
