/* ES9+ JSON bodies (SGP.22 §6.5.2), the field tables for the engine in json_binding.c.
 *
 * Keys and encodings as in docs/sgp32-notes.md §6: binary values are base64 of complete DER TLVs
 * (serverSigned1 = 30 ..., serverSignature1 = 5F37 40 ..., euiccCiPKIdToBeUsed = 04 14 ...,
 * as osmo-smdpp emits and LPAC parses), transactionId is a hex string, euiccChallenge is base64
 * of the 16 raw bytes. LPAs send no request header on ES9+ and an eIM acting as LPA adds one, so
 * the header is optional here. */
#include "json_internal.h"

/* ---- initiateAuthentication ------------------------------------------------------------------ */

#define ST struct rsp_es9p_json_initiate_authentication_req
static const struct rsp_msg_json_field ia_req[] = {
    RSP__JREQ_HEADER_PTR(ST),
    RSP__JB64(ST, euicc_challenge, "euiccChallenge", RSP__J_REQ, .lo = 16, .hi = 16),
    RSP__JTLV(ST, euicc_info1, "euiccInfo1", RSP__J_REQ, .tags = {RSP_TAG_EUICC_INFO1}),
    RSP__JSTR(ST, smdp_address, "smdpAddress", RSP__J_REQ, .hi = RSP__J_MAX_ADDRESS),
};
RSP__JTYPE(rsp_es9p_json_initiate_authentication_req_type, "es9p.initiateAuthentication.request",
           ST, ia_req, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_es9p_json_initiate_authentication_resp
static const struct rsp_msg_json_field ia_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_REQ),
    RSP__JTLV(ST, server_signed1, "serverSigned1", RSP__J_REQ, .tags = {RSP_DER_SEQUENCE}),
    RSP__JTLV(ST, server_signature1, "serverSignature1", RSP__J_REQ,
              .tags = {RSP__J_TAG_SIGNATURE}),
    RSP__JTLV(ST, euicc_ci_pk_id_to_be_used, "euiccCiPKIdToBeUsed", RSP__J_REQ,
              .tags = {RSP_DER_OCTET_STRING}),
    RSP__JTLV(ST, server_certificate, "serverCertificate", RSP__J_REQ, .tags = {RSP_DER_SEQUENCE}),
};
RSP__JTYPE(rsp_es9p_json_initiate_authentication_resp_type, "es9p.initiateAuthentication.response",
           ST, ia_resp, RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- authenticateClient ---------------------------------------------------------------------- */

#define ST struct rsp_es9p_json_authenticate_client_req
static const struct rsp_msg_json_field ac_req[] = {
    RSP__JREQ_HEADER_PTR(ST),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_REQ),
    RSP__JTLV(ST, authenticate_server_response, "authenticateServerResponse", RSP__J_REQ,
              .tags = {RSP_TAG_AUTHENTICATE_SERVER_RESPONSE}),
};
RSP__JTYPE(rsp_es9p_json_authenticate_client_req_type, "es9p.authenticateClient.request", ST,
           ac_req, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* profileMetadata is StoreMetadataRequest (BF25); all five keys are mandatory on ES9+ (the ESipa
 * variant makes profileMetadata optional). */
#define ST struct rsp_es9p_json_authenticate_client_resp
static const struct rsp_msg_json_field ac_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_REQ),
    RSP__JTLV(ST, profile_metadata, "profileMetadata", RSP__J_REQ,
              .tags = {RSP_TAG_STORE_METADATA_REQUEST}),
    RSP__JTLV(ST, smdp_signed2, "smdpSigned2", RSP__J_REQ, .tags = {RSP_DER_SEQUENCE}),
    RSP__JTLV(ST, smdp_signature2, "smdpSignature2", RSP__J_REQ, .tags = {RSP__J_TAG_SIGNATURE}),
    RSP__JTLV(ST, smdp_certificate, "smdpCertificate", RSP__J_REQ, .tags = {RSP_DER_SEQUENCE}),
};
RSP__JTYPE(rsp_es9p_json_authenticate_client_resp_type, "es9p.authenticateClient.response", ST,
           ac_resp, RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- getBoundProfilePackage ------------------------------------------------------------------ */

#define ST struct rsp_es9p_json_get_bound_profile_package_req
static const struct rsp_msg_json_field gbpp_req[] = {
    RSP__JREQ_HEADER_PTR(ST),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_REQ),
    RSP__JTLV(ST, prepare_download_response, "prepareDownloadResponse", RSP__J_REQ,
              .tags = {RSP_TAG_PREPARE_DOWNLOAD_RESPONSE}),
};
RSP__JTYPE(rsp_es9p_json_get_bound_profile_package_req_type, "es9p.getBoundProfilePackage.request",
           ST, gbpp_req, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_es9p_json_get_bound_profile_package_resp
static const struct rsp_msg_json_field gbpp_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_REQ),
    RSP__JTLV(ST, bound_profile_package, "boundProfilePackage", RSP__J_REQ,
              .tags = {RSP_TAG_BOUND_PROFILE_PACKAGE}),
};
RSP__JTYPE(rsp_es9p_json_get_bound_profile_package_resp_type,
           "es9p.getBoundProfilePackage.response", ST, gbpp_resp, RSP_MSG_JSON_T_RESPONSE,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- handleNotification ---------------------------------------------------------------------- */

/* pendingNotification: ProfileInstallationResult (BF37) or OtherSignedNotification (30). */
#define ST struct rsp_es9p_json_handle_notification_req
static const struct rsp_msg_json_field hn_req[] = {
    RSP__JREQ_HEADER_PTR(ST),
    RSP__JTLV(ST, pending_notification, "pendingNotification", RSP__J_REQ,
              .tags = {RSP_TAG_PROFILE_INSTALLATION_RESULT, RSP_DER_SEQUENCE}),
};
RSP__JTYPE(rsp_es9p_json_handle_notification_req_type, "es9p.handleNotification.request", ST,
           hn_req, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* The SM-DP+ answers 204 without a body; a header is accepted too. */
#define ST struct rsp_es9p_json_handle_notification_resp
static const struct rsp_msg_json_field hn_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_OPT),
};
RSP__JTYPE(rsp_es9p_json_handle_notification_resp_type, "es9p.handleNotification.response", ST,
           hn_resp, RSP_MSG_JSON_T_RESPONSE | RSP_MSG_JSON_T_EMPTY_OK, RSP_MSG_JSON_CHOICE_NONE,
           NULL);
#undef ST

/* ---- cancelSession --------------------------------------------------------------------------- */

#define ST struct rsp_es9p_json_cancel_session_req
static const struct rsp_msg_json_field cs_req[] = {
    RSP__JREQ_HEADER_PTR(ST),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_REQ),
    RSP__JTLV(ST, cancel_session_response, "cancelSessionResponse", RSP__J_REQ,
              .tags = {RSP_TAG_CANCEL_SESSION_RESPONSE}),
};
RSP__JTYPE(rsp_es9p_json_cancel_session_req_type, "es9p.cancelSession.request", ST, cs_req, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* No output data (notes §6): TTCN expects no body, osmo-smdpp sends header + transactionId; both
 * decode, and the header is optional for the empty form. */
#define ST struct rsp_es9p_json_cancel_session_resp
static const struct rsp_msg_json_field cs_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_OPT),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_OPT),
};
RSP__JTYPE(rsp_es9p_json_cancel_session_resp_type, "es9p.cancelSession.response", ST, cs_resp,
           RSP_MSG_JSON_T_RESPONSE | RSP_MSG_JSON_T_EMPTY_OK, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST
