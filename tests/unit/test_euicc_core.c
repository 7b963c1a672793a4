/* The software eUICC's ES10 functions, in-process: identity and EUICCInfo, eIM association
 * (AddInitialEim), eUICC packages (signature, EID, replay counter, every error form, the signed
 * result and its verification), profile state rules, rollback, notifications, and persistence of
 * the state across a restart (SQLite). Profiles are installed through the card's internal
 * installer here; the download path has its own tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../lib/euicc/euicc_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/crypto/signer.h"
#include "rsp/euicc/euicc.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/signed.h"
#include "euicc_eim.h"
#include "test.h"

static const char *rsp_pki_bin;
static char pki_dir[512], eid[RSP_EID_DIGITS + 1];

/* One PKI for all cases: `rsp-pki create` with a single eUICC. */
static void make_pki(void) {
  char cmd[2048];
  if (pki_dir[0]) return;
  snprintf(pki_dir, sizeof pki_dir, "%s/pki", rsp_test_tmpdir("euicc_core"));
  snprintf(cmd, sizeof cmd,
           "'%s' create --dir '%s' --eid-range 890490320000000000000000000123:1 >/dev/null",
           rsp_pki_bin, pki_dir);
  if (system(cmd) != 0) rsp_test_fail(__FILE__, __LINE__, "rsp-pki create failed");
  snprintf(cmd, sizeof cmd, "ls '%s/euicc'", pki_dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(eid, sizeof eid, f)) rsp_test_fail(__FILE__, __LINE__, "no eUICC in the PKI");
  if (f) pclose(f);
  eid[strcspn(eid, "\n")] = '\0';
}

static struct rsp_euicc *open_card(struct rsp_euicc_store *store) {
  struct rsp_euicc *c = NULL;
  struct rsp_euicc_options o = {.pki_dir = pki_dir, .eid = eid, .store = store};
  make_pki();
  CHECK_OK(rsp_euicc_open(&o, &c));
  return c;
}

/* Encodes a request, runs it on the card, decodes the answer as `rt` (NULL on failure). */
static void *call(struct rsp_euicc *c, const struct rsp_msg_type *qt, const void *q,
                  const struct rsp_msg_type *rt, struct rsp_arena *a) {
  struct rsp_buf in, out;
  void *v = NULL;
  rsp_buf_init(&in, 1 << 16);
  rsp_buf_init(&out, 1 << 16);
  CHECK_OK(rsp_msg_encode(qt, q, &in, NULL));
  rsp_err_t rc = rsp_euicc_es10(c, in.data, in.len, &out);
  CHECK_OK(rc);
  if (rc == RSP_OK) {
    uint8_t *copy = rsp_arena_alloc(a, out.len + 1);
    memcpy(copy, out.data, out.len);
    struct rsp_msg_diag d;
    rc = rsp_msg_decode(rt, copy, out.len, a, &v, &d);
    if (rc != RSP_OK)
      rsp_test_fail(__FILE__, __LINE__, "%s: %s at %s", rt->name, rsp_err_name(rc), d.path);
  }
  rsp_buf_free(&in);
  rsp_buf_free(&out);
  return v;
}

