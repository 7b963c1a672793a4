/* rsp-ipad, the IPA daemon, as a real process on 127.0.0.1: it drives a real rsp-euicc process
 * (socket driver) against a test eIM served over HTTPS by this program (tests/support/
 * esipa_server.c: prepared packages signed with the PKI's eIM key) and a real rsp-smdp for
 * direct downloads, which this program orders over ES2+ as the operator.
 *
 * Cases: the eIM's address and TLS trust taken from the card's eIM configuration; an untrusted
 * eIM refused; direct downloads triggered by the eIM (one succeeds, an unknown matchingId is
 * cancelled); every PSMO and eCO executed with its signed result checked; an IpaEuiccDataRequest;
 * the rollback watchdog (no network on the new profile); the daemon's schedule (SIGUSR1 polls
 * now, SIGTERM stops, the status file); a result whose delivery fails is delivered by the next
 * cycle; the config file; usage errors.
 *
 * With RSP_TEST_IPAD_CARD set (e.g. "pcsc:Virtual PCD 00 00") and RSP_TEST_IPAD_PKI naming the
 * card's PKI directory, the card is that one (test_ipad_pcsc.sh runs it so, behind pcscd) and no
 * rsp-euicc is started.
 *
 *   test_ipad RSP_PKI RSP_EUICC RSP_SMDP RSP_IPAD [case ...] */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "esipa_server.h"
#include "euicc_eim.h"
#include "proc.h"
#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/drivers/https.h"
#include "rsp/eim/relay.h"
#include "rsp/ipa/es10.h"
#include "rsp/msg/activation_code.h"
#include "rsp/msg/json.h"
#include "rsp/msg/msg.h"
#include "rsp/net/http.h"
#include "test.h"

#define EIM_ID "eim-test"
#define ICCID_BASE "894903200000000001"
#define IMSI_BASE "001010000000001"

static const char *pki_bin, *euicc_bin, *smdp_bin, *ipad_bin;
static const char *ext_card; /* RSP_TEST_IPAD_CARD */
static char top[512], pki[600], eid_s[RSP_EID_DIGITS + 1], card_uri[600];
static uint8_t eid[16];
static pid_t card_pid = -1;
static struct rsp_test_eim signer;
static int64_t counter = 10;
static struct rsp_test_esipa *eim;
static bool ready;

/* the SM-DP+ */
static pid_t smdp_pid = -1;
static unsigned smdp_port, smdp_es2_port;
static char smdp_address[64];

/* ---- small helpers --------------------------------------------------------------------------- */

static char *path(char *buf, size_t size, const char *rel) {
  snprintf(buf, size, "%s/%s", pki, rel);
  return buf;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static bool read_file(const char *p, struct rsp_buf *out) {
  FILE *f = fopen(p, "rb");
  uint8_t tmp[4096];
  size_t n;
  if (!f) return false;
  rsp_buf_reset(out);
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) rsp_buf_append(out, tmp, n);
  fclose(f);
  return true;
}

static bool file_has(const char *p, const char *needle) {
  struct rsp_buf b;
  rsp_buf_init(&b, 1 << 24);
  bool ok = read_file(p, &b);
  if (ok) {
    rsp_buf_append(&b, "", 1);
    ok = strstr((const char *)b.data, needle) != NULL;
  }
  rsp_buf_free(&b);
  return ok;
}

static void show_log(const char *p) {
  char cmd[800];
  snprintf(cmd, sizeof cmd, "tail -n 60 '%s' >&2", p);
  if (system(cmd) != 0) fprintf(stderr, "(no log %s)\n", p);
}

/* ---- the card -------------------------------------------------------------------------------- */

/* One ES10 request on the card through a direct connection (as a factory or a test bench). */
static void *card_call(const struct rsp_buf *req, const struct rsp_msg_type *rt,
                       struct rsp_arena *a) {
  struct rsp_apdu apdu;
  struct rsp_es10_client c;
  struct rsp_buf out;
  void *v = NULL;
  if (ext_card) {
#ifdef RSP_HAVE_PCSC
    CHECK_OK(rsp_apdu_pcsc_new(strncmp(ext_card, "pcsc:", 5) == 0 ? ext_card + 5 : NULL, 0, 10000,
                               &apdu));
#else
    rsp_test_fail(__FILE__, __LINE__, "no PC/SC in this build");
    return NULL;
#endif
  } else {
    CHECK_OK(
        rsp_apdu_socket_new("127.0.0.1", (unsigned)atoi(strrchr(card_uri, ':') + 1), 5000, &apdu));
  }
  rsp_buf_init(&out, RSP_ES10_MAX_RESPONSE);
  rsp_es10_client_init(&c, &apdu);
  CHECK_OK(rsp_es10_client_open(&c));
  CHECK_OK(rsp_es10_client_call(&c, req->data, req->len, &out));
  rsp_es10_client_close(&c);
  if (apdu.ops->disconnect) apdu.ops->disconnect(apdu.ctx);
  uint8_t *copy = rsp_arena_alloc(a, out.len ? out.len : 1);
  memcpy(copy, out.data, out.len);
  CHECK_OK(rsp_msg_decode(rt, copy, out.len, a, &v, NULL));
  rsp_buf_free(&out);
#ifdef RSP_HAVE_PCSC
  if (ext_card)
    rsp_apdu_pcsc_free(&apdu);
  else
#endif
    rsp_apdu_socket_free(&apdu);
  return v;
}

static void make_pki(void) {
  char cmd[2048];
  if (getenv("RSP_TEST_IPAD_PKI")) {
    snprintf(pki, sizeof pki, "%s", getenv("RSP_TEST_IPAD_PKI"));
  } else {
    snprintf(pki, sizeof pki, "%s/pki", top);
    snprintf(cmd, sizeof cmd,
             "'%s' create --dir '%s' --eid-range 890490320000000000000000000555:1 >/dev/null",
             pki_bin, pki);
    if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  }
  snprintf(cmd, sizeof cmd, "ls '%s/euicc' | head -n 1", pki);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(eid_s, sizeof eid_s, f)) rsp_test_fail(__FILE__, __LINE__, "no eUICC");
  if (f) pclose(f);
  eid_s[strcspn(eid_s, "\n")] = '\0';
  CHECK_OK(rsp_eid_from_string(eid_s, eid));
}

