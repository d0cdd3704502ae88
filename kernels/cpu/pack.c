/* pack.c - the R16 layout (see pack.h): packing, unpacking a row, the act8
 * activation rows and the scalar reference kernels for packed weights. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "pack.h"
#include "quant_ref.h"

/* Per-type shape of a block: header bytes (scale fields of field bytes
 * each: fp16, or MXFP4's one E8M0 byte) and quant bytes; the header starts
 * at byte header_at of the original block (0, or after the quants: Q6_K
 * keeps d last), and always comes first in the packed block. */
typedef struct block_shape {
    size_t header, quants, field, header_at;
} block_shape;

static int shape_of(qlm_type t, block_shape *s) {
    switch (t) {
    case QLM_TYPE_Q4_0: *s = (block_shape){2, QLM_QK4_0 / 2, 2, 0}; return 1;
    case QLM_TYPE_Q4_1: *s = (block_shape){4, QLM_QK4_1 / 2, 2, 0}; return 1;
    case QLM_TYPE_Q8_0: *s = (block_shape){2, QLM_QK8_0, 2, 0}; return 1;
    /* Q5_0's qh (4 bytes) packs as its first quant chunk, qs as the next 4 */
    case QLM_TYPE_Q5_0: *s = (block_shape){2, 4 + QLM_QK5_0 / 2, 2, 0}; return 1;
    case QLM_TYPE_IQ4_NL: *s = (block_shape){2, QLM_QK4_NL / 2, 2, 0}; return 1;
    case QLM_TYPE_MXFP4: *s = (block_shape){1, QLM_QK_MXFP4 / 2, 1, 0}; return 1;
    /* Q5_1: d and m, then Q5_0's quant chunks */
    case QLM_TYPE_Q5_1: *s = (block_shape){4, 4 + QLM_QK5_1 / 2, 2, 0}; return 1;
    /* K-quants: d and dmin; the 12 scale bytes as quant chunks 0-2, then
     * (Q5_K) qh as chunks 3-10, then qs */
    case QLM_TYPE_Q4_K: *s = (block_shape){4, 12 + QLM_QK_K / 2, 2, 0}; return 1;
    case QLM_TYPE_Q5_K: *s = (block_shape){4, 12 + QLM_QK_K / 8 + QLM_QK_K / 2, 2, 0}; return 1;
    /* IQ4_XS: d and scales_h; scales_l as quant chunk 0, then qs */
    case QLM_TYPE_IQ4_XS: *s = (block_shape){4, QLM_QK_K / 64 + QLM_QK_K / 2, 2, 0}; return 1;
    /* Q6_K: ql as quant chunks 0-31, qh 32-47, the 16 scales 48-51; d last */
    case QLM_TYPE_Q6_K: *s = (block_shape){2, QLM_QK_K / 2 + QLM_QK_K / 4 + QLM_QK_K / 16, 2, offsetof(qlm_block_q6_k, d)}; return 1;
    /* Q2_K: scales as quant chunks 0-3, qs 4-19; d and dmin last */
    case QLM_TYPE_Q2_K:
        *s = (block_shape){4, QLM_QK_K / 16 + QLM_QK_K / 4, 2, offsetof(qlm_block_q2_k, d)};
        return 1;
    /* Q3_K: hmask as quant chunks 0-7, qs 8-23, the 12 scale bytes 24-26; d last */
    case QLM_TYPE_Q3_K:
        *s = (block_shape){2, QLM_QK_K / 8 + QLM_QK_K / 4 + 12, 2, offsetof(qlm_block_q3_k, d)};
        return 1;
    /* TQ2_0: qs as quant chunks 0-15 (Q2_K's field layout); d last */
    case QLM_TYPE_TQ2_0: *s = (block_shape){2, QLM_QK_K / 4, 2, offsetof(qlm_block_tq2_0, d)}; return 1;
    /* F16, BF16: a "block" of 2 values, one 4-byte quant chunk, no header */
    case QLM_TYPE_F16:
    case QLM_TYPE_BF16: *s = (block_shape){0, 4, 2, 0}; return 1;
    /* F32: a block of 1 value, one 4-byte quant chunk */
    case QLM_TYPE_F32: *s = (block_shape){0, 4, 4, 0}; return 1;
    default: return 0;
    }
}

