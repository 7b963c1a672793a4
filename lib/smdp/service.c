/* The SM-DP+ service (include/rsp/smdp/service.h): its lifecycle, the helpers the function files
 * share, the generic JSON entry the HTTP layer calls, and the operator's view of orders,
 * notifications and the outbox. ES2+ is in es2p.c, ES9+ in es9p.c and es9p_notify.c, profiles
 * and profile packages in profiles.c, the SQLite store in store.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rsp/core/alloc.h"
#include "rsp/der/der.h"
#include "smdp_internal.h"

int64_t rsp__smdp_now(const struct rsp_smdp_service *svc) {
  return svc->now ? svc->now(svc->now_ctx) : (int64_t)time(NULL);
}

/* ---- refusals and response memory -------------------------------------------------------------
 */

void rsp__smdp_refuse(struct rsp__smdp_refusal *r, const char *subject, const char *reason,
                      const char *fmt, ...) {
  va_list ap;
  if (r->set) return; /* the first cause is the one reported */
  r->set = true;
  r->subject = subject;
  r->reason = reason;
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof r->message, fmt, ap);
  va_end(ap);
  rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "refused (%s/%s): %s", subject, reason, r->message);
}

rsp_err_t rsp__smdp_mem_dup(struct rsp_msg_json_doc *mem, const void *p, size_t n,
                            struct rsp_slice *out) {
  uint8_t *d = rsp_arena_alloc(&mem->arena, n ? n : 1);
  if (!d) return RSP_E_NOMEM;
  if (n) memcpy(d, p, n);
  *out = rsp_msg_slice(d, n);
  return RSP_OK;
}

rsp_err_t rsp__smdp_mem_str(struct rsp_msg_json_doc *mem, const char *s, const char **out) {
  struct rsp_slice d;
  size_t n = strlen(s) + 1;
  rsp_err_t rc = rsp__smdp_mem_dup(mem, s, n, &d);
  *out = rc == RSP_OK ? (const char *)d.p : NULL;
  return rc;
}

rsp_err_t rsp__smdp_mem_tlv(struct rsp_msg_json_doc *mem, uint32_t tag, const void *p, size_t n,
                            struct rsp_slice *out) {
  struct rsp_buf b;
  struct rsp_der_writer w;
  rsp_buf_init(&b, n + 16);
  rsp_der_writer_init(&w, &b);
  rsp_der_put_octets(&w, tag, p, n);
  rsp_err_t rc = rsp_der_writer_finish(&w);
  if (rc == RSP_OK) rc = rsp__smdp_mem_dup(mem, b.data, b.len, out);
  rsp_buf_free(&b);
  return rc;
}

rsp_err_t rsp__smdp_header_set(struct rsp_msg_json_resp_header *h,
                               const struct rsp__smdp_refusal *r, struct rsp_msg_json_doc *mem) {
  struct rsp_msg_json_status_code_data *d = NULL;
  memset(h, 0, sizeof *h);
  if (!r || !r->set) {
    h->function_execution_status.status = RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS;
    return RSP_OK;
  }
  if (!(d = rsp_arena_alloc(&mem->arena, sizeof *d))) return RSP_E_NOMEM;
  d->subject_code = r->subject;
  d->reason_code = r->reason;
  if (r->message[0] && rsp__smdp_mem_str(mem, r->message, &d->message) != RSP_OK)
    return RSP_E_NOMEM;
  h->function_execution_status.status = RSP_MSG_JSON_STATUS_FAILED;
  h->function_execution_status.status_code_data = d;
  return RSP_OK;
}

bool rsp__smdp_input_error(rsp_err_t rc) {
  return (rc >= RSP_E_DER_TRUNCATED && rc <= RSP_E_DER_MISSING) || rc == RSP_E_UNSUPPORTED ||
         rc == RSP_E_INVALID_ARG || rc == RSP_E_BCD_INVALID || rc == RSP_E_BUF_CAP ||
         rc == RSP_E_SIG_FORMAT || rc == RSP_E_CERT_PARSE || rc == RSP_E_KEY_INVALID;
}

