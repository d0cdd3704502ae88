/* quantize.c - qlm_quantize_file: llama.cpp's llama_model_quantize with
 * `pure` set, reproduced byte for byte.
 *
 * The rules below are facts read from llama.cpp's src/llama-quant.cpp and
 * ggml/src/gguf.cpp (llama-cpp-python 0.3.36); the code is ours.
 *  - Which tensors change: at least 2-D (trailing dims of 1 do not count),
 *    named "...weight", not a norm nor one of the small or special kinds
 *    llama.cpp keeps (is_quantizable). In pure mode every one of them gets
 *    the target type, token_embd and output included.
 *  - A row length the target's block does not divide falls back to a
 *    smaller block (fallback_of), and to F16 if even that does not fit.
 *  - A tensor whose type already is its target is copied; any other is
 *    dequantized to F32 (the type table's to_float, ggml's exactly) and
 *    quantized with the reference quantizer (from_float, ggml's bytes).
 *  - Order: llama.cpp walks its loader's weight map, sorted by layer number
 *    ("blk.N.", other names first) and then by name (cmp_order).
 *  - Metadata: the input's keys in order without split.*; then
 *    general.quantization_version and general.file_type, which gguf's
 *    setters remove and re-append, so they end the list.
 *  - Layout: GGUF v3; each tensor's data padded to the alignment, the last
 *    one included. The alignment is 32 unless the input's general.alignment
 *    (copied) says otherwise; llama.cpp would still lay such a file out at
 *    32 and so contradict the key, the one place we knowingly differ. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errbuf.h"
#include "gguf.h"
#include "log.h"

#define QZ_QNT_VERSION 2            /* ggml's GGML_QNT_VERSION */
#define QZ_SLAB_BYTES (64u << 20)   /* output rows converted (and buffered) at a time */
#define QZ_MIB (1024.0 * 1024.0)

/* ------------------------------------------------------------ targets */

/* Target types and the llama_ftype llama.cpp writes as general.file_type.
 * Q3_K, Q4_K and Q5_K are the "_M" mixes, which llama-quantize's plain
 * "Q3_K"/"Q4_K"/"Q5_K" names mean; pure mode makes a mix one type. MXFP4's
 * only ftype is MXFP4_MOE. */
static const struct { qlm_type type; uint32_t ftype; } targets[] = {
    {QLM_TYPE_F32, 0},     {QLM_TYPE_F16, 1},     {QLM_TYPE_BF16, 32},   {QLM_TYPE_Q8_0, 7},
    {QLM_TYPE_Q4_0, 2},    {QLM_TYPE_Q4_1, 3},    {QLM_TYPE_Q5_0, 8},    {QLM_TYPE_Q5_1, 9},
    {QLM_TYPE_Q2_K, 10},   {QLM_TYPE_Q3_K, 12},   {QLM_TYPE_Q4_K, 15},   {QLM_TYPE_Q5_K, 17},
    {QLM_TYPE_Q6_K, 18},   {QLM_TYPE_IQ4_NL, 25}, {QLM_TYPE_IQ4_XS, 30}, {QLM_TYPE_TQ1_0, 36},
    {QLM_TYPE_TQ2_0, 37},  {QLM_TYPE_MXFP4, 38},
};
#define N_TARGETS (sizeof targets / sizeof targets[0])

const char *qlm_quantize_types(void) {
    return "F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS TQ1_0 TQ2_0 MXFP4";
}

static int find_target(const char *name) {
    for (size_t i = 0; name && i < N_TARGETS; i++)
        if (strcasecmp(qlm_type_name(targets[i].type), name) == 0) return (int)i;
    return -1;
}

/* llama.cpp's tensor_type_fallback: the next smaller block for a row the
 * target's 256-block does not divide. 32-blocks have none (F16 follows). */
