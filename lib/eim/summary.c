/* The operator's view of a result (rsp_eim_result_summary, rsp/eim/spec.h): one compact JSON
 * object per EimPackageResult, with every result code by its ASN.1 name (SGP32Definitions and
 * RSPDefinitions named numbers, notes 3.2 to 3.6), and the verdict the ESipa service records
 * (summary_internal.h). Text from the card (profile names, eimIds) is copied only when it is
 * valid UTF-8, else shown as hex. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/text.h"
#include "rsp/eim/spec.h"
#include "summary_internal.h"

/* ---- result code names -------------------------------------------------------------------------
 */

struct code {
  int64_t v;
  const char *name;
};

#define END                                                                                        \
  { -1, NULL }

static const struct code enable_codes[] = {{0, "ok"},
                                           {1, "iccidOrAidNotFound"},
                                           {2, "profileNotInDisabledState"},
                                           {3, "disallowedByPolicy"},
                                           {5, "catBusy"},
                                           {20, "rollbackNotAvailable"},
                                           {127, "undefinedError"},
                                           END};
static const struct code disable_codes[] = {{0, "ok"},
                                            {1, "iccidOrAidNotFound"},
                                            {2, "profileNotInEnabledState"},
                                            {3, "disallowedByPolicy"},
                                            {5, "catBusy"},
                                            {127, "undefinedError"},
                                            END};
static const struct code delete_codes[] = {{0, "ok"},
                                           {1, "iccidOrAidNotFound"},
                                           {2, "profileNotInDisabledState"},
                                           {3, "disallowedByPolicy"},
                                           {20, "rollbackNotAvailable"},
                                           {21, "returnFallbackProfile"},
                                           {127, "undefinedError"},
                                           END};
static const struct code profile_list_codes[] = {
    {1, "incorrectInputValues"}, {11, "profileChangeOngoing"}, {127, "undefinedError"}, END};
static const struct code immediate_codes[] = {
    {0, "ok"}, {1, "insufficientMemory"}, {7, "commandError"}, {127, "undefinedError"}, END};
static const struct code add_eim_codes[] = {
    {0, "ok"},           {1, "insufficientMemory"},      {2, "associatedEimAlreadyExists"},
    {3, "ciPKUnknown"},  {5, "invalidAssociationToken"}, {6, "counterValueOutOfRange"},
    {7, "commandError"}, {127, "undefinedError"},        END};
static const struct code delete_eim_codes[] = {
    {0, "ok"},           {1, "eimNotFound"},      {2, "lastEimDeleted"},
    {7, "commandError"}, {127, "undefinedError"}, END};
static const struct code update_eim_codes[] = {{0, "ok"},
                                               {1, "eimNotFound"},
                                               {3, "ciPKUnknown"},
                                               {6, "counterValueOutOfRange"},
                                               {7, "commandError"},
                                               {127, "undefinedError"},
                                               END};
static const struct code list_eim_codes[] = {{127, "undefinedError"}, END};
static const struct code rollback_codes[] = {{0, "ok"}, {127, "undefinedError"}, END};
static const struct code set_fallback_codes[] = {{0, "ok"},
                                                 {1, "iccidOrAidNotFound"},
                                                 {2, "fallbackNotAllowed"},
                                                 {3, "fallbackProfileEnabled"},
                                                 {127, "undefinedError"},
                                                 END};
static const struct code unset_fallback_codes[] = {
    {0, "ok"},           {2, "noFallbackAttribute"}, {3, "fallbackProfileEnabled"},
    {7, "commandError"}, {127, "undefinedError"},    END};
static const struct code terminated_codes[] = {{1, "resultSizeOverflow"},
                                               {2, "unknownOrDamagedCommand"},
                                               {3, "interruption"},
                                               {127, "undefinedError"},
                                               END};
static const struct code set_dp_codes[] = {{0, "ok"}, {127, "undefinedError"}, END};
static const struct code package_error_codes[] = {{3, "invalidEid"},
                                                  {4, "replayError"},
                                                  {6, "counterValueOutOfRange"},
                                                  {15, "sizeOverflow"},
                                                  {104, "ecallActive"},
                                                  {127, "undefinedError"},
                                                  END};
