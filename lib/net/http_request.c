/* One request of the lib/net server: from evhttp to the handler and back, with the access log. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "net_internal.h"

static const char *method_name(enum evhttp_cmd_type cmd) {
  switch (cmd) {
  case EVHTTP_REQ_GET:
    return "GET";
  case EVHTTP_REQ_POST:
    return "POST";
  case EVHTTP_REQ_HEAD:
    return "HEAD";
  case EVHTTP_REQ_PUT:
    return "PUT";
  case EVHTTP_REQ_DELETE:
    return "DELETE";
  case EVHTTP_REQ_OPTIONS:
    return "OPTIONS";
  case EVHTTP_REQ_TRACE:
    return "TRACE";
  case EVHTTP_REQ_CONNECT:
    return "CONNECT";
  case EVHTTP_REQ_PATCH:
    return "PATCH";
  }
  return "?";
}

/* An HTTP token (RFC 9110 §5.6.2), the only thing allowed as a header name. */
static bool is_token(const char *s) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if (!*s) return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          strchr(extra, *s)))
      return false;
  return true;
}

/* Printable text and tabs only: a CR or LF would let a value inject headers. */
static bool is_field_value(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 ? *s != '\t' : *s == 0x7f) return false;
  return true;
}

rsp_err_t rsp_net_response_header(struct rsp_net_response *res, const char *name,
                                  const char *value) {
  rsp_err_t rc;
  size_t mark;
  if (!res || !name || !value || !is_token(name) || !is_field_value(value))
    return RSP_E_INVALID_ARG;
  mark = res->headers_.len;
  rc = rsp_buf_append(&res->headers_, name, strlen(name) + 1);
  if (rc == RSP_OK) rc = rsp_buf_append(&res->headers_, value, strlen(value) + 1);
  if (rc != RSP_OK) res->headers_.len = mark;
  return rc;
}

rsp_err_t rsp_net_response_set(struct rsp_net_response *res, int status, const char *content_type,
                               const void *body, size_t len) {
  if (!res || status < 100 || status > 599 || (len && !body)) return RSP_E_INVALID_ARG;
  if (content_type &&
      (!is_field_value(content_type) || strlen(content_type) >= sizeof res->content_type))
    return RSP_E_INVALID_ARG;
  res->status = status;
  snprintf(res->content_type, sizeof res->content_type, "%s", content_type ? content_type : "");
  return len ? rsp_buf_append(&res->body, body, len) : RSP_OK;
}

/* Fills what the handler sees; `subject` and `peer` are the caller's buffers. */
static void read_request(struct evhttp_request *req, struct rsp_net_request *r, char *subject,
                         size_t subject_size, char *peer, size_t peer_size) {
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  struct evhttp_connection *conn = evhttp_request_get_connection(req);
  struct evbuffer *body = evhttp_request_get_input_buffer(req);
  char *addr = NULL;
  ev_uint16_t port = 0;
  memset(r, 0, sizeof *r);
  r->method = method_name(evhttp_request_get_command(req));
  r->path = evhttp_request_get_uri(req);
  r->content_type = evhttp_find_header(in, "Content-Type");
  r->admin_protocol = evhttp_find_header(in, "X-Admin-Protocol");
  r->user_agent = evhttp_find_header(in, "User-Agent");
  r->authorization = evhttp_find_header(in, "Authorization");
  r->api_key = evhttp_find_header(in, "X-API-Key");
  if (rsp__net_tls_peer_subject(
          bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(conn)), subject,
          subject_size))
    r->client_subject = subject;
  evhttp_connection_get_peer(conn, &addr, &port);
  snprintf(peer, peer_size, "%s:%u", addr ? addr : "?", (unsigned)port);
  r->peer = peer;
  r->body_len = evbuffer_get_length(body);
  r->body = r->body_len ? evbuffer_pullup(body, -1) : (const uint8_t *)"";
}

static void free_body(const void *data, size_t len, void *arg) { rsp_free(arg); }

/* Moves the handler's answer into evhttp's reply: headers, then the body. */
static rsp_err_t write_response(struct evhttp_request *req, struct rsp_net_response *res) {
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  const char *p = (const char *)res->headers_.data;
  const char *end = p ? p + res->headers_.len : NULL;
  if (res->content_type[0] && evhttp_add_header(out, "Content-Type", res->content_type) != 0)
    return RSP_E_NOMEM;
  while (p < end) {
    const char *value = p + strlen(p) + 1;
    if (evhttp_add_header(out, p, value) != 0) return RSP_E_NOMEM;
    p = value + strlen(value) + 1;
  }
  if (res->body.len) {
    /* The body buffer goes to evhttp as it is, freed once written (a profile package can be
     * megabytes: no copy). */
    size_t len;
    uint8_t *data = rsp_buf_take(&res->body, &len);
    if (evbuffer_add_reference(evhttp_request_get_output_buffer(req), data, len, free_body, data) !=
        0) {
      rsp_free(data);
      return RSP_E_NOMEM;
    }
  }
  return RSP_OK;
}

static double ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void rsp__net_on_request(struct evhttp_request *req, void *arg) {
  struct rsp_net_server *srv = arg;
  struct rsp_net_request r;
  struct rsp_net_response res = {.status = 200};
  char subject[RSP__NET_SUBJECT_MAX], peer[80];
  struct timespec t0;
  rsp_err_t rc;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  atomic_fetch_add(&srv->requests, 1);
  read_request(req, &r, subject, sizeof subject, peer, sizeof peer);
  rsp_buf_init(&res.body, srv->max_response_body);
  rsp_buf_init(&res.headers_, RSP_NET_MAX_RESPONSE_HEADERS);
  rc = srv->handler(srv->handler_ctx, &r, &res);
  if (rc == RSP_OK && (res.status < 100 || res.status > 599)) rc = RSP_E_INVALID_ARG;
  if (rc == RSP_OK) rc = write_response(req, &res);
  if (rc != RSP_OK) {
    RSP_LOG_W(srv->component, "%s %s: handler failed: %s", r.method, r.path, rsp_strerror(rc));
    evhttp_clear_headers(evhttp_request_get_output_headers(req));
    evbuffer_drain(evhttp_request_get_output_buffer(req), (size_t)-1);
    res.status = 500;
  }
  RSP_LOG_I(srv->component, "%s \"%s %s\" %d %zu %zu %.1fms%s%s", r.peer, r.method, r.path,
            res.status, r.body_len, evbuffer_get_length(evhttp_request_get_output_buffer(req)),
            ms_since(&t0), r.client_subject ? " " : "", r.client_subject ? r.client_subject : "");
  evhttp_send_reply(req, res.status, NULL, NULL);
  rsp_buf_free(&res.body);
  rsp_buf_free(&res.headers_);
}
