// attention.cu - causal grouped-query attention (see attention.cuh): a
// split-KV flash-decoding kernel for small batches and a FlashAttention-2
// style kernel for prompts, both with the online softmax (running maximum m,
// running sum l, accumulator rescaled by exp(m_old - m_new)), so that scores
// of any magnitude work: nothing is exponentiated above the running maximum.
//
// Layout of the work inside a warp, shared by both kernels (attend_tile):
//  - K and V of TILE positions are staged in shared memory as floats (F16
//    converted once, exactly, by qlm_h2f) by the whole block;
//  - scores: lane j (or the lane pair j, j + 16 when TILE is 16) computes
//    the whole dot product q . k_j from shared memory, so a tile costs one
//    warp max and one warp sum instead of a reduction per position;
//  - output: lane owns dims lane + 32 i (i < DPL, "dims per lane"), and
//    accumulates p_j v_j over the tile's positions, p_j broadcast through
//    shared memory.
// Tensor cores later: the score loop (QK^T) and the p V loop are the two
// places an mma.sync / wgmma tile (Q tile x K tile^T, P tile x V tile) would
// replace the CUDA-core FMAs; the online-softmax bookkeeping stays.
#include <math.h>

#include "attention.cuh"
#include "common.cuh"

// Full unrolling of the loops over a warp's rows and a lane's dims keeps
// the row states in registers (nvcc leaves a loop with a body this large
// rolled, and indexes st[k] in local memory). Only nvcc gets the pragma:
// the host compiler of the emulated build warns about unknown pragmas.
#if defined(__CUDACC__)
#define QLM_UNROLL _Pragma("unroll")
#else
#define QLM_UNROLL
#endif

namespace {

// Per dims-per-lane constants. Shared memory stays below the 48 KiB a block
// gets without opting in: K (TILE x K_STRIDE) + V (TILE x HD_PAD) + queries.
template <int DPL> struct Shape {
    static constexpr int HD_PAD = QLM_WARP * DPL;    // head dims a warp covers (>= head_dim)
    static constexpr int TILE = DPL == 8 ? 16 : 32;  // KV positions per shared-memory tile
    static constexpr int PARTS = QLM_WARP / TILE;    // lanes that share one position's dot product
    // Row stride of the K tile: scoring lane (j, part) reads k[j * K_STRIDE +
    // part + PARTS * i], i.e. bank (PARTS * j + part + PARTS * i) mod 32,
    // distinct over the warp; an unpadded HD_PAD stride (a multiple of 32)
    // would put every lane in one bank.
    static constexpr int K_STRIDE = HD_PAD + PARTS;
    static constexpr int FLASH_QPW = DPL == 8 ? 2 : 4; // flash kernel: queries per warp
};

constexpr int SPLIT_MAX_WARPS = 8; // split-KV block: one warp per query head of the group, at most 8
constexpr int FLASH_WARPS = 4;     // flash block: 4 warps of FLASH_QPW queries each
constexpr int COMBINE_WARPS = 4;   // combine block: one warp per (token, head)

// The positions token t sees, [lo, hi] (as engine/forward.c's attention()).
struct KvRange {
    int lo, hi;
};

__device__ __forceinline__ KvRange visible_range(int n_past, int t, int window) {
    const int n_kv = n_past + t + 1;
    KvRange r;
    r.lo = window > 0 && n_kv > window ? n_kv - window : 0;
    r.hi = n_kv - 1;
    return r;
}

// A device-side n_past that would read outside the cache.
__device__ __forceinline__ bool n_past_is_bad(int n_past, int n_tok, int n_ctx) {
    return n_past < 0 || (long long)n_past + n_tok > n_ctx;
}

__device__ __forceinline__ float nan_value() { return qlm_u2f(0x7fc00000u); }

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }

// Loads K and V of positions [pos0, pos0 + TILE) of one KV head into
// shared memory, every thread of the block taking part. Positions outside
// [lo, hi] are stored as 0: they may be unwritten cache rows (garbage, NaN),
// and a masked position's p = 0 times a NaN V would still be NaN.
// (Element-wise loads, coalesced across the block; 16-byte vector loads of
// whole row pieces would cut the load instructions 4-8x.)
template <int DPL>
__device__ void load_kv_tile(float *k_sh, float *v_sh, const void *k_cache, const void *v_cache, int kv_is_f16,
                             size_t row_stride, size_t head_off, int pos0, int lo, int hi, int head_dim) {
    typedef Shape<DPL> S;
    const int n = S::TILE * head_dim;
    for (int idx = threadIdx.x; idx < n; idx += blockDim.x) {
        const int j = idx / head_dim, d = idx - j * head_dim, pos = pos0 + j;
        float kv = 0.0f, vv = 0.0f;
        if (pos >= lo && pos <= hi) {
            const size_t at = (size_t)pos * row_stride + head_off + d;
            if (kv_is_f16) {
                kv = qlm_h2f(((const uint16_t *)k_cache)[at]);
                vv = qlm_h2f(((const uint16_t *)v_cache)[at]);
            } else {
                kv = ((const float *)k_cache)[at];
                vv = ((const float *)v_cache)[at];
            }
        }
        k_sh[j * S::K_STRIDE + d] = kv;
        v_sh[j * S::HD_PAD + d] = vv;
    }
}

// Online-softmax state of one query row, held by one warp: m and l are the
// same in every lane, acc[i] is dim lane + 32 i of the unnormalized output.
template <int DPL> struct RowState {
    float m, l, acc[DPL];
};

template <int DPL> __device__ __forceinline__ void row_init(RowState<DPL> &st) {
    st.m = -INFINITY;
    st.l = 0.0f;
    for (int i = 0; i < DPL; i++) st.acc[i] = 0.0f;
}

// One warp: folds the staged tile [pos0, pos0 + TILE) into the row state of
// the query q_sh (head_dim floats in shared memory), counting only positions
// in [lo, hi]; the caller passes only tiles holding at least one of them, so
// the new maximum is finite and exp(s - m_new) never overflows. p_sh: TILE
// floats of this warp's shared memory.
template <int DPL>
__device__ __forceinline__ void attend_tile(RowState<DPL> &st, const float *q_sh, const float *k_sh, const float *v_sh, float *p_sh,
                            int pos0, int lo, int hi, int head_dim, float scale) {
    typedef Shape<DPL> S;
    const int lane = threadIdx.x % QLM_WARP, j = lane % S::TILE, part = lane / S::TILE;
    // Scores. (Tensor cores: an mma tile of Q rows x K rows^T goes here.)
    const float *k = k_sh + j * S::K_STRIDE;
    float dot = 0.0f;
    for (int d = part; d < head_dim; d += S::PARTS) dot = fmaf(q_sh[d], k[d], dot);
    if (S::PARTS == 2) dot += __shfl_xor_sync(0xffffffffu, dot, QLM_WARP / 2);
    const int pos = pos0 + j;
    const bool visible = part == 0 && pos >= lo && pos <= hi;
    const float s = visible ? dot * scale : -INFINITY;
    // Online softmax: rescale what was summed so far to the new maximum.
    const float m_new = fmaxf(st.m, qlm_warp_max(s));
    const float corr = expf(st.m - m_new); // 0 on the first tile (m = -inf), 1 if the maximum held
    const float p = visible ? expf(s - m_new) : 0.0f;
    st.l = st.l * corr + qlm_warp_sum(p);
    st.m = m_new;
    if (part == 0) p_sh[j] = p;
    __syncwarp();
    // acc = acc * corr + sum_j p_j v_j. (Tensor cores: P tile x V tile.)
    for (int i = 0; i < DPL; i++) {
        const int d = lane + QLM_WARP * i;
        if (d < head_dim) {
            float a = st.acc[i] * corr;
            for (int jj = 0; jj < S::TILE; jj++) a = fmaf(p_sh[jj], v_sh[jj * S::HD_PAD + d], a);
            st.acc[i] = a;
        }
    }
    __syncwarp(); // p_sh is rewritten by the next tile (shuffles order no memory)
}

// One warp stages query row src (head_dim floats, global) into dst (shared).
template <int DPL> __device__ void load_query(float *dst, const float *src, int head_dim) {
    const int lane = threadIdx.x % QLM_WARP;
    for (int i = 0; i < DPL; i++) {
        const int d = lane + QLM_WARP * i;
        if (d < head_dim) dst[d] = src[d];
    }
    __syncwarp();
}

