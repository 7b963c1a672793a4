/* The compact ESipa forms (lib/msg/compact.c): for answers a real software eUICC (lib/euicc)
 * produced in downloads (the IPA's direct download against the SM-DP+ service, its ES9+ port
 * recording what crossed it), compress then expand gives back exactly the card's bytes and the
 * eUICC's signature verifies over the rebuilt bytes: AuthenticateServerResponse,
 * PrepareDownloadResponse, ProfileInstallationResult, CancelSessionResponse (also in its A1 form
 * of CancelSessionRequestEsipa) and an OtherSignedNotification. Also: a stale extCardResource in
 * the eIM's EUICCInfo2, a wrong context (other bytes, signature fails), the options, missing
 * context, the AID rule, full forms passed through, every truncated prefix refused.
 *
 *   test_msg_compact RSP_PKI_BINARY */
#include <stdio.h>
#include <string.h>

#include "rsp/core/log.h"
#include "rsp/crypto/crypto.h"
#include "rsp/crypto/x509.h"
#include "rsp/drivers/apdu.h"
#include "rsp/ipa/download.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/compact.h"
#include "rsp/msg/json.h"
#include "rsp/msg/signed.h"
#include "smdp_world.h"
#include "test.h"

#define ADDRESS "smdp.example"
#define CAP (1u << 20)

static const char *pki_bin;

/* What crossed the ES9+ port, as the TLVs the card made or the SM-DP+ sent. */
struct rec {
  struct rsp_test_smdp_world w;
  struct rsp_buf ss1, server_cert, asr, smdp_sig2, metadata, pdr, pir, cancel;
};

static void keep(struct rsp_buf *b, struct rsp_slice s) {
  rsp_buf_reset(b);
  if (s.p) CHECK_OK(rsp_buf_append(b, s.p, s.len));
}

/* Keeps the card's message of an ES9+ request. */
static void record_request(struct rec *r, const char *path, const struct rsp_buf *body) {
  struct rsp_msg_json_doc doc;
  const char *j = (const char *)body->data;
  rsp_msg_json_doc_init(&doc);
  if (strcmp(path, RSP_ES9P_PATH_AUTHENTICATE_CLIENT) == 0) {
    struct rsp_es9p_json_authenticate_client_req q;
    CHECK_OK(rsp_msg_json_decode(&rsp_es9p_json_authenticate_client_req_type, j, body->len, &doc,
                                 &q, NULL));
    keep(&r->asr, q.authenticate_server_response);
  } else if (strcmp(path, RSP_ES9P_PATH_GET_BOUND_PROFILE_PACKAGE) == 0) {
    struct rsp_es9p_json_get_bound_profile_package_req q;
    CHECK_OK(rsp_msg_json_decode(&rsp_es9p_json_get_bound_profile_package_req_type, j, body->len,
                                 &doc, &q, NULL));
    keep(&r->pdr, q.prepare_download_response);
  } else if (strcmp(path, RSP_ES9P_PATH_HANDLE_NOTIFICATION) == 0) {
    struct rsp_es9p_json_handle_notification_req q;
    CHECK_OK(rsp_msg_json_decode(&rsp_es9p_json_handle_notification_req_type, j, body->len, &doc,
                                 &q, NULL));
    keep(&r->pir, q.pending_notification);
  } else if (strcmp(path, RSP_ES9P_PATH_CANCEL_SESSION) == 0) {
    struct rsp_es9p_json_cancel_session_req q;
    CHECK_OK(
        rsp_msg_json_decode(&rsp_es9p_json_cancel_session_req_type, j, body->len, &doc, &q, NULL));
    keep(&r->cancel, q.cancel_session_response);
  }
  rsp_msg_json_doc_free(&doc);
}

