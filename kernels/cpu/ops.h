/* ops.h - the backend ops table: everything the forward pass computes goes
 * through one of these function pointers, so the forward pass never knows
 * which ISA (or, later, which device) runs it. Filled once at startup. */
#ifndef QLM_OPS_H
#define QLM_OPS_H

#include <stdint.h>

#include "tensor.h"

typedef enum qlm_rope_style {
    QLM_ROPE_NORM = 0, /* rotate adjacent pairs (x[2i], x[2i+1]): llama GGUF layout */
    QLM_ROPE_NEOX = 2  /* rotate halves (x[i], x[i + n_rot/2]): NeoX / HF layout */
} qlm_rope_style;

typedef struct qlm_ops {
    const char *name; /* "ref", "avx2", ... */

    /* Weight types this table multiplies fastest in the R16 layout
     * (kernels/cpu/pack.h), bit 1 << type: the loader repacks those. Every
     * table computes both layouts; this only says which one to load. */
    uint64_t r16_types;

    /* y (n_tok, w.ne[1]) = x (n_tok, w.ne[0]) @ W^T. scratch holds the
     * activations converted to W's vec_dot_type (packed weights: act8 rows,
     * or padded rows for F32/F16/BF16; pack.h): at least
     * qlm_matmul_scratch_size(w.type, w.ne[0], n_tok) bytes. */
    void (*matmul)(const qlm_tensor *w, const float *x, int64_t n_tok, float *y, void *scratch,
                   int n_threads);

    /* The same for n weights sharing the input x (y[i] = x @ w[i]^T), in
     * one pass over the threads: QKV, gate/up. scratch as for the largest. */
    void (*matmul_n)(const qlm_tensor *const *w, float *const *y, int n, const float *x, int64_t n_tok,
                     void *scratch, int n_threads);

    /* out (n) = x (n) / rms(x) * w (n) */
    void (*rmsnorm)(float *out, const float *x, const float *w, int64_t n, float eps);

    /* Rotates n_head heads of head_dim values at x in place by position pos:
     * the first n_rot dims of each head, pair angle pos * theta[i]. */
    void (*rope)(float *x, int n_head, int head_dim, int n_rot, const float *theta, float pos,
                 qlm_rope_style style);

    /* One query head against n_kv cached positions:
     * out (hd) = softmax(scale * K q) V. k, v point at this head's slice of
     * position 0; consecutive positions are `stride` elements apart; kv_type
     * is F32 or F16; scratch holds n_kv floats. */
    void (*attention_head)(float *out, const float *q, const void *k, const void *v, qlm_type kv_type,
                           int64_t n_kv, int64_t stride, int head_dim, float scale, float *scratch);

    /* n_heads query heads (q, out: n_heads * head_dim, consecutive) that
     * share one K/V head: each as attention_head, K and V read once for all.
     * scratch holds n_heads * n_kv floats. */
    void (*attention_heads)(float *out, const float *q, int n_heads, const void *k, const void *v,
                            qlm_type kv_type, int64_t n_kv, int64_t stride, int head_dim, float scale,
                            float *scratch);

    /* h (n) = silu(gate (n)) * up (n) */
    void (*swiglu)(float *h, const float *gate, const float *up, int64_t n);
    /* h (n) = gelu_tanh(gate (n)) * up (n) */
    void (*geglu)(float *h, const float *gate, const float *up, int64_t n);

    /* dst (n halves) = src rounded to F16 (nearest even), as qlm_fp32_to_fp16 */
    void (*to_f16)(uint16_t *dst, const float *src, int64_t n);
    /* x (n) rounded to F16 and back, in place */
    void (*round_f16)(float *x, int64_t n);
} qlm_ops;

/* The scalar reference table (kernels/cpu/ref.c). */
extern const qlm_ops qlm_ops_ref;

/* Picks the best table this CPU runs (amx > avx512 > avx2 > ref; neon-dot >
 * neon > ref on AArch64); QLM_CPU=ref|avx2|avx512|amx|neon|neon-dot forces
 * one. */
const qlm_ops *qlm_ops_select(void);

/* The same, and *note says why QLM_CPU was not honoured (an unknown name or
 * kernels this CPU lacks: the best available is used instead); NULL if it was
 * honoured or is unset. */
const qlm_ops *qlm_ops_select_note(const char **note);

/* Every table this machine can run, reference first (tests and bench walk
 * them all); returns how many were written (at most cap). */
int qlm_ops_list(const qlm_ops **tables, int cap);

size_t qlm_matmul_scratch_size(qlm_type wtype, int64_t n_in, int64_t n_tok);

#endif
