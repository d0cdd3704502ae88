/* fuzz_gguf.c - libFuzzer target for the GGUF reader (`make fuzz`, needs
 * clang). Not part of the test binary. Run: ./build/fuzz_gguf -max_len=4096 corpus/
 * Every input must be accepted or rejected with a message; accepted files
 * are walked completely so that any pointer the reader hands out is touched. */
#include "gguf.h"

#ifdef QLM_FUZZ
#include <string.h>

static void walk(const gguf_ctx *c) {
    char buf[256];
    for (int64_t i = 0; i < gguf_kv_count(c); i++) {
        const gguf_kv *kv = gguf_kv_at(c, i);
        if (gguf_find(c, kv->key) != &kv->value) __builtin_trap();
        gguf_value_format(&kv->value, buf, sizeof buf, -1);
    }
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < gguf_tensor_count(c); i++) {
        const gguf_tensor *t = gguf_tensor_at(c, i);
        if (gguf_find_tensor(c, t->name) != t) __builtin_trap();
        if (t->n_bytes) sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->n_bytes - 1];
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_open_params p = {.allow_unsupported_types = true};
    gguf_ctx *c = NULL;
    qlm_errbuf e;
    qlm_status st = gguf_open_memory_ex(data, size, "fuzz", &p, &c, &e);
    if (st != QLM_OK) {
        if (c || strlen(e.msg) <= strlen("fuzz: ")) __builtin_trap();
        return 0;
    }
    walk(c);
    gguf_close(c);
    return 0;
}
#else
typedef int fuzz_gguf_is_empty_without_qlm_fuzz; /* ISO C wants a non-empty unit */
#endif
