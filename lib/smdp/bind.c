/* The SM-DP+ side of the SGP.22 download (SGP.22 §3.1.3, §5.6; notes 4.3 to 4.6 and 6): the
 * values the SM-DP+ signs, the checks of what the card answers, and the binding of a profile
 * into a Bound Profile Package. No I/O: the ES9+ server (apps/smdp) and the tests call these.
 *
 * Every signature is verified over the bytes as received (the `raw` of the decoded element),
 * and every element the card signs over is placed into the requests byte for byte as the
 * SM-DP+ produced it (rsp_der_put_raw), never re-encoded. */
#include "rsp/smdp/bind.h"
#include "rsp/smdp/smds.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/crypto/bsp.h"
#include "rsp/der/der.h"
#include "rsp/msg/bpp.h"
#include "rsp/msg/es10.h"
#include "rsp/msg/signed.h"
#include "rsp/msg/tags.h"

#define COMP "smdp"
#define SIGNED_INPUT_MAX 4096u /* smdpSigned2 || 5F37, euiccSigned2 || 5F37, ISC elements */
#define ISC_MAX 1024u          /* an encoded InitialiseSecureChannelRequest */
#define METADATA_MAX 65536u    /* an encoded StoreMetadataRequest */

/* ---- the session's state machine -------------------------------------------------------------
 */

enum op { OP_SIGNED1, OP_AUTH_RESPONSE, OP_SIGNED2, OP_PREPARE_RESPONSE, OP_BIND };

static const struct transition {
  const char *name;
  enum rsp_smdp_stage from, to;
} transitions[] = {
    [OP_SIGNED1] = {"serverSigned1", RSP_SMDP_STAGE_NEW, RSP_SMDP_STAGE_AUTH_SENT},
    [OP_AUTH_RESPONSE] = {"AuthenticateServerResponse", RSP_SMDP_STAGE_AUTH_SENT,
                          RSP_SMDP_STAGE_AUTHENTICATED},
    [OP_SIGNED2] = {"smdpSigned2", RSP_SMDP_STAGE_AUTHENTICATED, RSP_SMDP_STAGE_PREPARE_SENT},
    [OP_PREPARE_RESPONSE] = {"PrepareDownloadResponse", RSP_SMDP_STAGE_PREPARE_SENT,
                             RSP_SMDP_STAGE_PREPARED},
    [OP_BIND] = {"binding", RSP_SMDP_STAGE_PREPARED, RSP_SMDP_STAGE_BOUND},
};

static rsp_err_t stage_check(const struct rsp_smdp_session *s, enum op op) {
  if (!s) return RSP_E_INVALID_ARG;
  if (s->stage == transitions[op].from) return RSP_OK;
  rsp_log(RSP_LOG_INFO, COMP, "%s refused: session in stage %d, expected %d", transitions[op].name,
          (int)s->stage, (int)transitions[op].from);
  return RSP_E_STATE;
}

static void stage_done(struct rsp_smdp_session *s, enum op op) { s->stage = transitions[op].to; }

void rsp_smdp_session_init(struct rsp_smdp_session *s) {
  memset(s, 0, sizeof *s);
  s->stage = RSP_SMDP_STAGE_NEW;
}

void rsp_smdp_session_free(struct rsp_smdp_session *s) {
  if (!s) return;
  rsp_key_free(s->euicc_pk);
  rsp_memzero(s, sizeof *s);
  s->stage = RSP_SMDP_STAGE_CLOSED;
}

/* Records a refusal with its ES9+ codes and ends the session. Returns RSP_OK: a refusal is an
 * outcome, not a failure of the function. */
static rsp_err_t refuse(struct rsp_smdp_session *s, struct rsp_smdp_status *st, const char *subject,
                        const char *reason, const char *fmt, ...) RSP_PRINTF(5, 6);

static rsp_err_t refuse(struct rsp_smdp_session *s, struct rsp_smdp_status *st, const char *subject,
                        const char *reason, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->detail, sizeof st->detail, fmt, ap);
  va_end(ap);
  st->ok = false;
  st->subject = subject;
  st->reason = reason;
  s->stage = RSP_SMDP_STAGE_CLOSED;
  rsp_log(RSP_LOG_INFO, COMP, "refused (%s/%s): %s", subject ? subject : "-", reason ? reason : "-",
          st->detail);
  return RSP_OK;
}

static void status_init(struct rsp_smdp_status *st) { memset(st, 0, sizeof *st); }

static bool same_bytes(struct rsp_slice a, const uint8_t *b, size_t b_len) {
  return a.p && a.len == b_len && memcmp(a.p, b, b_len) == 0;
}

/* ---- identity --------------------------------------------------------------------------------
 */

static rsp_err_t path_join(char *out, size_t size, const char *dir, const char *rel) {
  int n = snprintf(out, size, "%s/%s", dir, rel);
  return n < 0 || (size_t)n >= size ? RSP_E_INVALID_ARG : RSP_OK;
}

/* The key behind the signer must be the certificate's. */
static rsp_err_t key_matches(struct rsp_signer *signer, const struct rsp_cert *cert) {
  struct rsp_key *pub = NULL;
  uint8_t a[RSP_EC_POINT_LEN], b[RSP_EC_POINT_LEN];
  const struct rsp_key *own = rsp_signer_public_key(signer);
  rsp_err_t rc = own ? rsp_cert_public_key(cert, &pub) : RSP_E_KEY_INVALID;
  if (rc == RSP_OK) rc = rsp_key_point(own, a);
  if (rc == RSP_OK) rc = rsp_key_point(pub, b);
  if (rc == RSP_OK && memcmp(a, b, sizeof a) != 0) rc = RSP_E_KEY_INVALID;
  rsp_key_free(pub);
  return rc;
}

/* DIR/<party>/<role>/{key.pem,cert.der}: the certificate must carry the role policy `want` and
 * certify the key. */
static rsp_err_t load_role(const char *dir, const char *party, const char *role,
                           enum rsp_cert_role want, struct rsp_signer **signer,
                           struct rsp_cert **cert) {
  char rel[64], path[PATH_MAX];
  snprintf(rel, sizeof rel, "%s/%s/key.pem", party, role);
  rsp_err_t rc = path_join(path, sizeof path, dir, rel);
  if (rc == RSP_OK) rc = rsp_signer_inproc_load(path, signer);
  snprintf(rel, sizeof rel, "%s/%s/cert.der", party, role);
  if (rc == RSP_OK) rc = path_join(path, sizeof path, dir, rel);
  if (rc == RSP_OK) rc = rsp_cert_load_file(path, cert);
  if (rc == RSP_OK && rsp_cert_role(*cert) != want) rc = RSP_E_CERT_POLICY;
  if (rc == RSP_OK) rc = key_matches(*signer, *cert);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, COMP, "%s %s identity in %s: %s", party, role, dir, rsp_strerror(rc));
  return rc;
}

