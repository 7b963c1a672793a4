/* The CoAP/DTLS client of lib/net (docs/adr/0009): one libcoap context and one DTLS session to
 * one URL, kept between exchanges; each exchange is one confirmable POST whose request and
 * answer libcoap splits and joins block-wise.
 *
 * Trust follows the HTTPS client (http.h): a PSK, or certificates: the chain (anchors from
 * ca_file, partial chains accepted, the URL's host as the expected name) and a pinned key are
 * checked with OpenSSL on the established session, before anything is sent. */
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coap_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"

#define HOST_MAX 256
#define PATH_MAX_LEN 256
#define SLICE_MS 50 /* longest single wait in libcoap, so that the timeout is kept */

struct rsp_net_coap_client {
  coap_context_t *ctx;
  coap_session_t *session;
  coap_address_t dst;
  char url[HOST_MAX + PATH_MAX_LEN + 32];
  char host[HOST_MAX];
  char path[PATH_MAX_LEN];
  char psk_identity[RSP_NET_COAP_PSK_IDENTITY_MAX + 1];
  uint8_t psk_key[RSP_NET_COAP_PSK_KEY_MAX];
  size_t psk_key_len;
  X509_STORE *anchors; /* from ca_file */
  char *cert_file, *key_file;
  uint8_t *pin;
  size_t pin_len;
  unsigned timeout_ms;
  size_t max_response_body;
  /* the exchange in progress */
  struct rsp_buf *resp;
  uint8_t token[8];
  size_t token_len;
  int code;
  bool done, failed;
  rsp_err_t err;
  unsigned long requests, sessions;
};

/* ---- libcoap callbacks ----------------------------------------------------------------------- */

static struct rsp_net_coap_client *client_of(coap_session_t *session) {
  return coap_get_app_data(coap_session_get_context(session));
}

static void fail(struct rsp_net_coap_client *c, rsp_err_t err) {
  if (c->done || c->failed) return;
  c->failed = true;
  c->err = err;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid) {
  struct rsp_net_coap_client *c = client_of(session);
  coap_bin_const_t token = coap_pdu_get_token(received);
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *data = NULL;
  (void)sent;
  (void)mid;
  if (!c->resp || c->done || token.length != c->token_len ||
      memcmp(token.s, c->token, c->token_len) != 0)
    return COAP_RESPONSE_OK; /* a late answer to an exchange given up on */
  coap_pdu_code_t code = coap_pdu_get_code(received);
  c->code = (int)(code >> 5) * 100 + (int)(code & 0x1f);
  if (coap_get_data_large(received, &len, &data, &offset, &total) && len) {
    if (total > c->max_response_body || len > c->max_response_body) {
      RSP_LOG_W("coap", "%s: answer of %zu bytes over the cap of %zu", c->url, total,
                c->max_response_body);
      fail(c, RSP_E_BUF_CAP);
      return COAP_RESPONSE_OK;
    }
    if (rsp_buf_append(c->resp, data, len) != RSP_OK) {
      fail(c, RSP_E_BUF_CAP);
      return COAP_RESPONSE_OK;
    }
  }
  c->done = true;
  return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent,
                    const coap_nack_reason_t reason, const coap_mid_t mid) {
  struct rsp_net_coap_client *c = client_of(session);
  (void)sent;
  (void)mid;
  RSP_LOG_W("coap", "%s: no answer (%s)", c->url,
            reason == COAP_NACK_TOO_MANY_RETRIES ? "too many retransmissions"
            : reason == COAP_NACK_RST            ? "reset by the peer"
            : reason == COAP_NACK_TLS_FAILED     ? "DTLS failed"
                                                 : "not deliverable");
  fail(c, reason == COAP_NACK_TLS_FAILED ? RSP_E_TLS : RSP_E_NET);
}

static int on_event(coap_session_t *session, const coap_event_t event) {
  struct rsp_net_coap_client *c = client_of(session);
  if (event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED) {
    if (!c->done && !c->failed)
      RSP_LOG_W("coap", "%s: DTLS %s", c->url,
                event == COAP_EVENT_DTLS_ERROR ? "handshake failed (key, certificate or peer)"
                                               : "session closed by the peer");
    fail(c, RSP_E_TLS);
  } else if (event == COAP_EVENT_SESSION_FAILED || event == COAP_EVENT_XMIT_BLOCK_FAIL) {
    fail(c, RSP_E_NET);
  }
  return 0;
}

/* ---- trust ----------------------------------------------------------------------------------- */

/* The established session's certificate chain against the anchors, with the URL's host as the
 * name it must carry; an anchor may be any certificate of the chain (partial chains accepted, as
 * with the HTTPS client). */
