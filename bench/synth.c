/* synth.c - synthetic llama models for benchmarking: the shapes of well-known
 * models with seeded random weights, so speed can be measured (and compared
 * with other engines on the very same file) without downloading gigabytes.
 *
 * The file is a complete llama-arch GGUF with a small SentencePiece-style
 * vocabulary (specials, 256 byte tokens, filler pieces) padded to the
 * preset's vocab size; llama.cpp accepts it too. Generation streams: the
 * metadata comes from engine's gguf_writer, then tensor infos and data are
 * appended here one tensor at a time, so a 7B file needs one quantized
 * tensor of memory plus one float row per thread. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"
#include "gguf.h"

/* Matrix weights ~ N(0, 0.02^2) as in GPT-2/llama initialisation; norms 1. */
#define SYNTH_STD 0.02f
#define SYNTH_ALIGN 32 /* GGUF default alignment (no general.alignment key) */
#define SYNTH_N_SPECIAL 3 /* <unk> <s> </s>, llama's ids 0 1 2 */

static const synth_preset presets[] = {
    {"tiny", 64, 2, 4, 2, 128, 512},
    {"tiny-256", 256, 2, 4, 2, 512, 512}, /* rows 256-value blocks divide (K-quants, ternary) */
    {"llama-110m", 768, 12, 12, 12, 2048, 32000},
    {"llama-1.1b", 2048, 22, 32, 4, 5632, 32000},
    {"llama-7b", 4096, 32, 32, 32, 11008, 32000},
};

