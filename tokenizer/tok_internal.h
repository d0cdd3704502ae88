/* tok_internal.h - shared internals of the tokenizer files (not installed).
 *
 * One vocabulary struct serves every tokenizer kind: token texts, the bytes
 * each token renders to, attributes, hash maps and special ids. The encoders
 * (spm.c, bpe.c, sp_model.c) only differ in how a run of plain text becomes
 * ids; special-token splitting (special.c) and rendering (tokenizer.c) are
 * shared. Everything here is immutable after load, so one tokenizer can be
 * used from many threads: per-call scratch lives on the caller's side. */
#ifndef QLM_TOK_INTERNAL_H
#define QLM_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* Token attributes, as llama.cpp derives them from tokenizer.ggml.token_type
 * (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). */
enum {
    TOK_ATTR_UNDEFINED = 0,
    TOK_ATTR_UNKNOWN = 1u << 0,
    TOK_ATTR_UNUSED = 1u << 1,
    TOK_ATTR_NORMAL = 1u << 2,
    TOK_ATTR_CONTROL = 1u << 3,
    TOK_ATTR_USER_DEFINED = 1u << 4,
    TOK_ATTR_BYTE = 1u << 5,
    TOK_ATTR_EOG = 1u << 6 /* ours: ends generation */
};

typedef enum tok_kind { TOK_KIND_SPM, TOK_KIND_BPE, TOK_KIND_SP } tok_kind;

/* Strings packed end to end: string i is data[off[i] .. off[i+1]). */
typedef struct tok_blob {
    char *data;
    uint32_t *off; /* n + 1 entries */
    size_t len, cap;
    int32_t n;
} tok_blob;

/* Open-addressing map from a blob string to its id. Keys are not stored:
 * a slot holds an id whose blob string is compared on lookup. */
typedef struct tok_strmap {
    int32_t *slots; /* -1 = empty */
    size_t mask;
} tok_strmap;

/* Map from an id pair (left, right) to a BPE merge rank. */
typedef struct tok_pairmap {
    uint64_t *keys; /* 0 = empty; else ((left << 32) | right) + 1 */
    int32_t *vals;
    size_t mask;
} tok_pairmap;

typedef struct tok_vocab {
    int32_t n;
    tok_blob text;   /* token text as stored in the file */
    tok_blob piece;  /* bytes the token renders to (SPM: U+2581 -> ' ', <0xXX> -> byte) */
    tok_blob raw;    /* BPE: the text decoded through the GPT-2 byte map (lookup key) */
    float *scores;
    uint8_t *attr;
    tok_strmap text_map; /* text -> id (last id wins on duplicates, like llama.cpp) */
    tok_strmap raw_map;  /* BPE: raw bytes -> id */
    tok_pairmap merges;  /* BPE: (left id, right id) -> rank */
    int32_t *special;    /* control/user-defined/unknown ids, longest text first */
    size_t n_special;
    int32_t byte_tok[256]; /* id of each byte's token (<0xXX> or byte char); -1 none */
    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    /* BPE over the raw UTF-8 token texts instead of GPT-2's byte alphabet,
     * with U+2581 for spaces and <0xXX> byte tokens (Gemma 4's "gemma4"). */
    bool escape_spaces;
} tok_vocab;

struct pcre2_real_code_8;

/* One compiled pre-tokenizer regex list (BPE). */
typedef struct tok_pretok {
    struct pcre2_real_code_8 *re[8];
    bool jit[8];
    int n_re;
} tok_pretok;

struct qlm_tokenizer {
    qlm_errbuf err;
    char warning[512]; /* non-fatal note from load (unknown pre type, ...) */
    tok_kind kind;
    tok_vocab v;
    tok_pretok pre;
    void *sp; /* SentencePiece processor (sp_model.c) */
};

/* A growable id list (per call). */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
    bool oom;
} tok_ids;

void tok_ids_push(tok_ids *ids, int32_t id);
void tok_ids_free(tok_ids *ids);

/* ------------------------------------------------------------ utf8.c */

/* Length (1-4) of the valid UTF-8 sequence at s (n bytes available) and its
 * code point; 0 if s[0] does not start a valid, complete, shortest-form one. */
size_t tok_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
size_t tok_utf8_encode(uint32_t cp, char *out); /* writes 1-4 bytes */

/* ------------------------------------------------------------ vocab.c */

bool tok_blob_init(tok_blob *b, int32_t n_hint, size_t bytes_hint);
bool tok_blob_push(tok_blob *b, const char *s, size_t len);
void tok_blob_free(tok_blob *b);
static inline const char *tok_blob_str(const tok_blob *b, int32_t i, size_t *len) {
    *len = b->off[i + 1] - b->off[i];
    return b->data + b->off[i];
}

