/* The eIM's operator API (include/rsp/eim/api.h) called directly over an in-memory store: every
 * route with its answers and error paths (the error JSON shape, 400, 404, 405, 409, 413), device
 * registration with and without an initial eIM configuration (the AddInitialEimRequest decoded
 * with lib/msg carries what was registered), the device view, operations in both body forms,
 * cancel, results, bulk with duplicates and refusals at the 10,000 limit, pagination of every
 * list, the audit trail, the response cap and allocation failures. Certificates come from the
 * built rsp-pki (argv[1]).
 *
 * Two more modes serve the OpenAPI check (tests/unit/check_eim_openapi.py):
 *   test_eim_api PKI --routes      prints "METHOD PATH" for every route the API serves
 *   test_eim_api PKI --probe       reads "METHOD PATH[ BODY]" lines and prints the status, the
 *                                  error code and the answer of each, on a store with one
 *                                  device and one operation */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/eim/api.h"
#include "rsp/eim/store.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/base64.h"
#include "rsp/msg/msg.h"
#include "test.h"

#define EIM_ID "eim.test"
#define FQDN "eim.example.com"
#define T0 1700000000
#define ICCID1 "8944000000000000011"
#define ICCID2 "89440000000000000029"

static const char *rsp_pki_bin;
static char tmp[512], pki[600];
static char eids[3][RSP_EID_DIGITS + 1]; /* the eUICCs of the PKI */
static struct rsp_buf sign_cert, tls_cert, euicc_cert[3], eum_cert;

static int64_t clock_now = T0;
static int64_t test_now(void *ctx) { return clock_now; }

static struct rsp_eim_store *st;
static struct rsp_eim_api_options opts;
static json_t *last; /* the last answer, parsed */
static int last_status;

/* ---- fixtures -------------------------------------------------------------------------------- */

static void load(const char *rel, struct rsp_buf *out) {
  char path[800];
  size_t len = 0;
  snprintf(path, sizeof path, "%s/%s", pki, rel);
  uint8_t *d = rsp_test_read_file(path, &len);
  if (!d) {
    rsp_test_fail(__FILE__, __LINE__, "cannot read %s", path);
    return;
  }
  rsp_buf_init(out, 65536);
  if (rsp_buf_append(out, d, len) != RSP_OK) abort();
  rsp_free(d);
}

/* One PKI for the whole run, with three eUICCs. */
static void make_pki(void) {
  char cmd[2048];
  if (tmp[0]) return;
  snprintf(tmp, sizeof tmp, "%s", rsp_test_tmpdir("eim-api"));
  snprintf(pki, sizeof pki, "%s/pki", tmp);
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000000:3 >/dev/null && "
           "ls '%s/euicc' > '%s/eids.txt'",
           rsp_pki_bin, pki, pki, tmp);
  if (system(cmd) != 0) {
    rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
    abort();
  }
  snprintf(cmd, sizeof cmd, "%s/eids.txt", tmp);
  FILE *f = fopen(cmd, "r");
  for (int i = 0; f && i < 3; i++)
    if (fscanf(f, "%32s", eids[i]) != 1) abort();
  if (f) fclose(f);
  load("eim/sign/cert.der", &sign_cert);
  load("eim/tls/cert.der", &tls_cert);
  load("eum/cert.der", &eum_cert);
  for (int i = 0; i < 3; i++) {
    char rel[160];
    snprintf(rel, sizeof rel, "euicc/%s/cert.der", eids[i]);
    load(rel, &euicc_cert[i]);
  }
}

static void setup(void) {
  make_pki();
  clock_now = T0;
  if (rsp_eim_store_sqlite_open(":memory:", &st) != RSP_OK) abort();
  opts = (struct rsp_eim_api_options){.store = st,
                                      .eim_id = EIM_ID,
                                      .eim_fqdn = FQDN,
                                      .eim_certificate = {sign_cert.data, sign_cert.len},
                                      .eim_tls_certificate = {tls_cert.data, tls_cert.len},
                                      .now = test_now};
}

static void teardown(void) {
  json_decref(last);
  last = NULL;
  rsp_eim_store_close(st);
  st = NULL;
}

static void eid_of(unsigned i, char out[RSP_EID_DIGITS + 1]) {
  snprintf(out, RSP_EID_DIGITS + 1, "890490329999000000000000%08u", i);
}

/* One request; the answer must be a JSON object; errors carry "error" and "detail" strings.
 * Returns the status; `last` holds the answer. */
static int call(const char *method, const char *path, const char *body) {
  struct rsp_buf resp;
  int status = 0;
  struct rsp_eim_api_request req = {method, path, (const uint8_t *)body, body ? strlen(body) : 0};
  rsp_buf_init(&resp, 64u << 20);
  rsp_err_t rc = rsp_eim_api_handle(&opts, &req, &resp, &status);
  if (rc != RSP_OK)
    rsp_test_fail(__FILE__, __LINE__, "%s %s -> %s", method, path, rsp_err_name(rc));
  json_decref(last);
  last = json_loadb((const char *)resp.data, resp.len, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(last))
    rsp_test_fail(__FILE__, __LINE__, "%s %s: answer is not a JSON object: %.*s", method, path,
                  (int)resp.len, (const char *)resp.data);
  if (status >= 400 && (!json_is_string(json_object_get(last, "error")) ||
                        !json_is_string(json_object_get(last, "detail"))))
    rsp_test_fail(__FILE__, __LINE__, "%s %s: %d without the error shape", method, path, status);
  if (resp.len == 0 || resp.data[resp.len - 1] != '\n')
    rsp_test_fail(__FILE__, __LINE__, "%s %s: answer does not end with a newline", method, path);
  rsp_buf_free(&resp);
  last_status = status;
  return status;
}

static const char *str(const char *key) { return json_string_value(json_object_get(last, key)); }
static long long num(const char *key) { return json_integer_value(json_object_get(last, key)); }
static const char *err_code(void) { return str("error"); }
static bool detail_has(const char *needle) {
  const char *d = str("detail");
  bool ok = d && strstr(d, needle);
  if (!ok) fprintf(stderr, "detail \"%s\" lacks \"%s\"\n", d ? d : "(none)", needle);
  return ok;
}

/* Expects `status` with error code `code` (NULL: any) for the request. */
#define EXPECT(status, code, method, path, body)                                                   \
  do {                                                                                             \
    int s_ = call(method, path, body);                                                             \
    CHECK_EQ(s_, status);                                                                          \
    if ((code) && (!err_code() || strcmp(err_code(), (code) ? (code) : "") != 0))                  \
      rsp_test_fail(__FILE__, __LINE__, "%s %s: error %s, expected %s (%s)", method, path,         \
                    err_code() ? err_code() : "(none)", (code) ? (code) : "", str("detail"));      \
  } while (0)

static char *b64(const uint8_t *p, size_t n) {
  size_t len = rsp_msg_base64_encoded_len(n);
  char *s = rsp_malloc(len + 1);
  if (!s || rsp_msg_base64_encode(p, n, s, len + 1) != RSP_OK) abort();
  return s;
}

/* Registers `eid` with the defaults; checks 201. */
static void reg(const char *eid) {
  char body[128];
  snprintf(body, sizeof body, "{\"eid\":\"%s\"}", eid);
  EXPECT(201, NULL, "POST", "/v1/devices", body);
}

