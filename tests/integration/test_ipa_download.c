/* The IPA core's downloads: the IPA drives a software eUICC (in-process APDU driver); the SM-DP+
 * service (lib/smdp, its generic JSON entry standing for the HTTPS layer) is reached directly
 * through the IPA's ES9+ port, or indirectly through an in-process test eIM (lib/eim/test_eim.c)
 * whose relay (lib/eim/relay.c) talks ES9+ to the same service. The operator orders and confirms
 * a profile over ES2+ first.
 *
 * Direct: both curves, a confirmation code, a wrong matchingId (refused, nothing installed,
 * session cancelled), a wrong confirmation code, a download triggered by the eIM.
 * Indirect: both curves with and without minimizeEsipaBytes (the compact forms checked on the
 * wire and rebuilt by the relay for the SM-DP+), a wrong matchingId and a refused
 * getBoundProfilePackage (cancelled at the card and at the SM-DP+, no session left anywhere),
 * the AUTO selection rule, immediate enable after install (allowed and refused by the card).
 * SM-DS: an order confirmed with smdsAddress registers its event (ES12) at the in-process SM-DS;
 * an eIM trigger with contactSmds (the SM-DS named, or the card's root SM-DS) makes the IPA
 * retrieve it (ES11) and install the profile, directly and through the eIM (okDS); the event is
 * deleted after the PIR; no event is a clean profileDownloadError; an SM-DS whose certificate
 * has another role than id-rspRole-ds-auth is refused by the card.
 *
 *   test_ipa_download RSP_PKI_BINARY */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/crypto/signer.h"
#include "rsp/drivers/apdu.h"
#include "rsp/eim/relay.h"
#include "rsp/eim/test_eim.h"
#include "rsp/ipa/download.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/json.h"
#include "rsp/smdp/bind.h"
#include "rsp/smdp/service.h"
#include "rsp/smdp/smds.h"
#include "euicc_eim.h"
#include "smdp_world.h"
#include "test.h"

#define ADDRESS "smdp.example"
#define SMDS_ADDRESS "smds.example"
#define UNREACHABLE "nowhere.example" /* an address the ES9+ port cannot reach */

static const char *pki_bin;

struct world {
  struct rsp_test_smdp_world s; /* card, SM-DP+ identity and service of one fresh PKI */
  struct rsp_apdu apdu;
  unsigned es9_calls;         /* ES9+ requests the SM-DP+ received (from the IPA or the relay) */
  unsigned es9_cancels;       /* of them cancelSession */
  unsigned es9_notifications; /* of them handleNotification */
  unsigned es11_calls;        /* ES11 requests the SM-DS received through the same port */
  struct rsp_buf es11_asr;    /* the last authenticateServerResponse sent to the SM-DS */
};

/* The ES9+ port: the service's generic entry (what rsp-smdp runs behind HTTPS). */
/* What the IPA sent the SM-DS as authenticateServerResponse, kept for the test. */
static void keep_asr(struct world *w, const char *path, const struct rsp_buf *body) {
  struct rsp_msg_json_doc doc;
  struct rsp_es9p_json_authenticate_client_req q;
  if (strcmp(path, RSP_ES9P_PATH_AUTHENTICATE_CLIENT) != 0) return;
  rsp_msg_json_doc_init(&doc);
  if (rsp_msg_json_decode(&rsp_es9p_json_authenticate_client_req_type, (const char *)body->data,
                          body->len, &doc, &q, NULL) == RSP_OK) {
    rsp_buf_reset(&w->es11_asr);
    rsp_buf_append(&w->es11_asr, q.authenticate_server_response.p,
                   q.authenticate_server_response.len);
  }
  rsp_msg_json_doc_free(&doc);
}

static rsp_err_t es9_call(void *ctx, const char *address, const char *path,
                          const struct rsp_buf *body, int *status, struct rsp_buf *resp) {
  struct world *w = ctx;
  if (w->s.smds && strcmp(address, SMDS_ADDRESS) == 0) { /* ES11, on the ES9+ paths */
    w->es11_calls++;
    keep_asr(w, path, body);
    return rsp_smds_service_handle(w->s.smds, path, (const char *)body->data, body->len, status,
                                   resp);
  }
  if (strcmp(address, UNREACHABLE) == 0) return RSP_E_NET;
  CHECK_STR(address, ADDRESS);
  w->es9_calls++;
  if (strcmp(path, RSP_ES9P_PATH_CANCEL_SESSION) == 0) w->es9_cancels++;
  if (strcmp(path, RSP_ES9P_PATH_HANDLE_NOTIFICATION) == 0) w->es9_notifications++;
  return rsp_smdp_service_handle(w->s.svc, path, (const char *)body->data, body->len, status, resp);
}

static const struct rsp_ipa_es9_ops es9_ops = {es9_call};
static const struct rsp_eim_es9_ops eim_es9_ops = {es9_call}; /* the relay's port: same shape */

static bool world_open(struct world *w, const char *curve) {
  memset(w, 0, sizeof *w);
  if (!rsp_test_smdp_world_open(&w->s, pki_bin, "ipa_download", curve, ADDRESS)) return false;
  rsp_apdu_inproc_init(&w->apdu, w->s.card);
  return true;
}

static bool world_open_smds(struct world *w, const char *curve) {
  memset(w, 0, sizeof *w);
  if (!rsp_test_smdp_world_open_smds(&w->s, pki_bin, "ipa_download_smds", curve, ADDRESS,
                                     SMDS_ADDRESS))
    return false;
  rsp_apdu_inproc_init(&w->apdu, w->s.card);
  rsp_buf_init(&w->es11_asr, 1 << 16);
  return true;
}

static void world_close(struct world *w) {
  rsp_buf_free(&w->es11_asr);
  rsp_test_smdp_world_close(&w->s);
}

static void order(struct world *w, const char *iccid, const char *code, char *mid, size_t size) {
  rsp_test_smdp_order(&w->s, iccid, code, mid, size);
}

/* Profiles the card lists (GetProfilesInfo), all or only the enabled ones (profileState 1). */
static size_t profiles_in_state(struct world *w, bool enabled_only) {
  struct rsp_buf out;
  struct rsp_arena a;
  struct rsp_msg_sgp32_profile_info_list_response *r = NULL;
  size_t n = 0;
  rsp_buf_init(&out, 1 << 16);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_euicc_es10(w->s.card, (const uint8_t *)"\xBF\x2D\x00", 3, &out));
  if (rsp_msg_decode(&rsp_msgt_sgp32_profile_info_list_response, out.data, out.len, &a, (void **)&r,
                     NULL) == RSP_OK &&
      r->which == RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK)
    for (size_t i = 0; i < r->u.profile_info_list_ok->n; i++)
      n += !enabled_only || rsp_msg_int_or(r->u.profile_info_list_ok->v[i].profile_state, 0) == 1;
  rsp_arena_free(&a);
  rsp_buf_free(&out);
  return n;
}

