/* The table-driven JSON <-> struct engine of the ES9+, ES2+, ES11, ES12 (SGP.22 §6.5) and ESipa
 * (SGP.32 §6.4) JSON bindings, on jansson. The field tables live in es9p_json.c, es2p_json.c,
 * es11_json.c and esipa_json.c;
 * this file knows the kinds of value (include/rsp/msg/json.h), the request and response headers
 * with functionExecutionStatus, and the function table that maps HTTP paths to body types.
 *
 * jansson does the JSON syntax and UTF-8 checks; the engine never looks at the text itself. All
 * decoded strings and bytes are copied into the caller's doc, so the jansson tree is freed before
 * returning. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/text.h"
#include "rsp/der/der.h"
#include "rsp/msg/base64.h"

/* ENUM fields are read and written as int. */
_Static_assert(sizeof(enum rsp_msg_json_status) == sizeof(int), "enum storage");

#define MAX_DEPTH                                                                                  \
  8 /* nesting of the field tables; header.functionExecutionStatus.statusCodeData = 3 */

struct ctx {
  struct rsp_arena *arena; /* decoding only */
  struct rsp_msg_json_diag *diag;
  char path[sizeof(((struct rsp_msg_json_diag *)0)->key)];
  unsigned depth;
};

/* ---- diagnostics ----------------------------------------------------------------------------- */

static rsp_err_t fail(struct ctx *c, rsp_err_t rc, enum rsp_msg_json_problem pr, const char *fmt,
                      ...) RSP_PRINTF(4, 5);