static void identity_and_info(void) {
  struct rsp_euicc *c = open_card(NULL);
  struct rsp_arena a;
  uint8_t want[RSP_EID_LEN];
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_eid_from_string(eid, want);
  struct rsp_msg_get_euicc_data_request q = {.tag_list = rsp_msg_slice("\x5A", 1)};
  struct rsp_msg_get_euicc_data_response *r =
      call(c, &rsp_msgt_get_euicc_data_request, &q, &rsp_msgt_get_euicc_data_response, &a);
  CHECK(r && r->eid_value.len == 16 && memcmp(r->eid_value.p, want, 16) == 0);
  struct rsp_msg_get_euicc_info2_request q2 = {0};
  struct rsp_msg_sgp32_euicc_info2 *i2 =
      call(c, &rsp_msgt_get_euicc_info2_request, &q2, &rsp_msgt_sgp32_euicc_info2, &a);
  CHECK(i2 && i2->ipa_mode.present && i2->ipa_mode.v == RSP_MSG_IPA_MODE_IPAD);
  CHECK(i2 && i2->euicc_ci_pk_id_list_for_verification->n == 1);
  CHECK(i2 && i2->iot_specific_info && i2->iot_specific_info->iot_version->n == 1);
  struct rsp_msg_get_euicc_info1_request q1 = {0};
  struct rsp_msg_euicc_info1 *i1 =
      call(c, &rsp_msgt_get_euicc_info1_request, &q1, &rsp_msgt_euicc_info1, &a);
  CHECK(i1 && i1->euicc_ci_pk_id_list_for_signing->n == 1);
  /* an unknown function tag and a malformed request are refused, not answered */
  struct rsp_buf out;
  rsp_buf_init(&out, 1024);
  CHECK_ERR(rsp_euicc_es10(c, (const uint8_t *)"\xBF\x7F\x00", 3, &out), RSP_E_UNSUPPORTED);
  CHECK_ERR(rsp_euicc_es10(c, (const uint8_t *)"\xBF\x3E\x03\x5C\x01", 5, &out),
            RSP_E_DER_TRUNCATED);
  CHECK_EQ(out.len, 0);
  rsp_buf_free(&out);
  rsp_arena_free(&a);
  rsp_euicc_destroy(c);
}

/* A disabled test profile with notifications configured for every event. */
static void install(struct rsp_euicc *c, const char *iccid_digits, bool fallback_allowed) {
  uint8_t iccid[RSP_ICCID_LEN], bits[5];
  struct euicc_profile *p = NULL;
  struct rsp_buf md;
  uint8_t hash[32] = {0};
  rsp_iccid_encode(iccid_digits, iccid);
  struct rsp_msg_notification_configuration_information nci = {
      .profile_management_operation = rsp_msg_bits_make(0x0F, bits),
      .notification_address = rsp_msg_slice("smdp.example", 12)};
  struct rsp_msg_sgp32_store_metadata_request_notification_configuration_info list = {.v = &nci,
                                                                                      .n = 1};
  struct rsp_msg_sgp32_store_metadata_request m = {
      .iccid = rsp_msg_slice(iccid, RSP_ICCID_LEN),
      .service_provider_name = rsp_msg_slice("Operator", 8),
      .profile_name = rsp_msg_slice("IoT", 3),
      .notification_configuration_info = &list,
      .fallback_allowed = {fallback_allowed, fallback_allowed}};
  rsp_buf_init(&md, 4096);
  CHECK_OK(rsp_msg_encode(&rsp_msgt_sgp32_store_metadata_request, &m, &md, NULL));
  CHECK_OK(rsp__euicc_install(c, rsp_msg_slice(md.data, md.len), iccid, hash, 100, &p));
  CHECK_OK(rsp__euicc_commit(c));
  rsp_buf_free(&md);
}

/* Runs a DER request on the card and decodes the answer as `rt`. */
static void *call_raw(struct rsp_euicc *c, const struct rsp_buf *in, const struct rsp_msg_type *rt,
                      struct rsp_arena *a) {
  struct rsp_buf out;
  void *v = NULL;
  rsp_buf_init(&out, 1 << 16);
  CHECK_OK(rsp_euicc_es10(c, in->data, in->len, &out));
  uint8_t *copy = rsp_arena_alloc(a, out.len + 1);
  memcpy(copy, out.data, out.len);
  CHECK_OK(rsp_msg_decode(rt, copy, out.len, a, &v, NULL));
  rsp_buf_free(&out);
  return v;
}

static void add_initial_eim(struct rsp_euicc *c, struct rsp_test_eim *e, struct rsp_arena *a) {
  struct rsp_buf in;
  rsp_buf_init(&in, 1 << 16);
  CHECK_OK(rsp_test_eim_add_initial(e, "eim-1", 10, &in));
  struct rsp_msg_add_initial_eim_response *r =
      call_raw(c, &in, &rsp_msgt_add_initial_eim_response, a);
  CHECK(r && r->which == RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK);
  if (r && r->which == RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK) {
    CHECK_EQ(r->u.add_initial_eim_ok->n, 1);
    e->token = r->u.add_initial_eim_ok->v[0].u.association_token;
    CHECK(e->token >= 1);
  }
  /* the same eIM again: associatedEimAlreadyExists, nothing stored */
  r = call_raw(c, &in, &rsp_msgt_add_initial_eim_response, a);
  CHECK(r && r->which == RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR &&
        r->u.add_initial_eim_error == 2);
  rsp_buf_free(&in);
}

