/* IPA core: the eIM package loop (SGP.32 §3.3 "eIM package retrieval", notes 2.2 and 3). */
#include <stdio.h>
#include <string.h>

#include "ipa_internal.h"
#include "rsp/core/log.h"
#include "rsp/ipa/download.h"
#include "rsp/ipa/ipa.h"
#include "rsp/msg/activation_code.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/tags.h"

/* eimPackageError noEimPackageAvailable (notes 2.2) */
#define NO_EIM_PACKAGE_AVAILABLE 1

void rsp_ipa_init(struct rsp_ipa *ipa, struct rsp_apdu *card, const struct rsp_ipa_esipa_ops *ops,
                  void *ctx) {
  memset(ipa, 0, sizeof *ipa);
  ipa->rollback_timeout_ms = RSP_IPA_ROLLBACK_TIMEOUT_MS_DEFAULT;
  rsp_es10_client_init(&ipa->es10, card);
  ipa->esipa = ops;
  ipa->esipa_ctx = ctx;
}

rsp_err_t rsp__ipa_card(struct rsp_ipa *ipa, const struct rsp_msg_type *t, const void *v,
                        const struct rsp_msg_type *rt, struct rsp_arena *a, void **out) {
  struct rsp_buf req, resp;
  rsp_buf_init(&req, 1 << 16);
  rsp_buf_init(&resp, RSP_ES10_MAX_RESPONSE);
  rsp_err_t rc = rsp_msg_encode(t, v, &req, NULL);
  if (rc == RSP_OK) rc = rsp_es10_client_call(&ipa->es10, req.data, req.len, &resp);
  uint8_t *copy = rc == RSP_OK ? rsp_arena_alloc(a, resp.len ? resp.len : 1) : NULL;
  if (rc == RSP_OK && !copy) rc = RSP_E_NOMEM;
  if (rc == RSP_OK) {
    memcpy(copy, resp.data, resp.len);
    rc = rsp_msg_decode(rt, copy, resp.len, a, out, NULL);
  }
  rsp_buf_free(&req);
  rsp_buf_free(&resp);
  return rc;
}

#define card rsp__ipa_card

rsp_err_t rsp__ipa_esipa_call(struct rsp_ipa *ipa, const uint8_t *req, size_t len,
                              struct rsp_arena *a,
                              struct rsp_msg_esipa_message_from_eim_to_ipa **out) {
  struct rsp_buf resp;
  struct rsp_msg_diag diag;
  rsp_buf_init(&resp, RSP_IPA_ESIPA_MAX);
  *out = NULL;
  rsp_err_t rc = ipa->esipa->exchange(ipa->esipa_ctx, req, len, &resp);
  if (rc == RSP_OK && resp.len) {
    uint8_t *copy = rsp_arena_alloc(a, resp.len);
    if (!copy)
      rc = RSP_E_NOMEM;
    else {
      memcpy(copy, resp.data, resp.len);
      rc = rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, copy, resp.len, a, (void **)out,
                          &diag);
      if (rc != RSP_OK)
        rsp_log(RSP_LOG_WARN, "ipa", "eIM answer not understood: %s at %s", rsp_err_name(rc),
                diag.path);
    }
  }
  rsp_buf_free(&resp);
  return rc;
}

/* Sends one ESipa message, decodes the eIM's answer (NULL when there is none). */
static rsp_err_t esipa(struct rsp_ipa *ipa, const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                       struct rsp_arena *a, struct rsp_msg_esipa_message_from_eim_to_ipa **out) {
  struct rsp_buf req;
  rsp_buf_init(&req, RSP_IPA_ESIPA_MAX);
  *out = NULL;
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_esipa_message_from_ipa_to_eim, m, &req, NULL);
  if (rc == RSP_OK) rc = rsp__ipa_esipa_call(ipa, req.data, req.len, a, out);
  rsp_buf_free(&req);
  return rc;
}

