/* The AT+CSIM APDU driver against a modem emulated on a pseudo-terminal: a thread plays the modem
 * (echo on, as modems start), reads `AT+CSIM=<n>,"<hex>"` lines from the pty's master side,
 * forwards each APDU to a real rsp-euicc process (socket driver) and answers `+CSIM: <n>,"<hex>"`
 * and `OK`. The IPA's ES10 client
 * runs GetEID, GetEUICCInfo2, AddInitialEim and a signed eUICC package through it; a modem that
 * answers ERROR makes the exchange fail cleanly.
 *
 *   test_ipa_at RSP_PKI_BINARY RSP_EUICC_BINARY */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "euicc_eim.h"
#include "proc.h"
#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/ipa/es10.h"
#include "rsp/msg/asn1.h"
#include "test.h"

static const char *pki_bin, *euicc_bin;
static char pki_dir[600], eid[RSP_EID_DIGITS + 1];

struct modem {
  int master;
  struct rsp_apdu link; /* to the rsp-euicc process */
  volatile int stop;
  int refuse; /* answer ERROR to every command */
  unsigned commands;
};

static void modem_write(int fd, const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t k = write(fd, s, n);
    if (k <= 0) return;
    s += k;
    n -= (size_t)k;
  }
}

/* One complete command line from the IPA. */
static void modem_command(struct modem *m, const char *line) {
  char out[1200], hex[600];
  uint8_t apdu[300], r[RSP_EUICC_MAX_RAPDU];
  size_t alen, rlen = sizeof r;
  unsigned long n = 0;
  modem_write(m->master, line); /* echo */
  modem_write(m->master, "\r\n");
  m->commands++;
  const char *q = strchr(line, '"'), *e = q ? strchr(q + 1, '"') : NULL;
  if (m->refuse || strncmp(line, "AT+CSIM=", 8) != 0 || !q || !e ||
      (n = strtoul(line + 8, NULL, 10)) != (unsigned long)(e - q - 1) || n >= sizeof hex) {
    modem_write(m->master, "\r\nERROR\r\n");
    return;
  }
  memcpy(hex, q + 1, n);
  hex[n] = '\0';
  if (rsp_hex_decode(hex, apdu, sizeof apdu, &alen) != RSP_OK ||
      m->link.ops->transmit(m->link.ctx, apdu, alen, r, &rlen) != RSP_OK) {
    modem_write(m->master, "\r\n+CME ERROR: 13\r\n");
    return;
  }
  rsp_hex_encode(r, rlen, hex, sizeof hex);
  snprintf(out, sizeof out, "\r\n+CSIM: %zu,\"%s\"\r\n\r\nOK\r\n", 2 * rlen, hex);
  modem_write(m->master, out);
}

static void *modem_thread(void *arg) {
  struct modem *m = arg;
  char line[1200];
  size_t len = 0;
  while (!m->stop) {
    struct pollfd p = {m->master, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char c;
    if (read(m->master, &c, 1) != 1) continue;
    if (c == '\r' || c == '\n') {
      line[len] = '\0';
      if (len) modem_command(m, line);
      len = 0;
    } else if (len + 1 < sizeof line) {
      line[len++] = c;
    }
  }
  return NULL;
}

static void make_pki(void) {
  char cmd[2048];
  snprintf(pki_dir, sizeof pki_dir, "%s/pki", rsp_test_tmpdir("ipa_at"));
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000987:1 >/dev/null",
           pki_bin, pki_dir);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", pki_dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(eid, sizeof eid, f)) rsp_test_fail(__FILE__, __LINE__, "no eUICC");
  if (f) pclose(f);
  eid[strcspn(eid, "\n")] = '\0';
}

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

static void csim(void) {
  struct modem m = {0};
  struct rsp_apdu apdu;
  struct rsp_es10_client c;
  struct rsp_arena a;
  struct rsp_buf req;
  pthread_t th;
  uint8_t want[RSP_EID_LEN];
  make_pki();
  char port_arg[32], log[700];
  unsigned port = rsp_test_free_port();
  snprintf(port_arg, sizeof port_arg, "127.0.0.1:%u", port);
  snprintf(log, sizeof log, "%s/euicc.log", rsp_test_tmpdir("ipa_at"));
  char *argv[] = {(char *)euicc_bin, "--pki",  pki_dir,       "--eid", eid,
                  "--listen",        port_arg, "--log-level", "warn",  NULL};
  pid_t card = rsp_test_spawn(argv, log);
  CHECK(rsp_test_wait_port(port, 10000));
  CHECK_OK(rsp_apdu_socket_new("127.0.0.1", port, 5000, &m.link));
  CHECK_OK(m.link.ops->connect(m.link.ctx));
  m.master = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(m.master >= 0 && grantpt(m.master) == 0 && unlockpt(m.master) == 0);
  const char *slave = ptsname(m.master);
  CHECK(slave != NULL);
  if (!slave) return;
  CHECK(pthread_create(&th, NULL, modem_thread, &m) == 0);
  CHECK_OK(rsp_apdu_at_new(slave, 3000, &apdu));
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&req, 1 << 16);
  rsp_es10_client_init(&c, &apdu);
  c.block = 200;
  CHECK_OK(rsp_es10_client_open(&c));
  rsp_eid_from_string(eid, want);
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
  rsp_buf_reset(&req);
  CHECK_OK(rsp_test_eim_add_initial(&e, "eim-1", 10, &req));
  CHECK(call(&c, &req, &rsp_msgt_add_initial_eim_response, &a) != NULL);
  e.token = 1;
  struct rsp_msg_profile_info_list_request lpi = {0};
  struct rsp_msg_psmo op = {.which = RSP_MSG_PSMO_LIST_PROFILE_INFO, .u.list_profile_info = &lpi};
  rsp_buf_reset(&req);
  CHECK_OK(rsp_test_eim_package(&e, "eim-1", want, 11, &op, 1, false, &req));
  struct rsp_msg_euicc_package_result *pr = call(&c, &req, &rsp_msgt_euicc_package_result, &a);
  CHECK(pr && pr->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  CHECK(m.commands > 8); /* several STORE DATA blocks and GET RESPONSEs went through the modem */
  /* a modem that refuses AT+CSIM: the exchange fails, no crash, no hang */
  m.refuse = 1;
  struct rsp_buf out;
  rsp_buf_init(&out, 4096);
  rsp_buf_reset(&req);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_get_euicc_info2_request, &q2, &req, NULL));
  CHECK_ERR(rsp_es10_client_call(&c, req.data, req.len, &out), RSP_E_IO);
  rsp_buf_free(&out);
  m.refuse = 0;
  rsp_es10_client_close(&c);
  m.stop = 1;
  pthread_join(th, NULL);
  rsp_apdu_at_free(&apdu);
  close(m.master);
  rsp_test_eim_free(&e);
  rsp_buf_free(&req);
  rsp_arena_free(&a);
  rsp_apdu_socket_free(&m.link);
  int status = rsp_test_stop(card, SIGTERM);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(csim)};
  if (argc < 3) return 2;
  pki_bin = argv[1];
  euicc_bin = argv[2];
  rsp_log_set_level(RSP_LOG_ERROR);
  return rsp_test_main(argc - 2, argv + 2, cases, 1);
}
