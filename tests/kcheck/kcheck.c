/* kcheck.c - the kernel-check harness: every kernel table this machine runs
 * (qlm_ops_list: the reference and each SIMD table the CPU supports) against
 * the scalar reference table and against a double-precision oracle, with an
 * error bound derived for each op (see the comments at each bound). Plain C
 * over the kernel objects only (no Criterion, no model, no tokenizer), so it
 * cross-compiles and runs under qemu-user: `make kcheck` (this machine) and
 * `make kcheck-neon` (AArch64 under qemu).
 *
 * Prints one line per failed check and then
 *   kcheck: N passed, M failed (tables: ref ...)
 * and exits 1 if anything failed. KCHECK_EXPECT_TABLES="ref neon" makes the
 * list of tables a check too: the Makefile runs qemu with and without the
 * dot-product extension to prove the CPU probe picks (and drops) tables. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu_features.h"
#include "exact.h"
#include "pack.h"

/* Unit roundoff of float: one rounding changes a value by at most U of it. */
#define U 0x1p-24
/* Smallest float subnormal: the most one rounding can lose in underflow. */
#define TINY 0x1p-149

static int n_passed, n_failed;

/* Counts one check; a failure prints one line. Returns ok. */
static int check(int ok, const char *fmt, ...) {
    if (ok) {
        n_passed++;
        return 1;
    }
    n_failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    return 0;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "kcheck: out of memory\n");
        exit(2);
    }
    return p;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float frand(void) { /* uniform in [-1, 1), splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((z >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static void fill(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++)
        x[i] = frand() * scale;
}

/* Same bits (NaNs included), so "identical" means identical. */
static int64_t first_diff(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) return i;
    return -1;
}

/* Non-finite exactly where the reference is, NaN wherever it is NaN. An Inf
 * may come out as NaN: once lanes hold +Inf and -Inf partial sums, whether
 * they meet depends on the summation order. */
static int same_nonfinite(float got, float ref) {
    return isfinite(got) == isfinite(ref) && (!isnan(ref) || isnan(got));
}

/* =================================================================== matmul */

enum { W_RANDOM, W_TINY, W_HUGE, W_ZERO, W_EDGES };
enum { X_RANDOM, X_TINY, X_HUGE, X_ZERO, X_SCALES, X_EDGES, X_NONFINITE };
static const char *const w_names[] = {"random", "tiny", "huge", "zero", "edges"};
static const char *const x_names[] = {"random", "tiny", "huge", "zero", "scales", "edges", "nonfinite"};

/* Weight x activation cases: each extreme against ordinary data, and a few
 * pairs. Edge weights stay away from large activations, where float sums
 * (1e30 x 1e6) could overflow in one summation order and not another.
 * The last, float weights only (FLOAT_ONLY_COMBOS): tiny weights against
 * the 1e-30 activation blocks, products and partial sums around FLT_MIN,
 * where AVX512_BF16 flushes results to zero (the packed BF16 reference
 * replays it). */
static const int combos[][2] = {
    {W_RANDOM, X_RANDOM}, {W_TINY, X_RANDOM}, {W_HUGE, X_RANDOM},  {W_EDGES, X_RANDOM},
    {W_ZERO, X_RANDOM},   {W_RANDOM, X_TINY}, {W_RANDOM, X_HUGE},  {W_RANDOM, X_SCALES},
    {W_ZERO, X_ZERO},     {W_HUGE, X_HUGE},   {W_RANDOM, X_EDGES}, {W_RANDOM, X_NONFINITE},
    {W_TINY, X_SCALES},
};
#define FLOAT_ONLY_COMBOS 1

typedef struct mm_case {
    qlm_type type;
    int64_t n_in, rows, n_tok;
    int wc, xc;
    int packed; /* R16 layout (kernels/cpu/pack.h) */
} mm_case;

/* A case's inputs, the oracle's answer and the reference table's. */
typedef struct mm_data {
    const qlm_type_traits *tt, *at; /* weight type, activation (vec_dot) type */
    size_t row, arow;               /* bytes per weight / converted activation row */
    void *wq;                       /* rows x row bytes, row-major */
    qlm_tensor w;                   /* over wq, or over its packed copy */
    void *packed;
    float *x;       /* n_tok x n_in */
    void *xq;       /* n_tok x arow: the reference conversion of x */
    double *want;   /* n_tok x rows: exact results */
    double *tol;    /* n_tok x rows: allowed |error| */
    float *y_ref;   /* the reference table's results */
    size_t scratch; /* bytes */
} mm_data;

/* MXFP4's scale is an E8M0 exponent byte, 2^(e - 128) per kvalue unit: a
 * large one (2^96: with |kvalue| <= 12, ordinary activations and 32-value
 * blocks, far from float overflow in any summation order, which e = 255's
 * 2^127 would not be), the two whose scales are float subnormals (2^-128,
 * 2^-127: the product with d_y may round), a zero block, an untouched one.
 * A subnormal one first, so one-block rows (n_in 32) hold nothing else: in
 * longer rows the 2^96 block swamps the subnormal blocks' terms, and a
 * kernel that got their scale wrong would go unseen there. */
static void mxfp4_edge(uint8_t *blk, int64_t b) {
    static const uint8_t e_edge[4] = {1, 224, 0, 0};
    if (b % 5 == 4) return;
    blk[0] = e_edge[b % 5];
    if (b % 5 == 3) memset(blk + 1, 0, sizeof(qlm_block_mxfp4) - 1);
}

/* Q6_K keeps its F16 scale d last: the same edges as below, written there
 * (a zero block is all zero). */
static void q6_k_edge(uint8_t *blk, int64_t b) {
    static const uint16_t d_edge[4] = {0x7bff, 0x0400, 0x0001, 0x0000};
    if (b % 5 == 4) return;
    if (b % 5 == 3) memset(blk, 0, sizeof(qlm_block_q6_k));
    memcpy(blk + offsetof(qlm_block_q6_k, d), &d_edge[b % 5], 2);
}

/* Block scales at the edges of F16 cycling over blocks: the largest normal
 * (65504), the smallest normal (2^-14), the smallest subnormal (2^-24), a
 * zero block, an untouched one. Float types get elements at their edges. */
static void make_edges(qlm_type type, void *row, int64_t n_in) {
    const qlm_type_traits *tt = qlm_type_traits_get(type);
    for (int64_t b = 0; b < n_in / tt->block_size; b++) {
        uint8_t *blk = (uint8_t *)row + b * tt->type_size;
        static const uint16_t edge[5] = {0x7bff, 0x0400, 0x0001, 0x0000, 0};
        if (type == QLM_TYPE_MXFP4) {
            mxfp4_edge(blk, b);
        } else if (type == QLM_TYPE_Q6_K) {
            q6_k_edge(blk, b);
        } else if (tt->is_quantized) {
            if (b % 5 == 4) continue;
            memcpy(blk, &edge[b % 5], 2);                          /* d is the first field of every block */
            if (b % 5 == 3) memset(blk + 2, 0, tt->type_size - 2); /* Q4_1: m = 0 too */
        } else if (b % 7 == 0) {
            const int h = type == QLM_TYPE_F16;
            const float big = h ? 65504.0f : 1e30f, tiny = h ? 5.9604645e-8f : 1e-30f;
            float v = (b / 7) % 2 ? tiny : -big;
            /* BF16: every third edge a denormal (AVX512_BF16 reads it as 0,
             * the reference as its value: within bf16_flush_bound) */
            if (type == QLM_TYPE_BF16 && (b / 7) % 3 == 2) v = 3e-39f;
            tt->from_float(&v, blk, 1);
        }
    }
}

