/* The IPA side of the ESipa JSON binding (SGP.32 §6.4.1, notes 2.3a): the IPA core speaks the
 * ASN.1 messages (EsipaMessageFromIpaToEim / EsipaMessageFromEimToIpa), and a transport that talks
 * JSON to the eIM converts each of them here. A request becomes its function's JSON body (the
 * TLVs it carries go as they are, base64); the eIM's JSON answer becomes the ASN.1 answer the
 * ASN.1 binding would have given, each TLV decoded with the same strict codec, so the IPA core
 * cannot tell the bindings apart. Both forms of "no package" (Executed-Success with
 * eimPackageError, or Failed with its status code) and a package next to eimPackageError 0 are
 * accepted (notes 2.3a). */
#include <string.h>

#include "rsp/der/der.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/json.h"
#include "rsp/msg/signed.h"

static rsp_err_t write_json(const struct rsp_msg_json_type *t, const void *body,
                            struct rsp_buf *json) {
  return rsp_msg_json_encode(t, body, json, NULL);
}

static rsp_err_t get_eim_package_req(const struct rsp_msg_get_eim_package_request *g,
                                     struct rsp_buf *json) {
  struct rsp_esipa_json_get_eim_package_req q = {
      .eid_value = g->eid_value, .state_change_cause = g->state_change_cause, .r_plmn = g->r_plmn};
  if (g->notify_state_change) q.notify_state_change = (struct rsp_msg_bool){true, true};
  return write_json(&rsp_esipa_json_get_eim_package_req_type, &q, json);
}

static rsp_err_t provide_req(const struct rsp_msg_provide_eim_package_result *p,
                             struct rsp_buf *json) {
  struct rsp_esipa_json_provide_eim_package_result_req q = {
      .eid_value = p->eid_value, .eim_package_result = p->eim_package_result->raw};
  return write_json(&rsp_esipa_json_provide_eim_package_result_req_type, &q, json);
}

/* pendingNotification is the PendingNotification element itself: in the ASN.1 message it sits in
 * an explicit [0], so it is encoded again on its own (the codec gives back the bytes received). */
static rsp_err_t notification_req(const struct rsp_msg_handle_notification_esipa *h,
                                  struct rsp_buf *json) {
  struct rsp_esipa_json_handle_notification_req q = {0};
  struct rsp_buf inner;
  rsp_err_t rc = RSP_OK;
  rsp_buf_init(&inner, RSP_MSG_JSON_MAX_BODY);
  if (h->which == RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PENDING_NOTIFICATION) {
    rc = rsp_msg_encode(&rsp_msgt_sgp32_pending_notification, h->u.pending_notification, &inner,
                        NULL);
    q.pending_notification = rsp_msg_slice(inner.data, inner.len);
  } else if (h->which == RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PROVIDE_EIM_PACKAGE_RESULT) {
    q.provide_eim_package_result = h->u.provide_eim_package_result->raw;
  } else {
    rc = RSP_E_UNSUPPORTED;
  }
  if (rc == RSP_OK) rc = write_json(&rsp_esipa_json_handle_notification_req_type, &q, json);
  rsp_buf_free(&inner);
  return rc;
}

static rsp_err_t initiate_req(const struct rsp_msg_initiate_authentication_request_esipa *r,
                              struct rsp_arena *a, struct rsp_buf *json) {
  struct rsp_esipa_json_initiate_authentication_req q = {
      .euicc_challenge = r->euicc_challenge, .eim_transaction_id = r->eim_transaction_id};
  if (r->euicc_info1) q.euicc_info1 = r->euicc_info1->raw;
  if (r->smdp_address.p) {
    char *s = rsp_arena_alloc(a, r->smdp_address.len + 1);
    if (!s) return RSP_E_NOMEM;
    memcpy(s, r->smdp_address.p, r->smdp_address.len);
    s[r->smdp_address.len] = '\0';
    q.smdp_address = s;
  }
  return write_json(&rsp_esipa_json_initiate_authentication_req_type, &q, json);
}

