/* ESipa over CoAP/DTLS end to end (docs/adr/0009), every component a real process on 127.0.0.1:
 * rsp-eim serving ESipa over HTTPS and over CoAP (--coap-listen, --coap-psk-file), rsp-euicc
 * (two cards behind the raw APDU socket), rsp-smdp (ES9+ for an indirect download, ES2+ ordered
 * with rsp-smdpctl) and rsp-ipad --once with a coaps:// --eim-url. Devices are registered and
 * their operations queued through the operator API (HTTPS), as in test_eim.
 *
 * Cases: a PSMO delivered and done over DTLS-PSK; the same over DTLS with certificates; a wrong
 * PSK refused (the cycle fails, the operation stays queued); an indirect profile download relayed
 * by the eIM over CoAP (the bound profile package crosses block-wise).
 *
 *   test_eim_coap RSP_PKI RSP_EUICC RSP_SMDP RSP_SMDPCTL RSP_IPAD RSP_EIM [case ...] */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "rsp/core/hex.h"
#include "rsp/msg/base64.h"
#include "rsp/net/http.h"
#include "test.h"

#define N_CARDS 2
#define API_KEY "test-key-0123456789abcdef"
#define PSK_HEX "00112233445566778899aabbccddeeff"
#define PROFILE_TYPE "openrsp test profile"
/* A TS.48 test profile from the shared reference data (about 12 kB): its bound package crosses
 * CoAP in a dozen blocks. Without the shared data, the small generated profiles are used. */
#define TS48_PROFILE "profiles/TS48v1_A.der"
#define TS48_PROFILE_TYPE "GSMA Generic eUICC Test Profile"

static const char *pki_bin, *euicc_bin, *smdp_bin, *smdpctl_bin, *ipad_bin, *eim_bin;
static char top[512], pki[600], eids[N_CARDS][RSP_EID_DIGITS + 1];
static unsigned card_port, esipa_port, api_port, coap_port, smdp_port, smdp_es2_port;
static pid_t card_pid = -1, smdp_pid = -1, eim_pid = -1;
static struct rsp_net_client *api_client;
static bool ready, have_ts48;

static char *in_top(char *buf, size_t size, const char *rel) {
  snprintf(buf, size, "%s/%s", top, rel);
  return buf;
}

static char *in_pki(char *buf, size_t size, const char *rel) {
  snprintf(buf, size, "%s/%s", pki, rel);
  return buf;
}

static void show_log(const char *name) { rsp_test_show_log(top, name); }

static int log_count(const char *name, const char *needle) {
  return rsp_test_log_count(top, name, needle);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
  chmod(path, 0600);
}

/* ---- the processes --------------------------------------------------------------------------- */

static void make_pki_and_cards(void) {
  char cmd[2048], line[64], state[700], log[700], listen[32];
  snprintf(top, sizeof top, "%s", rsp_test_tmpdir("eim-coap"));
  snprintf(pki, sizeof pki, "%s/pki", top);
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000800:%d >/dev/null",
           pki_bin, pki, N_CARDS);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  snprintf(cmd, sizeof cmd, "ls '%s/euicc' | sort", pki);
  FILE *f = popen(cmd, "r");
  for (int i = 0; f && i < N_CARDS && fgets(line, sizeof line, f); i++)
    snprintf(eids[i], sizeof eids[i], "%.32s", line);
  if (f) pclose(f);
  card_port = rsp_test_free_ports(N_CARDS);
  snprintf(listen, sizeof listen, "127.0.0.1:%u", card_port);
  char *argv[] = {
      (char *)euicc_bin, "--pki", pki, "--state", in_top(state, sizeof state, "cards.db"),
      "--listen",        listen,  NULL};
  card_pid = rsp_test_spawn(argv, in_top(log, sizeof log, "euicc.log"));
  for (int i = 0; i < N_CARDS; i++) CHECK(rsp_test_wait_port(card_port + (unsigned)i, 20000));
}

/* DIR with a copy of the TS.48 profile for rsp-smdp --profiles; NULL without shared data. */
static const char *ts48_dir(char *dir, size_t size) {
  char cmd[2400];
  const char *src = rsp_test_shared_path(TS48_PROFILE);
  if (!src || access(src, R_OK) != 0) {
    fprintf(stderr, "# no %s (RSP_SHARED): the download uses a small generated profile\n",
            TS48_PROFILE);
    return NULL;
  }
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/profiles' && cp '%s' '%s/profiles/'", top, src, top);
  if (system(cmd) != 0) return NULL;
  return in_top(dir, size, "profiles");
}

