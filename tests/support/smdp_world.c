#include "smdp_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/msg/asn1.h"
#include "rsp/msg/json.h"
#include "test.h"

bool rsp_test_pki_create(const char *pki_bin, const char *dir, const char *curve,
                         const char *eid_range, char eid[RSP_EID_DIGITS + 1]) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' create --dir '%s' --curve %s%s%s >/dev/null", pki_bin, dir, curve,
           eid_range ? " --eid-range " : "", eid_range ? eid_range : "");
  if (system(cmd) != 0) return false;
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", dir);
  FILE *f = popen(cmd, "r");
  if (!f) return false;
  bool got = fgets(eid, RSP_EID_DIGITS + 1, f) != NULL;
  pclose(f);
  if (got) eid[strcspn(eid, "\n")] = '\0';
  return got;
}

void rsp_test_smdp_check_states(struct rsp_smdp_service *svc, const char *iccid,
                                enum rsp_smdp_order_state os, enum rsp_smdp_profile_state ps,
                                const char *file, int line) {
  struct rsp_smdp_order_info o;
  struct rsp_smdp_profile_info p;
  CHECK_OK(rsp_smdp_service_order_get(svc, iccid, &o));
  CHECK_OK(rsp_smdp_service_profile_get(svc, iccid, &p));
  rsp_test_checks++;
  if (o.state != os || p.state != ps)
    rsp_test_fail(file, line, "order %s / profile %s, expected %s / %s",
                  rsp_smdp_order_state_name(o.state), rsp_smdp_profile_state_name(p.state),
                  rsp_smdp_order_state_name(os), rsp_smdp_profile_state_name(ps));
}

static bool world_open(struct rsp_test_smdp_world *w, const char *pki_bin, const char *tag,
                       const char *curve, const char *address, const char *root_ds) {
  char db[700];
  memset(w, 0, sizeof *w);
  snprintf(w->dir, sizeof w->dir, "%s/pki", rsp_test_tmpdir(tag));
  if (!rsp_test_pki_create(pki_bin, w->dir, curve, "890490320000000000000000000654:1", w->eid))
    return false;
  snprintf(db, sizeof db, "%s/smdp.db", w->dir);
  struct rsp_euicc_options eo = {.pki_dir = w->dir, .eid = w->eid, .root_ds_address = root_ds};
  if (rsp_smdp_identity_load(w->dir, &w->id) != RSP_OK || rsp_euicc_open(&eo, &w->card) != RSP_OK)
    return false;
  struct rsp_smdp_service_options so = {.db_path = db, .identity = w->id, .address = address};
  return rsp_smdp_service_open(&so, &w->svc) == RSP_OK;
}

bool rsp_test_smdp_world_open(struct rsp_test_smdp_world *w, const char *pki_bin, const char *tag,
                              const char *curve, const char *address) {
  return world_open(w, pki_bin, tag, curve, address, NULL);
}

bool rsp_test_smdp_world_open_smds(struct rsp_test_smdp_world *w, const char *pki_bin,
                                   const char *tag, const char *curve, const char *address,
                                   const char *smds_address) {
  char db[700];
  if (!world_open(w, pki_bin, tag, curve, address, smds_address)) return false;
  snprintf(w->smds_address, sizeof w->smds_address, "%s", smds_address);
  snprintf(db, sizeof db, "%s/smds.db", w->dir);
  if (rsp_smds_identity_load(w->dir, &w->smds_id) != RSP_OK) return false;
  struct rsp_smds_service_options so = {
      .db_path = db, .identity = w->smds_id, .address = smds_address};
  return rsp_smds_service_open(&so, &w->smds) == RSP_OK;
}

void rsp_test_smdp_world_close(struct rsp_test_smdp_world *w) {
  rsp_smds_service_destroy(w->smds);
  rsp_smdp_identity_destroy(w->smds_id);
  rsp_smdp_service_destroy(w->svc);
  rsp_euicc_destroy(w->card);
  rsp_smdp_identity_destroy(w->id);
  memset(w, 0, sizeof *w);
}