/* The CI of DIR/ci/cert.der and the OID of the auth certificate, for either server. */
static rsp_err_t load_ci_and_oid(const char *pki_dir, struct rsp_smdp_identity *id) {
  char path[PATH_MAX];
  rsp_err_t rc;
  if ((rc = rsp_ci_store_new(&id->cis)) != RSP_OK ||
      (rc = path_join(path, sizeof path, pki_dir, "ci/cert.der")) != RSP_OK ||
      (rc = rsp_ci_store_add_file(id->cis, path)) != RSP_OK)
    return rc;
  if ((rc = rsp_cert_ski(rsp_ci_store_get(id->cis, 0), &id->ci_ski)) != RSP_OK) return rc;
  /* The OID the card reports back (PIR smdpOid, EuiccCancelSessionSigned): SGP.22 §4.5.2.1 */
  return rsp_cert_registered_id(id->auth_cert, id->oid, sizeof id->oid, &id->oid_len);
}

static rsp_err_t identity_done(rsp_err_t rc, const char *what, const char *pki_dir,
                               struct rsp_smdp_identity *id, struct rsp_smdp_identity **out) {
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, COMP, "cannot load the %s identity from %s: %s", what, pki_dir,
            rsp_strerror(rc));
    rsp_smdp_identity_destroy(id);
    id = NULL;
  }
  *out = id;
  return rc;
}

rsp_err_t rsp_smdp_identity_load(const char *pki_dir, struct rsp_smdp_identity **out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_smdp_identity *id = NULL;
  if (!pki_dir || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if (!(id = rsp_calloc(1, sizeof *id))) return RSP_E_NOMEM;
  if ((rc = load_role(pki_dir, "smdp", "auth", RSP_ROLE_DP_AUTH, &id->auth, &id->auth_cert)) ==
          RSP_OK &&
      (rc = load_role(pki_dir, "smdp", "pb", RSP_ROLE_DP_PB, &id->pb, &id->pb_cert)) == RSP_OK)
    rc = load_ci_and_oid(pki_dir, id);
  return identity_done(rc, "SM-DP+", pki_dir, id, out);
}

/* The SM-DS signs serverSigned1 with SK.DSauth (SGP.22 §4.5.2.1, role id-rspRole-ds-auth); the
 * rest of the identity serves it as it serves the SM-DP+ (the CI the eUICC chains must reach).
 * It has no CERT.DPpb: it binds no profile. */
rsp_err_t rsp_smds_identity_load(const char *pki_dir, struct rsp_smdp_identity **out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_smdp_identity *id = NULL;
  if (!pki_dir || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if (!(id = rsp_calloc(1, sizeof *id))) return RSP_E_NOMEM;
  if ((rc = load_role(pki_dir, "smds", "auth", RSP_ROLE_DS_AUTH, &id->auth, &id->auth_cert)) ==
      RSP_OK)
    rc = load_ci_and_oid(pki_dir, id);
  return identity_done(rc, "SM-DS", pki_dir, id, out);
}

void rsp_smdp_identity_destroy(struct rsp_smdp_identity *id) {
  if (!id) return;
  rsp_signer_destroy(id->auth);
  rsp_signer_destroy(id->pb);
  rsp_cert_free(id->auth_cert);
  rsp_cert_free(id->pb_cert);
  rsp_ci_store_free(id->cis);
  rsp_free(id);
}

/* ---- AuthenticateServer ----------------------------------------------------------------------
 */

rsp_err_t rsp_smdp_server_signed1_make(const struct rsp_smdp_identity *id,
                                       struct rsp_smdp_session *s,
                                       const uint8_t euicc_challenge[RSP_SMDP_CHALLENGE_LEN],
                                       const char *server_address, struct rsp_buf *server_signed1,
                                       uint8_t signature[RSP_SIG_RAW_LEN]) {
  size_t alen = server_address ? strlen(server_address) : 0;
  if (!id || !euicc_challenge || alen == 0 || alen > RSP_SMDP_ADDRESS_MAX || !server_signed1 ||
      !signature)
    return RSP_E_INVALID_ARG;
  rsp_err_t rc = stage_check(s, OP_SIGNED1);
  size_t start = server_signed1->len;
  if (rc == RSP_OK) rc = rsp_random(s->transaction_id, RSP_SMDP_TRANSACTION_ID_LEN);
  if (rc == RSP_OK) rc = rsp_random(s->server_challenge, RSP_SMDP_CHALLENGE_LEN);
  if (rc != RSP_OK) return rc;
  s->transaction_id_len = RSP_SMDP_TRANSACTION_ID_LEN;
  memcpy(s->euicc_challenge, euicc_challenge, RSP_SMDP_CHALLENGE_LEN);
  memcpy(s->server_address, server_address, alen + 1);
  struct rsp_msg_server_signed1 v = {
      .transaction_id = rsp_msg_slice(s->transaction_id, s->transaction_id_len),
      .euicc_challenge = rsp_msg_slice(s->euicc_challenge, RSP_SMDP_CHALLENGE_LEN),
      .server_address = rsp_msg_slice(s->server_address, alen),
      .server_challenge = rsp_msg_slice(s->server_challenge, RSP_SMDP_CHALLENGE_LEN)};
  rc = rsp_msg_encode(&rsp_msgt_server_signed1, &v, server_signed1, NULL);
  /* serverSignature1 covers the DER ServerSigned1 (notes 4.3) */
  if (rc == RSP_OK)
    rc = rsp_signer_sign(id->auth, server_signed1->data + start, server_signed1->len - start,
                         signature);
  if (rc != RSP_OK) {
    server_signed1->len = start;
    return rc;
  }
  stage_done(s, OP_SIGNED1);
  return RSP_OK;
}

/* One complete TLV with the given tag. */
static bool is_tlv(struct rsp_slice s, uint32_t tag) {
  struct rsp_der_tlv tlv;
  return s.p && rsp_der_parse_one(s.p, s.len, &tlv) == RSP_OK && tlv.tag == tag;
}

/* The builders end by decoding what they wrote, so an invalid request is never handed out. */
static rsp_err_t check_built(const struct rsp_msg_type *t, struct rsp_buf *out, size_t start,
                             rsp_err_t rc) {
  struct rsp_arena a;
  struct rsp_msg_diag diag;
  void *v = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (rc == RSP_OK) rc = rsp_msg_decode(t, out->data + start, out->len - start, &a, &v, &diag);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_INFO, COMP, "cannot build %s: %s", t->name, rsp_strerror(rc));
    out->len = start;
  }
  rsp_arena_free(&a);
  return rc;
}

