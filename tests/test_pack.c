/* test_pack.c - the R16 interleaved layout (kernels/cpu/pack.h): packing is
 * a permutation of bytes, so unpacking gives back every row exactly, both on
 * random tensors and on the default model as the loader repacks it. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h" /* internals: the loaded weights */
#include "ops.h"
#include "pack.h"
#include "qlm.h"
#include "test_util.h"

static uint64_t rng = 12345;
static uint8_t rbyte(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint8_t)(rng >> 56);
}

/* Random bytes are valid quantized data for the layout (any scale bits,
 * NaN included, pack the same); n_out rows of n_in values. */
static void check_roundtrip(qlm_type type, int64_t n_in, int64_t n_out) {
    const size_t row = qlm_row_size(type, n_in), bytes = row * (size_t)n_out;
    uint8_t *orig = malloc(bytes), *data = malloc(bytes), *tmp = malloc(QLM_PACK_ROWS * row), *back = malloc(row);
    for (size_t i = 0; i < bytes; i++) orig[i] = rbyte();
    memcpy(data, orig, bytes);
    qlm_tensor w = {"w", type, {n_in, n_out, 1, 1}, row, data, QLM_LAYOUT_ROWS};
    cr_assert(qlm_pack_supported(type, n_in, n_out));
    qlm_pack_groups(&w, data, 0, n_out / QLM_PACK_ROWS, tmp);
    w.layout = QLM_LAYOUT_R16;
    /* one block a row may pack to itself (F16/BF16: a pair and no header) */
    cr_expect(qlm_pack_blocks(type, n_in) == 1 || memcmp(orig, data, bytes) != 0, "%s: packing moved nothing",
              qlm_type_name(type));
    for (int64_t r = 0; r < n_out; r++) {
        qlm_tensor_row_bytes(&w, r, back);
        cr_expect(memcmp(back, orig + r * row, row) == 0, "%s n_in %lld row %lld differs after unpacking",
                  qlm_type_name(type), (long long)n_in, (long long)r);
    }
    free(orig), free(data), free(tmp), free(back);
}

Test(pack, roundtrip_is_exact) {
    const qlm_type types[] = {QLM_TYPE_Q4_0,   QLM_TYPE_Q4_1,  QLM_TYPE_Q8_0, QLM_TYPE_Q5_0,
                              QLM_TYPE_IQ4_NL, QLM_TYPE_MXFP4, QLM_TYPE_Q5_1};
    const int64_t ns[] = {32, 64, 160, 4096};
    for (int t = 0; t < 7; t++)
        for (int n = 0; n < 4; n++) {
            check_roundtrip(types[t], ns[n], 16);
            check_roundtrip(types[t], ns[n], 48);
        }
    const qlm_type k_types[] = {QLM_TYPE_Q4_K, QLM_TYPE_Q5_K, QLM_TYPE_Q6_K, QLM_TYPE_IQ4_XS,
                                QLM_TYPE_Q2_K, QLM_TYPE_Q3_K, QLM_TYPE_TQ2_0};
    for (int t = 0; t < 7; t++) {
        check_roundtrip(k_types[t], 256, 16);
        check_roundtrip(k_types[t], 256 * 11, 32);
    }
    /* F16/BF16 pack pairs of values: from one pair to long rows */
    const int64_t float_ns[] = {2, 6, 34, 2048, 5632};
    for (int t = 0; t < 2; t++)
        for (int n = 0; n < 5; n++) {
            check_roundtrip(t ? QLM_TYPE_BF16 : QLM_TYPE_F16, float_ns[n], 16);
            check_roundtrip(t ? QLM_TYPE_BF16 : QLM_TYPE_F16, float_ns[n], 48);
        }
    /* F32 packs single values: any length */
    const int64_t f32_ns[] = {1, 7, 33, 2048, 5632};
    for (int n = 0; n < 5; n++) {
        check_roundtrip(QLM_TYPE_F32, f32_ns[n], 16);
        check_roundtrip(QLM_TYPE_F32, f32_ns[n], 48);
    }
}

