/* openrsp: the eIM's durable store (rsp-eim, issue 7): the device registry, the per-device queue
 * of operations with its exactly-once delivery state machine, the notifications received, and an
 * append-only audit trail of every package sent and every result received. No transport here:
 * the ESipa handler and the operator API call these functions (docs/eim.md, "Store" and
 * "Exactly-once").
 *
 * The store is an interface (struct rsp_eim_store_ops, a const table of functions) so that other
 * databases can follow; the SQLite implementation is rsp_eim_store_sqlite_open (WAL,
 * synchronous=FULL, foreign keys on, a busy timeout, versioned migrations), the PostgreSQL one
 * (several nodes sharing a database) rsp_eim_store_pg_open; rsp_eim_store_open picks by name. The
 * public functions below check their arguments (NULL, lengths, EID digits, JSON text, DER framing)
 * and return RSP_E_INVALID_ARG before a backend sees anything, so every backend gets clean input.
 *
 * Every state change is one transaction: it commits completely (with its audit row) or not at
 * all, so the process may be killed between or inside any two calls. The one exception is a
 * device's poll bookkeeping (last_seen and rPLMN, rsp_eim_store_device_touch and
 * rsp_eim_store_device_poll): it is not protocol state, so a handle keeps it in memory and writes
 * it in batches, about RSP_EIM_TOUCH_INTERVAL_MS after the poll (or with a state change it
 * commits meanwhile, and at close). A crash loses at most that interval of last-seen times,
 * nothing else (docs/eim.md "Polls: last_seen and rPLMN").
 *
 * Threads and processes: a store handle is used by ONE thread at a time; give each thread its own
 * handle (rsp_eim_store_sqlite_open on the same path). Several handles in one process and several
 * processes may share one SQLite file: writers serialize on the database lock (BEGIN IMMEDIATE,
 * waiting up to RSP_EIM_STORE_BUSY_MS), readers never block.
 *
 * Times are seconds (the caller's clock, usually Unix time) passed in by the caller, so tests and
 * replays control time. Outcomes of the protocol (a duplicate result, a result for an unknown
 * operation) are data (enum rsp_eim_record), never rsp_err_t values. */
#ifndef RSP_EIM_STORE_H
#define RSP_EIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/core/hex.h"

struct rsp_msg_ipa_euicc_data;

/* ---- limits ---------------------------------------------------------------------------------- */

#define RSP_EIM_ID_MAX 128              /* eimId UTF8String SIZE(1..128) (SGP.32 v1.2, notes 3.1) */
#define RSP_EIM_TXID_MAX 16             /* eimTransactionId OCTET STRING SIZE(1..16) */
#define RSP_EIM_RPLMN_LEN 3             /* GetEimPackageRequest rPLMN OCTET STRING (SIZE(3)) */
#define RSP_EIM_CERT_MAX 8192u          /* CERT.EUICC / CERT.EUM, DER */
#define RSP_EIM_INFO2_MAX 16384u        /* SGP32-EUICCInfo2 (BF22), DER */
#define RSP_EIM_CONFIG_MAX 16384u       /* EimConfigurationData for AddInitialEim, DER */
#define RSP_EIM_SPEC_MAX 65536u         /* the operator's request, JSON text */
#define RSP_EIM_PACKAGE_MAX 65536u      /* one signed eIM package (BF51, BF52, BF54), DER */
#define RSP_EIM_RESULT_MAX (1u << 20)   /* one result (BF51, BF52, BF54 ...), DER */
#define RSP_EIM_SUMMARY_MAX 65536u      /* a result summary, JSON text */
#define RSP_EIM_ERROR_MAX 1024u         /* an operation's error text */
#define RSP_EIM_NOTIFICATION_MAX 65536u /* one pending notification (BF37, 30 ...), DER */
#define RSP_EIM_ADDRESS_MAX 255         /* notificationAddress (an FQDN) */
#define RSP_EIM_PROFILE_NAME_MAX 64     /* profileName kept per profile */
#define RSP_EIM_PROFILES_MAX 256        /* profiles per device in one profiles_set */
#define RSP_EIM_PAGE_MAX 1000           /* items one list call returns at most */
#define RSP_EIM_EVENT_MAX 31            /* audit event name */
/* Bound of the counters: the store hands out counterValues below it, so next_counter never
 * exceeds it; a device whose next_counter reached it is exhausted (RSP_E_STATE; the eIM must be
 * deleted and added again, notes 3.1). The eUICC handles at least 0x7FFFFF; this bound only keeps
 * the value within a 32-bit INTEGER. */
