/* openrsp IPA: the ES10 client: the ISD-R on a logical channel, requests cut into STORE DATA
 * blocks, answers collected with GET RESPONSE (SGP.22 §5.7.2, notes section 5).
 *
 * It accepts what cards in the field answer: 61xx or 9000 after SELECT (no FCI needed), the last
 * STORE DATA block answered 61xx or 9000 with data, GET RESPONSE in class 0X with the channel. */
#ifndef RSP_IPA_ES10_H
#define RSP_IPA_ES10_H

#include <stdbool.h>

#include "rsp/core/buf.h"
#include "rsp/ipa/apdu.h"

#define RSP_ES10_BLOCK_DEFAULT 255
#define RSP_ES10_MAX_RESPONSE (1024u * 1024u)

struct rsp_es10_client {
  struct rsp_apdu *apdu;
  uint8_t channel; /* logical channel of the ISD-R (0 when the basic channel is used) */
  size_t block;    /* STORE DATA block size, 1..255 */
  bool open;
  bool basic_channel; /* use channel 0 instead of opening a logical channel */
  uint16_t last_sw;   /* status word of the last APDU, for logs */
};

/* Cannot fail. */
void rsp_es10_client_init(struct rsp_es10_client *c, struct rsp_apdu *apdu);
/* MANAGE CHANNEL (card-assigned) unless basic_channel, then SELECT the ISD-R on it. */
rsp_err_t rsp_es10_client_open(struct rsp_es10_client *c);
/* One ES10 function: `req` (a complete request TLV, or one LoadBoundProfilePackage segment) in
 * STORE DATA blocks, the answer appended to `resp` (empty for accepted BPP segments).
 * RSP_E_IO for a transport failure, RSP_E_STATE for an unexpected status word (last_sw). */
rsp_err_t rsp_es10_client_call(struct rsp_es10_client *c, const uint8_t *req, size_t len,
                               struct rsp_buf *resp);
/* MANAGE CHANNEL close (the ISD-R channel); NULL-safe, idempotent. */
void rsp_es10_client_close(struct rsp_es10_client *c);

#endif
