/* The IPA's ES10 client over its APDU drivers: in-process (a software eUICC in this process, with
 * block sizes 1, 7, 120 and 255) and the socket driver against a real rsp-euicc process listening
 * on 127.0.0.1. Each runs GetEID, GetEUICCInfo2, AddInitialEim and a signed eUICC package.
 *
 *   test_ipa_es10 RSP_PKI_BINARY RSP_EUICC_BINARY */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "euicc_eim.h"
#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/ipa/es10.h"
#include "rsp/msg/asn1.h"
#include "test.h"

static const char *pki_bin, *euicc_bin;
static char pki_dir[600], eid[RSP_EID_DIGITS + 1];

static void make_pki(void) {
  char cmd[2048];
  if (pki_dir[0]) return;
  snprintf(pki_dir, sizeof pki_dir, "%s/pki", rsp_test_tmpdir("ipa_es10"));
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000789:1 >/dev/null",
           pki_bin, pki_dir);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", pki_dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(eid, sizeof eid, f)) rsp_test_fail(__FILE__, __LINE__, "no eUICC");
  if (f) pclose(f);
  eid[strcspn(eid, "\n")] = '\0';
}

/* One function through the client; the answer decoded as `rt`. */
static void *call(struct rsp_es10_client *c, const struct rsp_buf *req,
                  const struct rsp_msg_type *rt, struct rsp_arena *a) {
  struct rsp_buf out;
  void *v = NULL;
  rsp_buf_init(&out, RSP_ES10_MAX_RESPONSE);
  CHECK_OK(rsp_es10_client_call(c, req->data, req->len, &out));
  uint8_t *copy = rsp_arena_alloc(a, out.len + 1);
  if (copy && out.len) memcpy(copy, out.data, out.len);
  if (copy) CHECK_OK(rsp_msg_decode(rt, copy, out.len, a, &v, NULL));
  rsp_buf_free(&out);
  return v;
}

/* GetEID, EUICCInfo2, AddInitialEim and a signed package with one listProfileInfo PSMO. */
static void session(struct rsp_apdu *apdu, size_t block, bool add_eim) {
  struct rsp_es10_client c;
  struct rsp_arena a;
  struct rsp_buf req;
  uint8_t want[RSP_EID_LEN];
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&req, 1 << 16);
  rsp_eid_from_string(eid, want);
  rsp_es10_client_init(&c, apdu);
  c.block = block;
  CHECK_OK(rsp_es10_client_open(&c));
  CHECK(c.channel >= 1);
  struct rsp_msg_get_euicc_data_request q = {.tag_list = rsp_msg_slice("\x5A", 1)};
  CHECK_OK(rsp_msg_encode(&rsp_msgt_get_euicc_data_request, &q, &req, NULL));
  struct rsp_msg_get_euicc_data_response *r = call(&c, &req, &rsp_msgt_get_euicc_data_response, &a);
  CHECK(r && r->eid_value.len == 16 && memcmp(r->eid_value.p, want, 16) == 0);
  rsp_buf_reset(&req);
  struct rsp_msg_get_euicc_info2_request q2 = {0};
  CHECK_OK(rsp_msg_encode(&rsp_msgt_get_euicc_info2_request, &q2, &req, NULL));
  CHECK(call(&c, &req, &rsp_msgt_sgp32_euicc_info2, &a) != NULL);
  struct rsp_test_eim e;
  CHECK_OK(rsp_test_eim_load(&e, pki_dir));
  if (add_eim) {
    rsp_buf_reset(&req);
    CHECK_OK(rsp_test_eim_add_initial(&e, "eim-1", 10, &req));
    struct rsp_msg_add_initial_eim_response *ar =
        call(&c, &req, &rsp_msgt_add_initial_eim_response, &a);
    CHECK(ar && ar->which == RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK);
  }
  e.token = 1; /* the first association of a fresh card */
  struct rsp_msg_profile_info_list_request lpi = {0};
  struct rsp_msg_psmo op = {.which = RSP_MSG_PSMO_LIST_PROFILE_INFO, .u.list_profile_info = &lpi};
  static int64_t counter = 10;
  rsp_buf_reset(&req);
  CHECK_OK(rsp_test_eim_package(&e, "eim-1", want, ++counter, &op, 1, false, &req));
  struct rsp_msg_euicc_package_result *pr = call(&c, &req, &rsp_msgt_euicc_package_result, &a);
  CHECK(pr && pr->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  rsp_test_eim_free(&e);
  rsp_es10_client_close(&c);
  rsp_buf_free(&req);
  rsp_arena_free(&a);
}

static void inproc_driver(void) {
  struct rsp_euicc *card = NULL;
  struct rsp_apdu apdu;
  make_pki();
  struct rsp_euicc_options o = {.pki_dir = pki_dir, .eid = eid};
  CHECK_OK(rsp_euicc_open(&o, &card));
  if (!card) return;
  rsp_apdu_inproc_init(&apdu, card);
  static const size_t blocks[] = {255, 120, 7, 1};
  for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) session(&apdu, blocks[i], i == 0);
  rsp_euicc_destroy(card);
}

static void socket_driver(void) {
  struct rsp_apdu apdu;
  char port_arg[32];
  make_pki();
  unsigned port = 20000 + (unsigned)(getpid() % 20000);
  snprintf(port_arg, sizeof port_arg, "127.0.0.1:%u", port);
  pid_t pid = fork();
  if (pid == 0) {
    execl(euicc_bin, euicc_bin, "--pki", pki_dir, "--listen", port_arg, "--log-level", "warn",
          (char *)NULL);
    _exit(127);
  }
  CHECK_OK(rsp_apdu_socket_new("127.0.0.1", port, 5000, &apdu));
  /* wait until the card process listens */
  bool up = false;
  for (int i = 0; i < 100 && !up; i++) {
    up = apdu.ops->connect(apdu.ctx) == RSP_OK;
    if (!up) usleep(50000);
  }
  CHECK(up);
  if (up) {
    apdu.ops->disconnect(apdu.ctx);
    session(&apdu, 255, true);
    session(&apdu, 60, false); /* a second connection: a new power-on session */
  }
  rsp_apdu_socket_free(&apdu);
  kill(pid, SIGTERM);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(inproc_driver), T(socket_driver)};
  if (argc < 3) return 2;
  pki_bin = argv[1];
  euicc_bin = argv[2];
  rsp_log_set_level(RSP_LOG_WARN);
  return rsp_test_main(argc - 2, argv + 2, cases, sizeof cases / sizeof cases[0]);
}