static size_t profiles_on_card(struct world *w) { return profiles_in_state(w, false); }
static size_t enabled_on_card(struct world *w) { return profiles_in_state(w, true); }

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
  CHECK_OK(rsp_smdp_service_order_get(w.s.svc, "8944000000000000110", &oi));
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
  bool contact_smds; /* contactSmds instead of the activation code */
  const char *smds;  /* contactSmds.smdsAddress; NULL: absent (the card's root SM-DS) */
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
  struct rsp_msg_profile_download_data_contact_smds cs = {
      .smds_address = t->smds ? rsp_msg_slice(t->smds, strlen(t->smds)) : rsp_msg_slice(NULL, 0)};
  if (t->contact_smds) {
    pd.which = RSP_MSG_PROFILE_DOWNLOAD_DATA_CONTACT_SMDS;
    pd.u.contact_smds = &cs;
  }
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
  CHECK_OK(rsp_smdp_service_order_get(w.s.svc, "8944000000000000136", &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
  rsp_buf_free(&t.result);
  rsp_arena_free(&t.arena);
  world_close(&w);
}

/* ---- SM-DS: event registration (ES12) and retrieval (ES11), direct ----------------------------
 */

/* The ProfileDownloadTriggerResult the trigger eIM got: 1 a successful PIR, 0
 * profileDownloadError, -1 none or another result. */
static int trigger_outcome(struct trigger_eim *t) {
  struct rsp_msg_eim_package_result *r = NULL;
  if (rsp_msg_decode(&rsp_msgt_eim_package_result, t->result.data, t->result.len, &t->arena,
                     (void **)&r, NULL) != RSP_OK ||
      r->which != RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT)
    return -1;
  const struct rsp_msg_profile_download_trigger_result *pr = r->u.profile_download_trigger_result;
  CHECK(pr->eim_transaction_id.len == 1 && pr->eim_transaction_id.p[0] == 0x42);
  const struct rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data *d =
      pr->profile_download_trigger_result_data;
  if (d->which ==
      RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_DOWNLOAD_ERROR)
    return 0;
  return d->u.profile_installation_result->profile_installation_result_data->final_result->which ==
         RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT;
}

/* One poll of an IPA (direct downloads) whose eIM sends a contactSmds trigger. */
static int smds_trigger_poll(struct world *w, const char *smds, struct rsp_ipa *ipa) {
  struct trigger_eim t = {.contact_smds = true, .smds = smds};
  rsp_buf_init(&t.result, 1 << 16);
  rsp_arena_init(&t.arena, RSP_MSG_ARENA_CAP);
  rsp_ipa_init(ipa, &w->apdu, &trigger_ops, &t);
  ipa->es9 = &es9_ops;
  ipa->es9_ctx = w;
  CHECK_OK(rsp_ipa_poll(ipa));
  CHECK_EQ(ipa->stats.triggers, 1);
  int outcome = trigger_outcome(&t);
  rsp_buf_free(&t.result);
  rsp_arena_free(&t.arena);
  return outcome;
}

static int order_event_state(struct world *w, const char *iccid) {
  struct rsp_smdp_order_info oi;
  CHECK_OK(rsp_smdp_service_order_get(w->s.svc, iccid, &oi));
  return oi.smds_event;
}

/* confirmOrder with smdsAddress registers the event; contactSmds finds it and installs; the
 * PIR deletes it. `root`: the trigger names no SM-DS, the card's root SM-DS is used. */
static void smds_direct(const char *curve, bool root) {
  struct world w;
  struct rsp_ipa ipa;
  struct rsp_smdp_order_info oi;
  char mid[64];
  if (!world_open_smds(&w, curve)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the %s world", curve);
    return;
  }
  rsp_test_smdp_order_smds(&w.s, "8944000000000000185", SMDS_ADDRESS, mid, sizeof mid);
  CHECK_EQ(rsp_test_smds_events(&w.s), 1);
  CHECK_OK(rsp_smdp_service_order_get(w.s.svc, "8944000000000000185", &oi));
  CHECK_STR(oi.smds_address, SMDS_ADDRESS);
  CHECK_EQ(oi.smds_event, 1);
  CHECK_EQ(smds_trigger_poll(&w, root ? NULL : SMDS_ADDRESS, &ipa), 1);
  CHECK_EQ(ipa.stats.smds_retrievals, 1);
  CHECK_EQ(w.es11_calls, 2); /* initiateAuthentication, authenticateClient */
  CHECK_EQ(profiles_on_card(&w), 1);
  CHECK_EQ(w.es9_notifications, 1);
  CHECK_OK(rsp_smdp_service_order_get(w.s.svc, "8944000000000000185", &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
  /* the PIR queued ES12.DeleteEvent; delivered, the SM-DS holds nothing for the card */
  CHECK_EQ(oi.smds_event, 2);
  CHECK_EQ(rsp_test_smds_events(&w.s), 1);
  CHECK_EQ(rsp_test_smdp_es12_flush(&w.s), 1);
  CHECK_EQ(rsp_test_smds_events(&w.s), 0);
  CHECK_EQ(rsp_test_smdp_es12_flush(&w.s), 0);
  /* the card's profile came from the event's SM-DP+ with the event's id as matchingId */
  CHECK_EQ(w.es9_cancels, 0);
  world_close(&w);
}

static void smds_direct_nist(void) { smds_direct("nist", false); }
static void smds_direct_brp_root(void) { smds_direct("brp", true); }

/* One ES2+ cancelOrder by the operator. */
static void cancel_order(struct world *w, const char *iccid) {
  struct rsp_es2p_json_cancel_order_req q = {
      .header = {.function_requester_identifier = "op", .function_call_identifier = "9"},
      .iccid = iccid,
      .final_profile_status_indicator = "Available"};
  struct rsp_es2p_json_cancel_order_resp r;
  struct rsp_msg_json_doc doc;
  struct rsp_buf body, out;
  int status = 0;
  rsp_msg_json_doc_init(&doc);
  rsp_buf_init(&body, 1 << 16);
  rsp_buf_init(&out, 1 << 16);
  CHECK_OK(rsp_msg_json_encode(&rsp_es2p_json_cancel_order_req_type, &q, &body, NULL));
  CHECK_OK(rsp_smdp_service_handle(w->s.svc, RSP_ES2P_PATH_CANCEL_ORDER, (const char *)body.data,
                                   body.len, &status, &out));
  CHECK_OK(rsp_msg_json_decode(&rsp_es2p_json_cancel_order_resp_type, (const char *)out.data,
                               out.len, &doc, &r, NULL));
  CHECK(rsp_msg_json_status_ok(&r.header));
  rsp_msg_json_doc_free(&doc);
  rsp_buf_free(&body);
  rsp_buf_free(&out);
}

/* No event: the trigger ends in profileDownloadError, no SM-DP+ is called, nothing installed. The
 * event of a cancelled order is deleted with it. */
static void smds_no_event(void) {
  struct world w;
  struct rsp_ipa ipa;
  char mid[64];
  if (!world_open_smds(&w, "nist")) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
    return;
  }
  rsp_test_smdp_order_smds(&w.s, "8944000000000000193", SMDS_ADDRESS, mid, sizeof mid);
  CHECK_EQ(rsp_test_smds_events(&w.s), 1);
  cancel_order(&w, "8944000000000000193");
  CHECK_EQ(order_event_state(&w, "8944000000000000193"), 2);
  CHECK_EQ(rsp_test_smdp_es12_flush(&w.s), 1);
  CHECK_EQ(rsp_test_smds_events(&w.s), 0);
  CHECK_EQ(smds_trigger_poll(&w, SMDS_ADDRESS, &ipa), 0);
  CHECK_EQ(ipa.stats.smds_retrievals, 1);
  CHECK_EQ(w.es11_calls, 2);
  CHECK_EQ(w.es9_calls, 0);
  CHECK_EQ(profiles_on_card(&w), 0);
  /* an SM-DS the IPA cannot reach: the same clean error */
  CHECK_EQ(smds_trigger_poll(&w, UNREACHABLE, &ipa), 0);
  CHECK_EQ(w.es11_calls, 2);
  world_close(&w);
}

/* contactSmds without an address, on a card without a root SM-DS address: nothing to call,
 * profileDownloadError at once. */
static void smds_no_root(void) {
  struct world w;
  struct rsp_ipa ipa;
  if (!world_open(&w, "nist")) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
    return;
  }
  CHECK_EQ(smds_trigger_poll(&w, NULL, &ipa), 0);
  CHECK_EQ(ipa.stats.smds_retrievals, 0);
  CHECK_EQ(w.es9_calls + w.es11_calls, 0);
  CHECK_EQ(profiles_on_card(&w), 0);
  world_close(&w);
}

/* The card's AuthenticateServerResponse the SM-DS got: its error code, -1 when it signed. */
static int64_t card_auth_error(struct world *w) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_authenticate_server_response *r = NULL;
  int64_t code = -1;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_authenticate_server_response, w->es11_asr.data,
                          w->es11_asr.len, &a, (void **)&r, NULL));
  if (r && r->which == RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_ERROR)
    code = r->u.authenticate_response_error->authenticate_error_code;
  rsp_arena_free(&a);
  return code;
}

