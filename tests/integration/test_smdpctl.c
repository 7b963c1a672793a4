/* rsp-smdpctl (the operator's ES2+ command line) against rsp-smdp serve with --batch profiles,
 * every part a real process on 127.0.0.1 (argv: rsp-pki, rsp-smdp, rsp-smdpctl).
 *
 * rsp-smdp runs with four batches of generated profiles (types operator-a ... operator-d, two
 * with a service provider name); the test runs rsp-smdpctl as the operator, with the ES2+ URL,
 * client certificate and CA from its environment variables.
 *
 * Cases: an --eids-file of 3 EIDs ordered by profile type with --default-smdp (one line per EID,
 * the ICCIDs from the right batch, activation codes without matchingId, one connection for all
 * six requests), and the device of one of them (software eUICC in-process under the IPA core, ES9+
 * over HTTPS) downloads its profile without matchingId and shows the batch's service provider
 * name and profile name; the batch exhausted: the next order fails (exit 1, 8.2.5/3.7). The same
 * list with matchingIds made by the SM-DP+, one downloaded with its activation code; --json
 * output, also with a failed order in it. confirm, cancel and release, --no-release and
 * --no-confirm, a refused ConfirmOrder undone. Refusals: a client certificate of a foreign CA, no
 * key, a key file that is not there, a server CA that is not the SM-DP+'s. Usage errors of both
 * programs (exit 2). A restart of rsp-smdp on the same state skips the known ICCIDs and keeps the
 * orders. */
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "proc.h"
#include "rsp/core/arena.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/drivers/https.h"
#include "rsp/euicc/euicc.h"
#include "rsp/ipa/download.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/msg.h"
#include "test.h"

#define N_EIDS 3
#define OUT_MAX 65536

/* The batches: COUNT, ICCID base (18 digits: ICCIDs of 19 with the Luhn digit), IMSI base,
 * type, service provider name. */
struct batch {
  int count;
  const char *iccid_base, *imsi_base, *type, *spn;
};
static const struct batch batches[] = {
    {3, "894903200000000100", "001010000001000", "operator-a", "Operator A"},
    {4, "894903200000000200", "001010000002000", "operator-b", "Operator B"},
    {1, "894903200000000300", "001010000003000", "operator-c", NULL},
    {2, "894903200000000400", "001010000004000", "operator-d", NULL},
};
#define N_BATCHES (sizeof batches / sizeof batches[0])

static const char *pki_bin, *smdp_bin, *ctl_bin;
static char top[512], pki[600], other[600], eids[N_EIDS][RSP_EID_DIGITS + 1];
static char eids_file[700], address[64];
static unsigned es9_port, es2_port;
static pid_t smdp_pid = -1;
static bool ready;

/* ---- helpers --------------------------------------------------------------------------------- */

static char *fmt(char *buf, size_t size, const char *format, ...) RSP_PRINTF(3, 4);
static char *fmt(char *buf, size_t size, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  vsnprintf(buf, size, format, ap);
  va_end(ap);
  return buf;
}

static void show_log(void) {
  char cmd[800];
  if (system(fmt(cmd, sizeof cmd, "tail -n 30 '%s/smdp.log' >&2", top)) != 0)
    fprintf(stderr, "(no smdp.log)\n");
}

/* The file's last size - 1 bytes (logs grow over the whole test). */
static void read_text(const char *path, char *out, size_t size) {
  FILE *f = fopen(path, "rb");
  if (f && fseek(f, 0, SEEK_END) == 0) {
    long len = ftell(f);
    if (len > (long)(size - 1))
      fseek(f, len - (long)(size - 1), SEEK_SET);
    else
      rewind(f);
  }
  size_t n = f ? fread(out, 1, size - 1, f) : 0;
  out[n] = '\0';
  if (f) fclose(f);
}

/* The ICCID of profile i of a batch: base + i and the Luhn digit (ITU-T E.118). */
static void batch_iccid(const struct batch *b, int i, char out[21]) {
  unsigned long long v = strtoull(b->iccid_base, NULL, 10) + (unsigned long long)i;
  int sum = 0;
  snprintf(out, 21, "%0*llu", (int)strlen(b->iccid_base), v);
  bool twice = true;
  for (size_t k = strlen(out); k-- > 0; twice = !twice) {
    int d = (out[k] - '0') * (twice ? 2 : 1);
    sum += d > 9 ? d - 9 : d;
  }
  size_t n = strlen(out);
  out[n] = (char)('0' + (10 - sum % 10) % 10);
  out[n + 1] = '\0';
}

