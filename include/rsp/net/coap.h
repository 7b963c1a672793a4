/* openrsp: CoAP over DTLS server and client (lib/net), the transport of ESipa's CoAP binding
 * (SGP.32 §6.2, docs/adr/0009).
 *
 * Both sides are libcoap 4.3 with its OpenSSL DTLS backend (Debian libcoap3-dev, library
 * libcoap-3-openssl). There is no plain coap:// mode: every exchange is DTLS, authenticated by a
 * pre-shared key (an identity -> key table on the server) or by certificates. Block-wise
 * transfer (RFC 7959) is libcoap's: a handler always sees a whole request body and answers a
 * whole response body. No libcoap or OpenSSL type appears in this header.
 *
 * Server threading model: one thread runs libcoap's I/O loop and calls the handler for each
 * request, one at a time. rsp_net_coap_server_stop, from any other thread, wakes it up.
 *
 * Codes are written as class * 100 + detail: 204 is 2.04 Changed, 413 is 4.13 Request Entity
 * Too Large. The handler answers with an HTTP-like status that the server maps (docs/adr/0009):
 *   200 with a body -> 2.05 Content, 200 without a body and 204 -> 2.04 Changed,
 *   400 -> 4.00 Bad Request, 404 -> 4.04 Not Found, 413 -> 4.13, anything else -> 5.00.
 */
#ifndef RSP_NET_COAP_H
#define RSP_NET_COAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"

/* Uri-Path of the ASN.1 binding, by analogy with HTTPS (unconfirmed, docs/adr/0009). */
#define RSP_NET_COAP_DEFAULT_PATH "gsma/rsp2/asn1"
/* Hard caps of a reassembled body: a request over the server's cap is answered 4.13 without
 * reaching the handler; a response over the client's cap fails the exchange RSP_E_BUF_CAP. */
#define RSP_NET_COAP_MAX_REQUEST_BODY (1u << 20)
#define RSP_NET_COAP_MAX_RESPONSE_BODY (8u << 20)
/* RFC 4279 allows longer, libcoap 4.3 does not. */
#define RSP_NET_COAP_PSK_IDENTITY_MAX 64
#define RSP_NET_COAP_PSK_KEY_MAX 64
#define RSP_NET_COAP_MAX_PSKS 4096
#define RSP_NET_COAP_DEFAULT_TIMEOUT_MS 30000
/* CoAP Content-Format 42, application/octet-stream (RFC 7252 §12.3). */
#define RSP_NET_COAP_FORMAT_OCTET_STREAM 42

/* Codes as class * 100 + detail. */
#define RSP_NET_COAP_CHANGED 204
#define RSP_NET_COAP_CONTENT 205
#define RSP_NET_COAP_BAD_REQUEST 400
#define RSP_NET_COAP_NOT_FOUND 404
#define RSP_NET_COAP_METHOD_NOT_ALLOWED 405
#define RSP_NET_COAP_INCOMPLETE 408
#define RSP_NET_COAP_TOO_LARGE 413
#define RSP_NET_COAP_INTERNAL_ERROR 500

/* One pre-shared key (RFC 4279 identity and key). */
struct rsp_net_coap_psk {
  char identity[RSP_NET_COAP_PSK_IDENTITY_MAX + 1];
  uint8_t key[RSP_NET_COAP_PSK_KEY_MAX];
  size_t key_len;
};

/* Reads a PSK table: one "identity hexkey" per line, '#' starts a comment, blank lines are
 * skipped. The file must not be readable by group or others (it holds keys). RSP_E_IO (cannot
 * read, or too open), RSP_E_INVALID_ARG (a bad line, logged with its number), RSP_E_NOMEM.
 * Free *out with rsp_free. */
rsp_err_t rsp_net_coap_psk_load(const char *path, struct rsp_net_coap_psk **out, size_t *n);

/* ---- server ---------------------------------------------------------------------------------- */

/* Handles one POST: `body` is the whole request, the answer is appended to `resp` (capped at
 * the server's max_response_body) and `status` is HTTP-like (see the mapping above). A non-OK
 * return answers 5.00 with no payload. */
typedef rsp_err_t (*rsp_net_coap_handler_fn)(void *ctx, const uint8_t *body, size_t len,
                                             struct rsp_buf *resp, int *status);

