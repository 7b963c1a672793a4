/* The card interface of the software eUICC: the ISO/IEC 7816-4 commands an LPA or IPA sends
 * around the ES10 functions (MANAGE CHANNEL, SELECT, GET RESPONSE), ETSI TS 102 221 TERMINAL
 * CAPABILITY, and STORE DATA as SGP.22 §5.7.2 uses it to carry one ES10 request in blocks.
 *
 * The card has the basic channel 0 and the logical channels 1-19 (1-3 in the first
 * interindustry class byte, 4-19 in the further interindustry one). Each channel has its own
 * selection, its own STORE DATA reassembly and its own pending response, so a client may talk to
 * the ISD-R on several channels. Only short APDUs (Lc and Le of one byte) exist here: the ATR
 * announces no extended lengths, and SGP.22 limits STORE DATA blocks to 255 bytes.
 *
 * Status word choices, where ISO/IEC 7816-4 leaves room:
 *  - a class byte the card cannot parse (RFU bits, 0xFF, or an ISO command in a proprietary
 *    class and vice versa) is 6E00; secure messaging bits 6882; command chaining 6884;
 *  - a channel number that is valid but not open is 6881 (logical channel not supported);
 *  - a STORE DATA block whose number is not the next one is 6A86 (P2 is the block number) and
 *    discards the sequence: the client starts again with block 0. Block 0 always starts a new
 *    sequence, so a request takes at most 256 blocks (P2 00..FF) as SGP.22 allows; a request
 *    above EUICC_MAX_COMMAND bytes is 6A84 (not reachable while 256 x 255 bytes fit the cap);
 *  - GET RESPONSE with nothing pending is 6985; with Le larger than what remains (and not 00,
 *    which means "up to 256") it is 6Cxx, xx the exact length, and the data stays pending;
 *  - MANAGE CHANNEL opening an explicit channel that is already open re-opens it (9000), so a
 *    client that crashed with a channel open can start again; closing a channel that is not
 *    open is 6A86. No free channel left is 6A81. */
#include <string.h>

#include "euicc_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"

/* Status words (ISO/IEC 7816-4 §5.6 tables 5 and 6). */
#define SW_OK 0x9000u
#define SW_BYTES_REMAINING 0x6100u /* SW2: bytes still available (00: 256 or more) */
#define SW_WRONG_LENGTH 0x6700u
#define SW_CHANNEL_NOT_SUPPORTED 0x6881u
#define SW_SM_NOT_SUPPORTED 0x6882u
#define SW_CHAINING_NOT_SUPPORTED 0x6884u
#define SW_CONDITIONS_NOT_SATISFIED 0x6985u
#define SW_WRONG_DATA 0x6A80u
#define SW_FUNCTION_NOT_SUPPORTED 0x6A81u
#define SW_FILE_NOT_FOUND 0x6A82u
#define SW_NOT_ENOUGH_MEMORY 0x6A84u
#define SW_WRONG_P1P2 0x6A86u
#define SW_DATA_NOT_FOUND 0x6A88u
#define SW_WRONG_LE 0x6C00u /* SW2: the exact length */
#define SW_INS_NOT_SUPPORTED 0x6D00u
#define SW_CLA_NOT_SUPPORTED 0x6E00u
#define SW_NO_DIAGNOSIS 0x6F00u

/* Instruction bytes. */
#define INS_MANAGE_CHANNEL 0x70u
#define INS_SELECT 0xA4u
#define INS_TERMINAL_CAPABILITY 0xAAu
#define INS_GET_RESPONSE 0xC0u
#define INS_STORE_DATA 0xE2u

/* MANAGE CHANNEL P1 (ISO/IEC 7816-4 §11.1.2). */
#define MANAGE_CHANNEL_OPEN 0x00u
#define MANAGE_CHANNEL_CLOSE 0x80u
/* SELECT P1 = select by DF name (AID); P2 = first occurrence, and what to answer. */
#define SELECT_BY_NAME 0x04u
#define SELECT_RETURN_FCI 0x00u
#define SELECT_RETURN_FCP 0x04u
#define SELECT_RETURN_NOTHING 0x0Cu
/* STORE DATA P1 (SGP.22 §5.7.2 table 47): BER-TLV data, more blocks follow / last block. */
#define STORE_DATA_MORE_BLOCKS 0x11u
#define STORE_DATA_LAST_BLOCK 0x91u

