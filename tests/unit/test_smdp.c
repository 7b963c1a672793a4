/* lib/smdp and the BPP split without a card: the LoadBoundProfilePackage calls of hand-built
 * packages (every container form, every truncated prefix, wrong tags), hashCc, and the refusals
 * of the session state machine and the identity loader. The download against the software eUICC
 * is test_euicc_download. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "rsp/der/der.h"
#include "rsp/msg/bpp.h"
#include "rsp/msg/tags.h"
#include "rsp/smdp/bind.h"
#include "test.h"

/* A structurally valid BPP with fake segments: n87a in A0, n88 in A1, n87b in A2 (absent when
 * negative), n86 in A3. Segment contents are their index, so the slices can be checked. */
static struct rsp_buf fake_bpp(size_t n87a, size_t n88, int n87b, size_t n86) {
  struct rsp_buf b;
  struct rsp_der_writer w;
  uint8_t v[300];
  rsp_buf_init(&b, 1 << 16);
  rsp_der_writer_init(&w, &b);
  rsp_der_begin(&w, RSP_TAG_BOUND_PROFILE_PACKAGE);
  rsp_der_begin(&w, RSP_TAG_INITIALISE_SECURE_CHANNEL_REQUEST);
  rsp_der_put_int64(&w, RSP_TAG_REMOTE_OP_ID, 1);
  rsp_der_end(&w);
  const struct {
    uint32_t container, elem;
    int n;
  } parts[] = {{RSP_MSG_TAG_BPP_FIRST_SEQUENCE_OF_87, RSP_MSG_TAG_BPP_ELEMENT_87, (int)n87a},
               {RSP_MSG_TAG_BPP_SEQUENCE_OF_88, RSP_MSG_TAG_BPP_ELEMENT_88, (int)n88},
               {RSP_MSG_TAG_BPP_SECOND_SEQUENCE_OF_87, RSP_MSG_TAG_BPP_ELEMENT_87, n87b},
               {RSP_MSG_TAG_BPP_SEQUENCE_OF_86, RSP_MSG_TAG_BPP_ELEMENT_86, (int)n86}};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    if (parts[i].n < 0) continue;
    rsp_der_begin(&w, parts[i].container);
    for (int k = 0; k < parts[i].n; k++) {
      memset(v, k, sizeof v);
      rsp_der_put_octets(&w, parts[i].elem, v, 100 + (size_t)k * 50);
    }
    rsp_der_end(&w);
  }
  rsp_der_end(&w);
  CHECK_OK(rsp_der_writer_finish(&w));
  return b;
}

/* The calls, as (first byte, length) pairs in order, must be `want` (a string of tag bytes). */
static void check_split(const struct rsp_buf *b, const uint8_t *want, size_t n_want) {
  struct rsp_slice seg[32];
  size_t n = 0, total = 0;
  CHECK_OK(rsp_msg_bpp_split(b->data, b->len, seg, 32, &n));
  CHECK_EQ(n, n_want);
  for (size_t i = 0; i < n && i < n_want; i++) {
    CHECK_EQ(seg[i].p[0], want[i]);
    CHECK(seg[i].p == b->data + total); /* contiguous, in order */
    total += seg[i].len;
  }
  CHECK_EQ(total, b->len);
  /* counting only, and a short array */
  CHECK_ERR(rsp_msg_bpp_split(b->data, b->len, NULL, 0, &n), RSP_E_BUF_SMALL);
  CHECK_EQ(n, n_want);
  CHECK_ERR(rsp_msg_bpp_split(b->data, b->len, seg, n_want - 1, &n), RSP_E_BUF_SMALL);
}

static void split_forms(void) {
  /* BF36+BF23, A0+87, A1, 88, 88, A3, 86 x3 */
  struct rsp_buf b = fake_bpp(1, 2, -1, 3);
  const uint8_t w1[] = {0xBF, 0xA0, 0xA1, 0x88, 0x88, 0xA3, 0x86, 0x86, 0x86};
  check_split(&b, w1, sizeof w1);
  /* the A0 segment holds the header and exactly the first 87 */
  struct rsp_slice seg[16];
  size_t n = 0;
  CHECK_OK(rsp_msg_bpp_split(b.data, b.len, seg, 16, &n));
  CHECK_EQ(seg[1].len, 2 + 2 + 100); /* A0 66 87 64 <100> */
  CHECK_EQ(seg[2].len, 3);           /* A1 81 FF (two 88 of 100 and 150 bytes) */
  rsp_buf_free(&b);
  /* with A2; a second 87 in A0 and A2 travels alone */
  b = fake_bpp(2, 1, 2, 1);
  const uint8_t w2[] = {0xBF, 0xA0, 0x87, 0xA1, 0x88, 0xA2, 0x87, 0xA3, 0x86};
  check_split(&b, w2, sizeof w2);
  rsp_buf_free(&b);
  /* empty containers: their headers are calls of their own */
  b = fake_bpp(0, 0, 0, 0);
  const uint8_t w3[] = {0xBF, 0xA0, 0xA1, 0xA2, 0xA3};
  check_split(&b, w3, sizeof w3);
  rsp_buf_free(&b);
}

