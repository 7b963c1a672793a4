/* Unit tests of the BPP secure channel (lib/crypto/bsp.c): key derivation, segment round trips
 * at every size up to the SGP.22 §2.5.3 limit, tamper, tag, order and replay rejection with the
 * state left unchanged, the block counter across MAC-only segments, ReplaceSessionKeys in both
 * counter modes, framing and padding errors. Segments are also rebuilt here from the AES
 * primitives, so the layout is checked by a second construction and not only by a round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/crypto/bsp.h"
#include "rsp/crypto/crypto.h"
#include "rsp/der/der.h"
#include "test.h"

#define T86 RSP_BSP_TAG_SEQUENCE_OF_86
#define T87 RSP_BSP_TAG_SEQUENCE_OF_87
#define T88 RSP_BSP_TAG_SEQUENCE_OF_88

/* Tags of ReplaceSessionKeysRequest and its fields (rsp.asn, automatic tagging). */
#define TAG_REPLACE_SESSION_KEYS_REQUEST 0xBF26u
#define TAG_INITIAL_MAC_CHAINING_VALUE 0x80u
#define TAG_PPK_ENC 0x81u
#define TAG_PPK_CMAC 0x82u

static const char eid_hex[] = "89049032123451234512345678901235";

/* ---- helpers --------------------------------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

static void fixed_keys(struct rsp_bsp_keys *k, unsigned seed) {
  fill(k->mcv, sizeof(k->mcv), seed);
  fill(k->enc, sizeof(k->enc), seed + 1);
  fill(k->mac, sizeof(k->mac), seed + 2);
}

static bool same_state(const struct rsp_bsp *a, const struct rsp_bsp *b) {
  return memcmp(a->enc, b->enc, sizeof(a->enc)) == 0 &&
         memcmp(a->mac, b->mac, sizeof(a->mac)) == 0 &&
         memcmp(a->mcv, b->mcv, sizeof(a->mcv)) == 0 && a->counter == b->counter;
}

/* A sender and a receiver on the same keys. */
static void pair(struct rsp_bsp *tx, struct rsp_bsp *rx, unsigned seed) {
  struct rsp_bsp_keys k;
  fixed_keys(&k, seed);
  rsp_bsp_init(tx, &k);
  rsp_bsp_init(rx, &k);
}

/* Builds a segment from the primitives, for the channel state `st` (not advanced): `data` is the
 * payload as it goes on the wire before encryption (already padded for 86/87, used as is, so
 * malformed padding can be forged too). Returns the segment length. */
static size_t build_segment(const struct rsp_bsp *st, uint32_t tag, const uint8_t *data,
                            size_t data_len, uint8_t *out) {
  uint8_t ctr[16] = {0}, icv[16], cmac[16];
  size_t head;
  out[0] = (uint8_t)tag;
  head = 1 + rsp_der_encode_len(data_len + 8, out + 1);
  memcpy(out + head, data, data_len);
  /* Data that is no whole number of blocks only serves the framing tests: sent as is. */
  if (tag != T88 && data_len && data_len % 16 == 0) {
    for (int i = 0; i < 8; i++) ctr[15 - i] = (uint8_t)(st->counter >> (8 * i));
    CHECK_OK(rsp_aes128_ecb_block(st->enc, ctr, icv));
    CHECK_OK(rsp_aes128_cbc_encrypt(st->enc, icv, out + head, data_len, out + head));
  }
  struct rsp_slice parts[2] = {{st->mcv, 16}, {out, head + data_len}};
  CHECK_OK(rsp_aes128_cmac_v(st->mac, parts, 2, cmac));
  memcpy(out + head + data_len, cmac, 8);
  return head + data_len + 8;
}

/* Pads plain the BSP way into out; returns the padded length. */
static size_t pad(const uint8_t *plain, size_t n, uint8_t *out) {
  size_t padded = (n / 16 + 1) * 16;
  memcpy(out, plain, n);
  out[n] = 0x80;
  memset(out + n + 1, 0, padded - n - 1);
  return padded;
}

/* Unwraps one whole buffer; checks the cursor ends exactly at its end on success. */
static rsp_err_t unwrap_all(struct rsp_bsp *rx, uint32_t tag, const uint8_t *seg, size_t len,
                            uint8_t *out, size_t out_size, size_t *out_len) {
  const uint8_t *p = seg;
  rsp_err_t rc = rsp_bsp_unwrap(rx, tag, &p, seg + len, out, out_size, out_len);
  CHECK(rc == RSP_OK ? p == seg + len : p == seg);
  return rc;
}

/* ---- key derivation -------------------------------------------------------------------------- */

/* Known answer computed with `openssl kdf -keylen 48 -kdfopt digest:SHA256 -kdfopt
 * hexsecret:000102..1f -kdfopt hexinfo:8810 08 0102030405060708 10 <EID> X963KDF`. */
static void test_derive_keys_known_answer(void) {
  uint8_t shs[32], host_id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  size_t el, kl;
  uint8_t *eid = rsp_test_hex(eid_hex, &el);
  uint8_t *want = rsp_test_hex("8B6C2BB861DB072A29F7D04210BEDD31 08C39C34A95065D0054F97E415EB6BBA"
                               "AB97DF85EC5FC35BFFADDA887E4EA348",
                               &kl);
  struct rsp_bsp_keys k;
  for (int i = 0; i < 32; i++) shs[i] = (uint8_t)i;
  CHECK_OK(rsp_bsp_derive_keys(shs, 0x88, 0x10, host_id, sizeof(host_id), eid, &k));
  CHECK_MEM(k.mcv, want, 16);
  CHECK_MEM(k.enc, want + 16, 16);
  CHECK_MEM(k.mac, want + 32, 16);
  rsp_free(eid);
  rsp_free(want);
}

