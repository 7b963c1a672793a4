/* Profiles and notifications: the state rules both specs share (one enabled profile, delete only
 * when disabled, policy rules), the signed notifications they produce, and installation. */
#include <stdio.h>
#include <string.h>

#include "euicc_handlers.h"
#include "euicc_internal.h"
#include "rsp/core/log.h"
#include "rsp/msg/signed.h"

/* PprIds (SGP.22): ppr1 = disabling not allowed, ppr2 = deletion not allowed. */
#define PPR1 RSP_MSG_PPR_IDS_PPR1
#define PPR2 RSP_MSG_PPR_IDS_PPR2

struct euicc_profile *rsp__euicc_profile_by_iccid(struct rsp_euicc *c, const uint8_t *iccid) {
  for (size_t i = 0; i < c->st.n_profiles; i++)
    if (memcmp(c->st.profiles[i].iccid, iccid, RSP_ICCID_LEN) == 0) return &c->st.profiles[i];
  return NULL;
}

struct euicc_profile *rsp__euicc_profile_by_aid(struct rsp_euicc *c, const uint8_t *aid,
                                                size_t len) {
  for (size_t i = 0; i < c->st.n_profiles; i++)
    if (len == sizeof c->st.profiles[i].aid && memcmp(c->st.profiles[i].aid, aid, len) == 0)
      return &c->st.profiles[i];
  return NULL;
}

struct euicc_profile *rsp__euicc_enabled_profile(struct rsp_euicc *c) {
  for (size_t i = 0; i < c->st.n_profiles; i++)
    if (c->st.profiles[i].state == EUICC_PROFILE_ENABLED) return &c->st.profiles[i];
  return NULL;
}

rsp_err_t rsp__euicc_metadata(const struct euicc_profile *p, struct rsp_arena *a,
                              struct rsp_msg_sgp32_store_metadata_request **out) {
  return rsp_msg_decode(&rsp_msgt_sgp32_store_metadata_request, p->metadata.data, p->metadata.len,
                        a, (void **)out, NULL);
}

/* The profile's policy rules (PprIds bit string) as a mask of named bits. */
static unsigned ppr_mask(const struct rsp_msg_sgp32_store_metadata_request *m) {
  unsigned mask = 0;
  if (m && m->profile_policy_rules.p)
    for (unsigned b = 0; b < 8; b++)
      if (rsp_msg_bit(m->profile_policy_rules, b)) mask |= 1u << b;
  return mask;
}

/* The notification address configured for `event` (a NotificationEvent bit), if any. */
static bool notification_address(const struct rsp_msg_sgp32_store_metadata_request *m,
                                 unsigned event, struct rsp_slice *addr) {
  if (!m || !m->notification_configuration_info) return false;
  for (size_t i = 0; i < m->notification_configuration_info->n; i++) {
    const struct rsp_msg_notification_configuration_information *n =
        &m->notification_configuration_info->v[i];
    if (rsp_msg_bit(n->profile_management_operation, event)) {
      *addr = n->notification_address;
      return true;
    }
  }
  return false;
}

rsp_err_t rsp__euicc_add_pending(struct rsp_euicc *c, struct euicc_notification *n) {
  struct euicc_state *st = &c->st;
  if (st->n_notifications == EUICC_MAX_NOTIFICATIONS) {
    /* Full: the oldest plain notification makes room (results are kept until acknowledged). */
    size_t i = 0;
    while (i < st->n_notifications && st->notifications[i].is_epr) i++;
    if (i == st->n_notifications) return RSP_E_BUF_CAP;
    rsp_log(RSP_LOG_WARN, "euicc", "card %s: notification %lld dropped (list full)", c->eid_digits,
            (long long)st->notifications[i].seq);
    struct rsp_buf keep = st->notifications[i].raw;
    memmove(&st->notifications[i], &st->notifications[i + 1],
            (st->n_notifications - i - 1) * sizeof st->notifications[0]);
    st->notifications[--st->n_notifications].raw = keep;
  }
  struct euicc_notification *slot = &st->notifications[st->n_notifications];
  struct rsp_buf buf = slot->raw;
  rsp_buf_reset(&buf);
  rsp_err_t rc = rsp_buf_append(&buf, n->raw.data, n->raw.len);
  if (rc != RSP_OK) return rc;
  *slot = *n;
  slot->raw = buf;
  st->n_notifications++;
  return RSP_OK;
}