/* Values per packed block: the type's block, or F16/BF16's pair (their
 * type-table block is one value, and a 2-byte block would not fill the
 * 4-byte lane of a row in a quant chunk). */
static int64_t pack_block_values(qlm_type t) {
    return t == QLM_TYPE_F16 || t == QLM_TYPE_BF16 ? 2 : qlm_type_traits_get(t)->block_size;
}

int64_t qlm_pack_blocks(qlm_type type, int64_t n_in) { return n_in / pack_block_values(type); }

int qlm_pack_supported(qlm_type type, int64_t n_in, int64_t n_rows) {
    block_shape s;
    return shape_of(type, &s) && n_rows > 0 && n_rows % QLM_PACK_ROWS == 0 && n_in > 0 &&
           n_in % pack_block_values(type) == 0;
}

/* Block b of row r (0..15) <-> its packed place, byte by byte: header field
 * bytes go to field-major slots, quant bytes to 4-byte lanes of 16 rows. */
static size_t packed_offset(const block_shape *s, int r, size_t byte) {
    if (byte >= s->header_at && byte < s->header_at + s->header) {
        const size_t h = byte - s->header_at;
        return (h / s->field) * s->field * QLM_PACK_ROWS + (size_t)r * s->field + h % s->field;
    }
    const size_t q = byte < s->header_at ? byte : byte - s->header;
    return s->header * QLM_PACK_ROWS + (q / 4) * 4 * QLM_PACK_ROWS + (size_t)r * 4 + q % 4;
}

static void pack_group(const block_shape *s, int64_t nb, const char *rows, size_t row_bytes, char *dst) {
    const size_t bb = s->header + s->quants;
    for (int64_t b = 0; b < nb; b++) {
        char *out = dst + (size_t)b * bb * QLM_PACK_ROWS;
        for (int r = 0; r < QLM_PACK_ROWS; r++) {
            const char *blk = rows + (size_t)r * row_bytes + (size_t)b * bb;
            for (size_t i = 0; i < bb; i++) out[packed_offset(s, r, i)] = blk[i];
        }
    }
}

void qlm_pack_groups(qlm_tensor *w, void *data, int64_t g0, int64_t g1, void *tmp) {
    block_shape s;
    if (!shape_of(w->type, &s)) return;
    const int64_t nb = qlm_pack_blocks(w->type, w->ne[0]);
    const size_t group_bytes = QLM_PACK_ROWS * w->row_bytes;
    for (int64_t g = g0; g < g1; g++) {
        char *grp = (char *)data + (size_t)g * group_bytes;
        memcpy(tmp, grp, group_bytes);
        pack_group(&s, nb, tmp, w->row_bytes, grp);
    }
}

void qlm_tensor_row_bytes(const qlm_tensor *w, int64_t r, void *dst) {
    block_shape s;
    const char *data = w->data;
    if (w->layout != QLM_LAYOUT_R16 || !shape_of(w->type, &s)) {
        memcpy(dst, data + (size_t)r * w->row_bytes, w->row_bytes);
        return;
    }
    const size_t bb = s.header + s.quants;
    const int64_t nb = qlm_pack_blocks(w->type, w->ne[0]);
    const char *grp = data + (size_t)(r / QLM_PACK_ROWS) * QLM_PACK_ROWS * w->row_bytes;
    for (int64_t b = 0; b < nb; b++)
        for (size_t i = 0; i < bb; i++)
            ((char *)dst)[(size_t)b * bb + i] =
                grp[(size_t)b * bb * QLM_PACK_ROWS + packed_offset(&s, (int)(r % QLM_PACK_ROWS), i)];
}

void qlm_tensor_row_to_float(const qlm_tensor *w, int64_t r, float *dst, void *tmp_row) {
    const qlm_type_traits *t = qlm_type_traits_get(w->type);
    if (w->layout == QLM_LAYOUT_ROWS) {
        t->to_float((const char *)w->data + (size_t)r * w->row_bytes, dst, w->ne[0]);
        return;
    }
    qlm_tensor_row_bytes(w, r, tmp_row);
    t->to_float(tmp_row, dst, w->ne[0]);
}

