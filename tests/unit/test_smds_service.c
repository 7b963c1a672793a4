/* The SM-DS service (lib/smdp/smds.c) and the SM-DP+'s side of it (confirmOrder's smdsAddress,
 * the ES12 queue), in-process: everyone talks JSON to rsp_smds_service_handle and
 * rsp_smdp_service_handle as over HTTPS, the software eUICC signs the ES11 authentication.
 *
 * The ES11 and ES12 JSON bodies (eventEntries as LPAC reads it, smdpAddress accepted for
 * smdsAddress); registerEvent and deleteEvent with their refusals; ES11 on the ES9+ paths and on
 * /gsma/rsp2/es11/, with every refusal (another SM-DS's address, unknown, replayed and SM-DP+
 * transactionIds, a card signature that does not verify), the matchingId filter, events kept
 * across a reopen; confirmOrder with smdsAddress (refusals, the event registered at release and
 * deleted when the order ends, an unreachable SM-DS retried); the two services in one store.
 *
 *   test_smds_service RSP_PKI_BINARY */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/der/der.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/json.h"
#include "rsp/smdp/bind.h"
#include "rsp/smdp/service.h"
#include "rsp/smdp/smds.h"
#include "smdp_world.h"
#include "test.h"

#define SMDP "smdp.example"
#define SMDS "smds.example"
#define OUT_MAX (1u << 20)

static const char *pki_bin;

/* ---- JSON bodies ------------------------------------------------------------------------------
 */

static void es11_event_entries_text(void) {
  struct rsp_es11_json_event_entry e[2] = {{"MID-1", "smdp.example"}, {"MID-2", "other:8443"}};
  struct rsp_es11_json_authenticate_client_resp r = {
      .header = {.function_execution_status = {.status = RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS}},
      .transaction_id = rsp_msg_slice("\x01\x02", 2),
      .event_entries = {e, 2}};
  struct rsp_buf b;
  struct rsp_msg_json_doc doc;
  struct rsp_es11_json_authenticate_client_resp back;
  rsp_buf_init(&b, 4096);
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(rsp_msg_json_encode(&rsp_es11_json_authenticate_client_resp_type, &r, &b, NULL));
  const char *want = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"
                     "\"transactionId\":\"0102\",\"eventEntries\":[{\"eventId\":\"MID-1\","
                     "\"rspServerAddress\":\"smdp.example\"},{\"eventId\":\"MID-2\","
                     "\"rspServerAddress\":\"other:8443\"}]}";
  CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
  CHECK_OK(rsp_msg_json_decode(&rsp_es11_json_authenticate_client_resp_type, (const char *)b.data,
                               b.len, &doc, &back, NULL));
  CHECK(rsp_msg_json_equal(&rsp_es11_json_authenticate_client_resp_type, &r, &back));
  /* no event: an empty array, which is present */
  r.event_entries = (struct rsp_msg_json_array){e, 0};
  rsp_buf_reset(&b);
  CHECK_OK(rsp_msg_json_encode(&rsp_es11_json_authenticate_client_resp_type, &r, &b, NULL));
  CHECK(b.len > 17 && memcmp(b.data + b.len - 18, "\"eventEntries\":[]}", 18) == 0);
  /* what LPAC reads: no transactionId, eventEntries only */
  const char *lpac = "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"
                     "\"eventEntries\":[{\"eventId\":\"A\",\"rspServerAddress\":\"b\"}]}";
  CHECK_OK(rsp_msg_json_decode(&rsp_es11_json_authenticate_client_resp_type, lpac, strlen(lpac),
                               &doc, &back, NULL));
  CHECK(back.event_entries.n == 1 && back.transaction_id.p == NULL);
  rsp_msg_json_doc_free(&doc);
  rsp_buf_free(&b);
}

static void expect_fail(const char *json, enum rsp_msg_json_problem problem, const char *key) {
  struct rsp_msg_json_doc doc;
  struct rsp_msg_json_diag diag;
  struct rsp_es11_json_authenticate_client_resp r;
  rsp_msg_json_doc_init(&doc);
  CHECK(rsp_msg_json_decode(&rsp_es11_json_authenticate_client_resp_type, json, strlen(json), &doc,
                            &r, &diag) != RSP_OK);
  CHECK_EQ(diag.problem, problem);
  CHECK_STR(diag.key, key);
  CHECK(r.event_entries.v == NULL);
  rsp_msg_json_doc_free(&doc);
}

