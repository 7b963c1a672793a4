/* rsp-eimctl against the operator API over HTTPS on 127.0.0.1: a lib/net server in this process
 * checks the API key as rsp-eim does (Authorization: Bearer KEY or X-API-Key: KEY; 401 without
 * one, 403 with a wrong one; rsp_eim_api_key_required: only /v1/health open) and hands each
 * request to rsp_eim_api_handle over an in-memory store. The real rsp-eimctl binary runs every
 * command, as tables and with --json, with the key from the option, a file and the environment;
 * stats (and stats --wait-idle, to idle and to its timeout), op add-many (one connection for
 * a thousand lines, refused lines reported with their numbers), device list --profiles; then the
 * failures: no key, a wrong key, API errors (404, 409, 400), an unreachable server, a server
 * from another CA, and usage errors (exit 2). Arguments: the built rsp-pki and rsp-eimctl. The
 * cases share one server and store and build on each other (devices, then their operations), so
 * they run in table order. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/core/log.h"
#include "rsp/eim/api.h"
#include "rsp/eim/store.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/msg.h"
#include "rsp/net/http.h"
#include "test.h"

#define KEY "test-api-key-0123456789"
#define EIM_ID "eim.test"
#define ICCID "8944000000000000011"

static const char *rsp_pki_bin, *ctl_bin;
static char tmp[512], pki[600], other[600], ca[700], other_ca[700], base_url[128];
static char eids[3][RSP_EID_DIGITS + 1];
static uint8_t *sign_cert, *tls_cert;
static size_t sign_cert_len, tls_cert_len;
static struct rsp_eim_store *store;
static struct rsp_net_server *srv;
static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;
static char out_text[1 << 20], err_text[65536]; /* the last run's stdout and stderr */

/* ---- the server: rsp-eim's API front, in miniature ------------------------------------------- */

static rsp_err_t refuse(struct rsp_net_response *res, int status, const char *error,
                        const char *detail) {
  char body[256];
  int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"detail\":\"%s\"}\n", error, detail);
  return rsp_net_response_set(res, status, RSP_EIM_API_CONTENT_TYPE, body, (size_t)n);
}

/* The key of "Authorization: Bearer KEY" or of "X-API-Key: KEY"; NULL when none. */
static const char *request_key(const struct rsp_net_request *req) {
  if (req->authorization && strncmp(req->authorization, "Bearer ", 7) == 0)
    return req->authorization + 7;
  return req->api_key;
}

static rsp_err_t handler(void *ctx, const struct rsp_net_request *req,
                         struct rsp_net_response *res) {
  struct rsp_eim_api_options o = {.store = store,
                                  .eim_id = EIM_ID,
                                  .eim_fqdn = "eim.example.com",
                                  .eim_certificate = {sign_cert, sign_cert_len},
                                  .eim_tls_certificate = {tls_cert, tls_cert_len}};
  struct rsp_eim_api_request ar = {req->method, req->path, req->body, req->body_len};
  char allow[64];
  int status = 500;
  bool open = !rsp_eim_api_key_required(req->path);
  const char *key = request_key(req);
  if (!open && !key) return refuse(res, 401, "unauthorized", "an API key is required");
  if (!open && strcmp(key, KEY) != 0) return refuse(res, 403, "forbidden", "wrong API key");
  pthread_mutex_lock(&store_mu);
  rsp_err_t rc = rsp_eim_api_handle(&o, &ar, &res->body, &status);
  pthread_mutex_unlock(&store_mu);
  if (rc != RSP_OK && res->body.len == 0) return rc;
  if (status == 405 && rsp_eim_api_allow(req->path, allow, sizeof allow) &&
      (rc = rsp_net_response_header(res, "Allow", allow)) != RSP_OK)
    return rc;
  return rsp_net_response_set(res, status, RSP_EIM_API_CONTENT_TYPE, NULL, 0);
}

/* ---- fixtures -------------------------------------------------------------------------------- */

static void make_pkis(void) {
  char cmd[8192], path[800];
  snprintf(tmp, sizeof tmp, "%s", rsp_test_tmpdir("eimctl"));
  snprintf(pki, sizeof pki, "%s/pki", tmp);
  snprintf(other, sizeof other, "%s/other", tmp);
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000000:3 >/dev/null && "
           "'%s' create --dir '%s' >/dev/null && ls '%s/euicc' > '%s/eids.txt'",
           rsp_pki_bin, pki, rsp_pki_bin, other, pki, tmp);
  if (system(cmd) != 0) {
    rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
    exit(1);
  }
  snprintf(path, sizeof path, "%s/eids.txt", tmp);
  FILE *f = fopen(path, "r");
  for (int i = 0; f && i < 3; i++)
    if (fscanf(f, "%32s", eids[i]) != 1) exit(1);
  if (f) fclose(f);
  snprintf(ca, sizeof ca, "%s/ci/cert.pem", pki);
  snprintf(other_ca, sizeof other_ca, "%s/ci/cert.pem", other);
  snprintf(path, sizeof path, "%s/eim/sign/cert.der", pki);
  sign_cert = rsp_test_read_file(path, &sign_cert_len);
  snprintf(path, sizeof path, "%s/eim/tls/cert.der", pki);
  tls_cert = rsp_test_read_file(path, &tls_cert_len);
  if (!sign_cert || !tls_cert) exit(1);
}

