/* openrsp test support: one software eUICC and the SM-DP+ service of the same fresh rsp-pki
 * directory, in-process, and the operator's ES2+ order of a generated profile (for the IPA's
 * download tests and the compact-form tests). */
#ifndef RSP_TEST_SMDP_WORLD_H
#define RSP_TEST_SMDP_WORLD_H

#include <stdbool.h>
#include <stddef.h>

#include "rsp/core/hex.h"
#include "rsp/euicc/euicc.h"
#include "rsp/smdp/service.h"

struct rsp_test_smdp_world {
  char dir[600], eid[RSP_EID_DIGITS + 1];
  struct rsp_smdp_identity *id;
  struct rsp_smdp_service *svc;
  struct rsp_euicc *card;
};

/* `rsp-pki create` (curve "nist" or "brp", one eUICC) in a fresh directory named after `tag`,
 * the card, the identity and the service answering as `address`. False (and a test failure
 * message by the caller) when any of it fails. */
bool rsp_test_smdp_world_open(struct rsp_test_smdp_world *w, const char *pki_bin, const char *tag,
                              const char *curve, const char *address);
void rsp_test_smdp_world_close(struct rsp_test_smdp_world *w);
/* A generated profile with this ICCID, ordered and confirmed (released) over ES2+, with an
 * optional confirmation code; the matchingId goes to mid. Failures are test failures. */
void rsp_test_smdp_order(struct rsp_test_smdp_world *w, const char *iccid, const char *code,
                         char *mid, size_t size);

#endif
