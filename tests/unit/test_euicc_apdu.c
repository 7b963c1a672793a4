/* The card interface of the software eUICC (lib/euicc/card.c), in-process through
 * rsp_euicc_transmit: the ATR, logical channels (first and further interindustry classes),
 * MANAGE CHANNEL, SELECT variants, TERMINAL CAPABILITY, STORE DATA chaining with odd block sizes,
 * GET RESPONSE chunking and wrong Le, every error status word, and what a reset clears. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "euicc_pki.h"
#include "rsp/core/alloc.h"
#include "rsp/euicc/euicc.h"
#include "test.h"

#define SW_OK 0x9000u

static const char *const eids[] = {RSP_TEST_EID_1};
static char pki_dir[4096];

/* The last response: data and status word. */
static uint8_t rdata[RSP_EUICC_MAX_RAPDU];
static size_t rdata_len;

static void remove_pki(void) { rsp_test_rmtree(pki_dir); }

static struct rsp_euicc *open_card(void) {
  struct rsp_euicc *c = NULL;
  if (!pki_dir[0]) {
    snprintf(pki_dir, sizeof(pki_dir), "%s", rsp_test_tmpdir("euicc_apdu"));
    CHECK_OK(rsp_test_euicc_pki(pki_dir, RSP_CURVE_NIST_P256, eids, 1));
    atexit(remove_pki);
  }
  struct rsp_euicc_options o = {.pki_dir = pki_dir, .eid = eids[0]};
  CHECK_OK(rsp_euicc_open(&o, &c));
  if (!c) abort(); /* nothing below can run without a card */
  return c;
}

/* Sends one APDU; returns the status word, the data in rdata. */
static unsigned txb(struct rsp_euicc *c, const uint8_t *apdu, size_t n) {
  uint8_t r[RSP_EUICC_MAX_RAPDU];
  size_t rlen = sizeof(r);
  CHECK_OK(rsp_euicc_transmit(c, apdu, n, r, &rlen));
  if (rlen < 2) return 0;
  rdata_len = rlen - 2;
  memcpy(rdata, r, rdata_len);
  return (unsigned)r[rlen - 2] << 8 | r[rlen - 1];
}

static unsigned tx(struct rsp_euicc *c, const char *hex) {
  size_t n;
  uint8_t *apdu = rsp_test_hex(hex, &n);
  unsigned sw = txb(c, apdu, n);
  rsp_free(apdu);
  return sw;
}

#define ISD_R "A0000005591010FFFFFFFF8900000100"
#define ECASD "A0000005591010FFFFFFFF8900000200"
#define GET_EID "BF3E035C015A"

static uint8_t cla_iso(unsigned ch) { return ch < 4 ? (uint8_t)ch : (uint8_t)(0x40 | (ch - 4)); }

/* SELECT ISD-R without answer data on a channel; checks 9000. */
static void select_isd_r(struct rsp_euicc *c, unsigned ch) {
  char hex[64];
  snprintf(hex, sizeof(hex), "%02XA4040C10" ISD_R, cla_iso(ch));
  CHECK_EQ(tx(c, hex), SW_OK);
}

/* Sends a request as STORE DATA blocks of `block` bytes; returns the last status word. */
static unsigned store_data(struct rsp_euicc *c, unsigned ch, const uint8_t *req, size_t len,
                           size_t block) {
  uint8_t apdu[5 + 255];
  unsigned sw = 0, n_block = 0;
  for (size_t off = 0; off < len;) {
    size_t n = len - off < block ? len - off : block;
    bool last = off + n == len;
    apdu[0] = (uint8_t)(0x80 | cla_iso(ch));
    apdu[1] = 0xE2;
    apdu[2] = last ? 0x91 : 0x11;
    apdu[3] = (uint8_t)n_block++;
    apdu[4] = (uint8_t)n;
    memcpy(apdu + 5, req + off, n);
    off += n;
    sw = txb(c, apdu, 5 + n);
    if (!last && sw != SW_OK) break;
  }
  return sw;
}

/* Collects a pending answer with GET RESPONSE of Le = le (0: as 61xx says); appends to out. */
static unsigned get_all(struct rsp_euicc *c, unsigned ch, unsigned sw, uint8_t le,
                        struct rsp_buf *out) {
  for (int i = 0; i < 1000 && (sw >> 8) == 0x61; i++) {
    uint8_t apdu[5] = {cla_iso(ch), 0xC0, 0x00, 0x00, le ? le : (uint8_t)sw};
    sw = txb(c, apdu, sizeof(apdu));
    CHECK_OK(rsp_buf_append(out, rdata, rdata_len));
  }
  return sw;
}

