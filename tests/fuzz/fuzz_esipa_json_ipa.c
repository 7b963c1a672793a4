/* libFuzzer target for the IPA side of the ESipa JSON binding (rsp_esipa_json_to_ipa,
 * rsp_esipa_json_from_ipa). The first byte picks the eIM function whose JSON answer the rest is,
 * or (the last value) a DER EsipaMessageFromIpaToEim to express in JSON. Invariants (abort when
 * broken): an accepted answer gives one EsipaMessageFromEimToIpa that decodes strictly (nothing
 * for handleNotification); an accepted message gives a JSON body its function's request type
 * decodes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/msg/asn1.h"
#include "rsp/msg/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const FUNCTIONS[] = {
    "getEimPackage",      "provideEimPackageResult", "handleNotification", "initiateAuthentication",
    "authenticateClient", "getBoundProfilePackage",  "cancelSession",
};
#define N_FUNCTIONS (sizeof FUNCTIONS / sizeof FUNCTIONS[0])

static const struct rsp_msg_json_type *request_type(const char *f) {
  static const struct {
    const char *f;
    const struct rsp_msg_json_type *t;
  } types[] = {
      {"getEimPackage", &rsp_esipa_json_get_eim_package_req_type},
      {"provideEimPackageResult", &rsp_esipa_json_provide_eim_package_result_req_type},
      {"handleNotification", &rsp_esipa_json_handle_notification_req_type},
      {"initiateAuthentication", &rsp_esipa_json_initiate_authentication_req_type},
      {"authenticateClient", &rsp_esipa_json_authenticate_client_req_type},
      {"getBoundProfilePackage", &rsp_esipa_json_get_bound_profile_package_req_type},
      {"cancelSession", &rsp_esipa_json_cancel_session_req_type},
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcmp(types[i].f, f) == 0) return types[i].t;
  abort(); /* a function name the converter should not give */
}

static void answer(const char *function, const uint8_t *body, size_t len) {
  struct rsp_buf der;
  struct rsp_arena a;
  void *m = NULL;
  rsp_buf_init(&der, 8u << 20);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (rsp_esipa_json_to_ipa(function, (const char *)body, len, &der) == RSP_OK) {
    if (strcmp(function, "handleNotification") == 0) {
      if (der.len) abort();
    } else if (rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, der.data, der.len, &a, &m,
                              NULL) != RSP_OK) {
      abort();
    }
  } else if (der.len) {
    abort(); /* nothing appended on error */
  }
  rsp_arena_free(&a);
  rsp_buf_free(&der);
}

static void request(const uint8_t *msg, size_t len) {
  struct rsp_buf json;
  struct rsp_msg_json_doc doc;
  const char *function = NULL;
  rsp_buf_init(&json, RSP_MSG_JSON_MAX_BODY);
  if (rsp_esipa_json_from_ipa(msg, len, &function, &json) == RSP_OK) {
    union {
      max_align_t align;
      uint8_t bytes[1024]; /* any request struct */
    } body;
    rsp_msg_json_doc_init(&doc);
    if (!function || rsp_msg_json_decode(request_type(function), (const char *)json.data, json.len,
                                         &doc, &body, NULL) != RSP_OK)
      abort();
    rsp_msg_json_doc_free(&doc);
  }
  rsp_buf_free(&json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t pick = data[0] % (N_FUNCTIONS + 1);
  if (pick < N_FUNCTIONS)
    answer(FUNCTIONS[pick], data + 1, size - 1);
  else
    request(data + 1, size - 1);
  return 0;
}
