/* ES9+ after the Bound Profile Package (SGP.22 §5.6.4, §5.6.5): HandleNotification records what
 * the eUICC reports and, for a ProfileInstallationResult, settles the order; CancelSession ends a
 * download the card or the user gave up, and puts the order back or ends it by the reason.
 *
 * Every notification is recorded, verified or not; only a verified one changes an order. A PIR
 * is verified with PK.EUICC of its session, or, when the session is gone, with the key of the
 * eUICC the order was downloaded to (notes 4.3, 4.6). */
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/crypto/x509.h"
#include "rsp/msg/es10.h"
#include "rsp/msg/tags.h"
#include "smdp_internal.h"

/* ---- recording ---------------------------------------------------------------------------------
 */

struct record {
  const char *eid;
  struct rsp_slice iccid; /* 10 bytes as in NotificationMetadata, or empty */
  int64_t seq_number;
  int event;
  bool pir, success, verified;
};

static rsp_err_t record_add(struct rsp_smdp_service *svc, const struct record *r,
                            struct rsp_slice raw) {
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  bool has_iccid =
      r->iccid.p && r->iccid.len == RSP_ICCID_LEN && rsp_iccid_decode(r->iccid.p, iccid) == RSP_OK;
  struct rsp__smdp_notification_row n = {.eid = r->eid && r->eid[0] ? r->eid : NULL,
                                         .iccid = has_iccid ? iccid : NULL,
                                         .seq_number = r->seq_number,
                                         .event = r->event,
                                         .pir = r->pir,
                                         .success = r->success,
                                         .verified = r->verified,
                                         .raw = raw};
  return rsp__smdp_notification_add(svc->db, &n, rsp__smdp_now(svc));
}

/* The NotificationEvent of profileManagementOperation: the lowest bit set. */
static int event_of(struct rsp_slice bits) {
  for (unsigned b = RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL;
       b <= RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DELETE; b++)
    if (rsp_msg_bit(bits, b)) return (int)b;
  return -1;
}

/* ---- ProfileInstallationResult -----------------------------------------------------------------
 */

/* Where a PIR's key and order come from. */
struct pir_ctx {
  struct rsp__smdp_session_row row; /* row.s.euicc_pk set: the session is known */
  struct rsp__smdp_order_row o;
  bool has_order;
  struct rsp_key *known_pk; /* the order's eUICC, when the session is gone */
  char eid[RSP_EID_DIGITS + 1];
};

static rsp_err_t pir_context(struct rsp_smdp_service *svc,
                             const struct rsp_msg_profile_installation_result_data *d,
                             struct pir_ctx *c) {
  struct rsp_slice iccid = d->notification_metadata->iccid;
  char digits[RSP_ICCID_MAX_DIGITS + 1];
  rsp_err_t rc = rsp__smdp_session_get(svc->db, d->transaction_id, &c->row);
  if (rc == RSP_OK && c->row.s.euicc_pk) {
    rc = rsp_eid_to_string(c->row.s.eid, c->eid);
    if (rc == RSP_OK && c->row.order_id)
      c->has_order = (rc = rsp__smdp_order_by_id(svc->db, c->row.order_id, &c->o)) == RSP_OK;
    return rc;
  }
  if (rc != RSP_OK && rc != RSP_E_NOT_FOUND) return rc;
  if (!iccid.p || iccid.len != RSP_ICCID_LEN || rsp_iccid_decode(iccid.p, digits) != RSP_OK)
    return RSP_OK;
  rc = rsp__smdp_order_latest(svc->db, digits, &c->o);
  c->has_order = rc == RSP_OK;
  if (rc == RSP_OK && c->o.eid[0]) {
    memcpy(c->eid, c->o.eid, sizeof c->eid);
    rc = rsp__smdp_euicc_get(svc->db, c->o.eid, &c->known_pk);
  }
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

/* A verified PIR settles the order that is waiting for it (SGP.22 §3.1.3 "BPP installation"). */
static rsp_err_t pir_apply(struct rsp_smdp_service *svc, struct pir_ctx *c,
                           const struct rsp_smdp_pir *pir, struct rsp_slice raw) {
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  bool session = c->row.s.euicc_pk != NULL;
  rsp_err_t rc = RSP_OK;
  if (session && c->row.s.stage != RSP_SMDP_STAGE_CLOSED) {
    c->row.s.stage = RSP_SMDP_STAGE_CLOSED;
    if ((rc = rsp__smdp_session_update(svc->db, &c->row)) != RSP_OK) return rc;
  }
  /* a result that failed before StoreMetadata has no ICCID: its session names the order */
  bool ours = c->has_order && (pir->has_iccid ? rsp_iccid_decode(pir->iccid, iccid) == RSP_OK &&
                                                    strcmp(iccid, c->o.iccid) == 0
                                              : session);
  if (!ours || c->o.state != RSP_SMDP_ORDER_DOWNLOADED) {
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "installation result recorded, no order waits for it");
    return RSP_OK;
  }
  rc = pir->success
           ? rsp__smdp_order_move(svc, &c->o, RSP_SMDP_ORDER_INSTALLED, RSP_SMDP_PROFILE_INSTALLED)
           : rsp__smdp_order_move(svc, &c->o, RSP_SMDP_ORDER_FAILED, RSP_SMDP_PROFILE_ERROR);
  if (rc == RSP_OK)
    rc = rsp__smdp_progress_queue(
        svc, &c->o,
        &(struct rsp__smdp_progress){.point = RSP_SMDP_POINT_BPP_INSTALLATION,
                                     .failed = !pir->success,
                                     .eid = c->eid,
                                     .result_data = raw});
  return rc;
}

