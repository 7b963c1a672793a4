/* SGP.22 profile download on the card (SGP.22 §3.1.3, §5.7.13 to §5.7.16, notes 4.3 to 4.6):
 * AuthenticateServer, PrepareDownload, LoadBoundProfilePackage and CancelSession.
 *
 * The session lives in RAM (struct euicc_download) and dies with a power cycle, as on a real
 * card. The Bound Profile Package arrives as a byte stream cut at arbitrary STORE DATA
 * boundaries (SGP.22 §2.5.5); download.c parses it incrementally: the BF36 header, the whole
 * InitialiseSecureChannel, then each container (A0..A3) header and its segments. Only the last
 * segment commits anything: the profile and its signed ProfileInstallationResult are stored in
 * one commit, so an interrupted download leaves no trace but an unused session. */
#include <stdio.h>
#include <string.h>

#include "euicc_handlers.h"
#include "euicc_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/crypto/bsp.h"
#include "rsp/msg/signed.h"
#include "rsp/msg/tags.h"

#define MAX_UPP (1024u * 1024u) /* largest profile package the card accepts */
#define TAG_A0 0xA0u            /* firstSequenceOf87 */
#define TAG_A1 0xA1u            /* sequenceOf88 */
#define TAG_A2 0xA2u            /* secondSequenceOf87 */
#define TAG_A3 0xA3u            /* sequenceOf86 */
#define REMOTE_OP_INSTALL_BPP 1 /* RemoteOpId installBoundProfilePackage */

/* simaResponse of a successful installation: EUICCResponse { peStatus { { status ok } } }, the
 * value SGP.32 assumes when a compact result omits it (notes 2.5). */
static const uint8_t SIMA_OK[] = {0x30, 0x07, 0xA0, 0x05, 0x30, 0x03, 0x80, 0x01, 0x00};

enum dl_stage { DL_IDLE, DL_AUTHENTICATED, DL_PREPARED, DL_LOADING };

/* Where the BPP parser is: what the next element must be. */
enum bpp_phase {
  P_OUTER, /* BF36 tag and length */
  P_ISC,   /* the complete BF23 */
  P_A0,    /* A0 header */
  P_87A,   /* 87 segments inside A0 */
  P_A1,    /* A1 header */
  P_88,    /* 88 segments inside A1 */
  P_A2_A3, /* A2 header (optional) or A3 header */
  P_87B,   /* 87 segments inside A2 */
  P_A3,    /* A3 header */
  P_86,    /* 86 segments inside A3 */
};

struct euicc_download {
  enum dl_stage stage;
  bool smds; /* authenticated an SM-DS (CERT.DSauth): event retrieval, no download follows */
  uint8_t txid[16];
  size_t txid_len;
  char server_address[EUICC_MAX_ADDRESS + 1];
  uint8_t smdp_oid[64];
  size_t smdp_oid_len;
  uint8_t euicc_sig1[64];
  uint8_t ci_ski[64];
  size_t ci_ski_len;
  struct rsp_key *otsk; /* otSK.EUICC.ECKA */
  uint8_t otpk[RSP_EC_POINT_LEN];
  struct rsp_key *dppb; /* PK of CERT.DPpb */
  /* BPP */
  enum bpp_phase phase;
  size_t left; /* bytes left in the current container (A0..A3) */
  int bpp_cmd; /* BppCommandId of the element being processed, for errors */
  struct rsp_buf stream;
  struct rsp_bsp bsp;
  struct rsp_buf metadata; /* StoreMetadataRequest from the 88 segments */
  struct rsp_buf rsk;      /* ReplaceSessionKeysRequest from the A2 87 segments */
  struct rsp_buf upp;      /* profile package from the 86 segments */
};

static struct euicc_download *session(struct rsp_euicc *c) {
  if (!c->dl) {
    c->dl = rsp_calloc(1, sizeof *c->dl);
    if (!c->dl) return NULL;
    rsp_buf_init(&c->dl->stream, EUICC_MAX_COMMAND * 2);
    rsp_buf_init(&c->dl->metadata, 65536);
    rsp_buf_init(&c->dl->rsk, 1024);
    rsp_buf_init(&c->dl->upp, MAX_UPP);
  }
  return c->dl;
}

void rsp__euicc_download_reset(struct rsp_euicc *c) {
  struct euicc_download *d = c->dl;
  if (!d) return;
  rsp_key_free(d->otsk);
  rsp_key_free(d->dppb);
  d->otsk = d->dppb = NULL;
  rsp_bsp_free(&d->bsp);
  rsp_buf_reset(&d->stream);
  rsp_buf_reset(&d->metadata);
  rsp_buf_reset(&d->rsk);
  rsp_buf_reset(&d->upp);
  d->stage = DL_IDLE;
  d->smds = false;
  d->phase = P_OUTER;
}

void rsp__euicc_download_free(struct rsp_euicc *c) {
  if (!c->dl) return;
  rsp__euicc_download_reset(c);
  rsp_buf_free(&c->dl->stream);
  rsp_buf_free(&c->dl->metadata);
  rsp_buf_free(&c->dl->rsk);
  rsp_buf_free(&c->dl->upp);
  rsp_free(c->dl);
  c->dl = NULL;
}

