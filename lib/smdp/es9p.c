/* ES9+ (SGP.22 §5.6), the LPA's side of the SM-DP+, up to the Bound Profile Package:
 * InitiateAuthentication opens a download session, AuthenticateClient authenticates the eUICC and
 * ties the session to the order its matchingId names, GetBoundProfilePackage checks the card's
 * PrepareDownload (and the confirmation code) and binds the profile. The cryptography is
 * lib/smdp/bind.c; this file adds the session store, the orders and the status codes.
 *
 * A session is found by its transactionId and must be in the stage the function continues
 * (docs/smdp.md): an unknown, closed, expired or replayed transactionId is 8.10.1/3.9. A session
 * that was refused is closed, so its transactionId cannot be used again. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rsp/core/alloc.h"
#include "rsp/msg/signed.h"
#include "smdp_internal.h"

#define METADATA_MAX 4096u /* an encoded StoreMetadataRequest of ours */
#define SIGNED_MAX 1024u   /* serverSigned1, smdpSigned2 */

/* ---- shared with es9p_notify.c ----------------------------------------------------------------
 */

rsp_err_t rsp__smdp_session_load(struct rsp_smdp_service *svc, struct rsp_slice txid, int stage,
                                 struct rsp__smdp_session_row *r, struct rsp__smdp_refusal *ref) {
  rsp_err_t rc = rsp__smdp_session_get(svc->db, txid, r);
  if (rc == RSP_E_NOT_FOUND) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN,
                     "unknown transactionId");
    return RSP_OK;
  }
  if (rc != RSP_OK) return rc;
  /* a replay finds the session in a later stage; it is refused and the session left alone */
  if (r->s.stage == RSP_SMDP_STAGE_CLOSED || (stage >= 0 && (int)r->s.stage != stage)) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN,
                     "transactionId not expected here (session %s)",
                     r->s.stage == RSP_SMDP_STAGE_CLOSED ? "closed" : "in another step");
    return RSP_OK;
  }
  /* An SM-DP+ and an SM-DS may share one store: each takes only the sessions it opened. */
  if (strcasecmp(r->s.server_address, svc->address) != 0) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN,
                     "transactionId of another server");
    return RSP_OK;
  }
  if (rsp__smdp_now(svc) >= r->expires) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN,
                     "session expired");
    r->s.stage = RSP_SMDP_STAGE_CLOSED;
    return rsp__smdp_session_update(svc->db, r);
  }
  return RSP_OK;
}

void rsp__smdp_refuse_status(struct rsp__smdp_refusal *ref, const struct rsp_smdp_status *st) {
  if (st->subject)
    rsp__smdp_refuse(ref, st->subject, st->reason, "%s", st->detail);
  else /* the card answered with its own error code instead of signing */
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_REFUSED, "%s", st->detail);
}

/* A session ends: refused, cancelled or done. */
rsp_err_t rsp__smdp_session_close(struct rsp_smdp_service *svc, struct rsp__smdp_session_row *r) {
  r->s.stage = RSP_SMDP_STAGE_CLOSED;
  return rsp__smdp_session_update(svc->db, r);
}

rsp_err_t rsp__smdp_order_live(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                               struct rsp__smdp_refusal *ref) {
  rsp_err_t rc = RSP_OK;
  if (rsp__smdp_order_expired(svc, o, &rc))
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_DOWNLOAD_ORDER, RSP_SMDP_REASON_TTL_EXPIRED,
                     "order %lld expired", (long long)o->id);
  else if (o->state == RSP_SMDP_ORDER_FAILED && o->has_cc && o->cc_retries <= 0)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_DOWNLOAD_ORDER, RSP_SMDP_REASON_RETRIES_EXCEEDED,
                     "no confirmation code attempt left for order %lld", (long long)o->id);
  else if (o->state != RSP_SMDP_ORDER_RELEASED)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_REFUSED, "order %lld is %s",
                     (long long)o->id, rsp_smdp_order_state_name(o->state));
  return rc;
}