static void split_refuses(void) {
  struct rsp_buf b = fake_bpp(1, 1, 1, 2);
  size_t n = 0;
  /* every truncated prefix */
  for (size_t len = 0; len < b.len; len++)
    if (rsp_msg_bpp_split(b.data, len, NULL, 0, &n) == RSP_OK ||
        rsp_msg_bpp_split(b.data, len, NULL, 0, &n) == RSP_E_BUF_SMALL)
      rsp_test_fail(__FILE__, __LINE__, "prefix of %zu bytes accepted", len);
  /* a wrong element tag inside A3 (86 -> 87) */
  uint8_t *last86 = NULL;
  for (size_t i = 0; i + 2 < b.len; i++)
    if (b.data[i] == RSP_MSG_TAG_BPP_ELEMENT_86 && b.data[i + 1] == 0x81) last86 = b.data + i;
  CHECK(last86 != NULL);
  if (last86) {
    *last86 = RSP_MSG_TAG_BPP_ELEMENT_87;
    CHECK_ERR(rsp_msg_bpp_split(b.data, b.len, NULL, 0, &n), RSP_E_DER_UNEXPECTED_TAG);
    *last86 = RSP_MSG_TAG_BPP_ELEMENT_86;
  }
  /* not a BPP at all, and bad arguments */
  b.data[1] = 0x37;
  CHECK_ERR(rsp_msg_bpp_split(b.data, b.len, NULL, 0, &n), RSP_E_DER_UNEXPECTED_TAG);
  CHECK_ERR(rsp_msg_bpp_split(NULL, 0, NULL, 0, &n), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_msg_bpp_split(b.data, b.len, NULL, 3, &n), RSP_E_INVALID_ARG);
  rsp_buf_free(&b);
  /* A1 missing: A0 then A3 */
  b = fake_bpp(1, 0, -1, 1);
  uint8_t *a1 = memchr(b.data, RSP_MSG_TAG_BPP_SEQUENCE_OF_88, b.len);
  /* the empty A1 is `A1 00`; dropping it (and fixing the outer length) leaves A0 then A3 */
  CHECK(a1 && a1[1] == 0);
  if (a1) {
    memmove(a1, a1 + 2, (size_t)(b.data + b.len - (a1 + 2)));
    b.len -= 2;
    b.data[3] -= 2; /* BF36 81 L: the outer length */
    CHECK_ERR(rsp_msg_bpp_split(b.data, b.len, NULL, 0, &n), RSP_E_DER_UNEXPECTED_TAG);
  }
  rsp_buf_free(&b);
}

/* hashCc = SHA-256(SHA-256(code) || transactionId), computed here the long way. */
static void hash_cc(void) {
  uint8_t inner[32], buf[32 + 16], want[32], got[32], txid[16];
  for (size_t i = 0; i < sizeof txid; i++) txid[i] = (uint8_t)(0xA0 + i);
  CHECK_OK(rsp_sha256("12345678", 8, inner));
  memcpy(buf, inner, 32);
  memcpy(buf + 32, txid, 16);
  CHECK_OK(rsp_sha256(buf, sizeof buf, want));
  CHECK_OK(rsp_smdp_hash_cc(rsp_msg_slice("12345678", 8), rsp_msg_slice(txid, 16), got));
  CHECK_MEM(got, want, 32);
  CHECK_ERR(rsp_smdp_hash_cc(rsp_msg_slice(NULL, 0), rsp_msg_slice(txid, 16), got),
            RSP_E_INVALID_ARG);
}

/* Every step refuses to run out of order, before any key is needed. */
static void session_order(void) {
  struct rsp_smdp_session s;
  struct rsp_smdp_identity id = {0};
  struct rsp_smdp_status st;
  struct rsp_buf out;
  uint8_t sig[RSP_SIG_RAW_LEN], resp[] = {0xBF, 0x21, 0x00};
  int64_t reason;
  rsp_buf_init(&out, 4096);
  rsp_smdp_session_init(&s);
  CHECK_ERR(
      rsp_smdp_signed2_make(&id, &s, rsp_msg_slice(NULL, 0), rsp_msg_slice(NULL, 0), &out, sig),
      RSP_E_STATE);
  CHECK_ERR(rsp_smdp_prepare_download_response_verify(&id, &s, resp, sizeof resp, &st),
            RSP_E_STATE);
  CHECK_ERR(rsp_smdp_authenticate_server_response_verify(&id, &s, resp, sizeof resp, &st),
            RSP_E_STATE);
  CHECK_ERR(rsp_smdp_cancel_session_response_verify(&id, &s, resp, sizeof resp, &reason, &st),
            RSP_E_STATE);
  struct rsp_smdp_profile p = {.metadata = (const void *)&s, .upp = rsp_msg_slice("\x30\x00", 2)};
  CHECK_ERR(rsp_smdp_bind_profile(&id, &s, &p, &out), RSP_E_STATE);
  p.host_id = rsp_msg_slice("12345678901234567", 17); /* longer than 16 */
  CHECK_ERR(rsp_smdp_bind_profile(&id, &s, &p, &out), RSP_E_INVALID_ARG);
  CHECK_EQ(out.len, 0);
  CHECK_EQ(s.stage, RSP_SMDP_STAGE_NEW);
  rsp_smdp_session_free(&s);
  rsp_smdp_session_free(&s); /* idempotent */
  rsp_smdp_session_free(NULL);
  rsp_buf_free(&out);
}

static void identity_missing(void) {
  struct rsp_smdp_identity *id = (void *)1;
  const char *dir = rsp_test_tmpdir("smdp_empty");
  CHECK(rsp_smdp_identity_load(dir, &id) != RSP_OK);
  CHECK(id == NULL);
  rmdir(dir);
  CHECK_ERR(rsp_smdp_identity_load(NULL, &id), RSP_E_INVALID_ARG);
  rsp_smdp_identity_destroy(NULL);
}

RSP_TESTS(T(split_forms), T(split_refuses), T(hash_cc), T(session_order), T(identity_missing))