/* The SharedInfo layout for hostId lengths 1..16 against the KDF called by hand. */
static void test_derive_keys_shared_info(void) {
  uint8_t shs[32], host_id[16], si[64], kd[48];
  size_t el;
  uint8_t *eid = rsp_test_hex(eid_hex, &el);
  struct rsp_bsp_keys k;
  CHECK_OK(rsp_random(shs, sizeof(shs)));
  fill(host_id, sizeof(host_id), 9);
  for (size_t hl = 1; hl <= 16; hl++) {
    size_t n = 0;
    si[n++] = 0x88;
    si[n++] = 0x10;
    si[n++] = (uint8_t)hl;
    memcpy(si + n, host_id, hl);
    n += hl;
    si[n++] = 0x10;
    memcpy(si + n, eid, 16);
    n += 16;
    CHECK_OK(rsp_kdf_x963_sha256(shs, sizeof(shs), si, n, kd, sizeof(kd)));
    CHECK_OK(rsp_bsp_derive_keys(shs, 0x88, 0x10, host_id, hl, eid, &k));
    CHECK_MEM(k.mcv, kd, 16);
    CHECK_MEM(k.enc, kd + 16, 16);
    CHECK_MEM(k.mac, kd + 32, 16);
  }
  CHECK_ERR(rsp_bsp_derive_keys(shs, 0x88, 0x10, host_id, 0, eid, &k), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_derive_keys(shs, 0x88, 0x10, host_id, 17, eid, &k), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_derive_keys(shs, 0x88, 0x10, NULL, 8, eid, &k), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_derive_keys(NULL, 0x88, 0x10, host_id, 8, eid, &k), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_derive_keys(shs, 0x88, 0x10, host_id, 8, NULL, &k), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_derive_keys(shs, 0x88, 0x10, host_id, 8, eid, NULL), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_derive_keys(shs, 0x80, 0x10, host_id, 8, eid, &k), RSP_E_UNSUPPORTED);
  CHECK_ERR(rsp_bsp_derive_keys(shs, 0x88, 0x20, host_id, 8, eid, &k), RSP_E_UNSUPPORTED);
  rsp_free(eid);
}

/* Both ends of SGP.22 §2.6.4 on both curves: each side's own one-time private key with the
 * other's bare point gives the same keys, equal to the ShS route. */
static void test_derive_keys_ecdh(void) {
  static const enum rsp_curve curves[] = {RSP_CURVE_NIST_P256, RSP_CURVE_BRAINPOOL_P256R1};
  uint8_t host_id[8] = {0x6d, 0x61, 0x68, 0x6c, 0x7a, 0x65, 0x69, 0x74};
  size_t el;
  uint8_t *eid = rsp_test_hex(eid_hex, &el);
  for (size_t c = 0; c < 2; c++) {
    struct rsp_key *e = NULL, *d = NULL, *e_pub = NULL, *d_pub = NULL, *other = NULL;
    uint8_t pt[RSP_EC_POINT_LEN], shs[32];
    struct rsp_bsp_keys ke, kd, ks;
    CHECK_OK(rsp_key_generate(curves[c], &e));
    CHECK_OK(rsp_key_generate(curves[c], &d));
    CHECK_OK(rsp_key_generate(curves[1 - c], &other));
    CHECK_OK(rsp_key_point(e, pt));
    CHECK_OK(rsp_key_from_point(curves[c], pt, sizeof(pt), &e_pub));
    CHECK_OK(rsp_key_point(d, pt));
    CHECK_OK(rsp_key_from_point(curves[c], pt, sizeof(pt), &d_pub));
    CHECK_OK(rsp_bsp_derive_keys_ecdh(e, d_pub, 0x88, 0x10, host_id, 8, eid, &ke));
    CHECK_OK(rsp_bsp_derive_keys_ecdh(d, e_pub, 0x88, 0x10, host_id, 8, eid, &kd));
    CHECK_MEM(&ke, &kd, sizeof(ke));
    CHECK_OK(rsp_ecdh(e, d_pub, shs));
    CHECK_OK(rsp_bsp_derive_keys(shs, 0x88, 0x10, host_id, 8, eid, &ks));
    CHECK_MEM(&ke, &ks, sizeof(ke));
    CHECK_ERR(rsp_bsp_derive_keys_ecdh(NULL, d_pub, 0x88, 0x10, host_id, 8, eid, &ke),
              RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_bsp_derive_keys_ecdh(e, NULL, 0x88, 0x10, host_id, 8, eid, &ke),
              RSP_E_INVALID_ARG);
    CHECK(rsp_bsp_derive_keys_ecdh(e, other, 0x88, 0x10, host_id, 8, eid, &ke) != RSP_OK);
    CHECK(rsp_bsp_derive_keys_ecdh(e_pub, d_pub, 0x88, 0x10, host_id, 8, eid, &ke) != RSP_OK);
    CHECK_ERR(rsp_bsp_derive_keys_ecdh(e, d_pub, 0x88, 0x10, host_id, 0, eid, &ke),
              RSP_E_INVALID_ARG);
    rsp_key_free(e);
    rsp_key_free(d);
    rsp_key_free(e_pub);
    rsp_key_free(d_pub);
    rsp_key_free(other);
  }
  rsp_free(eid);
}

/* ---- sizes ----------------------------------------------------------------------------------- */

