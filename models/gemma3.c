/* gemma3.c - Gemma 3: the llama layout plus
 *  - token embeddings scaled by sqrt(n_embd),
 *  - RMSNorm of each Q and K head before RoPE (attn_q_norm, attn_k_norm),
 *  - RMSNorm of the attention and FFN outputs before the residual adds
 *    (post_attention_norm, post_ffw_norm),
 *  - a GELU (tanh) gated FFN,
 *  - local sliding-window layers with their own RoPE base (10000 unless the
 *    file says otherwise) interleaved with global ones: by default every 6th
 *    layer is global (layers 5, 11, 17, ...), as llama.cpp reads it,
 *  - NeoX-style RoPE (rotated halves) and optional final logit soft-capping.
 * The converter stores Gemma's norm weights as 1 + w, so the norms are plain
 * RMSNorms here. */
#include <math.h>
#include <stdio.h>

#include "arch.h"

/* Which layers slide: "sliding_window_pattern" is either a period n (layer
 * il slides unless il % n == n - 1; 0 = every layer slides) or one bool per
 * layer. */
static qlm_status gemma3_swa_layers(qlm_model *m, qlm_errbuf *err) {
    const int n_layer = m->hp.n_layer;
    char key[128];
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", m->arch->name);
    const gguf_value *v = gguf_find(m->gguf, key);
    if (v && v->type == GGUF_VTYPE_ARRAY) {
        if (v->len != (uint64_t)n_layer || !v->raw)
            return qlm_err(err, QLM_ERR_FORMAT, "%s: %s has %llu entries for %d layers", m->path, key,
                           (unsigned long long)v->len, n_layer);
        for (int il = 0; il < n_layer; il++) {
            int64_t flag = 0;
            if (v->elem_type == GGUF_VTYPE_BOOL)
                flag = v->raw[il] != 0;
            else if (!gguf_arr_i64(v, (uint64_t)il, &flag))
                return qlm_err(err, QLM_ERR_FORMAT, "%s: %s is not an array of flags", m->path, key);
            m->layers[il].swa = flag != 0;
        }
        return QLM_OK;
    }
    int32_t period = 6;
    qlm_status st = arch_get_u32(m, "attention.sliding_window_pattern", 0, 6, &period, err);
    if (st != QLM_OK) return st;
    for (int il = 0; il < n_layer; il++) m->layers[il].swa = period == 0 || il % period < period - 1;
    return QLM_OK;
}

static qlm_status gemma3_hparams(qlm_model *m, qlm_errbuf *err) {
    qlm_status st = arch_llama_hparams(m, err);
    if (st != QLM_OK) return st;
    qlm_hparams *hp = &m->hp;
    hp->ffn_act = QLM_FFN_GELU_TANH;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    /* Gemma's query scale: 1/sqrt(head_dim), except the 27B (62 layers),
     * which uses 1/sqrt(n_embd / n_head) (gemma_pytorch's config). */
    if (hp->n_layer == 62) hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    if ((st = arch_get_u32(m, "attention.sliding_window", 0, 0, &hp->n_swa, err)) ||
        (st = arch_get_f32(m, "rope.freq_base_swa", 0, 10000.0f, &hp->rope_freq_base_swa, err)) ||
        (st = arch_get_f32(m, "final_logit_softcapping", 0, 0.0f, &hp->logit_softcap, err)))
        return st;
    if (hp->rope_freq_base_swa <= 0.0f || hp->logit_softcap < 0.0f)
        return qlm_err(err, QLM_ERR_FORMAT, "%s: bad rope.freq_base_swa %g or final_logit_softcapping %g",
                       m->path, (double)hp->rope_freq_base_swa, (double)hp->logit_softcap);
    return QLM_OK;
}

static qlm_status gemma3_bind(qlm_model *m, qlm_errbuf *err) {
    qlm_status st = arch_llama_bind(m, err);
    if (st != QLM_OK) return st;
    const int64_t e = m->hp.n_embd;
    for (int il = 0; il < m->hp.n_layer; il++) {
        qlm_layer *l = &m->layers[il];
        if ((st = arch_bind_qk_norms(m, il, err)) ||
            (st = arch_bind_blk(m, &l->attn_post_norm, il, "post_attention_norm.weight", e, 0, 0, err)) ||
            (st = arch_bind_blk(m, &l->ffn_post_norm, il, "post_ffw_norm.weight", e, 0, 0, err)))
            return st;
    }
    if (m->hp.n_swa > 0) return gemma3_swa_layers(m, err);
    return QLM_OK;
}

const qlm_arch qlm_arch_gemma3 = {
    .name = "gemma3",
    .rope_style = QLM_ROPE_NEOX,
    .load_hparams = gemma3_hparams,
    .bind_weights = gemma3_bind,
};
