/* phi3.c - Phi-3 (4k context) and Phi-4: the llama computation with
 *  - Q, K and V in one fused attn_qkv matrix (rows: Q, then K, then V),
 *  - gate and up in one ffn_up matrix of 2 n_ff rows (gate first: llama.cpp
 *    applies its SwiGLU to the halves of one product, HF chunks gate_up_proj
 *    in that order),
 *  - NeoX-style RoPE, possibly on part of each head (rope.dimension_count
 *    < head_dim: the converter writes partial_rotary_factor that way).
 * The fused matrices are bound as views of their row ranges, so the forward
 * pass sees ordinary wq/wk/wv and ffn_gate/ffn_up (and the R16 repack packs
 * each view in place on its own).
 *
 * The file's attention.sliding_window is ignored, as llama.cpp does for this
 * architecture (its loader disables Phi-3's SWA: the converter does not say
 * which layers slide). LongRoPE files (128k-context Phi-3/3.5, Phi-4-mini:
 * rope_factors_long/short tensors and rope.scaling.attn_factor) are refused
 * rather than run without their scaling. */
#include <stdio.h>

#include "arch.h"

static qlm_status phi3_hparams(qlm_model *m, qlm_errbuf *err) {
    qlm_status st = arch_llama_hparams(m, err);
    if (st != QLM_OK) return st;
    if (gguf_find_tensor(m->gguf, "rope_factors_long.weight"))
        return qlm_err(err, QLM_ERR_UNSUPPORTED, "%s: phi3 with LongRoPE factors (rope_factors_long.weight, "
                       "the 128k-context variants) is not supported yet", m->path);
    int32_t n_swa = 0;
    if ((st = arch_get_u32(m, "attention.sliding_window", 0, 0, &n_swa, err)) != QLM_OK) return st;
    if (n_swa > 0)
        qlm_log(&m->log, QLM_LOG_INFO, "%s: phi3 sliding window %d ignored (full attention, as llama.cpp)",
                m->path, n_swa);
    return QLM_OK;
}

static qlm_status phi3_bind_layer(qlm_model *m, int il, qlm_errbuf *err) {
    const qlm_hparams *hp = &m->hp;
    qlm_layer *l = &m->layers[il];
    const int64_t e = hp->n_embd, q = (int64_t)hp->n_head * hp->head_dim, ff = hp->n_ff;
    qlm_tensor gate_up;
    qlm_status st;
    if ((st = arch_bind_blk(m, &l->attn_norm, il, "attn_norm.weight", e, 0, 0, err)) ||
        (st = arch_bind_qkv(m, il, err)) ||
        (st = arch_bind_blk(m, &l->wo, il, "attn_output.weight", q, e, 0, err)) ||
        (st = arch_bind_blk(m, &l->ffn_norm, il, "ffn_norm.weight", e, 0, 0, err)) ||
        (st = arch_bind_blk(m, &gate_up, il, "ffn_up.weight", e, 2 * ff, 0, err)) ||
        (st = arch_bind_blk(m, &l->ffn_down, il, "ffn_down.weight", ff, e, 0, err)))
        return st;
    l->ffn_gate = arch_view_rows(&gate_up, 0, ff);
    l->ffn_up = arch_view_rows(&gate_up, ff, ff);
    return QLM_OK;
}

static qlm_status phi3_bind(qlm_model *m, qlm_errbuf *err) {
    qlm_status st = arch_llama_bind_io(m, err);
    for (int il = 0; il < m->hp.n_layer && st == QLM_OK; il++) st = phi3_bind_layer(m, il, err);
    return st;
}

const qlm_arch qlm_arch_phi3 = {
    .name = "phi3",
    .rope_style = QLM_ROPE_NEOX,
    .load_hparams = phi3_hparams,
    .bind_weights = phi3_bind,
};