/* Applies EimAcknowledgements: the card forgets what the eIM has received. */
static void acknowledge(struct rsp_ipa *ipa, const struct rsp_msg_esipa_message_from_eim_to_ipa *r,
                        struct rsp_arena *a) {
  if (!r || r->which != RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE)
    return;
  const struct rsp_msg_provide_eim_package_result_response *pr =
      r->u.provide_eim_package_result_response;
  if (pr->which != RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EIM_ACKNOWLEDGEMENTS) return;
  for (size_t i = 0; i < pr->u.eim_acknowledgements->n; i++) {
    struct rsp_msg_notification_sent_request q = {.seq_number = pr->u.eim_acknowledgements->v[i]};
    struct rsp_msg_notification_sent_response *ok = NULL;
    if (card(ipa, &rsp_msgt_notification_sent_request, &q, &rsp_msgt_notification_sent_response, a,
             (void **)&ok) == RSP_OK &&
        ok->delete_notification_status == 0)
      ipa->stats.acknowledged++;
  }
}

/* ProvideEimPackageResult with one result, then the acknowledgements. */
static rsp_err_t provide(struct rsp_ipa *ipa, struct rsp_msg_eim_package_result *res,
                         struct rsp_arena *a) {
  struct rsp_msg_provide_eim_package_result p = {.eid_value = rsp_msg_slice(ipa->eid, 16),
                                                 .eim_package_result = res};
  struct rsp_msg_esipa_message_from_ipa_to_eim m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT,
      .u.provide_eim_package_result = &p};
  struct rsp_msg_esipa_message_from_eim_to_ipa *r = NULL;
  rsp_err_t rc = esipa(ipa, &m, a, &r);
  if (rc == RSP_OK) acknowledge(ipa, r, a);
  return rc;
}

/* True when the package enabled a profile with rollbackFlag and the card did it. */
static bool rollback_granted(const struct rsp_msg_euicc_package_request *q,
                             const struct rsp_msg_euicc_package_result *res) {
  const struct rsp_msg_euicc_package *pkg = q->euicc_package_signed->euicc_package;
  if (pkg->which != RSP_MSG_EUICC_PACKAGE_PSMO_LIST ||
      res->which != RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED)
    return false;
  const struct rsp_msg_euicc_package_result_data_signed_euicc_result *l =
      res->u.euicc_package_result_signed->euicc_package_result_data_signed->euicc_result;
  for (size_t i = 0; i < pkg->u.psmo_list->n && i < l->n; i++) {
    const struct rsp_msg_psmo *op = &pkg->u.psmo_list->v[i];
    if (op->which == RSP_MSG_PSMO_ENABLE && op->u.enable->rollback_flag &&
        l->v[i].which == RSP_MSG_EUICC_RESULT_DATA_ENABLE_RESULT && l->v[i].u.enable_result == 0)
      return true;
  }
  return false;
}

/* RetrieveNotificationsList: the pending package results (eprs) or the other pending
 * notifications; *out NULL when the card has none. */
static rsp_err_t pending(struct rsp_ipa *ipa, bool eprs, struct rsp_arena *a, void **out) {
  struct rsp_msg_sgp32_retrieve_notifications_list_request_search_criteria crit = {
      .which =
          RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_REQUEST_SEARCH_CRITERIA_EUICC_PACKAGE_RESULTS,
      .u.euicc_package_results = true};
  struct rsp_msg_sgp32_retrieve_notifications_list_request q = {.search_criteria =
                                                                    eprs ? &crit : NULL};
  struct rsp_msg_sgp32_retrieve_notifications_list_response *l = NULL;
  *out = NULL;
  rsp_err_t rc = card(ipa, &rsp_msgt_sgp32_retrieve_notifications_list_request, &q,
                      &rsp_msgt_sgp32_retrieve_notifications_list_response, a, (void **)&l);
  if (rc != RSP_OK) return rc;
  if (eprs &&
      l->which == RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_EUICC_PACKAGE_RESULT_LIST)
    *out = l->u.euicc_package_result_list;
  if (!eprs && l->which == RSP_MSG_SGP32_RETRIEVE_NOTIFICATIONS_LIST_RESPONSE_NOTIFICATION_LIST)
    *out = l->u.notification_list;
  return RSP_OK;
}

