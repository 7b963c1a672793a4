/* ESipa JSON binding (SGP.32 §6.4.1, notes §2.3a), the field tables for the engine in
 * json_binding.c, the CHOICE rules of the responses and the mapping of JSON status codes to the
 * ASN.1 error values (v1.2 CR12011R00).
 *
 * Encodings as in SGP.22 ES9+ JSON: ASN.1 objects are base64 of the complete DER TLV, tag
 * included; transactionId and eimTransactionId are upper-case hex; eidValue is the 32 EID digits;
 * euiccChallenge is base64 of the 16 raw bytes; stateChangeCause and eimPackageError are JSON
 * integers; notifyStateChange is `true`. Requests from the IPA carry no header; every eIM
 * response starts with header.functionExecutionStatus, and a CHOICE is expressed by which key is
 * present.
 *
 * Where the implementations the notes surveyed disagree, every form decodes (notes §2.3a):
 *   - getEimPackage, "nothing to do" / errors: an integer eimPackageError in an Executed-Success
 *     body (OIR, IAPYX) and status Failed with statusCodeData 8.1.1/3.x (GD-IPA) both decode;
 *     rsp_esipa_json_eim_package_error gives the ASN.1 value for either. OIR's eimPackageError 0
 *     next to a package is accepted as "no error".
 *   - the rPLMN key: GD-IPA writes rPlmn (emitted here); rPLMN, the ASN.1 spelling, is accepted.
 *     IAPYX sends neither, which is fine since it is optional.
 *   - serverSignature1 and smdpSignature2: GD-IPA and IAPYX keep the complete 5F37 TLV, which is
 *     what is emitted. A bare 64-byte r||s, what an eIM that strips 5F37 for the ASN.1 binding
 *     (notes §6) might also send in JSON, is accepted and stored wrapped as 5F37 40 r||s, so the
 *     caller always sees the TLV. hashCc likewise: 04 20 TLV or the bare 32 bytes.
 *   - euiccCiPKIdentifierToBeUsed: v1.0 called it euiccCiPKIdToBeUsed (the ES9+ key); accepted.
 *   - eidValue: 32 digits; OIR reads it as hex, and so does this decoder (A-F accepted).
 *   - empty bodies: GD-IPA accepts 200 or 204 on every ESipa call, so the header-only responses
 *     (handleNotification, cancelSession) also decode from an empty body.
 * Tags that the notes do not pin down for JSON are not checked (any one DER TLV):
 * pendingNotification (BF37, 30 or a compact form), cancelSessionResponse, ctxParams1,
 * notificationList. */
#include <string.h>

#include "json_internal.h"

#define PKG_ERROR_BOUNDS .lo = 0, .hi = 127 /* eimPackageError: 1..4, 127; OIR sends 0 */

/* ---- getEimPackage (§6.4.1.5) ---------------------------------------------------------------- */

#define ST struct rsp_esipa_json_get_eim_package_req
static const struct rsp_msg_json_field gep_req[] = {
    RSP__JEID(ST, eid_value, "eidValue", RSP__J_REQ),
    RSP__JBOOL(ST, notify_state_change, "notifyStateChange", RSP__J_OPT),
    RSP__JINT(ST, state_change_cause, "stateChangeCause", RSP__J_OPT, .lo = 0, .hi = 127),
    RSP__JB64(ST, r_plmn, "rPlmn", RSP__J_OPT, .lo = 3, .hi = 3, .alias = "rPLMN"),
};
RSP__JTYPE(rsp_esipa_json_get_eim_package_req_type, "esipa.getEimPackage.request", ST, gep_req, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

static rsp_err_t gep_resp_check(const void *body, struct rsp_msg_json_diag *diag) {
  const struct rsp_esipa_json_get_eim_package_resp *r = body;
  int packages = (r->euicc_package_request.p != NULL) + (r->ipa_euicc_data_request.p != NULL) +
                 (r->profile_download_trigger_request.p != NULL);
  if (packages > 1)
    return rsp__msg_json_rule_fail(diag, RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE,
                                   "more than one eIM package in one response");
  if (packages == 1) {
    if (r->eim_package_error.present && r->eim_package_error.v != 0)
      return rsp__msg_json_rule_fail(diag, RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE,
                                     "eimPackageError %lld next to a package",
                                     (long long)r->eim_package_error.v);
    return RSP_OK;
  }
  if (!r->eim_package_error.present)
    return rsp__msg_json_rule_fail(diag, RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING,
                                   "neither an eIM package nor eimPackageError");
  if (r->eim_package_error.v == 0)
    return rsp__msg_json_rule_fail(diag, RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE,
                                   "eimPackageError 0 without a package");
  return RSP_OK;
}

#define ST struct rsp_esipa_json_get_eim_package_resp
static const struct rsp_msg_json_field gep_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTLV(ST, euicc_package_request, "euiccPackageRequest", RSP__J_CHOICE,
              .tags = {RSP_TAG_EUICC_PACKAGE_REQUEST}),
    RSP__JTLV(ST, ipa_euicc_data_request, "ipaEuiccDataRequest", RSP__J_CHOICE,
              .tags = {RSP_TAG_IPA_EUICC_DATA_REQUEST}),
    RSP__JTLV(ST, profile_download_trigger_request, "profileDownloadTriggerRequest", RSP__J_CHOICE,
              .tags = {RSP_TAG_PROFILE_DOWNLOAD_TRIGGER_REQUEST}),
    RSP__JINT(ST, eim_package_error, "eimPackageError", RSP__J_CHOICE, PKG_ERROR_BOUNDS),
};
RSP__JTYPE(rsp_esipa_json_get_eim_package_resp_type, "esipa.getEimPackage.response", ST, gep_resp,
           RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_CUSTOM, gep_resp_check);
