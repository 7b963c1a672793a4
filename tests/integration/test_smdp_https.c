/* rsp-smdp over real HTTPS on 127.0.0.1 (argv[1]: rsp-pki, argv[2]: rsp-smdp).
 *
 * The program runs as a child process on free ports with a PKI made by rsp-pki and three
 * generated profiles. The test plays the operator (ES2+ with mutual TLS through the lib/net
 * client: downloadOrder, confirmOrder, the activation code) and the device: a software eUICC
 * in-process, driven by an LPA written here with the lib/net client, the JSON bodies of
 * lib/msg/json.h, rsp_euicc_es10 and rsp_msg_bpp_split. It also runs the operator's callback
 * receiver (a lib/net server that refuses the first POST, so the program has to retry).
 *
 * Cases: the whole download on both curves with and without a confirmation code, the operator
 * callbacks, a restart on the same state file; refusals over HTTPS (no or a foreign client
 * certificate on ES2+, unknown matchingId, replayed transactionId, wrong Content-Type,
 * oversized body, wrong X-Admin-Protocol, wrong method and interface); the download on both
 * curves again through the ASN.1 binding of ES9+ (/gsma/rsp2/asn1) with its refusals; the
 * command line. Every
 * run of the program ends with SIGTERM and must exit 0. The brainpool PKI is used end to end,
 * TLS certificates included (the lib/net client offers brainpoolP256r1). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/der/der.h"
#include "rsp/euicc/euicc.h"
#include "rsp/msg/activation_code.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/bpp.h"
#include "rsp/msg/json.h"
#include "rsp/net/http.h"
#include "rsp/smdp/service.h"
#include "proc.h"
#include "smdp_world.h"
#include "test.h"

#define ICCID_BASE "894903200000000001" /* the three profiles: ...0010, ...0028, ...0036 */
#define IMSI_BASE "001010000000001"
#define ICCID_1 "8949032000000000010"
#define ICCID_2 "8949032000000000028"
#define ICCID_3 "8949032000000000036"
#define TYPE "openrsp test profile" /* of the generated packages */
#define OPERATOR "operator.example"
#define ADMIN_SENT "gsma/rsp/v2.2.0"
#define ADMIN_ANSWERED "gsma/rsp/v2.5.0"
#define RESP_MAX (1u << 20)
#define READY_TIMEOUT_MS 30000
#define EXIT_TIMEOUT_MS 30000
#define CALLBACK_TIMEOUT_MS 30000

static const uint8_t TAC[RSP_SMDP_TAC_LEN] = {0x35, 0x29, 0x06, 0x11};

static const char *rsp_pki_bin, *rsp_smdp_bin;

/* ---- PKIs, files, clock ---------------------------------------------------------------------- */

struct pki {
  char top[512];
  char dir[600];
  char eid[RSP_EID_DIGITS + 1];
  const char *curve;
};

static struct pki pki_nist = {.curve = "nist"}, pki_brp = {.curve = "brp"};
static struct pki pki_other = {.curve = "nist"}; /* a stranger's CA */

static const struct pki *make_pki(struct pki *k) {
  char cmd[2048];
  if (k->dir[0]) return k;
  snprintf(k->top, sizeof k->top, "%s", rsp_test_tmpdir(k->curve));
  snprintf(k->dir, sizeof k->dir, "%s/pki", k->top);
  snprintf(cmd, sizeof cmd, "'%s' create --dir '%s' --curve %s >/dev/null", rsp_pki_bin, k->dir,
           k->curve);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", k->dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(k->eid, sizeof k->eid, f)) rsp_test_fail(__FILE__, __LINE__, "no eUICC");
  if (f) pclose(f);
  k->eid[strcspn(k->eid, "\n")] = '\0';
  return k;
}

/* snprintf that fails the test instead of truncating. */
static char *fmt(char *buf, size_t size, const char *format, ...) RSP_PRINTF(3, 4);
static char *fmt(char *buf, size_t size, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(buf, size, format, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= size) rsp_test_fail(__FILE__, __LINE__, "too long: %s", buf);
  return buf;
}

static const char *path_in(const char *dir, const char *rel, char *buf, size_t size) {
  return fmt(buf, size, "%s/%s", dir, rel);
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

static uint16_t free_port(void) { return (uint16_t)rsp_test_free_port(); }

/* True when the file contains `needle`. */
static bool file_has(const char *path, const char *needle) {
  size_t len = 0;
  uint8_t *data = rsp_test_read_file(path, &len);
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

/* ---- the rsp-smdp process -------------------------------------------------------------------- */

struct smdp {
  pid_t pid;
  const struct pki *k;   /* the SM-DP+'s identity, the CI of the cards */
  const struct pki *tls; /* the TLS certificates and their CA (k itself, or a NIST PKI) */
  uint16_t es9p_port, es2p_port;
  char address[64]; /* localhost:PORT, as the TLS certificate names the host */
  char log[700];
  bool up;
};

/* Starts argv with stdout and stderr into `log`; the child dies with the test. */
static pid_t spawn(char *const argv[], const char *log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv(argv[0], argv);
    _exit(127);
  }
  return pid;
}

/* Waits for the child; its exit code, or -1 when it did not exit normally in time. */
static int reap(pid_t pid, long timeout_ms) {
  int status = 0;
  int64_t end = now_ms() + timeout_ms;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0 || now_ms() > end) break;
    sleep_ms(20);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

static const struct rsp_net_header json_headers[] = {
    {"Content-Type", "application/json"},
    {"X-Admin-Protocol", ADMIN_SENT},
};

/* A client trusting `ca`'s CI, with `cert_pki`'s eIM TLS certificate as client certificate when
 * given (the operator). */
static struct rsp_net_client *new_client(const struct pki *ca, const struct pki *cert_pki) {
  char ca_file[700], cert[700], key[700];
  struct rsp_net_client *c = NULL;
  struct rsp_net_client_options o = {
      .ca_file = path_in(ca->dir, "ci/cert.pem", ca_file, sizeof ca_file),
      .cert_file = cert_pki ? path_in(cert_pki->dir, "eim/tls/cert.pem", cert, sizeof cert) : NULL,
      .key_file = cert_pki ? path_in(cert_pki->dir, "eim/tls/key.pem", key, sizeof key) : NULL,
      .timeout_ms = 20000,
      .user_agent = "gsma-rsp-lpad"};
  CHECK_OK(rsp_net_client_new(&o, &c));
  return c;
}

/* Polls ES9+ until it answers (404 on "/"); false when the program died or took too long. */
static bool wait_ready(struct smdp *s) {
  struct rsp_net_client *c = new_client(s->tls, NULL);
  struct rsp_net_client_response res;
  char url[128];
  int64_t end = now_ms() + READY_TIMEOUT_MS;
  bool up = false;
  fmt(url, sizeof url, "https://%s/", s->address);
  while (!up && now_ms() < end) {
    int status = 0;
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
      s->pid = -1;
      break;
    }
    up = rsp_net_client_post(c, url, json_headers, 2, "{}", 2, &res) == RSP_OK && res.status == 404;
    rsp_net_client_response_free(&res);
    if (!up) sleep_ms(50);
  }
  rsp_net_client_destroy(c);
  return up;
}

/* The command line of one run, strings kept until the spawn. */
struct cmdline {
  char *argv[48];
  int argc;
  char strings[16][700];
  int nstrings;
};

static void arg(struct cmdline *c, const char *a) {
  if (c->argc < 47) c->argv[c->argc++] = (char *)a;
  c->argv[c->argc] = NULL;
}

static void arg_path(struct cmdline *c, const char *opt, const struct pki *k, const char *rel) {
  if (c->nstrings >= 16) return;
  arg(c, opt);
  arg(c, path_in(k->dir, rel, c->strings[c->nstrings++], sizeof c->strings[0]));
}