static rsp_err_t euicc_package(struct rsp_ipa *ipa, const struct rsp_msg_euicc_package_request *q,
                               struct rsp_arena *a) {
  struct rsp_msg_euicc_package_result *res = NULL;
  rsp_err_t rc = card(ipa, &rsp_msgt_euicc_package_request, q, &rsp_msgt_euicc_package_result, a,
                      (void **)&res);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_WARN, "ipa", "LoadEuiccPackage failed: %s", rsp_strerror(rc));
    ipa->stats.errors++;
    return rc;
  }
  if (res->which != RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED) ipa->stats.errors++;
  ipa->stats.packages++;
  if (rollback_granted(q, res)) {
    rsp__ipa_watch_arm(ipa); /* a restart during the wait resumes it (watchdog.c) */
    if (!rsp__ipa_wait_attached(ipa, ipa->rollback_timeout_ms) &&
        (rc = rsp__ipa_roll_back(ipa, a, &res)) != RSP_OK)
      return rc;
    rsp__ipa_watch_disarm(ipa);
  }
  /* the notifications the operations raised travel with the result (notes 3.8 (a)) */
  struct rsp_msg_pending_notification_list *l = NULL;
  struct rsp_msg_eim_package_result_e_pr_and_notifications both = {.euicc_package_result = res};
  struct rsp_msg_eim_package_result out = {.which = RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT,
                                           .u.euicc_package_result = res};
  if (res->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED &&
      pending(ipa, false, a, (void **)&l) == RSP_OK && l && l->n > 0) {
    both.notification_list = l;
    out.which = RSP_MSG_EIM_PACKAGE_RESULT_E_PR_AND_NOTIFICATIONS;
    out.u.e_pr_and_notifications = &both;
  }
  return provide(ipa, &out, a);
}

/* What the card still holds for the eIM before new work is asked for: package results whose
 * delivery failed earlier (network gone, eIM error, the IPA stopped) go again in
 * ProvideEimPackageResult, and the eIM's acknowledgement removes them; other pending
 * notifications go one by one in HandleNotification and are removed once the eIM took them.
 * So the card is never left with an unreported result. */
static rsp_err_t deliver_pending(struct rsp_ipa *ipa) {
  struct rsp_arena a;
  struct rsp_msg_euicc_package_result_list *eprs = NULL;
  struct rsp_msg_pending_notification_list *notes = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = pending(ipa, true, &a, (void **)&eprs);
  for (size_t i = 0; rc == RSP_OK && eprs && i < eprs->n && i < RSP_IPA_MAX_PACKAGES_PER_POLL;
       i++) {
    struct rsp_msg_euicc_package_result *r = &eprs->v[i];
    if (r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED && ipa->eim_id) {
      struct rsp_slice id =
          r->u.euicc_package_result_signed->euicc_package_result_data_signed->eim_id;
      if (id.len != strlen(ipa->eim_id) || memcmp(id.p, ipa->eim_id, id.len) != 0) continue;
    }
    struct rsp_msg_eim_package_result out = {
        .which = RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT, .u.euicc_package_result = r};
    rsp_log(RSP_LOG_INFO, "ipa", "delivering a package result the eIM has not acknowledged");
    rc = provide(ipa, &out, &a);
    if (rc == RSP_OK) ipa->stats.redelivered++;
  }
  if (rc == RSP_OK) rc = pending(ipa, false, &a, (void **)&notes);
  for (size_t i = 0; rc == RSP_OK && notes && i < notes->n && i < RSP_IPA_MAX_PACKAGES_PER_POLL;
       i++) {
    struct rsp_msg_sgp32_pending_notification *n = &notes->v[i];
    int64_t seq = -1;
    if (n->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION)
      seq = n->u.other_signed_notification->tbs_other_notification->seq_number;
    if (n->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT)
      seq = n->u.profile_installation_result->profile_installation_result_data
                ->notification_metadata->seq_number;
    struct rsp_msg_handle_notification_esipa h = {
        .which = RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PENDING_NOTIFICATION,
        .u.pending_notification = n};
    struct rsp_msg_esipa_message_from_ipa_to_eim m = {
        .which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA,
        .u.handle_notification_esipa = &h};
    struct rsp_msg_esipa_message_from_eim_to_ipa *r = NULL;
    rc = esipa(ipa, &m, &a, &r);
    if (rc != RSP_OK || seq < 0) continue;
    struct rsp_msg_notification_sent_request q = {.seq_number = seq};
    struct rsp_msg_notification_sent_response *ok = NULL;
    if (card(ipa, &rsp_msgt_notification_sent_request, &q, &rsp_msgt_notification_sent_response, &a,
             (void **)&ok) == RSP_OK &&
        ok->delete_notification_status == 0)
      ipa->stats.notifications++;
  }
  rsp_arena_free(&a);
  return rc;
}

