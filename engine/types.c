/* types.c - the type table and scalar half/bfloat conversions.
 * Block sizes and bytes per block follow the GGUF/ggml definitions, so the
 * reader can validate every known type even where qlm has no kernels yet
 * (those rows have NULL functions). */
#include "types.h"

#include "quant_ref.h"

#include <string.h>

_Static_assert(sizeof(qlm_block_q4_0) == 2 + QLM_QK4_0 / 2, "q4_0 block size");
_Static_assert(sizeof(qlm_block_q4_1) == 4 + QLM_QK4_1 / 2, "q4_1 block size");
_Static_assert(sizeof(qlm_block_q8_0) == 2 + QLM_QK8_0, "q8_0 block size");
_Static_assert(sizeof(qlm_block_q8_1) == 4 + QLM_QK8_1, "q8_1 block size");
_Static_assert(sizeof(qlm_block_q8_k) == 4 + QLM_QK_K + QLM_QK_K / 8, "q8_K block size");

#define ROW(t, bs, ts, q) [QLM_TYPE_##t] = {.name = #t, .block_size = bs, .type_size = ts, .is_quantized = q}
#define QK_K 256

static const qlm_type_traits known[QLM_TYPE_COUNT] = {
    [QLM_TYPE_F32] = {.name = "F32", .block_size = 1, .type_size = 4,
                      .to_float = qlm_f32_to_float, .from_float = qlm_f32_from_float,
                      .vec_dot_type = QLM_TYPE_F32, .vec_dot = qlm_vec_dot_f32_f32},
    [QLM_TYPE_F16] = {.name = "F16", .block_size = 1, .type_size = 2,
                      .to_float = qlm_f16_to_float, .from_float = qlm_f16_from_float,
                      .vec_dot_type = QLM_TYPE_F32, .vec_dot = qlm_vec_dot_f16_f32},
    [QLM_TYPE_BF16] = {.name = "BF16", .block_size = 1, .type_size = 2,
                       .to_float = qlm_bf16_to_float, .from_float = qlm_bf16_from_float,
                       .vec_dot_type = QLM_TYPE_BF16, .vec_dot = qlm_vec_dot_bf16_bf16},
    [QLM_TYPE_Q4_0] = {.name = "Q4_0", .block_size = QLM_QK4_0, .type_size = sizeof(qlm_block_q4_0),
                       .is_quantized = true, .to_float = qlm_q4_0_to_float,
                       .from_float = qlm_q4_0_from_float, .vec_dot_type = QLM_TYPE_Q8_0,
                       .vec_dot = qlm_vec_dot_q4_0_q8_0},
    [QLM_TYPE_Q4_1] = {.name = "Q4_1", .block_size = QLM_QK4_1, .type_size = sizeof(qlm_block_q4_1),
                       .is_quantized = true, .to_float = qlm_q4_1_to_float,
                       .from_float = qlm_q4_1_from_float, .vec_dot_type = QLM_TYPE_Q8_1,
                       .vec_dot = qlm_vec_dot_q4_1_q8_1},
    [QLM_TYPE_Q8_0] = {.name = "Q8_0", .block_size = QLM_QK8_0, .type_size = sizeof(qlm_block_q8_0),
                       .is_quantized = true, .to_float = qlm_q8_0_to_float,
                       .from_float = qlm_q8_0_from_float, .vec_dot_type = QLM_TYPE_Q8_0,
                       .vec_dot = qlm_vec_dot_q8_0_q8_0},
    /* Q8_1 is an activation format: it is never a weight, so it has no vec_dot. */
    [QLM_TYPE_Q8_1] = {.name = "Q8_1", .block_size = QLM_QK8_1, .type_size = sizeof(qlm_block_q8_1),
                       .is_quantized = true, .to_float = qlm_q8_1_to_float,
                       .from_float = qlm_q8_1_from_float, .vec_dot_type = QLM_TYPE_Q8_1},
    /* Q8_K, like Q8_1, is an activation format only. */
    [QLM_TYPE_Q8_K] = {.name = "Q8_K", .block_size = QLM_QK_K, .type_size = sizeof(qlm_block_q8_k),
                       .is_quantized = true, .to_float = qlm_q8_k_to_float,
                       .from_float = qlm_q8_k_from_float, .vec_dot_type = QLM_TYPE_Q8_K},
    /* Weight formats beyond ggml's first ones: 5-bit, K-quants (Q8_K
     * activations), lookup-table 4-bit (IQ4_NL, IQ4_XS, MXFP4), ternary. The
     * ROW entries are known to GGUF but not computed by qlm yet: sizes only,
     * for validation and --info. */
    [QLM_TYPE_Q5_0] = {.name = "Q5_0", .block_size = QLM_QK5_0, .type_size = sizeof(qlm_block_q5_0),
                       .is_quantized = true, .to_float = qlm_q5_0_to_float,
                       .from_float = qlm_q5_0_from_float, .vec_dot_type = QLM_TYPE_Q8_0,
                       .vec_dot = qlm_vec_dot_q5_0_q8_0},
    [QLM_TYPE_Q5_1] = {.name = "Q5_1", .block_size = QLM_QK5_1, .type_size = sizeof(qlm_block_q5_1),
                       .is_quantized = true, .to_float = qlm_q5_1_to_float,
                       .from_float = qlm_q5_1_from_float, .vec_dot_type = QLM_TYPE_Q8_1,
                       .vec_dot = qlm_vec_dot_q5_1_q8_1},
    [QLM_TYPE_Q2_K] = {.name = "Q2_K", .block_size = QLM_QK_K, .type_size = sizeof(qlm_block_q2_k),
                       .is_quantized = true, .to_float = qlm_q2_k_to_float,
                       .from_float = qlm_q2_k_from_float, .vec_dot_type = QLM_TYPE_Q8_K,
                       .vec_dot = qlm_vec_dot_q2_k_q8_k},
    [QLM_TYPE_Q3_K] = {.name = "Q3_K", .block_size = QLM_QK_K, .type_size = sizeof(qlm_block_q3_k),
                       .is_quantized = true, .to_float = qlm_q3_k_to_float,
                       .from_float = qlm_q3_k_from_float, .vec_dot_type = QLM_TYPE_Q8_K,
                       .vec_dot = qlm_vec_dot_q3_k_q8_k},
    [QLM_TYPE_Q4_K] = {.name = "Q4_K", .block_size = QLM_QK_K, .type_size = sizeof(qlm_block_q4_k),
                       .is_quantized = true, .to_float = qlm_q4_k_to_float,
                       .from_float = qlm_q4_k_from_float, .vec_dot_type = QLM_TYPE_Q8_K,
                       .vec_dot = qlm_vec_dot_q4_k_q8_k},
    [QLM_TYPE_Q5_K] = {.name = "Q5_K", .block_size = QLM_QK_K, .type_size = sizeof(qlm_block_q5_k),
                       .is_quantized = true, .to_float = qlm_q5_k_to_float,
                       .from_float = qlm_q5_k_from_float, .vec_dot_type = QLM_TYPE_Q8_K,
                       .vec_dot = qlm_vec_dot_q5_k_q8_k},
    [QLM_TYPE_Q6_K] = {.name = "Q6_K", .block_size = QLM_QK_K, .type_size = sizeof(qlm_block_q6_k),
                       .is_quantized = true, .to_float = qlm_q6_k_to_float,
                       .from_float = qlm_q6_k_from_float, .vec_dot_type = QLM_TYPE_Q8_K,
                       .vec_dot = qlm_vec_dot_q6_k_q8_k},
    ROW(IQ2_XXS, QK_K, 66, true),
    ROW(IQ2_XS, QK_K, 74, true),
    ROW(IQ3_XXS, QK_K, 98, true),
    ROW(IQ1_S, QK_K, 50, true),
    [QLM_TYPE_IQ4_NL] = {.name = "IQ4_NL", .block_size = QLM_QK4_NL, .type_size = sizeof(qlm_block_iq4_nl),
                         .is_quantized = true, .to_float = qlm_iq4_nl_to_float,
                         .from_float = qlm_iq4_nl_from_float, .vec_dot_type = QLM_TYPE_Q8_0,
                         .vec_dot = qlm_vec_dot_iq4_nl_q8_0},
    ROW(IQ3_S, QK_K, 110, true),
    ROW(IQ2_S, QK_K, 82, true),
    [QLM_TYPE_IQ4_XS] = {.name = "IQ4_XS", .block_size = QLM_QK_K, .type_size = sizeof(qlm_block_iq4_xs),
                         .is_quantized = true, .to_float = qlm_iq4_xs_to_float,
                         .from_float = qlm_iq4_xs_from_float, .vec_dot_type = QLM_TYPE_Q8_K,
                         .vec_dot = qlm_vec_dot_iq4_xs_q8_k},
    ROW(I8, 1, 1, false),
    ROW(I16, 1, 2, false),
    ROW(I32, 1, 4, false),
    ROW(I64, 1, 8, false),
    ROW(F64, 1, 8, false),
    ROW(IQ1_M, QK_K, 56, true),
    [QLM_TYPE_TQ1_0] = {.name = "TQ1_0", .block_size = QLM_QK_K, .type_size = sizeof(qlm_block_tq1_0),
                        .is_quantized = true, .to_float = qlm_tq1_0_to_float,
                        .from_float = qlm_tq1_0_from_float, .vec_dot_type = QLM_TYPE_Q8_K,
                        .vec_dot = qlm_vec_dot_tq1_0_q8_k},
    [QLM_TYPE_TQ2_0] = {.name = "TQ2_0", .block_size = QLM_QK_K, .type_size = sizeof(qlm_block_tq2_0),
                        .is_quantized = true, .to_float = qlm_tq2_0_to_float,
                        .from_float = qlm_tq2_0_from_float, .vec_dot_type = QLM_TYPE_Q8_K,
                        .vec_dot = qlm_vec_dot_tq2_0_q8_k},
    [QLM_TYPE_MXFP4] = {.name = "MXFP4", .block_size = QLM_QK_MXFP4, .type_size = sizeof(qlm_block_mxfp4),
                        .is_quantized = true, .to_float = qlm_mxfp4_to_float,
                        .from_float = qlm_mxfp4_from_float, .vec_dot_type = QLM_TYPE_Q8_0,
                        .vec_dot = qlm_vec_dot_mxfp4_q8_0},
};

