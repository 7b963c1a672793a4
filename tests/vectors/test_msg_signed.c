/* Signed-input builders against the real traces of notes 3.1 and 3.4: the eUICC's EPR signature
 * must verify with the card's public key over exactly what rsp_msg_signed_with_token builds, and
 * only over that. Also the SGP.22 inputs (smdpSigned2, euiccSigned2, InitialiseSecureChannel). */
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/crypto/crypto.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/es10.h"
#include "rsp/msg/signed.h"
#include "test.h"

/* notes 3.4: EuiccPackageResult (109 bytes) from a real test eUICC, and the card's key. */
static const char *EPR_HEX =
    "BF516AA0683023800365494D810203EE8210F92B2FEE35632499E841CB754FDFD9F383011430038301015F37409E"
    "B61D189D332FF2DC6FF90A97A9438AB973F04E6FE2F106FA9C7809A36B8A12740E113C583009D3859A3B2EABE6F4"
    "3409AE46F32CFD34E2D023B2561F9F2311";
static const char *CARD_POINT_HEX =
    "04BD2C55B28B4E801CA0B14F195788FD86C7FF49764C88A2934C69594A26FF647549F3F16060BD9C8D793D95D012"
    "6FA429C94966FE7842967263795A73C498F1DB";
/* notes 3.1: EuiccPackageRequest (134 bytes), enable PSMO, counter 1006. */
static const char *EPRQ_HEX =
    "BF518182303D800365494D5A1089044045118427484800000000011628810203EE8210F92B2FEE35632499E841CB"
    "754FDFD9F3A00EA30C5A0A989444999999990920F35F37408D5DE179B03A3FE13CD3A7E5A947FDDBB831ACC8F9AA"
    "FDC9777D314837CB0C805EE3029BF2445611C1580DC4470147DD6293ECA66987BC9A0A704CAB0031B223";

static void epr_signature_verifies_over_data_and_token(void) {
  size_t len, plen, want_len;
  uint8_t *der = rsp_test_hex(EPR_HEX, &len), *pt = rsp_test_hex(CARD_POINT_HEX, &plen);
  uint8_t *want = rsp_test_hex("3023800365494D810203EE8210F92B2FEE35632499E841CB754FDFD9F383011430"
                               "038301018401"
                               "01",
                               &want_len);
  struct rsp_arena a;
  struct rsp_buf in;
  struct rsp_key *key = NULL;
  struct rsp_msg_euicc_package_result *r = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&in, 4096);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_euicc_package_result, der, len, &a, (void **)&r, NULL));
  CHECK_EQ(r->which, RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  struct rsp_msg_euicc_package_result_signed *s = r->u.euicc_package_result_signed;
  struct rsp_msg_token token = {true, 1};
  CHECK_OK(rsp_msg_signed_with_token(s->euicc_package_result_data_signed->raw, token, &in));
  CHECK_EQ(in.len, want_len);
  CHECK_MEM(in.data, want, want_len);
  CHECK_OK(rsp_key_from_point(RSP_CURVE_NIST_P256, pt, plen, &key));
  CHECK_EQ(s->euicc_sign_epr.len, RSP_MSG_SIG_LEN);
  CHECK_OK(rsp_ecdsa_verify(key, in.data, in.len, s->euicc_sign_epr.p));
  /* Any other token, or no token, must not verify: the token is part of the input. */
  for (int64_t t = 0; t < 4; t++) {
    if (t == 1) continue;
    struct rsp_msg_token other = {t != 3, t};
    rsp_buf_reset(&in);
    CHECK_OK(rsp_msg_signed_with_token(s->euicc_package_result_data_signed->raw, other, &in));
    CHECK_ERR(rsp_ecdsa_verify(key, in.data, in.len, s->euicc_sign_epr.p), RSP_E_SIG_INVALID);
  }
  rsp_key_free(key);
  rsp_buf_free(&in);
  rsp_arena_free(&a);
  rsp_free(der);
  rsp_free(pt);
  rsp_free(want);
}

static void eim_signature_input_is_signed_part_and_token(void) {
  size_t len;
  uint8_t *der = rsp_test_hex(EPRQ_HEX, &len);
  struct rsp_arena a;
  struct rsp_buf in;
  struct rsp_msg_euicc_package_request *r = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&in, 4096);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_euicc_package_request, der, len, &a, (void **)&r, NULL));
  struct rsp_msg_token none = {false, 0};
  CHECK_OK(rsp_msg_signed_with_token(r->euicc_package_signed->raw, none, &in));
  /* euiccPackageSigned starts right after BF51 81 82 and is 0x3F bytes long. */
  CHECK_EQ(in.len, 0x3F + 3);
  CHECK_MEM(in.data, der + 4, 0x3F);
  CHECK_MEM(in.data + 0x3F, "\x84\x01\x00", 3);
  rsp_buf_reset(&in);
  struct rsp_msg_token big = {true, 300};
  CHECK_OK(rsp_msg_signed_with_token(r->euicc_package_signed->raw, big, &in));
  CHECK_MEM(in.data + 0x3F, "\x84\x02\x01\x2C", 4);
  rsp_buf_reset(&in);
  struct rsp_msg_token neg = {true, -1};
  CHECK_OK(rsp_msg_signed_with_token(r->euicc_package_signed->raw, neg, &in));
  CHECK_MEM(in.data + 0x3F, "\x84\x01\xFF", 3);
  /* Not one TLV: refused. */
  CHECK_ERR(rsp_msg_signed_with_token(rsp_msg_slice(der + 4, 10), none, &in), RSP_E_DER_TRUNCATED);
  rsp_buf_free(&in);
  rsp_arena_free(&a);
  rsp_free(der);
}

static void sgp22_inputs(void) {
  uint8_t sig[64], sig2[64], otpk[65];
  struct rsp_buf in;
  memset(sig, 0xA5, sizeof sig);
  memset(sig2, 0x5A, sizeof sig2);
  memset(otpk, 0x04, sizeof otpk);
  rsp_buf_init(&in, 4096);
  static const uint8_t smdp_signed2[] = {0x30, 0x06, 0x80, 0x01, 0x01, 0x01, 0x01, 0x00};
  CHECK_OK(rsp_msg_signed_smdp2(rsp_msg_slice(smdp_signed2, sizeof smdp_signed2),
                                rsp_msg_slice(sig, 64), &in));
  CHECK_EQ(in.len, sizeof smdp_signed2 + 3 + 64);
  CHECK_MEM(in.data, smdp_signed2, sizeof smdp_signed2);
  CHECK_MEM(in.data + sizeof smdp_signed2, "\x5F\x37\x40", 3);
  CHECK_MEM(in.data + sizeof smdp_signed2 + 3, sig, 64);
  rsp_buf_reset(&in);
  CHECK_ERR(rsp_msg_signed_euicc2(rsp_msg_slice(smdp_signed2, sizeof smdp_signed2),
                                  rsp_msg_slice(sig, 63), &in),
            RSP_E_SIG_FORMAT);
  CHECK_EQ(in.len, 0);
  /* InitialiseSecureChannel: every element except 5F37, then 5F49 euiccOtpk. */
  static const uint8_t isc[] = {0xBF, 0x23, 0x15, 0x82, 0x01, 0x01, 0x80, 0x01, 0x07,
                                0xA6, 0x03, 0x80, 0x01, 0x88, 0x5F, 0x49, 0x01, 0x04,
                                0x5F, 0x37, 0x03, 0xEE, 0xEE, 0xEE, 0x00};
  CHECK_OK(rsp_msg_signed_isc(rsp_msg_slice(isc, 24), rsp_msg_slice(otpk, 65), &in));
  CHECK_EQ(in.len, 15 + 3 + 65);
  CHECK_MEM(in.data, isc + 3, 15);
  CHECK_MEM(in.data + 15, "\x5F\x49\x41", 3);
  rsp_buf_reset(&in);
  CHECK(rsp_msg_signed_isc(rsp_msg_slice(isc, 25), rsp_msg_slice(otpk, 65), &in) != RSP_OK);
  CHECK_EQ(in.len, 0);
  rsp_buf_free(&in);
}

static void es10_table(void) {
  /* every ES10 function has a unique tag, decodes its own request, names a response */
  for (size_t i = 0; i < rsp_es10_functions_count; i++) {
    const struct rsp_es10_function *f = &rsp_es10_functions[i];
    CHECK(rsp_es10_function_by_tag(f->tag) == f);
    CHECK_EQ(f->request->tag, f->tag);
    /* LoadBoundProfilePackage: segments of BF36 in, ProfileInstallationResult BF37 out */
    CHECK_EQ(f->response->tag, f->tag == 0xBF36 ? 0xBF37u : f->tag);
  }
  CHECK_EQ(rsp_es10_functions_count, 36);
  struct rsp_arena a;
  const struct rsp_es10_function *fn = NULL;
  void *req = NULL, *resp = NULL;
  bool sgp22 = true;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  static const uint8_t rollback[] = {0xBF, 0x58, 0x03, 0x80, 0x01, 0xFF};
  CHECK_OK(rsp_es10_decode_command(rollback, sizeof rollback, &a, &fn, &req, NULL));
  CHECK_STR(fn->name, "ProfileRollback");
  CHECK(((struct rsp_msg_profile_rollback_request *)req)->refresh_flag);
  static const uint8_t rb_resp[] = {0xBF, 0x58, 0x03, 0x02, 0x01, 0x01};
  CHECK_OK(rsp_es10_decode_response(fn, rb_resp, sizeof rb_resp, &a, &resp, &sgp22, NULL));
  CHECK(!sgp22);
  CHECK_EQ(((struct rsp_msg_profile_rollback_response *)resp)->cmd_result,
           RSP_MSG_PROFILE_ROLLBACK_RESPONSE_CMD_RESULT_ROLLBACK_NOT_ALLOWED);
  static const uint8_t unknown[] = {0xBF, 0x7F, 0x00};
  CHECK_ERR(rsp_es10_decode_command(unknown, sizeof unknown, &a, &fn, &req, NULL),
            RSP_E_UNSUPPORTED);
  rsp_arena_free(&a);
}

RSP_TESTS(T(epr_signature_verifies_over_data_and_token),
          T(eim_signature_input_is_signed_part_and_token), T(sgp22_inputs), T(es10_table))