static void test_sizes(void) {
  CHECK_EQ(rsp_bsp_max_plain(T86), RSP_BSP_ENC_PLAIN_MAX);
  CHECK_EQ(rsp_bsp_max_plain(T87), RSP_BSP_ENC_PLAIN_MAX);
  CHECK_EQ(rsp_bsp_max_plain(T88), RSP_BSP_MAC_PLAIN_MAX);
  CHECK_EQ(rsp_bsp_max_plain(0x85), 0);
  CHECK_EQ(rsp_bsp_max_plain(0xBF26), 0);
  CHECK_EQ(rsp_bsp_wrapped_len(T86, 0), 1 + 1 + 16 + 8);
  CHECK_EQ(rsp_bsp_wrapped_len(T86, 15), 1 + 1 + 16 + 8);
  CHECK_EQ(rsp_bsp_wrapped_len(T86, 16), 1 + 1 + 32 + 8);
  CHECK_EQ(rsp_bsp_wrapped_len(T88, 0), 1 + 1 + 8);
  CHECK_EQ(rsp_bsp_wrapped_len(T88, 119), 1 + 1 + 127);
  CHECK_EQ(rsp_bsp_wrapped_len(T88, 120), 1 + 2 + 128);
  CHECK_EQ(rsp_bsp_wrapped_len(T88, 248), 1 + 3 + 256);
  CHECK_EQ(rsp_bsp_wrapped_len(T86, RSP_BSP_ENC_PLAIN_MAX), RSP_BSP_SEGMENT_MAX);
  CHECK_EQ(rsp_bsp_wrapped_len(T88, RSP_BSP_MAC_PLAIN_MAX), RSP_BSP_SEGMENT_MAX);
  CHECK_EQ(rsp_bsp_wrapped_len(T86, RSP_BSP_ENC_PLAIN_MAX + 1), 0);
  CHECK_EQ(rsp_bsp_wrapped_len(T88, RSP_BSP_MAC_PLAIN_MAX + 1), 0);
  CHECK_EQ(rsp_bsp_wrapped_len(0x89, 1), 0);
}

/* ---- round trips ----------------------------------------------------------------------------- */

/* Wraps and unwraps one segment; checks the size, the framing and that both ends agree. */
static void round_trip(struct rsp_bsp *tx, struct rsp_bsp *rx, uint32_t tag, size_t n) {
  static uint8_t plain[1100], seg[RSP_BSP_SEGMENT_MAX], back[RSP_BSP_MAC_PLAIN_MAX];
  size_t seg_len = 0, back_len = 0;
  uint64_t ctr = tx->counter;
  struct rsp_der_tlv tlv;
  fill(plain, n, (unsigned)n);
  CHECK_OK(rsp_bsp_wrap(tx, tag, plain, n, seg, sizeof(seg), &seg_len));
  CHECK_EQ(seg_len, rsp_bsp_wrapped_len(tag, n));
  CHECK(seg_len <= RSP_BSP_SEGMENT_MAX);
  CHECK_OK(rsp_der_parse_one(seg, seg_len, &tlv));
  CHECK_EQ(tlv.tag, tag);
  CHECK_EQ(tx->counter, ctr + 1);
  if (tag == T88) CHECK_MEM(tlv.val, plain, n); /* MAC only: the data is in clear */
  CHECK_OK(unwrap_all(rx, tag, seg, seg_len, back, sizeof(back), &back_len));
  CHECK_EQ(back_len, n);
  CHECK_MEM(back, plain, n);
  CHECK(same_state(tx, rx));
}

static void test_round_trip_sizes(void) {
  static const size_t sizes[] = {0,   1,   2,   15,  16,  17,  31,   32,   33,
                                 100, 127, 128, 129, 239, 240, 241,  255,  256,
                                 257, 500, 991, 992, 993, 999, 1000, 1006, RSP_BSP_ENC_PLAIN_MAX};
  const uint32_t tags[] = {T86, T87, T88};
  for (size_t t = 0; t < 3; t++) {
    struct rsp_bsp tx, rx;
    pair(&tx, &rx, 1);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
      round_trip(&tx, &rx, tags[t], sizes[i]);
    if (tags[t] == T88) round_trip(&tx, &rx, T88, RSP_BSP_MAC_PLAIN_MAX);
    rsp_bsp_free(&tx);
    rsp_bsp_free(&rx);
  }
}

/* Every plaintext length from 0 to the limit, with the tags interleaved as in a real BPP. */
static void test_round_trip_every_length(void) {
  struct rsp_bsp tx, rx;
  pair(&tx, &rx, 2);
  for (size_t n = 0; n <= RSP_BSP_MAC_PLAIN_MAX; n++) {
    uint32_t tag = n % 5 == 0 ? T88 : n % 3 == 0 ? T87 : T86;
    if (tag != T88 && n > RSP_BSP_ENC_PLAIN_MAX) tag = T88;
    round_trip(&tx, &rx, tag, n);
  }
  CHECK_EQ(tx.counter, RSP_BSP_MAC_PLAIN_MAX + 2);
  rsp_bsp_free(&tx);
  rsp_bsp_free(&rx);
}

/* Over the limit: refused, nothing written, state unchanged. */
static void test_too_large(void) {
  static uint8_t plain[1100], seg[1200];
  struct rsp_bsp tx, rx, snap;
  size_t seg_len = 7;
  pair(&tx, &rx, 3);
  snap = tx;
  CHECK_ERR(rsp_bsp_wrap(&tx, T86, plain, RSP_BSP_ENC_PLAIN_MAX + 1, seg, sizeof(seg), &seg_len),
            RSP_E_BUF_CAP);
  CHECK_ERR(rsp_bsp_wrap(&tx, T88, plain, RSP_BSP_MAC_PLAIN_MAX + 1, seg, sizeof(seg), &seg_len),
            RSP_E_BUF_CAP);
  CHECK_ERR(rsp_bsp_wrap(&tx, T88, plain, (size_t)-1, seg, sizeof(seg), &seg_len), RSP_E_BUF_CAP);
  CHECK_EQ(seg_len, 7);
  CHECK(same_state(&tx, &snap));
  /* A receiver refuses a segment over the limit even with a valid C-MAC. */
  size_t n = build_segment(&rx, T88, plain, RSP_BSP_MAC_PLAIN_MAX + 1, seg);
  CHECK_EQ(n, RSP_BSP_SEGMENT_MAX + 1);
  snap = rx;
  CHECK_ERR(unwrap_all(&rx, T88, seg, n, plain, sizeof(plain), &seg_len), RSP_E_BUF_CAP);
  CHECK(same_state(&rx, &snap));
}

