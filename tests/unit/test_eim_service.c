/* The eIM's ESipa service (lib/eim/service*.c) end to end, in-process and with real crypto: a PKI
 * made by rsp-pki, a software eUICC (lib/euicc) with our eIM added by AddInitialEim, and the IPA
 * core (lib/ipa) whose ESipa port calls rsp_eim_service_esipa directly (DER in, DER out). So
 * lib/ipa's real poll loop talks to the real service over a real card: every PSMO and eCO is
 * ordered as a spec, signed, executed, its result verified and recorded; the exactly-once paths
 * (a lost package, a lost result, a lost acknowledgement, a replay, a forged signature) are
 * driven through the port.
 *
 *   test_eim_service RSP_PKI_BINARY */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../lib/euicc/euicc_internal.h"
#include "euicc_eim.h"
#include "rsp/core/alloc.h"
#include "rsp/drivers/apdu.h"
#include "rsp/eim/service.h"
#include "rsp/eim/spec.h"
#include "rsp/ipa/ipa.h"
#include "rsp/msg/base64.h"
#include "rsp/msg/json.h"
#include "rsp/msg/tags.h"
#include "rsp/smdp/service.h"
#include "smdp_world.h"
#include "test.h"

#define EIM_ID "eim-test"
#define ICCID_1 "8944012345678901234" /* fallback allowed */
#define ICCID_2 "8944012345678901242"
#define ICCID_X "8944099999999999990" /* not on the card */
#define FIRST_COUNTER 10

static const char *pki_bin;
static char pki_dir[600], ci_dir[700], eid[RSP_EID_DIGITS + 1];
/* The relay the next world_open gives its service (indirect downloads), NULL: none. */
static struct rsp_eim_relay *world_relay;
/* The store file of the next world_open, NULL: a private in-memory store. */
static const char *world_store_path;

/* ---- the world: card, IPA, store, service, and a port that can lose messages -------------------
 */

struct world {
  struct rsp_euicc *card;
  struct rsp_apdu apdu;
  struct rsp_ipa ipa;
  struct rsp_eim_store *store;
  struct rsp_eim_service *svc;
  struct rsp_test_eim eim; /* the eIM signing key and certificate of the PKI */
  int64_t now;
  /* port faults, each for the next N messages of its kind */
  int lose_provide_request;    /* ProvideEimPackageResult never reaches the eIM */
  int lose_provide_answer;     /* the eIM's answer to it never reaches the IPA */
  int lose_package_answer;     /* a GetEimPackage answer carrying a BF51 package is lost */
  int corrupt_signature;       /* a byte of euiccSignEPR is flipped on the way */
  int lose_notification;       /* HandleNotification (a PIR) never reaches the eIM */
  int corrupt_notification;    /* its last byte (of euiccSignPIR) is flipped on the way */
  struct rsp_buf last_provide; /* the last ProvideEimPackageResult that reached the eIM */
  struct rsp_buf last_notify;  /* the last HandleNotification that reached the eIM */
  int last_status;
};

static int64_t world_now(void *ctx) { return ((struct world *)ctx)->now; }

static uint32_t tag2(const uint8_t *p, size_t n) { return n >= 2 ? (uint32_t)p[0] << 8 | p[1] : 0; }

/* Flips a byte of the EPR signature inside a ProvideEimPackageResult (in place). */
static void corrupt(uint8_t *req, size_t len) {
  struct rsp_arena a;
  struct rsp_msg_esipa_message_from_ipa_to_eim *m = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(
      rsp_msg_decode(&rsp_msgt_esipa_message_from_ipa_to_eim, req, len, &a, (void **)&m, NULL));
  const struct rsp_msg_eim_package_result *r = m->u.provide_eim_package_result->eim_package_result;
  const struct rsp_msg_euicc_package_result *e =
      r->which == RSP_MSG_EIM_PACKAGE_RESULT_E_PR_AND_NOTIFICATIONS
          ? r->u.e_pr_and_notifications->euicc_package_result
          : r->u.euicc_package_result;
  CHECK_EQ(e->which, RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  ((uint8_t *)e->u.euicc_package_result_signed->euicc_sign_epr.p)[10] ^= 0x01;
  rsp_arena_free(&a);
}

static rsp_err_t port_exchange(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp) {
  struct world *w = ctx;
  uint8_t *copy = rsp_malloc(len ? len : 1);
  uint32_t tag = tag2(req, len);
  rsp_err_t rc = RSP_OK;
  memcpy(copy, req, len);
  if (tag == RSP_TAG_PROVIDE_EIM_PACKAGE_RESULT) {
    if (w->lose_provide_request > 0) {
      w->lose_provide_request--;
      rsp_free(copy);
      return RSP_E_NET;
    }
    if (w->corrupt_signature > 0) {
      w->corrupt_signature--;
      corrupt(copy, len);
    }
    rsp_buf_reset(&w->last_provide);
    rsp_buf_append(&w->last_provide, copy, len);
  }
  if (tag == RSP_TAG_HANDLE_NOTIFICATION_ESIPA && w->lose_notification > 0) {
    w->lose_notification--;
    rsp_free(copy);
    return RSP_E_NET;
  }
  if (tag == RSP_TAG_HANDLE_NOTIFICATION_ESIPA && w->corrupt_notification > 0 && len > 0) {
    w->corrupt_notification--;
    copy[len - 1] ^= 0x01;
  }
  if (tag == RSP_TAG_HANDLE_NOTIFICATION_ESIPA) {
    rsp_buf_reset(&w->last_notify);
    rsp_buf_append(&w->last_notify, copy, len);
  }
  rc = rsp_eim_service_esipa(w->svc, copy, len, resp, &w->last_status);
  rsp_free(copy);
  if (rc != RSP_OK) return rc;
  if (w->last_status != 200 && w->last_status != 204) return RSP_E_STATE;
  if (tag == RSP_TAG_PROVIDE_EIM_PACKAGE_RESULT && w->lose_provide_answer > 0) {
    w->lose_provide_answer--;
    return RSP_E_NET;
  }
  /* BF4F L BF51 ...: a signed package in the answer */
  if (tag == RSP_TAG_GET_EIM_PACKAGE_REQUEST && w->lose_package_answer > 0 && resp->len > 4) {
    size_t hdr = resp->data[2] & 0x80 ? 3 + (resp->data[2] & 0x7F) : 3;
    if (tag2(resp->data + hdr, resp->len - hdr) == RSP_TAG_EUICC_PACKAGE_REQUEST) {
      w->lose_package_answer--;
      return RSP_E_NET;
    }
  }
  return RSP_OK;
}

static const struct rsp_ipa_esipa_ops port_ops = {"eim-service", port_exchange};

static void make_pki(void) {
  char cmd[2048];
  if (pki_dir[0]) return;
  snprintf(pki_dir, sizeof pki_dir, "%s/pki", rsp_test_tmpdir("eim_service"));
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000777:1 >/dev/null",
           pki_bin, pki_dir);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", pki_dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(eid, sizeof eid, f)) rsp_test_fail(__FILE__, __LINE__, "no eUICC in the PKI");
  if (f) pclose(f);
  eid[strcspn(eid, "\n")] = '\0';
  snprintf(ci_dir, sizeof ci_dir, "%s/ci", pki_dir);
}

/* A disabled profile whose metadata asks for notifications of every event. */
static void install(struct rsp_euicc *c, const char *digits, bool fallback_allowed) {
  uint8_t iccid[RSP_ICCID_LEN], bits[5], hash[32] = {0};
  struct euicc_profile *p = NULL;
  struct rsp_buf md;
  rsp_iccid_encode(digits, iccid);
  struct rsp_msg_notification_configuration_information nci = {
      .profile_management_operation = rsp_msg_bits_make(0x0F, bits),
      .notification_address = rsp_msg_slice("smdp.example", 12)};
  struct rsp_msg_sgp32_store_metadata_request_notification_configuration_info nl = {.v = &nci,
                                                                                    .n = 1};
  struct rsp_msg_sgp32_store_metadata_request m = {
      .iccid = rsp_msg_slice(iccid, RSP_ICCID_LEN),
      .service_provider_name = rsp_msg_slice("Operator", 8),
      .profile_name = rsp_msg_slice("IoT", 3),
      .profile_class = rsp_msg_int_make(RSP_MSG_PROFILE_CLASS_OPERATIONAL),
      .notification_configuration_info = &nl,
      .fallback_allowed = {fallback_allowed, fallback_allowed}};
  rsp_buf_init(&md, 4096);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_sgp32_store_metadata_request, &m, &md, NULL));
  CHECK_OK(rsp__euicc_install(c, rsp_msg_slice(md.data, md.len), iccid, hash, 100, &p));
  CHECK_OK(rsp__euicc_commit(c));
  rsp_buf_free(&md);
}