/* The arguments of rsp-smdp serve: three generated profiles, two loop threads per server (each
 * with its own service object), the TLS material from s->tls (the defaults when it is s->k),
 * the callbacks to operator_url when not NULL. */
static void serve_args(struct cmdline *c, struct smdp *s, const char *state,
                       const char *operator_url, char es9[32], char es2[32]) {
  static const char *const fixed[] = {"--generate",  "3",       "--iccid-base", ICCID_BASE,
                                      "--imsi-base", IMSI_BASE, "--threads",    "2"};
  memset(c, 0, sizeof *c);
  arg(c, rsp_smdp_bin);
  arg(c, "serve");
  arg(c, "--pki");
  arg(c, s->k->dir);
  arg(c, "--state");
  arg(c, state);
  arg(c, "--listen");
  arg(c, fmt(es9, 32, "127.0.0.1:%u", (unsigned)s->es9p_port));
  arg(c, "--es2-listen");
  arg(c, fmt(es2, 32, "127.0.0.1:%u", (unsigned)s->es2p_port));
  arg(c, "--address");
  arg(c, s->address);
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) arg(c, fixed[i]);
  if (s->tls != s->k) {
    arg_path(c, "--tls-cert", s->tls, "smdp/tls/cert.pem");
    arg_path(c, "--tls-key", s->tls, "smdp/tls/key.pem");
    arg_path(c, "--operator-ca", s->tls, "ci/cert.pem");
    arg_path(c, "--operator-ca-file", s->tls, "ci/cert.pem");
  }
  if (operator_url) {
    arg(c, "--operator-url");
    arg(c, operator_url);
    arg_path(c, "--operator-cert", s->tls, "eim/tls/cert.pem");
    arg_path(c, "--operator-key", s->tls, "eim/tls/key.pem");
  }
}

/* Starts rsp-smdp serve on two free ports: the RSP identity from k, TLS from tls. With `wait`,
 * until ES9+ answers; false (and the log printed) when it does not. */
static bool smdp_start_ex(struct smdp *s, const struct pki *k, const struct pki *tls,
                          const char *state, const char *operator_url, bool wait) {
  struct cmdline c;
  char es9[32], es2[32], cmd[800];
  int64_t t0 = now_ms();
  memset(s, 0, sizeof *s);
  s->k = k;
  s->tls = tls;
  s->es9p_port = free_port();
  do s->es2p_port = free_port();
  while (s->es2p_port == s->es9p_port);
  fmt(s->address, sizeof s->address, "localhost:%u", (unsigned)s->es9p_port);
  fmt(s->log, sizeof s->log, "%s.log", state);
  serve_args(&c, s, state, operator_url, es9, es2);
  s->pid = spawn(c.argv, s->log);
  s->up = s->pid > 0 && (!wait || wait_ready(s));
  if (!s->up) {
    fmt(cmd, sizeof cmd, "cat '%s' >&2", s->log);
    if (system(cmd) != 0) fprintf(stderr, "(no log)\n");
    rsp_test_fail(__FILE__, __LINE__, "rsp-smdp did not come up");
  } else if (wait) {
    printf("# rsp-smdp (%s, TLS %s) up in %lld ms\n", k->curve, tls->curve,
           (long long)(now_ms() - t0));
  }
  return s->up;
}

static bool smdp_start(struct smdp *s, const struct pki *k, const struct pki *tls,
                       const char *state, const char *operator_url) {
  return smdp_start_ex(s, k, tls, state, operator_url, true);
}

/* SIGTERM; the program must exit 0. */
static void smdp_stop(struct smdp *s) {
  int64_t t0 = now_ms();
  if (s->pid <= 0) return;
  CHECK_EQ(kill(s->pid, SIGTERM), 0);
  CHECK_EQ(reap(s->pid, EXIT_TIMEOUT_MS), 0);
  CHECK(file_has(s->log, "SIGTERM received, shutting down"));
  printf("# rsp-smdp (%s) stopped in %lld ms\n", s->k->curve, (long long)(now_ms() - t0));
  s->pid = -1;
}

/* ---- JSON over HTTPS ------------------------------------------------------------------------- */

/* POSTs the request of `f` to base + its path and decodes the answer into r (memory in doc).
 * Returns the HTTP status (-1 when the exchange failed). */
static int call(struct rsp_net_client *c, const char *base, enum rsp_msg_json_func f, const void *q,
                void *r, struct rsp_msg_json_doc *doc) {
  const struct rsp_msg_json_func_info *fi = rsp_msg_json_func_get(f);
  struct rsp_net_client_response res;
  struct rsp_msg_json_diag diag;
  struct rsp_buf body;
  char url[256];
  int status = -1;
  rsp_buf_init(&body, RSP_MSG_JSON_MAX_BODY);
  CHECK_OK(rsp_msg_json_encode(fi->request, q, &body, &diag));
  snprintf(url, sizeof url, "%s%s", base, fi->path);
  rsp_err_t rc = rsp_net_client_post(c, url, json_headers, 2, body.data, body.len, &res);
  CHECK_OK(rc);
  if (rc == RSP_OK) {
    status = res.status;
    CHECK_STR(res.admin_protocol, ADMIN_ANSWERED);
    if (status == 200) CHECK_STR(res.content_type, "application/json");
    if (status == 204) CHECK_EQ(res.body.len, 0);
  }
  if (status == 200 || status == 204) {
    rc =
        rsp_msg_json_decode(fi->response, (const char *)res.body.data, res.body.len, doc, r, &diag);
    if (rc != RSP_OK) rsp_test_fail(__FILE__, __LINE__, "%s answer: %s", fi->name, diag.text);
  }
  rsp_net_client_response_free(&res);
  rsp_buf_free(&body);
  return status;
}

static void expect_status(const void *resp, const char *subject, const char *reason, int line) {
  const struct rsp_msg_json_exec_status *s =
      &((const struct rsp_msg_json_resp_header *)resp)->function_execution_status;
  bool ok = subject ? s->status == RSP_MSG_JSON_STATUS_FAILED &&
                          rsp_msg_json_status_code_is(s, subject, reason)
                    : s->status == RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS;
  rsp_test_checks++;
  if (!ok)
    rsp_test_fail(
        __FILE__, line, "expected %s %s/%s, got %d (%s/%s%s%s)",
        subject ? "Failed" : "Executed-Success", subject ? subject : "-", reason ? reason : "-",
        (int)s->status, s->status_code_data ? s->status_code_data->subject_code : "-",
        s->status_code_data ? s->status_code_data->reason_code : "-",
        s->status_code_data && s->status_code_data->message ? ": " : "",
        s->status_code_data && s->status_code_data->message ? s->status_code_data->message : "");
}

#define EXPECT_OK(r) expect_status((r), NULL, NULL, __LINE__)
#define EXPECT_FAILED(r, s, rs) expect_status((r), (s), (rs), __LINE__)

/* ---- the operator (ES2+) --------------------------------------------------------------------- */

struct operator{
  struct rsp_net_client *c;
  char base[64];
  int calls;
};

static void operator_open(struct operator* op, const struct smdp *s) {
  memset(op, 0, sizeof *op);
  op->c = new_client(s->tls, s->tls);
  snprintf(op->base, sizeof op->base, "https://localhost:%u", (unsigned)s->es2p_port);
}

static struct rsp_msg_json_req_header op_header(struct operator* op) {
  static char id[32];
  snprintf(id, sizeof id, "call-%d", ++op->calls);
  return (struct rsp_msg_json_req_header){OPERATOR, id};
}

static void download_order(struct operator* op, const char *iccid, const char *type,
                           struct rsp_es2p_json_download_order_resp *r,
                           struct rsp_msg_json_doc *doc) {
  struct rsp_es2p_json_download_order_req q = {
      .header = op_header(op), .iccid = iccid, .profile_type = type};
  CHECK_EQ(call(op->c, op->base, RSP_MSG_JSON_FUNC_ES2P_DOWNLOAD_ORDER, &q, r, doc), 200);
}

