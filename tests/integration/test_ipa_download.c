/* The IPA core's direct download: rsp_ipa_download drives a software eUICC (in-process APDU
 * driver) and talks ES9+ JSON to the SM-DP+ service (lib/smdp, its generic entry standing for the
 * HTTPS layer). The operator orders and confirms a profile over ES2+ first. Covers both curves,
 * a confirmation code, a wrong matchingId (refused, nothing installed, session cancelled) and a
 * wrong confirmation code.
 *
 *   test_ipa_download RSP_PKI_BINARY */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/ipa/download.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/json.h"
#include "rsp/smdp/service.h"
#include "test.h"

#define ADDRESS "smdp.example"

static const char *pki_bin;

struct world {
  char dir[600], eid[RSP_EID_DIGITS + 1];
  struct rsp_smdp_identity *id;
  struct rsp_smdp_service *svc;
  struct rsp_euicc *card;
  struct rsp_apdu apdu;
};

/* The ES9+ port: the service's generic entry (what rsp-smdp runs behind HTTPS). */
static rsp_err_t es9_call(void *ctx, const char *address, const char *path,
                          const struct rsp_buf *body, int *status, struct rsp_buf *resp) {
  struct world *w = ctx;
  CHECK_STR(address, ADDRESS);
  return rsp_smdp_service_handle(w->svc, path, (const char *)body->data, body->len, status, resp);
}

static const struct rsp_ipa_es9_ops es9_ops = {es9_call};

static bool world_open(struct world *w, const char *curve) {
  char cmd[2048];
  memset(w, 0, sizeof *w);
  snprintf(w->dir, sizeof w->dir, "%s/pki", rsp_test_tmpdir("ipa_download"));
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --curve %s --eid-range 890490320000000000000000000654:1 "
           ">/dev/null",
           pki_bin, w->dir, curve);
  if (system(cmd) != 0) return false;
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", w->dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(w->eid, sizeof w->eid, f)) return false;
  pclose(f);
  w->eid[strcspn(w->eid, "\n")] = '\0';
  char db[700];
  snprintf(db, sizeof db, "%s/smdp.db", w->dir);
  struct rsp_euicc_options eo = {.pki_dir = w->dir, .eid = w->eid};
  if (rsp_smdp_identity_load(w->dir, &w->id) != RSP_OK || rsp_euicc_open(&eo, &w->card) != RSP_OK)
    return false;
  struct rsp_smdp_service_options so = {.db_path = db, .identity = w->id, .address = ADDRESS};
  if (rsp_smdp_service_open(&so, &w->svc) != RSP_OK) return false;
  rsp_apdu_inproc_init(&w->apdu, w->card);
  return true;
}

static void world_close(struct world *w) {
  rsp_smdp_service_destroy(w->svc);
  rsp_euicc_destroy(w->card);
  rsp_smdp_identity_destroy(w->id);
}

/* A generated profile, ordered and confirmed over ES2+; the matchingId goes to *mid. */
static void order(struct world *w, const char *iccid, const char *code, char *mid, size_t size) {
  struct rsp_buf der, body, resp;
  struct rsp_msg_json_doc doc;
  int status = 0;
  rsp_buf_init(&der, 1 << 16);
  rsp_buf_init(&body, 1 << 16);
  rsp_buf_init(&resp, RSP_MSG_JSON_MAX_BODY);
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(rsp_smdp_profile_generate(iccid, "001010000000001", &der));
  struct rsp_smdp_profile_new p = {
      .iccid = iccid, .profile_type = "iot", .upp = rsp_msg_slice(der.data, der.len)};
  CHECK_OK(rsp_smdp_service_profile_add(w->svc, &p));
  struct rsp_es2p_json_download_order_req dq = {
      .header = {.function_requester_identifier = "op", .function_call_identifier = "1"},
      .iccid = iccid};
  CHECK_OK(rsp_msg_json_encode(&rsp_es2p_json_download_order_req_type, &dq, &body, NULL));
  CHECK_OK(rsp_smdp_service_handle(w->svc, RSP_ES2P_PATH_DOWNLOAD_ORDER, (const char *)body.data,
                                   body.len, &status, &resp));
  CHECK_EQ(status, 200);
  struct rsp_es2p_json_confirm_order_req cq = {
      .header = {.function_requester_identifier = "op", .function_call_identifier = "2"},
      .iccid = iccid,
      .confirmation_code = code,
      .release_flag = {true, true}};
  rsp_buf_reset(&body);
  rsp_buf_reset(&resp);
  CHECK_OK(rsp_msg_json_encode(&rsp_es2p_json_confirm_order_req_type, &cq, &body, NULL));
  CHECK_OK(rsp_smdp_service_handle(w->svc, RSP_ES2P_PATH_CONFIRM_ORDER, (const char *)body.data,
                                   body.len, &status, &resp));
  struct rsp_es2p_json_confirm_order_resp cr;
  CHECK_OK(rsp_msg_json_decode(&rsp_es2p_json_confirm_order_resp_type, (const char *)resp.data,
                               resp.len, &doc, &cr, NULL));
  CHECK(rsp_msg_json_status_ok(&cr.header) && cr.matching_id);
  snprintf(mid, size, "%s", cr.matching_id ? cr.matching_id : "");
  rsp_msg_json_doc_free(&doc);
  rsp_buf_free(&der);
  rsp_buf_free(&body);
  rsp_buf_free(&resp);
}

