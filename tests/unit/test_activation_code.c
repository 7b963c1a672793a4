/* lib/msg activation codes (SGP.22 section 4.1): the edge cases of each field, the length limit of
 * SGP.32 ProfileDownloadTriggerRequest.activationCode, and the formatter's refusals. The rows of
 * the shared traces are checked in tests/vectors/test_msg_vectors.c. */
#include <string.h>

#include "rsp/msg/activation_code.h"
#include "test.h"

/* Parses a C string; on success it must format back to the same text. */
static rsp_err_t parse_str(const char *s, struct rsp_msg_activation_code *ac) {
  const char *why = NULL;
  rsp_err_t rc = rsp_msg_activation_code_parse(s, strlen(s), ac, &why);
  if (rc != RSP_OK) {
    CHECK(why != NULL);
    CHECK(!ac->smdp_address[0] && !ac->matching_id[0] && !ac->smdp_oid[0]);
    CHECK(!ac->lpa_prefix && !ac->cc_required);
    return rc;
  }
  char out[RSP_MSG_AC_MAX_LEN + 8];
  size_t n = 0;
  CHECK_OK(rsp_msg_activation_code_format(ac, out, sizeof(out), &n, &why));
  CHECK_EQ(n, strlen(s));
  CHECK_STR(out, s);
  return rc;
}

#define ACCEPT(s)                                                                                  \
  do {                                                                                             \
    struct rsp_msg_activation_code ac_;                                                            \
    CHECK_OK(parse_str(s, &ac_));                                                                  \
  } while (0)

#define REJECT(s, want)                                                                            \
  do {                                                                                             \
    struct rsp_msg_activation_code ac_;                                                            \
    CHECK_ERR(parse_str(s, &ac_), want);                                                           \
  } while (0)

static void fields_of_a_full_code(void) {
  struct rsp_msg_activation_code ac;
  CHECK_OK(parse_str("LPA:1$smdp.example.com:8443$ABC-123$1.3.6.1.4.1.31746$1", &ac));
  CHECK_EQ(ac.format, 1);
  CHECK(ac.lpa_prefix);
  CHECK(ac.cc_required);
  CHECK_STR(ac.smdp_address, "smdp.example.com:8443");
  CHECK_STR(ac.matching_id, "ABC-123");
  CHECK_STR(ac.smdp_oid, "1.3.6.1.4.1.31746");
  /* The shortest code: one-label host, empty AC_Token (SGP.22 lets the token be empty). */
  CHECK_OK(parse_str("1$a$", &ac));
  CHECK_STR(ac.smdp_address, "a");
  CHECK_STR(ac.matching_id, "");
  CHECK(!ac.lpa_prefix && !ac.cc_required && !ac.smdp_oid[0]);
}

static void format_field(void) {
  REJECT("2$a$b", RSP_E_UNSUPPORTED); /* a later AC_Format: known shape, unknown rules */
  REJECT("9$a$b", RSP_E_UNSUPPORTED);
  REJECT("$a$b", RSP_E_INVALID_ARG);
  REJECT("11$a$b", RSP_E_INVALID_ARG);
  REJECT("x$a$b", RSP_E_INVALID_ARG);
  REJECT(" 1$a$b", RSP_E_INVALID_ARG);
  REJECT("lpa:1$a$b", RSP_E_INVALID_ARG); /* the prefix is upper case (QR alphanumeric mode) */
  REJECT("LPA:LPA:1$a$b", RSP_E_INVALID_ARG);
  REJECT("LPA:", RSP_E_INVALID_ARG);
  REJECT("", RSP_E_INVALID_ARG);
  REJECT("1", RSP_E_INVALID_ARG);
  REJECT("1$", RSP_E_INVALID_ARG);
  REJECT("1$a", RSP_E_INVALID_ARG);
  REJECT("1$$b", RSP_E_INVALID_ARG);
}

