/* qwen2.c - Qwen2 / Qwen2.5: the llama layout with biases on the Q, K and V
 * projections (attn_q/k/v.bias, which the shared binder picks up when
 * present and the forward pass adds before RoPE) and NeoX-style RoPE
 * (rotated halves: the converter does not permute Q/K rows for Qwen).
 * Hyperparameters are the llama keys under "qwen2.". */
#include "arch.h"

const qlm_arch qlm_arch_qwen2 = {
    .name = "qwen2",
    .rope_style = QLM_ROPE_NEOX,
    .load_hparams = arch_llama_hparams,
    .bind_weights = arch_llama_bind,
};