/* IpaEuiccData from the card for the tags the eIM asked for (notes 3.5). */
static bool tag_listed(struct rsp_slice list, uint32_t tag) {
  for (size_t i = 0; i < list.len; i++) {
    uint32_t t = list.p[i];
    if ((t & 0x1F) == 0x1F && i + 1 < list.len) t = t << 8 | list.p[++i];
    if (t == tag) return true;
  }
  return false;
}

static rsp_err_t fill_data(struct rsp_ipa *ipa, const struct rsp_msg_ipa_euicc_data_request *q,
                           struct rsp_msg_ipa_euicc_data *d, struct rsp_arena *a) {
  rsp_err_t rc = RSP_OK;
  if (tag_listed(q->tag_list, RSP_TAG_EUICC_INFO1)) {
    struct rsp_msg_get_euicc_info1_request r = {0};
    rc = card(ipa, &rsp_msgt_get_euicc_info1_request, &r, &rsp_msgt_euicc_info1, a,
              (void **)&d->euicc_info1);
  }
  if (rc == RSP_OK && tag_listed(q->tag_list, RSP_TAG_EUICC_INFO2)) {
    struct rsp_msg_get_euicc_info2_request r = {0};
    rc = card(ipa, &rsp_msgt_get_euicc_info2_request, &r, &rsp_msgt_sgp32_euicc_info2, a,
              (void **)&d->euicc_info2);
  }
  if (rc == RSP_OK && (tag_listed(q->tag_list, 0xA5) || tag_listed(q->tag_list, 0xA6))) {
    struct rsp_msg_get_certs_request r = {.euicc_ci_pk_id = q->euicc_ci_pk_identifier_to_be_used};
    struct rsp_msg_get_certs_response *g = NULL;
    rc = card(ipa, &rsp_msgt_get_certs_request, &r, &rsp_msgt_get_certs_response, a, (void **)&g);
    if (rc == RSP_OK && g->which == RSP_MSG_GET_CERTS_RESPONSE_CERTS) {
      if (tag_listed(q->tag_list, 0xA5)) d->eum_certificate = g->u.certs->eum_certificate;
      if (tag_listed(q->tag_list, 0xA6)) d->euicc_certificate = g->u.certs->euicc_certificate;
    }
  }
  if (rc == RSP_OK && (tag_listed(q->tag_list, 0x81) || tag_listed(q->tag_list, 0x83))) {
    struct rsp_msg_euicc_configured_addresses_request r = {0};
    struct rsp_msg_euicc_configured_addresses_response *ad = NULL;
    rc = card(ipa, &rsp_msgt_euicc_configured_addresses_request, &r,
              &rsp_msgt_euicc_configured_addresses_response, a, (void **)&ad);
    if (rc == RSP_OK && tag_listed(q->tag_list, 0x81))
      d->default_smdp_address = ad->default_dp_address;
    if (rc == RSP_OK && tag_listed(q->tag_list, 0x83)) d->root_smds_address = ad->root_ds_address;
  }
  return rc;
}