static qlm_type fallback_of(qlm_type t) {
    switch (t) {
    case QLM_TYPE_IQ4_XS: return QLM_TYPE_IQ4_NL;
    case QLM_TYPE_Q2_K:
    case QLM_TYPE_Q3_K:
    case QLM_TYPE_TQ1_0:
    case QLM_TYPE_TQ2_0: return QLM_TYPE_Q4_0;
    case QLM_TYPE_Q4_K: return QLM_TYPE_Q5_0;
    case QLM_TYPE_Q5_K: return QLM_TYPE_Q5_1;
    case QLM_TYPE_Q6_K: return QLM_TYPE_Q8_0;
    default: return t;
    }
}

/* ------------------------------------------------------ tensor choice */

/* ggml_n_dims: trailing dimensions of 1 do not count. */
static uint32_t n_dims_of(const gguf_tensor *t) {
    for (int d = GGUF_MAX_DIMS - 1; d >= 1; d--)
        if (t->ne[d] > 1) return (uint32_t)d + 1;
    return 1;
}

static bool has(const char *name, const char *part) { return strstr(name, part) != NULL; }

/* Name fragments llama.cpp never quantizes, whatever the architecture:
 * norms, MoE routers, small or positional tensors, RWKV time-mix, conv1d,
 * multimodal and audio pieces. */
static const char *const keep_parts[] = {
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
    "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
    "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
    "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.",
    "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
};

/* Only for the glm5-next architecture. */
static const char *const keep_parts_glm5_next[] = {
    "hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate",
    "indexer_compressor_ape", "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight", "ssm_g_b.weight",
    "ssm_beta.weight", "attn_kv_a_mqa.weight", "attn_k_b.weight", "attn_v_b.weight",
};

static bool has_any(const char *name, const char *const *parts, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (has(name, parts[i])) return true;
    return false;
}

/* llama.cpp's tensor_allows_quantization with its defaults
 * (quantize_output_tensor on, only_copy off). */
static bool is_quantizable(const gguf_tensor *t, bool glm5_next) {
    if (n_dims_of(t) < 2) return false;
    const char *name = t->name;
    const size_t n = strlen(name);
    /* llama.cpp tests name.rfind("weight") == name.size() - 6; for a 5-byte
     * name both sides are npos, so such a name passes too. */
    if (!(n == 5 || (n >= 6 && strcmp(name + n - 6, "weight") == 0))) return false;
    if (has_any(name, keep_parts, sizeof keep_parts / sizeof keep_parts[0])) return false;
    if (glm5_next && has_any(name, keep_parts_glm5_next, sizeof keep_parts_glm5_next / sizeof keep_parts_glm5_next[0]))
        return false;
    /* LLM_TN's names for the position and token-type embeddings (BERT) */
    return strcmp(name, "position_embd.weight") != 0 && strcmp(name, "token_types.weight") != 0;
}

/* ------------------------------------------------------------- plan */

typedef struct qz_tensor {
    const gguf_tensor *src;
    qlm_type type;       /* output type */
    uint32_t n_dims;
    bool fell_back;      /* the target's block did not divide the rows */
    uint64_t n_bytes;    /* output bytes */
} qz_tensor;

typedef struct qz_job {
    const qlm_quantize_params *p;
    const char *in_path, *out_path;
    gguf_ctx *in;
    qlm_type target;
    uint32_t ftype;
    int n_threads;
    uint64_t align;
    qz_tensor *t;        /* output order */
    int64_t n;
    int64_t n_fallback;
    qlm_logger log;
    qlm_errbuf *err;
} qz_job;

/* sscanf(name, "blk.%d.", &layer) as llama.cpp's weight_name_comparer
 * does: -1 (before every layer) unless the name starts with "blk.<int>". */
static long layer_of(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    char *end;
    long l = strtol(name + 4, &end, 10);
    return end == name + 4 ? -1 : l;
}

static int cmp_order(const void *a, const void *b) {
    const qz_tensor *x = a, *y = b;
    long lx = layer_of(x->src->name), ly = layer_of(y->src->name);
    if (lx != ly) return lx < ly ? -1 : 1;
    return strcmp(x->src->name, y->src->name); /* bytes as unsigned, like std::string */
}

