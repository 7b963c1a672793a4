/* rsp-eim end to end, every component a real process on 127.0.0.1: rsp-eim (ESipa and the
 * operator API over HTTPS, SQLite store), rsp-ipad (one cycle per run, --once), rsp-euicc (three
 * cards behind the raw APDU socket) and rsp-smdp (ES9+ for the downloads, ES2+ ordered by this
 * program as the operator). Devices are registered and their operations ordered through the
 * operator API; each card gets its eIM configuration at "manufacture" with the AddInitialEim
 * the API hands out; the IPA finds the eIM and its TLS trust on the card.
 *
 * Cases: every PSMO and eCO and an eUICC data request ordered, delivered, executed and visible
 * with its result through the API; direct and indirect downloads; a device offline while
 * operations queue up gets them in order; the API's refusals (no key, wrong key, unknown EID,
 * bad spec); ESipa refusals (malformed and oversized bodies, unknown EID, wrong content type);
 * rsp-eim killed (SIGKILL) and restarted: nothing lost; two rsp-eim nodes on one store, the
 * operation ordered on one and delivered by the other.
 *
 * With RSP_TEST_EIM_PG=1 (ctest test_eim_pg) the store is a PostgreSQL database on a private
 * server (tests/support/pg_server.c) instead of a SQLite file; skipped without PostgreSQL.
 *
 *   test_eim RSP_PKI RSP_EUICC RSP_SMDP RSP_IPAD RSP_EIM [case ...] */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/ipa/es10.h"
#include "rsp/msg/base64.h"
#include "rsp/msg/json.h"
#include "rsp/msg/msg.h"
#include "rsp/net/http.h"
#include "test.h"
#ifdef RSP_HAVE_LIBPQ
#include "pg_server.h"
#endif

#define N_CARDS 3
#define API_KEY "test-key-0123456789abcdef"
#define ICCID_BASE "894903200000000002"
#define IMSI_BASE "001010000000002"

static const char *pki_bin, *euicc_bin, *smdp_bin, *ipad_bin, *eim_bin;
static char top[512], pki[600], eids[N_CARDS][RSP_EID_DIGITS + 1];
static unsigned card_port, esipa_port, api_port, smdp_port, smdp_es2_port;
static char smdp_address[64];
static pid_t card_pid = -1, smdp_pid = -1, eim_pid = -1, eim2_pid = -1;
static char eim_state[700]; /* the SQLite file, or the PostgreSQL URI (RSP_TEST_EIM_PG=1) */
static struct rsp_net_client *api_client;
static bool ready;

/* ---- helpers --------------------------------------------------------------------------------- */

static char *path(char *buf, size_t size, const char *rel) {
  snprintf(buf, size, "%s/%s", pki, rel);
  return buf;
}

static void show_log(const char *name) { rsp_test_show_log(top, name); }

static bool log_has(const char *name, const char *needle) {
  return rsp_test_log_count(top, name, needle) > 0;
}

/* ---- the processes --------------------------------------------------------------------------- */

/* An rsp-eim node on the shared store (eim_state), logging to top/`log_name`. */
static pid_t start_eim_on(unsigned esipa, unsigned api_at, const char *log_name) {
  char keys[700], listen[32], api[32], log[700];
  if (!eim_state[0]) snprintf(eim_state, sizeof eim_state, "%s/eim.db", top);
  snprintf(keys, sizeof keys, "%s/keys", top);
  snprintf(log, sizeof log, "%s/%s", top, log_name);
  snprintf(listen, sizeof listen, "127.0.0.1:%u", esipa);
  snprintf(api, sizeof api, "127.0.0.1:%u", api_at);
  char *argv[] = {(char *)eim_bin,
                  "serve",
                  "--pki",
                  pki,
                  "--state",
                  eim_state,
                  "--listen",
                  listen,
                  "--api-listen",
                  api,
                  "--api-key-file",
                  keys,
                  "--log-level",
                  "debug",
                  NULL};
  pid_t pid = rsp_test_spawn(argv, log);
  CHECK(rsp_test_wait_port(esipa, 20000) && rsp_test_wait_port(api_at, 20000));
  return pid;
}

static void start_eim(void) { eim_pid = start_eim_on(esipa_port, api_port, "eim.log"); }

