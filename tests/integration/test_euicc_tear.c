/* Tear test of the software eUICC: a card process is killed at every APDU of a sequence of eUICC
 * packages (enable with rollback, switch, rollback, disable + delete, notification removal,
 * nickname) and at both sides of every store write; the card is then reopened from its SQLite
 * store. Its state must be exactly the state before or after the interrupted command (compared
 * without the randomised signatures), never a mix, and the card must still work.
 *
 *   test_euicc_tear RSP_PKI_BINARY */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/euicc/euicc_internal.h"
#include "euicc_eim.h"
#include "rsp/msg/bpp.h"
#include "rsp/smdp/bind.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "test.h"

#define MAX_CMDS 16
#define BLOCK 60 /* STORE DATA block size: several APDUs per command */

static const uint8_t ISDR[16] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x01, 0x00};
static char pki_dir[512], eid[RSP_EID_DIGITS + 1], base_db[600], run_db[600];
static struct rsp_buf cmds[MAX_CMDS];
static size_t n_cmds;
static long kill_at = -1, events;

static void copy_file(const char *from, const char *to);

static void event(void) {
  if (++events == kill_at) raise(SIGKILL);
}

static void fault_hook(const char *point) {
  (void)point;
  event();
}

/* The card's durable state without signatures: profiles, counters, notifications. */
static void summary(const struct rsp_euicc *c, char *out, size_t size) {
  size_t o = 0;
  const struct euicc_state *st = &c->st;
  o += (size_t)snprintf(out + o, size - o, "seq=%lld;", (long long)st->next_seq);
  for (size_t i = 0; i < st->n_profiles && o < size; i++)
    o +=
        (size_t)snprintf(out + o, size - o, "p%02X%02X:%d:%s;", st->profiles[i].iccid[8],
                         st->profiles[i].iccid[9], st->profiles[i].state, st->profiles[i].nickname);
  for (size_t i = 0; i < st->n_eims && o < size; i++)
    o += (size_t)snprintf(out + o, size - o, "e%s:%lld;", st->eims[i].eim_id,
                          (long long)st->eims[i].counter);
  for (size_t i = 0; i < st->n_notifications && o < size; i++)
    o += (size_t)snprintf(out + o, size - o, "n%lld:%d:%u;", (long long)st->notifications[i].seq,
                          st->notifications[i].is_epr, st->notifications[i].event);
  o += (size_t)snprintf(out + o, size - o, "rb=%d", st->rollback_granted);
}

static struct rsp_euicc *open_card(const char *db, struct rsp_euicc_store **s) {
  struct rsp_euicc *c = NULL;
  if (rsp_euicc_store_open(db, s) != RSP_OK) return NULL;
  struct rsp_euicc_options o = {.pki_dir = pki_dir, .eid = eid, .store = *s};
  if (rsp_euicc_open(&o, &c) != RSP_OK) return NULL;
  return c;
}

static void close_card(struct rsp_euicc *c, struct rsp_euicc_store *s) {
  rsp_euicc_destroy(c);
  rsp_euicc_store_close(s);
}

static size_t apdu(struct rsp_euicc *c, const uint8_t *cmd, size_t len, uint8_t *resp) {
  size_t rlen = RSP_EUICC_MAX_RAPDU;
  event();
  if (rsp_euicc_transmit(c, cmd, len, resp, &rlen) != RSP_OK) return 0;
  return rlen;
}

/* One ES10 command over APDUs: STORE DATA blocks, then GET RESPONSE while 61xx; the answer's
 * data goes to `out` when given. */
static bool exchange(struct rsp_euicc *c, const uint8_t *data, size_t len, struct rsp_buf *out) {
  uint8_t cmd[5 + 255], resp[RSP_EUICC_MAX_RAPDU];
  size_t off = 0, rlen = 0;
  if (out) rsp_buf_reset(out);
  for (unsigned blk = 0; off < len; blk++) {
    size_t n = len - off < BLOCK ? len - off : BLOCK;
    bool last = off + n == len;
    uint8_t hdr[5] = {0x80, 0xE2, last ? 0x91 : 0x11, (uint8_t)blk, (uint8_t)n};
    memcpy(cmd, hdr, 5);
    memcpy(cmd + 5, data + off, n);
    rlen = apdu(c, cmd, 5 + n, resp);
    if (rlen < 2) return false;
    off += n;
  }
  while (rlen >= 2 && resp[rlen - 2] == 0x61) {
    uint8_t gr[5] = {0x00, 0xC0, 0x00, 0x00, resp[rlen - 1]};
    rlen = apdu(c, gr, 5, resp);
    if (out && rlen > 2) rsp_buf_append(out, resp, rlen - 2);
  }
  return rlen >= 2 && resp[rlen - 2] == 0x90;
}

