/* qlm.h - the public API of libqlm, a transformer inference engine.
 *
 * The only header a user includes. Conventions:
 *  - Handles are opaque. Each is created by a *_load / *_new function and freed
 *    by the matching *_free (NULL is accepted and ignored).
 *  - Every fallible call returns a qlm_status. A human-readable reason (naming the
 *    file, key or tensor) is available from qlm_last_error(handle).
 *  - Like sqlite3_open, a failed qlm_model_load / qlm_context_new /
 *    qlm_tokenizer_load still hands back a handle (unless memory ran out) so
 *    the caller can read why; free it as usual.
 *  - No global mutable state except a one-time CPU feature probe. Distinct
 *    contexts may be used from distinct threads at once; one context must not
 *    be used from two threads at once. A model and its tokenizer are read-only
 *    after load and may be shared.
 *  - Nothing reachable from input calls exit(), abort() or assert().
 */
#ifndef QLM_H
#define QLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QLM_VERSION "0.1.0"

typedef enum qlm_status {
    QLM_OK = 0,
    QLM_ERR_INVALID_ARG,      /* NULL pointer, out-of-range parameter, bad token id */
    QLM_ERR_IO,               /* cannot open / read / map a file */
    QLM_ERR_FORMAT,           /* malformed or hostile file contents */
    QLM_ERR_UNSUPPORTED,      /* valid but not (yet) supported: arch, tensor type, template */
    QLM_ERR_NOMEM,            /* allocation failed or the request is absurdly large */
    QLM_ERR_CONTEXT_FULL,     /* the batch does not fit in the remaining context */
    QLM_ERR_BUFFER_TOO_SMALL, /* output buffer too small; the needed size is reported */
    QLM_ERR_STOPPED,          /* generation stopped by the caller's flag or callback */
    QLM_ERR_INTERNAL
} qlm_status;

/* A short constant name for a status ("invalid argument", ...). */
const char *qlm_status_str(qlm_status s);

typedef enum qlm_log_level {
    QLM_LOG_ERROR = 0,
    QLM_LOG_WARN = 1,
    QLM_LOG_INFO = 2,
    QLM_LOG_DEBUG = 3
} qlm_log_level;

/* Called with one complete line (no trailing newline). */
typedef void (*qlm_log_fn)(qlm_log_level level, const char *msg, void *user);

typedef struct qlm_model qlm_model;
typedef struct qlm_context qlm_context;
typedef struct qlm_sampler qlm_sampler;
typedef struct qlm_tokenizer qlm_tokenizer;

/* ------------------------------------------------------------------ model */

/* Where the layers run. AUTO: a CUDA device when the build has CUDA and the
 * machine a device, else the CPU. */
typedef enum qlm_device { QLM_DEVICE_AUTO = 0, QLM_DEVICE_CPU = 1, QLM_DEVICE_CUDA = 2 } qlm_device;

typedef struct qlm_model_params {
    int use_mmap;            /* 1: map the file (default); 0: read() it into memory */
    int n_threads;           /* default threads for contexts; 0 = all cores */
    int vocab_only;          /* 1: load tokenizer and metadata only, no weights */
    int repack;              /* 1: interleave quantized weights for the SIMD kernels
                                at load (default; same results, faster); 0: use
                                them as stored */
    qlm_device device;       /* default QLM_DEVICE_AUTO */
    int n_gpu_layers;        /* with a GPU: the first N layers run there, the rest on the
                                CPU; -1 (default) or >= n_layer: all of them and the output */
    qlm_log_fn log_fn;       /* NULL: no logging */
    void *log_user;
    qlm_log_level log_level; /* messages above this level are dropped */
} qlm_model_params;

qlm_model_params qlm_model_default_params(void);
qlm_status qlm_model_load(const char *path, const qlm_model_params *params, qlm_model **out);
void qlm_model_free(qlm_model *model);
const char *qlm_model_last_error(const qlm_model *model);

const char *qlm_model_arch(const qlm_model *model);          /* "llama", ... */
/* "cpu", or "cuda" when any layer runs on the GPU; then *n_gpu_layers (if not
 * NULL) says how many. */
const char *qlm_model_device(const qlm_model *model, int *n_gpu_layers);
const char *qlm_model_name(const qlm_model *model);          /* general.name or "" */
uint64_t qlm_model_n_params(const qlm_model *model);
uint64_t qlm_model_size_bytes(const qlm_model *model);       /* bytes of weights in the file */
int32_t qlm_model_n_vocab(const qlm_model *model);
int32_t qlm_model_n_ctx_train(const qlm_model *model);
int32_t qlm_model_n_layer(const qlm_model *model);
int32_t qlm_model_n_embd(const qlm_model *model);
const char *qlm_model_chat_template(const qlm_model *model); /* NULL if none */
const qlm_tokenizer *qlm_model_tokenizer(const qlm_model *model);

