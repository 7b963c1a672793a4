/* eIM: the relay of indirect profile downloads (SGP.32 §3.2.3.2): ESipa requests of the IPA in,
 * ES9+ JSON to the SM-DP+, ESipa answers out; compact forms rebuilt first (rsp/msg/compact.h).
 * The rules chosen where the notes are unconfirmed: docs/adr/0006-compact-esipa-forms.md. */
#include "rsp/eim/relay.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/crypto/x509.h"
#include "rsp/msg/json.h"
#include "rsp/msg/tags.h"

#define OID_MAX 64
#define ICCID_LEN 10
#define OTPK_MAX 65
#define CHALLENGE_LEN 16
#define UNDEFINED_ERROR 127 /* undefinedError of every ESipa error INTEGER */

/* One indirect download the eIM relays, bound to the SM-DP+'s transactionId. */
struct session {
  bool used;
  uint64_t born; /* relay clock, to evict the oldest */
  uint8_t txid[16];
  size_t txid_len;
  char smdp_address[RSP_EIM_RELAY_ADDRESS_MAX + 1];   /* where ES9+ goes */
  char server_address[RSP_EIM_RELAY_ADDRESS_MAX + 1]; /* serverSigned1.serverAddress */
  uint8_t server_challenge[CHALLENGE_LEN];
  uint8_t smdp_oid[OID_MAX]; /* registeredID of CERT.DPauth */
  size_t smdp_oid_len;
  uint8_t iccid[ICCID_LEN]; /* profileMetadata.iccid */
  bool has_iccid;
  uint8_t bpp_otpk[OTPK_MAX]; /* SmdpSigned2.bppEuiccOtpk */
  size_t bpp_otpk_len;
};

struct rsp_eim_relay {
  pthread_mutex_t mu; /* one request at a time: the sessions and the ES9+ port are shared */
  struct rsp_eim_relay_options o;
  struct session *s;
  size_t cap;
  uint64_t clock;
  struct rsp_eim_relay_stats stats;
};

/* ---- ESipa error values for ES9+ refusals (SGP.22 §5.6 codes, as the SM-DP+'s ASN.1 binding
 * maps them: docs/smdp.md) ----------------------------------------------------------------------
 */

enum relay_func { F_INITIATE, F_AUTHENTICATE, F_BPP, F_CANCEL };

struct code_map {
  enum relay_func func;
  const char *subject, *reason; /* reason NULL: any */
  int64_t value;
};

static const struct code_map CODES[] = {
    {F_INITIATE, "8.8.1", NULL, 1},       /* invalidDpAddress */
    {F_INITIATE, "8.8.3", NULL, 2},       /* euiccVersionNotSupportedByDp */
    {F_INITIATE, "8.8.2", NULL, 3},       /* ciPKIdNotSupported */
    {F_INITIATE, "8.8.4", NULL, 3},       /* ciPKIdNotSupported */
    {F_AUTHENTICATE, "8.10.1", NULL, 10}, /* invalidTransactionId */
    {F_AUTHENTICATE, "8.1.2", "6.3", 2},  /* eumCertificateExpired */
    {F_AUTHENTICATE, "8.1.2", NULL, 1},   /* eumCertificateInvalid */
    {F_AUTHENTICATE, "8.1.3", "6.3", 4},  /* euiccCertificateExpired */
    {F_AUTHENTICATE, "8.1.3", NULL, 3},   /* euiccCertificateInvalid */
    {F_AUTHENTICATE, "8.1.4", NULL, 3},   /* EID outside the EUM's range */
    {F_AUTHENTICATE, "8.11.1", NULL, 9},  /* ciPKUnknown */
    {F_AUTHENTICATE, "8.1", "6.1", 5},    /* euiccSignatureInvalid */
    {F_AUTHENTICATE, "8.2.6", NULL, 6},   /* matchingIdRefused */
    {F_AUTHENTICATE, "8.1.1", "3.8", 7},  /* eidMismatch */
    {F_AUTHENTICATE, "8.1.1", "3.9", 8},  /* noEligibleProfile */
    {F_AUTHENTICATE, "8.8.5", NULL, 6},   /* order expired: matchingIdRefused */
    {F_AUTHENTICATE, "8.2.8", NULL, 50},  /* pprNotAllowed */
    {F_BPP, "8.10.1", NULL, 95},          /* invalidTransactionId */
    {F_BPP, "8.1", "6.1", 1},             /* euiccSignatureInvalid */
    {F_BPP, "8.2.7", "2.2", 2},           /* confirmationCodeMissing */
    {F_BPP, "8.2.7", "3.8", 3},           /* confirmationCodeRefused */
    {F_BPP, "8.2.7", "6.4", 4},           /* confirmationCodeRetriesExceeded */
    {F_BPP, "8.8.5", "4.10", 6},          /* downloadOrderExpired */
    {F_BPP, "8.8.5", "6.4", 4},           /* confirmationCodeRetriesExceeded */
    {F_BPP, "8.2.6", NULL, 5},            /* bppRebindingRefused */
    {F_BPP, "8.2.9", NULL, 50},           /* metadataMismatch */
    {F_CANCEL, "8.10.1", NULL, 1},        /* invalidTransactionId */
    {F_CANCEL, "8.1", "6.1", 2},          /* euiccSignatureInvalid */
};

