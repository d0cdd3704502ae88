/* gguf_writer.c - builds GGUF v2/v3 files (converters, quantizer, tests).
 *
 * Metadata values are kept already encoded (the bytes after the vtype field),
 * so the output is a straight concatenation. Tensor data is laid out in
 * insertion order, each tensor at the next multiple of the alignment; the
 * last one is not padded, so the file ends with its final byte. */
#include "gguf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wkv {
    char *key;
    uint32_t type; /* gguf_vtype, or anything set_raw was given */
    uint8_t *val;
    size_t n;
} wkv;

typedef struct wtensor {
    char *name;
    qlm_type type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint8_t *data;
    uint64_t n_bytes;
    bool info_only; /* gguf_writer_add_tensor_info: the caller writes the data */
} wtensor;

struct gguf_writer {
    uint32_t version;
    bool oom; /* an allocation failed in a call that cannot report it */
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
};

gguf_writer *gguf_writer_new(void) {
    gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->version = 3;
    return w;
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        free(w->kvs[i].val);
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->kvs);
    free(w->tensors);
    free(w);
}

/* Any value is stored so that tests can produce files the reader rejects. */
void gguf_writer_set_version(gguf_writer *w, uint32_t version) {
    if (w) w->version = version;
}

void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment) {
    if (w && !gguf_writer_set_u32(w, "general.alignment", alignment)) w->oom = true;
}

/* Grows *arr (of *cap elements of size esize) to hold one more. */
static bool grow(void **arr, size_t *cap, size_t n, size_t esize) {
    if (n < *cap) return true;
    size_t nc = *cap ? *cap * 2 : 16;
    if (nc > SIZE_MAX / esize) return false;
    void *p = realloc(*arr, nc * esize);
    if (!p) return false;
    *arr = p;
    *cap = nc;
    return true;
}

/* Linear search: writers hold tens of keys, not the millions a hostile file may claim. */
static bool set_encoded(gguf_writer *w, const char *key, uint32_t type, uint8_t *val, size_t n) {
    if (!w || !key || !val) {
        free(val);
        return false;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kvs[i].key, key) == 0) {
            free(w->kvs[i].val);
            w->kvs[i].type = type;
            w->kvs[i].val = val;
            w->kvs[i].n = n;
            return true;
        }
    }
    char *k = strdup(key);
    if (!k || !grow((void **)&w->kvs, &w->cap_kv, w->n_kv, sizeof *w->kvs)) {
        free(k);
        free(val);
        return false;
    }
    w->kvs[w->n_kv++] = (wkv){k, type, val, n};
    return true;
}

static bool set_copy(gguf_writer *w, const char *key, uint32_t type, const void *bytes, size_t n) {
    uint8_t *val = malloc(n ? n : 1);
    if (val && n) memcpy(val, bytes, n);
    return set_encoded(w, key, type, val, n);
}

bool gguf_writer_set_u8(gguf_writer *w, const char *k, uint8_t v) { return set_copy(w, k, GGUF_VTYPE_UINT8, &v, 1); }
bool gguf_writer_set_i8(gguf_writer *w, const char *k, int8_t v) { return set_copy(w, k, GGUF_VTYPE_INT8, &v, 1); }
bool gguf_writer_set_u16(gguf_writer *w, const char *k, uint16_t v) { return set_copy(w, k, GGUF_VTYPE_UINT16, &v, 2); }
bool gguf_writer_set_i16(gguf_writer *w, const char *k, int16_t v) { return set_copy(w, k, GGUF_VTYPE_INT16, &v, 2); }
bool gguf_writer_set_u32(gguf_writer *w, const char *k, uint32_t v) { return set_copy(w, k, GGUF_VTYPE_UINT32, &v, 4); }
bool gguf_writer_set_i32(gguf_writer *w, const char *k, int32_t v) { return set_copy(w, k, GGUF_VTYPE_INT32, &v, 4); }
bool gguf_writer_set_f32(gguf_writer *w, const char *k, float v) { return set_copy(w, k, GGUF_VTYPE_FLOAT32, &v, 4); }
bool gguf_writer_set_u64(gguf_writer *w, const char *k, uint64_t v) { return set_copy(w, k, GGUF_VTYPE_UINT64, &v, 8); }
bool gguf_writer_set_i64(gguf_writer *w, const char *k, int64_t v) { return set_copy(w, k, GGUF_VTYPE_INT64, &v, 8); }
bool gguf_writer_set_f64(gguf_writer *w, const char *k, double v) { return set_copy(w, k, GGUF_VTYPE_FLOAT64, &v, 8); }

bool gguf_writer_set_bool(gguf_writer *w, const char *k, bool v) {
    uint8_t b = v ? 1 : 0;
    return set_copy(w, k, GGUF_VTYPE_BOOL, &b, 1);
}