rsp_err_t
rsp_smdp_authenticate_server_request_build(const struct rsp_smdp_authenticate_server_parts *parts,
                                           struct rsp_buf *out) {
  struct rsp_der_writer w;
  if (!parts || !out || !is_tlv(parts->server_signed1, RSP_DER_SEQUENCE) ||
      !is_tlv(parts->server_certificate, RSP_DER_SEQUENCE) || !parts->server_signature1.p ||
      parts->server_signature1.len != RSP_SIG_RAW_LEN || !parts->euicc_ci_pk_id.p)
    return RSP_E_INVALID_ARG;
  size_t start = out->len;
  struct rsp_msg_device_capabilities caps = {0};
  struct rsp_msg_device_info info = {.tac = rsp_msg_slice(parts->tac, RSP_SMDP_TAC_LEN),
                                     .device_capabilities = &caps};
  struct rsp_msg_ctx_params_for_common_authentication common = {.matching_id = parts->matching_id,
                                                                .device_info = &info};
  struct rsp_msg_ctx_params1 ctx = {.which =
                                        RSP_MSG_CTX_PARAMS1_CTX_PARAMS_FOR_COMMON_AUTHENTICATION,
                                    .u.ctx_params_for_common_authentication = &common};
  rsp_der_writer_init(&w, out);
  rsp_der_begin(&w, RSP_TAG_AUTHENTICATE_SERVER_REQUEST);
  rsp_der_put_raw(&w, parts->server_signed1.p, parts->server_signed1.len);
  rsp_der_put_octets(&w, RSP_MSG_TAG_SIGNATURE, parts->server_signature1.p, RSP_SIG_RAW_LEN);
  rsp_der_put_octets(&w, RSP_DER_OCTET_STRING, parts->euicc_ci_pk_id.p, parts->euicc_ci_pk_id.len);
  rsp_der_put_raw(&w, parts->server_certificate.p, parts->server_certificate.len);
  rsp_msg_write(&w, &rsp_msgt_ctx_params1, &ctx);
  rsp_der_end(&w);
  return check_built(&rsp_msgt_authenticate_server_request, out, start, rsp_der_writer_finish(&w));
}

/* AuthenticateServerResponse in either form (SGP.32 euiccInfo2 or SGP.22), as the fields the
 * SM-DP+ checks. */
struct auth_view {
  bool error;
  int64_t error_code;
  struct rsp_slice transaction_id;
  struct rsp_slice signed1; /* euiccSigned1 as received */
  struct rsp_slice server_address, server_challenge;
  const struct rsp_msg_ctx_params1 *ctx;
  struct rsp_slice signature1, euicc_cert, eum_cert;
};

/* The SGP.22 and SGP.32 forms of the answer are distinct generated types with the same field
 * names: one macro fills the view from either. */
#define AUTH_VIEW_ERROR(v, err)                                                                    \
  do {                                                                                             \
    (v)->error = true;                                                                             \
    (v)->error_code = (err)->authenticate_error_code;                                              \
    (v)->transaction_id = (err)->transaction_id;                                                   \
  } while (0)
#define AUTH_VIEW_OK(v, ok)                                                                        \
  (*(v) = (struct auth_view){.transaction_id = (ok)->euicc_signed1->transaction_id,                \
                             .signed1 = (ok)->euicc_signed1->raw,                                  \
                             .server_address = (ok)->euicc_signed1->server_address,                \
                             .server_challenge = (ok)->euicc_signed1->server_challenge,            \
                             .ctx = (ok)->euicc_signed1->ctx_params1,                              \
                             .signature1 = (ok)->euicc_signature1,                                 \
                             .euicc_cert = (ok)->euicc_certificate,                                \
                             .eum_cert = (ok)->eum_certificate})

static rsp_err_t auth_view_decode(const uint8_t *der, size_t len, struct rsp_arena *a,
                                  struct auth_view *v) {
  const struct rsp_es10_function *fn =
      rsp_es10_function_by_tag(RSP_TAG_AUTHENTICATE_SERVER_REQUEST);
  void *r = NULL;
  bool sgp22 = false;
  rsp_err_t rc = rsp_es10_decode_response(fn, der, len, a, &r, &sgp22, NULL);
  if (rc != RSP_OK) return rc;
  memset(v, 0, sizeof *v);
  if (sgp22) {
    const struct rsp_msg_authenticate_server_response *x = r;
    if (x->which == RSP_MSG_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_ERROR)
      AUTH_VIEW_ERROR(v, x->u.authenticate_response_error);
    else if (x->which == RSP_MSG_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK)
      AUTH_VIEW_OK(v, x->u.authenticate_response_ok);
    else
      return RSP_E_UNSUPPORTED;
    return RSP_OK;
  }
  const struct rsp_msg_sgp32_authenticate_server_response *x = r;
  /* the compact form (SGP.32 §2.5, minimizeEsipaBytes) is an eIM's business, not an SM-DP+'s */
  if (x->which == RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_ERROR)
    AUTH_VIEW_ERROR(v, x->u.authenticate_response_error);
  else if (x->which == RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK)
    AUTH_VIEW_OK(v, x->u.authenticate_response_ok);
  else
    return RSP_E_UNSUPPORTED;
  return RSP_OK;
}

/* CI -> EUM -> eUICC to our CI, EID in the EUM's range (SGP.22 §5.6.2, notes 4.1). On success
 * *euicc is the parsed CERT.EUICC. Returns false after recording the refusal. */
