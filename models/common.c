/* common.c - helpers the per-architecture files share: typed hyperparameter
 * lookups with clear errors, tensor binding with shape checks, and views of
 * fused tensors. */
#include <stdio.h>
#include <string.h>

#include "arch.h"

static void arch_key(const qlm_model *m, const char *suffix, char *key, size_t cap) {
    snprintf(key, cap, "%s.%s", m->arch->name, suffix);
}

qlm_status arch_get_u32(qlm_model *m, const char *suffix, int required, uint32_t def, int32_t *out,
                        qlm_errbuf *err) {
    char key[128];
    arch_key(m, suffix, key, sizeof key);
    uint32_t v;
    if (!gguf_find(m->gguf, key)) {
        if (required) return qlm_err(err, QLM_ERR_FORMAT, "%s: missing key %s", m->path, key);
        v = def;
    } else if (!gguf_get_u32(m->gguf, key, &v)) {
        return qlm_err(err, QLM_ERR_FORMAT, "%s: key %s is not an unsigned integer", m->path, key);
    }
    /* Every count we read is used in size arithmetic: cap it far below overflow. */
    if (v > (1u << 24))
        return qlm_err(err, QLM_ERR_FORMAT, "%s: key %s = %u is absurdly large", m->path, key, v);
    *out = (int32_t)v;
    return QLM_OK;
}

qlm_status arch_get_f32(qlm_model *m, const char *suffix, int required, float def, float *out,
                        qlm_errbuf *err) {
    char key[128];
    arch_key(m, suffix, key, sizeof key);
    if (!gguf_find(m->gguf, key)) {
        if (required) return qlm_err(err, QLM_ERR_FORMAT, "%s: missing key %s", m->path, key);
        *out = def;
        return QLM_OK;
    }
    if (!gguf_get_f32(m->gguf, key, out))
        return qlm_err(err, QLM_ERR_FORMAT, "%s: key %s is not a float", m->path, key);
    if (!(*out == *out) || *out > 1e30f || *out < -1e30f)
        return qlm_err(err, QLM_ERR_FORMAT, "%s: key %s is not finite", m->path, key);
    return QLM_OK;
}

static qlm_status check_type(const qlm_model *m, const gguf_tensor *gt, int is_matrix, qlm_errbuf *err) {
    const qlm_type_traits *tt = qlm_type_traits_get(gt->type);
    if (!tt || !tt->to_float || (is_matrix && !tt->vec_dot))
        return qlm_err(err, QLM_ERR_UNSUPPORTED, "%s: tensor %s has type %s, which qlm cannot compute yet",
                       m->path, gt->name, qlm_type_name(gt->type));
    if (!is_matrix && gt->type != QLM_TYPE_F32)
        return qlm_err(err, QLM_ERR_UNSUPPORTED, "%s: tensor %s: norm weights and biases must be F32, got %s",
                       m->path, gt->name, qlm_type_name(gt->type));
    return QLM_OK;
}

qlm_status arch_bind(qlm_model *m, qlm_tensor *t, const char *name, int64_t ne0, int64_t ne1,
                     int optional, qlm_errbuf *err) {
    memset(t, 0, sizeof *t);
    const gguf_tensor *gt = gguf_find_tensor(m->gguf, name);
    if (!gt) {
        if (optional) return QLM_OK;
        return qlm_err(err, QLM_ERR_FORMAT, "%s: missing tensor %s", m->path, name);
    }
    const int is_matrix = ne1 > 0;
    const uint32_t want_dims = is_matrix ? 2 : 1;
    if (gt->n_dims != want_dims || gt->ne[0] != ne0 || (is_matrix && gt->ne[1] != ne1))
        return qlm_err(err, QLM_ERR_FORMAT,
                       "%s: tensor %s has shape [%lld, %lld] (%u dims), expected [%lld, %lld]",
                       m->path, name, (long long)gt->ne[0], (long long)gt->ne[1], gt->n_dims,
                       (long long)ne0, (long long)(is_matrix ? ne1 : 1));
    qlm_status st = check_type(m, gt, is_matrix, err);
    if (st != QLM_OK) return st;
    t->name = gt->name;
    t->type = gt->type;
    for (int d = 0; d < 4; d++) t->ne[d] = gt->ne[d];
    t->row_bytes = qlm_row_size(gt->type, gt->ne[0]);
    t->data = gt->data;
    return QLM_OK;
}

