/* gguf.h - GGUF v2/v3 reader and writer.
 *
 * The reader validates everything before anything is used: magic, version,
 * counts against the file size, string and array lengths (with overflow
 * checks), nested arrays, tensor dims and element counts, tensor types,
 * data ranges inside the file, alignment, overlaps and duplicate names.
 * After gguf_open succeeds every pointer it hands out lies inside the file
 * buffer, so callers need no further bounds checks.
 * Little-endian hosts only (GGUF is little-endian). */
#ifndef QLM_GGUF_H
#define QLM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"
#include "types.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

typedef enum gguf_vtype {
    GGUF_VTYPE_UINT8 = 0,
    GGUF_VTYPE_INT8 = 1,
    GGUF_VTYPE_UINT16 = 2,
    GGUF_VTYPE_INT16 = 3,
    GGUF_VTYPE_UINT32 = 4,
    GGUF_VTYPE_INT32 = 5,
    GGUF_VTYPE_FLOAT32 = 6,
    GGUF_VTYPE_BOOL = 7,
    GGUF_VTYPE_STRING = 8,
    GGUF_VTYPE_ARRAY = 9,
    GGUF_VTYPE_UINT64 = 10,
    GGUF_VTYPE_INT64 = 11,
    GGUF_VTYPE_FLOAT64 = 12,
    GGUF_VTYPE_COUNT
} gguf_vtype;

const char *gguf_vtype_name(gguf_vtype t);
/* Bytes of a fixed-size scalar type; 0 for STRING/ARRAY/unknown. */
size_t gguf_vtype_size(gguf_vtype t);

/* One metadata value. Pointers point into the file buffer.
 *  - fixed scalar:  raw -> its little-endian bytes, len = 1
 *  - STRING:        raw -> the bytes (not NUL-terminated), len = byte count
 *  - ARRAY of fixed scalars: raw -> packed elements, len = count, items = NULL
 *  - ARRAY of STRING or ARRAY: items[len] parsed recursively, raw = NULL */
typedef struct gguf_value {
    gguf_vtype type;
    gguf_vtype elem_type; /* for ARRAY */
    uint64_t len;
    const uint8_t *raw;
    struct gguf_value *items;
} gguf_value;

typedef struct gguf_kv {
    char *key; /* NUL-terminated copy */
    gguf_value value;
} gguf_kv;

typedef struct gguf_tensor {
    char *name; /* NUL-terminated copy */
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* unused dims are 1 */
    qlm_type type;
    uint64_t offset;  /* relative to the data section */
    uint64_t n_bytes;
    const void *data; /* inside the file buffer */
} gguf_tensor;

typedef struct gguf_ctx gguf_ctx;

typedef struct gguf_open_params {
    bool use_mmap;     /* false: read() the file into memory */
    bool allow_unsupported_types; /* accept known ggml type ids qlm cannot compute */
    bool writable;     /* map copy-on-write, so weights can be repacked in place
                          (the file itself is never written) */
} gguf_open_params;

/* Opens and validates a file. On failure returns an error status, writes the
 * reason (prefixed by the path) to err, and sets *out = NULL. */
qlm_status gguf_open(const char *path, const gguf_open_params *p, gguf_ctx **out, qlm_errbuf *err);
/* Same, over a caller-owned buffer that must outlive the context (tests, fuzzing). */
qlm_status gguf_open_memory(const void *buf, size_t size, const char *name, gguf_ctx **out,
                            qlm_errbuf *err);
/* Same, with params (allow_unsupported_types; use_mmap is ignored). */
qlm_status gguf_open_memory_ex(const void *buf, size_t size, const char *name,
                               const gguf_open_params *p, gguf_ctx **out, qlm_errbuf *err);
void gguf_close(gguf_ctx *ctx);

uint32_t gguf_version(const gguf_ctx *ctx);
uint64_t gguf_alignment(const gguf_ctx *ctx);
uint64_t gguf_data_offset(const gguf_ctx *ctx); /* start of the tensor data section */
const char *gguf_path(const gguf_ctx *ctx);
const void *gguf_file_data(const gguf_ctx *ctx);
size_t gguf_file_size(const gguf_ctx *ctx);

int64_t gguf_kv_count(const gguf_ctx *ctx);
const gguf_kv *gguf_kv_at(const gguf_ctx *ctx, int64_t i);
const gguf_value *gguf_find(const gguf_ctx *ctx, const char *key); /* NULL if absent */

/* Typed getters: return false if the key is absent or of an incompatible type.
 * Integer getters accept any integer vtype whose value fits the target. */