/* The SM-DS signs with a certificate of another role (the SM-DP+'s CERT.DPpb, valid under the same
 * CI): the card refuses AuthenticateServer with invalidCertificate (SGP.22 §5.7.13 accepts only
 * CERT.DPauth and CERT.DSauth), the SM-DS refuses the retrieval, nothing is downloaded. */
static void smds_wrong_role(void) {
  struct world w;
  struct rsp_ipa ipa;
  struct rsp_ipa_smds_events ev;
  char path[700], mid[64];
  if (!world_open_smds(&w, "nist")) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
    return;
  }
  rsp_test_smdp_order_smds(&w.s, "8944000000000000201", SMDS_ADDRESS, mid, sizeof mid);
  /* first the real CERT.DSauth: the card signs */
  rsp_ipa_init(&ipa, &w.apdu, NULL, NULL);
  CHECK_OK(rsp_ipa_smds_events(&ipa, &es9_ops, &w, SMDS_ADDRESS, &ev));
  CHECK(ev.n == 1 && strcmp(ev.v[0].event_id, mid) == 0 &&
        strcmp(ev.v[0].rsp_server_address, ADDRESS) == 0);
  CHECK_EQ(card_auth_error(&w), -1);
  struct rsp_smdp_identity *sid = w.s.smds_id;
  rsp_signer_destroy(sid->auth);
  rsp_cert_free(sid->auth_cert);
  sid->auth = NULL;
  sid->auth_cert = NULL;
  snprintf(path, sizeof path, "%s/smdp/pb/key.pem", w.s.dir);
  CHECK_OK(rsp_signer_inproc_load(path, &sid->auth));
  snprintf(path, sizeof path, "%s/smdp/pb/cert.der", w.s.dir);
  CHECK_OK(rsp_cert_load_file(path, &sid->auth_cert));
  CHECK(rsp_ipa_smds_events(&ipa, &es9_ops, &w, SMDS_ADDRESS, &ev) != RSP_OK);
  CHECK(ev.n == 0 && ev.failed_step && strcmp(ev.failed_step, "authenticateClient") == 0);
  CHECK_EQ(card_auth_error(&w), RSP_MSG_AUTHENTICATE_ERROR_CODE_INVALID_CERTIFICATE);
  CHECK_EQ(smds_trigger_poll(&w, SMDS_ADDRESS, &ipa), 0);
  CHECK_EQ(profiles_on_card(&w), 0);
  CHECK_EQ(w.es9_calls, 0);
  CHECK_EQ(rsp_test_smds_events(&w.s), 1); /* still waiting for a good retrieval */
  world_close(&w);
}

/* A session the card opened with an SM-DS only retrieves events: PrepareDownload for its
 * transactionId, with the SM-DP+'s valid CERT.DPpb, is refused with noSessionContext before any
 * signature is looked at (without that rule the zero signature would be invalidSignature). */
static int64_t prepare_after_smds(struct world *w) {
  struct rsp_ipa ipa;
  struct rsp_ipa_smds_events ev;
  struct rsp_arena a;
  struct rsp_buf smdp2, req, out;
  struct rsp_msg_sgp32_authenticate_server_response *asr = NULL;
  struct rsp_msg_sgp32_prepare_download_response *pd = NULL;
  uint8_t sig[RSP_SIG_RAW_LEN] = {0};
  int64_t code = -1;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&smdp2, 1024);
  rsp_buf_init(&req, 1 << 16);
  rsp_buf_init(&out, 1 << 16);
  rsp_ipa_init(&ipa, &w->apdu, NULL, NULL);
  CHECK_OK(rsp_ipa_smds_events(&ipa, &es9_ops, w, SMDS_ADDRESS, &ev));
  CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_authenticate_server_response, w->es11_asr.data,
                          w->es11_asr.len, &a, (void **)&asr, NULL));
  struct rsp_msg_smdp_signed2 s2 = {
      .transaction_id = asr->u.authenticate_response_ok->euicc_signed1->transaction_id};
  CHECK_OK(rsp_msg_encode(&rsp_msgt_smdp_signed2, &s2, &smdp2, NULL));
  struct rsp_slice cert = rsp_cert_der(w->s.id->pb_cert);
  struct rsp_smdp_prepare_download_parts parts = {.smdp_signed2 =
                                                      rsp_msg_slice(smdp2.data, smdp2.len),
                                                  .smdp_signature2 = rsp_msg_slice(sig, sizeof sig),
                                                  .smdp_certificate = cert};
  CHECK_OK(rsp_smdp_prepare_download_request_build(&parts, &req));
  CHECK_OK(rsp_euicc_es10(w->s.card, req.data, req.len, &out));
  if (rsp_msg_decode(&rsp_msgt_sgp32_prepare_download_response, out.data, out.len, &a, (void **)&pd,
                     NULL) == RSP_OK &&
      pd->which == RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_ERROR)
    code = pd->u.download_response_error->download_error_code;
  rsp_arena_free(&a);
  rsp_buf_free(&smdp2);
  rsp_buf_free(&req);
  rsp_buf_free(&out);
  return code;
}

static void smds_session_no_download(void) {
  struct world w;
  if (!world_open_smds(&w, "nist")) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
    return;
  }
  CHECK_EQ(prepare_after_smds(&w), RSP_MSG_DOWNLOAD_ERROR_CODE_NO_SESSION_CONTEXT);
  world_close(&w);
}

/* ---- indirect downloads: the IPA, a test eIM with the relay, the SM-DP+ -----------------------
 */

