/* errbuf.h - the error message a handle carries (see qlm_last_error). */
#ifndef QLM_ERRBUF_H
#define QLM_ERRBUF_H

#include "qlm.h"

#define QLM_ERRBUF_LEN 512

typedef struct qlm_errbuf {
    char msg[QLM_ERRBUF_LEN];
} qlm_errbuf;

/* Formats the message into e (when e is non-NULL) and returns status, so that
 * callers can write `return qlm_err(e, QLM_ERR_FORMAT, "%s: bad magic", path);`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
qlm_status qlm_err(qlm_errbuf *e, qlm_status status, const char *fmt, ...);

static inline void qlm_err_clear(qlm_errbuf *e) { if (e) e->msg[0] = '\0'; }

#endif