static bool run_apdus(struct rsp_euicc *c, const struct rsp_buf *req) {
  return exchange(c, req->data, req->len, NULL);
}

static bool select_isdr(struct rsp_euicc *c) {
  uint8_t cmd[5 + 16] = {0x00, 0xA4, 0x04, 0x00, 0x10}, resp[RSP_EUICC_MAX_RAPDU];
  memcpy(cmd + 5, ISDR, 16);
  size_t rlen = apdu(c, cmd, sizeof cmd, resp);
  return rlen >= 2 && (resp[rlen - 2] == 0x90 || resp[rlen - 2] == 0x61);
}

/* Runs the whole sequence; after each command records the summary when `sums` is given. */
static void run_sequence(struct rsp_euicc *c, char (*sums)[2048]) {
  if (!select_isdr(c)) exit(3);
  for (size_t i = 0; i < n_cmds; i++) {
    if (!run_apdus(c, &cmds[i])) exit(4);
    if (sums) summary(c, sums[i + 1], sizeof sums[i + 1]);
  }
}

/* The starting card: one eIM associated, two profiles installed, in base_db. */
static void make_base(struct rsp_test_eim *e) {
  struct rsp_euicc_store *s;
  struct rsp_euicc *c = open_card(base_db, &s);
  struct rsp_buf req, resp;
  uint8_t bits[5], hash[32] = {0};
  if (!c) rsp_test_fail(__FILE__, __LINE__, "cannot open the card");
  rsp_buf_init(&req, 1 << 16);
  rsp_buf_init(&resp, 1 << 16);
  CHECK_OK(rsp_test_eim_add_initial(e, "eim-1", 10, &req));
  CHECK_OK(rsp_euicc_es10(c, req.data, req.len, &resp));
  e->token = c->st.eims[0].token;
  for (int k = 0; k < 2; k++) {
    uint8_t iccid[RSP_ICCID_LEN];
    struct euicc_profile *p;
    struct rsp_buf md;
    rsp_iccid_encode(k ? "8944000000000000029" : "8944000000000000011", iccid);
    struct rsp_msg_notification_configuration_information nci = {
        .profile_management_operation = rsp_msg_bits_make(0x0F, bits),
        .notification_address = rsp_msg_slice("smdp.example", 12)};
    struct rsp_msg_sgp32_store_metadata_request_notification_configuration_info l = {.v = &nci,
                                                                                     .n = 1};
    struct rsp_msg_sgp32_store_metadata_request m = {.iccid = rsp_msg_slice(iccid, 10),
                                                     .service_provider_name =
                                                         rsp_msg_slice("Op", 2),
                                                     .profile_name = rsp_msg_slice("P", 1),
                                                     .notification_configuration_info = &l};
    rsp_buf_init(&md, 4096);
    CHECK_OK(rsp_msg_encode(&rsp_msgt_sgp32_store_metadata_request, &m, &md, NULL));
    CHECK_OK(rsp__euicc_install(c, rsp_msg_slice(md.data, md.len), iccid, hash, 10, &p));
    rsp_buf_free(&md);
  }
  CHECK_OK(rsp__euicc_commit(c));
  rsp_buf_free(&req);
  rsp_buf_free(&resp);
  close_card(c, s);
}

/* Runs `work` on the card in a child process killed at event 1, 2, ... (APDUs and store writes)
 * until it completes; after each kill the card is reopened from its store and its summary must
 * be one of the `n` allowed states. Returns the number of kills. */