#define OK_H "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"

static void es11_event_entries_refused(void) {
  char many[8192];
  size_t n = (size_t)snprintf(many, sizeof many, OK_H "\"eventEntries\":[");
  for (int i = 0; i < 65; i++)
    n += (size_t)snprintf(many + n, sizeof many - n,
                          "%s{\"eventId\":\"e%d\",\"rspServerAddress\":\"a\"}", i ? "," : "", i);
  snprintf(many + n, sizeof many - n, "]}");
  expect_fail(OK_H "\"eventEntries\":{}}", RSP_MSG_JSON_P_TYPE, "eventEntries");
  expect_fail(OK_H "\"eventEntries\":[1]}", RSP_MSG_JSON_P_TYPE, "eventEntries[0]");
  expect_fail(OK_H "\"eventEntries\":[{\"eventId\":\"x\"}]}", RSP_MSG_JSON_P_MISSING,
              "eventEntries[0].rspServerAddress");
  expect_fail(OK_H "\"eventEntries\":[{\"eventId\":\"\",\"rspServerAddress\":\"a\"}]}",
              RSP_MSG_JSON_P_VALUE, "eventEntries[0].eventId");
  expect_fail(OK_H "\"transactionId\":\"01\"}", RSP_MSG_JSON_P_MISSING, "eventEntries");
  expect_fail(many, RSP_MSG_JSON_P_SIZE, "eventEntries");
}

static void es11_request_takes_either_address_key(void) {
  struct rsp_msg_json_doc doc;
  struct rsp_msg_json_diag diag;
  struct rsp_es11_json_initiate_authentication_req q;
  const char *es9 = "{\"euiccChallenge\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"euiccInfo1\":\"vyADggEC\","
                    "\"smdpAddress\":\"smds.example\"}";
  const char *es11 = "{\"euiccChallenge\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"euiccInfo1\":\"vyADggEC\","
                     "\"smdsAddress\":\"smds.example\"}";
  const char *both = "{\"euiccChallenge\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"euiccInfo1\":\"vyADggEC\","
                     "\"smdsAddress\":\"a\",\"smdpAddress\":\"b\"}";
  rsp_msg_json_doc_init(&doc);
  CHECK_OK(rsp_msg_json_decode(&rsp_es11_json_initiate_authentication_req_type, es9, strlen(es9),
                               &doc, &q, NULL));
  CHECK_STR(q.smds_address, SMDS);
  CHECK_OK(rsp_msg_json_decode(&rsp_es11_json_initiate_authentication_req_type, es11, strlen(es11),
                               &doc, &q, NULL));
  CHECK_STR(q.smds_address, SMDS);
  CHECK(rsp_msg_json_decode(&rsp_es11_json_initiate_authentication_req_type, both, strlen(both),
                            &doc, &q, &diag) != RSP_OK);
  CHECK_EQ(diag.problem, RSP_MSG_JSON_P_VALUE);
  rsp_msg_json_doc_free(&doc);
}

/* ---- the services -----------------------------------------------------------------------------
 */

/* One JSON call; the answer decoded into r (in doc). Returns the HTTP status. */
static int call(struct rsp_test_smdp_world *w, bool smds, const char *path,
                const struct rsp_msg_json_type *qt, const void *q,
                const struct rsp_msg_json_type *rt, void *r, struct rsp_msg_json_doc *doc) {
  struct rsp_buf body, out;
  int status = 0;
  rsp_buf_init(&body, 1 << 16);
  rsp_buf_init(&out, OUT_MAX);
  CHECK_OK(rsp_msg_json_encode(qt, q, &body, NULL));
  if (smds)
    CHECK_OK(
        rsp_smds_service_handle(w->smds, path, (const char *)body.data, body.len, &status, &out));
  else
    CHECK_OK(
        rsp_smdp_service_handle(w->svc, path, (const char *)body.data, body.len, &status, &out));
  if (status == 200)
    CHECK_OK(rsp_msg_json_decode(rt, (const char *)out.data, out.len, doc, r, NULL));
  rsp_buf_free(&body);
  rsp_buf_free(&out);
  return status;
}