static void make_weights(const mm_case *c, mm_data *d) {
    static const float scale[] = {
        [W_RANDOM] = 0.5f, [W_TINY] = 1e-8f, [W_HUGE] = 1e4f, [W_ZERO] = 0.0f, [W_EDGES] = 0.5f};
    float *wf = xmalloc((size_t)(c->n_in * c->rows) * sizeof(float));
    fill(wf, c->n_in * c->rows, scale[c->wc]);
    d->wq = xmalloc(d->row * (size_t)c->rows);
    for (int64_t r = 0; r < c->rows; r++) {
        void *wr = (char *)d->wq + r * d->row;
        d->tt->from_float(wf + r * c->n_in, wr, c->n_in);
        if (c->wc == W_EDGES) make_edges(c->type, wr, c->n_in);
    }
    free(wf);
    d->w = (qlm_tensor){
        .name = "w", .type = c->type, .ne = {c->n_in, c->rows, 1, 1}, .row_bytes = d->row, .data = d->wq};
    if (!c->packed) return;
    d->packed = xmalloc(d->row * (size_t)c->rows);
    memcpy(d->packed, d->wq, d->row * (size_t)c->rows);
    void *tmp = xmalloc(QLM_PACK_ROWS * d->row);
    qlm_pack_groups(&d->w, d->packed, 0, c->rows / QLM_PACK_ROWS, tmp);
    d->w.data = d->packed, d->w.layout = QLM_LAYOUT_R16;
    free(tmp);
}

/* Blocks where a Q8 quantizer's corner cases show, cycling: x * id exactly
 * on halves (amax 127 makes id 1; roundf rounds them away from zero, the
 * hardware's default mode to even), amax so small that id = 1 / d is Inf
 * (every value saturates to +-127), every value equal to -amax (all -127),
 * all zeros, and an ordinary block. */
static void make_edge_activations(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const int64_t j = i % 32, kind = (i / 32) % 5;
        const float half = (float)(j % 2 ? -1 : 1) * ((float)(j * 4 % 127) + 0.5f);
        if (kind == 0) x[i] = j == 0 ? 127.0f : half;
        if (kind == 1) x[i] *= 1e-39f;
        if (kind == 2) x[i] = -3.0f;
        if (kind == 3) x[i] = 0.0f;
    }
}

/* Each block its own magnitude, 1e-30 .. 1e6 (1e6 keeps a Q8 block's scale,
 * amax / 127, below F16's 65504; past it the scale is Inf, which the
 * non-finite case covers). Non-finite: NaN in token 0, +Inf in 1, -Inf in 2. */
static void make_activations(const mm_case *c, float *x) {
    static const float scale[] = {[X_RANDOM] = 4.0f, [X_TINY] = 1e-8f, [X_HUGE] = 1e4f,     [X_ZERO] = 0.0f,
                                  [X_SCALES] = 4.0f, [X_EDGES] = 4.0f, [X_NONFINITE] = 4.0f};
    static const float mags[6] = {1e-30f, 1e-20f, 1e-10f, 1.0f, 1e4f, 1e6f};
    const int64_t n = c->n_in;
    fill(x, n * c->n_tok, scale[c->xc]);
    if (c->xc == X_SCALES)
        for (int64_t i = 0; i < n * c->n_tok; i++)
            x[i] *= mags[(i / 32) % 6];
    if (c->xc == X_EDGES) make_edge_activations(x, n * c->n_tok);
    if (c->xc != X_NONFINITE) return;
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int64_t t = 0; t < c->n_tok && t < 3; t++)
        x[t * n + (5 + 11 * t) % n] = bad[t];
}

/* The exact value of one weight row dotted with one activation row, as the
 * format defines it, and mag = sum |terms|, the magnitude every rounding
 * bound is relative to (a kernel's partial sums, in any grouping, are
 * bounded by it). In double: products of two floats are exact, and
 * dequantizing with to_float is exact for every type here (F16/BF16 widen
 * exactly, d * q is an 11-bit by 8-bit product) except Q4_1, whose to_float
 * rounds d q + m: its blocks are read directly, and its offset term is
 * m * s with the activation block's stored s, which is how Q4_1 . Q8_1 is
 * defined (ggml's and ours). */
static void exact_dot(const mm_data *d, const void *w, const void *a, int64_t n, float *wtmp, float *atmp,
                      double *want, double *mag) {
    double sum = 0, abs_sum = 0;
    if (kcheck_exact_dot_q5(d->w.type, w, a, n, want, mag) || kcheck_exact_dot_kquants(d->w.type, w, a, n, want, mag) ||
        kcheck_exact_dot_kquants_low(d->w.type, w, a, n, want, mag))
        return;
    if (d->w.type == QLM_TYPE_Q4_1) {
        const qlm_block_q4_1 *wb = w;
        const qlm_block_q8_1 *ab = a;
        for (int64_t b = 0; b < n / QLM_QK4_1; b++) {
            int64_t isum = 0, iabs = 0;
            for (int j = 0; j < QLM_QK4_1; j++) {
                const int q = j < 16 ? wb[b].qs[j] & 0x0f : wb[b].qs[j - 16] >> 4;
                isum += q * ab[b].qs[j], iabs += llabs((long long)q * ab[b].qs[j]);
            }
            const double dd = (double)qlm_fp16_to_fp32(wb[b].d) * qlm_fp16_to_fp32(ab[b].d);
            const double ms = (double)qlm_fp16_to_fp32(wb[b].m) * qlm_fp16_to_fp32(ab[b].s);
            sum += dd * (double)isum + ms, abs_sum += fabs(dd) * (double)iabs + fabs(ms);
        }
    } else {
        d->tt->to_float(w, wtmp, n);
        d->at->to_float(a, atmp, n);
        for (int64_t j = 0; j < n; j++) {
            const double p = (double)wtmp[j] * atmp[j];
            sum += p, abs_sum += fabs(p);
        }
    }
    *want = sum, *mag = abs_sum;
}

/* Bound for any kernel. The integer block sums are exact and so are their
 * int -> float conversions (|sum| < 2^24); each term then takes at most 3
 * roundings (d_x d_y, times the sum, Q4_1's + m s; a float product 1). Then
 * the float accumulation: in any order (one running sum, several lanes and
 * accumulators, a tree) a sum errs by at most k U sum |terms| to first
 * order, k the most additions any term goes through: one per later block
 * (per element for float types) along a running sum, plus the reduction of
 * lanes and accumulators (a few levels). So |error| <= (n_blocks + 20) U
 * mag, with 1.01 for the second-order terms, and TINY per operation for
 * underflow. */