/* What crossed the ESipa port, decoded by the test (so every compact form is seen on the wire). */
struct spy {
  struct rsp_eim_test *eim;
  bool info1_sent;                    /* InitiateAuthenticationRequestEsipa carried euiccInfo1 */
  bool eim_txid_sent;                 /* ... and the trigger's eimTransactionId */
  int asr, pdr, notification, cancel; /* alternatives sent (0: not sent) */
  bool txid_echoed; /* the eIM's InitiateAuthenticationOkEsipa carried transactionId */
  uint8_t txid[16]; /* the session's transactionId, from the IPA's requests */
  size_t txid_len;
  /* SM-DS relay of this test eIM (the ES11' part the test eIM has not): requests naming
   * SMDS_ADDRESS go to the world's SM-DS, the event comes back in AuthenticateClientOkDSEsipa */
  struct world *smds_world;
  uint8_t smds_txid[16];
  size_t smds_txid_len;
  unsigned smds_relayed;
  /* when not 0: the eIM's euiccCiPKIdentifierToBeUsed is cut to this many bytes (minimizeEsipaBytes
   * allows a "possibly truncated" one), or its first byte changed when negative */
  int cut_ci_pk_id;
};

/* The eIM's InitiateAuthenticationOkEsipa again, with euiccCiPKIdentifierToBeUsed cut. */
static void cut_ci_pk_id(struct spy *s, struct rsp_msg_esipa_message_from_eim_to_ipa *r,
                         struct rsp_buf *resp, size_t start) {
  struct rsp_msg_initiate_authentication_ok_esipa *ok =
      r->u.initiate_authentication_response_esipa->u.initiate_authentication_ok_esipa;
  static uint8_t changed[RSP_IPA_CI_PK_ID_LEN];
  size_t n = (size_t)(s->cut_ci_pk_id < 0 ? -s->cut_ci_pk_id : s->cut_ci_pk_id);
  if (n > ok->euicc_ci_pk_identifier_to_be_used.len) return;
  memcpy(changed, ok->euicc_ci_pk_identifier_to_be_used.p, n);
  if (s->cut_ci_pk_id < 0) changed[0] ^= 0xFF;
  ok->euicc_ci_pk_identifier_to_be_used = rsp_msg_slice(changed, n);
  r->raw = rsp_msg_slice(NULL, 0);
  r->u.initiate_authentication_response_esipa->raw = rsp_msg_slice(NULL, 0);
  ok->raw = rsp_msg_slice(NULL, 0);
  /* r points into resp: encode aside, then replace */
  struct rsp_buf b;
  rsp_buf_init(&b, RSP_IPA_ESIPA_MAX);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, r, &b, NULL));
  resp->len = start;
  CHECK_OK(rsp_buf_append(resp, b.data, b.len));
  rsp_buf_free(&b);
}

static void spy_request(struct spy *s, const struct rsp_msg_esipa_message_from_ipa_to_eim *m) {
  switch (m->which) {
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA:
    s->info1_sent = m->u.initiate_authentication_request_esipa->euicc_info1 != NULL;
    s->eim_txid_sent = m->u.initiate_authentication_request_esipa->eim_transaction_id.len == 1;
    break;
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA:
    s->asr = m->u.authenticate_client_request_esipa->authenticate_server_response->which;
    s->txid_len = m->u.authenticate_client_request_esipa->transaction_id.len;
    memcpy(s->txid, m->u.authenticate_client_request_esipa->transaction_id.p, s->txid_len);
    break;
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA:
    s->pdr = m->u.get_bound_profile_package_request_esipa->prepare_download_response->which;
    break;
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA:
    if (m->u.handle_notification_esipa->which ==
        RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PENDING_NOTIFICATION)
      s->notification = m->u.handle_notification_esipa->u.pending_notification->which;
    break;
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA:
    s->cancel = m->u.cancel_session_request_esipa->cancel_session_response->which;
    break;
  default:
    break;
  }
}

/* ES11 on behalf of the IPA: one JSON call to the world's SM-DS (on the /es11/ paths). */
static bool smds_json(struct spy *s, const char *path, const struct rsp_msg_json_type *qt,
                      const void *q, const struct rsp_msg_json_type *rt, void *r,
                      struct rsp_msg_json_doc *doc) {
  struct rsp_buf body, out;
  int status = 0;
  rsp_buf_init(&body, 1 << 16);
  rsp_buf_init(&out, 1 << 16);
  CHECK_OK(rsp_msg_json_encode(qt, q, &body, NULL));
  CHECK_OK(rsp_smds_service_handle(s->smds_world->s.smds, path, (const char *)body.data, body.len,
                                   &status, &out));
  CHECK_EQ(status, 200);
  bool ok = rsp_msg_json_decode(rt, (const char *)out.data, out.len, doc, r, NULL) == RSP_OK &&
            rsp_msg_json_status_ok(r);
  rsp_buf_free(&body);
  rsp_buf_free(&out);
  s->smds_relayed++;
  return ok;
}

/* A TLV's value (the ESipa forms carry the signature and the key id without their header). */
static struct rsp_slice tlv_value(struct rsp_slice tlv) {
  struct rsp_der_tlv t;
  if (rsp_der_parse_one(tlv.p, tlv.len, &t) != RSP_OK) return rsp_msg_slice(NULL, 0);
  return rsp_msg_slice(t.val, t.len);
}

static rsp_err_t smds_initiate(struct spy *s,
                               const struct rsp_msg_initiate_authentication_request_esipa *q,
                               struct rsp_arena *a, struct rsp_buf *resp) {
  struct rsp_msg_json_doc doc;
  struct rsp_es9p_json_initiate_authentication_resp r;
  struct rsp_msg_server_signed1 *ss1 = NULL;
  struct rsp_es11_json_initiate_authentication_req jq = {.euicc_challenge = q->euicc_challenge,
                                                         .euicc_info1 = q->euicc_info1->raw,
                                                         .smds_address = SMDS_ADDRESS};
  rsp_msg_json_doc_init(&doc);
  CHECK(smds_json(s, RSP_ES11_PATH_INITIATE_AUTHENTICATION,
                  &rsp_es11_json_initiate_authentication_req_type, &jq,
                  &rsp_es9p_json_initiate_authentication_resp_type, &r, &doc));
  CHECK_OK(rsp_msg_decode(&rsp_msgt_server_signed1, r.server_signed1.p, r.server_signed1.len, a,
                          (void **)&ss1, NULL));
  s->smds_txid_len = r.transaction_id.len;
  memcpy(s->smds_txid, r.transaction_id.p, r.transaction_id.len);
  struct rsp_msg_initiate_authentication_ok_esipa ok = {
      .transaction_id = r.transaction_id,
      .server_signed1 = ss1,
      .server_signature1 = tlv_value(r.server_signature1),
      .euicc_ci_pk_identifier_to_be_used = tlv_value(r.euicc_ci_pk_id_to_be_used),
      .server_certificate = r.server_certificate};
  struct rsp_msg_initiate_authentication_response_esipa ia = {
      .which = RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_OK_ESIPA,
      .u.initiate_authentication_ok_esipa = &ok};
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_INITIATE_AUTHENTICATION_RESPONSE_ESIPA,
      .u.initiate_authentication_response_esipa = &ia};
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &m, resp, NULL);
  rsp_msg_json_doc_free(&doc);
  return rc;
}

/* The first event becomes the trigger of AuthenticateClientOkDSEsipa (an activation code);
 * none leaves the trigger out. */