/* StoreMetadataRequest of a profile (SGP.22 §5.4.1): ICCID in EF.ICCID order, names, and every
 * notification (install, enable, disable, delete) addressed to this SM-DP+. The same inputs
 * give the same DER, so the metadata of AuthenticateClient is the one bound into the BPP. */
rsp_err_t rsp__smdp_metadata_fill(const struct rsp_smdp_service *svc,
                                  const struct rsp__smdp_profile_row *p,
                                  struct rsp__smdp_metadata *m) {
  memset(m, 0, sizeof *m);
  rsp_err_t rc = rsp_iccid_encode(p->iccid, m->iccid);
  if (rc != RSP_OK) return rc;
  m->nci.profile_management_operation =
      rsp_msg_bits_make(1u << RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL |
                            1u << RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_ENABLE |
                            1u << RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DISABLE |
                            1u << RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DELETE,
                        m->bits);
  m->nci.notification_address = rsp_msg_slice(svc->address, strlen(svc->address));
  m->list.v = &m->nci;
  m->list.n = 1;
  m->m.iccid = rsp_msg_slice(m->iccid, RSP_ICCID_LEN);
  m->m.service_provider_name = rsp_msg_slice(p->spn, strlen(p->spn));
  m->m.profile_name = rsp_msg_slice(p->name, strlen(p->name));
  m->m.notification_configuration_info = &m->list;
  return RSP_OK;
}

/* ---- InitiateAuthentication --------------------------------------------------------------------
 */

static bool ski_listed(const struct rsp_slice *v, size_t n, const struct rsp_keyid *ski) {
  for (size_t i = 0; v && i < n; i++)
    if (v[i].len == ski->len && memcmp(v[i].p, ski->id, ski->len) == 0) return true;
  return false;
}

void rsp__smdp_ia_check(const struct rsp_smdp_service *svc, const char *address,
                        struct rsp_slice euicc_info1, const char *subject_address,
                        const char *subject_security, struct rsp__smdp_refusal *ref) {
  struct rsp_arena a;
  struct rsp_msg_euicc_info1 *info = NULL;
  const struct rsp_keyid *ci = &svc->id->ci_ski;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (strcasecmp(address, svc->address) != 0)
    rsp__smdp_refuse(ref, subject_address, RSP_SMDP_REASON_REFUSED,
                     "%s is not this server's address", address);
  else if (rsp_msg_decode(&rsp_msgt_euicc_info1, euicc_info1.p, euicc_info1.len, &a, (void **)&info,
                          NULL) != RSP_OK)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_FORMAT,
                     "euiccInfo1 is not EUICCInfo1");
  else if (!info->euicc_ci_pk_id_list_for_verification || !info->euicc_ci_pk_id_list_for_signing ||
           !ski_listed(info->euicc_ci_pk_id_list_for_verification->v,
                       info->euicc_ci_pk_id_list_for_verification->n, ci) ||
           !ski_listed(info->euicc_ci_pk_id_list_for_signing->v,
                       info->euicc_ci_pk_id_list_for_signing->n, ci))
    rsp__smdp_refuse(ref, subject_security, RSP_SMDP_REASON_UNSUPPORTED,
                     "the eUICC does not support this server's CI");
  rsp_arena_free(&a);
}

