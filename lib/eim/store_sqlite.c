/* The eIM store on SQLite (include/rsp/eim/store.h): one file, WAL, synchronous=FULL (a counter
 * handed out must survive a power cut, not only a crash), foreign keys on, a busy timeout, and a
 * versioned schema.
 *
 * Schema (version 2; docs/eim.md "Store" has the same with the reasons):
 *   schema_version (version)                        migrations applied so far
 *   devices (eid PK 32 digits, eim_id, association_token, next_counter, euicc_cert, eum_cert,
 *            euicc_info2, initial_config, created, last_seen, rplmn, enabled_iccid)
 *   profiles (eid -> devices, iccid, state, name, class, updated; PK (eid, iccid))
 *   operations (id PK, eid -> devices, seq (UNIQUE per eid: the queue order), kind, spec JSON,
 *            state, not_before, expires_at, created, counter (UNIQUE per eid), eim_transaction_id
 *            (UNIQUE), package (the exact bytes handed out), sent_count, last_sent,
 *            checked_count, result, result_seq, result_summary JSON, done_at, error,
 *            rolled_back (version 2: the result shows a profile rollback))
 *   notifications (eid -> devices, seq_number, kind, iccid, der, received, forwarded_at,
 *            forward_address; PK (eid, seq_number): a notification is stored once)
 *   audit (id PK, time, eid, operation_id, event, detail JSON, der): append-only, enforced by
 *            triggers that abort any UPDATE or DELETE.
 * CHECK constraints restate the state machine's invariants (a queued operation has no package, a
 * sent one has a package and no result, only signed kinds carry a counter ...), so even a bug in
 * this file cannot store an impossible row.
 *
 * Migrations: migrations[i] brings the schema from version i to i + 1 and is applied in its own
 * transaction together with the version bump; never edit one that was released, append a new one.
 * A file whose version is above the count is refused (RSP_E_UNSUPPORTED).
 *
 * Every state change runs between BEGIN IMMEDIATE and COMMIT (or ROLLBACK on any failure): the
 * write lock is taken first, so reads inside see the latest state and no other writer can slip
 * between the read and the write (that is what makes the counter allocation and the idempotent
 * result recording race-free across threads and processes). Statements are prepared once per
 * handle and reset after every use, so no read snapshot stays open between calls. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "store_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- schema ---------------------------------------------------------------------------------- */

static const char *const migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE devices ("
    " eid TEXT PRIMARY KEY CHECK (length(eid) = 32 AND eid NOT GLOB '*[^0-9]*'),"
    " eim_id TEXT NOT NULL, association_token INTEGER,"
    " next_counter INTEGER NOT NULL CHECK (next_counter >= 0),"
    " euicc_cert BLOB, eum_cert BLOB, euicc_info2 BLOB, initial_config BLOB,"
    " created INTEGER NOT NULL, last_seen INTEGER,"
    " rplmn BLOB CHECK (rplmn IS NULL OR length(rplmn) = 3), enabled_iccid TEXT);"
    "CREATE TABLE profiles ("
    " eid TEXT NOT NULL REFERENCES devices (eid), iccid TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')), name TEXT, class TEXT,"
    " updated INTEGER NOT NULL, PRIMARY KEY (eid, iccid)) WITHOUT ROWID;"
    "CREATE TABLE operations ("
    " id INTEGER PRIMARY KEY, eid TEXT NOT NULL REFERENCES devices (eid), seq INTEGER NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('psmo', 'eco', 'euicc_data', 'download')),"
    " spec TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'done', 'failed', 'expired',"
    "  'cancelled')),"
    " not_before INTEGER NOT NULL, expires_at INTEGER, created INTEGER NOT NULL,"
    " counter INTEGER, eim_transaction_id BLOB, package BLOB,"
    " sent_count INTEGER NOT NULL DEFAULT 0, last_sent INTEGER,"
    " checked_count INTEGER NOT NULL DEFAULT 0,"
    " result BLOB, result_seq INTEGER, result_summary TEXT, done_at INTEGER, error TEXT,"
    " UNIQUE (eid, seq)," RSP__EIM_OP_CHECKS ");"
    "CREATE UNIQUE INDEX operations_counter ON operations (eid, counter)"
    " WHERE counter IS NOT NULL;"
    "CREATE UNIQUE INDEX operations_txid ON operations (eim_transaction_id)"
    " WHERE eim_transaction_id IS NOT NULL;"
    "CREATE INDEX operations_open ON operations (eid, seq) WHERE state IN ('queued', 'sent');"
    "CREATE TABLE notifications ("
    " eid TEXT NOT NULL REFERENCES devices (eid), seq_number INTEGER NOT NULL,"
    " kind TEXT NOT NULL, iccid TEXT, der BLOB NOT NULL, received INTEGER NOT NULL,"
    " forwarded_at INTEGER, forward_address TEXT, PRIMARY KEY (eid, seq_number));"
    "CREATE INDEX notifications_pending ON notifications (received)"
    " WHERE forwarded_at IS NULL AND forward_address IS NOT NULL;"
    "CREATE TABLE audit (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, eid TEXT,"
    " operation_id INTEGER, event TEXT NOT NULL, detail TEXT NOT NULL, der BLOB);"
    "CREATE INDEX audit_eid ON audit (eid, id) WHERE eid IS NOT NULL;"
    "CREATE INDEX audit_operation ON audit (operation_id, id) WHERE operation_id IS NOT NULL;"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;",
    /* 2: the rollback marker of a result (set when the result is recorded, from the parsed
     * EuiccPackageResult), and the indexes the counts of rsp_eim_store_stats read: (state,
     * kind) covers the GROUP BY, the partial index holds only the rolled-back operations. */
    "ALTER TABLE operations ADD COLUMN rolled_back INTEGER NOT NULL DEFAULT 0"
    " CHECK (rolled_back IN (0, 1) AND (rolled_back = 0 OR result IS NOT NULL));"
    "CREATE INDEX operations_state_kind ON operations (state, kind);"
    "CREATE INDEX operations_rolled_back ON operations (id) WHERE rolled_back = 1;",
};

int rsp_eim_store_sqlite_schema_version(void) { return (int)COUNT(migrations); }

/* ---- statements ------------------------------------------------------------------------------ */

/* The column lists of store_internal.h, read by op_read and device_read in their order. */
#define OP_COLS_OF RSP__EIM_OP_COLS_OF
#define OP_COLS OP_COLS_OF("")
#define DEVICE_COLS_OF RSP__EIM_DEVICE_COLS_OF
#define DEVICE_COLS DEVICE_COLS_OF("")
#define DEVICE_NCOLS 12 /* the first column of the head in Q_DEVICE_POLL */
#define POLL_COLS DEVICE_COLS_OF("d.") ", " OP_COLS_OF("h.")
#define NOTIF_COLS RSP__EIM_NOTIF_COLS
#define AUDIT_COLS RSP__EIM_AUDIT_COLS

enum query {
  Q_BEGIN,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_AUDIT,
  Q_DEVICE_INSERT,
  Q_DEVICE_GET,
  Q_DEVICE_POLL,
  Q_DEVICE_EXISTS,
  Q_DEVICE_COUNTER,
  Q_DEVICE_SET_COUNTER,
  Q_DEVICE_LIST,
  Q_DEVICE_DATA,
  Q_DEVICE_TOUCH,
  Q_DEVICE_ENABLED,
  Q_PROFILES_DELETE,
  Q_PROFILE_INSERT,
  Q_PROFILES_LIST,
  Q_OP_NEXT_SEQ,
  Q_OP_INSERT,
  Q_OP_GET,
  Q_OP_BY_TXID,
  Q_OP_BY_COUNTER,
  Q_OP_LIST,
  Q_OP_HEAD,
  Q_OP_EARLIER_OPEN,
  Q_OP_CLOSE,
  Q_OP_SENT,
  Q_OP_RESENT,
  Q_OP_CHECKED,
  Q_OP_RESULT,
  Q_NOTIF_INSERT,
  Q_NOTIF_NEXT,
  Q_NOTIF_FORWARDED,
  Q_NOTIF_EXISTS,
  Q_AUDIT_ALL,
  Q_AUDIT_EID,
  Q_AUDIT_OP,
  Q_AUDIT_BOTH,
  Q_STATS,
  Q__COUNT
};

