/* The HTTPS server of lib/net: set-up, event-loop threads and shutdown (docs/adr/0005).
 *
 * One listening socket; each worker thread has its own event_base and evhttp with a listener on
 * that socket, so the kernel hands each new connection to one loop, which keeps it until it
 * closes. Every connection is a bufferevent_openssl made by new_connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "net_internal.h"

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_status = -1;

/* libevent's locking must be on before the first event_base exists, so that another thread
 * (rsp_net_server_stop) can wake a loop up. */
static void evthread_init(void) { evthread_status = evthread_use_pthreads(); }

static struct bufferevent *new_connection(struct event_base *base, void *arg) {
  struct rsp_net_server *srv = arg;
  SSL *ssl = SSL_new(srv->tls);
  struct bufferevent *bev;
  if (!ssl) return NULL;
  bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                       BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    SSL_free(ssl);
    return NULL;
  }
  /* Clients that close without a close_notify alert are common and harmless here: every
   * request's length is known from its headers. */
  bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  atomic_fetch_add(&srv->connections, 1);
  return bev;
}

/* Binds and listens on address:port; the socket is non-blocking and close-on-exec. TCP_NODELAY
 * set here is inherited by accepted sockets (Linux): evhttp writes headers and body as separate
 * TLS records, and Nagle would hold the second one for the peer's delayed ACK (40 ms). */
static rsp_err_t listen_on(const char *address, uint16_t port, int *fd_out, uint16_t *port_out) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  char service[8];
  int one = 1, fd = -1;
  rsp_err_t rc = RSP_E_NET;
  snprintf(service, sizeof service, "%u", (unsigned)port);
  if (getaddrinfo(address, service, &hints, &ai) != 0) {
    RSP_LOG_E("net", "not a numeric address: %s", address);
    rc = RSP_E_INVALID_ARG;
    goto out;
  }
  fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    RSP_LOG_E("net", "cannot listen on %s:%u: %s", address, (unsigned)port, strerror(errno));
    goto out;
  }
  *port_out = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                             : ((struct sockaddr_in *)&sa)->sin_port);
  *fd_out = fd;
  fd = -1;
  rc = RSP_OK;
out:
  if (fd >= 0) close(fd);
  if (ai) freeaddrinfo(ai);
  return rc;
}

static rsp_err_t worker_setup(struct rsp_net_server *srv, struct rsp__net_worker *w,
                              unsigned timeout_s) {
  struct evconnlistener *lev = NULL;
  w->srv = srv;
  if (!(w->base = event_base_new()) || !(w->http = evhttp_new(w->base))) return RSP_E_NOMEM;
  /* No LEV_OPT_CLOSE_ON_FREE: the workers share the socket, which the server closes itself. */
  lev = evconnlistener_new(w->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, 0, srv->fd);
  if (!lev) return RSP_E_NOMEM;
  if (!evhttp_bind_listener(w->http, lev)) {
    evconnlistener_free(lev);
    return RSP_E_NOMEM;
  }
  evhttp_set_bevcb(w->http, new_connection, srv);
  evhttp_set_gencb(w->http, rsp__net_on_request, srv);
  /* Every method reaches the handler, which decides between 404, 405 and an answer. */
  evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                          EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
  evhttp_set_max_body_size(w->http, (ev_ssize_t)srv->max_request_body);
  evhttp_set_max_headers_size(w->http, RSP_NET_MAX_HEADERS_SIZE);
  evhttp_set_timeout(w->http, (int)timeout_s);
  /* Over the body cap, read and discard the rest of the body before answering 413, so that the
   * client, still sending, gets the answer instead of a reset. */
  evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
  return RSP_OK;
}

static rsp_err_t check_options(const struct rsp_net_server_options *opt,
                               struct rsp_net_server **out) {
  if (!opt || !opt->cert_file || !opt->key_file || !opt->handler || !out) return RSP_E_INVALID_ARG;
  if (opt->require_client_cert && !opt->client_ca_file) return RSP_E_INVALID_ARG;
  if (opt->threads > RSP_NET_MAX_THREADS) return RSP_E_INVALID_ARG;
  pthread_once(&evthread_once, evthread_init);
  return evthread_status == 0 ? RSP_OK : RSP_E_INTERNAL;
}