static double matmul_bound(int64_t n_blocks, double mag) {
    return 1.01 * (double)(n_blocks + 20) * U * mag + (double)(n_blocks + 20) * TINY;
}

/* Q4_K / Q5_K (engine/quant_ref_kquants.c) add two float terms per block
 * to the running sum (+ d_x d_y isum, - dmin_x d_y msum), so a term goes
 * through up to 2 n_blocks additions: the bound above with 2 n_blocks.
 * Their (float)isum (and Q6_K's) rounds, |isum| reaching 2^27: that is the
 * third of a term's 3 roundings (d_x d_y, (float)isum, their product), and
 * exact_kquants.c's mag sums |t0| and |t1| separately, which those
 * roundings are relative to. A subnormal d_x d_y is off by up to TINY / 2,
 * which isum then scales: n_blocks 2^27 TINY more. */
static double kquant_bound(qlm_type type, int64_t n_blocks, double mag) {
    const int two_terms = type == QLM_TYPE_Q4_K || type == QLM_TYPE_Q5_K;
    return matmul_bound(two_terms ? 2 * n_blocks : n_blocks, mag) + (double)n_blocks * 0x1p27 * TINY;
}

/* BF16 x BF16 on AVX512_BF16 (vdpbf16ps) treats denormal inputs and
 * results as zero, as llama.cpp's BF16 path does: each of the n products
 * and partial sums can move by less than FLT_MIN. */
static double bf16_flush_bound(qlm_type type, int64_t n_in) {
    return type == QLM_TYPE_BF16 ? 2.0 * (double)(n_in + 1) * FLT_MIN : 0.0;
}

static void prepare(const mm_case *c, mm_data *d) {
    memset(d, 0, sizeof *d);
    d->tt = qlm_type_traits_get(c->type);
    d->at = qlm_type_traits_get(d->tt->vec_dot_type);
    d->row = qlm_row_size(c->type, c->n_in);
    d->arow = qlm_row_size(d->tt->vec_dot_type, c->n_in);
    make_weights(c, d);
    d->x = xmalloc((size_t)(c->n_in * c->n_tok) * sizeof(float));
    make_activations(c, d->x);
    d->xq = xmalloc(d->arow * (size_t)c->n_tok);
    for (int64_t t = 0; t < c->n_tok; t++)
        d->at->from_float(d->x + t * c->n_in, (char *)d->xq + t * d->arow, c->n_in);
    const size_t n_out = (size_t)(c->rows * c->n_tok);
    d->want = xmalloc(n_out * sizeof(double));
    d->tol = xmalloc(n_out * sizeof(double));
    float *wtmp = xmalloc((size_t)c->n_in * sizeof(float)), *atmp = xmalloc((size_t)c->n_in * sizeof(float));
    for (int64_t t = 0; t < c->n_tok; t++)
        for (int64_t r = 0; r < c->rows; r++) {
            double mag;
            exact_dot(d, (char *)d->wq + r * d->row, (char *)d->xq + t * d->arow, c->n_in, wtmp, atmp,
                      &d->want[t * c->rows + r], &mag);
            const int kq = c->type == QLM_TYPE_Q4_K || c->type == QLM_TYPE_Q5_K || c->type == QLM_TYPE_Q6_K;
            d->tol[t * c->rows + r] = (kq ? kquant_bound(c->type, c->n_in / d->tt->block_size, mag)
                                          : matmul_bound(c->n_in / d->tt->block_size, mag)) +
                                      bf16_flush_bound(c->type, c->n_in);
        }
    free(wtmp), free(atmp);
    d->scratch = qlm_matmul_scratch_size(c->type, c->n_in, c->n_tok) + 64;
    d->y_ref = xmalloc(n_out * sizeof(float));
    void *scr = xmalloc(d->scratch);
    qlm_ops_ref.matmul(&d->w, d->x, c->n_tok, d->y_ref, scr, 1);
    free(scr);
}

static void release(mm_data *d) {
    free(d->wq), free(d->packed), free(d->x), free(d->xq), free(d->want), free(d->tol), free(d->y_ref);
}

static void describe(char *buf, size_t cap, const qlm_ops *ops, const mm_case *c) {
    snprintf(buf, cap, "%s matmul %s%s n_in %lld rows %lld n_tok %lld w %s x %s", ops->name,
             qlm_type_name(c->type), c->packed ? " R16" : "", (long long)c->n_in, (long long)c->rows,
             (long long)c->n_tok, w_names[c->wc], x_names[c->xc]);
}

/* The activations the table converted (its scratch) must be the reference
 * quantizer's bytes: bit-identical quantizers are part of the contract
 * (ops.h: scratch holds x converted to W's vec_dot_type; act8 rows for
 * packed weights, compared without their padding; packed F16/BF16: the
 * vec_dot_type rows, F32 ones copied, in padded rows). */
static void check_converted(const char *what, const mm_case *c, const mm_data *d, const void *scratch) {
    const int padded = c->packed && qlm_pack_is_float(c->type);
    if (d->tt->vec_dot_type == QLM_TYPE_F32 && !padded) return;
    size_t stride = padded ? qlm_pack_float_act_row(c->type, c->n_in) : d->arow, want_stride = d->arow,
           used = d->arow;
    void *want = d->xq;
    if (c->packed && qlm_pack_reads_act8(c->type)) {
        stride = want_stride = qlm_act8_row_size(c->n_in);
        used = (size_t)c->n_in + (size_t)(c->n_in / 32) * 12;
        want = xmalloc(stride * (size_t)c->n_tok);
        for (int64_t t = 0; t < c->n_tok; t++)
            qlm_act8_quantize_ref(d->x + t * c->n_in, (char *)want + t * stride, c->n_in);
    }
    int64_t bad_tok = -1;
    for (int64_t t = 0; t < c->n_tok && bad_tok < 0; t++)
        if (memcmp((const char *)scratch + t * stride, (const char *)want + t * want_stride, used) != 0)
            bad_tok = t;
    check(bad_tok < 0, "%s: converted activations of token %lld differ from the reference quantizer's", what,
          (long long)bad_tok);
    if (want != d->xq) free(want);
}

/* Each output within its bound of the exact value, and non-finite exactly
 * where the reference table's is; against the reference table itself, the
 * two bounds add up. Packed kernels must reproduce the packed reference bit
 * for bit (pack.h). */
/* Formats whose kernels are defined per 256-value block (an exact integer
 * sum, then fixed float steps, accumulated in block order), so every table
 * must give the reference's bits, packed or not. */
static int bit_exact_type(qlm_type t) {
    switch (t) {
    case QLM_TYPE_Q2_K: case QLM_TYPE_Q3_K: case QLM_TYPE_Q4_K: case QLM_TYPE_Q5_K: case QLM_TYPE_Q6_K:
    case QLM_TYPE_IQ4_XS: case QLM_TYPE_TQ1_0: case QLM_TYPE_TQ2_0: return 1;
    default: return 0;
    }
}