static void start_server(void) {
  char cert[700], key[700];
  snprintf(cert, sizeof cert, "%s/eim/tls/cert.pem", pki);
  snprintf(key, sizeof key, "%s/eim/tls/key.pem", pki);
  struct rsp_net_server_options o = {.cert_file = cert,
                                     .key_file = key,
                                     .max_request_body = RSP_EIM_API_MAX_BODY,
                                     .log_component = "api-http",
                                     .handler = handler};
  if (rsp_eim_store_sqlite_open(":memory:", &store) != RSP_OK ||
      rsp_net_server_new(&o, &srv) != RSP_OK || rsp_net_server_start(srv) != RSP_OK) {
    rsp_test_fail(__FILE__, __LINE__, "cannot start the API server");
    exit(1);
  }
  snprintf(base_url, sizeof base_url, "https://localhost:%u", (unsigned)rsp_net_server_port(srv));
}

static void read_into(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, size - 1, f) : 0;
  buf[n] = '\0';
  if (f) fclose(f);
}

/* Runs rsp-eimctl with `args` (NULL-terminated); `std` adds --url, --ca and, when `key` is not
 * NULL, --api-key. Returns the exit code; out_text and err_text hold what it printed. */
static int run_ctl(bool std, const char *key, const char *const *args) {
  char out_path[700], err_path[700];
  const char *argv[64];
  int n = 0, status = 0;
  argv[n++] = ctl_bin;
  if (std) {
    argv[n++] = "--url";
    argv[n++] = base_url;
    argv[n++] = "--ca";
    argv[n++] = ca;
  }
  if (key) {
    argv[n++] = "--api-key";
    argv[n++] = key;
  }
  for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
  argv[n] = NULL;
  snprintf(out_path, sizeof out_path, "%s/out.txt", tmp);
  snprintf(err_path, sizeof err_path, "%s/err.txt", tmp);
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
    execv(ctl_bin, (char *const *)argv);
    _exit(127);
  }
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  read_into(out_path, out_text, sizeof out_text);
  read_into(err_path, err_text, sizeof err_text);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (getenv("EIMCTL_ECHO")) { /* to read the program's output while working on it */
    fprintf(stderr, "$ rsp-eimctl");
    for (int i = std ? 5 : 1; i < n; i++) fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "\n%s%s[exit %d]\n", out_text, err_text, rc);
  }
  return rc;
}

#define CTL(...) run_ctl(true, KEY, (const char *const[]){__VA_ARGS__, NULL})
#define CTL_KEY(key, ...) run_ctl(true, key, (const char *const[]){__VA_ARGS__, NULL})
#define CTL_RAW(...) run_ctl(false, NULL, (const char *const[]){__VA_ARGS__, NULL})

/* Expects exit code `want`; prints what the program said otherwise. */
#define EXPECT_RC(want, call)                                                                      \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    CHECK_EQ(rc_, want);                                                                           \
    if (rc_ != (want)) fprintf(stderr, "stdout:\n%s\nstderr:\n%s\n", out_text, err_text);          \
  } while (0)

static bool out_has(const char *s) {
  bool ok = strstr(out_text, s) != NULL;
  if (!ok) fprintf(stderr, "stdout lacks \"%s\":\n%s\n", s, out_text);
  return ok;
}

static bool err_has(const char *s) {
  bool ok = strstr(err_text, s) != NULL;
  if (!ok) fprintf(stderr, "stderr lacks \"%s\":\n%s\n", s, err_text);
  return ok;
}

/* stdout as JSON (an object), or NULL with a failure. */
static json_t *out_json(void) {
  json_error_t e;
  json_t *j = json_loads(out_text, 0, &e);
  if (!json_is_object(j)) {
    rsp_test_fail(__FILE__, __LINE__, "stdout is no JSON object: %s\n%s", e.text, out_text);
    json_decref(j);
    return NULL;
  }
  return j;
}

static const char *path_in(const char *name) {
  static char p[4][700];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", tmp, name);
  return p[k];
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0) rsp_test_fail(__FILE__, __LINE__, "cannot write %s", path);
  if (f) fclose(f);
}

/* ---- cases ----------------------------------------------------------------------------------- */

static void health(void) {
  EXPECT_RC(0, CTL("health"));
  CHECK(out_has("ok (store sqlite)"));
  EXPECT_RC(0, CTL_KEY(NULL, "--json", "health"));
  json_t *j = out_json();
  CHECK(j && strcmp(json_string_value(json_object_get(j, "status")), "ok") == 0);
  json_decref(j);
}