static const char *const sql[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_AUDIT] = "INSERT INTO audit (time, eid, operation_id, event, detail, der)"
                " VALUES (?, ?, ?, ?, ?, ?)",
    [Q_DEVICE_INSERT] = "INSERT INTO devices (eid, eim_id, association_token, next_counter,"
                        " initial_config, euicc_cert, eum_cert, created)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [Q_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM devices WHERE eid = ?",
    /* A poll: the device and its queue head (as Q_OP_HEAD, a correlated subquery over the
     * partial index operations_open, then the head's row by id) in one statement, so one
     * snapshot; no head: NULL columns. */
    [Q_DEVICE_POLL] = "SELECT " POLL_COLS " FROM devices d LEFT JOIN operations h"
                      " ON h.id = (SELECT id FROM operations WHERE eid = d.eid"
                      " AND state IN ('queued', 'sent') ORDER BY seq LIMIT 1)"
                      " WHERE d.eid = ?1",
    [Q_DEVICE_EXISTS] = "SELECT 1 FROM devices WHERE eid = ?",
    [Q_DEVICE_COUNTER] = "SELECT eim_id, next_counter FROM devices WHERE eid = ?",
    [Q_DEVICE_SET_COUNTER] = "UPDATE devices SET next_counter = ?3 WHERE eid = ?1"
                             " AND next_counter = ?2",
    [Q_DEVICE_LIST] = "SELECT eid, eim_id, next_counter, created, last_seen, enabled_iccid,"
                      " (SELECT count(*) FROM operations o WHERE o.eid = d.eid"
                      "  AND o.state IN ('queued', 'sent'))"
                      " FROM devices d WHERE eid > ? ORDER BY eid LIMIT ?",
    [Q_DEVICE_DATA] = "UPDATE devices SET euicc_cert = coalesce(?2, euicc_cert),"
                      " eum_cert = coalesce(?3, eum_cert), euicc_info2 = coalesce(?4, euicc_info2),"
                      " association_token = CASE WHEN ?5 THEN ?6 ELSE association_token END,"
                      " last_seen = max(coalesce(last_seen, ?7), ?7) WHERE eid = ?1",
    /* One held poll (rsp__eim_touch_merge's rule): last_seen never moves backwards, whichever
     * handle or process writes last; the rPLMN only from a poll at least as recent. The
     * right-hand sides all see the row as it was. */
    [Q_DEVICE_TOUCH] = "UPDATE devices SET"
                       " rplmn = CASE WHEN ?3 IS NOT NULL AND ?2 >= coalesce(last_seen, ?2)"
                       " THEN ?3 ELSE rplmn END,"
                       " last_seen = max(coalesce(last_seen, ?2), ?2) WHERE eid = ?1",
    [Q_DEVICE_ENABLED] = "UPDATE devices SET enabled_iccid = ?2 WHERE eid = ?1",
    [Q_PROFILES_DELETE] = "DELETE FROM profiles WHERE eid = ?",
    [Q_PROFILE_INSERT] = "INSERT INTO profiles (eid, iccid, state, name, class, updated)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
    [Q_PROFILES_LIST] = "SELECT iccid, state, name, class, updated FROM profiles WHERE eid = ?"
                        " ORDER BY iccid LIMIT ?",
    [Q_OP_NEXT_SEQ] = "SELECT coalesce(max(seq), 0) + 1 FROM operations WHERE eid = ?",
    [Q_OP_INSERT] = "INSERT INTO operations (eid, seq, kind, spec, state, not_before, expires_at,"
                    " created) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
    [Q_OP_GET] = "SELECT " OP_COLS " FROM operations WHERE id = ?",
    [Q_OP_BY_TXID] = "SELECT " OP_COLS " FROM operations WHERE eim_transaction_id = ?",
    [Q_OP_BY_COUNTER] = "SELECT " OP_COLS " FROM operations WHERE eid = ? AND counter = ?",
    [Q_OP_LIST] = "SELECT " OP_COLS " FROM operations WHERE eid = ? AND seq > ? ORDER BY seq"
                  " LIMIT ?",
    [Q_OP_HEAD] = "SELECT " OP_COLS " FROM operations WHERE eid = ?"
                  " AND state IN ('queued', 'sent') ORDER BY seq LIMIT 1",
    [Q_OP_EARLIER_OPEN] = "SELECT 1 FROM operations WHERE eid = ? AND state IN ('queued', 'sent')"
                          " AND seq < ? LIMIT 1",
    [Q_OP_CLOSE] = "UPDATE operations SET state = ?3, done_at = ?4, error = ?5 WHERE id = ?1"
                   " AND state = ?2",
    [Q_OP_SENT] = "UPDATE operations SET state = 'sent', counter = ?2, eim_transaction_id = ?3,"
                  " package = ?4, sent_count = 1, last_sent = ?5, checked_count = 0"
                  " WHERE id = ?1 AND state = 'queued'",
    [Q_OP_RESENT] = "UPDATE operations SET sent_count = sent_count + 1, last_sent = ?2"
                    " WHERE id = ?1 AND state = 'sent' AND sent_count = ?3",
    [Q_OP_CHECKED] = "UPDATE operations SET checked_count = ?2 WHERE id = ?1 AND state = 'sent'"
                     " AND sent_count = ?2",
    [Q_OP_RESULT] = "UPDATE operations SET state = ?2, result = ?3, result_seq = ?4,"
                    " result_summary = ?5, done_at = ?6, error = ?7, rolled_back = ?8"
                    " WHERE id = ?1 AND state = 'sent'",
    [Q_NOTIF_INSERT] = "INSERT OR IGNORE INTO notifications (eid, seq_number, kind, iccid, der,"
                       " received, forward_address) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [Q_NOTIF_NEXT] = "SELECT " NOTIF_COLS " FROM notifications WHERE forwarded_at IS NULL"
                     " AND forward_address IS NOT NULL ORDER BY received, eid, seq_number"
                     " LIMIT 1",
    [Q_NOTIF_FORWARDED] = "UPDATE notifications SET forwarded_at = ?3 WHERE eid = ?1"
                          " AND seq_number = ?2 AND forwarded_at IS NULL",
    [Q_NOTIF_EXISTS] = "SELECT 1 FROM notifications WHERE eid = ? AND seq_number = ?",
    [Q_AUDIT_ALL] = "SELECT " AUDIT_COLS " FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2",
    [Q_AUDIT_EID] = "SELECT " AUDIT_COLS " FROM audit WHERE eid = ?3 AND id > ?1 ORDER BY id"
                    " LIMIT ?2",
    [Q_AUDIT_OP] = "SELECT " AUDIT_COLS " FROM audit WHERE operation_id = ?3 AND id > ?1"
                   " ORDER BY id LIMIT ?2",
    [Q_AUDIT_BOTH] = "SELECT " AUDIT_COLS " FROM audit WHERE operation_id = ?4 AND eid = ?3"
                     " AND id > ?1 ORDER BY id LIMIT ?2",
    /* One statement, so one snapshot: 0 the devices, 1 (kind, state) groups over the covering
     * index operations_state_kind, 2 the rolled-back operations over their partial index. */
    [Q_STATS] = "SELECT 0, NULL, NULL, count(*) FROM devices"
                " UNION ALL SELECT 1, kind, state, count(*) FROM operations GROUP BY state, kind"
                " UNION ALL SELECT 2, NULL, NULL, count(*) FROM operations WHERE rolled_back = 1",
};

struct sq_store {
  struct rsp_eim_store base; /* first: the public functions see only this */
  sqlite3 *db;
  sqlite3_stmt *st[Q__COUNT];
  /* Polls recorded and not written yet (docs/eim.md "Polls: last_seen and rPLMN"), written
   * oldest first in batches of RSP_EIM_TOUCH_BATCH_MAX: when the oldest is touch_ms old, with any
   * transaction begin() opens, and at close. */
  struct rsp__eim_touches touches;
  unsigned touch_ms;      /* 0: every touch written at once */
  size_t touches_carried; /* how many the open transaction wrote: dropped once it commits */
};

static struct sq_store *SQ(struct rsp_eim_store *s) { return (struct sq_store *)s; }

static rsp_err_t db_error(sqlite3 *db, const char *what) {
  int code = sqlite3_extended_errcode(db);
  rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: %s: %s", what, sqlite3_errmsg(db));
  return (code & 0xFF) == SQLITE_NOMEM ? RSP_E_NOMEM : RSP_E_IO;
}

/* The prepared statement `id`, reset and with its bindings cleared; NULL (logged) on failure. */
static sqlite3_stmt *stmt(struct sq_store *s, enum query id) {
  if (!s->st[id] && sqlite3_prepare_v3(s->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id],
                                       NULL) != SQLITE_OK) {
    db_error(s->db, "prepare");
    s->st[id] = NULL;
    return NULL;
  }
  sqlite3_reset(s->st[id]);
  sqlite3_clear_bindings(s->st[id]);
  return s->st[id];
}

/* Runs a statement that returns no row, then resets it. A UNIQUE or PRIMARY KEY violation is
 * RSP_E_EXISTS; any other constraint (a CHECK restating an invariant) is a bug: RSP_E_INTERNAL. */