const qlm_type_traits *qlm_type_traits_get(uint32_t type) {
    if (type >= QLM_TYPE_COUNT || known[type].name == NULL) return NULL;
    return &known[type];
}

const char *qlm_type_name(uint32_t type) {
    const qlm_type_traits *t = qlm_type_traits_get(type);
    return t ? t->name : "?";
}

size_t qlm_row_size(qlm_type type, int64_t n) {
    const qlm_type_traits *t = qlm_type_traits_get(type);
    if (!t || n < 0 || n % t->block_size != 0) return 0;
    return (size_t)(n / t->block_size) * t->type_size;
}

/* IEEE 754 binary16 <-> binary32 by bit manipulation (portable; the SIMD
 * backends use F16C / NEON conversions which give identical results). */
float qlm_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* Inf / NaN */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do { e++; man <<= 1; } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t qlm_fp32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* Inf or NaN (NaN stays quiet NaN) */
        return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 | ((ax >> 13) & 0x3ff) : 0);
    if (ax >= 0x477ff000u) return sign | 0x7c00; /* rounds past 65504: Inf */
    if (ax < 0x38800000u) {                      /* result is subnormal or zero */
        if (ax < 0x33000000u) return sign;       /* below half the smallest subnormal */
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;                /* 14 + (112 - e) ... into 10 bits */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = ax - 0x38000000u; /* rebias exponent 127 -> 15 */
    uint32_t out = r >> 13, rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (out & 1))) out++;
    return sign | (uint16_t)out;
}

float qlm_bf16_to_fp32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t qlm_fp32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    x += 0x7fff + ((x >> 16) & 1); /* round to nearest even */
    return (uint16_t)(x >> 16);
}