static bool chain_ok(const struct rsp_smdp_identity *id, struct rsp_smdp_session *s,
                     const struct auth_view *v, struct rsp_cert **euicc,
                     struct rsp_smdp_status *st) {
  struct rsp_cert *eum = NULL;
  struct rsp_chain_result res = {0};
  struct rsp_chain_opts o = {
      .ignore_time = id->ignore_cert_time, .ci_ski = id->ci_ski.id, .ci_ski_len = id->ci_ski.len};
  rsp_err_t rc = rsp_cert_parse(v->eum_cert.p, v->eum_cert.len, &eum);
  if (rc == RSP_OK) rc = rsp_cert_parse(v->euicc_cert.p, v->euicc_cert.len, euicc);
  if (rc == RSP_OK) rc = rsp_x509_verify_euicc_chain(id->cis, eum, *euicc, &o, &res);
  rsp_cert_free(eum);
  if (rc == RSP_OK) return true;
  rsp_cert_free(*euicc);
  *euicc = NULL;
  /* the certificate at fault names the subject (eUICC depth 0, EUM depth 1), expiry the reason */
  const char *subject = res.depth == 1 ? RSP_SMDP_SUBJECT_EUM_CERT : RSP_SMDP_SUBJECT_EUICC_CERT;
  const char *reason =
      rc == RSP_E_CERT_EXPIRED ? RSP_SMDP_REASON_EXPIRED : RSP_SMDP_REASON_VERIFICATION_FAILED;
  if (rc == RSP_E_CERT_EID_OUT_OF_RANGE) subject = RSP_SMDP_SUBJECT_EID_RANGE;
  if (rc == RSP_E_CERT_UNKNOWN_CI) {
    subject = RSP_SMDP_SUBJECT_CI_PK;
    reason = RSP_SMDP_REASON_UNKNOWN;
  }
  refuse(s, st, subject, reason, "eUICC chain (depth %d): %s %s", res.depth, rsp_strerror(rc),
         res.detail);
  return false;
}

/* euiccSignature1 over euiccSigned1 as received, then the echoes of the SM-DP+'s values. */
static bool signed1_ok(struct rsp_smdp_session *s, const struct auth_view *v,
                       const struct rsp_key *pk, struct rsp_smdp_status *st) {
  if (v->signature1.len != RSP_SIG_RAW_LEN ||
      rsp_ecdsa_verify(pk, v->signed1.p, v->signed1.len, v->signature1.p) != RSP_OK) {
    refuse(s, st, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED,
           "euiccSignature1 does not verify");
    return false;
  }
  if (!same_bytes(v->server_challenge, s->server_challenge, RSP_SMDP_CHALLENGE_LEN) ||
      !same_bytes(v->server_address, (const uint8_t *)s->server_address,
                  strlen(s->server_address))) {
    refuse(s, st, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED,
           "euiccSigned1 does not echo serverChallenge and serverAddress");
    return false;
  }
  return true;
}

/* Keeps what the later steps need: EID, PK.EUICC, curve, euiccSignature1, matchingId. */
static rsp_err_t keep_euicc(struct rsp_smdp_session *s, const struct auth_view *v,
                            const struct rsp_cert *euicc, struct rsp_key *pk) {
  char eid[RSP_EID_DIGITS + 8];
  rsp_err_t rc = rsp_cert_subject_serial(euicc, eid, sizeof eid);
  if (rc == RSP_OK) rc = rsp_eid_from_string(eid, s->eid);
  if (rc != RSP_OK) return rc;
  const struct rsp_msg_ctx_params_for_common_authentication *c =
      v->ctx && v->ctx->which == RSP_MSG_CTX_PARAMS1_CTX_PARAMS_FOR_COMMON_AUTHENTICATION
          ? v->ctx->u.ctx_params_for_common_authentication
          : NULL;
  s->has_matching_id = c && c->matching_id.p && c->matching_id.len <= RSP_SMDP_MATCHING_ID_MAX;
  s->matching_id_len = s->has_matching_id ? c->matching_id.len : 0;
  if (s->matching_id_len) memcpy(s->matching_id, c->matching_id.p, s->matching_id_len);
  s->euicc_curve = rsp_cert_curve(euicc);
  memcpy(s->euicc_signature1, v->signature1.p, RSP_SIG_RAW_LEN);
  rsp_key_free(s->euicc_pk);
  s->euicc_pk = pk;
  return RSP_OK;
}

rsp_err_t rsp_smdp_authenticate_server_response_verify(const struct rsp_smdp_identity *id,
                                                       struct rsp_smdp_session *s,
                                                       const uint8_t *der, size_t len,
                                                       struct rsp_smdp_status *st) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_arena a;
  struct auth_view v;
  struct rsp_cert *euicc = NULL;
  struct rsp_key *pk = NULL;
  if (!id || !der || !st) return RSP_E_INVALID_ARG;
  if ((rc = stage_check(s, OP_AUTH_RESPONSE)) != RSP_OK) return rc;
  status_init(st);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if ((rc = auth_view_decode(der, len, &a, &v)) != RSP_OK) goto out;
  if (!same_bytes(v.transaction_id, s->transaction_id, s->transaction_id_len)) {
    rc = refuse(s, st, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN,
                "transactionId of another session");
    goto out;
  }
  if (v.error) {
    st->euicc_error = v.error_code;
    rc = refuse(s, st, NULL, NULL, "the eUICC refused AuthenticateServer (%lld)",
                (long long)v.error_code);
    goto out;
  }
  if (!chain_ok(id, s, &v, &euicc, st)) goto out;
  if ((rc = rsp_cert_public_key(euicc, &pk)) != RSP_OK) goto out;
  if (!signed1_ok(s, &v, pk, st)) goto out;
  if ((rc = keep_euicc(s, &v, euicc, pk)) != RSP_OK) goto out;
  pk = NULL; /* the session owns it now */
  st->ok = true;
  stage_done(s, OP_AUTH_RESPONSE);
out:
  rsp_key_free(pk);
  rsp_cert_free(euicc);
  rsp_arena_free(&a);
  return rc;
}

/* ---- PrepareDownload -------------------------------------------------------------------------
 */

rsp_err_t rsp_smdp_hash_cc(struct rsp_slice confirmation_code, struct rsp_slice transaction_id,
                           uint8_t out[RSP_SMDP_HASH_CC_LEN]) {
  uint8_t inner[RSP_SHA256_LEN];
  if (!confirmation_code.p || !transaction_id.p || !out) return RSP_E_INVALID_ARG;
  rsp_err_t rc = rsp_sha256(confirmation_code.p, confirmation_code.len, inner);
  struct rsp_slice parts[2] = {rsp_msg_slice(inner, sizeof inner), transaction_id};
  if (rc == RSP_OK) rc = rsp_sha256_v(parts, 2, out);
  rsp_memzero(inner, sizeof inner);
  return rc;
}