bool gguf_writer_set_str(gguf_writer *w, const char *key, const char *s) {
    if (!s) return false;
    uint64_t len = strlen(s);
    uint8_t *val = malloc(8 + len);
    if (val) {
        memcpy(val, &len, 8);
        memcpy(val + 8, s, len);
    }
    return set_encoded(w, key, GGUF_VTYPE_STRING, val, 8 + len);
}

bool gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *data,
                         uint64_t n) {
    size_t esize = gguf_vtype_size(elem);
    if (!esize || (n && !data) || n > (SIZE_MAX - 12) / esize) return false;
    uint32_t et = elem;
    uint8_t *val = malloc(12 + n * esize);
    if (val) {
        memcpy(val, &et, 4);
        memcpy(val + 4, &n, 8);
        if (n) memcpy(val + 12, data, n * esize);
    }
    return set_encoded(w, key, GGUF_VTYPE_ARRAY, val, 12 + n * esize);
}

bool gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    if (n && !strs) return false;
    size_t total = 12;
    for (uint64_t i = 0; i < n; i++) {
        if (!strs[i]) return false;
        size_t len = strlen(strs[i]);
        if (len > SIZE_MAX - 8 - total) return false;
        total += 8 + len;
    }
    uint8_t *val = malloc(total);
    if (val) {
        uint32_t et = GGUF_VTYPE_STRING;
        memcpy(val, &et, 4);
        memcpy(val + 4, &n, 8);
        size_t pos = 12;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t len = strlen(strs[i]);
            memcpy(val + pos, &len, 8);
            memcpy(val + pos + 8, strs[i], len);
            pos += 8 + len;
        }
    }
    return set_encoded(w, key, GGUF_VTYPE_ARRAY, val, total);
}

bool gguf_writer_set_raw(gguf_writer *w, const char *key, gguf_vtype type, const void *bytes, size_t n) {
    if (n && !bytes) return false;
    return set_copy(w, key, (uint32_t)type, bytes, n);
}

/* A growable byte buffer for encoding parsed values. */
typedef struct enc {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} enc;

/* Grows e's buffer to hold at least n bytes. */
static bool grow_bytes(enc *e, size_t n) {
    if (n <= e->cap) return true;
    size_t cap = e->cap ? e->cap : 256;
    while (cap < n) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    uint8_t *p = realloc(e->p, cap);
    if (!p) return false;
    e->p = p, e->cap = cap;
    return true;
}

static void enc_put(enc *e, const void *src, size_t n) {
    if (e->oom || n == 0) return;
    if (n > SIZE_MAX - e->n || !grow_bytes(e, e->n + n)) {
        e->oom = true;
        return;
    }
    memcpy(e->p + e->n, src, n);
    e->n += n;
}

static void enc_u32(enc *e, uint32_t v) { enc_put(e, &v, 4); }
static void enc_u64(enc *e, uint64_t v) { enc_put(e, &v, 8); }

/* The value as GGUF stores it after its type field. Booleans are written as
 * 0/1 whatever byte the input held, as gguf (llama.cpp) does. */
static void enc_value(enc *e, const gguf_value *v) {
    if (v->type == GGUF_VTYPE_STRING) {
        enc_u64(e, v->len);
        enc_put(e, v->raw, (size_t)v->len);
        return;
    }
    if (v->type != GGUF_VTYPE_ARRAY) {
        const uint8_t one = v->raw[0] != 0;
        enc_put(e, v->type == GGUF_VTYPE_BOOL ? &one : v->raw, gguf_vtype_size(v->type));
        return;
    }
    enc_u32(e, v->elem_type);
    enc_u64(e, v->len);
    if (v->items) {
        for (uint64_t i = 0; i < v->len; i++) enc_value(e, &v->items[i]);
    } else if (v->elem_type == GGUF_VTYPE_BOOL) {
        for (uint64_t i = 0; i < v->len; i++) enc_put(e, &(uint8_t){v->raw[i] != 0}, 1);
    } else {
        enc_put(e, v->raw, (size_t)v->len * gguf_vtype_size(v->elem_type));
    }
}

bool gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v) {
    if (!v) return false;
    enc e = {0};
    enc_value(&e, v);
    if (!e.oom && !e.p) e.p = malloc(1); /* an empty value still needs a buffer */
    if (e.oom) {
        free(e.p);
        return false;
    }
    return set_encoded(w, key, v->type, e.p, e.n);
}

