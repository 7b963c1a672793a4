/* ES2+ (SGP.22 §5.3), the operator's side of the SM-DP+: DownloadOrder reserves a profile,
 * ConfirmOrder fixes the matchingId, the confirmation code and the release, CancelOrder ends an
 * order and decides what becomes of the profile, ReleaseProfile releases a confirmed order; and
 * the HandleDownloadProgressInfo bodies the SM-DP+ queues for the operator.
 *
 * Status codes (SGP.22 §5.3 function tables; docs/smdp.md): an ICCID this SM-DP+ does not hold is
 * 8.2.1/3.9, a profile not available 8.2.1/3.3, an order in a state the function cannot leave
 * 8.2.1/3.5, an EID other than the one already associated 8.1.1/3.10, a matchingId used by another
 * order 8.2.6/3.3 and one not belonging to the order 8.2.6/3.10, a profile type without any
 * profile 8.2.5/3.9 or without an available one 8.2.5/3.7, an expired order 8.8.5/4.10. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rsp/core/alloc.h"
#include "smdp_internal.h"

/* Crockford's base32 alphabet: no I, L, O, U, so a generated matchingId reads back unambiguously.
 */
static const char MATCHING_ID_ALPHABET[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
#define MATCHING_ID_GROUPS 4
#define MATCHING_ID_GROUP_LEN 5

/* ---- shared checks -----------------------------------------------------------------------------
 */

/* The EID of a request as 32 digits; "" when absent. */
static void eid_string(struct rsp_slice eid, char out[RSP_EID_DIGITS + 1],
                       struct rsp__smdp_refusal *ref) {
  out[0] = '\0';
  if (eid.p && (eid.len != RSP_EID_LEN || rsp_eid_to_string(eid.p, out) != RSP_OK))
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_FORMAT, "EID is not 32 digits");
}

/* The profile an ES2+ iccid names. */
static rsp_err_t profile_named(struct rsp_smdp_service *svc, const char *iccid,
                               struct rsp__smdp_profile_row *p, struct rsp__smdp_refusal *ref) {
  char canon[RSP_ICCID_MAX_DIGITS + 1];
  if (rsp__smdp_iccid_canon(iccid, canon) != RSP_OK) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_FORMAT, "ICCID is not valid");
    return RSP_OK;
  }
  rsp_err_t rc = rsp__smdp_profile_get(svc->db, canon, p);
  if (rc == RSP_E_NOT_FOUND)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_UNKNOWN, "unknown ICCID %s",
                     canon);
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

/* The current order of the profile an iccid names. */
static rsp_err_t order_named(struct rsp_smdp_service *svc, const char *iccid,
                             struct rsp__smdp_order_row *o, struct rsp__smdp_refusal *ref) {
  struct rsp__smdp_profile_row p;
  rsp_err_t rc = profile_named(svc, iccid, &p, ref);
  if (rc != RSP_OK || ref->set) return rc;
  rc = rsp__smdp_order_latest(svc->db, p.iccid, o);
  if (rc == RSP_E_NOT_FOUND)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_INVALID_TRANSITION,
                     "profile %s has no order", p.iccid);
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

/* The order must be in `want`; an order whose time ran out is expired on the way. */
static rsp_err_t order_in(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                          enum rsp_smdp_order_state want, struct rsp__smdp_refusal *ref) {
  rsp_err_t rc = RSP_OK;
  if (rsp__smdp_order_expired(svc, o, &rc))
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_DOWNLOAD_ORDER, RSP_SMDP_REASON_TTL_EXPIRED,
                     "order %lld expired", (long long)o->id);
  else if (o->state != want)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_INVALID_TRANSITION,
                     "order of %s is %s", o->iccid, rsp_smdp_order_state_name(o->state));
  return rc;
}

/* ---- DownloadOrder -----------------------------------------------------------------------------
 */