const synth_preset *synth_find(const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (name && strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

const char *synth_preset_names(void) { return "llama-110m, llama-1.1b, llama-7b (and tiny, tiny-256)"; }

int synth_parse_type(const char *s, qlm_type *out) {
    for (uint32_t t = 0; t < QLM_TYPE_COUNT; t++) {
        const qlm_type_traits *tt = qlm_type_traits_get(t);
        if (!tt || !tt->name || !tt->from_float || !tt->to_float || !tt->vec_dot) continue;
        if (strcasecmp(tt->name, s) == 0) {
            *out = (qlm_type)t;
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ tensor list */

typedef struct synth_tensor {
    char name[64];
    int64_t ne[2];
    uint32_t n_dims;
    qlm_type type;
    uint64_t n_bytes, offset;
} synth_tensor;

static void add_tensor(synth_tensor *t, int64_t *n, const char *name, int64_t ne0, int64_t ne1,
                       qlm_type type) {
    synth_tensor *x = &t[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->ne[0] = ne0;
    x->ne[1] = ne1 > 0 ? ne1 : 1;
    x->n_dims = ne1 > 0 ? 2 : 1;
    x->type = ne1 > 0 ? type : QLM_TYPE_F32; /* norms stay F32, as qlm and llama.cpp expect */
    x->n_bytes = qlm_row_size(x->type, ne0) * (uint64_t)x->ne[1];
}

int64_t synth_tensor_count(const synth_preset *p) { return 3 + 9 * p->n_layer; }

/* llama.cpp's names and order: embeddings, output, then the blocks. */
static synth_tensor *build_tensors(const synth_preset *p, qlm_type type, int64_t *n) {
    synth_tensor *t = calloc((size_t)synth_tensor_count(p), sizeof *t);
    if (!t) return NULL;
    const int64_t e = p->n_embd, kv = p->n_embd / p->n_head * p->n_head_kv;
    *n = 0;
    add_tensor(t, n, "token_embd.weight", e, p->n_vocab, type);
    add_tensor(t, n, "output_norm.weight", e, 0, type);
    add_tensor(t, n, "output.weight", e, p->n_vocab, type);
    for (int64_t l = 0; l < p->n_layer; l++) {
        const struct { const char *s; int64_t ne0, ne1; } blk[9] = {
            {"attn_norm", e, 0}, {"attn_q", e, e}, {"attn_k", e, kv}, {"attn_v", e, kv},
            {"attn_output", e, e}, {"ffn_norm", e, 0}, {"ffn_gate", e, p->n_ff},
            {"ffn_up", e, p->n_ff}, {"ffn_down", p->n_ff, e}};
        for (int i = 0; i < 9; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, blk[i].s);
            add_tensor(t, n, name, blk[i].ne0, blk[i].ne1, type);
        }
    }
    uint64_t off = 0;
    for (int64_t i = 0; i < *n; i++) {
        t[i].offset = off;
        off = (off + t[i].n_bytes + SYNTH_ALIGN - 1) / SYNTH_ALIGN * SYNTH_ALIGN;
    }
    return t;
}

/* ------------------------------------------------------------- metadata */

/* llama.cpp's llama_ftype for general.file_type; -1: leave the key out. */
static int file_type_of(qlm_type t) {
    switch (t) {
    case QLM_TYPE_F32: return 0;
    case QLM_TYPE_F16: return 1;
    case QLM_TYPE_Q4_0: return 2;
    case QLM_TYPE_Q4_1: return 3;
    case QLM_TYPE_Q8_0: return 7;
    case QLM_TYPE_Q5_0: return 8;
    case QLM_TYPE_Q5_1: return 9;
    case QLM_TYPE_Q2_K: return 10;
    case QLM_TYPE_Q3_K: return 12; /* "_M" variants: the closest single-type names */
    case QLM_TYPE_Q4_K: return 15;
    case QLM_TYPE_Q5_K: return 17;
    case QLM_TYPE_Q6_K: return 18;
    case QLM_TYPE_IQ4_NL: return 25;
    case QLM_TYPE_IQ4_XS: return 30;
    case QLM_TYPE_BF16: return 32;
    case QLM_TYPE_TQ1_0: return 36;
    case QLM_TYPE_TQ2_0: return 37;
    case QLM_TYPE_MXFP4: return 38;
    default: return -1;
    }
}

/* SentencePiece layout (what llama.cpp's SPM loader expects): <unk> <s> </s>,
 * then <0x00>..<0xFF> byte tokens, then unique filler pieces. */
static int set_vocab(gguf_writer *w, int64_t n_vocab) {
    char **toks = calloc((size_t)n_vocab, sizeof *toks);
    float *scores = calloc((size_t)n_vocab, sizeof *scores);
    int32_t *types = calloc((size_t)n_vocab, sizeof *types);
    int ok = toks && scores && types;
    static const char *special[SYNTH_N_SPECIAL] = {"<unk>", "<s>", "</s>"};
    for (int64_t i = 0; ok && i < n_vocab; i++) {
        char buf[32];
        if (i < SYNTH_N_SPECIAL) snprintf(buf, sizeof buf, "%s", special[i]);
        else if (i < SYNTH_N_SPECIAL + 256) snprintf(buf, sizeof buf, "<0x%02X>", (int)(i - SYNTH_N_SPECIAL));
        else snprintf(buf, sizeof buf, "\xe2\x96\x81t%lld", (long long)i); /* "▁t<i>" */
        types[i] = i == 0 ? 2 : i < SYNTH_N_SPECIAL ? 3 : i < SYNTH_N_SPECIAL + 256 ? 6 : 1;
        scores[i] = i < SYNTH_N_SPECIAL + 256 ? 0.0f : -(float)i;
        ok = (toks[i] = strdup(buf)) != NULL;
    }
    ok = ok && gguf_writer_set_str(w, "tokenizer.ggml.model", "llama") &&
         gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, (uint64_t)n_vocab) &&
         gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VTYPE_FLOAT32, scores, (uint64_t)n_vocab) &&
         gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VTYPE_INT32, types, (uint64_t)n_vocab) &&
         gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0) &&
         gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1) &&
         gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2) &&
         gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    for (int64_t i = 0; toks && i < n_vocab; i++) free(toks[i]);
    free(toks);
    free(scores);
    free(types);
    return ok;
}