static rsp_err_t ia_answer(const struct rsp_smdp_service *svc, const struct rsp_smdp_session *s,
                           const struct rsp_buf *ss1, const uint8_t sig[RSP_SIG_RAW_LEN],
                           struct rsp_msg_json_doc *mem,
                           struct rsp_es9p_json_initiate_authentication_resp *resp) {
  /* CERT.DPauth, or CERT.DSauth when the service is an SM-DS */
  struct rsp_slice cert = rsp_cert_der(svc->id->auth_cert);
  rsp_err_t rc =
      rsp__smdp_mem_dup(mem, s->transaction_id, s->transaction_id_len, &resp->transaction_id);
  if (rc == RSP_OK) rc = rsp__smdp_mem_dup(mem, ss1->data, ss1->len, &resp->server_signed1);
  if (rc == RSP_OK)
    rc = rsp__smdp_mem_tlv(mem, RSP_MSG_TAG_SIGNATURE, sig, RSP_SIG_RAW_LEN,
                           &resp->server_signature1);
  if (rc == RSP_OK)
    rc = rsp__smdp_mem_tlv(mem, RSP_DER_OCTET_STRING, svc->id->ci_ski.id, svc->id->ci_ski.len,
                           &resp->euicc_ci_pk_id_to_be_used);
  if (rc == RSP_OK) rc = rsp__smdp_mem_dup(mem, cert.p, cert.len, &resp->server_certificate);
  return rc;
}

rsp_err_t rsp__smdp_ia_open(struct rsp_smdp_service *svc, struct rsp_slice euicc_challenge,
                            struct rsp_msg_json_doc *mem,
                            struct rsp_es9p_json_initiate_authentication_resp *resp) {
  struct rsp__smdp_session_row row;
  struct rsp_buf ss1;
  uint8_t sig[RSP_SIG_RAW_LEN];
  memset(&row, 0, sizeof row);
  rsp_smdp_session_init(&row.s);
  rsp_buf_init(&ss1, SIGNED_MAX);
  rsp_err_t rc =
      rsp_smdp_server_signed1_make(svc->id, &row.s, euicc_challenge.p, svc->address, &ss1, sig);
  row.created = rsp__smdp_now(svc);
  row.expires = row.created + svc->session_ttl;
  if (rc == RSP_OK) rc = rsp__smdp_session_insert(svc->db, &row);
  if (rc == RSP_OK) rc = ia_answer(svc, &row.s, &ss1, sig, mem, resp);
  rsp_buf_free(&ss1);
  rsp_smdp_session_free(&row.s);
  return rc;
}

/* smdpAddress is ours (case-insensitive, SGP.22 §5.6.1) and the card both verifies with and signs
 * under our CI (euiccInfo1, notes 4.1): that CI is euiccCiPKIdToBeUsed. */
static rsp_err_t initiate_authentication(struct rsp_smdp_service *svc, const void *vreq,
                                         struct rsp_msg_json_doc *mem, void *vresp,
                                         struct rsp__smdp_refusal *ref) {
  const struct rsp_es9p_json_initiate_authentication_req *q = vreq;
  rsp__smdp_ia_check(svc, q->smdp_address, q->euicc_info1, RSP_SMDP_SUBJECT_SMDP_ADDRESS,
                     RSP_SMDP_SUBJECT_SECURITY_CONFIGURATION, ref);
  return ref->set ? RSP_OK : rsp__smdp_ia_open(svc, q->euicc_challenge, mem, vresp);
}

rsp_err_t rsp_smdp_es9p_initiate_authentication(
    struct rsp_smdp_service *svc, const struct rsp_es9p_json_initiate_authentication_req *req,
    struct rsp_msg_json_doc *mem, struct rsp_es9p_json_initiate_authentication_resp *resp) {
  return rsp__smdp_run(svc, initiate_authentication, req, mem, resp, sizeof *resp);
}

/* ---- AuthenticateClient ------------------------------------------------------------------------
 */

/* The order the card's matchingId names; without one (absent or empty), the released order
 * kept for the card's EID (SGP.22 §5.6.3: 8.2.6/3.8 for an unknown matchingId, 8.1.1/3.9 for an
 * EID without order). */