static rsp_err_t step_done(struct sq_store *s, sqlite3_stmt *st) {
  int r = sqlite3_step(st);
  rsp_err_t rc = RSP_OK;
  if (r != SQLITE_DONE) {
    int ext = sqlite3_extended_errcode(s->db);
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
      rc = RSP_E_EXISTS;
    } else if ((ext & 0xFF) == SQLITE_CONSTRAINT) {
      rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: invariant violated: %s", sqlite3_errmsg(s->db));
      rc = RSP_E_INTERNAL;
    } else {
      rc = db_error(s->db, "step");
    }
  }
  sqlite3_reset(st);
  return rc;
}

/* Steps to one row: RSP_OK (the caller reads, then resets), RSP_E_NOT_FOUND, RSP_E_IO. */
static rsp_err_t step_row(struct sq_store *s, sqlite3_stmt *st) {
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) return RSP_OK;
  sqlite3_reset(st);
  return r == SQLITE_DONE ? RSP_E_NOT_FOUND : db_error(s->db, "step");
}

static rsp_err_t run(struct sq_store *s, enum query id) {
  sqlite3_stmt *st = stmt(s, id);
  return st ? step_done(s, st) : RSP_E_IO;
}

static rsp_err_t touches_write(struct sq_store *s, size_t k);

/* Opens a write transaction (the write lock taken first). The oldest polls the handle holds (a
 * batch of at most RSP_EIM_TOUCH_BATCH_MAX) ride along: written now, under the lock this
 * transaction takes anyway, and committed with it (or kept for later if it rolls back), so a
 * state change costs no extra commit for them. */
static rsp_err_t begin(struct sq_store *s) {
  size_t k = s->touches.n < RSP_EIM_TOUCH_BATCH_MAX ? s->touches.n : RSP_EIM_TOUCH_BATCH_MAX;
  rsp_err_t rc = run(s, Q_BEGIN);
  if (rc != RSP_OK || k == 0) return rc;
  if ((rc = touches_write(s, k)) == RSP_OK) {
    s->touches_carried = k;
    return RSP_OK;
  }
  run(s, Q_ROLLBACK);
  return rc;
}

/* Commits when rc is RSP_OK, else rolls back; returns rc or the commit's failure. */
static rsp_err_t end(struct sq_store *s, rsp_err_t rc) {
  size_t carried = s->touches_carried;
  s->touches_carried = 0;
  if (rc == RSP_OK && (rc = run(s, Q_COMMIT)) == RSP_OK) {
    if (carried) rsp__eim_touches_drop(&s->touches, carried);
    return RSP_OK;
  }
  if (!sqlite3_get_autocommit(s->db)) run(s, Q_ROLLBACK);
  return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *t) {
  if (t && t[0])
    sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static void bind_blob(sqlite3_stmt *st, int i, struct rsp_slice b) {
  if (b.p)
    sqlite3_bind_blob(st, i, b.p, (int)b.len, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static void bind_opt_int(sqlite3_stmt *st, int i, bool present, int64_t v) {
  if (present)
    sqlite3_bind_int64(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t size) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(out, size, "%s", t ? (const char *)t : "");
}

/* A copy of a TEXT column, NULL for SQL NULL. */
static rsp_err_t col_strdup(sqlite3_stmt *st, int i, char **out) {
  const unsigned char *t = sqlite3_column_text(st, i);
  *out = NULL;
  if (!t) return sqlite3_column_type(st, i) == SQLITE_NULL ? RSP_OK : RSP_E_NOMEM;
  return (*out = rsp_strdup((const char *)t)) ? RSP_OK : RSP_E_NOMEM;
}

/* A BLOB column into a buffer (emptied first; NULL leaves it empty). */
static rsp_err_t col_buf(sqlite3_stmt *st, int i, struct rsp_buf *b) {
  const void *p = sqlite3_column_blob(st, i);
  int n = sqlite3_column_bytes(st, i);
  rsp_buf_reset(b);
  if (!p || n <= 0) return RSP_OK;
  return rsp_buf_append(b, p, (size_t)n);
}

static int64_t col_int_or(sqlite3_stmt *st, int i, int64_t def) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? def : sqlite3_column_int64(st, i);
}

/* ---- audit ----------------------------------------------------------------------------------- */

/* Appends one audit row; `detail` (a JSON object, consumed) must not be NULL on success paths. */
static rsp_err_t audit(struct sq_store *s, int64_t now, const char *eid, int64_t op_id,
                       const char *event, json_t *detail, struct rsp_slice der) {
  char *text = rsp__eim_json_text(detail);
  sqlite3_stmt *st = text ? stmt(s, Q_AUDIT) : NULL;
  rsp_err_t rc = text ? RSP_E_IO : RSP_E_NOMEM;
  if (st) {
    sqlite3_bind_int64(st, 1, now);
    bind_text(st, 2, eid);
    bind_opt_int(st, 3, op_id > 0, op_id);
    sqlite3_bind_text(st, 4, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, text, -1, SQLITE_TRANSIENT);
    bind_blob(st, 6, der);
    rc = step_done(s, st);
  }
  rsp_free(text);
  return rc;
}

static const struct rsp_slice NO_DER = {NULL, 0};

/* ---- opening and migrations ------------------------------------------------------------------ */

static rsp_err_t exec(sqlite3 *db, const char *text) {
  char *err = NULL;
  if (sqlite3_exec(db, text, NULL, NULL, &err) == SQLITE_OK) return RSP_OK;
  rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: %s", err ? err : sqlite3_errmsg(db));
  sqlite3_free(err);
  return RSP_E_IO;
}

static rsp_err_t read_version(sqlite3 *db, int64_t *v) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = RSP_E_IO;
  *v = 0;
  if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL) != SQLITE_OK)
    return db_error(db, "schema_version");
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    *v = sqlite3_column_int64(st, 0);
    rc = RSP_OK;
  } else if (r == SQLITE_DONE) {
    rc = exec(db, "INSERT INTO schema_version (version) VALUES (0)");
  } else {
    rc = db_error(db, "schema_version");
  }
  sqlite3_finalize(st);
  return rc;
}

/* Applies one missing migration in its own transaction; *done when none is missing. */
static rsp_err_t migrate_one(sqlite3 *db, bool *done) {
  int64_t v = 0;
  char bump[64];
  rsp_err_t rc = exec(db, "BEGIN IMMEDIATE");
  if (rc != RSP_OK) return rc;
  rc = exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  if (rc == RSP_OK) rc = read_version(db, &v);
  if (rc == RSP_OK && (v < 0 || (uint64_t)v > COUNT(migrations))) {
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP,
            "store: the file has schema version %lld, newer than this release's %zu: refused",
            (long long)v, COUNT(migrations));
    rc = RSP_E_UNSUPPORTED;
  }
  *done = rc == RSP_OK && (uint64_t)v == COUNT(migrations);
  if (rc == RSP_OK && !*done) {
    rsp_log(RSP_LOG_INFO, RSP__EIM_COMP, "store: migrating schema to version %lld",
            (long long)v + 1);
    snprintf(bump, sizeof bump, "UPDATE schema_version SET version = %lld", (long long)v + 1);
    rc = exec(db, migrations[v]);
    if (rc == RSP_OK) rc = exec(db, bump);
  }
  if (rc == RSP_OK) return exec(db, "COMMIT");
  exec(db, "ROLLBACK");
  return rc;
}

static rsp_err_t migrate(sqlite3 *db) {
  bool done = false;
  rsp_err_t rc = RSP_OK;
  while (rc == RSP_OK && !done) rc = migrate_one(db, &done);
  return rc;
}

static rsp_err_t touches_flush(struct sq_store *s, bool due_only);

static void sq_close(struct rsp_eim_store *base) {
  struct sq_store *s = SQ(base);
  if (s->touches.n && touches_flush(s, false) != RSP_OK)
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: the last polls of %zu devices are lost at close",
            s->touches.n);
  for (size_t i = 0; i < Q__COUNT; i++) sqlite3_finalize(s->st[i]);
  sqlite3_close(s->db);
  rsp__eim_touches_free(&s->touches);
  rsp_free(s);
}

static const struct rsp_eim_store_ops sqlite_ops;

rsp_err_t rsp_eim_store_sqlite_open(const char *path, struct rsp_eim_store **out) {
  struct sq_store *s = NULL;
  rsp_err_t rc = RSP_E_IO;
  if (out) *out = NULL;
  if (!path || !path[0] || !out) return RSP_E_INVALID_ARG;
  if (!(s = rsp_calloc(1, sizeof *s))) return RSP_E_NOMEM;
  s->base.ops = &sqlite_ops;
  rsp__eim_touches_init(&s->touches);
  s->touch_ms = RSP_EIM_TOUCH_INTERVAL_MS;
  /* One handle per thread (documented), so SQLite's own per-connection mutex is not needed. */
  if (sqlite3_open_v2(path, &s->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: cannot open %s: %s", path,
            s->db ? sqlite3_errmsg(s->db) : "out of memory");
    goto out;
  }
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, RSP_EIM_STORE_BUSY_MS);
  rc = exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  if (rc == RSP_OK) rc = migrate(s->db);