qlm_status arch_bind_blk(qlm_model *m, qlm_tensor *t, int il, const char *suffix, int64_t ne0, int64_t ne1,
                         int optional, qlm_errbuf *err) {
    char name[128];
    snprintf(name, sizeof name, "blk.%d.%s", il, suffix);
    return arch_bind(m, t, name, ne0, ne1, optional, err);
}

qlm_tensor arch_view_rows(const qlm_tensor *t, int64_t first, int64_t n) {
    qlm_tensor v = *t;
    v.ne[1] = n;
    v.data = (const char *)t->data + (size_t)first * t->row_bytes;
    return v;
}

qlm_tensor arch_view_elems(const qlm_tensor *t, int64_t first, int64_t n) {
    qlm_tensor v = *t;
    v.ne[0] = n;
    v.row_bytes = n * sizeof(float);
    v.data = (const float *)t->data + first;
    return v;
}

/* Fused attn_qkv rows are Q, then K, then V (llama.cpp's build_qkv): each
 * part is a contiguous row range, so a view of it is an ordinary tensor and
 * the R16 repack packs each part in place on its own. */
qlm_status arch_bind_qkv(qlm_model *m, int il, qlm_errbuf *err) {
    const qlm_hparams *hp = &m->hp;
    qlm_layer *l = &m->layers[il];
    const int64_t e = hp->n_embd, q = (int64_t)hp->n_head * hp->head_dim;
    const int64_t kv = (int64_t)hp->n_head_kv * hp->head_dim;
    qlm_tensor w, b;
    qlm_status st;
    if ((st = arch_bind_blk(m, &w, il, "attn_qkv.weight", e, q + 2 * kv, 1, err))) return st;
    if (w.data) {
        l->wq = arch_view_rows(&w, 0, q), l->wk = arch_view_rows(&w, q, kv);
        l->wv = arch_view_rows(&w, q + kv, kv);
        if ((st = arch_bind_blk(m, &b, il, "attn_qkv.bias", q + 2 * kv, 0, 1, err))) return st;
        if (b.data) {
            l->bq = arch_view_elems(&b, 0, q), l->bk = arch_view_elems(&b, q, kv);
            l->bv = arch_view_elems(&b, q + kv, kv);
            return QLM_OK;
        }
    } else if ((st = arch_bind_blk(m, &l->wq, il, "attn_q.weight", e, q, 0, err)) ||
               (st = arch_bind_blk(m, &l->wk, il, "attn_k.weight", e, kv, 0, err)) ||
               (st = arch_bind_blk(m, &l->wv, il, "attn_v.weight", e, kv, 0, err))) {
        return st;
    }
    if ((st = arch_bind_blk(m, &l->bq, il, "attn_q.bias", q, 0, 1, err)) ||
        (st = arch_bind_blk(m, &l->bk, il, "attn_k.bias", kv, 0, 1, err)) ||
        (st = arch_bind_blk(m, &l->bv, il, "attn_v.bias", kv, 0, 1, err)))
        return st;
    return QLM_OK;
}

qlm_status arch_bind_qk_norms(qlm_model *m, int il, qlm_errbuf *err) {
    qlm_layer *l = &m->layers[il];
    const int64_t hd = m->hp.head_dim;
    qlm_status st = arch_bind_blk(m, &l->attn_q_norm, il, "attn_q_norm.weight", hd, 0, 0, err);
    return st != QLM_OK ? st : arch_bind_blk(m, &l->attn_k_norm, il, "attn_k_norm.weight", hd, 0, 0, err);
}
