/* openrsp: HTTPS server and client (lib/net), the transport of ES9+, ES2+ and ESipa.
 *
 * The server is libevent 2.1's evhttp over bufferevent_openssl, the client is libcurl with its
 * OpenSSL backend (docs/adr/0005). Both speak HTTP/1.1 over TLS 1.2 or 1.3 only, with session
 * resumption and keep-alive on. No OpenSSL, libevent or curl type appears in this header.
 *
 * Server threading model: `threads` event-loop threads (default 1) accept on one listening socket;
 * each owns its connections for their whole life and runs the handler for their requests, one at
 * a time, on that thread. A handler therefore blocks only the connections of its own loop, must
 * return reasonably quickly, and must be thread-safe when threads > 1. Ten thousand polling
 * devices are ten thousand mostly idle connections spread over the loops (mind RLIMIT_NOFILE),
 * not ten thousand threads.
 */
#ifndef RSP_NET_HTTP_H
#define RSP_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"

/* Default hard caps. A request body over the server's cap is answered 413 without reaching the
 * handler; a response body over the client's cap fails the call with RSP_E_BUF_CAP. 8 MiB holds
 * the base64 JSON form of a large bound profile package. */
#define RSP_NET_MAX_REQUEST_BODY (1u << 20)
#define RSP_NET_MAX_RESPONSE_BODY (8u << 20)
/* Cap on the request line and headers together (evhttp answers 400 beyond it). */
#define RSP_NET_MAX_HEADERS_SIZE 16384
/* Cap on the extra response headers a handler adds (names and values together). */
#define RSP_NET_MAX_RESPONSE_HEADERS 4096
#define RSP_NET_DEFAULT_TIMEOUT_S 30
#define RSP_NET_MAX_THREADS 64

/* ---- server ---------------------------------------------------------------------------------- */

/* What the handler sees of one request. Every pointer is valid only during the handler call. */
struct rsp_net_request {
  const char *method; /* "POST", "GET", ... */
  /* The request target as received, query string included ("/v1/devices?limit=10"), not
   * percent-decoded. */
  const char *path;
  const char *content_type;   /* Content-Type, NULL when absent */
  const char *admin_protocol; /* X-Admin-Protocol (SGP.22 §6.5.1), NULL when absent */
  const char *user_agent;     /* User-Agent, NULL when absent */
  /* Authorization and X-API-Key as received (the operator API's key), NULL when absent. Never
   * logged by lib/net. */
  const char *authorization;
  const char *api_key;
  /* RFC 2253 subject of the client certificate, verified against the server's client CA during
   * the handshake; NULL when the client sent none. */
  const char *client_subject;
  const char *peer; /* "address:port" of the client */
  const uint8_t *body;
  size_t body_len;
};

/* What the handler answers. The server prepares it as 200 with no content type, no extra header
 * and an empty body capped at the server's max_response_body. */
struct rsp_net_response {
  int status;
  char content_type[128]; /* empty: no Content-Type header */
  struct rsp_buf body;
  struct rsp_buf headers_; /* extra headers as "name\0value\0" pairs; use rsp_net_response_header */
};

/* Adds a response header (copied). Names are tokens, values printable without CR or LF;
 * RSP_E_INVALID_ARG otherwise, RSP_E_BUF_CAP past RSP_NET_MAX_RESPONSE_HEADERS. */
rsp_err_t rsp_net_response_header(struct rsp_net_response *res, const char *name,
                                  const char *value);
/* Sets the status and content type (NULL: none) and appends the body. */
rsp_err_t rsp_net_response_set(struct rsp_net_response *res, int status, const char *content_type,
                               const void *body, size_t len);

/* Fills `res` for `req`. A non-OK return discards `res` and answers 500 with an empty body. */
typedef rsp_err_t (*rsp_net_handler_fn)(void *ctx, const struct rsp_net_request *req,
                                        struct rsp_net_response *res);

struct rsp_net_server_options {
  const char *address;   /* numeric address to bind, e.g. "127.0.0.1", "::"; NULL: "127.0.0.1" */
  uint16_t port;         /* 0: an ephemeral port, see rsp_net_server_port */
  const char *cert_file; /* PEM certificate, optionally followed by its chain */
  const char *key_file;  /* PEM private key */
  /* Mutual TLS (ES2+): when set, clients are asked for a certificate, which must chain to a CA
   * in this PEM file; a client that sends none is refused when require_client_cert is true. */
  const char *client_ca_file;
  bool require_client_cert;
  size_t max_request_body;   /* 0: RSP_NET_MAX_REQUEST_BODY */
  size_t max_response_body;  /* 0: RSP_NET_MAX_RESPONSE_BODY */
  unsigned threads;          /* event-loop threads; 0: 1 */
  unsigned timeout_s;        /* read, write and keep-alive idle timeout; 0: 30 s */
  const char *log_component; /* access log component (copied); NULL: "http" */
  rsp_net_handler_fn handler;
  void *handler_ctx;
};

struct rsp_net_server;

struct rsp_net_server_stats {
  unsigned long connections; /* TCP connections accepted */
  unsigned long handshakes;  /* TLS handshakes completed */
  unsigned long resumed;     /* of which resumed a previous session */
  unsigned long requests;    /* requests handed to the handler */
};

