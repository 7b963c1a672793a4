/* The HTTPS client of lib/net on libcurl (OpenSSL backend): one easy handle per client, so its
 * connection cache and TLS session cache carry over from one call to the next. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/net/http.h"

struct rsp_net_client {
  CURL *curl;
  size_t max_response_body;
  unsigned long requests, connections;
  char error[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_status = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe everywhere; once per process, never cleaned up (other
 * parts of the process may use libcurl too). */
static void curl_init(void) { curl_status = curl_global_init(CURL_GLOBAL_DEFAULT); }

static bool setopt_ok(CURLcode *acc, CURLcode c) {
  if (*acc == CURLE_OK) *acc = c;
  return *acc == CURLE_OK;
}

/* "sha256//" and the base64 of a SHA-256: the form CURLOPT_PINNEDPUBLICKEY takes. */
#define PIN_PREFIX "sha256//"
#define PIN_SIZE (sizeof PIN_PREFIX + 44)

/* How the server is authenticated, prepared from the options before libcurl sees them. */
struct trust {
  BIO *anchors;       /* PEM anchors from ca_pem (memory BIO), NULL when none */
  char pin[PIN_SIZE]; /* empty when no key is pinned */
};

static bool trust_args_ok(const struct rsp_net_client_options *o) {
  if (!o->ca_pem != !o->ca_pem_len || !o->pinned_spki != !o->pinned_spki_len) return false;
  if (o->ca_file && o->ca_pem) return false;
  return o->ca_file || o->ca_pem || o->pinned_spki;
}

/* True when bytes[0..len) are exactly one DER certificate; its PEM form is written to `out`. */
static bool der_cert_to_pem(const uint8_t *der, size_t len, BIO *out) {
  const unsigned char *p = der;
  X509 *x = d2i_X509(NULL, &p, (long)len);
  bool ok = x && p == der + len && PEM_write_bio_X509(out, x) == 1;
  X509_free(x);
  return ok;
}

/* True when the PEM text holds at least one readable certificate. */
static bool pem_has_cert(const void *pem, size_t len) {
  BIO *in = BIO_new_mem_buf(pem, (int)len);
  X509 *x = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
  bool ok = x != NULL;
  X509_free(x);
  BIO_free(in);
  return ok;
}

/* The anchors as PEM in a memory BIO: checked here, so that unusable anchors fail the set-up and
 * not the first handshake. Bytes that parse as exactly one DER certificate are that certificate;
 * anything else is read as PEM. */
static rsp_err_t anchors_from_memory(const void *data, size_t len, BIO **out) {
  const uint8_t *b = data;
  if (len > INT_MAX) return RSP_E_INVALID_ARG;
  BIO *bio = BIO_new(BIO_s_mem());
  if (!bio) return RSP_E_NOMEM;
  bool ok = der_cert_to_pem(b, len, bio) || (BIO_reset(bio) == 1 && pem_has_cert(data, len) &&
                                             BIO_write(bio, data, (int)len) == (int)len);
  if (!ok) {
    BIO_free(bio);
    return RSP_E_INVALID_ARG;
  }
  *out = bio;
  return RSP_OK;
}

/* The pin of a DER SubjectPublicKeyInfo, after checking that it is one. */
static rsp_err_t pin_from_spki(const uint8_t *spki, size_t len, char out[PIN_SIZE]) {
  const unsigned char *p = spki;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  if (len > LONG_MAX) return RSP_E_INVALID_ARG;
  EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)len);
  bool whole = key && p == spki + len;
  EVP_PKEY_free(key);
  if (!whole) return RSP_E_INVALID_ARG;
  if (EVP_Digest(spki, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
    return RSP_E_INTERNAL;
  memcpy(out, PIN_PREFIX, sizeof PIN_PREFIX - 1);
  EVP_EncodeBlock((unsigned char *)out + sizeof PIN_PREFIX - 1, md, (int)md_len);
  return RSP_OK;
}

static rsp_err_t trust_setup(const struct rsp_net_client_options *o, struct trust *t) {
  rsp_err_t rc = RSP_OK;
  memset(t, 0, sizeof *t);
  if (o->ca_pem) rc = anchors_from_memory(o->ca_pem, o->ca_pem_len, &t->anchors);
  if (rc == RSP_OK && o->pinned_spki)
    rc = pin_from_spki(o->pinned_spki, o->pinned_spki_len, t->pin);
  ERR_clear_error(); /* parse failures leave entries that later OpenSSL users must not see */
  return rc;
}

static void trust_free(struct trust *t) {
  BIO_free(t->anchors);
  t->anchors = NULL;
}

/* Chain verification against the anchors only (no system CA directory next to them) when
 * anchors are given; the pin when one is given. A pin alone replaces the chain and host name
 * checks (trustedEimPkTls): libcurl still compares the key after the handshake. */
static CURLcode configure_trust(CURL *h, const struct rsp_net_client_options *opt,
                                const struct trust *t) {
  CURLcode c = CURLE_OK;
  bool chain = opt->ca_file || t->anchors;
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, chain ? 1L : 0L));
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, chain ? 2L : 0L));
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_CAINFO, opt->ca_file));
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_CAPATH, NULL));
  if (t->anchors) {
    char *pem = NULL;
    long len = BIO_get_mem_data(t->anchors, &pem);
    struct curl_blob blob = {.data = pem, .len = (size_t)len, .flags = CURL_BLOB_COPY};
    setopt_ok(&c, curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob));
  }
  if (t->pin[0]) setopt_ok(&c, curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, t->pin));
  return c;
}

