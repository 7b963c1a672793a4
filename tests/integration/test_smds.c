/* The SM-DS over real HTTPS on 127.0.0.1 (argv[1]: rsp-pki, argv[2]: rsp-smdp).
 *
 * Two processes: `rsp-smdp serve` with the SM-DS role beside the SM-DP+ (--smds-listen), and a
 * second, remote SM-DS, `rsp-smdp smds`. The test plays the operator (ES2+ over mutual TLS with
 * lib/net's client) and the device: the software eUICC in-process under the IPA core (lib/ipa),
 * whose ES9+ port is the HTTPS transport on lib/net's client (drivers/es9_https.c), so ES11 is
 * the real exchange a device makes.
 *
 * Cases: an order confirmed with the local SM-DS's address registers its event in-process; the
 * device retrieves it over ES11 (ES9+ paths, HTTPS), downloads the profile from the event's
 * SM-DP+ with the event's id, and after the PIR the event is gone. The same with the remote
 * SM-DS: the SM-DP+ registers and deletes the event over HTTPS with its client certificate
 * (ES12). Refusals over HTTPS: ES12 without a client certificate (403) or with one of a foreign
 * CA (TLS), ES11 with another content type (415), another method (405), an unknown path (404),
 * X-Admin-Protocol (400); an SM-DS that cannot be reached (the event waits in the SM-DP+ and is
 * delivered once it is up). The command line of both roles. Every run ends with SIGTERM and
 * must exit 0. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/drivers/https.h"
#include "rsp/euicc/euicc.h"
#include "rsp/ipa/download.h"
#include "rsp/msg/json.h"
#include "rsp/net/http.h"
#include "proc.h"
#include "test.h"

#define ICCID_BASE "894903200000000003" /* the three profiles: ...0036, ...0044, ...0051 */
#define IMSI_BASE "001010000000031"
#define ICCID_1 "8949032000000000036"
#define ICCID_2 "8949032000000000044"
#define ICCID_3 "8949032000000000051"
#define READY_MS 30000
#define EVENT_MS 30000

static const char *pki_bin, *smdp_bin;

struct pki {
  char dir[600];
  char eid[RSP_EID_DIGITS + 1];
};
static struct pki pki_main, pki_other;

static char *fmt(char *buf, size_t size, const char *format, ...) RSP_PRINTF(3, 4);
static char *fmt(char *buf, size_t size, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(buf, size, format, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= size) rsp_test_fail(__FILE__, __LINE__, "too long: %s", buf);
  return buf;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static bool make_pki(struct pki *k, const char *tag) {
  char cmd[2048];
  fmt(k->dir, sizeof k->dir, "%s/pki", rsp_test_tmpdir(tag));
  fmt(cmd, sizeof cmd, "'%s' create --dir '%s' >/dev/null", pki_bin, k->dir);
  if (system(cmd) != 0) return false;
  fmt(cmd, sizeof cmd, "ls '%s/euicc'", k->dir);
  FILE *f = popen(cmd, "r");
  bool ok = f && fgets(k->eid, sizeof k->eid, f);
  if (f) pclose(f);
  k->eid[strcspn(k->eid, "\n")] = '\0';
  return ok;
}

/* ---- the programs ------------------------------------------------------------------------------
 */

struct proc {
  pid_t pid;
  char log[700];
};

struct smdp {
  struct proc p;
  unsigned es9, es2, smds;
  char address[64], smds_address[64], state[700];
};

/* The remote SM-DS, `rsp-smdp smds`. */
struct smds {
  struct proc p;
  unsigned port;
  char address[64], state[700];
};

static void dump_log(const struct proc *p) {
  char cmd[800];
  fmt(cmd, sizeof cmd, "cat '%s' >&2", p->log);
  if (system(cmd) != 0) fprintf(stderr, "(no log)\n");
}

static bool log_has(const struct proc *p, const char *needle) {
  size_t len = 0;
  uint8_t *data = rsp_test_read_file(p->log, &len);
  bool found = false;
  if (data) {
    char *text = rsp_malloc(len + 1);
    if (text) {
      memcpy(text, data, len);
      text[len] = '\0';
      found = strstr(text, needle) != NULL;
    }
    rsp_free(text);
  }
  rsp_free(data);
  return found;
}

static bool wait_up(struct proc *p, unsigned port) {
  if (p->pid > 0 && rsp_test_wait_port(port, READY_MS)) return true;
  dump_log(p);
  rsp_test_fail(__FILE__, __LINE__, "a program did not come up on port %u", port);
  return false;
}

static void stop(struct proc *p) {
  if (p->pid <= 0) return;
  int st = rsp_test_stop(p->pid, SIGTERM);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    dump_log(p);
    rsp_test_fail(__FILE__, __LINE__, "the program did not exit 0 on SIGTERM");
  }
  p->pid = -1;
}