/* Keeps what the SM-DP+ answered that the context needs. */
static void record_answer(struct rec *r, const char *path, const struct rsp_buf *resp) {
  struct rsp_msg_json_doc doc;
  const char *j = (const char *)resp->data;
  rsp_msg_json_doc_init(&doc);
  if (strcmp(path, RSP_ES9P_PATH_INITIATE_AUTHENTICATION) == 0) {
    struct rsp_es9p_json_initiate_authentication_resp a;
    CHECK_OK(rsp_msg_json_decode(&rsp_es9p_json_initiate_authentication_resp_type, j, resp->len,
                                 &doc, &a, NULL));
    keep(&r->ss1, a.server_signed1);
    keep(&r->server_cert, a.server_certificate);
  } else if (strcmp(path, RSP_ES9P_PATH_AUTHENTICATE_CLIENT) == 0) {
    struct rsp_es9p_json_authenticate_client_resp a;
    CHECK_OK(rsp_msg_json_decode(&rsp_es9p_json_authenticate_client_resp_type, j, resp->len, &doc,
                                 &a, NULL));
    keep(&r->smdp_sig2, a.smdp_signature2);
    keep(&r->metadata, a.profile_metadata);
  }
  rsp_msg_json_doc_free(&doc);
}

static rsp_err_t rec_call(void *ctx, const char *address, const char *path,
                          const struct rsp_buf *body, int *status, struct rsp_buf *resp) {
  struct rec *r = ctx;
  (void)address;
  record_request(r, path, body);
  rsp_err_t rc =
      rsp_smdp_service_handle(r->w.svc, path, (const char *)body->data, body->len, status, resp);
  if (rc == RSP_OK && *status == 200) record_answer(r, path, resp);
  return rc;
}

static const struct rsp_ipa_es9_ops rec_ops = {rec_call};

/* ---- context and verification --------------------------------------------------------------- */

/* What the eIM knows after the session's initiateAuthentication and authenticateClient. */
struct known {
  struct rsp_arena a;
  struct rsp_msg_compact_context c;
  uint8_t oid[64];
  struct rsp_buf info2, euicc_cert, eum_cert;
  struct rsp_key *euicc_pk;
};

static void es10(struct rec *r, const uint8_t *req, size_t len, struct rsp_buf *out) {
  rsp_buf_reset(out);
  CHECK_OK(rsp_euicc_es10(r->w.card, req, len, out));
}

static void known_init(struct known *k, struct rec *r) {
  struct rsp_msg_server_signed1 *ss1 = NULL;
  struct rsp_msg_sgp32_authenticate_server_response *asr = NULL;
  struct rsp_msg_sgp32_store_metadata_request *md = NULL;
  struct rsp_cert *cert = NULL;
  size_t oid_len = 0;
  memset(k, 0, sizeof *k);
  rsp_arena_init(&k->a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&k->info2, CAP);
  rsp_buf_init(&k->euicc_cert, CAP);
  rsp_buf_init(&k->eum_cert, CAP);
  es10(r, (const uint8_t *)"\xBF\x22\x00", 3, &k->info2); /* IpaEuiccData BF22 */
  CHECK_OK(rsp_msg_decode(&rsp_msgt_server_signed1, r->ss1.data, r->ss1.len, &k->a, (void **)&ss1,
                          NULL));
  CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_authenticate_server_response, r->asr.data, r->asr.len,
                          &k->a, (void **)&asr, NULL));
  if (r->metadata.len)
    CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_store_metadata_request, r->metadata.data,
                            r->metadata.len, &k->a, (void **)&md, NULL));
  CHECK_OK(rsp_cert_parse(r->server_cert.data, r->server_cert.len, &cert));
  CHECK_OK(rsp_cert_registered_id(cert, k->oid, sizeof k->oid, &oid_len));
  rsp_cert_free(cert);
  if (!ss1 || !asr ||
      asr->which != RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK)
    return;
  keep(&k->euicc_cert, asr->u.authenticate_response_ok->euicc_certificate);
  keep(&k->eum_cert, asr->u.authenticate_response_ok->eum_certificate);
  CHECK_OK(rsp_cert_parse(k->euicc_cert.data, k->euicc_cert.len, &cert));
  CHECK_OK(rsp_cert_public_key(cert, &k->euicc_pk));
  rsp_cert_free(cert);
  k->c = (struct rsp_msg_compact_context){
      .transaction_id = ss1->transaction_id,
      .server_address = ss1->server_address,
      .server_challenge = ss1->server_challenge,
      .euicc_info2 = rsp_msg_slice(k->info2.data, k->info2.len),
      .euicc_certificate = rsp_msg_slice(k->euicc_cert.data, k->euicc_cert.len),
      .eum_certificate = rsp_msg_slice(k->eum_cert.data, k->eum_cert.len),
      .smdp_oid = rsp_msg_slice(k->oid, oid_len),
      .iccid = md ? md->iccid : rsp_msg_slice(NULL, 0)};
}