/* Pending notifications (A0) and package results (A2) from RetrieveNotificationsList. */
static rsp_err_t fill_lists(struct rsp_ipa *ipa, const struct rsp_msg_ipa_euicc_data_request *q,
                            struct rsp_msg_ipa_euicc_data *d, struct rsp_arena *a) {
  rsp_err_t rc = RSP_OK;
  if (tag_listed(q->tag_list, 0xA0)) rc = pending(ipa, false, a, (void **)&d->notifications_list);
  if (rc == RSP_OK && tag_listed(q->tag_list, 0xA2))
    rc = pending(ipa, true, a, (void **)&d->euicc_package_result_list);
  return rc;
}

static rsp_err_t euicc_data(struct rsp_ipa *ipa, const struct rsp_msg_ipa_euicc_data_request *q,
                            struct rsp_arena *a) {
  struct rsp_msg_ipa_euicc_data d = {.eim_transaction_id = q->eim_transaction_id};
  struct rsp_msg_ipa_euicc_data_response resp = {
      .which = RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA, .u.ipa_euicc_data = &d};
  rsp_err_t rc = fill_data(ipa, q, &d, a);
  if (rc == RSP_OK) rc = fill_lists(ipa, q, &d, a);
  if (rc != RSP_OK) return rc;
  ipa->stats.data_requests++;
  struct rsp_msg_eim_package_result out = {.which =
                                               RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE,
                                           .u.ipa_euicc_data_response = &resp};
  return provide(ipa, &out, a);
}

/* Where a trigger points: the activation code's SM-DP+ and matchingId, or the card's default
 * SM-DP+ (notes 3.6); for an indirect download also nothing at all (the eIM keeps the activation
 * code, eimDownloadDataHandling). contactSmds is smds_target's. */
static bool trigger_target(struct rsp_ipa *ipa, const struct rsp_msg_profile_download_data *pd,
                           bool indirect, struct rsp_msg_activation_code *ac, struct rsp_arena *a) {
  rsp_msg_activation_code_init(ac);
  if (!pd) return indirect;
  if (pd->which == RSP_MSG_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE) {
    const char *why = NULL;
    bool ok = rsp_msg_activation_code_parse((const char *)pd->u.activation_code.p,
                                            pd->u.activation_code.len, ac, &why) == RSP_OK;
    if (!ok) rsp_log(RSP_LOG_WARN, "ipa", "activation code refused: %s", why ? why : "-");
    return ok;
  }
  if (pd->which == RSP_MSG_PROFILE_DOWNLOAD_DATA_CONTACT_DEFAULT_SMDP) {
    struct rsp_msg_euicc_configured_addresses_request r = {0};
    struct rsp_msg_euicc_configured_addresses_response *ad = NULL;
    if (card(ipa, &rsp_msgt_euicc_configured_addresses_request, &r,
             &rsp_msgt_euicc_configured_addresses_response, a, (void **)&ad) != RSP_OK ||
        !ad->default_dp_address.p || ad->default_dp_address.len == 0 ||
        ad->default_dp_address.len >= sizeof ac->smdp_address)
      return false;
    memcpy(ac->smdp_address, ad->default_dp_address.p, ad->default_dp_address.len);
    ac->smdp_address[ad->default_dp_address.len] = '\0';
    return true;
  }
  return false;
}

/* The SM-DS a contactSmds trigger names, else the card's root SM-DS (ES10a
 * GetEuiccConfiguredAddresses rootDsAddress); false when there is none. */
