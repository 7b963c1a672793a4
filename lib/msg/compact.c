/* The compact ESipa forms of minimizeEsipaBytes (SGP.32 §2.5, notes 2.5): the IPA's compression
 * and the eIM's byte-exact reconstruction of the SGP.22 structures the eUICC signed. Every rule
 * is one of docs/adr/0006-compact-esipa-forms.md.
 *
 * Both directions decode with the generated descriptors, build the other form as structs that
 * point into the decoded input and the context, and encode it with the same codec. The codec
 * writes strict DER and re-encodes a DER input byte for byte (unknown extensions in place), so
 * a reconstruction equals what the card encoded whenever the card encoded DER, which SGP.22
 * requires for everything it signs. */
#include "rsp/msg/compact.h"

#include <string.h>

#include "rsp/der/der.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/tags.h"

/* simaResponse a CompactSuccessResult may leave out: one EUICCResponse with peStatus ok
 * (SGP.32 CompactSuccessResult comment, notes 2.5). */
static const uint8_t SIMA_OK[] = {0x30, 0x07, 0xA0, 0x05, 0x30, 0x03, 0x80, 0x01, 0x00};

/* CancelSessionReason undefinedReason (SGP.22 CancelSessionReason). */
#define CANCEL_REASON_UNDEFINED 127

/* The ISD-P AID of real cards with bytes 14 and 15 (1-based) varying (notes 1.1, ADR 0006). */
static const uint8_t AID_BASE[RSP_MSG_AID_MAX] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF,
                                                  0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x00, 0x00};
#define AID_OFFSET 13
/* CancelSessionRequestEsipa.cancelSessionResponse: the automatic [1] that replaces [65]. */
#define TAG_ESIPA_CANCEL_SESSION_RESPONSE (RSP_DER_CLASS_CONTEXT | RSP_DER_CONSTRUCTED | 1u)
#define COMPACT_AID_LEN 2

void rsp_msg_compact_aid_rule_default(struct rsp_msg_compact_aid_rule *r) {
  memcpy(r->base, AID_BASE, sizeof AID_BASE);
  r->len = sizeof AID_BASE;
  r->offset = AID_OFFSET;
}

static struct rsp_msg_compact_aid_rule aid_rule(const struct rsp_msg_compact_aid_rule *r) {
  struct rsp_msg_compact_aid_rule d;
  if (r) return *r;
  rsp_msg_compact_aid_rule_default(&d);
  return d;
}

static bool aid_rule_valid(const struct rsp_msg_compact_aid_rule *r) {
  return r->len >= 5 && r->len <= RSP_MSG_AID_MAX && r->offset + COMPACT_AID_LEN <= r->len;
}

/* True when `aid` is the rule's base except for the two compact bytes. */
static bool aid_fits(const struct rsp_msg_compact_aid_rule *r, struct rsp_slice aid) {
  if (!aid_rule_valid(r) || aid.len != r->len) return false;
  for (size_t i = 0; i < r->len; i++)
    if ((i < r->offset || i >= r->offset + COMPACT_AID_LEN) && aid.p[i] != r->base[i]) return false;
  return true;
}

static bool has_ext(const struct rsp_msg_ext *e) { return e && e->n > 0; }

static bool present(struct rsp_slice s) { return s.p != NULL; }

/* One decode into `a` with the input's own bytes (slices point into der). */
static rsp_err_t decode(const struct rsp_msg_type *t, const uint8_t *der, size_t len,
                        struct rsp_arena *a, void **out) {
  if (!der || !len) return RSP_E_DER_TRUNCATED;
  return rsp_msg_decode(t, der, len, a, out, NULL);
}

static rsp_err_t copy(const uint8_t *der, size_t len, struct rsp_buf *out) {
  return rsp_buf_append(out, der, len);
}

/* ---- AuthenticateServerResponse ---------------------------------------------------------------
 */

