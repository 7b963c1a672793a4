/* The SM-DP+ service end to end, in-process: an operator and an LPA talk to it only through
 * rsp_smdp_service_handle with JSON bodies encoded by lib/msg/json.h, exactly as they would over
 * HTTPS, and the software eUICC plays the device (rsp_euicc_es10, the BPP cut by
 * rsp_msg_bpp_split). The service is closed and reopened before every call, so each step starts
 * from what the store kept.
 *
 * Both curves, generated and TS.48 profile packages, with and without a confirmation code; every
 * refusal with its subject/reason code (unknown matchingId, EID of another card, expired order,
 * wrong confirmation code up to the limit, bad eUICC signatures, an eUICC of an unknown CI,
 * replayed and expired transactionIds, CancelSession at each step) and the orders it leaves. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/der/der.h"
#include "rsp/euicc/euicc.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/bpp.h"
#include "rsp/msg/json.h"
#include "rsp/msg/signed.h"
#include "rsp/msg/tags.h"
#include "rsp/smdp/service.h"
#include "smdp_world.h"
#include "test.h"

#define ADDRESS "smdp.example.com"
#define OPERATOR "operator.example"
#define TYPE "openrsp-test"
#define RESP_MAX (1u << 20)
#define OTHER_EID "89049032000000000000000000000999"

static const uint8_t TAC[RSP_SMDP_TAC_LEN] = {0x35, 0x29, 0x06, 0x11};

/* ---- PKIs, clock, temporary directories -------------------------------------------------------
 */

struct pki {
  char top[512];
  char dir[600];
  char eid[RSP_EID_DIGITS + 1];
};

static const char *rsp_pki_bin;
static struct pki pki_nist, pki_brp, pki_other;
static int64_t fake_now;

static int64_t clock_now(void *ctx) {
  (void)ctx;
  return fake_now;
}

static const struct pki *make_pki(struct pki *k, const char *tag, const char *curve) {
  if (k->dir[0]) return k;
  snprintf(k->top, sizeof k->top, "%s", rsp_test_tmpdir(tag));
  snprintf(k->dir, sizeof k->dir, "%s/pki", k->top);
  if (!rsp_test_pki_create(rsp_pki_bin, k->dir, curve, "890490320000000000000000000456:1", k->eid))
    rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  return k;
}

static const struct pki *nist(void) { return make_pki(&pki_nist, "svc_nist", "nist"); }
static const struct pki *brp(void) { return make_pki(&pki_brp, "svc_brp", "brp"); }
static const struct pki *other(void) { return make_pki(&pki_other, "svc_other", "nist"); }

/* ---- the world: one card, the SM-DP+ of its PKI, the service's store ---------------------------
 */

struct world {
  const struct pki *k;
  struct rsp_euicc *card;
  struct rsp_smdp_identity *id;
  struct rsp_smdp_service *svc;
  struct rsp_smdp_service_options o;
  char db[700];
  struct rsp_buf resp;
  int calls;
};

static void world_open_ttl(struct world *w, const struct pki *k, int64_t order_ttl) {
  struct rsp_euicc_options eo = {.pki_dir = k->dir, .eid = k->eid};
  memset(w, 0, sizeof *w);
  w->k = k;
  snprintf(w->db, sizeof w->db, "%s/smdp.db", rsp_test_tmpdir("svc_db"));
  fake_now = (int64_t)time(NULL);
  CHECK_OK(rsp_euicc_open(&eo, &w->card));
  CHECK_OK(rsp_smdp_identity_load(k->dir, &w->id));
  w->o = (struct rsp_smdp_service_options){.db_path = w->db,
                                           .identity = w->id,
                                           .address = ADDRESS,
                                           .order_ttl = order_ttl,
                                           .now = clock_now};
  CHECK_OK(rsp_smdp_service_open(&w->o, &w->svc));
  rsp_buf_init(&w->resp, RESP_MAX);
}

static void world_open(struct world *w, const struct pki *k) { world_open_ttl(w, k, 0); }

/* Everything the service knows must come from the store: a new process, as it were. */
static void reopen(struct world *w) {
  rsp_smdp_service_destroy(w->svc);
  w->svc = NULL;
  CHECK_OK(rsp_smdp_service_open(&w->o, &w->svc));
}

static void world_close(struct world *w) {
  rsp_smdp_service_destroy(w->svc);
  rsp_smdp_identity_destroy(w->id);
  rsp_euicc_destroy(w->card);
  rsp_buf_free(&w->resp);
}

static void add_profile(struct world *w, const char *iccid, const char *imsi) {
  struct rsp_buf upp;
  rsp_buf_init(&upp, 4096);
  CHECK_OK(rsp_smdp_profile_generate(iccid, imsi, &upp));
  struct rsp_smdp_profile_new p = {.iccid = iccid,
                                   .profile_type = TYPE,
                                   .service_provider_name = "openrsp",
                                   .profile_name = "service test",
                                   .upp = rsp_msg_slice(upp.data, upp.len)};
  CHECK_OK(rsp_smdp_service_profile_add(w->svc, &p));
  rsp_buf_free(&upp);
}

/* ---- JSON over the generic entry ---------------------------------------------------------------
 */

/* Encodes the request as the peer would, reopens the service, and decodes its answer into r
 * (memory in doc). Returns the HTTP status. */
static int call(struct world *w, const char *path, const void *q, void *r,
                struct rsp_msg_json_doc *doc) {
  const struct rsp_msg_json_func_info *f = rsp_msg_json_func_get(rsp_msg_json_func_from_path(path));
  struct rsp_buf body, out;
  struct rsp_msg_json_diag diag;
  int status = 0;
  rsp_buf_init(&body, RSP_MSG_JSON_MAX_BODY);
  rsp_buf_init(&out, RSP_MSG_JSON_MAX_BODY);
  CHECK_OK(rsp_msg_json_encode(f->request, q, &body, &diag));
  reopen(w);
  CHECK_OK(rsp_smdp_service_handle(w->svc, path, (const char *)body.data, body.len, &status, &out));
  if (status == 200 || status == 204) {
    rsp_err_t rc = rsp_msg_json_decode(f->response, (const char *)out.data, out.len, doc, r, &diag);
    if (rc != RSP_OK) rsp_test_fail(__FILE__, __LINE__, "%s answer: %s", path, diag.text);
  }
  rsp_buf_free(&body);
  rsp_buf_free(&out);
  return status;
}

static struct rsp_msg_json_req_header es2p_header(struct world *w) {
  static char id[32];
  snprintf(id, sizeof id, "call-%d", ++w->calls);
  return (struct rsp_msg_json_req_header){OPERATOR, id};
}

static void expect_ok(const void *resp, int line) {
  const struct rsp_msg_json_exec_status *s =
      &((const struct rsp_msg_json_resp_header *)resp)->function_execution_status;
  rsp_test_checks++;
  if (s->status != RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS)
    rsp_test_fail(__FILE__, line, "expected Executed-Success, got %d (%s/%s: %s)", (int)s->status,
                  s->status_code_data ? s->status_code_data->subject_code : "-",
                  s->status_code_data ? s->status_code_data->reason_code : "-",
                  s->status_code_data && s->status_code_data->message ? s->status_code_data->message
                                                                      : "");
}

