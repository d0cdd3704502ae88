/* test_archs.c - every architecture against PyTorch: tiny random Hugging Face
 * models (llama, mistral, qwen2, qwen3, phi3, gemma3, and llama3: llama with
 * Llama 3 RoPE scaling, as rope_freqs.weight) converted to GGUF by
 * llama.cpp's own convert_hf_to_gguf.py at F32, F16, BF16 and Q8_0, and the
 * full logits PyTorch (float32, eager attention) computes for a few token
 * sequences (tests/gen/gen_hf_fixtures.py; the format is described there).
 * We decode the same ids through the public API with an F32 KV cache and
 * compare every logit of every position.
 *
 * The measure, per position: max_j |ours_j - torch_j| / max_j |torch_j|,
 * the largest error relative to the largest logit of that position; a test
 * bounds its maximum over all positions of all sequences. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "qlm.h"
#include "test_util.h"

#define HF_DIR "tests/fixtures/hf"
#define MAX_SEQ 8

/* F32 weights: float32 on both sides, the same operations in a different
 * summation order (our per-row dots, attention and RMSNorm sum in other
 * orders than PyTorch's BLAS), F32 KV cache and F32 activations everywhere
 * (F32 weights take F32 activations, nothing is rounded to F16). Each sum
 * of n terms differs by about n * 2^-24 relative to the sum of magnitudes;
 * with n <= 128, 2-6 layers and logits of O(1-10) that is ~1e-6 of the
 * largest logit. Measured: up to 1.1e-6 (llama.cpp on the same files:
 * 7.8e-7 to 1.1e-6, and 7.5e-4 on gemma3, where ggml's GELU reads an F16
 * table). 1e-4 leaves two orders of magnitude of margin while real
 * mistakes move logits by 0.1 to 1.7 relative (tried: no Q or K norm
 * 0.32-0.64, no Q/K/V bias 0.68 (no K bias alone 0.28), NORM instead of
 * NeoX RoPE 1.0, phi3's gate/up halves swapped 1.2, fused K/V rows swapped
 * 1.7, no sliding window 1.6, a window one wider 1.5, gemma3's local layers
 * on the global RoPE base 0.17, llama3 without its rope_freqs divisors
 * 0.96, as PyTorch on the same weights unscaled, which the generator
 * prints). */
#define TOL_F32 1e-4

/* Quantized weights are compared with PyTorch's logits of the unquantized
 * model, so the bound is the conversion's own error, not ours. Max over
 * the archs, ours / llama.cpp's on the same files (the same measure):
 * F16 1.5e-3 / 2.0e-3 (weights rounded to 11 significant bits: 2^-12
 * relative each), BF16 1.7e-2 / 1.8e-2 (8 bits, 2^-9 each; BF16 weights
 * take BF16 activations here as in ggml), Q8_0 5.6e-2 / 5.7e-2 (8-bit
 * weights with an F16 scale per 32, and activations quantized to Q8_0 as
 * well; these random weights have no outliers to hide behind). The bounds
 * are about twice that: room for another exact summation order, while the
 * mistakes above still fail at Q8_0 (0.16 to 1.7). */
#define TOL_F16 4e-3
#define TOL_BF16 3e-2
#define TOL_Q8_0 1e-1

typedef struct hf_logits {
    uint32_t n_seq, n_vocab;
    uint32_t n_tok[MAX_SEQ];
    int32_t *ids[MAX_SEQ];
    float *logits[MAX_SEQ]; /* (n_tok, n_vocab) */
    char *buf;
} hf_logits;