static rsp_err_t pick(struct rsp_smdp_service *svc,
                      const struct rsp_es2p_json_download_order_req *q,
                      struct rsp__smdp_profile_row *p, struct rsp__smdp_refusal *ref) {
  bool known = false;
  rsp_err_t rc = RSP_OK;
  if (q->iccid) {
    if ((rc = profile_named(svc, q->iccid, p, ref)) != RSP_OK || ref->set) return rc;
    if (p->state != RSP_SMDP_PROFILE_AVAILABLE)
      rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_IN_USE, "profile %s is %s",
                       p->iccid, rsp_smdp_profile_state_name(p->state));
    else if (q->profile_type && strcmp(q->profile_type, p->profile_type) != 0)
      rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_PROFILE_TYPE, RSP_SMDP_REASON_REFUSED,
                       "profile %s is not of type %s", p->iccid, q->profile_type);
    return RSP_OK;
  }
  if (!q->profile_type) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_PROFILE_TYPE, RSP_SMDP_REASON_MISSING,
                     "neither iccid nor profileType");
    return RSP_OK;
  }
  rc = rsp__smdp_profile_pick(svc->db, q->profile_type, p, &known);
  if (rc == RSP_E_NOT_FOUND)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_PROFILE_TYPE,
                     known ? RSP_SMDP_REASON_UNAVAILABLE : RSP_SMDP_REASON_UNKNOWN,
                     known ? "no profile of type %s available" : "unknown profile type %s",
                     q->profile_type);
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

static rsp_err_t download_order(struct rsp_smdp_service *svc, const void *vreq,
                                struct rsp_msg_json_doc *mem, void *vresp,
                                struct rsp__smdp_refusal *ref) {
  const struct rsp_es2p_json_download_order_req *q = vreq;
  struct rsp_es2p_json_download_order_resp *resp = vresp;
  struct rsp__smdp_profile_row p;
  struct rsp__smdp_order_row o;
  int64_t now = rsp__smdp_now(svc);
  memset(&o, 0, sizeof o);
  eid_string(q->eid, o.eid, ref);
  rsp_err_t rc = ref->set ? RSP_OK : pick(svc, q, &p, ref);
  if (rc != RSP_OK || ref->set) return rc;
  memcpy(o.iccid, p.iccid, sizeof o.iccid);
  memcpy(o.profile_type, p.profile_type, sizeof o.profile_type);
  snprintf(o.requester, sizeof o.requester, "%s",
           q->header.function_requester_identifier ? q->header.function_requester_identifier : "");
  o.created = now;
  o.expires = now + svc->order_ttl;
  o.cc_retries = svc->cc_retries;
  o.state = RSP_SMDP_ORDER_ALLOCATED;
  if ((rc = rsp__smdp_order_insert(svc->db, &o)) != RSP_OK) return rc;
  rc = rsp__smdp_profile_set_state(
      svc->db, p.iccid, o.eid[0] ? RSP_SMDP_PROFILE_LINKED : RSP_SMDP_PROFILE_ALLOCATED, now);
  if (rc == RSP_OK) rc = rsp__smdp_mem_str(mem, p.iccid, &resp->iccid);
  if (rc == RSP_OK)
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "order %lld: profile %s for %s", (long long)o.id, p.iccid,
            o.eid[0] ? o.eid : "any eUICC");
  return rc;
}

rsp_err_t rsp_smdp_es2p_download_order(struct rsp_smdp_service *svc,
                                       const struct rsp_es2p_json_download_order_req *req,
                                       struct rsp_msg_json_doc *mem,
                                       struct rsp_es2p_json_download_order_resp *resp) {
  return rsp__smdp_run(svc, download_order, req, mem, resp, sizeof *resp);
}

/* ---- ConfirmOrder ------------------------------------------------------------------------------
 */

/* A matchingId must fit an activation code (SGP.22 §4.1: printable, no '$'). */
static bool matching_id_ok(const struct rsp_smdp_service *svc, const char *mid) {
  struct rsp_msg_activation_code ac;
  char text[RSP_SMDP_AC_MAX];
  if (!mid[0] || strlen(mid) > RSP_SMDP_MATCHING_ID_MAX) return false;
  rsp_msg_activation_code_init(&ac);
  snprintf(ac.smdp_address, sizeof ac.smdp_address, "%s", svc->address);
  snprintf(ac.matching_id, sizeof ac.matching_id, "%s", mid);
  return rsp_msg_activation_code_format(&ac, text, sizeof text, NULL, NULL) == RSP_OK;
}

