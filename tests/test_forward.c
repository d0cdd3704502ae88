/* test_forward.c - the forward pass against an outside oracle: llama.cpp
 * (through llama-cpp-python, tests/gen/gen_llama_oracle.py) on the real
 * models: the default model (SmolLM2-135M, llama architecture, Q4_1) and
 * Gemma 3 270M (gemma3 architecture, Q4_K_M: Q5_0, Q4_K, Q6_K and Q8_0
 * tensors). We feed llama.cpp's prompt token ids, compare the first-step
 * top-10 logits and reproduce its 64 greedy tokens. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ops.h"
#include "oracle_check.h"
#include "qlm.h"
#include "test_util.h"

#define ORACLE "tests/fixtures/oracle/smollm2_q4_1"
#define GEMMA3_ORACLE "tests/fixtures/oracle/gemma3_270m_q4_k_m"

/* Logit tolerance. llama.cpp's own logits for this model and prompt move by
 * up to 0.39 between its own settings (measured with llama-cpp-python 0.3.36:
 * flash attention on/off 0.39, F32 vs F16 KV cache 0.36, n_batch 1 vs 512
 * 0.22), because summation order and F16 rounding differ between its kernels.
 * An engine as exact as llama.cpp can therefore only be held to that spread:
 * 0.5, still far below the 1-10 gaps between the top-10 candidates. */
#define LOGIT_TOL 0.5

/* Much of that noise is a common shift of all logits (within one prompt our
 * top-10 differences from llama.cpp often share a sign: +0.22 .. +0.52),
 * which changes no probability. The top-10 are therefore compared up to
 * their mean difference (within LOGIT_TOL), and the shift itself is only
 * bounded loosely. */
#define LOGIT_SHIFT_TOL 1.0

/* Gemma 3 270M's logits are far more sensitive: llama.cpp's own common
 * shift between its settings reaches 0.80 (prompt 2: flash attention; F32
 * cache 0.29, one token per batch 0.34; prompt 3: 0.43-0.54), and ours moves
 * by 0.83 between an F16 and an F32 cache on prompt 2. Twice llama.cpp's own
 * spread: 1.6. The per-logit residuals after the shift stay within
 * LOGIT_TOL (llama.cpp's own: up to 0.46; ours: up to 0.26). */
#define GEMMA3_SHIFT_TOL 1.6

/* A greedy step whose oracle margin (top1 - top2) is below this is a near-tie
 * where two exact engines may pick differently; the continuations then
 * legitimately differ, so the comparison stops there. llama.cpp itself does
 * this on these prompts: with n_batch 1, flash attention or an F32 cache
 * instead of its defaults its own greedy tokens leave its default run at step
 * 3-4 of prompt 1 (margin 0.047) and step 19 of prompt 2 (margin 0.023). */
#define TIE_MARGIN LOGIT_TOL

static qlm_model *load_model_at(const char *path) {
    qlm_model *m = NULL;
    qlm_model_params mp = qlm_model_default_params();
    mp.device = (qlm_device)tu_device();
    qlm_status st = qlm_model_load(path, &mp, &m);
    cr_assert_eq(st, QLM_OK, "loading %s: %s (run `make test`, which fetches it)", path, qlm_model_last_error(m));
    return m;
}

static qlm_model *load_model(void) { return load_model_at(tu_model_path()); }

/* Gemma 3 270M: QLM_GEMMA3_MODEL (make test sets it after fetching). */
static const char *gemma3_path(void) {
    const char *p = getenv("QLM_GEMMA3_MODEL");
    return p && *p ? p : "cache/gemma-3-270m-q4_k_m.gguf";
}