static void start_all(void) {
  char state[700], log[700], port_arg[32], es9[32], es2[32], keys[700];
  snprintf(top, sizeof top, "%s", rsp_test_tmpdir("eim"));
  snprintf(pki, sizeof pki, "%s/pki", top);
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000700:%d >/dev/null",
           pki_bin, pki, N_CARDS);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  snprintf(cmd, sizeof cmd, "ls '%s/euicc' | sort", pki);
  FILE *f = popen(cmd, "r");
  char line[64];
  for (int i = 0; f && i < N_CARDS && fgets(line, sizeof line, f); i++) {
    line[strcspn(line, "\n")] = '\0';
    snprintf(eids[i], sizeof eids[i], "%.32s", line);
  }
  if (f) pclose(f);
  /* the cards */
  card_port = rsp_test_free_ports(N_CARDS);
  snprintf(port_arg, sizeof port_arg, "127.0.0.1:%u", card_port);
  snprintf(state, sizeof state, "%s/cards.db", top);
  snprintf(log, sizeof log, "%s/euicc.log", top);
  char *ca[] = {(char *)euicc_bin, "--pki", pki, "--state", state, "--listen", port_arg, NULL};
  card_pid = rsp_test_spawn(ca, log);
  bool cards_up = true;
  for (int i = 0; i < N_CARDS && cards_up; i++)
    cards_up = rsp_test_wait_port(card_port + (unsigned)i, 20000);
  if (!cards_up) show_log("euicc.log");
  CHECK(cards_up);
  /* the SM-DP+ */
  smdp_port = rsp_test_free_port();
  do smdp_es2_port = rsp_test_free_port();
  while (smdp_es2_port == smdp_port);
  snprintf(es9, sizeof es9, "127.0.0.1:%u", smdp_port);
  snprintf(es2, sizeof es2, "127.0.0.1:%u", smdp_es2_port);
  snprintf(smdp_address, sizeof smdp_address, "localhost:%u", smdp_port);
  snprintf(state, sizeof state, "%s/smdp.db", top);
  snprintf(log, sizeof log, "%s/smdp.log", top);
  char *sa[] = {(char *)smdp_bin,
                "serve",
                "--pki",
                pki,
                "--state",
                state,
                "--listen",
                es9,
                "--es2-listen",
                es2,
                "--address",
                smdp_address,
                "--generate",
                "12",
                "--iccid-base",
                ICCID_BASE,
                "--imsi-base",
                IMSI_BASE,
                NULL};
  smdp_pid = rsp_test_spawn(sa, log);
  CHECK(rsp_test_wait_port(smdp_port, 20000) && rsp_test_wait_port(smdp_es2_port, 20000));
  /* the eIM */
  snprintf(keys, sizeof keys, "%s/keys", top);
  f = fopen(keys, "w");
  if (f) {
    fprintf(f, "# operator keys\n%s\n", API_KEY);
    fclose(f);
  }
  esipa_port = rsp_test_free_port();
  do api_port = rsp_test_free_port();
  while (api_port == esipa_port);
  start_eim();
  char ca_file[700];
  struct rsp_net_client_options co = {.ca_file = path(ca_file, sizeof ca_file, "ci/cert.pem"),
                                      .timeout_ms = 30000};
  CHECK_OK(rsp_net_client_new(&co, &api_client));
}

/* ---- the operator API ------------------------------------------------------------------------ */

/* One API call with the key `key` (NULL: none); the answer's JSON in *out (NULL if none). */
static int api_key(const char *key, const char *method, const char *target, const char *body,
                   json_t **out) {
  char url[512], auth[300];
  struct rsp_net_client_response res;
  struct rsp_net_header h[2] = {{"Content-Type", "application/json"}, {"X-API-Key", key}};
  snprintf(url, sizeof url, "https://localhost:%u%s", api_port, target);
  snprintf(auth, sizeof auth, "Bearer %s", key ? key : "");
  if (out) *out = NULL;
  rsp_err_t rc = rsp_net_client_request(api_client, method, url, h, key ? 2 : 1, body,
                                        body ? strlen(body) : 0, &res);
  CHECK_OK(rc);
  if (rc != RSP_OK) return -1;
  int status = res.status;
  if (out && res.body.len) *out = json_loadb((const char *)res.body.data, res.body.len, 0, NULL);
  rsp_net_client_response_free(&res);
  return status;
}

static int api(const char *method, const char *target, const char *body, json_t **out) {
  return api_key(API_KEY, method, target, body, out);
}

static const char *jstr(json_t *j, const char *key) {
  json_t *v = j ? json_object_get(j, key) : NULL;
  return json_is_string(v) ? json_string_value(v) : "";
}