/* Verifies with the key the context found; a PIR that does not verify is recorded as such. */
static rsp_err_t pir_verify(struct rsp_smdp_service *svc, struct pir_ctx *c,
                            const struct rsp_msg_profile_installation_result_data *d,
                            struct rsp_slice raw, struct rsp__smdp_refusal *ref) {
  struct rsp_smdp_pir pir;
  bool session = c->row.s.euicc_pk != NULL;
  const struct rsp_key *pk = session ? c->row.s.euicc_pk : c->known_pk;
  struct record r = {.eid = c->eid,
                     .iccid = d->notification_metadata->iccid,
                     .seq_number = d->notification_metadata->seq_number,
                     .event = RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL,
                     .pir = true};
  rsp_err_t rc = pk ? rsp_smdp_pir_verify(pk, session ? d->transaction_id : rsp_msg_slice(NULL, 0),
                                          raw.p, raw.len, &pir)
                    : RSP_E_NOT_FOUND;
  if (rc == RSP_E_NOT_FOUND)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN,
                     "no session and no known eUICC for this installation result");
  else if (rc == RSP_E_SIG_INVALID || rc == RSP_E_STATE || rsp__smdp_input_error(rc))
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED,
                     "euiccSignPIR does not verify (%s)", rsp_strerror(rc));
  else if (rc != RSP_OK)
    return rc;
  r.verified = !ref->set;
  r.success = r.verified && pir.success;
  rc = record_add(svc, &r, raw);
  if (rc == RSP_OK && r.verified) rc = pir_apply(svc, c, &pir, raw);
  return rc;
}

static rsp_err_t pir_handle(struct rsp_smdp_service *svc, struct rsp_slice raw,
                            struct rsp__smdp_refusal *ref) {
  struct rsp_arena a;
  struct rsp_msg_profile_installation_result *r = NULL;
  struct pir_ctx c;
  memset(&c, 0, sizeof c);
  rsp_smdp_session_init(&c.row.s);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc =
      rsp_msg_decode(&rsp_msgt_profile_installation_result, raw.p, raw.len, &a, (void **)&r, NULL);
  if (rsp__smdp_input_error(rc)) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_FORMAT,
                     "pendingNotification is no ProfileInstallationResult");
    rc = record_add(svc, &(struct record){.event = -1, .pir = true}, raw);
    goto out;
  }
  if (rc == RSP_OK) rc = pir_context(svc, r->profile_installation_result_data, &c);
  if (rc == RSP_OK) rc = pir_verify(svc, &c, r->profile_installation_result_data, raw, ref);
out:
  rsp_key_free(c.known_pk);
  rsp_smdp_session_free(&c.row.s);
  rsp_arena_free(&a);
  return rc;
}

/* ---- OtherSignedNotification -------------------------------------------------------------------
 */

/* The certificates the notification carries chain to our CI, and the eUICC signed it (SGP.22
 * §5.6.4); *eid gets the certificate's EID. */