static bool failed_with(const struct rsp_msg_json_resp_header *h, const char *subject,
                        const char *reason) {
  return h->function_execution_status.status == RSP_MSG_JSON_STATUS_FAILED &&
         rsp_msg_json_status_code_is(&h->function_execution_status, subject, reason);
}

static struct rsp_msg_json_req_header op_header = {"operator", "1"};

static void register_event(struct rsp_test_smdp_world *w, const char *eid_digits, const char *id,
                           const char *address, const char *subject, const char *reason) {
  uint8_t eid[RSP_EID_LEN];
  struct rsp_msg_json_doc doc;
  struct rsp_es12_json_register_event_resp r;
  CHECK_OK(rsp_eid_from_string(eid_digits, eid));
  struct rsp_es12_json_register_event_req q = {
      op_header, rsp_msg_slice(eid, sizeof eid), address, id, {false, true}};
  rsp_msg_json_doc_init(&doc);
  CHECK_EQ(call(w, true, RSP_ES12_PATH_REGISTER_EVENT, &rsp_es12_json_register_event_req_type, &q,
                &rsp_es12_json_register_event_resp_type, &r, &doc),
           200);
  CHECK(subject ? failed_with(&r.header, subject, reason) : rsp_msg_json_status_ok(&r.header));
  rsp_msg_json_doc_free(&doc);
}

static void delete_event(struct rsp_test_smdp_world *w, const char *eid_digits, const char *id,
                         bool known) {
  uint8_t eid[RSP_EID_LEN];
  struct rsp_msg_json_doc doc;
  struct rsp_es12_json_delete_event_resp r;
  CHECK_OK(rsp_eid_from_string(eid_digits, eid));
  struct rsp_es12_json_delete_event_req q = {op_header, rsp_msg_slice(eid, sizeof eid), id};
  rsp_msg_json_doc_init(&doc);
  CHECK_EQ(call(w, true, RSP_ES12_PATH_DELETE_EVENT, &rsp_es12_json_delete_event_req_type, &q,
                &rsp_es12_json_delete_event_resp_type, &r, &doc),
           200);
  CHECK(known ? rsp_msg_json_status_ok(&r.header) : failed_with(&r.header, "8.1.1", "3.9"));
  rsp_msg_json_doc_free(&doc);
}

/* The ES11 exchange of a device: the card's challenge and info, initiateAuthentication at `path`
 * (an ES9+ or ES11 path), AuthenticateServer on the card (with `matching_id`), authenticateClient.
 * The answer in *r (doc); *ia_txid gets the session. ia_subject: the expected refusal of
 * initiateAuthentication (NULL: success). */
struct es11_run {
  const char *ia_path, *ac_path, *address, *matching_id;
  bool corrupt_signature; /* flip a byte of euiccSignature1 */
  bool reuse_txid;        /* call authenticateClient on the previous session again */
  bool to_smdp;           /* send authenticateClient to the SM-DP+ instead */
};

static uint8_t last_txid[16];
static size_t last_txid_len;
static struct rsp_buf last_asr;

