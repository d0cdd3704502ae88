/* pack.h - the interleaved ("R16") weight layout and the int8 activation rows
 * its kernels read.
 *
 * A row-major quantized matrix makes a decode kernel stream one row at a
 * time: each vector load feeds one output, and every block's scale is a
 * scalar. R16 interleaves 16 rows block by block, so one 64-byte load holds
 * 4 quant bytes of each of 16 rows and one vector of scales serves 16
 * outputs. For block b of the 16-row group g the packed bytes are, at offset
 * (g * n_blocks + b) * 16 * block_bytes:
 *
 *   scale fields  for each 2-byte header field f (d; then m for Q4_1):
 *                 16 x uint16, row 0 first (MXFP4's 1-byte e: 16 x uint8)
 *   quant bytes   for each 4-byte chunk c of the block's quants:
 *                 16 x 4 bytes, row r's qs[4c .. 4c+3] at 4 r
 *
 * The same bytes as the original, permuted: packing is done in place at load
 * and a group of 16 rows occupies exactly the bytes it did before. Q4 chunk
 * c holds values 4c..4c+3 in its low nibbles and 16+4c..16+4c+3 in the high
 * ones (ggml's nibble order is kept). Tensors whose row count is not a
 * multiple of 16 stay row-major.
 *
 * The 256-value formats (Q2_K-Q6_K, IQ4_XS, TQ2_0) pack the same way with their
 * sub-block scales as quant chunks too, so a kernel unpacks the scales of
 * 16 rows with a few lane-wise integer ops instead of 16 scalar
 * unpackings; the header fields that Q2_K, Q3_K and Q6_K store last still
 * pack first. Their packed kernels are defined as the row-major reference,
 * bit for bit.
 *
 * F16 and BF16 pack as blocks of 2 values (4 bytes, no header): packed
 * vector k / 2 (64 bytes) holds values k and k + 1 of the 16 rows, row r's
 * pair at bytes 4 r .. 4 r + 3, so one load feeds 16 rows x 2 columns to
 * an outer-product tile (kernels/cpu/avx512_r16_float.c). Their block_size
 * in the type table stays 1: qlm_pack_blocks gives the blocks a packed row
 * has, and rows of odd length cannot pack (qlm_pack_supported).
 *
 * F32 packs as blocks of 1 value (4 bytes, no header): packed vector k
 * holds value k of the 16 rows, row r's at bytes 4 r .. 4 r + 3, the
 * outer-product tile's operand as it is. */
#ifndef QLM_PACK_H
#define QLM_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

#define QLM_PACK_ROWS 16
/* ops.r16_types masks. Every table packs Q4_0, Q4_1 and Q8_0; the SIMD
 * tables (AVX2, AVX-512, NEON) also Q5_0, IQ4_NL and MXFP4, whose x86 tiles
 * decode 3x faster than the row kernels (bench --kernels; NEON's tiles are
 * its Q4_0 tile plus a TBL a chunk, untimed on hardware), while the scalar
 * packed reference is slower than the scalar rows for them. */
#define QLM_R16_TYPES ((1ull << QLM_TYPE_Q4_0) | (1ull << QLM_TYPE_Q4_1) | (1ull << QLM_TYPE_Q8_0))
#define QLM_R16_TYPES_SIMD \
    (QLM_R16_TYPES | (1ull << QLM_TYPE_Q5_0) | (1ull << QLM_TYPE_IQ4_NL) | (1ull << QLM_TYPE_MXFP4))

/* F32, F16 and BF16: only the AVX-512 table packs them (its outer-product
 * tiles beat its row kernels in prompt processing and decode; bench
 * --kernels).
 * The other tables keep their row kernels, faster than the scalar packed
 * references. */
#define QLM_R16_TYPES_FLOAT ((1ull << QLM_TYPE_F32) | (1ull << QLM_TYPE_F16) | (1ull << QLM_TYPE_BF16))

/* Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, Q5_1 and TQ2_0 pack too on AVX-512, and
 * Q4_K, Q5_K and IQ4_XS on AVX2 (QLM_R16_TYPES_K_AVX2): where a table has no
 * packed kernel, its row kernels beat the scalar packed reference. */
#define QLM_R16_TYPES_K_AVX2 ((1ull << QLM_TYPE_Q4_K) | (1ull << QLM_TYPE_Q5_K) | (1ull << QLM_TYPE_IQ4_XS))
#define QLM_R16_TYPES_K                                                                                      \
    ((1ull << QLM_TYPE_Q4_K) | (1ull << QLM_TYPE_Q5_K) | (1ull << QLM_TYPE_Q6_K) | (1ull << QLM_TYPE_IQ4_XS) | \
     (1ull << QLM_TYPE_Q5_1) | (1ull << QLM_TYPE_Q2_K) | (1ull << QLM_TYPE_Q3_K) | (1ull << QLM_TYPE_TQ2_0))

