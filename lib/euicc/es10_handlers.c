/* SGP.22 ES10a/b/c functions of the card other than the download (SGP.22 §5.7, with the SGP.32
 * forms of the responses where SGP.32 extends them: EUICCInfo2, ProfileInfo, notifications). */
#include <stdio.h>
#include <string.h>

#include "euicc_handlers.h"
#include "euicc_internal.h"
#include "rsp/core/log.h"
#include "rsp/msg/tags.h"

/* What this card reports about itself (EUICCInfo2). */
static const uint8_t PROFILE_VERSION[3] = {2, 3, 0}; /* SAIP v2.3 */
static const uint8_t SVN[3] = {2, 5, 0};             /* SGP.22 v2.5 */
static const uint8_t FIRMWARE[3] = {1, 0, 0};
static const uint8_t PP_VERSION[3] = {1, 0, 0};
static const uint8_t IOT_VERSION[3] = {1, 2, 0}; /* SGP.32 v1.2 */
static const char SAS_NUMBER[] = "OPENRSP-SOFTWARE-EUICC";
/* ExtCardResource: 81 number of installed applications, 82 free NVM, 83 free RAM (SGP.22). */
static const uint8_t EXT_CARD_RESOURCE[] = {0x81, 0x01, 0x00, 0x82, 0x03, 0x10,
                                            0x00, 0x00, 0x83, 0x02, 0x40, 0x00};

static struct rsp_slice cstr(const char *s) { return rsp_msg_slice(s, strlen(s)); }

EUICC_HANDLER(rsp__euicc_get_eid) {
  const struct rsp_msg_get_euicc_data_request *r = req;
  (void)a;
  (void)changed;
  /* tagList 5C: only '5A' (EID) is defined */
  struct rsp_msg_get_euicc_data_response out = {.eid_value = rsp_msg_slice(c->eid, RSP_EID_LEN)};
  if (r->tag_list.len != 1 || r->tag_list.p[0] != 0x5A) out.eid_value = rsp_msg_slice(NULL, 0);
  if (!out.eid_value.p)
    return rsp__euicc_encode(&rsp_msgt_get_euicc_data_response, &out, resp) == RSP_OK
               ? RSP_OK
               : rsp_buf_append(resp, "\xBF\x3E\x00", 3);
  return rsp__euicc_encode(&rsp_msgt_get_euicc_data_response, &out, resp);
}

/* SubjectKeyIdentifiers of the trusted CIs, for both lists of EUICCInfo1/2. */
static rsp_err_t ci_list(struct rsp_euicc *c, struct rsp_arena *a, struct rsp_slice **v,
                         size_t *n) {
  size_t count = 0;
  while (rsp_ci_store_get(c->cis, count)) count++;
  *v = rsp_arena_alloc(a, (count ? count : 1) * sizeof **v);
  if (!*v) return RSP_E_NOMEM;
  for (size_t i = 0; i < count; i++) {
    struct rsp_keyid *ski = rsp_arena_alloc(a, sizeof *ski);
    if (!ski || rsp_cert_ski(rsp_ci_store_get(c->cis, i), ski) != RSP_OK) return RSP_E_NOMEM;
    (*v)[i] = rsp_msg_slice(ski->id, ski->len);
  }
  *n = count;
  return RSP_OK;
}

EUICC_HANDLER(rsp__euicc_get_info1) {
  struct rsp_msg_euicc_info1_euicc_ci_pk_id_list_for_verification ver = {0};
  struct rsp_msg_euicc_info1_euicc_ci_pk_id_list_for_signing sig = {0};
  (void)req;
  (void)changed;
  rsp_err_t rc = ci_list(c, a, &ver.v, &ver.n);
  if (rc != RSP_OK) return rc;
  sig.v = ver.v;
  sig.n = ver.n;
  struct rsp_msg_euicc_info1 out = {.svn = rsp_msg_slice(SVN, 3),
                                    .euicc_ci_pk_id_list_for_verification = &ver,
                                    .euicc_ci_pk_id_list_for_signing = &sig};
  return rsp__euicc_encode(&rsp_msgt_euicc_info1, &out, resp);
}

