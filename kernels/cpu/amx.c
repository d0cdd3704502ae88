/* amx.c - the AMX table: the AVX-512 table, with Intel AMX tiles for the
 * prompt matmuls (16 tokens or more) of packed weights: here the 32-value
 * block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, MXFP4) by int8
 * tiles, in amx_kquants.c Q4_K, Q5_K, Q6_K and IQ4_XS, in amx_bf16.c BF16.
 *
 * One TDPBSSD multiplies a 16 x 32 tile of activation bytes (16 tokens, one
 * block each, read in place from their act8 rows) by the block's 32 x 16
 * weights and leaves the 256 exact int32 block dots in a tile. The weights'
 * operand must be in the "VNNI" order, 4 consecutive values of each of the
 * 16 columns per 64-byte row: that is the R16 layout's quant chunk (pack.h),
 * so Q8_0's packed quants are the operand as they are, and the 4-bit and
 * 5-bit formats decode to signed bytes (the AVX-512 tiles' decode, minus
 * its offset) chunk by chunk.
 *
 * Each token's float sum is then built with AVX-512 exactly as the AVX-512
 * tile builds it (acc += (float)isum * (dw * da), then + mw * s), block by
 * block in order, so the results are qlm_gemm_r16_*_ref's bits and do not
 * depend on which tokens went through AMX. The 1-15 tokens left over go
 * through the AVX-512 tile.
 *
 * Per 16 tokens and block this is one tile multiply and ~5 vector
 * instructions a token, against ~20 for the AVX-512 tile (8 vpdpbusd, their
 * broadcasts, the offset): the float scaling, not the dot products, is
 * what remains. */
#include "amx_tiles.h"
#include "avx512_r16_blocks.h"
#include "ops.h"

#define GROUP QLM_AMX_GROUP
#define SLAB 32  /* blocks decoded at a time: 16 KiB of operands, in L1 */

/* Tile registers: two of each role, alternated between consecutive blocks
 * so one block's multiply overlaps the previous one's scaling. */
#define TC0 0
#define TC1 1
#define TA0 2
#define TA1 3
#define TB0 4
#define TB1 5

/* C: 16 tokens x 16 int32 row dots; A: 16 tokens x 32 activation bytes;
 * B: 8 rows of 4 values x 16 weight rows. */
static void configure_tiles(void) {
    static const uint8_t rows[] = {GROUP, GROUP, GROUP, GROUP, 8, 8};
    static const uint16_t colsb[] = {64, 64, 32, 32, 64, 64};
    qlm_amx_configure(6, rows, colsb);
}

/* One slab's weights, ready for the tiles: per block the multiply operand
 * (Q8_0: in the packed weights) and the 16 row scales (and mins). */
typedef struct slab {
    _Alignas(64) int8_t quants[SLAB][8 * 64];
    _Alignas(64) float dw[SLAB][16], mw[SLAB][16];
    const int8_t *operand[SLAB];
} slab;

static QLM_ALWAYS_INLINE void decode_slab(int kind, const uint8_t *w, int64_t n, slab *s) {
    const size_t header = r16_header(kind), block = (header + r16_quants(kind)) * QLM_PACK_ROWS;
    const __m512i offset = _mm512_set1_epi8((char)r16_offset(kind));
    for (int64_t j = 0; j < n; j++, w += block) {
        _mm512_store_ps(s->dw[j], row_scales(kind, w));
        if (kind == KIND_Q4_1 || kind == KIND_Q5_1) _mm512_store_ps(s->mw[j], load_f16x16(w + 32));
        if (kind == KIND_Q8_0) {
            s->operand[j] = (const int8_t *)(w + header * QLM_PACK_ROWS);
            continue;
        }
        __m512i u[8];
        decode(kind, w + header * QLM_PACK_ROWS, u);
        for (int c = 0; c < 8; c++) _mm512_store_si512(s->quants[j] + 64 * c, _mm512_sub_epi8(u[c], offset));
        s->operand[j] = s->quants[j];
    }
}

/* acc[m] += the block dots of token m (one row of the stored tile) scaled
 * as the AVX-512 tile scales them. */
