// cuda_runtime.h - the CUDA subset that kernels/cuda/*.cu may use, emulated on
// the CPU (QLM_CUDA_EMU builds put kernels/cuda/emu first on the include path,
// so this file stands in for the toolkit's). See README.md beside it.
//
// Device code: the qualifiers are macros, threadIdx/blockIdx/blockDim/gridDim
// read the running emulated thread's record, and every sync point
// (__syncthreads, __syncwarp, shuffles, votes) is a call into emu.cpp's
// scheduler, which runs each block's threads as coroutines on one OS thread.
// Host code: device memory is host memory; streams run their work at once,
// unless the stream is being captured into a graph, which records it.
#ifndef QLM_EMU_CUDA_RUNTIME_H
#define QLM_EMU_CUDA_RUNTIME_H

#if !defined(__cplusplus)
#error "the CUDA emulator's headers are C++ (compile .cu files with g++ -x c++)"
#endif
#if defined(__CUDACC__) || defined(__CUDA_ARCH__)
#error "kernels/cuda/emu is for host compilers (QLM_CUDA_EMU builds), not for nvcc"
#endif

#include <cmath>
#include <math.h> // C++'s <math.h> also puts the float overloads (sqrt(float)...) in the global namespace, as CUDA does
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <type_traits>
// libstdc++ spells __attribute__((__noinline__)) in <memory>'s headers
// (shared_ptr_base.h): they must be read before __noinline__ becomes a macro
// below (real CUDA has the same clash). Read here, they are safe to include
// again after this header; other C++ libraries may need including first.
#include <memory>

// ---------------------------------------------------------------------------
// Qualifiers
// ---------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// Blocks run one at a time on one OS thread, so a function-local static is
// exactly one block's shared memory. It is not cleared between blocks: a read
// before the block's first write sees the previous block's data.
#define __shared__ static

// ---------------------------------------------------------------------------
// Vector types (CUDA's alignments)
// ---------------------------------------------------------------------------
struct uint3 { unsigned x, y, z; };
struct int3 { int x, y, z; };
struct float3 { float x, y, z; };
struct __attribute__((aligned(8))) int2 { int x, y; };
struct __attribute__((aligned(8))) uint2 { unsigned x, y; };
struct __attribute__((aligned(8))) float2 { float x, y; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(4))) char4 { signed char x, y, z, w; };
struct __attribute__((aligned(4))) uchar4 { unsigned char x, y, z, w; };
struct __attribute__((aligned(4))) short2 { short x, y; };
struct __attribute__((aligned(4))) ushort2 { unsigned short x, y; };
struct __attribute__((aligned(8))) short4 { short x, y, z, w; };
struct __attribute__((aligned(8))) ushort4 { unsigned short x, y, z, w; };

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