static void start_card(void) {
  char port_arg[32], state[700], log[700];
  unsigned port = rsp_test_free_port();
  snprintf(port_arg, sizeof port_arg, "127.0.0.1:%u", port);
  snprintf(state, sizeof state, "%s/card.db", top);
  snprintf(log, sizeof log, "%s/euicc.log", top);
  char *argv[] = {(char *)euicc_bin, "--pki",  pki,           "--eid", eid_s, "--state", state,
                  "--listen",        port_arg, "--log-level", "info",  NULL};
  card_pid = rsp_test_spawn(argv, log);
  CHECK(rsp_test_wait_port(port, 10000));
  snprintf(card_uri, sizeof card_uri, "socket:127.0.0.1:%u", port);
}

/* The factory step: the eIM's configuration put on the card with AddInitialEim, with the eIM's
 * address (localhost:PORT) and the CI as TLS trust anchor. */
static void add_initial_eim(void) {
  struct rsp_arena a;
  struct rsp_buf req, ci;
  char p[700], fqdn[64];
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&req, 1 << 16);
  rsp_buf_init(&ci, 1 << 16);
  CHECK(read_file(path(p, sizeof p, "ci/cert.der"), &ci));
  snprintf(fqdn, sizeof fqdn, "localhost:%u", rsp_test_esipa_port(eim));
  CHECK_OK(
      rsp_test_eim_add_initial_tls(&signer, EIM_ID, counter, fqdn, ci.data, ci.len, false, &req));
  struct rsp_msg_add_initial_eim_response *r =
      card_call(&req, &rsp_msgt_add_initial_eim_response, &a);
  CHECK(r && r->which == RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK);
  if (r && r->which == RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK)
    for (size_t i = 0; i < r->u.add_initial_eim_ok->n; i++)
      if (r->u.add_initial_eim_ok->v[i].which ==
          RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ASSOCIATION_TOKEN)
        signer.token = r->u.add_initial_eim_ok->v[i].u.association_token;
  rsp_buf_free(&req);
  rsp_buf_free(&ci);
  rsp_arena_free(&a);
}

static bool setup(void) {
  char cert[700], key[700];
  if (ready) return true;
  snprintf(top, sizeof top, "%s", rsp_test_tmpdir("ipad"));
  make_pki();
  CHECK_OK(rsp_test_eim_load(&signer, pki));
  eim = rsp_test_esipa_start(path(cert, sizeof cert, "eim/tls/cert.pem"),
                             path(key, sizeof key, "eim/tls/key.pem"));
  if (!eim) return false;
  if (ext_card)
    snprintf(card_uri, sizeof card_uri, "%s", ext_card);
  else
    start_card();
  add_initial_eim();
  ready = true;
  return true;
}

/* ---- packages -------------------------------------------------------------------------------- */

static void queue_package(const struct rsp_msg_euicc_package *pkg) {
  struct rsp_buf b;
  rsp_buf_init(&b, 1 << 16);
  CHECK_OK(rsp_test_eim_package_any(&signer, EIM_ID, eid, ++counter, pkg, false, &b));
  rsp_test_esipa_queue(eim, b.data, b.len);
  rsp_buf_free(&b);
}

static void queue_psmos(struct rsp_msg_psmo *ops, size_t n) {
  struct rsp_msg_euicc_package_psmo_list l = {.v = ops, .n = n};
  struct rsp_msg_euicc_package pkg = {.which = RSP_MSG_EUICC_PACKAGE_PSMO_LIST, .u.psmo_list = &l};
  queue_package(&pkg);
}

static void queue_ecos(struct rsp_msg_eco *ops, size_t n) {
  struct rsp_msg_euicc_package_eco_list l = {.v = ops, .n = n};
  struct rsp_msg_euicc_package pkg = {.which = RSP_MSG_EUICC_PACKAGE_ECO_LIST, .u.eco_list = &l};
  queue_package(&pkg);
}

static void queue_list_profiles(void) {
  struct rsp_msg_profile_info_list_request lpi = {0};
  struct rsp_msg_psmo op = {.which = RSP_MSG_PSMO_LIST_PROFILE_INFO, .u.list_profile_info = &lpi};
  queue_psmos(&op, 1);
}

/* The n-th result the eIM received, decoded into the arena. */
static struct rsp_msg_eim_package_result *result(size_t n, struct rsp_arena *a) {
  struct rsp_buf b;
  void *v = NULL;
  rsp_buf_init(&b, 1 << 20);
  CHECK(rsp_test_esipa_result(eim, n, &b));
  uint8_t *copy = rsp_arena_alloc(a, b.len ? b.len : 1);
  memcpy(copy, b.data, b.len);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_eim_package_result, copy, b.len, a, &v, NULL));
  rsp_buf_free(&b);
  return v;
}

