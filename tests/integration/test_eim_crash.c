/* rsp-eim under SIGKILL: a few hundred simulated devices (software eUICCs and IPA cores in this
 * process, each with its own HTTPS ESipa transport) work through operations queued for them
 * while a second thread kills rsp-eim at random moments and starts it again on the same store.
 * At the end every operation must be done, exactly once: the store shows one result for each,
 * its counter is the one the card accepted last in order, and each card ran each package once
 * (its last accepted counter and the effect of the last operation).
 *
 *   test_eim_crash RSP_PKI RSP_EIM [devices] [operations per device] */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/euicc/euicc_internal.h"
#include "proc.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/drivers/https.h"
#include "rsp/ipa/ipa.h"
#include "rsp/msg/base64.h"
#include "rsp/net/http.h"
#include "test.h"

#define API_KEY "crash-key-0123456789abcdef"
#define MAX_DEVICES 1000
#define ROUND_LIMIT 200
#define KILL_PHASE_S 25

static const char *pki_bin, *eim_bin;
static int n_devices = 200, n_ops = 3;
static char top[512], pki[600];
static unsigned esipa_port, api_port;
static pid_t eim_pid = -1;
static pthread_mutex_t eim_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int killing;
static int kills;

struct device {
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_euicc *card;
  struct rsp_apdu apdu;
  struct rsp_esipa_https *esipa;
  struct rsp_ipa ipa;
  long long ops[16];
};
static struct device *devs;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void start_eim(void) {
  char state[700], keys[700], listen[32], api[32], log[700];
  snprintf(state, sizeof state, "%s/eim.db", top);
  snprintf(keys, sizeof keys, "%s/keys", top);
  snprintf(log, sizeof log, "%s/eim.log", top);
  snprintf(listen, sizeof listen, "127.0.0.1:%u", esipa_port);
  snprintf(api, sizeof api, "127.0.0.1:%u", api_port);
  char *argv[] = {
      (char *)eim_bin, "serve", "--pki",          pki,  "--state",     state,  "--listen", listen,
      "--api-listen",  api,     "--api-key-file", keys, "--log-level", "warn", NULL};
  eim_pid = rsp_test_spawn(argv, log);
  if (!rsp_test_wait_port(esipa_port, 20000) || !rsp_test_wait_port(api_port, 20000))
    rsp_test_fail(__FILE__, __LINE__, "rsp-eim did not come up");
}

/* Kills rsp-eim at random moments (20..400 ms apart) and starts it again. */
static void *killer(void *arg) {
  unsigned seed = (unsigned)time(NULL);
  printf("# killer seed %u\n", seed);
  while (killing) {
    sleep_ms(20 + (int)(rand_r(&seed) % 380));
    if (!killing) break;
    pthread_mutex_lock(&eim_mu);
    rsp_test_stop(eim_pid, SIGKILL);
    kills++;
    sleep_ms((int)(rand_r(&seed) % 50));
    start_eim();
    pthread_mutex_unlock(&eim_mu);
  }
  return NULL;
}

static int api(struct rsp_net_client *c, const char *method, const char *target, const char *body,
               json_t **out) {
  char url[512];
  struct rsp_net_client_response res;
  struct rsp_net_header h[2] = {{"Content-Type", "application/json"}, {"X-API-Key", API_KEY}};
  snprintf(url, sizeof url, "https://localhost:%u%s", api_port, target);
  if (out) *out = NULL;
  if (rsp_net_client_request(c, method, url, h, 2, body, body ? strlen(body) : 0, &res) != RSP_OK)
    return -1;
  int status = res.status;
  if (out && res.body.len) *out = json_loadb((const char *)res.body.data, res.body.len, 0, NULL);
  rsp_net_client_response_free(&res);
  return status;
}

static const char *jstr(json_t *j, const char *key) {
  json_t *v = j ? json_object_get(j, key) : NULL;
  return json_is_string(v) ? json_string_value(v) : "";
}

