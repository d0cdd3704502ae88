/* quant_fixture.h - the quantization fixtures in tests/fixtures/quant/
 * (format: tests/gen/gen_quant_fixtures.py; written by it and by the ggml
 * generators gen_quant_fixtures_ggml.py, gen_kquant_fixtures.py,
 * gen_kquant_low_fixtures.py): loading, and the bit-exact check every
 * format's suite runs. Header-only, like test_util.h; include after
 * <criterion/criterion.h>. */
#ifndef QLM_TEST_QUANT_FIXTURE_H
#define QLM_TEST_QUANT_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

typedef struct qf_fixture {
    uint32_t type, n_rows, n_cols, row_bytes;
    float *input, *deq; /* n_rows x n_cols: the values quantized, the oracle's dequantization */
    uint8_t *quant;     /* n_rows x row_bytes: the oracle's quantized bytes */
} qf_fixture;

static inline void qf_read(FILE *f, void *dst, size_t n, const char *path) {
    cr_assert_eq(fread(dst, 1, n, f), n, "%s: truncated", path);
}

static inline qf_fixture qf_load(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/quant/%s.bin", name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (run tests from the repo root; `make fixtures` regenerates it)", path);
    char magic[4];
    uint32_t hdr[5];
    qf_read(f, magic, 4, path);
    qf_read(f, hdr, sizeof hdr, path); /* little-endian host assumed, as GGUF */
    cr_assert(memcmp(magic, "QLMQ", 4) == 0 && hdr[0] == 1, "%s: bad header", path);
    qf_fixture fx = {.type = hdr[1], .n_rows = hdr[2], .n_cols = hdr[3], .row_bytes = hdr[4]};
    cr_assert(fx.n_rows > 0 && fx.n_rows <= 64 && fx.n_cols > 0 && fx.n_cols <= 4096, "%s", path);
    const size_t nv = (size_t)fx.n_rows * fx.n_cols, nq = (size_t)fx.n_rows * fx.row_bytes;
    fx.input = malloc(nv * sizeof(float));
    fx.deq = malloc(nv * sizeof(float));
    fx.quant = malloc(nq);
    cr_assert(fx.input && fx.deq && fx.quant);
    qf_read(f, fx.input, nv * sizeof(float), path);
    qf_read(f, fx.quant, nq, path);
    qf_read(f, fx.deq, nv * sizeof(float), path);
    cr_assert_eq(fgetc(f), EOF, "%s: trailing bytes", path);
    fclose(f);
    return fx;
}

static inline void qf_free(qf_fixture *fx) { free(fx->input), free(fx->deq), free(fx->quant); }

/* Same bits, except that any NaN matches any NaN: the oracles' dequantized
 * rows hold Inf * 0 NaNs whose sign the hardware, not the format, chooses. */
static inline int qf_same_float(float a, float b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Our quantizer's bytes equal the oracle's, and our dequantization of the
 * oracle's bytes equals its values, bit for bit, on every row. */
static inline void qf_check(const char *name, qlm_type type) {
    qf_fixture fx = qf_load(name);
    const qlm_type_traits *tt = qlm_type_traits_get(type);
    cr_assert(tt && tt->from_float && tt->to_float, "%s: type %d has no conversions", name, (int)type);
    cr_assert_eq(fx.type, (uint32_t)type, "%s: type id", name);
    cr_assert_eq(fx.row_bytes, qlm_row_size(type, fx.n_cols), "%s: row bytes", name);
    uint8_t *q = malloc(fx.row_bytes);
    float *deq = malloc(fx.n_cols * sizeof(float));
    cr_assert(q && deq);
    for (uint32_t r = 0; r < fx.n_rows; r++) {
        const uint8_t *want_q = fx.quant + (size_t)r * fx.row_bytes;
        const float *want_deq = fx.deq + (size_t)r * fx.n_cols;
        tt->from_float(fx.input + (size_t)r * fx.n_cols, q, fx.n_cols);
        for (uint32_t i = 0; i < fx.row_bytes; i++)
            cr_assert_eq(q[i], want_q[i], "%s row %u: byte %u (block %u, offset %u) is %02x, oracle %02x", name, r,
                         i, i / (uint32_t)tt->type_size, i % (uint32_t)tt->type_size, q[i], want_q[i]);
        tt->to_float(want_q, deq, fx.n_cols);
        for (uint32_t i = 0; i < fx.n_cols; i++)
            cr_assert(qf_same_float(deq[i], want_deq[i]), "%s row %u: dequantized [%u] = %a, oracle %a", name, r, i,
                      (double)deq[i], (double)want_deq[i]);
    }
    free(q), free(deq);
    qf_free(&fx);
}

#endif