rsp_err_t rsp_smdp_signed2_make(const struct rsp_smdp_identity *id, struct rsp_smdp_session *s,
                                struct rsp_slice confirmation_code, struct rsp_slice bpp_euicc_otpk,
                                struct rsp_buf *smdp_signed2, uint8_t signature[RSP_SIG_RAW_LEN]) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_buf in;
  if (!id || !smdp_signed2 || !signature ||
      (bpp_euicc_otpk.p && bpp_euicc_otpk.len != RSP_EC_POINT_LEN))
    return RSP_E_INVALID_ARG;
  if ((rc = stage_check(s, OP_SIGNED2)) != RSP_OK) return rc;
  struct rsp_slice txid = rsp_msg_slice(s->transaction_id, s->transaction_id_len);
  size_t start = smdp_signed2->len;
  rsp_buf_init(&in, SIGNED_INPUT_MAX);
  s->cc_required = confirmation_code.p != NULL;
  if (s->cc_required && (rc = rsp_smdp_hash_cc(confirmation_code, txid, s->hash_cc)) != RSP_OK)
    goto out;
  struct rsp_msg_smdp_signed2 v = {
      .transaction_id = txid, .cc_required_flag = s->cc_required, .bpp_euicc_otpk = bpp_euicc_otpk};
  if ((rc = rsp_msg_encode(&rsp_msgt_smdp_signed2, &v, smdp_signed2, NULL)) != RSP_OK) goto out;
  /* smdpSignature2 over smdpSigned2 || 5F37 40 euiccSignature1 (notes 4.3) */
  rc = rsp_msg_signed_smdp2(rsp_msg_slice(smdp_signed2->data + start, smdp_signed2->len - start),
                            rsp_msg_slice(s->euicc_signature1, RSP_SIG_RAW_LEN), &in);
  if (rc == RSP_OK) rc = rsp_signer_sign(id->pb, in.data, in.len, signature);
  if (rc != RSP_OK) goto out;
  memcpy(s->smdp_signature2, signature, RSP_SIG_RAW_LEN);
  stage_done(s, OP_SIGNED2);
out:
  if (rc != RSP_OK) smdp_signed2->len = start;
  rsp_buf_free(&in);
  return rc;
}

rsp_err_t
rsp_smdp_prepare_download_request_build(const struct rsp_smdp_prepare_download_parts *parts,
                                        struct rsp_buf *out) {
  struct rsp_der_writer w;
  if (!parts || !out || !is_tlv(parts->smdp_signed2, RSP_DER_SEQUENCE) ||
      !is_tlv(parts->smdp_certificate, RSP_DER_SEQUENCE) || !parts->smdp_signature2.p ||
      parts->smdp_signature2.len != RSP_SIG_RAW_LEN ||
      (parts->hash_cc.p && parts->hash_cc.len != RSP_SMDP_HASH_CC_LEN))
    return RSP_E_INVALID_ARG;
  size_t start = out->len;
  rsp_der_writer_init(&w, out);
  rsp_der_begin(&w, RSP_TAG_PREPARE_DOWNLOAD_REQUEST);
  rsp_der_put_raw(&w, parts->smdp_signed2.p, parts->smdp_signed2.len);
  rsp_der_put_octets(&w, RSP_MSG_TAG_SIGNATURE, parts->smdp_signature2.p, RSP_SIG_RAW_LEN);
  if (parts->hash_cc.p)
    rsp_der_put_octets(&w, RSP_DER_OCTET_STRING, parts->hash_cc.p, RSP_SMDP_HASH_CC_LEN);
  rsp_der_put_raw(&w, parts->smdp_certificate.p, parts->smdp_certificate.len);
  rsp_der_end(&w);
  return check_built(&rsp_msgt_prepare_download_request, out, start, rsp_der_writer_finish(&w));
}

/* PrepareDownloadResponse in either form; the compact one is refused. */
static rsp_err_t prepare_view_decode(const uint8_t *der, size_t len, struct rsp_arena *a,
                                     const struct rsp_msg_prepare_download_response_ok **ok,
                                     const struct rsp_msg_prepare_download_response_error **err) {
  const struct rsp_es10_function *fn = rsp_es10_function_by_tag(RSP_TAG_PREPARE_DOWNLOAD_REQUEST);
  void *r = NULL;
  bool sgp22 = false;
  rsp_err_t rc = rsp_es10_decode_response(fn, der, len, a, &r, &sgp22, NULL);
  if (rc != RSP_OK) return rc;
  *ok = NULL;
  *err = NULL;
  if (sgp22) {
    const struct rsp_msg_prepare_download_response *x = r;
    if (x->which == RSP_MSG_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_OK)
      *ok = x->u.download_response_ok;
    if (x->which == RSP_MSG_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_ERROR)
      *err = x->u.download_response_error;
  } else {
    const struct rsp_msg_sgp32_prepare_download_response *x = r;
    if (x->which == RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_OK)
      *ok = x->u.download_response_ok;
    if (x->which == RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_ERROR)
      *err = x->u.download_response_error;
  }
  return *ok || *err ? RSP_OK : RSP_E_UNSUPPORTED;
}

/* euiccSignature2, hashCc and otPK.EUICC of a downloadResponseOk; false after a refusal. */
static bool signed2_ok(const struct rsp_smdp_identity *id, struct rsp_smdp_session *s,
                       const struct rsp_msg_prepare_download_response_ok *ok,
                       struct rsp_smdp_status *st) {
  const struct rsp_msg_euicc_signed2 *e = ok->euicc_signed2;
  struct rsp_key *otpk = NULL;
  struct rsp_buf in;
  rsp_buf_init(&in, SIGNED_INPUT_MAX);
  /* euiccSignature2 over euiccSigned2 || 5F37 40 smdpSignature2 (notes 4.3) */
  bool sig_ok = ok->euicc_signature2.len == RSP_SIG_RAW_LEN &&
                rsp_msg_signed_euicc2(e->raw, rsp_msg_slice(s->smdp_signature2, RSP_SIG_RAW_LEN),
                                      &in) == RSP_OK &&
                rsp_ecdsa_verify(s->euicc_pk, in.data, in.len, ok->euicc_signature2.p) == RSP_OK;
  rsp_buf_free(&in);
  /* the card makes its one-time key on the curve of CERT.DPpb (SGP.22 §5.7.14) */
  bool otpk_ok = e->euicc_otpk.len == RSP_EC_POINT_LEN &&
                 rsp_key_from_point(rsp_cert_curve(id->pb_cert), e->euicc_otpk.p, e->euicc_otpk.len,
                                    &otpk) == RSP_OK;
  rsp_key_free(otpk);
  if (!sig_ok)
    refuse(s, st, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED,
           "euiccSignature2 does not verify");
  else if (s->cc_required && !e->hash_cc.p)
    refuse(s, st, RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_MISSING,
           "confirmation code required, no hashCc");
  else if (s->cc_required && (e->hash_cc.len != RSP_SMDP_HASH_CC_LEN ||
                              !rsp_ct_equal(e->hash_cc.p, s->hash_cc, RSP_SMDP_HASH_CC_LEN)))
    refuse(s, st, RSP_SMDP_SUBJECT_CONFIRMATION_CODE, RSP_SMDP_REASON_REFUSED,
           "wrong confirmation code");
  else if (!otpk_ok)
    refuse(s, st, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED,
           "otPK.EUICC.ECKA is not a point on the curve of CERT.DPpb");
  else
    memcpy(s->euicc_otpk, e->euicc_otpk.p, RSP_EC_POINT_LEN);
  return s->stage != RSP_SMDP_STAGE_CLOSED;
}