#undef ST

/* ---- provideEimPackageResult (§6.4.1.6) ------------------------------------------------------ */

/* eimPackageResult is the EimPackageResult CHOICE element: euiccPackageResult (BF51),
 * ePRAndNotifications (30), ipaEuiccDataResponse (BF52), profileDownloadTriggerResult (BF54),
 * eimPackageResultResponseError ([0], v1.2) or eimPackageError (INTEGER, v1.0). */
#define ST struct rsp_esipa_json_provide_eim_package_result_req
static const struct rsp_msg_json_field pepr_req[] = {
    RSP__JEID(ST, eid_value, "eidValue", RSP__J_OPT),
    RSP__JTLV(ST, eim_package_result, "eimPackageResult", RSP__J_REQ,
              .tags = {RSP_TAG_EUICC_PACKAGE_RESULT, RSP_DER_SEQUENCE,
                       RSP_TAG_IPA_EUICC_DATA_RESPONSE, RSP_TAG_PROFILE_DOWNLOAD_TRIGGER_RESULT,
                       RSP__J_TAG_EIM_PACKAGE_RESULT_RESPONSE_ERROR, RSP_DER_INTEGER}),
};
RSP__JTYPE(rsp_esipa_json_provide_eim_package_result_req_type,
           "esipa.provideEimPackageResult.request", ST, pepr_req, 0, RSP_MSG_JSON_CHOICE_NONE,
           NULL);
#undef ST

#define ST struct rsp_esipa_json_provide_eim_package_result_resp
static const struct rsp_msg_json_field pepr_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTLV(ST, eim_acknowledgements, "eimAcknowledgements", RSP__J_OPT,
              .tags = {RSP_TAG_EIM_ACKNOWLEDGEMENTS}),
};
RSP__JTYPE(rsp_esipa_json_provide_eim_package_result_resp_type,
           "esipa.provideEimPackageResult.response", ST, pepr_resp, RSP_MSG_JSON_T_RESPONSE,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- handleNotification (§6.4.1.7) ----------------------------------------------------------- */

#define ST struct rsp_esipa_json_handle_notification_req
static const struct rsp_msg_json_field hn_req[] = {
    RSP__JTLV(ST, pending_notification, "pendingNotification", RSP__J_CHOICE, .hi = 0),
    RSP__JTLV(ST, provide_eim_package_result, "provideEimPackageResult", RSP__J_CHOICE,
              .tags = {RSP_TAG_PROVIDE_EIM_PACKAGE_RESULT}),
};
RSP__JTYPE(rsp_esipa_json_handle_notification_req_type, "esipa.handleNotification.request", ST,
           hn_req, 0, RSP_MSG_JSON_CHOICE_ONE, NULL);
#undef ST

#define ST struct rsp_esipa_json_handle_notification_resp
static const struct rsp_msg_json_field hn_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_OPT),
};
RSP__JTYPE(rsp_esipa_json_handle_notification_resp_type, "esipa.handleNotification.response", ST,
           hn_resp, RSP_MSG_JSON_T_RESPONSE | RSP_MSG_JSON_T_EMPTY_OK, RSP_MSG_JSON_CHOICE_NONE,
           NULL);
#undef ST