static QLM_ALWAYS_INLINE void scale_block(int kind, const int32_t *dots, const slab *s, int64_t j, int64_t b,
                                          const float *const *da, const float *const *sa, __m512 acc[GROUP]) {
    const __m512 dw = _mm512_load_ps(s->dw[j]);
    for (int m = 0; m < GROUP; m++) {
        const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(da[m][b]));
        const __m512 isum = _mm512_cvtepi32_ps(_mm512_load_si512(dots + 16 * m));
        acc[m] = _mm512_add_ps(acc[m], _mm512_mul_ps(isum, dd));
        if (kind == KIND_Q4_1 || kind == KIND_Q5_1)
            acc[m] = _mm512_add_ps(acc[m], _mm512_mul_ps(_mm512_load_ps(s->mw[j]), _mm512_set1_ps(sa[m][b])));
    }
}

/* One block's dots for 16 tokens into dots: A = their 32 activation bytes
 * (a, rows stride apart), B = the block's operand. */
#define MULTIPLY_BLOCK(TA, TB, TC, a, operand, dots, stride)                                                 \
    do {                                                                                                     \
        _tile_loadd(TA, a, (long)(stride));                                                                  \
        _tile_loadd(TB, operand, 64);                                                                        \
        _tile_zero(TC);                                                                                      \
        _tile_dpbssd(TC, TA, TB);                                                                            \
        _tile_stored(TC, dots, 64);                                                                          \
    } while (0)

/* The 16 tokens at act over the slab's blocks b0 .. b0 + n: sums carried
 * in y from the previous slab (first: from zero). */
static QLM_ALWAYS_INLINE void group_over_slab(int kind, const slab *s, int64_t b0, int64_t n, int64_t nb,
                                              const char *act, size_t stride, float *y, int64_t ldy) {
    _Alignas(64) int32_t dots[2][GROUP * 16];
    const float *da[GROUP], *sa[GROUP];
    __m512 acc[GROUP];
    for (int m = 0; m < GROUP; m++) {
        const qlm_act8 a = qlm_act8_view(act + m * stride, nb * 32);
        da[m] = a.d;
        sa[m] = a.s;
        acc[m] = b0 ? _mm512_loadu_ps(y + m * ldy) : _mm512_setzero_ps();
    }
    int64_t j = 0;
    for (; j + 2 <= n; j += 2) {
        MULTIPLY_BLOCK(TA0, TB0, TC0, act + (b0 + j) * 32, s->operand[j], dots[0], stride);
        MULTIPLY_BLOCK(TA1, TB1, TC1, act + (b0 + j + 1) * 32, s->operand[j + 1], dots[1], stride);
        scale_block(kind, dots[0], s, j, b0 + j, da, sa, acc);
        scale_block(kind, dots[1], s, j + 1, b0 + j + 1, da, sa, acc);
    }
    if (j < n) {
        MULTIPLY_BLOCK(TA0, TB0, TC0, act + (b0 + j) * 32, s->operand[j], dots[0], stride);
        scale_block(kind, dots[0], s, j, b0 + j, da, sa, acc);
    }
    for (int m = 0; m < GROUP; m++) _mm512_storeu_ps(y + m * ldy, acc[m]);
}

/* n_tok (whole groups of 16) tokens through the tiles, slab by slab (each
 * slab's weights decoded once for all of them). */
static QLM_ALWAYS_INLINE void gemm(int kind, const void *w, int64_t nb, const void *act, size_t stride,
                                   int64_t n_tok, float *y, int64_t ldy) {
    const size_t block = (r16_header(kind) + r16_quants(kind)) * QLM_PACK_ROWS;
    slab s;
    configure_tiles();
    for (int64_t b0 = 0; b0 < nb; b0 += SLAB) {
        const int64_t n = nb - b0 < SLAB ? nb - b0 : SLAB;
        decode_slab(kind, (const uint8_t *)w + b0 * block, n, &s);
        for (int64_t t = 0; t < n_tok; t += GROUP)
            group_over_slab(kind, &s, b0, n, nb, (const char *)act + t * stride, stride, y + t * ldy, ldy);
    }
    _tile_release(); /* the OS then need not save 8 KiB of tile data */
}

