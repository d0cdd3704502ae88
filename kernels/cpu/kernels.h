/* kernels.h - internals shared by the CPU kernel tables (not for the engine):
 * the matmul driver every ISA table uses, and the reference ops that SIMD
 * tables reuse where they have no faster version yet. */
#ifndef QLM_CPU_KERNELS_H
#define QLM_CPU_KERNELS_H

#include "ops.h"
#include "pack.h"

/* For kernel bodies that are instantiated per tile shape: inlined into each
 * caller so the shape is a constant there and the accumulators stay in
 * registers (GCC/Clang otherwise clone one generic copy for large bodies). */
#if defined(__GNUC__) || defined(__clang__)
#define QLM_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define QLM_ALWAYS_INLINE inline
#endif
/* The per-token loop of a tile: unrolled, so each token's accumulator is a
 * register of its own (a pragma other compilers ignore). */
/* The token loop of an R16 kernel over its tile function, called as
 * TILE(kind, T, w, nb, act, act_stride, y, ldy): tiles of 8 tokens, then
 * one call for the 1-7 remaining, T a constant at each call site so a
 * QLM_ALWAYS_INLINE tile specializes and keeps its accumulators in
 * registers. */
#define QLM_R16_TOKEN_TILES(TILE, kind, w, nb, act, act_stride, n_tok, y, ldy)                               \
    do {                                                                                                     \
        const char *ac_ = (const char *)(act);                                                               \
        int64_t t_ = 0;                                                                                      \
        for (; t_ + 8 <= (n_tok); t_ += 8) TILE(kind, 8, w, nb, ac_ + t_ * (act_stride), act_stride, (y) + t_ * (ldy), ldy); \
        const char *at_ = ac_ + t_ * (act_stride);                                                           \
        float *yt_ = (y) + t_ * (ldy);                                                                       \
        switch ((n_tok) - t_) {                                                                              \
        case 7: TILE(kind, 7, w, nb, at_, act_stride, yt_, ldy); break;                                      \
        case 6: TILE(kind, 6, w, nb, at_, act_stride, yt_, ldy); break;                                      \
        case 5: TILE(kind, 5, w, nb, at_, act_stride, yt_, ldy); break;                                      \
        case 4: TILE(kind, 4, w, nb, at_, act_stride, yt_, ldy); break;                                      \
        case 3: TILE(kind, 3, w, nb, at_, act_stride, yt_, ldy); break;                                      \
        case 2: TILE(kind, 2, w, nb, at_, act_stride, yt_, ldy); break;                                      \
        case 1: TILE(kind, 1, w, nb, at_, act_stride, yt_, ldy); break;                                      \
        default: break;                                                                                      \
        }                                                                                                    \
    } while (0)

#if defined(__GNUC__) || defined(__clang__)
#define QLM_UNROLL_TILE _Pragma("GCC unroll 8")
#else
#define QLM_UNROLL_TILE
#endif

/* Decode kernels streaming packed weights prefetch this far ahead of the
 * block they read. With one token a block costs few instructions per byte,
 * the hardware prefetcher alone keeps too few lines in flight, and a
 * single-thread Q4_K stream read 20 GB/s from DRAM without it, 36 GB/s with
 * it (bench --kernels; 2-9 KiB ahead all within 10%). */
#define QLM_PREFETCH_BYTES 4096
#if defined(__SSE__)
#include <xmmintrin.h>
/* Prefetches the lines of [p, p + bytes) QLM_PREFETCH_BYTES ahead. Always
 * inlined: left a call, GCC finds the function "looping const" (a prefetch
 * is no side effect to it) and deletes every call as dead code, which it
 * did in the R16 kernel files (no prefetcht0 in their objects). */
static QLM_ALWAYS_INLINE void qlm_prefetch_ahead(const void *p, size_t bytes) {
    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch((const char *)p + QLM_PREFETCH_BYTES + off, _MM_HINT_T0);
}
#endif