/* The per-operation results of the n-th result, which must be a signed eUICC package result. */
static const struct rsp_msg_euicc_package_result_data_signed *signed_result(size_t n,
                                                                            struct rsp_arena *a) {
  struct rsp_msg_eim_package_result *r = result(n, a);
  const struct rsp_msg_euicc_package_result *e = NULL;
  if (r && r->which == RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT)
    e = r->u.euicc_package_result;
  if (r && r->which == RSP_MSG_EIM_PACKAGE_RESULT_E_PR_AND_NOTIFICATIONS)
    e = r->u.e_pr_and_notifications->euicc_package_result;
  CHECK(e && e->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  if (!e || e->which != RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED) return NULL;
  return e->u.euicc_package_result_signed->euicc_package_result_data_signed;
}

/* ICCIDs (19 digits) of the profiles in a listProfileInfo result, and which one is enabled. */
static size_t profiles(const struct rsp_msg_euicc_result_data *d, char iccids[][21], int *enabled) {
  size_t n = 0;
  *enabled = -1;
  CHECK_EQ(d->which, RSP_MSG_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT);
  if (d->which != RSP_MSG_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT) return 0;
  const struct rsp_msg_sgp32_profile_info_list_response *l = d->u.list_profile_info_result;
  if (l->which != RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK) return 0;
  for (size_t i = 0; i < l->u.profile_info_list_ok->n && n < 8; i++, n++) {
    const struct rsp_msg_sgp32_profile_info *p = &l->u.profile_info_list_ok->v[i];
    rsp_iccid_decode(p->iccid.p, iccids[n]);
    if (p->profile_state.present && p->profile_state.v == 1) *enabled = (int)n;
  }
  return n;
}

/* ---- running rsp-ipad ------------------------------------------------------------------------ */

struct run {
  int status; /* exit status (-1: did not exit) */
  json_t *json;
  char log[700];
};

/* rsp-ipad --once --json --card ... `extra`; stdout parsed as JSON. */
static void ipad_once(struct run *r, const char *const *extra) {
  char out[700], cmd[8192];
  static int n;
  size_t len;
  snprintf(out, sizeof out, "%s/ipad-%d.json", top, ++n);
  snprintf(r->log, sizeof r->log, "%s/ipad-%d.log", top, n);
  len = (size_t)snprintf(cmd, sizeof cmd, "'%s' --once --json --card '%s' --log-level debug",
                         ipad_bin, card_uri);
  for (size_t i = 0; extra && extra[i]; i++)
    len += (size_t)snprintf(cmd + len, sizeof cmd - len, " '%s'", extra[i]);
  snprintf(cmd + len, sizeof cmd - len, " >'%s' 2>'%s'", out, r->log);
  int st = system(cmd);
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r->json = json_load_file(out, 0, NULL);
}

static void run_free(struct run *r) {
  json_decref(r->json);
  r->json = NULL;
}

static long jint(const struct run *r, const char *key) {
  json_t *v = r->json ? json_object_get(r->json, key) : NULL;
  return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

static const char *jstr(const struct run *r, const char *key) {
  json_t *v = r->json ? json_object_get(r->json, key) : NULL;
  return json_is_string(v) ? json_string_value(v) : "";
}

/* Runs one cycle that must succeed. */
static void ipad_ok(struct run *r, const char *const *extra) {
  ipad_once(r, extra);
  CHECK_EQ(r->status, 0);
  CHECK_STR(jstr(r, "result"), "ok");
  if (r->status != 0) show_log(r->log);
}

/* ---- the SM-DP+ and the operator ------------------------------------------------------------- */

static void smdp_start(void) {
  char es9[32], es2[32], state[700], log[700];
  if (smdp_pid > 0) return;
  smdp_port = rsp_test_free_port();
  do smdp_es2_port = rsp_test_free_port();
  while (smdp_es2_port == smdp_port);
  snprintf(es9, sizeof es9, "127.0.0.1:%u", smdp_port);
  snprintf(es2, sizeof es2, "127.0.0.1:%u", smdp_es2_port);
  snprintf(smdp_address, sizeof smdp_address, "localhost:%u", smdp_port);
  snprintf(state, sizeof state, "%s/smdp.db", top);
  snprintf(log, sizeof log, "%s/smdp.log", top);
  char *argv[] = {(char *)smdp_bin,
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
                  "8",
                  "--iccid-base",
                  ICCID_BASE,
                  "--imsi-base",
                  IMSI_BASE,
                  NULL};
  smdp_pid = rsp_test_spawn(argv, log);
  CHECK(rsp_test_wait_port(smdp_port, 20000) && rsp_test_wait_port(smdp_es2_port, 20000));
}

/* downloadOrder (any profile of the generated type) + confirmOrder: the activation code. */
static void order(char *ac, size_t size) {
  char ca[700], cert[700], key[700], url[128];
  struct rsp_net_client *c = NULL;
  struct rsp_net_client_options o = {.ca_file = path(ca, sizeof ca, "ci/cert.pem"),
                                     .cert_file = path(cert, sizeof cert, "eim/tls/cert.pem"),
                                     .key_file = path(key, sizeof key, "eim/tls/key.pem"),
                                     .timeout_ms = 20000};
  static const struct rsp_net_header h[] = {{"Content-Type", "application/json"},
                                            {"X-Admin-Protocol", "gsma/rsp/v2.2.0"}};
  static int calls;
  char id1[16], id2[16];
  struct rsp_msg_json_doc doc;
  struct rsp_net_client_response res;
  struct rsp_buf body;
  ac[0] = '\0';
  CHECK_OK(rsp_net_client_new(&o, &c));
  rsp_msg_json_doc_init(&doc);
  rsp_buf_init(&body, 1 << 16);
  snprintf(id1, sizeof id1, "o-%d", ++calls);
  struct rsp_es2p_json_download_order_req dq = {.header = {"operator.example", id1},
                                                .profile_type = "openrsp test profile"};
  struct rsp_es2p_json_download_order_resp dr = {0};
  const struct rsp_msg_json_func_info *fi =
      rsp_msg_json_func_get(RSP_MSG_JSON_FUNC_ES2P_DOWNLOAD_ORDER);
  CHECK_OK(rsp_msg_json_encode(fi->request, &dq, &body, NULL));
  snprintf(url, sizeof url, "https://localhost:%u%s", smdp_es2_port, fi->path);
  CHECK_OK(rsp_net_client_post(c, url, h, 2, body.data, body.len, &res));
  CHECK_EQ(res.status, 200);
  CHECK_OK(rsp_msg_json_decode(fi->response, (const char *)res.body.data, res.body.len, &doc, &dr,
                               NULL));
  rsp_net_client_response_free(&res);
  CHECK(dr.iccid != NULL);
  snprintf(id2, sizeof id2, "o-%d", ++calls);
  struct rsp_es2p_json_confirm_order_req cq = {
      .header = {"operator.example", id2}, .iccid = dr.iccid, .release_flag = {true, true}};
  struct rsp_es2p_json_confirm_order_resp cr = {0};
  fi = rsp_msg_json_func_get(RSP_MSG_JSON_FUNC_ES2P_CONFIRM_ORDER);
  rsp_buf_reset(&body);
  CHECK_OK(rsp_msg_json_encode(fi->request, &cq, &body, NULL));
  snprintf(url, sizeof url, "https://localhost:%u%s", smdp_es2_port, fi->path);
  CHECK_OK(rsp_net_client_post(c, url, h, 2, body.data, body.len, &res));
  CHECK_EQ(res.status, 200);
  CHECK_OK(rsp_msg_json_decode(fi->response, (const char *)res.body.data, res.body.len, &doc, &cr,
                               NULL));
  rsp_net_client_response_free(&res);
  if (cr.matching_id) snprintf(ac, size, "1$%s$%s", smdp_address, cr.matching_id);
  CHECK(ac[0] != '\0');
  rsp_buf_free(&body);
  rsp_msg_json_doc_free(&doc);
  rsp_net_client_destroy(c);
}

static void queue_trigger(const char *ac) {
  struct rsp_buf b;
  struct rsp_msg_profile_download_data pd = {.which = RSP_MSG_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE,
                                             .u.activation_code = rsp_msg_slice(ac, strlen(ac))};
  struct rsp_msg_profile_download_trigger_request q = {
      .profile_download_data = &pd, .eim_transaction_id = rsp_msg_slice("\x11\x22", 2)};
  rsp_buf_init(&b, 4096);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_profile_download_trigger_request, &q, &b, NULL));
  rsp_test_esipa_queue(eim, b.data, b.len);
  rsp_buf_free(&b);
}

