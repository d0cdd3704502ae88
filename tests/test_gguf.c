/* test_gguf.c - GGUF reader/writer: round trips of every metadata type and of
 * tensors, and hostile inputs (truncation at every byte, absurd counts and
 * lengths, bad dims/offsets/types/alignment, duplicates, overlaps). Hostile
 * buffers are handed to the reader in exact-size heap copies so that
 * AddressSanitizer catches any read past the end. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"

/* ------------------------------------------------------------ helpers */

/* A byte builder for files the writer would never produce. */
typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void b_put(bytes *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void b_u32(bytes *b, uint32_t v) { b_put(b, &v, 4); }
static void b_u64(bytes *b, uint64_t v) { b_put(b, &v, 8); }
static void b_str(bytes *b, const char *s) {
    b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
}
static void b_header(bytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b_put(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_tensors);
    b_u64(b, n_kv);
}
static void b_kv_u32(bytes *b, const char *key, uint32_t v) {
    b_str(b, key);
    b_u32(b, GGUF_VTYPE_UINT32);
    b_u32(b, v);
}
static void b_zeros(bytes *b, size_t n) {
    for (size_t i = 0; i < n; i++) b_put(b, "", 1);
}
static void b_pad(bytes *b, size_t align) {
    while (b->n % align) b_put(b, "", 1);
}

typedef struct tspec {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[4];
    uint32_t type;
    uint64_t offset;
} tspec;

static void b_tensor(bytes *b, const tspec *t) {
    b_str(b, t->name);
    b_u32(b, t->n_dims);
    for (uint32_t d = 0; d < t->n_dims; d++) b_u64(b, t->ne[d]);
    b_u32(b, t->type);
    b_u64(b, t->offset);
}

/* Header + optional general.alignment + tensor infos + padding + data bytes. */
static bytes tensor_file(const tspec *ts, int n, size_t data_bytes, int64_t align_kv) {
    bytes b = {0};
    b_header(&b, 3, (uint64_t)n, align_kv >= 0 ? 1 : 0);
    if (align_kv >= 0) b_kv_u32(&b, "general.alignment", (uint32_t)align_kv);
    for (int i = 0; i < n; i++) b_tensor(&b, &ts[i]);
    b_pad(&b, align_kv > 0 && (align_kv & (align_kv - 1)) == 0 ? (size_t)align_kv : 32);
    b_zeros(&b, data_bytes);
    return b;
}

static qlm_status open_exact(const void *buf, size_t n, const gguf_open_params *p, gguf_ctx **c,
                             qlm_errbuf *e, void **copy) {
    *copy = malloc(n ? n : 1);
    cr_assert_not_null(*copy);
    if (n) memcpy(*copy, buf, n);
    return gguf_open_memory_ex(*copy, n, "t.gguf", p, c, e);
}

static void expect_fail_p(const bytes *b, const gguf_open_params *p, qlm_status want,
                          const char *needle) {
    gguf_ctx *c = (gguf_ctx *)&c;
    qlm_errbuf e;
    void *copy;
    qlm_status st = open_exact(b->p, b->n, p, &c, &e, &copy);
    cr_assert_eq(st, want, "status \"%s\", want \"%s\": %s", qlm_status_str(st),
                 qlm_status_str(want), e.msg);
    cr_assert_null(c);
    cr_assert(strncmp(e.msg, "t.gguf: ", 8) == 0, "message not prefixed by the path: %s", e.msg);
    cr_assert_null(strchr(e.msg, '\n'), "multi-line message: %s", e.msg);
    if (needle) cr_assert_not_null(strstr(e.msg, needle), "message \"%s\" lacks \"%s\"", e.msg, needle);
    free(copy);
}

static void expect_fail(bytes *b, qlm_status want, const char *needle) {
    expect_fail_p(b, NULL, want, needle);
    free(b->p);
    *b = (bytes){0};
}

/* Serialises w, frees it, and opens the result (buf must be freed after close). */
static gguf_ctx *roundtrip(gguf_writer *w, void **buf) {
    size_t size;
    qlm_errbuf e;
    cr_assert_eq(gguf_writer_write_memory(w, buf, &size, &e), QLM_OK, "%s", e.msg);
    gguf_writer_free(w);
    gguf_ctx *c = NULL;
    qlm_status st = gguf_open_memory(*buf, size, "rt.gguf", &c, &e);
    cr_assert_eq(st, QLM_OK, "%s", e.msg);
    cr_assert_not_null(c);
    return c;
}

static void tmp_path(char *out, size_t n, const char *tag) {
    snprintf(out, n, "/tmp/qlm_test_gguf_%d_%s.gguf", (int)getpid(), tag);
}

/* -------------------------------------------------------- round trips */

Test(gguf, roundtrip_scalars) {
    gguf_writer *w = gguf_writer_new();
    cr_assert_not_null(w);
    cr_assert(gguf_writer_set_u8(w, "u8", 200));
    cr_assert(gguf_writer_set_i8(w, "i8", -100));
    cr_assert(gguf_writer_set_u16(w, "u16", 60000));
    cr_assert(gguf_writer_set_i16(w, "i16", -30000));
    cr_assert(gguf_writer_set_u32(w, "u32", 4000000000u));
    cr_assert(gguf_writer_set_i32(w, "i32", -2000000000));
    cr_assert(gguf_writer_set_f32(w, "f32", 3.25f));
    cr_assert(gguf_writer_set_bool(w, "bool", true));
    cr_assert(gguf_writer_set_str(w, "str", "hello\nworld"));
    cr_assert(gguf_writer_set_u64(w, "u64", UINT64_MAX));
    cr_assert(gguf_writer_set_i64(w, "i64", INT64_MIN));
    cr_assert(gguf_writer_set_f64(w, "f64", -1e300));
    cr_assert(gguf_writer_set_str(w, "empty", ""));
    void *buf;
    gguf_ctx *c = roundtrip(w, &buf);

    static const char *keys[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                 "bool", "str", "u64", "i64", "f64", "empty"};
    static const gguf_vtype types[] = {
        GGUF_VTYPE_UINT8, GGUF_VTYPE_INT8, GGUF_VTYPE_UINT16, GGUF_VTYPE_INT16,
        GGUF_VTYPE_UINT32, GGUF_VTYPE_INT32, GGUF_VTYPE_FLOAT32, GGUF_VTYPE_BOOL,
        GGUF_VTYPE_STRING, GGUF_VTYPE_UINT64, GGUF_VTYPE_INT64, GGUF_VTYPE_FLOAT64,
        GGUF_VTYPE_STRING};
    cr_assert_eq(gguf_kv_count(c), 13);
    for (int i = 0; i < 13; i++) { /* insertion order, types kept */
        cr_assert_str_eq(gguf_kv_at(c, i)->key, keys[i]);
        cr_assert_eq(gguf_kv_at(c, i)->value.type, types[i], "%s", keys[i]);
        cr_assert_eq(gguf_find(c, keys[i]), &gguf_kv_at(c, i)->value);
    }
    cr_assert_null(gguf_kv_at(c, 13));
    cr_assert_null(gguf_kv_at(c, -1));

    int64_t i64;
    uint64_t u64;
    double f64;
    float f32;
    bool bv;
    cr_assert(gguf_value_u64(gguf_find(c, "u8"), &u64) && u64 == 200);
    cr_assert(gguf_value_i64(gguf_find(c, "i8"), &i64) && i64 == -100);
    cr_assert(gguf_value_u64(gguf_find(c, "u16"), &u64) && u64 == 60000);
    cr_assert(gguf_value_i64(gguf_find(c, "i16"), &i64) && i64 == -30000);
    cr_assert(gguf_value_u64(gguf_find(c, "u32"), &u64) && u64 == 4000000000u);
    cr_assert(gguf_value_i64(gguf_find(c, "i32"), &i64) && i64 == -2000000000);
    cr_assert(gguf_get_f32(c, "f32", &f32) && f32 == 3.25f);
    cr_assert(gguf_get_bool(c, "bool", &bv) && bv);
    cr_assert(gguf_value_u64(gguf_find(c, "u64"), &u64) && u64 == UINT64_MAX);
    cr_assert(gguf_value_i64(gguf_find(c, "i64"), &i64) && i64 == INT64_MIN);
    cr_assert(gguf_value_f64(gguf_find(c, "f64"), &f64) && f64 == -1e300);
    const char *s;
    size_t len;
    cr_assert(gguf_get_str(c, "str", &s, &len));
    cr_assert(len == 11 && memcmp(s, "hello\nworld", 11) == 0);
    cr_assert(gguf_get_str(c, "empty", &s, &len) && len == 0);
    cr_assert_eq(gguf_version(c), 3);
    cr_assert_eq(gguf_alignment(c), GGUF_DEFAULT_ALIGNMENT);
    cr_assert_eq(gguf_tensor_count(c), 0);
    gguf_close(c);
    free(buf);
}

Test(gguf, roundtrip_fixed_arrays) {
    static const gguf_vtype fixed[] = {
        GGUF_VTYPE_UINT8, GGUF_VTYPE_INT8, GGUF_VTYPE_UINT16, GGUF_VTYPE_INT16,
        GGUF_VTYPE_UINT32, GGUF_VTYPE_INT32, GGUF_VTYPE_FLOAT32, GGUF_VTYPE_BOOL,
        GGUF_VTYPE_UINT64, GGUF_VTYPE_INT64, GGUF_VTYPE_FLOAT64};
    uint8_t pattern[5 * 8];
    for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (uint8_t)(i * 37 + 1);
    gguf_writer *w = gguf_writer_new();
    char key[32];
    for (int t = 0; t < 11; t++) {
        snprintf(key, sizeof key, "arr.%s", gguf_vtype_name(fixed[t]));
        cr_assert(gguf_writer_set_arr(w, key, fixed[t], pattern, 5));
    }
    cr_assert(gguf_writer_set_arr(w, "arr.empty", GGUF_VTYPE_UINT32, NULL, 0));
    cr_assert_not(gguf_writer_set_arr(w, "bad", GGUF_VTYPE_STRING, pattern, 1));
    cr_assert_not(gguf_writer_set_arr(w, "bad", GGUF_VTYPE_ARRAY, pattern, 1));
    void *buf;
    gguf_ctx *c = roundtrip(w, &buf);
    for (int t = 0; t < 11; t++) {
        snprintf(key, sizeof key, "arr.%s", gguf_vtype_name(fixed[t]));
        const gguf_value *v = gguf_find(c, key);
        cr_assert_not_null(v, "%s", key);
        cr_assert_eq(v->type, GGUF_VTYPE_ARRAY);
        cr_assert_eq(v->elem_type, fixed[t]);
        cr_assert_eq(v->len, 5);
        cr_assert_null(v->items);
        cr_assert(memcmp(v->raw, pattern, 5 * gguf_vtype_size(fixed[t])) == 0, "%s", key);
    }
    const gguf_value *e = gguf_find(c, "arr.empty");
    cr_assert(e && e->len == 0 && e->elem_type == GGUF_VTYPE_UINT32);
    cr_assert_null(gguf_find(c, "bad"));
    gguf_close(c);
    free(buf);
}

Test(gguf, roundtrip_string_array_and_element_access) {
    const char *strs[] = {"a", "", "ccc\n", "\xe2\x82\xac"};
    int32_t ints[] = {-7, 0, 2147483647};
    uint64_t bigs[] = {1, (uint64_t)INT64_MAX + 1};
    float fl[] = {0.5f, -2.0f};
    gguf_writer *w = gguf_writer_new();
    cr_assert(gguf_writer_set_arr_str(w, "strs", strs, 4));
    cr_assert(gguf_writer_set_arr(w, "ints", GGUF_VTYPE_INT32, ints, 3));
    cr_assert(gguf_writer_set_arr(w, "bigs", GGUF_VTYPE_UINT64, bigs, 2));
    cr_assert(gguf_writer_set_arr(w, "floats", GGUF_VTYPE_FLOAT32, fl, 2));
    cr_assert(gguf_writer_set_arr_str(w, "nostrs", NULL, 0));
    void *buf;
    gguf_ctx *c = roundtrip(w, &buf);
    const gguf_value *v = gguf_find(c, "strs");
    cr_assert(v && v->elem_type == GGUF_VTYPE_STRING && v->len == 4 && v->items && !v->raw);
    for (int i = 0; i < 4; i++) {
        const char *s;
        size_t len;
        cr_assert(gguf_arr_str(v, (uint64_t)i, &s, &len));
        cr_assert(len == strlen(strs[i]) && memcmp(s, strs[i], len) == 0);
    }
    const char *s;
    cr_assert_not(gguf_arr_str(v, 4, &s, NULL));
    int64_t i64;
    float f;
    const gguf_value *iv = gguf_find(c, "ints");
    for (int i = 0; i < 3; i++) cr_assert(gguf_arr_i64(iv, (uint64_t)i, &i64) && i64 == ints[i]);
    cr_assert_not(gguf_arr_i64(iv, 3, &i64));
    cr_assert_not(gguf_arr_f32(iv, 0, &f));
    cr_assert_not(gguf_arr_str(iv, 0, &s, NULL));
    cr_assert(gguf_arr_i64(gguf_find(c, "bigs"), 0, &i64) && i64 == 1);
    cr_assert_not(gguf_arr_i64(gguf_find(c, "bigs"), 1, &i64)); /* does not fit int64 */
    cr_assert(gguf_arr_f32(gguf_find(c, "floats"), 1, &f) && f == -2.0f);
    cr_assert_not(gguf_arr_i64(gguf_find(c, "floats"), 0, &i64));
    cr_assert_not(gguf_arr_i64(v, 0, &i64));
    cr_assert_eq(gguf_find(c, "nostrs")->len, 0);
    gguf_close(c);
    free(buf);
}

/* [[1, 2], ["x", "yy"], [[]]] as raw bytes after the vtype field. */
static bytes nested_value(void) {
    bytes b = {0};
    b_u32(&b, GGUF_VTYPE_ARRAY);
    b_u64(&b, 3);
    b_u32(&b, GGUF_VTYPE_UINT32);
    b_u64(&b, 2);
    b_u32(&b, 1);
    b_u32(&b, 2);
    b_u32(&b, GGUF_VTYPE_STRING);
    b_u64(&b, 2);
    b_str(&b, "x");
    b_str(&b, "yy");
    b_u32(&b, GGUF_VTYPE_ARRAY);
    b_u64(&b, 1);
    b_u32(&b, GGUF_VTYPE_INT8);
    b_u64(&b, 0);
    return b;
}

Test(gguf, roundtrip_nested_arrays) {
    bytes raw = nested_value();
    gguf_writer *w = gguf_writer_new();
    cr_assert(gguf_writer_set_raw(w, "nested", GGUF_VTYPE_ARRAY, raw.p, raw.n));
    free(raw.p);
    void *buf;
    gguf_ctx *c = roundtrip(w, &buf);
    const gguf_value *v = gguf_find(c, "nested");
    cr_assert(v && v->type == GGUF_VTYPE_ARRAY && v->elem_type == GGUF_VTYPE_ARRAY && v->len == 3);
    cr_assert_eq(v->items[0].elem_type, GGUF_VTYPE_UINT32);
    int64_t x;
    cr_assert(gguf_arr_i64(&v->items[0], 1, &x) && x == 2);
    const char *s;
    size_t len;
    cr_assert(gguf_arr_str(&v->items[1], 1, &s, &len) && len == 2 && memcmp(s, "yy", 2) == 0);
    cr_assert_eq(v->items[2].items[0].len, 0);
    char out[128];
    gguf_value_format(v, out, sizeof out, 10);
    cr_assert_str_eq(out, "[[1, 2], [\"x\", \"yy\"], [[]]]");
    gguf_close(c);
    free(buf);
}

/* Copying a parsed file's metadata (set_value, nested arrays and booleans
 * included) and tensor infos into a new writer reproduces the file's
 * metadata bytes (write_meta: up to its data section), and a writer
 * holding data-less tensors refuses to write a whole file. */
Test(gguf, metadata_copy_and_tensor_infos) {
    bytes raw = nested_value();
    gguf_writer *w = gguf_writer_new();
    cr_assert(gguf_writer_set_raw(w, "nested", GGUF_VTYPE_ARRAY, raw.p, raw.n));
    free(raw.p);
    const bool flags[3] = {true, false, true};
    cr_assert(gguf_writer_set_bool(w, "b", true) && gguf_writer_set_str(w, "s", "text") &&
              gguf_writer_set_arr(w, "flags", GGUF_VTYPE_BOOL, flags, 3) && gguf_writer_set_f32(w, "f", 0.5f));
    const int64_t ne_a[2] = {32, 3}, ne_b[1] = {7};
    cr_assert(gguf_writer_add_tensor(w, "a", QLM_TYPE_Q8_0, 2, ne_a, NULL) &&
              gguf_writer_add_tensor(w, "b", QLM_TYPE_F32, 1, ne_b, NULL));
    void *buf;
    gguf_ctx *c = roundtrip(w, &buf);
    gguf_writer *copy = gguf_writer_new();
    for (int64_t i = 0; i < gguf_kv_count(c); i++)
        cr_assert(gguf_writer_set_value(copy, gguf_kv_at(c, i)->key, &gguf_kv_at(c, i)->value));
    for (int64_t i = 0; i < gguf_tensor_count(c); i++) {
        const gguf_tensor *t = gguf_tensor_at(c, i);
        cr_assert(gguf_writer_add_tensor_info(copy, t->name, t->type, t->n_dims, t->ne));
    }
    void *meta;
    size_t n_meta;
    qlm_errbuf e;
    cr_assert_eq(gguf_writer_write_meta(copy, &meta, &n_meta, &e), QLM_OK, "%s", e.msg);
    cr_expect_eq(n_meta % GGUF_DEFAULT_ALIGNMENT, 0);
    cr_expect(memcmp(meta, buf, n_meta) == 0, "copied metadata differs from the original");
    void *whole;
    size_t n_whole;
    cr_expect_eq(gguf_writer_write_memory(copy, &whole, &n_whole, &e), QLM_ERR_INVALID_ARG);
    free(meta);
    gguf_writer_free(copy);
    gguf_close(c);
    free(buf);
}

/* k arrays nested in each other, the innermost an empty u8 array. */
static bytes nested_chain(int k) {
    bytes b = {0};
    b_header(&b, 3, 0, 1);
    b_str(&b, "deep");
    b_u32(&b, GGUF_VTYPE_ARRAY);
    for (int i = 0; i < k - 1; i++) {
        b_u32(&b, GGUF_VTYPE_ARRAY);
        b_u64(&b, 1);
    }
    b_u32(&b, GGUF_VTYPE_UINT8);
    b_u64(&b, 0);
    return b;
}

Test(gguf, nesting_depth_limit) {
    bytes ok = nested_chain(8);
    gguf_ctx *c;
    qlm_errbuf e;
    void *copy;
    cr_assert_eq(open_exact(ok.p, ok.n, NULL, &c, &e, &copy), QLM_OK, "%s", e.msg);
    gguf_close(c);
    free(copy);
    free(ok.p);
    bytes deep = nested_chain(9);
    expect_fail(&deep, QLM_ERR_FORMAT, "nested");
    bytes very_deep = nested_chain(100000);
    expect_fail(&very_deep, QLM_ERR_FORMAT, "nested");
}

Test(gguf, typed_getters) {
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_u8(w, "small", 5);
    gguf_writer_set_i32(w, "neg", -1);
    gguf_writer_set_u64(w, "big", 1ull << 40);
    gguf_writer_set_i64(w, "i64max", INT64_MAX);
    gguf_writer_set_f64(w, "f64", 0.25);
    gguf_writer_set_bool(w, "flag", false);
    gguf_writer_set_str(w, "name", "llama");
    void *buf;
    gguf_ctx *c = roundtrip(w, &buf);
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f;
    bool b = true;
    const char *s;
    size_t len;
    cr_assert(gguf_get_u32(c, "small", &u32) && u32 == 5);
    cr_assert(gguf_get_i32(c, "small", &i32) && i32 == 5);
    cr_assert(gguf_get_u64(c, "small", &u64) && u64 == 5);
    cr_assert_not(gguf_get_u32(c, "neg", &u32));
    cr_assert_not(gguf_get_u64(c, "neg", &u64));
    cr_assert(gguf_get_i32(c, "neg", &i32) && i32 == -1);
    cr_assert_not(gguf_get_u32(c, "big", &u32));
    cr_assert_not(gguf_get_i32(c, "big", &i32));
    cr_assert(gguf_get_u64(c, "big", &u64) && u64 == 1ull << 40);
    cr_assert_not(gguf_get_i32(c, "i64max", &i32));
    cr_assert(gguf_get_f32(c, "f64", &f) && f == 0.25f);
    cr_assert_not(gguf_get_f32(c, "small", &f));
    cr_assert_not(gguf_get_u32(c, "f64", &u32));
    cr_assert(gguf_get_bool(c, "flag", &b) && !b);
    cr_assert_not(gguf_get_bool(c, "small", &b));
    cr_assert_not(gguf_get_u32(c, "flag", &u32));
    cr_assert(gguf_get_str(c, "name", &s, &len) && len == 5 && memcmp(s, "llama", 5) == 0);
    cr_assert_not(gguf_get_str(c, "small", &s, &len));
    cr_assert_not(gguf_get_u32(c, "name", &u32));
    cr_assert_not(gguf_get_u32(c, "missing", &u32));
    cr_assert_null(gguf_find(c, "missing"));
    cr_assert_null(gguf_find(c, ""));
    cr_assert_null(gguf_find(NULL, "small"));
    gguf_close(c);
    free(buf);
}

Test(gguf, writer_replaces_keeping_order) {
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_u32(w, "a", 1);
    gguf_writer_set_u32(w, "b", 2);
    gguf_writer_set_u32(w, "c", 3);
    gguf_writer_set_str(w, "b", "two");
    void *buf;
    gguf_ctx *c = roundtrip(w, &buf);
    cr_assert_eq(gguf_kv_count(c), 3);
    cr_assert_str_eq(gguf_kv_at(c, 0)->key, "a");
    cr_assert_str_eq(gguf_kv_at(c, 1)->key, "b");
    cr_assert_str_eq(gguf_kv_at(c, 2)->key, "c");
    cr_assert_eq(gguf_kv_at(c, 1)->value.type, GGUF_VTYPE_STRING);
    gguf_close(c);
    free(buf);
}

Test(gguf, value_format) {
    uint32_t *many = malloc(49152 * sizeof *many);
    for (uint32_t i = 0; i < 49152; i++) many[i] = i + 1;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_arr(w, "many", GGUF_VTYPE_UINT32, many, 49152);
    free(many);
    gguf_writer_set_str(w, "s", "a\nb\"c\\\t\x01");
    gguf_writer_set_str(w, "arch", "llama");
    gguf_writer_set_f32(w, "f", 0.5f);
    gguf_writer_set_f32(w, "eps", 1e-5f);
    gguf_writer_set_i8(w, "i8", -5);
    gguf_writer_set_bool(w, "b", true);
    const char *strs[] = {"x", "y", "z"};
    gguf_writer_set_arr_str(w, "strs", strs, 3);
    void *buf;
    gguf_ctx *c = roundtrip(w, &buf);
    char out[256];
    gguf_value_format(gguf_find(c, "many"), out, sizeof out, 3);
    cr_assert_str_eq(out, "[1, 2, 3, ... (49152 items)]");
    gguf_value_format(gguf_find(c, "s"), out, sizeof out, 3);
    cr_assert_str_eq(out, "\"a\\nb\\\"c\\\\\\t\\x01\"");
    gguf_value_format(gguf_find(c, "arch"), out, sizeof out, 3);
    cr_assert_str_eq(out, "\"llama\"");
    gguf_value_format(gguf_find(c, "f"), out, sizeof out, 3);
    cr_assert_str_eq(out, "0.5");
    gguf_value_format(gguf_find(c, "eps"), out, sizeof out, 3);
    cr_assert_str_eq(out, "1e-05");
    gguf_value_format(gguf_find(c, "i8"), out, sizeof out, 3);
    cr_assert_str_eq(out, "-5");
    gguf_value_format(gguf_find(c, "b"), out, sizeof out, 3);
    cr_assert_str_eq(out, "true");
    gguf_value_format(gguf_find(c, "strs"), out, sizeof out, 2);
    cr_assert_str_eq(out, "[\"x\", \"y\", ... (3 items)]");
    gguf_value_format(gguf_find(c, "strs"), out, sizeof out, 0);
    cr_assert_str_eq(out, "[... (3 items)]");
    gguf_value_format(gguf_find(c, "strs"), out, sizeof out, -1);
    cr_assert_str_eq(out, "[\"x\", \"y\", \"z\"]");
    /* snprintf contract: the full length is returned, the output truncated. */
    size_t full = gguf_value_format(gguf_find(c, "many"), NULL, 0, 3);
    cr_assert_eq(full, strlen("[1, 2, 3, ... (49152 items)]"));
    char small[6];
    cr_assert_eq(gguf_value_format(gguf_find(c, "many"), small, sizeof small, 3), full);
    cr_assert_str_eq(small, "[1, 2");
    size_t all = gguf_value_format(gguf_find(c, "many"), NULL, 0, -1);
    cr_assert_gt(all, 49152 * 3);
    gguf_close(c);
    free(buf);
}

/* ------------------------------------------------------------ tensors */

typedef struct tcase {
    const char *name;
    qlm_type type;
    uint32_t n_dims;
    int64_t ne[4];
    size_t n_bytes;
} tcase;

static const tcase tcases[] = {
    {"f32.1d", QLM_TYPE_F32, 1, {7, 1, 1, 1}, 28},
    {"f16.2d", QLM_TYPE_F16, 2, {3, 5, 1, 1}, 30},
    {"empty", QLM_TYPE_F32, 2, {0, 4, 1, 1}, 0},
    {"q4_0.3d", QLM_TYPE_Q4_0, 3, {64, 2, 3, 1}, 2 * 18 * 6},
    {"q8_0.4d", QLM_TYPE_Q8_0, 4, {32, 2, 2, 2}, 34 * 8},
    {"bf16.1d", QLM_TYPE_BF16, 1, {5, 1, 1, 1}, 10},
};
#define N_TCASES (int)(sizeof tcases / sizeof tcases[0])

static uint8_t pattern_byte(int t, size_t i) { return (uint8_t)(t * 61 + i * 7 + 3); }

static gguf_writer *tensor_writer(uint32_t version, uint32_t align) {
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_version(w, version);
    if (align) gguf_writer_set_alignment(w, align);
    gguf_writer_set_str(w, "general.architecture", "test");
    for (int t = 0; t < N_TCASES; t++) {
        uint8_t *data = malloc(tcases[t].n_bytes + 1);
        for (size_t i = 0; i < tcases[t].n_bytes; i++) data[i] = pattern_byte(t, i);
        cr_assert(gguf_writer_add_tensor(w, tcases[t].name, tcases[t].type, tcases[t].n_dims,
                                         tcases[t].ne, data), "%s", tcases[t].name);
        free(data);
    }
    return w;
}

static void check_tensors(const gguf_ctx *c, uint64_t align) {
    cr_assert_eq(gguf_alignment(c), align);
    cr_assert_eq(gguf_data_offset(c) % align, 0);
    cr_assert_eq(gguf_tensor_count(c), N_TCASES);
    const uint8_t *base = gguf_file_data(c);
    for (int t = 0; t < N_TCASES; t++) {
        const gguf_tensor *x = gguf_find_tensor(c, tcases[t].name);
        cr_assert_eq(x, gguf_tensor_at(c, t), "%s", tcases[t].name);
        cr_assert_str_eq(x->name, tcases[t].name);
        cr_assert_eq(x->type, tcases[t].type);
        cr_assert_eq(x->n_dims, tcases[t].n_dims);
        for (int d = 0; d < 4; d++) cr_assert_eq(x->ne[d], tcases[t].ne[d]);
        cr_assert_eq(x->n_bytes, tcases[t].n_bytes, "%s", x->name);
        cr_assert_eq(x->offset % align, 0);
        cr_assert_eq((const uint8_t *)x->data - base, (ptrdiff_t)(gguf_data_offset(c) + x->offset));
        for (size_t i = 0; i < x->n_bytes; i++)
            cr_assert_eq(((const uint8_t *)x->data)[i], pattern_byte(t, i));
    }
    cr_assert_null(gguf_find_tensor(c, "nope"));
    cr_assert_null(gguf_tensor_at(c, N_TCASES));
}

Test(gguf, roundtrip_tensors) {
    static const uint32_t versions[] = {2, 3};
    static const uint32_t aligns[] = {0, 64, 1, 4096};
    for (int v = 0; v < 2; v++) {
        for (int a = 0; a < 4; a++) {
            void *buf;
            gguf_ctx *c = roundtrip(tensor_writer(versions[v], aligns[a]), &buf);
            cr_assert_eq(gguf_version(c), versions[v]);
            check_tensors(c, aligns[a] ? aligns[a] : GGUF_DEFAULT_ALIGNMENT);
            gguf_close(c);
            free(buf);
        }
    }
}

Test(gguf, writer_rejects_bad_tensors) {
    gguf_writer *w = gguf_writer_new();
    int64_t ne[4] = {33, 1, 1, 1};
    cr_assert_not(gguf_writer_add_tensor(w, "q", QLM_TYPE_Q4_0, 1, ne, NULL)); /* 33 % 32 */
    ne[0] = 32;
    cr_assert_not(gguf_writer_add_tensor(w, "q", QLM_TYPE_Q4_0, 0, ne, NULL));
    cr_assert_not(gguf_writer_add_tensor(w, "q", QLM_TYPE_Q4_0, 5, ne, NULL));
    cr_assert_not(gguf_writer_add_tensor(w, "q", (qlm_type)77, 1, ne, NULL));
    cr_assert_not(gguf_writer_add_tensor(w, "", QLM_TYPE_Q4_0, 1, ne, NULL));
    ne[1] = -1;
    cr_assert_not(gguf_writer_add_tensor(w, "q", QLM_TYPE_Q4_0, 2, ne, NULL));
    cr_assert(gguf_writer_add_tensor(w, "q", QLM_TYPE_Q4_0, 1, ne, NULL));
    cr_assert_not(gguf_writer_add_tensor(w, "q", QLM_TYPE_Q4_0, 1, ne, NULL)); /* duplicate */
    void *buf;
    gguf_ctx *c = roundtrip(w, &buf);
    const gguf_tensor *t = gguf_find_tensor(c, "q");
    cr_assert(t && t->n_bytes == 18 && ((const uint8_t *)t->data)[0] == 0);
    gguf_close(c);
    free(buf);
}

Test(gguf, file_mmap_and_read_agree) {
    char path[128];
    tmp_path(path, sizeof path, "file");
    gguf_writer *w = tensor_writer(3, 64);
    qlm_errbuf e;
    cr_assert_eq(gguf_writer_write_file(w, path, &e), QLM_OK, "%s", e.msg);
    gguf_writer_free(w);
    gguf_ctx *c[2];
    for (int m = 0; m < 2; m++) {
        gguf_open_params p = {.use_mmap = m == 0};
        cr_assert_eq(gguf_open(path, &p, &c[m], &e), QLM_OK, "%s", e.msg);
        cr_assert_str_eq(gguf_path(c[m]), path);
        check_tensors(c[m], 64);
        /* Both buffers are at least 64-byte aligned, so tensor data is too. */
        cr_assert_eq((uintptr_t)gguf_file_data(c[m]) % 64, 0);
    }
    cr_assert_eq(gguf_file_size(c[0]), gguf_file_size(c[1]));
    cr_assert(memcmp(gguf_file_data(c[0]), gguf_file_data(c[1]), gguf_file_size(c[0])) == 0);
    gguf_close(c[0]);
    gguf_close(c[1]);
    unlink(path);
}

Test(gguf, open_errors) {
    gguf_ctx *c = (gguf_ctx *)&c;
    qlm_errbuf e;
    cr_assert_eq(gguf_open("/nonexistent/x.gguf", NULL, &c, &e), QLM_ERR_IO);
    cr_assert_null(c);
    cr_assert_not_null(strstr(e.msg, "/nonexistent/x.gguf: "));
    cr_assert_eq(gguf_open("/tmp", NULL, &c, &e), QLM_ERR_IO);
    cr_assert_not_null(strstr(e.msg, "not a regular file"));
    cr_assert_eq(gguf_open(NULL, NULL, &c, &e), QLM_ERR_INVALID_ARG);
    char path[128];
    tmp_path(path, sizeof path, "empty");
    FILE *f = fopen(path, "wb");
    fclose(f);
    cr_assert_eq(gguf_open(path, NULL, &c, &e), QLM_ERR_FORMAT);
    cr_assert_not_null(strstr(e.msg, "truncated"));
    unlink(path);
    gguf_writer *w = gguf_writer_new();
    cr_assert_eq(gguf_writer_write_file(w, "/nonexistent/dir/x.gguf", &e), QLM_ERR_IO);
    cr_assert_gt(strlen(e.msg), 0);
    gguf_writer_free(w);
    gguf_close(NULL);
}

/* ---------------------------------------------------------- malformed */

/* A small file exercising every section; its last byte is tensor data. */
static void small_valid(void **buf, size_t *size) {
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "llama.context_length", 2048);
    const char *toks[] = {"<s>", "</s>", "a"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    float scores[] = {0, -1, -2};
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VTYPE_FLOAT32, scores, 3);
    bytes raw = nested_value();
    gguf_writer_set_raw(w, "nested", GGUF_VTYPE_ARRAY, raw.p, raw.n);
    free(raw.p);
    int64_t ne1[4] = {4, 1, 1, 1}, ne2[4] = {32, 2, 1, 1};
    gguf_writer_add_tensor(w, "a", QLM_TYPE_F32, 1, ne1, NULL);
    gguf_writer_add_tensor(w, "b", QLM_TYPE_Q8_0, 2, ne2, NULL);
    qlm_errbuf e;
    cr_assert_eq(gguf_writer_write_memory(w, buf, size, &e), QLM_OK);
    gguf_writer_free(w);
}