static void check_values(const char *what, const mm_case *c, const mm_data *d, const float *y) {
    int64_t bad_oracle = -1, bad_ref = -1;
    /* Packed kernels equal their scalar references bit for bit, but for
     * BF16: its reference replays vdpbf16ps as Intel specifies it (and
     * matches it bit for bit on Intel), while other implementations (AMD
     * Zen 4) may round its two products differently; BF16 is held to the
     * oracle bound instead. */
    const int exact = (c->packed && c->type != QLM_TYPE_BF16) || bit_exact_type(c->type);
    for (int64_t i = 0; i < c->rows * c->n_tok; i++) {
        const float got = y[i], ref = d->y_ref[i];
        const int finite_ok = same_nonfinite(got, ref);
        const int near_want = !isfinite(ref) || fabs(got - d->want[i]) <= d->tol[i];
        const int near_ref = exact ? memcmp(&got, &ref, sizeof got) == 0 || (isnan(got) && isnan(ref))
                                   : !isfinite(ref) || fabs((double)got - ref) <= 2 * d->tol[i];
        if ((!finite_ok || !near_want) && bad_oracle < 0) bad_oracle = i;
        if ((!finite_ok || !near_ref) && bad_ref < 0) bad_ref = i;
    }
    const int64_t o = bad_oracle < 0 ? 0 : bad_oracle, r = bad_ref < 0 ? 0 : bad_ref;
    check(bad_oracle < 0, "%s: tok %lld row %lld: got %.9g, exact %.9g (bound %.3g, ref %.9g)", what,
          (long long)(o / c->rows), (long long)(o % c->rows), y[o], d->want[o], d->tol[o], d->y_ref[o]);
    check(bad_ref < 0, "%s: tok %lld row %lld: got %.9g, reference table %.9g%s", what,
          (long long)(r / c->rows), (long long)(r % c->rows), y[r], d->y_ref[r],
          exact ? " (must be identical)" : "");
}

/* A row's result depends neither on the row blocking (dot4 vs dot: which
 * rows are blocked depends on the row count), nor on the thread count, nor
 * on being computed with other weights in matmul_n. Two threads only for the
 * largest row counts: the driver splits fixed units, so those show it, and
 * each multi-threaded call costs a thread wake-up (slow under qemu). */
static void check_invariance(const char *what, const qlm_ops *ops, const mm_case *c, mm_data *d,
                             const float *y, void *scratch) {
    const int64_t n_out = c->rows * c->n_tok;
    float *y2 = xmalloc((size_t)n_out * sizeof(float)), *y3 = xmalloc((size_t)n_out * sizeof(float));
    int64_t bad;
    if (c->rows >= 17 || (c->packed && c->rows > QLM_PACK_ROWS)) {
        ops->matmul(&d->w, d->x, c->n_tok, y2, scratch, 2);
        bad = first_diff(y, y2, n_out);
        check(bad < 0, "%s: 2 threads change output %lld: %.9g vs %.9g", what, (long long)bad,
              bad < 0 ? 0 : y2[bad], bad < 0 ? 0 : y[bad]);
    }
    if (ops->matmul_n) {
        const qlm_tensor *ws[2] = {&d->w, &d->w};
        float *const ys[2] = {y2, y3};
        ops->matmul_n(ws, ys, 2, d->x, c->n_tok, scratch, 1);
        bad = first_diff(y, y2, n_out);
        if (bad < 0) bad = first_diff(y, y3, n_out);
        check(bad < 0, "%s: matmul_n differs from matmul at output %lld", what, (long long)bad);
    }
    if (!c->packed && c->rows > 1) {
        bad = -1;
        for (int64_t r = 0; r < c->rows && bad < 0; r++) {
            qlm_tensor wr = d->w;
            wr.ne[1] = 1, wr.data = (const char *)d->wq + r * d->row;
            ops->matmul(&wr, d->x, c->n_tok, y2, scratch, 1);
            for (int64_t t = 0; t < c->n_tok; t++)
                if (memcmp(&y2[t], &y[t * c->rows + r], sizeof(float)) != 0) bad = r;
        }
        check(bad < 0, "%s: row %lld alone differs from the same row in the matrix", what, (long long)bad);
    }
    free(y2), free(y3);
}

static void check_matmul_case(const qlm_ops *ops, const mm_case *c) {
    char what[200];
    describe(what, sizeof what, ops, c);
    mm_data d;
    prepare(c, &d);
    void *scratch = xmalloc(d.scratch);
    float *y = xmalloc((size_t)(c->rows * c->n_tok) * sizeof(float));
    ops->matmul(&d.w, d.x, c->n_tok, y, scratch, 1);
    check_converted(what, c, &d, scratch);
    check_values(what, c, &d, y);
    check_invariance(what, ops, c, &d, y, scratch);
    free(scratch), free(y);
    release(&d);
}

/* Row counts: below, at and around the 4-row blocking (and one and two
 * 16-row groups when packed). The long rows take fewer: they are there for
 * the accumulation over many blocks, and cost the most (under qemu too). */
typedef struct row_set {
    const int64_t *rows, *packed;
    int n_rows, n_packed;
} row_set;

static row_set rows_for(int64_t n_in) {
    static const int64_t rows[] = {1, 3, 4, 5, 17}, packed[] = {16, 32};
    static const int64_t long_rows[] = {1, 5}, long_packed[] = {16};
    if (n_in > 1024) return (row_set){long_rows, long_packed, 2, 1};
    return (row_set){rows, packed, 5, 2};
}

/* Token counts of the packed cases. The R16 kernels work in tiles of
 * tokens (2 or 8 so far), each tail size its own instance: so besides 1 and
 * 3, exactly one tile of 8, then a tile and tails of 1, 5 and (after two
 * tiles) 7. The long rows, where the kernels also split the blocks into
 * batches, take 1, 9 (a full tile and a tail, over many batches) and 17
 * (the AMX tiles' group of 16 and a tail, over several slabs: amx.c).
 * F16's tiles are 12 tokens, F32's and BF16's 16 (avx512_r16_float.c): for
 * them tails of 11 and 15 alone and after tiles, exact tiles and tiles
 * plus 1, and in long rows a tile and a tail for both. */
static int packed_toks(qlm_type type, int64_t n_in, const int64_t **toks) {
    static const int64_t all[] = {1, 3, 8, 9, 13, 23}, long_rows[] = {1, 9, 17};
    /* 256-value formats' prompt panels (32 tokens or more, slabs of 4 or 8
     * blocks, avx512_r16_kquants*.c) in long rows: four tiles and a tail */
    static const int64_t long_k[] = {1, 9, 37};
    static const int64_t floats[] = {1, 3, 11, 12, 13, 15, 16, 17, 23, 31}, long_floats[] = {1, 17};
    if (qlm_pack_is_float(type)) {
        *toks = n_in > 1024 ? long_floats : floats;
        return n_in > 1024 ? 2 : 10;
    }
    if (n_in > 1024) {
        const int k = qlm_type_traits_get(type)->block_size == QLM_QK_K;
        *toks = k ? long_k : long_rows;
        return 3;
    }
    *toks = all;
    return 6;
}

