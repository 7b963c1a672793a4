/* libFuzzer target for the JSON bindings (lib/msg/json_binding.c and the ES9+, ES2+, ES11, ES12
 * and ESipa tables). The first byte picks the body type: function id (rsp_msg_json_func order, from
 * 1) = byte / 2 % functions + 1, request when even, response when odd; the rest is the JSON text.
 * An accepted body must re-encode, and the encoding must decode to an equal body and encode to
 * the same text again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/msg/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct rsp_msg_json_type *t, const void *body) {
  struct rsp_buf b1, b2;
  struct rsp_msg_json_doc doc;
  void *back = rsp_calloc(1, t->size);
  if (!back) abort();
  rsp_buf_init(&b1, 2 * RSP_MSG_JSON_MAX_BODY);
  rsp_buf_init(&b2, 2 * RSP_MSG_JSON_MAX_BODY);
  rsp_msg_json_doc_init(&doc);
  rsp_err_t rc = rsp_msg_json_encode(t, body, &b1, NULL);
  /* Re-encoding may grow a little (a bare signature comes back wrapped); only the cap may stop
   * it. */
  if (rc == RSP_E_BUF_CAP) goto out;
  if (rc != RSP_OK) abort();
  if (rsp_msg_json_decode(t, (const char *)b1.data, b1.len, &doc, back, NULL) != RSP_OK) abort();
  if (!rsp_msg_json_equal(t, body, back)) abort();
  if (rsp_msg_json_encode(t, back, &b2, NULL) != RSP_OK) abort();
  if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0) abort();
out:
  rsp_buf_free(&b1);
  rsp_buf_free(&b2);
  rsp_msg_json_doc_free(&doc);
  rsp_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned nfuncs = RSP_MSG_JSON_FUNC__COUNT - 1;
  const struct rsp_msg_json_func_info *fi =
      rsp_msg_json_func_get((enum rsp_msg_json_func)(data[0] / 2 % nfuncs + 1));
  if (!fi) abort();
  const struct rsp_msg_json_type *t = data[0] % 2 ? fi->response : fi->request;
  struct rsp_msg_json_doc doc;
  struct rsp_msg_json_diag diag;
  void *body = rsp_calloc(1, t->size);
  if (!body) abort();
  rsp_msg_json_doc_init(&doc);
  rsp_err_t rc = rsp_msg_json_decode(t, (const char *)data + 1, size - 1, &doc, body, &diag);
  if (rc == RSP_OK)
    check_roundtrip(t, body);
  else if (diag.problem == RSP_MSG_JSON_P_NONE || diag.text[0] == '\0')
    abort(); /* every error explains itself */
  rsp_msg_json_doc_free(&doc);
  rsp_free(body);
  return 0;
}