#define CARD_CHANNELS 20 /* 0 basic, 1-3 first interindustry, 4-19 further interindustry */
#define AID_MIN_LEN 5u   /* ISO/IEC 7816-5: RID */
#define AID_MAX_LEN 16u
#define SHORT_NE_MAX 256u

/* FCI template (6F) and FCP template (62), proprietary data (A5), DF name (84), GlobalPlatform
 * "maximum length of data field in command message" (9F65). */
#define TAG_FCI 0x6Fu
#define TAG_FCP 0x62u
#define TAG_DF_NAME 0x84u
#define TAG_PROPRIETARY 0xA5u

/* The applications the card knows: the ISD-R (SGP.22 §2.2.1, the only one that answers ES10)
 * and the ECASD (SGP.22 §2.2.2, selectable). */
enum card_app { APP_NONE = 0, APP_ISD_R, APP_ECASD };

static const uint8_t aid_isd_r[AID_MAX_LEN] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                               0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};
static const uint8_t aid_ecasd[AID_MAX_LEN] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                               0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x02, 0x00};

struct channel {
  bool open;
  enum card_app app;
  /* STORE DATA reassembly (capped at EUICC_MAX_COMMAND) */
  struct rsp_buf cmd;
  bool in_sequence;
  unsigned next_block;
  /* Response data waiting for GET RESPONSE */
  struct rsp_buf resp;
  size_t resp_off;
};

struct euicc_apdu {
  struct channel ch[CARD_CHANNELS];
};

/* One parsed command APDU. */
struct capdu {
  uint8_t cla, ins, p1, p2;
  unsigned channel;
  bool proprietary; /* CLA b8: the GlobalPlatform / ETSI class of STORE DATA */
  const uint8_t *data;
  size_t lc;
  bool has_le;
  size_t ne; /* 1..256 when has_le */
};

/* The response being built in the caller's buffer. */
struct reply {
  uint8_t *data; /* RSP_EUICC_MAX_RAPDU bytes */
  size_t len;
  unsigned sw;
};

/* ---- lifecycle ------------------------------------------------------------------------------- */

static void channel_init(struct channel *ch) {
  memset(ch, 0, sizeof(*ch));
  rsp_buf_init(&ch->cmd, EUICC_MAX_COMMAND);
  rsp_buf_init(&ch->resp, EUICC_MAX_COMMAND);
}

static void channel_clear(struct channel *ch) {
  rsp_buf_free(&ch->cmd);
  rsp_buf_free(&ch->resp);
  channel_init(ch);
}

rsp_err_t rsp__euicc_apdu_new(struct euicc_apdu **out) {
  struct euicc_apdu *a = rsp_malloc(sizeof(*a));
  if (!a) return RSP_E_NOMEM;
  for (size_t i = 0; i < CARD_CHANNELS; i++) channel_init(&a->ch[i]);
  a->ch[0].open = true;
  *out = a;
  return RSP_OK;
}

void rsp__euicc_apdu_free(struct euicc_apdu *a) {
  if (!a) return;
  for (size_t i = 0; i < CARD_CHANNELS; i++) channel_clear(&a->ch[i]);
  rsp_free(a);
}

/* Power on or warm reset: only the basic channel is open, nothing is selected. */
void rsp__euicc_apdu_reset(struct euicc_apdu *a) {
  if (!a) return;
  for (size_t i = 0; i < CARD_CHANNELS; i++) channel_clear(&a->ch[i]);
  a->ch[0].open = true;
}

/* The ATR (ISO/IEC 7816-3 §8.2): direct convention; T=0 first (the default protocol, which
 * several LPAs insist on), T=1 with IFSC 254, and the T=15 global bytes (clock stop no
 * preference, classes A, B and C) as a UICC announces them (ETSI TS 102 221 §6.3). Historical
 * bytes: category 80, card capabilities (73): selection by full DF name, logical channels
 * assigned by the card or the terminal, 8 or more channels. With T=15 present the check byte
 * TCK is mandatory: the XOR of T0 up to the last historical byte. */
size_t rsp_euicc_atr(uint8_t out[RSP_EUICC_MAX_ATR]) {
  static const uint8_t hist[] = {0x80, 0x73, 0x80, 0x21, 0x1F};
  static const uint8_t iface[] = {
      0x80, /* TD1: TD2 follows; T=0 */
      0x91, /* TD2: TA3 and TD3 follow; T=1 */
      0xFE, /* TA3: IFSC 254 */
      0x1F, /* TD3: TA4 follows; T=15 */
      0xC7, /* TA4: clock stop no preference, class A, B and C */
  };
  size_t n = 0;
  uint8_t tck = 0;
  out[n++] = 0x3B;                           /* TS: direct convention */
  out[n++] = (uint8_t)(0x80 | sizeof(hist)); /* T0: TD1 follows, K historical bytes */
  memcpy(out + n, iface, sizeof(iface));
  n += sizeof(iface);
  memcpy(out + n, hist, sizeof(hist));
  n += sizeof(hist);
  for (size_t i = 1; i < n; i++) tck ^= out[i];
  out[n++] = tck;
  return n;
}

