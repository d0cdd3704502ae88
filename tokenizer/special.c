#define _GNU_SOURCE /* memmem */
/* special.c - splits text on special-token texts before normal tokenizing.
 *
 * Same order as llama.cpp's tokenizer_st_partition: special tokens are tried
 * longest first, each one cutting every plain run that is left, so a longer
 * token wins over a shorter one it contains. Control and unknown tokens are
 * only matched when the caller asks (QLM_TOKENIZE_PARSE_SPECIAL);
 * user-defined tokens always are, as in llama.cpp and HF tokenizers. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

typedef struct frag_list {
    tok_frag *v;
    size_t n, cap;
    bool oom;
} frag_list;

static void frag_push(frag_list *l, size_t off, size_t len, int32_t id) {
    if (l->oom) return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        tok_frag *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (tok_frag){off, len, id};
}

static bool any_match(const frag_list *l, const char *text, const char *s, size_t slen) {
    for (size_t i = 0; i < l->n; i++) {
        const tok_frag *f = &l->v[i];
        if (f->id < 0 && f->len >= slen && memmem(text + f->off, f->len, s, slen)) return true;
    }
    return false;
}

/* Rebuilds cur into next with every occurrence of token id cut out. */
static void cut_token(const frag_list *cur, frag_list *next, const char *text, const char *s,
                      size_t slen, int32_t id) {
    next->n = 0;
    for (size_t i = 0; i < cur->n; i++) {
        tok_frag f = cur->v[i];
        if (f.id >= 0) {
            frag_push(next, f.off, f.len, f.id);
            continue;
        }
        size_t pos = f.off, end = f.off + f.len;
        const char *m;
        while (end - pos >= slen && (m = memmem(text + pos, end - pos, s, slen)) != NULL) {
            size_t at = (size_t)(m - text);
            if (at > pos) frag_push(next, pos, at - pos, -1);
            frag_push(next, at, slen, id);
            pos = at + slen;
        }
        if (pos < end) frag_push(next, pos, end - pos, -1);
    }
}

size_t tok_special_split(const tok_vocab *v, const char *text, size_t len, bool parse_special,
                         tok_frag **frags, bool *oom) {
    frag_list cur = {0}, next = {0};
    *frags = NULL;
    if (len == 0) return 0;
    frag_push(&cur, 0, len, -1);
    bool seen[256] = {false}; /* bytes present: most special tokens are skipped at once */
    for (size_t i = 0; i < len; i++) seen[(unsigned char)text[i]] = true;
    for (size_t k = 0; k < v->n_special && !cur.oom && !next.oom; k++) {
        int32_t id = v->special[k];
        uint8_t a = v->attr[id];
        if (!parse_special && (a & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN))) continue;
        size_t slen;
        const char *s = tok_blob_str(&v->text, id, &slen);
        if (slen == 0 || slen > len || !seen[(unsigned char)s[0]]) continue;
        if (!any_match(&cur, text, s, slen)) continue;
        cut_token(&cur, &next, text, s, slen, id);
        frag_list t = cur;
        cur = next;
        next = t;
    }
    free(next.v);
    if (cur.oom || next.oom) {
        free(cur.v);
        *oom = true;
        return 0;
    }
    *frags = cur.v;
    return cur.n;
}
