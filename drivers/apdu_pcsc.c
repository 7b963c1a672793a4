/* APDU driver: a card in a PC/SC reader, through libpcsclite and pcscd.
 *
 * Every connect() is a session of its own: a fresh PC/SC context, a wait of up to timeout_ms for
 * the reader and a card, SCardConnect; disconnect() gives both back. Nothing of a session is
 * reused by the next, which is what lets the driver come back after a pcscd restart, a reader
 * unplugged and plugged again, or a card removed and re-inserted.
 *
 * Sharing: the card is connected SCARD_SHARE_SHARED. The ES10 client works on a logical channel
 * of its own (MANAGE CHANNEL, card-assigned) and the card keeps the selection, the STORE DATA
 * chain and the pending GET RESPONSE data per channel (ISO/IEC 7816-4 §5.4.1), so another PC/SC
 * client on another channel cannot disturb a session; an exclusive connection would only lock a
 * diagnostic tool or a second LPA out. The one thing sharing allows that matters, another client
 * resetting the card, is reported by pcscd (SCARD_W_RESET_CARD) and ends the session.
 *
 * Disconnect: SCARD_LEAVE_CARD, since a reset would also close the logical channels of every
 * other client. The ES10 client closes its channel before it disconnects; when a session ends
 * without that (an aborted open), the driver has seen the MANAGE CHANNEL open go by and resets
 * the card instead, so that aborted sessions cannot use up the card's 19 logical channels. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"

#define PCSC_NAME_SIZE 256       /* pcsc-lite names are at most 128 bytes (MAX_READERNAME) */
#define PCSC_LIST_SIZE 4096      /* 16 readers (PCSCLITE_MAX_READERS_CONTEXTS), NUL-separated */
#define PCSC_MAX_READERS 16      /* readers watched at once when none is named */
#define PCSC_SLICE_MS 200        /* the reader list is read again this often while waiting */
#define PCSC_TIMEOUT_MS 5000     /* when the caller gives no timeout */
#define PCSC_ATR_MAX 33          /* ISO/IEC 7816-3 §8.2.1 */
#define PCSC_MAX_CHANNEL 19      /* ISO/IEC 7816-4 §5.4.1: logical channels 1 to 19 */
#define INS_MANAGE_CHANNEL 0x70u /* ISO/IEC 7816-4 §11.1.2 */
#define P1_OPEN_CHANNEL 0x00u
#define P1_CLOSE_CHANNEL 0x80u

