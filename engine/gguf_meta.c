/* gguf_meta.c - GGUF metadata values: type names, typed getters, array
 * element access and human-readable formatting. Values were validated by
 * the reader (gguf.c), so raw pointers here always cover their bytes; the
 * accessors still check kinds and indices because callers pass any key. */
#include "gguf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} vtypes[GGUF_VTYPE_COUNT] = {
    [GGUF_VTYPE_UINT8] = {"uint8", 1},     [GGUF_VTYPE_INT8] = {"int8", 1},
    [GGUF_VTYPE_UINT16] = {"uint16", 2},   [GGUF_VTYPE_INT16] = {"int16", 2},
    [GGUF_VTYPE_UINT32] = {"uint32", 4},   [GGUF_VTYPE_INT32] = {"int32", 4},
    [GGUF_VTYPE_FLOAT32] = {"float32", 4}, [GGUF_VTYPE_BOOL] = {"bool", 1},
    [GGUF_VTYPE_STRING] = {"string", 0},   [GGUF_VTYPE_ARRAY] = {"array", 0},
    [GGUF_VTYPE_UINT64] = {"uint64", 8},   [GGUF_VTYPE_INT64] = {"int64", 8},
    [GGUF_VTYPE_FLOAT64] = {"float64", 8},
};

const char *gguf_vtype_name(gguf_vtype t) {
    return (unsigned)t < GGUF_VTYPE_COUNT ? vtypes[t].name : "unknown";
}

size_t gguf_vtype_size(gguf_vtype t) {
    return (unsigned)t < GGUF_VTYPE_COUNT ? vtypes[t].size : 0;
}

/* ------------------------------------------------------------ numbers */

/* An integer of any GGUF width, widened; ok is false for non-integers. */
typedef struct int_val {
    bool ok, negative;
    uint64_t u; /* the value when !negative */
    int64_t s;  /* the value when negative */
} int_val;

static int_val load_int(gguf_vtype t, const uint8_t *p) {
    int_val r = {.ok = true};
    switch (t) {
    case GGUF_VTYPE_UINT8: r.u = p[0]; break;
    case GGUF_VTYPE_UINT16: { uint16_t v; memcpy(&v, p, 2); r.u = v; break; }
    case GGUF_VTYPE_UINT32: { uint32_t v; memcpy(&v, p, 4); r.u = v; break; }
    case GGUF_VTYPE_UINT64: memcpy(&r.u, p, 8); break;
    case GGUF_VTYPE_INT8: r.s = (int8_t)p[0]; break;
    case GGUF_VTYPE_INT16: { int16_t v; memcpy(&v, p, 2); r.s = v; break; }
    case GGUF_VTYPE_INT32: { int32_t v; memcpy(&v, p, 4); r.s = v; break; }
    case GGUF_VTYPE_INT64: memcpy(&r.s, p, 8); break;
    default: r.ok = false; return r;
    }
    bool is_signed = t == GGUF_VTYPE_INT8 || t == GGUF_VTYPE_INT16 || t == GGUF_VTYPE_INT32 ||
                     t == GGUF_VTYPE_INT64;
    if (is_signed && r.s >= 0) r.u = (uint64_t)r.s;
    r.negative = is_signed && r.s < 0;
    return r;
}

static bool int_to_i64(int_val v, int64_t *out) {
    if (!v.ok || (!v.negative && v.u > (uint64_t)INT64_MAX)) return false;
    *out = v.negative ? v.s : (int64_t)v.u;
    return true;
}

static const uint8_t *scalar_raw(const gguf_value *v) {
    return v && v->type != GGUF_VTYPE_STRING && v->type != GGUF_VTYPE_ARRAY ? v->raw : NULL;
}

bool gguf_value_u64(const gguf_value *v, uint64_t *out) {
    const uint8_t *raw = scalar_raw(v);
    if (!raw) return false;
    int_val x = load_int(v->type, raw);
    if (!x.ok || x.negative) return false;
    *out = x.u;
    return true;
}

bool gguf_value_i64(const gguf_value *v, int64_t *out) {
    const uint8_t *raw = scalar_raw(v);
    return raw && int_to_i64(load_int(v->type, raw), out);
}

bool gguf_value_f64(const gguf_value *v, double *out) {
    const uint8_t *raw = scalar_raw(v);
    if (!raw) return false;
    if (v->type == GGUF_VTYPE_FLOAT32) {
        float f;
        memcpy(&f, raw, 4);
        *out = f;
        return true;
    }
    if (v->type == GGUF_VTYPE_FLOAT64) {
        memcpy(out, raw, 8);
        return true;
    }
    int_val x = load_int(v->type, raw);
    if (!x.ok) return false;
    *out = x.negative ? (double)x.s : (double)x.u;
    return true;
}

/* ------------------------------------------------------- typed getters */

bool gguf_get_u64(const gguf_ctx *ctx, const char *key, uint64_t *out) {
    return gguf_value_u64(gguf_find(ctx, key), out);
}

