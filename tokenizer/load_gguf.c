/* load_gguf.c - a vocabulary from the tokenizer.ggml.* keys of a GGUF file.
 *
 * Follows llama.cpp's llama_vocab::load: the same keys, defaults and checks.
 * Every array is checked for type and length before use; a malformed key is
 * an error naming it, never a crash. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TYPES "tokenizer.ggml.token_type"
#define KEY_MERGES "tokenizer.ggml.merges"

/* Appends a non-fatal note to t->warning ("; "-separated, truncated). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void add_warning(qlm_tokenizer *t, const char *fmt, ...) {
    size_t used = strlen(t->warning);
    if (used + 3 >= sizeof t->warning) return;
    if (used) {
        memcpy(t->warning + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->warning + used, sizeof t->warning - used, fmt, ap);
    va_end(ap);
}

static const gguf_value *find_array(const gguf_ctx *g, const char *key, gguf_vtype elem,
                                    gguf_vtype elem2) {
    const gguf_value *v = gguf_find(g, key);
    if (!v || v->type != GGUF_VTYPE_ARRAY) return NULL;
    if (v->elem_type != elem && v->elem_type != elem2) return NULL;
    return v;
}

static uint8_t attr_from_type(int64_t type) {
    switch (type) {
    case 1: return TOK_ATTR_NORMAL;
    case 2: return TOK_ATTR_UNKNOWN;
    case 3: return TOK_ATTR_CONTROL;
    case 4: return TOK_ATTR_USER_DEFINED;
    case 5: return TOK_ATTR_UNUSED;
    case 6: return TOK_ATTR_BYTE;
    default: return TOK_ATTR_UNDEFINED;
    }
}

/* Scores (float or int) and types; both optional but, when present, must be
 * arrays of the right type covering every token. */
static qlm_status read_scores_types(tok_vocab *v, const gguf_ctx *g, qlm_errbuf *err) {
    v->scores = calloc((size_t)v->n, sizeof *v->scores);
    v->attr = malloc((size_t)v->n);
    if (!v->scores || !v->attr) return qlm_err(err, QLM_ERR_NOMEM, "tokenizer: out of memory");
    memset(v->attr, TOK_ATTR_NORMAL, (size_t)v->n);
    if (gguf_find(g, KEY_SCORES)) {
        const gguf_value *s = find_array(g, KEY_SCORES, GGUF_VTYPE_FLOAT32, GGUF_VTYPE_INT32);
        if (!s) return qlm_err(err, QLM_ERR_FORMAT, "%s: not an array of float32/int32", KEY_SCORES);
        if (s->len < (uint64_t)v->n)
            return qlm_err(err, QLM_ERR_FORMAT, "%s: %llu entries for %d tokens", KEY_SCORES,
                           (unsigned long long)s->len, v->n);
        for (int32_t i = 0; i < v->n; i++) {
            int64_t iv = 0;
            if (!gguf_arr_f32(s, (uint64_t)i, &v->scores[i]) && gguf_arr_i64(s, (uint64_t)i, &iv))
                v->scores[i] = (float)iv;
        }
    }
    if (gguf_find(g, KEY_TYPES)) {
        const gguf_value *t = find_array(g, KEY_TYPES, GGUF_VTYPE_INT32, GGUF_VTYPE_INT32);
        if (!t) return qlm_err(err, QLM_ERR_FORMAT, "%s: not an array of int32", KEY_TYPES);
        if (t->len < (uint64_t)v->n)
            return qlm_err(err, QLM_ERR_FORMAT, "%s: %llu entries for %d tokens", KEY_TYPES,
                           (unsigned long long)t->len, v->n);
        for (int32_t i = 0; i < v->n; i++) {
            int64_t ty = 0;
            gguf_arr_i64(t, (uint64_t)i, &ty);
            v->attr[i] = attr_from_type(ty);
        }
    }
    return QLM_OK;
}