static rsp_err_t ac_find(struct rsp_smdp_service *svc, const struct rsp_smdp_session *s,
                         const char *eid, struct rsp__smdp_order_row *o,
                         struct rsp__smdp_refusal *ref) {
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  rsp_err_t rc;
  if (!s->has_matching_id || s->matching_id_len == 0) {
    if ((rc = rsp__smdp_order_for_eid(svc->db, eid, o)) == RSP_E_NOT_FOUND)
      rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_UNKNOWN,
                       "no matchingId and no order for this EID");
  } else if (memchr(s->matching_id, 0, s->matching_id_len)) {
    rc = RSP_E_NOT_FOUND;
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_REFUSED,
                     "matchingId with a NUL");
  } else {
    memcpy(mid, s->matching_id, s->matching_id_len);
    mid[s->matching_id_len] = '\0';
    if ((rc = rsp__smdp_order_by_matching_id(svc->db, mid, o)) == RSP_E_NOT_FOUND)
      rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_REFUSED,
                       "unknown matchingId");
  }
  return rc;
}

/* The order must be downloadable by this eUICC. Refusals after the order is found are reported
 * to its operator (eligibility check). */
static rsp_err_t ac_order(struct rsp_smdp_service *svc, const struct rsp__smdp_session_row *r,
                          struct rsp__smdp_order_row *o, struct rsp__smdp_refusal *ref) {
  char eid[RSP_EID_DIGITS + 1];
  rsp_err_t rc = rsp_eid_to_string(r->s.eid, eid);
  if (rc == RSP_OK) rc = ac_find(svc, &r->s, eid, o, ref);
  if (rc != RSP_OK) return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
  if ((rc = rsp__smdp_order_live(svc, o, ref)) != RSP_OK) return rc;
  if (!ref->set && o->eid[0] && strcmp(o->eid, eid) != 0)
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_REFUSED,
                     "order %lld is for another EID", (long long)o->id);
  if (ref->set)
    rc = rsp__smdp_progress_queue(
        svc, o,
        &(struct rsp__smdp_progress){RSP_SMDP_POINT_ELIGIBILITY, true, ref->subject, ref->reason,
                                     ref->message, eid, rsp_msg_slice(NULL, 0)});
  return rc;
}

/* smdpSigned2 with ccRequiredFlag when the order has a code. The store keeps only SHA-256(code),
 * so hashCc = SHA-256(SHA-256(code) || transactionId) (notes 4.3) is computed here from it. */
static rsp_err_t ac_signed2(struct rsp_smdp_service *svc, struct rsp_smdp_session *s,
                            const struct rsp__smdp_order_row *o, struct rsp_buf *ss2,
                            uint8_t sig[RSP_SIG_RAW_LEN]) {
  struct rsp_slice cc =
      o->has_cc ? rsp_msg_slice(o->cc_hash, sizeof o->cc_hash) : rsp_msg_slice(NULL, 0);
  rsp_err_t rc = rsp_smdp_signed2_make(svc->id, s, cc, rsp_msg_slice(NULL, 0), ss2, sig);
  if (rc == RSP_OK && o->has_cc) {
    struct rsp_slice parts[2] = {cc, rsp_msg_slice(s->transaction_id, s->transaction_id_len)};
    rc = rsp_sha256_v(parts, 2, s->hash_cc);
  }
  return rc;
}