static bool smds_address(struct rsp_ipa *ipa,
                         const struct rsp_msg_profile_download_data_contact_smds *cs, char *out,
                         size_t size, struct rsp_arena *a) {
  struct rsp_msg_euicc_configured_addresses_request r = {0};
  struct rsp_msg_euicc_configured_addresses_response *ad = NULL;
  struct rsp_slice addr = cs ? cs->smds_address : rsp_msg_slice(NULL, 0);
  if (!addr.len && card(ipa, &rsp_msgt_euicc_configured_addresses_request, &r,
                        &rsp_msgt_euicc_configured_addresses_response, a, (void **)&ad) == RSP_OK)
    addr = ad->root_ds_address;
  if (!addr.len || addr.len >= size || memchr(addr.p, 0, addr.len)) {
    rsp_log(RSP_LOG_WARN, "ipa",
            "contactSmds: the trigger names no SM-DS and the card has no root SM-DS address");
    return false;
  }
  memcpy(out, addr.p, addr.len);
  out[addr.len] = '\0';
  return true;
}

/* contactSmds (SGP.32 ProfileDownloadData [2], SGP.22 §3.6.2): the SM-DS's first event for this
 * eUICC becomes the download, rspServerAddress as the SM-DP+ and eventId as the matchingId. The
 * retrieval runs its own ISD-R session, directly (ES11 through the ES9+ port) or through the eIM
 * (AuthenticateClientOkDSEsipa); the session of the poll is open again afterwards. No event is a
 * failed trigger (profileDownloadError), logged as such. */
static bool smds_target(struct rsp_ipa *ipa, const struct rsp_msg_profile_download_data *pd,
                        const struct rsp_msg_profile_download_trigger_request *q, bool indirect,
                        struct rsp_msg_activation_code *ac, struct rsp_arena *a) {
  char smds[RSP_MSG_AC_MAX_LEN + 1];
  struct rsp_ipa_smds_events ev;
  rsp_err_t rc = RSP_E_INVALID_ARG;
  rsp_msg_activation_code_init(ac);
  if (!indirect && !ipa->es9) return false;
  if (!smds_address(ipa, pd->u.contact_smds, smds, sizeof smds, a)) return false;
  rsp_es10_client_close(&ipa->es10);
  if (indirect)
    rc = rsp_ipa_smds_events_indirect(ipa, smds, q->eim_transaction_id, &ev);
  else
    rc = rsp_ipa_smds_events(ipa, ipa->es9, ipa->es9_ctx, smds, &ev);
  if (rsp_es10_client_open(&ipa->es10) != RSP_OK || rc != RSP_OK) return false;
  if (ev.n == 0) {
    rsp_log(RSP_LOG_WARN, "ipa", "contactSmds: no event for this eUICC at the SM-DS %s", smds);
    return false;
  }
  if (ev.n > 1)
    rsp_log(RSP_LOG_INFO, "ipa", "contactSmds: %zu events at %s, downloading the first", ev.n,
            smds);
  snprintf(ac->smdp_address, sizeof ac->smdp_address, "%s", ev.v[0].rsp_server_address);
  snprintf(ac->matching_id, sizeof ac->matching_id, "%s", ev.v[0].event_id);
  rsp_log(RSP_LOG_INFO, "ipa", "contactSmds: event %s at %s from the SM-DS %s", ac->matching_id,
          ac->smdp_address, smds);
  return true;
}

/* Does the card's eIM configuration (the entry of ipa->eim_id, or any entry) ask for indirect
 * download (EimConfigurationData.indirectProfileDownload, SGP.32 v1.2)? */
static bool eim_wants_indirect(struct rsp_ipa *ipa, struct rsp_arena *a) {
  struct rsp_msg_get_eim_configuration_data_request_search_criteria sc = {
      .which = RSP_MSG_GET_EIM_CONFIGURATION_DATA_REQUEST_SEARCH_CRITERIA_EIM_ID};
  struct rsp_msg_get_eim_configuration_data_request q = {0};
  struct rsp_msg_get_eim_configuration_data_response *r = NULL;
  if (ipa->eim_id) {
    sc.u.eim_id = rsp_msg_slice(ipa->eim_id, strlen(ipa->eim_id));
    q.search_criteria = &sc;
  }
  if (card(ipa, &rsp_msgt_get_eim_configuration_data_request, &q,
           &rsp_msgt_get_eim_configuration_data_response, a, (void **)&r) != RSP_OK ||
      !r->eim_configuration_data_list)
    return false;
  for (size_t i = 0; i < r->eim_configuration_data_list->n; i++)
    if (r->eim_configuration_data_list->v[i].indirect_profile_download) return true;
  return false;
}