static void check_oracle_prompt(qlm_model *m, const char *oracle, int idx, qlm_kv_type kv, double shift_tol) {
    char tokens[256], greedy[256], top10[256], label[256];
    snprintf(tokens, sizeof tokens, "%s.%d.prompt_tokens", oracle, idx);
    snprintf(greedy, sizeof greedy, "%s.%d.greedy", oracle, idx);
    snprintf(top10, sizeof top10, "%s.%d.top10", oracle, idx);
    snprintf(label, sizeof label, "%s prompt %d", oracle, idx);
    const oc_oracle o = {.prompt_tokens = tokens, .greedy = greedy, .top10 = top10, .label = label, .kv = kv,
                         .logit_tol = LOGIT_TOL, .shift_tol = shift_tol, .tie_margin = TIE_MARGIN};
    oc_check(m, &o);
}

static void check_prompt(qlm_model *m, int idx, qlm_kv_type kv) {
    check_oracle_prompt(m, ORACLE, idx, kv, LOGIT_SHIFT_TOL);
}

Test(forward, llama_cpp_greedy_prompt0, .timeout = 600) {
    qlm_model *m = load_model();
    check_prompt(m, 0, QLM_KV_F16);
    qlm_model_free(m);
}

Test(forward, llama_cpp_greedy_prompt1, .timeout = 600) {
    qlm_model *m = load_model();
    check_prompt(m, 1, QLM_KV_F16);
    qlm_model_free(m);
}

Test(forward, llama_cpp_greedy_prompt2, .timeout = 600) {
    qlm_model *m = load_model();
    check_prompt(m, 2, QLM_KV_F16);
    qlm_model_free(m);
}

/* An F32 cache changes only rounding: the same tokens up to near-ties. */
Test(forward, llama_cpp_greedy_f32_kv, .timeout = 600) {
    qlm_model *m = load_model();
    check_prompt(m, 0, QLM_KV_F32);
    qlm_model_free(m);
}

/* Gemma 3: sliding-window and global layers, per-head Q/K norms, post-norms,
 * GELU, scaled embeddings, a 262144-token vocabulary, K-quant and Q5_0
 * weights. The prompts are shorter than the 512-token window, which
 * gemma3_sliding_window_masks_old_positions covers. */
Test(forward, gemma3_llama_cpp_greedy, .timeout = 600) {
    qlm_model *m = load_model_at(gemma3_path());
    for (int idx = 0; idx < 3; idx++) check_oracle_prompt(m, GEMMA3_ORACLE, idx, QLM_KV_F16, GEMMA3_SHIFT_TOL);
    qlm_model_free(m);
}

/* An 833-token prompt: past Gemma 3's 512-position sliding window, so the
 * local layers must mask the oldest positions (llama.cpp does, and its
 * logits and greedy tokens here depend on it) while the global layers still
 * see them. */
Test(forward, gemma3_sliding_window_masks_old_positions, .timeout = 600) {
    qlm_model *m = load_model_at(gemma3_path());
    check_oracle_prompt(m, GEMMA3_ORACLE, 3, QLM_KV_F16, GEMMA3_SHIFT_TOL);
    qlm_model_free(m);
}

/* The scalar reference table reaches the same tokens (to near-ties) too. */
Test(forward, gemma3_ref_table_llama_cpp_greedy, .timeout = 600) {
    setenv("QLM_CPU", "ref", 1);
    qlm_model *m = load_model_at(gemma3_path());
    check_oracle_prompt(m, GEMMA3_ORACLE, 1, QLM_KV_F16, GEMMA3_SHIFT_TOL);
    qlm_model_free(m);
}