/* ---- the wire format, rebuilt from the primitives -------------------------------------------- */

/* 87, 88, 88, 86: the wrapped bytes equal an independent construction, the counter moves for
 * the MAC-only segments too (the 86 uses ICV(4)), and the MCV chains through all of them. */
static void test_layout_and_counter(void) {
  struct rsp_bsp tx, rx, ref;
  const uint32_t tags[] = {T87, T88, T88, T86};
  const size_t lens[] = {5, 20, 0, 40};
  uint8_t plain[64], padded[80], seg[128], want[128], back[64];
  pair(&tx, &rx, 4);
  ref = tx;
  for (size_t i = 0; i < 4; i++) {
    size_t seg_len = 0, want_len, back_len = 0, data_len = lens[i];
    fill(plain, lens[i], (unsigned)i + 40);
    if (tags[i] == T88)
      memcpy(padded, plain, lens[i]);
    else
      data_len = pad(plain, lens[i], padded);
    CHECK_EQ(tx.counter, i + 1);
    want_len = build_segment(&ref, tags[i], padded, data_len, want);
    CHECK_OK(rsp_bsp_wrap(&tx, tags[i], plain, lens[i], seg, sizeof(seg), &seg_len));
    CHECK_EQ(seg_len, want_len);
    CHECK_MEM(seg, want, want_len);
    /* The new MCV is the full CMAC, whose first 8 bytes close the segment. */
    CHECK_MEM(tx.mcv, seg + seg_len - 8, 8);
    CHECK_OK(unwrap_all(&rx, tags[i], seg, seg_len, back, sizeof(back), &back_len));
    CHECK_EQ(back_len, lens[i]);
    CHECK_MEM(back, plain, lens[i]);
    CHECK(same_state(&tx, &rx));
    ref = tx;
  }
  CHECK_EQ(tx.counter, 5);
}

/* The block counter is not part of the C-MAC input, so a receiver whose counter is wrong still
 * accepts the MAC but cannot recover the plaintext: it must not silently return the sender's
 * data, and a failure must leave its state as it was. */
static void test_counter_mismatch(void) {
  struct rsp_bsp tx, rx, snap;
  uint8_t plain[48], seg[128], back[128];
  size_t seg_len = 0, back_len = 0;
  pair(&tx, &rx, 5);
  fill(plain, sizeof(plain), 5);
  CHECK_OK(rsp_bsp_wrap(&tx, T88, plain, 10, seg, sizeof(seg), &seg_len));
  CHECK_OK(unwrap_all(&rx, T88, seg, seg_len, back, sizeof(back), &back_len));
  CHECK_OK(rsp_bsp_wrap(&tx, T86, plain, sizeof(plain), seg, sizeof(seg), &seg_len));
  rx.counter = 1; /* as if the 88 had not counted */
  snap = rx;
  rsp_err_t rc = unwrap_all(&rx, T86, seg, seg_len, back, sizeof(back), &back_len);
  CHECK(rc != RSP_OK || back_len != sizeof(plain) || memcmp(back, plain, sizeof(plain)) != 0);
  if (rc != RSP_OK) {
    CHECK_ERR(rc, RSP_E_CRYPTO);
    CHECK(same_state(&rx, &snap));
  }
}

/* ---- rejection ------------------------------------------------------------------------------- */

/* Every single-byte change and every truncation of a segment is refused without touching the
 * state or the cursor; the genuine segment is accepted afterwards. */
static void tamper_one(uint32_t tag, size_t plain_len) {
  static const uint8_t masks[] = {0x01, 0x80, 0xFF};
  struct rsp_bsp tx, rx, snap;
  uint8_t plain[300], seg[400], bad[400], back[400];
  size_t seg_len = 0, back_len = 12345;
  pair(&tx, &rx, 6);
  fill(plain, plain_len, 6);
  CHECK_OK(rsp_bsp_wrap(&tx, tag, plain, plain_len, seg, sizeof(seg), &seg_len));
  snap = rx;
  for (size_t i = 0; i < seg_len; i++) {
    for (size_t m = 0; m < sizeof(masks); m++) {
      memcpy(bad, seg, seg_len);
      bad[i] ^= masks[m];
      rsp_err_t rc = unwrap_all(&rx, tag, bad, seg_len, back, sizeof(back), &back_len);
      if (rc == RSP_OK) rsp_test_fail(__FILE__, __LINE__, "byte %zu ^ %02x accepted", i, masks[m]);
      CHECK(same_state(&rx, &snap));
    }
    /* The MAC itself and everything it covers: a flip there is a C-MAC failure. */
    if (i >= 2 && seg_len < 128) {
      memcpy(bad, seg, seg_len);
      bad[i] ^= 0x10;
      CHECK_ERR(unwrap_all(&rx, tag, bad, seg_len, back, sizeof(back), &back_len),
                RSP_E_SIG_INVALID);
    }
  }
  for (size_t n = 0; n < seg_len; n++) {
    CHECK(unwrap_all(&rx, tag, seg, n, back, sizeof(back), &back_len) != RSP_OK);
    CHECK(same_state(&rx, &snap));
  }
  CHECK_EQ(back_len, 12345);
  CHECK_OK(unwrap_all(&rx, tag, seg, seg_len, back, sizeof(back), &back_len));
  CHECK_EQ(back_len, plain_len);
  CHECK_MEM(back, plain, plain_len);
  CHECK(same_state(&tx, &rx));
}