rsp_err_t rsp_msg_compact_auth_compress(const uint8_t *der, size_t len,
                                        const struct rsp_msg_compact_opts *o, struct rsp_buf *out) {
  static const struct rsp_msg_compact_opts none = {0};
  struct rsp_arena a;
  struct rsp_msg_sgp32_authenticate_server_response *r = NULL;
  if (!o) o = &none;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = decode(&rsp_msgt_sgp32_authenticate_server_response, der, len, &a, (void **)&r);
  if (rc != RSP_OK) goto out;
  if (r->which != RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK) {
    rc = copy(der, len, out);
    goto out;
  }
  const struct rsp_msg_sgp32_authenticate_response_ok *ok = r->u.authenticate_response_ok;
  /* CompactEuiccSigned1 keeps what the eIM cannot know: the card's free resources (the rest of
   * euiccInfo2 is static) and ctxParams1, unless the eIM made it. */
  struct rsp_msg_compact_euicc_signed1 ces = {
      .ext_card_resource = ok->euicc_signed1->euicc_info2->ext_card_resource,
      .ctx_params1 = o->omit_ctx_params1 ? NULL : ok->euicc_signed1->ctx_params1};
  struct rsp_msg_compact_authenticate_response_ok_signed_data sd = {
      .which = RSP_MSG_COMPACT_AUTHENTICATE_RESPONSE_OK_SIGNED_DATA_COMPACT_EUICC_SIGNED1,
      .u.compact_euicc_signed1 = &ces};
  struct rsp_msg_compact_authenticate_response_ok c = {.signed_data = &sd,
                                                       .euicc_signature1 = ok->euicc_signature1};
  if (!o->omit_certificates) {
    c.euicc_certificate = ok->euicc_certificate;
    c.eum_certificate = ok->eum_certificate;
  }
  struct rsp_msg_sgp32_authenticate_server_response cr = {
      .which = RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_COMPACT_AUTHENTICATE_RESPONSE_OK,
      .u.compact_authenticate_response_ok = &c};
  rc = rsp_msg_encode(&rsp_msgt_sgp32_authenticate_server_response, &cr, out, NULL);
out:
  rsp_arena_free(&a);
  return rc;
}

/* The card's EUICCInfo2 as the eIM knows it, with the extCardResource of this answer. */
static rsp_err_t expand_info2(const struct rsp_msg_compact_context *c, struct rsp_slice ecr,
                              struct rsp_arena *a, struct rsp_msg_sgp32_euicc_info2 **out) {
  if (!present(c->euicc_info2)) return RSP_E_INVALID_ARG;
  rsp_err_t rc =
      decode(&rsp_msgt_sgp32_euicc_info2, c->euicc_info2.p, c->euicc_info2.len, a, (void **)out);
  if (rc == RSP_OK) (*out)->ext_card_resource = ecr;
  return rc;
}

/* EuiccSigned1 from CompactEuiccSigned1: transactionId, serverAddress and serverChallenge of the
 * session, the known euiccInfo2 with the new extCardResource, ctxParams1 from the form or the
 * eIM. */
static rsp_err_t expand_signed1(const struct rsp_msg_compact_context *c,
                                const struct rsp_msg_compact_euicc_signed1 *ces,
                                struct rsp_arena *a, struct rsp_msg_sgp32_euicc_signed1 *s) {
  if (!present(c->transaction_id) || !present(c->server_address) || c->server_challenge.len != 16)
    return RSP_E_INVALID_ARG;
  s->transaction_id = c->transaction_id;
  s->server_address = c->server_address;
  s->server_challenge = c->server_challenge;
  s->ctx_params1 = ces->ctx_params1;
  rsp_err_t rc = expand_info2(c, ces->ext_card_resource, a, &s->euicc_info2);
  if (rc == RSP_OK && !s->ctx_params1) {
    if (!present(c->ctx_params1)) return RSP_E_INVALID_ARG;
    rc = decode(&rsp_msgt_ctx_params1, c->ctx_params1.p, c->ctx_params1.len, a,
                (void **)&s->ctx_params1);
  }
  return rc;
}