// ---------------------------------------------------------------------------
// Split-KV flash decoding. Grid (n_chunks, n_head_kv, n_tok): a block takes
// the positions of one QLM_CU_ATTN_CHUNK-long chunk that its token sees, for
// every query head of its KV head's group (a warp per head; K and V staged
// once per tile for all of them), and writes per head the partial
// (m, l, unnormalized acc) to partials[((t * n_head + h) * n_chunks + chunk)
// * (head_dim + 2)]. Chunks the token does not see exit at once (the grid
// covers the whole cache: it cannot depend on n_past).
template <int DPL>
__global__ void split_kv_partials(float *partials, const float *q, const void *k_cache, const void *v_cache,
                                  int kv_is_f16, const int32_t *d_n_past, int n_tok, int n_ctx, int n_head,
                                  int n_head_kv, int head_dim, float scale, int window, int n_chunks) {
    typedef Shape<DPL> S;
    __shared__ float q_sh[SPLIT_MAX_WARPS * S::HD_PAD];
    __shared__ float k_sh[S::TILE * S::K_STRIDE];
    __shared__ float v_sh[S::TILE * S::HD_PAD];
    __shared__ float p_sh[SPLIT_MAX_WARPS * S::TILE];
    const int chunk = blockIdx.x, kvh = blockIdx.y, t = blockIdx.z;
    const int n_past = *d_n_past;
    if (n_past_is_bad(n_past, n_tok, n_ctx)) return; // the combine writes NaN
    const KvRange r = visible_range(n_past, t, window);
    const int lo = imax(r.lo, chunk * QLM_CU_ATTN_CHUNK), hi = imin(r.hi, chunk * QLM_CU_ATTN_CHUNK + QLM_CU_ATTN_CHUNK - 1);
    if (lo > hi) return; // the whole block: no thread of it reaches a __syncthreads

    const int group = n_head / n_head_kv, warp = threadIdx.x / QLM_WARP, n_warps = blockDim.x / QLM_WARP;
    const int lane = threadIdx.x % QLM_WARP;
    const size_t row_stride = (size_t)n_head_kv * head_dim, head_off = (size_t)kvh * head_dim;
    // Groups larger than the block take several rounds, each re-reading the
    // chunk (from L2): only multi-query models with > 8 heads per KV head.
    for (int g0 = 0; g0 < group; g0 += n_warps) {
        const int g = g0 + warp, h = kvh * group + g;
        const bool active = g < group;
        float *my_q = q_sh + warp * S::HD_PAD;
        if (active) load_query<DPL>(my_q, q + ((size_t)t * n_head + h) * head_dim, head_dim);
        RowState<DPL> st;
        row_init(st);
        // Tiles aligned to TILE (the chunk start is): each holds a visible position.
        for (int pos0 = lo / S::TILE * S::TILE; pos0 <= hi; pos0 += S::TILE) {
            __syncthreads(); // the previous tile is consumed
            load_kv_tile<DPL>(k_sh, v_sh, k_cache, v_cache, kv_is_f16, row_stride, head_off, pos0, lo, hi, head_dim);
            __syncthreads();
            if (active) attend_tile<DPL>(st, my_q, k_sh, v_sh, p_sh + warp * S::TILE, pos0, lo, hi, head_dim, scale);
        }
        if (active) {
            float *dst = partials + (((size_t)t * n_head + h) * n_chunks + chunk) * (head_dim + 2);
            if (lane == 0) dst[0] = st.m, dst[1] = st.l;
            for (int i = 0; i < DPL; i++) {
                const int d = lane + QLM_WARP * i;
                if (d < head_dim) dst[2 + d] = st.acc[i];
            }
        }
    }
}

