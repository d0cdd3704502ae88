/* amx_kquants.c - AMX panels for R16-packed Q4_K, Q5_K, Q6_K and IQ4_XS:
 * prompt calls of 16 tokens or more (the AVX-512 tiles take the rest).
 *
 * The AVX-512 panels (avx512_r16_kquants.c) multiply each sub-block's
 * unsigned quants u by the activations and then by the sub-block's scale
 * sc: isum = sum_j sc_j (u . a)_j, then the offset and minimum terms over the
 * Q8_K sums. Here the scale goes into the weights instead: w_k = u_k
 * sc_j(k), an exact integer that needs up to 15 bits and a sign (Q6_K: 63 x
 * -128), is split into its low byte (unsigned) and high byte (signed), w =
 * 256 hi + lo, and two tile multiplies per 64 values (TDPBSUD on the low
 * bytes, TDPBSSD on the high ones) leave sum_k lo_k a_k and sum_k hi_k a_k
 * for 16 tokens x 16 rows. isum = lo_dots + 256 hi_dots is then the very
 * integer the panels compute, in any order, because it is exact (|lo dots|
 * <= 256 x 128 x 255, |hi dots| x 256 <= 2^30). The terms over the Q8_K
 * sums and the float steps are the panels' own, token by token, block by
 * block in order: the results are the AVX-512 panels' bits, which are the
 * reference's.
 *
 * Per block and 16 tokens: 8 tile multiplies, and per token two tile rows
 * read, one shift and add, the Q8_K-sums term (8 vpdpwssd) and the float
 * steps, against 64 vpdpbusd and their broadcasts for each token in the
 * AVX-512 panel. Decoding a slab (the panel decoder, then the products'
 * bytes) is shared by all the tokens of the call. */
#include "amx_tiles.h"
#include "avx512_r16_kquants.h"

#define GROUP QLM_AMX_GROUP
#define KCHUNK 64 /* values per tile multiply: 16 rows of 4 */

/* Tiles: the two dot accumulators, two activation tiles and two of each
 * weight plane, alternated between consecutive 64-value chunks. */
#define T_LO 0
#define T_HI 1
#define T_A0 2
#define T_A1 3
#define T_L0 4
#define T_L1 5
#define T_H0 6
#define T_H1 7

static void configure_tiles(void) {
    static const uint8_t rows[] = {GROUP, GROUP, GROUP, GROUP, 16, 16, 16, 16};
    static const uint16_t colsb[] = {64, 64, 64, 64, 64, 64, 64, 64};
    qlm_amx_configure(8, rows, colsb);
}

/* The weight planes of a slab: per block 64 chunks (chunk c: values 4c ..
 * 4c + 3 of the 16 rows, the tiles' operand order) of low and high bytes. */
typedef struct planes {
    _Alignas(64) uint8_t lo[PANEL_BLOCKS][64][64];
    _Alignas(64) int8_t hi[PANEL_BLOCKS][64][64];
} planes;

/* The low and high bytes of u x sc per byte (u unsigned, sc the lane's
 * signed scale; |u sc| <= 255 x 128 fits 16 bits): even and odd bytes
 * multiplied as 16-bit words, then the products' bytes regrouped. */
static inline void product_bytes(__m512i u, __m512i sc, __m512i *lo, __m512i *hi) {
    const __m512i m8 = _mm512_set1_epi16(0x00ff);
    const __m512i sc16 = _mm512_or_si512(_mm512_and_si512(sc, _mm512_set1_epi32(0xffff)), _mm512_slli_epi32(sc, 16));
    const __m512i even = _mm512_mullo_epi16(_mm512_and_si512(u, m8), sc16);
    const __m512i odd = _mm512_mullo_epi16(_mm512_srli_epi16(u, 8), sc16);
    *lo = _mm512_or_si512(_mm512_and_si512(even, m8), _mm512_slli_epi16(odd, 8));
    *hi = _mm512_or_si512(_mm512_and_si512(_mm512_srai_epi16(even, 8), m8), _mm512_andnot_si512(m8, odd));
}

/* Slot b of the panel p (already decoded) as weight planes. */
static void make_planes(int kind, const k_panel *p, int b, planes *w) {
    const int per_sub = kind == KIND_Q6_K ? 4 : 8; /* chunks a sub-block: 16 or 32 values */
    for (int c = 0; c < 64; c++) {
        __m512i lo, hi;
        product_bytes(p->u[b][c], p->sc[b][c / per_sub], &lo, &hi);
        _mm512_store_si512(w->lo[b][c], lo);
        _mm512_store_si512(w->hi[b][c], hi);
    }
}

/* Chunk k of one block: A = the 16 tokens' 64 activations (rows act_stride
 * apart), and both planes' 16 chunks. */
#define MULTIPLY_CHUNK(TA, TL, TH, q, w, b, k, stride)                                                       \
    do {                                                                                                     \
        _tile_loadd(TA, (q) + KCHUNK * (k), (long)(stride));                                                 \
        _tile_loadd(TL, (w)->lo[b][16 * (k)], 64);                                                           \
        _tile_loadd(TH, (w)->hi[b][16 * (k)], 64);                                                           \
        _tile_dpbsud(T_LO, TA, TL);                                                                          \
        _tile_dpbssd(T_HI, TA, TH);                                                                          \
    } while (0)