static void expect_failed(const void *resp, const char *subject, const char *reason, int line) {
  const struct rsp_msg_json_exec_status *s =
      &((const struct rsp_msg_json_resp_header *)resp)->function_execution_status;
  rsp_test_checks++;
  if (s->status != RSP_MSG_JSON_STATUS_FAILED || !rsp_msg_json_status_code_is(s, subject, reason))
    rsp_test_fail(__FILE__, line, "expected Failed %s/%s, got %d (%s/%s)", subject, reason,
                  (int)s->status, s->status_code_data ? s->status_code_data->subject_code : "-",
                  s->status_code_data ? s->status_code_data->reason_code : "-");
}

#define EXPECT_OK(r) expect_ok((r), __LINE__)
#define EXPECT_FAILED(r, s, rs) expect_failed((r), (s), (rs), __LINE__)

static struct rsp_slice eid_slice(const char *digits, uint8_t buf[RSP_EID_LEN]) {
  if (!digits) return rsp_msg_slice(NULL, 0);
  CHECK_OK(rsp_eid_from_string(digits, buf));
  return rsp_msg_slice(buf, RSP_EID_LEN);
}

/* ---- the operator -----------------------------------------------------------------------------
 */

static void download_order(struct world *w, const char *iccid, const char *type, const char *eid,
                           struct rsp_es2p_json_download_order_resp *r,
                           struct rsp_msg_json_doc *doc) {
  uint8_t e[RSP_EID_LEN];
  struct rsp_es2p_json_download_order_req q = {
      .header = es2p_header(w), .eid = eid_slice(eid, e), .iccid = iccid, .profile_type = type};
  CHECK_EQ(call(w, RSP_ES2P_PATH_DOWNLOAD_ORDER, &q, r, doc), 200);
}

static void confirm_order(struct world *w, const char *iccid, const char *eid, const char *mid,
                          const char *cc, bool release, struct rsp_es2p_json_confirm_order_resp *r,
                          struct rsp_msg_json_doc *doc) {
  uint8_t e[RSP_EID_LEN];
  struct rsp_es2p_json_confirm_order_req q = {.header = es2p_header(w),
                                              .iccid = iccid,
                                              .eid = eid_slice(eid, e),
                                              .matching_id = mid,
                                              .confirmation_code = cc,
                                              .release_flag = {release, true}};
  CHECK_EQ(call(w, RSP_ES2P_PATH_CONFIRM_ORDER, &q, r, doc), 200);
}

static void cancel_order(struct world *w, const char *iccid, const char *fpsi,
                         struct rsp_es2p_json_cancel_order_resp *r, struct rsp_msg_json_doc *doc) {
  struct rsp_es2p_json_cancel_order_req q = {
      .header = es2p_header(w), .iccid = iccid, .final_profile_status_indicator = fpsi};
  CHECK_EQ(call(w, RSP_ES2P_PATH_CANCEL_ORDER, &q, r, doc), 200);
}

/* downloadOrder + confirmOrder (released); the matchingId goes to mid, and the activation code
 * the service gives for the order must carry it. */
static void order(struct world *w, const char *iccid, const char *eid, const char *cc,
                  char mid[RSP_SMDP_MATCHING_ID_MAX + 1]) {
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_download_order_resp dr;
  struct rsp_es2p_json_confirm_order_resp cr;
  struct rsp_smdp_order_info info;
  char ac[RSP_SMDP_AC_MAX];
  rsp_msg_json_doc_init(&doc);
  mid[0] = '\0';
  download_order(w, iccid, NULL, eid, &dr, &doc);
  EXPECT_OK(&dr);
  if (dr.iccid) CHECK_STR(dr.iccid, iccid);
  confirm_order(w, iccid, NULL, NULL, cc, true, &cr, &doc);
  EXPECT_OK(&cr);
  if (cr.matching_id) snprintf(mid, RSP_SMDP_MATCHING_ID_MAX + 1, "%s", cr.matching_id);
  CHECK_STR(cr.smdp_address, ADDRESS);
  CHECK_OK(rsp_smdp_service_order_get(w->svc, iccid, &info));
  snprintf(ac, sizeof ac, "LPA:1$%s$%s", ADDRESS, mid);
  CHECK_STR(info.activation_code, ac);
  CHECK_EQ(info.state, RSP_SMDP_ORDER_RELEASED);
  rsp_msg_json_doc_free(&doc);
}

static void check_states(struct world *w, const char *iccid, enum rsp_smdp_order_state os,
                         enum rsp_smdp_profile_state ps, int line) {
  reopen(w);
  rsp_test_smdp_check_states(w->svc, iccid, os, ps, __FILE__, line);
}

#define CHECK_STATES(w, iccid, os, ps) check_states((w), (iccid), (os), (ps), __LINE__)

/* ---- the card ---------------------------------------------------------------------------------
 */

/* The value of a TLV the JSON carries whole (5F37 40 ..., 04 14 ...). */
static struct rsp_slice value_of(struct rsp_slice tlv) {
  struct rsp_der_tlv t;
  if (!tlv.p || rsp_der_parse_one(tlv.p, tlv.len, &t) != RSP_OK) return rsp_msg_slice(NULL, 0);
  return rsp_msg_slice(t.val, t.len);
}

/* One download as the LPA sees it. */
struct dl {
  struct rsp_msg_json_doc doc;
  struct rsp_es9p_json_initiate_authentication_resp ia;
  struct rsp_es9p_json_authenticate_client_resp ac;
  struct rsp_es9p_json_get_bound_profile_package_resp gb;
  struct rsp_buf asr, pdr, pir;
};

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

/* initiateAuthentication with the euiccInfo1 of `info_card` and the challenge of `card`. */
static int initiate_from(struct world *w, struct rsp_euicc *info_card, struct rsp_euicc *card,
                         struct dl *d, const char *address) {
  struct rsp_msg_get_euicc_info1_request iq = {0};
  struct rsp_buf info;
  uint8_t ch[RSP_SMDP_CHALLENGE_LEN];
  rsp_buf_init(&info, RESP_MAX);
  rsp_test_card_msg(info_card, &rsp_msgt_get_euicc_info1_request, &iq, &info);
  rsp_test_card_challenge(card, ch);
  struct rsp_es9p_json_initiate_authentication_req q = {
      .euicc_challenge = rsp_msg_slice(ch, sizeof ch),
      .euicc_info1 = rsp_msg_slice(info.data, info.len),
      .smdp_address = address};
  int status = call(w, RSP_ES9P_PATH_INITIATE_AUTHENTICATION, &q, &d->ia, &d->doc);
  rsp_buf_free(&info);
  return status;
}

static void initiate(struct world *w, struct dl *d) {
  CHECK_EQ(initiate_from(w, w->card, w->card, d, ADDRESS), 200);
  EXPECT_OK(&d->ia);
}

/* The LPA's AuthenticateServer (BF38) from the SM-DP+'s answer, the card's answer in d->asr. */
static void card_authenticate(struct rsp_euicc *card, struct dl *d, const char *mid) {
  struct rsp_buf req;
  rsp_buf_init(&req, RESP_MAX);
  struct rsp_smdp_authenticate_server_parts parts = {
      .server_signed1 = d->ia.server_signed1,
      .server_signature1 = value_of(d->ia.server_signature1),
      .euicc_ci_pk_id = value_of(d->ia.euicc_ci_pk_id_to_be_used),
      .server_certificate = d->ia.server_certificate,
      .matching_id = mid ? rsp_msg_slice(mid, strlen(mid)) : rsp_msg_slice(NULL, 0)};
  memcpy(parts.tac, TAC, sizeof TAC);
  CHECK_OK(rsp_smdp_authenticate_server_request_build(&parts, &req));
  CHECK_OK(rsp_test_card_es10(card, req.data, req.len, &d->asr));
  rsp_buf_free(&req);
}

