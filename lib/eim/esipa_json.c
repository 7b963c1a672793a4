/* The ESipa JSON binding of the eIM (SGP.32 §6.4.1, notes 2.3a): POST
 * /gsma/rsp2/esipa/<function> with a JSON body, mapped onto the same logic as the ASN.1 binding
 * (service.c, service_result.c) through lib/msg's ESipa JSON tables (rsp/msg/json.h). Each
 * request becomes the ASN.1 message it stands for (the TLVs it carries in base64 are decoded
 * with the same strict codec), and the answer is written back in JSON.
 *
 * Status forms chosen where the notes list several (2.3a): "nothing to do" is Executed-Success
 * with eimPackageError 1 (OIR, IAPYX; GD-IPA accepts it too); the real errors (eidNotFound,
 * invalidEid, missingEid) are status Failed with the statusCodeData of CR12011R00 (subject 8.1.1,
 * reasons 3.9, 2.1, 2.2), which every surveyed IPA maps back; a result refused for its signature
 * is Failed with subject 8.1 (eUICC), reason 6.1 (verification failed), which maps to
 * undefinedError. The download functions answer the relay's ESipa error values as Failed with
 * the ES9+ subject/reason codes the relay itself maps from the SM-DP+ (lib/eim/relay.c, docs/adr/
 * 0006), so a value goes through both mappings unchanged; undefinedError (and any value without
 * a code) is subject 8.8 (SM-DP+), reason 4.2 (execution error). */
#include <string.h>

#include "rsp/core/log.h"
#include "rsp/der/der.h"
#include "rsp/msg/signed.h"
#include "rsp/msg/json.h"
#include "rsp/msg/tags.h"
#include "service_internal.h"

#define EIM_PACKAGE_ERROR_NO_PACKAGE                                                               \
  RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_NO_EIM_PACKAGE_AVAILABLE

/* The subject and reason of a result refused for its signature (SGP.22 §6.5.2 style codes). */
static const struct rsp_msg_json_status_code_data VERIFICATION_FAILED = {
    .subject_code = "8.1", .reason_code = "6.1", .message = "eUICC signature or certificate"};

static void failed_header(struct rsp_msg_json_resp_header *h,
                          struct rsp_msg_json_status_code_data *scd) {
  h->function_execution_status.status = RSP_MSG_JSON_STATUS_FAILED;
  h->function_execution_status.status_code_data = scd;
}

static void success_header(struct rsp_msg_json_resp_header *h) {
  h->function_execution_status.status = RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS;
  h->function_execution_status.status_code_data = NULL;
}

static rsp_err_t write_json(const struct rsp_msg_json_type *t, const void *body,
                            struct rsp_buf *resp, int *status) {
  struct rsp_msg_json_diag diag = {0};
  rsp_err_t rc = rsp_msg_json_encode(t, body, resp, &diag);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, RSP__EIM_SVC, "JSON answer not encodable: %s", diag.text);
  *status = rc == RSP_OK ? 200 : 500;
  return rc;
}

/* ---- getEimPackage (§6.4.1.5) ------------------------------------------------------------------
 */

static rsp_err_t get_eim_package(struct rsp_eim_service *s, const char *body, size_t len,
                                 struct rsp_msg_json_doc *doc, struct rsp__eim_answer *a,
                                 struct rsp_buf *resp, int *status) {
  struct rsp_esipa_json_get_eim_package_req q;
  struct rsp_esipa_json_get_eim_package_resp r = {0};
  struct rsp_msg_json_status_code_data scd = {0};
  if (rsp_msg_json_decode(&rsp_esipa_json_get_eim_package_req_type, body, len, doc, &q, NULL) !=
      RSP_OK) {
    a->kind = RSP__EIM_ANS_BAD_REQUEST;
    return RSP_OK;
  }
  struct rsp_msg_get_eim_package_request g = {
      .eid_value = q.eid_value,
      .notify_state_change = q.notify_state_change.present && q.notify_state_change.v,
      .state_change_cause = q.state_change_cause,
      .r_plmn = q.r_plmn};
  rsp_err_t rc = rsp__eim_get_package(s, &g, a);
  if (rc != RSP_OK) return rc;
  if (a->kind == RSP__EIM_ANS_PACKAGE) {
    struct rsp_slice p = rsp_msg_slice(a->bytes.data, a->bytes.len);
    uint32_t tag = a->bytes.len >= 2 ? (uint32_t)a->bytes.data[0] << 8 | a->bytes.data[1] : 0;
    success_header(&r.header);
    if (tag == RSP_TAG_EUICC_PACKAGE_REQUEST)
      r.euicc_package_request = p;
    else if (tag == RSP_TAG_IPA_EUICC_DATA_REQUEST)
      r.ipa_euicc_data_request = p;
    else
      r.profile_download_trigger_request = p;
  } else if (a->code != EIM_PACKAGE_ERROR_NO_PACKAGE &&
             rsp_esipa_json_eim_package_error_status(a->code, &scd) == RSP_OK) {
    failed_header(&r.header, &scd);
  } else {
    success_header(&r.header);
    r.eim_package_error = rsp_msg_int_make(a->code);
  }
  return write_json(&rsp_esipa_json_get_eim_package_resp_type, &r, resp, status);
}