/* ---- initiateAuthentication (§6.4.1.1) ------------------------------------------------------- */

/* euiccInfo1 is absent with minimizeEsipaBytes and smdpAddress with eimDownloadDataHandling
 * (GD-IPA build switches, notes §1.3), so both are optional here unlike on ES9+. */
#define ST struct rsp_esipa_json_initiate_authentication_req
static const struct rsp_msg_json_field ia_req[] = {
    RSP__JB64(ST, euicc_challenge, "euiccChallenge", RSP__J_REQ, .lo = 16, .hi = 16),
    RSP__JTLV(ST, euicc_info1, "euiccInfo1", RSP__J_OPT, .tags = {RSP_TAG_EUICC_INFO1}),
    RSP__JSTR(ST, smdp_address, "smdpAddress", RSP__J_OPT, .hi = RSP__J_MAX_ADDRESS),
    RSP__JTXID(ST, eim_transaction_id, "eimTransactionId", RSP__J_OPT),
};
RSP__JTYPE(rsp_esipa_json_initiate_authentication_req_type, "esipa.initiateAuthentication.request",
           ST, ia_req, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_esipa_json_initiate_authentication_resp
static const struct rsp_msg_json_field ia_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_OPT),
    RSP__JTLV(ST, server_signed1, "serverSigned1", RSP__J_REQ, .tags = {RSP_DER_SEQUENCE}),
    RSP__JTLV(ST, server_signature1, "serverSignature1", RSP__J_REQ, .tags = {RSP__J_TAG_SIGNATURE},
              .wrap_len = RSP__J_SIGNATURE_LEN),
    RSP__JTLV(ST, euicc_ci_pk_identifier_to_be_used, "euiccCiPKIdentifierToBeUsed", RSP__J_REQ,
              .tags = {RSP_DER_OCTET_STRING}, .alias = "euiccCiPKIdToBeUsed"),
    RSP__JTLV(ST, server_certificate, "serverCertificate", RSP__J_REQ, .tags = {RSP_DER_SEQUENCE}),
    RSP__JSTR(ST, matching_id, "matchingId", RSP__J_OPT, .hi = RSP__J_MAX_ADDRESS),
    RSP__JTLV(ST, ctx_params1, "ctxParams1", RSP__J_OPT, .hi = 0),
};
RSP__JTYPE(rsp_esipa_json_initiate_authentication_resp_type,
           "esipa.initiateAuthentication.response", ST, ia_resp, RSP_MSG_JSON_T_RESPONSE,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- authenticateClient (§6.4.1.2) ----------------------------------------------------------- */

#define ST struct rsp_esipa_json_authenticate_client_req
static const struct rsp_msg_json_field ac_req[] = {
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_REQ),
    RSP__JTLV(ST, authenticate_server_response, "authenticateServerResponse", RSP__J_REQ,
              .tags = {RSP_TAG_AUTHENTICATE_SERVER_RESPONSE}),
};
RSP__JTYPE(rsp_esipa_json_authenticate_client_req_type, "esipa.authenticateClient.request", ST,
           ac_req, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* AuthenticateClientResponseEsipa: okDP { transactionId OPT, profileMetaData OPT, smdpSigned2,
 * smdpSignature2, smdpCertificate, hashCc OPT } or okDS { transactionId, profileDownloadTrigger
 * OPT } (notes §2.2); in JSON the DP trio's presence tells the two apart. */
static rsp_err_t ac_resp_check(const void *body, struct rsp_msg_json_diag *diag) {
  const struct rsp_esipa_json_authenticate_client_resp *r = body;
  int dp = (r->smdp_signed2.p != NULL) + (r->smdp_signature2.p != NULL) +
           (r->smdp_certificate.p != NULL);
  if (dp == 3) {
    if (!r->profile_download_trigger.p) return RSP_OK;
    return rsp__msg_json_rule_fail(diag, RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE,
                                   "profileDownloadTrigger in an SM-DP+ (okDP) response");
  }
  if (dp > 0)
    return rsp__msg_json_rule_fail(diag, RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING,
                                   "smdpSigned2, smdpSignature2 and smdpCertificate go together");
  if (r->profile_metadata.p || r->hash_cc.p)
    return rsp__msg_json_rule_fail(diag, RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE,
                                   "profileMetadata or hashCc without smdpSigned2");
  if (!r->transaction_id.p)
    return rsp__msg_json_rule_fail(diag, RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING,
                                   "transactionId is required in an SM-DS (okDS) response");
  return RSP_OK;
}

#define ST struct rsp_esipa_json_authenticate_client_resp
static const struct rsp_msg_json_field ac_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_OPT),
    RSP__JTLV(ST, profile_metadata, "profileMetadata", RSP__J_OPT,
              .tags = {RSP_TAG_STORE_METADATA_REQUEST}),
    RSP__JTLV(ST, smdp_signed2, "smdpSigned2", RSP__J_OPT, .tags = {RSP_DER_SEQUENCE}),
    RSP__JTLV(ST, smdp_signature2, "smdpSignature2", RSP__J_OPT, .tags = {RSP__J_TAG_SIGNATURE},
              .wrap_len = RSP__J_SIGNATURE_LEN),
    RSP__JTLV(ST, smdp_certificate, "smdpCertificate", RSP__J_OPT, .tags = {RSP_DER_SEQUENCE}),
    RSP__JTLV(ST, hash_cc, "hashCc", RSP__J_OPT, .tags = {RSP_DER_OCTET_STRING},
              .wrap_len = RSP__J_HASH_CC_LEN),
    RSP__JTLV(ST, profile_download_trigger, "profileDownloadTrigger", RSP__J_OPT,
              .tags = {RSP_TAG_PROFILE_DOWNLOAD_TRIGGER_REQUEST}),
};
RSP__JTYPE(rsp_esipa_json_authenticate_client_resp_type, "esipa.authenticateClient.response", ST,
           ac_resp, RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_CUSTOM, ac_resp_check);
