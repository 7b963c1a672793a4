/* The IPA's HTTPS transports (drivers/esipa_https.c, drivers/es9_https.c) against a lib/net
 * HTTPS server in this process on 127.0.0.1, with certificates made by the built rsp-pki (its
 * path is argv[1]). ESipa: the DER round trip and its headers, 204 and empty answers, refusals
 * (500, 415, a wrong Content-Type) and transport errors, connection reuse, every trust rule of
 * lib/net's client (CA file, anchors in memory as PEM or DER, the server's own certificate as
 * anchor, a pinned key alone or with anchors, an unrelated CA, a wrong pin, the host name check)
 * and the trust taken from an EimConfigurationData through lib/msg. ES9+: the JSON POST, its
 * headers, the status and body handed back, several SM-DP+s on one transport. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/core/log.h"
#include "rsp/drivers/https.h"
#include "rsp/msg/msg.h"
#include "rsp/net/http.h"
#include "test.h"

#define ES9_PATH "/gsma/rsp2/es9plus/initiateAuthentication"
#define ES9_ANSWER                                                                                 \
  "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"                   \
  "\"transactionId\":\"0123ABCD\"}"

static const char *rsp_pki_bin;
static char tmp[512], pki[600], other[600];

/* How the server answers the ESipa path. */
enum answer { A_ECHO, A_NO_CONTENT, A_EMPTY_200, A_500, A_415, A_WRONG_TYPE };

/* What the handler saw, shared with the server's loop thread. */
static struct {
  pthread_mutex_t mu;
  enum answer answer;
  int calls;
  char method[16], path[256], ct[128], admin[64], ua[128];
  uint8_t body[1024];
  size_t body_len;
} seen = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The last warning of the transports, for the log-line checks. */
static struct {
  pthread_mutex_t mu;
  char last[1024];
} warned = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_log(void *ctx, enum rsp_log_level level, const char *component, const char *msg) {
  if (level > RSP_LOG_WARN || (strcmp(component, "esipa") != 0 && strcmp(component, "es9") != 0))
    return;
  pthread_mutex_lock(&warned.mu);
  snprintf(warned.last, sizeof warned.last, "%s", msg);
  pthread_mutex_unlock(&warned.mu);
}

static bool warned_with(const char *a, const char *b) {
  pthread_mutex_lock(&warned.mu);
  bool ok = strstr(warned.last, a) && (!b || strstr(warned.last, b));
  if (!ok) fprintf(stderr, "last warning: %s\n", warned.last);
  warned.last[0] = '\0';
  pthread_mutex_unlock(&warned.mu);
  return ok;
}

/* Two independent PKIs: `pki` serves, `other` is a stranger's. */
static void make_pkis(void) {
  char cmd[2048];
  if (tmp[0]) return;
  snprintf(tmp, sizeof tmp, "%s", rsp_test_tmpdir("ipa-https"));
  snprintf(pki, sizeof pki, "%s/pki", tmp);
  snprintf(other, sizeof other, "%s/other", tmp);
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' >/dev/null && '%s' create --dir '%s' >/dev/null", rsp_pki_bin,
           pki, rsp_pki_bin, other);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
}

static const char *in(const char *dir, const char *rel) {
  static _Thread_local char buf[8][768];
  static _Thread_local unsigned next;
  char *b = buf[next++ % 8];
  snprintf(b, sizeof buf[0], "%s/%s", dir, rel);
  return b;
}

static void set_answer(enum answer a) {
  pthread_mutex_lock(&seen.mu);
  seen.answer = a;
  pthread_mutex_unlock(&seen.mu);
}

static int seen_calls(void) {
  pthread_mutex_lock(&seen.mu);
  int n = seen.calls;
  pthread_mutex_unlock(&seen.mu);
  return n;
}

static enum answer record(const struct rsp_net_request *req) {
  pthread_mutex_lock(&seen.mu);
  seen.calls++;
  snprintf(seen.method, sizeof seen.method, "%s", req->method);
  snprintf(seen.path, sizeof seen.path, "%s", req->path);
  snprintf(seen.ct, sizeof seen.ct, "%s", req->content_type ? req->content_type : "");
  snprintf(seen.admin, sizeof seen.admin, "%s", req->admin_protocol ? req->admin_protocol : "");
  snprintf(seen.ua, sizeof seen.ua, "%s", req->user_agent ? req->user_agent : "");
  seen.body_len = req->body_len < sizeof seen.body ? req->body_len : sizeof seen.body;
  memcpy(seen.body, req->body, seen.body_len);
  enum answer a = seen.answer;
  pthread_mutex_unlock(&seen.mu);
  return a;
}

static uint8_t inv(uint8_t b) { return (uint8_t)(0xFFu - b); }

/* The eIM's answer to the ESipa path: the request with every byte inverted, so that a reply
 * cannot be mistaken for an echo. */
