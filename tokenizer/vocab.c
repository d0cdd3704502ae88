/* vocab.c - packed token strings, the hash maps over them, and the parts of
 * a vocabulary derived after its texts are known (special tokens, EOT/EOG). */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* ------------------------------------------------------------------ blob */

bool tok_blob_init(tok_blob *b, int32_t n_hint, size_t bytes_hint) {
    memset(b, 0, sizeof *b);
    b->off = malloc(((size_t)n_hint + 1) * sizeof *b->off);
    b->cap = bytes_hint > 16 ? bytes_hint : 16;
    b->data = malloc(b->cap);
    if (!b->off || !b->data) {
        tok_blob_free(b);
        return false;
    }
    b->off[0] = 0;
    return true;
}

/* The caller sized off for n_hint strings; data grows as needed. Offsets are
 * 32-bit: a vocabulary over 4 GiB of text is refused. */
bool tok_blob_push(tok_blob *b, const char *s, size_t len) {
    if (b->len + len > UINT32_MAX) return false;
    if (b->len + len > b->cap) {
        size_t cap = b->cap * 2;
        while (cap < b->len + len) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return false;
        b->data = d;
        b->cap = cap;
    }
    if (len) memcpy(b->data + b->len, s, len);
    b->len += len;
    b->n++;
    b->off[b->n] = (uint32_t)b->len;
    return true;
}

void tok_blob_free(tok_blob *b) {
    free(b->data);
    free(b->off);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------- hash maps */

/* FNV-1a, then a murmur-style finaliser so the low bits (the slot index)
 * depend on every input byte. */
uint64_t tok_hash(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

static void strmap_insert(tok_strmap *m, const tok_blob *b, int32_t id) {
    size_t len;
    const char *s = tok_blob_str(b, id, &len);
    for (size_t i = tok_hash(s, len) & m->mask;; i = (i + 1) & m->mask) {
        int32_t o = m->slots[i];
        size_t olen;
        const char *os = o >= 0 ? tok_blob_str(b, o, &olen) : NULL;
        if (o < 0 || (olen == len && memcmp(os, s, len) == 0)) {
            m->slots[i] = id; /* duplicate text: the later insert wins */
            return;
        }
    }
}

bool tok_strmap_build(tok_strmap *m, const tok_blob *b, const bool *skip, const uint8_t *attr) {
    size_t cap = pow2_at_least((size_t)b->n * 2 + 1);
    m->slots = malloc(cap * sizeof *m->slots);
    if (!m->slots) return false;
    memset(m->slots, 0xff, cap * sizeof *m->slots); /* all -1 */
    m->mask = cap - 1;
    /* With attr, normal tokens go in last so they win a duplicate text. */
    for (int pass = attr ? 0 : 1; pass < 2; pass++) {
        for (int32_t id = 0; id < b->n; id++) {
            if (skip && skip[id]) continue;
            if (attr && ((attr[id] & TOK_ATTR_NORMAL) != 0) != (pass == 1)) continue;
            strmap_insert(m, b, id);
        }
    }
    return true;
}

int32_t tok_strmap_find(const tok_strmap *m, const tok_blob *b, const char *s, size_t len) {
    if (!m->slots) return -1;
    for (size_t i = tok_hash(s, len) & m->mask;; i = (i + 1) & m->mask) {
        int32_t o = m->slots[i];
        if (o < 0) return -1;
        size_t olen;
        const char *os = tok_blob_str(b, o, &olen);
        if (olen == len && memcmp(os, s, len) == 0) return o;
    }
}

void tok_strmap_free(tok_strmap *m) {
    free(m->slots);
    m->slots = NULL;
}

bool tok_pairmap_init(tok_pairmap *m, size_t n) {
    size_t cap = pow2_at_least(n * 2 + 1);
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = malloc(cap * sizeof *m->vals);
    m->mask = cap - 1;
    if (!m->keys || !m->vals) {
        tok_pairmap_free(m);
        return false;
    }
    return true;
}

static size_t pair_slot(uint64_t key, size_t mask) {
    key ^= key >> 31;
    key *= 0x9e3779b97f4a7c15ull;
    key ^= key >> 29;
    return (size_t)key & mask;
}

void tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    for (size_t i = pair_slot(key, m->mask);; i = (i + 1) & m->mask) {
        if (m->keys[i] == key) return; /* like std::map::emplace: first rank stays */
        if (m->keys[i] == 0) {
            m->keys[i] = key;
            m->vals[i] = rank;
            return;
        }
    }
}

int32_t tok_pairmap_find(const tok_pairmap *m, int32_t a, int32_t b) {
    if (!m->keys || a < 0 || b < 0) return -1;
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    for (size_t i = pair_slot(key, m->mask);; i = (i + 1) & m->mask) {
        if (m->keys[i] == key) return m->vals[i];
        if (m->keys[i] == 0) return -1;
    }
}

void tok_pairmap_free(tok_pairmap *m) {
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
}

/* ------------------------------------------------------ derived metadata */

static int32_t find_text(const tok_vocab *v, const char *s) {
    return tok_strmap_find(&v->text_map, &v->text, s, strlen(s));
}

/* Token texts llama.cpp treats as ending a turn when no EOT id is given,
 * in our order of preference (llama.cpp takes whichever its hash map
 * yields first). */
static const char *const k_eot_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "<end_of_utterance>",
};

