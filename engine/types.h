/* types.h - the type table: one row per tensor type, the single place that
 * describes a format (block size, bytes per block, conversions, dot product).
 * Type ids are GGUF's (ggml_type) so file values map directly. */
#ifndef QLM_TYPES_H
#define QLM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The CUDA backend (C++) includes this header too: C11's _Static_assert is
 * C++'s static_assert. */
#ifdef __cplusplus
#define _Static_assert static_assert
#endif

typedef enum qlm_type {
    QLM_TYPE_F32 = 0,
    QLM_TYPE_F16 = 1,
    QLM_TYPE_Q4_0 = 2,
    QLM_TYPE_Q4_1 = 3,
    QLM_TYPE_Q5_0 = 6,
    QLM_TYPE_Q5_1 = 7,
    QLM_TYPE_Q8_0 = 8,
    QLM_TYPE_Q8_1 = 9,
    QLM_TYPE_Q2_K = 10,
    QLM_TYPE_Q3_K = 11,
    QLM_TYPE_Q4_K = 12,
    QLM_TYPE_Q5_K = 13,
    QLM_TYPE_Q6_K = 14,
    QLM_TYPE_Q8_K = 15,
    QLM_TYPE_IQ2_XXS = 16,
    QLM_TYPE_IQ2_XS = 17,
    QLM_TYPE_IQ3_XXS = 18,
    QLM_TYPE_IQ1_S = 19,
    QLM_TYPE_IQ4_NL = 20,
    QLM_TYPE_IQ3_S = 21,
    QLM_TYPE_IQ2_S = 22,
    QLM_TYPE_IQ4_XS = 23,
    QLM_TYPE_I8 = 24,
    QLM_TYPE_I16 = 25,
    QLM_TYPE_I32 = 26,
    QLM_TYPE_I64 = 27,
    QLM_TYPE_F64 = 28,
    QLM_TYPE_IQ1_M = 29,
    QLM_TYPE_BF16 = 30,
    QLM_TYPE_TQ1_0 = 34,
    QLM_TYPE_TQ2_0 = 35,
    QLM_TYPE_MXFP4 = 39,
    QLM_TYPE_COUNT = 40
} qlm_type;

/* Converts n values (n a multiple of the block size). */
typedef void (*qlm_to_float_fn)(const void *src, float *dst, int64_t n);
/* Reference quantizer: n floats into blocks (n a multiple of the block size). */
typedef void (*qlm_from_float_fn)(const float *src, void *dst, int64_t n);
/* *s = dot(x, y) over n values; x is a row of this type, y a row of vec_dot_type. */
typedef void (*qlm_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);

typedef struct qlm_type_traits {
    const char *name;          /* "Q4_0"; NULL for ids that are not a type */
    int64_t block_size;        /* values per block */
    size_t type_size;          /* bytes per block */
    bool is_quantized;
    qlm_to_float_fn to_float;     /* NULL: qlm cannot read this type yet */
    qlm_from_float_fn from_float; /* NULL: no quantizer */
    qlm_type vec_dot_type;        /* activations are converted to this before the dot */
    qlm_vec_dot_fn vec_dot;       /* scalar reference; NULL: no matmul support */
} qlm_type_traits;

/* Row for a type id from a file; NULL if the id is not a known type. */
const qlm_type_traits *qlm_type_traits_get(uint32_t type);
const char *qlm_type_name(uint32_t type); /* "?" for unknown ids */
/* Bytes of a row of n values; 0 if n is not a multiple of the block size. */
size_t qlm_row_size(qlm_type type, int64_t n);

/* Scalar half/bfloat conversions (IEEE 754 binary16, round to nearest even). */
float qlm_fp16_to_fp32(uint16_t h);
uint16_t qlm_fp32_to_fp16(float f);
float qlm_bf16_to_fp32(uint16_t h);
uint16_t qlm_fp32_to_bf16(float f); /* round to nearest even, NaN kept quiet */

/* Block layouts (ggml-compatible; sizes asserted in types.c). */
#define QLM_QK4_0 32
#define QLM_QK4_1 32
#define QLM_QK8_0 32
#define QLM_QK8_1 32

typedef struct { uint16_t d; uint8_t qs[QLM_QK4_0 / 2]; } qlm_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[QLM_QK4_1 / 2]; } qlm_block_q4_1;
typedef struct { uint16_t d; int8_t qs[QLM_QK8_0]; } qlm_block_q8_0;
/* s = d * sum(qs), precomputed so Q4_1's offset term costs one multiply. */
typedef struct { uint16_t d, s; int8_t qs[QLM_QK8_1]; } qlm_block_q8_1;

/* The other 32-value formats (engine/quant_ref_q5.c). Q5: value j's low 4
 * bits are in qs as Q4's (byte j low nibble for j < 16, byte j - 16 high
 * nibble otherwise) and its 5th bit is bit j of qh (little-endian u32). */