/* Metadata and tensor listing (for --info and tools). */
int64_t qlm_model_meta_count(const qlm_model *model);
const char *qlm_model_meta_key(const qlm_model *model, int64_t i);
/* Formats value i as text (arrays abbreviated); returns the full length like snprintf. */
size_t qlm_model_meta_value(const qlm_model *model, int64_t i, char *buf, size_t cap);
/* Looks a string-valued key up; NULL if absent or not a string. */
const char *qlm_model_meta_str(const qlm_model *model, const char *key);

typedef struct qlm_tensor_info {
    const char *name;
    const char *type_name; /* "F32", "Q4_1", ... */
    int n_dims;
    int64_t ne[4];         /* ne[0] is the contiguous (row) dimension */
    uint64_t offset;       /* byte offset of the data in the file */
    uint64_t n_bytes;      /* in the file */
    /* What the loaded model holds and its kernels read: the file's type and
     * bytes, unless the loader converted the tensor (TQ1_0 weights into
     * TQ2_0 where the kernels pack TQ2_0: the same values, 22% more bytes) */
    const char *loaded_type_name;
    uint64_t loaded_bytes;
} qlm_tensor_info;

int64_t qlm_model_tensor_count(const qlm_model *model);
qlm_status qlm_model_tensor_info(const qlm_model *model, int64_t i, qlm_tensor_info *out);

/* ---------------------------------------------------------------- context */

typedef enum qlm_kv_type { QLM_KV_F32 = 0, QLM_KV_F16 = 1 } qlm_kv_type;

typedef struct qlm_context_params {
    int32_t n_ctx;        /* KV cache length in tokens; 0 = min(n_ctx_train, 4096) */
    int32_t n_batch;      /* max tokens per forward pass; longer inputs are split */
    int n_threads;        /* 0 = the model's default */
    qlm_kv_type kv_type;  /* default F16 */
    int logits_all;       /* 1: keep logits of every token of the last decode */
} qlm_context_params;

qlm_context_params qlm_context_default_params(void);
qlm_status qlm_context_new(qlm_model *model, const qlm_context_params *params, qlm_context **out);
void qlm_context_free(qlm_context *ctx);
const char *qlm_context_last_error(const qlm_context *ctx);

int32_t qlm_context_n_ctx(const qlm_context *ctx);
int32_t qlm_context_n_past(const qlm_context *ctx); /* tokens in the KV cache */
void qlm_context_reset(qlm_context *ctx);           /* empty the KV cache */

/* Drops n_discard cached tokens after the first n_keep and slides the rest
 * down (re-rotating keys), freeing room at the end. */
qlm_status qlm_context_shift(qlm_context *ctx, int32_t n_keep, int32_t n_discard);

/* Runs the model over n tokens at positions n_past..n_past+n-1, appending them
 * to the KV cache. If logits is non-NULL it receives a pointer to the logits of
 * the last token (n_vocab floats), valid until the next call on this context.
 * QLM_ERR_CONTEXT_FULL if the tokens do not fit (nothing is changed). */
qlm_status qlm_decode(qlm_context *ctx, const int32_t *tokens, int32_t n, const float **logits);

/* With logits_all: logits of token i of the last decode (i < n), else NULL. */
const float *qlm_context_logits(const qlm_context *ctx, int32_t i);

/* -------------------------------------------------------------- tokenizer */

/* Loads a tokenizer alone: a GGUF file (vocab-only or full) or a SentencePiece
 * .model file (detected by content). */
qlm_status qlm_tokenizer_load(const char *path, qlm_tokenizer **out);
void qlm_tokenizer_free(qlm_tokenizer *tok);
const char *qlm_tokenizer_last_error(const qlm_tokenizer *tok);

enum {
    QLM_TOKENIZE_ADD_BOS = 1u << 0,       /* prepend BOS (if the vocab has one) */
    QLM_TOKENIZE_PARSE_SPECIAL = 1u << 1, /* "<|im_start|>" in text becomes its token */
    QLM_TOKENIZE_MODEL_DEFAULT_BOS = 1u << 2 /* BOS/EOS as the vocab says (add_bos_token, add_eos_token) */
};

/* Writes up to cap ids to out and the total count to *n_out. If cap is too small
 * returns QLM_ERR_BUFFER_TOO_SMALL with *n_out = the number needed. Invalid
 * UTF-8 in text is tokenized byte by byte (never an error). */
qlm_status qlm_tokenize(const qlm_tokenizer *tok, const char *text, size_t len, int32_t *out,
                        size_t cap, size_t *n_out, unsigned flags);

/* The same into a malloc'd array sized for the result (*ids = NULL on error;
 * release it with free()). */
qlm_status qlm_tokenize_alloc(const qlm_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                              size_t *n_out, unsigned flags);

enum { QLM_DETOKENIZE_SPECIAL = 1u << 0 /* render control tokens as their text */ };

/* Bytes of one token (may be a partial UTF-8 sequence). Same size contract. */
qlm_status qlm_token_to_piece(const qlm_tokenizer *tok, int32_t id, char *buf, size_t cap,
                              size_t *n_out, unsigned flags);
/* Text of a whole sequence (the leading space of SentencePiece is removed). */
qlm_status qlm_detokenize(const qlm_tokenizer *tok, const int32_t *ids, size_t n, char *buf,
                          size_t cap, size_t *n_out, unsigned flags);

int32_t qlm_tokenizer_n_vocab(const qlm_tokenizer *tok);
int32_t qlm_token_bos(const qlm_tokenizer *tok);     /* -1 if none */
int32_t qlm_token_eos(const qlm_tokenizer *tok);     /* -1 if none */
int32_t qlm_token_eot(const qlm_tokenizer *tok);     /* -1 if none */
int qlm_token_is_eog(const qlm_tokenizer *tok, int32_t id); /* end of generation? */
const char *qlm_tokenizer_kind(const qlm_tokenizer *tok);  /* "spm", "bpe", "sentencepiece" */

/* Streaming UTF-8 assembler: feed token bytes, get only whole code points out.
 * Invalid sequences come out as U+FFFD so the output is always valid UTF-8. */
typedef struct qlm_utf8_stream { unsigned char pending[4]; int n_pending; } qlm_utf8_stream;
/* Appends the complete characters of pending+bytes to out (cap must be
 * >= 3*n + 12: each invalid byte becomes a 3-byte U+FFFD); returns the number
 * of bytes written. */
size_t qlm_utf8_stream_push(qlm_utf8_stream *s, const char *bytes, size_t n, char *out, size_t cap);
/* Flushes an incomplete tail as U+FFFD; returns bytes written (cap >= 4). */
size_t qlm_utf8_stream_flush(qlm_utf8_stream *s, char *out, size_t cap);

/* ------------------------------------------------------------------- chat */

typedef struct qlm_chat_message { const char *role; const char *content; } qlm_chat_message;

/* Formats messages with the model's chat template (detected by its content:
 * chatml, llama-3, gemma, phi-3, zephyr, llama-2). add_assistant appends the
 * assistant turn opener. QLM_ERR_UNSUPPORTED for an unrecognised template.
 * Size contract as qlm_tokenize (*n_out excludes the terminating NUL). */
qlm_status qlm_chat_apply(const char *tmpl, const qlm_chat_message *msgs, size_t n_msgs,
                          int add_assistant, char *buf, size_t cap, size_t *n_out);
const char *qlm_chat_template_kind(const char *tmpl); /* "chatml", ... or NULL */

/* ---------------------------------------------------------------- sampler */

/* A chain of stages applied in the order added, ending in a pick. */
qlm_status qlm_sampler_chain_new(uint64_t seed, qlm_sampler **out);
void qlm_sampler_free(qlm_sampler *s);
const char *qlm_sampler_last_error(const qlm_sampler *s);

qlm_status qlm_sampler_add_penalties(qlm_sampler *s, int32_t last_n, float repeat,
                                     float frequency, float presence);
qlm_status qlm_sampler_add_top_k(qlm_sampler *s, int32_t k);
qlm_status qlm_sampler_add_top_p(qlm_sampler *s, float p, size_t min_keep);
qlm_status qlm_sampler_add_min_p(qlm_sampler *s, float p, size_t min_keep);
qlm_status qlm_sampler_add_temp(qlm_sampler *s, float t);
qlm_status qlm_sampler_add_greedy(qlm_sampler *s); /* pick: arg max */
qlm_status qlm_sampler_add_dist(qlm_sampler *s);   /* pick: seeded random draw */

/* Runs the chain over logits (n_vocab floats, not modified). */
qlm_status qlm_sampler_sample(qlm_sampler *s, const float *logits, int32_t n_vocab, int32_t *out);
/* Records a token in the penalty history (qlm_generate does this for you). */
void qlm_sampler_accept(qlm_sampler *s, int32_t token);
void qlm_sampler_reset(qlm_sampler *s); /* history cleared, RNG re-seeded */

typedef struct qlm_sampler_params {
    uint64_t seed;
    float temp;            /* <= 0: greedy */
    int32_t top_k;         /* <= 0: off */
    float top_p;           /* >= 1: off */
    float min_p;           /* <= 0: off */
    float repeat_penalty;  /* 1: off */
    float frequency_penalty, presence_penalty;
    int32_t penalty_last_n;
} qlm_sampler_params;