/* The whole exchange: request in blocks, answer collected; returns the final status word. */
static unsigned es10(struct rsp_euicc *c, unsigned ch, const char *hex, size_t block,
                     struct rsp_buf *out) {
  size_t n;
  uint8_t *req = rsp_test_hex(hex, &n);
  unsigned sw = store_data(c, ch, req, n, block);
  rsp_free(req);
  return get_all(c, ch, sw, 0, out);
}

/* ---- ATR ------------------------------------------------------------------------------------- */

/* ISO/IEC 7816-3 §8.2: walks the interface bytes, checks T=0, T=1 and T=15 and the TCK. */
static void test_atr(void) {
  uint8_t atr[RSP_EUICC_MAX_ATR];
  size_t n = rsp_euicc_atr(atr), i = 2;
  bool t0 = false, t1 = false, t15 = false, first = true;
  uint8_t y = atr[1] & 0xF0, x = 0;
  CHECK(n >= 4 && n <= RSP_EUICC_MAX_ATR);
  CHECK_EQ(atr[0], 0x3B);
  while (i < n) {
    if (y & 0x10) i++; /* TA */
    if (y & 0x20) i++; /* TB */
    if (y & 0x40) i++; /* TC */
    if (!(y & 0x80)) break;
    unsigned t = atr[i] & 0x0F;
    if (first && t != 0) rsp_test_fail(__FILE__, __LINE__, "T=0 is not the first protocol");
    first = false;
    t0 |= t == 0;
    t1 |= t == 1;
    t15 |= t == 15;
    y = atr[i++] & 0xF0;
  }
  CHECK(t0 && t1 && t15);
  CHECK_EQ(i + (atr[1] & 0x0F) + 1, n); /* historical bytes, then TCK */
  for (size_t k = 1; k < n; k++) x ^= atr[k];
  CHECK_EQ(x, 0);
}

/* ---- SELECT ---------------------------------------------------------------------------------- */

static void test_select_variants(void) {
  struct rsp_euicc *c = open_card();
  struct rsp_buf fci;
  rsp_buf_init(&fci, 4096);
  /* P2=00 without Le: 61xx, then the FCI with the DF name. */
  unsigned sw = tx(c, "00A4040010" ISD_R);
  CHECK_EQ(sw, 0x611A);
  CHECK_EQ(get_all(c, 0, sw, 0, &fci), SW_OK);
  CHECK_EQ(fci.len, 0x1A);
  CHECK_EQ(fci.data[0], 0x6F);
  CHECK_EQ(fci.data[2], 0x84);
  size_t n;
  uint8_t *aid = rsp_test_hex(ISD_R, &n);
  CHECK_MEM(fci.data + 4, aid, n);
  rsp_free(aid);
  /* With Le (case 4): same answer. P2=04: the FCP template. */
  CHECK_EQ(tx(c, "00A4040010" ISD_R "00"), 0x611A);
  CHECK_EQ(tx(c, "00C000001A"), SW_OK);
  CHECK_EQ(rdata[0], 0x6F);
  CHECK_EQ(tx(c, "00A4040410" ISD_R "00"), 0x611A);
  CHECK_EQ(tx(c, "00C0000000"), SW_OK); /* Le 00: up to 256 */
  CHECK_EQ(rdata_len, 0x1A);
  CHECK_EQ(rdata[0], 0x62);
  /* P2=0C: bare 9000, with or without Le. */
  CHECK_EQ(tx(c, "00A4040C10" ISD_R), SW_OK);
  CHECK_EQ(rdata_len, 0);
  CHECK_EQ(tx(c, "00A4040C10" ISD_R "00"), SW_OK);
  struct rsp_buf out;
  rsp_buf_init(&out, 4096);
  CHECK_EQ(es10(c, 0, GET_EID, 255, &out), SW_OK);
  CHECK_EQ(out.len, 0x15);
  rsp_buf_free(&out);
  rsp_buf_free(&fci);
  rsp_euicc_destroy(c);
}