Test(gguf, truncation_at_every_offset) {
    void *buf;
    size_t size;
    small_valid(&buf, &size);
    gguf_ctx *c;
    qlm_errbuf e;
    void *copy;
    cr_assert_eq(open_exact(buf, size, NULL, &c, &e, &copy), QLM_OK, "%s", e.msg);
    gguf_close(c);
    free(copy);
    for (size_t cut = 0; cut < size; cut++) {
        c = (gguf_ctx *)&c;
        e.msg[0] = '\0';
        qlm_status st = open_exact(buf, cut, NULL, &c, &e, &copy);
        cr_assert_neq(st, QLM_OK, "a file cut at %zu of %zu opened", cut, size);
        cr_assert_eq(st, QLM_ERR_FORMAT, "cut %zu: %s", cut, e.msg);
        cr_assert_null(c);
        cr_assert(strncmp(e.msg, "t.gguf: ", 8) == 0 && strlen(e.msg) > 8, "cut %zu: '%s'", cut, e.msg);
        free(copy);
    }
    free(buf);
}

/* Every single-byte corruption must be either accepted or rejected cleanly. */
Test(gguf, corruption_of_every_byte) {
    void *buf;
    size_t size;
    small_valid(&buf, &size);
    static const uint8_t flips[] = {0xff, 0x80, 0x01};
    for (size_t i = 0; i < size; i++) {
        for (int f = 0; f < 3; f++) {
            uint8_t *copy = malloc(size);
            memcpy(copy, buf, size);
            copy[i] ^= flips[f];
            gguf_ctx *c = NULL;
            qlm_errbuf e;
            qlm_status st = gguf_open_memory(copy, size, "t.gguf", &c, &e);
            if (st == QLM_OK) {
                for (int64_t k = 0; k < gguf_kv_count(c); k++) /* walk everything */
                    gguf_value_format(&gguf_kv_at(c, k)->value, NULL, 0, -1);
                gguf_close(c);
            } else {
                cr_assert_null(c);
                cr_assert_gt(strlen(e.msg), 8);
            }
            free(copy);
        }
    }
    free(buf);
}

