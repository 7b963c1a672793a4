/* The IPA side of the ESipa JSON binding (rsp_esipa_json_from_ipa / rsp_esipa_json_to_ipa): every
 * form of answer an eIM may give (notes 2.3a) becomes the ASN.1 answer the IPA core reads. The
 * whole chain against rsp-eim's JSON binding runs in test_eim (json_binding). */
#include <string.h>

#include "rsp/core/hex.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/json.h"
#include "test.h"

#define OK_HEADER "\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}}"
#define FAILED(subject, reason)                                                                    \
  "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\",\"statusCodeData\":{"           \
  "\"subjectCode\":\"" subject "\",\"reasonCode\":\"" reason "\"}}}}"

static struct rsp_arena arena;

/* The answer to `function` as the decoded EsipaMessageFromEimToIpa (NULL when refused). */
static struct rsp_msg_esipa_message_from_eim_to_ipa *to_ipa(const char *function,
                                                            const char *json) {
  struct rsp_buf der;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  rsp_buf_init(&der, 1 << 20);
  if (rsp_esipa_json_to_ipa(function, json, strlen(json), &der) == RSP_OK) {
    uint8_t *copy = rsp_arena_alloc(&arena, der.len);
    memcpy(copy, der.data, der.len);
    CHECK_OK(rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, copy, der.len, &arena,
                            (void **)&m, NULL));
  } else {
    CHECK_EQ(der.len, 0); /* nothing appended on error */
  }
  rsp_buf_free(&der);
  return m;
}

static int64_t package_error(const char *json) {
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = to_ipa("getEimPackage", json);
  CHECK(m && m->which == RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_EIM_PACKAGE_RESPONSE);
  if (!m || m->which != RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_EIM_PACKAGE_RESPONSE) return -1;
  const struct rsp_msg_get_eim_package_response *g = m->u.get_eim_package_response;
  return g->which == RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR ? g->u.eim_package_error
                                                                        : 0;
}

static void get_eim_package(void) {
  /* nothing to do: an integer in a success body (OIR, IAPYX) or Failed 8.1.1/3.7 (GD-IPA) */
  CHECK_EQ(package_error("{" OK_HEADER ",\"eimPackageError\":1}"), 1);
  CHECK_EQ(package_error(FAILED("8.1.1", "3.7")), 1);
  CHECK_EQ(package_error(FAILED("8.1.1", "3.9")), 2); /* eidNotFound */
  CHECK_EQ(package_error(FAILED("8.1.1", "2.1")), 3); /* invalidEid */
  CHECK_EQ(package_error(FAILED("9.9", "9.9")), 127);
  /* a package next to eimPackageError 0 (OIR adds it always) is the package */
  struct rsp_msg_esipa_message_from_eim_to_ipa *m =
      to_ipa("getEimPackage", "{" OK_HEADER ",\"ipaEuiccDataRequest\":\"v1IDXAGB\","
                              "\"eimPackageError\":0}");
  CHECK(m && m->u.get_eim_package_response->which ==
                 RSP_MSG_GET_EIM_PACKAGE_RESPONSE_IPA_EUICC_DATA_REQUEST);
  /* refused: no alternative, a TLV with the wrong tag, not JSON */
  CHECK(to_ipa("getEimPackage", "{" OK_HEADER "}") == NULL);
  CHECK(to_ipa("getEimPackage", "{" OK_HEADER ",\"ipaEuiccDataRequest\":\"v1MDAgEF\"}") == NULL);
  CHECK(to_ipa("getEimPackage", "not json") == NULL);
  CHECK(to_ipa("noSuchFunction", "{" OK_HEADER "}") == NULL);
}

static void provide_result(void) {
  struct rsp_msg_esipa_message_from_eim_to_ipa *m =
      to_ipa("provideEimPackageResult", "{" OK_HEADER ",\"eimAcknowledgements\":\"v1MDgAEF\"}");
  CHECK(m && m->u.provide_eim_package_result_response->which ==
                 RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EIM_ACKNOWLEDGEMENTS);
  if (m && m->u.provide_eim_package_result_response->which ==
               RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EIM_ACKNOWLEDGEMENTS) {
    CHECK_EQ(m->u.provide_eim_package_result_response->u.eim_acknowledgements->n, 1);
    CHECK_EQ(m->u.provide_eim_package_result_response->u.eim_acknowledgements->v[0], 5);
  }
  m = to_ipa("provideEimPackageResult", "{" OK_HEADER "}");
  CHECK(m && m->u.provide_eim_package_result_response->which ==
                 RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EMPTY_RESPONSE);
  m = to_ipa("provideEimPackageResult", FAILED("8.1.1", "3.9"));
  CHECK(m &&
        m->u.provide_eim_package_result_response->which ==
            RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR &&
        m->u.provide_eim_package_result_response->u.provide_eim_package_result_error == 2);
}

