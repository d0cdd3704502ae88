/* test_cuda_matmul.c - the CUDA matmul and embedding kernels
 * (kernels/cuda/matmul.cu) for every weight type the engine reads, against
 * a double-precision sum over the reference dequantization (the type's
 * to_float) times the float activations: never against the GPU's own
 * output. Each output is held to an error bound derived for the path that
 * computed it and evaluated for that very output (see bound()), and, where
 * the path rounds its operands (int8 or 16-bit activations, F16 weights),
 * also to the much tighter bound of float arithmetic around the exact sum
 * of the operands as the path is specified to round them (modelled_sum()),
 * which catches a wrong rounding that the first bound would forgive.
 *
 * Weights come two ways: random rows quantized by the type's reference
 * quantizer (from_float), and random block bytes with sane scale fields
 * (every bit pattern of the quants, including encodings no quantizer
 * writes). Shapes: n_out 37 and 1; n_in several blocks and one block;
 * n_tok 1, 3, 8 (decode GEMV: int8 activations, or float for float
 * weights) and 9, 20 (prefill: F16/BF16/F32 cuBLAS GEMM).
 *
 * They skip where the build has no CUDA or the machine no device; the
 * emulated build (kernels/cuda/emu) reports one device and runs them on the
 * CPU, hence the small sizes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_test.h"
#include "types.h"

#ifdef QLM_HAVE_CUDA
#include "cuda.h"
#include "cuda_testing.h"
#endif

static uint64_t rng_state;
static void seed(void) { rng_state = 0x9E3779B97F4A7C15ull; }
TestSuite(cuda_matmul, .init = seed);

#define GEMV_MAX_TOK 8 /* QLM_CU_GEMV_MAX_TOK: larger batches take the GEMM path */
#define U 0x1p-24      /* float's unit roundoff */

/* How a test's weights are made. */
typedef enum weight_kind {
    W_QUANTIZED,   /* random floats through the type's from_float */
    W_RANDOM_BYTES /* random block bytes, scale fields set to sane values */
} weight_kind;

/* What the activations look like. */
typedef enum act_kind {
    X_RANDOM,    /* roughly normal, |x| up to ~4 */
    X_ZERO_ROW,  /* token 1 all zero */
    X_HUGE_TINY, /* token 0: 32-blocks alternately ~1e20 and ~1e-20; token 1 ~1e-20; token 2 ~1e20 */
    X_NAN        /* token 1 has one NaN */
} act_kind;