/* AddInitialEim of our eIM on the card; the associationToken it allocated. */
static int64_t add_initial_eim(struct world *w) {
  struct rsp_buf in, out;
  struct rsp_arena a;
  struct rsp_msg_add_initial_eim_response *r = NULL;
  int64_t token = -1;
  rsp_buf_init(&in, 1 << 16);
  rsp_buf_init(&out, 1 << 16);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_test_eim_add_initial(&w->eim, EIM_ID, FIRST_COUNTER, &in));
  CHECK_OK(rsp_euicc_es10(w->card, in.data, in.len, &out));
  CHECK_OK(
      rsp_msg_decode(&rsp_msgt_add_initial_eim_response, out.data, out.len, &a, (void **)&r, NULL));
  if (r && r->which == RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK)
    token = r->u.add_initial_eim_ok->v[0].u.association_token;
  CHECK(token >= 1);
  rsp_arena_free(&a);
  rsp_buf_free(&in);
  rsp_buf_free(&out);
  return token;
}

/* A fresh world; `with_certs`: the device is registered with its certificates (else the service
 * must ask the card for them). */
static void world_open(struct world *w, bool with_certs) {
  char path[900];
  size_t euicc_len = 0, eum_len = 0;
  uint8_t *euicc = NULL, *eum = NULL;
  memset(w, 0, sizeof *w);
  make_pki();
  w->now = (int64_t)time(NULL);
  rsp_buf_init(&w->last_provide, 1 << 20);
  rsp_buf_init(&w->last_notify, 1 << 16);
  struct rsp_euicc_options co = {.pki_dir = pki_dir, .eid = eid};
  CHECK_OK(rsp_euicc_open(&co, &w->card));
  CHECK_OK(rsp_test_eim_load(&w->eim, pki_dir));
  install(w->card, ICCID_1, true);
  install(w->card, ICCID_2, false);
  int64_t token = add_initial_eim(w);
  CHECK_OK(rsp_eim_store_sqlite_open(world_store_path ? world_store_path : ":memory:", &w->store));
  snprintf(path, sizeof path, "%s/euicc/%s/cert.der", pki_dir, eid);
  euicc = rsp_test_read_file(path, &euicc_len);
  snprintf(path, sizeof path, "%s/eum/cert.der", pki_dir);
  eum = rsp_test_read_file(path, &eum_len);
  CHECK(euicc && eum);
  struct rsp_eim_device_new d = {.eid = eid,
                                 .eim_id = EIM_ID,
                                 .has_association_token = true,
                                 .association_token = token,
                                 .next_counter = FIRST_COUNTER + 1};
  if (with_certs) {
    d.euicc_cert = rsp_msg_slice(euicc, euicc_len);
    d.eum_cert = rsp_msg_slice(eum, eum_len);
  }
  CHECK_OK(rsp_eim_store_device_register(w->store, &d, w->now));
  rsp_free(euicc);
  rsp_free(eum);
  struct rsp_eim_service_options so = {.eim_id = EIM_ID,
                                       .signer = w->eim.signer,
                                       .store = w->store,
                                       .ci_dir = ci_dir,
                                       .relay = world_relay,
                                       .now = world_now,
                                       .now_ctx = w};
  CHECK_OK(rsp_eim_service_new(&so, &w->svc));
  rsp_apdu_inproc_init(&w->apdu, w->card);
  rsp_ipa_init(&w->ipa, &w->apdu, &port_ops, w);
  w->ipa.eim_id = EIM_ID;
}

static void world_close(struct world *w) {
  rsp_eim_service_destroy(w->svc);
  rsp_eim_store_close(w->store);
  rsp_test_eim_free(&w->eim);
  rsp_euicc_destroy(w->card);
  rsp_buf_free(&w->last_provide);
  rsp_buf_free(&w->last_notify);
}

static int64_t enqueue_at(struct world *w, const char *spec, int64_t not_before, int64_t expires) {
  int64_t id = 0;
  struct rsp_arena a;
  struct rsp_eim_spec parsed;
  char why[256];
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_eim_spec_parse(spec, strlen(spec), &a, &parsed, why, sizeof why);
  if (rc != RSP_OK) rsp_test_fail(__FILE__, __LINE__, "spec %s: %s", spec, why);
  struct rsp_eim_op_new op = {.eid = eid,
                              .kind = parsed.kind,
                              .spec = spec,
                              .not_before = not_before,
                              .expires_at = expires};
  CHECK_OK(rsp_eim_store_op_enqueue(w->store, &op, w->now, &id));
  rsp_arena_free(&a);
  return id;
}

static int64_t enqueue(struct world *w, const char *spec) { return enqueue_at(w, spec, 0, 0); }

/* The operation as the store has it now (the caller frees). */
static void op_get(struct world *w, int64_t id, struct rsp_eim_operation *op) {
  rsp_eim_operation_init(op);
  CHECK_OK(rsp_eim_store_op_get(w->store, id, op));
}

#define CHECK_OP(w, id, want_state, want_summary)                                                  \
  do {                                                                                             \
    struct rsp_eim_operation op_;                                                                  \
    op_get(w, id, &op_);                                                                           \
    CHECK_STR(rsp_eim_op_state_name(op_.state), rsp_eim_op_state_name(want_state));                \
    const char *want_ = (want_summary);                                                            \
    if (want_) CHECK_STR(op_.result_summary, want_);                                               \
    rsp_eim_operation_free(&op_);                                                                  \
  } while (0)

/* How many audit entries of `event` the trail has for operation `id` (0: any operation). */
static size_t audit_count(struct world *w, int64_t id, const char *event) {
  struct rsp_eim_audit_list l;
  struct rsp_eim_audit_query q = {.eid = eid, .operation_id = id, .limit = RSP_EIM_PAGE_MAX};
  size_t n = 0;
  CHECK_OK(rsp_eim_store_audit_list(w->store, &q, &l));
  for (size_t i = 0; i < l.n; i++) n += strcmp(l.v[i].event, event) == 0;
  rsp_eim_audit_list_free(&l);
  return n;
}

/* How many results (package results and notifications) the card still holds. */
static size_t card_pending(struct world *w) {
  struct rsp_buf in, out;
  struct rsp_arena a;
  size_t n = 0;
  rsp_buf_init(&in, 256);
  rsp_buf_init(&out, 1 << 20);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  for (int eprs = 0; eprs < 2; eprs++) {
    struct rsp_msg_sgp32_retrieve_notifications_list_request_search_criteria sc = {
        .which =
            RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_REQUEST_SEARCH_CRITERIA_EUICC_PACKAGE_RESULTS,
        .u.euicc_package_results = true};
    struct rsp_msg_sgp32_retrieve_notifications_list_request q = {.search_criteria =
                                                                      eprs ? &sc : NULL};
    struct rsp_msg_sgp32_retrieve_notifications_list_response *r = NULL;
    rsp_buf_reset(&in);
    rsp_buf_reset(&out);
    CHECK_OK(rsp_msg_encode(&rsp_msgt_sgp32_retrieve_notifications_list_request, &q, &in, NULL));
    CHECK_OK(rsp_euicc_es10(w->card, in.data, in.len, &out));
    uint8_t *copy = rsp_arena_alloc(&a, out.len);
    memcpy(copy, out.data, out.len);
    CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_retrieve_notifications_list_response, copy, out.len, &a,
                            (void **)&r, NULL));
    if (r &&
        r->which == RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_EUICC_PACKAGE_RESULT_LIST)
      n += r->u.euicc_package_result_list->n;
    if (r && r->which == RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_NOTIFICATION_LIST)
      n += r->u.notification_list->n;
  }
  rsp_arena_free(&a);
  rsp_buf_free(&in);
  rsp_buf_free(&out);
  return n;
}