static rsp_err_t matching_id_generate(char out[RSP_SMDP_MATCHING_ID_MAX + 1]) {
  uint8_t r[MATCHING_ID_GROUPS * MATCHING_ID_GROUP_LEN];
  size_t k = 0;
  rsp_err_t rc = rsp_random(r, sizeof r);
  if (rc != RSP_OK) return rc;
  for (size_t i = 0; i < sizeof r; i++) {
    if (i && i % MATCHING_ID_GROUP_LEN == 0) out[k++] = '-';
    out[k++] = MATCHING_ID_ALPHABET[r[i] % (sizeof MATCHING_ID_ALPHABET - 1)];
  }
  out[k] = '\0';
  return RSP_OK;
}

/* The operator's matchingId, unique among all orders, or a fresh one when it gave none. An empty
 * one is kept empty: the order is then found by the card's EID (SGP.22 §3.1.2, the default
 * SM-DP+ address case), so it needs one (8.1.1/2.2). */
static rsp_err_t matching_id_set(struct rsp_smdp_service *svc, const char *given,
                                 struct rsp__smdp_order_row *o, struct rsp__smdp_refusal *ref) {
  struct rsp__smdp_order_row other;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  rsp_err_t rc = RSP_OK;
  bool generate = !given;
  if (given && !given[0]) {
    if (!o->eid[0])
      rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_MISSING,
                       "an order without matchingId needs the EID");
    o->matching_id[0] = '\0';
    return RSP_OK;
  }
  if (!generate && !matching_id_ok(svc, given)) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_FORMAT,
                     "matchingId cannot be part of an activation code");
    return RSP_OK;
  }
  for (int attempt = 0; attempt < 4; attempt++) {
    if (generate && (rc = matching_id_generate(mid)) != RSP_OK) return rc;
    if (!generate) snprintf(mid, sizeof mid, "%s", given);
    rc = rsp__smdp_order_by_matching_id(svc->db, mid, &other);
    if (rc == RSP_E_NOT_FOUND || (rc == RSP_OK && other.id == o->id)) {
      memcpy(o->matching_id, mid, sizeof o->matching_id);
      return RSP_OK;
    }
    if (rc != RSP_OK || !generate) break;
  }
  if (rc == RSP_OK)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_IN_USE,
                     "matchingId already in use");
  return rc;
}

/* smdsAddress (SGP.22 §5.3.2): the order's event goes to that SM-DS once released, named by the
 * card's EID and the order's matchingId (its eventId), so both are needed; the address must fit
 * where the device will use it, as an activation code's SM-DP+ address does. */
static void confirm_smds(const char *smds, struct rsp__smdp_order_row *o,
                         struct rsp__smdp_refusal *ref) {
  struct rsp_msg_activation_code ac;
  char text[RSP_SMDP_AC_MAX];
  if (!smds) return;
  rsp_msg_activation_code_init(&ac);
  if (strlen(smds) <= RSP_SMDP_ADDRESS_MAX)
    snprintf(ac.smdp_address, sizeof ac.smdp_address, "%s", smds);
  snprintf(ac.matching_id, sizeof ac.matching_id, "CHECK");
  if (!smds[0] || strlen(smds) > RSP_SMDP_ADDRESS_MAX ||
      rsp_msg_activation_code_format(&ac, text, sizeof text, NULL, NULL) != RSP_OK)
    rsp__smdp_refuse(ref, RSP_SMDS_SUBJECT_SMDS_ADDRESS, RSP_SMDP_REASON_FORMAT,
                     "smdsAddress is not an address");
  else if (!o->eid[0])
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_MISSING,
                     "an event at the SM-DS needs the EID");
  else if (!o->matching_id[0])
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_MISSING,
                     "an event at the SM-DS needs a matchingId (its eventId)");
  else
    snprintf(o->smds_address, sizeof o->smds_address, "%s", smds);
}

