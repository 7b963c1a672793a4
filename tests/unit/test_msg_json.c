/* lib/msg JSON bindings: the strict base64 codec, the table-driven engine, and every ES9+, ES2+
 * and ESipa JSON body (docs/sgp32-notes.md §2.3a and §6), with hand-written samples for the forms
 * on which implementations disagree, negative cases, and allocation-failure runs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/core/log.h"
#include "rsp/der/der.h"
#include "rsp/msg/base64.h"
#include "rsp/msg/json.h"
#include "test.h"

#define BODY_MAX 1024 /* every body struct fits (checked in tables_are_consistent) */

union body {
  max_align_t align;
  unsigned char b[BODY_MAX];
};

/* ---- helpers --------------------------------------------------------------------------------- */

/* Small ring of static strings so a test can build several JSON texts in one expression. */
static char *ring(void) {
  static char pool[32][8192];
  static unsigned next;
  return pool[next++ % 32];
}

static const char *b64_of_hex(const char *hex) {
  size_t n;
  uint8_t *d = rsp_test_hex(hex, &n);
  char *out = ring();
  if (rsp_msg_base64_encode(d, n, out, 8192) != RSP_OK) abort();
  rsp_free(d);
  return out;
}

static const char *jsonf(const char *fmt, ...) RSP_PRINTF(1, 2);
static const char *jsonf(const char *fmt, ...) {
  char *out = ring();
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, 8192, fmt, ap);
  va_end(ap);
  return out;
}

static bool slice_is_hex(struct rsp_slice s, const char *hex) {
  size_t n;
  uint8_t *d = rsp_test_hex(hex, &n);
  bool ok = s.p && s.len == n && memcmp(s.p, d, n) == 0;
  rsp_free(d);
  return ok;
}

static rsp_err_t dec(const struct rsp_msg_json_type *t, const char *json,
                     struct rsp_msg_json_doc *doc, void *body, struct rsp_msg_json_diag *diag) {
  return rsp_msg_json_decode(t, json, strlen(json), doc, body, diag);
}

/* Decoding must fail with this error, problem and key path. */
static void expect_fail_(const char *file, int line, const struct rsp_msg_json_type *t,
                         const char *json, size_t len, rsp_err_t want,
                         enum rsp_msg_json_problem problem, const char *key) {
  struct rsp_msg_json_doc doc;
  struct rsp_msg_json_diag diag;
  union body body;
  rsp_msg_json_doc_init(&doc);
  rsp_err_t rc = rsp_msg_json_decode(t, json, len, &doc, &body, &diag);
  rsp_test_checks++;
  if (rc != want || diag.problem != problem || strcmp(diag.key, key) != 0)
    rsp_test_fail(file, line,
                  "%s: got %s problem %d key \"%s\" (%s), expected %s problem %d key \"%s\"",
                  t->name, rsp_err_name(rc), (int)diag.problem, diag.key, diag.text,
                  rsp_err_name(want), (int)problem, key);
  rsp_msg_json_doc_free(&doc);
}
#define EXPECT_FAIL(type, json, want, problem, key)                                                \
  expect_fail_(__FILE__, __LINE__, &(type), (json), strlen(json), (want), (problem), (key))

#define OK_HEADER "\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}}"

/* Bytes used by the samples (synthetic, built for these tests). */
#define TXID "0123456789ABCDEF0123456789ABCDEF"
#define SERVER_SIGNED1                                                                             \
  "30448010" TXID "8110A1A2A3A4A5A6A7A8A9AAABACADAEAFB0830C736D64702E6578616D706C65"               \
  "841000112233445566778899AABBCCDDEEFF"
#define RAW_SIG                                                                                    \
  "03080D12171C21262B30353A3F44494E53585D62676C71767B80858A8F94999EA3A8ADB2B7BCC1C6CBD0D5DADFE4E9" \
  "EEF3F8FD02070C11161B20252A2F34393E"
#define SIG_TLV "5F3740" RAW_SIG
#define CI_PKID "0414F0EFEEEDECEBEAE9E8E7E6E5E4E3E2E1E0DFDEDD"
#define CERT "300A020101300506032B6570"
/* The EuiccPackageRequest of notes §3.1 (enable PSMO, eimId "eIM", counter 1006). */
#define BF51_PACKAGE                                                                               \
  "BF518182303D800365494D5A1089044045118427484800000000011628810203EE8210F92B2FEE35632499E841CB75" \
  "4FDFD9F3A00EA30C5A0A989444999999990920F35F37408D5DE179B03A3FE13CD3A7E5A947FDDBB831ACC8F9AAFDC9" \
  "777D314837CB0C805EE3029BF2445611C1580DC4470147DD6293ECA66987BC9A0A704CAB0031B223"
#define EID_DIGITS "89049032123451234512345678901235"

/* ---- base64 ---------------------------------------------------------------------------------- */

static void base64_rfc4648_vectors(void) {
  static const struct {
    const char *in, *out;
  } v[] = {{"", ""},
           {"f", "Zg=="},
           {"fo", "Zm8="},
           {"foo", "Zm9v"},
           {"foob", "Zm9vYg=="},
           {"fooba", "Zm9vYmE="},
           {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char out[16];
    uint8_t back[16];
    size_t n = strlen(v[i].in), len = 99;
    CHECK_EQ(rsp_msg_base64_encoded_len(n), strlen(v[i].out));
    CHECK_OK(rsp_msg_base64_encode((const uint8_t *)v[i].in, n, out, sizeof out));
    CHECK_STR(out, v[i].out);
    CHECK_OK(rsp_msg_base64_decode(v[i].out, strlen(v[i].out), back, sizeof back, &len));
    CHECK_EQ(len, n);
    CHECK_MEM(back, v[i].in, n);
  }
  /* Every byte value, all three tail lengths. */
  uint8_t all[256], back[256];
  char text[400];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  for (size_t n = 253; n <= 256; n++) {
    size_t len;
    CHECK_OK(rsp_msg_base64_encode(all, n, text, sizeof text));
    CHECK_OK(rsp_msg_base64_decode(text, strlen(text), back, sizeof back, &len));
    CHECK_EQ(len, n);
    CHECK_MEM(back, all, n);
  }
  char small[4];
  CHECK_ERR(rsp_msg_base64_encode((const uint8_t *)"foo", 3, small, sizeof small), RSP_E_BUF_SMALL);
  CHECK_ERR(rsp_msg_base64_decode("Zm9vYmFy", 8, back, 5, NULL), RSP_E_BUF_SMALL);
  CHECK_ERR(rsp_msg_base64_decode("Zm9vYg==", 8, back, 3, NULL), RSP_E_BUF_SMALL);
}

static void base64_rejects_non_canonical(void) {
  static const char *bad[] = {
      "Zg",         /* padding missing */
      "Zm8",        /* padding missing */
      "Zm9vY",      /* length not a multiple of 4 */
      "Zg=",        /* short padding */
      "Z===",       /* three pad characters */
      "====",       /* only padding */
      "Zg=A",       /* data after padding */
      "Zm=v",       /* padding in the middle of a quad */
      "Zg==Zm9v",   /* padding before the end */
      "Zh==",       /* non-zero unused bits (RFC 4648 §3.5) */
      "Zm9=",       /* non-zero unused bits */
      "Zm9v\n",     /* trailing newline */
      "Zm9v\r\n",   /* CRLF */
      " Zm9v",      /* leading space */
      "Zm 9v",      /* inner space */
      "Zm9v\tYmFy", /* tab */
      "Zm9-",       /* URL-safe alphabet */
      "Zm9_",       /* URL-safe alphabet */
      "Zm9*",       /* not in any alphabet */
      "Zm9\x80",    /* high byte */
  };
  uint8_t out[16];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rsp_err_t rc = rsp_msg_base64_decode(bad[i], strlen(bad[i]), out, sizeof out, NULL);
    rsp_test_checks++;
    if (rc != RSP_E_BASE64_INVALID) rsp_test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
  }
  /* An embedded NUL is just an invalid character. */
  CHECK_ERR(rsp_msg_base64_decode("Zm\0v", 4, out, sizeof out, NULL), RSP_E_BASE64_INVALID);
}

/* ---- the tables ------------------------------------------------------------------------------ */

static void tables_are_consistent(void) {
  for (int f = 1; f < RSP_MSG_JSON_FUNC__COUNT; f++) {
    const struct rsp_msg_json_func_info *fi = rsp_msg_json_func_get((enum rsp_msg_json_func)f);
    CHECK(fi != NULL);
    if (!fi) continue;
    CHECK_EQ(fi->func, f);
    CHECK(fi->request && fi->response && fi->name && fi->path);
    CHECK(fi->request->size <= BODY_MAX && fi->response->size <= BODY_MAX);
    /* Responses start with the header; requests never carry the response header. */
    CHECK(fi->response->flags & RSP_MSG_JSON_T_RESPONSE);
    CHECK(fi->response->fields[0].type == &rsp_msg_json_resp_header_type);
    CHECK_STR(fi->response->fields[0].key, "header");
    CHECK(!(fi->request->flags & RSP_MSG_JSON_T_RESPONSE));
    /* The path ends in the function's name. */
    size_t pl = strlen(fi->path), nl = strlen(fi->name);
    CHECK(pl > nl && strcmp(fi->path + pl - nl, fi->name) == 0 && fi->path[pl - nl - 1] == '/');
    /* ES2+ requests carry a mandatory header; ESipa requests none. */
    const struct rsp_msg_json_field *h = &fi->request->fields[0];
    if (strstr(fi->path, "/es2plus/"))
      CHECK(h->type == &rsp_msg_json_req_header_type && (h->flags & RSP_MSG_JSON_F_REQUIRED));
    if (strstr(fi->path, "/esipa/")) CHECK(strcmp(h->key, "header") != 0);
    if (strstr(fi->path, "/es9plus/"))
      CHECK(h->type == &rsp_msg_json_req_header_type && !(h->flags & RSP_MSG_JSON_F_REQUIRED));
  }
  CHECK(rsp_msg_json_func_get(RSP_MSG_JSON_FUNC_NONE) == NULL);
  CHECK(rsp_msg_json_func_get(RSP_MSG_JSON_FUNC__COUNT) == NULL);
}

