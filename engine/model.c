/* model.c - qlm_model_load and the model getters. The file stays mapped for
 * the model's lifetime: weights are used in place (no copy), but for TQ1_0
 * weights the repack transcodes into buffers of their own (repack.c;
 * qlm_model.owned). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "model.h"
#include "tokenizer.h"
#ifdef QLM_HAVE_CUDA
#include "cuda.h"
#endif

qlm_model_params qlm_model_default_params(void) {
    qlm_model_params p = {.use_mmap = 1, .n_threads = 0, .vocab_only = 0, .repack = 1,
                          .device = QLM_DEVICE_AUTO, .n_gpu_layers = -1, .log_fn = NULL, .log_user = NULL, .log_level = QLM_LOG_INFO};
    return p;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static qlm_status model_find_arch(qlm_model *m) {
    const char *s;
    size_t len;
    if (!gguf_get_str(m->gguf, "general.architecture", &s, &len))
        return qlm_err(&m->err, QLM_ERR_FORMAT, "%s: missing key general.architecture", m->path);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), s);
    m->arch = qlm_arch_find(name);
    if (!m->arch)
        return qlm_err(&m->err, QLM_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (supported: %s)",
                       m->path, name, qlm_arch_list());
    return QLM_OK;
}

/* String metadata is not NUL-terminated in the file: keep terminated copies
 * (indexed like the kvs) so qlm_model_meta_str can hand out C strings. */
static qlm_status model_copy_strings(qlm_model *m) {
    const int64_t n = gguf_kv_count(m->gguf);
    m->meta_strs = calloc((size_t)n + 1, sizeof *m->meta_strs);
    if (!m->meta_strs) return qlm_err(&m->err, QLM_ERR_NOMEM, "%s: out of memory", m->path);
    for (int64_t i = 0; i < n; i++) {
        const gguf_value *v = &gguf_kv_at(m->gguf, i)->value;
        if (v->type != GGUF_VTYPE_STRING) continue;
        if (!(m->meta_strs[i] = dup_n((const char *)v->raw, v->len)))
            return qlm_err(&m->err, QLM_ERR_NOMEM, "%s: out of memory", m->path);
    }
    m->chat_template = qlm_model_meta_str(m, "tokenizer.chat_template");
    m->name = qlm_model_meta_str(m, "general.name");
    return QLM_OK;
}

static void model_count_params(qlm_model *m) {
    for (int64_t i = 0; i < gguf_tensor_count(m->gguf); i++) {
        const gguf_tensor *t = gguf_tensor_at(m->gguf, i);
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        m->n_weight_bytes += t->n_bytes;
    }
}

static qlm_status model_load_weights(qlm_model *m) {
    const gguf_tensor *embd = gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!embd) return qlm_err(&m->err, QLM_ERR_FORMAT, "%s: missing tensor token_embd.weight", m->path);
    if (embd->ne[1] <= 0 || embd->ne[1] > INT32_MAX)
        return qlm_err(&m->err, QLM_ERR_FORMAT, "%s: token_embd.weight has %lld rows", m->path,
                       (long long)embd->ne[1]);
    m->hp.n_vocab = (int32_t)embd->ne[1];
    qlm_status st = m->arch->load_hparams(m, &m->err);
    if (st != QLM_OK) return st;
    m->layers = calloc((size_t)m->hp.n_layer, sizeof *m->layers);
    if (!m->layers) return qlm_err(&m->err, QLM_ERR_NOMEM, "%s: out of memory for %d layers", m->path, m->hp.n_layer);
    st = m->arch->bind_weights(m, &m->err);
    if (st != QLM_OK) return st;
    if (qlm_tokenizer_n_vocab(m->tok) > m->hp.n_vocab)
        qlm_log(&m->log, QLM_LOG_WARN, "%s: tokenizer has %d tokens but the embedding only %d rows",
                m->path, qlm_tokenizer_n_vocab(m->tok), m->hp.n_vocab);
    return QLM_OK;
}

/* Uploads the first n_gpu_layers layers to the GPU when the device is (or
 * resolves to) CUDA. AUTO never picks the CPU emulator of the test build. */
