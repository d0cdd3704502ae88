/* bpe.c - byte-level BPE (tokenizer.ggml.model = "gpt2"), as llama.cpp's
 * llm_tokenizer_bpe does it.
 *
 * The pre-tokenizer cuts the text into words; each word starts as one
 * symbol per byte and the adjacent pair with the lowest merge rank is
 * merged until no ranked pair is left. Tokens are looked up by their raw
 * bytes (the vocabulary's GPT-2 byte-to-unicode text is decoded once at
 * load), so no per-call re-encoding is needed.
 *
 * Gemma 4 style vocabularies (v->escape_spaces) are BPE over UTF-8 text:
 * spaces become U+2581 first, words start as one symbol per character, and
 * a symbol that is no token comes out as <0xXX> byte tokens. */
#include <string.h>

#include "merge_heap.h"
#include "tok_internal.h"

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes (0-32, 127-160, 173) take code points 256.. in order. */
uint32_t tok_bpe_byte_to_cp(uint8_t b) {
    if (b <= 32) return 256u + b;
    if (b >= 127 && b <= 160) return 256u + 33u + (b - 127u);
    if (b == 173) return 256u + 33u + 34u;
    return b;
}

int tok_bpe_cp_to_byte(uint32_t cp) {
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 255 && cp != 173)) return (int)cp;
    if (cp >= 256 && cp <= 288) return (int)(cp - 256);
    if (cp >= 289 && cp <= 322) return (int)(cp - 289 + 127);
    if (cp == 323) return 173;
    return -1;
}

typedef struct bpe_state {
    const tok_vocab *v;
    const char *s; /* the word */
    merge_sym *sym;
    merge_heap heap;
} bpe_state;

static void try_pair(bpe_state *st, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    int32_t rank = tok_pairmap_find(&st->v->merges, st->sym[l].id, st->sym[r].id);
    if (rank < 0) return;
    merge_cand c = {(double)rank, l, r, st->sym[l].n + st->sym[r].n};
    merge_heap_push(&st->heap, c);
}

/* A symbol that is not a token (a corrupt merge list) comes out byte by
 * byte; bytes without a token are dropped, as in llama.cpp. */
static void emit_symbol(const bpe_state *st, const merge_sym *sy, tok_ids *out) {
    if (sy->id >= 0) {
        tok_ids_push(out, sy->id);
        return;
    }
    for (size_t j = 0; j < sy->n; j++) {
        int32_t b = st->v->byte_tok[(unsigned char)st->s[sy->off + j]];
        if (b >= 0) tok_ids_push(out, b);
    }
}

/* One symbol per byte, or per UTF-8 character (an invalid byte alone) for
 * escape_spaces vocabularies. Returns the number of symbols. */
static int32_t init_symbols(bpe_state *st, size_t len) {
    const tok_vocab *v = st->v;
    int32_t n = 0;
    for (size_t i = 0, k; i < len; i += k, n++) {
        uint32_t cp;
        k = v->escape_spaces ? tok_utf8_decode((const unsigned char *)st->s + i, len - i, &cp) : 1;
        if (k == 0) k = 1;
        int32_t id = k == 1 && !v->escape_spaces ? v->byte_tok[(unsigned char)st->s[i]]
                                                 : tok_strmap_find(&v->raw_map, &v->raw, st->s + i, k);
        st->sym[n] = (merge_sym){n - 1, i + k < len ? n + 1 : -1, i, k, id};
    }
    return n;
}

static void merge_word(bpe_state *st, size_t len, tok_ids *out) {
    int32_t n = init_symbols(st, len);
    st->heap.n = 0;
    for (int32_t i = 1; i < n; i++) try_pair(st, i - 1, i);
    while (st->heap.n > 0 && !st->heap.oom) {
        merge_cand c = merge_heap_pop(&st->heap);
        merge_sym *l = &st->sym[c.left], *r = &st->sym[c.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != c.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        l->id = tok_strmap_find(&st->v->raw_map, &st->v->raw, st->s + l->off, l->n);
        if (r->next >= 0) st->sym[r->next].prev = c.left;
        try_pair(st, l->prev, c.left);
        try_pair(st, c.left, l->next);
    }
    if (st->heap.oom) out->oom = true;
    for (int32_t i = 0; i >= 0; i = st->sym[i].next) emit_symbol(st, &st->sym[i], out);
}

static bool only_newlines(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\n') return false;
    }
    return true;
}

void tok_bpe_encode(const qlm_tokenizer *t, const char *text, size_t len, tok_ids *out) {
    const tok_vocab *v = &t->v;
    size_t *b = NULL;
    bool oom = false;
    char *escaped = NULL;
    if (v->escape_spaces) {
        if (!(escaped = tok_escape_spaces(text, len, false, &len))) {
            out->oom = true;
            return;
        }
        text = escaped;
    }
    size_t n_words = tok_pretok_split(&t->pre, text, len, &b, &oom);
    size_t max_len = 0;
    for (size_t w = 0; w < n_words; w++) {
        if (b[w + 1] - b[w] > max_len) max_len = b[w + 1] - b[w];
    }
    bpe_state st = {v, NULL, NULL, {0}};
    if (max_len > 0) st.sym = malloc(max_len * sizeof *st.sym);
    if (oom || (max_len > 0 && !st.sym) || max_len > INT32_MAX) {
        out->oom = true;
        n_words = 0;
    }
    for (size_t w = 0; w < n_words && !out->oom; w++) {
        const char *word = text + b[w];
        size_t wl = b[w + 1] - b[w];
        if (wl == 0) continue;
        /* Llama 3 style: a word that is a token is taken whole; Gemma 4
         * does so for runs of newlines (merges would split them). */
        if (v->ignore_merges || (v->escape_spaces && only_newlines(word, wl))) {
            int32_t id = tok_strmap_find(&v->raw_map, &v->raw, word, wl);
            if (id >= 0) {
                tok_ids_push(out, id);
                continue;
            }
        }
        st.s = word;
        merge_word(&st, wl, out);
    }
    free(st.heap.v);
    free(st.sym);
    free(b);
    free(escaped);
}