/* ---- provideEimPackageResult (§6.4.1.6) --------------------------------------------------------
 */

static rsp_err_t provide_answer(const struct rsp__eim_answer *a, struct rsp_buf *resp,
                                int *status) {
  struct rsp_esipa_json_provide_eim_package_result_resp r = {0};
  struct rsp_msg_json_status_code_data scd = VERIFICATION_FAILED;
  struct rsp_buf acks;
  rsp_err_t rc = RSP_OK;
  rsp_buf_init(&acks, 16 * RSP_EIM_SERVICE_MAX_ACKS);
  if (a->kind == RSP__EIM_ANS_PROVIDE_ERROR) {
    /* eidNotFound, invalidEid and missingEid have the codes of eimPackageError (CR12011R00) */
    if (rsp_esipa_json_eim_package_error_status(a->code, &scd) != RSP_OK) scd = VERIFICATION_FAILED;
    failed_header(&r.header, &scd);
  } else {
    success_header(&r.header);
    if (a->n_acks) {
      struct rsp_msg_eim_acknowledgements l = {.v = (int64_t *)a->acks, .n = a->n_acks};
      rc = rsp_msg_encode(&rsp_msgt_eim_acknowledgements, &l, &acks, NULL);
      r.eim_acknowledgements = rsp_msg_slice(acks.data, acks.len);
    }
  }
  if (rc == RSP_OK)
    rc = write_json(&rsp_esipa_json_provide_eim_package_result_resp_type, &r, resp, status);
  rsp_buf_free(&acks);
  return rc;
}

static rsp_err_t provide_result(struct rsp_eim_service *s, const char *body, size_t len,
                                struct rsp_msg_json_doc *doc, struct rsp__eim_answer *a,
                                struct rsp_buf *resp, int *status) {
  struct rsp_esipa_json_provide_eim_package_result_req q;
  struct rsp_msg_eim_package_result *r = NULL;
  if (rsp_msg_json_decode(&rsp_esipa_json_provide_eim_package_result_req_type, body, len, doc, &q,
                          NULL) != RSP_OK ||
      rsp_msg_decode(&rsp_msgt_eim_package_result, q.eim_package_result.p, q.eim_package_result.len,
                     &doc->arena, (void **)&r, NULL) != RSP_OK) {
    a->kind = RSP__EIM_ANS_BAD_REQUEST;
    return RSP_OK;
  }
  struct rsp_msg_provide_eim_package_result p = {.eid_value = q.eid_value, .eim_package_result = r};
  rsp_err_t rc = rsp__eim_provide_result(s, &p, a);
  return rc == RSP_OK ? provide_answer(a, resp, status) : rc;
}

/* ---- handleNotification (§6.4.1.7) -------------------------------------------------------------
 */