/* The index of `iccid` in the batch, -1 when it is none of its profiles. */
static int batch_index(const struct batch *b, const char *iccid) {
  char want[21];
  for (int i = 0; i < b->count; i++) {
    batch_iccid(b, i, want);
    if (strcmp(want, iccid) == 0) return i;
  }
  return -1;
}

/* One run of rsp-smdpctl through the shell: its exit code, stdout and stderr. */
struct run {
  int code;
  char out[OUT_MAX], err[OUT_MAX];
};

static struct run *ctl(struct run *r, const char *args, ...) RSP_PRINTF(2, 3);
static struct run *ctl(struct run *r, const char *args, ...) {
  char line[2048], cmd[4096], out_path[700], err_path[700];
  va_list ap;
  va_start(ap, args);
  vsnprintf(line, sizeof line, args, ap);
  va_end(ap);
  fmt(out_path, sizeof out_path, "%s/ctl.out", top);
  fmt(err_path, sizeof err_path, "%s/ctl.err", top);
  fmt(cmd, sizeof cmd, "%s >'%s' 2>'%s'", line, out_path, err_path);
  int st = system(cmd);
  r->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  read_text(out_path, r->out, sizeof r->out);
  read_text(err_path, r->err, sizeof r->err);
  return r;
}

static void dump(const char *what, const struct run *r) {
  fprintf(stderr, "# %s: exit %d\n# stdout:\n%s# stderr:\n%s", what, r->code, r->out, r->err);
}