/* Prompts longer than the matmul driver's token chunk (matmul.c: chunks of
 * 256, static, then the last one guided) and its one-chunk path at exactly
 * 256: packed and row-major weights of a 32-, a 256-value and two float
 * types (BF16: the AMX tiles' pairs of token groups). */
static void check_long_prompts(const qlm_ops *ops) {
    static const qlm_type types[] = {QLM_TYPE_Q4_0, QLM_TYPE_Q5_K, QLM_TYPE_F16, QLM_TYPE_BF16};
    static const int64_t toks[] = {256, 300};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (int packed = 0; packed < 2; packed++)
            for (size_t t = 0; t < 2; t++) {
                mm_case c = {types[i], 512, 32, toks[t], W_RANDOM, X_RANDOM, packed};
                check_matmul_case(ops, &c);
            }
}

/* Every type the type table can compute (a vec_dot), on odd block counts,
 * one and three tokens (packed: packed_toks), every weight x activation
 * case; float types also on lengths that are not a multiple of any
 * vector (the odd ones row-major only for F16/BF16, which pack pairs of
 * values; F32 packs single values; 34: 17 pairs, a whole AMX-BF16 step
 * of 16 and a tail of one). */
static void check_matmul(const qlm_ops *ops) {
    static const int64_t n_ins[] = {1, 7, 33, 34, 32, 96, 160, 256, 1280, 2560 + 256, 4096 + 32}, n_toks[] = {1, 3};
    const char *only = getenv("KCHECK_TYPE"); /* one type's matmuls only (while working on its kernels) */
    for (int type = 0; type < QLM_TYPE_COUNT; type++) {
        const qlm_type_traits *tt = qlm_type_traits_get((uint32_t)type);
        if (!tt || !tt->vec_dot || (only && strcmp(only, qlm_type_name((qlm_type)type)) != 0)) continue;
        for (size_t a = 0; a < sizeof n_ins / sizeof n_ins[0]; a++) {
            if (n_ins[a] % tt->block_size != 0) continue;
            /* 11 blocks: the 256-value formats' multi-slab prompt panels; the
             * others have long rows enough (qemu time in make test) */
            if (n_ins[a] == 2560 + 256 && tt->block_size != QLM_QK_K) continue;
            const row_set rs = rows_for(n_ins[a]);
            const int64_t *ptoks;
            const int n_ptoks = packed_toks((qlm_type)type, n_ins[a], &ptoks);
            const size_t n_combos =
                sizeof combos / sizeof combos[0] - (tt->is_quantized ? FLOAT_ONLY_COMBOS : 0);
            for (size_t k = 0; k < n_combos; k++) {
                mm_case c = {(qlm_type)type, n_ins[a], 0, 0, combos[k][0], combos[k][1], 0};
                /* formats with multi-token tiles (4 tokens, then 2, then 1) also on 7 tokens */
                for (int t = 0; t < (bit_exact_type(c.type) ? 3 : 2); t++)
                    for (int r = 0; r < rs.n_rows; r++) {
                        c.n_tok = t < 2 ? n_toks[t] : 7, c.rows = rs.rows[r];
                        check_matmul_case(ops, &c);
                    }
                c.packed = 1;
                for (int t = 0; t < n_ptoks; t++)
                    for (int r = 0; r < rs.n_packed; r++) {
                        c.n_tok = ptoks[t], c.rows = rs.packed[r];
                        if (qlm_pack_supported(c.type, c.n_in, c.rows)) check_matmul_case(ops, &c);
                    }
            }
        }
    }
}

/* Packed BF16 where AVX512_BF16 flushes: FLT_MIN minus p, p from 0.5 to
 * 1.875 x 2^-151 by row. The hardware (and so the packed reference)
 * detects tininess after rounding to 24 bits: sums that round to FLT_MIN
 * stay (p <= 2^-151, the tie included, rounds to even FLT_MIN), the others
 * flush to +0; gradual underflow would give FLT_MIN for every row. One
 * group of 16 rows of 4 values: pair 0 makes FLT_MIN (2^-63 squared),
 * pair 1 subtracts p = w3 x3. */
static void check_bf16_flush(const qlm_ops *ops) {
    enum { N_IN = 4 };
    float wf[QLM_PACK_ROWS * N_IN] = {0}, x[N_IN] = {0, 0x1p-63f, 0, 0x1p-76f}, y[QLM_PACK_ROWS];
    uint16_t w[QLM_PACK_ROWS * N_IN], tmp[QLM_PACK_ROWS * N_IN], scratch[N_IN + 32];
    for (int r = 0; r < QLM_PACK_ROWS; r++) {
        wf[r * N_IN + 1] = 0x1p-63f;
        wf[r * N_IN + 3] = -(1.0f + (float)(r % 8) / 8) * (r < 8 ? 0x1p-76f : 0x1p-75f);
    }
    qlm_type_traits_get(QLM_TYPE_BF16)->from_float(wf, w, QLM_PACK_ROWS * N_IN);
    qlm_tensor t = {.name = "w", .type = QLM_TYPE_BF16, .ne = {N_IN, QLM_PACK_ROWS, 1, 1}, .data = w};
    t.row_bytes = 2 * N_IN;
    qlm_pack_groups(&t, w, 0, 1, tmp);
    t.layout = QLM_LAYOUT_R16;
    ops->matmul(&t, x, 1, y, scratch, 1);
    int bad = -1;
    for (int r = 0; r < QLM_PACK_ROWS && bad < 0; r++) {
        const float want = r <= 8 ? FLT_MIN : 0.0f;
        if (memcmp(&y[r], &want, sizeof want) != 0) bad = r;
    }
    /* the reference table must follow the specification; a SIMD table
     * follows its hardware, which only Intel's is known to match (see
     * check_values): elsewhere a difference is reported, not failed */
    if (ops == &qlm_ops_ref || bad < 0)
        check(bad < 0, "%s matmul BF16 R16 flush to zero: row %d: got %a", ops->name, bad,
              bad < 0 ? 0.0 : (double)y[bad]);
    else
        printf("note: %s BF16 R16 flush to zero differs from Intel's vdpbf16ps at row %d (%a)\n", ops->name, bad,
               (double)y[bad]);
}

/* ========================================================== the other ops */

/* out = x / sqrt(mean(x^2) + eps) * w. Bound for any summation order: the
 * sum of squares has n positive terms (each product rounded), so its
 * relative error is at most (n + 1) U; the mean and + eps add 2 U, sqrt
 * halves the total, the reciprocal and the two products add 3 U: in all
 * below ((n + 1) / 2 + 8) U of the output. Scales 1e-18 and 1e18 push x^2
 * to the edges of float's range. */
