/* gguf.c - GGUF v2/v3 reader: maps a file and validates every byte of its
 * header, metadata and tensor table before anything is handed out.
 *
 * File layout (GGUF spec; all little-endian, nothing aligned before the data):
 *   "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv      x { string key | u32 vtype | value }
 *   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 type | u64 offset }
 *   zero padding up to general.alignment (default 32) | tensor data
 * string = u64 byte count + bytes (no NUL); array = u32 elem vtype + u64 count + elems.
 *
 * The file is hostile until proven otherwise: every count is bounded by the
 * bytes left before anything is allocated, every length is checked before it
 * is read, and duplicates are found through hash tables so that a file with
 * millions of entries costs linear time. Values and tensors keep pointers into
 * the file buffer; names and keys are copied into an arena freed at close. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAX_DEPTH 8       /* arrays inside arrays; real files use one level */
#define GGUF_MAX_KEY_LEN 65535 /* the spec's limit for a key */
#define GGUF_MAX_NAME_LEN 4096 /* ggml writes <= 64; accept more, but not absurd */
/* Smallest encodings (keys and names are non-empty), used to bound counts by
 * the bytes left *before* allocating anything for them. */
#define MIN_KV_BYTES 14     /* u64 len + 1-byte key + u32 vtype + 1-byte value */
#define MIN_TENSOR_BYTES 33 /* u64 len + 1-byte name + u32 n_dims + u64 ne + u32 type + u64 offset */
#define MIN_STRING_BYTES 8  /* u64 len */
#define MIN_ARRAY_BYTES 12  /* u32 elem type + u64 count */
#define ARENA_CHUNK (64 * 1024)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t mem[]; /* max_align_t keeps every allocation suitably aligned */
} arena_chunk;

/* Open-addressing table of names -> index; sized >= 2x entries, never grows. */
typedef struct name_slot {
    const char *name; /* NULL: empty */
    int64_t index;
} name_slot;

typedef struct name_table {
    name_slot *slots;
    uint64_t mask;
} name_table;

struct gguf_ctx {
    char *path;
    const uint8_t *data;
    size_t size;
    void *map;   /* mmap'd file, or NULL */
    void *owned; /* read() copy of the file, or NULL */
    uint32_t version;
    uint64_t alignment, data_offset;
    int64_t n_kv, n_tensors;
    gguf_kv *kvs;
    gguf_tensor *tensors;
    name_table kv_table, tensor_table;
    uint64_t seed;
    arena_chunk *arena;
};

typedef struct parser {
    gguf_ctx *c;
    const uint8_t *buf;
    size_t size, pos;
    qlm_errbuf *err;
    bool allow_unsupported;
    int64_t first_unsupported; /* tensor index + 1; reported after all format checks */
    char where[112];           /* `key "general.name"`, `tensor 3`: what is being read */
} parser;

/* ------------------------------------------------------------- errors */

/* Every message: "<path>: <where>: <what>" on one line. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static qlm_status fail(parser *p, qlm_status st, const char *fmt, ...) {
    char msg[360];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->where[0]) return qlm_err(p->err, st, "%s: %s: %s", p->c->path, p->where, msg);
    return qlm_err(p->err, st, "%s: %s", p->c->path, msg);
}

/* Names from a hostile file are shown shortened and with control bytes
 * replaced, so the message stays one readable line. */