rsp_err_t rsp__smdp_iccid_canon(const char *in, char out[RSP_ICCID_MAX_DIGITS + 1]) {
  uint8_t b[RSP_ICCID_LEN];
  rsp_err_t rc = in ? rsp_iccid_encode(in, b) : RSP_E_INVALID_ARG;
  if (rc == RSP_OK) rc = rsp_iccid_decode(b, out);
  return rc;
}

/* Runs one function in one transaction: the step's changes are committed together, also when it
 * refused (a closed session, a spent confirmation code attempt), and rolled back when it failed.
 * A refusal leaves only the header in *resp. */
rsp_err_t rsp__smdp_run(struct rsp_smdp_service *svc, rsp__smdp_step_fn step, const void *req,
                        struct rsp_msg_json_doc *mem, void *resp, size_t resp_size) {
  struct rsp__smdp_refusal ref;
  if (!svc || !req || !mem || !resp) return RSP_E_INVALID_ARG;
  memset(&ref, 0, sizeof ref);
  memset(resp, 0, resp_size);
  rsp_err_t rc = rsp__smdp_begin(svc->db);
  if (rc != RSP_OK) return rc;
  rc = rsp__smdp_end(svc->db, step(svc, req, mem, resp, &ref));
  if (rc != RSP_OK) return rc;
  if (ref.set) memset(resp, 0, resp_size);
  /* every response body starts with its header (json.h) */
  return rsp__smdp_header_set((struct rsp_msg_json_resp_header *)resp, &ref, mem);
}

/* ---- orders and profiles moving together ------------------------------------------------------
 */

/* An order that ends no longer needs its SM-DS event. */
static bool order_final(enum rsp_smdp_order_state s) {
  return s == RSP_SMDP_ORDER_INSTALLED || s == RSP_SMDP_ORDER_FAILED ||
         s == RSP_SMDP_ORDER_CANCELLED || s == RSP_SMDP_ORDER_EXPIRED;
}

/* The SM-DS event follows the order (SGP.22 §3.1.2, §5.5): registered when the order is released
 * (confirmOrder with releaseFlag, or releaseProfile), deleted when it ends. Both calls go out
 * after the commit (rsp_smdp_service_es12_flush). */
static rsp_err_t order_event(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                             enum rsp_smdp_order_state os) {
  if (!o->smds_address[0]) return RSP_OK;
  if (os == RSP_SMDP_ORDER_RELEASED && o->smds_event == RSP__SMDP_EVENT_NONE)
    return rsp__smdp_es12_queue(svc, o, true);
  if (order_final(os) && o->smds_event == RSP__SMDP_EVENT_REGISTERED)
    return rsp__smdp_es12_queue(svc, o, false);
  return RSP_OK;
}

rsp_err_t rsp__smdp_order_move(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                               enum rsp_smdp_order_state os, enum rsp_smdp_profile_state ps) {
  rsp_err_t rc = order_event(svc, o, os);
  if (rc != RSP_OK) return rc;
  o->state = os;
  rc = rsp__smdp_order_update(svc->db, o);
  if (rc == RSP_OK) rc = rsp__smdp_profile_set_state(svc->db, o->iccid, ps, rsp__smdp_now(svc));
  if (rc == RSP_OK)
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "order %lld (ICCID %s): %s, profile %s", (long long)o->id,
            o->iccid, rsp_smdp_order_state_name(os), rsp_smdp_profile_state_name(ps));
  return rc;
}

bool rsp__smdp_order_expired(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                             rsp_err_t *rc) {
  bool waiting = o->state == RSP_SMDP_ORDER_ALLOCATED || o->state == RSP_SMDP_ORDER_CONFIRMED ||
                 o->state == RSP_SMDP_ORDER_RELEASED;
  *rc = RSP_OK;
  if (!waiting || rsp__smdp_now(svc) < o->expires) return false;
  /* nothing was handed out for an order that never got its BPP: the profile can serve again */
  *rc = rsp__smdp_order_move(svc, o, RSP_SMDP_ORDER_EXPIRED, RSP_SMDP_PROFILE_AVAILABLE);
  if (*rc == RSP_OK) *rc = rsp__smdp_sessions_close(svc->db, o->id, rsp_msg_slice(NULL, 0));
  return true;
}