/* downloadOrder (by ICCID or by type) + confirmOrder with releaseFlag; the activation code the
 * operator hands out, parsed as an LPA reads it, goes to ac. Returns the ICCID (static). */
static const char *order(struct operator* op, const struct smdp *s, const char *iccid,
                         const char *cc, struct rsp_msg_activation_code *ac) {
  static char got[RSP_ICCID_MAX_DIGITS + 2];
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_download_order_resp dr;
  struct rsp_es2p_json_confirm_order_resp cr;
  char text[RSP_SMDP_AC_MAX + 8];
  rsp_msg_json_doc_init(&doc);
  download_order(op, iccid, iccid ? NULL : TYPE, &dr, &doc);
  EXPECT_OK(&dr);
  snprintf(got, sizeof got, "%s", dr.iccid ? dr.iccid : "");
  struct rsp_es2p_json_confirm_order_req q = {
      .header = op_header(op), .iccid = got, .confirmation_code = cc, .release_flag = {true, true}};
  CHECK_EQ(call(op->c, op->base, RSP_MSG_JSON_FUNC_ES2P_CONFIRM_ORDER, &q, &cr, &doc), 200);
  EXPECT_OK(&cr);
  CHECK_STR(cr.smdp_address, s->address);
  CHECK(cr.matching_id && cr.matching_id[0]);
  snprintf(text, sizeof text, "LPA:1$%s$%s", cr.smdp_address ? cr.smdp_address : "",
           cr.matching_id ? cr.matching_id : "");
  CHECK_OK(rsp_msg_activation_code_parse(text, strlen(text), ac, NULL));
  rsp_msg_json_doc_free(&doc);
  return got;
}

/* ---- the card -------------------------------------------------------------------------------- */

/* The ICCIDs (digits) the card lists in GetProfilesInfo, comma-separated. */
static void card_iccids(struct rsp_euicc *card, char *out, size_t size) {
  struct rsp_msg_profile_info_list_request q = {0};
  struct rsp_msg_sgp32_profile_info_list_response *r = NULL;
  struct rsp_buf resp;
  struct rsp_arena a;
  out[0] = '\0';
  rsp_buf_init(&resp, RESP_MAX);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_test_card_msg(card, &rsp_msgt_profile_info_list_request, &q, &resp);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_profile_info_list_response, resp.data, resp.len, &a,
                          (void **)&r, NULL));
  if (r && r->which == RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK)
    for (size_t i = 0; i < r->u.profile_info_list_ok->n; i++) {
      struct rsp_slice ic = r->u.profile_info_list_ok->v[i].iccid;
      char digits[RSP_ICCID_MAX_DIGITS + 1] = "";
      if (ic.len == RSP_ICCID_LEN) CHECK_OK(rsp_iccid_decode(ic.p, digits));
      size_t n = strlen(out);
      snprintf(out + n, size - n, "%s%s", n ? "," : "", digits);
    }
  rsp_arena_free(&a);
  rsp_buf_free(&resp);
}

/* The value of a TLV the JSON carries whole (5F37 40 ..., 04 14 ...). */
static struct rsp_slice value_of(struct rsp_slice tlv) {
  struct rsp_der_tlv t;
  if (!tlv.p || rsp_der_parse_one(tlv.p, tlv.len, &t) != RSP_OK) return rsp_msg_slice(NULL, 0);
  return rsp_msg_slice(t.val, t.len);
}

/* ---- the LPA (ES9+) -------------------------------------------------------------------------- */

struct lpa {
  struct rsp_net_client *c;
  struct rsp_euicc *card;
  char base[300];
};

/* One download session as the LPA sees it. */
struct dl {
  struct rsp_msg_json_doc doc;
  struct rsp_es9p_json_initiate_authentication_resp ia;
  struct rsp_es9p_json_authenticate_client_resp ac;
  struct rsp_es9p_json_get_bound_profile_package_resp gb;
  struct rsp_buf asr, pdr, pir;
};

/* The card of s->k's PKI, and a client trusting s->tls's CI. */
static void lpa_open(struct lpa *l, const struct smdp *s) {
  struct rsp_euicc_options eo = {.pki_dir = s->k->dir, .eid = s->k->eid};
  memset(l, 0, sizeof *l);
  l->c = new_client(s->tls, NULL);
  CHECK_OK(rsp_euicc_open(&eo, &l->card));
}

static void lpa_close(struct lpa *l) {
  rsp_net_client_destroy(l->c);
  rsp_euicc_destroy(l->card);
}

static void dl_init(struct dl *d) {
  memset(d, 0, sizeof *d);
  rsp_msg_json_doc_init(&d->doc);
  rsp_buf_init(&d->asr, RESP_MAX);
  rsp_buf_init(&d->pdr, RESP_MAX);
  rsp_buf_init(&d->pir, RESP_MAX);
}

static void dl_free(struct dl *d) {
  rsp_msg_json_doc_free(&d->doc);
  rsp_buf_free(&d->asr);
  rsp_buf_free(&d->pdr);
  rsp_buf_free(&d->pir);
}

/* initiateAuthentication at the activation code's SM-DP+, then the card's AuthenticateServer
 * with `matching_id` (the code's, or another one). */
static void lpa_authenticate(struct lpa *l, const struct rsp_msg_activation_code *ac,
                             const char *matching_id, struct dl *d) {
  struct rsp_msg_get_euicc_info1_request iq = {0};
  struct rsp_buf info, req;
  uint8_t ch[RSP_SMDP_CHALLENGE_LEN];
  rsp_buf_init(&info, RESP_MAX);
  rsp_buf_init(&req, RESP_MAX);
  snprintf(l->base, sizeof l->base, "https://%s", ac->smdp_address);
  rsp_test_card_msg(l->card, &rsp_msgt_get_euicc_info1_request, &iq, &info);
  rsp_test_card_challenge(l->card, ch);
  struct rsp_es9p_json_initiate_authentication_req q = {
      .euicc_challenge = rsp_msg_slice(ch, sizeof ch),
      .euicc_info1 = rsp_msg_slice(info.data, info.len),
      .smdp_address = ac->smdp_address};
  CHECK_EQ(call(l->c, l->base, RSP_MSG_JSON_FUNC_ES9P_INITIATE_AUTHENTICATION, &q, &d->ia, &d->doc),
           200);
  EXPECT_OK(&d->ia);
  struct rsp_smdp_authenticate_server_parts parts = {
      .server_signed1 = d->ia.server_signed1,
      .server_signature1 = value_of(d->ia.server_signature1),
      .euicc_ci_pk_id = value_of(d->ia.euicc_ci_pk_id_to_be_used),
      .server_certificate = d->ia.server_certificate,
      .matching_id = rsp_msg_slice(matching_id, strlen(matching_id))};
  memcpy(parts.tac, TAC, sizeof TAC);
  CHECK_OK(rsp_smdp_authenticate_server_request_build(&parts, &req));
  CHECK_OK(rsp_test_card_es10(l->card, req.data, req.len, &d->asr));
  rsp_buf_free(&info);
  rsp_buf_free(&req);
}

static void lpa_authenticate_client(struct lpa *l, struct dl *d) {
  struct rsp_es9p_json_authenticate_client_req q = {.transaction_id = d->ia.transaction_id,
                                                    .authenticate_server_response =
                                                        rsp_msg_slice(d->asr.data, d->asr.len)};
  CHECK_EQ(call(l->c, l->base, RSP_MSG_JSON_FUNC_ES9P_AUTHENTICATE_CLIENT, &q, &d->ac, &d->doc),
           200);
}