#define QLM_QK5_0 32
#define QLM_QK5_1 32
#define QLM_QK4_NL 32
#define QLM_QK_MXFP4 32
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QLM_QK5_0 / 2]; } qlm_block_q5_0;       /* d (q - 16) */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QLM_QK5_1 / 2]; } qlm_block_q5_1; /* d q + m */
typedef struct { uint16_t d; uint8_t qs[QLM_QK4_NL / 2]; } qlm_block_iq4_nl; /* d kvalues_iq4nl[q] */
/* e: E8M0 exponent; value = kvalues_mxfp4[q] (twice E2M1) * 2^(e - 128) */
typedef struct { uint8_t e; uint8_t qs[QLM_QK_MXFP4 / 2]; } qlm_block_mxfp4;
_Static_assert(sizeof(qlm_block_q5_0) == 22, "q5_0 block size");
_Static_assert(sizeof(qlm_block_q5_1) == 24, "q5_1 block size");
_Static_assert(sizeof(qlm_block_iq4_nl) == 18, "iq4_nl block size");
_Static_assert(sizeof(qlm_block_mxfp4) == 17, "mxfp4 block size");
/* ggml's kvalues_iq4nl and kvalues_mxfp4 (defined in quant_ref_q5.c). */
extern const int8_t qlm_kvalues_iq4nl[16];
extern const int8_t qlm_kvalues_mxfp4[16];
/* 2^(e - 128), i.e. half the E8M0 value 2^(e - 127) (the kvalues are doubled),
 * exact for every e: 2^-128 and 2^-127 are float subnormals. */
static inline float qlm_e8m0_half(uint8_t e) {
    const union { uint32_t u; float f; } v = {e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23};
    return v.f; /* reading the other member reinterprets the bits (C11 6.5.2.3) */
}

/* K-quants: 256-value super-blocks (ggml's QK_K). */
#define QLM_QK_K 256
/* The K-quants' activation format: a float scale (not F16), 256 int8 quants
 * and the sum of each 16 of them (bsums), which the K formats' per-sub-block
 * minimums and offsets multiply without touching the quants again. */
typedef struct { float d; int8_t qs[QLM_QK_K]; int16_t bsums[QLM_QK_K / 16]; } qlm_block_q8_k;

/* Q4_K / Q5_K: 8 sub-blocks of 32, value = d * sc[j] * q - dmin * m[j] with
 * 6-bit sc, m packed into scales[12] (engine/quant_ref_kquants.c unpacks
 * them); qs: 4 groups of 32 bytes, low nibbles sub-block 2g, high 2g + 1.
 * Q5_K's fifth bits: bit 2g (2g + 1) of qh[l] for value l of sub-block 2g
 * (2g + 1). Q6_K: 16 sub-blocks of 16, value = d * scales[j] * (q - 32) with
 * q's low 4 bits in ql and high 2 in qh (layout in quant_ref_kquants.c). */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QLM_QK_K / 2]; } qlm_block_q4_k;
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[QLM_QK_K / 8];
    uint8_t qs[QLM_QK_K / 2];
} qlm_block_q5_k;
typedef struct {
    uint8_t ql[QLM_QK_K / 2];
    uint8_t qh[QLM_QK_K / 4];
    int8_t scales[QLM_QK_K / 16];
    uint16_t d;
} qlm_block_q6_k;

/* Low-bit super-blocks (engine/quant_ref_kquants_low.c has the layouts in
 * detail). Q2_K: 16 sub-blocks of 16, value = d * (scales[j] & 15) * q -
 * dmin * (scales[j] >> 4), q 2 bits. Q3_K: value = d * (sc[j] - 32) * q, q
 * in -4..3 (2 bits in qs, the third in hmask), 6-bit sc packed in scales[12].
 * IQ4_XS: 8 sub-blocks of 32, value = d * (ls[j] - 32) * kvalues_iq4nl[q],
 * 6-bit ls in scales_l / scales_h. */
typedef struct {
    uint8_t scales[QLM_QK_K / 16];
    uint8_t qs[QLM_QK_K / 4];
    uint16_t d, dmin;
} qlm_block_q2_k;
typedef struct {
    uint8_t hmask[QLM_QK_K / 8];
    uint8_t qs[QLM_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} qlm_block_q3_k;
typedef struct {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QLM_QK_K / 64];
    uint8_t qs[QLM_QK_K / 2];
} qlm_block_iq4_xs;
_Static_assert(sizeof(qlm_block_q2_k) == 84, "q2_K block size");
_Static_assert(sizeof(qlm_block_q3_k) == 110, "q3_K block size");
_Static_assert(sizeof(qlm_block_iq4_xs) == 136, "iq4_xs block size");
/* Ternary (value = d * t, t in -1..1): TQ1_0 packs 5 trits a byte in qs
 * (4 in qh), TQ2_0 one t + 1 per 2 bits; d the block's largest magnitude. */
typedef struct { uint8_t qs[48]; uint8_t qh[4]; uint16_t d; } qlm_block_tq1_0;
typedef struct { uint8_t qs[QLM_QK_K / 4]; uint16_t d; } qlm_block_tq2_0;
_Static_assert(sizeof(qlm_block_tq1_0) == 54, "tq1_0 block size");
_Static_assert(sizeof(qlm_block_tq2_0) == 66, "tq2_0 block size");

#endif