#define CHECK_RUN(r, want)                                                                         \
  do {                                                                                             \
    CHECK_EQ((r)->code, (want));                                                                   \
    if ((r)->code != (want)) dump(#r, (r));                                                        \
  } while (0)

/* Splits the output into lines "EID ICCID AC" (at most `max`); returns how many. */
static size_t parse_lines(char *out, char fields[][3][300], size_t max) {
  size_t n = 0;
  for (char *save = NULL, *l = strtok_r(out, "\n", &save); l && n < max;
       l = strtok_r(NULL, "\n", &save), n++)
    if (sscanf(l, "%299s %299s %299s", fields[n][0], fields[n][1], fields[n][2]) != 3)
      fields[n][0][0] = '\0';
  return n;
}

/* ---- the processes --------------------------------------------------------------------------- */

static void start_smdp(void) {
  char state[700], log[700], es9[32], es2[32], bv[N_BATCHES][256];
  char *argv[32];
  int k = 0;
  fmt(state, sizeof state, "%s/smdp.db", top);
  fmt(log, sizeof log, "%s/smdp.log", top);
  fmt(es9, sizeof es9, "127.0.0.1:%u", es9_port);
  fmt(es2, sizeof es2, "127.0.0.1:%u", es2_port);
  argv[k++] = (char *)smdp_bin;
  argv[k++] = "serve";
  argv[k++] = "--pki";
  argv[k++] = pki;
  argv[k++] = "--state";
  argv[k++] = state;
  argv[k++] = "--listen";
  argv[k++] = es9;
  argv[k++] = "--es2-listen";
  argv[k++] = es2;
  argv[k++] = "--address";
  argv[k++] = address;
  for (size_t i = 0; i < N_BATCHES; i++) {
    const struct batch *b = &batches[i];
    fmt(bv[i], sizeof bv[i], "%d:%s:%s:%s%s%s", b->count, b->iccid_base, b->imsi_base, b->type,
        b->spn ? ":" : "", b->spn ? b->spn : "");
    argv[k++] = "--batch";
    argv[k++] = bv[i];
  }
  argv[k] = NULL;
  smdp_pid = rsp_test_spawn(argv, log);
  CHECK(rsp_test_wait_port(es9_port, 20000) && rsp_test_wait_port(es2_port, 20000));
}

static void stop_smdp(void) {
  if (smdp_pid <= 0) return;
  int st = rsp_test_stop(smdp_pid, SIGTERM);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  smdp_pid = -1;
}

static bool setup(void) {
  char cmd[2048], line[64], path[700];
  if (ready) return true;
  snprintf(top, sizeof top, "%s", rsp_test_tmpdir("smdpctl"));
  fmt(pki, sizeof pki, "%s/pki", top);
  fmt(other, sizeof other, "%s/other", top);
  if (system(fmt(cmd, sizeof cmd,
                 "'%s' create --dir '%s' --eid-range 890490320000000000000000000900:%d "
                 ">/dev/null && '%s' create --dir '%s' >/dev/null",
                 pki_bin, pki, N_EIDS, pki_bin, other)) != 0) {
    rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
    return false;
  }
  FILE *f = popen(fmt(cmd, sizeof cmd, "ls '%s/euicc' | sort", pki), "r");
  for (int i = 0; f && i < N_EIDS && fgets(line, sizeof line, f); i++)
    snprintf(eids[i], sizeof eids[i], "%.32s", line);
  if (f) pclose(f);
  /* the list the operator orders for, with a comment and a blank line */
  fmt(eids_file, sizeof eids_file, "%s/eids.txt", top);
  f = fopen(eids_file, "w");
  if (!f) return false;
  fprintf(f, "# fleet of operator A\n%s\n\n  %s  # second device\n%s\n", eids[0], eids[1], eids[2]);
  fclose(f);
  es9_port = rsp_test_free_port();
  do es2_port = rsp_test_free_port();
  while (es2_port == es9_port);
  fmt(address, sizeof address, "localhost:%u", es9_port);
  fmt(cmd, sizeof cmd, "https://localhost:%u", es2_port);
  setenv("RSP_SMDP_ES2_URL", cmd, 1);
  setenv("RSP_SMDP_CERT", fmt(path, sizeof path, "%s/eim/tls/cert.pem", pki), 1);
  setenv("RSP_SMDP_KEY", fmt(path, sizeof path, "%s/eim/tls/key.pem", pki), 1);
  setenv("RSP_SMDP_CA", fmt(path, sizeof path, "%s/ci/cert.pem", pki), 1);
  start_smdp();
  ready = rsp_test_failures == 0;
  return ready;
}

/* ---- the device ------------------------------------------------------------------------------ */

/* Downloads a profile onto the card of `eid` (ES9+ over HTTPS to the SM-DP+; matching_id NULL:
 * none, as a device at its default SM-DP+ address) and checks the ICCID and the metadata the
 * card shows for it. */
static void device_download(const char *eid, const char *matching_id, const char *iccid,
                            const char *spn, const char *name) {
  struct rsp_euicc *card = NULL;
  struct rsp_es9_https *es9 = NULL;
  struct rsp_apdu apdu;
  struct rsp_ipa ipa;
  struct rsp_ipa_download_result r;
  struct rsp_buf resp;
  struct rsp_arena a;
  struct rsp_msg_profile_info_list_response *list = NULL;
  char ca[700], got[RSP_ICCID_MAX_DIGITS + 1];
  static const uint8_t all_profiles[] = {0xBF, 0x2D, 0x00}; /* ProfileInfoListRequest {} */
  struct rsp_euicc_options eo = {.pki_dir = pki, .eid = eid};
  struct rsp_es9_https_options ho = {.ca_file = fmt(ca, sizeof ca, "%s/ci/cert.pem", pki),
                                     .timeout_ms = 20000};
  rsp_ipa_download_result_init(&r);
  rsp_buf_init(&resp, 1 << 16);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_euicc_open(&eo, &card));
  CHECK_OK(rsp_es9_https_new(&ho, &es9));
  if (!card || !es9) goto out;
  rsp_apdu_inproc_init(&apdu, card);
  rsp_ipa_init(&ipa, &apdu, NULL, NULL);
  struct rsp_ipa_download_params p = {.smdp_address = address, .matching_id = matching_id};
  CHECK_OK(rsp_ipa_download(&ipa, &rsp_es9_https_ops, es9, &p, &r));
  CHECK(r.installed);
  if (!r.installed) {
    fprintf(stderr, "# download failed at %s\n", r.failed_step ? r.failed_step : "?");
    show_log();
    goto out;
  }
  CHECK(r.has_iccid && rsp_iccid_decode(r.iccid, got) == RSP_OK && strcmp(got, iccid) == 0);
  /* the profile metadata the card keeps: the batch's names */
  CHECK_OK(rsp_euicc_es10(card, all_profiles, sizeof all_profiles, &resp));
  CHECK_OK(rsp_msg_decode(&rsp_msgt_profile_info_list_response, resp.data, resp.len, &a,
                          (void **)&list, NULL));
  CHECK(list && list->which == RSP_MSG_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK &&
        list->u.profile_info_list_ok->n == 1);
  if (list && list->which == RSP_MSG_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK &&
      list->u.profile_info_list_ok->n == 1) {
    const struct rsp_msg_profile_info *pi = &list->u.profile_info_list_ok->v[0];
    CHECK(pi->service_provider_name.len == strlen(spn) &&
          memcmp(pi->service_provider_name.p, spn, strlen(spn)) == 0);
    CHECK(pi->profile_name.len == strlen(name) &&
          memcmp(pi->profile_name.p, name, strlen(name)) == 0);
  }
out:
  rsp_arena_free(&a);
  rsp_buf_free(&resp);
  rsp_ipa_download_result_free(&r);
  rsp_es9_https_free(es9);
  rsp_euicc_destroy(card);
}