/* Quantizes n activations (n a multiple of the block size) into dst. */
typedef void (*qlm_quantize_fn)(const float *x, void *dst, int64_t n);

/* One ISA's matmul building blocks. Indexed by qlm_type: dot by the weight
 * type (its activations are the type table's vec_dot_type), quantize by the
 * activation type. NULL entries fall back to the type table's reference. */
/* s[k] = dot(row k, y) for the 4 weight rows at x + k * row_bytes. Each row's
 * result must equal what the 1-row dot gives (same operations in the same
 * order): which rows get blocked depends on the row count, and results must
 * not. Blocking 4 rows reuses each activation load 4 times and keeps 4
 * independent weight streams in flight. */
typedef void (*qlm_vec_dot4_fn)(int64_t n, float *s, const void *x, size_t row_bytes, const void *y);

/* y[t * ldy + k] = dot(row k, token t) for 4 weight rows (row_bytes apart)
 * and a fixed number of activation rows (x_bytes apart; 2 for gemm4x2, 4
 * for gemm4x4): prompt processing with row-major weights; each (row, token)
 * by exactly the 1-row dot's operations. */
typedef void (*qlm_gemm4rows_fn)(int64_t n, float *y, int64_t ldy, const void *w, size_t row_bytes, const void *x,
                               size_t x_bytes);

typedef struct qlm_cpu_kernels {
    qlm_vec_dot_fn dot[QLM_TYPE_COUNT];
    qlm_vec_dot4_fn dot4[QLM_TYPE_COUNT]; /* optional */
    qlm_gemm4rows_fn gemm4x2[QLM_TYPE_COUNT]; /* optional */
    qlm_gemm4rows_fn gemm4x4[QLM_TYPE_COUNT]; /* optional: the same for 4 tokens */
    /* optional: the row kernel for single-token calls (decode), replacing
     * dot/dot4/gemm4x2 there. Streaming one token's weights is memory-bound,
     * and on the AVX-512 machines measured 256-bit float code streams F16/BF16
     * rows faster than 512-bit code (15-19 vs 12-13 tok/s on a 1.1B F16
     * model), while prompt processing gains from 512-bit FMAs. Within a call
     * every row uses one kernel, so results never depend on row blocking; a
     * token's logits can differ in the last bits between decode and batched
     * prompt processing for these types. */
    qlm_vec_dot_fn dot_decode[QLM_TYPE_COUNT];
    qlm_quantize_fn quantize[QLM_TYPE_COUNT];
    /* packed (R16) weights: one 16-row group x n_tok tokens; NULL entries
     * fall back to the scalar references in pack.c */
    qlm_gemm_r16_fn gemm_r16[QLM_TYPE_COUNT];
    qlm_act8_quantize_fn quantize_act8; /* NULL: qlm_act8_quantize_ref */
} qlm_cpu_kernels;

/* y (n_tok, rows) = x (n_tok, n_in) @ W^T: activations converted once, then
 * rows split statically over threads (each row summed by one thread in a
 * fixed order, so the thread count never changes a result). */
void qlm_cpu_matmul(const qlm_cpu_kernels *k, const qlm_tensor *w, const float *x, int64_t n_tok, float *y,
                    void *scratch, int n_threads);
/* n weights of one input x in one parallel region (QKV, gate/up): y[i] =
 * x @ w[i]^T, activations converted once when the weights share a type. */
void qlm_cpu_matmul_n(const qlm_cpu_kernels *k, const qlm_tensor *const *w, float *const *y, int n,
                      const float *x, int64_t n_tok, void *scratch, int n_threads);

/* A table's activation quantizers (quantize_q8_0_SUFFIX, quantize_q8_1_SUFFIX,
 * quantize_act8_SUFFIX) over its block quantizer BLOCK(x, qs, &sum), which
 * returns the unrounded float scale like the reference's q8_quantize: Q8_0
 * stores it rounded to F16, Q8_1 adds s = d * sum(q) (unrounded d, as
 * ggml), act8 keeps both as floats plus the integer sum. */
#define QLM_CPU_Q8_QUANTIZERS(SUFFIX, BLOCK)                                                                 \
    static void quantize_q8_0_##SUFFIX(const float *x, void *dst, int64_t n) {                               \
        qlm_block_q8_0 *b = dst;                                                                             \
        for (int64_t i = 0; i < n / QLM_QK8_0; i++) {                                                        \
            int sum;                                                                                         \
            b[i].d = qlm_fp32_to_fp16(BLOCK(x + i * QLM_QK8_0, b[i].qs, &sum));                              \
        }                                                                                                    \
    }                                                                                                        \
    static void quantize_q8_1_##SUFFIX(const float *x, void *dst, int64_t n) {                               \
        qlm_block_q8_1 *b = dst;                                                                             \
        for (int64_t i = 0; i < n / QLM_QK8_1; i++) {                                                        \
            int sum;                                                                                         \
            const float d = BLOCK(x + i * QLM_QK8_1, b[i].qs, &sum);                                         \
            b[i].d = qlm_fp32_to_fp16(d);                                                                    \
            b[i].s = qlm_fp32_to_fp16((float)sum * d);                                                       \
        }                                                                                                    \
    }                                                                                                        \
    static void quantize_act8_##SUFFIX(const float *x, void *dst, int64_t n) {                               \
        for (int64_t i = 0; i < n / 32; i++) {                                                               \
            int sum;                                                                                         \
            const float d = BLOCK(x + i * 32, (int8_t *)dst + i * 32, &sum);                                 \
            qlm_act8_set_block(dst, n, i, d, sum);                                                           \
        }                                                                                                    \
    }

/* A table's matmul and matmul_n entry points: the shared driver over its
 * kernels (matmul_SUFFIX, matmul_n_SUFFIX). */
#define QLM_CPU_MATMUL_ENTRY_POINTS(SUFFIX, KERNELS)                                                         \
    static void matmul_##SUFFIX(const qlm_tensor *w, const float *x, int64_t n_tok, float *y, void *scratch, \
                                int n_threads) {                                                             \
        qlm_cpu_matmul(&(KERNELS), w, x, n_tok, y, scratch, n_threads);                                      \
    }                                                                                                        \
    static void matmul_n_##SUFFIX(const qlm_tensor *const *w, float *const *y, int n, const float *x,        \
                                  int64_t n_tok, void *scratch, int n_threads) {                             \
        qlm_cpu_matmul_n(&(KERNELS), w, y, n, x, n_tok, scratch, n_threads);                                 \
    }

/* The AVX-512 table (avx512.c), which the AMX table (amx.c) extends, and
 * its act8 quantizer. */
extern const qlm_ops qlm_ops_avx512;
void qlm_quantize_act8_avx512(const float *x, void *dst, int64_t n);

void qlm_quantize_bf16_avx2(const float *x, void *dst, int64_t n);
void qlm_dot_f32_avx2(int64_t n, float *s, const void *x, const void *y);
void qlm_dot_f16_avx2(int64_t n, float *s, const void *x, const void *y);
void qlm_dot_bf16_avx2(int64_t n, float *s, const void *x, const void *y);

void qlm_cpu_rmsnorm_ref(float *out, const float *x, const float *w, int64_t n, float eps);
float qlm_cpu_rmsnorm_scale(double lane[8], int64_t n, float eps);
void qlm_cpu_rmsnorm_avx2(float *out, const float *x, const float *w, int64_t n, float eps);
void qlm_cpu_rmsnorm_avx512(float *out, const float *x, const float *w, int64_t n, float eps);
void qlm_cpu_rope_ref(float *x, int n_head, int head_dim, int n_rot, const float *theta, float pos,
                      qlm_rope_style style);
