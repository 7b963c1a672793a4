/* APDU driver: a software eUICC in the same process. */
#include "rsp/drivers/apdu.h"

static rsp_err_t inproc_connect(void *ctx) {
  rsp_euicc_reset(ctx); /* a new session is a power cycle */
  return RSP_OK;
}

static rsp_err_t inproc_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r,
                                 size_t *rlen) {
  return rsp_euicc_transmit(ctx, c, clen, r, rlen);
}

static const struct rsp_apdu_ops inproc_ops = {"inproc", inproc_connect, inproc_transmit, NULL};

void rsp_apdu_inproc_init(struct rsp_apdu *a, struct rsp_euicc *card) {
  a->ops = &inproc_ops;
  a->ctx = card;
}