static void start_smdp(void) {
  char state[700], log[700], es9[32], es2[32], address[64], profiles[700];
  smdp_port = rsp_test_free_port();
  do smdp_es2_port = rsp_test_free_port();
  while (smdp_es2_port == smdp_port);
  snprintf(es9, sizeof es9, "127.0.0.1:%u", smdp_port);
  snprintf(es2, sizeof es2, "127.0.0.1:%u", smdp_es2_port);
  snprintf(address, sizeof address, "localhost:%u", smdp_port);
  char *argv[] = {(char *)smdp_bin,
                  "serve",
                  "--pki",
                  pki,
                  "--state",
                  in_top(state, sizeof state, "smdp.db"),
                  "--listen",
                  es9,
                  "--es2-listen",
                  es2,
                  "--address",
                  address,
                  "--generate",
                  "4",
                  "--iccid-base",
                  "894903200000000003",
                  "--imsi-base",
                  "001010000000003",
                  NULL,
                  NULL,
                  NULL};
  if (ts48_dir(profiles, sizeof profiles)) {
    have_ts48 = true;
    argv[sizeof argv / sizeof *argv - 3] = "--profiles";
    argv[sizeof argv / sizeof *argv - 2] = profiles;
  }
  smdp_pid = rsp_test_spawn(argv, in_top(log, sizeof log, "smdp.log"));
  CHECK(rsp_test_wait_port(smdp_port, 20000) && rsp_test_wait_port(smdp_es2_port, 20000));
}

/* The CoAP server listens once the HTTPS ones do; its log line says so. */
static bool wait_coap(void) {
  for (int i = 0; i < 200; i++) {
    if (log_count("eim.log", "esipa-coap: listening on udp port") > 0) return true;
    usleep(50 * 1000);
  }
  show_log("eim.log");
  return false;
}

static void start_eim(void) {
  char state[700], keys[700], psk[700], log[700], listen[32], api[32], coap[32], psk_line[128];
  esipa_port = rsp_test_free_port();
  do api_port = rsp_test_free_port();
  while (api_port == esipa_port);
  coap_port = rsp_test_free_port(); /* a free TCP port number, used for UDP */
  snprintf(listen, sizeof listen, "127.0.0.1:%u", esipa_port);
  snprintf(api, sizeof api, "127.0.0.1:%u", api_port);
  snprintf(coap, sizeof coap, "127.0.0.1:%u", coap_port);
  write_text(in_top(keys, sizeof keys, "keys"), API_KEY "\n");
  snprintf(psk_line, sizeof psk_line, "# devices\ndevice-0 %s\ndevice-1 %s\n", PSK_HEX, PSK_HEX);
  write_text(in_top(psk, sizeof psk, "coap-psk"), psk_line);
  char *argv[] = {(char *)eim_bin,
                  "serve",
                  "--pki",
                  pki,
                  "--state",
                  in_top(state, sizeof state, "eim.db"),
                  "--listen",
                  listen,
                  "--api-listen",
                  api,
                  "--api-key-file",
                  keys,
                  "--coap-listen",
                  coap,
                  "--coap-psk-file",
                  psk,
                  "--log-level",
                  "debug",
                  NULL};
  eim_pid = rsp_test_spawn(argv, in_top(log, sizeof log, "eim.log"));
  CHECK(rsp_test_wait_port(esipa_port, 20000) && rsp_test_wait_port(api_port, 20000));
  CHECK(wait_coap());
  char ca[700];
  struct rsp_net_client_options co = {.ca_file = in_pki(ca, sizeof ca, "ci/cert.pem"),
                                      .timeout_ms = 30000};
  CHECK_OK(rsp_net_client_new(&co, &api_client));
}

/* ---- the operator API ------------------------------------------------------------------------ */

static int api(const char *method, const char *target, const char *body, json_t **out) {
  char url[512];
  struct rsp_net_client_response res;
  struct rsp_net_header h[2] = {{"Content-Type", "application/json"}, {"X-API-Key", API_KEY}};
  snprintf(url, sizeof url, "https://localhost:%u%s", api_port, target);
  if (out) *out = NULL;
  rsp_err_t rc =
      rsp_net_client_request(api_client, method, url, h, 2, body, body ? strlen(body) : 0, &res);
  CHECK_OK(rc);
  if (rc != RSP_OK) return -1;
  int status = res.status;
  if (out && res.body.len) *out = json_loadb((const char *)res.body.data, res.body.len, 0, NULL);
  rsp_net_client_response_free(&res);
  return status;
}