static int authenticate_client(struct world *w, struct dl *d, struct rsp_slice txid) {
  struct rsp_es9p_json_authenticate_client_req q = {.transaction_id = txid,
                                                    .authenticate_server_response =
                                                        rsp_msg_slice(d->asr.data, d->asr.len)};
  return call(w, RSP_ES9P_PATH_AUTHENTICATE_CLIENT, &q, &d->ac, &d->doc);
}

/* PrepareDownload with the code the user typed (NULL: none). */
static void card_prepare(struct rsp_euicc *card, struct dl *d, const char *cc_user) {
  struct rsp_buf req;
  uint8_t hash[RSP_SMDP_HASH_CC_LEN];
  rsp_buf_init(&req, RESP_MAX);
  struct rsp_smdp_prepare_download_parts parts = {.smdp_signed2 = d->ac.smdp_signed2,
                                                  .smdp_signature2 =
                                                      value_of(d->ac.smdp_signature2),
                                                  .smdp_certificate = d->ac.smdp_certificate};
  if (cc_user) {
    CHECK_OK(rsp_smdp_hash_cc(rsp_msg_slice(cc_user, strlen(cc_user)), d->ia.transaction_id, hash));
    parts.hash_cc = rsp_msg_slice(hash, sizeof hash);
  }
  CHECK_OK(rsp_smdp_prepare_download_request_build(&parts, &req));
  CHECK_OK(rsp_test_card_es10(card, req.data, req.len, &d->pdr));
  rsp_buf_free(&req);
}

static int get_bpp(struct world *w, struct dl *d, struct rsp_slice txid) {
  struct rsp_es9p_json_get_bound_profile_package_req q = {
      .transaction_id = txid, .prepare_download_response = rsp_msg_slice(d->pdr.data, d->pdr.len)};
  return call(w, RSP_ES9P_PATH_GET_BOUND_PROFILE_PACKAGE, &q, &d->gb, &d->doc);
}

/* The BPP in LoadBoundProfilePackage calls; the last answer (the PIR) in d->pir. */
static void card_load(struct rsp_euicc *card, struct dl *d) {
  struct rsp_slice bpp = d->gb.bound_profile_package;
  size_t n = 0;
  rsp_buf_reset(&d->pir);
  CHECK_ERR(rsp_msg_bpp_split(bpp.p, bpp.len, NULL, 0, &n), RSP_E_BUF_SMALL);
  struct rsp_slice *segs = rsp_calloc(n ? n : 1, sizeof *segs);
  CHECK_OK(rsp_msg_bpp_split(bpp.p, bpp.len, segs, n, &n));
  for (size_t i = 0; i < n; i++) {
    CHECK_OK(rsp_test_card_es10(card, segs[i].p, segs[i].len, &d->pir));
    if (i + 1 < n) CHECK_EQ(d->pir.len, 0);
  }
  CHECK(d->pir.len > 0);
  rsp_free(segs);
}

static int notify(struct world *w, struct dl *d, struct rsp_slice notification) {
  struct rsp_es9p_json_handle_notification_req q = {.pending_notification = notification};
  struct rsp_es9p_json_handle_notification_resp r;
  int status = call(w, RSP_ES9P_PATH_HANDLE_NOTIFICATION, &q, &r, &d->doc);
  if (status == 200) EXPECT_FAILED(&r, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED);
  return status;
}

/* The card's CancelSession (BF41 answer in out). */
static void card_cancel(struct rsp_euicc *card, struct rsp_slice txid, int64_t reason,
                        struct rsp_buf *out) {
  struct rsp_msg_cancel_session_request c = {.transaction_id = txid, .reason = reason};
  rsp_test_card_msg(card, &rsp_msgt_cancel_session_request, &c, out);
}

static void cancel_session(struct world *w, struct dl *d, struct rsp_slice txid,
                           const struct rsp_buf *csr, struct rsp_es9p_json_cancel_session_resp *r) {
  struct rsp_es9p_json_cancel_session_req q = {
      .transaction_id = txid, .cancel_session_response = rsp_msg_slice(csr->data, csr->len)};
  CHECK_EQ(call(w, RSP_ES9P_PATH_CANCEL_SESSION, &q, r, &d->doc), 200);
}

/* profileMetadata names the order's ICCID (StoreMetadataRequest, EF.ICCID order). */
static void check_metadata(struct rsp_slice md, const char *iccid) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_store_metadata_request *m = NULL;
  uint8_t want[RSP_ICCID_LEN];
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_iccid_encode(iccid, want));
  CHECK_OK(
      rsp_msg_decode(&rsp_msgt_sgp32_store_metadata_request, md.p, md.len, &a, (void **)&m, NULL));
  CHECK(m && m->iccid.len == RSP_ICCID_LEN && memcmp(m->iccid.p, want, RSP_ICCID_LEN) == 0);
  rsp_arena_free(&a);
}