static rsp_err_t esipa_answer(enum answer a, const struct rsp_net_request *req,
                              struct rsp_net_response *res) {
  uint8_t out[1024];
  switch (a) {
  case A_NO_CONTENT:
    return rsp_net_response_set(res, 204, NULL, NULL, 0);
  case A_EMPTY_200:
    return rsp_net_response_set(res, 200, RSP_ESIPA_HTTPS_CONTENT_TYPE, NULL, 0);
  case A_500:
    return rsp_net_response_set(res, 500, "text/plain", "eIM crashed", 11);
  case A_415:
    return rsp_net_response_set(res, 415, NULL, NULL, 0);
  case A_WRONG_TYPE:
    return rsp_net_response_set(res, 200, "text/html", "<html>portal</html>", 19);
  case A_ECHO:
    break;
  }
  if (req->body_len > sizeof out) return RSP_E_BUF_CAP;
  for (size_t i = 0; i < req->body_len; i++) out[i] = inv(req->body[i]);
  rsp_err_t rc = rsp_net_response_header(res, "X-Admin-Protocol", RSP_ESIPA_HTTPS_ADMIN_PROTOCOL);
  if (rc != RSP_OK) return rc;
  return rsp_net_response_set(res, 200, RSP_ESIPA_HTTPS_CONTENT_TYPE "; charset=binary", out,
                              req->body_len);
}

static rsp_err_t handler(void *ctx, const struct rsp_net_request *req,
                         struct rsp_net_response *res) {
  enum answer a = record(req);
  if (strcmp(req->path, RSP_ESIPA_HTTPS_PATH) == 0) return esipa_answer(a, req, res);
  if (strcmp(req->path, ES9_PATH) == 0)
    return rsp_net_response_set(res, 200, "application/json", ES9_ANSWER, strlen(ES9_ANSWER));
  return rsp_net_response_set(res, 404, "application/json", "{}", 2);
}

/* A server with the eIM TLS certificate of `pki` (DNS name localhost), optionally asking for a
 * client certificate issued by the CI. */
static struct rsp_net_server *start_server(bool mutual) {
  struct rsp_net_server *srv = NULL;
  make_pkis();
  struct rsp_net_server_options o = {
      .port = 0,
      .cert_file = in(pki, "eim/tls/cert.pem"),
      .key_file = in(pki, "eim/tls/key.pem"),
      .client_ca_file = mutual ? in(pki, "ci/cert.pem") : NULL,
      .require_client_cert = mutual,
      .log_component = "test-eim",
      .handler = handler,
  };
  pthread_mutex_lock(&seen.mu);
  seen.answer = A_ECHO;
  seen.calls = 0;
  pthread_mutex_unlock(&seen.mu);
  CHECK_OK(rsp_net_server_new(&o, &srv));
  if (srv) CHECK_OK(rsp_net_server_start(srv));
  return srv;
}

static const char *esipa_url(const struct rsp_net_server *srv, const char *host) {
  static char url[256];
  char fqdn[64];
  snprintf(fqdn, sizeof fqdn, "%s:%u", host, (unsigned)rsp_net_server_port(srv));
  CHECK_OK(rsp_esipa_https_url_from_fqdn(fqdn, strlen(fqdn), url, sizeof url));
  return url;
}

static uint8_t *read_file(const char *path, size_t *len) {
  uint8_t *b = rsp_test_read_file(path, len);
  if (!b) rsp_test_fail(__FILE__, __LINE__, "cannot read %s", path);
  return b;
}

/* The DER SubjectPublicKeyInfo of a certificate (DER file), taken out by OpenSSL. */
static uint8_t *spki_of(const char *cert_der, size_t *len) {
  size_t n = 0;
  uint8_t *der = read_file(cert_der, &n), *out = NULL;
  const unsigned char *p = der;
  unsigned char *spki = NULL;
  X509 *x = der ? d2i_X509(NULL, &p, (long)n) : NULL;
  int l = x ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki) : -1;
  if (l > 0 && (out = rsp_memdup(spki, (size_t)l))) *len = (size_t)l;
  CHECK(out != NULL);
  OPENSSL_free(spki);
  X509_free(x);
  rsp_free(der);
  return out;
}

static const uint8_t request[] = {0xBF, 0x4F, 0x12, 0x5A, 0x10, 0x89, 0x04, 0x90, 0x32, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xFF};

/* One ESipa exchange of `request`; true when the inverted bytes came back. */
static rsp_err_t exchange(struct rsp_esipa_https *t, bool *answered) {
  struct rsp_buf resp;
  rsp_buf_init(&resp, 4096);
  rsp_err_t rc = rsp_esipa_https_ops.exchange(t, request, sizeof request, &resp);
  bool ok = resp.len == sizeof request;
  for (size_t i = 0; ok && i < resp.len; i++) ok = resp.data[i] == inv(request[i]);
  if (answered) *answered = ok;
  rsp_buf_free(&resp);
  return rc;
}