static bool chain_trusted(struct rsp_net_coap_client *c, SSL *ssl) {
  X509 *leaf = SSL_get0_peer_certificate(ssl);
  X509_STORE_CTX *ctx = leaf ? X509_STORE_CTX_new() : NULL;
  bool ok = false;
  if (!ctx || !X509_STORE_CTX_init(ctx, c->anchors, leaf, SSL_get_peer_cert_chain(ssl))) goto out;
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  ASN1_OCTET_STRING *ip = a2i_IPADDRESS(c->host);
  int set = ip ? X509_VERIFY_PARAM_set1_ip(param, ip->data, (size_t)ip->length)
               : X509_VERIFY_PARAM_set1_host(param, c->host, 0);
  ASN1_OCTET_STRING_free(ip);
  ok = set == 1 && X509_verify_cert(ctx) == 1;
  if (!ok)
    RSP_LOG_W("coap", "%s: server certificate refused: %s", c->url,
              X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
  if (!leaf) RSP_LOG_W("coap", "%s: the server sent no certificate", c->url);
  X509_STORE_CTX_free(ctx);
  return ok;
}

/* The established session's peer key against the pin. */
static bool pin_matches(struct rsp_net_coap_client *c, SSL *ssl) {
  X509 *cert = SSL_get0_peer_certificate(ssl);
  unsigned char *der = NULL;
  int n = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;
  bool ok = n > 0 && (size_t)n == c->pin_len && memcmp(der, c->pin, c->pin_len) == 0;
  OPENSSL_free(der);
  if (!ok) RSP_LOG_W("coap", "%s: the server's key is not the pinned one", c->url);
  return ok;
}

/* Certificate mode: libcoap completes the handshake without judging the server (its 4.3
 * OpenSSL backend offers no partial chains and no host check); nothing is sent before this
 * check passes. */
static bool server_trusted(struct rsp_net_coap_client *c) {
  coap_tls_library_t type;
  SSL *ssl = coap_session_get_tls(c->session, &type);
  if (!ssl || type != COAP_TLS_LIBRARY_OPENSSL) {
    RSP_LOG_W("coap", "%s: no OpenSSL session to check", c->url);
    return false;
  }
  return (!c->anchors || chain_trusted(c, ssl)) && (!c->pin || pin_matches(c, ssl));
}

/* ---- sessions -------------------------------------------------------------------------------- */

static coap_session_t *open_psk(struct rsp_net_coap_client *c) {
  coap_dtls_cpsk_t s;
  memset(&s, 0, sizeof s);
  s.version = COAP_DTLS_CPSK_SETUP_VERSION;
  s.psk_info.identity.s = (const uint8_t *)c->psk_identity;
  s.psk_info.identity.length = strlen(c->psk_identity);
  s.psk_info.key.s = c->psk_key;
  s.psk_info.key.length = c->psk_key_len;
  return coap_new_client_session_psk2(c->ctx, NULL, &c->dst, COAP_PROTO_DTLS, &s);
}

static coap_session_t *open_pki(struct rsp_net_coap_client *c) {
  coap_dtls_pki_t p;
  memset(&p, 0, sizeof p);
  p.version = COAP_DTLS_PKI_SETUP_VERSION;
  p.verify_peer_cert = 0; /* server_trusted judges the server */
  p.client_sni = c->host;
  p.pki_key.key_type = COAP_PKI_KEY_PEM;
  p.pki_key.key.pem.public_cert = c->cert_file;
  p.pki_key.key.pem.private_key = c->key_file;
  return coap_new_client_session_pki(c->ctx, NULL, &c->dst, COAP_PROTO_DTLS, &p);
}

static void close_session(struct rsp_net_coap_client *c) {
  if (c->session) coap_session_release(c->session);
  c->session = NULL;
}

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Runs libcoap until `until` says so, a failure, or the deadline (RSP_E_NET). */
static rsp_err_t run_until(struct rsp_net_coap_client *c,
                           bool (*until)(struct rsp_net_coap_client *), int64_t deadline) {
  while (!until(c) && !c->failed) {
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      RSP_LOG_W("coap", "%s: timed out after %u ms", c->url, c->timeout_ms);
      return RSP_E_NET;
    }
    if (coap_io_process(c->ctx, (uint32_t)(left < SLICE_MS ? left : SLICE_MS)) < 0) {
      RSP_LOG_W("coap", "%s: libcoap I/O failed", c->url);
      return RSP_E_NET;
    }
  }
  return c->failed ? c->err : RSP_OK;
}

static bool established(struct rsp_net_coap_client *c) {
  return coap_session_get_state(c->session) == COAP_SESSION_STATE_ESTABLISHED;
}

static bool answered(struct rsp_net_coap_client *c) { return c->done; }

/* An established, trusted session: the old one, or a new handshake. */
static rsp_err_t ensure_session(struct rsp_net_coap_client *c, int64_t deadline) {
  rsp_err_t rc;
  if (c->session && established(c)) return RSP_OK;
  close_session(c);
  c->session = c->psk_key_len ? open_psk(c) : open_pki(c);
  if (!c->session) {
    RSP_LOG_W("coap", "%s: libcoap cannot open a DTLS session", c->url);
    return RSP_E_TLS;
  }
  c->sessions++;
  if ((rc = run_until(c, established, deadline)) == RSP_E_NET && !c->failed) {
    /* DTLS drops what it cannot authenticate: a wrong PSK often ends in silence. */
    RSP_LOG_W("coap", "%s: DTLS handshake not completed (wrong key or certificate, or no server)",
              c->url);
    return RSP_E_TLS;
  }
  if (rc != RSP_OK) return rc;
  if (!c->psk_key_len && !server_trusted(c)) return RSP_E_TLS;
  return RSP_OK;
}

/* ---- one exchange ---------------------------------------------------------------------------- */

static void release_copy(coap_session_t *session, void *app_ptr) {
  (void)session;
  rsp_free(app_ptr);
}

/* Uri-Path options, one per segment (RFC 7252 §6.4). */
static bool add_path(struct rsp_net_coap_client *c, coap_pdu_t *pdu) {
  const char *p = c->path;
  while (*p) {
    size_t n = strcspn(p, "/");
    if (n && !coap_add_option(pdu, COAP_OPTION_URI_PATH, n, (const uint8_t *)p)) return false;
    p += n + (p[n] == '/');
  }
  return true;
}

/* The POST with its body; libcoap owns a copy (it may outlive a timed-out call). */
static coap_pdu_t *build_request(struct rsp_net_coap_client *c, const void *body, size_t len) {
  uint8_t fmt[4];
  uint8_t *copy = NULL;
  coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, c->session);
  if (!pdu) return NULL;
  coap_session_new_token(c->session, &c->token_len, c->token);
  if (!coap_add_token(pdu, c->token_len, c->token) || !add_path(c, pdu) ||
      !coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                       coap_encode_var_safe(fmt, sizeof fmt, RSP_NET_COAP_FORMAT_OCTET_STREAM),
                       fmt))
    goto fail;
  if (len) {
    if (!(copy = rsp_malloc(len))) goto fail;
    memcpy(copy, body, len);
    if (!coap_add_data_large_request(c->session, pdu, len, copy, release_copy, copy)) {
      rsp_free(copy);
      goto fail;
    }
  }
  return pdu;
fail:
  coap_delete_pdu(pdu);
  return NULL;
}

static rsp_err_t exchange(struct rsp_net_coap_client *c, const void *body, size_t len,
                          int64_t deadline) {
  rsp_err_t rc = ensure_session(c, deadline);
  if (rc != RSP_OK) return rc;
  coap_pdu_t *pdu = build_request(c, body, len);
  if (!pdu) {
    RSP_LOG_W("coap", "%s: cannot build the request (%zu bytes)", c->url, len);
    return RSP_E_NOMEM;
  }
  if (coap_send(c->session, pdu) == COAP_INVALID_MID) {
    RSP_LOG_W("coap", "%s: libcoap refused to send the request", c->url);
    return RSP_E_NET;
  }
  return run_until(c, answered, deadline);
}

rsp_err_t rsp_net_coap_client_post(struct rsp_net_coap_client *c, const void *body, size_t len,
                                   struct rsp_buf *resp, int *code) {
  if (!c || (len && !body) || !resp || !code) return RSP_E_INVALID_ARG;
  size_t mark = resp->len;
  c->resp = resp;
  c->done = c->failed = false;
  c->err = RSP_OK;
  c->code = 0;
  rsp_err_t rc = exchange(c, body, len, now_ms() + c->timeout_ms);
  c->resp = NULL;
  if (rc != RSP_OK) {
    resp->len = mark;
    c->failed = true; /* the close below is ours: no "closed by the peer" line */
    close_session(c); /* a new handshake next time; drops what libcoap still tracks */
    return rc;
  }
  c->requests++;
  *code = c->code;
  return RSP_OK;
}

/* ---- set-up ---------------------------------------------------------------------------------- */