/* Profiles the card lists (GetProfilesInfo). */
static size_t profiles_on_card(struct world *w) {
  struct rsp_buf out;
  struct rsp_arena a;
  struct rsp_msg_sgp32_profile_info_list_response *r = NULL;
  size_t n = 0;
  rsp_buf_init(&out, 1 << 16);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_euicc_es10(w->card, (const uint8_t *)"\xBF\x2D\x00", 3, &out));
  if (rsp_msg_decode(&rsp_msgt_sgp32_profile_info_list_response, out.data, out.len, &a, (void **)&r,
                     NULL) == RSP_OK &&
      r->which == RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK)
    n = r->u.profile_info_list_ok->n;
  rsp_arena_free(&a);
  rsp_buf_free(&out);
  return n;
}

static void download(const char *curve) {
  struct world w;
  struct rsp_ipa ipa;
  struct rsp_ipa_download_result r;
  char mid[64];
  uint8_t want[10];
  if (!world_open(&w, curve)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the %s world", curve);
    return;
  }
  rsp_ipa_init(&ipa, &w.apdu, NULL, NULL);
  /* plain, then with a confirmation code */
  order(&w, "8944000000000000110", NULL, mid, sizeof mid);
  struct rsp_ipa_download_params p = {.smdp_address = ADDRESS, .matching_id = mid};
  rsp_ipa_download_result_init(&r);
  CHECK_OK(rsp_ipa_download(&ipa, &es9_ops, &w, &p, &r));
  CHECK(r.installed && r.has_iccid);
  rsp_iccid_encode("8944000000000000110", want);
  CHECK(r.has_iccid && memcmp(r.iccid, want, 10) == 0);
  struct rsp_smdp_order_info oi;
  CHECK_OK(rsp_smdp_service_order_get(w.svc, "8944000000000000110", &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
  CHECK_EQ(profiles_on_card(&w), 1);
  rsp_ipa_download_result_free(&r);
  order(&w, "8944000000000000128", "1234", mid, sizeof mid);
  p.confirmation_code = "9999"; /* wrong: refused at getBoundProfilePackage */
  rsp_ipa_download_result_init(&r);
  CHECK(rsp_ipa_download(&ipa, &es9_ops, &w, &p, &r) != RSP_OK);
  CHECK(!r.installed && r.failed_step && strcmp(r.failed_step, "getBoundProfilePackage") == 0);
  rsp_ipa_download_result_free(&r);
  p.confirmation_code = "1234";
  rsp_ipa_download_result_init(&r);
  CHECK_OK(rsp_ipa_download(&ipa, &es9_ops, &w, &p, &r));
  CHECK(r.installed);
  rsp_ipa_download_result_free(&r);
  /* an unknown matchingId: refused by the SM-DP+ at authenticateClient, nothing installed */
  p.matching_id = "NO-SUCH-ORDER";
  p.confirmation_code = NULL;
  rsp_ipa_download_result_init(&r);
  CHECK(rsp_ipa_download(&ipa, &es9_ops, &w, &p, &r) != RSP_OK);
  CHECK(r.failed_step && strcmp(r.failed_step, "authenticateClient") == 0);
  rsp_ipa_download_result_free(&r);
  CHECK_EQ(profiles_on_card(&w), 2);
  world_close(&w);
}

/* ---- a download triggered by the eIM (ProfileDownloadTriggerRequest with an activation code) */

struct trigger_eim {
  char ac[128];
  bool sent;
  struct rsp_buf result; /* the EimPackageResult the IPA provided */
  struct rsp_arena arena;
};

static rsp_err_t trigger_exchange(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp) {
  struct trigger_eim *t = ctx;
  struct rsp_msg_esipa_message_from_ipa_to_eim *m = NULL;
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_esipa_message_from_ipa_to_eim, req, len, &t->arena,
                                (void **)&m, NULL);
  if (rc != RSP_OK) return rc;
  if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT) {
    const struct rsp_slice raw = m->u.provide_eim_package_result->eim_package_result->raw;
    rsp_buf_append(&t->result, raw.p, raw.len);
    struct rsp_msg_provide_eim_package_result_response_empty_response e = {0};
    struct rsp_msg_provide_eim_package_result_response r = {
        .which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EMPTY_RESPONSE,
        .u.empty_response = &e};
    struct rsp_msg_esipa_message_from_eim_to_ipa a = {
        .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE,
        .u.provide_eim_package_result_response = &r};
    return rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &a, resp, NULL);
  }
  struct rsp_msg_profile_download_data pd = {.which = RSP_MSG_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE,
                                             .u.activation_code =
                                                 rsp_msg_slice(t->ac, strlen(t->ac))};
  struct rsp_msg_profile_download_trigger_request tr = {
      .profile_download_data = &pd, .eim_transaction_id = rsp_msg_slice("\x42", 1)};
  struct rsp_msg_get_eim_package_response g = {
      .which = RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR, .u.eim_package_error = 1};
  if (!t->sent) {
    g.which = RSP_MSG_GET_EIM_PACKAGE_RESPONSE_PROFILE_DOWNLOAD_TRIGGER_REQUEST;
    g.u.profile_download_trigger_request = &tr;
    t->sent = true;
  }
  struct rsp_msg_esipa_message_from_eim_to_ipa a = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_EIM_PACKAGE_RESPONSE,
      .u.get_eim_package_response = &g};
  return rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &a, resp, NULL);
}