/* Enqueues a listProfileInfo for `eid`; returns its id. */
static long long enq(const char *eid) {
  char path[128];
  snprintf(path, sizeof path, "/v1/devices/%s/operations", eid);
  EXPECT(201, NULL, "POST", path, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  return num("id");
}

/* ---- health and routing ---------------------------------------------------------------------- */

static void health(void) {
  setup();
  EXPECT(200, NULL, "GET", "/v1/health", NULL);
  CHECK_STR(str("status"), "ok");
  CHECK_EQ(num("time"), T0);
  CHECK_STR(str("store"), "sqlite");
  EXPECT(400, "invalid_request", "GET", "/v1/health?x=1", NULL);
  EXPECT(405, "method_not_allowed", "POST", "/v1/health", "{}");
  CHECK(detail_has("allowed: GET"));
  teardown();
}

static void routing(void) {
  char allow[64], long_path[4096];
  size_t n = 0;
  setup();
  EXPECT(404, "no_route", "GET", "/", NULL);
  EXPECT(404, "no_route", "GET", "", NULL);
  EXPECT(404, "no_route", "GET", "v1/health", NULL);
  EXPECT(404, "no_route", "GET", "/v2/health", NULL);
  EXPECT(404, "no_route", "GET", "/v1/devices/", NULL);
  EXPECT(404, "no_route", "GET", "/v1//devices", NULL);
  EXPECT(404, "no_route", "GET", "/v1/devices/89049032000000000000000000000001/nothing", NULL);
  EXPECT(404, "no_route", "GET", "/v1/a/b/c/d/e/f/g/h/i", NULL);
  memset(long_path, 'a', sizeof long_path - 1);
  long_path[0] = '/';
  long_path[sizeof long_path - 1] = '\0';
  EXPECT(404, "no_route", "GET", long_path, NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices/123", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices/8904903200000000000000000000000x", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices/890490320000000000000000000000012", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/operations/abc", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/operations/0", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/operations/-1", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/operations/99999999999999999999", NULL);
  EXPECT(405, "method_not_allowed", "GET", "/v1/operations/bulk", NULL);
  EXPECT(405, "method_not_allowed", "PUT", "/v1/devices", "{}");
  EXPECT(405, "method_not_allowed", "PATCH", "/v1/operations/1", "{}");
  EXPECT(405, "method_not_allowed", "get", "/v1/health", NULL);
  /* The client's bytes quoted in a detail stay valid JSON text. */
  EXPECT(404, "no_route", "GET", "/v1/\xff\xfe\x01\xe2\x82", NULL);
  CHECK(detail_has("/v1/??"));
  EXPECT(400, "invalid_request", "GET", "/v1/devices?%96%e2%82%ac%e2=1", NULL);
  CHECK(detail_has("\"?\xe2\x82\xac?\""));
  EXPECT(405, "method_not_allowed", "\x80\n", "/v1/health", NULL);
  CHECK(rsp_eim_api_allow("/v1/devices", allow, sizeof allow));
  CHECK_STR(allow, "POST, GET");
  CHECK(rsp_eim_api_allow("/v1/operations/7?x", allow, sizeof allow));
  CHECK_STR(allow, "GET, DELETE");
  CHECK(rsp_eim_api_allow("/v1/operations/bulk", allow, sizeof allow));
  CHECK_STR(allow, "POST");
  CHECK(!rsp_eim_api_allow("/v1/nothing", allow, sizeof allow));
  CHECK(!rsp_eim_api_allow("/v1/devices", allow, 4));
  CHECK(!rsp_eim_api_allow(NULL, allow, sizeof allow));
  const struct rsp_eim_api_route *r = rsp_eim_api_routes(&n);
  CHECK_EQ(n, 12);
  CHECK_STR(r[0].path, "/v1/health");
  CHECK(r[0].open);
  for (size_t i = 1; i < n; i++) CHECK(!r[i].open);
  /* The key: every path but /v1/health's needs one, known or not (401/403 before 404). */
  CHECK(!rsp_eim_api_key_required("/v1/health"));
  CHECK(!rsp_eim_api_key_required("/v1/health?x=1"));
  CHECK(rsp_eim_api_key_required("/v1/healthz"));
  CHECK(rsp_eim_api_key_required("/v1/health/x"));
  CHECK(rsp_eim_api_key_required("/v1/stats"));
  CHECK(rsp_eim_api_key_required("/v1/stats?x"));
  CHECK(rsp_eim_api_key_required("/v1/devices"));
  CHECK(rsp_eim_api_key_required("/v1/devices/89049032000000000000000000000001/operations"));
  CHECK(rsp_eim_api_key_required("/v1/operations/bulk"));
  CHECK(rsp_eim_api_key_required("/nothing"));
  CHECK(rsp_eim_api_key_required(""));
  CHECK(rsp_eim_api_key_required(NULL));
  /* Bad arguments never reach a route. */
  struct rsp_buf b;
  int status = 0;
  struct rsp_eim_api_request req = {"GET", "/v1/health", NULL, 0};
  rsp_buf_init(&b, 1024);
  CHECK_ERR(rsp_eim_api_handle(NULL, &req, &b, &status), RSP_E_INVALID_ARG);
  CHECK_EQ(status, 500);
  CHECK_ERR(rsp_eim_api_handle(&opts, NULL, &b, &status), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_api_handle(&opts, &req, NULL, &status), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_api_handle(&opts, &req, &b, NULL), RSP_E_INVALID_ARG);
  req.body_len = 3;
  CHECK_ERR(rsp_eim_api_handle(&opts, &req, &b, &status), RSP_E_INVALID_ARG);
  rsp_buf_free(&b);
  teardown();
}

/* ---- registration ---------------------------------------------------------------------------- */

/* Decodes the AddInitialEimRequest of the last answer; returns its one configuration. */
static struct rsp_msg_eim_configuration_data *initial_config(struct rsp_arena *a,
                                                             struct rsp_buf *der) {
  struct rsp_msg_add_initial_eim_request *req = NULL;
  const char *text = str("addInitialEimRequest");
  size_t len = 0;
  CHECK(text != NULL);
  if (!text) return NULL;
  rsp_buf_init(der, 65536);
  if (rsp_buf_reserve(der, strlen(text)) != RSP_OK) abort();
  CHECK_OK(rsp_msg_base64_decode(text, strlen(text), der->data, der->size, &len));
  der->len = len;
  CHECK(len > 2 && der->data[0] == 0xBF && der->data[1] == 0x57);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_add_initial_eim_request, der->data, der->len, a, (void **)&req,
                          NULL));
  if (!req || !req->eim_configuration_data_list) return NULL;
  CHECK_EQ(req->eim_configuration_data_list->n, 1);
  return req->eim_configuration_data_list->v;
}

static bool slice_is(struct rsp_slice s, const void *p, size_t len) {
  return s.p && s.len == len && memcmp(s.p, p, len) == 0;
}

static void register_default(void) {
  struct rsp_arena a;
  struct rsp_buf der;
  char path[128];
  setup();
  rsp_arena_init(&a, 1u << 20);
  snprintf(path, sizeof path, "/v1/devices/%s/add-initial-eim", eids[0]);
  EXPECT(404, "not_found", "GET", path, NULL);
  reg(eids[0]);
  CHECK_STR(str("eid"), eids[0]);
  CHECK_STR(str("eimId"), EIM_ID);
  CHECK_EQ(num("nextCounter"), 1);
  CHECK_EQ(num("created"), T0);
  CHECK(json_is_null(json_object_get(last, "lastSeen")));
  CHECK(json_is_null(json_object_get(last, "associationToken")));
  CHECK(json_is_null(json_object_get(last, "enabledIccid")));
  CHECK(json_is_null(json_object_get(last, "rplmn")));
  CHECK(json_is_null(json_object_get(last, "euiccInfo2")));
  CHECK_EQ(json_array_size(json_object_get(last, "profiles")), 0);
  CHECK_EQ(num("pending"), 0);
  CHECK(json_is_false(json_object_get(last, "certificateKnown")));
  CHECK(json_is_false(json_object_get(last, "eumCertificateKnown")));
  CHECK(json_is_true(json_object_get(last, "initialEim")));
  snprintf(path, sizeof path, "{\"eid\":\"%s\"}", eids[0]);
  EXPECT(409, "exists", "POST", "/v1/devices", path);
  /* The AddInitialEimRequest carries the defaults of the options. */
  snprintf(path, sizeof path, "/v1/devices/%s/add-initial-eim", eids[0]);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_STR(str("eid"), eids[0]);
  CHECK(json_is_object(json_object_get(last, "eimConfigurationData")));
  struct rsp_msg_eim_configuration_data *cfg = initial_config(&a, &der);
  if (cfg) {
    CHECK(slice_is(cfg->eim_id, EIM_ID, strlen(EIM_ID)));
    CHECK(slice_is(cfg->eim_fqdn, FQDN, strlen(FQDN)));
    CHECK(cfg->counter_value.present && cfg->counter_value.v == 0);
    CHECK(!cfg->association_token.present);
    CHECK(cfg->eim_public_key_data &&
          cfg->eim_public_key_data->which ==
              RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE &&
          slice_is(cfg->eim_public_key_data->u.eim_certificate, sign_cert.data, sign_cert.len));
    CHECK(cfg->trusted_public_key_data_tls &&
          cfg->trusted_public_key_data_tls->which ==
              RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_CERTIFICATE_TLS &&
          slice_is(cfg->trusted_public_key_data_tls->u.trusted_certificate_tls, tls_cert.data,
                   tls_cert.len));
  }
  rsp_buf_free(&der);
  EXPECT(400, "invalid_request", "GET",
         "/v1/devices/89049032000000000000000000000000/add-initial-eim?x", NULL);
  EXPECT(405, "method_not_allowed", "POST", path, "{}");
  /* Options without FQDN and certificates: a configuration with the eimId and counter only. */
  opts.eim_fqdn = NULL;
  opts.eim_certificate = (struct rsp_slice){0};
  opts.eim_tls_certificate = (struct rsp_slice){0};
  reg(eids[1]);
  snprintf(path, sizeof path, "/v1/devices/%s/add-initial-eim", eids[1]);
  EXPECT(200, NULL, "GET", path, NULL);
  rsp_arena_free(&a);
  if ((cfg = initial_config(&a, &der))) {
    CHECK(slice_is(cfg->eim_id, EIM_ID, strlen(EIM_ID)));
    CHECK(!cfg->eim_fqdn.p && !cfg->eim_public_key_data && !cfg->trusted_public_key_data_tls);
  }
  rsp_buf_free(&der);
  /* No default eimId: the body must name one. */
  opts.eim_id = NULL;
  snprintf(path, sizeof path, "{\"eid\":\"%s\"}", eids[2]);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", path);
  CHECK(detail_has("eimId"));
  snprintf(path, sizeof path, "{\"eid\":\"%s\",\"eimId\":\"other\"}", eids[2]);
  EXPECT(201, NULL, "POST", "/v1/devices", path);
  CHECK_STR(str("eimId"), "other");
  rsp_arena_free(&a);
  teardown();
}