/* eid, matchingId, smdsAddress and confirmation code of the confirmation. */
static rsp_err_t confirm_fields(struct rsp_smdp_service *svc,
                                const struct rsp_es2p_json_confirm_order_req *q,
                                struct rsp__smdp_order_row *o, struct rsp__smdp_refusal *ref) {
  char eid[RSP_EID_DIGITS + 1];
  eid_string(q->eid, eid, ref);
  if (ref->set) return RSP_OK;
  if (eid[0] && o->eid[0] && strcmp(eid, o->eid) != 0) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_INVALID,
                     "order %lld is for another EID", (long long)o->id);
    return RSP_OK;
  }
  if (eid[0]) memcpy(o->eid, eid, sizeof o->eid);
  rsp_err_t rc = matching_id_set(svc, q->matching_id, o, ref);
  if (rc != RSP_OK || ref->set) return rc;
  confirm_smds(q->smds_address, o, ref);
  if (ref->set) return RSP_OK;
  /* only SHA-256(code) is kept: hashCc is computed from it (notes 4.3) */
  o->has_cc = q->confirmation_code && q->confirmation_code[0];
  if (o->has_cc) {
    rc = rsp_sha256(q->confirmation_code, strlen(q->confirmation_code), o->cc_hash);
    o->cc_retries = svc->cc_retries;
  }
  return rc;
}

static rsp_err_t confirm_order(struct rsp_smdp_service *svc, const void *vreq,
                               struct rsp_msg_json_doc *mem, void *vresp,
                               struct rsp__smdp_refusal *ref) {
  const struct rsp_es2p_json_confirm_order_req *q = vreq;
  struct rsp_es2p_json_confirm_order_resp *resp = vresp;
  struct rsp__smdp_order_row o;
  uint8_t eid[RSP_EID_LEN];
  rsp_err_t rc = order_named(svc, q->iccid, &o, ref);
  if (rc == RSP_OK && !ref->set) rc = order_in(svc, &o, RSP_SMDP_ORDER_ALLOCATED, ref);
  if (rc == RSP_OK && !ref->set) rc = confirm_fields(svc, q, &o, ref);
  if (rc != RSP_OK || ref->set) return rc;
  o.release_flag = q->release_flag.v;
  rc = rsp__smdp_order_move(
      svc, &o, o.release_flag ? RSP_SMDP_ORDER_RELEASED : RSP_SMDP_ORDER_CONFIRMED,
      o.release_flag ? RSP_SMDP_PROFILE_RELEASED : RSP_SMDP_PROFILE_CONFIRMED);
  if (rc == RSP_E_EXISTS) /* the unique matchingId, should a peer have taken it meanwhile */
    rc = RSP_E_STATE;
  if (rc == RSP_OK && o.eid[0] && (rc = rsp_eid_from_string(o.eid, eid)) == RSP_OK)
    rc = rsp__smdp_mem_dup(mem, eid, sizeof eid, &resp->eid);
  if (rc == RSP_OK) rc = rsp__smdp_mem_str(mem, o.matching_id, &resp->matching_id);
  if (rc == RSP_OK) rc = rsp__smdp_mem_str(mem, svc->address, &resp->smdp_address);
  return rc;
}

rsp_err_t rsp_smdp_es2p_confirm_order(struct rsp_smdp_service *svc,
                                      const struct rsp_es2p_json_confirm_order_req *req,
                                      struct rsp_msg_json_doc *mem,
                                      struct rsp_es2p_json_confirm_order_resp *resp) {
  return rsp__smdp_run(svc, confirm_order, req, mem, resp, sizeof *resp);
}

/* ---- CancelOrder -------------------------------------------------------------------------------
 */

/* Orders CancelOrder may end: not yet downloaded, or failed and waiting for this decision. A BPP
 * already handed out is waited for (its PIR decides). */
static bool cancellable(enum rsp_smdp_order_state s) {
  return s == RSP_SMDP_ORDER_ALLOCATED || s == RSP_SMDP_ORDER_CONFIRMED ||
         s == RSP_SMDP_ORDER_RELEASED || s == RSP_SMDP_ORDER_FAILED;
}