static int kill_everywhere(bool (*work)(struct rsp_euicc *c, void *ctx), void *ctx,
                           char (*allowed)[2048], size_t n) {
  char got[2048];
  struct rsp_euicc_store *s;
  int kills = 0;
  for (kill_at = 1;; kill_at++) {
    copy_file(base_db, run_db);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      struct rsp_euicc_store *cs;
      struct rsp_euicc *cc = open_card(run_db, &cs);
      if (!cc) _exit(2);
      events = 0;
      rsp__euicc_fault_hook = fault_hook;
      _exit(work(cc, ctx) ? 0 : 5);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      return kills;
    }
    kills++;
    struct rsp_euicc *c = open_card(run_db, &s);
    CHECK(c != NULL);
    if (!c) return kills;
    summary(c, got, sizeof got);
    bool known = false;
    for (size_t i = 0; i < n && !known; i++) known = strcmp(got, allowed[i]) == 0;
    if (!known) rsp_test_fail(__FILE__, __LINE__, "kill at event %ld left state %s", kill_at, got);
    rsp_test_checks++;
    rsp_euicc_reset(c); /* and the card still answers */
    CHECK(select_isdr(c));
    close_card(c, s);
  }
}

/* ---- a download interrupted at every APDU ---- */

static struct rsp_msg_notification_configuration_information dl_nci;
static struct rsp_msg_sgp32_store_metadata_request_notification_configuration_info dl_list = {
    .v = &dl_nci, .n = 1};

/* The IPA and SM-DP+ side of one download over APDUs; false when the card refused a step. */
static bool download_over_apdus(struct rsp_euicc *c, const struct rsp_smdp_identity *id,
                                const struct rsp_msg_sgp32_store_metadata_request *md) {
  struct rsp_smdp_session s;
  struct rsp_smdp_status st;
  struct rsp_buf a, b, bpp;
  uint8_t sig[64], upp[3000];
  struct rsp_slice segs[64];
  size_t n = 0;
  bool ok = false;
  rsp_smdp_session_init(&s);
  rsp_buf_init(&a, 1 << 16);
  rsp_buf_init(&b, 1 << 16);
  rsp_buf_init(&bpp, 1 << 16);
  memset(upp, 0x42, sizeof upp);
  upp[0] = 0x04, upp[1] = 0x82, upp[2] = 0x0B, upp[3] = 0xB4; /* OCTET STRING of 2996 bytes */
  if (!select_isdr(c) || !exchange(c, (const uint8_t *)"\xBF\x2E\x00", 3, &a) || a.len != 21)
    goto out;
  if (rsp_smdp_server_signed1_make(id, &s, a.data + 5, "smdp.example", &b, sig) != RSP_OK) goto out;
  struct rsp_smdp_authenticate_server_parts ap = {.server_signed1 = rsp_msg_slice(b.data, b.len),
                                                  .server_signature1 = rsp_msg_slice(sig, 64),
                                                  .euicc_ci_pk_id =
                                                      rsp_msg_slice(id->ci_ski.id, id->ci_ski.len),
                                                  .server_certificate = rsp_cert_der(id->auth_cert),
                                                  .tac = {1, 2, 3, 4}};
  rsp_buf_reset(&a);
  if (rsp_smdp_authenticate_server_request_build(&ap, &a) != RSP_OK ||
      !exchange(c, a.data, a.len, &b) ||
      rsp_smdp_authenticate_server_response_verify(id, &s, b.data, b.len, &st) != RSP_OK ||
      s.stage != RSP_SMDP_STAGE_AUTHENTICATED)
    goto out;
  rsp_buf_reset(&b);
  if (rsp_smdp_signed2_make(id, &s, rsp_msg_slice(NULL, 0), rsp_msg_slice(NULL, 0), &b, sig) !=
      RSP_OK)
    goto out;
  struct rsp_smdp_prepare_download_parts pp = {.smdp_signed2 = rsp_msg_slice(b.data, b.len),
                                               .smdp_signature2 = rsp_msg_slice(sig, 64),
                                               .smdp_certificate = rsp_cert_der(id->pb_cert)};
  rsp_buf_reset(&a);
  if (rsp_smdp_prepare_download_request_build(&pp, &a) != RSP_OK ||
      !exchange(c, a.data, a.len, &b) ||
      rsp_smdp_prepare_download_response_verify(id, &s, b.data, b.len, &st) != RSP_OK ||
      s.stage != RSP_SMDP_STAGE_PREPARED)
    goto out;
  struct rsp_smdp_profile prof = {
      .metadata = md, .upp = rsp_msg_slice(upp, sizeof upp), .replace_session_keys = true};
  if (rsp_smdp_bind_profile(id, &s, &prof, &bpp) != RSP_OK ||
      rsp_msg_bpp_split(bpp.data, bpp.len, segs, 64, &n) != RSP_OK)
    goto out;
  for (size_t i = 0; i < n; i++)
    if (!exchange(c, segs[i].p, segs[i].len, &b)) goto out;
  ok = b.len > 0; /* the last segment is answered with the PIR */
out:
  rsp_smdp_session_free(&s);
  rsp_buf_free(&a);
  rsp_buf_free(&b);
  rsp_buf_free(&bpp);
  return ok;
}