/* A transport with the given options and the server's URL; NULL when creation failed. */
static struct rsp_esipa_https *transport(struct rsp_esipa_https_options *o, const char *url) {
  struct rsp_esipa_https *t = NULL;
  o->url = url;
  o->timeout_ms = 10000;
  CHECK_OK(rsp_esipa_https_new(o, &t));
  return t;
}

/* Creates a transport from `o` and runs one exchange: its result. */
static rsp_err_t try_trust(struct rsp_esipa_https_options o, const char *url) {
  struct rsp_esipa_https *t = transport(&o, url);
  bool answered = false;
  rsp_err_t rc = t ? exchange(t, &answered) : RSP_E_INTERNAL;
  if (rc == RSP_OK) CHECK(answered);
  rsp_esipa_https_free(t);
  return rc;
}

/* ---- ESipa ----------------------------------------------------------------------------------- */

static void esipa_round_trip(void) {
  struct rsp_net_server *srv = start_server(false);
  struct rsp_net_server_stats st;
  struct rsp_esipa_https_options o = {.ca_file = in(pki, "ci/cert.pem")};
  struct rsp_esipa_https *t = transport(&o, esipa_url(srv, "localhost"));
  bool answered = false;
  char want[128];
  snprintf(want, sizeof want, "https://localhost:%u/gsma/rsp2/asn1",
           (unsigned)rsp_net_server_port(srv));
  CHECK_STR(rsp_esipa_https_url(t), want);
  for (int i = 0; i < 3; i++) {
    answered = false;
    CHECK_OK(exchange(t, &answered));
    CHECK(answered);
  }
  pthread_mutex_lock(&seen.mu);
  CHECK_EQ(seen.calls, 3);
  CHECK_STR(seen.method, "POST");
  CHECK_STR(seen.path, "/gsma/rsp2/asn1");
  CHECK_STR(seen.ct, "application/x-gsma-rsp-asn1");
  CHECK_STR(seen.admin, "gsma/rsp/v2.1.0");
  CHECK_STR(seen.ua, "gsma-rsp-ipad"); /* mandatory since SGP.32 v1.2 */
  CHECK_EQ(seen.body_len, sizeof request);
  CHECK_MEM(seen.body, request, sizeof request);
  pthread_mutex_unlock(&seen.mu);
  /* Keep-alive: three exchanges, one connection, one handshake. */
  rsp_net_server_stats(srv, &st);
  CHECK_EQ(st.connections, 1);
  CHECK_EQ(st.handshakes, 1);
  CHECK_EQ(st.requests, 3);
  rsp_esipa_https_free(t);
  rsp_esipa_https_free(NULL);
  rsp_net_server_destroy(srv);
}

/* The configurable headers, and the answer appended after what resp already held. */
static void esipa_options(void) {
  struct rsp_net_server *srv = start_server(false);
  struct rsp_esipa_https_options o = {.ca_file = in(pki, "ci/cert.pem"),
                                      .admin_protocol = "gsma/rsp/v1.3.0",
                                      .user_agent = "openrsp-ipad/test"};
  struct rsp_esipa_https *t = transport(&o, esipa_url(srv, "localhost"));
  struct rsp_buf resp;
  rsp_buf_init(&resp, 4096);
  CHECK_OK(rsp_buf_append(&resp, "xy", 2));
  CHECK_OK(rsp_esipa_https_ops.exchange(t, request, sizeof request, &resp));
  CHECK_EQ(resp.len, 2 + sizeof request);
  CHECK(resp.len > 2 && memcmp(resp.data, "xy", 2) == 0 && resp.data[2] == inv(request[0]));
  pthread_mutex_lock(&seen.mu);
  CHECK_STR(seen.admin, "gsma/rsp/v1.3.0");
  CHECK_STR(seen.ua, "openrsp-ipad/test");
  pthread_mutex_unlock(&seen.mu);
  rsp_buf_free(&resp);
  rsp_esipa_https_free(t);
  rsp_net_server_destroy(srv);
}