/* No key: 401; a wrong key: 403; the key from a file and from the environment; X-API-Key. */
static void auth(void) {
  EXPECT_RC(1, CTL_KEY(NULL, "device", "list"));
  CHECK(err_has("HTTP 401 unauthorized"));
  CHECK(err_has("--api-key"));
  EXPECT_RC(1, CTL_KEY("not-the-key-at-all", "device", "list"));
  CHECK(err_has("HTTP 403 forbidden: wrong API key"));
  EXPECT_RC(1, CTL_KEY("not-the-key-at-all", "--json", "device", "list"));
  json_t *j = out_json();
  CHECK(j && strcmp(json_string_value(json_object_get(j, "error")), "forbidden") == 0);
  json_decref(j);
  write_text(path_in("key.txt"), "# the operator's key\n\n  " KEY "  \nsecond-key-is-ignored\n");
  EXPECT_RC(0, CTL_KEY(NULL, "--api-key-file", path_in("key.txt"), "device", "list"));
  write_text(path_in("bad-key.txt"), "two words\n");
  EXPECT_RC(2, CTL_KEY(NULL, "--api-key-file", path_in("bad-key.txt"), "device", "list"));
  write_text(path_in("no-key.txt"), "# only a comment\n\n");
  EXPECT_RC(2, CTL_KEY(NULL, "--api-key-file", path_in("no-key.txt"), "device", "list"));
  CHECK(err_has("no API key"));
  EXPECT_RC(1, CTL_KEY(NULL, "--api-key-file", path_in("missing.txt"), "device", "list"));
  EXPECT_RC(2, CTL_KEY("a key", "device", "list"));
  EXPECT_RC(2, CTL_KEY(KEY, "--api-key-file", path_in("key.txt"), "device", "list"));
  /* The environment gives all three defaults. */
  setenv("RSP_EIM_URL", base_url, 1);
  setenv("RSP_EIM_CA", ca, 1);
  setenv("RSP_EIM_API_KEY", KEY, 1);
  EXPECT_RC(0, CTL_RAW("device", "list"));
  setenv("RSP_EIM_API_KEY", "wrong-wrong-wrong-key", 1);
  EXPECT_RC(1, CTL_RAW("device", "list"));
  CHECK(err_has("HTTP 403"));
  unsetenv("RSP_EIM_URL");
  unsetenv("RSP_EIM_CA");
  unsetenv("RSP_EIM_API_KEY");
  /* rsp-eim takes X-API-Key too (rsp-eimctl sends Bearer): checked with lib/net's client. */
  struct rsp_net_client *c = NULL;
  struct rsp_net_client_response res;
  struct rsp_net_client_options co = {.ca_file = ca};
  static const struct rsp_net_header h[] = {{"X-API-Key", KEY}};
  char url[256];
  snprintf(url, sizeof url, "%s/v1/devices?limit=1", base_url);
  CHECK_OK(rsp_net_client_new(&co, &c));
  CHECK_OK(rsp_net_client_request(c, "GET", url, h, 1, NULL, 0, &res));
  CHECK_EQ(res.status, 200);
  rsp_net_client_response_free(&res);
  snprintf(url, sizeof url, "%s/v1/devices", base_url);
  CHECK_OK(rsp_net_client_request(c, "PUT", url, h, 1, "{}", 2, &res));
  CHECK_EQ(res.status, 405);
  rsp_net_client_response_free(&res);
  rsp_net_client_destroy(c);
}

static void device_add(void) {
  char euicc[700], eum[700];
  snprintf(euicc, sizeof euicc, "%s/euicc/%s/cert.der", pki, eids[1]);
  snprintf(eum, sizeof eum, "%s/eum/cert.der", pki);
  EXPECT_RC(0, CTL("device", "add", eids[0]));
  CHECK(out_has("registered"));
  CHECK(out_has("eim id:            " EIM_ID));
  CHECK(out_has("next counter:      1"));
  EXPECT_RC(1, CTL("device", "add", eids[0]));
  CHECK(err_has("HTTP 409 exists"));
  write_text(path_in("initial.json"), "{\"eimId\":\"fleet-1\",\"fqdn\":\"fleet.example.org\","
                                      "\"counter\":3}");
  EXPECT_RC(0, CTL("--json", "device", "add", eids[1], "--euicc-cert", euicc, "--eum-cert", eum,
                   "--initial-eim-json", path_in("initial.json"), "--association-token", "5"));
  json_t *j = out_json();
  if (j) {
    CHECK_STR(json_string_value(json_object_get(j, "eimId")), "fleet-1");
    CHECK_EQ(json_integer_value(json_object_get(j, "nextCounter")), 4);
    CHECK_EQ(json_integer_value(json_object_get(j, "associationToken")), 5);
    CHECK(json_is_true(json_object_get(j, "certificateKnown")));
    CHECK(json_is_true(json_object_get(j, "eumCertificateKnown")));
  }
  json_decref(j);
  /* The eUICC certificate of another EID is refused by the API. */
  EXPECT_RC(1, CTL("device", "add", eids[2], "--euicc-cert", euicc));
  CHECK(err_has("HTTP 400 invalid_request"));
  CHECK(err_has(eids[1]));
  EXPECT_RC(0, CTL("device", "add", eids[2], "--eim-id", "third"));
  /* Usage errors: checked before any request. */
  EXPECT_RC(2, CTL("device", "add", "1234"));
  EXPECT_RC(2, CTL("device", "add"));
  EXPECT_RC(2, CTL("device", "add", eids[0], "extra"));
  EXPECT_RC(2, CTL("device", "add", eids[0], "--limit", "3"));
  EXPECT_RC(2, CTL("device", "add", eids[0], "--association-token", "-4"));
  EXPECT_RC(1, CTL("device", "add", eids[0], "--euicc-cert", path_in("initial.json")));
  write_text(path_in("not-object.json"), "[1]");
  EXPECT_RC(1, CTL("device", "add", eids[0], "--initial-eim-json", path_in("not-object.json")));
}