static qlm_status model_offload(qlm_model *m, const qlm_model_params *p) {
    if (p->device != QLM_DEVICE_AUTO && p->device != QLM_DEVICE_CPU && p->device != QLM_DEVICE_CUDA)
        return qlm_err(&m->err, QLM_ERR_INVALID_ARG, "unknown device %d", (int)p->device);
    if (p->device == QLM_DEVICE_CPU || p->n_gpu_layers == 0) return QLM_OK;
#ifdef QLM_HAVE_CUDA
    int auto_ok = qlm_cuda_device_count() > 0;
#ifdef QLM_CUDA_EMU
    auto_ok = 0;
#endif
    if (p->device == QLM_DEVICE_AUTO && !auto_ok) return QLM_OK;
    if (qlm_cuda_device_count() == 0)
        return qlm_err(&m->err, QLM_ERR_UNSUPPORTED, "--device cuda: no CUDA device found (driver or GPU missing)");
    const int ngl = p->n_gpu_layers < 0 ? m->hp.n_layer + 1 : p->n_gpu_layers;
    qlm_status st = qlm_cuda_model_new(m, ngl, &m->cuda, &m->err);
    if (st != QLM_OK) return st;
    char dev[160];
    qlm_cuda_describe(dev, sizeof dev);
    qlm_log(&m->log, QLM_LOG_INFO, "cuda: %s: %d of %d layers%s on the GPU, %.1f MiB", dev,
            qlm_cuda_model_n_layers(m->cuda), m->hp.n_layer, qlm_cuda_model_has_output(m->cuda) ? " and the output" : "",
            qlm_cuda_model_bytes(m->cuda) / 1048576.0);
    return QLM_OK;
#else
    if (p->device == QLM_DEVICE_CUDA)
        return qlm_err(&m->err, QLM_ERR_UNSUPPORTED, "--device cuda: this build has no CUDA (rebuild with nvcc: make CUDA=1)");
    return QLM_OK;
#endif
}

static qlm_status model_load(qlm_model *m, const qlm_model_params *p) {
    gguf_open_params gp = {.use_mmap = p->use_mmap != 0, .allow_unsupported_types = true,
                           .writable = p->repack != 0 && !p->vocab_only};
    qlm_status st = gguf_open(m->path, &gp, &m->gguf, &m->err);
    if (st != QLM_OK) return st;
    if ((st = model_copy_strings(m)) != QLM_OK) return st;
    if ((st = tok_from_gguf(m->gguf, &m->tok, &m->err)) != QLM_OK) return st;
    if (tok_warning(m->tok) && *tok_warning(m->tok))
        qlm_log(&m->log, QLM_LOG_WARN, "%s: %s", m->path, tok_warning(m->tok));
    model_count_params(m);
    if (p->vocab_only) return QLM_OK;
    if ((st = model_find_arch(m)) != QLM_OK) return st;
    if ((st = model_load_weights(m)) != QLM_OK) return st;
    const char *note;
    m->ops = qlm_ops_select_note(&note);
    if (note) qlm_log(&m->log, QLM_LOG_WARN, "kernels: %s", note);
    if ((st = model_offload(m, p)) != QLM_OK) return st; /* before the repack: the file's rows go up */
    if (p->repack && (st = qlm_model_repack(m)) != QLM_OK) return st;
    qlm_log(&m->log, QLM_LOG_DEBUG, "cpu features: %s", qlm_system_cpu_features());
    qlm_log(&m->log, QLM_LOG_INFO, "%s: %s, %d layers, %d embd, %d heads (%d kv), %.1f M params, "
            "%.1f MiB, kernels %s", m->path, m->arch->name, m->hp.n_layer, m->hp.n_embd,
            m->hp.n_head, m->hp.n_head_kv, m->n_params / 1e6, m->n_weight_bytes / 1048576.0,
            m->ops->name);
    return QLM_OK;
}

qlm_status qlm_model_load(const char *path, const qlm_model_params *params, qlm_model **out) {
    if (!out) return QLM_ERR_INVALID_ARG;
    *out = NULL;
    qlm_model *m = calloc(1, sizeof *m);
    if (!m) return QLM_ERR_NOMEM;
    *out = m;
    qlm_model_params p = params ? *params : qlm_model_default_params();
    m->log = (qlm_logger){p.log_fn, p.log_user, p.log_level};
    m->vocab_only = p.vocab_only;
    m->n_threads = p.n_threads > 0 ? p.n_threads : omp_get_num_procs();
    if (!path) return qlm_err(&m->err, QLM_ERR_INVALID_ARG, "model path is NULL");
    if (!(m->path = dup_n(path, strlen(path)))) return qlm_err(&m->err, QLM_ERR_NOMEM, "out of memory");
    qlm_status st = model_load(m, &p);
    if (st != QLM_OK) qlm_log(&m->log, QLM_LOG_ERROR, "%s", m->err.msg);
    return st;
}