static struct rsp_chain_opts chain_opts(struct rsp_euicc *c, struct rsp_slice ski) {
  struct rsp_chain_opts o = {.now = rsp__euicc_now(c),
                             .ignore_time = c->opts.ignore_cert_time,
                             .ci_ski = ski.p,
                             .ci_ski_len = ski.len};
  return o;
}

/* ---- AuthenticateServer -------------------------------------------------------------------------
 */

/* serverCertificate is CERT.DPauth (an SM-DP+) or CERT.DSauth (an SM-DS retrieving events):
 * SGP.22 §5.7.13 accepts both, each verified for its own role policy up to the CI. Any other
 * certificate, even a valid one of another role (CERT.DPpb, a TLS certificate), is refused. */
static int64_t check_server(struct rsp_euicc *c,
                            const struct rsp_msg_authenticate_server_request *r,
                            struct rsp_cert **cert, bool *smds) {
  const struct rsp_msg_server_signed1 *s1 = r->server_signed1;
  struct rsp_chain_opts o = chain_opts(c, r->euicc_ci_pk_id_to_be_used);
  struct rsp_key *key = NULL;
  if (!rsp_ci_store_find(c->cis, r->euicc_ci_pk_id_to_be_used.p, r->euicc_ci_pk_id_to_be_used.len))
    return RSP_MSG_AUTHENTICATE_ERROR_CODE_CI_PK_UNKNOWN;
  if (rsp_cert_parse(r->server_certificate.p, r->server_certificate.len, cert) != RSP_OK)
    return RSP_MSG_AUTHENTICATE_ERROR_CODE_INVALID_CERTIFICATE;
  *smds = rsp_cert_role(*cert) == RSP_ROLE_DS_AUTH;
  if (rsp_x509_verify_server_cert(c->cis, *cert, *smds ? RSP_ROLE_DS_AUTH : RSP_ROLE_DP_AUTH, &o,
                                  NULL) != RSP_OK)
    return RSP_MSG_AUTHENTICATE_ERROR_CODE_INVALID_CERTIFICATE;
  if (rsp_cert_public_key(*cert, &key) != RSP_OK)
    return RSP_MSG_AUTHENTICATE_ERROR_CODE_UNSUPPORTED_CURVE;
  bool ok = r->server_signature1.len == 64 &&
            rsp_ecdsa_verify(key, s1->raw.p, s1->raw.len, r->server_signature1.p) == RSP_OK;
  rsp_key_free(key);
  if (!ok) return RSP_MSG_AUTHENTICATE_ERROR_CODE_INVALID_SIGNATURE;
  if (!c->challenge_valid || s1->euicc_challenge.len != 16 ||
      memcmp(s1->euicc_challenge.p, c->challenge, 16) != 0)
    return RSP_MSG_AUTHENTICATE_ERROR_CODE_EUICC_CHALLENGE_MISMATCH;
  return 0;
}

static rsp_err_t auth_error(const struct rsp_msg_server_signed1 *s1, int64_t code,
                            struct rsp_buf *resp) {
  struct rsp_msg_authenticate_response_error e = {.transaction_id = s1->transaction_id,
                                                  .authenticate_error_code = code};
  struct rsp_msg_sgp32_authenticate_server_response out = {
      .which = RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_ERROR,
      .u.authenticate_response_error = &e};
  return rsp__euicc_encode(&rsp_msgt_sgp32_authenticate_server_response, &out, resp);
}

/* EUICCInfo2 as GetEUICCInfo2 answers it, decoded, for euiccSigned1. */
static rsp_err_t info2(struct rsp_euicc *c, struct rsp_arena *a,
                       struct rsp_msg_sgp32_euicc_info2 **out) {
  struct rsp_buf b;
  bool changed = false;
  struct rsp_msg_get_euicc_info2_request q = {0};
  rsp_buf_init(&b, 4096);
  rsp_err_t rc = rsp__euicc_get_info2(c, &q, a, &b, &changed);
  uint8_t *copy = rc == RSP_OK ? rsp_arena_alloc(a, b.len) : NULL;
  if (copy) {
    memcpy(copy, b.data, b.len);
    rc = rsp_msg_decode(&rsp_msgt_sgp32_euicc_info2, copy, b.len, a, (void **)out, NULL);
  } else if (rc == RSP_OK) {
    rc = RSP_E_NOMEM;
  }
  rsp_buf_free(&b);
  return rc;
}