struct pcsc_ctx {
  char reader[PCSC_NAME_SIZE]; /* as asked; "" takes the first reader with a card */
  DWORD protocols;             /* SCARD_PROTOCOL_T0 and/or SCARD_PROTOCOL_T1 */
  int timeout_ms;
  char name[PCSC_NAME_SIZE]; /* the reader of the current session */
  SCARDCONTEXT sc;
  bool have_sc;
  SCARDHANDLE card;
  bool connected;
  DWORD state;       /* the reader's state when its card was found */
  DWORD active;      /* the protocol pcscd chose */
  bool failed;       /* a PC/SC error ended the session: nothing more until connect() */
  uint32_t channels; /* bit n: logical channel n opened in this session and not closed */
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Logs a PC/SC failure by its name; every one of them is an I/O error to the IPA. */
static rsp_err_t scard_fail(const struct pcsc_ctx *p, const char *call, LONG rv) {
  const char *reader = p->name[0] ? p->name : p->reader[0] ? p->reader : "any";
  rsp_log(RSP_LOG_WARN, "apdu-pcsc", "%s (reader '%s'): %s (0x%08lX)", call, reader,
          pcsc_stringify_error(rv), (unsigned long)rv);
  return RSP_E_IO;
}

/* The names in a reader list that start with `prefix`, joined with ", " into out. */
static void join_names(const char *list, const char *prefix, char *out, size_t size) {
  size_t len = 0, plen = strlen(prefix);
  out[0] = '\0';
  for (const char *r = list; *r && len < size; r += strlen(r) + 1) {
    if (strncmp(r, prefix, plen) != 0) continue;
    int k = snprintf(out + len, size - len, "%s'%s'", len ? ", " : "", r);
    if (k < 0) break;
    len += (size_t)k;
  }
}

static void add_reader(SCARD_READERSTATE *st, size_t *n, const char *name) {
  memset(&st[*n], 0, sizeof st[*n]);
  st[*n].szReader = name;
  st[*n].dwCurrentState = SCARD_STATE_UNAWARE;
  (*n)++;
}

/* Lists the readers into `list` and puts those that may serve the session into st: every reader
 * when none is named, else the one named exactly, else the only one whose name starts with the
 * given name. Several readers starting with it is a configuration error, not worth waiting for. */
static rsp_err_t pick_readers(struct pcsc_ctx *p, char *list, size_t size, SCARD_READERSTATE *st,
                              size_t *n) {
  DWORD len = (DWORD)size;
  size_t plen = strlen(p->reader), prefixed = 0;
  const char *hit = NULL;
  *n = 0;
  memset(list, 0, 2);
  LONG rv = SCardListReaders(p->sc, NULL, list, &len);
  if (rv == SCARD_E_NO_READERS_AVAILABLE || (rv == SCARD_S_SUCCESS && len < 2)) return RSP_OK;
  if (rv != SCARD_S_SUCCESS) return scard_fail(p, "SCardListReaders", rv);
  for (const char *r = list; *r; r += strlen(r) + 1) {
    if (plen == 0) {
      if (*n < PCSC_MAX_READERS) add_reader(st, n, r);
    } else if (strcmp(r, p->reader) == 0) {
      *n = 0;
      add_reader(st, n, r);
      return RSP_OK;
    } else if (strncmp(r, p->reader, plen) == 0) {
      prefixed++;
      hit = hit ? hit : r;
    }
  }
  if (prefixed == 1) add_reader(st, n, hit);
  if (prefixed > 1) {
    char names[PCSC_LIST_SIZE];
    join_names(list, p->reader, names, sizeof names);
    rsp_log(RSP_LOG_WARN, "apdu-pcsc",
            "reader name '%s' is ambiguous: %zu readers start with it (%s)", p->reader, prefixed,
            names);
    return RSP_E_INVALID_ARG;
  }
  return RSP_OK;
}

/* A card that SCardConnect can take now: present, answering, not held exclusively by another
 * client. */
static bool card_ready(DWORD state) {
  return (state & SCARD_STATE_PRESENT) && !(state & (SCARD_STATE_MUTE | SCARD_STATE_EXCLUSIVE));
}

static const char *card_state(DWORD state) {
  if (state & SCARD_STATE_MUTE) return "the card does not answer";
  if (state & SCARD_STATE_EXCLUSIVE) return "the card is held exclusively by another client";
  if (state & SCARD_STATE_EMPTY) return "no card";
  return "the reader is unavailable";
}

/* Says why connect() gave up: no such reader, or no usable card in it. */
static rsp_err_t report_timeout(struct pcsc_ctx *p, const char *list, const SCARD_READERSTATE *st,
                                size_t n) {
  char names[PCSC_LIST_SIZE];
  join_names(list, "", names, sizeof names);
  if (n == 0 && p->reader[0]) {
    rsp_log(RSP_LOG_WARN, "apdu-pcsc", "no reader named '%s' after %d ms (readers: %s)", p->reader,
            p->timeout_ms, names[0] ? names : "none");
    return RSP_E_NOT_FOUND;
  }
  if (n == 0) {
    rsp_log(RSP_LOG_WARN, "apdu-pcsc", "no PC/SC reader after %d ms", p->timeout_ms);
    return RSP_E_NOT_FOUND;
  }
  if (n == 1)
    rsp_log(RSP_LOG_WARN, "apdu-pcsc", "no usable card in '%s' after %d ms: %s", st[0].szReader,
            p->timeout_ms, card_state(st[0].dwEventState));
  else
    rsp_log(RSP_LOG_WARN, "apdu-pcsc", "no usable card in any reader after %d ms (readers: %s)",
            p->timeout_ms, names);
  return RSP_E_IO;
}

/* Blocks until a watched reader changes state or `ms` pass. With nothing to watch it just sleeps:
 * the next round lists the readers again, which is how a reader plugged in late is found. */
static rsp_err_t wait_change(struct pcsc_ctx *p, SCARD_READERSTATE *st, size_t n, int64_t ms) {
  if (n == 0) {
    sleep_ms(ms);
    return RSP_OK;
  }
  for (size_t i = 0; i < n; i++) st[i].dwCurrentState = st[i].dwEventState & ~SCARD_STATE_CHANGED;
  LONG rv = SCardGetStatusChange(p->sc, (DWORD)ms, st, (DWORD)n);
  if (rv == SCARD_S_SUCCESS || rv == SCARD_E_TIMEOUT || rv == SCARD_E_UNKNOWN_READER) return RSP_OK;
  return scard_fail(p, "SCardGetStatusChange", rv);
}

/* Waits up to timeout_ms for a reader that fits the name and holds a usable card; p->name gets
 * that reader's name. */
static rsp_err_t wait_card(struct pcsc_ctx *p) {
  char list[PCSC_LIST_SIZE];
  SCARD_READERSTATE st[PCSC_MAX_READERS];
  int64_t deadline = now_ms() + p->timeout_ms;
  for (;;) {
    size_t n;
    rsp_err_t rc = pick_readers(p, list, sizeof list, st, &n);
    if (rc != RSP_OK) return rc;
    LONG rv = n ? SCardGetStatusChange(p->sc, 0, st, (DWORD)n) : SCARD_S_SUCCESS;
    if (rv == SCARD_E_UNKNOWN_READER)
      n = 0; /* it went away between the list and the query */
    else if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
      return scard_fail(p, "SCardGetStatusChange", rv);
    for (size_t i = 0; i < n; i++) {
      if (!card_ready(st[i].dwEventState)) continue;
      snprintf(p->name, sizeof p->name, "%s", st[i].szReader);
      p->state = st[i].dwEventState;
      return RSP_OK;
    }
    int64_t left = deadline - now_ms();
    if (left <= 0) return report_timeout(p, list, st, n);
    if ((rc = wait_change(p, st, n, left < PCSC_SLICE_MS ? left : PCSC_SLICE_MS)) != RSP_OK)
      return rc;
  }
}

/* SCardConnect, shared. pcscd negotiates the protocol once per power-on, and a disconnect that
 * leaves the card keeps it: a session asking for T=1 after one that ran T=0 is refused
 * (SCARD_E_PROTO_MISMATCH). When no other client uses the card, it is taken as it is and reset,
 * which negotiates again; when another does, resetting would break its session, so the refusal
 * stands. */
static LONG connect_shared(struct pcsc_ctx *p) {
  const DWORD any = SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1;
  LONG rv = SCardConnect(p->sc, p->name, SCARD_SHARE_SHARED, p->protocols, &p->card, &p->active);
  if (rv != SCARD_E_PROTO_MISMATCH) return rv;
  if (p->state & SCARD_STATE_INUSE) {
    rsp_log(RSP_LOG_WARN, "apdu-pcsc", "'%s': another client uses the card with another protocol",
            p->name);
    return rv;
  }
  rsp_log(RSP_LOG_INFO, "apdu-pcsc", "'%s': the card runs another protocol; resetting it", p->name);
  if ((rv = SCardConnect(p->sc, p->name, SCARD_SHARE_SHARED, any, &p->card, &p->active)) !=
      SCARD_S_SUCCESS)
    return rv;
  rv = SCardReconnect(p->card, SCARD_SHARE_SHARED, p->protocols, SCARD_RESET_CARD, &p->active);
  if (rv != SCARD_S_SUCCESS) SCardDisconnect(p->card, SCARD_LEAVE_CARD);
  return rv;
}

/* Connects to the card in p->name and logs its ATR and the protocol pcscd chose. */
static rsp_err_t open_card(struct pcsc_ctx *p) {
  char name[PCSC_NAME_SIZE], hex[2 * PCSC_ATR_MAX + 1] = "";
  BYTE atr[PCSC_ATR_MAX];
  DWORD name_len = sizeof name, state, proto, atr_len = sizeof atr;
  LONG rv = connect_shared(p);
  if (rv != SCARD_S_SUCCESS) return scard_fail(p, "SCardConnect", rv);
  p->connected = true;
  rv = SCardStatus(p->card, name, &name_len, &state, &proto, atr, &atr_len);
  if (rv != SCARD_S_SUCCESS) return scard_fail(p, "SCardStatus", rv);
  rsp_hex_encode(atr, atr_len, hex, sizeof hex);
  rsp_log(RSP_LOG_INFO, "apdu-pcsc", "card in '%s' (shared): T=%d, ATR %s", p->name,
          p->active == SCARD_PROTOCOL_T1 ? 1 : 0, hex);
  return RSP_OK;
}

static void pcsc_disconnect(void *ctx) {
  struct pcsc_ctx *p = ctx;
  if (p->connected) {
    DWORD how = SCARD_LEAVE_CARD;
    if (p->channels && !p->failed) {
      rsp_log(RSP_LOG_INFO, "apdu-pcsc", "'%s': channels left open (mask %05X): resetting the card",
              p->name, (unsigned)p->channels);
      how = SCARD_RESET_CARD;
    }
    LONG rv = SCardDisconnect(p->card, how);
    if (rv != SCARD_S_SUCCESS && !p->failed) (void)scard_fail(p, "SCardDisconnect", rv);
  }
  if (p->have_sc) SCardReleaseContext(p->sc);
  p->connected = p->have_sc = p->failed = false;
  p->channels = 0;
  p->name[0] = '\0';
}

static rsp_err_t pcsc_connect(void *ctx) {
  struct pcsc_ctx *p = ctx;
  pcsc_disconnect(p); /* what is left of an earlier session that was not closed */
  LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->sc);
  if (rv != SCARD_S_SUCCESS) return scard_fail(p, "SCardEstablishContext", rv);
  p->have_sc = true;
  rsp_err_t rc = wait_card(p);
  if (rc == RSP_OK) rc = open_card(p);
  if (rc != RSP_OK) pcsc_disconnect(p);
  return rc;
}

