/* SGP.32 v1.0 ESipa descriptors (see include/rsp/msg/sgp32_v10.h and notes 2.2). */
#include "rsp/msg/sgp32_v10.h"

#include <stddef.h>

#include "rsp/msg/tags.h"

#define CTX(n) (RSP_DER_CLASS_CONTEXT | (n))

static const struct rsp_msg_field get_eim_package_request_fields[] = {
    {"eidValue", NULL, 0x5Au, 0, offsetof(struct rsp_msg_v10_get_eim_package_request, eid_value),
     RSP_MSG_OCTETS, RSP_MSG_F_LO | RSP_MSG_F_HI, 16, 16, 0, "Octet16"},
    {"notifyStateChange", NULL, CTX(0), 0,
     offsetof(struct rsp_msg_v10_get_eim_package_request, notify_state_change), RSP_MSG_NULL,
     RSP_MSG_F_OPTIONAL, 0, 0, 0, NULL},
    {"rPLMN", NULL, CTX(1), 0, offsetof(struct rsp_msg_v10_get_eim_package_request, r_plmn),
     RSP_MSG_OCTETS, RSP_MSG_F_OPTIONAL | RSP_MSG_F_LO | RSP_MSG_F_HI, 3, 3, 0, NULL},
};

static const struct rsp_msg_field epr_and_notifications_fields[] = {
    {"euiccPackageResult", &rsp_msgt_euicc_package_result, RSP_TAG_EUICC_PACKAGE_RESULT, 0,
     offsetof(struct rsp_msg_v10_epr_and_notifications, euicc_package_result), RSP_MSG_CHOICE, 0, 0,
     0, 0, "EuiccPackageResult"},
    {"notificationList", &rsp_msgt_sgp32_retrieve_notifications_list_response,
     RSP_TAG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE, 0,
     offsetof(struct rsp_msg_v10_epr_and_notifications, notification_list), RSP_MSG_CHOICE, 0, 0, 0,
     0, "SGP32-RetrieveNotificationsListResponse"},
};

#define PEPR(member) offsetof(struct rsp_msg_v10_provide_eim_package_result, u.member)
static const struct rsp_msg_field provide_eim_package_result_fields[] = {
    {"euiccPackageResult", &rsp_msgt_euicc_package_result, RSP_TAG_EUICC_PACKAGE_RESULT, 0,
     PEPR(euicc_package_result), RSP_MSG_CHOICE, 0, 0, 0, 0, "EuiccPackageResult"},
    {"ePRAndNotifications", &rsp_msgt_v10_epr_and_notifications, RSP_DER_SEQUENCE, 0,
     PEPR(epr_and_notifications), RSP_MSG_SEQ, 0, 0, 0, 0, NULL},
    {"ipaEuiccDataResponse", &rsp_msgt_ipa_euicc_data_response, RSP_TAG_IPA_EUICC_DATA_RESPONSE, 0,
     PEPR(ipa_euicc_data_response), RSP_MSG_CHOICE, 0, 0, 0, 0, "IpaEuiccDataResponse"},
    {"profileDownloadTriggerResult", &rsp_msgt_profile_download_trigger_result,
     RSP_TAG_PROFILE_DOWNLOAD_TRIGGER_RESULT, 0, PEPR(profile_download_trigger_result), RSP_MSG_SEQ,
     0, 0, 0, 0, "ProfileDownloadTriggerResult"},
    {"eimPackageError", NULL, RSP_DER_INTEGER, 0, PEPR(eim_package_error), RSP_MSG_INT, 0, 0, 0, 0,
     NULL},
};

static const struct rsp_msg_field provide_eim_package_result_response_fields[] = {
    {"eimAcknowledgements", &rsp_msgt_eim_acknowledgements, RSP_TAG_EIM_ACKNOWLEDGEMENTS, 0,
     offsetof(struct rsp_msg_v10_provide_eim_package_result_response, eim_acknowledgements),
     RSP_MSG_SEQOF, RSP_MSG_F_OPTIONAL, 0, 0, 0, "EimAcknowledgements"},
};

const struct rsp_msg_type rsp_msgt_v10_get_eim_package_request = {
    "GetEimPackageRequest-v1.0",
    get_eim_package_request_fields,
    RSP_TAG_GET_EIM_PACKAGE_REQUEST,
    sizeof(struct rsp_msg_v10_get_eim_package_request),
    3,
    RSP_MSG_SEQ,
    0,
    0,
    0};
const struct rsp_msg_type rsp_msgt_v10_epr_and_notifications = {
    "ProvideEimPackageResult-v1.0.ePRAndNotifications",
    epr_and_notifications_fields,
    RSP_DER_SEQUENCE,
    sizeof(struct rsp_msg_v10_epr_and_notifications),
    2,
    RSP_MSG_SEQ,
    0,
    0,
    0};
const struct rsp_msg_type rsp_msgt_v10_provide_eim_package_result = {
    "ProvideEimPackageResult-v1.0",
    provide_eim_package_result_fields,
    RSP_TAG_PROVIDE_EIM_PACKAGE_RESULT,
    sizeof(struct rsp_msg_v10_provide_eim_package_result),
    5,
    RSP_MSG_CHOICE,
    0,
    0,
    0};
const struct rsp_msg_type rsp_msgt_v10_provide_eim_package_result_response = {
    "ProvideEimPackageResultResponse-v1.0",
    provide_eim_package_result_response_fields,
    RSP_TAG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE,
    sizeof(struct rsp_msg_v10_provide_eim_package_result_response),
    1,
    RSP_MSG_SEQ,
    0,
    0,
    0};