static rsp_err_t smds_authenticate(struct spy *s,
                                   const struct rsp_msg_authenticate_client_request_esipa *q,
                                   struct rsp_buf *resp) {
  struct rsp_msg_json_doc doc;
  struct rsp_es11_json_authenticate_client_resp r;
  char ac[600];
  struct rsp_es9p_json_authenticate_client_req jq = {.transaction_id = q->transaction_id,
                                                     .authenticate_server_response =
                                                         q->authenticate_server_response->raw};
  rsp_msg_json_doc_init(&doc);
  CHECK(smds_json(s, RSP_ES11_PATH_AUTHENTICATE_CLIENT, &rsp_es9p_json_authenticate_client_req_type,
                  &jq, &rsp_es11_json_authenticate_client_resp_type, &r, &doc));
  struct rsp_msg_profile_download_data pd = {.which =
                                                 RSP_MSG_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE};
  struct rsp_msg_profile_download_trigger_request tr = {.profile_download_data = &pd};
  struct rsp_msg_authenticate_client_ok_ds_esipa ok = {.transaction_id = q->transaction_id};
  if (r.event_entries.n > 0) {
    const struct rsp_es11_json_event_entry *e = r.event_entries.v;
    snprintf(ac, sizeof ac, "1$%s$%s", e[0].rsp_server_address, e[0].event_id);
    pd.u.activation_code = rsp_msg_slice(ac, strlen(ac));
    ok.profile_download_trigger = &tr;
  }
  struct rsp_msg_authenticate_client_response_esipa acr = {
      .which = RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_OK_DS_ESIPA,
      .u.authenticate_client_ok_ds_esipa = &ok};
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_AUTHENTICATE_CLIENT_RESPONSE_ESIPA,
      .u.authenticate_client_response_esipa = &acr};
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &m, resp, NULL);
  rsp_msg_json_doc_free(&doc);
  return rc;
}

/* True when the request is for the SM-DS (and answered into resp). */
static bool smds_request(struct spy *s, const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                         struct rsp_arena *a, struct rsp_buf *resp, rsp_err_t *rc) {
  if (!s->smds_world) return false;
  if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA) {
    const struct rsp_msg_initiate_authentication_request_esipa *q =
        m->u.initiate_authentication_request_esipa;
    if (q->smdp_address.len != strlen(SMDS_ADDRESS) ||
        memcmp(q->smdp_address.p, SMDS_ADDRESS, q->smdp_address.len) != 0)
      return false;
    *rc = smds_initiate(s, q, a, resp);
    return true;
  }
  if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA) {
    struct rsp_slice t = m->u.authenticate_client_request_esipa->transaction_id;
    if (t.len != s->smds_txid_len || memcmp(t.p, s->smds_txid, t.len) != 0) return false;
    *rc = smds_authenticate(s, m->u.authenticate_client_request_esipa, resp);
    return true;
  }
  return false;
}

static rsp_err_t spy_exchange(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp) {
  struct spy *s = ctx;
  struct rsp_arena a;
  struct rsp_msg_esipa_message_from_ipa_to_eim *m = NULL;
  struct rsp_msg_esipa_message_from_eim_to_ipa *r = NULL;
  size_t start = resp->len;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(
      rsp_msg_decode(&rsp_msgt_esipa_message_from_ipa_to_eim, req, len, &a, (void **)&m, NULL));
  rsp_err_t rc = RSP_OK;
  if (m && smds_request(s, m, &a, resp, &rc)) {
    rsp_arena_free(&a);
    return rc;
  }
  if (m) spy_request(s, m);
  rc = rsp_eim_test_exchange(s->eim, req, len, resp);
  if (rc == RSP_OK && resp->len > start &&
      rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, resp->data + start, resp->len - start,
                     &a, (void **)&r, NULL) == RSP_OK &&
      r->which == RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_INITIATE_AUTHENTICATION_RESPONSE_ESIPA &&
      r->u.initiate_authentication_response_esipa->which ==
          RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_OK_ESIPA) {
    s->txid_echoed = r->u.initiate_authentication_response_esipa->u
                         .initiate_authentication_ok_esipa->transaction_id.p != NULL;
    if (s->cut_ci_pk_id) cut_ci_pk_id(s, r, resp, start);
  }
  rsp_arena_free(&a);
  return rc;
}

static const struct rsp_ipa_esipa_ops spy_ops = {"spy-test-eim", spy_exchange};

/* One device, its IPA, the test eIM and its relay in one world. */
struct indirect {
  struct world w;
  struct rsp_eim_relay *relay;
  struct rsp_eim_test eim;
  struct spy spy;
  struct rsp_ipa ipa;
};

static bool indirect_open_world(struct indirect *x, const char *curve, bool minimize, bool smds) {
  memset(x, 0, sizeof *x);
  if (!(smds ? world_open_smds(&x->w, curve) : world_open(&x->w, curve))) return false;
  if (smds) x->spy.smds_world = &x->w;
  struct rsp_eim_relay_options ro = {.es9 = &eim_es9_ops, .es9_ctx = &x->w};
  if (rsp_eim_relay_new(&ro, &x->relay) != RSP_OK) return false;
  rsp_eim_test_init(&x->eim, x->relay);
  x->eim.device.minimize_esipa_bytes = minimize;
  x->spy.eim = &x->eim;
  rsp_ipa_init(&x->ipa, &x->w.apdu, &spy_ops, &x->spy);
  x->ipa.minimize_esipa_bytes = minimize; /* no ES9+ port: AUTO means indirect */
  return true;
}

static bool indirect_open(struct indirect *x, const char *curve, bool minimize) {
  return indirect_open_world(x, curve, minimize, false);
}

static void indirect_close(struct indirect *x) {
  rsp_eim_test_free(&x->eim);
  rsp_eim_relay_destroy(x->relay);
  world_close(&x->w);
}

/* The eIM learns the device first (what the compact forms leave out), then triggers. */
static void queue_data_request(struct indirect *x) {
  static const uint8_t tags[] = {0xBF, 0x20, 0xBF, 0x22, 0xA5, 0xA6};
  struct rsp_msg_ipa_euicc_data_request q = {.tag_list = rsp_msg_slice(tags, sizeof tags)};
  struct rsp_buf b;
  rsp_buf_init(&b, 1024);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_ipa_euicc_data_request, &q, &b, NULL));
  CHECK_OK(rsp_eim_test_queue(&x->eim, b.data, b.len));
  rsp_buf_free(&b);
}

static void queue_trigger(struct indirect *x, const char *matching_id) {
  char ac[160];
  struct rsp_buf b;
  snprintf(ac, sizeof ac, "1$%s$%s", ADDRESS, matching_id);
  struct rsp_msg_profile_download_data pd = {.which = RSP_MSG_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE,
                                             .u.activation_code = rsp_msg_slice(ac, strlen(ac))};
  struct rsp_msg_profile_download_trigger_request tr = {
      .profile_download_data = &pd, .eim_transaction_id = rsp_msg_slice("\x42", 1)};
  rsp_buf_init(&b, 1024);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_profile_download_trigger_request, &tr, &b, NULL));
  CHECK_OK(rsp_eim_test_queue(&x->eim, b.data, b.len));
  rsp_buf_free(&b);
}

/* The last EimPackageResult the eIM got must be a ProfileDownloadTriggerResult echoing 0x42,
 * with a PIR (installed) or profileDownloadError. */