/* ---- lifecycle ---------------------------------------------------------------------------------
 */

static rsp_err_t options_check(const struct rsp_smdp_service_options *o) {
  struct rsp_msg_activation_code ac;
  char text[RSP_SMDP_AC_MAX];
  const char *why = NULL;
  if (!o || !o->db_path || !o->identity || !o->address || !o->address[0] ||
      strlen(o->address) > RSP_SMDP_ADDRESS_MAX || o->session_ttl < 0 || o->order_ttl < 0 ||
      o->cc_retries < 0 || (o->requester_id && strlen(o->requester_id) > RSP_SMDP_REQUESTER_MAX))
    return RSP_E_INVALID_ARG;
  /* the address goes into every activation code: it must be one (SGP.22 §4.1) */
  rsp_msg_activation_code_init(&ac);
  snprintf(ac.smdp_address, sizeof ac.smdp_address, "%s", o->address);
  snprintf(ac.matching_id, sizeof ac.matching_id, "CHECK");
  if (rsp_msg_activation_code_format(&ac, text, sizeof text, NULL, &why) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "SM-DP+ address \"%s\": %s", o->address,
            why ? why : "invalid");
    return RSP_E_INVALID_ARG;
  }
  return RSP_OK;
}

rsp_err_t rsp_smdp_service_open(const struct rsp_smdp_service_options *o,
                                struct rsp_smdp_service **out) {
  struct rsp_smdp_service *svc = NULL;
  rsp_err_t rc = RSP_E_INTERNAL;
  if (!out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if ((rc = options_check(o)) != RSP_OK) return rc;
  if (!(svc = rsp_calloc(1, sizeof *svc))) return RSP_E_NOMEM;
  svc->id = o->identity;
  snprintf(svc->address, sizeof svc->address, "%s", o->address);
  snprintf(svc->requester_id, sizeof svc->requester_id, "%s",
           o->requester_id ? o->requester_id : o->address);
  svc->session_ttl = o->session_ttl ? o->session_ttl : RSP_SMDP_SESSION_TTL_DEFAULT;
  svc->order_ttl = o->order_ttl ? o->order_ttl : RSP_SMDP_ORDER_TTL_DEFAULT;
  svc->cc_retries = o->cc_retries ? o->cc_retries : RSP_SMDP_CC_RETRIES_DEFAULT;
  svc->now = o->now;
  svc->now_ctx = o->now_ctx;
  if ((rc = rsp__smdp_db_open(o->db_path, &svc->db)) != RSP_OK) {
    rsp_smdp_service_destroy(svc);
    return rc;
  }
  *out = svc;
  return RSP_OK;
}

void rsp_smdp_service_destroy(struct rsp_smdp_service *svc) {
  if (!svc) return;
  rsp__smdp_db_close(svc->db);
  rsp_free(svc);
}

/* ---- the generic JSON entry --------------------------------------------------------------------
 */

static rsp_err_t h_download_order(struct rsp_smdp_service *s, const void *q,
                                  struct rsp_msg_json_doc *m, void *r) {
  return rsp_smdp_es2p_download_order(s, q, m, r);
}
static rsp_err_t h_confirm_order(struct rsp_smdp_service *s, const void *q,
                                 struct rsp_msg_json_doc *m, void *r) {
  return rsp_smdp_es2p_confirm_order(s, q, m, r);
}
static rsp_err_t h_cancel_order(struct rsp_smdp_service *s, const void *q,
                                struct rsp_msg_json_doc *m, void *r) {
  return rsp_smdp_es2p_cancel_order(s, q, m, r);
}
static rsp_err_t h_release_profile(struct rsp_smdp_service *s, const void *q,
                                   struct rsp_msg_json_doc *m, void *r) {
  return rsp_smdp_es2p_release_profile(s, q, m, r);
}
static rsp_err_t h_initiate_authentication(struct rsp_smdp_service *s, const void *q,
                                           struct rsp_msg_json_doc *m, void *r) {
  return rsp_smdp_es9p_initiate_authentication(s, q, m, r);
}
static rsp_err_t h_authenticate_client(struct rsp_smdp_service *s, const void *q,
                                       struct rsp_msg_json_doc *m, void *r) {
  return rsp_smdp_es9p_authenticate_client(s, q, m, r);
}
static rsp_err_t h_get_bound_profile_package(struct rsp_smdp_service *s, const void *q,
                                             struct rsp_msg_json_doc *m, void *r) {
  return rsp_smdp_es9p_get_bound_profile_package(s, q, m, r);
}
static rsp_err_t h_handle_notification(struct rsp_smdp_service *s, const void *q,
                                       struct rsp_msg_json_doc *m, void *r) {
  return rsp_smdp_es9p_handle_notification(s, q, m, r);
}
static rsp_err_t h_cancel_session(struct rsp_smdp_service *s, const void *q,
                                  struct rsp_msg_json_doc *m, void *r) {
  return rsp_smdp_es9p_cancel_session(s, q, m, r);
}

/* The functions this service serves; the subject of a body that does not decode falls back to
 * the eUICC (ES9+, what the LPA relays) or the profile (ES2+). */
static const struct rsp__smdp_route smdp_routes[] = {
    {RSP_MSG_JSON_FUNC_ES2P_DOWNLOAD_ORDER, NULL, h_download_order, RSP_SMDP_SUBJECT_PROFILE},
    {RSP_MSG_JSON_FUNC_ES2P_CONFIRM_ORDER, NULL, h_confirm_order, RSP_SMDP_SUBJECT_PROFILE},
    {RSP_MSG_JSON_FUNC_ES2P_CANCEL_ORDER, NULL, h_cancel_order, RSP_SMDP_SUBJECT_PROFILE},
    {RSP_MSG_JSON_FUNC_ES2P_RELEASE_PROFILE, NULL, h_release_profile, RSP_SMDP_SUBJECT_PROFILE},
    {RSP_MSG_JSON_FUNC_ES9P_INITIATE_AUTHENTICATION, NULL, h_initiate_authentication,
     RSP_SMDP_SUBJECT_EUICC},
    {RSP_MSG_JSON_FUNC_ES9P_AUTHENTICATE_CLIENT, NULL, h_authenticate_client,
     RSP_SMDP_SUBJECT_EUICC},
    {RSP_MSG_JSON_FUNC_ES9P_GET_BOUND_PROFILE_PACKAGE, NULL, h_get_bound_profile_package,
     RSP_SMDP_SUBJECT_EUICC},
    {RSP_MSG_JSON_FUNC_ES9P_HANDLE_NOTIFICATION, NULL, h_handle_notification,
     RSP_SMDP_SUBJECT_EUICC},
    {RSP_MSG_JSON_FUNC_ES9P_CANCEL_SESSION, NULL, h_cancel_session, RSP_SMDP_SUBJECT_EUICC},
};

/* The subject of the object a request key names (SGP.22 §5.2.6). */
static const struct {
  const char *key, *subject;
} key_subjects[] = {
    {"transactionId", RSP_SMDP_SUBJECT_TRANSACTION_ID},
    {"smdpAddress", RSP_SMDP_SUBJECT_SMDP_ADDRESS},
    {"iccid", RSP_SMDP_SUBJECT_ICCID},
    {"eid", RSP_SMDP_SUBJECT_EID},
    {"profileType", RSP_SMDP_SUBJECT_PROFILE_TYPE},
    {"matchingId", RSP_SMDP_SUBJECT_MATCHING_ID},
    {"confirmationCode", RSP_SMDP_SUBJECT_CONFIRMATION_CODE},
    {"finalProfileStatusIndicator", RSP_SMDP_SUBJECT_ICCID},
    {"smdsAddress", RSP_SMDS_SUBJECT_SMDS_ADDRESS},
};

/* A route's own path, or its function's; a query string is ignored. */
static bool route_path_is(const struct rsp__smdp_route *r, const char *path) {
  size_t n = strcspn(path, "?");
  if (!r->path) return rsp_msg_json_func_from_path(path) == r->func;
  return strlen(r->path) == n && memcmp(r->path, path, n) == 0;
}

static const struct rsp__smdp_route *route_find(const struct rsp__smdp_route *routes, size_t n,
                                                const char *path) {
  for (size_t i = 0; i < n; i++)
    if (route_path_is(&routes[i], path)) return &routes[i];
  return NULL;
}

/* A body that is JSON but breaks the binding is a Failed answer (2.2 for a missing key, 2.1 for
 * the rest) about the key's object; one that is no JSON object at all is HTTP 400. */
static bool decode_refusal(const struct rsp__smdp_route *r, const struct rsp_msg_json_diag *d,
                           struct rsp__smdp_refusal *ref) {
  const char *subject = r->subject;
  size_t klen = strcspn(d->key, ".");
  if (d->problem == RSP_MSG_JSON_P_SYNTAX || d->problem == RSP_MSG_JSON_P_NOMEM ||
      (d->problem == RSP_MSG_JSON_P_SIZE && !d->key[0]))
    return false;
  for (size_t i = 0; i < sizeof key_subjects / sizeof key_subjects[0]; i++)
    if (strlen(key_subjects[i].key) == klen && strncmp(key_subjects[i].key, d->key, klen) == 0)
      subject = key_subjects[i].subject;
  rsp__smdp_refuse(ref, subject,
                   d->problem == RSP_MSG_JSON_P_MISSING ? RSP_SMDP_REASON_MISSING
                                                        : RSP_SMDP_REASON_FORMAT,
                   "%s", d->text);
  return true;
}

/* Encodes the answer; a successful handleNotification has none (204). */
static rsp_err_t respond(const struct rsp__smdp_route *r, const struct rsp_msg_json_func_info *info,
                         const void *resp, int *http_status, struct rsp_buf *out) {
  struct rsp_msg_json_diag diag;
  const struct rsp_msg_json_resp_header *h = resp;
  if (r->func == RSP_MSG_JSON_FUNC_ES9P_HANDLE_NOTIFICATION && rsp_msg_json_status_ok(h)) {
    *http_status = 204;
    return RSP_OK;
  }
  rsp_err_t rc = rsp_msg_json_encode(info->response, resp, out, &diag);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "cannot encode the %s answer: %s", info->name,
            diag.text);
  *http_status = 200;
  return rc;
}