// Merges the chunks' partials of one (token, head) per warp: with
// M = max m_c, out = sum_c acc_c e^(m_c - M) / sum_c l_c e^(m_c - M).
// It recomputes from n_past which chunks were written.
template <int DPL>
__global__ void split_kv_combine(float *out, const float *partials, const int32_t *d_n_past, int n_tok, int n_ctx,
                                 int n_head, int head_dim, int window, int n_chunks) {
    const int item = blockIdx.x * (blockDim.x / QLM_WARP) + threadIdx.x / QLM_WARP; // t * n_head + h
    const int lane = threadIdx.x % QLM_WARP;
    if (item >= n_tok * n_head) return; // whole warps; no block barrier below
    float *o = out + (size_t)item * head_dim;
    const int n_past = *d_n_past;
    if (n_past_is_bad(n_past, n_tok, n_ctx)) {
        for (int d = lane; d < head_dim; d += QLM_WARP) o[d] = nan_value();
        return;
    }
    const KvRange r = visible_range(n_past, item / n_head, window);
    const int c_first = r.lo / QLM_CU_ATTN_CHUNK, c_last = r.hi / QLM_CU_ATTN_CHUNK;
    const size_t stride = (size_t)head_dim + 2;
    const float *part = partials + (size_t)item * n_chunks * stride;
    float m = -INFINITY;
    for (int c = c_first; c <= c_last; c++) m = fmaxf(m, part[c * stride]);
    float l = 0.0f, acc[DPL];
    for (int i = 0; i < DPL; i++) acc[i] = 0.0f;
    for (int c = c_first; c <= c_last; c++) {
        const float *pc = part + c * stride;
        const float w = expf(pc[0] - m); // the log-sum-exp rescaling: chunk maxima differ
        l = fmaf(pc[1], w, l);
        for (int i = 0; i < DPL; i++) {
            const int d = lane + QLM_WARP * i;
            if (d < head_dim) acc[i] = fmaf(pc[2 + d], w, acc[i]);
        }
    }
    for (int i = 0; i < DPL; i++) {
        const int d = lane + QLM_WARP * i;
        if (d < head_dim) o[d] = acc[i] / l;
    }
}

// ---------------------------------------------------------------------------
// Flash (prefill). Grid (ceil(n_tok / BQ), n_head): a block takes BQ
// consecutive query tokens of one head (FLASH_QPW per warp, rows held in
// registers), walks the KV tiles any of them sees and skips, per row, tiles
// entirely outside the row's causal/window range. Blocks are numbered last
// tile first: later query tiles see more positions, so the longest blocks
// start first.
template <int DPL>
__global__ void flash_prefill(float *out, const float *q, const void *k_cache, const void *v_cache, int kv_is_f16,
                              const int32_t *d_n_past, int n_tok, int n_ctx, int n_head, int n_head_kv, int head_dim,
                              float scale, int window) {
    typedef Shape<DPL> S;
    constexpr int QPW = S::FLASH_QPW, BQ = FLASH_WARPS * QPW;
    __shared__ float q_sh[BQ * S::HD_PAD];
    __shared__ float k_sh[S::TILE * S::K_STRIDE];
    __shared__ float v_sh[S::TILE * S::HD_PAD];
    __shared__ float p_sh[FLASH_WARPS * S::TILE];
    const int t0 = (gridDim.x - 1 - blockIdx.x) * BQ, h = blockIdx.y;
    const int t_end = imin(t0 + BQ, n_tok), kvh = h / (n_head / n_head_kv);
    const int warp = threadIdx.x / QLM_WARP, lane = threadIdx.x % QLM_WARP;
    const size_t q_stride = (size_t)n_head * head_dim; // between tokens, in q and out
    const int n_past = *d_n_past;
    if (n_past_is_bad(n_past, n_tok, n_ctx)) {
        for (int idx = threadIdx.x; idx < (t_end - t0) * head_dim; idx += blockDim.x)
            out[(size_t)(t0 + idx / head_dim) * q_stride + (size_t)h * head_dim + idx % head_dim] = nan_value();
        return;
    }
    for (int idx = threadIdx.x; idx < BQ * head_dim; idx += blockDim.x) {
        const int qi = idx / head_dim, d = idx - qi * head_dim;
        q_sh[qi * S::HD_PAD + d] = t0 + qi < n_tok ? q[(size_t)(t0 + qi) * q_stride + (size_t)h * head_dim + d] : 0.0f;
    }
    // Every position some row of the tile sees (first grows with t).
    const int lo = visible_range(n_past, t0, window).lo, hi = visible_range(n_past, t_end - 1, window).hi;
    const size_t row_stride = (size_t)n_head_kv * head_dim, head_off = (size_t)kvh * head_dim;
    RowState<DPL> st[QPW];
    QLM_UNROLL
    for (int k = 0; k < QPW; k++) row_init(st[k]);
    for (int pos0 = lo / S::TILE * S::TILE; pos0 <= hi; pos0 += S::TILE) { // block-uniform trip count
        __syncthreads(); // the previous tile is consumed (and, the first time, q_sh is written)
        load_kv_tile<DPL>(k_sh, v_sh, k_cache, v_cache, kv_is_f16, row_stride, head_off, pos0, lo, hi, head_dim);
        __syncthreads();
        QLM_UNROLL
        for (int k = 0; k < QPW; k++) {
            const int qi = warp * QPW + k, t = t0 + qi;
            const KvRange r = visible_range(n_past, t, window);
            const bool sees_tile = t < n_tok && pos0 <= r.hi && pos0 + S::TILE - 1 >= r.lo; // else masked: skip
            if (sees_tile)
                attend_tile<DPL>(st[k], q_sh + qi * S::HD_PAD, k_sh, v_sh, p_sh + warp * S::TILE, pos0, r.lo, r.hi,
                                 head_dim, scale);
        }
    }
    QLM_UNROLL
    for (int k = 0; k < QPW; k++) {
        const int t = t0 + warp * QPW + k;
        float *o = out + (size_t)t * q_stride + (size_t)h * head_dim;
        for (int i = 0; i < DPL; i++) {
            const int d = lane + QLM_WARP * i;
            if (t < n_tok && d < head_dim) o[d] = st[k].acc[i] / st[k].l;
        }
    }
}