static rsp_err_t download_req(const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                              struct rsp_buf *json) {
  switch (m->which) {
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA: {
    const struct rsp_msg_authenticate_client_request_esipa *r =
        m->u.authenticate_client_request_esipa;
    struct rsp_esipa_json_authenticate_client_req q = {.transaction_id = r->transaction_id,
                                                       .authenticate_server_response =
                                                           r->authenticate_server_response->raw};
    return write_json(&rsp_esipa_json_authenticate_client_req_type, &q, json);
  }
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA: {
    const struct rsp_msg_get_bound_profile_package_request_esipa *r =
        m->u.get_bound_profile_package_request_esipa;
    struct rsp_esipa_json_get_bound_profile_package_req q = {.transaction_id = r->transaction_id,
                                                             .prepare_download_response =
                                                                 r->prepare_download_response->raw};
    return write_json(&rsp_esipa_json_get_bound_profile_package_req_type, &q, json);
  }
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA: {
    const struct rsp_msg_cancel_session_request_esipa *r = m->u.cancel_session_request_esipa;
    struct rsp_esipa_json_cancel_session_req q = {.transaction_id = r->transaction_id,
                                                  .cancel_session_response =
                                                      r->cancel_session_response->raw};
    return write_json(&rsp_esipa_json_cancel_session_req_type, &q, json);
  }
  default:
    return RSP_E_UNSUPPORTED;
  }
}

static const char *function_of(int which) {
  switch (which) {
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST:
    return "getEimPackage";
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT:
    return "provideEimPackageResult";
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA:
    return "handleNotification";
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA:
    return "initiateAuthentication";
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA:
    return "authenticateClient";
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA:
    return "getBoundProfilePackage";
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA:
    return "cancelSession";
  default:
    return NULL; /* transferEimPackageResponse: the eIM-push mode, not this binding's client */
  }
}

rsp_err_t rsp_esipa_json_from_ipa(const uint8_t *der, size_t len, const char **function,
                                  struct rsp_buf *json) {
  struct rsp_arena a;
  struct rsp_msg_esipa_message_from_ipa_to_eim *m = NULL;
  if (!der || !function || !json) return RSP_E_INVALID_ARG;
  *function = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  size_t start = json->len;
  rsp_err_t rc =
      rsp_msg_decode(&rsp_msgt_esipa_message_from_ipa_to_eim, der, len, &a, (void **)&m, NULL);
  if (rc == RSP_OK && !(*function = function_of(m->which))) rc = RSP_E_UNSUPPORTED;
  if (rc == RSP_OK) {
    switch (m->which) {
    case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST:
      rc = get_eim_package_req(m->u.get_eim_package_request, json);
      break;
    case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT:
      rc = provide_req(m->u.provide_eim_package_result, json);
      break;
    case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA:
      rc = notification_req(m->u.handle_notification_esipa, json);
      break;
    case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA:
      rc = initiate_req(m->u.initiate_authentication_request_esipa, &a, json);
      break;
    default:
      rc = download_req(m, json);
    }
  }
  if (rc != RSP_OK) {
    json->len = start;
    *function = NULL;
  }
  rsp_arena_free(&a);
  return rc;
}

/* ---- the eIM's answers --------------------------------------------------------------------- */

/* One TLV of the answer decoded as `type` (NULL when absent). */
static rsp_err_t tlv(struct rsp_msg_json_doc *doc, const struct rsp_msg_type *type,
                     struct rsp_slice s, void **out) {
  *out = NULL;
  if (!s.p) return RSP_OK;
  return rsp_msg_decode(type, s.p, s.len, &doc->arena, out, NULL);
}

/* The value of a complete TLV the JSON carries (serverSignature1 5F37..., hashCc 04...). */
static rsp_err_t value_of(struct rsp_slice s, struct rsp_slice *out) {
  struct rsp_der_tlv t;
  *out = rsp_msg_slice(NULL, 0);
  if (!s.p) return RSP_OK;
  rsp_err_t rc = rsp_der_parse_one(s.p, s.len, &t);
  if (rc == RSP_OK) *out = rsp_msg_slice(t.val, t.len);
  return rc;
}