static void paths_map_to_functions(void) {
  for (int f = 1; f < RSP_MSG_JSON_FUNC__COUNT; f++) {
    const struct rsp_msg_json_func_info *fi = rsp_msg_json_func_get((enum rsp_msg_json_func)f);
    CHECK_EQ(rsp_msg_json_func_from_path(fi->path), f);
    CHECK_EQ(rsp_msg_json_func_from_path(jsonf("%s?trace=1", fi->path)), f);
  }
  CHECK_EQ(rsp_msg_json_func_from_path(RSP_ES9P_PATH_INITIATE_AUTHENTICATION),
           RSP_MSG_JSON_FUNC_ES9P_INITIATE_AUTHENTICATION);
  CHECK_EQ(rsp_msg_json_func_from_path("/gsma/rsp2/esipa/getEimPackage"),
           RSP_MSG_JSON_FUNC_ESIPA_GET_EIM_PACKAGE);
  CHECK_EQ(rsp_msg_json_func_from_path("/gsma/rsp2/es2plus/confirmOrder"),
           RSP_MSG_JSON_FUNC_ES2P_CONFIRM_ORDER);
  CHECK_STR(RSP_ESIPA_JSON_PATH_PROVIDE_EIM_PACKAGE_RESULT,
            "/gsma/rsp2/esipa/provideEimPackageResult");
  CHECK_STR(RSP_ES2P_PATH_HANDLE_DOWNLOAD_PROGRESS_INFO,
            "/gsma/rsp2/es2plus/handleDownloadProgressInfo");
  static const char *unknown[] = {"",
                                  "/",
                                  "/gsma/rsp2/es9plus/",
                                  "/gsma/rsp2/es9plus/initiateAuthentication/",
                                  "/gsma/rsp2/es9plus/initiateauthentication",
                                  "/gsma/rsp2/asn1",
                                  "gsma/rsp2/esipa/getEimPackage",
                                  "/esipa",
                                  "/gsma/rsp2/es9plus/initiateAuthenticationX"};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    CHECK_EQ(rsp_msg_json_func_from_path(unknown[i]), RSP_MSG_JSON_FUNC_NONE);
  CHECK_EQ(rsp_msg_json_func_from_path(NULL), RSP_MSG_JSON_FUNC_NONE);
}

/* ---- generic round trips of every body ------------------------------------------------------- */

/* Fills every field (or, with `minimal`, only the required ones) with valid values; of a
 * CHOICE only the first alternative. */
static void fill_body(struct rsp_arena *a, const struct rsp_msg_json_type *t, void *body,
                      bool minimal, int seed);

static struct rsp_slice fill_bytes(struct rsp_arena *a, size_t n, int seed) {
  uint8_t *p = rsp_arena_alloc(a, n + 1);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + (size_t)seed);
  return (struct rsp_slice){p, n};
}

static struct rsp_slice fill_tlv(struct rsp_arena *a, const struct rsp_msg_json_field *f,
                                 int seed) {
  uint32_t tag = f->tags[0] ? f->tags[0] : RSP_DER_SEQUENCE;
  size_t vlen = f->wrap_len ? f->wrap_len : 5;
  uint8_t t[4], l[5];
  size_t tn = rsp_der_encode_tag(tag, t), ln = rsp_der_encode_len(vlen, l);
  uint8_t *p = rsp_arena_alloc(a, tn + ln + vlen);
  memcpy(p, t, tn);
  memcpy(p + tn, l, ln);
  for (size_t i = 0; i < vlen; i++) p[tn + ln + i] = (uint8_t)(i + (size_t)seed);
  return (struct rsp_slice){p, tn + ln + vlen};
}

static const char *fill_string(struct rsp_arena *a, const struct rsp_msg_json_field *f, int seed) {
  char *s = rsp_arena_alloc(a, 64);
  if (f->lo > 0) { /* ICCID-like: digits only */
    for (int64_t i = 0; i < f->lo; i++) s[i] = (char)('0' + (i + seed) % 10);
  } else {
    snprintf(s, 64, "v\xC3\xA9-%d \"q\" \\ /%s", seed, f->key); /* UTF-8, escapes */
  }
  return s;
}

static void fill_field(struct rsp_arena *a, const struct rsp_msg_json_field *f, void *body,
                       bool minimal, int seed) {
  void *p = (char *)body + f->offset;
  switch (f->kind) {
  case RSP_MSG_JSON_STRING:
    *(const char **)p = fill_string(a, f, seed);
    break;
  case RSP_MSG_JSON_HEX:
    *(struct rsp_slice *)p = fill_bytes(a, f->hi > 0 && f->hi < 16 ? (size_t)f->hi : 16, seed);
    break;
  case RSP_MSG_JSON_B64:
    *(struct rsp_slice *)p = fill_bytes(a, f->lo > 0 ? (size_t)f->lo : 20, seed);
    break;
  case RSP_MSG_JSON_B64_TLV:
    *(struct rsp_slice *)p = fill_tlv(a, f, seed);
    break;
  case RSP_MSG_JSON_EID: {
    size_t n;
    uint8_t *d = rsp_test_hex(EID_DIGITS, &n);
    uint8_t *e = rsp_arena_alloc(a, n);
    memcpy(e, d, n);
    rsp_free(d);
    *(struct rsp_slice *)p = (struct rsp_slice){e, n};
    break;
  }
  case RSP_MSG_JSON_INT:
    *(struct rsp_msg_int *)p = (struct rsp_msg_int){1, true};
    break;
  case RSP_MSG_JSON_BOOL:
    *(struct rsp_msg_bool *)p = (struct rsp_msg_bool){true, true};
    break;
  case RSP_MSG_JSON_ENUM:
    *(int *)p = RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS;
    break;
  case RSP_MSG_JSON_OBJECT:
    if (f->flags & RSP_MSG_JSON_F_INLINE) {
      fill_body(a, f->type, p, minimal, seed);
    } else {
      void *o = rsp_arena_alloc(a, f->type->size);
      fill_body(a, f->type, o, minimal, seed);
      *(void **)p = o;
    }
    break;
  case RSP_MSG_JSON_ARRAY: { /* two items */
    char *items = rsp_arena_alloc(a, 2 * f->type->size);
    for (int i = 0; i < 2; i++) fill_body(a, f->type, items + i * f->type->size, minimal, seed + i);
    *(struct rsp_msg_json_array *)p = (struct rsp_msg_json_array){items, 2};
    break;
  }
  default:
    CHECK(!"unknown kind");
  }
}

static void fill_body(struct rsp_arena *a, const struct rsp_msg_json_type *t, void *body,
                      bool minimal, int seed) {
  bool chose = false;
  for (size_t i = 0; i < t->nfields; i++) {
    const struct rsp_msg_json_field *f = &t->fields[i];
    if (f->flags & RSP_MSG_JSON_F_CHOICE) {
      if (chose) continue;
      chose = true;
    } else if (minimal && !(f->flags & RSP_MSG_JSON_F_REQUIRED)) {
      continue;
    }
    fill_field(a, f, body, minimal, seed + (int)i);
  }
  /* AuthenticateClientResponseEsipa: okDP (the DP keys) or okDS (transactionId only). */
  if (t == &rsp_esipa_json_authenticate_client_resp_type) {
    struct rsp_esipa_json_authenticate_client_resp *r = body;
    r->profile_download_trigger = (struct rsp_slice){0};
    if (minimal) r->transaction_id = fill_bytes(a, 4, seed);
  }
}

/* encode -> decode -> equal, and a second encoding gives the same text. */
static void roundtrip_one(const struct rsp_msg_json_type *t, const void *body) {
  struct rsp_buf b1, b2;
  struct rsp_msg_json_doc doc;
  struct rsp_msg_json_diag diag;
  union body back;
  rsp_buf_init(&b1, RSP_MSG_JSON_MAX_BODY);
  rsp_buf_init(&b2, RSP_MSG_JSON_MAX_BODY);
  rsp_msg_json_doc_init(&doc);
  rsp_err_t rc = rsp_msg_json_encode(t, body, &b1, &diag);
  rsp_test_checks++;
  if (rc != RSP_OK) rsp_test_fail(__FILE__, __LINE__, "%s encode: %s", t->name, diag.text);
  rc = rsp_msg_json_decode(t, (const char *)b1.data, b1.len, &doc, &back, &diag);
  rsp_test_checks++;
  if (rc != RSP_OK)
    rsp_test_fail(__FILE__, __LINE__, "%s decode %.*s: %s", t->name, (int)b1.len,
                  (const char *)b1.data, diag.text);
  CHECK(rsp_msg_json_equal(t, body, &back));
  CHECK_OK(rsp_msg_json_encode(t, &back, &b2, NULL));
  CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
  CHECK(b1.len > 0 && b1.data[0] == '{' && b1.data[b1.len - 1] == '}');
  if ((t->flags & RSP_MSG_JSON_T_RESPONSE) && rsp_msg_json_field_present(&t->fields[0], body))
    CHECK(b1.len >= 10 && memcmp(b1.data, "{\"header\":", 10) == 0);
  rsp_buf_free(&b1);
  rsp_buf_free(&b2);
  rsp_msg_json_doc_free(&doc);
}

static void roundtrip_type(const struct rsp_msg_json_type *t) {
  struct rsp_arena a;
  rsp_arena_init(&a, 1u << 20);
  for (int minimal = 0; minimal < 2; minimal++) {
    void *body = rsp_arena_alloc(&a, t->size);
    fill_body(&a, t, body, minimal, 3 + minimal);
    roundtrip_one(t, body);
  }
  if (t->flags & RSP_MSG_JSON_T_RESPONSE) {
    /* Failed: only the header goes out and comes back. */
    void *body = rsp_arena_alloc(&a, t->size);
    struct rsp_msg_json_resp_header *h = (void *)((char *)body + t->fields[0].offset);
    struct rsp_msg_json_status_code_data scd = {"8.1.1", "3.8", "subject-1", "failed \xE2\x9C\x97"};
    h->function_execution_status.status = RSP_MSG_JSON_STATUS_FAILED;
    h->function_execution_status.status_code_data = &scd;
    roundtrip_one(t, body);
  }
  rsp_arena_free(&a);
}

static void every_function_roundtrips(void) {
  for (int f = 1; f < RSP_MSG_JSON_FUNC__COUNT; f++) {
    const struct rsp_msg_json_func_info *fi = rsp_msg_json_func_get((enum rsp_msg_json_func)f);
    roundtrip_type(fi->request);
    roundtrip_type(fi->response);
  }
}