out:
  if (rc != RSP_OK) {
    sq_close(&s->base);
    return rc;
  }
  *out = &s->base;
  return RSP_OK;
}

/* ---- devices --------------------------------------------------------------------------------- */

static rsp_err_t device_exists(struct sq_store *s, const char *eid) {
  sqlite3_stmt *st = stmt(s, Q_DEVICE_EXISTS);
  rsp_err_t rc;
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  if ((rc = step_row(s, st)) == RSP_OK) sqlite3_reset(st);
  return rc;
}

static rsp_err_t device_insert(struct sq_store *s, const struct rsp_eim_device_new *d,
                               int64_t now) {
  sqlite3_stmt *st = stmt(s, Q_DEVICE_INSERT);
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, d->eid, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, d->eim_id, -1, SQLITE_STATIC);
  bind_opt_int(st, 3, d->has_association_token, d->association_token);
  sqlite3_bind_int64(st, 4, d->next_counter);
  bind_blob(st, 5, d->initial_config);
  bind_blob(st, 6, d->euicc_cert);
  bind_blob(st, 7, d->eum_cert);
  sqlite3_bind_int64(st, 8, now);
  return step_done(s, st);
}

static rsp_err_t sq_device_register(struct rsp_eim_store *base, const struct rsp_eim_device_new *d,
                                    int64_t now) {
  struct sq_store *s = SQ(base);
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  rc = device_insert(s, d, now);
  if (rc == RSP_OK)
    rc = audit(s, now, d->eid, 0, "registered", rsp__eim_detail_registered(d), NO_DER);
  return end(s, rc);
}

/* Fills `d` from the DEVICE_COLS of a row, starting at column `b`. */
static rsp_err_t device_read(const struct sq_store *s, sqlite3_stmt *st, int b,
                             struct rsp_eim_device *d) {
  rsp_err_t rc;
  col_text(st, b + 0, d->eid, sizeof d->eid);
  col_text(st, b + 1, d->eim_id, sizeof d->eim_id);
  d->has_association_token = sqlite3_column_type(st, b + 2) != SQLITE_NULL;
  d->association_token = sqlite3_column_int64(st, b + 2);
  d->next_counter = sqlite3_column_int64(st, b + 3);
  rc = col_buf(st, b + 4, &d->euicc_cert);
  if (rc == RSP_OK) rc = col_buf(st, b + 5, &d->eum_cert);
  if (rc == RSP_OK) rc = col_buf(st, b + 6, &d->euicc_info2);
  if (rc == RSP_OK) rc = col_buf(st, b + 7, &d->initial_config);
  d->created = sqlite3_column_int64(st, b + 8);
  d->last_seen = col_int_or(st, b + 9, 0);
  d->has_rplmn = sqlite3_column_bytes(st, b + 10) == RSP_EIM_RPLMN_LEN;
  if (d->has_rplmn) memcpy(d->rplmn, sqlite3_column_blob(st, b + 10), RSP_EIM_RPLMN_LEN);
  col_text(st, b + 11, d->enabled_iccid, sizeof d->enabled_iccid);
  rsp__eim_touches_show(&s->touches, d->eid, &d->last_seen, &d->has_rplmn, d->rplmn);
  return rc;
}

static rsp_err_t sq_device_get(struct rsp_eim_store *base, const char *eid,
                               struct rsp_eim_device *d) {
  struct sq_store *s = SQ(base);
  sqlite3_stmt *st = stmt(s, Q_DEVICE_GET);
  rsp_err_t rc;
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  if ((rc = step_row(s, st)) != RSP_OK) return rc;
  rc = device_read(s, st, 0, d);
  sqlite3_reset(st);
  return rc;
}

static rsp_err_t sq_device_list(struct rsp_eim_store *base, const char *after,
                                struct rsp_eim_device_summary *out, size_t out_size,
                                size_t *out_len) {
  struct sq_store *s = SQ(base);
  sqlite3_stmt *st = stmt(s, Q_DEVICE_LIST);
  rsp_err_t rc = RSP_E_NOT_FOUND;
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, (int64_t)out_size);
  while (*out_len < out_size && (rc = step_row(s, st)) == RSP_OK) {
    struct rsp_eim_device_summary *d = &out[(*out_len)++];
    memset(d, 0, sizeof *d);
    col_text(st, 0, d->eid, sizeof d->eid);
    col_text(st, 1, d->eim_id, sizeof d->eim_id);
    d->next_counter = sqlite3_column_int64(st, 2);
    d->created = sqlite3_column_int64(st, 3);
    d->last_seen = col_int_or(st, 4, 0);
    col_text(st, 5, d->enabled_iccid, sizeof d->enabled_iccid);
    d->pending = sqlite3_column_int64(st, 6);
    if (s->touches.n) {
      bool has_rplmn = false;
      uint8_t rplmn[RSP_EIM_RPLMN_LEN];
      rsp__eim_touches_show(&s->touches, d->eid, &d->last_seen, &has_rplmn, rplmn);
    }
  }
  sqlite3_reset(st);
  return rc == RSP_E_NOT_FOUND || *out_len == out_size ? RSP_OK : rc;
}

static rsp_err_t sq_device_update_euicc_data(struct rsp_eim_store *base, const char *eid,
                                             const struct rsp_eim_euicc_data *d, int64_t now) {
  struct sq_store *s = SQ(base);
  sqlite3_stmt *st;
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  if (!(st = stmt(s, Q_DEVICE_DATA))) return end(s, RSP_E_IO);
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  bind_blob(st, 2, d->euicc_cert);
  bind_blob(st, 3, d->eum_cert);
  bind_blob(st, 4, d->euicc_info2);
  sqlite3_bind_int(st, 5, d->has_association_token);
  sqlite3_bind_int64(st, 6, d->association_token);
  sqlite3_bind_int64(st, 7, now);
  rc = step_done(s, st);
  if (rc == RSP_OK && sqlite3_changes(s->db) != 1) rc = RSP_E_NOT_FOUND;
  if (rc == RSP_OK) rc = audit(s, now, eid, 0, "euicc_data", rsp__eim_detail_euicc_data(d), NO_DER);
  return end(s, rc);
}

/* ---- polls: last_seen and rPLMN, written in batches ------------------------------------------ */

/* Writes the k oldest held polls, inside the transaction begin() opened. Devices are never
 * deleted, so each UPDATE finds its row. */
static rsp_err_t touches_write(struct sq_store *s, size_t k) {
  rsp_err_t rc = RSP_OK;
  for (size_t i = 0; rc == RSP_OK && i < k; i++) {
    const struct rsp__eim_touch *t = &s->touches.v[i];
    sqlite3_stmt *st = stmt(s, Q_DEVICE_TOUCH);
    if (!st) return RSP_E_IO;
    sqlite3_bind_text(st, 1, t->eid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, t->last_seen);
    bind_blob(st, 3, (struct rsp_slice){t->has_rplmn ? t->rplmn : NULL, RSP_EIM_RPLMN_LEN});
    rc = step_done(s, st);
  }
  return rc;
}

/* Writes the oldest batch of held polls in a transaction of its own (begin() writes them, end()
 * drops them once committed); kept for the next attempt on failure. */
static rsp_err_t touches_flush_batch(void *backend) {
  struct sq_store *s = backend;
  rsp_err_t rc = begin(s);
  return rc == RSP_OK ? end(s, RSP_OK) : rc;
}

static rsp_err_t touches_flush(struct sq_store *s, bool due_only) {
  return rsp__eim_touches_flush(&s->touches, s->touch_ms, due_only, touches_flush_batch, s);
}

/* Holds a poll (the batching policy of ADR 0008, shared with the other backends). */
static rsp_err_t touch_record(struct sq_store *s, const char *eid, int64_t now,
                              const uint8_t *rplmn) {
  return rsp__eim_touches_record(&s->touches, s->touch_ms, eid, now, rplmn, touches_flush_batch, s);
}

static rsp_err_t sq_device_touch(struct rsp_eim_store *base, const char *eid, int64_t now,
                                 const uint8_t *rplmn) {
  struct sq_store *s = SQ(base);
  rsp_err_t rc = device_exists(s, eid);
  return rc == RSP_OK ? touch_record(s, eid, now, rplmn) : rc;
}

static rsp_err_t sq_flush(struct rsp_eim_store *base, bool due_only) {
  return touches_flush(SQ(base), due_only);
}

static rsp_err_t sq_set_touch_interval(struct rsp_eim_store *base, unsigned ms) {
  SQ(base)->touch_ms = ms;
  return RSP_OK;
}

static size_t sq_touches_held(struct rsp_eim_store *base) { return SQ(base)->touches.n; }

/* ---- profiles -------------------------------------------------------------------------------- */