/* "<0xAB>" -> 0xAB; -1 if the text is not a byte token. */
static int parse_byte_token(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* SPM rendering: U+2581 becomes a space, byte tokens their byte. tmp holds
 * at least len bytes (the piece is never longer than the text). */
bool tok_push_spm_piece(tok_vocab *v, int32_t id, const char *s, size_t len, char *tmp) {
    int byte = (v->attr[id] & TOK_ATTR_BYTE) ? parse_byte_token(s, len) : -1;
    if (byte >= 0) {
        char c = (char)byte;
        return tok_blob_push(&v->piece, &c, 1);
    }
    if (!(v->attr[id] & TOK_ATTR_NORMAL)) return tok_blob_push(&v->piece, s, len);
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        if (i + 2 < len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
            tmp[w++] = ' ';
            i += 2;
        } else {
            tmp[w++] = s[i];
        }
    }
    return tok_blob_push(&v->piece, tmp, w);
}

/* BPE: decodes text through the inverse GPT-2 byte map into out (len bytes
 * at most since each code point yields one byte). Returns false if some
 * character is not in the map or the text is not valid UTF-8. */
static bool bpe_decode_text(const char *s, size_t len, char *out, size_t *n_out) {
    size_t i = 0, w = 0;
    while (i < len) {
        uint32_t cp;
        size_t k = tok_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (k == 0) return false;
        int b = tok_bpe_cp_to_byte(cp);
        if (b < 0) return false;
        out[w++] = (char)b;
        i += k;
    }
    *n_out = w;
    return true;
}

/* Builds text, piece and (BPE) raw blobs plus the maps over them. */
static qlm_status read_texts(tok_vocab *v, const gguf_value *toks, bool bpe, qlm_errbuf *err) {
    size_t bytes = 0;
    for (int32_t i = 0; i < v->n; i++) bytes += toks->items[i].len + 16;
    bool *skip = bpe ? calloc((size_t)v->n, sizeof *skip) : NULL;
    char *tmp = NULL;
    size_t tmp_cap = 0;
    qlm_status st = QLM_OK;
    if (!tok_blob_init(&v->text, v->n, bytes) || !tok_blob_init(&v->piece, v->n, bytes) ||
        (bpe && (!skip || !tok_blob_init(&v->raw, v->n, bytes)))) {
        st = QLM_ERR_NOMEM;
        goto done;
    }
    for (int32_t i = 0; i < v->n && st == QLM_OK; i++) {
        const char *s;
        size_t len;
        char empty[32];
        if (!gguf_arr_str(toks, (uint64_t)i, &s, &len) || len == 0) {
            /* llama.cpp renames empty tokens so they stay unique. */
            len = (size_t)snprintf(empty, sizeof empty, "[EMPTY_%d]", i);
            s = empty;
        }
        if (len + 1 > tmp_cap) {
            free(tmp);
            tmp_cap = len + 64;
            tmp = malloc(tmp_cap);
            if (!tmp) { st = QLM_ERR_NOMEM; break; }
        }
        bool ok = tok_blob_push(&v->text, s, len);
        if (bpe && v->escape_spaces) {
            /* Raw UTF-8 BPE: merges and lookups use the text itself, and
             * tokens render as in SentencePiece. */
            ok = ok && tok_blob_push(&v->raw, s, len) && tok_push_spm_piece(v, i, s, len, tmp);
        } else if (bpe) {
            size_t rn = 0;
            bool mapped = bpe_decode_text(s, len, tmp, &rn);
            skip[i] = !mapped;
            ok = ok && tok_blob_push(&v->raw, tmp, mapped ? rn : 0);
            bool normal = (v->attr[i] & TOK_ATTR_NORMAL) && mapped;
            ok = ok && tok_blob_push(&v->piece, normal ? tmp : s, normal ? rn : len);
        } else {
            ok = ok && tok_push_spm_piece(v, i, s, len, tmp);
        }
        if (!ok) st = QLM_ERR_NOMEM;
    }
    if (st == QLM_OK && (v->text.n != v->n || v->piece.n != v->n)) st = QLM_ERR_NOMEM;
    if (st == QLM_OK && !tok_strmap_build(&v->text_map, &v->text, NULL, NULL)) st = QLM_ERR_NOMEM;
    if (st == QLM_OK && bpe && !tok_strmap_build(&v->raw_map, &v->raw, skip, v->attr)) st = QLM_ERR_NOMEM;
done:
    free(skip);
    free(tmp);
    return st == QLM_OK ? QLM_OK : qlm_err(err, st, "tokenizer: out of memory");
}