static void register_full(void) {
  struct rsp_arena a;
  struct rsp_buf der;
  char *ec = b64(euicc_cert[0].data, euicc_cert[0].len), *mc = b64(eum_cert.data, eum_cert.len);
  char *sc = b64(sign_cert.data, sign_cert.len), body[65536], path[128];
  setup();
  rsp_arena_init(&a, 1u << 20);
  snprintf(body, sizeof body,
           "{\"eid\":\"%s\",\"eimId\":\"fleet-7\",\"associationToken\":42,"
           "\"euiccCertificate\":\"%s\",\"eumCertificate\":\"%s\","
           "\"initialEim\":{\"eimId\":\"fleet-7\",\"fqdn\":\"fleet.example.org\",\"counter\":5,"
           "\"certificate\":\"%s\",\"indirect\":true}}",
           eids[0], ec, mc, sc);
  EXPECT(201, NULL, "POST", "/v1/devices", body);
  CHECK_STR(str("eimId"), "fleet-7");
  CHECK_EQ(num("nextCounter"), 6);
  CHECK_EQ(num("associationToken"), 42);
  CHECK(json_is_true(json_object_get(last, "certificateKnown")));
  CHECK(json_is_true(json_object_get(last, "eumCertificateKnown")));
  snprintf(path, sizeof path, "/v1/devices/%s/add-initial-eim", eids[0]);
  EXPECT(200, NULL, "GET", path, NULL);
  struct rsp_msg_eim_configuration_data *cfg = initial_config(&a, &der);
  if (cfg) {
    CHECK(slice_is(cfg->eim_id, "fleet-7", 7));
    CHECK(slice_is(cfg->eim_fqdn, "fleet.example.org", 17));
    CHECK(cfg->counter_value.present && cfg->counter_value.v == 5);
    CHECK(cfg->indirect_profile_download);
    CHECK(cfg->eim_public_key_data &&
          slice_is(cfg->eim_public_key_data->u.eim_certificate, sign_cert.data, sign_cert.len));
    CHECK(!cfg->trusted_public_key_data_tls);
  }
  rsp_buf_free(&der);
  /* initialEim alone gives the eimId. */
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"initialEim\":{\"eimId\":\"only-here\"}}", eids[1]);
  EXPECT(201, NULL, "POST", "/v1/devices", body);
  CHECK_STR(str("eimId"), "only-here");
  CHECK_EQ(num("nextCounter"), 1);
  rsp_arena_free(&a);
  rsp_free(ec);
  rsp_free(mc);
  rsp_free(sc);
  teardown();
}

static void register_errors(void) {
  char *ec = b64(euicc_cert[1].data, euicc_cert[1].len), body[65536], *big;
  char eid[RSP_EID_DIGITS + 1];
  setup();
  eid_of(1, eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", NULL);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", "");
  EXPECT(400, "invalid_request", "POST", "/v1/devices", "{");
  CHECK(detail_has("not JSON"));
  EXPECT(400, "invalid_request", "POST", "/v1/devices", "[]");
  EXPECT(400, "invalid_request", "POST", "/v1/devices", "\"x\"");
  EXPECT(400, "invalid_request", "POST", "/v1/devices", "{}");
  CHECK(detail_has("eid: required"));
  EXPECT(400, "invalid_request", "POST", "/v1/devices", "{\"eid\":\"1234\"}");
  EXPECT(400, "invalid_request", "POST", "/v1/devices", "{\"eid\":89049032}");
  EXPECT(400, "invalid_request", "POST", "/v1/devices",
         "{\"eid\":\"8904903200000000000000000000000a\"}");
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"eid\":\"%s\"}", eid, eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"eimID\":\"typo\"}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  CHECK(detail_has("unknown key \"eimID\""));
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"eimId\":\"\"}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"eimId\":\"%0129d\"}", eid, 0);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"eimId\":7}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"associationToken\":-1}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"associationToken\":\"1\"}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"euiccCertificate\":\"not base64!\"}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  CHECK(detail_has("euiccCertificate"));
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"euiccCertificate\":\"\"}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"eumCertificate\":\"MAMCAQE=\"}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  CHECK(detail_has("not an X.509"));
  /* The eUICC certificate of another EID. */
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"euiccCertificate\":\"%s\"}", eids[0], ec);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  CHECK(detail_has(eids[1]));
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"initialEim\":[]}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"initialEim\":{\"eimId\":\"a\",\"fqnd\":\"x\"}}",
           eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  CHECK(detail_has("initialEim"));
  CHECK(detail_has("fqnd"));
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"initialEim\":{\"fqdn\":\"x.org\"}}", eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  CHECK(detail_has("initialEim"));
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"eimId\":\"a\",\"initialEim\":{\"eimId\":\"b\"}}",
           eid);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  CHECK(detail_has("differs"));
  snprintf(body, sizeof body, "{\"eid\":\"%s\",\"initialEim\":{\"eimId\":\"a\",\"counter\":%d}}",
           eid, RSP_EIM_COUNTER_MAX);
  EXPECT(400, "invalid_request", "POST", "/v1/devices", body);
  /* Over the body cap, and a certificate over its cap. */
  big = rsp_malloc(RSP_EIM_API_MAX_ITEM_BODY + 64);
  snprintf(big, 64, "{\"eid\":\"%s\",\"eimId\":\"", eid);
  size_t k = strlen(big);
  memset(big + k, 'a', RSP_EIM_API_MAX_ITEM_BODY - k);
  strcpy(big + RSP_EIM_API_MAX_ITEM_BODY, "\"}");
  EXPECT(413, "too_large", "POST", "/v1/devices", big);
  snprintf(big, 64, "{\"eid\":\"%s\",\"euiccCertificate\":\"", eid);
  k = strlen(big);
  memset(big + k, 'A', 12000);
  strcpy(big + k + 12000, "\"}");
  EXPECT(413, "too_large", "POST", "/v1/devices", big);
  rsp_free(big);
  /* Nothing was registered. */
  EXPECT(200, NULL, "GET", "/v1/devices", NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "devices")), 0);
  rsp_free(ec);
  teardown();
}

/* ---- device list and view -------------------------------------------------------------------- */