/* Checks the shape like the reader does and returns the byte count (false if invalid). */
static bool tensor_bytes(qlm_type type, uint32_t n_dims, const int64_t *ne, uint64_t *out) {
    const qlm_type_traits *tt = qlm_type_traits_get(type);
    if (!tt || n_dims < 1 || n_dims > GGUF_MAX_DIMS || !ne) return false;
    if (ne[0] < 0 || ne[0] % tt->block_size != 0) return false;
    uint64_t bytes = (uint64_t)(ne[0] / tt->block_size);
    if (__builtin_mul_overflow(bytes, (uint64_t)tt->type_size, &bytes)) return false;
    for (uint32_t d = 1; d < n_dims; d++)
        if (ne[d] < 0 || __builtin_mul_overflow(bytes, (uint64_t)ne[d], &bytes)) return false;
    *out = bytes;
    return true;
}

static bool add_tensor(gguf_writer *w, const char *name, qlm_type type, uint32_t n_dims, const int64_t *ne,
                       const void *data, bool info_only) {
    uint64_t n_bytes;
    if (!w || !name || !name[0] || !tensor_bytes(type, n_dims, ne, &n_bytes) || n_bytes > SIZE_MAX)
        return false;
    for (size_t i = 0; i < w->n_tensors; i++) /* the reader rejects duplicates */
        if (strcmp(w->tensors[i].name, name) == 0) return false;
    wtensor t = {.name = strdup(name), .type = type, .n_dims = n_dims, .n_bytes = n_bytes, .info_only = info_only};
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    t.data = n_bytes && !info_only ? malloc((size_t)n_bytes) : NULL;
    bool ok = t.name && (t.data || !n_bytes || info_only) &&
              grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors);
    if (!ok) {
        free(t.name);
        free(t.data);
        return false;
    }
    if (t.data && data) memcpy(t.data, data, (size_t)n_bytes);
    else if (t.data) memset(t.data, 0, (size_t)n_bytes); /* NULL data: zeros */
    w->tensors[w->n_tensors++] = t;
    return true;
}

bool gguf_writer_add_tensor(gguf_writer *w, const char *name, qlm_type type, uint32_t n_dims,
                            const int64_t *ne, const void *data) {
    return add_tensor(w, name, type, n_dims, ne, data, false);
}

bool gguf_writer_add_tensor_info(gguf_writer *w, const char *name, qlm_type type, uint32_t n_dims,
                                 const int64_t *ne) {
    return add_tensor(w, name, type, n_dims, ne, NULL, true);
}

/* --------------------------------------------------------- serialising */

/* The layout follows general.alignment when it is valid; an invalid one (a
 * test writing a bad file) leaves the default layout. */
static uint64_t layout_alignment(const gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kvs[i].key, "general.alignment") != 0) continue;
        uint32_t a;
        if (w->kvs[i].type != GGUF_VTYPE_UINT32 || w->kvs[i].n != 4) break;
        memcpy(&a, w->kvs[i].val, 4);
        if (a != 0 && (a & (a - 1)) == 0) return a;
    }
    return GGUF_DEFAULT_ALIGNMENT;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* Bytes of the header, metadata and tensor infos (before the padding). */
static uint64_t meta_size(const gguf_writer *w) {
    uint64_t n = 24;
    for (size_t i = 0; i < w->n_kv; i++) n += 8 + strlen(w->kvs[i].key) + 4 + w->kvs[i].n;
    for (size_t i = 0; i < w->n_tensors; i++)
        n += 8 + strlen(w->tensors[i].name) + 4 + 8 * (uint64_t)w->tensors[i].n_dims + 4 + 8;
    return n;
}

/* Offset of tensor i relative to the data section. */
static uint64_t tensor_offset(const gguf_writer *w, size_t i, uint64_t align) {
    uint64_t off = 0;
    for (size_t j = 0; j < i; j++) off = align_up(off + w->tensors[j].n_bytes, align);
    return off;
}

static uint64_t total_size(const gguf_writer *w, uint64_t align) {
    uint64_t meta = meta_size(w);
    if (w->n_tensors == 0) return meta;
    size_t last = w->n_tensors - 1;
    return align_up(meta, align) + tensor_offset(w, last, align) + w->tensors[last].n_bytes;
}

/* Output goes to memory or a FILE; a failed fwrite sticks. */
typedef struct sink {
    uint8_t *mem;
    FILE *f;
    uint64_t pos;
    bool failed;
} sink;

static void put(sink *s, const void *p, size_t n) {
    if (n == 0 || s->failed) return;
    if (s->mem) memcpy(s->mem + s->pos, p, n);
    else if (fwrite(p, 1, n, s->f) != n) s->failed = true;
    s->pos += n;
}

static void put_u32(sink *s, uint32_t v) { put(s, &v, 4); }
static void put_u64(sink *s, uint64_t v) { put(s, &v, 8); }

static void put_str(sink *s, const char *str) {
    uint64_t len = strlen(str);
    put_u64(s, len);
    put(s, str, len);
}

static void pad_to(sink *s, uint64_t align) {
    static const uint8_t zeros[256];
    while (s->pos % align) {
        uint64_t n = align - s->pos % align;
        put(s, zeros, n < sizeof zeros ? (size_t)n : sizeof zeros);
    }
}