#define RSP_EIM_COUNTER_MAX INT32_MAX
#define RSP_EIM_NO_COUNTER (-1) /* no counterValue (unsigned kinds, or not sent yet) */
#define RSP_EIM_NO_SEQ (-1)     /* no seqNumber */
#define RSP_EIM_STORE_BUSY_MS 5000
/* How long a poll's last_seen and rPLMN may wait in a handle's memory before the handle writes
 * them (batched with the other devices that polled meanwhile); rsp_eim_store_set_touch_interval
 * changes it per handle. */
#define RSP_EIM_TOUCH_INTERVAL_MS 1000u
/* Devices whose poll a handle holds at most; one more writes a batch first. */
#define RSP_EIM_TOUCH_PENDING_MAX 16384u
/* Devices one transaction writes at most (the oldest held first), so that writing a second's
 * polls of a large fleet never stalls a handle's thread for long: a due handle writes one such
 * batch per poll it serves until what it holds is younger than the interval. */
#define RSP_EIM_TOUCH_BATCH_MAX 1024u

/* ---- devices --------------------------------------------------------------------------------- */

/* What a device brings at registration (manufacture or onboarding). */
struct rsp_eim_device_new {
  const char *eid;    /* 32 decimal digits */
  const char *eim_id; /* our eimId in this eUICC's association, 1..128 bytes of UTF-8 */
  bool has_association_token;
  int64_t association_token;
  /* The counterValue of the next package: the EimConfigurationData counterValue + 1 (the card
   * accepts only a counter greater than the one it holds). */
  int64_t next_counter;
  struct rsp_slice initial_config; /* EimConfigurationData (30) for AddInitialEim; p NULL: none */
  struct rsp_slice euicc_cert;     /* CERT.EUICC DER; p NULL: not known yet */
  struct rsp_slice eum_cert;       /* CERT.EUM DER; p NULL: not known yet */
};

struct rsp_eim_device {
  char eid[RSP_EID_DIGITS + 1];
  char eim_id[RSP_EIM_ID_MAX + 1];
  bool has_association_token;
  int64_t association_token;
  int64_t next_counter;
  struct rsp_buf euicc_cert, eum_cert, euicc_info2, initial_config; /* empty: unknown */
  int64_t created, last_seen;                                       /* last_seen 0: never */
  bool has_rplmn;
  uint8_t rplmn[RSP_EIM_RPLMN_LEN];
  char enabled_iccid[RSP_ICCID_MAX_DIGITS + 1]; /* "" when none or unknown */
};

/* One row of a device listing (no certificates). */
struct rsp_eim_device_summary {
  char eid[RSP_EID_DIGITS + 1];
  char eim_id[RSP_EIM_ID_MAX + 1];
  int64_t next_counter, created, last_seen;
  char enabled_iccid[RSP_ICCID_MAX_DIGITS + 1];
  int64_t pending; /* operations queued or sent */
};

/* What an IpaEuiccData (BF52 A0) taught us; a slice with p NULL leaves the stored value. */
struct rsp_eim_euicc_data {
  struct rsp_slice euicc_cert, eum_cert, euicc_info2;
  bool has_association_token;
  int64_t association_token;
};

/* Cannot fail. */
void rsp_eim_device_init(struct rsp_eim_device *d);
/* NULL-safe and idempotent. */
void rsp_eim_device_free(struct rsp_eim_device *d);
/* Points `out` at the fields of a decoded IpaEuiccData (keep the decoded message alive):
 * euiccCertificate (A6), eumCertificate (A5), euiccInfo2 as received (BF22), associationToken. */
rsp_err_t rsp_eim_euicc_data_from_msg(const struct rsp_msg_ipa_euicc_data *in,
                                      struct rsp_eim_euicc_data *out);

/* ---- profiles (the eIM's view: listProfileInfo, PSMO results, downloads) --------------------- */

enum rsp_eim_profile_state { RSP_EIM_PROFILE_DISABLED = 1, RSP_EIM_PROFILE_ENABLED };

struct rsp_eim_profile {
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  enum rsp_eim_profile_state state;
  char name[RSP_EIM_PROFILE_NAME_MAX + 1];
  /* RSP_MSG_PROFILE_CLASS_* (0 test, 1 provisioning, 2 operational), -1 when unknown. */
  int profile_class;
  int64_t updated;
};

/* ---- operations ------------------------------------------------------------------------------ */

enum rsp_eim_op_kind {
  RSP_EIM_OP_PSMO = 1,   /* EuiccPackageRequest (BF51) with a psmoList: signed, counted */
  RSP_EIM_OP_ECO,        /* EuiccPackageRequest (BF51) with an ecoList: signed, counted */
  RSP_EIM_OP_EUICC_DATA, /* IpaEuiccDataRequest (BF52): unsigned, matched by eimTransactionId */
  RSP_EIM_OP_DOWNLOAD,   /* ProfileDownloadTriggerRequest (BF54): unsigned, by eimTransactionId */
};

