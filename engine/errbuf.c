/* errbuf.c - formatted error messages and status names. */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>

qlm_status qlm_err(qlm_errbuf *e, qlm_status status, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *qlm_status_str(qlm_status s) {
    switch (s) {
    case QLM_OK: return "ok";
    case QLM_ERR_INVALID_ARG: return "invalid argument";
    case QLM_ERR_IO: return "i/o error";
    case QLM_ERR_FORMAT: return "malformed file";
    case QLM_ERR_UNSUPPORTED: return "unsupported";
    case QLM_ERR_NOMEM: return "out of memory";
    case QLM_ERR_CONTEXT_FULL: return "context full";
    case QLM_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case QLM_ERR_STOPPED: return "stopped";
    case QLM_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