rsp_err_t rsp_smdp_service_handle(struct rsp_smdp_service *svc, const char *path, const char *body,
                                  size_t len, int *http_status, struct rsp_buf *response) {
  return rsp__smdp_handle_json(svc, smdp_routes, sizeof smdp_routes / sizeof smdp_routes[0], path,
                               body, len, http_status, response);
}

rsp_err_t rsp__smdp_handle_json(struct rsp_smdp_service *svc, const struct rsp__smdp_route *routes,
                                size_t n_routes, const char *path, const char *body, size_t len,
                                int *http_status, struct rsp_buf *response) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_msg_json_doc doc;
  struct rsp_msg_json_diag diag;
  struct rsp__smdp_refusal ref;
  if (!svc || !path || !http_status || !response || (!body && len)) return RSP_E_INVALID_ARG;
  const struct rsp__smdp_route *r = route_find(routes, n_routes, path);
  *http_status = 404;
  if (!r) return RSP_OK;
  const struct rsp_msg_json_func_info *info = rsp_msg_json_func_get(r->func);
  rsp_msg_json_doc_init(&doc);
  memset(&ref, 0, sizeof ref);
  void *req = rsp_arena_alloc(&doc.arena, info->request->size);
  void *resp = rsp_arena_alloc(&doc.arena, info->response->size);
  if (!req || !resp) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  if ((rc = rsp_msg_json_decode(info->request, body ? body : "", len, &doc, req, &diag)) !=
      RSP_OK) {
    if (rc == RSP_E_NOMEM) goto out;
    if (!decode_refusal(r, &diag, &ref)) {
      rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "%s: bad request: %s", path, diag.text);
      *http_status = 400;
      rc = RSP_OK;
      goto out;
    }
    rc = rsp__smdp_header_set(resp, &ref, &doc);
  } else {
    rc = r->fn(svc, req, &doc, resp);
  }
  if (rc == RSP_OK) rc = respond(r, info, resp, http_status, response);