struct dl_ctx {
  const struct rsp_smdp_identity *id;
  const struct rsp_msg_sgp32_store_metadata_request *md;
};

static bool run_download(struct rsp_euicc *c, void *ctx) {
  const struct dl_ctx *d = ctx;
  return download_over_apdus(c, d->id, d->md);
}

static void tear_download(void) {
  char before[2048], after[2048];
  struct rsp_smdp_identity *id = NULL;
  struct rsp_euicc_store *s;
  uint8_t iccid[10], bits[5];
  CHECK_OK(rsp_smdp_identity_load(pki_dir, &id));
  if (access(base_db, F_OK) != 0) {
    struct rsp_test_eim e;
    CHECK_OK(rsp_test_eim_load(&e, pki_dir));
    make_base(&e);
    rsp_test_eim_free(&e);
  }
  rsp_iccid_encode("8944000000000000078", iccid);
  dl_nci.profile_management_operation = rsp_msg_bits_make(0x0F, bits);
  dl_nci.notification_address = rsp_msg_slice("smdp.example", 12);
  struct rsp_msg_sgp32_store_metadata_request md = {.iccid = rsp_msg_slice(iccid, 10),
                                                    .service_provider_name = rsp_msg_slice("Op", 2),
                                                    .profile_name = rsp_msg_slice("D", 1),
                                                    .notification_configuration_info = &dl_list};
  copy_file(base_db, run_db);
  struct rsp_euicc *c = open_card(run_db, &s);
  summary(c, before, sizeof before);
  CHECK(download_over_apdus(c, id, &md));
  summary(c, after, sizeof after);
  close_card(c, s);
  CHECK(strcmp(before, after) != 0);
  struct dl_ctx dc = {id, &md};
  char allowed[2][2048];
  memcpy(allowed[0], before, sizeof before);
  memcpy(allowed[1], after, sizeof after);
  int kills = kill_everywhere(run_download, &dc, allowed, 2);
  printf("download: %d kills, each left the card with no profile or the whole profile\n", kills);
  CHECK(kills > 40);
  rsp_smdp_identity_destroy(id);
}

static void add_cmd(void (*build)(struct rsp_buf *b, void *ctx), void *ctx) {
  rsp_buf_init(&cmds[n_cmds], 1 << 16);
  build(&cmds[n_cmds++], ctx);
}

struct pkg_ctx {
  struct rsp_test_eim *e;
  uint8_t eid[16];
  int64_t counter;
  struct rsp_msg_psmo *ops;
  size_t n;
};

static void build_pkg(struct rsp_buf *b, void *ctx) {
  struct pkg_ctx *p = ctx;
  CHECK_OK(rsp_test_eim_package(p->e, "eim-1", p->eid, p->counter, p->ops, p->n, false, b));
}

static void build_rollback(struct rsp_buf *b, void *ctx) {
  struct rsp_msg_profile_rollback_request r = {.refresh_flag = true};
  (void)ctx;
  CHECK_OK(rsp_msg_encode(&rsp_msgt_profile_rollback_request, &r, b, NULL));
}

static void build_remove(struct rsp_buf *b, void *ctx) {
  struct rsp_msg_notification_sent_request r = {.seq_number = *(int64_t *)ctx};
  CHECK_OK(rsp_msg_encode(&rsp_msgt_notification_sent_request, &r, b, NULL));
}

static void build_nickname(struct rsp_buf *b, void *ctx) {
  struct rsp_msg_set_nickname_request r = {.iccid = rsp_msg_slice(ctx, 10),
                                           .profile_nickname = rsp_msg_slice("tracker", 7)};
  CHECK_OK(rsp_msg_encode(&rsp_msgt_set_nickname_request, &r, b, NULL));
}