/* rsp-smdp serve with the SM-DS role on three free ports. */
static bool smdp_start(struct smdp *s, const char *tag) {
  char listen[32], es2[32], smds[32];
  memset(s, 0, sizeof *s);
  s->es9 = rsp_test_free_port();
  do s->es2 = rsp_test_free_port();
  while (s->es2 == s->es9);
  do s->smds = rsp_test_free_port();
  while (s->smds == s->es9 || s->smds == s->es2);
  fmt(s->address, sizeof s->address, "localhost:%u", s->es9);
  fmt(s->smds_address, sizeof s->smds_address, "localhost:%u", s->smds);
  fmt(s->state, sizeof s->state, "%s/smdp.db", rsp_test_tmpdir(tag));
  fmt(s->p.log, sizeof s->p.log, "%s.log", s->state);
  char *argv[] = {(char *)smdp_bin,
                  "serve",
                  "--pki",
                  pki_main.dir,
                  "--state",
                  s->state,
                  "--listen",
                  fmt(listen, sizeof listen, "127.0.0.1:%u", s->es9),
                  "--es2-listen",
                  fmt(es2, sizeof es2, "127.0.0.1:%u", s->es2),
                  "--address",
                  s->address,
                  "--generate",
                  "3",
                  "--iccid-base",
                  ICCID_BASE,
                  "--imsi-base",
                  IMSI_BASE,
                  "--smds-listen",
                  fmt(smds, sizeof smds, "127.0.0.1:%u", s->smds),
                  "--smds-address",
                  s->smds_address,
                  NULL};
  s->p.pid = rsp_test_spawn(argv, s->p.log);
  return wait_up(&s->p, s->es9) && wait_up(&s->p, s->smds) && wait_up(&s->p, s->es2);
}

/* rsp-smdp smds on `port` (0: a free one), a state file of its own. */
static bool smds_start(struct smds *d, const char *tag, unsigned port, bool wait) {
  char listen[32];
  memset(d, 0, sizeof *d);
  d->port = port ? port : rsp_test_free_port();
  fmt(d->address, sizeof d->address, "localhost:%u", d->port);
  fmt(d->state, sizeof d->state, "%s/smds.db", rsp_test_tmpdir(tag));
  fmt(d->p.log, sizeof d->p.log, "%s.log", d->state);
  char *argv[] = {(char *)smdp_bin,
                  "smds",
                  "--pki",
                  pki_main.dir,
                  "--state",
                  d->state,
                  "--listen",
                  fmt(listen, sizeof listen, "127.0.0.1:%u", d->port),
                  "--address",
                  d->address,
                  "--threads",
                  "2",
                  NULL};
  d->p.pid = rsp_test_spawn(argv, d->p.log);
  return !wait || wait_up(&d->p, d->port);
}

/* ---- HTTPS clients: the operator, and raw calls ------------------------------------------------
 */

static struct rsp_net_client *client(const struct pki *ca, const struct pki *cert_pki,
                                     const char *party) {
  char ca_file[700], cert[700], key[700];
  struct rsp_net_client *c = NULL;
  struct rsp_net_client_options o = {
      .ca_file = fmt(ca_file, sizeof ca_file, "%s/ci/cert.pem", ca->dir),
      .cert_file = cert_pki ? fmt(cert, sizeof cert, "%s/%s/cert.pem", cert_pki->dir, party) : NULL,
      .key_file = cert_pki ? fmt(key, sizeof key, "%s/%s/key.pem", cert_pki->dir, party) : NULL,
      .timeout_ms = 20000};
  CHECK_OK(rsp_net_client_new(&o, &c));
  return c;
}

static const struct rsp_net_header json_headers[] = {{"Content-Type", "application/json"},
                                                     {"X-Admin-Protocol", "gsma/rsp/v2.2.0"}};

