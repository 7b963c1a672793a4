/* The eIM's operator API (include/rsp/eim/api.h): routing, the JSON answers, request bodies and
 * query strings, and the health route. The device routes are in api_devices.c, the operation,
 * bulk and audit routes in api_ops.c. Every input is checked before the store sees it: unknown
 * keys and query parameters are refused, so a typo never silently changes a request. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/text.h"
#include "rsp/msg/base64.h"
#include "api_internal.h"

#define API_DETAIL_MAX 512
/* Path templates and segments: "/v1/devices/{eid}/add-initial-eim" has 4 segments. */
#define API_MAX_SEGMENTS 8
#define API_PATH_MAX 2048

/* ---- answers --------------------------------------------------------------------------------- */

struct sink {
  struct rsp_buf *out;
  rsp_err_t rc;
};

static int append_cb(const char *buffer, size_t size, void *data) {
  struct sink *s = data;
  s->rc = rsp_buf_append(s->out, buffer, size);
  return s->rc == RSP_OK ? 0 : -1;
}

/* Appends the compact JSON text of `v` and a newline; RSP_E_BUF_CAP past the cap. */
static rsp_err_t dump(json_t *v, struct rsp_buf *out) {
  struct sink s = {out, RSP_OK};
  size_t mark = out->len;
  if (json_dump_callback(v, append_cb, &s, JSON_COMPACT) != 0 && s.rc == RSP_OK) s.rc = RSP_E_NOMEM;
  if (s.rc == RSP_OK) s.rc = rsp_buf_append_byte(out, '\n');
  if (s.rc != RSP_OK) out->len = mark;
  return s.rc;
}

/* Makes `s` safe as a JSON string: a detail may quote the client's bytes (a path, a query
 * parameter) or be cut inside a character, so every byte that is no part of a complete UTF-8
 * character, and every control character, becomes '?'. */
static void sanitize(char *s) {
  unsigned char *p = (unsigned char *)s;
  while (*p) {
    size_t n = *p < 0x80             ? 1
               : (*p & 0xE0) == 0xC0 ? 2
               : (*p & 0xF0) == 0xE0 ? 3
               : (*p & 0xF8) == 0xF0 ? 4
                                     : 0;
    if (n == 1 && (*p < 0x20 || *p == 0x7f)) *p = '?';
    if (n > 1 && (strnlen((const char *)p, n) < n || !rsp_utf8_valid(p, n, false))) n = 0;
    if (n == 0) {
      *p = '?';
      n = 1;
    }
    p += n;
  }
}

rsp_err_t rsp__eim_api_error(struct rsp__eim_api_ctx *c, int status, const char *code,
                             const char *fmt, ...) {
  char detail[API_DETAIL_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  sanitize(detail);
  json_t *e = json_pack("{s:s, s:s}", "error", code, "detail", detail);
  if (!e) return RSP_E_NOMEM;
  rsp_err_t rc = dump(e, c->resp);
  json_decref(e);
  if (rc == RSP_OK) *c->status = status;
  RSP_LOG_D(RSP__EIM_API_COMP, "%s %s: %d %s: %s", c->req->method, c->req->path, status, code,
            detail);
  return rc;
}

rsp_err_t rsp__eim_api_reply(struct rsp__eim_api_ctx *c, int status, json_t *body) {
  if (!body) return RSP_E_NOMEM;
  rsp_err_t rc = dump(body, c->resp);
  json_decref(body);
  if (rc == RSP_OK) *c->status = status;
  return rc;
}

rsp_err_t rsp__eim_api_store_error(struct rsp__eim_api_ctx *c, rsp_err_t rc, const char *what) {
  switch (rc) {
  case RSP_E_NOT_FOUND:
    return rsp__eim_api_error(c, 404, "not_found", "%s not found", what);
  case RSP_E_EXISTS:
    return rsp__eim_api_error(c, 409, "exists", "%s exists already", what);
  case RSP_E_STATE:
    return rsp__eim_api_error(c, 409, "state", "%s: not allowed in its current state", what);
  case RSP_E_INVALID_ARG:
    return rsp__eim_api_error(c, 400, "invalid_request", "%s: refused by the store", what);
  default:
    RSP_LOG_E(RSP__EIM_API_COMP, "%s %s: store: %s", c->req->method, c->req->path,
              rsp_strerror(rc));
    return rc == RSP_OK ? RSP_E_INTERNAL : rc;
  }
}

/* ---- request bodies -------------------------------------------------------------------------- */

bool rsp__eim_api_body(struct rsp__eim_api_ctx *c, size_t cap, json_t **out) {
  json_error_t err;
  *out = NULL;
  if (c->req->body_len > cap) {
    rsp__eim_api_error(c, 413, "too_large", "request body of %zu bytes; at most %zu here",
                       c->req->body_len, cap);
    return false;
  }
  if (c->req->body_len == 0) {
    rsp__eim_api_error(c, 400, "invalid_request", "a JSON object body is required");
    return false;
  }
  json_t *j =
      json_loadb((const char *)c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES, &err);
  if (!j) {
    rsp__eim_api_error(c, 400, "invalid_request", "body is not JSON: %s (line %d, column %d)",
                       err.text, err.line, err.column);
    return false;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    rsp__eim_api_error(c, 400, "invalid_request", "body must be a JSON object");
    return false;
  }
  *out = j;
  return true;
}

bool rsp__eim_api_keys_ok(struct rsp__eim_api_ctx *c, json_t *obj, const char *const *allowed,
                          const char *where) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    const char *const *a = allowed;
    while (*a && strcmp(*a, key) != 0) a++;
    if (!*a) {
      rsp__eim_api_error(c, 400, "invalid_request", "%s: unknown key \"%.64s\"", where, key);
      return false;
    }
  }
  return true;
}

