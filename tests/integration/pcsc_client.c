/* pcsc_client: a test-only PC/SC client for the software eUICC behind pcscd.
 *
 * Connects to a reader (by name or name prefix) with T=0 or T=1, opens a logical channel (card
 * assigned, explicit, or stays on the basic channel), SELECTs the ISD-R and sends each ES10
 * request given in hex as STORE DATA blocks of the chosen size, collecting the answer with
 * GET RESPONSE. Each answer is printed in hex on its own line.
 *
 *   pcsc_client --reader NAME [options] REQUEST[:SW]...
 *   pcsc_client --reader NAME [options] download PKI_DIR ICCID
 *
 * REQUEST:SW expects the exchange to end with status word SW instead of a response (for
 * malformed requests: BF3E03AABB:6A80).
 *
 * `download` runs a whole SGP.22 profile download over the same APDUs, playing the LPA and the
 * SM-DP+ (lib/smdp, its keys from PKI_DIR as rsp-pki create lays them out) in this process:
 * GetEUICCChallenge, AuthenticateServer, PrepareDownload, then every LoadBoundProfilePackage
 * call of a freshly bound profile with the given ICCID. It prints the ISD-P AID of the installed
 * profile; a refusal names the step and why (status word, the card's error code, the SM-DP+'s
 * ES9+ codes, or the bppCommandId and errorReason of the ProfileInstallationResult).
 *
 * Exit status: 0 every check passed, 1 a check failed or the download was refused, 2 usage
 * error, 3 PC/SC failure (no reader, no card). */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

#include "rsp/core/arena.h"
#include "rsp/core/buf.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/der/der.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/bpp.h"
#include "rsp/msg/msg.h"
#include "rsp/smdp/bind.h"

#define CLIENT_OK 0
#define CLIENT_FAIL 1
#define CLIENT_USAGE 2
#define CLIENT_PCSC 3

#define MAX_REQUEST 65536
#define MAX_RESPONSE 65536
#define MAX_BLOCK 255
#define MAX_GET_RESPONSES 1024

static const uint8_t isd_r_aid[16] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                      0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};

static const char usage_text[] =
    "usage: pcsc_client --reader NAME [options] REQUEST[:SW]...\n"
    "       pcsc_client --reader NAME [options] download PKI_DIR ICCID\n"
    "  --reader NAME        reader name, or a prefix of it (e.g. 'Virtual PCD')\n"
    "  --list               list the readers and exit\n"
    "  --protocol t0|t1     transmission protocol (default t0)\n"
    "  --block N            STORE DATA block size, 1..255 (default 255)\n"
    "  --channel auto|N     auto: MANAGE CHANNEL, the card assigns (default); N: open channel\n"
    "                       N explicitly (0: stay on the basic channel)\n"
    "  --select-p2 XX       SELECT P2: 00 (FCI, default), 04 (FCP) or 0C (no data)\n"
    "  --select-le          send SELECT with Le (case 4)\n"
    "  --gr-le N            Le of GET RESPONSE: 0 = take SW2 of 61xx (default), else fixed\n"
    "  --gr-class XX        class of GET RESPONSE: 00 (default) or 80 (channel added)\n"
    "  --terminal-capability  send TERMINAL CAPABILITY first\n"
    "  --wait SECONDS       wait this long for a card in the reader (default 10)\n"
    "  --quiet              print only the responses\n"
    "REQUEST is one ES10 request TLV in hex; REQUEST:SW expects status word SW instead.\n"
    "download installs a profile with ICCID, bound by the SM-DP+ of PKI_DIR (smdp/auth,\n"
    "smdp/pb, ci), and prints the ISD-P AID.\n";

struct client_opts {
  const char *reader;
  bool list;
  DWORD protocol;
  size_t block;
  int channel; /* -1: card assigned */
  uint8_t select_p2;
  bool select_le;
  unsigned gr_le;
  uint8_t gr_class;
  bool terminal_capability;
  int wait;
  bool quiet;
};

struct client {
  SCARDCONTEXT ctx;
  SCARDHANDLE card;
  const SCARD_IO_REQUEST *pci;
  struct client_opts o;
  unsigned channel;
  bool channel_opened;
  uint8_t rx[258];
  DWORD rx_len;
  unsigned sw;
};

/* ---- helpers --------------------------------------------------------------------------------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes n hex digits (n even) into out; false on bad input. */
static bool unhex(const char *s, size_t n, uint8_t *out, size_t size, size_t *len) {
  if (n % 2 || n / 2 > size) return false;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  *len = n / 2;
  return true;
}

static void print_hex(FILE *f, const char *prefix, const uint8_t *p, size_t n) {
  fputs(prefix, f);
  for (size_t i = 0; i < n; i++) fprintf(f, "%02X", p[i]);
  fputc('\n', f);
}

