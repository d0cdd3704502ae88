/* tokenizer.c - the public tokenizer API of qlm.h: loading, tokenize,
 * rendering tokens back to bytes, and the id getters.
 *
 * A tokenizer is read-only once loaded; every call below keeps its scratch
 * in locals or per-call allocations, so one handle serves many threads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

void tok_ids_push(tok_ids *ids, int32_t id) {
    if (ids->oom) return;
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (!v) {
            ids->oom = true;
            return;
        }
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
}

void tok_ids_free(tok_ids *ids) {
    free(ids->v);
    memset(ids, 0, sizeof *ids);
}

/* ------------------------------------------------------------------ load */

static void tok_release(qlm_tokenizer *t) {
    tok_vocab_free(&t->v);
    tok_pretok_free(&t->pre);
    tok_sp_free(t);
}

qlm_status tok_from_gguf(const gguf_ctx *g, qlm_tokenizer **out, qlm_errbuf *err) {
    if (!out) return qlm_err(err, QLM_ERR_INVALID_ARG, "tok_from_gguf: out is NULL");
    *out = NULL;
    if (!g) return qlm_err(err, QLM_ERR_INVALID_ARG, "tok_from_gguf: no GGUF context");
    qlm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return qlm_err(err, QLM_ERR_NOMEM, "tokenizer: out of memory");
    qlm_status st = tok_vocab_from_gguf(t, g);
    if (st != QLM_OK) {
        qlm_err(err, st, "%s", t->err.msg);
        tok_release(t);
        free(t);
        return st;
    }
    *out = t;
    return QLM_OK;
}

const char *tok_warning(const qlm_tokenizer *t) { return t ? t->warning : ""; }

/* GGUF by magic; SentencePiece models are protobufs whose first field (the
 * repeated pieces, field 1, length-delimited) starts with the byte 0x0A. */
static qlm_status load_file(qlm_tokenizer *t, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return qlm_err(&t->err, QLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char head[4] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n == 4 && memcmp(head, GGUF_MAGIC, 4) == 0) {
        gguf_open_params p = {.use_mmap = true, .allow_unsupported_types = true};
        gguf_ctx *g = NULL;
        qlm_status st = gguf_open(path, &p, &g, &t->err);
        if (st != QLM_OK) return st;
        st = tok_vocab_from_gguf(t, g);
        gguf_close(g);
        return st;
    }
    if (n >= 1 && head[0] == 0x0A) return tok_sp_load(t, path);
    return qlm_err(&t->err, QLM_ERR_FORMAT, "%s: neither a GGUF file nor a SentencePiece model", path);
}

qlm_status qlm_tokenizer_load(const char *path, qlm_tokenizer **out) {
    if (!out) return QLM_ERR_INVALID_ARG;
    *out = NULL;
    qlm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return QLM_ERR_NOMEM;
    qlm_status st = path ? load_file(t, path)
                         : qlm_err(&t->err, QLM_ERR_INVALID_ARG, "qlm_tokenizer_load: path is NULL");
    if (st != QLM_OK) {
        /* Keep only the message: a failed handle answers every call with
         * an error and reports n_vocab 0. */
        tok_release(t);
        if (st == QLM_ERR_NOMEM) {
            free(t);
            return st;
        }
    }
    *out = t;
    return st;
}

void qlm_tokenizer_free(qlm_tokenizer *tok) {
    if (!tok) return;
    tok_release(tok);
    free(tok);
}

const char *qlm_tokenizer_last_error(const qlm_tokenizer *tok) {
    return tok ? tok->err.msg : "no tokenizer (NULL handle)";
}

/* -------------------------------------------------------------- tokenize */

static void encode_text(const qlm_tokenizer *t, const char *text, size_t len, bool prev_special,
                        tok_ids *ids) {
    switch (t->kind) {
    case TOK_KIND_SPM:
        /* llama.cpp puts the space prefix before the first run and before
         * every run that follows a special token. */
        tok_spm_encode(&t->v, text, len, t->v.add_space_prefix && prev_special, ids);
        break;
    case TOK_KIND_BPE: tok_bpe_encode(t, text, len, ids); break;
    case TOK_KIND_SP: tok_sp_encode(t, text, len, ids); break;
    }
}

static qlm_status tokenize_all(const qlm_tokenizer *t, const char *text, size_t len,
                               unsigned flags, tok_ids *ids) {
    const tok_vocab *v = &t->v;
    bool model_default = (flags & QLM_TOKENIZE_MODEL_DEFAULT_BOS) != 0;
    if (((flags & QLM_TOKENIZE_ADD_BOS) || (model_default && v->add_bos)) && v->bos >= 0)
        tok_ids_push(ids, v->bos);
    tok_frag *frags = NULL;
    bool oom = false;
    size_t n = tok_special_split(v, text, len, (flags & QLM_TOKENIZE_PARSE_SPECIAL) != 0, &frags, &oom);
    bool prev_special = true;
    for (size_t i = 0; i < n && !ids->oom; i++) {
        if (frags[i].id >= 0) {
            tok_ids_push(ids, frags[i].id);
            prev_special = true;
        } else {
            encode_text(t, text + frags[i].off, frags[i].len, prev_special, ids);
            prev_special = false;
        }
    }
    free(frags);
    /* The model's own defaults include EOS for the few vocabularies that ask. */
    if (model_default && v->add_eos && v->eos >= 0) tok_ids_push(ids, v->eos);
    return (oom || ids->oom) ? QLM_ERR_NOMEM : QLM_OK;
}

static bool tok_ready(const qlm_tokenizer *t) { return t && t->v.n > 0; }