void qlm_cpu_attention_head_ref(float *out, const float *q, const void *k, const void *v, qlm_type kv_type,
                                int64_t n_kv, int64_t stride, int head_dim, float scale, float *scratch);
/* F16-cache attention with F16C (avx2.c): shared by the AVX2 and AVX-512 tables. */
void qlm_cpu_attention_head_avx2(float *out, const float *q, const void *k, const void *v, qlm_type kv_type,
                                 int64_t n_kv, int64_t stride, int head_dim, float scale, float *scratch);
/* R16 kernels of the AVX2 and AVX-512 tables (avx2_r16.c, avx512_r16.c). */
void qlm_gemm_r16_q4_0_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_q4_1_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_q8_0_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_q4_0_avx2(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                            float *y, int64_t ldy);
void qlm_gemm_r16_q4_1_avx2(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                            float *y, int64_t ldy);
void qlm_gemm_r16_q8_0_avx2(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                            float *y, int64_t ldy);
void qlm_cpu_to_f16_ref(uint16_t *dst, const float *src, int64_t n);
void qlm_cpu_round_f16_ref(float *x, int64_t n);
/* F16C conversions (avx2.c), shared by the AVX2 and AVX-512 tables. */
void qlm_cpu_to_f16_avx2(uint16_t *dst, const float *src, int64_t n);
void qlm_cpu_round_f16_avx2(float *x, int64_t n);
void qlm_cpu_swiglu_avx2(float *h, const float *gate, const float *up, int64_t n);
/* attention_heads as a loop over attention_head (tables without a shared-KV
 * kernel). */
void qlm_cpu_attention_heads_ref(float *out, const float *q, int n_heads, const void *k, const void *v,
                                 qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim, float scale,
                                 float *scratch);
void qlm_cpu_attention_heads_avx2(float *out, const float *q, int n_heads, const void *k, const void *v,
                                  qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim, float scale,
                                  float *scratch);
void qlm_cpu_attention_heads_avx512(float *out, const float *q, int n_heads, const void *k, const void *v,
                                    qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim, float scale,
                                    float *scratch);
/* The maximum of s[0..n) as the reference softmax finds it (NaNs skipped). */
float qlm_cpu_max_avx2(const float *s, int64_t n);
void qlm_cpu_softmax_avx2(float *s, int64_t n, int round_f16);
void qlm_cpu_softmax_ref(float *scores, int64_t n, int round_f16);

/* exp(x) in float by one fixed sequence of IEEE operations (kernels/cpu/
 * exp.h documents it), so the scalar reference and every SIMD table that
 * replays the sequence lane-wise get the same bits. */
float qlm_expf_ref(float x);
void qlm_cpu_swiglu_ref(float *h, const float *gate, const float *up, int64_t n);
/* GELU-tanh gating (ref.c) and its AVX2 replay (avx2.c); constants in exp.h. */
void qlm_cpu_geglu_ref(float *h, const float *gate, const float *up, int64_t n);
void qlm_cpu_geglu_avx2(float *h, const float *gate, const float *up, int64_t n);

/* QLM_NEON_FN(f): the NEON kernel f of the build at hand. neon.c (the
 * table) and each neon_<family>.c compile twice: baseline ARMv8.0 (f_neon)
 * and again through neon_dotprod*.c with the dot product (f_neon_dot). */
#ifdef __ARM_FEATURE_DOTPROD
#define QLM_NEON_FN(f) f##_neon_dot
#else
#define QLM_NEON_FN(f) f##_neon
#endif

/* K-quant dots Q4_K, Q5_K, Q6_K . Q8_K and the Q8_K activation quantizer
 * (avx2_kquants.c, avx512_kquants.c, neon_kquants.c and its +dotprod build
 * neon_dotprod_kquants.c), bit-identical to engine/quant_ref_kquants.c.
 * No dot4: four interleaved rows ran no faster from cache and 2-5x slower
 * streaming from memory than four 1-row dots (rows of ~1 KB: four short
 * streams defeat the prefetcher where one long one does not). */