// ---------------------------------------------------------------------------
// Host side.

// The kernels' instantiation for head_dim: dims per lane rounded up to 1, 2, 4 or 8.
int dims_per_lane(int head_dim) {
    const int need = (head_dim + QLM_WARP - 1) / QLM_WARP;
    return need <= 1 ? 1 : need <= 2 ? 2 : need <= 4 ? 4 : 8;
}

int chunk_count(int n_ctx) { return (n_ctx + QLM_CU_ATTN_CHUNK - 1) / QLM_CU_ATTN_CHUNK; }

bool shape_is_supported(int n_tok, int n_ctx, int n_head, int n_head_kv, int head_dim, int window) {
    return head_dim >= 8 && head_dim <= QLM_CU_ATTN_MAX_HEAD_DIM && head_dim % 8 == 0 && n_head_kv >= 1 &&
           n_head >= n_head_kv && n_head % n_head_kv == 0 && n_head <= 65535 && n_ctx >= 1 &&
           n_ctx <= QLM_CU_ATTN_MAX_CTX && n_tok >= 0 && n_tok <= n_ctx && n_tok <= 65535 && window >= 0 &&
           (long long)n_tok * n_head <= 0x7fffffff; // (token, head) items are ints
}

template <int DPL>
cudaError_t launch_split_kv(cudaStream_t s, float *out, const float *q, const void *k_cache, const void *v_cache,
                            int kv_is_f16, int n_tok, const int32_t *d_n_past, int n_ctx, int n_head, int n_head_kv,
                            int head_dim, float scale, int window, float *partials) {
    const int n_chunks = chunk_count(n_ctx), group = n_head / n_head_kv;
    const int warps = group < SPLIT_MAX_WARPS ? group : SPLIT_MAX_WARPS;
    QLM_LAUNCH(split_kv_partials<DPL>, dim3(n_chunks, n_head_kv, n_tok), dim3(warps * QLM_WARP), 0, s, partials, q,
               k_cache, v_cache, kv_is_f16, d_n_past, n_tok, n_ctx, n_head, n_head_kv, head_dim, scale, window,
               n_chunks);
    const int items = n_tok * n_head;
    QLM_LAUNCH(split_kv_combine<DPL>, dim3((items + COMBINE_WARPS - 1) / COMBINE_WARPS), dim3(COMBINE_WARPS * QLM_WARP),
               0, s, out, partials, d_n_past, n_tok, n_ctx, n_head, head_dim, window, n_chunks);
    return cudaGetLastError();
}

template <int DPL>
cudaError_t launch_flash(cudaStream_t s, float *out, const float *q, const void *k_cache, const void *v_cache,
                         int kv_is_f16, int n_tok, const int32_t *d_n_past, int n_ctx, int n_head, int n_head_kv,
                         int head_dim, float scale, int window) {
    constexpr int BQ = FLASH_WARPS * Shape<DPL>::FLASH_QPW;
    QLM_LAUNCH(flash_prefill<DPL>, dim3((n_tok + BQ - 1) / BQ, n_head), dim3(FLASH_WARPS * QLM_WARP), 0, s, out, q,
               k_cache, v_cache, kv_is_f16, d_n_past, n_tok, n_ctx, n_head, n_head_kv, head_dim, scale, window);
    return cudaGetLastError();
}