static const struct code data_error_codes[] = {{1, "incorrectTagList"},
                                               {5, "euiccCiPKIdNotFound"},
                                               {104, "ecallActive"},
                                               {127, "undefinedError"},
                                               END};
static const struct code result_error_codes[] = {
    {1, "invalidPackageFormat"}, {2, "unknownPackage"}, {127, "undefinedError"}, END};
static const struct code download_error_codes[] = {
    {104, "ecallActive"}, {127, "undefinedError"}, END};
static const struct code install_error_codes[] = {
    {1, "incorrectInputValues"},
    {2, "invalidSignature"},
    {3, "invalidTransactionId"},
    {4, "unsupportedCrtValues"},
    {5, "unsupportedRemoteOperationType"},
    {6, "unsupportedProfileClass"},
    {7, "scp03tStructureError"},
    {8, "scp03tSecurityError"},
    {9, "installFailedDueToIccidAlreadyExistsOnEuicc"},
    {10, "installFailedDueToInsufficientMemoryForProfile"},
    {11, "installFailedDueToInterruption"},
    {12, "installFailedDueToPEProcessingError"},
    {13, "installFailedDueToDataMismatch"},
    {14, "testProfileInstallFailedDueToInvalidNaaKey"},
    {15, "pprNotAllowed"},
    {127, "installFailedDueToUnknownError"},
    END};

static const struct {
  const char *production;
  const struct code *codes;
} productions[] = {
    {"EnableProfileResult", enable_codes},
    {"DisableProfileResult", disable_codes},
    {"DeleteProfileResult", delete_codes},
    {"SGP32-ProfileInfoListError", profile_list_codes},
    {"ConfigureImmediateEnableResult", immediate_codes},
    {"AddEimResult", add_eim_codes},
    {"DeleteEimResult", delete_eim_codes},
    {"UpdateEimResult", update_eim_codes},
    {"ListEimResult", list_eim_codes},
    {"RollbackProfileResult", rollback_codes},
    {"SetFallbackAttributeResult", set_fallback_codes},
    {"UnsetFallbackAttributeResult", unset_fallback_codes},
    {"processingTerminated", terminated_codes},
    {"SGP32-SetDefaultDpAddressResponse", set_dp_codes},
    {"EuiccPackageErrorCode", package_error_codes},
    {"IpaEuiccDataErrorCode", data_error_codes},
    {"EimPackageResultErrorCode", result_error_codes},
    {"profileDownloadErrorReason", download_error_codes},
    {"ErrorReason", install_error_codes},
};

static const char *lookup(const struct code *c, int64_t v) {
  for (; c->name; c++)
    if (c->v == v) return c->name;
  return NULL;
}

const char *rsp__eim_code_name(const char *production, int64_t v) {
  for (size_t i = 0; production && i < sizeof productions / sizeof productions[0]; i++)
    if (strcmp(productions[i].production, production) == 0) return lookup(productions[i].codes, v);
  return NULL;
}

/* ---- building the JSON --------------------------------------------------------------------------
 * jansson reports allocation failures by returning NULL or -1; the builder remembers the first so
 * that a summary is either complete or not produced. */

struct sb {
  bool oom;
  struct rsp__eim_outcome *o;
};

static void put(struct sb *b, json_t *obj, const char *key, json_t *v) {
  if (!obj || !v || json_object_set_new(obj, key, v) != 0) b->oom = true;
}

static void push(struct sb *b, json_t *arr, json_t *v) {
  if (!arr || !v || json_array_append_new(arr, v) != 0) b->oom = true;
}

/* The code's name, or the number when the production does not name it. */
static json_t *code_json(const struct code *c, int64_t v) {
  const char *n = lookup(c, v);
  return n ? json_string(n) : json_integer(v);
}

static void code_text(const struct code *c, int64_t v, char *out, size_t size) {
  const char *n = lookup(c, v);
  if (n)
    snprintf(out, size, "%s", n);
  else
    snprintf(out, size, "%lld", (long long)v);
}

/* Marks the outcome failed (the first reason is kept). */
static void failed(struct sb *b, const char *what, const struct code *c, int64_t v) {
  char name[64];
  if (b->o->failed) return;
  b->o->failed = true;
  code_text(c, v, name, sizeof name);
  if (what)
    snprintf(b->o->error, sizeof b->o->error, "%s: %s", what, name);
  else
    snprintf(b->o->error, sizeof b->o->error, "%s", name);
}