bool gguf_get_u32(const gguf_ctx *ctx, const char *key, uint32_t *out) {
    uint64_t v;
    if (!gguf_get_u64(ctx, key, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

bool gguf_get_i32(const gguf_ctx *ctx, const char *key, int32_t *out) {
    int64_t v;
    if (!gguf_value_i64(gguf_find(ctx, key), &v) || v < INT32_MIN || v > INT32_MAX) return false;
    *out = (int32_t)v;
    return true;
}

bool gguf_get_f32(const gguf_ctx *ctx, const char *key, float *out) {
    const gguf_value *v = gguf_find(ctx, key);
    double d;
    if (!v || (v->type != GGUF_VTYPE_FLOAT32 && v->type != GGUF_VTYPE_FLOAT64)) return false;
    gguf_value_f64(v, &d);
    *out = (float)d;
    return true;
}

bool gguf_get_bool(const gguf_ctx *ctx, const char *key, bool *out) {
    const gguf_value *v = gguf_find(ctx, key);
    if (!v || v->type != GGUF_VTYPE_BOOL) return false;
    *out = v->raw[0] != 0;
    return true;
}

bool gguf_get_str(const gguf_ctx *ctx, const char *key, const char **s, size_t *len) {
    const gguf_value *v = gguf_find(ctx, key);
    if (!v || v->type != GGUF_VTYPE_STRING) return false;
    *s = (const char *)v->raw;
    if (len) *len = (size_t)v->len;
    return true;
}

/* ------------------------------------------------------ array elements */

static bool arr_ok(const gguf_value *a, uint64_t i) {
    return a && a->type == GGUF_VTYPE_ARRAY && i < a->len;
}

bool gguf_arr_str(const gguf_value *arr, uint64_t i, const char **s, size_t *len) {
    if (!arr_ok(arr, i) || arr->elem_type != GGUF_VTYPE_STRING) return false;
    *s = (const char *)arr->items[i].raw;
    if (len) *len = (size_t)arr->items[i].len;
    return true;
}

bool gguf_arr_f32(const gguf_value *arr, uint64_t i, float *out) {
    if (!arr_ok(arr, i) || arr->elem_type != GGUF_VTYPE_FLOAT32) return false;
    memcpy(out, arr->raw + i * 4, 4);
    return true;
}

bool gguf_arr_i64(const gguf_value *arr, uint64_t i, int64_t *out) {
    if (!arr_ok(arr, i) || !arr->raw) return false;
    size_t size = gguf_vtype_size(arr->elem_type);
    return int_to_i64(load_int(arr->elem_type, arr->raw + i * size), out);
}

/* --------------------------------------------------------- formatting */

/* snprintf-style sink: writes what fits (always NUL-terminated), counts all. */
typedef struct out_buf {
    char *buf;
    size_t cap, len;
} out_buf;

static void put(out_buf *o, const char *s, size_t n) {
    if (o->cap && o->len < o->cap - 1) {
        size_t room = o->cap - 1 - o->len, k = n < room ? n : room;
        memcpy(o->buf + o->len, s, k);
        o->buf[o->len + k] = '\0';
    }
    o->len += n;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void putf(out_buf *o, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Quoted, with control characters, quotes and backslashes escaped so that a
 * chat template prints on one line. */
static void put_string(out_buf *o, const uint8_t *s, uint64_t n) {
    put(o, "\"", 1);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t ch = s[i];
        switch (ch) {
        case '\n': put(o, "\\n", 2); break;
        case '\r': put(o, "\\r", 2); break;
        case '\t': put(o, "\\t", 2); break;
        case '"': put(o, "\\\"", 2); break;
        case '\\': put(o, "\\\\", 2); break;
        default:
            if (ch < 0x20 || ch == 0x7f) putf(o, "\\x%02x", ch);
            else put(o, (const char *)&s[i], 1);
        }
    }
    put(o, "\"", 1);
}

static void put_scalar(out_buf *o, gguf_vtype t, const uint8_t *raw) {
    if (t == GGUF_VTYPE_FLOAT32) {
        float f;
        memcpy(&f, raw, 4);
        putf(o, "%.7g", (double)f); /* 7 digits: f32's precision, no float noise */
    } else if (t == GGUF_VTYPE_FLOAT64) {
        double d;
        memcpy(&d, raw, 8);
        putf(o, "%.15g", d);
    } else if (t == GGUF_VTYPE_BOOL) {
        put(o, raw[0] ? "true" : "false", raw[0] ? 4 : 5);
    } else {
        int_val x = load_int(t, raw);
        if (x.negative) putf(o, "%" PRId64, x.s);
        else putf(o, "%" PRIu64, x.u);
    }
}

static void put_value(out_buf *o, const gguf_value *v, int max_items) {
    if (v->type == GGUF_VTYPE_STRING) {
        put_string(o, v->raw, v->len);
        return;
    }
    if (v->type != GGUF_VTYPE_ARRAY) {
        put_scalar(o, v->type, v->raw);
        return;
    }
    uint64_t shown = max_items < 0 || (uint64_t)max_items > v->len ? v->len : (uint64_t)max_items;
    size_t esize = gguf_vtype_size(v->elem_type);
    put(o, "[", 1);
    for (uint64_t i = 0; i < shown; i++) {
        if (i) put(o, ", ", 2);
        if (esize) put_scalar(o, v->elem_type, v->raw + i * esize);
        else put_value(o, &v->items[i], max_items);
    }
    if (shown < v->len) putf(o, "%s... (%" PRIu64 " items)", shown ? ", " : "", v->len);
    put(o, "]", 1);
}

size_t gguf_value_format(const gguf_value *v, char *buf, size_t cap, int max_items) {
    out_buf o = {buf, cap, 0};
    if (cap) buf[0] = '\0';
    if (v) put_value(&o, v, max_items);
    return o.len;
}