Test(gguf, bad_magic_and_versions) {
    void *buf;
    size_t size;
    small_valid(&buf, &size);
    bytes b = {0};
    b_put(&b, buf, size);
    b.p[3] = 'X';
    expect_fail(&b, QLM_ERR_FORMAT, "magic");
    static const uint32_t bad[] = {0, 1, 4, 0xffffffffu};
    for (int i = 0; i < 4; i++) {
        b_put(&b, buf, size);
        memcpy(b.p + 4, &bad[i], 4);
        expect_fail(&b, QLM_ERR_UNSUPPORTED, "version");
    }
    b_put(&b, buf, size);
    uint32_t v2 = 2;
    memcpy(b.p + 4, &v2, 4);
    gguf_ctx *c;
    qlm_errbuf e;
    cr_assert_eq(gguf_open_memory(b.p, b.n, "t.gguf", &c, &e), QLM_OK, "%s", e.msg);
    cr_assert_eq(gguf_version(c), 2);
    gguf_close(c);
    free(b.p);
    free(buf);
}

Test(gguf, absurd_counts) {
    bytes b = {0};
    b_header(&b, 3, 0, UINT64_MAX);
    b_zeros(&b, 64);
    expect_fail(&b, QLM_ERR_FORMAT, "kv count");
    b_header(&b, 3, UINT64_MAX, 0);
    b_zeros(&b, 64);
    expect_fail(&b, QLM_ERR_FORMAT, "tensor count");
    b_header(&b, 3, UINT64_MAX / 33 + 1, 0); /* count * 33 wraps */
    expect_fail(&b, QLM_ERR_FORMAT, "tensor count");
    /* 2^40 kvs would need terabytes: rejected before any allocation. */
    b_header(&b, 3, 0, 1ull << 40);
    b_kv_u32(&b, "a", 1);
    expect_fail(&b, QLM_ERR_FORMAT, "kv count");
    /* Each fits alone, together they do not. */
    b_header(&b, 3, 2, 3);
    b_zeros(&b, 3 * 14 + 2 * 33 - 1);
    expect_fail(&b, QLM_ERR_FORMAT, "tensor count");
}

