/* matmul.c - the matmul driver shared by every CPU kernel table. Plain C:
 * the ISA files supply only per-type kernels (qlm_cpu_kernels), so threading
 * and scratch layout live in one place. */
#include <string.h>

#include "kernels.h"

size_t qlm_matmul_scratch_size(qlm_type wtype, int64_t n_in, int64_t n_tok) {
    const qlm_type_traits *t = qlm_type_traits_get(wtype);
    if (!t) return 0;
    /* row-major F32 activations are used as they are */
    size_t row = t->vec_dot_type == QLM_TYPE_F32 ? 0 : qlm_row_size(t->vec_dot_type, n_in);
    const int packs = qlm_pack_supported(wtype, n_in, QLM_PACK_ROWS);
    if (packs && qlm_pack_reads_act8(wtype) && qlm_act8_row_size(n_in) > row) row = qlm_act8_row_size(n_in);
    if (packs && qlm_pack_is_float(wtype)) row = qlm_pack_float_act_row(wtype, n_in); /* F32 copied too */
    return row * (size_t)n_tok;
}

/* F32 activation rows copied as they are (into the padded rows of packed F32/F16). */
static void copy_f32(const float *x, void *dst, int64_t n) { memcpy(dst, x, (size_t)n * sizeof *x); }

/* What one call computes: the weights' common type/layout, the activation
 * conversion they share, and the kernels that read them. */
typedef struct matmul_plan {
    int packed;                /* R16 layout */
    size_t act_row;            /* bytes per converted token row */
    qlm_quantize_fn quantize;  /* NULL: F32 activations are used as they are */
    qlm_vec_dot_fn dot;        /* row-major kernels */
    qlm_vec_dot4_fn dot4;
    qlm_gemm4rows_fn gemm4x2, gemm4x4;
    qlm_gemm_r16_fn gemm;      /* packed kernel */
} matmul_plan;

/* The row-major kernels of w's type (single-token calls may have their own). */
static void row_kernels(const qlm_cpu_kernels *k, const qlm_tensor *w, int64_t n_tok, matmul_plan *p) {
    const int have = k->dot[w->type] != NULL;
    p->dot = have ? k->dot[w->type] : qlm_type_traits_get(w->type)->vec_dot;
    p->dot4 = have ? k->dot4[w->type] : NULL; /* a pair, never mixed */
    p->gemm4x2 = have ? k->gemm4x2[w->type] : NULL;
    p->gemm4x4 = p->gemm4x2 ? k->gemm4x4[w->type] : NULL; /* quads only with pairs for the rest */
    if (n_tok == 1 && k->dot_decode[w->type]) {
        p->dot = k->dot_decode[w->type];
        p->dot4 = NULL;
        p->gemm4x2 = p->gemm4x4 = NULL;
    }
}

/* The packed kernel of w's type, or its scalar reference (pack.c). */
static qlm_gemm_r16_fn packed_kernel(const qlm_cpu_kernels *k, qlm_type type) {
    static const qlm_gemm_r16_fn refs[QLM_TYPE_COUNT] = {
        [QLM_TYPE_Q4_0] = qlm_gemm_r16_q4_0_ref,     [QLM_TYPE_Q4_1] = qlm_gemm_r16_q4_1_ref,
        [QLM_TYPE_Q8_0] = qlm_gemm_r16_q8_0_ref,     [QLM_TYPE_Q5_0] = qlm_gemm_r16_q5_0_ref,
        [QLM_TYPE_IQ4_NL] = qlm_gemm_r16_iq4_nl_ref, [QLM_TYPE_MXFP4] = qlm_gemm_r16_mxfp4_ref,
        [QLM_TYPE_Q4_K] = qlm_gemm_r16_q4_k_ref,     [QLM_TYPE_Q5_K] = qlm_gemm_r16_q5_k_ref,
        [QLM_TYPE_IQ4_XS] = qlm_gemm_r16_iq4_xs_ref, [QLM_TYPE_Q6_K] = qlm_gemm_r16_q6_k_ref,
        [QLM_TYPE_Q5_1] = qlm_gemm_r16_q5_1_ref,     [QLM_TYPE_Q2_K] = qlm_gemm_r16_q2_k_ref,
        [QLM_TYPE_Q3_K] = qlm_gemm_r16_q3_k_ref,     [QLM_TYPE_F16] = qlm_gemm_r16_f16_ref,
        [QLM_TYPE_BF16] = qlm_gemm_r16_bf16_ref,     [QLM_TYPE_F32] = qlm_gemm_r16_f32_ref,
        [QLM_TYPE_TQ2_0] = qlm_gemm_r16_tq2_0_ref};
    return k->gemm_r16[type] ? k->gemm_r16[type] : refs[type];
}

