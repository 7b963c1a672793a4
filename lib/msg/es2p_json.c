/* ES2+ JSON bodies (SGP.22 §6.5.1, operator <-> SM-DP+ over mutual TLS), the field tables for the
 * engine in json_binding.c.
 *
 * Keys as in docs/sgp32-notes.md §6. Every request carries the header {functionRequesterIdentifier,
 * functionCallIdentifier}; eid is the 32 EID digits (hex of the 16 BCD bytes), iccid the 18..20
 * ICCID characters as sent (a 19-digit ICCID comes with its trailing F; rsp_iccid_encode turns it
 * into bytes), releaseFlag a JSON boolean, notificationPointId an integer. */
#include "json_internal.h"

#define ICCID(st, key, fl) RSP__JSTR(st, iccid, key, fl, .lo = 18, .hi = 20)

/* ---- downloadOrder --------------------------------------------------------------------------- */

#define ST struct rsp_es2p_json_download_order_req
static const struct rsp_msg_json_field do_req[] = {
    RSP__JREQ_HEADER_INLINE(ST),
    RSP__JEID(ST, eid, "eid", RSP__J_OPT),
    ICCID(ST, "iccid", RSP__J_OPT),
    RSP__JSTR(ST, profile_type, "profileType", RSP__J_OPT, .hi = 0),
};
RSP__JTYPE(rsp_es2p_json_download_order_req_type, "es2p.downloadOrder.request", ST, do_req, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_es2p_json_download_order_resp
static const struct rsp_msg_json_field do_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    ICCID(ST, "iccid", RSP__J_REQ),
};
RSP__JTYPE(rsp_es2p_json_download_order_resp_type, "es2p.downloadOrder.response", ST, do_resp,
           RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- confirmOrder ---------------------------------------------------------------------------- */

#define ST struct rsp_es2p_json_confirm_order_req
static const struct rsp_msg_json_field co_req[] = {
    RSP__JREQ_HEADER_INLINE(ST),
    ICCID(ST, "iccid", RSP__J_REQ),
    RSP__JEID(ST, eid, "eid", RSP__J_OPT),
    RSP__JSTR(ST, matching_id, "matchingId", RSP__J_OPT, .hi = RSP__J_MAX_ADDRESS),
    RSP__JSTR(ST, confirmation_code, "confirmationCode", RSP__J_OPT, .hi = 0),
    RSP__JSTR(ST, smds_address, "smdsAddress", RSP__J_OPT, .hi = RSP__J_MAX_ADDRESS),
    RSP__JBOOL(ST, release_flag, "releaseFlag", RSP__J_REQ),
};
RSP__JTYPE(rsp_es2p_json_confirm_order_req_type, "es2p.confirmOrder.request", ST, co_req, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_es2p_json_confirm_order_resp
static const struct rsp_msg_json_field co_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JEID(ST, eid, "eid", RSP__J_OPT),
    RSP__JSTR(ST, matching_id, "matchingId", RSP__J_REQ, .hi = RSP__J_MAX_ADDRESS),
    RSP__JSTR(ST, smdp_address, "smdpAddress", RSP__J_OPT, .hi = RSP__J_MAX_ADDRESS),
};
RSP__JTYPE(rsp_es2p_json_confirm_order_resp_type, "es2p.confirmOrder.response", ST, co_resp,
           RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- cancelOrder ----------------------------------------------------------------------------- */

#define ST struct rsp_es2p_json_cancel_order_req
static const struct rsp_msg_json_field cn_req[] = {
    RSP__JREQ_HEADER_INLINE(ST),
    ICCID(ST, "iccid", RSP__J_REQ),
    RSP__JEID(ST, eid, "eid", RSP__J_OPT),
    RSP__JSTR(ST, matching_id, "matchingId", RSP__J_OPT, .hi = RSP__J_MAX_ADDRESS),
    RSP__JSTR(ST, final_profile_status_indicator, "finalProfileStatusIndicator", RSP__J_REQ,
              .hi = 0),
};
RSP__JTYPE(rsp_es2p_json_cancel_order_req_type, "es2p.cancelOrder.request", ST, cn_req, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_es2p_json_cancel_order_resp
static const struct rsp_msg_json_field cn_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
};
RSP__JTYPE(rsp_es2p_json_cancel_order_resp_type, "es2p.cancelOrder.response", ST, cn_resp,
           RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- releaseProfile -------------------------------------------------------------------------- */

#define ST struct rsp_es2p_json_release_profile_req
static const struct rsp_msg_json_field rp_req[] = {
    RSP__JREQ_HEADER_INLINE(ST),
    ICCID(ST, "iccid", RSP__J_REQ),
};
RSP__JTYPE(rsp_es2p_json_release_profile_req_type, "es2p.releaseProfile.request", ST, rp_req, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_es2p_json_release_profile_resp
static const struct rsp_msg_json_field rp_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
};
RSP__JTYPE(rsp_es2p_json_release_profile_resp_type, "es2p.releaseProfile.response", ST, rp_resp,
           RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- handleDownloadProgressInfo (SM-DP+ -> operator) ----------------------------------------- */

/* notificationPointStatus has the shape of functionExecutionStatus. resultData is kept as plain
 * base64 bytes: the notes give no DER form for it, so no TLV check is imposed. */
#define ST struct rsp_es2p_json_handle_download_progress_info_req
static const struct rsp_msg_json_field hdpi_req[] = {
    RSP__JREQ_HEADER_INLINE(ST),
    RSP__JEID(ST, eid, "eid", RSP__J_OPT),
    ICCID(ST, "iccid", RSP__J_REQ),
    RSP__JSTR(ST, profile_type, "profileType", RSP__J_REQ, .hi = 0),
    RSP__JSTR(ST, timestamp, "timestamp", RSP__J_REQ, .hi = 64),
    RSP__JINT(ST, notification_point_id, "notificationPointId", RSP__J_REQ, .lo = 0),
    RSP__JF(ST, notification_point_status, "notificationPointStatus", RSP_MSG_JSON_OBJECT,
            RSP__J_REQ | RSP_MSG_JSON_F_INLINE, .type = &rsp_msg_json_exec_status_type),
    RSP__JB64(ST, result_data, "resultData", RSP__J_OPT, .hi = 0),
};
RSP__JTYPE(rsp_es2p_json_handle_download_progress_info_req_type,
           "es2p.handleDownloadProgressInfo.request", ST, hdpi_req, 0, RSP_MSG_JSON_CHOICE_NONE,
           NULL);
#undef ST

/* The operator answers 204 without a body. */
#define ST struct rsp_es2p_json_handle_download_progress_info_resp
static const struct rsp_msg_json_field hdpi_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_OPT),
};
RSP__JTYPE(rsp_es2p_json_handle_download_progress_info_resp_type,
           "es2p.handleDownloadProgressInfo.response", ST, hdpi_resp,
           RSP_MSG_JSON_T_RESPONSE | RSP_MSG_JSON_T_EMPTY_OK, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST
