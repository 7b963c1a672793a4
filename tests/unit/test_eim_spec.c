/* eIM operation specs (lib/eim/spec.c) and result summaries (lib/eim/summary.c): every JSON form
 * of rsp/eim/spec.h becomes the message it describes (checked field by field and by encoding),
 * every refusal names the key and the rule, and the summaries of the result messages read as
 * the operator expects. */
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/crypto/pki.h"
#include "rsp/crypto/signer.h"
#include "rsp/eim/spec.h"
#include "rsp/msg/base64.h"
#include "test.h"

static struct rsp_arena arena;
static char why[256];

static rsp_err_t parse(const char *json, struct rsp_eim_spec *out) {
  rsp_arena_free(&arena);
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  return rsp_eim_spec_parse(json, strlen(json), &arena, out, why, sizeof why);
}

/* Parses `json` expecting a refusal with `rc` and exactly this `why`. */
#define REFUSED(json, rc, text)                                                                    \
  do {                                                                                             \
    struct rsp_eim_spec s_;                                                                        \
    CHECK_ERR(parse(json, &s_), rc);                                                               \
    CHECK_STR(why, text);                                                                          \
    CHECK(s_.package == NULL && s_.data_request == NULL && s_.trigger == NULL);                    \
  } while (0)

static const uint8_t iccid1[10] = {0x98, 0x44, 0x10, 0x32, 0x54, 0x76, 0x98, 0x10, 0x32, 0xF4};

static void psmo_forms(void) {
  struct rsp_eim_spec s;
  CHECK_OK(
      parse("{\"kind\":\"psmo\",\"psmos\":["
            "{\"enable\":{\"iccid\":\"8944012345678901234\",\"rollback\":true}},"
            "{\"disable\":{\"iccid\":\"8944012345678901234\"}},"
            "{\"delete\":{\"iccid\":\"89440123456789012345\"}},"
            "{\"listProfileInfo\":{}},"
            "{\"listProfileInfo\":{\"iccid\":\"8944012345678901234\",\"tags\":\"5A9F70\"}},"
            "{\"listProfileInfo\":{\"profileClass\":2}},"
            "{\"listProfileInfo\":{\"isdpAid\":\"A0000005591010FFFFFFFF8900001100\"}},"
            "{\"getRAT\":{}},"
            "{\"configureImmediateEnable\":{\"enable\":true,\"smdpAddress\":\"smdp.example\"}},"
            "{\"setFallbackAttribute\":{\"iccid\":\"8944012345678901234\"}},"
            "{\"unsetFallbackAttribute\":{}},"
            "{\"setDefaultDpAddress\":{\"address\":\"\"}}]}",
            &s));
  CHECK_EQ(s.kind, RSP_EIM_OP_PSMO);
  CHECK(s.package && s.package->which == RSP_MSG_EUICC_PACKAGE_PSMO_LIST);
  if (!s.package) return;
  const struct rsp_msg_euicc_package_psmo_list *l = s.package->u.psmo_list;
  CHECK_EQ(l->n, 12);
  CHECK_EQ(l->v[0].which, RSP_MSG_PSMO_ENABLE);
  CHECK(l->v[0].u.enable->rollback_flag);
  CHECK_EQ(l->v[0].u.enable->iccid.len, 10);
  CHECK_MEM(l->v[0].u.enable->iccid.p, iccid1, 10);
  CHECK_EQ(l->v[1].which, RSP_MSG_PSMO_DISABLE);
  CHECK_EQ(l->v[2].which, RSP_MSG_PSMO_DELETE);
  CHECK_EQ(l->v[2].u.delete->iccid.p[9], 0x54); /* 20 digits: no F */
  CHECK(l->v[3].which == RSP_MSG_PSMO_LIST_PROFILE_INFO &&
        !l->v[3].u.list_profile_info->search_criteria);
  CHECK(l->v[4].u.list_profile_info->search_criteria->which ==
        RSP_MSG_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ICCID);
  CHECK_EQ(l->v[4].u.list_profile_info->tag_list.len, 3);
  CHECK_EQ(l->v[5].u.list_profile_info->search_criteria->u.profile_class, 2);
  CHECK_EQ(l->v[6].u.list_profile_info->search_criteria->u.isdp_aid.len, 16);
  CHECK_EQ(l->v[7].which, RSP_MSG_PSMO_GET_RAT);
  CHECK(l->v[8].u.configure_immediate_enable->immediate_enable_flag);
  CHECK_EQ(l->v[8].u.configure_immediate_enable->default_smdp_address.len, 12);
  CHECK_EQ(l->v[9].which, RSP_MSG_PSMO_SET_FALLBACK_ATTRIBUTE);
  CHECK_EQ(l->v[10].which, RSP_MSG_PSMO_UNSET_FALLBACK_ATTRIBUTE);
  CHECK(l->v[11].u.set_default_dp_address->default_dp_address.p != NULL);
  CHECK_EQ(l->v[11].u.set_default_dp_address->default_dp_address.len, 0);
  /* the message encodes */
  struct rsp_buf b;
  rsp_buf_init(&b, 1 << 16);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_euicc_package, s.package, &b, NULL));
  CHECK(b.len > 0 && b.data[0] == 0xA0);
  rsp_buf_free(&b);
}