/* coaps://host[:port]/path into the client. */
static rsp_err_t parse_url(struct rsp_net_coap_client *c, const char *url) {
  coap_uri_t u;
  if (!url || strlen(url) >= sizeof c->url ||
      coap_split_uri((const uint8_t *)url, strlen(url), &u) != 0 ||
      u.scheme != COAP_URI_SCHEME_COAPS || !u.host.length || u.host.length >= HOST_MAX ||
      u.path.length >= PATH_MAX_LEN) {
    RSP_LOG_E("coap", "not a coaps://host[:port]/path URL: %s", url ? url : "(none)");
    return RSP_E_INVALID_ARG;
  }
  snprintf(c->url, sizeof c->url, "%s", url);
  snprintf(c->host, sizeof c->host, "%.*s", (int)u.host.length, (const char *)u.host.s);
  snprintf(c->path, sizeof c->path, "%.*s", (int)u.path.length, (const char *)u.path.s);
  return rsp__net_coap_resolve(c->host, u.port, false, &c->dst);
}

static X509_STORE *load_anchors(struct rsp_net_coap_client *c, const char *ca_file) {
  X509_STORE *st = X509_STORE_new();
  if (st && X509_STORE_load_file(st, ca_file) == 1) return st;
  RSP_LOG_E("coap", "%s: CA file %s: no usable PEM certificate", c->url, ca_file);
  X509_STORE_free(st);
  return NULL;
}

static rsp_err_t copy_credentials(struct rsp_net_coap_client *c,
                                  const struct rsp_net_coap_client_options *o) {
  if (o->psk_key_len) {
    if (!o->psk_identity || !o->psk_identity[0] ||
        strlen(o->psk_identity) > RSP_NET_COAP_PSK_IDENTITY_MAX ||
        o->psk_key_len > RSP_NET_COAP_PSK_KEY_MAX || !o->psk_key)
      return RSP_E_INVALID_ARG;
    snprintf(c->psk_identity, sizeof c->psk_identity, "%s", o->psk_identity);
    memcpy(c->psk_key, o->psk_key, o->psk_key_len);
    c->psk_key_len = o->psk_key_len;
    return RSP_OK;
  }
  if (!o->ca_file && !o->pinned_spki_len) {
    RSP_LOG_E("coap",
              "%s: no PSK, no CA file and no pinned key: the server cannot be "
              "authenticated (there is no unverified mode)",
              c->url);
    return RSP_E_INVALID_ARG;
  }
  if (!o->cert_file != !o->key_file) return RSP_E_INVALID_ARG;
  if (o->ca_file && !(c->anchors = load_anchors(c, o->ca_file))) return RSP_E_INVALID_ARG;
  if ((o->cert_file && !(c->cert_file = rsp_strdup(o->cert_file))) ||
      (o->key_file && !(c->key_file = rsp_strdup(o->key_file))))
    return RSP_E_NOMEM;
  if (o->pinned_spki_len) {
    if (!o->pinned_spki || !(c->pin = rsp_malloc(o->pinned_spki_len))) return RSP_E_NOMEM;
    memcpy(c->pin, o->pinned_spki, o->pinned_spki_len);
    c->pin_len = o->pinned_spki_len;
  }
  return RSP_OK;
}

rsp_err_t rsp_net_coap_client_new(const struct rsp_net_coap_client_options *opt,
                                  struct rsp_net_coap_client **out) {
  rsp_err_t rc = RSP_E_INVALID_ARG;
  struct rsp_net_coap_client *c = NULL;
  if (!opt || !out) goto out;
  rsp__net_coap_init();
  rc = RSP_E_NOMEM;
  if (!(c = rsp_calloc(1, sizeof *c)) || !(c->ctx = coap_new_context(NULL))) goto out;
  c->timeout_ms = opt->timeout_ms ? opt->timeout_ms : RSP_NET_COAP_DEFAULT_TIMEOUT_MS;
  c->max_response_body =
      opt->max_response_body ? opt->max_response_body : RSP_NET_COAP_MAX_RESPONSE_BODY;
  if ((rc = parse_url(c, opt->url)) != RSP_OK || (rc = copy_credentials(c, opt)) != RSP_OK)
    goto out;
  coap_set_app_data(c->ctx, c);
  coap_context_set_block_mode(c->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_response_handler(c->ctx, on_response);
  coap_register_nack_handler(c->ctx, on_nack);
  coap_register_event_handler(c->ctx, on_event);
  *out = c;
  c = NULL;
out:
  rsp_net_coap_client_destroy(c);
  return rc;
}

void rsp_net_coap_client_destroy(struct rsp_net_coap_client *c) {
  if (!c) return;
  close_session(c);
  if (c->ctx) coap_free_context(c->ctx);
  memset(c->psk_key, 0, sizeof c->psk_key);
  X509_STORE_free(c->anchors);
  rsp_free(c->cert_file);
  rsp_free(c->key_file);
  rsp_free(c->pin);
  rsp_free(c);
}

void rsp_net_coap_client_stats(const struct rsp_net_coap_client *c,
                               struct rsp_net_coap_client_stats *out) {
  memset(out, 0, sizeof *out);
  if (!c) return;
  out->requests = c->requests;
  out->sessions = c->sessions;
}
