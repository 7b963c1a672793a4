/* rsp-euicc: hosts one or many software eUICCs (lib/euicc) and puts each behind
 *  - pcscd's virtual reader (vsmartcard-vpcd): the card dials out to vpcd as a TCP client, so any
 *    PC/SC application (an LPA, pySim, the IPA's PC/SC driver) sees a real card; and/or
 *  - a raw APDU socket for openrsp's own IPA driver: one TCP connection is one power-on session.
 *
 * Both links carry the same framing: every message, both ways, is a 2-byte big-endian length
 * and the payload. A 1-byte payload is a control message (00 power off, 01 power on, 02 reset,
 * 04 get ATR; only the last one is answered, with the ATR); anything longer is a command APDU,
 * answered with the response APDU. One thread and poll() serve every card.
 *
 * Exit codes: 0 after SIGINT/SIGTERM, 1 on a start-up failure, 2 on a usage error. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/euicc/euicc.h"

#define EUICC_EXIT_OK 0
#define EUICC_EXIT_FAIL 1
#define EUICC_EXIT_USAGE 2
#define EUICC_EXIT_HELP (-1) /* --help: print, then exit 0 */

#define EUICC_MAX_CARDS 1000
#define EUICC_PATH_MAX 4096
/* The largest command APDU a link takes whole: a short APDU is at most 5 + 255 + 1 bytes. Longer
 * frames (extended APDUs) are read past and answered 6700. */
#define EUICC_FRAME_MAX 512
#define EUICC_RX_SIZE (2 + EUICC_FRAME_MAX)
#define EUICC_REPLY_MAX (2 + RSP_EUICC_MAX_RAPDU)
#define EUICC_TX_SIZE (4 * EUICC_REPLY_MAX)
/* vpcd reconnection back-off */
#define EUICC_RETRY_FIRST_MS 100
#define EUICC_RETRY_MAX_MS 5000

/* Control messages (one byte) of the vpcd protocol. */
#define VPCD_POWER_OFF 0x00
#define VPCD_POWER_ON 0x01
#define VPCD_RESET 0x02
#define VPCD_GET_ATR 0x04

static const char usage_text[] =
    "usage: rsp-euicc --pki DIR [--eid EID ... | --eid-file FILE] [--state FILE]\n"
    "                 (--vpcd HOST:PORT ... | --listen [HOST:]PORT) [options]\n"
    "\n"
    "Hosts software eUICCs (SGP.22 ISD-R with the SGP.32 additions) and connects them to\n"
    "pcscd's virtual smart card reader (vsmartcard-vpcd) or to a raw APDU socket.\n"
    "\n"
    "Cards:\n"
    "  --pki DIR          PKI directory in the rsp-pki layout (ci/, eum/, euicc/<EID>/)\n"
    "  --eid EID          a card to host (32 digits; DIR/euicc/<EID> must exist); repeatable\n"
    "  --eid-file FILE    the cards to host, one EID per line ('#' starts a comment)\n"
    "                     (default: every EID found under DIR/euicc/, in sorted order)\n"
    "  --state FILE       SQLite file keeping the cards' durable state (profiles,\n"
    "                     notifications, eIMs, counters) across runs; shared by all cards.\n"
    "                     Default: state in memory only, lost at exit (a warning says so)\n"
    "  --ignore-cert-time accept expired or not yet valid server certificates (old test PKIs)\n"
    "\n"
    "Links (at least one):\n"
    "  --vpcd HOST:PORT   connect to vpcd (pcscd's virtual reader driver) at HOST:PORT as a TCP\n"
    "                     client and reconnect with back-off when pcscd goes away. Given once,\n"
    "                     card i uses PORT+i (vpcd's readers 'Virtual PCD 00 00', '00 01' ...\n"
    "                     listen on consecutive ports from 35963); given once per card, card i\n"
    "                     uses the i-th address\n"
    "  --listen [HOST:]PORT  raw APDU socket for the IPA's socket driver: card i listens on\n"
    "                     PORT+i; a connection is one power-on session (a new one replaces\n"
    "                     the open one). HOST defaults to 127.0.0.1; another address exposes\n"
    "                     the cards to the network\n"
    "\n"
    "Framing on both links: 2-byte big-endian length, then the payload. A 1-byte payload is\n"
    "control: 00 power off, 01 power on, 02 reset (no answer), 04 get ATR (answer: the ATR).\n"
    "\n"
    "Other options:\n"
    "  --log-level LEVEL  error, warn, info (default), debug (every APDU), trace\n"
    "  --help             this text\n"
    "\n"
    "SIGINT or SIGTERM shut the program down cleanly. Exit codes: 0 after a signal, 1 start-up\n"
    "failure, 2 usage error.\n";