/* PrepareDownload (with the code the user typed, or none) and getBoundProfilePackage. */
static void lpa_prepare_and_fetch(struct lpa *l, struct dl *d, const char *cc) {
  struct rsp_buf req;
  uint8_t hash[RSP_SMDP_HASH_CC_LEN];
  rsp_buf_init(&req, RESP_MAX);
  struct rsp_smdp_prepare_download_parts parts = {.smdp_signed2 = d->ac.smdp_signed2,
                                                  .smdp_signature2 =
                                                      value_of(d->ac.smdp_signature2),
                                                  .smdp_certificate = d->ac.smdp_certificate};
  if (cc) {
    CHECK_OK(rsp_smdp_hash_cc(rsp_msg_slice(cc, strlen(cc)), d->ia.transaction_id, hash));
    parts.hash_cc = rsp_msg_slice(hash, sizeof hash);
  }
  CHECK_OK(rsp_smdp_prepare_download_request_build(&parts, &req));
  CHECK_OK(rsp_test_card_es10(l->card, req.data, req.len, &d->pdr));
  struct rsp_es9p_json_get_bound_profile_package_req q = {
      .transaction_id = d->ia.transaction_id,
      .prepare_download_response = rsp_msg_slice(d->pdr.data, d->pdr.len)};
  CHECK_EQ(
      call(l->c, l->base, RSP_MSG_JSON_FUNC_ES9P_GET_BOUND_PROFILE_PACKAGE, &q, &d->gb, &d->doc),
      200);
  EXPECT_OK(&d->gb);
  rsp_buf_free(&req);
}

/* Every segment of the BPP to the card; the last answer is the PIR. */
static void lpa_load(struct lpa *l, struct dl *d) {
  struct rsp_slice bpp = d->gb.bound_profile_package;
  size_t n = 0;
  CHECK_ERR(rsp_msg_bpp_split(bpp.p, bpp.len, NULL, 0, &n), RSP_E_BUF_SMALL);
  struct rsp_slice *segs = rsp_calloc(n ? n : 1, sizeof *segs);
  CHECK_OK(rsp_msg_bpp_split(bpp.p, bpp.len, segs, n, &n));
  for (size_t i = 0; i < n; i++) {
    CHECK_OK(rsp_test_card_es10(l->card, segs[i].p, segs[i].len, &d->pir));
    if (i + 1 < n) CHECK_EQ(d->pir.len, 0);
  }
  CHECK(n >= 4 && d->pir.len > 0);
  rsp_free(segs);
}

/* The whole download of an activation code; the card must list `iccid` afterwards. */
static void lpa_download(struct lpa *l, const struct rsp_msg_activation_code *ac, const char *cc,
                         const char *iccid) {
  struct dl d;
  struct rsp_es9p_json_handle_notification_resp nr;
  char listed[256];
  int64_t t0 = now_ms();
  dl_init(&d);
  lpa_authenticate(l, ac, ac->matching_id, &d);
  lpa_authenticate_client(l, &d);
  EXPECT_OK(&d.ac);
  lpa_prepare_and_fetch(l, &d, cc);
  lpa_load(l, &d);
  struct rsp_es9p_json_handle_notification_req q = {.pending_notification =
                                                        rsp_msg_slice(d.pir.data, d.pir.len)};
  CHECK_EQ(call(l->c, l->base, RSP_MSG_JSON_FUNC_ES9P_HANDLE_NOTIFICATION, &q, &nr, &d.doc), 204);
  card_iccids(l->card, listed, sizeof listed);
  if (!strstr(listed, iccid))
    rsp_test_fail(__FILE__, __LINE__, "card lists %s, not %s", listed, iccid);
  printf("# download of %s (%s): %lld ms, BPP %zu bytes\n", iccid, cc ? "with code" : "no code",
         (long long)(now_ms() - t0), d.gb.bound_profile_package.len);
  dl_free(&d);
}

/* ---- the operator's callback receiver -------------------------------------------------------- */

#define MAX_CALLBACKS 32

static struct {
  pthread_mutex_t mu;
  int refuse_first; /* answer 503 to this many POSTs first */
  int received;     /* every POST */
  int accepted;     /* those answered 204 */
  char *bodies[MAX_CALLBACKS];
  size_t lens[MAX_CALLBACKS];
  bool headers_ok, path_ok, client_ok;
} cb = {.mu = PTHREAD_MUTEX_INITIALIZER};

static rsp_err_t cb_handler(void *ctx, const struct rsp_net_request *req,
                            struct rsp_net_response *res) {
  int status = 204;
  (void)ctx;
  pthread_mutex_lock(&cb.mu);
  cb.received++;
  cb.path_ok &= strcmp(req->path, RSP_ES2P_PATH_HANDLE_DOWNLOAD_PROGRESS_INFO) == 0;
  cb.headers_ok &= req->content_type && strcmp(req->content_type, "application/json") == 0 &&
                   req->admin_protocol && strcmp(req->admin_protocol, ADMIN_ANSWERED) == 0;
  cb.client_ok &= req->client_subject != NULL;
  if (cb.refuse_first > 0) {
    cb.refuse_first--;
    status = 503;
  } else if (cb.accepted < MAX_CALLBACKS) {
    cb.bodies[cb.accepted] = rsp_memdup(req->body, req->body_len);
    cb.lens[cb.accepted++] = req->body_len;
  }
  pthread_mutex_unlock(&cb.mu);
  return rsp_net_response_set(res, status, NULL, NULL, 0);
}

static void cb_reset(int refuse_first) {
  pthread_mutex_lock(&cb.mu);
  for (int i = 0; i < cb.accepted; i++) rsp_free(cb.bodies[i]);
  cb.accepted = cb.received = 0;
  cb.refuse_first = refuse_first;
  cb.headers_ok = cb.path_ok = cb.client_ok = true;
  pthread_mutex_unlock(&cb.mu);
}

/* A mutual-TLS server with the PKI's SM-DP+ TLS certificate (CN localhost). */
static struct rsp_net_server *cb_start(const struct pki *tls, char *url, size_t url_size) {
  char cert[700], key[700], ca[700];
  struct rsp_net_server *srv = NULL;
  struct rsp_net_server_options o = {
      .address = "127.0.0.1",
      .cert_file = path_in(tls->dir, "smdp/tls/cert.pem", cert, sizeof cert),
      .key_file = path_in(tls->dir, "smdp/tls/key.pem", key, sizeof key),
      .client_ca_file = path_in(tls->dir, "ci/cert.pem", ca, sizeof ca),
      .require_client_cert = true,
      .log_component = "test-operator",
      .handler = cb_handler};
  cb_reset(1);
  CHECK_OK(rsp_net_server_new(&o, &srv));
  if (srv) CHECK_OK(rsp_net_server_start(srv));
  snprintf(url, url_size, "https://localhost:%u", (unsigned)rsp_net_server_port(srv));
  return srv;
}

/* Waits for `n` accepted callbacks and checks them: (ICCID, notificationPointId) in order, all
 * Executed-Success, from this SM-DP+; the first one came after a refusal (a retry). */