/* queued -> sent -> done | failed; queued -> expired | cancelled | failed. Nothing else. */
enum rsp_eim_op_state {
  RSP_EIM_OP_QUEUED = 1,
  RSP_EIM_OP_SENT,      /* package stored and handed out at least once, no result yet */
  RSP_EIM_OP_DONE,      /* result recorded, executed */
  RSP_EIM_OP_FAILED,    /* result recorded as an error, or the package could not be built */
  RSP_EIM_OP_EXPIRED,   /* expires_at passed before it was sent */
  RSP_EIM_OP_CANCELLED, /* cancelled by the operator before it was sent */
};

struct rsp_eim_op_new {
  const char *eid;
  enum rsp_eim_op_kind kind;
  const char *spec;   /* the operator's request: a JSON object as text */
  int64_t not_before; /* not handed out before this time; 0: at once */
  int64_t expires_at; /* expired if still queued at this time; 0: never */
};

struct rsp_eim_operation {
  int64_t id;
  char eid[RSP_EID_DIGITS + 1];
  int64_t seq; /* position in the device's queue (1, 2, ...) */
  enum rsp_eim_op_kind kind;
  enum rsp_eim_op_state state;
  char *spec; /* owned */
  int64_t not_before, expires_at, created;
  int64_t counter; /* RSP_EIM_NO_COUNTER until sent, and for the unsigned kinds */
  uint8_t eim_transaction_id[RSP_EIM_TXID_MAX];
  size_t eim_transaction_id_len; /* 0: none */
  struct rsp_buf package;        /* the exact bytes handed out (empty until sent) */
  int64_t sent_count, last_sent;
  /* sent_count at the last time the card's pending results were read without finding this
   * operation's result; equal to sent_count means "checked since the last send". */
  int64_t checked_count;
  struct rsp_buf result; /* the result as received (empty until recorded) */
  int64_t result_seq;    /* its seqNumber, RSP_EIM_NO_SEQ when none */
  char *result_summary;  /* owned JSON text or NULL */
  int64_t done_at;       /* when it reached a final state; 0 while open */
  char *error;           /* owned or NULL */
  /* Its result shows a profile rollback: an enable followed by rollbackResult ok (SGP.32
   * ProfileRollback: the IPA undid a switch that left the device without network). */
  bool rolled_back;
};

struct rsp_eim_op_list {
  struct rsp_eim_operation *v;
  size_t n;
};

void rsp_eim_operation_init(struct rsp_eim_operation *op);
void rsp_eim_operation_free(struct rsp_eim_operation *op);
void rsp_eim_op_list_free(struct rsp_eim_op_list *l);
const char *rsp_eim_op_kind_name(enum rsp_eim_op_kind k);   /* "psmo" ...; "unknown" */
const char *rsp_eim_op_state_name(enum rsp_eim_op_state s); /* "queued" ...; "unknown" */
/* 0 when the name is unknown. */
enum rsp_eim_op_kind rsp_eim_op_kind_parse(const char *name);
enum rsp_eim_op_state rsp_eim_op_state_parse(const char *name);
/* What happens to an operation; the state machine says which event each state accepts. */
enum rsp_eim_op_event {
  RSP_EIM_EV_SEND = 1,        /* queued -> sent: counter allocated, package stored */
  RSP_EIM_EV_EXPIRE,          /* queued -> expired */
  RSP_EIM_EV_CANCEL,          /* queued -> cancelled (the operator) */
  RSP_EIM_EV_ABANDON,         /* queued -> failed (the eIM cannot build the package) */
  RSP_EIM_EV_RESEND,          /* sent -> sent: the same bytes once more */
  RSP_EIM_EV_RESULTS_CHECKED, /* sent -> sent: the card's pending results were read */
  RSP_EIM_EV_RESULT_OK,       /* sent -> done */
  RSP_EIM_EV_RESULT_ERROR,    /* sent -> failed */
};
const char *rsp_eim_op_event_name(enum rsp_eim_op_event e);
/* The state machine of an operation: the state `event` leads to from `from`, or 0 when the event
 * is not allowed there. A sent operation never expires and is never cancelled or abandoned: the
 * card may have executed it, so only its result closes it. */
enum rsp_eim_op_state rsp_eim_op_next_state(enum rsp_eim_op_state from,
                                            enum rsp_eim_op_event event);

/* ---- results, notifications, audit ----------------------------------------------------------- */

/* What recording a result or a notification did. */
enum rsp_eim_record {
  RSP_EIM_RECORD_NEW = 1,   /* committed now */
  RSP_EIM_RECORD_DUPLICATE, /* already committed earlier: nothing changed */
  RSP_EIM_RECORD_UNKNOWN,   /* no operation matches: kept in the audit trail only */
  RSP_EIM_RECORD_CONFLICT,  /* the operation already has another result: kept in audit only */
};
const char *rsp_eim_record_name(enum rsp_eim_record r);