static json_t *text_json(struct rsp_slice s) {
  char hex[2 * 64 + 1];
  if (!s.p) return json_null();
  if (rsp_utf8_valid(s.p, s.len, false)) return json_stringn((const char *)s.p, s.len);
  if (s.len > 64 || rsp_hex_encode(s.p, s.len, hex, sizeof hex) != RSP_OK) return json_null();
  return json_string(hex);
}

static json_t *hex_json(struct rsp_slice s) {
  char hex[2 * 128 + 1];
  if (!s.p || s.len > 128 || rsp_hex_encode(s.p, s.len, hex, sizeof hex) != RSP_OK)
    return json_null();
  return json_string(hex);
}

static json_t *iccid_json(struct rsp_slice s) {
  char digits[RSP_ICCID_MAX_DIGITS + 1];
  if (s.len != RSP_ICCID_LEN || rsp_iccid_decode(s.p, digits) != RSP_OK) return hex_json(s);
  return json_string(digits);
}

/* ---- EuiccPackageResult ------------------------------------------------------------------------
 */

static const char *const class_names[] = {"test", "provisioning", "operational"};

static json_t *profile_json(struct sb *b, const struct rsp_msg_sgp32_profile_info *p) {
  json_t *o = json_object();
  if (p->iccid.p) put(b, o, "iccid", iccid_json(p->iccid));
  if (p->profile_state.present)
    put(b, o, "state",
        json_string(p->profile_state.v == RSP_MSG_PROFILE_STATE_ENABLED ? "enabled" : "disabled"));
  if (p->profile_name.p) put(b, o, "name", text_json(p->profile_name));
  if (p->profile_class.present)
    put(b, o, "class",
        p->profile_class.v >= 0 && p->profile_class.v <= RSP_MSG_PROFILE_CLASS_OPERATIONAL
            ? json_string(class_names[p->profile_class.v])
            : json_integer(p->profile_class.v));
  if (!o) b->oom = true;
  return o;
}

static json_t *profiles_json(struct sb *b,
                             const struct rsp_msg_sgp32_profile_info_list_response *r) {
  if (r->which != RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK) {
    int64_t v = r->which == RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_ERROR
                    ? r->u.profile_info_list_error
                    : 127;
    failed(b, "listProfileInfo", profile_list_codes, v);
    return code_json(profile_list_codes, v);
  }
  json_t *o = json_object(), *arr = json_array();
  for (size_t i = 0; i < r->u.profile_info_list_ok->n; i++)
    push(b, arr, profile_json(b, &r->u.profile_info_list_ok->v[i]));
  put(b, o, "profiles", arr);
  return o;
}

static json_t *list_eim_json(struct sb *b, const struct rsp_msg_list_eim_result *r) {
  if (r->which != RSP_MSG_LIST_EIM_RESULT_EIM_ID_LIST) {
    int64_t v = r->which == RSP_MSG_LIST_EIM_RESULT_LIST_EIM_ERROR ? r->u.list_eim_error : 127;
    failed(b, "listEim", list_eim_codes, v);
    return code_json(list_eim_codes, v);
  }
  json_t *o = json_object(), *arr = json_array();
  for (size_t i = 0; i < r->u.eim_id_list->n; i++)
    push(b, arr, text_json(r->u.eim_id_list->v[i].eim_id));
  put(b, o, "eimIds", arr);
  return o;
}

static json_t *add_eim_json(struct sb *b, const struct rsp_msg_add_eim_result *r) {
  if (r->which == RSP_MSG_ADD_EIM_RESULT_ASSOCIATION_TOKEN) {
    json_t *o = json_object();
    put(b, o, "associationToken", json_integer(r->u.association_token));
    return o;
  }
  int64_t v =
      r->which == RSP_MSG_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE ? r->u.add_eim_result_code : 127;
  if (v != 0) failed(b, "addEim", add_eim_codes, v);
  return code_json(add_eim_codes, v);
}