/* A self-signed certificate and an SPKI, base64, for the eCO forms. */
static void key_material(char *cert_b64, size_t cert_size, char *spki_b64, size_t spki_size) {
  struct rsp_key *k = NULL;
  struct rsp_signer *sg = NULL;
  struct rsp_cert *c = NULL;
  struct rsp_cert_template t;
  struct rsp_buf spki;
  rsp_buf_init(&spki, 512);
  CHECK_OK(rsp_key_generate(RSP_CURVE_NIST_P256, &k));
  CHECK_OK(rsp_signer_inproc_take_key(k, &sg));
  rsp_pki_template_init(&t, RSP_PKI_CI);
  CHECK_OK(rsp_pki_issue(&t, rsp_signer_public_key(sg), NULL, sg, &c));
  struct rsp_slice der = rsp_cert_der(c);
  CHECK_OK(rsp_msg_base64_encode(der.p, der.len, cert_b64, cert_size));
  CHECK_OK(rsp_key_spki(rsp_signer_public_key(sg), &spki));
  CHECK_OK(rsp_msg_base64_encode(spki.data, spki.len, spki_b64, spki_size));
  rsp_buf_free(&spki);
  rsp_cert_free(c);
  rsp_signer_destroy(sg);
}

static void eco_forms(void) {
  static char cert[4096], spki[512], json[12000];
  struct rsp_eim_spec s;
  key_material(cert, sizeof cert, spki, sizeof spki);
  snprintf(json, sizeof json,
           "{\"kind\":\"eco\",\"ecos\":["
           "{\"addEim\":{\"eimId\":\"eim-2\",\"fqdn\":\"eim2.example\",\"idType\":2,"
           "\"counter\":5,\"certificate\":\"%s\",\"tlsPublicKey\":\"%s\","
           "\"supportedProtocols\":\"0780\",\"indirect\":true,\"associationToken\":true}},"
           "{\"updateEim\":{\"eimId\":\"eim-2\",\"publicKey\":\"%s\",\"tlsCertificate\":\"%s\"}},"
           "{\"deleteEim\":{\"eimId\":\"eim-2\"}},{\"listEim\":{}}]}",
           cert, spki, spki, cert);
  CHECK_OK(parse(json, &s));
  CHECK_EQ(s.kind, RSP_EIM_OP_ECO);
  if (!s.package) return;
  const struct rsp_msg_euicc_package_eco_list *l = s.package->u.eco_list;
  CHECK_EQ(l->n, 4);
  const struct rsp_msg_eim_configuration_data *a = l->v[0].u.add_eim;
  CHECK_EQ(l->v[0].which, RSP_MSG_ECO_ADD_EIM);
  CHECK(a->eim_id.len == 5 && memcmp(a->eim_id.p, "eim-2", 5) == 0);
  CHECK(a->counter_value.present && a->counter_value.v == 5);
  CHECK(a->eim_id_type.present && a->eim_id_type.v == 2);
  CHECK(a->association_token.present && a->association_token.v == -1);
  CHECK(a->indirect_profile_download);
  CHECK_EQ(a->eim_public_key_data->which,
           RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE);
  CHECK_EQ(a->trusted_public_key_data_tls->which,
           RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS);
  CHECK_EQ(a->eim_supported_protocol.len, 2);
  CHECK_EQ(l->v[1].u.update_eim->eim_public_key_data->which,
           RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY);
  CHECK_EQ(l->v[2].which, RSP_MSG_ECO_DELETE_EIM);
  CHECK_EQ(l->v[3].which, RSP_MSG_ECO_LIST_EIM);
  /* both key forms at once, a certificate that is not one, a token on updateEim */
  snprintf(json, sizeof json,
           "{\"kind\":\"eco\",\"ecos\":[{\"addEim\":{\"eimId\":\"x\",\"certificate\":\"%s\","
           "\"publicKey\":\"%s\"}}]}",
           cert, spki);
  REFUSED(json, RSP_E_JSON_INVALID, "ecos[0].addEim: certificate and publicKey exclude each other");
  REFUSED("{\"kind\":\"eco\",\"ecos\":[{\"addEim\":{\"eimId\":\"x\",\"certificate\":\"AAAA\"}}]}",
          RSP_E_JSON_INVALID,
          "ecos[0].addEim.certificate: not an X.509 certificate (certificate cannot be parsed)");
  REFUSED(
      "{\"kind\":\"eco\",\"ecos\":[{\"updateEim\":{\"eimId\":\"x\",\"associationToken\":true}}]}",
      RSP_E_JSON_INVALID,
      "ecos[0].updateEim.associationToken: updateEim cannot carry an "
      "associationToken");
  REFUSED("{\"kind\":\"eco\",\"ecos\":[{\"deleteEim\":{}}]}", RSP_E_JSON_MISSING,
          "ecos[0].deleteEim.eimId: missing");
  REFUSED("{\"kind\":\"eco\",\"ecos\":[{\"addEim\":{\"eimId\":\"x\",\"supportedProtocols\":"
          "\"0781\"}}]}",
          RSP_E_JSON_INVALID, "ecos[0].addEim.supportedProtocols: unused bits are not zero");
  REFUSED("{\"kind\":\"eco\",\"ecos\":[{\"enable\":{}}]}", RSP_E_JSON_INVALID,
          "ecos[0]: unknown eCO \"enable\"");
}