static void test_select_ecasd_and_errors(void) {
  struct rsp_euicc *c = open_card();
  /* The ECASD is selectable, but ES10 runs on the ISD-R only. */
  CHECK_EQ(tx(c, "00A4040010" ECASD), 0x611A);
  CHECK_EQ(tx(c, "00C000001A"), SW_OK);
  CHECK_EQ(rdata[3], 0x10);
  CHECK_EQ(tx(c, "80E2910006" GET_EID), 0x6985);
  /* Unknown AID: 6A82, and the selection stays (ECASD here, so still 6985). */
  CHECK_EQ(tx(c, "00A4040010A0000005591010FFFFFFFF8900000300"), 0x6A82);
  CHECK_EQ(tx(c, "00A404000EA0000005591010FFFFFFFF89000001"), 0x6A82); /* a prefix */
  CHECK_EQ(tx(c, "80E2910006" GET_EID), 0x6985);
  select_isd_r(c, 0);
  CHECK_EQ(tx(c, "00A4040010A0000005591010FFFFFFFF8900000300"), 0x6A82);
  CHECK_EQ(tx(c, "80E2910006" GET_EID), 0x6115); /* ISD-R still selected */
  /* Wrong P1/P2, lengths, class. */
  CHECK_EQ(tx(c, "00A4000010" ISD_R), 0x6A86);      /* P1: not by DF name */
  CHECK_EQ(tx(c, "00A4040210" ISD_R), 0x6A86);      /* P2: next occurrence */
  CHECK_EQ(tx(c, "00A4040008" ISD_R), 0x6700);      /* Lc shorter than the data */
  CHECK_EQ(tx(c, "00A4040004A0000005"), 0x6700);    /* AID shorter than a RID */
  CHECK_EQ(tx(c, "00A40400"), 0x6700);              /* no AID */
  CHECK_EQ(tx(c, "00A4040011" ISD_R "FF"), 0x6700); /* 17 bytes */
  CHECK_EQ(tx(c, "80A4040010" ISD_R), 0x6E00);      /* proprietary class */
  rsp_euicc_destroy(c);
}

/* ---- MANAGE CHANNEL -------------------------------------------------------------------------- */

static void test_manage_channel(void) {
  struct rsp_euicc *c = open_card();
  /* The card assigns 1, 2, 3, then the further interindustry channels 4..19, then refuses. */
  for (unsigned want = 1; want < 20; want++) {
    CHECK_EQ(tx(c, "0070000001"), SW_OK);
    CHECK_EQ(rdata_len, 1);
    CHECK_EQ(rdata[0], want);
  }
  CHECK_EQ(tx(c, "0070000001"), 0x6A81);
  /* Close and re-open explicitly: bare 9000. */
  CHECK_EQ(tx(c, "0070800700"), SW_OK);
  CHECK_EQ(tx(c, "0070800700"), 0x6A86); /* not open any more */
  CHECK_EQ(tx(c, "4370000001"), 0x6881); /* channel 7 (43) is closed */
  CHECK_EQ(tx(c, "0070000700"), SW_OK);
  CHECK_EQ(rdata_len, 0);
  CHECK_EQ(tx(c, "00700007"), SW_OK);    /* case 1 form; re-opening an open channel resets it */
  CHECK_EQ(tx(c, "0070800000"), 0x6A86); /* the basic channel cannot be closed */
  CHECK_EQ(tx(c, "0070801400"), 0x6A86); /* channel 20 does not exist */
  CHECK_EQ(tx(c, "0070001400"), 0x6A86);
  CHECK_EQ(tx(c, "0070400100"), 0x6A86); /* P1 neither open nor close */
  CHECK_EQ(tx(c, "00700000"), 0x6700);   /* card-assigned open needs Le */
  CHECK_EQ(tx(c, "007000000101"), 0x6700);
  CHECK_EQ(tx(c, "8070000001"), 0x6E00);
  /* P2 = 00 with P1 = 80 closes the channel of the class byte. */
  CHECK_EQ(tx(c, "4F70800000"), SW_OK); /* channel 19 */
  CHECK_EQ(tx(c, "4FA4040C10" ISD_R), 0x6881);
  rsp_euicc_destroy(c);
}

/* Each channel has its own selection; a channel opened from a logical channel inherits its
 * selection, one opened from the basic channel starts with nothing selected. */