static int64_t error_value(enum relay_func f, const struct rsp_msg_json_status_code_data *s) {
  for (size_t i = 0; s && s->subject_code && i < sizeof CODES / sizeof CODES[0]; i++)
    if (CODES[i].func == f && strcmp(CODES[i].subject, s->subject_code) == 0 &&
        (!CODES[i].reason || (s->reason_code && strcmp(CODES[i].reason, s->reason_code) == 0)))
      return CODES[i].value;
  return UNDEFINED_ERROR;
}

/* ---- sessions ---------------------------------------------------------------------------------
 */

static struct session *find(const struct rsp_eim_relay *r, struct rsp_slice txid) {
  for (size_t i = 0; txid.p && i < r->cap; i++)
    if (r->s[i].used && r->s[i].txid_len == txid.len && memcmp(r->s[i].txid, txid.p, txid.len) == 0)
      return &r->s[i];
  return NULL;
}

/* A new session (an older one with the same transactionId, or the oldest when full, goes). */
static struct session *bind_session(struct rsp_eim_relay *r, struct rsp_slice txid) {
  struct session *s = find(r, txid), *oldest = NULL;
  for (size_t i = 0; !s && i < r->cap; i++) {
    if (!r->s[i].used)
      s = &r->s[i];
    else if (!oldest || r->s[i].born < oldest->born)
      oldest = &r->s[i];
  }
  if (!s) {
    s = oldest;
    rsp_log(RSP_LOG_WARN, "eim", "relay: session table full, dropping the oldest");
  }
  memset(s, 0, sizeof *s);
  s->used = true;
  s->born = ++r->clock;
  memcpy(s->txid, txid.p, txid.len);
  s->txid_len = txid.len;
  return s;
}

rsp_err_t rsp_eim_relay_new(const struct rsp_eim_relay_options *o, struct rsp_eim_relay **out) {
  struct rsp_eim_relay *r;
  *out = NULL;
  if (!o || !o->es9 || !o->es9->call) return RSP_E_INVALID_ARG;
  if (!(r = rsp_calloc(1, sizeof *r))) return RSP_E_NOMEM;
  r->o = *o;
  pthread_mutex_init(&r->mu, NULL);
  r->cap = o->max_sessions ? o->max_sessions : RSP_EIM_RELAY_MAX_SESSIONS_DEFAULT;
  if (!(r->s = rsp_calloc(r->cap, sizeof *r->s))) {
    rsp_free(r);
    return RSP_E_NOMEM;
  }
  *out = r;
  return RSP_OK;
}

void rsp_eim_relay_destroy(struct rsp_eim_relay *r) {
  if (!r) return;
  pthread_mutex_destroy(&r->mu);
  rsp_free(r->s);
  rsp_free(r);
}

size_t rsp_eim_relay_session_count(const struct rsp_eim_relay *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->cap; i++) n += r->s[i].used;
  return n;
}

bool rsp_eim_relay_session_exists(const struct rsp_eim_relay *r, struct rsp_slice txid) {
  return find(r, txid) != NULL;
}

const struct rsp_eim_relay_stats *rsp_eim_relay_stats(const struct rsp_eim_relay *r) {
  return &r->stats;
}

/* ---- ES9+ through the port ----------------------------------------------------------------------
 */

/* One ES9+ function. RSP_OK with *refusal set (NULL-able statusCodeData) when the SM-DP+ answered
 * Failed or Expired; an error when it could not be reached or understood. */
