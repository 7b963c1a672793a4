/* lib/net on 127.0.0.1: the HTTPS server and client together, with certificates made by the built
 * rsp-pki (its path is argv[1]). POST round trip, keep-alive and session resumption (counted on
 * the server), the body cap (413), routing answers of the handler (404, 405, 500), the client's
 * response cap, server certificates from another CA, mutual TLS (required and optional),
 * concurrent clients, shutdown with requests in flight, option checks, the access log, and what
 * the handler sees of a request: the query string kept in the path, the Authorization and
 * X-API-Key headers (NULL when absent). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/log.h"
#include "rsp/net/http.h"
#include "test.h"

static const char *rsp_pki_bin;
static char tmp[512], pki[600], other[600];

/* What the handler saw, shared with the server's loop threads. */
static struct {
  pthread_mutex_t mu;
  int calls;
  unsigned sleep_ms;
  char subject[512], admin[64], ua[128], ct[128], path[256], auth[128], key[128];
  bool had_subject, had_auth, had_key;
} seen = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct {
  pthread_mutex_t mu;
  int lines;
  char last[512];
} logged = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_log(void *ctx, enum rsp_log_level level, const char *component, const char *msg) {
  pthread_mutex_lock(&logged.mu);
  if (level == RSP_LOG_INFO && strcmp(component, "test-http") == 0) {
    logged.lines++;
    snprintf(logged.last, sizeof logged.last, "%s", msg);
  }
  pthread_mutex_unlock(&logged.mu);
}

/* Two independent PKIs: `pki` serves, `other` plays a stranger's CA. */
static void make_pkis(void) {
  char cmd[2048];
  if (tmp[0]) return;
  snprintf(tmp, sizeof tmp, "%s", rsp_test_tmpdir("net"));
  snprintf(pki, sizeof pki, "%s/pki", tmp);
  snprintf(other, sizeof other, "%s/other", tmp);
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' >/dev/null && '%s' create --dir '%s' >/dev/null", rsp_pki_bin,
           pki, rsp_pki_bin, other);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
}

static const char *file_in(const char *dir, const char *rel, char *buf, size_t size) {
  snprintf(buf, size, "%s/%s", dir, rel);
  return buf;
}

static int seen_calls(void) {
  pthread_mutex_lock(&seen.mu);
  int n = seen.calls;
  pthread_mutex_unlock(&seen.mu);
  return n;
}

static void record(const struct rsp_net_request *req) {
  pthread_mutex_lock(&seen.mu);
  seen.calls++;
  seen.had_subject = req->client_subject != NULL;
  snprintf(seen.subject, sizeof seen.subject, "%s", req->client_subject ? req->client_subject : "");
  snprintf(seen.admin, sizeof seen.admin, "%s", req->admin_protocol ? req->admin_protocol : "");
  snprintf(seen.ua, sizeof seen.ua, "%s", req->user_agent ? req->user_agent : "");
  snprintf(seen.ct, sizeof seen.ct, "%s", req->content_type ? req->content_type : "");
  snprintf(seen.path, sizeof seen.path, "%s", req->path);
  seen.had_auth = req->authorization != NULL;
  seen.had_key = req->api_key != NULL;
  snprintf(seen.auth, sizeof seen.auth, "%s", req->authorization ? req->authorization : "");
  snprintf(seen.key, sizeof seen.key, "%s", req->api_key ? req->api_key : "");
  pthread_mutex_unlock(&seen.mu);
}

/* /echo answers a POST with its body; /big with 4 kB; /fail fails; /target[?...] with the
 * request target it saw; the rest is 404. */
