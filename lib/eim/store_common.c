/* What the eIM store backends share inside their transactions (store_internal.h): the checks of
 * the exactly-once state machine on an operation read under the transaction's lock, the result
 * matching rules, and the audit details, so that SQLite (store_sqlite.c) and PostgreSQL
 * (store_pg.c) write the same trail and refuse the same transitions. */
#include <jansson.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "store_internal.h"

bool rsp__eim_signed_kind(enum rsp_eim_op_kind k) {
  return k == RSP_EIM_OP_PSMO || k == RSP_EIM_OP_ECO;
}

bool rsp__eim_op_expired(const struct rsp_eim_operation *op, int64_t now) {
  return op->state == RSP_EIM_OP_QUEUED && op->expires_at > 0 && op->expires_at <= now;
}

rsp_err_t rsp__eim_allowed(const struct rsp_eim_operation *op, enum rsp_eim_op_event event,
                           enum rsp_eim_op_state *to) {
  *to = rsp_eim_op_next_state(op->state, event);
  if (*to) return RSP_OK;
  rsp_log(RSP_LOG_INFO, RSP__EIM_COMP, "store: operation %lld (%s): %s refused", (long long)op->id,
          rsp_eim_op_state_name(op->state), rsp_eim_op_event_name(event));
  return RSP_E_STATE;
}

rsp_err_t rsp__eim_refuse(const struct rsp_eim_operation *op, const char *why) {
  rsp_log(RSP_LOG_INFO, RSP__EIM_COMP, "store: operation %lld not sent: %s", (long long)op->id,
          why);
  return RSP_E_STATE;
}

rsp_err_t rsp__eim_send_precheck(const struct rsp_eim_operation *op, int64_t now, int64_t counter,
                                 struct rsp_slice txid) {
  enum rsp_eim_op_state to;
  rsp_err_t rc;
  /* Signed kinds take a counter; the unsigned ones none, and a txid to match their answer by. */
  if (rsp__eim_signed_kind(op->kind) != (counter != RSP_EIM_NO_COUNTER) ||
      (!rsp__eim_signed_kind(op->kind) && !txid.p)) {
    RSP_LOG_D(RSP__EIM_COMP, "store: operation %lld (%s): counter or txid missing or extra",
              (long long)op->id, rsp_eim_op_kind_name(op->kind));
    return RSP_E_INVALID_ARG;
  }
  if ((rc = rsp__eim_allowed(op, RSP_EIM_EV_SEND, &to)) != RSP_OK) return rc;
  if (op->not_before > now) return rsp__eim_refuse(op, "not due yet");
  if (rsp__eim_op_expired(op, now)) return rsp__eim_refuse(op, "expired");
  return RSP_OK;
}

rsp_err_t rsp__eim_counter_check(const struct rsp_eim_operation *op, int64_t counter,
                                 int64_t next) {
  if (!rsp__eim_signed_kind(op->kind)) return RSP_OK;
  if (counter != next) return rsp__eim_refuse(op, "the counter is not the device's next counter");
  if (counter >= RSP_EIM_COUNTER_MAX)
    return rsp__eim_refuse(op, "the device's counter is exhausted");
  return RSP_OK;
}

/* A copy of an EPR can carry another signature over the same data (notes 3.4), so bytes alone
 * would miss it: the card numbers each result once, and that number decides when both have one. */
bool rsp__eim_same_result(const struct rsp_eim_operation *op, const struct rsp_eim_result *r) {
  if (r->seq_number != RSP_EIM_NO_SEQ && op->result_seq != RSP_EIM_NO_SEQ)
    return r->seq_number == op->result_seq;
  return op->result.len == r->der.len && memcmp(op->result.data, r->der.p, r->der.len) == 0;
}

/* A match by eimTransactionId (unique) or by the device's counter whose EID or counter
 * contradicts the result is no match. */
bool rsp__eim_result_fits(const struct rsp_eim_operation *op, const struct rsp_eim_result *r,
                          const char **why) {
  if (r->eid && strcmp(op->eid, r->eid) != 0) {
    *why = "the eimTransactionId belongs to another device";
    return false;
  }
  if (r->counter != RSP_EIM_NO_COUNTER && op->counter != r->counter) {
    *why = "the counter differs from the operation's";
    return false;
  }
  return true;
}

