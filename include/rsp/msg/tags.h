/* openrsp: the tag of every tagged production of the SGP.32 v1.2 (SGP32Definitions) and SGP.22
 * v2.5 (RSPDefinitions) modules, named after the production (no magic tag numbers in code).
 *
 * Each entry is XX(NAME, encoded tag, ASN.1 production name). The encoded tag is the wire form
 * used by lib/der (0xBF51 = [81] constructed, context class). The table is checked against the
 * reference modules by tests/vectors/test_msg_tags.c through the asn1c reference decoder, so a
 * wrong entry fails the build's tests. Productions that exist in both modules with the same tag
 * (SGP32-EUICCInfo2 and EUICCInfo2 ...) have one entry each. Field tags inside a production are
 * defined by the codec of that message family.
 */
#ifndef RSP_MSG_TAGS_H
#define RSP_MSG_TAGS_H

#define RSP_MSG_TAG_MAP(XX)                                                                        \
  XX(EUICC_PACKAGE_REQUEST, 0xBF51u, "EuiccPackageRequest")                                        \
  XX(IPA_EUICC_DATA_REQUEST, 0xBF52u, "IpaEuiccDataRequest")                                       \
  XX(PROFILE_DOWNLOAD_TRIGGER_REQUEST, 0xBF54u, "ProfileDownloadTriggerRequest")                   \
  XX(EIM_ACKNOWLEDGEMENTS, 0xBF53u, "EimAcknowledgements")                                         \
  XX(SEQUENCE_NUMBER, 0x80u, "SequenceNumber")                                                     \
  XX(EUICC_PACKAGE_RESULT, 0xBF51u, "EuiccPackageResult")                                          \
  XX(SGP32_PROFILE_INFO_LIST_RESPONSE, 0xBF2Du, "SGP32-ProfileInfoListResponse")                   \
  XX(IPA_EUICC_DATA_RESPONSE, 0xBF52u, "IpaEuiccDataResponse")                                     \
  XX(PROFILE_DOWNLOAD_TRIGGER_RESULT, 0xBF54u, "ProfileDownloadTriggerResult")                     \
  XX(ISDR_PROPRIETARY_APPLICATION_TEMPLATE_IOT, 0xE1u, "ISDRProprietaryApplicationTemplateIoT")    \
  XX(IPAE_ACTIVATION_REQUEST, 0xBF42u, "IpaeActivationRequest")                                    \
  XX(IPAE_ACTIVATION_RESPONSE, 0xBF42u, "IpaeActivationResponse")                                  \
  XX(SGP32_PROFILE_INFO, 0xE3u, "SGP32-ProfileInfo")                                               \
  XX(SGP32_STORE_METADATA_REQUEST, 0xBF25u, "SGP32-StoreMetadataRequest")                          \
  XX(SGP32_AUTHENTICATE_CLIENT_REQUEST, 0xBF3Bu, "SGP32-AuthenticateClientRequest")                \
  XX(SGP32_EUICC_INFO2, 0xBF22u, "SGP32-EUICCInfo2")                                               \
  XX(ADD_INITIAL_EIM_REQUEST, 0xBF57u, "AddInitialEimRequest")                                     \
  XX(ADD_INITIAL_EIM_RESPONSE, 0xBF57u, "AddInitialEimResponse")                                   \
  XX(SGP32_EUICC_MEMORY_RESET_REQUEST, 0xBF64u, "SGP32-EuiccMemoryResetRequest")                   \
  XX(SGP32_EUICC_MEMORY_RESET_RESPONSE, 0xBF64u, "SGP32-EuiccMemoryResetResponse")                 \
  XX(GET_CERTS_REQUEST, 0xBF56u, "GetCertsRequest")                                                \
  XX(GET_CERTS_RESPONSE, 0xBF56u, "GetCertsResponse")                                              \
  XX(SGP32_RETRIEVE_NOTIFICATIONS_LIST_REQUEST, 0xBF2Bu, "SGP32-RetrieveNotificationsListRequest") \
  XX(SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE, 0xBF2Bu,                                          \
     "SGP32-RetrieveNotificationsListResponse")                                                    \
  XX(IMMEDIATE_ENABLE_REQUEST, 0xBF5Au, "ImmediateEnableRequest")                                  \
  XX(IMMEDIATE_ENABLE_RESPONSE, 0xBF5Au, "ImmediateEnableResponse")                                \
  XX(PROFILE_ROLLBACK_REQUEST, 0xBF58u, "ProfileRollbackRequest")                                  \
  XX(PROFILE_ROLLBACK_RESPONSE, 0xBF58u, "ProfileRollbackResponse")                                \
  XX(CONFIGURE_IMMEDIATE_PROFILE_ENABLING_REQUEST, 0xBF59u,                                        \
     "ConfigureImmediateProfileEnablingRequest")                                                   \
  XX(CONFIGURE_IMMEDIATE_PROFILE_ENABLING_RESPONSE, 0xBF59u,                                       \
     "ConfigureImmediateProfileEnablingResponse")                                                  \
  XX(GET_EIM_CONFIGURATION_DATA_REQUEST, 0xBF55u, "GetEimConfigurationDataRequest")                \
  XX(GET_EIM_CONFIGURATION_DATA_RESPONSE, 0xBF55u, "GetEimConfigurationDataResponse")              \
  XX(EXECUTE_FALLBACK_MECHANISM_REQUEST, 0xBF5Du, "ExecuteFallbackMechanismRequest")               \
  XX(EXECUTE_FALLBACK_MECHANISM_RESPONSE, 0xBF5Du, "ExecuteFallbackMechanismResponse")             \
  XX(RETURN_FROM_FALLBACK_REQUEST, 0xBF5Eu, "ReturnFromFallbackRequest")                           \
  XX(RETURN_FROM_FALLBACK_RESPONSE, 0xBF5Eu, "ReturnFromFallbackResponse")                         \
  XX(ENABLE_EMERGENCY_PROFILE_REQUEST, 0xBF5Bu, "EnableEmergencyProfileRequest")                   \
  XX(ENABLE_EMERGENCY_PROFILE_RESPONSE, 0xBF5Bu, "EnableEmergencyProfileResponse")                 \
  XX(DISABLE_EMERGENCY_PROFILE_REQUEST, 0xBF5Cu, "DisableEmergencyProfileRequest")                 \
  XX(DISABLE_EMERGENCY_PROFILE_RESPONSE, 0xBF5Cu, "DisableEmergencyProfileResponse")               \
  XX(GET_CONNECTIVITY_PARAMETERS_REQUEST, 0xBF5Fu, "GetConnectivityParametersRequest")             \
  XX(GET_CONNECTIVITY_PARAMETERS_RESPONSE, 0xBF5Fu, "GetConnectivityParametersResponse")           \
  XX(SGP32_SET_DEFAULT_DP_ADDRESS_REQUEST, 0xBF65u, "SGP32-SetDefaultDpAddressRequest")            \
  XX(SGP32_SET_DEFAULT_DP_ADDRESS_RESPONSE, 0xBF65u, "SGP32-SetDefaultDpAddressResponse")          \
  XX(SGP32_PREPARE_DOWNLOAD_RESPONSE, 0xBF21u, "SGP32-PrepareDownloadResponse")                    \
  XX(SGP32_AUTHENTICATE_SERVER_RESPONSE, 0xBF38u, "SGP32-AuthenticateServerResponse")              \
  XX(SGP32_PROFILE_INSTALLATION_RESULT, 0xBF37u, "SGP32-ProfileInstallationResult")                \
  XX(SGP32_CANCEL_SESSION_RESPONSE, 0xBF41u, "SGP32-CancelSessionResponse")                        \
  XX(INITIATE_AUTHENTICATION_REQUEST_ESIPA, 0xBF39u, "InitiateAuthenticationRequestEsipa")         \
  XX(INITIATE_AUTHENTICATION_RESPONSE_ESIPA, 0xBF39u, "InitiateAuthenticationResponseEsipa")       \
  XX(AUTHENTICATE_CLIENT_REQUEST_ESIPA, 0xBF3Bu, "AuthenticateClientRequestEsipa")                 \
  XX(AUTHENTICATE_CLIENT_RESPONSE_ESIPA, 0xBF3Bu, "AuthenticateClientResponseEsipa")               \
  XX(GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA, 0xBF3Au, "GetBoundProfilePackageRequestEsipa")       \
  XX(GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA, 0xBF3Au, "GetBoundProfilePackageResponseEsipa")     \
  XX(HANDLE_NOTIFICATION_ESIPA, 0xBF3Du, "HandleNotificationEsipa")                                \
  XX(CANCEL_SESSION_REQUEST_ESIPA, 0xBF41u, "CancelSessionRequestEsipa")                           \
  XX(CANCEL_SESSION_RESPONSE_ESIPA, 0xBF41u, "CancelSessionResponseEsipa")                         \
  XX(GET_EIM_PACKAGE_REQUEST, 0xBF4Fu, "GetEimPackageRequest")                                     \
  XX(GET_EIM_PACKAGE_RESPONSE, 0xBF4Fu, "GetEimPackageResponse")                                   \
  XX(PROVIDE_EIM_PACKAGE_RESULT, 0xBF50u, "ProvideEimPackageResult")                               \
  XX(PROVIDE_EIM_PACKAGE_RESULT_RESPONSE, 0xBF50u, "ProvideEimPackageResultResponse")              \
  XX(TRANSFER_EIM_PACKAGE_REQUEST, 0xBF4Eu, "TransferEimPackageRequest")                           \
  XX(TRANSFER_EIM_PACKAGE_RESPONSE, 0xBF4Eu, "TransferEimPackageResponse")                         \
  XX(ICCID, 0x5Au, "Iccid")                                                                        \
  XX(REMOTE_OP_ID, 0x82u, "RemoteOpId")                                                            \
  XX(GET_EUICC_INFO1_REQUEST, 0xBF20u, "GetEuiccInfo1Request")                                     \
  XX(EUICC_INFO1, 0xBF20u, "EUICCInfo1")                                                           \
  XX(GET_EUICC_INFO2_REQUEST, 0xBF22u, "GetEuiccInfo2Request")                                     \
  XX(EUICC_INFO2, 0xBF22u, "EUICCInfo2")                                                           \
  XX(PROFILE_INFO_LIST_REQUEST, 0xBF2Du, "ProfileInfoListRequest")                                 \
  XX(PROFILE_INFO_LIST_RESPONSE, 0xBF2Du, "ProfileInfoListResponse")                               \
  XX(PROFILE_INFO, 0xE3u, "ProfileInfo")                                                           \
  XX(STORE_METADATA_REQUEST, 0xBF25u, "StoreMetadataRequest")                                      \
  XX(UPDATE_METADATA_REQUEST, 0xBF2Au, "UpdateMetadataRequest")                                    \
  XX(PREPARE_DOWNLOAD_REQUEST, 0xBF21u, "PrepareDownloadRequest")                                  \
  XX(PREPARE_DOWNLOAD_RESPONSE, 0xBF21u, "PrepareDownloadResponse")                                \
  XX(AUTHENTICATE_SERVER_REQUEST, 0xBF38u, "AuthenticateServerRequest")                            \
  XX(AUTHENTICATE_SERVER_RESPONSE, 0xBF38u, "AuthenticateServerResponse")                          \
  XX(CANCEL_SESSION_REQUEST, 0xBF41u, "CancelSessionRequest")                                      \
  XX(CANCEL_SESSION_RESPONSE, 0xBF41u, "CancelSessionResponse")                                    \
  XX(BOUND_PROFILE_PACKAGE, 0xBF36u, "BoundProfilePackage")                                        \
  XX(GET_EUICC_CHALLENGE_REQUEST, 0xBF2Eu, "GetEuiccChallengeRequest")                             \
  XX(GET_EUICC_CHALLENGE_RESPONSE, 0xBF2Eu, "GetEuiccChallengeResponse")                           \
  XX(PROFILE_INSTALLATION_RESULT, 0xBF37u, "ProfileInstallationResult")                            \
  XX(PROFILE_INSTALLATION_RESULT_DATA, 0xBF27u, "ProfileInstallationResultData")                   \
  XX(EUICC_SIGN_PIR, 0x5F37u, "EuiccSignPIR")                                                      \
  XX(LIST_NOTIFICATION_REQUEST, 0xBF28u, "ListNotificationRequest")                                \
  XX(LIST_NOTIFICATION_RESPONSE, 0xBF28u, "ListNotificationResponse")                              \
  XX(NOTIFICATION_METADATA, 0xBF2Fu, "NotificationMetadata")                                       \
  XX(SET_NICKNAME_REQUEST, 0xBF29u, "SetNicknameRequest")                                          \
  XX(SET_NICKNAME_RESPONSE, 0xBF29u, "SetNicknameResponse")                                        \
  XX(INITIALISE_SECURE_CHANNEL_REQUEST, 0xBF23u, "InitialiseSecureChannelRequest")                 \
  XX(INITIALISE_SECURE_CHANNEL_REQUEST_VER, 0xBF23u, "InitialiseSecureChannelRequest-ver")         \
  XX(CONFIGURE_ISDP_REQUEST, 0xBF24u, "ConfigureISDPRequest")                                      \
  XX(REPLACE_SESSION_KEYS_REQUEST, 0xBF26u, "ReplaceSessionKeysRequest")                           \
  XX(RETRIEVE_NOTIFICATIONS_LIST_REQUEST, 0xBF2Bu, "RetrieveNotificationsListRequest")             \
  XX(RETRIEVE_NOTIFICATIONS_LIST_RESPONSE, 0xBF2Bu, "RetrieveNotificationsListResponse")           \
  XX(NOTIFICATION_SENT_REQUEST, 0xBF30u, "NotificationSentRequest")                                \
  XX(NOTIFICATION_SENT_RESPONSE, 0xBF30u, "NotificationSentResponse")                              \
  XX(ENABLE_PROFILE_REQUEST, 0xBF31u, "EnableProfileRequest")                                      \
  XX(ENABLE_PROFILE_RESPONSE, 0xBF31u, "EnableProfileResponse")                                    \
  XX(DISABLE_PROFILE_REQUEST, 0xBF32u, "DisableProfileRequest")                                    \
  XX(DISABLE_PROFILE_RESPONSE, 0xBF32u, "DisableProfileResponse")                                  \
  XX(DELETE_PROFILE_REQUEST, 0xBF33u, "DeleteProfileRequest")                                      \
  XX(DELETE_PROFILE_RESPONSE, 0xBF33u, "DeleteProfileResponse")                                    \
  XX(EUICC_MEMORY_RESET_REQUEST, 0xBF34u, "EuiccMemoryResetRequest")                               \
  XX(EUICC_MEMORY_RESET_RESPONSE, 0xBF34u, "EuiccMemoryResetResponse")                             \
  XX(GET_EUICC_DATA_REQUEST, 0xBF3Eu, "GetEuiccDataRequest")                                       \
  XX(GET_EUICC_DATA_RESPONSE, 0xBF3Eu, "GetEuiccDataResponse")                                     \
  XX(GET_RAT_REQUEST, 0xBF43u, "GetRatRequest")                                                    \
  XX(GET_RAT_RESPONSE, 0xBF43u, "GetRatResponse")                                                  \
  XX(LOAD_CRL_REQUEST, 0xBF35u, "LoadCRLRequest")                                                  \
  XX(LOAD_CRL_RESPONSE, 0xBF35u, "LoadCRLResponse")                                                \
  XX(REMOTE_PROFILE_PROVISIONING_REQUEST, 0xA2u, "RemoteProfileProvisioningRequest")               \
  XX(REMOTE_PROFILE_PROVISIONING_RESPONSE, 0xA2u, "RemoteProfileProvisioningResponse")             \
  XX(INITIATE_AUTHENTICATION_REQUEST, 0xBF39u, "InitiateAuthenticationRequest")                    \
  XX(INITIATE_AUTHENTICATION_RESPONSE, 0xBF39u, "InitiateAuthenticationResponse")                  \
  XX(AUTHENTICATE_CLIENT_REQUEST, 0xBF3Bu, "AuthenticateClientRequest")                            \
  XX(AUTHENTICATE_CLIENT_RESPONSE_ES9, 0xBF3Bu, "AuthenticateClientResponseEs9")                   \
  XX(GET_BOUND_PROFILE_PACKAGE_REQUEST, 0xBF3Au, "GetBoundProfilePackageRequest")                  \
  XX(GET_BOUND_PROFILE_PACKAGE_RESPONSE, 0xBF3Au, "GetBoundProfilePackageResponse")                \
  XX(HANDLE_NOTIFICATION, 0xBF3Du, "HandleNotification")                                           \
  XX(CANCEL_SESSION_REQUEST_ES9, 0xBF41u, "CancelSessionRequestEs9")                               \
  XX(CANCEL_SESSION_RESPONSE_ES9, 0xBF41u, "CancelSessionResponseEs9")                             \
  XX(EUICC_CONFIGURED_ADDRESSES_REQUEST, 0xBF3Cu, "EuiccConfiguredAddressesRequest")               \
  XX(EUICC_CONFIGURED_ADDRESSES_RESPONSE, 0xBF3Cu, "EuiccConfiguredAddressesResponse")             \
  XX(ISDR_PROPRIETARY_APPLICATION_TEMPLATE, 0xE0u, "ISDRProprietaryApplicationTemplate")           \
  XX(LPAE_ACTIVATION_REQUEST, 0xBF42u, "LpaeActivationRequest")                                    \
  XX(LPAE_ACTIVATION_RESPONSE, 0xBF42u, "LpaeActivationResponse")                                  \
  XX(SET_DEFAULT_DP_ADDRESS_REQUEST, 0xBF3Fu, "SetDefaultDpAddressRequest")                        \
  XX(SET_DEFAULT_DP_ADDRESS_RESPONSE, 0xBF3Fu, "SetDefaultDpAddressResponse")                      \
  XX(AUTHENTICATE_CLIENT_RESPONSE_ES11, 0xBF40u, "AuthenticateClientResponseEs11")

enum rsp_msg_tag {
#define RSP_MSG_TAG_ENUM_(name, tag, production) RSP_TAG_##name = tag,
  RSP_MSG_TAG_MAP(RSP_MSG_TAG_ENUM_)
#undef RSP_MSG_TAG_ENUM_
};

#endif