/* 204 and an empty 200 are "no answer"; other statuses and a 200 of another type are errors. */
static void esipa_answers(void) {
  struct rsp_net_server *srv = start_server(false);
  struct rsp_esipa_https_options o = {.ca_file = in(pki, "ci/cert.pem")};
  const char *url = esipa_url(srv, "localhost");
  struct rsp_esipa_https *t = transport(&o, url);
  struct rsp_buf resp;
  rsp_buf_init(&resp, 4096);
  static const struct {
    enum answer a;
    rsp_err_t rc;
    const char *log;
  } cases[] = {
      {A_NO_CONTENT, RSP_OK, NULL},
      {A_EMPTY_200, RSP_OK, NULL},
      {A_500, RSP_E_STATE, "HTTP 500"},
      {A_415, RSP_E_STATE, "HTTP 415"},
      {A_WRONG_TYPE, RSP_E_STATE, "text/html"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    set_answer(cases[i].a);
    rsp_buf_reset(&resp);
    CHECK_ERR(rsp_esipa_https_ops.exchange(t, request, sizeof request, &resp), cases[i].rc);
    CHECK_EQ(resp.len, 0);
    if (cases[i].log) CHECK(warned_with(cases[i].log, url));
  }
  CHECK_EQ(seen_calls(), 5);
  /* A transport error: nobody listens on the port any more. */
  rsp_net_server_destroy(srv);
  CHECK_ERR(rsp_esipa_https_ops.exchange(t, request, sizeof request, &resp), RSP_E_NET);
  CHECK(warned_with("failed", url));
  rsp_buf_free(&resp);
  rsp_esipa_https_free(t);
}

/* Mutual TLS toward the eIM when it asks for it. */
static void esipa_client_cert(void) {
  struct rsp_net_server *srv = start_server(true);
  const char *url = esipa_url(srv, "localhost");
  struct rsp_esipa_https_options with = {.ca_file = in(pki, "ci/cert.pem"),
                                         .cert_file = in(pki, "eim/tls/cert.pem"),
                                         .key_file = in(pki, "eim/tls/key.pem")};
  struct rsp_esipa_https_options without = {.ca_file = in(pki, "ci/cert.pem")};
  CHECK_OK(try_trust(with, url));
  rsp_err_t rc = try_trust(without, url);
  CHECK(rc == RSP_E_TLS || rc == RSP_E_NET);
  rsp_net_server_destroy(srv);
}

/* Anchors: a file, PEM and DER in memory, the server's own certificate; and the refusals. */
static void trust_anchors(void) {
  struct rsp_net_server *srv = start_server(false);
  const char *url = esipa_url(srv, "localhost");
  size_t ci_pem_len = 0, ci_der_len = 0, leaf_der_len = 0, leaf_pem_len = 0, other_len = 0;
  uint8_t *ci_pem = read_file(in(pki, "ci/cert.pem"), &ci_pem_len);
  uint8_t *ci_der = read_file(in(pki, "ci/cert.der"), &ci_der_len);
  uint8_t *leaf_der = read_file(in(pki, "eim/tls/cert.der"), &leaf_der_len);
  uint8_t *leaf_pem = read_file(in(pki, "eim/tls/cert.pem"), &leaf_pem_len);
  uint8_t *other_der = read_file(in(other, "ci/cert.der"), &other_len);
  struct rsp_esipa_https_options o = {0};
  o = (struct rsp_esipa_https_options){.ca_file = in(pki, "ci/cert.pem")};
  CHECK_OK(try_trust(o, url));
  o = (struct rsp_esipa_https_options){.ca_pem = ci_pem, .ca_pem_len = ci_pem_len};
  CHECK_OK(try_trust(o, url));
  o = (struct rsp_esipa_https_options){.ca_pem = ci_der, .ca_pem_len = ci_der_len};
  CHECK_OK(try_trust(o, url));
  /* The leaf itself as the only anchor: a partial chain, which libcurl accepts by default. */
  o = (struct rsp_esipa_https_options){.ca_pem = leaf_der, .ca_pem_len = leaf_der_len};
  CHECK_OK(try_trust(o, url));
  o = (struct rsp_esipa_https_options){.ca_pem = leaf_pem, .ca_pem_len = leaf_pem_len};
  CHECK_OK(try_trust(o, url));
  /* An unrelated CA, as a file and in memory. */
  o = (struct rsp_esipa_https_options){.ca_file = in(other, "ci/cert.pem")};
  CHECK_ERR(try_trust(o, url), RSP_E_TLS);
  o = (struct rsp_esipa_https_options){.ca_pem = other_der, .ca_pem_len = other_len};
  CHECK_ERR(try_trust(o, url), RSP_E_TLS);
  /* The right CA but a host name the certificate does not carry (it names localhost). */
  o = (struct rsp_esipa_https_options){.ca_pem = ci_der, .ca_pem_len = ci_der_len};
  CHECK_ERR(try_trust(o, esipa_url(srv, "127.0.0.1")), RSP_E_TLS);
  CHECK_EQ(seen_calls(), 5);
  rsp_free(ci_pem);
  rsp_free(ci_der);
  rsp_free(leaf_der);
  rsp_free(leaf_pem);
  rsp_free(other_der);
  rsp_net_server_destroy(srv);
}

/* A pinned key: alone (no chain, no host name check), with anchors (both enforced), wrong. */
static void trust_pin(void) {
  struct rsp_net_server *srv = start_server(false);
  char url[256], by_ip[256];
  snprintf(url, sizeof url, "%s", esipa_url(srv, "localhost"));
  snprintf(by_ip, sizeof by_ip, "%s", esipa_url(srv, "127.0.0.1"));
  size_t good_len = 0, bad_len = 0;
  uint8_t *good = spki_of(in(pki, "eim/tls/cert.der"), &good_len);
  uint8_t *bad = spki_of(in(other, "eim/tls/cert.der"), &bad_len);
  struct rsp_esipa_https_options o;
  o = (struct rsp_esipa_https_options){.pinned_spki = good, .pinned_spki_len = good_len};
  CHECK_OK(try_trust(o, url));
  CHECK_OK(try_trust(o, by_ip));
  o = (struct rsp_esipa_https_options){.pinned_spki = bad, .pinned_spki_len = bad_len};
  CHECK_ERR(try_trust(o, url), RSP_E_TLS);
  CHECK_ERR(try_trust(o, by_ip), RSP_E_TLS);
  /* Both given: both hold. */
  o = (struct rsp_esipa_https_options){
      .ca_file = in(pki, "ci/cert.pem"), .pinned_spki = good, .pinned_spki_len = good_len};
  CHECK_OK(try_trust(o, url));
  o.pinned_spki = bad;
  o.pinned_spki_len = bad_len;
  CHECK_ERR(try_trust(o, url), RSP_E_TLS);
  o = (struct rsp_esipa_https_options){
      .ca_file = in(other, "ci/cert.pem"), .pinned_spki = good, .pinned_spki_len = good_len};
  CHECK_ERR(try_trust(o, url), RSP_E_TLS);
  CHECK_EQ(seen_calls(), 3);
  rsp_free(good);
  rsp_free(bad);
  rsp_net_server_destroy(srv);
}

/* What rsp_esipa_https_new refuses: there is no unverified mode. */
static void bad_options(void) {
  struct rsp_esipa_https *t = NULL;
  const char *url = "https://localhost:1/gsma/rsp2/asn1";
  static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  struct rsp_esipa_https_options o = {.url = url};
  make_pkis();
  CHECK_ERR(rsp_esipa_https_new(&o, &t), RSP_E_INVALID_ARG); /* no trust at all */
  o = (struct rsp_esipa_https_options){
      .url = url, .ca_file = in(pki, "ci/cert.pem"), .ca_pem = "x", .ca_pem_len = 1};
  CHECK_ERR(rsp_esipa_https_new(&o, &t), RSP_E_INVALID_ARG); /* file and memory */
  o = (struct rsp_esipa_https_options){.url = url, .ca_pem = junk, .ca_pem_len = sizeof junk};
  CHECK_ERR(rsp_esipa_https_new(&o, &t), RSP_E_INVALID_ARG); /* not a certificate */
  o = (struct rsp_esipa_https_options){.url = url, .ca_pem = "-----BEGIN", .ca_pem_len = 10};
  CHECK_ERR(rsp_esipa_https_new(&o, &t), RSP_E_INVALID_ARG); /* PEM without a certificate */
  o = (struct rsp_esipa_https_options){
      .url = url, .pinned_spki = junk, .pinned_spki_len = sizeof junk};
  CHECK_ERR(rsp_esipa_https_new(&o, &t), RSP_E_INVALID_ARG); /* not a SubjectPublicKeyInfo */
  o = (struct rsp_esipa_https_options){.url = url, .pinned_spki = junk};
  CHECK_ERR(rsp_esipa_https_new(&o, &t), RSP_E_INVALID_ARG); /* pointer without length */
  o = (struct rsp_esipa_https_options){.url = "http://localhost/gsma/rsp2/asn1",
                                       .ca_file = in(pki, "ci/cert.pem")};
  CHECK_ERR(rsp_esipa_https_new(&o, &t), RSP_E_INVALID_ARG); /* never in clear */
  o = (struct rsp_esipa_https_options){
      .url = url, .ca_file = in(pki, "ci/cert.pem"), .admin_protocol = "v2\r\nX-Evil: 1"};
  CHECK_ERR(rsp_esipa_https_new(&o, &t), RSP_E_INVALID_ARG);
  o = (struct rsp_esipa_https_options){
      .url = url, .ca_file = in(pki, "ci/cert.pem"), .cert_file = in(pki, "eim/tls/cert.pem")};
  CHECK_ERR(rsp_esipa_https_new(&o, &t), RSP_E_INVALID_ARG); /* certificate without key */
  CHECK(t == NULL);
  o = (struct rsp_esipa_https_options){.url = url, .ca_file = in(pki, "ci/cert.pem")};
  CHECK_OK(rsp_esipa_https_new(&o, &t));
  CHECK(t != NULL);
  rsp_esipa_https_free(t);
}

static void url_from_fqdn(void) {
  char url[64];
  static const char *const good[][2] = {
      {"eim.example.com", "https://eim.example.com/gsma/rsp2/asn1"},
      {"eim.example.com:8443", "https://eim.example.com:8443/gsma/rsp2/asn1"},
      {"10.0.0.1:443", "https://10.0.0.1:443/gsma/rsp2/asn1"},
      {"[2001:db8::1]:443", "https://[2001:db8::1]:443/gsma/rsp2/asn1"},
  };
  static const char *const bad[] = {
      "",
      "https://eim.example.com",
      "eim.example.com/x",
      "user@eim",
      "eim:0",
      "eim:65536",
      "eim:",
      "eim:12a",
      "[::1",
      "[]:443",
      ".eim",
      "-eim",
      "eim example",
      "eim?x",
      "eim#x",
      "eim%41",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    CHECK_OK(rsp_esipa_https_url_from_fqdn(good[i][0], strlen(good[i][0]), url, sizeof url));
    CHECK_STR(url, good[i][1]);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (rsp_esipa_https_url_from_fqdn(bad[i], strlen(bad[i]), url, sizeof url) != RSP_E_INVALID_ARG)
      rsp_test_fail(__FILE__, __LINE__, "eimFqdn '%s' accepted", bad[i]);
  /* Not NUL-terminated, as eimFqdn arrives from the card: only `len` bytes count. */
  CHECK_OK(rsp_esipa_https_url_from_fqdn("eim.example.com/junk", 15, url, sizeof url));
  CHECK_STR(url, "https://eim.example.com/gsma/rsp2/asn1");
  CHECK_ERR(rsp_esipa_https_url_from_fqdn("eim\0x", 5, url, sizeof url), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_esipa_https_url_from_fqdn("eim.example.com", 15, url, 20), RSP_E_BUF_SMALL);
}

/* ---- trust from EimConfigurationData --------------------------------------------------------- */

/* The tag inside trustedPublicKeyDataTls (A6) of an encoded EimConfigurationData; 0 if none. */
static int inner_tag(const struct rsp_buf *der) {
  const uint8_t *end = der->data + der->len;
  const uint8_t *p = memchr(der->data, 0xA6, der->len);
  if (!p || end - p < 3) return 0;
  size_t skip = p[1] < 0x80 ? 2 : 2 + (size_t)(p[1] & 0x7F);
  return (size_t)(end - p) > skip ? p[skip] : 0;
}

/* Encodes an EimConfigurationData (eimId, eimFqdn, trustedPublicKeyDataTls) with lib/msg and
 * decodes it back into `a`, as the IPA reads it from the card. */
static struct rsp_msg_eim_configuration_data *eim_config(struct rsp_arena *a, const char *fqdn,
                                                         int which, const uint8_t *v, size_t len) {
  struct rsp_msg_eim_configuration_data_trusted_public_key_data_tls tls = {.which = which};
  struct rsp_msg_eim_configuration_data cfg = {
      .eim_id = rsp_msg_slice("eim-test", 8),
      .eim_fqdn = rsp_msg_slice(fqdn, strlen(fqdn)),
      .trusted_public_key_data_tls = v ? &tls : NULL,
  };
  struct rsp_msg_eim_configuration_data *out = NULL;
  struct rsp_buf der;
  if (which == RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS)
    tls.u.trusted_eim_pk_tls = rsp_msg_slice(v, len);
  else
    tls.u.trusted_certificate_tls = rsp_msg_slice(v, len);
  rsp_buf_init(&der, 1u << 16);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_eim_configuration_data, &cfg, &der, NULL));
  /* The wire form carries the implicit [0]/[1] tag inside A6, not the natural SEQUENCE tag. */
  if (v)
    CHECK(inner_tag(&der) ==
          (which == RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS
               ? 0xA0
               : 0xA1));
  uint8_t *copy = rsp_arena_alloc(a, der.len);
  if (copy) memcpy(copy, der.data, der.len);
  CHECK(copy != NULL);
  if (copy)
    CHECK_OK(
        rsp_msg_decode(&rsp_msgt_eim_configuration_data, copy, der.len, a, (void **)&out, NULL));
  rsp_buf_free(&der);
  return out;
}