static rsp_err_t es9(struct rsp_eim_relay *r, const char *address, const char *path,
                     const struct rsp_msg_json_type *qt, const void *q,
                     const struct rsp_msg_json_type *rt, void *resp, struct rsp_msg_json_doc *doc,
                     bool *refused) {
  struct rsp_buf body, answer;
  int status = 0;
  *refused = false;
  rsp_buf_init(&body, RSP_MSG_JSON_MAX_BODY);
  rsp_buf_init(&answer, RSP_MSG_JSON_MAX_BODY);
  rsp_err_t rc = rsp_msg_json_encode(qt, q, &body, NULL);
  if (rc == RSP_OK) rc = r->o.es9->call(r->o.es9_ctx, address, path, &body, &status, &answer);
  if (rc == RSP_OK && status != 200 && status != 204) rc = RSP_E_STATE;
  if (rc == RSP_OK)
    rc = rsp_msg_json_decode(rt, (const char *)answer.data, answer.len, doc, resp, NULL);
  const struct rsp_msg_json_resp_header *h = resp;
  if (rc == RSP_OK && h->function_execution_status.status != RSP_MSG_JSON_STATUS_ABSENT &&
      !rsp_msg_json_status_ok(h)) {
    const struct rsp_msg_json_status_code_data *s = h->function_execution_status.status_code_data;
    rsp_log(RSP_LOG_INFO, "eim", "relay: %s refused by %s: %s/%s", path, address,
            s && s->subject_code ? s->subject_code : "-",
            s && s->reason_code ? s->reason_code : "-");
    *refused = true;
  }
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_WARN, "eim", "relay: %s at %s failed: %s (HTTP %d)", path, address,
            rsp_strerror(rc), status);
  rsp_buf_free(&body);
  rsp_buf_free(&answer);
  return rc;
}

static const struct rsp_msg_json_status_code_data *status_of(const void *resp) {
  return ((const struct rsp_msg_json_resp_header *)resp)
      ->function_execution_status.status_code_data;
}

/* The value of a TLV the JSON binding carries whole (5F37 40 ... -> the 64 bytes). */
static struct rsp_slice value_of(struct rsp_slice tlv) {
  struct rsp_der_tlv t;
  if (rsp_der_parse_one(tlv.p, tlv.len, &t) != RSP_OK) return rsp_msg_slice(NULL, 0);
  return rsp_msg_slice(t.val, t.len);
}

/* The one element inside an explicit tag (HandleNotificationEsipa.pendingNotification [0]). */
static struct rsp_slice inner_of(struct rsp_slice tlv) {
  struct rsp_der_tlv t, c;
  const uint8_t *p, *end;
  if (rsp_der_parse_one(tlv.p, tlv.len, &t) != RSP_OK) return rsp_msg_slice(NULL, 0);
  rsp_der_children(&t, &p, &end);
  if (rsp_der_read_tlv(&p, end, &c) != RSP_OK || p != end) return rsp_msg_slice(NULL, 0);
  return rsp_msg_slice(c.raw, c.raw_len);
}

static void copy_cstr(char *dst, size_t size, struct rsp_slice s) {
  size_t n = s.len < size - 1 ? s.len : size - 1;
  memcpy(dst, s.p, n);
  dst[n] = '\0';
}

/* The session and device as a reconstruction context. */
static struct rsp_msg_compact_context context(const struct rsp_eim_relay *r,
                                              const struct session *s,
                                              const struct rsp_eim_relay_device *dev) {
  struct rsp_msg_compact_context c = {.euicc_info2 = dev->euicc_info2,
                                      .euicc_certificate = dev->euicc_certificate,
                                      .eum_certificate = dev->eum_certificate,
                                      .aid = dev->aid,
                                      .cancel_reason = r->o.cancel_reason};
  if (!s) return c;
  c.transaction_id = rsp_msg_slice(s->txid, s->txid_len);
  c.server_address = rsp_msg_slice(s->server_address, strlen(s->server_address));
  c.server_challenge = rsp_msg_slice(s->server_challenge, CHALLENGE_LEN);
  c.smdp_oid = rsp_msg_slice(s->smdp_oid, s->smdp_oid_len);
  if (s->has_iccid) c.iccid = rsp_msg_slice(s->iccid, ICCID_LEN);
  if (s->bpp_otpk_len) c.bpp_euicc_otpk = rsp_msg_slice(s->bpp_otpk, s->bpp_otpk_len);
  return c;
}