/* Whether qlm_pack_groups can pack a tensor of this type, row length n_in
 * and row count: a type with a packed layout, whole 16-row groups, and
 * whole pack blocks per row (F16/BF16: n_in even). */
int qlm_pack_supported(qlm_type type, int64_t n_in, int64_t n_rows);

/* Blocks of a packed row of n_in values: n_in / block_size, or n_in / 2 for
 * F16/BF16 (the n_blocks of their qlm_gemm_r16_fn). */
int64_t qlm_pack_blocks(qlm_type type, int64_t n_in);

/* Rewrites groups [g0, g1) of w's data (writable, w->type/shape as loaded,
 * row-major) into R16 in place; the caller sets w->layout once every group
 * is done. tmp holds QLM_PACK_ROWS * w->row_bytes bytes. Groups are
 * independent: callers may split them over threads. */
void qlm_pack_groups(qlm_tensor *w, void *data, int64_t g0, int64_t g1, void *tmp);

/* The original (row-major) bytes of row r of w, whatever its layout. */
void qlm_tensor_row_bytes(const qlm_tensor *w, int64_t r, void *dst);

/* Row r of w as floats (n = w->ne[0] values), whatever its layout. */
void qlm_tensor_row_to_float(const qlm_tensor *w, int64_t r, float *dst, void *tmp_row);

/* ------------------------------------------------------------------ act8
 * Activations for R16 kernels: per token, n_in int8 quants, then per 32-value
 * block the scale d (ggml's fp16-rounded Q8 scale, as float), s (Q8_1's
 * fp16-rounded d * sum, as float) and the integer sum of the block's quants.
 * The quants and scales are those of the Q8_0/Q8_1 reference quantizer, so
 * packed and row-major matmuls see the same activations. */
typedef struct qlm_act8 {
    const int8_t *q;
    const float *d, *s;
    const int32_t *sum;
} qlm_act8;

/* Whether packed kernels of this type read act8 rows: those whose row
 * kernels read Q8_0 or Q8_1 rows. The others read what their row kernels
 * read, the type table's vec_dot_type: Q8_K rows (K-quants), F32 rows
 * (F32, F16; copied into padded rows, qlm_pack_float_act_row), BF16 rows (BF16). */
static inline int qlm_pack_reads_act8(qlm_type type) {
    const qlm_type vt = qlm_type_traits_get(type)->vec_dot_type;
    return vt == QLM_TYPE_Q8_0 || vt == QLM_TYPE_Q8_1;
}

/* Whether packed kernels of this type are the float tiles (F32, F16, BF16). */
static inline int qlm_pack_is_float(qlm_type type) {
    return type == QLM_TYPE_F32 || type == QLM_TYPE_F16 || type == QLM_TYPE_BF16;
}

/* Bytes between the token rows that packed float kernels read (F32 rows
 * copied for F32 and F16, the BF16 conversion for BF16, into the scratch): the row
 * rounded up to an odd number of 64-byte lines. Their tiles read 12 or 16
 * token rows side by side; rows a multiple of 4 KiB apart (BF16 rows of
 * 2048 values) all fall into one set of a 64-set L1 and evict each other
 * (2048 x 2048 BF16 x 128 tokens: 225 GFLOP/s, 350 padded), while an odd
 * line count puts any 64 consecutive rows in distinct sets. */
size_t qlm_pack_float_act_row(qlm_type type, int64_t n_in);

/* Bytes of one token's act8 row (a multiple of 64). */
size_t qlm_act8_row_size(int64_t n_in);

static inline qlm_act8 qlm_act8_view(const void *row, int64_t n_in) {
    const char *p = (const char *)row;
    const int64_t nb = n_in / 32;
    qlm_act8 a = {(const int8_t *)p, (const float *)(p + n_in), (const float *)(p + n_in + 4 * nb),
                  (const int32_t *)(p + n_in + 8 * nb)};
    return a;
}
/* Stores block i's scales from a Q8 block quantizer's result: its float
 * (unrounded) scale d and the sum of its quants, rounded as Q8_0/Q8_1 do. */
static inline void qlm_act8_set_block(void *row, int64_t n_in, int64_t i, float d, int sum) {
    const qlm_act8 a = qlm_act8_view(row, n_in);
    ((float *)a.d)[i] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(d));
    ((float *)a.s)[i] = qlm_fp16_to_fp32(qlm_fp32_to_fp16((float)sum * d));
    ((int32_t *)a.sum)[i] = sum;
}

/* Quantizes n floats (n a multiple of 32) into the act8 row at dst. */
typedef void (*qlm_act8_quantize_fn)(const float *x, void *dst, int64_t n);
void qlm_act8_quantize_ref(const float *x, void *dst, int64_t n);

/* y[t * ldy + r] (r < 16, t < n_tok) = row r of the 16-row group at w
 * (n_blocks blocks) dotted with token t's activations (act rows act_stride
 * bytes apart). */
typedef void (*qlm_gemm_r16_fn)(const void *w, int64_t n_blocks, const void *act, size_t act_stride,
                                int64_t n_tok, float *y, int64_t ldy);