/* One result received from the device. The operation is found by eimTransactionId when given,
 * else by (eid, counter). */
struct rsp_eim_result {
  const char *eid;                     /* may be NULL only when the txid is given */
  struct rsp_slice eim_transaction_id; /* p NULL: absent */
  int64_t counter;                     /* counterValue echoed, or RSP_EIM_NO_COUNTER */
  int64_t seq_number;                  /* the EPR's seqNumber, or RSP_EIM_NO_SEQ */
  struct rsp_slice der;                /* the result as received: one DER element */
  const char *summary;                 /* JSON text for the operator, or NULL */
  enum rsp_eim_op_state state;         /* RSP_EIM_OP_DONE or RSP_EIM_OP_FAILED */
  const char *error;                   /* with FAILED: why (e.g. "replayError"), or NULL */
};

enum rsp_eim_notification_kind {
  RSP_EIM_NOTIF_INSTALL = 1, /* NotificationEvent bits of SGP.22 (PIR: install) */
  RSP_EIM_NOTIF_ENABLE,
  RSP_EIM_NOTIF_DISABLE,
  RSP_EIM_NOTIF_DELETE,
  RSP_EIM_NOTIF_OTHER,
};
const char *rsp_eim_notification_kind_name(enum rsp_eim_notification_kind k);

struct rsp_eim_notification_new {
  const char *eid;
  int64_t seq_number; /* >= 0 */
  enum rsp_eim_notification_kind kind;
  const char *iccid;           /* 18..20 digits, or NULL */
  struct rsp_slice der;        /* the PendingNotification as received: one DER element */
  const char *forward_address; /* where to forward it (notificationAddress), or NULL */
};

struct rsp_eim_notification {
  char eid[RSP_EID_DIGITS + 1];
  int64_t seq_number;
  enum rsp_eim_notification_kind kind;
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  struct rsp_buf der;
  int64_t received, forwarded_at; /* forwarded_at 0: not yet */
  char forward_address[RSP_EIM_ADDRESS_MAX + 1];
};
void rsp_eim_notification_init(struct rsp_eim_notification *n);
void rsp_eim_notification_free(struct rsp_eim_notification *n);

struct rsp_eim_audit_entry {
  int64_t id, time;
  char eid[RSP_EID_DIGITS + 1]; /* "" when none */
  int64_t operation_id;         /* 0 when none */
  char event[RSP_EIM_EVENT_MAX + 1];
  char *detail;       /* owned JSON object text */
  struct rsp_buf der; /* the package or result bytes of this event, or empty */
};

struct rsp_eim_audit_list {
  struct rsp_eim_audit_entry *v;
  size_t n;
};
void rsp_eim_audit_list_free(struct rsp_eim_audit_list *l);

/* Which audit entries to list: after_id and the optional filters (NULL / 0: any). */
struct rsp_eim_audit_query {
  const char *eid;
  int64_t operation_id;
  int64_t after_id;
  size_t limit; /* 1..RSP_EIM_PAGE_MAX */
};

/* ---- counts ---------------------------------------------------------------------------------- */

/* The whole store counted at once (rsp_eim_store_stats): aggregates, never a walk of the rows in
 * the caller. Indexes: [kind][state] with the enum values (0 unused). */
struct rsp_eim_stats {
  int64_t devices;
  int64_t ops[RSP_EIM_OP_DOWNLOAD + 1][RSP_EIM_OP_CANCELLED + 1];
  int64_t by_state[RSP_EIM_OP_CANCELLED + 1]; /* the column sums of ops */
  int64_t total;                              /* every operation */
  int64_t rolled_back;                        /* operations whose result shows a rollback */
};

/* ---- the delivery decision (pure) ------------------------------------------------------------ */

enum rsp_eim_delivery {
  RSP_EIM_DELIVERY_NOTHING = 0, /* answer noEimPackageAvailable */
  /* Build the package from the spec, sign it with the device's next_counter, store it with
   * rsp_eim_store_assign_counter_and_mark_sent, then hand it out. */
  RSP_EIM_DELIVERY_SEND_NEW,
  /* Hand out op->package again, byte for byte, then rsp_eim_store_op_resent. */
  RSP_EIM_DELIVERY_RESEND,
  /* The package went out but no result came back: ask the card for its pending results first
   * (IpaEuiccDataRequest, tagList A2 euiccPackageResultList), record those found, and call
   * rsp_eim_store_op_results_checked when this operation's result was not among them. */
  RSP_EIM_DELIVERY_ASK_RESULTS,
};
const char *rsp_eim_delivery_name(enum rsp_eim_delivery d);

/* What the ESipa handler does with the device's queue head (NULL: empty queue) at `now`. Pure:
 * no store access. See docs/eim.md "Exactly-once". */