/* Writes one EsipaMessageFromEimToIpa. */
static rsp_err_t answer(struct rsp_msg_esipa_message_from_eim_to_ipa *m, struct rsp_buf *resp) {
  struct rsp_msg_diag diag;
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, m, resp, &diag);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "eim", "relay: answer not encodable: %s at %s", rsp_err_name(rc),
            diag.path);
  return rc;
}

/* ---- InitiateAuthentication ---------------------------------------------------------------------
 */

static rsp_err_t initiate_error(struct rsp_eim_relay *r, int64_t code, struct rsp_buf *resp) {
  struct rsp_msg_initiate_authentication_response_esipa e = {
      .which = RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_ERROR_ESIPA,
      .u.initiate_authentication_error_esipa = code};
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_INITIATE_AUTHENTICATION_RESPONSE_ESIPA,
      .u.initiate_authentication_response_esipa = &e};
  r->stats.refused++;
  return answer(&m, resp);
}

/* The session's SM-DP+ facts: serverSigned1 and CERT.DPauth's OID. */
static rsp_err_t learn_server(struct session *s, const struct rsp_msg_server_signed1 *ss1,
                              struct rsp_slice cert_der) {
  struct rsp_cert *cert = NULL;
  if (ss1->server_address.len > RSP_EIM_RELAY_ADDRESS_MAX ||
      ss1->server_challenge.len != CHALLENGE_LEN)
    return RSP_E_DER_RANGE;
  copy_cstr(s->server_address, sizeof s->server_address, ss1->server_address);
  memcpy(s->server_challenge, ss1->server_challenge.p, CHALLENGE_LEN);
  rsp_err_t rc = rsp_cert_parse(cert_der.p, cert_der.len, &cert);
  if (rc == RSP_OK) rc = rsp_cert_registered_id(cert, s->smdp_oid, OID_MAX, &s->smdp_oid_len);
  rsp_cert_free(cert);
  return rc;
}

static rsp_err_t initiate(struct rsp_eim_relay *r, const struct rsp_eim_relay_device *dev,
                          const struct rsp_msg_initiate_authentication_request_esipa *q,
                          struct rsp_buf *resp) {
  char address[RSP_EIM_RELAY_ADDRESS_MAX + 1];
  struct rsp_msg_json_doc doc;
  struct rsp_arena a;
  struct rsp_es9p_json_initiate_authentication_resp ia;
  struct rsp_msg_server_signed1 *ss1 = NULL;
  bool refused;
  if (q->smdp_address.p && q->smdp_address.len <= RSP_EIM_RELAY_ADDRESS_MAX)
    copy_cstr(address, sizeof address, q->smdp_address);
  else if (!q->smdp_address.p && dev->smdp_address &&
           strlen(dev->smdp_address) <= RSP_EIM_RELAY_ADDRESS_MAX)
    snprintf(address, sizeof address, "%s", dev->smdp_address);
  else
    return initiate_error(r, 1, resp); /* invalidDpAddress */
  struct rsp_es9p_json_initiate_authentication_req es = {
      .euicc_challenge = q->euicc_challenge,
      .euicc_info1 = q->euicc_info1 ? q->euicc_info1->raw : dev->euicc_info1,
      .smdp_address = address};
  if (!es.euicc_info1.p) return initiate_error(r, UNDEFINED_ERROR, resp); /* minimized, unknown */
  rsp_msg_json_doc_init(&doc);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = es9(r, address, RSP_ES9P_PATH_INITIATE_AUTHENTICATION,
                     &rsp_es9p_json_initiate_authentication_req_type, &es,
                     &rsp_es9p_json_initiate_authentication_resp_type, &ia, &doc, &refused);
  if (rc != RSP_OK || refused) {
    rc = initiate_error(r, rc == RSP_OK ? error_value(F_INITIATE, status_of(&ia)) : UNDEFINED_ERROR,
                        resp);
    goto out;
  }
  rc = rsp_msg_decode(&rsp_msgt_server_signed1, ia.server_signed1.p, ia.server_signed1.len, &a,
                      (void **)&ss1, NULL);
  struct session *s = rc == RSP_OK ? bind_session(r, ia.transaction_id) : NULL;
  if (s) {
    snprintf(s->smdp_address, sizeof s->smdp_address, "%s", address);
    if ((rc = learn_server(s, ss1, ia.server_certificate)) != RSP_OK) s->used = false;
  }
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_WARN, "eim", "relay: initiateAuthentication answer unusable: %s",
            rsp_strerror(rc));
    rc = initiate_error(r, UNDEFINED_ERROR, resp);
    goto out;
  }
  struct rsp_msg_initiate_authentication_ok_esipa ok = {
      .transaction_id = dev->minimize_esipa_bytes ? rsp_msg_slice(NULL, 0) : ia.transaction_id,
      .server_signed1 = ss1,
      .server_signature1 = value_of(ia.server_signature1),
      .euicc_ci_pk_identifier_to_be_used = value_of(ia.euicc_ci_pk_id_to_be_used),
      .server_certificate = ia.server_certificate};
  if (dev->matching_id) ok.matching_id = rsp_msg_slice(dev->matching_id, strlen(dev->matching_id));
  struct rsp_msg_initiate_authentication_response_esipa e = {
      .which = RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_OK_ESIPA,
      .u.initiate_authentication_ok_esipa = &ok};
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_INITIATE_AUTHENTICATION_RESPONSE_ESIPA,
      .u.initiate_authentication_response_esipa = &e};
  rc = answer(&m, resp);
