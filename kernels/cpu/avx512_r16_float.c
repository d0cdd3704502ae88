/* avx512_r16_float.c - AVX-512 kernels for R16-packed F32, F16 and BF16
 * weights (pack.h): outer-product tiles of 16 rows x T tokens.
 *
 * A packed 64-byte vector holds values k and k + 1 of the 16 rows (row r's
 * pair in 32-bit lane r; F32: value k alone). Each vector is loaded once
 * per tile and feeds every token of it against a broadcast of that token's
 * (x[k], x[k + 1]) (F32: x[k]):
 * the accumulators hold finished outputs lane by lane, so there is no
 * horizontal sum, and the activations are read once per 16 rows (the
 * row-major tiles reread them from L2 every 4 rows).
 *
 * F32 (x F32 activations): a packed vector is value k of the 16 rows (one
 * column), so acc[t] = fma(w, broadcast of the token's x[k], acc[t]): lane
 * r is output (row r, token t), one fmaf chain over k as in
 * qlm_gemm_r16_f32_ref. One register a token: tiles of 16 tokens (24 ran
 * slower: pp512 79 vs 89-91 t/s, one thread, synthetic 1.1B F32).
 *
 * BF16 (x BF16 activations, as ggml): acc[t] = vdpbf16ps(acc[t], w, bcast
 * of the token's BF16 pair): lane r of acc[t] is output (row r, token t),
 * by the steps qlm_gemm_r16_bf16_ref replays. One register a token: tiles
 * of 16 tokens.
 *
 * F16 (x F32 activations, as the row kernels): the vector widens (exactly)
 * into two vectors of floats, rows 0-7 and 8-15, even lanes value k, odd
 * lanes value k + 1, each multiplied into the token's accumulators with a
 * 64-bit broadcast of (x[k], x[k + 1]); at the end each even/odd lane pair
 * is added: qlm_gemm_r16_f16_ref's chains. Two registers a token and two
 * weight vectors: tiles of 12 tokens (24 + 2 + broadcasts of 32 registers).
 *
 * Each token's outputs are computed alone (no sums across tokens), so the
 * results are those of the references bit for bit, whatever the tiling.
 *
 * Feeding the tiles: the k dimension goes in batches whose weights stay in
 * L1 for all the call's token tiles, the first tile of each batch
 * prefetches the next batch, and the activation rows are padded apart
 * (qlm_pack_float_act_row). 2048 x 2048 and 5632 x 2048 (n_in x rows), 128
 * tokens, one thread: BF16 374 and 367 GFLOP/s (row-major 4 x 4 tiles: 362
 * and 236), F16 238 and 243 (188 and 140); without the padding, batches
 * and prefetch BF16 ran at 225 and 350. */
#include <immintrin.h>
#include <string.h>

#include "kernels.h"

/* GCC's unroll pragma for the token loops: full unrolling keeps each
 * token's accumulators in registers (QLM_UNROLL_TILE stops at 8). */
#if defined(__GNUC__) || defined(__clang__)
#define UNROLL_TOKENS _Pragma("GCC unroll 16")
#else
#define UNROLL_TOKENS
#endif

#define F16_TILE 12
#define LANE_TILE 16 /* F32, BF16 */
#define PAIR_BYTES (4 * QLM_PACK_ROWS) /* one packed vector: 16 rows x 2 columns (F32: 1) */

/* Token t's activations at column pair p: 2 floats (8 bytes) or 2 BF16
 * values (4 bytes), broadcast to every lane pair / lane. */
static inline __m512 bcast_f32_pair(const char *x, int64_t p) {
    double d;
    memcpy(&d, x + 8 * p, 8);
    return _mm512_castpd_ps(_mm512_set1_pd(d));
}
static inline __m512bh bcast_bf16_pair(const char *x, int64_t p) {
    int32_t v;
    memcpy(&v, x + 4 * p, 4);
    return (__m512bh)_mm512_set1_epi32(v);
}

/* Tokens [0, T) over pairs [0, np) of one batch: the accumulators start at
 * zero (first) or from the previous batch's partial sums, and end as the
 * next batch's partial sums or (last) as outputs. Stored partial sums are
 * exact, so the batches leave the summation order as one pass would. */