static int es11(struct rsp_test_smdp_world *w, const struct es11_run *run,
                struct rsp_es11_json_authenticate_client_resp *r, struct rsp_msg_json_doc *doc) {
  struct rsp_buf ch, info1, req;
  struct rsp_es9p_json_initiate_authentication_resp ia;
  int status;
  rsp_buf_init(&ch, 64);
  rsp_buf_init(&info1, 1024);
  rsp_buf_init(&req, 1 << 16);
  if (!run->reuse_txid) {
    CHECK_OK(rsp_euicc_es10(w->card, (const uint8_t *)"\xBF\x2E\x00", 3, &ch));
    CHECK_OK(rsp_euicc_es10(w->card, (const uint8_t *)"\xBF\x20\x00", 3, &info1));
    struct rsp_es11_json_initiate_authentication_req q = {
        .euicc_challenge = rsp_msg_slice(ch.data + 5, 16),
        .euicc_info1 = rsp_msg_slice(info1.data, info1.len),
        .smds_address = run->address ? run->address : SMDS};
    status = call(w, true, run->ia_path, &rsp_es11_json_initiate_authentication_req_type, &q,
                  &rsp_es9p_json_initiate_authentication_resp_type, &ia, doc);
    if (status != 200 || !rsp_msg_json_status_ok(&ia.header)) {
      memcpy(&r->header, &ia.header, sizeof r->header);
      goto out;
    }
    struct rsp_smdp_authenticate_server_parts parts = {
        .server_signed1 = ia.server_signed1,
        .server_signature1 = rsp_msg_slice(ia.server_signature1.p + 3, 64),
        .euicc_ci_pk_id =
            rsp_msg_slice(ia.euicc_ci_pk_id_to_be_used.p + 2, ia.euicc_ci_pk_id_to_be_used.len - 2),
        .server_certificate = ia.server_certificate,
        .matching_id = run->matching_id ? rsp_msg_slice(run->matching_id, strlen(run->matching_id))
                                        : rsp_msg_slice(NULL, 0)};
    CHECK_OK(rsp_smdp_authenticate_server_request_build(&parts, &req));
    rsp_buf_reset(&last_asr);
    CHECK_OK(rsp_euicc_es10(w->card, req.data, req.len, &last_asr));
    /* euiccSignature1 is the last 64 bytes before the certificates: flip one inside it */
    if (run->corrupt_signature) {
      struct rsp_der_tlv top, ok, signed1, sig;
      CHECK_OK(rsp_der_parse_one(last_asr.data, last_asr.len, &top));
      CHECK_OK(rsp_der_parse_one(top.val, top.len, &ok));
      const uint8_t *p = ok.val, *end = ok.val + ok.len;
      CHECK_OK(rsp_der_read_tlv(&p, end, &signed1));
      CHECK_OK(rsp_der_read_tlv(&p, end, &sig));
      ((uint8_t *)sig.val)[7] ^= 0x01;
    }
    last_txid_len = ia.transaction_id.len;
    memcpy(last_txid, ia.transaction_id.p, last_txid_len);
  }
  struct rsp_es9p_json_authenticate_client_req q = {
      .transaction_id = rsp_msg_slice(last_txid, last_txid_len),
      .authenticate_server_response = rsp_msg_slice(last_asr.data, last_asr.len)};
  if (run->to_smdp) {
    struct rsp_es9p_json_authenticate_client_resp dp;
    status = call(w, false, run->ac_path, &rsp_es9p_json_authenticate_client_req_type, &q,
                  &rsp_es9p_json_authenticate_client_resp_type, &dp, doc);
    memcpy(&r->header, &dp.header, sizeof r->header);
  } else {
    status = call(w, true, run->ac_path, &rsp_es9p_json_authenticate_client_req_type, &q,
                  &rsp_es11_json_authenticate_client_resp_type, r, doc);
  }
out:
  rsp_buf_free(&ch);
  rsp_buf_free(&info1);
  rsp_buf_free(&req);
  return status;
}

static bool world(struct rsp_test_smdp_world *w, const char *curve) {
  if (rsp_test_smdp_world_open_smds(w, pki_bin, "smds", curve, SMDP, SMDS)) return true;
  rsp_test_fail(__FILE__, __LINE__, "cannot set up the %s world", curve);
  return false;
}

static void es12_register_and_delete(void) {
  struct rsp_test_smdp_world w;
  struct rsp_smds_event_info ev[4];
  size_t n = 0;
  if (!world(&w, "nist")) return;
  register_event(&w, w.eid, "EV-1", SMDP, NULL, NULL);
  register_event(&w, w.eid, "EV-1", SMDP, NULL, NULL); /* again: nothing changes */
  register_event(&w, w.eid, "EV-2", "other.example:8443", NULL, NULL);
  register_event(&w, "89049032000000000000000000000999", "EV-3", SMDP, NULL, NULL);
  CHECK_EQ(rsp_test_smds_events(&w), 2);
  CHECK_OK(rsp_smds_service_events(w.smds, NULL, ev, 4, &n));
  CHECK_EQ(n, 3);
  CHECK(n == 3 && strcmp(ev[0].event_id, "EV-1") == 0 && strcmp(ev[1].event_id, "EV-2") == 0 &&
        strcmp(ev[1].rsp_server_address, "other.example:8443") == 0);
  delete_event(&w, w.eid, "EV-1", true);
  delete_event(&w, w.eid, "EV-1", false); /* gone: 8.1.1/3.9 */
  delete_event(&w, w.eid, "EV-3", false); /* another card's */
  CHECK_EQ(rsp_test_smds_events(&w), 1);
  /* kept across a reopen of the store */
  char db[700];
  snprintf(db, sizeof db, "%s/smds.db", w.dir);
  rsp_smds_service_destroy(w.smds);
  struct rsp_smds_service_options so = {.db_path = db, .identity = w.smds_id, .address = SMDS};
  CHECK_OK(rsp_smds_service_open(&so, &w.smds));
  CHECK_EQ(rsp_test_smds_events(&w), 1);
  rsp_test_smdp_world_close(&w);
}