static rsp_err_t handle_notification(struct rsp_eim_service *s, const char *body, size_t len,
                                     struct rsp_msg_json_doc *doc, struct rsp__eim_answer *a,
                                     int *status) {
  struct rsp_esipa_json_handle_notification_req q;
  struct rsp_msg_handle_notification_esipa h = {0};
  struct rsp_msg_esipa_message_from_ipa_to_eim m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA,
      .u.handle_notification_esipa = &h};
  rsp_err_t rc =
      rsp_msg_json_decode(&rsp_esipa_json_handle_notification_req_type, body, len, doc, &q, NULL);
  if (rc == RSP_OK && q.pending_notification.p) {
    h.which = RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PENDING_NOTIFICATION;
    rc = rsp_msg_decode(&rsp_msgt_sgp32_pending_notification, q.pending_notification.p,
                        q.pending_notification.len, &doc->arena, (void **)&h.u.pending_notification,
                        NULL);
  } else if (rc == RSP_OK) {
    h.which = RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PROVIDE_EIM_PACKAGE_RESULT;
    rc = rsp_msg_decode(&rsp_msgt_provide_eim_package_result, q.provide_eim_package_result.p,
                        q.provide_eim_package_result.len, &doc->arena,
                        (void **)&h.u.provide_eim_package_result, NULL);
  }
  if (rc == RSP_E_NOMEM) return rc;
  if (rc != RSP_OK) {
    a->kind = RSP__EIM_ANS_BAD_REQUEST;
    return RSP_OK;
  }
  rc = rsp__eim_handle_message(s, &m, a);
  if (rc == RSP_OK && a->kind != RSP__EIM_ANS_BAD_REQUEST) *status = 204;
  return rc;
}

/* ---- the download functions (§6.4.1.1 to .3, .8): through the relay ----------------------------
 */

static void dl_failed(struct rsp_msg_json_resp_header *h, struct rsp_msg_json_status_code_data *scd,
                      enum rsp_esipa_json_download f, int64_t value) {
  rsp_esipa_json_download_error_status(f, value, scd);
  failed_header(h, scd);
}

/* `tag` L value as one TLV in the doc's arena (the JSON fields carry complete TLVs). */
static struct rsp_slice wrap(struct rsp_msg_json_doc *doc, uint32_t tag, struct rsp_slice v) {
  struct rsp_buf b;
  struct rsp_der_writer w;
  struct rsp_slice out = {NULL, 0};
  rsp_buf_init(&b, v.len + 16);
  rsp_der_writer_init(&w, &b);
  rsp_der_put_tlv(&w, tag, v.p, v.len);
  uint8_t *copy = rsp_der_writer_finish(&w) == RSP_OK ? rsp_arena_alloc(&doc->arena, b.len) : NULL;
  if (copy) {
    memcpy(copy, b.data, b.len);
    out = rsp_msg_slice(copy, b.len);
  }
  rsp_buf_free(&b);
  return out;
}

static const char *cstr(struct rsp_msg_json_doc *doc, struct rsp_slice s) {
  char *t = s.p ? rsp_arena_alloc(&doc->arena, s.len + 1) : NULL;
  if (t) memcpy(t, s.p, s.len);
  return t;
}

/* Decodes one TLV of a request into `type` (the doc's arena keeps it). */
static rsp_err_t tlv(struct rsp_msg_json_doc *doc, const struct rsp_msg_type *type,
                     struct rsp_slice s, void **out) {
  *out = NULL;
  if (!s.p) return RSP_OK;
  return rsp_msg_decode(type, s.p, s.len, &doc->arena, out, NULL);
}

/* The relay's answer (DER) as the EsipaMessageFromEimToIpa alternative `which`. */
static const struct rsp_msg_esipa_message_from_eim_to_ipa *
relay_answer(struct rsp_msg_json_doc *doc, const struct rsp__eim_answer *a, int which) {
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  if (a->kind != RSP__EIM_ANS_RAW ||
      rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, a->bytes.data, a->bytes.len,
                     &doc->arena, (void **)&m, NULL) != RSP_OK ||
      m->which != which)
    return NULL;
  return m;
}

