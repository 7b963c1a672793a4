/* ESipa polls for bench/eim/run.sh: the DER GetEimPackageRequest of registered devices (built
 * with lib/msg), the wrk script that POSTs it, the check of the eIM's answer, and a load generator
 * that opens a new TLS connection for every poll, offering the previous session or not.
 *
 *   bench_esipa request EID OUT        OUT: EsipaMessageFromIpaToEim {getEimPackageRequest (BF4F)
 *                                      {eidValue}}, DER
 *   bench_esipa lua EIDS_FILE OUT      OUT: a wrk script POSTing that request to /gsma/rsp2/asn1;
 *                                      one EID: a fixed wrk.body; more: round robin over the
 *                                      EIDs, each request formatted once
 *   bench_esipa answer PORT REQUEST OUT
 *                                      one poll of https://127.0.0.1:PORT; the answer must be 200
 *                                      with getEimPackageResponse eimPackageError
 *                                      noEimPackageAvailable (1), and its body is written to OUT
 *   bench_esipa connect PORT REQUEST SECONDS THREADS reuse|new [EXPECTED]
 *                                      THREADS clients polling for SECONDS, each poll on a new TCP
 *                                      connection and TLS handshake (Connection: close); `reuse`
 *                                      offers the session of the client's previous connection
 *                                      (resumption), `new` never does (full handshakes). Prints
 *                                      "polls N seconds S per_s R resumed M errors E
 *                                      client_cpu_us C tls V" (this process's CPU per poll, the
 *                                      TLS version); an answer
 *                                      other than 200 with the bytes of EXPECTED is an error.
 *
 * The client does the least a client can (no certificate verification: the handshake's
 * signature is still checked by TLS itself), so that the server's work dominates. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench_eim_util.h"
#include "rsp/core/arena.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/msg.h"

#define PROG "bench_esipa"
#define ESIPA_PATH "/gsma/rsp2/asn1"
#define ASN1_TYPE "application/x-gsma-rsp-asn1"
#define ADMIN_PROTOCOL "gsma/rsp/v2.1.0"
#define MAX_THREADS 64
#define MAX_LUA_EIDS 100000
#define MAX_ANSWER 65536      /* an empty-queue answer is a few bytes */
#define MAX_REQUEST_FILE 4096 /* a GetEimPackageRequest is 21 bytes */
#define IO_TIMEOUT_S 10

/* ---- the request ----------------------------------------------------------------------------- */

/* EsipaMessageFromIpaToEim with the getEimPackageRequest of `eid` (SGP.32 §6.3, notes 2.3). */
static rsp_err_t encode_request(const char *eid, struct rsp_buf *out) {
  uint8_t eid_bcd[RSP_EID_LEN];
  struct rsp_msg_get_eim_package_request g = {0};
  struct rsp_msg_esipa_message_from_ipa_to_eim m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST,
      .u.get_eim_package_request = &g};
  rsp_err_t rc = rsp_eid_from_string(eid, eid_bcd);
  if (rc != RSP_OK) return rc;
  g.eid_value = rsp_msg_slice(eid_bcd, sizeof eid_bcd);
  return rsp_msg_encode(&rsp_msgt_esipa_message_from_ipa_to_eim, &m, out, NULL);
}

static bool write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  bool ok = f && fwrite(p, 1, n, f) == n;
  if (f && fclose(f) != 0) ok = false;
  if (!ok) fprintf(stderr, PROG ": cannot write %s\n", path);
  return ok;
}

static int cmd_request(const char *eid, const char *out) {
  struct rsp_buf der;
  rsp_buf_init(&der, MAX_REQUEST_FILE);
  rsp_err_t rc = encode_request(eid, &der);
  if (rc != RSP_OK) bench_die(PROG, "GetEimPackageRequest", rc);
  bool ok = write_file(out, der.data, der.len);
  rsp_buf_free(&der);
  return ok ? 0 : 1;
}

/* A Lua string literal of any bytes: every byte as a three-digit decimal escape. */
static void lua_bytes(FILE *f, const struct rsp_buf *b) {
  fputc('"', f);
  for (size_t i = 0; i < b->len; i++) fprintf(f, "\\%03u", b->data[i]);
  fputc('"', f);
}

