/* openrsp: logging with levels, to stderr, syslog or a callback. */
#ifndef RSP_CORE_LOG_H
#define RSP_CORE_LOG_H

#include <stdarg.h>

enum rsp_log_level {
  RSP_LOG_ERROR = 0,
  RSP_LOG_WARN = 1,
  RSP_LOG_INFO = 2,
  RSP_LOG_DEBUG = 3,
  RSP_LOG_TRACE = 4
};

enum rsp_log_sink { RSP_LOG_SINK_STDERR, RSP_LOG_SINK_SYSLOG, RSP_LOG_SINK_CALLBACK };

typedef void (*rsp_log_fn)(void *ctx, enum rsp_log_level level, const char *component,
                           const char *msg);

void rsp_log_set_level(enum rsp_log_level level);
enum rsp_log_level rsp_log_get_level(void);
/* Parses "error", "warn", "info", "debug", "trace"; returns -1 when unknown. */
int rsp_log_level_parse(const char *name);
const char *rsp_log_level_name(enum rsp_log_level level);
/* ident is used for syslog's openlog and as the stderr prefix; it must stay valid. */
void rsp_log_set_sink(enum rsp_log_sink sink, const char *ident);
void rsp_log_set_callback(rsp_log_fn fn, void *ctx);

#if defined(__GNUC__)
#define RSP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RSP_PRINTF(a, b)
#endif

void rsp_log(enum rsp_log_level level, const char *component, const char *fmt, ...)
    RSP_PRINTF(3, 4);
void rsp_vlog(enum rsp_log_level level, const char *component, const char *fmt, va_list ap);

#define RSP_LOG_E(comp, ...) rsp_log(RSP_LOG_ERROR, comp, __VA_ARGS__)
#define RSP_LOG_W(comp, ...) rsp_log(RSP_LOG_WARN, comp, __VA_ARGS__)
#define RSP_LOG_I(comp, ...) rsp_log(RSP_LOG_INFO, comp, __VA_ARGS__)
#define RSP_LOG_D(comp, ...)                                                                       \
  do {                                                                                             \
    if (rsp_log_get_level() >= RSP_LOG_DEBUG) rsp_log(RSP_LOG_DEBUG, comp, __VA_ARGS__);           \
  } while (0)

#endif
