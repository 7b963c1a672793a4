/* IPA: profile download (SGP.22 §3.1.3 with the IPA in the LPA role, SGP.32 §3.2.3).
 *
 * One procedure for both kinds: the ES10b functions on the card are the same, only the server
 * side differs, behind a small table (struct dl_server): direct = ES9+ JSON to the SM-DP+ through
 * the ES9+ port (§3.2.3.1), indirect = the ESipa requests to the eIM, which relays them
 * (§3.2.3.2, notes 1.3), in their compact forms with minimizeEsipaBytes (notes 2.5). Every
 * failure after the session started cancels it on the card and at the server. After a
 * successful install the IPA may ask the card for ImmediateEnable (notes 3.9). */
#include <stdio.h>
#include <string.h>

#include "ipa_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/crypto/crypto.h"
#include "rsp/ipa/download.h"
#include "rsp/msg/activation_code.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/bpp.h"
#include "rsp/msg/compact.h"
#include "rsp/msg/json.h"
#include "rsp/msg/signed.h"
#include "rsp/msg/tags.h"

#define MAX_SEGMENTS 4096
#define REQUEST_CAP 16384u /* AuthenticateServer, PrepareDownload: the SM-DP+'s TLVs and ours */

/* Components of the ESipa download requests (SGP32Definitions, AUTOMATIC TAGS, notes 2.2). */
#define TAG_ESIPA_TRANSACTION_ID 0x80u       /* transactionId [0] of every request */
#define TAG_ESIPA_EUICC_CHALLENGE 0x81u      /* InitiateAuthenticationRequestEsipa.euiccChallenge */
#define TAG_ESIPA_EIM_TRANSACTION_ID 0x82u   /* InitiateAuthenticationRequestEsipa [2] */
#define TAG_ESIPA_SMDP_ADDRESS 0x83u         /* InitiateAuthenticationRequestEsipa.smdpAddress */
#define TAG_ESIPA_PENDING_NOTIFICATION 0xA0u /* HandleNotificationEsipa [0], explicit */
#define TAG_ESIPA_CANCEL_SESSION_RESPONSE 0xA1u /* CancelSessionRequestEsipa [1] replacing [65] */
/* ctxParams1 of AuthenticateServerRequest (SGP.22 CtxParams1, AUTOMATIC TAGS). */
#define TAG_CTX_PARAMS_FOR_COMMON_AUTH 0xA0u /* ctxParamsForCommonAuthentication [0] */
#define TAG_CTX_MATCHING_ID 0x80u            /* matchingId [0] */
#define TAG_CTX_DEVICE_INFO 0xA1u            /* deviceInfo [1] */
#define TAG_DEVICE_TAC 0x80u                 /* DeviceInfo.tac [0] */
#define TAG_DEVICE_CAPABILITIES 0xA1u        /* DeviceInfo.deviceCapabilities [1] */
/* ImmediateEnableRequest.refreshFlag: the modem refreshes on the new profile, as for rollback. */
#define IMMEDIATE_ENABLE_REFRESH true
#define IMMEDIATE_ENABLE_OK 0 /* ImmediateEnableResponse.immediateEnableResult ok */

struct dl;

/* initiateAuthentication's answer: the TLVs AuthenticateServerRequest carries. */
struct dl_auth {
  struct rsp_slice server_signed1, server_signature1, ci_pk_id, server_certificate;
  struct rsp_slice ctx_params1; /* A0 TLV from the eIM (eimCtxParams1Generation); empty: own */
  struct rsp_slice matching_id; /* from the eIM (eimDownloadDataHandling); empty: none */
};

/* authenticateClient's answer: the TLVs PrepareDownloadRequest carries. */
struct dl_client {
  struct rsp_slice smdp_signed2, smdp_signature2, smdp_certificate;
  struct rsp_slice hash_cc; /* 32 bytes from the eIM; empty: computed from the code */
};

/* The server side of the download as the IPA sees it. */
struct dl_server {
  rsp_err_t (*initiate)(struct dl *d, struct rsp_slice challenge, struct rsp_slice info1,
                        struct dl_auth *out);
  rsp_err_t (*authenticate_client)(struct dl *d, struct rsp_slice asr, struct dl_client *out);
  rsp_err_t (*get_bpp)(struct dl *d, struct rsp_slice pdr, struct rsp_slice *bpp);
  bool (*notify)(struct dl *d, struct rsp_slice pir); /* true when the server took it */
  void (*cancel)(struct dl *d, struct rsp_slice cancel_response);
};

struct dl {
  struct rsp_ipa *ipa;
  const struct dl_server *srv;
  const struct rsp_ipa_es9_ops *es9; /* direct */
  void *es9_ctx;
  const struct rsp_ipa_download_params *p;
  struct rsp_msg_json_doc doc; /* decoded ES9+ answers (direct) */
  struct rsp_arena arena;      /* decoded ESipa answers and TLVs built from them (indirect) */
  struct rsp_buf card_resp;    /* the card's last answer */
  uint8_t txid[16];
  size_t txid_len;
  const char *step;
  bool ctx_from_server, hash_cc_from_server; /* the compact forms leave these out */
};

/* One ES10 request (raw TLV) on the card; the answer in d->card_resp. */
static rsp_err_t card(struct dl *d, const uint8_t *req, size_t len) {
  rsp_buf_reset(&d->card_resp);
  return rsp_es10_client_call(&d->ipa->es10, req, len, &d->card_resp);
}

static struct rsp_slice card_answer(const struct dl *d) {
  return rsp_msg_slice(d->card_resp.data, d->card_resp.len);
}

