/* The eIM store on PostgreSQL (include/rsp/eim/store.h) through libpq, for several rsp-eim
 * processes on several machines sharing one database (docs/eim.md "The PostgreSQL backend",
 * docs/adr/0010-eim-postgresql-store.md). This file: the connection, the statements, the
 * transactions with their retries, the schema and its migrations, and the held polls;
 * store_pg_ops.c has the operations.
 *
 * Schema (version 1 of this backend; the same tables, columns and invariants as the SQLite
 * schema at its version 2, in PostgreSQL types: bigint times and counters, bytea for every DER
 * value, text with CHECKs for the names, a bigserial id for operations and audit rows). The
 * audit table refuses UPDATE, DELETE and TRUNCATE through triggers.
 *
 * Concurrency: every state change is one READ COMMITTED transaction whose first statement locks
 * the device's row (SELECT ... FOR UPDATE, or an UPDATE of that row, which takes the same lock).
 * Every writer of a device's queue, counter, results or notifications takes that lock first, so the
 * changes of one device are serial across all handles, processes and machines (as SQLite's BEGIN
 * IMMEDIATE makes them serial over the whole file), while different devices proceed in parallel;
 * each statement after the lock reads the latest committed state. The UNIQUE indexes on (eid,
 * counter), (eid, seq) and the eimTransactionId are the last line: a bug that skipped the lock
 * would fail, not hand out a counter twice. A serialization failure or a deadlock (two nodes
 * writing batches of polls over the same devices) rolls the transaction back and runs it again, at
 * most RSP__PG_TRIES times. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "store_pg_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Serializes the migrations of nodes starting at the same time (pg_advisory_xact_lock key). */
#define MIGRATION_LOCK_KEY 0x7273705F65696DLL /* "rsp_eim" */

/* ---- schema ---------------------------------------------------------------------------------- */

static const char *const migrations[] = {
    /* 1: the schema of SQLite version 2 (store_sqlite.c), in PostgreSQL types. */
    "CREATE TABLE devices ("
    " eid text COLLATE \"C\" PRIMARY KEY CHECK (eid ~ '^[0-9]{32}$'),"
    " eim_id text NOT NULL, association_token bigint,"
    " next_counter bigint NOT NULL CHECK (next_counter >= 0),"
    " euicc_cert bytea, eum_cert bytea, euicc_info2 bytea, initial_config bytea,"
    " created bigint NOT NULL, last_seen bigint,"
    " rplmn bytea CHECK (rplmn IS NULL OR length(rplmn) = 3), enabled_iccid text);"
    "CREATE TABLE profiles ("
    " eid text COLLATE \"C\" NOT NULL REFERENCES devices (eid), iccid text COLLATE \"C\" NOT NULL,"
    " state text NOT NULL CHECK (state IN ('enabled', 'disabled')), name text, class text,"
    " updated bigint NOT NULL, PRIMARY KEY (eid, iccid));"
    "CREATE TABLE operations ("
    " id bigserial PRIMARY KEY, eid text COLLATE \"C\" NOT NULL REFERENCES devices (eid),"
    " seq bigint NOT NULL,"
    " kind text NOT NULL CHECK (kind IN ('psmo', 'eco', 'euicc_data', 'download')),"
    " spec text NOT NULL,"
    " state text NOT NULL CHECK (state IN ('queued', 'sent', 'done', 'failed', 'expired',"
    "  'cancelled')),"
    " not_before bigint NOT NULL, expires_at bigint, created bigint NOT NULL,"
    " counter bigint, eim_transaction_id bytea, package bytea,"
    " sent_count bigint NOT NULL DEFAULT 0, last_sent bigint,"
    " checked_count bigint NOT NULL DEFAULT 0,"
    " result bytea, result_seq bigint, result_summary text, done_at bigint, error text,"
    " rolled_back boolean NOT NULL DEFAULT false,"
    " UNIQUE (eid, seq)," RSP__EIM_OP_CHECKS ","
    " CHECK (NOT rolled_back OR result IS NOT NULL));"
    "CREATE UNIQUE INDEX operations_counter ON operations (eid, counter)"
    " WHERE counter IS NOT NULL;"
    "CREATE UNIQUE INDEX operations_txid ON operations (eim_transaction_id)"
    " WHERE eim_transaction_id IS NOT NULL;"
    "CREATE INDEX operations_open ON operations (eid, seq) WHERE state IN ('queued', 'sent');"
    "CREATE INDEX operations_state_kind ON operations (state, kind);"
    "CREATE INDEX operations_rolled_back ON operations (id) WHERE rolled_back;"
    "CREATE TABLE notifications ("
    " eid text COLLATE \"C\" NOT NULL REFERENCES devices (eid), seq_number bigint NOT NULL,"
    " kind text NOT NULL, iccid text, der bytea NOT NULL, received bigint NOT NULL,"
    " forwarded_at bigint, forward_address text, PRIMARY KEY (eid, seq_number));"
    "CREATE INDEX notifications_pending ON notifications (received)"
    " WHERE forwarded_at IS NULL AND forward_address IS NOT NULL;"
    "CREATE TABLE audit (id bigserial PRIMARY KEY, time bigint NOT NULL, eid text,"
    " operation_id bigint, event text NOT NULL, detail text NOT NULL, der bytea);"
    "CREATE INDEX audit_eid ON audit (eid, id) WHERE eid IS NOT NULL;"
    "CREATE INDEX audit_operation ON audit (operation_id, id) WHERE operation_id IS NOT NULL;"
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE EXCEPTION 'audit is append-only'; END$$;"
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();",
};