static void known_free(struct known *k) {
  rsp_key_free(k->euicc_pk);
  rsp_buf_free(&k->info2);
  rsp_buf_free(&k->euicc_cert);
  rsp_buf_free(&k->eum_cert);
  rsp_arena_free(&k->a);
}

static bool same(const struct rsp_buf *a, const struct rsp_buf *b) {
  return a->len == b->len && a->len && memcmp(a->data, b->data, a->len) == 0;
}

/* The eUICC's signature over a rebuilt answer: RSP_OK, RSP_E_SIG_INVALID, or a decode error. */
typedef rsp_err_t (*verify_fn)(const struct known *k, const struct rec *r, const struct rsp_buf *b);

static rsp_err_t verify_asr(const struct known *k, const struct rec *r, const struct rsp_buf *b) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_authenticate_server_response *v = NULL;
  (void)r;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_sgp32_authenticate_server_response, b->data, b->len, &a,
                                (void **)&v, NULL);
  if (rc == RSP_OK &&
      v->which != RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK)
    rc = RSP_E_DER_UNEXPECTED_TAG;
  if (rc == RSP_OK) {
    const struct rsp_msg_sgp32_authenticate_response_ok *ok = v->u.authenticate_response_ok;
    rc = rsp_ecdsa_verify(k->euicc_pk, ok->euicc_signed1->raw.p, ok->euicc_signed1->raw.len,
                          ok->euicc_signature1.p);
  }
  rsp_arena_free(&a);
  return rc;
}

/* euiccSignature2 covers EUICCSigned2 || smdpSignature2 as its 5F37 TLV (notes 4.3). */
static rsp_err_t verify_pdr(const struct known *k, const struct rec *r, const struct rsp_buf *b) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_prepare_download_response *v = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_sgp32_prepare_download_response, b->data, b->len, &a,
                                (void **)&v, NULL);
  if (rc == RSP_OK && v->which != RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_OK)
    rc = RSP_E_DER_UNEXPECTED_TAG;
  if (rc == RSP_OK) {
    const struct rsp_msg_prepare_download_response_ok *ok = v->u.download_response_ok;
    struct rsp_slice parts[2] = {ok->euicc_signed2->raw,
                                 rsp_msg_slice(r->smdp_sig2.data, r->smdp_sig2.len)};
    rc = rsp_ecdsa_verify_v(k->euicc_pk, parts, 2, ok->euicc_signature2.p);
  }
  rsp_arena_free(&a);
  return rc;
}