static void set_where(parser *p, const char *kind, const char *name, size_t len) {
    char clean[64];
    size_t n = len < sizeof clean - 4 ? len : sizeof clean - 4;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        clean[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    if (n < len) {
        memcpy(clean + n, "...", 3);
        n += 3;
    }
    clean[n] = '\0';
    snprintf(p->where, sizeof p->where, "%s \"%s\"", kind, clean);
}

/* -------------------------------------------------------------- arena */

static void *arena_alloc(gguf_ctx *c, size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (size == 0) size = 16;
    arena_chunk *a = c->arena;
    if (!a || a->cap - a->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        if (cap > SIZE_MAX - sizeof *a) return NULL;
        a = malloc(sizeof *a + cap);
        if (!a) return NULL;
        a->next = c->arena;
        a->used = 0;
        a->cap = cap;
        c->arena = a;
    }
    void *r = (unsigned char *)a->mem + a->used;
    a->used += size;
    return r;
}

static void arena_free(arena_chunk *a) {
    while (a) {
        arena_chunk *next = a->next;
        free(a);
        a = next;
    }
}

/* -------------------------------------------------------- name tables */

static uint64_t mix64(uint64_t x) { /* murmur3 finaliser: full avalanche */
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Seeded per context so a crafted file cannot aim all its names at one
 * bucket; lookup results do not depend on the seed. */
static uint64_t hash_name(const char *s, size_t n, uint64_t seed) {
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix64(h ^ w);
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return mix64(h ^ w ^ ((uint64_t)n << 59));
}

static bool table_init(name_table *t, int64_t n) {
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2) cap <<= 1;
    t->slots = calloc(cap, sizeof *t->slots);
    t->mask = cap - 1;
    return t->slots != NULL;
}

/* Inserts name -> index; returns false if the name is already present. */
static bool table_insert(name_table *t, uint64_t seed, const char *name, int64_t index) {
    uint64_t i = hash_name(name, strlen(name), seed) & t->mask;
    for (; t->slots[i].name; i = (i + 1) & t->mask)
        if (strcmp(t->slots[i].name, name) == 0) return false;
    t->slots[i].name = name;
    t->slots[i].index = index;
    return true;
}

static int64_t table_find(const name_table *t, uint64_t seed, const char *name) {
    if (!t->slots || !name) return -1;
    uint64_t i = hash_name(name, strlen(name), seed) & t->mask;
    for (; t->slots[i].name; i = (i + 1) & t->mask)
        if (strcmp(t->slots[i].name, name) == 0) return t->slots[i].index;
    return -1;
}

/* ------------------------------------------------------------ reading */

static qlm_status rd_raw(parser *p, size_t n, const uint8_t **out, const char *what) {
    if (n > p->size - p->pos)
        return fail(p, QLM_ERR_FORMAT, "truncated: %s needs %zu bytes at offset %zu, %zu left",
                    what, n, p->pos, p->size - p->pos);
    *out = p->buf + p->pos;
    p->pos += n;
    return QLM_OK;
}

static qlm_status rd_u32(parser *p, uint32_t *v, const char *what) {
    const uint8_t *b = NULL;
    qlm_status st = rd_raw(p, 4, &b, what);
    if (st == QLM_OK) memcpy(v, b, 4);
    return st;
}

static qlm_status rd_u64(parser *p, uint64_t *v, const char *what) {
    const uint8_t *b = NULL;
    qlm_status st = rd_raw(p, 8, &b, what);
    if (st == QLM_OK) memcpy(v, b, 8);
    return st;
}

static qlm_status rd_str(parser *p, const uint8_t **s, uint64_t *len, const char *what) {
    size_t at = p->pos;
    qlm_status st = rd_u64(p, len, what);
    if (st != QLM_OK) return st;
    if (*len > p->size - p->pos)
        return fail(p, QLM_ERR_FORMAT,
                    "%s length %" PRIu64 " at offset %zu runs past the end of the file (%zu bytes left)",
                    what, *len, at, p->size - p->pos);
    *s = p->buf + p->pos;
    p->pos += (size_t)*len;
    return QLM_OK;
}

/* Reads a key or tensor name into a NUL-terminated arena copy. */
static qlm_status rd_name(parser *p, const char *what, uint64_t max, char **out) {
    const uint8_t *s = NULL;
    uint64_t len = 0;
    qlm_status st = rd_str(p, &s, &len, what);
    if (st != QLM_OK) return st;
    if (len == 0) return fail(p, QLM_ERR_FORMAT, "empty %s", what);
    if (len > max)
        return fail(p, QLM_ERR_FORMAT, "%s length %" PRIu64 " exceeds the limit of %" PRIu64,
                    what, len, max);
    if (memchr(s, 0, (size_t)len))
        return fail(p, QLM_ERR_FORMAT, "%s contains a NUL byte", what);
    char *copy = arena_alloc(p->c, (size_t)len + 1);
    if (!copy) return fail(p, QLM_ERR_NOMEM, "out of memory copying a %s", what);
    memcpy(copy, s, (size_t)len);
    copy[len] = '\0';
    *out = copy;
    return QLM_OK;
}

/* ----------------------------------------------------------- metadata */

static qlm_status parse_value(parser *p, gguf_vtype type, gguf_value *v, int depth);

/* Elements of fixed size are left packed in the file; strings and arrays get
 * an items[] array, allocated only after the count is shown to fit. */
static qlm_status parse_array(parser *p, gguf_value *v, int depth) {
    if (depth >= GGUF_MAX_DEPTH)
        return fail(p, QLM_ERR_FORMAT, "arrays nested deeper than %d levels at offset %zu",
                    GGUF_MAX_DEPTH, p->pos);
    uint32_t et = 0;
    uint64_t n = 0;
    qlm_status st = rd_u32(p, &et, "array element type");
    if (st == QLM_OK) st = rd_u64(p, &n, "array length");
    if (st != QLM_OK) return st;
    if (et >= GGUF_VTYPE_COUNT)
        return fail(p, QLM_ERR_FORMAT, "unknown array element type %" PRIu32 " at offset %zu",
                    et, p->pos - 12);
    v->elem_type = (gguf_vtype)et;
    v->len = n;
    size_t left = p->size - p->pos, esize = gguf_vtype_size(v->elem_type);
    size_t min = esize ? esize : et == GGUF_VTYPE_STRING ? MIN_STRING_BYTES : MIN_ARRAY_BYTES;
    if (n > left / min)
        return fail(p, QLM_ERR_FORMAT,
                    "array of %" PRIu64 " %s at offset %zu needs at least %zu bytes each, %zu left",
                    n, gguf_vtype_name(v->elem_type), p->pos - 12, min, left);
    if (esize) {
        v->raw = p->buf + p->pos;
        p->pos += (size_t)n * esize;
        return QLM_OK;
    }
    v->items = n ? arena_alloc(p->c, (size_t)n * sizeof *v->items) : NULL;
    if (n && !v->items)
        return fail(p, QLM_ERR_NOMEM, "out of memory for an array of %" PRIu64 " items", n);
    for (uint64_t i = 0; i < n; i++) {
        st = parse_value(p, v->elem_type, &v->items[i], depth + 1);
        if (st != QLM_OK) return st;
    }
    return QLM_OK;
}

static qlm_status parse_value(parser *p, gguf_vtype type, gguf_value *v, int depth) {
    memset(v, 0, sizeof *v);
    v->type = type;
    size_t size = gguf_vtype_size(type);
    if (size) {
        v->len = 1;
        return rd_raw(p, size, &v->raw, gguf_vtype_name(type));
    }
    if (type == GGUF_VTYPE_STRING) return rd_str(p, &v->raw, &v->len, "string");
    if (type == GGUF_VTYPE_ARRAY) return parse_array(p, v, depth);
    return fail(p, QLM_ERR_FORMAT, "unknown value type %u", (unsigned)type);
}

static qlm_status parse_kv(parser *p, int64_t i) {
    gguf_ctx *c = p->c;
    gguf_kv *kv = &c->kvs[i];
    snprintf(p->where, sizeof p->where, "kv %" PRId64 " at offset %zu", i, p->pos);
    qlm_status st = rd_name(p, "key", GGUF_MAX_KEY_LEN, &kv->key);
    if (st != QLM_OK) return st;
    set_where(p, "key", kv->key, strlen(kv->key));
    if (!table_insert(&c->kv_table, c->seed, kv->key, i))
        return fail(p, QLM_ERR_FORMAT, "duplicate key (kv %" PRId64 ")", i);
    uint32_t type = 0;
    st = rd_u32(p, &type, "value type");
    if (st != QLM_OK) return st;
    if (type >= GGUF_VTYPE_COUNT)
        return fail(p, QLM_ERR_FORMAT, "unknown value type %" PRIu32, type);
    st = parse_value(p, (gguf_vtype)type, &kv->value, 0);
    if (st == QLM_OK) c->n_kv = i + 1;
    return st;
}

static qlm_status parse_header(parser *p, uint64_t *n_tensors, uint64_t *n_kv) {
    const uint8_t *magic = NULL;
    qlm_status st = rd_raw(p, 4, &magic, "magic");
    if (st != QLM_OK) return st;
    if (memcmp(magic, GGUF_MAGIC, 4) != 0)
        return fail(p, QLM_ERR_FORMAT, "bad magic %02x %02x %02x %02x (not a GGUF file)",
                    magic[0], magic[1], magic[2], magic[3]);
    uint32_t version = 0;
    if ((st = rd_u32(p, &version, "version")) != QLM_OK) return st;
    if (version == 1)
        return fail(p, QLM_ERR_UNSUPPORTED,
                    "GGUF version 1 is not supported (it used 32-bit counts; re-convert the file)");
    if (version != 2 && version != 3)
        return fail(p, QLM_ERR_UNSUPPORTED, "GGUF version %" PRIu32 " is not supported (only 2 and 3)",
                    version);
    p->c->version = version;
    if ((st = rd_u64(p, n_tensors, "tensor count")) != QLM_OK) return st;
    if ((st = rd_u64(p, n_kv, "kv count")) != QLM_OK) return st;
    size_t left = p->size - p->pos;
    if (*n_kv > left / MIN_KV_BYTES)
        return fail(p, QLM_ERR_FORMAT, "kv count %" PRIu64 " cannot fit in the %zu bytes left",
                    *n_kv, left);
    if (*n_tensors > left / MIN_TENSOR_BYTES ||
        *n_tensors * MIN_TENSOR_BYTES > left - *n_kv * MIN_KV_BYTES)
        return fail(p, QLM_ERR_FORMAT,
                    "tensor count %" PRIu64 " (with %" PRIu64 " kvs) cannot fit in the %zu bytes left",
                    *n_tensors, *n_kv, left);
    return QLM_OK;
}

static qlm_status parse_kvs(parser *p, uint64_t n) {
    gguf_ctx *c = p->c;
    c->kvs = calloc(n ? n : 1, sizeof *c->kvs);
    if (!c->kvs || !table_init(&c->kv_table, (int64_t)n))
        return fail(p, QLM_ERR_NOMEM, "out of memory for %" PRIu64 " kvs", n);
    for (uint64_t i = 0; i < n; i++) {
        qlm_status st = parse_kv(p, (int64_t)i);
        if (st != QLM_OK) return st;
    }
    p->where[0] = '\0';
    return QLM_OK;
}

/* general.alignment, if present, must be a u32 power of two (spec). */
static qlm_status resolve_alignment(parser *p) {
    p->c->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_value *v = gguf_find(p->c, "general.alignment");
    if (!v) return QLM_OK;
    set_where(p, "key", "general.alignment", 17);
    if (v->type != GGUF_VTYPE_UINT32)
        return fail(p, QLM_ERR_FORMAT, "has type %s, expected uint32", gguf_vtype_name(v->type));
    uint32_t a;
    memcpy(&a, v->raw, 4);
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(p, QLM_ERR_FORMAT, "alignment %" PRIu32 " is not a nonzero power of two", a);
    p->c->alignment = a;
    p->where[0] = '\0';
    return QLM_OK;
}

/* ------------------------------------------------------------ tensors */

static qlm_status parse_dims(parser *p, gguf_tensor *t) {
    qlm_status st = rd_u32(p, &t->n_dims, "n_dims");
    if (st != QLM_OK) return st;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return fail(p, QLM_ERR_FORMAT, "n_dims %" PRIu32 " is outside 1..%d", t->n_dims,
                    GGUF_MAX_DIMS);
    int64_t n_elements = 1;
    bool overflow = false;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < t->n_dims && (st = rd_u64(p, &ne, "dimension")) != QLM_OK) return st;
        if (ne > (uint64_t)INT64_MAX)
            return fail(p, QLM_ERR_FORMAT, "dimension %" PRIu32 " is negative (%" PRId64 ")", d,
                        (int64_t)ne);
        t->ne[d] = (int64_t)ne;
        overflow |= __builtin_mul_overflow(n_elements, t->ne[d], &n_elements);
    }
    if (overflow)
        return fail(p, QLM_ERR_FORMAT,
                    "element count %" PRId64 " x %" PRId64 " x %" PRId64 " x %" PRId64 " overflows",
                    t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
    return QLM_OK;
}

