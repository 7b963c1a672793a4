/* The ASN.1 binding of ES9+ (SGP.22 §6.6): one HTTP POST to /gsma/rsp2/asn1 carries a
 * RemoteProfileProvisioningRequest ([2] CHOICE of initiateAuthenticationRequest BF39,
 * authenticateClientRequest BF3B, getBoundProfilePackageRequest BF3A, cancelSessionRequestEs9
 * BF41 and handleNotification BF3D) and is answered with a RemoteProfileProvisioningResponse
 * ([2] CHOICE of the functions' responses, each an Ok SEQUENCE or an error INTEGER).
 *
 * The functions are those of es9p.c and es9p_notify.c, on the JSON body structs. Each request
 * alternative becomes the body the JSON binding would have decoded, the card's messages as the
 * raw TLVs received, so every signature is still checked over the bytes the card sent. The answer
 * goes back the other way: an Ok SEQUENCE is written with the DER writer from the TLVs of the
 * JSON answer, unchanged, so serverSigned1, smdpSigned2 and the Bound Profile Package leave
 * exactly as they were signed; a Failed functionExecutionStatus becomes the function's error
 * INTEGER through the tables below (docs/smdp.md). Every tag is taken from the generated
 * descriptors of rsp/msg/asn1.h. */
#include <string.h>

#include "rsp/der/der.h"
#include "smdp_internal.h"

/* Components of the largest Ok SEQUENCE after its transactionId (InitiateAuthenticationOkEs9). */
#define OK_TLV_MAX 4

/* The error INTEGERs' named values (SGP.22 RSPDefinitions), shortened. */
#define IA_ERR(x) RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_INITIATE_AUTHENTICATION_ERROR_##x
#define AC_ERR(x) RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ES9_AUTHENTICATE_CLIENT_ERROR_##x
#define GB_ERR(x) RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_GET_BOUND_PROFILE_PACKAGE_ERROR_##x
#define CS_ERR(x) RSP_MSG_CANCEL_SESSION_RESPONSE_ES9_CANCEL_SESSION_ERROR_##x
/* SGP.22 names no undefinedError in initiateAuthenticationError; 127 is the value every other ES9+
 * error INTEGER gives it, and SGP.32's initiateAuthenticationErrorEsipa names it. */
#define IA_UNDEFINED                                                                               \
  RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_ERROR_ESIPA_UNDEFINED_ERROR

/* A Failed statusCodeData and the error value that stands for it; reason NULL matches any. The
 * first matching row wins, so a specific reason comes before its subject's catch-all. */
struct err_code {
  const char *subject, *reason;
  int64_t value;
};

static const struct err_code ia_errors[] = {
    {RSP_SMDP_SUBJECT_SMDP_ADDRESS, NULL, IA_ERR(INVALID_DP_ADDRESS)},
    {RSP_SMDP_SUBJECT_SECURITY_CONFIGURATION, NULL, IA_ERR(CI_PK_NOT_SUPPORTED)},
};

static const struct err_code ac_errors[] = {
    {RSP_SMDP_SUBJECT_TRANSACTION_ID, NULL, AC_ERR(INVALID_TRANSACTION_ID)},
    {RSP_SMDP_SUBJECT_EUM_CERT, RSP_SMDP_REASON_EXPIRED, AC_ERR(EUM_CERTIFICATE_EXPIRED)},
    {RSP_SMDP_SUBJECT_EUM_CERT, NULL, AC_ERR(EUM_CERTIFICATE_INVALID)},
    {RSP_SMDP_SUBJECT_EUICC_CERT, RSP_SMDP_REASON_EXPIRED, AC_ERR(EUICC_CERTIFICATE_EXPIRED)},
    {RSP_SMDP_SUBJECT_EUICC_CERT, NULL, AC_ERR(EUICC_CERTIFICATE_INVALID)},
    /* an EID outside the EUM's range makes the eUICC certificate invalid */
    {RSP_SMDP_SUBJECT_EID_RANGE, NULL, AC_ERR(EUICC_CERTIFICATE_INVALID)},
    {RSP_SMDP_SUBJECT_CI_PK, NULL, AC_ERR(CI_PK_UNKNOWN)},
    {RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED, AC_ERR(EUICC_SIGNATURE_INVALID)},
    {RSP_SMDP_SUBJECT_MATCHING_ID, NULL, AC_ERR(MATCHING_ID_REFUSED)},
    {RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_REFUSED, AC_ERR(EID_MISMATCH)},
    {RSP_SMDP_SUBJECT_EID, RSP_SMDP_REASON_UNKNOWN, AC_ERR(NO_ELIGIBLE_PROFILE)},
    /* the order the activation code names is over (expired, or its codes are spent) */
    {RSP_SMDP_SUBJECT_DOWNLOAD_ORDER, NULL, AC_ERR(MATCHING_ID_REFUSED)},
};