static rsp_err_t handler(void *ctx, const struct rsp_net_request *req,
                         struct rsp_net_response *res) {
  static char big[4096];
  record(req);
  if (seen.sleep_ms) usleep(seen.sleep_ms * 1000);
  if (strcmp(req->path, "/fail") == 0) return RSP_E_INTERNAL;
  if (strncmp(req->path, "/target", 7) == 0)
    return rsp_net_response_set(res, 200, "text/plain", req->path, strlen(req->path));
  if (strcmp(req->path, "/big") == 0) {
    memset(big, 'b', sizeof big);
    return rsp_net_response_set(res, 200, "application/octet-stream", big, sizeof big);
  }
  if (strcmp(req->path, "/echo") != 0) return rsp_net_response_set(res, 404, "text/plain", "no", 2);
  if (strcmp(req->method, "POST") != 0) {
    rsp_err_t rc = rsp_net_response_header(res, "Allow", "POST");
    return rc == RSP_OK ? rsp_net_response_set(res, 405, NULL, NULL, 0) : rc;
  }
  rsp_err_t rc = rsp_net_response_header(res, "X-Admin-Protocol", "gsma/rsp/v2.5.0");
  if (rc != RSP_OK) return rc;
  return rsp_net_response_set(res, 200, "application/json", req->body, req->body_len);
}

struct server_cfg {
  bool mutual, require;
  unsigned threads;
  size_t max_body;
};

static struct rsp_net_server *start_server(const struct server_cfg *cfg) {
  char cert[700], key[700], ca[700];
  struct rsp_net_server *srv = NULL;
  make_pkis(); /* before the paths below are made */
  struct rsp_net_server_options o = {
      .port = 0,
      .cert_file = file_in(pki, "smdp/tls/cert.pem", cert, sizeof cert),
      .key_file = file_in(pki, "smdp/tls/key.pem", key, sizeof key),
      .client_ca_file = cfg && cfg->mutual ? file_in(pki, "ci/cert.pem", ca, sizeof ca) : NULL,
      .require_client_cert = cfg && cfg->require,
      .threads = cfg ? cfg->threads : 0,
      .max_request_body = cfg ? cfg->max_body : 0,
      .log_component = "test-http",
      .handler = handler,
  };
  pthread_mutex_lock(&seen.mu);
  seen.calls = 0;
  seen.sleep_ms = 0;
  pthread_mutex_unlock(&seen.mu);
  CHECK_OK(rsp_net_server_new(&o, &srv));
  if (srv) CHECK_OK(rsp_net_server_start(srv));
  return srv;
}

/* A client trusting `ca_dir`'s CI, with `cert_dir`'s eIM TLS certificate when not NULL. */
static struct rsp_net_client *new_client(const char *ca_dir, const char *cert_dir, size_t cap) {
  char ca[700], cert[700], key[700];
  struct rsp_net_client *c = NULL;
  struct rsp_net_client_options o = {
      .ca_file = file_in(ca_dir, "ci/cert.pem", ca, sizeof ca),
      .cert_file = cert_dir ? file_in(cert_dir, "eim/tls/cert.pem", cert, sizeof cert) : NULL,
      .key_file = cert_dir ? file_in(cert_dir, "eim/tls/key.pem", key, sizeof key) : NULL,
      .timeout_ms = 10000,
      .max_response_body = cap,
      .user_agent = "test-net/1",
  };
  CHECK_OK(rsp_net_client_new(&o, &c));
  return c;
}

static const char *url(const struct rsp_net_server *srv, const char *path) {
  static _Thread_local char buf[128];
  snprintf(buf, sizeof buf, "https://localhost:%u%s", (unsigned)rsp_net_server_port(srv), path);
  return buf;
}

static const struct rsp_net_header json_headers[] = {
    {"Content-Type", "application/json"},
    {"X-Admin-Protocol", "gsma/rsp/v2.5.0"},
};

/* POSTs `body` to /echo; true when it came back 200 and unchanged. */
static bool echo(struct rsp_net_client *c, const struct rsp_net_server *srv, const char *body,
                 rsp_err_t *err) {
  struct rsp_net_client_response res;
  rsp_err_t rc =
      rsp_net_client_post(c, url(srv, "/echo"), json_headers, 2, body, strlen(body), &res);
  bool ok = rc == RSP_OK && res.status == 200 && res.body.len == strlen(body) &&
            memcmp(res.body.data, body, res.body.len) == 0;
  if (err) *err = rc;
  rsp_net_client_response_free(&res);
  return ok;
}