int rsp_eim_store_pg_schema_version(void) { return (int)COUNT(migrations); }

/* ---- statements ------------------------------------------------------------------------------ */

/* The same column lists as store_sqlite.c, in the order store_pg_ops.c reads them. */
#define OP_COLS_OF RSP__EIM_OP_COLS_OF
#define OP_COLS OP_COLS_OF("")
#define DEVICE_COLS_OF RSP__EIM_DEVICE_COLS_OF
#define DEVICE_COLS DEVICE_COLS_OF("")
#define NOTIF_COLS RSP__EIM_NOTIF_COLS
#define AUDIT_COLS RSP__EIM_AUDIT_COLS
#define OPEN "state IN ('queued', 'sent')"

static const char *const sql[PQ__COUNT] = {
    [PQ_AUDIT] = "INSERT INTO audit (time, eid, operation_id, event, detail, der)"
                 " VALUES ($1::bigint, $2::text, $3::bigint, $4::text, $5::text, $6::bytea)",
    [PQ_DEVICE_INSERT] = "INSERT INTO devices (eid, eim_id, association_token, next_counter,"
                         " initial_config, euicc_cert, eum_cert, created) VALUES ($1::text,"
                         " $2::text, $3::bigint, $4::bigint, $5::bytea, $6::bytea, $7::bytea,"
                         " $8::bigint)",
    [PQ_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM devices WHERE eid = $1::text",
    /* A poll: the device and its queue head in one statement, so one snapshot. */
    [PQ_DEVICE_POLL] = "SELECT " DEVICE_COLS_OF("d.") ", " OP_COLS_OF(
        "h.") " FROM devices d"
              " LEFT JOIN LATERAL (SELECT * FROM operations o WHERE o.eid = d.eid"
              " AND o." OPEN " ORDER BY o.seq LIMIT 1) h ON true WHERE d.eid = $1::text",
    [PQ_DEVICE_EXISTS] = "SELECT 1 FROM devices WHERE eid = $1::text",
    /* The lock every state change of a device takes first (see the top of this file). */
    [PQ_DEVICE_LOCK] = "SELECT eim_id, next_counter FROM devices WHERE eid = $1::text FOR UPDATE",
    [PQ_DEVICE_LOCK_BY_OP] = "SELECT eim_id, next_counter FROM devices WHERE eid ="
                             " (SELECT eid FROM operations WHERE id = $1::bigint) FOR UPDATE",
    [PQ_DEVICE_LOCK_BY_TXID] = "SELECT eim_id, next_counter FROM devices WHERE eid ="
                               " (SELECT eid FROM operations WHERE eim_transaction_id = $1::bytea)"
                               " FOR UPDATE",
    [PQ_DEVICE_SET_COUNTER] = "UPDATE devices SET next_counter = $3::bigint WHERE eid = $1::text"
                              " AND next_counter = $2::bigint",
    [PQ_DEVICE_LIST] = "SELECT eid, eim_id, next_counter, created, last_seen, enabled_iccid,"
                       " (SELECT count(*) FROM operations o WHERE o.eid = d.eid AND o." OPEN ")"
                       " FROM devices d WHERE eid > $1::text ORDER BY eid LIMIT $2::bigint",
    [PQ_DEVICE_DATA] = "UPDATE devices SET euicc_cert = coalesce($2::bytea, euicc_cert),"
                       " eum_cert = coalesce($3::bytea, eum_cert),"
                       " euicc_info2 = coalesce($4::bytea, euicc_info2),"
                       " association_token = CASE WHEN $5::boolean THEN $6::bigint"
                       " ELSE association_token END,"
                       " last_seen = greatest(coalesce(last_seen, $7::bigint), $7::bigint)"
                       " WHERE eid = $1::text",
    /* A batch of held polls (rsp__eim_touch_merge's rule), as three parallel arrays; the
     * right-hand sides see the row as it was, and under READ COMMITTED a row another node
     * changed meanwhile is re-read first, so last_seen never moves backwards. */
    [PQ_DEVICE_TOUCH] = "UPDATE devices d SET rplmn = CASE WHEN t.rplmn IS NOT NULL"
                        " AND t.seen >= coalesce(d.last_seen, t.seen)"
                        " THEN decode(t.rplmn, 'hex') ELSE d.rplmn END,"
                        " last_seen = greatest(coalesce(d.last_seen, t.seen), t.seen)"
                        " FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t (eid, seen, rplmn)"
                        " WHERE d.eid = t.eid",
    [PQ_DEVICE_ENABLED] = "UPDATE devices SET enabled_iccid = $2::text WHERE eid = $1::text",
    [PQ_PROFILES_DELETE] = "DELETE FROM profiles WHERE eid = $1::text",
    [PQ_PROFILE_INSERT] = "INSERT INTO profiles (eid, iccid, state, name, class, updated)"
                          " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint)",
    [PQ_PROFILES_LIST] = "SELECT iccid, state, name, class, updated FROM profiles"
                         " WHERE eid = $1::text ORDER BY iccid LIMIT $2::bigint",
    [PQ_OP_INSERT] = "INSERT INTO operations (eid, seq, kind, spec, state, not_before, expires_at,"
                     " created) SELECT $1::text, coalesce(max(seq), 0) + 1, $2::text, $3::text,"
                     " 'queued', $4::bigint, $5::bigint, $6::bigint FROM operations"
                     " WHERE eid = $1::text RETURNING id, seq",
    [PQ_OP_GET] = "SELECT " OP_COLS " FROM operations WHERE id = $1::bigint",
    [PQ_OP_BY_TXID] = "SELECT " OP_COLS " FROM operations WHERE eim_transaction_id = $1::bytea",
    [PQ_OP_BY_COUNTER] = "SELECT " OP_COLS " FROM operations WHERE eid = $1::text"
                         " AND counter = $2::bigint",
    [PQ_OP_LIST] = "SELECT " OP_COLS " FROM operations WHERE eid = $1::text AND seq > $2::bigint"
                   " ORDER BY seq LIMIT $3::bigint",
    [PQ_OP_HEAD] =
        "SELECT " OP_COLS " FROM operations WHERE eid = $1::text AND " OPEN " ORDER BY seq LIMIT 1",
    [PQ_OP_EARLIER_OPEN] =
        "SELECT 1 FROM operations WHERE eid = $1::text AND " OPEN " AND seq < $2::bigint LIMIT 1",
    [PQ_OP_CLOSE] = "UPDATE operations SET state = $3::text, done_at = $4::bigint,"
                    " error = $5::text WHERE id = $1::bigint AND state = $2::text",
    [PQ_OP_SENT] = "UPDATE operations SET state = 'sent', counter = $2::bigint,"
                   " eim_transaction_id = $3::bytea, package = $4::bytea, sent_count = 1,"
                   " last_sent = $5::bigint, checked_count = 0"
                   " WHERE id = $1::bigint AND state = 'queued'",
    [PQ_OP_RESENT] = "UPDATE operations SET sent_count = sent_count + 1, last_sent = $2::bigint"
                     " WHERE id = $1::bigint AND state = 'sent' AND sent_count = $3::bigint",
    [PQ_OP_CHECKED] = "UPDATE operations SET checked_count = $2::bigint WHERE id = $1::bigint"
                      " AND state = 'sent' AND sent_count = $2::bigint",
    [PQ_OP_RESULT] = "UPDATE operations SET state = $2::text, result = $3::bytea,"
                     " result_seq = $4::bigint, result_summary = $5::text, done_at = $6::bigint,"
                     " error = $7::text, rolled_back = $8::boolean"
                     " WHERE id = $1::bigint AND state = 'sent'",
    [PQ_NOTIF_INSERT] = "INSERT INTO notifications (eid, seq_number, kind, iccid, der, received,"
                        " forward_address) VALUES ($1::text, $2::bigint, $3::text, $4::text,"
                        " $5::bytea, $6::bigint, $7::text) ON CONFLICT DO NOTHING",
    [PQ_NOTIF_NEXT] = "SELECT " NOTIF_COLS " FROM notifications WHERE forwarded_at IS NULL"
                      " AND forward_address IS NOT NULL ORDER BY received, eid, seq_number"
                      " LIMIT 1",
    [PQ_NOTIF_FORWARDED] = "UPDATE notifications SET forwarded_at = $3::bigint"
                           " WHERE eid = $1::text AND seq_number = $2::bigint"
                           " AND forwarded_at IS NULL",
    [PQ_NOTIF_EXISTS] = "SELECT 1 FROM notifications WHERE eid = $1::text"
                        " AND seq_number = $2::bigint",
    /* NULL filters match everything: one statement for the four combinations. */
    [PQ_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM audit WHERE id > $1::bigint"
                      " AND ($3::text IS NULL OR eid = $3::text)"
                      " AND ($4::bigint IS NULL OR operation_id = $4::bigint)"
                      " ORDER BY id LIMIT $2::bigint",
    /* One statement, so one snapshot (as in store_sqlite.c). */
    [PQ_STATS] = "SELECT 0::bigint, NULL::text, NULL::text, count(*) FROM devices"
                 " UNION ALL SELECT 1, kind, state, count(*) FROM operations GROUP BY state, kind"
                 " UNION ALL SELECT 2, NULL, NULL, count(*) FROM operations WHERE rolled_back",
};

/* ---- parameters ------------------------------------------------------------------------------ */

void rsp__pg_str(struct rsp__pg_args *a, const char *t) {
  a->v[a->n] = t;
  a->len[a->n] = 0;
  a->fmt[a->n] = 0;
  a->n++;
}

void rsp__pg_text(struct rsp__pg_args *a, const char *t) { rsp__pg_str(a, t && t[0] ? t : NULL); }

void rsp__pg_int(struct rsp__pg_args *a, int64_t v) {
  snprintf(a->num[a->n], sizeof a->num[0], "%lld", (long long)v);
  rsp__pg_str(a, a->num[a->n]);
}

void rsp__pg_opt_int(struct rsp__pg_args *a, bool present, int64_t v) {
  if (present)
    rsp__pg_int(a, v);
  else
    rsp__pg_str(a, NULL);
}

void rsp__pg_bool(struct rsp__pg_args *a, bool v) { rsp__pg_str(a, v ? "t" : "f"); }

/* bytea goes in binary: the bytes as they are, no escaping. */
void rsp__pg_blob(struct rsp__pg_args *a, struct rsp_slice b) {
  a->v[a->n] = b.p ? (const char *)b.p : NULL;
  a->len[a->n] = (int)b.len;
  a->fmt[a->n] = 1;
  a->n++;
}

/* ---- results --------------------------------------------------------------------------------- */

bool rsp__pg_col_null(const PGresult *r, int row, int col) { return PQgetisnull(r, row, col); }

/* An integer column in binary: bigint (8 bytes), integer (4), smallint (2) or boolean (1), all
 * big-endian and signed. */
int64_t rsp__pg_col_int(const PGresult *r, int row, int col, int64_t if_null) {
  const uint8_t *p = (const uint8_t *)PQgetvalue(r, row, col);
  int n = PQgetlength(r, row, col);
  uint64_t v = 0;
  if (PQgetisnull(r, row, col) || n <= 0 || n > 8) return if_null;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  if (n < 8 && (p[0] & 0x80)) v |= ~UINT64_C(0) << (8 * n);
  return (int64_t)v;
}

void rsp__pg_col_text(const PGresult *r, int row, int col, char *out, size_t size) {
  size_t n = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
  if (n >= size) n = size - 1;
  memcpy(out, PQgetvalue(r, row, col), n);
  out[n] = '\0';
}

rsp_err_t rsp__pg_col_strdup(const PGresult *r, int row, int col, char **out) {
  size_t n = (size_t)PQgetlength(r, row, col);
  *out = NULL;
  if (PQgetisnull(r, row, col)) return RSP_OK;
  if (!(*out = rsp_malloc(n + 1))) return RSP_E_NOMEM;
  memcpy(*out, PQgetvalue(r, row, col), n);
  (*out)[n] = '\0';
  return RSP_OK;
}

rsp_err_t rsp__pg_col_buf(const PGresult *r, int row, int col, struct rsp_buf *b) {
  int n = PQgetlength(r, row, col);
  rsp_buf_reset(b);
  if (PQgetisnull(r, row, col) || n <= 0) return RSP_OK;
  return rsp_buf_append(b, PQgetvalue(r, row, col), (size_t)n);
}

/* ---- running statements ---------------------------------------------------------------------- */

static bool sqlstate_is(const PGresult *r, const char *want, size_t n) {
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  return st && strncmp(st, want, n) == 0;
}

/* Maps a failed result (consumed) to an error, logged with the server's message. */
static rsp_err_t failed(struct rsp__pg_store *s, PGresult *r, const char *what) {
  const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn);
  rsp_err_t rc = RSP_E_IO;
  if (sqlstate_is(r, "23505", 5)) {
    rc = RSP_E_EXISTS;
  } else if (sqlstate_is(r, "23", 2)) {
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: invariant violated: %s", msg);
    rc = RSP_E_INTERNAL;
  } else if (sqlstate_is(r, "40001", 5) || sqlstate_is(r, "40P01", 5)) {
    RSP_LOG_D(RSP__EIM_COMP, "store: %s: %s", what, msg);
    s->retry = true;
  } else {
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: %s on %s: %s", what, s->where, msg);
    if (!r) rc = PQstatus(s->conn) == CONNECTION_OK ? RSP_E_NOMEM : RSP_E_IO;
  }
  PQclear(r);
  return rc;
}

static rsp_err_t prepare(struct rsp__pg_store *s, enum rsp__pg_query id) {
  char name[16];
  PGresult *r;
  if (s->prepared[id]) return RSP_OK;
  snprintf(name, sizeof name, "rsp%d", (int)id);
  r = PQprepare(s->conn, name, sql[id], 0, NULL);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) return failed(s, r, "prepare");
  PQclear(r);
  s->prepared[id] = true;
  return RSP_OK;
}