template <int DPL>
cudaError_t launch(bool split, cudaStream_t s, float *out, const float *q, const void *k_cache, const void *v_cache,
                   int kv_is_f16, int n_tok, const int32_t *d_n_past, int n_ctx, int n_head, int n_head_kv,
                   int head_dim, float scale, int window, void *scratch) {
    if (split)
        return launch_split_kv<DPL>(s, out, q, k_cache, v_cache, kv_is_f16, n_tok, d_n_past, n_ctx, n_head,
                                    n_head_kv, head_dim, scale, window, (float *)scratch);
    return launch_flash<DPL>(s, out, q, k_cache, v_cache, kv_is_f16, n_tok, d_n_past, n_ctx, n_head, n_head_kv,
                             head_dim, scale, window);
}

} // namespace

size_t qlm_cu_attention_split_scratch_size(int n_tok, int n_head, int head_dim, int n_ctx) {
    if (!shape_is_supported(n_tok, n_ctx, n_head, 1, head_dim, 0)) return 0;
    return (size_t)n_tok * n_head * chunk_count(n_ctx) * (head_dim + 2) * sizeof(float);
}

size_t qlm_cu_attention_scratch_size(int n_tok_max, int n_head, int head_dim, int n_ctx) {
    const int n = n_tok_max < QLM_CU_ATTN_SPLIT_MAX_TOK ? n_tok_max : QLM_CU_ATTN_SPLIT_MAX_TOK;
    return qlm_cu_attention_split_scratch_size(n, n_head, head_dim, n_ctx);
}

cudaError_t qlm_cu_attention_with(qlm_cu_attn_kernel kernel, cudaStream_t s, float *out, const float *q,
                                  const void *k_cache, const void *v_cache, int kv_is_f16, int n_tok,
                                  const int32_t *d_n_past, int n_ctx, int n_head, int n_head_kv, int head_dim,
                                  float scale, int window, void *scratch) {
    if (!shape_is_supported(n_tok, n_ctx, n_head, n_head_kv, head_dim, window) || !out || !q || !k_cache ||
        !v_cache || !d_n_past)
        return cudaErrorInvalidValue;
    if (n_tok == 0) return cudaSuccess;
    const bool split = kernel == QLM_CU_ATTN_SPLIT_KV || (kernel == QLM_CU_ATTN_AUTO && n_tok <= QLM_CU_ATTN_SPLIT_MAX_TOK);
    if (split && !scratch) return cudaErrorInvalidValue;
    switch (dims_per_lane(head_dim)) {
    case 1:
        return launch<1>(split, s, out, q, k_cache, v_cache, kv_is_f16, n_tok, d_n_past, n_ctx, n_head, n_head_kv,
                         head_dim, scale, window, scratch);
    case 2:
        return launch<2>(split, s, out, q, k_cache, v_cache, kv_is_f16, n_tok, d_n_past, n_ctx, n_head, n_head_kv,
                         head_dim, scale, window, scratch);
    case 4:
        return launch<4>(split, s, out, q, k_cache, v_cache, kv_is_f16, n_tok, d_n_past, n_ctx, n_head, n_head_kv,
                         head_dim, scale, window, scratch);
    default:
        return launch<8>(split, s, out, q, k_cache, v_cache, kv_is_f16, n_tok, d_n_past, n_ctx, n_head, n_head_kv,
                         head_dim, scale, window, scratch);
    }
}

cudaError_t qlm_cu_attention(cudaStream_t s, float *out, const float *q, const void *k_cache, const void *v_cache,
                             int kv_is_f16, int n_tok, const int32_t *d_n_past, int n_ctx, int n_head, int n_head_kv,
                             int head_dim, float scale, int window, void *scratch) {
    return qlm_cu_attention_with(QLM_CU_ATTN_AUTO, s, out, q, k_cache, v_cache, kv_is_f16, n_tok, d_n_past, n_ctx,
                                 n_head, n_head_kv, head_dim, scale, window, scratch);
}