static void address_field(void) {
  ACCEPT("1$SMDP.GSMA.COM$X");
  ACCEPT("1$localhost$X");
  ACCEPT("1$x-1.example$X");
  ACCEPT("1$123.example$X"); /* numeric labels are fine below a named top level */
  ACCEPT("1$127.0.0.1:8000$X");
  ACCEPT("1$0.0.0.0$X");
  ACCEPT("1$host:1$X");
  ACCEPT("1$host:65535$X");
  REJECT("1$host:0$X", RSP_E_INVALID_ARG);
  REJECT("1$host:65536$X", RSP_E_INVALID_ARG);
  REJECT("1$host:080$X", RSP_E_INVALID_ARG);
  REJECT("1$host:$X", RSP_E_INVALID_ARG);
  REJECT("1$:443$X", RSP_E_INVALID_ARG);
  REJECT("1$host:44:3$X", RSP_E_INVALID_ARG);
  REJECT("1$[::1]:443$X", RSP_E_INVALID_ARG);
  REJECT("1$-a.com$X", RSP_E_INVALID_ARG);
  REJECT("1$a-.com$X", RSP_E_INVALID_ARG);
  REJECT("1$a..com$X", RSP_E_INVALID_ARG);
  REJECT("1$.a.com$X", RSP_E_INVALID_ARG);
  REJECT("1$a.com.$X", RSP_E_INVALID_ARG);
  REJECT("1$a_b.com$X", RSP_E_INVALID_ARG);
  REJECT("1$a b.com$X", RSP_E_INVALID_ARG);
  REJECT("1$https://a.com$X", RSP_E_INVALID_ARG);
  REJECT("1$a.com/path$X", RSP_E_INVALID_ARG);
  /* A numeric last label is only valid as a dotted IPv4 address. */
  REJECT("1$256.0.0.1$X", RSP_E_INVALID_ARG);
  REJECT("1$1.2.3$X", RSP_E_INVALID_ARG);
  REJECT("1$1.2.3.4.5$X", RSP_E_INVALID_ARG);
  REJECT("1$01.2.3.4$X", RSP_E_INVALID_ARG);
  REJECT("1$a.123$X", RSP_E_INVALID_ARG);
}

static void label_length_limit(void) {
  char s[128], label[70];
  memset(label, 'a', sizeof(label));
  label[63] = '\0';
  snprintf(s, sizeof(s), "1$%s.com$X", label);
  ACCEPT(s);
  label[63] = 'a';
  label[64] = '\0';
  snprintf(s, sizeof(s), "1$%s.com$X", label);
  REJECT(s, RSP_E_INVALID_ARG);
}

static void token_field(void) {
  ACCEPT("1$a$04386-AGYFT-A74Y8-3F815");
  ACCEPT("1$a$lower-case_and.punct!~");
  REJECT("1$a$has space", RSP_E_INVALID_ARG);
  REJECT("1$a$tab\there", RSP_E_INVALID_ARG);
  REJECT("1$a$del\x7f", RSP_E_INVALID_ARG);
  REJECT("1$a$caf\xc3\xa9", RSP_E_INVALID_ARG);
  REJECT("1$a$b$c", RSP_E_INVALID_ARG); /* a '$' in the token makes "c" an (invalid) OID */
}

static void oid_field(void) {
  ACCEPT("1$a$b$1.3.6.1.4.1.31746");
  ACCEPT("1$a$b$2.999");
  ACCEPT("1$a$b$0.0");
  ACCEPT("1$a$b$1.39");
  ACCEPT("1$a$b$2.1.1234567890123456789");
  REJECT("1$a$b$2.1.12345678901234567890", RSP_E_INVALID_ARG); /* arc beyond 64 bits */
  REJECT("1$a$b$1.40", RSP_E_INVALID_ARG);
  REJECT("1$a$b$3.1", RSP_E_INVALID_ARG);
  REJECT("1$a$b$1", RSP_E_INVALID_ARG);
  REJECT("1$a$b$1..2", RSP_E_INVALID_ARG);
  REJECT("1$a$b$1.02", RSP_E_INVALID_ARG);
  REJECT("1$a$b$1.2.", RSP_E_INVALID_ARG);
  REJECT("1$a$b$.1.2", RSP_E_INVALID_ARG);
  REJECT("1$a$b$1.2a", RSP_E_INVALID_ARG);
  REJECT("1$a$b$", RSP_E_INVALID_ARG); /* empty OID only as a placeholder before the flag */
}

static void confirmation_code_flag(void) {
  struct rsp_msg_activation_code ac;
  CHECK_OK(parse_str("1$a$b$$1", &ac));
  CHECK(ac.cc_required);
  CHECK_STR(ac.smdp_oid, "");
  ACCEPT("1$a$$1.2$1");
  REJECT("1$a$b$1.2$0", RSP_E_INVALID_ARG);
  REJECT("1$a$b$1.2$11", RSP_E_INVALID_ARG);
  REJECT("1$a$b$1.2$", RSP_E_INVALID_ARG);
  REJECT("1$a$b$$", RSP_E_INVALID_ARG);
  REJECT("1$a$b$1.2$1$", RSP_E_INVALID_ARG);
  REJECT("1$a$b$1.2$1$1", RSP_E_INVALID_ARG);
}

/* Builds "1$a$<token>" of exactly `len` characters (len >= 4), optionally with the prefix. */
static void make_code(char *s, size_t len, bool prefix) {
  size_t at = 0;
  if (prefix) {
    memcpy(s, RSP_MSG_AC_LPA_PREFIX, 4);
    at = 4;
  }
  memcpy(s + at, "1$a$", 4);
  memset(s + at + 4, 'T', len - 4);
  s[at + len] = '\0';
}