/* ---- the cases ------------------------------------------------------------------------------- */

/* No --eim-url, no --eim-ca: the address and the trust anchor come from the card. A package and
 * an IpaEuiccDataRequest; the headers of the ASN.1 binding. */
static void config_from_card(void) {
  struct rsp_arena a;
  struct run r;
  char ct[128], ap[64], ua[128];
  if (!setup()) return;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  size_t before = rsp_test_esipa_n_results(eim);
  queue_list_profiles();
  static const uint8_t tags[] = {0xBF, 0x20, 0xBF, 0x22, 0xA5, 0xA6, 0x81};
  struct rsp_msg_ipa_euicc_data_request dq = {.tag_list = rsp_msg_slice(tags, sizeof tags),
                                              .eim_transaction_id = rsp_msg_slice("\x42", 1)};
  struct rsp_buf b;
  rsp_buf_init(&b, 4096);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_ipa_euicc_data_request, &dq, &b, NULL));
  rsp_test_esipa_queue(eim, b.data, b.len);
  rsp_buf_free(&b);
  ipad_ok(&r, NULL);
  CHECK_EQ(jint(&r, "packages"), 1);
  CHECK_EQ(jint(&r, "data_requests"), 1);
  CHECK(jint(&r, "acknowledged") >= 1);
  CHECK_STR(jstr(&r, "eid"), eid_s);
  CHECK(strstr(jstr(&r, "eim_url"), "https://localhost:") != NULL);
  CHECK_EQ(rsp_test_esipa_n_results(eim), before + 2);
  const struct rsp_msg_euicc_package_result_data_signed *s = signed_result(before, &a);
  CHECK(s && s->euicc_result->n == 1 &&
        s->euicc_result->v[0].which == RSP_MSG_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT);
  CHECK(s && s->counter_value == counter);
  struct rsp_msg_eim_package_result *d = result(before + 1, &a);
  CHECK(d && d->which == RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE);
  if (d && d->which == RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE) {
    const struct rsp_msg_ipa_euicc_data *x = d->u.ipa_euicc_data_response->u.ipa_euicc_data;
    CHECK(x && x->euicc_info1 && x->euicc_info2 && x->eum_certificate.len &&
          x->euicc_certificate.len && x->eim_transaction_id.len == 1);
  }
  rsp_test_esipa_last_headers(eim, ct, ap, ua);
  CHECK_STR(ct, "application/x-gsma-rsp-asn1");
  CHECK_STR(ap, "gsma/rsp/v2.1.0");
  CHECK_STR(ua, "gsma-rsp-ipad");
  CHECK(file_has(r.log, "TLS trust: the card's trustedPublicKeyDataTls"));
  run_free(&r);
  rsp_arena_free(&a);
}

/* An eIM whose certificate does not chain to the given CA is never talked to. */
static void untrusted_eim(void) {
  struct rsp_test_esipa_counts c0, c1;
  struct run r;
  char other[700], cmd[2048];
  if (!setup()) return;
  snprintf(other, sizeof other, "%s/other", top);
  snprintf(cmd, sizeof cmd, "'%s' create --dir '%s' >/dev/null", pki_bin, other);
  CHECK(system(cmd) == 0);
  snprintf(other, sizeof other, "%s/other/ci/cert.pem", top);
  rsp_test_esipa_counts(eim, &c0);
  const char *extra[] = {"--eim-ca", other, NULL};
  ipad_once(&r, extra);
  CHECK_EQ(r.status, 1);
  CHECK_STR(jstr(&r, "result"), "error");
  rsp_test_esipa_counts(eim, &c1);
  CHECK_EQ(c1.requests, c0.requests); /* the TLS handshake failed: no request was read */
  run_free(&r);
}