struct euicc_opts {
  const char *pki_dir;
  const char *eid_file;
  const char *state_path;
  char (*eids)[RSP_EID_DIGITS + 1];
  size_t n_eids;
  const char **vpcd; /* HOST:PORT strings */
  size_t n_vpcd;
  const char *listen;
  bool ignore_cert_time;
};

/* One byte stream (a vpcd connection or a raw session) with its framing state. */
struct euicc_link {
  int fd; /* -1: none */
  uint8_t rx[EUICC_RX_SIZE];
  size_t rx_len;
  size_t skip;   /* bytes of an oversized frame still to read past */
  bool skipping; /* answer 6700 once the oversized frame is consumed */
  uint8_t tx[EUICC_TX_SIZE];
  size_t tx_len;
};

enum euicc_vpcd_state { VPCD_IDLE, VPCD_CONNECTING, VPCD_UP };

/* One hosted card and its links. */
struct euicc_slot {
  size_t index;
  struct rsp_euicc *card;
  const char *eid;
  /* vpcd */
  bool has_vpcd;
  struct sockaddr_storage vpcd_addr;
  socklen_t vpcd_addr_len;
  char vpcd_name[300];
  enum euicc_vpcd_state vpcd_state;
  struct euicc_link vpcd;
  int64_t retry_at;
  int backoff;
  bool retry_logged;
  /* raw APDU socket */
  int listen_fd;
  char listen_name[300];
  struct euicc_link session;
};

struct euicc_server {
  struct euicc_slot *slots;
  size_t n_slots;
  struct rsp_euicc_store *store;
  struct pollfd *pfds;
  struct euicc_link **pfd_link; /* the link of each pollfd (NULL: listen or signal pipe) */
  struct euicc_slot **pfd_slot;
  size_t n_pfds;
};

static int euicc_signal_pipe[2] = {-1, -1};

/* ---- small helpers --------------------------------------------------------------------------- */

static int64_t euicc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void euicc_on_signal(int sig) {
  int saved = errno;
  uint8_t b = (uint8_t)sig;
  if (write(euicc_signal_pipe[1], &b, 1) < 0) { /* the pipe is full: a signal is pending */
  }
  errno = saved;
}

static int euicc_set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* vpcd sends the length and the APDU in two writes: without TCP_NODELAY here and TCP_QUICKACK
 * re-armed before each read (Linux clears it), every APDU waits for a delayed ACK (~40 ms). */
static void euicc_tune_socket(int fd, bool quickack) {
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef TCP_QUICKACK
  if (quickack) (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
  (void)quickack;
#endif
}

/* Splits "HOST:PORT", "[V6]:PORT" or (when default_host is given) "PORT". */
static bool euicc_split_addr(const char *s, const char *default_host, char *host, size_t host_size,
                             unsigned long *port) {
  const char *colon = strrchr(s, ':');
  const char *p = colon ? colon + 1 : s;
  char *end = NULL;
  size_t hl;
  if (!colon && !default_host) return false;
  *port = strtoul(p, &end, 10);
  if (!*p || *end || *port == 0 || *port > 65535) return false;
  if (!colon) {
    snprintf(host, host_size, "%s", default_host);
    return true;
  }
  hl = (size_t)(colon - s);
  if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
    s++;
    hl -= 2;
  }
  if (hl == 0 || hl >= host_size) return false;
  memcpy(host, s, hl);
  host[hl] = 0;
  return true;
}