static void device_list_show(void) {
  EXPECT_RC(0, CTL("device", "list"));
  CHECK(out_has("EID"));
  CHECK(out_has(eids[0]) && out_has(eids[1]) && out_has(eids[2]));
  EXPECT_RC(0, CTL("device", "list", "--limit", "1"));
  CHECK(out_has(eids[0]));
  CHECK(!strstr(out_text, eids[1]) || strstr(out_text, "--after"));
  CHECK(out_has("more: --after"));
  EXPECT_RC(0, CTL("device", "list", "--limit", "1", "--all"));
  CHECK(out_has(eids[2]));
  CHECK(!strstr(out_text, "more:"));
  EXPECT_RC(0, CTL("device", "list", "--limit", "1", "--after", eids[0], "--json"));
  json_t *j = out_json();
  CHECK(j && json_array_size(json_object_get(j, "devices")) == 1);
  json_decref(j);
  EXPECT_RC(0, CTL("--json", "device", "list", "--limit", "2", "--all"));
  j = out_json();
  CHECK(j && json_array_size(json_object_get(j, "devices")) == 3);
  CHECK(j && json_is_null(json_object_get(j, "next")));
  json_decref(j);
  EXPECT_RC(2, CTL("device", "list", "--limit", "0"));
  EXPECT_RC(2, CTL("device", "list", "--after", "12"));
  EXPECT_RC(0, CTL("device", "show", eids[1]));
  CHECK(out_has("eid:               "));
  CHECK(out_has("fleet-1"));
  CHECK(out_has("euicc certificate: known"));
  CHECK(out_has("last seen:         never"));
  EXPECT_RC(0, CTL("device", "show", eids[0], "--json"));
  j = out_json();
  CHECK(j && json_is_array(json_object_get(j, "profiles")));
  json_decref(j);
  EXPECT_RC(1, CTL("device", "show", "89049032000000000000000000000099"));
  CHECK(err_has("HTTP 404 not_found"));
}

static void add_initial_eim(void) {
  struct rsp_arena a;
  struct rsp_msg_add_initial_eim_request *req = NULL;
  size_t len = 0;
  const char *out = path_in("add-initial.der");
  rsp_arena_init(&a, 1u << 20);
  EXPECT_RC(0, CTL("device", "add-initial-eim", eids[1], "--out", out));
  CHECK(out_has("AddInitialEimRequest"));
  uint8_t *der = rsp_test_read_file(out, &len);
  CHECK(der != NULL);
  if (der) {
    CHECK_OK(rsp_msg_decode(&rsp_msgt_add_initial_eim_request, der, len, &a, (void **)&req, NULL));
    CHECK(req && req->eim_configuration_data_list && req->eim_configuration_data_list->n == 1);
    if (req && req->eim_configuration_data_list && req->eim_configuration_data_list->n == 1) {
      struct rsp_msg_eim_configuration_data *c = req->eim_configuration_data_list->v;
      CHECK(c->eim_id.len == 7 && memcmp(c->eim_id.p, "fleet-1", 7) == 0);
      CHECK(c->counter_value.present && c->counter_value.v == 3);
    }
  }
  rsp_free(der);
  EXPECT_RC(0, CTL("device", "add-initial-eim", eids[0]));
  CHECK(strncmp(out_text, "BF57", 4) == 0);
  EXPECT_RC(0, CTL("device", "add-initial-eim", eids[0], "--json"));
  json_t *j = out_json();
  CHECK(j && json_is_string(json_object_get(j, "addInitialEimRequest")));
  json_decref(j);
  EXPECT_RC(1, CTL("device", "add-initial-eim", "89049032000000000000000000000099"));
  CHECK(err_has("HTTP 404"));
  rsp_arena_free(&a);
}