rsp_err_t rsp_smdp_prepare_download_response_verify(const struct rsp_smdp_identity *id,
                                                    struct rsp_smdp_session *s, const uint8_t *der,
                                                    size_t len, struct rsp_smdp_status *st) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_arena a;
  const struct rsp_msg_prepare_download_response_ok *ok = NULL;
  const struct rsp_msg_prepare_download_response_error *err = NULL;
  if (!id || !der || !st) return RSP_E_INVALID_ARG;
  if ((rc = stage_check(s, OP_PREPARE_RESPONSE)) != RSP_OK) return rc;
  status_init(st);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if ((rc = prepare_view_decode(der, len, &a, &ok, &err)) != RSP_OK) goto out;
  struct rsp_slice txid = ok ? ok->euicc_signed2->transaction_id : err->transaction_id;
  if (!same_bytes(txid, s->transaction_id, s->transaction_id_len)) {
    rc = refuse(s, st, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN,
                "transactionId of another session");
    goto out;
  }
  if (err) {
    st->euicc_error = err->download_error_code;
    rc = refuse(s, st, NULL, NULL, "the eUICC refused PrepareDownload (%lld)",
                (long long)err->download_error_code);
    goto out;
  }
  if (signed2_ok(id, s, ok, st)) {
    st->ok = true;
    stage_done(s, OP_PREPARE_RESPONSE);
  }
out:
  rsp_arena_free(&a);
  return rc;
}

/* ---- binding ---------------------------------------------------------------------------------
 */

/* What one binding holds until the BPP is complete. */
struct binder {
  struct rsp_key *otsk; /* otSK.DP.ECKA */
  struct rsp_key *peer; /* otPK.EUICC.ECKA */
  struct rsp_bsp bsp;
  struct rsp_buf isc;
  struct rsp_buf msg; /* one encoded command at a time (BF24, BF25, BF26) */
};

/* InitialiseSecureChannelRequest: encoded with a placeholder smdpSign, the signed input built
 * from those bytes (rsp_msg_signed_isc), then the 64 signature bytes patched in place. */
static rsp_err_t isc_make(const struct rsp_smdp_identity *id, const struct rsp_smdp_session *s,
                          struct rsp_slice host_id, struct binder *b) {
  static const uint8_t key_type = RSP_BSP_KEY_TYPE_AES, key_len = RSP_BSP_KEY_LENGTH_AES128;
  static const uint8_t sig_header[] = {(RSP_MSG_TAG_SIGNATURE >> 8) & 0xFF,
                                       RSP_MSG_TAG_SIGNATURE & 0xFF, RSP_MSG_SIG_LEN};
  const size_t tail = sizeof sig_header + RSP_SIG_RAW_LEN;
  uint8_t otpk[RSP_EC_POINT_LEN], sig[RSP_SIG_RAW_LEN] = {0};
  struct rsp_buf in;
  rsp_err_t rc = rsp_key_generate(rsp_key_curve(b->peer), &b->otsk);
  if (rc == RSP_OK) rc = rsp_key_point(b->otsk, otpk);
  if (rc != RSP_OK) return rc;
  struct rsp_msg_control_ref_template crt = {.key_type = rsp_msg_slice(&key_type, 1),
                                             .key_len = rsp_msg_slice(&key_len, 1),
                                             .host_id = host_id};
  struct rsp_msg_initialise_secure_channel_request r = {
      .remote_op_id = RSP_MSG_REMOTE_OP_ID_INSTALL_BOUND_PROFILE_PACKAGE,
      .transaction_id = rsp_msg_slice(s->transaction_id, s->transaction_id_len),
      .control_ref_template = &crt,
      .smdp_otpk = rsp_msg_slice(otpk, sizeof otpk),
      .smdp_sign = rsp_msg_slice(sig, sizeof sig)};
  if ((rc = rsp_msg_encode(&rsp_msgt_initialise_secure_channel_request, &r, &b->isc, NULL)) !=
      RSP_OK)
    return rc;
  /* smdpSign is the last element: its header must sit just before the last 64 bytes */
  if (b->isc.len < tail ||
      memcmp(b->isc.data + b->isc.len - tail, sig_header, sizeof sig_header) != 0)
    return RSP_E_INTERNAL;
  rsp_buf_init(&in, SIGNED_INPUT_MAX);
  rc = rsp_msg_signed_isc(rsp_msg_slice(b->isc.data, b->isc.len),
                          rsp_msg_slice(s->euicc_otpk, RSP_EC_POINT_LEN), &in);
  if (rc == RSP_OK) rc = rsp_signer_sign(id->pb, in.data, in.len, sig);
  rsp_buf_free(&in);
  if (rc == RSP_OK) memcpy(b->isc.data + b->isc.len - RSP_SIG_RAW_LEN, sig, RSP_SIG_RAW_LEN);
  return rc;
}

/* The session keys from ShS (notes 4.4) start the channel. */
static rsp_err_t channel_open(const struct rsp_smdp_session *s, struct rsp_slice host_id,
                              struct binder *b) {
  struct rsp_bsp_keys keys;
  rsp_err_t rc =
      rsp_bsp_derive_keys_ecdh(b->otsk, b->peer, RSP_BSP_KEY_TYPE_AES, RSP_BSP_KEY_LENGTH_AES128,
                               host_id.p, host_id.len, s->eid, &keys);
  if (rc == RSP_OK) rsp_bsp_init(&b->bsp, &keys);
  rsp_memzero(&keys, sizeof keys);
  return rc;
}

