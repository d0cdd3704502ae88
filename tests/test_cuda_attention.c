/* test_cuda_attention.c - the CUDA attention kernels (kernels/cuda/attention.cu)
 * against a double-precision softmax attention computed here from the same
 * K/V values (after F16 conversion for F16 caches), and against the CPU
 * reference (qlm_ops_ref.attention_heads) with a wider bound. Both kernels
 * (split-KV decoding, flash prefill) run on every shape, plus the automatic
 * choice. Cache rows no token may see hold NaN, so reading one shows.
 *
 * They skip where the build has no CUDA or the machine no device; the
 * emulated build (kernels/cuda/emu) reports one device and runs them on the
 * CPU, hence the small sizes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "cuda_test.h"
#include "types.h"

#ifdef QLM_HAVE_CUDA
#include "attention_testing.h"
#include "cuda.h"
#endif

/* The kernels of attention_testing.h's qlm_cuda_test_attention_kernel. */
enum { KERNEL_AUTO = 0, KERNEL_SPLIT = 1, KERNEL_FLASH = 2 };

/* What the query/key values look like. */
typedef enum data_kind {
    DATA_RANDOM,     /* uniform in [-1, 1) */
    DATA_HUGE_POS,   /* integer q, k with scores ~ +1e4: exp(score) overflows */
    DATA_HUGE_NEG,   /* the same, scores ~ -1e4: exp(score) underflows to 0 */
    DATA_ALL_EQUAL   /* q = 0: every score 0, out = mean of the visible V rows */
} data_kind;

typedef struct attn_case {
    int n_tok, n_past, n_head, n_head_kv, head_dim, f16, window;
    data_kind data;
} attn_case;

static uint64_t rng_state;
static void seed(void) { rng_state = 0x243F6A8885A308D3ull; }
TestSuite(cuda_attention, .init = seed);