static rsp_err_t verify_notification(const struct known *k, const struct rec *r,
                                     const struct rsp_buf *b) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_pending_notification *v = NULL;
  (void)r;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc =
      rsp_msg_decode(&rsp_msgt_sgp32_pending_notification, b->data, b->len, &a, (void **)&v, NULL);
  if (rc == RSP_OK && v->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT) {
    const struct rsp_msg_sgp32_profile_installation_result *p = v->u.profile_installation_result;
    rc = rsp_ecdsa_verify(k->euicc_pk, p->profile_installation_result_data->raw.p,
                          p->profile_installation_result_data->raw.len, p->euicc_sign_pir.p);
  } else if (rc == RSP_OK &&
             v->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION) {
    const struct rsp_msg_other_signed_notification *o = v->u.other_signed_notification;
    rc = rsp_ecdsa_verify(k->euicc_pk, o->tbs_other_notification->raw.p,
                          o->tbs_other_notification->raw.len, o->euicc_notification_signature.p);
  } else if (rc == RSP_OK) {
    rc = RSP_E_DER_UNEXPECTED_TAG;
  }
  rsp_arena_free(&a);
  return rc;
}

static rsp_err_t verify_cancel(const struct known *k, const struct rec *r,
                               const struct rsp_buf *b) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_cancel_session_response *v = NULL;
  (void)r;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_sgp32_cancel_session_response, b->data, b->len, &a,
                                (void **)&v, NULL);
  if (rc == RSP_OK && v->which != RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK)
    rc = RSP_E_DER_UNEXPECTED_TAG;
  if (rc == RSP_OK) {
    const struct rsp_msg_cancel_session_response_ok *ok = v->u.cancel_session_response_ok;
    rc = rsp_ecdsa_verify(k->euicc_pk, ok->euicc_cancel_session_signed->raw.p,
                          ok->euicc_cancel_session_signed->raw.len,
                          ok->euicc_cancel_session_signature.p);
  }
  rsp_arena_free(&a);
  return rc;
}

/* ---- one form, both ways ------------------------------------------------------------------- */

struct form {
  const char *name;
  rsp_err_t (*compress)(const uint8_t *, size_t, const struct rsp_msg_compact_opts *,
                        struct rsp_buf *);
  rsp_err_t (*expand)(const uint8_t *, size_t, const struct rsp_msg_compact_context *,
                      struct rsp_buf *);
  verify_fn verify;
};

static const uint8_t EID[16] = {0x89, 0x04, 0x90, 0x32};

static rsp_err_t notification_compress(const uint8_t *der, size_t len,
                                       const struct rsp_msg_compact_opts *o, struct rsp_buf *out) {
  return rsp_msg_compact_notification_compress(der, len, o, rsp_msg_slice(EID, 16), out);
}

static const struct form AUTH = {"AuthenticateServerResponse", rsp_msg_compact_auth_compress,
                                 rsp_msg_compact_auth_expand, verify_asr};
static const struct form PREPARE = {"PrepareDownloadResponse", rsp_msg_compact_prepare_compress,
                                    rsp_msg_compact_prepare_expand, verify_pdr};
static const struct form NOTIFICATION = {"pending notification", notification_compress,
                                         rsp_msg_compact_notification_expand, verify_notification};
static const struct form CANCEL = {"CancelSessionResponse", rsp_msg_compact_cancel_compress,
                                   rsp_msg_compact_cancel_expand, verify_cancel};

/* compress -> smaller and different; expand -> the card's bytes; the signature verifies over
 * them; the expansion of every truncated prefix is refused; a wrong server challenge gives other
 * bytes whose signature fails (when the form depends on it). */
static void round_trip(const struct form *f, const struct known *k, const struct rec *r,
                       const struct rsp_buf *full, const struct rsp_msg_compact_opts *o) {
  struct rsp_buf c, back;
  rsp_buf_init(&c, CAP);
  rsp_buf_init(&back, CAP);
  CHECK(full->len > 0);
  CHECK_OK(f->compress(full->data, full->len, o, &c));
  CHECK(c.len > 0 && c.len < full->len);
  CHECK_OK(f->expand(c.data, c.len, &k->c, &back));
  if (!same(&back, full))
    rsp_test_fail(__FILE__, __LINE__, "%s: not rebuilt byte for byte", f->name);
  CHECK_OK(f->verify(k, r, &back));
  /* the full form passes through expand unchanged */
  rsp_buf_reset(&back);
  CHECK_OK(f->expand(full->data, full->len, &k->c, &back));
  CHECK(same(&back, full));
  for (size_t n = 0; n < c.len; n++) {
    rsp_buf_reset(&back);
    CHECK(f->expand(c.data, n, &k->c, &back) != RSP_OK);
  }
  rsp_buf_free(&c);
  rsp_buf_free(&back);
}