/* Direct downloads triggered by the eIM, then every PSMO with its signed result. */
static void downloads_and_psmos(void) {
  struct rsp_arena a;
  struct run r;
  char ac[256], ca[700], iccids[8][21];
  int enabled = -2;
  if (!setup()) return;
  smdp_start();
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  const char *extra[] = {"--smdp-ca", path(ca, sizeof ca, "ci/cert.pem"), NULL};
  /* two downloads and a failed one (unknown matchingId: cancelled, nothing installed) */
  size_t base = rsp_test_esipa_n_results(eim);
  for (int i = 0; i < 3; i++) {
    order(ac, sizeof ac);
    queue_trigger(ac);
  }
  char bad[128];
  snprintf(bad, sizeof bad, "1$%s$NO-SUCH-MATCHING-ID", smdp_address);
  queue_trigger(bad);
  queue_list_profiles();
  ipad_ok(&r, extra);
  CHECK_EQ(jint(&r, "triggers"), 4);
  CHECK_EQ(rsp_test_esipa_n_results(eim), base + 5);
  for (size_t i = 0; i < 4; i++) {
    struct rsp_msg_eim_package_result *t = result(base + i, &a);
    CHECK(t && t->which == RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT);
    if (!t || t->which != RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT) continue;
    const struct rsp_msg_profile_download_trigger_result *pr = t->u.profile_download_trigger_result;
    CHECK(pr->eim_transaction_id.len == 2);
    bool pir =
        pr->profile_download_trigger_result_data->which ==
        RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT;
    if (i < 3) {
      CHECK(pir);
      if (pir) {
        const struct rsp_msg_sgp32_profile_installation_result *p =
            pr->profile_download_trigger_result_data->u.profile_installation_result;
        CHECK(p->profile_installation_result_data->final_result->which ==
              RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT);
      }
    } else {
      /* refused at initiateAuthentication/authenticateClient: no PIR of an installed profile */
      CHECK(!pir || pr->profile_download_trigger_result_data->u.profile_installation_result
                            ->profile_installation_result_data->final_result->which !=
                        RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT);
    }
  }
  const struct rsp_msg_euicc_package_result_data_signed *s = signed_result(base + 4, &a);
  size_t n = s ? profiles(&s->euicc_result->v[0], iccids, &enabled) : 0;
  CHECK_EQ(n, 3);
  CHECK_EQ(enabled, -1);
  run_free(&r);
  if (n != 3) goto out;
  /* every PSMO */
  uint8_t ia[10], ib[10];
  rsp_iccid_encode(iccids[0], ia);
  rsp_iccid_encode(iccids[1], ib);
  struct rsp_msg_psmo_enable en_a = {.iccid = rsp_msg_slice(ia, 10)};
  struct rsp_msg_psmo_enable en_b = {.iccid = rsp_msg_slice(ib, 10), .rollback_flag = true};
  struct rsp_msg_psmo_disable dis_b = {.iccid = rsp_msg_slice(ib, 10)};
  struct rsp_msg_psmo_delete del_a = {.iccid = rsp_msg_slice(ia, 10)};
  struct rsp_msg_psmo_get_rat rat = {0};
  struct rsp_msg_psmo_configure_immediate_enable cie = {.immediate_enable_flag = true};
  struct rsp_msg_psmo_set_fallback_attribute sfa = {.iccid = rsp_msg_slice(ia, 10)};
  struct rsp_msg_psmo_unset_fallback_attribute ufa = {0};
  struct rsp_msg_sgp32_set_default_dp_address_request sdp = {
      .default_dp_address = rsp_msg_slice(smdp_address, strlen(smdp_address))};
  struct rsp_msg_profile_info_list_request lpi = {0};
  struct rsp_msg_psmo p1[] = {
      {.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en_a},
      {.which = RSP_MSG_PSMO_GET_RAT, .u.get_rat = &rat},
      {.which = RSP_MSG_PSMO_CONFIGURE_IMMEDIATE_ENABLE, .u.configure_immediate_enable = &cie},
      {.which = RSP_MSG_PSMO_SET_DEFAULT_DP_ADDRESS, .u.set_default_dp_address = &sdp}};
  struct rsp_msg_psmo p2[] = {
      {.which = RSP_MSG_PSMO_SET_FALLBACK_ATTRIBUTE, .u.set_fallback_attribute = &sfa},
      {.which = RSP_MSG_PSMO_UNSET_FALLBACK_ATTRIBUTE, .u.unset_fallback_attribute = &ufa}};
  struct rsp_msg_psmo p3[] = {{.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en_b}};
  struct rsp_msg_psmo p4[] = {
      {.which = RSP_MSG_PSMO_DELETE, .u.delete = &del_a},
      {.which = RSP_MSG_PSMO_DISABLE, .u.disable = &dis_b},
      {.which = RSP_MSG_PSMO_LIST_PROFILE_INFO, .u.list_profile_info = &lpi}};
  base = rsp_test_esipa_n_results(eim);
  queue_psmos(p1, 4);
  queue_psmos(p2, 2);
  queue_psmos(p3, 1); /* with rollbackFlag; the device is attached: no rollback */
  queue_psmos(p4, 3);
  ipad_ok(&r, extra);
  CHECK_EQ(jint(&r, "packages"), 4);
  CHECK_EQ(jint(&r, "rollbacks"), 0);
  CHECK_EQ(jint(&r, "errors"), 0);
  CHECK_EQ(rsp_test_esipa_n_results(eim), base + 4);
  const struct rsp_msg_euicc_package_result_data_signed *r1 = signed_result(base, &a);
  CHECK(r1 && r1->euicc_result->n == 4);
  if (r1 && r1->euicc_result->n == 4) {
    CHECK_EQ(r1->euicc_result->v[0].u.enable_result, 0);
    CHECK_EQ(r1->euicc_result->v[1].which, RSP_MSG_EUICC_RESULT_DATA_GET_RAT_RESULT);
    CHECK_EQ(r1->euicc_result->v[2].u.configure_immediate_enable_result, 0);
    CHECK_EQ(r1->euicc_result->v[3].u.set_default_dp_address_result->set_default_dp_address_result,
             0);
  }
  const struct rsp_msg_euicc_package_result_data_signed *r2 = signed_result(base + 1, &a);
  CHECK(r2 && r2->euicc_result->n == 2);
  if (r2 && r2->euicc_result->n == 2) {
    /* rsp-smdp's generated profiles do not allow fallback (no fallbackAllowed in their
     * metadata), so the card answers fallbackNotAllowed, then noFallbackAttribute */
    CHECK_EQ(r2->euicc_result->v[0].u.set_fallback_attribute_result, 2);
    CHECK_EQ(r2->euicc_result->v[1].u.unset_fallback_attribute_result, 2);
  }
  const struct rsp_msg_euicc_package_result_data_signed *r3 = signed_result(base + 2, &a);
  CHECK(r3 && r3->euicc_result->n == 1 && r3->euicc_result->v[0].u.enable_result == 0);
  const struct rsp_msg_euicc_package_result_data_signed *r4 = signed_result(base + 3, &a);
  CHECK(r4 && r4->euicc_result->n == 3);
  if (r4 && r4->euicc_result->n == 3) {
    CHECK_EQ(r4->euicc_result->v[0].u.delete_result, 0);
    CHECK_EQ(r4->euicc_result->v[1].u.disable_result, 0);
    n = profiles(&r4->euicc_result->v[2], iccids, &enabled);
    CHECK_EQ(n, 2); /* B (disabled) and C */
    CHECK_EQ(enabled, -1);
  }
  run_free(&r);
out:
  rsp_arena_free(&a);
}