static void device(struct world *w, struct rsp_eim_device *d) {
  rsp_eim_device_init(d);
  CHECK_OK(rsp_eim_store_device_get(w->store, eid, d));
}

/* ---- cases -------------------------------------------------------------------------------------
 */

static const char *const OK_LIST =
    "{\"result\":\"ok\",\"counter\":%d,\"seqNumber\":%d,\"operations\":[%s]%s}";

static void every_psmo(void) {
  struct world w;
  world_open(&w, true);
  int64_t list = enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  int64_t en1 =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_1 "\"}}]}");
  int64_t en2 = enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_2
                            "\",\"rollback\":true}}]}");
  int64_t dis =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"disable\":{\"iccid\":\"" ICCID_2 "\"}}]}");
  int64_t misc = enqueue(
      &w, "{\"kind\":\"psmo\",\"psmos\":[{\"setFallbackAttribute\":{\"iccid\":\"" ICCID_1 "\"}},"
          "{\"unsetFallbackAttribute\":{}},{\"getRAT\":{}},"
          "{\"configureImmediateEnable\":{\"enable\":true,\"smdpAddress\":\"smdp.example\"}},"
          "{\"setDefaultDpAddress\":{\"address\":\"smdp2.example\"}}]}");
  int64_t del =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"delete\":{\"iccid\":\"" ICCID_2 "\"}},"
                  "{\"listProfileInfo\":{\"iccid\":\"" ICCID_1 "\"}}]}");
  int64_t bad =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_X "\"}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(w.ipa.stats.packages, 7);
  char want[2048];
  snprintf(
      want, sizeof want, OK_LIST, 11, 1,
      "{\"listProfileInfo\":{\"profiles\":[{\"iccid\":\"" ICCID_1
      "\",\"state\":\"disabled\",\"name\":\"IoT\",\"class\":\"operational\"},{\"iccid\":\"" ICCID_2
      "\",\"state\":\"disabled\",\"name\":\"IoT\",\"class\":\"operational\"}]}}",
      "");
  CHECK_OP(&w, list, RSP_EIM_OP_DONE, want);
  /* each enable raises the card's enable (and disable) notifications: they travel with the
   * result (ePRAndNotifications) and are counted in the summary */
  snprintf(want, sizeof want, OK_LIST, 12, 3, "{\"enable\":\"ok\"}", ",\"notifications\":1");
  CHECK_OP(&w, en1, RSP_EIM_OP_DONE, want);
  CHECK_OP(&w, en2, RSP_EIM_OP_DONE, NULL);
  CHECK_OP(&w, dis, RSP_EIM_OP_DONE, NULL);
  CHECK_OP(&w, misc, RSP_EIM_OP_DONE, NULL);
  struct rsp_eim_operation op;
  op_get(&w, misc, &op);
  CHECK(op.result_summary &&
        strstr(op.result_summary, "\"operations\":[{\"setFallbackAttribute\":\"ok\"},"
                                  "{\"unsetFallbackAttribute\":\"ok\"},{\"getRAT\":{\"rules\":0}},"
                                  "{\"configureImmediateEnable\":\"ok\"},"
                                  "{\"setDefaultDpAddress\":\"ok\"}]"));
  rsp_eim_operation_free(&op);
  CHECK_OP(&w, del, RSP_EIM_OP_DONE, NULL);
  CHECK_OP(&w, bad, RSP_EIM_OP_FAILED, NULL);
  op_get(&w, bad, &op);
  CHECK_STR(op.error, "enable: iccidOrAidNotFound");
  CHECK(op.result_summary && strstr(op.result_summary, "{\"result\":\"error\""));
  rsp_eim_operation_free(&op);
  /* the view: ICCID_2 deleted, ICCID_1 as the last listProfileInfo said; nothing enabled */
  struct rsp_eim_profile prof[4];
  size_t n = 0;
  CHECK_OK(rsp_eim_store_profiles_list(w.store, eid, prof, 4, &n));
  CHECK_EQ(n, 1);
  CHECK_STR(prof[0].iccid, ICCID_1);
  CHECK_EQ(prof[0].state, RSP_EIM_PROFILE_DISABLED);
  /* the card kept nothing: every result and notification was acknowledged */
  CHECK_EQ(card_pending(&w), 0);
  /* the notifications are recorded for forwarding to their address */
  struct rsp_eim_notification note;
  rsp_eim_notification_init(&note);
  CHECK_OK(rsp_eim_store_notification_next(w.store, &note));
  CHECK_STR(note.forward_address, "smdp.example");
  CHECK_STR(note.iccid, ICCID_1);
  CHECK_EQ(note.kind, RSP_EIM_NOTIF_ENABLE);
  rsp_eim_notification_free(&note);
  struct rsp_eim_service_stats st;
  rsp_eim_service_stats(w.svc, &st);
  CHECK_EQ(st.packages_sent, 7);
  CHECK_EQ(st.results, 7);
  CHECK(st.notifications >= 4);
  CHECK_EQ(st.bad_signatures, 0);
  world_close(&w);
}

static void enabled_view(void) {
  struct world w;
  world_open(&w, true);
  enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_2 "\"}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  struct rsp_eim_device d;
  device(&w, &d);
  CHECK_STR(d.enabled_iccid, ICCID_2);
  CHECK_EQ(d.next_counter, FIRST_COUNTER + 3);
  CHECK(d.last_seen == w.now);
  rsp_eim_device_free(&d);
  world_close(&w);
}

static void every_eco(void) {
  struct world w;
  char spec[8192], cert[4096];
  world_open(&w, true);
  CHECK_OK(rsp_msg_base64_encode(w.eim.cert.data, w.eim.cert.len, cert, sizeof cert));
  int64_t list = enqueue(&w, "{\"kind\":\"eco\",\"ecos\":[{\"listEim\":{}}]}");
  snprintf(spec, sizeof spec,
           "{\"kind\":\"eco\",\"ecos\":[{\"addEim\":{\"eimId\":\"eim-2\",\"fqdn\":\"eim2.example\","
           "\"counter\":0,\"certificate\":\"%s\",\"associationToken\":true}},"
           "{\"updateEim\":{\"eimId\":\"eim-2\",\"counter\":5}},{\"listEim\":{}},"
           "{\"deleteEim\":{\"eimId\":\"eim-2\"}}]}",
           cert);
  int64_t ops = enqueue(&w, spec);
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  char want[1024];
  snprintf(want, sizeof want, OK_LIST, 11, 1, "{\"listEim\":{\"eimIds\":[\"" EIM_ID "\"]}}", "");
  CHECK_OP(&w, list, RSP_EIM_OP_DONE, want);
  snprintf(want, sizeof want, OK_LIST, 12, 2,
           "{\"addEim\":{\"associationToken\":2}},{\"updateEim\":\"ok\"},"
           "{\"listEim\":{\"eimIds\":[\"" EIM_ID "\",\"eim-2\"]}},{\"deleteEim\":\"ok\"}",
           "");
  CHECK_OP(&w, ops, RSP_EIM_OP_DONE, want);
  world_close(&w);
}

/* Several polls: the queue is served in order, an operation waits for its not_before, and one
 * that expired is never sent. */