/* An R16 kernel entry point (qlm_gemm_r16_fn) as GEMM(KIND, ...): QUAL is
 * static or empty. */
#define QLM_R16_ENTRY_POINT(QUAL, NAME, GEMM, KIND)                                                          \
    QUAL void NAME(const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok, float *y,   \
                   int64_t ldy) {                                                                            \
        GEMM(KIND, w, nb, act, act_stride, n_tok, y, ldy);                                                   \
    }

/* Scalar references, the definition every SIMD R16 kernel must reproduce
 * bit for bit: per row, per block in order, acc += (float)isum * (dw * da)
 * (Q4_1 then acc += mw * s); isum the exact integer dot of the weights
 * (Q4: nibble - 8 for Q4_0, nibble for Q4_1) with the activation quants. */
void qlm_gemm_r16_q4_0_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);
void qlm_gemm_r16_q4_1_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);
void qlm_gemm_r16_q8_0_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);
/* Q5_0: 2-byte header d, then qh as quant chunk 0 (16 x 4 bytes, each row's
 * 32 fifth bits), then qs as chunks 1-4 (Q4's nibble order); weights q - 16. */
void qlm_gemm_r16_q5_0_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);
/* IQ4_NL (2-byte d) and MXFP4 (1-byte e, so its quant chunks start 16
 * bytes into the block): Q4's chunks, weights kvalues[nibble]; MXFP4's dw
 * is qlm_e8m0_half(e), the row-major reference's scale. */
void qlm_gemm_r16_iq4_nl_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                             float *y, int64_t ldy);
void qlm_gemm_r16_mxfp4_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                            float *y, int64_t ldy);
/* Q5_1: header fields d and m, then Q5_0's chunks; weights q (0..31) and
 * Q4_1's min term. */
void qlm_gemm_r16_q5_1_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);

/* Q4_K and Q5_K (Q8_K activation rows, act_stride apart): header fields d
 * and dmin, then the 12 scale bytes as quant chunks 0-2, Q5_K's qh as
 * chunks 3-10, then qs. Defined as the row-major reference: each row,
 * block by block, through qlm_dot_block_q4_k / _q5_k, so packed results
 * equal row-major ones bit for bit. */
void qlm_gemm_r16_q4_k_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);
void qlm_gemm_r16_q5_k_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);
/* IQ4_XS the same way: header fields d and scales_h, scales_l as quant
 * chunk 0, then qs. */
void qlm_gemm_r16_iq4_xs_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                             float *y, int64_t ldy);
/* Q6_K: header field d (last in the original block), then ql as quant
 * chunks 0-31, qh as 32-47, the 16 signed scales as 48-51. */
void qlm_gemm_r16_q6_k_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);
/* Q2_K: header fields d and dmin (last in the original block), then the 16
 * scale bytes (low nibble scale, high nibble minimum) as quant chunks 0-3,
 * qs as 4-19. Q3_K: header field d (last), then hmask as quant chunks 0-7,
 * qs as 8-23, the 12 packed scale bytes as 24-26. Both through
 * qlm_dot_block_q2_k / _q3_k, as Q4_K. */
void qlm_gemm_r16_q2_k_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);
void qlm_gemm_r16_q3_k_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);
/* TQ2_0: header field d (last in the original block), then qs as quant
 * chunks 0-15; through qlm_dot_block_tq2_0, as Q4_K. */
void qlm_gemm_r16_tq2_0_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                            float *y, int64_t ldy);

/* F32 x F32 activations (n_blocks = n_in): per row and token one chain
 * of fused multiply-adds (fmaf) in column order from 0: the AVX-512 tile's
 * lane r (acc += w[k] x[k], one FMA a column), so it gives these bits. */
void qlm_gemm_r16_f32_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                          float *y, int64_t ldy);
/* F16 x F32 activations (n_blocks = n_in / 2 value pairs): per row and
 * token two chains of fused multiply-adds (fmaf), one over the even values
 * and one over the odd ones, each in column order from 0, then y = even +
 * odd. The AVX-512 tile's lanes hold exactly these chains (rows in lane
 * pairs, values k and k + 1 side by side), so it gives these bits. */
void qlm_gemm_r16_f16_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                          float *y, int64_t ldy);
/* BF16 x BF16 activations (n_blocks = n_in / 2): per row and token one
 * running sum from 0, per pair of columns k, k + 1 in order: acc += w[k+1]
 * x[k+1], then acc += w[k] x[k], each step one rounding of the exact acc +
 * w x (a fused multiply-add), denormal inputs read as zero and
 * results below FLT_MIN (tininess after rounding) flushed to zero: the
 * steps of AVX512_BF16's vdpbf16ps as the Intel SDM defines it ("done in
 * 2 steps to allow for exact reproducible results"; DAZ, FTZ, RNE). */
void qlm_gemm_r16_bf16_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy);

#endif