static rsp_err_t cancel_order(struct rsp_smdp_service *svc, const void *vreq,
                              struct rsp_msg_json_doc *mem, void *vresp,
                              struct rsp__smdp_refusal *ref) {
  const struct rsp_es2p_json_cancel_order_req *q = vreq;
  struct rsp__smdp_order_row o;
  char eid[RSP_EID_DIGITS + 1];
  const char *fpsi = q->final_profile_status_indicator;
  enum rsp_smdp_profile_state final = RSP_SMDP_PROFILE_AVAILABLE;
  rsp_err_t rc = order_named(svc, q->iccid, &o, ref);
  if (rc != RSP_OK || ref->set) return rc;
  eid_string(q->eid, eid, ref);
  if (ref->set) return RSP_OK;
  if (strcmp(fpsi, "Unavailable") == 0)
    final = RSP_SMDP_PROFILE_UNAVAILABLE;
  else if (strcmp(fpsi, "Available") != 0)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_FORMAT,
                     "finalProfileStatusIndicator \"%s\"", fpsi);
  if (!cancellable(o.state))
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_INVALID_TRANSITION,
                     "order of %s is %s", o.iccid, rsp_smdp_order_state_name(o.state));
  if (eid[0] && o.eid[0] && strcmp(eid, o.eid) != 0)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_INVALID,
                     "order %lld is for another EID", (long long)o.id);
  if (q->matching_id && strcmp(q->matching_id, o.matching_id) != 0)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_INVALID,
                     "matchingId is not the order's");
  if (ref->set) return RSP_OK;
  rc = rsp__smdp_order_move(svc, &o, RSP_SMDP_ORDER_CANCELLED, final);
  if (rc == RSP_OK) rc = rsp__smdp_sessions_close(svc->db, o.id, rsp_msg_slice(NULL, 0));
  (void)mem;
  return rc;
}

rsp_err_t rsp_smdp_es2p_cancel_order(struct rsp_smdp_service *svc,
                                     const struct rsp_es2p_json_cancel_order_req *req,
                                     struct rsp_msg_json_doc *mem,
                                     struct rsp_es2p_json_cancel_order_resp *resp) {
  return rsp__smdp_run(svc, cancel_order, req, mem, resp, sizeof *resp);
}

/* ---- ReleaseProfile ----------------------------------------------------------------------------
 */

