/* APDU driver: a cellular modem on a serial line, through 3GPP TS 27.007 AT+CSIM (generic SIM
 * access): `AT+CSIM=<length>,"<command hex>"` is answered `+CSIM: <length>,"<response hex>"` then
 * `OK`. The length counts hex characters. The line is opened raw (no echo, no translation). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"

#define LINE_MAX_LEN 1200 /* +CSIM: 516,"<516 hex>" fits */

struct at_ctx {
  char path[256];
  int timeout_ms;
  int fd;
  char buf[4096]; /* bytes read but not yet consumed */
  size_t len;
};

static rsp_err_t at_open(void *ctx) {
  struct at_ctx *a = ctx;
  struct termios t;
  if (a->fd >= 0) close(a->fd);
  a->len = 0;
  a->fd = open(a->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (a->fd < 0) {
    rsp_log(RSP_LOG_WARN, "apdu-at", "cannot open %s: %s", a->path, strerror(errno));
    return RSP_E_IO;
  }
  if (tcgetattr(a->fd, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(a->fd, TCSANOW, &t);
  }
  return RSP_OK;
}

/* Reads one line (without CR/LF, empty lines skipped) within the timeout. */
static rsp_err_t read_line(struct at_ctx *a, char *line, size_t size) {
  for (;;) {
    char *nl = memchr(a->buf, '\n', a->len), *cr = memchr(a->buf, '\r', a->len);
    char *end = nl && (!cr || nl < cr) ? nl : cr;
    if (end) {
      size_t n = (size_t)(end - a->buf);
      if (n >= size) return RSP_E_IO;
      memcpy(line, a->buf, n);
      line[n] = '\0';
      memmove(a->buf, end + 1, a->len - n - 1);
      a->len -= n + 1;
      if (n > 0) return RSP_OK;
      continue;
    }
    if (a->len == sizeof a->buf) return RSP_E_IO;
    struct pollfd p = {a->fd, POLLIN, 0};
    int r = poll(&p, 1, a->timeout_ms);
    if (r < 0 && errno == EINTR) continue; /* a signal is not a transport failure */
    if (r <= 0) return RSP_E_IO;
    ssize_t k = read(a->fd, a->buf + a->len, sizeof a->buf - a->len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return RSP_E_IO;
    a->len += (size_t)k;
  }
}

static rsp_err_t write_all(struct at_ctx *a, const char *s, size_t n) {
  while (n > 0) {
    ssize_t k = write(a->fd, s, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return RSP_E_IO;
    s += k;
    n -= (size_t)k;
  }
  return RSP_OK;
}

/* Parses `+CSIM: <len>,"<hex>"` into r. */
static rsp_err_t parse_csim(const char *line, uint8_t *r, size_t *rlen) {
  char hex[LINE_MAX_LEN];
  unsigned long n;
  char *end;
  if (strncmp(line, "+CSIM:", 6) != 0) return RSP_E_IO;
  n = strtoul(line + 6, &end, 10);
  if (*end != ',' || end[1] != '"') return RSP_E_IO;
  const char *q = strchr(end + 2, '"');
  size_t hl = q ? (size_t)(q - (end + 2)) : 0;
  if (!q || hl != n || hl % 2 || hl >= sizeof hex || hl / 2 > *rlen || hl < 4) return RSP_E_IO;
  memcpy(hex, end + 2, hl);
  hex[hl] = '\0';
  return rsp_hex_decode(hex, r, *rlen, rlen) == RSP_OK ? RSP_OK : RSP_E_IO;
}

static rsp_err_t at_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen) {
  struct at_ctx *a = ctx;
  char cmd[32 + 2 * RSP_APDU_MAX_COMMAND], hex[2 * RSP_APDU_MAX_COMMAND + 1], line[LINE_MAX_LEN];
  bool got = false;
  if (a->fd < 0 || clen > RSP_APDU_MAX_COMMAND) return RSP_E_STATE;
  rsp_hex_encode(c, clen, hex, sizeof hex);
  int n = snprintf(cmd, sizeof cmd, "AT+CSIM=%zu,\"%s\"\r", 2 * clen, hex);
  rsp_err_t rc = write_all(a, cmd, (size_t)n);
  size_t cap = *rlen;
  while (rc == RSP_OK && (rc = read_line(a, line, sizeof line)) == RSP_OK) {
    if (strncmp(line, "AT+CSIM", 7) == 0) continue; /* an echo */
    if (strncmp(line, "+CSIM:", 6) == 0) {
      *rlen = cap;
      rc = parse_csim(line, r, rlen);
      got = rc == RSP_OK;
    } else if (strcmp(line, "OK") == 0) {
      break;
    } else if (strncmp(line, "ERROR", 5) == 0 || strncmp(line, "+CME ERROR", 10) == 0) {
      rsp_log(RSP_LOG_WARN, "apdu-at", "modem refused AT+CSIM: %s", line);
      rc = RSP_E_IO;
    }
  }
  if (rc == RSP_OK && !got) rc = RSP_E_IO;
  return rc;
}

static void at_close(void *ctx) {
  struct at_ctx *a = ctx;
  if (a->fd >= 0) close(a->fd);
  a->fd = -1;
}

static const struct rsp_apdu_ops at_ops = {"at+csim", at_open, at_transmit, at_close};

rsp_err_t rsp_apdu_at_new(const char *device, int timeout_ms, struct rsp_apdu *a) {
  struct at_ctx *x = rsp_calloc(1, sizeof *x);
  if (!x) return RSP_E_NOMEM;
  if (strlen(device) >= sizeof x->path) {
    rsp_free(x);
    return RSP_E_INVALID_ARG;
  }
  snprintf(x->path, sizeof x->path, "%s", device);
  x->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
  x->fd = -1;
  a->ops = &at_ops;
  a->ctx = x;
  return RSP_OK;
}

void rsp_apdu_at_free(struct rsp_apdu *a) {
  if (!a || !a->ctx) return;
  at_close(a->ctx);
  rsp_free(a->ctx);
  a->ctx = NULL;
}
