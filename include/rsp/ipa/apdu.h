/* openrsp IPA: the APDU transport port. A driver (drivers/apdu_*.c: PC/SC, socket to rsp-euicc,
 * AT+CSIM, in-process) fills a struct rsp_apdu_ops; the IPA core reaches the card only through
 * it, so the core has no OS calls. */
#ifndef RSP_IPA_APDU_H
#define RSP_IPA_APDU_H

#include <stddef.h>
#include <stdint.h>

#include "rsp/core/error.h"

#define RSP_APDU_MAX_COMMAND (5 + 255 + 1)
#define RSP_APDU_MAX_RESPONSE (256 + 2)

struct rsp_apdu_ops {
  const char *name;
  /* Powers the card / opens the reader; may be NULL. */
  rsp_err_t (*connect)(void *ctx);
  /* One command APDU; the response (data + SW1 SW2) in r, *rlen its size on input. */
  rsp_err_t (*transmit)(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen);
  /* May be NULL. */
  void (*disconnect)(void *ctx);
};

struct rsp_apdu {
  const struct rsp_apdu_ops *ops;
  void *ctx;
};

#endif
