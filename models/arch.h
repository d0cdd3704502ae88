/* arch.h - the architecture table: what differs between model families.
 * Adding an architecture = one file in models/ plus one row in arch.c. */
#ifndef QLM_ARCH_H
#define QLM_ARCH_H

#include "model.h"

typedef struct qlm_arch {
    const char *name;          /* general.architecture */
    qlm_rope_style rope_style; /* how the file lays out rotated pairs */
    /* Reads hyperparameters from "<name>.*" keys into m->hp. */
    qlm_status (*load_hparams)(qlm_model *m, qlm_errbuf *err);
    /* Binds m->tok_embd, m->layers[...] etc. to the file's tensors. */
    qlm_status (*bind_weights)(qlm_model *m, qlm_errbuf *err);
} qlm_arch;

const qlm_arch *qlm_arch_find(const char *name);
/* "llama, ..." for error messages. */
const char *qlm_arch_list(void);

/* Shared helpers for arch files (models/common.c). */
qlm_status arch_get_u32(qlm_model *m, const char *suffix, int required, uint32_t def, int32_t *out,
                        qlm_errbuf *err);
qlm_status arch_get_f32(qlm_model *m, const char *suffix, int required, float def, float *out,
                        qlm_errbuf *err);
/* Binds tensor `name` checking its shape (ne0, ne1; ne1 = 0 for a vector).
 * optional: absent is fine (t->data stays NULL). */
qlm_status arch_bind(qlm_model *m, qlm_tensor *t, const char *name, int64_t ne0, int64_t ne1,
                     int optional, qlm_errbuf *err);

/* arch_bind for "blk.<il>.<suffix>", e.g. suffix "attn_q.weight". */
qlm_status arch_bind_blk(qlm_model *m, qlm_tensor *t, int il, const char *suffix, int64_t ne0, int64_t ne1,
                         int optional, qlm_errbuf *err);
/* Parts of a fused tensor: rows [first, first + n) of matrix t, or
 * elements [first, first + n) of F32 vector t. */
qlm_tensor arch_view_rows(const qlm_tensor *t, int64_t first, int64_t n);
qlm_tensor arch_view_elems(const qlm_tensor *t, int64_t first, int64_t n);
/* Binds layer il's wq, wk, wv and their optional biases bq, bk, bv: from
 * attn_q/k/v, or from one fused attn_qkv (and attn_qkv.bias) split into
 * views. Every family accepts both, as llama.cpp does. */
qlm_status arch_bind_qkv(qlm_model *m, int il, qlm_errbuf *err);
/* Binds layer il's per-head RMSNorm weights attn_q_norm, attn_k_norm
 * (head_dim each), required: qwen3, gemma3. */
qlm_status arch_bind_qk_norms(qlm_model *m, int il, qlm_errbuf *err);

/* The llama family's hyperparameters and weights, the base other
 * architectures extend (models/llama.c). */
qlm_status arch_llama_hparams(qlm_model *m, qlm_errbuf *err);
qlm_status arch_llama_bind(qlm_model *m, qlm_errbuf *err);
/* Its tensors outside the layers: token_embd, output_norm, output (tied to
 * token_embd when absent), rope_freqs. */
qlm_status arch_llama_bind_io(qlm_model *m, qlm_errbuf *err);

#endif