static int set_hparams(gguf_writer *w, const synth_preset *p, qlm_type type) {
    char name[96];
    snprintf(name, sizeof name, "synthetic %s %s", p->name, qlm_type_name(type));
    int ft = file_type_of(type);
    return gguf_writer_set_str(w, "general.architecture", "llama") &&
           gguf_writer_set_str(w, "general.name", name) &&
           (ft < 0 || gguf_writer_set_u32(w, "general.file_type", (uint32_t)ft)) &&
           gguf_writer_set_u32(w, "llama.context_length", 4096) &&
           gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)p->n_embd) &&
           gguf_writer_set_u32(w, "llama.block_count", (uint32_t)p->n_layer) &&
           gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)p->n_ff) &&
           gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)p->n_head) &&
           gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)p->n_head_kv) &&
           gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f) &&
           gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f) &&
           gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)(p->n_embd / p->n_head)) &&
           gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)p->n_vocab) && set_vocab(w, p->n_vocab);
}

/* Header + metadata from gguf_writer (no tensors), with the tensor count
 * patched in: the tensor infos follow the metadata directly. */
static int write_header(FILE *f, const synth_preset *p, qlm_type type, int64_t n_tensors, char *err,
                        size_t cap) {
    gguf_writer *w = gguf_writer_new();
    void *buf = NULL;
    size_t size = 0;
    qlm_errbuf e = {{0}};
    int ok = w && set_hparams(w, p, type) && gguf_writer_write_memory(w, &buf, &size, &e) == QLM_OK;
    if (ok) {
        uint64_t n = (uint64_t)n_tensors;
        memcpy((char *)buf + 8, &n, 8); /* magic(4) version(4) n_tensors(8) n_kv(8) */
        ok = fwrite(buf, 1, size, f) == size;
        if (!ok) snprintf(err, cap, "write failed: %s", strerror(errno));
    } else {
        snprintf(err, cap, "metadata: %s", e.msg[0] ? e.msg : "out of memory");
    }
    free(buf);
    gguf_writer_free(w);
    return ok;
}

static int put_u64(FILE *f, uint64_t v) { return fwrite(&v, 8, 1, f) == 1; }
static int put_u32(FILE *f, uint32_t v) { return fwrite(&v, 4, 1, f) == 1; }

static int pad_file(FILE *f) {
    static const char zeros[SYNTH_ALIGN];
    long pos = ftell(f);
    if (pos < 0) return 0;
    size_t n = (SYNTH_ALIGN - (size_t)pos % SYNTH_ALIGN) % SYNTH_ALIGN;
    return fwrite(zeros, 1, n, f) == n;
}

static int write_infos(FILE *f, const synth_tensor *t, int64_t n) {
    int ok = 1;
    for (int64_t i = 0; ok && i < n; i++) {
        uint64_t len = strlen(t[i].name);
        ok = put_u64(f, len) && fwrite(t[i].name, 1, len, f) == len && put_u32(f, t[i].n_dims);
        for (uint32_t d = 0; ok && d < t[i].n_dims; d++) ok = put_u64(f, (uint64_t)t[i].ne[d]);
        ok = ok && put_u32(f, (uint32_t)t[i].type) && put_u64(f, t[i].offset);
    }
    return ok && pad_file(f);
}

/* ---------------------------------------------------------------- data */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Approximately normal: the sum of four 16-bit uniforms (Irwin-Hall, n=4)
 * centred and scaled to unit variance. One hash per value keeps a 7B file's
 * 6.7e9 draws to seconds; the tails do not matter for a benchmark. */
static float gauss(uint64_t *s) {
    uint64_t r = splitmix64(s);
    float sum = (float)(r & 0xffff) + (float)((r >> 16) & 0xffff) + (float)((r >> 32) & 0xffff) +
                (float)(r >> 48);
    return (sum / 65536.0f - 2.0f) * 1.7320508f; /* var of U(0,1) is 1/12: sqrt(12/4) */
}

/* Fills one tensor's bytes. Rows are seeded by (seed, tensor, row) so the
 * file is the same whatever the thread count. */