inline int2 make_int2(int x, int y) { return int2{x, y}; }
inline int3 make_int3(int x, int y, int z) { return int3{x, y, z}; }
inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return uint2{x, y}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline float3 make_float3(float x, float y, float z) { return float3{x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline char4 make_char4(signed char x, signed char y, signed char z, signed char w) { return char4{x, y, z, w}; }
inline uchar4 make_uchar4(unsigned char x, unsigned char y, unsigned char z, unsigned char w) { return uchar4{x, y, z, w}; }
inline ushort4 make_ushort4(unsigned short x, unsigned short y, unsigned short z, unsigned short w) {
    return ushort4{x, y, z, w};
}

// ---------------------------------------------------------------------------
// Built-in variables: the running emulated thread's record and the launch's
// dimensions (emu.cpp switches qlm_emu_cur_ on every context switch).
// ---------------------------------------------------------------------------
struct qlm_emu_ctx {
    uint3 tid;     // threadIdx
    unsigned lane; // linear thread id % 32
    unsigned warp; // linear thread id / 32
};
extern qlm_emu_ctx *qlm_emu_cur_;
extern uint3 qlm_emu_block_idx_;
extern dim3 qlm_emu_block_dim_, qlm_emu_grid_dim_;

inline const qlm_emu_ctx *qlm_emu_cur() { return qlm_emu_cur_; }

#define threadIdx (qlm_emu_cur()->tid)
#define blockIdx (static_cast<const uint3 &>(qlm_emu_block_idx_))
#define blockDim (static_cast<const dim3 &>(qlm_emu_block_dim_))
#define gridDim (static_cast<const dim3 &>(qlm_emu_grid_dim_))
// A variable, not a macro: cudaDeviceProp has a field of that name.
inline constexpr int warpSize = 32;

// ---------------------------------------------------------------------------
// Sync points (emu.cpp): each may switch to another emulated thread.
// ---------------------------------------------------------------------------
enum { QLM_EMU_SYNCWARP = 1, QLM_EMU_SHFL = 2, QLM_EMU_VOTE = 3 };
enum { QLM_EMU_BAR = 0, QLM_EMU_BAR_COUNT = 1, QLM_EMU_BAR_AND = 2, QLM_EMU_BAR_OR = 3 };
int qlm_emu_block_sync(int op, int pred);
// Waits until every live lane of `mask` has arrived at a warp sync point of
// the same kind and mask; for QLM_EMU_SHFL it returns lane `src`'s `val`, for
// QLM_EMU_VOTE the ballot of the lanes' `val != 0` in the low 32 bits and
// the participating lanes in the high 32.
uint64_t qlm_emu_warp_op(int kind, unsigned mask, uint64_t val, unsigned src);
unsigned qlm_emu_width(int width); // checks a shuffle width (a power of two <= 32)
unsigned qlm_emu_activemask(void);

// Other threads run inside these calls. The calls are opaque to the
// compiler already; the empty asm with a memory clobber also keeps it from
// holding a __shared__ (static) value in a register across one.
#define QLM_EMU_FENCE() __asm__ __volatile__("" ::: "memory")
inline int qlm_emu_block_sync_(int op, int pred) {
    QLM_EMU_FENCE();
    const int r = qlm_emu_block_sync(op, pred);
    QLM_EMU_FENCE();
    return r;
}
inline uint64_t qlm_emu_warp_op_(int kind, unsigned mask, uint64_t val, unsigned src) {
    QLM_EMU_FENCE();
    const uint64_t r = qlm_emu_warp_op(kind, mask, val, src);
    QLM_EMU_FENCE();
    return r;
}
inline void __syncthreads() { qlm_emu_block_sync_(QLM_EMU_BAR, 0); }
inline int __syncthreads_count(int pred) { return qlm_emu_block_sync_(QLM_EMU_BAR_COUNT, pred); }
inline int __syncthreads_and(int pred) { return qlm_emu_block_sync_(QLM_EMU_BAR_AND, pred); }
inline int __syncthreads_or(int pred) { return qlm_emu_block_sync_(QLM_EMU_BAR_OR, pred); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { qlm_emu_warp_op_(QLM_EMU_SYNCWARP, mask, 0, 0); }
inline unsigned __activemask() { return qlm_emu_activemask(); }
inline void __threadfence() { QLM_EMU_FENCE(); }
inline void __threadfence_block() { QLM_EMU_FENCE(); }
inline void __threadfence_system() { QLM_EMU_FENCE(); }

// Shuffles: CUDA's overloads (not a template, so that argument conversions
// and ambiguities are nvcc's: a struct does not shuffle there either). The
// source lane follows PTX's shfl.sync: xor and down return the caller's own
// value when the source lies past the end of its width-segment, up when it
// lies before the segment's start; idx reads srcLane modulo width.
template <class T> inline T qlm_emu_shfl_(unsigned mask, T v, unsigned src) {
    uint64_t in = 0, out;
    memcpy(&in, &v, sizeof(T));
    out = qlm_emu_warp_op_(QLM_EMU_SHFL, mask, in, src);
    T r;
    memcpy(&r, &out, sizeof(T));
    return r;
}

inline unsigned qlm_emu_src_idx(int src_lane, int width) {
    const unsigned lane = qlm_emu_cur()->lane, w = qlm_emu_width(width);
    return (lane & ~(w - 1)) | ((unsigned)src_lane & (w - 1));
}

inline unsigned qlm_emu_src_xor(int lane_mask, int width) {
    const unsigned lane = qlm_emu_cur()->lane, w = qlm_emu_width(width);
    const unsigned j = lane ^ ((unsigned)lane_mask & 31u), last = (lane & ~(w - 1)) + w - 1;
    return j <= last ? j : lane;
}

inline unsigned qlm_emu_src_down(unsigned delta, int width) {
    const unsigned lane = qlm_emu_cur()->lane, w = qlm_emu_width(width);
    const unsigned j = lane + (delta & 31u), last = (lane & ~(w - 1)) + w - 1;
    return j <= last ? j : lane;
}

inline unsigned qlm_emu_src_up(unsigned delta, int width) {
    const unsigned lane = qlm_emu_cur()->lane, w = qlm_emu_width(width);
    const int j = (int)lane - (int)(delta & 31u), first = (int)(lane & ~(w - 1));
    return j >= first ? (unsigned)j : lane;
}

#define QLM_EMU_SHUFFLES(T)                                                                          \
    inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {                         \
        return qlm_emu_shfl_(mask, v, qlm_emu_src_idx(src_lane, width));                             \
    }                                                                                                \
    inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {                    \
        return qlm_emu_shfl_(mask, v, qlm_emu_src_xor(lane_mask, width));                            \
    }                                                                                                \
    inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {                  \
        return qlm_emu_shfl_(mask, v, qlm_emu_src_down(delta, width));                               \
    }                                                                                                \
    inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {                    \
        return qlm_emu_shfl_(mask, v, qlm_emu_src_up(delta, width));                                 \
    }
QLM_EMU_SHUFFLES(int)
QLM_EMU_SHUFFLES(unsigned)
QLM_EMU_SHUFFLES(long)
QLM_EMU_SHUFFLES(unsigned long)
QLM_EMU_SHUFFLES(long long)
QLM_EMU_SHUFFLES(unsigned long long)
QLM_EMU_SHUFFLES(float)
QLM_EMU_SHUFFLES(double)
#undef QLM_EMU_SHUFFLES

inline unsigned __ballot_sync(unsigned mask, int pred) {
    return (unsigned)qlm_emu_warp_op_(QLM_EMU_VOTE, mask, pred != 0, 0);
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) {
    const uint64_t r = qlm_emu_warp_op_(QLM_EMU_VOTE, mask, pred != 0, 0);
    return (uint32_t)r == (uint32_t)(r >> 32);
}

// ---------------------------------------------------------------------------
// Atomics: threads run one at a time and switch only at sync points, so a
// plain read-modify-write is atomic. They return the old value.
// ---------------------------------------------------------------------------
template <class T> inline T qlm_emu_rmw_add(T *p, T v) { T old = *p; *p = (T)(old + v); return old; }
inline float atomicAdd(float *p, float v) { return qlm_emu_rmw_add(p, v); }
inline double atomicAdd(double *p, double v) { return qlm_emu_rmw_add(p, v); }
inline int atomicAdd(int *p, int v) { return (int)qlm_emu_rmw_add((unsigned *)p, (unsigned)v); } // wraps like the GPU
inline unsigned atomicAdd(unsigned *p, unsigned v) { return qlm_emu_rmw_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) { return qlm_emu_rmw_add(p, v); }
inline int atomicSub(int *p, int v) { return (int)qlm_emu_rmw_add((unsigned *)p, 0u - (unsigned)v); }
inline unsigned atomicSub(unsigned *p, unsigned v) { return qlm_emu_rmw_add(p, 0u - v); }
template <class T> inline T qlm_emu_rmw_max(T *p, T v) { T old = *p; if (v > old) *p = v; return old; }
template <class T> inline T qlm_emu_rmw_min(T *p, T v) { T old = *p; if (v < old) *p = v; return old; }
inline int atomicMax(int *p, int v) { return qlm_emu_rmw_max(p, v); }
inline unsigned atomicMax(unsigned *p, unsigned v) { return qlm_emu_rmw_max(p, v); }
inline long long atomicMax(long long *p, long long v) { return qlm_emu_rmw_max(p, v); }
inline unsigned long long atomicMax(unsigned long long *p, unsigned long long v) { return qlm_emu_rmw_max(p, v); }
inline int atomicMin(int *p, int v) { return qlm_emu_rmw_min(p, v); }
inline unsigned atomicMin(unsigned *p, unsigned v) { return qlm_emu_rmw_min(p, v); }
inline long long atomicMin(long long *p, long long v) { return qlm_emu_rmw_min(p, v); }
inline unsigned long long atomicMin(unsigned long long *p, unsigned long long v) { return qlm_emu_rmw_min(p, v); }
template <class T> inline T qlm_emu_rmw_exch(T *p, T v) { T old = *p; *p = v; return old; }
inline int atomicExch(int *p, int v) { return qlm_emu_rmw_exch(p, v); }
inline unsigned atomicExch(unsigned *p, unsigned v) { return qlm_emu_rmw_exch(p, v); }
inline unsigned long long atomicExch(unsigned long long *p, unsigned long long v) { return qlm_emu_rmw_exch(p, v); }
inline float atomicExch(float *p, float v) { return qlm_emu_rmw_exch(p, v); }
template <class T> inline T qlm_emu_rmw_cas(T *p, T cmp, T v) { T old = *p; if (old == cmp) *p = v; return old; }
inline int atomicCAS(int *p, int cmp, int v) { return qlm_emu_rmw_cas(p, cmp, v); }
inline unsigned atomicCAS(unsigned *p, unsigned cmp, unsigned v) { return qlm_emu_rmw_cas(p, cmp, v); }
inline unsigned long long atomicCAS(unsigned long long *p, unsigned long long cmp, unsigned long long v) {
    return qlm_emu_rmw_cas(p, cmp, v);
}
inline unsigned short atomicCAS(unsigned short *p, unsigned short cmp, unsigned short v) {
    return qlm_emu_rmw_cas(p, cmp, v);
}
inline int atomicAnd(int *p, int v) { int old = *p; *p = old & v; return old; }
inline unsigned atomicAnd(unsigned *p, unsigned v) { unsigned old = *p; *p = old & v; return old; }
inline int atomicOr(int *p, int v) { int old = *p; *p = old | v; return old; }
inline unsigned atomicOr(unsigned *p, unsigned v) { unsigned old = *p; *p = old | v; return old; }
inline int atomicXor(int *p, int v) { int old = *p; *p = old ^ v; return old; }
inline unsigned atomicXor(unsigned *p, unsigned v) { unsigned old = *p; *p = old ^ v; return old; }
// CUDA's wrapping increment/decrement: ((old >= v) ? 0 : old + 1), ((old == 0 || old > v) ? v : old - 1)
inline unsigned atomicInc(unsigned *p, unsigned v) { unsigned old = *p; *p = old >= v ? 0 : old + 1; return old; }
inline unsigned atomicDec(unsigned *p, unsigned v) {
    unsigned old = *p;
    *p = (old == 0 || old > v) ? v : old - 1;
    return old;
}

// ---------------------------------------------------------------------------
// Device math and bit helpers the host library lacks
// ---------------------------------------------------------------------------
// glibc's <math.h> declares __expf, __logf... (its internal names) and newer
// ones declare C23's rsqrtf: renaming keeps these definitions clear of them.
#define rsqrtf qlm_emu_rsqrtf
#define rsqrt qlm_emu_rsqrt
#define __expf qlm_emu_expf
#define __exp10f qlm_emu_exp10f
#define __logf qlm_emu_logf
#define __log2f qlm_emu_log2f
#define __powf qlm_emu_powf
#define __sinf qlm_emu_sinf
#define __cosf qlm_emu_cosf
#define __tanf qlm_emu_tanf
inline float qlm_emu_rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double qlm_emu_rsqrt(double x) { return 1.0 / sqrt(x); }
inline float qlm_emu_expf(float x) { return expf(x); }
inline float qlm_emu_exp10f(float x) { return powf(10.0f, x); }
inline float qlm_emu_logf(float x) { return logf(x); }
inline float qlm_emu_log2f(float x) { return log2f(x); }
inline float qlm_emu_powf(float a, float b) { return powf(a, b); }
inline float qlm_emu_sinf(float x) { return sinf(x); }
inline float qlm_emu_cosf(float x) { return cosf(x); }
inline float qlm_emu_tanf(float x) { return tanf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f); } // NaN -> 0, as CUDA's
inline int __float2int_rn(float x) { return (int)nearbyintf(x); } // the default rounding mode: to nearest even
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
template <class T> inline T __ldg(const T *p) { return *p; }

inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline long long __double_as_longlong(double d) { long long i; memcpy(&i, &d, 8); return i; }
inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, 8); return d; }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
}
// The byte selector of PRMT's default mode: result byte i = byte s[i] of {y,x}.
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
    const uint64_t v = (uint64_t)y << 32 | x;
    unsigned r = 0;
    for (int i = 0; i < 4; i++) r |= (unsigned)(v >> (8 * ((s >> (4 * i)) & 7u)) & 0xffu) << (8 * i);
    return r;
}
inline int __dp4a(int a, int b, int c) {
    for (int i = 0; i < 4; i++) c += (int)(int8_t)(a >> 8 * i) * (int)(int8_t)(b >> 8 * i);
    return c;
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
    for (int i = 0; i < 4; i++) c += ((a >> 8 * i) & 0xffu) * ((b >> 8 * i) & 0xffu);
    return c;
}