/* A whole download of an order that must succeed. */
static void download(struct world *w, const char *mid, const char *cc, const char *iccid) {
  struct dl d;
  struct rsp_smdp_notification_info n;
  dl_init(&d);
  initiate(w, &d);
  card_authenticate(w->card, &d, mid);
  CHECK_EQ(authenticate_client(w, &d, d.ia.transaction_id), 200);
  EXPECT_OK(&d.ac);
  check_metadata(d.ac.profile_metadata, iccid);
  CHECK_STATES(w, iccid, RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  card_prepare(w->card, &d, cc);
  CHECK_EQ(get_bpp(w, &d, d.ia.transaction_id), 200);
  EXPECT_OK(&d.gb);
  CHECK_STATES(w, iccid, RSP_SMDP_ORDER_DOWNLOADED, RSP_SMDP_PROFILE_DOWNLOADED);
  card_load(w->card, &d);
  CHECK_EQ(notify(w, &d, rsp_msg_slice(d.pir.data, d.pir.len)), 204);
  CHECK(rsp_test_card_has_profile(w->card, iccid));
  CHECK_STATES(w, iccid, RSP_SMDP_ORDER_INSTALLED, RSP_SMDP_PROFILE_INSTALLED);
  CHECK_OK(rsp_smdp_service_notification_last(w->svc, &n));
  CHECK(n.pir && n.verified && n.success && n.event == 0);
  CHECK_STR(n.iccid, iccid);
  CHECK_STR(n.eid, w->k->eid);
  dl_free(&d);
}

/* The operator callbacks queued since the last call: their notificationPointIds in order, each
 * marked sent. Returns how many; `failed` counts those with status Failed. */
static char last_subject[16], last_reason[16];

static size_t drain_outbox(struct world *w, int64_t *points, size_t max, size_t *failed) {
  struct rsp_smdp_outbox_item it;
  size_t n = 0;
  *failed = 0;
  last_subject[0] = last_reason[0] = '\0';
  reopen(w);
  while (rsp_smdp_service_outbox_next(w->svc, &it) == RSP_OK) {
    struct rsp_msg_json_doc doc;
    struct rsp_es2p_json_handle_download_progress_info_req q;
    rsp_msg_json_doc_init(&doc);
    CHECK_STR(it.requester, OPERATOR);
    CHECK_STR(it.path, RSP_ES2P_PATH_HANDLE_DOWNLOAD_PROGRESS_INFO);
    CHECK_OK(rsp_msg_json_decode(&rsp_es2p_json_handle_download_progress_info_req_type, it.body,
                                 it.body_len, &doc, &q, NULL));
    if (n < max) points[n] = q.notification_point_id.v;
    *failed += q.notification_point_status.status == RSP_MSG_JSON_STATUS_FAILED;
    const struct rsp_msg_json_status_code_data *scd = q.notification_point_status.status_code_data;
    snprintf(last_subject, sizeof last_subject, "%s", scd ? scd->subject_code : "");
    snprintf(last_reason, sizeof last_reason, "%s", scd ? scd->reason_code : "");
    n++;
    CHECK_OK(rsp_smdp_service_outbox_done(w->svc, it.id));
    rsp_smdp_outbox_item_free(&it);
    rsp_msg_json_doc_free(&doc);
  }
  return n;
}

/* ---- end to end -------------------------------------------------------------------------------
 */

static void end_to_end(const struct pki *k) {
  struct world w;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  int64_t points[8];
  size_t failed = 0;
  world_open(&w, k);
  add_profile(&w, "8949032000000000011", "001010000000011");
  add_profile(&w, "89490320000000000292", "001010000000029");
  /* by ICCID, bound to the card's EID, no code */
  order(&w, "8949032000000000011", k->eid, NULL, mid);
  download(&w, mid, NULL, "8949032000000000011");
  CHECK_EQ(drain_outbox(&w, points, 8, &failed), 3);
  CHECK(points[0] == RSP_SMDP_POINT_ELIGIBILITY && points[1] == RSP_SMDP_POINT_BPP_DOWNLOAD &&
        points[2] == RSP_SMDP_POINT_BPP_INSTALLATION && failed == 0);
  /* by profile type, any eUICC, with a confirmation code */
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_download_order_resp dr;
  struct rsp_es2p_json_confirm_order_resp cr;
  rsp_msg_json_doc_init(&doc);
  download_order(&w, NULL, TYPE, NULL, &dr, &doc);
  EXPECT_OK(&dr);
  CHECK_STR(dr.iccid, "89490320000000000292");
  CHECK_STATES(&w, "89490320000000000292", RSP_SMDP_ORDER_ALLOCATED, RSP_SMDP_PROFILE_ALLOCATED);
  confirm_order(&w, "89490320000000000292", NULL, "MY-MATCHING-ID", "1234", true, &cr, &doc);
  EXPECT_OK(&cr);
  CHECK_STR(cr.matching_id, "MY-MATCHING-ID");
  download(&w, "MY-MATCHING-ID", "1234", "89490320000000000292");
  /* the pool is empty now */
  download_order(&w, NULL, TYPE, NULL, &dr, &doc);
  EXPECT_FAILED(&dr, RSP_SMDP_SUBJECT_PROFILE_TYPE, RSP_SMDP_REASON_UNAVAILABLE);
  rsp_msg_json_doc_free(&doc);
  world_close(&w);
}

static void end_to_end_nist(void) { end_to_end(nist()); }
static void end_to_end_brp(void) { end_to_end(brp()); }

/* The GSMA TS.48 packages, read in place: all four carry the same ICCID, so one is added. */
static void end_to_end_ts48(void) {
  struct world w;
  struct rsp_smdp_profile_info p;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  size_t added = 0, skipped = 0;
  const char *dir = rsp_test_shared_path("profiles");
  if (!dir) {
    printf("# end_to_end_ts48: no shared profiles, not run\n");
    return;
  }
  world_open(&w, brp());
  CHECK_OK(rsp_smdp_service_profiles_load_dir(w.svc, dir, NULL, &added, &skipped));
  CHECK_EQ(added, 1);
  CHECK_EQ(skipped, 3);
  CHECK_OK(rsp_smdp_service_profile_get(w.svc, "89000123456789012341", &p));
  CHECK_STR(p.profile_type, "GSMA Generic eUICC Test Profile");
  /* loading again adds nothing */
  CHECK_OK(rsp_smdp_service_profiles_load_dir(w.svc, dir, NULL, &added, &skipped));
  CHECK_EQ(added, 0);
  order(&w, "89000123456789012341", NULL, NULL, mid);
  download(&w, mid, NULL, "89000123456789012341");
  world_close(&w);
}

static void generated_profile(void) {
  struct rsp_buf b;
  char iccid[RSP_ICCID_MAX_DIGITS + 1], type[RSP_SMDP_PROFILE_TYPE_MAX + 1];
  const uint8_t *p, *end;
  struct rsp_der_tlv t;
  size_t n = 0;
  rsp_buf_init(&b, 4096);
  CHECK_OK(rsp_smdp_profile_generate("8949032000000000011F", "001010123456789", &b));
  for (p = b.data, end = b.data + b.len; p < end; n++) {
    CHECK_OK(rsp_der_read_tlv(&p, end, &t));
    CHECK_OK(rsp_der_validate_tree(t.raw, t.raw_len));
    if (n == 0) CHECK_EQ(t.tag, 0xA0); /* ProfileHeader */
    if (n == 3) CHECK_EQ(t.tag, 0xAA); /* PE-End */
  }
  CHECK_EQ(n, 4);
  CHECK_OK(rsp_smdp_profile_package_info(b.data, b.len, iccid, type, sizeof type));
  CHECK_STR(iccid, "8949032000000000011");
  CHECK_STR(type, "openrsp test profile");
  /* EF.IMSI of 001010123456789: 08 09 10 10 10 32 54 76 98 */
  static const uint8_t imsi_ef[] = {0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98};
  bool found = false;
  for (size_t i = 0; i + sizeof imsi_ef <= b.len; i++)
    found |= memcmp(b.data + i, imsi_ef, sizeof imsi_ef) == 0;
  CHECK(found);
  rsp_buf_reset(&b);
  CHECK_OK(rsp_smdp_profile_generate("89490320000000000292", "00101001", &b));
  CHECK_OK(rsp_smdp_profile_package_info(b.data, b.len, iccid, NULL, 0));
  CHECK_STR(iccid, "89490320000000000292");
  CHECK_ERR(rsp_smdp_profile_generate("12345", "001010123456789", &b), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_smdp_profile_generate("8949032000000000011", "0010A", &b), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_smdp_profile_package_info(b.data, b.len - 1, iccid, NULL, 0), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_smdp_profile_package_info((const uint8_t *)"\x30\x00", 2, iccid, NULL, 0),
            RSP_E_INVALID_ARG);
  rsp_buf_free(&b);
}

/* ---- what the SM-DP+ refuses ------------------------------------------------------------------
 */

static void unknown_matching_id(void) {
  struct world w;
  struct dl d;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  world_open(&w, nist());
  add_profile(&w, "8949032000000000037", "001010000000037");
  order(&w, "8949032000000000037", NULL, NULL, mid);
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, "NO-SUCH-ORDER");
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_REFUSED);
  /* the refused session is over */
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN);
  CHECK_STATES(&w, "8949032000000000037", RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  /* no matchingId at all */
  dl_free(&d);
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, NULL);
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_UNKNOWN);
  dl_free(&d);
  download(&w, mid, NULL, "8949032000000000037");
  world_close(&w);
}