/* Builds the transport as the IPA does from the card's configuration and runs one exchange. */
static rsp_err_t via_config(const struct rsp_msg_eim_configuration_data *cfg) {
  char url[256];
  struct rsp_esipa_https_options o = {0};
  struct rsp_esipa_https *t = NULL;
  bool answered = false;
  rsp_err_t rc = rsp_esipa_https_url_from_fqdn((const char *)cfg->eim_fqdn.p, cfg->eim_fqdn.len,
                                               url, sizeof url);
  if (rc == RSP_OK) rc = rsp_esipa_https_trust_from_eim_config(cfg, &o);
  o.url = url;
  o.timeout_ms = 10000;
  if (rc == RSP_OK) rc = rsp_esipa_https_new(&o, &t);
  if (rc == RSP_OK) rc = exchange(t, &answered);
  if (rc == RSP_OK) CHECK(answered);
  rsp_esipa_https_free(t);
  return rc;
}

static void trust_from_eim_config(void) {
  enum {
    PK = RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS,
    CERT = RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_CERTIFICATE_TLS,
  };
  struct rsp_net_server *srv = start_server(false);
  struct rsp_arena a;
  char name[64], ip[64];
  size_t spki_len = 0, bad_len = 0, leaf_len = 0, ci_len = 0, other_len = 0;
  uint8_t *spki = spki_of(in(pki, "eim/tls/cert.der"), &spki_len);
  uint8_t *bad = spki_of(in(other, "eim/tls/cert.der"), &bad_len);
  uint8_t *leaf = read_file(in(pki, "eim/tls/cert.der"), &leaf_len);
  uint8_t *ci = read_file(in(pki, "ci/cert.der"), &ci_len);
  uint8_t *other_ci = read_file(in(other, "ci/cert.der"), &other_len);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  snprintf(name, sizeof name, "localhost:%u", (unsigned)rsp_net_server_port(srv));
  snprintf(ip, sizeof ip, "127.0.0.1:%u", (unsigned)rsp_net_server_port(srv));

  /* trustedEimPkTls: the pin, exactly the SubjectPublicKeyInfo, the other fields cleared. */
  struct rsp_msg_eim_configuration_data *cfg = eim_config(&a, ip, PK, spki, spki_len);
  struct rsp_esipa_https_options o = {.ca_file = "keep.pem", .ca_pem = "x", .ca_pem_len = 1};
  CHECK(cfg != NULL);
  if (cfg) {
    CHECK_OK(rsp_esipa_https_trust_from_eim_config(cfg, &o));
    CHECK(o.pinned_spki_len == spki_len && memcmp(o.pinned_spki, spki, spki_len) == 0);
    CHECK(o.ca_pem == NULL && o.ca_pem_len == 0);
    CHECK_STR(o.ca_file, "keep.pem");
    CHECK_OK(via_config(cfg));
  }
  cfg = eim_config(&a, ip, PK, bad, bad_len);
  if (cfg) CHECK_ERR(via_config(cfg), RSP_E_TLS);

  /* trustedCertificateTls: the eIM's own certificate, or its CA, as the anchor. */
  cfg = eim_config(&a, name, CERT, leaf, leaf_len);
  CHECK(cfg != NULL);
  if (cfg) {
    o = (struct rsp_esipa_https_options){.pinned_spki = spki, .pinned_spki_len = spki_len};
    CHECK_OK(rsp_esipa_https_trust_from_eim_config(cfg, &o));
    CHECK(o.ca_pem_len == leaf_len && memcmp(o.ca_pem, leaf, leaf_len) == 0);
    CHECK(o.pinned_spki == NULL && o.pinned_spki_len == 0);
    CHECK_OK(via_config(cfg));
  }
  cfg = eim_config(&a, name, CERT, ci, ci_len);
  if (cfg) CHECK_OK(via_config(cfg));
  cfg = eim_config(&a, name, CERT, other_ci, other_len);
  if (cfg) CHECK_ERR(via_config(cfg), RSP_E_TLS);
  CHECK_EQ(seen_calls(), 3);

  /* No trustedPublicKeyDataTls, an unknown alternative, nothing at all. */
  cfg = eim_config(&a, name, PK, NULL, 0);
  if (cfg) CHECK_ERR(rsp_esipa_https_trust_from_eim_config(cfg, &o), RSP_E_NOT_FOUND);
  struct rsp_msg_eim_configuration_data_trusted_public_key_data_tls unknown = {
      .which = RSP_MSG_ALT_UNKNOWN};
  struct rsp_msg_eim_configuration_data built = {.trusted_public_key_data_tls = &unknown};
  CHECK_ERR(rsp_esipa_https_trust_from_eim_config(&built, &o), RSP_E_UNSUPPORTED);
  CHECK_ERR(rsp_esipa_https_trust_from_eim_config(NULL, &o), RSP_E_INVALID_ARG);

  rsp_arena_free(&a);
  rsp_free(spki);
  rsp_free(bad);
  rsp_free(leaf);
  rsp_free(ci);
  rsp_free(other_ci);
  rsp_net_server_destroy(srv);
}