static rsp_err_t fail(struct ctx *c, rsp_err_t rc, enum rsp_msg_json_problem pr, const char *fmt,
                      ...) {
  /* A body that breaks the binding gets a JSON error code; the problem says which rule. */
  if (rc == RSP_E_NOT_FOUND) rc = RSP_E_JSON_MISSING;
  if (rc == RSP_E_INVALID_ARG) rc = RSP_E_JSON_INVALID;
  if (!c->diag || c->diag->problem != RSP_MSG_JSON_P_NONE) return rc; /* keep the first */
  char msg[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->diag->problem = pr;
  snprintf(c->diag->key, sizeof c->diag->key, "%s", c->path);
  snprintf(c->diag->text, sizeof c->diag->text, "%s%s%s", c->path, c->path[0] ? ": " : "", msg);
  return rc;
}

static rsp_err_t nomem(struct ctx *c) {
  return fail(c, RSP_E_NOMEM, RSP_MSG_JSON_P_NOMEM, "out of memory");
}

rsp_err_t rsp__msg_json_rule_fail(struct rsp_msg_json_diag *diag, rsp_err_t rc,
                                  enum rsp_msg_json_problem problem, const char *fmt, ...) {
  if (diag && diag->problem == RSP_MSG_JSON_P_NONE) {
    va_list ap;
    va_start(ap, fmt);
    diag->problem = problem;
    diag->key[0] = '\0';
    vsnprintf(diag->text, sizeof diag->text, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static size_t path_push(struct ctx *c, const char *key) {
  size_t mark = strlen(c->path);
  snprintf(c->path + mark, sizeof c->path - mark, "%s%s", mark ? "." : "", key);
  return mark;
}

static void path_pop(struct ctx *c, size_t mark) { c->path[mark] = '\0'; }

static const char *json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
    return "an integer";
  case JSON_REAL:
    return "a real number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  default:
    return "null";
  }
}

/* ---- shared helpers -------------------------------------------------------------------------- */

/* Set when an allocation made by jansson failed. jansson reports some of those as syntax errors
 * ("invalid token" when a string buffer cannot grow) or with no error text at all, so the parser's
 * own error code cannot tell an out-of-memory from bad input. */
static _Thread_local bool jansson_oom;

static void *jansson_malloc(size_t n) {
  void *p = rsp_malloc(n);
  if (!p) jansson_oom = true;
  return p;
}

/* jansson allocates through the project's hooks, so the IPA's static arena and the tests'
 * allocation-failure injection cover the parser too. jansson's hooks are process-wide; rsp_malloc
 * defaults to malloc, so other jansson users of the process see no difference. */
static void use_rsp_alloc(void) {
  static bool done;
  if (done) return;
  json_set_alloc_funcs(jansson_malloc, rsp_free);
  done = true;
}

static void *at(const struct rsp_msg_json_field *f, void *base) { return (char *)base + f->offset; }

static const void *cat(const struct rsp_msg_json_field *f, const void *base) {
  return (const char *)base + f->offset;
}

static size_t max_len(const struct rsp_msg_json_field *f, size_t def) {
  return f->hi > 0 ? (size_t)f->hi : def;
}

static rsp_err_t check_len(struct ctx *c, const struct rsp_msg_json_field *f, size_t n,
                           size_t def) {
  if (n > max_len(f, def))
    return fail(c, RSP_E_BUF_CAP, RSP_MSG_JSON_P_SIZE, "%zu bytes, at most %zu allowed", n,
                max_len(f, def));
  if (f->lo > 0 && n < (size_t)f->lo)
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "%zu bytes, at least %lld required", n,
                (long long)f->lo);
  return RSP_OK;
}

/* RSP_OK when p[0..n) is exactly one DER TLV with a tag the field accepts. */
static rsp_err_t tlv_check(const struct rsp_msg_json_field *f, const uint8_t *p, size_t n,
                           uint32_t *tag) {
  struct rsp_der_tlv t;
  rsp_err_t rc = rsp_der_parse_one(p, n, &t);
  if (rc != RSP_OK) return rc;
  *tag = t.tag;
  if (f->tags[0]) {
    size_t i = 0;
    while (i < RSP_MSG_JSON_MAX_TAGS && f->tags[i] && f->tags[i] != t.tag) i++;
    if (i == RSP_MSG_JSON_MAX_TAGS || !f->tags[i]) return RSP_E_DER_UNEXPECTED_TAG;
  }
  if (f->wrap_len && t.len != f->wrap_len) return RSP_E_DER_BAD_VALUE;
  return RSP_OK;
}

static rsp_err_t tlv_fail(struct ctx *c, const struct rsp_msg_json_field *f, rsp_err_t rc,
                          uint32_t tag) {
  if (rc == RSP_E_DER_UNEXPECTED_TAG)
    return fail(c, rc, RSP_MSG_JSON_P_DER, "unexpected tag %X (expected %X)", (unsigned)tag,
                (unsigned)f->tags[0]);
  if (rc == RSP_E_DER_BAD_VALUE && f->wrap_len)
    return fail(c, rc, RSP_MSG_JSON_P_DER, "TLV value must be %u bytes", (unsigned)f->wrap_len);
  return fail(c, rc, RSP_MSG_JSON_P_DER, "not one DER TLV: %s", rsp_strerror(rc));
}

/* ---- presence and equality ------------------------------------------------------------------- */

static bool object_present(const struct rsp_msg_json_type *t, const void *obj) {
  for (size_t i = 0; i < t->nfields; i++)
    if (rsp_msg_json_field_present(&t->fields[i], obj)) return true;
  return false;
}

bool rsp_msg_json_field_present(const struct rsp_msg_json_field *f, const void *base) {
  const void *p = cat(f, base);
  switch (f->kind) {
  case RSP_MSG_JSON_STRING:
    return *(const char *const *)p != NULL;
  case RSP_MSG_JSON_INT:
    return ((const struct rsp_msg_int *)p)->present;
  case RSP_MSG_JSON_BOOL:
    return ((const struct rsp_msg_bool *)p)->present;
  case RSP_MSG_JSON_ENUM:
    return *(const int *)p != 0;
  case RSP_MSG_JSON_OBJECT:
    if (f->flags & RSP_MSG_JSON_F_INLINE) return object_present(f->type, p);
    return *(const void *const *)p != NULL;
  case RSP_MSG_JSON_ARRAY:
    return ((const struct rsp_msg_json_array *)p)->v != NULL;
  default:
    return ((const struct rsp_slice *)p)->p != NULL;
  }
}

static bool array_equal(const struct rsp_msg_json_field *f, const struct rsp_msg_json_array *x,
                        const struct rsp_msg_json_array *y) {
  if (x->n != y->n) return false;
  for (size_t i = 0; i < x->n; i++)
    if (!rsp_msg_json_equal(f->type, (const char *)x->v + i * f->type->size,
                            (const char *)y->v + i * f->type->size))
      return false;
  return true;
}

static bool field_equal(const struct rsp_msg_json_field *f, const void *a, const void *b) {
  bool pa = rsp_msg_json_field_present(f, a), pb = rsp_msg_json_field_present(f, b);
  if (pa != pb) return false;
  if (!pa) return true;
  const void *x = cat(f, a), *y = cat(f, b);
  switch (f->kind) {
  case RSP_MSG_JSON_STRING:
    return strcmp(*(const char *const *)x, *(const char *const *)y) == 0;
  case RSP_MSG_JSON_INT:
    return ((const struct rsp_msg_int *)x)->v == ((const struct rsp_msg_int *)y)->v;
  case RSP_MSG_JSON_BOOL:
    return ((const struct rsp_msg_bool *)x)->v == ((const struct rsp_msg_bool *)y)->v;
  case RSP_MSG_JSON_ENUM:
    return *(const int *)x == *(const int *)y;
  case RSP_MSG_JSON_OBJECT:
    if (f->flags & RSP_MSG_JSON_F_INLINE) return rsp_msg_json_equal(f->type, x, y);
    return rsp_msg_json_equal(f->type, *(const void *const *)x, *(const void *const *)y);
  case RSP_MSG_JSON_ARRAY:
    return array_equal(f, x, y);
  default: {
    const struct rsp_slice *s = x, *t = y;
    return s->len == t->len && (s->len == 0 || memcmp(s->p, t->p, s->len) == 0);
  }
  }
}

bool rsp_msg_json_equal(const struct rsp_msg_json_type *t, const void *a, const void *b) {
  for (size_t i = 0; i < t->nfields; i++)
    if (!field_equal(&t->fields[i], a, b)) return false;
  return true;
}

/* ---- body-level rules ------------------------------------------------------------------------ */

/* A response whose status is Failed or Expired carries only its header (SGP.22 §6.5.1). */
static bool header_only(const struct rsp_msg_json_type *t, const void *base) {
  if (!(t->flags & RSP_MSG_JSON_T_RESPONSE)) return false;
  const struct rsp_msg_json_resp_header *h = cat(&t->fields[0], base);
  enum rsp_msg_json_status s = h->function_execution_status.status;
  return s == RSP_MSG_JSON_STATUS_FAILED || s == RSP_MSG_JSON_STATUS_EXPIRED;
}

static void choice_keys(const struct rsp_msg_json_type *t, char *out, size_t size) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < t->nfields && len < size; i++) {
    if (!(t->fields[i].flags & RSP_MSG_JSON_F_CHOICE)) continue;
    int n = snprintf(out + len, size - len, "%s%s", len ? ", " : "", t->fields[i].key);
    if (n < 0) break;
    len += (size_t)n;
  }
}