static void eid_mismatch(void) {
  struct world w;
  struct dl d;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  int64_t points[4];
  size_t failed = 0;
  world_open(&w, nist());
  add_profile(&w, "8949032000000000045", "001010000000045");
  order(&w, "8949032000000000045", OTHER_EID, NULL, mid);
  drain_outbox(&w, points, 4, &failed);
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, mid);
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_REFUSED);
  CHECK_STATES(&w, "8949032000000000045", RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  /* the operator hears of the failed eligibility check */
  CHECK_EQ(drain_outbox(&w, points, 4, &failed), 1);
  CHECK(points[0] == RSP_SMDP_POINT_ELIGIBILITY && failed == 1);
  dl_free(&d);
  world_close(&w);
}

static void expired_order(void) {
  struct world w;
  struct dl d;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1], mid2[RSP_SMDP_MATCHING_ID_MAX + 1];
  size_t orders = 0, sessions = 0;
  world_open_ttl(&w, nist(), 3600);
  add_profile(&w, "8949032000000000052", "001010000000052");
  add_profile(&w, "8949032000000000060", "001010000000060");
  order(&w, "8949032000000000052", NULL, NULL, mid);
  order(&w, "8949032000000000060", NULL, NULL, mid2);
  fake_now += 3601;
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, mid);
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_DOWNLOAD_ORDER, RSP_SMDP_REASON_TTL_EXPIRED);
  CHECK_STATES(&w, "8949032000000000052", RSP_SMDP_ORDER_EXPIRED, RSP_SMDP_PROFILE_AVAILABLE);
  /* the other order expires by housekeeping; a released profile is ordered again */
  CHECK_OK(rsp_smdp_service_expire(w.svc, &orders, &sessions));
  CHECK_EQ(orders, 1);
  CHECK_STATES(&w, "8949032000000000060", RSP_SMDP_ORDER_EXPIRED, RSP_SMDP_PROFILE_AVAILABLE);
  fake_now += 2 * 86400;
  CHECK_OK(rsp_smdp_service_expire(w.svc, &orders, &sessions));
  CHECK_EQ(sessions, 1);
  order(&w, "8949032000000000052", NULL, NULL, mid);
  download(&w, mid, NULL, "8949032000000000052");
  dl_free(&d);
  world_close(&w);
}

/* One attempt with a code typed by the user: the whole LPA flow up to getBoundProfilePackage. */
static void attempt(struct world *w, const char *mid, const char *typed, const char *subject,
                    const char *reason) {
  struct dl d;
  dl_init(&d);
  initiate(w, &d);
  card_authenticate(w->card, &d, mid);
  CHECK_EQ(authenticate_client(w, &d, d.ia.transaction_id), 200);
  EXPECT_OK(&d.ac);
  card_prepare(w->card, &d, typed);
  CHECK_EQ(get_bpp(w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.gb, subject, reason);
  dl_free(&d);
}

static void wrong_confirmation_code(void) {
  struct world w;
  struct dl d;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  struct rsp_smdp_order_info o;
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_cancel_order_resp cr;
  int64_t points[8];
  size_t failed = 0;
  world_open(&w, brp());
  add_profile(&w, "8949032000000000078", "001010000000078");
  order(&w, "8949032000000000078", NULL, "2468", mid);
  attempt(&w, mid, "1111", RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_REFUSED);
  CHECK_OK(rsp_smdp_service_order_get(w.svc, "8949032000000000078", &o));
  CHECK_EQ(o.cc_retries, RSP_SMDP_CC_RETRIES_DEFAULT - 1);
  attempt(&w, mid, "2222", RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_REFUSED);
  attempt(&w, mid, "3333", RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_RETRIES_EXCEEDED);
  CHECK_STATES(&w, "8949032000000000078", RSP_SMDP_ORDER_FAILED, RSP_SMDP_PROFILE_ERROR);
  /* even the right code is too late now */
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, mid);
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_DOWNLOAD_ORDER, RSP_SMDP_REASON_RETRIES_EXCEEDED);
  dl_free(&d);
  /* eligibility, then three ConfirmationFailures, then the refused eligibility */
  CHECK_EQ(drain_outbox(&w, points, 8, &failed), 7);
  CHECK(points[1] == RSP_SMDP_POINT_CONFIRMATION && points[5] == RSP_SMDP_POINT_CONFIRMATION);
  CHECK_EQ(failed, 4);
  /* the operator decides: the profile goes back into the pool, a new order downloads it */
  rsp_msg_json_doc_init(&doc);
  cancel_order(&w, "8949032000000000078", "Available", &cr, &doc);
  EXPECT_OK(&cr);
  CHECK_STATES(&w, "8949032000000000078", RSP_SMDP_ORDER_CANCELLED, RSP_SMDP_PROFILE_AVAILABLE);
  order(&w, "8949032000000000078", NULL, "2468", mid);
  download(&w, mid, "2468", "8949032000000000078");
  rsp_msg_json_doc_free(&doc);
  world_close(&w);
}

/* Offset of a slice decoded in place from buf. */
static size_t offset_in(const struct rsp_buf *buf, struct rsp_slice s) {
  return (size_t)(s.p - buf->data);
}

static void bad_euicc_signature(void) {
  struct world w;
  struct dl d;
  struct rsp_arena a;
  struct rsp_msg_sgp32_authenticate_server_response *r = NULL;
  struct rsp_smdp_notification_info n;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  world_open(&w, nist());
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  add_profile(&w, "8949032000000000086", "001010000000086");
  order(&w, "8949032000000000086", NULL, NULL, mid);
  /* euiccSignature1 */
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, mid);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_authenticate_server_response, d.asr.data, d.asr.len, &a,
                          (void **)&r, NULL));
  if (r) d.asr.data[offset_in(&d.asr, r->u.authenticate_response_ok->euicc_signature1) + 9] ^= 1;
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED);
  CHECK_STATES(&w, "8949032000000000086", RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  dl_free(&d);
  /* euiccSignPIR: recorded unverified, the order keeps waiting; the genuine PIR settles it */
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, mid);
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  card_prepare(w.card, &d, NULL);
  CHECK_EQ(get_bpp(&w, &d, d.ia.transaction_id), 200);
  card_load(w.card, &d);
  d.pir.data[d.pir.len - 1] ^= 0x20; /* the last byte is in the 5F37 signature */
  CHECK_EQ(notify(&w, &d, rsp_msg_slice(d.pir.data, d.pir.len)), 200);
  CHECK_OK(rsp_smdp_service_notification_last(w.svc, &n));
  CHECK(n.pir && !n.verified);
  CHECK_STATES(&w, "8949032000000000086", RSP_SMDP_ORDER_DOWNLOADED, RSP_SMDP_PROFILE_DOWNLOADED);
  d.pir.data[d.pir.len - 1] ^= 0x20;
  CHECK_EQ(notify(&w, &d, rsp_msg_slice(d.pir.data, d.pir.len)), 204);
  CHECK_STATES(&w, "8949032000000000086", RSP_SMDP_ORDER_INSTALLED, RSP_SMDP_PROFILE_INSTALLED);
  /* the same PIR again is recorded once and changes nothing */
  CHECK_EQ(notify(&w, &d, rsp_msg_slice(d.pir.data, d.pir.len)), 204);
  struct rsp_smdp_notification_info n2;
  CHECK_OK(rsp_smdp_service_notification_last(w.svc, &n2));
  CHECK(n2.verified && n2.id == n.id + 1);
  dl_free(&d);
  rsp_arena_free(&a);
  world_close(&w);
}

/* A card of another PKI: refused at initiateAuthentication (its CI is not ours); made to answer
 * a serverSigned1 re-signed by its own SM-DP+, its chain is refused at authenticateClient. */