rsp_err_t rsp_net_server_new(const struct rsp_net_server_options *opt,
                             struct rsp_net_server **out) {
  rsp_err_t rc = check_options(opt, out);
  struct rsp_net_server *srv = NULL;
  if (rc != RSP_OK) goto out;
  rc = RSP_E_NOMEM;
  if (!(srv = rsp_calloc(1, sizeof *srv))) goto out;
  srv->fd = -1;
  srv->n_workers = opt->threads ? opt->threads : 1;
  srv->max_request_body = opt->max_request_body ? opt->max_request_body : RSP_NET_MAX_REQUEST_BODY;
  srv->max_response_body =
      opt->max_response_body ? opt->max_response_body : RSP_NET_MAX_RESPONSE_BODY;
  snprintf(srv->component, sizeof srv->component, "%s",
           opt->log_component ? opt->log_component : "http");
  srv->handler = opt->handler;
  srv->handler_ctx = opt->handler_ctx;
  if (!(srv->workers = rsp_calloc(srv->n_workers, sizeof *srv->workers))) goto out;
  if ((rc = rsp__net_tls_server_ctx(opt, &srv->tls)) != RSP_OK) goto out;
  rc = listen_on(opt->address ? opt->address : "127.0.0.1", opt->port, &srv->fd, &srv->port);
  if (rc != RSP_OK) goto out;
  for (unsigned i = 0; i < srv->n_workers; i++)
    if ((rc = worker_setup(srv, &srv->workers[i],
                           opt->timeout_s ? opt->timeout_s : RSP_NET_DEFAULT_TIMEOUT_S)) != RSP_OK)
      goto out;
  *out = srv;
  srv = NULL;
out:
  rsp_net_server_destroy(srv);
  return rc;
}

uint16_t rsp_net_server_port(const struct rsp_net_server *srv) { return srv ? srv->port : 0; }

static void *worker_main(void *arg) {
  struct rsp__net_worker *w = arg;
  event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

rsp_err_t rsp_net_server_start(struct rsp_net_server *srv) {
  sigset_t all, old;
  rsp_err_t rc = RSP_OK;
  if (!srv || srv->state != RSP__NET_NEW) return RSP_E_STATE;
  /* The loop threads take no asynchronous signal, and SIGPIPE stays blocked there: a write to a
   * connection the client already closed fails with EPIPE instead of killing the process. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (unsigned i = 0; i < srv->n_workers; i++) {
    if (pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]) != 0) {
      rc = RSP_E_INTERNAL;
      break;
    }
    srv->workers[i].running = true;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  srv->state = RSP__NET_RUNNING;
  if (rc != RSP_OK)
    rsp_net_server_stop(srv);
  else
    RSP_LOG_I(srv->component, "listening on port %u (%u thread%s)", (unsigned)srv->port,
              srv->n_workers, srv->n_workers > 1 ? "s" : "");
  return rc;
}

void rsp_net_server_stop(struct rsp_net_server *srv) {
  if (!srv || srv->state != RSP__NET_RUNNING) return;
  for (unsigned i = 0; i < srv->n_workers; i++)
    if (srv->workers[i].running) event_base_loopbreak(srv->workers[i].base);
  for (unsigned i = 0; i < srv->n_workers; i++) {
    if (!srv->workers[i].running) continue;
    pthread_join(srv->workers[i].thread, NULL);
    srv->workers[i].running = false;
  }
  /* Freeing the evhttp closes its listener and every connection, in flight or idle; closing
   * the socket makes new clients fail at once instead of waiting in the backlog. libevent frees
   * a bufferevent through callbacks queued on its loop (finalizers, deferred callbacks holding a
   * reference), so each loop runs once more, here, to let them finish. */
  for (unsigned i = 0; i < srv->n_workers; i++) {
    if (srv->workers[i].http) evhttp_free(srv->workers[i].http);
    srv->workers[i].http = NULL;
    for (int round = 0; round < 8; round++)
      if (event_base_loop(srv->workers[i].base, EVLOOP_NONBLOCK) != 0) break;
  }
  close(srv->fd);
  srv->fd = -1;
  srv->state = RSP__NET_STOPPED;
  RSP_LOG_I(srv->component, "stopped (port %u)", (unsigned)srv->port);
}

void rsp_net_server_destroy(struct rsp_net_server *srv) {
  if (!srv) return;
  rsp_net_server_stop(srv);
  for (unsigned i = 0; srv->workers && i < srv->n_workers; i++) {
    if (srv->workers[i].http) evhttp_free(srv->workers[i].http);
    if (srv->workers[i].base) event_base_free(srv->workers[i].base);
  }
  rsp_free(srv->workers);
  if (srv->fd >= 0) close(srv->fd);
  SSL_CTX_free(srv->tls);
  rsp_free(srv);
}

void rsp_net_server_stats(const struct rsp_net_server *srv, struct rsp_net_server_stats *out) {
  memset(out, 0, sizeof *out);
  if (!srv) return;
  out->connections = atomic_load(&srv->connections);
  out->requests = atomic_load(&srv->requests);
  out->handshakes = (unsigned long)SSL_CTX_sess_accept_good(srv->tls);
  out->resumed = (unsigned long)SSL_CTX_sess_hits(srv->tls);
}