/* Every text that ends generation (llama.cpp's special_eog_ids list). */
static const char *const k_eog_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
    "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
};

static void mark_eog(tok_vocab *v, int32_t id) {
    if (id >= 0 && id < v->n) v->attr[id] |= TOK_ATTR_EOG | TOK_ATTR_CONTROL;
}

static void guess_end_tokens(tok_vocab *v) {
    size_t n_eot = sizeof k_eot_names / sizeof *k_eot_names;
    for (size_t i = 0; v->eot < 0 && i < n_eot; i++) v->eot = find_text(v, k_eot_names[i]);
    if (v->eom < 0) v->eom = find_text(v, "<|eom_id|>");
    size_t n_eog = sizeof k_eog_names / sizeof *k_eog_names;
    for (size_t i = 0; i < n_eog; i++) mark_eog(v, find_text(v, k_eog_names[i]));
    mark_eog(v, v->eot);
    mark_eog(v, v->eom);
    /* EOS ends generation but keeps its attributes: it may be a normal
     * token in a hostile or odd file. */
    if (v->eos >= 0) v->attr[v->eos] |= TOK_ATTR_EOG;
}

/* Longest text first, then lower id: llama.cpp splits on longer special
 * tokens before shorter ones. Sorting (length, id) pairs keeps qsort free of
 * any file-static context. */
typedef struct special_key { uint32_t len; int32_t id; } special_key;

static int cmp_special_key(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static bool build_special_list(tok_vocab *v) {
    size_t n = 0;
    for (int32_t id = 0; id < v->n; id++) {
        if (v->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN)) n++;
    }
    v->n_special = 0;
    if (n == 0) return true;
    special_key *keys = malloc(n * sizeof *keys);
    v->special = malloc(n * sizeof *v->special);
    if (!keys || !v->special) {
        free(keys);
        return false;
    }
    for (int32_t id = 0; id < v->n; id++) {
        if (!(v->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN))) continue;
        size_t len;
        tok_blob_str(&v->text, id, &len);
        if (len == 0) continue; /* an empty text would match everywhere */
        keys[v->n_special].len = (uint32_t)len;
        keys[v->n_special++].id = id;
    }
    qsort(keys, v->n_special, sizeof *keys, cmp_special_key);
    for (size_t i = 0; i < v->n_special; i++) v->special[i] = keys[i].id;
    free(keys);
    return true;
}

qlm_status tok_vocab_finish(tok_vocab *v, qlm_errbuf *err) {
    guess_end_tokens(v);
    if (!build_special_list(v)) return qlm_err(err, QLM_ERR_NOMEM, "tokenizer: out of memory");
    return QLM_OK;
}

void tok_vocab_free(tok_vocab *v) {
    tok_blob_free(&v->text);
    tok_blob_free(&v->piece);
    tok_blob_free(&v->raw);
    free(v->scores);
    free(v->attr);
    tok_strmap_free(&v->text_map);
    tok_strmap_free(&v->raw_map);
    tok_pairmap_free(&v->merges);
    free(v->special);
    memset(v, 0, sizeof *v);
}
