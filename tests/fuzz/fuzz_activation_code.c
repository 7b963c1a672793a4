/* libFuzzer target for the SGP.22 activation code parser. Every accepted input must format back
 * to exactly the same bytes (the parser only accepts canonical spellings) and parse again to the
 * same fields; every rejected input must leave the output cleared and give a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/msg/activation_code.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cleared(const struct rsp_msg_activation_code *ac) {
  if (ac->lpa_prefix || ac->cc_required || ac->smdp_address[0] || ac->matching_id[0] ||
      ac->smdp_oid[0])
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rsp_msg_activation_code ac, again;
  const char *why = NULL;
  char out[RSP_MSG_AC_MAX_LEN + sizeof(RSP_MSG_AC_LPA_PREFIX)];
  size_t out_len = 0;
  rsp_err_t rc = rsp_msg_activation_code_parse((const char *)data, size, &ac, &why);
  if (rc != RSP_OK) {
    if (!why) abort();
    check_cleared(&ac);
    return 0;
  }
  /* The largest accepted code is the prefix plus 255 characters: `out` always fits it. */
  if (rsp_msg_activation_code_format(&ac, out, sizeof(out), &out_len, &why) != RSP_OK) abort();
  if (out_len != size || memcmp(out, data, size) != 0 || out[out_len] != '\0') abort();
  if (rsp_msg_activation_code_parse(out, out_len, &again, &why) != RSP_OK) abort();
  if (memcmp(&ac, &again, sizeof(ac)) != 0) abort();
  /* One byte too small must be refused, never truncated. */
  if (rsp_msg_activation_code_format(&ac, out, out_len, NULL, &why) != RSP_E_BUF_SMALL) abort();
  return 0;
}