/* Expansion with a context that differs: other bytes, signature refused. */
static void wrong_context(const struct form *f, const struct known *k, const struct rec *r,
                          const struct rsp_buf *full, struct rsp_msg_compact_context bad) {
  struct rsp_buf c, back;
  rsp_buf_init(&c, CAP);
  rsp_buf_init(&back, CAP);
  CHECK_OK(f->compress(full->data, full->len, NULL, &c));
  CHECK_OK(f->expand(c.data, c.len, &bad, &back));
  CHECK(!same(&back, full));
  CHECK_ERR(f->verify(k, r, &back), RSP_E_SIG_INVALID);
  rsp_buf_free(&c);
  rsp_buf_free(&back);
}

/* The eIM's EUICCInfo2 with another extCardResource (read before the card's resources changed):
 * the one in the compact form wins. */
static void stale_info2(const struct known *k, const struct rec *r) {
  static const uint8_t OTHER[] = {0x81, 0x01, 0x00, 0x82, 0x04, 0x00, 0x00, 0x00, 0x01};
  struct rsp_arena a;
  struct rsp_msg_sgp32_euicc_info2 *i2 = NULL;
  struct rsp_buf stale;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&stale, CAP);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_euicc_info2, k->info2.data, k->info2.len, &a,
                          (void **)&i2, NULL));
  if (i2) {
    CHECK(i2->ext_card_resource.len != sizeof OTHER ||
          memcmp(i2->ext_card_resource.p, OTHER, sizeof OTHER) != 0);
    i2->ext_card_resource = rsp_msg_slice(OTHER, sizeof OTHER);
    CHECK_OK(rsp_msg_encode(&rsp_msgt_sgp32_euicc_info2, i2, &stale, NULL));
    struct known k2 = *k;
    k2.c.euicc_info2 = rsp_msg_slice(stale.data, stale.len);
    round_trip(&AUTH, &k2, r, &r->asr, NULL);
  }
  rsp_buf_free(&stale);
  rsp_arena_free(&a);
}

/* Options and missing context. */
static void options(const struct known *k, const struct rec *r) {
  struct rsp_msg_compact_opts o = {.omit_certificates = true, .omit_eid = true};
  struct rsp_buf c, back;
  rsp_buf_init(&c, CAP);
  rsp_buf_init(&back, CAP);
  round_trip(&AUTH, k, r, &r->asr, &o); /* certificates from the context */
  CHECK_OK(rsp_msg_compact_auth_compress(r->asr.data, r->asr.len, &o, &c));
  struct rsp_msg_compact_context no = k->c;
  no.euicc_certificate = rsp_msg_slice(NULL, 0);
  CHECK_ERR(rsp_msg_compact_auth_expand(c.data, c.len, &no, &back), RSP_E_INVALID_ARG);
  no = k->c;
  no.euicc_info2 = rsp_msg_slice(NULL, 0);
  CHECK_ERR(rsp_msg_compact_auth_expand(c.data, c.len, &no, &back), RSP_E_INVALID_ARG);
  no = k->c;
  no.smdp_oid = rsp_msg_slice(NULL, 0);
  rsp_buf_reset(&c);
  CHECK_OK(rsp_msg_compact_notification_compress(r->pir.data, r->pir.len, &o,
                                                 rsp_msg_slice(NULL, 0), &c));
  CHECK_ERR(rsp_msg_compact_notification_expand(c.data, c.len, &no, &back), RSP_E_INVALID_ARG);
  /* an ISD-P AID outside the rule: no compact PIR, the full one is sent as it is */
  struct rsp_msg_compact_aid_rule rule;
  rsp_msg_compact_aid_rule_default(&rule);
  rule.base[0] ^= 0xFF;
  o.aid = &rule;
  rsp_buf_reset(&c);
  CHECK_OK(rsp_msg_compact_notification_compress(r->pir.data, r->pir.len, &o,
                                                 rsp_msg_slice(NULL, 0), &c));
  CHECK(same(&c, &r->pir));
  /* a message of another kind is refused */
  rsp_buf_reset(&c);
  CHECK(rsp_msg_compact_auth_compress(r->pdr.data, r->pdr.len, NULL, &c) != RSP_OK);
  rsp_buf_free(&c);
  rsp_buf_free(&back);
}

