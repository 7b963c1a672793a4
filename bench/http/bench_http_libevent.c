/* bench/http candidate: libevent 2.1 evhttp over bufferevent_openssl (test-only).
 *
 * One event_base + evhttp per thread, all accepting on the same listening socket. Every POST gets
 * the 1 kB JSON body; anything else gets 405. SIGTERM prints the TLS counters and stops.
 * Usage: bench_http_libevent cert.pem key.pem port [threads]
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "bench_common.h"

static SSL_CTX *tls;
static int listen_fd;

static struct bufferevent *new_conn(struct event_base *base, void *arg) {
  SSL *ssl = SSL_new(tls);
  return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                        BEV_OPT_CLOSE_ON_FREE);
}

static void on_request(struct evhttp_request *req, void *arg) {
  if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
    evhttp_send_error(req, 405, NULL);
    return;
  }
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
  evbuffer_add_reference(evhttp_request_get_output_buffer(req), bench_body, BENCH_BODY_LEN, NULL,
                         NULL);
  evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  bench_tls_stats(tls);
  exit(0);
}

static void *serve(void *arg) {
  struct event_base *base = event_base_new();
  struct evhttp *http = base ? evhttp_new(base) : NULL;
  if (!http || !evhttp_accept_socket_with_handle(http, listen_fd)) {
    fprintf(stderr, "bench_http_libevent: cannot start a loop\n");
    exit(1);
  }
  evhttp_set_bevcb(http, new_conn, NULL);
  evhttp_set_gencb(http, on_request, NULL);
  evhttp_set_allowed_methods(http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
  if (arg) {
    struct event *ev = evsignal_new(base, SIGTERM, on_signal, NULL);
    event_add(ev, NULL);
  }
  event_base_dispatch(base);
  return NULL;
}

int main(int argc, char **argv) {
  struct bench_args a;
  bench_args_parse(argc, argv, &a);
  bench_body_init();
  evthread_use_pthreads();
  tls = bench_tls_ctx(a.cert, a.key);
  listen_fd = bench_listen(a.port);
  for (int i = 1; i < a.threads; i++) {
    pthread_t t;
    pthread_create(&t, NULL, serve, NULL);
  }
  serve(&a);
  return 0;
}