/* POSTs a JSON body (text); returns the HTTP status, -1 for a transport failure. */
static int post(struct rsp_net_client *c, const char *address, const char *path,
                const struct rsp_net_header *headers, size_t n_headers, const char *body,
                struct rsp_buf *out) {
  char url[256];
  struct rsp_net_client_response res;
  rsp_net_client_response_init(&res);
  rsp_err_t rc = rsp_net_client_post(c, fmt(url, sizeof url, "https://%s%s", address, path),
                                     headers, n_headers, body, strlen(body), &res);
  int status = rc == RSP_OK ? res.status : -1;
  if (rc == RSP_OK && out) rsp_buf_append(out, res.body.data, res.body.len);
  rsp_net_client_response_free(&res);
  return status;
}

/* downloadOrder and confirmOrder of one profile with smdsAddress; the matchingId to mid. */
static void order(struct smdp *s, const char *iccid, const char *smds_address, char *mid,
                  size_t size) {
  struct rsp_net_client *op = client(&pki_main, &pki_main, "eim/tls");
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_confirm_order_resp cr;
  struct rsp_buf out;
  char body[1024], es2[64];
  rsp_buf_init(&out, 1 << 16);
  fmt(es2, sizeof es2, "localhost:%u", s->es2);
  rsp_msg_json_doc_init(&doc);
  fmt(body, sizeof body,
      "{\"header\":{\"functionRequesterIdentifier\":\"op\",\"functionCallIdentifier\":\"1\"},"
      "\"iccid\":\"%s\"}",
      iccid);
  CHECK_EQ(post(op, es2, RSP_ES2P_PATH_DOWNLOAD_ORDER, json_headers, 2, body, NULL), 200);
  fmt(body, sizeof body,
      "{\"header\":{\"functionRequesterIdentifier\":\"op\",\"functionCallIdentifier\":\"2\"},"
      "\"iccid\":\"%s\",\"eid\":\"%s\",\"smdsAddress\":\"%s\",\"releaseFlag\":true}",
      iccid, pki_main.eid, smds_address);
  CHECK_EQ(post(op, es2, RSP_ES2P_PATH_CONFIRM_ORDER, json_headers, 2, body, &out), 200);
  CHECK_OK(rsp_msg_json_decode(&rsp_es2p_json_confirm_order_resp_type, (const char *)out.data,
                               out.len, &doc, &cr, NULL));
  CHECK(rsp_msg_json_status_ok(&cr.header) && cr.matching_id);
  fmt(mid, size, "%s", cr.matching_id ? cr.matching_id : "");
  rsp_msg_json_doc_free(&doc);
  rsp_buf_free(&out);
  rsp_net_client_destroy(op);
}

/* ---- the device -------------------------------------------------------------------------------
 */

struct device {
  struct rsp_euicc *card;
  struct rsp_apdu apdu;
  struct rsp_es9_https *es9;
  struct rsp_ipa ipa;
};

static bool device_open(struct device *d) {
  char ca[700];
  memset(d, 0, sizeof *d);
  struct rsp_euicc_options eo = {.pki_dir = pki_main.dir, .eid = pki_main.eid};
  struct rsp_es9_https_options ho = {.ca_file = fmt(ca, sizeof ca, "%s/ci/cert.pem", pki_main.dir),
                                     .timeout_ms = 20000};
  if (rsp_euicc_open(&eo, &d->card) != RSP_OK || rsp_es9_https_new(&ho, &d->es9) != RSP_OK)
    return false;
  rsp_apdu_inproc_init(&d->apdu, d->card);
  rsp_ipa_init(&d->ipa, &d->apdu, NULL, NULL);
  return true;
}

static void device_close(struct device *d) {
  rsp_es9_https_free(d->es9);
  rsp_euicc_destroy(d->card);
}

/* ES11 until the SM-DS has `want` events for the card (the SM-DP+ sends ES12 after its commit),
 * or the time is up; returns the last count, the events in *ev. */
static size_t events(struct device *d, const char *smds, size_t want,
                     struct rsp_ipa_smds_events *ev) {
  int64_t end = now_ms() + EVENT_MS;
  do {
    memset(ev, 0, sizeof *ev);
    if (rsp_ipa_smds_events(&d->ipa, &rsp_es9_https_ops, d->es9, smds, ev) == RSP_OK &&
        ev->n == want)
      return ev->n;
    sleep_ms(100);
  } while (now_ms() < end);
  return ev->n;
}