/* ---- query strings --------------------------------------------------------------------------- */

static int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Decodes n bytes of form-encoded text (percent escapes, '+' as space); false when malformed,
 * too long or holding a NUL. */
static bool form_decode(const char *s, size_t n, char *out, size_t out_size) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '%') {
      if (i + 2 >= n) return false;
      int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
      ch = (char)(hi * 16 + lo);
      i += 2;
    } else if (ch == '+') {
      ch = ' ';
    }
    if (k + 1 >= out_size) return false;
    out[k++] = ch;
  }
  out[k] = '\0';
  return true;
}

bool rsp__eim_api_query(struct rsp__eim_api_ctx *c, const char *const *names,
                        char values[][RSP__EIM_API_QUERY_VALUE_MAX + 1], bool *present) {
  char name[RSP__EIM_API_QUERY_VALUE_MAX + 1];
  const char *p = c->query;
  size_t n_names = 0;
  while (names[n_names]) {
    values[n_names][0] = '\0';
    present[n_names] = false;
    n_names++;
  }
  while (p && *p) {
    size_t len = strcspn(p, "&");
    const char *eq = memchr(p, '=', len);
    size_t name_len = eq ? (size_t)(eq - p) : len, i;
    if (len == 0) {
      p++;
      continue;
    }
    if (!form_decode(p, name_len, name, sizeof name)) {
      rsp__eim_api_error(c, 400, "invalid_request", "malformed query string");
      return false;
    }
    for (i = 0; i < n_names && strcmp(names[i], name) != 0; i++) {
    }
    if (i == n_names) {
      rsp__eim_api_error(c, 400, "invalid_request", "unknown query parameter \"%s\"", name);
      return false;
    }
    if (present[i]) {
      rsp__eim_api_error(c, 400, "invalid_request", "query parameter \"%s\" given twice", name);
      return false;
    }
    if (!form_decode(eq ? eq + 1 : p + len, eq ? len - name_len - 1 : 0, values[i],
                     RSP__EIM_API_QUERY_VALUE_MAX + 1)) {
      rsp__eim_api_error(c, 400, "invalid_request", "query parameter \"%s\": malformed or too long",
                         name);
      return false;
    }
    present[i] = true;
    p += len;
    if (*p == '&') p++;
  }
  return true;
}

bool rsp__eim_api_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  int64_t v = 0;
  size_t n = strlen(s);
  if (n == 0 || n > 18 || strspn(s, "0123456789") != n) return false;
  for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool rsp__eim_api_limit(struct rsp__eim_api_ctx *c, const char *value, bool present, size_t *out) {
  int64_t v = RSP_EIM_API_PAGE_DEFAULT;
  if (present && !rsp__eim_api_int(value, 1, RSP_EIM_PAGE_MAX, &v)) {
    rsp__eim_api_error(c, 400, "invalid_request", "limit: 1 to %d expected", RSP_EIM_PAGE_MAX);
    return false;
  }
  *out = (size_t)v;
  return true;
}

