/* test_cuda_forward.c - the whole model on the CUDA backend against the CPU
 * path (itself held to llama.cpp's tokens and PyTorch's logits by
 * test_forward.c and test_archs.c; those suites run on the CUDA backend too,
 * with QLM_TEST_DEVICE=cuda, in make test's emulated pass). Here: synthetic
 * models of every weight type, decoded in one batch and token by token (the
 * captured decode graph), with some layers on the CPU (-ngl), after a
 * context shift, graphs on and off. In a build without CUDA, or on a machine
 * without a device, each test skips with a message; in the emulated build
 * (make CUDA=emu) they run on the CPU emulator of kernels/cuda/emu. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "../bench/bench.h"
#include "cuda_test.h"
#include "qlm.h"

#define N_PROMPT 12 /* > QLM_CU_GEMV_MAX_TOK (8): the prompt takes the prefill GEMM */
#define N_GEN 6


static void write_synthetic(const char *preset, const char *type_name, char *path, size_t cap) {
    qlm_type t;
    char err[256];
    snprintf(path, cap, "/tmp/qlm-test-cuda-XXXXXX.gguf");
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0, "mkstemps failed");
    close(fd);
    cr_assert(synth_parse_type(type_name, &t), "type %s", type_name);
    cr_assert_eq(synth_write(synth_find(preset), t, 99, path, 0, err, sizeof err), 0, "%s", err);
}

static qlm_model *load(const char *path, qlm_device device, int n_gpu_layers) {
    qlm_model_params mp = qlm_model_default_params();
    mp.device = device;
    mp.n_gpu_layers = n_gpu_layers;
    mp.n_threads = 2;
    qlm_model *m = NULL;
    cr_assert_eq(qlm_model_load(path, &mp, &m), QLM_OK, "%s: %s", path, qlm_model_last_error(m));
    return m;
}

static qlm_context *new_ctx(qlm_model *m, qlm_kv_type kv, int logits_all) {
    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = 64;
    cp.n_batch = 32;
    cp.kv_type = kv;
    cp.logits_all = logits_all;
    qlm_context *c = NULL;
    cr_assert_eq(qlm_context_new(m, &cp, &c), QLM_OK, "%s", qlm_context_last_error(c));
    return c;
}

/* max |a - b| / max |b| over n logits (NaN: infinite). */
static double rel_err(const float *a, const float *b, int n) {
    double diff = 0.0, scale = 0.0;
    for (int j = 0; j < n; j++) {
        const double d = fabs((double)a[j] - (double)b[j]);
        diff = d > diff || d != d ? d : diff;
        scale = fabs((double)b[j]) > scale ? fabs((double)b[j]) : scale;
    }
    return diff != diff ? INFINITY : diff / scale;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int j = 1; j < n; j++) best = x[j] > x[best] ? j : best;
    return best;
}

/* A run: the prompt in one batch, then N_GEN tokens one at a time: the
 * greedy ones, or those of `follow` (another run's) when not NULL.
 * logits[k] (k = 0 after the prompt, then after each token) are copied out. */
typedef struct run_out {
    float *logits; /* (N_GEN + 1, n_vocab) */
    int tokens[N_GEN];
    int n_vocab;
} run_out;

static void run_greedy(qlm_model *m, qlm_kv_type kv, int shift, const run_out *follow, run_out *out) {
    const int nv = qlm_model_n_vocab(m);
    qlm_context *c = new_ctx(m, kv, 0);
    int32_t prompt[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) prompt[i] = (int32_t)((i * 37 + 11) % nv);
    out->n_vocab = nv;
    out->logits = malloc(sizeof(float) * (size_t)nv * (N_GEN + 1));
    const float *lg = NULL;
    cr_assert_eq(qlm_decode(c, prompt, N_PROMPT, &lg), QLM_OK, "%s", qlm_context_last_error(c));
    for (int k = 0; k <= N_GEN; k++) {
        memcpy(out->logits + (size_t)k * nv, lg, sizeof(float) * (size_t)nv);
        if (k == N_GEN) break;
        if (shift && k == N_GEN / 2) /* drop 4 positions after the first 2: keys rotate back */
            cr_assert_eq(qlm_context_shift(c, 2, 4), QLM_OK, "%s", qlm_context_last_error(c));
        out->tokens[k] = argmax(lg, nv);
        int32_t t = follow ? follow->tokens[k] : out->tokens[k];
        cr_assert_eq(qlm_decode(c, &t, 1, &lg), QLM_OK, "%s", qlm_context_last_error(c));
    }
    qlm_context_free(c);
}

/* The GPU's logits against the CPU's at every step (the GPU run was fed
 * the CPU's tokens, so one near-tie cannot derail the rest), within tol
 * relative to the largest logit; and the same greedy choice at every step
 * where the CPU's top two are further apart than that. */
