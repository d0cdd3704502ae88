/* types.h - the type table: one row per tensor type, the single place that
 * describes a format (block size, bytes per block, conversions, dot product).
 * Type ids are GGUF's (ggml_type) so file values map directly. */
#ifndef QLM_TYPES_H
#define QLM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* K-quants: 256-value super-blocks (ggml's QK_K). */
#define QLM_QK_K 256
/* The K-quants' activation format: a float scale (not F16), 256 int8 quants
 * and the sum of each 16 of them (bsums), which the K formats' per-sub-block
 * minimums and offsets multiply without touching the quants again. */
typedef struct { float d; int8_t qs[QLM_QK_K]; int16_t bsums[QLM_QK_K / 16]; } qlm_block_q8_k;

#endif
