/* test_util.h - small helpers shared by the Criterion suites (header-only so
 * every suite file stays self-contained). */
#ifndef QLM_TEST_UTIL_H
#define QLM_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The device the model suites load on (qlm_device): QLM_TEST_DEVICE=cuda
 * runs test_forward's and test_archs's models on the CUDA backend (make
 * test's emulated pass does); unset, the library's default (auto). */
static inline int tu_device(void) {
    const char *d = getenv("QLM_TEST_DEVICE");
    return d && strcmp(d, "cuda") == 0 ? 2 /* QLM_DEVICE_CUDA */ : 0 /* QLM_DEVICE_AUTO */;
}

/* Reads a whole file; NULL if it cannot. The buffer has a NUL after *len bytes. */
static inline char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

/* Parses whitespace-separated numbers (as doubles) into out[cap]; returns the count. */
static inline size_t tu_parse_numbers(const char *s, double *out, size_t cap) {
    size_t n = 0;
    char *end;
    while (n < cap) {
        double v = strtod(s, &end);
        if (end == s) break;
        out[n++] = v;
        s = end;
    }
    return n;
}

/* 1 in a sanitized build (make asan). The long greedy runs then follow
 * fewer steps: under ASan and UBSan each decoded token costs 5 to 10 times
 * more, the memory checks gain nothing from the 17th identical step, and
 * `make test` still runs every step unsanitized. */
#if defined(__SANITIZE_ADDRESS__)
#define TU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_SANITIZED 1
#endif
#endif
#ifndef TU_SANITIZED
#define TU_SANITIZED 0
#endif

/* Path of the default model: $QLM_MODEL, else the make cache location. */
static inline const char *tu_model_path(void) {
    const char *p = getenv("QLM_MODEL");
    return p && *p ? p : "cache/SmolLM2-135M-Instruct.Q4_1.gguf";
}

/* Directory holding ../shared: $QLM_SHARED, else "../shared". */
static inline const char *tu_shared_dir(void) {
    const char *p = getenv("QLM_SHARED");
    return p && *p ? p : "../shared";
}

#endif