enum rsp_eim_delivery rsp_eim_store_delivery_decision(const struct rsp_eim_operation *head,
                                                      int64_t now);

/* ---- the interface --------------------------------------------------------------------------- */

struct rsp_eim_store;

/* A backend. The public functions below validate every argument before calling these, so a
 * backend may assume valid input; each call that changes state is one transaction. */
struct rsp_eim_store_ops {
  const char *name;
  void (*close)(struct rsp_eim_store *s);
  rsp_err_t (*device_register)(struct rsp_eim_store *s, const struct rsp_eim_device_new *d,
                               int64_t now);
  rsp_err_t (*device_get)(struct rsp_eim_store *s, const char *eid, struct rsp_eim_device *out);
  rsp_err_t (*device_list)(struct rsp_eim_store *s, const char *after_eid,
                           struct rsp_eim_device_summary *out, size_t out_size, size_t *out_len);
  rsp_err_t (*device_update_euicc_data)(struct rsp_eim_store *s, const char *eid,
                                        const struct rsp_eim_euicc_data *d, int64_t now);
  rsp_err_t (*device_touch)(struct rsp_eim_store *s, const char *eid, int64_t now,
                            const uint8_t *rplmn);
  rsp_err_t (*profiles_set)(struct rsp_eim_store *s, const char *eid,
                            const struct rsp_eim_profile *v, size_t n, int64_t now);
  rsp_err_t (*profiles_list)(struct rsp_eim_store *s, const char *eid, struct rsp_eim_profile *out,
                             size_t out_size, size_t *out_len);
  rsp_err_t (*op_enqueue)(struct rsp_eim_store *s, const struct rsp_eim_op_new *req, int64_t now,
                          int64_t *id);
  rsp_err_t (*op_get)(struct rsp_eim_store *s, int64_t id, struct rsp_eim_operation *op);
  rsp_err_t (*op_get_by_txid)(struct rsp_eim_store *s, struct rsp_slice txid,
                              struct rsp_eim_operation *op);
  rsp_err_t (*op_list)(struct rsp_eim_store *s, const char *eid, int64_t after_seq, size_t limit,
                       struct rsp_eim_op_list *out);
  /* RSP_EIM_EV_CANCEL or RSP_EIM_EV_ABANDON (with an error text) on a queued operation. */
  rsp_err_t (*op_close)(struct rsp_eim_store *s, int64_t id, enum rsp_eim_op_event event,
                        const char *error, int64_t now);
  rsp_err_t (*next_for_delivery)(struct rsp_eim_store *s, const char *eid, int64_t now,
                                 struct rsp_eim_operation *op, size_t *expired);
  rsp_err_t (*mark_sent)(struct rsp_eim_store *s, int64_t id, struct rsp_slice package,
                         int64_t counter, struct rsp_slice txid, int64_t now);
  rsp_err_t (*op_resent)(struct rsp_eim_store *s, int64_t id, int64_t now);
  rsp_err_t (*op_results_checked)(struct rsp_eim_store *s, int64_t id, int64_t sent_count,
                                  int64_t now);
  /* `rolled_back`: the result shows a profile rollback (store.c reads it from r->der), to be
   * kept with the result (rsp_eim_operation.rolled_back, counted by stats). */
  rsp_err_t (*record_result)(struct rsp_eim_store *s, const struct rsp_eim_result *r,
                             bool rolled_back, int64_t now, enum rsp_eim_record *outcome,
                             int64_t *op_id);
  rsp_err_t (*record_notification)(struct rsp_eim_store *s,
                                   const struct rsp_eim_notification_new *n, int64_t now,
                                   enum rsp_eim_record *outcome);
  rsp_err_t (*notification_next)(struct rsp_eim_store *s, struct rsp_eim_notification *out);
  rsp_err_t (*notification_forwarded)(struct rsp_eim_store *s, const char *eid, int64_t seq_number,
                                      int64_t now);
  rsp_err_t (*audit_list)(struct rsp_eim_store *s, const struct rsp_eim_audit_query *q,
                          struct rsp_eim_audit_list *out);
  rsp_err_t (*audit_add)(struct rsp_eim_store *s, const char *eid, int64_t operation_id,
                         const char *event, const char *detail, struct rsp_slice der, int64_t now);
  /* Fills devices, ops and rolled_back (out is zeroed first; store.c adds the sums). */
  rsp_err_t (*stats)(struct rsp_eim_store *s, struct rsp_eim_stats *out);
  /* The members below may be NULL: store.c then uses device_get, device_touch and
   * next_for_delivery for a poll, flush answers RSP_OK (every touch is written at once),
   * set_touch_interval RSP_E_UNSUPPORTED and touches_held 0. */
  /* head: initialised; left with id 0 when next_for_delivery would answer RSP_E_NOT_FOUND. */
  rsp_err_t (*device_poll)(struct rsp_eim_store *s, const char *eid, int64_t now,
                           const uint8_t *rplmn, struct rsp_eim_device *out,
                           struct rsp_eim_operation *head);
  /* Writes the polls held in memory; only those that waited for the interval if due_only. */
  rsp_err_t (*flush)(struct rsp_eim_store *s, bool due_only);
  rsp_err_t (*set_touch_interval)(struct rsp_eim_store *s, unsigned ms);
  size_t (*touches_held)(struct rsp_eim_store *s);
};