static rsp_err_t set_txid(struct dl *d, struct rsp_slice id) {
  if (id.len == 0 || id.len > sizeof d->txid) return RSP_E_STATE;
  memcpy(d->txid, id.p, id.len);
  d->txid_len = id.len;
  return RSP_OK;
}

static struct rsp_slice txid(const struct dl *d) { return rsp_msg_slice(d->txid, d->txid_len); }

/* ---- direct: ES9+ JSON through the ES9+ port ----------------------------------------------- */

/* One ES9+ function: encodes `q`, calls the port, decodes the answer into `r` (a Failed status
 * is reported as RSP_E_STATE with the codes logged). */
static rsp_err_t es9(struct dl *d, const char *path, const struct rsp_msg_json_type *qt,
                     const void *q, const struct rsp_msg_json_type *rt, void *r) {
  struct rsp_buf body, resp;
  int status = 0;
  rsp_buf_init(&body, RSP_MSG_JSON_MAX_BODY);
  rsp_buf_init(&resp, RSP_MSG_JSON_MAX_BODY);
  rsp_err_t rc = rsp_msg_json_encode(qt, q, &body, NULL);
  if (rc == RSP_OK) rc = d->es9->call(d->es9_ctx, d->p->smdp_address, path, &body, &status, &resp);
  if (rc == RSP_OK && status != 200 && status != 204) rc = RSP_E_STATE;
  if (rc == RSP_OK)
    rc = rsp_msg_json_decode(rt, (const char *)resp.data, resp.len, &d->doc, r, NULL);
  const struct rsp_msg_json_resp_header *h = r;
  if (rc == RSP_OK && h->function_execution_status.status != RSP_MSG_JSON_STATUS_ABSENT &&
      !rsp_msg_json_status_ok(h)) {
    const struct rsp_msg_json_status_code_data *s = h->function_execution_status.status_code_data;
    rsp_log(RSP_LOG_WARN, "ipa", "%s refused by %s: %s %s/%s", path, d->p->smdp_address,
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

static rsp_err_t es9_initiate(struct dl *d, struct rsp_slice challenge, struct rsp_slice info1,
                              struct dl_auth *out) {
  struct rsp_es9p_json_initiate_authentication_resp ia;
  struct rsp_es9p_json_initiate_authentication_req q = {
      .euicc_challenge = challenge, .euicc_info1 = info1, .smdp_address = d->p->smdp_address};
  rsp_err_t rc =
      es9(d, RSP_ES9P_PATH_INITIATE_AUTHENTICATION, &rsp_es9p_json_initiate_authentication_req_type,
          &q, &rsp_es9p_json_initiate_authentication_resp_type, &ia);
  if (rc == RSP_OK) rc = set_txid(d, ia.transaction_id);
  if (rc != RSP_OK) return rc;
  out->server_signed1 = ia.server_signed1;
  out->server_signature1 = ia.server_signature1;
  out->ci_pk_id = ia.euicc_ci_pk_id_to_be_used;
  out->server_certificate = ia.server_certificate;
  return RSP_OK;
}

static rsp_err_t es9_authenticate_client(struct dl *d, struct rsp_slice asr,
                                         struct dl_client *out) {
  struct rsp_es9p_json_authenticate_client_resp ac;
  struct rsp_es9p_json_authenticate_client_req q = {.transaction_id = txid(d),
                                                    .authenticate_server_response = asr};
  rsp_err_t rc =
      es9(d, RSP_ES9P_PATH_AUTHENTICATE_CLIENT, &rsp_es9p_json_authenticate_client_req_type, &q,
          &rsp_es9p_json_authenticate_client_resp_type, &ac);
  if (rc != RSP_OK) return rc;
  out->smdp_signed2 = ac.smdp_signed2;
  out->smdp_signature2 = ac.smdp_signature2;
  out->smdp_certificate = ac.smdp_certificate;
  return RSP_OK;
}

static rsp_err_t es9_get_bpp(struct dl *d, struct rsp_slice pdr, struct rsp_slice *bpp) {
  struct rsp_es9p_json_get_bound_profile_package_resp bp;
  struct rsp_es9p_json_get_bound_profile_package_req q = {.transaction_id = txid(d),
                                                          .prepare_download_response = pdr};
  rsp_err_t rc = es9(d, RSP_ES9P_PATH_GET_BOUND_PROFILE_PACKAGE,
                     &rsp_es9p_json_get_bound_profile_package_req_type, &q,
                     &rsp_es9p_json_get_bound_profile_package_resp_type, &bp);
  if (rc == RSP_OK) *bpp = bp.bound_profile_package;
  return rc;
}

static bool es9_notify(struct dl *d, struct rsp_slice pir) {
  struct rsp_es9p_json_handle_notification_req q = {.pending_notification = pir};
  struct rsp_es9p_json_handle_notification_resp r;
  return es9(d, RSP_ES9P_PATH_HANDLE_NOTIFICATION, &rsp_es9p_json_handle_notification_req_type, &q,
             &rsp_es9p_json_handle_notification_resp_type, &r) == RSP_OK;
}

static void es9_cancel(struct dl *d, struct rsp_slice response) {
  struct rsp_es9p_json_cancel_session_req q = {.transaction_id = txid(d),
                                               .cancel_session_response = response};
  struct rsp_es9p_json_cancel_session_resp r;
  (void)es9(d, RSP_ES9P_PATH_CANCEL_SESSION, &rsp_es9p_json_cancel_session_req_type, &q,
            &rsp_es9p_json_cancel_session_resp_type, &r);
}

static const struct dl_server es9_server = {es9_initiate, es9_authenticate_client, es9_get_bpp,
                                            es9_notify, es9_cancel};

/* ---- indirect: the ESipa requests to the eIM ----------------------------------------------- */

/* A copy of `len` bytes in the download's arena (slices handed between steps stay valid). */
static struct rsp_slice keep(struct dl *d, const void *p, size_t len) {
  uint8_t *c = len ? rsp_arena_alloc(&d->arena, len) : NULL;
  if (!c) return rsp_msg_slice(NULL, 0);
  memcpy(c, p, len);
  return rsp_msg_slice(c, len);
}

/* `tag` around `v` (the ESipa forms carry signatures and key ids as their values only). */
static struct rsp_slice tlv(struct dl *d, uint32_t tag, struct rsp_slice v) {
  struct rsp_buf b;
  struct rsp_der_writer w;
  struct rsp_slice s = {0};
  rsp_buf_init(&b, v.len + 16);
  rsp_der_writer_init(&w, &b);
  rsp_der_put_tlv(&w, tag, v.p, v.len);
  if (rsp_der_writer_finish(&w) == RSP_OK) s = keep(d, b.data, b.len);
  rsp_buf_free(&b);
  return s;
}

/* Sends the request built in `w` and decodes the eIM's answer, which must be alternative
 * `want` of EsipaMessageFromEimToIpa (notes 2.3: the answer matches the request). */
static rsp_err_t esipa(struct dl *d, struct rsp_der_writer *w, int want,
                       struct rsp_msg_esipa_message_from_eim_to_ipa **out) {
  rsp_err_t rc = rsp_der_writer_finish(w);
  *out = NULL;
  if (rc == RSP_OK) rc = rsp__ipa_esipa_call(d->ipa, w->buf->data, w->buf->len, &d->arena, out);
  if (rc == RSP_OK && want && (!*out || (*out)->which != want)) {
    rsp_log(RSP_LOG_WARN, "ipa", "%s: the eIM answered another function", d->step);
    rc = RSP_E_STATE;
  }
  return rc;
}

/* The eIM's transactionId echo, when it sends one, must be the session's. */
static rsp_err_t check_echo(const struct dl *d, struct rsp_slice echo) {
  if (!echo.p) return RSP_OK;
  return echo.len == d->txid_len && memcmp(echo.p, d->txid, echo.len) == 0 ? RSP_OK : RSP_E_STATE;
}

static rsp_err_t refused(const struct dl *d, int64_t code) {
  rsp_log(RSP_LOG_WARN, "ipa", "%s refused by the eIM: error %lld", d->step, (long long)code);
  return RSP_E_STATE;
}

/* Which card answer minimized() compresses. */
enum dl_answer { ANSWER_AUTH, ANSWER_PREPARE, ANSWER_NOTIFICATION, ANSWER_CANCEL };

/* The compact form of a card answer when minimizeEsipaBytes is on, else the answer itself. */
static struct rsp_slice minimized(struct dl *d, struct rsp_slice in, enum dl_answer kind) {
  struct rsp_ipa *ipa = d->ipa;
  struct rsp_msg_compact_opts o = ipa->compact;
  struct rsp_slice eid =
      ipa->have_eid ? rsp_msg_slice(ipa->eid, sizeof ipa->eid) : rsp_msg_slice(NULL, 0);
  struct rsp_buf b;
  struct rsp_slice s = in;
  rsp_err_t rc = RSP_E_INTERNAL;
  if (!ipa->minimize_esipa_bytes) return in;
  o.omit_ctx_params1 |= d->ctx_from_server;
  o.omit_hash_cc |= d->hash_cc_from_server;
  rsp_buf_init(&b, in.len + 64);
  switch (kind) {
  case ANSWER_AUTH:
    rc = rsp_msg_compact_auth_compress(in.p, in.len, &o, &b);
    break;
  case ANSWER_PREPARE:
    rc = rsp_msg_compact_prepare_compress(in.p, in.len, &o, &b);
    break;
  case ANSWER_NOTIFICATION:
    rc = rsp_msg_compact_notification_compress(in.p, in.len, &o, eid, &b);
    break;
  case ANSWER_CANCEL:
    rc = rsp_msg_compact_cancel_compress(in.p, in.len, &o, &b);
    break;
  }
  if (rc == RSP_OK) s = keep(d, b.data, b.len);
  rsp_buf_free(&b);
  return s.p ? s : in;
}

rsp_err_t rsp_ipa_ci_pk_id_expand(const uint8_t *info1, size_t len, struct rsp_slice id,
                                  struct rsp_slice *full) {
  struct rsp_arena a;
  struct rsp_msg_euicc_info1 *e = NULL;
  *full = id;
  if (id.len >= RSP_IPA_CI_PK_ID_LEN) return RSP_OK;
  if (!info1 || !id.len) return RSP_E_INVALID_ARG;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_euicc_info1, info1, len, &a, (void **)&e, NULL);
  size_t found = 0;
  for (size_t i = 0; rc == RSP_OK && e->euicc_ci_pk_id_list_for_signing &&
                     i < e->euicc_ci_pk_id_list_for_signing->n;
       i++) {
    struct rsp_slice k = e->euicc_ci_pk_id_list_for_signing->v[i];
    if (k.len < id.len || memcmp(k.p, id.p, id.len) != 0) continue;
    /* the arena holds the decoded slices, which point into info1 itself */
    *full = k;
    found++;
  }
  if (rc == RSP_OK && found != 1) {
    *full = id;
    rc = found ? RSP_E_STATE : RSP_E_NOT_FOUND;
  }
  rsp_arena_free(&a);
  return rc;
}

/* A truncated euiccCiPKIdentifierToBeUsed made whole from the card's EUICCInfo1; unchanged (and
 * logged) when that is not possible, so that the card refuses it and the session is cancelled. */
static struct rsp_slice whole_ci_pk_id(struct rsp_slice info1, struct rsp_slice id) {
  struct rsp_slice full = id;
  rsp_err_t rc = rsp_ipa_ci_pk_id_expand(info1.p, info1.len, id, &full);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_WARN, "ipa",
            "euiccCiPKIdentifierToBeUsed of %zu bytes matches %s of the card's CI keys", id.len,
            rc == RSP_E_STATE ? "several" : "none");
  else if (full.len != id.len)
    rsp_log(RSP_LOG_DEBUG, "ipa", "truncated euiccCiPKIdentifierToBeUsed (%zu bytes) completed",
            id.len);
  return full;
}

static rsp_err_t esipa_initiate(struct dl *d, struct rsp_slice challenge, struct rsp_slice info1,
                                struct dl_auth *out) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  rsp_buf_init(&req, RSP_IPA_ESIPA_MAX);
  rsp_der_writer_init(&w, &req);
  rsp_der_begin(&w, RSP_TAG_INITIATE_AUTHENTICATION_REQUEST_ESIPA);
  rsp_der_put_tlv(&w, TAG_ESIPA_EUICC_CHALLENGE, challenge.p, challenge.len);
  if (d->p->smdp_address)
    rsp_der_put_tlv(&w, TAG_ESIPA_SMDP_ADDRESS, d->p->smdp_address, strlen(d->p->smdp_address));
  if (!d->ipa->minimize_esipa_bytes) rsp_der_put_raw(&w, info1.p, info1.len);
  if (d->p->eim_transaction_id.len)
    rsp_der_put_tlv(&w, TAG_ESIPA_EIM_TRANSACTION_ID, d->p->eim_transaction_id.p,
                    d->p->eim_transaction_id.len);
  rsp_der_end(&w);
  rsp_err_t rc = esipa(
      d, &w, RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_INITIATE_AUTHENTICATION_RESPONSE_ESIPA, &m);
  rsp_buf_free(&req);
  if (rc != RSP_OK) return rc;
  const struct rsp_msg_initiate_authentication_response_esipa *r =
      m->u.initiate_authentication_response_esipa;
  if (r->which ==
      RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_ERROR_ESIPA)
    return refused(d, r->u.initiate_authentication_error_esipa);
  if (r->which != RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_OK_ESIPA)
    return RSP_E_UNSUPPORTED;
  const struct rsp_msg_initiate_authentication_ok_esipa *ok = r->u.initiate_authentication_ok_esipa;
  /* Without the echo (minimizeEsipaBytes) the transactionId is serverSigned1's. */
  if ((rc = set_txid(d, ok->server_signed1->transaction_id)) != RSP_OK ||
      (rc = check_echo(d, ok->transaction_id)) != RSP_OK)
    return rc;
  out->server_signed1 = ok->server_signed1->raw;
  out->server_signature1 = tlv(d, RSP_MSG_TAG_SIGNATURE, ok->server_signature1);
  out->ci_pk_id =
      tlv(d, RSP_DER_OCTET_STRING, whole_ci_pk_id(info1, ok->euicc_ci_pk_identifier_to_be_used));
  out->server_certificate = ok->server_certificate;
  out->matching_id = ok->matching_id;
  if (ok->ctx_params1) {
    struct rsp_buf b;
    rsp_buf_init(&b, REQUEST_CAP);
    rc = rsp_msg_encode(&rsp_msgt_ctx_params1, ok->ctx_params1, &b, NULL);
    if (rc == RSP_OK) out->ctx_params1 = keep(d, b.data, b.len);
    rsp_buf_free(&b);
    d->ctx_from_server = true;
  }
  if (rc == RSP_OK &&
      (!out->server_signature1.p || !out->ci_pk_id.p || (ok->ctx_params1 && !out->ctx_params1.p)))
    rc = RSP_E_NOMEM;
  return rc;
}

