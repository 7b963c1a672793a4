/* The CoAP/DTLS server of lib/net (docs/adr/0009): one libcoap context, one DTLS endpoint, one
 * resource answering POST, one I/O thread.
 *
 * The thread waits in poll() on libcoap's epoll descriptor and on an eventfd; stop writes the
 * eventfd, so another thread can end the loop at once. libcoap is not thread-safe: after start,
 * only the I/O thread touches the context until stop has joined it. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "coap_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"

#define POLL_FALLBACK_MS 100 /* without epoll in libcoap: how often the loop looks at `stop` */

enum srv_state { SRV_NEW, SRV_RUNNING, SRV_STOPPED };

struct rsp_net_coap_server {
  coap_context_t *ctx;
  uint16_t port;
  size_t max_request_body, max_response_body;
  char component[32];
  char path[128];
  rsp_net_coap_handler_fn handler;
  void *handler_ctx;
  struct rsp_net_coap_psk *psk;
  size_t n_psk;
  coap_bin_const_t psk_found; /* what the identity callback returns (libcoap copies it) */
  /* libcoap reads the credential files at every handshake through these pointers */
  char *cert_file, *key_file, *client_ca_file;
  int wake_fd;
  pthread_t thread;
  enum srv_state state;
  atomic_bool stopping;
  atomic_ulong requests, sessions;
};

/* ---- one request ----------------------------------------------------------------------------- */

/* The handler's HTTP-like status as a CoAP code (the mapping of coap.h). */
static int code_from_status(int status, size_t body_len) {
  switch (status) {
  case 200:
    return body_len ? RSP_NET_COAP_CONTENT : RSP_NET_COAP_CHANGED;
  case 204:
    return RSP_NET_COAP_CHANGED;
  case 400:
  case 404:
  case 413:
    return status;
  default:
    return RSP_NET_COAP_INTERNAL_ERROR;
  }
}

static coap_pdu_code_t pdu_code(int code) { return (coap_pdu_code_t)COAP_RESPONSE_CODE(code); }

static void release_body(coap_session_t *session, void *app_ptr) {
  (void)session;
  rsp_free(app_ptr);
}

static void peer_text(coap_session_t *session, char *out, size_t size) {
  const coap_address_t *a = coap_session_get_addr_remote(session);
  unsigned char buf[INET6_ADDRSTRLEN + 16];
  size_t n = a ? coap_print_addr(a, buf, sizeof buf) : 0;
  snprintf(out, size, "%.*s", (int)n, n ? (const char *)buf : "?");
}

/* Runs the handler; *code and the response payload (rsp) come out. */
static void run_handler(struct rsp_net_coap_server *srv, const uint8_t *body, size_t len,
                        struct rsp_buf *rsp, int *code) {
  int status = 500;
  rsp_err_t rc = srv->handler(srv->handler_ctx, body, len, rsp, &status);
  if (rc != RSP_OK) {
    RSP_LOG_W(srv->component, "POST /%s: handler failed: %s", srv->path, rsp_strerror(rc));
    rsp_buf_reset(rsp);
    *code = RSP_NET_COAP_INTERNAL_ERROR;
    return;
  }
  *code = code_from_status(status, rsp->len);
  if (*code >= 400) rsp_buf_reset(rsp); /* errors carry no ESipa payload */
}

/* Puts the payload on the response (block-wise by libcoap when it is large). */
static bool attach_payload(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                           coap_pdu_t *resp, const coap_string_t *query, struct rsp_buf *rsp) {
  size_t len;
  uint8_t *data;
  if (!rsp->len) return true;
  data = rsp_buf_take(rsp, &len);
  if (!coap_add_data_large_response(res, session, req, resp, query,
                                    RSP_NET_COAP_FORMAT_OCTET_STREAM, -1, 0, len, data,
                                    release_body, data)) {
    rsp_free(data);
    return false;
  }
  return true;
}

/* 4.13 with Size1, the largest body accepted (RFC 7959 §2.9.3). */
static int refuse_too_large(struct rsp_net_coap_server *srv, coap_pdu_t *resp, const char *peer,
                            size_t total) {
  uint8_t size1[4];
  RSP_LOG_W(srv->component, "%s: request of %zu bytes over the cap of %zu", peer, total,
            srv->max_request_body);
  coap_add_option(resp, COAP_OPTION_SIZE1,
                  coap_encode_var_safe(size1, sizeof size1, (unsigned)srv->max_request_body),
                  size1);
  return RSP_NET_COAP_TOO_LARGE;
}

