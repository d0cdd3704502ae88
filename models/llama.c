/* llama.c - the llama family (Llama 1/2/3, SmolLM, TinyLlama, ...):
 * RMSNorm, RoPE on Q/K (pairs interleaved: llama.cpp's converter permutes
 * Q/K rows so the GGUF layout is the "normal" one), grouped-query attention,
 * SwiGLU FFN, optional untied output head, optional Q/K/V biases and fused
 * QKV (as llama.cpp accepts for this family). Other families start from its
 * hyperparameters and weights (arch_llama_hparams, arch_llama_bind) and add
 * their own. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch.h"

static qlm_status llama_rope_scaling(qlm_model *m, qlm_errbuf *err) {
    qlm_hparams *hp = &m->hp;
    char key[128];
    const char *type = NULL;
    size_t len = 0;
    float factor = 0.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch->name);
    gguf_get_str(m->gguf, key, &type, &len);
    qlm_status st = arch_get_f32(m, "rope.scaling.factor", 0, 0.0f, &factor, err);
    if (st == QLM_OK && factor == 0.0f) /* older files: rope.scale_linear */
        st = arch_get_f32(m, "rope.scale_linear", 0, 0.0f, &factor, err);
    if (st != QLM_OK) return st;
    const int is_none = type && len == 4 && memcmp(type, "none", 4) == 0;
    const int is_linear = type && len == 6 && memcmp(type, "linear", 6) == 0;
    if (type && !is_none && !is_linear)
        return qlm_err(err, QLM_ERR_UNSUPPORTED, "%s: rope scaling type '%.*s' is not supported yet",
                       m->path, (int)len, type);
    hp->rope_scaling = QLM_ROPE_SCALING_NONE;
    hp->rope_freq_scale = 1.0f;
    if (factor > 0.0f && !is_none) {
        hp->rope_scaling = QLM_ROPE_SCALING_LINEAR;
        hp->rope_freq_scale = 1.0f / factor;
    }
    return QLM_OK;
}

qlm_status arch_llama_hparams(qlm_model *m, qlm_errbuf *err) {
    qlm_hparams *hp = &m->hp;
    qlm_status st;
    int32_t key_len = 0, val_len = 0;
    if ((st = arch_get_u32(m, "context_length", 0, 2048, &hp->n_ctx_train, err)) ||
        (st = arch_get_u32(m, "embedding_length", 1, 0, &hp->n_embd, err)) ||
        (st = arch_get_u32(m, "block_count", 1, 0, &hp->n_layer, err)) ||
        (st = arch_get_u32(m, "feed_forward_length", 1, 0, &hp->n_ff, err)) ||
        (st = arch_get_u32(m, "attention.head_count", 1, 0, &hp->n_head, err)) ||
        (st = arch_get_u32(m, "attention.head_count_kv", 0, (uint32_t)hp->n_head, &hp->n_head_kv, err)) ||
        (st = arch_get_u32(m, "attention.key_length", 0, 0, &key_len, err)) ||
        (st = arch_get_u32(m, "attention.value_length", 0, 0, &val_len, err)) ||
        (st = arch_get_f32(m, "attention.layer_norm_rms_epsilon", 0, 1e-5f, &hp->rms_eps, err)) ||
        (st = arch_get_f32(m, "rope.freq_base", 0, 10000.0f, &hp->rope_freq_base, err)))
        return st;
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_head <= 0 || hp->n_ff <= 0 || hp->n_head_kv <= 0 ||
        hp->n_head % hp->n_head_kv != 0)
        return qlm_err(err, QLM_ERR_FORMAT, "%s: inconsistent hyperparameters (n_embd %d, n_layer %d, "
                       "n_head %d, n_head_kv %d, n_ff %d)", m->path, hp->n_embd, hp->n_layer,
                       hp->n_head, hp->n_head_kv, hp->n_ff);
    hp->head_dim = key_len ? key_len : hp->n_embd / hp->n_head;
    if (val_len && val_len != hp->head_dim)
        return qlm_err(err, QLM_ERR_UNSUPPORTED, "%s: key length %d != value length %d", m->path,
                       hp->head_dim, val_len);
    if ((st = arch_get_u32(m, "rope.dimension_count", 0, (uint32_t)hp->head_dim, &hp->n_rot, err)))
        return st;
    if (hp->head_dim <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0 || hp->rope_freq_base <= 0.0f)
        return qlm_err(err, QLM_ERR_FORMAT, "%s: bad head/rope sizes (head_dim %d, n_rot %d, base %g)",
                       m->path, hp->head_dim, hp->n_rot, (double)hp->rope_freq_base);
    hp->rope_style = m->arch->rope_style;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    hp->ffn_act = QLM_FFN_SILU;
    hp->embd_scale = 1.0f;
    return llama_rope_scaling(m, err);
}

static qlm_status llama_bind_layer(qlm_model *m, int il, qlm_errbuf *err) {
    const qlm_hparams *hp = &m->hp;
    qlm_layer *l = &m->layers[il];
    const int64_t e = hp->n_embd, q = (int64_t)hp->n_head * hp->head_dim;
    qlm_status st;
    if ((st = arch_bind_blk(m, &l->attn_norm, il, "attn_norm.weight", e, 0, 0, err)) ||
        (st = arch_bind_qkv(m, il, err)) ||
        (st = arch_bind_blk(m, &l->wo, il, "attn_output.weight", q, e, 0, err)) ||
        (st = arch_bind_blk(m, &l->ffn_norm, il, "ffn_norm.weight", e, 0, 0, err)) ||
        (st = arch_bind_blk(m, &l->ffn_gate, il, "ffn_gate.weight", e, hp->n_ff, 0, err)) ||
        (st = arch_bind_blk(m, &l->ffn_up, il, "ffn_up.weight", e, hp->n_ff, 0, err)) ||
        (st = arch_bind_blk(m, &l->ffn_down, il, "ffn_down.weight", hp->n_ff, e, 0, err)))
        return st;
    return QLM_OK;
}

qlm_status arch_llama_bind_io(qlm_model *m, qlm_errbuf *err) {
    const qlm_hparams *hp = &m->hp;
    qlm_status st;
    if ((st = arch_bind(m, &m->tok_embd, "token_embd.weight", hp->n_embd, hp->n_vocab, 0, err)) ||
        (st = arch_bind(m, &m->output_norm, "output_norm.weight", hp->n_embd, 0, 0, err)) ||
        (st = arch_bind(m, &m->output, "output.weight", hp->n_embd, hp->n_vocab, 1, err)) ||
        (st = arch_bind(m, &m->rope_freqs, "rope_freqs.weight", hp->n_rot / 2, 0, 1, err)))
        return st;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    return QLM_OK;
}

qlm_status arch_llama_bind(qlm_model *m, qlm_errbuf *err) {
    qlm_status st = arch_llama_bind_io(m, err);
    for (int il = 0; il < m->hp.n_layer && st == QLM_OK; il++) st = llama_bind_layer(m, il, err);
    return st;
}

const qlm_arch qlm_arch_llama = {
    .name = "llama",
    .rope_style = QLM_ROPE_NORM,
    .load_hparams = arch_llama_hparams,
    .bind_weights = arch_llama_bind,
};