qlm_status qlm_tokenize(const qlm_tokenizer *tok, const char *text, size_t len, int32_t *out,
                        size_t cap, size_t *n_out, unsigned flags) {
    if (n_out) *n_out = 0;
    if (!tok_ready(tok) || !n_out || (!text && len > 0) || (!out && cap > 0))
        return QLM_ERR_INVALID_ARG;
    tok_ids ids = {0};
    qlm_status st = tokenize_all(tok, text ? text : "", len, flags, &ids);
    if (st == QLM_OK) {
        *n_out = ids.n;
        if (ids.n > cap) st = QLM_ERR_BUFFER_TOO_SMALL;
        else if (ids.n > 0) memcpy(out, ids.v, ids.n * sizeof *out);
    }
    tok_ids_free(&ids);
    return st;
}

/* A first guess that almost always fits (one id per byte plus BOS/EOS and the
 * space prefix); the size contract gives the exact need when it does not. */
qlm_status qlm_tokenize_alloc(const qlm_tokenizer *tok, const char *text, size_t len, int32_t **ids,
                              size_t *n_out, unsigned flags) {
    if (!ids || !n_out) return QLM_ERR_INVALID_ARG;
    size_t cap = len + 8;
    qlm_status st = QLM_ERR_BUFFER_TOO_SMALL;
    for (int attempt = 0; attempt < 2 && st == QLM_ERR_BUFFER_TOO_SMALL; attempt++) {
        if (!(*ids = malloc(cap * sizeof **ids))) return QLM_ERR_NOMEM;
        st = qlm_tokenize(tok, text, len, *ids, cap, n_out, flags);
        if (st != QLM_OK) {
            free(*ids);
            *ids = NULL;
            cap = *n_out;
        }
    }
    return st;
}

/* ------------------------------------------------------------ detokenize */

/* The bytes token id renders to: control and unknown tokens only with
 * QLM_DETOKENIZE_SPECIAL (as their text), unused/undefined ones never. */
static const char *render(const tok_vocab *v, int32_t id, unsigned flags, size_t *len) {
    uint8_t a = v->attr[id];
    if (a & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN)) {
        if (flags & QLM_DETOKENIZE_SPECIAL) return tok_blob_str(&v->text, id, len);
    } else if (a & (TOK_ATTR_NORMAL | TOK_ATTR_BYTE | TOK_ATTR_USER_DEFINED)) {
        return tok_blob_str(&v->piece, id, len);
    }
    *len = 0;
    return "";
}

qlm_status qlm_token_to_piece(const qlm_tokenizer *tok, int32_t id, char *buf, size_t cap,
                              size_t *n_out, unsigned flags) {
    if (n_out) *n_out = 0;
    if (!tok_ready(tok) || !n_out || (!buf && cap > 0) || id < 0 || id >= tok->v.n)
        return QLM_ERR_INVALID_ARG;
    size_t len;
    const char *s = render(&tok->v, id, flags, &len);
    *n_out = len;
    if (len > cap) return QLM_ERR_BUFFER_TOO_SMALL;
    if (len) memcpy(buf, s, len);
    if (len < cap) buf[len] = '\0'; /* a convenience, not part of the count */
    return QLM_OK;
}

qlm_status qlm_detokenize(const qlm_tokenizer *tok, const int32_t *ids, size_t n, char *buf,
                          size_t cap, size_t *n_out, unsigned flags) {
    if (n_out) *n_out = 0;
    if (!tok_ready(tok) || !n_out || (!ids && n > 0) || (!buf && cap > 0)) return QLM_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->v.n) return QLM_ERR_INVALID_ARG;
    }
    /* SentencePiece: the space the tokenizer prepended comes off the first
     * piece that renders anything (a leading BOS renders nothing). */
    bool strip = tok->v.add_space_prefix && tok->kind != TOK_KIND_BPE;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        bool strip_next = strip;
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *s = render(&tok->v, ids[i], flags, &len);
            if (len == 0) continue;
            if (strip_next && s[0] == ' ') s++, len--;
            strip_next = false;
            if (pass == 1 && len) memcpy(buf + w, s, len);
            w += len;
        }
        total = w;
        if (pass == 0 && total > cap) {
            *n_out = total;
            return QLM_ERR_BUFFER_TOO_SMALL;
        }
    }
    *n_out = total;
    if (total < cap) buf[total] = '\0';
    return QLM_OK;
}

/* --------------------------------------------------------------- getters */

int32_t qlm_tokenizer_n_vocab(const qlm_tokenizer *tok) { return tok ? tok->v.n : 0; }
int32_t qlm_token_bos(const qlm_tokenizer *tok) { return tok_ready(tok) ? tok->v.bos : -1; }
int32_t qlm_token_eos(const qlm_tokenizer *tok) { return tok_ready(tok) ? tok->v.eos : -1; }
int32_t qlm_token_eot(const qlm_tokenizer *tok) { return tok_ready(tok) ? tok->v.eot : -1; }

int qlm_token_is_eog(const qlm_tokenizer *tok, int32_t id) {
    if (!tok_ready(tok) || id < 0 || id >= tok->v.n) return 0;
    return (tok->v.attr[id] & TOK_ATTR_EOG) != 0;
}

const char *qlm_tokenizer_kind(const qlm_tokenizer *tok) {
    if (!tok_ready(tok)) return "";
    switch (tok->kind) {
    case TOK_KIND_SPM: return "spm";
    case TOK_KIND_BPE: return "bpe";
    case TOK_KIND_SP: return "sentencepiece";
    }
    return "";
}