static rsp_err_t get_eim_package_resp(struct rsp_msg_json_doc *doc, const char *body, size_t len,
                                      struct rsp_msg_esipa_message_from_eim_to_ipa *m) {
  struct rsp_esipa_json_get_eim_package_resp r;
  struct rsp_msg_get_eim_package_response *g = rsp_arena_alloc(&doc->arena, sizeof *g);
  if (!g) return RSP_E_NOMEM;
  memset(g, 0, sizeof *g);
  rsp_err_t rc =
      rsp_msg_json_decode(&rsp_esipa_json_get_eim_package_resp_type, body, len, doc, &r, NULL);
  if (rc != RSP_OK) return rc;
  int64_t error = rsp_esipa_json_eim_package_error(&r);
  if (error != 0) {
    g->which = RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR;
    g->u.eim_package_error = error;
  } else if (r.euicc_package_request.p) {
    g->which = RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EUICC_PACKAGE_REQUEST;
    rc = tlv(doc, &rsp_msgt_euicc_package_request, r.euicc_package_request,
             (void **)&g->u.euicc_package_request);
  } else if (r.ipa_euicc_data_request.p) {
    g->which = RSP_MSG_GET_EIM_PACKAGE_RESPONSE_IPA_EUICC_DATA_REQUEST;
    rc = tlv(doc, &rsp_msgt_ipa_euicc_data_request, r.ipa_euicc_data_request,
             (void **)&g->u.ipa_euicc_data_request);
  } else {
    g->which = RSP_MSG_GET_EIM_PACKAGE_RESPONSE_PROFILE_DOWNLOAD_TRIGGER_REQUEST;
    rc = tlv(doc, &rsp_msgt_profile_download_trigger_request, r.profile_download_trigger_request,
             (void **)&g->u.profile_download_trigger_request);
  }
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_EIM_PACKAGE_RESPONSE;
  m->u.get_eim_package_response = g;
  return rc;
}

static rsp_err_t provide_resp(struct rsp_msg_json_doc *doc, const char *body, size_t len,
                              struct rsp_msg_esipa_message_from_eim_to_ipa *m) {
  static struct rsp_msg_provide_eim_package_result_response_empty_response empty;
  struct rsp_esipa_json_provide_eim_package_result_resp r;
  struct rsp_msg_provide_eim_package_result_response *p = rsp_arena_alloc(&doc->arena, sizeof *p);
  if (!p) return RSP_E_NOMEM;
  memset(p, 0, sizeof *p);
  rsp_err_t rc = rsp_msg_json_decode(&rsp_esipa_json_provide_eim_package_result_resp_type, body,
                                     len, doc, &r, NULL);
  if (rc != RSP_OK) return rc;
  int64_t error = rsp_esipa_json_provide_result_error(&r);
  if (error != 0) {
    p->which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR;
    p->u.provide_eim_package_result_error = error;
  } else if (r.eim_acknowledgements.p) {
    p->which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EIM_ACKNOWLEDGEMENTS;
    rc = tlv(doc, &rsp_msgt_eim_acknowledgements, r.eim_acknowledgements,
             (void **)&p->u.eim_acknowledgements);
  } else {
    p->which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EMPTY_RESPONSE;
    p->u.empty_response = &empty;
  }
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE;
  m->u.provide_eim_package_result_response = p;
  return rc;
}

static rsp_err_t initiate_ok(struct rsp_msg_json_doc *doc,
                             const struct rsp_esipa_json_initiate_authentication_resp *r,
                             struct rsp_msg_initiate_authentication_ok_esipa *ok) {
  ok->transaction_id = r->transaction_id;
  ok->server_certificate = r->server_certificate;
  if (r->matching_id) ok->matching_id = rsp_msg_slice(r->matching_id, strlen(r->matching_id));
  rsp_err_t rc =
      tlv(doc, &rsp_msgt_server_signed1, r->server_signed1, (void **)&ok->server_signed1);
  if (rc == RSP_OK) rc = value_of(r->server_signature1, &ok->server_signature1);
  if (rc == RSP_OK)
    rc = value_of(r->euicc_ci_pk_identifier_to_be_used, &ok->euicc_ci_pk_identifier_to_be_used);
  if (rc == RSP_OK) rc = tlv(doc, &rsp_msgt_ctx_params1, r->ctx_params1, (void **)&ok->ctx_params1);
  return rc;
}

static rsp_err_t initiate_resp(struct rsp_msg_json_doc *doc, const char *body, size_t len,
                               struct rsp_msg_esipa_message_from_eim_to_ipa *m) {
  struct rsp_esipa_json_initiate_authentication_resp r;
  struct rsp_msg_initiate_authentication_response_esipa *x =
      rsp_arena_alloc(&doc->arena, sizeof *x);
  struct rsp_msg_initiate_authentication_ok_esipa *ok = rsp_arena_alloc(&doc->arena, sizeof *ok);
  if (!x || !ok) return RSP_E_NOMEM;
  memset(x, 0, sizeof *x);
  memset(ok, 0, sizeof *ok);
  rsp_err_t rc = rsp_msg_json_decode(&rsp_esipa_json_initiate_authentication_resp_type, body, len,
                                     doc, &r, NULL);
  if (rc != RSP_OK) return rc;
  int64_t error =
      rsp_esipa_json_download_error(RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION, &r.header);
  if (error != 0) {
    x->which = RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_ERROR_ESIPA;
    x->u.initiate_authentication_error_esipa = error;
  } else {
    x->which = RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_OK_ESIPA;
    x->u.initiate_authentication_ok_esipa = ok;
    rc = initiate_ok(doc, &r, ok);
  }
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_INITIATE_AUTHENTICATION_RESPONSE_ESIPA;
  m->u.initiate_authentication_response_esipa = x;
  return rc;
}