size_t qlm_pack_float_act_row(qlm_type type, int64_t n_in) {
    const qlm_type at = qlm_type_traits_get(type)->vec_dot_type;
    const size_t lines = (qlm_row_size(at, n_in) + 63) / 64;
    return (lines | 1) * 64;
}

/* ------------------------------------------------------------------ act8 */

size_t qlm_act8_row_size(int64_t n_in) {
    const size_t bytes = (size_t)n_in + (size_t)(n_in / 32) * 12;
    return (bytes + 63) / 64 * 64;
}

/* Through the Q8_1 reference quantizer, so the quants, d and s are those the
 * row-major path computes. */
void qlm_act8_quantize_ref(const float *x, void *dst, int64_t n) {
    const qlm_act8 a = qlm_act8_view(dst, n);
    for (int64_t b = 0; b < n / 32; b++) {
        qlm_block_q8_1 blk;
        qlm_type_traits_get(QLM_TYPE_Q8_1)->from_float(x + b * 32, &blk, 32);
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) sum += blk.qs[j];
        memcpy((int8_t *)a.q + b * 32, blk.qs, 32);
        ((float *)a.d)[b] = qlm_fp16_to_fp32(blk.d);
        ((float *)a.s)[b] = qlm_fp16_to_fp32(blk.s);
        ((int32_t *)a.sum)[b] = sum;
    }
}

/* ----------------------------------------------------- reference kernels */

/* Weight value j (0..31) of row r in a packed block's quant section. */
static int q4_value(const uint8_t *qs, int r, int j) {
    const int byte = (j % 16) / 4 * 4 * QLM_PACK_ROWS + r * 4 + j % 4;
    return j < 16 ? qs[byte] & 0x0f : qs[byte] >> 4;
}

static int q8_value(const uint8_t *qs, int r, int j) {
    return (int8_t)qs[j / 4 * 4 * QLM_PACK_ROWS + r * 4 + j % 4];
}

static float f16_at(const uint8_t *p, int i) {
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return qlm_fp16_to_fp32(h);
}

/* Q5_0 value j of row r: the Q4 nibble from the chunks after qh, its fifth
 * bit from row r's qh (chunk 0, little-endian), minus 16. */
static int q5_0_value(const uint8_t *qs, int r, int j) {
    const uint8_t *qh = qs + r * 4;
    return (q4_value(qs + 4 * QLM_PACK_ROWS, r, j) | ((qh[j / 8] >> (j % 8)) & 1) << 4) - 16;
}

enum { KIND_Q4_0, KIND_Q4_1, KIND_Q8_0, KIND_Q5_0, KIND_IQ4_NL, KIND_MXFP4, KIND_Q5_1 };

/* Weight value j (0..31) of row r as an integer, by kind. */
static int value_of(int kind, const uint8_t *qs, int r, int j) {
    switch (kind) {
    case KIND_Q8_0: return q8_value(qs, r, j);
    case KIND_Q5_0: return q5_0_value(qs, r, j);
    case KIND_Q5_1: return q5_0_value(qs, r, j) + 16;
    case KIND_IQ4_NL: return qlm_kvalues_iq4nl[q4_value(qs, r, j)];
    case KIND_MXFP4: return qlm_kvalues_mxfp4[q4_value(qs, r, j)];
    default: return q4_value(qs, r, j) - (kind == KIND_Q4_0 ? 8 : 0);
    }
}

/* Row r's block scale: fp16 d, or MXFP4's 2^(e - 128) (types.h: the
 * row-major reference's scale, exact for every e). */
static float scale_of(int kind, const uint8_t *blk, int r) {
    return kind == KIND_MXFP4 ? qlm_e8m0_half(blk[r]) : f16_at(blk, r);
}

/* One generic loop over the kinds above. Each block's values are decoded
 * once for all tokens; y holds the running sums, so each output is 0, then
 * + block 0's term, + block 1's, ... */