static uint8_t cla_iso(unsigned ch) { return ch < 4 ? (uint8_t)ch : (uint8_t)(0x40 | (ch - 4)); }

static uint8_t cla_prop(unsigned ch) { return (uint8_t)(0x80 | cla_iso(ch)); }

/* Sends one APDU; the answer's data go to rx, the status word to sw. */
static bool xmit(struct client *c, const uint8_t *apdu, size_t n) {
  uint8_t resp[258];
  DWORD len = sizeof(resp);
  if (!c->o.quiet) print_hex(stderr, "> ", apdu, n);
  LONG rv = SCardTransmit(c->card, c->pci, apdu, (DWORD)n, NULL, resp, &len);
  if (rv != SCARD_S_SUCCESS || len < 2) {
    fprintf(stderr, "pcsc_client: SCardTransmit: %s\n", pcsc_stringify_error(rv));
    return false;
  }
  if (!c->o.quiet) print_hex(stderr, "< ", resp, len);
  c->rx_len = len - 2;
  memcpy(c->rx, resp, c->rx_len);
  c->sw = (unsigned)resp[len - 2] << 8 | resp[len - 1];
  return true;
}

/* Reads everything a 61xx announced; appends it to out. Leaves c->sw at the final status. */
static bool collect(struct client *c, uint8_t *out, size_t size, size_t *len) {
  for (int i = 0; i < MAX_GET_RESPONSES && (c->sw >> 8) == 0x61; i++) {
    uint8_t le = c->o.gr_le ? (uint8_t)c->o.gr_le : (uint8_t)c->sw;
    uint8_t cla = (uint8_t)(c->o.gr_class | cla_iso(c->channel));
    uint8_t apdu[5] = {cla, 0xC0, 0x00, 0x00, le};
    if (!xmit(c, apdu, sizeof(apdu))) return false;
    if ((c->sw >> 8) == 0x6C) { /* wrong Le: the card says the exact length */
      apdu[4] = (uint8_t)c->sw;
      if (!xmit(c, apdu, sizeof(apdu))) return false;
    }
    if (*len + c->rx_len > size) {
      fprintf(stderr, "pcsc_client: the answer is longer than %lu bytes\n", (unsigned long)size);
      return false;
    }
    memcpy(out + *len, c->rx, c->rx_len);
    *len += c->rx_len;
  }
  return true;
}

/* ---- the session ----------------------------------------------------------------------------- */

