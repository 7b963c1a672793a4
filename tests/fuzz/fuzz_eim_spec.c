/* libFuzzer target for the eIM's operation specs and result summaries (lib/eim/spec.c,
 * summary.c). Every input is parsed as a spec: an accepted one must describe exactly one
 * message, which must encode; a refused one must leave the output empty and say why. The same
 * bytes are then summarized as an EimPackageResult: an accepted one must give a JSON object
 * within the store's cap. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/eim/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spec(const struct rsp_eim_spec *s) {
  struct rsp_buf b;
  int messages = (s->package != NULL) + (s->data_request != NULL) + (s->trigger != NULL);
  if (messages != 1) abort();
  rsp_buf_init(&b, RSP_EIM_PACKAGE_MAX);
  rsp_err_t rc =
      s->package ? rsp_msg_encode(&rsp_msgt_euicc_package, s->package, &b, NULL)
      : s->data_request
          ? rsp_msg_encode(&rsp_msgt_ipa_euicc_data_request, s->data_request, &b, NULL)
          : rsp_msg_encode(&rsp_msgt_profile_download_trigger_request, s->trigger, &b, NULL);
  if (rc != RSP_OK) abort();
  rsp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rsp_arena a;
  struct rsp_eim_spec s;
  char why[256];
  char *summary = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_eim_spec_parse((const char *)data, size, &a, &s, why, sizeof why);
  if (rc == RSP_OK)
    check_spec(&s);
  else if (!why[0] || s.package || s.data_request || s.trigger)
    abort();
  rsp_arena_free(&a);
  if (rsp_eim_result_summary(data, size, &summary) == RSP_OK) {
    json_t *j = json_loads(summary, 0, NULL);
    if (!j || !json_is_object(j) || strlen(summary) >= RSP_EIM_SUMMARY_MAX) abort();
    json_decref(j);
    rsp_free(summary);
  }
  return 0;
}