static const struct err_code gb_errors[] = {
    {RSP_SMDP_SUBJECT_TRANSACTION_ID, NULL, GB_ERR(INVALID_TRANSACTION_ID)},
    {RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED, GB_ERR(EUICC_SIGNATURE_INVALID)},
    {RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_MISSING,
     GB_ERR(CONFIRMATION_CODE_MISSING)},
    {RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_REFUSED,
     GB_ERR(CONFIRMATION_CODE_REFUSED)},
    {RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_RETRIES_EXCEEDED,
     GB_ERR(CONFIRMATION_CODE_RETRIES_EXCEEDED)},
    {RSP_SMDP_SUBJECT_DOWNLOAD_ORDER, RSP_SMDP_REASON_TTL_EXPIRED, GB_ERR(DOWNLOAD_ORDER_EXPIRED)},
    {RSP_SMDP_SUBJECT_DOWNLOAD_ORDER, RSP_SMDP_REASON_RETRIES_EXCEEDED,
     GB_ERR(CONFIRMATION_CODE_RETRIES_EXCEEDED)},
    /* the order went on without this session (downloaded by another one, cancelled) */
    {RSP_SMDP_SUBJECT_MATCHING_ID, NULL, GB_ERR(BPP_REBINDING_REFUSED)},
};

static const struct err_code cs_errors[] = {
    {RSP_SMDP_SUBJECT_TRANSACTION_ID, NULL, CS_ERR(INVALID_TRANSACTION_ID)},
    {RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED, CS_ERR(EUICC_SIGNATURE_INVALID)},
};

/* The components of an Ok SEQUENCE: transactionId, then the complete TLVs of the others in order
 * (the JSON answer carries them whole: serverSignature1 is 5F37 40 <r||s>, the ASN.1 component
 * [APPLICATION 55] OCTET STRING of the same 64 bytes). */
struct ok_parts {
  struct rsp_slice txid;
  struct rsp_slice tlv[OK_TLV_MAX];
  size_t n;
};

typedef rsp_err_t (*request_fn)(const struct rsp_msg_remote_profile_provisioning_request *rq,
                                struct rsp_msg_json_doc *mem, void *q,
                                struct rsp__smdp_refusal *ref);
typedef rsp_err_t (*run_fn)(struct rsp_smdp_service *svc, const void *q,
                            struct rsp_msg_json_doc *mem, void *r);

/* One ES9+ function of the binding. */
struct asn1_func {
  const char *name;
  int req_alt;  /* RemoteProfileProvisioningRequest alternative */
  int resp_alt; /* RemoteProfileProvisioningResponse alternative; NONE: no body (HTTP 204) */
  int ok_alt, error_alt; /* alternatives of the function's response CHOICE */
  size_t req_size, resp_size;
  request_fn request; /* the request alternative as the JSON body struct */
  run_fn run;         /* the typed function */
  void (*ok)(const void *resp, struct ok_parts *p);
  const struct err_code *errors;
  size_t nerrors;
  int64_t undefined; /* undefinedError */
};

/* ---- requests -------------------------------------------------------------------------------- */

