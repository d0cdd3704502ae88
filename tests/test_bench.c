/* test_bench.c - the benchmark's own machinery: the synthetic-model
 * generator writes files qlm (and so gguf_open) accepts, with the tensors a
 * llama model needs, that decode to finite logits; bad command lines fail
 * with a message. No timing assertions: speed lives in bench output. */
#include <criterion/criterion.h>
#include <math.h>
#include <unistd.h>

/* bench/ is not in libqlm; its argument parser is compiled into this suite
 * directly and its generator (bench/synth.c) linked into the test binary
 * (both only use libqlm's internals). */
#include "../bench/args.c"
#include "gguf.h"
#include "qlm.h"
#include "test_util.h"

static const char *const type_names[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"};

/* A unique temporary path; the file is created by mkstemps and removed by the caller. */
static void temp_path(char *buf, size_t cap) {
    snprintf(buf, cap, "/tmp/qlm-test-bench-XXXXXX.gguf");
    int fd = mkstemps(buf, 5);
    cr_assert(fd >= 0, "mkstemps failed");
    close(fd);
}

static void write_tiny(const char *type_name, uint64_t seed, const char *path) {
    qlm_type t;
    char err[256];
    cr_assert(synth_parse_type(type_name, &t), "type %s not accepted", type_name);
    cr_assert_eq(synth_write(synth_find("tiny"), t, seed, path, 0, err, sizeof err), 0, "%s", err);
}

Test(bench, synthetic_file_has_llama_tensors) {
    const synth_preset *p = synth_find("tiny");
    cr_assert(p);
    for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++) {
        char path[64];
        temp_path(path, sizeof path);
        write_tiny(type_names[k], 1, path);
        gguf_ctx *g = NULL;
        qlm_errbuf e;
        cr_assert_eq(gguf_open(path, NULL, &g, &e), QLM_OK, "%s: %s", type_names[k], e.msg);
        cr_assert_eq(gguf_tensor_count(g), synth_tensor_count(p));
        cr_assert_eq(gguf_tensor_count(g), 3 + 9 * 2);
        qlm_type want;
        synth_parse_type(type_names[k], &want);
        for (int64_t i = 0; i < gguf_tensor_count(g); i++) {
            const gguf_tensor *t = gguf_tensor_at(g, i);
            cr_assert_eq(t->type, t->n_dims == 1 ? QLM_TYPE_F32 : want, "%s: %s is %s", type_names[k],
                         t->name, qlm_type_name(t->type));
        }
        const gguf_tensor *out = gguf_find_tensor(g, "output.weight");
        cr_assert(out && out->ne[0] == 64 && out->ne[1] == 512);
        cr_assert(gguf_find_tensor(g, "blk.1.ffn_down.weight"));
        gguf_close(g);
        remove(path);
    }
}

Test(bench, synthetic_model_decodes_to_finite_logits) {
    char path[64];
    temp_path(path, sizeof path);
    write_tiny("q4_0", 7, path);
    qlm_model *m = NULL;
    cr_assert_eq(qlm_model_load(path, NULL, &m), QLM_OK, "%s", qlm_model_last_error(m));
    cr_assert_eq(qlm_model_n_vocab(m), 512);
    cr_assert_eq(qlm_model_n_layer(m), 2);
    cr_assert_str_eq(qlm_model_arch(m), "llama");
    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = 32;
    qlm_context *ctx = NULL;
    cr_assert_eq(qlm_context_new(m, &cp, &ctx), QLM_OK);
    const int32_t toks[4] = {1, 300, 301, 511};
    const float *logits = NULL;
    cr_assert_eq(qlm_decode(ctx, toks, 4, &logits), QLM_OK, "%s", qlm_context_last_error(ctx));
    cr_assert_eq(qlm_decode(ctx, &toks[2], 1, &logits), QLM_OK);
    int spread = 0;
    for (int i = 0; i < 512; i++) {
        cr_assert(isfinite(logits[i]), "logit %d = %f", i, logits[i]);
        spread |= logits[i] != logits[0];
    }
    cr_assert(spread, "all logits equal: the weights are not random");
    /* The tokenizer is usable too: text round-trips through byte tokens. */
    cr_assert_gt(qlm_tokenizer_n_vocab(qlm_model_tokenizer(m)), 259);
    qlm_context_free(ctx);
    qlm_model_free(m);
    remove(path);
}