static void test_channel_selection(void) {
  struct rsp_euicc *c = open_card();
  struct rsp_buf out;
  rsp_buf_init(&out, 4096);
  CHECK_EQ(tx(c, "0070000001"), SW_OK); /* 1 */
  select_isd_r(c, 1);
  CHECK_EQ(tx(c, "0070000001"), SW_OK); /* 2, from the basic channel */
  CHECK_EQ(tx(c, "82E2910006" GET_EID), 0x6985);
  CHECK_EQ(tx(c, "80E2910006" GET_EID), 0x6985); /* nothing on the basic channel either */
  CHECK_EQ(tx(c, "0170000001"), SW_OK);          /* 3, from channel 1 */
  CHECK_EQ(rdata[0], 3);
  CHECK_EQ(es10(c, 3, GET_EID, 255, &out), SW_OK);
  CHECK_EQ(out.data[0], 0xBF);
  /* Further interindustry channel 6: CLA 42 / C2. */
  CHECK_EQ(tx(c, "0070000600"), SW_OK);
  select_isd_r(c, 6);
  rsp_buf_reset(&out);
  CHECK_EQ(es10(c, 6, GET_EID, 3, &out), SW_OK);
  CHECK_EQ(out.len, 0x15);
  rsp_buf_free(&out);
  rsp_euicc_destroy(c);
}

/* ---- STORE DATA ------------------------------------------------------------------------------ */

/* Block sizes 1..255 (odd ones included) give the same answer as the in-process ES10 entry. */
static void test_store_data_blocks(void) {
  static const size_t sizes[] = {1, 2, 3, 5, 7, 13, 64, 120, 254, 255};
  static const char *const reqs[] = {GET_EID, "BF2200", "BF2000", "BF2D00", "BF3C00"};
  struct rsp_euicc *c = open_card();
  struct rsp_buf want, got;
  rsp_buf_init(&want, 1 << 16);
  rsp_buf_init(&got, 1 << 16);
  CHECK_EQ(tx(c, "0070000001"), SW_OK);
  select_isd_r(c, 1);
  for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
    size_t n;
    uint8_t *req = rsp_test_hex(reqs[r], &n);
    rsp_buf_reset(&want);
    CHECK_OK(rsp_euicc_es10(c, req, n, &want));
    CHECK(want.len > 2 && memcmp(want.data, req, 2) == 0); /* one TLV with the request's tag */
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
      rsp_buf_reset(&got);
      CHECK_EQ(es10(c, 1, reqs[r], sizes[s], &got), SW_OK);
      CHECK_EQ(got.len, want.len);
      if (got.len == want.len) CHECK_MEM(got.data, want.data, got.len);
    }
    rsp_free(req);
  }
  rsp_buf_free(&want);
  rsp_buf_free(&got);
  rsp_euicc_destroy(c);
}

/* Writes a DER length (minimal form); returns the bytes written. */
static size_t put_len(uint8_t *p, size_t len) {
  if (len < 0x80) {
    p[0] = (uint8_t)len;
    return 1;
  }
  if (len < 0x100) {
    p[0] = 0x81;
    p[1] = (uint8_t)len;
    return 2;
  }
  p[0] = 0x82;
  p[1] = (uint8_t)(len >> 8);
  p[2] = (uint8_t)len;
  return 3;
}

/* Builds a GetProfilesInfo request with an n-byte tagList, to get requests of any length. */
static uint8_t *long_request(size_t tags, size_t *len) {
  uint8_t *p = rsp_malloc(tags + 16), hdr[4];
  size_t i = 0, inner;
  if (!p) abort();
  inner = 1 + put_len(hdr, tags) + tags;
  p[i++] = 0xBF;
  p[i++] = 0x2D;
  i += put_len(p + i, inner);
  p[i++] = 0x5C;
  i += put_len(p + i, tags);
  memset(p + i, 0x5A, tags);
  *len = i + tags;
  return p;
}

static void test_store_data_long(void) {
  static const size_t sizes[] = {255, 120, 97, 6};
  struct rsp_euicc *c = open_card();
  struct rsp_buf want, got;
  size_t len;
  uint8_t *req = long_request(1500, &len);
  rsp_buf_init(&want, 1 << 16);
  rsp_buf_init(&got, 1 << 16);
  select_isd_r(c, 0);
  CHECK_OK(rsp_euicc_es10(c, req, len, &want));
  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    unsigned sw = store_data(c, 0, req, len, sizes[s]);
    rsp_buf_reset(&got);
    CHECK_EQ(get_all(c, 0, sw, 0, &got), SW_OK);
    CHECK_EQ(got.len, want.len);
    if (got.len == want.len) CHECK_MEM(got.data, want.data, got.len);
  }
  rsp_free(req);
  rsp_buf_free(&want);
  rsp_buf_free(&got);
  rsp_euicc_destroy(c);
}