static rsp_err_t check_rules(struct ctx *c, const struct rsp_msg_json_type *t, const void *base) {
  if (t->choice == RSP_MSG_JSON_CHOICE_AT_MOST_ONE || t->choice == RSP_MSG_JSON_CHOICE_ONE) {
    size_t n = 0;
    char keys[96];
    for (size_t i = 0; i < t->nfields; i++)
      if ((t->fields[i].flags & RSP_MSG_JSON_F_CHOICE) &&
          rsp_msg_json_field_present(&t->fields[i], base))
        n++;
    if (n > 1 || (n == 0 && t->choice == RSP_MSG_JSON_CHOICE_ONE))
      choice_keys(t, keys, sizeof keys);
    if (n > 1)
      return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "only one of %s is allowed", keys);
    if (n == 0 && t->choice == RSP_MSG_JSON_CHOICE_ONE)
      return fail(c, RSP_E_NOT_FOUND, RSP_MSG_JSON_P_MISSING, "one of %s is required", keys);
  }
  if (!t->check) return RSP_OK;
  return t->check(base, c->diag);
}

/* ---- decoding -------------------------------------------------------------------------------- */

static rsp_err_t dec_body(struct ctx *c, const struct rsp_msg_json_type *t, const json_t *obj,
                          void *base);

static rsp_err_t want_string(struct ctx *c, const json_t *v, const char **s, size_t *n) {
  if (!json_is_string(v))
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_TYPE, "expected a string, got %s",
                json_type_name(v));
  *s = json_string_value(v);
  *n = json_string_length(v);
  return RSP_OK;
}

static rsp_err_t dec_string(struct ctx *c, const struct rsp_msg_json_field *f, const json_t *v,
                            void *dst) {
  const char *s;
  size_t n;
  rsp_err_t rc = want_string(c, v, &s, &n);
  if (rc == RSP_OK) rc = check_len(c, f, n, RSP_MSG_JSON_MAX_STRING);
  if (rc != RSP_OK) return rc;
  char *copy = rsp_arena_alloc(c->arena, n + 1); /* zeroed: the copy is NUL-terminated */
  if (!copy) return nomem(c);
  memcpy(copy, s, n);
  *(const char **)dst = copy;
  return RSP_OK;
}

/* HEX and EID: jansson strings are NUL-terminated and hold no NUL (\u0000 is rejected). */
static rsp_err_t dec_hex(struct ctx *c, const struct rsp_msg_json_field *f, const json_t *v,
                         void *dst) {
  const char *s;
  size_t n;
  rsp_err_t rc = want_string(c, v, &s, &n);
  if (rc != RSP_OK) return rc;
  if (f->kind == RSP_MSG_JSON_EID && n != RSP_EID_DIGITS)
    return fail(c, RSP_E_HEX_INVALID, RSP_MSG_JSON_P_HEX, "an EID has %d digits, not %zu",
                RSP_EID_DIGITS, n);
  if (n % 2) return fail(c, RSP_E_HEX_INVALID, RSP_MSG_JSON_P_HEX, "odd number of hex digits");
  if (f->kind == RSP_MSG_JSON_HEX && (rc = check_len(c, f, n / 2, RSP_MSG_JSON_MAX_BODY)) != RSP_OK)
    return rc;
  uint8_t *b = rsp_arena_alloc(c->arena, n / 2 + 1);
  if (!b) return nomem(c);
  if (rsp_hex_decode(s, b, n / 2, NULL) != RSP_OK)
    return fail(c, RSP_E_HEX_INVALID, RSP_MSG_JSON_P_HEX, "not a hex string");
  *(struct rsp_slice *)dst = rsp_msg_slice(b, n / 2);
  return RSP_OK;
}

/* A bare value of wrap_len bytes becomes tags[0] || length || value (see json.h). */
static rsp_err_t wrap_value(struct ctx *c, const struct rsp_msg_json_field *f,
                            struct rsp_slice *val) {
  uint8_t t[4], l[5];
  size_t tn = rsp_der_encode_tag(f->tags[0], t), ln = rsp_der_encode_len(val->len, l);
  uint8_t *p = rsp_arena_alloc(c->arena, tn + ln + val->len);
  if (!p) return nomem(c);
  memcpy(p, t, tn);
  memcpy(p + tn, l, ln);
  memcpy(p + tn + ln, val->p, val->len);
  *val = rsp_msg_slice(p, tn + ln + val->len);
  return RSP_OK;
}

static rsp_err_t dec_b64(struct ctx *c, const struct rsp_msg_json_field *f, const json_t *v,
                         void *dst) {
  const char *s;
  size_t n, len = 0;
  uint32_t tag = 0;
  rsp_err_t rc = want_string(c, v, &s, &n);
  if (rc != RSP_OK) return rc;
  size_t max = rsp_msg_base64_decoded_max(n);
  uint8_t *b = rsp_arena_alloc(c->arena, max + 1);
  if (!b) return nomem(c);
  if (rsp_msg_base64_decode(s, n, b, max, &len) != RSP_OK)
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_BASE64, "not canonical base64");
  struct rsp_slice val = rsp_msg_slice(b, len);
  if (f->kind == RSP_MSG_JSON_B64_TLV) {
    rc = tlv_check(f, b, len, &tag);
    if (rc != RSP_OK && f->wrap_len && len == f->wrap_len)
      rc = wrap_value(c, f, &val);
    else if (rc != RSP_OK)
      return tlv_fail(c, f, rc, tag);
    if (rc != RSP_OK) return rc;
  }
  rc = check_len(c, f, val.len, RSP_MSG_JSON_MAX_BODY);
  if (rc == RSP_OK) *(struct rsp_slice *)dst = val;
  return rc;
}