/* The DP case (smdpSigned2 present) or the DS case (transactionId, profileDownloadTrigger). */
static rsp_err_t authenticate_ok(struct rsp_msg_json_doc *doc,
                                 const struct rsp_esipa_json_authenticate_client_resp *r,
                                 struct rsp_msg_authenticate_client_response_esipa *x) {
  rsp_err_t rc;
  if (!r->smdp_signed2.p) {
    struct rsp_msg_authenticate_client_ok_ds_esipa *ds = rsp_arena_alloc(&doc->arena, sizeof *ds);
    if (!ds) return RSP_E_NOMEM;
    memset(ds, 0, sizeof *ds);
    ds->transaction_id = r->transaction_id;
    x->which = RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_OK_DS_ESIPA;
    x->u.authenticate_client_ok_ds_esipa = ds;
    return tlv(doc, &rsp_msgt_profile_download_trigger_request, r->profile_download_trigger,
               (void **)&ds->profile_download_trigger);
  }
  struct rsp_msg_authenticate_client_ok_dp_esipa *dp = rsp_arena_alloc(&doc->arena, sizeof *dp);
  if (!dp) return RSP_E_NOMEM;
  memset(dp, 0, sizeof *dp);
  dp->transaction_id = r->transaction_id;
  dp->smdp_certificate = r->smdp_certificate;
  x->which = RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_OK_DP_ESIPA;
  x->u.authenticate_client_ok_dp_esipa = dp;
  rc = tlv(doc, &rsp_msgt_sgp32_store_metadata_request, r->profile_metadata,
           (void **)&dp->profile_meta_data);
  if (rc == RSP_OK)
    rc = tlv(doc, &rsp_msgt_smdp_signed2, r->smdp_signed2, (void **)&dp->smdp_signed2);
  if (rc == RSP_OK) rc = value_of(r->smdp_signature2, &dp->smdp_signature2);
  if (rc == RSP_OK) rc = value_of(r->hash_cc, &dp->hash_cc);
  return rc;
}

static rsp_err_t authenticate_resp(struct rsp_msg_json_doc *doc, const char *body, size_t len,
                                   struct rsp_msg_esipa_message_from_eim_to_ipa *m) {
  struct rsp_esipa_json_authenticate_client_resp r;
  struct rsp_msg_authenticate_client_response_esipa *x = rsp_arena_alloc(&doc->arena, sizeof *x);
  if (!x) return RSP_E_NOMEM;
  memset(x, 0, sizeof *x);
  rsp_err_t rc =
      rsp_msg_json_decode(&rsp_esipa_json_authenticate_client_resp_type, body, len, doc, &r, NULL);
  if (rc != RSP_OK) return rc;
  int64_t error = rsp_esipa_json_download_error(RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT, &r.header);
  if (error != 0) {
    x->which = RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_ERROR_ESIPA;
    x->u.authenticate_client_error_esipa = error;
  } else {
    rc = authenticate_ok(doc, &r, x);
  }
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_AUTHENTICATE_CLIENT_RESPONSE_ESIPA;
  m->u.authenticate_client_response_esipa = x;
  return rc;
}

static rsp_err_t bpp_resp(struct rsp_msg_json_doc *doc, const char *body, size_t len,
                          struct rsp_msg_esipa_message_from_eim_to_ipa *m) {
  struct rsp_esipa_json_get_bound_profile_package_resp r;
  struct rsp_msg_get_bound_profile_package_response_esipa *x =
      rsp_arena_alloc(&doc->arena, sizeof *x);
  struct rsp_msg_get_bound_profile_package_ok_esipa *ok = rsp_arena_alloc(&doc->arena, sizeof *ok);
  if (!x || !ok) return RSP_E_NOMEM;
  memset(x, 0, sizeof *x);
  memset(ok, 0, sizeof *ok);
  rsp_err_t rc = rsp_msg_json_decode(&rsp_esipa_json_get_bound_profile_package_resp_type, body, len,
                                     doc, &r, NULL);
  if (rc != RSP_OK) return rc;
  int64_t error =
      rsp_esipa_json_download_error(RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE, &r.header);
  if (error != 0) {
    x->which =
        RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA_GET_BOUND_PROFILE_PACKAGE_ERROR_ESIPA;
    x->u.get_bound_profile_package_error_esipa = error;
  } else {
    x->which = RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA_GET_BOUND_PROFILE_PACKAGE_OK_ESIPA;
    x->u.get_bound_profile_package_ok_esipa = ok;
    ok->transaction_id = r.transaction_id;
    rc = tlv(doc, &rsp_msgt_bound_profile_package, r.bound_profile_package,
             (void **)&ok->bound_profile_package);
  }
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA;
  m->u.get_bound_profile_package_response_esipa = x;
  return rc;
}