/* 256 blocks, numbered 00..FF, is the most one request can take (SGP.22 §5.7.2). */
static void test_store_data_256_blocks(void) {
  struct rsp_euicc *c = open_card();
  struct rsp_buf want, got;
  size_t len;
  uint8_t *req = long_request(249, &len);
  CHECK_EQ(len, 256);
  rsp_buf_init(&want, 1 << 16);
  rsp_buf_init(&got, 1 << 16);
  select_isd_r(c, 0);
  CHECK_OK(rsp_euicc_es10(c, req, len, &want));
  unsigned sw = store_data(c, 0, req, len, 1);
  CHECK_EQ(get_all(c, 0, sw, 0, &got), SW_OK);
  CHECK_EQ(got.len, want.len);
  if (got.len == want.len) CHECK_MEM(got.data, want.data, got.len);
  rsp_free(req);
  rsp_buf_free(&want);
  rsp_buf_free(&got);
  rsp_euicc_destroy(c);
}

static void test_store_data_sequence(void) {
  struct rsp_euicc *c = open_card();
  CHECK_EQ(tx(c, "80E2910006" GET_EID), 0x6985); /* nothing selected */
  select_isd_r(c, 0);
  /* Block 1 without block 0. */
  CHECK_EQ(tx(c, "80E2110103BF3E03"), 0x6A86);
  /* Block 0, then block 2: refused, and the sequence is gone (block 1 is refused too). */
  CHECK_EQ(tx(c, "80E2110003BF3E03"), SW_OK);
  CHECK_EQ(rdata_len, 0);
  CHECK_EQ(tx(c, "80E29102035C015A"), 0x6A86);
  CHECK_EQ(tx(c, "80E29101035C015A"), 0x6A86);
  /* A block without data is a length error and leaves the sequence alone; a repeated block
   * number is out of sequence. */
  CHECK_EQ(tx(c, "80E2110003BF3E03"), SW_OK);
  CHECK_EQ(tx(c, "80E2110100"), 0x6700);
  CHECK_EQ(tx(c, "80E21101025C01"), SW_OK);
  CHECK_EQ(tx(c, "80E21101015A"), 0x6A86);
  /* A new block 0 discards an unfinished sequence. */
  CHECK_EQ(tx(c, "80E2110003BF2D00"), SW_OK);
  CHECK_EQ(tx(c, "80E2910006" GET_EID), 0x6115);
  CHECK_EQ(tx(c, "00C0000015"), SW_OK);
  CHECK_EQ(rdata[0], 0xBF);
  CHECK_EQ(rdata[1], 0x3E);
  /* P1 other than 11 / 91, the wrong class, inconsistent and extended lengths. */
  CHECK_EQ(tx(c, "80E2010006" GET_EID), 0x6A86);
  CHECK_EQ(tx(c, "80E2810006" GET_EID), 0x6A86);
  CHECK_EQ(tx(c, "80E2900006" GET_EID), 0x6A86);
  CHECK_EQ(tx(c, "00E2910006" GET_EID), 0x6E00);
  CHECK_EQ(tx(c, "80E2910007" GET_EID), 0x6700);
  CHECK_EQ(tx(c, "80E2910004" GET_EID), 0x6700);
  CHECK_EQ(tx(c, "80E2910005" GET_EID), 0x6A80); /* case 4: Le 5A, the request cut short */
  CHECK_EQ(tx(c, "80E291000000000006" GET_EID), 0x6700);
  /* With Le (case 4) it is the same exchange. */
  CHECK_EQ(tx(c, "80E2910006" GET_EID "00"), 0x6115);
  rsp_euicc_destroy(c);
}

/* What the ES10 layer refuses: malformed DER 6A80, a tag that names no function 6A88. */
static void test_store_data_refusals(void) {
  static const struct {
    const char *req;
    unsigned sw;
  } cases[] = {
      {"BF3E03AABB", 0x6A80},     /* content runs past the end */
      {"BF3E035C015A00", 0x6A80}, /* trailing byte */
      {"BF3E80", 0x6A80},         /* indefinite length */
      {"BF3E81035C015A", 0x6A80}, /* non-minimal length */
      {"BF7E00", 0x6A88},         /* no such function */
      {"BF3E035C025A", 0x6A80},   /* the inner tagList runs past the end */
  };
  struct rsp_euicc *c = open_card();
  select_isd_r(c, 0);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct rsp_buf out;
    rsp_buf_init(&out, 4096);
    unsigned sw = es10(c, 0, cases[i].req, 2, &out);
    if (sw != cases[i].sw)
      rsp_test_fail(__FILE__, __LINE__, "%s: SW %04X, expected %04X", cases[i].req, sw,
                    cases[i].sw);
    CHECK_EQ(out.len, 0);
    CHECK_EQ(tx(c, "00C0000000"), 0x6985); /* nothing to collect after a refusal */
    rsp_buf_free(&out);
  }
  /* The card still works. */
  CHECK_EQ(tx(c, "80E2910006" GET_EID), 0x6115);
  rsp_euicc_destroy(c);
}