static rsp_err_t ac_answer(struct rsp_smdp_service *svc, struct rsp__smdp_session_row *r,
                           const struct rsp__smdp_order_row *o, struct rsp_msg_json_doc *mem,
                           struct rsp_es9p_json_authenticate_client_resp *resp) {
  struct rsp__smdp_profile_row p;
  struct rsp__smdp_metadata m;
  struct rsp_buf md, ss2;
  uint8_t sig[RSP_SIG_RAW_LEN];
  struct rsp_slice cert = rsp_cert_der(svc->id->pb_cert);
  rsp_buf_init(&md, METADATA_MAX);
  rsp_buf_init(&ss2, SIGNED_MAX);
  rsp_err_t rc = rsp__smdp_profile_get(svc->db, o->iccid, &p);
  if (rc == RSP_OK) rc = rsp__smdp_metadata_fill(svc, &p, &m);
  if (rc == RSP_OK) rc = rsp_msg_encode(&rsp_msgt_sgp32_store_metadata_request, &m.m, &md, NULL);
  if (rc == RSP_OK) rc = ac_signed2(svc, &r->s, o, &ss2, sig);
  if (rc == RSP_OK)
    rc =
        rsp__smdp_mem_dup(mem, r->s.transaction_id, r->s.transaction_id_len, &resp->transaction_id);
  if (rc == RSP_OK) rc = rsp__smdp_mem_dup(mem, md.data, md.len, &resp->profile_metadata);
  if (rc == RSP_OK) rc = rsp__smdp_mem_dup(mem, ss2.data, ss2.len, &resp->smdp_signed2);
  if (rc == RSP_OK)
    rc = rsp__smdp_mem_tlv(mem, RSP_MSG_TAG_SIGNATURE, sig, sizeof sig, &resp->smdp_signature2);
  if (rc == RSP_OK) rc = rsp__smdp_mem_dup(mem, cert.p, cert.len, &resp->smdp_certificate);
  rsp_buf_free(&md);
  rsp_buf_free(&ss2);
  return rc;
}

/* The session belongs to the order now; an older session of the same order is superseded. */
static rsp_err_t ac_commit(struct rsp_smdp_service *svc, struct rsp__smdp_session_row *r,
                           struct rsp__smdp_order_row *o) {
  struct rsp_slice txid = rsp_msg_slice(r->s.transaction_id, r->s.transaction_id_len);
  int64_t now = rsp__smdp_now(svc);
  r->order_id = o->id;
  rsp_err_t rc = rsp__smdp_session_update(svc->db, r);
  if (rc == RSP_OK) rc = rsp__smdp_sessions_close(svc->db, o->id, txid);
  if (rc == RSP_OK) rc = rsp__smdp_euicc_put(svc->db, r->s.eid, r->s.euicc_pk, now);
  if (rc == RSP_OK && !o->eid[0] && (rc = rsp_eid_to_string(r->s.eid, o->eid)) == RSP_OK)
    rc = rsp__smdp_order_update(svc->db, o);
  if (rc == RSP_OK)
    rc = rsp__smdp_progress_queue(
        svc, o, &(struct rsp__smdp_progress){.point = RSP_SMDP_POINT_ELIGIBILITY});
  return rc;
}

rsp_err_t rsp__smdp_ac_verify(struct rsp_smdp_service *svc, struct rsp__smdp_session_row *row,
                              struct rsp_slice asr, struct rsp__smdp_refusal *ref) {
  struct rsp_smdp_status st;
  rsp_err_t rc =
      rsp_smdp_authenticate_server_response_verify(svc->id, &row->s, asr.p, asr.len, &st);
  if (rsp__smdp_input_error(rc)) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_FORMAT,
                     "authenticateServerResponse: %s", rsp_strerror(rc));
    rc = RSP_OK;
  } else if (rc == RSP_OK && !st.ok) {
    rsp__smdp_refuse_status(ref, &st);
  }
  return rc;
}

static rsp_err_t authenticate_client(struct rsp_smdp_service *svc, const void *vreq,
                                     struct rsp_msg_json_doc *mem, void *vresp,
                                     struct rsp__smdp_refusal *ref) {
  const struct rsp_es9p_json_authenticate_client_req *q = vreq;
  struct rsp__smdp_session_row row;
  struct rsp__smdp_order_row o;
  rsp_err_t rc =
      rsp__smdp_session_load(svc, q->transaction_id, RSP_SMDP_STAGE_AUTH_SENT, &row, ref);
  if (rc != RSP_OK || ref->set) goto out;
  rc = rsp__smdp_ac_verify(svc, &row, q->authenticate_server_response, ref);
  if (rc == RSP_OK && !ref->set) rc = ac_order(svc, &row, &o, ref);
  if (rc == RSP_OK && !ref->set) rc = ac_answer(svc, &row, &o, mem, vresp);
  if (rc == RSP_OK && !ref->set) rc = ac_commit(svc, &row, &o);
  if (rc == RSP_OK && ref->set) rc = rsp__smdp_session_close(svc, &row);
out:
  rsp_smdp_session_free(&row.s);
  return rc;
}

