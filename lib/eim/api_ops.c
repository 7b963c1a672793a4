/* The eIM's operator API, second half (include/rsp/eim/api.h): operations of one device, one
 * operation, cancel, bulk (one spec for many EIDs) and the audit trail. Specs are validated with
 * rsp_eim_spec_parse when they are enqueued, so an operation that cannot be built never enters a
 * queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/eim/spec.h"
#include "api_internal.h"

#define API_SPEC_ARENA_CAP (4u * 1024u * 1024u)
/* Latest accepted time: 9999-12-31T23:59:59Z. */
#define API_TIME_MAX 253402300799LL

bool rsp__eim_api_spec_check(struct rsp__eim_api_ctx *c, const char *text, size_t len,
                             const char *where, enum rsp_eim_op_kind *kind) {
  struct rsp_arena a;
  struct rsp_eim_spec spec;
  char why[256];
  why[0] = '\0';
  memset(&spec, 0, sizeof spec);
  rsp_arena_init(&a, API_SPEC_ARENA_CAP);
  rsp_err_t rc = rsp_eim_spec_parse(text, len, &a, &spec, why, sizeof why);
  rsp_arena_free(&a);
  if (rc == RSP_OK && spec.kind >= RSP_EIM_OP_PSMO && spec.kind <= RSP_EIM_OP_DOWNLOAD) {
    *kind = spec.kind;
    return true;
  }
  rsp__eim_api_error(c, 400, "invalid_spec", "%s: %s", where, why[0] ? why : rsp_strerror(rc));
  return false;
}

/* ---- the operation view ---------------------------------------------------------------------- */

/* docs/eim-api.yaml "Operation"; lists leave out the result bytes (`full` false). */
static json_t *op_view(const struct rsp_eim_operation *op, bool full) {
  json_t *v = json_pack(
      "{s:I, s:s, s:I, s:s, s:s, s:o, s:o, s:o, s:I, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o}", "id",
      (json_int_t)op->id, "eid", op->eid, "seq", (json_int_t)op->seq, "kind",
      rsp_eim_op_kind_name(op->kind), "state", rsp_eim_op_state_name(op->state), "spec",
      rsp__eim_api_embed(op->spec), "notBefore", rsp__eim_api_time(op->not_before), "expiresAt",
      rsp__eim_api_time(op->expires_at), "created", (json_int_t)op->created, "counter",
      op->counter == RSP_EIM_NO_COUNTER ? json_null() : json_integer((json_int_t)op->counter),
      "eimTransactionId",
      op->eim_transaction_id_len
          ? rsp__eim_api_hex(op->eim_transaction_id, op->eim_transaction_id_len)
          : json_null(),
      "sentCount", (json_int_t)op->sent_count, "lastSent", rsp__eim_api_time(op->last_sent),
      "doneAt", rsp__eim_api_time(op->done_at), "resultSeq",
      op->result_seq == RSP_EIM_NO_SEQ ? json_null() : json_integer((json_int_t)op->result_seq),
      "resultSummary", rsp__eim_api_embed(op->result_summary), "error",
      op->error ? json_string(op->error) : json_null());
  if (v && json_object_set_new(v, "rolledBack", json_boolean(op->rolled_back)) != 0) {
    json_decref(v);
    v = NULL;
  }
  if (v && full &&
      json_object_set_new(v, "result",
                          op->result.len ? rsp__eim_api_b64(op->result.data, op->result.len)
                                         : json_null()) != 0) {
    json_decref(v);
    v = NULL;
  }
  return v;
}

/* Answers the full view of operation `id` with `status`. */
static rsp_err_t reply_op(struct rsp__eim_api_ctx *c, int64_t id, int status) {
  struct rsp_eim_operation op;
  rsp_err_t rc;
  rsp_eim_operation_init(&op);
  rc = rsp_eim_store_op_get(c->o->store, id, &op);
  if (rc == RSP_E_NOT_FOUND)
    rc = rsp__eim_api_error(c, 404, "not_found", "no operation %lld", (long long)id);
  else if (rc != RSP_OK)
    rc = rsp__eim_api_store_error(c, rc, "operation");
  else
    rc = rsp__eim_api_reply(c, status, op_view(&op, true));
  rsp_eim_operation_free(&op);
  return rc;
}

/* ---- enqueue: shared by one device and bulk -------------------------------------------------- */

/* notBefore and expiresAt of `obj` (absent: 0); false when answered 400. */
static bool times(struct rsp__eim_api_ctx *c, json_t *obj, int64_t *not_before,
                  int64_t *expires_at) {
  static const char *const names[] = {"notBefore", "expiresAt"};
  int64_t *slots[] = {not_before, expires_at};
  for (size_t i = 0; i < 2; i++) {
    json_t *v = json_object_get(obj, names[i]);
    *slots[i] = 0;
    if (!v) continue;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > API_TIME_MAX) {
      rsp__eim_api_error(c, 400, "invalid_request",
                         "%s: seconds since 1970 (an integer 0 to %lld) expected", names[i],
                         API_TIME_MAX);
      return false;
    }
    *slots[i] = json_integer_value(v);
  }
  if (*expires_at && *expires_at <= c->now) {
    rsp__eim_api_error(c, 400, "invalid_request", "expiresAt: %lld is not in the future (now %lld)",
                       (long long)*expires_at, (long long)c->now);
    return false;
  }
  if (*expires_at && *expires_at <= *not_before) {
    rsp__eim_api_error(c, 400, "invalid_request", "expiresAt must be after notBefore");
    return false;
  }
  return true;
}

/* What an enqueue request carries, checked: the spec as compact text and its kind. */
struct enq_req {
  char *spec; /* malloc'd by jansson */
  enum rsp_eim_op_kind kind;
  int64_t not_before, expires_at;
};

/* The spec object as stored text, validated; false when answered. */
static bool spec_take(struct rsp__eim_api_ctx *c, json_t *spec, const char *where,
                      struct enq_req *e, rsp_err_t *rc) {
  *rc = RSP_OK;
  if (!json_is_object(spec)) {
    rsp__eim_api_error(c, 400, "invalid_spec", "%s: a JSON object expected", where);
    return false;
  }
  if (!(e->spec = json_dumps(spec, JSON_COMPACT))) {
    *rc = RSP_E_NOMEM;
    return false;
  }
  size_t len = strlen(e->spec);
  if (len > RSP_EIM_SPEC_MAX) {
    rsp__eim_api_error(c, 413, "too_large", "%s: %zu bytes of JSON; at most %u", where, len,
                       RSP_EIM_SPEC_MAX);
    return false;
  }
  return rsp__eim_api_spec_check(c, e->spec, len, where, &e->kind);
}

/* The body of POST .../operations: {"spec": {...}, "notBefore"?, "expiresAt"?}, or the spec's
 * own keys at the top level beside the optional times. */
static bool enq_parse(struct rsp__eim_api_ctx *c, json_t *body, struct enq_req *e, rsp_err_t *rc) {
  static const char *const wrapped[] = {"spec", "notBefore", "expiresAt", NULL};
  json_t *spec;
  bool ok;
  *rc = RSP_OK;
  if (!times(c, body, &e->not_before, &e->expires_at)) return false;
  if (json_object_get(body, "spec"))
    return rsp__eim_api_keys_ok(c, body, wrapped, "body") &&
           spec_take(c, json_object_get(body, "spec"), "spec", e, rc);
  if (!(spec = json_copy(body))) {
    *rc = RSP_E_NOMEM;
    return false;
  }
  json_object_del(spec, "notBefore");
  json_object_del(spec, "expiresAt");
  ok = spec_take(c, spec, "spec", e, rc);
  json_decref(spec);
  return ok;
}

/* ---- POST /v1/devices/{eid}/operations ------------------------------------------------------- */

rsp_err_t rsp__eim_api_op_add(struct rsp__eim_api_ctx *c) {
  struct enq_req e;
  struct rsp_eim_operation op;
  json_t *body = NULL;
  int64_t id = 0;
  rsp_err_t rc = RSP_OK;
  memset(&e, 0, sizeof e);
  rsp_eim_operation_init(&op);
  if (c->query && *c->query) {
    rc = rsp__eim_api_error(c, 400, "invalid_request", "no query parameters here");
    goto out;
  }
  if (!rsp__eim_api_body(c, RSP_EIM_API_MAX_ITEM_BODY, &body) || !enq_parse(c, body, &e, &rc))
    goto out;
  struct rsp_eim_op_new req = {c->eid, e.kind, e.spec, e.not_before, e.expires_at};
  rc = rsp_eim_store_op_enqueue(c->o->store, &req, c->now, &id);
  if (rc == RSP_OK) rc = rsp_eim_store_op_get(c->o->store, id, &op);
  if (rc == RSP_E_NOT_FOUND) {
    rc = rsp__eim_api_error(c, 404, "not_found", "no device %s", c->eid);
    goto out;
  }
  if (rc != RSP_OK) {
    rc = rsp__eim_api_store_error(c, rc, "operation");
    goto out;
  }
  RSP_LOG_I(RSP__EIM_API_COMP, "device %s: operation %lld (%s) queued at %lld", c->eid,
            (long long)id, rsp_eim_op_kind_name(e.kind), (long long)op.seq);
  rc =
      rsp__eim_api_reply(c, 201,
                         json_pack("{s:I, s:s, s:I, s:s, s:s}", "id", (json_int_t)id, "eid", c->eid,
                                   "seq", (json_int_t)op.seq, "kind", rsp_eim_op_kind_name(op.kind),
                                   "state", rsp_eim_op_state_name(op.state)));
out:
  rsp_eim_operation_free(&op);
  json_decref(body);
  free(e.spec);
  return rc;
}

/* ---- GET /v1/devices/{eid}/operations -------------------------------------------------------- */

rsp_err_t rsp__eim_api_op_list(struct rsp__eim_api_ctx *c) {
  static const char *const names[] = {"after", "limit", NULL};
  char values[2][RSP__EIM_API_QUERY_VALUE_MAX + 1];
  bool present[2];
  struct rsp_eim_op_list l = {0}, probe = {0};
  int64_t after = 0;
  size_t limit;
  json_t *list = NULL;
  rsp_err_t rc = RSP_OK;
  if (!rsp__eim_api_query(c, names, values, present) ||
      !rsp__eim_api_limit(c, values[1], present[1], &limit))
    return RSP_OK;
  if (present[0] && !rsp__eim_api_int(values[0], 0, INT64_MAX / 10, &after))
    return rsp__eim_api_error(c, 400, "invalid_request", "after: a queue position (seq) expected");
  if (!rsp__eim_api_device_exists(c, c->eid, &rc)) return rc;
  rc = rsp_eim_store_op_list(c->o->store, c->eid, after, limit, &l);
  if (rc == RSP_OK && l.n == limit)
    rc = rsp_eim_store_op_list(c->o->store, c->eid, l.v[l.n - 1].seq, 1, &probe);
  if (rc != RSP_OK) {
    rc = rsp__eim_api_store_error(c, rc, "operation list");
    goto out;
  }
  if (!(list = json_array())) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < l.n; i++)
    if (json_array_append_new(list, op_view(&l.v[i], false)) != 0) {
      rc = RSP_E_NOMEM;
      goto out;
    }
  rc = rsp__eim_api_reply(
      c, 200,
      json_pack("{s:s, s:O, s:o}", "eid", c->eid, "operations", list, "next",
                probe.n ? json_integer((json_int_t)l.v[l.n - 1].seq) : json_null()));
out:
  json_decref(list);
  rsp_eim_op_list_free(&l);
  rsp_eim_op_list_free(&probe);
  return rc;
}

/* ---- GET and DELETE /v1/operations/{id} ------------------------------------------------------ */

rsp_err_t rsp__eim_api_op_show(struct rsp__eim_api_ctx *c) {
  if (c->query && *c->query)
    return rsp__eim_api_error(c, 400, "invalid_request", "no query parameters here");
  return reply_op(c, c->id, 200);
}

rsp_err_t rsp__eim_api_op_cancel(struct rsp__eim_api_ctx *c) {
  struct rsp_eim_operation op;
  rsp_err_t rc;
  if (c->query && *c->query)
    return rsp__eim_api_error(c, 400, "invalid_request", "no query parameters here");
  rsp_eim_operation_init(&op);
  rc = rsp_eim_store_op_get(c->o->store, c->id, &op);
  if (rc == RSP_OK) rc = rsp_eim_store_op_cancel(c->o->store, c->id, c->now);
  if (rc == RSP_E_NOT_FOUND) {
    rc = rsp__eim_api_error(c, 404, "not_found", "no operation %lld", (long long)c->id);
  } else if (rc == RSP_E_STATE) {
    /* A sent operation may already be executed by the card: only its result closes it. */
    rc = rsp__eim_api_error(
        c, 409, "state", "operation %lld is %s: only a queued operation can be cancelled%s",
        (long long)c->id, rsp_eim_op_state_name(op.state),
        op.state == RSP_EIM_OP_SENT ? " (the card may execute a sent one; its result closes it)"
                                    : "");
  } else if (rc != RSP_OK) {
    rc = rsp__eim_api_store_error(c, rc, "operation");
  } else {
    RSP_LOG_I(RSP__EIM_API_COMP, "operation %lld (device %s) cancelled", (long long)c->id, op.eid);
    rc = reply_op(c, c->id, 200);
  }
  rsp_eim_operation_free(&op);
  return rc;
}

