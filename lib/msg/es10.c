/* ES10a/b/c function table (SGP.22 §5.7, SGP.32 §5.9 and notes section 5). */
#include "rsp/msg/es10.h"

#include "rsp/msg/asn1.h"
#include "rsp/msg/tags.h"

#define F22(name, iface, tag, req, resp)                                                           \
  { name, iface, tag, &rsp_msgt_##req, &rsp_msgt_##resp, NULL, false }
#define F22X(name, iface, tag, req, resp32, resp22)                                                \
  { name, iface, tag, &rsp_msgt_##req, &rsp_msgt_##resp32, &rsp_msgt_##resp22, false }
#define F32(name, tag, req, resp)                                                                  \
  { name, RSP_ES10B, tag, &rsp_msgt_##req, &rsp_msgt_##resp, NULL, true }

const struct rsp_es10_function rsp_es10_functions[] = {
    /* ES10a */
    F22("GetEuiccConfiguredAddresses", RSP_ES10A, RSP_TAG_EUICC_CONFIGURED_ADDRESSES_REQUEST,
        euicc_configured_addresses_request, euicc_configured_addresses_response),
    F22("SetDefaultDpAddress", RSP_ES10A, RSP_TAG_SET_DEFAULT_DP_ADDRESS_REQUEST,
        set_default_dp_address_request, set_default_dp_address_response),
    /* ES10b */
    F22X("PrepareDownload", RSP_ES10B, RSP_TAG_PREPARE_DOWNLOAD_REQUEST, prepare_download_request,
         sgp32_prepare_download_response, prepare_download_response),
    F22X("LoadBoundProfilePackage", RSP_ES10B, RSP_TAG_BOUND_PROFILE_PACKAGE, bound_profile_package,
         sgp32_profile_installation_result, profile_installation_result),
    F22("GetEUICCChallenge", RSP_ES10B, RSP_TAG_GET_EUICC_CHALLENGE_REQUEST,
        get_euicc_challenge_request, get_euicc_challenge_response),
    F22("GetEUICCInfo1", RSP_ES10B, RSP_TAG_GET_EUICC_INFO1_REQUEST, get_euicc_info1_request,
        euicc_info1),
    F22X("GetEUICCInfo2", RSP_ES10B, RSP_TAG_GET_EUICC_INFO2_REQUEST, get_euicc_info2_request,
         sgp32_euicc_info2, euicc_info2),
    F22("ListNotification", RSP_ES10B, RSP_TAG_LIST_NOTIFICATION_REQUEST, list_notification_request,
        list_notification_response),
    F22X("RetrieveNotificationsList", RSP_ES10B, RSP_TAG_RETRIEVE_NOTIFICATIONS_LIST_REQUEST,
         sgp32_retrieve_notifications_list_request, sgp32_retrieve_notifications_list_response,
         retrieve_notifications_list_response),
    F22("RemoveNotificationFromList", RSP_ES10B, RSP_TAG_NOTIFICATION_SENT_REQUEST,
        notification_sent_request, notification_sent_response),
    F22("LoadCRL", RSP_ES10B, RSP_TAG_LOAD_CRL_REQUEST, load_crl_request, load_crl_response),
    F22X("AuthenticateServer", RSP_ES10B, RSP_TAG_AUTHENTICATE_SERVER_REQUEST,
         authenticate_server_request, sgp32_authenticate_server_response,
         authenticate_server_response),
    F22X("CancelSession", RSP_ES10B, RSP_TAG_CANCEL_SESSION_REQUEST, cancel_session_request,
         sgp32_cancel_session_response, cancel_session_response),
    F22("GetRAT", RSP_ES10B, RSP_TAG_GET_RAT_REQUEST, get_rat_request, get_rat_response),
    /* ES10c */
    F22X("GetProfilesInfo", RSP_ES10C, RSP_TAG_PROFILE_INFO_LIST_REQUEST, profile_info_list_request,
         sgp32_profile_info_list_response, profile_info_list_response),
    F22("EnableProfile", RSP_ES10C, RSP_TAG_ENABLE_PROFILE_REQUEST, enable_profile_request,
        enable_profile_response),
    F22("DisableProfile", RSP_ES10C, RSP_TAG_DISABLE_PROFILE_REQUEST, disable_profile_request,
        disable_profile_response),
    F22("DeleteProfile", RSP_ES10C, RSP_TAG_DELETE_PROFILE_REQUEST, delete_profile_request,
        delete_profile_response),
    F22("eUICCMemoryReset", RSP_ES10C, RSP_TAG_EUICC_MEMORY_RESET_REQUEST,
        euicc_memory_reset_request, euicc_memory_reset_response),
    F22("GetEID", RSP_ES10C, RSP_TAG_GET_EUICC_DATA_REQUEST, get_euicc_data_request,
        get_euicc_data_response),
    F22("SetNickname", RSP_ES10C, RSP_TAG_SET_NICKNAME_REQUEST, set_nickname_request,
        set_nickname_response),
    /* SGP.32 additions (notes section 5: ES10a/b/c split unconfirmed, listed as ES10b) */
    F32("LoadEuiccPackage", RSP_TAG_EUICC_PACKAGE_REQUEST, euicc_package_request,
        euicc_package_result),
    F32("GetEimConfigurationData", RSP_TAG_GET_EIM_CONFIGURATION_DATA_REQUEST,
        get_eim_configuration_data_request, get_eim_configuration_data_response),
    F32("GetCerts", RSP_TAG_GET_CERTS_REQUEST, get_certs_request, get_certs_response),
    F32("AddInitialEim", RSP_TAG_ADD_INITIAL_EIM_REQUEST, add_initial_eim_request,
        add_initial_eim_response),
    F32("ProfileRollback", RSP_TAG_PROFILE_ROLLBACK_REQUEST, profile_rollback_request,
        profile_rollback_response),
    F32("ConfigureImmediateProfileEnabling", RSP_TAG_CONFIGURE_IMMEDIATE_PROFILE_ENABLING_REQUEST,
        configure_immediate_profile_enabling_request,
        configure_immediate_profile_enabling_response),
    F32("ImmediateEnable", RSP_TAG_IMMEDIATE_ENABLE_REQUEST, immediate_enable_request,
        immediate_enable_response),
    F32("EnableEmergencyProfile", RSP_TAG_ENABLE_EMERGENCY_PROFILE_REQUEST,
        enable_emergency_profile_request, enable_emergency_profile_response),
    F32("DisableEmergencyProfile", RSP_TAG_DISABLE_EMERGENCY_PROFILE_REQUEST,
        disable_emergency_profile_request, disable_emergency_profile_response),
    F32("ExecuteFallbackMechanism", RSP_TAG_EXECUTE_FALLBACK_MECHANISM_REQUEST,
        execute_fallback_mechanism_request, execute_fallback_mechanism_response),
    F32("ReturnFromFallback", RSP_TAG_RETURN_FROM_FALLBACK_REQUEST, return_from_fallback_request,
        return_from_fallback_response),
    F32("GetConnectivityParameters", RSP_TAG_GET_CONNECTIVITY_PARAMETERS_REQUEST,
        get_connectivity_parameters_request, get_connectivity_parameters_response),
    F32("IpaeActivation", RSP_TAG_IPAE_ACTIVATION_REQUEST, ipae_activation_request,
        ipae_activation_response),
    F32("MemoryReset", RSP_TAG_SGP32_EUICC_MEMORY_RESET_REQUEST, sgp32_euicc_memory_reset_request,
        sgp32_euicc_memory_reset_response),
    F32("SetDefaultDpAddress(SGP.32)", RSP_TAG_SGP32_SET_DEFAULT_DP_ADDRESS_REQUEST,
        sgp32_set_default_dp_address_request, sgp32_set_default_dp_address_response),
};

const size_t rsp_es10_functions_count = sizeof rsp_es10_functions / sizeof rsp_es10_functions[0];

const struct rsp_es10_function *rsp_es10_function_by_tag(uint32_t tag) {
  for (size_t i = 0; i < rsp_es10_functions_count; i++)
    if (rsp_es10_functions[i].tag == tag) return &rsp_es10_functions[i];
  return NULL;
}

rsp_err_t rsp_es10_decode_command(const uint8_t *der, size_t len, struct rsp_arena *arena,
                                  const struct rsp_es10_function **fn, void **request,
                                  struct rsp_msg_diag *diag) {
  struct rsp_der_tlv tlv;
  rsp_err_t rc = rsp_der_parse_one(der, len, &tlv);
  if (rc != RSP_OK) return rc;
  const struct rsp_es10_function *f = rsp_es10_function_by_tag(tlv.tag);
  if (!f || f->tag == RSP_TAG_BOUND_PROFILE_PACKAGE) return RSP_E_UNSUPPORTED;
  if ((rc = rsp_msg_decode_tlv(f->request, &tlv, arena, request, diag)) != RSP_OK) return rc;
  *fn = f;
  return RSP_OK;
}

rsp_err_t rsp_es10_decode_response(const struct rsp_es10_function *fn, const uint8_t *der,
                                   size_t len, struct rsp_arena *arena, void **response,
                                   bool *sgp22, struct rsp_msg_diag *diag) {
  struct rsp_der_tlv tlv;
  rsp_err_t rc = rsp_der_parse_one(der, len, &tlv);
  if (rc != RSP_OK) return rc;
  *sgp22 = false;
  rc = rsp_msg_decode_tlv(fn->response, &tlv, arena, response, diag);
  if (rc != RSP_OK && fn->response_sgp22) {
    rc = rsp_msg_decode_tlv(fn->response_sgp22, &tlv, arena, response, diag);
    if (rc == RSP_OK) *sgp22 = true;
  }
  return rc;
}