static int fill_tensor(const synth_tensor *t, int64_t idx, uint64_t seed, void *dst) {
    const qlm_type_traits *tt = qlm_type_traits_get(t->type);
    const size_t rb = qlm_row_size(t->type, t->ne[0]);
    int ok = 1;
    #pragma omp parallel reduction(&& : ok)
    {
        float *row = malloc(sizeof(float) * (size_t)t->ne[0]);
        ok = row != NULL;
        #pragma omp for schedule(static)
        for (int64_t r = 0; r < t->ne[1]; r++) {
            if (!row) continue;
            uint64_t s = seed ^ ((uint64_t)idx << 40) ^ (uint64_t)r * 0x2545f4914f6cdd1dull;
            for (int64_t i = 0; i < t->ne[0]; i++) row[i] = t->n_dims == 1 ? 1.0f : SYNTH_STD * gauss(&s);
            tt->from_float(row, (char *)dst + (size_t)r * rb, t->ne[0]);
        }
        free(row);
    }
    return ok;
}

static int write_data(FILE *f, const synth_tensor *t, int64_t n, uint64_t seed, int progress, char *err,
                      size_t cap) {
    uint64_t total = t[n - 1].offset + t[n - 1].n_bytes, done = 0, max = 0;
    for (int64_t i = 0; i < n; i++) max = t[i].n_bytes > max ? t[i].n_bytes : max;
    void *buf = malloc((size_t)max);
    if (!buf) return snprintf(err, cap, "out of memory for a %llu-byte tensor", (unsigned long long)max), 0;
    int ok = 1;
    for (int64_t i = 0; ok && i < n; i++) {
        if (!fill_tensor(&t[i], i, seed, buf)) {
            snprintf(err, cap, "out of memory");
            ok = 0;
        } else if (fwrite(buf, 1, (size_t)t[i].n_bytes, f) != t[i].n_bytes || !pad_file(f)) {
            snprintf(err, cap, "write failed: %s", strerror(errno));
            ok = 0;
        }
        /* A terminal gets a line rewritten per tensor, a log one line per 10%. */
        const int decile = (int)(10 * done / total), decile_next = (int)(10 * (done + t[i].n_bytes) / total);
        done += t[i].n_bytes;
        if (progress == 2 || (progress == 1 && decile_next > decile))
            fprintf(stderr, "%ssynthetic: tensor %lld/%lld, %.2f/%.2f GB%s", progress == 2 ? "\r" : "",
                    (long long)i + 1, (long long)n, done / 1e9, total / 1e9, progress == 2 ? "" : "\n");
    }
    if (progress == 2) fputc('\n', stderr);
    free(buf);
    return ok;
}

int synth_write(const synth_preset *p, qlm_type type, uint64_t seed, const char *path, int progress,
                char *err, size_t cap) {
    err[0] = '\0';
    const qlm_type_traits *tt = qlm_type_traits_get(type);
    if (!tt || !tt->from_float || p->n_embd % tt->block_size || p->n_ff % tt->block_size)
        return snprintf(err, cap, "type %s cannot be generated for %s", qlm_type_name(type), p->name), 1;
    int64_t n = 0;
    synth_tensor *t = build_tensors(p, type, &n);
    FILE *f = t ? fopen(path, "wb") : NULL;
    if (!f) {
        snprintf(err, cap, "%s: %s", path, t ? strerror(errno) : "out of memory");
        free(t);
        return 1;
    }
    int ok = write_header(f, p, type, n, err, cap) && write_infos(f, t, n);
    if (!ok && !*err) snprintf(err, cap, "write failed: %s", strerror(errno));
    ok = ok && write_data(f, t, n, seed, progress, err, cap);
    if (fclose(f) != 0 && ok) {
        snprintf(err, cap, "%s: close failed: %s", path, strerror(errno));
        ok = 0;
    }
    if (!ok) remove(path);
    free(t);
    return !ok;
}
