/* IPA: direct profile download (SGP.22 §3.1.3 with the IPA in the LPA role, SGP.32 §3.2.3.1):
 * the ES10b functions on the card, ES9+ to the SM-DP+ through the ES9+ port (JSON binding).
 * Every failure after the session started cancels it on the card and at the SM-DP+. */
#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/crypto/crypto.h"
#include "rsp/ipa/download.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/bpp.h"
#include "rsp/msg/json.h"
#include "rsp/msg/tags.h"

#define MAX_SEGMENTS 4096

struct dl {
  struct rsp_ipa *ipa;
  const struct rsp_ipa_es9_ops *es9;
  void *es9_ctx;
  const char *address;
  struct rsp_msg_json_doc doc;
  struct rsp_buf card_resp; /* the card's last answer */
  uint8_t txid[16];
  size_t txid_len;
  const char *step;
};

/* One ES10 request (raw TLV) on the card; the answer in d->card_resp. */
static rsp_err_t card(struct dl *d, const uint8_t *req, size_t len) {
  rsp_buf_reset(&d->card_resp);
  return rsp_es10_client_call(&d->ipa->es10, req, len, &d->card_resp);
}

/* One ES9+ function: encodes `q`, calls the port, decodes the answer into `r` (a Failed status
 * is reported as RSP_E_STATE with the codes logged). */
static rsp_err_t es9(struct dl *d, const char *path, const struct rsp_msg_json_type *qt,
                     const void *q, const struct rsp_msg_json_type *rt, void *r) {
  struct rsp_buf body, resp;
  int status = 0;
  rsp_buf_init(&body, 4u << 20);
  rsp_buf_init(&resp, 4u << 20);
  rsp_err_t rc = rsp_msg_json_encode(qt, q, &body, NULL);
  if (rc == RSP_OK) rc = d->es9->call(d->es9_ctx, d->address, path, &body, &status, &resp);
  if (rc == RSP_OK && status != 200 && status != 204) rc = RSP_E_STATE;
  if (rc == RSP_OK)
    rc = rsp_msg_json_decode(rt, (const char *)resp.data, resp.len, &d->doc, r, NULL);
  const struct rsp_msg_json_resp_header *h = r;
  if (rc == RSP_OK && h->function_execution_status.status != RSP_MSG_JSON_STATUS_ABSENT &&
      !rsp_msg_json_status_ok(h)) {
    const struct rsp_msg_json_status_code_data *s = h->function_execution_status.status_code_data;
    rsp_log(RSP_LOG_WARN, "ipa", "%s refused by the SM-DP+: %s %s/%s", path,
            rsp_msg_json_status_name(h->function_execution_status.status),
            s && s->subject_code ? s->subject_code : "-",
            s && s->reason_code ? s->reason_code : "-");
    rc = RSP_E_STATE;
  }
  if (rc != RSP_OK && status) rsp_log(RSP_LOG_WARN, "ipa", "%s: HTTP %d", path, status);
  rsp_buf_free(&body);
  rsp_buf_free(&resp);
  return rc;
}

/* BF38 AuthenticateServerRequest from the SM-DP+'s TLVs and ctxParams1 (as an LPA builds it). */
static rsp_err_t authenticate_server(struct dl *d,
                                     const struct rsp_es9p_json_initiate_authentication_resp *ia,
                                     const char *matching_id) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  static const uint8_t tac[4] = {0x35, 0x29, 0x06, 0x11};
  rsp_buf_init(&req, 16384);
  rsp_der_writer_init(&w, &req);
  rsp_der_begin(&w, RSP_TAG_AUTHENTICATE_SERVER_REQUEST);
  rsp_der_put_raw(&w, ia->server_signed1.p, ia->server_signed1.len);
  rsp_der_put_raw(&w, ia->server_signature1.p, ia->server_signature1.len);
  rsp_der_put_raw(&w, ia->euicc_ci_pk_id_to_be_used.p, ia->euicc_ci_pk_id_to_be_used.len);
  rsp_der_put_raw(&w, ia->server_certificate.p, ia->server_certificate.len);
  rsp_der_begin(&w, RSP_DER_CLASS_CONTEXT | RSP_DER_CONSTRUCTED | 0); /* ctxParamsForCommonAuth */
  if (matching_id) rsp_der_put_tlv(&w, RSP_DER_CLASS_CONTEXT | 0, matching_id, strlen(matching_id));
  rsp_der_begin(&w, RSP_DER_CLASS_CONTEXT | RSP_DER_CONSTRUCTED | 1); /* deviceInfo */
  rsp_der_put_tlv(&w, RSP_DER_CLASS_CONTEXT | 0, tac, sizeof tac);
  rsp_der_begin(&w, RSP_DER_CLASS_CONTEXT | RSP_DER_CONSTRUCTED | 1); /* deviceCapabilities */
  rsp_der_end(&w);
  rsp_der_end(&w);
  rsp_der_end(&w);
  rsp_der_end(&w);
  rsp_err_t rc = rsp_der_writer_finish(&w);
  if (rc == RSP_OK) rc = card(d, req.data, req.len);
  rsp_buf_free(&req);
  return rc;
}

/* BF21 PrepareDownloadRequest; hashCc = SHA-256(SHA-256(code) || transactionId) (notes 4.3). */
static rsp_err_t prepare_download(struct dl *d,
                                  const struct rsp_es9p_json_authenticate_client_resp *ac,
                                  const char *code) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  uint8_t h1[32], hash[32];
  rsp_buf_init(&req, 16384);
  rsp_der_writer_init(&w, &req);
  rsp_der_begin(&w, RSP_TAG_PREPARE_DOWNLOAD_REQUEST);
  rsp_der_put_raw(&w, ac->smdp_signed2.p, ac->smdp_signed2.len);
  rsp_der_put_raw(&w, ac->smdp_signature2.p, ac->smdp_signature2.len);
  if (code) {
    struct rsp_slice parts[2] = {rsp_msg_slice(h1, 32), rsp_msg_slice(d->txid, d->txid_len)};
    if (rsp_sha256(code, strlen(code), h1) != RSP_OK || rsp_sha256_v(parts, 2, hash) != RSP_OK)
      w.err = RSP_E_CRYPTO;
    rsp_der_put_octets(&w, RSP_DER_OCTET_STRING, hash, sizeof hash);
  }
  rsp_der_put_raw(&w, ac->smdp_certificate.p, ac->smdp_certificate.len);
  rsp_der_end(&w);
  rsp_err_t rc = rsp_der_writer_finish(&w);
  if (rc == RSP_OK) rc = card(d, req.data, req.len);
  rsp_buf_free(&req);
  return rc;
}

/* Every LoadBoundProfilePackage call; the last answer (the PIR) stays in d->card_resp. */
static rsp_err_t load_bpp(struct dl *d, struct rsp_slice bpp) {
  struct rsp_slice *segs = rsp_calloc(MAX_SEGMENTS, sizeof *segs);
  size_t n = 0;
  if (!segs) return RSP_E_NOMEM;
  rsp_err_t rc = rsp_msg_bpp_split(bpp.p, bpp.len, segs, MAX_SEGMENTS, &n);
  for (size_t i = 0; rc == RSP_OK && i < n; i++) {
    rc = card(d, segs[i].p, segs[i].len);
    if (rc == RSP_OK && d->card_resp.len > 0) break; /* the PIR: last segment, or refused early */
  }
  rsp_free(segs);
  return rc;
}

/* Ends a failed session on both sides (SGP.22 §3.1.3.3 / §5.7.17). */
static void cancel(struct dl *d, int64_t reason) {
  struct rsp_msg_cancel_session_request q = {.transaction_id = rsp_msg_slice(d->txid, d->txid_len),
                                             .reason = reason};
  struct rsp_buf req;
  rsp_buf_init(&req, 256);
  if (rsp_msg_encode(&rsp_msgt_cancel_session_request, &q, &req, NULL) == RSP_OK &&
      card(d, req.data, req.len) == RSP_OK && d->card_resp.len) {
    struct rsp_es9p_json_cancel_session_req cq = {
        .transaction_id = rsp_msg_slice(d->txid, d->txid_len),
        .cancel_session_response = rsp_msg_slice(d->card_resp.data, d->card_resp.len)};
    struct rsp_es9p_json_cancel_session_resp cr;
    (void)es9(d, RSP_ES9P_PATH_CANCEL_SESSION, &rsp_es9p_json_cancel_session_req_type, &cq,
              &rsp_es9p_json_cancel_session_resp_type, &cr);
  }
  rsp_buf_free(&req);
}