static void test_tamper(void) {
  tamper_one(T86, 0);
  tamper_one(T86, 40);
  tamper_one(T87, 17);
  tamper_one(T88, 0);
  tamper_one(T88, 33);
  tamper_one(T86, 250); /* 81 LL length field */
  tamper_one(T88, 260); /* 82 LL LL length field */
}

static void test_wrong_tag(void) {
  struct rsp_bsp tx, rx, snap;
  uint8_t plain[20], seg[64], back[64];
  size_t seg_len = 0, back_len = 0;
  pair(&tx, &rx, 7);
  fill(plain, sizeof(plain), 7);
  CHECK_OK(rsp_bsp_wrap(&tx, T87, plain, sizeof(plain), seg, sizeof(seg), &seg_len));
  snap = rx;
  CHECK_ERR(unwrap_all(&rx, T86, seg, seg_len, back, sizeof(back), &back_len),
            RSP_E_DER_UNEXPECTED_TAG);
  CHECK_ERR(unwrap_all(&rx, T88, seg, seg_len, back, sizeof(back), &back_len),
            RSP_E_DER_UNEXPECTED_TAG);
  CHECK_ERR(unwrap_all(&rx, 0x85, seg, seg_len, back, sizeof(back), &back_len), RSP_E_INVALID_ARG);
  /* Relabelled as the expected tag: the tag is under the C-MAC. */
  seg[0] = T86;
  CHECK_ERR(unwrap_all(&rx, T86, seg, seg_len, back, sizeof(back), &back_len), RSP_E_SIG_INVALID);
  seg[0] = T87;
  CHECK(same_state(&rx, &snap));
  CHECK_OK(unwrap_all(&rx, T87, seg, seg_len, back, sizeof(back), &back_len));
  CHECK_MEM(back, plain, sizeof(plain));
  /* Constructed or multi-byte tags are no segments either. */
  const uint8_t a6[] = {0xA6, 0x00}, bf26[] = {0xBF, 0x26, 0x00};
  CHECK_ERR(unwrap_all(&rx, T86, a6, sizeof(a6), back, sizeof(back), &back_len),
            RSP_E_DER_UNEXPECTED_TAG);
  CHECK_ERR(unwrap_all(&rx, T86, bf26, sizeof(bf26), back, sizeof(back), &back_len),
            RSP_E_DER_UNEXPECTED_TAG);
  CHECK_ERR(rsp_bsp_wrap(&tx, 0x89, plain, 1, seg, sizeof(seg), &seg_len), RSP_E_INVALID_ARG);
}

/* Segments out of order, replayed or skipped fail on the MCV. */
static void test_order_and_replay(void) {
  struct rsp_bsp tx, rx, snap;
  uint8_t plain[32], seg[3][64], back[64];
  size_t len[3], back_len = 0;
  pair(&tx, &rx, 8);
  for (int i = 0; i < 3; i++) {
    fill(plain, sizeof(plain), (unsigned)i);
    CHECK_OK(rsp_bsp_wrap(&tx, T86, plain, sizeof(plain), seg[i], sizeof(seg[i]), &len[i]));
  }
  snap = rx;
  CHECK_ERR(unwrap_all(&rx, T86, seg[1], len[1], back, sizeof(back), &back_len), RSP_E_SIG_INVALID);
  CHECK(same_state(&rx, &snap));
  CHECK_OK(unwrap_all(&rx, T86, seg[0], len[0], back, sizeof(back), &back_len));
  snap = rx;
  CHECK_ERR(unwrap_all(&rx, T86, seg[0], len[0], back, sizeof(back), &back_len),
            RSP_E_SIG_INVALID); /* replay */
  CHECK_ERR(unwrap_all(&rx, T86, seg[2], len[2], back, sizeof(back), &back_len),
            RSP_E_SIG_INVALID); /* skip */
  CHECK(same_state(&rx, &snap));
  CHECK_OK(unwrap_all(&rx, T86, seg[1], len[1], back, sizeof(back), &back_len));
  CHECK_OK(unwrap_all(&rx, T86, seg[2], len[2], back, sizeof(back), &back_len));
  fill(plain, sizeof(plain), 2);
  CHECK_MEM(back, plain, sizeof(plain));
  CHECK(same_state(&tx, &rx));
  /* A receiver on other keys accepts nothing. */
  struct rsp_bsp other;
  struct rsp_bsp_keys k;
  fixed_keys(&k, 9);
  rsp_bsp_init(&other, &k);
  CHECK_ERR(unwrap_all(&other, T86, seg[0], len[0], back, sizeof(back), &back_len),
            RSP_E_SIG_INVALID);
}

/* Several segments back to back in one buffer: the cursor walks them one by one. */
static void test_cursor(void) {
  struct rsp_bsp tx, rx;
  uint8_t plain[200], buf[1024], back[256];
  size_t total = 0, n = 0, back_len = 0;
  pair(&tx, &rx, 10);
  for (unsigned i = 0; i < 5; i++) {
    fill(plain, 37 * i, i);
    CHECK_OK(rsp_bsp_wrap(&tx, T86, plain, 37 * i, buf + total, sizeof(buf) - total, &n));
    total += n;
  }
  const uint8_t *p = buf, *end = buf + total;
  for (unsigned i = 0; i < 5; i++) {
    CHECK_OK(rsp_bsp_unwrap(&rx, T86, &p, end, back, sizeof(back), &back_len));
    fill(plain, 37 * i, i);
    CHECK_EQ(back_len, 37 * i);
    CHECK_MEM(back, plain, back_len);
  }
  CHECK(p == end);
  CHECK_ERR(rsp_bsp_unwrap(&rx, T86, &p, end, back, sizeof(back), &back_len), RSP_E_DER_TRUNCATED);
  CHECK(same_state(&tx, &rx));
}