static void op_commands(void) {
  const char *e = eids[0];
  write_text(path_in("spec.json"), "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}");
  EXPECT_RC(0, CTL("op", "add", e, "enable", ICCID, "--rollback"));
  CHECK(out_has("operation 1 queued for"));
  CHECK(out_has("psmo, position 1"));
  EXPECT_RC(0, CTL("op", "add", e, "disable", ICCID));
  EXPECT_RC(0, CTL("op", "add", e, "delete", ICCID, "--not-before", "+1h"));
  EXPECT_RC(0, CTL("op", "add", e, "list-profiles", "--expires-at", "2099-01-01T00:00:00Z"));
  EXPECT_RC(0, CTL("op", "add", e, "get-rat"));
  EXPECT_RC(0, CTL("op", "add", e, "download", "1$smdp.example.com$MATCHING-1"));
  EXPECT_RC(0, CTL("op", "add", e, "euicc-data", "BF20BF22"));
  EXPECT_RC(0, CTL("op", "add", e, "--spec-file", path_in("spec.json")));
  EXPECT_RC(0, CTL("--json", "op", "add", e, "--spec-json",
                   "{\"kind\":\"eco\",\"ecos\":[{\"listEim\":{}}]}", "--not-before", "4102444800"));
  json_t *j = out_json();
  long long id = j ? json_integer_value(json_object_get(j, "id")) : 0;
  CHECK_EQ(id, 9);
  CHECK(j && strcmp(json_string_value(json_object_get(j, "state")), "queued") == 0);
  json_decref(j);
  /* API refusals: exit 1 with the API's message. */
  EXPECT_RC(1, CTL("op", "add", e, "enable", "123"));
  CHECK(err_has("HTTP 400 invalid_spec"));
  CHECK(err_has("iccid"));
  EXPECT_RC(1, CTL("op", "add", "89049032000000000000000000000099", "get-rat"));
  CHECK(err_has("HTTP 404"));
  /* Usage errors. */
  EXPECT_RC(2, CTL("op", "add", e));
  EXPECT_RC(2, CTL("op", "add", e, "get-rat", "--spec-json", "{}"));
  EXPECT_RC(2, CTL("op", "add", e, "reboot"));
  EXPECT_RC(2, CTL("op", "add", e, "enable"));
  EXPECT_RC(2, CTL("op", "add", e, "disable", ICCID, "--rollback"));
  EXPECT_RC(2, CTL("op", "add", e, "get-rat", "--not-before", "tomorrow"));
  EXPECT_RC(2, CTL("op", "add", e, "get-rat", "--expires-at", "2099-02-30T00:00:00Z"));
  EXPECT_RC(2, CTL("op", "add", e, "--spec-json", "{not json"));
  /* The list. */
  EXPECT_RC(0, CTL("op", "list", e));
  CHECK(out_has("SEQ"));
  CHECK(out_has("euicc_data"));
  CHECK(out_has("download"));
  EXPECT_RC(0, CTL("op", "list", e, "--limit", "4"));
  CHECK(out_has("more: --after 4"));
  EXPECT_RC(0, CTL("--json", "op", "list", e, "--limit", "4", "--all"));
  j = out_json();
  CHECK(j && json_array_size(json_object_get(j, "operations")) == 9);
  json_decref(j);
  EXPECT_RC(0, CTL("op", "list", e, "--after", "8", "--json"));
  j = out_json();
  CHECK(j && json_array_size(json_object_get(j, "operations")) == 1);
  json_decref(j);
  /* One operation; cancel. */
  EXPECT_RC(0, CTL("op", "show", "1"));
  CHECK(out_has("state:             queued"));
  CHECK(out_has("\"rollback\":true"));
  EXPECT_RC(0, CTL("op", "show", "3", "--json"));
  j = out_json();
  CHECK(j && json_integer_value(json_object_get(j, "notBefore")) > 0);
  json_decref(j);
  EXPECT_RC(0, CTL("op", "cancel", "2"));
  CHECK(out_has("operation 2 cancelled"));
  EXPECT_RC(1, CTL("op", "cancel", "2"));
  CHECK(err_has("HTTP 409 state"));
  EXPECT_RC(0, CTL("--json", "op", "cancel", "4"));
  j = out_json();
  CHECK(j && strcmp(json_string_value(json_object_get(j, "state")), "cancelled") == 0);
  json_decref(j);
  EXPECT_RC(1, CTL("op", "show", "999"));
  CHECK(err_has("HTTP 404 not_found"));
  EXPECT_RC(2, CTL("op", "show", "abc"));
  EXPECT_RC(2, CTL("op", "show"));
}