EUICC_HANDLER(rsp__euicc_get_info2) {
  struct rsp_msg_sgp32_euicc_info2_euicc_ci_pk_id_list_for_verification ver = {0};
  struct rsp_msg_sgp32_euicc_info2_euicc_ci_pk_id_list_for_signing sig = {0};
  struct rsp_slice iot_versions[1] = {rsp_msg_slice(IOT_VERSION, 3)};
  struct rsp_msg_io_t_specific_info_iot_version iotv = {.v = iot_versions, .n = 1};
  struct rsp_msg_io_t_specific_info iot = {
      .iot_version = &iotv, .fallback_supported = true, .ecall_supported = false};
  uint8_t uicc_cap[5], rsp_cap[5], tre[5];
  (void)req;
  (void)changed;
  rsp_err_t rc = ci_list(c, a, &ver.v, &ver.n);
  if (rc != RSP_OK) return rc;
  sig.v = ver.v;
  sig.n = ver.n;
  struct rsp_msg_sgp32_euicc_info2 out = {
      .profile_version = rsp_msg_slice(PROFILE_VERSION, 3),
      .svn = rsp_msg_slice(SVN, 3),
      .euicc_firmware_ver = rsp_msg_slice(FIRMWARE, 3),
      .ext_card_resource = rsp_msg_slice(EXT_CARD_RESOURCE, sizeof EXT_CARD_RESOURCE),
      /* UICCCapability: contactlessSupport .. as a plain IoT card: usimSupport (2) etc. */
      .uicc_capability = rsp_msg_bits_make(0x0000FFFCu, uicc_cap),
      .rsp_capability = rsp_msg_bits_make((1u << RSP_MSG_RSP_CAPABILITY_ADDITIONAL_PROFILE) |
                                              (1u << RSP_MSG_RSP_CAPABILITY_TEST_PROFILE_SUPPORT),
                                          rsp_cap),
      .euicc_ci_pk_id_list_for_verification = &ver,
      .euicc_ci_pk_id_list_for_signing = &sig,
      .euicc_category = rsp_msg_int_make(RSP_MSG_EUICC_INFO2_EUICC_CATEGORY_BASIC_EUICC),
      .pp_version = rsp_msg_slice(PP_VERSION, 3),
      .sas_acreditation_number = cstr(SAS_NUMBER),
      .tre_properties =
          rsp_msg_bits_make(1u << RSP_MSG_EUICC_INFO2_TRE_PROPERTIES_IS_DISCRETE, tre),
      .ipa_mode = rsp_msg_int_make(RSP_MSG_IPA_MODE_IPAD),
      .iot_specific_info = &iot};
  return rsp__euicc_encode(&rsp_msgt_sgp32_euicc_info2, &out, resp);
}