rsp_err_t rsp_smdp_es9p_authenticate_client(struct rsp_smdp_service *svc,
                                            const struct rsp_es9p_json_authenticate_client_req *req,
                                            struct rsp_msg_json_doc *mem,
                                            struct rsp_es9p_json_authenticate_client_resp *resp) {
  return rsp__smdp_run(svc, authenticate_client, req, mem, resp, sizeof *resp);
}

/* ---- GetBoundProfilePackage --------------------------------------------------------------------
 */

/* A wrong confirmation code spends one attempt; the last one fails the order, and the profile
 * waits in error for the operator's cancelOrder (SGP.22 §5.6.2, 8.2.7/3.8 then 8.2.7/6.4). */
static rsp_err_t gb_wrong_code(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                               struct rsp__smdp_refusal *ref) {
  rsp_err_t rc;
  if (--o->cc_retries > 0) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_REFUSED,
                     "wrong confirmation code, %lld attempts left", (long long)o->cc_retries);
    rc = rsp__smdp_order_update(svc->db, o);
  } else {
    o->cc_retries = 0;
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_RETRIES_EXCEEDED,
                     "wrong confirmation code, no attempt left");
    rc = rsp__smdp_order_move(svc, o, RSP_SMDP_ORDER_FAILED, RSP_SMDP_PROFILE_ERROR);
    if (rc == RSP_OK) rc = rsp__smdp_sessions_close(svc->db, o->id, rsp_msg_slice(NULL, 0));
  }
  if (rc == RSP_OK)
    rc = rsp__smdp_progress_queue(
        svc, o,
        &(struct rsp__smdp_progress){RSP_SMDP_POINT_CONFIRMATION, true, ref->subject, ref->reason,
                                     ref->message, NULL, rsp_msg_slice(NULL, 0)});
  return rc;
}

/* The profile package of the order, bound to the session (bind.h). */
static rsp_err_t gb_bind(struct rsp_smdp_service *svc, struct rsp__smdp_session_row *r,
                         const struct rsp__smdp_order_row *o, struct rsp_msg_json_doc *mem,
                         struct rsp_es9p_json_get_bound_profile_package_resp *resp) {
  struct rsp__smdp_profile_row p;
  struct rsp__smdp_metadata m;
  struct rsp_buf upp, bpp;
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  rsp_buf_init(&upp, RSP_SMDP_UPP_MAX);
  rsp_buf_init(&bpp, 2 * RSP_SMDP_UPP_MAX);
  rsp_err_t rc = rsp__smdp_profile_get(svc->db, o->iccid, &p);
  if (rc == RSP_OK) rc = rsp__smdp_profile_upp(svc->db, o->iccid, &upp);
  /* a package file changed under us must not go out under another ICCID's metadata */
  if (rc == RSP_OK && (rsp_smdp_profile_package_info(upp.data, upp.len, iccid, NULL, 0) != RSP_OK ||
                       strcmp(iccid, o->iccid) != 0)) {
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "the package of profile %s no longer carries its ICCID",
            o->iccid);
    rc = RSP_E_IO;
  }
  if (rc == RSP_OK) rc = rsp__smdp_metadata_fill(svc, &p, &m);
  if (rc == RSP_OK) {
    struct rsp_smdp_profile prof = {.metadata = &m.m, .upp = rsp_msg_slice(upp.data, upp.len)};
    rc = rsp_smdp_bind_profile(svc->id, &r->s, &prof, &bpp);
  }
  if (rc == RSP_OK)
    rc =
        rsp__smdp_mem_dup(mem, r->s.transaction_id, r->s.transaction_id_len, &resp->transaction_id);
  if (rc == RSP_OK) rc = rsp__smdp_mem_dup(mem, bpp.data, bpp.len, &resp->bound_profile_package);
  rsp_buf_free(&upp);
  rsp_buf_free(&bpp);
  return rc;
}