static matmul_plan plan_for(const qlm_cpu_kernels *k, const qlm_tensor *w, int64_t n_tok) {
    const qlm_type_traits *t = qlm_type_traits_get(w->type);
    const int64_t n_in = w->ne[0];
    matmul_plan p = {.packed = w->layout == QLM_LAYOUT_R16, .act_row = (size_t)n_in * sizeof(float)};
    if (p.packed) p.gemm = packed_kernel(k, w->type);
    else row_kernels(k, w, n_tok, &p);
    /* packed kernels read act8 rows in place of Q8_0/Q8_1 ones; the others
     * what their row kernels read (K-quants: Q8_K, F32/F16: F32, BF16: BF16) */
    if (p.packed && qlm_pack_reads_act8(w->type)) {
        p.quantize = k->quantize_act8 ? k->quantize_act8 : qlm_act8_quantize_ref;
        p.act_row = qlm_act8_row_size(n_in);
    } else if (t->vec_dot_type != QLM_TYPE_F32) {
        p.quantize = k->quantize[t->vec_dot_type] ? k->quantize[t->vec_dot_type]
                                                  : qlm_type_traits_get(t->vec_dot_type)->from_float;
        p.act_row = qlm_row_size(t->vec_dot_type, n_in);
    }
    if (p.packed && qlm_pack_is_float(w->type)) { /* in rows padded apart in L1 (pack.h); F32 copied */
        if (!p.quantize) p.quantize = copy_f32;
        p.act_row = qlm_pack_float_act_row(w->type, n_in);
    }
    return p;
}

/* Rows per work unit: a packed group, or 4 row-major rows (dot4). */
static int64_t unit_rows(const matmul_plan *p) { return p->packed ? QLM_PACK_ROWS : 4; }
static int64_t n_units(const matmul_plan *p, const qlm_tensor *w) {
    return (qlm_tensor_rows(w) + unit_rows(p) - 1) / unit_rows(p);
}

/* Rows r0 .. min(r0 + 4, n_out) of y for every token. */
static void rows4(const matmul_plan *p, const qlm_tensor *w, int64_t r0, const char *act, int64_t n_tok,
                  float *y) {
    const int64_t n_in = w->ne[0], n_out = qlm_tensor_rows(w);
    const char *wr = (const char *)w->data + r0 * w->row_bytes;
    int64_t i0 = 0; /* tokens done in quads, then pairs */
    if (p->gemm4x4 && r0 + 4 <= n_out)
        for (; i0 + 4 <= n_tok; i0 += 4)
            p->gemm4x4(n_in, &y[i0 * n_out + r0], n_out, wr, w->row_bytes, act + i0 * p->act_row, p->act_row);
    if (p->gemm4x2 && r0 + 4 <= n_out)
        for (; i0 + 2 <= n_tok; i0 += 2)
            p->gemm4x2(n_in, &y[i0 * n_out + r0], n_out, wr, w->row_bytes, act + i0 * p->act_row, p->act_row);
    act += i0 * p->act_row;
    y += i0 * n_out;
    n_tok -= i0;
    if (p->dot4 && r0 + 4 <= n_out) {
        for (int64_t i = 0; i < n_tok; i++)
            p->dot4(n_in, &y[i * n_out + r0], wr, w->row_bytes, act + i * p->act_row);
        return;
    }
    for (int64_t r = r0; r < n_out && r < r0 + 4; r++, wr += w->row_bytes)
        for (int64_t i = 0; i < n_tok; i++)
            p->dot(n_in, &y[i * n_out + r], wr, act + i * p->act_row);
}

/* Unit u for tokens [t0, t1): y and act point at token 0. */
static void run_unit(const matmul_plan *p, const qlm_tensor *w, int64_t u, const char *act, int64_t t0, int64_t t1,
                     float *y) {
    const int64_t n_out = qlm_tensor_rows(w);
    act += t0 * p->act_row;
    y += t0 * n_out;
    if (!p->packed) {
        rows4(p, w, 4 * u, act, t1 - t0, y);
        return;
    }
    const int64_t nb = qlm_pack_blocks(w->type, w->ne[0]);
    const char *grp = (const char *)w->data + (size_t)u * QLM_PACK_ROWS * w->row_bytes;
    p->gemm(grp, nb, act, p->act_row, t1 - t0, y + u * QLM_PACK_ROWS, n_out);
}

