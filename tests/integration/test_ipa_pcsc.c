/* The IPA's ES10 client through the PC/SC driver (drivers/apdu_pcsc.c), against a card in a real
 * pcscd: in the test set-up (test_ipa_pcsc.sh) the software eUICC rsp-euicc in vsmartcard's
 * vpcd reader. Each session opens the ISD-R on a logical channel, checks GetEID against the
 * PKI's eUICC, reads EUICCInfo2 and runs a signed eUICC package with listProfileInfo (the first
 * session of the run also does AddInitialEim, so the card must have no eIM yet).
 *
 *   test_ipa_pcsc PKI_DIR READER [CASE]
 *
 * The reader must follow vpcd's naming: READER is slot "... 00" of a two-slot reader whose
 * other slot ("... 01") is empty, so READER without its last character names both (an
 * ambiguous prefix). RSP_TEST_PCSC_CARD, when set, is a shell command that takes the card out
 * of READER (`$RSP_TEST_PCSC_CARD remove`) and puts it back (`... insert`); without it the
 * removal case only says it did not run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

#include "euicc_eim.h"
#include "rsp/core/arena.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/ipa/es10.h"
#include "rsp/msg/asn1.h"
#include "test.h"

#define CONNECT_TIMEOUT_MS 10000 /* a card that is there answers at once; rsp-euicc may restart */
#define ERROR_TIMEOUT_MS 1500    /* for the connects that must fail */
#define REMOVAL_WAIT_MS 10000    /* for pcscd to see the card gone */

static const char *pki_dir, *reader;
static char eid[RSP_EID_DIGITS + 1];
static bool eim_added;       /* AddInitialEim runs in the first session of the process */
static int64_t counter = 10; /* the eIM's counter: the initial value, then one per package */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The one eUICC of the PKI directory (rsp-pki create lays out euicc/<EID>/). */
static void read_eid(void) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", pki_dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(eid, sizeof eid, f))
    rsp_test_fail(__FILE__, __LINE__, "no eUICC in %s", pki_dir);
  if (f) pclose(f);
  eid[strcspn(eid, "\n")] = '\0';
}

/* One ES10 function; the answer decoded as `type` in the arena, NULL (test failed) otherwise. */
static void *es10(struct rsp_es10_client *c, const struct rsp_buf *req,
                  const struct rsp_msg_type *type, struct rsp_arena *a) {
  struct rsp_buf out;
  void *v = NULL;
  rsp_buf_init(&out, RSP_ES10_MAX_RESPONSE);
  rsp_err_t rc = rsp_es10_client_call(c, req->data, req->len, &out);
  CHECK_OK(rc);
  uint8_t *copy = rc == RSP_OK ? rsp_arena_alloc(a, out.len + 1) : NULL;
  if (copy) {
    memcpy(copy, out.data, out.len);
    CHECK_OK(rsp_msg_decode(type, copy, out.len, a, &v, NULL));
  }
  rsp_buf_free(&out);
  return v;
}

/* GetEUICCData for the EID into req. */
static void get_eid_request(struct rsp_buf *req) {
  struct rsp_msg_get_euicc_data_request q = {.tag_list = rsp_msg_slice("\x5A", 1)};
  rsp_buf_reset(req);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_get_euicc_data_request, &q, req, NULL));
}

/* GetEID on an open client: RSP_OK only when the card answered with the PKI's EID. */
static rsp_err_t check_eid(struct rsp_es10_client *c) {
  struct rsp_buf req, out;
  struct rsp_arena a;
  struct rsp_msg_get_euicc_data_response *r = NULL;
  uint8_t want[RSP_EID_LEN];
  rsp_buf_init(&req, 64);
  rsp_buf_init(&out, RSP_ES10_MAX_RESPONSE);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_eid_from_string(eid, want);
  get_eid_request(&req);
  rsp_err_t rc = rsp_es10_client_call(c, req.data, req.len, &out);
  if (rc == RSP_OK)
    rc =
        rsp_msg_decode(&rsp_msgt_get_euicc_data_response, out.data, out.len, &a, (void **)&r, NULL);
  if (rc == RSP_OK && (r->eid_value.len != RSP_EID_LEN || memcmp(r->eid_value.p, want, 16) != 0))
    rc = RSP_E_STATE;
  rsp_arena_free(&a);
  rsp_buf_free(&out);
  rsp_buf_free(&req);
  return rc;
}

