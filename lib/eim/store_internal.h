/* lib/eim internals shared by store.c (the interface: argument checks, names, the state machine,
 * the delivery decision) and the backends (store_sqlite.c, store_pg.c and store_pg_ops.c). */
#ifndef RSP_EIM_STORE_INTERNAL_H
#define RSP_EIM_STORE_INTERNAL_H

#include "rsp/core/log.h"
#include "rsp/eim/store.h"

#define RSP__EIM_COMP "eim"

/* The columns of an operation row and of a device row (both backends have the same tables),
 * each name prefixed with `t` ("" or an alias such as "d."), in the order the backends read
 * them; and those of a notification and of an audit row. */
#define RSP__EIM_OP_COLS_OF(t)                                                                     \
  t "id, " t "eid, " t "seq, " t "kind, " t "spec, " t "state, " t "not_before, " t                \
    "expires_at, " t "created, " t "counter, " t "eim_transaction_id, " t "package, " t            \
    "sent_count, " t "last_sent, " t "checked_count, " t "result, " t "result_seq, " t             \
    "result_summary, " t "done_at, " t "error, " t "rolled_back"
#define RSP__EIM_DEVICE_COLS_OF(t)                                                                 \
  t "eid, " t "eim_id, " t "association_token, " t "next_counter, " t "euicc_cert, " t             \
    "eum_cert, " t "euicc_info2, " t "initial_config, " t "created, " t "last_seen, " t            \
    "rplmn, " t "enabled_iccid"
#define RSP__EIM_NOTIF_COLS                                                                        \
  "eid, seq_number, kind, iccid, der, received, forwarded_at, forward_address"
#define RSP__EIM_AUDIT_COLS "id, time, eid, operation_id, event, detail, der"

/* The invariants of an operation row, the same in both backends' schemas (the exactly-once state
 * machine of docs/eim.md as CHECK constraints): a package exactly when sent, a result only after
 * a send and always when done, a counter exactly for signed kinds once sent. */
#define RSP__EIM_OP_CHECKS                                                                         \
  " CHECK ((package IS NULL) = (sent_count = 0)),"                                                 \
  " CHECK (state <> 'queued' OR sent_count = 0),"                                                  \
  " CHECK (state <> 'sent' OR (package IS NOT NULL AND result IS NULL)),"                          \
  " CHECK (state <> 'done' OR result IS NOT NULL),"                                                \
  " CHECK (result IS NULL OR sent_count > 0),"                                                     \
  " CHECK (checked_count <= sent_count),"                                                          \
  " CHECK (counter IS NULL OR kind IN ('psmo', 'eco')),"                                           \
  " CHECK (sent_count = 0 OR kind NOT IN ('psmo', 'eco') OR counter IS NOT NULL)"

/* The end of next_for_delivery in both backends: a queued head not due yet is no head; *op is
 * cleared unless `found` is RSP_OK. Returns the outcome. */
rsp_err_t rsp__eim_head_due(struct rsp_eim_operation *op, int64_t now, rsp_err_t found);

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
/* This handle's held poll of `eid` (if any) applied over what the database says. */
void rsp__eim_touches_show(const struct rsp__eim_touches *t, const char *eid, int64_t *last_seen,
                           bool *has_rplmn, uint8_t rplmn[RSP_EIM_RPLMN_LEN]);
/* A backend's writer of one batch: the oldest min(n, RSP_EIM_TOUCH_BATCH_MAX) held polls in a
 * transaction of their own, dropped from `t` once committed and kept on failure. */
typedef rsp_err_t (*rsp__eim_touch_batch_fn)(void *backend);
/* Records a poll with the batching policy every backend shares (ADR 0008): a full table writes a
 * batch first; interval_ms 0 writes everything at once; a due table writes one batch (a failure
 * is logged, the polls stay held and this one is recorded all the same). */
rsp_err_t rsp__eim_touches_record(struct rsp__eim_touches *t, unsigned interval_ms, const char *eid,
                                  int64_t now, const uint8_t *rplmn,
                                  rsp__eim_touch_batch_fn write_batch, void *backend);
/* Writes every held poll, or those that waited for the interval, batch after batch. */
rsp_err_t rsp__eim_touches_flush(struct rsp__eim_touches *t, unsigned interval_ms, bool due_only,
                                 rsp__eim_touch_batch_fn write_batch, void *backend);

/* ---- what every backend's transactions share (store_common.c) ------------------------------- */

struct json_t;
/* Kinds that are signed and carry a counterValue (psmo, eco). */
bool rsp__eim_signed_kind(enum rsp_eim_op_kind k);
/* A queued operation whose expires_at has passed at `now`. */
bool rsp__eim_op_expired(const struct rsp_eim_operation *op, int64_t now);
/* The state `event` moves `op` to; RSP_E_STATE (logged at info level: usually a race another
 * handler won) when the state machine refuses it. */
rsp_err_t rsp__eim_allowed(const struct rsp_eim_operation *op, enum rsp_eim_op_event event,
                           enum rsp_eim_op_state *to);
/* RSP_E_STATE, logged with the reason the operation is not sent. */
rsp_err_t rsp__eim_refuse(const struct rsp_eim_operation *op, const char *why);
/* The checks of assign_counter_and_mark_sent that need only the operation read in the
 * transaction: counter and txid fit the kind, the state machine allows the send, due, unexpired.
 * The backend then checks the queue head and the device's counter (rsp__eim_counter_check). */
rsp_err_t rsp__eim_send_precheck(const struct rsp_eim_operation *op, int64_t now, int64_t counter,
                                 struct rsp_slice txid);
/* `counter` against the device's next_counter read under the transaction's lock. */
rsp_err_t rsp__eim_counter_check(const struct rsp_eim_operation *op, int64_t counter, int64_t next);
/* The same result again: the seqNumber it had or, without seqNumbers, the same bytes. */
bool rsp__eim_same_result(const struct rsp_eim_operation *op, const struct rsp_eim_result *r);
/* Whether `op` (found by txid or counter) is the operation of result `r`; *why when not. */
bool rsp__eim_result_fits(const struct rsp_eim_operation *op, const struct rsp_eim_result *r,
                          const char **why);
/* JSON text of `j` (consumed; NULL: {}) in a fresh rsp_malloc'd string; NULL when out of memory. */
char *rsp__eim_json_text(struct json_t *j);
/* Audit details (JSON objects, new references) of the events both backends write. */
struct json_t *rsp__eim_hex_json(const uint8_t *p, size_t n);
struct json_t *rsp__eim_detail_result(const struct rsp_eim_result *r, const char *why);
struct json_t *rsp__eim_detail_registered(const struct rsp_eim_device_new *d);
struct json_t *rsp__eim_detail_euicc_data(const struct rsp_eim_euicc_data *d);
struct json_t *rsp__eim_detail_enqueued(const struct rsp_eim_op_new *r, int64_t seq);
struct json_t *rsp__eim_detail_moved(enum rsp_eim_op_event event, const char *error);
struct json_t *rsp__eim_detail_sent(const struct rsp_eim_operation *op, struct rsp_slice txid,
                                    int64_t counter);
struct json_t *rsp__eim_detail_resent(const struct rsp_eim_operation *op);
struct json_t *rsp__eim_detail_notification(const struct rsp_eim_notification_new *n);
struct json_t *rsp__eim_detail_profiles(size_t n, const char *enabled);
/* {"<key>": v}: results_checked (sent_count), notification_forwarded (seq_number). */
struct json_t *rsp__eim_detail_count(const char *key, int64_t v);

#endif
