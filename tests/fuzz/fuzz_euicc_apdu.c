/* libFuzzer target for the card interface of the software eUICC (lib/euicc/card.c and, through
 * STORE DATA, the ES10 dispatcher): the input is a sequence of command APDUs, each preceded by a
 * length byte: 0 power cycles the card, FF takes one more byte to add (APDUs up to 510 bytes, so
 * full 255-byte STORE DATA blocks fit), a last record cut short is sent as it is. Every run
 * starts from the same card state (one in-memory card, put back to its state at opening with a
 * power cycle), so a run never depends on an earlier one.
 *
 * Checked for every APDU: the answer fits RSP_EUICC_MAX_RAPDU and ends with a status word; a card
 * failure (non-OK return) is exactly 6F00; only 9000 and 61xx answers carry data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/euicc/euicc_internal.h"
#include "../support/euicc_pki.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/euicc/euicc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char pki_dir[4096];

static void remove_pki(void) { rsp_test_rmtree(pki_dir); }

/* One PKI per process, in a fresh temporary directory. */
static void make_pki(void) {
  static const char *const eids[] = {RSP_TEST_EID_1};
  const char *base = getenv("TMPDIR");
  if (pki_dir[0]) return;
  snprintf(pki_dir, sizeof(pki_dir), "%s/rsp-fuzz-euicc-XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(pki_dir) || rsp_test_euicc_pki(pki_dir, RSP_CURVE_NIST_P256, eids, 1) != RSP_OK) {
    fprintf(stderr, "fuzz_euicc_apdu: cannot make a PKI in %s\n", pki_dir);
    abort();
  }
  atexit(remove_pki);
  rsp_log_set_level(RSP_LOG_ERROR); /* refused requests are logged at info: too much noise */
}

static void check_answer(rsp_err_t rc, const uint8_t *r, size_t rlen) {
  if (rlen < 2 || rlen > RSP_EUICC_MAX_RAPDU) abort();
  unsigned sw = (unsigned)r[rlen - 2] << 8 | r[rlen - 1];
  if (rc != RSP_OK && (sw != 0x6F00 || rlen != 2)) abort();
  if (rlen > 2 && sw != 0x9000 && (sw >> 8) != 0x61) abort();
}

static struct rsp_euicc *card;
static char *initial;

static void close_card(void) {
  rsp_euicc_destroy(card);
  rsp_free(initial);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t atr[RSP_EUICC_MAX_ATR];
  if (!card) {
    make_pki();
    struct rsp_euicc_options o = {.pki_dir = pki_dir, .eid = RSP_TEST_EID_1};
    if (rsp_euicc_open(&o, &card) != RSP_OK || !(initial = rsp_strdup(card->committed))) abort();
    atexit(close_card);
  }
  struct rsp_euicc *c = card;
  if (rsp__euicc_restore(c, initial) != RSP_OK) abort();
  if (rsp_euicc_atr(atr) > RSP_EUICC_MAX_ATR) abort();
  for (size_t off = 0; off < size;) {
    size_t n = data[off++];
    if (n == 0) {
      rsp_euicc_reset(c);
      continue;
    }
    if (n == 0xFF && off < size) n += data[off++];
    if (n > size - off) n = size - off;
    uint8_t r[RSP_EUICC_MAX_RAPDU];
    size_t rlen = sizeof(r);
    rsp_err_t rc = rsp_euicc_transmit(c, data + off, n, r, &rlen);
    check_answer(rc, r, rlen);
    off += n;
  }
  return 0;
}