static const char *jstr(json_t *j, const char *key) {
  json_t *v = j ? json_object_get(j, key) : NULL;
  return json_is_string(v) ? json_string_value(v) : "";
}

static long long enqueue(int i, const char *spec) {
  char target[128], body[1024];
  json_t *j = NULL;
  snprintf(target, sizeof target, "/v1/devices/%s/operations", eids[i]);
  snprintf(body, sizeof body, "{\"spec\":%s}", spec);
  CHECK_EQ(api("POST", target, body, &j), 201);
  json_t *id = j ? json_object_get(j, "id") : NULL;
  long long v = json_is_integer(id) ? (long long)json_integer_value(id) : 0;
  json_decref(j);
  return v;
}

/* The operation's state ("queued", "done" ...) into out. */
static void op_state(long long id, char *out, size_t size) {
  char target[64];
  json_t *j = NULL;
  snprintf(target, sizeof target, "/v1/operations/%lld", id);
  CHECK_EQ(api("GET", target, NULL, &j), 200);
  snprintf(out, size, "%s", jstr(j, "state"));
  if (strcmp(out, "done") != 0) {
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    fprintf(stderr, "# operation %lld: %s\n", id, t ? t : "(none)");
    free(t);
  }
  json_decref(j);
}

/* Registers device i and puts the eIM on its card with the factory tool (rsp-ipad
 * --add-initial-eim), as test_eim does for one of its cards. */
static void manufacture(int i) {
  char body[128], target[128], file[700], cmd[2400];
  static uint8_t der[1 << 14];
  size_t len = 0;
  json_t *j = NULL;
  snprintf(body, sizeof body, "{\"eid\":\"%s\"}", eids[i]);
  CHECK_EQ(api("POST", "/v1/devices", body, &j), 201);
  json_decref(j);
  snprintf(target, sizeof target, "/v1/devices/%s/add-initial-eim", eids[i]);
  CHECK_EQ(api("GET", target, NULL, &j), 200);
  const char *b64 = jstr(j, "addInitialEimRequest");
  CHECK_OK(rsp_msg_base64_decode(b64, strlen(b64), der, sizeof der, &len));
  json_decref(j);
  snprintf(file, sizeof file, "%s/initial-eim-%d.der", top, i);
  FILE *f = fopen(file, "wb");
  CHECK(f && fwrite(der, 1, len, f) == len);
  if (f) fclose(f);
  snprintf(cmd, sizeof cmd,
           "'%s' --card socket:127.0.0.1:%u --add-initial-eim '%s' >'%s/aie-%d.out' 2>&1", ipad_bin,
           card_port + (unsigned)i, file, top, i);
  CHECK_EQ(system(cmd), 0);
}

static bool setup(void) {
  static bool tried;
  if (tried) return ready;
  tried = true;
  make_pki_and_cards();
  start_smdp();
  start_eim();
  for (int i = 0; i < N_CARDS; i++) manufacture(i);
  ready = rsp_test_failures == 0;
  return ready;
}

/* ---- rsp-ipad over CoAP ---------------------------------------------------------------------- */

enum dtls_mode { MODE_PSK, MODE_CERT, MODE_WRONG_PSK };