static rsp_err_t ia_request(const struct rsp_msg_remote_profile_provisioning_request *rq,
                            struct rsp_msg_json_doc *mem, void *vq, struct rsp__smdp_refusal *ref) {
  const struct rsp_msg_initiate_authentication_request *r = rq->u.initiate_authentication_request;
  struct rsp_es9p_json_initiate_authentication_req *q = vq;
  char *address;
  q->euicc_challenge = r->euicc_challenge;
  q->euicc_info1 = r->euicc_info1->raw;
  /* the JSON binding refuses a longer smdpAddress the same way (8.8.1 / 2.1) */
  if (r->smdp_address.len > RSP_SMDP_ADDRESS_MAX) {
    rsp__smdp_refuse(ref, RSP_SMDP_SUBJECT_SMDP_ADDRESS, RSP_SMDP_REASON_FORMAT,
                     "smdpAddress longer than %d bytes", RSP_SMDP_ADDRESS_MAX);
    return RSP_OK;
  }
  /* a UTF8String without NUL (the codec checks it), handed on as a C string */
  if (!(address = rsp_arena_alloc(&mem->arena, r->smdp_address.len + 1))) return RSP_E_NOMEM;
  if (r->smdp_address.len) memcpy(address, r->smdp_address.p, r->smdp_address.len);
  q->smdp_address = address;
  return RSP_OK;
}

static rsp_err_t ac_request(const struct rsp_msg_remote_profile_provisioning_request *rq,
                            struct rsp_msg_json_doc *mem, void *vq, struct rsp__smdp_refusal *ref) {
  const struct rsp_msg_authenticate_client_request *r = rq->u.authenticate_client_request;
  struct rsp_es9p_json_authenticate_client_req *q = vq;
  (void)mem;
  (void)ref;
  q->transaction_id = r->transaction_id;
  q->authenticate_server_response = r->authenticate_server_response->raw; /* BF38 */
  return RSP_OK;
}

static rsp_err_t gb_request(const struct rsp_msg_remote_profile_provisioning_request *rq,
                            struct rsp_msg_json_doc *mem, void *vq, struct rsp__smdp_refusal *ref) {
  const struct rsp_msg_get_bound_profile_package_request *r =
      rq->u.get_bound_profile_package_request;
  struct rsp_es9p_json_get_bound_profile_package_req *q = vq;
  (void)mem;
  (void)ref;
  q->transaction_id = r->transaction_id;
  q->prepare_download_response = r->prepare_download_response->raw; /* BF21 */
  return RSP_OK;
}

/* The automatic tag [1] of cancelSessionResponse replaces the [65] of CancelSessionResponse
 * (notes 8.3): the function takes the card's answer as ES10b gave it, BF41 around the same
 * content. */
static rsp_err_t cs_request(const struct rsp_msg_remote_profile_provisioning_request *rq,
                            struct rsp_msg_json_doc *mem, void *vq, struct rsp__smdp_refusal *ref) {
  const struct rsp_msg_cancel_session_request_es9 *r = rq->u.cancel_session_request_es9;
  struct rsp_es9p_json_cancel_session_req *q = vq;
  struct rsp_der_tlv t;
  (void)ref;
  q->transaction_id = r->transaction_id;
  rsp_err_t rc =
      rsp_der_parse_one(r->cancel_session_response->raw.p, r->cancel_session_response->raw.len, &t);
  if (rc == RSP_OK)
    rc = rsp__smdp_mem_tlv(mem, rsp_msgt_cancel_session_response.tag, t.val, t.len,
                           &q->cancel_session_response);
  return rc;
}

/* pendingNotification [0] wraps the PendingNotification CHOICE (a tag on a CHOICE is explicit):
 * the function takes the alternative inside, BF37 or 30, as the JSON binding carries it. */
static rsp_err_t hn_request(const struct rsp_msg_remote_profile_provisioning_request *rq,
                            struct rsp_msg_json_doc *mem, void *vq, struct rsp__smdp_refusal *ref) {
  const struct rsp_msg_handle_notification *r = rq->u.handle_notification;
  struct rsp_es9p_json_handle_notification_req *q = vq;
  struct rsp_der_tlv t;
  (void)mem;
  (void)ref;
  rsp_err_t rc =
      rsp_der_parse_one(r->pending_notification->raw.p, r->pending_notification->raw.len, &t);
  if (rc == RSP_OK) q->pending_notification = rsp_msg_slice(t.val, t.len);
  return rc;
}

/* ---- the typed functions --------------------------------------------------------------------- */