/* "a b" pairs in rank order. Pairs naming a string that is not a token can
 * never apply (symbols are always tokens or single bytes) and are skipped. */
static qlm_status read_merges(tok_vocab *v, const gguf_ctx *g, qlm_errbuf *err) {
    if (!gguf_find(g, KEY_MERGES))
        return qlm_err(err, QLM_ERR_FORMAT, "%s: missing (required for gpt2 tokenizers)", KEY_MERGES);
    const gguf_value *m = find_array(g, KEY_MERGES, GGUF_VTYPE_STRING, GGUF_VTYPE_STRING);
    if (!m) return qlm_err(err, QLM_ERR_FORMAT, "%s: not an array of strings", KEY_MERGES);
    if (m->len > INT32_MAX) return qlm_err(err, QLM_ERR_FORMAT, "%s: too many merges", KEY_MERGES);
    if (!tok_pairmap_init(&v->merges, (size_t)m->len))
        return qlm_err(err, QLM_ERR_NOMEM, "tokenizer: out of memory");
    char buf[512];
    for (uint64_t r = 0; r < m->len; r++) {
        const char *s;
        size_t len;
        if (!gguf_arr_str(m, r, &s, &len) || len < 3) continue;
        const char *sp = memchr(s + 1, ' ', len - 1); /* like find(' ', 1) */
        if (!sp) continue;
        size_t la = (size_t)(sp - s), lb = len - la - 1;
        int32_t a, b;
        if (v->escape_spaces) {
            a = tok_strmap_find(&v->raw_map, &v->raw, s, la);
            b = tok_strmap_find(&v->raw_map, &v->raw, sp + 1, lb);
        } else {
            size_t ra, rb;
            if (la > sizeof buf / 2 || lb > sizeof buf / 2) continue;
            if (!bpe_decode_text(s, la, buf, &ra) || !bpe_decode_text(sp + 1, lb, buf + ra, &rb)) continue;
            a = tok_strmap_find(&v->raw_map, &v->raw, buf, ra);
            b = tok_strmap_find(&v->raw_map, &v->raw, buf + ra, rb);
        }
        if (a >= 0 && b >= 0) tok_pairmap_put(&v->merges, a, b, (int32_t)r);
    }
    return QLM_OK;
}

/* An id key that is out of range keeps the default (llama.cpp warns too). */
static void read_special_id(qlm_tokenizer *t, const gguf_ctx *g, const char *key, int32_t *id) {
    if (*id >= t->v.n) *id = -1;
    uint32_t u;
    if (!gguf_get_u32(g, key, &u)) return;
    if (u >= (uint32_t)t->v.n) {
        add_warning(t, "%s = %u is out of range (n_vocab %d); ignored", key, u, t->v.n);
        return;
    }
    *id = (int32_t)u;
}

static void read_flags_and_ids(qlm_tokenizer *t, const gguf_ctx *g, bool force_bos) {
    tok_vocab *v = &t->v;
    bool spm = t->kind == TOK_KIND_SPM;
    v->bos = spm ? 1 : -1;
    v->eos = spm ? 2 : -1;
    v->unk = spm ? 0 : -1;
    v->eot = v->eom = v->pad = -1;
    read_special_id(t, g, "tokenizer.ggml.bos_token_id", &v->bos);
    read_special_id(t, g, "tokenizer.ggml.eos_token_id", &v->eos);
    read_special_id(t, g, "tokenizer.ggml.eot_token_id", &v->eot);
    read_special_id(t, g, "tokenizer.ggml.eom_token_id", &v->eom);
    read_special_id(t, g, "tokenizer.ggml.unknown_token_id", &v->unk);
    read_special_id(t, g, "tokenizer.ggml.padding_token_id", &v->pad);
    if (spm) {
        v->add_bos = true;
        v->add_space_prefix = true;
    }
    bool b;
    if (gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b)) v->add_bos = b;
    if (gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b)) v->add_eos = b;
    if (gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b)) v->add_space_prefix = b;
    if (force_bos) v->add_bos = true;
    if (v->bos < 0) v->add_bos = false;
    if (v->eos < 0) v->add_eos = false;
}