bool gguf_get_u32(const gguf_ctx *ctx, const char *key, uint32_t *out);
bool gguf_get_i32(const gguf_ctx *ctx, const char *key, int32_t *out);
bool gguf_get_u64(const gguf_ctx *ctx, const char *key, uint64_t *out);
bool gguf_get_f32(const gguf_ctx *ctx, const char *key, float *out); /* FLOAT32 or FLOAT64 */
bool gguf_get_bool(const gguf_ctx *ctx, const char *key, bool *out);
bool gguf_get_str(const gguf_ctx *ctx, const char *key, const char **s, size_t *len);

/* Value accessors (v must be of the named kind; false otherwise). */
bool gguf_value_u64(const gguf_value *v, uint64_t *out); /* any unsigned/non-negative int */
bool gguf_value_i64(const gguf_value *v, int64_t *out);  /* any int that fits */
bool gguf_value_f64(const gguf_value *v, double *out);   /* any numeric */
/* Element i of an array (STRING elements and fixed ones alike). */
bool gguf_arr_str(const gguf_value *arr, uint64_t i, const char **s, size_t *len);
bool gguf_arr_f32(const gguf_value *arr, uint64_t i, float *out); /* FLOAT32 arrays */
bool gguf_arr_i64(const gguf_value *arr, uint64_t i, int64_t *out); /* integer arrays */
/* Formats a value for humans (arrays abbreviated after max_items); snprintf contract. */
size_t gguf_value_format(const gguf_value *v, char *buf, size_t cap, int max_items);

int64_t gguf_tensor_count(const gguf_ctx *ctx);
const gguf_tensor *gguf_tensor_at(const gguf_ctx *ctx, int64_t i);
const gguf_tensor *gguf_find_tensor(const gguf_ctx *ctx, const char *name); /* hashed */

/* The caller will never read bytes [data, data + n) of the file buffer again
 * (the loader copied a tensor elsewhere): returns the whole pages among them
 * to the OS. Afterwards they read as the file's bytes (a private mapping) or
 * as zeros (the read() copy). A no-op on a caller's buffer (gguf_open_memory)
 * or a range outside the buffer. */
void gguf_discard(gguf_ctx *ctx, const void *data, size_t n);

/* ------------------------------------------------------------------ writer */

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void); /* NULL on allocation failure */
void gguf_writer_free(gguf_writer *w);
void gguf_writer_set_version(gguf_writer *w, uint32_t version); /* 2 or 3; default 3 */
void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment); /* also writes general.alignment */

/* Scalar metadata (value given as its C type). Keys keep insertion order;
 * setting an existing key replaces its value. All return false on OOM. */
bool gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v);
bool gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v);
bool gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v);
bool gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v);
bool gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
bool gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
bool gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
bool gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
bool gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
bool gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v);
bool gguf_writer_set_f64(gguf_writer *w, const char *key, double v);
bool gguf_writer_set_str(gguf_writer *w, const char *key, const char *s);
/* Array of fixed-size elements (packed little-endian). */
bool gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *data, uint64_t n);
bool gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Raw value bytes as they appear after the type field (nested arrays, tests). */
bool gguf_writer_set_raw(gguf_writer *w, const char *key, gguf_vtype type, const void *bytes, size_t n);

/* A value parsed from a GGUF file (copying metadata from one file to
 * another); booleans are normalised to 0/1 as gguf does. */
bool gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v);

/* Adds a tensor; data (n_bytes = qlm_row_size(type, ne[0]) * rows) is copied. */
bool gguf_writer_add_tensor(gguf_writer *w, const char *name, qlm_type type, uint32_t n_dims,
                            const int64_t *ne, const void *data);
/* Adds a tensor's name, type and shape only, for callers that stream the
 * data themselves after gguf_writer_write_meta (the quantizer): each
 * tensor at the next multiple of the alignment, the last one unpadded.
 * write_file and write_memory refuse writers holding such tensors. */
bool gguf_writer_add_tensor_info(gguf_writer *w, const char *name, qlm_type type, uint32_t n_dims,
                                 const int64_t *ne);

qlm_status gguf_writer_write_file(const gguf_writer *w, const char *path, qlm_errbuf *err);
/* Serialises to a malloc'd buffer the caller frees. */
qlm_status gguf_writer_write_memory(const gguf_writer *w, void **buf, size_t *size, qlm_errbuf *err);
/* The header, metadata and tensor infos alone, padded to the alignment
 * (where the data section starts), in a malloc'd buffer the caller frees. */
qlm_status gguf_writer_write_meta(const gguf_writer *w, void **buf, size_t *size, qlm_errbuf *err);

#endif