/* One ES2+ call of the operator; the answer decoded into `resp` (kept in doc). */
static void es2(struct rsp_test_smdp_world *w, const char *path, const struct rsp_msg_json_type *qt,
                const void *q, const struct rsp_msg_json_type *rt, void *resp,
                struct rsp_msg_json_doc *doc) {
  struct rsp_buf body, out;
  int status = 0;
  rsp_buf_init(&body, 1 << 16);
  rsp_buf_init(&out, RSP_MSG_JSON_MAX_BODY);
  CHECK_OK(rsp_msg_json_encode(qt, q, &body, NULL));
  CHECK_OK(rsp_smdp_service_handle(w->svc, path, (const char *)body.data, body.len, &status, &out));
  CHECK_EQ(status, 200);
  CHECK_OK(rsp_msg_json_decode(rt, (const char *)out.data, out.len, doc, resp, NULL));
  rsp_buf_free(&body);
  rsp_buf_free(&out);
}

static void order(struct rsp_test_smdp_world *w, const char *iccid, const char *code,
                  const char *smds, char *mid, size_t size) {
  struct rsp_buf der;
  struct rsp_msg_json_doc doc;
  struct rsp_es2p_json_download_order_resp dr;
  struct rsp_es2p_json_confirm_order_resp cr;
  rsp_buf_init(&der, 1 << 16);
  rsp_msg_json_doc_init(&doc);
  snprintf(mid, size, "%s", "");
  CHECK_OK(rsp_smdp_profile_generate(iccid, "001010000000001", &der));
  struct rsp_smdp_profile_new p = {
      .iccid = iccid, .profile_type = "iot", .upp = rsp_msg_slice(der.data, der.len)};
  CHECK_OK(rsp_smdp_service_profile_add(w->svc, &p));
  struct rsp_es2p_json_download_order_req dq = {
      .header = {.function_requester_identifier = "op", .function_call_identifier = "1"},
      .iccid = iccid};
  es2(w, RSP_ES2P_PATH_DOWNLOAD_ORDER, &rsp_es2p_json_download_order_req_type, &dq,
      &rsp_es2p_json_download_order_resp_type, &dr, &doc);
  uint8_t eid[RSP_EID_LEN];
  struct rsp_es2p_json_confirm_order_req cq = {
      .header = {.function_requester_identifier = "op", .function_call_identifier = "2"},
      .iccid = iccid,
      .confirmation_code = code,
      .smds_address = smds,
      .release_flag = {true, true}};
  if (smds && rsp_eid_from_string(w->eid, eid) == RSP_OK) cq.eid = rsp_msg_slice(eid, sizeof eid);
  es2(w, RSP_ES2P_PATH_CONFIRM_ORDER, &rsp_es2p_json_confirm_order_req_type, &cq,
      &rsp_es2p_json_confirm_order_resp_type, &cr, &doc);
  CHECK(rsp_msg_json_status_ok(&cr.header) && cr.matching_id);
  if (cr.matching_id) snprintf(mid, size, "%s", cr.matching_id);
  rsp_msg_json_doc_free(&doc);
  rsp_buf_free(&der);
}

void rsp_test_smdp_order(struct rsp_test_smdp_world *w, const char *iccid, const char *code,
                         char *mid, size_t size) {
  order(w, iccid, code, NULL, mid, size);
}

void rsp_test_smdp_order_smds(struct rsp_test_smdp_world *w, const char *iccid,
                              const char *smds_address, char *mid, size_t size) {
  order(w, iccid, NULL, smds_address, mid, size);
  CHECK_EQ(rsp_test_smdp_es12_flush(w), 1);
}