static bool euicc_resolve(const char *host, unsigned long port, bool passive,
                          struct sockaddr_storage *ss, socklen_t *len) {
  struct addrinfo hints, *res = NULL;
  char port_str[16];
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  snprintf(port_str, sizeof(port_str), "%lu", port);
  int e = getaddrinfo(host, port_str, &hints, &res);
  if (e != 0 || !res) {
    rsp_log(RSP_LOG_ERROR, "euicc", "cannot resolve %s: %s", host, gai_strerror(e));
    return false;
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

static bool euicc_is_loopback(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
  if (ss->ss_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
  return false;
}

/* ---- framing --------------------------------------------------------------------------------- */

static void euicc_link_init(struct euicc_link *l) {
  memset(l, 0, sizeof(*l));
  l->fd = -1;
}

static void euicc_link_close(struct euicc_link *l) {
  if (l->fd >= 0) close(l->fd);
  euicc_link_init(l);
}

static void euicc_link_queue(struct euicc_link *l, const uint8_t *p, size_t n) {
  /* Callers only queue when EUICC_REPLY_MAX bytes are free. */
  l->tx[l->tx_len++] = (uint8_t)(n >> 8);
  l->tx[l->tx_len++] = (uint8_t)n;
  memcpy(l->tx + l->tx_len, p, n);
  l->tx_len += n;
}

/* Sends what is queued; false when the peer is gone. */
static bool euicc_link_flush(struct euicc_link *l) {
  size_t off = 0;
  while (off < l->tx_len) {
    ssize_t n = send(l->fd, l->tx + off, l->tx_len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) return false;
    off += (size_t)n;
  }
  memmove(l->tx, l->tx + off, l->tx_len - off);
  l->tx_len -= off;
  return true;
}

static void euicc_log_hex(struct euicc_slot *s, const char *dir, const uint8_t *p, size_t n) {
  char hex[2 * EUICC_FRAME_MAX + 1];
  if (rsp_log_get_level() < RSP_LOG_DEBUG) return;
  if (n > EUICC_FRAME_MAX) n = EUICC_FRAME_MAX;
  if (rsp_hex_encode(p, n, hex, sizeof(hex)) != RSP_OK) return;
  rsp_log(RSP_LOG_DEBUG, "euicc", "card %zu %s %s", s->index, dir, hex);
}

static void euicc_control(struct euicc_slot *s, struct euicc_link *l, uint8_t what) {
  uint8_t atr[RSP_EUICC_MAX_ATR];
  switch (what) {
  case VPCD_GET_ATR: /* asked every few hundred ms, also mid-session: no state change */
    euicc_link_queue(l, atr, rsp_euicc_atr(atr));
    break;
  case VPCD_POWER_OFF:
  case VPCD_POWER_ON:
  case VPCD_RESET:
    rsp_log(RSP_LOG_DEBUG, "euicc", "card %zu %s", s->index,
            what == VPCD_POWER_OFF  ? "power off"
            : what == VPCD_POWER_ON ? "power on"
                                    : "reset");
    rsp_euicc_reset(s->card);
    break;
  default:
    rsp_log(RSP_LOG_WARN, "euicc", "card %zu: unknown control message %02X", s->index, what);
  }
}

static void euicc_frame(struct euicc_slot *s, struct euicc_link *l, const uint8_t *p, size_t n) {
  uint8_t rapdu[RSP_EUICC_MAX_RAPDU];
  size_t rlen = sizeof(rapdu);
  if (n == 1) {
    euicc_control(s, l, p[0]);
    return;
  }
  euicc_log_hex(s, ">", p, n);
  rsp_err_t rc = rsp_euicc_transmit(s->card, p, n, rapdu, &rlen);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "euicc", "card %zu (%s): card failure: %s", s->index, s->eid,
            rsp_strerror(rc));
  euicc_log_hex(s, "<", rapdu, rlen);
  euicc_link_queue(l, rapdu, rlen);
}

/* Handles every complete frame in rx while a reply fits in tx. */
static void euicc_link_process(struct euicc_slot *s, struct euicc_link *l) {
  static const uint8_t wrong_length[] = {0x67, 0x00};
  size_t off = 0;
  while (l->tx_len + EUICC_REPLY_MAX <= sizeof(l->tx)) {
    size_t avail = l->rx_len - off, n;
    if (l->skipping) {
      n = avail < l->skip ? avail : l->skip;
      off += n;
      l->skip -= n;
      if (l->skip) break;
      l->skipping = false;
      euicc_link_queue(l, wrong_length, sizeof(wrong_length));
      continue;
    }
    if (avail < 2) break;
    n = (size_t)l->rx[off] << 8 | l->rx[off + 1];
    if (n > EUICC_FRAME_MAX) {
      rsp_log(RSP_LOG_INFO, "euicc", "card %zu: %zu-byte APDU refused (short APDUs only)", s->index,
              n);
      l->skipping = true;
      l->skip = n;
      off += 2;
      continue;
    }
    if (avail < 2 + n) break;
    if (n > 0) euicc_frame(s, l, l->rx + off + 2, n);
    off += 2 + n;
  }
  memmove(l->rx, l->rx + off, l->rx_len - off);
  l->rx_len -= off;
}

/* Reads what is there and answers it; false when the peer closed or failed. */
static bool euicc_link_read(struct euicc_slot *s, struct euicc_link *l) {
  if (l->rx_len == sizeof(l->rx)) { /* replies are backed up: answer before reading more */
    euicc_link_process(s, l);
    return euicc_link_flush(l);
  }
  euicc_tune_socket(l->fd, true);
  ssize_t n = recv(l->fd, l->rx + l->rx_len, sizeof(l->rx) - l->rx_len, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  if (n <= 0) return false;
  l->rx_len += (size_t)n;
  euicc_link_process(s, l);
  return euicc_link_flush(l);
}

/* ---- vpcd ------------------------------------------------------------------------------------ */

static void euicc_vpcd_retry(struct euicc_slot *s, const char *why) {
  euicc_link_close(&s->vpcd);
  s->vpcd_state = VPCD_IDLE;
  s->retry_at = euicc_now_ms() + s->backoff;
  if (!s->retry_logged)
    rsp_log(RSP_LOG_WARN, "euicc", "card %zu: vpcd %s: %s; retrying", s->index, s->vpcd_name, why);
  else
    rsp_log(RSP_LOG_DEBUG, "euicc", "card %zu: vpcd %s: %s; retry in %d ms", s->index, s->vpcd_name,
            why, s->backoff);
  s->retry_logged = true;
  s->backoff = s->backoff * 2 > EUICC_RETRY_MAX_MS ? EUICC_RETRY_MAX_MS : s->backoff * 2;
}

static void euicc_vpcd_up(struct euicc_slot *s) {
  s->vpcd_state = VPCD_UP;
  s->backoff = EUICC_RETRY_FIRST_MS;
  s->retry_logged = false;
  euicc_tune_socket(s->vpcd.fd, false);
  /* A new reader session: the card is inserted, unpowered state cleared. */
  rsp_euicc_reset(s->card);
  rsp_log(RSP_LOG_INFO, "euicc", "card %zu (%s): connected to vpcd %s", s->index, s->eid,
          s->vpcd_name);
}

static void euicc_vpcd_connect(struct euicc_slot *s) {
  int fd = socket(s->vpcd_addr.ss_family, SOCK_STREAM, 0);
  if (fd < 0 || euicc_set_nonblock(fd) != 0) {
    if (fd >= 0) close(fd);
    euicc_vpcd_retry(s, strerror(errno));
    return;
  }
  s->vpcd.fd = fd;
  if (connect(fd, (const struct sockaddr *)&s->vpcd_addr, s->vpcd_addr_len) == 0)
    euicc_vpcd_up(s);
  else if (errno == EINPROGRESS)
    s->vpcd_state = VPCD_CONNECTING;
  else
    euicc_vpcd_retry(s, strerror(errno));
}

static void euicc_vpcd_event(struct euicc_slot *s, short revents) {
  if (s->vpcd_state == VPCD_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s->vpcd.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err)
      euicc_vpcd_retry(s, strerror(err));
    else
      euicc_vpcd_up(s);
    return;
  }
  bool ok = true;
  if (revents & (POLLIN | POLLHUP | POLLERR)) ok = euicc_link_read(s, &s->vpcd);
  if (ok && (revents & POLLOUT)) {
    ok = euicc_link_flush(&s->vpcd);
    if (ok) euicc_link_process(s, &s->vpcd);
    if (ok) ok = euicc_link_flush(&s->vpcd);
  }
  if (!ok) {
    rsp_euicc_reset(s->card); /* the reader is gone: the card loses power */
    s->backoff = EUICC_RETRY_FIRST_MS;
    euicc_vpcd_retry(s, "connection closed");
  }
}

/* ---- raw APDU socket
 * ----------------------------------------------------------------------------- */

static bool euicc_listen_open(struct euicc_slot *s, const char *host, unsigned long port) {
  struct sockaddr_storage ss;
  socklen_t len;
  int one = 1, fd = -1;
  snprintf(s->listen_name, sizeof(s->listen_name), "%s:%lu", host, port);
  if (!euicc_resolve(host, port, true, &ss, &len)) return false;
  if (!euicc_is_loopback(&ss))
    rsp_log(RSP_LOG_WARN, "euicc",
            "card %zu: %s is not a loopback address: the card is "
            "reachable from the network",
            s->index, s->listen_name);
  fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, (const struct sockaddr *)&ss, len) != 0 || listen(fd, 4) != 0 ||
      euicc_set_nonblock(fd) != 0) {
    rsp_log(RSP_LOG_ERROR, "euicc", "card %zu: cannot listen on %s: %s", s->index, s->listen_name,
            strerror(errno));
    if (fd >= 0) close(fd);
    return false;
  }
  s->listen_fd = fd;
  rsp_log(RSP_LOG_INFO, "euicc", "card %zu (%s): APDU socket on %s", s->index, s->eid,
          s->listen_name);
  return true;
}

