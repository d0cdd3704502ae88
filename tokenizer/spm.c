/* spm.c - SentencePiece-style BPE over token scores (tokenizer.ggml.model =
 * "llama"), as llama.cpp's llm_tokenizer_spm does it.
 *
 * Spaces become U+2581 (and one is prepended when asked), the text is cut
 * into characters, and the adjacent pair whose concatenation is the token
 * with the highest score is merged until none is left. A character that is
 * not a token comes out as its <0xXX> byte tokens. */
#include <string.h>

#include "merge_heap.h"
#include "tok_internal.h"

typedef struct spm_state {
    const tok_vocab *v;
    const char *s; /* the escaped text */
    merge_sym *sym;
    merge_heap heap;
} spm_state;

static void try_pair(spm_state *st, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    size_t size = st->sym[l].n + st->sym[r].n;
    int32_t id = tok_strmap_find(&st->v->text_map, &st->v->text, st->s + st->sym[l].off, size);
    if (id < 0) return;
    merge_cand c = {-(double)st->v->scores[id], l, r, size};
    merge_heap_push(&st->heap, c);
}

/* U+2581 for every space, after an optional leading one. */
char *tok_escape_spaces(const char *text, size_t len, bool add_prefix, size_t *out_len) {
    size_t n_sp = add_prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++) n_sp += text[i] == ' ';
    char *e = malloc(len + 2 * n_sp + 1);
    if (!e) return NULL;
    size_t w = 0;
    if (add_prefix) memcpy(e + w, "\xe2\x96\x81", 3), w += 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') memcpy(e + w, "\xe2\x96\x81", 3), w += 3;
        else e[w++] = text[i];
    }
    *out_len = w;
    return e;
}

/* One symbol per character; each invalid byte is a symbol of its own. */
static int32_t split_chars(spm_state *st, size_t len) {
    int32_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = tok_utf8_decode((const unsigned char *)st->s + i, len - i, &cp);
        if (k == 0) k = 1;
        st->sym[n] = (merge_sym){n - 1, i + k < len ? n + 1 : -1, i, k, -1};
        n++;
        i += k;
    }
    return n;
}

static void emit_symbol(const spm_state *st, const merge_sym *sy, tok_ids *out) {
    const tok_vocab *v = st->v;
    int32_t id = tok_strmap_find(&v->text_map, &v->text, st->s + sy->off, sy->n);
    if (id >= 0) {
        tok_ids_push(out, id);
        return;
    }
    for (size_t j = 0; j < sy->n; j++) {
        int32_t b = v->byte_tok[(unsigned char)st->s[sy->off + j]];
        if (b < 0) b = v->unk;
        if (b >= 0) tok_ids_push(out, b);
    }
}

void tok_spm_encode(const tok_vocab *v, const char *text, size_t len, bool add_prefix,
                    tok_ids *out) {
    size_t elen = 0;
    char *e = tok_escape_spaces(text, len, add_prefix, &elen);
    spm_state st = {v, e, NULL, {0}};
    if (e && elen > 0) st.sym = malloc(elen * sizeof *st.sym);
    if (!e || (elen > 0 && !st.sym)) {
        out->oom = true;
        goto done;
    }
    int32_t n = split_chars(&st, elen);
    for (int32_t i = 1; i < n; i++) try_pair(&st, i - 1, i);
    while (st.heap.n > 0 && !st.heap.oom) {
        merge_cand c = merge_heap_pop(&st.heap);
        merge_sym *l = &st.sym[c.left], *r = &st.sym[c.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != c.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) st.sym[r->next].prev = c.left;
        try_pair(&st, l->prev, c.left);
        try_pair(&st, c.left, l->next);
    }
    if (st.heap.oom) out->oom = true;
    for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = st.sym[i].next) emit_symbol(&st, &st.sym[i], out);
done:
    free(st.heap.v);
    free(st.sym);
    free(e);
}