/* Prompt processing in one batch and token by token must agree. */
Test(forward, batched_equals_sequential, .timeout = 600) {
    qlm_model *m = load_model();
    int32_t prompt[1024];
    const size_t n = oc_read_ids(ORACLE ".1.prompt_tokens", prompt, 1024);
    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = 256;
    cp.kv_type = QLM_KV_F32;
    qlm_context *a = NULL, *b = NULL;
    cr_assert_eq(qlm_context_new(m, &cp, &a), QLM_OK);
    cr_assert_eq(qlm_context_new(m, &cp, &b), QLM_OK);
    const float *la = NULL, *lb = NULL;
    cr_assert_eq(qlm_decode(a, prompt, (int32_t)n, &la), QLM_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(qlm_decode(b, &prompt[i], 1, &lb), QLM_OK);
    /* identical arithmetic per token; only thread scheduling differs, which
     * does not change any per-row sum, so results must agree closely */
    for (int i = 0; i < qlm_model_n_vocab(m); i++)
        cr_assert(fabsf(la[i] - lb[i]) < 1e-3f, "logit %d: batched %f sequential %f", i, la[i], lb[i]);
    qlm_context_free(a);
    qlm_context_free(b);
    qlm_model_free(m);
}

/* ------------------------------------------------ every kernel table agrees */

#define N_TABLE_STEPS (TU_SANITIZED ? 8 : 32)

/* Greedy tokens with the table QLM_CPU names (read at model load), and the
 * logits of the first step. */
static int greedy_with(const char *table, const int32_t *prompt, size_t n_prompt, int32_t *toks, float *first) {
    setenv("QLM_CPU", table, 1);
    qlm_model *m = load_model();
    cr_assert_str_eq(qlm_system_info(), table, "QLM_CPU=%s not honoured", table);
    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = 256;
    cp.n_threads = 2;
    qlm_context *ctx = NULL;
    cr_assert_eq(qlm_context_new(m, &cp, &ctx), QLM_OK, "%s", qlm_context_last_error(ctx));
    const float *logits = NULL;
    cr_assert_eq(qlm_decode(ctx, prompt, (int32_t)n_prompt, &logits), QLM_OK);
    const int n_vocab = qlm_model_n_vocab(m);
    cr_assert_leq(n_vocab, 65536);
    memcpy(first, logits, sizeof(float) * n_vocab);
    for (int i = 0; i < N_TABLE_STEPS; i++) {
        toks[i] = oc_argmax(logits, n_vocab);
        cr_assert_eq(qlm_decode(ctx, &toks[i], 1, &logits), QLM_OK);
    }
    qlm_context_free(ctx);
    qlm_model_free(m);
    return n_vocab;
}

/* Each SIMD table this CPU runs reproduces the reference table exactly on
 * the default model: its matmuls are all packed (R16 kernels compute each
 * block's integer dot exactly and scale in the reference's order) and the
 * attention kernels sum in the reference's lane order, so the first logits
 * are the same bits and all greedy tokens are the same. (This model turns
 * any float reordering in attention into logit changes of ~0.3, which is why
 * exactness is engineered rather than approximated.) Criterion runs each
 * test in its own process, so setting QLM_CPU here touches no other test. */
Test(forward, every_kernel_table_matches_ref, .timeout = 600) {
    const qlm_ops *tables[16];
    const int n_tables = qlm_ops_list(tables, 16);
    int32_t prompt[1024], ref[N_TABLE_STEPS], got[N_TABLE_STEPS];
    const size_t n_prompt = oc_read_ids(ORACLE ".0.prompt_tokens", prompt, 1024);
    float *ref_logits = malloc(sizeof(float) * 65536), *logits = malloc(sizeof(float) * 65536);
    const int n_vocab = greedy_with("ref", prompt, n_prompt, ref, ref_logits);
    for (int t = 1; t < n_tables; t++) {
        greedy_with(tables[t]->name, prompt, n_prompt, got, logits);
        cr_expect(memcmp(ref_logits, logits, sizeof(float) * n_vocab) == 0, "%s: first-step logits differ from ref",
                  tables[t]->name);
        for (int i = 0; i < N_TABLE_STEPS; i++)
            cr_expect_eq(got[i], ref[i], "%s: step %d token %d, ref %d", tables[t]->name, i, got[i], ref[i]);
    }
    cr_expect(n_tables >= 1);
    free(ref_logits), free(logits);
}