rsp_err_t rsp_msg_compact_auth_expand(const uint8_t *der, size_t len,
                                      const struct rsp_msg_compact_context *c,
                                      struct rsp_buf *out) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_authenticate_server_response *r = NULL;
  struct rsp_msg_sgp32_euicc_signed1 s1 = {0};
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = decode(&rsp_msgt_sgp32_authenticate_server_response, der, len, &a, (void **)&r);
  if (rc != RSP_OK) goto out;
  if (r->which != RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_COMPACT_AUTHENTICATE_RESPONSE_OK) {
    rc = copy(der, len, out);
    goto out;
  }
  const struct rsp_msg_compact_authenticate_response_ok *cr = r->u.compact_authenticate_response_ok;
  struct rsp_msg_sgp32_authenticate_response_ok ok = {.euicc_signature1 = cr->euicc_signature1,
                                                      .euicc_certificate = cr->euicc_certificate,
                                                      .eum_certificate = cr->eum_certificate};
  if (!present(ok.euicc_certificate)) ok.euicc_certificate = c->euicc_certificate;
  if (!present(ok.eum_certificate)) ok.eum_certificate = c->eum_certificate;
  if (!present(ok.euicc_certificate) || !present(ok.eum_certificate)) {
    rc = RSP_E_INVALID_ARG;
    goto out;
  }
  if (cr->signed_data->which ==
      RSP_MSG_COMPACT_AUTHENTICATE_RESPONSE_OK_SIGNED_DATA_EUICC_SIGNED1) {
    ok.euicc_signed1 = cr->signed_data->u.euicc_signed1; /* the full form inside: as it came */
  } else if (cr->signed_data->which ==
             RSP_MSG_COMPACT_AUTHENTICATE_RESPONSE_OK_SIGNED_DATA_COMPACT_EUICC_SIGNED1) {
    ok.euicc_signed1 = &s1;
    rc = expand_signed1(c, cr->signed_data->u.compact_euicc_signed1, &a, &s1);
  } else {
    rc = RSP_E_UNSUPPORTED; /* a signedData alternative of a later version */
  }
  struct rsp_msg_sgp32_authenticate_server_response full = {
      .which = RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK,
      .u.authenticate_response_ok = &ok};
  if (rc == RSP_OK)
    rc = rsp_msg_encode(&rsp_msgt_sgp32_authenticate_server_response, &full, out, NULL);
out:
  rsp_arena_free(&a);
  return rc;
}

/* ---- PrepareDownloadResponse ------------------------------------------------------------------
 */

rsp_err_t rsp_msg_compact_prepare_compress(const uint8_t *der, size_t len,
                                           const struct rsp_msg_compact_opts *o,
                                           struct rsp_buf *out) {
  static const struct rsp_msg_compact_opts none = {0};
  struct rsp_arena a;
  struct rsp_msg_sgp32_prepare_download_response *r = NULL;
  if (!o) o = &none;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = decode(&rsp_msgt_sgp32_prepare_download_response, der, len, &a, (void **)&r);
  if (rc != RSP_OK) goto out;
  if (r->which != RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_OK) {
    rc = copy(der, len, out);
    goto out;
  }
  const struct rsp_msg_euicc_signed2 *s2 = r->u.download_response_ok->euicc_signed2;
  struct rsp_msg_compact_euicc_signed2 ces = {.euicc_otpk = s2->euicc_otpk,
                                              .hash_cc = o->omit_hash_cc ? rsp_msg_slice(NULL, 0)
                                                                         : s2->hash_cc};
  struct rsp_msg_compact_prepare_download_response_ok c = {
      .compact_euicc_signed2 = &ces,
      .euicc_signature2 = r->u.download_response_ok->euicc_signature2};
  struct rsp_msg_sgp32_prepare_download_response cr = {
      .which = RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_COMPACT_DOWNLOAD_RESPONSE_OK,
      .u.compact_download_response_ok = &c};
  rc = rsp_msg_encode(&rsp_msgt_sgp32_prepare_download_response, &cr, out, NULL);
out:
  rsp_arena_free(&a);
  return rc;
}

