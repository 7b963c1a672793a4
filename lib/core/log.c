#include "rsp/core/log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static enum rsp_log_level cur_level = RSP_LOG_INFO;
static enum rsp_log_sink cur_sink = RSP_LOG_SINK_STDERR;
static const char *cur_ident = "openrsp";
static rsp_log_fn cb_fn;
static void *cb_ctx;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void rsp_log_set_level(enum rsp_log_level level) { cur_level = level; }
enum rsp_log_level rsp_log_get_level(void) { return cur_level; }

int rsp_log_level_parse(const char *name) {
  for (int i = 0; i <= RSP_LOG_TRACE; i++)
    if (strcmp(name, level_names[i]) == 0) return i;
  return -1;
}

const char *rsp_log_level_name(enum rsp_log_level level) {
  return level <= RSP_LOG_TRACE ? level_names[level] : "?";
}

void rsp_log_set_sink(enum rsp_log_sink sink, const char *ident) {
  if (ident) cur_ident = ident;
  if (cur_sink == RSP_LOG_SINK_SYSLOG && sink != RSP_LOG_SINK_SYSLOG) closelog();
  cur_sink = sink;
  if (sink == RSP_LOG_SINK_SYSLOG) openlog(cur_ident, LOG_PID, LOG_DAEMON);
}

void rsp_log_set_callback(rsp_log_fn fn, void *ctx) {
  cb_fn = fn;
  cb_ctx = ctx;
  cur_sink = fn ? RSP_LOG_SINK_CALLBACK : RSP_LOG_SINK_STDERR;
}

void rsp_vlog(enum rsp_log_level level, const char *component, const char *fmt, va_list ap) {
  static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG};
  char msg[1024];
  if (level > cur_level) return;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  if (!component) component = "-";
  switch (cur_sink) {
  case RSP_LOG_SINK_CALLBACK:
    if (cb_fn) cb_fn(cb_ctx, level, component, msg);
    break;
  case RSP_LOG_SINK_SYSLOG:
    syslog(prio[level], "%s: %s", component, msg);
    break;
  default: {
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s %-5s %s: %s\n", ts, now.tv_nsec / 1000000L, cur_ident,
            level_names[level], component, msg);
    break;
  }
  }
}

void rsp_log(enum rsp_log_level level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rsp_vlog(level, component, fmt, ap);
  va_end(ap);
}
