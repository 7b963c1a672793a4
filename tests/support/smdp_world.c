#include "smdp_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/msg/json.h"
#include "test.h"

static bool world_open(struct rsp_test_smdp_world *w, const char *pki_bin, const char *tag,
                       const char *curve, const char *address, const char *root_ds) {
  char cmd[2048], db[700];
  memset(w, 0, sizeof *w);
  snprintf(w->dir, sizeof w->dir, "%s/pki", rsp_test_tmpdir(tag));
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --curve %s --eid-range 890490320000000000000000000654:1 "
           ">/dev/null",
           pki_bin, w->dir, curve);
  if (system(cmd) != 0) return false;
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", w->dir);
  FILE *f = popen(cmd, "r");
  if (!f) return false;
  bool got = fgets(w->eid, sizeof w->eid, f) != NULL;
  pclose(f);
  if (!got) return false;
  w->eid[strcspn(w->eid, "\n")] = '\0';
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