static void lua_header(FILE *f) {
  fputs("-- bench/eim: GetEimPackageRequest (DER) POSTed over ESipa's ASN.1 binding\n"
        "wrk.method = \"POST\"\n"
        "wrk.path = \"" ESIPA_PATH "\"\n"
        "wrk.headers[\"Content-Type\"] = \"" ASN1_TYPE "\"\n"
        "wrk.headers[\"X-Admin-Protocol\"] = \"" ADMIN_PROTOCOL "\"\n",
        f);
}

/* Reads the EIDs of `in` (one per line) and writes the script to `f`; false on any error. */
static bool write_lua(FILE *in, FILE *f) {
  char line[128];
  struct rsp_buf der;
  size_t n = 0;
  bool ok = true;
  rsp_buf_init(&der, MAX_REQUEST_FILE);
  lua_header(f);
  fputs("local bodies = {\n", f);
  while (ok && n < MAX_LUA_EIDS && fgets(line, sizeof line, in)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) continue;
    rsp_buf_reset(&der);
    ok = encode_request(line, &der) == RSP_OK;
    if (!ok) fprintf(stderr, PROG ": not an EID: %s\n", line);
    lua_bytes(f, &der);
    fputs(",\n", f);
    n++;
  }
  fputs("}\n", f);
  if (n == 1) {
    fputs("wrk.body = bodies[1]\n", f); /* wrk's fast path: one request, built once */
  } else {
    /* every request formatted once, in init (after wrk's own init has set the Host header) */
    fputs("local requests = {}\n"
          "init = function(args)\n"
          "  for k, body in ipairs(bodies) do requests[k] = wrk.format(nil, nil, nil, body) end\n"
          "end\n"
          "local i = 0\n"
          "request = function()\n"
          "  i = i % #requests + 1\n"
          "  return requests[i]\n"
          "end\n",
          f);
  }
  rsp_buf_free(&der);
  if (n == 0) fputs(PROG ": no EID in the list\n", stderr);
  return ok && n > 0;
}

static int cmd_lua(const char *eids, const char *out) {
  FILE *in = fopen(eids, "r"), *f = fopen(out, "w");
  bool ok = in && f && write_lua(in, f);
  if (!in) fprintf(stderr, PROG ": cannot read %s\n", eids);
  if (in) fclose(in);
  if (f && fclose(f) != 0) ok = false;
  return ok ? 0 : 1;
}

/* ---- one poll over a new connection ---------------------------------------------------------- */

struct client {
  SSL_CTX *ctx;
  uint16_t port;
  const struct rsp_buf *http; /* the whole HTTP request */
  const struct rsp_buf *expected;
  bool reuse;
  double until;
  /* per thread */
  SSL_SESSION *session;
  unsigned long polls, resumed, errors;
  const char *version; /* the TLS version of the first poll */
};

static int tcp_connect(uint16_t port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  struct timeval tv = {IO_TIMEOUT_S, 0};
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0) return -1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
      connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The Content-Length of a response header block, or -1. */
static long content_length(const char *head, size_t n) {
  static const char name[] = "\r\ncontent-length:";
  size_t k = sizeof name - 1;
  for (size_t i = 0; i + k < n; i++)
    if (strncasecmp(head + i, name, k) == 0) return strtol(head + i + k, NULL, 10);
  return -1;
}

/* The offset just past the blank line ending a header block, or 0 when it is not complete. */
static size_t header_end(const char *buf, size_t len) {
  for (size_t i = 0; i + 4 <= len; i++)
    if (memcmp(buf + i, "\r\n\r\n", 4) == 0) return i + 4;
  return 0;
}

/* Reads one response: until the header and Content-Length bytes of body are in (or EOF). The
 * body starts at *body_at. */
static bool read_response(SSL *ssl, char *buf, size_t size, size_t *len, size_t *body_at) {
  long clen = -1;
  *len = *body_at = 0;
  for (;;) {
    if (*body_at && clen >= 0 && *len >= *body_at + (size_t)clen) return true;
    if (*len == size) return false;
    int n = SSL_read(ssl, buf + *len, (int)(size - *len));
    if (n <= 0) return *body_at != 0 && clen < 0; /* EOF ends a body without a length */
    *len += (size_t)n;
    if (!*body_at && (*body_at = header_end(buf, *len)) != 0) clen = content_length(buf, *body_at);
  }
}

static bool answer_ok(const struct client *c, const char *buf, size_t len, size_t body_at) {
  if (len < 12 || strncmp(buf, "HTTP/1.1 200", 12) != 0) return false;
  if (!c->expected) return true;
  return len - body_at == c->expected->len &&
         memcmp(buf + body_at, c->expected->data, c->expected->len) == 0;
}