/* ---- cases ----------------------------------------------------------------------------------- */

/* --eids-file with --default-smdp: one line per EID, no matchingId, one connection; a device
 * downloads through its default SM-DP+ address; the batch is then exhausted. */
static void default_smdp(void) {
  static struct run r;
  char lines[8][3][300], ac[128];
  bool used[3] = {false, false, false};
  if (!setup()) return;
  ctl(&r, "'%s' order --eids-file '%s' --profile-type operator-a --default-smdp", ctl_bin,
      eids_file);
  CHECK_RUN(&r, 0);
  CHECK(strstr(r.err, "3 orders: 3 placed, 0 failed") != NULL);
  CHECK(strstr(r.err, "(6 requests over 1 connection)") != NULL); /* keep-alive */
  size_t n = parse_lines(r.out, lines, 8);
  CHECK_EQ(n, N_EIDS);
  fmt(ac, sizeof ac, "1$%s$", address);
  for (size_t i = 0; i < n && i < N_EIDS; i++) {
    int k = batch_index(&batches[0], lines[i][1]);
    CHECK_STR(lines[i][0], eids[i]); /* in the file's order */
    CHECK(k >= 0 && !used[k]);       /* from batch operator-a, each once */
    if (k >= 0) used[k] = true;
    CHECK_STR(lines[i][2], ac);
  }
  /* the second device finds its order by its EID alone */
  if (n == N_EIDS) device_download(eids[1], NULL, lines[1][1], "Operator A", "operator-a");
  /* no operator-a profile left */
  ctl(&r, "'%s' order --eid %s --profile-type operator-a --default-smdp", ctl_bin, eids[0]);
  CHECK_RUN(&r, 1);
  CHECK(r.out[0] == '\0');
  CHECK(strstr(r.err, eids[0]) && strstr(r.err, "downloadOrder refused: 8.2.5/3.7") &&
        strstr(r.err, "no profile of type operator-a available"));
}

/* The same list with matchingIds made by the SM-DP+, then --json with one order too many. */
static void matching_ids(void) {
  static struct run r;
  char lines[8][3][300], prefix[128];
  if (!setup()) return;
  ctl(&r, "'%s' order --eids-file '%s' --profile-type operator-b", ctl_bin, eids_file);
  CHECK_RUN(&r, 0);
  size_t n = parse_lines(r.out, lines, 8);
  CHECK_EQ(n, N_EIDS);
  fmt(prefix, sizeof prefix, "1$%s$", address);
  for (size_t i = 0; i < n && i < N_EIDS; i++) {
    CHECK_STR(lines[i][0], eids[i]);
    CHECK(batch_index(&batches[1], lines[i][1]) >= 0);
    CHECK(strncmp(lines[i][2], prefix, strlen(prefix)) == 0 &&
          strlen(lines[i][2]) > strlen(prefix));
    for (size_t k = 0; k < i; k++) CHECK(strcmp(lines[i][2], lines[k][2]) != 0);
  }
  /* the third device uses its activation code's matchingId */
  if (n == N_EIDS)
    device_download(eids[2], lines[2][2] + strlen(prefix), lines[2][1], "Operator B", "operator-b");
  /* JSON: the last operator-b profile, then none left */
  ctl(&r, "'%s' --json order --count 2 --profile-type operator-b", ctl_bin);
  CHECK_RUN(&r, 1);
  json_error_t err;
  json_t *j = json_loads(r.out, 0, &err);
  CHECK(json_is_array(j) && json_array_size(j) == 2);
  json_t *ok = json_array_get(j, 0), *bad = json_array_get(j, 1);
  const char *mid = json_string_value(json_object_get(ok, "matchingId"));
  const char *iccid = json_string_value(json_object_get(ok, "iccid"));
  const char *code = json_string_value(json_object_get(ok, "activationCode"));
  char want[600];
  CHECK(json_is_null(json_object_get(ok, "eid")));
  CHECK(iccid && batch_index(&batches[1], iccid) == 3);
  CHECK(mid && code && strcmp(code, fmt(want, sizeof want, "1$%s$%s", address, mid)) == 0);
  CHECK(json_is_true(json_object_get(ok, "released")));
  CHECK_STR(json_string_value(json_object_get(ok, "smdpAddress")), address);
  json_t *e = json_object_get(bad, "error");
  CHECK_STR(json_string_value(json_object_get(e, "function")), "downloadOrder");
  CHECK_STR(json_string_value(json_object_get(e, "subjectCode")), "8.2.5");
  CHECK_STR(json_string_value(json_object_get(e, "reasonCode")), "3.7");
  CHECK(json_object_get(bad, "matchingId") == NULL);
  json_decref(j);
  CHECK(strstr(r.err, "order 2 of 2: downloadOrder refused: 8.2.5/3.7") != NULL);
}