static void data_and_download_forms(void) {
  struct rsp_eim_spec s;
  CHECK_OK(parse("{\"kind\":\"euicc_data\",\"tags\":\"BF20bf22A5A6A2\"}", &s));
  CHECK(s.kind == RSP_EIM_OP_EUICC_DATA && s.data_request);
  CHECK(s.data_request && s.data_request->tag_list.len == 7 &&
        !s.data_request->eim_transaction_id.p);
  REFUSED("{\"kind\":\"euicc_data\",\"tags\":\"5A\"}", RSP_E_JSON_INVALID,
          "tags: 5A is not an IpaEuiccData tag");
  REFUSED("{\"kind\":\"euicc_data\",\"tags\":\"A0A0\"}", RSP_E_JSON_INVALID,
          "tags: A0 is listed twice");
  REFUSED("{\"kind\":\"euicc_data\",\"tags\":\"BF\"}", RSP_E_JSON_INVALID,
          "tags: not a list of BER tags");
  REFUSED("{\"kind\":\"euicc_data\"}", RSP_E_JSON_MISSING, "tags: missing");

  CHECK_OK(parse("{\"kind\":\"download\",\"activationCode\":\"LPA:1$smdp.example$MID-1\"}", &s));
  CHECK(s.trigger &&
        s.trigger->profile_download_data->which == RSP_MSG_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE);
  if (s.trigger) {
    struct rsp_slice ac = s.trigger->profile_download_data->u.activation_code;
    CHECK(ac.len == 20 && memcmp(ac.p, "1$smdp.example$MID-1", 20) == 0); /* prefix removed */
  }
  CHECK_OK(parse("{\"kind\":\"download\",\"defaultSmdp\":true}", &s));
  CHECK(s.trigger && s.trigger->profile_download_data->u.contact_default_smdp);
  CHECK_OK(parse("{\"kind\":\"download\",\"smds\":true,\"smdsAddress\":\"smds.example\"}", &s));
  CHECK(s.trigger &&
        s.trigger->profile_download_data->which == RSP_MSG_PROFILE_DOWNLOAD_DATA_CONTACT_SMDS);
  REFUSED("{\"kind\":\"download\",\"activationCode\":\"2$x$y\"}", RSP_E_JSON_INVALID,
          "activationCode: AC_Format other than 1");
  REFUSED("{\"kind\":\"download\"}", RSP_E_JSON_MISSING,
          "exactly one of activationCode, defaultSmdp and smds expected");
  REFUSED("{\"kind\":\"download\",\"defaultSmdp\":true,\"smds\":true}", RSP_E_JSON_INVALID,
          "exactly one of activationCode, defaultSmdp and smds expected");
  REFUSED("{\"kind\":\"download\",\"defaultSmdp\":false}", RSP_E_JSON_INVALID,
          "defaultSmdp: must be true");
}