static rsp_err_t reconnect_if_needed(struct rsp__pg_store *s);

rsp_err_t rsp__pg_exec(struct rsp__pg_store *s, enum rsp__pg_query id, const struct rsp__pg_args *a,
                       PGresult **res) {
  static const struct rsp__pg_args none;
  char name[16];
  PGresult *r;
  /* A read outside a transaction may reconnect; inside one, the transaction is lost anyway. */
  rsp_err_t rc = s->in_tx ? RSP_OK : reconnect_if_needed(s);
  *res = NULL;
  if (rc == RSP_OK) rc = prepare(s, id);
  if (rc != RSP_OK) return rc;
  if (!a) a = &none;
  snprintf(name, sizeof name, "rsp%d", (int)id);
  r = PQexecPrepared(s->conn, name, a->n, a->v, a->len, a->fmt, 1);
  if (!r || (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK))
    return failed(s, r, "statement");
  *res = r;
  return RSP_OK;
}

rsp_err_t rsp__pg_cmd(struct rsp__pg_store *s, enum rsp__pg_query id, const struct rsp__pg_args *a,
                      long *changed) {
  PGresult *r;
  rsp_err_t rc = rsp__pg_exec(s, id, a, &r);
  if (rc == RSP_OK && changed) *changed = atol(PQcmdTuples(r));
  PQclear(r);
  return rc;
}