/* PrepareDownloadResponse: a wrong hashCc spends an attempt, other refusals end the session. */
static rsp_err_t gb_verify(struct rsp_smdp_service *svc, struct rsp__smdp_session_row *r,
                           struct rsp__smdp_order_row *o, struct rsp_slice pdr,
                           struct rsp__smdp_refusal *ref) {
  struct rsp_smdp_status st;
  rsp_err_t rc = rsp_smdp_prepare_download_response_verify(svc->id, &r->s, pdr.p, pdr.len, &st);
  if (rsp__smdp_input_error(rc)) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_FORMAT,
                     "prepareDownloadResponse: %s", rsp_strerror(rc));
    return RSP_OK;
  }
  if (rc != RSP_OK || st.ok) return rc;
  if (st.subject && strcmp(st.subject, RSP_SMDP_SUBJECT_CONFIRMATION_CODE) == 0 &&
      strcmp(st.reason, RSP_SMDP_REASON_REFUSED) == 0)
    return gb_wrong_code(svc, o, ref);
  rsp__smdp_refuse_status(ref, &st);
  return RSP_OK;
}

static rsp_err_t get_bound_profile_package(struct rsp_smdp_service *svc, const void *vreq,
                                           struct rsp_msg_json_doc *mem, void *vresp,
                                           struct rsp__smdp_refusal *ref) {
  const struct rsp_es9p_json_get_bound_profile_package_req *q = vreq;
  struct rsp__smdp_session_row row;
  struct rsp__smdp_order_row o;
  rsp_err_t rc =
      rsp__smdp_session_load(svc, q->transaction_id, RSP_SMDP_STAGE_PREPARE_SENT, &row, ref);
  if (rc != RSP_OK || ref->set) goto out;
  if ((rc = rsp__smdp_order_by_id(svc->db, row.order_id, &o)) != RSP_OK) goto out;
  rc = rsp__smdp_order_live(svc, &o, ref);
  if (rc == RSP_OK && !ref->set) rc = gb_verify(svc, &row, &o, q->prepare_download_response, ref);
  if (rc == RSP_OK && !ref->set) rc = gb_bind(svc, &row, &o, mem, vresp);
  if (rc == RSP_OK && !ref->set) rc = rsp__smdp_session_update(svc->db, &row);
  if (rc == RSP_OK && !ref->set)
    rc = rsp__smdp_order_move(svc, &o, RSP_SMDP_ORDER_DOWNLOADED, RSP_SMDP_PROFILE_DOWNLOADED);
  if (rc == RSP_OK && !ref->set)
    rc = rsp__smdp_progress_queue(
        svc, &o, &(struct rsp__smdp_progress){.point = RSP_SMDP_POINT_BPP_DOWNLOAD});
  if (rc == RSP_OK && ref->set) rc = rsp__smdp_session_close(svc, &row);
out:
  rsp_smdp_session_free(&row.s);
  return rc;
}

rsp_err_t rsp_smdp_es9p_get_bound_profile_package(
    struct rsp_smdp_service *svc, const struct rsp_es9p_json_get_bound_profile_package_req *req,
    struct rsp_msg_json_doc *mem, struct rsp_es9p_json_get_bound_profile_package_resp *resp) {
  return rsp__smdp_run(svc, get_bound_profile_package, req, mem, resp, sizeof *resp);
}