static void check_rmsnorm(const qlm_ops *ops) {
    static const int64_t sizes[] = {1, 7, 15, 17, 64, 576, 4097};
    static const float scales[] = {1.0f, 1e-18f, 1e18f};
    const float eps = 1e-5f;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t k = 0; k < 4; k++) {
            const int64_t n = sizes[s];
            float *x = xmalloc((size_t)n * 4), *w = xmalloc((size_t)n * 4), *out = xmalloc((size_t)n * 4),
                  *ref = xmalloc((size_t)n * 4);
            fill(x, n, k < 3 ? scales[k] : 1.0f);
            fill(w, n, 2.0f);
            if (k == 3) x[n / 2] = NAN; /* poisons the whole row */
            ops->rmsnorm(out, x, w, n, eps);
            qlm_ops_ref.rmsnorm(ref, x, w, n, eps);
            double ss = 0;
            for (int64_t i = 0; i < n; i++)
                ss += (double)x[i] * x[i];
            const double inv = 1.0 / sqrt(ss / (double)n + (double)eps);
            int64_t bad = -1;
            for (int64_t i = 0; i < n && bad < 0; i++) {
                const double want = x[i] * inv * w[i],
                             tol = ((double)(n + 1) / 2 + 8) * U * fabs(want) + 4 * TINY;
                if (!same_nonfinite(out[i], ref[i]) || (isfinite(ref[i]) && fabs(out[i] - want) > tol))
                    bad = i;
            }
            check(bad < 0, "%s rmsnorm n %lld case %zu: element %lld: got %.9g ref %.9g", ops->name,
                  (long long)n, k, (long long)bad, bad < 0 ? 0 : out[bad], bad < 0 ? 0 : ref[bad]);
            /* every table sums in the reference's lane order (ref.c): the same bits */
            check(memcmp(out, ref, (size_t)n * sizeof *out) == 0, "%s rmsnorm n %lld case %zu: not the reference's bits",
                  ops->name, (long long)n, k);
            free(x), free(w), free(out), free(ref);
        }
}

/* One head rotated in double from the same float angle pos * theta[i] the
 * kernel computes (the angle's own rounding is part of the definition). */
static void rope_double(double *v, const float *x, int head_dim, int n_rot, const float *theta, float pos,
                        qlm_rope_style style) {
    for (int d = 0; d < head_dim; d++)
        v[d] = x[d];
    for (int i = 0; i < n_rot / 2; i++) {
        const float a = pos * theta[i];
        const int i0 = style == QLM_ROPE_NEOX ? i : 2 * i,
                  i1 = style == QLM_ROPE_NEOX ? i + n_rot / 2 : 2 * i + 1;
        v[i0] = x[i0] * cos((double)a) - x[i1] * sin((double)a);
        v[i1] = x[i0] * sin((double)a) + x[i1] * cos((double)a);
    }
}

/* The other element of d's rotation pair. */
static int rope_partner(int d, int n_rot, qlm_rope_style style) {
    if (style != QLM_ROPE_NEOX) return d ^ 1;
    return d < n_rot / 2 ? d + n_rot / 2 : d - n_rot / 2;
}

/* Bound: cos and sin within 2 ulp (2 U absolute, |c|, |s| <= 1), two
 * products and a sum rounded: below 8 U (|x0| + |x1|) for the pair.
 * Unrotated dims must come back untouched. */
static void check_rope(const qlm_ops *ops) {
    enum { HD = 64, NH = 3 };
    static const int n_rots[] = {64, 32, 2};
    static const float positions[] = {0.0f, 1.0f, 17.0f, 4095.0f, -4.0f};
    float theta[HD / 2], x[NH * HD], y[NH * HD];
    double want[HD];
    for (int i = 0; i < HD / 2; i++)
        theta[i] = powf(10000.0f, -2.0f * (float)i / HD);
    for (int style = 0; style < 2; style++)
        for (int r = 0; r < 3; r++)
            for (int p = 0; p < 5; p++) {
                const qlm_rope_style st = style ? QLM_ROPE_NEOX : QLM_ROPE_NORM;
                fill(x, NH * HD, 3.0f);
                memcpy(y, x, sizeof x);
                ops->rope(y, NH, HD, n_rots[r], theta, positions[p], st);
                int bad = -1;
                for (int h = 0; h < NH; h++) {
                    const float *xh = x + h * HD;
                    rope_double(want, xh, HD, n_rots[r], theta, positions[p], st);
                    for (int d = 0; d < HD && bad < 0; d++) {
                        const int e = rope_partner(d, n_rots[r], st);
                        const double tol = d < n_rots[r] ? 8 * U * (fabs(xh[d]) + fabs(xh[e])) : 0;
                        if (!(fabs(y[h * HD + d] - want[d]) <= tol)) bad = h * HD + d;
                    }
                }
                check(bad < 0, "%s rope style %d n_rot %d pos %g: element %d: got %.9g", ops->name, style,
                      n_rots[r], positions[p], bad, bad < 0 ? 0 : y[bad]);
            }
}

/* h = silu(g) u = g / (1 + e^-g) u. Bound: expf within 2 ulp (its relative
 * error passes to 1 + e^-g at most unchanged), the add, divide and multiply
 * rounded: 8 U relative, plus 1e-38 absolute where the exact result is
 * subnormal or flushes to zero (silu(-100) = -4e-42). */
static void check_swiglu(const qlm_ops *ops) {
    static const int64_t sizes[] = {9, 1, 7, 33, 4097};
    for (size_t s = 0; s < 5; s++) {
        const int64_t n = sizes[s];
        float *g = xmalloc((size_t)n * 4), *u = xmalloc((size_t)n * 4), *h = xmalloc((size_t)n * 4),
              *ref = xmalloc((size_t)n * 4);
        fill(g, n, 30.0f);
        fill(u, n, 2.0f);
        if (s == 0) { /* the special values */
            const float sg[9] = {0.0f, 1.0f, -1.0f, 20.0f, -20.0f, 100.0f, -1000.0f, 1e-30f, NAN};
            memcpy(g, sg, sizeof sg);
        }
        ops->swiglu(h, g, u, n);
        qlm_ops_ref.swiglu(ref, g, u, n);
        int64_t bad = -1;
        for (int64_t i = 0; i < n && bad < 0; i++) {
            const double want = g[i] / (1.0 + exp(-(double)g[i])) * u[i];
            if (!same_nonfinite(h[i], ref[i]) ||
                (isfinite(ref[i]) && fabs(h[i] - want) > 8 * U * fabs(want) + 1e-38))
                bad = i;
        }
        check(bad < 0, "%s swiglu n %lld: element %lld: got %.9g ref %.9g", ops->name, (long long)n,
              (long long)bad, bad < 0 ? 0 : h[bad], bad < 0 ? 0 : ref[bad]);
        free(g), free(u), free(h), free(ref);
    }
}

/* h = gelu_tanh(g) u, bit for bit the reference's (every table replays its
 * operations) and within (8 + 8 |z|) U of the double value, z the logistic
 * argument 2 sqrt(2/pi) g (1 + 0.044715 g^2): its 4 roundings and 2 rounded
 * constants are an error of up to ~7 U |z| in z, which exp turns into a
 * relative error; then exp's 2 ulp and three more roundings. The double
 * value is x / (1 + e^-z), not 0.5 x (1 + tanh(z/2)), which cancels
 * catastrophically for x << 0. */