/* The TLS part of one poll on connected socket `fd`. */
static bool tls_poll(struct client *c, int fd, char *buf, size_t size, size_t *len,
                     size_t *body_at) {
  SSL *ssl = SSL_new(c->ctx);
  bool ok = ssl && SSL_set_fd(ssl, fd) == 1;
  if (ok && c->reuse && c->session) SSL_set_session(ssl, c->session);
  ok = ok && SSL_connect(ssl) == 1 &&
       SSL_write(ssl, c->http->data, (int)c->http->len) == (int)c->http->len &&
       read_response(ssl, buf, size, len, body_at);
  if (ok && SSL_session_reused(ssl)) c->resumed++;
  if (ok && !c->version) c->version = SSL_get_version(ssl); /* a static string */
  if (ok && c->reuse) {
    /* the latest session: under TLS 1.3 its ticket arrived with the answer */
    SSL_SESSION_free(c->session);
    c->session = SSL_get1_session(ssl);
  }
  if (ssl) {
    /* Connection: close: the server closes; do not wait for its close_notify, and keep the
     * session resumable (OpenSSL drops a session whose connection was not shut down). */
    SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl);
  }
  ERR_clear_error();
  return ok;
}

/* One poll on a new connection; the answer in buf[body_at .. len). */
static bool poll_once(struct client *c, char *buf, size_t size, size_t *len, size_t *body_at) {
  int fd = tcp_connect(c->port);
  if (fd < 0) return false;
  bool ok = tls_poll(c, fd, buf, size, len, body_at);
  close(fd);
  return ok;
}

static void *client_main(void *arg) {
  struct client *c = arg;
  char buf[MAX_ANSWER + 1024];
  size_t len, body_at;
  while (bench_now() < c->until) {
    if (poll_once(c, buf, sizeof buf, &len, &body_at) && answer_ok(c, buf, len, body_at))
      c->polls++;
    else
      c->errors++;
  }
  SSL_SESSION_free(c->session);
  c->session = NULL;
  return NULL;
}

static SSL_CTX *client_ctx(void) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    fprintf(stderr, PROG ": cannot create a TLS context\n");
    exit(1);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  /* sessions are kept by hand, one per client thread */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  return ctx;
}

/* POST /gsma/rsp2/asn1 with the DER body of `request_file` and Connection: close. */
static void http_request(const char *request_file, uint16_t port, struct rsp_buf *out) {
  struct rsp_buf body;
  char head[512];
  rsp_buf_init(&body, MAX_REQUEST_FILE);
  if (!bench_read_file(request_file, &body) || body.len == 0) {
    fprintf(stderr, PROG ": cannot read the request %s\n", request_file);
    exit(1);
  }
  int n = snprintf(head, sizeof head,
                   "POST " ESIPA_PATH " HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                   "Content-Type: " ASN1_TYPE "\r\nX-Admin-Protocol: " ADMIN_PROTOCOL "\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   (unsigned)port, body.len);
  if (rsp_buf_append(out, head, (size_t)n) != RSP_OK ||
      rsp_buf_append(out, body.data, body.len) != RSP_OK)
    bench_die(PROG, "request", RSP_E_NOMEM);
  rsp_buf_free(&body);
}

static uint16_t parse_port(const char *s) {
  char *end;
  long p = strtol(s, &end, 10);
  if (*end || p <= 0 || p > 65535) {
    fprintf(stderr, PROG ": not a port: %s\n", s);
    exit(2);
  }
  return (uint16_t)p;
}

/* ---- answer: one poll, checked --------------------------------------------------------------- */

/* True when `der` is getEimPackageResponse with eimPackageError noEimPackageAvailable. */
static bool is_no_package(const uint8_t *der, size_t len) {
  struct rsp_arena a;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  bool ok;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  ok = rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, der, len, &a, (void **)&m, NULL) ==
           RSP_OK &&
       m->which == RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_EIM_PACKAGE_RESPONSE &&
       m->u.get_eim_package_response->which == RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR &&
       m->u.get_eim_package_response->u.eim_package_error ==
           RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_NO_EIM_PACKAGE_AVAILABLE;
  rsp_arena_free(&a);
  return ok;
}