static void unknown_ci(void) {
  struct world w;
  struct dl d;
  struct rsp_euicc *foreign = NULL;
  struct rsp_smdp_identity *foreign_dp = NULL;
  struct rsp_euicc_options eo = {.pki_dir = other()->dir, .eid = other()->eid};
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  uint8_t sig[RSP_SIG_RAW_LEN];
  struct rsp_buf req;
  world_open(&w, nist());
  CHECK_OK(rsp_euicc_open(&eo, &foreign));
  CHECK_OK(rsp_smdp_identity_load(other()->dir, &foreign_dp));
  add_profile(&w, "8949032000000000094", "001010000000094");
  order(&w, "8949032000000000094", NULL, NULL, mid);
  dl_init(&d);
  CHECK_EQ(initiate_from(&w, foreign, foreign, &d, ADDRESS), 200);
  EXPECT_FAILED(&d.ia, RSP_SMDP_SUBJECT_SECURITY_CONFIGURATION, RSP_SMDP_REASON_UNSUPPORTED);
  dl_free(&d);
  dl_init(&d);
  rsp_buf_init(&req, RESP_MAX);
  CHECK_EQ(initiate_from(&w, w.card, foreign, &d, ADDRESS), 200);
  EXPECT_OK(&d.ia);
  CHECK_OK(rsp_signer_sign(foreign_dp->auth, d.ia.server_signed1.p, d.ia.server_signed1.len, sig));
  struct rsp_smdp_authenticate_server_parts parts = {
      .server_signed1 = d.ia.server_signed1,
      .server_signature1 = rsp_msg_slice(sig, sizeof sig),
      .euicc_ci_pk_id = rsp_msg_slice(foreign_dp->ci_ski.id, foreign_dp->ci_ski.len),
      .server_certificate = rsp_cert_der(foreign_dp->auth_cert),
      .matching_id = rsp_msg_slice(mid, strlen(mid))};
  memcpy(parts.tac, TAC, sizeof TAC);
  CHECK_OK(rsp_smdp_authenticate_server_request_build(&parts, &req));
  CHECK_OK(rsp_test_card_es10(foreign, req.data, req.len, &d.asr));
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_CI_PK, RSP_SMDP_REASON_UNKNOWN);
  CHECK_STATES(&w, "8949032000000000094", RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  rsp_buf_free(&req);
  dl_free(&d);
  rsp_smdp_identity_destroy(foreign_dp);
  rsp_euicc_destroy(foreign);
  world_close(&w);
}

static void replayed_transaction_id(void) {
  struct world w;
  struct dl d;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  static const uint8_t unknown[16] = {1, 2, 3};
  world_open(&w, nist());
  add_profile(&w, "8949032000000000102", "001010000000102");
  order(&w, "8949032000000000102", NULL, NULL, mid);
  dl_init(&d);
  /* another SM-DP+'s address */
  CHECK_EQ(initiate_from(&w, w.card, w.card, &d, "other.example.com"), 200);
  EXPECT_FAILED(&d.ia, RSP_SMDP_SUBJECT_SMDP_ADDRESS, RSP_SMDP_REASON_REFUSED);
  initiate(&w, &d);
  card_authenticate(w.card, &d, mid);
  CHECK_EQ(authenticate_client(&w, &d, rsp_msg_slice(unknown, sizeof unknown)), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN);
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_OK(&d.ac);
  /* the same authenticateClient again: the session went on, the replay is refused */
  struct rsp_es9p_json_authenticate_client_resp first = d.ac;
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN);
  d.ac = first;
  card_prepare(w.card, &d, NULL);
  CHECK_EQ(get_bpp(&w, &d, rsp_msg_slice(unknown, sizeof unknown)), 200);
  EXPECT_FAILED(&d.gb, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN);
  CHECK_EQ(get_bpp(&w, &d, d.ia.transaction_id), 200);
  EXPECT_OK(&d.gb);
  struct rsp_es9p_json_get_bound_profile_package_resp bound = d.gb;
  CHECK_EQ(get_bpp(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.gb, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN);
  d.gb = bound;
  card_load(w.card, &d);
  CHECK_EQ(notify(&w, &d, rsp_msg_slice(d.pir.data, d.pir.len)), 204);
  CHECK_STATES(&w, "8949032000000000102", RSP_SMDP_ORDER_INSTALLED, RSP_SMDP_PROFILE_INSTALLED);
  dl_free(&d);
  world_close(&w);
}

static void expired_session(void) {
  struct world w;
  struct dl d;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  world_open(&w, nist());
  add_profile(&w, "8949032000000000110", "001010000000110");
  order(&w, "8949032000000000110", NULL, NULL, mid);
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, mid);
  fake_now += RSP_SMDP_SESSION_TTL_DEFAULT + 1;
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN);
  CHECK_STATES(&w, "8949032000000000110", RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  dl_free(&d);
  download(&w, mid, NULL, "8949032000000000110");
  world_close(&w);
}

/* ---- CancelSession ----------------------------------------------------------------------------
 */

enum cancel_step { CANCEL_AFTER_INITIATE, CANCEL_AFTER_AUTHENTICATE, CANCEL_AFTER_BPP };

/* Runs a download up to `step`, then the card's CancelSession with `reason` reaches the SM-DP+.
 * Returns the order's state afterwards; a second cancel is refused. */
static void cancel_at(enum cancel_step step, int64_t reason, const char *iccid,
                      enum rsp_smdp_order_state os, enum rsp_smdp_profile_state ps,
                      const char *subject) {
  struct world w;
  struct dl d;
  struct rsp_buf csr;
  struct rsp_es9p_json_cancel_session_resp r;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  char imsi[16];
  snprintf(imsi, sizeof imsi, "00101%s", iccid + 9);
  world_open(&w, nist());
  rsp_buf_init(&csr, RESP_MAX);
  add_profile(&w, iccid, imsi);
  order(&w, iccid, NULL, NULL, mid);
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, mid);
  if (step >= CANCEL_AFTER_AUTHENTICATE) {
    CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
    EXPECT_OK(&d.ac);
  }
  if (step >= CANCEL_AFTER_BPP) {
    card_prepare(w.card, &d, NULL);
    CHECK_EQ(get_bpp(&w, &d, d.ia.transaction_id), 200);
    EXPECT_OK(&d.gb);
  }
  card_cancel(w.card, d.ia.transaction_id, reason, &csr);
  cancel_session(&w, &d, d.ia.transaction_id, &csr, &r);
  EXPECT_OK(&r);
  CHECK(r.transaction_id.len == d.ia.transaction_id.len &&
        memcmp(r.transaction_id.p, d.ia.transaction_id.p, r.transaction_id.len) == 0);
  CHECK_STATES(&w, iccid, os, ps);
  /* the operator hears of it (not of a cancel before authenticateClient: no order yet) */
  int64_t points[8];
  size_t failed = 0, n = drain_outbox(&w, points, 8, &failed);
  if (step == CANCEL_AFTER_INITIATE) {
    CHECK_EQ(n, 0);
  } else {
    CHECK(n >= 1 && failed == 1);
    CHECK_EQ(points[n - 1],
             step == CANCEL_AFTER_BPP ? RSP_SMDP_POINT_BPP_DOWNLOAD : RSP_SMDP_POINT_ELIGIBILITY);
    CHECK_STR(last_subject, subject ? subject : "");
  }
  cancel_session(&w, &d, d.ia.transaction_id, &csr, &r);
  EXPECT_FAILED(&r, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN);
  dl_free(&d);
  /* a released order downloads now; a cancelled one is refused */
  if (os == RSP_SMDP_ORDER_RELEASED) {
    download(&w, mid, NULL, iccid);
  } else {
    dl_init(&d);
    initiate(&w, &d);
    card_authenticate(w.card, &d, mid);
    CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
    EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_REFUSED);
    dl_free(&d);
  }
  rsp_buf_free(&csr);
  world_close(&w);
}