bool rsp__eim_api_eid_ok(const char *s) {
  return s && strlen(s) == RSP_EID_DIGITS && strspn(s, "0123456789") == RSP_EID_DIGITS;
}

/* ---- JSON values ----------------------------------------------------------------------------- */

json_t *rsp__eim_api_b64(const uint8_t *p, size_t len) {
  size_t n = rsp_msg_base64_encoded_len(len);
  char *text = n == SIZE_MAX ? NULL : rsp_malloc(n + 1);
  json_t *v = NULL;
  if (text && rsp_msg_base64_encode(p, len, text, n + 1) == RSP_OK) v = json_stringn(text, n);
  rsp_free(text);
  return v;
}

json_t *rsp__eim_api_hex(const uint8_t *p, size_t len) {
  char *text = rsp_malloc(2 * len + 1);
  json_t *v = NULL;
  if (text && rsp_hex_encode(p, len, text, 2 * len + 1) == RSP_OK) v = json_string(text);
  rsp_free(text);
  return v;
}

json_t *rsp__eim_api_time(int64_t t) { return t ? json_integer((json_int_t)t) : json_null(); }

json_t *rsp__eim_api_embed(const char *text) {
  json_t *v;
  if (!text) return json_null();
  v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  return v ? v : json_string(text);
}

bool rsp__eim_api_b64_field(struct rsp__eim_api_ctx *c, json_t *v, size_t max, const char *where,
                            uint8_t **out, size_t *out_len) {
  size_t len = json_is_string(v) ? json_string_length(v) : 0;
  uint8_t *buf;
  *out = NULL;
  *out_len = 0;
  if (!json_is_string(v) || len == 0) {
    rsp__eim_api_error(c, 400, "invalid_request", "%s: a non-empty base64 string expected", where);
    return false;
  }
  if (rsp_msg_base64_decoded_max(len) > max + 2) {
    rsp__eim_api_error(c, 413, "too_large", "%s: more than %zu bytes", where, max);
    return false;
  }
  if (!(buf = rsp_malloc(max + 2))) return false;
  if (rsp_msg_base64_decode(json_string_value(v), len, buf, max + 2, out_len) != RSP_OK) {
    rsp_free(buf);
    rsp__eim_api_error(c, 400, "invalid_request", "%s: not canonical base64", where);
    return false;
  }
  if (*out_len > max) {
    rsp_free(buf);
    rsp__eim_api_error(c, 413, "too_large", "%s: more than %zu bytes", where, max);
    return false;
  }
  *out = buf;
  return true;
}

/* ---- GET /v1/health -------------------------------------------------------------------------- */

static rsp_err_t api_health(struct rsp__eim_api_ctx *c) {
  if (c->query && *c->query)
    return rsp__eim_api_error(c, 400, "invalid_request", "no query parameters here");
  return rsp__eim_api_reply(c, 200,
                            json_pack("{s:s, s:I, s:s}", "status", "ok", "time", (json_int_t)c->now,
                                      "store", c->o->store->ops->name));
}

/* ---- routing --------------------------------------------------------------------------------- */

/* Every route: method, path template, handler, and whether it is open (served without an API
 * key). Literal segments come before parameters of the same position ("bulk" before "{id}"):
 * the first template that matches a path owns it. */
#define API_ROUTES(X)                                                                              \
  X("GET", "/v1/health", api_health, true)                                                         \
  X("GET", "/v1/stats", rsp__eim_api_stats, false)                                                 \
  X("POST", "/v1/devices", rsp__eim_api_device_register, false)                                    \
  X("GET", "/v1/devices", rsp__eim_api_device_list, false)                                         \
  X("GET", "/v1/devices/{eid}", rsp__eim_api_device_show, false)                                   \
  X("GET", "/v1/devices/{eid}/add-initial-eim", rsp__eim_api_add_initial_eim, false)               \
  X("POST", "/v1/devices/{eid}/operations", rsp__eim_api_op_add, false)                            \
  X("GET", "/v1/devices/{eid}/operations", rsp__eim_api_op_list, false)                            \
  X("GET", "/v1/devices/{eid}/audit", rsp__eim_api_audit, false)                                   \
  X("POST", "/v1/operations/bulk", rsp__eim_api_bulk, false)                                       \
  X("GET", "/v1/operations/{id}", rsp__eim_api_op_show, false)                                     \
  X("DELETE", "/v1/operations/{id}", rsp__eim_api_op_cancel, false)