EUICC_HANDLER(rsp__euicc_authenticate_server) {
  const struct rsp_msg_authenticate_server_request *r = req;
  const struct rsp_msg_server_signed1 *s1 = r->server_signed1;
  struct euicc_download *d = session(c);
  struct rsp_cert *cert = NULL;
  struct rsp_msg_sgp32_euicc_info2 *i2 = NULL;
  uint8_t sig[64];
  bool smds = false;
  rsp_err_t rc;
  (void)changed;
  if (!d) return RSP_E_NOMEM;
  rsp__euicc_download_reset(c);
  int64_t err = check_server(c, r, &cert, &smds);
  c->challenge_valid = false; /* one authentication per challenge */
  if (!err && (s1->server_address.len > EUICC_MAX_ADDRESS || s1->transaction_id.len > 16))
    err = RSP_MSG_AUTHENTICATE_ERROR_CODE_UNDEFINED_ERROR;
  if (!err &&
      rsp_cert_registered_id(cert, d->smdp_oid, sizeof d->smdp_oid, &d->smdp_oid_len) != RSP_OK)
    err = RSP_MSG_AUTHENTICATE_ERROR_CODE_INVALID_OID;
  rsp_cert_free(cert);
  if (err) {
    rsp_log(RSP_LOG_INFO, "euicc", "card %s: AuthenticateServer refused (%lld)", c->eid_digits,
            (long long)err);
    return auth_error(s1, err, resp);
  }
  if ((rc = info2(c, a, &i2)) != RSP_OK) return rc;
  struct rsp_msg_sgp32_euicc_signed1 es1 = {.transaction_id = s1->transaction_id,
                                            .server_address = s1->server_address,
                                            .server_challenge = s1->server_challenge,
                                            .euicc_info2 = i2,
                                            .ctx_params1 = r->ctx_params1};
  struct rsp_buf der;
  rsp_buf_init(&der, 8192);
  rc = rsp_msg_encode(&rsp_msgt_sgp32_euicc_signed1, &es1, &der, NULL);
  struct rsp_slice part = rsp_msg_slice(der.data, der.len);
  if (rc == RSP_OK) rc = rsp__euicc_sign(c, &part, 1, sig);
  rsp_buf_free(&der);
  if (rc != RSP_OK) return rc;
  struct rsp_msg_sgp32_authenticate_response_ok ok = {.euicc_signed1 = &es1,
                                                      .euicc_signature1 = rsp_msg_slice(sig, 64),
                                                      .euicc_certificate = rsp_cert_der(c->cert),
                                                      .eum_certificate = rsp_cert_der(c->eum_cert)};
  struct rsp_msg_sgp32_authenticate_server_response out = {
      .which = RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK,
      .u.authenticate_response_ok = &ok};
  memcpy(d->txid, s1->transaction_id.p, s1->transaction_id.len);
  d->txid_len = s1->transaction_id.len;
  snprintf(d->server_address, sizeof d->server_address, "%.*s", (int)s1->server_address.len,
           (const char *)s1->server_address.p);
  memcpy(d->euicc_sig1, sig, 64);
  d->ci_ski_len = r->euicc_ci_pk_id_to_be_used.len < sizeof d->ci_ski
                      ? r->euicc_ci_pk_id_to_be_used.len
                      : sizeof d->ci_ski;
  memcpy(d->ci_ski, r->euicc_ci_pk_id_to_be_used.p, d->ci_ski_len);
  d->stage = DL_AUTHENTICATED;
  d->smds = smds;
  return rsp__euicc_encode(&rsp_msgt_sgp32_authenticate_server_response, &out, resp);
}

/* ---- PrepareDownload
 * ----------------------------------------------------------------------------- */

static bool same_txid(const struct euicc_download *d, struct rsp_slice t) {
  return t.len == d->txid_len && memcmp(t.p, d->txid, t.len) == 0;
}

static int64_t check_prepare(struct rsp_euicc *c,
                             const struct rsp_msg_prepare_download_request *r) {
  struct euicc_download *d = c->dl;
  struct rsp_cert *cert = NULL;
  struct rsp_buf in;
  int64_t err = 0;
  /* a session with an SM-DS only retrieves events: no profile comes from it */
  if (!d || d->stage != DL_AUTHENTICATED || d->smds)
    return RSP_MSG_DOWNLOAD_ERROR_CODE_NO_SESSION_CONTEXT;
  if (!same_txid(d, r->smdp_signed2->transaction_id))
    return RSP_MSG_DOWNLOAD_ERROR_CODE_INVALID_TRANSACTION_ID;
  struct rsp_chain_opts o = chain_opts(c, rsp_msg_slice(d->ci_ski, d->ci_ski_len));
  if (rsp_cert_parse(r->smdp_certificate.p, r->smdp_certificate.len, &cert) != RSP_OK ||
      rsp_x509_verify_server_cert(c->cis, cert, RSP_ROLE_DP_PB, &o, NULL) != RSP_OK) {
    rsp_cert_free(cert);
    return RSP_MSG_DOWNLOAD_ERROR_CODE_INVALID_CERTIFICATE;
  }
  rsp_key_free(d->dppb);
  d->dppb = NULL;
  if (rsp_cert_public_key(cert, &d->dppb) != RSP_OK)
    err = RSP_MSG_DOWNLOAD_ERROR_CODE_UNSUPPORTED_CURVE;
  rsp_cert_free(cert);
  if (err) return err;
  /* smdpSignature2 over smdpSigned2 || 5F37 40 euiccSignature1 (notes 4.3) */
  rsp_buf_init(&in, 4096);
  if (rsp_msg_signed_smdp2(r->smdp_signed2->raw, rsp_msg_slice(d->euicc_sig1, 64), &in) != RSP_OK ||
      r->smdp_signature2.len != 64 ||
      rsp_ecdsa_verify(d->dppb, in.data, in.len, r->smdp_signature2.p) != RSP_OK)
    err = RSP_MSG_DOWNLOAD_ERROR_CODE_INVALID_SIGNATURE;
  rsp_buf_free(&in);
  if (!err && r->smdp_signed2->cc_required_flag && !r->hash_cc.p)
    err = RSP_MSG_DOWNLOAD_ERROR_CODE_UNDEFINED_ERROR;
  return err;
}

