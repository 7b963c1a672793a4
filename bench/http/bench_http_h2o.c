/* bench/http candidate: libh2o 2.2 with its own event loop (libh2o-evloop), OpenSSL (test-only).
 *
 * One h2o_evloop + context per thread, all accepting on the same listening socket. Every POST gets
 * the 1 kB JSON body; anything else is declined (404). SIGTERM prints the TLS counters and stops.
 * Usage: bench_http_h2o cert.pem key.pem port [threads]
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>

#include "bench_common.h"

static h2o_globalconf_t config;
static SSL_CTX *tls;
static int listen_fd;

struct worker {
  h2o_context_t ctx;
  h2o_accept_ctx_t accept;
};

static int on_request(h2o_handler_t *self, h2o_req_t *req) {
  static h2o_generator_t generator = {NULL, NULL};
  h2o_iovec_t body = h2o_iovec_init(bench_body, BENCH_BODY_LEN);
  if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) return -1;
  req->res.status = 200;
  req->res.reason = "OK";
  req->res.content_length = BENCH_BODY_LEN;
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                 H2O_STRLIT("application/json"));
  h2o_start_response(req, &generator);
  h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
  return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err) {
  struct worker *w = listener->data;
  h2o_socket_t *sock;
  if (err != NULL) return;
  if ((sock = h2o_evloop_socket_accept(listener)) != NULL) h2o_accept(&w->accept, sock);
}

static void *serve(void *arg) {
  struct worker *w = calloc(1, sizeof *w);
  h2o_evloop_t *loop = h2o_evloop_create();
  h2o_socket_t *sock;
  h2o_context_init(&w->ctx, loop, &config);
  w->accept.ctx = &w->ctx;
  w->accept.hosts = config.hosts;
  w->accept.ssl_ctx = tls;
  sock = h2o_evloop_socket_create(loop, listen_fd, H2O_SOCKET_FLAG_DONT_READ);
  sock->data = w;
  h2o_socket_read_start(sock, on_accept);
  while (h2o_evloop_run(loop, INT32_MAX) == 0) {
  }
  return NULL;
}

static void on_signal(int sig) {
  bench_tls_stats(tls);
  exit(0);
}

int main(int argc, char **argv) {
  struct bench_args a;
  h2o_hostconf_t *host;
  h2o_handler_t *handler;
  bench_args_parse(argc, argv, &a);
  bench_body_init();
  signal(SIGTERM, on_signal);
  h2o_config_init(&config);
  host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
  handler = h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof *handler);
  handler->on_req = on_request;
  tls = bench_tls_ctx(a.cert, a.key);
  /* HTTP/1.1 only, as wrk and nginx's baseline speak it; h2o would offer h2 through ALPN. */
  listen_fd = bench_listen(a.port);
  for (int i = 1; i < a.threads; i++) {
    pthread_t t;
    pthread_create(&t, NULL, serve, NULL);
  }
  serve(NULL);
  return 0;
}