/* A backend's handle starts with this (its first member), so the public functions find the
 * table; nothing else about a handle is public. */
struct rsp_eim_store {
  const struct rsp_eim_store_ops *ops;
};

/* ---- opening --------------------------------------------------------------------------------- */

/* Opens (creating it if needed) the SQLite store at `path` and applies the missing schema
 * migrations, each in one transaction. A file written by a newer release is refused with
 * RSP_E_UNSUPPORTED (logged with both versions); an unreadable file is RSP_E_IO. ":memory:"
 * gives a private in-memory store (the fake for tests of the layers above). */
rsp_err_t rsp_eim_store_sqlite_open(const char *path, struct rsp_eim_store **out);
/* The schema version this release writes. */
int rsp_eim_store_sqlite_schema_version(void);
/* Opens the PostgreSQL store named by a libpq connection string (a "postgresql://" URI or
 * "host=... dbname=..."), creating its tables and applying the missing migrations (each in one
 * transaction, nodes starting together take turns). The same semantics as the SQLite store,
 * for several rsp-eim processes on several machines sharing one database (docs/adr/0010): one
 * connection per handle, each state change a transaction that locks the device's row first.
 * RSP_E_IO when the server cannot be reached (logged without the password), RSP_E_UNSUPPORTED
 * for a schema newer than this release's or a build without libpq (RSP_HAVE_LIBPQ). */
rsp_err_t rsp_eim_store_pg_open(const char *conninfo, struct rsp_eim_store **out);
/* The schema version of the PostgreSQL backend (its own numbering); 0 without libpq. */
int rsp_eim_store_pg_schema_version(void);
/* Whether a --state value names a PostgreSQL database: "postgresql://...", "postgres://..." or
 * "pg:" followed by a libpq connection string. */
bool rsp_eim_store_is_pg(const char *state);
/* Opens the store a --state value names: PostgreSQL (rsp_eim_store_is_pg; the "pg:" prefix is
 * dropped) or else the SQLite file at that path. */
rsp_err_t rsp_eim_store_open(const char *state, struct rsp_eim_store **out);
/* The --state value as logs may show it: a SQLite path as it is, a PostgreSQL connection string
 * as postgresql://user@host:port/dbname, never with its password. */
void rsp_eim_store_describe(const char *state, char *out, size_t out_size);
/* Writes the polls the handle holds (rsp_eim_store_flush; a failure is logged), then closes it.
 * NULL-safe. */
void rsp_eim_store_close(struct rsp_eim_store *s);
/* How long this handle keeps a poll's last_seen and rPLMN in memory before writing them (default
 * RSP_EIM_TOUCH_INTERVAL_MS; 0: every touch is its own transaction, written before the call
 * returns). Takes effect at the next touch. */
rsp_err_t rsp_eim_store_set_touch_interval(struct rsp_eim_store *s, unsigned ms);
/* Writes the polls this handle holds in memory now, in transactions of at most
 * RSP_EIM_TOUCH_BATCH_MAX devices (nothing to write: no transaction). On failure what was not
 * written stays held, to be written by the next attempt. */
rsp_err_t rsp_eim_store_flush(struct rsp_eim_store *s);
/* The same for the held polls that waited for the interval or longer (batch after batch, while
 * the oldest left is due): what an owner calls on a timer for a handle that may sit idle
 * (rsp-eim: every tenth of the interval). */
rsp_err_t rsp_eim_store_flush_due(struct rsp_eim_store *s);
/* How many devices' polls the handle holds, not written yet (0: everything it recorded is
 * committed). */
size_t rsp_eim_store_touches_held(struct rsp_eim_store *s);

/* ---- devices --------------------------------------------------------------------------------- */

/* RSP_E_EXISTS when the EID is registered already. */
rsp_err_t rsp_eim_store_device_register(struct rsp_eim_store *s, const struct rsp_eim_device_new *d,
                                        int64_t now);
/* `out` must be initialised (rsp_eim_device_init); RSP_E_NOT_FOUND for an unknown EID. */
rsp_err_t rsp_eim_store_device_get(struct rsp_eim_store *s, const char *eid,
                                   struct rsp_eim_device *out);
/* Devices in EID order after `after_eid` (NULL or "": from the start), at most out_size
 * (1..RSP_EIM_PAGE_MAX); the next page starts after the last EID returned. */
