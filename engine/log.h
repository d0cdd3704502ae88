/* log.h - per-handle logging through the user's callback (no global logger). */
#ifndef QLM_LOG_H
#define QLM_LOG_H

#include "qlm.h"

typedef struct qlm_logger {
    qlm_log_fn fn;
    void *user;
    qlm_log_level level;
} qlm_logger;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void qlm_log(const qlm_logger *lg, qlm_log_level level, const char *fmt, ...);

#endif