/* Reads the PIR: installed or not, the ICCID, the error; removes it from the card once the
 * SM-DP+ has it. */
static void read_pir(struct dl *d, struct rsp_ipa_download_result *out, bool delivered) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_profile_installation_result *pir = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_reset(&out->pir);
  rsp_buf_append(&out->pir, d->card_resp.data, d->card_resp.len);
  if (rsp_msg_decode(&rsp_msgt_sgp32_profile_installation_result, out->pir.data, out->pir.len, &a,
                     (void **)&pir, NULL) == RSP_OK) {
    const struct rsp_msg_profile_installation_result_data *r =
        pir->profile_installation_result_data;
    const struct rsp_msg_profile_installation_result_data_final_result *f = r->final_result;
    out->installed =
        f->which == RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT;
    if (!out->installed &&
        f->which == RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT) {
      out->bpp_command_id = f->u.error_result->bpp_command_id;
      out->error_reason = f->u.error_result->error_reason;
    }
    if (r->notification_metadata->iccid.len == 10) {
      memcpy(out->iccid, r->notification_metadata->iccid.p, 10);
      out->has_iccid = true;
    }
    if (delivered) {
      struct rsp_msg_notification_sent_request q = {.seq_number =
                                                        r->notification_metadata->seq_number};
      struct rsp_buf req;
      rsp_buf_init(&req, 64);
      if (rsp_msg_encode(&rsp_msgt_notification_sent_request, &q, &req, NULL) == RSP_OK)
        (void)card(d, req.data, req.len);
      rsp_buf_free(&req);
    }
  }
  rsp_arena_free(&a);
}

void rsp_ipa_download_result_init(struct rsp_ipa_download_result *r) {
  memset(r, 0, sizeof *r);
  rsp_buf_init(&r->pir, 65536);
}

void rsp_ipa_download_result_free(struct rsp_ipa_download_result *r) {
  if (r) rsp_buf_free(&r->pir);
}

/* GetEUICCChallenge and GetEUICCInfo1, then initiateAuthentication. */
static rsp_err_t start(struct dl *d, const struct rsp_ipa_download_params *p,
                       struct rsp_es9p_json_initiate_authentication_resp *ia) {
  static const uint8_t get_challenge[] = {0xBF, 0x2E, 0x00}, get_info1[] = {0xBF, 0x20, 0x00};
  uint8_t challenge[16], info1[1024];
  size_t info1_len;
  d->step = "GetEUICCChallenge";
  rsp_err_t rc = card(d, get_challenge, sizeof get_challenge);
  if (rc == RSP_OK && d->card_resp.len != 21) rc = RSP_E_DER_BAD_VALUE; /* BF2E 12 80 10 <16> */
  if (rc != RSP_OK) return rc;
  memcpy(challenge, d->card_resp.data + 5, 16);
  d->step = "GetEUICCInfo1";
  if ((rc = card(d, get_info1, sizeof get_info1)) != RSP_OK) return rc;
  if (d->card_resp.len > sizeof info1) return RSP_E_BUF_CAP;
  info1_len = d->card_resp.len;
  memcpy(info1, d->card_resp.data, info1_len);
  d->step = "initiateAuthentication";
  struct rsp_es9p_json_initiate_authentication_req q = {
      .euicc_challenge = rsp_msg_slice(challenge, 16),
      .euicc_info1 = rsp_msg_slice(info1, info1_len),
      .smdp_address = p->smdp_address};
  rc =
      es9(d, RSP_ES9P_PATH_INITIATE_AUTHENTICATION, &rsp_es9p_json_initiate_authentication_req_type,
          &q, &rsp_es9p_json_initiate_authentication_resp_type, ia);
  if (rc == RSP_OK && (ia->transaction_id.len == 0 || ia->transaction_id.len > 16))
    rc = RSP_E_STATE;
  if (rc == RSP_OK) {
    memcpy(d->txid, ia->transaction_id.p, ia->transaction_id.len);
    d->txid_len = ia->transaction_id.len;
  }
  return rc;
}