/* An order held back (--no-release) and released; cancel; --no-confirm then confirm; an
 * Unavailable cancel takes the profile out of the pool. */
static void lifecycle(void) {
  static struct run r;
  char lines[4][3][300], iccid[21], want[300];
  if (!setup()) return;
  batch_iccid(&batches[2], 0, iccid);
  ctl(&r, "'%s' order --eid %s --profile-type operator-c --matching-id LIFE-1 --no-release",
      ctl_bin, eids[0]);
  CHECK_RUN(&r, 0);
  CHECK_EQ(parse_lines(r.out, lines, 4), 1);
  CHECK_STR(lines[0][0], eids[0]);
  CHECK_STR(lines[0][1], iccid);
  CHECK_STR(lines[0][2], fmt(want, sizeof want, "1$%s$LIFE-1", address));
  ctl(&r, "'%s' release --iccid %s", ctl_bin, iccid);
  CHECK_RUN(&r, 0);
  CHECK_STR(r.out, fmt(want, sizeof want, "%s released\n", iccid));
  ctl(&r, "'%s' release --iccid %s", ctl_bin, iccid); /* released already */
  CHECK_RUN(&r, 1);
  CHECK(strstr(r.err, "releaseProfile refused: 8.2.1/3.5") != NULL);
  ctl(&r, "'%s' cancel --iccid %s --matching-id LIFE-2", ctl_bin, iccid); /* not its matchingId */
  CHECK_RUN(&r, 1);
  CHECK(strstr(r.err, "cancelOrder refused: 8.2.6/3.10") != NULL);
  ctl(&r, "'%s' cancel --iccid %s --eid %s --matching-id LIFE-1", ctl_bin, iccid, eids[0]);
  CHECK_RUN(&r, 0);
  CHECK_STR(r.out, fmt(want, sizeof want, "%s cancelled, profile Available\n", iccid));
  /* a matchingId is never used twice: ConfirmOrder refused, the order is cancelled again */
  ctl(&r, "'%s' order --iccid %s --matching-id LIFE-1", ctl_bin, iccid);
  CHECK_RUN(&r, 1);
  CHECK(r.out[0] == '\0' && strstr(r.err, "confirmOrder refused: 8.2.6/3.3") &&
        strstr(r.err, "order cancelled"));
  /* Available again: DownloadOrder alone, then ConfirmOrder */
  ctl(&r, "'%s' order --iccid %s --no-confirm", ctl_bin, iccid);
  CHECK_RUN(&r, 0);
  CHECK_STR(r.out, fmt(want, sizeof want, "- %s -\n", iccid));
  ctl(&r, "'%s' confirm --iccid %s --eid %s --default-smdp --json", ctl_bin, iccid, eids[1]);
  CHECK_RUN(&r, 0);
  json_t *j = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(j, "eid")), eids[1]);
  CHECK_STR(json_string_value(json_object_get(j, "matchingId")), "");
  CHECK_STR(json_string_value(json_object_get(j, "activationCode")),
            fmt(want, sizeof want, "1$%s$", address));
  json_decref(j);
  ctl(&r, "'%s' cancel --iccid %s --final-status Unavailable --json", ctl_bin, iccid);
  CHECK_RUN(&r, 0);
  j = json_loads(r.out, 0, NULL);
  CHECK(json_is_true(json_object_get(j, "cancelled")));
  CHECK_STR(json_string_value(json_object_get(j, "finalProfileStatusIndicator")), "Unavailable");
  json_decref(j);
  ctl(&r, "'%s' order --profile-type operator-c", ctl_bin);
  CHECK_RUN(&r, 1);
  CHECK(strstr(r.err, "8.2.5/3.7") != NULL);
}

