/* avx512_r16_kquants.c - AVX-512 VNNI kernels for R16-packed Q4_K, Q5_K,
 * Q6_K and IQ4_XS (pack.h): 16 rows x up to TILE tokens of Q8_K activations
 * per tile. One tile (at the end) over per-format integer sums; Q6_K's and
 * IQ4_XS's layouts are described at their sections.
 *
 * Q4_K/Q5_K's packed block of 16 rows: d (16 x fp16), dmin (16 x fp16), then 64-byte
 * chunks each holding 4 bytes of every row (row r in 32-bit lane r): chunks
 * 0-2 the 12 packed scale bytes, (Q5_K) chunks 3-10 qh, then 32 chunks of
 * qs. So the row-major kernels' scalar work per block (unpacking 6-bit
 * scales and minimums, converting d and dmin) is done here once for 16
 * rows with lane-wise integer ops, and a 512-bit vpdpbusd of one chunk's
 * nibbles against 4 activation bytes broadcast to every lane gives 16 row
 * partial dots at once.
 *
 * Bit-identical to the row-major reference (qlm_dot_block_q4_k): per row
 * and block, the exact integers isum = sum_j sc[j] * dot_j (dot_j: sub-block
 * j's quants . activations, |dot_j| <= 32 * 31 * 128, times sc <= 63: no
 * int32 overflow in the block's sum) and msum = sum_j m[j] * (bsums[2j] +
 * bsums[2j + 1]), then the reference's float steps lane-wise: d = d_x * d_y,
 * dm = dmin_x * d_y, sum += d * isum, sum -= dm * msum, in block order. */
#include "avx512_r16_kquants.h"

/* ------------------------------------------------------------- the tiles */

/* 16 rows x T tokens (a constant at each call): per block, every token's
 * exact integer sums, then the reference's float steps lane-wise, in block
 * order. Each format's first header field is d, 16 x fp16. */
static QLM_ALWAYS_INLINE void tile(int kind, int T, const uint8_t *w, int64_t nb, const char *act,
                                   size_t act_stride, float *y, int64_t ldy) {
    const size_t block = packed_block_bytes(kind);
    const int with_min = kind == KIND_Q4_K || kind == KIND_Q5_K;
    __m512 acc[TILE];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++, w += block) {
        if (T == 1) qlm_prefetch_ahead(w, block); /* see QLM_PREFETCH_BYTES */
        const qlm_block_q8_k *a[TILE];
        __m512i isum[TILE];
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            a[t] = (const qlm_block_q8_k *)(act + t * act_stride) + b;
            isum[t] = _mm512_setzero_si512();
        }
        k_block k;
        if (with_min) {
            k_decode(w, &k);
            k4_isums(kind == KIND_Q5_K, T, w, &k, a, isum);
        } else {
            k.d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w));
            if (kind == KIND_Q6_K) q6_isums(T, w, a, isum);
            else xs_isums(T, w, a, isum);
        }
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const __m512 yd = _mm512_set1_ps(a[t]->d);
            const __m512 t0 = _mm512_mul_ps(_mm512_mul_ps(k.d, yd), _mm512_cvtepi32_ps(isum[t]));
            acc[t] = _mm512_add_ps(acc[t], t0);
            if (with_min) {
                const __m512 dm = _mm512_mul_ps(k.dmin, yd);
                acc[t] = _mm512_sub_ps(acc[t], _mm512_mul_ps(dm, _mm512_cvtepi32_ps(k_msum(&k, a[t]->bsums))));
            }
        }
    }
    for (int t = 0; t < T; t++) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

/* 16 rows x T tokens over slots [0, nb) of p (blocks b0 ..): each token's
 * sum continues from y unless b0 = 0. */