Test(gguf, bad_string_lengths) {
    bytes b = {0};
    b_header(&b, 3, 0, 1);
    b_u64(&b, UINT64_MAX); /* key length */
    b_zeros(&b, 16);
    expect_fail(&b, QLM_ERR_FORMAT, "key length");
    b_header(&b, 3, 0, 1);
    b_u64(&b, 101); /* one byte short */
    b_zeros(&b, 100);
    expect_fail(&b, QLM_ERR_FORMAT, "past the end");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_VTYPE_STRING);
    b_u64(&b, UINT64_MAX - 3); /* pos + len would wrap */
    b_zeros(&b, 8);
    expect_fail(&b, QLM_ERR_FORMAT, "key \"k\": string length");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_VTYPE_STRING);
    b_u64(&b, 9);
    b_zeros(&b, 8);
    expect_fail(&b, QLM_ERR_FORMAT, "string length 9");
}

static void array_file(bytes *b, uint32_t elem, uint64_t n, size_t tail) {
    b_header(b, 3, 0, 1);
    b_str(b, "arr");
    b_u32(b, GGUF_VTYPE_ARRAY);
    b_u32(b, elem);
    b_u64(b, n);
    b_zeros(b, tail);
}

Test(gguf, bad_array_lengths_and_types) {
    bytes b = {0};
    array_file(&b, GGUF_VTYPE_UINT64, (1ull << 61) + 1, 64); /* n * 8 wraps to 8 */
    expect_fail(&b, QLM_ERR_FORMAT, "array of");
    array_file(&b, GGUF_VTYPE_UINT8, UINT64_MAX, 64);
    expect_fail(&b, QLM_ERR_FORMAT, "array of");
    array_file(&b, GGUF_VTYPE_UINT32, 17, 64);
    expect_fail(&b, QLM_ERR_FORMAT, "key \"arr\"");
    array_file(&b, GGUF_VTYPE_STRING, 1ull << 62, 64);
    expect_fail(&b, QLM_ERR_FORMAT, "array of");
    array_file(&b, GGUF_VTYPE_ARRAY, UINT64_MAX, 64);
    expect_fail(&b, QLM_ERR_FORMAT, "array of");
    array_file(&b, GGUF_VTYPE_STRING, 2, 0); /* strings missing */
    expect_fail(&b, QLM_ERR_FORMAT, "array of");
    array_file(&b, 13, 0, 8);
    expect_fail(&b, QLM_ERR_FORMAT, "unknown array element type 13");
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, 13);
    b_zeros(&b, 8);
    expect_fail(&b, QLM_ERR_FORMAT, "unknown value type 13");
}