/* The SM-DP+ refuses a foreign client certificate; missing key material never gets that far;
 * the SM-DP+'s certificate must chain to --ca. No order is placed by any of them. */
static void refusals(void) {
  static struct run r;
  char c1[700], k1[700], ca[700];
  if (!setup()) return;
  fmt(c1, sizeof c1, "%s/eim/tls/cert.pem", other);
  fmt(k1, sizeof k1, "%s/eim/tls/key.pem", other);
  ctl(&r, "'%s' order --cert '%s' --key '%s' --count 1 --profile-type operator-d", ctl_bin, c1, k1);
  CHECK_RUN(&r, 1);
  CHECK(r.out[0] == '\0' && strstr(r.err, "client certificate") != NULL);
  ctl(&r, "env -u RSP_SMDP_KEY '%s' order --count 1 --profile-type operator-d", ctl_bin);
  CHECK_RUN(&r, 2);
  CHECK(strstr(r.err, "--key") != NULL);
  ctl(&r, "'%s' order --key '%s/none.pem' --count 1 --profile-type operator-d", ctl_bin, top);
  CHECK_RUN(&r, 1);
  CHECK(strstr(r.err, "none.pem") && strstr(r.err, "No such file"));
  ctl(&r, "'%s' order --ca '%s' --count 1 --profile-type operator-d", ctl_bin,
      fmt(ca, sizeof ca, "%s/ci/cert.pem", other));
  CHECK_RUN(&r, 1);
  CHECK(strstr(r.err, "--ca") != NULL);
  /* an unreachable SM-DP+: the first order fails, the rest of the list is not attempted */
  ctl(&r, "'%s' --url https://localhost:1 order --eids-file '%s' --profile-type operator-d",
      ctl_bin, eids_file);
  CHECK_RUN(&r, 1);
  CHECK(strstr(r.err, "the remaining 2 orders were not attempted") != NULL);
}

/* Usage errors exit 2 before anything is sent, with a message naming the input. */
static void usage_errors(void) {
  static struct run r;
  static const char *const bad[] = {
      "",
      "frobnicate",
      "order --count 1",
      "order --eid 123 --profile-type operator-d",
      "order --count 0 --profile-type operator-d",
      "order --count 2 --profile-type operator-d --default-smdp",
      "order --count 2 --profile-type operator-d --matching-id X",
      "order --eid 89049032000000000000000000090000 --count 2 --profile-type operator-d",
      "order --count 2 --iccid 8949032000000004005",
      "order --count 1 --profile-type operator-d --matching-id 'A$B'",
      "order --count 1 --profile-type operator-d --no-confirm --no-release",
      "order --count 1 --profile-type operator-d --final-status Available",
      "order --count 1 --profile-type operator-d --smds-address smds.example",
      "cancel --iccid 8949032000000004005 --final-status Gone",
      "cancel",
      "release --iccid 12345",
      "--timeout 0 release --iccid 8949032000000004005",
      "--url http://localhost:1 release --iccid 8949032000000004005",
      "release --iccid 8949032000000004005 extra",
  };
  char bad_file[700];
  if (!setup()) return;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ctl(&r, "'%s' %s", ctl_bin, bad[i]);
    if (r.code != 2) fprintf(stderr, "# rsp-smdpctl %s\n", bad[i]);
    CHECK_RUN(&r, 2);
    CHECK(r.out[0] == '\0' && strstr(r.err, "rsp-smdpctl") != NULL);
  }
  /* an EID list with a bad line: nothing is ordered, the line is named */
  FILE *f = fopen(fmt(bad_file, sizeof bad_file, "%s/bad-eids.txt", top), "w");
  CHECK(f != NULL);
  if (f) {
    fprintf(f, "%s\n8904903200000000000000000009\n", eids[0]);
    fclose(f);
  }
  ctl(&r, "'%s' order --eids-file '%s' --profile-type operator-d", ctl_bin, bad_file);
  CHECK_RUN(&r, 2);
  CHECK(strstr(r.err, "line 2") != NULL);
  ctl(&r, "'%s' --help", ctl_bin);
  CHECK_RUN(&r, 0);
  CHECK(strstr(r.out, "--default-smdp") && strstr(r.out, "--eids-file") &&
        strstr(r.out, "--final-status"));
  /* rsp-smdp's --batch */
  static const char *const bad_batches[] = {"x:894903200000000900:001010000009000:t",
                                            "0:894903200000000900:001010000009000:t",
                                            "5:8949032000000009:001010000009000:t",
                                            "5:894903200000000900:0010:t",
                                            "5:894903200000000900:001010000009000",
                                            "5:894903200000000900:001010000009000:",
                                            "5:894903200000000900:001010000009000:t:",
                                            "5:9999999999999999999:001010000009000:t",
                                            "5:894903200000000900:999999999999999:t",
                                            ("5:894903200000000900:001010000009000:t:" /* 33 */
                                             "0123456789012345678901234567890123")};
  for (size_t i = 0; i < sizeof bad_batches / sizeof bad_batches[0]; i++) {
    ctl(&r, "'%s' serve --pki '%s' --state '%s/unused.db' --batch '%s'", smdp_bin, pki, top,
        bad_batches[i]);
    CHECK_RUN(&r, 2);
    CHECK(strstr(r.err, "--batch") != NULL);
  }
  ctl(&r,
      "'%s' serve --pki '%s' --state '%s/unused.db' --batch 5:894903200000000900:001010:a "
      "--batch 5:894903200000000904:001020:b",
      smdp_bin, pki, top);
  CHECK_RUN(&r, 2);
  CHECK(strstr(r.err, "overlap") != NULL);
  ctl(&r, "'%s' serve --help", smdp_bin);
  CHECK(strstr(r.out, "--batch COUNT:ICCID_BASE:IMSI_BASE:PROFILE_TYPE") != NULL);
}