static rsp_err_t dec_scalar(struct ctx *c, const struct rsp_msg_json_field *f, const json_t *v,
                            void *dst) {
  if (f->kind == RSP_MSG_JSON_BOOL) {
    if (!json_is_boolean(v))
      return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_TYPE, "expected a boolean, got %s",
                  json_type_name(v));
    struct rsp_msg_bool *o = dst;
    o->v = json_is_true(v);
    o->present = true;
    return RSP_OK;
  }
  if (!json_is_integer(v))
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_TYPE, "expected an integer, got %s",
                json_type_name(v));
  json_int_t x = json_integer_value(v);
  if ((f->lo || f->hi) && (x < f->lo || x > f->hi))
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "%lld is outside %lld..%lld",
                (long long)x, (long long)f->lo, (long long)f->hi);
  struct rsp_msg_int *o = dst;
  o->v = (int64_t)x;
  o->present = true;
  return RSP_OK;
}

static rsp_err_t dec_enum(struct ctx *c, const struct rsp_msg_json_field *f, const json_t *v,
                          void *dst) {
  const char *s;
  size_t n;
  rsp_err_t rc = want_string(c, v, &s, &n);
  if (rc != RSP_OK) return rc;
  for (int i = 1; i <= f->nnames; i++) {
    if (strcmp(s, f->names[i]) == 0) {
      *(int *)dst = i;
      return RSP_OK;
    }
  }
  return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "unknown value \"%.40s\"", s);
}

static rsp_err_t dec_object(struct ctx *c, const struct rsp_msg_json_field *f, const json_t *v,
                            void *dst) {
  if (!json_is_object(v))
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_TYPE, "expected an object, got %s",
                json_type_name(v));
  void *obj = dst;
  if (!(f->flags & RSP_MSG_JSON_F_INLINE)) {
    obj = rsp_arena_alloc(c->arena, f->type->size);
    if (!obj) return nomem(c);
    *(void **)dst = obj;
  }
  return dec_body(c, f->type, v, obj);
}

/* An array of objects of the field's type, into one block of n items (the array's cap bounds
 * it); each item's diagnostics name it as key[i]. */
static rsp_err_t dec_array(struct ctx *c, const struct rsp_msg_json_field *f, const json_t *v,
                           void *dst) {
  struct rsp_msg_json_array *out = dst;
  if (!json_is_array(v))
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_TYPE, "expected an array, got %s",
                json_type_name(v));
  size_t n = json_array_size(v), max = max_len(f, RSP_MSG_JSON_MAX_ITEMS);
  if (n > max)
    return fail(c, RSP_E_BUF_CAP, RSP_MSG_JSON_P_SIZE, "%zu items, at most %zu allowed", n, max);
  if (f->lo > 0 && n < (size_t)f->lo)
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "%zu items, at least %lld required", n,
                (long long)f->lo);
  char *items = rsp_arena_alloc(c->arena, n ? n * f->type->size : 1);
  if (!items) return nomem(c);
  for (size_t i = 0; i < n; i++) {
    const json_t *item = json_array_get(v, i);
    size_t mark = strlen(c->path);
    rsp_err_t rc = RSP_OK;
    snprintf(c->path + mark, sizeof c->path - mark, "[%zu]", i);
    if (!json_is_object(item))
      rc = fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_TYPE, "expected an object, got %s",
                json_type_name(item));
    else
      rc = dec_body(c, f->type, item, items + i * f->type->size);
    path_pop(c, mark);
    if (rc != RSP_OK) return rc;
  }
  out->v = items;
  out->n = n;
  return RSP_OK;
}

static rsp_err_t dec_value(struct ctx *c, const struct rsp_msg_json_field *f, const json_t *v,
                           void *dst) {
  switch (f->kind) {
  case RSP_MSG_JSON_STRING:
    return dec_string(c, f, v, dst);
  case RSP_MSG_JSON_HEX:
  case RSP_MSG_JSON_EID:
    return dec_hex(c, f, v, dst);
  case RSP_MSG_JSON_B64:
  case RSP_MSG_JSON_B64_TLV:
    return dec_b64(c, f, v, dst);
  case RSP_MSG_JSON_INT:
  case RSP_MSG_JSON_BOOL:
    return dec_scalar(c, f, v, dst);
  case RSP_MSG_JSON_ENUM:
    return dec_enum(c, f, v, dst);
  case RSP_MSG_JSON_OBJECT:
    return dec_object(c, f, v, dst);
  case RSP_MSG_JSON_ARRAY:
    return dec_array(c, f, v, dst);
  default:
    return fail(c, RSP_E_INTERNAL, RSP_MSG_JSON_P_VALUE, "bad field kind %u", f->kind);
  }
}

/* A JSON null counts as an absent key: some servers write optional keys as null. */
static rsp_err_t dec_field(struct ctx *c, const struct rsp_msg_json_field *f, const json_t *obj,
                           void *base) {
  rsp_err_t rc = RSP_OK;
  const json_t *v = json_object_get(obj, f->key);
  const json_t *a = f->alias ? json_object_get(obj, f->alias) : NULL;
  size_t mark = path_push(c, v || !a ? f->key : f->alias);
  if (v && a) {
    rc = fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "given both as %s and as %s", f->key,
              f->alias);
    goto out;
  }
  if (!v) v = a;
  if (v && json_is_null(v)) v = NULL;
  if (!v) {
    if (f->flags & RSP_MSG_JSON_F_REQUIRED)
      rc = fail(c, RSP_E_NOT_FOUND, RSP_MSG_JSON_P_MISSING, "required key missing");
    goto out;
  }
  rc = dec_value(c, f, v, at(f, base));