static void cancel_each_step(void) {
  cancel_at(CANCEL_AFTER_INITIATE, RSP_MSG_CANCEL_SESSION_REASON_END_USER_REJECTION,
            "8949032000000000128", RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED, NULL);
  cancel_at(CANCEL_AFTER_AUTHENTICATE, RSP_MSG_CANCEL_SESSION_REASON_POSTPONED,
            "8949032000000000136", RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED, NULL);
  cancel_at(CANCEL_AFTER_AUTHENTICATE, RSP_MSG_CANCEL_SESSION_REASON_END_USER_REJECTION,
            "8949032000000000144", RSP_SMDP_ORDER_CANCELLED, RSP_SMDP_PROFILE_AVAILABLE,
            RSP_SMDP_SUBJECT_DOWNLOAD_ORDER);
  cancel_at(CANCEL_AFTER_BPP, RSP_MSG_CANCEL_SESSION_REASON_TIMEOUT, "8949032000000000151",
            RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED, NULL);
  cancel_at(CANCEL_AFTER_BPP, RSP_MSG_CANCEL_SESSION_REASON_LOAD_BPP_EXECUTION_ERROR,
            "8949032000000000169", RSP_SMDP_ORDER_CANCELLED, RSP_SMDP_PROFILE_AVAILABLE,
            RSP_SMDP_SUBJECT_BPP);
  cancel_at(CANCEL_AFTER_BPP, RSP_MSG_CANCEL_SESSION_REASON_METADATA_MISMATCH,
            "8949032000000000201", RSP_SMDP_ORDER_CANCELLED, RSP_SMDP_PROFILE_AVAILABLE,
            RSP_SMDP_SUBJECT_PROFILE_METADATA);
}

/* confirmOrder with an empty matchingId: the card that sends none is found by its EID. */
static void order_by_eid(void) {
  struct world w;
  struct dl d;
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_download_order_resp dr;
  struct rsp_es2p_json_confirm_order_resp cr;
  struct rsp_smdp_order_info o;
  world_open(&w, brp());
  rsp_msg_json_doc_init(&doc);
  add_profile(&w, "8949032000000000219", "001010000000219");
  add_profile(&w, "8949032000000000227", "001010000000227");
  download_order(&w, "8949032000000000227", NULL, NULL, &dr, &doc);
  confirm_order(&w, "8949032000000000227", NULL, "", NULL, true, &cr, &doc);
  EXPECT_FAILED(&cr, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_MISSING);
  download_order(&w, "8949032000000000219", NULL, w.k->eid, &dr, &doc);
  confirm_order(&w, "8949032000000000219", NULL, "", NULL, true, &cr, &doc);
  EXPECT_OK(&cr);
  CHECK_STR(cr.matching_id, "");
  CHECK_OK(rsp_smdp_service_order_get(w.svc, "8949032000000000219", &o));
  CHECK_STR(o.activation_code, "LPA:1$" ADDRESS "$");
  download(&w, NULL, NULL, "8949032000000000219");
  /* nothing left for this EID */
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, NULL);
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_UNKNOWN);
  dl_free(&d);
  rsp_msg_json_doc_free(&doc);
  world_close(&w);
}

/* A CancelSessionResponse whose signature does not verify changes no order. */
static void cancel_bad_signature(void) {
  struct world w;
  struct dl d;
  struct rsp_buf csr;
  struct rsp_es9p_json_cancel_session_resp r;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  world_open(&w, brp());
  rsp_buf_init(&csr, RESP_MAX);
  add_profile(&w, "8949032000000000177", "001010000000177");
  order(&w, "8949032000000000177", NULL, NULL, mid);
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, mid);
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  card_cancel(w.card, d.ia.transaction_id, RSP_MSG_CANCEL_SESSION_REASON_END_USER_REJECTION, &csr);
  csr.data[csr.len - 1] ^= 0x01; /* the last byte is in euiccCancelSessionSignature */
  cancel_session(&w, &d, d.ia.transaction_id, &csr, &r);
  EXPECT_FAILED(&r, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED);
  CHECK_STATES(&w, "8949032000000000177", RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  dl_free(&d);
  rsp_buf_free(&csr);
  world_close(&w);
}

/* ---- ES2+ refusals and the JSON entry ---------------------------------------------------------
 */

static void es2p_refusals(void) {
  struct world w;
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_download_order_resp dr;
  struct rsp_es2p_json_confirm_order_resp cr;
  struct rsp_es2p_json_cancel_order_resp nr;
  struct rsp_es2p_json_release_profile_resp rr;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  world_open(&w, nist());
  rsp_msg_json_doc_init(&doc);
  add_profile(&w, "8949032000000000185", "001010000000185");
  add_profile(&w, "8949032000000000193", "001010000000193");
  CHECK_ERR(rsp_smdp_service_profile_add(
                w.svc, &(struct rsp_smdp_profile_new){.iccid = "8949032000000000185",
                                                      .profile_type = TYPE,
                                                      .upp = rsp_msg_slice("\x30\x00", 2)}),
            RSP_E_INVALID_ARG);
  download_order(&w, "8949032000000000999", NULL, NULL, &dr, &doc);
  EXPECT_FAILED(&dr, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_UNKNOWN);
  download_order(&w, NULL, "no-such-type", NULL, &dr, &doc);
  EXPECT_FAILED(&dr, RSP_SMDP_SUBJECT_PROFILE_TYPE, RSP_SMDP_REASON_UNKNOWN);
  download_order(&w, NULL, NULL, NULL, &dr, &doc);
  EXPECT_FAILED(&dr, RSP_SMDP_SUBJECT_PROFILE_TYPE, RSP_SMDP_REASON_MISSING);
  download_order(&w, "8949032000000000185", NULL, w.k->eid, &dr, &doc);
  EXPECT_OK(&dr);
  CHECK_STATES(&w, "8949032000000000185", RSP_SMDP_ORDER_ALLOCATED, RSP_SMDP_PROFILE_LINKED);
  download_order(&w, "8949032000000000185", NULL, NULL, &dr, &doc);
  EXPECT_FAILED(&dr, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_IN_USE);
  confirm_order(&w, "8949032000000000185", OTHER_EID, NULL, NULL, false, &cr, &doc);
  EXPECT_FAILED(&cr, RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_INVALID);
  confirm_order(&w, "8949032000000000185", NULL, "BAD$ID", NULL, false, &cr, &doc);
  EXPECT_FAILED(&cr, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_FORMAT);
  /* not released: confirmed, the card's matchingId is refused until releaseProfile */
  confirm_order(&w, "8949032000000000185", w.k->eid, "ORDER-185", NULL, false, &cr, &doc);
  EXPECT_OK(&cr);
  CHECK_STATES(&w, "8949032000000000185", RSP_SMDP_ORDER_CONFIRMED, RSP_SMDP_PROFILE_CONFIRMED);
  confirm_order(&w, "8949032000000000185", NULL, NULL, NULL, true, &cr, &doc);
  EXPECT_FAILED(&cr, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_INVALID_TRANSITION);
  download_order(&w, "8949032000000000193", NULL, NULL, &dr, &doc);
  confirm_order(&w, "8949032000000000193", NULL, "ORDER-185", NULL, true, &cr, &doc);
  EXPECT_FAILED(&cr, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_IN_USE);
  struct dl d;
  dl_init(&d);
  initiate(&w, &d);
  card_authenticate(w.card, &d, "ORDER-185");
  CHECK_EQ(authenticate_client(&w, &d, d.ia.transaction_id), 200);
  EXPECT_FAILED(&d.ac, RSP_SMDP_SUBJECT_MATCHING_ID, RSP_SMDP_REASON_REFUSED);
  dl_free(&d);
  struct rsp_es2p_json_release_profile_req rq = {.header = es2p_header(&w),
                                                 .iccid = "8949032000000000185"};
  CHECK_EQ(call(&w, RSP_ES2P_PATH_RELEASE_PROFILE, &rq, &rr, &doc), 200);
  EXPECT_OK(&rr);
  CHECK_EQ(call(&w, RSP_ES2P_PATH_RELEASE_PROFILE, &rq, &rr, &doc), 200);
  EXPECT_FAILED(&rr, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_INVALID_TRANSITION);
  download(&w, "ORDER-185", NULL, "8949032000000000185");
  cancel_order(&w, "8949032000000000185", "Available", &nr, &doc);
  EXPECT_FAILED(&nr, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_INVALID_TRANSITION);
  cancel_order(&w, "8949032000000000193", "Maybe", &nr, &doc);
  EXPECT_FAILED(&nr, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_FORMAT);
  cancel_order(&w, "8949032000000000193", "Unavailable", &nr, &doc);
  EXPECT_OK(&nr);
  CHECK_STATES(&w, "8949032000000000193", RSP_SMDP_ORDER_CANCELLED, RSP_SMDP_PROFILE_UNAVAILABLE);
  download_order(&w, "8949032000000000185", NULL, NULL, &dr, &doc); /* installed */
  EXPECT_FAILED(&dr, RSP_SMDP_SUBJECT_ICCID, RSP_SMDP_REASON_IN_USE);
  (void)mid;
  rsp_msg_json_doc_free(&doc);
  world_close(&w);
}