/* Packed F32: value k of row r at byte 64 k + 4 r of its group. */
Test(pack, f32_values_interleave_16_rows) {
    enum { N_IN = 5 };
    uint32_t rows[QLM_PACK_ROWS * N_IN], data[QLM_PACK_ROWS * N_IN], tmp[QLM_PACK_ROWS * N_IN];
    for (int i = 0; i < QLM_PACK_ROWS * N_IN; i++) rows[i] = (uint32_t)i;
    memcpy(data, rows, sizeof rows);
    qlm_tensor w = {"w", QLM_TYPE_F32, {N_IN, QLM_PACK_ROWS, 1, 1}, 4 * N_IN, data, QLM_LAYOUT_ROWS};
    qlm_pack_groups(&w, data, 0, 1, tmp);
    for (int k = 0; k < N_IN; k++)
        for (int r = 0; r < QLM_PACK_ROWS; r++)
            cr_expect_eq(data[16 * k + r], rows[r * N_IN + k], "value %d row %d", k, r);
    cr_expect_eq(qlm_pack_blocks(QLM_TYPE_F32, N_IN), N_IN);
}

/* Packed F16: pair p of row r at byte 64 p + 4 r of its group. */
Test(pack, f16_pairs_interleave_16_rows) {
    enum { N_IN = 6 };
    uint16_t rows[QLM_PACK_ROWS * N_IN], data[QLM_PACK_ROWS * N_IN], tmp[QLM_PACK_ROWS * N_IN];
    for (int i = 0; i < QLM_PACK_ROWS * N_IN; i++) rows[i] = (uint16_t)i;
    memcpy(data, rows, sizeof rows);
    qlm_tensor w = {"w", QLM_TYPE_F16, {N_IN, QLM_PACK_ROWS, 1, 1}, 2 * N_IN, data, QLM_LAYOUT_ROWS};
    qlm_pack_groups(&w, data, 0, 1, tmp);
    for (int p = 0; p < N_IN / 2; p++)
        for (int r = 0; r < QLM_PACK_ROWS; r++)
            for (int j = 0; j < 2; j++)
                cr_expect_eq(data[32 * p + 2 * r + j], rows[r * N_IN + 2 * p + j], "pair %d row %d value %d",
                             p, r, j);
    cr_expect_eq(qlm_pack_blocks(QLM_TYPE_F16, N_IN), N_IN / 2);
    cr_expect_eq(qlm_pack_blocks(QLM_TYPE_Q4_0, 64), 2);
}

Test(pack, only_whole_groups_of_supported_types) {
    cr_expect(qlm_pack_supported(QLM_TYPE_Q4_0, 64, 32));
    cr_expect_not(qlm_pack_supported(QLM_TYPE_Q4_0, 64, 17), "a partial group stays row-major");
    cr_expect_not(qlm_pack_supported(QLM_TYPE_Q4_0, 64, 0));
    cr_expect(qlm_pack_supported(QLM_TYPE_F16, 2, 16));
    cr_expect(qlm_pack_supported(QLM_TYPE_BF16, 2048, 32));
    cr_expect_not(qlm_pack_supported(QLM_TYPE_F16, 33, 32), "rows of odd length hold no whole pairs");
    cr_expect_not(qlm_pack_supported(QLM_TYPE_BF16, 1, 16), "rows of odd length hold no whole pairs");
    cr_expect(qlm_pack_supported(QLM_TYPE_F32, 1, 16), "F32 packs single values");
    cr_expect(qlm_pack_supported(QLM_TYPE_F32, 33, 32));
    cr_expect_not(qlm_pack_supported(QLM_TYPE_F32, 64, 1), "1-D (norm) weights stay row-major");
    cr_expect_not(qlm_pack_supported(QLM_TYPE_F32, 2048, 24), "a partial group stays row-major");
    cr_expect(qlm_pack_supported(QLM_TYPE_TQ2_0, 256, 16));
    /* the loader transcodes TQ1_0 weights to TQ2_0 instead (test_transcode.c) */
    cr_expect_not(qlm_pack_supported(QLM_TYPE_TQ1_0, 256, 16), "TQ1_0 has no packed layout");
}

/* A model loaded twice, as stored and repacked: every matmul weight
 * dequantizes to the same floats, row by row (a tied embedding table,
 * looked up by row, included). Returns how many weights of each type got
 * packed (by_type[t]). */