static void euicc_accept(struct euicc_slot *s) {
  int fd = accept(s->listen_fd, NULL, NULL);
  if (fd < 0) return;
  if (s->session.fd >= 0) {
    /* A new connection takes the card over: the old one is usually a client that went away
     * (or was restarted) before the close reached us; a card in a phone would be power-cycled. */
    rsp_log(RSP_LOG_WARN, "euicc", "card %zu: new connection replaces the open session", s->index);
    euicc_link_close(&s->session);
  }
  if (euicc_set_nonblock(fd) != 0) {
    close(fd);
    return;
  }
  euicc_tune_socket(fd, false);
  s->session.fd = fd;
  rsp_euicc_reset(s->card); /* a connection is a power-on session */
  rsp_log(RSP_LOG_INFO, "euicc", "card %zu: session opened on %s", s->index, s->listen_name);
}

static void euicc_session_event(struct euicc_slot *s, short revents) {
  bool ok = true;
  if (revents & (POLLIN | POLLHUP | POLLERR)) ok = euicc_link_read(s, &s->session);
  if (ok && (revents & POLLOUT)) {
    ok = euicc_link_flush(&s->session);
    if (ok) euicc_link_process(s, &s->session);
    if (ok) ok = euicc_link_flush(&s->session);
  }
  if (!ok) {
    euicc_link_close(&s->session);
    rsp_euicc_reset(s->card); /* end of the session: power off */
    rsp_log(RSP_LOG_INFO, "euicc", "card %zu: session closed", s->index);
  }
}