static void refusals(void) {
  struct rsp_eim_spec s;
  REFUSED("", RSP_E_JSON_INVALID,
          "not JSON: '[' or '{' expected near end of file (line 1, column 0)");
  REFUSED("[]", RSP_E_JSON_INVALID, "must be a JSON object");
  REFUSED("{\"kind\":\"psmo\",\"kind\":\"eco\"}", RSP_E_JSON_INVALID,
          "not JSON: duplicate object key near '\"kind\"' (line 1, column 21)");
  REFUSED("{}", RSP_E_JSON_MISSING, "kind: missing");
  REFUSED("{\"kind\":\"reboot\"}", RSP_E_JSON_INVALID,
          "kind: \"reboot\" is not psmo, eco, euicc_data or download");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[],\"x\":1}", RSP_E_JSON_INVALID, "unknown key \"x\"");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[]}", RSP_E_JSON_INVALID,
          "psmos: 0 operations, 1 to 16 expected");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":{}}", RSP_E_JSON_INVALID,
          "psmos: must be an array of operations");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}},{\"enable\":{\"iccid\":"
          "\"89440123456789012\"}}]}",
          RSP_E_JSON_INVALID, "psmos[1].enable.iccid: 17 digits, 18 to 20 expected");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"8944012345678901X34\"}}]}",
          RSP_E_JSON_INVALID, "psmos[0].enable.iccid: not a digit at position 17");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"8944012345678901234\","
          "\"rollbak\":true}}]}",
          RSP_E_JSON_INVALID, "psmos[0].enable: unknown key \"rollbak\"");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"8944012345678901234\","
          "\"rollback\":1}}]}",
          RSP_E_JSON_INVALID, "psmos[0].enable.rollback: must be true or false");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{}}]}", RSP_E_JSON_MISSING,
          "psmos[0].enable.iccid: missing");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{},\"listEim\":{}}]}", RSP_E_JSON_INVALID,
          "psmos[0]: must be an object with exactly one operation name as key");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"reboot\":{}}]}", RSP_E_JSON_INVALID,
          "psmos[0]: unknown PSMO \"reboot\"");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{\"x\":1}}]}", RSP_E_JSON_INVALID,
          "psmos[0].getRAT: unknown key \"x\"");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{\"profileClass\":3}}]}",
          RSP_E_JSON_INVALID, "psmos[0].listProfileInfo.profileClass: 3 is out of range 0..2");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{\"profileClass\":1,"
          "\"iccid\":\"8944012345678901234\"}}]}",
          RSP_E_JSON_INVALID,
          "psmos[0].listProfileInfo: iccid, isdpAid and profileClass exclude each other");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"listProfileInfo\":{\"tags\":\"5A9\"}}]}",
          RSP_E_JSON_INVALID, "psmos[0].listProfileInfo.tags: odd number of hex digits");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"setDefaultDpAddress\":{\"address\":\"a b\"}}]}",
          RSP_E_JSON_INVALID,
          "psmos[0].setDefaultDpAddress.address: not a host name (character 2)");
  REFUSED("{\"kind\":\"psmo\",\"psmos\":[{\"configureImmediateEnable\":{}}]}", RSP_E_JSON_MISSING,
          "psmos[0].configureImmediateEnable.enable: missing");
  /* 17 operations: one too many */
  char many[2048] = "{\"kind\":\"psmo\",\"psmos\":[";
  for (int i = 0; i < 17; i++) strcat(many, i ? ",{\"getRAT\":{}}" : "{\"getRAT\":{}}");
  strcat(many, "]}");
  REFUSED(many, RSP_E_JSON_INVALID, "psmos: 17 operations, 1 to 16 expected");
  /* arguments, and a NULL why */
  CHECK_ERR(rsp_eim_spec_parse(NULL, 0, &arena, &s, NULL, 0), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_spec_parse("{}", 2, &arena, &s, NULL, 0), RSP_E_JSON_MISSING);
  CHECK_ERR(rsp_eim_spec_parse("{}", RSP_EIM_SPEC_MAX_TEXT + 1, &arena, &s, why, sizeof why),
            RSP_E_JSON_INVALID);
  /* a tiny why buffer is cut, never overrun */
  char small[8];
  CHECK_ERR(rsp_eim_spec_parse("{}", 2, &arena, &s, small, sizeof small), RSP_E_JSON_MISSING);
  CHECK_STR(small, "kind: m");
}