/* OtherSignedNotification for enable/disable/delete (SGP.22 §5.7.11, NotificationMetadata
 * signed with SK.EUICC, both certificates attached). */
rsp_err_t rsp__euicc_notify(struct rsp_euicc *c, const struct euicc_profile *p, unsigned event) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_store_metadata_request *m = NULL;
  struct rsp_slice addr;
  struct rsp_buf tbs, raw;
  uint8_t bits[5], sig[64];
  rsp_err_t rc = RSP_OK;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&tbs, 4096);
  rsp_buf_init(&raw, 8192);
  if (rsp__euicc_metadata(p, &a, &m) != RSP_OK || !notification_address(m, event, &addr))
    goto out; /* the profile asks for no notification of this event */
  struct rsp_msg_notification_metadata md = {.seq_number = c->st.next_seq,
                                             .profile_management_operation =
                                                 rsp_msg_bits_make(1u << event, bits),
                                             .notification_address = addr,
                                             .iccid = rsp_msg_slice(p->iccid, RSP_ICCID_LEN)};
  if ((rc = rsp_msg_encode(&rsp_msgt_notification_metadata, &md, &tbs, NULL)) != RSP_OK) goto out;
  struct rsp_slice part = rsp_msg_slice(tbs.data, tbs.len);
  if ((rc = rsp__euicc_sign(c, &part, 1, sig)) != RSP_OK) goto out;
  struct rsp_msg_other_signed_notification osn = {.tbs_other_notification = &md,
                                                  .euicc_notification_signature =
                                                      rsp_msg_slice(sig, 64),
                                                  .euicc_certificate = rsp_cert_der(c->cert),
                                                  .eum_certificate = rsp_cert_der(c->eum_cert)};
  if ((rc = rsp_msg_encode(&rsp_msgt_other_signed_notification, &osn, &raw, NULL)) != RSP_OK)
    goto out;
  struct euicc_notification n = {
      .seq = c->st.next_seq, .event = 1u << event, .has_iccid = true, .raw = raw};
  memcpy(n.iccid, p->iccid, RSP_ICCID_LEN);
  snprintf(n.address, sizeof n.address, "%.*s", (int)addr.len, (const char *)addr.p);
  if ((rc = rsp__euicc_add_pending(c, &n)) == RSP_OK) c->st.next_seq++;
out:
  rsp_buf_free(&tbs);
  rsp_buf_free(&raw);
  rsp_arena_free(&a);
  return rc;
}

/* ---- state transitions (ES10c and the PSMOs share them) ----------------------------------------
 */

static unsigned profile_ppr(const struct euicc_profile *p) {
  struct rsp_arena a;
  struct rsp_msg_sgp32_store_metadata_request *m = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  unsigned mask = rsp__euicc_metadata(p, &a, &m) == RSP_OK ? ppr_mask(m) : 0;
  rsp_arena_free(&a);
  return mask;
}

