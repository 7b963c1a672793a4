/* lib/msg codec behaviour on hand-made inputs: strictness, extensions kept in place, unknown
 * CHOICE alternatives, DEFAULT components, bounds and presence on encode, tag-list selection,
 * allocation failures. */
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/msg/asn1.h"
#include "test.h"

/* Decodes hex into `a`; the DER copy lives in the arena too (slices point into it). */
static void *decode(const struct rsp_msg_type *t, const char *hex, struct rsp_arena *a,
                    rsp_err_t want, struct rsp_msg_diag *diag) {
  size_t len;
  uint8_t *tmp = rsp_test_hex(hex, &len);
  uint8_t *der = rsp_arena_alloc(a, len);
  void *v = NULL;
  memcpy(der, tmp, len);
  rsp_free(tmp);
  rsp_err_t rc = rsp_msg_decode(t, der, len, a, &v, diag);
  rsp_test_checks++;
  if (rc != want)
    rsp_test_fail(__FILE__, __LINE__, "%s: %s -> %s, expected %s", t->name, hex, rsp_err_name(rc),
                  rsp_err_name(want));
  return rc == RSP_OK ? v : NULL;
}

/* Encodes v and compares with hex. */
static void encodes_to(const struct rsp_msg_type *t, const void *v, const char *hex) {
  size_t len;
  uint8_t *want = rsp_test_hex(hex, &len);
  struct rsp_buf out;
  rsp_buf_init(&out, 1 << 16);
  CHECK_OK(rsp_msg_encode(t, v, &out, NULL));
  CHECK_EQ(out.len, len);
  if (out.len == len) CHECK_MEM(out.data, want, len);
  rsp_buf_free(&out);
  rsp_free(want);
}

static void strict_der(void) {
  struct rsp_arena a;
  struct rsp_msg_diag d;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  /* ProfileRollbackRequest BF58 { 80 refreshFlag BOOLEAN } */
  CHECK(decode(&rsp_msgt_profile_rollback_request, "BF5803800100", &a, RSP_OK, NULL));
  decode(&rsp_msgt_profile_rollback_request, "BF5803800101", &a, RSP_E_DER_BAD_VALUE, NULL);
  decode(&rsp_msgt_profile_rollback_request, "BF580380010000", &a, RSP_E_DER_TRAILING_BYTES, NULL);
  decode(&rsp_msgt_profile_rollback_request, "BF5800", &a, RSP_E_DER_MISSING, &d);
  CHECK_STR(d.path, "ProfileRollbackRequest.refreshFlag");
  decode(&rsp_msgt_profile_rollback_request, "BF5806800100800100", &a, RSP_E_DER_UNEXPECTED_TAG,
         NULL);
  decode(&rsp_msgt_profile_rollback_request, "BF5903800100", &a, RSP_E_DER_UNEXPECTED_TAG, NULL);
  decode(&rsp_msgt_profile_rollback_response, "BF580402020001", &a, RSP_E_DER_BAD_VALUE, NULL);
  decode(&rsp_msgt_get_eim_package_request, "BF4F035A0100", &a, RSP_E_DER_RANGE, &d);
  CHECK_STR(d.path, "GetEimPackageRequest.eidValue");
  /* a primitive where a SEQUENCE belongs */
  decode(&rsp_msgt_profile_rollback_request, "9F5803800100", &a, RSP_E_DER_UNEXPECTED_TAG, NULL);
  rsp_arena_free(&a);
}

static void extensions_are_kept_in_place(void) {
  struct rsp_arena a;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  /* ProfileRollbackRequest with unknown [5] before and [6] after the known component */
  const char *in = "BF580C8501AA8001FF860401020304";
  struct rsp_msg_profile_rollback_request *r =
      decode(&rsp_msgt_profile_rollback_request, in, &a, RSP_OK, NULL);
  CHECK(r && r->refresh_flag);
  CHECK(r && r->ext && r->ext->n == 2);
  if (r && r->ext && r->ext->n == 2) {
    CHECK_EQ(r->ext->v[0].before, 0);
    CHECK_EQ(r->ext->v[1].before, 1);
    encodes_to(&rsp_msgt_profile_rollback_request, r, in);
  }
  /* a malformed unknown element is still an error */
  decode(&rsp_msgt_profile_rollback_request, "BF58098001FFA60404030102", &a, RSP_E_DER_TRUNCATED,
         NULL);
  rsp_arena_free(&a);
}

static void unknown_choice_alternative(void) {
  struct rsp_arena a;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  /* EsipaMessageFromIpaToEim with a tag no version knows: kept, re-encoded unchanged */
  struct rsp_msg_esipa_message_from_ipa_to_eim *m =
      decode(&rsp_msgt_esipa_message_from_ipa_to_eim, "BF7F03800101", &a, RSP_OK, NULL);
  CHECK(m && m->which == RSP_MSG_ALT_UNKNOWN);
  if (m) encodes_to(&rsp_msgt_esipa_message_from_ipa_to_eim, m, "BF7F03800101");
  /* inside a wrapper (GetEimPackageResponse BF4F) too */
  struct rsp_msg_get_eim_package_response *g =
      decode(&rsp_msgt_get_eim_package_response, "BF4F03810101", &a, RSP_OK, NULL);
  CHECK(g && g->which == RSP_MSG_ALT_UNKNOWN);
  rsp_arena_free(&a);
}