static void device_list(void) {
  char eid[RSP_EID_DIGITS + 1], path[200];
  setup();
  EXPECT(200, NULL, "GET", "/v1/devices", NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "devices")), 0);
  CHECK(json_is_null(json_object_get(last, "next")));
  for (unsigned i = 5; i >= 1; i--) {
    eid_of(i, eid);
    reg(eid);
  }
  eid_of(1, eid);
  enq(eid);
  enq(eid);
  EXPECT(200, NULL, "GET", "/v1/devices?limit=2", NULL);
  json_t *d = json_object_get(last, "devices");
  CHECK_EQ(json_array_size(d), 2);
  CHECK_STR(json_string_value(json_object_get(json_array_get(d, 0), "eid")), eid);
  CHECK_EQ(json_integer_value(json_object_get(json_array_get(d, 0), "pending")), 2);
  CHECK_STR(json_string_value(json_object_get(json_array_get(d, 0), "eimId")), EIM_ID);
  eid_of(2, eid);
  CHECK_STR(str("next"), eid);
  snprintf(path, sizeof path, "/v1/devices?after=%s&limit=2", eid);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "devices")), 2);
  eid_of(4, eid);
  CHECK_STR(str("next"), eid);
  /* The last page: exactly full, and nothing after it. */
  snprintf(path, sizeof path, "/v1/devices?limit=1&after=%%3%c%s", eid[0], eid + 1);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "devices")), 1);
  CHECK(json_is_null(json_object_get(last, "next")));
  EXPECT(200, NULL, "GET", "/v1/devices?limit=1000&after=", NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "devices")), 5);
  CHECK(json_is_null(json_object_get(last, "next")));
  EXPECT(200, NULL, "GET", "/v1/devices?&limit=5&", NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "devices")), 5);
  CHECK(json_is_null(json_object_get(last, "next")));
  EXPECT(400, "invalid_request", "GET", "/v1/devices?limit=0", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?limit=1001", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?limit=", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?limit=-1", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?limit=1x", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?after=123", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?afterr=1", NULL);
  CHECK(detail_has("afterr"));
  EXPECT(400, "invalid_request", "GET", "/v1/devices?limit=1&limit=2", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?limit=%zz", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?limit=%00", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?limit=%3", NULL);
  EXPECT(400, "invalid_request", "GET",
         "/v1/devices?after=1111111111111111111111111111111111111111111111111111111111111111111",
         NULL);
  teardown();
}

/* device list with profiles=true: each row carries the same profile objects as device show. */
static void device_list_profiles(void) {
  struct rsp_eim_profile prof[2];
  char path[200];
  json_t *shown;
  setup();
  reg(eids[0]);
  reg(eids[1]);
  memset(prof, 0, sizeof prof);
  snprintf(prof[0].iccid, sizeof prof[0].iccid, ICCID1);
  prof[0].state = RSP_EIM_PROFILE_ENABLED;
  snprintf(prof[0].name, sizeof prof[0].name, "Operator A");
  prof[0].profile_class = 2;
  snprintf(prof[1].iccid, sizeof prof[1].iccid, ICCID2);
  prof[1].state = RSP_EIM_PROFILE_DISABLED;
  prof[1].profile_class = -1;
  CHECK_OK(rsp_eim_store_profiles_set(st, eids[0], prof, 2, T0 + 5));
  snprintf(path, sizeof path, "/v1/devices/%s", eids[0]);
  EXPECT(200, NULL, "GET", path, NULL);
  shown = json_incref(json_object_get(last, "profiles"));
  EXPECT(200, NULL, "GET", "/v1/devices?profiles=true", NULL);
  json_t *rows = json_object_get(last, "devices");
  CHECK_EQ(json_array_size(rows), 2);
  CHECK(json_equal(json_object_get(json_array_get(rows, 0), "profiles"), shown));
  CHECK_EQ(json_array_size(json_object_get(json_array_get(rows, 0), "profiles")), 2);
  CHECK(json_is_array(json_object_get(json_array_get(rows, 1), "profiles")));
  CHECK_EQ(json_array_size(json_object_get(json_array_get(rows, 1), "profiles")), 0);
  CHECK_STR(json_string_value(json_object_get(json_array_get(rows, 0), "enabledIccid")), ICCID1);
  json_decref(shown);
  /* paged the same way */
  EXPECT(200, NULL, "GET", "/v1/devices?limit=1&profiles=true", NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "devices")), 1);
  CHECK_STR(str("next"), eids[0]);
  /* without it (or with false) the rows stay small */
  EXPECT(200, NULL, "GET", "/v1/devices", NULL);
  CHECK(!json_object_get(json_array_get(json_object_get(last, "devices"), 0), "profiles"));
  EXPECT(200, NULL, "GET", "/v1/devices?profiles=false", NULL);
  CHECK(!json_object_get(json_array_get(json_object_get(last, "devices"), 0), "profiles"));
  EXPECT(400, "invalid_request", "GET", "/v1/devices?profiles=yes", NULL);
  CHECK(detail_has("profiles"));
  EXPECT(400, "invalid_request", "GET", "/v1/devices?profiles=", NULL);
  EXPECT(400, "invalid_request", "GET", "/v1/devices?profiles=true&profiles=true", NULL);
  teardown();
}

static void device_view(void) {
  struct rsp_eim_profile prof[2];
  struct rsp_eim_euicc_data data = {0};
  static const uint8_t plmn[3] = {0x32, 0xF4, 0x51};
  static const uint8_t info2[] = {0xBF, 0x22, 0x03, 0x81, 0x01, 0x02};
  char path[128];
  setup();
  snprintf(path, sizeof path, "/v1/devices/%s", eids[0]);
  EXPECT(404, "not_found", "GET", path, NULL);
  CHECK(detail_has(eids[0]));
  reg(eids[0]);
  memset(prof, 0, sizeof prof);
  snprintf(prof[0].iccid, sizeof prof[0].iccid, ICCID1);
  prof[0].state = RSP_EIM_PROFILE_ENABLED;
  snprintf(prof[0].name, sizeof prof[0].name, "Operator A");
  prof[0].profile_class = 2;
  snprintf(prof[1].iccid, sizeof prof[1].iccid, ICCID2);
  prof[1].state = RSP_EIM_PROFILE_DISABLED;
  prof[1].profile_class = -1;
  CHECK_OK(rsp_eim_store_profiles_set(st, eids[0], prof, 2, T0 + 5));
  CHECK_OK(rsp_eim_store_device_touch(st, eids[0], T0 + 10, plmn));
  data.euicc_info2 = (struct rsp_slice){info2, sizeof info2};
  data.euicc_cert = (struct rsp_slice){euicc_cert[0].data, euicc_cert[0].len};
  data.has_association_token = true;
  data.association_token = 9;
  CHECK_OK(rsp_eim_store_device_update_euicc_data(st, eids[0], &data, T0 + 10));
  enq(eids[0]);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(num("lastSeen"), T0 + 10);
  CHECK_STR(str("rplmn"), "32F451");
  CHECK_STR(str("enabledIccid"), ICCID1);
  CHECK_EQ(num("associationToken"), 9);
  CHECK_EQ(num("pending"), 1);
  CHECK_STR(str("euiccInfo2"), "vyIDgQEC");
  CHECK(json_is_true(json_object_get(last, "certificateKnown")));
  CHECK(json_is_false(json_object_get(last, "eumCertificateKnown")));
  json_t *p = json_object_get(last, "profiles");
  CHECK_EQ(json_array_size(p), 2);
  json_t *p0 = json_array_get(p, 0), *p1 = json_array_get(p, 1);
  if (strcmp(json_string_value(json_object_get(p0, "iccid")), ICCID1) != 0) {
    json_t *t = p0;
    p0 = p1;
    p1 = t;
  }
  CHECK_STR(json_string_value(json_object_get(p0, "state")), "enabled");
  CHECK_STR(json_string_value(json_object_get(p0, "name")), "Operator A");
  CHECK_STR(json_string_value(json_object_get(p0, "class")), "operational");
  CHECK_STR(json_string_value(json_object_get(p1, "iccid")), ICCID2);
  CHECK_STR(json_string_value(json_object_get(p1, "state")), "disabled");
  CHECK_STR(json_string_value(json_object_get(p1, "name")), "");
  CHECK(json_is_null(json_object_get(p1, "class")));
  /* The pending count of the lowest possible EID (no EID before it). */
  reg("00000000000000000000000000000000");
  enq("00000000000000000000000000000000");
  EXPECT(200, NULL, "GET", "/v1/devices/00000000000000000000000000000000", NULL);
  CHECK_EQ(num("pending"), 1);
  EXPECT(400, "invalid_request", "GET", "/v1/devices/00000000000000000000000000000000?x=1", NULL);
  EXPECT(405, "method_not_allowed", "DELETE", path, NULL);
  teardown();
}

/* ---- operations ------------------------------------------------------------------------------ */