/* A result code of one operation: its name, and the verdict when it is not ok. */
static json_t *op_code(struct sb *b, const char *op, const struct code *c, int64_t v) {
  if (v != 0) failed(b, op, c, v);
  return code_json(c, v);
}

/* One EuiccResultData as {"<operation>": <outcome>}. */
static json_t *result_data_json(struct sb *b, const struct rsp_msg_euicc_result_data *d) {
  json_t *o = json_object(), *v = NULL;
  const char *name = "unknown";
  switch (d->which) {
  case RSP_MSG_EUICC_RESULT_DATA_ENABLE_RESULT:
    v = op_code(b, name = "enable", enable_codes, d->u.enable_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_DISABLE_RESULT:
    v = op_code(b, name = "disable", disable_codes, d->u.disable_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_DELETE_RESULT:
    v = op_code(b, name = "delete", delete_codes, d->u.delete_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT:
    name = "listProfileInfo";
    v = profiles_json(b, d->u.list_profile_info_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_GET_RAT_RESULT:
    name = "getRAT";
    v = json_pack("{s:I}", "rules", (json_int_t)d->u.get_rat_result->n);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_CONFIGURE_IMMEDIATE_ENABLE_RESULT:
    v = op_code(b, name = "configureImmediateEnable", immediate_codes,
                d->u.configure_immediate_enable_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_ADD_EIM_RESULT:
    name = "addEim";
    v = add_eim_json(b, d->u.add_eim_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_DELETE_EIM_RESULT:
    v = op_code(b, name = "deleteEim", delete_eim_codes, d->u.delete_eim_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_UPDATE_EIM_RESULT:
    v = op_code(b, name = "updateEim", update_eim_codes, d->u.update_eim_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_LIST_EIM_RESULT:
    name = "listEim";
    v = list_eim_json(b, d->u.list_eim_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT:
    v = op_code(b, name = "rollback", rollback_codes, d->u.rollback_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_SET_FALLBACK_ATTRIBUTE_RESULT:
    v = op_code(b, name = "setFallbackAttribute", set_fallback_codes,
                d->u.set_fallback_attribute_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_UNSET_FALLBACK_ATTRIBUTE_RESULT:
    v = op_code(b, name = "unsetFallbackAttribute", unset_fallback_codes,
                d->u.unset_fallback_attribute_result);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_PROCESSING_TERMINATED:
    name = "processingTerminated";
    failed(b, name, terminated_codes, d->u.processing_terminated);
    v = code_json(terminated_codes, d->u.processing_terminated);
    break;
  case RSP_MSG_EUICC_RESULT_DATA_SET_DEFAULT_DP_ADDRESS_RESULT:
    v = op_code(b, name = "setDefaultDpAddress", set_dp_codes,
                d->u.set_default_dp_address_result->set_default_dp_address_result);
    break;
  default: /* a result of a later version: shown, not judged */
    v = hex_json(d->raw);
  }
  put(b, o, name, v);
  return o;
}

static void epr_signed(struct sb *b, json_t *o,
                       const struct rsp_msg_euicc_package_result_signed *r) {
  const struct rsp_msg_euicc_package_result_data_signed *d = r->euicc_package_result_data_signed;
  json_t *ops = json_array();
  for (size_t i = 0; i < d->euicc_result->n; i++)
    push(b, ops, result_data_json(b, &d->euicc_result->v[i]));
  put(b, o, "result", json_string(b->o->failed ? "error" : "ok"));
  put(b, o, "counter", json_integer(d->counter_value));
  put(b, o, "seqNumber", json_integer(d->seq_number));
  put(b, o, "operations", ops);
}

static void epr(struct sb *b, json_t *o, const struct rsp_msg_euicc_package_result *r) {
  switch (r->which) {
  case RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED:
    epr_signed(b, o, r->u.euicc_package_result_signed);
    return;
  case RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED: {
    const struct rsp_msg_euicc_package_error_data_signed *d =
        r->u.euicc_package_error_signed->euicc_package_error_data_signed;
    failed(b, NULL, package_error_codes, d->euicc_package_error_code);
    put(b, o, "result", code_json(package_error_codes, d->euicc_package_error_code));
    put(b, o, "counter", json_integer(d->counter_value));
    return;
  }
  case RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED:
    /* The card refused the package before executing it (unknown eIM, eIM signature invalid):
     * nothing was done, and nothing of this answer is authenticated. */
    b->o->failed = true;
    snprintf(b->o->error, sizeof b->o->error, "euiccPackageErrorUnsigned");
    put(b, o, "result", json_string("euiccPackageErrorUnsigned"));
    if (r->u.euicc_package_error_unsigned->association_token.present)
      put(b, o, "associationToken",
          json_integer(r->u.euicc_package_error_unsigned->association_token.v));
    return;
  default:
    b->o->failed = true;
    snprintf(b->o->error, sizeof b->o->error, "unknown EuiccPackageResult");
    put(b, o, "result", json_string("unknown"));
  }
}

/* ---- IpaEuiccDataResponse, ProfileDownloadTriggerResult, errors --------------------------------
 */

static void euicc_data(struct sb *b, json_t *o, const struct rsp_msg_ipa_euicc_data_response *r) {
  if (r->which != RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA) {
    int64_t v = r->which == RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA_RESPONSE_ERROR
                    ? r->u.ipa_euicc_data_response_error->ipa_euicc_data_error_code
                    : 127;
    failed(b, NULL, data_error_codes, v);
    put(b, o, "result", code_json(data_error_codes, v));
    return;
  }
  const struct rsp_msg_ipa_euicc_data *d = r->u.ipa_euicc_data;
  json_t *ret = json_array();
  put(b, o, "result", json_string("ok"));
  if (d->notifications_list) {
    push(b, ret, json_string("notificationsList"));
    put(b, o, "notifications", json_integer((json_int_t)d->notifications_list->n));
  }
  if (d->default_smdp_address.p) {
    push(b, ret, json_string("defaultSmdpAddress"));
    put(b, o, "defaultSmdpAddress", text_json(d->default_smdp_address));
  }
  if (d->euicc_package_result_list) {
    push(b, ret, json_string("euiccPackageResultList"));
    put(b, o, "euiccPackageResults", json_integer((json_int_t)d->euicc_package_result_list->n));
  }
  if (d->euicc_info1) push(b, ret, json_string("euiccInfo1"));
  if (d->euicc_info2) push(b, ret, json_string("euiccInfo2"));
  if (d->root_smds_address.p) {
    push(b, ret, json_string("rootSmdsAddress"));
    put(b, o, "rootSmdsAddress", text_json(d->root_smds_address));
  }
  if (d->association_token.present) {
    push(b, ret, json_string("associationToken"));
    put(b, o, "associationToken", json_integer(d->association_token.v));
  }
  if (d->eum_certificate.p) push(b, ret, json_string("eumCertificate"));
  if (d->euicc_certificate.p) push(b, ret, json_string("euiccCertificate"));
  if (d->ipa_capabilities) push(b, ret, json_string("ipaCapabilities"));
  if (d->device_info) push(b, ret, json_string("deviceInfo"));
  put(b, o, "returned", ret);
}

static void pir(struct sb *b, json_t *o,
                const struct rsp_msg_sgp32_profile_installation_result *p) {
  const struct rsp_msg_profile_installation_result_data *d = p->profile_installation_result_data;
  const struct rsp_msg_profile_installation_result_data_final_result *f = d->final_result;
  if (f->which == RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT) {
    put(b, o, "result", json_string("ok"));
  } else {
    int64_t v = f->which == RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT
                    ? f->u.error_result->error_reason
                    : 127;
    failed(b, NULL, install_error_codes, v);
    put(b, o, "result", code_json(install_error_codes, v));
    if (f->which == RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT)
      put(b, o, "bppCommandId", json_integer(f->u.error_result->bpp_command_id));
  }
  if (d->notification_metadata && d->notification_metadata->iccid.p)
    put(b, o, "iccid", iccid_json(d->notification_metadata->iccid));
  if (d->notification_metadata)
    put(b, o, "seqNumber", json_integer(d->notification_metadata->seq_number));
}

static void trigger(struct sb *b, json_t *o,
                    const struct rsp_msg_profile_download_trigger_result *r) {
  const struct rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data *d =
      r->profile_download_trigger_result_data;
  if (d->which ==
      RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT) {
    pir(b, o, d->u.profile_installation_result);
    return;
  }
  bool is_error =
      d->which ==
      RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_DOWNLOAD_ERROR;
  int64_t v = is_error ? d->u.profile_download_error->profile_download_error_reason : 127;
  failed(b, "profileDownloadError", download_error_codes, v);
  put(b, o, "result", code_json(download_error_codes, v));
  if (is_error && d->u.profile_download_error->error_response.p)
    put(b, o, "errorResponse", hex_json(d->u.profile_download_error->error_response));
}

static void package_result(struct sb *b, json_t *o, const struct rsp_msg_eim_package_result *r) {
  switch (r->which) {
  case RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT:
    epr(b, o, r->u.euicc_package_result);
    return;
  case RSP_MSG_EIM_PACKAGE_RESULT_E_PR_AND_NOTIFICATIONS:
    epr(b, o, r->u.e_pr_and_notifications->euicc_package_result);
    put(b, o, "notifications",
        json_integer((json_int_t)r->u.e_pr_and_notifications->notification_list->n));
    return;
  case RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE:
    euicc_data(b, o, r->u.ipa_euicc_data_response);
    return;
  case RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT:
    trigger(b, o, r->u.profile_download_trigger_result);
    return;
  case RSP_MSG_EIM_PACKAGE_RESULT_EIM_PACKAGE_RESULT_RESPONSE_ERROR: {
    int64_t v = r->u.eim_package_result_response_error->eim_package_result_error_code;
    failed(b, NULL, result_error_codes, v);
    put(b, o, "result", code_json(result_error_codes, v));
    return;
  }
  default:
    b->o->failed = true;
    snprintf(b->o->error, sizeof b->o->error, "unknown EimPackageResult");
    put(b, o, "result", json_string("unknown"));
  }
}

/* ---- output ------------------------------------------------------------------------------------
 */

/* The text of `o` (consumed) into the outcome; a summary above the store's cap is replaced by
 * its verdict alone, marked truncated. */
static rsp_err_t finish(struct sb *b, json_t *o) {
  char *text = NULL;
  if (!b->oom && o) text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (text && strlen(text) >= RSP_EIM_SUMMARY_MAX) {
    json_t *r = json_object_get(o, "result");
    json_t *small = json_pack("{s:O?, s:b}", "result", r, "truncated", 1);
    free(text);
    text = small ? json_dumps(small, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(small);
  }
  json_decref(o);
  if (!text) return RSP_E_NOMEM;
  b->o->summary = rsp_strdup(text);
  free(text);
  return b->o->summary ? RSP_OK : RSP_E_NOMEM;
}

static void outcome_reset(struct rsp__eim_outcome *o) {
  o->summary = NULL;
  o->failed = false;
  o->error[0] = '\0';
}

void rsp__eim_outcome_free(struct rsp__eim_outcome *o) {
  if (!o) return;
  rsp_free(o->summary);
  o->summary = NULL;
}

rsp_err_t rsp__eim_summarize_epr(const struct rsp_msg_euicc_package_result *r, size_t notifications,
                                 struct rsp__eim_outcome *o) {
  struct sb b = {.o = o};
  json_t *j = json_object();
  outcome_reset(o);
  epr(&b, j, r);
  if (notifications) put(&b, j, "notifications", json_integer((json_int_t)notifications));
  return finish(&b, j);
}

rsp_err_t rsp__eim_summarize(const struct rsp_msg_eim_package_result *r,
                             struct rsp__eim_outcome *o) {
  struct sb b = {.o = o};
  json_t *j = json_object();
  outcome_reset(o);
  package_result(&b, j, r);
  return finish(&b, j);
}

rsp_err_t rsp_eim_result_summary(const uint8_t *der, size_t len, char **out) {
  struct rsp_arena a;
  struct rsp_msg_eim_package_result *r = NULL;
  struct rsp__eim_outcome o;
  if (out) *out = NULL;
  if (!der || !out) return RSP_E_INVALID_ARG;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_eim_package_result, der, len, &a, (void **)&r, NULL);
  if (rc == RSP_OK) rc = rsp__eim_summarize(r, &o);
  if (rc == RSP_OK) *out = o.summary;
  rsp_arena_free(&a);
  return rc;
}