/* ---- summaries ----------------------------------------------------------------------------------
 */

static char *summary_of(const struct rsp_msg_eim_package_result *r) {
  struct rsp_buf b;
  char *out = NULL;
  rsp_buf_init(&b, 1 << 16);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_eim_package_result, r, &b, NULL));
  CHECK_OK(rsp_eim_result_summary(b.data, b.len, &out));
  rsp_buf_free(&b);
  return out;
}

#define SUMMARY_IS(r, text)                                                                        \
  do {                                                                                             \
    char *s_ = summary_of(r);                                                                      \
    CHECK_STR(s_, text);                                                                           \
    rsp_free(s_);                                                                                  \
  } while (0)

static void summaries_epr(void) {
  static uint8_t sig[64];
  struct rsp_msg_sgp32_profile_info p[2] = {
      {.iccid = rsp_msg_slice(iccid1, 10),
       .profile_state = rsp_msg_int_make(1),
       .profile_name = rsp_msg_slice("IoT", 3),
       .profile_class = rsp_msg_int_make(2)},
      {.iccid = rsp_msg_slice(iccid1, 10), .profile_state = rsp_msg_int_make(0)}};
  struct rsp_msg_sgp32_profile_info_list_response_profile_info_list_ok ok = {.v = p, .n = 2};
  struct rsp_msg_sgp32_profile_info_list_response pl = {
      .which = RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK,
      .u.profile_info_list_ok = &ok};
  struct rsp_msg_eim_id_info ids[1] = {{.eim_id = rsp_msg_slice("eim-1", 5)}};
  struct rsp_msg_list_eim_result_eim_id_list idl = {.v = ids, .n = 1};
  struct rsp_msg_list_eim_result le = {.which = RSP_MSG_LIST_EIM_RESULT_EIM_ID_LIST,
                                       .u.eim_id_list = &idl};
  struct rsp_msg_add_eim_result ae = {.which = RSP_MSG_ADD_EIM_RESULT_ASSOCIATION_TOKEN,
                                      .u.association_token = 7};
  struct rsp_msg_euicc_result_data d[6] = {
      {.which = RSP_MSG_EUICC_RESULT_DATA_ENABLE_RESULT, .u.enable_result = 0},
      {.which = RSP_MSG_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT,
       .u.list_profile_info_result = &pl},
      {.which = RSP_MSG_EUICC_RESULT_DATA_LIST_EIM_RESULT, .u.list_eim_result = &le},
      {.which = RSP_MSG_EUICC_RESULT_DATA_ADD_EIM_RESULT, .u.add_eim_result = &ae},
      {.which = RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT, .u.rollback_result = 0},
      {.which = RSP_MSG_EUICC_RESULT_DATA_DELETE_RESULT, .u.delete_result = 2}};
  struct rsp_msg_euicc_package_result_data_signed_euicc_result list = {.v = d, .n = 5};
  struct rsp_msg_euicc_package_result_data_signed data = {.eim_id = rsp_msg_slice("eim-1", 5),
                                                          .counter_value = 11,
                                                          .seq_number = 3,
                                                          .euicc_result = &list};
  struct rsp_msg_euicc_package_result_signed rs = {.euicc_package_result_data_signed = &data,
                                                   .euicc_sign_epr = rsp_msg_slice(sig, 64)};
  struct rsp_msg_euicc_package_result epr = {
      .which = RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED,
      .u.euicc_package_result_signed = &rs};
  struct rsp_msg_eim_package_result r = {.which = RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT,
                                         .u.euicc_package_result = &epr};
  SUMMARY_IS(&r, "{\"result\":\"ok\",\"counter\":11,\"seqNumber\":3,\"operations\":["
                 "{\"enable\":\"ok\"},{\"listProfileInfo\":{\"profiles\":["
                 "{\"iccid\":\"8944012345678901234\",\"state\":\"enabled\",\"name\":\"IoT\","
                 "\"class\":\"operational\"},{\"iccid\":\"8944012345678901234\","
                 "\"state\":\"disabled\"}]}},{\"listEim\":{\"eimIds\":[\"eim-1\"]}},"
                 "{\"addEim\":{\"associationToken\":7}},{\"rollback\":\"ok\"}]}");
  /* one operation refused: the result is an error, the operation named */
  list.n = 6;
  SUMMARY_IS(&r, "{\"result\":\"error\",\"counter\":11,\"seqNumber\":3,\"operations\":["
                 "{\"enable\":\"ok\"},{\"listProfileInfo\":{\"profiles\":["
                 "{\"iccid\":\"8944012345678901234\",\"state\":\"enabled\",\"name\":\"IoT\","
                 "\"class\":\"operational\"},{\"iccid\":\"8944012345678901234\","
                 "\"state\":\"disabled\"}]}},{\"listEim\":{\"eimIds\":[\"eim-1\"]}},"
                 "{\"addEim\":{\"associationToken\":7}},{\"rollback\":\"ok\"},"
                 "{\"delete\":\"profileNotInDisabledState\"}]}");
  d[0].which = RSP_MSG_EUICC_RESULT_DATA_PROCESSING_TERMINATED;
  d[0].u.processing_terminated = 1;
  list.n = 1;
  SUMMARY_IS(&r, "{\"result\":\"error\",\"counter\":11,\"seqNumber\":3,\"operations\":["
                 "{\"processingTerminated\":\"resultSizeOverflow\"}]}");
  /* a signed and an unsigned error */
  struct rsp_msg_euicc_package_error_data_signed ed = {
      .eim_id = rsp_msg_slice("eim-1", 5), .counter_value = 9, .euicc_package_error_code = 4};
  struct rsp_msg_euicc_package_error_signed es = {.euicc_package_error_data_signed = &ed,
                                                  .euicc_sign_epe = rsp_msg_slice(sig, 64)};
  epr.which = RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED;
  epr.u.euicc_package_error_signed = &es;
  SUMMARY_IS(&r, "{\"result\":\"replayError\",\"counter\":9}");
  struct rsp_msg_euicc_package_error_unsigned eu = {.eim_id = rsp_msg_slice("eim-1", 5)};
  epr.which = RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED;
  epr.u.euicc_package_error_unsigned = &eu;
  SUMMARY_IS(&r, "{\"result\":\"euiccPackageErrorUnsigned\"}");
  struct rsp_msg_eim_package_result_response_error re = {.eim_package_result_error_code = 2};
  struct rsp_msg_eim_package_result r2 = {
      .which = RSP_MSG_EIM_PACKAGE_RESULT_EIM_PACKAGE_RESULT_RESPONSE_ERROR,
      .u.eim_package_result_response_error = &re};
  SUMMARY_IS(&r2, "{\"result\":\"unknownPackage\"}");
}