static void gemm_r16_ref(int kind, const void *w, int64_t nb, const void *act, size_t act_stride, int64_t n_tok,
                         float *y, int64_t ldy) {
    static const qlm_type types[] = {QLM_TYPE_Q4_0,   QLM_TYPE_Q4_1,  QLM_TYPE_Q8_0, QLM_TYPE_Q5_0,
                                     QLM_TYPE_IQ4_NL, QLM_TYPE_MXFP4, QLM_TYPE_Q5_1};
    block_shape s;
    shape_of(types[kind], &s);
    const size_t bb = (s.header + s.quants) * QLM_PACK_ROWS;
    const int64_t n_in = nb * 32;
    for (int64_t t = 0; t < n_tok; t++)
        for (int r = 0; r < QLM_PACK_ROWS; r++) y[t * ldy + r] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)w + b * bb, *qs = blk + s.header * QLM_PACK_ROWS;
        int vals[QLM_PACK_ROWS][32];
        for (int r = 0; r < QLM_PACK_ROWS; r++)
            for (int j = 0; j < 32; j++) vals[r][j] = value_of(kind, qs, r, j);
        for (int64_t t = 0; t < n_tok; t++) {
            const qlm_act8 a = qlm_act8_view((const char *)act + t * act_stride, n_in);
            const int8_t *aq = a.q + b * 32;
            for (int r = 0; r < QLM_PACK_ROWS; r++) {
                int32_t isum = 0;
                for (int j = 0; j < 32; j++) isum += vals[r][j] * aq[j];
                const float dd = scale_of(kind, blk, r) * a.d[b];
                float acc = y[t * ldy + r];
                acc += (float)isum * dd;
                if (kind == KIND_Q4_1 || kind == KIND_Q5_1) acc += f16_at(blk + 2 * QLM_PACK_ROWS, r) * a.s[b];
                y[t * ldy + r] = acc;
            }
        }
    }
}

QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_0_ref, gemm_r16_ref, KIND_Q4_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q4_1_ref, gemm_r16_ref, KIND_Q4_1)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q8_0_ref, gemm_r16_ref, KIND_Q8_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q5_0_ref, gemm_r16_ref, KIND_Q5_0)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_iq4_nl_ref, gemm_r16_ref, KIND_IQ4_NL)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_mxfp4_ref, gemm_r16_ref, KIND_MXFP4)
QLM_R16_ENTRY_POINT(, qlm_gemm_r16_q5_1_ref, gemm_r16_ref, KIND_Q5_1)

/* K-quants: each row's block is gathered back from the packed bytes and
 * added by the row-major reference's own block step, so packed and
 * row-major results are the same bits (activations: Q8_K rows). */
static void gemm_r16_kquant_ref(qlm_type type, float (*step)(float, const void *, const void *), const void *w,
                                int64_t nb, const void *act, size_t act_stride, int64_t n_tok, float *y,
                                int64_t ldy) {
    block_shape s;
    shape_of(type, &s);
    const size_t bb = s.header + s.quants;
    for (int64_t t = 0; t < n_tok; t++)
        for (int r = 0; r < QLM_PACK_ROWS; r++) y[t * ldy + r] = 0.0f;
    if (bb > sizeof(qlm_block_q6_k)) return; /* not a K type (pack.h lists those) */
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)w + (size_t)b * bb * QLM_PACK_ROWS;
        for (int r = 0; r < QLM_PACK_ROWS; r++) {
            uint8_t row_block[sizeof(qlm_block_q6_k)]; /* the largest packed K block */
            for (size_t i = 0; i < bb; i++) row_block[i] = blk[packed_offset(&s, r, i)];
            for (int64_t t = 0; t < n_tok; t++) {
                const qlm_block_q8_k *a = (const qlm_block_q8_k *)((const char *)act + t * act_stride) + b;
                y[t * ldy + r] = step(y[t * ldy + r], row_block, a);
            }
        }
    }
}