/* ---- ES9+ ------------------------------------------------------------------------------------ */

static rsp_err_t es9_call(struct rsp_es9_https *t, const char *address, const char *path,
                          int *status, struct rsp_buf *resp) {
  static const char body[] = "{\"euiccChallenge\":\"AAECAwQFBgcICQoLDA0ODw==\","
                             "\"euiccInfo1\":\"vyAA\",\"smdpAddress\":\"localhost\"}";
  struct rsp_buf b;
  rsp_buf_init(&b, 4096);
  rsp_err_t rc = rsp_buf_append(&b, body, sizeof body - 1);
  rsp_buf_reset(resp);
  if (rc == RSP_OK) rc = rsp_es9_https_ops.call(t, address, path, &b, status, resp);
  if (rc == RSP_OK && strcmp(path, ES9_PATH) == 0) {
    pthread_mutex_lock(&seen.mu);
    CHECK_EQ(seen.body_len, sizeof body - 1);
    CHECK_MEM(seen.body, body, sizeof body - 1);
    pthread_mutex_unlock(&seen.mu);
  }
  rsp_buf_free(&b);
  return rc;
}

static void es9_post(void) {
  struct rsp_net_server *srv = start_server(false), *srv2 = start_server(false);
  struct rsp_net_server_stats st;
  struct rsp_es9_https_options o = {.ca_file = in(pki, "ci/cert.pem"), .timeout_ms = 10000};
  struct rsp_es9_https *t = NULL;
  struct rsp_buf resp;
  char addr[64], addr2[64], ip[64];
  int status = -1;
  rsp_buf_init(&resp, 1u << 16);
  snprintf(addr, sizeof addr, "localhost:%u", (unsigned)rsp_net_server_port(srv));
  snprintf(addr2, sizeof addr2, "localhost:%u", (unsigned)rsp_net_server_port(srv2));
  snprintf(ip, sizeof ip, "127.0.0.1:%u", (unsigned)rsp_net_server_port(srv));
  CHECK_OK(rsp_es9_https_new(&o, &t));
  for (int i = 0; i < 2; i++) {
    status = -1;
    CHECK_OK(es9_call(t, addr, ES9_PATH, &status, &resp));
    CHECK_EQ(status, 200);
    CHECK(resp.len == strlen(ES9_ANSWER) && memcmp(resp.data, ES9_ANSWER, resp.len) == 0);
  }
  pthread_mutex_lock(&seen.mu);
  CHECK_STR(seen.method, "POST");
  CHECK_STR(seen.path, ES9_PATH);
  CHECK_STR(seen.ct, "application/json;charset=UTF-8");
  CHECK_STR(seen.admin, "gsma/rsp/v2.2.0");
  CHECK_STR(seen.ua, "gsma-rsp-lpad");
  pthread_mutex_unlock(&seen.mu);
  rsp_net_server_stats(srv, &st);
  CHECK_EQ(st.connections, 1);
  /* Another status is handed back as it is, with its body. */
  CHECK_OK(es9_call(t, addr, "/gsma/rsp2/es9plus/noSuchFunction", &status, &resp));
  CHECK_EQ(status, 404);
  CHECK(resp.len == 2 && memcmp(resp.data, "{}", 2) == 0);
  /* A second SM-DP+ on the same transport. */
  CHECK_OK(es9_call(t, addr2, ES9_PATH, &status, &resp));
  CHECK_EQ(status, 200);
  /* The SM-DP+ certificate names localhost, not 127.0.0.1. */
  CHECK_ERR(es9_call(t, ip, ES9_PATH, &status, &resp), RSP_E_TLS);
  CHECK(warned_with("failed", "https://127.0.0.1:"));
  CHECK_EQ(status, 0);
  int calls = seen_calls();
  /* Addresses and paths that would change the URL never reach the network. */
  CHECK_ERR(es9_call(t, "evil.example/x?", ES9_PATH, &status, &resp), RSP_E_INVALID_ARG);
  CHECK_ERR(es9_call(t, "user@localhost", ES9_PATH, &status, &resp), RSP_E_INVALID_ARG);
  CHECK_ERR(es9_call(t, addr, "gsma/rsp2", &status, &resp), RSP_E_INVALID_ARG);
  CHECK_ERR(es9_call(t, addr, "/gsma?x=1", &status, &resp), RSP_E_INVALID_ARG);
  CHECK_EQ(seen_calls(), calls);
  rsp_es9_https_free(t);
  t = NULL;
  /* Options: anchors required, headers configurable. */
  CHECK_ERR(rsp_es9_https_new(&(struct rsp_es9_https_options){0}, &t), RSP_E_INVALID_ARG);
  o.admin_protocol = "gsma/rsp/v2.5.0";
  o.user_agent = "openrsp-ipad/test";
  CHECK_OK(rsp_es9_https_new(&o, &t));
  CHECK_OK(es9_call(t, addr, ES9_PATH, &status, &resp));
  pthread_mutex_lock(&seen.mu);
  CHECK_STR(seen.admin, "gsma/rsp/v2.5.0");
  CHECK_STR(seen.ua, "openrsp-ipad/test");
  pthread_mutex_unlock(&seen.mu);
  rsp_es9_https_free(t);
  rsp_buf_free(&resp);
  rsp_net_server_destroy(srv);
  rsp_net_server_destroy(srv2);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(esipa_round_trip),      T(esipa_options), T(esipa_answers), T(esipa_client_cert),
      T(trust_anchors),         T(trust_pin),     T(bad_options),   T(url_from_fqdn),
      T(trust_from_eim_config), T(es9_post),
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