static void compare_runs(const run_out *gpu, const run_out *cpu, double tol, const char *what) {
    double worst = 0.0;
    for (int k = 0; k <= N_GEN; k++) {
        const float *g = gpu->logits + (size_t)k * cpu->n_vocab, *c = cpu->logits + (size_t)k * cpu->n_vocab;
        const double e = rel_err(g, c, cpu->n_vocab);
        worst = e > worst ? e : worst;
        cr_expect(e <= tol, "%s: step %d: GPU logits differ from the CPU's by %.3g of the largest (tol %g)", what, k,
                  e, tol);
    }
    cr_log_info("cuda_forward: %s: largest difference %.3g of the largest logit (tol %g)\n", what, worst, tol);
    for (int k = 0; k < N_GEN; k++)
        if (gpu->tokens[k] != cpu->tokens[k]) {
            const float *c = cpu->logits + (size_t)k * cpu->n_vocab;
            const double gap = fabs((double)c[gpu->tokens[k]] - (double)c[cpu->tokens[k]]);
            cr_expect(gap <= 2 * tol * fabs((double)c[cpu->tokens[k]]) + 1e-6,
                      "%s: step %d: greedy token %d on the GPU, %d on the CPU (gap %.3g)", what, k, gpu->tokens[k],
                      cpu->tokens[k], gap);
        }
}

/* Tolerances, relative to the largest logit, for 2-layer random models
 * (logits of O(1)). The GPU and the CPU round differently on the way:
 *  - float weights: the same F16 cache and F16 rounding of prompt
 *    activations, but the GPU's summation orders (warp trees, split-KV
 *    attention, cuBLAS) and its expf in the activations. Measured 1.7e-4
 *    (F32), 2.9e-4 (F16). Mistakes in the forward pass move these models'
 *    logits by about 1e-2 (measured: NORM/NeoX RoPE pairs swapped 1.1e-2,
 *    the FFN output 5% off 1.2e-2): 1e-3 separates the two.
 *  - BF16 weights: the decode GEMV keeps x in float where the CPU rounds it
 *    to BF16 (2^-9): measured 2.4e-3, bound 1e-2.
 *  - quantized weights: both sides quantize activations to int8, the GPU
 *    per 32 values with a float scale, the CPU per 32 with an F16 scale
 *    (Q8_0) or per 256 (Q8_K, the K-quants and ternary types), each an
 *    error of up to half a step per activation. Measured 0.009 (Q8_0, Q4_0,
 *    Q4_1, MXFP4) to 0.012 (Q5_x), 0.016-0.022 (K-quants, TQ, IQ4_XS) and
 *    0.029 (Q2_K): bound 0.05. That is what a broken GPU kernel for the type
 *    fails by (a Q2_K decoder with a wrong shift: 20 times the largest
 *    logit), not a subtle mistake in the forward pass: those are the float
 *    types' tests here and test_archs/test_forward on the CUDA backend. */
#define TOL_FLOAT 1e-3
#define TOL_BF16 1e-2
#define TOL_QUANT 5e-2

static void check_type(const char *preset, const char *type_name, double tol) {
    CUDA_SKIP_WITHOUT_DEVICE();
    char path[64];
    write_synthetic(preset, type_name, path, sizeof path);
    qlm_model *mc = load(path, QLM_DEVICE_CPU, 0), *mg = load(path, QLM_DEVICE_CUDA, -1);
    run_out c, g;
    run_greedy(mc, QLM_KV_F16, 0, NULL, &c);
    run_greedy(mg, QLM_KV_F16, 0, &c, &g);
    compare_runs(&g, &c, tol, type_name);
    free(c.logits), free(g.logits);
    qlm_model_free(mc), qlm_model_free(mg);
    remove(path);
}

/* 32-value formats on "tiny" (64-wide rows), 256-value ones on "tiny-256". */
Test(cuda_forward, f32) { check_type("tiny", "f32", TOL_FLOAT); }
Test(cuda_forward, f16) { check_type("tiny", "f16", TOL_FLOAT); }
Test(cuda_forward, bf16) { check_type("tiny", "bf16", TOL_BF16); }
Test(cuda_forward, q8_0) { check_type("tiny", "q8_0", TOL_QUANT); }
Test(cuda_forward, q4_0) { check_type("tiny", "q4_0", TOL_QUANT); }
Test(cuda_forward, q4_1) { check_type("tiny", "q4_1", TOL_QUANT); }
Test(cuda_forward, q5_0) { check_type("tiny", "q5_0", TOL_QUANT); }
Test(cuda_forward, q5_1) { check_type("tiny", "q5_1", TOL_QUANT); }
Test(cuda_forward, iq4_nl) { check_type("tiny", "iq4_nl", TOL_QUANT); }
Test(cuda_forward, mxfp4) { check_type("tiny", "mxfp4", TOL_QUANT); }
Test(cuda_forward, q4_k) { check_type("tiny-256", "q4_k", TOL_QUANT); }
Test(cuda_forward, q5_k) { check_type("tiny-256", "q5_k", TOL_QUANT); }
Test(cuda_forward, q6_k) { check_type("tiny-256", "q6_k", TOL_QUANT); }
Test(cuda_forward, q3_k) { check_type("tiny-256", "q3_k", TOL_QUANT); }
Test(cuda_forward, q2_k) { check_type("tiny-256", "q2_k", TOL_QUANT); }
Test(cuda_forward, iq4_xs) { check_type("tiny-256", "iq4_xs", TOL_QUANT); }
Test(cuda_forward, tq1_0) { check_type("tiny-256", "tq1_0", TOL_QUANT); }
Test(cuda_forward, tq2_0) { check_type("tiny-256", "tq2_0", TOL_QUANT); }