/* Checks the type id and computes n_bytes = row bytes * rows without overflow. */
static qlm_status tensor_size(parser *p, gguf_tensor *t, uint32_t type, int64_t index) {
    const qlm_type_traits *tt = qlm_type_traits_get(type);
    if (!tt) return fail(p, QLM_ERR_FORMAT, "unknown tensor type %" PRIu32, type);
    t->type = (qlm_type)type;
    if (!tt->to_float && !p->allow_unsupported && !p->first_unsupported)
        p->first_unsupported = index + 1;
    if (t->ne[0] % tt->block_size != 0)
        return fail(p, QLM_ERR_FORMAT, "ne[0] = %" PRId64 " is not a multiple of the %s block size %" PRId64,
                    t->ne[0], tt->name, tt->block_size);
    uint64_t row, rows = 1, bytes;
    bool overflow = __builtin_mul_overflow((uint64_t)(t->ne[0] / tt->block_size),
                                           (uint64_t)tt->type_size, &row);
    for (int d = 1; d < GGUF_MAX_DIMS; d++)
        overflow |= __builtin_mul_overflow(rows, (uint64_t)t->ne[d], &rows);
    overflow |= __builtin_mul_overflow(row, rows, &bytes);
    if (overflow) return fail(p, QLM_ERR_FORMAT, "size in bytes overflows");
    t->n_bytes = bytes;
    return QLM_OK;
}