out:
  path_pop(c, mark);
  return rc;
}

static rsp_err_t dec_body(struct ctx *c, const struct rsp_msg_json_type *t, const json_t *obj,
                          void *base) {
  rsp_err_t rc = RSP_E_INTERNAL;
  size_t first = 0;
  if (++c->depth > MAX_DEPTH) {
    rc = fail(c, RSP_E_INTERNAL, RSP_MSG_JSON_P_VALUE, "field tables nested too deep");
    goto out;
  }
  if (t->flags & RSP_MSG_JSON_T_RESPONSE) {
    rc = dec_field(c, &t->fields[0], obj, base);
    if (rc != RSP_OK) goto out;
    first = 1;
    if (header_only(t, base)) goto out;
  }
  for (size_t i = first; i < t->nfields; i++) {
    rc = dec_field(c, &t->fields[i], obj, base);
    if (rc != RSP_OK) goto out;
  }
  rc = check_rules(c, t, base);
out:
  c->depth--;
  return rc;
}

static rsp_err_t parse(struct ctx *c, const char *json, size_t len, json_t **root) {
  json_error_t err;
  if (len == 0) return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_SYNTAX, "empty body");
  /* Duplicate keys are rejected: two values for one key would let peers disagree silently. */
  jansson_oom = false;
  *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
  if (!*root) {
    if (jansson_oom || json_error_code(&err) == json_error_out_of_memory) return nomem(c);
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_SYNTAX, "line %d column %d: %.80s", err.line,
                err.column, err.text);
  }
  if (!json_is_object(*root))
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_SYNTAX, "the body is %s, not an object",
                json_type_name(*root));
  return RSP_OK;
}

rsp_err_t rsp_msg_json_decode(const struct rsp_msg_json_type *type, const char *json, size_t len,
                              struct rsp_msg_json_doc *doc, void *body,
                              struct rsp_msg_json_diag *diag) {
  rsp_err_t rc = RSP_E_INTERNAL;
  json_t *root = NULL;
  struct ctx c = {.arena = &doc->arena, .diag = diag};
  if (diag) memset(diag, 0, sizeof *diag);
  memset(body, 0, type->size);
  use_rsp_alloc();
  if (len > RSP_MSG_JSON_MAX_BODY) {
    rc = fail(&c, RSP_E_BUF_CAP, RSP_MSG_JSON_P_SIZE, "body of %zu bytes, at most %u allowed", len,
              RSP_MSG_JSON_MAX_BODY);
    goto out;
  }
  if (len == 0 && (type->flags & RSP_MSG_JSON_T_EMPTY_OK)) {
    rc = RSP_OK;
    goto out;
  }
  rc = parse(&c, json, len, &root);
  if (rc != RSP_OK) goto out;
  rc = dec_body(&c, type, root, body);
out:
  json_decref(root);
  if (rc != RSP_OK) memset(body, 0, type->size);
  return rc;
}

void rsp_msg_json_doc_init(struct rsp_msg_json_doc *doc) {
  rsp_arena_init(&doc->arena, RSP_MSG_JSON_DOC_CAP);
}

void rsp_msg_json_doc_free(struct rsp_msg_json_doc *doc) {
  if (doc) rsp_arena_free(&doc->arena);
}

/* ---- encoding -------------------------------------------------------------------------------- */

static rsp_err_t enc_body(struct ctx *c, const struct rsp_msg_json_type *t, const void *base,
                          json_t *obj);

static rsp_err_t enc_text(struct ctx *c, const char *s, size_t n, json_t **out) {
  *out = json_stringn_nocheck(s, n);
  return *out ? RSP_OK : nomem(c);
}

static rsp_err_t enc_string(struct ctx *c, const struct rsp_msg_json_field *f, const char *s,
                            json_t **out) {
  size_t n = strlen(s);
  rsp_err_t rc = check_len(c, f, n, RSP_MSG_JSON_MAX_STRING);
  if (rc != RSP_OK) return rc;
  if (!rsp_utf8_valid((const uint8_t *)s, n, true))
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "not valid UTF-8");
  return enc_text(c, s, n, out);
}

static rsp_err_t enc_bytes(struct ctx *c, const struct rsp_msg_json_field *f,
                           const struct rsp_slice *s, json_t **out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  char *tmp = NULL;
  uint32_t tag = 0;
  bool hex = f->kind == RSP_MSG_JSON_HEX || f->kind == RSP_MSG_JSON_EID;
  if (f->kind == RSP_MSG_JSON_EID && s->len != RSP_EID_LEN) {
    rc = fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "an EID has %d bytes, not %zu",
              RSP_EID_LEN, s->len);
    goto out;
  }
  rc = f->kind == RSP_MSG_JSON_EID ? RSP_OK : check_len(c, f, s->len, RSP_MSG_JSON_MAX_BODY);
  if (rc != RSP_OK) goto out;
  if (f->kind == RSP_MSG_JSON_B64_TLV) {
    rc = tlv_check(f, s->p, s->len, &tag);
    if (rc != RSP_OK) {
      rc = tlv_fail(c, f, rc, tag);
      goto out;
    }
  }
  size_t n = hex ? 2 * s->len : rsp_msg_base64_encoded_len(s->len);
  tmp = rsp_malloc(n + 1);
  if (!tmp) {
    rc = nomem(c);
    goto out;
  }
  rc = hex ? rsp_hex_encode(s->p, s->len, tmp, n + 1)
           : rsp_msg_base64_encode(s->p, s->len, tmp, n + 1);
  if (rc == RSP_OK) rc = enc_text(c, tmp, n, out);