#define API_ROUTE_ENTRY(method, path, fn, open) {method, path, open},
#define API_ROUTE_FN(method, path, fn, open) fn,
static const struct rsp_eim_api_route routes[] = {API_ROUTES(API_ROUTE_ENTRY)};
static const rsp__eim_api_fn route_fns[] = {API_ROUTES(API_ROUTE_FN)};
#undef API_ROUTE_ENTRY
#undef API_ROUTE_FN
#define N_ROUTES (sizeof routes / sizeof routes[0])

const struct rsp_eim_api_route *rsp_eim_api_routes(size_t *n) {
  if (n) *n = N_ROUTES;
  return routes;
}

/* The segments of a path (without its query): pointers and lengths; false past the maximum. */
struct segs {
  const char *p[API_MAX_SEGMENTS];
  size_t len[API_MAX_SEGMENTS];
  size_t n;
};

static bool split(const char *path, size_t len, struct segs *s) {
  size_t i = 0;
  s->n = 0;
  if (len == 0 || path[0] != '/') return false;
  while (i < len) {
    size_t start = ++i;
    while (i < len && path[i] != '/') i++;
    if (s->n == API_MAX_SEGMENTS) return false;
    s->p[s->n] = path + start;
    s->len[s->n++] = i - start;
  }
  return true;
}

/* Matches the path segments against a template; the captured {eid} and {id} segments go to
 * *eid and *id (pointers into the path). */
static bool match(const char *tmpl, const struct segs *path, const char **eid, size_t *eid_len,
                  const char **id, size_t *id_len) {
  struct segs t;
  if (!split(tmpl, strlen(tmpl), &t) || t.n != path->n) return false;
  for (size_t i = 0; i < t.n; i++) {
    if (path->len[i] == 0) return false;
    if (t.len[i] == 5 && memcmp(t.p[i], "{eid}", 5) == 0) {
      *eid = path->p[i];
      *eid_len = path->len[i];
    } else if (t.len[i] == 4 && memcmp(t.p[i], "{id}", 4) == 0) {
      *id = path->p[i];
      *id_len = path->len[i];
    } else if (t.len[i] != path->len[i] || memcmp(t.p[i], path->p[i], t.len[i]) != 0) {
      return false;
    }
  }
  return true;
}

/* The template owning `path` (NULL: none), with its captures. */
static const char *find_template(const char *path, size_t len, const char **eid, size_t *eid_len,
                                 const char **id, size_t *id_len) {
  struct segs s;
  if (len > API_PATH_MAX || !split(path, len, &s)) return NULL;
  for (size_t i = 0; i < N_ROUTES; i++)
    if (match(routes[i].path, &s, eid, eid_len, id, id_len)) return routes[i].path;
  return NULL;
}

/* "GET, POST": the methods of a template. */
static void allow_of(const char *tmpl, char *out, size_t size) {
  size_t k = 0;
  out[0] = '\0';
  for (size_t i = 0; i < N_ROUTES; i++) {
    if (strcmp(routes[i].path, tmpl) != 0) continue;
    int w = snprintf(out + k, size - k, "%s%s", k ? ", " : "", routes[i].method);
    if (w < 0 || (size_t)w >= size - k) {
      out[0] = '\0';
      return;
    }
    k += (size_t)w;
  }
}

bool rsp_eim_api_key_required(const char *path) {
  const char *eid = NULL, *id = NULL, *tmpl;
  size_t eid_len = 0, id_len = 0;
  if (!path || !(tmpl = find_template(path, strcspn(path, "?#"), &eid, &eid_len, &id, &id_len)))
    return true;
  for (size_t i = 0; i < N_ROUTES; i++)
    if (strcmp(routes[i].path, tmpl) == 0 && routes[i].open) return false;
  return true;
}

