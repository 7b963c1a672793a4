/* ES11 (SGP.22 §5.8, LPA -> SM-DS) and ES12 (§5.5, SM-DP+ -> SM-DS) JSON bodies, the field tables
 * for the engine in json_binding.c.
 *
 * ES11 reuses the ES9+ bodies (notes §6: LPAs call the SM-DS with the ES9+ functions and read
 * eventEntries): only initiateAuthentication's request, whose address key names the SM-DS, and
 * authenticateClient's answer, the events, are ES11's own. The request takes smdsAddress and, as
 * an alias, the smdpAddress key of the ES9+ body that LPAC sends to SM-DSs. eventEntries is
 * [{eventId, rspServerAddress}] as LPAC reads it. ES12 carries the server-to-server header of
 * ES2+. The unconfirmed points are docs/adr/0007-smds-es11-paths.md. */
#include "json_internal.h"

/* ---- ES11.InitiateAuthentication --------------------------------------------------------------
 */

#define ST struct rsp_es11_json_initiate_authentication_req
static const struct rsp_msg_json_field ia_req[] = {
    RSP__JREQ_HEADER_PTR(ST),
    RSP__JB64(ST, euicc_challenge, "euiccChallenge", RSP__J_REQ, .lo = 16, .hi = 16),
    RSP__JTLV(ST, euicc_info1, "euiccInfo1", RSP__J_REQ, .tags = {RSP_TAG_EUICC_INFO1}),
    RSP__JSTR(ST, smds_address, "smdsAddress", RSP__J_REQ, .hi = RSP__J_MAX_ADDRESS,
              .alias = "smdpAddress"),
};
RSP__JTYPE(rsp_es11_json_initiate_authentication_req_type, "es11.initiateAuthentication.request",
           ST, ia_req, 0, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- ES11.AuthenticateClient ------------------------------------------------------------------
 */

#define ST struct rsp_es11_json_event_entry
static const struct rsp_msg_json_field event_entry[] = {
    RSP__JSTR(ST, event_id, "eventId", RSP__J_REQ, .lo = 1, .hi = RSP__J_MAX_ADDRESS),
    RSP__JSTR(ST, rsp_server_address, "rspServerAddress", RSP__J_REQ, .lo = 1,
              .hi = RSP__J_MAX_ADDRESS),
};
RSP__JTYPE(rsp_es11_json_event_entry_type, "es11.eventEntries.item", ST, event_entry, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_es11_json_authenticate_client_resp
static const struct rsp_msg_json_field ac_resp[] = {
    RSP__JRESP_HEADER(ST, RSP__J_REQ),
    RSP__JTXID(ST, transaction_id, "transactionId", RSP__J_OPT),
    RSP__JF(ST, event_entries, "eventEntries", RSP_MSG_JSON_ARRAY, RSP__J_REQ,
            .type = &rsp_es11_json_event_entry_type),
};
RSP__JTYPE(rsp_es11_json_authenticate_client_resp_type, "es11.authenticateClient.response", ST,
           ac_resp, RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- ES12.RegisterEvent -----------------------------------------------------------------------
 */

#define ST struct rsp_es12_json_register_event_req
static const struct rsp_msg_json_field re_req[] = {
    RSP__JREQ_HEADER_INLINE(ST),
    RSP__JEID(ST, eid, "eid", RSP__J_REQ),
    RSP__JSTR(ST, rsp_server_address, "rspServerAddress", RSP__J_REQ, .lo = 1,
              .hi = RSP__J_MAX_ADDRESS),
    RSP__JSTR(ST, event_id, "eventId", RSP__J_REQ, .lo = 1, .hi = RSP__J_MAX_ADDRESS),
    RSP__JBOOL(ST, forwarding_indicator, "forwardingIndicator", RSP__J_OPT),
};
RSP__JTYPE(rsp_es12_json_register_event_req_type, "es12.registerEvent.request", ST, re_req, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_es12_json_register_event_resp
static const struct rsp_msg_json_field re_resp[] = {RSP__JRESP_HEADER(ST, RSP__J_REQ)};
RSP__JTYPE(rsp_es12_json_register_event_resp_type, "es12.registerEvent.response", ST, re_resp,
           RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

/* ---- ES12.DeleteEvent -------------------------------------------------------------------------
 */

#define ST struct rsp_es12_json_delete_event_req
static const struct rsp_msg_json_field de_req[] = {
    RSP__JREQ_HEADER_INLINE(ST),
    RSP__JEID(ST, eid, "eid", RSP__J_REQ),
    RSP__JSTR(ST, event_id, "eventId", RSP__J_REQ, .lo = 1, .hi = RSP__J_MAX_ADDRESS),
};
RSP__JTYPE(rsp_es12_json_delete_event_req_type, "es12.deleteEvent.request", ST, de_req, 0,
           RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST

#define ST struct rsp_es12_json_delete_event_resp
static const struct rsp_msg_json_field de_resp[] = {RSP__JRESP_HEADER(ST, RSP__J_REQ)};
RSP__JTYPE(rsp_es12_json_delete_event_resp_type, "es12.deleteEvent.response", ST, de_resp,
           RSP_MSG_JSON_T_RESPONSE, RSP_MSG_JSON_CHOICE_NONE, NULL);
#undef ST