static QLM_ALWAYS_INLINE void panel_tile(int kind, int64_t b0, int T, const k_panel *p, int64_t nb,
                                         const char *act, size_t act_stride, float *y, int64_t ldy) {
    const int n_sub = kind == KIND_Q6_K ? 16 : 8, per_sub = 64 / n_sub; /* chunks a sub-block */
    const int with_min = kind == KIND_Q4_K || kind == KIND_Q5_K;
    __m512 acc[TILE];
    QLM_UNROLL_TILE
    for (int t = 0; t < T; t++)
        acc[t] = b0 ? _mm512_loadu_ps(y + t * ldy) : _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const qlm_block_q8_k *a[TILE];
        __m512i isum[TILE];
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            a[t] = (const qlm_block_q8_k *)(act + t * act_stride) + b0 + b;
            isum[t] = _mm512_setzero_si512();
        }
        for (int j = 0; j < n_sub; j++) {
            const __m512i sc = p->sc[b][j];
            const __m512i *u = p->u[b] + per_sub * j;
            QLM_UNROLL_TILE
            for (int t = 0; t < T; t++) { /* two chains a token, to cover vpdpbusd's latency */
                const int8_t *aq = a[t]->qs + 4 * per_sub * j;
                __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
                QLM_UNROLL_TILE
                for (int c = 0; c < per_sub; c += 2) {
                    s0 = _mm512_dpbusd_epi32(s0, u[c], qz_bcast4(aq + 4 * c));
                    s1 = _mm512_dpbusd_epi32(s1, u[c + 1], qz_bcast4(aq + 4 * c + 4));
                }
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(_mm512_add_epi32(s0, s1), sc));
            }
        }
        QLM_UNROLL_TILE
        for (int t = 0; t < T; t++) {
            const __m512i term = panel_bsum_term(p->pw[b], a[t]->bsums);
            if (!with_min) /* Q6_K: -32 term; IQ4_XS: -128 term */
                isum[t] = _mm512_sub_epi32(isum[t], _mm512_slli_epi32(term, kind == KIND_Q6_K ? 5 : 7));
            const __m512 yd = _mm512_set1_ps(a[t]->d);
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_mul_ps(p->d[b], yd), _mm512_cvtepi32_ps(isum[t])));
            if (with_min) {
                const __m512 dm = _mm512_mul_ps(p->dmin[b], yd);
                acc[t] = _mm512_sub_ps(acc[t], _mm512_mul_ps(dm, _mm512_cvtepi32_ps(term)));
            }
        }
    }
    for (int t = 0; t < T; t++)
        _mm512_storeu_ps(y + t * ldy, acc[t]);
}

/* The panel tiles of one kind, a constant at each call (QLM_R16_TOKEN_TILES
 * passes one leading argument: the slab's first block). */
#define PANEL_TILE_OF(NAME, KIND)                                                                          \
    static QLM_ALWAYS_INLINE void NAME(int64_t b0, int T, const k_panel *p, int64_t nb, const char *act,   \
                                       size_t act_stride, float *y, int64_t ldy) {                         \
        panel_tile(KIND, b0, T, p, nb, act, act_stride, y, ldy);                                          \
    }
PANEL_TILE_OF(panel_tile_q4_k, KIND_Q4_K)
PANEL_TILE_OF(panel_tile_q5_k, KIND_Q5_K)
PANEL_TILE_OF(panel_tile_q6_k, KIND_Q6_K)
PANEL_TILE_OF(panel_tile_iq4_xs, KIND_IQ4_XS)

static QLM_ALWAYS_INLINE void panel_gemm(int kind, const uint8_t *w, int64_t nb, const char *act,
                                         size_t act_stride, int64_t n_tok, float *y, int64_t ldy) {
    const size_t block = packed_block_bytes(kind);
    k_panel p;
    for (int64_t b0 = 0; b0 < nb; b0 += PANEL_BLOCKS) {
        const int64_t n = nb - b0 < PANEL_BLOCKS ? nb - b0 : PANEL_BLOCKS;
        for (int b = 0; b < n; b++) panel_decode(kind, w + (size_t)(b0 + b) * block, &p, b);
        switch (kind) {
        case KIND_Q4_K: QLM_R16_TOKEN_TILES(panel_tile_q4_k, b0, &p, n, act, act_stride, n_tok, y, ldy); break;
        case KIND_Q5_K: QLM_R16_TOKEN_TILES(panel_tile_q5_k, b0, &p, n, act, act_stride, n_tok, y, ldy); break;
        case KIND_Q6_K: QLM_R16_TOKEN_TILES(panel_tile_q6_k, b0, &p, n, act, act_stride, n_tok, y, ldy); break;
        default: QLM_R16_TOKEN_TILES(panel_tile_iq4_xs, b0, &p, n, act, act_stride, n_tok, y, ldy); break;
        }
    }
}

/* All tokens, 8 at a time (QLM_R16_TOKEN_TILES); prompts by panels. */
static QLM_ALWAYS_INLINE void gemm(int kind, const void *w, int64_t nb, const void *act, size_t act_stride,
                                   int64_t n_tok, float *y, int64_t ldy) {
    if (n_tok >= PANEL_MIN_TOKENS) {
        panel_gemm(kind, w, nb, act, act_stride, n_tok, y, ldy);
        return;
    }
    QLM_R16_TOKEN_TILES(tile, kind, w, nb, act, act_stride, n_tok, y, ldy);
}

QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_k_avx512, gemm, KIND_Q4_K)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q5_k_avx512, gemm, KIND_Q5_K)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q6_k_avx512, gemm, KIND_Q6_K)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_iq4_xs_avx512, gemm, KIND_IQ4_XS)
