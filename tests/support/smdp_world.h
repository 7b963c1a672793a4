/* openrsp test support: one software eUICC and the SM-DP+ service of the same fresh rsp-pki
 * directory, in-process, and the operator's ES2+ order of a generated profile (for the IPA's
 * download tests and the compact-form tests); optionally an SM-DS service of the same PKI that
 * the SM-DP+ registers its events with (ES12, in-process). */
#ifndef RSP_TEST_SMDP_WORLD_H
#define RSP_TEST_SMDP_WORLD_H

#include <stdbool.h>
#include <stddef.h>

#include "rsp/core/hex.h"
#include "rsp/euicc/euicc.h"
#include "rsp/smdp/service.h"
#include "rsp/smdp/smds.h"

struct rsp_test_smdp_world {
  char dir[600], eid[RSP_EID_DIGITS + 1];
  struct rsp_smdp_identity *id;
  struct rsp_smdp_service *svc;
  struct rsp_euicc *card;
  /* rsp_test_smdp_world_open_smds only */
  struct rsp_smdp_identity *smds_id;
  struct rsp_smds_service *smds;
  char smds_address[256];
  unsigned es12_calls; /* ES12 requests the SM-DS received through rsp_test_smdp_es12_ops */
};

/* `rsp-pki create` (curve "nist" or "brp", one eUICC) in a fresh directory named after `tag`,
 * the card, the identity and the service answering as `address`. False (and a test failure
 * message by the caller) when any of it fails. */
bool rsp_test_smdp_world_open(struct rsp_test_smdp_world *w, const char *pki_bin, const char *tag,
                              const char *curve, const char *address);
/* The same, plus the SM-DS of the PKI (DIR/smds/auth) answering as smds_address, on its own
 * store; the card's root SM-DS address is smds_address. */
bool rsp_test_smdp_world_open_smds(struct rsp_test_smdp_world *w, const char *pki_bin,
                                   const char *tag, const char *curve, const char *address,
                                   const char *smds_address);
void rsp_test_smdp_world_close(struct rsp_test_smdp_world *w);
/* A generated profile with this ICCID, ordered and confirmed (released) over ES2+, with an
 * optional confirmation code; the matchingId goes to mid. Failures are test failures. */
void rsp_test_smdp_order(struct rsp_test_smdp_world *w, const char *iccid, const char *code,
                         char *mid, size_t size);
/* The same for the card's EID with smdsAddress, then the queued ES12 calls delivered to the
 * world's SM-DS (rsp_test_smdp_es12_flush): the event is registered when it returns. */
void rsp_test_smdp_order_smds(struct rsp_test_smdp_world *w, const char *iccid,
                              const char *smds_address, char *mid, size_t size);
/* The SM-DP+'s ES12 port onto the world's SM-DS service (ctx: the world). */
extern const struct rsp_smdp_es12_ops rsp_test_smdp_es12_ops;
/* Delivers the SM-DP+'s queued ES12 calls; returns how many. */
size_t rsp_test_smdp_es12_flush(struct rsp_test_smdp_world *w);
/* Events the world's SM-DS holds for the card's EID. */
size_t rsp_test_smds_events(struct rsp_test_smdp_world *w);

/* `rsp-pki create --dir DIR --curve CURVE [--eid-range RANGE]` (one eUICC), its EID in eid.
 * False when it fails. */
bool rsp_test_pki_create(const char *pki_bin, const char *dir, const char *curve,
                         const char *eid_range, char eid[RSP_EID_DIGITS + 1]);
/* The order and profile states of `iccid` are os and ps (a test failure at file:line else). */
void rsp_test_smdp_check_states(struct rsp_smdp_service *svc, const char *iccid,
                                enum rsp_smdp_order_state os, enum rsp_smdp_profile_state ps,
                                const char *file, int line);

/* ---- the software card as an LPA uses it ---- */

/* One ES10 request to the card; its answer replaces out's content. */
rsp_err_t rsp_test_card_es10(struct rsp_euicc *card, const uint8_t *req, size_t len,
                             struct rsp_buf *out);
/* `v` encoded as `t` and run on the card (failures are test failures); the answer in out. */
void rsp_test_card_msg(struct rsp_euicc *card, const struct rsp_msg_type *t, const void *v,
                       struct rsp_buf *out);
/* GetEUICCChallenge; zeros when the card gives none (a test failure). */
void rsp_test_card_challenge(struct rsp_euicc *card, uint8_t ch[RSP_SMDP_CHALLENGE_LEN]);
/* The profile with this ICCID (digits) is on the card (GetProfilesInfo). */
bool rsp_test_card_has_profile(struct rsp_euicc *card, const char *iccid);

#endif
