/* lib/core: errors, buffers, allocation hooks, logging, hex/EID/ICCID helpers. */
#include <stdlib.h>

#include "rsp/core/alloc.h"
#include "rsp/core/buf.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "test.h"

static void errors_have_names_and_messages(void) {
  CHECK_STR(rsp_err_name(RSP_OK), "RSP_OK");
  CHECK_STR(rsp_err_name(RSP_E_DER_TRUNCATED), "RSP_E_DER_TRUNCATED");
  CHECK_STR(rsp_strerror(RSP_E_CERT_EID_OUT_OF_RANGE),
            "EID outside the range permitted to the EUM");
  CHECK_STR(rsp_err_name((rsp_err_t)-1), "RSP_E_UNKNOWN");
  CHECK_STR(rsp_err_name((rsp_err_t)5), "RSP_E_UNKNOWN");
  /* Every code is negative and has a distinct name. */
  for (int e = RSP_E__BASE + 1; e < RSP_E__END; e++) {
    CHECK(e < 0);
    CHECK(strncmp(rsp_err_name((rsp_err_t)e), "RSP_E_", 6) == 0);
    CHECK(strcmp(rsp_err_name((rsp_err_t)e), "RSP_E_UNKNOWN") != 0);
    for (int f = e + 1; f < RSP_E__END; f++)
      CHECK(strcmp(rsp_err_name((rsp_err_t)e), rsp_err_name((rsp_err_t)f)) != 0);
  }
}

static void buf_grows_to_cap_and_stops(void) {
  struct rsp_buf b;
  rsp_buf_init(&b, 100);
  uint8_t chunk[30];
  memset(chunk, 0xAB, sizeof(chunk));
  CHECK_OK(rsp_buf_append(&b, chunk, 30));
  CHECK_OK(rsp_buf_append(&b, chunk, 30));
  CHECK_OK(rsp_buf_append(&b, chunk, 30));
  CHECK_ERR(rsp_buf_append(&b, chunk, 11), RSP_E_BUF_CAP);
  CHECK_EQ(b.len, 90);
  CHECK_OK(rsp_buf_append(&b, chunk, 10));
  CHECK_EQ(b.len, 100);
  CHECK(b.size <= 100);
  CHECK_ERR(rsp_buf_append_byte(&b, 1), RSP_E_BUF_CAP);
  CHECK_ERR(rsp_buf_reserve(&b, SIZE_MAX), RSP_E_BUF_CAP);
  rsp_buf_free(&b);
  rsp_buf_free(&b); /* idempotent */
  CHECK(b.data == NULL && b.len == 0);
  rsp_buf_free(NULL);
}

static void buf_insert_and_take(void) {
  struct rsp_buf b;
  rsp_buf_init(&b, 1 << 20);
  CHECK_OK(rsp_buf_append(&b, "held", 4));
  CHECK_OK(rsp_buf_insert(&b, 2, "XY", 2));
  CHECK_MEM(b.data, "heXYld", 6);
  CHECK_ERR(rsp_buf_insert(&b, 7, "Z", 1), RSP_E_INVALID_ARG);
  size_t len;
  uint8_t *d = rsp_buf_take(&b, &len);
  CHECK_EQ(len, 6);
  CHECK(b.data == NULL && b.len == 0);
  rsp_free(d);
}

static void alloc_failure_is_reported(void) {
  struct rsp_buf b;
  rsp_buf_init(&b, 1 << 20);
  rsp_test_alloc_fail_after(0);
  CHECK_ERR(rsp_buf_append(&b, "x", 1), RSP_E_NOMEM);
  CHECK(rsp_memdup("abc", 3) == NULL);
  rsp_test_alloc_fail_after(-1);
  CHECK_OK(rsp_buf_append(&b, "x", 1));
  rsp_buf_free(&b);
  CHECK(rsp_calloc(SIZE_MAX / 2, 4) == NULL); /* overflow detected, no allocation */
}

static void hex_round_trip(void) {
  uint8_t out[4];
  size_t n;
  char s[9];
  CHECK_OK(rsp_hex_decode("0aFf10", out, sizeof(out), &n));
  CHECK_EQ(n, 3);
  CHECK_MEM(out, "\x0a\xff\x10", 3);
  CHECK_OK(rsp_hex_encode(out, 3, s, sizeof(s)));
  CHECK_STR(s, "0AFF10");
  CHECK_ERR(rsp_hex_decode("abc", out, sizeof(out), &n), RSP_E_HEX_INVALID);
  CHECK_ERR(rsp_hex_decode("zz", out, sizeof(out), &n), RSP_E_HEX_INVALID);
  CHECK_ERR(rsp_hex_decode("0011223344", out, sizeof(out), &n), RSP_E_BUF_SMALL);
  CHECK_ERR(rsp_hex_encode(out, 4, s, 8), RSP_E_BUF_SMALL);
}