/* T=0 carries an APDU as a TPDU of five header bytes (ISO/IEC 7816-3 §12.2): a case 4 command
 * (Lc, data, Le) goes as case 3 without its Le; the card then answers 61xx and the ES10 client
 * fetches the data with GET RESPONSE, as it does for its SELECT of the ISD-R. Extended lengths
 * would need ENVELOPE and are refused. Returns the length to send, 0 when it cannot be sent. */
static size_t t0_length(const uint8_t *c, size_t clen) {
  if (clen <= 5) return clen;
  if (c[4] == 0) return 0;
  return clen == 5 + (size_t)c[4] + 1 ? clen - 1 : clen;
}

/* Notes the logical channels this session opens and closes (MANAGE CHANNEL, ISO/IEC 7816-4
 * §11.1.2), so that disconnect() knows whether one was left open. */
static void track_channels(struct pcsc_ctx *p, const uint8_t *c, size_t clen, const uint8_t *r,
                           size_t rlen) {
  if (clen < 4 || (c[0] & 0x80u) || c[1] != INS_MANAGE_CHANNEL) return;
  if (r[rlen - 2] != 0x90 || r[rlen - 1] != 0x00) return;
  unsigned ch = c[3];
  if (c[2] == P1_OPEN_CHANNEL && ch == 0 && rlen == 3) ch = r[0]; /* card-assigned */
  if (ch == 0 || ch > PCSC_MAX_CHANNEL) return;
  if (c[2] == P1_OPEN_CHANNEL) p->channels |= 1u << ch;
  if (c[2] == P1_CLOSE_CHANNEL) p->channels &= ~(1u << ch);
}

