/* test_transcode.c - TQ1_0 weights transcoded to TQ2_0 at load
 * (qlm_tq1_0_to_tq2_0, engine/repack.c). The conversion must keep every
 * value and every dot product bit for bit: checked on random blocks, on
 * every byte value in every position and on quantized floats; then on
 * small synthetic models (bench/synth.c), whose logits with the transcoded,
 * packed weights must equal those with the file's TQ1_0 rows exactly. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench/bench.h"
#include "gguf.h"
#include "model.h" /* internals: the loaded weights */
#include "pack.h"
#include "qlm.h"
#include "quant_ref.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnext(void) { /* xorshift64* */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

/* n_blocks TQ1_0 blocks converted: the TQ2_0 blocks decode to the same
 * floats (memcmp: NaN scales included), keep d's bytes, and dot random
 * Q8_K activations to the same bits. */
static void check_converted(const qlm_block_tq1_0 *x, int64_t n_blocks, const char *what) {
    const int64_t n = n_blocks * QLM_QK_K;
    qlm_block_tq2_0 *y = malloc(sizeof *y * (size_t)n_blocks);
    float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
    qlm_block_q8_k *act = malloc(sizeof *act * (size_t)n_blocks);
    cr_assert(y && a && b && act);
    qlm_tq1_0_to_tq2_0(x, y, n);
    qlm_tq1_0_to_float(x, a, n);
    qlm_tq2_0_to_float(y, b, n);
    for (int64_t k = 0; k < n_blocks; k++) {
        cr_assert_eq(y[k].d, x[k].d, "%s: block %lld: d differs", what, (long long)k);
        cr_assert(memcmp(a + k * QLM_QK_K, b + k * QLM_QK_K, sizeof(float) * QLM_QK_K) == 0,
                  "%s: block %lld decodes differently", what, (long long)k);
    }
    for (int64_t i = 0; i < n; i++)
        a[i] = (float)((int64_t)(rnext() >> 40) - (1 << 23)) * 0x1p-20f;
    qlm_type_traits_get(QLM_TYPE_Q8_K)->from_float(a, act, n);
    for (int64_t k = 0; k < n_blocks; k++) { /* block by block: one NaN scale would hide the rest */
        float s1, s2;
        qlm_vec_dot_tq1_0_q8_k(QLM_QK_K, &s1, &x[k], &act[k]);
        qlm_vec_dot_tq2_0_q8_k(QLM_QK_K, &s2, &y[k], &act[k]);
        /* a NaN scale (random d bytes) gives NaN in both, its sign and
         * payload up to the operand order the compiler picks */
        cr_assert(memcmp(&s1, &s2, sizeof s1) == 0 || (s1 != s1 && s2 != s2), "%s: block %lld: dot %a vs %a",
                  what, (long long)k, (double)s1, (double)s2);
    }
    free(y), free(a), free(b), free(act);
}

/* Any byte is a valid TQ1_0 byte (each decodes to 5 trits). */
Test(transcode, random_blocks) {
    enum { N = 1000 };
    qlm_block_tq1_0 *x = malloc(sizeof *x * N);
    for (size_t i = 0; i < sizeof *x * N; i++)
        ((uint8_t *)x)[i] = (uint8_t)(rnext() >> 56);
    check_converted(x, N, "random");
    free(x);
}

/* Byte value v at qs[p] / qh[p - 48], the rest random: a wrong digit, field
 * or destination byte shows for some value. */
Test(transcode, every_byte_value_in_every_position) {
    enum { N_POS = 52 };
    qlm_block_tq1_0 *x = malloc(sizeof *x * 256);
    for (int p = 0; p < N_POS; p++) {
        for (size_t i = 0; i < sizeof *x * 256; i++)
            ((uint8_t *)x)[i] = (uint8_t)(rnext() >> 56);
        for (int v = 0; v < 256; v++) {
            if (p < 48)
                x[v].qs[p] = (uint8_t)v;
            else
                x[v].qh[p - 48] = (uint8_t)v;
        }
        char what[32];
        snprintf(what, sizeof what, "byte %d", p);
        check_converted(x, 256, what);
    }
    free(x);
}

