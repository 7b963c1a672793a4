/* The SM-DP+ store: profiles, orders, download sessions, eUICC keys, notifications and the
 * operator outbox in one SQLite file (WAL, synchronous=FULL, foreign keys on).
 *
 * The schema is versioned: schema_version holds the number of migrations applied, and opening
 * the file applies the missing ones in one transaction, so an old file is upgraded in place and
 * a file from a newer release is refused rather than misread. States are stored by name so the
 * file reads well in the sqlite3 shell and does not depend on enum values. The callers group the
 * statements of one state change between rsp__smdp_begin and rsp__smdp_end. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "smdp_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names -------------------------------------------------------------------------------------
 */

static const char *const profile_states[] = {NULL,        "available",  "allocated",  "linked",
                                             "confirmed", "released",   "downloaded", "installed",
                                             "error",     "unavailable"};
static const char *const order_states[] = {NULL,       "allocated",  "confirmed",
                                           "released", "downloaded", "installed",
                                           "failed",   "cancelled",  "expired"};
static const char *const stages[] = {
    [RSP_SMDP_STAGE_NEW] = "new",
    [RSP_SMDP_STAGE_AUTH_SENT] = "auth_sent",
    [RSP_SMDP_STAGE_AUTHENTICATED] = "authenticated",
    [RSP_SMDP_STAGE_PREPARE_SENT] = "prepare_sent",
    [RSP_SMDP_STAGE_PREPARED] = "prepared",
    [RSP_SMDP_STAGE_BOUND] = "bound",
    [RSP_SMDP_STAGE_CLOSED] = "closed",
};

const char *rsp_smdp_profile_state_name(enum rsp_smdp_profile_state s) {
  return s > 0 && (size_t)s < COUNT(profile_states) ? profile_states[s] : "unknown";
}

const char *rsp_smdp_order_state_name(enum rsp_smdp_order_state s) {
  return s > 0 && (size_t)s < COUNT(order_states) ? order_states[s] : "unknown";
}

/* Index of a stored name in its table; -1 when unknown. */
static int name_index(const char *const *names, size_t n, const unsigned char *s) {
  for (size_t i = 0; s && i < n; i++)
    if (names[i] && strcmp(names[i], (const char *)s) == 0) return (int)i;
  return -1;
}

/* ---- statements --------------------------------------------------------------------------------
 */

static rsp_err_t exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK) return RSP_OK;
  rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "store: %s", err ? err : sqlite3_errmsg(db));
  sqlite3_free(err);
  return RSP_E_IO;
}

static rsp_err_t prep(sqlite3 *db, const char *sql, sqlite3_stmt **st) {
  if (sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK) return RSP_OK;
  rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "store: %s", sqlite3_errmsg(db));
  *st = NULL;
  return RSP_E_IO;
}

/* Runs a statement that returns no row and finalizes it. A constraint (unique ICCID or matchingId)
 * is RSP_E_EXISTS. */
static rsp_err_t step_done(sqlite3 *db, sqlite3_stmt *st) {
  int r = sqlite3_step(st);
  rsp_err_t rc = RSP_OK;
  if ((r & 0xFF) == SQLITE_CONSTRAINT) {
    rc = RSP_E_EXISTS;
  } else if (r != SQLITE_DONE) {
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "store: %s", sqlite3_errmsg(db));
    rc = RSP_E_IO;
  }
  sqlite3_finalize(st);
  return rc;
}

/* One row: RSP_OK, RSP_E_NOT_FOUND when there is none, RSP_E_IO. Does not finalize. */
static rsp_err_t step_row(sqlite3 *db, sqlite3_stmt *st) {
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) return RSP_OK;
  if (r == SQLITE_DONE) return RSP_E_NOT_FOUND;
  rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "store: %s", sqlite3_errmsg(db));
  return RSP_E_IO;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (s && s[0])
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n) {
  if (!p)
    sqlite3_bind_null(st, i);
  else if (n == 0)
    sqlite3_bind_zeroblob(st, i, 0);
  else
    sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t size) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(out, size, "%s", t ? (const char *)t : "");
}

/* A blob of exactly n bytes. */
static bool col_fixed(sqlite3_stmt *st, int i, void *out, size_t n) {
  const void *b = sqlite3_column_blob(st, i);
  if (!b || (size_t)sqlite3_column_bytes(st, i) != n) return false;
  memcpy(out, b, n);
  return true;
}

/* ---- opening and migrations ------------------------------------------------------------------ */