/* ---- the poll loop
 * ------------------------------------------------------------------------------- */

static void euicc_add_pfd(struct euicc_server *sv, int fd, short events, struct euicc_slot *s,
                          struct euicc_link *l) {
  sv->pfds[sv->n_pfds].fd = fd;
  sv->pfds[sv->n_pfds].events = events;
  sv->pfds[sv->n_pfds].revents = 0;
  sv->pfd_slot[sv->n_pfds] = s;
  sv->pfd_link[sv->n_pfds] = l;
  sv->n_pfds++;
}

static short euicc_link_events(const struct euicc_link *l) {
  short ev = 0;
  if (l->rx_len < sizeof(l->rx)) ev |= POLLIN;
  if (l->tx_len > 0) ev |= POLLOUT;
  return ev;
}

/* Builds the poll set; returns the timeout until the next vpcd reconnection (-1: none). */
static int euicc_build_poll(struct euicc_server *sv) {
  int64_t now = euicc_now_ms(), next = -1;
  sv->n_pfds = 0;
  euicc_add_pfd(sv, euicc_signal_pipe[0], POLLIN, NULL, NULL);
  for (size_t i = 0; i < sv->n_slots; i++) {
    struct euicc_slot *s = &sv->slots[i];
    if (s->has_vpcd && s->vpcd_state == VPCD_IDLE && s->retry_at <= now) euicc_vpcd_connect(s);
    if (s->vpcd_state == VPCD_CONNECTING)
      euicc_add_pfd(sv, s->vpcd.fd, POLLOUT, s, &s->vpcd);
    else if (s->vpcd_state == VPCD_UP)
      euicc_add_pfd(sv, s->vpcd.fd, euicc_link_events(&s->vpcd), s, &s->vpcd);
    else if (s->has_vpcd && (next < 0 || s->retry_at < next))
      next = s->retry_at;
    if (s->listen_fd >= 0) euicc_add_pfd(sv, s->listen_fd, POLLIN, s, NULL);
    if (s->session.fd >= 0)
      euicc_add_pfd(sv, s->session.fd, euicc_link_events(&s->session), s, &s->session);
  }
  if (next < 0) return -1;
  return next <= now ? 0 : (int)(next - now);
}