static QLM_ALWAYS_INLINE void f16_tile(int T, int pf, const uint8_t *w, int64_t np, const char *act,
                                       size_t act_stride, float *part, int first, int last, float *y,
                                       int64_t ldy) {
    __m512 lo[F16_TILE], hi[F16_TILE];
    UNROLL_TOKENS for (int t = 0; t < T; t++) {
        lo[t] = first ? _mm512_setzero_ps() : _mm512_load_ps(part + 32 * t);
        hi[t] = first ? _mm512_setzero_ps() : _mm512_load_ps(part + 32 * t + 16);
    }
    for (int64_t p = 0; p < np; p++, w += PAIR_BYTES) {
        if (T == 1)
            qlm_prefetch_ahead(w, PAIR_BYTES); /* decode: see QLM_PREFETCH_BYTES */
        else if (pf)
            _mm_prefetch((const char *)w + np * PAIR_BYTES, _MM_HINT_T1);
        const __m512 wlo = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w));
        const __m512 whi = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + 32)));
        UNROLL_TOKENS for (int t = 0; t < T; t++) {
            const __m512 x = bcast_f32_pair(act + t * act_stride, p);
            lo[t] = _mm512_fmadd_ps(wlo, x, lo[t]);
            hi[t] = _mm512_fmadd_ps(whi, x, hi[t]);
        }
    }
    if (!last) {
        for (int t = 0; t < T; t++)
            _mm512_store_ps(part + 32 * t, lo[t]), _mm512_store_ps(part + 32 * t + 16, hi[t]);
        return;
    }
    /* lanes 2r, 2r + 1 of lo (hi) are row r's (8 + r's) even and odd chains */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int t = 0; t < T; t++) {
        const __m512 e = _mm512_permutex2var_ps(lo[t], even, hi[t]),
                     o = _mm512_permutex2var_ps(lo[t], odd, hi[t]);
        _mm512_storeu_ps(y + t * ldy, _mm512_add_ps(e, o));
    }
}

/* The same for F32 and BF16 (kind), one accumulator a token, whose
 * partial sums are the outputs' 16 lanes: they wait in y between batches.
 * For F32, p counts single columns (np = n_in). */
enum { KIND_F32, KIND_BF16 };

static QLM_ALWAYS_INLINE void lane_tile(int kind, int T, int pf, const uint8_t *w, int64_t np, const char *act,
                                        size_t act_stride, int first, float *y, int64_t ldy) {
    __m512 acc[LANE_TILE];
    UNROLL_TOKENS for (int t = 0; t < T; t++) acc[t] =
        first ? _mm512_setzero_ps() : _mm512_loadu_ps(y + t * ldy);
    for (int64_t p = 0; p < np; p++, w += PAIR_BYTES) {
        if (T == 1)
            qlm_prefetch_ahead(w, PAIR_BYTES);
        else if (pf)
            _mm_prefetch((const char *)w + np * PAIR_BYTES, _MM_HINT_T1);
        if (kind == KIND_F32) {
            const __m512 wv = _mm512_loadu_ps(w);
            UNROLL_TOKENS for (int t = 0; t < T; t++) acc[t] =
                _mm512_fmadd_ps(wv, _mm512_set1_ps(((const float *)(act + t * act_stride))[p]), acc[t]);
        } else {
            const __m512bh wv = (__m512bh)_mm512_loadu_si512(w);
            UNROLL_TOKENS for (int t = 0; t < T; t++) acc[t] =
                _mm512_dpbf16_ps(acc[t], wv, bcast_bf16_pair(act + t * act_stride, p));
        }
    }
    for (int t = 0; t < T; t++)
        _mm512_storeu_ps(y + t * ldy, acc[t]);
}

/* All tokens of one batch: tiles of N tokens, the first of which (pf) also
 * prefetches the next batch's weights (after a group's last batch, the next
 * group's first) into L2, so that the later tiles find this batch in L1 and
 * the next batch's first tile finds it in L2 rather than in L3 or memory;
 * then the 1 .. N - 1 tokens left in one tile with T a constant (each its
 * own specialization). */
/* clang-format off */
#define CASE(TILE, T)                                                                                       \
    case T:                                                                                                 \
        TILE(T, 0, w, np, act + t * act_stride, act_stride, part + 32 * t, first, last, y + t * ldy, ldy);  \
        break;
#define TAIL_CASES_11(TILE)                                                                                 \
    CASE(TILE, 1) CASE(TILE, 2) CASE(TILE, 3) CASE(TILE, 4) CASE(TILE, 5) CASE(TILE, 6)                     \
    CASE(TILE, 7) CASE(TILE, 8) CASE(TILE, 9) CASE(TILE, 10) CASE(TILE, 11)
#define TAIL_CASES_15(TILE) TAIL_CASES_11(TILE) CASE(TILE, 12) CASE(TILE, 13) CASE(TILE, 14) CASE(TILE, 15)
/* clang-format on */