rsp_err_t rsp__pg_row(struct rsp__pg_store *s, enum rsp__pg_query id, const struct rsp__pg_args *a,
                      PGresult **res) {
  rsp_err_t rc = rsp__pg_exec(s, id, a, res);
  if (rc == RSP_OK && PQntuples(*res) == 0) {
    PQclear(*res);
    *res = NULL;
    rc = RSP_E_NOT_FOUND;
  }
  return rc;
}

/* A statement without parameters or result (BEGIN, COMMIT, ROLLBACK, the migrations). */
static rsp_err_t simple(struct rsp__pg_store *s, const char *text) {
  PGresult *r = PQexec(s->conn, text);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) return failed(s, r, text);
  PQclear(r);
  return RSP_OK;
}

/* ---- transactions ---------------------------------------------------------------------------- */

/* A connection the server closed (restart, failover, idle timeout) is opened again before the
 * next transaction; its prepared statements went with it. */
static rsp_err_t reconnect_if_needed(struct rsp__pg_store *s) {
  if (PQstatus(s->conn) == CONNECTION_OK) return RSP_OK;
  rsp_log(RSP_LOG_WARN, RSP__EIM_COMP, "store: connection to %s lost, reconnecting", s->where);
  PQreset(s->conn);
  memset(s->prepared, 0, sizeof s->prepared);
  if (PQstatus(s->conn) == CONNECTION_OK) return RSP_OK;
  rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: cannot reconnect to %s: %s", s->where,
          PQerrorMessage(s->conn));
  return RSP_E_IO;
}