static int euicc_run(struct euicc_server *sv) {
  for (;;) {
    int timeout = euicc_build_poll(sv);
    int n = poll(sv->pfds, sv->n_pfds, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rsp_log(RSP_LOG_ERROR, "euicc", "poll: %s", strerror(errno));
      return EUICC_EXIT_FAIL;
    }
    if (sv->pfds[0].revents) {
      rsp_log(RSP_LOG_INFO, "euicc", "signal received, shutting down");
      return EUICC_EXIT_OK;
    }
    for (size_t i = 1; i < sv->n_pfds; i++) {
      struct pollfd *p = &sv->pfds[i];
      struct euicc_slot *s = sv->pfd_slot[i];
      if (!p->revents) continue;
      if (!sv->pfd_link[i])
        euicc_accept(s);
      else if (sv->pfd_link[i] == &s->vpcd)
        euicc_vpcd_event(s, p->revents);
      else
        euicc_session_event(s, p->revents);
    }
  }
}

/* ---- start-up -------------------------------------------------------------------------------- */

static int euicc_cmp_eid(const void *a, const void *b) { return strcmp(a, b); }

static bool euicc_add_eid(struct euicc_opts *o, const char *eid) {
  uint8_t raw[RSP_EID_LEN];
  if (strlen(eid) != RSP_EID_DIGITS || rsp_eid_from_string(eid, raw) != RSP_OK) {
    fprintf(stderr, "rsp-euicc: not an EID (32 digits): %s\n", eid);
    return false;
  }
  if (o->n_eids >= EUICC_MAX_CARDS) {
    fprintf(stderr, "rsp-euicc: more than %d cards\n", EUICC_MAX_CARDS);
    return false;
  }
  void *p = rsp_realloc(o->eids, (o->n_eids + 1) * sizeof(*o->eids));
  if (!p) return false;
  o->eids = p;
  snprintf(o->eids[o->n_eids++], RSP_EID_DIGITS + 1, "%s", eid);
  return true;
}

/* Every DIR/euicc/<EID> directory, sorted. */
static bool euicc_scan_eids(struct euicc_opts *o) {
  char path[EUICC_PATH_MAX];
  struct dirent *e;
  bool ok = true;
  snprintf(path, sizeof(path), "%s/euicc", o->pki_dir);
  DIR *d = opendir(path);
  if (!d) {
    fprintf(stderr, "rsp-euicc: %s: %s\n", path, strerror(errno));
    return false;
  }
  while (ok && (e = readdir(d))) {
    uint8_t raw[RSP_EID_LEN];
    if (strlen(e->d_name) == RSP_EID_DIGITS && rsp_eid_from_string(e->d_name, raw) == RSP_OK)
      ok = euicc_add_eid(o, e->d_name);
  }
  closedir(d);
  if (ok && o->n_eids == 0) {
    fprintf(stderr, "rsp-euicc: no eUICC under %s\n", path);
    ok = false;
  }
  if (ok) qsort(o->eids, o->n_eids, sizeof(*o->eids), euicc_cmp_eid);
  return ok;
}

static bool euicc_read_eid_file(struct euicc_opts *o) {
  char line[256];
  bool ok = true;
  FILE *f = fopen(o->eid_file, "r");
  if (!f) {
    fprintf(stderr, "rsp-euicc: %s: %s\n", o->eid_file, strerror(errno));
    return false;
  }
  while (ok && fgets(line, sizeof(line), f)) {
    char *p = line, *end;
    if ((end = strchr(p, '#'))) *end = 0;
    while (*p == ' ' || *p == '\t') p++;
    end = p + strlen(p);
    while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
      *--end = 0;
    if (*p) ok = euicc_add_eid(o, p);
  }
  fclose(f);
  return ok;
}

static int euicc_parse_args(int argc, char **argv, struct euicc_opts *o) {
  static const struct option longopts[] = {{"pki", required_argument, NULL, 'p'},
                                           {"eid", required_argument, NULL, 'e'},
                                           {"eid-file", required_argument, NULL, 'E'},
                                           {"state", required_argument, NULL, 's'},
                                           {"vpcd", required_argument, NULL, 'v'},
                                           {"listen", required_argument, NULL, 'l'},
                                           {"ignore-cert-time", no_argument, NULL, 'i'},
                                           {"log-level", required_argument, NULL, 'L'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  int c, level;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'p':
      o->pki_dir = optarg;
      break;
    case 'e':
      if (!euicc_add_eid(o, optarg)) return EUICC_EXIT_USAGE;
      break;
    case 'E':
      o->eid_file = optarg;
      break;
    case 's':
      o->state_path = optarg;
      break;
    case 'v': {
      const char **p = rsp_realloc(o->vpcd, (o->n_vpcd + 1) * sizeof(*p));
      if (!p) return EUICC_EXIT_FAIL;
      o->vpcd = p;
      o->vpcd[o->n_vpcd++] = optarg;
      break;
    }
    case 'l':
      o->listen = optarg;
      break;
    case 'i':
      o->ignore_cert_time = true;
      break;
    case 'L':
      if ((level = rsp_log_level_parse(optarg)) < 0) {
        fprintf(stderr, "rsp-euicc: unknown log level %s\n", optarg);
        return EUICC_EXIT_USAGE;
      }
      rsp_log_set_level((enum rsp_log_level)level);
      break;
    case 'h':
      fputs(usage_text, stdout);
      return EUICC_EXIT_HELP;
    default:
      fputs(usage_text, stderr);
      return EUICC_EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "rsp-euicc: unexpected argument %s (see --help)\n", argv[optind]);
    return EUICC_EXIT_USAGE;
  }
  return EUICC_EXIT_OK;
}