out:
  rsp_free(tmp);
  return rc;
}

static rsp_err_t enc_scalar(struct ctx *c, const struct rsp_msg_json_field *f, const void *src,
                            json_t **out) {
  if (f->kind == RSP_MSG_JSON_BOOL) {
    *out = json_boolean(((const struct rsp_msg_bool *)src)->v);
  } else if (f->kind == RSP_MSG_JSON_ENUM) {
    int v = *(const int *)src;
    if (v < 1 || v > f->nnames)
      return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "enum value %d out of range", v);
    *out = json_string_nocheck(f->names[v]);
  } else {
    int64_t v = ((const struct rsp_msg_int *)src)->v;
    if ((f->lo || f->hi) && (v < f->lo || v > f->hi))
      return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_VALUE, "%lld is outside %lld..%lld",
                  (long long)v, (long long)f->lo, (long long)f->hi);
    *out = json_integer((json_int_t)v);
  }
  return *out ? RSP_OK : nomem(c);
}

static rsp_err_t enc_object(struct ctx *c, const struct rsp_msg_json_field *f, const void *src,
                            json_t **out) {
  const void *obj = (f->flags & RSP_MSG_JSON_F_INLINE) ? src : *(const void *const *)src;
  *out = json_object();
  if (!*out) return nomem(c);
  return enc_body(c, f->type, obj, *out);
}

static rsp_err_t enc_array(struct ctx *c, const struct rsp_msg_json_field *f,
                           const struct rsp_msg_json_array *a, json_t **out) {
  size_t max = max_len(f, RSP_MSG_JSON_MAX_ITEMS);
  if (a->n > max || (f->lo > 0 && a->n < (size_t)f->lo))
    return fail(c, RSP_E_INVALID_ARG, RSP_MSG_JSON_P_SIZE, "%zu items, %lld..%zu allowed", a->n,
                (long long)f->lo, max);
  if (!(*out = json_array())) return nomem(c);
  for (size_t i = 0; i < a->n; i++) {
    json_t *o = json_object();
    size_t mark = strlen(c->path);
    rsp_err_t rc = RSP_OK;
    snprintf(c->path + mark, sizeof c->path - mark, "[%zu]", i);
    if (!o)
      rc = nomem(c);
    else
      rc = enc_body(c, f->type, (const char *)a->v + i * f->type->size, o);
    path_pop(c, mark);
    /* the array takes the reference, also on failure */
    if (o && json_array_append_new(*out, o) != 0 && rc == RSP_OK) rc = nomem(c);
    if (rc != RSP_OK) return rc; /* the caller drops *out */
  }
  return RSP_OK;
}

static rsp_err_t enc_value(struct ctx *c, const struct rsp_msg_json_field *f, const void *src,
                           json_t **out) {
  switch (f->kind) {
  case RSP_MSG_JSON_STRING:
    return enc_string(c, f, *(const char *const *)src, out);
  case RSP_MSG_JSON_HEX:
  case RSP_MSG_JSON_EID:
  case RSP_MSG_JSON_B64:
  case RSP_MSG_JSON_B64_TLV:
    return enc_bytes(c, f, src, out);
  case RSP_MSG_JSON_INT:
  case RSP_MSG_JSON_BOOL:
  case RSP_MSG_JSON_ENUM:
    return enc_scalar(c, f, src, out);
  case RSP_MSG_JSON_OBJECT:
    return enc_object(c, f, src, out);
  case RSP_MSG_JSON_ARRAY:
    return enc_array(c, f, src, out);
  default:
    return fail(c, RSP_E_INTERNAL, RSP_MSG_JSON_P_VALUE, "bad field kind %u", f->kind);
  }
}

static rsp_err_t enc_field(struct ctx *c, const struct rsp_msg_json_field *f, const void *base,
                           json_t *obj) {
  rsp_err_t rc = RSP_OK;
  json_t *v = NULL;
  size_t mark = path_push(c, f->key);
  if (!rsp_msg_json_field_present(f, base)) {
    if (f->flags & RSP_MSG_JSON_F_REQUIRED)
      rc = fail(c, RSP_E_NOT_FOUND, RSP_MSG_JSON_P_MISSING, "required key missing");
    goto out;
  }
  rc = enc_value(c, f, cat(f, base), &v);
  if (rc != RSP_OK) goto out;
  /* The object takes the reference, also on failure; keys come out in table order. */
  if (json_object_set_new_nocheck(obj, f->key, v) != 0) rc = nomem(c);
  v = NULL;
out:
  json_decref(v);
  path_pop(c, mark);
  return rc;
}

static rsp_err_t enc_body(struct ctx *c, const struct rsp_msg_json_type *t, const void *base,
                          json_t *obj) {
  rsp_err_t rc = RSP_E_INTERNAL;
  size_t n = t->nfields;
  if (++c->depth > MAX_DEPTH) {
    rc = fail(c, RSP_E_INTERNAL, RSP_MSG_JSON_P_VALUE, "field tables nested too deep");
    goto out;
  }
  if (header_only(t, base)) n = 1;
  for (size_t i = 0; i < n; i++) {
    rc = enc_field(c, &t->fields[i], base, obj);
    if (rc != RSP_OK) goto out;
  }
  rc = n == t->nfields ? check_rules(c, t, base) : RSP_OK;
out:
  c->depth--;
  return rc;
}

struct sink {
  struct rsp_buf *out;
  size_t start;
  rsp_err_t rc;
};