/* Between two tries: a few milliseconds, growing and jittered, so that two nodes that collided
 * do not collide again in lockstep. */
static void backoff(struct rsp__pg_store *s, unsigned attempt) {
  struct timespec ts = {0, (long)(1 + (unsigned)rand_r(&s->seed) % (2u * attempt)) * 1000000L};
  nanosleep(&ts, NULL);
}

static rsp_err_t tx_once(struct rsp__pg_store *s, rsp__pg_tx_fn fn, void *ctx) {
  rsp_err_t rc = simple(s, "BEGIN ISOLATION LEVEL READ COMMITTED");
  s->in_tx = rc == RSP_OK;
  if (rc == RSP_OK) rc = fn(s, ctx);
  if (rc == RSP_OK) rc = simple(s, "COMMIT");
  if (rc != RSP_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
    PGresult *r = PQexec(s->conn, "ROLLBACK");
    PQclear(r);
  }
  s->in_tx = false;
  return rc;
}

/* fn on its own: its one statement is a transaction by itself (autocommit). */
static rsp_err_t statement_once(struct rsp__pg_store *s, rsp__pg_tx_fn fn, void *ctx) {
  return fn(s, ctx);
}

/* Runs `once` (a transaction, or a single statement) again after a serialization failure or a
 * deadlock, at most RSP__PG_TRIES times in all, logging each retry. */