static void check_trigger_result(struct indirect *x, bool installed) {
  struct rsp_arena a;
  struct rsp_msg_eim_package_result *r = NULL;
  CHECK(x->eim.nresults > 0);
  if (!x->eim.nresults) return;
  const struct rsp_buf *raw = &x->eim.results[x->eim.nresults - 1];
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(
      rsp_msg_decode(&rsp_msgt_eim_package_result, raw->data, raw->len, &a, (void **)&r, NULL));
  CHECK(r && r->which == RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT);
  if (r && r->which == RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT) {
    const struct rsp_msg_profile_download_trigger_result *pr = r->u.profile_download_trigger_result;
    CHECK(pr->eim_transaction_id.len == 1 && pr->eim_transaction_id.p[0] == 0x42);
    const struct rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data *d =
        pr->profile_download_trigger_result_data;
    bool pir =
        d->which ==
        RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT;
    CHECK(pir == installed);
    if (pir)
      CHECK(
          d->u.profile_installation_result->profile_installation_result_data->final_result->which ==
          RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT);
  }
  rsp_arena_free(&a);
}

/* Notifications pending on the card with this event (NotificationEvent bit). */
static size_t pending(struct world *w, unsigned event) {
  struct rsp_buf out;
  struct rsp_arena a;
  struct rsp_msg_list_notification_response *r = NULL;
  size_t n = 0;
  rsp_buf_init(&out, 1 << 16);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_euicc_es10(w->s.card, (const uint8_t *)"\xBF\x28\x00", 3, &out));
  if (rsp_msg_decode(&rsp_msgt_list_notification_response, out.data, out.len, &a, (void **)&r,
                     NULL) == RSP_OK &&
      r->which == RSP_MSG_LIST_NOTIFICATION_RESPONSE_NOTIFICATION_METADATA_LIST)
    for (size_t i = 0; i < r->u.notification_metadata_list->n; i++)
      n += rsp_msg_bit(r->u.notification_metadata_list->v[i].profile_management_operation, event);
  rsp_arena_free(&a);
  rsp_buf_free(&out);
  return n;
}

/* No download session left for this transactionId: the card refuses CancelSession for it, the
 * SM-DP+ refuses cancelSession as an unknown or closed transaction, the relay has none. */
static void check_no_session(struct indirect *x) {
  struct rsp_slice txid = rsp_msg_slice(x->spy.txid, x->spy.txid_len);
  struct rsp_msg_cancel_session_request q = {.transaction_id = txid, .reason = 127};
  struct rsp_buf req, out;
  struct rsp_arena a;
  struct rsp_msg_sgp32_cancel_session_response *cr = NULL;
  CHECK(x->spy.txid_len > 0);
  rsp_buf_init(&req, 256);
  rsp_buf_init(&out, RSP_MSG_JSON_MAX_BODY);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_cancel_session_request, &q, &req, NULL));
  CHECK_OK(rsp_euicc_es10(x->w.s.card, req.data, req.len, &out));
  CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_cancel_session_response, out.data, out.len, &a,
                          (void **)&cr, NULL));
  CHECK(cr && cr->which == RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_ERROR);
  /* the SM-DP+: an unknown or closed transactionId is refused before anything else */
  struct rsp_es9p_json_cancel_session_req es = {.transaction_id = txid,
                                                .cancel_session_response =
                                                    rsp_msg_slice("\xBF\x41\x03\x81\x01\x05", 6)};
  struct rsp_es9p_json_cancel_session_resp er;
  struct rsp_msg_json_doc doc;
  int status = 0;
  rsp_msg_json_doc_init(&doc);
  rsp_buf_reset(&req);
  rsp_buf_reset(&out);
  rsp_buf_free(&req);
  rsp_buf_init(&req, RSP_MSG_JSON_MAX_BODY);
  CHECK_OK(rsp_msg_json_encode(&rsp_es9p_json_cancel_session_req_type, &es, &req, NULL));
  CHECK_OK(rsp_smdp_service_handle(x->w.s.svc, RSP_ES9P_PATH_CANCEL_SESSION, (const char *)req.data,
                                   req.len, &status, &out));
  CHECK_OK(rsp_msg_json_decode(&rsp_es9p_json_cancel_session_resp_type, (const char *)out.data,
                               out.len, &doc, &er, NULL));
  CHECK(!rsp_msg_json_status_ok(&er.header) &&
        rsp_msg_json_status_code_is(&er.header.function_execution_status, "8.10.1", NULL));
  CHECK(!rsp_eim_relay_session_exists(x->relay, txid));
  CHECK_EQ(rsp_eim_relay_session_count(x->relay), 0);
  rsp_msg_json_doc_free(&doc);
  rsp_arena_free(&a);
  rsp_buf_free(&req);
  rsp_buf_free(&out);
}