static rsp_err_t ia_run(struct rsp_smdp_service *s, const void *q, struct rsp_msg_json_doc *m,
                        void *r) {
  return rsp_smdp_es9p_initiate_authentication(s, q, m, r);
}
static rsp_err_t ac_run(struct rsp_smdp_service *s, const void *q, struct rsp_msg_json_doc *m,
                        void *r) {
  return rsp_smdp_es9p_authenticate_client(s, q, m, r);
}
static rsp_err_t gb_run(struct rsp_smdp_service *s, const void *q, struct rsp_msg_json_doc *m,
                        void *r) {
  return rsp_smdp_es9p_get_bound_profile_package(s, q, m, r);
}
static rsp_err_t cs_run(struct rsp_smdp_service *s, const void *q, struct rsp_msg_json_doc *m,
                        void *r) {
  return rsp_smdp_es9p_cancel_session(s, q, m, r);
}
static rsp_err_t hn_run(struct rsp_smdp_service *s, const void *q, struct rsp_msg_json_doc *m,
                        void *r) {
  return rsp_smdp_es9p_handle_notification(s, q, m, r);
}

/* ---- the Ok SEQUENCEs from the JSON answers -------------------------------------------------- */

static void ia_ok(const void *vr, struct ok_parts *p) {
  const struct rsp_es9p_json_initiate_authentication_resp *r = vr;
  *p = (struct ok_parts){r->transaction_id,
                         {r->server_signed1, r->server_signature1, r->euicc_ci_pk_id_to_be_used,
                          r->server_certificate},
                         4};
}

static void ac_ok(const void *vr, struct ok_parts *p) {
  const struct rsp_es9p_json_authenticate_client_resp *r = vr;
  *p = (struct ok_parts){
      r->transaction_id,
      {r->profile_metadata, r->smdp_signed2, r->smdp_signature2, r->smdp_certificate},
      4};
}

static void gb_ok(const void *vr, struct ok_parts *p) {
  const struct rsp_es9p_json_get_bound_profile_package_resp *r = vr;
  *p = (struct ok_parts){r->transaction_id, {r->bound_profile_package}, 1};
}

/* CancelSessionOk has no components: the transactionId of the JSON answer has no place in it. */
static void cs_ok(const void *vr, struct ok_parts *p) {
  (void)vr;
  memset(p, 0, sizeof *p);
}

#define ERRORS(t) .errors = (t), .nerrors = sizeof(t) / sizeof((t)[0])

static const struct asn1_func funcs[] = {
    {.name = "initiateAuthentication",
     .req_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_REQUEST_INITIATE_AUTHENTICATION_REQUEST,
     .resp_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_INITIATE_AUTHENTICATION_RESPONSE,
     .ok_alt = RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_INITIATE_AUTHENTICATION_OK,
     .error_alt = RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_INITIATE_AUTHENTICATION_ERROR,
     .req_size = sizeof(struct rsp_es9p_json_initiate_authentication_req),
     .resp_size = sizeof(struct rsp_es9p_json_initiate_authentication_resp),
     .request = ia_request,
     .run = ia_run,
     .ok = ia_ok,
     ERRORS(ia_errors),
     .undefined = IA_UNDEFINED},
    {.name = "authenticateClient",
     .req_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_REQUEST_AUTHENTICATE_CLIENT_REQUEST,
     .resp_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_AUTHENTICATE_CLIENT_RESPONSE_ES9,
     .ok_alt = RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ES9_AUTHENTICATE_CLIENT_OK,
     .error_alt = RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ES9_AUTHENTICATE_CLIENT_ERROR,
     .req_size = sizeof(struct rsp_es9p_json_authenticate_client_req),
     .resp_size = sizeof(struct rsp_es9p_json_authenticate_client_resp),
     .request = ac_request,
     .run = ac_run,
     .ok = ac_ok,
     ERRORS(ac_errors),
     .undefined = AC_ERR(UNDEFINED_ERROR)},
    {.name = "getBoundProfilePackage",
     .req_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_REQUEST_GET_BOUND_PROFILE_PACKAGE_REQUEST,
     .resp_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_GET_BOUND_PROFILE_PACKAGE_RESPONSE,
     .ok_alt = RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_GET_BOUND_PROFILE_PACKAGE_OK,
     .error_alt = RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_GET_BOUND_PROFILE_PACKAGE_ERROR,
     .req_size = sizeof(struct rsp_es9p_json_get_bound_profile_package_req),
     .resp_size = sizeof(struct rsp_es9p_json_get_bound_profile_package_resp),
     .request = gb_request,
     .run = gb_run,
     .ok = gb_ok,
     ERRORS(gb_errors),
     .undefined = GB_ERR(UNDEFINED_ERROR)},
    {.name = "cancelSession",
     .req_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_REQUEST_CANCEL_SESSION_REQUEST_ES9,
     .resp_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_CANCEL_SESSION_RESPONSE_ES9,
     .ok_alt = RSP_MSG_CANCEL_SESSION_RESPONSE_ES9_CANCEL_SESSION_OK,
     .error_alt = RSP_MSG_CANCEL_SESSION_RESPONSE_ES9_CANCEL_SESSION_ERROR,
     .req_size = sizeof(struct rsp_es9p_json_cancel_session_req),
     .resp_size = sizeof(struct rsp_es9p_json_cancel_session_resp),
     .request = cs_request,
     .run = cs_run,
     .ok = cs_ok,
     ERRORS(cs_errors),
     .undefined = CS_ERR(UNDEFINED_ERROR)},
    /* RemoteProfileProvisioningResponse has no alternative for handleNotification */
    {.name = "handleNotification",
     .req_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_REQUEST_HANDLE_NOTIFICATION,
     .resp_alt = RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_NONE,
     .req_size = sizeof(struct rsp_es9p_json_handle_notification_req),
     .resp_size = sizeof(struct rsp_es9p_json_handle_notification_resp),
     .request = hn_request,
     .run = hn_run},
};

