/* lib/net's CoAP/DTLS server and client together on 127.0.0.1 (docs/adr/0009), certificates
 * from the built rsp-pki (argv[1]): round trip, 200 kB bodies both ways (block-wise), the status
 * mapping, the request cap (4.13), wrong PSKs and wrong certificates refused, a pinned key, many
 * exchanges over one DTLS session, a stop with a client connected, the PSK file loader and the
 * option checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/net/coap.h"
#include "test.h"

#define BIG (200u * 1024u)

static const char *rsp_pki_bin;
static char tmp[512], pki[600], other[600];

static const struct rsp_net_coap_psk test_psk = {
    .identity = "device-1",
    .key = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
    .key_len = 16};

static void make_pkis(void) {
  char cmd[2048];
  if (tmp[0]) return;
  snprintf(tmp, sizeof tmp, "%s", rsp_test_tmpdir("net-coap"));
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

/* The first byte of a body selects the answer: 'e' echoes, 'n' nothing (204), 'b' 400,
 * 'f' a handler failure; anything else is echoed too. */
static rsp_err_t handler(void *ctx, const uint8_t *body, size_t len, struct rsp_buf *resp,
                         int *status) {
  (void)ctx;
  char first = len ? (char)body[0] : 'n';
  if (first == 'f') return RSP_E_INTERNAL;
  *status = first == 'n' ? 204 : first == 'b' ? 400 : 200;
  return *status == 200 ? rsp_buf_append(resp, body, len) : RSP_OK;
}

struct srv_cfg {
  bool psk, certs;
  size_t max_body;
};

static struct rsp_net_coap_server *start_server(const struct srv_cfg *cfg) {
  char cert[700], key[700];
  struct rsp_net_coap_server *srv = NULL;
  make_pkis();
  struct rsp_net_coap_server_options o = {
      .psk = cfg->psk ? &test_psk : NULL,
      .n_psk = cfg->psk ? 1 : 0,
      .cert_file = cfg->certs ? file_in(pki, "eim/tls/cert.pem", cert, sizeof cert) : NULL,
      .key_file = cfg->certs ? file_in(pki, "eim/tls/key.pem", key, sizeof key) : NULL,
      .max_request_body = cfg->max_body,
      .log_component = "test-coap",
      .handler = handler};
  CHECK_OK(rsp_net_coap_server_new(&o, &srv));
  if (srv) CHECK_OK(rsp_net_coap_server_start(srv));
  return srv;
}

static void url_of(const struct rsp_net_coap_server *srv, const char *host, char *out,
                   size_t size) {
  snprintf(out, size, "coaps://%s:%u/gsma/rsp2/asn1", host,
           (unsigned)rsp_net_coap_server_port(srv));
}

static struct rsp_net_coap_client *psk_client(const struct rsp_net_coap_server *srv,
                                              const char *identity, uint8_t key0) {
  char url[128];
  uint8_t key[16];
  struct rsp_net_coap_client *c = NULL;
  memcpy(key, test_psk.key, sizeof key);
  key[0] = key0;
  url_of(srv, "127.0.0.1", url, sizeof url);
  struct rsp_net_coap_client_options o = {.url = url,
                                          .psk_identity = identity,
                                          .psk_key = key,
                                          .psk_key_len = 16,
                                          .timeout_ms = key0 == 1 ? 5000 : 1500};
  CHECK_OK(rsp_net_coap_client_new(&o, &c));
  return c;
}

static rsp_err_t post(struct rsp_net_coap_client *c, const void *body, size_t len,
                      struct rsp_buf *out, int *code) {
  rsp_buf_reset(out);
  *code = 0;
  return rsp_net_coap_client_post(c, body, len, out, code);
}