/* ---- parsing --------------------------------------------------------------------------------- */

/* Splits a short APDU into header, body and Le (ISO/IEC 7816-3 §12.1.3 cases 1 to 4).
 * Returns 0 or a status word. */
static unsigned parse_body(const uint8_t *capdu, size_t clen, struct capdu *c) {
  c->cla = capdu[0];
  c->ins = capdu[1];
  c->p1 = capdu[2];
  c->p2 = capdu[3];
  if (clen == 4) return 0; /* case 1 */
  if (clen == 5) {         /* case 2: Le only; 00 means 256 */
    c->has_le = true;
    c->ne = capdu[4] ? capdu[4] : SHORT_NE_MAX;
    return 0;
  }
  c->lc = capdu[4];
  if (c->lc == 0) return SW_WRONG_LENGTH; /* extended length: not offered by this card */
  c->data = capdu + 5;
  if (clen == 5 + c->lc) return 0; /* case 3 */
  if (clen == 6 + c->lc) {         /* case 4 */
    c->has_le = true;
    c->ne = capdu[clen - 1] ? capdu[clen - 1] : SHORT_NE_MAX;
    return 0;
  }
  return SW_WRONG_LENGTH;
}

/* Decodes the class byte (ISO/IEC 7816-4 §5.4.1; GlobalPlatform uses the same coding with b8
 * set: 80-83 and C0-CF). Returns 0 or a status word. */
static unsigned parse_class(struct capdu *c) {
  uint8_t cla = c->cla;
  if (cla == 0xFF) return SW_CLA_NOT_SUPPORTED; /* reserved for PPS */
  c->proprietary = (cla & 0x80) != 0;
  if ((cla & 0x40) == 0) { /* first interindustry class: x00x xxxx */
    if (cla & 0x20) return SW_CLA_NOT_SUPPORTED;
    if (cla & 0x10) return SW_CHAINING_NOT_SUPPORTED;
    if (cla & 0x0C) return SW_SM_NOT_SUPPORTED;
    c->channel = cla & 0x03;
  } else { /* further interindustry class: x1xx xxxx, channels 4 to 19 */
    if (cla & 0x20) return SW_SM_NOT_SUPPORTED;
    if (cla & 0x10) return SW_CHAINING_NOT_SUPPORTED;
    c->channel = 4u + (cla & 0x0Fu);
  }
  return 0;
}

/* ---- responses ------------------------------------------------------------------------------- */

/* Says how much of the channel's pending response is left: 61xx, or 9000 when nothing is. */
static unsigned remaining_sw(const struct channel *ch) {
  size_t left = ch->resp.len - ch->resp_off;
  if (left == 0) return SW_OK;
  return SW_BYTES_REMAINING | (left >= SHORT_NE_MAX ? 0u : (unsigned)left);
}

static void drop_response(struct channel *ch) {
  rsp_buf_free(&ch->resp);
  ch->resp_off = 0;
}

static void drop_sequence(struct channel *ch) {
  rsp_buf_free(&ch->cmd);
  ch->in_sequence = false;
  ch->next_block = 0;
}

/* ---- MANAGE CHANNEL -------------------------------------------------------------------------- */

static unsigned first_free_channel(const struct euicc_apdu *a) {
  for (unsigned i = 1; i < CARD_CHANNELS; i++)
    if (!a->ch[i].open) return i;
  return 0;
}

/* Opens channel n from channel `from`: from the basic channel nothing is selected on the new
 * channel, from a logical channel its selection is inherited (ISO/IEC 7816-4 §7.1.2). */
static void open_channel(struct euicc_apdu *a, unsigned n, unsigned from) {
  enum card_app app = from == 0 ? APP_NONE : a->ch[from].app;
  channel_clear(&a->ch[n]);
  a->ch[n].open = true;
  a->ch[n].app = app;
}