static rsp_err_t profile_insert(struct sq_store *s, const char *eid,
                                const struct rsp_eim_profile *p, int64_t now) {
  sqlite3_stmt *st = stmt(s, Q_PROFILE_INSERT);
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, p->iccid, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, rsp__eim_profile_state_name(p->state), -1, SQLITE_STATIC);
  bind_text(st, 4, p->name);
  bind_text(st, 5, rsp__eim_profile_class_name(p->profile_class));
  sqlite3_bind_int64(st, 6, now);
  return step_done(s, st);
}

static rsp_err_t sq_profiles_set(struct rsp_eim_store *base, const char *eid,
                                 const struct rsp_eim_profile *v, size_t n, int64_t now) {
  struct sq_store *s = SQ(base);
  const char *enabled = NULL;
  sqlite3_stmt *st;
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  for (size_t i = 0; i < n; i++)
    if (v[i].state == RSP_EIM_PROFILE_ENABLED) enabled = v[i].iccid;
  if (!(st = stmt(s, Q_DEVICE_ENABLED))) return end(s, RSP_E_IO);
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  bind_text(st, 2, enabled);
  rc = step_done(s, st);
  if (rc == RSP_OK && sqlite3_changes(s->db) != 1) rc = RSP_E_NOT_FOUND;
  if (rc == RSP_OK && !(st = stmt(s, Q_PROFILES_DELETE))) rc = RSP_E_IO;
  if (rc == RSP_OK) {
    sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
    rc = step_done(s, st);
  }
  for (size_t i = 0; rc == RSP_OK && i < n; i++) rc = profile_insert(s, eid, &v[i], now);
  if (rc == RSP_OK)
    rc = audit(s, now, eid, 0, "profiles", rsp__eim_detail_profiles(n, enabled), NO_DER);
  return end(s, rc);
}

static rsp_err_t sq_profiles_list(struct rsp_eim_store *base, const char *eid,
                                  struct rsp_eim_profile *out, size_t out_size, size_t *out_len) {
  struct sq_store *s = SQ(base);
  sqlite3_stmt *st;
  char name[32];
  rsp_err_t rc = device_exists(s, eid);
  if (rc != RSP_OK) return rc;
  if (!(st = stmt(s, Q_PROFILES_LIST))) return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, (int64_t)out_size);
  while (*out_len < out_size && (rc = step_row(s, st)) == RSP_OK) {
    struct rsp_eim_profile *p = &out[(*out_len)++];
    memset(p, 0, sizeof *p);
    col_text(st, 0, p->iccid, sizeof p->iccid);
    col_text(st, 1, name, sizeof name);
    p->state = rsp__eim_profile_state_parse(name);
    col_text(st, 2, p->name, sizeof p->name);
    p->profile_class = rsp__eim_profile_class_parse((const char *)sqlite3_column_text(st, 3));
    p->updated = sqlite3_column_int64(st, 4);
  }
  sqlite3_reset(st);
  return rc == RSP_E_NOT_FOUND || *out_len == out_size ? RSP_OK : rc;
}

/* ---- operations: reading --------------------------------------------------------------------- */

/* Fills `op` (freed first) from the OP_COLS of a row, starting at column `b`. */
static rsp_err_t op_read(sqlite3_stmt *st, int b, struct rsp_eim_operation *op) {
  char name[32];
  int txlen = sqlite3_column_bytes(st, b + 10);
  rsp_err_t rc;
  rsp_eim_operation_free(op);
  rsp_eim_operation_init(op);
  op->id = sqlite3_column_int64(st, b + 0);
  col_text(st, b + 1, op->eid, sizeof op->eid);
  op->seq = sqlite3_column_int64(st, b + 2);
  col_text(st, b + 3, name, sizeof name);
  op->kind = rsp_eim_op_kind_parse(name);
  col_text(st, b + 5, name, sizeof name);
  op->state = rsp_eim_op_state_parse(name);
  op->not_before = sqlite3_column_int64(st, b + 6);
  op->expires_at = col_int_or(st, b + 7, 0);
  op->created = sqlite3_column_int64(st, b + 8);
  op->counter = col_int_or(st, b + 9, RSP_EIM_NO_COUNTER);
  if (txlen < 0 || txlen > RSP_EIM_TXID_MAX || !op->kind || !op->state) return RSP_E_IO;
  op->eim_transaction_id_len = (size_t)txlen;
  if (txlen) memcpy(op->eim_transaction_id, sqlite3_column_blob(st, b + 10), (size_t)txlen);
  op->sent_count = sqlite3_column_int64(st, b + 12);
  op->last_sent = col_int_or(st, b + 13, 0);
  op->checked_count = sqlite3_column_int64(st, b + 14);
  op->result_seq = col_int_or(st, b + 16, RSP_EIM_NO_SEQ);
  op->done_at = col_int_or(st, b + 18, 0);
  rc = col_strdup(st, b + 4, &op->spec);
  if (rc == RSP_OK) rc = col_buf(st, b + 11, &op->package);
  if (rc == RSP_OK) rc = col_buf(st, b + 15, &op->result);
  if (rc == RSP_OK) rc = col_strdup(st, b + 17, &op->result_summary);
  if (rc == RSP_OK) rc = col_strdup(st, b + 19, &op->error);
  op->rolled_back = sqlite3_column_int64(st, b + 20) != 0;
  return rc;
}

/* Runs a prepared SELECT of OP_COLS (already bound) for one row. */
static rsp_err_t op_select(struct sq_store *s, sqlite3_stmt *st, struct rsp_eim_operation *op) {
  rsp_err_t rc = step_row(s, st);
  if (rc != RSP_OK) return rc;
  rc = op_read(st, 0, op);
  sqlite3_reset(st);
  if (rc == RSP_E_IO) rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: unreadable operation row");
  return rc;
}

static rsp_err_t op_by_id(struct sq_store *s, int64_t id, struct rsp_eim_operation *op) {
  sqlite3_stmt *st = stmt(s, Q_OP_GET);
  if (!st) return RSP_E_IO;
  sqlite3_bind_int64(st, 1, id);
  return op_select(s, st, op);
}

static rsp_err_t op_by_txid(struct sq_store *s, struct rsp_slice txid,
                            struct rsp_eim_operation *op) {
  sqlite3_stmt *st = stmt(s, Q_OP_BY_TXID);
  if (!st) return RSP_E_IO;
  bind_blob(st, 1, txid);
  return op_select(s, st, op);
}

static rsp_err_t op_by_counter(struct sq_store *s, const char *eid, int64_t counter,
                               struct rsp_eim_operation *op) {
  sqlite3_stmt *st = stmt(s, Q_OP_BY_COUNTER);
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, counter);
  return op_select(s, st, op);
}

static rsp_err_t sq_op_get(struct rsp_eim_store *base, int64_t id, struct rsp_eim_operation *op) {
  return op_by_id(SQ(base), id, op);
}

static rsp_err_t sq_op_get_by_txid(struct rsp_eim_store *base, struct rsp_slice txid,
                                   struct rsp_eim_operation *op) {
  return op_by_txid(SQ(base), txid, op);
}

static rsp_err_t list_grow(struct rsp_eim_op_list *l, size_t *size, size_t limit) {
  size_t n = *size ? *size * 2 : 16;
  struct rsp_eim_operation *v;
  if (n > limit) n = limit;
  if (!(v = rsp_realloc(l->v, n * sizeof *v))) return RSP_E_NOMEM;
  l->v = v;
  *size = n;
  return RSP_OK;
}

static rsp_err_t sq_op_list(struct rsp_eim_store *base, const char *eid, int64_t after_seq,
                            size_t limit, struct rsp_eim_op_list *out) {
  struct sq_store *s = SQ(base);
  sqlite3_stmt *st;
  size_t size = 0;
  rsp_err_t rc = device_exists(s, eid);
  if (rc != RSP_OK) return rc;
  if (!(st = stmt(s, Q_OP_LIST))) return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, after_seq);
  sqlite3_bind_int64(st, 3, (int64_t)limit);
  while (out->n < limit && (rc = step_row(s, st)) == RSP_OK) {
    if (out->n == size && (rc = list_grow(out, &size, limit)) != RSP_OK) break;
    rsp_eim_operation_init(&out->v[out->n]);
    rc = op_read(st, 0, &out->v[out->n++]);
    if (rc != RSP_OK) break;
  }
  sqlite3_reset(st);
  if (rc == RSP_E_NOT_FOUND || (rc == RSP_OK && out->n == limit)) return RSP_OK;
  rsp_eim_op_list_free(out);
  return rc;
}

/* ---- operations: the queue ------------------------------------------------------------------- */

