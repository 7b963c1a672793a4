/* IPA core: the rollback watchdog and the records that survive a restart (SGP.32 §3.2.x, notes
 * 3.9).
 *
 * After the card enabled a profile with rollbackFlag, the IPA waits for network attachment on
 * it; without attachment in time it calls ProfileRollback, and the card keeps the switch's
 * result, now with rollbackResult, pending for the eIM. The wait is recorded ("rollback") before
 * it starts and erased once it is over, so a device that restarts in the middle (a modem that
 * reboots on a profile without coverage is the usual case) resumes it at the next poll, before
 * anything is sent to the eIM, instead of staying on a profile that cannot reach the eIM. A
 * notifyStateChange still owed to the eIM is recorded the same way ("state-change"). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ipa_internal.h"
#include "rsp/core/log.h"
#include "rsp/ipa/ipa.h"
#include "rsp/msg/asn1.h"

#define REC_ROLLBACK "rollback"
#define REC_STATE_CHANGE "state-change"

static void record_save(struct rsp_ipa *ipa, const char *name, const char *text) {
  if (!ipa->storage) return;
  rsp_err_t rc = ipa->storage->save(ipa->storage_ctx, name, (const uint8_t *)text, strlen(text));
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "ipa", "cannot save the %s record: %s (kept in memory only)", name,
            rsp_strerror(rc));
}

static void record_erase(struct rsp_ipa *ipa, const char *name) {
  if (!ipa->storage) return;
  rsp_err_t rc = ipa->storage->erase(ipa->storage_ctx, name);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "ipa", "cannot erase the %s record: %s", name, rsp_strerror(rc));
}

/* The record as a NUL-terminated string in `text`; false when there is none (or it cannot be
 * read, which is logged). */
static bool record_load(struct rsp_ipa *ipa, const char *name, char *text, size_t size) {
  struct rsp_buf b;
  if (!ipa->storage) return false;
  rsp_buf_init(&b, RSP_IPA_RECORD_MAX);
  rsp_err_t rc = ipa->storage->load(ipa->storage_ctx, name, &b);
  bool ok = rc == RSP_OK && b.len < size;
  if (ok) {
    if (b.len) memcpy(text, b.data, b.len);
    text[b.len] = '\0';
  } else if (rc != RSP_E_NOT_FOUND) {
    rsp_log(RSP_LOG_ERROR, "ipa", "cannot read the %s record: %s", name,
            rc == RSP_OK ? "too long" : rsp_strerror(rc));
  }
  rsp_buf_free(&b);
  return ok;
}

/* ---- attachment and rollback ------------------------------------------------------------------
 */

bool rsp__ipa_wait_attached(struct rsp_ipa *ipa, int64_t budget_ms) {
  const struct rsp_ipa_platform_ops *p = ipa->platform;
  if (!p) return true;
  int64_t deadline = p->now_ms(ipa->platform_ctx) + (budget_ms > 0 ? budget_ms : 0);
  while (!p->attached(ipa->platform_ctx)) {
    int64_t left = deadline - p->now_ms(ipa->platform_ctx);
    if (left <= 0) return false;
    p->wait_ms(ipa->platform_ctx,
               left < RSP_IPA_ATTACH_POLL_MS ? (int)left : RSP_IPA_ATTACH_POLL_MS);
  }
  return true;
}

rsp_err_t rsp__ipa_roll_back(struct rsp_ipa *ipa, struct rsp_arena *a,
                             struct rsp_msg_euicc_package_result **res) {
  struct rsp_msg_profile_rollback_request q = {.refresh_flag = true};
  struct rsp_msg_profile_rollback_response *r = NULL;
  rsp_log(RSP_LOG_WARN, "ipa", "no network on the new profile: rolling back");
  rsp_err_t rc = rsp__ipa_card(ipa, &rsp_msgt_profile_rollback_request, &q,
                               &rsp_msgt_profile_rollback_response, a, (void **)&r);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "ipa", "ProfileRollback failed: %s", rsp_strerror(rc));
    return rc;
  }
  if (r->cmd_result != 0) {
    rsp_log(RSP_LOG_ERROR, "ipa", "ProfileRollback refused (cmdResult %lld)",
            (long long)r->cmd_result);
    return RSP_OK; /* report the original result when the network allows */
  }
  ipa->stats.rollbacks++;
  if (r->e_uicc_package_result && res) *res = r->e_uicc_package_result;
  if (!rsp__ipa_wait_attached(ipa, ipa->rollback_timeout_ms))
    rsp_log(RSP_LOG_ERROR, "ipa", "no network on the previous profile either");
  return RSP_OK;
}