static void cb_expect(const struct smdp *s, const char *const *iccids, const int64_t *points,
                      int n) {
  struct rsp_msg_json_doc doc;
  int64_t end = now_ms() + CALLBACK_TIMEOUT_MS, t0 = now_ms();
  int got = 0;
  while (now_ms() < end) {
    pthread_mutex_lock(&cb.mu);
    got = cb.accepted;
    pthread_mutex_unlock(&cb.mu);
    if (got >= n) break;
    sleep_ms(50);
  }
  printf("# %d callbacks in %lld ms after the last download\n", got, (long long)(now_ms() - t0));
  CHECK_EQ(got, n);
  pthread_mutex_lock(&cb.mu);
  CHECK(cb.headers_ok && cb.path_ok && cb.client_ok);
  CHECK_EQ(cb.received, n + 1); /* the refused first POST, then each once */
  rsp_msg_json_doc_init(&doc);
  for (int i = 0; i < got && i < n; i++) {
    struct rsp_es2p_json_handle_download_progress_info_req q;
    CHECK_OK(rsp_msg_json_decode(&rsp_es2p_json_handle_download_progress_info_req_type,
                                 cb.bodies[i], cb.lens[i], &doc, &q, NULL));
    CHECK_STR(q.header.function_requester_identifier, s->address);
    CHECK_STR(q.iccid, iccids[i]);
    CHECK_STR(q.profile_type, TYPE);
    CHECK_EQ(q.notification_point_id.v, points[i]);
    CHECK_EQ(q.notification_point_status.status, RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS);
  }
  rsp_msg_json_doc_free(&doc);
  pthread_mutex_unlock(&cb.mu);
}

/* ---- the cases ------------------------------------------------------------------------------- */