static long long jint(json_t *j, const char *key) {
  json_t *v = j ? json_object_get(j, key) : NULL;
  return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* Enqueues `spec` (JSON text) for device i; returns the operation id (0 on failure). */
static long long enqueue(int i, const char *spec) {
  char target[128];
  json_t *j = NULL;
  snprintf(target, sizeof target, "/v1/devices/%s/operations", eids[i]);
  char *body = rsp_malloc(strlen(spec) + 16);
  sprintf(body, "{\"spec\":%s}", spec);
  int st = api("POST", target, body, &j);
  rsp_free(body);
  CHECK_EQ(st, 201);
  long long id = jint(j, "id");
  if (st != 201) fprintf(stderr, "enqueue %s: %d %s\n", spec, st, jstr(j, "detail"));
  json_decref(j);
  return id > 0 ? id : 0;
}

/* The operation's view (owned by the caller). */
static json_t *operation(long long id) {
  char target[64];
  json_t *j = NULL;
  snprintf(target, sizeof target, "/v1/operations/%lld", id);
  CHECK_EQ(api("GET", target, NULL, &j), 200);
  return j;
}

/* The operation must be done; its resultSummary is returned (owned by the caller). */
static json_t *done(long long id, int line) {
  json_t *j = operation(id);
  rsp_test_checks++;
  if (strcmp(jstr(j, "state"), "done") != 0) {
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    rsp_test_fail(__FILE__, line, "operation %lld not done: %s", id, t ? t : "(none)");
    free(t);
  }
  json_t *s = j ? json_object_get(j, "resultSummary") : NULL;
  if (s) json_incref(s);
  json_decref(j);
  return s;
}
#define DONE(id) done((id), __LINE__)

/* ---- devices --------------------------------------------------------------------------------- */

/* One ES10 request straight to card i (the factory). */
static bool card_es10(int i, const uint8_t *req, size_t len, struct rsp_buf *out) {
  struct rsp_apdu apdu;
  struct rsp_es10_client c;
  CHECK_OK(rsp_apdu_socket_new("127.0.0.1", card_port + (unsigned)i, 5000, &apdu));
  rsp_es10_client_init(&c, &apdu);
  rsp_err_t rc = rsp_es10_client_open(&c);
  if (rc == RSP_OK) rc = rsp_es10_client_call(&c, req, len, out);
  rsp_es10_client_close(&c);
  if (apdu.ops->disconnect) apdu.ops->disconnect(apdu.ctx);
  rsp_apdu_socket_free(&apdu);
  CHECK_OK(rc);
  return rc == RSP_OK;
}

/* Registers device i through the API and loads the AddInitialEim it hands out on the card. */
static void manufacture(int i) {
  char body[128], target[128];
  json_t *j = NULL;
  snprintf(body, sizeof body, "{\"eid\":\"%s\"}", eids[i]);
  CHECK_EQ(api("POST", "/v1/devices", body, &j), 201);
  json_decref(j);
  snprintf(target, sizeof target, "/v1/devices/%s/add-initial-eim", eids[i]);
  CHECK_EQ(api("GET", target, NULL, &j), 200);
  const char *b64 = jstr(j, "addInitialEimRequest");
  static uint8_t der[1 << 14];
  size_t len = 0;
  struct rsp_buf out;
  rsp_buf_init(&out, 1 << 16);
  CHECK_OK(rsp_msg_base64_decode(b64, strlen(b64), der, sizeof der, &len));
  if (i == N_CARDS - 1) {
    /* the last card through the factory tool: rsp-ipad --add-initial-eim, then once more,
     * which the card refuses (associatedEimAlreadyExists) */
    char file[700], cmd[2200], outp[700];
    snprintf(file, sizeof file, "%s/initial-eim-%d.der", top, i);
    snprintf(outp, sizeof outp, "%s/add-initial-eim.out", top);
    FILE *f = fopen(file, "wb");
    CHECK(f && fwrite(der, 1, len, f) == len);
    if (f) fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' --card socket:127.0.0.1:%u --add-initial-eim '%s' >'%s' 2>&1",
             ipad_bin, card_port + (unsigned)i, file, outp);
    CHECK_EQ(system(cmd), 0);
    CHECK(log_has("add-initial-eim.out", "addInitialEimOk (1 eIM)"));
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(log_has("add-initial-eim.out", "addInitialEimError 2"));
  } else if (len && card_es10(i, der, len, &out)) {
    /* AddInitialEimResponse (BF57) with addInitialEimOk (A0), not an error (81) */
    CHECK(out.len > 4 && out.data[0] == 0xBF && out.data[1] == 0x57 && out.data[3] == 0xA0);
  }
  rsp_buf_free(&out);
  json_decref(j);
}

/* One rsp-ipad cycle for card i with `extra` options; `direct` gives it the SM-DP+ CA (direct
 * downloads). */
static void ipad_with(int i, bool direct, const char *extra, int want_exit) {
  char cmd[4096], ca[700], log[64];
  static int n;
  snprintf(log, sizeof log, "ipad-%d.log", ++n);
  snprintf(cmd, sizeof cmd,
           "'%s' --once --card socket:127.0.0.1:%u --log-level debug %s %s%s%s >/dev/null "
           "2>'%s/%s'",
           ipad_bin, card_port + (unsigned)i, extra, direct ? "--smdp-ca '" : "",
           direct ? path(ca, sizeof ca, "ci/cert.pem") : "", direct ? "'" : "", top, log);
  int st = system(cmd);
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  CHECK_EQ(code, want_exit);
  if (code != want_exit) show_log(log);
}