static uint32_t rd_u32(const char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Reads ARCH.logits (little-endian, as every machine we build for). */
static void load_logits(const char *arch, hf_logits *h) {
    char path[256];
    snprintf(path, sizeof path, HF_DIR "/%s.logits", arch);
    size_t len = 0;
    memset(h, 0, sizeof *h);
    h->buf = tu_read_file(path, &len);
    cr_assert(h->buf, "missing fixture %s (tests/gen/gen_hf_fixtures.py)", path);
    cr_assert(len >= 16 && memcmp(h->buf, "QLMLOGIT", 8) == 0, "%s: bad header", path);
    h->n_seq = rd_u32(h->buf + 8), h->n_vocab = rd_u32(h->buf + 12);
    cr_assert(h->n_seq >= 1 && h->n_seq <= MAX_SEQ, "%s: %u sequences", path, h->n_seq);
    size_t off = 16;
    for (uint32_t s = 0; s < h->n_seq; s++) {
        cr_assert(off + 4 <= len, "%s: truncated", path);
        const uint32_t n = h->n_tok[s] = rd_u32(h->buf + off);
        off += 4;
        cr_assert(n >= 1 && n <= 64 && off + 4 * (size_t)n * (1 + h->n_vocab) <= len, "%s: truncated", path);
        /* 4-byte aligned: the header and every field are multiples of 4 */
        h->ids[s] = (int32_t *)(void *)(h->buf + off);
        h->logits[s] = (float *)(void *)(h->buf + off + 4 * (size_t)n);
        off += 4 * (size_t)n * (1 + h->n_vocab);
    }
    cr_assert_eq(off, len, "%s: %zu trailing bytes", path, len - off);
}

/* max |got - want| / max |want| over one position's n logits. */
static double rel_err(const float *got, const float *want, uint32_t n) {
    double diff = 0.0, scale = 0.0;
    for (uint32_t j = 0; j < n; j++) {
        const double d = fabs((double)got[j] - (double)want[j]);
        diff = d > diff || d != d ? d : diff; /* a NaN fails the comparison */
        scale = fabs((double)want[j]) > scale ? fabs((double)want[j]) : scale;
    }
    return diff / scale;
}

static qlm_model *load_arch(const char *arch, const char *type, int repack) {
    char path[256];
    snprintf(path, sizeof path, HF_DIR "/%s.%s.gguf", arch, type);
    qlm_model_params mp = qlm_model_default_params();
    mp.repack = repack;
    mp.n_threads = 2;
    mp.device = (qlm_device)tu_device();
    qlm_model *m = NULL;
    cr_assert_eq(qlm_model_load(path, &mp, &m), QLM_OK, "%s: %s", path, qlm_model_last_error(m));
    return m;
}

static qlm_context *new_context(qlm_model *m) {
    qlm_context_params cp = qlm_context_default_params();
    cp.n_ctx = 64;
    cp.kv_type = QLM_KV_F32;
    cp.logits_all = 1;
    qlm_context *ctx = NULL;
    cr_assert_eq(qlm_context_new(m, &cp, &ctx), QLM_OK, "%s", qlm_context_last_error(ctx));
    return ctx;
}

/* Decodes every sequence of h in pieces of `step` tokens (step >= n: one
 * batch) from an empty cache and returns the largest error over all
 * positions. */
static double run_arch(qlm_model *m, const hf_logits *h, uint32_t step) {
    cr_assert_eq((uint32_t)qlm_model_n_vocab(m), h->n_vocab);
    qlm_context *ctx = new_context(m);
    double worst = 0.0;
    for (uint32_t s = 0; s < h->n_seq; s++) {
        qlm_context_reset(ctx);
        for (uint32_t i0 = 0; i0 < h->n_tok[s]; i0 += step) {
            const uint32_t n = h->n_tok[s] - i0 < step ? h->n_tok[s] - i0 : step;
            cr_assert_eq(qlm_decode(ctx, h->ids[s] + i0, (int32_t)n, NULL), QLM_OK, "%s",
                         qlm_context_last_error(ctx));
            for (uint32_t i = 0; i < n; i++) {
                const float *got = qlm_context_logits(ctx, (int32_t)i);
                cr_assert(got, "no logits for token %u", i);
                const double e = rel_err(got, h->logits[s] + (size_t)(i0 + i) * h->n_vocab, h->n_vocab);
                worst = e > worst || e != e ? e : worst;
            }
        }
    }
    qlm_context_free(ctx);
    return worst;
}

#define ONE_BATCH 1000

static void check_arch(const char *arch, const char *type, int repack, uint32_t step, double tol) {
    hf_logits h;
    load_logits(arch, &h);
    qlm_model *m = load_arch(arch, type, repack);
    const double e = run_arch(m, &h, step);
    char how[48] = "";
    if (step < ONE_BATCH) snprintf(how, sizeof how, " in pieces of %u", step);
    cr_log_info("archs: %s %s%s%s: max rel err %.3g (tol %g)\n", arch, type, repack ? "" : " no-repack", how, e,
                tol);
    cr_expect(e <= tol, "%s %s%s%s: logits differ from PyTorch's by %.3g of the largest logit (tol %g)", arch, type,
              repack ? "" : " no-repack", how, e, tol);
    qlm_model_free(m);
    free(h.buf);
}

/* Every architecture at every type, in one batch. Q8_0 (which the loader
 * repacks into R16, fused tensors' views each on its own) also without the
 * repack. */
#define ARCH_TESTS(arch)                                                                  \
    Test(archs, arch##_f32) { check_arch(#arch, "f32", 1, ONE_BATCH, TOL_F32); }          \
    Test(archs, arch##_f16) { check_arch(#arch, "f16", 1, ONE_BATCH, TOL_F16); }          \
    Test(archs, arch##_bf16) { check_arch(#arch, "bf16", 1, ONE_BATCH, TOL_BF16); }       \
    Test(archs, arch##_q8_0) {                                                            \
        check_arch(#arch, "q8_0", 1, ONE_BATCH, TOL_Q8_0);                                \
        check_arch(#arch, "q8_0", 0, ONE_BATCH, TOL_Q8_0);                                \
    }

ARCH_TESTS(llama)
ARCH_TESTS(mistral)
ARCH_TESTS(qwen2)
ARCH_TESTS(qwen3)
ARCH_TESTS(phi3)
ARCH_TESTS(gemma3)
ARCH_TESTS(llama3)

static const char *const all_archs[] = {"llama", "mistral", "qwen2", "qwen3", "phi3", "gemma3", "llama3"};

/* The KV cache path: one token per decode (gemma3's 4-position window then
 * slides over the cache), and uneven pieces of 5 (a batch that starts at
 * n_past > 0). */
Test(archs, token_by_token) {
    for (size_t i = 0; i < sizeof all_archs / sizeof all_archs[0]; i++) {
        check_arch(all_archs[i], "f32", 1, 1, TOL_F32);
        check_arch(all_archs[i], "f32", 1, 5, TOL_F32);
    }
}

/* The scalar reference kernel table gives the same answers (Criterion runs
 * each test in its own process, so QLM_CPU touches no other test). */
Test(archs, ref_table) {
    setenv("QLM_CPU", "ref", 1);
    for (size_t i = 0; i < sizeof all_archs / sizeof all_archs[0]; i++) {
        check_arch(all_archs[i], "f32", 1, ONE_BATCH, TOL_F32);
        check_arch(all_archs[i], "q8_0", 1, ONE_BATCH, TOL_Q8_0);
    }
}

/* mistral is converted as general.architecture = llama (the converter maps
 * MistralForCausalLM to it), and so is llama3. */
Test(archs, mistral_loads_as_llama) {
    qlm_model *m = load_arch("mistral", "f32", 1);
    cr_expect_str_eq(qlm_model_arch(m), "llama");
    qlm_model_free(m);
    m = load_arch("llama3", "f32", 1);
    cr_expect_str_eq(qlm_model_arch(m), "llama");
    qlm_model_free(m);
}

/* An architecture we do not run is refused by name, listing those we do. */
Test(archs, unknown_architecture_is_a_clear_error) {
    size_t len = 0;
    char *buf = tu_read_file(HF_DIR "/llama.f32.gguf", &len);
    cr_assert(buf);
    /* general.architecture's value: type 8 (string), length 5, "llama" */
    static const char key[] = "general.architecture\x08\0\0\0\x05\0\0\0\0\0\0\0llama";
    char *at = NULL;
    for (size_t i = 0; !at && i + sizeof key - 1 <= len; i++)
        if (memcmp(buf + i, key, sizeof key - 1) == 0) at = buf + i;
    cr_assert(at, "general.architecture not found");
    memcpy(at + sizeof key - 6, "mamba", 5);
    char path[] = "/tmp/qlm_test_archs_XXXXXX";
    const int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    cr_assert(f && fwrite(buf, 1, len, f) == len);
    fclose(f);
    free(buf);
    qlm_model *m = NULL;
    cr_expect_eq(qlm_model_load(path, NULL, &m), QLM_ERR_UNSUPPORTED);
    const char *msg = qlm_model_last_error(m);
    cr_expect(strstr(msg, "architecture 'mamba' is not supported"), "%s", msg);
    for (size_t i = 0; i < sizeof all_archs / sizeof all_archs[0]; i++)
        if (strcmp(all_archs[i], "mistral") != 0 && strcmp(all_archs[i], "llama3") != 0) /* files say llama */
            cr_expect(strstr(msg, all_archs[i]), "%s lacks %s", msg, all_archs[i]);
    qlm_model_free(m);
    unlink(path);
}