QLM_AMX_ENTRY_POINT(static, gemm_r16_q4_0_amx, gemm, KIND_Q4_0, qlm_gemm_r16_q4_0_avx512)
QLM_AMX_ENTRY_POINT(static, gemm_r16_q4_1_amx, gemm, KIND_Q4_1, qlm_gemm_r16_q4_1_avx512)
QLM_AMX_ENTRY_POINT(static, gemm_r16_q5_0_amx, gemm, KIND_Q5_0, qlm_gemm_r16_q5_0_avx512)
QLM_AMX_ENTRY_POINT(static, gemm_r16_q5_1_amx, gemm, KIND_Q5_1, qlm_gemm_r16_q5_1_avx512)
QLM_AMX_ENTRY_POINT(static, gemm_r16_q8_0_amx, gemm, KIND_Q8_0, qlm_gemm_r16_q8_0_avx512)
QLM_AMX_ENTRY_POINT(static, gemm_r16_iq4_nl_amx, gemm, KIND_IQ4_NL, qlm_gemm_r16_iq4_nl_avx512)
QLM_AMX_ENTRY_POINT(static, gemm_r16_mxfp4_amx, gemm, KIND_MXFP4, qlm_gemm_r16_mxfp4_avx512)

/* Only what the AMX matmuls use: their packed kernels and the SIMD
 * activation conversions (act8; Q8_K for the K-quants; BF16). Everything
 * else is the AVX-512 table's. */
static const qlm_cpu_kernels kernels = {
    .gemm_r16 = {[QLM_TYPE_Q4_0] = gemm_r16_q4_0_amx,
                 [QLM_TYPE_Q4_1] = gemm_r16_q4_1_amx,
                 [QLM_TYPE_Q5_0] = gemm_r16_q5_0_amx,
                 [QLM_TYPE_Q5_1] = gemm_r16_q5_1_amx,
                 [QLM_TYPE_Q8_0] = gemm_r16_q8_0_amx,
                 [QLM_TYPE_IQ4_NL] = gemm_r16_iq4_nl_amx,
                 [QLM_TYPE_MXFP4] = gemm_r16_mxfp4_amx,
                 [QLM_TYPE_Q4_K] = qlm_gemm_r16_q4_k_amx,
                 [QLM_TYPE_Q5_K] = qlm_gemm_r16_q5_k_amx,
                 [QLM_TYPE_Q6_K] = qlm_gemm_r16_q6_k_amx,
                 [QLM_TYPE_IQ4_XS] = qlm_gemm_r16_iq4_xs_amx,
                 [QLM_TYPE_BF16] = qlm_gemm_r16_bf16_amx},
    .quantize = {[QLM_TYPE_Q8_K] = qlm_quantize_q8_k_avx512, [QLM_TYPE_BF16] = qlm_quantize_bf16_avx2},
    .quantize_act8 = qlm_quantize_act8_avx512,
};

/* Whether a matmul of w over n_tok tokens goes through the tiles: a packed
 * weight with an AMX kernel and at least one whole group of tokens. */
static int amx_runs(const qlm_tensor *w, int64_t n_tok) {
    return n_tok >= GROUP && w->layout == QLM_LAYOUT_R16 && kernels.gemm_r16[w->type];
}

static void matmul_n_amx(const qlm_tensor *const *w, float *const *y, int n, const float *x, int64_t n_tok,
                         void *scratch, int n_threads) {
    int all = 1, none = 1;
    for (int i = 0; i < n; i++) {
        all &= amx_runs(w[i], n_tok);
        none &= !amx_runs(w[i], n_tok);
    }
    if (all)
        qlm_cpu_matmul_n(&kernels, w, y, n, x, n_tok, scratch, n_threads);
    else if (none)
        qlm_ops_avx512.matmul_n(w, y, n, x, n_tok, scratch, n_threads);
    else
        for (int i = 0; i < n; i++) matmul_n_amx(&w[i], &y[i], 1, x, n_tok, scratch, n_threads);
}

static void matmul_amx(const qlm_tensor *w, const float *x, int64_t n_tok, float *y, void *scratch,
                       int n_threads) {
    matmul_n_amx(&w, &y, 1, x, n_tok, scratch, n_threads);
}

const qlm_ops qlm_ops_amx = {
    .name = "amx",
    .r16_types = QLM_R16_TYPES_SIMD | QLM_R16_TYPES_K | QLM_R16_TYPES_FLOAT,
    .matmul = matmul_amx,
    .matmul_n = matmul_n_amx,
    .rmsnorm = qlm_cpu_rmsnorm_avx512,
    .rope = qlm_cpu_rope_ref,
    .attention_head = qlm_cpu_attention_head_avx2,
    .attention_heads = qlm_cpu_attention_heads_avx512,
    .swiglu = qlm_cpu_swiglu_avx2,
    .geglu = qlm_cpu_geglu_avx2,
    .to_f16 = qlm_cpu_to_f16_avx2,
    .round_f16 = qlm_cpu_round_f16_avx2,
};