static qlm_type output_type(qz_job *j, qz_tensor *t, bool glm5_next) {
    const gguf_tensor *s = t->src;
    if (!is_quantizable(s, glm5_next)) return s->type;
    const qlm_type_traits *tt = qlm_type_traits_get(j->target);
    if (!tt->is_quantized || s->ne[0] % tt->block_size == 0) return j->target;
    t->fell_back = true;
    j->n_fallback++;
    const qlm_type f = fallback_of(j->target);
    return s->ne[0] % qlm_type_traits_get(f)->block_size == 0 ? f : QLM_TYPE_F16;
}

/* A tensor that changes type must be readable as floats, and a quantized
 * one is only re-quantized when the caller allows it (as llama.cpp). */
static qlm_status check_convertible(qz_job *j, const qz_tensor *t) {
    const gguf_tensor *s = t->src;
    if (t->type == s->type) return QLM_OK;
    const qlm_type_traits *st = qlm_type_traits_get(s->type);
    if (!st || !st->to_float)
        return qlm_err(j->err, QLM_ERR_UNSUPPORTED, "%s: tensor %s: cannot convert type %s to %s", j->in_path,
                       s->name, qlm_type_name(s->type), qlm_type_name(t->type));
    if (st->is_quantized && !j->p->allow_requantize)
        return qlm_err(j->err, QLM_ERR_INVALID_ARG,
                       "%s: tensor %s is already quantized (%s); re-quantizing it to %s needs allow_requantize "
                       "(quantize --allow-requantize)",
                       j->in_path, s->name, qlm_type_name(s->type), qlm_type_name(t->type));
    return QLM_OK;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static qlm_status plan(qz_job *j) {
    j->n = gguf_tensor_count(j->in);
    j->t = calloc((size_t)(j->n ? j->n : 1), sizeof *j->t);
    if (!j->t) return qlm_err(j->err, QLM_ERR_NOMEM, "%s: out of memory", j->in_path);
    const char *arch = NULL;
    size_t arch_len = 0;
    const bool glm5_next = gguf_get_str(j->in, "general.architecture", &arch, &arch_len) && arch_len == 9 &&
                           memcmp(arch, "glm5-next", 9) == 0;
    for (int64_t i = 0; i < j->n; i++) j->t[i].src = gguf_tensor_at(j->in, i);
    qsort(j->t, (size_t)j->n, sizeof *j->t, cmp_order);
    for (int64_t i = 0; i < j->n; i++) {
        qz_tensor *t = &j->t[i];
        t->type = output_type(j, t, glm5_next);
        t->n_dims = n_dims_of(t->src);
        qlm_status st = check_convertible(j, t);
        if (st != QLM_OK) return st;
        const int64_t rows = t->src->ne[1] * t->src->ne[2] * t->src->ne[3];
        t->n_bytes = (uint64_t)qlm_row_size(t->type, t->src->ne[0]) * (uint64_t)rows;
    }
    return QLM_OK;
}

/* ------------------------------------------------------------ metadata */

static bool dropped_key(const char *key) {
    static const char *const keys[] = {"general.quantization_version", "general.file_type", "split.no",
                                       "split.count", "split.tensors.count"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0) return true;
    return false;
}

/* Header, key-value pairs (the input's but those llama.cpp rewrites, then
 * its two) and tensor infos, padded to the alignment, through gguf_writer:
 * it lays the tensors out as plan() did (input alignment, each at the next
 * multiple of it). */
static qlm_status encode_meta(const qz_job *j, void **meta, size_t *size) {
    gguf_writer *w = gguf_writer_new();
    bool ok = w != NULL;
    for (int64_t i = 0; ok && i < gguf_kv_count(j->in); i++) {
        const gguf_kv *kv = gguf_kv_at(j->in, i);
        if (!dropped_key(kv->key)) ok = gguf_writer_set_value(w, kv->key, &kv->value);
    }
    ok = ok && gguf_writer_set_u32(w, "general.quantization_version", QZ_QNT_VERSION) &&
         gguf_writer_set_u32(w, "general.file_type", j->ftype);
    qlm_status st = ok ? QLM_OK : qlm_err(j->err, QLM_ERR_NOMEM, "%s: out of memory for the metadata", j->out_path);
    for (int64_t i = 0; st == QLM_OK && i < j->n; i++) {
        const qz_tensor *t = &j->t[i];
        if (!gguf_writer_add_tensor_info(w, t->src->name, t->type, t->n_dims, t->src->ne))
            st = qlm_err(j->err, QLM_ERR_FORMAT, "%s: tensor '%s' cannot be described in the output", j->in_path,
                         t->src->name);
    }
    if (st == QLM_OK) st = gguf_writer_write_meta(w, meta, size, j->err);
    gguf_writer_free(w);
    return st;
}

/* ------------------------------------------------------------- convert */

static bool all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

/* Rows [r0, r1) of t into dst, one row per step across the threads. Each
 * output row is read back: a non-finite value (NaN or Inf input, or a scale
 * that overflowed F16) fails the file, as ggml_validate_row_data fails
 * llama.cpp's. Returns the first bad row, -1 if none, -2 out of memory. */
static int64_t convert_rows(const qz_job *j, const qz_tensor *t, int64_t r0, int64_t r1, uint8_t *dst) {
    const qlm_type_traits *st = qlm_type_traits_get(t->src->type), *dt = qlm_type_traits_get(t->type);
    const int64_t ne0 = t->src->ne[0];
    const size_t src_rb = qlm_row_size(t->src->type, ne0), dst_rb = qlm_row_size(t->type, ne0);
    const uint8_t *src = t->src->data;
    int64_t bad = INT64_MAX;
    int ok = 1;
#pragma omp parallel num_threads(j->n_threads) reduction(min : bad) reduction(&& : ok)
    {
        float *row = malloc(sizeof(float) * (size_t)ne0);
        ok = row != NULL;
#pragma omp for schedule(dynamic, 4)
        for (int64_t r = r0; r < r1; r++) {
            if (!row) continue;
            uint8_t *out = dst + (size_t)(r - r0) * dst_rb;
            st->to_float(src + (size_t)r * src_rb, row, ne0);
            dt->from_float(row, out, ne0);
            dt->to_float(out, row, ne0);
            if (!all_finite(row, ne0) && r < bad) bad = r;
        }
        free(row);
    }
    return !ok ? -2 : bad == INT64_MAX ? -1 : bad;
}

typedef struct qz_out {
    FILE *f;
    int error; /* errno of the first failed write, 0 if none */
} qz_out;

static void out_write(qz_out *o, const void *p, size_t n) {
    if (!o->error && n && fwrite(p, 1, n, o->f) != n) o->error = errno ? errno : EIO;
}

static void out_pad(qz_out *o, uint64_t n_bytes, uint64_t align) {
    static const uint8_t zeros[256];
    for (uint64_t gap = align_up(n_bytes, align) - n_bytes; gap;) {
        const size_t k = gap < sizeof zeros ? (size_t)gap : sizeof zeros;
        out_write(o, zeros, k);
        gap -= k;
    }
}

/* Converts t slab by slab into *buf (grown as needed) and writes it. */
static qlm_status write_converted(const qz_job *j, const qz_tensor *t, qz_out *o, uint8_t **buf, size_t *cap) {
    const int64_t rows = t->src->ne[1] * t->src->ne[2] * t->src->ne[3];
    const size_t dst_rb = qlm_row_size(t->type, t->src->ne[0]);
    if (dst_rb == 0 || rows == 0) return QLM_OK;
    const int64_t slab = dst_rb >= QZ_SLAB_BYTES ? 1 : (int64_t)(QZ_SLAB_BYTES / dst_rb);
    const size_t need = (size_t)(rows < slab ? rows : slab) * dst_rb;
    if (need > *cap) {
        uint8_t *p = realloc(*buf, need);
        if (!p) return qlm_err(j->err, QLM_ERR_NOMEM, "%s: out of memory converting %s", j->out_path, t->src->name);
        *buf = p, *cap = need;
    }
    for (int64_t r0 = 0; r0 < rows && !o->error; r0 += slab) {
        const int64_t r1 = r0 + slab < rows ? r0 + slab : rows;
        const int64_t bad = convert_rows(j, t, r0, r1, *buf);
        if (bad == -2) return qlm_err(j->err, QLM_ERR_NOMEM, "%s: out of memory converting %s", j->out_path, t->src->name);
        if (bad >= 0)
            return qlm_err(j->err, QLM_ERR_FORMAT, "%s: tensor %s row %lld: non-finite values after conversion to %s",
                           j->in_path, t->src->name, (long long)bad, qlm_type_name(t->type));
        out_write(o, *buf, (size_t)(r1 - r0) * dst_rb);
    }
    return QLM_OK;
}

/* One line per tensor, in the spirit of llama-quantize's. */
static void log_tensor(const qz_job *j, int64_t i) {
    const qz_tensor *t = &j->t[i];
    char shape[96];
    int k = 0;
    for (uint32_t d = 0; d < t->n_dims && k < (int)sizeof shape; d++)
        k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%lld", d ? " x " : "", (long long)t->src->ne[d]);
    char why[96] = "";
    if (t->fell_back)
        snprintf(why, sizeof why, " (rows of %lld do not fit %s blocks)", (long long)t->src->ne[0],
                 qlm_type_name(j->target));
    qlm_log(&j->log, QLM_LOG_INFO, "[%4lld/%4lld] %-32s [%s] %s -> %s%s, %.2f MiB -> %.2f MiB", (long long)i + 1,
            (long long)j->n, t->src->name, shape, qlm_type_name(t->src->type), qlm_type_name(t->type), why,
            t->src->n_bytes / QZ_MIB, t->n_bytes / QZ_MIB);
}

static qlm_status write_tensors(const qz_job *j, qz_out *o) {
    uint8_t *buf = NULL;
    size_t cap = 0;
    qlm_status st = QLM_OK;
    for (int64_t i = 0; i < j->n && st == QLM_OK && !o->error; i++) {
        const qz_tensor *t = &j->t[i];
        if (t->type == t->src->type) out_write(o, t->src->data, (size_t)t->n_bytes);
        else st = write_converted(j, t, o, &buf, &cap);
        if (st != QLM_OK) break;
        out_pad(o, t->n_bytes, j->align);
        log_tensor(j, i);
        if (j->p->progress && j->p->progress(i + 1, j->n, t->src->name, j->p->progress_user))
            st = qlm_err(j->err, QLM_ERR_STOPPED, "%s: stopped by the progress callback after tensor %s", j->out_path,
                         t->src->name);
    }
    free(buf);
    if (st == QLM_OK && o->error)
        st = qlm_err(j->err, QLM_ERR_IO, "%s: write failed: %s", j->out_path, strerror(o->error));
    return st;
}

/* ---------------------------------------------------------------- file */

/* Written to "<out>.tmp" and renamed, so a failure never leaves a partial
 * file under the real name (as gguf_writer_write_file). */
static qlm_status write_file(const qz_job *j, const void *meta, size_t meta_size) {
    const size_t n = strlen(j->out_path);
    char *tmp = malloc(n + 5);
    if (!tmp) return qlm_err(j->err, QLM_ERR_NOMEM, "%s: out of memory", j->out_path);
    memcpy(tmp, j->out_path, n);
    memcpy(tmp + n, ".tmp", 5);
    qz_out o = {.f = fopen(tmp, "wb")};
    if (!o.f) {
        qlm_status st = qlm_err(j->err, QLM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    out_write(&o, meta, meta_size);
    qlm_status st = write_tensors(j, &o);
    if (fflush(o.f) != 0 && !o.error) o.error = errno ? errno : EIO;
    if (fclose(o.f) != 0 && !o.error) o.error = errno ? errno : EIO;
    if (st == QLM_OK && o.error) st = qlm_err(j->err, QLM_ERR_IO, "%s: write failed: %s", j->out_path, strerror(o.error));
    if (st == QLM_OK && rename(tmp, j->out_path) != 0)
        st = qlm_err(j->err, QLM_ERR_IO, "%s: cannot rename %s to it: %s", j->out_path, tmp, strerror(errno));
    if (st != QLM_OK) remove(tmp);
    free(tmp);
    return st;
}

static void log_summary(const qz_job *j) {
    uint64_t in = 0, out = 0, elems = 0;
    for (int64_t i = 0; i < j->n; i++) {
        in += j->t[i].src->n_bytes, out += j->t[i].n_bytes;
        elems += (uint64_t)(j->t[i].src->ne[0] * j->t[i].src->ne[1] * j->t[i].src->ne[2] * j->t[i].src->ne[3]);
    }
    const double bpw = elems ? 8.0 / (double)elems : 0.0;
    qlm_log(&j->log, QLM_LOG_INFO, "%s: %.2f MiB (%.2f bits per weight) -> %s: %.2f MiB (%.2f bits per weight)",
            j->in_path, in / QZ_MIB, (double)in * bpw, j->out_path, out / QZ_MIB, (double)out * bpw);
    if (j->n_fallback)
        qlm_log(&j->log, QLM_LOG_WARN, "%lld of %lld tensors have rows that %s blocks do not divide: they took a fallback type",
                (long long)j->n_fallback, (long long)j->n, qlm_type_name(j->target));
}

qlm_quantize_params qlm_quantize_default_params(void) {
    return (qlm_quantize_params){.type = "Q8_0", .log_level = QLM_LOG_INFO};
}

static qlm_status run(qz_job *j) {
    gguf_open_params gp = {.use_mmap = true, .allow_unsupported_types = true};
    qlm_status st = gguf_open(j->in_path, &gp, &j->in, j->err);
    if (st != QLM_OK) return st;
    j->align = gguf_alignment(j->in);
    if ((st = plan(j)) != QLM_OK) return st;
    qlm_log(&j->log, QLM_LOG_INFO, "%s -> %s: %lld tensors to %s (pure), %d threads", j->in_path, j->out_path,
            (long long)j->n, qlm_type_name(j->target), j->n_threads);
    void *meta = NULL;
    size_t meta_size = 0;
    st = encode_meta(j, &meta, &meta_size);
    if (st == QLM_OK) st = write_file(j, meta, meta_size);
    if (st == QLM_OK) log_summary(j);
    free(meta);
    return st;
}

qlm_status qlm_quantize_file(const char *in_path, const char *out_path, const qlm_quantize_params *params,
                             char *err, size_t cap) {
    qlm_errbuf eb = {{0}};
    const qlm_quantize_params defaults = qlm_quantize_default_params();
    const qlm_quantize_params *p = params ? params : &defaults;
    qz_job j = {.p = p, .in_path = in_path, .out_path = out_path, .err = &eb,
                .log = {.fn = p->log_fn, .user = p->log_user, .level = p->log_level}};
    const int ti = find_target(p->type);
    qlm_status st = QLM_OK;
    if (!in_path || !out_path)
        st = qlm_err(&eb, QLM_ERR_INVALID_ARG, "qlm_quantize_file: NULL path");
    else if (ti < 0)
        st = qlm_err(&eb, QLM_ERR_INVALID_ARG, "unknown quantization type \"%s\" (one of: %s)",
                     p->type ? p->type : "(null)", qlm_quantize_types());
    else if (p->n_threads < 0)
        st = qlm_err(&eb, QLM_ERR_INVALID_ARG, "n_threads %d is negative", p->n_threads);
    if (st == QLM_OK) {
        j.target = targets[ti].type;
        j.ftype = targets[ti].ftype;
        j.n_threads = p->n_threads > 0 ? p->n_threads : omp_get_num_procs();
        st = run(&j);
    }
    if (st != QLM_OK) qlm_log(&j.log, QLM_LOG_ERROR, "%s", eb.msg);
    if (err && cap) snprintf(err, cap, "%s", st == QLM_OK ? "" : eb.msg);
    free(j.t);
    gguf_close(j.in);
    return st;
}