/* rsp-smdp restarted on the same state: every batch's ICCIDs are known, orders are kept. */
static void restart(void) {
  static struct run r;
  char log[700], want[300], iccid[21];
  static char text[1 << 18];
  if (!setup()) return;
  ctl(&r, "'%s' order --profile-type operator-d", ctl_bin);
  CHECK_RUN(&r, 0);
  stop_smdp();
  start_smdp();
  /* the restarted server's lines, read until they are all there (up to 5 s) */
  for (int tries = 0; tries < 50; tries++) {
    size_t found = 0;
    read_text(fmt(log, sizeof log, "%s/smdp.log", top), text, sizeof text);
    for (size_t i = 0; i < N_BATCHES; i++) {
      fmt(want, sizeof want, "--batch %zu (%s, ICCIDs from %s): 0 added, %d already known", i + 1,
          batches[i].type, batches[i].iccid_base, batches[i].count);
      found += strstr(text, want) != NULL;
    }
    if (found == N_BATCHES) break;
    usleep(100 * 1000);
  }
  for (size_t i = 0; i < N_BATCHES; i++) {
    fmt(want, sizeof want, "--batch %zu (%s, ICCIDs from %s): 0 added, %d already known", i + 1,
        batches[i].type, batches[i].iccid_base, batches[i].count);
    CHECK(strstr(text, want) != NULL);
  }
  ctl(&r, "'%s' order --profile-type operator-d", ctl_bin); /* the second and last one */
  CHECK_RUN(&r, 0);
  batch_iccid(&batches[3], 1, iccid);
  CHECK(strstr(r.out, iccid) != NULL);
  ctl(&r, "'%s' order --profile-type operator-d", ctl_bin);
  CHECK_RUN(&r, 1);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(default_smdp), T(matching_ids), T(lifecycle),
                                               T(refusals),     T(usage_errors), T(restart)};
  if (argc < 4) return 2;
  pki_bin = argv[1];
  smdp_bin = argv[2];
  ctl_bin = argv[3];
  rsp_log_set_level(RSP_LOG_WARN);
  signal(SIGPIPE, SIG_IGN);
  int rc = rsp_test_main(argc - 3, argv + 3, cases, sizeof cases / sizeof cases[0]);
  if (rc != 0 && top[0]) show_log();
  if (smdp_pid > 0) {
    int st = rsp_test_stop(smdp_pid, SIGTERM);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "rsp-smdp did not exit 0 on SIGTERM\n");
      rc = 1;
    }
  }
  return rc;
}