Test(gguf, bad_keys) {
    bytes b = {0};
    b_header(&b, 3, 0, 2);
    b_kv_u32(&b, "dup", 1);
    b_kv_u32(&b, "dup", 2);
    expect_fail(&b, QLM_ERR_FORMAT, "duplicate key");
    b_header(&b, 3, 0, 1);
    b_kv_u32(&b, "", 1);
    expect_fail(&b, QLM_ERR_FORMAT, "empty key");
    b_header(&b, 3, 0, 1);
    b_u64(&b, 3);
    b_put(&b, "a\0b", 3);
    b_u32(&b, GGUF_VTYPE_UINT8);
    b_put(&b, "x", 1);
    expect_fail(&b, QLM_ERR_FORMAT, "NUL");
    /* A control character in a key is shown escaped, keeping one line. */
    b_header(&b, 3, 0, 2);
    b_kv_u32(&b, "a\nb", 1);
    b_kv_u32(&b, "a\nb", 1);
    expect_fail(&b, QLM_ERR_FORMAT, "key \"a?b\"");
}

Test(gguf, many_keys_hashed) {
    enum { N = 200000 };
    bytes b = {0};
    b_header(&b, 3, 0, N);
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key.%d", i);
        b_kv_u32(&b, key, (uint32_t)i);
    }
    gguf_ctx *c;
    qlm_errbuf e;
    cr_assert_eq(gguf_open_memory(b.p, b.n, "t.gguf", &c, &e), QLM_OK, "%s", e.msg);
    for (int i = 0; i < N; i += 7) {
        snprintf(key, sizeof key, "key.%d", i);
        uint32_t v;
        cr_assert(gguf_get_u32(c, key, &v) && v == (uint32_t)i);
    }
    cr_assert_null(gguf_find(c, "key.200000"));
    gguf_close(c);
    /* The same with a duplicate at the very end. */
    uint64_t n1 = N + 1;
    memcpy(b.p + 16, &n1, 8);
    b_kv_u32(&b, "key.123", 0);
    expect_fail(&b, QLM_ERR_FORMAT, "duplicate key");
}