/* Header, key-value pairs and tensor infos. */
static void emit_meta(const gguf_writer *w, sink *s, uint64_t align) {
    put(s, GGUF_MAGIC, 4);
    put_u32(s, w->version);
    put_u64(s, w->n_tensors);
    put_u64(s, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(s, w->kvs[i].key);
        put_u32(s, w->kvs[i].type);
        put(s, w->kvs[i].val, w->kvs[i].n);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        put_str(s, t->name);
        put_u32(s, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(s, (uint64_t)t->ne[d]);
        put_u32(s, (uint32_t)t->type);
        put_u64(s, off);
        off = align_up(off + t->n_bytes, align);
    }
}

static void emit(const gguf_writer *w, sink *s, uint64_t align) {
    emit_meta(w, s, align);
    for (size_t i = 0; i < w->n_tensors; i++) {
        pad_to(s, align);
        put(s, w->tensors[i].data, (size_t)w->tensors[i].n_bytes);
    }
}

static bool has_info_only(const gguf_writer *w) {
    for (size_t i = 0; i < w->n_tensors; i++)
        if (w->tensors[i].info_only) return true;
    return false;
}

qlm_status gguf_writer_write_meta(const gguf_writer *w, void **buf, size_t *size, qlm_errbuf *err) {
    qlm_err_clear(err);
    if (!w || !buf || !size) return qlm_err(err, QLM_ERR_INVALID_ARG, "gguf writer: NULL argument");
    *buf = NULL;
    *size = 0;
    if (w->oom) return qlm_err(err, QLM_ERR_NOMEM, "gguf writer: an earlier call ran out of memory");
    const uint64_t align = layout_alignment(w), total = align_up(meta_size(w), align);
    uint8_t *mem = total <= SIZE_MAX ? malloc(total ? (size_t)total : 1) : NULL;
    if (!mem) return qlm_err(err, QLM_ERR_NOMEM, "gguf writer: out of memory for %llu bytes of metadata",
                             (unsigned long long)total);
    sink s = {.mem = mem};
    emit_meta(w, &s, align);
    pad_to(&s, align);
    *buf = mem;
    *size = (size_t)total;
    return QLM_OK;
}

qlm_status gguf_writer_write_memory(const gguf_writer *w, void **buf, size_t *size, qlm_errbuf *err) {
    qlm_err_clear(err);
    if (!w || !buf || !size) return qlm_err(err, QLM_ERR_INVALID_ARG, "gguf writer: NULL argument");
    *buf = NULL;
    *size = 0;
    if (w->oom) return qlm_err(err, QLM_ERR_NOMEM, "gguf writer: an earlier call ran out of memory");
    if (has_info_only(w)) return qlm_err(err, QLM_ERR_INVALID_ARG, "gguf writer: a tensor has no data (add_tensor_info)");
    uint64_t align = layout_alignment(w), total = total_size(w, align);
    uint8_t *mem = total <= SIZE_MAX ? malloc(total ? (size_t)total : 1) : NULL;
    if (!mem) return qlm_err(err, QLM_ERR_NOMEM, "gguf writer: out of memory for %llu bytes",
                             (unsigned long long)total);
    sink s = {.mem = mem};
    emit(w, &s, align);
    *buf = mem;
    *size = (size_t)total;
    return QLM_OK;
}

/* Written to "<path>.tmp" and renamed, so a failed write never leaves a
 * half-written file under the real name. */
qlm_status gguf_writer_write_file(const gguf_writer *w, const char *path, qlm_errbuf *err) {
    qlm_err_clear(err);
    if (!w || !path) return qlm_err(err, QLM_ERR_INVALID_ARG, "gguf writer: NULL argument");
    if (w->oom) return qlm_err(err, QLM_ERR_NOMEM, "%s: an earlier writer call ran out of memory", path);
    if (has_info_only(w)) return qlm_err(err, QLM_ERR_INVALID_ARG, "%s: a tensor has no data (add_tensor_info)", path);
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp) return qlm_err(err, QLM_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        qlm_status st = qlm_err(err, QLM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    sink s = {.f = f};
    emit(w, &s, layout_alignment(w));
    int saved = s.failed ? errno : 0;
    if (fflush(f) != 0 && !saved) saved = errno ? errno : EIO;
    if (fclose(f) != 0 && !saved) saved = errno ? errno : EIO;
    if (!saved && !s.failed && rename(tmp, path) != 0) saved = errno ? errno : EIO;
    qlm_status st = QLM_OK;
    if (saved || s.failed) {
        st = qlm_err(err, QLM_ERR_IO, "%s: write failed: %s", path, strerror(saved ? saved : EIO));
        remove(tmp);
    }
    free(tmp);
    return st;
}