static rsp_err_t with_retries(struct rsp__pg_store *s,
                              rsp_err_t (*once)(struct rsp__pg_store *, rsp__pg_tx_fn, void *),
                              rsp__pg_tx_fn fn, void *ctx) {
  for (unsigned attempt = 1;; attempt++) {
    s->retry = false;
    rsp_err_t rc = once(s, fn, ctx);
    if (rc == RSP_OK || !s->retry) return rc;
    s->retries++;
    if (attempt == RSP__PG_TRIES) {
      rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP,
              "store: transaction on %s still conflicting after %u tries: given up", s->where,
              attempt);
      return RSP_E_IO;
    }
    rsp_log(RSP_LOG_INFO, RSP__EIM_COMP,
            "store: serialization failure or deadlock on %s, try %u of %u", s->where, attempt + 1,
            RSP__PG_TRIES);
    backoff(s, attempt);
  }
}

rsp_err_t rsp__pg_tx(struct rsp__pg_store *s, rsp__pg_tx_fn fn, void *ctx) {
  rsp_err_t rc = reconnect_if_needed(s);
  if (rc != RSP_OK) return rc;
  /* The polls held go first (the oldest batch, as SQLite writes it with a state change), in a
   * statement of their own: inside this transaction they would lock the rows of up to a batch of
   * devices until it commits (docs/adr/0010). */
  if (s->touches.n && (rc = rsp__pg_touches_write(s)) != RSP_OK)
    rsp_log(RSP_LOG_WARN, RSP__EIM_COMP, "store: polls of %zu devices not written yet: %s",
            s->touches.n, rsp_strerror(rc));
  return with_retries(s, tx_once, fn, ctx);
}

/* ---- held polls ------------------------------------------------------------------------------ */

struct touch_batch {
  size_t k;
  char *eids, *seen, *rplmn; /* PostgreSQL array literals */
};

/* The k oldest held polls as three array literals: EIDs are digits and the rPLMNs hex (or NULL),
 * so no element needs quoting. */