uint64_t tok_hash(const char *s, size_t len);
/* skip[id]: leave id out. attr (may be NULL): normal tokens win duplicate
 * texts over the others; otherwise the later id wins, as in llama.cpp. */
bool tok_strmap_build(tok_strmap *m, const tok_blob *b, const bool *skip, const uint8_t *attr);
int32_t tok_strmap_find(const tok_strmap *m, const tok_blob *b, const char *s, size_t len);
void tok_strmap_free(tok_strmap *m);
bool tok_pairmap_init(tok_pairmap *m, size_t n);
void tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank); /* first put wins */
int32_t tok_pairmap_find(const tok_pairmap *m, int32_t a, int32_t b); /* -1 if absent */
void tok_pairmap_free(tok_pairmap *m);

/* Fills the ids/attrs derived after the texts are known: special list, EOT
 * guess, EOG flags, byte tokens. */
qlm_status tok_vocab_finish(tok_vocab *v, qlm_errbuf *err);
void tok_vocab_free(tok_vocab *v);

/* Appends token id's SPM rendering (U+2581 -> ' ', <0xXX> -> byte) to
 * v->piece; tmp holds at least len bytes. */
bool tok_push_spm_piece(tok_vocab *v, int32_t id, const char *s, size_t len, char *tmp);

/* Reads the tokenizer.ggml.* keys of g into t. */
qlm_status tok_vocab_from_gguf(qlm_tokenizer *t, const gguf_ctx *g);

/* ------------------------------------------------------------ encoders */

/* Each appends the ids of one run of plain text. */
/* The text with U+2581 for every space (and one in front if add_prefix);
 * malloc'd, NULL on OOM. */
char *tok_escape_spaces(const char *text, size_t len, bool add_prefix, size_t *out_len);
void tok_spm_encode(const tok_vocab *v, const char *text, size_t len, bool add_prefix,
                    tok_ids *out);
void tok_bpe_encode(const qlm_tokenizer *t, const char *text, size_t len, tok_ids *out);
/* The GPT-2 byte <-> code point map. */
uint32_t tok_bpe_byte_to_cp(uint8_t b);
int tok_bpe_cp_to_byte(uint32_t cp); /* -1 if cp is not in the map */

/* What a tokenizer.ggml.pre name implies besides its regexes (llama.cpp's
 * flags for that pre type). */
typedef struct tok_pretok_opts {
    bool known;         /* false: an unknown name, the default list is used */
    bool ignore_merges; /* a word that is a whole token skips merging */
    bool add_bos;       /* default of add_bos_token */
    bool force_bos;     /* add_bos_token = false is overridden (Gemma 4) */
    bool escape_spaces; /* see tok_vocab */
} tok_pretok_opts;

/* pretok.c: compiles the regex list for a tokenizer.ggml.pre name (empty:
 * the default list, as llama.cpp). Unknown names fall back to the default
 * list with opts->known = false. */
qlm_status tok_pretok_init(tok_pretok *p, const char *pre, size_t pre_len, tok_pretok_opts *opts,
                           qlm_errbuf *err);
void tok_pretok_free(tok_pretok *p);
/* Name i of every tokenizer.ggml.pre name pretok.c knows (0, 1, ... in
 * table order) into buf; returns its length, 0 past the last name (or if
 * it does not fit in cap). */
size_t tok_pretok_name(size_t i, char *buf, size_t cap);
/* Splits text into words: word i is text[bounds[i] .. bounds[i+1]). Returns
 * the number of words; *bounds is malloc'd (NULL and 0 on OOM with *oom set). */
size_t tok_pretok_split(const tok_pretok *p, const char *text, size_t len, size_t **bounds,
                        bool *oom);

/* special.c: the text split into plain runs and special tokens, in order. */
typedef struct tok_frag {
    size_t off, len; /* plain text run when id < 0 */
    int32_t id;
} tok_frag;
/* Returns the number of fragments (*frags malloc'd); parse_special decides
 * whether control/unknown tokens are matched (user-defined ones always are,
 * as in llama.cpp and HF tokenizers). 0 with *oom on allocation failure. */
size_t tok_special_split(const tok_vocab *v, const char *text, size_t len, bool parse_special,
                         tok_frag **frags, bool *oom);

/* sp_model.c (SentencePiece .model files). */
qlm_status tok_sp_load(qlm_tokenizer *t, const char *path);
void tok_sp_encode(const qlm_tokenizer *t, const char *text, size_t len, tok_ids *out);
void tok_sp_free(qlm_tokenizer *t);

#endif