static void summaries_data_trigger(void) {
  struct rsp_msg_euicc_package_result_list none = {0};
  struct rsp_msg_ipa_euicc_data d = {.default_smdp_address = rsp_msg_slice("smdp.example", 12),
                                     .euicc_package_result_list = &none,
                                     .association_token = rsp_msg_int_make(3),
                                     .euicc_certificate = rsp_msg_slice("\x30\x00", 2)};
  struct rsp_msg_ipa_euicc_data_response dr = {
      .which = RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA, .u.ipa_euicc_data = &d};
  struct rsp_msg_eim_package_result r = {.which =
                                             RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE,
                                         .u.ipa_euicc_data_response = &dr};
  SUMMARY_IS(&r, "{\"result\":\"ok\",\"defaultSmdpAddress\":\"smdp.example\","
                 "\"euiccPackageResults\":0,\"associationToken\":3,\"returned\":["
                 "\"defaultSmdpAddress\",\"euiccPackageResultList\",\"associationToken\","
                 "\"euiccCertificate\"]}");
  struct rsp_msg_ipa_euicc_data_response_error de = {.ipa_euicc_data_error_code = 1};
  dr.which = RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA_RESPONSE_ERROR;
  dr.u.ipa_euicc_data_response_error = &de;
  SUMMARY_IS(&r, "{\"result\":\"incorrectTagList\"}");

  struct
      rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data_profile_download_error
          err = {.profile_download_error_reason = 127,
                 .error_response = rsp_msg_slice("\x01\x02", 2)};
  struct rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data td = {
      .which =
          RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_DOWNLOAD_ERROR,
      .u.profile_download_error = &err};
  struct rsp_msg_profile_download_trigger_result t = {
      .eim_transaction_id = rsp_msg_slice("\x01", 1), .profile_download_trigger_result_data = &td};
  struct rsp_msg_eim_package_result r3 = {
      .which = RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT,
      .u.profile_download_trigger_result = &t};
  SUMMARY_IS(&r3, "{\"result\":\"undefinedError\",\"errorResponse\":\"0102\"}");
  /* not a result: refused */
  char *out = (char *)1;
  CHECK_ERR(rsp_eim_result_summary((const uint8_t *)"\x30\x00", 2, &out), RSP_E_DER_MISSING);
  CHECK(out == NULL);
  CHECK_ERR(rsp_eim_result_summary(NULL, 0, &out), RSP_E_INVALID_ARG);
}

static void cleanup(void) { rsp_arena_free(&arena); }

RSP_TESTS(T(psmo_forms), T(eco_forms), T(data_and_download_forms), T(refusals), T(summaries_epr),
          T(summaries_data_trigger), T(cleanup))