/* ---- GET RESPONSE ---------------------------------------------------------------------------- */

static void test_get_response(void) {
  struct rsp_euicc *c = open_card();
  struct rsp_buf want, got;
  size_t n;
  uint8_t *req = rsp_test_hex("BF2200", &n);
  rsp_buf_init(&want, 1 << 16);
  rsp_buf_init(&got, 1 << 16);
  select_isd_r(c, 0);
  CHECK_EQ(tx(c, "00C0000000"), 0x6985); /* nothing pending */
  CHECK_OK(rsp_euicc_es10(c, req, n, &want));
  CHECK(want.len > 16 && want.len < 256);
  unsigned sw = store_data(c, 0, req, n, 255);
  CHECK_EQ(sw, 0x6100 | want.len);
  /* In pieces of 16, alternating the classes 00 and 80; each 61xx tells what is left. */
  for (int i = 0; (sw >> 8) == 0x61 && (sw & 0xFF) >= 16; i++) {
    sw = tx(c, i % 2 ? "80C0000010" : "00C0000010");
    CHECK_EQ(rdata_len, 16);
    CHECK_OK(rsp_buf_append(&got, rdata, rdata_len));
    CHECK_EQ(sw, want.len - got.len ? 0x6100 | (want.len - got.len) : SW_OK);
  }
  size_t left = want.len - got.len;
  if (left) {
    /* Le above what is left (and not 00): 6Cxx with the exact length, the data stays. */
    CHECK_EQ(tx(c, "00C0000010"), 0x6C00 | left);
    CHECK_EQ(rdata_len, 0);
    uint8_t apdu[5] = {0x00, 0xC0, 0x00, 0x00, (uint8_t)left};
    CHECK_EQ(txb(c, apdu, 5), SW_OK);
    CHECK_OK(rsp_buf_append(&got, rdata, rdata_len));
  }
  CHECK_EQ(got.len, want.len);
  if (got.len == want.len) CHECK_MEM(got.data, want.data, got.len);
  CHECK_EQ(tx(c, "00C0000000"), 0x6985); /* all read */
  /* Le = 00 takes everything up to 256. */
  CHECK_EQ(store_data(c, 0, req, n, 255), 0x6100 | want.len);
  CHECK_EQ(tx(c, "00C0000000"), SW_OK);
  CHECK_EQ(rdata_len, want.len);
  /* Header errors leave the answer pending. */
  CHECK_EQ(store_data(c, 0, req, n, 255), 0x6100 | want.len);
  CHECK_EQ(tx(c, "00C0010000"), 0x6A86);
  CHECK_EQ(tx(c, "00C0000100"), 0x6A86);
  CHECK_EQ(tx(c, "00C00000"), 0x6700);     /* no Le */
  CHECK_EQ(tx(c, "00C000000100"), 0x6700); /* data */
  CHECK_EQ(tx(c, "A0C0000000"), 0x6E00);
  CHECK_EQ(tx(c, "01C0000000"), 0x6881); /* channel 1 is not open */
  CHECK_EQ(tx(c, "00C0000000"), SW_OK);
  CHECK_EQ(rdata_len, want.len);
  /* Any other command on the channel drops the pending answer. */
  CHECK_EQ(store_data(c, 0, req, n, 255), 0x6100 | want.len);
  CHECK_EQ(tx(c, "80AA000005A903830107"), SW_OK);
  CHECK_EQ(tx(c, "00C0000000"), 0x6985);
  rsp_free(req);
  rsp_buf_free(&want);
  rsp_buf_free(&got);
  rsp_euicc_destroy(c);
}

/* An answer of 256 bytes or more: 6100, then Le = 00 pieces of 256. */
static void test_get_response_long(void) {
  struct rsp_euicc *c = open_card();
  struct rsp_buf want, got;
  size_t n;
  uint8_t *req = rsp_test_hex("BF5600", &n); /* GetCerts: CERT.EUM and CERT.EUICC */
  rsp_buf_init(&want, 1 << 16);
  rsp_buf_init(&got, 1 << 16);
  select_isd_r(c, 0);
  CHECK_OK(rsp_euicc_es10(c, req, n, &want));
  CHECK(want.len > 512);
  unsigned sw = store_data(c, 0, req, n, 255);
  CHECK_EQ(sw, 0x6100);
  while ((sw >> 8) == 0x61) {
    size_t before = got.len;
    sw = tx(c, "00C0000000");
    CHECK_OK(rsp_buf_append(&got, rdata, rdata_len));
    size_t left = want.len - got.len;
    CHECK_EQ(rdata_len, left ? 256 : want.len - before);
    CHECK_EQ(sw, left == 0 ? SW_OK : left >= 256 ? 0x6100 : 0x6100 | left);
  }
  CHECK_EQ(got.len, want.len);
  if (got.len == want.len) CHECK_MEM(got.data, want.data, got.len);
  rsp_free(req);
  rsp_buf_free(&want);
  rsp_buf_free(&got);
  rsp_euicc_destroy(c);
}