/* Retrieves the event, downloads its profile from its SM-DP+, and sees the event go. */
static void event_download(struct device *d, const char *smds, const char *mid,
                           const char *smdp_address) {
  struct rsp_ipa_smds_events ev;
  struct rsp_ipa_download_result r;
  CHECK_EQ(events(d, smds, 1, &ev), 1);
  CHECK(ev.n == 1 && strcmp(ev.v[0].event_id, mid) == 0 &&
        strcmp(ev.v[0].rsp_server_address, smdp_address) == 0);
  struct rsp_ipa_download_params p = {.smdp_address = ev.v[0].rsp_server_address,
                                      .matching_id = ev.v[0].event_id};
  rsp_ipa_download_result_init(&r);
  CHECK_OK(rsp_ipa_download(&d->ipa, &rsp_es9_https_ops, d->es9, &p, &r));
  CHECK(r.installed);
  rsp_ipa_download_result_free(&r);
  CHECK_EQ(events(d, smds, 0, &ev), 0); /* deleted after the PIR */
}

/* ---- cases ------------------------------------------------------------------------------------
 */

static void local_and_remote(void) {
  struct smdp s;
  struct smds remote;
  struct device d;
  char mid[64];
  if (!smdp_start(&s, "smds_local") || !smds_start(&remote, "smds_remote", 0, true) ||
      !device_open(&d)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up");
    return;
  }
  /* the SM-DS role of the SM-DP+'s own process: ES12 in-process */
  order(&s, ICCID_1, s.smds_address, mid, sizeof mid);
  event_download(&d, s.smds_address, mid, s.address);
  CHECK(log_has(&s.p, "ES12 registerEvent"));
  CHECK(log_has(&s.p, "es11: 127.0.0.1"));
  /* a remote SM-DS: ES12 over HTTPS with the SM-DP+'s client certificate */
  order(&s, ICCID_2, remote.address, mid, sizeof mid);
  event_download(&d, remote.address, mid, s.address);
  CHECK(log_has(&remote.p, "registerEvent: Executed-Success"));
  CHECK(log_has(&remote.p, "deleteEvent: Executed-Success"));
  CHECK(log_has(&remote.p, "client CN="));
  device_close(&d);
  stop(&remote.p);
  stop(&s.p);
}

/* An SM-DS that is down when the order is confirmed: confirmOrder succeeds, the SM-DP+ keeps
 * the registration and delivers it once the SM-DS is up. */
static void unreachable_then_up(void) {
  struct smdp s;
  struct smds remote;
  struct device d;
  struct rsp_ipa_smds_events ev;
  char mid[64], address[64];
  unsigned port = rsp_test_free_port();
  if (!smdp_start(&s, "smds_retry") || !device_open(&d)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up");
    return;
  }
  order(&s, ICCID_3, fmt(address, sizeof address, "localhost:%u", port), mid, sizeof mid);
  sleep_ms(300);
  smds_start(&remote, "smds_retry_remote", port, false);
  CHECK(wait_up(&remote.p, port));
  CHECK_EQ(events(&d, address, 1, &ev), 1);
  CHECK(log_has(&s.p, "next attempt in"));
  device_close(&d);
  stop(&remote.p);
  stop(&s.p);
}