/* EUICCInfo2, AddInitialEim once, and a signed package with one listProfileInfo PSMO. */
static void eim_functions(struct rsp_es10_client *c, struct rsp_buf *req, struct rsp_arena *a) {
  struct rsp_test_eim e;
  uint8_t want[RSP_EID_LEN];
  rsp_eid_from_string(eid, want);
  rsp_buf_reset(req);
  struct rsp_msg_get_euicc_info2_request q2 = {0};
  CHECK_OK(rsp_msg_encode(&rsp_msgt_get_euicc_info2_request, &q2, req, NULL));
  CHECK(es10(c, req, &rsp_msgt_sgp32_euicc_info2, a) != NULL);
  CHECK_OK(rsp_test_eim_load(&e, pki_dir));
  if (!eim_added) {
    rsp_buf_reset(req);
    CHECK_OK(rsp_test_eim_add_initial(&e, "eim-1", counter, req));
    struct rsp_msg_add_initial_eim_response *ar =
        es10(c, req, &rsp_msgt_add_initial_eim_response, a);
    CHECK(ar && ar->which == RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK);
    eim_added = true;
  }
  e.token = 1; /* the first association of a fresh card */
  struct rsp_msg_profile_info_list_request lpi = {0};
  struct rsp_msg_psmo op = {.which = RSP_MSG_PSMO_LIST_PROFILE_INFO, .u.list_profile_info = &lpi};
  rsp_buf_reset(req);
  CHECK_OK(rsp_test_eim_package(&e, "eim-1", want, ++counter, &op, 1, false, req));
  struct rsp_msg_euicc_package_result *pr = es10(c, req, &rsp_msgt_euicc_package_result, a);
  CHECK(pr && pr->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  rsp_test_eim_free(&e);
}

/* A whole session: open (connect, logical channel, SELECT ISD-R), the functions, close
 * (channel closed, disconnect). Returns the channel the card assigned, 0 when the open failed. */
static unsigned session(struct rsp_apdu *apdu, size_t block) {
  struct rsp_es10_client c;
  struct rsp_arena a;
  struct rsp_buf req;
  rsp_es10_client_init(&c, apdu);
  c.block = block;
  CHECK_OK(rsp_es10_client_open(&c));
  if (!c.open) return 0;
  unsigned channel = c.channel;
  CHECK(channel >= 1);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&req, 1 << 16);
  CHECK_OK(check_eid(&c));
  eim_functions(&c, &req, &a);
  rsp_buf_free(&req);
  rsp_arena_free(&a);
  rsp_es10_client_close(&c);
  return channel;
}

static void sessions_on(unsigned protocols) {
  struct rsp_apdu apdu;
  CHECK_OK(rsp_apdu_pcsc_new(reader, protocols, CONNECT_TIMEOUT_MS, &apdu));
  CHECK(session(&apdu, 255) != 0);
  CHECK(session(&apdu, 7) != 0); /* a second connect after the disconnect */
  rsp_apdu_pcsc_free(&apdu);
  rsp_apdu_pcsc_free(&apdu); /* idempotent */
}

static void t0(void) { sessions_on(RSP_APDU_PCSC_T0); }

static void t1(void) { sessions_on(RSP_APDU_PCSC_T1); }

/* No reader named, both protocols: the reader with the card. A session that ends without
 * closing its channel (an aborted open) makes the driver reset the card on the next connect,
 * so the card hands out the same channel again instead of running out of them. */
static void any_reader(void) {
  struct rsp_apdu apdu;
  struct rsp_es10_client c;
  CHECK_OK(rsp_apdu_pcsc_new(NULL, 0, CONNECT_TIMEOUT_MS, &apdu));
  unsigned first = session(&apdu, 120);
  CHECK(first != 0);
  rsp_es10_client_init(&c, &apdu);
  CHECK_OK(rsp_es10_client_open(&c));
  CHECK_EQ(c.channel, first);
  c.open = false; /* dropped without MANAGE CHANNEL close nor disconnect */
  CHECK_EQ(session(&apdu, 255), first);
  rsp_apdu_pcsc_free(&apdu);
}

/* Another PC/SC client shares the card and resets it mid-session: the driver reports RSP_E_IO
 * for the rest of the session, and the next connect works. */
static void reset_by_other(void) {
  struct rsp_apdu apdu;
  struct rsp_es10_client c;
  SCARDCONTEXT sc;
  SCARDHANDLE h;
  DWORD proto;
  CHECK_OK(rsp_apdu_pcsc_new(reader, 0, CONNECT_TIMEOUT_MS, &apdu));
  rsp_es10_client_init(&c, &apdu);
  CHECK_OK(rsp_es10_client_open(&c));
  CHECK_OK(check_eid(&c));
  CHECK_EQ(SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &sc), SCARD_S_SUCCESS);
  LONG rv = SCardConnect(sc, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h,
                         &proto);
  CHECK_EQ(rv, SCARD_S_SUCCESS); /* the driver shares the card */
  if (rv == SCARD_S_SUCCESS) CHECK_EQ(SCardDisconnect(h, SCARD_RESET_CARD), SCARD_S_SUCCESS);
  SCardReleaseContext(sc);
  CHECK_ERR(check_eid(&c), RSP_E_IO);
  CHECK_ERR(check_eid(&c), RSP_E_IO); /* the session stays ended */
  rsp_es10_client_close(&c);
  CHECK(session(&apdu, 255) != 0);
  rsp_apdu_pcsc_free(&apdu);
}