/* BF3B/BF3A { transactionId, the card's answer }. */
static void txid_and(struct dl *d, struct rsp_der_writer *w, uint32_t tag, struct rsp_slice v) {
  rsp_der_begin(w, tag);
  rsp_der_put_tlv(w, TAG_ESIPA_TRANSACTION_ID, d->txid, d->txid_len);
  rsp_der_put_raw(w, v.p, v.len);
  rsp_der_end(w);
}

static rsp_err_t esipa_authenticate_client(struct dl *d, struct rsp_slice asr,
                                           struct dl_client *out) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  rsp_buf_init(&req, RSP_IPA_ESIPA_MAX);
  rsp_der_writer_init(&w, &req);
  txid_and(d, &w, RSP_TAG_AUTHENTICATE_CLIENT_REQUEST_ESIPA, minimized(d, asr, ANSWER_AUTH));
  rsp_err_t rc =
      esipa(d, &w, RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_AUTHENTICATE_CLIENT_RESPONSE_ESIPA, &m);
  rsp_buf_free(&req);
  if (rc != RSP_OK) return rc;
  const struct rsp_msg_authenticate_client_response_esipa *r =
      m->u.authenticate_client_response_esipa;
  if (r->which == RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_ERROR_ESIPA)
    return refused(d, r->u.authenticate_client_error_esipa);
  if (r->which != RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_OK_DP_ESIPA)
    return RSP_E_UNSUPPORTED; /* okDS: an SM-DS event, not served yet */
  const struct rsp_msg_authenticate_client_ok_dp_esipa *ok = r->u.authenticate_client_ok_dp_esipa;
  if ((rc = check_echo(d, ok->transaction_id)) != RSP_OK) return rc;
  out->smdp_signed2 = ok->smdp_signed2->raw;
  out->smdp_signature2 = tlv(d, RSP_MSG_TAG_SIGNATURE, ok->smdp_signature2);
  out->smdp_certificate = ok->smdp_certificate;
  out->hash_cc = ok->hash_cc;
  d->hash_cc_from_server = ok->hash_cc.p != NULL;
  return out->smdp_signature2.p ? RSP_OK : RSP_E_NOMEM;
}