static long long jint(json_t *j, const char *key) {
  json_t *v = j ? json_object_get(j, key) : NULL;
  return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* Registration through the API and AddInitialEim on the card; the device's IPA. */
static void make_device(struct rsp_net_client *c, struct device *d) {
  char body[128], target[128], url[128], ca[700];
  static uint8_t der[1 << 14];
  size_t len = 0;
  json_t *j = NULL;
  struct rsp_buf out;
  snprintf(body, sizeof body, "{\"eid\":\"%s\"}", d->eid);
  CHECK_EQ(api(c, "POST", "/v1/devices", body, &j), 201);
  json_decref(j);
  snprintf(target, sizeof target, "/v1/devices/%s/add-initial-eim", d->eid);
  CHECK_EQ(api(c, "GET", target, NULL, &j), 200);
  const char *b64 = jstr(j, "addInitialEimRequest");
  CHECK_OK(rsp_msg_base64_decode(b64, strlen(b64), der, sizeof der, &len));
  json_decref(j);
  struct rsp_euicc_options o = {.pki_dir = pki, .eid = d->eid};
  CHECK_OK(rsp_euicc_open(&o, &d->card));
  if (!d->card) return;
  rsp_buf_init(&out, 1 << 16);
  CHECK_OK(rsp_euicc_es10(d->card, der, len, &out));
  rsp_buf_free(&out);
  snprintf(url, sizeof url, "https://localhost:%u/gsma/rsp2/asn1", esipa_port);
  snprintf(ca, sizeof ca, "%s/ci/cert.pem", pki);
  struct rsp_esipa_https_options eo = {.url = url, .ca_file = ca, .timeout_ms = 5000};
  CHECK_OK(rsp_esipa_https_new(&eo, &d->esipa));
  rsp_apdu_inproc_init(&d->apdu, d->card);
  rsp_ipa_init(&d->ipa, &d->apdu, &rsp_esipa_https_ops, d->esipa);
}

static void crash(void) {
  char cmd[1024], keys[700], ca[700], body[256];
  struct rsp_net_client *c = NULL;
  pthread_t th;
  snprintf(top, sizeof top, "%s", rsp_test_tmpdir("eim_crash"));
  snprintf(pki, sizeof pki, "%s/pki", top);
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000100000:%d >/dev/null",
           pki_bin, pki, n_devices);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  snprintf(keys, sizeof keys, "%s/keys", top);
  FILE *f = fopen(keys, "w");
  if (f) {
    fprintf(f, "%s\n", API_KEY);
    fclose(f);
  }
  esipa_port = rsp_test_free_port();
  do api_port = rsp_test_free_port();
  while (api_port == esipa_port);
  start_eim();
  snprintf(ca, sizeof ca, "%s/ci/cert.pem", pki);
  struct rsp_net_client_options co = {.ca_file = ca, .timeout_ms = 30000};
  CHECK_OK(rsp_net_client_new(&co, &c));
  devs = rsp_calloc((size_t)n_devices, sizeof *devs);
  snprintf(cmd, sizeof cmd, "ls '%s/euicc' | sort", pki);
  f = popen(cmd, "r");
  char line[64];
  for (int i = 0; f && i < n_devices && fgets(line, sizeof line, f); i++) {
    line[strcspn(line, "\n")] = '\0';
    snprintf(devs[i].eid, sizeof devs[i].eid, "%.32s", line);
  }
  if (f) pclose(f);
  for (int i = 0; i < n_devices; i++) make_device(c, &devs[i]);
  /* the operations: the default SM-DP+ address set n_ops times, in order */
  for (int i = 0; i < n_devices; i++)
    for (int k = 0; k < n_ops; k++) {
      char target[128];
      json_t *j = NULL;
      snprintf(target, sizeof target, "/v1/devices/%s/operations", devs[i].eid);
      snprintf(body, sizeof body,
               "{\"spec\":{\"kind\":\"psmo\",\"psmos\":[{\"setDefaultDpAddress\":{\"address\":"
               "\"op%d.example\"}}]}}",
               k);
      CHECK_EQ(api(c, "POST", target, body, &j), 201);
      devs[i].ops[k] = jint(j, "id");
      json_decref(j);
    }
  printf("# %d devices, %d operations each, queued\n", n_devices, n_ops);
  /* work through them while rsp-eim gets killed */
  killing = 1;
  pthread_create(&th, NULL, killer, NULL);
  time_t t0 = time(NULL);
  unsigned polls = 0, failed = 0;
  while (time(NULL) - t0 < KILL_PHASE_S) {
    for (int i = 0; i < n_devices && time(NULL) - t0 < KILL_PHASE_S; i++) {
      polls++;
      if (rsp_ipa_poll(&devs[i].ipa) != RSP_OK) failed++;
    }
  }
  killing = 0;
  pthread_join(th, NULL);
  printf("# kill phase: %d kills, %u polls, %u failed\n", kills, polls, failed);
  CHECK(kills >= 5);
  /* calm: everything must come through */
  for (int round = 0; round < 5; round++)
    for (int i = 0; i < n_devices; i++) (void)rsp_ipa_poll(&devs[i].ipa);
  /* the verdict */
  unsigned bad = 0;
  char want_dp[32];
  snprintf(want_dp, sizeof want_dp, "op%d.example", n_ops - 1);
  rsp_net_client_destroy(c); /* its connection died with a killed rsp-eim */
  c = NULL;
  CHECK_OK(rsp_net_client_new(&co, &c));
  for (int i = 0; i < n_devices && c; i++) {
    long long last = -1;
    for (int k = 0; k < n_ops; k++) {
      char target[64];
      json_t *j = NULL;
      snprintf(target, sizeof target, "/v1/operations/%lld", devs[i].ops[k]);
      if (api(c, "GET", target, NULL, &j) != 200 || strcmp(jstr(j, "state"), "done") != 0 ||
          jint(j, "counter") <= last) {
        if (bad++ < 5) {
          char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
          fprintf(stderr, "device %s operation %lld: %s\n", devs[i].eid, devs[i].ops[k],
                  t ? t : "(no answer)");
          free(t);
        }
      }
      last = jint(j, "counter");
      json_decref(j);
    }
    /* the card: the last accepted counter is the last operation's, and its effect is there */
    struct euicc_state *st = &devs[i].card->st;
    if (st->n_eims != 1 || st->eims[0].counter != last || strcmp(st->default_dp, want_dp))
      if (bad++ < 5)
        fprintf(stderr, "card %s: counter %lld (store %lld), default SM-DP+ '%s'\n", devs[i].eid,
                st->n_eims ? (long long)st->eims[0].counter : -1, last, st->default_dp);
    /* the store recorded each result once */
    char target[128];
    json_t *j = NULL;
    snprintf(target, sizeof target, "/v1/devices/%s/audit?limit=1000", devs[i].eid);
    if (api(c, "GET", target, NULL, &j) == 200) {
      json_t *items = json_object_get(j, "entries");
      int results = 0;
      for (size_t k = 0; k < json_array_size(items); k++)
        if (!strcmp(jstr(json_array_get(items, k), "event"), "result")) results++;
      if (results != n_ops && bad++ < 5)
        fprintf(stderr, "device %s: %d results recorded, %d expected\n", devs[i].eid, results,
                n_ops);
    }
    json_decref(j);
  }
  CHECK_EQ(bad, 0);
  printf("# %d devices x %d operations: every one done once after %d kills\n", n_devices, n_ops,
         kills);
  for (int i = 0; i < n_devices; i++) {
    rsp_esipa_https_free(devs[i].esipa);
    rsp_euicc_destroy(devs[i].card);
  }
  rsp_free(devs);
  rsp_net_client_destroy(c);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(crash)};
  if (argc < 3) return 2;
  pki_bin = argv[1];
  eim_bin = argv[2];
  if (argc > 3) n_devices = atoi(argv[3]);
  if (argc > 4) n_ops = atoi(argv[4]);
  if (n_devices < 1 || n_devices > MAX_DEVICES || n_ops < 1 || n_ops > 16) return 2;
  rsp_log_set_level(RSP_LOG_ERROR);
  signal(SIGPIPE, SIG_IGN);
  int rc = rsp_test_main(1, argv, cases, 1);
  if (eim_pid > 0) rsp_test_stop(eim_pid, SIGTERM);
  return rc;
}