static rsp_err_t other_verify(const struct rsp_smdp_service *svc,
                              const struct rsp_msg_other_signed_notification *n,
                              char eid[RSP_EID_DIGITS + 1], struct rsp__smdp_refusal *ref) {
  struct rsp_cert *eum = NULL, *euicc = NULL;
  struct rsp_key *pk = NULL;
  struct rsp_chain_result res = {0};
  struct rsp_chain_opts o = {.ignore_time = svc->id->ignore_cert_time};
  const struct rsp_slice sig = n->euicc_notification_signature;
  rsp_err_t rc = rsp_cert_parse(n->eum_certificate.p, n->eum_certificate.len, &eum);
  if (rc == RSP_OK) rc = rsp_cert_parse(n->euicc_certificate.p, n->euicc_certificate.len, &euicc);
  if (rc == RSP_OK) rc = rsp_x509_verify_euicc_chain(svc->id->cis, eum, euicc, &o, &res);
  if (rc != RSP_OK) {
    rsp__smdp_refuse(
        ref, rc == RSP_E_CERT_UNKNOWN_CI ? RSP_SMDP_SUBJECT_CI_PK : RSP_SMDP_SUBJECT_EUICC_CERT,
        rc == RSP_E_CERT_UNKNOWN_CI ? RSP_SMDP_REASON_UNKNOWN : RSP_SMDP_REASON_VERIFICATION_FAILED,
        "notification certificates: %s %s", rsp_strerror(rc), res.detail);
    rc = RSP_OK;
    goto out;
  }
  if ((rc = rsp_cert_public_key(euicc, &pk)) != RSP_OK) goto out;
  if (sig.len != RSP_SIG_RAW_LEN ||
      rsp_ecdsa_verify(pk, n->tbs_other_notification->raw.p, n->tbs_other_notification->raw.len,
                       sig.p) != RSP_OK)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED,
                     "euiccNotificationSignature does not verify");
  else
    rc = rsp_cert_subject_serial(euicc, eid, RSP_EID_DIGITS + 1);
out:
  rsp_key_free(pk);
  rsp_cert_free(eum);
  rsp_cert_free(euicc);
  return rc;
}

static rsp_err_t other_handle(struct rsp_smdp_service *svc, struct rsp_slice raw,
                              struct rsp__smdp_refusal *ref) {
  struct rsp_arena a;
  struct rsp_msg_other_signed_notification *n = NULL;
  char eid[RSP_EID_DIGITS + 1] = "";
  struct record r = {.event = -1};
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc =
      rsp_msg_decode(&rsp_msgt_other_signed_notification, raw.p, raw.len, &a, (void **)&n, NULL);
  if (rsp__smdp_input_error(rc)) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_FORMAT,
                     "pendingNotification is no OtherSignedNotification");
    rc = RSP_OK;
  } else if (rc == RSP_OK) {
    rc = other_verify(svc, n, eid, ref);
    r.eid = eid;
    r.iccid = n->tbs_other_notification->iccid;
    r.seq_number = n->tbs_other_notification->seq_number;
    r.event = event_of(n->tbs_other_notification->profile_management_operation);
  }
  r.verified = rc == RSP_OK && !ref->set;
  if (rc == RSP_OK) rc = record_add(svc, &r, raw);
  rsp_arena_free(&a);
  return rc;
}

static rsp_err_t handle_notification(struct rsp_smdp_service *svc, const void *vreq,
                                     struct rsp_msg_json_doc *mem, void *vresp,
                                     struct rsp__smdp_refusal *ref) {
  const struct rsp_es9p_json_handle_notification_req *q = vreq;
  struct rsp_der_tlv tlv;
  (void)mem;
  (void)vresp;
  /* the binding admits one TLV, BF37 or 30 (notes 6) */
  rsp_err_t rc = rsp_der_parse_one(q->pending_notification.p, q->pending_notification.len, &tlv);
  if (rc != RSP_OK) return RSP_E_INVALID_ARG;
  return tlv.tag == RSP_TAG_PROFILE_INSTALLATION_RESULT
             ? pir_handle(svc, q->pending_notification, ref)
             : other_handle(svc, q->pending_notification, ref);
}

rsp_err_t rsp_smdp_es9p_handle_notification(struct rsp_smdp_service *svc,
                                            const struct rsp_es9p_json_handle_notification_req *req,
                                            struct rsp_msg_json_doc *mem,
                                            struct rsp_es9p_json_handle_notification_resp *resp) {
  return rsp__smdp_run(svc, handle_notification, req, mem, resp, sizeof *resp);
}

/* ---- CancelSession -----------------------------------------------------------------------------
 */