static rsp_err_t esipa_get_bpp(struct dl *d, struct rsp_slice pdr, struct rsp_slice *bpp) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  rsp_buf_init(&req, RSP_IPA_ESIPA_MAX);
  rsp_der_writer_init(&w, &req);
  txid_and(d, &w, RSP_TAG_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA,
           minimized(d, pdr, ANSWER_PREPARE));
  rsp_err_t rc = esipa(
      d, &w, RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA, &m);
  rsp_buf_free(&req);
  if (rc != RSP_OK) return rc;
  const struct rsp_msg_get_bound_profile_package_response_esipa *r =
      m->u.get_bound_profile_package_response_esipa;
  if (r->which ==
      RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA_GET_BOUND_PROFILE_PACKAGE_ERROR_ESIPA)
    return refused(d, r->u.get_bound_profile_package_error_esipa);
  if (r->which !=
      RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA_GET_BOUND_PROFILE_PACKAGE_OK_ESIPA)
    return RSP_E_UNSUPPORTED;
  const struct rsp_msg_get_bound_profile_package_ok_esipa *ok =
      r->u.get_bound_profile_package_ok_esipa;
  if ((rc = check_echo(d, ok->transaction_id)) != RSP_OK) return rc;
  *bpp = ok->bound_profile_package->raw;
  return RSP_OK;
}