static void check_model_repack(const char *path, int n_by_type[QLM_TYPE_COUNT], int *n_weights) {
    qlm_model_params p = qlm_model_default_params();
    qlm_model *rows = NULL, *packed = NULL;
    p.repack = 0;
    cr_assert_eq(qlm_model_load(path, &p, &rows), QLM_OK, "%s", qlm_last_error(rows));
    p.repack = 1;
    cr_assert_eq(qlm_model_load(path, &p, &packed), QLM_OK, "%s", qlm_last_error(packed));
    float *a = malloc(sizeof(float) * 8192), *b = malloc(sizeof(float) * 8192);
    void *tmp = malloc(1 << 16);
    *n_weights = 0;
    for (int il = -1; il < rows->hp.n_layer; il++) {
        const qlm_tensor *ra[7], *pa[7];
        int n = 0;
        if (il < 0) ra[n] = &rows->tok_embd, pa[n++] = &packed->tok_embd;
        else {
            const qlm_layer *lr = &rows->layers[il], *lp = &packed->layers[il];
            const qlm_tensor *r7[7] = {&lr->wq, &lr->wk, &lr->wv, &lr->wo, &lr->ffn_gate, &lr->ffn_up, &lr->ffn_down};
            const qlm_tensor *p7[7] = {&lp->wq, &lp->wk, &lp->wv, &lp->wo, &lp->ffn_gate, &lp->ffn_up, &lp->ffn_down};
            for (; n < 7; n++) ra[n] = r7[n], pa[n] = p7[n];
        }
        for (int k = 0; k < n; k++) {
            cr_assert_eq(ra[k]->layout, QLM_LAYOUT_ROWS);
            n_by_type[pa[k]->type] += pa[k]->layout == QLM_LAYOUT_R16;
            ++*n_weights;
            cr_assert_leq(ra[k]->ne[0], 8192);
            for (int64_t r = 0; r < qlm_tensor_rows(ra[k]); r++) {
                qlm_tensor_row_to_float(ra[k], r, a, tmp);
                qlm_tensor_row_to_float(pa[k], r, b, tmp);
                if (memcmp(a, b, sizeof(float) * ra[k]->ne[0]) != 0) {
                    cr_expect_fail("%s: %s row %lld differs after repacking", path, ra[k]->name, (long long)r);
                    break;
                }
            }
        }
    }
    free(a), free(b), free(tmp);
    qlm_model_free(rows);
    qlm_model_free(packed);
}

Test(pack, model_repack_dequantizes_identically) {
    int by_type[QLM_TYPE_COUNT] = {0}, n_weights;
    check_model_repack(tu_model_path(), by_type, &n_weights);
    cr_expect_gt(by_type[QLM_TYPE_Q4_1], n_weights / 2, "the default model's Q4_1 weights get packed (%d of %d)",
                 by_type[QLM_TYPE_Q4_1], n_weights);
}

/* F32 weights (the tiny Gemma 3 fixture, its embedding table tied to the
 * output: looked up by row after packing): packed where the selected
 * table packs F32, 1-D norm weights left as they are. */
Test(pack, f32_repack_dequantizes_identically) {
    const char *path = "tests/fixtures/hf/gemma3.f32.gguf";
    if (access(path, R_OK) != 0) cr_skip_test("%s not readable", path);
    int by_type[QLM_TYPE_COUNT] = {0}, n_weights;
    check_model_repack(path, by_type, &n_weights);
    if (qlm_ops_select()->r16_types >> QLM_TYPE_F32 & 1)
        cr_expect_gt(by_type[QLM_TYPE_F32], n_weights / 2, "F32 weights get packed (%d of %d)",
                     by_type[QLM_TYPE_F32], n_weights);
}

/* Gemma 3 270M Q4_K_M: the K-quant layout (Q4_K, and Q5_0 / Q8_0 where
 * its tables pack them), from a real file. */
Test(pack, gemma3_repack_dequantizes_identically) {
    const char *path = getenv("QLM_GEMMA3_MODEL");
    if (!path || !*path) path = "cache/gemma-3-270m-q4_k_m.gguf";
    if (access(path, R_OK) != 0) cr_skip_test("%s not readable (make models)", path);
    int by_type[QLM_TYPE_COUNT] = {0}, n_weights;
    check_model_repack(path, by_type, &n_weights);
    if (qlm_ops_select()->r16_types >> QLM_TYPE_Q4_K & 1)
        cr_expect_gt(by_type[QLM_TYPE_Q4_K], 10, "Gemma's Q4_K weights get packed (%d)", by_type[QLM_TYPE_Q4_K]);
}