static void check_geglu(const qlm_ops *ops) {
    static const int64_t sizes[] = {10, 1, 7, 33, 4097};
    for (size_t s = 0; s < 5; s++) {
        const int64_t n = sizes[s];
        float *g = xmalloc((size_t)n * 4), *u = xmalloc((size_t)n * 4), *h = xmalloc((size_t)n * 4),
              *ref = xmalloc((size_t)n * 4);
        fill(g, n, 8.0f);
        fill(u, n, 2.0f);
        if (s == 0) {
            const float sg[10] = {0.0f, 1.0f, -1.0f, 3.0f, -3.0f, 20.0f, -20.0f, 1000.0f, -1000.0f, NAN};
            memcpy(g, sg, sizeof sg);
        }
        ops->geglu(h, g, u, n);
        qlm_ops_ref.geglu(ref, g, u, n);
        int64_t bad = -1;
        for (int64_t i = 0; i < n && bad < 0; i++) {
            const double x = g[i], z = 1.5957691216057308 * x * (1.0 + 0.044715 * x * x);
            const double want = x / (1.0 + exp(-z)) * u[i]; /* 0.5 x (1 + tanh(z / 2)) without cancellation */
            if (memcmp(&h[i], &ref[i], 4) != 0 && !(isnan(h[i]) && isnan(ref[i])))
                bad = i;
            else if (isfinite(ref[i]) && fabs(h[i] - want) > (8 + 8 * fmin(fabs(z), 100.0)) * U * fabs(want) + 1e-38)
                bad = i;
        }
        check(bad < 0, "%s geglu n %lld: element %lld: got %.9g ref %.9g", ops->name, (long long)n, (long long)bad,
              bad < 0 ? 0 : h[bad], bad < 0 ? 0 : ref[bad]);
        free(g), free(u), free(h), free(ref);
    }
}

/* softmax(scale q.K) V in double over the values the kernel sees (an F16
 * cache holds rounded K, V; Q arrives rounded as the forward pass does). */
static void attention_double(double *out, const float *q, const float *k, const float *v, int64_t n_kv,
                             int hd, float scale) {
    double *s = xmalloc((size_t)n_kv * sizeof(double)), max = -INFINITY, sum = 0;
    for (int64_t p = 0; p < n_kv; p++) {
        s[p] = 0;
        for (int d = 0; d < hd; d++)
            s[p] += (double)q[d] * k[p * hd + d];
        s[p] *= scale;
        if (s[p] > max) max = s[p];
    }
    for (int64_t p = 0; p < n_kv; p++)
        sum += (s[p] = exp(s[p] - max));
    for (int d = 0; d < hd; d++) {
        out[d] = 0;
        for (int64_t p = 0; p < n_kv; p++)
            out[d] += s[p] / sum * v[p * hd + d];
    }
    free(s);
}

/* Bound, with |v| <= vmax. Each score is a float dot of hd products, scaled:
 * off by at most e_p = (hd + 2) U scale sum_d |q_d k_pd|. Scores off by at
 * most E = max e_p move each probability by a factor within e^(+-2E); expf
 * (2 ulp), the sum of n_kv exponentials in float (n_kv U) and the
 * normalization (2 U) add (n_kv + 8) U relative. The weighted sum of V, a
 * convex combination, adds (n_kv + 2) U vmax. An F16 cache also rounds each
 * probability to F16 (llama.cpp does): 2^-11 relative, or 2^-25 absolute
 * where it is subnormal. */
static double attention_bound(const float *q, const float *k, int64_t n_kv, int hd, float scale, int f16,
                              double vmax) {
    double e = 0;
    for (int64_t p = 0; p < n_kv; p++) {
        double m = 0;
        for (int d = 0; d < hd; d++)
            m += fabs((double)q[d] * k[p * hd + d]);
        e = fmax(e, (hd + 2) * U * scale * m);
    }
    double tol = vmax * (expm1(2.0 * e) + (double)(n_kv + 8) * U + (double)(n_kv + 2) * U);
    if (f16) tol += vmax * (0x1p-11 + (double)n_kv * 0x1p-25);
    return tol;
}

static void check_attention_case(const qlm_ops *ops, int64_t n_kv, int hd, int f16, float qscale) {
    const size_t nkv = (size_t)(n_kv * hd);
    float *q = xmalloc((size_t)hd * 4), *k = xmalloc(nkv * 4), *v = xmalloc(nkv * 4),
          *out = xmalloc((size_t)hd * 4);
    float *scores = xmalloc((size_t)n_kv * 4);
    uint16_t *k16 = xmalloc(nkv * 2), *v16 = xmalloc(nkv * 2);
    double *want = xmalloc((size_t)hd * sizeof(double));
    fill(q, hd, qscale), fill(k, (int64_t)nkv, 1.0f), fill(v, (int64_t)nkv, 1.0f);
    if (f16) {
        for (int d = 0; d < hd; d++)
            q[d] = qlm_fp16_to_fp32(qlm_fp32_to_fp16(q[d]));
        for (size_t i = 0; i < nkv; i++) {
            k16[i] = qlm_fp32_to_fp16(k[i]), k[i] = qlm_fp16_to_fp32(k16[i]);
            v16[i] = qlm_fp32_to_fp16(v[i]), v[i] = qlm_fp16_to_fp32(v16[i]);
        }
    }
    double vmax = 0;
    for (size_t i = 0; i < nkv; i++)
        vmax = fmax(vmax, fabs(v[i]));
    const float scale = 1.0f / sqrtf((float)hd);
    ops->attention_head(out, q, f16 ? (void *)k16 : (void *)k, f16 ? (void *)v16 : (void *)v,
                        f16 ? QLM_TYPE_F16 : QLM_TYPE_F32, n_kv, hd, hd, scale, scores);
    attention_double(want, q, k, v, n_kv, hd, scale);
    const double tol = attention_bound(q, k, n_kv, hd, scale, f16, vmax);
    int bad = -1;
    for (int d = 0; d < hd && bad < 0; d++)
        if (!(fabs(out[d] - want[d]) <= tol)) bad = d;
    check(bad < 0,
          "%s attention n_kv %lld head_dim %d %s q scale %g: dim %d: got %.9g exact %.9g (bound %.3g)",
          ops->name, (long long)n_kv, hd, f16 ? "F16" : "F32", qscale, bad, bad < 0 ? 0 : out[bad],
          bad < 0 ? 0 : want[bad], tol);
    free(q), free(k), free(v), free(out), free(scores), free(k16), free(v16), free(want);
}

/* Context lengths 1 .. 1000, a peaked softmax (q scale 30) and head sizes
 * that split unevenly over SIMD chunks (36, 72, 80 against 16 or 64 dims). */
static void check_attention(const qlm_ops *ops) {
    static const int64_t lens[] = {1, 2, 17, 300};
    static const int hds[] = {36, 72, 80, 128};
    for (int f16 = 0; f16 < 2; f16++) {
        for (int i = 0; i < 4; i++) {
            check_attention_case(ops, lens[i], 64, f16, 1.0f);
            check_attention_case(ops, lens[i], 48, f16, 30.0f);
        }
        for (int i = 0; i < 4; i++) {
            check_attention_case(ops, 3, hds[i], f16, 1.0f);
            check_attention_case(ops, f16 ? 1000 : 300, hds[i], f16, 4.0f);
        }
    }
}