EUICC_HANDLER(rsp__euicc_prepare_download) {
  const struct rsp_msg_prepare_download_request *r = req;
  struct euicc_download *d = session(c);
  uint8_t sig[64];
  struct rsp_buf der, in;
  (void)a;
  (void)changed;
  if (!d) return RSP_E_NOMEM;
  int64_t err = check_prepare(c, r);
  if (err) {
    struct rsp_msg_prepare_download_response_error e = {
        .transaction_id = r->smdp_signed2->transaction_id, .download_error_code = err};
    struct rsp_msg_sgp32_prepare_download_response out = {
        .which = RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_ERROR,
        .u.download_response_error = &e};
    rsp_log(RSP_LOG_INFO, "euicc", "card %s: PrepareDownload refused (%lld)", c->eid_digits,
            (long long)err);
    if (err != RSP_MSG_DOWNLOAD_ERROR_CODE_NO_SESSION_CONTEXT) rsp__euicc_download_reset(c);
    return rsp__euicc_encode(&rsp_msgt_sgp32_prepare_download_response, &out, resp);
  }
  /* one-time key pair on the curve of CERT.DPpb */
  rsp_key_free(d->otsk);
  d->otsk = NULL;
  rsp_err_t rc = rsp_key_generate(rsp_key_curve(d->dppb), &d->otsk);
  if (rc == RSP_OK) rc = rsp_key_point(d->otsk, d->otpk);
  if (rc != RSP_OK) return rc;
  struct rsp_msg_euicc_signed2 es2 = {.transaction_id = r->smdp_signed2->transaction_id,
                                      .euicc_otpk = rsp_msg_slice(d->otpk, sizeof d->otpk),
                                      .hash_cc = r->hash_cc};
  rsp_buf_init(&der, 1024);
  rsp_buf_init(&in, 1024);
  rc = rsp_msg_encode(&rsp_msgt_euicc_signed2, &es2, &der, NULL);
  if (rc == RSP_OK)
    rc = rsp_msg_signed_euicc2(rsp_msg_slice(der.data, der.len), r->smdp_signature2, &in);
  struct rsp_slice part = rsp_msg_slice(in.data, in.len);
  if (rc == RSP_OK) rc = rsp__euicc_sign(c, &part, 1, sig);
  rsp_buf_free(&der);
  rsp_buf_free(&in);
  if (rc != RSP_OK) return rc;
  struct rsp_msg_prepare_download_response_ok ok = {.euicc_signed2 = &es2,
                                                    .euicc_signature2 = rsp_msg_slice(sig, 64)};
  struct rsp_msg_sgp32_prepare_download_response out = {
      .which = RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_OK,
      .u.download_response_ok = &ok};
  d->stage = DL_PREPARED;
  d->phase = P_OUTER;
  return rsp__euicc_encode(&rsp_msgt_sgp32_prepare_download_response, &out, resp);
}

/* ---- CancelSession
 * --------------------------------------------------------------------------------- */

EUICC_HANDLER(rsp__euicc_cancel_session) {
  const struct rsp_msg_cancel_session_request *r = req;
  struct euicc_download *d = c->dl;
  struct rsp_msg_sgp32_cancel_session_response out = {
      .which = RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_ERROR,
      .u.cancel_session_response_error =
          RSP_MSG_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_ERROR_INVALID_TRANSACTION_ID};
  uint8_t sig[64];
  (void)a;
  (void)changed;
  if (!d || d->stage == DL_IDLE || !same_txid(d, r->transaction_id))
    return rsp__euicc_encode(&rsp_msgt_sgp32_cancel_session_response, &out, resp);
  struct rsp_msg_euicc_cancel_session_signed s = {.transaction_id = r->transaction_id,
                                                  .smdp_oid =
                                                      rsp_msg_slice(d->smdp_oid, d->smdp_oid_len),
                                                  .reason = r->reason};
  struct rsp_buf der;
  rsp_buf_init(&der, 1024);
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_euicc_cancel_session_signed, &s, &der, NULL);
  struct rsp_slice part = rsp_msg_slice(der.data, der.len);
  if (rc == RSP_OK) rc = rsp__euicc_sign(c, &part, 1, sig);
  rsp_buf_free(&der);
  if (rc != RSP_OK) return rc;
  struct rsp_msg_cancel_session_response_ok ok = {
      .euicc_cancel_session_signed = &s, .euicc_cancel_session_signature = rsp_msg_slice(sig, 64)};
  out.which = RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK;
  out.u.cancel_session_response_ok = &ok;
  rc = rsp__euicc_encode(&rsp_msgt_sgp32_cancel_session_response, &out, resp);
  rsp_log(RSP_LOG_INFO, "euicc", "card %s: download session cancelled (reason %lld)", c->eid_digits,
          (long long)r->reason);
  rsp__euicc_download_reset(c);
  return rc;
}