/* After the restart: what the first run did is in the state file. */
static void check_restart(const struct pki *k, const struct pki *tls, const char *state) {
  struct smdp s;
  struct operator op;
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_download_order_resp dr;
  struct rsp_msg_activation_code ac;
  if (!smdp_start(&s, k, tls, state, NULL)) return;
  CHECK(file_has(s.log, "generated profiles: 0 added, 3 already known"));
  operator_open(&op, &s);
  rsp_msg_json_doc_init(&doc);
  download_order(&op, ICCID_1, NULL, &dr, &doc);
  EXPECT_FAILED(&dr, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_IN_USE);
  /* the pool kept its one remaining profile, and only that one */
  CHECK_STR(order(&op, &s, NULL, NULL, &ac), ICCID_3);
  download_order(&op, NULL, TYPE, &dr, &doc);
  EXPECT_FAILED(&dr, RSP_SMDP_SUBJECT_PROFILE_TYPE, RSP_SMDP_REASON_UNAVAILABLE);
  /* the store itself, read beside the running program */
  struct rsp_smdp_identity *id = NULL;
  struct rsp_smdp_service *svc = NULL;
  struct rsp_smdp_order_info oi;
  CHECK_OK(rsp_smdp_identity_load(k->dir, &id));
  struct rsp_smdp_service_options so = {.db_path = state, .identity = id, .address = s.address};
  CHECK_OK(rsp_smdp_service_open(&so, &svc));
  CHECK_OK(rsp_smdp_service_order_get(svc, ICCID_1, &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
  CHECK_STR(oi.eid, k->eid);
  CHECK_OK(rsp_smdp_service_order_get(svc, ICCID_2, &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
  rsp_smdp_service_destroy(svc);
  rsp_smdp_identity_destroy(id);
  rsp_msg_json_doc_free(&doc);
  rsp_net_client_destroy(op.c);
  smdp_stop(&s);
}

static void end_to_end(struct pki *kp, struct pki *tlsp) {
  const struct pki *k = make_pki(kp), *tls = make_pki(tlsp);
  struct smdp s;
  struct operator op;
  struct lpa l;
  struct rsp_msg_activation_code ac;
  char state[700], url[128];
  static const char *const iccids[] = {ICCID_1, ICCID_1, ICCID_1, ICCID_2, ICCID_2, ICCID_2};
  static const int64_t points[] = {
      RSP_SMDP_POINT_ELIGIBILITY, RSP_SMDP_POINT_BPP_DOWNLOAD, RSP_SMDP_POINT_BPP_INSTALLATION,
      RSP_SMDP_POINT_ELIGIBILITY, RSP_SMDP_POINT_BPP_DOWNLOAD, RSP_SMDP_POINT_BPP_INSTALLATION};
  struct rsp_net_server *receiver = cb_start(tls, url, sizeof url);
  path_in(k->top, "smdp.db", state, sizeof state);
  if (smdp_start(&s, k, tls, state, url)) {
    operator_open(&op, &s);
    lpa_open(&l, &s);
    /* by ICCID, no confirmation code */
    CHECK_STR(order(&op, &s, ICCID_1, NULL, &ac), ICCID_1);
    CHECK_STR(ac.smdp_address, s.address);
    lpa_download(&l, &ac, NULL, ICCID_1);
    /* by profile type, with a confirmation code */
    CHECK_STR(order(&op, &s, NULL, "4711", &ac), ICCID_2);
    lpa_download(&l, &ac, "4711", ICCID_2);
    cb_expect(&s, iccids, points, 6);
    CHECK(file_has(s.log, "getBoundProfilePackage: Executed-Success"));
    lpa_close(&l);
    rsp_net_client_destroy(op.c);
    smdp_stop(&s);
    check_restart(k, tls, state);
  }
  rsp_net_server_destroy(receiver);
  cb_reset(0);
}

static void end_to_end_nist(void) { end_to_end(&pki_nist, &pki_nist); }
/* Brainpool for everything: what the SM-DP+ and the card sign and check, and the TLS
 * certificates (TLS 1.2 with OpenSSL 3.0, which has no brainpool for TLS 1.3). */
static void end_to_end_brp(void) { end_to_end(&pki_brp, &pki_brp); }

/* A raw POST to the program with the given headers; the HTTP status, -1 when refused below HTTP. */
static int raw_post(struct rsp_net_client *c, const char *url, const struct rsp_net_header *h,
                    size_t nh, const void *body, size_t len, rsp_err_t *err) {
  struct rsp_net_client_response res;
  rsp_err_t rc = rsp_net_client_request(c, "POST", url, h, nh, body, len, &res);
  int status = rc == RSP_OK ? res.status : -1;
  if (rc == RSP_OK) CHECK_STR(res.admin_protocol, status == 413 ? "" : ADMIN_ANSWERED);
  if (err) *err = rc;
  rsp_net_client_response_free(&res);
  return status;
}

/* ES2+ refuses clients without a certificate of the operator CA, at the TLS layer. */
static void es2p_tls_refusals(const struct smdp *s) {
  /* an unknown ICCID: answered (Failed), and nothing allocated */
  static const char body[] = "{\"header\":{\"functionRequesterIdentifier\":\"x\","
                             "\"functionCallIdentifier\":\"1\"},\"iccid\":\"8949032000000000999\"}";
  struct rsp_net_client *anon = new_client(s->tls, NULL);
  struct rsp_net_client *stranger = new_client(s->tls, make_pki(&pki_other));
  struct rsp_net_client *op = new_client(s->tls, s->tls);
  char url[128];
  rsp_err_t rc = RSP_OK;
  snprintf(url, sizeof url, "https://localhost:%u%s", (unsigned)s->es2p_port,
           RSP_ES2P_PATH_DOWNLOAD_ORDER);
  CHECK_EQ(raw_post(anon, url, json_headers, 2, body, strlen(body), &rc), -1);
  CHECK(rc == RSP_E_TLS || rc == RSP_E_NET);
  CHECK_EQ(raw_post(stranger, url, json_headers, 2, body, strlen(body), &rc), -1);
  CHECK(rc == RSP_E_TLS || rc == RSP_E_NET);
  CHECK_EQ(raw_post(op, url, json_headers, 2, body, strlen(body), NULL), 200);
  /* and the ES9+ port does not serve ES2+ (nor the reverse) */
  snprintf(url, sizeof url, "https://%s%s", s->address, RSP_ES2P_PATH_DOWNLOAD_ORDER);
  CHECK_EQ(raw_post(anon, url, json_headers, 2, body, strlen(body), NULL), 404);
  snprintf(url, sizeof url, "https://localhost:%u%s", (unsigned)s->es2p_port,
           RSP_ES9P_PATH_INITIATE_AUTHENTICATION);
  CHECK_EQ(raw_post(op, url, json_headers, 2, "{}", 2, NULL), 404);
  rsp_net_client_destroy(anon);
  rsp_net_client_destroy(stranger);
  rsp_net_client_destroy(op);
}

/* Transport rules of the ES9+ server: Content-Type, X-Admin-Protocol, method, body size. */
static void es9p_http_refusals(const struct smdp *s) {
  static const struct rsp_net_header text[] = {{"Content-Type", "text/plain"},
                                               {"X-Admin-Protocol", ADMIN_SENT}};
  static const struct rsp_net_header no_type[] = {{"X-Admin-Protocol", ADMIN_SENT}};
  static const struct rsp_net_header charset[] = {
      {"Content-Type", "application/json;charset=UTF-8"}, {"X-Admin-Protocol", "gsma/rsp/v2.1.0"}};
  static const struct rsp_net_header v3[] = {{"Content-Type", "application/json"},
                                             {"X-Admin-Protocol", "gsma/rsp/v3.0.0"}};
  static const char body[] = "{\"transactionId\":\"00\",\"authenticateServerResponse\":\"\"}";
  struct rsp_net_client *c = new_client(s->tls, NULL);
  struct rsp_net_client_response res;
  char url[128];
  size_t big_len = 2u << 20;
  char *big = rsp_malloc(big_len);
  snprintf(url, sizeof url, "https://%s%s", s->address, RSP_ES9P_PATH_AUTHENTICATE_CLIENT);
  CHECK_EQ(raw_post(c, url, text, 2, body, strlen(body), NULL), 415);
  CHECK_EQ(raw_post(c, url, no_type, 1, body, strlen(body), NULL), 415);
  CHECK_EQ(raw_post(c, url, v3, 2, body, strlen(body), NULL), 400);
  CHECK_EQ(raw_post(c, url, charset, 2, body, strlen(body), NULL), 200); /* Failed, but served */
  if (big) {
    memset(big, ' ', big_len);
    big[0] = '{';
    big[big_len - 1] = '}';
    CHECK_EQ(raw_post(c, url, json_headers, 2, big, big_len, NULL), 413);
  }
  CHECK_OK(rsp_net_client_request(c, "GET", url, json_headers, 2, NULL, 0, &res));
  CHECK_EQ(res.status, 405);
  rsp_net_client_response_free(&res);
  rsp_free(big);
  rsp_net_client_destroy(c);
}

/* Refusals of the service itself, over HTTPS: unknown matchingId, replayed transactionId. */
static void es9p_service_refusals(const struct smdp *s) {
  struct operator op;
  struct lpa l;
  struct dl d;
  struct rsp_msg_activation_code ac;
  operator_open(&op, s);
  lpa_open(&l, s);
  order(&op, s, ICCID_1, NULL, &ac);
  dl_init(&d);
  lpa_authenticate(&l, &ac, "NO-SUCH-ORDER", &d);
  lpa_authenticate_client(&l, &d);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_REFUSED);
  dl_free(&d);
  dl_init(&d);
  lpa_authenticate(&l, &ac, ac.matching_id, &d);
  lpa_authenticate_client(&l, &d);
  EXPECT_OK(&d.ac);
  lpa_authenticate_client(&l, &d); /* the same request again */
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN);
  dl_free(&d);
  lpa_close(&l);
  rsp_net_client_destroy(op.c);
  CHECK(file_has(s->log, "authenticateClient: Failed 8.2.6/3.8"));
  CHECK(file_has(s->log, "authenticateClient: Failed 8.10.1/3.9"));
  CHECK(file_has(s->log, "refused 415"));
}

static void refusals(void) {
  const struct pki *k = make_pki(&pki_nist);
  struct smdp s;
  char state[700];
  path_in(k->top, "refusals.db", state, sizeof state);
  if (!smdp_start(&s, k, k, state, NULL)) return;
  es2p_tls_refusals(&s);
  es9p_http_refusals(&s);
  es9p_service_refusals(&s);
  smdp_stop(&s);
}

/* ---- the LPA on the ASN.1 binding of ES9+ (SGP.22 §6.6) ------------------------------------ */

static const struct rsp_net_header asn1_headers[] = {
    {"Content-Type", RSP_SMDP_ASN1_CONTENT_TYPE},
    {"X-Admin-Protocol", ADMIN_SENT},
};

#define ASN1_OK (-1) /* an Ok alternative, where the helpers return an error value */

/* One download as the ASN.1 LPA sees it: the arena holds the decoded requests, copies of the
 * answers and their decoded forms. */
struct adl {
  struct rsp_arena a;
  struct rsp_buf info, asr, pdr, pir;
  const struct rsp_msg_initiate_authentication_ok_es9 *ia;
  const struct rsp_msg_authenticate_client_ok *ac;
  const struct rsp_msg_get_bound_profile_package_ok *gb;
};

static void adl_init(struct adl *d) {
  memset(d, 0, sizeof *d);
  rsp_arena_init(&d->a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&d->info, RESP_MAX);
  rsp_buf_init(&d->asr, RESP_MAX);
  rsp_buf_init(&d->pdr, RESP_MAX);
  rsp_buf_init(&d->pir, RESP_MAX);
}

static void adl_free(struct adl *d) {
  rsp_arena_free(&d->a);
  rsp_buf_free(&d->info);
  rsp_buf_free(&d->asr);
  rsp_buf_free(&d->pdr);
  rsp_buf_free(&d->pir);
}

/* A card answer as the SGP.22 type the request carries. */
static void *asn1_decode(const struct rsp_msg_type *t, const struct rsp_buf *b,
                         struct rsp_arena *a) {
  void *v = NULL;
  CHECK_OK(rsp_msg_decode(t, b->data, b->len, a, &v, NULL));
  return v;
}

/* POSTs the request to the ASN.1 path of l->base; an answer of 200 must carry the ASN.1 content
 * type and decode as a RemoteProfileProvisioningResponse of alternative `alt` (*out, memory in the
 * arena). Returns the HTTP status. */
static int asn1_call(struct lpa *l, struct adl *d,
                     const struct rsp_msg_remote_profile_provisioning_request *rq, int alt,
                     const struct rsp_msg_remote_profile_provisioning_response **out) {
  struct rsp_msg_remote_profile_provisioning_response *r = NULL;
  struct rsp_net_client_response res;
  struct rsp_buf body;
  char url[400];
  int status = -1;
  *out = NULL;
  rsp_buf_init(&body, RESP_MAX);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_remote_profile_provisioning_request, rq, &body, NULL));
  rsp_err_t rc =
      rsp_net_client_post(l->c, fmt(url, sizeof url, "%s%s", l->base, RSP_SMDP_ASN1_PATH),
                          asn1_headers, 2, body.data, body.len, &res);
  CHECK_OK(rc);
  if (rc == RSP_OK) {
    status = res.status;
    CHECK_STR(res.admin_protocol, ADMIN_ANSWERED);
    if (status == 204) CHECK_EQ(res.body.len, 0);
  }
  if (status == 200) {
    uint8_t *copy = rsp_arena_alloc(&d->a, res.body.len + 1);
    CHECK_STR(res.content_type, RSP_SMDP_ASN1_CONTENT_TYPE);
    if (copy) memcpy(copy, res.body.data, res.body.len);
    CHECK_OK(rsp_msg_decode(&rsp_msgt_remote_profile_provisioning_response, copy, res.body.len,
                            &d->a, (void **)&r, NULL));
    if (r) CHECK_EQ(r->which, alt);
    *out = r && r->which == alt ? r : NULL;
  }
  rsp_net_client_response_free(&res);
  rsp_buf_free(&body);
  return status;
}