Test(gguf, bad_tensor_names) {
    tspec t[2] = {{"w", 1, {8}, QLM_TYPE_F32, 0}, {"w", 1, {8}, QLM_TYPE_F32, 32}};
    bytes b = tensor_file(t, 2, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "duplicate tensor name");
    t[0].name = "";
    b = tensor_file(t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "empty tensor name");
    char *longname = malloc(5001);
    memset(longname, 'x', 5000);
    longname[5000] = '\0';
    t[0].name = longname;
    b = tensor_file(t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "limit");
    free(longname);
    b = (bytes){0};
    b_header(&b, 3, 1, 0);
    b_u64(&b, 3);
    b_put(&b, "a\0b", 3);
    b_u32(&b, 1);
    b_u64(&b, 8);
    b_u32(&b, QLM_TYPE_F32);
    b_u64(&b, 0);
    b_pad(&b, 32);
    b_zeros(&b, 32);
    expect_fail(&b, QLM_ERR_FORMAT, "NUL");
}

Test(gguf, bad_dims) {
    tspec t = {"w", 2, {1ull << 32, 1ull << 32}, QLM_TYPE_F32, 0};
    bytes b = tensor_file(&t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "tensor \"w\": element count");
    t = (tspec){"w", 3, {1ull << 31, 1ull << 31, 4}, QLM_TYPE_F32, 0};
    b = tensor_file(&t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "overflows");
    t = (tspec){"w", 1, {1ull << 62}, QLM_TYPE_F32, 0}; /* elements fit, bytes do not */
    b = tensor_file(&t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "overflows");
    t = (tspec){"w", 2, {8, (uint64_t)-5}, QLM_TYPE_F32, 0};
    b = tensor_file(&t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "negative");
    t = (tspec){"w", 0, {8}, QLM_TYPE_F32, 0};
    b = tensor_file(&t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "n_dims 0");
    b = (bytes){0};
    b_header(&b, 3, 1, 0);
    b_str(&b, "w");
    b_u32(&b, 5);
    for (int i = 0; i < 5; i++) b_u64(&b, 1);
    b_u32(&b, QLM_TYPE_F32);
    b_u64(&b, 0);
    b_zeros(&b, 64);
    expect_fail(&b, QLM_ERR_FORMAT, "n_dims 5");
    t = (tspec){"w", 1, {33}, QLM_TYPE_Q4_0, 0};
    b = tensor_file(&t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "block size");
}