/* Quantized floats: the converted bytes are TQ2_0's quantizer's own
 * (both round x / d to the same trit), and the zero block too. */
Test(transcode, quantized_from_floats_equals_tq2_0_quantizer) {
    enum { N_BLOCKS = 64, N = N_BLOCKS * QLM_QK_K };
    float *f = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) {
        const float scale = (float)(1 + i / QLM_QK_K % 7) * 0.01f;
        f[i] = i < QLM_QK_K ? 0.0f : scale * (float)((int64_t)(rnext() >> 40) - (1 << 23)) * 0x1p-23f;
    }
    qlm_block_tq1_0 *x = malloc(sizeof *x * N_BLOCKS);
    qlm_block_tq2_0 *y = malloc(sizeof *y * N_BLOCKS), *want = malloc(sizeof *want * N_BLOCKS);
    qlm_tq1_0_from_float(f, x, N);
    qlm_tq2_0_from_float(f, want, N);
    qlm_tq1_0_to_tq2_0(x, y, N);
    for (int k = 0; k < N_BLOCKS; k++)
        cr_expect(memcmp(&y[k], &want[k], sizeof y[k]) == 0, "block %d differs from TQ2_0's quantizer", k);
    check_converted(x, N_BLOCKS, "quantized");
    free(f), free(x), free(y), free(want);
}

/* ------------------------------------------------------------- models */

/* A unique temporary path; the caller removes the file. */
static void temp_path(char *buf, size_t cap) {
    snprintf(buf, cap, "/tmp/qlm-test-transcode-XXXXXX.gguf");
    int fd = mkstemps(buf, 5);
    cr_assert(fd >= 0, "mkstemps failed");
    close(fd);
}

/* The tiny-256 synthetic llama (every row a whole number of 256-value
 * blocks) in TQ1_0, with its own output head. */
static void write_tq1_0_model(const char *path) {
    char err[256];
    cr_assert_eq(synth_write(synth_find("tiny-256"), QLM_TYPE_TQ1_0, 11, path, 0, err, sizeof err), 0, "%s",
                 err);
}

/* The same file without output.weight: the output head is then the token
 * embedding table (tied). */
static void write_tied_copy(const char *src, const char *dst) {
    gguf_ctx *g = NULL;
    qlm_errbuf e;
    cr_assert_eq(gguf_open(src, NULL, &g, &e), QLM_OK, "%s", e.msg);
    gguf_writer *w = gguf_writer_new();
    cr_assert(w);
    for (int64_t i = 0; i < gguf_kv_count(g); i++)
        cr_assert(gguf_writer_set_value(w, gguf_kv_at(g, i)->key, &gguf_kv_at(g, i)->value));
    for (int64_t i = 0; i < gguf_tensor_count(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (strcmp(t->name, "output.weight") == 0) continue;
        cr_assert(gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data), "%s", t->name);
    }
    cr_assert_eq(gguf_writer_write_file(w, dst, &e), QLM_OK, "%s", e.msg);
    gguf_writer_free(w);
    gguf_close(g);
}

/* use_mmap 0: the file read() into memory, whose pages the transcode drops
 * too (gguf_discard) */
static qlm_model *load(const char *path, int repack, int use_mmap) {
    qlm_model_params p = qlm_model_default_params();
    p.repack = repack;
    p.use_mmap = use_mmap;
    p.n_threads = 2; /* transcoding splits the groups over threads */
    qlm_model *m = NULL;
    cr_assert_eq(qlm_model_load(path, &p, &m), QLM_OK, "%s", qlm_model_last_error(m));
    return m;
}

/* Every matmul weight of the packed model is TQ2_0 in R16 and reads back,
 * row by row, as the file's TQ1_0 rows; a tied table is the output head's
 * bytes. */
