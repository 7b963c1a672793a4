/* APDU driver: rsp-euicc's raw APDU socket (apps/euicc, --listen): every message both ways is a
 * 2-byte big-endian length and the payload; one TCP connection is one power-on session. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"

struct socket_ctx {
  char host[64];
  unsigned port;
  int timeout_ms;
  int fd;
};

static rsp_err_t socket_connect(void *ctx) {
  struct socket_ctx *s = ctx;
  struct sockaddr_storage ss;
  socklen_t len;
  int one = 1;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, s->host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)s->port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, s->host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)s->port);
    len = sizeof *v6;
  } else {
    return RSP_E_INVALID_ARG;
  }
  if (s->fd >= 0) close(s->fd);
  s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&ss, len) != 0) {
    rsp_log(RSP_LOG_WARN, "apdu", "cannot connect to the card at %s:%u: %s", s->host, s->port,
            strerror(errno));
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    return RSP_E_IO;
  }
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return RSP_OK;
}

/* Reads or writes exactly n bytes within the timeout. */
static rsp_err_t io_all(struct socket_ctx *s, uint8_t *p, size_t n, bool writing) {
  while (n > 0) {
    struct pollfd pfd = {s->fd, writing ? POLLOUT : POLLIN, 0};
    int r = poll(&pfd, 1, s->timeout_ms);
    if (r < 0 && errno == EINTR) continue; /* a signal is not a transport failure */
    if (r <= 0) return RSP_E_IO;
    ssize_t k = writing ? send(s->fd, p, n, MSG_NOSIGNAL) : recv(s->fd, p, n, 0);
    if (k <= 0) {
      if (k < 0 && errno == EINTR) continue;
      return RSP_E_IO;
    }
    p += k;
    n -= (size_t)k;
  }
  return RSP_OK;
}

static rsp_err_t socket_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r,
                                 size_t *rlen) {
  struct socket_ctx *s = ctx;
  uint8_t frame[2 + RSP_APDU_MAX_COMMAND], hdr[2];
  if (s->fd < 0 || clen > RSP_APDU_MAX_COMMAND) return RSP_E_STATE;
  frame[0] = (uint8_t)(clen >> 8);
  frame[1] = (uint8_t)clen;
  memcpy(frame + 2, c, clen);
  rsp_err_t rc = io_all(s, frame, 2 + clen, true);
  if (rc == RSP_OK) rc = io_all(s, hdr, 2, false);
  size_t n = (size_t)hdr[0] << 8 | hdr[1];
  if (rc == RSP_OK && (n < 2 || n > *rlen)) rc = RSP_E_IO;
  if (rc == RSP_OK) rc = io_all(s, r, n, false);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_WARN, "apdu", "card at %s:%u: APDU exchange failed", s->host, s->port);
    return rc;
  }
  *rlen = n;
  return RSP_OK;
}

static void socket_disconnect(void *ctx) {
  struct socket_ctx *s = ctx;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

static const struct rsp_apdu_ops socket_ops = {"socket", socket_connect, socket_transmit,
                                               socket_disconnect};

rsp_err_t rsp_apdu_socket_new(const char *host, unsigned port, int timeout_ms, struct rsp_apdu *a) {
  struct socket_ctx *s = rsp_calloc(1, sizeof *s);
  if (!s) return RSP_E_NOMEM;
  if (strlen(host) >= sizeof s->host || port == 0 || port > 65535) {
    rsp_free(s);
    return RSP_E_INVALID_ARG;
  }
  snprintf(s->host, sizeof s->host, "%s", host);
  s->port = port;
  s->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
  s->fd = -1;
  a->ops = &socket_ops;
  a->ctx = s;
  return RSP_OK;
}

void rsp_apdu_socket_free(struct rsp_apdu *a) {
  if (!a || !a->ctx) return;
  socket_disconnect(a->ctx);
  rsp_free(a->ctx);
  a->ctx = NULL;
}