static int sink_write(const char *p, size_t n, void *data) {
  struct sink *s = data;
  if (n > RSP_MSG_JSON_MAX_BODY - (s->out->len - s->start)) {
    s->rc = RSP_E_BUF_CAP;
    return -1;
  }
  s->rc = rsp_buf_append(s->out, p, n);
  return s->rc == RSP_OK ? 0 : -1;
}

rsp_err_t rsp_msg_json_encode(const struct rsp_msg_json_type *type, const void *body,
                              struct rsp_buf *out, struct rsp_msg_json_diag *diag) {
  rsp_err_t rc = RSP_E_INTERNAL;
  json_t *root = NULL;
  struct ctx c = {.diag = diag};
  struct sink s = {out, out->len, RSP_OK};
  if (diag) memset(diag, 0, sizeof *diag);
  use_rsp_alloc();
  root = json_object();
  if (!root) {
    rc = nomem(&c);
    goto out;
  }
  rc = enc_body(&c, type, body, root);
  if (rc != RSP_OK) goto out;
  if (json_dump_callback(root, sink_write, &s, JSON_COMPACT) != 0) {
    /* Anything but the cap is an allocation failure, in rsp_buf or in jansson's own buffers. */
    rc = s.rc == RSP_E_BUF_CAP
             ? fail(&c, RSP_E_BUF_CAP, RSP_MSG_JSON_P_SIZE, "body above the output cap")
             : nomem(&c);
  }
out:
  json_decref(root);
  if (rc != RSP_OK) out->len = s.start;
  return rc;
}

/* ---- headers (SGP.22 §6.5.1) ----------------------------------------------------------------- */

static const char *const status_names[] = {NULL, "Executed-Success", "Executed-WithWarning",
                                           "Failed", "Expired"};

static const struct rsp_msg_json_field status_code_data_fields[] = {
    RSP__JSTR(struct rsp_msg_json_status_code_data, subject_code, "subjectCode", RSP__J_REQ,
              .hi = 64),
    RSP__JSTR(struct rsp_msg_json_status_code_data, reason_code, "reasonCode", RSP__J_REQ,
              .hi = 64),
    RSP__JSTR(struct rsp_msg_json_status_code_data, subject_identifier, "subjectIdentifier",
              RSP__J_OPT, .hi = 0),
    RSP__JSTR(struct rsp_msg_json_status_code_data, message, "message", RSP__J_OPT, .hi = 0),
};
RSP__JTYPE(rsp_msg_json_status_code_data_type, "statusCodeData",
           struct rsp_msg_json_status_code_data, status_code_data_fields, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);

static const struct rsp_msg_json_field exec_status_fields[] = {
    RSP__JF(struct rsp_msg_json_exec_status, status, "status", RSP_MSG_JSON_ENUM, RSP__J_REQ,
            .names = status_names, .nnames = 4),
    RSP__JOBJ(struct rsp_msg_json_exec_status, status_code_data, "statusCodeData", RSP__J_OPT,
              &rsp_msg_json_status_code_data_type),
};
RSP__JTYPE(rsp_msg_json_exec_status_type, "functionExecutionStatus",
           struct rsp_msg_json_exec_status, exec_status_fields, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);

static const struct rsp_msg_json_field resp_header_fields[] = {
    RSP__JF(struct rsp_msg_json_resp_header, function_execution_status, "functionExecutionStatus",
            RSP_MSG_JSON_OBJECT, RSP__J_REQ | RSP_MSG_JSON_F_INLINE,
            .type = &rsp_msg_json_exec_status_type),
};
RSP__JTYPE(rsp_msg_json_resp_header_type, "header", struct rsp_msg_json_resp_header,
           resp_header_fields, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);

static const struct rsp_msg_json_field req_header_fields[] = {
    RSP__JSTR(struct rsp_msg_json_req_header, function_requester_identifier,
              "functionRequesterIdentifier", RSP__J_REQ, .hi = 0),
    RSP__JSTR(struct rsp_msg_json_req_header, function_call_identifier, "functionCallIdentifier",
              RSP__J_REQ, .hi = 0),
};
RSP__JTYPE(rsp_msg_json_req_header_type, "header", struct rsp_msg_json_req_header,
           req_header_fields, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);

const char *rsp_msg_json_status_name(enum rsp_msg_json_status s) {
  if ((int)s < 1 || (int)s > 4) return NULL;
  return status_names[s];
}

bool rsp_msg_json_status_ok(const struct rsp_msg_json_resp_header *h) {
  enum rsp_msg_json_status s = h->function_execution_status.status;
  return s == RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS ||
         s == RSP_MSG_JSON_STATUS_EXECUTED_WITH_WARNING;
}

bool rsp_msg_json_status_code_is(const struct rsp_msg_json_exec_status *st, const char *subject,
                                 const char *reason) {
  const struct rsp_msg_json_status_code_data *d = st->status_code_data;
  if (!d || !d->subject_code || !d->reason_code) return false;
  return strcmp(d->subject_code, subject) == 0 && (!reason || strcmp(d->reason_code, reason) == 0);
}

/* ---- functions and paths --------------------------------------------------------------------- */