static rsp_err_t ia_answer(struct rsp_msg_json_doc *doc, const struct rsp__eim_answer *a,
                           struct rsp_buf *resp, int *status) {
  struct rsp_esipa_json_initiate_authentication_resp r = {0};
  struct rsp_msg_json_status_code_data scd = {0};
  const struct rsp_msg_esipa_message_from_eim_to_ipa *m = relay_answer(
      doc, a, RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_INITIATE_AUTHENTICATION_RESPONSE_ESIPA);
  const struct rsp_msg_initiate_authentication_response_esipa *x =
      m ? m->u.initiate_authentication_response_esipa : NULL;
  if (x &&
      x->which == RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_OK_ESIPA) {
    const struct rsp_msg_initiate_authentication_ok_esipa *ok =
        x->u.initiate_authentication_ok_esipa;
    success_header(&r.header);
    r.transaction_id = ok->transaction_id;
    r.server_signed1 = ok->server_signed1->raw;
    r.server_signature1 = wrap(doc, RSP_MSG_TAG_SIGNATURE, ok->server_signature1);
    r.euicc_ci_pk_identifier_to_be_used =
        wrap(doc, RSP_DER_OCTET_STRING, ok->euicc_ci_pk_identifier_to_be_used);
    r.server_certificate = ok->server_certificate;
    r.matching_id = cstr(doc, ok->matching_id);
    if (ok->ctx_params1) r.ctx_params1 = ok->ctx_params1->raw;
  } else {
    dl_failed(&r.header, &scd, RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION,
              x ? x->u.initiate_authentication_error_esipa : 127);
  }
  return write_json(&rsp_esipa_json_initiate_authentication_resp_type, &r, resp, status);
}

static rsp_err_t ac_answer(struct rsp_msg_json_doc *doc, const struct rsp__eim_answer *a,
                           struct rsp_buf *resp, int *status) {
  struct rsp_esipa_json_authenticate_client_resp r = {0};
  struct rsp_msg_json_status_code_data scd = {0};
  const struct rsp_msg_esipa_message_from_eim_to_ipa *m = relay_answer(
      doc, a, RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_AUTHENTICATE_CLIENT_RESPONSE_ESIPA);
  const struct rsp_msg_authenticate_client_response_esipa *x =
      m ? m->u.authenticate_client_response_esipa : NULL;
  int64_t value = 127;
  if (x && x->which == RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_OK_DP_ESIPA) {
    const struct rsp_msg_authenticate_client_ok_dp_esipa *ok = x->u.authenticate_client_ok_dp_esipa;
    success_header(&r.header);
    r.transaction_id = ok->transaction_id;
    if (ok->profile_meta_data) r.profile_metadata = ok->profile_meta_data->raw;
    r.smdp_signed2 = ok->smdp_signed2->raw;
    r.smdp_signature2 = wrap(doc, RSP_MSG_TAG_SIGNATURE, ok->smdp_signature2);
    r.smdp_certificate = ok->smdp_certificate;
    if (ok->hash_cc.p) r.hash_cc = wrap(doc, RSP_DER_OCTET_STRING, ok->hash_cc);
  } else if (x && x->which ==
                      RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_OK_DS_ESIPA) {
    const struct rsp_msg_authenticate_client_ok_ds_esipa *ok = x->u.authenticate_client_ok_ds_esipa;
    success_header(&r.header);
    r.transaction_id = ok->transaction_id;
    if (ok->profile_download_trigger)
      r.profile_download_trigger = ok->profile_download_trigger->raw;
  } else {
    if (x && x->which == RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_ERROR_ESIPA)
      value = x->u.authenticate_client_error_esipa;
    dl_failed(&r.header, &scd, RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, value);
  }
  return write_json(&rsp_esipa_json_authenticate_client_resp_type, &r, resp, status);
}

static rsp_err_t bpp_answer(struct rsp_msg_json_doc *doc, const struct rsp__eim_answer *a,
                            struct rsp_buf *resp, int *status) {
  struct rsp_esipa_json_get_bound_profile_package_resp r = {0};
  struct rsp_msg_json_status_code_data scd = {0};
  const struct rsp_msg_esipa_message_from_eim_to_ipa *m = relay_answer(
      doc, a, RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA);
  const struct rsp_msg_get_bound_profile_package_response_esipa *x =
      m ? m->u.get_bound_profile_package_response_esipa : NULL;
  if (x &&
      x->which ==
          RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA_GET_BOUND_PROFILE_PACKAGE_OK_ESIPA) {
    success_header(&r.header);
    r.transaction_id = x->u.get_bound_profile_package_ok_esipa->transaction_id;
    r.bound_profile_package = x->u.get_bound_profile_package_ok_esipa->bound_profile_package->raw;
  } else {
    dl_failed(&r.header, &scd, RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE,
              x ? x->u.get_bound_profile_package_error_esipa : 127);
  }
  return write_json(&rsp_esipa_json_get_bound_profile_package_resp_type, &r, resp, status);
}