/* ---- the watchdog record ----------------------------------------------------------------------
 */

static int64_t wall_ms(struct rsp_ipa *ipa) {
  const struct rsp_ipa_platform_ops *p = ipa->platform;
  return p && p->wall_ms ? p->wall_ms(ipa->platform_ctx) : -1;
}

void rsp__ipa_watch_arm(struct rsp_ipa *ipa) {
  char text[96];
  snprintf(text, sizeof text, "started=%" PRId64 " timeout=%" PRId64 "\n", wall_ms(ipa),
           ipa->rollback_timeout_ms);
  record_save(ipa, REC_ROLLBACK, text);
}

void rsp__ipa_watch_disarm(struct rsp_ipa *ipa) { record_erase(ipa, REC_ROLLBACK); }

/* The time left of a recorded watchdog: the whole timeout when the start or the clock is
 * unknown, never more than the timeout when the clock went back. */
static int64_t time_left(struct rsp_ipa *ipa, int64_t started, int64_t timeout) {
  int64_t now = wall_ms(ipa);
  if (started < 0 || now < 0) return timeout;
  int64_t elapsed = now > started ? now - started : 0;
  return elapsed < timeout ? timeout - elapsed : 0;
}

rsp_err_t rsp__ipa_watch_resume(struct rsp_ipa *ipa) {
  char text[RSP_IPA_RECORD_MAX];
  int64_t started = -1, timeout = -1;
  if (!record_load(ipa, REC_ROLLBACK, text, sizeof text)) return RSP_OK;
  if (sscanf(text, "started=%" SCNd64 " timeout=%" SCNd64, &started, &timeout) != 2 ||
      timeout < 0) {
    rsp_log(RSP_LOG_ERROR, "ipa", "rollback record unreadable (\"%.40s\"): erased", text);
    rsp__ipa_watch_disarm(ipa);
    return RSP_OK;
  }
  int64_t left = time_left(ipa, started, timeout);
  rsp_log(RSP_LOG_WARN, "ipa",
          "resuming the rollback watchdog of a profile switch made before a restart (%lld ms "
          "left)",
          (long long)left);
  if (rsp__ipa_wait_attached(ipa, left)) {
    rsp_log(RSP_LOG_INFO, "ipa", "attached on the new profile: no rollback");
    rsp__ipa_watch_disarm(ipa);
    return RSP_OK;
  }
  struct rsp_arena a;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  /* the card keeps the switch's result, with rollbackResult, pending: delivered next */
  rsp_err_t rc = rsp__ipa_roll_back(ipa, &a, NULL);
  rsp_arena_free(&a);
  if (rc == RSP_OK) rsp__ipa_watch_disarm(ipa);
  return rc;
}

/* ---- notifyStateChange ------------------------------------------------------------------------
 */

void rsp__ipa_state_change_set(struct rsp_ipa *ipa, int64_t cause) {
  char text[48];
  ipa->notify_state_change = true;
  ipa->state_change_cause = cause;
  snprintf(text, sizeof text, "cause=%" PRId64 "\n", cause);
  record_save(ipa, REC_STATE_CHANGE, text);
}

void rsp__ipa_state_change_sent(struct rsp_ipa *ipa) {
  ipa->notify_state_change = false;
  record_erase(ipa, REC_STATE_CHANGE);
}

void rsp__ipa_state_change_restore(struct rsp_ipa *ipa) {
  char text[RSP_IPA_RECORD_MAX];
  int64_t cause;
  if (ipa->notify_state_change || !record_load(ipa, REC_STATE_CHANGE, text, sizeof text)) return;
  if (sscanf(text, "cause=%" SCNd64, &cause) != 1 || cause < 0) {
    rsp_log(RSP_LOG_ERROR, "ipa", "state-change record unreadable: erased");
    record_erase(ipa, REC_STATE_CHANGE);
    return;
  }
  ipa->notify_state_change = true;
  ipa->state_change_cause = cause;
}