/* Before AuthenticateClient the session knows no PK.EUICC, so the signature cannot be checked
 * (SGP.22 verifies with the key "attached to the ongoing RSP session"). Nothing is attached to
 * such a session either: it is closed when the answer names it and this SM-DP+. */
static rsp_err_t cs_unverified(const struct rsp_smdp_service *svc,
                               const struct rsp__smdp_session_row *row, struct rsp_slice csr,
                               int64_t *reason, struct rsp__smdp_refusal *ref) {
  struct rsp_arena a;
  void *r = NULL;
  bool sgp22 = false;
  const struct rsp_msg_cancel_session_response_ok *ok = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_es10_decode_response(rsp_es10_function_by_tag(RSP_TAG_CANCEL_SESSION_REQUEST),
                                          csr.p, csr.len, &a, &r, &sgp22, NULL);
  if (rc == RSP_OK && sgp22 &&
      ((struct rsp_msg_cancel_session_response *)r)->which ==
          RSP_MSG_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK)
    ok = ((struct rsp_msg_cancel_session_response *)r)->u.cancel_session_response_ok;
  if (rc == RSP_OK && !sgp22 &&
      ((struct rsp_msg_sgp32_cancel_session_response *)r)->which ==
          RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK)
    ok = ((struct rsp_msg_sgp32_cancel_session_response *)r)->u.cancel_session_response_ok;
  const struct rsp_msg_euicc_cancel_session_signed *c = ok ? ok->euicc_cancel_session_signed : NULL;
  if (rc != RSP_OK)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_FORMAT,
                     "cancelSessionResponse: %s", rsp_strerror(rc));
  else if (!c)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_REFUSED,
                     "the eUICC refused CancelSession");
  else if (c->transaction_id.len != row->s.transaction_id_len ||
           memcmp(c->transaction_id.p, row->s.transaction_id, c->transaction_id.len) != 0)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN,
                     "transactionId of another session");
  else if (c->smdp_oid.len != svc->id->oid_len ||
           memcmp(c->smdp_oid.p, svc->id->oid, svc->id->oid_len) != 0)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_SMDP_OID, RSP_SMDP_REASON_INVALID,
                     "smdpOid of another SM-DP+");
  else
    *reason = c->reason;
  rsp_arena_free(&a);
  return rsp__smdp_input_error(rc) || rc == RSP_OK ? RSP_OK : rc;
}

static rsp_err_t cs_verify(const struct rsp_smdp_service *svc, struct rsp__smdp_session_row *row,
                           struct rsp_slice csr, int64_t *reason, struct rsp__smdp_refusal *ref) {
  struct rsp_smdp_status st;
  rsp_err_t rc =
      rsp_smdp_cancel_session_response_verify(svc->id, &row->s, csr.p, csr.len, reason, &st);
  if (rsp__smdp_input_error(rc)) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_FORMAT,
                     "cancelSessionResponse: %s", rsp_strerror(rc));
    return RSP_OK;
  }
  if (rc == RSP_OK && !st.ok) rsp__smdp_refuse_status(ref, &st);
  return rc;
}

/* How a CancelSessionReason reaches the operator in notificationPointStatus (SGP.22 §5.3.5);
 * postponed and timeout carry no statusCodeData. */
static const struct {
  int64_t reason;
  const char *subject, *code;
} cancel_codes[] = {
    {RSP_MSG_CANCEL_SESSION_REASON_END_USER_REJECTION, RSP_SMDP_SUBJECT_DOWNLOAD_ORDER,
     RSP_SMDP_REASON_REFUSED},
    {RSP_MSG_CANCEL_SESSION_REASON_PPR_NOT_ALLOWED, RSP_SMDP_SUBJECT_PPR,
     RSP_SMDP_REASON_NOT_ALLOWED},
    {RSP_MSG_CANCEL_SESSION_REASON_METADATA_MISMATCH, RSP_SMDP_SUBJECT_PROFILE_METADATA,
     RSP_SMDP_REASON_VALUE_CHANGED},
    {RSP_MSG_CANCEL_SESSION_REASON_LOAD_BPP_EXECUTION_ERROR, RSP_SMDP_SUBJECT_BPP,
     RSP_SMDP_REASON_EXECUTION_ERROR},
    {RSP_MSG_CANCEL_SESSION_REASON_UNDEFINED_REASON, RSP_SMDP_SUBJECT_RSP,
     RSP_SMDP_REASON_EXECUTION_ERROR},
};