/* qlm_gemm_r16_NAME_ref for the 256-value formats, over their block steps. */
#define KQUANT_REF(NAME, TYPE)                                                                               \
    void qlm_gemm_r16_##NAME##_ref(const void *w, int64_t nb, const void *act, size_t act_stride,            \
                                   int64_t n_tok, float *y, int64_t ldy) {                                   \
        gemm_r16_kquant_ref(TYPE, qlm_dot_block_##NAME, w, nb, act, act_stride, n_tok, y, ldy);             \
    }

KQUANT_REF(q4_k, QLM_TYPE_Q4_K)
KQUANT_REF(q5_k, QLM_TYPE_Q5_K)
KQUANT_REF(q6_k, QLM_TYPE_Q6_K)
KQUANT_REF(iq4_xs, QLM_TYPE_IQ4_XS)
KQUANT_REF(q2_k, QLM_TYPE_Q2_K)
KQUANT_REF(q3_k, QLM_TYPE_Q3_K)
KQUANT_REF(tq2_0, QLM_TYPE_TQ2_0)

/* ------------------------------------------------- F32, F16 and BF16 */

void qlm_gemm_r16_f32_ref(const void *w, int64_t n_blocks, const void *act, size_t act_stride, int64_t n_tok,
                          float *y, int64_t ldy) {
    for (int64_t t = 0; t < n_tok; t++) {
        const float *x = (const float *)((const char *)act + t * act_stride);
        for (int r = 0; r < QLM_PACK_ROWS; r++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < n_blocks; k++) {
                float v;
                memcpy(&v, (const uint8_t *)w + k * 4 * QLM_PACK_ROWS + 4 * r, 4);
                acc = fmaf(v, x[k], acc);
            }
            y[t * ldy + r] = acc;
        }
    }
}

/* Value j (0, 1) of row r in a packed F16/BF16 block (pair of columns). */
static uint16_t pair_value(const uint8_t *blk, int r, int j) {
    uint16_t h;
    memcpy(&h, blk + 4 * r + 2 * j, 2);
    return h;
}

void qlm_gemm_r16_f16_ref(const void *w, int64_t np, const void *act, size_t act_stride, int64_t n_tok,
                          float *y, int64_t ldy) {
    for (int64_t t = 0; t < n_tok; t++) {
        const float *x = (const float *)((const char *)act + t * act_stride);
        for (int r = 0; r < QLM_PACK_ROWS; r++) {
            float even = 0.0f, odd = 0.0f;
            for (int64_t p = 0; p < np; p++) {
                const uint8_t *blk = (const uint8_t *)w + p * 4 * QLM_PACK_ROWS;
                even = fmaf(qlm_fp16_to_fp32(pair_value(blk, r, 0)), x[2 * p], even);
                odd = fmaf(qlm_fp16_to_fp32(pair_value(blk, r, 1)), x[2 * p + 1], odd);
            }
            y[t * ldy + r] = even + odd;
        }
    }
}

/* A BF16 value as vdpbf16ps reads it: denormals as zero of their sign. */
static float bf16_daz(uint16_t h) { return qlm_bf16_to_fp32((h & 0x7f80) == 0 ? h & 0x8000 : h); }

/* acc + a b as one vdpbf16ps step (pack.h). In double, acc + a b is exact
 * or, where it is not (terms more than 53 bits apart), lies far from any
 * float rounding boundary: converting it gives the once-rounded float sum.
 * Flushing: the hardware detects tininess after rounding to 24 bits with
 * an unbounded exponent (acc = FLT_MIN, a b = -2^-152 gives FLT_MIN, a b =
 * -1.5 2^-151 gives 0, measured on Emerald Rapids), i.e. it flushes
 * exactly the sums below FLT_MIN - 2^-151 in magnitude. acc is never
 * denormal: every step's result is flushed. */
static float bf16_step(float acc, uint16_t a, uint16_t b) {
    const double v = (double)bf16_daz(a) * bf16_daz(b) + acc;
    const float r = (float)v;
    return fabs(v) < (double)FLT_MIN - 0x1p-151 ? copysignf(0.0f, r) : r;
}

void qlm_gemm_r16_bf16_ref(const void *w, int64_t np, const void *act, size_t act_stride, int64_t n_tok,
                           float *y, int64_t ldy) {
    for (int64_t t = 0; t < n_tok; t++) {
        const uint16_t *x = (const uint16_t *)((const char *)act + t * act_stride);
        for (int r = 0; r < QLM_PACK_ROWS; r++) {
            float acc = 0.0f;
            for (int64_t p = 0; p < np; p++) {
                const uint8_t *blk = (const uint8_t *)w + p * 4 * QLM_PACK_ROWS;
                acc = bf16_step(acc, pair_value(blk, r, 1), x[2 * p + 1]);
                acc = bf16_step(acc, pair_value(blk, r, 0), x[2 * p]);
            }
            y[t * ldy + r] = acc;
        }
    }
}