/* The syntax of the link addresses (they are resolved once the cards are open). */
static bool euicc_check_addrs(const struct euicc_opts *o) {
  char host[256];
  unsigned long port;
  for (size_t i = 0; i < o->n_vpcd; i++) {
    if (!euicc_split_addr(o->vpcd[i], NULL, host, sizeof(host), &port)) {
      fprintf(stderr, "rsp-euicc: --vpcd wants HOST:PORT, not %s\n", o->vpcd[i]);
      return false;
    }
  }
  if (o->listen && !euicc_split_addr(o->listen, "127.0.0.1", host, sizeof(host), &port)) {
    fprintf(stderr, "rsp-euicc: --listen wants [HOST:]PORT, not %s\n", o->listen);
    return false;
  }
  return true;
}

static int euicc_check_opts(struct euicc_opts *o) {
  if (!o->pki_dir) {
    fprintf(stderr, "rsp-euicc: --pki DIR is required (see --help)\n");
    return EUICC_EXIT_USAGE;
  }
  if (o->eid_file && o->n_eids) {
    fprintf(stderr, "rsp-euicc: --eid and --eid-file exclude each other\n");
    return EUICC_EXIT_USAGE;
  }
  if (!o->n_vpcd && !o->listen) {
    fprintf(stderr, "rsp-euicc: give at least one link: --vpcd or --listen (see --help)\n");
    return EUICC_EXIT_USAGE;
  }
  if (!euicc_check_addrs(o)) return EUICC_EXIT_USAGE;
  if (o->eid_file && !euicc_read_eid_file(o)) return EUICC_EXIT_USAGE;
  if (!o->n_eids && !euicc_scan_eids(o)) return EUICC_EXIT_FAIL;
  if (o->n_vpcd > 1 && o->n_vpcd != o->n_eids) {
    fprintf(stderr, "rsp-euicc: %zu --vpcd addresses for %zu cards: give one, or one per card\n",
            o->n_vpcd, o->n_eids);
    return EUICC_EXIT_USAGE;
  }
  return EUICC_EXIT_OK;
}

/* The vpcd address of card i: the i-th --vpcd, or the only one with its port plus i. */
static bool euicc_slot_vpcd(struct euicc_slot *s, const struct euicc_opts *o) {
  char host[256];
  unsigned long port;
  const char *spec = o->vpcd[o->n_vpcd == 1 ? 0 : s->index];
  if (!euicc_split_addr(spec, NULL, host, sizeof(host), &port)) {
    fprintf(stderr, "rsp-euicc: --vpcd wants HOST:PORT, not %s\n", spec);
    return false;
  }
  if (o->n_vpcd == 1) port += s->index;
  if (port > 65535) {
    fprintf(stderr, "rsp-euicc: vpcd port of card %zu above 65535\n", s->index);
    return false;
  }
  snprintf(s->vpcd_name, sizeof(s->vpcd_name), "%s:%lu", host, port);
  s->has_vpcd = euicc_resolve(host, port, false, &s->vpcd_addr, &s->vpcd_addr_len);
  s->backoff = EUICC_RETRY_FIRST_MS;
  return s->has_vpcd;
}

static bool euicc_slot_listen(struct euicc_slot *s, const struct euicc_opts *o) {
  char host[256];
  unsigned long port;
  if (!euicc_split_addr(o->listen, "127.0.0.1", host, sizeof(host), &port)) {
    fprintf(stderr, "rsp-euicc: --listen wants [HOST:]PORT, not %s\n", o->listen);
    return false;
  }
  if (port + s->index > 65535) {
    fprintf(stderr, "rsp-euicc: listening port of card %zu above 65535\n", s->index);
    return false;
  }
  return euicc_listen_open(s, host, port + s->index);
}