out:
  rsp_arena_free(&a);
  rsp_msg_json_doc_free(&doc);
  return rc;
}

/* ---- AuthenticateClient -------------------------------------------------------------------------
 */

static rsp_err_t authenticate_error(struct rsp_eim_relay *r, int64_t code, struct rsp_buf *resp) {
  struct rsp_msg_authenticate_client_response_esipa e = {
      .which = RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_ERROR_ESIPA,
      .u.authenticate_client_error_esipa = code};
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_AUTHENTICATE_CLIENT_RESPONSE_ESIPA,
      .u.authenticate_client_response_esipa = &e};
  r->stats.refused++;
  return answer(&m, resp);
}

/* Expands a compact card answer with `f` into `out`; counts it when the form changed. */
typedef rsp_err_t (*expand_fn)(const uint8_t *, size_t, const struct rsp_msg_compact_context *,
                               struct rsp_buf *);

static rsp_err_t expand(struct rsp_eim_relay *r, expand_fn f, struct rsp_slice in,
                        const struct rsp_msg_compact_context *c, struct rsp_buf *out) {
  rsp_err_t rc = f(in.p, in.len, c, out);
  if (rc == RSP_OK && (out->len != in.len || memcmp(out->data, in.p, in.len) != 0))
    r->stats.expanded++;
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_WARN, "eim", "relay: compact form cannot be rebuilt: %s", rsp_strerror(rc));
  return rc;
}

/* What the session keeps of authenticateClient's answer: the ICCID (PIR) and bppEuiccOtpk. */
static rsp_err_t learn_client(struct session *s,
                              const struct rsp_msg_sgp32_store_metadata_request *md,
                              const struct rsp_msg_smdp_signed2 *s2) {
  if (md && md->iccid.len == ICCID_LEN) {
    memcpy(s->iccid, md->iccid.p, ICCID_LEN);
    s->has_iccid = true;
  }
  if (s2->bpp_euicc_otpk.p) {
    if (s2->bpp_euicc_otpk.len > OTPK_MAX) return RSP_E_DER_RANGE;
    memcpy(s->bpp_otpk, s2->bpp_euicc_otpk.p, s2->bpp_euicc_otpk.len);
    s->bpp_otpk_len = s2->bpp_euicc_otpk.len;
  }
  return RSP_OK;
}

