/* matmul.c - the matmul driver shared by every CPU kernel table. Plain C:
 * the ISA files supply only per-type dot products and activation quantizers
 * (qlm_cpu_kernels), so threading and scratch layout live in one place. */
#include "kernels.h"

size_t qlm_matmul_scratch_size(qlm_type wtype, int64_t n_in, int64_t n_tok) {
    const qlm_type_traits *t = qlm_type_traits_get(wtype);
    if (!t || t->vec_dot_type == QLM_TYPE_F32) return 0; /* F32 activations used as they are */
    return qlm_row_size(t->vec_dot_type, n_in) * (size_t)n_tok;
}

/* Rows r0 .. min(r0 + 4, n_out) of y for every token. */
static void matmul_rows(qlm_vec_dot_fn dot, qlm_vec_dot4_fn dot4, const qlm_tensor *w, int64_t r0,
                        int64_t n_out, const char *act, size_t act_row, int64_t n_tok, float *y) {
    const int64_t n_in = w->ne[0];
    const char *wr = (const char *)w->data + r0 * w->row_bytes;
    if (dot4 && r0 + 4 <= n_out) {
        for (int64_t i = 0; i < n_tok; i++)
            dot4(n_in, &y[i * n_out + r0], wr, w->row_bytes, act + i * act_row);
        return;
    }
    for (int64_t r = r0; r < n_out && r < r0 + 4; r++, wr += w->row_bytes)
        for (int64_t i = 0; i < n_tok; i++)
            dot(n_in, &y[i * n_out + r], wr, act + i * act_row);
}

/* Activations are converted once per matmul (not per row) to the type the
 * weight's dot product wants: Q8_0 for Q4_0/Q8_0, Q8_1 for Q4_1 (ggml's
 * vec_dot_type convention, which keeps our numerics close to llama.cpp's).
 * One parallel region does both steps: the conversion of token rows, a
 * barrier, then the weight rows; rows outer so each weight row is read once
 * and reused for every token. */
void qlm_cpu_matmul(const qlm_cpu_kernels *k, const qlm_tensor *w, const float *x, int64_t n_tok, float *y,
                    void *scratch, int n_threads) {
    const qlm_type_traits *t = qlm_type_traits_get(w->type);
    const int64_t n_in = w->ne[0], n_out = qlm_tensor_rows(w);
    const qlm_vec_dot_fn dot = k->dot[w->type] ? k->dot[w->type] : t->vec_dot;
    const qlm_vec_dot4_fn dot4 = k->dot[w->type] ? k->dot4[w->type] : NULL; /* a pair, never mixed */
    const int convert = t->vec_dot_type != QLM_TYPE_F32;
    qlm_quantize_fn quantize = NULL;
    size_t act_row = (size_t)n_in * sizeof(float);
    if (convert) {
        quantize = k->quantize[t->vec_dot_type] ? k->quantize[t->vec_dot_type]
                                                : qlm_type_traits_get(t->vec_dot_type)->from_float;
        act_row = qlm_row_size(t->vec_dot_type, n_in);
    }
    const char *act = convert ? (const char *)scratch : (const char *)x;
#pragma omp parallel num_threads(n_threads)
    {
        if (convert) {
#pragma omp for schedule(static)
            for (int64_t i = 0; i < n_tok; i++)
                quantize(x + i * n_in, (char *)scratch + i * act_row, n_in);
        }
        /* groups of 4 rows, fixed by index: a row is blocked or not whatever
         * the thread count, so threads never change a result */
#pragma omp for schedule(static)
        for (int64_t g = 0; g < (n_out + 3) / 4; g++)
            matmul_rows(dot, dot4, w, 4 * g, n_out, act, act_row, n_tok, y);
    }
}