static rsp_err_t cs_answer(struct rsp_msg_json_doc *doc, const struct rsp__eim_answer *a,
                           struct rsp_buf *resp, int *status) {
  struct rsp_esipa_json_cancel_session_resp r = {0};
  struct rsp_msg_json_status_code_data scd = {0};
  const struct rsp_msg_esipa_message_from_eim_to_ipa *m =
      relay_answer(doc, a, RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_CANCEL_SESSION_RESPONSE_ESIPA);
  const struct rsp_msg_cancel_session_response_esipa *x =
      m ? m->u.cancel_session_response_esipa : NULL;
  if (x && x->which == RSP_MSG_CANCEL_SESSION_RESPONSE_ESIPA_CANCEL_SESSION_OK)
    success_header(&r.header);
  else
    dl_failed(&r.header, &scd, RSP_ESIPA_JSON_DL_CANCEL_SESSION,
              x ? x->u.cancel_session_error : 127);
  return write_json(&rsp_esipa_json_cancel_session_resp_type, &r, resp, status);
}

/* The JSON request as the ASN.1 download request it stands for. */
static rsp_err_t ia_request(const char *body, size_t len, struct rsp_msg_json_doc *doc,
                            struct rsp_msg_esipa_message_from_ipa_to_eim *m) {
  struct rsp_esipa_json_initiate_authentication_req q;
  struct rsp_msg_initiate_authentication_request_esipa *r = rsp_arena_alloc(&doc->arena, sizeof *r);
  if (!r) return RSP_E_NOMEM;
  rsp_err_t rc = rsp_msg_json_decode(&rsp_esipa_json_initiate_authentication_req_type, body, len,
                                     doc, &q, NULL);
  if (rc == RSP_OK) rc = tlv(doc, &rsp_msgt_euicc_info1, q.euicc_info1, (void **)&r->euicc_info1);
  r->euicc_challenge = q.euicc_challenge;
  if (q.smdp_address) r->smdp_address = rsp_msg_slice(q.smdp_address, strlen(q.smdp_address));
  r->eim_transaction_id = q.eim_transaction_id;
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA;
  m->u.initiate_authentication_request_esipa = r;
  return rc;
}

static rsp_err_t ac_request(const char *body, size_t len, struct rsp_msg_json_doc *doc,
                            struct rsp_msg_esipa_message_from_ipa_to_eim *m) {
  struct rsp_esipa_json_authenticate_client_req q;
  struct rsp_msg_authenticate_client_request_esipa *r = rsp_arena_alloc(&doc->arena, sizeof *r);
  if (!r) return RSP_E_NOMEM;
  rsp_err_t rc =
      rsp_msg_json_decode(&rsp_esipa_json_authenticate_client_req_type, body, len, doc, &q, NULL);
  if (rc == RSP_OK)
    rc = tlv(doc, &rsp_msgt_sgp32_authenticate_server_response, q.authenticate_server_response,
             (void **)&r->authenticate_server_response);
  r->transaction_id = q.transaction_id;
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA;
  m->u.authenticate_client_request_esipa = r;
  return rc;
}

static rsp_err_t bpp_request(const char *body, size_t len, struct rsp_msg_json_doc *doc,
                             struct rsp_msg_esipa_message_from_ipa_to_eim *m) {
  struct rsp_esipa_json_get_bound_profile_package_req q;
  struct rsp_msg_get_bound_profile_package_request_esipa *r =
      rsp_arena_alloc(&doc->arena, sizeof *r);
  if (!r) return RSP_E_NOMEM;
  rsp_err_t rc = rsp_msg_json_decode(&rsp_esipa_json_get_bound_profile_package_req_type, body, len,
                                     doc, &q, NULL);
  if (rc == RSP_OK)
    rc = tlv(doc, &rsp_msgt_sgp32_prepare_download_response, q.prepare_download_response,
             (void **)&r->prepare_download_response);
  r->transaction_id = q.transaction_id;
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA;
  m->u.get_bound_profile_package_request_esipa = r;
  return rc;
}