static rsp_err_t op_insert(struct sq_store *s, const struct rsp_eim_op_new *r, int64_t now,
                           int64_t *id, int64_t *seq) {
  sqlite3_stmt *st = stmt(s, Q_OP_NEXT_SEQ);
  rsp_err_t rc;
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, r->eid, -1, SQLITE_STATIC);
  if ((rc = step_row(s, st)) != RSP_OK) return rc == RSP_E_NOT_FOUND ? RSP_E_IO : rc;
  *seq = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (!(st = stmt(s, Q_OP_INSERT))) return RSP_E_IO;
  sqlite3_bind_text(st, 1, r->eid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, *seq);
  sqlite3_bind_text(st, 3, rsp_eim_op_kind_name(r->kind), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, r->spec, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, r->not_before);
  bind_opt_int(st, 6, r->expires_at > 0, r->expires_at);
  sqlite3_bind_int64(st, 7, now);
  if ((rc = step_done(s, st)) == RSP_OK) *id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

static rsp_err_t sq_op_enqueue(struct rsp_eim_store *base, const struct rsp_eim_op_new *r,
                               int64_t now, int64_t *id) {
  struct sq_store *s = SQ(base);
  int64_t seq = 0;
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  rc = device_exists(s, r->eid);
  if (rc == RSP_OK) rc = op_insert(s, r, now, id, &seq);
  if (rc == RSP_OK)
    rc = audit(s, now, r->eid, *id, "enqueued", rsp__eim_detail_enqueued(r, seq), NO_DER);
  rc = end(s, rc);
  if (rc != RSP_OK) *id = 0;
  return rc;
}

/* Applies a closing event (expire, cancel, abandon) to `op`, read in this transaction. */
static rsp_err_t op_move(struct sq_store *s, const struct rsp_eim_operation *op,
                         enum rsp_eim_op_event event, const char *error, int64_t now) {
  enum rsp_eim_op_state to;
  sqlite3_stmt *st;
  rsp_err_t rc = rsp__eim_allowed(op, event, &to);
  if (rc != RSP_OK) return rc;
  if (!(st = stmt(s, Q_OP_CLOSE))) return RSP_E_IO;
  sqlite3_bind_int64(st, 1, op->id);
  sqlite3_bind_text(st, 2, rsp_eim_op_state_name(op->state), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, rsp_eim_op_state_name(to), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, now);
  bind_text(st, 5, error);
  rc = step_done(s, st);
  if (rc == RSP_OK && sqlite3_changes(s->db) != 1) rc = RSP_E_STATE;
  if (rc == RSP_OK)
    rc = audit(s, now, op->eid, op->id, rsp_eim_op_state_name(to),
               rsp__eim_detail_moved(event, error), NO_DER);
  return rc;
}

static rsp_err_t sq_op_close(struct rsp_eim_store *base, int64_t id, enum rsp_eim_op_event event,
                             const char *error, int64_t now) {
  struct sq_store *s = SQ(base);
  struct rsp_eim_operation op;
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  rsp_eim_operation_init(&op);
  rc = op_by_id(s, id, &op);
  if (rc == RSP_OK) rc = op_move(s, &op, event, error, now);
  rsp_eim_operation_free(&op);
  return end(s, rc);
}

static rsp_err_t read_head(struct sq_store *s, const char *eid, struct rsp_eim_operation *op) {
  sqlite3_stmt *st = stmt(s, Q_OP_HEAD);
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  return op_select(s, st, op);
}

/* The head of the queue (lowest seq queued or sent) after expiring the expired queued ones. */
static rsp_err_t head_after_expiry(struct sq_store *s, const char *eid, int64_t now,
                                   struct rsp_eim_operation *op, size_t *expired) {
  for (;;) {
    rsp_err_t rc = read_head(s, eid, op);
    if (rc != RSP_OK || !rsp__eim_op_expired(op, now)) return rc;
    if ((rc = op_move(s, op, RSP_EIM_EV_EXPIRE, NULL, now)) != RSP_OK) return rc;
    (*expired)++;
  }
}

/* A poll usually changes nothing, so the head is first read without the write lock (one SELECT
 * is a consistent snapshot; whatever the caller does next is checked again under the lock). Only
 * an expired head takes the write lock to mark the expiries. */
static rsp_err_t sq_next_for_delivery(struct rsp_eim_store *base, const char *eid, int64_t now,
                                      struct rsp_eim_operation *op, size_t *expired) {
  struct sq_store *s = SQ(base);
  rsp_err_t found = read_head(s, eid, op), rc;
  if (found == RSP_OK && rsp__eim_op_expired(op, now) && (found = begin(s)) == RSP_OK) {
    found = head_after_expiry(s, eid, now, op, expired);
    /* Expiries found on the way are committed even when nothing is deliverable. */
    rc = end(s, found == RSP_E_NOT_FOUND ? RSP_OK : found);
    if (rc != RSP_OK) found = rc;
  }
  return rsp__eim_head_due(op, now, found);
}

/* A poll reads the device and its queue head in one statement: one snapshot, no lock beyond the
 * read, and nothing written when the queue is empty or not due (the poll itself is held in
 * memory, touch_record). Only an expired head goes on to next_for_delivery, which marks the
 * expiries under the write lock and finds the head behind them. */
static rsp_err_t sq_device_poll(struct rsp_eim_store *base, const char *eid, int64_t now,
                                const uint8_t *rplmn, struct rsp_eim_device *d,
                                struct rsp_eim_operation *head) {
  struct sq_store *s = SQ(base);
  sqlite3_stmt *st = stmt(s, Q_DEVICE_POLL);
  size_t expired = 0;
  bool has_head;
  rsp_err_t rc;
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  if ((rc = step_row(s, st)) != RSP_OK) return rc;
  rc = device_read(s, st, 0, d);
  has_head = sqlite3_column_type(st, DEVICE_NCOLS) != SQLITE_NULL;
  if (rc == RSP_OK && has_head && (rc = op_read(st, DEVICE_NCOLS, head)) == RSP_E_IO)
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: unreadable operation row");
  sqlite3_reset(st);
  if (rc == RSP_OK) rc = touch_record(s, eid, now, rplmn);
  if (rc != RSP_OK) return rc;
  rsp__eim_touches_show(&s->touches, eid, &d->last_seen, &d->has_rplmn, d->rplmn);
  if (has_head && rsp__eim_op_expired(head, now)) {
    rc = sq_next_for_delivery(base, eid, now, head, &expired);
    return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
  }
  if (has_head && head->state == RSP_EIM_OP_QUEUED && head->not_before > now) {
    rsp_eim_operation_free(head);
    rsp_eim_operation_init(head);
  }
  return RSP_OK;
}

/* Whether another operation of the device comes before `op` and is still open. */
static rsp_err_t earlier_open(struct sq_store *s, const struct rsp_eim_operation *op, bool *yes) {
  sqlite3_stmt *st = stmt(s, Q_OP_EARLIER_OPEN);
  rsp_err_t rc;
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, op->eid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, op->seq);
  rc = step_row(s, st);
  *yes = rc == RSP_OK;
  if (rc == RSP_OK) sqlite3_reset(st);
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

/* The checks of assign_counter_and_mark_sent on the stored state; eim_id and *next are filled. */
static rsp_err_t send_checks(struct sq_store *s, const struct rsp_eim_operation *op, int64_t now,
                             int64_t counter, struct rsp_slice txid, char *eim_id,
                             size_t eim_id_size, int64_t *next) {
  bool blocked = false;
  sqlite3_stmt *st;
  rsp_err_t rc = rsp__eim_send_precheck(op, now, counter, txid);
  if (rc != RSP_OK) return rc;
  if ((rc = earlier_open(s, op, &blocked)) != RSP_OK) return rc;
  if (blocked) return rsp__eim_refuse(op, "an earlier operation of the device is open");
  if (!(st = stmt(s, Q_DEVICE_COUNTER))) return RSP_E_IO;
  sqlite3_bind_text(st, 1, op->eid, -1, SQLITE_STATIC);
  if ((rc = step_row(s, st)) != RSP_OK) return rc == RSP_E_NOT_FOUND ? RSP_E_INTERNAL : rc;
  col_text(st, 0, eim_id, eim_id_size);
  *next = sqlite3_column_int64(st, 1);
  sqlite3_reset(st);
  return rsp__eim_counter_check(op, counter, *next);
}

/* The writes of assign_counter_and_mark_sent: counter, then the operation, then the audit row. */
static rsp_err_t send_writes(struct sq_store *s, const struct rsp_eim_operation *op,
                             struct rsp_slice package, int64_t counter, struct rsp_slice txid,
                             int64_t now) {
  sqlite3_stmt *st;
  rsp_err_t rc = RSP_OK;
  if (counter != RSP_EIM_NO_COUNTER) {
    if (!(st = stmt(s, Q_DEVICE_SET_COUNTER))) return RSP_E_IO;
    sqlite3_bind_text(st, 1, op->eid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, counter);
    sqlite3_bind_int64(st, 3, counter + 1);
    rc = step_done(s, st);
    if (rc == RSP_OK && sqlite3_changes(s->db) != 1) rc = RSP_E_STATE;
  }
  if (rc == RSP_OK && !(st = stmt(s, Q_OP_SENT))) rc = RSP_E_IO;
  if (rc != RSP_OK) return rc;
  sqlite3_bind_int64(st, 1, op->id);
  bind_opt_int(st, 2, counter != RSP_EIM_NO_COUNTER, counter);
  bind_blob(st, 3, txid);
  bind_blob(st, 4, package);
  sqlite3_bind_int64(st, 5, now);
  rc = step_done(s, st);
  if (rc == RSP_OK && sqlite3_changes(s->db) != 1) rc = RSP_E_STATE;
  if (rc == RSP_OK)
    rc = audit(s, now, op->eid, op->id, "sent", rsp__eim_detail_sent(op, txid, counter), package);
  return rc;
}