rsp_err_t rsp__euicc_do_enable(struct rsp_euicc *c, struct euicc_profile *p, bool rollback,
                               int64_t *result) {
  struct euicc_profile *cur = rsp__euicc_enabled_profile(c);
  rsp_err_t rc;
  if (p->state == EUICC_PROFILE_ENABLED) return (*result = 2, RSP_OK);        /* not disabled */
  if (cur && (profile_ppr(cur) & (1u << PPR1))) return (*result = 3, RSP_OK); /* policy */
  if (cur) {
    cur->state = EUICC_PROFILE_DISABLED;
    if ((rc = rsp__euicc_notify(c, cur, RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DISABLE)) != RSP_OK)
      return rc;
  }
  p->state = EUICC_PROFILE_ENABLED;
  if ((rc = rsp__euicc_notify(c, p, RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_ENABLE)) != RSP_OK)
    return rc;
  /* SGP.32: an enable with rollbackFlag lets the IPA undo exactly this switch, once. */
  c->st.rollback_granted = rollback;
  c->st.rollback_has_from = cur != NULL;
  if (cur) memcpy(c->st.rollback_from, cur->iccid, RSP_ICCID_LEN);
  memcpy(c->st.rollback_to, p->iccid, RSP_ICCID_LEN);
  *result = 0;
  return RSP_OK;
}

rsp_err_t rsp__euicc_do_disable(struct rsp_euicc *c, struct euicc_profile *p, int64_t *result) {
  if (p->state != EUICC_PROFILE_ENABLED) return (*result = 2, RSP_OK);
  if (profile_ppr(p) & (1u << PPR1)) return (*result = 3, RSP_OK);
  p->state = EUICC_PROFILE_DISABLED;
  c->st.rollback_granted = false;
  *result = 0;
  return rsp__euicc_notify(c, p, RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DISABLE);
}

rsp_err_t rsp__euicc_do_delete(struct rsp_euicc *c, struct euicc_profile *p, int64_t *result) {
  struct euicc_profile copy;
  rsp_err_t rc;
  if (p->state != EUICC_PROFILE_DISABLED) return (*result = 2, RSP_OK);
  if (profile_ppr(p) & (1u << PPR2)) return (*result = 3, RSP_OK);
  /* notify first: the notification needs the profile's metadata */
  if ((rc = rsp__euicc_notify(c, p, RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DELETE)) != RSP_OK)
    return rc;
  size_t i = (size_t)(p - c->st.profiles);
  struct rsp_buf keep = p->metadata;
  memmove(&c->st.profiles[i], &c->st.profiles[i + 1],
          (c->st.n_profiles - i - 1) * sizeof c->st.profiles[0]);
  c->st.n_profiles--;
  memset(&copy, 0, sizeof copy);
  copy.metadata = keep;
  rsp_buf_reset(&copy.metadata);
  c->st.profiles[c->st.n_profiles] = copy;
  *result = 0;
  return RSP_OK;
}

rsp_err_t rsp__euicc_install(struct rsp_euicc *c, struct rsp_slice metadata,
                             const uint8_t iccid[RSP_ICCID_LEN], const uint8_t upp_hash[32],
                             uint64_t upp_len, struct euicc_profile **out) {
  static const uint8_t aid_prefix[14] = {0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10,
                                         0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00};
  if (c->st.n_profiles == EUICC_MAX_PROFILES) return RSP_E_BUF_CAP;
  if (rsp__euicc_profile_by_iccid(c, iccid)) return RSP_E_EXISTS;
  struct euicc_profile *p = &c->st.profiles[c->st.n_profiles];
  rsp_buf_reset(&p->metadata);
  rsp_err_t rc = rsp_buf_append(&p->metadata, metadata.p, metadata.len);
  if (rc != RSP_OK) return rc;
  memcpy(p->iccid, iccid, RSP_ICCID_LEN);
  memcpy(p->aid, aid_prefix, sizeof aid_prefix);
  p->aid[14] = (uint8_t)(c->st.next_aid >> 8);
  p->aid[15] = (uint8_t)c->st.next_aid;
  c->st.next_aid++;
  p->state = EUICC_PROFILE_DISABLED;
  p->fallback_attribute = false;
  p->nickname[0] = '\0';
  memcpy(p->upp_hash, upp_hash, 32);
  p->upp_len = upp_len;
  c->st.n_profiles++;
  *out = p;
  return RSP_OK;
}