/* The options that stay the same for every call of this client. */
static CURLcode configure(CURL *h, const struct rsp_net_client_options *opt, const struct trust *t,
                          char *errbuf) {
  CURLcode c = CURLE_OK;
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf));
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https"));
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2));
  /* RSP servers may hold brainpoolP256r1 certificates (SGP.22 allows both curves): offer that
   * curve too (OpenSSL 3.0 then settles on TLS 1.2 for such a server). */
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_SSL_EC_CURVES,
                                 "X25519:prime256v1:secp384r1:brainpoolP256r1"));
  setopt_ok(&c, configure_trust(h, opt, t));
  if (opt->cert_file) {
    setopt_ok(&c, curl_easy_setopt(h, CURLOPT_SSLCERT, opt->cert_file));
    setopt_ok(&c, curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM"));
    setopt_ok(&c, curl_easy_setopt(h, CURLOPT_SSLKEY, opt->key_file));
    setopt_ok(&c, curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM"));
  }
  setopt_ok(&c,
            curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                             (long)(opt->connect_timeout_ms ? opt->connect_timeout_ms : 10000)));
  setopt_ok(&c, curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                                 (long)(opt->timeout_ms ? opt->timeout_ms : 30000)));
  setopt_ok(&c,
            curl_easy_setopt(h, CURLOPT_USERAGENT, opt->user_agent ? opt->user_agent : "openrsp"));
  return c;
}

rsp_err_t rsp_net_client_new(const struct rsp_net_client_options *opt,
                             struct rsp_net_client **out) {
  rsp_err_t rc = RSP_E_INVALID_ARG;
  struct rsp_net_client *c = NULL;
  struct trust t = {0};
  if (!opt || !out || !trust_args_ok(opt) || (opt->cert_file && !opt->key_file)) goto out;
  if ((rc = trust_setup(opt, &t)) != RSP_OK) {
    RSP_LOG_E("net", "client trust anchors or pinned key unusable");
    goto out;
  }
  pthread_once(&curl_once, curl_init);
  rc = RSP_E_INTERNAL;
  if (curl_status != CURLE_OK) goto out;
  rc = RSP_E_NOMEM;
  if (!(c = rsp_calloc(1, sizeof *c)) || !(c->curl = curl_easy_init())) goto out;
  c->max_response_body =
      opt->max_response_body ? opt->max_response_body : RSP_NET_MAX_RESPONSE_BODY;
  if (configure(c->curl, opt, &t, c->error) != CURLE_OK) {
    RSP_LOG_E("net", "libcurl refuses the client options: %s", c->error);
    rc = RSP_E_INVALID_ARG;
    goto out;
  }
  *out = c;
  c = NULL;
  rc = RSP_OK;
out:
  trust_free(&t);
  rsp_net_client_destroy(c);
  return rc;
}

void rsp_net_client_destroy(struct rsp_net_client *c) {
  if (!c) return;
  if (c->curl) curl_easy_cleanup(c->curl);
  rsp_free(c);
}

void rsp_net_client_response_init(struct rsp_net_client_response *res) {
  memset(res, 0, sizeof *res);
  rsp_buf_init(&res->body, RSP_NET_MAX_RESPONSE_BODY);
}

void rsp_net_client_response_free(struct rsp_net_client_response *res) {
  if (res) rsp_buf_free(&res->body);
}

void rsp_net_client_stats(const struct rsp_net_client *c, struct rsp_net_client_stats *out) {
  out->requests = c ? c->requests : 0;
  out->connections = c ? c->connections : 0;
}

/* libcurl's write callback: returning less than given fails the transfer (CURLE_WRITE_ERROR),
 * which is how the response cap stops a body that grows past it. */
static size_t on_body(char *p, size_t size, size_t n, void *arg) {
  struct rsp_buf *b = arg;
  return rsp_buf_append(b, p, size * n) == RSP_OK ? size * n : 0;
}