/* Every eCO: addEim, listEim, updateEim, deleteEim. */
static void ecos(void) {
  struct rsp_arena a;
  struct run r;
  if (!setup()) return;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  struct rsp_msg_eim_configuration_data_eim_public_key_data pk = {
      .which = RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE,
      .u.eim_certificate = rsp_msg_slice(signer.cert.data, signer.cert.len)};
  struct rsp_msg_eim_configuration_data add = {.eim_id = rsp_msg_slice("eim-2", 5),
                                               .eim_fqdn = rsp_msg_slice("eim2.example", 12),
                                               .counter_value = rsp_msg_int_make(0),
                                               .association_token = rsp_msg_int_make(-1),
                                               .eim_public_key_data = &pk};
  struct rsp_msg_eim_configuration_data upd = {.eim_id = rsp_msg_slice("eim-2", 5),
                                               .counter_value = rsp_msg_int_make(50),
                                               .eim_public_key_data = &pk};
  struct rsp_msg_eco_delete_eim del = {.eim_id = rsp_msg_slice("eim-2", 5)};
  struct rsp_msg_eco_list_eim list = {0};
  struct rsp_msg_eco ops[] = {{.which = RSP_MSG_ECO_ADD_EIM, .u.add_eim = &add},
                              {.which = RSP_MSG_ECO_LIST_EIM, .u.list_eim = &list},
                              {.which = RSP_MSG_ECO_UPDATE_EIM, .u.update_eim = &upd},
                              {.which = RSP_MSG_ECO_DELETE_EIM, .u.delete_eim = &del}};
  size_t base = rsp_test_esipa_n_results(eim);
  queue_ecos(ops, 4);
  ipad_ok(&r, NULL);
  CHECK_EQ(jint(&r, "packages"), 1);
  const struct rsp_msg_euicc_package_result_data_signed *s = signed_result(base, &a);
  CHECK(s && s->euicc_result->n == 4);
  if (s && s->euicc_result->n == 4) {
    CHECK(s->euicc_result->v[0].u.add_eim_result->which ==
          RSP_MSG_ADD_EIM_RESULT_ASSOCIATION_TOKEN);
    CHECK_EQ(s->euicc_result->v[1].u.list_eim_result->u.eim_id_list->n, 2);
    CHECK_EQ(s->euicc_result->v[2].u.update_eim_result, 0);
    CHECK_EQ(s->euicc_result->v[3].u.delete_eim_result, 0);
  }
  run_free(&r);
  rsp_arena_free(&a);
}

/* The profiles downloads_and_psmos left (B and C): their ICCIDs from a listProfileInfo. */
static bool two_profiles(struct rsp_arena *a, uint8_t ib[10], uint8_t ic[10]) {
  struct run r;
  char iccids[8][21];
  int enabled = -2;
  size_t base = rsp_test_esipa_n_results(eim);
  queue_list_profiles();
  ipad_ok(&r, NULL);
  run_free(&r);
  const struct rsp_msg_euicc_package_result_data_signed *s = signed_result(base, a);
  size_t n = s ? profiles(&s->euicc_result->v[0], iccids, &enabled) : 0;
  if (n < 2) {
    rsp_test_fail(__FILE__, __LINE__, "rollback needs the two profiles of downloads_and_psmos");
    return false;
  }
  rsp_iccid_encode(iccids[0], ib);
  rsp_iccid_encode(iccids[1], ic);
  return true;
}

/* Queues "enable B", then "enable C with rollbackFlag" (C has no network in these tests). */
static void queue_switch(const uint8_t ib[10], const uint8_t ic[10]) {
  struct run r;
  struct rsp_msg_psmo_enable en_b = {.iccid = rsp_msg_slice(ib, 10)};
  struct rsp_msg_psmo op_b = {.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en_b};
  struct rsp_msg_psmo_enable en_c = {.iccid = rsp_msg_slice(ic, 10), .rollback_flag = true};
  struct rsp_msg_psmo op_c = {.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en_c};
  queue_psmos(&op_b, 1);
  ipad_ok(&r, NULL);
  run_free(&r);
  queue_psmos(&op_c, 1);
  queue_list_profiles();
}

/* The base-th result is the switch with rollbackResult, the next one lists B enabled again. */
static void check_rolled_back(size_t base, struct rsp_arena *a) {
  char iccids[8][21];
  int enabled = -2;
  const struct rsp_msg_euicc_package_result_data_signed *s = signed_result(base, a);
  CHECK(s && s->euicc_result->n == 2);
  if (s && s->euicc_result->n == 2) {
    CHECK_EQ(s->euicc_result->v[0].u.enable_result, 0);
    CHECK_EQ(s->euicc_result->v[1].which, RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT);
    CHECK_EQ(s->euicc_result->v[1].u.rollback_result, 0);
  }
  s = signed_result(base + 1, a);
  size_t n = s ? profiles(&s->euicc_result->v[0], iccids, &enabled) : 0;
  CHECK_EQ(n, 2);
  CHECK_EQ(enabled, 0); /* back on B */
}

/* The rollback watchdog: the device reports no network on the new profile; the IPA rolls back
 * and the eIM gets the switch's result with rollbackResult. */
static void rollback(void) {
  struct rsp_arena a;
  struct run r;
  uint8_t ib[10], ic[10];
  if (!setup()) return;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (two_profiles(&a, ib, ic)) {
    queue_switch(ib, ic);
    size_t base = rsp_test_esipa_n_results(eim);
    const char *extra[] = {"--attached-cmd", "exit 1", "--rollback-timeout", "2", NULL};
    ipad_ok(&r, extra);
    CHECK_EQ(jint(&r, "rollbacks"), 1);
    CHECK(file_has(r.log, "rolling back"));
    check_rolled_back(base, &a);
    run_free(&r);
  }
  rsp_arena_free(&a);
}

/* The "ms left" of the "resuming the rollback watchdog" line of a log, -1 without one. */
static long resumed_ms_left(const char *log) {
  struct rsp_buf b;
  long left = -1;
  rsp_buf_init(&b, 1 << 20);
  if (read_file(log, &b) && rsp_buf_append(&b, "", 1) == RSP_OK) {
    const char *p = strstr((const char *)b.data, "resuming the rollback watchdog");
    p = p ? strstr(p, "restart (") : NULL;
    if (!p || sscanf(p, "restart (%ld ms left)", &left) != 1) left = -1;
  }
  rsp_buf_free(&b);
  return left;
}