rsp_err_t rsp_eim_store_device_list(struct rsp_eim_store *s, const char *after_eid,
                                    struct rsp_eim_device_summary *out, size_t out_size,
                                    size_t *out_len);
/* Stores what an IpaEuiccData carried (absent fields keep their value); audited. */
rsp_err_t rsp_eim_store_device_update_euicc_data(struct rsp_eim_store *s, const char *eid,
                                                 const struct rsp_eim_euicc_data *d, int64_t now);
/* A poll: last_seen = now, and the rPLMN when given (3 bytes, NULL: keep). Not audited, and not
 * written at once: the handle keeps the latest poll of each device in memory and writes them in
 * batches once they waited for the touch interval (or with a state change it commits meanwhile,
 * with rsp_eim_store_flush, at close). last_seen never moves backwards (several handles or
 * processes may write polls of one device), and an rPLMN counts only from the most recent poll.
 * This handle's own reads (device_get, device_list, device_poll) show the polls it holds; other
 * handles see them once written. RSP_E_NOT_FOUND for an unknown EID. */
rsp_err_t rsp_eim_store_device_touch(struct rsp_eim_store *s, const char *eid, int64_t now,
                                     const uint8_t *rplmn);
/* A GetEimPackage poll in one call: the device (`out` as rsp_eim_store_device_get fills it,
 * with this poll's last_seen and rPLMN) and its deliverable queue head (`head`, initialised: what
 * rsp_eim_store_next_for_delivery answers, or id 0 where that answers RSP_E_NOT_FOUND), read in
 * one statement, so one snapshot and no write lock; the poll is recorded as
 * rsp_eim_store_device_touch records it. Only an expired head takes the write lock (to mark the
 * expiries, as next_for_delivery does). RSP_E_NOT_FOUND for an unknown EID (nothing recorded). */
rsp_err_t rsp_eim_store_device_poll(struct rsp_eim_store *s, const char *eid, int64_t now,
                                    const uint8_t *rplmn, struct rsp_eim_device *out,
                                    struct rsp_eim_operation *head);
/* Replaces the device's profile list (a listProfileInfo result, or the view after a result or a
 * download changed it); the enabled one becomes enabled_iccid. At most one profile may be
 * enabled. */
rsp_err_t rsp_eim_store_profiles_set(struct rsp_eim_store *s, const char *eid,
                                     const struct rsp_eim_profile *v, size_t n, int64_t now);
rsp_err_t rsp_eim_store_profiles_list(struct rsp_eim_store *s, const char *eid,
                                      struct rsp_eim_profile *out, size_t out_size,
                                      size_t *out_len);

/* ---- the queue ------------------------------------------------------------------------------- */

/* Appends an operation to the device's queue; *id is its id. RSP_E_NOT_FOUND for an unknown EID. */
rsp_err_t rsp_eim_store_op_enqueue(struct rsp_eim_store *s, const struct rsp_eim_op_new *req,
                                   int64_t now, int64_t *id);
/* `op` must be initialised; it is freed and refilled. RSP_E_NOT_FOUND when there is none. */
rsp_err_t rsp_eim_store_op_get(struct rsp_eim_store *s, int64_t id, struct rsp_eim_operation *op);
rsp_err_t rsp_eim_store_op_get_by_txid(struct rsp_eim_store *s, struct rsp_slice txid,
                                       struct rsp_eim_operation *op);
/* The device's operations in queue order after `after_seq` (0: from the first), at most `limit`
 * (1..RSP_EIM_PAGE_MAX). `out` is filled (free it with rsp_eim_op_list_free). */
rsp_err_t rsp_eim_store_op_list(struct rsp_eim_store *s, const char *eid, int64_t after_seq,
                                size_t limit, struct rsp_eim_op_list *out);
/* Cancels a queued operation (RSP_E_STATE once it was sent: the card may execute it). */
rsp_err_t rsp_eim_store_op_cancel(struct rsp_eim_store *s, int64_t id, int64_t now);
/* Fails a queued operation whose package cannot be built (so it does not block the queue). */
rsp_err_t rsp_eim_store_op_fail(struct rsp_eim_store *s, int64_t id, const char *error,
                                int64_t now);

/* The device's queue head if it is deliverable at `now`. First, queued operations whose
 * expires_at has passed are marked expired (audited; *expired counts them, may be NULL). Then the
 * lowest-seq operation that is queued or sent is the head: a sent one comes back (redelivery, see
 * rsp_eim_store_delivery_decision); a queued one only once not_before has passed, and it holds
 * back everything behind it. RSP_E_NOT_FOUND when nothing is deliverable (the expiries are
 * committed all the same) or the EID is unknown (check with device_get when it matters). */
rsp_err_t rsp_eim_store_next_for_delivery(struct rsp_eim_store *s, const char *eid, int64_t now,
                                          struct rsp_eim_operation *op, size_t *expired);