void qlm_dot_q4_k_avx2(int64_t n, float *s, const void *x, const void *y);
void qlm_dot_q5_k_avx2(int64_t n, float *s, const void *x, const void *y);
void qlm_dot_q6_k_avx2(int64_t n, float *s, const void *x, const void *y);
void qlm_quantize_q8_k_avx2(const float *x, void *dst, int64_t n);
void qlm_quantize_q8_k_avx512(const float *x, void *dst, int64_t n);
void qlm_dot_q4_k_avx512(int64_t n, float *s, const void *x, const void *y);
void qlm_dot_q5_k_avx512(int64_t n, float *s, const void *x, const void *y);
void qlm_dot_q6_k_avx512(int64_t n, float *s, const void *x, const void *y);
/* Prompt tiles (4 rows x 2 or 4 tokens, each weight block decoded once per
 * tile), bit-identical to the row kernels. */
void qlm_gemm4x2_q4_k_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t row_bytes, const void *x,
                             size_t x_bytes);
void qlm_gemm4x4_q4_k_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t row_bytes, const void *x,
                             size_t x_bytes);
void qlm_gemm4x2_q5_k_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t row_bytes, const void *x,
                             size_t x_bytes);
void qlm_gemm4x4_q5_k_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t row_bytes, const void *x,
                             size_t x_bytes);
void qlm_gemm4x2_q6_k_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t row_bytes, const void *x,
                             size_t x_bytes);
void qlm_gemm4x4_q6_k_avx512(int64_t n, float *y, int64_t ldy, const void *w, size_t row_bytes, const void *x,
                             size_t x_bytes);
void QLM_NEON_FN(qlm_dot_q4_k)(int64_t n, float *s, const void *x, const void *y);
void QLM_NEON_FN(qlm_dot_q5_k)(int64_t n, float *s, const void *x, const void *y);
void QLM_NEON_FN(qlm_dot_q6_k)(int64_t n, float *s, const void *x, const void *y);
void QLM_NEON_FN(qlm_quantize_q8_k)(const float *x, void *dst, int64_t n);

/* Q5_0, Q5_1 (x Q8_0 / Q8_1), IQ4_NL, MXFP4 (x Q8_0) row kernels:
 * avx2_q5.c, avx2_lut.c, avx512_q5.c, avx512_lut.c, neon_q5.c, neon_lut.c.
 * The NEON files are built twice (neon_dotprod_q5.c, neon_dotprod_lut.c
 * include them with SDOT). */
#define QLM_Q5_KERNELS(SFX)                                                                                  \
    void qlm_dot_q5_0_q8_0_##SFX(int64_t n, float *s, const void *x, const void *y);                        \
    void qlm_dot4_q5_0_q8_0_##SFX(int64_t n, float *s, const void *x, size_t bx, const void *y);            \
    void qlm_dot_q5_1_q8_1_##SFX(int64_t n, float *s, const void *x, const void *y);                        \
    void qlm_dot4_q5_1_q8_1_##SFX(int64_t n, float *s, const void *x, size_t bx, const void *y);            \
    void qlm_dot_iq4_nl_q8_0_##SFX(int64_t n, float *s, const void *x, const void *y);                      \
    void qlm_dot4_iq4_nl_q8_0_##SFX(int64_t n, float *s, const void *x, size_t bx, const void *y);          \
    void qlm_dot_mxfp4_q8_0_##SFX(int64_t n, float *s, const void *x, const void *y);                       \
    void qlm_dot4_mxfp4_q8_0_##SFX(int64_t n, float *s, const void *x, size_t bx, const void *y);