bool rsp_eim_api_allow(const char *path, char *out, size_t out_size) {
  const char *eid = NULL, *id = NULL, *tmpl;
  size_t eid_len = 0, id_len = 0;
  if (!out || out_size == 0) return false;
  out[0] = '\0';
  if (!path || !(tmpl = find_template(path, strcspn(path, "?#"), &eid, &eid_len, &id, &id_len)))
    return false;
  allow_of(tmpl, out, out_size);
  return out[0] != '\0';
}

/* Checks and copies the path parameters; false when answered 400. */
static bool take_params(struct rsp__eim_api_ctx *c, const char *eid, size_t eid_len, const char *id,
                        size_t id_len) {
  char text[24];
  if (eid) {
    if (eid_len != RSP_EID_DIGITS || strspn(eid, "0123456789") < RSP_EID_DIGITS) {
      rsp__eim_api_error(c, 400, "invalid_request", "EID in the path: 32 decimal digits expected");
      return false;
    }
    memcpy(c->eid, eid, RSP_EID_DIGITS);
    c->eid[RSP_EID_DIGITS] = '\0';
  }
  if (id) {
    bool ok = id_len < sizeof text;
    if (ok) {
      memcpy(text, id, id_len);
      text[id_len] = '\0';
      ok = rsp__eim_api_int(text, 1, INT64_MAX / 10, &c->id);
    }
    if (!ok) {
      rsp__eim_api_error(c, 400, "invalid_request", "operation id: a positive integer expected");
      return false;
    }
  }
  return true;
}

static rsp_err_t dispatch(struct rsp__eim_api_ctx *c) {
  const char *path = c->req->path, *eid = NULL, *id = NULL, *tmpl;
  size_t path_len = strcspn(path, "?#"), eid_len = 0, id_len = 0;
  char allow[64];
  if (path[path_len] == '?') c->query = path + path_len + 1;
  if (!(tmpl = find_template(path, path_len, &eid, &eid_len, &id, &id_len)))
    return rsp__eim_api_error(c, 404, "no_route", "no such resource: %.200s",
                              path_len ? path : "(empty)");
  for (size_t i = 0; i < N_ROUTES; i++) {
    if (strcmp(routes[i].path, tmpl) != 0 || strcmp(routes[i].method, c->req->method) != 0)
      continue;
    if (!take_params(c, eid, eid_len, id, id_len)) return RSP_OK;
    return route_fns[i](c);
  }
  allow_of(tmpl, allow, sizeof allow);
  return rsp__eim_api_error(c, 405, "method_not_allowed", "%.16s not allowed on %s; allowed: %s",
                            c->req->method, tmpl, allow);
}

static int64_t default_now(void *ctx) { return (int64_t)time(NULL); }

rsp_err_t rsp_eim_api_handle(const struct rsp_eim_api_options *o,
                             const struct rsp_eim_api_request *req, struct rsp_buf *resp,
                             int *status) {
  struct rsp__eim_api_ctx c;
  size_t mark;
  if (status) *status = 500;
  if (!o || !o->store || !o->store->ops || !req || !req->method || !req->path || !resp || !status ||
      (req->body_len && !req->body))
    return RSP_E_INVALID_ARG;
  memset(&c, 0, sizeof c);
  c.o = o;
  c.req = req;
  c.now = o->now ? o->now(o->now_ctx) : default_now(NULL);
  c.resp = resp;
  c.status = status;
  mark = resp->len;
  rsp_err_t rc = dispatch(&c);
  /* A route that answered nothing could not write its answer (an error text it could not
   * encode): that is a failure of ours, never an empty 200. */
  if (rc == RSP_OK && resp->len == mark) rc = RSP_E_INTERNAL;
  if (rc == RSP_OK) return RSP_OK;
  /* Nothing half-written goes out: the answer becomes a plain 500. */
  resp->len = mark;
  RSP_LOG_E(RSP__EIM_API_COMP, "%s %.200s: %s", req->method, req->path, rsp_strerror(rc));
  if (rc == RSP_E_BUF_CAP)
    rsp__eim_api_error(&c, 500, "internal",
                       "the answer exceeds the response cap: ask for a "
                       "smaller page (limit)");
  else
    rsp__eim_api_error(&c, 500, "internal", "internal error: %s", rsp_strerror(rc));
  *status = 500;
  return rc;
}