static int wait_for_card(struct client *c, char *name, size_t name_size) {
  char readers[4096];
  time_t deadline = time(NULL) + c->o.wait;
  for (;;) {
    DWORD len = sizeof(readers);
    LONG rv = SCardListReaders(c->ctx, NULL, readers, &len);
    const char *found = NULL;
    for (const char *r = readers; rv == SCARD_S_SUCCESS && *r; r += strlen(r) + 1) {
      if (c->o.list) printf("%s\n", r);
      if (!found && c->o.reader && strncmp(r, c->o.reader, strlen(c->o.reader)) == 0) found = r;
    }
    if (c->o.list) return rv == SCARD_S_SUCCESS ? CLIENT_OK : CLIENT_PCSC;
    if (found) {
      SCARD_READERSTATE st;
      memset(&st, 0, sizeof(st));
      st.szReader = found;
      st.dwCurrentState = SCARD_STATE_UNAWARE;
      rv = SCardGetStatusChange(c->ctx, 0, &st, 1);
      if (rv == SCARD_S_SUCCESS && (st.dwEventState & SCARD_STATE_PRESENT)) {
        snprintf(name, name_size, "%s", found);
        return CLIENT_OK;
      }
    }
    if (time(NULL) >= deadline) {
      fprintf(stderr, "pcsc_client: no card in a reader named '%s'\n", c->o.reader);
      return CLIENT_PCSC;
    }
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static int connect_card(struct client *c) {
  char name[512];
  DWORD active = 0;
  LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx);
  if (rv != SCARD_S_SUCCESS) {
    fprintf(stderr, "pcsc_client: SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
    return CLIENT_PCSC;
  }
  int rc = wait_for_card(c, name, sizeof(name));
  if (rc != CLIENT_OK || c->o.list) return rc;
  rv = SCardConnect(c->ctx, name, SCARD_SHARE_EXCLUSIVE, c->o.protocol, &c->card, &active);
  if (rv != SCARD_S_SUCCESS) {
    fprintf(stderr, "pcsc_client: SCardConnect %s: %s\n", name, pcsc_stringify_error(rv));
    return CLIENT_PCSC;
  }
  if (active != c->o.protocol) {
    fprintf(stderr, "pcsc_client: protocol %lu active, %lu wanted\n", (unsigned long)active,
            (unsigned long)c->o.protocol);
    return CLIENT_FAIL;
  }
  c->pci = active == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
  if (!c->o.quiet)
    fprintf(stderr, "connected to %s with T=%d\n", name, active == SCARD_PROTOCOL_T1);
  return CLIENT_OK;
}

static bool open_channel(struct client *c) {
  if (c->o.channel == 0) return true;
  if (c->o.channel < 0) {
    static const uint8_t open_any[] = {0x00, 0x70, 0x00, 0x00, 0x01};
    if (!xmit(c, open_any, sizeof(open_any))) return false;
    if (c->sw != 0x9000 || c->rx_len != 1) {
      fprintf(stderr, "pcsc_client: MANAGE CHANNEL open: SW %04X, %lu bytes\n", c->sw,
              (unsigned long)c->rx_len);
      return false;
    }
    c->channel = c->rx[0];
  } else {
    uint8_t open_n[] = {0x00, 0x70, 0x00, (uint8_t)c->o.channel, 0x00};
    if (!xmit(c, open_n, sizeof(open_n))) return false;
    if (c->sw != 0x9000 || c->rx_len != 0) {
      fprintf(stderr, "pcsc_client: MANAGE CHANNEL open %d: SW %04X\n", c->o.channel, c->sw);
      return false;
    }
    c->channel = (unsigned)c->o.channel;
  }
  c->channel_opened = true;
  return true;
}

static bool close_channel(struct client *c) {
  if (!c->channel_opened) return true;
  uint8_t close_n[] = {0x00, 0x70, 0x80, (uint8_t)c->channel, 0x00};
  c->channel_opened = false;
  if (!xmit(c, close_n, sizeof(close_n))) return false;
  if (c->sw != 0x9000) fprintf(stderr, "pcsc_client: MANAGE CHANNEL close: SW %04X\n", c->sw);
  return c->sw == 0x9000;
}

static bool terminal_capability(struct client *c) {
  uint8_t apdu[] = {cla_prop(c->channel), 0xAA, 0x00, 0x00, 0x05, 0xA9, 0x03, 0x83, 0x01, 0x07};
  if (!xmit(c, apdu, sizeof(apdu))) return false;
  if (c->sw != 0x9000) fprintf(stderr, "pcsc_client: TERMINAL CAPABILITY: SW %04X\n", c->sw);
  return c->sw == 0x9000;
}

static bool select_isd_r(struct client *c) {
  uint8_t apdu[5 + sizeof(isd_r_aid) + 1] = {cla_iso(c->channel), 0xA4, 0x04, c->o.select_p2,
                                             sizeof(isd_r_aid)};
  uint8_t fci[1024];
  size_t n = 5 + sizeof(isd_r_aid), fci_len = 0;
  memcpy(apdu + 5, isd_r_aid, sizeof(isd_r_aid));
  if (c->o.select_le) apdu[n++] = 0x00;
  if (!xmit(c, apdu, n)) return false;
  if (c->o.select_p2 == 0x0C) {
    if (c->sw != 0x9000) fprintf(stderr, "pcsc_client: SELECT ISD-R: SW %04X\n", c->sw);
    return c->sw == 0x9000;
  }
  memcpy(fci, c->rx, c->rx_len);
  fci_len = c->rx_len;
  if (!collect(c, fci, sizeof(fci), &fci_len) || c->sw != 0x9000) {
    fprintf(stderr, "pcsc_client: SELECT ISD-R: SW %04X\n", c->sw);
    return false;
  }
  /* The FCI (6F) or FCP (62) names the ISD-R in its DF name (84). */
  for (size_t i = 0; i + 2 + sizeof(isd_r_aid) <= fci_len; i++)
    if (fci[i] == 0x84 && fci[i + 1] == sizeof(isd_r_aid) &&
        memcmp(fci + i + 2, isd_r_aid, sizeof(isd_r_aid)) == 0)
      return true;
  fprintf(stderr, "pcsc_client: the SELECT answer does not name the ISD-R\n");
  return false;
}

/* Sends one request as STORE DATA blocks (SGP.22 §5.7.2) and collects the answer into resp,
 * with GET RESPONSE while the card announces more (61xx). c->sw holds the final status word;
 * false only when PC/SC fails or the answer does not fit. */
static bool store_data(struct client *c, const uint8_t *req, size_t len, uint8_t *resp, size_t size,
                       size_t *resp_len) {
  size_t off = 0;
  unsigned block = 0;
  *resp_len = 0;
  do {
    size_t n = len - off < c->o.block ? len - off : c->o.block;
    bool last = off + n == len;
    uint8_t apdu[5 + MAX_BLOCK] = {cla_prop(c->channel), 0xE2, last ? 0x91 : 0x11, (uint8_t)block++,
                                   (uint8_t)n};
    memcpy(apdu + 5, req + off, n);
    off += n;
    if (!xmit(c, apdu, 5 + n)) return false;
    if (!last && c->sw != 0x9000) return true;
  } while (off < len);
  if (c->rx_len > size) return false;
  memcpy(resp, c->rx, c->rx_len);
  *resp_len = c->rx_len;
  return (c->sw >> 8) != 0x61 || collect(c, resp, size, resp_len);
}

/* Sends one request and checks the final status word against `want` (0x9000 unless the caller
 * expects an error); prints the answer. */
static bool es10(struct client *c, const uint8_t *req, size_t len, unsigned want) {
  static uint8_t resp[MAX_RESPONSE];
  size_t resp_len = 0;
  if (!store_data(c, req, len, resp, sizeof(resp), &resp_len)) return false;
  if (c->sw != want) {
    fprintf(stderr, "pcsc_client: request %02X%02X: SW %04X, expected %04X\n", req[0],
            len > 1 ? req[1] : 0, c->sw, want);
    return false;
  }
  if (want != 0x9000) {
    printf("SW %04X\n", c->sw);
    return true;
  }
  print_hex(stdout, "", resp, resp_len);
  /* The answer is one TLV with the request's tag (SGP.22 §5.7.2; tags here are 1 or 2 bytes). */
  size_t tag_len = (req[0] & 0x1F) == 0x1F ? 2 : 1;
  if (resp_len < tag_len || memcmp(resp, req, tag_len) != 0) {
    fprintf(stderr, "pcsc_client: the answer does not carry the request's tag\n");
    return false;
  }
  return true;
}

static bool run_request(struct client *c, const char *arg) {
  static uint8_t req[MAX_REQUEST];
  const char *colon = strchr(arg, ':');
  size_t hex_len = colon ? (size_t)(colon - arg) : strlen(arg), len = 0;
  unsigned want = 0x9000;
  if (!unhex(arg, hex_len, req, sizeof(req), &len) || len == 0) {
    fprintf(stderr, "pcsc_client: not a hex request: %s\n", arg);
    return false;
  }
  if (colon) {
    char *end = NULL;
    want = (unsigned)strtoul(colon + 1, &end, 16);
    if (*end || strlen(colon + 1) != 4) {
      fprintf(stderr, "pcsc_client: not a status word: %s\n", colon + 1);
      return false;
    }
  }
  return es10(c, req, len, want);
}

/* ---- download: the LPA and the SM-DP+ in this process ---------------------------------------- */

#define DL_SERVER_ADDRESS "smdp.example"            /* serverAddress of serverSigned1 */
#define DL_SERVICE_PROVIDER "openrsp test operator" /* serviceProviderName (91) */
#define DL_PROFILE_NAME "pcsc_client download"      /* profileName (92) */
#define DL_UPP_ELEMENTS 8      /* OCTET STRINGs in the generated profile package ... */
#define DL_UPP_ELEMENT_LEN 500 /* ... of this many bytes: about 4 kB, five 86 segments */
#define DL_MAX_SEGMENTS 256    /* LoadBoundProfilePackage calls of one BPP */
#define DL_BUF_CAP (1u << 20)  /* every request and the BPP */

/* DeviceInfo.tac sent in ctxParams1: any four bytes do for the software eUICC. */
static const uint8_t dl_tac[RSP_SMDP_TAC_LEN] = {0x35, 0x29, 0x06, 0x11};

/* The names of BppCommandId and ErrorReason (SGP.22 ASN.1, ProfileInstallationResultData
 * errorResult), by value. */
static const char *const bpp_command_names[] = {
    [RSP_MSG_BPP_COMMAND_ID_INITIALISE_SECURE_CHANNEL] = "initialiseSecureChannel",
    [RSP_MSG_BPP_COMMAND_ID_CONFIGURE_ISDP] = "configureISDP",
    [RSP_MSG_BPP_COMMAND_ID_STORE_METADATA] = "storeMetadata",
    [RSP_MSG_BPP_COMMAND_ID_STORE_METADATA2] = "storeMetadata2",
    [RSP_MSG_BPP_COMMAND_ID_REPLACE_SESSION_KEYS] = "replaceSessionKeys",
    [RSP_MSG_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS] = "loadProfileElements"};
static const char *const error_reason_names[] = {
    [RSP_MSG_ERROR_REASON_INCORRECT_INPUT_VALUES] = "incorrectInputValues",
    [RSP_MSG_ERROR_REASON_INVALID_SIGNATURE] = "invalidSignature",
    [RSP_MSG_ERROR_REASON_INVALID_TRANSACTION_ID] = "invalidTransactionId",
    [RSP_MSG_ERROR_REASON_UNSUPPORTED_CRT_VALUES] = "unsupportedCrtValues",
    [RSP_MSG_ERROR_REASON_UNSUPPORTED_REMOTE_OPERATION_TYPE] = "unsupportedRemoteOperationType",
    [RSP_MSG_ERROR_REASON_UNSUPPORTED_PROFILE_CLASS] = "unsupportedProfileClass",
    [RSP_MSG_ERROR_REASON_SCP03T_STRUCTURE_ERROR] = "scp03tStructureError",
    [RSP_MSG_ERROR_REASON_SCP03T_SECURITY_ERROR] = "scp03tSecurityError",
    [RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_ICCID_ALREADY_EXISTS_ON_EUICC] =
        "installFailedDueToIccidAlreadyExistsOnEuicc",
    [RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE] =
        "installFailedDueToInsufficientMemoryForProfile",
    [RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_INTERRUPTION] = "installFailedDueToInterruption",
    [RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_PE_PROCESSING_ERROR] =
        "installFailedDueToPEProcessingError",
    [RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_DATA_MISMATCH] = "installFailedDueToDataMismatch",
    [RSP_MSG_ERROR_REASON_TEST_PROFILE_INSTALL_FAILED_DUE_TO_INVALID_NAA_KEY] =
        "testProfileInstallFailedDueToInvalidNaaKey",
    [RSP_MSG_ERROR_REASON_PPR_NOT_ALLOWED] = "pprNotAllowed",
    [RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_UNKNOWN_ERROR] = "installFailedDueToUnknownError"};

static const char *value_name(const char *const *names, size_t n, int64_t v) {
  return v >= 0 && (uint64_t)v < n && names[v] ? names[v] : "unknown";
}

/* One download. The SM-DP+ session and identity live here between the steps. */
struct download {
  struct client *c;
  const char *step; /* the step in progress, for messages */
  struct rsp_smdp_identity *id;
  struct rsp_smdp_session s;
  struct rsp_smdp_status st;
  uint8_t iccid[RSP_ICCID_LEN];
  struct rsp_buf req; /* what goes to the card */
  struct rsp_buf msg; /* serverSigned1 or smdpSigned2 */
  struct rsp_buf bpp; /* the Bound Profile Package */
  uint8_t sig[RSP_SIG_RAW_LEN];
  uint8_t resp[MAX_RESPONSE]; /* the card's last answer */
  size_t resp_len;
};

static void dl_fail(const struct download *d, const char *fmt, ...) RSP_PRINTF(2, 3);

static void dl_fail(const struct download *d, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "pcsc_client: download: %s: ", d->step);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* A library call that failed to evaluate (malformed input, wrong stage; not a refusal). */
static bool dl_ok(const struct download *d, rsp_err_t rc, const char *what) {
  if (rc == RSP_OK) return true;
  dl_fail(d, "%s: %s (%s)", what, rsp_err_name(rc), rsp_strerror(rc));
  return false;
}

/* The SM-DP+'s verdict on the card's answer: the card's own error code, or the ES9+ codes. */
static bool dl_accepted(const struct download *d) {
  if (d->st.ok) return true;
  if (d->st.euicc_error)
    dl_fail(d, "the card's error code %lld (%s)", (long long)d->st.euicc_error, d->st.detail);
  else
    dl_fail(d, "the SM-DP+ refuses the answer: subjectCode %s reasonCode %s (%s)",
            d->st.subject ? d->st.subject : "-", d->st.reason ? d->st.reason : "-", d->st.detail);
  return false;
}

/* Sends d->req to the card; the answer must end with 9000. */
static bool dl_card(struct download *d) {
  if (!store_data(d->c, d->req.data, d->req.len, d->resp, sizeof(d->resp), &d->resp_len)) {
    dl_fail(d, "the exchange with the card failed");
    return false;
  }
  if (d->c->sw == 0x9000) return true;
  dl_fail(d, "the card answered SW %04X", d->c->sw);
  return false;
}

/* ES10b.GetEUICCChallenge (BF2E). */
static bool dl_challenge(struct download *d, uint8_t challenge[RSP_SMDP_CHALLENGE_LEN]) {
  struct rsp_msg_get_euicc_challenge_request rq;
  struct rsp_msg_get_euicc_challenge_response *r = NULL;
  struct rsp_arena a;
  bool ok = false;
  d->step = "GetEUICCChallenge";
  memset(&rq, 0, sizeof(rq));
  rsp_buf_reset(&d->req);
  if (!dl_ok(d, rsp_msg_encode(&rsp_msgt_get_euicc_challenge_request, &rq, &d->req, NULL),
             "encoding the request") ||
      !dl_card(d))
    return false;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (dl_ok(d,
            rsp_msg_decode(&rsp_msgt_get_euicc_challenge_response, d->resp, d->resp_len, &a,
                           (void **)&r, NULL),
            "decoding the answer")) {
    ok = r->euicc_challenge.len == RSP_SMDP_CHALLENGE_LEN;
    if (ok)
      memcpy(challenge, r->euicc_challenge.p, RSP_SMDP_CHALLENGE_LEN);
    else
      dl_fail(d, "euiccChallenge of %lu bytes", (unsigned long)r->euicc_challenge.len);
  }
  rsp_arena_free(&a);
  return ok;
}

/* ES9+.InitiateAuthentication, ES10b.AuthenticateServer (BF38), ES9+.AuthenticateClient. */
static bool dl_authenticate(struct download *d) {
  uint8_t challenge[RSP_SMDP_CHALLENGE_LEN];
  if (!dl_challenge(d, challenge)) return false;
  d->step = "AuthenticateServer";
  rsp_buf_reset(&d->msg);
  if (!dl_ok(
          d,
          rsp_smdp_server_signed1_make(d->id, &d->s, challenge, DL_SERVER_ADDRESS, &d->msg, d->sig),
          "serverSigned1"))
    return false;
  struct rsp_smdp_authenticate_server_parts parts = {
      .server_signed1 = rsp_msg_slice(d->msg.data, d->msg.len),
      .server_signature1 = rsp_msg_slice(d->sig, sizeof(d->sig)),
      .euicc_ci_pk_id = rsp_msg_slice(d->id->ci_ski.id, d->id->ci_ski.len),
      .server_certificate = rsp_cert_der(d->id->auth_cert)};
  memcpy(parts.tac, dl_tac, sizeof(parts.tac));
  rsp_buf_reset(&d->req);
  return dl_ok(d, rsp_smdp_authenticate_server_request_build(&parts, &d->req),
               "building the request") &&
         dl_card(d) &&
         dl_ok(d,
               rsp_smdp_authenticate_server_response_verify(d->id, &d->s, d->resp, d->resp_len,
                                                            &d->st),
               "verifying the answer") &&
         dl_accepted(d);
}

/* ES10b.PrepareDownload (BF21), no confirmation code; ES9+.GetBoundProfilePackage's check. */
static bool dl_prepare(struct download *d) {
  d->step = "PrepareDownload";
  rsp_buf_reset(&d->msg);
  if (!dl_ok(d,
             rsp_smdp_signed2_make(d->id, &d->s, rsp_msg_slice(NULL, 0), rsp_msg_slice(NULL, 0),
                                   &d->msg, d->sig),
             "smdpSigned2"))
    return false;
  struct rsp_smdp_prepare_download_parts parts = {
      .smdp_signed2 = rsp_msg_slice(d->msg.data, d->msg.len),
      .smdp_signature2 = rsp_msg_slice(d->sig, sizeof(d->sig)),
      .smdp_certificate = rsp_cert_der(d->id->pb_cert)};
  rsp_buf_reset(&d->req);
  return dl_ok(d, rsp_smdp_prepare_download_request_build(&parts, &d->req),
               "building the request") &&
         dl_card(d) &&
         dl_ok(
             d,
             rsp_smdp_prepare_download_response_verify(d->id, &d->s, d->resp, d->resp_len, &d->st),
             "verifying the answer") &&
         dl_accepted(d);
}

/* The unprotected profile package: a SEQUENCE of OCTET STRINGs, one DER Profile Element large
 * enough to need several 86 segments (RSP_BSP_SEGMENT_MAX). */
static rsp_err_t dl_make_upp(struct rsp_buf *out) {
  uint8_t element[DL_UPP_ELEMENT_LEN];
  struct rsp_der_writer w;
  rsp_der_writer_init(&w, out);
  rsp_der_begin(&w, RSP_DER_SEQUENCE);
  for (unsigned i = 0; i < DL_UPP_ELEMENTS; i++) {
    for (size_t k = 0; k < sizeof(element); k++) element[k] = (uint8_t)(i * 31u + k);
    rsp_der_put_octets(&w, RSP_DER_OCTET_STRING, element, sizeof(element));
  }
  rsp_der_end(&w);
  return rsp_der_writer_finish(&w);
}

/* ES9+.GetBoundProfilePackage: metadata with the ICCID and an install notification, the
 * package, ReplaceSessionKeys; the whole BF36 in d->bpp. */
static bool dl_bind(struct download *d) {
  uint8_t bits[5];
  struct rsp_buf upp;
  struct rsp_msg_notification_configuration_information nci = {
      .profile_management_operation =
          rsp_msg_bits_make(1u << RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL, bits),
      .notification_address = rsp_msg_slice(DL_SERVER_ADDRESS, strlen(DL_SERVER_ADDRESS))};
  struct rsp_msg_sgp32_store_metadata_request_notification_configuration_info ncis = {.v = &nci,
                                                                                      .n = 1};
  struct rsp_msg_sgp32_store_metadata_request md = {
      .iccid = rsp_msg_slice(d->iccid, sizeof(d->iccid)),
      .service_provider_name = rsp_msg_slice(DL_SERVICE_PROVIDER, strlen(DL_SERVICE_PROVIDER)),
      .profile_name = rsp_msg_slice(DL_PROFILE_NAME, strlen(DL_PROFILE_NAME)),
      .notification_configuration_info = &ncis};
  d->step = "binding the profile";
  rsp_buf_init(&upp, DL_BUF_CAP);
  bool ok = dl_ok(d, dl_make_upp(&upp), "profile package");
  if (ok) {
    struct rsp_smdp_profile p = {
        .metadata = &md, .upp = rsp_msg_slice(upp.data, upp.len), .replace_session_keys = true};
    rsp_buf_reset(&d->bpp);
    ok = dl_ok(d, rsp_smdp_bind_profile(d->id, &d->s, &p, &d->bpp), "rsp_smdp_bind_profile");
  }
  rsp_buf_free(&upp);
  return ok;
}

/* Checks the ProfileInstallationResult (BF37) the card answered; prints the ISD-P AID. */
static bool dl_result(struct download *d) {
  struct rsp_smdp_pir pir;
  memset(&pir, 0, sizeof(pir));
  d->step = "ProfileInstallationResult";
  if (!dl_ok(d,
             rsp_smdp_pir_verify(d->s.euicc_pk,
                                 rsp_msg_slice(d->s.transaction_id, d->s.transaction_id_len),
                                 d->resp, d->resp_len, &pir),
             "rsp_smdp_pir_verify"))
    return false;
  if (!pir.success) {
    dl_fail(
        d, "error at bppCommandId %lld (%s), errorReason %lld (%s)", (long long)pir.bpp_command_id,
        value_name(bpp_command_names, sizeof(bpp_command_names) / sizeof(bpp_command_names[0]),
                   pir.bpp_command_id),
        (long long)pir.error_reason,
        value_name(error_reason_names, sizeof(error_reason_names) / sizeof(error_reason_names[0]),
                   pir.error_reason));
    return false;
  }
  if (!pir.has_iccid || memcmp(pir.iccid, d->iccid, sizeof(d->iccid)) != 0) {
    dl_fail(d, "success, but not for the ICCID of the metadata");
    return false;
  }
  print_hex(stdout, "ISD-P AID ", pir.aid, pir.aid_len);
  return true;
}

/* ES10b.LoadBoundProfilePackage: each STORE DATA sequence of the split BPP. The card answers
 * the intermediate ones with 9000 and no data, and the last one with the PIR; it answers the PIR
 * early when it refuses the package (an ICCID it has already is refused at the last 88). */
static bool dl_load(struct download *d) {
  static struct rsp_slice segs[DL_MAX_SEGMENTS];
  size_t n = 0;
  d->step = "LoadBoundProfilePackage";
  if (!dl_ok(d, rsp_msg_bpp_split(d->bpp.data, d->bpp.len, segs, DL_MAX_SEGMENTS, &n),
             "rsp_msg_bpp_split"))
    return false;
  for (size_t i = 0; i < n; i++) {
    rsp_buf_reset(&d->req);
    if (!dl_ok(d, rsp_buf_append(&d->req, segs[i].p, segs[i].len), "segment") || !dl_card(d)) {
      dl_fail(d, "at call %lu of %lu (tag %02X, %lu bytes)", (unsigned long)i + 1, (unsigned long)n,
              segs[i].p[0], (unsigned long)segs[i].len);
      return false;
    }
    if (d->resp_len > 0) {
      if (!d->c->o.quiet && i + 1 < n)
        fprintf(stderr, "the card answered call %lu of %lu with the PIR\n", (unsigned long)i + 1,
                (unsigned long)n);
      return dl_result(d);
    }
  }
  dl_fail(d, "no ProfileInstallationResult after the last of %lu calls", (unsigned long)n);
  return false;
}

/* The whole download on the selected ISD-R. */
static int run_download(struct client *c, const char *pki_dir, const uint8_t iccid[RSP_ICCID_LEN]) {
  static struct download d;
  int rc = CLIENT_FAIL;
  memset(&d, 0, sizeof(d));
  d.c = c;
  d.step = "loading the SM-DP+";
  memcpy(d.iccid, iccid, sizeof(d.iccid));
  rsp_smdp_session_init(&d.s);
  rsp_buf_init(&d.req, DL_BUF_CAP);
  rsp_buf_init(&d.msg, DL_BUF_CAP);
  rsp_buf_init(&d.bpp, DL_BUF_CAP);
  if (!dl_ok(&d, rsp_smdp_identity_load(pki_dir, &d.id), pki_dir)) goto out;
  if (dl_authenticate(&d) && dl_prepare(&d) && dl_bind(&d) && dl_load(&d)) rc = CLIENT_OK;
out:
  rsp_smdp_session_free(&d.s);
  rsp_smdp_identity_destroy(d.id);
  rsp_buf_free(&d.req);
  rsp_buf_free(&d.msg);
  rsp_buf_free(&d.bpp);
  return rc;
}

static int parse_args(int argc, char **argv, struct client_opts *o) {
  static const struct option longopts[] = {
      {"reader", required_argument, NULL, 'r'},   {"list", no_argument, NULL, 'L'},
      {"protocol", required_argument, NULL, 'p'}, {"block", required_argument, NULL, 'b'},
      {"channel", required_argument, NULL, 'c'},  {"select-p2", required_argument, NULL, 's'},
      {"select-le", no_argument, NULL, 'S'},      {"gr-le", required_argument, NULL, 'g'},
      {"gr-class", required_argument, NULL, 'G'}, {"terminal-capability", no_argument, NULL, 't'},
      {"wait", required_argument, NULL, 'w'},     {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
  int ch;
  o->protocol = SCARD_PROTOCOL_T0;
  o->block = MAX_BLOCK;
  o->channel = -1;
  o->wait = 10;
  while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (ch) {
    case 'r':
      o->reader = optarg;
      break;
    case 'L':
      o->list = true;
      break;
    case 'p':
      if (strcmp(optarg, "t0") && strcmp(optarg, "t1")) return CLIENT_USAGE;
      o->protocol = strcmp(optarg, "t1") == 0 ? SCARD_PROTOCOL_T1 : SCARD_PROTOCOL_T0;
      break;
    case 'b':
      o->block = strtoul(optarg, NULL, 10);
      break;
    case 'c':
      o->channel = strcmp(optarg, "auto") == 0 ? -1 : atoi(optarg);
      break;
    case 's':
      o->select_p2 = (uint8_t)strtoul(optarg, NULL, 16);
      break;
    case 'S':
      o->select_le = true;
      break;
    case 'g':
      o->gr_le = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'G':
      o->gr_class = (uint8_t)strtoul(optarg, NULL, 16);
      break;
    case 't':
      o->terminal_capability = true;
      break;
    case 'w':
      o->wait = atoi(optarg);
      break;
    case 'q':
      o->quiet = true;
      break;
    case 'h':
      fputs(usage_text, stdout);
      exit(CLIENT_OK);
    default:
      return CLIENT_USAGE;
    }
  }
  if (o->block < 1 || o->block > MAX_BLOCK || o->channel > 19 || o->gr_le > 255 ||
      (!o->reader && !o->list))
    return CLIENT_USAGE;
  return CLIENT_OK;
}

int main(int argc, char **argv) {
  struct client c;
  int rc;
  memset(&c, 0, sizeof(c));
  if ((rc = parse_args(argc, argv, &c.o)) != CLIENT_OK) {
    fputs(usage_text, stderr);
    return rc;
  }
  uint8_t iccid[RSP_ICCID_LEN] = {0};
  bool download = optind < argc && strcmp(argv[optind], "download") == 0;
  if (download && (argc - optind != 3 || rsp_iccid_encode(argv[optind + 2], iccid) != RSP_OK)) {
    fputs(usage_text, stderr);
    return CLIENT_USAGE;
  }
  if ((rc = connect_card(&c)) != CLIENT_OK || c.o.list) goto out;
  rc = CLIENT_FAIL;
  if (!open_channel(&c)) goto out;
  if (c.o.terminal_capability && !terminal_capability(&c)) goto out;
  if (!select_isd_r(&c)) goto out;
  if (download) {
    if ((rc = run_download(&c, argv[optind + 1], iccid)) != CLIENT_OK) goto out;
  } else {
    for (int i = optind; i < argc; i++)
      if (!run_request(&c, argv[i])) goto out;
  }
  rc = CLIENT_FAIL;
  if (!close_channel(&c)) goto out;
  rc = CLIENT_OK;
out:
  if (c.channel_opened) close_channel(&c);
  if (c.card) SCardDisconnect(c.card, SCARD_RESET_CARD);
  if (c.ctx) SCardReleaseContext(c.ctx);
  return rc;
}
