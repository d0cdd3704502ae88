/* model.h - a loaded model: hyperparameters, named weights, tokenizer. */
#ifndef QLM_MODEL_H
#define QLM_MODEL_H

#include "errbuf.h"
#include "gguf.h"
#include "log.h"
#include "ops.h"
#include "qlm.h"
#include "tensor.h"

typedef enum qlm_rope_scaling { QLM_ROPE_SCALING_NONE, QLM_ROPE_SCALING_LINEAR } qlm_rope_scaling;

/* The FFN's gate activation: SiLU (llama, qwen, mistral) or GELU with the
 * tanh approximation (gemma). */
typedef enum qlm_ffn_act { QLM_FFN_SILU, QLM_FFN_GELU_TANH } qlm_ffn_act;

typedef struct qlm_hparams {
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;  /* per-head size of Q/K/V */
    int32_t n_rot;     /* dims rotated by RoPE (<= head_dim) */
    int32_t n_ff;
    float rms_eps;
    float rope_freq_base;
    float rope_freq_scale; /* 1 / linear scaling factor */
    qlm_rope_scaling rope_scaling;
    qlm_rope_style rope_style;
    float attn_scale;      /* multiplies q.k (usually 1 / sqrt(head_dim)) */
    qlm_ffn_act ffn_act;
    float embd_scale;      /* token embeddings are multiplied by it (gemma: sqrt(n_embd)); 1 = none */
    float logit_softcap;   /* logits = c * tanh(logits / c); 0 = none */
    /* Sliding-window layers (qlm_layer.swa) attend to the n_swa most recent
     * positions (the query's own included) and rotate by their own RoPE base. */
    int32_t n_swa;
    float rope_freq_base_swa;
} qlm_hparams;

/* A fused tensor in the file (phi3's attn_qkv, its gate+up ffn_up) is bound
 * as views of its contiguous row ranges (models/common.c: arch_view_rows). */
typedef struct qlm_layer {
    qlm_tensor attn_norm;              /* (n_embd) */
    qlm_tensor wq, wk, wv;             /* (n_embd) -> (n_head*hd), (n_head_kv*hd) x2 */
    qlm_tensor wo;                     /* (n_head*hd) -> (n_embd) */
    qlm_tensor ffn_norm;               /* (n_embd) */
    qlm_tensor ffn_gate, ffn_up;       /* (n_embd) -> (n_ff) */
    qlm_tensor ffn_down;               /* (n_ff) -> (n_embd) */
    /* optional, per architecture (data NULL when absent) */
    qlm_tensor bq, bk, bv;             /* (n_head*hd), (n_head_kv*hd) x2: Q/K/V biases (qwen2) */
    qlm_tensor attn_q_norm, attn_k_norm; /* (head_dim): RMSNorm of each Q/K head before RoPE */
    qlm_tensor attn_post_norm;         /* (n_embd): RMSNorm of the attention output */
    qlm_tensor ffn_post_norm;          /* (n_embd): RMSNorm of the FFN output */
    int swa;                           /* a sliding-window layer (hparams.n_swa) */
} qlm_layer;

/* A weight buffer the loader allocated, freed with the model: a TQ1_0
 * matmul weight transcoded to TQ2_0 (repack.c). name is the file tensor's
 * (each view of a fused tensor has its own buffer); bytes what the buffer
 * holds, file_bytes what those rows take in the file. */
typedef struct qlm_owned_weight {
    void *data;
    const char *name;
    qlm_type type;
    size_t bytes, file_bytes;
} qlm_owned_weight;

struct qlm_model {
    qlm_errbuf err;
    qlm_logger log;
    char *path;
    gguf_ctx *gguf;
    qlm_tokenizer *tok;
    const struct qlm_arch *arch;
    qlm_hparams hp;
    qlm_tensor tok_embd;    /* (n_vocab rows of n_embd) */
    qlm_tensor output_norm; /* (n_embd) */
    qlm_tensor output;      /* (n_embd) -> (n_vocab); tok_embd when tied */
    qlm_tensor rope_freqs;  /* optional per-dim frequency divisors (Llama 3 scaling) */
    qlm_layer *layers;      /* n_layer */
    uint64_t n_params, n_weight_bytes;
    int n_threads;
    int vocab_only;
    char **meta_strs;       /* per kv: NUL-terminated copy of string values, else NULL */
    const char *chat_template; /* into meta_strs, or NULL */
    const char *name;          /* into meta_strs, or NULL */
    const qlm_ops *ops;
    qlm_owned_weight *owned; /* n_owned, capacity cap_owned */
    struct qlm_cuda_model *cuda; /* the layers on the GPU (kernels/cuda/cuda.h); NULL: all on the CPU */
    int n_owned, cap_owned;
};

/* Interleaves the quantized matmul weights for the SIMD kernels (repack.c). */
qlm_status qlm_model_repack(qlm_model *m);

#endif