static double ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void on_post(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                    const coap_string_t *query, coap_pdu_t *resp) {
  struct rsp_net_coap_server *srv = coap_resource_get_userdata(res);
  const uint8_t *body = (const uint8_t *)"";
  size_t len = 0, offset = 0, total = 0, out_len = 0;
  struct rsp_buf rsp;
  char peer[INET6_ADDRSTRLEN + 16], code_text[8];
  struct timespec t0;
  int code;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  atomic_fetch_add(&srv->requests, 1);
  peer_text(session, peer, sizeof peer);
  rsp_buf_init(&rsp, srv->max_response_body);
  if (!coap_get_data_large(req, &len, &body, &offset, &total)) body = (const uint8_t *)"";
  if (total < len) total = len;
  if (total > srv->max_request_body) {
    code = refuse_too_large(srv, resp, peer, total);
  } else if (offset != 0 || len != total) {
    /* COAP_BLOCK_SINGLE_BODY hands over whole bodies only; anything else is not ours to guess */
    RSP_LOG_W(srv->component, "%s: partial body (%zu of %zu bytes at %zu)", peer, len, total,
              offset);
    code = RSP_NET_COAP_INCOMPLETE;
  } else {
    run_handler(srv, body, len, &rsp, &code);
    out_len = rsp.len;
  }
  coap_pdu_set_code(resp, pdu_code(code));
  if (!attach_payload(res, session, req, resp, query, &rsp)) {
    RSP_LOG_W(srv->component, "POST /%s: cannot attach %zu bytes", srv->path, out_len);
    coap_pdu_set_code(resp, pdu_code(code = RSP_NET_COAP_INTERNAL_ERROR));
    out_len = 0;
  }
  rsp__net_coap_code_text(code, code_text);
  RSP_LOG_I(srv->component, "%s \"POST /%s\" %s %zu %zu %.1fms", peer, srv->path, code_text, total,
            out_len, ms_since(&t0));
  rsp_buf_free(&rsp);
}

/* ---- DTLS credentials ------------------------------------------------------------------------ */

/* The key of a client's PSK identity; NULL (handshake refused) for an unknown identity. */
static const coap_bin_const_t *psk_for_identity(coap_bin_const_t *identity, coap_session_t *session,
                                                void *arg) {
  struct rsp_net_coap_server *srv = arg;
  (void)session;
  for (size_t i = 0; identity && i < srv->n_psk; i++) {
    const struct rsp_net_coap_psk *p = &srv->psk[i];
    if (strlen(p->identity) == identity->length &&
        memcmp(p->identity, identity->s, identity->length) == 0) {
      srv->psk_found.s = p->key;
      srv->psk_found.length = p->key_len;
      return &srv->psk_found;
    }
  }
  RSP_LOG_W(srv->component, "DTLS handshake refused: unknown PSK identity '%.*s'",
            identity ? (int)identity->length : 0, identity ? (const char *)identity->s : "");
  return NULL;
}

static rsp_err_t setup_psk(struct rsp_net_coap_server *srv,
                           const struct rsp_net_coap_server_options *opt) {
  coap_dtls_spsk_t s;
  if (!(srv->psk = rsp_calloc(opt->n_psk, sizeof *srv->psk))) return RSP_E_NOMEM;
  memcpy(srv->psk, opt->psk, opt->n_psk * sizeof *srv->psk);
  srv->n_psk = opt->n_psk;
  memset(&s, 0, sizeof s);
  s.version = COAP_DTLS_SPSK_SETUP_VERSION;
  s.validate_id_call_back = psk_for_identity;
  s.id_call_back_arg = srv;
  if (!coap_context_set_psk2(srv->ctx, &s)) {
    RSP_LOG_E(srv->component, "libcoap refused the PSK set-up");
    return RSP_E_TLS;
  }
  return RSP_OK;
}

static rsp_err_t setup_pki(struct rsp_net_coap_server *srv,
                           const struct rsp_net_coap_server_options *opt) {
  coap_dtls_pki_t p;
  if (!(srv->cert_file = rsp_strdup(opt->cert_file)) ||
      !(srv->key_file = rsp_strdup(opt->key_file)) ||
      (opt->client_ca_file && !(srv->client_ca_file = rsp_strdup(opt->client_ca_file))))
    return RSP_E_NOMEM;
  memset(&p, 0, sizeof p);
  p.version = COAP_DTLS_PKI_SETUP_VERSION;
  /* With a client CA every certificate-mode client must show a certificate that chains to it
   * (libcoap 4.3 cannot ask for an optional one). */
  p.verify_peer_cert = srv->client_ca_file != NULL;
  p.pki_key.key_type = COAP_PKI_KEY_PEM;
  p.pki_key.key.pem.public_cert = srv->cert_file;
  p.pki_key.key.pem.private_key = srv->key_file;
  p.pki_key.key.pem.ca_file = srv->client_ca_file;
  if (!coap_context_set_pki(srv->ctx, &p)) {
    RSP_LOG_E(srv->component, "DTLS certificate %s, key %s%s%s: unusable", opt->cert_file,
              opt->key_file, opt->client_ca_file ? ", client CA " : "",
              opt->client_ca_file ? opt->client_ca_file : "");
    return RSP_E_TLS;
  }
  return RSP_OK;
}

