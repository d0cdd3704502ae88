/* tokenizer.h - internal interface of the tokenizers (SPM, BPE, SentencePiece). */
#ifndef QLM_TOKENIZER_H
#define QLM_TOKENIZER_H

#include "errbuf.h"
#include "gguf.h"
#include "qlm.h"

/* Builds a tokenizer from the tokenizer.* metadata of an open GGUF file. The
 * tokenizer copies what it needs: it stays valid after gguf_close. */
qlm_status tok_from_gguf(const gguf_ctx *g, qlm_tokenizer **out, qlm_errbuf *err);

/* A non-fatal note from loading (unknown pre-tokenizer, out-of-range special
 * id, ...) for the caller to log; "" if none. */
const char *tok_warning(const qlm_tokenizer *t);

#endif