/* ---- LoadBoundProfilePackage
 * ------------------------------------------------------------------------ */

/* A STORE DATA sequence belongs to the BPP stream when it starts one (BF36), or while a BPP is
 * loading and either a partial element is buffered (the IPA may cut anywhere) or it starts with
 * one of the BPP's element tags. */
bool rsp__euicc_bpp_accepts(const struct rsp_euicc *c, const uint8_t *req, size_t len) {
  if (len >= 2 && req[0] == 0xBF && req[1] == 0x36) return true;
  if (!c->dl || c->dl->stage != DL_LOADING || len == 0) return false;
  return c->dl->stream.len > 0 || req[0] == TAG_A0 || req[0] == TAG_A1 || req[0] == TAG_A2 ||
         req[0] == TAG_A3 || req[0] == RSP_BSP_TAG_SEQUENCE_OF_86 ||
         req[0] == RSP_BSP_TAG_SEQUENCE_OF_87 || req[0] == RSP_BSP_TAG_SEQUENCE_OF_88;
}

/* Reads a tag and a length (no value) at *p; RSP_E_DER_TRUNCATED when more bytes are needed. */
static rsp_err_t read_header(const uint8_t **p, const uint8_t *end, uint32_t tag, size_t *len) {
  const uint8_t *q = *p;
  uint8_t t[4];
  size_t tn = rsp_der_encode_tag(tag, t);
  if ((size_t)(end - q) < tn + 1) return RSP_E_DER_TRUNCATED;
  if (memcmp(q, t, tn) != 0) return RSP_E_DER_UNEXPECTED_TAG;
  q += tn;
  size_t n = *q++;
  if (n & 0x80) {
    size_t k = n & 0x7F;
    if (k == 0 || k > 3) return RSP_E_DER_BAD_VALUE;
    if ((size_t)(end - q) < k) return RSP_E_DER_TRUNCATED;
    n = 0;
    for (size_t i = 0; i < k; i++) n = n << 8 | *q++;
  }
  *len = n;
  *p = q;
  return RSP_OK;
}

/* Length of the complete TLV at p; RSP_E_DER_TRUNCATED while more bytes are needed. */
static rsp_err_t tlv_len(const uint8_t *p, const uint8_t *end, size_t *len) {
  struct rsp_der_tlv tlv;
  const uint8_t *q = p;
  rsp_err_t rc = rsp_der_read_tlv(&q, end, &tlv);
  *len = rc == RSP_OK ? tlv.raw_len : 0;
  return rc;
}

struct pir_outcome {
  bool ok;
  int64_t cmd;    /* BppCommandId */
  int64_t reason; /* ErrorReason */
  struct euicc_profile *profile;
};

/* InitialiseSecureChannel: checks, ECDH and the session keys (notes 4.4). */
static int64_t initialise_secure_channel(struct rsp_euicc *c, const uint8_t *isc, size_t len,
                                         struct rsp_arena *a) {
  struct euicc_download *d = c->dl;
  struct rsp_msg_initialise_secure_channel_request *r = NULL;
  struct rsp_key *smdp_otpk = NULL;
  struct rsp_bsp_keys keys;
  struct rsp_buf in;
  if (rsp_msg_decode(&rsp_msgt_initialise_secure_channel_request, isc, len, a, (void **)&r, NULL) !=
      RSP_OK)
    return RSP_MSG_ERROR_REASON_INCORRECT_INPUT_VALUES;
  if (r->remote_op_id != REMOTE_OP_INSTALL_BPP)
    return RSP_MSG_ERROR_REASON_UNSUPPORTED_REMOTE_OPERATION_TYPE;
  if (!same_txid(d, r->transaction_id)) return RSP_MSG_ERROR_REASON_INVALID_TRANSACTION_ID;
  const struct rsp_msg_control_ref_template *crt = r->control_ref_template;
  if (crt->key_type.p[0] != RSP_BSP_KEY_TYPE_AES || crt->key_len.p[0] != RSP_BSP_KEY_LENGTH_AES128)
    return RSP_MSG_ERROR_REASON_UNSUPPORTED_CRT_VALUES;
  rsp_buf_init(&in, 1024);
  bool sig_ok = rsp_msg_signed_isc(rsp_msg_slice(isc, len), rsp_msg_slice(d->otpk, sizeof d->otpk),
                                   &in) == RSP_OK &&
                r->smdp_sign.len == 64 &&
                rsp_ecdsa_verify(d->dppb, in.data, in.len, r->smdp_sign.p) == RSP_OK;
  rsp_buf_free(&in);
  if (!sig_ok) return RSP_MSG_ERROR_REASON_INVALID_SIGNATURE;
  if (rsp_key_from_point(rsp_key_curve(d->otsk), r->smdp_otpk.p, r->smdp_otpk.len, &smdp_otpk) !=
      RSP_OK)
    return RSP_MSG_ERROR_REASON_INCORRECT_INPUT_VALUES;
  rsp_err_t rc = rsp_bsp_derive_keys_ecdh(d->otsk, smdp_otpk, crt->key_type.p[0], crt->key_len.p[0],
                                          crt->host_id.p, crt->host_id.len, c->eid, &keys);
  rsp_key_free(smdp_otpk);
  if (rc != RSP_OK) return RSP_MSG_ERROR_REASON_UNSUPPORTED_CRT_VALUES;
  rsp_bsp_init(&d->bsp, &keys);
  rsp_memzero(&keys, sizeof keys);
  return 0;
}