static rsp_err_t pcsc_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen) {
  struct pcsc_ctx *p = ctx;
  const SCARD_IO_REQUEST *pci = SCARD_PCI_T1;
  size_t n = clen;
  if (!p->connected) return RSP_E_STATE;
  if (clen < 4 || clen > RSP_APDU_MAX_COMMAND) return RSP_E_INVALID_ARG;
  if (p->failed) {
    rsp_log(RSP_LOG_DEBUG, "apdu-pcsc", "'%s': the session ended with a PC/SC error; connect again",
            p->name);
    return RSP_E_IO;
  }
  if (p->active == SCARD_PROTOCOL_T0) {
    pci = SCARD_PCI_T0;
    if ((n = t0_length(c, clen)) == 0) {
      rsp_log(RSP_LOG_WARN, "apdu-pcsc", "'%s': an extended-length APDU cannot go over T=0",
              p->name);
      return RSP_E_UNSUPPORTED;
    }
  }
  DWORD got = (DWORD)*rlen;
  LONG rv = SCardTransmit(p->card, pci, c, (DWORD)n, NULL, r, &got);
  if (rv != SCARD_S_SUCCESS || got < 2) {
    /* Removed, reset, reader gone, pcscd gone: the card's session state (channels, selection)
     * is lost or unknown, so this session is over; connect() starts a new one. */
    p->failed = true;
    if (rv == SCARD_S_SUCCESS) rv = SCARD_F_COMM_ERROR;
    return scard_fail(p, "SCardTransmit", rv);
  }
  *rlen = got;
  track_channels(p, c, clen, r, got);
  return RSP_OK;
}

static const struct rsp_apdu_ops pcsc_ops = {"pcsc", pcsc_connect, pcsc_transmit, pcsc_disconnect};

rsp_err_t rsp_apdu_pcsc_new(const char *reader, unsigned protocols, int timeout_ms,
                            struct rsp_apdu *a) {
  const unsigned all = RSP_APDU_PCSC_T0 | RSP_APDU_PCSC_T1;
  if (!reader) reader = "";
  if (strlen(reader) >= PCSC_NAME_SIZE || (protocols & ~all)) return RSP_E_INVALID_ARG;
  struct pcsc_ctx *p = rsp_calloc(1, sizeof *p);
  if (!p) return RSP_E_NOMEM;
  snprintf(p->reader, sizeof p->reader, "%s", reader);
  if (protocols == 0) protocols = all;
  p->protocols = (protocols & RSP_APDU_PCSC_T0 ? SCARD_PROTOCOL_T0 : 0) |
                 (protocols & RSP_APDU_PCSC_T1 ? SCARD_PROTOCOL_T1 : 0);
  p->timeout_ms = timeout_ms > 0 ? timeout_ms : PCSC_TIMEOUT_MS;
  a->ops = &pcsc_ops;
  a->ctx = p;
  return RSP_OK;
}

void rsp_apdu_pcsc_free(struct rsp_apdu *a) {
  if (!a || !a->ctx) return;
  pcsc_disconnect(a->ctx);
  rsp_free(a->ctx);
  a->ctx = NULL;
}