EUICC_HANDLER(rsp__euicc_get_challenge) {
  (void)req;
  (void)a;
  (void)changed;
  rsp_err_t rc = rsp_random(c->challenge, sizeof c->challenge);
  if (rc != RSP_OK) return rc;
  c->challenge_valid = true;
  struct rsp_msg_get_euicc_challenge_response out = {
      .euicc_challenge = rsp_msg_slice(c->challenge, sizeof c->challenge)};
  return rsp__euicc_encode(&rsp_msgt_get_euicc_challenge_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_get_addresses) {
  (void)req;
  (void)a;
  (void)changed;
  struct rsp_msg_euicc_configured_addresses_response out = {
      .default_dp_address = c->st.default_dp[0] ? cstr(c->st.default_dp) : rsp_msg_slice(NULL, 0),
      .root_ds_address = cstr(c->st.root_ds)};
  return rsp__euicc_encode(&rsp_msgt_euicc_configured_addresses_response, &out, resp);
}

static int64_t set_default_dp(struct rsp_euicc *c, struct rsp_slice addr, bool *changed) {
  if (addr.len > EUICC_MAX_ADDRESS) return 127; /* undefinedError */
  snprintf(c->st.default_dp, sizeof c->st.default_dp, "%.*s", (int)addr.len, (const char *)addr.p);
  *changed = true;
  return 0;
}

EUICC_HANDLER(rsp__euicc_set_default_dp) {
  const struct rsp_msg_set_default_dp_address_request *r = req;
  (void)a;
  struct rsp_msg_set_default_dp_address_response out = {
      .set_default_dp_address_result = set_default_dp(c, r->default_dp_address, changed)};
  return rsp__euicc_encode(&rsp_msgt_set_default_dp_address_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_set_default_dp32) {
  const struct rsp_msg_sgp32_set_default_dp_address_request *r = req;
  (void)a;
  struct rsp_msg_sgp32_set_default_dp_address_response out = {
      .set_default_dp_address_result = set_default_dp(c, r->default_dp_address, changed)};
  return rsp__euicc_encode(&rsp_msgt_sgp32_set_default_dp_address_response, &out, resp);
}

/* ---- profiles -----------------------------------------------------------------------------------
 */

rsp_err_t rsp__euicc_profile_info(struct rsp_euicc *c, const struct euicc_profile *p,
                                  struct rsp_slice tag_list, struct rsp_arena *a,
                                  struct rsp_msg_sgp32_profile_info *out) {
  struct rsp_msg_sgp32_store_metadata_request *m = NULL;
  (void)c;
  memset(out, 0, sizeof *out);
  out->iccid = rsp_msg_slice(p->iccid, RSP_ICCID_LEN);
  out->isdp_aid = rsp_msg_slice(p->aid, sizeof p->aid);
  out->profile_state = rsp_msg_int_make(p->state);
  if (p->nickname[0]) out->profile_nickname = rsp_msg_slice(p->nickname, strlen(p->nickname));
  if (p->fallback_attribute) out->fallback_attribute = (struct rsp_msg_bool){true, true};
  if (rsp__euicc_metadata(p, a, &m) == RSP_OK) {
    out->service_provider_name = m->service_provider_name;
    out->profile_name = m->profile_name;
    out->icon_type = m->icon_type;
    out->icon = m->icon;
    out->profile_class =
        rsp_msg_int_make(rsp_msg_int_or(m->profile_class, RSP_MSG_PROFILE_CLASS_OPERATIONAL));
    /* same layout: SEQUENCE OF NotificationConfigurationInformation */
    out->notification_configuration_info =
        (struct rsp_msg_sgp32_profile_info_notification_configuration_info *)
            m->notification_configuration_info;
    out->profile_owner = m->profile_owner;
    out->profile_policy_rules = m->profile_policy_rules;
    out->ecall_indication = m->ecall_indication;
    out->fallback_allowed = m->fallback_allowed;
  }
  if (tag_list.p) return rsp_msg_select_tags(&rsp_msgt_sgp32_profile_info, out, tag_list);
  return RSP_OK;
}

static bool matches(const struct euicc_profile *p,
                    const struct rsp_msg_profile_info_list_request_search_criteria *s,
                    struct rsp_euicc *c, struct rsp_arena *a) {
  struct rsp_msg_sgp32_store_metadata_request *m = NULL;
  if (!s) return true;
  switch (s->which) {
  case RSP_MSG_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ISDP_AID:
    return s->u.isdp_aid.len == sizeof p->aid && memcmp(s->u.isdp_aid.p, p->aid, 16) == 0;
  case RSP_MSG_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ICCID:
    return memcmp(s->u.iccid.p, p->iccid, RSP_ICCID_LEN) == 0;
  case RSP_MSG_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_PROFILE_CLASS:
    (void)c;
    return rsp__euicc_metadata(p, a, &m) == RSP_OK &&
           rsp_msg_int_or(m->profile_class, RSP_MSG_PROFILE_CLASS_OPERATIONAL) ==
               s->u.profile_class;
  default:
    return false;
  }
}

rsp_err_t rsp__euicc_profiles_response(struct rsp_euicc *c,
                                       const struct rsp_msg_profile_info_list_request *r,
                                       struct rsp_arena *a, struct rsp_buf *resp) {
  struct rsp_msg_sgp32_profile_info_list_response_profile_info_list_ok list = {0};
  struct rsp_msg_sgp32_profile_info_list_response out = {
      .which = RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK,
      .u.profile_info_list_ok = &list};
  list.v = rsp_arena_alloc(a, (c->st.n_profiles + 1) * sizeof *list.v);
  if (!list.v) return RSP_E_NOMEM;
  if (r->search_criteria && r->search_criteria->which == RSP_MSG_ALT_UNKNOWN) {
    out.which = RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_ERROR;
    out.u.profile_info_list_error = 1; /* incorrectInputValues */
    return rsp__euicc_encode(&rsp_msgt_sgp32_profile_info_list_response, &out, resp);
  }
  for (size_t i = 0; i < c->st.n_profiles; i++) {
    const struct euicc_profile *p = &c->st.profiles[i];
    if (!matches(p, r->search_criteria, c, a)) continue;
    rsp_err_t rc = rsp__euicc_profile_info(c, p, r->tag_list, a, &list.v[list.n]);
    if (rc == RSP_E_DER_BAD_TAG) {
      out.which = RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_ERROR;
      out.u.profile_info_list_error = 1;
      break;
    }
    if (rc != RSP_OK) return rc;
    list.n++;
  }
  return rsp__euicc_encode(&rsp_msgt_sgp32_profile_info_list_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_get_profiles_info) {
  (void)changed;
  return rsp__euicc_profiles_response(c, req, a, resp);
}

/* ProfileIdentifier CHOICE { isdpAid, iccid } of Enable/Disable/Delete. */
static struct euicc_profile *identify(struct rsp_euicc *c, int which, struct rsp_slice aid,
                                      struct rsp_slice iccid) {
  if (which == 1) return rsp__euicc_profile_by_aid(c, aid.p, aid.len);
  if (which == 2) return rsp__euicc_profile_by_iccid(c, iccid.p);
  return NULL;
}

EUICC_HANDLER(rsp__euicc_enable_profile) {
  const struct rsp_msg_enable_profile_request *r = req;
  struct rsp_msg_enable_profile_response out = {.enable_result = 1}; /* iccidOrAidNotFound */
  (void)a;
  struct euicc_profile *p =
      identify(c, r->profile_identifier->which, r->profile_identifier->u.isdp_aid,
               r->profile_identifier->u.iccid);
  if (p) {
    rsp_err_t rc = rsp__euicc_do_enable(c, p, false, &out.enable_result);
    if (rc != RSP_OK) return rc;
    *changed = out.enable_result == 0;
  }
  return rsp__euicc_encode(&rsp_msgt_enable_profile_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_disable_profile) {
  const struct rsp_msg_disable_profile_request *r = req;
  struct rsp_msg_disable_profile_response out = {.disable_result = 1};
  (void)a;
  struct euicc_profile *p =
      identify(c, r->profile_identifier->which, r->profile_identifier->u.isdp_aid,
               r->profile_identifier->u.iccid);
  if (p) {
    rsp_err_t rc = rsp__euicc_do_disable(c, p, &out.disable_result);
    if (rc != RSP_OK) return rc;
    *changed = out.disable_result == 0;
  }
  return rsp__euicc_encode(&rsp_msgt_disable_profile_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_delete_profile) {
  const struct rsp_msg_delete_profile_request *r = req;
  struct rsp_msg_delete_profile_response out = {.delete_result = 1};
  (void)a;
  struct euicc_profile *p = identify(c, r->which, r->u.isdp_aid, r->u.iccid);
  if (p) {
    rsp_err_t rc = rsp__euicc_do_delete(c, p, &out.delete_result);
    if (rc != RSP_OK) return rc;
    *changed = out.delete_result == 0;
  }
  return rsp__euicc_encode(&rsp_msgt_delete_profile_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_set_nickname) {
  const struct rsp_msg_set_nickname_request *r = req;
  struct rsp_msg_set_nickname_response out = {.set_nickname_result = 1}; /* iccidNotFound */
  (void)a;
  struct euicc_profile *p = rsp__euicc_profile_by_iccid(c, r->iccid.p);
  if (p) {
    snprintf(p->nickname, sizeof p->nickname, "%.*s", (int)r->profile_nickname.len,
             (const char *)r->profile_nickname.p);
    out.set_nickname_result = 0;
    *changed = true;
  }
  return rsp__euicc_encode(&rsp_msgt_set_nickname_response, &out, resp);
}

/* ---- notifications ------------------------------------------------------------------------------
 */

static bool event_selected(const struct euicc_notification *n, struct rsp_slice filter) {
  if (!filter.p) return true;
  for (unsigned b = 0; b < 8; b++)
    if ((n->event & (1u << b)) && rsp_msg_bit(filter, b)) return true;
  return false;
}

EUICC_HANDLER(rsp__euicc_list_notification) {
  const struct rsp_msg_list_notification_request *r = req;
  struct rsp_msg_list_notification_response_notification_metadata_list list = {0};
  struct rsp_msg_list_notification_response out = {
      .which = RSP_MSG_LIST_NOTIFICATION_RESPONSE_NOTIFICATION_METADATA_LIST,
      .u.notification_metadata_list = &list};
  (void)changed;
  list.v = rsp_arena_alloc(a, (c->st.n_notifications + 1) * sizeof *list.v);
  uint8_t *bits = rsp_arena_alloc(a, 5 * (c->st.n_notifications + 1));
  if (!list.v || !bits) return RSP_E_NOMEM;
  for (size_t i = 0; i < c->st.n_notifications; i++) {
    const struct euicc_notification *n = &c->st.notifications[i];
    if (n->is_epr || !event_selected(n, r->profile_management_operation)) continue;
    struct rsp_msg_notification_metadata *m = &list.v[list.n++];
    m->seq_number = n->seq;
    m->profile_management_operation = rsp_msg_bits_make(n->event, bits + 5 * i);
    m->notification_address = cstr(n->address);
    if (n->has_iccid) m->iccid = rsp_msg_slice(n->iccid, RSP_ICCID_LEN);
  }
  return rsp__euicc_encode(&rsp_msgt_list_notification_response, &out, resp);
}

/* BF2B { A0 { pending notifications } } or BF2B { A2 { EuiccPackageResult ... } }: written from
 * the stored signed objects as they are (SGP.32 notes 3.8). */
static rsp_err_t write_list(struct rsp_euicc *c, bool eprs, bool by_seq, int64_t seq,
                            struct rsp_slice filter, struct rsp_buf *resp) {
  struct rsp_der_writer w;
  rsp_der_writer_init(&w, resp);
  rsp_der_begin(&w, RSP_TAG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE);
  rsp_der_begin(&w, RSP_DER_CLASS_CONTEXT | RSP_DER_CONSTRUCTED | (eprs ? 2u : 0u));
  for (size_t i = 0; i < c->st.n_notifications; i++) {
    const struct euicc_notification *n = &c->st.notifications[i];
    if (n->is_epr != eprs || (by_seq && n->seq != seq) || (!eprs && !event_selected(n, filter)))
      continue;
    rsp_der_put_raw(&w, n->raw.data, n->raw.len);
  }
  rsp_der_end(&w);
  rsp_der_end(&w);
  return rsp_der_writer_finish(&w);
}

EUICC_HANDLER(rsp__euicc_retrieve_notifications) {
  const struct rsp_msg_sgp32_retrieve_notifications_list_request *r = req;
  const struct rsp_msg_sgp32_retrieve_notifications_list_request_search_criteria *s =
      r->search_criteria;
  (void)a;
  (void)changed;
  if (!s) return write_list(c, false, false, 0, rsp_msg_slice(NULL, 0), resp);
  switch (s->which) {
  case RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_REQUEST_SEARCH_CRITERIA_SEQ_NUMBER: {
    bool epr = false;
    for (size_t i = 0; i < c->st.n_notifications; i++)
      if (c->st.notifications[i].seq == s->u.seq_number) epr = c->st.notifications[i].is_epr;
    return write_list(c, epr, true, s->u.seq_number, rsp_msg_slice(NULL, 0), resp);
  }
  case RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_REQUEST_SEARCH_CRITERIA_PROFILE_MANAGEMENT_OPERATION:
    return write_list(c, false, false, 0, s->u.profile_management_operation, resp);
  case RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_REQUEST_SEARCH_CRITERIA_EUICC_PACKAGE_RESULTS:
    return write_list(c, true, false, 0, rsp_msg_slice(NULL, 0), resp);
  default: {
    struct rsp_msg_sgp32_retrieve_notifications_list_response out = {
        .which = RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_NOTIFICATIONS_LIST_RESULT_ERROR,
        .u.notifications_list_result_error = 127};
    return rsp__euicc_encode(&rsp_msgt_sgp32_retrieve_notifications_list_response, &out, resp);
  }
  }
}

EUICC_HANDLER(rsp__euicc_remove_notification) {
  const struct rsp_msg_notification_sent_request *r = req;
  struct rsp_msg_notification_sent_response out = {.delete_notification_status = 1}; /* nothing */
  (void)a;
  for (size_t i = 0; i < c->st.n_notifications; i++) {
    if (c->st.notifications[i].seq != r->seq_number) continue;
    struct rsp_buf keep = c->st.notifications[i].raw;
    memmove(&c->st.notifications[i], &c->st.notifications[i + 1],
            (c->st.n_notifications - i - 1) * sizeof c->st.notifications[0]);
    c->st.notifications[--c->st.n_notifications].raw = keep;
    out.delete_notification_status = 0;
    *changed = true;
    break;
  }
  return rsp__euicc_encode(&rsp_msgt_notification_sent_response, &out, resp);
}

/* ---- memory reset, RAT, CRL
 * ---------------------------------------------------------------------- */

/* Deletes the profiles of the given classes (enabled ones too: a reset overrides the state
 * rules); the classes are bits of ProfileClass values (test 0, provisioning 1, operational 2). */
static bool reset_profiles(struct rsp_euicc *c, unsigned classes, struct rsp_arena *a) {
  bool any = false;
  for (size_t i = c->st.n_profiles; i-- > 0;) {
    struct euicc_profile *p = &c->st.profiles[i];
    struct rsp_msg_sgp32_store_metadata_request *m = NULL;
    int64_t cls = rsp__euicc_metadata(p, a, &m) == RSP_OK
                      ? rsp_msg_int_or(m->profile_class, RSP_MSG_PROFILE_CLASS_OPERATIONAL)
                      : RSP_MSG_PROFILE_CLASS_OPERATIONAL;
    if (!(classes & (1u << cls))) continue;
    struct rsp_buf keep = p->metadata;
    memmove(p, p + 1, (c->st.n_profiles - i - 1) * sizeof *p);
    c->st.n_profiles--;
    memset(&c->st.profiles[c->st.n_profiles], 0, sizeof *p);
    c->st.profiles[c->st.n_profiles].metadata = keep;
    rsp_buf_reset(&keep);
    any = true;
  }
  if (any) c->st.rollback_granted = false;
  return any;
}

static unsigned reset_classes(struct rsp_slice opts) {
  unsigned classes = 0;
  if (rsp_msg_bit(
          opts, RSP_MSG_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_DELETE_OPERATIONAL_PROFILES))
    classes |= 1u << RSP_MSG_PROFILE_CLASS_OPERATIONAL;
  if (rsp_msg_bit(
          opts,
          RSP_MSG_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_DELETE_FIELD_LOADED_TEST_PROFILES) ||
      rsp_msg_bit(
          opts,
          RSP_MSG_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_DELETE_PRE_LOADED_TEST_PROFILES))
    classes |= 1u << RSP_MSG_PROFILE_CLASS_TEST;
  if (rsp_msg_bit(
          opts,
          RSP_MSG_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_DELETE_PROVISIONING_PROFILES))
    classes |= 1u << RSP_MSG_PROFILE_CLASS_PROVISIONING;
  return classes;
}

EUICC_HANDLER(rsp__euicc_memory_reset) {
  const struct rsp_msg_euicc_memory_reset_request *r = req;
  bool any = reset_profiles(c, reset_classes(r->reset_options), a);
  if (rsp_msg_bit(
          r->reset_options,
          RSP_MSG_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_DEFAULT_SMDP_ADDRESS)) {
    c->st.default_dp[0] = '\0';
    any = true;
  }
  *changed = any;
  struct rsp_msg_euicc_memory_reset_response out = {.reset_result =
                                                        any ? 0 : 1}; /* nothingToDelete */
  return rsp__euicc_encode(&rsp_msgt_euicc_memory_reset_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_memory_reset32) {
  const struct rsp_msg_sgp32_euicc_memory_reset_request *r = req;
  struct rsp_msg_sgp32_euicc_memory_reset_response out = {0};
  bool any = reset_profiles(c, reset_classes(r->reset_options), a);
  if (rsp_msg_bit(
          r->reset_options,
          RSP_MSG_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_DEFAULT_SMDP_ADDRESS)) {
    c->st.default_dp[0] = '\0';
    any = true;
  }
  if (rsp_msg_bit(r->reset_options,
                  RSP_MSG_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_EIM_CONFIG_DATA)) {
    out.reset_eim_result = rsp_msg_int_make(c->st.n_eims ? 0 : 1);
    for (size_t i = 0; i < c->st.n_eims; i++) rsp_buf_reset(&c->st.eims[i].config);
    c->st.n_eims = 0;
    any = true;
  }
  if (rsp_msg_bit(
          r->reset_options,
          RSP_MSG_SGP32_EUICC_MEMORY_RESET_REQUEST_RESET_OPTIONS_RESET_IMMEDIATE_ENABLE_CONFIG)) {
    out.reset_immediate_enable_config_result = rsp_msg_int_make(c->st.immediate_enable ? 0 : 1);
    c->st.immediate_enable = false;
    any = true;
  }
  out.reset_result = any ? 0 : 1;
  *changed = any;
  return rsp__euicc_encode(&rsp_msgt_sgp32_euicc_memory_reset_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_get_rat) {
  /* No operator rules are provisioned on this card: an empty RulesAuthorisationTable. */
  struct rsp_msg_rules_authorisation_table rat = {.v = rsp_arena_alloc(a, 1), .n = 0};
  struct rsp_msg_get_rat_response out = {.rat = &rat};
  (void)c;
  (void)req;
  (void)changed;
  if (!rat.v) return RSP_E_NOMEM;
  return rsp__euicc_encode(&rsp_msgt_get_rat_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_load_crl) {
  /* CRLs are not used by this card (EUICCInfo2 does not claim crlSupport). */
  struct rsp_msg_load_crl_response out = {
      .which = RSP_MSG_LOAD_CRL_RESPONSE_LOAD_CRL_RESPONSE_ERROR, .u.load_crl_response_error = 127};
  (void)c;
  (void)req;
  (void)a;
  (void)changed;
  return rsp__euicc_encode(&rsp_msgt_load_crl_response, &out, resp);
}