/* Wraps data into as many `tag` segments as it takes and writes them into the open container. */
static rsp_err_t put_segments(struct binder *b, struct rsp_der_writer *w, uint32_t tag,
                              const uint8_t *data, size_t len) {
  uint8_t seg[RSP_BSP_SEGMENT_MAX];
  size_t max = rsp_bsp_max_plain(tag), off = 0;
  do {
    size_t n = len - off < max ? len - off : max, seg_len = 0;
    rsp_err_t rc = rsp_bsp_wrap(&b->bsp, tag, data + off, n, seg, sizeof seg, &seg_len);
    if (rc != RSP_OK) return rc;
    rsp_der_put_raw(w, seg, seg_len);
    off += n;
  } while (off < len);
  return RSP_OK;
}

/* Encodes one command into b->msg and writes it as the segments of one container. */
static rsp_err_t put_command(struct binder *b, struct rsp_der_writer *w, uint32_t container,
                             uint32_t tag, const struct rsp_msg_type *t, const void *v) {
  rsp_buf_reset(&b->msg);
  rsp_err_t rc = rsp_msg_encode(t, v, &b->msg, NULL);
  if (rc != RSP_OK) return rc;
  rsp_der_begin(w, container);
  rc = put_segments(b, w, tag, b->msg.data, b->msg.len);
  rsp_der_end(w);
  return rc;
}

/* ReplaceSessionKeys with random PPKs in A2; the 86 segments after it use the PPKs, block
 * counter restarted at 1 (the card's choice too, docs/euicc.md; notes 4.5). */
static rsp_err_t put_replace_session_keys(struct binder *b, struct rsp_der_writer *w) {
  struct rsp_bsp_keys ppk;
  rsp_err_t rc = rsp_random(&ppk, sizeof ppk);
  struct rsp_msg_replace_session_keys_request r = {
      .initial_mac_chaining_value = rsp_msg_slice(ppk.mcv, sizeof ppk.mcv),
      .ppk_enc = rsp_msg_slice(ppk.enc, sizeof ppk.enc),
      .ppk_cmac = rsp_msg_slice(ppk.mac, sizeof ppk.mac)};
  if (rc == RSP_OK)
    rc = put_command(b, w, RSP_MSG_TAG_BPP_SECOND_SEQUENCE_OF_87, RSP_BSP_TAG_SEQUENCE_OF_87,
                     &rsp_msgt_replace_session_keys_request, &r);
  if (rc == RSP_OK) rc = rsp_bsp_replace_keys(&b->bsp, &ppk, RSP_BSP_COUNTER_RESTART);
  rsp_memzero(&ppk, sizeof ppk);
  rsp_memzero(b->msg.data, b->msg.len);
  return rc;
}

/* BF36 { BF23, A0 {87}, A1 {88...}, [A2 {87}], A3 {86...} } (notes 4.5). */
static rsp_err_t bpp_write(const struct rsp_smdp_identity *id, const struct rsp_smdp_profile *p,
                           struct binder *b, struct rsp_buf *bpp) {
  struct rsp_der_writer w;
  struct rsp_msg_dp_proprietary_data dp = {.dp_oid = rsp_msg_slice(id->oid, id->oid_len)};
  struct rsp_msg_configure_isdp_request isdp = {.dp_proprietary_data = id->oid_len ? &dp : NULL};
  rsp_der_writer_init(&w, bpp);
  rsp_der_begin(&w, RSP_TAG_BOUND_PROFILE_PACKAGE);
  rsp_der_put_raw(&w, b->isc.data, b->isc.len);
  rsp_err_t rc = put_command(b, &w, RSP_MSG_TAG_BPP_FIRST_SEQUENCE_OF_87,
                             RSP_BSP_TAG_SEQUENCE_OF_87, &rsp_msgt_configure_isdp_request, &isdp);
  if (rc == RSP_OK)
    rc = put_command(b, &w, RSP_MSG_TAG_BPP_SEQUENCE_OF_88, RSP_BSP_TAG_SEQUENCE_OF_88,
                     &rsp_msgt_sgp32_store_metadata_request, p->metadata);
  if (rc == RSP_OK && p->replace_session_keys) rc = put_replace_session_keys(b, &w);
  if (rc == RSP_OK) {
    rsp_der_begin(&w, RSP_MSG_TAG_BPP_SEQUENCE_OF_86);
    rc = put_segments(b, &w, RSP_BSP_TAG_SEQUENCE_OF_86, p->upp.p, p->upp.len);
    rsp_der_end(&w);
  }
  rsp_der_end(&w);
  rsp_err_t wrc = rsp_der_writer_finish(&w);
  return rc != RSP_OK ? rc : wrc;
}

rsp_err_t rsp_smdp_bind_profile(const struct rsp_smdp_identity *id, struct rsp_smdp_session *s,
                                const struct rsp_smdp_profile *p, struct rsp_buf *bpp) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct binder b = {0};
  if (!id || !p || !p->metadata || !p->upp.p || p->upp.len == 0 || !bpp) return RSP_E_INVALID_ARG;
  if (p->upp.len > RSP_SMDP_UPP_MAX) return RSP_E_BUF_CAP;
  struct rsp_slice host =
      p->host_id.p ? p->host_id
                   : rsp_msg_slice(RSP_SMDP_HOST_ID_DEFAULT, sizeof RSP_SMDP_HOST_ID_DEFAULT - 1);
  if (host.len == 0 || host.len > RSP_BSP_HOST_ID_MAX) return RSP_E_INVALID_ARG;
  if ((rc = stage_check(s, OP_BIND)) != RSP_OK) return rc;
  size_t start = bpp->len;
  rsp_buf_init(&b.isc, ISC_MAX);
  rsp_buf_init(&b.msg, METADATA_MAX);
  rc = rsp_key_from_point(rsp_cert_curve(id->pb_cert), s->euicc_otpk, RSP_EC_POINT_LEN, &b.peer);
  if (rc == RSP_OK) rc = isc_make(id, s, host, &b);
  if (rc == RSP_OK) rc = channel_open(s, host, &b);
  if (rc == RSP_OK) rc = bpp_write(id, p, &b, bpp);
  if (rc == RSP_OK) {
    stage_done(s, OP_BIND);
    rsp_log(RSP_LOG_DEBUG, COMP, "bound %zu bytes of profile into a BPP of %zu bytes", p->upp.len,
            bpp->len - start);
  } else {
    bpp->len = start;
    rsp_log(RSP_LOG_INFO, COMP, "binding failed: %s", rsp_strerror(rc));
  }
  rsp_key_free(b.otsk);
  rsp_key_free(b.peer);
  rsp_bsp_free(&b.bsp);
  rsp_buf_free(&b.isc);
  rsp_buf_free(&b.msg);
  return rc;
}