/* The panel's float steps for one token m of one block (avx512_r16_kquants.c,
 * panel_tile): isum from the two dot rows, the Q8_K-sums term, then the
 * reference's multiplies and adds. */
static QLM_ALWAYS_INLINE __m512 token_step(int kind, __m512 acc, const int32_t *lo, const int32_t *hi,
                                           const k_panel *p, int b, const qlm_block_q8_k *a) {
    const int with_min = kind == KIND_Q4_K || kind == KIND_Q5_K;
    __m512i isum = _mm512_add_epi32(_mm512_load_si512(lo), _mm512_slli_epi32(_mm512_load_si512(hi), 8));
    const __m512i term = panel_bsum_term(p->pw[b], a->bsums);
    if (!with_min) /* Q6_K: -32 term; IQ4_XS: -128 term */
        isum = _mm512_sub_epi32(isum, _mm512_slli_epi32(term, kind == KIND_Q6_K ? 5 : 7));
    const __m512 yd = _mm512_set1_ps(a->d);
    acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_mul_ps(p->d[b], yd), _mm512_cvtepi32_ps(isum)));
    if (with_min) {
        const __m512 dm = _mm512_mul_ps(p->dmin[b], yd);
        acc = _mm512_sub_ps(acc, _mm512_mul_ps(dm, _mm512_cvtepi32_ps(term)));
    }
    return acc;
}

/* 16 tokens (act) over the slab's n blocks (from b0): each token's sum
 * continues from y unless b0 = 0. */
static QLM_ALWAYS_INLINE void group_over_slab(int kind, const k_panel *p, const planes *w, int64_t b0, int n,
                                              const char *act, size_t stride, float *y, int64_t ldy) {
    _Alignas(64) int32_t lo[GROUP * 16], hi[GROUP * 16];
    __m512 acc[GROUP];
    for (int m = 0; m < GROUP; m++) acc[m] = b0 ? _mm512_loadu_ps(y + m * ldy) : _mm512_setzero_ps();
    for (int b = 0; b < n; b++) {
        const qlm_block_q8_k *a0 = (const qlm_block_q8_k *)act + b0 + b;
        const int8_t *q = a0->qs;
        _tile_zero(T_LO);
        _tile_zero(T_HI);
        MULTIPLY_CHUNK(T_A0, T_L0, T_H0, q, w, b, 0, stride);
        MULTIPLY_CHUNK(T_A1, T_L1, T_H1, q, w, b, 1, stride);
        MULTIPLY_CHUNK(T_A0, T_L0, T_H0, q, w, b, 2, stride);
        MULTIPLY_CHUNK(T_A1, T_L1, T_H1, q, w, b, 3, stride);
        _tile_stored(T_LO, lo, 64);
        _tile_stored(T_HI, hi, 64);
        for (int m = 0; m < GROUP; m++) {
            const qlm_block_q8_k *a = (const qlm_block_q8_k *)(act + m * stride) + b0 + b;
            acc[m] = token_step(kind, acc[m], lo + 16 * m, hi + 16 * m, p, b, a);
        }
    }
    for (int m = 0; m < GROUP; m++) _mm512_storeu_ps(y + m * ldy, acc[m]);
}

/* n_tok (whole groups of 16) tokens through the tiles, a slab of
 * PANEL_BLOCKS blocks at a time. */
static QLM_ALWAYS_INLINE void gemm(int kind, const void *w, int64_t nb, const void *act, size_t stride,
                                   int64_t n_tok, float *y, int64_t ldy) {
    const size_t block = packed_block_bytes(kind);
    k_panel p;
    planes pl;
    configure_tiles();
    for (int64_t b0 = 0; b0 < nb; b0 += PANEL_BLOCKS) {
        const int n = nb - b0 < PANEL_BLOCKS ? (int)(nb - b0) : PANEL_BLOCKS;
        for (int b = 0; b < n; b++) {
            panel_decode(kind, (const uint8_t *)w + (size_t)(b0 + b) * block, &p, b);
            make_planes(kind, &p, b, &pl);
        }
        for (int64_t t = 0; t < n_tok; t += GROUP)
            group_over_slab(kind, &p, &pl, b0, n, (const char *)act + t * stride, stride, y + t * ldy, ldy);
    }
    _tile_release();
}

QLM_AMX_ENTRY_POINT(, qlm_gemm_r16_q4_k_amx, gemm, KIND_Q4_K, qlm_gemm_r16_q4_k_avx512)
QLM_AMX_ENTRY_POINT(, qlm_gemm_r16_q5_k_amx, gemm, KIND_Q5_K, qlm_gemm_r16_q5_k_avx512)
QLM_AMX_ENTRY_POINT(, qlm_gemm_r16_q6_k_amx, gemm, KIND_Q6_K, qlm_gemm_r16_q6_k_avx512)
QLM_AMX_ENTRY_POINT(, qlm_gemm_r16_iq4_xs_amx, gemm, KIND_IQ4_XS, qlm_gemm_r16_iq4_xs_avx512)