static rsp_err_t batch_build(const struct rsp__eim_touches *t, struct touch_batch *b) {
  size_t size = b->k * 40 + 3;
  char *pe, *ps, *pr;
  if (!(b->eids = rsp_malloc(size)) || !(b->seen = rsp_malloc(size)) ||
      !(b->rplmn = rsp_malloc(size)))
    return RSP_E_NOMEM;
  pe = b->eids, ps = b->seen, pr = b->rplmn;
  *pe++ = '{', *ps++ = '{', *pr++ = '{';
  for (size_t i = 0; i < b->k; i++) {
    const struct rsp__eim_touch *e = &t->v[i];
    const char *sep = i + 1 < b->k ? "," : "}";
    pe += sprintf(pe, "%s%s", e->eid, sep);
    ps += sprintf(ps, "%lld%s", (long long)e->last_seen, sep);
    if (e->has_rplmn)
      pr += sprintf(pr, "%02x%02x%02x%s", e->rplmn[0], e->rplmn[1], e->rplmn[2], sep);
    else
      pr += sprintf(pr, "NULL%s", sep);
  }
  return RSP_OK;
}

static rsp_err_t batch_write(struct rsp__pg_store *s, void *ctx) {
  const struct touch_batch *b = ctx;
  struct rsp__pg_args a = {0};
  rsp__pg_str(&a, b->eids);
  rsp__pg_str(&a, b->seen);
  rsp__pg_str(&a, b->rplmn);
  return rsp__pg_cmd(s, PQ_DEVICE_TOUCH, &a, NULL);
}

/* One statement for the whole batch, committed by itself (autocommit): one round trip per batch,
 * not per device, and no BEGIN or COMMIT of its own. */
rsp_err_t rsp__pg_touches_write(void *backend) {
  struct rsp__pg_store *s = backend;
  struct touch_batch b = {0};
  rsp_err_t rc;
  b.k = s->touches.n < RSP_EIM_TOUCH_BATCH_MAX ? s->touches.n : RSP_EIM_TOUCH_BATCH_MAX;
  if (b.k == 0) return RSP_OK;
  rc = batch_build(&s->touches, &b);
  if (rc == RSP_OK) rc = with_retries(s, statement_once, batch_write, &b);
  if (rc == RSP_OK) rsp__eim_touches_drop(&s->touches, b.k);
  rsp_free(b.eids);
  rsp_free(b.seen);
  rsp_free(b.rplmn);
  return rc;
}

/* ---- migrations ------------------------------------------------------------------------------ */

static rsp_err_t read_version(struct rsp__pg_store *s, long long *v) {
  PGresult *r = PQexec(s->conn, "SELECT version FROM schema_version");
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) return failed(s, r, "schema_version");
  *v = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : -1;
  PQclear(r);
  return *v >= 0 ? RSP_OK : simple(s, "INSERT INTO schema_version (version) VALUES (0)");
}

/* Applies one missing migration in its own transaction, under an advisory lock so that nodes
 * starting together migrate one after the other; *done when none is missing. */
static rsp_err_t migrate_one(struct rsp__pg_store *s, bool *done) {
  char text[96];
  long long v = 0;
  rsp_err_t rc = simple(s, "BEGIN");
  snprintf(text, sizeof text, "SELECT pg_advisory_xact_lock(%lld)", MIGRATION_LOCK_KEY);
  if (rc == RSP_OK) {
    PGresult *r = PQexec(s->conn, text);
    rc = r && PQresultStatus(r) == PGRES_TUPLES_OK ? RSP_OK : failed(s, r, "lock");
    if (rc == RSP_OK) PQclear(r);
  }
  if (rc == RSP_OK)
    rc = simple(s, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
  if (rc == RSP_OK && (rc = read_version(s, &v)) == RSP_OK && v < 0) v = 0;
  if (rc == RSP_OK && (v < 0 || (unsigned long long)v > COUNT(migrations))) {
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP,
            "store: %s has schema version %lld, newer than this release's %zu: refused", s->where,
            v, COUNT(migrations));
    rc = RSP_E_UNSUPPORTED;
  }
  *done = rc == RSP_OK && (unsigned long long)v == COUNT(migrations);
  if (rc == RSP_OK && !*done) {
    rsp_log(RSP_LOG_INFO, RSP__EIM_COMP, "store: migrating %s to schema version %lld", s->where,
            v + 1);
    snprintf(text, sizeof text, "UPDATE schema_version SET version = %lld", v + 1);
    rc = simple(s, migrations[v]);
    if (rc == RSP_OK) rc = simple(s, text);
  }
  if (rc == RSP_OK) return simple(s, "COMMIT");
  PQclear(PQexec(s->conn, "ROLLBACK"));
  return rc;
}

