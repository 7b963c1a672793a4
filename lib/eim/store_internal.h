/* lib/eim internals shared by store.c (the interface: argument checks, names, the state machine,
 * the delivery decision) and the backends (store_sqlite.c). */
#ifndef RSP_EIM_STORE_INTERNAL_H
#define RSP_EIM_STORE_INTERNAL_H

#include "rsp/core/log.h"
#include "rsp/eim/store.h"

#define RSP__EIM_COMP "eim"

/* Checks that `package` is what an operation of `kind` for device (eid, eim_id) may hand out:
 * one DER element of the kind's message (EuiccPackageRequest BF51 for psmo and eco with the
 * matching list, IpaEuiccDataRequest BF52, ProfileDownloadTriggerRequest BF54), whose eidValue,
 * eimId and counterValue (BF51) and eimTransactionId are `eid`, `eim_id`, `counter` and `txid`.
 * RSP_E_INVALID_ARG (logged) when it is not. Backends call it inside their transaction, once they
 * read the operation and its device. */
rsp_err_t rsp__eim_package_check(enum rsp_eim_op_kind kind, const char *eid, const char *eim_id,
                                 struct rsp_slice package, int64_t counter, struct rsp_slice txid);

/* Names as stored (and their reverse): profile states and classes, notification kinds. */
const char *rsp__eim_profile_state_name(enum rsp_eim_profile_state s);
enum rsp_eim_profile_state rsp__eim_profile_state_parse(const char *name);
const char *rsp__eim_profile_class_name(int profile_class); /* NULL for -1 / unknown */
int rsp__eim_profile_class_parse(const char *name);         /* -1 when NULL or unknown */
enum rsp_eim_notification_kind rsp__eim_notification_kind_parse(const char *name);

/* ---- polls not written yet (touch.c) ---------------------------------------------------------
 *
 * A handle keeps the latest (last_seen, rPLMN) of each device that polled since its last write
 * and writes them in batches, oldest first (docs/eim.md "Polls: last_seen and rPLMN"). At most
 * RSP_EIM_TOUCH_PENDING_MAX devices; a handle that reaches it writes a batch first. */

struct rsp__eim_touch {
  char eid[RSP_EID_DIGITS + 1];
  bool has_rplmn;
  uint8_t rplmn[RSP_EIM_RPLMN_LEN];
  uint32_t slot; /* its index slot, so that clearing touches only the slots in use */
  int64_t last_seen;
  int64_t since_ms; /* rsp__eim_mono_ms() when the device was recorded (not when merged) */
};

struct rsp__eim_touches {
  struct rsp__eim_touch *v; /* n in use of size, in the order first recorded: oldest first */
  size_t n, size;
  uint32_t *slots; /* n_slots (a power of two): 0 empty, else index in v + 1 */
  size_t n_slots;
};

/* Cannot fail. */
void rsp__eim_touches_init(struct rsp__eim_touches *t);
/* NULL-safe and idempotent. */
void rsp__eim_touches_free(struct rsp__eim_touches *t);
/* Records a poll of `eid` (merged with one recorded before: rsp__eim_touch_merge).
 * RSP_E_BUF_CAP when RSP_EIM_TOUCH_PENDING_MAX devices wait already, RSP_E_NOMEM. */
rsp_err_t rsp__eim_touches_add(struct rsp__eim_touches *t, const char *eid, int64_t now,
                               const uint8_t *rplmn);
/* The recorded poll of `eid`, NULL when none waits. */
const struct rsp__eim_touch *rsp__eim_touches_find(const struct rsp__eim_touches *t,
                                                   const char *eid);
/* Forgets the k oldest (v[0..k), committed); all of them when k >= n. */
void rsp__eim_touches_drop(struct rsp__eim_touches *t, size_t k);
/* Whether the oldest poll waiting was recorded `interval_ms` or more ago. */
bool rsp__eim_touches_due(const struct rsp__eim_touches *t, unsigned interval_ms);
/* A poll at `when` (with `new_rplmn`, NULL: none) applied to (last_seen, rPLMN): last_seen never
 * moves backwards, and the rPLMN is taken only from a poll at least as recent as last_seen. The
 * rule of the backends' batched write too. */
void rsp__eim_touch_merge(int64_t *last_seen, bool *has_rplmn, uint8_t rplmn[RSP_EIM_RPLMN_LEN],
                          int64_t when, const uint8_t *new_rplmn);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t rsp__eim_mono_ms(void);

#endif