static void bulk(void) {
  char text[512];
  snprintf(text, sizeof text, "# campaign\n%s\n\n  %s  \n89049032000000000000000000000099\nbad\n",
           eids[1], eids[2]);
  write_text(path_in("eids.txt"), text);
  EXPECT_RC(0, CTL("op", "bulk", "--eids-file", path_in("eids.txt"), "get-rat"));
  CHECK(out_has("2 operations queued, 2 EIDs refused"));
  CHECK(out_has("refused 89049032000000000000000000000099: unknown device"));
  CHECK(out_has("refused bad: not an EID"));
  EXPECT_RC(0, CTL("--json", "op", "bulk", "--eids-file", path_in("eids.txt"), "--spec-json",
                   "{\"kind\":\"euicc_data\",\"tags\":\"BF20\"}", "--expires-at", "+2d"));
  json_t *j = out_json();
  CHECK(j && json_array_size(json_object_get(j, "created")) == 2);
  CHECK(j && json_array_size(json_object_get(j, "refused")) == 2);
  json_decref(j);
  EXPECT_RC(1, CTL("op", "bulk", "--eids-file", path_in("eids.txt"), "enable", "1"));
  CHECK(err_has("invalid_spec"));
  EXPECT_RC(2, CTL("op", "bulk", "get-rat"));
  EXPECT_RC(2, CTL("op", "bulk", "--eids-file", path_in("eids.txt")));
  EXPECT_RC(1, CTL("op", "bulk", "--eids-file", path_in("none.txt"), "get-rat"));
  write_text(path_in("empty.txt"), "# nothing\n");
  EXPECT_RC(1, CTL("op", "bulk", "--eids-file", path_in("empty.txt"), "get-rat"));
}

static void audit(void) {
  EXPECT_RC(0, CTL("audit", eids[0]));
  CHECK(out_has("EVENT"));
  CHECK(out_has("registered"));
  CHECK(out_has("enqueued"));
  CHECK(out_has("cancelled"));
  EXPECT_RC(0, CTL("audit", eids[0], "--limit", "2"));
  CHECK(out_has("more: --after"));
  EXPECT_RC(0, CTL("--json", "audit", eids[0], "--limit", "3", "--all"));
  json_t *j = out_json();
  /* registered, 9 enqueued, 2 cancelled */
  CHECK(j && json_array_size(json_object_get(j, "entries")) == 12);
  json_decref(j);
  EXPECT_RC(0, CTL("--json", "audit", eids[0], "--operation", "2"));
  j = out_json();
  CHECK(j && json_array_size(json_object_get(j, "entries")) == 2);
  json_decref(j);
  EXPECT_RC(1, CTL("audit", "89049032000000000000000000000099"));
  CHECK(err_has("HTTP 404"));
  EXPECT_RC(2, CTL("audit", eids[0], "--operation", "x"));
  EXPECT_RC(2, CTL("audit"));
}

/* stats: the counts as a table and as JSON; a key is needed. */
static void stats(void) {
  EXPECT_RC(0, CTL("stats"));
  CHECK(out_has("devices:           3"));
  CHECK(out_has("operations:        "));
  CHECK(out_has("  cancelled        "));
  CHECK(out_has("rolled back:       0"));
  CHECK(out_has("esipa requests:    - (not counted by this server)"));
  CHECK(out_has("psmo"));
  EXPECT_RC(0, CTL("--json", "stats"));
  json_t *j = out_json(), *ops = j ? json_object_get(j, "operations") : NULL;
  CHECK(j && json_integer_value(json_object_get(j, "devices")) == 3);
  /* op_commands: 9 queued for eids[0], 2 of them cancelled; bulk: 4 more */
  CHECK(ops && json_integer_value(json_object_get(ops, "cancelled")) == 2);
  CHECK(ops && json_integer_value(json_object_get(ops, "total")) == 13);
  CHECK(ops && json_integer_value(json_object_get(ops, "queued")) == 11);
  CHECK(j && json_is_object(json_object_get(json_object_get(j, "byKind"), "download")));
  json_decref(j);
  EXPECT_RC(1, CTL_KEY(NULL, "stats"));
  CHECK(err_has("HTTP 401"));
  EXPECT_RC(2, CTL("stats", "extra"));
  EXPECT_RC(2, CTL("stats", "--profiles"));
}

static unsigned long server_connections(void) {
  struct rsp_net_server_stats st;
  rsp_net_server_stats(srv, &st);
  return st.connections;
}

/* op add-many: a thousand lines over one connection with progress; then a file with refused
 * lines (unknown device, invalid spec, not JSON, no spec, no EID): the good lines are queued,
 * each refused one reported with its number and the API's error, exit 1. */
