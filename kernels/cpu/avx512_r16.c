/* avx512_r16.c - AVX-512 VNNI kernels for R16-packed weights (pack.h): 16
 * rows x up to TILE tokens per call of tile().
 *
 * Each 64-byte load holds 4 quant bytes of each of the 16 rows, one row per
 * 32-bit lane, so vpdpbusd against 4 activation bytes broadcast to all lanes
 * accumulates 16 row dots at once, and the block's 16 scales are one vector.
 * The weights are decoded once per block and reused for every token of the
 * tile (prompt processing), which is what makes this a GEMM rather than
 * repeated GEMVs.
 *
 * vpdpbusd multiplies unsigned by signed bytes: Q4 nibbles are unsigned as
 * stored, and so are Q5_0's q = nibble | fifth bit << 4 (value q - 16; Q5_1:
 * q, plus the min term as Q4_1); Q8_0
 * weights get +128 (xor 0x80), and the table formats (IQ4_NL, MXFP4) look
 * their nibbles up (vpshufb) in their kvalues table + 128 (1..241 and
 * 116..140: unsigned bytes). The offset is taken back exactly
 * in integers: isum = dot(u, a) - offset * sum(a), sum(a) precomputed per
 * activation block; vpdpbusd does not saturate and |isum| < 32 * 255 * 128.
 * Then per block acc += (float)isum * (dw * da) (+ mw * s
 * for Q4_1), with separate multiplies and adds in the reference's order, so
 * results equal qlm_gemm_r16_*_ref bit for bit. */
#include <immintrin.h>
#include <string.h>

#include "avx512_blocks.h"
#include "avx512_r16_blocks.h"

#define TILE 8

static QLM_ALWAYS_INLINE void tile(int kind, int T, const uint8_t *w, int64_t nb, const char *act, size_t act_stride,
                        float *y, int64_t ldy) {
    const int has_min = kind == KIND_Q4_1 || kind == KIND_Q5_1;
    const size_t header = r16_header(kind);
    const size_t block = (header + r16_quants(kind)) * QLM_PACK_ROWS;
    const int offset = r16_offset(kind);
    const int64_t n_in = nb * 32;
    qlm_act8 a[TILE];
    __m512 acc[TILE];
    for (int j = 0; j < T; j++) {
        a[j] = qlm_act8_view(act + j * act_stride, n_in);
        acc[j] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++, w += block) {
        if (T == 1) qlm_prefetch_ahead(w, block); /* decode: see QLM_PREFETCH_BYTES */
        const __m512 dw = row_scales(kind, w);
        __m512i u[8];
        decode(kind, w + header * QLM_PACK_ROWS, u);
        QLM_UNROLL_TILE
        for (int j = 0; j < T; j++) {
            const int8_t *aq = a[j].q + b * 32;
            __m512i isum = _mm512_setzero_si512();
            for (int c = 0; c < 8; c++) isum = _mm512_dpbusd_epi32(isum, u[c], qz_bcast4(aq + chunk_at(kind, c)));
            if (offset) isum = _mm512_sub_epi32(isum, _mm512_set1_epi32(offset * a[j].sum[b]));
            const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(a[j].d[b]));
            acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), dd));
            if (has_min)
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(load_f16x16(w + 32), _mm512_set1_ps(a[j].s[b])));
        }
    }
    for (int j = 0; j < T; j++) _mm512_storeu_ps(y + j * ldy, acc[j]);
}

/* All tokens, 8 at a time (QLM_R16_TOKEN_TILES). */
static QLM_ALWAYS_INLINE void gemm(int kind, const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                        float *y, int64_t ldy) {
    QLM_R16_TOKEN_TILES(tile, kind, w, nb, act, act_stride, n_tok, y, ldy);
}

QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_0_avx512, gemm, KIND_Q4_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_1_avx512, gemm, KIND_Q4_1)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q8_0_avx512, gemm, KIND_Q8_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q5_0_avx512, gemm, KIND_Q5_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_iq4_nl_avx512, gemm, KIND_IQ4_NL)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_mxfp4_avx512, gemm, KIND_MXFP4)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q5_1_avx512, gemm, KIND_Q5_1)