/* -ngl: one layer on the GPU, one on the CPU (the residual stream crosses
 * back after layer 0); F32 cache on both; and a context shift in the
 * middle of the generation, which rotates the GPU's and the CPU's cached
 * keys back. F16 weights, so the float bound applies. */
Test(cuda_forward, split_layers_and_shift) {
    CUDA_SKIP_WITHOUT_DEVICE();
    char path[64];
    write_synthetic("tiny", "f16", path, sizeof path);
    qlm_model *mc = load(path, QLM_DEVICE_CPU, 0), *mg = load(path, QLM_DEVICE_CUDA, 1);
    int n_gpu = 0;
    cr_assert_str_eq(qlm_model_device(mg, &n_gpu), "cuda");
    cr_assert_eq(n_gpu, 1);
    run_out c, g;
    run_greedy(mc, QLM_KV_F32, 1, NULL, &c);
    run_greedy(mg, QLM_KV_F32, 1, &c, &g);
    compare_runs(&g, &c, TOL_FLOAT, "-ngl 1, shift");
    free(g.logits);
    qlm_model_free(mg);
    mg = load(path, QLM_DEVICE_CUDA, -1); /* whole model, F32 cache, shift */
    run_greedy(mg, QLM_KV_F32, 1, &c, &g);
    compare_runs(&g, &c, TOL_FLOAT, "all layers, shift");
    free(c.logits), free(g.logits);
    qlm_model_free(mc), qlm_model_free(mg);
    remove(path);
}

/* The captured decode graph replays exactly what the step computes when
 * launched kernel by kernel. */
Test(cuda_forward, graph_matches_direct_launches) {
    CUDA_SKIP_WITHOUT_DEVICE();
    char path[64];
    write_synthetic("tiny", "q4_0", path, sizeof path);
    qlm_model *m = load(path, QLM_DEVICE_CUDA, -1);
    run_out a, b;
    run_greedy(m, QLM_KV_F16, 0, NULL, &a);
    setenv("QLM_CUDA_GRAPHS", "0", 1); /* Criterion runs each test in its own process */
    run_greedy(m, QLM_KV_F16, 0, NULL, &b);
    cr_expect_eq(memcmp(a.logits, b.logits, sizeof(float) * (size_t)a.n_vocab * (N_GEN + 1)), 0,
                 "graph replay and direct launches differ");
    free(a.logits), free(b.logits);
    qlm_model_free(m);
    remove(path);
}

/* logits_all on the GPU: every position of a batch, equal to decoding the
 * same tokens one at a time. */
Test(cuda_forward, logits_all_matches_token_by_token) {
    CUDA_SKIP_WITHOUT_DEVICE();
    char path[64];
    write_synthetic("tiny", "f16", path, sizeof path);
    qlm_model *m = load(path, QLM_DEVICE_CUDA, -1);
    const int nv = qlm_model_n_vocab(m);
    qlm_context *all = new_ctx(m, QLM_KV_F32, 1), *one = new_ctx(m, QLM_KV_F32, 0);
    int32_t toks[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) toks[i] = (int32_t)((i * 53 + 5) % nv);
    cr_assert_eq(qlm_decode(all, toks, N_PROMPT, NULL), QLM_OK, "%s", qlm_context_last_error(all));
    for (int i = 0; i < N_PROMPT; i++) {
        const float *lg = NULL;
        cr_assert_eq(qlm_decode(one, toks + i, 1, &lg), QLM_OK, "%s", qlm_context_last_error(one));
        const float *row = qlm_context_logits(all, i);
        cr_assert(row, "no logits for position %d", i);
        const double e = rel_err(row, lg, nv);
        cr_expect(e <= TOL_FLOAT, "position %d: batch vs one at a time differ by %.3g", i, e);
    }
    qlm_context_free(all), qlm_context_free(one);
    qlm_model_free(m);
    remove(path);
}

/* Asking for the GPU where there is none is a clear error, not a crash or a
 * silent CPU run. */
Test(cuda_forward, cuda_without_device_is_a_clear_error) {
#ifdef QLM_HAVE_CUDA
    if (qlm_cuda_device_count() > 0) cr_skip_test("a CUDA device is present");
#endif
    char path[64];
    write_synthetic("tiny", "q8_0", path, sizeof path);
    qlm_model_params mp = qlm_model_default_params();
    mp.device = QLM_DEVICE_CUDA;
    qlm_model *m = NULL;
    cr_expect_eq(qlm_model_load(path, &mp, &m), QLM_ERR_UNSUPPORTED);
    cr_expect(strstr(qlm_model_last_error(m), "cuda") != NULL, "message: %s", qlm_model_last_error(m));
    qlm_model_free(m);
    remove(path);
}