static rsp_err_t authenticate(struct rsp_eim_relay *r, const struct rsp_eim_relay_device *dev,
                              const struct rsp_msg_authenticate_client_request_esipa *q,
                              struct rsp_buf *resp) {
  struct session *s = find(r, q->transaction_id);
  struct rsp_msg_json_doc doc;
  struct rsp_arena a;
  struct rsp_buf asr;
  struct rsp_es9p_json_authenticate_client_resp ac;
  struct rsp_msg_sgp32_store_metadata_request *md = NULL;
  struct rsp_msg_smdp_signed2 *s2 = NULL;
  bool refused;
  if (!s) return authenticate_error(r, 10, resp); /* invalidTransactionId */
  struct rsp_msg_compact_context c = context(r, s, dev);
  rsp_msg_json_doc_init(&doc);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&asr, RSP_MSG_JSON_MAX_BODY);
  rsp_err_t rc =
      expand(r, rsp_msg_compact_auth_expand, q->authenticate_server_response->raw, &c, &asr);
  if (rc != RSP_OK) {
    rc = authenticate_error(r, UNDEFINED_ERROR, resp);
    goto out;
  }
  struct rsp_es9p_json_authenticate_client_req es = {.transaction_id = q->transaction_id,
                                                     .authenticate_server_response =
                                                         rsp_msg_slice(asr.data, asr.len)};
  rc = es9(r, s->smdp_address, RSP_ES9P_PATH_AUTHENTICATE_CLIENT,
           &rsp_es9p_json_authenticate_client_req_type, &es,
           &rsp_es9p_json_authenticate_client_resp_type, &ac, &doc, &refused);
  if (rc == RSP_OK && !refused && ac.profile_metadata.p)
    rc = rsp_msg_decode(&rsp_msgt_sgp32_store_metadata_request, ac.profile_metadata.p,
                        ac.profile_metadata.len, &a, (void **)&md, NULL);
  if (rc == RSP_OK && !refused)
    rc = rsp_msg_decode(&rsp_msgt_smdp_signed2, ac.smdp_signed2.p, ac.smdp_signed2.len, &a,
                        (void **)&s2, NULL);
  if (rc == RSP_OK && !refused) rc = learn_client(s, md, s2);
  if (rc != RSP_OK || refused) {
    /* the session stays: the IPA cancels it through us */
    rc = authenticate_error(
        r, rc == RSP_OK ? error_value(F_AUTHENTICATE, status_of(&ac)) : UNDEFINED_ERROR, resp);
    goto out;
  }
  struct rsp_msg_authenticate_client_ok_dp_esipa ok = {
      .transaction_id = dev->minimize_esipa_bytes ? rsp_msg_slice(NULL, 0) : q->transaction_id,
      .profile_meta_data = md,
      .smdp_signed2 = s2,
      .smdp_signature2 = value_of(ac.smdp_signature2),
      .smdp_certificate = ac.smdp_certificate};
  struct rsp_msg_authenticate_client_response_esipa e = {
      .which = RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_OK_DP_ESIPA,
      .u.authenticate_client_ok_dp_esipa = &ok};
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_AUTHENTICATE_CLIENT_RESPONSE_ESIPA,
      .u.authenticate_client_response_esipa = &e};
  rc = answer(&m, resp);
out:
  rsp_buf_free(&asr);
  rsp_arena_free(&a);
  rsp_msg_json_doc_free(&doc);
  return rc;
}

/* ---- GetBoundProfilePackage ---------------------------------------------------------------------
 */

static rsp_err_t bpp_error(struct rsp_eim_relay *r, int64_t code, struct rsp_buf *resp) {
  struct rsp_msg_get_bound_profile_package_response_esipa e = {
      .which =
          RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA_GET_BOUND_PROFILE_PACKAGE_ERROR_ESIPA,
      .u.get_bound_profile_package_error_esipa = code};
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA,
      .u.get_bound_profile_package_response_esipa = &e};
  r->stats.refused++;
  return answer(&m, resp);
}

static rsp_err_t get_bpp(struct rsp_eim_relay *r, const struct rsp_eim_relay_device *dev,
                         const struct rsp_msg_get_bound_profile_package_request_esipa *q,
                         struct rsp_buf *resp) {
  struct session *s = find(r, q->transaction_id);
  struct rsp_msg_json_doc doc;
  struct rsp_arena a;
  struct rsp_buf pdr;
  struct rsp_es9p_json_get_bound_profile_package_resp bp;
  struct rsp_msg_bound_profile_package *bpp = NULL;
  bool refused;
  if (!s) return bpp_error(r, 95, resp); /* invalidTransactionId */
  struct rsp_msg_compact_context c = context(r, s, dev);
  rsp_msg_json_doc_init(&doc);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&pdr, RSP_MSG_JSON_MAX_BODY);
  rsp_err_t rc =
      expand(r, rsp_msg_compact_prepare_expand, q->prepare_download_response->raw, &c, &pdr);
  if (rc != RSP_OK) {
    rc = bpp_error(r, UNDEFINED_ERROR, resp);
    goto out;
  }
  struct rsp_es9p_json_get_bound_profile_package_req es = {.transaction_id = q->transaction_id,
                                                           .prepare_download_response =
                                                               rsp_msg_slice(pdr.data, pdr.len)};
  rc = es9(r, s->smdp_address, RSP_ES9P_PATH_GET_BOUND_PROFILE_PACKAGE,
           &rsp_es9p_json_get_bound_profile_package_req_type, &es,
           &rsp_es9p_json_get_bound_profile_package_resp_type, &bp, &doc, &refused);
  if (rc == RSP_OK && !refused)
    rc = rsp_msg_decode(&rsp_msgt_bound_profile_package, bp.bound_profile_package.p,
                        bp.bound_profile_package.len, &a, (void **)&bpp, NULL);
  if (rc != RSP_OK || refused) {
    rc = bpp_error(r, rc == RSP_OK ? error_value(F_BPP, status_of(&bp)) : UNDEFINED_ERROR, resp);
    goto out;
  }
  struct rsp_msg_get_bound_profile_package_ok_esipa ok = {
      .transaction_id = dev->minimize_esipa_bytes ? rsp_msg_slice(NULL, 0) : q->transaction_id,
      .bound_profile_package = bpp};
  struct rsp_msg_get_bound_profile_package_response_esipa e = {
      .which = RSP_MSG_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA_GET_BOUND_PROFILE_PACKAGE_OK_ESIPA,
      .u.get_bound_profile_package_ok_esipa = &ok};
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_BOUND_PROFILE_PACKAGE_RESPONSE_ESIPA,
      .u.get_bound_profile_package_response_esipa = &e};
  rc = answer(&m, resp);