static rsp_err_t sq_mark_sent(struct rsp_eim_store *base, int64_t id, struct rsp_slice package,
                              int64_t counter, struct rsp_slice txid, int64_t now) {
  struct sq_store *s = SQ(base);
  struct rsp_eim_operation op;
  char eim_id[RSP_EIM_ID_MAX + 1];
  int64_t next = 0;
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  rsp_eim_operation_init(&op);
  rc = op_by_id(s, id, &op);
  if (rc == RSP_OK) rc = send_checks(s, &op, now, counter, txid, eim_id, sizeof eim_id, &next);
  if (rc == RSP_OK) rc = rsp__eim_package_check(op.kind, op.eid, eim_id, package, counter, txid);
  if (rc == RSP_OK) rc = send_writes(s, &op, package, counter, txid, now);
  rsp_eim_operation_free(&op);
  return end(s, rc);
}

static rsp_err_t sq_op_resent(struct rsp_eim_store *base, int64_t id, int64_t now) {
  struct sq_store *s = SQ(base);
  struct rsp_eim_operation op;
  enum rsp_eim_op_state to;
  sqlite3_stmt *st;
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  rsp_eim_operation_init(&op);
  rc = op_by_id(s, id, &op);
  if (rc == RSP_OK) rc = rsp__eim_allowed(&op, RSP_EIM_EV_RESEND, &to);
  /* A signed package goes again only once the card's pending results were read (docs/eim.md). */
  if (rc == RSP_OK && rsp__eim_signed_kind(op.kind) && op.checked_count < op.sent_count)
    rc = rsp__eim_refuse(&op, "the card's pending results were not checked since the last send");
  if (rc == RSP_OK && !(st = stmt(s, Q_OP_RESENT))) rc = RSP_E_IO;
  if (rc == RSP_OK) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, op.sent_count);
    rc = step_done(s, st);
    if (rc == RSP_OK && sqlite3_changes(s->db) != 1) rc = RSP_E_STATE;
  }
  /* The bytes are those of the "sent" entry: the audit row names the count, not the bytes. */
  if (rc == RSP_OK) rc = audit(s, now, op.eid, id, "resent", rsp__eim_detail_resent(&op), NO_DER);
  rsp_eim_operation_free(&op);
  return end(s, rc);
}

static rsp_err_t sq_op_results_checked(struct rsp_eim_store *base, int64_t id, int64_t sent_count,
                                       int64_t now) {
  struct sq_store *s = SQ(base);
  struct rsp_eim_operation op;
  enum rsp_eim_op_state to;
  sqlite3_stmt *st;
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  rsp_eim_operation_init(&op);
  rc = op_by_id(s, id, &op);
  if (rc == RSP_OK) rc = rsp__eim_allowed(&op, RSP_EIM_EV_RESULTS_CHECKED, &to);
  if (rc == RSP_OK && op.sent_count != sent_count)
    rc = rsp__eim_refuse(&op, "results checked for a send that is not the last one");
  if (rc == RSP_OK && !(st = stmt(s, Q_OP_CHECKED))) rc = RSP_E_IO;
  if (rc == RSP_OK) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, sent_count);
    rc = step_done(s, st);
    if (rc == RSP_OK && sqlite3_changes(s->db) != 1) rc = RSP_E_STATE;
  }
  if (rc == RSP_OK)
    rc = audit(s, now, op.eid, id, "results_checked",
               rsp__eim_detail_count("sent_count", sent_count), NO_DER);
  rsp_eim_operation_free(&op);
  return end(s, rc);
}

/* ---- results --------------------------------------------------------------------------------- */

/* The operation a result belongs to: by eimTransactionId (which is unique), else by the device's
 * counter. A match whose EID or counter contradicts the result is no match. */
static rsp_err_t result_match(struct sq_store *s, const struct rsp_eim_result *r,
                              struct rsp_eim_operation *op, const char **why) {
  rsp_err_t rc = r->eim_transaction_id.p ? op_by_txid(s, r->eim_transaction_id, op)
                                         : op_by_counter(s, r->eid, r->counter, op);
  *why = "no operation with this eimTransactionId or counter";
  if (rc != RSP_OK) return rc;
  return rsp__eim_result_fits(op, r, why) ? RSP_OK : RSP_E_NOT_FOUND;
}

static rsp_err_t result_write(struct sq_store *s, const struct rsp_eim_operation *op,
                              const struct rsp_eim_result *r, bool rolled_back, int64_t now) {
  enum rsp_eim_op_event event =
      r->state == RSP_EIM_OP_DONE ? RSP_EIM_EV_RESULT_OK : RSP_EIM_EV_RESULT_ERROR;
  enum rsp_eim_op_state to;
  sqlite3_stmt *st;
  rsp_err_t rc = rsp__eim_allowed(op, event, &to);
  if (rc != RSP_OK) return rc;
  if (!(st = stmt(s, Q_OP_RESULT))) return RSP_E_IO;
  sqlite3_bind_int64(st, 1, op->id);
  sqlite3_bind_text(st, 2, rsp_eim_op_state_name(to), -1, SQLITE_STATIC);
  bind_blob(st, 3, r->der);
  bind_opt_int(st, 4, r->seq_number != RSP_EIM_NO_SEQ, r->seq_number);
  bind_text(st, 5, r->summary);
  sqlite3_bind_int64(st, 6, now);
  bind_text(st, 7, r->error);
  sqlite3_bind_int(st, 8, rolled_back ? 1 : 0);
  rc = step_done(s, st);
  if (rc == RSP_OK && sqlite3_changes(s->db) != 1) rc = RSP_E_STATE;
  if (rc == RSP_OK) {
    json_t *d = rsp__eim_detail_result(r, NULL);
    if (d && rolled_back) json_object_set_new(d, "rolled_back", json_true());
    rc = audit(s, now, op->eid, op->id, "result", d, r->der);
  }
  return rc;
}

static rsp_err_t result_apply(struct sq_store *s, const struct rsp_eim_result *r, bool rolled_back,
                              int64_t now, enum rsp_eim_record *outcome, int64_t *op_id) {
  struct rsp_eim_operation op;
  const char *why = NULL;
  rsp_err_t rc;
  rsp_eim_operation_init(&op);
  rc = result_match(s, r, &op, &why);
  if (rc == RSP_E_NOT_FOUND) {
    *outcome = RSP_EIM_RECORD_UNKNOWN;
    rc = audit(s, now, r->eid, 0, "result_unknown", rsp__eim_detail_result(r, why), r->der);
  } else if (rc == RSP_OK && op.state == RSP_EIM_OP_SENT) {
    *outcome = RSP_EIM_RECORD_NEW;
    *op_id = op.id;
    rc = result_write(s, &op, r, rolled_back, now);
  } else if (rc == RSP_OK && op.result.len && rsp__eim_same_result(&op, r)) {
    *outcome = RSP_EIM_RECORD_DUPLICATE; /* nothing to write: the first copy is committed */
    *op_id = op.id;
  } else if (rc == RSP_OK) {
    *outcome = RSP_EIM_RECORD_CONFLICT;
    *op_id = op.id;
    rsp_log(RSP_LOG_WARN, RSP__EIM_COMP, "store: operation %lld (%s) got a different result",
            (long long)op.id, rsp_eim_op_state_name(op.state));
    rc = audit(s, now, op.eid, op.id, "result_conflict",
               rsp__eim_detail_result(r, "the operation already has another result"), r->der);
  }
  rsp_eim_operation_free(&op);
  return rc;
}

static rsp_err_t sq_record_result(struct rsp_eim_store *base, const struct rsp_eim_result *r,
                                  bool rolled_back, int64_t now, enum rsp_eim_record *outcome,
                                  int64_t *op_id) {
  struct sq_store *s = SQ(base);
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  rc = end(s, result_apply(s, r, rolled_back, now, outcome, op_id));
  if (rc != RSP_OK) {
    *outcome = 0;
    *op_id = 0;
  }
  return rc;
}

/* ---- notifications --------------------------------------------------------------------------- */