static rsp_err_t map_error(CURLcode c) {
  switch (c) {
  case CURLE_OK:
    return RSP_OK;
  case CURLE_WRITE_ERROR:
    return RSP_E_BUF_CAP;
  case CURLE_OUT_OF_MEMORY:
    return RSP_E_NOMEM;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    return RSP_E_INVALID_ARG;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_CLIENTCERT:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    return RSP_E_TLS;
  default:
    return RSP_E_NET;
  }
}

/* The request headers: the caller's, plus "Expect:" so that curl sends the body at once
 * instead of waiting for a 100 Continue (bodies here are small and always wanted). */
static rsp_err_t build_headers(const struct rsp_net_header *h, size_t n, struct curl_slist **out) {
  struct curl_slist *list = NULL, *next;
  char line[1024];
  for (size_t i = 0; i <= n; i++) {
    if (i < n &&
        (!h[i].name || !h[i].value || strpbrk(h[i].name, ":\r\n") || strpbrk(h[i].value, "\r\n"))) {
      curl_slist_free_all(list);
      return RSP_E_INVALID_ARG;
    }
    int len = i < n ? snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value)
                    : snprintf(line, sizeof line, "Expect:");
    if (len < 0 || (size_t)len >= sizeof line || !(next = curl_slist_append(list, line))) {
      curl_slist_free_all(list);
      return len < 0 || (size_t)len >= sizeof line ? RSP_E_INVALID_ARG : RSP_E_NOMEM;
    }
    list = next;
  }
  *out = list;
  return RSP_OK;
}

/* Status, Content-Type and X-Admin-Protocol of the finished transfer. */
static void read_response_info(CURL *h, struct rsp_net_client_response *res) {
  long status = 0;
  char *ct = NULL;
  struct curl_header *hdr = NULL;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  res->status = (int)status;
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
    snprintf(res->content_type, sizeof res->content_type, "%s", ct);
  if (curl_easy_header(h, "X-Admin-Protocol", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
    snprintf(res->admin_protocol, sizeof res->admin_protocol, "%s", hdr->value);
}

/* Method and body. The handle keeps options between calls, so each call sets all of them. */
static CURLcode set_method(CURL *h, const char *method, const void *body, size_t len) {
  CURLcode cc = CURLE_OK;
  if (strcmp(method, "GET") == 0) {
    setopt_ok(&cc, curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL));
    setopt_ok(&cc, curl_easy_setopt(h, CURLOPT_HTTPGET, 1L));
    return cc;
  }
  setopt_ok(&cc, curl_easy_setopt(h, CURLOPT_POST, 1L));
  setopt_ok(&cc, curl_easy_setopt(h, CURLOPT_POSTFIELDS, len ? body : ""));
  setopt_ok(&cc, curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len));
  setopt_ok(
      &cc, curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method));
  return cc;
}

static bool method_supported(const char *m) {
  static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (strcmp(m, ok[i]) == 0) return true;
  return false;
}

rsp_err_t rsp_net_client_post(struct rsp_net_client *c, const char *url,
                              const struct rsp_net_header *headers, size_t n_headers,
                              const void *body, size_t len, struct rsp_net_client_response *res) {
  return rsp_net_client_request(c, "POST", url, headers, n_headers, body, len, res);
}

rsp_err_t rsp_net_client_request(struct rsp_net_client *c, const char *method, const char *url,
                                 const struct rsp_net_header *headers, size_t n_headers,
                                 const void *body, size_t len,
                                 struct rsp_net_client_response *res) {
  rsp_err_t rc = RSP_E_INVALID_ARG;
  struct curl_slist *list = NULL;
  CURLcode cc = CURLE_OK;
  long conns = 0;
  if (res) rsp_net_client_response_init(res);
  if (!c || !method || !method_supported(method) || !url || !res || (len && !body) ||
      (n_headers && !headers))
    return rc;
  res->body.cap = c->max_response_body;
  if ((rc = build_headers(headers, n_headers, &list)) != RSP_OK) goto out;
  c->error[0] = '\0';
  setopt_ok(&cc, curl_easy_setopt(c->curl, CURLOPT_URL, url));
  setopt_ok(&cc, curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, list));
  setopt_ok(&cc, set_method(c->curl, method, body, len));
  setopt_ok(&cc, curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body));
  setopt_ok(&cc, curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &res->body));
  if (cc == CURLE_OK) cc = curl_easy_perform(c->curl);
  if (curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0)
    c->connections += (unsigned long)conns;
  rc = map_error(cc);
  if (rc == RSP_OK) {
    read_response_info(c->curl, res);
    c->requests++;
  } else {
    snprintf(res->error, sizeof res->error, "%s", c->error[0] ? c->error : curl_easy_strerror(cc));
    RSP_LOG_D("net", "POST %s: %s", url, res->error);
    rsp_buf_free(&res->body);
  }
out:
  /* The header list is freed here, so the handle must not keep pointing at it. */
  curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(list);
  return rc;
}