static rsp_err_t cs_progress(struct rsp_smdp_service *svc, const struct rsp__smdp_order_row *o,
                             enum rsp_smdp_stage was, int64_t reason, struct rsp_slice csr) {
  struct rsp__smdp_progress p = {.point = was == RSP_SMDP_STAGE_BOUND ? RSP_SMDP_POINT_BPP_DOWNLOAD
                                                                      : RSP_SMDP_POINT_ELIGIBILITY,
                                 .failed = true,
                                 .result_data = csr};
  for (size_t i = 0; i < sizeof cancel_codes / sizeof cancel_codes[0]; i++)
    if (cancel_codes[i].reason == reason) {
      p.subject = cancel_codes[i].subject;
      p.reason = cancel_codes[i].code;
    }
  return rsp__smdp_progress_queue(svc, o, &p);
}

/* postponed and timeout leave the order downloadable (a BPP handed out is taken back); every
 * other reason ends it and returns the profile to the pool (SGP.22 §5.6.5). The operator learns
 * it at the notification point the session had reached, with the signed answer as resultData. */
static rsp_err_t cs_apply(struct rsp_smdp_service *svc, const struct rsp__smdp_session_row *row,
                          enum rsp_smdp_stage was, int64_t reason, struct rsp_slice csr) {
  struct rsp__smdp_order_row o;
  bool retry = reason == RSP_MSG_CANCEL_SESSION_REASON_POSTPONED ||
               reason == RSP_MSG_CANCEL_SESSION_REASON_TIMEOUT;
  rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "session cancelled by the eUICC (reason %lld)",
          (long long)reason);
  if (!row->order_id) return RSP_OK;
  rsp_err_t rc = rsp__smdp_order_by_id(svc->db, row->order_id, &o);
  if (rc != RSP_OK) return rc;
  if (o.state != RSP_SMDP_ORDER_RELEASED && o.state != RSP_SMDP_ORDER_DOWNLOADED) return RSP_OK;
  if (!retry) {
    rc = rsp__smdp_order_move(svc, &o, RSP_SMDP_ORDER_CANCELLED, RSP_SMDP_PROFILE_AVAILABLE);
    if (rc == RSP_OK) rc = rsp__smdp_sessions_close(svc->db, o.id, rsp_msg_slice(NULL, 0));
  } else if (o.state == RSP_SMDP_ORDER_DOWNLOADED) {
    rc = rsp__smdp_order_move(svc, &o, RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  }
  if (rc == RSP_OK) rc = cs_progress(svc, &o, was, reason, csr);
  return rc;
}

static rsp_err_t cancel_session(struct rsp_smdp_service *svc, const void *vreq,
                                struct rsp_msg_json_doc *mem, void *vresp,
                                struct rsp__smdp_refusal *ref) {
  const struct rsp_es9p_json_cancel_session_req *q = vreq;
  struct rsp_es9p_json_cancel_session_resp *resp = vresp;
  struct rsp__smdp_session_row row;
  int64_t reason = -1;
  rsp_err_t rc = rsp__smdp_session_load(svc, q->transaction_id, -1, &row, ref);
  enum rsp_smdp_stage was = row.s.stage;
  if (rc != RSP_OK || ref->set) goto out;
  if (!row.s.euicc_pk)
    rc = cs_unverified(svc, &row, q->cancel_session_response, &reason, ref);
  else
    rc = cs_verify(svc, &row, q->cancel_session_response, &reason, ref);
  if (rc == RSP_OK && !ref->set) rc = cs_apply(svc, &row, was, reason, q->cancel_session_response);
  /* refused or not, the session is over (bind.h closes it on any answer) */
  row.s.stage = RSP_SMDP_STAGE_CLOSED;
  if (rc == RSP_OK) rc = rsp__smdp_session_update(svc->db, &row);
  if (rc == RSP_OK && !ref->set)
    rc = rsp__smdp_mem_dup(mem, row.s.transaction_id, row.s.transaction_id_len,
                           &resp->transaction_id);
out:
  rsp_smdp_session_free(&row.s);
  return rc;
}

rsp_err_t rsp_smdp_es9p_cancel_session(struct rsp_smdp_service *svc,
                                       const struct rsp_es9p_json_cancel_session_req *req,
                                       struct rsp_msg_json_doc *mem,
                                       struct rsp_es9p_json_cancel_session_resp *resp) {
  return rsp__smdp_run(svc, cancel_session, req, mem, resp, sizeof *resp);
}