out:
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "%s: %s", path, rsp_strerror(rc));
    *http_status = 500;
  }
  rsp_msg_json_doc_free(&doc);
  return rc;
}

/* ---- the operator's view ----------------------------------------------------------------------
 */

static void activation_code(const struct rsp_smdp_service *svc, const struct rsp__smdp_order_row *o,
                            char *out, size_t size) {
  struct rsp_msg_activation_code ac;
  const char *matching_id = o->matching_id;
  out[0] = '\0';
  if (o->state == RSP_SMDP_ORDER_ALLOCATED) return; /* confirmOrder gives the matchingId */
  rsp_msg_activation_code_init(&ac);
  ac.lpa_prefix = true;
  snprintf(ac.smdp_address, sizeof ac.smdp_address, "%s", svc->address);
  snprintf(ac.matching_id, sizeof ac.matching_id, "%s", matching_id);
  if (rsp_msg_activation_code_format(&ac, out, size, NULL, NULL) != RSP_OK) out[0] = '\0';
}

rsp_err_t rsp_smdp_service_order_get(struct rsp_smdp_service *svc, const char *iccid,
                                     struct rsp_smdp_order_info *out) {
  struct rsp__smdp_order_row o;
  char canon[RSP_ICCID_MAX_DIGITS + 1];
  if (!svc || !iccid || !out) return RSP_E_INVALID_ARG;
  memset(out, 0, sizeof *out);
  rsp_err_t rc = rsp__smdp_iccid_canon(iccid, canon);
  if (rc == RSP_OK) rc = rsp__smdp_order_latest(svc->db, canon, &o);
  if (rc != RSP_OK) return rc;
  out->id = o.id;
  memcpy(out->iccid, o.iccid, sizeof out->iccid);
  memcpy(out->eid, o.eid, sizeof out->eid);
  memcpy(out->matching_id, o.matching_id, sizeof out->matching_id);
  out->state = o.state;
  out->release_flag = o.release_flag;
  out->cc_required = o.has_cc;
  out->cc_retries = (int)o.cc_retries;
  out->expires = o.expires;
  activation_code(svc, &o, out->activation_code, sizeof out->activation_code);
  memcpy(out->smds_address, o.smds_address, sizeof out->smds_address);
  out->smds_event = o.smds_event;
  return RSP_OK;
}