static void round_trip(void) {
  struct rsp_net_server *srv = start_server(NULL);
  struct rsp_net_client *c = new_client(pki, NULL, 0);
  struct rsp_net_client_response res;
  static const char body[] = "{\"transactionId\":\"0123456789ABCDEF\"}";
  CHECK(rsp_net_server_port(srv) != 0);
  CHECK_OK(rsp_net_client_post(c, url(srv, "/echo"), json_headers, 2, body, strlen(body), &res));
  CHECK_EQ(res.status, 200);
  CHECK_STR(res.content_type, "application/json");
  CHECK_STR(res.admin_protocol, "gsma/rsp/v2.5.0");
  CHECK_EQ(res.body.len, strlen(body));
  CHECK(res.body.len == strlen(body) && memcmp(res.body.data, body, res.body.len) == 0);
  CHECK_EQ(seen.calls, 1);
  CHECK_STR(seen.admin, "gsma/rsp/v2.5.0");
  CHECK_STR(seen.ct, "application/json");
  CHECK_STR(seen.ua, "test-net/1");
  CHECK(!seen.had_subject);
  rsp_net_client_response_free(&res);
  rsp_net_client_response_free(&res); /* idempotent */
  rsp_net_client_destroy(c);
  rsp_net_server_destroy(srv);
}

/* Twenty calls on one client: one TCP connection, one TLS handshake. */
static void keep_alive(void) {
  struct rsp_net_server *srv = start_server(NULL);
  struct rsp_net_client *c = new_client(pki, NULL, 0);
  struct rsp_net_server_stats st;
  struct rsp_net_client_stats cs;
  int ok = 0;
  for (int i = 0; i < 20; i++) ok += echo(c, srv, "{\"n\":1}", NULL);
  CHECK_EQ(ok, 20);
  rsp_net_server_stats(srv, &st);
  rsp_net_client_stats(c, &cs);
  CHECK_EQ(st.requests, 20);
  CHECK_EQ(st.connections, 1);
  CHECK_EQ(st.handshakes, 1);
  CHECK_EQ(cs.requests, 20);
  CHECK_EQ(cs.connections, 1);
  rsp_net_client_destroy(c);
  rsp_net_server_destroy(srv);
}

/* "Connection: close" forces a new connection per call; the client resumes its TLS session. */
static void resumption(void) {
  struct rsp_net_server *srv = start_server(NULL);
  struct rsp_net_client *c = new_client(pki, NULL, 0);
  static const struct rsp_net_header close_hdr[] = {{"Connection", "close"}};
  struct rsp_net_client_response res;
  struct rsp_net_server_stats st;
  for (int i = 0; i < 3; i++) {
    CHECK_OK(rsp_net_client_post(c, url(srv, "/echo"), close_hdr, 1, "x", 1, &res));
    CHECK_EQ(res.status, 200);
    rsp_net_client_response_free(&res);
  }
  rsp_net_server_stats(srv, &st);
  CHECK_EQ(st.connections, 3);
  CHECK_EQ(st.handshakes, 3);
  CHECK_EQ(st.resumed, 2);
  rsp_net_client_destroy(c);
  rsp_net_server_destroy(srv);
}

/* Over the cap: 413 from the server, the handler never sees it, and the client goes on. */
static void body_cap(void) {
  struct server_cfg cfg = {.max_body = 1024};
  struct rsp_net_server *srv = start_server(&cfg);
  struct rsp_net_client *c = new_client(pki, NULL, 0);
  struct rsp_net_client_response res;
  static char big[4096], exact[1025];
  memset(big, 'a', sizeof big - 1);
  memset(exact, 'e', sizeof exact - 1);
  CHECK_OK(rsp_net_client_post(c, url(srv, "/echo"), json_headers, 2, big, strlen(big), &res));
  CHECK_EQ(res.status, 413);
  CHECK_EQ(seen.calls, 0);
  rsp_net_client_response_free(&res);
  CHECK(echo(c, srv, exact, NULL)); /* exactly at the cap */
  CHECK_EQ(seen.calls, 1);
  rsp_net_client_destroy(c);
  rsp_net_server_destroy(srv);
}

static void expect_status(struct rsp_net_client *c, const char *method, const char *u, int status) {
  struct rsp_net_client_response res;
  rsp_err_t rc = rsp_net_client_request(c, method, u, NULL, 0, "x", 1, &res);
  CHECK_OK(rc);
  if (res.status != status) rsp_test_fail(__FILE__, __LINE__, "%s %s: %d", method, u, res.status);
  rsp_net_client_response_free(&res);
}