/* The device dies while the watchdog waits (SIGKILL of rsp-ipad after the switch); the next
 * rsp-ipad on the same --state-dir resumes the wait for the time left, rolls back and delivers
 * the switch's result, which the card kept pending, before anything else. */
static void rollback_after_kill(void) {
  struct rsp_arena a;
  struct run r;
  uint8_t ib[10], ic[10];
  char state[700], record[720], log[700];
  if (!setup()) return;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  snprintf(state, sizeof state, "%s/ipad-state", top);
  snprintf(record, sizeof record, "%s/rollback", state);
  snprintf(log, sizeof log, "%s/killed.log", top);
  CHECK(mkdir(state, 0700) == 0);
  if (!two_profiles(&a, ib, ic)) goto out;
  queue_switch(ib, ic);
  size_t base = rsp_test_esipa_n_results(eim);
  char *argv[] = {(char *)ipad_bin,
                  "--once",
                  "--card",
                  card_uri,
                  "--state-dir",
                  state,
                  "--attached-cmd",
                  "exit 1",
                  "--rollback-timeout",
                  "4",
                  "--log-level",
                  "debug",
                  NULL};
  pid_t pid = rsp_test_spawn(argv, log);
  for (int i = 0; i < 200 && access(record, R_OK) != 0; i++) sleep_ms(25);
  CHECK(access(record, R_OK) == 0);
  sleep_ms(500);
  int st = rsp_test_stop(pid, SIGKILL);
  CHECK(WIFSIGNALED(st));
  CHECK_EQ(rsp_test_esipa_n_results(eim), base); /* the switch's result is still on the card */
  CHECK(access(record, R_OK) == 0);
  /* the restart, network still missing on C; its own timeout (1 s) is for the wait after the
   * rollback: the resumed wait has what was left of the recorded 4 s */
  const char *extra[] = {"--state-dir", state, "--attached-cmd", "exit 1", "--rollback-timeout",
                         "1",           NULL};
  ipad_ok(&r, extra);
  CHECK_EQ(jint(&r, "rollbacks"), 1);
  long left = resumed_ms_left(r.log);
  CHECK(left > 1500 && left < 4000);
  CHECK(access(record, R_OK) != 0);
  check_rolled_back(base, &a);
  if (r.status != 0) show_log(r.log);
  run_free(&r);
out:
  rsp_arena_free(&a);
}

/* The relay's ES9+ port: the IPA's HTTPS transport (both ports have the same shape). */
static rsp_err_t relay_es9(void *ctx, const char *address, const char *path,
                           const struct rsp_buf *body, int *http_status, struct rsp_buf *resp) {
  return rsp_es9_https_ops.call(ctx, address, path, body, http_status, resp);
}

/* An indirect download: rsp-ipad without an ES9+ port sends the ES9+ steps to the eIM, whose
 * relay (lib/eim) talks to rsp-smdp; the PIR reaches the SM-DP+ through the eIM and the eIM gets
 * the ProfileDownloadTriggerResult. */
static void indirect_download(void) {
  static const struct rsp_eim_es9_ops es9_ops = {relay_es9};
  struct rsp_arena a;
  struct run r;
  struct rsp_es9_https *es9 = NULL;
  struct rsp_eim_relay *relay = NULL;
  struct rsp_test_esipa_counts c0, c1;
  char ac[256], ca[700];
  if (!setup()) return;
  smdp_start();
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  struct rsp_es9_https_options eo = {.ca_file = path(ca, sizeof ca, "ci/cert.pem")};
  CHECK_OK(rsp_es9_https_new(&eo, &es9));
  struct rsp_eim_relay_options ro = {.es9 = &es9_ops, .es9_ctx = es9};
  CHECK_OK(rsp_eim_relay_new(&ro, &relay));
  if (!relay) goto out;
  rsp_test_esipa_set_relay(eim, relay, eid);
  rsp_test_esipa_counts(eim, &c0);
  size_t base = rsp_test_esipa_n_results(eim);
  order(ac, sizeof ac);
  queue_trigger(ac);
  ipad_ok(&r, NULL); /* no --smdp-ca: indirect */
  CHECK_EQ(jint(&r, "triggers"), 1);
  CHECK_EQ(jint(&r, "indirect_downloads"), 1);
  rsp_test_esipa_counts(eim, &c1);
  CHECK(c1.relayed >= c0.relayed + 4); /* initiateAuthentication ... handleNotification */
  const struct rsp_eim_relay_stats *st = rsp_eim_relay_stats(relay);
  CHECK_EQ(st->installed, 1);
  CHECK_EQ(st->notifications, 1); /* the PIR went on to the SM-DP+ */
  CHECK_EQ(rsp_eim_relay_session_count(relay), 0);
  struct rsp_msg_eim_package_result *t = result(base, &a);
  CHECK(t && t->which == RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT);
  if (t && t->which == RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT) {
    const struct rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data *d =
        t->u.profile_download_trigger_result->profile_download_trigger_result_data;
    CHECK(
        d->which ==
            RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT &&
        d->u.profile_installation_result->profile_installation_result_data->final_result->which ==
            RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT);
  }
  run_free(&r);
  /* the network fails at getBoundProfilePackage: the IPA cancels the session on the card and,
   * through the eIM, at the SM-DP+; the eIM is told the download failed */
  base = rsp_test_esipa_n_results(eim);
  unsigned cancelled = st->cancelled;
  order(ac, sizeof ac);
  queue_trigger(ac);
  rsp_test_esipa_fail(
      eim, RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA, 503, 1);
  ipad_ok(&r, NULL);
  CHECK_EQ(jint(&r, "triggers"), 1);
  CHECK_EQ(st->cancelled, cancelled + 1);
  CHECK_EQ(rsp_eim_relay_session_count(relay), 0);
  t = result(base, &a);
  CHECK(t && t->which == RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT);
  if (t && t->which == RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT) {
    const struct rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data *d =
        t->u.profile_download_trigger_result->profile_download_trigger_result_data;
    CHECK(
        d->which !=
            RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT ||
        d->u.profile_installation_result->profile_installation_result_data->final_result->which !=
            RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT);
  }
  run_free(&r);
out:
  rsp_test_esipa_set_relay(eim, NULL, eid);
  rsp_eim_relay_destroy(relay);
  rsp_es9_https_free(es9);
  rsp_arena_free(&a);
}