#undef ST

/* ---- getBoundProfilePackage (§6.4.1.3) ------------------------------------------------------- */

#define ST struct rsp_esipa_json_get_bound_profile_package_req
static const struct rsp_msg_json_field gbpp_req[] = {
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_REQ),
    RSP__JTLV(ST, prepare_download_response, "prepareDownloadResponse", RSP__J_REQ,
              .tags = {RSP_TAG_PREPARE_DOWNLOAD_RESPONSE}),
};
RSP__JTYPE(rsp_esipa_json_get_bound_profile_package_req_type,
           "esipa.getBoundProfilePackage.request", ST, gbpp_req, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_esipa_json_get_bound_profile_package_resp
static const struct rsp_msg_json_field gbpp_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_OPT),
    RSP__JTLV(ST, bound_profile_package, "boundProfilePackage", RSP__J_REQ,
              .tags = {RSP_TAG_BOUND_PROFILE_PACKAGE}),
};
RSP__JTYPE(rsp_esipa_json_get_bound_profile_package_resp_type,
           "esipa.getBoundProfilePackage.response", ST, gbpp_resp, RSP_MSG_JSON_T_RESPONSE,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- cancelSession (§6.4.1.8) ---------------------------------------------------------------- */

#define ST struct rsp_esipa_json_cancel_session_req
static const struct rsp_msg_json_field cs_req[] = {
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_REQ),
    RSP__JTLV(ST, cancel_session_response, "cancelSessionResponse", RSP__J_REQ, .hi = 0),
};
RSP__JTYPE(rsp_esipa_json_cancel_session_req_type, "esipa.cancelSession.request", ST, cs_req, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_esipa_json_cancel_session_resp
static const struct rsp_msg_json_field cs_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_OPT),
};
RSP__JTYPE(rsp_esipa_json_cancel_session_resp_type, "esipa.cancelSession.response", ST, cs_resp,
           RSP_MSG_JSON_T_RESPONSE | RSP_MSG_JSON_T_EMPTY_OK, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- transferEimPackage (§6.4.1.4, eIM -> IPA) ----------------------------------------------- */

#define ST struct rsp_esipa_json_transfer_eim_package_req
static const struct rsp_msg_json_field tep_req[] = {
    RSP__JTLV(ST, euicc_package_request, "euiccPackageRequest", RSP__J_CHOICE,
              .tags = {RSP_TAG_EUICC_PACKAGE_REQUEST}),
    RSP__JTLV(ST, ipa_euicc_data_request, "ipaEuiccDataRequest", RSP__J_CHOICE,
              .tags = {RSP_TAG_IPA_EUICC_DATA_REQUEST}),
    RSP__JTLV(ST, eim_acknowledgements, "eimAcknowledgements", RSP__J_CHOICE,
              .tags = {RSP_TAG_EIM_ACKNOWLEDGEMENTS}),
    RSP__JTLV(ST, profile_download_trigger_request, "profileDownloadTriggerRequest", RSP__J_CHOICE,
              .tags = {RSP_TAG_PROFILE_DOWNLOAD_TRIGGER_REQUEST}),
};
RSP__JTYPE(rsp_esipa_json_transfer_eim_package_req_type, "esipa.transferEimPackage.request", ST,
           tep_req, 0, RSP_MSG_JSON_CHOICE_ONE, NULL);
#undef ST

/* ePRAndNotifications is a nested JSON object of two base64 strings (notes §2.3a). */
#define ST struct rsp_esipa_json_epr_and_notifications
static const struct rsp_msg_json_field epr_and_notifications[] = {
    RSP__JTLV(ST, euicc_package_result, "euiccPackageResult", RSP__J_REQ,
              .tags = {RSP_TAG_EUICC_PACKAGE_RESULT}),
    RSP__JTLV(ST, notification_list, "notificationList", RSP__J_REQ, .hi = 0),
};
RSP__JTYPE(rsp_esipa_json_epr_and_notifications_type, "ePRAndNotifications", ST,
           epr_and_notifications, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* No alternative present = eimPackageReceived (header only). */
#define ST struct rsp_esipa_json_transfer_eim_package_resp
static const struct rsp_msg_json_field tep_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTLV(ST, euicc_package_result, "euiccPackageResult", RSP__J_CHOICE,
              .tags = {RSP_TAG_EUICC_PACKAGE_RESULT}),
    RSP__JOBJ(ST, epr_and_notifications, "ePRAndNotifications", RSP__J_CHOICE,
              &rsp_esipa_json_epr_and_notifications_type),
    RSP__JTLV(ST, ipa_euicc_data_response, "ipaEuiccDataResponse", RSP__J_CHOICE,
              .tags = {RSP_TAG_IPA_EUICC_DATA_RESPONSE}),
    RSP__JINT(ST, eim_package_error, "eimPackageError", RSP__J_CHOICE, PKG_ERROR_BOUNDS),
};
RSP__JTYPE(rsp_esipa_json_transfer_eim_package_resp_type, "esipa.transferEimPackage.response", ST,
           tep_resp, RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_AT_MOST_ONE, NULL);
#undef ST

/* ---- JSON status codes -> ASN.1 error values (CR12011R00, as GD-IPA maps them) --------------- */

struct code_map {
  const char *subject;
  const char *reason; /* NULL = any reason */
  int64_t code;
};

/* Subject 8.1.1 is the EID. The first entry of each code is also the one emitted. */
static const struct code_map eim_package_codes[] = {
    {"8.1.1", "3.7", 1}, /* noEimPackageAvailable */
    {"8.1.1", "3.9", 2}, /* eidNotFound */
    {"8.1.1", "2.1", 3}, /* invalidEid */
    {"8.1.1", "2.2", 4}, /* missingEid */
};

/* provideEimPackageResultError has no noEimPackageAvailable. */
static const struct code_map provide_result_codes[] = {
    {"8.1.1", "3.9", 2},
    {"8.1.1", "2.1", 3},
    {"8.1.1", "2.2", 4},
};

/* 8.8.x: SM-DP+ (8.8.1 address, 8.8.2 CI public key, 8.8.3 version, 8.8.4 certificate); 8.9.x: the
 * same for an SM-DS; 8.31.2: eimTransactionId. */
static const struct code_map initiate_authentication_codes[] = {
    {"8.8.1", "3.8", 1},   {"8.8.3", "3.1", 2},   {"8.8.2", "3.1", 3},  {"8.8.4", "3.7", 3},
    {"8.8.1", "3.10", 50}, {"8.9.1", "3.8", 1},   {"8.9.3", "3.1", 2},  {"8.9.2", "3.1", 3},
    {"8.9.4", "3.7", 3},   {"8.9.1", "3.10", 50}, {"8.31.2", NULL, 52},
};

#define UNDEFINED_ERROR 127

static int64_t map_status(const struct rsp_msg_json_resp_header *h, const struct code_map *m,
                          size_t n) {
  for (size_t i = 0; i < n; i++)
    if (rsp_msg_json_status_code_is(&h->function_execution_status, m[i].subject, m[i].reason))
      return m[i].code;
  return UNDEFINED_ERROR;
}

int64_t rsp_esipa_json_eim_package_error(const struct rsp_esipa_json_get_eim_package_resp *r) {
  if (!rsp_msg_json_status_ok(&r->header))
    return map_status(&r->header, eim_package_codes,
                      sizeof eim_package_codes / sizeof eim_package_codes[0]);
  if (r->euicc_package_request.p || r->ipa_euicc_data_request.p ||
      r->profile_download_trigger_request.p)
    return 0;
  return r->eim_package_error.present ? r->eim_package_error.v : UNDEFINED_ERROR;
}

int64_t rsp_esipa_json_provide_result_error(
    const struct rsp_esipa_json_provide_eim_package_result_resp *r) {
  if (rsp_msg_json_status_ok(&r->header)) return 0;
  return map_status(&r->header, provide_result_codes,
                    sizeof provide_result_codes / sizeof provide_result_codes[0]);
}

int64_t rsp_esipa_json_initiate_authentication_error(
    const struct rsp_esipa_json_initiate_authentication_resp *r) {
  if (rsp_msg_json_status_ok(&r->header)) return 0;
  return map_status(&r->header, initiate_authentication_codes,
                    sizeof initiate_authentication_codes / sizeof initiate_authentication_codes[0]);
}

/* The download functions' error values and ES9+-style codes (the relay maps the SM-DP+'s codes
 * to these values, lib/eim/relay.c): both directions use this one table; for a value listed
 * twice the first entry is the one emitted. */
static const struct {
  enum rsp_esipa_json_download f;
  int64_t value;
  const char *subject, *reason;
} download_codes[] = {
    {RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION, 1, "8.8.1", "3.8"},
    {RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION, 2, "8.8.3", "3.1"},
    {RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION, 3, "8.8.2", "3.1"},
    {RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION, 50, "8.8.1", "3.10"},
    {RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION, 52, "8.31.2", "3.9"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 1, "8.1.2", "6.1"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 2, "8.1.2", "6.3"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 3, "8.1.3", "6.1"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 4, "8.1.3", "6.3"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 5, "8.1", "6.1"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 6, "8.2.6", "3.8"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 7, "8.1.1", "3.8"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 8, "8.1.1", "3.9"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 9, "8.11.1", "3.9"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 10, "8.10.1", "3.9"},
    {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 50, "8.2.8", "3.8"},
    {RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, 1, "8.1", "6.1"},
    {RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, 2, "8.2.7", "2.2"},
    {RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, 3, "8.2.7", "3.8"},
    {RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, 4, "8.2.7", "6.4"},
    {RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, 5, "8.2.6", "3.8"},
    {RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, 6, "8.8.5", "4.10"},
    {RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, 50, "8.2.9", "3.8"},
    {RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, 95, "8.10.1", "3.9"},
    {RSP_ESIPA_JSON_DL_CANCEL_SESSION, 1, "8.10.1", "3.9"},
    {RSP_ESIPA_JSON_DL_CANCEL_SESSION, 2, "8.1", "6.1"},
};

void rsp_esipa_json_download_error_status(enum rsp_esipa_json_download f, int64_t value,
                                          struct rsp_msg_json_status_code_data *out) {
  memset(out, 0, sizeof *out);
  out->subject_code = "8.8";
  out->reason_code = "4.2";
  for (size_t i = 0; i < sizeof download_codes / sizeof download_codes[0]; i++)
    if (download_codes[i].f == f && download_codes[i].value == value) {
      out->subject_code = download_codes[i].subject;
      out->reason_code = download_codes[i].reason;
      return;
    }
}

int64_t rsp_esipa_json_download_error(enum rsp_esipa_json_download f,
                                      const struct rsp_msg_json_resp_header *h) {
  if (rsp_msg_json_status_ok(h)) return 0;
  if (f == RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION)
    return map_status(h, initiate_authentication_codes,
                      sizeof initiate_authentication_codes /
                          sizeof initiate_authentication_codes[0]);
  for (size_t i = 0; i < sizeof download_codes / sizeof download_codes[0]; i++)
    if (download_codes[i].f == f &&
        rsp_msg_json_status_code_is(&h->function_execution_status, download_codes[i].subject,
                                    download_codes[i].reason))
      return download_codes[i].value;
  return UNDEFINED_ERROR;
}

rsp_err_t rsp_esipa_json_eim_package_error_status(int64_t code,
                                                  struct rsp_msg_json_status_code_data *out) {
  for (size_t i = 0; i < sizeof eim_package_codes / sizeof eim_package_codes[0]; i++) {
    if (eim_package_codes[i].code != code) continue;
    out->subject_code = eim_package_codes[i].subject;
    out->reason_code = eim_package_codes[i].reason;
    out->subject_identifier = NULL;
    out->message = NULL;
    return RSP_OK;
  }
  return RSP_E_NOT_FOUND;
}