static rsp_err_t cancel_resp(struct rsp_msg_json_doc *doc, const char *body, size_t len,
                             struct rsp_msg_esipa_message_from_eim_to_ipa *m) {
  static struct rsp_msg_sgp32_cancel_session_ok ok;
  struct rsp_esipa_json_cancel_session_resp r;
  struct rsp_msg_cancel_session_response_esipa *x = rsp_arena_alloc(&doc->arena, sizeof *x);
  if (!x) return RSP_E_NOMEM;
  memset(x, 0, sizeof *x);
  rsp_err_t rc =
      rsp_msg_json_decode(&rsp_esipa_json_cancel_session_resp_type, body, len, doc, &r, NULL);
  if (rc != RSP_OK) return rc;
  int64_t error = rsp_esipa_json_download_error(RSP_ESIPA_JSON_DL_CANCEL_SESSION, &r.header);
  if (error != 0) {
    x->which = RSP_MSG_CANCEL_SESSION_RESPONSE_ESIPA_CANCEL_SESSION_ERROR;
    x->u.cancel_session_error = error;
  } else {
    x->which = RSP_MSG_CANCEL_SESSION_RESPONSE_ESIPA_CANCEL_SESSION_OK;
    x->u.cancel_session_ok = &ok;
  }
  m->which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_CANCEL_SESSION_RESPONSE_ESIPA;
  m->u.cancel_session_response_esipa = x;
  return rc;
}

/* handleNotification: nothing to give back, but a Failed header is a refusal (the notification
 * stays on the card for the next poll). */
static rsp_err_t notification_resp(struct rsp_msg_json_doc *doc, const char *body, size_t len) {
  struct rsp_esipa_json_handle_notification_resp r;
  if (len == 0) return RSP_OK;
  rsp_err_t rc =
      rsp_msg_json_decode(&rsp_esipa_json_handle_notification_resp_type, body, len, doc, &r, NULL);
  if (rc == RSP_OK && !rsp_msg_json_status_ok(&r.header)) rc = RSP_E_STATE;
  return rc;
}

static const struct {
  const char *function;
  rsp_err_t (*answer)(struct rsp_msg_json_doc *doc, const char *body, size_t len,
                      struct rsp_msg_esipa_message_from_eim_to_ipa *m);
} answers[] = {
    {"getEimPackage", get_eim_package_resp},   {"provideEimPackageResult", provide_resp},
    {"initiateAuthentication", initiate_resp}, {"authenticateClient", authenticate_resp},
    {"getBoundProfilePackage", bpp_resp},      {"cancelSession", cancel_resp},
};

rsp_err_t rsp_esipa_json_to_ipa(const char *function, const char *body, size_t len,
                                struct rsp_buf *der) {
  struct rsp_msg_json_doc doc;
  struct rsp_msg_esipa_message_from_eim_to_ipa m;
  rsp_err_t rc = RSP_E_UNSUPPORTED;
  if (!function || (!body && len) || !der) return RSP_E_INVALID_ARG;
  if (len > RSP_MSG_JSON_MAX_BODY) return RSP_E_BUF_CAP;
  rsp_msg_json_doc_init(&doc);
  memset(&m, 0, sizeof m);
  size_t start = der->len;
  if (strcmp(function, "handleNotification") == 0) {
    rc = notification_resp(&doc, body ? body : "", len);
  } else {
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++)
      if (strcmp(function, answers[i].function) == 0)
        rc = answers[i].answer(&doc, body ? body : "", len, &m);
    if (rc == RSP_OK) rc = rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &m, der, NULL);
  }
  if (rc != RSP_OK) der->len = start;
  rsp_msg_json_doc_free(&doc);
  return rc;
}