static bool esipa_notify(struct dl *d, struct rsp_slice pir) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  rsp_buf_init(&req, RSP_IPA_ESIPA_MAX);
  rsp_der_writer_init(&w, &req);
  struct rsp_slice n = minimized(d, pir, ANSWER_NOTIFICATION);
  rsp_der_begin(&w, RSP_TAG_HANDLE_NOTIFICATION_ESIPA);
  rsp_der_begin(&w, TAG_ESIPA_PENDING_NOTIFICATION);
  rsp_der_put_raw(&w, n.p, n.len);
  rsp_der_end(&w);
  rsp_der_end(&w);
  rsp_err_t rc = esipa(d, &w, 0, &m); /* no answer message (notes 2.2) */
  rsp_buf_free(&req);
  return rc == RSP_OK;
}

static void esipa_cancel(struct dl *d, struct rsp_slice response) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  struct rsp_der_tlv t;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  struct rsp_slice c = minimized(d, response, ANSWER_CANCEL);
  if (rsp_der_parse_one(c.p, c.len, &t) != RSP_OK) return;
  rsp_buf_init(&req, RSP_IPA_ESIPA_MAX);
  rsp_der_writer_init(&w, &req);
  rsp_der_begin(&w, RSP_TAG_CANCEL_SESSION_REQUEST_ESIPA);
  rsp_der_put_tlv(&w, TAG_ESIPA_TRANSACTION_ID, d->txid, d->txid_len);
  rsp_der_put_tlv(&w, TAG_ESIPA_CANCEL_SESSION_RESPONSE, t.val, t.len);
  rsp_der_end(&w);
  rsp_err_t rc =
      esipa(d, &w, RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_CANCEL_SESSION_RESPONSE_ESIPA, &m);
  if (rc == RSP_OK && m->u.cancel_session_response_esipa->which ==
                          RSP_MSG_CANCEL_SESSION_RESPONSE_ESIPA_CANCEL_SESSION_ERROR)
    rsp_log(RSP_LOG_WARN, "ipa", "cancelSession refused by the eIM: error %lld",
            (long long)m->u.cancel_session_response_esipa->u.cancel_session_error);
  rsp_buf_free(&req);
}

static const struct dl_server esipa_server = {esipa_initiate, esipa_authenticate_client,
                                              esipa_get_bpp, esipa_notify, esipa_cancel};

/* ---- the card's side, shared ------------------------------------------------------------------
 */

/* BF38 AuthenticateServerRequest from the server's TLVs and ctxParams1 (as an LPA builds it, or
 * as the eIM made it). */
static rsp_err_t authenticate_server(struct dl *d, const struct dl_auth *ia,
                                     struct rsp_slice matching_id) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  static const uint8_t tac[4] = {0x35, 0x29, 0x06, 0x11};
  rsp_buf_init(&req, REQUEST_CAP);
  rsp_der_writer_init(&w, &req);
  rsp_der_begin(&w, RSP_TAG_AUTHENTICATE_SERVER_REQUEST);
  rsp_der_put_raw(&w, ia->server_signed1.p, ia->server_signed1.len);
  rsp_der_put_raw(&w, ia->server_signature1.p, ia->server_signature1.len);
  rsp_der_put_raw(&w, ia->ci_pk_id.p, ia->ci_pk_id.len);
  rsp_der_put_raw(&w, ia->server_certificate.p, ia->server_certificate.len);
  if (ia->ctx_params1.p) {
    rsp_der_put_raw(&w, ia->ctx_params1.p, ia->ctx_params1.len);
  } else {
    rsp_der_begin(&w, TAG_CTX_PARAMS_FOR_COMMON_AUTH);
    if (matching_id.p) rsp_der_put_tlv(&w, TAG_CTX_MATCHING_ID, matching_id.p, matching_id.len);
    rsp_der_begin(&w, TAG_CTX_DEVICE_INFO);
    rsp_der_put_tlv(&w, TAG_DEVICE_TAC, tac, sizeof tac);
    rsp_der_begin(&w, TAG_DEVICE_CAPABILITIES);
    rsp_der_end(&w);
    rsp_der_end(&w);
    rsp_der_end(&w);
  }
  rsp_der_end(&w);
  rsp_err_t rc = rsp_der_writer_finish(&w);
  if (rc == RSP_OK) rc = card(d, req.data, req.len);
  rsp_buf_free(&req);
  return rc;
}