/* The handler decides: unknown paths 404, wrong method 405, its own failure 500. */
static void routes(void) {
  struct rsp_net_server *srv = start_server(NULL);
  struct rsp_net_client *c = new_client(pki, NULL, 0);
  expect_status(c, "POST", url(srv, "/nowhere"), 404);
  expect_status(c, "GET", url(srv, "/echo"), 405);
  expect_status(c, "PUT", url(srv, "/echo"), 405);
  expect_status(c, "POST", url(srv, "/fail"), 500);
  expect_status(c, "POST", url(srv, "/echo"), 200);
  CHECK_EQ(seen.calls, 5);
  rsp_net_client_destroy(c);
  rsp_net_server_destroy(srv);
}

/* A response over the client's cap fails the call; a smaller one on the same client works. */
static void response_cap(void) {
  struct rsp_net_server *srv = start_server(NULL);
  struct rsp_net_client *c = new_client(pki, NULL, 1000);
  struct rsp_net_client_response res;
  CHECK_ERR(rsp_net_client_post(c, url(srv, "/big"), NULL, 0, NULL, 0, &res), RSP_E_BUF_CAP);
  CHECK_EQ(res.body.len, 0);
  rsp_net_client_response_free(&res);
  CHECK(echo(c, srv, "{}", NULL));
  rsp_net_client_destroy(c);
  rsp_net_server_destroy(srv);
}

/* The client trusts only its own CA file: a server certificate from another CI is refused. */
static void other_ca(void) {
  struct rsp_net_server *srv = start_server(NULL);
  struct rsp_net_client *c = new_client(other, NULL, 0);
  struct rsp_net_client_response res;
  CHECK_ERR(rsp_net_client_post(c, url(srv, "/echo"), NULL, 0, "x", 1, &res), RSP_E_TLS);
  CHECK(res.error[0] != '\0');
  CHECK_EQ(seen.calls, 0);
  rsp_net_client_response_free(&res);
  rsp_net_client_destroy(c);
  rsp_net_server_destroy(srv);
}

/* ES2+: a client certificate is required and must chain to the server's client CA. */
static void mutual_tls(void) {
  struct server_cfg cfg = {.mutual = true, .require = true};
  struct rsp_net_server *srv = start_server(&cfg);
  struct rsp_net_client *anon = new_client(pki, NULL, 0);
  struct rsp_net_client *stranger = new_client(pki, other, 0);
  struct rsp_net_client *op = new_client(pki, pki, 0);
  rsp_err_t rc = RSP_OK;
  CHECK(!echo(anon, srv, "{}", &rc));
  CHECK(rc == RSP_E_TLS || rc == RSP_E_NET);
  CHECK(!echo(stranger, srv, "{}", &rc));
  CHECK(rc == RSP_E_TLS || rc == RSP_E_NET);
  CHECK_EQ(seen.calls, 0);
  CHECK(echo(op, srv, "{}", NULL));
  CHECK(echo(op, srv, "{}", NULL));
  CHECK_EQ(seen.calls, 2);
  CHECK(seen.had_subject);
  CHECK_STR(seen.subject, "CN=localhost,O=OPENRSP");
  rsp_net_client_destroy(anon);
  rsp_net_client_destroy(stranger);
  rsp_net_client_destroy(op);
  rsp_net_server_destroy(srv);
}

/* Client certificates asked for but optional: both kinds of client get through. */
static void mutual_tls_optional(void) {
  struct server_cfg cfg = {.mutual = true};
  struct rsp_net_server *srv = start_server(&cfg);
  struct rsp_net_client *anon = new_client(pki, NULL, 0);
  struct rsp_net_client *op = new_client(pki, pki, 0);
  CHECK(echo(anon, srv, "{}", NULL));
  CHECK(!seen.had_subject);
  CHECK(echo(op, srv, "{}", NULL));
  CHECK(seen.had_subject);
  rsp_net_client_destroy(anon);
  rsp_net_client_destroy(op);
  rsp_net_server_destroy(srv);
}