/* CancelSessionRequestEsipa carries the response tagged A1 (notes 8.3): expands to BF41. */
static void cancel_a1(const struct known *k, const struct rec *r) {
  struct rsp_buf c, a1, back;
  struct rsp_der_tlv t;
  struct rsp_der_writer w;
  rsp_buf_init(&c, CAP);
  rsp_buf_init(&a1, CAP);
  rsp_buf_init(&back, CAP);
  CHECK_OK(rsp_msg_compact_cancel_compress(r->cancel.data, r->cancel.len, NULL, &c));
  CHECK_OK(rsp_der_parse_one(c.data, c.len, &t));
  rsp_der_writer_init(&w, &a1);
  rsp_der_put_tlv(&w, RSP_DER_CLASS_CONTEXT | RSP_DER_CONSTRUCTED | 1, t.val, t.len);
  CHECK_OK(rsp_der_writer_finish(&w));
  CHECK_OK(rsp_msg_compact_cancel_expand(a1.data, a1.len, &k->c, &back));
  CHECK(same(&back, &r->cancel));
  rsp_buf_free(&c);
  rsp_buf_free(&a1);
  rsp_buf_free(&back);
}

/* The enable notification the card keeps after EnableProfile (an OtherSignedNotification). */
static void other_notification(struct rec *r, struct rsp_buf *out) {
  struct rsp_arena a;
  struct rsp_buf resp;
  struct rsp_msg_sgp32_profile_info_list_response *pl = NULL;
  struct rsp_msg_sgp32_retrieve_notifications_list_response *nl = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&resp, CAP);
  es10(r, (const uint8_t *)"\xBF\x2D\x00", 3, &resp);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_profile_info_list_response, resp.data, resp.len, &a,
                          (void **)&pl, NULL));
  if (!pl || pl->which != RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK ||
      pl->u.profile_info_list_ok->n == 0) {
    rsp_test_fail(__FILE__, __LINE__, "no profile on the card");
    goto out;
  }
  struct rsp_msg_enable_profile_request_profile_identifier id = {
      .which = RSP_MSG_ENABLE_PROFILE_REQUEST_PROFILE_IDENTIFIER_ICCID,
      .u.iccid = pl->u.profile_info_list_ok->v[0].iccid};
  struct rsp_msg_enable_profile_request q = {.profile_identifier = &id, .refresh_flag = false};
  struct rsp_buf req;
  rsp_buf_init(&req, 256);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_enable_profile_request, &q, &req, NULL));
  es10(r, req.data, req.len, &resp);
  rsp_buf_free(&req);
  es10(r, (const uint8_t *)"\xBF\x2B\x00", 3, &resp);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_sgp32_retrieve_notifications_list_response, resp.data, resp.len,
                          &a, (void **)&nl, NULL));
  if (nl && nl->which == RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_NOTIFICATION_LIST)
    for (size_t i = 0; i < nl->u.notification_list->n; i++)
      if (nl->u.notification_list->v[i].which ==
          RSP_MSG_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION)
        keep(out, nl->u.notification_list->v[i].raw);
  CHECK(out->len > 0);