static rsp_err_t es12_call(void *ctx, const char *smds_address, const char *path, const char *body,
                           size_t len, int *http_status, struct rsp_buf *resp) {
  struct rsp_test_smdp_world *w = ctx;
  if (!w->smds || strcmp(smds_address, w->smds_address) != 0) return RSP_E_NET; /* unreachable */
  w->es12_calls++;
  return rsp_smds_service_handle(w->smds, path, body, len, http_status, resp);
}

const struct rsp_smdp_es12_ops rsp_test_smdp_es12_ops = {es12_call};

size_t rsp_test_smdp_es12_flush(struct rsp_test_smdp_world *w) {
  size_t n = 0;
  CHECK_OK(rsp_smdp_service_es12_flush(w->svc, &rsp_test_smdp_es12_ops, w, &n));
  return n;
}

size_t rsp_test_smds_events(struct rsp_test_smdp_world *w) {
  struct rsp_smds_event_info ev[8];
  size_t n = 0;
  CHECK_OK(rsp_smds_service_events(w->smds, w->eid, ev, 8, &n));
  return n;
}

/* ---- the software card as an LPA uses it ---------------------------------------------------- */

#define CARD_ANSWER_MAX (1u << 20)

rsp_err_t rsp_test_card_es10(struct rsp_euicc *card, const uint8_t *req, size_t len,
                             struct rsp_buf *out) {
  rsp_buf_reset(out);
  return rsp_euicc_es10(card, req, len, out);
}

void rsp_test_card_msg(struct rsp_euicc *card, const struct rsp_msg_type *t, const void *v,
                       struct rsp_buf *out) {
  struct rsp_buf req;
  rsp_buf_init(&req, CARD_ANSWER_MAX);
  CHECK_OK(rsp_msg_encode(t, v, &req, NULL));
  CHECK_OK(rsp_test_card_es10(card, req.data, req.len, out));
  rsp_buf_free(&req);
}

void rsp_test_card_challenge(struct rsp_euicc *card, uint8_t ch[RSP_SMDP_CHALLENGE_LEN]) {
  struct rsp_msg_get_euicc_challenge_request q = {0};
  struct rsp_msg_get_euicc_challenge_response *r = NULL;
  struct rsp_buf out;
  struct rsp_arena a;
  rsp_buf_init(&out, CARD_ANSWER_MAX);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_test_card_msg(card, &rsp_msgt_get_euicc_challenge_request, &q, &out);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_get_euicc_challenge_response, out.data, out.len, &a,
                          (void **)&r, NULL));
  memset(ch, 0, RSP_SMDP_CHALLENGE_LEN);
  if (r && r->euicc_challenge.len == RSP_SMDP_CHALLENGE_LEN)
    memcpy(ch, r->euicc_challenge.p, RSP_SMDP_CHALLENGE_LEN);
  rsp_arena_free(&a);
  rsp_buf_free(&out);
}

/* The profile with this ICCID (digits) is on the card. */
bool rsp_test_card_has_profile(struct rsp_euicc *card, const char *iccid) {
  struct rsp_msg_profile_info_list_request q = {0};
  struct rsp_msg_sgp32_profile_info_list_response *r = NULL;
  struct rsp_buf out;
  struct rsp_arena a;
  uint8_t want[RSP_ICCID_LEN];
  bool found = false;
  CHECK_OK(rsp_iccid_encode(iccid, want));
  rsp_buf_init(&out, CARD_ANSWER_MAX);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_test_card_msg(card, &rsp_msgt_profile_info_list_request, &q, &out);
  if (rsp_msg_decode(&rsp_msgt_sgp32_profile_info_list_response, out.data, out.len, &a, (void **)&r,
                     NULL) == RSP_OK &&
      r->which == RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK)
    for (size_t i = 0; i < r->u.profile_info_list_ok->n; i++) {
      struct rsp_slice ic = r->u.profile_info_list_ok->v[i].iccid;
      found |= ic.len == RSP_ICCID_LEN && memcmp(ic.p, want, RSP_ICCID_LEN) == 0;
    }
  rsp_arena_free(&a);
  rsp_buf_free(&out);
  return found;
}