rsp_err_t rsp_msg_compact_prepare_expand(const uint8_t *der, size_t len,
                                         const struct rsp_msg_compact_context *c,
                                         struct rsp_buf *out) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_prepare_download_response *r = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = decode(&rsp_msgt_sgp32_prepare_download_response, der, len, &a, (void **)&r);
  if (rc != RSP_OK) goto out;
  if (r->which != RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_COMPACT_DOWNLOAD_RESPONSE_OK) {
    rc = copy(der, len, out);
    goto out;
  }
  const struct rsp_msg_compact_prepare_download_response_ok *cr = r->u.compact_download_response_ok;
  /* EUICCSigned2 { transactionId of the session, euiccOtpk (or the bppEuiccOtpk the card
   * reused), hashCc (or the one the eIM gave) }. */
  struct rsp_msg_euicc_signed2 s2 = {.transaction_id = c->transaction_id,
                                     .euicc_otpk = cr->compact_euicc_signed2->euicc_otpk,
                                     .hash_cc = cr->compact_euicc_signed2->hash_cc};
  if (!present(s2.euicc_otpk)) s2.euicc_otpk = c->bpp_euicc_otpk;
  if (!present(s2.hash_cc) && present(c->hash_cc)) s2.hash_cc = c->hash_cc;
  if (!present(s2.transaction_id) || !present(s2.euicc_otpk)) {
    rc = RSP_E_INVALID_ARG;
    goto out;
  }
  struct rsp_msg_prepare_download_response_ok ok = {.euicc_signed2 = &s2,
                                                    .euicc_signature2 = cr->euicc_signature2};
  struct rsp_msg_sgp32_prepare_download_response full = {
      .which = RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_DOWNLOAD_RESPONSE_OK,
      .u.download_response_ok = &ok};
  rc = rsp_msg_encode(&rsp_msgt_sgp32_prepare_download_response, &full, out, NULL);
out:
  rsp_arena_free(&a);
  return rc;
}

/* ---- pending notifications --------------------------------------------------------------------
 */

/* NotificationEvent with only the install bit, as a PIR carries it. */
static struct rsp_slice install_event(uint8_t bits[5]) {
  return rsp_msg_bits_make(1u << RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL, bits);
}