/* EID: plain BCD, the 16 bytes read like the digits (SGP.22 §4.1). */
static void eid_is_plain_bcd(void) {
  uint8_t eid[16];
  char s[33];
  CHECK_OK(rsp_eid_from_string("89049032123451234512345678901235", eid));
  CHECK_MEM(eid, "\x89\x04\x90\x32\x12\x34\x51\x23\x45\x12\x34\x56\x78\x90\x12\x35", 16);
  CHECK_OK(rsp_eid_to_string(eid, s));
  CHECK_STR(s, "89049032123451234512345678901235");
  CHECK_ERR(rsp_eid_from_string("8904903212345123451234567890123", eid), RSP_E_BCD_INVALID);
  CHECK_ERR(rsp_eid_from_string("8904903212345123451234567890123A", eid), RSP_E_BCD_INVALID);
  eid[3] = 0x3A;
  CHECK(!rsp_eid_is_valid(eid));
  CHECK_ERR(rsp_eid_to_string(eid, s), RSP_E_BCD_INVALID);
}

/* ICCID: EF.ICCID layout, nibbles swapped, F padding (trace in sgp32-notes 3.1). */
static void iccid_is_nibble_swapped(void) {
  uint8_t ic[10];
  char s[21];
  CHECK_OK(rsp_iccid_encode("8949449999999990023", ic));
  CHECK_MEM(ic, "\x98\x94\x44\x99\x99\x99\x99\x09\x20\xF3", 10);
  CHECK_OK(rsp_iccid_decode(ic, s));
  CHECK_STR(s, "8949449999999990023");
  CHECK_OK(rsp_iccid_encode("8949449999999990023F", ic));
  CHECK_MEM(ic, "\x98\x94\x44\x99\x99\x99\x99\x09\x20\xF3", 10);
  CHECK_OK(rsp_iccid_encode("89000123456789012341", ic));
  CHECK_MEM(ic, "\x98\x00\x10\x32\x54\x76\x98\x10\x32\x14", 10);
  CHECK_OK(rsp_iccid_decode(ic, s));
  CHECK_STR(s, "89000123456789012341");
  CHECK_ERR(rsp_iccid_encode("123", ic), RSP_E_BCD_INVALID);
  CHECK_ERR(rsp_iccid_encode("894944999999999002A", ic), RSP_E_BCD_INVALID);
  /* An F in the middle is not padding. */
  uint8_t bad[10] = {0x98, 0xF4, 0x44, 0x99, 0x99, 0x99, 0x99, 0x09, 0x20, 0x13};
  CHECK_ERR(rsp_iccid_decode(bad, s), RSP_E_BCD_INVALID);
}

struct log_capture {
  int calls;
  enum rsp_log_level level;
  char comp[32];
  char msg[128];
};

static void capture(void *ctx, enum rsp_log_level level, const char *comp, const char *msg) {
  struct log_capture *c = ctx;
  c->calls++;
  c->level = level;
  snprintf(c->comp, sizeof(c->comp), "%s", comp);
  snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static void logging_filters_by_level(void) {
  struct log_capture c = {0};
  rsp_log_set_callback(capture, &c);
  rsp_log_set_level(RSP_LOG_WARN);
  RSP_LOG_I("der", "hidden %d", 1);
  CHECK_EQ(c.calls, 0);
  RSP_LOG_E("der", "shown %d", 2);
  CHECK_EQ(c.calls, 1);
  CHECK_EQ(c.level, RSP_LOG_ERROR);
  CHECK_STR(c.comp, "der");
  CHECK_STR(c.msg, "shown 2");
  rsp_log_set_level(RSP_LOG_DEBUG);
  RSP_LOG_D("x", "dbg");
  CHECK_EQ(c.calls, 2);
  CHECK_EQ(rsp_log_level_parse("trace"), RSP_LOG_TRACE);
  CHECK_EQ(rsp_log_level_parse("loud"), -1);
  rsp_log_set_callback(NULL, NULL);
  rsp_log_set_level(RSP_LOG_INFO);
}

RSP_TESTS(T(errors_have_names_and_messages), T(buf_grows_to_cap_and_stops), T(buf_insert_and_take),
          T(alloc_failure_is_reported), T(hex_round_trip), T(eid_is_plain_bcd),
          T(iccid_is_nibble_swapped), T(logging_filters_by_level))