/* Every allocation of every encode and decode can fail: the result is RSP_E_NOMEM, nothing leaks
 * (ASan checks), and with enough memory the same call succeeds. */
static void alloc_failure_type(const struct rsp_msg_json_type *t) {
  struct rsp_arena a;
  struct rsp_buf b;
  rsp_arena_init(&a, 1u << 20);
  rsp_buf_init(&b, RSP_MSG_JSON_MAX_BODY);
  void *body = rsp_arena_alloc(&a, t->size);
  fill_body(&a, t, body, false, 1);
  rsp_err_t rc = RSP_E_NOMEM;
  long n;
  for (n = 0; n < 10000 && rc != RSP_OK; n++) {
    rsp_buf_free(&b);
    rsp_test_alloc_fail_after(n);
    rc = rsp_msg_json_encode(t, body, &b, NULL);
    rsp_test_alloc_fail_after(-1);
    rsp_test_checks++;
    if (rc != RSP_OK && rc != RSP_E_NOMEM)
      rsp_test_fail(__FILE__, __LINE__, "%s encode after %ld: %s", t->name, n, rsp_err_name(rc));
    if (rc != RSP_OK) CHECK_EQ(b.len, 0);
  }
  CHECK_OK(rc);
  rc = RSP_E_NOMEM;
  for (n = 0; n < 10000 && rc != RSP_OK; n++) {
    struct rsp_msg_json_doc doc;
    struct rsp_msg_json_diag diag;
    union body back;
    rsp_msg_json_doc_init(&doc);
    rsp_test_alloc_fail_after(n);
    rc = rsp_msg_json_decode(t, (const char *)b.data, b.len, &doc, &back, &diag);
    rsp_test_alloc_fail_after(-1);
    rsp_test_checks++;
    if (rc != RSP_OK && (rc != RSP_E_NOMEM || diag.problem != RSP_MSG_JSON_P_NOMEM))
      rsp_test_fail(__FILE__, __LINE__, "%s decode after %ld: %s %s", t->name, n, rsp_err_name(rc),
                    diag.text);
    if (rc == RSP_OK) CHECK(rsp_msg_json_equal(t, body, &back));
    rsp_msg_json_doc_free(&doc);
  }
  CHECK_OK(rc);
  CHECK(n > 1); /* decoding allocated, so some runs failed */
  rsp_buf_free(&b);
  rsp_arena_free(&a);
}

static void every_function_survives_alloc_failure(void) {
  for (int f = 1; f < RSP_MSG_JSON_FUNC__COUNT; f++) {
    const struct rsp_msg_json_func_info *fi = rsp_msg_json_func_get((enum rsp_msg_json_func)f);
    alloc_failure_type(fi->request);
    alloc_failure_type(fi->response);
  }
}

/* ---- ES9+ samples ---------------------------------------------------------------------------- */

static void es9p_initiate_authentication_request_exact_text(void) {
  size_t n1, n2;
  uint8_t *chal = rsp_test_hex("A1A2A3A4A5A6A7A8A9AAABACADAEAFB0", &n1);
  uint8_t *info1 = rsp_test_hex("BF2003820102", &n2);
  struct rsp_es9p_json_initiate_authentication_req r = {
      .euicc_challenge = {chal, n1}, .euicc_info1 = {info1, n2}, .smdp_address = "smdp.example"};
  struct rsp_buf b;
  rsp_buf_init(&b, 4096);
  CHECK_OK(rsp_msg_json_encode(&rsp_es9p_json_initiate_authentication_req_type, &r, &b, NULL));
  const char *want = "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"euiccInfo1\":\"vyADggEC\","
                     "\"smdpAddress\":\"smdp.example\"}";
  CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
  /* With the header an eIM adds. */
  struct rsp_msg_json_req_header h = {"eim.example", "42"};
  r.header = &h;
  rsp_buf_reset(&b);
  CHECK_OK(rsp_msg_json_encode(&rsp_es9p_json_initiate_authentication_req_type, &r, &b, NULL));
  const char *want2 = "{\"header\":{\"functionRequesterIdentifier\":\"eim.example\","
                      "\"functionCallIdentifier\":\"42\"},\"euiccChallenge\":";
  CHECK(b.len > strlen(want2) && memcmp(b.data, want2, strlen(want2)) == 0);
  rsp_buf_free(&b);
  rsp_free(chal);
  rsp_free(info1);
}

static void es9p_initiate_authentication_response_sample(void) {
  const char *json = jsonf(
      "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"
      "\"transactionId\":\"%s\",\"serverSigned1\":\"%s\",\"serverSignature1\":\"%s\","
      "\"euiccCiPKIdToBeUsed\":\"%s\",\"serverCertificate\":\"%s\",\"futureKey\":{\"a\":[1,2]}}",
      "0123456789abcdef0123456789ABCDEF", b64_of_hex(SERVER_SIGNED1), b64_of_hex(SIG_TLV),
      b64_of_hex(CI_PKID), b64_of_hex(CERT));
  struct rsp_es9p_json_initiate_authentication_resp r;
  struct rsp_msg_json_doc doc;
  struct rsp_msg_json_diag diag;
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(dec(&rsp_es9p_json_initiate_authentication_resp_type, json, &doc, &r, &diag));
  CHECK_EQ(r.header.function_execution_status.status, RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS);
  CHECK(r.header.function_execution_status.status_code_data == NULL);
  CHECK(rsp_msg_json_status_ok(&r.header));
  CHECK(slice_is_hex(r.transaction_id, TXID)); /* lower-case hex accepted */
  CHECK(slice_is_hex(r.server_signed1, SERVER_SIGNED1));
  CHECK(slice_is_hex(r.server_signature1, SIG_TLV));
  CHECK(slice_is_hex(r.euicc_ci_pk_id_to_be_used, CI_PKID));
  CHECK(slice_is_hex(r.server_certificate, CERT));
  /* The decoded values do not point into the text. */
  CHECK(r.server_signed1.p < (const uint8_t *)json ||
        r.server_signed1.p > (const uint8_t *)json + strlen(json));
  /* Re-encoding writes the transactionId in upper case. */
  struct rsp_buf b;
  rsp_buf_init(&b, 8192);
  CHECK_OK(rsp_msg_json_encode(&rsp_es9p_json_initiate_authentication_resp_type, &r, &b, NULL));
  CHECK(b.len > 0 && strstr(jsonf("%.*s", (int)b.len, (const char *)b.data),
                            "\"transactionId\":\"" TXID "\"") != NULL);
  rsp_buf_free(&b);
  rsp_msg_json_doc_free(&doc);
}

static void es9p_failed_header_with_status_code_data(void) {
  const char *json =
      "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\",\"statusCodeData\":"
      "{\"subjectCode\":\"8.10.1\",\"reasonCode\":\"3.9\",\"subjectIdentifier\":\"0123\","
      "\"message\":\"Unknown transactionId\"}}}}";
  struct rsp_es9p_json_authenticate_client_resp r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(dec(&rsp_es9p_json_authenticate_client_resp_type, json, &doc, &r, NULL));
  const struct rsp_msg_json_exec_status *st = &r.header.function_execution_status;
  CHECK_EQ(st->status, RSP_MSG_JSON_STATUS_FAILED);
  CHECK(!rsp_msg_json_status_ok(&r.header));
  CHECK(st->status_code_data != NULL);
  CHECK(rsp_msg_json_status_code_is(st, "8.10.1", "3.9"));
  CHECK(rsp_msg_json_status_code_is(st, "8.10.1", NULL));
  CHECK(!rsp_msg_json_status_code_is(st, "8.10.1", "3.8"));
  CHECK(!rsp_msg_json_status_code_is(st, "8.10", "3.9"));
  CHECK_STR(st->status_code_data->subject_identifier, "0123");
  CHECK_STR(st->status_code_data->message, "Unknown transactionId");
  /* A Failed body carries only the header: required keys are not demanded. */
  CHECK(r.transaction_id.p == NULL && r.smdp_signed2.p == NULL);
  /* ... and whatever else it carries is not read (not even checked). */
  CHECK_OK(dec(&rsp_es9p_json_authenticate_client_resp_type,
               "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Expired\"}},"
               "\"transactionId\":17,\"smdpSigned2\":\"!!\"}",
               &doc, &r, NULL));
  CHECK_EQ(r.header.function_execution_status.status, RSP_MSG_JSON_STATUS_EXPIRED);
  CHECK(r.transaction_id.p == NULL);
  /* Executed-WithWarning is a success: the body is required. */
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_resp_type,
              "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-WithWarning\"}}}",
              RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "transactionId");
  /* statusCodeData needs subjectCode and reasonCode. */
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_resp_type,
              "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\","
              "\"statusCodeData\":{\"subjectCode\":\"8.1\"}}}}",
              RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING,
              "header.functionExecutionStatus.statusCodeData.reasonCode");
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_resp_type,
              "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Done\"}}}",
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "header.functionExecutionStatus.status");
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_resp_type,
              "{\"header\":{\"functionExecutionStatus\":{}}}", RSP_E_JSON_MISSING,
              RSP_MSG_JSON_P_MISSING, "header.functionExecutionStatus.status");
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_resp_type, "{\"transactionId\":\"01\"}",
              RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "header");
  CHECK_STR(rsp_msg_json_status_name(RSP_MSG_JSON_STATUS_EXECUTED_WITH_WARNING),
            "Executed-WithWarning");
  CHECK(rsp_msg_json_status_name(RSP_MSG_JSON_STATUS_ABSENT) == NULL);
  rsp_msg_json_doc_free(&doc);
}