/* Each channel keeps its own pending answer and its own STORE DATA sequence. */
static void test_channels_independent(void) {
  struct rsp_euicc *c = open_card();
  select_isd_r(c, 0);
  CHECK_EQ(tx(c, "0070000001"), SW_OK);
  select_isd_r(c, 1);
  CHECK_EQ(tx(c, "80E2110003BF3E03"), SW_OK); /* channel 0: block 0 */
  unsigned sw1 = tx(c, "81E2910003BF2200");   /* channel 1: a whole request */
  CHECK_EQ(sw1 >> 8, 0x61);
  CHECK_EQ(tx(c, "80E29101035C015A"), 0x6115); /* channel 0 goes on */
  CHECK_EQ(tx(c, "00C0000015"), SW_OK);
  CHECK_EQ(rdata[1], 0x3E);
  CHECK_EQ(tx(c, "81C0000010"), sw1 - 16); /* channel 1's answer is still there */
  CHECK_EQ(rdata[1], 0x22);
  rsp_euicc_destroy(c);
}

/* ---- other commands -------------------------------------------------------------------------- */

static void test_terminal_capability(void) {
  struct rsp_euicc *c = open_card();
  CHECK_EQ(tx(c, "80AA000005A903830107"), SW_OK); /* works before any SELECT */
  CHECK_EQ(tx(c, "0070000001"), SW_OK);
  CHECK_EQ(tx(c, "81AA000005A903830107"), SW_OK);
  CHECK_EQ(tx(c, "80AA010005A903830107"), 0x6A86);
  CHECK_EQ(tx(c, "80AA000000"), 0x6700);
  CHECK_EQ(tx(c, "80AA0000"), 0x6700);
  CHECK_EQ(tx(c, "00AA000005A903830107"), 0x6E00);
  rsp_euicc_destroy(c);
}

static void test_class_and_instruction(void) {
  struct rsp_euicc *c = open_card();
  CHECK_EQ(tx(c, "FFA4040C10" ISD_R), 0x6E00); /* PPS */
  CHECK_EQ(tx(c, "20A4040C10" ISD_R), 0x6E00); /* RFU */
  CHECK_EQ(tx(c, "A0A4040C10" ISD_R), 0x6E00); /* GSM class */
  CHECK_EQ(tx(c, "10A4040C10" ISD_R), 0x6884); /* command chaining */
  CHECK_EQ(tx(c, "50A4040C10" ISD_R), 0x6884);
  CHECK_EQ(tx(c, "04A4040C10" ISD_R), 0x6882); /* secure messaging */
  CHECK_EQ(tx(c, "0CA4040C10" ISD_R), 0x6882);
  CHECK_EQ(tx(c, "60A4040C10" ISD_R), 0x6882);
  CHECK_EQ(tx(c, "00B0000000"), 0x6D00); /* READ BINARY */
  CHECK_EQ(tx(c, "80CA9F7F00"), 0x6D00); /* GET DATA */
  CHECK_EQ(tx(c, "80F2000C00"), 0x6D00); /* STATUS */
  CHECK_EQ(tx(c, "00"), 0x6700);
  CHECK_EQ(tx(c, "00A404"), 0x6700);
  CHECK_EQ(tx(c, "02A4040C10" ISD_R), 0x6881); /* channel 2 not open */
  CHECK_EQ(tx(c, "4AA4040C10" ISD_R), 0x6881); /* channel 14 not open */
  /* The class is checked before the instruction, the instruction before the length. */
  CHECK_EQ(tx(c, "FFB0"), 0x6700);
  CHECK_EQ(tx(c, "FFB00000"), 0x6E00);
  CHECK_EQ(tx(c, "00B0000005AA"), 0x6D00);
  /* Arguments of rsp_euicc_transmit itself. */
  uint8_t apdu[] = {0x00, 0x70, 0x00, 0x00, 0x01}, r[RSP_EUICC_MAX_RAPDU];
  size_t rlen = RSP_EUICC_MAX_RAPDU - 1;
  CHECK_ERR(rsp_euicc_transmit(c, apdu, sizeof(apdu), r, &rlen), RSP_E_INVALID_ARG);
  rlen = sizeof(r);
  CHECK_ERR(rsp_euicc_transmit(NULL, apdu, sizeof(apdu), r, &rlen), RSP_E_INVALID_ARG);
  CHECK_OK(rsp_euicc_transmit(c, NULL, 0, r, &rlen));
  CHECK_EQ(rlen, 2);
  CHECK_EQ(r[0], 0x67);
  rsp_euicc_destroy(c);
}

