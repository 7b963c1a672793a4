/* lib/net internals shared by the server's files (never included outside lib/net). */
#ifndef RSP_NET_INTERNAL_H
#define RSP_NET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/ssl.h>

#include "rsp/net/http.h"

/* Longest client subject passed to the handler (RFC 2253 text, truncated beyond). */
#define RSP__NET_SUBJECT_MAX 512

struct event_base;
struct evhttp;
struct evhttp_request;

/* One event loop: its base, its evhttp and the thread that runs them. */
struct rsp__net_worker {
  struct rsp_net_server *srv;
  struct event_base *base;
  struct evhttp *http;
  pthread_t thread;
  bool running;
};

enum rsp__net_state { RSP__NET_NEW, RSP__NET_RUNNING, RSP__NET_STOPPED };

struct rsp_net_server {
  SSL_CTX *tls;
  int fd;
  uint16_t port;
  size_t max_request_body, max_response_body;
  char component[32];
  rsp_net_handler_fn handler;
  void *handler_ctx;
  unsigned n_workers;
  struct rsp__net_worker *workers;
  enum rsp__net_state state;
  atomic_ulong connections;
  atomic_ulong requests;
};

/* Server TLS context from the options: TLS 1.2+, session cache and tickets, optional client
 * certificate verification. RSP_E_TLS with the reason logged when a file is unusable. */
rsp_err_t rsp__net_tls_server_ctx(const struct rsp_net_server_options *opt, SSL_CTX **out);
/* RFC 2253 subject of the peer certificate of `ssl` into `out`; false when there is none. */
bool rsp__net_tls_peer_subject(SSL *ssl, char *out, size_t size);

/* evhttp's request callback: runs the handler and sends the answer (arg is the server). */
void rsp__net_on_request(struct evhttp_request *req, void *arg);

#endif