/* A result whose delivery fails (HTTP 500) stays on the card and is delivered by the next
 * cycle; the eIM's acknowledgement then removes it. Before that, an eIM that fails
 * GetEimPackage: the cycle fails, nothing is lost, the next one gets the package. */
static void result_redelivered(void) {
  struct rsp_arena a;
  struct run r;
  if (!setup()) return;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  queue_list_profiles();
  rsp_test_esipa_fail(eim, RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST, 503, 1);
  ipad_once(&r, NULL);
  CHECK_EQ(r.status, 1);
  CHECK_EQ(rsp_test_esipa_pending(eim), 1);
  run_free(&r);
  ipad_ok(&r, NULL);
  CHECK_EQ(rsp_test_esipa_pending(eim), 0);
  CHECK_EQ(jint(&r, "packages"), 1);
  run_free(&r);
  size_t base = rsp_test_esipa_n_results(eim);
  queue_list_profiles();
  int64_t sent = counter;
  rsp_test_esipa_fail(eim, RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT, 500,
                      1);
  ipad_once(&r, NULL);
  CHECK_EQ(r.status, 1);
  CHECK_EQ(rsp_test_esipa_n_results(eim), base);
  run_free(&r);
  ipad_ok(&r, NULL);
  CHECK_EQ(rsp_test_esipa_n_results(eim), base + 1);
  const struct rsp_msg_euicc_package_result_data_signed *s = signed_result(base, &a);
  CHECK(s && s->counter_value == sent);
  CHECK(jint(&r, "acknowledged") >= 1);
  CHECK_EQ(jint(&r, "redelivered"), 1);
  run_free(&r);
  /* nothing left to deliver: a third cycle sends no result */
  ipad_ok(&r, NULL);
  CHECK_EQ(rsp_test_esipa_n_results(eim), base + 1);
  run_free(&r);
  rsp_arena_free(&a);
}

/* The daemon: first poll at start, SIGUSR1 polls now, the status file, SIGTERM stops (exit 0);
 * options from a config file. */
static void daemon_schedule(void) {
  struct rsp_test_esipa_counts c;
  char conf[700], status[700], log[700];
  if (!setup()) return;
  snprintf(conf, sizeof conf, "%s/ipad.conf", top);
  snprintf(status, sizeof status, "%s/status.json", top);
  snprintf(log, sizeof log, "%s/daemon.log", top);
  FILE *f = fopen(conf, "w");
  CHECK(f != NULL);
  if (!f) return;
  fprintf(f,
          "# test\n[ipad]\ncard = %s\ninterval = 3600\njitter = 0\nstatus-file = %s\n"
          "log-level = debug\n",
          card_uri, status);
  fclose(f);
  unlink(status);
  rsp_test_esipa_counts(eim, &c);
  unsigned polls0 = c.get_package;
  char *argv[] = {(char *)ipad_bin, "--config", conf, NULL};
  pid_t pid = rsp_test_spawn(argv, log);
  for (int i = 0; i < 200 && (rsp_test_esipa_counts(eim, &c), c.get_package == polls0); i++)
    sleep_ms(50);
  CHECK_EQ(c.get_package, polls0 + 1);
  for (int i = 0; i < 100 && access(status, R_OK) != 0; i++) sleep_ms(50);
  json_t *j = json_load_file(status, 0, NULL);
  CHECK(j && !strcmp(json_string_value(json_object_get(j, "result")), "ok"));
  json_decref(j);
  queue_list_profiles();
  sleep_ms(300);
  CHECK_EQ(rsp_test_esipa_pending(eim), 1); /* interval 3600 s: nothing polls by itself */
  kill(pid, SIGUSR1);
  for (int i = 0; i < 200 && rsp_test_esipa_pending(eim) != 0; i++) sleep_ms(50);
  CHECK_EQ(rsp_test_esipa_pending(eim), 0);
  int st = rsp_test_stop(pid, SIGTERM);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(file_has(log, "SIGUSR1: polling now"));
  CHECK(file_has(log, "SIGTERM received, stopping"));
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) show_log(log);
}

static void usage_errors(void) {
  char cmd[2048];
  struct {
    const char *args;
    int want;
  } cases[] = {{"--help", 0},
               {"", 2},
               {"--card socket:127.0.0.1:1 --block 0", 2},
               {"--card nowhere:x", 2},
               {"--card socket:127.0.0.1:1 --eim-url http://x", 2},
               {"--card socket:127.0.0.1:1 --json", 2},
               {"--config /nonexistent/ipad.conf", 2}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>&1", ipad_bin, cases[i].args);
    int st = system(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != cases[i].want)
      rsp_test_fail(__FILE__, __LINE__, "rsp-ipad %s: exit %d, expected %d", cases[i].args,
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1, cases[i].want);
    rsp_test_checks++;
  }
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(usage_errors),        T(config_from_card), T(untrusted_eim),       T(ecos),
      T(downloads_and_psmos), T(rollback),         T(rollback_after_kill), T(indirect_download),
      T(result_redelivered),  T(daemon_schedule)};
  if (argc < 5) return 2;
  pki_bin = argv[1];
  euicc_bin = argv[2];
  smdp_bin = argv[3];
  ipad_bin = argv[4];
  ext_card = getenv("RSP_TEST_IPAD_CARD");
  rsp_log_set_level(RSP_LOG_WARN);
  signal(SIGPIPE, SIG_IGN);
  int rc = rsp_test_main(argc - 4, argv + 4, cases, sizeof cases / sizeof cases[0]);
  rsp_test_esipa_stop(eim);
  if (smdp_pid > 0) rsp_test_stop(smdp_pid, SIGTERM);
  if (card_pid > 0) rsp_test_stop(card_pid, SIGTERM);
  rsp_test_eim_free(&signer);
  return rc;
}