static void queue_order_and_expiry(void) {
  struct world w;
  world_open(&w, true);
  int64_t a = enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}");
  int64_t later =
      enqueue_at(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}", w.now + 100, 0);
  int64_t after = enqueue(&w, "{\"kind\":\"eco\",\"ecos\":[{\"listEim\":{}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, a, RSP_EIM_OP_DONE, NULL);
  CHECK_OP(&w, later, RSP_EIM_OP_QUEUED, NULL);
  CHECK_OP(&w, after, RSP_EIM_OP_QUEUED, NULL); /* held back behind `later` */
  w.now += 101;
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, later, RSP_EIM_OP_DONE, NULL);
  CHECK_OP(&w, after, RSP_EIM_OP_DONE, NULL);
  /* expiry: queued until it is too late, then expired by the next poll, never sent */
  int64_t gone = enqueue_at(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}", 0, w.now + 10);
  w.now += 20;
  unsigned before = w.ipa.stats.packages;
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, gone, RSP_EIM_OP_EXPIRED, NULL);
  CHECK_EQ(w.ipa.stats.packages, before);
  CHECK_EQ(audit_count(&w, gone, "sent"), 0);
  /* the counters were handed out in queue order */
  struct rsp_eim_operation o1, o2, o3;
  op_get(&w, a, &o1);
  op_get(&w, later, &o2);
  op_get(&w, after, &o3);
  CHECK(o1.counter < o2.counter && o2.counter < o3.counter);
  rsp_eim_operation_free(&o1);
  rsp_eim_operation_free(&o2);
  rsp_eim_operation_free(&o3);
  world_close(&w);
}

/* A device that polls after many operations were queued gets all of them, in order, in one
 * poll; the certificates it was registered without are asked for first. */
static void many_queued(void) {
  struct world w;
  int64_t ids[12];
  world_open(&w, false);
  for (int i = 0; i < 12; i++)
    ids[i] = enqueue(&w, i % 2 ? "{\"kind\":\"eco\",\"ecos\":[{\"listEim\":{}}]}"
                               : "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(w.ipa.stats.packages, 12);
  CHECK_EQ(w.ipa.stats.data_requests, 1); /* the certificates */
  int64_t last = 0;
  for (int i = 0; i < 12; i++) {
    struct rsp_eim_operation op;
    op_get(&w, ids[i], &op);
    CHECK_EQ(op.state, RSP_EIM_OP_DONE);
    CHECK_EQ(op.counter, FIRST_COUNTER + 1 + i);
    CHECK(op.done_at >= last);
    last = op.done_at;
    rsp_eim_operation_free(&op);
  }
  struct rsp_eim_device d;
  device(&w, &d);
  CHECK(d.euicc_cert.len > 0 && d.eum_cert.len > 0 && d.euicc_info2.len > 0);
  rsp_eim_device_free(&d);
  world_close(&w);
}

static void unknown_eid_and_malformed(void) {
  struct world w;
  struct rsp_buf resp;
  int status = 0;
  world_open(&w, true);
  rsp_buf_init(&resp, 1 << 16);
  /* GetEimPackage for an EID nobody registered: eimPackageError eidNotFound */
  uint8_t other[RSP_EID_LEN];
  CHECK_OK(rsp_eid_from_string("89049032000000000000000000000001", other));
  struct rsp_msg_get_eim_package_request g = {.eid_value = rsp_msg_slice(other, 16)};
  struct rsp_msg_esipa_message_from_ipa_to_eim m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST,
      .u.get_eim_package_request = &g};
  struct rsp_buf req;
  rsp_buf_init(&req, 1 << 16);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_esipa_message_from_ipa_to_eim, &m, &req, NULL));
  CHECK_OK(rsp_eim_service_esipa(w.svc, req.data, req.len, &resp, &status));
  CHECK_EQ(status, 200);
  CHECK(resp.len == 6 && memcmp(resp.data, "\xBF\x4F\x03\x02\x01\x02", 6) == 0);
  /* non-BCD EID digits: invalidEid */
  memset(other, 0xAB, sizeof other);
  rsp_buf_reset(&req);
  rsp_buf_reset(&resp);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_esipa_message_from_ipa_to_eim, &m, &req, NULL));
  CHECK_OK(rsp_eim_service_esipa(w.svc, req.data, req.len, &resp, &status));
  CHECK(resp.len == 6 && resp.data[5] == 3);
  /* ProvideEimPackageResult for an unknown EID: provideEimPackageResultError eidNotFound */
  CHECK_OK(rsp_eid_from_string("89049032000000000000000000000001", other));
  struct rsp_msg_eim_package_result_response_error re = {.eim_package_result_error_code = 1};
  struct rsp_msg_eim_package_result r = {
      .which = RSP_MSG_EIM_PACKAGE_RESULT_EIM_PACKAGE_RESULT_RESPONSE_ERROR,
      .u.eim_package_result_response_error = &re};
  struct rsp_msg_provide_eim_package_result p = {.eid_value = rsp_msg_slice(other, 16),
                                                 .eim_package_result = &r};
  m.which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT;
  m.u.provide_eim_package_result = &p;
  rsp_buf_reset(&req);
  rsp_buf_reset(&resp);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_esipa_message_from_ipa_to_eim, &m, &req, NULL));
  CHECK_OK(rsp_eim_service_esipa(w.svc, req.data, req.len, &resp, &status));
  CHECK(resp.len == 6 && memcmp(resp.data, "\xBF\x50\x03\x02\x01\x02", 6) == 0);
  /* without eidValue and without an eimTransactionId to find it: missingEid */
  p.eid_value = rsp_msg_slice(NULL, 0);
  rsp_buf_reset(&req);
  rsp_buf_reset(&resp);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_esipa_message_from_ipa_to_eim, &m, &req, NULL));
  CHECK_OK(rsp_eim_service_esipa(w.svc, req.data, req.len, &resp, &status));
  CHECK(resp.len == 6 && resp.data[5] == 4);
  /* malformed bodies: 400, nothing answered; every truncated prefix of a valid request too */
  static const uint8_t junk[] = {0xBF, 0x4F, 0x05, 0x5A, 0x03, 0x01, 0x02};
  rsp_buf_reset(&resp);
  CHECK_OK(rsp_eim_service_esipa(w.svc, junk, sizeof junk, &resp, &status));
  CHECK_EQ(status, 400);
  CHECK_EQ(resp.len, 0);
  CHECK_OK(rsp_eim_service_esipa(w.svc, NULL, 0, &resp, &status));
  CHECK_EQ(status, 400);
  for (size_t n = 0; n < req.len; n++) {
    uint8_t *prefix = rsp_malloc(n ? n : 1);
    memcpy(prefix, req.data, n);
    CHECK_OK(rsp_eim_service_esipa(w.svc, prefix, n, &resp, &status));
    CHECK_EQ(status, 400);
    rsp_free(prefix);
  }
  CHECK_EQ(resp.len, 0);
  /* a request the eIM does not take (transferEimPackageResponse) */
  static const uint8_t transfer[] = {0xBF, 0x4E, 0x02, 0x05, 0x00};
  CHECK_OK(rsp_eim_service_esipa(w.svc, transfer, sizeof transfer, &resp, &status));
  CHECK_EQ(status, 400);
  struct rsp_eim_service_stats st;
  rsp_eim_service_stats(w.svc, &st);
  CHECK_EQ(st.unknown_devices, 2);
  CHECK(st.refused >= req.len + 3);
  rsp_buf_free(&req);
  rsp_buf_free(&resp);
  world_close(&w);
}

/* A forged result (one byte of euiccSignEPR flipped on the way): refused with an error, audited,
 * nothing applied or acknowledged. The operation stays sent, so the next GetEimPackage asks the
 * card for its pending results, and the genuine copy the card kept closes it. */
static void bad_signature(void) {
  struct world w;
  struct rsp_eim_audit_list l;
  struct rsp_eim_audit_query q = {.eid = eid, .limit = RSP_EIM_PAGE_MAX};
  world_open(&w, true);
  int64_t id =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_1 "\"}}]}");
  enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  w.corrupt_signature = 1;
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(w.ipa.stats.data_requests, 1); /* the pending results: the EPR was not acknowledged */
  CHECK_OP(&w, id, RSP_EIM_OP_DONE, NULL);
  CHECK_EQ(audit_count(&w, 0, "bad_signature"), 1);
  CHECK_EQ(audit_count(&w, id, "result"), 1);
  CHECK_EQ(card_pending(&w), 0);
  /* the trail: the forged bytes refused first, the genuine ones recorded after, different */
  struct rsp_eim_operation op;
  op_get(&w, id, &op);
  CHECK_OK(rsp_eim_store_audit_list(w.store, &q, &l));
  size_t bad_at = 0, result_at = 0;
  for (size_t i = 0; i < l.n; i++) {
    if (strcmp(l.v[i].event, "bad_signature") == 0) {
      bad_at = i + 1;
      CHECK(l.v[i].der.len == op.result.len &&
            memcmp(l.v[i].der.data, op.result.data, op.result.len) != 0);
      CHECK(l.v[i].detail && strstr(l.v[i].detail, "eUICC signature"));
    }
    if (strcmp(l.v[i].event, "result") == 0 && l.v[i].operation_id == id) result_at = i + 1;
  }
  CHECK(bad_at && result_at && bad_at < result_at);
  rsp_eim_audit_list_free(&l);
  rsp_eim_operation_free(&op);
  struct rsp_eim_service_stats st;
  rsp_eim_service_stats(w.svc, &st);
  CHECK_EQ(st.bad_signatures, 1);
  CHECK_EQ(st.results, 2);
  world_close(&w);
}

