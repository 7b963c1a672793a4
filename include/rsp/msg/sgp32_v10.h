/* openrsp: the SGP.32 v1.0 ESipa forms that differ on the wire from v1.2 (notes 2.2).
 *
 * v1.0 "never got used in production", but early IPAs and the captured traces of notes 3.4 use
 * it, and decoding it is cheap: three hand-written descriptors over the generated v1.2 types.
 *   - GetEimPackageRequest v1.0: rPLMN is [1] (v1.2 puts stateChangeCause at [1] and rPLMN at
 *     [2]), so a v1.0 rPLMN would read as a 3-byte stateChangeCause under the v1.2 descriptor;
 *   - ProvideEimPackageResult v1.0: a bare [80] CHOICE; ePRAndNotifications carries its
 *     notification list as [43] SGP32-RetrieveNotificationsListResponse (BF2B) instead of [0];
 *   - ProvideEimPackageResultResponse v1.0: SEQUENCE { eimAcknowledgements [83] OPTIONAL }, so
 *     "nothing to acknowledge" is an empty BF50.
 * Encoding them is supported for tests and for talking to v1.0 peers on purpose only. */
#ifndef RSP_MSG_SGP32_V10_H
#define RSP_MSG_SGP32_V10_H

#include "rsp/msg/asn1.h"

struct rsp_msg_v10_get_eim_package_request {
  struct rsp_slice raw;
  struct rsp_msg_ext *ext;
  struct rsp_slice eid_value; /* 5A SIZE(16) */
  bool notify_state_change;   /* 80 OPTIONAL */
  struct rsp_slice r_plmn;    /* 81 SIZE(3) OPTIONAL */
};

struct rsp_msg_v10_epr_and_notifications {
  struct rsp_slice raw;
  struct rsp_msg_ext *ext;
  struct rsp_msg_euicc_package_result *euicc_package_result;                    /* BF51 */
  struct rsp_msg_sgp32_retrieve_notifications_list_response *notification_list; /* BF2B */
};

enum rsp_msg_v10_provide_eim_package_result_alt {
  RSP_MSG_V10_PROVIDE_EIM_PACKAGE_RESULT_NONE = 0,
  RSP_MSG_V10_PROVIDE_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT = 1,
  RSP_MSG_V10_PROVIDE_EIM_PACKAGE_RESULT_EPR_AND_NOTIFICATIONS = 2,
  RSP_MSG_V10_PROVIDE_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE = 3,
  RSP_MSG_V10_PROVIDE_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT = 4,
  RSP_MSG_V10_PROVIDE_EIM_PACKAGE_RESULT_EIM_PACKAGE_ERROR = 5,
};

struct rsp_msg_v10_provide_eim_package_result {
  struct rsp_slice raw;
  int which;
  union {
    struct rsp_msg_euicc_package_result *euicc_package_result;
    struct rsp_msg_v10_epr_and_notifications *epr_and_notifications;
    struct rsp_msg_ipa_euicc_data_response *ipa_euicc_data_response;
    struct rsp_msg_profile_download_trigger_result *profile_download_trigger_result;
    int64_t eim_package_error;
  } u;
};

struct rsp_msg_v10_provide_eim_package_result_response {
  struct rsp_slice raw;
  struct rsp_msg_ext *ext;
  struct rsp_msg_eim_acknowledgements *eim_acknowledgements; /* BF53 OPTIONAL */
};

extern const struct rsp_msg_type rsp_msgt_v10_get_eim_package_request;
extern const struct rsp_msg_type rsp_msgt_v10_epr_and_notifications;
extern const struct rsp_msg_type rsp_msgt_v10_provide_eim_package_result;
extern const struct rsp_msg_type rsp_msgt_v10_provide_eim_package_result_response;

#endif