static void op_add(void) {
  char path[128], eid[RSP_EID_DIGITS + 1];
  setup();
  eid_of(7, eid);
  snprintf(path, sizeof path, "/v1/devices/%s/operations", eid);
  EXPECT(404, "not_found", "POST", path, "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}");
  reg(eid);
  /* Top-level form. */
  EXPECT(201, NULL, "POST", path,
         "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID1 "\",\"rollback\":true}}],"
         "\"notBefore\":1700000100}");
  long long first = num("id");
  CHECK(first > 0);
  CHECK_EQ(num("seq"), 1);
  CHECK_STR(str("state"), "queued");
  CHECK_STR(str("kind"), "psmo");
  CHECK_STR(str("eid"), eid);
  /* Wrapped form, every kind. */
  EXPECT(201, NULL, "POST", path,
         "{\"spec\":{\"kind\":\"eco\",\"ecos\":[{\"listEim\":{}}]},\"expiresAt\":1700009999}");
  CHECK_EQ(num("seq"), 2);
  CHECK_STR(str("kind"), "eco");
  EXPECT(201, NULL, "POST", path, "{\"spec\":{\"kind\":\"euicc_data\",\"tags\":\"BF20A2\"}}");
  CHECK_STR(str("kind"), "euicc_data");
  EXPECT(201, NULL, "POST", path,
         "{\"kind\":\"download\",\"activationCode\":\"1$smdp.example.com$ABC-123\"}");
  CHECK_STR(str("kind"), "download");
  CHECK_EQ(num("seq"), 4);
  /* The stored operation keeps the spec without the times. */
  snprintf(path, sizeof path, "/v1/operations/%lld", first);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(num("notBefore"), 1700000100);
  CHECK(json_is_null(json_object_get(last, "expiresAt")));
  json_t *spec = json_object_get(last, "spec");
  CHECK(json_is_object(spec) && !json_object_get(spec, "notBefore"));
  CHECK_STR(json_string_value(json_object_get(spec, "kind")), "psmo");
  /* Errors. */
  snprintf(path, sizeof path, "/v1/devices/%s/operations", eid);
  EXPECT(400, "invalid_spec", "POST", path, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{}}]}");
  CHECK(detail_has("psmos[0].enable"));
  EXPECT(400, "invalid_spec", "POST", path, "{\"kind\":\"nothing\"}");
  EXPECT(400, "invalid_spec", "POST", path, "{\"notBefore\":5}");
  EXPECT(400, "invalid_spec", "POST", path, "{\"spec\":[]}");
  EXPECT(400, "invalid_spec", "POST", path, "{\"spec\":{\"kind\":\"psmo\",\"psmos\":[]}}");
  EXPECT(400, "invalid_request", "POST", path,
         "{\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]},\"kind\":\"psmo\"}");
  CHECK(detail_has("unknown key \"kind\""));
  EXPECT(400, "invalid_request", "POST", path,
         "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}],\"expiresAt\":1600000000}");
  CHECK(detail_has("not in the future"));
  EXPECT(400, "invalid_request", "POST", path,
         "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}],\"expiresAt\":1700000000}");
  EXPECT(400, "invalid_request", "POST", path,
         "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}],\"notBefore\":1700000500,"
         "\"expiresAt\":1700000500}");
  CHECK(detail_has("after notBefore"));
  EXPECT(400, "invalid_request", "POST", path,
         "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}],\"notBefore\":\"soon\"}");
  EXPECT(400, "invalid_request", "POST", path,
         "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}],\"notBefore\":1.5}");
  EXPECT(400, "invalid_request", "POST", path,
         "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}],\"notBefore\":-1}");
  EXPECT(400, "invalid_request", "POST", path,
         "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}],\"notBefore\":253402300800}");
  EXPECT(400, "invalid_request", "POST", path, "[1]");
  snprintf(path, sizeof path, "/v1/devices/%s/operations?x=1", eid);
  EXPECT(400, "invalid_request", "POST", path, "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}");
  /* A spec over 64 KiB of JSON (the setDefaultDpAddress text is long). */
  char *big = rsp_malloc(RSP_EIM_SPEC_MAX + 200);
  int n = snprintf(big, 200, "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}],\"x\":\"");
  memset(big + n, 'x', RSP_EIM_SPEC_MAX);
  strcpy(big + n + RSP_EIM_SPEC_MAX, "\"}");
  snprintf(path, sizeof path, "/v1/devices/%s/operations", eid);
  EXPECT(413, "too_large", "POST", path, big);
  rsp_free(big);
  /* Nothing but the four was queued. */
  snprintf(path, sizeof path, "/v1/devices/%s/operations", eid);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "operations")), 4);
  teardown();
}

static const uint8_t txid[4] = {0xCA, 0xFE, 0x00, 0x01};

/* Sends the device's head (an IpaEuiccDataRequest) through the store, as the ESipa side does. */
static void deliver_data_op(long long id) {
  static const uint8_t tags[] = {0xBF, 0x20};
  struct rsp_msg_ipa_euicc_data_request r = {0};
  struct rsp_buf pkg;
  rsp_buf_init(&pkg, 4096);
  r.tag_list = rsp_msg_slice(tags, sizeof tags);
  r.eim_transaction_id = rsp_msg_slice(txid, sizeof txid);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_ipa_euicc_data_request, &r, &pkg, NULL));
  CHECK_OK(rsp_eim_store_assign_counter_and_mark_sent(st, id, rsp_msg_slice(pkg.data, pkg.len),
                                                      RSP_EIM_NO_COUNTER,
                                                      rsp_msg_slice(txid, sizeof txid), T0 + 20));
  rsp_buf_free(&pkg);
}

/* Its result, recorded as the ESipa side does. */
static void record_data_result(void) {
  static const uint8_t result[] = {0xBF, 0x52, 0x03, 0x80, 0x01, 0x00};
  struct rsp_eim_result r = {0};
  enum rsp_eim_record outcome = 0;
  r.eim_transaction_id = rsp_msg_slice(txid, sizeof txid);
  r.counter = RSP_EIM_NO_COUNTER;
  r.seq_number = RSP_EIM_NO_SEQ;
  r.der = rsp_msg_slice(result, sizeof result);
  r.summary = "{\"result\":\"ok\"}";
  r.state = RSP_EIM_OP_DONE;
  CHECK_OK(rsp_eim_store_record_result(st, &r, T0 + 30, &outcome, NULL));
  CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
}