// CUDA's global min/max overloads (mixed signed/unsigned ints compare as
// unsigned, as CUDA's do). Non-templates, so they win over std::min/max
// where a `using namespace std` brings those in.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
inline unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
inline unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
inline unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

// ---------------------------------------------------------------------------
// Runtime API (host). Numbering follows the toolkit's headers.
// ---------------------------------------------------------------------------
typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorInvalidDeviceFunction = 98,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorIllegalState = 401,
    cudaErrorNotReady = 600,
    cudaErrorNotSupported = 801,
    cudaErrorStreamCaptureUnsupported = 900,
    cudaErrorStreamCaptureInvalidated = 901,
    cudaErrorStreamCaptureImplicit = 906,
} cudaError_t;

// library_types.h, which the real cuda_runtime.h includes too
typedef enum cudaDataType_t {
    CUDA_R_32F = 0,
    CUDA_R_64F = 1,
    CUDA_R_16F = 2,
    CUDA_R_8I = 3,
    CUDA_R_32I = 10,
    CUDA_R_16BF = 14,
} cudaDataType_t;
typedef cudaDataType_t cudaDataType;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr {
    cudaDevAttrMaxThreadsPerBlock = 1,
    cudaDevAttrMaxBlockDimX = 2,
    cudaDevAttrMaxGridDimX = 5,
    cudaDevAttrMaxSharedMemoryPerBlock = 8,
    cudaDevAttrWarpSize = 10,
    cudaDevAttrClockRate = 13,
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrMemoryClockRate = 36,
    cudaDevAttrGlobalMemoryBusWidth = 37,
    cudaDevAttrL2CacheSize = 38,
    cudaDevAttrComputeCapabilityMajor = 75,
    cudaDevAttrComputeCapabilityMinor = 76,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

enum cudaFuncAttribute {
    cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
    cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

enum cudaStreamCaptureMode {
    cudaStreamCaptureModeGlobal = 0,
    cudaStreamCaptureModeThreadLocal = 1,
    cudaStreamCaptureModeRelaxed = 2,
};

enum cudaStreamCaptureStatus {
    cudaStreamCaptureStatusNone = 0,
    cudaStreamCaptureStatusActive = 1,
    cudaStreamCaptureStatusInvalidated = 2,
};

// The toolkit's cudaDeviceProp, cut to the fields the emulator fills. CUDA 13
// dropped clockRate and memoryClockRate from it (use cudaDeviceGetAttribute),
// so they are left out here too: code using them would not build with nvcc.
struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    size_t sharedMemPerBlock;
    size_t sharedMemPerBlockOptin;
    size_t sharedMemPerMultiprocessor;
    size_t totalConstMem;
    int regsPerBlock;
    int warpSize;
    int maxThreadsPerBlock;
    int maxThreadsDim[3];
    int maxGridSize[3];
    int maxThreadsPerMultiProcessor;
    int major, minor;
    int multiProcessorCount;
    int l2CacheSize;
    int memoryBusWidth;
    int concurrentKernels;
    int unifiedAddressing;
};

typedef struct qlm_emu_stream *cudaStream_t;
typedef struct qlm_emu_event *cudaEvent_t;
typedef struct qlm_emu_graph *cudaGraph_t;
typedef struct qlm_emu_graph_exec *cudaGraphExec_t;
typedef struct qlm_emu_graph_node *cudaGraphNode_t;

#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaStreamPerThread ((cudaStream_t)0x2)
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00
#define cudaHostAllocPortable 0x01
#define cudaHostAllocMapped 0x02
#define cudaHostAllocWriteCombined 0x04

const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaDeviceReset(void);
cudaError_t cudaDriverGetVersion(int *version);
cudaError_t cudaRuntimeGetVersion(int *version);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);