static bool euicc_slot_open(struct euicc_server *sv, struct euicc_slot *s,
                            const struct euicc_opts *o) {
  struct rsp_euicc_options co;
  memset(&co, 0, sizeof(co));
  co.pki_dir = o->pki_dir;
  co.eid = s->eid;
  co.store = sv->store;
  co.ignore_cert_time = o->ignore_cert_time;
  rsp_err_t rc = rsp_euicc_open(&co, &s->card);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "euicc", "card %zu (%s): cannot open: %s", s->index, s->eid,
            rsp_strerror(rc));
    return false;
  }
  if (o->n_vpcd && !euicc_slot_vpcd(s, o)) return false;
  if (o->listen && !euicc_slot_listen(s, o)) return false;
  return true;
}

static bool euicc_server_setup(struct euicc_server *sv, const struct euicc_opts *o) {
  size_t max_pfds = 1 + 3 * o->n_eids;
  if (o->state_path) {
    rsp_err_t rc = rsp_euicc_store_open(o->state_path, &sv->store);
    if (rc != RSP_OK) {
      rsp_log(RSP_LOG_ERROR, "euicc", "state %s: %s", o->state_path, rsp_strerror(rc));
      return false;
    }
  } else {
    rsp_log(RSP_LOG_WARN, "euicc",
            "no --state FILE: the cards' state lives in memory and is "
            "lost at exit");
  }
  sv->slots = rsp_calloc(o->n_eids, sizeof(*sv->slots));
  sv->pfds = rsp_calloc(max_pfds, sizeof(*sv->pfds));
  sv->pfd_link = rsp_calloc(max_pfds, sizeof(*sv->pfd_link));
  sv->pfd_slot = rsp_calloc(max_pfds, sizeof(*sv->pfd_slot));
  if (!sv->slots || !sv->pfds || !sv->pfd_link || !sv->pfd_slot) return false;
  for (size_t i = 0; i < o->n_eids; i++) {
    struct euicc_slot *s = &sv->slots[i];
    s->index = i;
    s->eid = o->eids[i];
    s->listen_fd = -1;
    euicc_link_init(&s->vpcd);
    euicc_link_init(&s->session);
    sv->n_slots = i + 1;
    if (!euicc_slot_open(sv, s, o)) return false;
  }
  rsp_log(RSP_LOG_INFO, "euicc", "%zu card%s ready", sv->n_slots, sv->n_slots == 1 ? "" : "s");
  return true;
}

static void euicc_server_free(struct euicc_server *sv) {
  for (size_t i = 0; i < sv->n_slots; i++) {
    struct euicc_slot *s = &sv->slots[i];
    euicc_link_close(&s->vpcd);
    euicc_link_close(&s->session);
    if (s->listen_fd >= 0) close(s->listen_fd);
    rsp_euicc_destroy(s->card);
  }
  rsp_free(sv->slots);
  rsp_free(sv->pfds);
  rsp_free(sv->pfd_link);
  rsp_free(sv->pfd_slot);
  rsp_euicc_store_close(sv->store);
  memset(sv, 0, sizeof(*sv));
}

static bool euicc_signals_setup(void) {
  struct sigaction sa;
  if (pipe(euicc_signal_pipe) != 0 || euicc_set_nonblock(euicc_signal_pipe[1]) != 0) return false;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = euicc_on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) return false;
  signal(SIGPIPE, SIG_IGN);
  return true;
}

int main(int argc, char **argv) {
  struct euicc_opts o;
  struct euicc_server sv;
  int rc;
  memset(&o, 0, sizeof(o));
  memset(&sv, 0, sizeof(sv));
  rsp_log_set_sink(RSP_LOG_SINK_STDERR, "rsp-euicc");
  rsp_log_set_level(RSP_LOG_INFO);
  if ((rc = euicc_parse_args(argc, argv, &o)) != EUICC_EXIT_OK) {
    if (rc == EUICC_EXIT_HELP) rc = EUICC_EXIT_OK;
    goto out;
  }
  if ((rc = euicc_check_opts(&o)) != EUICC_EXIT_OK) goto out;
  rc = EUICC_EXIT_FAIL;
  if (!euicc_signals_setup()) {
    rsp_log(RSP_LOG_ERROR, "euicc", "signal setup: %s", strerror(errno));
    goto out;
  }
  if (!euicc_server_setup(&sv, &o)) goto out;
  rc = euicc_run(&sv);
out:
  euicc_server_free(&sv);
  rsp_free(o.eids);
  rsp_free(o.vpcd);
  return rc;
}