/* Sets up TLS and binds the socket; nothing is served until rsp_net_server_start. Errors:
 * RSP_E_INVALID_ARG, RSP_E_TLS (certificate, key or CA file unusable), RSP_E_NET (bind). */
rsp_err_t rsp_net_server_new(const struct rsp_net_server_options *opt, struct rsp_net_server **out);
/* The bound port (the ephemeral one when port 0 was asked for). */
uint16_t rsp_net_server_port(const struct rsp_net_server *srv);
/* Starts the event-loop threads. */
rsp_err_t rsp_net_server_start(struct rsp_net_server *srv);
/* Stops accepting, lets each loop finish the handler call it is in, joins the threads and closes
 * every connection (requests in flight get no answer). Idempotent; NULL-safe. */
void rsp_net_server_stop(struct rsp_net_server *srv);
/* Stops if needed and frees everything. NULL-safe. */
void rsp_net_server_destroy(struct rsp_net_server *srv);
void rsp_net_server_stats(const struct rsp_net_server *srv, struct rsp_net_server_stats *out);

/* ---- client ---------------------------------------------------------------------------------- */

struct rsp_net_header {
  const char *name;
  const char *value;
};

/* Trust: the server is always authenticated, by its chain, by its pinned key, or by both.
 *   - ca_file or ca_pem (one of them, not both): the anchors its certificate chain must lead to.
 *     An anchor may be the server's own leaf certificate (partial chains are accepted), and the
 *     host name in the URL must match the certificate.
 *   - pinned_spki: the DER SubjectPublicKeyInfo the server's key must be; the TLS handshake
 *     fails (RSP_E_TLS) when it is another key. Given alone (no ca_file, no ca_pem), the chain
 *     and the host name are not checked and the pin alone authenticates the server: this is
 *     SGP.32's trustedEimPkTls, the eIM's TLS key pinned by the eUICC's eIM configuration.
 * With neither anchors nor a pin, rsp_net_client_new fails RSP_E_INVALID_ARG: there is no
 * unverified mode. */
struct rsp_net_client_options {
  const char *ca_file; /* PEM trust anchors (a file) */
  /* Trust anchors in memory (copied): PEM (one or more certificates), or the DER of one
   * certificate. */
  const void *ca_pem;
  size_t ca_pem_len;
  const uint8_t *pinned_spki; /* DER SubjectPublicKeyInfo of the server's key (copied) */
  size_t pinned_spki_len;
  const char *cert_file;       /* optional client certificate (PEM), for mutual TLS */
  const char *key_file;        /* its private key (PEM) */
  unsigned connect_timeout_ms; /* 0: 10 s */
  unsigned timeout_ms;         /* whole request; 0: 30 s */
  size_t max_response_body;    /* 0: RSP_NET_MAX_RESPONSE_BODY */
  const char *user_agent;      /* NULL: "openrsp" */
};

/* One call's answer. Free with rsp_net_client_response_free. */
struct rsp_net_client_response {
  int status;              /* HTTP status */
  char content_type[128];  /* empty when absent */
  char admin_protocol[64]; /* X-Admin-Protocol, empty when absent */
  struct rsp_buf body;
  char error[256]; /* on failure: what went wrong, for logs */
};

struct rsp_net_client;

struct rsp_net_client_stats {
  unsigned long requests;    /* completed exchanges */
  unsigned long connections; /* new connections opened (the rest reused one) */
};

/* A client keeps its connections and TLS sessions between calls. It is not thread-safe: use one
 * per thread. Errors: RSP_E_INVALID_ARG (among others: no trust anchor and no pin, both ca_file
 * and ca_pem, anchors or pin that do not parse), RSP_E_NOMEM. */
rsp_err_t rsp_net_client_new(const struct rsp_net_client_options *opt, struct rsp_net_client **out);
void rsp_net_client_destroy(struct rsp_net_client *c); /* NULL-safe */
/* POSTs `body` to the https:// `url` with the given headers (Content-Type among them, if any).
 * RSP_OK for any complete HTTP response, whatever its status, which is in res->status. Errors:
 * RSP_E_TLS (handshake, certificate, pinned key mismatch), RSP_E_NET (resolve, connect, reset,
 * timeout), RSP_E_BUF_CAP (response body over the cap), RSP_E_INVALID_ARG. */
rsp_err_t rsp_net_client_post(struct rsp_net_client *c, const char *url,
                              const struct rsp_net_header *headers, size_t n_headers,
                              const void *body, size_t len, struct rsp_net_client_response *res);
/* The same with another method: "GET" (no body sent), "POST", "PUT", "PATCH" or "DELETE". */
rsp_err_t rsp_net_client_request(struct rsp_net_client *c, const char *method, const char *url,
                                 const struct rsp_net_header *headers, size_t n_headers,
                                 const void *body, size_t len, struct rsp_net_client_response *res);
void rsp_net_client_response_init(struct rsp_net_client_response *res);
void rsp_net_client_response_free(struct rsp_net_client_response *res); /* idempotent */
void rsp_net_client_stats(const struct rsp_net_client *c, struct rsp_net_client_stats *out);

#endif