static void add_many(void) {
  static char text[1 << 17];
  size_t k = 0;
  for (int i = 0; i < 1000; i++)
    k += (size_t)snprintf(text + k, sizeof text - k,
                          "%s {\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}\n", eids[2 - i % 2]);
  write_text(path_in("ops-1000.txt"), text);
  unsigned long before = server_connections();
  EXPECT_RC(0, CTL("op", "add-many", "--ops-file", path_in("ops-1000.txt")));
  CHECK_EQ(server_connections() - before, 1);
  CHECK(err_has("500 lines: 500 queued, 0 refused"));
  CHECK(err_has("1000 lines: 1000 queued, 0 refused"));
  CHECK(err_has("1000 operations queued, 0 lines refused (1000 requests over 1 connection)"));
  size_t lines = 0;
  for (const char *p = out_text; (p = strchr(p, '\n')); p++) lines++;
  CHECK_EQ(lines, 1000);
  CHECK(strncmp(out_text, eids[2], RSP_EID_DIGITS) == 0 && out_text[RSP_EID_DIGITS] == ' ');
  /* refused lines */
  snprintf(text, sizeof text,
           "# a campaign\n"
           "%s {\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}\n"
           "\n"
           "89049032000000000000000000000099 {\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}\n"
           "  %s\t{\"kind\":\"eco\",\"ecos\":[{\"listEim\":{}}]}  \n"
           "%s {\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"123\"}}]}\n"
           "%s {not json\n"
           "%s\n"
           "bad {\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}\n"
           "%s {\"kind\":\"euicc_data\",\"tags\":\"BF20\"}",
           eids[1], eids[2], eids[1], eids[1], eids[1], eids[2]);
  write_text(path_in("ops.txt"), text);
  before = server_connections();
  EXPECT_RC(1, CTL("op", "add-many", "--ops-file", path_in("ops.txt"), "--expires-at", "+1d"));
  CHECK(server_connections() - before <= 1);
  CHECK(out_has(eids[1]) && out_has(eids[2]));
  lines = 0;
  for (const char *p = out_text; (p = strchr(p, '\n')); p++) lines++;
  CHECK_EQ(lines, 3);
  CHECK(err_has("ops.txt:4: 89049032000000000000000000000099: HTTP 404 not_found"));
  CHECK(err_has("ops.txt:6: "));
  CHECK(err_has("HTTP 400 invalid_spec: spec: psmos[0].enable.iccid"));
  CHECK(err_has("ops.txt:7: "));
  CHECK(err_has("not JSON"));
  CHECK(err_has("ops.txt:8: no spec after the EID"));
  CHECK(err_has("ops.txt:9: not an EID"));
  CHECK(err_has("3 operations queued, 5 lines refused"));
  /* the queued ones carry the times */
  long long id = atoll(strchr(out_text, ' ') + 1);
  char ids[32];
  snprintf(ids, sizeof ids, "%lld", id);
  EXPECT_RC(0, CTL("--json", "op", "show", ids));
  json_t *j = out_json();
  CHECK(j && json_integer_value(json_object_get(j, "expiresAt")) > 0);
  json_decref(j);
  /* --json: one array of what was queued */
  EXPECT_RC(1, CTL("--json", "op", "add-many", "--ops-file", path_in("ops.txt")));
  json_error_t e;
  j = json_loads(out_text, 0, &e);
  CHECK(json_is_array(j) && json_array_size(j) == 3);
  CHECK(json_integer_value(json_object_get(json_array_get(j, 0), "line")) == 2);
  CHECK_STR(json_string_value(json_object_get(json_array_get(j, 2), "eid")), eids[2]);
  CHECK(json_integer_value(json_object_get(json_array_get(j, 2), "id")) > id);
  json_decref(j);
  /* failures and usage */
  write_text(path_in("ops-empty.txt"), "# nothing\n\n");
  EXPECT_RC(1, CTL("op", "add-many", "--ops-file", path_in("ops-empty.txt")));
  CHECK(err_has("no operation in the file"));
  EXPECT_RC(1, CTL("op", "add-many", "--ops-file", path_in("ops-none.txt")));
  EXPECT_RC(2, CTL("op", "add-many"));
  EXPECT_RC(2, CTL("op", "add-many", "--ops-file", path_in("ops.txt"), "extra"));
  EXPECT_RC(2, CTL("op", "add-many", "--ops-file", path_in("ops.txt"), "--not-before", "soon"));
  EXPECT_RC(2, CTL("op", "add-many", "--ops-file", path_in("ops.txt"), "--spec-json", "{}"));
  EXPECT_RC(1, CTL_KEY("not-the-key-at-all", "op", "add-many", "--ops-file", path_in("ops.txt")));
  CHECK(err_has("HTTP 403"));
}