/* One segment: verify/decrypt and route the plaintext to the element being assembled. */
static int64_t segment(struct rsp_euicc *c, uint32_t tag, const uint8_t **p, const uint8_t *end,
                       struct rsp_buf *into) {
  uint8_t plain[RSP_BSP_MAC_PLAIN_MAX];
  size_t n;
  rsp_err_t rc = rsp_bsp_unwrap(&c->dl->bsp, tag, p, end, plain, sizeof plain, &n);
  if (rc == RSP_E_SIG_INVALID || rc == RSP_E_CRYPTO)
    return RSP_MSG_ERROR_REASON_SCP03T_SECURITY_ERROR;
  if (rc != RSP_OK) return RSP_MSG_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
  if (rsp_buf_append(into, plain, n) != RSP_OK)
    return RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE;
  return 0;
}

static int64_t replace_session_keys(struct rsp_euicc *c, struct rsp_arena *a) {
  struct rsp_msg_replace_session_keys_request *r = NULL;
  struct rsp_bsp_keys ppk;
  struct euicc_download *d = c->dl;
  if (rsp_msg_decode(&rsp_msgt_replace_session_keys_request, d->rsk.data, d->rsk.len, a,
                     (void **)&r, NULL) != RSP_OK ||
      r->initial_mac_chaining_value.len != 16 || r->ppk_enc.len != 16 || r->ppk_cmac.len != 16)
    return RSP_MSG_ERROR_REASON_INCORRECT_INPUT_VALUES;
  memcpy(ppk.mcv, r->initial_mac_chaining_value.p, 16);
  memcpy(ppk.enc, r->ppk_enc.p, 16);
  memcpy(ppk.mac, r->ppk_cmac.p, 16);
  /* the block counter restarts at 1 for the 86 segments (notes 4.5, unconfirmed; docs/euicc.md) */
  rsp_err_t rc = rsp_bsp_replace_keys(&d->bsp, &ppk, RSP_BSP_COUNTER_RESTART);
  rsp_memzero(&ppk, sizeof ppk);
  return rc == RSP_OK ? 0 : RSP_MSG_ERROR_REASON_INCORRECT_INPUT_VALUES;
}

/* Opens a container: its header must be complete. */
static rsp_err_t open_container(struct euicc_download *d, const uint8_t **p, const uint8_t *end,
                                uint32_t tag, enum bpp_phase next) {
  size_t len;
  rsp_err_t rc = read_header(p, end, tag, &len);
  if (rc == RSP_OK) {
    d->left = len;
    d->phase = next;
  }
  return rc;
}

/* Segments of the open container; when it is used up, the phase moves to `after`. */
static int64_t container_segments(struct rsp_euicc *c, const uint8_t **p, const uint8_t *end,
                                  uint32_t tag, struct rsp_buf *into, enum bpp_phase after,
                                  bool *need_more) {
  struct euicc_download *d = c->dl;
  while (d->left > 0) {
    size_t n;
    rsp_err_t rc = tlv_len(*p, end, &n);
    if (rc == RSP_E_DER_TRUNCATED && (size_t)(end - *p) < d->left) {
      *need_more = true;
      return 0;
    }
    if (rc != RSP_OK) return RSP_MSG_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
    if (n > d->left) return RSP_MSG_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
    int64_t err = segment(c, tag, p, end, into);
    if (err) return err;
    d->left -= n;
  }
  d->phase = after;
  return 0;
}

/* StoreMetadata complete: well formed, and no profile with this ICCID yet (SGP.22 §5.7.16). */
static int64_t check_metadata(struct rsp_euicc *c, struct rsp_arena *a) {
  struct rsp_msg_sgp32_store_metadata_request *m = NULL;
  if (rsp_msg_decode(&rsp_msgt_sgp32_store_metadata_request, c->dl->metadata.data,
                     c->dl->metadata.len, a, (void **)&m, NULL) != RSP_OK)
    return RSP_MSG_ERROR_REASON_INCORRECT_INPUT_VALUES;
  if (rsp__euicc_profile_by_iccid(c, m->iccid.p))
    return RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_ICCID_ALREADY_EXISTS_ON_EUICC;
  return 0;
}