void qlm_model_free(qlm_model *m) {
    if (!m) return;
    qlm_tokenizer_free(m->tok);
#ifdef QLM_HAVE_CUDA
    qlm_cuda_model_free(m->cuda);
#endif
    free(m->layers);
    for (int64_t i = 0; m->meta_strs && i < gguf_kv_count(m->gguf); i++) free(m->meta_strs[i]);
    free(m->meta_strs);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i].data);
    free(m->owned);
    gguf_close(m->gguf);
    free(m->path);
    free(m);
}

const char *qlm_model_last_error(const qlm_model *m) { return m ? m->err.msg : "model is NULL"; }
const char *qlm_model_arch(const qlm_model *m) { return m && m->arch ? m->arch->name : ""; }
const char *qlm_model_device(const qlm_model *m, int *n_gpu_layers) {
    int n = 0;
    (void)m;
#ifdef QLM_HAVE_CUDA
    n = m ? qlm_cuda_model_n_layers(m->cuda) : 0;
    if (m && m->cuda && n_gpu_layers) *n_gpu_layers = n;
    if (m && m->cuda) return "cuda";
#endif
    if (n_gpu_layers) *n_gpu_layers = n;
    return "cpu";
}
const char *qlm_model_name(const qlm_model *m) { return m && m->name ? m->name : ""; }
uint64_t qlm_model_n_params(const qlm_model *m) { return m ? m->n_params : 0; }
uint64_t qlm_model_size_bytes(const qlm_model *m) { return m ? m->n_weight_bytes : 0; }
int32_t qlm_model_n_vocab(const qlm_model *m) { return m ? m->hp.n_vocab : 0; }
int32_t qlm_model_n_ctx_train(const qlm_model *m) { return m ? m->hp.n_ctx_train : 0; }
int32_t qlm_model_n_layer(const qlm_model *m) { return m ? m->hp.n_layer : 0; }
int32_t qlm_model_n_embd(const qlm_model *m) { return m ? m->hp.n_embd : 0; }
const char *qlm_model_chat_template(const qlm_model *m) { return m ? m->chat_template : NULL; }
const qlm_tokenizer *qlm_model_tokenizer(const qlm_model *m) { return m ? m->tok : NULL; }

int64_t qlm_model_meta_count(const qlm_model *m) { return m && m->gguf ? gguf_kv_count(m->gguf) : 0; }

const char *qlm_model_meta_key(const qlm_model *m, int64_t i) {
    if (i < 0 || i >= qlm_model_meta_count(m)) return NULL;
    return gguf_kv_at(m->gguf, i)->key;
}

size_t qlm_model_meta_value(const qlm_model *m, int64_t i, char *buf, size_t cap) {
    if (i < 0 || i >= qlm_model_meta_count(m)) {
        if (buf && cap) buf[0] = '\0';
        return 0;
    }
    return gguf_value_format(&gguf_kv_at(m->gguf, i)->value, buf, cap, 8);
}

const char *qlm_model_meta_str(const qlm_model *m, const char *key) {
    if (!m || !m->gguf || !m->meta_strs || !key) return NULL;
    for (int64_t i = 0; i < gguf_kv_count(m->gguf); i++)
        if (m->meta_strs[i] && strcmp(gguf_kv_at(m->gguf, i)->key, key) == 0) return m->meta_strs[i];
    return NULL;
}

int64_t qlm_model_tensor_count(const qlm_model *m) { return m && m->gguf ? gguf_tensor_count(m->gguf) : 0; }

qlm_status qlm_model_tensor_info(const qlm_model *m, int64_t i, qlm_tensor_info *out) {
    if (!out || i < 0 || i >= qlm_model_tensor_count(m)) return QLM_ERR_INVALID_ARG;
    const gguf_tensor *t = gguf_tensor_at(m->gguf, i);
    out->name = t->name;
    out->type_name = qlm_type_name(t->type);
    out->n_dims = (int)t->n_dims;
    for (int d = 0; d < 4; d++) out->ne[d] = t->ne[d];
    out->offset = gguf_data_offset(m->gguf) + t->offset;
    out->n_bytes = t->n_bytes;
    out->loaded_type_name = out->type_name;
    out->loaded_bytes = t->n_bytes;
    for (int k = 0; k < m->n_owned; k++) {
        const qlm_owned_weight *o = &m->owned[k];
        if (strcmp(o->name, t->name) != 0) continue;
        out->loaded_type_name = qlm_type_name(o->type);
        out->loaded_bytes += o->bytes - o->file_bytes;
    }
    return QLM_OK;
}