static rsp_err_t release_profile(struct rsp_smdp_service *svc, const void *vreq,
                                 struct rsp_msg_json_doc *mem, void *vresp,
                                 struct rsp__smdp_refusal *ref) {
  const struct rsp_es2p_json_release_profile_req *q = vreq;
  struct rsp__smdp_order_row o;
  rsp_err_t rc = order_named(svc, q->iccid, &o, ref);
  if (rc == RSP_OK && !ref->set) rc = order_in(svc, &o, RSP_SMDP_ORDER_CONFIRMED, ref);
  if (rc != RSP_OK || ref->set) return rc;
  o.release_flag = true;
  (void)mem;
  return rsp__smdp_order_move(svc, &o, RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
}

rsp_err_t rsp_smdp_es2p_release_profile(struct rsp_smdp_service *svc,
                                        const struct rsp_es2p_json_release_profile_req *req,
                                        struct rsp_msg_json_doc *mem,
                                        struct rsp_es2p_json_release_profile_resp *resp) {
  return rsp__smdp_run(svc, release_profile, req, mem, resp, sizeof *resp);
}

/* ---- HandleDownloadProgressInfo (SM-DP+ -> operator) -------------------------------------------
 */

/* The request body of one notification point, queued in the outbox in the caller's
 * transaction: it is sent if and only if the state change it reports is committed. */
rsp_err_t rsp__smdp_progress_queue(struct rsp_smdp_service *svc,
                                   const struct rsp__smdp_order_row *o,
                                   const struct rsp__smdp_progress *p) {
  struct rsp_es2p_json_handle_download_progress_info_req q;
  struct rsp_msg_json_status_code_data scd = {p->subject, p->reason, NULL, p->message};
  struct rsp_msg_json_diag diag;
  struct rsp_buf body;
  uint8_t eid[RSP_EID_LEN], nonce[4];
  char ts[32], call_id[80];
  int64_t now = rsp__smdp_now(svc);
  time_t t = (time_t)now;
  struct tm tm;
  const char *eid_digits = p->eid ? p->eid : o->eid;
  memset(&q, 0, sizeof q);
  rsp_buf_init(&body, RSP_MSG_JSON_MAX_BODY);
  rsp_err_t rc = rsp_random(nonce, sizeof nonce);
  if (rc != RSP_OK) return rc;
  /* timestamp "YYYY-MM-DDThh:mm:ssTZD" (notes 6), in UTC */
  if (!gmtime_r(&t, &tm) || strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return RSP_E_INTERNAL;
  snprintf(call_id, sizeof call_id, "%lld-%d-%lld-%02X%02X%02X%02X", (long long)o->id, p->point,
           (long long)now, nonce[0], nonce[1], nonce[2], nonce[3]);
  q.header.function_requester_identifier = svc->requester_id;
  q.header.function_call_identifier = call_id;
  if (eid_digits && eid_digits[0] && rsp_eid_from_string(eid_digits, eid) == RSP_OK)
    q.eid = rsp_msg_slice(eid, sizeof eid);
  q.iccid = o->iccid;
  q.profile_type = o->profile_type;
  q.timestamp = ts;
  q.notification_point_id = rsp_msg_int_make(p->point);
  q.notification_point_status.status =
      p->failed ? RSP_MSG_JSON_STATUS_FAILED : RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS;
  q.notification_point_status.status_code_data = p->subject ? &scd : NULL;
  q.result_data = p->result_data;
  rc = rsp_msg_json_encode(&rsp_es2p_json_handle_download_progress_info_req_type, &q, &body, &diag);
  if (rc == RSP_OK) rc = rsp_buf_append_byte(&body, 0);
  if (rc == RSP_OK)
    rc = rsp__smdp_outbox_add(svc->db, o->id, o->requester,
                              RSP_ES2P_PATH_HANDLE_DOWNLOAD_PROGRESS_INFO, (const char *)body.data,
                              now);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "cannot queue the progress of order %lld: %s",
            (long long)o->id, rc == RSP_E_JSON_INVALID ? diag.text : rsp_strerror(rc));
  rsp_buf_free(&body);
  return rc;
}

/* ---- ES12 calls toward the SM-DS (SM-DP+ -> SM-DS) ---------------------------------------------
 */

/* ES12.RegisterEvent {eid, rspServerAddress = this SM-DP+, eventId = matchingId} or
 * ES12.DeleteEvent {eid, eventId} (SGP.22 §5.5), queued in the caller's transaction: it goes out
 * if and only if the order's state change commits (rsp_smdp_service_es12_flush). */
rsp_err_t rsp__smdp_es12_queue(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                               bool register_event) {
  struct rsp_es12_json_register_event_req rq;
  struct rsp_es12_json_delete_event_req dq;
  struct rsp_msg_json_diag diag;
  struct rsp_buf body;
  uint8_t eid[RSP_EID_LEN], nonce[4];
  char call_id[80];
  int64_t now = rsp__smdp_now(svc);
  rsp_err_t rc = rsp_random(nonce, sizeof nonce);
  if (rc == RSP_OK) rc = rsp_eid_from_string(o->eid, eid);
  if (rc != RSP_OK) return rc;
  snprintf(call_id, sizeof call_id, "%lld-%s-%lld-%02X%02X%02X%02X", (long long)o->id,
           register_event ? "register" : "delete", (long long)now, nonce[0], nonce[1], nonce[2],
           nonce[3]);
  struct rsp_msg_json_req_header h = {svc->requester_id, call_id};
  rsp_buf_init(&body, RSP_MSG_JSON_MAX_BODY);
  if (register_event) {
    rq = (struct rsp_es12_json_register_event_req){h, rsp_msg_slice(eid, sizeof eid), svc->address,
                                                   o->matching_id,
                                                   (struct rsp_msg_bool){false, true}};
    rc = rsp_msg_json_encode(&rsp_es12_json_register_event_req_type, &rq, &body, &diag);
  } else {
    dq = (struct rsp_es12_json_delete_event_req){h, rsp_msg_slice(eid, sizeof eid), o->matching_id};
    rc = rsp_msg_json_encode(&rsp_es12_json_delete_event_req_type, &dq, &body, &diag);
  }
  if (rc == RSP_OK) rc = rsp_buf_append_byte(&body, 0);
  if (rc == RSP_OK)
    rc = rsp__smdp_es12_add(svc->db, o->id, o->smds_address,
                            register_event ? RSP_ES12_PATH_REGISTER_EVENT
                                           : RSP_ES12_PATH_DELETE_EVENT,
                            (const char *)body.data, now);
  if (rc == RSP_OK)
    o->smds_event = register_event ? RSP__SMDP_EVENT_REGISTERED : RSP__SMDP_EVENT_DELETED;
  else
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "cannot queue the SM-DS event of order %lld: %s",
            (long long)o->id, rc == RSP_E_JSON_INVALID ? diag.text : rsp_strerror(rc));
  rsp_buf_free(&body);
  return rc;
}
