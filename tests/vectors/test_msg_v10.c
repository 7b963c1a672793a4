/* SGP.32 v1.0 ESipa forms: the real v1.0 ProvideEimPackageResult of notes 3.4 decodes with its
 * notification list, and both eUICC signatures in it (the result and its notification copy)
 * verify with the card's key over the v1.1+ input (data || associationToken). */
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/crypto/crypto.h"
#include "rsp/msg/signed.h"
#include "rsp/msg/sgp32_v10.h"
#include "test.h"

static const char *V10_HEX =
    "BF5081E23081DFBF516AA0683023800365494D810203EE8210F92B2FEE35632499E841CB754FDFD9F38301143003"
    "8301015F37409EB61D189D332FF2DC6FF90A97A9438AB973F04E6FE2F106FA9C7809A36B8A12740E113C583009D3"
    "859A3B2EABE6F43409AE46F32CFD34E2D023B2561F9F2311BF2B6FA26DBF516AA0683023800365494D810203EE82"
    "10F92B2FEE35632499E841CB754FDFD9F383011430038301015F37400523BFA5A4F0CAAA1D42637520E2DEF2DDC9"
    "6FBE775342BB13D3D6EB6AD919951354FB59082675038D949131ECF3AF272F771A085E3C2099DC45C897E9808022";
static const char *CARD_POINT_HEX =
    "04BD2C55B28B4E801CA0B14F195788FD86C7FF49764C88A2934C69594A26FF647549F3F16060BD9C8D793D95D012"
    "6FA429C94966FE7842967263795A73C498F1DB";

static void verify_epr(const struct rsp_key *key, const struct rsp_msg_euicc_package_result *r) {
  struct rsp_buf in;
  struct rsp_msg_token token = {true, 1};
  rsp_buf_init(&in, 1024);
  CHECK_EQ(r->which, RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  const struct rsp_msg_euicc_package_result_signed *s = r->u.euicc_package_result_signed;
  CHECK_EQ(s->euicc_package_result_data_signed->seq_number, 20);
  CHECK_OK(rsp_msg_signed_with_token(s->euicc_package_result_data_signed->raw, token, &in));
  CHECK_OK(rsp_ecdsa_verify(key, in.data, in.len, s->euicc_sign_epr.p));
  rsp_buf_free(&in);
}

static void v10_provide_eim_package_result(void) {
  size_t len, plen;
  uint8_t *der = rsp_test_hex(V10_HEX, &len), *pt = rsp_test_hex(CARD_POINT_HEX, &plen);
  struct rsp_arena a;
  struct rsp_buf again;
  struct rsp_key *key = NULL;
  struct rsp_msg_v10_provide_eim_package_result *r = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&again, 4096);
  CHECK_OK(rsp_key_from_point(RSP_CURVE_NIST_P256, pt, plen, &key));
  CHECK_OK(
      rsp_msg_decode(&rsp_msgt_v10_provide_eim_package_result, der, len, &a, (void **)&r, NULL));
  CHECK_EQ(r->which, RSP_MSG_V10_PROVIDE_EIM_PACKAGE_RESULT_EPR_AND_NOTIFICATIONS);
  const struct rsp_msg_v10_epr_and_notifications *en = r->u.epr_and_notifications;
  verify_epr(key, en->euicc_package_result);
  const struct rsp_msg_sgp32_retrieve_notifications_list_response *nl = en->notification_list;
  CHECK_EQ(nl->which, RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_EUICC_PACKAGE_RESULT_LIST);
  CHECK_EQ(nl->u.euicc_package_result_list->n, 1);
  verify_epr(key, &nl->u.euicc_package_result_list->v[0]);
  /* the two signatures differ (ECDSA is randomised) yet cover the same data */
  CHECK(
      memcmp(en->euicc_package_result->u.euicc_package_result_signed->euicc_sign_epr.p,
             nl->u.euicc_package_result_list->v[0].u.euicc_package_result_signed->euicc_sign_epr.p,
             64) != 0);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_v10_provide_eim_package_result, r, &again, NULL));
  CHECK(again.len == len && memcmp(again.data, der, len) == 0);
  rsp_key_free(key);
  rsp_buf_free(&again);
  rsp_arena_free(&a);
  rsp_free(der);
  rsp_free(pt);
}

static void v10_get_eim_package_request_rplmn(void) {
  size_t len;
  uint8_t *der = rsp_test_hex("BF4F195A1089044045118427484800000000011628800081033"
                              "2F410",
                              &len);
  struct rsp_arena a;
  struct rsp_msg_v10_get_eim_package_request *r = NULL;
  struct rsp_msg_v10_provide_eim_package_result_response *ack = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_msg_decode(&rsp_msgt_v10_get_eim_package_request, der, len, &a, (void **)&r, NULL));
  CHECK(r->notify_state_change);
  CHECK_EQ(r->r_plmn.len, 3);
  CHECK_MEM(r->r_plmn.p, "\x32\xF4\x10", 3);
  static const uint8_t empty[] = {0xBF, 0x50, 0x00};
  CHECK_OK(rsp_msg_decode(&rsp_msgt_v10_provide_eim_package_result_response, empty, 3, &a,
                          (void **)&ack, NULL));
  CHECK(ack->eim_acknowledgements == NULL);
  CHECK(rsp_msg_type_find("ProvideEimPackageResult-v1.0") ==
        &rsp_msgt_v10_provide_eim_package_result);
  rsp_arena_free(&a);
  rsp_free(der);
}

RSP_TESTS(T(v10_provide_eim_package_result), T(v10_get_eim_package_request_rplmn))