static void es9p_bodyless_responses(void) {
  struct rsp_msg_json_doc doc;
  union body body;
  rsp_msg_json_doc_init(&doc);
  /* handleNotification: 204 and no body; cancelSession: no body (TTCN) or header +
   * transactionId (osmo-smdpp). */
  CHECK_OK(
      rsp_msg_json_decode(&rsp_es9p_json_handle_notification_resp_type, "", 0, &doc, &body, NULL));
  CHECK_OK(
      rsp_msg_json_decode(&rsp_es9p_json_cancel_session_resp_type, NULL, 0, &doc, &body, NULL));
  struct rsp_es9p_json_cancel_session_resp cs;
  CHECK_OK(dec(&rsp_es9p_json_cancel_session_resp_type,
               "{" OK_HEADER ",\"transactionId\":\"" TXID "\"}", &doc, &cs, NULL));
  CHECK(slice_is_hex(cs.transaction_id, TXID));
  CHECK_OK(dec(&rsp_es9p_json_cancel_session_resp_type, "{}", &doc, &cs, NULL));
  CHECK_EQ(cs.header.function_execution_status.status, RSP_MSG_JSON_STATUS_ABSENT);
  /* Bodies that must be there. */
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_resp_type, "", RSP_E_JSON_INVALID,
              RSP_MSG_JSON_P_SYNTAX, "");
  EXPECT_FAIL(rsp_es9p_json_handle_notification_req_type, "", RSP_E_JSON_INVALID,
              RSP_MSG_JSON_P_SYNTAX, "");
  rsp_msg_json_doc_free(&doc);
}

static void es9p_handle_notification_tags(void) {
  struct rsp_es9p_json_handle_notification_req r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(dec(&rsp_es9p_json_handle_notification_req_type,
               jsonf("{\"pendingNotification\":\"%s\"}", b64_of_hex("BF3703800101")), &doc, &r,
               NULL));
  CHECK(slice_is_hex(r.pending_notification, "BF3703800101"));
  CHECK_OK(dec(&rsp_es9p_json_handle_notification_req_type,
               jsonf("{\"pendingNotification\":\"%s\"}", b64_of_hex("3000")), &doc, &r, NULL));
  EXPECT_FAIL(rsp_es9p_json_handle_notification_req_type,
              jsonf("{\"pendingNotification\":\"%s\"}", b64_of_hex("BF2F00")),
              RSP_E_DER_UNEXPECTED_TAG, RSP_MSG_JSON_P_DER, "pendingNotification");
  rsp_msg_json_doc_free(&doc);
}

/* ---- ES2+ samples ---------------------------------------------------------------------------- */

static void es2p_confirm_order_with_release_flag(void) {
  const char *json = "{\"header\":{\"functionRequesterIdentifier\":\"operator-1\","
                     "\"functionCallIdentifier\":\"call-42\"},\"iccid\":\"8944476500001234567F\","
                     "\"eid\":\"" EID_DIGITS "\",\"matchingId\":\"ABCD-1234\","
                     "\"confirmationCode\":\"1234\",\"releaseFlag\":true}";
  struct rsp_es2p_json_confirm_order_req r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(dec(&rsp_es2p_json_confirm_order_req_type, json, &doc, &r, NULL));
  CHECK_STR(r.header.function_requester_identifier, "operator-1");
  CHECK_STR(r.header.function_call_identifier, "call-42");
  CHECK_STR(r.iccid, "8944476500001234567F");
  CHECK(slice_is_hex(r.eid, EID_DIGITS));
  CHECK_STR(r.matching_id, "ABCD-1234");
  CHECK_STR(r.confirmation_code, "1234");
  CHECK(r.smds_address == NULL);
  CHECK(r.release_flag.present && r.release_flag.v);
  CHECK_OK(
      dec(&rsp_es2p_json_confirm_order_req_type,
          "{\"header\":{\"functionRequesterIdentifier\":\"o\",\"functionCallIdentifier\":\"c\"},"
          "\"iccid\":\"894447650000123456\",\"releaseFlag\":false}",
          &doc, &r, NULL));
  CHECK(r.release_flag.present && !r.release_flag.v);
  const char *hdr =
      "\"header\":{\"functionRequesterIdentifier\":\"o\",\"functionCallIdentifier\":\"c\"}";
  EXPECT_FAIL(rsp_es2p_json_confirm_order_req_type,
              jsonf("{%s,\"iccid\":\"894447650000123456\"}", hdr), RSP_E_JSON_MISSING,
              RSP_MSG_JSON_P_MISSING, "releaseFlag");
  EXPECT_FAIL(rsp_es2p_json_confirm_order_req_type,
              jsonf("{%s,\"iccid\":\"894447650000123456\",\"releaseFlag\":\"true\"}", hdr),
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE, "releaseFlag");
  EXPECT_FAIL(rsp_es2p_json_confirm_order_req_type,
              jsonf("{%s,\"iccid\":\"894447650000123456\",\"releaseFlag\":1}", hdr),
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE, "releaseFlag");
  EXPECT_FAIL(rsp_es2p_json_confirm_order_req_type,
              "{\"iccid\":\"894447650000123456\",\"releaseFlag\":true}", RSP_E_JSON_MISSING,
              RSP_MSG_JSON_P_MISSING, "header");
  EXPECT_FAIL(
      rsp_es2p_json_confirm_order_req_type,
      "{\"header\":{\"functionRequesterIdentifier\":\"o\"},\"iccid\":\"894447650000123456\","
      "\"releaseFlag\":true}",
      RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "header.functionCallIdentifier");
  EXPECT_FAIL(rsp_es2p_json_confirm_order_req_type,
              jsonf("{%s,\"iccid\":\"89444765\",\"releaseFlag\":true}", hdr), RSP_E_JSON_INVALID,
              RSP_MSG_JSON_P_VALUE, "iccid");
  EXPECT_FAIL(
      rsp_es2p_json_confirm_order_req_type,
      jsonf("{%s,\"iccid\":\"894447650000123456\",\"releaseFlag\":true,\"eid\":\"8904\"}", hdr),
      RSP_E_HEX_INVALID, RSP_MSG_JSON_P_HEX, "eid");
  EXPECT_FAIL(rsp_es2p_json_confirm_order_req_type,
              jsonf("{%s,\"iccid\":\"894447650000123456\",\"releaseFlag\":true,"
                    "\"eid\":\"8904903212345123451234567890123G\"}",
                    hdr),
              RSP_E_HEX_INVALID, RSP_MSG_JSON_P_HEX, "eid");
  /* The response. */
  struct rsp_es2p_json_confirm_order_resp resp;
  CHECK_OK(dec(&rsp_es2p_json_confirm_order_resp_type,
               "{" OK_HEADER ",\"eid\":\"" EID_DIGITS "\",\"matchingId\":\"ABCD-1234\","
               "\"smdpAddress\":\"smdp.example\"}",
               &doc, &resp, NULL));
  CHECK_STR(resp.matching_id, "ABCD-1234");
  CHECK_STR(resp.smdp_address, "smdp.example");
  rsp_msg_json_doc_free(&doc);
}

static void es2p_handle_download_progress_info_sample(void) {
  const char *json =
      "{\"header\":{\"functionRequesterIdentifier\":\"smdp.example\",\"functionCallIdentifier\":"
      "\"7\"},\"eid\":\"" EID_DIGITS "\",\"iccid\":\"8944476500001234567\",\"profileType\":\"IoT\","
      "\"timestamp\":\"2025-01-31T12:00:00Z\",\"notificationPointId\":3,"
      "\"notificationPointStatus\":{\"status\":\"Failed\",\"statusCodeData\":{\"subjectCode\":"
      "\"8.1\",\"reasonCode\":\"6.1\"}},\"resultData\":\"vzcA\"}";
  struct rsp_es2p_json_handle_download_progress_info_req r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(dec(&rsp_es2p_json_handle_download_progress_info_req_type, json, &doc, &r, NULL));
  CHECK(r.notification_point_id.present && r.notification_point_id.v == 3);
  CHECK_EQ(r.notification_point_status.status, RSP_MSG_JSON_STATUS_FAILED);
  CHECK(rsp_msg_json_status_code_is(&r.notification_point_status, "8.1", "6.1"));
  CHECK(slice_is_hex(r.result_data, "BF3700"));
  CHECK_STR(r.timestamp, "2025-01-31T12:00:00Z");
  EXPECT_FAIL(
      rsp_es2p_json_handle_download_progress_info_req_type,
      "{\"header\":{\"functionRequesterIdentifier\":\"a\",\"functionCallIdentifier\":\"7\"},"
      "\"iccid\":\"8944476500001234567\",\"profileType\":\"IoT\",\"timestamp\":\"t\","
      "\"notificationPointId\":1.0,\"notificationPointStatus\":{\"status\":\"Failed\"}}",
      RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE, "notificationPointId");
  EXPECT_FAIL(
      rsp_es2p_json_handle_download_progress_info_req_type,
      "{\"header\":{\"functionRequesterIdentifier\":\"a\",\"functionCallIdentifier\":\"7\"},"
      "\"iccid\":\"8944476500001234567\",\"profileType\":\"IoT\",\"timestamp\":\"t\","
      "\"notificationPointId\":1}",
      RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "notificationPointStatus");
  /* The operator's 204. */
  union body body;
  CHECK_OK(rsp_msg_json_decode(&rsp_es2p_json_handle_download_progress_info_resp_type, "", 0, &doc,
                               &body, NULL));
  rsp_msg_json_doc_free(&doc);
}

/* ---- ESipa samples --------------------------------------------------------------------------- */

static void esipa_get_eim_package_request_forms(void) {
  struct rsp_esipa_json_get_eim_package_req r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(dec(&rsp_esipa_json_get_eim_package_req_type,
               "{\"eidValue\":\"" EID_DIGITS "\",\"notifyStateChange\":true,"
               "\"stateChangeCause\":6,\"rPlmn\":\"AvgB\"}",
               &doc, &r, NULL));
  CHECK(slice_is_hex(r.eid_value, EID_DIGITS));
  CHECK(r.notify_state_change.present && r.notify_state_change.v);
  CHECK(r.state_change_cause.present && r.state_change_cause.v == 6);
  CHECK(slice_is_hex(r.r_plmn, "02F801"));
  /* rPLMN, the ASN.1 spelling, is accepted; rPlmn is what goes out. */
  CHECK_OK(dec(&rsp_esipa_json_get_eim_package_req_type,
               "{\"eidValue\":\"" EID_DIGITS "\",\"rPLMN\":\"AvgB\"}", &doc, &r, NULL));
  CHECK(slice_is_hex(r.r_plmn, "02F801"));
  struct rsp_buf b;
  rsp_buf_init(&b, 4096);
  CHECK_OK(rsp_msg_json_encode(&rsp_esipa_json_get_eim_package_req_type, &r, &b, NULL));
  const char *want = "{\"eidValue\":\"" EID_DIGITS "\",\"rPlmn\":\"AvgB\"}";
  CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
  rsp_buf_free(&b);
  EXPECT_FAIL(rsp_esipa_json_get_eim_package_req_type,
              "{\"eidValue\":\"" EID_DIGITS "\",\"rPLMN\":\"AvgB\",\"rPlmn\":\"AvgB\"}",
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "rPlmn");
  EXPECT_FAIL(rsp_esipa_json_get_eim_package_req_type,
              "{\"eidValue\":\"" EID_DIGITS "\",\"rPLMN\":\"AvgBAA==\"}", RSP_E_BUF_CAP,
              RSP_MSG_JSON_P_SIZE, "rPLMN");
  /* IAPYX sends no rPlmn; OIR reads eidValue as hex (A-F accepted, lower case too). */
  CHECK_OK(dec(&rsp_esipa_json_get_eim_package_req_type,
               "{\"eidValue\":\"89049032123451234512345678901a3f\"}", &doc, &r, NULL));
  CHECK(slice_is_hex(r.eid_value, "89049032123451234512345678901A3F"));
  CHECK(r.r_plmn.p == NULL && !r.notify_state_change.present);
  EXPECT_FAIL(rsp_esipa_json_get_eim_package_req_type,
              "{\"eidValue\":\"" EID_DIGITS "\",\"stateChangeCause\":\"1\"}", RSP_E_JSON_INVALID,
              RSP_MSG_JSON_P_TYPE, "stateChangeCause");
  EXPECT_FAIL(rsp_esipa_json_get_eim_package_req_type,
              "{\"eidValue\":\"" EID_DIGITS "\",\"stateChangeCause\":128}", RSP_E_JSON_INVALID,
              RSP_MSG_JSON_P_VALUE, "stateChangeCause");
  EXPECT_FAIL(rsp_esipa_json_get_eim_package_req_type,
              "{\"eidValue\":\"" EID_DIGITS "\",\"notifyStateChange\":null,\"x\":1,"
              "\"stateChangeCause\":-1}",
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "stateChangeCause");
  EXPECT_FAIL(rsp_esipa_json_get_eim_package_req_type, "{\"eidValue\":null}", RSP_E_JSON_MISSING,
              RSP_MSG_JSON_P_MISSING, "eidValue");
  rsp_msg_json_doc_free(&doc);
}

static void esipa_get_eim_package_response_forms(void) {
  struct rsp_esipa_json_get_eim_package_resp r;
  struct rsp_msg_json_doc doc;
  const struct rsp_msg_json_type *t = &rsp_esipa_json_get_eim_package_resp_type;
  rsp_msg_json_doc_init(&doc);
  /* A package (the captured BF51 of notes §3.1). */
  char pkg[512];
  snprintf(pkg, sizeof pkg, "%s", b64_of_hex(BF51_PACKAGE));
  CHECK_OK(dec(t, jsonf("{" OK_HEADER ",\"euiccPackageRequest\":\"%s\"}", pkg), &doc, &r, NULL));
  CHECK(slice_is_hex(r.euicc_package_request, BF51_PACKAGE));
  CHECK_EQ(rsp_esipa_json_eim_package_error(&r), 0);
  /* OIR: eimPackageError 0 next to the package. */
  CHECK_OK(dec(t,
               jsonf("{" OK_HEADER ",\"euiccPackageRequest\":\"%s\",\"eimPackageError\":0}", pkg),
               &doc, &r, NULL));
  CHECK_EQ(rsp_esipa_json_eim_package_error(&r), 0);
  /* OIR / IAPYX: noEimPackageAvailable as an integer in a success body. */
  CHECK_OK(dec(t, "{" OK_HEADER ",\"eimPackageError\":1}", &doc, &r, NULL));
  CHECK(r.eim_package_error.present && r.eim_package_error.v == 1);
  CHECK_EQ(rsp_esipa_json_eim_package_error(&r), 1);
  CHECK_OK(dec(t, "{" OK_HEADER ",\"eimPackageError\":127}", &doc, &r, NULL));
  CHECK_EQ(rsp_esipa_json_eim_package_error(&r), 127);
  /* GD-IPA: status Failed with 8.1.1 / 3.x. */
  static const struct {
    const char *reason;
    int64_t code;
  } failed[] = {{"3.7", 1}, {"3.9", 2}, {"2.1", 3}, {"2.2", 4}, {"9.9", 127}};
  for (size_t i = 0; i < sizeof failed / sizeof failed[0]; i++) {
    CHECK_OK(dec(t,
                 jsonf("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\","
                       "\"statusCodeData\":{\"subjectCode\":\"8.1.1\",\"reasonCode\":\"%s\"}}}}",
                       failed[i].reason),
                 &doc, &r, NULL));
    CHECK_EQ(rsp_esipa_json_eim_package_error(&r), failed[i].code);
  }
  CHECK_OK(
      dec(t, "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\"}}}", &doc, &r, NULL));
  CHECK_EQ(rsp_esipa_json_eim_package_error(&r), 127);
  /* The eIM side of the Failed form, exactly. */
  struct rsp_esipa_json_get_eim_package_resp out = {0};
  struct rsp_msg_json_status_code_data scd;
  CHECK_OK(rsp_esipa_json_eim_package_error_status(1, &scd));
  CHECK_ERR(rsp_esipa_json_eim_package_error_status(127, &scd), RSP_E_NOT_FOUND);
  CHECK_ERR(rsp_esipa_json_eim_package_error_status(0, &scd), RSP_E_NOT_FOUND);
  CHECK_OK(rsp_esipa_json_eim_package_error_status(1, &scd));
  out.header.function_execution_status.status = RSP_MSG_JSON_STATUS_FAILED;
  out.header.function_execution_status.status_code_data = &scd;
  out.eim_package_error = rsp_msg_int_make(1); /* not emitted with Failed */
  struct rsp_buf b;
  rsp_buf_init(&b, 4096);
  CHECK_OK(rsp_msg_json_encode(t, &out, &b, NULL));
  const char *want = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\","
                     "\"statusCodeData\":{\"subjectCode\":\"8.1.1\",\"reasonCode\":\"3.7\"}}}}";
  CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
  rsp_buf_free(&b);
  /* CHOICE violations. */
  EXPECT_FAIL(*t, "{" OK_HEADER "}", RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "");
  EXPECT_FAIL(*t, "{" OK_HEADER ",\"eimPackageError\":0}", RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE,
              "");
  EXPECT_FAIL(*t,
              jsonf("{" OK_HEADER ",\"euiccPackageRequest\":\"%s\",\"eimPackageError\":2}", pkg),
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "");
  EXPECT_FAIL(*t,
              jsonf("{" OK_HEADER ",\"euiccPackageRequest\":\"%s\",\"ipaEuiccDataRequest\":\"%s\"}",
                    pkg, b64_of_hex("BF5203 5C0180")),
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "");
  EXPECT_FAIL(*t, jsonf("{" OK_HEADER ",\"euiccPackageRequest\":\"%s\"}", b64_of_hex("BF5200 00")),
              RSP_E_DER_TRAILING_BYTES, RSP_MSG_JSON_P_DER, "euiccPackageRequest");
  EXPECT_FAIL(*t, jsonf("{" OK_HEADER ",\"euiccPackageRequest\":\"%s\"}", b64_of_hex("BF5200")),
              RSP_E_DER_UNEXPECTED_TAG, RSP_MSG_JSON_P_DER, "euiccPackageRequest");
  EXPECT_FAIL(*t, "{" OK_HEADER ",\"eimPackageError\":\"1\"}", RSP_E_JSON_INVALID,
              RSP_MSG_JSON_P_TYPE, "eimPackageError");
  rsp_msg_json_doc_free(&doc);
}

static void esipa_provide_eim_package_result_forms(void) {
  const struct rsp_msg_json_type *t = &rsp_esipa_json_provide_eim_package_result_req_type;
  struct rsp_esipa_json_provide_eim_package_result_req r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  static const char *results[] = {"BF5100", "3000", "BF5200", "BF5400", "A003020101", "020101"};
  for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
    CHECK_OK(
        dec(t, jsonf("{\"eimPackageResult\":\"%s\"}", b64_of_hex(results[i])), &doc, &r, NULL));
    CHECK(slice_is_hex(r.eim_package_result, results[i]));
    CHECK(r.eid_value.p == NULL);
  }
  EXPECT_FAIL(*t, jsonf("{\"eimPackageResult\":\"%s\"}", b64_of_hex("BF4F00")),
              RSP_E_DER_UNEXPECTED_TAG, RSP_MSG_JSON_P_DER, "eimPackageResult");
  EXPECT_FAIL(*t, "{\"eidValue\":\"" EID_DIGITS "\"}", RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING,
              "eimPackageResult");
  /* Response: acknowledgements, the empty response, and the Failed mapping. */
  struct rsp_esipa_json_provide_eim_package_result_resp resp;
  const struct rsp_msg_json_type *rt = &rsp_esipa_json_provide_eim_package_result_resp_type;
  CHECK_OK(dec(
      rt, jsonf("{" OK_HEADER ",\"eimAcknowledgements\":\"%s\"}", b64_of_hex("BF5306800101800102")),
      &doc, &resp, NULL));
  CHECK(slice_is_hex(resp.eim_acknowledgements, "BF5306800101800102"));
  CHECK_EQ(rsp_esipa_json_provide_result_error(&resp), 0);
  CHECK_OK(dec(rt, "{" OK_HEADER "}", &doc, &resp, NULL));
  CHECK(resp.eim_acknowledgements.p == NULL);
  CHECK_OK(dec(rt,
               "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\",\"statusCodeData\":"
               "{\"subjectCode\":\"8.1.1\",\"reasonCode\":\"3.9\"}}}}",
               &doc, &resp, NULL));
  CHECK_EQ(rsp_esipa_json_provide_result_error(&resp), 2);
  rsp_msg_json_doc_free(&doc);
}

static void esipa_initiate_authentication_forms(void) {
  const struct rsp_msg_json_type *t = &rsp_esipa_json_initiate_authentication_resp_type;
  struct rsp_esipa_json_initiate_authentication_resp r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  char tail[1024];
  snprintf(tail, sizeof tail, "\"serverSigned1\":\"%s\",\"serverCertificate\":\"%s\"",
           b64_of_hex(SERVER_SIGNED1), b64_of_hex(CERT));
  /* GD-IPA / IAPYX: the full 5F37 TLV, and the v1.2 key. */
  CHECK_OK(dec(t,
               jsonf("{" OK_HEADER ",\"transactionId\":\"" TXID "\",\"serverSignature1\":\"%s\","
                     "\"euiccCiPKIdentifierToBeUsed\":\"%s\",\"matchingId\":\"MID-1\",%s}",
                     b64_of_hex(SIG_TLV), b64_of_hex(CI_PKID), tail),
               &doc, &r, NULL));
  CHECK(slice_is_hex(r.server_signature1, SIG_TLV));
  CHECK(slice_is_hex(r.euicc_ci_pk_identifier_to_be_used, CI_PKID));
  CHECK_STR(r.matching_id, "MID-1");
  CHECK_EQ(rsp_esipa_json_initiate_authentication_error(&r), 0);
  /* A bare 64-byte signature is wrapped; the v1.0 key name is accepted; no transactionId
   * (minimizeEsipaBytes). */
  CHECK_OK(
      dec(t,
          jsonf("{" OK_HEADER ",\"serverSignature1\":\"%s\",\"euiccCiPKIdToBeUsed\":\"%s\",%s}",
                b64_of_hex(RAW_SIG), b64_of_hex(CI_PKID), tail),
          &doc, &r, NULL));
  CHECK(slice_is_hex(r.server_signature1, SIG_TLV));
  CHECK(slice_is_hex(r.euicc_ci_pk_identifier_to_be_used, CI_PKID));
  CHECK(r.transaction_id.p == NULL);
  /* A 5F37 TLV of another size, and a bare value of another size, are refused. */
  EXPECT_FAIL(*t,
              jsonf("{" OK_HEADER ",\"serverSignature1\":\"%s\",\"euiccCiPKIdToBeUsed\":\"%s\",%s}",
                    b64_of_hex("5F3702AABB"), b64_of_hex(CI_PKID), tail),
              RSP_E_DER_BAD_VALUE, RSP_MSG_JSON_P_DER, "serverSignature1");
  EXPECT_FAIL(*t,
              jsonf("{" OK_HEADER ",\"serverSignature1\":\"%s\",\"euiccCiPKIdToBeUsed\":\"%s\",%s}",
                    b64_of_hex("0405AABB"), b64_of_hex(CI_PKID), tail),
              RSP_E_DER_TRUNCATED, RSP_MSG_JSON_P_DER, "serverSignature1");
  EXPECT_FAIL(*t,
              jsonf("{" OK_HEADER ",\"serverSignature1\":\"%s\",\"euiccCiPKIdToBeUsed\":\"%s\","
                    "\"euiccCiPKIdentifierToBeUsed\":\"%s\",%s}",
                    b64_of_hex(SIG_TLV), b64_of_hex(CI_PKID), b64_of_hex(CI_PKID), tail),
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "euiccCiPKIdentifierToBeUsed");
  /* The Failed mapping of CR12011R00. */
  static const struct {
    const char *subject, *reason;
    int64_t code;
  } failed[] = {{"8.8.1", "3.8", 1},   {"8.8.3", "3.1", 2},   {"8.8.2", "3.1", 3},
                {"8.8.4", "3.7", 3},   {"8.8.1", "3.10", 50}, {"8.9.1", "3.8", 1},
                {"8.31.2", "1.2", 52}, {"8.1", "6.1", 127}};
  for (size_t i = 0; i < sizeof failed / sizeof failed[0]; i++) {
    CHECK_OK(dec(t,
                 jsonf("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\","
                       "\"statusCodeData\":{\"subjectCode\":\"%s\",\"reasonCode\":\"%s\"}}}}",
                       failed[i].subject, failed[i].reason),
                 &doc, &r, NULL));
    CHECK_EQ(rsp_esipa_json_initiate_authentication_error(&r), failed[i].code);
  }
  rsp_msg_json_doc_free(&doc);
}

/* euiccInfo1 and smdpAddress are optional on ESipa, euiccChallenge is not. */
static void esipa_initiate_authentication_request(void) {
  struct rsp_esipa_json_initiate_authentication_req q;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(dec(&rsp_esipa_json_initiate_authentication_req_type,
               "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"eimTransactionId\":\"f92b\"}",
               &doc, &q, NULL));
  CHECK(slice_is_hex(q.eim_transaction_id, "F92B"));
  CHECK(q.euicc_info1.p == NULL && q.smdp_address == NULL);
  EXPECT_FAIL(rsp_esipa_json_initiate_authentication_req_type,
              "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6v\"}", RSP_E_JSON_INVALID,
              RSP_MSG_JSON_P_VALUE, "euiccChallenge");
  EXPECT_FAIL(rsp_esipa_json_initiate_authentication_req_type,
              "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"eimTransactionId\":\"f92\"}",
              RSP_E_HEX_INVALID, RSP_MSG_JSON_P_HEX, "eimTransactionId");
  EXPECT_FAIL(rsp_esipa_json_initiate_authentication_req_type,
              "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"eimTransactionId\":\"zz\"}",
              RSP_E_HEX_INVALID, RSP_MSG_JSON_P_HEX, "eimTransactionId");
  EXPECT_FAIL(rsp_esipa_json_initiate_authentication_req_type,
              "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"eimTransactionId\":\"\"}",
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "eimTransactionId");
  EXPECT_FAIL(rsp_esipa_json_initiate_authentication_req_type,
              "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"eimTransactionId\":"
              "\"00112233445566778899AABBCCDDEEFF00\"}",
              RSP_E_BUF_CAP, RSP_MSG_JSON_P_SIZE, "eimTransactionId");
  rsp_msg_json_doc_free(&doc);
}

static void esipa_authenticate_client_dp_and_ds(void) {
  const struct rsp_msg_json_type *t = &rsp_esipa_json_authenticate_client_resp_type;
  struct rsp_esipa_json_authenticate_client_resp r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  char dp[1024];
  snprintf(dp, sizeof dp,
           "\"smdpSigned2\":\"%s\",\"smdpSignature2\":\"%s\",\"smdpCertificate\":\"%s\"",
           b64_of_hex("3003800101"), b64_of_hex(RAW_SIG), b64_of_hex(CERT));
  const char *hash = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";
  CHECK_OK(dec(
      t,
      jsonf("{" OK_HEADER ",\"transactionId\":\"01\",%s,\"hashCc\":\"%s\"}", dp, b64_of_hex(hash)),
      &doc, &r, NULL));
  CHECK(slice_is_hex(r.smdp_signature2, SIG_TLV));
  CHECK(slice_is_hex(r.hash_cc, jsonf("0420%s", hash)));
  CHECK_OK(dec(t,
               jsonf("{" OK_HEADER ",\"transactionId\":\"01\",\"profileDownloadTrigger\":\"%s\"}",
                     b64_of_hex("BF5405A003810100")),
               &doc, &r, NULL));
  CHECK(slice_is_hex(r.profile_download_trigger, "BF5405A003810100"));
  CHECK(r.smdp_signed2.p == NULL);
  EXPECT_FAIL(*t, "{" OK_HEADER "}", RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "");
  EXPECT_FAIL(
      *t,
      jsonf("{" OK_HEADER ",\"transactionId\":\"01\",\"smdpSigned2\":\"%s\"}", b64_of_hex("3000")),
      RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "");
  EXPECT_FAIL(
      *t, jsonf("{" OK_HEADER ",%s,\"profileDownloadTrigger\":\"%s\"}", dp, b64_of_hex("BF5400")),
      RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "");
  rsp_msg_json_doc_free(&doc);
}

static void esipa_choices(void) {
  struct rsp_msg_json_doc doc;
  union body body;
  rsp_msg_json_doc_init(&doc);
  char bf50[64], pn[64];
  snprintf(bf50, sizeof bf50, "%s", b64_of_hex("BF5003800101"));
  snprintf(pn, sizeof pn, "%s", b64_of_hex("A0053003800101"));
  struct rsp_esipa_json_handle_notification_req hn;
  CHECK_OK(dec(&rsp_esipa_json_handle_notification_req_type,
               jsonf("{\"pendingNotification\":\"%s\"}", pn), &doc, &hn, NULL));
  CHECK(slice_is_hex(hn.pending_notification, "A0053003800101"));
  CHECK_OK(dec(&rsp_esipa_json_handle_notification_req_type,
               jsonf("{\"provideEimPackageResult\":\"%s\"}", bf50), &doc, &hn, NULL));
  EXPECT_FAIL(
      rsp_esipa_json_handle_notification_req_type,
      jsonf("{\"pendingNotification\":\"%s\",\"provideEimPackageResult\":\"%s\"}", pn, bf50),
      RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "");
  EXPECT_FAIL(rsp_esipa_json_handle_notification_req_type, "{}", RSP_E_JSON_MISSING,
              RSP_MSG_JSON_P_MISSING, "");
  /* handleNotification / cancelSession answers: 200 with a header, or an empty 200/204. */
  CHECK_OK(
      rsp_msg_json_decode(&rsp_esipa_json_handle_notification_resp_type, "", 0, &doc, &body, NULL));
  CHECK_OK(dec(&rsp_esipa_json_cancel_session_resp_type, "{" OK_HEADER "}", &doc, &body, NULL));
  /* transferEimPackage: exactly one package from the eIM; at most one result from the IPA. */
  EXPECT_FAIL(rsp_esipa_json_transfer_eim_package_req_type, "{}", RSP_E_JSON_MISSING,
              RSP_MSG_JSON_P_MISSING, "");
  struct rsp_esipa_json_transfer_eim_package_resp tr;
  CHECK_OK(dec(&rsp_esipa_json_transfer_eim_package_resp_type, "{" OK_HEADER "}", &doc, &tr,
               NULL)); /* eimPackageReceived */
  CHECK(!tr.eim_package_error.present && tr.epr_and_notifications == NULL);
  CHECK_OK(dec(&rsp_esipa_json_transfer_eim_package_resp_type,
               jsonf("{" OK_HEADER ",\"ePRAndNotifications\":{\"euiccPackageResult\":\"%s\","
                     "\"notificationList\":\"%s\"}}",
                     b64_of_hex("BF5100"), b64_of_hex("A000")),
               &doc, &tr, NULL));
  CHECK(tr.epr_and_notifications != NULL);
  CHECK(slice_is_hex(tr.epr_and_notifications->euicc_package_result, "BF5100"));
  CHECK(slice_is_hex(tr.epr_and_notifications->notification_list, "A000"));
  EXPECT_FAIL(rsp_esipa_json_transfer_eim_package_resp_type,
              jsonf("{" OK_HEADER ",\"ePRAndNotifications\":{\"euiccPackageResult\":\"%s\"}}",
                    b64_of_hex("BF5100")),
              RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "ePRAndNotifications.notificationList");
  EXPECT_FAIL(rsp_esipa_json_transfer_eim_package_resp_type,
              jsonf("{" OK_HEADER ",\"euiccPackageResult\":\"%s\",\"eimPackageError\":1}",
                    b64_of_hex("BF5100")),
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_VALUE, "");
  EXPECT_FAIL(rsp_esipa_json_transfer_eim_package_resp_type,
              "{" OK_HEADER ",\"ePRAndNotifications\":[]}", RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE,
              "ePRAndNotifications");
  rsp_msg_json_doc_free(&doc);
}

/* ---- negative cases of the engine ------------------------------------------------------------ */

static void rejects_bad_syntax_and_top_level(void) {
  const struct rsp_msg_json_type *t = &rsp_esipa_json_get_eim_package_req_type;
  static const char *bad[] = {
      "[]", "[{\"eidValue\":\"" EID_DIGITS "\"}]", "\"x\"", "42", "null", "true", "{",
      "{\"eidValue\":}", "{\"eidValue\":\"" EID_DIGITS "\"} x",
      "{\"eidValue\":\"" EID_DIGITS "\",}", "{'eidValue':'x'}",
      "{\"eidValue\":\"" EID_DIGITS "\"}{}", " ",
      /* duplicate keys */
      "{\"eidValue\":\"" EID_DIGITS "\",\"eidValue\":\"" EID_DIGITS "\"}",
      /* \u0000 in a string and in a key */
      "{\"eidValue\":\"89049032123451234512345678901\\u0000\"}", "{\"a\\u0000\":1}",
      /* lone surrogate escape */
      "{\"eidValue\":\"\\ud800\"}",
      /* invalid UTF-8: bad continuation, overlong, surrogate, truncated, in a key */
      "{\"x\":\"\xC3\x28\"}", "{\"x\":\"\xC0\xAF\"}", "{\"x\":\"\xED\xA0\x80\"}",
      "{\"x\":\"\xE2\x82\"}", "{\"\xFF\":1}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_fail_(__FILE__, __LINE__, t, bad[i], strlen(bad[i]), RSP_E_JSON_INVALID,
                 RSP_MSG_JSON_P_SYNTAX, "");
  /* A NUL byte in the text. */
  static const char nul[] = "{\"eidValue\":\"" EID_DIGITS "\"}\0";
  expect_fail_(__FILE__, __LINE__, t, nul, sizeof nul - 1, RSP_E_JSON_INVALID,
               RSP_MSG_JSON_P_SYNTAX, "");
  struct rsp_msg_json_diag diag;
  struct rsp_msg_json_doc doc;
  union body body;
  rsp_msg_json_doc_init(&doc);
  CHECK_ERR(dec(t, "[1]", &doc, &body, &diag), RSP_E_JSON_INVALID);
  CHECK(strstr(diag.text, "not an object") != NULL);
  /* Valid UTF-8 and escapes are fine; unknown keys of any shape are ignored. */
  struct rsp_es2p_json_release_profile_req rp;
  CHECK_OK(dec(&rsp_es2p_json_release_profile_req_type,
               "{\"header\":{\"functionRequesterIdentifier\":\"op\\u00e9r\xE2\x82\xAC\\n\","
               "\"functionCallIdentifier\":\"\\ud83d\\ude00\",\"extra\":[null]},"
               "\"iccid\":\"8944476500001234567F\",\"unknown\":{\"deep\":[[[{}]]]},\"n\":1e300}",
               &doc, &rp, NULL));
  CHECK_STR(rp.header.function_requester_identifier, "op\xC3\xA9r\xE2\x82\xAC\n");
  CHECK_STR(rp.header.function_call_identifier, "\xF0\x9F\x98\x80");
  rsp_msg_json_doc_free(&doc);
}

static void rejects_wrong_types(void) {
  const struct rsp_msg_json_type *t = &rsp_es9p_json_initiate_authentication_req_type;
  const char *ok = "\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"euiccInfo1\":\"vyADggEC\","
                   "\"smdpAddress\":\"smdp.example\"";
  EXPECT_FAIL(*t, "{\"euiccChallenge\":[],\"euiccInfo1\":\"vyADggEC\",\"smdpAddress\":\"s\"}",
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE, "euiccChallenge");
  EXPECT_FAIL(
      *t,
      "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"euiccInfo1\":1,\"smdpAddress\":\"s\"}",
      RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE, "euiccInfo1");
  EXPECT_FAIL(*t,
              "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"euiccInfo1\":\"vyADggEC\","
              "\"smdpAddress\":true}",
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE, "smdpAddress");
  EXPECT_FAIL(*t, jsonf("{\"header\":\"h\",%s}", ok), RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE,
              "header");
  EXPECT_FAIL(*t,
              jsonf("{\"header\":{\"functionRequesterIdentifier\":1,"
                    "\"functionCallIdentifier\":\"c\"},%s}",
                    ok),
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE, "header.functionRequesterIdentifier");
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_req_type,
              "{\"transactionId\":1234,\"authenticateServerResponse\":\"vzgA\"}",
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE, "transactionId");
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_resp_type,
              "{\"header\":{\"functionExecutionStatus\":{\"status\":1}}}", RSP_E_JSON_INVALID,
              RSP_MSG_JSON_P_TYPE, "header.functionExecutionStatus.status");
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_resp_type,
              "{\"header\":{\"functionExecutionStatus\":\"Failed\"}}", RSP_E_JSON_INVALID,
              RSP_MSG_JSON_P_TYPE, "header.functionExecutionStatus");
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_resp_type,
              "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\",\"statusCodeData\":"
              "{\"subjectCode\":8.1,\"reasonCode\":\"3.9\"}}}}",
              RSP_E_JSON_INVALID, RSP_MSG_JSON_P_TYPE,
              "header.functionExecutionStatus.statusCodeData.subjectCode");
  /* Missing required keys, at the top and nested. */
  EXPECT_FAIL(*t, "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"smdpAddress\":\"s\"}",
              RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "euiccInfo1");
  EXPECT_FAIL(*t, jsonf("{\"header\":{\"functionCallIdentifier\":\"c\"},%s}", ok),
              RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "header.functionRequesterIdentifier");
  EXPECT_FAIL(rsp_es9p_json_initiate_authentication_resp_type,
              jsonf("{" OK_HEADER ",\"transactionId\":\"" TXID "\",\"serverSignature1\":\"%s\","
                    "\"euiccCiPKIdToBeUsed\":\"%s\",\"serverCertificate\":\"%s\"}",
                    b64_of_hex(SIG_TLV), b64_of_hex(CI_PKID), b64_of_hex(CERT)),
              RSP_E_JSON_MISSING, RSP_MSG_JSON_P_MISSING, "serverSigned1");
  /* The diagnostic names the key. */
  struct rsp_msg_json_diag diag;
  struct rsp_msg_json_doc doc;
  union body body;
  rsp_msg_json_doc_init(&doc);
  CHECK_ERR(dec(t, "{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"smdpAddress\":\"s\"}", &doc,
                &body, &diag),
            RSP_E_JSON_MISSING);
  CHECK(strncmp(diag.text, "euiccInfo1: ", 12) == 0);
  rsp_msg_json_doc_free(&doc);
}

static void rejects_bad_base64_and_non_tlv(void) {
  const struct rsp_msg_json_type *t = &rsp_es9p_json_get_bound_profile_package_req_type;
#define GBPP(v) "{\"transactionId\":\"01\",\"prepareDownloadResponse\":\"" v "\"}"
  EXPECT_FAIL(*t, GBPP("vyEA*A=="), RSP_E_JSON_INVALID, RSP_MSG_JSON_P_BASE64,
              "prepareDownloadResponse");
  EXPECT_FAIL(*t, GBPP("vyF="), RSP_E_JSON_INVALID, RSP_MSG_JSON_P_BASE64,
              "prepareDownloadResponse"); /* non-canonical: unused bits set */
  EXPECT_FAIL(*t, GBPP("vyE="), RSP_E_DER_TRUNCATED, RSP_MSG_JSON_P_DER,
              "prepareDownloadResponse"); /* canonical BF 21, but no length */
  EXPECT_FAIL(*t, GBPP("vyEA="), RSP_E_JSON_INVALID, RSP_MSG_JSON_P_BASE64,
              "prepareDownloadResponse");
  EXPECT_FAIL(*t, GBPP("vyE"), RSP_E_JSON_INVALID, RSP_MSG_JSON_P_BASE64,
              "prepareDownloadResponse");
  EXPECT_FAIL(*t, GBPP("vy\\nEA"), RSP_E_JSON_INVALID, RSP_MSG_JSON_P_BASE64,
              "prepareDownloadResponse");
  EXPECT_FAIL(*t, GBPP("vyEA\\n"), RSP_E_JSON_INVALID, RSP_MSG_JSON_P_BASE64,
              "prepareDownloadResponse");
  EXPECT_FAIL(*t, GBPP("vyEA-_=="), RSP_E_JSON_INVALID, RSP_MSG_JSON_P_BASE64,
              "prepareDownloadResponse");
  /* Base64 fine, but not exactly one DER TLV. */
  EXPECT_FAIL(*t, GBPP(""), RSP_E_DER_TRUNCATED, RSP_MSG_JSON_P_DER, "prepareDownloadResponse");
  struct {
    const char *hex;
    rsp_err_t rc;
  } der[] = {{"BF2103 0102", RSP_E_DER_TRUNCATED},
             {"BF2100 00", RSP_E_DER_TRAILING_BYTES},
             {"BF2100 BF2100", RSP_E_DER_TRAILING_BYTES},
             {"BF2180 0000", RSP_E_DER_INDEFINITE_LENGTH},
             {"BF218100", RSP_E_DER_NON_MINIMAL_LENGTH},
             {"300100", RSP_E_DER_UNEXPECTED_TAG},
             {"BF", RSP_E_DER_TRUNCATED}};
  for (size_t i = 0; i < sizeof der / sizeof der[0]; i++)
    EXPECT_FAIL(*t,
                jsonf("{\"transactionId\":\"01\",\"prepareDownloadResponse\":\"%s\"}",
                      b64_of_hex(der[i].hex)),
                der[i].rc, RSP_MSG_JSON_P_DER, "prepareDownloadResponse");
  struct rsp_es9p_json_get_bound_profile_package_req r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(dec(
      t,
      jsonf("{\"transactionId\":\"01\",\"prepareDownloadResponse\":\"%s\"}", b64_of_hex("BF2100")),
      &doc, &r, NULL));
  CHECK(slice_is_hex(r.prepare_download_response, "BF2100"));
  CHECK(r.header == NULL);
  rsp_msg_json_doc_free(&doc);
#undef GBPP
}