Test(gguf, bad_offsets) {
    tspec t = {"w", 1, {8}, QLM_TYPE_F32, 0};
    bytes b = tensor_file(&t, 1, 31, -1); /* one byte of data missing */
    expect_fail(&b, QLM_ERR_FORMAT, "outside the file");
    t.offset = UINT64_MAX & ~(uint64_t)31; /* aligned, and offset + size wraps */
    b = tensor_file(&t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "outside the file");
    t.offset = 64;
    b = tensor_file(&t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "outside the file");
    t.offset = 4;
    b = tensor_file(&t, 1, 64, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "not a multiple of the alignment 32");
    t.offset = 0;
    b = tensor_file(&t, 1, 32, -1);
    gguf_ctx *c;
    qlm_errbuf e;
    cr_assert_eq(gguf_open_memory(b.p, b.n, "t.gguf", &c, &e), QLM_OK, "%s", e.msg);
    gguf_close(c);
    free(b.p);
}

Test(gguf, overlapping_tensors) {
    tspec t[3] = {{"a", 1, {16}, QLM_TYPE_F32, 0}, {"b", 1, {8}, QLM_TYPE_F32, 32}};
    bytes b = tensor_file(t, 2, 128, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "overlaps tensor \"a\"");
    t[1].offset = 0; /* same start */
    b = tensor_file(t, 2, 128, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "overlaps");
    /* a contains both b and c. */
    t[0] = (tspec){"a", 1, {64}, QLM_TYPE_F32, 0};
    t[1] = (tspec){"b", 1, {8}, QLM_TYPE_F32, 32};
    t[2] = (tspec){"c", 1, {8}, QLM_TYPE_F32, 128};
    b = tensor_file(t, 3, 512, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "overlaps");
    /* Adjacent tensors and empty ones sharing an offset are fine. */
    t[0] = (tspec){"a", 1, {8}, QLM_TYPE_F32, 0};
    t[1] = (tspec){"b", 1, {8}, QLM_TYPE_F32, 32};
    t[2] = (tspec){"c", 2, {0, 4}, QLM_TYPE_F32, 32};
    b = tensor_file(t, 3, 64, -1);
    gguf_ctx *c;
    qlm_errbuf e;
    cr_assert_eq(gguf_open_memory(b.p, b.n, "t.gguf", &c, &e), QLM_OK, "%s", e.msg);
    gguf_close(c);
    free(b.p);
}