QLM_Q5_KERNELS(avx2)
QLM_Q5_KERNELS(avx512)
QLM_Q5_KERNELS(neon)
QLM_Q5_KERNELS(neon_dot)
/* Q5_0, IQ4_NL and MXFP4 in the R16 layout (avx512_r16.c, avx2_r16.c; the
 * NEON tiles are in neon.c). */
void qlm_gemm_r16_q5_0_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_iq4_nl_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                                float *y, int64_t ldy);
void qlm_gemm_r16_mxfp4_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                               float *y, int64_t ldy);
/* Packed K-quants (avx2_r16_kquants.c, avx512_r16_kquants*.c). */
void qlm_gemm_r16_q4_k_avx2(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok, float *y,
                            int64_t ldy);
void qlm_gemm_r16_q5_k_avx2(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok, float *y,
                            int64_t ldy);
void qlm_gemm_r16_iq4_xs_avx2(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_q4_k_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_q5_k_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_q5_1_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_q6_k_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_iq4_xs_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                                float *y, int64_t ldy);
/* AMX panels of the packed K-quants (amx_kquants.c): 16 tokens at a time
 * through the tiles, the rest through the AVX-512 kernels. */
void qlm_gemm_r16_q4_k_amx(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok, float *y,
                           int64_t ldy);
void qlm_gemm_r16_q5_k_amx(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok, float *y,
                           int64_t ldy);
void qlm_gemm_r16_q6_k_amx(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok, float *y,
                           int64_t ldy);
void qlm_gemm_r16_iq4_xs_amx(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                             float *y, int64_t ldy);
/* AMX-BF16 tiles of packed BF16 (amx_bf16.c; within the float bound of
 * the exact product, not the reference's bits). */
void qlm_gemm_r16_bf16_amx(const void *w, int64_t np, const void *act, size_t act_stride, int64_t n_tok, float *y,
                           int64_t ldy);
/* Packed F32 (x F32), F16 (x F32) and BF16 (x BF16) outer-product tiles
 * (avx512_r16_float.c). */
void qlm_gemm_r16_f32_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                             float *y, int64_t ldy);
void qlm_gemm_r16_f16_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                             float *y, int64_t ldy);
void qlm_gemm_r16_bf16_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
/* Packed Q2_K, Q3_K and TQ2_0 (avx512_r16_kquants_low.c). */
void qlm_gemm_r16_q2_k_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_q3_k_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_tq2_0_avx512(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                               float *y, int64_t ldy);
void qlm_gemm_r16_q5_0_avx2(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                            float *y, int64_t ldy);
void qlm_gemm_r16_iq4_nl_avx2(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy);
void qlm_gemm_r16_mxfp4_avx2(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                             float *y, int64_t ldy);

/* Q2_K, Q3_K, IQ4_XS, TQ1_0, TQ2_0 x Q8_K row kernels, no dot4 (avx2_kquants_low.c,
 * avx512_kquants_low.c, neon_kquants_low.c; neon_dotprod_kquants_low.c
 * builds the NEON file again with SDOT), each bit-identical with the type
 * table's reference. */
#define QLM_KQ_LOW_KERNELS(SFX)                                                                              \
    void qlm_dot_q2_k_q8_k_##SFX(int64_t n, float *s, const void *x, const void *y);                         \
    void qlm_dot_q3_k_q8_k_##SFX(int64_t n, float *s, const void *x, const void *y);                         \
    void qlm_dot_iq4_xs_q8_k_##SFX(int64_t n, float *s, const void *x, const void *y);                       \
    void qlm_dot_tq1_0_q8_k_##SFX(int64_t n, float *s, const void *x, const void *y);                        \
    void qlm_dot_tq2_0_q8_k_##SFX(int64_t n, float *s, const void *x, const void *y);
QLM_KQ_LOW_KERNELS(avx2)
QLM_KQ_LOW_KERNELS(avx512)
QLM_KQ_LOW_KERNELS(neon)
QLM_KQ_LOW_KERNELS(neon_dot)

#endif