static void rejects_oversize(void) {
  const struct rsp_msg_json_type *t = &rsp_es9p_json_initiate_authentication_req_type;
  /* The whole body. */
  size_t big = RSP_MSG_JSON_MAX_BODY + 1;
  char *text = malloc(big);
  memset(text, ' ', big);
  text[0] = '{';
  text[big - 1] = '}';
  expect_fail_(__FILE__, __LINE__, t, text, big, RSP_E_BUF_CAP, RSP_MSG_JSON_P_SIZE, "");
  /* Exactly at the cap is accepted by the size check (and then parsed). */
  expect_fail_(__FILE__, __LINE__, t, text, big - 1, RSP_E_JSON_INVALID, RSP_MSG_JSON_P_SYNTAX, "");
  free(text);
  /* One value: smdpAddress above 255 bytes. */
  char addr[300];
  memset(addr, 'a', sizeof addr - 1);
  addr[sizeof addr - 1] = '\0';
  EXPECT_FAIL(*t,
              jsonf("{\"euiccChallenge\":\"oaKjpKWmp6ipqqusra6vsA==\",\"euiccInfo1\":\"vyADggEC\","
                    "\"smdpAddress\":\"%s\"}",
                    addr),
              RSP_E_BUF_CAP, RSP_MSG_JSON_P_SIZE, "smdpAddress");
  EXPECT_FAIL(rsp_es9p_json_authenticate_client_req_type,
              "{\"transactionId\":\"00112233445566778899AABBCCDDEEFF00\","
              "\"authenticateServerResponse\":\"vzgA\"}",
              RSP_E_BUF_CAP, RSP_MSG_JSON_P_SIZE, "transactionId");
  /* Encoding into a buffer whose cap is too small fails and leaves the buffer as it was. */
  struct rsp_es2p_json_release_profile_req rp = {{"operator", "1"}, "8944476500001234567F"};
  struct rsp_buf b;
  struct rsp_msg_json_diag diag;
  rsp_buf_init(&b, 40);
  CHECK_OK(rsp_buf_append(&b, "xyz", 3));
  CHECK_ERR(rsp_msg_json_encode(&rsp_es2p_json_release_profile_req_type, &rp, &b, &diag),
            RSP_E_BUF_CAP);
  CHECK_EQ(diag.problem, RSP_MSG_JSON_P_SIZE);
  CHECK(b.len == 3 && memcmp(b.data, "xyz", 3) == 0);
  rsp_buf_free(&b);
}

static void encode_refuses_invalid_bodies(void) {
  struct rsp_buf b;
  struct rsp_msg_json_diag diag;
  rsp_buf_init(&b, 4096);
  /* Missing required: the ES2+ header. */
  struct rsp_es2p_json_release_profile_req rp = {{NULL, NULL}, "8944476500001234567F"};
  CHECK_ERR(rsp_msg_json_encode(&rsp_es2p_json_release_profile_req_type, &rp, &b, &diag),
            RSP_E_JSON_MISSING);
  CHECK_STR(diag.key, "header");
  rp.header.function_requester_identifier = "op";
  CHECK_ERR(rsp_msg_json_encode(&rsp_es2p_json_release_profile_req_type, &rp, &b, &diag),
            RSP_E_JSON_MISSING);
  CHECK_STR(diag.key, "header.functionCallIdentifier");
  rp.header.function_call_identifier = "bad \xC3";
  CHECK_ERR(rsp_msg_json_encode(&rsp_es2p_json_release_profile_req_type, &rp, &b, &diag),
            RSP_E_JSON_INVALID);
  CHECK_EQ(diag.problem, RSP_MSG_JSON_P_VALUE);
  rp.header.function_call_identifier = "ok";
  rp.iccid = "1234";
  CHECK_ERR(rsp_msg_json_encode(&rsp_es2p_json_release_profile_req_type, &rp, &b, &diag),
            RSP_E_JSON_INVALID);
  CHECK_STR(diag.key, "iccid");
  /* A B64_TLV slice that is not one TLV; an EID of the wrong size; a bad status. */
  size_t n;
  uint8_t *bad = rsp_test_hex("BF2003820102 00", &n);
  uint8_t chal[16] = {0};
  struct rsp_es9p_json_initiate_authentication_req ia = {
      .euicc_challenge = {chal, 16}, .euicc_info1 = {bad, n}, .smdp_address = "s"};
  CHECK_ERR(rsp_msg_json_encode(&rsp_es9p_json_initiate_authentication_req_type, &ia, &b, &diag),
            RSP_E_DER_TRAILING_BYTES);
  CHECK_STR(diag.key, "euiccInfo1");
  ia.euicc_info1.len = n - 1;
  ia.euicc_challenge.len = 8;
  CHECK_ERR(rsp_msg_json_encode(&rsp_es9p_json_initiate_authentication_req_type, &ia, &b, &diag),
            RSP_E_JSON_INVALID);
  CHECK_STR(diag.key, "euiccChallenge");
  struct rsp_esipa_json_get_eim_package_req gep = {.eid_value = {chal, 15}};
  CHECK_ERR(rsp_msg_json_encode(&rsp_esipa_json_get_eim_package_req_type, &gep, &b, &diag),
            RSP_E_JSON_INVALID);
  CHECK_STR(diag.key, "eidValue");
  struct rsp_es2p_json_cancel_order_resp co = {{{(enum rsp_msg_json_status)9, NULL}}};
  CHECK_ERR(rsp_msg_json_encode(&rsp_es2p_json_cancel_order_resp_type, &co, &b, &diag),
            RSP_E_JSON_INVALID);
  CHECK_STR(diag.key, "header.functionExecutionStatus.status");
  /* A CHOICE broken on the way out. */
  struct rsp_esipa_json_transfer_eim_package_req tq = {0};
  CHECK_ERR(rsp_msg_json_encode(&rsp_esipa_json_transfer_eim_package_req_type, &tq, &b, &diag),
            RSP_E_JSON_MISSING);
  CHECK_EQ(b.len, 0);
  rsp_free(bad);
  rsp_buf_free(&b);
}

static void decode_clears_body_on_error(void) {
  struct rsp_esipa_json_get_eim_package_req r;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  memset(&r, 0xAB, sizeof r);
  CHECK_ERR(dec(&rsp_esipa_json_get_eim_package_req_type,
                "{\"eidValue\":\"" EID_DIGITS "\",\"rPlmn\":\"A\"}", &doc, &r, NULL),
            RSP_E_JSON_INVALID);
  CHECK(r.eid_value.p == NULL && r.r_plmn.p == NULL && !r.state_change_cause.present);
  /* The doc stays usable after a failure and after a free. */
  CHECK_OK(dec(&rsp_esipa_json_get_eim_package_req_type, "{\"eidValue\":\"" EID_DIGITS "\"}", &doc,
               &r, NULL));
  rsp_msg_json_doc_free(&doc);
  rsp_msg_json_doc_free(&doc);
  rsp_msg_json_doc_free(NULL);
  CHECK_OK(dec(&rsp_esipa_json_get_eim_package_req_type, "{\"eidValue\":\"" EID_DIGITS "\"}", &doc,
               &r, NULL));
  CHECK(slice_is_hex(r.eid_value, EID_DIGITS));
  rsp_msg_json_doc_free(&doc);
}

/* Hand-written samples under allocation failure, beyond the generated bodies. */
static void samples_survive_alloc_failure(void) {
  const char *json = jsonf(
      "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\",\"statusCodeData\":"
      "{\"subjectCode\":\"8.1.1\",\"reasonCode\":\"3.7\",\"message\":\"none\"}}},\"x\":[1,{}]}");
  rsp_err_t rc = RSP_E_NOMEM;
  long n;
  for (n = 0; rc != RSP_OK && n < 10000; n++) {
    struct rsp_esipa_json_get_eim_package_resp r;
    struct rsp_msg_json_doc doc;
    rsp_msg_json_doc_init(&doc);
    rsp_test_alloc_fail_after(n);
    rc = dec(&rsp_esipa_json_get_eim_package_resp_type, json, &doc, &r, NULL);
    rsp_test_alloc_fail_after(-1);
    if (rc != RSP_OK)
      CHECK_ERR(rc, RSP_E_NOMEM);
    else
      CHECK_EQ(rsp_esipa_json_eim_package_error(&r), 1);
    rsp_msg_json_doc_free(&doc);
  }
  CHECK_OK(rc);
  CHECK(n > 2);
}

RSP_TESTS(T(base64_rfc4648_vectors), T(base64_rejects_non_canonical), T(tables_are_consistent),
          T(paths_map_to_functions), T(every_function_roundtrips),
          T(every_function_survives_alloc_failure),
          T(es9p_initiate_authentication_request_exact_text),
          T(es9p_initiate_authentication_response_sample),
          T(es9p_failed_header_with_status_code_data), T(es9p_bodyless_responses),
          T(es9p_handle_notification_tags), T(es2p_confirm_order_with_release_flag),
          T(es2p_handle_download_progress_info_sample), T(esipa_get_eim_package_request_forms),
          T(esipa_get_eim_package_response_forms), T(esipa_provide_eim_package_result_forms),
          T(esipa_initiate_authentication_forms), T(esipa_initiate_authentication_request),
          T(esipa_authenticate_client_dp_and_ds), T(esipa_choices),
          T(rejects_bad_syntax_and_top_level), T(rejects_wrong_types),
          T(rejects_bad_base64_and_non_tlv), T(rejects_oversize), T(encode_refuses_invalid_bodies),
          T(decode_clears_body_on_error), T(samples_survive_alloc_failure))