static qlm_status parse_tensor_info(parser *p, int64_t i) {
    gguf_ctx *c = p->c;
    gguf_tensor *t = &c->tensors[i];
    snprintf(p->where, sizeof p->where, "tensor %" PRId64 " at offset %zu", i, p->pos);
    qlm_status st = rd_name(p, "tensor name", GGUF_MAX_NAME_LEN, &t->name);
    if (st != QLM_OK) return st;
    set_where(p, "tensor", t->name, strlen(t->name));
    if (!table_insert(&c->tensor_table, c->seed, t->name, i))
        return fail(p, QLM_ERR_FORMAT, "duplicate tensor name (tensor %" PRId64 ")", i);
    if ((st = parse_dims(p, t)) != QLM_OK) return st;
    uint32_t type = 0;
    if ((st = rd_u32(p, &type, "tensor type")) != QLM_OK) return st;
    if ((st = tensor_size(p, t, type, i)) != QLM_OK) return st;
    if ((st = rd_u64(p, &t->offset, "tensor offset")) != QLM_OK) return st;
    c->n_tensors = i + 1;
    return QLM_OK;
}

static qlm_status parse_tensor_infos(parser *p, uint64_t n) {
    gguf_ctx *c = p->c;
    c->tensors = calloc(n ? n : 1, sizeof *c->tensors);
    if (!c->tensors || !table_init(&c->tensor_table, (int64_t)n))
        return fail(p, QLM_ERR_NOMEM, "out of memory for %" PRIu64 " tensors", n);
    for (uint64_t i = 0; i < n; i++) {
        qlm_status st = parse_tensor_info(p, (int64_t)i);
        if (st != QLM_OK) return st;
    }
    p->where[0] = '\0';
    return QLM_OK;
}