/* Unit u counted across the weights w[0], w[1], ... (matmul_n). */
static void run_nth_unit(const matmul_plan *p, const qlm_tensor *const *w, int64_t u, const char *act, int64_t t0,
                         int64_t t1, float *const *y) {
    int i = 0;
    while (u >= n_units(p, w[i])) u -= n_units(p, w[i++]);
    run_unit(p, w[i], u, act, t0, t1, y[i]);
}

/* Prompt batches are done in chunks of tokens whose converted activations
 * stay in a core's L2 (256 rows of 5632 int8 values and scales: ~1.6 MiB of
 * 2) while every weight unit passes over them; each weight is then read
 * n_tok / 256 times instead of the activations n_units times, and the
 * K-quant panels (avx512_r16_kquants*.c) decode a weight once per chunk.
 * 256 against 128: pp512 Q8_0 +10%, Q5_K +13%, Q4_0 +4%, F16 +4% (512: no
 * further gain), on Emerald Rapids; on Zen 5, whose 1 MiB L2 holds only a
 * 128-token chunk, 256 still won (Q5_K +2%, Q4_0 +3%, Q8_0 +2%). */
#define TOKEN_CHUNK 256

static int same_kind(const qlm_tensor *a, const qlm_tensor *b) {
    return a->type == b->type && a->layout == b->layout && a->ne[0] == b->ne[0];
}

/* Activations are converted once (not per row, and once for all n weights)
 * to what the kernels read: act8 rows for packed weights, else the weight's
 * vec_dot_type (Q8_0 for Q4_0/Q8_0, Q8_1 for Q4_1: ggml's convention, which
 * keeps our numerics close to llama.cpp's). One parallel region does both
 * steps: the conversion of token rows, a barrier, then the work units of all
 * weights, each unit's rows for every token (a weight row is read once).
 * Units are fixed by index, so the thread count never changes a result. */
void qlm_cpu_matmul_n(const qlm_cpu_kernels *k, const qlm_tensor *const *w, float *const *y, int n,
                      const float *x, int64_t n_tok, void *scratch, int n_threads) {
    for (int i = 1; i < n; i++)
        if (!same_kind(w[0], w[i])) { /* nothing shared: one call each */
            for (int j = 0; j < n; j++) qlm_cpu_matmul_n(k, &w[j], &y[j], 1, x, n_tok, scratch, n_threads);
            return;
        }
    const matmul_plan p = plan_for(k, w[0], n_tok);
    const int64_t n_in = w[0]->ne[0];
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += n_units(&p, w[i]);
    const char *act = p.quantize ? (const char *)scratch : (const char *)x;
#pragma omp parallel num_threads(n_threads)
    {
        if (p.quantize) {
#pragma omp for schedule(static)
            for (int64_t i = 0; i < n_tok; i++) p.quantize(x + i * n_in, (char *)scratch + i * p.act_row, n_in);
        }
        if (n_tok <= TOKEN_CHUNK) {
            /* one chunk (decoding, short batches): units go to threads as they
             * come free, halving chunks (guided), so a core slowed by another
             * process does not keep the other waiting at the end */
#pragma omp for schedule(guided) nowait
            for (int64_t u = 0; u < total; u++) run_nth_unit(&p, w, u, act, 0, n_tok, y);
        } else {
            /* nowait: units write disjoint outputs, so a thread starts its share
             * of the next chunk without waiting for the other threads; static,
             * so each thread keeps its units (and their weights in its cache)
             * from chunk to chunk. The last chunk goes guided: a thread that
             * got ahead (the other core was interrupted, or shared) takes more
             * of it instead of waiting at the end. */
            int64_t t0 = 0;
            for (; t0 + TOKEN_CHUNK < n_tok; t0 += TOKEN_CHUNK) {
#pragma omp for schedule(static) nowait
                for (int64_t u = 0; u < total; u++) run_nth_unit(&p, w, u, act, t0, t0 + TOKEN_CHUNK, y);
            }
#pragma omp for schedule(guided) nowait
            for (int64_t u = 0; u < total; u++) run_nth_unit(&p, w, u, act, t0, n_tok, y);
        }
    }
}

void qlm_cpu_matmul(const qlm_cpu_kernels *k, const qlm_tensor *w, const float *x, int64_t n_tok, float *y,
                    void *scratch, int n_threads) {
    qlm_cpu_matmul_n(k, &w, &y, 1, x, n_tok, scratch, n_threads);
}