/* ---- POST /v1/operations/bulk ---------------------------------------------------------------- */

struct bulk_item {
  const char *eid;
  size_t index;
};

static int bulk_cmp(const void *a, const void *b) {
  const struct bulk_item *x = a, *y = b;
  int d = strcmp(x->eid, y->eid);
  return d ? d : (x->index < y->index ? -1 : x->index > y->index);
}

/* Flags every repetition of an EID after its first listing (dup[i] true). */
static bool bulk_duplicates(json_t *eids, bool *dup) {
  size_t n = json_array_size(eids), m = 0;
  struct bulk_item *items = rsp_malloc((n ? n : 1) * sizeof *items);
  if (!items) return false;
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_array_get(eids, i);
    dup[i] = false;
    if (json_is_string(v)) items[m++] = (struct bulk_item){json_string_value(v), i};
  }
  qsort(items, m, sizeof *items, bulk_cmp);
  for (size_t i = 1; i < m; i++)
    if (strcmp(items[i].eid, items[i - 1].eid) == 0) dup[items[i].index] = true;
  rsp_free(items);
  return true;
}

/* Why one listed EID is refused before the store is asked; NULL when it may be enqueued. */
static const char *bulk_precheck(json_t *v, bool dup) {
  if (!json_is_string(v) || !rsp__eim_api_eid_ok(json_string_value(v)))
    return "not an EID (32 decimal digits)";
  return dup ? "listed more than once" : NULL;
}

static bool bulk_add(json_t *arr, json_t *item) {
  return item && json_array_append_new(arr, item) == 0;
}

/* Enqueues for each listed EID; created and refused get one entry per EID, in request order. */
static rsp_err_t bulk_run(struct rsp__eim_api_ctx *c, json_t *eids, const struct enq_req *e,
                          const bool *dup, json_t *created, json_t *refused) {
  for (size_t i = 0; i < json_array_size(eids); i++) {
    json_t *v = json_array_get(eids, i);
    const char *why = bulk_precheck(v, dup[i]);
    int64_t id = 0;
    rsp_err_t rc = RSP_OK;
    if (!why) {
      struct rsp_eim_op_new req = {json_string_value(v), e->kind, e->spec, e->not_before,
                                   e->expires_at};
      rc = rsp_eim_store_op_enqueue(c->o->store, &req, c->now, &id);
      why = rc == RSP_E_NOT_FOUND ? "unknown device" : rc != RSP_OK ? rsp_strerror(rc) : NULL;
      if (rc != RSP_OK && rc != RSP_E_NOT_FOUND)
        RSP_LOG_E(RSP__EIM_API_COMP, "bulk: %s: %s", json_string_value(v), rsp_strerror(rc));
    }
    bool ok = why ? bulk_add(refused, json_pack("{s:O, s:s}", "eid", v, "error", why))
                  : bulk_add(created, json_pack("{s:O, s:I}", "eid", v, "id", (json_int_t)id));
    if (!ok) return RSP_E_NOMEM;
  }
  return RSP_OK;
}

static bool bulk_parse(struct rsp__eim_api_ctx *c, json_t *body, json_t **eids, struct enq_req *e,
                       rsp_err_t *rc) {
  static const char *const keys[] = {"eids", "spec", "notBefore", "expiresAt", NULL};
  *rc = RSP_OK;
  if (!rsp__eim_api_keys_ok(c, body, keys, "body")) return false;
  *eids = json_object_get(body, "eids");
  if (!json_is_array(*eids) || json_array_size(*eids) == 0) {
    rsp__eim_api_error(c, 400, "invalid_request", "eids: a non-empty array of EIDs expected");
    return false;
  }
  if (json_array_size(*eids) > RSP_EIM_API_BULK_MAX) {
    rsp__eim_api_error(c, 413, "too_large", "eids: %zu EIDs; at most %d per request",
                       json_array_size(*eids), RSP_EIM_API_BULK_MAX);
    return false;
  }
  if (!json_object_get(body, "spec")) {
    rsp__eim_api_error(c, 400, "invalid_spec", "spec: required");
    return false;
  }
  return times(c, body, &e->not_before, &e->expires_at) &&
         spec_take(c, json_object_get(body, "spec"), "spec", e, rc);
}