static bool slice_eq(struct rsp_slice a, struct rsp_slice b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* The compact PIR, or false (*ok) when the PIR holds something the reconstruction rules cannot
 * give back: an event other than install, an AID outside the rule, unknown extensions. */
static bool pir_compress(const struct rsp_msg_sgp32_profile_installation_result *pir,
                         const struct rsp_msg_compact_aid_rule *rule, struct rsp_arena *a,
                         struct rsp_msg_compact_profile_installation_result **out) {
  const struct rsp_msg_profile_installation_result_data *d = pir->profile_installation_result_data;
  const struct rsp_msg_notification_metadata *nm = d->notification_metadata;
  const struct rsp_msg_profile_installation_result_data_final_result *fr = d->final_result;
  uint8_t bits[5];
  struct rsp_msg_compact_profile_installation_result *c = rsp_arena_alloc(a, sizeof *c);
  struct rsp_msg_compact_profile_installation_result_data *cd = rsp_arena_alloc(a, sizeof *cd);
  struct rsp_msg_compact_profile_installation_result_data_compact_final_result *cf =
      rsp_arena_alloc(a, sizeof *cf);
  struct rsp_msg_compact_success_result *cs = rsp_arena_alloc(a, sizeof *cs);
  if (!c || !cd || !cf || !cs || has_ext(pir->ext) || has_ext(d->ext) || has_ext(nm->ext) ||
      !slice_eq(nm->profile_management_operation, install_event(bits)))
    return false;
  memset(c, 0, sizeof *c);
  memset(cd, 0, sizeof *cd);
  memset(cf, 0, sizeof *cf);
  memset(cs, 0, sizeof *cs);
  if (fr->which == RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT) {
    const struct rsp_msg_success_result *s = fr->u.success_result;
    if (has_ext(s->ext) || !aid_fits(rule, s->aid)) return false;
    cs->compact_aid = rsp_msg_slice(s->aid.p + rule->offset, COMPACT_AID_LEN);
    if (!slice_eq(s->sima_response, rsp_msg_slice(SIMA_OK, sizeof SIMA_OK)))
      cs->sima_response = s->sima_response;
    cf->which =
        RSP_MSG_COMPACT_PROFILE_INSTALLATION_RESULT_DATA_COMPACT_FINAL_RESULT_COMPACT_SUCCESS_RESULT;
    cf->u.compact_success_result = cs;
  } else if (fr->which == RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT) {
    cf->which = RSP_MSG_COMPACT_PROFILE_INSTALLATION_RESULT_DATA_COMPACT_FINAL_RESULT_ERROR_RESULT;
    cf->u.error_result = fr->u.error_result;
  } else {
    return false;
  }
  cd->transaction_id = d->transaction_id;
  cd->seq_number = nm->seq_number;
  if (!present(nm->iccid)) cd->iccid_present = (struct rsp_msg_bool){false, true};
  cd->compact_final_result = cf;
  c->compact_profile_installation_result_data = cd;
  c->euicc_sign_pir = pir->euicc_sign_pir;
  *out = c;
  return true;
}

rsp_err_t rsp_msg_compact_notification_compress(const uint8_t *der, size_t len,
                                                const struct rsp_msg_compact_opts *o,
                                                struct rsp_slice eid, struct rsp_buf *out) {
  static const struct rsp_msg_compact_opts none = {0};
  struct rsp_arena a;
  struct rsp_msg_sgp32_pending_notification *n = NULL;
  if (!o) o = &none;
  struct rsp_msg_compact_aid_rule rule = aid_rule(o->aid);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = decode(&rsp_msgt_sgp32_pending_notification, der, len, &a, (void **)&n);
  if (rc != RSP_OK) goto out;
  struct rsp_msg_compact_other_signed_notification co = {0};
  struct rsp_msg_sgp32_pending_notification c = {0};
  if (n->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT &&
      pir_compress(n->u.profile_installation_result, &rule, &a,
                   &c.u.compact_profile_installation_result)) {
    c.which = RSP_MSG_SGP32_PENDING_NOTIFICATION_COMPACT_PROFILE_INSTALLATION_RESULT;
  } else if (n->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION &&
             !has_ext(n->u.other_signed_notification->ext)) {
    /* The certificates go: the eIM has them (IpaEuiccData) and puts them back. */
    co.eid_value = o->omit_eid || eid.len != 16 ? rsp_msg_slice(NULL, 0) : eid;
    co.tbs_other_notification = n->u.other_signed_notification->tbs_other_notification;
    co.euicc_notification_signature = n->u.other_signed_notification->euicc_notification_signature;
    c.which = RSP_MSG_SGP32_PENDING_NOTIFICATION_COMPACT_OTHER_SIGNED_NOTIFICATION;
    c.u.compact_other_signed_notification = &co;
  }
  if (c.which)
    rc = rsp_msg_encode(&rsp_msgt_sgp32_pending_notification, &c, out, NULL);
  else
    rc = copy(der, len, out); /* already compact, or no compact form fits */
out:
  rsp_arena_free(&a);
  return rc;
}

/* ProfileInstallationResult from the compact one: notificationMetadata { seqNumber, install,
 * notificationAddress (the SM-DP+ address of the session), iccid (the profile's, unless
 * iccidPresent is FALSE) }, smdpOid of the session, the ISD-P AID by the AID rule and the
 * default simaResponse when the form has none. */
static rsp_err_t pir_expand(const struct rsp_msg_compact_context *c,
                            const struct rsp_msg_compact_profile_installation_result *cp,
                            struct rsp_buf *out) {
  const struct rsp_msg_compact_profile_installation_result_data *cd =
      cp->compact_profile_installation_result_data;
  struct rsp_msg_compact_aid_rule rule = aid_rule(c->aid);
  uint8_t bits[5], aid[RSP_MSG_AID_MAX];
  struct rsp_slice address =
      present(c->notification_address) ? c->notification_address : c->server_address;
  bool with_iccid = rsp_msg_bool_or(cd->iccid_present, true);
  if (!present(address) || !present(c->smdp_oid) || (with_iccid && c->iccid.len != 10) ||
      !aid_rule_valid(&rule))
    return RSP_E_INVALID_ARG;
  struct rsp_msg_notification_metadata nm = {.seq_number = cd->seq_number,
                                             .profile_management_operation = install_event(bits),
                                             .notification_address = address,
                                             .iccid =
                                                 with_iccid ? c->iccid : rsp_msg_slice(NULL, 0)};
  struct rsp_msg_success_result ok = {0};
  struct rsp_msg_profile_installation_result_data_final_result fr = {0};
  const struct rsp_msg_compact_profile_installation_result_data_compact_final_result *cf =
      cd->compact_final_result;
  if (cf->which ==
      RSP_MSG_COMPACT_PROFILE_INSTALLATION_RESULT_DATA_COMPACT_FINAL_RESULT_COMPACT_SUCCESS_RESULT) {
    memcpy(aid, rule.base, rule.len);
    memcpy(aid + rule.offset, cf->u.compact_success_result->compact_aid.p, COMPACT_AID_LEN);
    ok.aid = rsp_msg_slice(aid, rule.len);
    ok.sima_response = cf->u.compact_success_result->sima_response;
    if (!present(ok.sima_response)) ok.sima_response = rsp_msg_slice(SIMA_OK, sizeof SIMA_OK);
    fr.which = RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT;
    fr.u.success_result = &ok;
  } else if (cf->which ==
             RSP_MSG_COMPACT_PROFILE_INSTALLATION_RESULT_DATA_COMPACT_FINAL_RESULT_ERROR_RESULT) {
    fr.which = RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_ERROR_RESULT;
    fr.u.error_result = cf->u.error_result;
  } else {
    return RSP_E_UNSUPPORTED;
  }
  struct rsp_msg_profile_installation_result_data d = {.transaction_id = cd->transaction_id,
                                                       .notification_metadata = &nm,
                                                       .smdp_oid = c->smdp_oid,
                                                       .final_result = &fr};
  struct rsp_msg_sgp32_profile_installation_result pir = {.profile_installation_result_data = &d,
                                                          .euicc_sign_pir = cp->euicc_sign_pir};
  return rsp_msg_encode(&rsp_msgt_sgp32_profile_installation_result, &pir, out, NULL);
}

/* OtherSignedNotification: the compact one with the eUICC and EUM certificates the eIM has. */
static rsp_err_t other_expand(const struct rsp_msg_compact_context *c,
                              const struct rsp_msg_compact_other_signed_notification *co,
                              struct rsp_buf *out) {
  if (!present(c->euicc_certificate) || !present(c->eum_certificate)) return RSP_E_INVALID_ARG;
  struct rsp_msg_other_signed_notification o = {
      .tbs_other_notification = co->tbs_other_notification,
      .euicc_notification_signature = co->euicc_notification_signature,
      .euicc_certificate = c->euicc_certificate,
      .eum_certificate = c->eum_certificate};
  return rsp_msg_encode(&rsp_msgt_other_signed_notification, &o, out, NULL);
}

rsp_err_t rsp_msg_compact_notification_expand(const uint8_t *der, size_t len,
                                              const struct rsp_msg_compact_context *c,
                                              struct rsp_buf *out) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_pending_notification *n = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = decode(&rsp_msgt_sgp32_pending_notification, der, len, &a, (void **)&n);
  if (rc != RSP_OK) goto out;
  switch (n->which) {
  case RSP_MSG_SGP32_PENDING_NOTIFICATION_COMPACT_PROFILE_INSTALLATION_RESULT:
    rc = pir_expand(c, n->u.compact_profile_installation_result, out);
    break;
  case RSP_MSG_SGP32_PENDING_NOTIFICATION_COMPACT_OTHER_SIGNED_NOTIFICATION:
    rc = other_expand(c, n->u.compact_other_signed_notification, out);
    break;
  case RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT:
  case RSP_MSG_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION:
    rc = copy(der, len, out);
    break;
  default:
    rc = RSP_E_UNSUPPORTED;
  }
out:
  rsp_arena_free(&a);
  return rc;
}