/* AuthenticateServer .. getBoundProfilePackage .. LoadBoundProfilePackage. */
static rsp_err_t run(struct dl *d, const struct rsp_ipa_download_params *p,
                     const struct rsp_es9p_json_initiate_authentication_resp *ia) {
  struct rsp_es9p_json_authenticate_client_resp ac;
  struct rsp_es9p_json_get_bound_profile_package_resp bp;
  d->step = "AuthenticateServer";
  rsp_err_t rc = authenticate_server(d, ia, p->matching_id);
  if (rc != RSP_OK) return rc;
  d->step = "authenticateClient";
  struct rsp_es9p_json_authenticate_client_req aq = {
      .transaction_id = rsp_msg_slice(d->txid, d->txid_len),
      .authenticate_server_response = rsp_msg_slice(d->card_resp.data, d->card_resp.len)};
  rc = es9(d, RSP_ES9P_PATH_AUTHENTICATE_CLIENT, &rsp_es9p_json_authenticate_client_req_type, &aq,
           &rsp_es9p_json_authenticate_client_resp_type, &ac);
  if (rc != RSP_OK) return rc;
  d->step = "PrepareDownload";
  if ((rc = prepare_download(d, &ac, p->confirmation_code)) != RSP_OK) return rc;
  d->step = "getBoundProfilePackage";
  struct rsp_es9p_json_get_bound_profile_package_req gq = {
      .transaction_id = rsp_msg_slice(d->txid, d->txid_len),
      .prepare_download_response = rsp_msg_slice(d->card_resp.data, d->card_resp.len)};
  rc = es9(d, RSP_ES9P_PATH_GET_BOUND_PROFILE_PACKAGE,
           &rsp_es9p_json_get_bound_profile_package_req_type, &gq,
           &rsp_es9p_json_get_bound_profile_package_resp_type, &bp);
  if (rc != RSP_OK) return rc;
  d->step = "LoadBoundProfilePackage";
  rc = load_bpp(d, bp.bound_profile_package);
  if (rc == RSP_OK && d->card_resp.len == 0) rc = RSP_E_STATE; /* no result from the card */
  return rc;
}

rsp_err_t rsp_ipa_download(struct rsp_ipa *ipa, const struct rsp_ipa_es9_ops *es9_ops,
                           void *es9_ctx, const struct rsp_ipa_download_params *p,
                           struct rsp_ipa_download_result *out) {
  struct dl d = {.ipa = ipa, .es9 = es9_ops, .es9_ctx = es9_ctx, .address = p->smdp_address};
  struct rsp_es9p_json_initiate_authentication_resp ia;
  rsp_msg_json_doc_init(&d.doc);
  rsp_buf_init(&d.card_resp, RSP_ES10_MAX_RESPONSE);
  rsp_err_t rc = rsp_es10_client_open(&ipa->es10);
  if (rc == RSP_OK) rc = start(&d, p, &ia);
  bool session = rc == RSP_OK;
  if (rc == RSP_OK) rc = run(&d, p, &ia);
  if (rc == RSP_OK) {
    /* the PIR goes to the SM-DP+ whatever it says; removed from the card once delivered */
    d.step = "handleNotification";
    struct rsp_es9p_json_handle_notification_req nq = {
        .pending_notification = rsp_msg_slice(d.card_resp.data, d.card_resp.len)};
    struct rsp_es9p_json_handle_notification_resp nr;
    bool delivered =
        es9(&d, RSP_ES9P_PATH_HANDLE_NOTIFICATION, &rsp_es9p_json_handle_notification_req_type, &nq,
            &rsp_es9p_json_handle_notification_resp_type, &nr) == RSP_OK;
    read_pir(&d, out, delivered);
    if (!out->installed) out->failed_step = "LoadBoundProfilePackage";
  } else {
    out->failed_step = d.step;
    rsp_log(RSP_LOG_WARN, "ipa", "download failed at %s: %s", d.step ? d.step : "open",
            rsp_strerror(rc));
    if (session) cancel(&d, RSP_MSG_CANCEL_SESSION_REASON_LOAD_BPP_EXECUTION_ERROR);
  }
  rsp_es10_client_close(&ipa->es10);
  rsp_buf_free(&d.card_resp);
  rsp_msg_json_doc_free(&d.doc);
  return rc;
}