/* Migration i brings the schema from version i to i + 1; never edit one that was released. */
static const char *const migrations[] = {
    "CREATE TABLE profile (iccid TEXT PRIMARY KEY, profile_type TEXT NOT NULL, spn TEXT NOT NULL,"
    " name TEXT NOT NULL, upp BLOB, upp_path TEXT, state TEXT NOT NULL, updated INTEGER NOT NULL,"
    " CHECK ((upp IS NULL) <> (upp_path IS NULL)));"
    "CREATE INDEX profile_pick ON profile (profile_type, state);"
    "CREATE TABLE download_order (id INTEGER PRIMARY KEY,"
    " iccid TEXT NOT NULL REFERENCES profile (iccid), eid TEXT, matching_id TEXT UNIQUE,"
    " cc_hash BLOB, release_flag INTEGER NOT NULL, created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, cc_retries INTEGER NOT NULL, state TEXT NOT NULL,"
    " requester TEXT NOT NULL, profile_type TEXT NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX order_iccid ON download_order (iccid, id);"
    "CREATE TABLE session (transaction_id BLOB PRIMARY KEY,"
    " order_id INTEGER REFERENCES download_order (id), stage TEXT NOT NULL,"
    " server_challenge BLOB NOT NULL, euicc_challenge BLOB NOT NULL,"
    " server_address TEXT NOT NULL, eid BLOB NOT NULL, euicc_curve TEXT, euicc_point BLOB,"
    " euicc_signature1 BLOB NOT NULL, matching_id BLOB, cc_required INTEGER NOT NULL,"
    " hash_cc BLOB NOT NULL, smdp_signature2 BLOB NOT NULL, euicc_otpk BLOB NOT NULL,"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL);"
    "CREATE INDEX session_order ON session (order_id);"
    "CREATE TABLE euicc (eid TEXT PRIMARY KEY, curve TEXT NOT NULL, point BLOB NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE notification (id INTEGER PRIMARY KEY, received INTEGER NOT NULL, eid TEXT,"
    " iccid TEXT, seq_number INTEGER, event INTEGER, pir INTEGER NOT NULL,"
    " success INTEGER NOT NULL, verified INTEGER NOT NULL, raw BLOB NOT NULL);"
    "CREATE UNIQUE INDEX notification_once ON notification (eid, seq_number) WHERE verified = 1;"
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL,"
    " requester TEXT NOT NULL, path TEXT NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL,"
    " sent INTEGER);"
    "CREATE INDEX outbox_pending ON outbox (sent, id);",
    /* 2: the SM-DS (docs/smdp.md "The SM-DS"): the SM-DP+'s orders with an smdsAddress and the
     * ES12 calls it owes the SM-DS, and the SM-DS's own events. smds_event: 0 none, 1 the
     * registration is queued, 2 the deletion is queued. */
    "ALTER TABLE download_order ADD COLUMN smds_address TEXT;"
    "ALTER TABLE download_order ADD COLUMN smds_event INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE es12_outbox (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL,"
    " smds_address TEXT NOT NULL, path TEXT NOT NULL, body TEXT NOT NULL,"
    " created INTEGER NOT NULL, sent INTEGER, outcome TEXT);"
    "CREATE INDEX es12_pending ON es12_outbox (sent, id);"
    "CREATE TABLE smds_event (id INTEGER PRIMARY KEY, eid TEXT NOT NULL, event_id TEXT NOT NULL,"
    " rsp_server_address TEXT NOT NULL, forwarding INTEGER NOT NULL, created INTEGER NOT NULL,"
    " UNIQUE (eid, event_id, rsp_server_address));",
};

static rsp_err_t schema_version(sqlite3 *db, int64_t *v) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, "SELECT version FROM schema_version", &st);
  if (rc == RSP_OK) rc = step_row(db, st);
  if (rc == RSP_OK) *v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (rc == RSP_E_NOT_FOUND) {
    *v = 0;
    rc = exec(db, "INSERT INTO schema_version (version) VALUES (0)");
  }
  return rc;
}

static rsp_err_t migrate(sqlite3 *db) {
  int64_t v = 0;
  char sql[80];
  rsp_err_t rc = rsp__smdp_begin(db);
  if (rc != RSP_OK) return rc;
  rc = exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  if (rc == RSP_OK) rc = schema_version(db, &v);
  if (rc == RSP_OK && (v < 0 || (uint64_t)v > COUNT(migrations))) {
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "store: schema version %lld is newer than %zu",
            (long long)v, COUNT(migrations));
    rc = RSP_E_UNSUPPORTED;
  }
  for (size_t i = (size_t)v; rc == RSP_OK && i < COUNT(migrations); i++) {
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "store: migrating schema to version %zu", i + 1);
    rc = exec(db, migrations[i]);
  }
  snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %zu", COUNT(migrations));
  if (rc == RSP_OK) rc = exec(db, sql);
  return rsp__smdp_end(db, rc);
}

rsp_err_t rsp__smdp_db_open(const char *path, sqlite3 **out) {
  sqlite3 *db = NULL;
  rsp_err_t rc = RSP_E_IO;
  *out = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "cannot open the store %s: %s", path,
            db ? sqlite3_errmsg(db) : "out of memory");
    goto out;
  }
  sqlite3_busy_timeout(db, 5000);
  rc = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  if (rc == RSP_OK) rc = migrate(db);
out:
  if (rc != RSP_OK) {
    sqlite3_close(db);
    db = NULL;
  }
  *out = db;
  return rc;
}

void rsp__smdp_db_close(sqlite3 *db) { sqlite3_close(db); }

rsp_err_t rsp__smdp_begin(sqlite3 *db) { return exec(db, "BEGIN IMMEDIATE"); }