cudaError_t cudaMalloc(void **p, size_t n);
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t n);
cudaError_t cudaHostAlloc(void **p, size_t n, unsigned flags);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaHostGetDevicePointer(void **dev, void *host, unsigned flags);
template <class T> inline cudaError_t cudaMalloc(T **p, size_t n) { return cudaMalloc((void **)(void *)p, n); }
template <class T> inline cudaError_t cudaMallocHost(T **p, size_t n) { return cudaMallocHost((void **)(void *)p, n); }
template <class T> inline cudaError_t cudaHostAlloc(T **p, size_t n, unsigned flags) {
    return cudaHostAlloc((void **)(void *)p, n, flags);
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemset(void *p, int value, size_t n);
cudaError_t cudaMemsetAsync(void *p, int value, size_t n, cudaStream_t stream = 0);
// __constant__/__device__ variables are plain globals here.
cudaError_t qlm_emu_symbol_copy(void *dst, const void *src, size_t n, cudaStream_t stream, bool async);
template <class T>
inline cudaError_t cudaMemcpyToSymbol(const T &symbol, const void *src, size_t n, size_t offset = 0,
                                      cudaMemcpyKind kind = cudaMemcpyHostToDevice) {
    (void)kind;
    if (offset > sizeof(T) || n > sizeof(T) - offset) return qlm_emu_symbol_copy(nullptr, src, n, 0, false);
    return qlm_emu_symbol_copy((char *)&symbol + offset, src, n, 0, false);
}
template <class T>
inline cudaError_t cudaMemcpyToSymbolAsync(const T &symbol, const void *src, size_t n, size_t offset = 0,
                                           cudaMemcpyKind kind = cudaMemcpyHostToDevice, cudaStream_t stream = 0) {
    (void)kind;
    if (offset > sizeof(T) || n > sizeof(T) - offset) return qlm_emu_symbol_copy(nullptr, src, n, stream, true);
    return qlm_emu_symbol_copy((char *)&symbol + offset, src, n, stream, true);
}
template <class T>
inline cudaError_t cudaMemcpyFromSymbol(void *dst, const T &symbol, size_t n, size_t offset = 0,
                                        cudaMemcpyKind kind = cudaMemcpyDeviceToHost) {
    (void)kind;
    if (offset > sizeof(T) || n > sizeof(T) - offset) return qlm_emu_symbol_copy(dst, nullptr, n, 0, false);
    return qlm_emu_symbol_copy(dst, (const char *)&symbol + offset, n, 0, false);
}

cudaError_t cudaStreamCreate(cudaStream_t *s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamQuery(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);

cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t e);

cudaError_t qlm_emu_func_set_attribute(const void *func, cudaFuncAttribute attr, int value);
template <class T> inline cudaError_t cudaFuncSetAttribute(T *func, cudaFuncAttribute attr, int value) {
    return qlm_emu_func_set_attribute(reinterpret_cast<const void *>(func), attr, value);
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
// Only the count: with nodes == NULL, *count is the number of nodes.
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t *nodes, size_t *count);

// ---------------------------------------------------------------------------
// The emulator's own entry points (QLM_LAUNCH, QLM_DYN_SHARED, cublas.cpp)
// ---------------------------------------------------------------------------
// Runs `body` as grid x block threads now, or records it while `stream` is
// being captured. A bad configuration sets the last error and runs nothing.
void qlm_emu_launch(dim3 grid, dim3 block, size_t shmem, cudaStream_t stream, std::function<void()> body);
// This block's dynamic shared memory: max(shmem, 16) zeroed bytes, 16-aligned.
void *qlm_emu_dynamic_shared(void);
// Runs `op` now, or appends it to the graph while `stream` is captured.
cudaError_t qlm_emu_submit(cudaStream_t stream, std::function<void()> op);
// Whether [p, p+n) lies inside one live cudaMalloc (or, with host_ok, pinned host) allocation.
bool qlm_emu_is_device_range(const void *p, size_t n, bool host_ok);
// Context switches so far (the self-test's benchmark).
unsigned long long qlm_emu_switches(void);

#endif