static void ipad(int i, bool direct, int want_exit) { ipad_with(i, direct, "", want_exit); }

/* An activation code from rsp-smdp (ES2+ downloadOrder + confirmOrder as the operator). */
static void order(char *ac, size_t size) {
  char ca[700], cert[700], key[700], url[128], id1[16], id2[16];
  static int calls;
  struct rsp_net_client *c = NULL;
  struct rsp_net_client_options o = {.ca_file = path(ca, sizeof ca, "ci/cert.pem"),
                                     .cert_file = path(cert, sizeof cert, "eim/tls/cert.pem"),
                                     .key_file = path(key, sizeof key, "eim/tls/key.pem"),
                                     .timeout_ms = 20000};
  static const struct rsp_net_header h[] = {{"Content-Type", "application/json"},
                                            {"X-Admin-Protocol", "gsma/rsp/v2.2.0"}};
  struct rsp_msg_json_doc doc;
  struct rsp_net_client_response res;
  struct rsp_buf body;
  ac[0] = '\0';
  CHECK_OK(rsp_net_client_new(&o, &c));
  rsp_msg_json_doc_init(&doc);
  rsp_buf_init(&body, 1 << 16);
  snprintf(id1, sizeof id1, "e-%d", ++calls);
  struct rsp_es2p_json_download_order_req dq = {.header = {"operator.example", id1},
                                                .profile_type = "openrsp test profile"};
  struct rsp_es2p_json_download_order_resp dr = {0};
  const struct rsp_msg_json_func_info *fi =
      rsp_msg_json_func_get(RSP_MSG_JSON_FUNC_ES2P_DOWNLOAD_ORDER);
  CHECK_OK(rsp_msg_json_encode(fi->request, &dq, &body, NULL));
  snprintf(url, sizeof url, "https://localhost:%u%s", smdp_es2_port, fi->path);
  CHECK_OK(rsp_net_client_post(c, url, h, 2, body.data, body.len, &res));
  CHECK_OK(rsp_msg_json_decode(fi->response, (const char *)res.body.data, res.body.len, &doc, &dr,
                               NULL));
  rsp_net_client_response_free(&res);
  snprintf(id2, sizeof id2, "e-%d", ++calls);
  struct rsp_es2p_json_confirm_order_req cq = {
      .header = {"operator.example", id2}, .iccid = dr.iccid, .release_flag = {true, true}};
  struct rsp_es2p_json_confirm_order_resp cr = {0};
  fi = rsp_msg_json_func_get(RSP_MSG_JSON_FUNC_ES2P_CONFIRM_ORDER);
  rsp_buf_reset(&body);
  if (dr.iccid) CHECK_OK(rsp_msg_json_encode(fi->request, &cq, &body, NULL));
  snprintf(url, sizeof url, "https://localhost:%u%s", smdp_es2_port, fi->path);
  CHECK_OK(rsp_net_client_post(c, url, h, 2, body.data, body.len, &res));
  if (res.status == 200)
    CHECK_OK(rsp_msg_json_decode(fi->response, (const char *)res.body.data, res.body.len, &doc, &cr,
                                 NULL));
  rsp_net_client_response_free(&res);
  if (cr.matching_id) snprintf(ac, size, "1$%s$%s", smdp_address, cr.matching_id);
  CHECK(ac[0] != '\0');
  rsp_buf_free(&body);
  rsp_msg_json_doc_free(&doc);
  rsp_net_client_destroy(c);
}

static bool setup(void) {
  if (ready) return true;
  start_all();
  for (int i = 0; i < N_CARDS; i++) manufacture(i);
  ready = true;
  return true;
}

/* The ICCIDs of a listProfileInfo summary, and which is enabled (-1: none). */
static size_t summary_profiles(json_t *summary, size_t op, char iccids[][21], int *enabled) {
  json_t *ops = summary ? json_object_get(summary, "operations") : NULL;
  json_t *lpi = json_object_get(json_array_get(ops, op), "listProfileInfo");
  json_t *list = json_object_get(lpi, "profiles");
  size_t n = 0;
  *enabled = -1;
  for (size_t k = 0; k < json_array_size(list) && n < 8; k++, n++) {
    json_t *p = json_array_get(list, k);
    snprintf(iccids[n], 21, "%s", jstr(p, "iccid"));
    if (!strcmp(jstr(p, "state"), "enabled")) *enabled = (int)n;
  }
  if (!list) {
    char *t = summary ? json_dumps(summary, JSON_COMPACT) : NULL;
    fprintf(stderr, "# no profile list in %s\n", t ? t : "(null)");
    free(t);
  }
  return n;
}

/* The result code of operation k of a summary ("ok" ...). */
static const char *summary_op(json_t *summary, size_t k, const char *name) {
  json_t *ops = summary ? json_object_get(summary, "operations") : NULL;
  json_t *v = json_object_get(json_array_get(ops, k), name);
  return json_is_string(v) ? json_string_value(v) : "";
}