out:
  rsp_buf_free(&pdr);
  rsp_arena_free(&a);
  rsp_msg_json_doc_free(&doc);
  return rc;
}

/* ---- CancelSession ------------------------------------------------------------------------------
 */

static rsp_err_t cancel(struct rsp_eim_relay *r, const struct rsp_eim_relay_device *dev,
                        const struct rsp_msg_cancel_session_request_esipa *q,
                        struct rsp_buf *resp) {
  struct session *s = find(r, q->transaction_id);
  struct rsp_msg_json_doc doc;
  struct rsp_buf full;
  struct rsp_es9p_json_cancel_session_resp cr;
  struct rsp_msg_sgp32_cancel_session_ok none = {0};
  struct rsp_msg_cancel_session_response_esipa e = {
      .which = RSP_MSG_CANCEL_SESSION_RESPONSE_ESIPA_CANCEL_SESSION_OK,
      .u.cancel_session_ok = &none};
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_CANCEL_SESSION_RESPONSE_ESIPA,
      .u.cancel_session_response_esipa = &e};
  bool refused = false;
  rsp_err_t rc = RSP_OK;
  rsp_msg_json_doc_init(&doc);
  rsp_buf_init(&full, RSP_MSG_JSON_MAX_BODY);
  if (!s) {
    e.which = RSP_MSG_CANCEL_SESSION_RESPONSE_ESIPA_CANCEL_SESSION_ERROR;
    e.u.cancel_session_error = 1; /* invalidTransactionId */
    goto out;
  }
  struct rsp_msg_compact_context c = context(r, s, dev);
  /* A1 -> BF41 (notes 8.3), compact -> full; then cancelSession at the SM-DP+ */
  rc = expand(r, rsp_msg_compact_cancel_expand, q->cancel_session_response->raw, &c, &full);
  if (rc == RSP_OK) {
    struct rsp_es9p_json_cancel_session_req es = {.transaction_id = q->transaction_id,
                                                  .cancel_session_response =
                                                      rsp_msg_slice(full.data, full.len)};
    rc = es9(r, s->smdp_address, RSP_ES9P_PATH_CANCEL_SESSION,
             &rsp_es9p_json_cancel_session_req_type, &es, &rsp_es9p_json_cancel_session_resp_type,
             &cr, &doc, &refused);
  }
  if (rc != RSP_OK || refused) {
    e.which = RSP_MSG_CANCEL_SESSION_RESPONSE_ESIPA_CANCEL_SESSION_ERROR;
    e.u.cancel_session_error =
        rc == RSP_OK ? error_value(F_CANCEL, status_of(&cr)) : UNDEFINED_ERROR;
  }
  s->used = false; /* the download is over either way */
  r->stats.cancelled++;
out:
  if (e.which == RSP_MSG_CANCEL_SESSION_RESPONSE_ESIPA_CANCEL_SESSION_ERROR) r->stats.refused++;
  rc = answer(&m, resp);
  rsp_buf_free(&full);
  rsp_msg_json_doc_free(&doc);
  return rc;
}

/* ---- HandleNotification -------------------------------------------------------------------------
 */