/* Segments with a valid C-MAC but a malformed body: the framing and padding checks. */
static void test_framing_and_padding(void) {
  struct rsp_bsp rx, snap;
  struct rsp_bsp_keys k;
  uint8_t data[64], seg[128], back[128];
  size_t n, back_len = 0;
  fixed_keys(&k, 11);
  rsp_bsp_init(&rx, &k);
  snap = rx;
  memset(data, 0, sizeof(data));

  n = build_segment(&rx, T86, data, 8, seg); /* not whole blocks */
  CHECK_ERR(unwrap_all(&rx, T86, seg, n, back, sizeof(back), &back_len), RSP_E_DER_BAD_VALUE);
  n = build_segment(&rx, T86, data, 0, seg); /* no ciphertext at all */
  CHECK_ERR(unwrap_all(&rx, T86, seg, n, back, sizeof(back), &back_len), RSP_E_DER_BAD_VALUE);
  const uint8_t short88[] = {0x88, 0x05, 1, 2, 3, 4, 5};
  CHECK_ERR(unwrap_all(&rx, T88, short88, sizeof(short88), back, sizeof(back), &back_len),
            RSP_E_DER_BAD_VALUE);
  /* Non-minimal and indefinite lengths are not DER. */
  uint8_t nm[40] = {0x86, 0x81, 0x18};
  CHECK_ERR(unwrap_all(&rx, T86, nm, 27, back, sizeof(back), &back_len),
            RSP_E_DER_NON_MINIMAL_LENGTH);
  const uint8_t indef[] = {0x86, 0x80, 0x00, 0x00};
  CHECK(unwrap_all(&rx, T86, indef, sizeof(indef), back, sizeof(back), &back_len) != RSP_OK);

  /* Padding: no 80 at all, 80 followed by a non-zero byte, and padding longer than a block. */
  n = build_segment(&rx, T86, data, 16, seg);
  CHECK_ERR(unwrap_all(&rx, T86, seg, n, back, sizeof(back), &back_len), RSP_E_CRYPTO);
  data[10] = 0x80;
  data[15] = 0x01;
  n = build_segment(&rx, T86, data, 16, seg);
  CHECK_ERR(unwrap_all(&rx, T86, seg, n, back, sizeof(back), &back_len), RSP_E_CRYPTO);
  data[15] = 0;
  n = build_segment(&rx, T86, data, 32, seg);
  CHECK_ERR(unwrap_all(&rx, T86, seg, n, back, sizeof(back), &back_len), RSP_E_CRYPTO);
  CHECK(same_state(&rx, &snap));

  /* The limits of valid padding: a single 80 byte, and a whole block of padding. */
  memset(data, 0x41, 16);
  data[15] = 0x80;
  n = build_segment(&rx, T86, data, 16, seg);
  CHECK_OK(unwrap_all(&rx, T86, seg, n, back, sizeof(back), &back_len));
  CHECK_EQ(back_len, 15);
  data[16] = 0x80;
  memset(data + 17, 0, 15);
  n = build_segment(&rx, T86, data, 32, seg);
  CHECK_OK(unwrap_all(&rx, T86, seg, n, back, sizeof(back), &back_len));
  CHECK_EQ(back_len, 16);
  CHECK_EQ(rx.counter, 3);
}

/* ---- ReplaceSessionKeys ---------------------------------------------------------------------- */

static size_t encode_replace(const struct rsp_bsp_keys *ppk, uint8_t *out, size_t size) {
  struct rsp_buf b;
  struct rsp_der_writer w;
  size_t len = 0;
  rsp_buf_init(&b, size);
  rsp_der_writer_init(&w, &b);
  rsp_der_begin(&w, TAG_REPLACE_SESSION_KEYS_REQUEST);
  rsp_der_put_octets(&w, TAG_INITIAL_MAC_CHAINING_VALUE, ppk->mcv, 16);
  rsp_der_put_octets(&w, TAG_PPK_ENC, ppk->enc, 16);
  rsp_der_put_octets(&w, TAG_PPK_CMAC, ppk->mac, 16);
  rsp_der_end(&w);
  CHECK_OK(rsp_der_writer_finish(&w));
  if (b.len <= size) {
    memcpy(out, b.data, b.len);
    len = b.len;
  }
  rsp_buf_free(&b);
  return len;
}

static void decode_replace(const uint8_t *der, size_t len, struct rsp_bsp_keys *ppk) {
  struct rsp_der_tlv top, f;
  const uint8_t *p, *end;
  CHECK_OK(rsp_der_parse_one(der, len, &top));
  CHECK_EQ(top.tag, TAG_REPLACE_SESSION_KEYS_REQUEST);
  rsp_der_children(&top, &p, &end);
  CHECK_OK(rsp_der_read_expect(&p, end, TAG_INITIAL_MAC_CHAINING_VALUE, &f));
  CHECK_OK(rsp_der_get_octets_fixed(&f, ppk->mcv, 16));
  CHECK_OK(rsp_der_read_expect(&p, end, TAG_PPK_ENC, &f));
  CHECK_OK(rsp_der_get_octets_fixed(&f, ppk->enc, 16));
  CHECK_OK(rsp_der_read_expect(&p, end, TAG_PPK_CMAC, &f));
  CHECK_OK(rsp_der_get_octets_fixed(&f, ppk->mac, 16));
  CHECK(p == end);
}

/* The BPP order with ReplaceSessionKeys: 87 (ConfigureISDP), 88 (StoreMetadata), 87 carrying
 * BF26 under the session keys, then 86 under the PPKs. Both counter modes, checked against a
 * construction from the primitives at the expected counter. */