/* The refusal itself, seen from the port: provideEimPackageResultError undefinedError, and the
 * view untouched. */
static void bad_signature_answer(void) {
  struct world w;
  struct rsp_buf resp;
  int status = 0;
  world_open(&w, true);
  rsp_buf_init(&resp, 1 << 16);
  int64_t id =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_2 "\"}}]}");
  w.lose_provide_answer = 1; /* keep the genuine request, let the IPA stop there */
  CHECK(rsp_ipa_poll(&w.ipa) != RSP_OK);
  CHECK_OP(&w, id, RSP_EIM_OP_DONE, NULL);
  corrupt(w.last_provide.data, w.last_provide.len);
  CHECK_OK(rsp_eim_service_esipa(w.svc, w.last_provide.data, w.last_provide.len, &resp, &status));
  CHECK_EQ(status, 200);
  CHECK(resp.len == 6 && memcmp(resp.data, "\xBF\x50\x03\x02\x01\x7F", 6) == 0);
  CHECK_EQ(audit_count(&w, id, "result"), 1);
  CHECK_EQ(audit_count(&w, 0, "bad_signature"), 1);
  rsp_buf_free(&resp);
  world_close(&w);
}

/* The same ProvideEimPackageResult twice: acknowledged both times, recorded once. */
static void replayed_result(void) {
  struct world w;
  struct rsp_buf first, again;
  int status = 0;
  world_open(&w, true);
  rsp_buf_init(&first, 1 << 16);
  rsp_buf_init(&again, 1 << 16);
  int64_t id = enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, id, RSP_EIM_OP_DONE, NULL);
  CHECK_OK(rsp_eim_service_esipa(w.svc, w.last_provide.data, w.last_provide.len, &again, &status));
  CHECK_EQ(status, 200);
  /* BF50 { BF53 { 80 01 seq } } */
  CHECK(again.len >= 8 && tag2(again.data + 3, again.len - 3) == RSP_TAG_EIM_ACKNOWLEDGEMENTS);
  CHECK_EQ(audit_count(&w, id, "result"), 1);
  struct rsp_eim_service_stats st;
  rsp_eim_service_stats(w.svc, &st);
  CHECK_EQ(st.results, 1);
  CHECK_EQ(st.duplicates, 1);
  rsp_buf_free(&first);
  rsp_buf_free(&again);
  world_close(&w);
}

/* A result lost on the way to the eIM, and an acknowledgement lost on the way back: the card
 * keeps the result, the next poll delivers it, and it is recorded exactly once. */
static void lost_result(void) {
  struct world w;
  world_open(&w, true);
  int64_t id =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_1 "\"}}]}");
  w.lose_provide_request = 1;
  CHECK(rsp_ipa_poll(&w.ipa) != RSP_OK);
  CHECK_OP(&w, id, RSP_EIM_OP_SENT, NULL);
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(w.ipa.stats.redelivered, 1);
  CHECK_OP(&w, id, RSP_EIM_OP_DONE, NULL);
  CHECK_EQ(card_pending(&w), 0);
  /* now the answer (with the acknowledgement) is lost: recorded, then a duplicate */
  int64_t id2 =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"disable\":{\"iccid\":\"" ICCID_1 "\"}}]}");
  w.lose_provide_answer = 1;
  CHECK(rsp_ipa_poll(&w.ipa) != RSP_OK);
  CHECK_OP(&w, id2, RSP_EIM_OP_DONE, NULL);
  CHECK(card_pending(&w) >= 1);
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(card_pending(&w), 0);
  CHECK_EQ(audit_count(&w, id, "result"), 1);
  CHECK_EQ(audit_count(&w, id2, "result"), 1);
  CHECK_EQ(audit_count(&w, id2, "sent"), 1);
  struct rsp_eim_service_stats st;
  rsp_eim_service_stats(w.svc, &st);
  CHECK_EQ(st.results, 2);
  CHECK_EQ(st.duplicates, 1);
  world_close(&w);
}

/* A package lost on the way to the device: the next poll asks the card for its pending results
 * (none), records the check, and re-sends the very same bytes, which the card then executes. */
static void lost_package(void) {
  struct world w;
  struct rsp_eim_operation op;
  struct rsp_buf first;
  world_open(&w, true);
  rsp_buf_init(&first, 1 << 16);
  int64_t id =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_2 "\"}}]}");
  w.lose_package_answer = 1;
  CHECK(rsp_ipa_poll(&w.ipa) != RSP_OK);
  op_get(&w, id, &op);
  CHECK_EQ(op.state, RSP_EIM_OP_SENT);
  CHECK_EQ(op.sent_count, 1);
  CHECK_EQ(op.checked_count, 0);
  rsp_buf_append(&first, op.package.data, op.package.len);
  rsp_eim_operation_free(&op);
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(w.ipa.stats.data_requests, 1); /* the pending-results check */
  op_get(&w, id, &op);
  CHECK_EQ(op.state, RSP_EIM_OP_DONE);
  CHECK_EQ(op.sent_count, 2);
  CHECK(op.package.len == first.len && memcmp(op.package.data, first.data, first.len) == 0);
  rsp_eim_operation_free(&op);
  CHECK_EQ(audit_count(&w, id, "results_checked"), 1);
  CHECK_EQ(audit_count(&w, id, "resent"), 1);
  struct rsp_eim_service_stats st;
  rsp_eim_service_stats(w.svc, &st);
  CHECK_EQ(st.packages_sent, 1);
  CHECK_EQ(st.packages_resent, 1);
  rsp_buf_free(&first);
  world_close(&w);
}

/* An IpaEuiccDataRequest ordered by the operator: answered by the card, recorded, and what it
 * taught kept in the registry. */
static void euicc_data_request(void) {
  struct world w;
  world_open(&w, true);
  int64_t id = enqueue(&w, "{\"kind\":\"euicc_data\",\"tags\":\"BF22A5A6BF2081\"}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(w.ipa.stats.data_requests, 1);
  CHECK_OP(&w, id, RSP_EIM_OP_DONE,
           "{\"result\":\"ok\",\"returned\":[\"euiccInfo1\",\"euiccInfo2\",\"eumCertificate\","
           "\"euiccCertificate\"]}");
  struct rsp_eim_device d;
  device(&w, &d);
  CHECK(d.euicc_info2.len > 0);
  rsp_eim_device_free(&d);
  world_close(&w);
}

/* A spec that no longer parses (stored by an older release, say) fails its operation and does not
 * block the queue. */
static void bad_spec_skipped(void) {
  struct world w;
  int64_t id = 0;
  world_open(&w, true);
  struct rsp_eim_op_new bad = {.eid = eid, .kind = RSP_EIM_OP_PSMO, .spec = "{\"kind\":\"psmo\"}"};
  CHECK_OK(rsp_eim_store_op_enqueue(w.store, &bad, w.now, &id));
  int64_t good = enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, id, RSP_EIM_OP_FAILED, NULL);
  CHECK_OP(&w, good, RSP_EIM_OP_DONE, NULL);
  struct rsp_eim_operation op;
  op_get(&w, id, &op);
  CHECK_STR(op.error, "spec: psmos: missing");
  rsp_eim_operation_free(&op);
  world_close(&w);
}