static void check_weights(const qlm_model *rows, const qlm_model *packed, int tied) {
    float a[512], b[512];
    char tmp[1024];
    int n = 0;
    for (int il = -1; il < rows->hp.n_layer; il++) {
        const qlm_tensor *rs[7], *ps[7];
        int k = 0;
        if (il < 0)
            rs[k] = &rows->output, ps[k++] = &packed->output;
        else {
            const qlm_layer *lr = &rows->layers[il], *lp = &packed->layers[il];
            const qlm_tensor *r7[7] = {&lr->wq,       &lr->wk,     &lr->wv,      &lr->wo,
                                       &lr->ffn_gate, &lr->ffn_up, &lr->ffn_down};
            const qlm_tensor *p7[7] = {&lp->wq,       &lp->wk,     &lp->wv,      &lp->wo,
                                       &lp->ffn_gate, &lp->ffn_up, &lp->ffn_down};
            for (; k < 7; k++)
                rs[k] = r7[k], ps[k] = p7[k];
        }
        for (int j = 0; j < k; j++, n++) {
            cr_assert_eq(rs[j]->type, QLM_TYPE_TQ1_0, "%s", rs[j]->name);
            cr_assert_eq(ps[j]->type, QLM_TYPE_TQ2_0, "%s not transcoded", ps[j]->name);
            cr_assert_eq(ps[j]->layout, QLM_LAYOUT_R16, "%s not packed", ps[j]->name);
            cr_assert_eq(ps[j]->row_bytes, qlm_row_size(QLM_TYPE_TQ2_0, ps[j]->ne[0]));
            cr_assert_leq(rs[j]->ne[0], 512);
            for (int64_t r = 0; r < qlm_tensor_rows(rs[j]); r++) {
                qlm_tensor_row_to_float(rs[j], r, a, tmp);
                qlm_tensor_row_to_float(ps[j], r, b, tmp);
                cr_assert(memcmp(a, b, sizeof(float) * (size_t)rs[j]->ne[0]) == 0, "%s row %lld differs",
                          rs[j]->name, (long long)r);
            }
        }
    }
    cr_expect_eq(n, 1 + 7 * rows->hp.n_layer);
    const qlm_tensor *te = &packed->tok_embd, *out = &packed->output;
    if (tied) {
        cr_expect(te->data == out->data && te->type == out->type && te->row_bytes == out->row_bytes &&
                      te->layout == out->layout,
                  "the tied embedding table is not the output head's bytes");
    } else {
        cr_expect_eq(te->type, QLM_TYPE_TQ1_0,
                     "an embedding table is looked up, not multiplied: left as it is");
        cr_expect_eq(te->layout, QLM_LAYOUT_ROWS);
    }
    for (int64_t r = 0; r < qlm_tensor_rows(te); r++) {
        qlm_tensor_row_to_float(&rows->tok_embd, r, a, tmp);
        qlm_tensor_row_to_float(te, r, b, tmp);
        cr_assert(memcmp(a, b, sizeof(float) * (size_t)te->ne[0]) == 0, "token_embd row %lld differs",
                  (long long)r);
    }
}

/* Logits of a 6-token batch (prompt path) then one more token (decode path). */
static float *run_logits(qlm_model *m, int *n_out) {
    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = 16;
    cp.logits_all = 1;
    qlm_context *ctx = NULL;
    cr_assert_eq(qlm_context_new(m, &cp, &ctx), QLM_OK, "%s", qlm_context_last_error(ctx));
    const int32_t toks[7] = {1, 300, 17, 511, 260, 42, 299};
    const int nv = qlm_model_n_vocab(m);
    float *out = malloc(sizeof(float) * (size_t)nv * 7);
    cr_assert_eq(qlm_decode(ctx, toks, 6, NULL), QLM_OK, "%s", qlm_context_last_error(ctx));
    for (int i = 0; i < 6; i++)
        memcpy(out + (size_t)i * nv, qlm_context_logits(ctx, i), sizeof(float) * (size_t)nv);
    cr_assert_eq(qlm_decode(ctx, toks + 6, 1, NULL), QLM_OK, "%s", qlm_context_last_error(ctx));
    memcpy(out + (size_t)6 * nv, qlm_context_logits(ctx, 0), sizeof(float) * (size_t)nv);
    qlm_context_free(ctx);
    *n_out = 7 * nv;
    return out;
}