/* The selection rule of enum rsp_ipa_download_mode (ipa.h, docs/ipa.md). */
static bool download_indirect(struct rsp_ipa *ipa, struct rsp_arena *a) {
  switch (ipa->download_mode) {
  case RSP_IPA_DOWNLOAD_DIRECT:
    return false;
  case RSP_IPA_DOWNLOAD_INDIRECT:
    return true;
  default:
    return !ipa->es9 || eim_wants_indirect(ipa, a);
  }
}

/* Runs the download a trigger asks for (its own ISD-R session); *pir gets the PIR. */
static void trigger_download(struct rsp_ipa *ipa,
                             const struct rsp_msg_profile_download_trigger_request *q,
                             const struct rsp_msg_activation_code *ac, bool indirect,
                             struct rsp_ipa_download_result *r) {
  struct rsp_ipa_download_params p = {.smdp_address = ac->smdp_address[0] ? ac->smdp_address : NULL,
                                      .matching_id = ac->matching_id[0] ? ac->matching_id : NULL,
                                      .eim_transaction_id = q->eim_transaction_id};
  rsp_es10_client_close(&ipa->es10); /* the download opens its own session */
  if (indirect)
    (void)rsp_ipa_download_indirect(ipa, &p, r);
  else
    (void)rsp_ipa_download(ipa, ipa->es9, ipa->es9_ctx, &p, r);
}

/* ProfileDownloadTriggerRequest: a direct or indirect download, its PIR (or an error) to the
 * eIM. */
static rsp_err_t trigger(struct rsp_ipa *ipa,
                         const struct rsp_msg_profile_download_trigger_request *q,
                         struct rsp_arena *a) {
  struct rsp_msg_activation_code ac;
  struct rsp_ipa_download_result r;
  struct
      rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data_profile_download_error
          err = {.profile_download_error_reason = 127};
  struct rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data data = {
      .which =
          RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_DOWNLOAD_ERROR,
      .u.profile_download_error = &err};
  struct rsp_msg_profile_download_trigger_result res = {
      .eim_transaction_id = q->eim_transaction_id, .profile_download_trigger_result_data = &data};
  ipa->stats.triggers++;
  rsp_ipa_download_result_init(&r);
  bool indirect = download_indirect(ipa, a);
  const struct rsp_msg_profile_download_data *pd = q->profile_download_data;
  bool target = pd && pd->which == RSP_MSG_PROFILE_DOWNLOAD_DATA_CONTACT_SMDS
                    ? smds_target(ipa, pd, q, indirect, &ac, a)
                    : (indirect || ipa->es9) && trigger_target(ipa, pd, indirect, &ac, a);
  if (target) {
    trigger_download(ipa, q, &ac, indirect, &r);
    rsp_err_t rc = rsp_es10_client_open(&ipa->es10);
    if (rc != RSP_OK) {
      rsp_ipa_download_result_free(&r);
      return rc;
    }
    uint8_t *copy = r.pir.len ? rsp_arena_alloc(a, r.pir.len) : NULL;
    if (copy) {
      memcpy(copy, r.pir.data, r.pir.len);
      if (rsp_msg_decode(&rsp_msgt_sgp32_profile_installation_result, copy, r.pir.len, a,
                         (void **)&data.u.profile_installation_result, NULL) == RSP_OK)
        data.which =
            RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT;
    }
  } else {
    rsp_log(RSP_LOG_WARN, "ipa",
            "profile download trigger cannot be served (no ES9+ port or target)");
  }
  rsp_ipa_download_result_free(&r);
  struct rsp_msg_eim_package_result out = {
      .which = RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT,
      .u.profile_download_trigger_result = &res};
  return provide(ipa, &out, a);
}