/* notifyStateChange is recorded (audit, last seen), nothing is queued. */
/* PRAGMA data_version of a watching connection: it changes when another connection commits. */
static int64_t data_version(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* The device's last_seen as another handle on the file sees it. */
static int64_t seen_elsewhere(const char *path) {
  struct rsp_eim_store *o = NULL;
  struct rsp_eim_device d;
  int64_t v = -1;
  rsp_eim_device_init(&d);
  CHECK_OK(rsp_eim_store_sqlite_open(path, &o));
  if (o && rsp_eim_store_device_get(o, eid, &d) == RSP_OK) v = d.last_seen;
  rsp_eim_device_free(&d);
  rsp_eim_store_close(o);
  return v;
}

/* A poll with an empty queue commits nothing (one read; last_seen held in memory): its handle
 * shows it at once, the file gets it with the next state change or flush. */
static void empty_poll(void) {
  struct world w;
  char dir[600], path[700];
  sqlite3 *watch = NULL;
  struct rsp_eim_device d;
  snprintf(dir, sizeof dir, "%s", rsp_test_tmpdir("eim_service_poll"));
  snprintf(path, sizeof path, "%s/eim.db", dir);
  world_store_path = path;
  world_open(&w, true);
  world_store_path = NULL;
  CHECK(sqlite3_open_v2(path, &watch, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  int64_t v0 = data_version(watch);
  w.now += 60;
  for (int i = 0; i < 3; i++) CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(w.ipa.stats.packages, 0);
  CHECK_EQ(data_version(watch), v0); /* no commit */
  device(&w, &d);
  CHECK_EQ(d.last_seen, w.now);
  rsp_eim_device_free(&d);
  CHECK(seen_elsewhere(path) < w.now);
  /* A poll that sends a package commits the poll with the package (one transaction). */
  w.now += 60;
  int64_t id = enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  CHECK_EQ(seen_elsewhere(path), w.now - 60); /* the enqueue carried the held poll */
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, id, RSP_EIM_OP_DONE, NULL);
  CHECK_EQ(seen_elsewhere(path), w.now);
  /* Empty again: held until the flush. */
  w.now += 60;
  v0 = data_version(watch);
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(data_version(watch), v0);
  CHECK_EQ(seen_elsewhere(path), w.now - 60);
  CHECK_OK(rsp_eim_store_flush(w.store));
  CHECK(data_version(watch) != v0);
  CHECK_EQ(seen_elsewhere(path), w.now);
  sqlite3_close(watch);
  world_close(&w);
  for (const char *const *x = (const char *const[]){"", "-wal", "-shm", NULL}; *x; x++) {
    char f[720];
    snprintf(f, sizeof f, "%s%s", path, *x);
    remove(f);
  }
  remove(dir);
}

static void state_change(void) {
  struct world w;
  world_open(&w, true);
  w.ipa.notify_state_change = true;
  w.ipa.state_change_cause = RSP_MSG_STATE_CHANGE_CAUSE_IMMEDIATE_ENABLE_PROFILE;
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(audit_count(&w, 0, "state_change"), 1);
  struct rsp_eim_op_list l;
  CHECK_OK(rsp_eim_store_op_list(w.store, eid, 0, 10, &l));
  CHECK_EQ(l.n, 0);
  rsp_eim_op_list_free(&l);
  world_close(&w);
}

/* ---- the JSON binding --------------------------------------------------------------------------
 */

static rsp_err_t json_call(struct world *w, const char *fn, const char *body, struct rsp_buf *resp,
                           int *status) {
  rsp_buf_reset(resp);
  return rsp_eim_service_esipa_json(w->svc, fn, (const uint8_t *)body, strlen(body), resp, status);
}

static void json_binding(void) {
  struct world w;
  struct rsp_buf resp, out;
  struct rsp_msg_json_doc doc;
  static char body[16384];
  int status = 0;
  world_open(&w, true);
  rsp_buf_init(&resp, 1 << 20);
  rsp_buf_init(&out, 1 << 16);
  rsp_msg_json_doc_init(&doc);
  snprintf(body, sizeof body, "{\"eidValue\":\"%s\"}", eid);
  CHECK_OK(json_call(&w, "getEimPackage", body, &resp, &status));
  CHECK_EQ(status, 200);
  CHECK(resp.len &&
        strncmp((char *)resp.data,
                "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\""
                "}},\"eimPackageError\":1}",
                resp.len) == 0);
  /* a package: executed on the card, its result given back over JSON */
  int64_t id = enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}");
  CHECK_OK(json_call(&w, "getEimPackage", body, &resp, &status));
  CHECK_EQ(status, 200);
  struct rsp_esipa_json_get_eim_package_resp g;
  CHECK_OK(rsp_msg_json_decode(&rsp_esipa_json_get_eim_package_resp_type, (char *)resp.data,
                               resp.len, &doc, &g, NULL));
  CHECK(g.euicc_package_request.p != NULL);
  if (g.euicc_package_request.p)
    CHECK_OK(rsp_euicc_es10(w.card, g.euicc_package_request.p, g.euicc_package_request.len, &out));
  static char b64[4096];
  CHECK_OK(rsp_msg_base64_encode(out.data, out.len, b64, sizeof b64));
  snprintf(body, sizeof body, "{\"eidValue\":\"%s\",\"eimPackageResult\":\"%s\"}", eid, b64);
  CHECK_OK(json_call(&w, "provideEimPackageResult", body, &resp, &status));
  CHECK_EQ(status, 200);
  struct rsp_esipa_json_provide_eim_package_result_resp pr;
  CHECK_OK(rsp_msg_json_decode(&rsp_esipa_json_provide_eim_package_result_resp_type,
                               (char *)resp.data, resp.len, &doc, &pr, NULL));
  CHECK(rsp_msg_json_status_ok(&pr.header));
  CHECK(pr.eim_acknowledgements.p && pr.eim_acknowledgements.len == 6); /* BF53 03 80 01 seq */
  CHECK_OP(&w, id, RSP_EIM_OP_DONE, NULL);
  /* unknown EID: Failed with the CR12011R00 code (8.1.1 / 3.9) */
  CHECK_OK(json_call(&w, "getEimPackage", "{\"eidValue\":\"89049032000000000000000000000001\"}",
                     &resp, &status));
  struct rsp_esipa_json_get_eim_package_resp ge;
  CHECK_OK(rsp_msg_json_decode(&rsp_esipa_json_get_eim_package_resp_type, (char *)resp.data,
                               resp.len, &doc, &ge, NULL));
  CHECK_EQ(rsp_esipa_json_eim_package_error(&ge), 2);
  snprintf(body, sizeof body,
           "{\"eidValue\":\"89049032000000000000000000000001\",\"eimPackageResult\":\"%s\"}", b64);
  CHECK_OK(json_call(&w, "provideEimPackageResult", body, &resp, &status));
  CHECK_OK(rsp_msg_json_decode(&rsp_esipa_json_provide_eim_package_result_resp_type,
                               (char *)resp.data, resp.len, &doc, &pr, NULL));
  CHECK_EQ(rsp_esipa_json_provide_result_error(&pr), 2);
  /* bad bodies and functions */
  CHECK_OK(json_call(&w, "getEimPackage", "{\"eidValue\":12}", &resp, &status));
  CHECK_EQ(status, 400);
  CHECK_OK(json_call(&w, "getEimPackage", "not json", &resp, &status));
  CHECK_EQ(status, 400);
  CHECK_OK(json_call(&w, "rebootDevice", "{}", &resp, &status));
  CHECK_EQ(status, 404);
  CHECK_OK(json_call(&w, "handleNotification", "{}", &resp, &status));
  CHECK_EQ(status, 400);
  rsp_msg_json_doc_free(&doc);
  rsp_buf_free(&resp);
  rsp_buf_free(&out);
  world_close(&w);
}

/* ---- indirect download: the IPA, the service with its relay, the SM-DP+ service ----------------
 */

#define SMDP_ADDRESS "smdp.eim-service.example"

static rsp_err_t smdp_call(void *ctx, const char *address, const char *path,
                           const struct rsp_buf *body, int *status, struct rsp_buf *resp) {
  struct rsp_test_smdp_world *sw = ctx;
  CHECK_STR(address, SMDP_ADDRESS);
  return rsp_smdp_service_handle(sw->svc, path, (const char *)body->data, body->len, status, resp);
}

static const struct rsp_eim_es9_ops smdp_ops = {smdp_call};

/* An SM-DP+ world (PKI, card, SM-DP+ service) whose card and PKI this file's world uses while it
 * is open, and the relay to it. */
struct dl_world {
  struct rsp_test_smdp_world sw;
  struct rsp_eim_relay *relay;
  char saved_pki[sizeof pki_dir], saved_eid[sizeof eid], saved_ci[sizeof ci_dir];
};

static bool dl_world_open(struct dl_world *d, struct world *w) {
  memset(d, 0, sizeof *d);
  if (!rsp_test_smdp_world_open(&d->sw, pki_bin, "eim_service_dl", "nist", SMDP_ADDRESS)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the SM-DP+ world");
    return false;
  }
  /* this case's card and PKI are the SM-DP+ world's */
  memcpy(d->saved_pki, pki_dir, sizeof pki_dir);
  memcpy(d->saved_eid, eid, sizeof eid);
  memcpy(d->saved_ci, ci_dir, sizeof ci_dir);
  snprintf(pki_dir, sizeof pki_dir, "%s", d->sw.dir);
  snprintf(eid, sizeof eid, "%s", d->sw.eid);
  snprintf(ci_dir, sizeof ci_dir, "%s/ci", d->sw.dir);
  struct rsp_eim_relay_options ro = {.es9 = &smdp_ops, .es9_ctx = &d->sw};
  CHECK_OK(rsp_eim_relay_new(&ro, &d->relay));
  world_relay = d->relay;
  world_open(w, true);
  return true;
}

static void dl_world_close(struct dl_world *d, struct world *w) {
  world_close(w);
  world_relay = NULL;
  rsp_eim_relay_destroy(d->relay);
  rsp_test_smdp_world_close(&d->sw);
  memcpy(pki_dir, d->saved_pki, sizeof pki_dir);
  memcpy(eid, d->saved_eid, sizeof eid);
  memcpy(ci_dir, d->saved_ci, sizeof ci_dir);
}

/* Orders `iccid` at the SM-DP+ and queues its download (EUICCInfo2 first: the eIM keeps what the
 * compact forms leave out); the download operation's id. */
static int64_t order_download(struct dl_world *d, struct world *w, const char *iccid) {
  char mid[64], spec[256];
  rsp_test_smdp_order(&d->sw, iccid, NULL, mid, sizeof mid);
  enqueue(w, "{\"kind\":\"euicc_data\",\"tags\":\"BF20BF22\"}");
  snprintf(spec, sizeof spec, "{\"kind\":\"download\",\"activationCode\":\"1$%s$%s\"}",
           SMDP_ADDRESS, mid);
  return enqueue(w, spec);
}

/* The view's profile of `iccid` into *out; false when the view has none. */
static bool view_profile(struct world *w, const char *iccid, struct rsp_eim_profile *out) {
  struct rsp_eim_profile prof[8];
  size_t n = 0;
  CHECK_OK(rsp_eim_store_profiles_list(w->store, eid, prof, 8, &n));
  for (size_t i = 0; i < n; i++)
    if (strcmp(prof[i].iccid, iccid) == 0) {
      *out = prof[i];
      return true;
    }
  return false;
}

/* A download ordered at the SM-DP+, triggered by the eIM, relayed by the service: installed, the
 * PIR forwarded, the trigger's result recorded with the ICCID, the profile in the view (disabled,
 * named as the download's metadata named it). */
static void indirect_download_case(bool minimize) {
  struct dl_world d;
  struct world w;
  if (!dl_world_open(&d, &w)) return;
  w.ipa.minimize_esipa_bytes = minimize; /* no ES9+ port: the download is indirect */
  int64_t dl = order_download(&d, &w, "8944000000000000151");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(w.ipa.stats.indirect_downloads, 1);
  CHECK_OP(&w, dl - 1, RSP_EIM_OP_DONE, NULL);
  CHECK_OP(&w, dl, RSP_EIM_OP_DONE, NULL);
  struct rsp_eim_operation op;
  op_get(&w, dl, &op);
  CHECK(op.result_summary &&
        strstr(op.result_summary, "{\"result\":\"ok\",\"iccid\":\"8944000000000000151\""));
  rsp_eim_operation_free(&op);
  struct rsp_smdp_order_info oi;
  CHECK_OK(rsp_smdp_service_order_get(d.sw.svc, "8944000000000000151", &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
  CHECK_EQ(rsp_eim_relay_stats(d.relay)->installed, 1);
  /* authenticateClient and prepareDownload came compact (the PIR too, unless the new profile's
   * ISD-P AID is outside the compact rule: this card holds two profiles already) */
  CHECK(minimize ? rsp_eim_relay_stats(d.relay)->expanded >= 2
                 : rsp_eim_relay_stats(d.relay)->expanded == 0);
  CHECK_EQ(rsp_eim_relay_session_count(d.relay), 0);
  struct rsp_eim_profile prof[4], p;
  size_t n = 0;
  CHECK_OK(rsp_eim_store_profiles_list(w.store, eid, prof, 4, &n));
  CHECK(n == 1 && strcmp(prof[0].iccid, "8944000000000000151") == 0);
  CHECK_EQ(prof[0].state, RSP_EIM_PROFILE_DISABLED);
  CHECK(prof[0].name[0] != '\0');
  struct rsp_eim_device dev;
  device(&w, &dev);
  CHECK_STR(dev.enabled_iccid, "");
  rsp_eim_device_free(&dev);
  /* the name is the card's: a listProfileInfo of that ICCID (merged, not replacing) agrees */
  int64_t l = enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{\"iccid\":"
                          "\"8944000000000000151\"}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, l, RSP_EIM_OP_DONE, NULL);
  CHECK(view_profile(&w, "8944000000000000151", &p));
  CHECK_STR(p.name, prof[0].name);
  CHECK_EQ(p.profile_class, RSP_MSG_PROFILE_CLASS_OPERATIONAL);
  struct rsp_eim_service_stats st;
  rsp_eim_service_stats(w.svc, &st);
  CHECK_EQ(st.relayed, 4); /* initiate, authenticate, getBoundProfilePackage, the PIR */
  /* the JSON binding of the download functions goes to the same relay: an unknown transaction */
  struct rsp_buf resp;
  int status = 0;
  rsp_buf_init(&resp, 1 << 16);
  /* cancelSessionResponse: the card's BF41 { 81 01 05 } */
  const char *cancel = "{\"transactionId\":\"0102\",\"cancelSessionResponse\":\"v0EDgQEF\"}";
  CHECK_OK(rsp_eim_service_esipa_json(w.svc, "cancelSession", (const uint8_t *)cancel,
                                      strlen(cancel), &resp, &status));
  CHECK_EQ(status, 200);
  CHECK(resp.len && strstr((char *)resp.data, "\"Failed\""));
  rsp_buf_free(&resp);
  dl_world_close(&d, &w);
}

/* The PIR as a notification: its HandleNotification is lost on the way, so the card keeps it
 * and the next poll hands it over again (it names no EID: the download's transactionId does).
 * The view was emptied in between, so only the notification can bring the profile back: it does,
 * named, when euiccSignPIR verifies; a PIR whose signature was tampered with changes nothing and
 * is audited as pir_refused. */
static void pir_notification_case(bool corrupt) {
  struct dl_world d;
  struct world w;
  struct rsp_eim_profile p;
  if (!dl_world_open(&d, &w)) return;
  int64_t dl = order_download(&d, &w, "8944000000000000169");
  w.lose_notification = 1;
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, dl, RSP_EIM_OP_DONE, NULL); /* the trigger's result came without the PIR's copy */
  CHECK(view_profile(&w, "8944000000000000169", &p));
  char name[RSP_EIM_PROFILE_NAME_MAX + 1];
  snprintf(name, sizeof name, "%s", p.name);
  CHECK_OK(rsp_eim_store_profiles_set(w.store, eid, NULL, 0, w.now));
  CHECK(card_pending(&w) >= 1);
  w.corrupt_notification = corrupt ? 1 : 0;
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK(w.ipa.stats.notifications >= 1);
  CHECK_EQ(card_pending(&w), 0);
  bool back = view_profile(&w, "8944000000000000169", &p);
  CHECK(back == !corrupt);
  if (back) {
    CHECK_EQ(p.state, RSP_EIM_PROFILE_DISABLED);
    CHECK_STR(p.name, name);
  }
  CHECK_EQ(audit_count(&w, 0, "pir_refused"), corrupt ? 1 : 0);
  CHECK_EQ(audit_count(&w, 0, "notification"), 1);
  /* the same PIR again changes nothing: a copy is recorded once and adds nothing (the profile
   * may have been deleted since) */
  struct rsp_buf resp;
  int status = 0;
  rsp_buf_init(&resp, 1 << 16);
  CHECK_OK(rsp_eim_store_profiles_set(w.store, eid, NULL, 0, w.now));
  CHECK_OK(rsp_eim_service_esipa(w.svc, w.last_notify.data, w.last_notify.len, &resp, &status));
  CHECK_EQ(status, 204);
  CHECK(!view_profile(&w, "8944000000000000169", &p));
  CHECK_EQ(audit_count(&w, 0, "notification"), 1);
  rsp_buf_free(&resp);
  dl_world_close(&d, &w);
}

/* A device without network on the current profile, for the IPA's rollback watchdog. */
struct fake_platform {
  int64_t now_ms;
  bool attached;
};

static bool pf_attached(void *ctx) { return ((struct fake_platform *)ctx)->attached; }
static int64_t pf_now(void *ctx) { return ((struct fake_platform *)ctx)->now_ms; }
static void pf_wait(void *ctx, int ms) { ((struct fake_platform *)ctx)->now_ms += ms; }
static const struct rsp_ipa_platform_ops fake_platform_ops = {pf_attached, pf_now, pf_wait, NULL};

static void check_view(struct world *w, const char *enabled, const char *disabled) {
  struct rsp_eim_profile p;
  struct rsp_eim_device d;
  CHECK(view_profile(w, enabled, &p) && p.state == RSP_EIM_PROFILE_ENABLED);
  if (disabled) CHECK(view_profile(w, disabled, &p) && p.state == RSP_EIM_PROFILE_DISABLED);
  device(w, &d);
  CHECK_STR(d.enabled_iccid, enabled);
  rsp_eim_device_free(&d);
}

/* The view follows PSMO results, including the IPA's rollback (ProfileRollback, SGP.32 notes
 * 3.9): an executed enable of an ICCID the view does not know adds it; an enable with rollback
 * whose new profile finds no network is undone by the IPA, the card appends rollbackResult ok to
 * the signed result, and the view has the previous profile enabled again and the new one
 * disabled; the operation is done and marked rolled back (counted by the store); a delete that
 * the card executed removes the profile. */
static void rollback_view(void) {
  struct world w;
  struct fake_platform pf = {0, true};
  struct rsp_eim_operation op;
  struct rsp_eim_profile p;
  struct rsp_eim_stats st;
  world_open(&w, true);
  w.ipa.platform = &fake_platform_ops;
  w.ipa.platform_ctx = &pf;
  w.ipa.rollback_timeout_ms = 5000;
  int64_t en1 =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_1 "\"}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, en1, RSP_EIM_OP_DONE, NULL);
  check_view(&w, ICCID_1, NULL);
  pf.attached = false; /* the next profile has no network */
  int64_t en2 = enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"" ICCID_2
                            "\",\"rollback\":true}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_EQ(w.ipa.stats.rollbacks, 1);
  op_get(&w, en2, &op);
  CHECK_EQ(op.state, RSP_EIM_OP_DONE);
  CHECK(op.rolled_back);
  CHECK(op.result_summary &&
        strstr(op.result_summary, "\"operations\":[{\"enable\":\"ok\"},{\"rollback\":\"ok\"}]"));
  rsp_eim_operation_free(&op);
  op_get(&w, en1, &op);
  CHECK(!op.rolled_back);
  rsp_eim_operation_free(&op);
  check_view(&w, ICCID_1, ICCID_2);
  CHECK_OK(rsp_eim_store_stats(w.store, &st));
  CHECK_EQ(st.rolled_back, 1);
  CHECK_EQ(st.by_state[RSP_EIM_OP_DONE], 2);
  CHECK_EQ(st.ops[RSP_EIM_OP_PSMO][RSP_EIM_OP_DONE], 2);
  /* the trail says so too */
  struct rsp_eim_audit_list l;
  struct rsp_eim_audit_query q = {.eid = eid, .operation_id = en2, .limit = RSP_EIM_PAGE_MAX};
  CHECK_OK(rsp_eim_store_audit_list(w.store, &q, &l));
  bool marked = false;
  for (size_t i = 0; i < l.n; i++)
    marked |= !strcmp(l.v[i].event, "result") && strstr(l.v[i].detail, "\"rolled_back\":true");
  CHECK(marked);
  rsp_eim_audit_list_free(&l);
  /* the card agrees (a listProfileInfo replaces the view with its own) */
  pf.attached = true;
  enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  check_view(&w, ICCID_1, ICCID_2);
  /* delete: gone from the view */
  int64_t del =
      enqueue(&w, "{\"kind\":\"psmo\",\"psmos\":[{\"delete\":{\"iccid\":\"" ICCID_2 "\"}}]}");
  CHECK_OK(rsp_ipa_poll(&w.ipa));
  CHECK_OP(&w, del, RSP_EIM_OP_DONE, NULL);
  CHECK(!view_profile(&w, ICCID_2, &p));
  check_view(&w, ICCID_1, NULL);
  CHECK_EQ(card_pending(&w), 0);
  world_close(&w);
}

static void pir_notification(void) { pir_notification_case(false); }
static void pir_notification_forged(void) { pir_notification_case(true); }

static void indirect_download(void) { indirect_download_case(false); }
static void indirect_download_minimized(void) { indirect_download_case(true); }

static void arguments(void) {
  struct rsp_eim_service *s = (struct rsp_eim_service *)1;
  struct rsp_eim_service_options o = {0};
  CHECK_ERR(rsp_eim_service_new(&o, &s), RSP_E_INVALID_ARG);
  CHECK(s == NULL);
  rsp_eim_service_destroy(NULL);
  struct rsp_eim_service_stats st;
  rsp_eim_service_stats(NULL, &st);
  CHECK_EQ(st.requests, 0);
  /* a CI directory without a CI certificate */
  struct world w;
  world_open(&w, true);
  char empty[700];
  snprintf(empty, sizeof empty, "%s/euicc", pki_dir);
  o = (struct rsp_eim_service_options){
      .eim_id = EIM_ID, .signer = w.eim.signer, .store = w.store, .ci_dir = empty};
  CHECK_ERR(rsp_eim_service_new(&o, &s), RSP_E_NOT_FOUND);
  int status;
  struct rsp_buf resp;
  rsp_buf_init(&resp, 64);
  CHECK_ERR(rsp_eim_service_esipa(NULL, NULL, 0, &resp, &status), RSP_E_INVALID_ARG);
  CHECK_OK(
      rsp_eim_service_esipa(w.svc, (const uint8_t *)"x", RSP_EIM_ESIPA_MAX + 1, &resp, &status));
  CHECK_EQ(status, 413);
  rsp_buf_free(&resp);
  world_close(&w);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(every_psmo),
      T(enabled_view),
      T(every_eco),
      T(queue_order_and_expiry),
      T(many_queued),
      T(unknown_eid_and_malformed),
      T(bad_signature),
      T(bad_signature_answer),
      T(replayed_result),
      T(lost_result),
      T(lost_package),
      T(euicc_data_request),
      T(bad_spec_skipped),
      T(state_change),
      T(json_binding),
      T(indirect_download),
      T(indirect_download_minimized),
      T(pir_notification),
      T(pir_notification_forged),
      T(rollback_view),
      T(arguments),
      T(empty_poll),
  };
  if (argc < 2) {
    fprintf(stderr, "usage: %s RSP_PKI_BINARY\n", argv[0]);
    return 2;
  }
  pki_bin = argv[1];
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