/* Everything up to the tests runs only in CUDA builds. */
#ifdef QLM_HAVE_CUDA
static double urand(void) { /* uniform in [0, 1), splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / (double)(1ull << 53);
}

static float frand(void) { return (float)(urand() * 2.0 - 1.0); }

/* One test's inputs: the caches as the kernels get them (k_raw, v_raw: F16
 * halves or floats) and as floats (k, v: the F16 values converted). */
typedef struct attn_data {
    attn_case c;
    int n_ctx;
    size_t q_n, kv_n; /* element counts */
    float *q, *k, *v, scale;
    void *k_raw, *v_raw;
} attn_data;

/* Rows past the batch's last position hold NaN (unwritten cache). */
static void make_data(attn_data *a, const attn_case *c) {
    memset(a, 0, sizeof *a);
    a->c = *c;
    a->n_ctx = c->n_past + c->n_tok + 5;
    const int q_dim = c->n_head * c->head_dim, kv_dim = c->n_head_kv * c->head_dim;
    a->q_n = (size_t)c->n_tok * q_dim;
    a->kv_n = (size_t)a->n_ctx * kv_dim;
    a->q = malloc(a->q_n * sizeof(float));
    a->k = malloc(a->kv_n * sizeof(float));
    a->v = malloc(a->kv_n * sizeof(float));
    a->k_raw = malloc(a->kv_n * (c->f16 ? 2 : 4));
    a->v_raw = malloc(a->kv_n * (c->f16 ? 2 : 4));
    a->scale = 1.0f / sqrtf((float)c->head_dim);
    const size_t written = (size_t)(c->n_past + c->n_tok) * kv_dim;
    for (size_t i = 0; i < a->q_n; i++) {
        switch (c->data) {
        case DATA_RANDOM: a->q[i] = frand(); break;
        case DATA_HUGE_POS: a->q[i] = 1.0f; break;
        case DATA_HUGE_NEG: a->q[i] = -1.0f; break;
        case DATA_ALL_EQUAL: a->q[i] = 0.0f; break;
        }
    }
    /* Huge: k = 160 + {-1, 0, 1}, q = +-1, scale 1: a score is the integer
     * +-(160 head_dim + a small sum) ~ +-1e4 (head_dim 64), computed exactly
     * in float in any order, and the scores differ by a few units, so the
     * softmax is neither uniform nor one-hot. */
    if (c->data == DATA_HUGE_POS || c->data == DATA_HUGE_NEG) a->scale = 1.0f;
    for (size_t i = 0; i < a->kv_n; i++) {
        float kf = c->data == DATA_HUGE_POS || c->data == DATA_HUGE_NEG ? 160.0f + (float)(int)(urand() * 3.0) - 1.0f
                                                                         : frand();
        float vf = frand();
        if (i >= written) kf = vf = NAN;
        if (c->f16) {
            const uint16_t kh = qlm_fp32_to_fp16(kf), vh = qlm_fp32_to_fp16(vf);
            ((uint16_t *)a->k_raw)[i] = kh, ((uint16_t *)a->v_raw)[i] = vh;
            a->k[i] = qlm_fp16_to_fp32(kh), a->v[i] = qlm_fp16_to_fp32(vh);
        } else {
            ((float *)a->k_raw)[i] = a->k[i] = kf;
            ((float *)a->v_raw)[i] = a->v[i] = vf;
        }
    }
}

static void free_data(attn_data *a) {
    free(a->q), free(a->k), free(a->v), free(a->k_raw), free(a->v_raw);
}

/* The positions [*first, *last] token t sees (engine/forward.c's attention()). */
static void visible(const attn_case *c, int t, int *first, int *last) {
    const int n_kv = c->n_past + t + 1;
    *first = c->window > 0 && n_kv > c->window ? n_kv - c->window : 0;
    *last = n_kv - 1;
}

static int is_integral(double x) { return x == floor(x); }

/* The oracle for row (t, h): want (head_dim) in double, and the bound on
 * the kernels' error, relative to vmax = max |v| over the visible rows.
 *
 * The bound (u = 2^-24, n visible positions): an output is sum_p w_p v_p
 * with weights w_p >= 0 summing to 1, so every error is a multiple of vmax:
 *  - scores: a float dot product of head_dim fused multiply-adds (in any
 *    order) then the scale, |ds| <= D = (head_dim + 2) u |scale| max_p
 *    sum_d |q_d k_pd|; exact (D = 0) for integer q, k with sum |q k| < 2^24
 *    and a power-of-two scale. Scores off by <= D move each weight by a
 *    factor within e^(+-2D): the output by <= vmax (e^(2D) - 1).
 *  - softmax and accumulation in float, with scores taken as exact: each
 *    exp is within 2 ulp (4u) and is applied, with the running-maximum
 *    rescalings, at most once per tile and once per chunk; the argument of
 *    an exp, x = m - s, rounds by u x, which weighs sum_p w_p x_p <= ln n
 *    (an entropy); the p v sums are chains of n fused multiply-adds plus a
 *    rescale per tile (<= (n + n/16 + 2) u), l is a warp tree (5 adds) and
 *    a chain per tile, the combine a chain per chunk, and one division.
 *    Summed with 8u per exp and the tile (>= 16 positions) and chunk counts
 *    bounded by n/16 + 2, that is below (2n + 64 + 4 ln n) u.
 * Worst-case bounds (real errors are ~100 times smaller), yet a position
 * missed or added moves the output by about |v_p - out| / n, far above
 * them at the sizes here (n <= ~1000: 2e-3 / 1.2e-4). */
static double oracle_row(const attn_data *a, int t, int h, double *want, double *vmax_out) {
    const attn_case *c = &a->c;
    const int hd = c->head_dim, kvh = h / (c->n_head / c->n_head_kv), kv_dim = c->n_head_kv * hd;
    const float *q = a->q + ((size_t)t * c->n_head + h) * hd;
    int first, last;
    visible(c, t, &first, &last);
    const int n = last - first + 1;
    double *w = malloc((size_t)n * sizeof(double)), smax = -INFINITY, mag_max = 0, vmax = 0;
    int exact = frexp(a->scale, &(int){0}) == 0.5;
    for (int d = 0; d < hd; d++) exact &= is_integral(q[d]);
    for (int p = 0; p < n; p++) {
        const float *k = a->k + (size_t)(first + p) * kv_dim + (size_t)kvh * hd;
        const float *v = a->v + (size_t)(first + p) * kv_dim + (size_t)kvh * hd;
        double dot = 0, mag = 0;
        for (int d = 0; d < hd; d++) {
            dot += (double)q[d] * k[d], mag += fabs((double)q[d] * k[d]);
            exact &= is_integral(k[d]);
            if (fabs(v[d]) > vmax) vmax = fabs(v[d]);
        }
        w[p] = dot * a->scale;
        if (w[p] > smax) smax = w[p];
        if (mag > mag_max) mag_max = mag;
    }
    double sum = 0;
    for (int p = 0; p < n; p++) sum += (w[p] = exp(w[p] - smax));
    for (int d = 0; d < hd; d++) want[d] = 0;
    for (int p = 0; p < n; p++) {
        const float *v = a->v + (size_t)(first + p) * kv_dim + (size_t)kvh * hd;
        for (int d = 0; d < hd; d++) want[d] += w[p] / sum * v[d];
    }
    free(w);
    exact &= mag_max < 16777216.0;
    const double u = 0x1p-24;
    const double dscore = exact ? 0.0 : (hd + 2) * u * fabs((double)a->scale) * mag_max;
    *vmax_out = vmax;
    return expm1(2 * dscore) + (2.0 * n + 64 + 4 * log((double)n)) * u;
}

/* The CPU reference for all rows, as engine/forward.c calls it. */
static void cpu_reference(const attn_data *a, float *out) {
    const attn_case *c = &a->c;
    const int hd = c->head_dim, group = c->n_head / c->n_head_kv, kv_dim = c->n_head_kv * hd;
    const size_t elem = c->f16 ? 2 : 4;
    float *scratch = malloc((size_t)group * a->n_ctx * sizeof(float));
    for (int t = 0; t < c->n_tok; t++)
        for (int kvh = 0; kvh < c->n_head_kv; kvh++) {
            int first, last;
            visible(c, t, &first, &last);
            const size_t off = ((size_t)first * kv_dim + (size_t)kvh * hd) * elem;
            const size_t row = ((size_t)t * c->n_head + (size_t)kvh * group) * hd;
            qlm_ops_ref.attention_heads(out + row, a->q + row, group, (const char *)a->k_raw + off,
                                        (const char *)a->v_raw + off, c->f16 ? QLM_TYPE_F16 : QLM_TYPE_F32,
                                        last - first + 1, kv_dim, hd, a->scale, scratch);
        }
    free(scratch);
}

static const char *kernel_name(int kernel) {
    return kernel == KERNEL_SPLIT ? "split-KV" : kernel == KERNEL_FLASH ? "flash" : "auto";
}

/* Checks one kernel's output against the oracle and the CPU reference;
 * returns the number of elements out of bounds (each also reported). */
static int check_output(const attn_data *a, int kernel, const float *got, const float *cpu) {
    const attn_case *c = &a->c;
    const int hd = c->head_dim;
    double *want = malloc((size_t)hd * sizeof(double));
    int bad = 0;
    for (int t = 0; t < c->n_tok; t++)
        for (int h = 0; h < c->n_head; h++) {
            int first, last;
            visible(c, t, &first, &last);
            double vmax;
            const double rel = oracle_row(a, t, h, want, &vmax);
            /* CPU reference: its own float error (the same analysis) and, with
             * an F16 cache, every probability rounded to F16: relative 2^-11,
             * or absolute <= 2^-25 for those below F16's normal range */
            const double cpu_rel = rel + (c->f16 ? 0x1p-11 + (last - first + 1) * 0x1p-25 : 0.0);
            for (int d = 0; d < hd; d++) {
                const size_t i = ((size_t)t * c->n_head + h) * hd + d;
                const double tol = rel * vmax + 1e-30, cpu_tol = (rel + cpu_rel) * vmax + 1e-30;
                const int ok = fabs(got[i] - want[d]) <= tol, cpu_ok = fabs(got[i] - (double)cpu[i]) <= cpu_tol;
                if ((!ok || !cpu_ok) && bad++ < 5)
                    cr_log_error("%s tok %d head %d dim %d (n_tok %d n_past %d heads %d/%d hd %d f16 %d window %d "
                                 "data %d): got %.9g, double %.9g (tol %.3g), cpu %.9g (tol %.3g)",
                                 kernel_name(kernel), t, h, d, c->n_tok, c->n_past, c->n_head, c->n_head_kv, hd,
                                 c->f16, c->window, (int)c->data, got[i], want[d], tol, cpu[i], cpu_tol);
            }
        }
    free(want);
    return bad;
}

/* Runs the case on each kernel (auto, split-KV, flash) and checks it. */
static void run_case(const attn_case *c) {
    attn_data a;
    make_data(&a, c);
    float *cpu = malloc(a.q_n * sizeof(float)), *got = malloc(a.q_n * sizeof(float));
    cpu_reference(&a, cpu);
    for (int kernel = KERNEL_AUTO; kernel <= KERNEL_FLASH; kernel++) {
        char msg[256] = "";
        const int rc = qlm_cuda_test_attention_kernel(kernel, a.q, a.k_raw, a.v_raw, c->f16, c->n_tok, c->n_past,
                                                      a.n_ctx, c->n_head, c->n_head_kv, c->head_dim, a.scale,
                                                      c->window, got, msg, sizeof msg);
        cr_assert_eq(rc, 0, "%s: %s", kernel_name(kernel), msg);
        const int bad = check_output(&a, kernel, got, cpu);
        cr_expect_eq(bad, 0, "%s kernel: %d values out of bounds (n_tok %d n_past %d heads %d/%d hd %d f16 %d window %d)",
                     kernel_name(kernel), bad, c->n_tok, c->n_past, c->n_head, c->n_head_kv, c->head_dim, c->f16,
                     c->window);
    }
    free(cpu), free(got);
    free_data(&a);
}
#endif /* QLM_HAVE_CUDA */


static void run_cases(const attn_case *cases, size_t n) {
#ifdef QLM_HAVE_CUDA
    for (size_t i = 0; i < n; i++) run_case(&cases[i]);
#else
    (void)cases, (void)n;
#endif
}

/* One token at the split-KV chunk edges (256 positions a chunk): n_kv 1,
 * 2, 256, 257, 258, 1001. */
Test(cuda_attention, decode_chunk_edges) {
    CUDA_SKIP_WITHOUT_DEVICE();
    static const attn_case cases[] = {
        {1, 0, 8, 2, 64, 0, 0, DATA_RANDOM},    {1, 1, 8, 2, 64, 1, 0, DATA_RANDOM},
        {1, 255, 8, 2, 64, 0, 0, DATA_RANDOM},  {1, 256, 8, 2, 64, 1, 0, DATA_RANDOM},
        {1, 257, 8, 2, 64, 0, 0, DATA_RANDOM},  {1, 1000, 4, 1, 64, 1, 0, DATA_RANDOM},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Grouped-query shapes (heads per KV head 1, 3, 4, 8, 16: more than a
 * split-KV block's 8 warps) and head sizes (not all multiples of 32: lanes
 * own partial dims), across a chunk edge. */
Test(cuda_attention, decode_gqa_and_head_dims) {
    CUDA_SKIP_WITHOUT_DEVICE();
    static const attn_case cases[] = {
        {1, 300, 4, 4, 128, 0, 0, DATA_RANDOM}, {1, 300, 8, 2, 64, 1, 0, DATA_RANDOM},
        {1, 300, 16, 2, 80, 0, 0, DATA_RANDOM}, {1, 260, 8, 1, 256, 1, 0, DATA_RANDOM},
        {1, 40, 6, 2, 96, 0, 0, DATA_RANDOM},   {1, 40, 16, 1, 40, 1, 0, DATA_RANDOM},
        {2, 30, 2, 1, 8, 0, 0, DATA_RANDOM},    {3, 258, 4, 2, 256, 0, 0, DATA_RANDOM},
        {1, 1000, 16, 2, 128, 1, 0, DATA_RANDOM}, /* a Llama-3-like group at a long context */
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Prompts of every length 1..70 from an empty cache, across the flash
 * kernel's query tiles (16 rows for head_dim <= 128, 8 for 256) and KV
 * tiles (32 positions; 16 for 256); then the tile edges after earlier
 * tokens, for the other head sizes. */
Test(cuda_attention, prefill_tile_edges) {
    CUDA_SKIP_WITHOUT_DEVICE();
    static const int edges[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 70};
    static const int head_dims[] = {256, 96, 40};
    attn_case cases[70 + sizeof edges / sizeof edges[0]];
    size_t n = 0;
    for (int n_tok = 1; n_tok <= 70; n_tok++) cases[n++] = (attn_case){n_tok, 0, 4, 2, 64, n_tok % 2, 0, DATA_RANDOM};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        cases[n++] = (attn_case){edges[i], 37, 2, 1, head_dims[i % 3], (int)(i % 2 == 0), 0, DATA_RANDOM};
    run_cases(cases, n);
}

/* Sliding windows on both kernels: shorter than a tile, longer than the
 * batch, one position (each token sees only itself). */
Test(cuda_attention, sliding_window) {
    CUDA_SKIP_WITHOUT_DEVICE();
    static const attn_case cases[] = {
        {1, 300, 8, 2, 64, 0, 4, DATA_RANDOM},  {1, 300, 8, 2, 64, 1, 100, DATA_RANDOM},
        {1, 99, 4, 2, 64, 0, 100, DATA_RANDOM}, {40, 50, 4, 2, 64, 1, 4, DATA_RANDOM},
        {40, 50, 4, 2, 64, 0, 100, DATA_RANDOM}, {20, 0, 4, 2, 128, 1, 1, DATA_RANDOM},
        {33, 5, 2, 2, 256, 0, 17, DATA_RANDOM},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Scores near +-1e4 (a naive exp overflows or underflows; computed exactly:
 * integer data), every score equal, one visible position. */
Test(cuda_attention, adversarial_scores) {
    CUDA_SKIP_WITHOUT_DEVICE();
    static const attn_case cases[] = {
        {1, 300, 4, 2, 64, 0, 0, DATA_HUGE_POS},   {1, 300, 4, 2, 64, 1, 0, DATA_HUGE_NEG},
        {20, 40, 4, 2, 64, 1, 0, DATA_HUGE_POS},   {20, 40, 4, 2, 64, 0, 0, DATA_HUGE_NEG},
        {1, 270, 4, 2, 64, 0, 0, DATA_ALL_EQUAL},  {20, 10, 4, 2, 64, 1, 0, DATA_ALL_EQUAL},
        {1, 0, 4, 2, 64, 1, 0, DATA_HUGE_POS},     {1, 0, 4, 1, 128, 0, 0, DATA_RANDOM},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* One visible position: the output is that V row exactly (weight
 * exp(0) = 1, sum 1), for the first token and for window 1. */
Test(cuda_attention, single_position_is_exact) {
    CUDA_SKIP_WITHOUT_DEVICE();
#ifdef QLM_HAVE_CUDA
    static const attn_case cases[] = {{1, 0, 4, 2, 80, 1, 0, DATA_RANDOM}, {17, 20, 4, 2, 64, 0, 1, DATA_RANDOM}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const attn_case *c = &cases[i];
        attn_data a;
        make_data(&a, c);
        float *got = malloc(a.q_n * sizeof(float));
        const int kv_dim = c->n_head_kv * c->head_dim, group = c->n_head / c->n_head_kv;
        for (int kernel = KERNEL_AUTO; kernel <= KERNEL_FLASH; kernel++) {
            char msg[256] = "";
            cr_assert_eq(qlm_cuda_test_attention_kernel(kernel, a.q, a.k_raw, a.v_raw, c->f16, c->n_tok, c->n_past,
                                                        a.n_ctx, c->n_head, c->n_head_kv, c->head_dim, a.scale,
                                                        c->window, got, msg, sizeof msg),
                         0, "%s", msg);
            int bad = 0;
            for (int t = 0; t < c->n_tok; t++)
                for (int h = 0; h < c->n_head; h++)
                    for (int d = 0; d < c->head_dim; d++) {
                        const float want = a.v[(size_t)(c->n_past + t) * kv_dim + (size_t)(h / group) * c->head_dim + d];
                        bad += got[((size_t)t * c->n_head + h) * c->head_dim + d] != want;
                    }
            cr_expect_eq(bad, 0, "%s: %d values differ from the one visible V row", kernel_name(kernel), bad);
        }
        free(got);
        free_data(&a);
    }
#endif
}

/* An n_past that would read past the cache (it arrives on the device, so
 * only the kernels can check it) makes every output NaN. */
Test(cuda_attention, device_n_past_out_of_range_gives_nan) {
    CUDA_SKIP_WITHOUT_DEVICE();
#ifdef QLM_HAVE_CUDA
    const attn_case c = {3, 0, 4, 2, 64, 0, 0, DATA_RANDOM};
    attn_data a;
    make_data(&a, &c);
    float *got = malloc(a.q_n * sizeof(float));
    const int bad_n_past[] = {a.n_ctx - 2, -1};
    for (int kernel = KERNEL_AUTO; kernel <= KERNEL_FLASH; kernel++)
        for (int i = 0; i < 2; i++) {
            char msg[256] = "";
            cr_assert_eq(qlm_cuda_test_attention_kernel(kernel, a.q, a.k_raw, a.v_raw, 0, c.n_tok, bad_n_past[i],
                                                        a.n_ctx, c.n_head, c.n_head_kv, c.head_dim, a.scale, 0, got,
                                                        msg, sizeof msg),
                         0, "%s", msg);
            int finite = 0;
            for (size_t j = 0; j < a.q_n; j++) finite += !isnan(got[j]);
            cr_expect_eq(finite, 0, "%s, n_past %d: %d outputs not NaN", kernel_name(kernel), bad_n_past[i], finite);
        }
    free(got);
    free_data(&a);
#endif
}

/* Unsupported shapes are refused before any launch. */
Test(cuda_attention, unsupported_shapes_refused) {
    CUDA_SKIP_WITHOUT_DEVICE();
#ifdef QLM_HAVE_CUDA
    static const float q[16 * 512];
    static const float kv[64 * 512];
    float out[16 * 512];
    char msg[256];
    /* n_head n_head_kv head_dim n_ctx n_tok window */
    static const int shapes[][6] = {
        {4, 2, 12, 8, 1, 0},  /* head_dim not a multiple of 8 */
        {4, 2, 264, 8, 1, 0}, /* head_dim above 256 */
        {6, 4, 64, 8, 1, 0},  /* heads not a multiple of KV heads */
        {4, 2, 64, 4, 5, 0},  /* more tokens than the cache holds */
        {4, 2, 64, 8, 1, -1}, /* negative window */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int *s = shapes[i];
        msg[0] = '\0';
        const int rc = qlm_cuda_test_attention(q, kv, kv, 0, s[4], 0, s[3], s[0], s[1], s[2], 1.0f, s[5], out, msg,
                                               sizeof msg);
        cr_expect_neq(rc, 0, "shape %zu accepted", i);
        cr_expect(strstr(msg, "qlm_cu_attention") != NULL, "shape %zu: refused elsewhere: %s", i, msg);
    }
#endif
}