static void op_lifecycle(void) {
  char path[128], eid[RSP_EID_DIGITS + 1];
  long long ids[5];
  setup();
  eid_of(3, eid);
  reg(eid);
  snprintf(path, sizeof path, "/v1/devices/%s/operations", eid);
  EXPECT(201, NULL, "POST", path, "{\"kind\":\"euicc_data\",\"tags\":\"BF20\"}");
  ids[0] = num("id");
  for (int i = 1; i < 5; i++) ids[i] = enq(eid);
  /* The list, paged. */
  snprintf(path, sizeof path, "/v1/devices/%s/operations?limit=2", eid);
  EXPECT(200, NULL, "GET", path, NULL);
  json_t *ops = json_object_get(last, "operations");
  CHECK_EQ(json_array_size(ops), 2);
  CHECK_EQ(json_integer_value(json_object_get(json_array_get(ops, 0), "id")), ids[0]);
  CHECK(!json_object_get(json_array_get(ops, 0), "result")); /* lists leave the bytes out */
  CHECK_EQ(num("next"), 2);
  snprintf(path, sizeof path, "/v1/devices/%s/operations?after=4&limit=1", eid);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "operations")), 1);
  CHECK(json_is_null(json_object_get(last, "next")));
  snprintf(path, sizeof path, "/v1/devices/%s/operations?after=5", eid);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "operations")), 0);
  snprintf(path, sizeof path, "/v1/devices/%s/operations?after=x", eid);
  EXPECT(400, "invalid_request", "GET", path, NULL);
  snprintf(path, sizeof path, "/v1/devices/%s/operations?limit=0", eid);
  EXPECT(400, "invalid_request", "GET", path, NULL);
  snprintf(path, sizeof path, "/v1/devices/%s/operations?state=queued", eid);
  EXPECT(400, "invalid_request", "GET", path, NULL);
  EXPECT(404, "not_found", "GET", "/v1/devices/89049032000000000000000000000099/operations", NULL);
  /* One operation, queued. */
  snprintf(path, sizeof path, "/v1/operations/%lld", ids[1]);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_STR(str("state"), "queued");
  CHECK_STR(str("kind"), "psmo");
  CHECK_EQ(num("seq"), 2);
  CHECK(json_is_null(json_object_get(last, "counter")));
  CHECK(json_is_null(json_object_get(last, "eimTransactionId")));
  CHECK(json_is_null(json_object_get(last, "result")));
  CHECK(json_is_null(json_object_get(last, "resultSummary")));
  CHECK(json_is_null(json_object_get(last, "error")));
  CHECK(json_is_null(json_object_get(last, "doneAt")));
  CHECK_EQ(num("sentCount"), 0);
  CHECK_EQ(num("created"), T0);
  /* Cancel: queued -> cancelled; again 409; unknown 404. */
  clock_now = T0 + 3;
  EXPECT(200, NULL, "DELETE", path, NULL);
  CHECK_STR(str("state"), "cancelled");
  CHECK_EQ(num("doneAt"), T0 + 3);
  EXPECT(409, "state", "DELETE", path, NULL);
  CHECK(detail_has("cancelled"));
  EXPECT(404, "not_found", "DELETE", "/v1/operations/999", NULL);
  EXPECT(404, "not_found", "GET", "/v1/operations/999", NULL);
  snprintf(path, sizeof path, "/v1/operations/%lld?x", ids[1]);
  EXPECT(400, "invalid_request", "GET", path, NULL);
  EXPECT(400, "invalid_request", "DELETE", path, NULL);
  /* Sent: cannot be cancelled; then its result. */
  deliver_data_op(ids[0]);
  snprintf(path, sizeof path, "/v1/operations/%lld", ids[0]);
  EXPECT(409, "state", "DELETE", path, NULL);
  CHECK(detail_has("sent"));
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_STR(str("state"), "sent");
  CHECK_STR(str("eimTransactionId"), "CAFE0001");
  CHECK_EQ(num("sentCount"), 1);
  CHECK_EQ(num("lastSent"), T0 + 20);
  record_data_result();
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_STR(str("state"), "done");
  CHECK_STR(str("result"), "v1IDgAEA");
  CHECK_STR(json_string_value(json_object_get(json_object_get(last, "resultSummary"), "result")),
            "ok");
  CHECK_EQ(num("doneAt"), T0 + 30);
  teardown();
}

/* ---- bulk ------------------------------------------------------------------------------------ */

static void bulk(void) {
  char body[4096], eid[3][RSP_EID_DIGITS + 1];
  setup();
  for (unsigned i = 0; i < 3; i++) eid_of(10 + i, eid[i]);
  reg(eid[0]);
  reg(eid[1]);
  snprintf(body, sizeof body,
           "{\"eids\":[\"%s\",\"%s\",\"123\",\"%s\",7,\"%s\"],"
           "\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"disable\":{\"iccid\":\"" ICCID1 "\"}}]},"
           "\"expiresAt\":1700086400}",
           eid[0], eid[2], eid[0], eid[1]);
  EXPECT(201, NULL, "POST", "/v1/operations/bulk", body);
  json_t *created = json_object_get(last, "created"), *refused = json_object_get(last, "refused");
  CHECK_EQ(json_array_size(created), 2);
  CHECK_EQ(json_array_size(refused), 4);
  CHECK_STR(json_string_value(json_object_get(json_array_get(created, 0), "eid")), eid[0]);
  CHECK_STR(json_string_value(json_object_get(json_array_get(created, 1), "eid")), eid[1]);
  CHECK(json_integer_value(json_object_get(json_array_get(created, 1), "id")) > 0);
  CHECK_STR(json_string_value(json_object_get(json_array_get(refused, 0), "eid")), eid[2]);
  CHECK_STR(json_string_value(json_object_get(json_array_get(refused, 0), "error")),
            "unknown device");
  CHECK_STR(json_string_value(json_object_get(json_array_get(refused, 1), "eid")), "123");
  CHECK_STR(json_string_value(json_object_get(json_array_get(refused, 2), "error")),
            "listed more than once");
  CHECK_EQ(json_integer_value(json_object_get(json_array_get(refused, 3), "eid")), 7);
  CHECK_STR(str("kind"), "psmo");
  long long id = json_integer_value(json_object_get(json_array_get(created, 0), "id"));
  snprintf(body, sizeof body, "/v1/operations/%lld", id);
  EXPECT(200, NULL, "GET", body, NULL);
  CHECK_EQ(num("expiresAt"), 1700086400);
  CHECK_STR(str("eid"), eid[0]);
  /* All refused: 200. */
  snprintf(body, sizeof body,
           "{\"eids\":[\"%s\"],\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}}", eid[2]);
  EXPECT(200, NULL, "POST", "/v1/operations/bulk", body);
  CHECK_EQ(json_array_size(json_object_get(last, "created")), 0);
  /* Refused as a whole, nothing queued. */
  snprintf(body, sizeof body, "{\"eids\":[\"%s\"],\"spec\":{\"kind\":\"psmo\",\"psmos\":[]}}",
           eid[0]);
  EXPECT(400, "invalid_spec", "POST", "/v1/operations/bulk", body);
  snprintf(body, sizeof body, "{\"eids\":[\"%s\"]}", eid[0]);
  EXPECT(400, "invalid_spec", "POST", "/v1/operations/bulk", body);
  EXPECT(400, "invalid_request", "POST", "/v1/operations/bulk",
         "{\"eids\":[],\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}}");
  EXPECT(400, "invalid_request", "POST", "/v1/operations/bulk",
         "{\"eids\":\"x\",\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}}");
  EXPECT(400, "invalid_request", "POST", "/v1/operations/bulk",
         "{\"eid\":[\"x\"],\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}}");
  snprintf(body, sizeof body,
           "{\"eids\":[\"%s\"],\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]},"
           "\"expiresAt\":5}",
           eid[0]);
  EXPECT(400, "invalid_request", "POST", "/v1/operations/bulk", body);
  EXPECT(400, "invalid_request", "POST", "/v1/operations/bulk?dry=1", "{}");
  EXPECT(200, NULL, "GET", "/v1/devices?limit=10", NULL);
  CHECK_EQ(json_integer_value(
               json_object_get(json_array_get(json_object_get(last, "devices"), 0), "pending")),
           1);
  teardown();
}

/* 10,000 EIDs are one call; 10,001 are 413; the body cap is 1 MiB. */
static void bulk_limits(void) {
  size_t size = RSP_EIM_API_MAX_BODY + 4096, k;
  char *body = rsp_malloc(size), eid[RSP_EID_DIGITS + 1];
  static const char spec[] = "],\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}}";
  setup();
  for (unsigned i = 0; i < 20; i++) {
    eid_of(i, eid);
    reg(eid);
  }
  for (unsigned total = RSP_EIM_API_BULK_MAX; total <= RSP_EIM_API_BULK_MAX + 1; total++) {
    k = (size_t)snprintf(body, size, "{\"eids\":[");
    for (unsigned i = 0; i < total; i++) {
      eid_of(i, eid);
      k += (size_t)snprintf(body + k, size - k, "%s\"%s\"", i ? "," : "", eid);
    }
    snprintf(body + k, size - k, "%s", spec);
    if (total == RSP_EIM_API_BULK_MAX) {
      EXPECT(201, NULL, "POST", "/v1/operations/bulk", body);
      CHECK_EQ(json_array_size(json_object_get(last, "created")), 20);
      CHECK_EQ(json_array_size(json_object_get(last, "refused")), RSP_EIM_API_BULK_MAX - 20);
    } else {
      EXPECT(413, "too_large", "POST", "/v1/operations/bulk", body);
      CHECK(detail_has("10000"));
    }
  }
  memset(body, ' ', RSP_EIM_API_MAX_BODY + 1);
  body[RSP_EIM_API_MAX_BODY + 1] = '\0';
  body[0] = '{';
  body[RSP_EIM_API_MAX_BODY] = '}';
  EXPECT(413, "too_large", "POST", "/v1/operations/bulk", body);
  rsp_free(body);
  teardown();
}

/* ---- audit ----------------------------------------------------------------------------------- */