struct worker {
  pthread_t t;
  const struct rsp_net_server *srv;
  int rounds, ok, failed;
  rsp_err_t last;
};

static void *client_thread(void *arg) {
  struct worker *w = arg;
  struct rsp_net_client *c = new_client(pki, NULL, 0);
  char body[64];
  for (int i = 0; c && i < w->rounds; i++) {
    snprintf(body, sizeof body, "{\"thread\":%p,\"i\":%d}", (void *)w, i);
    if (echo(c, w->srv, body, &w->last))
      w->ok++;
    else
      w->failed++;
    if (w->last != RSP_OK && w->failed > 2) break; /* server gone: stop soon */
  }
  rsp_net_client_destroy(c);
  return NULL;
}

/* 8 threads x 50 requests on 2 server loops. */
static void concurrent(void) {
  struct server_cfg cfg = {.threads = 2};
  struct rsp_net_server *srv = start_server(&cfg);
  struct worker w[8];
  struct rsp_net_server_stats st;
  int ok = 0;
  for (int i = 0; i < 8; i++) {
    w[i] = (struct worker){.srv = srv, .rounds = 50};
    pthread_create(&w[i].t, NULL, client_thread, &w[i]);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(w[i].t, NULL);
    ok += w[i].ok;
  }
  rsp_net_server_stats(srv, &st);
  CHECK_EQ(ok, 400);
  CHECK_EQ(st.requests, 400);
  CHECK_EQ(st.connections, 8);
  rsp_net_server_destroy(srv);
}

/* Slow handler, four busy clients, then stop: every client ends with an error, nothing leaks. */
static void shutdown_in_flight(void) {
  struct rsp_net_server *srv = start_server(NULL);
  struct worker w[4];
  int ok = 0, failed = 0;
  seen.sleep_ms = 20;
  for (int i = 0; i < 4; i++) {
    w[i] = (struct worker){.srv = srv, .rounds = 1000};
    pthread_create(&w[i].t, NULL, client_thread, &w[i]);
  }
  /* Stop once the handler has started a few times: requests are then in flight. */
  for (int i = 0; i < 1000 && seen_calls() < 8; i++) usleep(10 * 1000);
  rsp_net_server_stop(srv);
  rsp_net_server_stop(srv); /* idempotent */
  for (int i = 0; i < 4; i++) {
    pthread_join(w[i].t, NULL);
    ok += w[i].ok;
    failed += w[i].failed;
    CHECK(w[i].last == RSP_E_NET);
    fprintf(stderr, "client %d: %d ok, %d failed, last %s\n", i, w[i].ok, w[i].failed,
            rsp_err_name(w[i].last));
  }
  CHECK(ok > 0);
  CHECK(failed >= 4);
  CHECK_ERR(rsp_net_server_start(srv), RSP_E_STATE);
  rsp_net_server_destroy(srv);
  rsp_net_server_destroy(NULL);
}

static void bad_options(void) {
  char cert[700], key[700], bad[700];
  struct rsp_net_server *srv = NULL;
  struct rsp_net_client *c = NULL;
  struct rsp_net_response res = {.status = 200};
  make_pkis();
  struct rsp_net_server_options o = {
      .cert_file = file_in(pki, "smdp/tls/cert.pem", cert, sizeof cert),
      .key_file = file_in(pki, "eim/tls/key.pem", key, sizeof key), /* not the cert's key */
      .handler = handler,
  };
  CHECK_ERR(rsp_net_server_new(&o, &srv), RSP_E_TLS);
  o.key_file = file_in(pki, "smdp/tls/key.pem", key, sizeof key);
  o.cert_file = file_in(tmp, "missing.pem", bad, sizeof bad);
  CHECK_ERR(rsp_net_server_new(&o, &srv), RSP_E_TLS);
  o.cert_file = cert;
  o.require_client_cert = true;
  CHECK_ERR(rsp_net_server_new(&o, &srv), RSP_E_INVALID_ARG);
  o.require_client_cert = false;
  o.address = "not-an-address";
  CHECK_ERR(rsp_net_server_new(&o, &srv), RSP_E_INVALID_ARG);
  CHECK(srv == NULL);
  CHECK_ERR(rsp_net_client_new(&(struct rsp_net_client_options){0}, &c), RSP_E_INVALID_ARG);
  rsp_buf_init(&res.headers_, RSP_NET_MAX_RESPONSE_HEADERS);
  CHECK_ERR(rsp_net_response_header(&res, "X-A", "v\r\nSet-Cookie: x"), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_net_response_header(&res, "X A", "v"), RSP_E_INVALID_ARG);
  CHECK_OK(rsp_net_response_header(&res, "X-A", "v"));
  rsp_buf_free(&res.headers_);
}