/* Parses as much of the stream as is complete. *done when the last 86 segment was processed. */
static int64_t parse_stream(struct rsp_euicc *c, struct rsp_arena *a, bool *done) {
  struct euicc_download *d = c->dl;
  const uint8_t *p = d->stream.data, *end = d->stream.data + d->stream.len;
  bool more = false;
  int64_t err = 0;
  size_t len;
  while (!err && !more && !*done) {
    rsp_err_t rc = RSP_OK;
    switch (d->phase) {
    case P_OUTER:
      d->bpp_cmd = RSP_MSG_BPP_COMMAND_ID_INITIALISE_SECURE_CHANNEL;
      rc = read_header(&p, end, RSP_TAG_BOUND_PROFILE_PACKAGE, &len);
      if (rc == RSP_OK) d->phase = P_ISC;
      break;
    case P_ISC:
      if ((rc = tlv_len(p, end, &len)) != RSP_OK) break;
      if ((err = initialise_secure_channel(c, p, len, a)) == 0) {
        p += len;
        d->phase = P_A0;
        d->bpp_cmd = RSP_MSG_BPP_COMMAND_ID_CONFIGURE_ISDP;
      }
      break;
    case P_A0:
      rc = open_container(d, &p, end, TAG_A0, P_87A);
      break;
    case P_87A:
      /* ConfigureISDP: decrypted and checked for form; its content is not needed here */
      err = container_segments(c, &p, end, RSP_BSP_TAG_SEQUENCE_OF_87, &d->rsk, P_A1, &more);
      if (!err && d->phase == P_A1) {
        rsp_buf_reset(&d->rsk);
        d->bpp_cmd = RSP_MSG_BPP_COMMAND_ID_STORE_METADATA;
      }
      break;
    case P_A1:
      rc = open_container(d, &p, end, TAG_A1, P_88);
      break;
    case P_88:
      err =
          container_segments(c, &p, end, RSP_BSP_TAG_SEQUENCE_OF_88, &d->metadata, P_A2_A3, &more);
      if (!err && d->phase == P_A2_A3) err = check_metadata(c, a);
      break;
    case P_A2_A3:
      if (p == end) {
        more = true;
        break;
      }
      d->bpp_cmd = *p == TAG_A2 ? RSP_MSG_BPP_COMMAND_ID_REPLACE_SESSION_KEYS
                                : RSP_MSG_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS;
      rc = *p == TAG_A2 ? open_container(d, &p, end, TAG_A2, P_87B)
                        : open_container(d, &p, end, TAG_A3, P_86);
      break;
    case P_87B:
      err = container_segments(c, &p, end, RSP_BSP_TAG_SEQUENCE_OF_87, &d->rsk, P_A3, &more);
      if (!err && d->phase == P_A3) {
        err = replace_session_keys(c, a);
        d->bpp_cmd = RSP_MSG_BPP_COMMAND_ID_LOAD_PROFILE_ELEMENTS;
      }
      break;
    case P_A3:
      rc = open_container(d, &p, end, TAG_A3, P_86);
      break;
    case P_86:
      err = container_segments(c, &p, end, RSP_BSP_TAG_SEQUENCE_OF_86, &d->upp, P_OUTER, &more);
      if (!err && d->phase == P_OUTER) *done = true;
      break;
    }
    if (rc == RSP_E_DER_TRUNCATED)
      more = true;
    else if (rc != RSP_OK)
      err = RSP_MSG_ERROR_REASON_SCP03T_STRUCTURE_ERROR;
  }
  /* keep only what is not consumed yet */
  size_t used = (size_t)(p - d->stream.data);
  memmove(d->stream.data, p, d->stream.len - used);
  d->stream.len -= used;
  return err;
}

/* An unprotected profile package is a sequence of Profile Elements, each one DER TLV (SAIP). */
static bool profile_elements_ok(const uint8_t *p, size_t len) {
  const uint8_t *end = p + len;
  struct rsp_der_tlv tlv;
  if (len == 0) return false;
  while (p < end)
    if (rsp_der_read_tlv(&p, end, &tlv) != RSP_OK ||
        rsp_der_validate_tree(tlv.raw, tlv.raw_len) != RSP_OK)
      return false;
  return true;
}

/* Installs the profile from the assembled metadata and package (one commit with the PIR). */
static int64_t install(struct rsp_euicc *c, struct rsp_arena *a, struct euicc_profile **out) {
  struct euicc_download *d = c->dl;
  struct rsp_msg_sgp32_store_metadata_request *m = NULL;
  uint8_t hash[32];
  if (rsp_msg_decode(&rsp_msgt_sgp32_store_metadata_request, d->metadata.data, d->metadata.len, a,
                     (void **)&m, NULL) != RSP_OK)
    return RSP_MSG_ERROR_REASON_INCORRECT_INPUT_VALUES;
  if (!profile_elements_ok(d->upp.data, d->upp.len))
    return RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_PE_PROCESSING_ERROR;
  if (rsp__euicc_profile_by_iccid(c, m->iccid.p))
    return RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_ICCID_ALREADY_EXISTS_ON_EUICC;
  if (rsp_sha256(d->upp.data, d->upp.len, hash) != RSP_OK)
    return RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_UNKNOWN_ERROR;
  rsp_err_t rc = rsp__euicc_install(c, rsp_msg_slice(d->metadata.data, d->metadata.len), m->iccid.p,
                                    hash, d->upp.len, out);
  if (rc == RSP_E_BUF_CAP)
    return RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_INSUFFICIENT_MEMORY_FOR_PROFILE;
  return rc == RSP_OK ? 0 : RSP_MSG_ERROR_REASON_INSTALL_FAILED_DUE_TO_UNKNOWN_ERROR;
}

