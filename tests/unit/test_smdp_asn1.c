/* The ES9+ ASN.1 binding of the SM-DP+ service (SGP.22 §6.6), in-process: the LPA written here
 * encodes RemoteProfileProvisioningRequest with lib/msg, as an LPA on the generated codec would,
 * posts it to rsp_smdp_service_handle_asn1 and decodes the RemoteProfileProvisioningResponse,
 * which must be strict DER of the module (re-encoding it gives the same bytes). The software
 * eUICC plays the device; the operator orders through the typed ES2+ functions. The service is
 * closed and reopened before every ES9+ call.
 *
 * Both curves, with and without a confirmation code: initiateAuthentication, AuthenticateServer
 * on the card, authenticateClient, PrepareDownload, getBoundProfilePackage, every segment of the
 * BPP, handleNotification (204). Refusals as their error INTEGERs: unknown matchingId, no order
 * for the EID, replayed and unknown transactionIds, another SM-DP+ address, wrong confirmation
 * codes up to the limit, a PIR and a CancelSession with a bad signature; cancelSession through
 * the [1]-tagged cancelSessionResponse; malformed bodies (HTTP 400), every truncated prefix. */
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
#include "rsp/smdp/service.h"
#include "smdp_world.h"
#include "test.h"

#define ADDRESS "smdp.example.com"
#define OPERATOR "operator.example"
#define TYPE "openrsp-test"
#define RESP_MAX (1u << 20)
#define ANSWER_OK (-1) /* an Ok alternative, where the helpers return an error value */

/* The error INTEGERs' named values, shortened. */
#define IA_ERR(x) RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_INITIATE_AUTHENTICATION_ERROR_##x
#define AC_ERR(x) RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ES9_AUTHENTICATE_CLIENT_ERROR_##x
#define GB_ERR(x) RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_GET_BOUND_PROFILE_PACKAGE_ERROR_##x
#define CS_ERR(x) RSP_MSG_CANCEL_SESSION_RESPONSE_ES9_CANCEL_SESSION_ERROR_##x

static const uint8_t TAC[RSP_SMDP_TAC_LEN] = {0x35, 0x29, 0x06, 0x11};

/* ---- PKIs and temporary directories ---------------------------------------------------------- */

struct pki {
  char top[512];
  char dir[600];
  char eid[RSP_EID_DIGITS + 1];
};

static const char *rsp_pki_bin;
static struct pki pki_nist, pki_brp;
static int64_t fake_now;

static int64_t clock_now(void *ctx) {
  (void)ctx;
  return fake_now;
}

static const struct pki *make_pki(struct pki *k, const char *tag, const char *curve) {
  if (k->dir[0]) return k;
  snprintf(k->top, sizeof k->top, "%s", rsp_test_tmpdir(tag));
  snprintf(k->dir, sizeof k->dir, "%s/pki", k->top);
  if (!rsp_test_pki_create(rsp_pki_bin, k->dir, curve, NULL, k->eid))
    rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  return k;
}

static const struct pki *nist(void) { return make_pki(&pki_nist, "asn1_nist", "nist"); }
static const struct pki *brp(void) { return make_pki(&pki_brp, "asn1_brp", "brp"); }

/* ---- the world: one card, the SM-DP+ of its PKI ---------------------------------------------- */

struct world {
  const struct pki *k;
  struct rsp_euicc *card;
  struct rsp_smdp_identity *id;
  struct rsp_smdp_service *svc;
  struct rsp_smdp_service_options o;
  char db[700];
};

static void world_open(struct world *w, const struct pki *k) {
  struct rsp_euicc_options eo = {.pki_dir = k->dir, .eid = k->eid};
  memset(w, 0, sizeof *w);
  w->k = k;
  snprintf(w->db, sizeof w->db, "%s/smdp.db", rsp_test_tmpdir("asn1_db"));
  fake_now = (int64_t)time(NULL);
  CHECK_OK(rsp_euicc_open(&eo, &w->card));
  CHECK_OK(rsp_smdp_identity_load(k->dir, &w->id));
  w->o = (struct rsp_smdp_service_options){
      .db_path = w->db, .identity = w->id, .address = ADDRESS, .now = clock_now};
  CHECK_OK(rsp_smdp_service_open(&w->o, &w->svc));
}

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
}