static void test_round_trip_and_mapping(void) {
  struct srv_cfg cfg = {.psk = true};
  struct rsp_net_coap_server *srv = start_server(&cfg);
  struct rsp_net_coap_client *c = psk_client(srv, "device-1", 1);
  struct rsp_buf out;
  int code;
  rsp_buf_init(&out, 1 << 20);
  CHECK_OK(post(c, "echo", 4, &out, &code));
  CHECK_EQ(code, RSP_NET_COAP_CONTENT);
  CHECK(out.len == 4 && memcmp(out.data, "echo", 4) == 0);
  CHECK_OK(post(c, "n", 1, &out, &code));
  CHECK_EQ(code, RSP_NET_COAP_CHANGED);
  CHECK_EQ(out.len, 0);
  CHECK_OK(post(c, "bad", 3, &out, &code));
  CHECK_EQ(code, RSP_NET_COAP_BAD_REQUEST);
  CHECK_OK(post(c, "fail", 4, &out, &code));
  CHECK_EQ(code, RSP_NET_COAP_INTERNAL_ERROR);
  CHECK_OK(post(c, NULL, 0, &out, &code));
  CHECK_EQ(code, RSP_NET_COAP_CHANGED);
  rsp_buf_free(&out);
  rsp_net_coap_client_destroy(c);
  rsp_net_coap_server_destroy(srv);
}

static void test_big_bodies(void) {
  struct srv_cfg cfg = {.psk = true};
  struct rsp_net_coap_server *srv = start_server(&cfg);
  struct rsp_net_coap_client *c = psk_client(srv, "device-1", 1);
  uint8_t *big = rsp_malloc(BIG);
  struct rsp_buf out;
  int code;
  rsp_buf_init(&out, 1 << 20);
  for (size_t i = 0; i < BIG; i++) big[i] = (uint8_t)(i * 7 + (i >> 9));
  big[0] = 'e';
  CHECK_OK(post(c, big, BIG, &out, &code));
  CHECK_EQ(code, RSP_NET_COAP_CONTENT);
  CHECK(out.len == BIG && memcmp(out.data, big, BIG) == 0);
  rsp_free(big);
  rsp_buf_free(&out);
  rsp_net_coap_client_destroy(c);
  rsp_net_coap_server_destroy(srv);
}

static void test_request_cap(void) {
  struct srv_cfg cfg = {.psk = true, .max_body = 4000};
  struct rsp_net_coap_server *srv = start_server(&cfg);
  struct rsp_net_coap_client *c = psk_client(srv, "device-1", 1);
  static uint8_t body[10000];
  struct rsp_buf out;
  int code;
  memset(body, 'e', sizeof body);
  rsp_buf_init(&out, 1 << 20);
  CHECK_OK(post(c, body, sizeof body, &out, &code));
  CHECK_EQ(code, RSP_NET_COAP_TOO_LARGE);
  CHECK_OK(post(c, body, 4000, &out, &code)); /* at the cap: served */
  CHECK_EQ(code, RSP_NET_COAP_CONTENT);
  CHECK_EQ(out.len, 4000);
  rsp_buf_free(&out);
  rsp_net_coap_client_destroy(c);
  rsp_net_coap_server_destroy(srv);
}

static void test_psk_refused(void) {
  struct srv_cfg cfg = {.psk = true};
  struct rsp_net_coap_server *srv = start_server(&cfg);
  struct rsp_net_coap_client *wrong_key = psk_client(srv, "device-1", 99);
  struct rsp_net_coap_client *unknown = psk_client(srv, "device-2", 1);
  struct rsp_net_coap_server_stats st;
  struct rsp_buf out;
  int code = 0;
  rsp_buf_init(&out, 1 << 20);
  CHECK_ERR(post(wrong_key, "echo", 4, &out, &code), RSP_E_TLS);
  CHECK_ERR(post(unknown, "echo", 4, &out, &code), RSP_E_TLS);
  rsp_net_coap_server_stats(srv, &st);
  CHECK_EQ(st.requests, 0);
  rsp_buf_free(&out);
  rsp_net_coap_client_destroy(wrong_key);
  rsp_net_coap_client_destroy(unknown);
  rsp_net_coap_server_destroy(srv);
}

static rsp_err_t cert_post_to(const struct rsp_net_coap_server *srv, const char *host,
                              const char *ca, const uint8_t *pin, size_t pin_len) {
  char url[128];
  struct rsp_net_coap_client *c = NULL;
  struct rsp_buf out;
  int code = 0;
  url_of(srv, host, url, sizeof url);
  struct rsp_net_coap_client_options o = {.url = url,
                                          .ca_file = ca,
                                          .pinned_spki = pin,
                                          .pinned_spki_len = pin_len,
                                          .timeout_ms = 5000};
  rsp_err_t rc = rsp_net_coap_client_new(&o, &c);
  rsp_buf_init(&out, 1 << 20);
  if (rc == RSP_OK) rc = post(c, "echo", 4, &out, &code);
  if (rc == RSP_OK && (code != RSP_NET_COAP_CONTENT || out.len != 4)) rc = RSP_E_STATE;
  rsp_buf_free(&out);
  rsp_net_coap_client_destroy(c);
  return rc;
}