rsp_err_t rsp__smdp_end(sqlite3 *db, rsp_err_t rc) {
  if (rc == RSP_OK && (rc = exec(db, "COMMIT")) == RSP_OK) return RSP_OK;
  if (!sqlite3_get_autocommit(db)) exec(db, "ROLLBACK");
  return rc;
}

/* ---- profiles ----------------------------------------------------------------------------------
 */

#define PROFILE_COLS "iccid, profile_type, spn, name, state"

static rsp_err_t profile_read(sqlite3_stmt *st, struct rsp__smdp_profile_row *p) {
  int s = name_index(profile_states, COUNT(profile_states), sqlite3_column_text(st, 4));
  col_text(st, 0, p->iccid, sizeof p->iccid);
  col_text(st, 1, p->profile_type, sizeof p->profile_type);
  col_text(st, 2, p->spn, sizeof p->spn);
  col_text(st, 3, p->name, sizeof p->name);
  p->state = (enum rsp_smdp_profile_state)s;
  return s > 0 ? RSP_OK : RSP_E_IO;
}

rsp_err_t rsp__smdp_profile_insert(sqlite3 *db, const struct rsp__smdp_profile_row *p,
                                   struct rsp_slice upp, const char *upp_path, int64_t now) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "INSERT INTO profile (iccid, profile_type, spn, name, upp, upp_path, state,"
                      " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_text(st, 1, p->iccid, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, p->profile_type, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, p->spn, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, p->name, -1, SQLITE_TRANSIENT);
  bind_blob(st, 5, upp_path ? NULL : upp.p, upp.len);
  bind_text(st, 6, upp_path);
  sqlite3_bind_text(st, 7, rsp_smdp_profile_state_name(p->state), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, now);
  return step_done(db, st);
}

rsp_err_t rsp__smdp_profile_get(sqlite3 *db, const char *iccid, struct rsp__smdp_profile_row *p) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, "SELECT " PROFILE_COLS " FROM profile WHERE iccid = ?", &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_text(st, 1, iccid, -1, SQLITE_TRANSIENT);
  if ((rc = step_row(db, st)) == RSP_OK) rc = profile_read(st, p);
  sqlite3_finalize(st);
  return rc;
}

rsp_err_t rsp__smdp_profile_pick(sqlite3 *db, const char *type, struct rsp__smdp_profile_row *p,
                                 bool *type_known) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "SELECT " PROFILE_COLS " FROM profile WHERE profile_type = ?1 AND"
                      " state = 'available' ORDER BY iccid LIMIT 1",
                      &st);
  *type_known = false;
  if (rc != RSP_OK) return rc;
  sqlite3_bind_text(st, 1, type, -1, SQLITE_TRANSIENT);
  if ((rc = step_row(db, st)) == RSP_OK) rc = profile_read(st, p);
  sqlite3_finalize(st);
  *type_known = rc == RSP_OK;
  if (rc != RSP_E_NOT_FOUND) return rc;
  if (prep(db, "SELECT 1 FROM profile WHERE profile_type = ? LIMIT 1", &st) != RSP_OK)
    return RSP_E_IO;
  sqlite3_bind_text(st, 1, type, -1, SQLITE_TRANSIENT);
  rsp_err_t known = step_row(db, st);
  sqlite3_finalize(st);
  if (known != RSP_OK && known != RSP_E_NOT_FOUND) return known;
  *type_known = known == RSP_OK;
  return RSP_E_NOT_FOUND;
}

rsp_err_t rsp__smdp_profile_set_state(sqlite3 *db, const char *iccid, enum rsp_smdp_profile_state s,
                                      int64_t now) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, "UPDATE profile SET state = ?, updated = ? WHERE iccid = ?", &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_text(st, 1, rsp_smdp_profile_state_name(s), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now);
  sqlite3_bind_text(st, 3, iccid, -1, SQLITE_TRANSIENT);
  rc = step_done(db, st);
  if (rc == RSP_OK && sqlite3_changes(db) != 1) rc = RSP_E_NOT_FOUND;
  return rc;
}

rsp_err_t rsp__smdp_read_file(const char *path, struct rsp_buf *out) {
  uint8_t chunk[8192];
  size_t n, start = out->len;
  rsp_err_t rc = RSP_OK;
  FILE *f = fopen(path, "rb");
  if (!f) {
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "profile package %s: %s", path, strerror(errno));
    return RSP_E_IO;
  }
  while (rc == RSP_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (out->len - start + n > RSP_SMDP_UPP_MAX)
      rc = RSP_E_BUF_CAP;
    else
      rc = rsp_buf_append(out, chunk, n);
  }
  if (rc == RSP_OK && ferror(f)) rc = RSP_E_IO;
  fclose(f);
  if (rc != RSP_OK) out->len = start;
  return rc;
}