/* ---- after the download ----------------------------------------------------------------------
 */

static void pir_result(const struct rsp_msg_profile_installation_result_data *d,
                       struct rsp_smdp_pir *out) {
  const struct rsp_msg_profile_installation_result_data_final_result *f = d->final_result;
  const struct rsp_msg_notification_metadata *nm = d->notification_metadata;
  memset(out, 0, sizeof *out);
  out->transaction_id_len = d->transaction_id.len;
  memcpy(out->transaction_id, d->transaction_id.p, d->transaction_id.len);
  out->seq_number = nm->seq_number;
  out->has_iccid = nm->iccid.p && nm->iccid.len == RSP_ICCID_LEN;
  if (out->has_iccid) memcpy(out->iccid, nm->iccid.p, RSP_ICCID_LEN);
  if (f->which == RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT) {
    out->success = true;
    out->aid_len = f->u.success_result->aid.len;
    memcpy(out->aid, f->u.success_result->aid.p, out->aid_len);
  } else if (f->which == RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT) {
    out->bpp_command_id = f->u.error_result->bpp_command_id;
    out->error_reason = f->u.error_result->error_reason;
  } else {
    out->error_reason = RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_UNKNOWN_ERROR;
  }
}

rsp_err_t rsp_smdp_pir_verify(const struct rsp_key *euicc_pk,
                              struct rsp_slice expected_transaction_id, const uint8_t *der,
                              size_t len, struct rsp_smdp_pir *out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_arena a;
  struct rsp_msg_profile_installation_result *r = NULL;
  if (!euicc_pk || !der || !out) return RSP_E_INVALID_ARG;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if ((rc = rsp_msg_decode(&rsp_msgt_profile_installation_result, der, len, &a, (void **)&r,
                           NULL)) != RSP_OK)
    goto out;
  const struct rsp_msg_profile_installation_result_data *d = r->profile_installation_result_data;
  /* euiccSignPIR over ProfileInstallationResultData as received (notes 4.3) */
  rc = r->euicc_sign_pir.len == RSP_SIG_RAW_LEN
           ? rsp_ecdsa_verify(euicc_pk, d->raw.p, d->raw.len, r->euicc_sign_pir.p)
           : RSP_E_SIG_FORMAT;
  if (rc != RSP_OK) goto out;
  if (expected_transaction_id.p &&
      !same_bytes(d->transaction_id, expected_transaction_id.p, expected_transaction_id.len)) {
    rc = RSP_E_STATE;
    goto out;
  }
  pir_result(d, out);
out:
  rsp_arena_free(&a);
  return rc;
}

/* CancelSessionResponse in either form: the signed part or the card's error code. */
static rsp_err_t cancel_view_decode(const uint8_t *der, size_t len, struct rsp_arena *a,
                                    const struct rsp_msg_cancel_session_response_ok **ok,
                                    int64_t *error) {
  const struct rsp_es10_function *fn = rsp_es10_function_by_tag(RSP_TAG_CANCEL_SESSION_REQUEST);
  void *r = NULL;
  bool sgp22 = false;
  rsp_err_t rc = rsp_es10_decode_response(fn, der, len, a, &r, &sgp22, NULL);
  if (rc != RSP_OK) return rc;
  *ok = NULL;
  *error = 0;
  if (sgp22) {
    const struct rsp_msg_cancel_session_response *x = r;
    if (x->which == RSP_MSG_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK)
      *ok = x->u.cancel_session_response_ok;
    if (x->which == RSP_MSG_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_ERROR)
      *error = x->u.cancel_session_response_error;
  } else {
    const struct rsp_msg_sgp32_cancel_session_response *x = r;
    if (x->which == RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK)
      *ok = x->u.cancel_session_response_ok;
    if (x->which == RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_ERROR)
      *error = x->u.cancel_session_response_error;
  }
  return *ok || *error ? RSP_OK : RSP_E_UNSUPPORTED;
}

rsp_err_t rsp_smdp_cancel_session_response_verify(const struct rsp_smdp_identity *id,
                                                  struct rsp_smdp_session *s, const uint8_t *der,
                                                  size_t len, int64_t *reason,
                                                  struct rsp_smdp_status *st) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_arena a;
  const struct rsp_msg_cancel_session_response_ok *ok = NULL;
  int64_t error = 0;
  if (!id || !s || !der || !reason || !st) return RSP_E_INVALID_ARG;
  /* PK.EUICC is known from AuthenticateClient on; a closed session has nothing to cancel */
  if (!s->euicc_pk || s->stage == RSP_SMDP_STAGE_CLOSED) return RSP_E_STATE;
  status_init(st);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if ((rc = cancel_view_decode(der, len, &a, &ok, &error)) != RSP_OK) goto out;
  if (!ok) {
    st->euicc_error = error;
    rc = refuse(s, st, NULL, NULL, "the eUICC refused CancelSession (%lld)", (long long)error);
    goto out;
  }
  const struct rsp_msg_euicc_cancel_session_signed *c = ok->euicc_cancel_session_signed;
  if (!same_bytes(c->transaction_id, s->transaction_id, s->transaction_id_len))
    rc = refuse(s, st, RSP_SMDP_SUBJECT_TRANSACTION_ID, RSP_SMDP_REASON_UNKNOWN,
                "transactionId of another session");
  else if (ok->euicc_cancel_session_signature.len != RSP_SIG_RAW_LEN ||
           rsp_ecdsa_verify(s->euicc_pk, c->raw.p, c->raw.len,
                            ok->euicc_cancel_session_signature.p) != RSP_OK)
    rc = refuse(s, st, RSP_SMDP_SUBJECT_EUICC, RSP_SMDP_REASON_VERIFICATION_FAILED,
                "euiccCancelSessionSignature does not verify");
  else if (!same_bytes(c->smdp_oid, id->oid, id->oid_len))
    rc = refuse(s, st, RSP_SMDP_SUBJECT_SMDP_OID, RSP_SMDP_REASON_INVALID,
                "smdpOid of another SM-DP+");
  else {
    *reason = c->reason;
    st->ok = true;
    s->stage = RSP_SMDP_STAGE_CLOSED; /* a cancelled session is over */
  }
out:
  rsp_arena_free(&a);
  return rc;
}