qlm_sampler_params qlm_sampler_default_params(void);
/* The usual chain: penalties, top-k, top-p, min-p, temp, dist (or greedy). */
qlm_status qlm_sampler_from_params(const qlm_sampler_params *p, qlm_sampler **out);

/* --------------------------------------------------------------- generate */

/* Receives each token and the complete UTF-8 text it finished (possibly empty);
 * return non-zero to stop. */
typedef int (*qlm_token_fn)(int32_t token, const char *text, size_t len, void *user);

typedef struct qlm_generate_params {
    int32_t n_predict;          /* max new tokens; < 0: until end of generation or context */
    unsigned tokenize_flags;    /* QLM_TOKENIZE_* for the prompt */
    int context_shift;          /* 1: when full, drop the older half instead of failing */
    qlm_token_fn on_token;
    void *user;
    const volatile int *stop;   /* generation stops when *stop becomes non-zero */
} qlm_generate_params;

typedef struct qlm_generate_stats {
    int32_t n_prompt, n_generated;
    double t_prompt_ms, t_generate_ms;
} qlm_generate_stats;

qlm_generate_params qlm_generate_default_params(void);
/* Tokenizes prompt, decodes it, then samples until EOG, n_predict or stop. */
qlm_status qlm_generate(qlm_context *ctx, qlm_sampler *sampler, const char *prompt,
                        const qlm_generate_params *params, qlm_generate_stats *stats);

/* --------------------------------------------------------------- quantize */

/* Called after each tensor is written (i counts from 1); return non-zero to
 * stop (QLM_ERR_STOPPED, no output file). */
typedef int (*qlm_quantize_progress_fn)(int64_t i, int64_t n_tensors, const char *name, void *user);

typedef struct qlm_quantize_params {
    const char *type;         /* target type name, case-insensitive: "Q4_K", ... (default "Q8_0") */
    int n_threads;            /* 0 = all cores */
    int allow_requantize;     /* 1: accept weights that are already quantized (they are
                                 dequantized first, losing what the first pass lost) */
    qlm_quantize_progress_fn progress; /* NULL: none */
    void *progress_user;
    qlm_log_fn log_fn;        /* one line per tensor at QLM_LOG_INFO; NULL: no logging */
    void *log_user;
    qlm_log_level log_level;
} qlm_quantize_params;

qlm_quantize_params qlm_quantize_default_params(void);

/* The type names qlm_quantize_file accepts, space separated ("F32 F16 BF16 Q8_0 ..."). */
const char *qlm_quantize_types(void);

/* Writes out_path: in_path with every weight matrix converted to params->type,
 * reproducing llama.cpp's llama_model_quantize with `pure` set byte for byte
 * (same metadata, with general.file_type set to llama.cpp's ftype number;
 * same tensor order, types and data layout). Which tensors: those llama.cpp
 * quantizes (2-D and larger "*weight" tensors but norms and a few small
 * kinds; 1-D tensors are copied). A row length that is not a multiple of
 * the type's block falls back as llama.cpp does (Q4_K -> Q5_0, ...; F16 as
 * the last resort). The output is written to out_path.tmp and renamed, so a
 * failure leaves no partial file. On failure the reason (naming the file and
 * tensor) goes to err (cap bytes, NUL-terminated; may be NULL) and to the
 * log callback. */
qlm_status qlm_quantize_file(const char *in_path, const char *out_path, const qlm_quantize_params *params,
                             char *err, size_t cap);

/* ----------------------------------------------------------------- system */

/* Which CPU kernels were chosen ("ref", "avx2", "avx512"). */
const char *qlm_system_info(void);
/* The CPU features the probe saw ("avx2 fma f16c avx512f ..."; "" off x86). */
const char *qlm_system_cpu_features(void);
/* Why QLM_CPU was not honoured (unknown name, or kernels this CPU cannot
 * run: the best available ones are used instead); NULL when it was or is unset. */
const char *qlm_system_kernels_note(void);

/* qlm_last_error(h) for any handle type. */
#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define qlm_last_error(h)                                            \
    _Generic((h), qlm_model *: qlm_model_last_error,                 \
             const qlm_model *: qlm_model_last_error,                \
             qlm_context *: qlm_context_last_error,                  \
             const qlm_context *: qlm_context_last_error,            \
             qlm_tokenizer *: qlm_tokenizer_last_error,              \
             const qlm_tokenizer *: qlm_tokenizer_last_error,        \
             qlm_sampler *: qlm_sampler_last_error,                  \
             const qlm_sampler *: qlm_sampler_last_error)(h)
#endif

#ifdef __cplusplus
}
#endif
#endif /* QLM_H */
