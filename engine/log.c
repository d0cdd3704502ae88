/* log.c - formats one line and hands it to the user's callback. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void qlm_log(const qlm_logger *lg, qlm_log_level level, const char *fmt, ...) {
    if (!lg || !lg->fn || level > lg->level) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    lg->fn(level, line, lg->user);
}