/* tensor_info reports the file's type and bytes, and what the model holds. */
static void check_tensor_info(const qlm_model *m, int tied) {
    int n_transcoded = 0;
    for (int64_t i = 0; i < qlm_model_tensor_count(m); i++) {
        qlm_tensor_info ti;
        cr_assert_eq(qlm_model_tensor_info(m, i, &ti), QLM_OK);
        const int matmul = ti.n_dims == 2 && (tied || strcmp(ti.name, "token_embd.weight") != 0);
        if (ti.n_dims == 2) cr_expect_str_eq(ti.type_name, "TQ1_0", "%s", ti.name);
        cr_expect_str_eq(ti.loaded_type_name, matmul ? "TQ2_0" : ti.type_name, "%s", ti.name);
        cr_expect_eq(ti.loaded_bytes, matmul ? ti.n_bytes / 54 * 66 : ti.n_bytes, "%s", ti.name);
        n_transcoded += matmul;
    }
    cr_expect_eq(n_transcoded, 1 + 7 * qlm_model_n_layer(m));
}

static void check_model(int tied) {
    char path[64], path_tied[64];
    temp_path(path, sizeof path);
    write_tq1_0_model(path);
    if (tied) {
        temp_path(path_tied, sizeof path_tied);
        write_tied_copy(path, path_tied);
        remove(path);
        memcpy(path, path_tied, sizeof path);
    }
    qlm_model *rows = load(path, 0, 1), *packed = load(path, 1, 1), *read = load(path, 1, 0);
    if (!(packed->ops->r16_types >> QLM_TYPE_TQ2_0 & 1)) {
        qlm_model_free(rows), qlm_model_free(packed), qlm_model_free(read), remove(path);
        cr_skip_test("kernel table %s does not pack TQ2_0 (AVX-512 VNNI only): nothing is transcoded",
                     packed->ops->name);
    }
    cr_assert_eq(tied, rows->output.data == rows->tok_embd.data, "the test file is %s",
                 tied ? "untied" : "tied");
    check_weights(rows, packed, tied);
    check_weights(rows, read, tied);
    check_tensor_info(packed, tied);
    int n_a, n_b, n_c;
    float *a = run_logits(rows, &n_a), *b = run_logits(packed, &n_b), *c = run_logits(read, &n_c);
    cr_assert(n_a == n_b && n_a == n_c);
    int n_diff = 0, n_diff_read = 0;
    for (int i = 0; i < n_a; i++) {
        n_diff += memcmp(&a[i], &b[i], sizeof a[i]) != 0;
        n_diff_read += memcmp(&a[i], &c[i], sizeof a[i]) != 0;
    }
    cr_expect_eq(n_diff, 0, "%d of %d logits differ between TQ1_0 rows and transcoded TQ2_0 R16", n_diff,
                 n_a);
    cr_expect_eq(n_diff_read, 0, "%d of %d logits differ with the file read() into memory", n_diff_read, n_a);
    free(a), free(b), free(c);
    qlm_model_free(rows);
    qlm_model_free(packed);
    qlm_model_free(read);
    remove(path);
}

/* QLM_CPU=avx512: the table that packs TQ2_0 (each test runs in its own
 * process, so the setting touches no other test). */
Test(transcode, model_logits_bit_identical) {
    setenv("QLM_CPU", "avx512", 1);
    check_model(0);
}

Test(transcode, tied_model_logits_bit_identical) {
    setenv("QLM_CPU", "avx512", 1);
    check_model(1);
}

/* A table that does not pack TQ2_0 keeps the file's TQ1_0 rows. */
Test(transcode, ref_table_keeps_tq1_0) {
    setenv("QLM_CPU", "ref", 1);
    char path[64];
    temp_path(path, sizeof path);
    write_tq1_0_model(path);
    qlm_model *m = load(path, 1, 1);
    cr_expect_eq(m->layers[0].wq.type, QLM_TYPE_TQ1_0);
    cr_expect_eq(m->layers[0].wq.layout, QLM_LAYOUT_ROWS);
    cr_expect_eq(m->n_owned, 0);
    qlm_model_free(m);
    remove(path);
}