/* Transport refusals of the SM-DS port. */
static void refusals(void) {
  struct smds remote;
  struct rsp_buf out;
  char body[512];
  if (!smds_start(&remote, "smds_refusals", 0, true)) return;
  rsp_buf_init(&out, 1 << 16);
  struct rsp_net_client *anon = client(&pki_main, NULL, NULL);
  struct rsp_net_client *dp = client(&pki_main, &pki_main, "smdp/tls");
  struct rsp_net_client *stranger = client(&pki_main, &pki_other, "smdp/tls");
  fmt(body, sizeof body,
      "{\"header\":{\"functionRequesterIdentifier\":\"x\",\"functionCallIdentifier\":\"1\"},"
      "\"eid\":\"%s\",\"eventId\":\"E-1\",\"rspServerAddress\":\"localhost\"}",
      pki_main.eid);
  CHECK_EQ(post(anon, remote.address, RSP_ES12_PATH_REGISTER_EVENT, json_headers, 2, body, NULL),
           403);
  CHECK_EQ(
      post(stranger, remote.address, RSP_ES12_PATH_REGISTER_EVENT, json_headers, 2, body, NULL),
      -1); /* refused in the TLS handshake */
  CHECK_EQ(post(dp, remote.address, RSP_ES12_PATH_REGISTER_EVENT, json_headers, 2, body, &out),
           200);
  CHECK(out.len > 0 && strstr((const char *)out.data, "Executed-Success") != NULL);
  static const struct rsp_net_header xml[] = {{"Content-Type", "text/xml"},
                                              {"X-Admin-Protocol", "gsma/rsp/v2.2.0"}};
  static const struct rsp_net_header old[] = {{"Content-Type", "application/json"},
                                              {"X-Admin-Protocol", "gsma/rsp/v1.0.0"}};
  CHECK_EQ(post(anon, remote.address, RSP_ES9P_PATH_INITIATE_AUTHENTICATION, xml, 2, "{}", NULL),
           415);
  CHECK_EQ(post(anon, remote.address, RSP_ES9P_PATH_INITIATE_AUTHENTICATION, old, 2, "{}", NULL),
           400);
  CHECK_EQ(post(anon, remote.address, RSP_ES9P_PATH_GET_BOUND_PROFILE_PACKAGE, json_headers, 2,
                "{}", NULL),
           404);
  CHECK_EQ(post(anon, remote.address, RSP_ES9P_PATH_INITIATE_AUTHENTICATION, json_headers, 2, "[1]",
                NULL),
           400);
  struct rsp_net_client_response res;
  char url[256];
  rsp_net_client_response_init(&res);
  CHECK_OK(rsp_net_client_request(
      anon, "GET",
      fmt(url, sizeof url, "https://%s%s", remote.address, RSP_ES11_PATH_AUTHENTICATE_CLIENT),
      json_headers, 2, NULL, 0, &res));
  CHECK_EQ(res.status, 405);
  rsp_net_client_response_free(&res);
  rsp_net_client_destroy(anon);
  rsp_net_client_destroy(dp);
  rsp_net_client_destroy(stranger);
  rsp_buf_free(&out);
  stop(&remote.p);
}

static int run_status(char *const argv[]) {
  char log[700];
  fmt(log, sizeof log, "%s/cmd.log", rsp_test_tmpdir("smds_cmd"));
  pid_t pid = rsp_test_spawn(argv, log);
  int st = 0;
  if (pid > 0) waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void command_line(void) {
  char *help[] = {(char *)smdp_bin, "smds", "--help", NULL};
  char *no_pki[] = {(char *)smdp_bin, "smds", "--state", "/tmp/x.db", NULL};
  char *bad_listen[] = {(char *)smdp_bin, "smds",     "--pki",   pki_main.dir, "--state",
                        "/tmp/x.db",      "--listen", "nowhere", NULL};
  char *orphan[] = {(char *)smdp_bin, "serve",          "--pki",        pki_main.dir, "--state",
                    "/tmp/x.db",      "--smds-address", "smds.example", NULL};
  char *half[] = {(char *)smdp_bin, "serve",       "--pki",      pki_main.dir, "--state",
                  "/tmp/x.db",      "--es12-cert", "/tmp/c.pem", NULL};
  CHECK_EQ(run_status(help), 0);
  CHECK_EQ(run_status(no_pki), 2);
  CHECK_EQ(run_status(bad_listen), 2);
  CHECK_EQ(run_status(orphan), 2);
  CHECK_EQ(run_status(half), 2);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(local_and_remote), T(unreachable_then_up),
                                               T(refusals), T(command_line)};
  if (argc < 3) return 2;
  pki_bin = argv[1];
  smdp_bin = argv[2];
  rsp_log_set_level(RSP_LOG_ERROR);
  signal(SIGPIPE, SIG_IGN);
  if (!make_pki(&pki_main, "smds_pki") || !make_pki(&pki_other, "smds_pki_other")) {
    fprintf(stderr, "rsp-pki create failed\n");
    return 1;
  }
  return rsp_test_main(argc - 2, argv + 2, cases, sizeof cases / sizeof cases[0]);
}
