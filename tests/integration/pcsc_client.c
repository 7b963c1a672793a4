/* pcsc_client: a test-only PC/SC client for the software eUICC behind pcscd.
 *
 * Connects to a reader (by name or name prefix) with T=0 or T=1, opens a logical channel (card
 * assigned, explicit, or stays on the basic channel), SELECTs the ISD-R and sends each ES10
 * request given in hex as STORE DATA blocks of the chosen size, collecting the answer with
 * GET RESPONSE. Each answer is printed in hex on its own line.
 *
 *   pcsc_client --reader NAME [options] REQUEST[:SW]...
 *
 * REQUEST:SW expects the exchange to end with status word SW instead of a response (for
 * malformed requests: BF3E03AABB:6A80). Exit status: 0 every check passed, 1 a check failed,
 * 2 usage error, 3 PC/SC failure (no reader, no card). */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

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
    "REQUEST is one ES10 request TLV in hex; REQUEST:SW expects status word SW instead.\n";

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
    if (*len + c->rx_len > size) return false;
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

/* Sends one request as STORE DATA blocks and collects the answer; checks the final status word
 * against `want` (0x9000 unless the caller expects an error). */
static bool es10(struct client *c, const uint8_t *req, size_t len, unsigned want) {
  static uint8_t resp[MAX_RESPONSE];
  size_t off = 0, resp_len = 0;
  unsigned block = 0;
  do {
    size_t n = len - off < c->o.block ? len - off : c->o.block;
    bool last = off + n == len;
    uint8_t apdu[5 + MAX_BLOCK] = {cla_prop(c->channel), 0xE2, last ? 0x91 : 0x11, (uint8_t)block++,
                                   (uint8_t)n};
    memcpy(apdu + 5, req + off, n);
    off += n;
    if (!xmit(c, apdu, 5 + n)) return false;
    if (!last && c->sw != 0x9000) break;
  } while (off < len);
  if ((c->sw >> 8) == 0x61 && !collect(c, resp, sizeof(resp), &resp_len)) return false;
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
  if ((rc = connect_card(&c)) != CLIENT_OK || c.o.list) goto out;
  rc = CLIENT_FAIL;
  if (!open_channel(&c)) goto out;
  if (c.o.terminal_capability && !terminal_capability(&c)) goto out;
  if (!select_isd_r(&c)) goto out;
  for (int i = optind; i < argc; i++)
    if (!run_request(&c, argv[i])) goto out;
  if (!close_channel(&c)) goto out;
  rc = CLIENT_OK;
out:
  if (c.channel_opened) close_channel(&c);
  if (c.card) SCardDisconnect(c.card, SCARD_RESET_CARD);
  if (c.ctx) SCardReleaseContext(c.ctx);
  return rc;
}