static rsp_err_t cmd_manage_channel(struct rsp_euicc *card, const struct capdu *c,
                                    struct reply *r) {
  struct euicc_apdu *a = card->apdu;
  unsigned n = c->p2;
  if (c->lc) {
    r->sw = SW_WRONG_LENGTH;
  } else if (c->p1 == MANAGE_CHANNEL_OPEN && n == 0) {
    /* The card assigns the number and answers it in one byte (case 2). */
    if (!c->has_le) {
      r->sw = SW_WRONG_LENGTH;
    } else if ((n = first_free_channel(a)) == 0) {
      r->sw = SW_FUNCTION_NOT_SUPPORTED;
    } else {
      open_channel(a, n, c->channel);
      r->data[r->len++] = (uint8_t)n;
    }
  } else if (c->p1 == MANAGE_CHANNEL_OPEN) {
    if (n >= CARD_CHANNELS || n == c->channel)
      r->sw = SW_WRONG_P1P2;
    else
      open_channel(a, n, c->channel);
  } else if (c->p1 == MANAGE_CHANNEL_CLOSE) {
    if (n == 0) n = c->channel; /* P2 = 00: the channel of the class byte */
    if (n == 0 || n >= CARD_CHANNELS || !a->ch[n].open)
      r->sw = SW_WRONG_P1P2;
    else
      channel_clear(&a->ch[n]);
  } else {
    r->sw = SW_WRONG_P1P2;
  }
  return RSP_OK;
}

/* ---- SELECT ---------------------------------------------------------------------------------- */

/* Queues the FCI (or FCP) of an application for GET RESPONSE: the DF name and the largest
 * command data field the card takes. */
static rsp_err_t queue_fci(struct channel *ch, uint8_t tmpl, const uint8_t aid[AID_MAX_LEN]) {
  uint8_t fci[2 + 2 + AID_MAX_LEN + 2 + 4];
  size_t n = 0;
  fci[n++] = tmpl;
  fci[n++] = (uint8_t)(sizeof(fci) - 2);
  fci[n++] = TAG_DF_NAME;
  fci[n++] = AID_MAX_LEN;
  memcpy(fci + n, aid, AID_MAX_LEN);
  n += AID_MAX_LEN;
  fci[n++] = TAG_PROPRIETARY;
  fci[n++] = 4;
  fci[n++] = 0x9F; /* 9F65: maximum length of data field in command message */
  fci[n++] = 0x65;
  fci[n++] = 1;
  fci[n++] = 0xFF;
  drop_response(ch);
  return rsp_buf_append(&ch->resp, fci, n);
}

static rsp_err_t cmd_select(struct rsp_euicc *card, const struct capdu *c, struct reply *r) {
  struct channel *ch = &card->apdu->ch[c->channel];
  const uint8_t *aid = NULL;
  enum card_app app = APP_NONE;
  if (c->p1 != SELECT_BY_NAME || (c->p2 != SELECT_RETURN_FCI && c->p2 != SELECT_RETURN_FCP &&
                                  c->p2 != SELECT_RETURN_NOTHING)) {
    r->sw = SW_WRONG_P1P2;
    return RSP_OK;
  }
  if (c->lc < AID_MIN_LEN || c->lc > AID_MAX_LEN) {
    r->sw = SW_WRONG_LENGTH;
    return RSP_OK;
  }
  if (c->lc == AID_MAX_LEN && memcmp(c->data, aid_isd_r, AID_MAX_LEN) == 0) {
    aid = aid_isd_r;
    app = APP_ISD_R;
  } else if (c->lc == AID_MAX_LEN && memcmp(c->data, aid_ecasd, AID_MAX_LEN) == 0) {
    aid = aid_ecasd;
    app = APP_ECASD;
  } else {
    r->sw = SW_FILE_NOT_FOUND; /* the current selection stays */
    return RSP_OK;
  }
  ch->app = app;
  drop_sequence(ch);
  if (c->p2 == SELECT_RETURN_NOTHING) return RSP_OK;
  /* The answer data always goes through GET RESPONSE (61xx), as IPAs expect (notes §5). */
  rsp_err_t rc = queue_fci(ch, c->p2 == SELECT_RETURN_FCP ? TAG_FCP : TAG_FCI, aid);
  if (rc == RSP_OK) r->sw = remaining_sw(ch);
  return rc;
}

/* ---- GET RESPONSE ---------------------------------------------------------------------------- */