/* BF21 PrepareDownloadRequest; hashCc from the eIM, or SHA-256(SHA-256(code) || transactionId)
 * (notes 4.3). */
static rsp_err_t prepare_download(struct dl *d, const struct dl_client *ac, const char *code) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  uint8_t h1[32], hash[32];
  rsp_buf_init(&req, REQUEST_CAP);
  rsp_der_writer_init(&w, &req);
  rsp_der_begin(&w, RSP_TAG_PREPARE_DOWNLOAD_REQUEST);
  rsp_der_put_raw(&w, ac->smdp_signed2.p, ac->smdp_signed2.len);
  rsp_der_put_raw(&w, ac->smdp_signature2.p, ac->smdp_signature2.len);
  if (ac->hash_cc.p) {
    rsp_der_put_octets(&w, RSP_DER_OCTET_STRING, ac->hash_cc.p, ac->hash_cc.len);
  } else if (code) {
    struct rsp_slice parts[2] = {rsp_msg_slice(h1, 32), txid(d)};
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
  struct rsp_msg_cancel_session_request q = {.transaction_id = txid(d), .reason = reason};
  struct rsp_buf req;
  rsp_buf_init(&req, 256);
  if (rsp_msg_encode(&rsp_msgt_cancel_session_request, &q, &req, NULL) == RSP_OK &&
      card(d, req.data, req.len) == RSP_OK && d->card_resp.len)
    d->srv->cancel(d, card_answer(d));
  rsp_buf_free(&req);
}

/* Reads the PIR: installed or not, the ICCID, the error; removes it from the card once the
 * server has it. */
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

/* ES10b.ImmediateEnable after the install (SGP.32 §5.9.x, notes 3.9). The card decides whether
 * it is allowed (ConfigureImmediateProfileEnabling); the outcome is logged, counted and returned
 * in the result, and the eIM hears of the switch through notifyStateChange on the next
 * GetEimPackage. The enable notification stays pending on the card like any other. */
static void immediate_enable(struct dl *d, struct rsp_ipa_download_result *out) {
  struct rsp_msg_immediate_enable_request q = {.refresh_flag = IMMEDIATE_ENABLE_REFRESH};
  struct rsp_msg_immediate_enable_response *r = NULL;
  struct rsp_ipa *ipa = d->ipa;
  d->step = "ImmediateEnable";
  out->immediate_enable_tried = true;
  out->immediate_enable_result =
      RSP_MSG_IMMEDIATE_ENABLE_RESPONSE_IMMEDIATE_ENABLE_RESULT_UNDEFINED_ERROR;
  rsp_err_t rc = rsp__ipa_card(ipa, &rsp_msgt_immediate_enable_request, &q,
                               &rsp_msgt_immediate_enable_response, &d->arena, (void **)&r);
  if (rc == RSP_OK) out->immediate_enable_result = r->immediate_enable_result;
  if (rc == RSP_OK && r->immediate_enable_result == IMMEDIATE_ENABLE_OK) {
    ipa->stats.immediate_enables++;
    rsp__ipa_state_change_set(ipa, RSP_MSG_STATE_CHANGE_CAUSE_IMMEDIATE_ENABLE_PROFILE);
    rsp_log(RSP_LOG_INFO, "ipa", "new profile enabled by ImmediateEnable");
  } else {
    ipa->stats.immediate_enable_refusals++;
    rsp_log(RSP_LOG_WARN, "ipa", "ImmediateEnable not done: %s, result %lld",
            rc == RSP_OK ? "refused" : rsp_strerror(rc), (long long)out->immediate_enable_result);
  }
}

/* GetEUICCChallenge and GetEUICCInfo1, then initiateAuthentication. */
static rsp_err_t start(struct dl *d, struct dl_auth *ia) {
  static const uint8_t get_challenge[] = {0xBF, 0x2E, 0x00}, get_info1[] = {0xBF, 0x20, 0x00};
  uint8_t challenge[16];
  d->step = "GetEUICCChallenge";
  rsp_err_t rc = card(d, get_challenge, sizeof get_challenge);
  if (rc == RSP_OK && d->card_resp.len != 21) rc = RSP_E_DER_BAD_VALUE; /* BF2E 12 80 10 <16> */
  if (rc != RSP_OK) return rc;
  memcpy(challenge, d->card_resp.data + 5, 16);
  d->step = "GetEUICCInfo1";
  if ((rc = card(d, get_info1, sizeof get_info1)) != RSP_OK) return rc;
  struct rsp_slice info1 = keep(d, d->card_resp.data, d->card_resp.len);
  if (!info1.p) return RSP_E_NOMEM;
  d->step = "initiateAuthentication";
  return d->srv->initiate(d, rsp_msg_slice(challenge, 16), info1, ia);
}

/* AuthenticateServer .. getBoundProfilePackage .. LoadBoundProfilePackage. */
static rsp_err_t run(struct dl *d, const struct dl_auth *ia) {
  struct dl_client ac = {0};
  struct rsp_slice bpp = {0};
  struct rsp_slice mid = d->p->matching_id
                             ? rsp_msg_slice(d->p->matching_id, strlen(d->p->matching_id))
                             : ia->matching_id;
  d->step = "AuthenticateServer";
  rsp_err_t rc = authenticate_server(d, ia, mid);
  if (rc != RSP_OK) return rc;
  d->step = "authenticateClient";
  if ((rc = d->srv->authenticate_client(d, card_answer(d), &ac)) != RSP_OK) return rc;
  d->step = "PrepareDownload";
  if ((rc = prepare_download(d, &ac, d->p->confirmation_code)) != RSP_OK) return rc;
  d->step = "getBoundProfilePackage";
  if ((rc = d->srv->get_bpp(d, card_answer(d), &bpp)) != RSP_OK) return rc;
  d->step = "LoadBoundProfilePackage";
  rc = load_bpp(d, bpp);
  if (rc == RSP_OK && d->card_resp.len == 0) rc = RSP_E_STATE; /* no result from the card */
  return rc;
}