/* One rsp-ipad --once cycle for card i over coaps://; its exit code. */
static int ipad_coap(int i, enum dtls_mode mode, const char *log) {
  char cmd[4096], creds[1600], key[700], ca[700];
  in_top(key, sizeof key, mode == MODE_WRONG_PSK ? "wrong.key" : "device.key");
  write_text(key, mode == MODE_WRONG_PSK ? "ffeeddccbbaa99887766554433221100\n" : PSK_HEX "\n");
  if (mode == MODE_CERT)
    snprintf(creds, sizeof creds, "--eim-ca '%s'", in_pki(ca, sizeof ca, "ci/cert.pem"));
  else
    snprintf(creds, sizeof creds, "--coap-psk-identity device-%d --coap-psk-key-file '%s'", i, key);
  snprintf(cmd, sizeof cmd,
           "'%s' --once --card socket:127.0.0.1:%u --log-level debug --net-timeout %d "
           "--eim-url coaps://%s:%u/gsma/rsp2/asn1 %s >/dev/null 2>'%s/%s'",
           ipad_bin, card_port + (unsigned)i, mode == MODE_WRONG_PSK ? 3 : 20,
           mode == MODE_CERT ? "localhost" : "127.0.0.1", coap_port, creds, top, log);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void psmo_over(int device, enum dtls_mode mode, const char *log) {
  char state[32];
  if (!setup()) return;
  int before = log_count("eim.log", "esipa-coap: 127.0.0.1");
  long long id = enqueue(device, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  int code = ipad_coap(device, mode, log);
  CHECK_EQ(code, 0);
  if (code != 0) show_log(log);
  op_state(id, state, sizeof state);
  CHECK_STR(state, "done");
  /* GetEimPackage, ProvideEimPackageResult and the empty poll at least, all over CoAP */
  CHECK(log_count("eim.log", "esipa-coap: 127.0.0.1") >= before + 3);
}

static void psmo_psk(void) { psmo_over(0, MODE_PSK, "ipad-psk.log"); }

static void psmo_certificates(void) { psmo_over(1, MODE_CERT, "ipad-cert.log"); }

static void wrong_psk(void) {
  char state[32];
  if (!setup()) return;
  long long id = enqueue(0, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  CHECK_EQ(ipad_coap(0, MODE_WRONG_PSK, "ipad-wrong.log"), 1);
  op_state(id, state, sizeof state);
  CHECK_STR(state, "queued");
  CHECK_EQ(ipad_coap(0, MODE_PSK, "ipad-after-wrong.log"), 0); /* and then it is delivered */
  op_state(id, state, sizeof state);
  CHECK_STR(state, "done");
}

/* An activation code from rsp-smdp, ordered with rsp-smdpctl as the operator. */
static bool order(char *ac, size_t size) {
  char cmd[4096], ca[700], cert[700], key[700], line[512] = "";
  snprintf(cmd, sizeof cmd,
           "'%s' --url https://localhost:%u --cert '%s' --key '%s' --ca '%s' order "
           "--profile-type '%s' 2>'%s/smdpctl.log'",
           smdpctl_bin, smdp_es2_port, in_pki(cert, sizeof cert, "eim/tls/cert.pem"),
           in_pki(key, sizeof key, "eim/tls/key.pem"), in_pki(ca, sizeof ca, "ci/cert.pem"),
           have_ts48 ? TS48_PROFILE_TYPE : PROFILE_TYPE, top);
  FILE *f = popen(cmd, "r");
  if (f && !fgets(line, sizeof line, f)) line[0] = '\0';
  if (f) pclose(f);
  const char *last = strrchr(line, ' ');
  if (!last || strncmp(last + 1, "1$", 2) != 0) {
    fprintf(stderr, "# rsp-smdpctl order: '%s'\n", line);
    show_log("smdpctl.log");
    return false;
  }
  snprintf(ac, size, "%.*s", (int)strcspn(last + 1, "\r\n"), last + 1);
  return true;
}

static void indirect_download(void) {
  char ac[256], spec[512], state[32];
  if (!setup()) return;
  CHECK(order(ac, sizeof ac));
  snprintf(spec, sizeof spec, "{\"kind\":\"download\",\"activationCode\":\"%s\"}", ac);
  long long id = enqueue(1, spec);
  int code = ipad_coap(1, MODE_PSK, "ipad-download.log"); /* no --smdp-ca: indirect */
  CHECK_EQ(code, 0);
  if (code != 0) show_log("ipad-download.log");
  op_state(id, state, sizeof state);
  CHECK_STR(state, "done");
  /* the bound profile package went out in one answer of over 10 kB (block-wise) */
  if (have_ts48) CHECK(log_count("eim.log", "\" 2.05 [0-9]* [1-9][0-9][0-9][0-9][0-9] ") >= 1);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(psmo_psk), T(psmo_certificates), T(wrong_psk),
                                               T(indirect_download)};
  if (argc < 7) {
    fprintf(stderr, "usage: %s RSP_PKI RSP_EUICC RSP_SMDP RSP_SMDPCTL RSP_IPAD RSP_EIM [case]\n",
            argv[0]);
    return 2;
  }
  pki_bin = argv[1];
  euicc_bin = argv[2];
  smdp_bin = argv[3];
  smdpctl_bin = argv[4];
  ipad_bin = argv[5];
  eim_bin = argv[6];
  int rc = rsp_test_main(argc - 6, argv + 6, cases, sizeof cases / sizeof cases[0]);
  if (rc != 0 && top[0]) show_log("eim.log");
  rsp_net_client_destroy(api_client);
  if (eim_pid > 0) {
    int st = rsp_test_stop(eim_pid, SIGTERM); /* the CoAP thread stops cleanly too */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "rsp-eim did not exit cleanly (status %d)\n", st);
      show_log("eim.log");
      rc = 1;
    }
  }
  if (smdp_pid > 0) rsp_test_stop(smdp_pid, SIGTERM);
  if (card_pid > 0) rsp_test_stop(card_pid, SIGTERM);
  return rc;
}