static const struct asn1_func *func_find(int req_alt) {
  for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
    if (funcs[i].req_alt == req_alt) return &funcs[i];
  return NULL;
}

/* ---- answers --------------------------------------------------------------------------------- */

/* The Ok SEQUENCE (field `okf` of the function's response CHOICE): transactionId first, then each
 * TLV, which must carry the tag of its component. A mismatch is a fault of ours and never sent. */
static rsp_err_t put_ok(struct rsp_der_writer *w, const struct rsp_msg_field *okf,
                        const struct ok_parts *p) {
  const struct rsp_msg_type *t = okf->type;
  struct rsp_der_tlv tlv;
  if (t->nfields != (p->n ? p->n + 1 : 0) ||
      (t->nfields && (t->fields[0].kind != RSP_MSG_OCTETS || !p->txid.p)))
    return RSP_E_INTERNAL;
  rsp_der_begin(w, okf->tag);
  for (uint16_t i = 0; i < t->nfields; i++) {
    const struct rsp_msg_field *f = &t->fields[i];
    if (i == 0) {
      rsp_der_put_octets(w, f->tag, p->txid.p, p->txid.len);
      continue;
    }
    if (rsp_der_parse_one(p->tlv[i - 1].p, p->tlv[i - 1].len, &tlv) != RSP_OK ||
        tlv.tag != f->tag) {
      rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "%s.%s: not one element tagged %X", t->name, f->name,
              (unsigned)f->tag);
      return RSP_E_INTERNAL;
    }
    rsp_der_put_raw(w, tlv.raw, tlv.raw_len);
  }
  rsp_der_end(w);
  return RSP_OK;
}

/* RemoteProfileProvisioningResponse with the function's response CHOICE (its tag explicit, as on
 * any CHOICE): the Ok SEQUENCE when `ok` is given, else the error INTEGER. */
static rsp_err_t write_answer(const struct asn1_func *fn, const struct ok_parts *ok, int64_t error,
                              struct rsp_buf *out) {
  const struct rsp_msg_type *top = &rsp_msgt_remote_profile_provisioning_response;
  const struct rsp_msg_field *alt = &top->fields[fn->resp_alt - 1];
  struct rsp_der_writer w;
  size_t start = out->len;
  rsp_err_t rc = RSP_OK;
  rsp_der_writer_init(&w, out);
  rsp_der_begin(&w, top->tag);
  rsp_der_begin(&w, alt->tag);
  if (ok)
    rc = put_ok(&w, &alt->type->fields[fn->ok_alt - 1], ok);
  else
    rsp_der_put_int64(&w, alt->type->fields[fn->error_alt - 1].tag, error);
  rsp_der_end(&w);
  rsp_der_end(&w);
  if (rc == RSP_OK) rc = rsp_der_writer_finish(&w);
  if (rc != RSP_OK) out->len = start;
  return rc;
}

