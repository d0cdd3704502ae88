/* sp_model.c - SentencePiece .model files through libsentencepiece.
 *
 * Encoding is left to the library (so its normaliser and algorithm apply
 * exactly); the vocabulary is copied into our tok_vocab so that special-token
 * splitting, rendering and the id getters are shared with the GGUF kinds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#ifdef QLM_HAVE_SENTENCEPIECE
#include "sentencepiece_shim.h"

static uint8_t sp_attr(int type) {
    switch (type) {
    case QLM_SP_UNKNOWN: return TOK_ATTR_UNKNOWN;
    case QLM_SP_CONTROL: return TOK_ATTR_CONTROL;
    case QLM_SP_UNUSED: return TOK_ATTR_UNUSED;
    case QLM_SP_BYTE: return TOK_ATTR_BYTE;
    default: return TOK_ATTR_NORMAL;
    }
}

static qlm_status copy_vocab(tok_vocab *v, const qlm_sp *sp, qlm_errbuf *err) {
    size_t bytes = 16;
    for (int32_t i = 0; i < v->n; i++) {
        size_t len;
        qlm_sp_piece(sp, i, &len);
        bytes += len;
    }
    v->scores = malloc((size_t)v->n * sizeof *v->scores);
    v->attr = malloc((size_t)v->n);
    char *tmp = malloc(bytes);
    bool ok = v->scores && v->attr && tmp && tok_blob_init(&v->text, v->n, bytes) &&
              tok_blob_init(&v->piece, v->n, bytes);
    for (int32_t i = 0; ok && i < v->n; i++) {
        size_t len;
        const char *s = qlm_sp_piece(sp, i, &len);
        v->scores[i] = qlm_sp_score(sp, i);
        v->attr[i] = sp_attr(qlm_sp_type(sp, i));
        ok = tok_blob_push(&v->text, s, len) && tok_push_spm_piece(v, i, s, len, tmp);
    }
    free(tmp);
    ok = ok && tok_strmap_build(&v->text_map, &v->text, NULL, NULL);
    return ok ? QLM_OK : qlm_err(err, QLM_ERR_NOMEM, "tokenizer: out of memory");
}

static int32_t valid_id(int id, int32_t n) { return id >= 0 && id < n ? id : -1; }

qlm_status tok_sp_load(qlm_tokenizer *t, const char *path) {
    char msg[256] = "";
    qlm_sp *sp = NULL;
    if (qlm_sp_load(path, &sp, msg, sizeof msg) != 0)
        return qlm_err(&t->err, QLM_ERR_FORMAT, "%s: not a loadable SentencePiece model: %s", path, msg);
    t->sp = sp;
    t->kind = TOK_KIND_SP;
    tok_vocab *v = &t->v;
    int n = qlm_sp_size(sp);
    if (n <= 0) return qlm_err(&t->err, QLM_ERR_FORMAT, "%s: empty SentencePiece vocabulary", path);
    v->n = n;
    qlm_status st = copy_vocab(v, sp, &t->err);
    if (st != QLM_OK) return st;
    v->bos = valid_id(qlm_sp_bos(sp), v->n);
    v->eos = valid_id(qlm_sp_eos(sp), v->n);
    v->unk = valid_id(qlm_sp_unk(sp), v->n);
    v->pad = valid_id(qlm_sp_pad(sp), v->n);
    v->eot = v->eom = -1;
    v->add_bos = v->bos >= 0;
    v->add_space_prefix = true; /* SentencePiece's add_dummy_prefix default */
    for (int c = 0; c < 256; c++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", c);
        v->byte_tok[c] = tok_strmap_find(&v->text_map, &v->text, s, 6);
    }
    return tok_vocab_finish(v, &t->err);
}

void tok_sp_encode(const qlm_tokenizer *t, const char *text, size_t len, tok_ids *out) {
    int32_t *ids = NULL;
    size_t n = 0;
    if (qlm_sp_encode(t->sp, text, len, &ids, &n) != 0) {
        out->oom = true; /* the library only fails on allocation */
        return;
    }
    for (size_t i = 0; i < n; i++) tok_ids_push(out, ids[i]);
    free(ids);
}

void tok_sp_free(qlm_tokenizer *t) {
    qlm_sp_free(t->sp);
    t->sp = NULL;
}

#else /* !QLM_HAVE_SENTENCEPIECE */

qlm_status tok_sp_load(qlm_tokenizer *t, const char *path) {
    return qlm_err(&t->err, QLM_ERR_UNSUPPORTED,
                   "%s: SentencePiece model, but qlm was built without libsentencepiece", path);
}

void tok_sp_encode(const qlm_tokenizer *t, const char *text, size_t len, tok_ids *out) {
    (void)t, (void)text, (void)len;
    out->oom = true;
}

void tok_sp_free(qlm_tokenizer *t) { t->sp = NULL; }

#endif