static rsp_err_t cert_post(const struct rsp_net_coap_server *srv, const char *ca,
                           const uint8_t *pin, size_t pin_len) {
  return cert_post_to(srv, "localhost", ca, pin, pin_len);
}

/* The DER SubjectPublicKeyInfo of a PEM certificate, through openssl(1). */
static uint8_t *spki_of(const char *cert_pem, size_t *len) {
  char cmd[2048], der[700];
  file_in(tmp, "spki.der", der, sizeof der);
  snprintf(cmd, sizeof cmd,
           "openssl x509 -in '%s' -noout -pubkey | openssl pkey -pubin -outform DER -out '%s'",
           cert_pem, der);
  if (system(cmd) != 0) return NULL;
  return rsp_test_read_file(der, len);
}

static void test_certificates(void) {
  struct srv_cfg cfg = {.certs = true, .psk = true};
  struct rsp_net_coap_server *srv = start_server(&cfg);
  char ca[700], other_ca[700], cert[700], other_cert[700];
  size_t pin_len = 0, other_len = 0;
  file_in(pki, "ci/cert.pem", ca, sizeof ca);
  file_in(other, "ci/cert.pem", other_ca, sizeof other_ca);
  uint8_t *pin = spki_of(file_in(pki, "eim/tls/cert.pem", cert, sizeof cert), &pin_len);
  uint8_t *other_pin =
      spki_of(file_in(other, "eim/tls/cert.pem", other_cert, sizeof other_cert), &other_len);
  CHECK(pin && other_pin);
  CHECK_OK(cert_post(srv, ca, NULL, 0));
  CHECK_ERR(cert_post(srv, other_ca, NULL, 0), RSP_E_TLS);
  CHECK_ERR(cert_post_to(srv, "127.0.0.1", ca, NULL, 0), RSP_E_TLS); /* not its name */
  CHECK_OK(cert_post_to(srv, "127.0.0.1", NULL, pin, pin_len));      /* a pin alone: no name */
  CHECK_OK(cert_post(srv, cert, NULL, 0)); /* the leaf itself as the anchor */
  CHECK_OK(cert_post(srv, NULL, pin, pin_len));
  CHECK_ERR(cert_post(srv, NULL, other_pin, other_len), RSP_E_TLS);
  CHECK_ERR(cert_post(srv, ca, other_pin, other_len), RSP_E_TLS);
  free(pin);
  free(other_pin);
  rsp_net_coap_server_destroy(srv);
}

static void test_one_session(void) {
  struct srv_cfg cfg = {.psk = true};
  struct rsp_net_coap_server *srv = start_server(&cfg);
  struct rsp_net_coap_client *c = psk_client(srv, "device-1", 1);
  struct rsp_net_coap_client_stats cs;
  struct rsp_net_coap_server_stats ss;
  struct rsp_buf out;
  char body[32];
  int code, good = 0;
  rsp_buf_init(&out, 1 << 20);
  for (int i = 0; i < 300; i++) {
    int n = snprintf(body, sizeof body, "e%d", i);
    if (post(c, body, (size_t)n, &out, &code) == RSP_OK && code == RSP_NET_COAP_CONTENT &&
        out.len == (size_t)n && memcmp(out.data, body, out.len) == 0)
      good++;
  }
  CHECK_EQ(good, 300);
  rsp_net_coap_client_stats(c, &cs);
  rsp_net_coap_server_stats(srv, &ss);
  CHECK_EQ(cs.requests, 300);
  CHECK_EQ(cs.sessions, 1);
  CHECK_EQ(ss.sessions, 1);
  CHECK_EQ(ss.requests, 300);
  rsp_buf_free(&out);
  rsp_net_coap_client_destroy(c);
  rsp_net_coap_server_destroy(srv);
}