static rsp_err_t cmd_get_response(struct rsp_euicc *card, const struct capdu *c, struct reply *r) {
  struct channel *ch = &card->apdu->ch[c->channel];
  size_t left = ch->resp.len - ch->resp_off;
  size_t n = c->ne;
  if (c->p1 || c->p2) {
    r->sw = SW_WRONG_P1P2;
  } else if (c->lc || !c->has_le) {
    r->sw = SW_WRONG_LENGTH;
  } else if (left == 0) {
    r->sw = SW_CONDITIONS_NOT_SATISFIED;
  } else if (n > left && n != SHORT_NE_MAX) {
    /* Le asks for more than there is: tell the exact length, keep the data (ISO/IEC 7816-3
     * §10.3.3). Le = 00 means "up to 256" and is served with what there is. */
    r->sw = SW_WRONG_LE | (unsigned)left;
  } else {
    if (n > left) n = left;
    memcpy(r->data, ch->resp.data + ch->resp_off, n);
    r->len = n;
    ch->resp_off += n;
    r->sw = remaining_sw(ch);
    if (r->sw == SW_OK) drop_response(ch);
  }
  return RSP_OK;
}

/* ---- TERMINAL CAPABILITY --------------------------------------------------------------------- */

/* ETSI TS 102 221 §11.1.19: the terminal tells what it supports (for an IPA: A9 with the eUICC
 * related capabilities). The card has no use for it and acknowledges. */
static rsp_err_t cmd_terminal_capability(struct rsp_euicc *card, const struct capdu *c,
                                         struct reply *r) {
  if (c->p1 || c->p2)
    r->sw = SW_WRONG_P1P2;
  else if (!c->lc)
    r->sw = SW_WRONG_LENGTH;
  return RSP_OK;
}

/* ---- STORE DATA ------------------------------------------------------------------------------ */

static bool is_der_error(rsp_err_t rc) {
  switch (rc) {
  case RSP_E_DER_TRUNCATED:
  case RSP_E_DER_INDEFINITE_LENGTH:
  case RSP_E_DER_NON_MINIMAL_LENGTH:
  case RSP_E_DER_LENGTH_TOO_LARGE:
  case RSP_E_DER_BAD_TAG:
  case RSP_E_DER_TRAILING_BYTES:
  case RSP_E_DER_UNEXPECTED_TAG:
  case RSP_E_DER_BAD_VALUE:
  case RSP_E_DER_RANGE:
  case RSP_E_DER_NESTING:
  case RSP_E_DER_MISSING:
    return true;
  default:
    return false;
  }
}

/* Runs the reassembled request through the ES10 dispatcher and queues its answer. */
static rsp_err_t run_es10(struct rsp_euicc *card, struct channel *ch, struct reply *r) {
  rsp_err_t rc;
  drop_response(ch);
  rc = rsp__euicc_es10(card, ch->cmd.data, ch->cmd.len, &ch->resp);
  drop_sequence(ch);
  if (rc == RSP_OK) {
    r->sw = remaining_sw(ch);
    return RSP_OK;
  }
  drop_response(ch);
  if (rc == RSP_E_UNSUPPORTED) {
    r->sw = SW_DATA_NOT_FOUND;
  } else if (is_der_error(rc)) {
    r->sw = SW_WRONG_DATA;
  } else {
    rsp_log(RSP_LOG_ERROR, "euicc", "card %s: ES10 command failed: %s", card->eid_digits,
            rsp_strerror(rc));
    return rc;
  }
  rsp_log(RSP_LOG_DEBUG, "euicc", "card %s: ES10 request refused: %s", card->eid_digits,
          rsp_err_name(rc));
  return RSP_OK;
}

/* SGP.22 §5.7.2: one ES10 request in blocks of 1..255 bytes, numbered from 0 in P2; P1 says
 * whether more follow. Block 0 always starts a new sequence and discards an unfinished one. */