rsp_err_t rsp__smdp_profile_upp(sqlite3 *db, const char *iccid, struct rsp_buf *out) {
  sqlite3_stmt *st = NULL;
  char path[RSP__SMDP_UPP_PATH_MAX];
  rsp_err_t rc = prep(db, "SELECT upp, upp_path FROM profile WHERE iccid = ?", &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_text(st, 1, iccid, -1, SQLITE_TRANSIENT);
  if ((rc = step_row(db, st)) != RSP_OK) goto out;
  if (sqlite3_column_type(st, 0) == SQLITE_BLOB) {
    const void *b = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    rc = b && n > 0 ? rsp_buf_append(out, b, (size_t)n) : RSP_E_IO;
    goto out;
  }
  col_text(st, 1, path, sizeof path);
  rc = path[0] ? rsp__smdp_read_file(path, out) : RSP_E_IO;
out:
  sqlite3_finalize(st);
  return rc;
}

/* ---- orders ------------------------------------------------------------------------------------
 */

#define ORDER_COLS                                                                                 \
  "id, iccid, eid, matching_id, cc_hash, release_flag, created, expires, cc_retries, state,"       \
  " requester, profile_type, smds_address, smds_event"

static rsp_err_t order_read(sqlite3_stmt *st, struct rsp__smdp_order_row *o) {
  int s = name_index(order_states, COUNT(order_states), sqlite3_column_text(st, 9));
  memset(o, 0, sizeof *o);
  o->id = sqlite3_column_int64(st, 0);
  col_text(st, 1, o->iccid, sizeof o->iccid);
  col_text(st, 2, o->eid, sizeof o->eid);
  col_text(st, 3, o->matching_id, sizeof o->matching_id);
  o->has_cc = col_fixed(st, 4, o->cc_hash, sizeof o->cc_hash);
  o->release_flag = sqlite3_column_int(st, 5) != 0;
  o->created = sqlite3_column_int64(st, 6);
  o->expires = sqlite3_column_int64(st, 7);
  o->cc_retries = sqlite3_column_int64(st, 8);
  o->state = (enum rsp_smdp_order_state)s;
  col_text(st, 10, o->requester, sizeof o->requester);
  col_text(st, 11, o->profile_type, sizeof o->profile_type);
  col_text(st, 12, o->smds_address, sizeof o->smds_address);
  o->smds_event = sqlite3_column_int(st, 13);
  return s > 0 ? RSP_OK : RSP_E_IO;
}

/* Binds ?1..?13 in the order of the column list after id. */
static void order_bind(sqlite3_stmt *st, const struct rsp__smdp_order_row *o) {
  sqlite3_bind_text(st, 1, o->iccid, -1, SQLITE_TRANSIENT);
  bind_text(st, 2, o->eid);
  bind_text(st, 3, o->matching_id);
  bind_blob(st, 4, o->has_cc ? o->cc_hash : NULL, sizeof o->cc_hash);
  sqlite3_bind_int(st, 5, o->release_flag);
  sqlite3_bind_int64(st, 6, o->created);
  sqlite3_bind_int64(st, 7, o->expires);
  sqlite3_bind_int64(st, 8, o->cc_retries);
  sqlite3_bind_text(st, 9, rsp_smdp_order_state_name(o->state), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 10, o->requester, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 11, o->profile_type, -1, SQLITE_TRANSIENT);
  bind_text(st, 12, o->smds_address);
  sqlite3_bind_int(st, 13, o->smds_event);
}

rsp_err_t rsp__smdp_order_insert(sqlite3 *db, struct rsp__smdp_order_row *o) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "INSERT INTO download_order (iccid, eid, matching_id, cc_hash, release_flag,"
                      " created, expires, cc_retries, state, requester, profile_type,"
                      " smds_address, smds_event, updated)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?6)",
                      &st);
  if (rc != RSP_OK) return rc;
  order_bind(st, o);
  if ((rc = step_done(db, st)) == RSP_OK) o->id = sqlite3_last_insert_rowid(db);
  return rc;
}

rsp_err_t rsp__smdp_order_update(sqlite3 *db, const struct rsp__smdp_order_row *o) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "UPDATE download_order SET iccid = ?1, eid = ?2, matching_id = ?3,"
                      " cc_hash = ?4, release_flag = ?5, created = ?6, expires = ?7,"
                      " cc_retries = ?8, state = ?9, requester = ?10, profile_type = ?11,"
                      " smds_address = ?12, smds_event = ?13,"
                      " updated = CAST(strftime('%s', 'now') AS INTEGER) WHERE id = ?14",
                      &st);
  if (rc != RSP_OK) return rc;
  order_bind(st, o);
  sqlite3_bind_int64(st, 14, o->id);
  rc = step_done(db, st);
  if (rc == RSP_OK && sqlite3_changes(db) != 1) rc = RSP_E_NOT_FOUND;
  return rc;
}

/* One order selected by `where` with one parameter (text or integer). */
static rsp_err_t order_select(sqlite3 *db, const char *sql, const char *text, int64_t num,
                              struct rsp__smdp_order_row *o) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, sql, &st);
  if (rc != RSP_OK) return rc;
  if (text)
    sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_int64(st, 1, num);
  if ((rc = step_row(db, st)) == RSP_OK) rc = order_read(st, o);
  sqlite3_finalize(st);
  return rc;
}

rsp_err_t rsp__smdp_order_by_id(sqlite3 *db, int64_t id, struct rsp__smdp_order_row *o) {
  return order_select(db, "SELECT " ORDER_COLS " FROM download_order WHERE id = ?", NULL, id, o);
}