static void add_profile(struct world *w, const char *iccid, const char *imsi) {
  struct rsp_buf upp;
  rsp_buf_init(&upp, 4096);
  CHECK_OK(rsp_smdp_profile_generate(iccid, imsi, &upp));
  struct rsp_smdp_profile_new p = {
      .iccid = iccid, .profile_type = TYPE, .upp = rsp_msg_slice(upp.data, upp.len)};
  CHECK_OK(rsp_smdp_service_profile_add(w->svc, &p));
  rsp_buf_free(&upp);
}

/* downloadOrder + confirmOrder (released) through the typed ES2+ functions; the matchingId goes
 * to mid. */
static void order(struct world *w, const char *iccid, const char *cc,
                  char mid[RSP_SMDP_MATCHING_ID_MAX + 1]) {
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_download_order_resp dr;
  struct rsp_es2p_json_confirm_order_resp cr;
  struct rsp_es2p_json_download_order_req dq = {.header = {OPERATOR, "1"}, .iccid = iccid};
  struct rsp_es2p_json_confirm_order_req cq = {.header = {OPERATOR, "2"},
                                               .iccid = iccid,
                                               .confirmation_code = cc,
                                               .release_flag = {true, true}};
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(rsp_smdp_es2p_download_order(w->svc, &dq, &doc, &dr));
  CHECK(rsp_msg_json_status_ok(&dr.header));
  CHECK_OK(rsp_smdp_es2p_confirm_order(w->svc, &cq, &doc, &cr));
  CHECK(rsp_msg_json_status_ok(&cr.header) && cr.matching_id);
  snprintf(mid, RSP_SMDP_MATCHING_ID_MAX + 1, "%s", cr.matching_id ? cr.matching_id : "");
  rsp_msg_json_doc_free(&doc);
}

static void check_states(struct world *w, const char *iccid, enum rsp_smdp_order_state os,
                         enum rsp_smdp_profile_state ps, int line) {
  reopen(w);
  rsp_test_smdp_check_states(w->svc, iccid, os, ps, __FILE__, line);
}

#define CHECK_STATES(w, iccid, os, ps) check_states((w), (iccid), (os), (ps), __LINE__)

/* ---- the card -------------------------------------------------------------------------------- */

/* ---- the LPA on the ASN.1 binding ------------------------------------------------------------ */

/* One download as the LPA sees it. The arena holds the decoded requests and every answer (its
 * bytes and its decoded form), so an earlier answer stays usable after a later call. */
struct dl {
  struct rsp_arena a;
  struct rsp_buf info, asr, pdr, pir, csr; /* the card's answers */
  const struct rsp_msg_initiate_authentication_ok_es9 *ia;
  const struct rsp_msg_authenticate_client_ok *ac;
  const struct rsp_msg_get_bound_profile_package_ok *gb;
  struct rsp_slice txid;
};

static void dl_init(struct dl *d) {
  memset(d, 0, sizeof *d);
  rsp_arena_init(&d->a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&d->info, RESP_MAX);
  rsp_buf_init(&d->asr, RESP_MAX);
  rsp_buf_init(&d->pdr, RESP_MAX);
  rsp_buf_init(&d->pir, RESP_MAX);
  rsp_buf_init(&d->csr, RESP_MAX);
}

static void dl_free(struct dl *d) {
  rsp_arena_free(&d->a);
  rsp_buf_free(&d->info);
  rsp_buf_free(&d->asr);
  rsp_buf_free(&d->pdr);
  rsp_buf_free(&d->pir);
  rsp_buf_free(&d->csr);
}

/* A card answer decoded as the SGP.22 type an LPA puts into the request. */
static void *decode(const struct rsp_msg_type *t, const struct rsp_buf *b, struct rsp_arena *a) {
  void *v = NULL;
  struct rsp_msg_diag diag;
  rsp_err_t rc = rsp_msg_decode(t, b->data, b->len, a, &v, &diag);
  if (rc != RSP_OK)
    rsp_test_fail(__FILE__, __LINE__, "%s: %s at %s", t->name, rsp_err_name(rc), diag.path);
  return v;
}

/* Encodes the request, reopens the service and posts the body to the ASN.1 entry. The answer
 * (empty for 204) is copied into the arena; returns the HTTP status. */