/* Bodies that break ES12: 400 for no JSON object, 2.2 for a missing key, 2.1 for a bad EID; the
 * header is mandatory; other paths are 404. */
static void es12_refusals(void) {
  struct rsp_test_smdp_world w;
  struct rsp_buf out;
  int status = 0;
  if (!world(&w, "nist")) return;
  rsp_buf_init(&out, OUT_MAX);
  static const struct {
    const char *body;
    int status;
    const char *subject, *reason;
  } cases[] = {
      {"[]", 400, NULL, NULL},
      {"{\"eid\":\"89049032000000000000000000000999\",\"eventId\":\"E\","
       "\"rspServerAddress\":\"a\"}",
       200, "8.1.1", "2.2"},
      {"{\"header\":{\"functionRequesterIdentifier\":\"x\",\"functionCallIdentifier\":\"1\"},"
       "\"eid\":\"8904\",\"eventId\":\"E\",\"rspServerAddress\":\"a\"}",
       200, "8.1.1", "2.1"},
      {"{\"header\":{\"functionRequesterIdentifier\":\"x\",\"functionCallIdentifier\":\"1\"},"
       "\"eid\":\"89049032000000000000000000000999\",\"rspServerAddress\":\"a\"}",
       200, "8.1.1", "2.2"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct rsp_msg_json_doc doc;
    struct rsp_es12_json_register_event_resp r;
    rsp_buf_reset(&out);
    CHECK_OK(rsp_smds_service_handle(w.smds, RSP_ES12_PATH_REGISTER_EVENT, cases[i].body,
                                     strlen(cases[i].body), &status, &out));
    CHECK_EQ(status, cases[i].status);
    if (status != 200) continue;
    rsp_msg_json_doc_init(&doc);
    CHECK_OK(rsp_msg_json_decode(&rsp_es12_json_register_event_resp_type, (const char *)out.data,
                                 out.len, &doc, &r, NULL));
    CHECK(failed_with(&r.header, cases[i].subject, cases[i].reason));
    rsp_msg_json_doc_free(&doc);
  }
  static const char *not_here[] = {RSP_ES9P_PATH_GET_BOUND_PROFILE_PACKAGE,
                                   RSP_ES2P_PATH_CONFIRM_ORDER, "/gsma/rsp2/es12/other"};
  for (size_t i = 0; i < sizeof not_here / sizeof not_here[0]; i++) {
    CHECK_OK(rsp_smds_service_handle(w.smds, not_here[i], "{}", 2, &status, &out));
    CHECK_EQ(status, 404);
  }
  CHECK(rsp_smds_path_is_es12(RSP_ES12_PATH_DELETE_EVENT));
  CHECK(rsp_smds_path_is_es12("/gsma/rsp2/es12/registerEvent?x=1"));
  CHECK(!rsp_smds_path_is_es12(RSP_ES11_PATH_AUTHENTICATE_CLIENT));
  rsp_buf_free(&out);
  rsp_test_smdp_world_close(&w);
}

/* ES11 end to end on both path families and curves, with the matchingId filter. */
static void es11_curve(const char *curve) {
  struct rsp_test_smdp_world w;
  struct rsp_msg_json_doc doc;
  struct rsp_es11_json_authenticate_client_resp r;
  if (!world(&w, curve)) return;
  rsp_msg_json_doc_init(&doc);
  register_event(&w, w.eid, "EV-A", SMDP, NULL, NULL);
  register_event(&w, w.eid, "EV-B", "other.example", NULL, NULL);
  struct es11_run es9paths = {.ia_path = RSP_ES9P_PATH_INITIATE_AUTHENTICATION,
                              .ac_path = RSP_ES9P_PATH_AUTHENTICATE_CLIENT};
  CHECK_EQ(es11(&w, &es9paths, &r, &doc), 200);
  CHECK(rsp_msg_json_status_ok(&r.header));
  const struct rsp_es11_json_event_entry *e = r.event_entries.v;
  CHECK(r.event_entries.n == 2 && strcmp(e[0].event_id, "EV-A") == 0 &&
        strcmp(e[0].rsp_server_address, SMDP) == 0 && strcmp(e[1].event_id, "EV-B") == 0);
  CHECK(r.transaction_id.len == last_txid_len &&
        memcmp(r.transaction_id.p, last_txid, last_txid_len) == 0);
  struct es11_run es11paths = {.ia_path = RSP_ES11_PATH_INITIATE_AUTHENTICATION,
                               .ac_path = RSP_ES11_PATH_AUTHENTICATE_CLIENT,
                               .address = NULL,
                               .matching_id = "EV-B"};
  CHECK_EQ(es11(&w, &es11paths, &r, &doc), 200);
  CHECK(rsp_msg_json_status_ok(&r.header) && r.event_entries.n == 1);
  CHECK(r.event_entries.n == 1 &&
        strcmp(((const struct rsp_es11_json_event_entry *)r.event_entries.v)[0].event_id, "EV-B") ==
            0);
  /* the session ended with its answer: the same transactionId again is refused */
  es11paths.reuse_txid = true;
  CHECK_EQ(es11(&w, &es11paths, &r, &doc), 200);
  CHECK(failed_with(&r.header, "8.10.1", "3.9"));
  rsp_msg_json_doc_free(&doc);
  rsp_test_smdp_world_close(&w);
}

static void es11_nist(void) { es11_curve("nist"); }
static void es11_brp(void) { es11_curve("brp"); }

static void es11_refusals(void) {
  struct rsp_test_smdp_world w;
  struct rsp_msg_json_doc doc;
  struct rsp_es11_json_authenticate_client_resp r;
  if (!world(&w, "nist")) return;
  rsp_msg_json_doc_init(&doc);
  register_event(&w, w.eid, "EV-A", SMDP, NULL, NULL);
  /* the address of another SM-DS (or of the SM-DP+) */
  struct es11_run other = {.ia_path = RSP_ES9P_PATH_INITIATE_AUTHENTICATION,
                           .ac_path = RSP_ES9P_PATH_AUTHENTICATE_CLIENT,
                           .address = SMDP};
  CHECK_EQ(es11(&w, &other, &r, &doc), 200);
  CHECK(failed_with(&r.header, RSP_SMDS_SUBJECT_SMDS_ADDRESS, "3.8"));
  /* a card signature that does not verify: 8.1/6.1, no event handed out */
  struct es11_run bad_sig = {.ia_path = RSP_ES9P_PATH_INITIATE_AUTHENTICATION,
                             .ac_path = RSP_ES9P_PATH_AUTHENTICATE_CLIENT};
  bad_sig.corrupt_signature = true;
  CHECK_EQ(es11(&w, &bad_sig, &r, &doc), 200);
  CHECK(failed_with(&r.header, "8.1", "6.1") && r.event_entries.v == NULL);
  /* an unknown transactionId */
  last_txid[0] ^= 0xFF;
  struct es11_run unknown = {.ia_path = RSP_ES9P_PATH_INITIATE_AUTHENTICATION,
                             .ac_path = RSP_ES9P_PATH_AUTHENTICATE_CLIENT};
  unknown.reuse_txid = true;
  CHECK_EQ(es11(&w, &unknown, &r, &doc), 200);
  CHECK(failed_with(&r.header, "8.10.1", "3.9"));
  rsp_msg_json_doc_free(&doc);
  rsp_test_smdp_world_close(&w);
}

/* One store for both roles: each service takes only the sessions it opened. */
static void shared_store(void) {
  struct rsp_test_smdp_world w;
  struct rsp_msg_json_doc doc;
  struct rsp_es11_json_authenticate_client_resp r;
  char db[700];
  if (!world(&w, "nist")) return;
  rsp_smds_service_destroy(w.smds);
  snprintf(db, sizeof db, "%s/smdp.db", w.dir); /* the SM-DP+'s file */
  struct rsp_smds_service_options so = {.db_path = db, .identity = w.smds_id, .address = SMDS};
  CHECK_OK(rsp_smds_service_open(&so, &w.smds));
  rsp_msg_json_doc_init(&doc);
  register_event(&w, w.eid, "EV-A", SMDP, NULL, NULL);
  struct es11_run run = {.ia_path = RSP_ES9P_PATH_INITIATE_AUTHENTICATION,
                         .ac_path = RSP_ES9P_PATH_AUTHENTICATE_CLIENT};
  CHECK_EQ(es11(&w, &run, &r, &doc), 200);
  CHECK(rsp_msg_json_status_ok(&r.header) && r.event_entries.n == 1);
  /* a fresh SM-DS session, the card's valid answer to it presented to the SM-DP+ of the same
   * store: refused as a transactionId it does not know (else it would look for an order) */
  run.matching_id = "EV-A";
  run.to_smdp = true;
  CHECK_EQ(es11(&w, &run, &r, &doc), 200);
  CHECK(failed_with(&r.header, "8.10.1", "3.9"));
  rsp_msg_json_doc_free(&doc);
  rsp_test_smdp_world_close(&w);
}

/* ---- the SM-DP+'s side: confirmOrder with smdsAddress ------------------------------------------
 */

static void add_profile(struct rsp_test_smdp_world *w, const char *iccid) {
  struct rsp_buf der;
  rsp_buf_init(&der, 1 << 16);
  CHECK_OK(rsp_smdp_profile_generate(iccid, "001010000000001", &der));
  struct rsp_smdp_profile_new p = {
      .iccid = iccid, .profile_type = "iot", .upp = rsp_msg_slice(der.data, der.len)};
  CHECK_OK(rsp_smdp_service_profile_add(w->svc, &p));
  rsp_buf_free(&der);
  struct rsp_es2p_json_download_order_req dq = {op_header, {0}, iccid, NULL};
  struct rsp_es2p_json_download_order_resp dr;
  struct rsp_msg_json_doc doc;
  rsp_msg_json_doc_init(&doc);
  CHECK_EQ(call(w, false, RSP_ES2P_PATH_DOWNLOAD_ORDER, &rsp_es2p_json_download_order_req_type, &dq,
                &rsp_es2p_json_download_order_resp_type, &dr, &doc),
           200);
  CHECK(rsp_msg_json_status_ok(&dr.header));
  rsp_msg_json_doc_free(&doc);
}

/* confirmOrder; NULL subject: success expected. */
static void confirm(struct rsp_test_smdp_world *w, const char *iccid, bool with_eid,
                    const char *mid, const char *smds, bool release, const char *subject,
                    const char *reason) {
  uint8_t eid[RSP_EID_LEN];
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_confirm_order_resp r;
  CHECK_OK(rsp_eid_from_string(w->eid, eid));
  struct rsp_es2p_json_confirm_order_req q = {.header = op_header,
                                              .iccid = iccid,
                                              .eid = with_eid ? rsp_msg_slice(eid, sizeof eid)
                                                              : rsp_msg_slice(NULL, 0),
                                              .matching_id = mid,
                                              .smds_address = smds,
                                              .release_flag = {release, true}};
  rsp_msg_json_doc_init(&doc);
  CHECK_EQ(call(w, false, RSP_ES2P_PATH_CONFIRM_ORDER, &rsp_es2p_json_confirm_order_req_type, &q,
                &rsp_es2p_json_confirm_order_resp_type, &r, &doc),
           200);
  CHECK(subject ? failed_with(&r.header, subject, reason) : rsp_msg_json_status_ok(&r.header));
  rsp_msg_json_doc_free(&doc);
}

static void es2p_simple(struct rsp_test_smdp_world *w, const char *path,
                        const struct rsp_msg_json_type *qt, const void *q,
                        const struct rsp_msg_json_type *rt) {
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_release_profile_resp r; /* header only, as cancelOrder's */
  rsp_msg_json_doc_init(&doc);
  CHECK_EQ(call(w, false, path, qt, q, rt, &r, &doc), 200);
  CHECK(rsp_msg_json_status_ok(&r.header));
  rsp_msg_json_doc_free(&doc);
}

static int event_state(struct rsp_test_smdp_world *w, const char *iccid) {
  struct rsp_smdp_order_info oi;
  CHECK_OK(rsp_smdp_service_order_get(w->svc, iccid, &oi));
  return oi.smds_event;
}

static rsp_err_t unreachable(void *ctx, const char *smds_address, const char *path,
                             const char *body, size_t len, int *http_status, struct rsp_buf *resp) {
  (void)ctx, (void)smds_address, (void)path, (void)body, (void)len, (void)http_status, (void)resp;
  return RSP_E_NET;
}

static void confirm_order_smds(void) {
  struct rsp_test_smdp_world w;
  size_t n = 0;
  if (!world(&w, "nist")) return;
  add_profile(&w, "8944000000000000300");
  /* refusals: no EID, no matchingId (its eventId), an address that is none */
  confirm(&w, "8944000000000000300", false, "MID-300", SMDS, true, "8.1.1", "2.2");
  confirm(&w, "8944000000000000300", true, "", SMDS, true, "8.2.6", "2.2");
  confirm(&w, "8944000000000000300", true, "MID-300", "", true, RSP_SMDS_SUBJECT_SMDS_ADDRESS,
          "2.1");
  confirm(&w, "8944000000000000300", true, "MID-300", "bad$address", true,
          RSP_SMDS_SUBJECT_SMDS_ADDRESS, "2.1");
  CHECK_EQ(rsp_test_smdp_es12_flush(&w), 0);
  /* confirmed, not released: no event yet; releaseProfile registers it */
  confirm(&w, "8944000000000000300", true, "MID-300", SMDS, false, NULL, NULL);
  CHECK_EQ(event_state(&w, "8944000000000000300"), 0);
  CHECK_EQ(rsp_test_smdp_es12_flush(&w), 0);
  struct rsp_es2p_json_release_profile_req rq = {op_header, "8944000000000000300"};
  es2p_simple(&w, RSP_ES2P_PATH_RELEASE_PROFILE, &rsp_es2p_json_release_profile_req_type, &rq,
              &rsp_es2p_json_release_profile_resp_type);
  CHECK_EQ(event_state(&w, "8944000000000000300"), 1);
  /* an SM-DS that cannot be reached: the call stays queued, confirmOrder was not held up */
  struct rsp_smdp_es12_ops down = {unreachable};
  CHECK_ERR(rsp_smdp_service_es12_flush(w.svc, &down, NULL, &n), RSP_E_NET);
  CHECK_EQ(n, 0);
  CHECK_OK(rsp_smdp_service_es12_pending(w.svc, &n));
  CHECK_EQ(n, 1);
  CHECK_EQ(rsp_test_smdp_es12_flush(&w), 1);
  CHECK_EQ(rsp_test_smds_events(&w), 1);
  struct rsp_smds_event_info ev;
  CHECK_OK(rsp_smds_service_events(w.smds, w.eid, &ev, 1, &n));
  CHECK(n == 1 && strcmp(ev.event_id, "MID-300") == 0 && strcmp(ev.rsp_server_address, SMDP) == 0);
  /* the order is cancelled: the event is deleted */
  struct rsp_es2p_json_cancel_order_req cq = {
      op_header, "8944000000000000300", {0}, NULL, "Available"};
  es2p_simple(&w, RSP_ES2P_PATH_CANCEL_ORDER, &rsp_es2p_json_cancel_order_req_type, &cq,
              &rsp_es2p_json_cancel_order_resp_type);
  CHECK_EQ(event_state(&w, "8944000000000000300"), 2);
  CHECK_EQ(rsp_test_smdp_es12_flush(&w), 1);
  CHECK_EQ(rsp_test_smds_events(&w), 0);
  CHECK_OK(rsp_smdp_service_es12_pending(w.svc, &n));
  CHECK_EQ(n, 0);
  CHECK_EQ(w.es12_calls, 2); /* registerEvent, deleteEvent: each once */
  rsp_test_smdp_world_close(&w);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {
      T(es11_event_entries_text),
      T(es11_event_entries_refused),
      T(es11_request_takes_either_address_key),
      T(es12_register_and_delete),
      T(es12_refusals),
      T(es11_nist),
      T(es11_brp),
      T(es11_refusals),
      T(shared_store),
      T(confirm_order_smds),
  };
  if (argc < 2) return 2;
  pki_bin = argv[1];
  rsp_buf_init(&last_asr, 1 << 16);
  rsp_log_set_level(RSP_LOG_ERROR);
  int rc = rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
  rsp_buf_free(&last_asr);
  return rc;
}