rsp_err_t rsp_msg_compact_notification_transaction_id(const uint8_t *der, size_t len,
                                                      struct rsp_slice *out) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_pending_notification *n = NULL;
  *out = rsp_msg_slice(NULL, 0);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = decode(&rsp_msgt_sgp32_pending_notification, der, len, &a, (void **)&n);
  if (rc == RSP_OK && n->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT)
    *out = n->u.profile_installation_result->profile_installation_result_data->transaction_id;
  if (rc == RSP_OK &&
      n->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_COMPACT_PROFILE_INSTALLATION_RESULT)
    *out = n->u.compact_profile_installation_result->compact_profile_installation_result_data
               ->transaction_id;
  rsp_arena_free(&a); /* the slice points into der, not into the arena */
  return rc;
}

/* ---- CancelSessionResponse --------------------------------------------------------------------
 */

rsp_err_t rsp_msg_compact_cancel_compress(const uint8_t *der, size_t len,
                                          const struct rsp_msg_compact_opts *o,
                                          struct rsp_buf *out) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_cancel_session_response *r = NULL;
  (void)o;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = decode(&rsp_msgt_sgp32_cancel_session_response, der, len, &a, (void **)&r);
  if (rc != RSP_OK) goto out;
  if (r->which != RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK) {
    rc = copy(der, len, out);
    goto out;
  }
  const struct rsp_msg_cancel_session_response_ok *ok = r->u.cancel_session_response_ok;
  /* The reason always goes: the eIM cannot know why the IPA cancelled. */
  struct rsp_msg_compact_euicc_cancel_session_signed cs = {
      .reason = rsp_msg_int_make(ok->euicc_cancel_session_signed->reason)};
  struct rsp_msg_compact_cancel_session_response_ok c = {.compact_euicc_cancel_session_signed = &cs,
                                                         .euicc_cancel_session_signature =
                                                             ok->euicc_cancel_session_signature};
  struct rsp_msg_sgp32_cancel_session_response cr = {
      .which = RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_COMPACT_CANCEL_SESSION_RESPONSE_OK,
      .u.compact_cancel_session_response_ok = &c};
  rc = rsp_msg_encode(&rsp_msgt_sgp32_cancel_session_response, &cr, out, NULL);