static void find_byte_tokens(tok_vocab *v, bool bpe) {
    for (int c = 0; c < 256; c++) {
        char s[8];
        char ch = (char)c;
        if (bpe) {
            v->byte_tok[c] = tok_strmap_find(&v->raw_map, &v->raw, &ch, 1);
            continue;
        }
        snprintf(s, sizeof s, "<0x%02X>", c);
        v->byte_tok[c] = tok_strmap_find(&v->text_map, &v->text, s, 6);
        if (v->byte_tok[c] < 0 && c < 0x80) v->byte_tok[c] = tok_strmap_find(&v->text_map, &v->text, &ch, 1);
    }
}

static qlm_status read_model_kind(qlm_tokenizer *t, const gguf_ctx *g) {
    const char *model;
    size_t len;
    if (!gguf_get_str(g, "tokenizer.ggml.model", &model, &len))
        return qlm_err(&t->err, QLM_ERR_FORMAT, "tokenizer.ggml.model: missing or not a string");
    if (len == 5 && memcmp(model, "llama", 5) == 0) {
        t->kind = TOK_KIND_SPM;
    } else if ((len == 4 && memcmp(model, "gpt2", 4) == 0) || (len == 6 && memcmp(model, "gemma4", 6) == 0)) {
        t->kind = TOK_KIND_BPE; /* gemma4: BPE whose pre-tokenizer is always "gemma4" */
    } else {
        return qlm_err(&t->err, QLM_ERR_UNSUPPORTED, "tokenizer.ggml.model '%.*s' is not supported",
                       (int)(len > 64 ? 64 : len), model);
    }
    return QLM_OK;
}

static qlm_status init_pretok(qlm_tokenizer *t, const gguf_ctx *g, tok_pretok_opts *po) {
    const char *pre = "", *model = "";
    size_t len = 0, mlen = 0;
    gguf_get_str(g, "tokenizer.ggml.pre", &pre, &len);
    gguf_get_str(g, "tokenizer.ggml.model", &model, &mlen);
    if (mlen == 6 && memcmp(model, "gemma4", 6) == 0) pre = "gemma4", len = 6; /* as llama.cpp */
    qlm_status st = tok_pretok_init(&t->pre, pre, len, po, &t->err);
    if (st != QLM_OK) return st;
    t->v.ignore_merges = po->ignore_merges;
    t->v.escape_spaces = po->escape_spaces;
    t->v.add_bos = po->add_bos; /* llama3-style defaults; the add_bos_token key overrides */
    if (!po->known)
        add_warning(t, "unknown tokenizer.ggml.pre '%.*s': using the default pre-tokenizer",
                    (int)(len > 64 ? 64 : len), pre);
    return QLM_OK;
}

qlm_status tok_vocab_from_gguf(qlm_tokenizer *t, const gguf_ctx *g) {
    qlm_status st = read_model_kind(t, g);
    if (st != QLM_OK) return st;
    bool bpe = t->kind == TOK_KIND_BPE;
    const gguf_value *toks = find_array(g, KEY_TOKENS, GGUF_VTYPE_STRING, GGUF_VTYPE_STRING);
    if (!toks) return qlm_err(&t->err, QLM_ERR_FORMAT, "%s: missing or not an array of strings", KEY_TOKENS);
    if (toks->len == 0 || toks->len > INT32_MAX / 2)
        return qlm_err(&t->err, QLM_ERR_FORMAT, "%s: bad token count %llu", KEY_TOKENS,
                       (unsigned long long)toks->len);
    t->v.n = (int32_t)toks->len;
    if ((st = read_scores_types(&t->v, g, &t->err)) != QLM_OK) return st;
    /* The pre-tokenizer first: it decides how texts and merges are read. */
    tok_pretok_opts po = {0};
    if (bpe && (st = init_pretok(t, g, &po)) != QLM_OK) return st;
    if ((st = read_texts(&t->v, toks, bpe, &t->err)) != QLM_OK) return st;
    if (bpe && (st = read_merges(&t->v, g, &t->err)) != QLM_OK) return st;
    read_flags_and_ids(t, g, po.force_bos);
    find_byte_tokens(&t->v, bpe && !t->v.escape_spaces);
    return tok_vocab_finish(&t->v, &t->err);
}