rsp_err_t rsp__smdp_order_by_matching_id(sqlite3 *db, const char *mid,
                                         struct rsp__smdp_order_row *o) {
  return order_select(db, "SELECT " ORDER_COLS " FROM download_order WHERE matching_id = ?", mid, 0,
                      o);
}

rsp_err_t rsp__smdp_order_for_eid(sqlite3 *db, const char *eid, struct rsp__smdp_order_row *o) {
  return order_select(db,
                      "SELECT " ORDER_COLS " FROM download_order WHERE eid = ? AND"
                      " matching_id IS NULL AND state = 'released' ORDER BY id LIMIT 1",
                      eid, 0, o);
}

rsp_err_t rsp__smdp_order_latest(sqlite3 *db, const char *iccid, struct rsp__smdp_order_row *o) {
  return order_select(db,
                      "SELECT " ORDER_COLS " FROM download_order WHERE iccid = ?"
                      " ORDER BY id DESC LIMIT 1",
                      iccid, 0, o);
}

rsp_err_t rsp__smdp_orders_due(sqlite3 *db, int64_t now, int64_t *ids, size_t n, size_t *count) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "SELECT id FROM download_order WHERE state IN ('allocated', 'confirmed',"
                      " 'released') AND expires <= ? ORDER BY id LIMIT ?",
                      &st);
  *count = 0;
  if (rc != RSP_OK) return rc;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, (int64_t)n);
  while ((rc = step_row(db, st)) == RSP_OK && *count < n)
    ids[(*count)++] = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

/* ---- sessions ----------------------------------------------------------------------------------
 */

#define SESSION_COLS                                                                               \
  "transaction_id, order_id, stage, server_challenge, euicc_challenge, server_address, eid,"       \
  " euicc_curve, euicc_point, euicc_signature1, matching_id, cc_required, hash_cc,"                \
  " smdp_signature2, euicc_otpk, created, expires"

/* Binds ?1..?17 in the order of SESSION_COLS. */
static rsp_err_t session_bind(sqlite3_stmt *st, const struct rsp__smdp_session_row *r) {
  const struct rsp_smdp_session *s = &r->s;
  uint8_t point[RSP_EC_POINT_LEN];
  if (s->euicc_pk && rsp_key_point(s->euicc_pk, point) != RSP_OK) return RSP_E_KEY_INVALID;
  bind_blob(st, 1, s->transaction_id, s->transaction_id_len);
  if (r->order_id)
    sqlite3_bind_int64(st, 2, r->order_id);
  else
    sqlite3_bind_null(st, 2);
  sqlite3_bind_text(st, 3, stages[s->stage], -1, SQLITE_STATIC);
  bind_blob(st, 4, s->server_challenge, RSP_SMDP_CHALLENGE_LEN);
  bind_blob(st, 5, s->euicc_challenge, RSP_SMDP_CHALLENGE_LEN);
  sqlite3_bind_text(st, 6, s->server_address, -1, SQLITE_TRANSIENT);
  bind_blob(st, 7, s->eid, RSP_EID_LEN);
  bind_text(st, 8, s->euicc_pk ? rsp_curve_name(s->euicc_curve) : NULL);
  bind_blob(st, 9, s->euicc_pk ? point : NULL, RSP_EC_POINT_LEN);
  bind_blob(st, 10, s->euicc_signature1, RSP_SIG_RAW_LEN);
  bind_blob(st, 11, s->has_matching_id ? s->matching_id : NULL, s->matching_id_len);
  sqlite3_bind_int(st, 12, s->cc_required);
  bind_blob(st, 13, s->hash_cc, RSP_SMDP_HASH_CC_LEN);
  bind_blob(st, 14, s->smdp_signature2, RSP_SIG_RAW_LEN);
  bind_blob(st, 15, s->euicc_otpk, RSP_EC_POINT_LEN);
  sqlite3_bind_int64(st, 16, r->created);
  sqlite3_bind_int64(st, 17, r->expires);
  return RSP_OK;
}

static rsp_err_t session_write(sqlite3 *db, const char *sql,
                               const struct rsp__smdp_session_row *r) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, sql, &st);
  if (rc == RSP_OK && (rc = session_bind(st, r)) != RSP_OK) sqlite3_finalize(st);
  if (rc == RSP_OK) rc = step_done(db, st);
  return rc;
}