static void f16_batch(const uint8_t *w, int64_t np, const char *act, size_t act_stride, int64_t n_tok,
                      float *part, int first, int last, float *y, int64_t ldy) {
    int64_t t = 0;
    if (n_tok >= F16_TILE) {
        f16_tile(F16_TILE, 1, w, np, act, act_stride, part, first, last, y, ldy);
        t = F16_TILE;
    }
    for (; t + F16_TILE <= n_tok; t += F16_TILE)
        f16_tile(F16_TILE, 0, w, np, act + t * act_stride, act_stride, part + 32 * t, first, last,
                 y + t * ldy, ldy);
    switch (n_tok - t) {
        TAIL_CASES_11(f16_tile)
    default:
        break;
    }
}

/* F32's and BF16's batches (their partial sums wait in y, not in part) */
#define KIND_TILE(T, PF, W, NP, ACT, STRIDE, PART, FIRST, LAST, Y, LDY) \
    lane_tile(kind, T, PF, W, NP, ACT, STRIDE, FIRST, Y, LDY)
static QLM_ALWAYS_INLINE void lane_batch(int kind, const uint8_t *w, int64_t np, const char *act, size_t act_stride,
                                         int64_t n_tok, float *part, int first, int last, float *y, int64_t ldy) {
    (void)part, (void)last;
    int64_t t = 0;
    if (n_tok >= LANE_TILE) {
        lane_tile(kind, LANE_TILE, 1, w, np, act, act_stride, first, y, ldy);
        t = LANE_TILE;
    }
    for (; t + LANE_TILE <= n_tok; t += LANE_TILE)
        lane_tile(kind, LANE_TILE, 0, w, np, act + t * act_stride, act_stride, first, y + t * ldy, ldy);
    switch (n_tok - t) {
        TAIL_CASES_15(KIND_TILE)
    default:
        break;
    }
}

static void f32_batch(const uint8_t *w, int64_t np, const char *act, size_t act_stride, int64_t n_tok,
                      float *part, int first, int last, float *y, int64_t ldy) {
    lane_batch(KIND_F32, w, np, act, act_stride, n_tok, part, first, last, y, ldy);
}

static void bf16_batch(const uint8_t *w, int64_t np, const char *act, size_t act_stride, int64_t n_tok,
                       float *part, int first, int last, float *y, int64_t ldy) {
    lane_batch(KIND_BF16, w, np, act, act_stride, n_tok, part, first, last, y, ldy);
}

/* Batches of BATCH pairs (F32: columns; 16 KiB of weights, which stay in
 * L1 while every token tile of the call passes over them; the tiles'
 * activation rows stream from L2), for at most CHUNK tokens at a time (F16's partial sums,
 * 32 floats a token, wait on the stack; 11 tiles, so that the driver's
 * 128-token chunks (matmul.c) take one pass). */
#define BATCH 256
#define CHUNK (11 * F16_TILE)

typedef void (*batch_fn)(const uint8_t *w, int64_t np, const char *act, size_t act_stride, int64_t n_tok,
                         float *part, int first, int last, float *y, int64_t ldy);

static QLM_ALWAYS_INLINE void gemm_batches(batch_fn batch, size_t pair_act_bytes, const void *w, int64_t np,
                                           const void *act, size_t act_stride, int64_t n_tok, float *y,
                                           int64_t ldy) {
    _Alignas(64) float part[CHUNK * 32];
    for (int64_t t0 = 0; t0 < n_tok; t0 += CHUNK) {
        const int64_t nt = n_tok - t0 < CHUNK ? n_tok - t0 : CHUNK;
        const char *at = (const char *)act + t0 * act_stride;
        int64_t p0 = 0;
        do { /* once at least: a row of no pairs sums to zero */
            const int64_t pb = np - p0 < BATCH ? np - p0 : BATCH;
            batch((const uint8_t *)w + p0 * PAIR_BYTES, pb, at + p0 * pair_act_bytes, act_stride, nt, part,
                  p0 == 0, p0 + pb == np, y + t0 * ldy, ldy);
            p0 += pb;
        } while (p0 < np);
    }
}

void qlm_gemm_r16_f32_avx512(const void *w, int64_t n, const void *act, size_t act_stride, int64_t n_tok,
                             float *y, int64_t ldy) {
    gemm_batches(f32_batch, sizeof(float), w, n, act, act_stride, n_tok, y, ldy);
}

void qlm_gemm_r16_f16_avx512(const void *w, int64_t np, const void *act, size_t act_stride, int64_t n_tok,
                             float *y, int64_t ldy) {
    gemm_batches(f16_batch, 2 * sizeof(float), w, np, act, act_stride, n_tok, y, ldy);
}

void qlm_gemm_r16_bf16_avx512(const void *w, int64_t np, const void *act, size_t act_stride, int64_t n_tok,
                              float *y, int64_t ldy) {
    gemm_batches(bf16_batch, 2 * sizeof(uint16_t), w, np, act, act_stride, n_tok, y, ldy);
}