static void indirect(const char *curve, bool minimize) {
  struct indirect x;
  char mid[64];
  if (!indirect_open(&x, curve, minimize)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the %s world", curve);
    return;
  }
  order(&x.w, "8944000000000000144", NULL, mid, sizeof mid);
  queue_data_request(&x);
  queue_trigger(&x, mid);
  CHECK_OK(rsp_ipa_poll(&x.ipa));
  CHECK_EQ(x.ipa.stats.triggers, 1);
  CHECK_EQ(x.ipa.stats.indirect_downloads, 1);
  CHECK_EQ(profiles_on_card(&x.w), 1);
  check_trigger_result(&x, true);
  /* the PIR reached the SM-DP+ through the relay: it verified it and closed the order */
  struct rsp_smdp_order_info oi;
  CHECK_OK(rsp_smdp_service_order_get(x.w.s.svc, "8944000000000000144", &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
  CHECK_EQ(x.w.es9_notifications, 1);
  CHECK_EQ(x.w.es9_cancels, 0);
  /* every ESipa download function once, on the wire in the form minimizeEsipaBytes asks for */
  CHECK_EQ(x.eim.seen[RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA],
           1);
  CHECK_EQ(x.eim.seen[RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA], 1);
  CHECK_EQ(
      x.eim.seen[RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA], 1);
  CHECK_EQ(x.eim.seen[RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA], 1);
  CHECK_EQ(x.eim.seen[RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA], 0);
  CHECK(x.spy.info1_sent == !minimize);
  CHECK(x.spy.eim_txid_sent);
  CHECK(x.spy.txid_echoed == !minimize);
  CHECK_EQ(x.spy.asr,
           minimize ? RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_COMPACT_AUTHENTICATE_RESPONSE_OK
                    : RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK);
  CHECK_EQ(x.spy.pdr, minimize
                          ? RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_COMPACT_DOWNLOAD_RESPONSE_OK
                          : RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_OK);
  CHECK_EQ(x.spy.notification,
           minimize ? RSP_MSG_SGP32_PENDING_NOTIFICATION_COMPACT_PROFILE_INSTALLATION_RESULT
                    : RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT);
  CHECK_EQ(rsp_eim_relay_stats(x.relay)->expanded, minimize ? 3 : 0);
  CHECK_EQ(rsp_eim_relay_stats(x.relay)->installed, 1);
  CHECK_EQ(rsp_eim_relay_session_count(x.relay), 0);
  /* delivered, so removed from the card */
  CHECK_EQ(pending(&x.w, RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL), 0);
  indirect_close(&x);
}

/* minimizeEsipaBytes with a truncated euiccCiPKIdentifierToBeUsed from the eIM: the IPA completes
 * it from the card's EUICCInfo1 and the download goes through; a prefix of no CI key of the card
 * is given to the card as it is, which refuses it, and the session is cancelled. */
static void indirect_truncated_ci_pk_id(void) {
  struct indirect x;
  char mid[64];
  if (!indirect_open(&x, "nist", true)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the nist world");
    return;
  }
  x.spy.cut_ci_pk_id = 8;
  order(&x.w, "8944000000000000169", NULL, mid, sizeof mid);
  queue_data_request(&x); /* the eIM learns EUICCInfo1, which the minimized request omits */
  queue_trigger(&x, mid);
  CHECK_OK(rsp_ipa_poll(&x.ipa));
  CHECK_EQ(profiles_on_card(&x.w), 1);
  check_trigger_result(&x, true);
  x.spy.cut_ci_pk_id = -8;
  order(&x.w, "8944000000000000177", NULL, mid, sizeof mid);
  queue_trigger(&x, mid);
  CHECK_OK(rsp_ipa_poll(&x.ipa));
  CHECK_EQ(profiles_on_card(&x.w), 1);
  CHECK_EQ(x.eim.seen[RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA], 1);
  check_no_session(&x);
  indirect_close(&x);
}

/* rsp_ipa_ci_pk_id_expand on an EUICCInfo1 whose two signing keys share their first 4 bytes. */
static void ci_pk_id_expand(void) {
  uint8_t k1[RSP_IPA_CI_PK_ID_LEN], k2[RSP_IPA_CI_PK_ID_LEN], info1[128];
  size_t n = 0;
  struct rsp_slice full;
  memset(k1, 0x11, sizeof k1);
  memset(k2, 0x11, sizeof k2);
  k2[4] = 0x22;
  /* BF20 { svn 82, A9 { k1 }, AA { k1, k2 } } */
  static const uint8_t head[] = {0xBF, 0x20, 0x4B, 0x82, 0x03, 0x02,
                                 0x05, 0x00, 0xA9, 0x16, 0x04, 0x14};
  memcpy(info1, head, sizeof head);
  n = sizeof head;
  memcpy(info1 + n, k1, 20), n += 20;
  info1[n++] = 0xAA, info1[n++] = 0x2C, info1[n++] = 0x04, info1[n++] = 0x14;
  memcpy(info1 + n, k1, 20), n += 20;
  info1[n++] = 0x04, info1[n++] = 0x14;
  memcpy(info1 + n, k2, 20), n += 20;
  CHECK_EQ(n, 0x4B + 3);
  CHECK_OK(rsp_ipa_ci_pk_id_expand(info1, n, rsp_msg_slice(k2, 5), &full));
  CHECK(full.len == 20 && memcmp(full.p, k2, 20) == 0);
  CHECK_OK(rsp_ipa_ci_pk_id_expand(info1, n, rsp_msg_slice(k1, 20), &full));
  CHECK(full.p == k1); /* whole: kept */
  CHECK_ERR(rsp_ipa_ci_pk_id_expand(info1, n, rsp_msg_slice(k1, 4), &full), RSP_E_STATE);
  CHECK(full.len == 4); /* ambiguous: unchanged */
  uint8_t other[4] = {0x33};
  CHECK_ERR(rsp_ipa_ci_pk_id_expand(info1, n, rsp_msg_slice(other, 4), &full), RSP_E_NOT_FOUND);
  CHECK(rsp_ipa_ci_pk_id_expand(info1, n - 1, rsp_msg_slice(k1, 4), &full) != RSP_OK);
}

/* An unknown matchingId: the SM-DP+ refuses authenticateClient; the IPA cancels on the card and,
 * through the eIM, at the SM-DP+; nothing is installed and no session is left. */
static void indirect_wrong_matching_id_mode(bool minimize) {
  struct indirect x;
  if (!indirect_open(&x, "nist", minimize)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
    return;
  }
  queue_data_request(&x);
  queue_trigger(&x, "NO-SUCH-ORDER");
  CHECK_OK(rsp_ipa_poll(&x.ipa));
  CHECK_EQ(x.ipa.stats.indirect_downloads, 1);
  CHECK_EQ(profiles_on_card(&x.w), 0);
  check_trigger_result(&x, false);
  CHECK_EQ(
      x.eim.seen[RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA], 0);
  CHECK_EQ(x.eim.seen[RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA], 1);
  CHECK_EQ(x.spy.cancel,
           minimize ? RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_COMPACT_CANCEL_SESSION_RESPONSE_OK
                    : RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK);
  CHECK_EQ(x.w.es9_cancels, 1); /* relayed to the SM-DP+ */
  CHECK_EQ(rsp_eim_relay_stats(x.relay)->cancelled, 1);
  check_no_session(&x);
  indirect_close(&x);
}

static void indirect_wrong_matching_id(void) {
  indirect_wrong_matching_id_mode(false);
  indirect_wrong_matching_id_mode(true);
}

/* The SM-DP+ refuses getBoundProfilePackage (wrong confirmation code): the session is cancelled
 * on both sides, nothing installed; the order survives, and the right code then installs. */
static void indirect_bpp_refused(void) {
  struct indirect x;
  struct rsp_ipa_download_result r;
  char mid[64];
  if (!indirect_open(&x, "brp", true)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
    return;
  }
  order(&x.w, "8944000000000000151", "1234", mid, sizeof mid);
  queue_data_request(&x);
  CHECK_OK(rsp_ipa_poll(&x.ipa)); /* the eIM learns the device */
  struct rsp_ipa_download_params p = {
      .smdp_address = ADDRESS, .matching_id = mid, .confirmation_code = "9999"};
  rsp_ipa_download_result_init(&r);
  CHECK(rsp_ipa_download_indirect(&x.ipa, &p, &r) != RSP_OK);
  CHECK(r.indirect && !r.installed && r.failed_step &&
        strcmp(r.failed_step, "getBoundProfilePackage") == 0);
  rsp_ipa_download_result_free(&r);
  CHECK_EQ(profiles_on_card(&x.w), 0);
  CHECK_EQ(x.spy.cancel, RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_COMPACT_CANCEL_SESSION_RESPONSE_OK);
  CHECK_EQ(x.w.es9_cancels, 1);
  check_no_session(&x);
  struct rsp_smdp_order_info oi;
  CHECK_OK(rsp_smdp_service_order_get(x.w.s.svc, "8944000000000000151", &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_RELEASED);
  p.confirmation_code = "1234";
  rsp_ipa_download_result_init(&r);
  CHECK_OK(rsp_ipa_download_indirect(&x.ipa, &p, &r));
  CHECK(r.installed && r.failed_step == NULL);
  rsp_ipa_download_result_free(&r);
  CHECK_OK(rsp_smdp_service_order_get(x.w.s.svc, "8944000000000000151", &oi));
  CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
  CHECK_EQ(profiles_on_card(&x.w), 1);
  CHECK_EQ(rsp_eim_relay_session_count(x.relay), 0);
  indirect_close(&x);
}

/* AUTO with an ES9+ port: direct, unless the card's eIM configuration asks for indirect. */
static void mode_selection(void) {
  for (int flag = 0; flag < 2; flag++) {
    struct indirect x;
    struct rsp_test_eim te;
    struct rsp_buf req, out;
    char mid[64];
    if (!indirect_open(&x, "nist", false) || rsp_test_eim_load(&te, x.w.s.dir) != RSP_OK) {
      rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
      return;
    }
    struct rsp_msg_eim_configuration_data_eim_public_key_data pk = {
        .which = RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE,
        .u.eim_certificate = rsp_msg_slice(te.cert.data, te.cert.len)};
    struct rsp_msg_eim_configuration_data cfg = {.eim_id = rsp_msg_slice("eim-1", 5),
                                                 .counter_value = rsp_msg_int_make(1),
                                                 .eim_public_key_data = &pk,
                                                 .indirect_profile_download = flag == 1};
    struct rsp_msg_add_initial_eim_request_eim_configuration_data_list l = {.v = &cfg, .n = 1};
    struct rsp_msg_add_initial_eim_request q = {.eim_configuration_data_list = &l};
    rsp_buf_init(&req, 1 << 16);
    rsp_buf_init(&out, 1 << 16);
    CHECK_OK(rsp_msg_encode(&rsp_msgt_add_initial_eim_request, &q, &req, NULL));
    CHECK_OK(rsp_euicc_es10(x.w.s.card, req.data, req.len, &out));
    x.ipa.es9 = &es9_ops;
    x.ipa.es9_ctx = &x.w;
    x.ipa.eim_id = "eim-1";
    order(&x.w, "8944000000000000169", NULL, mid, sizeof mid);
    queue_trigger(&x, mid);
    CHECK_OK(rsp_ipa_poll(&x.ipa));
    CHECK_EQ(profiles_on_card(&x.w), 1);
    CHECK_EQ(x.ipa.stats.indirect_downloads, flag);
    CHECK_EQ(
        x.eim.seen[RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA],
        flag);
    rsp_buf_free(&req);
    rsp_buf_free(&out);
    rsp_test_eim_free(&te);
    indirect_close(&x);
  }
}

/* Immediate enable after an indirect install: allowed by ConfigureImmediateProfileEnabling it
 * leaves the new profile enabled, an enable notification pending and notifyStateChange
 * (immediateEnableProfile) on the next GetEimPackage; without it the card refuses. */
static void immediate_enable_mode(bool configured) {
  struct indirect x;
  char mid[64];
  if (!indirect_open(&x, "nist", true)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
    return;
  }
  if (configured) {
    struct rsp_msg_configure_immediate_profile_enabling_request q = {.immediate_enable_flag = true};
    struct rsp_buf req, out;
    rsp_buf_init(&req, 256);
    rsp_buf_init(&out, 256);
    CHECK_OK(
        rsp_msg_encode(&rsp_msgt_configure_immediate_profile_enabling_request, &q, &req, NULL));
    CHECK_OK(rsp_euicc_es10(x.w.s.card, req.data, req.len, &out));
    rsp_buf_free(&req);
    rsp_buf_free(&out);
  }
  x.ipa.immediate_enable = true;
  order(&x.w, "8944000000000000177", NULL, mid, sizeof mid);
  queue_data_request(&x);
  queue_trigger(&x, mid);
  CHECK_OK(rsp_ipa_poll(&x.ipa));
  CHECK_EQ(profiles_on_card(&x.w), 1);
  check_trigger_result(&x, true);
  CHECK_EQ(x.ipa.stats.immediate_enables, configured ? 1 : 0);
  CHECK_EQ(x.ipa.stats.immediate_enable_refusals, configured ? 0 : 1);
  CHECK_EQ(enabled_on_card(&x.w), configured ? 1 : 0);
  CHECK_EQ(pending(&x.w, RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_ENABLE), configured ? 1 : 0);
  CHECK(x.eim.last_notify_state_change == configured);
  CHECK_EQ(x.eim.last_state_change_cause,
           configured ? RSP_MSG_STATE_CHANGE_CAUSE_IMMEDIATE_ENABLE_PROFILE : -1);
  CHECK(!x.ipa.notify_state_change); /* sent once */
  indirect_close(&x);
}

static void immediate_enable(void) {
  immediate_enable_mode(true);
  immediate_enable_mode(false);
}

/* contactSmds with indirect download: the eIM relays the retrieval (AuthenticateClientOkDSEsipa
 * carries the event as an activation code), then the download itself; the event goes after the
 * PIR. A second trigger finds no event: profileDownloadError. */
static void smds_indirect(void) {
  struct indirect x;
  char mid[64];
  if (!indirect_open_world(&x, "nist", false, true)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the world");
    return;
  }
  rsp_test_smdp_order_smds(&x.w.s, "8944000000000000219", SMDS_ADDRESS, mid, sizeof mid);
  queue_data_request(&x);
  for (int i = 0; i < 2; i++) {
    struct rsp_msg_profile_download_data_contact_smds cs = {
        .smds_address = rsp_msg_slice(SMDS_ADDRESS, strlen(SMDS_ADDRESS))};
    struct rsp_msg_profile_download_data pd = {.which = RSP_MSG_PROFILE_DOWNLOAD_DATA_CONTACT_SMDS,
                                               .u.contact_smds = &cs};
    struct rsp_msg_profile_download_trigger_request tr = {
        .profile_download_data = &pd, .eim_transaction_id = rsp_msg_slice("\x42", 1)};
    struct rsp_buf b;
    rsp_buf_init(&b, 1024);
    CHECK_OK(rsp_msg_encode(&rsp_msgt_profile_download_trigger_request, &tr, &b, NULL));
    CHECK_OK(rsp_eim_test_queue(&x.eim, b.data, b.len));
    rsp_buf_free(&b);
    CHECK_OK(rsp_ipa_poll(&x.ipa));
    CHECK_EQ(x.ipa.stats.smds_retrievals, (unsigned)i + 1);
    CHECK_EQ(x.spy.smds_relayed, 2u * ((unsigned)i + 1));
    check_trigger_result(&x, i == 0);
    CHECK_EQ(profiles_on_card(&x.w), 1);
    if (i == 0) {
      struct rsp_smdp_order_info oi;
      CHECK_OK(rsp_smdp_service_order_get(x.w.s.svc, "8944000000000000219", &oi));
      CHECK_EQ(oi.state, RSP_SMDP_ORDER_INSTALLED);
      CHECK_EQ(x.ipa.stats.indirect_downloads, 1);
      CHECK_EQ(rsp_test_smdp_es12_flush(&x.w.s), 1);
      CHECK_EQ(rsp_test_smds_events(&x.w.s), 0);
    }
  }
  CHECK_EQ(x.w.es11_calls, 0); /* the IPA itself never called the SM-DS */
  indirect_close(&x);
}

static void indirect_nist(void) { indirect("nist", false); }
static void indirect_brp(void) { indirect("brp", false); }
static void indirect_nist_minimized(void) { indirect("nist", true); }
static void indirect_brp_minimized(void) { indirect("brp", true); }

static void download_nist(void) { download("nist"); }
static void download_brp(void) { download("brp"); }

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(download_nist),
                                               T(download_brp),
                                               T(triggered_by_eim),
                                               T(indirect_nist),
                                               T(indirect_brp),
                                               T(indirect_nist_minimized),
                                               T(indirect_truncated_ci_pk_id),
                                               T(ci_pk_id_expand),
                                               T(indirect_brp_minimized),
                                               T(indirect_wrong_matching_id),
                                               T(indirect_bpp_refused),
                                               T(mode_selection),
                                               T(immediate_enable),
                                               T(smds_direct_nist),
                                               T(smds_direct_brp_root),
                                               T(smds_no_event),
                                               T(smds_wrong_role),
                                               T(smds_session_no_download),
                                               T(smds_indirect),
                                               T(smds_no_root)};
  if (argc < 2) return 2;
  pki_bin = argv[1];
  rsp_log_set_level(RSP_LOG_ERROR);
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