static int post(struct world *w, struct dl *d,
                const struct rsp_msg_remote_profile_provisioning_request *rq,
                struct rsp_slice *answer) {
  struct rsp_buf body, out;
  int status = 0;
  rsp_buf_init(&body, RESP_MAX);
  rsp_buf_init(&out, RSP_MSG_JSON_MAX_BODY);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_remote_profile_provisioning_request, rq, &body, NULL));
  reopen(w);
  CHECK_OK(rsp_smdp_service_handle_asn1(w->svc, body.data, body.len, &status, &out));
  if (status == 204) CHECK_EQ(out.len, 0);
  uint8_t *copy = rsp_arena_alloc(&d->a, out.len + 1);
  CHECK(copy != NULL);
  if (copy && out.len) memcpy(copy, out.data, out.len);
  *answer = rsp_msg_slice(copy, out.len);
  rsp_buf_free(&body);
  rsp_buf_free(&out);
  return status;
}

/* Posts a request that must be answered 200 and decodes the answer, which must be strict DER of
 * the module (re-encoded, the same bytes) and carry alternative `alt`. NULL otherwise. */
static const struct rsp_msg_remote_profile_provisioning_response *
call(struct world *w, struct dl *d, const struct rsp_msg_remote_profile_provisioning_request *rq,
     int alt) {
  struct rsp_msg_remote_profile_provisioning_response *r = NULL;
  struct rsp_slice der;
  struct rsp_buf again;
  CHECK_EQ(post(w, d, rq, &der), 200);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_remote_profile_provisioning_response, der.p, der.len, &d->a,
                          (void **)&r, NULL));
  if (!r) return NULL;
  rsp_buf_init(&again, RESP_MAX);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_remote_profile_provisioning_response, r, &again, NULL));
  CHECK(again.len == der.len && memcmp(again.data, der.p, der.len) == 0);
  rsp_buf_free(&again);
  CHECK_EQ(r->which, alt);
  return r->which == alt ? r : NULL;
}