/* One GetEimPackage exchange; *more is false when the eIM has nothing left. */
static rsp_err_t one_package(struct rsp_ipa *ipa, bool *more) {
  struct rsp_arena a;
  struct rsp_msg_get_eim_package_request g = {.eid_value = rsp_msg_slice(ipa->eid, 16)};
  struct rsp_msg_esipa_message_from_ipa_to_eim m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST,
      .u.get_eim_package_request = &g};
  struct rsp_msg_esipa_message_from_eim_to_ipa *r = NULL;
  if (ipa->notify_state_change) { /* e.g. after an immediate enable (SGP.32 StateChangeCause) */
    g.notify_state_change = true;
    g.state_change_cause = rsp_msg_int_make(ipa->state_change_cause);
  }
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = esipa(ipa, &m, &a, &r);
  if (rc == RSP_OK && g.notify_state_change) rsp__ipa_state_change_sent(ipa);
  *more = false;
  if (rc == RSP_OK &&
      (!r || r->which != RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_EIM_PACKAGE_RESPONSE))
    rc = RSP_E_STATE; /* the answer must match the request (notes 2.3) */
  if (rc != RSP_OK) goto out;
  const struct rsp_msg_get_eim_package_response *p = r->u.get_eim_package_response;
  switch (p->which) {
  case RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EUICC_PACKAGE_REQUEST:
    rc = euicc_package(ipa, p->u.euicc_package_request, &a);
    *more = true;
    break;
  case RSP_MSG_GET_EIM_PACKAGE_RESPONSE_IPA_EUICC_DATA_REQUEST:
    rc = euicc_data(ipa, p->u.ipa_euicc_data_request, &a);
    *more = true;
    break;
  case RSP_MSG_GET_EIM_PACKAGE_RESPONSE_PROFILE_DOWNLOAD_TRIGGER_REQUEST:
    rc = trigger(ipa, p->u.profile_download_trigger_request, &a);
    *more = true;
    break;
  case RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR:
    if (p->u.eim_package_error != NO_EIM_PACKAGE_AVAILABLE)
      rsp_log(RSP_LOG_WARN, "ipa", "eIM answered eimPackageError %lld",
              (long long)p->u.eim_package_error);
    break;
  default:
    rc = RSP_E_UNSUPPORTED;
  }
out:
  rsp_arena_free(&a);
  return rc;
}

rsp_err_t rsp_ipa_poll(struct rsp_ipa *ipa) {
  struct rsp_arena a;
  struct rsp_msg_get_euicc_data_response *e = NULL;
  struct rsp_msg_get_euicc_data_request q = {.tag_list = rsp_msg_slice("\x5A", 1)};
  rsp_err_t rc = rsp_es10_client_open(&ipa->es10);
  if (rc != RSP_OK) return rc;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (!ipa->have_eid) {
    rc = card(ipa, &rsp_msgt_get_euicc_data_request, &q, &rsp_msgt_get_euicc_data_response, &a,
              (void **)&e);
    if (rc == RSP_OK) {
      memcpy(ipa->eid, e->eid_value.p, 16);
      ipa->have_eid = true;
    }
  }
  rsp_arena_free(&a);
  /* before anything goes to the eIM: a switch interrupted by a restart may need undoing */
  if (rc == RSP_OK) rc = rsp__ipa_watch_resume(ipa);
  if (rc == RSP_OK) {
    rsp__ipa_state_change_restore(ipa);
    rc = deliver_pending(ipa);
  }
  bool more = rc == RSP_OK;
  for (int i = 0; more && rc == RSP_OK && i < RSP_IPA_MAX_PACKAGES_PER_POLL; i++)
    rc = one_package(ipa, &more);
  rsp_es10_client_close(&ipa->es10);
  return rc;
}
