/* qwen3.c - Qwen3 (dense): the llama layout with NeoX-style RoPE, no QKV
 * biases, and an RMSNorm of each Q and K head before RoPE (attn_q_norm,
 * attn_k_norm, as in Gemma 3). The head size comes from
 * attention.key_length and often differs from n_embd / n_head (Qwen3-0.6B:
 * 1024 wide, 16 heads of 128). */
#include "arch.h"

static qlm_status qwen3_bind(qlm_model *m, qlm_errbuf *err) {
    qlm_status st = arch_llama_bind(m, err);
    for (int il = 0; il < m->hp.n_layer && st == QLM_OK; il++) st = arch_bind_qk_norms(m, il, err);
    return st;
}

const qlm_arch qlm_arch_qwen3 = {
    .name = "qwen3",
    .rope_style = QLM_ROPE_NEOX,
    .load_hparams = arch_llama_hparams,
    .bind_weights = qwen3_bind,
};