/* Builds, signs and runs an eUICC package with PSMOs; returns the card's answer. */
static struct rsp_msg_euicc_package_result *package(struct rsp_euicc *c, struct rsp_test_eim *e,
                                                    struct rsp_msg_psmo *ops, size_t n,
                                                    const uint8_t *card_eid, int64_t counter,
                                                    bool corrupt, struct rsp_arena *a) {
  struct rsp_buf in;
  rsp_buf_init(&in, 1 << 16);
  CHECK_OK(rsp_test_eim_package(e, "eim-1", card_eid, counter, ops, n, corrupt, &in));
  struct rsp_msg_euicc_package_result *r = call_raw(c, &in, &rsp_msgt_euicc_package_result, a);
  rsp_buf_free(&in);
  return r;
}

/* The card's EPR signature verifies with CERT.EUICC over data || 84 token. */
static void verify_epr(struct rsp_euicc *c, struct rsp_test_eim *e,
                       const struct rsp_msg_euicc_package_result_signed *s) {
  struct rsp_key *key = NULL;
  struct rsp_buf in;
  rsp_buf_init(&in, 1 << 16);
  CHECK_OK(rsp_cert_public_key(c->cert, &key));
  struct rsp_msg_token tok = {true, e->token};
  CHECK_OK(rsp_msg_signed_with_token(s->euicc_package_result_data_signed->raw, tok, &in));
  CHECK_OK(rsp_ecdsa_verify(key, in.data, in.len, s->euicc_sign_epr.p));
  rsp_key_free(key);
  rsp_buf_free(&in);
}