/* device list --profiles: every device's profiles, as rows and as JSON. */
static void device_list_profiles(void) {
  struct rsp_eim_profile p[2];
  memset(p, 0, sizeof p);
  snprintf(p[0].iccid, sizeof p[0].iccid, "%s", ICCID);
  p[0].state = RSP_EIM_PROFILE_ENABLED;
  snprintf(p[0].name, sizeof p[0].name, "Fleet profile");
  p[0].profile_class = 2;
  snprintf(p[1].iccid, sizeof p[1].iccid, "8944000000000000029");
  p[1].state = RSP_EIM_PROFILE_DISABLED;
  p[1].profile_class = -1;
  pthread_mutex_lock(&store_mu);
  CHECK_OK(rsp_eim_store_profiles_set(store, eids[1], p, 2, 1700000000));
  pthread_mutex_unlock(&store_mu);
  EXPECT_RC(0, CTL("device", "list", "--profiles"));
  CHECK(out_has("    " ICCID "    enabled   operational   Fleet profile"));
  CHECK(out_has("    8944000000000000029    disabled  -"));
  EXPECT_RC(0, CTL("device", "list"));
  CHECK(!strstr(out_text, "Fleet profile"));
  EXPECT_RC(0, CTL("--json", "device", "list", "--all", "--profiles", "--limit", "1"));
  json_t *j = out_json(), *d = j ? json_object_get(j, "devices") : NULL;
  CHECK_EQ(json_array_size(d), 3);
  CHECK_EQ(json_array_size(json_object_get(json_array_get(d, 0), "profiles")), 0);
  CHECK_EQ(json_array_size(json_object_get(json_array_get(d, 1), "profiles")), 2);
  CHECK_STR(json_string_value(json_object_get(
                json_array_get(json_object_get(json_array_get(d, 1), "profiles"), 0), "name")),
            "Fleet profile");
  json_decref(j);
  EXPECT_RC(2, CTL("device", "show", eids[1], "--profiles"));
}

/* Cancels every queued operation of the store after a while, as devices would finish theirs. */
static void *finish_later(void *arg) {
  usleep(1500 * 1000);
  pthread_mutex_lock(&store_mu);
  for (int64_t id = 1; id < 5000; id++) (void)rsp_eim_store_op_cancel(store, id, 1700000000);
  pthread_mutex_unlock(&store_mu);
  return arg;
}

/* stats --wait-idle: the timeout with operations still queued (exit 1), then idle reached while
 * it polls (exit 0, the counts printed), progress on stderr. */
static void wait_idle(void) {
  pthread_t t;
  EXPECT_RC(1, CTL("stats", "--wait-idle", "--timeout", "2"));
  CHECK(err_has("done/failed/total"));
  CHECK(err_has("timed out after 2 s"));
  CHECK(err_has("queued or sent"));
  CHECK(pthread_create(&t, NULL, finish_later, NULL) == 0);
  EXPECT_RC(0, CTL("stats", "--wait-idle", "--timeout", "30"));
  pthread_join(t, NULL);
  CHECK(err_has(", 0 queued or sent"));
  CHECK(out_has("  queued           0"));
  EXPECT_RC(0, CTL("--json", "stats", "--wait-idle"));
  json_t *j = out_json();
  CHECK(j && json_integer_value(json_object_get(json_object_get(j, "operations"), "queued")) == 0);
  json_decref(j);
}

/* Transport failures and usage errors. */
static void failures(void) {
  char url[160];
  EXPECT_RC(1, CTL_RAW("--url", "https://localhost:1", "--ca", ca, "health"));
  CHECK(err_has("GET https://localhost:1/v1/health"));
  snprintf(url, sizeof url, "%s/", base_url);
  EXPECT_RC(0, CTL_RAW("--url", url, "--ca", ca, "health"));
  EXPECT_RC(1, CTL_RAW("--url", base_url, "--ca", other_ca, "health"));
  CHECK(err_has("TLS"));
  EXPECT_RC(1, CTL_RAW("--url", base_url, "--ca", path_in("no-ca.pem"), "health"));
  EXPECT_RC(2, CTL_RAW("--url", "http://localhost:1", "--ca", ca, "health"));
  EXPECT_RC(2, run_ctl(false, NULL, (const char *const[]){NULL}));
  EXPECT_RC(2, CTL("frobnicate"));
  EXPECT_RC(2, CTL("device"));
  EXPECT_RC(2, CTL("health", "--bogus"));
  EXPECT_RC(2, CTL("health", "extra"));
  EXPECT_RC(2, CTL("--timeout", "0", "health"));
  EXPECT_RC(0, CTL_RAW("--help"));
  CHECK(out_has("usage: rsp-eimctl"));
  EXPECT_RC(0, CTL("device", "list", "--help"));
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(health),
      T(auth),
      T(device_add),
      T(device_list_show),
      T(add_initial_eim),
      T(op_commands),
      T(bulk),
      T(audit),
      T(stats),
      T(add_many),
      T(device_list_profiles),
      T(wait_idle),
      T(failures),
  };
  char cmd[700];
  if (argc < 3) {
    fprintf(stderr, "usage: %s path/to/rsp-pki path/to/rsp-eimctl [case]\n", argv[0]);
    return 2;
  }
  rsp_pki_bin = argv[1];
  ctl_bin = argv[2];
  rsp_log_set_level(RSP_LOG_WARN);
  make_pkis();
  start_server();
  int rc = rsp_test_main(argc - 2, argv + 2, cases, sizeof cases / sizeof cases[0]);
  rsp_net_server_destroy(srv);
  rsp_eim_store_close(store);
  rsp_free(sign_cert);
  rsp_free(tls_cert);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
  return rc;
}
