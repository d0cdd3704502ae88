/* amx_bf16.c - AMX-BF16 tiles for R16-packed BF16 weights: prompt calls of
 * 16 tokens or more (the AVX-512 tile takes the rest).
 *
 * The packed BF16 layout (pack.h: vector p holds values 2p and 2p + 1 of the
 * 16 rows, row r's pair at bytes 4r .. 4r + 3) is exactly the B operand of
 * TDPBF16PS, 16 pairs of 16 columns a tile, and the BF16 activation rows
 * are its A operand as they are. So a group of 16 tokens accumulates its
 * 16 x 16 float results in a tile over the whole row, 32 values a multiply,
 * and stores them once: no per-block scaling and nothing to decode.
 *
 * Numerics: the products of two BF16 values are exact in float; TDPBF16PS
 * adds them into float accumulators with round-to-nearest-even, denormal
 * inputs read as zero and denormal results flushed (Intel SDM), like
 * vdpbf16ps, but in its own order. So these results are not the packed
 * reference's bits: they are held, as every BF16 kernel already is
 * (AMD's vdpbf16ps rounds its two products differently), to the float
 * error bound of the exact product (tests/kcheck). */
#include "amx_tiles.h"
#include "kernels.h"

#define GROUP QLM_AMX_GROUP
#define PAIRS 16 /* value pairs per tile multiply: a 64-byte row of A, 16 rows of B */

/* Tiles: results of two token groups, their activation tiles and the
 * weights', then the same three for the row's last PAIRS-or-fewer pairs. */
#define TC0 0
#define TC1 1
#define TA0 2
#define TA1 3
#define TB 4
#define TA0_TAIL 5
#define TA1_TAIL 6
#define TB_TAIL 7

static void configure_tiles(int tail) {
    const uint8_t rows[] = {GROUP, GROUP, GROUP, GROUP, PAIRS, GROUP, GROUP, (uint8_t)tail};
    const uint16_t colsb[] = {64, 64, 64, 64, 64, (uint16_t)(4 * tail), (uint16_t)(4 * tail), 64};
    qlm_amx_configure(tail ? 8 : 5, rows, colsb);
}

/* Step k of groups(): the weights' tile TB, the first group's activations
 * (TA0) and, with two, the second's (TA1) multiplied into TC0 and TC1. */
#define MULTIPLY_STEP(TA0_, TA1_, TB_, k)                                                                    \
    do {                                                                                                     \
        _tile_loadd(TB_, w + 64 * PAIRS * (k), 64);                                                          \
        _tile_loadd(TA0_, act + 64 * (k), (long)stride);                                                     \
        _tile_dpbf16ps(TC0, TA0_, TB_);                                                                      \
        if (two) {                                                                                           \
            _tile_loadd(TA1_, act1 + 64 * (k), (long)stride);                                                \
            _tile_dpbf16ps(TC1, TA1_, TB_);                                                                  \
        }                                                                                                    \
    } while (0)

/* One (two = 0) or two groups of 16 tokens (act, act + 16 rows) x the 16
 * rows of w (np pairs), into y: the second group shares each weight tile. */
static QLM_ALWAYS_INLINE void groups(int two, const uint8_t *w, int64_t np, const char *act, size_t stride,
                                     float *y, int64_t ldy) {
    const char *act1 = act + GROUP * stride;
    const int64_t steps = np / PAIRS;
    const long ystride = (long)(ldy * (int64_t)sizeof(float));
    _tile_zero(TC0);
    if (two) _tile_zero(TC1);
    for (int64_t k = 0; k < steps; k++) MULTIPLY_STEP(TA0, TA1, TB, k);
    if (np % PAIRS) MULTIPLY_STEP(TA0_TAIL, TA1_TAIL, TB_TAIL, steps);
    _tile_stored(TC0, y, ystride);
    if (two) _tile_stored(TC1, y + GROUP * ldy, ystride);
}

/* n_tok (whole groups of 16) tokens, two groups at a time. BF16 has one
 * kind: kind is the entry point's argument, unused. */
static void gemm(int kind, const void *w, int64_t np, const void *act, size_t stride, int64_t n_tok, float *y,
                 int64_t ldy) {
    (void)kind;
    const char *a = act;
    configure_tiles((int)(np % PAIRS));
    int64_t t = 0;
    for (; t + 2 * GROUP <= n_tok; t += 2 * GROUP) groups(1, w, np, a + t * stride, stride, y + t * ldy, ldy);
    if (t < n_tok) groups(0, w, np, a + t * stride, stride, y + t * ldy, ldy);
    _tile_release();
}

QLM_AMX_ENTRY_POINT(, qlm_gemm_r16_bf16_amx, gemm, 0, qlm_gemm_r16_bf16_avx512)