rsp_err_t rsp__smdp_session_insert(sqlite3 *db, const struct rsp__smdp_session_row *r) {
  return session_write(db,
                       "INSERT INTO session (" SESSION_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                       " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                       r);
}

rsp_err_t rsp__smdp_session_update(sqlite3 *db, const struct rsp__smdp_session_row *r) {
  return session_write(db,
                       "UPDATE session SET order_id = ?2, stage = ?3, server_challenge = ?4,"
                       " euicc_challenge = ?5, server_address = ?6, eid = ?7, euicc_curve = ?8,"
                       " euicc_point = ?9, euicc_signature1 = ?10, matching_id = ?11,"
                       " cc_required = ?12, hash_cc = ?13, smdp_signature2 = ?14,"
                       " euicc_otpk = ?15, created = ?16, expires = ?17 WHERE transaction_id = ?1",
                       r);
}

/* PK.EUICC from its curve name and point (columns 7 and 8). */
static rsp_err_t session_key(sqlite3_stmt *st, struct rsp_smdp_session *s) {
  uint8_t point[RSP_EC_POINT_LEN];
  if (sqlite3_column_type(st, 8) == SQLITE_NULL) return RSP_OK;
  s->euicc_curve = rsp_curve_parse((const char *)sqlite3_column_text(st, 7));
  if (!col_fixed(st, 8, point, sizeof point)) return RSP_E_IO;
  return rsp_key_from_point(s->euicc_curve, point, sizeof point, &s->euicc_pk);
}

static rsp_err_t session_read(sqlite3_stmt *st, struct rsp__smdp_session_row *r) {
  struct rsp_smdp_session *s = &r->s;
  int stage = name_index(stages, COUNT(stages), sqlite3_column_text(st, 2));
  int mlen = sqlite3_column_bytes(st, 10);
  int tlen = sqlite3_column_bytes(st, 0);
  if (stage < 0 || tlen < 1 || tlen > RSP_SMDP_TRANSACTION_ID_LEN || mlen < 0 ||
      mlen > RSP_SMDP_MATCHING_ID_MAX)
    return RSP_E_IO;
  s->stage = (enum rsp_smdp_stage)stage;
  s->transaction_id_len = (size_t)tlen;
  memcpy(s->transaction_id, sqlite3_column_blob(st, 0), (size_t)tlen);
  r->order_id = sqlite3_column_int64(st, 1);
  col_text(st, 5, s->server_address, sizeof s->server_address);
  s->has_matching_id = sqlite3_column_type(st, 10) != SQLITE_NULL;
  s->matching_id_len = s->has_matching_id ? (size_t)mlen : 0;
  if (s->matching_id_len) memcpy(s->matching_id, sqlite3_column_blob(st, 10), s->matching_id_len);
  s->cc_required = sqlite3_column_int(st, 11) != 0;
  r->created = sqlite3_column_int64(st, 15);
  r->expires = sqlite3_column_int64(st, 16);
  if (!col_fixed(st, 3, s->server_challenge, RSP_SMDP_CHALLENGE_LEN) ||
      !col_fixed(st, 4, s->euicc_challenge, RSP_SMDP_CHALLENGE_LEN) ||
      !col_fixed(st, 6, s->eid, RSP_EID_LEN) ||
      !col_fixed(st, 9, s->euicc_signature1, RSP_SIG_RAW_LEN) ||
      !col_fixed(st, 12, s->hash_cc, RSP_SMDP_HASH_CC_LEN) ||
      !col_fixed(st, 13, s->smdp_signature2, RSP_SIG_RAW_LEN) ||
      !col_fixed(st, 14, s->euicc_otpk, RSP_EC_POINT_LEN))
    return RSP_E_IO;
  return session_key(st, s);
}

rsp_err_t rsp__smdp_session_get(sqlite3 *db, struct rsp_slice txid,
                                struct rsp__smdp_session_row *r) {
  sqlite3_stmt *st = NULL;
  memset(r, 0, sizeof *r);
  rsp_smdp_session_init(&r->s);
  rsp_err_t rc = prep(db, "SELECT " SESSION_COLS " FROM session WHERE transaction_id = ?", &st);
  if (rc != RSP_OK) return rc;
  bind_blob(st, 1, txid.p, txid.len);
  if ((rc = step_row(db, st)) == RSP_OK) rc = session_read(st, r);
  sqlite3_finalize(st);
  if (rc != RSP_OK && rc != RSP_E_NOT_FOUND)
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "store: unreadable session: %s", rsp_strerror(rc));
  return rc;
}

rsp_err_t rsp__smdp_sessions_close(sqlite3 *db, int64_t order_id, struct rsp_slice keep) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "UPDATE session SET stage = 'closed' WHERE order_id = ? AND"
                      " stage <> 'closed' AND transaction_id IS NOT ?",
                      &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_int64(st, 1, order_id);
  bind_blob(st, 2, keep.p, keep.len);
  return step_done(db, st);
}

rsp_err_t rsp__smdp_sessions_purge(sqlite3 *db, int64_t before, size_t *count) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, "DELETE FROM session WHERE expires < ?", &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_int64(st, 1, before);
  if ((rc = step_done(db, st)) == RSP_OK && count) *count = (size_t)sqlite3_changes(db);
  return rc;
}

/* ---- eUICC keys --------------------------------------------------------------------------------
 */