static void test_stop_with_client(void) {
  struct srv_cfg cfg = {.psk = true};
  struct rsp_net_coap_server *srv = start_server(&cfg);
  char url[128];
  struct rsp_net_coap_client *c = NULL;
  struct rsp_buf out;
  int code;
  url_of(srv, "127.0.0.1", url, sizeof url);
  struct rsp_net_coap_client_options o = {.url = url,
                                          .psk_identity = "device-1",
                                          .psk_key = test_psk.key,
                                          .psk_key_len = test_psk.key_len,
                                          .timeout_ms = 1500};
  CHECK_OK(rsp_net_coap_client_new(&o, &c));
  rsp_buf_init(&out, 1 << 20);
  CHECK_OK(post(c, "echo", 4, &out, &code));
  rsp_net_coap_server_stop(srv);
  rsp_net_coap_server_stop(srv); /* idempotent */
  rsp_err_t rc = post(c, "echo", 4, &out, &code);
  CHECK(rc == RSP_E_NET || rc == RSP_E_TLS);
  rsp_net_coap_server_destroy(srv);
  rsp_buf_free(&out);
  rsp_net_coap_client_destroy(c);
}

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
}

static void test_psk_file(void) {
  char path[700];
  struct rsp_net_coap_psk *t = NULL;
  size_t n = 0;
  make_pkis();
  file_in(tmp, "psk.txt", path, sizeof path);
  write_file(path, "# devices\n  device-1 0102030405060708\n\ndevice-2 AABBCC # x\n", 0600);
  CHECK_OK(rsp_net_coap_psk_load(path, &t, &n));
  CHECK_EQ(n, 2);
  if (t && n == 2) {
    CHECK(strcmp(t[0].identity, "device-1") == 0 && t[0].key_len == 8 && t[0].key[7] == 8);
    CHECK(strcmp(t[1].identity, "device-2") == 0 && t[1].key_len == 3 && t[1].key[0] == 0xaa);
  }
  rsp_free(t);
  t = NULL;
  chmod(path, 0644);
  CHECK_ERR(rsp_net_coap_psk_load(path, &t, &n), RSP_E_IO);
  write_file(path, "device-1 01020\n", 0600);
  CHECK_ERR(rsp_net_coap_psk_load(path, &t, &n), RSP_E_INVALID_ARG);
  write_file(path, "device-1 zz\n", 0600);
  CHECK_ERR(rsp_net_coap_psk_load(path, &t, &n), RSP_E_INVALID_ARG);
  write_file(path, "# nothing\n", 0600);
  CHECK_ERR(rsp_net_coap_psk_load(path, &t, &n), RSP_E_INVALID_ARG);
}

static void test_option_checks(void) {
  struct rsp_net_coap_server *srv = NULL;
  struct rsp_net_coap_client *c = NULL;
  struct rsp_net_coap_server_options so = {.handler = handler};
  CHECK_ERR(rsp_net_coap_server_new(&so, &srv), RSP_E_INVALID_ARG); /* no credential */
  so.psk = &test_psk;
  so.n_psk = 1;
  so.address = "not-numeric";
  CHECK_ERR(rsp_net_coap_server_new(&so, &srv), RSP_E_INVALID_ARG);
  struct rsp_net_coap_client_options co = {.url = "coaps://127.0.0.1:5684/x"};
  CHECK_ERR(rsp_net_coap_client_new(&co, &c), RSP_E_INVALID_ARG); /* nothing to trust */
  co.url = "coap://127.0.0.1:5684/x";
  co.psk_identity = "a";
  co.psk_key = test_psk.key;
  co.psk_key_len = 16;
  CHECK_ERR(rsp_net_coap_client_new(&co, &c), RSP_E_INVALID_ARG); /* no plain CoAP */
  co.url = "https://127.0.0.1/x";
  CHECK_ERR(rsp_net_coap_client_new(&co, &c), RSP_E_INVALID_ARG);
  CHECK(c == NULL && srv == NULL);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(test_round_trip_and_mapping),
                                               T(test_big_bodies),
                                               T(test_request_cap),
                                               T(test_psk_refused),
                                               T(test_certificates),
                                               T(test_one_session),
                                               T(test_stop_with_client),
                                               T(test_psk_file),
                                               T(test_option_checks)};
  if (argc < 2) {
    fprintf(stderr, "usage: %s path/to/rsp-pki [case]\n", argv[0]);
    return 2;
  }
  rsp_pki_bin = argv[1];
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