static rsp_err_t migrate(struct rsp__pg_store *s) {
  bool done = false;
  rsp_err_t rc = RSP_OK;
  while (rc == RSP_OK && !done) rc = migrate_one(s, &done);
  return rc;
}

/* ---- opening --------------------------------------------------------------------------------- */

/* "postgresql://user@host:port/dbname" from a connection string, never its password. */
void rsp__pg_describe(const char *conninfo, char *out, size_t size) {
  const char *user = "", *host = "", *port = "", *db = "";
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
  PQfreemem(err);
  if (!opts) {
    snprintf(out, size, "(an unreadable PostgreSQL connection string)");
    return;
  }
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    if (!o->val) continue;
    if (strcmp(o->keyword, "user") == 0) user = o->val;
    if (strcmp(o->keyword, "host") == 0 || (strcmp(o->keyword, "hostaddr") == 0 && !host[0]))
      host = o->val;
    if (strcmp(o->keyword, "port") == 0) port = o->val;
    if (strcmp(o->keyword, "dbname") == 0) db = o->val;
  }
  snprintf(out, size, "postgresql://%s%s%s%s%s/%s", user, user[0] ? "@" : "", host,
           port[0] ? ":" : "", port, db);
  PQconninfoFree(opts);
}

void rsp__pg_close(struct rsp_eim_store *base) {
  struct rsp__pg_store *s = (struct rsp__pg_store *)base;
  if (s->touches.n && s->conn && PQstatus(s->conn) == CONNECTION_OK &&
      rsp__eim_touches_flush(&s->touches, s->touch_ms, false, rsp__pg_touches_write, s) != RSP_OK)
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: the last polls of %zu devices are lost at close",
            s->touches.n);
  PQfinish(s->conn);
  rsp__eim_touches_free(&s->touches);
  rsp_free(s);
}

static rsp_err_t connect_db(struct rsp__pg_store *s, const char *conninfo) {
  PGresult *r;
  s->conn = PQconnectdb(conninfo);
  if (!s->conn) return RSP_E_NOMEM;
  if (PQstatus(s->conn) != CONNECTION_OK) {
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: cannot connect to %s: %s", s->where,
            PQerrorMessage(s->conn));
    return RSP_E_IO;
  }
  /* The schema's notices (CREATE TABLE IF NOT EXISTS ...) are not worth a line on stderr. */
  r = PQexec(s->conn, "SET client_min_messages = warning");
  PQclear(r);
  return RSP_OK;
}

rsp_err_t rsp_eim_store_pg_open(const char *conninfo, struct rsp_eim_store **out) {
  struct rsp__pg_store *s = NULL;
  rsp_err_t rc;
  if (out) *out = NULL;
  if (!conninfo || !out) return RSP_E_INVALID_ARG;
  if (!(s = rsp_calloc(1, sizeof *s))) return RSP_E_NOMEM;
  s->base.ops = &rsp__pg_ops;
  rsp__eim_touches_init(&s->touches);
  s->touch_ms = RSP_EIM_TOUCH_INTERVAL_MS;
  s->seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)s;
  rsp__pg_describe(conninfo, s->where, sizeof s->where);
  rc = connect_db(s, conninfo);
  if (rc == RSP_OK) rc = migrate(s);
  if (rc != RSP_OK) {
    rsp__pg_close(&s->base);
    return rc;
  }
  *out = &s->base;
  return RSP_OK;
}

/* ---- the held polls' members of the table ---------------------------------------------------- */

rsp_err_t rsp__pg_flush(struct rsp_eim_store *base, bool due_only) {
  struct rsp__pg_store *s = (struct rsp__pg_store *)base;
  return rsp__eim_touches_flush(&s->touches, s->touch_ms, due_only, rsp__pg_touches_write, s);
}

rsp_err_t rsp__pg_set_touch_interval(struct rsp_eim_store *base, unsigned ms) {
  ((struct rsp__pg_store *)base)->touch_ms = ms;
  return RSP_OK;
}

size_t rsp__pg_touches_held(struct rsp_eim_store *base) {
  return ((struct rsp__pg_store *)base)->touches.n;
}