static void replace_flow(enum rsp_bsp_counter_mode mode) {
  struct rsp_bsp tx, rx, ref, stale;
  struct rsp_bsp_keys ppk, got;
  uint8_t plain[100], bf26[64], seg[256], want[256], padded[128], back[256];
  size_t seg_len = 0, back_len = 0, bl, want_len;
  pair(&tx, &rx, 12);
  fill(plain, sizeof(plain), 12);
  CHECK_OK(rsp_bsp_wrap(&tx, T87, plain, 10, seg, sizeof(seg), &seg_len));
  CHECK_OK(unwrap_all(&rx, T87, seg, seg_len, back, sizeof(back), &back_len));
  CHECK_OK(rsp_bsp_wrap(&tx, T88, plain, 30, seg, sizeof(seg), &seg_len));
  CHECK_OK(unwrap_all(&rx, T88, seg, seg_len, back, sizeof(back), &back_len));
  fixed_keys(&ppk, 13);
  bl = encode_replace(&ppk, bf26, sizeof(bf26));
  CHECK_EQ(bl, 3 + 3 * 18);
  CHECK_OK(rsp_bsp_wrap(&tx, T87, bf26, bl, seg, sizeof(seg), &seg_len));
  CHECK_OK(unwrap_all(&rx, T87, seg, seg_len, back, sizeof(back), &back_len));
  decode_replace(back, back_len, &got);
  CHECK_MEM(&got, &ppk, sizeof(ppk));
  stale = rx;
  CHECK_OK(rsp_bsp_replace_keys(&tx, &ppk, mode));
  CHECK_OK(rsp_bsp_replace_keys(&rx, &got, mode));
  CHECK_EQ(tx.counter, mode == RSP_BSP_COUNTER_RESTART ? 1 : 4);
  CHECK_MEM(tx.enc, ppk.enc, 16);
  CHECK_MEM(tx.mac, ppk.mac, 16);
  CHECK_MEM(tx.mcv, ppk.mcv, 16);

  for (unsigned i = 0; i < 3; i++) {
    size_t n = 20 + 30 * i;
    ref = tx;
    fill(plain, n, i + 100);
    want_len = build_segment(&ref, T86, padded, pad(plain, n, padded), want);
    CHECK_OK(rsp_bsp_wrap(&tx, T86, plain, n, seg, sizeof(seg), &seg_len));
    CHECK_EQ(seg_len, want_len);
    CHECK_MEM(seg, want, want_len);
    if (i == 0) /* the session keys no longer apply */
      CHECK_ERR(unwrap_all(&stale, T86, seg, seg_len, back, sizeof(back), &back_len),
                RSP_E_SIG_INVALID);
    CHECK_OK(unwrap_all(&rx, T86, seg, seg_len, back, sizeof(back), &back_len));
    CHECK_EQ(back_len, n);
    CHECK_MEM(back, plain, n);
    CHECK(same_state(&tx, &rx));
  }
  CHECK_EQ(tx.counter, mode == RSP_BSP_COUNTER_RESTART ? 4 : 7);
  rsp_bsp_free(&tx);
  rsp_bsp_free(&rx);
}

static void test_replace_keys_restart(void) { replace_flow(RSP_BSP_COUNTER_RESTART); }

static void test_replace_keys_continue(void) { replace_flow(RSP_BSP_COUNTER_CONTINUE); }

/* A sender and receiver that disagree on the counter mode do not silently agree on data. */
static void test_replace_keys_mode_mismatch(void) {
  struct rsp_bsp tx, rx;
  struct rsp_bsp_keys ppk;
  uint8_t plain[64], seg[128], back[128];
  size_t seg_len = 0, back_len = 0;
  pair(&tx, &rx, 14);
  fill(plain, sizeof(plain), 14);
  CHECK_OK(rsp_bsp_wrap(&tx, T87, plain, 16, seg, sizeof(seg), &seg_len));
  CHECK_OK(unwrap_all(&rx, T87, seg, seg_len, back, sizeof(back), &back_len));
  fixed_keys(&ppk, 15);
  CHECK_OK(rsp_bsp_replace_keys(&tx, &ppk, RSP_BSP_COUNTER_RESTART));
  CHECK_OK(rsp_bsp_replace_keys(&rx, &ppk, RSP_BSP_COUNTER_CONTINUE));
  CHECK_OK(rsp_bsp_wrap(&tx, T86, plain, sizeof(plain), seg, sizeof(seg), &seg_len));
  rsp_err_t rc = unwrap_all(&rx, T86, seg, seg_len, back, sizeof(back), &back_len);
  CHECK(rc != RSP_OK || back_len != sizeof(plain) || memcmp(back, plain, sizeof(plain)) != 0);
  /* Default: the zero value restarts. */
  CHECK_EQ(RSP_BSP_COUNTER_RESTART, 0);
  CHECK_ERR(rsp_bsp_replace_keys(&tx, &ppk, (enum rsp_bsp_counter_mode)7), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_replace_keys(NULL, &ppk, RSP_BSP_COUNTER_RESTART), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_replace_keys(&tx, NULL, RSP_BSP_COUNTER_RESTART), RSP_E_INVALID_ARG);
}

/* ---- lifecycle and arguments ----------------------------------------------------------------- */