typedef struct extent {
    uint64_t begin, end;
    int64_t index;
} extent;

static int cmp_extent(const void *a, const void *b) {
    const extent *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorted by offset, each tensor must start at or after the furthest end seen
 * so far; empty tensors occupy no bytes and cannot overlap. */
static qlm_status check_overlaps(parser *p) {
    gguf_ctx *c = p->c;
    extent *e = malloc((size_t)(c->n_tensors ? c->n_tensors : 1) * sizeof *e);
    if (!e) return fail(p, QLM_ERR_NOMEM, "out of memory checking tensor overlaps");
    int64_t n = 0;
    for (int64_t i = 0; i < c->n_tensors; i++)
        if (c->tensors[i].n_bytes)
            e[n++] = (extent){c->tensors[i].offset, c->tensors[i].offset + c->tensors[i].n_bytes, i};
    qsort(e, (size_t)n, sizeof *e, cmp_extent);
    int64_t far = -1;
    for (int64_t i = 0; i < n; i++) {
        if (far >= 0 && e[i].begin < e[far].end) {
            const gguf_tensor *t = &c->tensors[e[i].index];
            set_where(p, "tensor", t->name, strlen(t->name));
            qlm_status st = fail(p, QLM_ERR_FORMAT, "data at offset %" PRIu64 " overlaps tensor \"%.64s\"",
                                 t->offset, c->tensors[e[far].index].name);
            free(e);
            return st;
        }
        if (far < 0 || e[i].end > e[far].end) far = i;
    }
    free(e);
    return QLM_OK;
}

/* The data section starts at the first aligned offset after the tensor infos.
 * A file without tensors may end before it (nothing is read there). */
static qlm_status place_tensors(parser *p) {
    gguf_ctx *c = p->c;
    uint64_t a = c->alignment;
    c->data_offset = ((uint64_t)p->pos + a - 1) / a * a;
    for (int64_t i = 0; i < c->n_tensors; i++) {
        gguf_tensor *t = &c->tensors[i];
        set_where(p, "tensor", t->name, strlen(t->name));
        if (t->offset % a != 0)
            return fail(p, QLM_ERR_FORMAT, "data offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                        t->offset, a);
        uint64_t room = c->data_offset <= c->size ? c->size - c->data_offset : 0;
        if (c->data_offset > c->size || t->offset > room || t->n_bytes > room - t->offset)
            return fail(p, QLM_ERR_FORMAT,
                        "data [%" PRIu64 ", +%" PRIu64 ") past data start %" PRIu64 " lies outside the file (%zu bytes)",
                        t->offset, t->n_bytes, c->data_offset, c->size);
        t->data = c->data + c->data_offset + t->offset;
    }
    p->where[0] = '\0';
    return check_overlaps(p);
}

static qlm_status parse(gguf_ctx *c, bool allow_unsupported, qlm_errbuf *err) {
    parser p = {.c = c, .buf = c->data, .size = c->size, .err = err,
                .allow_unsupported = allow_unsupported};
    uint64_t n_tensors = 0, n_kv = 0;
    qlm_status st = parse_header(&p, &n_tensors, &n_kv);
    if (st == QLM_OK) st = parse_kvs(&p, n_kv);
    if (st == QLM_OK) st = resolve_alignment(&p);
    if (st == QLM_OK) st = parse_tensor_infos(&p, n_tensors);
    if (st == QLM_OK) st = place_tensors(&p);
    if (st == QLM_OK && p.first_unsupported) {
        const gguf_tensor *t = &c->tensors[p.first_unsupported - 1];
        set_where(&p, "tensor", t->name, strlen(t->name));
        st = fail(&p, QLM_ERR_UNSUPPORTED, "tensor type %s is not supported yet",
                  qlm_type_name(t->type));
    }
    return st;
}

/* ---------------------------------------------------------- open/close */

static qlm_status ctx_new(const char *name, gguf_ctx **out, qlm_errbuf *err) {
    gguf_ctx *c = calloc(1, sizeof *c);
    if (c) c->path = strdup(name);
    if (!c || !c->path) {
        free(c);
        return qlm_err(err, QLM_ERR_NOMEM, "%s: out of memory", name);
    }
    /* Addresses vary run to run under ASLR: enough to keep collisions unpredictable. */
    c->seed = mix64((uint64_t)(uintptr_t)c ^ ((uint64_t)(uintptr_t)&ctx_new << 21));
    *out = c;
    return QLM_OK;
}

static qlm_status read_all(gguf_ctx *c, int fd, qlm_errbuf *err) {
    size_t cap = (c->size + 63) & ~(size_t)63; /* aligned_alloc wants a multiple */
    c->owned = aligned_alloc(64, cap ? cap : 64);
    if (!c->owned)
        return qlm_err(err, QLM_ERR_NOMEM, "%s: out of memory reading %zu bytes", c->path, c->size);
    size_t got = 0;
    while (got < c->size) {
        ssize_t r = read(fd, (char *)c->owned + got, c->size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return qlm_err(err, QLM_ERR_IO, "%s: read failed: %s", c->path, strerror(errno));
        if (r == 0) return qlm_err(err, QLM_ERR_IO, "%s: file shrank while reading", c->path);
        got += (size_t)r;
    }
    c->data = c->owned;
    return QLM_OK;
}

static qlm_status load_file(gguf_ctx *c, bool use_mmap, bool writable, qlm_errbuf *err) {
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return qlm_err(err, QLM_ERR_IO, "%s: cannot open: %s", c->path, strerror(errno));
    struct stat sb;
    qlm_status st = QLM_OK;
    if (fstat(fd, &sb) != 0)
        st = qlm_err(err, QLM_ERR_IO, "%s: cannot stat: %s", c->path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = qlm_err(err, QLM_ERR_IO, "%s: not a regular file", c->path);
    else if ((uint64_t)sb.st_size > SIZE_MAX / 2)
        st = qlm_err(err, QLM_ERR_IO, "%s: file too large to map", c->path);
    if (st != QLM_OK) {
        close(fd);
        return st;
    }
    c->size = (size_t)sb.st_size;
    if (use_mmap && c->size > 0) {
        void *m = mmap(NULL, c->size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            c->map = m;
            c->data = m;
        }
    }
    if (!c->data) st = read_all(c, fd, err); /* no mmap wanted, or it failed */
    close(fd);
    return st;
}

qlm_status gguf_open(const char *path, const gguf_open_params *params, gguf_ctx **out,
                     qlm_errbuf *err) {
    qlm_err_clear(err);
    if (out) *out = NULL;
    if (!path || !out) return qlm_err(err, QLM_ERR_INVALID_ARG, "gguf_open: NULL argument");
    gguf_open_params defaults = {.use_mmap = true};
    if (!params) params = &defaults;
    gguf_ctx *c = NULL;
    qlm_status st = ctx_new(path, &c, err);
    if (st != QLM_OK) return st;
    st = load_file(c, params->use_mmap, params->writable, err);
    if (st == QLM_OK) st = parse(c, params->allow_unsupported_types, err);
    if (st != QLM_OK) {
        gguf_close(c);
        return st;
    }
    *out = c;
    return QLM_OK;
}

qlm_status gguf_open_memory_ex(const void *buf, size_t size, const char *name,
                               const gguf_open_params *params, gguf_ctx **out, qlm_errbuf *err) {
    qlm_err_clear(err);
    if (out) *out = NULL;
    if (!out || (!buf && size))
        return qlm_err(err, QLM_ERR_INVALID_ARG, "gguf_open_memory: NULL argument");
    gguf_ctx *c = NULL;
    qlm_status st = ctx_new(name ? name : "<memory>", &c, err);
    if (st != QLM_OK) return st;
    c->data = buf ? buf : (const uint8_t *)"";
    c->size = size;
    st = parse(c, params && params->allow_unsupported_types, err);
    if (st != QLM_OK) {
        gguf_close(c);
        return st;
    }
    *out = c;
    return QLM_OK;
}

qlm_status gguf_open_memory(const void *buf, size_t size, const char *name, gguf_ctx **out,
                            qlm_errbuf *err) {
    return gguf_open_memory_ex(buf, size, name, NULL, out, err);
}

void gguf_close(gguf_ctx *c) {
    if (!c) return;
    if (c->map) munmap(c->map, c->size);
    free(c->owned);
    free(c->kvs);
    free(c->tensors);
    free(c->kv_table.slots);
    free(c->tensor_table.slots);
    arena_free(c->arena);
    free(c->path);
    free(c);
}

/* Only the interior pages: a page the range shares with its neighbours
 * (another tensor, the metadata the kvs point into) keeps its bytes. On the
 * private mapping, pages never written are file cache mapped in, which
 * MADV_DONTNEED unmaps (they leave the resident set); on the read() copy it
 * frees the anonymous pages. Both are ours alone, so dropping them touches
 * nothing else. */
void gguf_discard(gguf_ctx *c, const void *data, size_t n) {
    if (!c || (!c->map && !c->owned)) return;
    const uintptr_t lo = (uintptr_t)data, hi = lo + n, base = (uintptr_t)c->data;
    if (lo < base || hi < lo || hi > base + c->size) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t first = (lo + page - 1) & ~(page - 1), last = hi & ~(page - 1);
    if (first < last) (void)madvise((void *)first, last - first, MADV_DONTNEED);
}

/* ----------------------------------------------------------- accessors */

uint32_t gguf_version(const gguf_ctx *c) { return c->version; }
uint64_t gguf_alignment(const gguf_ctx *c) { return c->alignment; }
uint64_t gguf_data_offset(const gguf_ctx *c) { return c->data_offset; }
const char *gguf_path(const gguf_ctx *c) { return c->path; }
const void *gguf_file_data(const gguf_ctx *c) { return c->data; }
size_t gguf_file_size(const gguf_ctx *c) { return c->size; }
int64_t gguf_kv_count(const gguf_ctx *c) { return c ? c->n_kv : 0; }
int64_t gguf_tensor_count(const gguf_ctx *c) { return c ? c->n_tensors : 0; }

const gguf_kv *gguf_kv_at(const gguf_ctx *c, int64_t i) {
    return c && i >= 0 && i < c->n_kv ? &c->kvs[i] : NULL;
}

const gguf_tensor *gguf_tensor_at(const gguf_ctx *c, int64_t i) {
    return c && i >= 0 && i < c->n_tensors ? &c->tensors[i] : NULL;
}

const gguf_value *gguf_find(const gguf_ctx *c, const char *key) {
    if (!c) return NULL;
    int64_t i = table_find(&c->kv_table, c->seed, key);
    return i >= 0 ? &c->kvs[i].value : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_ctx *c, const char *name) {
    if (!c) return NULL;
    int64_t i = table_find(&c->tensor_table, c->seed, name);
    return i >= 0 ? &c->tensors[i] : NULL;
}
