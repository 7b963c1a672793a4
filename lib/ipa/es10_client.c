/* The IPA's ES10 client (SGP.22 §5.7.2, notes section 5): STORE DATA framing over the APDU port. */
#include <string.h>

#include "rsp/core/log.h"
#include "rsp/ipa/es10.h"

#define CLA_ISO 0x00u
#define CLA_GP 0x80u
#define INS_MANAGE_CHANNEL 0x70u
#define INS_SELECT 0xA4u
#define INS_STORE_DATA 0xE2u
#define INS_GET_RESPONSE 0xC0u
#define P1_MORE_BLOCKS 0x11u
#define P1_LAST_BLOCK 0x91u
#define SW_OK 0x9000u
#define SW1_MORE 0x61u
#define MAX_GET_RESPONSE 4096 /* a runaway card cannot keep us reading forever */

static const uint8_t ISDR_AID[16] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};

void rsp_es10_client_init(struct rsp_es10_client *c, struct rsp_apdu *apdu) {
  memset(c, 0, sizeof *c);
  c->apdu = apdu;
  c->block = RSP_ES10_BLOCK_DEFAULT;
}

/* Class byte with the channel number (ISO 7816-4 §5.4.1: 0-3 in bits 1-2, 4-19 extended). */
static uint8_t cla(const struct rsp_es10_client *c, uint8_t base) {
  if (c->channel < 4) return (uint8_t)(base | c->channel);
  return (uint8_t)((base & 0x80u) | 0x40u | ((c->channel - 4) & 0x0Fu));
}

static rsp_err_t transmit(struct rsp_es10_client *c, const uint8_t *cmd, size_t len, uint8_t *r,
                          size_t *rlen) {
  *rlen = RSP_APDU_MAX_RESPONSE;
  rsp_err_t rc = c->apdu->ops->transmit(c->apdu->ctx, cmd, len, r, rlen);
  if (rc != RSP_OK) return rc;
  if (*rlen < 2) return RSP_E_IO;
  c->last_sw = (uint16_t)(r[*rlen - 2] << 8 | r[*rlen - 1]);
  return RSP_OK;
}

/* Collects the answer: data of the last response, then GET RESPONSE while 61xx. */
static rsp_err_t collect(struct rsp_es10_client *c, uint8_t *r, size_t rlen, struct rsp_buf *resp) {
  for (int i = 0; i < MAX_GET_RESPONSE; i++) {
    rsp_err_t rc;
    if (rlen > 2 && (rc = rsp_buf_append(resp, r, rlen - 2)) != RSP_OK) return rc;
    if (c->last_sw == SW_OK) return RSP_OK;
    if ((c->last_sw >> 8) != SW1_MORE) return RSP_E_STATE;
    uint8_t gr[5] = {cla(c, CLA_ISO), INS_GET_RESPONSE, 0, 0, (uint8_t)(c->last_sw & 0xFF)};
    if ((rc = transmit(c, gr, sizeof gr, r, &rlen)) != RSP_OK) return rc;
  }
  return RSP_E_STATE;
}

rsp_err_t rsp_es10_client_open(struct rsp_es10_client *c) {
  uint8_t r[RSP_APDU_MAX_RESPONSE], sel[5 + 16 + 1];
  size_t rlen;
  rsp_err_t rc;
  if (c->apdu->ops->connect && (rc = c->apdu->ops->connect(c->apdu->ctx)) != RSP_OK) return rc;
  c->channel = 0;
  if (!c->basic_channel) {
    static const uint8_t open_ch[5] = {CLA_ISO, INS_MANAGE_CHANNEL, 0x00, 0x00, 0x01};
    if ((rc = transmit(c, open_ch, sizeof open_ch, r, &rlen)) != RSP_OK) return rc;
    if (c->last_sw != SW_OK || rlen != 3 || r[0] == 0 || r[0] > 19) {
      rsp_log(RSP_LOG_WARN, "ipa", "MANAGE CHANNEL refused (SW %04X)", c->last_sw);
      return RSP_E_STATE;
    }
    c->channel = r[0];
  }
  sel[0] = cla(c, CLA_ISO);
  sel[1] = INS_SELECT;
  sel[2] = 0x04;
  sel[3] = 0x00;
  sel[4] = sizeof ISDR_AID;
  memcpy(sel + 5, ISDR_AID, sizeof ISDR_AID);
  sel[5 + sizeof ISDR_AID] = 0x00; /* Le */
  if ((rc = transmit(c, sel, sizeof sel, r, &rlen)) != RSP_OK) return rc;
  if (c->last_sw != SW_OK && (c->last_sw >> 8) != SW1_MORE) {
    rsp_log(RSP_LOG_WARN, "ipa", "SELECT ISD-R refused (SW %04X)", c->last_sw);
    return RSP_E_NOT_FOUND;
  }
  struct rsp_buf fci;
  rsp_buf_init(&fci, 1024);
  rc = collect(c, r, rlen, &fci); /* the FCI is not needed; read it so the channel is clean */
  rsp_buf_free(&fci);
  if (rc != RSP_OK) return rc;
  c->open = true;
  return RSP_OK;
}

rsp_err_t rsp_es10_client_call(struct rsp_es10_client *c, const uint8_t *req, size_t len,
                               struct rsp_buf *resp) {
  uint8_t cmd[RSP_APDU_MAX_COMMAND], r[RSP_APDU_MAX_RESPONSE];
  size_t off = 0, rlen = 0, block = c->block >= 1 && c->block <= 255 ? c->block : 255;
  rsp_err_t rc;
  if (!c->open) return RSP_E_STATE;
  if (len == 0 || (len + block - 1) / block > 256) return RSP_E_INVALID_ARG;
  for (unsigned n = 0; off < len; n++) {
    size_t k = len - off < block ? len - off : block;
    cmd[0] = cla(c, CLA_GP);
    cmd[1] = INS_STORE_DATA;
    cmd[2] = off + k == len ? P1_LAST_BLOCK : P1_MORE_BLOCKS;
    cmd[3] = (uint8_t)n;
    cmd[4] = (uint8_t)k;
    memcpy(cmd + 5, req + off, k);
    if ((rc = transmit(c, cmd, 5 + k, r, &rlen)) != RSP_OK) return rc;
    off += k;
    if (off < len && c->last_sw != SW_OK) {
      rsp_log(RSP_LOG_WARN, "ipa", "STORE DATA block %u refused (SW %04X)", n, c->last_sw);
      return RSP_E_STATE;
    }
  }
  rc = collect(c, r, rlen, resp);
  if (rc == RSP_E_STATE)
    rsp_log(RSP_LOG_WARN, "ipa", "ES10 function %02X%02X refused (SW %04X)", req[0],
            len > 1 ? req[1] : 0, c->last_sw);
  return rc;
}

void rsp_es10_client_close(struct rsp_es10_client *c) {
  if (!c || !c->open) return;
  c->open = false;
  if (c->channel) {
    uint8_t close_ch[5] = {CLA_ISO, INS_MANAGE_CHANNEL, 0x80, c->channel, 0x00}, r[8];
    size_t rlen;
    (void)transmit(c, close_ch, sizeof close_ch, r, &rlen);
  }
  if (c->apdu->ops->disconnect) c->apdu->ops->disconnect(c->apdu->ctx);
}