/* One info line per request through rsp_log, with method, path, status and the client subject. */
static void access_log(void) {
  struct server_cfg cfg = {.mutual = true};
  struct rsp_net_server *srv = start_server(&cfg);
  struct rsp_net_client *c = new_client(pki, pki, 0);
  int before;
  pthread_mutex_lock(&logged.mu);
  before = logged.lines;
  pthread_mutex_unlock(&logged.mu);
  CHECK(echo(c, srv, "{\"a\":1}", NULL));
  pthread_mutex_lock(&logged.mu);
  CHECK_EQ(logged.lines, before + 1);
  CHECK(strstr(logged.last, "\"POST /echo\" 200 7 7 ") != NULL);
  CHECK(strstr(logged.last, "CN=localhost,O=OPENRSP") != NULL);
  CHECK(strncmp(logged.last, "127.0.0.1:", 10) == 0);
  pthread_mutex_unlock(&logged.mu);
  rsp_net_client_destroy(c);
  rsp_net_server_destroy(srv);
}

/* The handler gets the query string in `path`, and the API key headers as sent (any case of the
 * names), NULL when absent; the access log line has the target but never the key. */
static void request_headers(void) {
  struct rsp_net_server *srv = start_server(NULL);
  struct rsp_net_client *c = new_client(pki, NULL, 0);
  struct rsp_net_client_response res;
  static const struct rsp_net_header keys[] = {{"Authorization", "Bearer s3cret-token"},
                                               {"x-api-key", "k-123"}};
  static const char target[] = "/target?after=89049032000000000000000000000001&limit=10&q=a%20b";
  CHECK_OK(rsp_net_client_request(c, "GET", url(srv, target), keys, 2, NULL, 0, &res));
  CHECK_EQ(res.status, 200);
  CHECK(res.body.len == strlen(target) && memcmp(res.body.data, target, res.body.len) == 0);
  rsp_net_client_response_free(&res);
  CHECK_STR(seen.path, target);
  CHECK(seen.had_auth);
  CHECK_STR(seen.auth, "Bearer s3cret-token");
  CHECK(seen.had_key);
  CHECK_STR(seen.key, "k-123");
  pthread_mutex_lock(&logged.mu);
  CHECK(strstr(logged.last, "limit=10") != NULL);
  CHECK(strstr(logged.last, "s3cret") == NULL && strstr(logged.last, "k-123") == NULL);
  pthread_mutex_unlock(&logged.mu);
  CHECK_OK(rsp_net_client_request(c, "DELETE", url(srv, "/target/7"), NULL, 0, NULL, 0, &res));
  CHECK_EQ(res.status, 200);
  rsp_net_client_response_free(&res);
  CHECK_STR(seen.path, "/target/7");
  CHECK(!seen.had_auth);
  CHECK(!seen.had_key);
  rsp_net_client_destroy(c);
  rsp_net_server_destroy(srv);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(round_trip),
      T(keep_alive),
      T(resumption),
      T(body_cap),
      T(routes),
      T(response_cap),
      T(other_ca),
      T(mutual_tls),
      T(mutual_tls_optional),
      T(concurrent),
      T(shutdown_in_flight),
      T(bad_options),
      T(access_log),
      T(request_headers),
  };
  char cmd[700];
  int rc;
  if (argc < 2) {
    fprintf(stderr, "usage: %s path/to/rsp-pki [case]\n", argv[0]);
    return 2;
  }
  rsp_pki_bin = argv[1];
  rsp_log_set_callback(on_log, NULL);
  rc = rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
  if (tmp[0]) {
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
  }
  return rc;
}