Test(bench, synthetic_is_deterministic_per_seed) {
    char a[64], b[64], c[64];
    temp_path(a, sizeof a);
    temp_path(b, sizeof b);
    temp_path(c, sizeof c);
    write_tiny("q8_0", 5, a);
    write_tiny("q8_0", 5, b);
    write_tiny("q8_0", 6, c);
    size_t na = 0, nb = 0, nc = 0;
    char *da = tu_read_file(a, &na), *db = tu_read_file(b, &nb), *dc = tu_read_file(c, &nc);
    cr_assert(da && db && dc);
    cr_assert(na == nb && memcmp(da, db, na) == 0, "same seed, different files");
    cr_assert(na == nc && memcmp(da, dc, na) != 0, "different seeds, same file");
    free(da);
    free(db);
    free(dc);
    remove(a);
    remove(b);
    remove(c);
}

/* Parses a NULL-terminated argv; returns the status and leaves the message in err. */
static int parse(bench_opts *o, char *err, size_t cap, char **argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    *o = bench_default_opts();
    return bench_parse_args(o, argc, argv, err, cap);
}

#define PARSE_FAILS(needle, ...)                                                         \
    do {                                                                                 \
        char *argv_[] = {"bench", __VA_ARGS__, NULL};                                    \
        cr_assert_neq(parse(&o, err, sizeof err, argv_), 0, "accepted: %s", #__VA_ARGS__); \
        cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);          \
    } while (0)

Test(bench, argument_errors_have_messages) {
    bench_opts o;
    char err[256];
    PARSE_FAILS("unknown option", "--frobnicate", "1");
    PARSE_FAILS("unknown preset", "--synthetic", "llama-3t");
    PARSE_FAILS("cannot be generated", "--synthetic", "llama-110m", "--type", "iq2_xxs");
    PARSE_FAILS("cannot be generated", "--synthetic", "llama-110m", "--type", "q8_k"); /* activations only */
    PARSE_FAILS("needs a value", "-m");
    PARSE_FAILS("bad value", "-m", "x.gguf", "-p", "12,abc");
    PARSE_FAILS("bad value", "-m", "x.gguf", "-r", "0");
    PARSE_FAILS("bad value", "-m", "x.gguf", "-o", "xml");
    PARSE_FAILS("not both", "-m", "x.gguf", "--synthetic", "llama-110m");
    PARSE_FAILS("no model", "-p", "8");
    PARSE_FAILS("go with --synthetic", "-m", "x.gguf", "--type", "q8_0");
}

Test(bench, arguments_parse) {
    bench_opts o;
    char err[256];
    char *argv[] = {"bench", "--synthetic", "llama-1.1b", "--type", "Q8_0", "-p", "128,512", "-n", "64",
                    "-t", "1,2", "-r", "5", "-o", "json", NULL};
    cr_assert_eq(parse(&o, err, sizeof err, argv), 0, "%s", err);
    cr_assert_eq(o.type, QLM_TYPE_Q8_0);
    cr_assert(o.pp.n == 2 && o.pp.v[1] == 512 && o.tg.n == 1 && o.tg.v[0] == 64);
    cr_assert(o.threads.n == 2 && o.reps == 5 && o.json);
    char *argv2[] = {"bench", "--bandwidth", "-t", "2", NULL};
    cr_assert_eq(parse(&o, err, sizeof err, argv2), 0, "%s", err);
    cr_assert_eq(o.mode, BENCH_BANDWIDTH);
}
