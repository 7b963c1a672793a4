/* The eIM's operator API, the counts (include/rsp/eim/api.h): GET /v1/stats. Everything but the
 * ESipa counter comes from one store query (rsp_eim_store_stats: SQL aggregates over indexes), so
 * a script may poll it every second during a campaign of a million operations. */
#include <string.h>

#include "api_internal.h"

/* {"queued": N, "sent": N, ...} of one row of counts, in the state machine's order. */
static json_t *states_view(const int64_t *by_state) {
  json_t *o = json_object();
  for (int st = RSP_EIM_OP_QUEUED; o && st <= RSP_EIM_OP_CANCELLED; st++)
    if (json_object_set_new(o, rsp_eim_op_state_name((enum rsp_eim_op_state)st),
                            json_integer((json_int_t)by_state[st])) != 0) {
      json_decref(o);
      o = NULL;
    }
  return o;
}

/* {"psmo": {...states}, "eco": ..., "euicc_data": ..., "download": ...}: every kind, even with
 * nothing counted, so a script needs no special case. */
static json_t *kinds_view(const struct rsp_eim_stats *s) {
  json_t *o = json_object();
  for (int k = RSP_EIM_OP_PSMO; o && k <= RSP_EIM_OP_DOWNLOAD; k++)
    if (json_object_set_new(o, rsp_eim_op_kind_name((enum rsp_eim_op_kind)k),
                            states_view(s->ops[k])) != 0) {
      json_decref(o);
      o = NULL;
    }
  return o;
}

static json_t *esipa_view(const struct rsp_eim_api_options *o) {
  struct rsp_eim_api_esipa_count n = {0, 0};
  if (!o->esipa_count) return json_null();
  o->esipa_count(o->esipa_count_ctx, &n);
  return json_pack("{s:I, s:I}", "requests", (json_int_t)n.requests, "since", (json_int_t)n.since);
}

/* ---- GET /v1/stats --------------------------------------------------------------------------- */

rsp_err_t rsp__eim_api_stats(struct rsp__eim_api_ctx *c) {
  struct rsp_eim_stats s;
  if (c->query && *c->query)
    return rsp__eim_api_error(c, 400, "invalid_request", "no query parameters here");
  rsp_err_t rc = rsp_eim_store_stats(c->o->store, &s);
  if (rc != RSP_OK) return rsp__eim_api_store_error(c, rc, "stats");
  json_t *ops = states_view(s.by_state), *kinds = kinds_view(&s), *esipa = esipa_view(c->o);
  if (!ops || !kinds || !esipa ||
      json_object_set_new(ops, "total", json_integer((json_int_t)s.total)) != 0) {
    json_decref(ops);
    json_decref(kinds);
    json_decref(esipa);
    return RSP_E_NOMEM;
  }
  return rsp__eim_api_reply(c, 200,
                            json_pack("{s:I, s:I, s:o, s:I, s:o, s:o}", "time", (json_int_t)c->now,
                                      "devices", (json_int_t)s.devices, "operations", ops,
                                      "rolledBack", (json_int_t)s.rolled_back, "byKind", kinds,
                                      "esipa", esipa));
}