static void audit(void) {
  char path[160], eid[RSP_EID_DIGITS + 1];
  setup();
  eid_of(4, eid);
  snprintf(path, sizeof path, "/v1/devices/%s/audit", eid);
  EXPECT(404, "not_found", "GET", path, NULL);
  reg(eid);
  long long a = enq(eid), b = enq(eid);
  snprintf(path, sizeof path, "/v1/operations/%lld", a);
  EXPECT(200, NULL, "DELETE", path, NULL);
  snprintf(path, sizeof path, "/v1/devices/%s/audit", eid);
  EXPECT(200, NULL, "GET", path, NULL);
  json_t *e = json_object_get(last, "entries");
  CHECK_EQ(json_array_size(e), 4);
  CHECK_STR(json_string_value(json_object_get(json_array_get(e, 0), "event")), "registered");
  CHECK(json_is_null(json_object_get(json_array_get(e, 0), "operationId")));
  CHECK_STR(json_string_value(json_object_get(json_array_get(e, 1), "event")), "enqueued");
  CHECK_EQ(json_integer_value(json_object_get(json_array_get(e, 1), "operationId")), a);
  CHECK_STR(json_string_value(json_object_get(json_array_get(e, 3), "event")), "cancelled");
  CHECK_STR(json_string_value(json_object_get(json_array_get(e, 0), "eid")), eid);
  CHECK(json_is_integer(json_object_get(json_array_get(e, 0), "time")));
  CHECK(json_is_null(json_object_get(last, "next")));
  long long first_id = json_integer_value(json_object_get(json_array_get(e, 0), "id"));
  /* Pages of one. */
  snprintf(path, sizeof path, "/v1/devices/%s/audit?limit=1", eid);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "entries")), 1);
  CHECK_EQ(num("next"), first_id);
  snprintf(path, sizeof path, "/v1/devices/%s/audit?limit=3&after=%lld", eid, first_id);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "entries")), 3);
  CHECK(json_is_null(json_object_get(last, "next")));
  /* One operation's entries. */
  snprintf(path, sizeof path, "/v1/devices/%s/audit?operation=%lld", eid, b);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_EQ(json_array_size(json_object_get(last, "entries")), 1);
  snprintf(path, sizeof path, "/v1/devices/%s/audit?operation=0", eid);
  EXPECT(400, "invalid_request", "GET", path, NULL);
  snprintf(path, sizeof path, "/v1/devices/%s/audit?after=-1", eid);
  EXPECT(400, "invalid_request", "GET", path, NULL);
  snprintf(path, sizeof path, "/v1/devices/%s/audit?limit=2000", eid);
  EXPECT(400, "invalid_request", "GET", path, NULL);
  snprintf(path, sizeof path, "/v1/devices/%s/audit?since=1", eid);
  EXPECT(400, "invalid_request", "GET", path, NULL);
  teardown();
}

/* ---- stats ----------------------------------------------------------------------------------- */

/* Sends `eid`'s head (operation `id`, a PSMO) signed with `counter` as the ESipa side does (64
 * zero bytes stand for the signatures: the store verifies none), then records its
 * EuiccPackageResult: enable ok and, when `rolled`, the rollbackResult ok the card appends after
 * ProfileRollback. */
static void psmo_done(const char *eid, long long id, int64_t counter, bool rolled) {
  static const uint8_t sig[64];
  uint8_t eid_bcd[RSP_EID_LEN], iccid[RSP_ICCID_LEN];
  struct rsp_buf pkg, res;
  rsp_buf_init(&pkg, 4096);
  rsp_buf_init(&res, 4096);
  CHECK_OK(rsp_eid_from_string(eid, eid_bcd));
  CHECK_OK(rsp_iccid_encode(ICCID1, iccid));
  struct rsp_msg_psmo_enable en = {.iccid = rsp_msg_slice(iccid, sizeof iccid)};
  struct rsp_msg_psmo psmo = {.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en};
  struct rsp_msg_euicc_package_psmo_list list = {.v = &psmo, .n = 1};
  struct rsp_msg_euicc_package p = {.which = RSP_MSG_EUICC_PACKAGE_PSMO_LIST, .u.psmo_list = &list};
  struct rsp_msg_euicc_package_signed ps = {.eim_id = rsp_msg_slice(EIM_ID, strlen(EIM_ID)),
                                            .eid_value = rsp_msg_slice(eid_bcd, sizeof eid_bcd),
                                            .counter_value = counter,
                                            .euicc_package = &p};
  struct rsp_msg_euicc_package_request req = {.euicc_package_signed = &ps,
                                              .eim_signature = rsp_msg_slice(sig, sizeof sig)};
  CHECK_OK(rsp_msg_encode(&rsp_msgt_euicc_package_request, &req, &pkg, NULL));
  CHECK_OK(rsp_eim_store_assign_counter_and_mark_sent(st, id, rsp_msg_slice(pkg.data, pkg.len),
                                                      counter, rsp_msg_slice(NULL, 0), T0 + 20));
  struct rsp_msg_euicc_result_data v[2];
  memset(v, 0, sizeof v);
  v[0].which = RSP_MSG_EUICC_RESULT_DATA_ENABLE_RESULT;
  v[1].which = RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT;
  struct rsp_msg_euicc_package_result_data_signed_euicc_result rl = {.v = v, .n = rolled ? 2 : 1};
  struct rsp_msg_euicc_package_result_data_signed d = {
      .eim_id = ps.eim_id, .counter_value = counter, .seq_number = counter, .euicc_result = &rl};
  struct rsp_msg_euicc_package_result_signed sd = {.euicc_package_result_data_signed = &d,
                                                   .euicc_sign_epr = rsp_msg_slice(sig, 64)};
  struct rsp_msg_euicc_package_result r = {
      .which = RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED,
      .u.euicc_package_result_signed = &sd};
  CHECK_OK(rsp_msg_encode(&rsp_msgt_euicc_package_result, &r, &res, NULL));
  struct rsp_eim_result rr = {0};
  enum rsp_eim_record outcome = 0;
  rr.eid = eid;
  rr.counter = counter;
  rr.seq_number = counter;
  rr.der = rsp_msg_slice(res.data, res.len);
  rr.summary = "{\"result\":\"ok\"}";
  rr.state = RSP_EIM_OP_DONE;
  CHECK_OK(rsp_eim_store_record_result(st, &rr, T0 + 30, &outcome, NULL));
  CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
  rsp_buf_free(&pkg);
  rsp_buf_free(&res);
}

static void esipa_count(void *ctx, struct rsp_eim_api_esipa_count *out) {
  out->requests = *(const uint64_t *)ctx;
  out->since = T0 - 100;
}

static long long state_count(json_t *obj, const char *state) {
  return json_integer_value(json_object_get(obj, state));
}

/* GET /v1/stats: devices, operations by state (with the total) and by kind, rolled back, and the
 * server's ESipa count; the counts follow the operations through their states. It needs a key
 * in rsp-eim (rsp_eim_api_key_required, checked in routing). */