/* One transaction: checks that operation `id` is queued, due, unexpired and its device's queue
 * head; for the signed kinds (psmo, eco) that `counter` is the device's next_counter, which
 * becomes counter + 1; stores `package` (checked: one DER element of the kind's tag whose EID,
 * eimId, counterValue and eimTransactionId are those given) and `txid` (required for the unsigned
 * kinds, which take RSP_EIM_NO_COUNTER); marks the operation sent. Only after this returns RSP_OK
 * may the package leave. RSP_E_STATE when any check on the stored state fails (another handler
 * was faster: read the head again and re-sign), RSP_E_EXISTS when the txid is in use. */
rsp_err_t rsp_eim_store_assign_counter_and_mark_sent(struct rsp_eim_store *s, int64_t id,
                                                     struct rsp_slice package, int64_t counter,
                                                     struct rsp_slice txid, int64_t now);
/* The stored package was handed out once more (sent_count + 1). For the signed kinds only after
 * the card's pending results were checked since the last send (RSP_E_STATE otherwise). */
rsp_err_t rsp_eim_store_op_resent(struct rsp_eim_store *s, int64_t id, int64_t now);
/* The card's pending results were read after send number `sent_count` (op->sent_count) and this
 * operation's result was not among them. RSP_E_STATE if it is no longer sent or was re-sent. */
rsp_err_t rsp_eim_store_op_results_checked(struct rsp_eim_store *s, int64_t id, int64_t sent_count,
                                           int64_t now);
/* Records a result, idempotently: NEW (the operation is now done or failed), DUPLICATE (it
 * already has this result: same seqNumber or same bytes; nothing changes), UNKNOWN (no
 * operation matches) or CONFLICT (it has another result); the last two are kept in the audit
 * trail only. A NEW EuiccPackageResult (BF51) that carries rollbackResult ok marks its
 * operation rolled back, in the same transaction: the store reads it from the result's own
 * bytes, so the marker never depends on the caller. Acknowledge (EimAcknowledgements) only after
 * this returned RSP_OK. `op_id` may be NULL; it is 0 for UNKNOWN. */
rsp_err_t rsp_eim_store_record_result(struct rsp_eim_store *s, const struct rsp_eim_result *r,
                                      int64_t now, enum rsp_eim_record *outcome, int64_t *op_id);

/* ---- notifications --------------------------------------------------------------------------- */

/* Idempotent on (eid, seq_number): NEW or DUPLICATE (the first copy is kept). RSP_E_NOT_FOUND for
 * an unknown EID. */
rsp_err_t rsp_eim_store_record_notification(struct rsp_eim_store *s,
                                            const struct rsp_eim_notification_new *n, int64_t now,
                                            enum rsp_eim_record *outcome);
/* The oldest notification with a forward address not forwarded yet; RSP_E_NOT_FOUND when none.
 * `out` must be initialised. */
rsp_err_t rsp_eim_store_notification_next(struct rsp_eim_store *s,
                                          struct rsp_eim_notification *out);
rsp_err_t rsp_eim_store_notification_forwarded(struct rsp_eim_store *s, const char *eid,
                                               int64_t seq_number, int64_t now);

/* ---- counts ---------------------------------------------------------------------------------- */

/* Devices, operations by kind and state, and operations whose result shows a rollback, counted
 * by the backend with aggregate queries on indexed columns (SQLite: one statement over a
 * covering index on (state, kind) and a partial index on the rolled-back ones, so the counts
 * are one consistent snapshot and stay fast at a million operations). Not audited.
 * RSP_E_UNSUPPORTED for a backend without it. */
rsp_err_t rsp_eim_store_stats(struct rsp_eim_store *s, struct rsp_eim_stats *out);

/* ---- audit ----------------------------------------------------------------------------------- */

/* Entries in id order (the trail is append-only: the SQLite file refuses UPDATE and DELETE). */
rsp_err_t rsp_eim_store_audit_list(struct rsp_eim_store *s, const struct rsp_eim_audit_query *q,
                                   struct rsp_eim_audit_list *out);
/* Appends one entry of an event the store does not write itself (the ESipa service's
 * "bad_signature", "result_unverified", "state_change", "euicc_data_refused" ...): `eid` and
 * `operation_id` may be NULL / 0, `event` is 1..RSP_EIM_EVENT_MAX bytes of [a-z0-9_], `detail`
 * a JSON object as text (NULL: {}), `der` the bytes concerned (p NULL: none, else one DER
 * element within RSP_EIM_RESULT_MAX). */
rsp_err_t rsp_eim_store_audit_add(struct rsp_eim_store *s, const char *eid, int64_t operation_id,
                                  const char *event, const char *detail, struct rsp_slice der,
                                  int64_t now);

#endif