rsp_err_t rsp__smdp_euicc_put(sqlite3 *db, const uint8_t eid[RSP_EID_LEN], const struct rsp_key *pk,
                              int64_t now) {
  sqlite3_stmt *st = NULL;
  uint8_t point[RSP_EC_POINT_LEN];
  char digits[RSP_EID_DIGITS + 1];
  rsp_err_t rc = rsp_eid_to_string(eid, digits);
  if (rc == RSP_OK) rc = rsp_key_point(pk, point);
  if (rc == RSP_OK)
    rc = prep(db,
              "INSERT INTO euicc (eid, curve, point, updated) VALUES (?, ?, ?, ?)"
              " ON CONFLICT (eid) DO UPDATE SET curve = excluded.curve,"
              " point = excluded.point, updated = excluded.updated",
              &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_text(st, 1, digits, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, rsp_curve_name(rsp_key_curve(pk)), -1, SQLITE_TRANSIENT);
  bind_blob(st, 3, point, sizeof point);
  sqlite3_bind_int64(st, 4, now);
  return step_done(db, st);
}

rsp_err_t rsp__smdp_euicc_get(sqlite3 *db, const char *eid, struct rsp_key **pk) {
  sqlite3_stmt *st = NULL;
  uint8_t point[RSP_EC_POINT_LEN];
  *pk = NULL;
  rsp_err_t rc = prep(db, "SELECT curve, point FROM euicc WHERE eid = ?", &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_TRANSIENT);
  if ((rc = step_row(db, st)) == RSP_OK)
    rc = col_fixed(st, 1, point, sizeof point)
             ? rsp_key_from_point(rsp_curve_parse((const char *)sqlite3_column_text(st, 0)), point,
                                  sizeof point, pk)
             : RSP_E_IO;
  sqlite3_finalize(st);
  return rc;
}

/* ---- notifications -----------------------------------------------------------------------------
 */

rsp_err_t rsp__smdp_notification_add(sqlite3 *db, const struct rsp__smdp_notification_row *n,
                                     int64_t now) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "INSERT OR IGNORE INTO notification (received, eid, iccid, seq_number, event,"
                      " pir, success, verified, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_int64(st, 1, now);
  bind_text(st, 2, n->eid);
  bind_text(st, 3, n->iccid);
  sqlite3_bind_int64(st, 4, n->seq_number);
  if (n->event >= 0)
    sqlite3_bind_int(st, 5, n->event);
  else
    sqlite3_bind_null(st, 5);
  sqlite3_bind_int(st, 6, n->pir);
  sqlite3_bind_int(st, 7, n->success);
  sqlite3_bind_int(st, 8, n->verified);
  bind_blob(st, 9, n->raw.p, n->raw.len);
  return step_done(db, st);
}

rsp_err_t rsp__smdp_notification_last(sqlite3 *db, struct rsp_smdp_notification_info *out) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "SELECT id, eid, iccid, seq_number, event, pir, success, verified"
                      " FROM notification ORDER BY id DESC LIMIT 1",
                      &st);
  if (rc != RSP_OK) return rc;
  memset(out, 0, sizeof *out);
  if ((rc = step_row(db, st)) == RSP_OK) {
    out->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, out->eid, sizeof out->eid);
    col_text(st, 2, out->iccid, sizeof out->iccid);
    out->seq_number = sqlite3_column_int64(st, 3);
    out->event = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 4);
    out->pir = sqlite3_column_int(st, 5) != 0;
    out->success = sqlite3_column_int(st, 6) != 0;
    out->verified = sqlite3_column_int(st, 7) != 0;
  }
  sqlite3_finalize(st);
  return rc;
}

/* ---- outboxes ----------------------------------------------------------------------------------
 * Two tables of the same shape: ES2+ notifications to the operator (outbox: requester) and ES12
 * calls to the SM-DS (es12_outbox: smds_address). Each row is a destination, a path and a body,
 * sent once. */

static rsp_err_t outbox_insert(sqlite3 *db, const char *sql, int64_t order_id, const char *dest,
                               const char *path, const char *body, int64_t now) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, sql, &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_int64(st, 1, order_id);
  sqlite3_bind_text(st, 2, dest, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, path, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, body, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 5, now);
  return step_done(db, st);
}

/* Where outbox_oldest puts a row: the caller's fields. */
struct outbox_row {
  int64_t *id, *order_id;
  char *dest;
  size_t dest_size;
  char *path;
  size_t path_size;
  char **body; /* owned by the caller once set: rsp_free */
  size_t *body_len;
};

/* `sql` selects id, order_id, destination, path, body of the oldest unsent row. */
static rsp_err_t outbox_oldest(sqlite3 *db, const char *sql, const struct outbox_row *row) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, sql, &st);
  if (rc != RSP_OK) return rc;
  if ((rc = step_row(db, st)) == RSP_OK) {
    const unsigned char *body = sqlite3_column_text(st, 4);
    *row->id = sqlite3_column_int64(st, 0);
    *row->order_id = sqlite3_column_int64(st, 1);
    col_text(st, 2, row->dest, row->dest_size);
    col_text(st, 3, row->path, row->path_size);
    *row->body_len = (size_t)sqlite3_column_bytes(st, 4);
    *row->body = body ? rsp_strdup((const char *)body) : NULL;
    if (!*row->body) rc = RSP_E_NOMEM;
  }
  sqlite3_finalize(st);
  return rc;
}

rsp_err_t rsp__smdp_outbox_add(sqlite3 *db, int64_t order_id, const char *requester,
                               const char *path, const char *body, int64_t now) {
  return outbox_insert(db,
                       "INSERT INTO outbox (order_id, requester, path, body, created)"
                       " VALUES (?, ?, ?, ?, ?)",
                       order_id, requester, path, body, now);
}