static int cmd_answer(const char *port_s, const char *request_file, const char *out) {
  struct rsp_buf http;
  struct client c = {.ctx = client_ctx(), .port = parse_port(port_s), .http = &http};
  char buf[MAX_ANSWER + 1024];
  size_t len = 0, body_at = 0;
  rsp_buf_init(&http, MAX_REQUEST_FILE + 1024);
  http_request(request_file, c.port, &http);
  bool ok = poll_once(&c, buf, sizeof buf, &len, &body_at) && answer_ok(&c, buf, len, body_at);
  if (!ok) {
    fprintf(stderr, PROG ": the poll failed or was not answered 200: %.*s\n",
            (int)(len < 200 ? len : 200), buf);
  } else if (!is_no_package((const uint8_t *)buf + body_at, len - body_at)) {
    fprintf(stderr, PROG ": the answer is not getEimPackageResponse noEimPackageAvailable\n");
    ok = false;
  }
  ok = ok && write_file(out, buf + body_at, len - body_at);
  if (ok) printf("answer %zu bytes: noEimPackageAvailable\n", len - body_at);
  rsp_buf_free(&http);
  SSL_CTX_free(c.ctx);
  return ok ? 0 : 1;
}

/* ---- connect: the load ----------------------------------------------------------------------- */

/* User + system CPU seconds of this process so far. */
static double cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmd_connect(int argc, char **argv) {
  static struct client cl[MAX_THREADS];
  pthread_t th[MAX_THREADS];
  struct rsp_buf http, expected;
  double secs = strtod(argv[2], NULL);
  long threads = strtol(argv[3], NULL, 10);
  bool reuse = strcmp(argv[4], "reuse") == 0;
  struct client proto = {
      .ctx = client_ctx(), .port = parse_port(argv[0]), .http = &http, .reuse = reuse};
  unsigned long polls = 0, resumed = 0, errors = 0;
  if (secs <= 0 || threads < 1 || threads > MAX_THREADS || (!reuse && strcmp(argv[4], "new"))) {
    fprintf(stderr, PROG ": connect PORT REQUEST SECONDS THREADS(1..%d) reuse|new [EXPECTED]\n",
            MAX_THREADS);
    return 2;
  }
  rsp_buf_init(&http, MAX_REQUEST_FILE + 1024);
  rsp_buf_init(&expected, MAX_ANSWER);
  http_request(argv[1], proto.port, &http);
  if (argc > 5 && !bench_read_file(argv[5], &expected)) {
    fprintf(stderr, PROG ": cannot read %s\n", argv[5]);
    return 1;
  }
  if (argc > 5) proto.expected = &expected;
  double cpu0 = cpu_seconds(), t0 = bench_now();
  proto.until = t0 + secs;
  for (long i = 0; i < threads; i++) {
    cl[i] = proto;
    if (pthread_create(&th[i], NULL, client_main, &cl[i]) != 0) {
      fprintf(stderr, PROG ": cannot start a client thread\n");
      return 1;
    }
  }
  for (long i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    polls += cl[i].polls;
    resumed += cl[i].resumed;
    errors += cl[i].errors;
  }
  double t = bench_now() - t0, cpu = cpu_seconds() - cpu0;
  printf("polls %lu seconds %.2f per_s %.1f resumed %lu errors %lu client_cpu_us %.0f tls %s\n",
         polls, t, polls / t, resumed, errors, polls ? cpu * 1e6 / (double)polls : 0.0,
         cl[0].version ? cl[0].version : "none");
  rsp_buf_free(&http);
  rsp_buf_free(&expected);
  SSL_CTX_free(proto.ctx);
  return 0;
}

static int usage(void) {
  fputs("usage: " PROG " request EID OUT\n"
        "       " PROG " lua EIDS_FILE OUT\n"
        "       " PROG " answer PORT REQUEST OUT\n"
        "       " PROG " connect PORT REQUEST SECONDS THREADS reuse|new [EXPECTED]\n",
        stderr);
  return 2;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 4 && strcmp(argv[1], "request") == 0) return cmd_request(argv[2], argv[3]);
  if (argc == 4 && strcmp(argv[1], "lua") == 0) return cmd_lua(argv[2], argv[3]);
  if (argc == 5 && strcmp(argv[1], "answer") == 0) return cmd_answer(argv[2], argv[3], argv[4]);
  if ((argc == 7 || argc == 8) && strcmp(argv[1], "connect") == 0)
    return cmd_connect(argc - 2, argv + 2);
  return usage();
}