static void default_components(void) {
  struct rsp_arena a;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  /* SGP32-ProfileInfo E3 { 9F26 fallbackAttribute } : absent = FALSE, explicit FALSE kept */
  struct rsp_msg_sgp32_profile_info *p =
      decode(&rsp_msgt_sgp32_profile_info, "E3049F260100", &a, RSP_OK, NULL);
  CHECK(p && p->fallback_attribute.present && !p->fallback_attribute.v);
  if (p) encodes_to(&rsp_msgt_sgp32_profile_info, p, "E3049F260100");
  p = decode(&rsp_msgt_sgp32_profile_info, "E300", &a, RSP_OK, NULL);
  CHECK(p && !p->fallback_attribute.present && !rsp_msg_bool_or(p->fallback_attribute, false));
  rsp_arena_free(&a);
}

static void encoder_checks(void) {
  uint8_t eid[16] = {0x89};
  struct rsp_msg_get_eim_package_request req = {.eid_value = {eid, 15}};
  struct rsp_buf out;
  struct rsp_msg_diag d;
  rsp_buf_init(&out, 1024);
  CHECK_ERR(rsp_msg_encode(&rsp_msgt_get_eim_package_request, &req, &out, &d), RSP_E_DER_RANGE);
  CHECK_STR(d.path, "GetEimPackageRequest.eidValue");
  CHECK_EQ(out.len, 0);
  req.eid_value.p = NULL;
  CHECK_ERR(rsp_msg_encode(&rsp_msgt_get_eim_package_request, &req, &out, &d), RSP_E_DER_MISSING);
  CHECK_STR(d.path, "GetEimPackageRequest.eidValue");
  req.eid_value = rsp_msg_slice(eid, 16);
  req.notify_state_change = true;
  req.state_change_cause = rsp_msg_int_make(RSP_MSG_STATE_CHANGE_CAUSE_FALLBACK);
  encodes_to(&rsp_msgt_get_eim_package_request, &req,
             "BF4F175A1089000000000000000000000000000000800081010"
             "1");
  /* a CHOICE without a selected alternative */
  struct rsp_msg_euicc_package pkg = {.which = 0};
  CHECK_ERR(rsp_msg_encode(&rsp_msgt_euicc_package, &pkg, &out, NULL), RSP_E_DER_MISSING);
  /* the buffer cap is honoured */
  struct rsp_buf small;
  rsp_buf_init(&small, 8);
  CHECK_ERR(rsp_msg_encode(&rsp_msgt_get_eim_package_request, &req, &small, NULL), RSP_E_BUF_CAP);
  rsp_buf_free(&small);
  rsp_buf_free(&out);
}

static void tag_list_selection(void) {
  uint8_t iccid[10] = {0x98}, aid[16] = {0xA0};
  struct rsp_msg_sgp32_profile_info p = {.iccid = {iccid, 10},
                                         .isdp_aid = {aid, 16},
                                         .profile_state = {1, true},
                                         .profile_name = {(const uint8_t *)"x", 1},
                                         .fallback_allowed = {true, true}};
  static const uint8_t tags[] = {0x5A, 0x9F, 0x70, 0x9F, 0x67};
  CHECK_OK(rsp_msg_select_tags(&rsp_msgt_sgp32_profile_info, &p, rsp_msg_slice(tags, 5)));
  CHECK(p.iccid.p && !p.isdp_aid.p && p.profile_state.present && !p.profile_name.p);
  CHECK(p.fallback_allowed.present);
  static const uint8_t bad[] = {0x9F};
  CHECK_ERR(rsp_msg_select_tags(&rsp_msgt_sgp32_profile_info, &p, rsp_msg_slice(bad, 1)),
            RSP_E_DER_BAD_TAG);
}

static void allocation_failures(void) {
  size_t len;
  uint8_t *der = rsp_test_hex(
      "BF518182303D800365494D5A1089044045118427484800000000011628810203EE8210F92B2FEE35632499E841"
      "CB754FDFD9F3A00EA30C5A0A989444999999990920F35F37408D5DE179B03A3FE13CD3A7E5A947FDDBB831ACC8"
      "F9AAFDC9777D314837CB0C805EE3029BF2445611C1580DC4470147DD6293ECA66987BC9A0A704CAB0031B223",
      &len);
  int failures = 0;
  for (int n = 0; n < 64; n++) {
    struct rsp_arena a;
    void *v;
    rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
    rsp_test_alloc_fail_after(n);
    rsp_err_t rc = rsp_msg_decode(&rsp_msgt_euicc_package_request, der, len, &a, &v, NULL);
    rsp_test_alloc_fail_after(-1);
    if (rc == RSP_E_NOMEM)
      failures++;
    else
      CHECK_OK(rc);
    rsp_arena_free(&a);
  }
  CHECK(failures >= 1);
  rsp_free(der);
}

RSP_TESTS(T(strict_der), T(extensions_are_kept_in_place), T(unknown_choice_alternative),
          T(default_components), T(encoder_checks), T(tag_list_selection), T(allocation_failures))