rsp_err_t rsp__smdp_outbox_next(sqlite3 *db, struct rsp_smdp_outbox_item *item) {
  memset(item, 0, sizeof *item);
  struct outbox_row row = {.id = &item->id,
                           .order_id = &item->order_id,
                           .dest = item->requester,
                           .dest_size = sizeof item->requester,
                           .path = item->path,
                           .path_size = sizeof item->path,
                           .body = &item->body,
                           .body_len = &item->body_len};
  return outbox_oldest(db,
                       "SELECT id, order_id, requester, path, body FROM outbox WHERE sent IS NULL"
                       " ORDER BY id LIMIT 1",
                       &row);
}

rsp_err_t rsp__smdp_outbox_done(sqlite3 *db, int64_t id, int64_t now) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, "UPDATE outbox SET sent = ? WHERE id = ? AND sent IS NULL", &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, id);
  rc = step_done(db, st);
  if (rc == RSP_OK && sqlite3_changes(db) != 1) rc = RSP_E_NOT_FOUND;
  return rc;
}

/* ---- ES12 outbox (SM-DP+ -> SM-DS) -------------------------------------------------------------
 */

rsp_err_t rsp__smdp_es12_add(sqlite3 *db, int64_t order_id, const char *smds_address,
                             const char *path, const char *body, int64_t now) {
  return outbox_insert(db,
                       "INSERT INTO es12_outbox (order_id, smds_address, path, body, created)"
                       " VALUES (?, ?, ?, ?, ?)",
                       order_id, smds_address, path, body, now);
}

rsp_err_t rsp__smdp_es12_next(sqlite3 *db, struct rsp__smdp_es12_item *item) {
  memset(item, 0, sizeof *item);
  struct outbox_row row = {.id = &item->id,
                           .order_id = &item->order_id,
                           .dest = item->smds_address,
                           .dest_size = sizeof item->smds_address,
                           .path = item->path,
                           .path_size = sizeof item->path,
                           .body = &item->body,
                           .body_len = &item->body_len};
  return outbox_oldest(db,
                       "SELECT id, order_id, smds_address, path, body FROM es12_outbox"
                       " WHERE sent IS NULL ORDER BY id LIMIT 1",
                       &row);
}

rsp_err_t rsp__smdp_es12_done(sqlite3 *db, int64_t id, const char *outcome, int64_t now) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc =
      prep(db, "UPDATE es12_outbox SET sent = ?, outcome = ? WHERE id = ? AND sent IS NULL", &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_text(st, 2, outcome, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, id);
  rc = step_done(db, st);
  if (rc == RSP_OK && sqlite3_changes(db) != 1) rc = RSP_E_NOT_FOUND;
  return rc;
}

rsp_err_t rsp__smdp_es12_pending(sqlite3 *db, size_t *count) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, "SELECT count(*) FROM es12_outbox WHERE sent IS NULL", &st);
  if (rc == RSP_OK && (rc = step_row(db, st)) == RSP_OK)
    *count = (size_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc;
}

/* ---- SM-DS events ------------------------------------------------------------------------------
 */

rsp_err_t rsp__smds_event_add(sqlite3 *db, const struct rsp_smds_event_info *e, bool forwarding,
                              int64_t now, bool *added) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "INSERT OR IGNORE INTO smds_event (eid, event_id, rsp_server_address,"
                      " forwarding, created) VALUES (?, ?, ?, ?, ?)",
                      &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_text(st, 1, e->eid, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, e->event_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, e->rsp_server_address, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 4, forwarding);
  sqlite3_bind_int64(st, 5, now);
  rc = step_done(db, st);
  if (rc == RSP_OK && added) *added = sqlite3_changes(db) == 1;
  return rc;
}

rsp_err_t rsp__smds_event_delete(sqlite3 *db, const char *eid, const char *event_id,
                                 size_t *count) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db, "DELETE FROM smds_event WHERE eid = ? AND event_id = ?", &st);
  if (rc != RSP_OK) return rc;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, event_id, -1, SQLITE_TRANSIENT);
  if ((rc = step_done(db, st)) == RSP_OK) *count = (size_t)sqlite3_changes(db);
  return rc;
}

rsp_err_t rsp__smds_events_list(sqlite3 *db, const char *eid, struct rsp_smds_event_info *out,
                                size_t max, size_t *count) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = prep(db,
                      "SELECT eid, event_id, rsp_server_address, created FROM smds_event"
                      " WHERE ?1 IS NULL OR eid = ?1 ORDER BY id LIMIT ?2",
                      &st);
  *count = 0;
  if (rc != RSP_OK) return rc;
  bind_text(st, 1, eid);
  sqlite3_bind_int64(st, 2, (int64_t)max);
  while (*count < max && (rc = step_row(db, st)) == RSP_OK) {
    struct rsp_smds_event_info *e = &out[(*count)++];
    col_text(st, 0, e->eid, sizeof e->eid);
    col_text(st, 1, e->event_id, sizeof e->event_id);
    col_text(st, 2, e->rsp_server_address, sizeof e->rsp_server_address);
    e->registered = sqlite3_column_int64(st, 3);
  }
  sqlite3_finalize(st);
  return rc == RSP_E_NOT_FOUND || rc == RSP_OK ? RSP_OK : rc;
}