/* ProfileInstallationResult, signed, kept as a pending notification, appended to resp. */
static rsp_err_t pir(struct rsp_euicc *c, struct rsp_arena *a, const struct pir_outcome *o,
                     struct rsp_buf *resp) {
  struct euicc_download *d = c->dl;
  struct rsp_msg_sgp32_store_metadata_request *m = NULL;
  uint8_t bits[5], sig[64];
  struct rsp_buf der;
  size_t start = resp->len;
  bool have_md = d->metadata.len > 0 &&
                 rsp_msg_decode(&rsp_msgt_sgp32_store_metadata_request, d->metadata.data,
                                d->metadata.len, a, (void **)&m, NULL) == RSP_OK;
  struct rsp_msg_notification_metadata nm = {
      .seq_number = c->st.next_seq,
      .profile_management_operation =
          rsp_msg_bits_make(1u << RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL, bits),
      .notification_address = rsp_msg_slice(d->server_address, strlen(d->server_address)),
      .iccid = have_md ? m->iccid : rsp_msg_slice(NULL, 0)};
  struct rsp_msg_success_result ok = {.aid = o->profile ? rsp_msg_slice(o->profile->aid, 16)
                                                        : rsp_msg_slice(NULL, 0),
                                      .sima_response = rsp_msg_slice(SIMA_OK, sizeof SIMA_OK)};
  struct rsp_msg_error_result er = {.bpp_command_id = o->cmd, .error_reason = o->reason};
  struct rsp_msg_profile_installation_result_data_final_result fr = {
      .which = o->ok ? RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT
                     : RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT};
  if (o->ok)
    fr.u.success_result = &ok;
  else
    fr.u.error_result = &er;
  struct rsp_msg_profile_installation_result_data data = {
      .transaction_id = rsp_msg_slice(d->txid, d->txid_len),
      .notification_metadata = &nm,
      .smdp_oid = rsp_msg_slice(d->smdp_oid, d->smdp_oid_len),
      .final_result = &fr};
  rsp_buf_init(&der, 4096);
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_profile_installation_result_data, &data, &der, NULL);
  struct rsp_slice part = rsp_msg_slice(der.data, der.len);
  if (rc == RSP_OK) rc = rsp__euicc_sign(c, &part, 1, sig);
  rsp_buf_free(&der);
  struct rsp_msg_sgp32_profile_installation_result res = {.profile_installation_result_data = &data,
                                                          .euicc_sign_pir = rsp_msg_slice(sig, 64)};
  if (rc == RSP_OK) rc = rsp__euicc_encode(&rsp_msgt_sgp32_profile_installation_result, &res, resp);
  if (rc != RSP_OK) return rc;
  struct euicc_notification n = {.seq = c->st.next_seq,
                                 .event = 1u << RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL,
                                 .has_iccid = have_md,
                                 .raw = {resp->data + start, resp->len - start, 0, 0}};
  if (have_md) memcpy(n.iccid, m->iccid.p, RSP_ICCID_LEN);
  snprintf(n.address, sizeof n.address, "%s", d->server_address);
  if ((rc = rsp__euicc_add_pending(c, &n)) == RSP_OK) c->st.next_seq++;
  return rc;
}

rsp_err_t rsp__euicc_bpp_segment(struct rsp_euicc *c, const uint8_t *req, size_t len,
                                 struct rsp_buf *resp) {
  struct euicc_download *d = c->dl;
  struct rsp_arena a;
  struct pir_outcome o = {0};
  bool done = false;
  rsp_err_t rc;
  if (!d || (d->stage != DL_PREPARED && d->stage != DL_LOADING)) {
    rsp_log(RSP_LOG_INFO, "euicc", "card %s: BPP segment outside a prepared session",
            c->eid_digits);
    return RSP_E_STATE;
  }
  if (d->stage == DL_PREPARED && !(len >= 2 && req[0] == 0xBF && req[1] == 0x36))
    return RSP_E_STATE;
  if (d->stage == DL_LOADING && len >= 2 && req[0] == 0xBF && req[1] == 0x36) return RSP_E_STATE;
  if ((rc = rsp_buf_append(&d->stream, req, len)) != RSP_OK) return rc;
  d->stage = DL_LOADING;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  o.cmd = d->bpp_cmd;
  o.reason = parse_stream(c, &a, &done);
  o.cmd = d->bpp_cmd;
  if (!o.reason && !done) {
    rsp_arena_free(&a);
    return RSP_OK; /* segment accepted, more to come */
  }
  if (!o.reason) o.reason = install(c, &a, &o.profile);
  o.ok = o.reason == 0;
  rc = pir(c, &a, &o, resp);
  if (rc == RSP_OK) rc = rsp__euicc_commit(c);
  if (rc != RSP_OK) rsp__euicc_rollback(c);
  rsp_log(o.ok ? RSP_LOG_INFO : RSP_LOG_WARN, "euicc",
          "card %s: profile installation %s (command %lld, reason %lld)", c->eid_digits,
          o.ok ? "succeeded" : "failed", (long long)o.cmd, (long long)o.reason);
  rsp_arena_free(&a);
  rsp__euicc_download_reset(c);
  return rc;
}