void rsp_ipa_download_result_init(struct rsp_ipa_download_result *r) {
  memset(r, 0, sizeof *r);
  rsp_buf_init(&r->pir, 65536);
}

void rsp_ipa_download_result_free(struct rsp_ipa_download_result *r) {
  if (r) rsp_buf_free(&r->pir);
}

static rsp_err_t download(struct dl *d, struct rsp_ipa_download_result *out) {
  struct rsp_ipa *ipa = d->ipa;
  struct dl_auth ia = {0};
  rsp_msg_json_doc_init(&d->doc);
  rsp_arena_init(&d->arena, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&d->card_resp, RSP_ES10_MAX_RESPONSE);
  rsp_err_t rc = rsp_es10_client_open(&ipa->es10);
  if (rc == RSP_OK) rc = start(d, &ia);
  bool session = rc == RSP_OK;
  if (rc == RSP_OK) rc = run(d, &ia);
  if (rc == RSP_OK) {
    /* the PIR goes to the server whatever it says; removed from the card once delivered */
    d->step = "handleNotification";
    read_pir(d, out, d->srv->notify(d, card_answer(d)));
    if (!out->installed) out->failed_step = "LoadBoundProfilePackage";
    if (out->installed && ipa->immediate_enable) immediate_enable(d, out);
  } else {
    out->failed_step = d->step;
    rsp_log(RSP_LOG_WARN, "ipa", "%s download failed at %s: %s",
            d->srv == &esipa_server ? "indirect" : "direct", d->step ? d->step : "open",
            rsp_strerror(rc));
    if (session) cancel(d, RSP_MSG_CANCEL_SESSION_REASON_LOAD_BPP_EXECUTION_ERROR);
  }
  rsp_es10_client_close(&ipa->es10);
  rsp_buf_free(&d->card_resp);
  rsp_arena_free(&d->arena);
  rsp_msg_json_doc_free(&d->doc);
  return rc;
}

rsp_err_t rsp_ipa_download(struct rsp_ipa *ipa, const struct rsp_ipa_es9_ops *es9_ops,
                           void *es9_ctx, const struct rsp_ipa_download_params *p,
                           struct rsp_ipa_download_result *out) {
  struct dl d = {.ipa = ipa, .srv = &es9_server, .es9 = es9_ops, .es9_ctx = es9_ctx, .p = p};
  if (!es9_ops || !p->smdp_address) return RSP_E_INVALID_ARG;
  return download(&d, out);
}

rsp_err_t rsp_ipa_download_indirect(struct rsp_ipa *ipa, const struct rsp_ipa_download_params *p,
                                    struct rsp_ipa_download_result *out) {
  struct dl d = {.ipa = ipa, .srv = &esipa_server, .p = p};
  if (!ipa->esipa) return RSP_E_INVALID_ARG;
  out->indirect = true;
  ipa->stats.indirect_downloads++;
  return download(&d, out);
}

/* ---- SM-DS event retrieval (SGP.22 §3.6.2; ES11, or ES11' through the eIM) ------------------- */

typedef rsp_err_t (*events_fn)(struct dl *d, struct rsp_slice asr, struct rsp_ipa_smds_events *out);

/* One event; either field empty or too long for the download it names is skipped (logged). */
static void event_add(struct rsp_ipa_smds_events *out, struct rsp_slice id, struct rsp_slice addr) {
  if (out->n >= RSP_IPA_SMDS_EVENTS_MAX) return;
  if (!id.len || !addr.len || id.len > RSP_IPA_SMDS_FIELD_MAX ||
      addr.len > RSP_IPA_SMDS_FIELD_MAX || memchr(id.p, 0, id.len) || memchr(addr.p, 0, addr.len)) {
    rsp_log(RSP_LOG_WARN, "ipa", "SM-DS event skipped: empty or oversized eventId or address");
    return;
  }
  struct rsp_ipa_smds_event *e = &out->v[out->n++];
  memcpy(e->event_id, id.p, id.len);
  e->event_id[id.len] = '\0';
  memcpy(e->rsp_server_address, addr.p, addr.len);
  e->rsp_server_address[addr.len] = '\0';
}

/* ES11.AuthenticateClient: the ES9+ request at the ES9+ path, eventEntries in the answer. */
static rsp_err_t es11_events(struct dl *d, struct rsp_slice asr, struct rsp_ipa_smds_events *out) {
  struct rsp_es11_json_authenticate_client_resp ac;
  struct rsp_es9p_json_authenticate_client_req q = {.transaction_id = txid(d),
                                                    .authenticate_server_response = asr};
  rsp_err_t rc =
      es9(d, RSP_ES9P_PATH_AUTHENTICATE_CLIENT, &rsp_es9p_json_authenticate_client_req_type, &q,
          &rsp_es11_json_authenticate_client_resp_type, &ac);
  if (rc != RSP_OK) return rc;
  const struct rsp_es11_json_event_entry *e = ac.event_entries.v;
  for (size_t i = 0; i < ac.event_entries.n; i++)
    event_add(out, rsp_msg_slice(e[i].event_id, strlen(e[i].event_id)),
              rsp_msg_slice(e[i].rsp_server_address, strlen(e[i].rsp_server_address)));
  return RSP_OK;
}