out:
  rsp_buf_free(&resp);
  rsp_arena_free(&a);
}

static void compact(const char *curve) {
  struct rec r;
  struct rsp_apdu apdu;
  struct rsp_ipa ipa;
  struct rsp_ipa_download_result res;
  struct known k;
  struct rsp_buf other;
  char mid[64];
  memset(&r, 0, sizeof r);
  if (!rsp_test_smdp_world_open(&r.w, pki_bin, "msg_compact", curve, ADDRESS)) {
    rsp_test_fail(__FILE__, __LINE__, "cannot set up the %s world", curve);
    return;
  }
  struct rsp_buf *bufs[] = {&r.ss1,      &r.server_cert, &r.asr, &r.smdp_sig2,
                            &r.metadata, &r.pdr,         &r.pir, &r.cancel};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) rsp_buf_init(bufs[i], CAP);
  rsp_buf_init(&other, CAP);
  rsp_apdu_inproc_init(&apdu, r.w.card);
  rsp_ipa_init(&ipa, &apdu, NULL, NULL);
  /* a download with a confirmation code (hashCc in EUICCSigned2) */
  rsp_test_smdp_order(&r.w, "8944000000000000185", "4321", mid, sizeof mid);
  struct rsp_ipa_download_params p = {
      .smdp_address = ADDRESS, .matching_id = mid, .confirmation_code = "4321"};
  rsp_ipa_download_result_init(&res);
  CHECK_OK(rsp_ipa_download(&ipa, &rec_ops, &r, &p, &res));
  CHECK(res.installed);
  rsp_ipa_download_result_free(&res);
  known_init(&k, &r);
  round_trip(&AUTH, &k, &r, &r.asr, NULL);
  round_trip(&PREPARE, &k, &r, &r.pdr, NULL);
  round_trip(&NOTIFICATION, &k, &r, &r.pir, NULL);
  struct rsp_msg_compact_context bad = k.c;
  uint8_t challenge[16];
  memcpy(challenge, k.c.server_challenge.p, 16);
  challenge[3] ^= 1;
  bad.server_challenge = rsp_msg_slice(challenge, 16);
  wrong_context(&AUTH, &k, &r, &r.asr, bad);
  bad = k.c;
  bad.iccid = rsp_msg_slice("\x98\x44\x00\x00\x00\x00\x00\x00\x00\xF9", 10);
  wrong_context(&NOTIFICATION, &k, &r, &r.pir, bad);
  stale_info2(&k, &r);
  options(&k, &r);
  /* the enable notification of that profile */
  other_notification(&r, &other);
  round_trip(&NOTIFICATION, &k, &r, &other, NULL);
  known_free(&k);
  /* a refused download: the card's signed CancelSession answer */
  p.matching_id = "NO-SUCH-ORDER";
  p.confirmation_code = NULL;
  rsp_ipa_download_result_init(&res);
  CHECK(rsp_ipa_download(&ipa, &rec_ops, &r, &p, &res) != RSP_OK);
  rsp_ipa_download_result_free(&res);
  known_init(&k, &r);
  round_trip(&CANCEL, &k, &r, &r.cancel, NULL);
  bad = k.c;
  bad.transaction_id = rsp_msg_slice("\x01\x02\x03", 3);
  wrong_context(&CANCEL, &k, &r, &r.cancel, bad);
  cancel_a1(&k, &r);
  known_free(&k);
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) rsp_buf_free(bufs[i]);
  rsp_buf_free(&other);
  rsp_test_smdp_world_close(&r.w);
}

static void compact_nist(void) { compact("nist"); }
static void compact_brp(void) { compact("brp"); }

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(compact_nist), T(compact_brp)};
  if (argc < 2) return 2;
  pki_bin = argv[1];
  rsp_log_set_level(RSP_LOG_ERROR);
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