char *rsp__eim_json_text(json_t *j) {
  size_t n;
  char *out;
  if (!j) j = json_object();
  n = j ? json_dumpb(j, NULL, 0, JSON_COMPACT) : 0;
  out = n ? rsp_malloc(n + 1) : NULL;
  if (out) {
    json_dumpb(j, out, n, JSON_COMPACT);
    out[n] = '\0';
  }
  json_decref(j);
  return out;
}

json_t *rsp__eim_hex_json(const uint8_t *p, size_t n) {
  char hex[2 * RSP_EIM_TXID_MAX + 1];
  if (!p || n == 0 || n > RSP_EIM_TXID_MAX || rsp_hex_encode(p, n, hex, sizeof hex) != RSP_OK)
    return json_null();
  return json_string(hex);
}

json_t *rsp__eim_detail_result(const struct rsp_eim_result *r, const char *why) {
  json_t *d =
      json_pack("{s:s?, s:o, s:I, s:I, s:s, s:s?, s:s?}", "eid", r->eid, "eim_transaction_id",
                rsp__eim_hex_json(r->eim_transaction_id.p, r->eim_transaction_id.len), "counter",
                (json_int_t)r->counter, "seq_number", (json_int_t)r->seq_number, "state",
                rsp_eim_op_state_name(r->state), "error", r->error, "why", why);
  json_t *summary = r->summary ? json_loads(r->summary, 0, NULL) : NULL;
  if (d && summary) json_object_set_new(d, "summary", summary);
  return d;
}

json_t *rsp__eim_detail_registered(const struct rsp_eim_device_new *d) {
  return json_pack("{s:s, s:I, s:b}", "eim_id", d->eim_id, "next_counter",
                   (json_int_t)d->next_counter, "initial_config", d->initial_config.p != NULL);
}

json_t *rsp__eim_detail_euicc_data(const struct rsp_eim_euicc_data *d) {
  json_t *fields = json_array();
  if (d->euicc_cert.p) json_array_append_new(fields, json_string("euicc_cert"));
  if (d->eum_cert.p) json_array_append_new(fields, json_string("eum_cert"));
  if (d->euicc_info2.p) json_array_append_new(fields, json_string("euicc_info2"));
  if (d->has_association_token) json_array_append_new(fields, json_string("association_token"));
  return json_pack("{s:o}", "fields", fields);
}

json_t *rsp__eim_detail_enqueued(const struct rsp_eim_op_new *r, int64_t seq) {
  return json_pack("{s:s, s:I, s:I, s:I}", "kind", rsp_eim_op_kind_name(r->kind), "seq",
                   (json_int_t)seq, "not_before", (json_int_t)r->not_before, "expires_at",
                   (json_int_t)r->expires_at);
}

json_t *rsp__eim_detail_moved(enum rsp_eim_op_event event, const char *error) {
  return json_pack("{s:s, s:s?}", "event", rsp_eim_op_event_name(event), "error", error);
}

json_t *rsp__eim_detail_sent(const struct rsp_eim_operation *op, struct rsp_slice txid,
                             int64_t counter) {
  return json_pack("{s:I, s:o, s:I, s:I}", "seq", (json_int_t)op->seq, "eim_transaction_id",
                   rsp__eim_hex_json(txid.p, txid.len), "counter", (json_int_t)counter,
                   "sent_count", (json_int_t)1);
}

json_t *rsp__eim_detail_resent(const struct rsp_eim_operation *op) {
  return json_pack("{s:I, s:I}", "counter", (json_int_t)op->counter, "sent_count",
                   (json_int_t)op->sent_count + 1);
}

json_t *rsp__eim_detail_notification(const struct rsp_eim_notification_new *n) {
  return json_pack("{s:I, s:s, s:s?, s:s?}", "seq_number", (json_int_t)n->seq_number, "kind",
                   rsp_eim_notification_kind_name(n->kind), "iccid", n->iccid, "forward_address",
                   n->forward_address);
}

json_t *rsp__eim_detail_profiles(size_t n, const char *enabled) {
  return json_pack("{s:I, s:s?}", "count", (json_int_t)n, "enabled", enabled);
}

json_t *rsp__eim_detail_count(const char *key, int64_t v) {
  return json_pack("{s:I}", key, (json_int_t)v);
}

rsp_err_t rsp__eim_head_due(struct rsp_eim_operation *op, int64_t now, rsp_err_t found) {
  if (found == RSP_OK && op->state == RSP_EIM_OP_QUEUED && op->not_before > now)
    found = RSP_E_NOT_FOUND;
  if (found != RSP_OK) {
    rsp_eim_operation_free(op);
    rsp_eim_operation_init(op);
  }
  return found;
}