static int64_t error_value(const struct asn1_func *fn, const struct rsp_msg_json_exec_status *st) {
  const struct rsp_msg_json_status_code_data *d = st->status_code_data;
  for (size_t i = 0; d && d->subject_code && d->reason_code && i < fn->nerrors; i++) {
    const struct err_code *e = &fn->errors[i];
    if (strcmp(e->subject, d->subject_code) == 0 &&
        (!e->reason || strcmp(e->reason, d->reason_code) == 0))
      return e->value;
  }
  return fn->undefined;
}

static rsp_err_t answer(const struct asn1_func *fn, const void *resp, int *http_status,
                        struct rsp_buf *out) {
  const struct rsp_msg_json_exec_status *st =
      &((const struct rsp_msg_json_resp_header *)resp)->function_execution_status;
  const struct rsp_msg_json_status_code_data *d = st->status_code_data;
  struct ok_parts parts;
  bool ok = rsp_msg_json_status_ok(resp);
  *http_status = 200;
  if (fn->resp_alt == RSP_MSG_REMOTE_PROFILE_PROVISIONING_RESPONSE_NONE) {
    /* the peer learns nothing of a refused notification; it is kept (unverified) all the same */
    if (!ok)
      rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "ES9+ ASN.1 %s: Failed %s/%s, answered 204", fn->name,
              d ? d->subject_code : "-", d ? d->reason_code : "-");
    *http_status = 204;
    return RSP_OK;
  }
  if (!ok) {
    int64_t v = error_value(fn, st);
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "ES9+ ASN.1 %s: Failed %s/%s, answered error %lld",
            fn->name, d ? d->subject_code : "-", d ? d->reason_code : "-", (long long)v);
    return write_answer(fn, NULL, v, out);
  }
  fn->ok(resp, &parts);
  return write_answer(fn, &parts, 0, out);
}

/* One function: the request as its JSON body, the typed function (or the binding's own refusal),
 * the answer. Everything is allocated in mem. */
static rsp_err_t serve(struct rsp_smdp_service *svc, const struct asn1_func *fn,
                       const struct rsp_msg_remote_profile_provisioning_request *rq,
                       struct rsp_msg_json_doc *mem, int *http_status, struct rsp_buf *out) {
  struct rsp__smdp_refusal ref;
  void *q = rsp_arena_alloc(&mem->arena, fn->req_size);
  void *resp = rsp_arena_alloc(&mem->arena, fn->resp_size);
  memset(&ref, 0, sizeof ref);
  if (!q || !resp) return RSP_E_NOMEM;
  rsp_err_t rc = fn->request(rq, mem, q, &ref);
  if (rc == RSP_OK)
    rc = ref.set ? rsp__smdp_header_set(resp, &ref, mem) : fn->run(svc, q, mem, resp);
  if (rc == RSP_OK) rc = answer(fn, resp, http_status, out);
  return rc;
}

rsp_err_t rsp_smdp_service_handle_asn1(struct rsp_smdp_service *svc, const uint8_t *der, size_t len,
                                       int *http_status, struct rsp_buf *response) {
  struct rsp_msg_json_doc doc;
  struct rsp_msg_diag diag;
  struct rsp_msg_remote_profile_provisioning_request *rq = NULL;
  const struct asn1_func *fn = NULL;
  if (!svc || !http_status || !response || (!der && len)) return RSP_E_INVALID_ARG;
  rsp_msg_json_doc_init(&doc);
  *http_status = 400;
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_remote_profile_provisioning_request, der, len, &doc.arena,
                                (void **)&rq, &diag);
  if (rc == RSP_E_NOMEM) goto out;
  if (rc == RSP_OK) fn = func_find(rq->which);
  if (!fn) {
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "ES9+ ASN.1: bad request: %s%s%s",
            rc == RSP_OK ? "an alternative this SM-DP+ does not serve" : rsp_strerror(rc),
            diag.path[0] ? " at " : "", diag.path);
    rc = RSP_OK;
    goto out;
  }
  rc = serve(svc, fn, rq, &doc, http_status, response);
out:
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "ES9+ ASN.1 %s: %s", fn ? fn->name : "request",
            rsp_strerror(rc));
    *http_status = 500;
  }
  rsp_msg_json_doc_free(&doc);
  return rc;
}