static int on_event(coap_session_t *session, const coap_event_t event) {
  struct rsp_net_coap_server *srv = coap_get_app_data(coap_session_get_context(session));
  char peer[INET6_ADDRSTRLEN + 16];
  if (event == COAP_EVENT_DTLS_CONNECTED) {
    atomic_fetch_add(&srv->sessions, 1);
  } else if (event == COAP_EVENT_DTLS_ERROR) {
    peer_text(session, peer, sizeof peer);
    RSP_LOG_W(srv->component, "%s: DTLS handshake failed", peer);
  }
  return 0;
}

/* ---- set-up ---------------------------------------------------------------------------------- */

/* The port libcoap bound, from its endpoint text ("127.0.0.1:5684 DTLS", "[::1]:5684 DTLS"). */
static uint16_t endpoint_port(coap_endpoint_t *ep) {
  const char *s = coap_endpoint_str(ep);
  const char *space = s ? strchr(s, ' ') : NULL;
  const char *colon = s ? strrchr(s, ':') : NULL;
  unsigned long v = 0;
  if (!colon || (space && colon > space)) return 0;
  for (const char *p = colon + 1; *p >= '0' && *p <= '9'; p++)
    v = v * 10 + (unsigned long)(*p - '0');
  return v <= 65535 ? (uint16_t)v : 0;
}

static rsp_err_t bind_endpoint(struct rsp_net_coap_server *srv, const char *address,
                               uint16_t port) {
  coap_address_t a;
  coap_endpoint_t *ep;
  rsp_err_t rc = rsp__net_coap_resolve(address, port, true, &a);
  if (rc != RSP_OK) return rc;
  if (!(ep = coap_new_endpoint(srv->ctx, &a, COAP_PROTO_DTLS)) ||
      !(srv->port = endpoint_port(ep))) {
    RSP_LOG_E(srv->component, "cannot listen on udp %s:%u", address, (unsigned)port);
    return RSP_E_NET;
  }
  return RSP_OK;
}

static rsp_err_t add_resource(struct rsp_net_coap_server *srv) {
  /* libcoap keeps the path it is given: a copy of its own, freed with the resource. */
  coap_str_const_t *path = coap_new_str_const((const uint8_t *)srv->path, strlen(srv->path));
  coap_resource_t *r = path ? coap_resource_init(path, COAP_RESOURCE_FLAGS_RELEASE_URI) : NULL;
  if (!r) {
    coap_delete_str_const(path);
    return RSP_E_NOMEM;
  }
  coap_resource_set_userdata(r, srv);
  coap_register_request_handler(r, COAP_REQUEST_POST, on_post);
  coap_add_resource(srv->ctx, r);
  return RSP_OK;
}

static rsp_err_t check_options(const struct rsp_net_coap_server_options *opt) {
  if (!opt || !opt->handler) return RSP_E_INVALID_ARG;
  if (!opt->n_psk && !opt->cert_file) {
    RSP_LOG_E("coap", "CoAP server: no credential (PSK table or certificate): DTLS is required");
    return RSP_E_INVALID_ARG;
  }
  if ((opt->n_psk && !opt->psk) || opt->n_psk > RSP_NET_COAP_MAX_PSKS) return RSP_E_INVALID_ARG;
  if (!opt->cert_file != !opt->key_file || (opt->client_ca_file && !opt->cert_file))
    return RSP_E_INVALID_ARG;
  if (opt->path && (!opt->path[0] || opt->path[0] == '/' || strlen(opt->path) >= 128))
    return RSP_E_INVALID_ARG;
  return RSP_OK;
}

static void fill_settings(struct rsp_net_coap_server *srv,
                          const struct rsp_net_coap_server_options *opt) {
  srv->wake_fd = -1;
  srv->max_request_body =
      opt->max_request_body ? opt->max_request_body : RSP_NET_COAP_MAX_REQUEST_BODY;
  srv->max_response_body =
      opt->max_response_body ? opt->max_response_body : RSP_NET_COAP_MAX_RESPONSE_BODY;
  snprintf(srv->component, sizeof srv->component, "%s",
           opt->log_component ? opt->log_component : "coap");
  snprintf(srv->path, sizeof srv->path, "%s", opt->path ? opt->path : RSP_NET_COAP_DEFAULT_PATH);
  srv->handler = opt->handler;
  srv->handler_ctx = opt->handler_ctx;
}