out:
  rsp_arena_free(&a);
  return rc;
}

/* The response as a BF41 element: an A1-tagged one (inside CancelSessionRequestEsipa) gets its
 * own tag back around the same content. */
static rsp_err_t cancel_as_bf41(const uint8_t *der, size_t len, struct rsp_buf *tmp) {
  struct rsp_der_tlv t;
  struct rsp_der_writer w;
  rsp_err_t rc = rsp_der_parse_one(der, len, &t);
  if (rc != RSP_OK) return rc;
  if (t.tag != RSP_TAG_SGP32_CANCEL_SESSION_RESPONSE && t.tag != TAG_ESIPA_CANCEL_SESSION_RESPONSE)
    return RSP_E_DER_UNEXPECTED_TAG;
  rsp_der_writer_init(&w, tmp);
  rsp_der_begin(&w, RSP_TAG_SGP32_CANCEL_SESSION_RESPONSE);
  rsp_der_put_raw(&w, t.val, t.len);
  rsp_der_end(&w);
  return rsp_der_writer_finish(&w);
}

rsp_err_t rsp_msg_compact_cancel_expand(const uint8_t *der, size_t len,
                                        const struct rsp_msg_compact_context *c,
                                        struct rsp_buf *out) {
  struct rsp_arena a;
  struct rsp_buf tmp;
  struct rsp_msg_sgp32_cancel_session_response *r = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&tmp, len + 16);
  rsp_err_t rc = cancel_as_bf41(der, len, &tmp);
  if (rc == RSP_OK)
    rc = decode(&rsp_msgt_sgp32_cancel_session_response, tmp.data, tmp.len, &a, (void **)&r);
  if (rc != RSP_OK) goto out;
  if (r->which != RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_COMPACT_CANCEL_SESSION_RESPONSE_OK) {
    rc = copy(tmp.data, tmp.len, out);
    goto out;
  }
  const struct rsp_msg_compact_cancel_session_response_ok *cr =
      r->u.compact_cancel_session_response_ok;
  struct rsp_msg_int reason = cr->compact_euicc_cancel_session_signed->reason;
  if (!reason.present) reason = c->cancel_reason;
  /* EuiccCancelSessionSigned { transactionId and smdpOid of the session, reason }. */
  struct rsp_msg_euicc_cancel_session_signed s = {
      .transaction_id = c->transaction_id,
      .smdp_oid = c->smdp_oid,
      .reason = reason.present ? reason.v : CANCEL_REASON_UNDEFINED};
  if (!present(s.transaction_id) || !present(s.smdp_oid)) {
    rc = RSP_E_INVALID_ARG;
    goto out;
  }
  struct rsp_msg_cancel_session_response_ok ok = {.euicc_cancel_session_signed = &s,
                                                  .euicc_cancel_session_signature =
                                                      cr->euicc_cancel_session_signature};
  struct rsp_msg_sgp32_cancel_session_response full = {
      .which = RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_CANCEL_SESSION_RESPONSE_OK,
      .u.cancel_session_response_ok = &ok};
  rc = rsp_msg_encode(&rsp_msgt_sgp32_cancel_session_response, &full, out, NULL);
out:
  rsp_buf_free(&tmp);
  rsp_arena_free(&a);
  return rc;
}