static void stats(void) {
  static const char *const states[] = {"queued", "sent", "done", "failed", "expired", "cancelled"};
  char a[RSP_EID_DIGITS + 1], b[RSP_EID_DIGITS + 1], path[200];
  uint64_t requests = 42;
  setup();
  EXPECT(200, NULL, "GET", "/v1/stats", NULL);
  CHECK_EQ(num("devices"), 0);
  CHECK_EQ(num("rolledBack"), 0);
  CHECK_EQ(num("time"), T0);
  json_t *ops = json_object_get(last, "operations");
  CHECK_EQ(json_object_size(ops), 7);
  for (size_t i = 0; i < 6; i++) CHECK_EQ(state_count(ops, states[i]), 0);
  CHECK_EQ(state_count(ops, "total"), 0);
  CHECK_EQ(json_object_size(json_object_get(last, "byKind")), 4);
  CHECK(json_is_null(json_object_get(last, "esipa")));
  /* two devices; A: three PSMOs, B: a download that expires and a PSMO that is cancelled */
  eid_of(20, a);
  eid_of(21, b);
  reg(a);
  reg(b);
  long long a1 = enq(a), a2 = enq(a);
  enq(a);
  snprintf(path, sizeof path, "/v1/devices/%s/operations", b);
  EXPECT(201, NULL, "POST", path,
         "{\"kind\":\"download\",\"activationCode\":\"1$smdp.example.com$X\","
         "\"expiresAt\":1700000010}");
  long long b1 = num("id"), b2 = enq(b);
  EXPECT(200, NULL, "GET", "/v1/stats", NULL);
  CHECK_EQ(num("devices"), 2);
  CHECK_EQ(state_count(json_object_get(last, "operations"), "queued"), 5);
  CHECK_EQ(state_count(json_object_get(last, "operations"), "total"), 5);
  /* A: the first done and rolled back, the second done, the third queued */
  psmo_done(a, a1, 1, true);
  psmo_done(a, a2, 2, false);
  /* B: the download expires at the head, the PSMO behind it is cancelled */
  clock_now = T0 + 20;
  struct rsp_eim_operation op;
  rsp_eim_operation_init(&op);
  CHECK_OK(rsp_eim_store_next_for_delivery(st, b, clock_now, &op, NULL));
  CHECK_EQ(op.id, b2);
  rsp_eim_operation_free(&op);
  snprintf(path, sizeof path, "/v1/operations/%lld", b2);
  EXPECT(200, NULL, "DELETE", path, NULL);
  EXPECT(200, NULL, "GET", "/v1/stats", NULL);
  CHECK_EQ(num("time"), T0 + 20);
  ops = json_object_get(last, "operations");
  CHECK_EQ(state_count(ops, "queued"), 1);
  CHECK_EQ(state_count(ops, "sent"), 0);
  CHECK_EQ(state_count(ops, "done"), 2);
  CHECK_EQ(state_count(ops, "failed"), 0);
  CHECK_EQ(state_count(ops, "expired"), 1);
  CHECK_EQ(state_count(ops, "cancelled"), 1);
  CHECK_EQ(state_count(ops, "total"), 5);
  CHECK_EQ(num("rolledBack"), 1);
  json_t *kinds = json_object_get(last, "byKind");
  CHECK_EQ(state_count(json_object_get(kinds, "psmo"), "done"), 2);
  CHECK_EQ(state_count(json_object_get(kinds, "psmo"), "queued"), 1);
  CHECK_EQ(state_count(json_object_get(kinds, "psmo"), "cancelled"), 1);
  CHECK_EQ(state_count(json_object_get(kinds, "download"), "expired"), 1);
  CHECK_EQ(state_count(json_object_get(kinds, "eco"), "queued"), 0);
  CHECK_EQ(json_object_size(json_object_get(kinds, "euicc_data")), 6);
  /* the operation shows its rollback */
  snprintf(path, sizeof path, "/v1/operations/%lld", a1);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK(json_is_true(json_object_get(last, "rolledBack")));
  snprintf(path, sizeof path, "/v1/operations/%lld", a2);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK(json_is_false(json_object_get(last, "rolledBack")));
  snprintf(path, sizeof path, "/v1/devices/%s/operations", a);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK(json_is_true(
      json_object_get(json_array_get(json_object_get(last, "operations"), 0), "rolledBack")));
  snprintf(path, sizeof path, "/v1/operations/%lld", b1);
  EXPECT(200, NULL, "GET", path, NULL);
  CHECK_STR(str("state"), "expired");
  /* the running server's ESipa count, when it gives one */
  opts.esipa_count = esipa_count;
  opts.esipa_count_ctx = &requests;
  EXPECT(200, NULL, "GET", "/v1/stats", NULL);
  CHECK_EQ(json_integer_value(json_object_get(json_object_get(last, "esipa"), "requests")), 42);
  CHECK_EQ(json_integer_value(json_object_get(json_object_get(last, "esipa"), "since")), T0 - 100);
  requests = 43;
  EXPECT(200, NULL, "GET", "/v1/stats", NULL);
  CHECK_EQ(json_integer_value(json_object_get(json_object_get(last, "esipa"), "requests")), 43);
  EXPECT(400, "invalid_request", "GET", "/v1/stats?kind=psmo", NULL);
  EXPECT(405, "method_not_allowed", "POST", "/v1/stats", "{}");
  EXPECT(405, "method_not_allowed", "DELETE", "/v1/stats", NULL);
  teardown();
}

/* ---- failures -------------------------------------------------------------------------------- */

/* An answer over the response cap: RSP_E_BUF_CAP, status 500, nothing half-written. */
static void response_cap(void) {
  struct rsp_buf b;
  int status = 0;
  char eid[RSP_EID_DIGITS + 1];
  setup();
  for (unsigned i = 0; i < 30; i++) {
    eid_of(i, eid);
    reg(eid);
  }
  struct rsp_eim_api_request req = {"GET", "/v1/devices?limit=30", NULL, 0};
  rsp_buf_init(&b, 2048);
  CHECK_ERR(rsp_eim_api_handle(&opts, &req, &b, &status), RSP_E_BUF_CAP);
  CHECK_EQ(status, 500);
  json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
  CHECK(j && json_is_string(json_object_get(j, "error")));
  CHECK(j && strstr(json_string_value(json_object_get(j, "detail")), "limit"));
  json_decref(j);
  rsp_buf_free(&b);
  teardown();
}

/* Every allocation failing in turn: no crash, no leak, an error or an answer. */
static void alloc_failures(void) {
  static const char *const paths[][3] = {
      {"POST", "/v1/devices", "{\"eid\":\"89049032999900000000000000000077\"}"},
      {"GET", "/v1/devices/89049032999900000000000000000001", NULL},
      {"GET", "/v1/devices/89049032999900000000000000000001/add-initial-eim", NULL},
      {"POST", "/v1/devices/89049032999900000000000000000001/operations",
       "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}"},
      {"GET", "/v1/devices", NULL},
      {"GET", "/v1/devices?profiles=true", NULL},
      {"GET", "/v1/stats", NULL},
  };
  char eid[RSP_EID_DIGITS + 1];
  setup();
  eid_of(1, eid);
  reg(eid);
  for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
    for (long n = 0; n < 60; n++) {
      struct rsp_buf b;
      int status = 0;
      struct rsp_eim_api_request req = {paths[p][0], paths[p][1], (const uint8_t *)paths[p][2],
                                        paths[p][2] ? strlen(paths[p][2]) : 0};
      rsp_buf_init(&b, 1u << 20);
      rsp_test_alloc_fail_after(n);
      rsp_err_t rc = rsp_eim_api_handle(&opts, &req, &b, &status);
      rsp_test_alloc_fail_after(-1);
      CHECK(rc == RSP_OK || status == 500);
      rsp_buf_free(&b);
    }
  }
  teardown();
}

/* ---- the OpenAPI check's modes --------------------------------------------------------------- */

static int print_routes(void) {
  size_t n = 0;
  const struct rsp_eim_api_route *r = rsp_eim_api_routes(&n);
  for (size_t i = 0; i < n; i++) printf("%s %s\n", r[i].method, r[i].path);
  return 0;
}

/* Each "METHOD PATH[ BODY]" line of stdin on a store with one device and one operation: prints
 * "STATUS ERROR-CODE METHOD PATH<TAB>ANSWER" (ERROR-CODE "-" on success). */
static int probe(void) {
  static char line[65536];
  char method[16], path[1000];
  int n = 0;
  setup();
  reg("89049032000000000000000000000001");
  enq("89049032000000000000000000000001");
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = '\0';
    if (sscanf(line, "%15s %999s %n", method, path, &n) != 2) continue;
    int status = call(method, path, line[n] ? line + n : NULL);
    char *answer = json_dumps(last, JSON_COMPACT);
    printf("%d %s %s %s\t%s\n", status, status >= 400 ? err_code() : "-", method, path,
           answer ? answer : "null");
    free(answer);
  }
  teardown();
  return rsp_test_failures ? 1 : 0;
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(health),
      T(routing),
      T(register_default),
      T(register_full),
      T(register_errors),
      T(device_list),
      T(device_list_profiles),
      T(device_view),
      T(op_add),
      T(op_lifecycle),
      T(bulk),
      T(bulk_limits),
      T(audit),
      T(stats),
      T(response_cap),
      T(alloc_failures),
  };
  char cmd[700];
  int rc;
  if (argc < 2) {
    fprintf(stderr, "usage: %s path/to/rsp-pki [case... | --routes | --probe]\n", argv[0]);
    return 2;
  }
  rsp_pki_bin = argv[1];
  rsp_log_set_level(RSP_LOG_WARN);
  if (argc == 3 && strcmp(argv[2], "--routes") == 0) return print_routes();
  if (argc == 3 && strcmp(argv[2], "--probe") == 0)
    rc = probe();
  else
    rc = rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
  rsp_buf_free(&sign_cert);
  rsp_buf_free(&tls_cert);
  rsp_buf_free(&eum_cert);
  for (int i = 0; i < 3; i++) rsp_buf_free(&euicc_cert[i]);
  if (tmp[0]) {
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
  }
  return rc;
}