/* ---- the cases ------------------------------------------------------------------------------- */

/* Direct downloads, then every PSMO, an eUICC data request and every eCO, each ordered through
 * the API and visible with its result. */
static void every_operation(void) {
  char ac[256], spec[512], iccids[8][21];
  int enabled;
  if (!setup()) return;
  long long d[2];
  for (int k = 0; k < 2; k++) {
    order(ac, sizeof ac);
    snprintf(spec, sizeof spec, "{\"kind\":\"download\",\"activationCode\":\"%s\"}", ac);
    d[k] = enqueue(0, spec);
  }
  long long l0 = enqueue(0, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  ipad(0, true, 0);
  json_decref(DONE(d[0]));
  json_decref(DONE(d[1]));
  json_t *s = DONE(l0);
  size_t n = summary_profiles(s, 0, iccids, &enabled);
  json_decref(s);
  CHECK_EQ(n, 2);
  if (n != 2) return;
  snprintf(spec, sizeof spec,
           "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"%s\"}},{\"getRAT\":{}},"
           "{\"configureImmediateEnable\":{\"enable\":true}},{\"setDefaultDpAddress\":"
           "{\"address\":\"%s\"}}]}",
           iccids[0], smdp_address);
  long long p1 = enqueue(0, spec);
  /* rsp-smdp's generated profiles do not allow fallback: a refused operation, reported */
  snprintf(spec, sizeof spec,
           "{\"kind\":\"psmo\",\"psmos\":[{\"setFallbackAttribute\":{\"iccid\":\"%s\"}},"
           "{\"unsetFallbackAttribute\":{}}]}",
           iccids[1]);
  long long p2 = enqueue(0, spec);
  snprintf(spec, sizeof spec,
           "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"%s\",\"rollback\":true}}]}",
           iccids[1]);
  long long p3 = enqueue(0, spec);
  snprintf(spec, sizeof spec,
           "{\"kind\":\"psmo\",\"psmos\":[{\"disable\":{\"iccid\":\"%s\"}},{\"delete\":"
           "{\"iccid\":\"%s\"}},{\"listProfileInfo\":{}}]}",
           iccids[1], iccids[0]);
  long long p4 = enqueue(0, spec);
  long long dr = enqueue(0, "{\"kind\":\"euicc_data\",\"tags\":\"BF20BF22A5A681\"}");
  /* a second eIM (with our signing certificate), listed, updated, deleted */
  char cert_path[700], b64[4096];
  size_t cert_len = 0;
  uint8_t *cert =
      rsp_test_read_file(path(cert_path, sizeof cert_path, "eim/sign/cert.der"), &cert_len);
  CHECK(cert && rsp_msg_base64_encode(cert, cert_len, b64, sizeof b64) == RSP_OK);
  rsp_free(cert);
  char *eco = rsp_malloc(3 * sizeof b64);
  snprintf(eco, 3 * sizeof b64,
           "{\"kind\":\"eco\",\"ecos\":[{\"addEim\":{\"eimId\":\"eim-2\",\"fqdn\":"
           "\"eim2.example\",\"counter\":0,\"certificate\":\"%s\"}},{\"listEim\":{}},"
           "{\"updateEim\":{\"eimId\":\"eim-2\",\"counter\":5,\"certificate\":\"%s\"}},"
           "{\"deleteEim\":{\"eimId\":\"eim-2\"}}]}",
           b64, b64);
  long long e1 = enqueue(0, eco);
  rsp_free(eco);
  ipad(0, true, 0);
  s = DONE(p1);
  CHECK_STR(summary_op(s, 0, "enable"), "ok");
  json_decref(s);
  json_t *f2 = operation(p2);
  CHECK_STR(jstr(f2, "state"), "failed");
  CHECK(strstr(jstr(f2, "error"), "fallbackNotAllowed") != NULL);
  json_decref(f2);
  s = DONE(p3);
  CHECK_STR(summary_op(s, 0, "enable"), "ok");
  json_decref(s);
  s = DONE(p4);
  CHECK_STR(summary_op(s, 0, "disable"), "ok");
  CHECK_STR(summary_op(s, 1, "delete"), "ok");
  n = summary_profiles(s, 2, iccids, &enabled);
  CHECK_EQ(n, 1);
  CHECK_EQ(enabled, -1);
  json_decref(s);
  json_decref(DONE(dr));
  s = DONE(e1);
  json_t *l = json_object_get(json_array_get(json_object_get(s, "operations"), 1), "listEim");
  CHECK_EQ(json_array_size(json_object_get(l, "eimIds")), 2);
  CHECK_STR(summary_op(s, 2, "updateEim"), "ok");
  CHECK_STR(summary_op(s, 3, "deleteEim"), "ok");
  json_decref(s);
  /* the enable/disable/delete notifications went to the eIM with the results, and the eIM
   * forwards them to their notificationAddress (the SM-DP+) */
  bool forwarded = false;
  for (int k = 0; k < 100 && !forwarded; k++) {
    forwarded = log_has("eim.log", "forwarded to localhost");
    if (!forwarded) usleep(100000);
  }
  CHECK(forwarded);
  /* the device view follows */
  char target[128];
  json_t *j = NULL;
  snprintf(target, sizeof target, "/v1/devices/%s", eids[0]);
  CHECK_EQ(api("GET", target, NULL, &j), 200);
  CHECK_EQ(jint(j, "pending"), 0);
  CHECK(json_array_size(json_object_get(j, "profiles")) == 1);
  json_decref(j);
}

/* Indirect: rsp-ipad without the SM-DP+ CA; rsp-eim relays ES9+ to rsp-smdp. */
static void indirect_download(void) {
  char ac[256], spec[512];
  if (!setup()) return;
  order(ac, sizeof ac);
  snprintf(spec, sizeof spec, "{\"kind\":\"download\",\"activationCode\":\"%s\"}", ac);
  long long d = enqueue(1, spec);
  ipad(1, false, 0);
  json_decref(DONE(d));
  CHECK(log_has("eim.log", "initiateAuthentication"));
}

/* Device 2 is offline while five operations queue up; it gets them all, in order. */
static void offline_in_order(void) {
  char spec[256];
  long long ids[5];
  if (!setup()) return;
  for (int k = 0; k < 5; k++) {
    snprintf(spec, sizeof spec,
             "{\"kind\":\"psmo\",\"psmos\":[{\"setDefaultDpAddress\":{\"address\":"
             "\"dp%d.example\"}}]}",
             k);
    ids[k] = enqueue(2, spec);
  }
  long long dr = enqueue(2, "{\"kind\":\"euicc_data\",\"tags\":\"81\"}");
  ipad(2, false, 0);
  long long last_counter = -1;
  for (int k = 0; k < 5; k++) {
    json_t *j = operation(ids[k]);
    CHECK_STR(jstr(j, "state"), "done");
    CHECK(jint(j, "counter") > last_counter); /* signed and executed in order */
    last_counter = jint(j, "counter");
    json_decref(j);
  }
  json_t *s = DONE(dr);
  char *t = s ? json_dumps(s, JSON_COMPACT) : NULL;
  CHECK(t && strstr(t, "dp4.example") != NULL); /* the last one won */
  free(t);
  json_decref(s);
}

/* The API's refusals and ESipa's. */
static void refusals(void) {
  json_t *j = NULL;
  char target[128], url[128];
  if (!setup()) return;
  CHECK_EQ(api_key(NULL, "GET", "/v1/devices", NULL, &j), 401);
  json_decref(j);
  CHECK_EQ(api_key("wrong-key-0123456789", "GET", "/v1/devices", NULL, &j), 403);
  json_decref(j);
  CHECK_EQ(api("GET", "/v1/health", NULL, &j), 200);
  json_decref(j);
  CHECK_EQ(api("POST", "/v1/devices/89049032000000000000000000000000/operations",
               "{\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}}", &j),
           404);
  json_decref(j);
  snprintf(target, sizeof target, "/v1/devices/%s/operations", eids[0]);
  CHECK_EQ(api("POST", target, "{\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"enabel\":{}}]}}", &j),
           400);
  CHECK(strlen(jstr(j, "detail")) > 0);
  json_decref(j);
  /* ESipa: wrong content type, malformed DER, oversized body */
  struct rsp_net_client_response res;
  struct rsp_net_header asn1[] = {{"Content-Type", "application/x-gsma-rsp-asn1"},
                                  {"X-Admin-Protocol", "gsma/rsp/v2.1.0"}};
  struct rsp_net_header text[] = {{"Content-Type", "text/plain"}};
  snprintf(url, sizeof url, "https://localhost:%u/gsma/rsp2/asn1", esipa_port);
  CHECK_OK(rsp_net_client_post(api_client, url, text, 1, "x", 1, &res));
  CHECK_EQ(res.status, 415);
  rsp_net_client_response_free(&res);
  static const uint8_t bad[] = {0xBF, 0x4F, 0x05, 0x5A, 0x10, 0x00};
  CHECK_OK(rsp_net_client_post(api_client, url, asn1, 2, bad, sizeof bad, &res));
  CHECK_EQ(res.status, 400);
  rsp_net_client_response_free(&res);
  size_t big = (2u << 20);
  uint8_t *huge = rsp_calloc(1, big);
  rsp_err_t rc = rsp_net_client_post(api_client, url, asn1, 2, huge, big, &res);
  CHECK(rc != RSP_OK || res.status == 413);
  rsp_net_client_response_free(&res);
  rsp_free(huge);
  /* a GetEimPackage for an unknown EID: eimPackageError eidNotFound (2), not a crash */
  uint8_t get[] = {0xBF, 0x4F, 0x12, 0x5A, 0x10, 0x89, 0x04, 0x90, 0x32, 0x00, 0x00,
                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x99, 0x99};
  CHECK_OK(rsp_net_client_post(api_client, url, asn1, 2, get, sizeof get, &res));
  CHECK_EQ(res.status, 200);
  CHECK(res.body.len >= 5 && res.body.data[0] == 0xBF && res.body.data[1] == 0x4F &&
        res.body.data[res.body.len - 3] == 0x02 && res.body.data[res.body.len - 1] == 0x02);
  rsp_net_client_response_free(&res);
}

/* rsp-eim killed (SIGKILL) and started again: the queue and the results survive. */
static void kill_restart(void) {
  char spec[256];
  if (!setup()) return;
  snprintf(spec, sizeof spec,
           "{\"kind\":\"psmo\",\"psmos\":[{\"setDefaultDpAddress\":{\"address\":"
           "\"after-restart.example\"}}]}");
  long long id = enqueue(1, spec);
  CHECK_EQ(rsp_test_stop(eim_pid, SIGKILL) & 0x7f, SIGKILL);
  ipad(1, false, 1); /* the eIM is down: the cycle fails, nothing is lost */
  start_eim();
  ipad(1, false, 0);
  json_decref(DONE(id));
}

/* The IPA on the ESipa JSON binding (rsp-ipad --esipa-binding json; rsp-eim serves both): an
 * indirect download relayed over JSON (initiateAuthentication ... handleNotification with the
 * PIR), then PSMOs and an eUICC data request, each result verified by the eIM. */
static void json_binding(void) {
  char ac[256], spec[512], iccids[8][21];
  int enabled = -2;
  if (!setup()) return;
  order(ac, sizeof ac);
  snprintf(spec, sizeof spec, "{\"kind\":\"download\",\"activationCode\":\"%s\"}", ac);
  long long d = enqueue(2, spec);
  long long l = enqueue(2, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  long long e = enqueue(2, "{\"kind\":\"euicc_data\",\"tags\":\"BF20\"}");
  ipad_with(2, false, "--esipa-binding json", 0);
  json_decref(DONE(d));
  json_t *s = DONE(l);
  size_t n = summary_profiles(s, 0, iccids, &enabled);
  CHECK(n >= 1);
  json_decref(s);
  json_decref(DONE(e));
  /* every function went over its JSON path */
  CHECK(log_has("eim.log", "/gsma/rsp2/esipa/getEimPackage"));
  CHECK(log_has("eim.log", "/gsma/rsp2/esipa/provideEimPackageResult"));
  CHECK(log_has("eim.log", "/gsma/rsp2/esipa/initiateAuthentication"));
  CHECK(log_has("eim.log", "/gsma/rsp2/esipa/authenticateClient"));
  CHECK(log_has("eim.log", "/gsma/rsp2/esipa/getBoundProfilePackage"));
  CHECK(log_has("eim.log", "/gsma/rsp2/esipa/handleNotification\" 204"));
  CHECK(!log_has("eim.log", "/gsma/rsp2/esipa/[a-zA-Z]*\" [45]")); /* nothing refused */
  /* the new profile, enabled over JSON as well */
  if (n >= 1) {
    snprintf(spec, sizeof spec, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"%s\"}}]}",
             iccids[n - 1]);
    long long en = enqueue(2, spec);
    ipad_with(2, false, "--esipa-binding json", 0);
    s = DONE(en);
    CHECK_STR(summary_op(s, 0, "enable"), "ok");
    json_decref(s);
  }
}

/* Two rsp-eim nodes on one store (several machines on one PostgreSQL database, or several
 * processes on one SQLite file): operations ordered on the first node's API are delivered by the
 * second (the IPA pointed at it with --eim-url), alternately with the first, each exactly once,
 * the counters increasing; the results are visible on the first. */
static void two_nodes(void) {
  char spec[256], url[128];
  long long ids[4];
  if (!setup()) return;
  unsigned esipa2 = rsp_test_free_port(), api2;
  do api2 = rsp_test_free_port();
  while (api2 == esipa2 || api2 == esipa_port || api2 == api_port);
  eim2_pid = start_eim_on(esipa2, api2, "eim2.log");
  snprintf(url, sizeof url, "--eim-url https://localhost:%u/gsma/rsp2/asn1", esipa2);
  for (int k = 0; k < 4; k++) {
    snprintf(spec, sizeof spec,
             "{\"kind\":\"psmo\",\"psmos\":[{\"setDefaultDpAddress\":{\"address\":"
             "\"node%d.example\"}}]}",
             k);
    ids[k] = enqueue(1, spec);
    /* the even ones through the second node, the odd ones through the first */
    ipad_with(1, false, k % 2 == 0 ? url : "", 0);
  }
  long long last_counter = -1;
  for (int k = 0; k < 4; k++) {
    json_t *j = operation(ids[k]);
    CHECK_STR(jstr(j, "state"), "done");
    CHECK(jint(j, "counter") > last_counter);
    last_counter = jint(j, "counter");
    json_decref(j);
  }
  CHECK(log_has("eim2.log", "/gsma/rsp2/asn1"));
  int st = rsp_test_stop(eim2_pid, SIGTERM);
  eim2_pid = -1;
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* RSP_TEST_EIM_PG=1: the store on a fresh database of a private PostgreSQL server. 0: ready (or
 * not asked for), 77: PostgreSQL not installed, 1: it did not start. */
static int pg_store(void) {
  const char *pg = getenv("RSP_TEST_EIM_PG");
  if (!pg || strcmp(pg, "1") != 0) return 0;
#ifdef RSP_HAVE_LIBPQ
  const char *why = "";
  enum rsp_test_pg_status st = rsp_test_pg_start(&why);
  if (st == RSP_TEST_PG_READY && rsp_test_pg_createdb(eim_state, sizeof eim_state)) return 0;
  printf("%s: %s\n", st == RSP_TEST_PG_ABSENT ? "SKIPPED" : "FAILED", why);
  return st == RSP_TEST_PG_ABSENT ? 77 : 1;
#else
  printf("SKIPPED: this build has no libpq (libpq-dev): rsp-eim has no PostgreSQL store\n");
  return 77;
#endif
}

/* rsp-eim's command line: each mistake is exit 2 with a message naming it; --help is exit 0. */
static void usage_errors(void) {
  static const struct {
    const char *args, *says;
    int want;
  } cases[] = {
      {"--help", "usage: rsp-eim serve", 0},
      {"", "a command is required", 2},
      {"bogus", "unknown command", 2},
      {"serve --bogus", "unknown option or missing value: --bogus", 2},
      {"serve --pki", "unknown option or missing value: --pki", 2},
      {"serve --threads 0", "--threads wants 1 to", 2},
      {"serve --last-seen-interval x", "--last-seen-interval wants 0 to 3600000", 2},
      {"serve --log-level loud", "unknown log level", 2},
      {"serve extra", "unexpected argument", 2},
      {"serve --state s --api-key-file k", "--pki is required", 2},
      {"serve --pki p --api-key-file k", "--state is required", 2},
      {"serve --pki p --state s", "--api-key-file is required", 2},
      {"serve --pki p --state s --api-key-file k --listen nowhere", "--listen HOST:PORT", 2},
      {"serve --pki p --state s --api-key-file k --tls-cert c", "go together", 2},
      {"serve --pki p --state s --api-key-file k --coap-path x", "go with --coap-listen", 2},
      {"serve --pki p --state s --api-key-file k --coap-listen 1 --coap-path /x",
       "relative Uri-Path", 2},
  };
  char cmd[1024], out[700];
  snprintf(out, sizeof out, "%s/usage.out", rsp_test_tmpdir("eim_usage"));
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>&1", eim_bin, cases[i].args, out);
    int st = system(cmd);
    CHECK_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, cases[i].want);
    snprintf(cmd, sizeof cmd, "grep -qF -- '%s' '%s'", cases[i].says, out);
    if (system(cmd) != 0)
      rsp_test_fail(__FILE__, __LINE__, "'%s' did not say '%s'", cases[i].args, cases[i].says);
    rsp_test_checks++;
  }
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(every_operation), T(indirect_download), T(offline_in_order), T(refusals),
      T(kill_restart),    T(json_binding),      T(two_nodes),        T(usage_errors)};
  if (argc < 6) return 2;
  pki_bin = argv[1];
  euicc_bin = argv[2];
  smdp_bin = argv[3];
  ipad_bin = argv[4];
  eim_bin = argv[5];
  rsp_log_set_level(RSP_LOG_WARN);
  signal(SIGPIPE, SIG_IGN);
  int pg = pg_store();
  if (pg != 0) return pg;
  int rc = rsp_test_main(argc - 5, argv + 5, cases, sizeof cases / sizeof cases[0]);
  if (rc != 0 && top[0]) show_log("eim.log");
  rsp_net_client_destroy(api_client);
  if (eim_pid > 0) {
    int st = rsp_test_stop(eim_pid, SIGTERM);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "rsp-eim did not exit 0 on SIGTERM\n");
      rc = 1;
    }
  }
  if (eim2_pid > 0) rsp_test_stop(eim2_pid, SIGTERM);
  if (smdp_pid > 0) rsp_test_stop(smdp_pid, SIGTERM);
  if (card_pid > 0) rsp_test_stop(card_pid, SIGTERM);
  return rc;
}