/* Everything up to the tests runs only in CUDA builds. */
#ifdef QLM_HAVE_CUDA
static double urand(void) { /* uniform in [0, 1), splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / (double)(1ull << 53);
}

/* Roughly normal (Irwin-Hall of 4 uniforms), mean 0, deviation ~0.58. */
static float nrand(void) { return (float)(urand() + urand() + urand() + urand() - 2.0); }

static size_t row_bytes(qlm_type t, int64_t n_in) { return qlm_row_size(t, n_in); }

static uint16_t sane_half(void) { /* a block scale: +-[0.002, 0.05) */
    const float v = (float)(0.002 + 0.048 * urand());
    return qlm_fp32_to_fp16(urand() < 0.5 ? -v : v);
}

/* Overwrites the float scale fields of every block with sane values, so
 * random bytes make finite, modest weights. */
static void patch_scales(qlm_type t, uint8_t *w, size_t n_blocks) {
#define EACH(T, ...)                                                         \
    for (size_t i = 0; i < n_blocks; i++) {                                  \
        T *b = (T *)(w + i * sizeof(T));                                     \
        __VA_ARGS__;                                                         \
    }
    switch (t) {
    case QLM_TYPE_Q4_0: EACH(qlm_block_q4_0, b->d = sane_half()); break;
    case QLM_TYPE_Q4_1: EACH(qlm_block_q4_1, b->d = sane_half(), b->m = sane_half()); break;
    case QLM_TYPE_Q5_0: EACH(qlm_block_q5_0, b->d = sane_half()); break;
    case QLM_TYPE_Q5_1: EACH(qlm_block_q5_1, b->d = sane_half(), b->m = sane_half()); break;
    case QLM_TYPE_Q8_0: EACH(qlm_block_q8_0, b->d = sane_half()); break;
    case QLM_TYPE_IQ4_NL: EACH(qlm_block_iq4_nl, b->d = sane_half()); break;
    case QLM_TYPE_MXFP4: EACH(qlm_block_mxfp4, b->e = (uint8_t)(116 + urand() * 10)); break;
    case QLM_TYPE_Q2_K: EACH(qlm_block_q2_k, b->d = sane_half(), b->dmin = sane_half()); break;
    case QLM_TYPE_Q3_K: EACH(qlm_block_q3_k, b->d = sane_half()); break;
    case QLM_TYPE_Q4_K: EACH(qlm_block_q4_k, b->d = sane_half(), b->dmin = sane_half()); break;
    case QLM_TYPE_Q5_K: EACH(qlm_block_q5_k, b->d = sane_half(), b->dmin = sane_half()); break;
    case QLM_TYPE_Q6_K: EACH(qlm_block_q6_k, b->d = sane_half()); break;
    case QLM_TYPE_IQ4_XS: EACH(qlm_block_iq4_xs, b->d = sane_half()); break;
    case QLM_TYPE_TQ1_0: EACH(qlm_block_tq1_0, b->d = sane_half()); break;
    case QLM_TYPE_TQ2_0: EACH(qlm_block_tq2_0, b->d = sane_half()); break;
    default: break; /* float types: random bytes are not used */
    }
#undef EACH
}

/* n_out rows of n_in values of type t. Float types always from random
 * floats (through from_float: F16/BF16 round them). */
static void *make_weights(qlm_type t, int64_t n_in, int64_t n_out, weight_kind kind) {
    const qlm_type_traits *tr = qlm_type_traits_get(t);
    const size_t rb = row_bytes(t, n_in);
    uint8_t *w = malloc(rb * (size_t)n_out);
    cr_assert(w && rb > 0);
    if (kind == W_RANDOM_BYTES && tr->is_quantized) {
        for (size_t i = 0; i < rb * (size_t)n_out; i++) w[i] = (uint8_t)(urand() * 256);
        patch_scales(t, w, rb * (size_t)n_out / tr->type_size);
        return w;
    }
    float *row = malloc((size_t)n_in * sizeof(float));
    for (int64_t r = 0; r < n_out; r++) {
        const float scale = (float)(0.02 + 0.1 * urand()); /* rows of different magnitude */
        for (int64_t i = 0; i < n_in; i++) row[i] = scale * nrand();
        tr->from_float(row, w + (size_t)r * rb, n_in);
    }
    free(row);
    return w;
}

static float *dequantize(qlm_type t, const void *w, int64_t n_in, int64_t n_out) {
    float *f = malloc((size_t)(n_in * n_out) * sizeof(float));
    cr_assert(f);
    for (int64_t r = 0; r < n_out; r++)
        qlm_type_traits_get(t)->to_float((const uint8_t *)w + (size_t)r * row_bytes(t, n_in), f + r * n_in, n_in);
    return f;
}

/* The offset m of each weight (value = d q + m) for the types that have
 * one, by dequantizing a copy whose quants are all zero: then value = m
 * exactly. NULL (all zero) for the other types. */
static float *weight_offsets(qlm_type t, const void *w, int64_t n_in, int64_t n_out) {
    size_t off, len;
    switch (t) {
    case QLM_TYPE_Q4_1: off = offsetof(qlm_block_q4_1, qs), len = 16; break;
    case QLM_TYPE_Q5_1: off = offsetof(qlm_block_q5_1, qh), len = 4 + 16; break;
    case QLM_TYPE_Q2_K: off = offsetof(qlm_block_q2_k, qs), len = 64; break;
    case QLM_TYPE_Q4_K: off = offsetof(qlm_block_q4_k, qs), len = 128; break;
    case QLM_TYPE_Q5_K: off = offsetof(qlm_block_q5_k, qh), len = 32 + 128; break;
    default: return NULL;
    }
    const size_t bytes = row_bytes(t, n_in) * (size_t)n_out, tsize = qlm_type_traits_get(t)->type_size;
    uint8_t *z = malloc(bytes);
    cr_assert(z);
    memcpy(z, w, bytes);
    for (size_t b = 0; b < bytes / tsize; b++) memset(z + b * tsize + off, 0, len);
    float *m = dequantize(t, z, n_in, n_out);
    free(z);
    return m;
}

static float *make_activations(int64_t n_in, int64_t n_tok, act_kind kind) {
    float *x = malloc((size_t)(n_in * n_tok) * sizeof(float));
    cr_assert(x);
    for (int64_t i = 0; i < n_in * n_tok; i++) x[i] = 2.0f * nrand();
    if (kind == X_ZERO_ROW && n_tok > 1) memset(x + n_in, 0, (size_t)n_in * sizeof(float));
    if (kind == X_HUGE_TINY) {
        for (int64_t i = 0; i < n_in; i++) x[i] *= (i / 32) % 2 ? 1e-20f : 1e20f;
        for (int64_t i = 0; n_tok > 1 && i < n_in; i++) x[n_in + i] *= 1e-20f;
        for (int64_t i = 0; n_tok > 2 && i < n_in; i++) x[2 * n_in + i] *= 1e20f;
    }
    if (kind == X_NAN && n_tok > 1) x[n_in + n_in / 2] = NAN;
    return x;
}

static double amax_of(const float *v, int64_t n) {
    double a = 0.0;
    for (int64_t i = 0; i < n; i++) a = fmax(a, fabs(v[i]));
    return a;
}

/* The largest |y - exact| output (t, r) may show: w (n_in) is the weight
 * row as the reference dequantizes it, m its offsets (NULL: none), x
 * (n_in) the token's activations.
 *
 * Decode, quantized weights (int8 activations): block b of 32 activations
 * is stored as a_i with scale da = amax_b / 127 (float), |da a_i - x_i| <=
 * da (1/2 + 2^-15) (rounding to an integer, plus the float product x * (1 /
 * da)); that moves the sum by at most sum_i |w_i| da / 2 (1 + 2^-10). The
 * float work per 16-group, da (d dot(q, a) + m sum(a)) with an exact int
 * dot, and the float accumulation over n_in / 16 groups (per lane, then a
 * 5-level butterfly) err by at most (n_in / 16 + 8) u per unit of
 * sum_g |da| (|d dot| + |m sum(a)|) <= sum_i (|d q_i| + |m_i|)(|x_i| + da),
 * with |d q_i| <= |w_i| + |m_i| (w_i = d q_i + m_i rounded); 2u per step
 * covers FMA-or-not and the dequantized value's own rounding.
 *
 * Decode, float weights (F32/F16/BF16 times the float x): each lane sums
 * n_in / 32 products, then 5 butterfly adds: (n_in / 32 + 8) 2u sum|w x|.
 *
 * GEMM path: x goes to 16 bits, W (quantized) to F16, the products are
 * exact in float and cuBLAS accumulates in float in some order:
 *   - x to F16 after dividing by a power of two s <= amax_t 2^-14 (scale
 *     undone exactly on y): |dx_i| <= 2^-11 |x_i| + s 2^-25 (F16's
 *     relative rounding, or its subnormal spacing 2^-24 times s, halved);
 *   - x to BF16 for BF16 weights: |dx_i| <= 2^-8 |x_i|; F32 weights: none;
 *   - quantized W to F16: |dw_i| <= 2^-11 |w_i| + 2^-25; F16/BF16/F32 W: none;
 *   so |error| <= sum_i (|w_i| |dx_i| + |dw_i| |x_i| + |dw_i| |dx_i|)
 *               + (n_in + 8) 2u sum_i (|w_i| + |dw_i|)(|x_i| + |dx_i|)
 *   (2u: tensor cores may truncate rather than round their float adds).
 * The double-precision oracle's own error is far below all of these. */
static double bound(qlm_type t, int64_t n_in, int64_t n_tok, const float *w, const float *m, const float *x) {
    const bool quantized = qlm_type_traits_get(t)->is_quantized;
    double err = 0.0, mag = 0.0;
    if (n_tok <= GEMV_MAX_TOK && quantized) {
        for (int64_t b = 0; b < n_in / 32; b++) {
            const float da = (float)amax_of(x + 32 * b, 32) / 127.0f;
            for (int64_t i = 32 * b; i < 32 * b + 32; i++) {
                const double mi = m ? fabs(m[i]) : 0.0;
                err += fabs(w[i]) * da * 0.5 * (1.0 + 0x1p-10);
                mag += (fabs(w[i]) + 2.0 * mi) * (fabs(x[i]) + da);
            }
        }
        return err + (double)(n_in / 16 + 8) * 2.0 * U * mag;
    }
    if (n_tok <= GEMV_MAX_TOK) {
        for (int64_t i = 0; i < n_in; i++) mag += fabs((double)w[i] * x[i]);
        return (double)(n_in / 32 + 8) * 2.0 * U * mag;
    }
    const double s = amax_of(x, n_in) * 0x1p-14;
    for (int64_t i = 0; i < n_in; i++) {
        const double ax = fabs(x[i]), aw = fabs(w[i]);
        const double dx = t == QLM_TYPE_F32 ? 0.0 : t == QLM_TYPE_BF16 ? 0x1p-8 * ax : 0x1p-11 * ax + s * 0x1p-25;
        const double dw = quantized ? 0x1p-11 * aw + 0x1p-25 : 0.0;
        err += aw * dx + dw * ax + dw * dx;
        mag += (aw + dw) * (ax + dx);
    }
    return err + (double)(n_in + 8) * 2.0 * U * mag;
}

/* round(v) half away from zero into [-127, 127], NaN to 0: the CPU's Q8_0
 * rounding, which the int8 activations use. */
static int round_q8(float v) {
    const float r = roundf(v);
    if (!(r > -127.0f)) return r != r ? 0 : -127;
    return r > 127.0f ? 127 : (int)r;
}

/* The power of two the GEMM path divides a token's x by before rounding to
 * F16 (|x| / s in [2^14, 2^15) for the token's amax). */
static float f16_token_scale(float amax) {
    uint32_t bits;
    memcpy(&bits, &amax, 4);
    const uint32_t e = (bits >> 23) & 0xffu;
    if (e == 0xffu) return amax;
    if (amax == 0.0f) return 1.0f;
    bits = (e > 15u ? e - 14u : 1u) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* What the path computes, modelled exactly: the sum over the operands as
 * the path rounds them (int8 activations: d_b * round(x_i / d_b) with d_b =
 * amax_b / 127 in float, as the CPU's quantizer; GEMM: x and W rounded to
 * 16 bits), in double, and in *acc the bound on the path's float
 * arithmetic alone (the accumulation terms of bound()). A kernel that rounds
 * an operand differently (truncation, another scale) passes the loose
 * bound() but not this one. Not for the float-weight GEMV (no operand
 * rounding: bound() is already this). */
static double modelled_sum(qlm_type t, int64_t n_in, int64_t n_tok, const float *w, const float *m, const float *x,
                           double *acc) {
    const bool quantized = qlm_type_traits_get(t)->is_quantized;
    double sum = 0.0, mag = 0.0;
    if (n_tok <= GEMV_MAX_TOK) {
        for (int64_t b = 0; b < n_in / 32; b++) {
            float amax = 0.0f;
            for (int64_t i = 32 * b; i < 32 * b + 32; i++) amax = fmaxf(amax, fabsf(x[i]));
            const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int64_t i = 32 * b; i < 32 * b + 32; i++) {
                const float p = x[i] * id;
                const double a = (double)d * round_q8(p);
                sum += (double)w[i] * a;
                mag += (fabs(w[i]) + 2.0 * (m ? fabs(m[i]) : 0.0)) * fabs(a);
            }
        }
        *acc = (double)(n_in / 16 + 8) * 2.0 * U * mag;
        return sum;
    }
    const float s = f16_token_scale((float)amax_of(x, n_in)), inv = 1.0f / s;
    for (int64_t i = 0; i < n_in; i++) {
        double xr = x[i], wr = w[i];
        if (t == QLM_TYPE_BF16) xr = qlm_bf16_to_fp32(qlm_fp32_to_bf16(x[i]));
        else if (t != QLM_TYPE_F32) {
            const float xs = x[i] * inv;
            xr = (double)qlm_fp16_to_fp32(qlm_fp32_to_fp16(xs)) * s;
        }
        if (quantized) wr = qlm_fp16_to_fp32(qlm_fp32_to_fp16(w[i]));
        sum += wr * xr;
        mag += fabs(wr * xr);
    }
    *acc = (double)(n_in + 8) * 2.0 * U * mag;
    return sum;
}

/* The worst error of a run as a fraction of its bound: against the true
 * product (bound()) and against the modelled sum (its float bound). */
typedef struct worst_error {
    double product, model;
} worst_error;

/* Runs one matmul and checks every output against the true product (within
 * bound()) and, where the path rounds its operands, against the modelled
 * sum (within the float arithmetic's bound). */
static worst_error run_case_chunked(qlm_type t, int64_t n_in, int64_t n_out, int64_t n_tok, weight_kind wk, act_kind xk,
                                    int64_t max_chunk_values) {
    void *w = make_weights(t, n_in, n_out, wk);
    float *wf = dequantize(t, w, n_in, n_out), *m = weight_offsets(t, w, n_in, n_out);
    float *x = make_activations(n_in, n_tok, xk);
    float *y = malloc((size_t)(n_tok * n_out) * sizeof(float));
    char msg[256] = "";
    cr_assert(y);
    const int rc = qlm_cuda_test_matmul_chunked(t, w, n_in, n_out, x, n_tok, max_chunk_values, y, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s: matmul failed: %s", qlm_type_name(t), msg);
    worst_error worst = {0.0, 0.0};
    for (int64_t tok = 0; tok < n_tok; tok++) {
        const float *xt = x + tok * n_in;
        const bool has_nan = xk == X_NAN && tok == 1;
        for (int64_t r = 0; r < n_out; r++) {
            const float got = y[tok * n_out + r];
            const char *where = qlm_type_name(t);
            if (has_nan) {
                cr_assert(isnan(got), "%s n_in %lld n_tok %lld: token %lld row %lld: %g, want NaN", where,
                          (long long)n_in, (long long)n_tok, (long long)tok, (long long)r, got);
                continue;
            }
            const float *wr = wf + r * n_in;
            double exact = 0.0;
            for (int64_t i = 0; i < n_in; i++) exact += (double)wr[i] * xt[i];
            const double b = bound(t, n_in, n_tok, wr, m ? m + r * n_in : NULL, xt);
            const double e = fabs((double)got - exact);
            cr_assert(isfinite(got) && e <= b,
                      "%s (%s) n_in %lld n_out %lld n_tok %lld, x kind %d: y[%lld][%lld] = %.9g, exact %.9g, "
                      "error %.3g > bound %.3g",
                      where, wk == W_QUANTIZED ? "quantized" : "random bytes", (long long)n_in, (long long)n_out,
                      (long long)n_tok, (int)xk, (long long)tok, (long long)r, got, exact, e, b);
            if (xk == X_ZERO_ROW && tok == 1) cr_assert(got == 0.0f, "%s: zero row gives %g", where, got);
            if (qlm_type_traits_get(t)->is_quantized || n_tok > GEMV_MAX_TOK) {
                double acc;
                const double model = modelled_sum(t, n_in, n_tok, wr, m ? m + r * n_in : NULL, xt, &acc);
                cr_assert(fabs((double)got - model) <= acc,
                          "%s (%s) n_in %lld n_out %lld n_tok %lld, x kind %d: y[%lld][%lld] = %.9g, modelled %.9g, "
                          "difference %.3g > float bound %.3g",
                          where, wk == W_QUANTIZED ? "quantized" : "random bytes", (long long)n_in, (long long)n_out,
                          (long long)n_tok, (int)xk, (long long)tok, (long long)r, got, model,
                          fabs((double)got - model), acc);
                if (acc > 0.0) worst.model = fmax(worst.model, fabs((double)got - model) / acc);
            }
            if (b > 0.0) worst.product = fmax(worst.product, e / b);
        }
    }
    free(w), free(wf), free(m), free(x), free(y);
    return worst;
}

static worst_error run_case(qlm_type t, int64_t n_in, int64_t n_out, int64_t n_tok, weight_kind wk, act_kind xk) {
    return run_case_chunked(t, n_in, n_out, n_tok, wk, xk, 0);
}

/* The shapes every type runs: n_out 37 and 1; n_in several blocks, a
 * single one, and a row long enough that the GEMV's lanes take several
 * 16-value groups each, the last round partly (float types: 224 and 1000,
 * vector loads, and 37, scalar ones); n_tok on both sides of the GEMV/GEMM
 * switch; both weight kinds. */
static void run_type(qlm_type t) {
    const qlm_type_traits *tr = qlm_type_traits_get(t);
    cr_assert(tr && tr->to_float && tr->vec_dot, "type %d has no CPU reference", (int)t);
    const int64_t bs = tr->block_size;
    const int64_t n_ins[3] = {bs == 1 ? 224 : bs == 32 ? 7 * 32 : 3 * 256, bs == 1 ? 37 : bs == 32 ? 32 : 256,
                              bs == 1 ? 1000 : bs == 32 ? 41 * 32 : 5 * 256};
    static const int64_t n_outs[] = {37, 1}, n_toks[] = {1, 3, 8, 9, 20};
    worst_error worst = {0.0, 0.0};
    for (int wk = 0; wk < (tr->is_quantized ? 2 : 1); wk++)
        for (int i = 0; i < 3; i++)
            for (size_t o = 0; o < sizeof n_outs / sizeof *n_outs; o++)
                for (size_t k = 0; k < sizeof n_toks / sizeof *n_toks; k++) {
                    const worst_error r = run_case(t, n_ins[i], n_outs[o], n_toks[k], (weight_kind)wk, X_RANDOM);
                    worst.product = fmax(worst.product, r.product), worst.model = fmax(worst.model, r.model);
                }
    cr_log_info("%s: worst error %.3f of its bound, %.3f of the float bound around the modelled sum", tr->name,
                worst.product, worst.model);
}

/* The adversarial activations on both paths (3 tokens: GEMV, 9: GEMM). */
static void run_adversarial(qlm_type t, act_kind xk) {
    const int64_t bs = qlm_type_traits_get(t)->block_size;
    const int64_t n_in = bs == 1 ? 224 : bs == 32 ? 7 * 32 : 2 * 256;
    run_case(t, n_in, 37, 3, W_QUANTIZED, xk);
    run_case(t, n_in, 37, 9, W_QUANTIZED, xk);
}

/* get_rows against to_float, bit for bit: the first, the last, a repeat
 * and a middle row; rows outside the matrix come back NaN. */
static void run_get_rows(qlm_type t, weight_kind wk) {
    const int64_t bs = qlm_type_traits_get(t)->block_size;
    const int64_t n_in = bs == 1 ? 37 : bs == 32 ? 3 * 32 : 2 * 256, n_rows = 37;
    void *w = make_weights(t, n_in, n_rows, wk);
    float *ref = dequantize(t, w, n_in, n_rows);
    static const int32_t rows[] = {0, 36, 17, 0, 5, -1, 37};
    const int64_t n = sizeof rows / sizeof *rows;
    float *out = malloc((size_t)(n * n_in) * sizeof(float));
    char msg[256] = "";
    cr_assert(out);
    cr_assert_eq(qlm_cuda_test_get_rows(t, w, n_in, n_rows, rows, n, out, msg, sizeof msg), 0, "%s: %s",
                 qlm_type_name(t), msg);
    for (int64_t k = 0; k < n; k++)
        for (int64_t i = 0; i < n_in; i++) {
            const float got = out[k * n_in + i];
            if (rows[k] < 0 || rows[k] >= n_rows) {
                cr_assert(isnan(got), "%s: row %d out of range gives %g, want NaN", qlm_type_name(t), rows[k], got);
                continue;
            }
            const float want = ref[rows[k] * n_in + i];
            uint32_t got_bits, want_bits;
            memcpy(&got_bits, &got, 4), memcpy(&want_bits, &want, 4);
            cr_assert(got_bits == want_bits, "%s (%s): row %d value %lld: %.9g (0x%08x), want %.9g (0x%08x)",
                      qlm_type_name(t), wk == W_QUANTIZED ? "quantized" : "random bytes", rows[k], (long long)i,
                      got, got_bits, want, want_bits);
        }
    free(w), free(ref), free(out);
}
#endif /* QLM_HAVE_CUDA */


/* Every type the engine reads (a to_float and a vec_dot). */
static const qlm_type all_types[] = {
    QLM_TYPE_F32,  QLM_TYPE_F16,  QLM_TYPE_BF16,   QLM_TYPE_Q4_0,  QLM_TYPE_Q4_1,  QLM_TYPE_Q5_0,
    QLM_TYPE_Q5_1, QLM_TYPE_Q8_0, QLM_TYPE_IQ4_NL, QLM_TYPE_MXFP4, QLM_TYPE_Q2_K,  QLM_TYPE_Q3_K,
    QLM_TYPE_Q4_K, QLM_TYPE_Q5_K, QLM_TYPE_Q6_K,   QLM_TYPE_IQ4_XS, QLM_TYPE_TQ1_0, QLM_TYPE_TQ2_0,
};
#define N_TYPES (sizeof all_types / sizeof *all_types)

/* The list above is complete: no other type has a CPU matmul. */
Test(cuda_matmul, covers_every_type) {
    size_t n = 0;
    for (uint32_t t = 0; t < QLM_TYPE_COUNT; t++) {
        const qlm_type_traits *tr = qlm_type_traits_get(t);
        if (!tr || !tr->to_float || !tr->vec_dot) continue;
        bool listed = false;
        for (size_t i = 0; i < N_TYPES; i++) listed |= all_types[i] == (qlm_type)t;
        cr_expect(listed, "%s has a CPU matmul but no CUDA matmul test", tr->name);
        n++;
    }
    cr_expect_eq(n, N_TYPES);
}

#ifdef QLM_HAVE_CUDA
#define TYPE_TEST(name, T)                     \
    Test(cuda_matmul, name) {                  \
        CUDA_SKIP_WITHOUT_DEVICE();                 \
        run_type(T);                           \
    }
#else
#define TYPE_TEST(name, T)                     \
    Test(cuda_matmul, name) { CUDA_SKIP_WITHOUT_DEVICE(); }
#endif

TYPE_TEST(f32, QLM_TYPE_F32)
TYPE_TEST(f16, QLM_TYPE_F16)
TYPE_TEST(bf16, QLM_TYPE_BF16)
TYPE_TEST(q4_0, QLM_TYPE_Q4_0)
TYPE_TEST(q4_1, QLM_TYPE_Q4_1)
TYPE_TEST(q5_0, QLM_TYPE_Q5_0)
TYPE_TEST(q5_1, QLM_TYPE_Q5_1)
TYPE_TEST(q8_0, QLM_TYPE_Q8_0)
TYPE_TEST(iq4_nl, QLM_TYPE_IQ4_NL)
TYPE_TEST(mxfp4, QLM_TYPE_MXFP4)
TYPE_TEST(q2_k, QLM_TYPE_Q2_K)
TYPE_TEST(q3_k, QLM_TYPE_Q3_K)
TYPE_TEST(q4_k, QLM_TYPE_Q4_K)
TYPE_TEST(q5_k, QLM_TYPE_Q5_K)
TYPE_TEST(q6_k, QLM_TYPE_Q6_K)
TYPE_TEST(iq4_xs, QLM_TYPE_IQ4_XS)
TYPE_TEST(tq1_0, QLM_TYPE_TQ1_0)
TYPE_TEST(tq2_0, QLM_TYPE_TQ2_0)

/* An all-zero activation row (scale 0 on the int8 path, amax 0 on the F16
 * one) gives exact zeros, not NaN; the other tokens are unaffected. */
Test(cuda_matmul, zero_activation_row) {
    CUDA_SKIP_WITHOUT_DEVICE();
#ifdef QLM_HAVE_CUDA
    for (size_t i = 0; i < N_TYPES; i++) run_adversarial(all_types[i], X_ZERO_ROW);
#endif
}

/* Activations of 1e20 and 1e-20 (per 32-block within a token, and whole
 * tokens of each): per-block int8 scales and the per-token F16 scale keep
 * every output within its bound (no overflow, no flush of a tiny token). */
Test(cuda_matmul, huge_and_tiny_activations) {
    CUDA_SKIP_WITHOUT_DEVICE();
#ifdef QLM_HAVE_CUDA
    for (size_t i = 0; i < N_TYPES; i++) run_adversarial(all_types[i], X_HUGE_TINY);
#endif
}

/* One NaN in token 1's x: every output of token 1 is NaN (even where the
 * int8 quantizer would drop it), tokens 0 and 2 stay exact to their
 * bounds. */
Test(cuda_matmul, nan_stays_in_its_token) {
    CUDA_SKIP_WITHOUT_DEVICE();
#ifdef QLM_HAVE_CUDA
    for (size_t i = 0; i < N_TYPES; i++) run_adversarial(all_types[i], X_NAN);
#endif
}

/* Quantized weights too large for one F16 chunk go through the GEMM in
 * chunks of rows (into y's columns); here small chunks force that: 5 rows
 * (a short last chunk of 2) and single rows. */
Test(cuda_matmul, gemm_in_row_chunks) {
    CUDA_SKIP_WITHOUT_DEVICE();
#ifdef QLM_HAVE_CUDA
    static const qlm_type types[] = {QLM_TYPE_Q4_0, QLM_TYPE_Q5_1, QLM_TYPE_MXFP4, QLM_TYPE_Q4_K, QLM_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        const int64_t n_in = qlm_type_traits_get(types[i])->block_size * 2;
        run_case_chunked(types[i], n_in, 37, 9, W_QUANTIZED, X_RANDOM, 5 * n_in);
        run_case_chunked(types[i], n_in, 37, 20, W_RANDOM_BYTES, X_RANDOM, n_in);
    }
#endif
}

/* The embedding lookup equals to_float bit for bit, for quantized rows and
 * for random block bytes (every quant encoding). */
Test(cuda_matmul, get_rows_bit_exact) {
    CUDA_SKIP_WITHOUT_DEVICE();
#ifdef QLM_HAVE_CUDA
    for (size_t i = 0; i < N_TYPES; i++) {
        run_get_rows(all_types[i], W_QUANTIZED);
        if (qlm_type_traits_get(all_types[i])->is_quantized) run_get_rows(all_types[i], W_RANDOM_BYTES);
    }
#endif
}