/* Bodies that break the binding or are no JSON, paths not served. */
static void json_entry(void) {
  struct world w;
  struct rsp_buf out;
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_download_order_resp dr;
  int status = 0;
  world_open(&w, nist());
  rsp_buf_init(&out, RSP_MSG_JSON_MAX_BODY);
  rsp_msg_json_doc_init(&doc);
  static const char no_header[] = "{\"iccid\":\"8949032000000000011\"}";
  CHECK_OK(rsp_smdp_service_handle(w.svc, RSP_ES2P_PATH_DOWNLOAD_ORDER, no_header,
                                   sizeof no_header - 1, &status, &out));
  CHECK_EQ(status, 200);
  CHECK_OK(rsp_msg_json_decode(&rsp_es2p_json_download_order_resp_type, (const char *)out.data,
                               out.len, &doc, &dr, NULL));
  EXPECT_FAILED(&dr, RSP_SMDP_SUBJECT_PROFILE, RSP_SMDP_REASON_MISSING);
  static const char bad_txid[] = "{\"transactionId\":\"XYZ\",\"authenticateServerResponse\":\"\"}";
  rsp_buf_reset(&out);
  CHECK_OK(rsp_smdp_service_handle(w.svc, RSP_ES9P_PATH_AUTHENTICATE_CLIENT, bad_txid,
                                   sizeof bad_txid - 1, &status, &out));
  CHECK_EQ(status, 200);
  CHECK_OK(rsp_buf_append_byte(&out, 0));
  CHECK(strstr((const char *)out.data, "\"8.10.1\"") && strstr((const char *)out.data, "\"2.1\""));
  rsp_buf_reset(&out);
  CHECK_OK(
      rsp_smdp_service_handle(w.svc, RSP_ES9P_PATH_AUTHENTICATE_CLIENT, "[1]", 3, &status, &out));
  CHECK_EQ(status, 400);
  /* every prefix of a valid body: 400 or a Failed answer, never anything else */
  struct rsp_msg_get_euicc_info1_request iq = {0};
  struct rsp_buf info, body;
  uint8_t ch[RSP_SMDP_CHALLENGE_LEN] = {1};
  rsp_buf_init(&info, RESP_MAX);
  rsp_buf_init(&body, RESP_MAX);
  rsp_test_card_msg(w.card, &rsp_msgt_get_euicc_info1_request, &iq, &info);
  struct rsp_es9p_json_initiate_authentication_req ia = {
      .euicc_challenge = rsp_msg_slice(ch, sizeof ch),
      .euicc_info1 = rsp_msg_slice(info.data, info.len),
      .smdp_address = ADDRESS};
  CHECK_OK(rsp_msg_json_encode(&rsp_es9p_json_initiate_authentication_req_type, &ia, &body, NULL));
  for (size_t n = 0; n <= body.len; n++) {
    rsp_buf_reset(&out);
    CHECK_OK(rsp_smdp_service_handle(w.svc, RSP_ES9P_PATH_INITIATE_AUTHENTICATION,
                                     (const char *)body.data, n, &status, &out));
    CHECK_OK(rsp_buf_append_byte(&out, 0));
    CHECK(status == 400 ||
          (status == 200 && (n == body.len) == (strstr((const char *)out.data, "Failed") == NULL)));
  }
  rsp_buf_free(&info);
  rsp_buf_free(&body);
  rsp_buf_reset(&out);
  CHECK_OK(rsp_smdp_service_handle(w.svc, "/gsma/rsp2/es9plus/nothing", "{}", 2, &status, &out));
  CHECK_EQ(status, 404);
  CHECK_OK(rsp_smdp_service_handle(w.svc, RSP_ES2P_PATH_HANDLE_DOWNLOAD_PROGRESS_INFO, "{}", 2,
                                   &status, &out));
  CHECK_EQ(status, 404);
  rsp_msg_json_doc_free(&doc);
  rsp_buf_free(&out);
  world_close(&w);
}

/* A store written by a newer release is refused, not misread. */
static void schema_newer(void) {
  struct world w;
  sqlite3 *db = NULL;
  struct rsp_smdp_service *svc = NULL;
  world_open(&w, nist());
  rsp_smdp_service_destroy(w.svc);
  w.svc = NULL;
  CHECK(sqlite3_open(w.db, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  CHECK_ERR(rsp_smdp_service_open(&w.o, &svc), RSP_E_UNSUPPORTED);
  CHECK(svc == NULL);
  world_close(&w);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(end_to_end_nist),
                                               T(end_to_end_brp),
                                               T(end_to_end_ts48),
                                               T(generated_profile),
                                               T(unknown_matching_id),
                                               T(eid_mismatch),
                                               T(expired_order),
                                               T(wrong_confirmation_code),
                                               T(bad_euicc_signature),
                                               T(unknown_ci),
                                               T(replayed_transaction_id),
                                               T(expired_session),
                                               T(cancel_each_step),
                                               T(order_by_eid),
                                               T(cancel_bad_signature),
                                               T(es2p_refusals),
                                               T(json_entry),
                                               T(schema_newer)};
  if (argc < 2) {
    fprintf(stderr, "usage: test_smdp_service RSP_PKI_BINARY [case]\n");
    return 2;
  }
  rsp_pki_bin = argv[1];
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