#define REQUEST(alt, member, value)                                                                \
  ((struct rsp_msg_remote_profile_provisioning_request){                                           \
      .which = RSP_MSG_REMOTE_PROFILE_PROVISIONING_REQUEST_##alt, .u.member = (value)})

/* initiateAuthentication with the card's euiccInfo1 and challenge: ANSWER_OK (d->ia, d->txid
 * set) or the error value; -2 when the answer is unusable. */
static int64_t initiate(struct world *w, struct dl *d, const char *address) {
  struct rsp_msg_get_euicc_info1_request iq = {0};
  uint8_t ch[RSP_SMDP_CHALLENGE_LEN];
  rsp_test_card_msg(w->card, &rsp_msgt_get_euicc_info1_request, &iq, &d->info);
  rsp_test_card_challenge(w->card, ch);
  struct rsp_msg_initiate_authentication_request q = {
      .euicc_challenge = rsp_msg_slice(ch, sizeof ch),
      .smdp_address = rsp_msg_slice(address, strlen(address)),
      .euicc_info1 = decode(&rsp_msgt_euicc_info1, &d->info, &d->a)};
  struct rsp_msg_remote_profile_provisioning_request rq =
      REQUEST(INITIATE_AUTHENTICATION_REQUEST, initiate_authentication_request, &q);
  const struct rsp_msg_remote_profile_provisioning_response *r = call(
      w, d, &rq, RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_INITIATE_AUTHENTICATION_RESPONSE);
  const struct rsp_msg_initiate_authentication_response *x =
      r ? r->u.initiate_authentication_response : NULL;
  if (!x) return -2;
  if (x->which == RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_INITIATE_AUTHENTICATION_ERROR)
    return x->u.initiate_authentication_error;
  d->ia = x->u.initiate_authentication_ok;
  d->txid = d->ia->transaction_id;
  return ANSWER_OK;
}

/* The card's AuthenticateServer on the SM-DP+'s answer, with `mid` (NULL: none). */
static void card_authenticate(struct rsp_euicc *card, struct dl *d, const char *mid) {
  struct rsp_buf req;
  rsp_buf_init(&req, RESP_MAX);
  struct rsp_smdp_authenticate_server_parts parts = {
      .server_signed1 = d->ia->server_signed1->raw,
      .server_signature1 = d->ia->server_signature1,
      .euicc_ci_pk_id = d->ia->euicc_ci_pk_id_to_be_used,
      .server_certificate = d->ia->server_certificate,
      .matching_id = mid ? rsp_msg_slice(mid, strlen(mid)) : rsp_msg_slice(NULL, 0)};
  memcpy(parts.tac, TAC, sizeof TAC);
  CHECK_OK(rsp_smdp_authenticate_server_request_build(&parts, &req));
  CHECK_OK(rsp_test_card_es10(card, req.data, req.len, &d->asr));
  rsp_buf_free(&req);
}

static int64_t authenticate_client(struct world *w, struct dl *d, struct rsp_slice txid) {
  struct rsp_msg_authenticate_client_request q = {
      .transaction_id = txid,
      .authenticate_server_response =
          decode(&rsp_msgt_authenticate_server_response, &d->asr, &d->a)};
  struct rsp_msg_remote_profile_provisioning_request rq =
      REQUEST(AUTHENTICATE_CLIENT_REQUEST, authenticate_client_request, &q);
  const struct rsp_msg_remote_profile_provisioning_response *r = call(
      w, d, &rq, RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_AUTHENTICATE_CLIENT_RESPONSE_ES9);
  const struct rsp_msg_authenticate_client_response_es9 *x =
      r ? r->u.authenticate_client_response_es9 : NULL;
  if (!x) return -2;
  if (x->which == RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ES9_AUTHENTICATE_CLIENT_ERROR)
    return x->u.authenticate_client_error;
  d->ac = x->u.authenticate_client_ok;
  return ANSWER_OK;
}

/* PrepareDownload with the code the user typed (NULL: none). */
static void card_prepare(struct rsp_euicc *card, struct dl *d, const char *cc_user) {
  struct rsp_buf req;
  uint8_t hash[RSP_SMDP_HASH_CC_LEN];
  rsp_buf_init(&req, RESP_MAX);
  struct rsp_smdp_prepare_download_parts parts = {.smdp_signed2 = d->ac->smdp_signed2->raw,
                                                  .smdp_signature2 = d->ac->smdp_signature2,
                                                  .smdp_certificate = d->ac->smdp_certificate};
  if (cc_user) {
    CHECK_OK(rsp_smdp_hash_cc(rsp_msg_slice(cc_user, strlen(cc_user)), d->txid, hash));
    parts.hash_cc = rsp_msg_slice(hash, sizeof hash);
  }
  CHECK_OK(rsp_smdp_prepare_download_request_build(&parts, &req));
  CHECK_OK(rsp_test_card_es10(card, req.data, req.len, &d->pdr));
  rsp_buf_free(&req);
}

static int64_t get_bpp(struct world *w, struct dl *d, struct rsp_slice txid) {
  struct rsp_msg_get_bound_profile_package_request q = {
      .transaction_id = txid,
      .prepare_download_response = decode(&rsp_msgt_prepare_download_response, &d->pdr, &d->a)};
  struct rsp_msg_remote_profile_provisioning_request rq =
      REQUEST(GET_BOUND_PROFILE_PACKAGE_REQUEST, get_bound_profile_package_request, &q);
  const struct rsp_msg_remote_profile_provisioning_response *r = call(
      w, d, &rq, RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_GET_BOUND_PROFILE_PACKAGE_RESPONSE);
  const struct rsp_msg_get_bound_profile_package_response *x =
      r ? r->u.get_bound_profile_package_response : NULL;
  if (!x) return -2;
  if (x->which == RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_GET_BOUND_PROFILE_PACKAGE_ERROR)
    return x->u.get_bound_profile_package_error;
  d->gb = x->u.get_bound_profile_package_ok;
  return ANSWER_OK;
}

/* Every segment of the BPP to the card; the last answer (the PIR) in d->pir. */
static void card_load(struct rsp_euicc *card, struct dl *d) {
  struct rsp_slice bpp = d->gb->bound_profile_package->raw;
  size_t n = 0;
  CHECK_ERR(rsp_msg_bpp_split(bpp.p, bpp.len, NULL, 0, &n), RSP_E_BUF_SMALL);
  struct rsp_slice *segs = rsp_calloc(n ? n : 1, sizeof *segs);
  CHECK_OK(rsp_msg_bpp_split(bpp.p, bpp.len, segs, n, &n));
  for (size_t i = 0; i < n; i++) {
    CHECK_OK(rsp_test_card_es10(card, segs[i].p, segs[i].len, &d->pir));
    if (i + 1 < n) CHECK_EQ(d->pir.len, 0);
  }
  CHECK(n >= 4 && d->pir.len > 0);
  rsp_free(segs);
}

/* handleNotification with the PIR in d->pir: HTTP 204 and no body, accepted or not. */
static void notify(struct world *w, struct dl *d) {
  struct rsp_msg_pending_notification pn = {
      .which = RSP_MSG_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT,
      .u.profile_installation_result =
          decode(&rsp_msgt_profile_installation_result, &d->pir, &d->a)};
  struct rsp_msg_handle_notification q = {.pending_notification = &pn};
  struct rsp_msg_remote_profile_provisioning_request rq =
      REQUEST(HANDLE_NOTIFICATION, handle_notification, &q);
  struct rsp_slice answer;
  CHECK_EQ(post(w, d, &rq, &answer), 204);
}

/* The card's CancelSession (into d->csr), then cancelSession with its answer. */
static int64_t cancel(struct world *w, struct dl *d, int64_t reason, bool spoil) {
  struct rsp_msg_cancel_session_request c = {.transaction_id = d->txid, .reason = reason};
  rsp_test_card_msg(w->card, &rsp_msgt_cancel_session_request, &c, &d->csr);
  if (spoil) d->csr.data[d->csr.len - 1] ^= 1; /* the last byte is in euiccCancelSessionSignature */
  struct rsp_msg_cancel_session_request_es9 q = {
      .transaction_id = d->txid,
      .cancel_session_response = decode(&rsp_msgt_cancel_session_response, &d->csr, &d->a)};
  struct rsp_msg_remote_profile_provisioning_request rq =
      REQUEST(CANCEL_SESSION_REQUEST_ES9, cancel_session_request_es9, &q);
  const struct rsp_msg_remote_profile_provisioning_response *r =
      call(w, d, &rq, RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_CANCEL_SESSION_RESPONSE_ES9);
  const struct rsp_msg_cancel_session_response_es9 *x = r ? r->u.cancel_session_response_es9 : NULL;
  if (!x) return -2;
  return x->which == RSP_MSG_CANCEL_SESSION_RESPONSE_ES9_CANCEL_SESSION_ERROR
             ? x->u.cancel_session_error
             : ANSWER_OK;
}

/* A whole download of an order that must succeed. */
static void download(struct world *w, const char *mid, const char *cc, const char *iccid) {
  struct dl d;
  struct rsp_smdp_notification_info n;
  uint8_t want[RSP_ICCID_LEN];
  dl_init(&d);
  CHECK_EQ(initiate(w, &d, ADDRESS), ANSWER_OK);
  card_authenticate(w->card, &d, mid);
  CHECK_EQ(authenticate_client(w, &d, d.txid), ANSWER_OK);
  CHECK_OK(rsp_iccid_encode(iccid, want));
  CHECK(d.ac && d.ac->profile_meta_data->iccid.len == RSP_ICCID_LEN &&
        memcmp(d.ac->profile_meta_data->iccid.p, want, RSP_ICCID_LEN) == 0);
  CHECK_STATES(w, iccid, RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  card_prepare(w->card, &d, cc);
  CHECK_EQ(get_bpp(w, &d, d.txid), ANSWER_OK);
  CHECK_STATES(w, iccid, RSP_SMDP_ORDER_DOWNLOADED, RSP_SMDP_PROFILE_DOWNLOADED);
  card_load(w->card, &d);
  notify(w, &d);
  CHECK(rsp_test_card_has_profile(w->card, iccid));
  CHECK_STATES(w, iccid, RSP_SMDP_ORDER_INSTALLED, RSP_SMDP_PROFILE_INSTALLED);
  CHECK_OK(rsp_smdp_service_notification_last(w->svc, &n));
  CHECK(n.pir && n.verified && n.success);
  CHECK_STR(n.iccid, iccid);
  CHECK_STR(n.eid, w->k->eid);
  dl_free(&d);
}

/* ---- the cases ------------------------------------------------------------------------------- */

static void end_to_end(const struct pki *k) {
  struct world w;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  world_open(&w, k);
  add_profile(&w, "8949032000000000011", "001010000000011");
  add_profile(&w, "8949032000000000029", "001010000000029");
  order(&w, "8949032000000000011", NULL, mid);
  download(&w, mid, NULL, "8949032000000000011");
  order(&w, "8949032000000000029", "4711", mid);
  download(&w, mid, "4711", "8949032000000000029");
  world_close(&w);
}

static void end_to_end_nist(void) { end_to_end(nist()); }
static void end_to_end_brp(void) { end_to_end(brp()); }

/* Unknown matchingId, the refused session's transactionId, no matchingId and no order for the
 * EID; the order still downloads. */
static void unknown_matching_id(void) {
  struct world w;
  struct dl d;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  world_open(&w, nist());
  add_profile(&w, "8949032000000000037", "001010000000037");
  order(&w, "8949032000000000037", NULL, mid);
  dl_init(&d);
  CHECK_EQ(initiate(&w, &d, ADDRESS), ANSWER_OK);
  card_authenticate(w.card, &d, "NO-SUCH-ORDER");
  CHECK_EQ(authenticate_client(&w, &d, d.txid), AC_ERR(MATCHING_ID_REFUSED));
  CHECK_EQ(authenticate_client(&w, &d, d.txid), AC_ERR(INVALID_TRANSACTION_ID));
  CHECK_EQ(initiate(&w, &d, ADDRESS), ANSWER_OK);
  card_authenticate(w.card, &d, NULL);
  CHECK_EQ(authenticate_client(&w, &d, d.txid), AC_ERR(NO_ELIGIBLE_PROFILE));
  CHECK_STATES(&w, "8949032000000000037", RSP_SMDP_ORDER_RELEASED, RSP_SMDP_PROFILE_RELEASED);
  dl_free(&d);
  download(&w, mid, NULL, "8949032000000000037");
  world_close(&w);
}

/* Another SM-DP+'s address; unknown and replayed transactionIds at each step. */
static void replayed_transaction_id(void) {
  struct world w;
  struct dl d;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1], long_address[RSP_SMDP_ADDRESS_MAX + 2];
  static const uint8_t unknown[16] = {1, 2, 3};
  struct rsp_slice bogus = rsp_msg_slice(unknown, sizeof unknown);
  world_open(&w, nist());
  add_profile(&w, "8949032000000000045", "001010000000045");
  order(&w, "8949032000000000045", NULL, mid);
  dl_init(&d);
  CHECK_EQ(initiate(&w, &d, "other.example.com"), IA_ERR(INVALID_DP_ADDRESS));
  memset(long_address, 'a', sizeof long_address - 1);
  long_address[sizeof long_address - 1] = '\0';
  CHECK_EQ(initiate(&w, &d, long_address), IA_ERR(INVALID_DP_ADDRESS));
  CHECK_EQ(initiate(&w, &d, "SMDP.Example.COM"), ANSWER_OK); /* case-insensitive */
  card_authenticate(w.card, &d, mid);
  CHECK_EQ(authenticate_client(&w, &d, bogus), AC_ERR(INVALID_TRANSACTION_ID));
  CHECK_EQ(authenticate_client(&w, &d, d.txid), ANSWER_OK);
  const struct rsp_msg_authenticate_client_ok *first = d.ac;
  CHECK_EQ(authenticate_client(&w, &d, d.txid), AC_ERR(INVALID_TRANSACTION_ID));
  d.ac = first;
  card_prepare(w.card, &d, NULL);
  CHECK_EQ(get_bpp(&w, &d, bogus), GB_ERR(INVALID_TRANSACTION_ID));
  CHECK_EQ(get_bpp(&w, &d, d.txid), ANSWER_OK);
  CHECK_EQ(get_bpp(&w, &d, d.txid), GB_ERR(INVALID_TRANSACTION_ID));
  card_load(w.card, &d);
  notify(&w, &d);
  CHECK_STATES(&w, "8949032000000000045", RSP_SMDP_ORDER_INSTALLED, RSP_SMDP_PROFILE_INSTALLED);
  dl_free(&d);
  world_close(&w);
}

/* One attempt with the code the user typed, up to getBoundProfilePackage; its answer. */
static int64_t attempt(struct world *w, const char *mid, const char *typed) {
  struct dl d;
  dl_init(&d);
  CHECK_EQ(initiate(w, &d, ADDRESS), ANSWER_OK);
  card_authenticate(w->card, &d, mid);
  CHECK_EQ(authenticate_client(w, &d, d.txid), ANSWER_OK);
  card_prepare(w->card, &d, typed);
  int64_t v = get_bpp(w, &d, d.txid);
  dl_free(&d);
  return v;
}

static void wrong_confirmation_code(void) {
  struct world w;
  struct dl d;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  world_open(&w, brp());
  add_profile(&w, "8949032000000000052", "001010000000052");
  order(&w, "8949032000000000052", "2468", mid);
  CHECK_EQ(attempt(&w, mid, "1111"), GB_ERR(CONFIRMATION_CODE_REFUSED));
  CHECK_EQ(attempt(&w, mid, "2222"), GB_ERR(CONFIRMATION_CODE_REFUSED));
  CHECK_EQ(attempt(&w, mid, "3333"), GB_ERR(CONFIRMATION_CODE_RETRIES_EXCEEDED));
  CHECK_STATES(&w, "8949032000000000052", RSP_SMDP_ORDER_FAILED, RSP_SMDP_PROFILE_ERROR);
  /* even the right code is too late now: the order is over (8.8.5 / 6.4) */
  dl_init(&d);
  CHECK_EQ(initiate(&w, &d, ADDRESS), ANSWER_OK);
  card_authenticate(w.card, &d, mid);
  CHECK_EQ(authenticate_client(&w, &d, d.txid), AC_ERR(MATCHING_ID_REFUSED));
  dl_free(&d);
  world_close(&w);
}

/* A PIR with a bad signature is answered 204 and kept unverified; the genuine one installs. A
 * CancelSession with a bad signature is refused and ends the session; a good one on another
 * session cancels the order, and a second one finds no session. */
static void notification_and_cancel(void) {
  struct world w;
  struct dl d;
  struct rsp_smdp_notification_info n;
  char mid[RSP_SMDP_MATCHING_ID_MAX + 1];
  world_open(&w, nist());
  add_profile(&w, "8949032000000000060", "001010000000060");
  add_profile(&w, "8949032000000000078", "001010000000078");
  order(&w, "8949032000000000060", NULL, mid);
  dl_init(&d);
  CHECK_EQ(initiate(&w, &d, ADDRESS), ANSWER_OK);
  card_authenticate(w.card, &d, mid);
  CHECK_EQ(authenticate_client(&w, &d, d.txid), ANSWER_OK);
  card_prepare(w.card, &d, NULL);
  CHECK_EQ(get_bpp(&w, &d, d.txid), ANSWER_OK);
  card_load(w.card, &d);
  d.pir.data[d.pir.len - 1] ^= 0x20; /* the last byte is in the 5F37 signature */
  notify(&w, &d);
  CHECK_OK(rsp_smdp_service_notification_last(w.svc, &n));
  CHECK(n.pir && !n.verified);
  CHECK_STATES(&w, "8949032000000000060", RSP_SMDP_ORDER_DOWNLOADED, RSP_SMDP_PROFILE_DOWNLOADED);
  d.pir.data[d.pir.len - 1] ^= 0x20;
  notify(&w, &d);
  CHECK_STATES(&w, "8949032000000000060", RSP_SMDP_ORDER_INSTALLED, RSP_SMDP_PROFILE_INSTALLED);
  dl_free(&d);
  order(&w, "8949032000000000078", NULL, mid);
  for (int spoil = 1; spoil >= 0; spoil--) {
    dl_init(&d);
    CHECK_EQ(initiate(&w, &d, ADDRESS), ANSWER_OK);
    card_authenticate(w.card, &d, mid);
    CHECK_EQ(authenticate_client(&w, &d, d.txid), ANSWER_OK);
    CHECK_EQ(cancel(&w, &d, RSP_MSG_CANCEL_SESSION_REASON_END_USER_REJECTION, spoil),
             spoil ? CS_ERR(EUICC_SIGNATURE_INVALID) : ANSWER_OK);
    CHECK_EQ(cancel(&w, &d, RSP_MSG_CANCEL_SESSION_REASON_END_USER_REJECTION, false),
             CS_ERR(INVALID_TRANSACTION_ID));
    dl_free(&d);
  }
  CHECK_STATES(&w, "8949032000000000078", RSP_SMDP_ORDER_CANCELLED, RSP_SMDP_PROFILE_AVAILABLE);
  world_close(&w);
}

/* Posts raw bytes; the HTTP status, and nothing written for a 400. */
static int post_raw(struct world *w, const uint8_t *p, size_t len) {
  struct rsp_buf out;
  int status = 0;
  rsp_buf_init(&out, RSP_MSG_JSON_MAX_BODY);
  CHECK_OK(rsp_smdp_service_handle_asn1(w->svc, p, len, &status, &out));
  if (status == 400) CHECK_EQ(out.len, 0);
  rsp_buf_free(&out);
  return status;
}

static int post_hex(struct world *w, const char *hex) {
  size_t len = 0;
  uint8_t *b = rsp_test_hex(hex, &len);
  int status = post_raw(w, b, len);
  rsp_free(b);
  return status;
}

/* What is not a RemoteProfileProvisioningRequest of a function served here is HTTP 400: no DER,
 * JSON, an empty body, the bare BF39 without [2], an alternative the CHOICE does not know,
 * trailing bytes, a component out of its bounds, every truncated prefix of a good request. */
static void malformed_body(void) {
  static const char json[] = "{\"euiccChallenge\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}";
  struct world w;
  struct dl d;
  struct rsp_buf body;
  uint8_t ch[RSP_SMDP_CHALLENGE_LEN] = {0};
  int status = 0;
  world_open(&w, nist());
  dl_init(&d);
  rsp_buf_init(&body, RESP_MAX);
  CHECK_EQ(post_raw(&w, (const uint8_t *)"\xff\x00\x01", 3), 400);
  CHECK_EQ(post_raw(&w, (const uint8_t *)json, strlen(json)), 400);
  CHECK_EQ(post_raw(&w, NULL, 0), 400);
  CHECK_EQ(post_hex(&w, "BF39 00"), 400);
  CHECK_EQ(post_hex(&w, "A2 02 85 00"), 400);
  CHECK_EQ(post_hex(&w, "A2 00"), 400);
  rsp_test_card_msg(w.card, &rsp_msgt_get_euicc_info1_request,
                    &(struct rsp_msg_get_euicc_info1_request){0}, &d.info);
  struct rsp_msg_initiate_authentication_request q = {
      .euicc_challenge = rsp_msg_slice(ch, sizeof ch),
      .smdp_address = rsp_msg_slice(ADDRESS, strlen(ADDRESS)),
      .euicc_info1 = decode(&rsp_msgt_euicc_info1, &d.info, &d.a)};
  struct rsp_msg_remote_profile_provisioning_request rq =
      REQUEST(INITIATE_AUTHENTICATION_REQUEST, initiate_authentication_request, &q);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_remote_profile_provisioning_request, &rq, &body, NULL));
  for (size_t n = 0; n < body.len; n++) CHECK_EQ(post_raw(&w, body.data, n), 400);
  CHECK_OK(rsp_buf_append(&body, (const uint8_t *)"\x00", 1));
  CHECK_EQ(post_raw(&w, body.data, body.len), 400);
  body.len--;
  CHECK_EQ(post_raw(&w, body.data, body.len), 200);
  /* euiccChallenge is SIZE(16); the encoder refuses 15 bytes, so the request is written by hand */
  for (size_t n = sizeof ch; n + 2 > sizeof ch; n--) {
    const struct rsp_msg_field *f = rsp_msgt_initiate_authentication_request.fields;
    struct rsp_der_writer wr;
    rsp_buf_reset(&body);
    rsp_der_writer_init(&wr, &body);
    rsp_der_begin(&wr, rsp_msgt_remote_profile_provisioning_request.tag);
    rsp_der_begin(&wr, rsp_msgt_initiate_authentication_request.tag);
    rsp_der_put_octets(&wr, f[0].tag, ch, n);
    rsp_der_put_utf8(&wr, f[1].tag, ADDRESS);
    rsp_der_put_raw(&wr, d.info.data, d.info.len);
    rsp_der_end(&wr);
    rsp_der_end(&wr);
    CHECK_OK(rsp_der_writer_finish(&wr));
    CHECK_EQ(post_raw(&w, body.data, body.len), n == sizeof ch ? 200 : 400);
  }
  CHECK_ERR(rsp_smdp_service_handle_asn1(NULL, body.data, body.len, &status, &body),
            RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_smdp_service_handle_asn1(w.svc, NULL, 3, &status, &body), RSP_E_INVALID_ARG);
  rsp_buf_free(&body);
  dl_free(&d);
  world_close(&w);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(end_to_end_nist),         T(end_to_end_brp),          T(unknown_matching_id),
      T(replayed_transaction_id), T(wrong_confirmation_code), T(notification_and_cancel),
      T(malformed_body)};
  if (argc < 2) {
    fprintf(stderr, "usage: test_smdp_asn1 RSP_PKI_BINARY [case]\n");
    return 2;
  }
  rsp_pki_bin = argv[1];
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