rsp_err_t rsp_net_coap_server_new(const struct rsp_net_coap_server_options *opt,
                                  struct rsp_net_coap_server **out) {
  rsp_err_t rc = check_options(opt);
  struct rsp_net_coap_server *srv = NULL;
  if (rc != RSP_OK || !out) goto out;
  rsp__net_coap_init();
  rc = RSP_E_NOMEM;
  if (!(srv = rsp_calloc(1, sizeof *srv))) goto out;
  fill_settings(srv, opt);
  if ((srv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
      !(srv->ctx = coap_new_context(NULL)))
    goto out;
  coap_set_app_data(srv->ctx, srv);
  coap_context_set_block_mode(srv->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_event_handler(srv->ctx, on_event);
  if (opt->n_psk && (rc = setup_psk(srv, opt)) != RSP_OK) goto out;
  if (opt->cert_file && (rc = setup_pki(srv, opt)) != RSP_OK) goto out;
  if ((rc = add_resource(srv)) != RSP_OK) goto out;
  rc = bind_endpoint(srv, opt->address ? opt->address : "127.0.0.1", opt->port);
  if (rc != RSP_OK) goto out;
  *out = srv;
  srv = NULL;
out:
  rsp_net_coap_server_destroy(srv);
  return rc;
}

uint16_t rsp_net_coap_server_port(const struct rsp_net_coap_server *srv) {
  return srv ? srv->port : 0;
}

/* ---- the I/O thread -------------------------------------------------------------------------- */

/* Waits for libcoap's sockets or the wake-up, at most until libcoap's next timer. */
static bool wait_io(struct rsp_net_coap_server *srv, int coap_fd) {
  coap_tick_t now;
  coap_ticks(&now);
  unsigned timeout = coap_io_prepare_epoll(srv->ctx, now);
  struct pollfd fds[2] = {{.fd = coap_fd, .events = POLLIN},
                          {.fd = srv->wake_fd, .events = POLLIN}};
  int n = poll(fds, 2, timeout ? (int)timeout : -1);
  if (n < 0 && errno != EINTR) {
    RSP_LOG_E(srv->component, "poll: %s", strerror(errno));
    return false;
  }
  return !(fds[1].revents & POLLIN);
}

static void *io_main(void *arg) {
  struct rsp_net_coap_server *srv = arg;
  int coap_fd = coap_context_get_coap_fd(srv->ctx);
  while (!atomic_load(&srv->stopping)) {
    if (coap_fd >= 0) {
      if (!wait_io(srv, coap_fd)) break;
      coap_io_process(srv->ctx, COAP_IO_NO_WAIT);
    } else if (coap_io_process(srv->ctx, POLL_FALLBACK_MS) < 0) {
      RSP_LOG_E(srv->component, "libcoap I/O failed");
      break;
    }
  }
  return NULL;
}

rsp_err_t rsp_net_coap_server_start(struct rsp_net_coap_server *srv) {
  sigset_t all, old;
  if (!srv || srv->state != SRV_NEW) return RSP_E_STATE;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&srv->thread, NULL, io_main, srv);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0) {
    RSP_LOG_E(srv->component, "cannot start the I/O thread: %s", strerror(err));
    return RSP_E_INTERNAL;
  }
  srv->state = SRV_RUNNING;
  RSP_LOG_I(srv->component, "listening on udp port %u (DTLS, POST /%s)", (unsigned)srv->port,
            srv->path);
  return RSP_OK;
}

void rsp_net_coap_server_stop(struct rsp_net_coap_server *srv) {
  uint64_t one = 1;
  if (!srv || srv->state != SRV_RUNNING) return;
  atomic_store(&srv->stopping, true);
  if (write(srv->wake_fd, &one, sizeof one) != (ssize_t)sizeof one)
    RSP_LOG_W(srv->component, "wake-up: %s", strerror(errno));
  pthread_join(srv->thread, NULL);
  srv->state = SRV_STOPPED;
  RSP_LOG_I(srv->component, "stopped (udp port %u)", (unsigned)srv->port);
}

void rsp_net_coap_server_destroy(struct rsp_net_coap_server *srv) {
  if (!srv) return;
  rsp_net_coap_server_stop(srv);
  if (srv->ctx) coap_free_context(srv->ctx);
  if (srv->wake_fd >= 0) close(srv->wake_fd);
  rsp_free(srv->cert_file);
  rsp_free(srv->key_file);
  rsp_free(srv->client_ca_file);
  if (srv->psk) {
    memset(srv->psk, 0, srv->n_psk * sizeof *srv->psk);
    rsp_free(srv->psk);
  }
  rsp_free(srv);
}

void rsp_net_coap_server_stats(const struct rsp_net_coap_server *srv,
                               struct rsp_net_coap_server_stats *out) {
  memset(out, 0, sizeof *out);
  if (!srv) return;
  out->requests = atomic_load(&srv->requests);
  out->sessions = atomic_load(&srv->sessions);
}