/* Waits until pcscd sees no card in the reader. */
static bool wait_empty(void) {
  SCARDCONTEXT sc;
  SCARD_READERSTATE st;
  bool empty = false;
  if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &sc) != SCARD_S_SUCCESS) return false;
  memset(&st, 0, sizeof st);
  st.szReader = reader;
  st.dwCurrentState = SCARD_STATE_UNAWARE;
  for (int64_t end = now_ms() + REMOVAL_WAIT_MS; !empty && now_ms() < end;) {
    LONG rv = SCardGetStatusChange(sc, 200, &st, 1);
    if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) break;
    empty = (st.dwEventState & SCARD_STATE_EMPTY) != 0;
    st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
  }
  SCardReleaseContext(sc);
  return empty;
}

static int card_command(const char *what, bool background) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, background ? "(sleep 1; %s %s) &" : "%s %s",
           getenv("RSP_TEST_PCSC_CARD"), what);
  return system(cmd);
}

/* The card is taken out mid-session: RSP_E_IO; a connect while the reader is empty waits for
 * the card to come back; the card kept its eIM (rsp-euicc --state), so the next package runs. */
static void removal(void) {
  struct rsp_apdu apdu;
  struct rsp_es10_client c;
  if (!getenv("RSP_TEST_PCSC_CARD")) {
    printf("removal: RSP_TEST_PCSC_CARD is not set, not run\n");
    return;
  }
  CHECK_OK(rsp_apdu_pcsc_new(reader, 0, CONNECT_TIMEOUT_MS, &apdu));
  rsp_es10_client_init(&c, &apdu);
  CHECK_OK(rsp_es10_client_open(&c));
  CHECK_OK(check_eid(&c));
  CHECK_EQ(card_command("remove", false), 0);
  CHECK(wait_empty());
  CHECK_ERR(check_eid(&c), RSP_E_IO);
  rsp_es10_client_close(&c);
  CHECK_EQ(card_command("insert", true), 0);
  int64_t t = now_ms();
  CHECK(session(&apdu, 255) != 0);
  CHECK(now_ms() - t >= 500); /* it did wait for the card */
  rsp_apdu_pcsc_free(&apdu);
}

/* connect() on `name` must fail with `want`, after about `min_ms` and well within the timeout. */
static void connect_fails(const char *name, rsp_err_t want, int64_t min_ms) {
  struct rsp_apdu apdu;
  CHECK_OK(rsp_apdu_pcsc_new(name, 0, ERROR_TIMEOUT_MS, &apdu));
  int64_t t = now_ms();
  CHECK_ERR(apdu.ops->connect(apdu.ctx), want);
  int64_t took = now_ms() - t;
  if (took < min_ms || took > ERROR_TIMEOUT_MS + 2000)
    rsp_test_fail(__FILE__, __LINE__, "connect to '%s' failed after %lld ms", name,
                  (long long)took);
  uint8_t cmd[5] = {0x00, 0x70, 0x00, 0x00, 0x01}, r[RSP_APDU_MAX_RESPONSE];
  size_t rlen = sizeof r;
  CHECK_ERR(apdu.ops->transmit(apdu.ctx, cmd, sizeof cmd, r, &rlen), RSP_E_STATE);
  apdu.ops->disconnect(apdu.ctx);
  rsp_apdu_pcsc_free(&apdu);
}

static void reader_errors(void) {
  char name[300], other[300], prefix[300], longname[400];
  struct rsp_apdu apdu = {0};
  size_t n = strlen(reader);
  snprintf(name, sizeof name, "%s (no such reader)", reader);
  connect_fails(name, RSP_E_NOT_FOUND, ERROR_TIMEOUT_MS - 100);
  snprintf(prefix, sizeof prefix, "%.*s", (int)(n ? n - 1 : 0), reader);
  connect_fails(prefix, RSP_E_INVALID_ARG, 0); /* at once: waiting would not help */
  snprintf(other, sizeof other, "%s", reader);
  if (n) other[n - 1] = other[n - 1] == '0' ? '1' : '0';
  connect_fails(other, RSP_E_IO, ERROR_TIMEOUT_MS - 100); /* the reader is there, no card */
  CHECK_ERR(rsp_apdu_pcsc_new(reader, 4, 1000, &apdu), RSP_E_INVALID_ARG);
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  CHECK_ERR(rsp_apdu_pcsc_new(longname, 0, 1000, &apdu), RSP_E_INVALID_ARG);
  CHECK(apdu.ctx == NULL);
  rsp_apdu_pcsc_free(&apdu);
  rsp_apdu_pcsc_free(NULL);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(t0), T(t1), T(any_reader), T(reset_by_other), T(removal), T(reader_errors)};
  if (argc < 3) {
    fprintf(stderr, "usage: test_ipa_pcsc PKI_DIR READER [CASE]\n");
    return 2;
  }
  pki_dir = argv[1];
  reader = argv[2];
  rsp_log_set_level(RSP_LOG_WARN);
  read_eid();
  return rsp_test_main(argc - 2, argv + 2, cases, sizeof cases / sizeof cases[0]);
}