/* A reset (power cycle) closes the logical channels, clears selections, STORE DATA sequences and
 * pending answers. */
static void test_reset(void) {
  struct rsp_euicc *c = open_card();
  select_isd_r(c, 0);
  CHECK_EQ(tx(c, "0070000001"), SW_OK);
  CHECK_EQ(tx(c, "0070000500"), SW_OK);
  select_isd_r(c, 1);
  CHECK_EQ(tx(c, "80E2110003BF3E03"), SW_OK);
  CHECK_EQ(tx(c, "81E2910006" GET_EID), 0x6115);
  rsp_euicc_reset(c);
  CHECK_EQ(tx(c, "01C0000015"), 0x6881);
  CHECK_EQ(tx(c, "41A4040C10" ISD_R), 0x6881);
  CHECK_EQ(tx(c, "80E29101035C015A"), 0x6985); /* nothing selected */
  select_isd_r(c, 0);
  CHECK_EQ(tx(c, "80E29101035C015A"), 0x6A86); /* the sequence is gone */
  CHECK_EQ(tx(c, "00C0000000"), 0x6985);
  CHECK_EQ(tx(c, "0070000001"), SW_OK);
  CHECK_EQ(rdata[0], 1); /* channel numbers start over */
  rsp_euicc_destroy(c);
}

/* A failure of the card itself (allocation here) is 6F00 and an error return; the card works
 * again afterwards. */
static void test_card_failure(void) {
  static const uint8_t select_fci[] = {0x00, 0xA4, 0x04, 0x00, 0x10, 0xA0, 0x00,
                                       0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF,
                                       0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};
  static const uint8_t get_eid[] = {0x80, 0xE2, 0x91, 0x00, 0x06, 0xBF,
                                    0x3E, 0x03, 0x5C, 0x01, 0x5A};
  struct rsp_euicc *c = open_card();
  uint8_t r[RSP_EUICC_MAX_RAPDU];
  size_t rlen = sizeof(r);
  rsp_test_alloc_fail_after(0);
  rsp_err_t rc = rsp_euicc_transmit(c, select_fci, sizeof(select_fci), r, &rlen);
  rsp_test_alloc_fail_after(-1);
  CHECK_ERR(rc, RSP_E_NOMEM);
  CHECK_EQ(rlen, 2);
  CHECK_EQ(r[0] << 8 | r[1], 0x6F00);
  select_isd_r(c, 0);
  /* Every allocation of the STORE DATA path in turn. */
  int failures = 0;
  for (long n = 0; n < 200; n++) {
    rlen = sizeof(r);
    rsp_test_alloc_fail_after(n);
    rc = rsp_euicc_transmit(c, get_eid, sizeof(get_eid), r, &rlen);
    rsp_test_alloc_fail_after(-1);
    unsigned sw = (unsigned)r[rlen - 2] << 8 | r[rlen - 1];
    if (rc == RSP_OK) {
      CHECK_EQ(sw, 0x6115);
      break;
    }
    failures++;
    CHECK_EQ(sw, 0x6F00);
    CHECK_EQ(rlen, 2);
  }
  CHECK(failures > 0);
  CHECK_EQ(tx(c, "00C0000015"), SW_OK);
  CHECK_EQ(rdata_len, 0x15);
  rsp_euicc_destroy(c);
}

RSP_TESTS(T(test_atr), T(test_select_variants), T(test_select_ecasd_and_errors),
          T(test_manage_channel), T(test_channel_selection), T(test_store_data_blocks),
          T(test_store_data_long), T(test_store_data_256_blocks), T(test_store_data_sequence),
          T(test_store_data_refusals), T(test_get_response), T(test_get_response_long),
          T(test_channels_independent), T(test_terminal_capability), T(test_class_and_instruction),
          T(test_reset), T(test_card_failure))