static void eim_packages(void) {
  struct rsp_euicc *c = open_card(NULL);
  struct rsp_arena a;
  struct rsp_test_eim e;
  uint8_t iccid_a[10], iccid_b[10], wrong_eid[16] = {0x89};
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_test_eim_load(&e, pki_dir));
  install(c, "8944000000000000011", false);
  install(c, "8944000000000000029", false);
  rsp_iccid_encode("8944000000000000011", iccid_a);
  rsp_iccid_encode("8944000000000000029", iccid_b);
  add_initial_eim(c, &e, &a);

  /* enable A (rollback granted) */
  struct rsp_msg_psmo_enable en = {.iccid = rsp_msg_slice(iccid_a, 10), .rollback_flag = true};
  struct rsp_msg_psmo op = {.which = RSP_MSG_PSMO_ENABLE, .u.enable = &en};
  struct rsp_msg_euicc_package_result *r = package(c, &e, &op, 1, c->eid, 11, false, &a);
  CHECK(r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  if (r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED) {
    const struct rsp_msg_euicc_package_result_data_signed *d =
        r->u.euicc_package_result_signed->euicc_package_result_data_signed;
    CHECK_EQ(d->counter_value, 11);
    CHECK_EQ(d->euicc_result->n, 1);
    CHECK_EQ(d->euicc_result->v[0].u.enable_result, 0);
    verify_epr(c, &e, r->u.euicc_package_result_signed);
  }
  CHECK(rsp__euicc_enabled_profile(c) == rsp__euicc_profile_by_iccid(c, iccid_a));

  /* replay of counter 11: signed replayError, state unchanged */
  char *before = rsp_strdup(c->committed);
  r = package(c, &e, &op, 1, c->eid, 11, false, &a);
  CHECK(
      r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED &&
      r->u.euicc_package_error_signed->euicc_package_error_data_signed->euicc_package_error_code ==
          4);
  /* counter above the maximum: counterValueOutOfRange */
  r = package(c, &e, &op, 1, c->eid, EUICC_COUNTER_MAX + 1, false, &a);
  CHECK(
      r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED &&
      r->u.euicc_package_error_signed->euicc_package_error_data_signed->euicc_package_error_code ==
          6);
  /* wrong EID: invalidEid */
  r = package(c, &e, &op, 1, wrong_eid, 12, false, &a);
  CHECK(
      r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED &&
      r->u.euicc_package_error_signed->euicc_package_error_data_signed->euicc_package_error_code ==
          3);
  /* bad eIM signature: unsigned error */
  r = package(c, &e, &op, 1, c->eid, 12, true, &a);
  CHECK(r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED);
  CHECK_STR(c->committed, before);
  rsp_free(before);

  /* switch to B with rollback, then roll back to A */
  en.iccid = rsp_msg_slice(iccid_b, 10);
  r = package(c, &e, &op, 1, c->eid, 12, false, &a);
  CHECK(rsp__euicc_enabled_profile(c) == rsp__euicc_profile_by_iccid(c, iccid_b));
  struct rsp_msg_profile_rollback_request rb = {.refresh_flag = true};
  struct rsp_msg_profile_rollback_response *rr =
      call(c, &rsp_msgt_profile_rollback_request, &rb, &rsp_msgt_profile_rollback_response, &a);
  CHECK(rr && rr->cmd_result == 0);
  CHECK(rsp__euicc_enabled_profile(c) == rsp__euicc_profile_by_iccid(c, iccid_a));
  /* the switch's result comes back with rollbackResult appended, signed again */
  CHECK(rr && rr->e_uicc_package_result &&
        rr->e_uicc_package_result->which ==
            RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  if (rr && rr->e_uicc_package_result &&
      rr->e_uicc_package_result->which ==
          RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED) {
    const struct rsp_msg_euicc_package_result_signed *rs =
        rr->e_uicc_package_result->u.euicc_package_result_signed;
    const struct rsp_msg_euicc_package_result_data_signed_euicc_result *l =
        rs->euicc_package_result_data_signed->euicc_result;
    CHECK_EQ(rs->euicc_package_result_data_signed->counter_value, 12);
    CHECK(l->n == 2 && l->v[1].which == RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT &&
          l->v[1].u.rollback_result == 0);
    verify_epr(c, &e, rs);
  }
  rr = call(c, &rsp_msgt_profile_rollback_request, &rb, &rsp_msgt_profile_rollback_response, &a);
  CHECK(rr && rr->cmd_result == 1); /* only once */

  /* delete of the enabled profile is refused; disable + delete in one package works in order */
  struct rsp_msg_psmo_disable dis = {.iccid = rsp_msg_slice(iccid_a, 10)};
  struct rsp_msg_psmo_delete del = {.iccid = rsp_msg_slice(iccid_a, 10)};
  struct rsp_msg_psmo ops[3] = {{.which = RSP_MSG_PSMO_DELETE, .u.delete = &del},
                                {.which = RSP_MSG_PSMO_DISABLE, .u.disable = &dis},
                                {.which = RSP_MSG_PSMO_DELETE, .u.delete = &del}};
  r = package(c, &e, ops, 3, c->eid, 13, false, &a);
  CHECK(r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  if (r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED) {
    const struct rsp_msg_euicc_package_result_data_signed_euicc_result *l =
        r->u.euicc_package_result_signed->euicc_package_result_data_signed->euicc_result;
    CHECK_EQ(l->n, 3);
    CHECK_EQ(l->v[0].u.delete_result, 2); /* profileNotInDisabledState */
    CHECK_EQ(l->v[1].u.disable_result, 0);
    CHECK_EQ(l->v[2].u.delete_result, 0);
  }
  CHECK(rsp__euicc_profile_by_iccid(c, iccid_a) == NULL);
  CHECK_EQ(c->st.n_profiles, 1);

  /* results are pending notifications until removed */
  size_t eprs = 0;
  for (size_t i = 0; i < c->st.n_notifications; i++) eprs += c->st.notifications[i].is_epr;
  CHECK_EQ(eprs, 3);
  struct rsp_msg_notification_sent_request rm = {.seq_number = c->st.notifications[0].seq};
  struct rsp_msg_notification_sent_response *rmr =
      call(c, &rsp_msgt_notification_sent_request, &rm, &rsp_msgt_notification_sent_response, &a);
  CHECK(rmr && rmr->delete_notification_status == 0);
  rmr = call(c, &rsp_msgt_notification_sent_request, &rm, &rsp_msgt_notification_sent_response, &a);
  CHECK(rmr && rmr->delete_notification_status == 1);
  rsp_test_eim_free(&e);
  rsp_arena_free(&a);
  rsp_euicc_destroy(c);
}

/* Runs any eUICC package; returns the signed result list (NULL and a failure otherwise). */
static const struct rsp_msg_euicc_package_result_data_signed_euicc_result *
run_any(struct rsp_euicc *c, struct rsp_test_eim *e, const struct rsp_msg_euicc_package *pkg,
        int64_t counter, struct rsp_arena *a) {
  struct rsp_buf in;
  rsp_buf_init(&in, 1 << 16);
  CHECK_OK(rsp_test_eim_package_any(e, "eim-1", c->eid, counter, pkg, false, &in));
  struct rsp_msg_euicc_package_result *r = call_raw(c, &in, &rsp_msgt_euicc_package_result, a);
  rsp_buf_free(&in);
  CHECK(r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED);
  if (!r || r->which != RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED) return NULL;
  return r->u.euicc_package_result_signed->euicc_package_result_data_signed->euicc_result;
}

static void every_psmo_and_eco(void) {
  struct rsp_euicc *c = open_card(NULL);
  struct rsp_arena a;
  struct rsp_test_eim e;
  uint8_t fb[10], other[10];
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  CHECK_OK(rsp_test_eim_load(&e, pki_dir));
  install(c, "8944000000000000045", true);  /* fallback allowed */
  install(c, "8944000000000000052", false); /* not allowed */
  rsp_iccid_encode("8944000000000000045", fb);
  rsp_iccid_encode("8944000000000000052", other);
  add_initial_eim(c, &e, &a);
  /* PSMOs: listProfileInfo (ICCID only), getRAT, configureImmediateEnable, set/unset fallback,
   * setDefaultDpAddress */
  struct rsp_msg_profile_info_list_request lpi = {.tag_list = rsp_msg_slice("\x5A", 1)};
  struct rsp_msg_psmo_configure_immediate_enable cie = {
      .immediate_enable_flag = true, .default_smdp_address = rsp_msg_slice("dp.example", 10)};
  struct rsp_msg_psmo_set_fallback_attribute sfa = {.iccid = rsp_msg_slice(fb, 10)};
  struct rsp_msg_psmo_set_fallback_attribute sfa_no = {.iccid = rsp_msg_slice(other, 10)};
  struct rsp_msg_psmo_get_rat rat = {0};
  struct rsp_msg_psmo_unset_fallback_attribute ufa = {0};
  struct rsp_msg_sgp32_set_default_dp_address_request sdp = {.default_dp_address =
                                                                 rsp_msg_slice("smdp.example", 12)};
  struct rsp_msg_psmo ops[] = {
      {.which = RSP_MSG_PSMO_LIST_PROFILE_INFO, .u.list_profile_info = &lpi},
      {.which = RSP_MSG_PSMO_GET_RAT, .u.get_rat = &rat},
      {.which = RSP_MSG_PSMO_CONFIGURE_IMMEDIATE_ENABLE, .u.configure_immediate_enable = &cie},
      {.which = RSP_MSG_PSMO_SET_FALLBACK_ATTRIBUTE, .u.set_fallback_attribute = &sfa_no},
      {.which = RSP_MSG_PSMO_SET_FALLBACK_ATTRIBUTE, .u.set_fallback_attribute = &sfa},
      {.which = RSP_MSG_PSMO_UNSET_FALLBACK_ATTRIBUTE, .u.unset_fallback_attribute = &ufa},
      {.which = RSP_MSG_PSMO_UNSET_FALLBACK_ATTRIBUTE, .u.unset_fallback_attribute = &ufa},
      {.which = RSP_MSG_PSMO_SET_DEFAULT_DP_ADDRESS, .u.set_default_dp_address = &sdp}};
  struct rsp_msg_euicc_package_psmo_list pl = {.v = ops, .n = 8};
  struct rsp_msg_euicc_package pkg = {.which = RSP_MSG_EUICC_PACKAGE_PSMO_LIST, .u.psmo_list = &pl};
  const struct rsp_msg_euicc_package_result_data_signed_euicc_result *r =
      run_any(c, &e, &pkg, 11, &a);
  CHECK(r && r->n == 8);
  if (r && r->n == 8) {
    const struct rsp_msg_sgp32_profile_info_list_response *l = r->v[0].u.list_profile_info_result;
    CHECK(l->which == RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK &&
          l->u.profile_info_list_ok->n == 2);
    CHECK(l->u.profile_info_list_ok->v[0].iccid.p &&
          !l->u.profile_info_list_ok->v[0].profile_name.p);
    CHECK_EQ(r->v[1].which, RSP_MSG_EUICC_RESULT_DATA_GET_RAT_RESULT);
    CHECK_EQ(r->v[2].u.configure_immediate_enable_result, 0);
    CHECK_EQ(r->v[3].u.set_fallback_attribute_result, 2); /* fallbackNotAllowed */
    CHECK_EQ(r->v[4].u.set_fallback_attribute_result, 0);
    CHECK_EQ(r->v[5].u.unset_fallback_attribute_result, 0);
    CHECK_EQ(r->v[6].u.unset_fallback_attribute_result, 2); /* noFallbackAttribute */
    CHECK_EQ(r->v[7].u.set_default_dp_address_result->set_default_dp_address_result, 0);
  }
  CHECK(c->st.immediate_enable);
  CHECK_STR(c->st.default_dp, "smdp.example");
  /* eCOs: addEim (token allocated), listEim, updateEim (counter), deleteEim, unknown delete */
  struct rsp_msg_eim_configuration_data_eim_public_key_data pk = {
      .which = RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE,
      .u.eim_certificate = rsp_msg_slice(e.cert.data, e.cert.len)};
  struct rsp_msg_eim_configuration_data add = {.eim_id = rsp_msg_slice("eim-2", 5),
                                               .counter_value = rsp_msg_int_make(0),
                                               .association_token = rsp_msg_int_make(-1),
                                               .eim_public_key_data = &pk};
  struct rsp_msg_eim_configuration_data upd = {.eim_id = rsp_msg_slice("eim-2", 5),
                                               .counter_value = rsp_msg_int_make(50),
                                               .eim_public_key_data = &pk};
  struct rsp_msg_eco_delete_eim del = {.eim_id = rsp_msg_slice("eim-2", 5)};
  struct rsp_msg_eco_list_eim list = {0};
  struct rsp_msg_eco ecos[] = {{.which = RSP_MSG_ECO_ADD_EIM, .u.add_eim = &add},
                               {.which = RSP_MSG_ECO_ADD_EIM, .u.add_eim = &add},
                               {.which = RSP_MSG_ECO_LIST_EIM, .u.list_eim = &list},
                               {.which = RSP_MSG_ECO_UPDATE_EIM, .u.update_eim = &upd},
                               {.which = RSP_MSG_ECO_DELETE_EIM, .u.delete_eim = &del},
                               {.which = RSP_MSG_ECO_DELETE_EIM, .u.delete_eim = &del}};
  struct rsp_msg_euicc_package_eco_list el = {.v = ecos, .n = 6};
  struct rsp_msg_euicc_package epkg = {.which = RSP_MSG_EUICC_PACKAGE_ECO_LIST, .u.eco_list = &el};
  r = run_any(c, &e, &epkg, 12, &a);
  CHECK(r && r->n == 6);
  if (r && r->n == 6) {
    CHECK(r->v[0].u.add_eim_result->which == RSP_MSG_ADD_EIM_RESULT_ASSOCIATION_TOKEN);
    CHECK(r->v[1].u.add_eim_result->which == RSP_MSG_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE &&
          r->v[1].u.add_eim_result->u.add_eim_result_code == 2);
    CHECK(r->v[2].u.list_eim_result->u.eim_id_list->n == 2);
    CHECK_EQ(r->v[3].u.update_eim_result, 0);
    CHECK_EQ(r->v[4].u.delete_eim_result, 0);
    CHECK_EQ(r->v[5].u.delete_eim_result, 1); /* eimNotFound */
  }
  CHECK_EQ(c->st.n_eims, 1);
  /* a package from an eIM the card does not know: unsigned error */
  struct rsp_buf in;
  rsp_buf_init(&in, 1 << 16);
  CHECK_OK(rsp_test_eim_package_any(&e, "eim-9", c->eid, 13, &pkg, false, &in));
  struct rsp_msg_euicc_package_result *u = call_raw(c, &in, &rsp_msgt_euicc_package_result, &a);
  CHECK(u && u->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED);
  rsp_buf_free(&in);
  rsp_test_eim_free(&e);
  rsp_arena_free(&a);
  rsp_euicc_destroy(c);
}

/* The GSMA SGP.26 test card: its identity laid out by `rsp-pki import-sgp26`. */
static void sgp26_card(void) {
  char dir[600], cmd[2048];
  const char *sgp26 = rsp_test_shared_path("sgp26");
  if (!sgp26) rsp_test_skip("SGP.26 PKI absent (../shared/sgp26)");
  snprintf(dir, sizeof dir, "%s/sgp26", rsp_test_tmpdir("euicc_sgp26"));
  snprintf(cmd, sizeof cmd, "'%s' import-sgp26 --from '%s' --dir '%s' >/dev/null", rsp_pki_bin,
           sgp26, dir);
  CHECK(system(cmd) == 0);
  struct rsp_euicc *c = NULL;
  struct rsp_euicc_options o = {.pki_dir = dir, .eid = "89049032123451234512345678901235"};
  CHECK_OK(rsp_euicc_open(&o, &c));
  if (!c) return;
  struct rsp_arena a;
  uint8_t want[RSP_EID_LEN];
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_eid_from_string(o.eid, want);
  struct rsp_msg_get_euicc_data_request q = {.tag_list = rsp_msg_slice("\x5A", 1)};
  struct rsp_msg_get_euicc_data_response *r =
      call(c, &rsp_msgt_get_euicc_data_request, &q, &rsp_msgt_get_euicc_data_response, &a);
  CHECK(r && r->eid_value.len == 16 && memcmp(r->eid_value.p, want, 16) == 0);
  /* GetCerts returns the SGP.26 EUM and eUICC certificates */
  struct rsp_msg_get_certs_request gq = {0};
  struct rsp_msg_get_certs_response *g =
      call(c, &rsp_msgt_get_certs_request, &gq, &rsp_msgt_get_certs_response, &a);
  CHECK(g && g->which == RSP_MSG_GET_CERTS_RESPONSE_CERTS);
  if (g && g->which == RSP_MSG_GET_CERTS_RESPONSE_CERTS) {
    size_t len;
    uint8_t *der =
        rsp_test_read_file(rsp_test_shared_path("sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der"), &len);
    CHECK(der && g->u.certs->euicc_certificate.len == len &&
          memcmp(g->u.certs->euicc_certificate.p, der, len) == 0);
    rsp_free(der);
  }
  rsp_arena_free(&a);
  rsp_euicc_destroy(c);
}

static void state_survives_restart(void) {
  char path[600];
  struct rsp_euicc_store *s = NULL;
  make_pki();
  snprintf(path, sizeof path, "%s/cards.db", rsp_test_tmpdir("euicc_store"));
  CHECK_OK(rsp_euicc_store_open(path, &s));
  struct rsp_euicc *c = open_card(s);
  install(c, "8944000000000000037", true);
  char *saved = rsp_strdup(c->committed);
  rsp_euicc_destroy(c);
  rsp_euicc_store_close(s);
  CHECK_OK(rsp_euicc_store_open(path, &s));
  c = open_card(s);
  CHECK_STR(c->committed, saved);
  CHECK_EQ(c->st.n_profiles, 1);
  rsp_free(saved);
  rsp_euicc_destroy(c);
  rsp_euicc_store_close(s);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(identity_and_info), T(eim_packages),
                                               T(every_psmo_and_eco), T(sgp26_card),
                                               T(state_survives_restart)};
  if (argc < 2) {
    fprintf(stderr, "usage: test_euicc_core RSP_PKI_BINARY [case]\n");
    return 2;
  }
  rsp_pki_bin = argv[1];
  return rsp_test_main(argc - 1, argv + 1, cases, sizeof cases / sizeof cases[0]);
}