static void length_limit(void) {
  char s[RSP_MSG_AC_MAX_LEN + 16];
  struct rsp_msg_activation_code ac;
  make_code(s, RSP_MSG_AC_MAX_LEN, false);
  CHECK_OK(parse_str(s, &ac));
  CHECK_EQ(strlen(ac.matching_id), RSP_MSG_AC_MAX_LEN - 4);
  make_code(s, RSP_MSG_AC_MAX_LEN + 1, false);
  REJECT(s, RSP_E_BUF_CAP);
  /* The limit is on the code itself; the QR prefix comes on top of it. */
  make_code(s, RSP_MSG_AC_MAX_LEN, true);
  ACCEPT(s);
  make_code(s, RSP_MSG_AC_MAX_LEN + 1, true);
  REJECT(s, RSP_E_BUF_CAP);
}

static void input_is_a_byte_range(void) {
  struct rsp_msg_activation_code ac;
  const char *why = NULL;
  static const char text[] = "1$a$bXYZ";
  CHECK_OK(rsp_msg_activation_code_parse(text, 5, &ac, &why));
  CHECK_STR(ac.matching_id, "b");
  CHECK(why == NULL);
  static const char nul[] = "1$a$b\0c";
  CHECK_ERR(rsp_msg_activation_code_parse(nul, sizeof(nul) - 1, &ac, &why), RSP_E_INVALID_ARG);
  CHECK(why != NULL);
  CHECK_ERR(rsp_msg_activation_code_parse(NULL, 0, &ac, NULL), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_msg_activation_code_parse(NULL, 3, &ac, NULL), RSP_E_INVALID_ARG);
}

static void format_builds_and_refuses(void) {
  struct rsp_msg_activation_code ac;
  char out[RSP_MSG_AC_MAX_LEN + 8];
  const char *why = NULL;
  size_t n = 0;
  rsp_msg_activation_code_init(&ac);
  snprintf(ac.smdp_address, sizeof(ac.smdp_address), "%s", "smdp.example.com");
  snprintf(ac.matching_id, sizeof(ac.matching_id), "%s", "MID");
  CHECK_OK(rsp_msg_activation_code_format(&ac, out, sizeof(out), &n, &why));
  CHECK_STR(out, "1$smdp.example.com$MID");
  ac.cc_required = true;
  ac.lpa_prefix = true;
  CHECK_OK(rsp_msg_activation_code_format(&ac, out, sizeof(out), &n, &why));
  CHECK_STR(out, "LPA:1$smdp.example.com$MID$$1");
  /* Exactly the length plus the NUL fits; one byte less is refused, not truncated. */
  CHECK_OK(rsp_msg_activation_code_format(&ac, out, n + 1, NULL, NULL));
  CHECK_ERR(rsp_msg_activation_code_format(&ac, out, n, NULL, &why), RSP_E_BUF_SMALL);
  ac.format = 2;
  CHECK_ERR(rsp_msg_activation_code_format(&ac, out, sizeof(out), NULL, NULL), RSP_E_UNSUPPORTED);
  ac.format = RSP_MSG_AC_FORMAT;
  snprintf(ac.smdp_oid, sizeof(ac.smdp_oid), "%s", "not an oid");
  CHECK_ERR(rsp_msg_activation_code_format(&ac, out, sizeof(out), NULL, &why), RSP_E_INVALID_ARG);
  CHECK(why != NULL);
  ac.smdp_oid[0] = '\0';
  snprintf(ac.smdp_address, sizeof(ac.smdp_address), "%s", "bad host");
  CHECK_ERR(rsp_msg_activation_code_format(&ac, out, sizeof(out), NULL, NULL), RSP_E_INVALID_ARG);
  memset(ac.smdp_address, 'a', sizeof(ac.smdp_address)); /* no NUL anywhere */
  CHECK_ERR(rsp_msg_activation_code_format(&ac, out, sizeof(out), NULL, NULL), RSP_E_INVALID_ARG);
  snprintf(ac.smdp_address, sizeof(ac.smdp_address), "%s", "a");
  memset(ac.matching_id, 'T', RSP_MSG_AC_MAX_LEN);
  ac.matching_id[RSP_MSG_AC_MAX_LEN] = '\0';
  CHECK_ERR(rsp_msg_activation_code_format(&ac, out, sizeof(out), NULL, NULL), RSP_E_BUF_CAP);
  CHECK_ERR(rsp_msg_activation_code_format(NULL, out, sizeof(out), NULL, NULL), RSP_E_INVALID_ARG);
}

RSP_TESTS(T(fields_of_a_full_code), T(format_field), T(address_field), T(label_length_limit),
          T(token_field), T(oid_field), T(confirmation_code_flag), T(length_limit),
          T(input_is_a_byte_range), T(format_builds_and_refuses))