static void test_lifecycle(void) {
  struct rsp_bsp bsp, zero;
  struct rsp_bsp_keys k;
  uint8_t plain[4] = {1, 2, 3, 4}, seg[64], back[64];
  size_t seg_len = 0, back_len = 0;
  const uint8_t *p = seg;
  memset(&zero, 0, sizeof(zero));
  fixed_keys(&k, 16);
  rsp_bsp_init(&bsp, &k);
  CHECK_EQ(bsp.counter, 1);
  CHECK_MEM(bsp.mcv, k.mcv, 16);
  CHECK_OK(rsp_bsp_wrap(&bsp, T86, plain, sizeof(plain), seg, sizeof(seg), &seg_len));
  rsp_bsp_free(&bsp);
  CHECK_MEM(&bsp, &zero, sizeof(bsp));
  rsp_bsp_free(&bsp);
  rsp_bsp_free(NULL);
  CHECK_ERR(rsp_bsp_wrap(&bsp, T86, plain, sizeof(plain), seg, sizeof(seg), &seg_len), RSP_E_STATE);
  CHECK_ERR(rsp_bsp_unwrap(&bsp, T86, &p, seg + seg_len, back, sizeof(back), &back_len),
            RSP_E_STATE);
  CHECK_ERR(rsp_bsp_replace_keys(&bsp, &k, RSP_BSP_COUNTER_RESTART), RSP_E_STATE);
  rsp_bsp_init(&bsp, NULL);
  CHECK_ERR(rsp_bsp_wrap(&bsp, T86, plain, sizeof(plain), seg, sizeof(seg), &seg_len), RSP_E_STATE);
  rsp_bsp_init(NULL, &k);
  /* The counter never wraps back to an ICV already used. */
  rsp_bsp_init(&bsp, &k);
  bsp.counter = UINT64_MAX;
  CHECK_ERR(rsp_bsp_wrap(&bsp, T86, plain, sizeof(plain), seg, sizeof(seg), &seg_len), RSP_E_STATE);
  bsp.counter = UINT64_MAX - 1;
  CHECK_OK(rsp_bsp_wrap(&bsp, T86, plain, sizeof(plain), seg, sizeof(seg), &seg_len));
  CHECK_ERR(rsp_bsp_wrap(&bsp, T86, plain, sizeof(plain), seg, sizeof(seg), &seg_len), RSP_E_STATE);
  rsp_bsp_free(&bsp);
}

static void test_bad_args(void) {
  struct rsp_bsp tx, rx, snap;
  uint8_t plain[40], seg[128], back[64];
  size_t seg_len = 0, back_len = 0;
  const uint8_t *p, *null_p = NULL;
  pair(&tx, &rx, 17);
  fill(plain, sizeof(plain), 17);
  snap = tx;
  CHECK_ERR(rsp_bsp_wrap(NULL, T86, plain, 1, seg, sizeof(seg), &seg_len), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_wrap(&tx, T86, NULL, 1, seg, sizeof(seg), &seg_len), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_wrap(&tx, T86, plain, 1, NULL, sizeof(seg), &seg_len), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_wrap(&tx, T86, plain, 1, seg, sizeof(seg), NULL), RSP_E_INVALID_ARG);
  /* 40 bytes pad to 48, plus the C-MAC: 86 38 <56 bytes>, 58 in all. */
  CHECK_ERR(rsp_bsp_wrap(&tx, T86, plain, 40, seg, 57, &seg_len), RSP_E_BUF_SMALL);
  CHECK(same_state(&tx, &snap));
  CHECK_OK(rsp_bsp_wrap(&tx, T86, plain, 40, seg, 58, &seg_len));
  CHECK_EQ(seg_len, 58);
  /* Empty plaintext may come as NULL. */
  CHECK_OK(rsp_bsp_wrap(&tx, T88, NULL, 0, seg + 58, sizeof(seg) - 58, &seg_len));
  CHECK_EQ(seg_len, 10);

  snap = rx;
  p = seg;
  const uint8_t *end = seg + 58, *late = seg + 1;
  CHECK_ERR(rsp_bsp_unwrap(NULL, T86, &p, end, back, sizeof(back), &back_len), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_unwrap(&rx, T86, NULL, end, back, sizeof(back), &back_len), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_unwrap(&rx, T86, &null_p, end, back, sizeof(back), &back_len),
            RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_unwrap(&rx, T86, &p, NULL, back, sizeof(back), &back_len), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_unwrap(&rx, T86, &late, seg, back, sizeof(back), &back_len), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_unwrap(&rx, T86, &p, end, NULL, sizeof(back), &back_len), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_bsp_unwrap(&rx, T86, &p, end, back, sizeof(back), NULL), RSP_E_INVALID_ARG);
  /* Too small for the plaintext: refused with nothing consumed; then it fits exactly. */
  CHECK_ERR(rsp_bsp_unwrap(&rx, T86, &p, end, back, 39, &back_len), RSP_E_BUF_SMALL);
  CHECK(p == seg);
  CHECK(same_state(&rx, &snap));
  CHECK_OK(rsp_bsp_unwrap(&rx, T86, &p, end, back, 40, &back_len));
  CHECK_EQ(back_len, 40);
  CHECK_MEM(back, plain, 40);
  CHECK_OK(rsp_bsp_unwrap(&rx, T88, &p, seg + 68, NULL, 0, &back_len));
  CHECK_EQ(back_len, 0);
  CHECK(p == seg + 68);
  CHECK(same_state(&tx, &rx));
}

RSP_TESTS(T(test_derive_keys_known_answer), T(test_derive_keys_shared_info),
          T(test_derive_keys_ecdh), T(test_sizes), T(test_round_trip_sizes),
          T(test_round_trip_every_length), T(test_too_large), T(test_layout_and_counter),
          T(test_counter_mismatch), T(test_tamper), T(test_wrong_tag), T(test_order_and_replay),
          T(test_cursor), T(test_framing_and_padding), T(test_replace_keys_restart),
          T(test_replace_keys_continue), T(test_replace_keys_mode_mismatch), T(test_lifecycle),
          T(test_bad_args))