/* AuthenticateClientOkDSEsipa: the eIM relayed ES11 and hands the event over as a
 * ProfileDownloadTriggerRequest whose activation code names the SM-DP+ and the eventId. */
static rsp_err_t esipa_events(struct dl *d, struct rsp_slice asr, struct rsp_ipa_smds_events *out) {
  struct rsp_buf req;
  struct rsp_der_writer w;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  struct rsp_msg_activation_code ac;
  const char *why = NULL;
  rsp_buf_init(&req, RSP_IPA_ESIPA_MAX);
  rsp_der_writer_init(&w, &req);
  txid_and(d, &w, RSP_TAG_AUTHENTICATE_CLIENT_REQUEST_ESIPA, minimized(d, asr, ANSWER_AUTH));
  rsp_err_t rc =
      esipa(d, &w, RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_AUTHENTICATE_CLIENT_RESPONSE_ESIPA, &m);
  rsp_buf_free(&req);
  if (rc != RSP_OK) return rc;
  const struct rsp_msg_authenticate_client_response_esipa *r =
      m->u.authenticate_client_response_esipa;
  if (r->which == RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_ERROR_ESIPA)
    return refused(d, r->u.authenticate_client_error_esipa);
  if (r->which != RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_OK_DS_ESIPA) {
    rsp_log(RSP_LOG_WARN, "ipa", "the eIM answered the SM-DS retrieval like an SM-DP+");
    return RSP_E_STATE;
  }
  const struct rsp_msg_authenticate_client_ok_ds_esipa *ok = r->u.authenticate_client_ok_ds_esipa;
  if ((rc = check_echo(d, ok->transaction_id)) != RSP_OK) return rc;
  const struct rsp_msg_profile_download_data *pd =
      ok->profile_download_trigger ? ok->profile_download_trigger->profile_download_data : NULL;
  if (!pd) return RSP_OK; /* no event */
  if (pd->which != RSP_MSG_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE ||
      rsp_msg_activation_code_parse((const char *)pd->u.activation_code.p,
                                    pd->u.activation_code.len, &ac, &why) != RSP_OK) {
    rsp_log(RSP_LOG_WARN, "ipa", "the eIM's SM-DS event is no activation code: %s",
            why ? why : "another form");
    return RSP_E_STATE;
  }
  event_add(out, rsp_msg_slice(ac.matching_id, strlen(ac.matching_id)),
            rsp_msg_slice(ac.smdp_address, strlen(ac.smdp_address)));
  return RSP_OK;
}

/* GetEUICCChallenge .. initiateAuthentication at the SM-DS, AuthenticateServer, then the
 * server's authenticateClient gives the events. The card's session needs no cancel: it only
 * signed euiccSigned1 for the SM-DS, and the next AuthenticateServer replaces it. */
static rsp_err_t retrieve(struct dl *d, events_fn events, struct rsp_ipa_smds_events *out) {
  struct rsp_ipa *ipa = d->ipa;
  struct dl_auth ia = {0};
  memset(out, 0, sizeof *out);
  ipa->stats.smds_retrievals++;
  rsp_msg_json_doc_init(&d->doc);
  rsp_arena_init(&d->arena, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&d->card_resp, RSP_ES10_MAX_RESPONSE);
  rsp_err_t rc = rsp_es10_client_open(&ipa->es10);
  if (rc == RSP_OK) rc = start(d, &ia);
  if (rc == RSP_OK) {
    d->step = "AuthenticateServer";
    rc = authenticate_server(d, &ia, ia.matching_id);
  }
  if (rc == RSP_OK) {
    d->step = "authenticateClient";
    rc = events(d, card_answer(d), out);
  }
  if (rc != RSP_OK) {
    out->failed_step = d->step ? d->step : "open";
    rsp_log(RSP_LOG_WARN, "ipa", "SM-DS %s: event retrieval failed at %s: %s",
            d->p->smdp_address ? d->p->smdp_address : "(the eIM's)", out->failed_step,
            rsp_strerror(rc));
  } else {
    rsp_log(RSP_LOG_INFO, "ipa", "SM-DS %s: %zu event%s", d->p->smdp_address, out->n,
            out->n == 1 ? "" : "s");
  }
  rsp_es10_client_close(&ipa->es10);
  rsp_buf_free(&d->card_resp);
  rsp_arena_free(&d->arena);
  rsp_msg_json_doc_free(&d->doc);
  return rc;
}

rsp_err_t rsp_ipa_smds_events(struct rsp_ipa *ipa, const struct rsp_ipa_es9_ops *es9_ops,
                              void *es9_ctx, const char *smds_address,
                              struct rsp_ipa_smds_events *out) {
  struct rsp_ipa_download_params p = {.smdp_address = smds_address};
  struct dl d = {.ipa = ipa, .srv = &es9_server, .es9 = es9_ops, .es9_ctx = es9_ctx, .p = &p};
  if (!ipa || !es9_ops || !smds_address || !smds_address[0] || !out) return RSP_E_INVALID_ARG;
  return retrieve(&d, es11_events, out);
}

rsp_err_t rsp_ipa_smds_events_indirect(struct rsp_ipa *ipa, const char *smds_address,
                                       struct rsp_slice eim_transaction_id,
                                       struct rsp_ipa_smds_events *out) {
  struct rsp_ipa_download_params p = {.smdp_address = smds_address,
                                      .eim_transaction_id = eim_transaction_id};
  struct dl d = {.ipa = ipa, .srv = &esipa_server, .p = &p};
  if (!ipa || !ipa->esipa || !smds_address || !smds_address[0] || !out) return RSP_E_INVALID_ARG;
  return retrieve(&d, esipa_events, out);
}