static const struct rsp_ipa_esipa_ops trigger_ops = {"trigger-eim", trigger_exchange};

static void triggered_by_eim(void) {
  struct world w;
  struct rsp_ipa ipa;
  struct trigger_eim t = {0};
  char mid[64];
  if (!world_open(&w, "nist")) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
    return;
  }
  order(&w, "8944000000000000136", NULL, mid, sizeof mid);
  snprintf(t.ac, sizeof t.ac, "1$%s$%s", ADDRESS, mid);
  rsp_buf_init(&t.result, 1 << 16);
  rsp_arena_init(&t.arena, RSP_MSG_ARENA_CAP);
  rsp_ipa_init(&ipa, &w.apdu, &trigger_ops, &t);
  ipa.es9 = &es9_ops;
  ipa.es9_ctx = &w;
  CHECK_OK(rsp_ipa_poll(&ipa));
  CHECK_EQ(ipa.stats.triggers, 1);
  CHECK_EQ(profiles_on_card(&w), 1);
  /* the eIM got ProfileDownloadTriggerResult with the card's successful PIR */
  struct rsp_msg_eim_package_result *r = NULL;
  CHECK_OK(rsp_msg_decode(&rsp_msgt_eim_package_result, t.result.data, t.result.len, &t.arena,
                          (void **)&r, NULL));
  CHECK(r && r->which == RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT);
  if (r && r->which == RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT) {
    const struct rsp_msg_profile_download_trigger_result *pr = r->u.profile_download_trigger_result;
    CHECK(pr->eim_transaction_id.len == 1 && pr->eim_transaction_id.p[0] == 0x42);
    CHECK(
        pr->profile_download_trigger_result_data->which ==
        RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT);
  }
  struct rsp_smdp_order_info oi;
  CHECK_OK(rsp_smdp_service_order_get(w.svc, "8944000000000000136", &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
  rsp_buf_free(&t.result);
  rsp_arena_free(&t.arena);
  world_close(&w);
}

static void download_nist(void) { download("nist"); }
static void download_brp(void) { download("brp"); }

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(download_nist), T(download_brp),
                                               T(triggered_by_eim)};
  if (argc < 2) return 2;
  pki_bin = argv[1];
  rsp_log_set_level(RSP_LOG_ERROR);
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