/* The notificationAddress of a full notification (where an other notification goes). */
static rsp_err_t notification_address(struct rsp_slice n, char *out, size_t size) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_pending_notification *p = NULL;
  const struct rsp_msg_notification_metadata *nm = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc =
      rsp_msg_decode(&rsp_msgt_sgp32_pending_notification, n.p, n.len, &a, (void **)&p, NULL);
  if (rc == RSP_OK && p->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT)
    nm = p->u.profile_installation_result->profile_installation_result_data->notification_metadata;
  else if (rc == RSP_OK && p->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION)
    nm = p->u.other_signed_notification->tbs_other_notification;
  if (rc == RSP_OK && (!nm || nm->notification_address.len >= size)) rc = RSP_E_UNSUPPORTED;
  if (rc == RSP_OK) copy_cstr(out, size, nm->notification_address);
  rsp_arena_free(&a);
  return rc;
}

/* A PIR of a relayed session goes to the session's SM-DP+ and ends the session; any other
 * notification (rebuilt with the device's certificates) to its notificationAddress (notes 3.8). */
static rsp_err_t notify(struct rsp_eim_relay *r, const struct rsp_eim_relay_device *dev,
                        const struct rsp_msg_sgp32_pending_notification *pn) {
  struct rsp_slice n = inner_of(pn->raw), txid;
  char address[RSP_EIM_RELAY_ADDRESS_MAX + 1];
  struct rsp_msg_json_doc doc;
  struct rsp_buf full;
  struct rsp_es9p_json_handle_notification_resp nr;
  bool refused;
  rsp_err_t rc = rsp_msg_compact_notification_transaction_id(n.p, n.len, &txid);
  if (rc != RSP_OK) return rc;
  struct session *s = find(r, txid);
  struct rsp_msg_compact_context c = context(r, s, dev);
  rsp_msg_json_doc_init(&doc);
  rsp_buf_init(&full, RSP_MSG_JSON_MAX_BODY);
  rc = expand(r, rsp_msg_compact_notification_expand, n, &c, &full);
  if (rc == RSP_OK && s)
    snprintf(address, sizeof address, "%s", s->smdp_address);
  else if (rc == RSP_OK)
    rc = notification_address(rsp_msg_slice(full.data, full.len), address, sizeof address);
  if (rc == RSP_OK) {
    struct rsp_es9p_json_handle_notification_req es = {.pending_notification =
                                                           rsp_msg_slice(full.data, full.len)};
    rc = es9(r, address, RSP_ES9P_PATH_HANDLE_NOTIFICATION,
             &rsp_es9p_json_handle_notification_req_type, &es,
             &rsp_es9p_json_handle_notification_resp_type, &nr, &doc, &refused);
  }
  if (rc == RSP_OK) r->stats.notifications++;
  if (s) {
    s->used = false; /* the PIR ends the relayed download */
    r->stats.installed++;
  }
  rsp_buf_free(&full);
  rsp_msg_json_doc_free(&doc);
  return rc;
}

/* ---- dispatch -----------------------------------------------------------------------------------
 */

bool rsp_eim_relay_accepts(const struct rsp_msg_esipa_message_from_ipa_to_eim *m) {
  switch (m->which) {
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA:
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA:
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA:
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA:
    return true;
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA:
    return m->u.handle_notification_esipa->which ==
           RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PENDING_NOTIFICATION;
  default:
    return false;
  }
}

static rsp_err_t relay_handle(struct rsp_eim_relay *r, const struct rsp_eim_relay_device *dev,
                              const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                              struct rsp_buf *resp) {
  if (!rsp_eim_relay_accepts(m)) return RSP_E_UNSUPPORTED;
  r->stats.requests++;
  switch (m->which) {
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA:
    return initiate(r, dev, m->u.initiate_authentication_request_esipa, resp);
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA:
    return authenticate(r, dev, m->u.authenticate_client_request_esipa, resp);
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA:
    return get_bpp(r, dev, m->u.get_bound_profile_package_request_esipa, resp);
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA:
    return cancel(r, dev, m->u.cancel_session_request_esipa, resp);
  default:
    return notify(r, dev, m->u.handle_notification_esipa->u.pending_notification);
  }
}

rsp_err_t rsp_eim_relay_handle(struct rsp_eim_relay *r, const struct rsp_eim_relay_device *dev,
                               const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                               struct rsp_buf *resp) {
  pthread_mutex_lock(&r->mu);
  rsp_err_t rc = relay_handle(r, dev, m, resp);
  pthread_mutex_unlock(&r->mu);
  return rc;
}