static rsp_err_t notif_insert(struct sq_store *s, const struct rsp_eim_notification_new *n,
                              int64_t now, bool *inserted) {
  sqlite3_stmt *st = stmt(s, Q_NOTIF_INSERT);
  rsp_err_t rc;
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, n->eid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, n->seq_number);
  sqlite3_bind_text(st, 3, rsp_eim_notification_kind_name(n->kind), -1, SQLITE_STATIC);
  bind_text(st, 4, n->iccid);
  bind_blob(st, 5, n->der);
  sqlite3_bind_int64(st, 6, now);
  bind_text(st, 7, n->forward_address);
  rc = step_done(s, st);
  *inserted = rc == RSP_OK && sqlite3_changes(s->db) == 1;
  return rc;
}

static rsp_err_t sq_record_notification(struct rsp_eim_store *base,
                                        const struct rsp_eim_notification_new *n, int64_t now,
                                        enum rsp_eim_record *outcome) {
  struct sq_store *s = SQ(base);
  bool inserted = false;
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  rc = device_exists(s, n->eid);
  if (rc == RSP_OK) rc = notif_insert(s, n, now, &inserted);
  if (rc == RSP_OK && inserted)
    rc = audit(s, now, n->eid, 0, "notification", rsp__eim_detail_notification(n), n->der);
  rc = end(s, rc);
  *outcome = rc != RSP_OK ? 0 : inserted ? RSP_EIM_RECORD_NEW : RSP_EIM_RECORD_DUPLICATE;
  return rc;
}

static rsp_err_t sq_notification_next(struct rsp_eim_store *base, struct rsp_eim_notification *n) {
  struct sq_store *s = SQ(base);
  sqlite3_stmt *st = stmt(s, Q_NOTIF_NEXT);
  char kind[32];
  rsp_err_t rc;
  if (!st) return RSP_E_IO;
  if ((rc = step_row(s, st)) != RSP_OK) return rc;
  col_text(st, 0, n->eid, sizeof n->eid);
  n->seq_number = sqlite3_column_int64(st, 1);
  col_text(st, 2, kind, sizeof kind);
  n->kind = rsp__eim_notification_kind_parse(kind);
  col_text(st, 3, n->iccid, sizeof n->iccid);
  rc = col_buf(st, 4, &n->der);
  n->received = sqlite3_column_int64(st, 5);
  n->forwarded_at = col_int_or(st, 6, 0);
  col_text(st, 7, n->forward_address, sizeof n->forward_address);
  sqlite3_reset(st);
  return rc;
}

static rsp_err_t notif_exists(struct sq_store *s, const char *eid, int64_t seq) {
  sqlite3_stmt *st = stmt(s, Q_NOTIF_EXISTS);
  rsp_err_t rc;
  if (!st) return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, seq);
  if ((rc = step_row(s, st)) == RSP_OK) sqlite3_reset(st);
  return rc;
}

/* Idempotent: forwarding an already forwarded notification again changes nothing. */
static rsp_err_t sq_notification_forwarded(struct rsp_eim_store *base, const char *eid, int64_t seq,
                                           int64_t now) {
  struct sq_store *s = SQ(base);
  sqlite3_stmt *st;
  rsp_err_t rc = begin(s);
  if (rc != RSP_OK) return rc;
  if (!(st = stmt(s, Q_NOTIF_FORWARDED))) return end(s, RSP_E_IO);
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, seq);
  sqlite3_bind_int64(st, 3, now);
  rc = step_done(s, st);
  if (rc == RSP_OK && sqlite3_changes(s->db) == 0) {
    rc = notif_exists(s, eid, seq);
  } else if (rc == RSP_OK) {
    rc = audit(s, now, eid, 0, "notification_forwarded", rsp__eim_detail_count("seq_number", seq),
               NO_DER);
  }
  return end(s, rc);
}

/* ---- audit listing --------------------------------------------------------------------------- */

static rsp_err_t audit_read(sqlite3_stmt *st, struct rsp_eim_audit_entry *e) {
  rsp_err_t rc;
  memset(e, 0, sizeof *e);
  rsp_buf_init(&e->der, RSP_EIM_RESULT_MAX);
  e->id = sqlite3_column_int64(st, 0);
  e->time = sqlite3_column_int64(st, 1);
  col_text(st, 2, e->eid, sizeof e->eid);
  e->operation_id = col_int_or(st, 3, 0);
  col_text(st, 4, e->event, sizeof e->event);
  rc = col_strdup(st, 5, &e->detail);
  if (rc == RSP_OK) rc = col_buf(st, 6, &e->der);
  return rc;
}

static rsp_err_t sq_audit_list(struct rsp_eim_store *base, const struct rsp_eim_audit_query *q,
                               struct rsp_eim_audit_list *out) {
  struct sq_store *s = SQ(base);
  enum query id = q->eid && q->operation_id ? Q_AUDIT_BOTH
                  : q->eid                  ? Q_AUDIT_EID
                  : q->operation_id         ? Q_AUDIT_OP
                                            : Q_AUDIT_ALL;
  sqlite3_stmt *st = stmt(s, id);
  rsp_err_t rc = RSP_E_NOT_FOUND;
  if (!st) return RSP_E_IO;
  if (!(out->v = rsp_calloc(q->limit, sizeof *out->v))) return RSP_E_NOMEM;
  sqlite3_bind_int64(st, 1, q->after_id);
  sqlite3_bind_int64(st, 2, (int64_t)q->limit);
  if (q->eid) sqlite3_bind_text(st, 3, q->eid, -1, SQLITE_STATIC);
  if (q->operation_id) sqlite3_bind_int64(st, q->eid ? 4 : 3, q->operation_id);
  while (out->n < q->limit && (rc = step_row(s, st)) == RSP_OK)
    if ((rc = audit_read(st, &out->v[out->n++])) != RSP_OK) break;
  sqlite3_reset(st);
  if (rc == RSP_E_NOT_FOUND || (rc == RSP_OK && out->n == q->limit)) return RSP_OK;
  rsp_eim_audit_list_free(out);
  return rc;
}

/* An event of a caller (the ESipa service): one audit row in its own transaction. The detail
 * text was checked to be a JSON object by store.c. */
static rsp_err_t sq_audit_add(struct rsp_eim_store *base, const char *eid, int64_t op_id,
                              const char *event, const char *detail, struct rsp_slice der,
                              int64_t now) {
  struct sq_store *s = SQ(base);
  json_t *j = detail ? json_loads(detail, JSON_REJECT_DUPLICATES, NULL) : json_object();
  rsp_err_t rc = j ? begin(s) : RSP_E_NOMEM;
  if (rc != RSP_OK) {
    json_decref(j);
    return rc;
  }
  return end(s, audit(s, now, eid, op_id, event, j, der));
}

/* ---- counts ---------------------------------------------------------------------------------- */

static rsp_err_t sq_stats(struct rsp_eim_store *base, struct rsp_eim_stats *out) {
  struct sq_store *s = SQ(base);
  sqlite3_stmt *st = stmt(s, Q_STATS);
  char kind[32], state[32];
  rsp_err_t rc;
  if (!st) return RSP_E_IO;
  while ((rc = step_row(s, st)) == RSP_OK) {
    int64_t part = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 3);
    if (part == 0) {
      out->devices = n;
    } else if (part == 2) {
      out->rolled_back = n;
    } else {
      col_text(st, 1, kind, sizeof kind);
      col_text(st, 2, state, sizeof state);
      enum rsp_eim_op_kind k = rsp_eim_op_kind_parse(kind);
      enum rsp_eim_op_state v = rsp_eim_op_state_parse(state);
      if (!k || !v) { /* the CHECKs keep other names out: an unreadable file */
        sqlite3_reset(st);
        rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: unknown kind or state %s/%s", kind, state);
        return RSP_E_IO;
      }
      out->ops[k][v] = n;
    }
  }
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

/* ---- the table ------------------------------------------------------------------------------- */

static const struct rsp_eim_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .device_register = sq_device_register,
    .device_get = sq_device_get,
    .device_list = sq_device_list,
    .device_update_euicc_data = sq_device_update_euicc_data,
    .device_touch = sq_device_touch,
    .profiles_set = sq_profiles_set,
    .profiles_list = sq_profiles_list,
    .op_enqueue = sq_op_enqueue,
    .op_get = sq_op_get,
    .op_get_by_txid = sq_op_get_by_txid,
    .op_list = sq_op_list,
    .op_close = sq_op_close,
    .next_for_delivery = sq_next_for_delivery,
    .mark_sent = sq_mark_sent,
    .op_resent = sq_op_resent,
    .op_results_checked = sq_op_results_checked,
    .record_result = sq_record_result,
    .record_notification = sq_record_notification,
    .notification_next = sq_notification_next,
    .notification_forwarded = sq_notification_forwarded,
    .audit_list = sq_audit_list,
    .audit_add = sq_audit_add,
    .stats = sq_stats,
    .device_poll = sq_device_poll,
    .flush = sq_flush,
    .set_touch_interval = sq_set_touch_interval,
    .touches_held = sq_touches_held,
};