struct rsp_net_coap_server_options {
  const char *address; /* numeric UDP address to bind; NULL: "127.0.0.1" */
  uint16_t port;       /* 0: an ephemeral port, see rsp_net_coap_server_port */
  /* At least one of the two credentials. PSK: the table (copied). */
  const struct rsp_net_coap_psk *psk;
  size_t n_psk;
  /* Certificates: PEM certificate and key (the HTTPS listener's files). With client_ca_file,
   * every certificate-mode client must present a certificate chaining to it. */
  const char *cert_file;
  const char *key_file;
  const char *client_ca_file;
  const char *path;          /* Uri-Path served; NULL: RSP_NET_COAP_DEFAULT_PATH */
  size_t max_request_body;   /* 0: RSP_NET_COAP_MAX_REQUEST_BODY */
  size_t max_response_body;  /* 0: RSP_NET_COAP_MAX_RESPONSE_BODY */
  const char *log_component; /* access log component (copied); NULL: "coap" */
  rsp_net_coap_handler_fn handler;
  void *handler_ctx;
};

struct rsp_net_coap_server;

struct rsp_net_coap_server_stats {
  unsigned long requests; /* whole requests seen on the path (4.13 ones included) */
  unsigned long sessions; /* DTLS sessions established */
};

/* Sets up DTLS and binds the UDP socket. Errors: RSP_E_INVALID_ARG, RSP_E_TLS (a credential file
 * unusable), RSP_E_NET (bind), RSP_E_NOMEM. */
rsp_err_t rsp_net_coap_server_new(const struct rsp_net_coap_server_options *opt,
                                  struct rsp_net_coap_server **out);
uint16_t rsp_net_coap_server_port(const struct rsp_net_coap_server *srv);
/* Starts the I/O thread. */
rsp_err_t rsp_net_coap_server_start(struct rsp_net_coap_server *srv);
/* Wakes the I/O thread, lets it finish the handler call it is in and joins it. Sessions are
 * closed when the server is destroyed. Idempotent; NULL-safe. */
void rsp_net_coap_server_stop(struct rsp_net_coap_server *srv);
void rsp_net_coap_server_destroy(struct rsp_net_coap_server *srv); /* NULL-safe */
void rsp_net_coap_server_stats(const struct rsp_net_coap_server *srv,
                               struct rsp_net_coap_server_stats *out);

/* ---- client ---------------------------------------------------------------------------------- */

/* The server is always authenticated, with the same rules as the HTTPS client (http.h):
 *   - psk_identity + psk_key: DTLS-PSK; the key authenticates both sides.
 *   - else certificates: ca_file (anchors the chain must lead to; the URL's host must match the
 *     certificate), pinned_spki (DER SubjectPublicKeyInfo the server's key must be; alone, it is
 *     the only check), or both. cert_file/key_file: optional client certificate.
 * With no PSK, no anchors and no pin, rsp_net_coap_client_new fails RSP_E_INVALID_ARG. */
struct rsp_net_coap_client_options {
  const char *url; /* coaps://host[:port]/path (default port 5684) */
  const char *psk_identity;
  const uint8_t *psk_key;
  size_t psk_key_len;
  const char *ca_file;
  const uint8_t *pinned_spki; /* copied */
  size_t pinned_spki_len;
  const char *cert_file;
  const char *key_file;
  unsigned timeout_ms;      /* one whole exchange, handshake included; 0: 30 s */
  size_t max_response_body; /* 0: RSP_NET_COAP_MAX_RESPONSE_BODY */
};

struct rsp_net_coap_client;

struct rsp_net_coap_client_stats {
  unsigned long requests; /* completed exchanges */
  unsigned long sessions; /* DTLS sessions opened (the rest reused one) */
};

/* The client keeps its DTLS session between exchanges and opens a new one after a failure. Not
 * thread-safe. Errors: RSP_E_INVALID_ARG (URL, credentials), RSP_E_NET (resolve), RSP_E_NOMEM. */
rsp_err_t rsp_net_coap_client_new(const struct rsp_net_coap_client_options *opt,
                                  struct rsp_net_coap_client **out);
void rsp_net_coap_client_destroy(struct rsp_net_coap_client *c); /* NULL-safe */
/* POSTs `body` (Content-Format 42) and appends the answer's payload to `resp`; `code` gets the
 * answer's code (class * 100 + detail). RSP_OK for any answer, whatever its code. Errors:
 * RSP_E_TLS (handshake failed: wrong key, certificate or pin), RSP_E_NET (timeout, no answer),
 * RSP_E_BUF_CAP (answer over the cap), RSP_E_NOMEM. */
rsp_err_t rsp_net_coap_client_post(struct rsp_net_coap_client *c, const void *body, size_t len,
                                   struct rsp_buf *resp, int *code);
void rsp_net_coap_client_stats(const struct rsp_net_coap_client *c,
                               struct rsp_net_coap_client_stats *out);

#endif