static void build_commands(struct rsp_test_eim *e) {
  static uint8_t a[10], b[10];
  static int64_t seq = 2;
  rsp_iccid_encode("8944000000000000011", a);
  rsp_iccid_encode("8944000000000000029", b);
  static struct rsp_msg_psmo_enable en_a, en_b;
  static struct rsp_msg_psmo_disable dis_b;
  static struct rsp_msg_psmo_delete del_b;
  en_a = (struct rsp_msg_psmo_enable){.iccid = rsp_msg_slice(a, 10), .rollback_flag = true};
  en_b = (struct rsp_msg_psmo_enable){.iccid = rsp_msg_slice(b, 10), .rollback_flag = true};
  dis_b = (struct rsp_msg_psmo_disable){.iccid = rsp_msg_slice(b, 10)};
  del_b = (struct rsp_msg_psmo_delete){.iccid = rsp_msg_slice(b, 10)};
  static struct rsp_msg_psmo op_a, op_b, op_del[2];
  op_a = (struct rsp_msg_psmo){.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en_a};
  op_b = (struct rsp_msg_psmo){.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en_b};
  op_del[0] = (struct rsp_msg_psmo){.which = RSP_MSG_PSMO_DISABLE, .u.disable = &dis_b};
  op_del[1] = (struct rsp_msg_psmo){.which = RSP_MSG_PSMO_DELETE, .u.delete = &del_b};
  static struct pkg_ctx p1, p2, p3;
  uint8_t card_eid[16];
  rsp_eid_from_string(eid, card_eid);
  p1 = (struct pkg_ctx){e, {0}, 11, &op_a, 1};
  p2 = (struct pkg_ctx){e, {0}, 12, &op_b, 1};
  p3 = (struct pkg_ctx){e, {0}, 13, op_del, 2};
  memcpy(p1.eid, card_eid, 16);
  memcpy(p2.eid, card_eid, 16);
  memcpy(p3.eid, card_eid, 16);
  add_cmd(build_pkg, &p1);
  add_cmd(build_pkg, &p2);
  add_cmd(build_rollback, NULL);
  add_cmd(build_remove, &seq);
  add_cmd(build_nickname, a);
  add_cmd(build_pkg, &p2); /* replay: refused, nothing changes */
  add_cmd(build_pkg, &p3); /* fails on B (disabled already? see results) but commits the counter */
}

static void copy_file(const char *from, const char *to) {
  char cmd[2600];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", from, to, to, to);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "cp failed");
}

static bool run_all(struct rsp_euicc *c, void *ctx) {
  (void)ctx;
  run_sequence(c, NULL);
  return true;
}

static void tear_everywhere(void) {
  static char sums[MAX_CMDS + 1][2048];
  struct rsp_test_eim e;
  struct rsp_euicc_store *s;
  CHECK_OK(rsp_test_eim_load(&e, pki_dir));
  make_base(&e);
  build_commands(&e);
  /* reference run, no interruption */
  copy_file(base_db, run_db);
  struct rsp_euicc *c = open_card(run_db, &s);
  summary(c, sums[0], sizeof sums[0]);
  run_sequence(c, sums);
  close_card(c, s);
  int kills = kill_everywhere(run_all, NULL, sums, n_cmds + 1);
  printf("%d kills (every APDU and every store write), each left a before-or-after state\n", kills);
  CHECK(kills > (int)n_cmds * 3);
  rsp_test_eim_free(&e);
  for (size_t i = 0; i < n_cmds; i++) rsp_buf_free(&cmds[i]);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(tear_everywhere), T(tear_download)};
  char cmd[2048];
  if (argc < 2) return 2;
  const char *dir = rsp_test_tmpdir("euicc_tear");
  snprintf(pki_dir, sizeof pki_dir, "%s/pki", dir);
  snprintf(base_db, sizeof base_db, "%s/base.db", dir);
  snprintf(run_db, sizeof run_db, "%s/run.db", dir);
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000123:1 >/dev/null",
           argv[1], pki_dir);
  if (system(cmd) != 0) return 1;
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", pki_dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(eid, sizeof eid, f)) return 1;
  pclose(f);
  eid[strcspn(eid, "\n")] = '\0';
  rsp_log_set_level(RSP_LOG_ERROR);
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