static rsp_err_t cmd_store_data(struct rsp_euicc *card, const struct capdu *c, struct reply *r) {
  struct channel *ch = &card->apdu->ch[c->channel];
  rsp_err_t rc;
  if (ch->app != APP_ISD_R) {
    r->sw = SW_CONDITIONS_NOT_SATISFIED;
    return RSP_OK;
  }
  if (c->p1 != STORE_DATA_MORE_BLOCKS && c->p1 != STORE_DATA_LAST_BLOCK) {
    r->sw = SW_WRONG_P1P2;
    return RSP_OK;
  }
  if (!c->lc) {
    r->sw = SW_WRONG_LENGTH;
    return RSP_OK;
  }
  if (c->p2 == 0) {
    drop_sequence(ch);
    ch->in_sequence = true;
  } else if (!ch->in_sequence || c->p2 != ch->next_block) {
    rsp_log(RSP_LOG_DEBUG, "euicc", "card %s: STORE DATA block %u out of sequence (expected %u)",
            card->eid_digits, c->p2, ch->in_sequence ? ch->next_block : 0);
    drop_sequence(ch);
    r->sw = SW_WRONG_P1P2;
    return RSP_OK;
  }
  rc = rsp_buf_append(&ch->cmd, c->data, c->lc);
  if (rc == RSP_E_BUF_CAP) {
    rsp_log(RSP_LOG_INFO, "euicc", "card %s: ES10 request larger than %u bytes", card->eid_digits,
            EUICC_MAX_COMMAND);
    drop_sequence(ch);
    r->sw = SW_NOT_ENOUGH_MEMORY;
    return RSP_OK;
  }
  if (rc != RSP_OK) {
    drop_sequence(ch);
    return rc;
  }
  /* After block 255 no block number is left: P2 can never equal 256, so a 257th block is refused
   * as out of sequence. */
  ch->next_block++;
  if (c->p1 == STORE_DATA_MORE_BLOCKS) return RSP_OK;
  return run_es10(card, ch, r);
}

/* ---- dispatch -------------------------------------------------------------------------------- */

#define CLASS_ISO 1u  /* CLA 0X / 4X */
#define CLASS_PROP 2u /* CLA 8X / CX */

struct command {
  uint8_t ins;
  unsigned classes;
  rsp_err_t (*fn)(struct rsp_euicc *card, const struct capdu *c, struct reply *r);
};

static const struct command commands[] = {
    {INS_MANAGE_CHANNEL, CLASS_ISO, cmd_manage_channel},
    {INS_SELECT, CLASS_ISO, cmd_select},
    /* Clients send GET RESPONSE in either class (notes §5). */
    {INS_GET_RESPONSE, CLASS_ISO | CLASS_PROP, cmd_get_response},
    {INS_TERMINAL_CAPABILITY, CLASS_PROP, cmd_terminal_capability},
    {INS_STORE_DATA, CLASS_PROP, cmd_store_data},
};

static const struct command *find_command(uint8_t ins) {
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (commands[i].ins == ins) return &commands[i];
  return NULL;
}

/* Checks the header in the order ISO/IEC 7816-4 reports errors (class, instruction, channel,
 * length) and runs the command. */
static rsp_err_t dispatch(struct rsp_euicc *card, const uint8_t *capdu, size_t clen,
                          struct reply *r) {
  struct capdu c;
  const struct command *cmd = NULL;
  unsigned body_sw;
  memset(&c, 0, sizeof(c));
  if (clen < 4) {
    r->sw = SW_WRONG_LENGTH;
    return RSP_OK;
  }
  body_sw = parse_body(capdu, clen, &c);
  if ((r->sw = parse_class(&c)) != 0) return RSP_OK;
  if (!(cmd = find_command(c.ins)))
    r->sw = SW_INS_NOT_SUPPORTED;
  else if (!(cmd->classes & (c.proprietary ? CLASS_PROP : CLASS_ISO)))
    r->sw = SW_CLA_NOT_SUPPORTED;
  else if (!card->apdu->ch[c.channel].open)
    r->sw = SW_CHANNEL_NOT_SUPPORTED;
  else if (body_sw)
    r->sw = body_sw;
  if (r->sw) return RSP_OK;
  r->sw = SW_OK;
  /* Any command but GET RESPONSE ends the wait for the channel's pending answer. */
  if (c.ins != INS_GET_RESPONSE) drop_response(&card->apdu->ch[c.channel]);
  return cmd->fn(card, &c, r);
}

rsp_err_t rsp_euicc_transmit(struct rsp_euicc *c, const uint8_t *capdu, size_t clen, uint8_t *rapdu,
                             size_t *rlen) {
  struct reply r = {rapdu, 0, SW_OK};
  rsp_err_t rc;
  if (!c || (!capdu && clen) || !rapdu || !rlen || *rlen < RSP_EUICC_MAX_RAPDU)
    return RSP_E_INVALID_ARG;
  rc = c->apdu ? dispatch(c, capdu, clen, &r) : RSP_E_STATE;
  if (rc != RSP_OK) {
    /* A failure of the card itself: the terminal still gets a status word. */
    r.len = 0;
    r.sw = SW_NO_DIAGNOSIS;
  }
  rapdu[r.len] = (uint8_t)(r.sw >> 8);
  rapdu[r.len + 1] = (uint8_t)r.sw;
  *rlen = r.len + 2;
  return rc;
}
