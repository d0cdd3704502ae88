/* sentencepiece_shim.h - the few libsentencepiece calls qlm needs, behind a
 * C interface (implemented in sentencepiece_shim.cpp, built only when
 * QLM_HAVE_SENTENCEPIECE is defined). No C++ exception crosses it. */
#ifndef QLM_SENTENCEPIECE_SHIM_H
#define QLM_SENTENCEPIECE_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qlm_sp qlm_sp;

/* Token kinds, numbered like GGUF's tokenizer.ggml.token_type. */
enum { QLM_SP_NORMAL = 1, QLM_SP_UNKNOWN = 2, QLM_SP_CONTROL = 3, QLM_SP_UNUSED = 5, QLM_SP_BYTE = 6 };

/* 0 on success; otherwise writes a reason to err. */
int qlm_sp_load(const char *path, qlm_sp **out, char *err, size_t err_cap);
void qlm_sp_free(qlm_sp *sp);
int qlm_sp_size(const qlm_sp *sp);
/* Piece text of id (valid while sp lives). */
const char *qlm_sp_piece(const qlm_sp *sp, int id, size_t *len);
float qlm_sp_score(const qlm_sp *sp, int id);
int qlm_sp_type(const qlm_sp *sp, int id);
int qlm_sp_bos(const qlm_sp *sp); /* -1 if none */
int qlm_sp_eos(const qlm_sp *sp);
int qlm_sp_unk(const qlm_sp *sp);
int qlm_sp_pad(const qlm_sp *sp);
/* Encodes text to a malloc'd id array; 0 on success. */
int qlm_sp_encode(const qlm_sp *sp, const char *text, size_t len, int32_t **ids, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