#define FUNC(id, path, name, prefix)                                                               \
  { RSP_MSG_JSON_FUNC_##id, path, name, &prefix##_req_type, &prefix##_resp_type }

static const struct rsp_msg_json_func_info funcs[] = {
    FUNC(ES9P_INITIATE_AUTHENTICATION, RSP_ES9P_PATH_INITIATE_AUTHENTICATION,
         "initiateAuthentication", rsp_es9p_json_initiate_authentication),
    FUNC(ES9P_AUTHENTICATE_CLIENT, RSP_ES9P_PATH_AUTHENTICATE_CLIENT, "authenticateClient",
         rsp_es9p_json_authenticate_client),
    FUNC(ES9P_GET_BOUND_PROFILE_PACKAGE, RSP_ES9P_PATH_GET_BOUND_PROFILE_PACKAGE,
         "getBoundProfilePackage", rsp_es9p_json_get_bound_profile_package),
    FUNC(ES9P_HANDLE_NOTIFICATION, RSP_ES9P_PATH_HANDLE_NOTIFICATION, "handleNotification",
         rsp_es9p_json_handle_notification),
    FUNC(ES9P_CANCEL_SESSION, RSP_ES9P_PATH_CANCEL_SESSION, "cancelSession",
         rsp_es9p_json_cancel_session),
    FUNC(ES2P_DOWNLOAD_ORDER, RSP_ES2P_PATH_DOWNLOAD_ORDER, "downloadOrder",
         rsp_es2p_json_download_order),
    FUNC(ES2P_CONFIRM_ORDER, RSP_ES2P_PATH_CONFIRM_ORDER, "confirmOrder",
         rsp_es2p_json_confirm_order),
    FUNC(ES2P_CANCEL_ORDER, RSP_ES2P_PATH_CANCEL_ORDER, "cancelOrder", rsp_es2p_json_cancel_order),
    FUNC(ES2P_RELEASE_PROFILE, RSP_ES2P_PATH_RELEASE_PROFILE, "releaseProfile",
         rsp_es2p_json_release_profile),
    FUNC(ES2P_HANDLE_DOWNLOAD_PROGRESS_INFO, RSP_ES2P_PATH_HANDLE_DOWNLOAD_PROGRESS_INFO,
         "handleDownloadProgressInfo", rsp_es2p_json_handle_download_progress_info),
    FUNC(ESIPA_INITIATE_AUTHENTICATION, RSP_ESIPA_JSON_PATH_INITIATE_AUTHENTICATION,
         "initiateAuthentication", rsp_esipa_json_initiate_authentication),
    FUNC(ESIPA_AUTHENTICATE_CLIENT, RSP_ESIPA_JSON_PATH_AUTHENTICATE_CLIENT, "authenticateClient",
         rsp_esipa_json_authenticate_client),
    FUNC(ESIPA_GET_BOUND_PROFILE_PACKAGE, RSP_ESIPA_JSON_PATH_GET_BOUND_PROFILE_PACKAGE,
         "getBoundProfilePackage", rsp_esipa_json_get_bound_profile_package),
    FUNC(ESIPA_TRANSFER_EIM_PACKAGE, RSP_ESIPA_JSON_PATH_TRANSFER_EIM_PACKAGE, "transferEimPackage",
         rsp_esipa_json_transfer_eim_package),
    FUNC(ESIPA_GET_EIM_PACKAGE, RSP_ESIPA_JSON_PATH_GET_EIM_PACKAGE, "getEimPackage",
         rsp_esipa_json_get_eim_package),
    FUNC(ESIPA_PROVIDE_EIM_PACKAGE_RESULT, RSP_ESIPA_JSON_PATH_PROVIDE_EIM_PACKAGE_RESULT,
         "provideEimPackageResult", rsp_esipa_json_provide_eim_package_result),
    FUNC(ESIPA_HANDLE_NOTIFICATION, RSP_ESIPA_JSON_PATH_HANDLE_NOTIFICATION, "handleNotification",
         rsp_esipa_json_handle_notification),
    FUNC(ESIPA_CANCEL_SESSION, RSP_ESIPA_JSON_PATH_CANCEL_SESSION, "cancelSession",
         rsp_esipa_json_cancel_session),
    /* ES11 shares the ES9+ bodies except these two (json.h) */
    {RSP_MSG_JSON_FUNC_ES11_INITIATE_AUTHENTICATION, RSP_ES11_PATH_INITIATE_AUTHENTICATION,
     "initiateAuthentication", &rsp_es11_json_initiate_authentication_req_type,
     &rsp_es9p_json_initiate_authentication_resp_type},
    {RSP_MSG_JSON_FUNC_ES11_AUTHENTICATE_CLIENT, RSP_ES11_PATH_AUTHENTICATE_CLIENT,
     "authenticateClient", &rsp_es9p_json_authenticate_client_req_type,
     &rsp_es11_json_authenticate_client_resp_type},
    FUNC(ES12_REGISTER_EVENT, RSP_ES12_PATH_REGISTER_EVENT, "registerEvent",
         rsp_es12_json_register_event),
    FUNC(ES12_DELETE_EVENT, RSP_ES12_PATH_DELETE_EVENT, "deleteEvent", rsp_es12_json_delete_event),
};

_Static_assert(sizeof funcs / sizeof funcs[0] == RSP_MSG_JSON_FUNC__COUNT - 1,
               "one row per function id");

enum rsp_msg_json_func rsp_msg_json_func_from_path(const char *path) {
  if (!path) return RSP_MSG_JSON_FUNC_NONE;
  size_t n = strcspn(path, "?");
  for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
    if (strlen(funcs[i].path) == n && memcmp(funcs[i].path, path, n) == 0) return funcs[i].func;
  return RSP_MSG_JSON_FUNC_NONE;
}

const struct rsp_msg_json_func_info *rsp_msg_json_func_get(enum rsp_msg_json_func func) {
  if ((int)func < 1 || (int)func >= RSP_MSG_JSON_FUNC__COUNT) return NULL;
  return &funcs[func - 1];
}