rsp_err_t rsp_smdp_service_notification_last(struct rsp_smdp_service *svc,
                                             struct rsp_smdp_notification_info *out) {
  if (!svc || !out) return RSP_E_INVALID_ARG;
  return rsp__smdp_notification_last(svc->db, out);
}

rsp_err_t rsp_smdp_service_outbox_next(struct rsp_smdp_service *svc,
                                       struct rsp_smdp_outbox_item *item) {
  if (!svc || !item) return RSP_E_INVALID_ARG;
  return rsp__smdp_outbox_next(svc->db, item);
}

rsp_err_t rsp_smdp_service_outbox_done(struct rsp_smdp_service *svc, int64_t id) {
  if (!svc) return RSP_E_INVALID_ARG;
  return rsp__smdp_outbox_done(svc->db, id, rsp__smdp_now(svc));
}

void rsp_smdp_outbox_item_free(struct rsp_smdp_outbox_item *item) {
  if (!item) return;
  rsp_free(item->body);
  item->body = NULL;
  item->body_len = 0;
}

/* Expires due orders in batches, then drops sessions long over. */
static rsp_err_t expire_run(struct rsp_smdp_service *svc, size_t *orders, size_t *sessions) {
  int64_t ids[64];
  size_t n = 0;
  rsp_err_t rc;
  do {
    rc = rsp__smdp_orders_due(svc->db, rsp__smdp_now(svc), ids, 64, &n);
    for (size_t i = 0; rc == RSP_OK && i < n; i++) {
      struct rsp__smdp_order_row o;
      rc = rsp__smdp_order_by_id(svc->db, ids[i], &o);
      if (rc == RSP_OK && rsp__smdp_order_expired(svc, &o, &rc) && rc == RSP_OK) (*orders)++;
    }
  } while (rc == RSP_OK && n == 64);
  if (rc == RSP_OK)
    rc = rsp__smdp_sessions_purge(svc->db, rsp__smdp_now(svc) - RSP__SMDP_SESSION_KEEP, sessions);
  return rc;
}