rsp_err_t rsp__eim_api_bulk(struct rsp__eim_api_ctx *c) {
  struct enq_req e;
  json_t *body = NULL, *eids = NULL, *created = NULL, *refused = NULL;
  bool *dup = NULL;
  rsp_err_t rc = RSP_OK;
  memset(&e, 0, sizeof e);
  if (c->query && *c->query) {
    rc = rsp__eim_api_error(c, 400, "invalid_request", "no query parameters here");
    goto out;
  }
  if (!rsp__eim_api_body(c, RSP_EIM_API_MAX_BODY, &body) || !bulk_parse(c, body, &eids, &e, &rc))
    goto out;
  if (!(dup = rsp_malloc(json_array_size(eids) * sizeof *dup)) || !bulk_duplicates(eids, dup) ||
      !(created = json_array()) || !(refused = json_array())) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  if ((rc = bulk_run(c, eids, &e, dup, created, refused)) != RSP_OK) goto out;
  RSP_LOG_I(RSP__EIM_API_COMP, "bulk %s: %zu queued, %zu refused", rsp_eim_op_kind_name(e.kind),
            json_array_size(created), json_array_size(refused));
  rc = rsp__eim_api_reply(c, json_array_size(created) ? 201 : 200,
                          json_pack("{s:s, s:O, s:O}", "kind", rsp_eim_op_kind_name(e.kind),
                                    "created", created, "refused", refused));
out:
  json_decref(created);
  json_decref(refused);
  json_decref(body);
  rsp_free(dup);
  free(e.spec);
  return rc;
}

/* ---- GET /v1/devices/{eid}/audit ------------------------------------------------------------- */

static json_t *audit_view(const struct rsp_eim_audit_entry *a) {
  return json_pack("{s:I, s:I, s:o, s:o, s:s, s:o, s:o}", "id", (json_int_t)a->id, "time",
                   (json_int_t)a->time, "eid", a->eid[0] ? json_string(a->eid) : json_null(),
                   "operationId",
                   a->operation_id ? json_integer((json_int_t)a->operation_id) : json_null(),
                   "event", a->event, "detail", rsp__eim_api_embed(a->detail), "der",
                   a->der.len ? rsp__eim_api_b64(a->der.data, a->der.len) : json_null());
}

rsp_err_t rsp__eim_api_audit(struct rsp__eim_api_ctx *c) {
  static const char *const names[] = {"after", "limit", "operation", NULL};
  char values[3][RSP__EIM_API_QUERY_VALUE_MAX + 1];
  bool present[3];
  struct rsp_eim_audit_list l = {0}, probe = {0};
  struct rsp_eim_audit_query q = {c->eid, 0, 0, 0};
  json_t *list = NULL;
  rsp_err_t rc = RSP_OK;
  if (!rsp__eim_api_query(c, names, values, present) ||
      !rsp__eim_api_limit(c, values[1], present[1], &q.limit))
    return RSP_OK;
  if (present[0] && !rsp__eim_api_int(values[0], 0, INT64_MAX / 10, &q.after_id))
    return rsp__eim_api_error(c, 400, "invalid_request", "after: an audit entry id expected");
  if (present[2] && !rsp__eim_api_int(values[2], 1, INT64_MAX / 10, &q.operation_id))
    return rsp__eim_api_error(c, 400, "invalid_request", "operation: an operation id expected");
  if (!rsp__eim_api_device_exists(c, c->eid, &rc)) return rc;
  rc = rsp_eim_store_audit_list(c->o->store, &q, &l);
  if (rc == RSP_OK && l.n == q.limit) {
    struct rsp_eim_audit_query next = q;
    next.after_id = l.v[l.n - 1].id;
    next.limit = 1;
    rc = rsp_eim_store_audit_list(c->o->store, &next, &probe);
  }
  if (rc != RSP_OK) {
    rc = rsp__eim_api_store_error(c, rc, "audit");
    goto out;
  }
  if (!(list = json_array())) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < l.n; i++)
    if (json_array_append_new(list, audit_view(&l.v[i])) != 0) {
      rc = RSP_E_NOMEM;
      goto out;
    }
  rc = rsp__eim_api_reply(
      c, 200,
      json_pack("{s:s, s:O, s:o}", "eid", c->eid, "entries", list, "next",
                probe.n ? json_integer((json_int_t)l.v[l.n - 1].id) : json_null()));
out:
  json_decref(list);
  rsp_eim_audit_list_free(&l);
  rsp_eim_audit_list_free(&probe);
  return rc;
}