/* ================================================================= tables */

/* QLM_CPU=name picks any listed table silently; a table built in but not
 * runnable here (neon-dot on a CPU without the dot product) and an unknown
 * name fall back to the best table with a reason. Restores QLM_CPU. */
static void check_override(const qlm_ops *const *tables, int n, const qlm_cpu_table *built, int n_built) {
    const char *old = getenv("QLM_CPU");
    char *saved = old ? strdup(old) : NULL;
    const char *note;
    for (int i = 0; i < n; i++) {
        setenv("QLM_CPU", tables[i]->name, 1);
        const qlm_ops *got = qlm_ops_select_note(&note);
        check(got == tables[i] && !note, "tables: QLM_CPU=%s selects %s (%s)", tables[i]->name, got->name,
              note ? note : "no note");
    }
    for (int b = 0; b <= n_built; b++) {
        const char *name = b < n_built ? built[b].ops->name : "no-such-kernels";
        int listed = 0;
        for (int i = 0; i < n; i++)
            listed |= strcmp(tables[i]->name, name) == 0;
        if (listed) continue;
        setenv("QLM_CPU", name, 1);
        const qlm_ops *got = qlm_ops_select_note(&note);
        check(got == tables[n - 1] && note, "tables: QLM_CPU=%s (not runnable) selects %s%s", name, got->name,
              note ? "" : " without a note");
    }
    if (saved)
        setenv("QLM_CPU", saved, 1);
    else
        unsetenv("QLM_CPU");
    free(saved);
}

/* The list starts with the reference, holds exactly the compiled-in tables
 * the probed features allow, every table is complete, the default choice
 * is the last (best) one, and, if KCHECK_EXPECT_TABLES is set, the names
 * are exactly those. Returns the names ("ref avx2 ..."). */
static void check_tables(const qlm_ops *const *tables, int n, char *names, size_t cap) {
    names[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) strncat(names, " ", cap - strlen(names) - 1);
        strncat(names, tables[i]->name, cap - strlen(names) - 1);
    }
    check(n > 0 && tables[0] == &qlm_ops_ref, "tables: the list does not start with ref");
    const qlm_cpu_table *built;
    const int n_built = qlm_cpu_tables(&built);
    const unsigned features = qlm_cpu_features();
    for (int b = 0; b < n_built; b++) {
        int listed = 0;
        for (int i = 0; i < n; i++)
            listed |= tables[i] == built[b].ops;
        const int runs = (built[b].needs & features) == built[b].needs;
        check(listed == runs, "tables: %s is %slisted but the CPU features (%s) %s it", built[b].ops->name,
              listed ? "" : "not ", qlm_cpu_features_str(), runs ? "allow" : "do not allow");
    }
    for (int i = 0; i < n; i++)
        check(tables[i]->name && tables[i]->matmul && tables[i]->rmsnorm && tables[i]->rope &&
                  tables[i]->attention_head && tables[i]->swiglu,
              "tables: %s has a NULL op", tables[i]->name);
    const char *env = getenv("QLM_CPU");
    if (!env || !*env)
        check(qlm_ops_select() == tables[n - 1], "tables: qlm_ops_select does not pick the best");
    check_override(tables, n, built, n_built);
    const char *expect = getenv("KCHECK_EXPECT_TABLES");
    if (expect) check(strcmp(expect, names) == 0, "tables: listed \"%s\", expected \"%s\"", names, expect);
}

/* Whether name is one of the space-separated words of list (NULL: none). */
static int listed_in(const char *list, const char *name) {
    const size_t len = strlen(name);
    for (const char *p = list; p && *p;) {
        while (*p == ' ') p++;
        const size_t w = strcspn(p, " ");
        if (w == len && strncmp(p, name, len) == 0) return 1;
        p += w;
    }
    return 0;
}

static void check_table(const qlm_ops *ops) {
    check_matmul(ops);
    check_long_prompts(ops);
    check_bf16_flush(ops);
    check_rmsnorm(ops);
    check_rope(ops);
    check_swiglu(ops);
    check_geglu(ops);
    check_attention(ops);
}

/* A child per table, at most `jobs` alive; each sends its two counts back
 * through a pipe. A child that dies without sending counts as a failure. */
static void run_tables(const qlm_ops *const *tables, int n, int jobs) {
    int fds[16][2], running = 0, next = 0;
    pid_t pids[16];
    fflush(stdout);
    for (int done = 0; done < n;) {
        while (next < n && running < jobs) {
            if (pipe(fds[next]) != 0 || (pids[next] = fork()) < 0) { /* no processes: run it here */
                check_table(tables[next++]);
                done++;
                continue;
            }
            if (pids[next] == 0) {
                close(fds[next][0]);
                n_passed = n_failed = 0;
                check_table(tables[next]);
                const int counts[2] = {n_passed, n_failed};
                fflush(stdout);
                _exit(write(fds[next][1], counts, sizeof counts) == (ssize_t)sizeof counts ? 0 : 1);
            }
            close(fds[next][1]);
            next++, running++;
        }
        if (!running) continue;
        int status;
        const pid_t pid = wait(&status);
        for (int t = 0; t < next; t++) {
            if (pids[t] != pid) continue;
            int counts[2] = {0, 1};
            if (read(fds[t][0], counts, sizeof counts) != (ssize_t)sizeof counts || !WIFEXITED(status))
                printf("FAIL: table %s: its check process died\n", tables[t]->name), counts[1] = 1;
            close(fds[t][0]);
            n_passed += counts[0], n_failed += counts[1];
            running--, done++;
        }
    }
}

int main(void) {
    const qlm_ops *tables[16];
    const int n = qlm_ops_list(tables, 16);
    char names[256];
    check_tables(tables, n, names, sizeof names);
    printf("kcheck: cpu features: %s\n", *qlm_cpu_features_str() ? qlm_cpu_features_str() : "(none)");
    fflush(stdout);
    /* The reference runs the oracle checks too: it is what validates the
     * bounds themselves. The tables are independent: each runs in its own
     * child process, KCHECK_JOBS (default: the cores) at a time. */
    const char *jobs_env = getenv("KCHECK_JOBS");
    const int jobs = jobs_env && atoi(jobs_env) > 0 ? atoi(jobs_env) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    /* KCHECK_SKIP="ref neon": tables listed (and probed above) but checked in
     * another run of the same binary (make test's two qemu CPUs run the same
     * table code; what differs between them is the probe) */
    const qlm_ops *todo[16];
    int n_todo = 0;
    for (int t = 0; t < n; t++) {
        if (!listed_in(getenv("KCHECK_SKIP"), tables[t]->name)) todo[n_todo++] = tables[t];
        else printf("kcheck: table %s: probed here, checked in another run\n", tables[t]->name);
    }
    run_tables(todo, n_todo, jobs > 0 ? jobs : 1);
    printf("kcheck: %d passed, %d failed (tables: %s)\n", n_passed, n_failed, names);
    return n_failed ? 1 : 0;
}
