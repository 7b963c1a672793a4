/* libFuzzer targets for the message decoders. Whatever the decoder accepts must re-encode, and
 * the re-encoding must be a fixed point: decoding it gives an equal value that encodes to the
 * same bytes. Accepted input without unknown extensions re-encodes to exactly the input.
 *
 * Built once per mode (FUZZ_MSG_MODE_*): the two ESipa directions, ES10 commands (card side),
 * ES10 responses (IPA side; the first byte picks the function), eUICC packages (request and
 * result) and `any` (the first two bytes pick one of every descriptor). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/msg/asn1.h"
#include "rsp/msg/es10.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fixed_point(const struct rsp_msg_type *t, const void *v, const uint8_t *in,
                              size_t len) {
  struct rsp_buf once, twice;
  struct rsp_arena a;
  void *back = NULL;
  rsp_buf_init(&once, 1u << 24);
  rsp_buf_init(&twice, 1u << 24);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (rsp_msg_encode(t, v, &once, NULL) != RSP_OK) abort();
  if (!(once.len == len && memcmp(once.data, in, len) == 0)) {
    /* only lossy when an unknown extension was skipped: then the result must be stable */
    if (rsp_msg_decode(t, once.data, once.len, &a, &back, NULL) != RSP_OK) abort();
    if (!rsp_msg_equal(t, v, back)) abort();
    if (rsp_msg_encode(t, back, &twice, NULL) != RSP_OK) abort();
    if (twice.len != once.len || memcmp(twice.data, once.data, once.len) != 0) abort();
  }
  rsp_buf_free(&once);
  rsp_buf_free(&twice);
  rsp_arena_free(&a);
}

__attribute__((unused)) static void try_type(const struct rsp_msg_type *t, const uint8_t *data,
                                             size_t size) {
  struct rsp_arena a;
  struct rsp_msg_diag diag;
  void *v = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (rsp_msg_decode(t, data, size, &a, &v, &diag) == RSP_OK) check_fixed_point(t, v, data, size);
  rsp_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#if defined(FUZZ_MSG_MODE_esipa_ipa)
  try_type(&rsp_msgt_esipa_message_from_ipa_to_eim, data, size);
#elif defined(FUZZ_MSG_MODE_esipa_eim)
  try_type(&rsp_msgt_esipa_message_from_eim_to_ipa, data, size);
#elif defined(FUZZ_MSG_MODE_es10_command)
  struct rsp_arena a;
  const struct rsp_es10_function *fn = NULL;
  void *req = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (rsp_es10_decode_command(data, size, &a, &fn, &req, NULL) == RSP_OK)
    check_fixed_point(fn->request, req, data, size);
  rsp_arena_free(&a);
#elif defined(FUZZ_MSG_MODE_es10_response)
  if (size < 1) return 0;
  const struct rsp_es10_function *fn = &rsp_es10_functions[data[0] % rsp_es10_functions_count];
  struct rsp_arena a;
  void *resp = NULL;
  bool sgp22 = false;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (rsp_es10_decode_response(fn, data + 1, size - 1, &a, &resp, &sgp22, NULL) == RSP_OK)
    check_fixed_point(sgp22 ? fn->response_sgp22 : fn->response, resp, data + 1, size - 1);
  rsp_arena_free(&a);
#elif defined(FUZZ_MSG_MODE_euicc_package)
  try_type(&rsp_msgt_euicc_package_request, data, size);
  try_type(&rsp_msgt_euicc_package_result, data, size);
  try_type(&rsp_msgt_provide_eim_package_result, data, size);
#elif defined(FUZZ_MSG_MODE_any)
  if (size < 2) return 0;
  size_t i = ((size_t)data[0] << 8 | data[1]) % rsp_msg_all_types_count;
  try_type(rsp_msg_all_types[i], data + 2, size - 2);
#else
#error "FUZZ_MSG_MODE_* not set"
#endif
  return 0;
}