static void handle_notification(void) {
  struct rsp_buf der;
  rsp_buf_init(&der, 1024);
  CHECK_OK(rsp_esipa_json_to_ipa("handleNotification", "", 0, &der)); /* 204 */
  const char *ok = "{" OK_HEADER "}", *failed = FAILED("8.1", "6.1");
  CHECK_OK(rsp_esipa_json_to_ipa("handleNotification", ok, strlen(ok), &der));
  CHECK_EQ(rsp_esipa_json_to_ipa("handleNotification", failed, strlen(failed), &der), RSP_E_STATE);
  CHECK_EQ(der.len, 0);
  rsp_buf_free(&der);
}

static void downloads(void) {
  struct rsp_msg_esipa_message_from_eim_to_ipa *m =
      to_ipa("authenticateClient", FAILED("8.1.2", "6.1"));
  CHECK(m &&
        m->u.authenticate_client_response_esipa->which ==
            RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_ERROR_ESIPA &&
        m->u.authenticate_client_response_esipa->u.authenticate_client_error_esipa == 1);
  m = to_ipa("initiateAuthentication", FAILED("8.9.1", "3.8")); /* an SM-DS address */
  CHECK(m &&
        m->u.initiate_authentication_response_esipa->u.initiate_authentication_error_esipa == 1);
  m = to_ipa("getBoundProfilePackage", FAILED("1.2", "3.4"));
  CHECK(m &&
        m->u.get_bound_profile_package_response_esipa->u.get_bound_profile_package_error_esipa ==
            127);
  m = to_ipa("cancelSession", "{" OK_HEADER "}");
  CHECK(m && m->u.cancel_session_response_esipa->which ==
                 RSP_MSG_CANCEL_SESSION_RESPONSE_ESIPA_CANCEL_SESSION_OK);
  /* both directions of the download error table agree */
  static const struct {
    enum rsp_esipa_json_download f;
    int64_t v;
  } values[] = {{RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION, 50},
                {RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, 8},
                {RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, 95},
                {RSP_ESIPA_JSON_DL_CANCEL_SESSION, 2}};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    struct rsp_msg_json_status_code_data scd;
    struct rsp_msg_json_resp_header h = {0};
    rsp_esipa_json_download_error_status(values[i].f, values[i].v, &scd);
    h.function_execution_status.status = RSP_MSG_JSON_STATUS_FAILED;
    h.function_execution_status.status_code_data = &scd;
    CHECK_EQ(rsp_esipa_json_download_error(values[i].f, &h), values[i].v);
  }
}

static void requests(void) {
  /* GetEimPackageRequest { eidValue, notifyStateChange, stateChangeCause 5 } */
  uint8_t der[64];
  size_t len = 0;
  struct rsp_buf json;
  const char *function = NULL;
  CHECK_OK(rsp_hex_decode("bf4f185a1089049032000000000000000000070003800081010582", der, sizeof der,
                          &len));
  rsp_buf_init(&json, 4096);
  CHECK_EQ(rsp_esipa_json_from_ipa(der, len, &function, &json), RSP_E_DER_TRUNCATED);
  CHECK(function == NULL && json.len == 0);
  CHECK_OK(rsp_hex_decode("bf4f175a10890490320000000000000000000700038000810105", der, sizeof der,
                          &len));
  CHECK_OK(rsp_esipa_json_from_ipa(der, len, &function, &json));
  CHECK_STR(function, "getEimPackage");
  CHECK_OK(rsp_buf_append(&json, "", 1));
  CHECK(strstr((const char *)json.data, "\"eidValue\":\"89049032000000000000000000070003\""));
  CHECK(strstr((const char *)json.data, "\"notifyStateChange\":true"));
  CHECK(strstr((const char *)json.data, "\"stateChangeCause\":5"));
  /* transferEimPackageResponse (eIM push) has no client side here */
  rsp_buf_reset(&json);
  CHECK_OK(rsp_hex_decode("bf4e03800100", der, sizeof der, &len));
  CHECK(rsp_esipa_json_from_ipa(der, len, &function, &json) != RSP_OK);
  CHECK_EQ(json.len, 0);
  rsp_buf_free(&json);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(get_eim_package), T(provide_result),
                                               T(handle_notification), T(downloads), T(requests)};
  rsp_arena_init(&arena, 1 << 20);
  int rc = rsp_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
  rsp_arena_free(&arena);
  return rc;
}