static rsp_err_t cs_request(const char *body, size_t len, struct rsp_msg_json_doc *doc,
                            struct rsp_msg_esipa_message_from_ipa_to_eim *m) {
  struct rsp_esipa_json_cancel_session_req q;
  struct rsp_msg_cancel_session_request_esipa *r = rsp_arena_alloc(&doc->arena, sizeof *r);
  if (!r) return RSP_E_NOMEM;
  rsp_err_t rc =
      rsp_msg_json_decode(&rsp_esipa_json_cancel_session_req_type, body, len, doc, &q, NULL);
  if (rc == RSP_OK)
    rc = tlv(doc, &rsp_msgt_sgp32_cancel_session_response, q.cancel_session_response,
             (void **)&r->cancel_session_response);
  r->transaction_id = q.transaction_id;
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA;
  m->u.cancel_session_request_esipa = r;
  return rc;
}

static const struct {
  const char *name;
  rsp_err_t (*request)(const char *body, size_t len, struct rsp_msg_json_doc *doc,
                       struct rsp_msg_esipa_message_from_ipa_to_eim *m);
  rsp_err_t (*answer)(struct rsp_msg_json_doc *doc, const struct rsp__eim_answer *a,
                      struct rsp_buf *resp, int *status);
} downloads[] = {
    {"initiateAuthentication", ia_request, ia_answer},
    {"authenticateClient", ac_request, ac_answer},
    {"getBoundProfilePackage", bpp_request, bpp_answer},
    {"cancelSession", cs_request, cs_answer},
};

/* A download function: the request to the relay (service.c), its ESipa answer in JSON. */
static rsp_err_t download(struct rsp_eim_service *s, size_t f, const char *body, size_t len,
                          struct rsp_msg_json_doc *doc, struct rsp__eim_answer *a,
                          struct rsp_buf *resp, int *status) {
  struct rsp_msg_esipa_message_from_ipa_to_eim m = {0};
  rsp_err_t rc = downloads[f].request(body, len, doc, &m);
  if (rc == RSP_E_NOMEM) return rc;
  if (rc != RSP_OK) {
    a->kind = RSP__EIM_ANS_BAD_REQUEST;
    return RSP_OK;
  }
  rc = rsp__eim_handle_message(s, &m, a);
  if (rc != RSP_OK || a->kind == RSP__EIM_ANS_BAD_REQUEST) return rc;
  return downloads[f].answer(doc, a, resp, status);
}

/* ---- dispatch ----------------------------------------------------------------------------------
 */

rsp_err_t rsp_eim_service_esipa_json(struct rsp_eim_service *s, const char *function,
                                     const uint8_t *body, size_t len, struct rsp_buf *resp,
                                     int *status) {
  struct rsp_msg_json_doc doc;
  struct rsp__eim_answer a;
  rsp_err_t rc = RSP_OK;
  if (status) *status = 500;
  if (!s || !function || !resp || !status || (!body && len)) return RSP_E_INVALID_ARG;
  s->stats.requests++;
  if (len > RSP_EIM_ESIPA_MAX) {
    s->stats.refused++;
    *status = 413;
    return RSP_OK;
  }
  rsp_msg_json_doc_init(&doc);
  rsp__eim_answer_init(&a);
  const char *text = body ? (const char *)body : "";
  size_t start = resp->len;
  if (strcmp(function, "getEimPackage") == 0) {
    rc = get_eim_package(s, text, len, &doc, &a, resp, status);
  } else if (strcmp(function, "provideEimPackageResult") == 0) {
    rc = provide_result(s, text, len, &doc, &a, resp, status);
  } else if (strcmp(function, "handleNotification") == 0) {
    rc = handle_notification(s, text, len, &doc, &a, status);
  } else {
    size_t f = 0;
    while (f < sizeof downloads / sizeof downloads[0] && strcmp(function, downloads[f].name) != 0)
      f++;
    if (f < sizeof downloads / sizeof downloads[0])
      rc = download(s, f, text, len, &doc, &a, resp, status);
    else
      *status = 404;
  }
  if (rc == RSP_OK && a.kind == RSP__EIM_ANS_BAD_REQUEST) {
    resp->len = start;
    s->stats.refused++;
    *status = 400;
  }
  if (rc != RSP_OK) {
    resp->len = start;
    *status = 500;
  }
  rsp__eim_answer_free(&a);
  rsp_msg_json_doc_free(&doc);
  return rc;
}