rsp_err_t rsp_smdp_service_expire(struct rsp_smdp_service *svc, size_t *orders, size_t *sessions) {
  size_t no = 0, ns = 0;
  if (!svc) return RSP_E_INVALID_ARG;
  rsp_err_t rc = rsp__smdp_begin(svc->db);
  if (rc == RSP_OK) rc = rsp__smdp_end(svc->db, expire_run(svc, &no, &ns));
  if (orders) *orders = rc == RSP_OK ? no : 0;
  if (sessions) *sessions = rc == RSP_OK ? ns : 0;
  return rc;
}

/* ---- ES12 toward the SM-DSs --------------------------------------------------------------------
 */

/* What the SM-DS answered: Executed-Success, or its refusal (logged; not worth a retry). */
static void es12_outcome(const struct rsp__smdp_es12_item *it, const struct rsp_buf *resp,
                         char *out, size_t size) {
  struct rsp_msg_json_doc doc;
  struct rsp_es12_json_delete_event_resp r; /* header only, as registerEvent's answer */
  rsp_msg_json_doc_init(&doc);
  snprintf(out, size, "unreadable answer");
  if (rsp_msg_json_decode(&rsp_es12_json_delete_event_resp_type, (const char *)resp->data,
                          resp->len, &doc, &r, NULL) == RSP_OK) {
    const struct rsp_msg_json_status_code_data *c =
        r.header.function_execution_status.status_code_data;
    const char *name = rsp_msg_json_status_name(r.header.function_execution_status.status);
    snprintf(out, size, "%s%s%s%s%s", name ? name : "no status", c ? " " : "",
             c ? c->subject_code : "", c ? "/" : "", c ? c->reason_code : "");
  }
  rsp_msg_json_doc_free(&doc);
  rsp_log(strncmp(out, "Executed-", 9) == 0 ? RSP_LOG_INFO : RSP_LOG_WARN, RSP__SMDP_COMP,
          "ES12 %s (order %lld) at %s: %s", strrchr(it->path, '/') + 1, (long long)it->order_id,
          it->smds_address, out);
}

rsp_err_t rsp_smdp_service_es12_flush(struct rsp_smdp_service *svc,
                                      const struct rsp_smdp_es12_ops *ops, void *ctx,
                                      size_t *delivered) {
  struct rsp__smdp_es12_item it;
  struct rsp_buf resp;
  char outcome[128];
  size_t n = 0;
  rsp_err_t rc = RSP_OK;
  if (!svc || !ops || !ops->call) return RSP_E_INVALID_ARG;
  rsp_buf_init(&resp, RSP_MSG_JSON_MAX_BODY);
  while (rc == RSP_OK) {
    int status = 0;
    if ((rc = rsp__smdp_es12_next(svc->db, &it)) != RSP_OK) break;
    rsp_buf_reset(&resp);
    rc = ops->call(ctx, it.smds_address, it.path, it.body, it.body_len, &status, &resp);
    if (rc == RSP_OK && status != 200) {
      rsp_log(RSP_LOG_WARN, RSP__SMDP_COMP, "ES12 %s at %s: HTTP %d", it.path, it.smds_address,
              status);
      rc = RSP_E_NET;
    }
    if (rc == RSP_OK) {
      es12_outcome(&it, &resp, outcome, sizeof outcome);
      rc = rsp__smdp_es12_done(svc->db, it.id, outcome, rsp__smdp_now(svc));
    }
    if (rc == RSP_OK) n++;
    rsp_free(it.body);
  }
  rsp_buf_free(&resp);
  if (delivered) *delivered = n;
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

rsp_err_t rsp_smdp_service_es12_pending(struct rsp_smdp_service *svc, size_t *count) {
  if (!svc || !count) return RSP_E_INVALID_ARG;
  return rsp__smdp_es12_pending(svc->db, count);
}