#define ASN1_REQUEST(alt, member, value)                                                           \
  ((struct rsp_msg_remote_profile_provisioning_request){                                           \
      .which = RSP_MSG_REMOTE_PROFILE_PROVISIONING_REQUEST_##alt, .u.member = (value)})

/* initiateAuthentication at the activation code's SM-DP+ (which must accept it), then the card's
 * AuthenticateServer with `matching_id`. */
static void asn1_initiate(struct lpa *l, const struct rsp_msg_activation_code *ac,
                          const char *matching_id, struct adl *d) {
  const struct rsp_msg_remote_profile_provisioning_response *r = NULL;
  struct rsp_msg_get_euicc_info1_request iq = {0};
  struct rsp_buf req;
  uint8_t ch[RSP_SMDP_CHALLENGE_LEN];
  rsp_buf_init(&req, RESP_MAX);
  snprintf(l->base, sizeof l->base, "https://%s", ac->smdp_address);
  rsp_test_card_msg(l->card, &rsp_msgt_get_euicc_info1_request, &iq, &d->info);
  rsp_test_card_challenge(l->card, ch);
  struct rsp_msg_initiate_authentication_request q = {
      .euicc_challenge = rsp_msg_slice(ch, sizeof ch),
      .smdp_address = rsp_msg_slice(ac->smdp_address, strlen(ac->smdp_address)),
      .euicc_info1 = asn1_decode(&rsp_msgt_euicc_info1, &d->info, &d->a)};
  struct rsp_msg_remote_profile_provisioning_request rq =
      ASN1_REQUEST(INITIATE_AUTHENTICATION_REQUEST, initiate_authentication_request, &q);
  CHECK_EQ(asn1_call(l, d, &rq,
                     RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_INITIATE_AUTHENTICATION_RESPONSE,
                     &r),
           200);
  if (r && r->u.initiate_authentication_response->which ==
               RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_INITIATE_AUTHENTICATION_OK)
    d->ia = r->u.initiate_authentication_response->u.initiate_authentication_ok;
  CHECK(d->ia != NULL);
  if (d->ia) {
    struct rsp_smdp_authenticate_server_parts parts = {
        .server_signed1 = d->ia->server_signed1->raw,
        .server_signature1 = d->ia->server_signature1,
        .euicc_ci_pk_id = d->ia->euicc_ci_pk_id_to_be_used,
        .server_certificate = d->ia->server_certificate,
        .matching_id = rsp_msg_slice(matching_id, strlen(matching_id))};
    memcpy(parts.tac, TAC, sizeof TAC);
    CHECK_OK(rsp_smdp_authenticate_server_request_build(&parts, &req));
    CHECK_OK(rsp_test_card_es10(l->card, req.data, req.len, &d->asr));
  }
  rsp_buf_free(&req);
}

/* authenticateClient: ASN1_OK (d->ac set) or the error value. */
static int64_t asn1_authenticate_client(struct lpa *l, struct adl *d) {
  const struct rsp_msg_remote_profile_provisioning_response *r = NULL;
  struct rsp_msg_authenticate_client_request q = {
      .transaction_id = d->ia ? d->ia->transaction_id : rsp_msg_slice(NULL, 0),
      .authenticate_server_response =
          asn1_decode(&rsp_msgt_authenticate_server_response, &d->asr, &d->a)};
  struct rsp_msg_remote_profile_provisioning_request rq =
      ASN1_REQUEST(AUTHENTICATE_CLIENT_REQUEST, authenticate_client_request, &q);
  CHECK_EQ(asn1_call(l, d, &rq,
                     RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_AUTHENTICATE_CLIENT_RESPONSE_ES9,
                     &r),
           200);
  const struct rsp_msg_authenticate_client_response_es9 *x =
      r ? r->u.authenticate_client_response_es9 : NULL;
  if (!x) return -2;
  if (x->which == RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ES9_AUTHENTICATE_CLIENT_ERROR)
    return x->u.authenticate_client_error;
  d->ac = x->u.authenticate_client_ok;
  return ASN1_OK;
}

/* PrepareDownload (with the code the user typed, or none) and getBoundProfilePackage. */
static void asn1_prepare_and_fetch(struct lpa *l, struct adl *d, const char *cc) {
  const struct rsp_msg_remote_profile_provisioning_response *r = NULL;
  struct rsp_buf req;
  uint8_t hash[RSP_SMDP_HASH_CC_LEN];
  rsp_buf_init(&req, RESP_MAX);
  struct rsp_smdp_prepare_download_parts parts = {.smdp_signed2 = d->ac->smdp_signed2->raw,
                                                  .smdp_signature2 = d->ac->smdp_signature2,
                                                  .smdp_certificate = d->ac->smdp_certificate};
  if (cc) {
    CHECK_OK(rsp_smdp_hash_cc(rsp_msg_slice(cc, strlen(cc)), d->ia->transaction_id, hash));
    parts.hash_cc = rsp_msg_slice(hash, sizeof hash);
  }
  CHECK_OK(rsp_smdp_prepare_download_request_build(&parts, &req));
  CHECK_OK(rsp_test_card_es10(l->card, req.data, req.len, &d->pdr));
  struct rsp_msg_get_bound_profile_package_request q = {
      .transaction_id = d->ia->transaction_id,
      .prepare_download_response =
          asn1_decode(&rsp_msgt_prepare_download_response, &d->pdr, &d->a)};
  struct rsp_msg_remote_profile_provisioning_request rq =
      ASN1_REQUEST(GET_BOUND_PROFILE_PACKAGE_REQUEST, get_bound_profile_package_request, &q);
  CHECK_EQ(asn1_call(
               l, d, &rq,
               RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_GET_BOUND_PROFILE_PACKAGE_RESPONSE, &r),
           200);
  if (r && r->u.get_bound_profile_package_response->which ==
               RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_GET_BOUND_PROFILE_PACKAGE_OK)
    d->gb = r->u.get_bound_profile_package_response->u.get_bound_profile_package_ok;
  CHECK(d->gb != NULL);
  rsp_buf_free(&req);
}

/* Every segment of the BPP to the card, then the PIR to handleNotification (204, no body). */
static void asn1_load_and_notify(struct lpa *l, struct adl *d) {
  const struct rsp_msg_remote_profile_provisioning_response *r = NULL;
  struct rsp_slice bpp = d->gb->bound_profile_package->raw;
  size_t n = 0;
  CHECK_ERR(rsp_msg_bpp_split(bpp.p, bpp.len, NULL, 0, &n), RSP_E_BUF_SMALL);
  struct rsp_slice *segs = rsp_calloc(n ? n : 1, sizeof *segs);
  CHECK_OK(rsp_msg_bpp_split(bpp.p, bpp.len, segs, n, &n));
  for (size_t i = 0; i < n; i++) {
    CHECK_OK(rsp_test_card_es10(l->card, segs[i].p, segs[i].len, &d->pir));
    if (i + 1 < n) CHECK_EQ(d->pir.len, 0);
  }
  CHECK(n >= 4 && d->pir.len > 0);
  rsp_free(segs);
  struct rsp_msg_pending_notification pn = {
      .which = RSP_MSG_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT,
      .u.profile_installation_result =
          asn1_decode(&rsp_msgt_profile_installation_result, &d->pir, &d->a)};
  struct rsp_msg_handle_notification q = {.pending_notification = &pn};
  struct rsp_msg_remote_profile_provisioning_request rq =
      ASN1_REQUEST(HANDLE_NOTIFICATION, handle_notification, &q);
  CHECK_EQ(asn1_call(l, d, &rq, RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_NONE, &r), 204);
}

/* The whole download of an activation code on /gsma/rsp2/asn1; the card must list `iccid`. */
static void asn1_download(struct lpa *l, const struct rsp_msg_activation_code *ac, const char *cc,
                          const char *iccid) {
  struct adl d;
  char listed[256];
  int64_t t0 = now_ms();
  adl_init(&d);
  asn1_initiate(l, ac, ac->matching_id, &d);
  CHECK_EQ(asn1_authenticate_client(l, &d), ASN1_OK);
  if (d.ac) asn1_prepare_and_fetch(l, &d, cc);
  if (d.gb) asn1_load_and_notify(l, &d);
  card_iccids(l->card, listed, sizeof listed);
  if (!strstr(listed, iccid))
    rsp_test_fail(__FILE__, __LINE__, "card lists %s, not %s", listed, iccid);
  printf("# ASN.1 download of %s (%s): %lld ms, BPP %zu bytes\n", iccid,
         cc ? "with code" : "no code", (long long)(now_ms() - t0),
         d.gb ? d.gb->bound_profile_package->raw.len : 0);
  adl_free(&d);
}

/* The binding's transport rules and a refusal as its error INTEGER: not on the ES2+ port, 415 for
 * JSON, 400 for a body that is no RemoteProfileProvisioningRequest, an unknown matchingId. */
static void asn1_refusals(const struct smdp *s, struct operator* op, struct lpa *l) {
  static const uint8_t junk[] = {0xA2, 0x02, 0x85, 0x00};
  struct rsp_msg_activation_code ac;
  struct adl d;
  char url[128];
  fmt(url, sizeof url, "https://localhost:%u%s", (unsigned)s->es2p_port, RSP_SMDP_ASN1_PATH);
  CHECK_EQ(raw_post(op->c, url, asn1_headers, 2, junk, sizeof junk, NULL), 404);
  fmt(url, sizeof url, "https://%s%s", s->address, RSP_SMDP_ASN1_PATH);
  CHECK_EQ(raw_post(l->c, url, json_headers, 2, junk, sizeof junk, NULL), 415);
  CHECK_EQ(raw_post(l->c, url, asn1_headers, 2, junk, sizeof junk, NULL), 400);
  order(op, s, ICCID_3, NULL, &ac);
  adl_init(&d);
  asn1_initiate(l, &ac, "NO-SUCH-ORDER", &d);
  CHECK_EQ(asn1_authenticate_client(l, &d),
           RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ES9_AUTHENTICATE_CLIENT_ERROR_MATCHING_ID_REFUSED);
  adl_free(&d);
}

static void asn1_end_to_end(struct pki *kp) {
  const struct pki *k = make_pki(kp);
  struct smdp s;
  struct operator op;
  struct lpa l;
  struct rsp_msg_activation_code ac;
  char state[700];
  if (!smdp_start(&s, k, k, path_in(k->top, "asn1.db", state, sizeof state), NULL)) return;
  operator_open(&op, &s);
  lpa_open(&l, &s);
  CHECK_STR(order(&op, &s, ICCID_1, NULL, &ac), ICCID_1);
  asn1_download(&l, &ac, NULL, ICCID_1);
  CHECK_STR(order(&op, &s, ICCID_2, "4711", &ac), ICCID_2);
  asn1_download(&l, &ac, "4711", ICCID_2);
  asn1_refusals(&s, &op, &l);
  lpa_close(&l);
  rsp_net_client_destroy(op.c);
  CHECK(file_has(s.log, "initiateAuthenticationRequest: initiateAuthenticationOk"));
  CHECK(file_has(s.log, "getBoundProfilePackageRequest: getBoundProfilePackageOk"));
  CHECK(file_has(s.log, "handleNotification: HTTP 204"));
  CHECK(file_has(s.log, "authenticateClientRequest: authenticateClientError 6"));
  CHECK(file_has(s.log, "refused 415: Content-Type must be " RSP_SMDP_ASN1_CONTENT_TYPE));
  smdp_stop(&s);
}

/* The download through the ASN.1 binding of ES9+, on both curves. */
static void end_to_end_asn1(void) {
  asn1_end_to_end(&pki_nist);
  asn1_end_to_end(&pki_brp);
}

/* --help, usage errors, profile new / profile info. */
static void command_line(void) {
  const char *dir = rsp_test_tmpdir("smdp_cli");
  char cmd[4096], out[700], der[700];
  path_in(dir, "out.txt", out, sizeof out);
  path_in(dir, "p.der", der, sizeof der);
  fmt(cmd, sizeof cmd, "'%s' --help >'%s'", rsp_smdp_bin, out);
  CHECK_EQ(system(cmd), 0);
  CHECK(file_has(out, "--operator-url URL"));
  fmt(cmd, sizeof cmd, "'%s' serve --state x.db 2>'%s'", rsp_smdp_bin, out);
  CHECK_EQ(WEXITSTATUS(system(cmd)), 2);
  CHECK(file_has(out, "--pki DIR"));
  fmt(cmd, sizeof cmd, "'%s' profile new --iccid 12 --imsi 001010 --out '%s' 2>/dev/null",
      rsp_smdp_bin, der);
  CHECK_EQ(WEXITSTATUS(system(cmd)), 2);
  fmt(cmd, sizeof cmd,
      "'%s' profile new --iccid 8949032000000000994 --imsi 001010000000994 --out '%s' "
      ">/dev/null && '%s' profile info --json '%s' >'%s'",
      rsp_smdp_bin, der, rsp_smdp_bin, der, out);
  CHECK_EQ(system(cmd), 0);
  CHECK(file_has(out, "\"iccid\": \"8949032000000000994\""));
  CHECK(file_has(out, "\"profileType\": \"" TYPE "\""));
  fmt(cmd, sizeof cmd, "'%s' profile info '%s' 2>/dev/null", rsp_smdp_bin, out);
  CHECK_EQ(WEXITSTATUS(system(cmd)), 1);
  fmt(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* rsp-smdp serving with the brainpoolP256r1 TLS certificate of a brp PKI, reached by the lib/net
 * client (which must offer brainpoolP256r1 in supported_groups, else the handshake fails). */
static void brainpool_tls(void) {
  const struct pki *k = make_pki(&pki_brp);
  struct smdp s;
  struct rsp_net_client_response res;
  char state[700], url[128];
  int64_t end = now_ms() + READY_TIMEOUT_MS;
  if (!smdp_start_ex(&s, k, k, path_in(k->top, "brainpool_tls.db", state, sizeof state), NULL,
                     false))
    return;
  while (!file_has(s.log, "es2p-http: listening") && now_ms() < end) sleep_ms(50);
  struct rsp_net_client *c = new_client(k, NULL);
  rsp_err_t rc = rsp_net_client_post(c, fmt(url, sizeof url, "https://%s/", s.address),
                                     json_headers, 2, "{}", 2, &res);
  if (rc != RSP_OK) printf("# %s: %s\n", rsp_err_name(rc), res.error);
  CHECK_OK(rc);
  CHECK_EQ(res.status, 404);
  rsp_net_client_response_free(&res);
  rsp_net_client_destroy(c);
  smdp_stop(&s);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(end_to_end_nist), T(end_to_end_brp),
                                               T(refusals),        T(command_line),
                                               T(brainpool_tls),   T(end_to_end_asn1)};
  struct pki *pkis[] = {&pki_nist, &pki_brp, &pki_other};
  char cmd[1200];
  int rc;
  if (argc < 3) {
    fprintf(stderr, "usage: test_smdp_https RSP_PKI_BINARY RSP_SMDP_BINARY [case]\n");
    return 2;
  }
  rsp_pki_bin = argv[1];
  rsp_smdp_bin = argv[2];
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  rc = rsp_test_main(argc - 2, argv + 2, cases, sizeof cases / sizeof cases[0]);
  /* the directories of a failed run stay, for their logs */
  for (size_t i = 0; rc == 0 && i < sizeof pkis / sizeof pkis[0]; i++) {
    if (!pkis[i]->top[0]) continue;
    fmt(cmd, sizeof cmd, "rm -rf '%s'", pkis[i]->top);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", pkis[i]->top);
  }
  return rc;
}