Test(gguf, tensor_types) {
    tspec t = {"w", 1, {256}, 77, 0};
    bytes b = tensor_file(&t, 1, 1024, -1);
    expect_fail(&b, QLM_ERR_FORMAT, "unknown tensor type 77");
    t.type = QLM_TYPE_IQ2_XXS; /* known to GGUF, no to_float in qlm yet */
    b = tensor_file(&t, 1, 66, -1);
    expect_fail_p(&b, NULL, QLM_ERR_UNSUPPORTED, "IQ2_XXS");
    gguf_open_params allow = {.allow_unsupported_types = true};
    gguf_ctx *c;
    qlm_errbuf e;
    cr_assert_eq(gguf_open_memory_ex(b.p, b.n, "t.gguf", &allow, &c, &e), QLM_OK, "%s", e.msg);
    cr_assert_eq(gguf_tensor_at(c, 0)->type, QLM_TYPE_IQ2_XXS);
    cr_assert_eq(gguf_tensor_at(c, 0)->n_bytes, 66);
    gguf_close(c);
    /* A format error elsewhere wins over an unsupported type. */
    bytes short_b = tensor_file(&t, 1, 65, -1);
    expect_fail(&short_b, QLM_ERR_FORMAT, "outside the file");
    /* The same through a real file. */
    char path[128];
    tmp_path(path, sizeof path, "iq2xxs");
    FILE *f = fopen(path, "wb");
    cr_assert_eq(fwrite(b.p, 1, b.n, f), b.n);
    fclose(f);
    cr_assert_eq(gguf_open(path, NULL, &c, &e), QLM_ERR_UNSUPPORTED);
    cr_assert(strncmp(e.msg, path, strlen(path)) == 0, "%s", e.msg);
    allow.use_mmap = true;
    cr_assert_eq(gguf_open(path, &allow, &c, &e), QLM_OK, "%s", e.msg);
    gguf_close(c);
    unlink(path);
    free(b.p);
}

Test(gguf, alignment_key) {
    tspec t = {"w", 1, {8}, QLM_TYPE_F32, 0};
    static const int64_t bad[] = {0, 3, 96};
    for (int i = 0; i < 3; i++) {
        bytes b = tensor_file(&t, 1, 64, bad[i]);
        expect_fail(&b, QLM_ERR_FORMAT, "general.alignment");
    }
    bytes b = {0};
    b_header(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, GGUF_VTYPE_UINT64);
    b_u64(&b, 32);
    expect_fail(&b, QLM_ERR_FORMAT, "expected uint32");
    b_header(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, GGUF_VTYPE_STRING);
    b_str(&b, "32");
    expect_fail(&b, QLM_ERR_FORMAT, "expected uint32");
    /* A valid alignment moves the data section and constrains offsets. */
    t.offset = 256;
    b = tensor_file(&t, 1, 512, 256);
    gguf_ctx *c;
    qlm_errbuf e;
    cr_assert_eq(gguf_open_memory(b.p, b.n, "t.gguf", &c, &e), QLM_OK, "%s", e.msg);
    cr_assert_eq(gguf_alignment(c), 256);
    cr_assert_eq(gguf_data_offset(c), 256);
    gguf_close(c);
    free(b.p);
    t.offset = 32;
    b = tensor_file(&t, 1, 512, 256);
    expect_fail(&b, QLM_ERR_FORMAT, "alignment 256");
}

/* ---------------------------------------------------------- real file */

Test(gguf, real_vocab_file) {
    const char *shared = getenv("QLM_SHARED");
    char path[512];
    snprintf(path, sizeof path, "%s/data/vocab/ggml-vocab-gpt-2.gguf", shared ? shared : "../shared");
    if (access(path, R_OK) != 0) cr_skip_test("%s not found", path);
    gguf_ctx *c[2];
    qlm_errbuf e;
    for (int m = 0; m < 2; m++) {
        gguf_open_params p = {.use_mmap = m == 0};
        cr_assert_eq(gguf_open(path, &p, &c[m], &e), QLM_OK, "%s", e.msg);
        const char *s;
        size_t len;
        cr_assert(gguf_get_str(c[m], "tokenizer.ggml.model", &s, &len));
        cr_assert(len == 4 && memcmp(s, "gpt2", 4) == 0);
        const gguf_value *toks = gguf_find(c[m], "tokenizer.ggml.tokens");
        cr_assert(toks && toks->type == GGUF_VTYPE_ARRAY && toks->elem_type == GGUF_VTYPE_STRING);
        cr_assert_gt(toks->len, 50000);
        cr_assert(gguf_arr_str(toks, 0, &s, &len) && len > 0);
    }
    cr_assert_eq(gguf_kv_count(c[0]), gguf_kv_count(c[1]));
    cr_assert_eq(gguf_tensor_count(c[0]), gguf_tensor_count(c[1]));
    cr_assert_eq(gguf_version(c[0]), gguf_version(c[1]));
    char a[512], b[512];
    for (int64_t i = 0; i < gguf_kv_count(c[0]); i++) {
        cr_assert_str_eq(gguf_kv_at(c[0], i)->key, gguf_kv_at(c[1], i)->key);
        size_t la = gguf_value_format(&gguf_kv_at(c[0], i)->value, a, sizeof a, 8);
        size_t lb = gguf_value_format(&gguf_kv_at(c[1], i)->value, b, sizeof b, 8);
        cr_assert_eq(la, lb);
        cr_assert_str_eq(a, b);
    }
    gguf_close(c[0]);
    gguf_close(c[1]);
}

/* The model `make test` fetches (QLM_MODEL), when present: every tensor
 * resolves by name and both loading paths see the same bytes. */
Test(gguf, real_model_file) {
    const char *path = getenv("QLM_MODEL");
    if (!path || access(path, R_OK) != 0) cr_skip_test("QLM_MODEL not set or missing");
    gguf_ctx *c[2];
    qlm_errbuf e;
    for (int m = 0; m < 2; m++) {
        gguf_open_params p = {.use_mmap = m == 0};
        cr_assert_eq(gguf_open(path, &p, &c[m], &e), QLM_OK, "%s", e.msg);
    }
    cr_assert_gt(gguf_tensor_count(c[0]), 0);
    cr_assert_eq(gguf_tensor_count(c[0]), gguf_tensor_count(c[1]));
    cr_assert_not_null(gguf_find_tensor(c[0], "token_embd.weight"));
    for (int64_t i = 0; i < gguf_tensor_count(c[0]); i++) {
        const gguf_tensor *a = gguf_tensor_at(c[0], i), *b = gguf_tensor_at(c[1], i);
        cr_assert_eq(gguf_find_tensor(c[0], a->name), a);
        cr_assert_str_eq(a->name, b->name);
        cr_assert_eq(a->n_bytes, b->n_bytes);
        cr_assert_eq(a->offset % gguf_alignment(c[0]), 0);
        cr_assert(memcmp(a->data, b->data, a->n_bytes) == 0, "%s", a->name);
    }
    gguf_close(c[0]);
    gguf_close(c[1]);
}
