/* The eIM store (include/rsp/eim/store.h) on SQLite files: migrations and reopening, the queue
 * order, not_before and expiry, the counter allocation across reopen and between processes,
 * redelivery (ask for results, then re-send the same bytes), idempotent results and notifications,
 * argument checks, and crash safety: a child process works on the store in a loop and is killed
 * with SIGKILL at random moments, 50 times; after each kill the file is reopened and its
 * invariants checked (no counter reused, every operation in one consistent state, no result
 * recorded twice, everything the child saw committed is there). Two handles (two nodes) deliver
 * the same devices' queues from two threads at once (two_nodes).
 *
 * The same cases run on the PostgreSQL store (ctest test_eim_store_pg: RSP_EIM_STORE_PG=1, a
 * private server from tests/support/pg_server.c, a fresh database where SQLite gets a fresh file
 * or ":memory:"), all but `migrations` (the SQLite file's versions and PRAGMAs); the parts that
 * read the SQLite file itself (integrity_check, query plans, the version 1 file) are skipped
 * there, and pg_* are PostgreSQL's own cases. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/eim/store.h"
#include "rsp/msg/asn1.h"
#include "test.h"
#ifdef RSP_HAVE_LIBPQ
#include <libpq-fe.h>

#include "pg_server.h"
#endif

#define EIM_ID "eim.example"
#define T0 1700000000 /* the tests' clock */
#define SPEC "{\"psmo\":\"enable\",\"iccid\":\"8944000000000000011\"}"

static const uint8_t ICCID_BCD[10] = {0x98, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xF1};

/* ---- helpers --------------------------------------------------------------------------------- */

static char dirs[32][512];
static size_t n_dirs;

/* RSP_EIM_STORE_PG=1: every case on a fresh PostgreSQL database instead of a SQLite file. */
static bool use_pg;

/* A fresh PostgreSQL database's URI (only when use_pg). */
static const char *pg_db(void) {
  static char uri[256];
#ifdef RSP_HAVE_LIBPQ
  if (rsp_test_pg_createdb(uri, sizeof uri)) return uri;
#endif
  rsp_test_fail(__FILE__, __LINE__, "cannot create a PostgreSQL database");
  abort();
}

/* A fresh store file path in its own temporary directory (PostgreSQL: a fresh database). */
static const char *db_path(const char *tag) {
  static char path[600];
  if (use_pg) return pg_db();
  const char *d = rsp_test_tmpdir(tag);
  if (n_dirs < sizeof dirs / sizeof dirs[0]) snprintf(dirs[n_dirs++], sizeof dirs[0], "%s", d);
  snprintf(path, sizeof path, "%s/eim.db", d);
  return path;
}

static void cleanup(void) {
  static const char *const files[] = {"eim.db", "eim.db-wal", "eim.db-shm", "eim.db-journal"};
  char p[700];
  for (size_t i = 0; i < n_dirs; i++) {
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
      snprintf(p, sizeof p, "%.511s/%s", dirs[i], files[k]);
      unlink(p);
    }
    rmdir(dirs[i]);
  }
  n_dirs = 0;
}

static void eid_of(unsigned i, char out[RSP_EID_DIGITS + 1]) {
  snprintf(out, RSP_EID_DIGITS + 1, "890490320000000000000000%08u", i % 100000000u);
}

/* ":memory:" is a private store: on PostgreSQL a fresh database. */
static struct rsp_eim_store *open_store(const char *path) {
  struct rsp_eim_store *s = NULL;
  if (use_pg && strcmp(path, ":memory:") == 0) path = pg_db();
  rsp_err_t rc = rsp_eim_store_open(path, &s);
  if (rc != RSP_OK) {
    rsp_test_fail(__FILE__, __LINE__, "open %s: %s", path, rsp_err_name(rc));
    abort();
  }
  return s;
}

static rsp_err_t reg(struct rsp_eim_store *s, const char *eid, int64_t next_counter) {
  struct rsp_eim_device_new d = {0};
  d.eid = eid;
  d.eim_id = EIM_ID;
  d.next_counter = next_counter;
  d.has_association_token = true;
  d.association_token = 1;
  return rsp_eim_store_device_register(s, &d, T0);
}

static rsp_err_t enq(struct rsp_eim_store *s, const char *eid, enum rsp_eim_op_kind kind,
                     int64_t not_before, int64_t expires_at, int64_t now, int64_t *id) {
  struct rsp_eim_op_new r = {eid, kind, SPEC, not_before, expires_at};
  return rsp_eim_store_op_enqueue(s, &r, now, id);
}

/* A signed-looking EuiccPackageRequest (BF51) with one enable PSMO; the store does not verify the
 * eIM signature (it has no key), so 64 zero bytes stand for it. */
static void psmo_package(const char *eid, const char *eim_id, int64_t counter, const uint8_t *txid,
                         size_t txid_len, struct rsp_buf *out) {
  static const uint8_t sig[64];
  uint8_t eid_bcd[RSP_EID_LEN];
  struct rsp_msg_psmo_enable en = {0};
  struct rsp_msg_psmo psmo = {0};
  struct rsp_msg_euicc_package_psmo_list list = {0};
  struct rsp_msg_euicc_package pkg = {0};
  struct rsp_msg_euicc_package_signed ps = {0};
  struct rsp_msg_euicc_package_request req = {0};
  if (rsp_eid_from_string(eid, eid_bcd) != RSP_OK) abort();
  en.iccid = rsp_msg_slice(ICCID_BCD, sizeof ICCID_BCD);
  psmo.which = RSP_MSG_PSMO_ENABLE;
  psmo.u.enable = &en;
  list.v = &psmo;
  list.n = 1;
  pkg.which = RSP_MSG_EUICC_PACKAGE_PSMO_LIST;
  pkg.u.psmo_list = &list;
  ps.eim_id = rsp_msg_slice(eim_id, strlen(eim_id));
  ps.eid_value = rsp_msg_slice(eid_bcd, sizeof eid_bcd);
  ps.counter_value = counter;
  ps.eim_transaction_id = rsp_msg_slice(txid, txid_len);
  if (!txid) ps.eim_transaction_id.p = NULL;
  ps.euicc_package = &pkg;
  req.euicc_package_signed = &ps;
  req.eim_signature = rsp_msg_slice(sig, sizeof sig);
  rsp_buf_reset(out);
  if (rsp_msg_encode(&rsp_msgt_euicc_package_request, &req, out, NULL) != RSP_OK) abort();
}

/* IpaEuiccDataRequest (BF52) asking for the pending results (tagList A2), with a txid. */
static void data_package(const uint8_t *txid, size_t txid_len, struct rsp_buf *out) {
  static const uint8_t tags[] = {0xA2};
  struct rsp_msg_ipa_euicc_data_request r = {0};
  r.tag_list = rsp_msg_slice(tags, sizeof tags);
  r.eim_transaction_id = rsp_msg_slice(txid, txid_len);
  rsp_buf_reset(out);
  if (rsp_msg_encode(&rsp_msgt_ipa_euicc_data_request, &r, out, NULL) != RSP_OK) abort();
}

/* Stands for a result as received: one DER element (the store keeps it as bytes). */
static struct rsp_slice fake_result(uint8_t buf[8], uint8_t seq, uint8_t variant) {
  static const uint8_t tmpl[8] = {0xBF, 0x51, 0x05, 0xA2, 0x03, 0x80, 0x01, 0x00};
  memcpy(buf, tmpl, sizeof tmpl);
  buf[7] = (uint8_t)(seq ^ variant);
  return rsp_msg_slice(buf, 8);
}

/* Sends the device's head: builds the package with the device's next counter and marks it. */
static rsp_err_t send_head(struct rsp_eim_store *s, const struct rsp_eim_operation *op,
                           const uint8_t *txid, size_t txid_len, int64_t now, int64_t *counter) {
  struct rsp_eim_device d;
  struct rsp_buf pkg;
  rsp_err_t rc;
  rsp_eim_device_init(&d);
  rsp_buf_init(&pkg, RSP_EIM_PACKAGE_MAX);
  rc = rsp_eim_store_device_get(s, op->eid, &d);
  if (rc == RSP_OK) {
    psmo_package(op->eid, d.eim_id, d.next_counter, txid, txid_len, &pkg);
    *counter = d.next_counter;
    rc = rsp_eim_store_assign_counter_and_mark_sent(s, op->id, rsp_msg_slice(pkg.data, pkg.len),
                                                    d.next_counter,
                                                    rsp_msg_slice(txid, txid ? txid_len : 0), now);
  }
  rsp_buf_free(&pkg);
  rsp_eim_device_free(&d);
  return rc;
}

static rsp_err_t result_by_counter(struct rsp_eim_store *s, const char *eid, int64_t counter,
                                   int64_t seq, uint8_t variant, enum rsp_eim_record *outcome) {
  uint8_t buf[8];
  struct rsp_eim_result r = {0};
  r.eid = eid;
  r.counter = counter;
  r.seq_number = seq;
  r.der = fake_result(buf, (uint8_t)seq, variant);
  r.summary = "{\"enableResult\":0}";
  r.state = RSP_EIM_OP_DONE;
  return rsp_eim_store_record_result(s, &r, T0 + 50, outcome, NULL);
}

/* The number of audit rows, all or of one event. */
static size_t audit_count(struct rsp_eim_store *s, const char *event) {
  struct rsp_eim_audit_query q = {NULL, 0, 0, RSP_EIM_PAGE_MAX};
  struct rsp_eim_audit_list l;
  size_t n = 0;
  for (;;) {
    if (rsp_eim_store_audit_list(s, &q, &l) != RSP_OK) abort();
    for (size_t i = 0; i < l.n; i++)
      if (!event || strcmp(l.v[i].event, event) == 0) n++;
    if (l.n == 0) break;
    q.after_id = l.v[l.n - 1].id;
    rsp_eim_audit_list_free(&l);
  }
  rsp_eim_audit_list_free(&l);
  return n;
}

/* One integer from a SQL query on the file, through a separate connection. */
static int64_t sql_int(const char *path, const char *q) {
#ifdef RSP_HAVE_LIBPQ
  if (rsp_eim_store_is_pg(path)) return rsp_test_pg_int(path, q);
#endif
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  else
    fprintf(stderr, "sql %s: %s\n", q, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/* ---- migrations ------------------------------------------------------------------------------ */

static void migrations(void) {
  const char *path = db_path("eim-migr");
  char p[600], eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_store *s = open_store(path);
  struct rsp_eim_device d;
  sqlite3 *db = NULL;
  snprintf(p, sizeof p, "%s", path);
  eid_of(1, eid);
  CHECK_EQ(sql_int(p, "SELECT version FROM schema_version"), rsp_eim_store_sqlite_schema_version());
  CHECK_EQ(sql_int(p, "SELECT count(*) FROM schema_version"), 1);
  CHECK_EQ(sql_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                      " ('devices', 'profiles', 'operations', 'notifications', 'audit')"),
           5);
  CHECK_OK(reg(s, eid, 7));
  rsp_eim_store_close(s);
  /* Reopening applies nothing and keeps the data. */
  s = open_store(p);
  rsp_eim_device_init(&d);
  CHECK_OK(rsp_eim_store_device_get(s, eid, &d));
  CHECK_EQ(d.next_counter, 7);
  CHECK_STR(d.eim_id, EIM_ID);
  rsp_eim_device_free(&d);
  rsp_eim_device_free(&d); /* idempotent */
  rsp_eim_store_close(s);
  CHECK_EQ(sql_int(p, "SELECT version FROM schema_version"), rsp_eim_store_sqlite_schema_version());
  CHECK(sqlite3_open(p, &db) == SQLITE_OK);
  {
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
  }
  /* A file of a newer release is refused, not misread. */
  CHECK(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  s = NULL;
  CHECK_ERR(rsp_eim_store_sqlite_open(p, &s), RSP_E_UNSUPPORTED);
  CHECK(s == NULL);
  /* Not a database at all. */
  {
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
      fputs("this is not an SQLite file, only some text long enough to be read as a header.....",
            f);
      fclose(f);
    }
    CHECK_ERR(rsp_eim_store_sqlite_open(p, &s), RSP_E_IO);
  }
  /* In memory: the fake for the layers above. */
  CHECK_OK(rsp_eim_store_sqlite_open(":memory:", &s));
  CHECK_OK(reg(s, eid, 1));
  rsp_eim_store_close(s);
  rsp_eim_store_close(NULL);
  cleanup();
}

/* ---- argument checks ------------------------------------------------------------------------- */

/* ---- bad arguments: refused with RSP_E_INVALID_ARG, and nothing written ---------------------- */

/* One registered device (and, with an operation, one queued PSMO) to misuse the store on. */
struct bad {
  struct rsp_eim_store *s;
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op;
  struct rsp_eim_device dev;
  struct rsp_buf pkg;
  int64_t id;
  uint8_t res[8], txid[17];
  enum rsp_eim_record outcome;
};

static void bad_open(struct bad *f, bool with_op) {
  memset(f, 0, sizeof *f);
  f->s = open_store(":memory:");
  f->txid[0] = 1;
  eid_of(1, f->eid);
  rsp_eim_operation_init(&f->op);
  rsp_eim_device_init(&f->dev);
  rsp_buf_init(&f->pkg, RSP_EIM_PACKAGE_MAX);
  CHECK_OK(reg(f->s, f->eid, 1));
  if (with_op) CHECK_OK(enq(f->s, f->eid, RSP_EIM_OP_PSMO, 0, 0, T0, &f->id));
}

/* Nothing the refusals did changed the store: its audit holds `rows` (what bad_open and the
 * case's valid calls wrote). */
static void bad_close(struct bad *f, int rows) {
  CHECK_EQ(audit_count(f->s, NULL), rows);
  rsp_buf_free(&f->pkg);
  rsp_eim_device_free(&f->dev);
  rsp_eim_operation_free(&f->op);
  rsp_eim_store_close(f->s);
}

static const char *const bad_eids[] = {
    "8904903200000000000000000000001",   /* 31 */
    "890490320000000000000000000000011", /* 33 */
    "8904903200000000000000000000000A",  /* not a digit */
    "89049032000000000000000000 00001",  /* space */
    "",
};

/* Opening, EIDs, polls and registration. */
static void bad_arguments(void) {
  struct bad f;
  bad_open(&f, false);
  {
    struct rsp_eim_store *none = NULL;
    CHECK_ERR(rsp_eim_store_sqlite_open(NULL, &none), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_sqlite_open("", &none), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_sqlite_open(":memory:", NULL), RSP_E_INVALID_ARG);
    CHECK(none == NULL);
  }
  for (size_t i = 0; i < sizeof bad_eids / sizeof bad_eids[0]; i++) {
    CHECK_ERR(reg(f.s, bad_eids[i], 1), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_device_get(f.s, bad_eids[i], &f.dev), RSP_E_INVALID_ARG);
    CHECK_ERR(enq(f.s, bad_eids[i], RSP_EIM_OP_PSMO, 0, 0, T0, &f.id), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_next_for_delivery(f.s, bad_eids[i], T0, &f.op, NULL),
              RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_device_touch(f.s, bad_eids[i], T0, NULL), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_device_poll(f.s, bad_eids[i], T0, NULL, &f.dev, &f.op),
              RSP_E_INVALID_ARG);
  }
  CHECK_ERR(rsp_eim_store_device_poll(NULL, f.eid, T0, NULL, &f.dev, &f.op), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_device_poll(f.s, f.eid, T0, NULL, NULL, &f.op), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_device_poll(f.s, f.eid, T0, NULL, &f.dev, NULL), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_device_poll(f.s, f.eid, -1, NULL, &f.dev, &f.op), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_flush(NULL), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_flush_due(NULL), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_set_touch_interval(NULL, 0), RSP_E_INVALID_ARG);
  CHECK_EQ(rsp_eim_store_touches_held(NULL), 0);
  CHECK_ERR(reg(NULL, f.eid, 1), RSP_E_INVALID_ARG);
  CHECK_ERR(reg(f.s, NULL, 1), RSP_E_INVALID_ARG);
  CHECK_ERR(reg(f.s, f.eid, -1), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_device_register(f.s, NULL, T0), RSP_E_INVALID_ARG);
  {
    struct rsp_eim_device_new d = {0};
    static const uint8_t junk[] = {0x30, 0x05, 0x01};
    d.eid = f.eid;
    d.next_counter = 1;
    CHECK_ERR(rsp_eim_store_device_register(f.s, &d, T0), RSP_E_INVALID_ARG); /* no eimId */
    d.eim_id = "";
    CHECK_ERR(rsp_eim_store_device_register(f.s, &d, T0), RSP_E_INVALID_ARG);
    d.eim_id = "\xff\xfe";
    CHECK_ERR(rsp_eim_store_device_register(f.s, &d, T0), RSP_E_INVALID_ARG); /* not UTF-8 */
    d.eim_id = EIM_ID;
    d.euicc_cert = rsp_msg_slice(junk, sizeof junk); /* truncated DER */
    CHECK_ERR(rsp_eim_store_device_register(f.s, &d, T0), RSP_E_INVALID_ARG);
  }
  bad_close(&f, 1); /* registered */
}

/* Enqueueing, reading, failing, cancelling and listing operations. */
static void bad_operation_arguments(void) {
  struct bad f;
  bad_open(&f, false);
  /* Operations. */
  {
    struct rsp_eim_op_new r = {f.eid, RSP_EIM_OP_PSMO, SPEC, 0, 0};
    const char *bad_specs[] = {NULL, "", "[1,2]", "{\"a\":", "{\"a\":1,\"a\":2}", "\"text\""};
    for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
      r.spec = bad_specs[i];
      CHECK_ERR(rsp_eim_store_op_enqueue(f.s, &r, T0, &f.id), RSP_E_INVALID_ARG);
    }
    r.spec = SPEC;
    r.kind = 0;
    CHECK_ERR(rsp_eim_store_op_enqueue(f.s, &r, T0, &f.id), RSP_E_INVALID_ARG);
    r.kind = 99;
    CHECK_ERR(rsp_eim_store_op_enqueue(f.s, &r, T0, &f.id), RSP_E_INVALID_ARG);
    r.kind = RSP_EIM_OP_PSMO;
    r.not_before = -1;
    CHECK_ERR(rsp_eim_store_op_enqueue(f.s, &r, T0, &f.id), RSP_E_INVALID_ARG);
    r.not_before = T0 + 10;
    r.expires_at = T0 + 10; /* expires before it may be sent */
    CHECK_ERR(rsp_eim_store_op_enqueue(f.s, &r, T0, &f.id), RSP_E_INVALID_ARG);
    r.not_before = r.expires_at = 0;
    CHECK_ERR(rsp_eim_store_op_enqueue(f.s, &r, -1, &f.id), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_op_enqueue(f.s, &r, T0, NULL), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_op_enqueue(f.s, NULL, T0, &f.id), RSP_E_INVALID_ARG);
    CHECK_OK(rsp_eim_store_op_enqueue(f.s, &r, T0, &f.id));
  }
  CHECK_ERR(rsp_eim_store_op_get(f.s, 0, &f.op), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_op_get(f.s, f.id, NULL), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_op_get_by_txid(f.s, rsp_msg_slice(f.txid, 17), &f.op), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_op_get_by_txid(f.s, rsp_msg_slice(f.txid, 0), &f.op), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_op_get_by_txid(f.s, rsp_msg_slice(NULL, 0), &f.op), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_op_fail(f.s, f.id, NULL, T0), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_op_fail(f.s, f.id, "", T0), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_op_cancel(f.s, -5, T0), RSP_E_INVALID_ARG);
  {
    struct rsp_eim_op_list l;
    CHECK_ERR(rsp_eim_store_op_list(f.s, f.eid, 0, 0, &l), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_op_list(f.s, f.eid, 0, RSP_EIM_PAGE_MAX + 1, &l), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_eim_store_op_list(f.s, f.eid, -1, 10, &l), RSP_E_INVALID_ARG);
  }
  bad_close(&f, 2); /* registered, enqueued */
}

/* Sending (package framing, counter and txid) and results. */
static void bad_send_arguments(void) {
  struct bad f;
  bad_open(&f, true);
  /* Sending: package framing, counter and txid. */
  psmo_package(f.eid, EIM_ID, 1, NULL, 0, &f.pkg);
  CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(
                f.s, f.id, rsp_msg_slice(f.pkg.data, f.pkg.len - 1), 1, rsp_msg_slice(NULL, 0), T0),
            RSP_E_INVALID_ARG); /* truncated */
  CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(f.s, f.id, rsp_msg_slice(NULL, 0), 1,
                                                       rsp_msg_slice(NULL, 0), T0),
            RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(
                f.s, f.id, rsp_msg_slice(f.pkg.data, f.pkg.len), -7, rsp_msg_slice(NULL, 0), T0),
            RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(
                f.s, f.id, rsp_msg_slice(f.pkg.data, f.pkg.len), 1, rsp_msg_slice(f.txid, 17), T0),
            RSP_E_INVALID_ARG);
  {
    struct rsp_buf two;
    rsp_buf_init(&two, 2 * RSP_EIM_PACKAGE_MAX);
    CHECK_OK(rsp_buf_append(&two, f.pkg.data, f.pkg.len));
    CHECK_OK(rsp_buf_append(&two, f.pkg.data, f.pkg.len)); /* trailing element */
    CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(
                  f.s, f.id, rsp_msg_slice(two.data, two.len), 1, rsp_msg_slice(NULL, 0), T0),
              RSP_E_INVALID_ARG);
    rsp_buf_free(&two);
  }
  CHECK_ERR(rsp_eim_store_op_resent(f.s, 0, T0), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_op_results_checked(f.s, f.id, 0, T0), RSP_E_INVALID_ARG);
  /* Results. */
  {
    struct rsp_eim_result r = {0};
    r.eid = f.eid;
    r.counter = 1;
    r.seq_number = 1;
    r.der = fake_result(f.res, 1, 0);
    r.state = RSP_EIM_OP_DONE;
    CHECK_ERR(rsp_eim_store_record_result(f.s, &r, T0, NULL, NULL), RSP_E_INVALID_ARG);
    r.state = RSP_EIM_OP_QUEUED;
    CHECK_ERR(rsp_eim_store_record_result(f.s, &r, T0, &f.outcome, NULL), RSP_E_INVALID_ARG);
    r.state = RSP_EIM_OP_DONE;
    r.eid = NULL; /* neither EID nor txid */
    CHECK_ERR(rsp_eim_store_record_result(f.s, &r, T0, &f.outcome, NULL), RSP_E_INVALID_ARG);
    r.eid = f.eid;
    r.counter = RSP_EIM_NO_COUNTER; /* neither txid nor counter */
    CHECK_ERR(rsp_eim_store_record_result(f.s, &r, T0, &f.outcome, NULL), RSP_E_INVALID_ARG);
    r.counter = 1;
    r.der.len = 7; /* truncated */
    CHECK_ERR(rsp_eim_store_record_result(f.s, &r, T0, &f.outcome, NULL), RSP_E_INVALID_ARG);
    r.der.len = 8;
    r.summary = "not json";
    CHECK_ERR(rsp_eim_store_record_result(f.s, &r, T0, &f.outcome, NULL), RSP_E_INVALID_ARG);
    r.summary = NULL;
    r.seq_number = -5;
    CHECK_ERR(rsp_eim_store_record_result(f.s, &r, T0, &f.outcome, NULL), RSP_E_INVALID_ARG);
    r.seq_number = 1;
    r.eim_transaction_id = rsp_msg_slice(f.txid, 17);
    CHECK_ERR(rsp_eim_store_record_result(f.s, &r, T0, &f.outcome, NULL), RSP_E_INVALID_ARG);
  }
  bad_close(&f, 2); /* registered, enqueued */
}

/* Notifications, device lists, profiles, audit. */
static void bad_other_arguments(void) {
  struct bad f;
  bad_open(&f, false);
  /* Notifications, devices, profiles, audit. */
  {
    struct rsp_eim_notification_new n = {
        f.eid, 1, RSP_EIM_NOTIF_INSTALL, "894400000000000001", fake_result(f.res, 1, 0), NULL};
    n.iccid = "89440000000000000A";
    CHECK_ERR(rsp_eim_store_record_notification(f.s, &n, T0, &f.outcome), RSP_E_INVALID_ARG);
    n.iccid = "8944";
    CHECK_ERR(rsp_eim_store_record_notification(f.s, &n, T0, &f.outcome), RSP_E_INVALID_ARG);
    n.iccid = NULL;
    n.kind = 0;
    CHECK_ERR(rsp_eim_store_record_notification(f.s, &n, T0, &f.outcome), RSP_E_INVALID_ARG);
    n.kind = RSP_EIM_NOTIF_INSTALL;
    n.seq_number = -1;
    CHECK_ERR(rsp_eim_store_record_notification(f.s, &n, T0, &f.outcome), RSP_E_INVALID_ARG);
    n.seq_number = 1;
    n.der = rsp_msg_slice(NULL, 0);
    CHECK_ERR(rsp_eim_store_record_notification(f.s, &n, T0, &f.outcome), RSP_E_INVALID_ARG);
  }
  {
    struct rsp_eim_device_summary page[2];
    size_t n = 9;
    CHECK_ERR(rsp_eim_store_device_list(f.s, NULL, page, 0, &n), RSP_E_INVALID_ARG);
    CHECK_EQ(n, 0);
    CHECK_ERR(rsp_eim_store_device_list(f.s, "123", page, 2, &n), RSP_E_INVALID_ARG);
  }
  {
    struct rsp_eim_profile p[2] = {{"8944000000000000011", RSP_EIM_PROFILE_ENABLED, "a", 2, 0},
                                   {"8944000000000000029", RSP_EIM_PROFILE_ENABLED, "b", 2, 0}};
    CHECK_ERR(rsp_eim_store_profiles_set(f.s, f.eid, p, 2, T0),
              RSP_E_INVALID_ARG); /* two enabled */
    p[1].state = RSP_EIM_PROFILE_DISABLED;
    p[1].profile_class = 7;
    CHECK_ERR(rsp_eim_store_profiles_set(f.s, f.eid, p, 2, T0), RSP_E_INVALID_ARG);
    p[1].profile_class = -1;
    strcpy(p[1].iccid, p[0].iccid);
    CHECK_ERR(rsp_eim_store_profiles_set(f.s, f.eid, p, 2, T0), RSP_E_INVALID_ARG); /* twice */
    CHECK_ERR(rsp_eim_store_profiles_set(f.s, f.eid, NULL, 2, T0), RSP_E_INVALID_ARG);
  }
  {
    struct rsp_eim_audit_query q = {"123", 0, 0, 10};
    struct rsp_eim_audit_list l;
    CHECK_ERR(rsp_eim_store_audit_list(f.s, &q, &l), RSP_E_INVALID_ARG);
    q.eid = NULL;
    q.limit = 0;
    CHECK_ERR(rsp_eim_store_audit_list(f.s, &q, &l), RSP_E_INVALID_ARG);
  }
  CHECK_ERR(rsp_eim_euicc_data_from_msg(NULL, NULL), RSP_E_INVALID_ARG);
  bad_close(&f, 1); /* registered */
}

/* ---- unknown EIDs ---------------------------------------------------------------------------- */

static void unknown_eid(void) {
  struct rsp_eim_store *s = open_store(":memory:");
  char eid[RSP_EID_DIGITS + 1], other[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op;
  struct rsp_eim_device d;
  struct rsp_eim_op_list l;
  enum rsp_eim_record outcome;
  uint8_t res[8];
  int64_t id = 5;
  eid_of(1, eid);
  eid_of(2, other);
  rsp_eim_operation_init(&op);
  rsp_eim_device_init(&d);
  CHECK_OK(reg(s, eid, 1));
  CHECK_ERR(reg(s, eid, 1), RSP_E_EXISTS);
  CHECK_ERR(enq(s, other, RSP_EIM_OP_PSMO, 0, 0, T0, &id), RSP_E_NOT_FOUND);
  CHECK_EQ(id, 0);
  CHECK_ERR(rsp_eim_store_device_get(s, other, &d), RSP_E_NOT_FOUND);
  CHECK_ERR(rsp_eim_store_device_touch(s, other, T0, NULL), RSP_E_NOT_FOUND);
  CHECK_ERR(rsp_eim_store_device_poll(s, other, T0, NULL, &d, &op), RSP_E_NOT_FOUND);
  CHECK_EQ(op.id, 0);
  CHECK_EQ(rsp_eim_store_touches_held(s), 0); /* nothing recorded for an unknown EID */
  CHECK_ERR(rsp_eim_store_op_list(s, other, 0, 10, &l), RSP_E_NOT_FOUND);
  CHECK_ERR(rsp_eim_store_next_for_delivery(s, other, T0, &op, NULL), RSP_E_NOT_FOUND);
  CHECK_ERR(rsp_eim_store_op_get(s, 1234, &op), RSP_E_NOT_FOUND);
  {
    struct rsp_eim_notification_new n = {
        other, 1, RSP_EIM_NOTIF_INSTALL, NULL, fake_result(res, 1, 0), NULL};
    CHECK_ERR(rsp_eim_store_record_notification(s, &n, T0, &outcome), RSP_E_NOT_FOUND);
  }
  /* A result of an unknown device is not an error: it is kept in the audit trail. */
  CHECK_OK(result_by_counter(s, other, 1, 1, 0, &outcome));
  CHECK_EQ(outcome, RSP_EIM_RECORD_UNKNOWN);
  CHECK_EQ(audit_count(s, "result_unknown"), 1);
  rsp_eim_device_free(&d);
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
}

/* ---- queue order ----------------------------------------------------------------------------- */

static void queue_order(void) {
  const char *path = db_path("eim-order");
  struct rsp_eim_store *s = open_store(path);
  char eid[RSP_EID_DIGITS + 1], eid2[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op;
  struct rsp_eim_op_list l;
  enum rsp_eim_record outcome;
  int64_t ids[3], other = 0, counter = 0, counters[3];
  eid_of(1, eid);
  eid_of(2, eid2);
  rsp_eim_operation_init(&op);
  CHECK_OK(reg(s, eid, 40));
  CHECK_OK(reg(s, eid2, 1));
  for (int i = 0; i < 3; i++) CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0 + i, &ids[i]));
  CHECK_OK(enq(s, eid2, RSP_EIM_OP_PSMO, 0, 0, T0, &other));
  CHECK_EQ(rsp_eim_store_delivery_decision(NULL, T0), RSP_EIM_DELIVERY_NOTHING);
  for (int i = 0; i < 3; i++) {
    CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 10, &op, NULL));
    CHECK_EQ(op.id, ids[i]);
    CHECK_EQ(op.seq, i + 1);
    CHECK_EQ(op.state, RSP_EIM_OP_QUEUED);
    CHECK_EQ(rsp_eim_store_delivery_decision(&op, T0 + 10), RSP_EIM_DELIVERY_SEND_NEW);
    /* A later operation is not sent while this one is open. */
    if (i < 2) {
      struct rsp_eim_operation later;
      rsp_eim_operation_init(&later);
      CHECK_OK(rsp_eim_store_op_get(s, ids[i + 1], &later));
      CHECK_ERR(send_head(s, &later, NULL, 0, T0 + 10, &counter), RSP_E_STATE);
      rsp_eim_operation_free(&later);
    }
    CHECK_OK(send_head(s, &op, NULL, 0, T0 + 10, &counters[i]));
    CHECK_EQ(counters[i], 40 + i);
    /* Sent and unresolved: it comes back first, and the answer is to ask for results. */
    CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 11, &op, NULL));
    CHECK_EQ(op.id, ids[i]);
    CHECK_EQ(op.state, RSP_EIM_OP_SENT);
    CHECK_EQ(op.counter, 40 + i);
    CHECK_EQ(rsp_eim_store_delivery_decision(&op, T0 + 11), RSP_EIM_DELIVERY_ASK_RESULTS);
    CHECK_ERR(send_head(s, &op, NULL, 0, T0 + 11, &counter), RSP_E_STATE); /* no longer queued */
    CHECK_OK(result_by_counter(s, eid, counters[i], 100 + i, 0, &outcome));
    CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
  }
  CHECK_ERR(rsp_eim_store_next_for_delivery(s, eid, T0 + 20, &op, NULL), RSP_E_NOT_FOUND);
  CHECK_EQ(op.id, 0);
  /* The other device's queue is its own. */
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid2, T0 + 20, &op, NULL));
  CHECK_EQ(op.id, other);
  CHECK_OK(rsp_eim_store_op_list(s, eid, 0, 10, &l));
  CHECK_EQ(l.n, 3);
  for (size_t i = 0; i < l.n; i++) {
    CHECK_EQ(l.v[i].seq, (int64_t)i + 1);
    CHECK_EQ(l.v[i].state, RSP_EIM_OP_DONE);
    CHECK_EQ(l.v[i].result_seq, 100 + (int64_t)i);
    CHECK_STR(l.v[i].spec, SPEC);
    CHECK_STR(l.v[i].result_summary, "{\"enableResult\":0}");
    CHECK(l.v[i].package.len > 0);
  }
  rsp_eim_op_list_free(&l);
  CHECK_OK(rsp_eim_store_op_list(s, eid, 2, 10, &l)); /* paging by seq */
  CHECK_EQ(l.n, 1);
  CHECK_EQ(l.v[0].seq, 3);
  rsp_eim_op_list_free(&l);
  rsp_eim_op_list_free(&l);
  CHECK_EQ(audit_count(s, "enqueued"), 4);
  CHECK_EQ(audit_count(s, "sent"), 3);
  CHECK_EQ(audit_count(s, "result"), 3);
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
  cleanup();
}

/* ---- redelivery ------------------------------------------------------------------------------ */

static void redelivery(void) {
  struct rsp_eim_store *s = open_store(":memory:");
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op, again;
  struct rsp_buf first;
  enum rsp_eim_record outcome;
  static const uint8_t txid[16] = {0xA5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static const uint8_t txid2[4] = {0xD0, 0x0D, 0xF0, 0x0D};
  int64_t id = 0, id2 = 0, counter = 0;
  eid_of(3, eid);
  rsp_eim_operation_init(&op);
  rsp_eim_operation_init(&again);
  rsp_buf_init(&first, RSP_EIM_PACKAGE_MAX);
  CHECK_OK(reg(s, eid, 1000));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &id));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_EUICC_DATA, 0, 0, T0, &id2));
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0, &op, NULL));
  CHECK_OK(send_head(s, &op, txid, sizeof txid, T0 + 1, &counter));
  CHECK_OK(rsp_eim_store_op_get(s, id, &op));
  CHECK_OK(rsp_buf_append(&first, op.package.data, op.package.len));
  CHECK_EQ(op.sent_count, 1);
  CHECK_EQ(op.checked_count, 0);
  CHECK_EQ(op.eim_transaction_id_len, sizeof txid);
  CHECK_MEM(op.eim_transaction_id, txid, sizeof txid);
  /* No result came back: ask first; re-sending before that is refused. */
  CHECK_EQ(rsp_eim_store_delivery_decision(&op, T0 + 2), RSP_EIM_DELIVERY_ASK_RESULTS);
  CHECK_ERR(rsp_eim_store_op_resent(s, id, T0 + 2), RSP_E_STATE);
  CHECK_ERR(rsp_eim_store_op_results_checked(s, id, 2, T0 + 2), RSP_E_STATE); /* not that send */
  CHECK_OK(rsp_eim_store_op_results_checked(s, id, 1, T0 + 2));
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 3, &op, NULL));
  CHECK_EQ(op.checked_count, 1);
  CHECK_EQ(rsp_eim_store_delivery_decision(&op, T0 + 3), RSP_EIM_DELIVERY_RESEND);
  CHECK_OK(rsp_eim_store_op_resent(s, id, T0 + 3));
  /* The bytes handed out again are those stored first, byte for byte (same counter). */
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 4, &again, NULL));
  CHECK_EQ(again.sent_count, 2);
  CHECK_EQ(again.counter, counter);
  CHECK_EQ(again.last_sent, T0 + 3);
  CHECK_EQ(again.package.len, first.len);
  CHECK_MEM(again.package.data, first.data, first.len);
  CHECK_EQ(rsp_eim_store_delivery_decision(&again, T0 + 4), RSP_EIM_DELIVERY_ASK_RESULTS);
  CHECK_ERR(rsp_eim_store_op_results_checked(s, id, 1, T0 + 4), RSP_E_STATE); /* stale */
  /* By txid; the counter never moved past this one package. */
  {
    uint8_t buf[8];
    struct rsp_eim_result r = {0};
    r.eim_transaction_id = rsp_msg_slice(txid, sizeof txid);
    r.counter = RSP_EIM_NO_COUNTER;
    r.seq_number = 7;
    r.der = fake_result(buf, 7, 0);
    r.state = RSP_EIM_OP_FAILED;
    r.error = "replayError";
    CHECK_OK(rsp_eim_store_record_result(s, &r, T0 + 5, &outcome, NULL));
    CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
  }
  CHECK_OK(rsp_eim_store_op_get_by_txid(s, rsp_msg_slice(txid, sizeof txid), &op));
  CHECK_EQ(op.id, id);
  CHECK_EQ(op.state, RSP_EIM_OP_FAILED);
  CHECK_STR(op.error, "replayError");
  CHECK_EQ(rsp_eim_store_delivery_decision(&op, T0 + 5), RSP_EIM_DELIVERY_NOTHING);
  CHECK_ERR(rsp_eim_store_op_resent(s, id, T0 + 5), RSP_E_STATE);
  {
    struct rsp_eim_device d;
    rsp_eim_device_init(&d);
    CHECK_OK(rsp_eim_store_device_get(s, eid, &d));
    CHECK_EQ(d.next_counter, 1001);
    rsp_eim_device_free(&d);
  }
  /* An unsigned request has no counter and is simply sent again. */
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 6, &op, NULL));
  CHECK_EQ(op.id, id2);
  CHECK_EQ(op.kind, RSP_EIM_OP_EUICC_DATA);
  data_package(txid2, sizeof txid2, &first);
  CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(s, id2, rsp_msg_slice(first.data, first.len),
                                                       1001, rsp_msg_slice(txid2, sizeof txid2),
                                                       T0 + 6),
            RSP_E_INVALID_ARG); /* a counter for an unsigned kind */
  CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(s, id2, rsp_msg_slice(first.data, first.len),
                                                       RSP_EIM_NO_COUNTER, rsp_msg_slice(NULL, 0),
                                                       T0 + 6),
            RSP_E_INVALID_ARG); /* no txid to match the answer by */
  CHECK_OK(rsp_eim_store_assign_counter_and_mark_sent(s, id2, rsp_msg_slice(first.data, first.len),
                                                      RSP_EIM_NO_COUNTER,
                                                      rsp_msg_slice(txid2, sizeof txid2), T0 + 6));
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 7, &op, NULL));
  CHECK_EQ(rsp_eim_store_delivery_decision(&op, T0 + 7), RSP_EIM_DELIVERY_RESEND);
  CHECK_OK(rsp_eim_store_op_resent(s, id2, T0 + 7));
  CHECK_OK(rsp_eim_store_op_get(s, id2, &op));
  CHECK_EQ(op.sent_count, 2);
  CHECK_EQ(op.counter, RSP_EIM_NO_COUNTER);
  rsp_buf_free(&first);
  rsp_eim_operation_free(&again);
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
}

/* ---- not_before, expiry, cancel, fail -------------------------------------------------------- */

static void timing(void) {
  struct rsp_eim_store *s = open_store(":memory:");
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op;
  size_t expired = 9;
  int64_t a = 0, b = 0, c = 0, d = 0, e = 0, counter = 0;
  eid_of(4, eid);
  rsp_eim_operation_init(&op);
  CHECK_OK(reg(s, eid, 1));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, T0 + 100, 0, T0, &a)); /* not before T0 + 100 */
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &b));
  /* The head is not due: it holds back the operation behind it. */
  CHECK_ERR(rsp_eim_store_next_for_delivery(s, eid, T0 + 50, &op, &expired), RSP_E_NOT_FOUND);
  CHECK_EQ(expired, 0);
  CHECK_OK(rsp_eim_store_op_get(s, a, &op));
  CHECK_EQ(rsp_eim_store_delivery_decision(&op, T0 + 50), RSP_EIM_DELIVERY_NOTHING);
  CHECK_ERR(send_head(s, &op, NULL, 0, T0 + 50, &counter), RSP_E_STATE); /* not due */
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 100, &op, &expired));
  CHECK_EQ(op.id, a);
  /* Cancel it: the next one comes. A cancelled one cannot be cancelled or sent again. */
  CHECK_OK(rsp_eim_store_op_cancel(s, a, T0 + 101));
  CHECK_ERR(rsp_eim_store_op_cancel(s, a, T0 + 101), RSP_E_STATE);
  CHECK_ERR(send_head(s, &op, NULL, 0, T0 + 101, &counter), RSP_E_STATE);
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 101, &op, NULL));
  CHECK_EQ(op.id, b);
  CHECK_OK(send_head(s, &op, NULL, 0, T0 + 101, &counter));
  CHECK_EQ(counter, 1);
  /* A sent operation can be neither cancelled nor failed by the eIM (the card may run it). */
  CHECK_ERR(rsp_eim_store_op_cancel(s, b, T0 + 102), RSP_E_STATE);
  CHECK_ERR(rsp_eim_store_op_fail(s, b, "gave up", T0 + 102), RSP_E_STATE);
  {
    enum rsp_eim_record outcome;
    CHECK_OK(result_by_counter(s, eid, 1, 1, 0, &outcome));
  }
  /* Expiry: c and d expire, e does not; expired ones are marked, reported and skipped. */
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, T0 + 200, T0 + 102, &c));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_ECO, 0, T0 + 210, T0 + 102, &d));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, T0 + 900, T0 + 102, &e));
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 199, &op, &expired));
  CHECK_EQ(op.id, c);
  CHECK_EQ(expired, 0);
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 300, &op, &expired));
  CHECK_EQ(op.id, e);
  CHECK_EQ(expired, 2);
  CHECK_OK(rsp_eim_store_op_get(s, c, &op));
  CHECK_EQ(op.state, RSP_EIM_OP_EXPIRED);
  CHECK_EQ(op.done_at, T0 + 300);
  CHECK_ERR(send_head(s, &op, NULL, 0, T0 + 300, &counter), RSP_E_STATE);
  CHECK_OK(rsp_eim_store_op_get(s, d, &op));
  CHECK_EQ(op.state, RSP_EIM_OP_EXPIRED);
  CHECK_EQ(audit_count(s, "expired"), 2);
  CHECK_EQ(audit_count(s, "cancelled"), 1);
  /* Once expired, the decision itself also refuses a stale copy of the head. */
  CHECK_OK(rsp_eim_store_op_get(s, e, &op));
  CHECK_EQ(rsp_eim_store_delivery_decision(&op, T0 + 900), RSP_EIM_DELIVERY_NOTHING);
  CHECK_EQ(rsp_eim_store_delivery_decision(&op, T0 + 899), RSP_EIM_DELIVERY_SEND_NEW);
  /* A package that cannot be built fails its operation so the queue moves on. */
  CHECK_OK(rsp_eim_store_op_fail(s, e, "unknown ICCID in the request", T0 + 301));
  CHECK_ERR(rsp_eim_store_next_for_delivery(s, eid, T0 + 302, &op, &expired), RSP_E_NOT_FOUND);
  CHECK_OK(rsp_eim_store_op_get(s, e, &op));
  CHECK_EQ(op.state, RSP_EIM_OP_FAILED);
  CHECK_STR(op.error, "unknown ICCID in the request");
  /* The counter was spent only on the one package that was sent. */
  {
    struct rsp_eim_device dev;
    rsp_eim_device_init(&dev);
    CHECK_OK(rsp_eim_store_device_get(s, eid, &dev));
    CHECK_EQ(dev.next_counter, 2);
    rsp_eim_device_free(&dev);
  }
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
}

/* ---- counters -------------------------------------------------------------------------------- */

static void counter_across_reopen(void) {
  const char *path = db_path("eim-counter");
  char p[600], eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op;
  struct rsp_buf pkg;
  enum rsp_eim_record outcome;
  int64_t id = 0, counter = 0, last = -1;
  snprintf(p, sizeof p, "%s", path);
  eid_of(5, eid);
  rsp_eim_operation_init(&op);
  rsp_buf_init(&pkg, RSP_EIM_PACKAGE_MAX);
  {
    struct rsp_eim_store *s = open_store(p);
    CHECK_OK(reg(s, eid, 100));
    rsp_eim_store_close(s);
  }
  for (int i = 0; i < 5; i++) {
    struct rsp_eim_store *s = open_store(p);
    CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &id));
    rsp_eim_store_close(s);
    s = open_store(p);
    CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0, &op, NULL));
    /* A stale counter (the one before) and a skipped one are both refused. */
    psmo_package(eid, EIM_ID, 100 + i - 1, NULL, 0, &pkg);
    CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(s, id, rsp_msg_slice(pkg.data, pkg.len),
                                                         100 + i - 1, rsp_msg_slice(NULL, 0), T0),
              RSP_E_STATE);
    psmo_package(eid, EIM_ID, 100 + i + 1, NULL, 0, &pkg);
    CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(s, id, rsp_msg_slice(pkg.data, pkg.len),
                                                         100 + i + 1, rsp_msg_slice(NULL, 0), T0),
              RSP_E_STATE);
    /* The package must carry the counter it is stored with, the EID and the eimId. */
    CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(s, id, rsp_msg_slice(pkg.data, pkg.len),
                                                         100 + i, rsp_msg_slice(NULL, 0), T0),
              RSP_E_INVALID_ARG);
    {
      char other[RSP_EID_DIGITS + 1];
      eid_of(6, other);
      psmo_package(other, EIM_ID, 100 + i, NULL, 0, &pkg);
      CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(s, id, rsp_msg_slice(pkg.data, pkg.len),
                                                           100 + i, rsp_msg_slice(NULL, 0), T0),
                RSP_E_INVALID_ARG);
      psmo_package(eid, "another.eim", 100 + i, NULL, 0, &pkg);
      CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(s, id, rsp_msg_slice(pkg.data, pkg.len),
                                                           100 + i, rsp_msg_slice(NULL, 0), T0),
                RSP_E_INVALID_ARG);
      data_package((const uint8_t *)"x", 1, &pkg); /* a BF52 for a PSMO operation */
      CHECK_ERR(rsp_eim_store_assign_counter_and_mark_sent(s, id, rsp_msg_slice(pkg.data, pkg.len),
                                                           100 + i, rsp_msg_slice(NULL, 0), T0),
                RSP_E_INVALID_ARG);
    }
    rsp_eim_store_close(s);
    s = open_store(p);
    CHECK_OK(send_head(s, &op, NULL, 0, T0, &counter));
    CHECK(counter > last);
    CHECK_EQ(counter, 100 + i);
    last = counter;
    rsp_eim_store_close(s);
    s = open_store(p);
    CHECK_OK(result_by_counter(s, eid, counter, i, 0, &outcome));
    CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
    rsp_eim_store_close(s);
  }
  CHECK_EQ(sql_int(p, "SELECT next_counter FROM devices"), 105);
  CHECK_EQ(sql_int(p, "SELECT count(DISTINCT counter) FROM operations"), 5);
  rsp_buf_free(&pkg);
  rsp_eim_operation_free(&op);
  cleanup();
}

/* The last counter is RSP_EIM_COUNTER_MAX - 1; after it the device is exhausted. */
static void counter_exhausted(void) {
  struct rsp_eim_store *s = open_store(":memory:");
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op;
  enum rsp_eim_record outcome;
  int64_t id = 0, counter = 0;
  eid_of(11, eid);
  rsp_eim_operation_init(&op);
  CHECK_ERR(reg(s, eid, (int64_t)RSP_EIM_COUNTER_MAX + 1), RSP_E_INVALID_ARG);
  CHECK_OK(reg(s, eid, RSP_EIM_COUNTER_MAX - 1));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &id));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &id));
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0, &op, NULL));
  CHECK_OK(send_head(s, &op, NULL, 0, T0, &counter));
  CHECK_EQ(counter, RSP_EIM_COUNTER_MAX - 1);
  CHECK_OK(result_by_counter(s, eid, counter, 1, 0, &outcome));
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0, &op, NULL));
  CHECK_EQ(op.id, id);
  CHECK_ERR(send_head(s, &op, NULL, 0, T0, &counter), RSP_E_STATE);
  CHECK_OK(rsp_eim_store_op_get(s, id, &op));
  CHECK_EQ(op.state, RSP_EIM_OP_QUEUED);
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
}

/* A txid is unique across all operations: a second use is refused. */
static void txid_unique(void) {
  struct rsp_eim_store *s = open_store(":memory:");
  char eid[RSP_EID_DIGITS + 1], eid2[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op;
  int64_t a = 0, b = 0, counter = 0;
  static const uint8_t txid[2] = {7, 7};
  eid_of(7, eid);
  eid_of(8, eid2);
  rsp_eim_operation_init(&op);
  CHECK_OK(reg(s, eid, 1));
  CHECK_OK(reg(s, eid2, 1));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &a));
  CHECK_OK(enq(s, eid2, RSP_EIM_OP_PSMO, 0, 0, T0, &b));
  CHECK_OK(rsp_eim_store_op_get(s, a, &op));
  CHECK_OK(send_head(s, &op, txid, sizeof txid, T0, &counter));
  CHECK_OK(rsp_eim_store_op_get(s, b, &op));
  CHECK_ERR(send_head(s, &op, txid, sizeof txid, T0, &counter), RSP_E_EXISTS);
  /* Nothing of the refused attempt stayed: its device's counter did not move. */
  CHECK_EQ(audit_count(s, "sent"), 1);
  CHECK_OK(send_head(s, &op, NULL, 0, T0, &counter));
  CHECK_EQ(counter, 1);
  /* A result quoting the txid of another device's operation matches nothing. */
  {
    enum rsp_eim_record outcome;
    uint8_t buf[8];
    struct rsp_eim_result r = {eid2,
                               {txid, sizeof txid},
                               RSP_EIM_NO_COUNTER,
                               1,
                               fake_result(buf, 1, 0),
                               NULL,
                               RSP_EIM_OP_DONE,
                               NULL};
    CHECK_OK(rsp_eim_store_record_result(s, &r, T0, &outcome, NULL));
    CHECK_EQ(outcome, RSP_EIM_RECORD_UNKNOWN);
    r.eid = NULL; /* the txid alone finds it */
    CHECK_OK(rsp_eim_store_record_result(s, &r, T0, &outcome, NULL));
    CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
  }
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
}

/* ---- results --------------------------------------------------------------------------------- */

static void duplicate_result(void) {
  const char *path = db_path("eim-dup");
  struct rsp_eim_store *s = open_store(path);
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op, before;
  enum rsp_eim_record outcome;
  int64_t id = 0, counter = 0, op_id = 0;
  size_t audits;
  eid_of(9, eid);
  rsp_eim_operation_init(&op);
  rsp_eim_operation_init(&before);
  CHECK_OK(reg(s, eid, 1));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &id));
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0, &op, NULL));
  CHECK_OK(send_head(s, &op, NULL, 0, T0, &counter));
  {
    uint8_t buf[8];
    struct rsp_eim_result r = {eid,
                               {NULL, 0},
                               counter,
                               20,
                               fake_result(buf, 20, 0),
                               "{\"enableResult\":1}",
                               RSP_EIM_OP_DONE,
                               NULL};
    CHECK_OK(rsp_eim_store_record_result(s, &r, T0 + 1, &outcome, &op_id));
    CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
    CHECK_EQ(op_id, id);
    CHECK_OK(rsp_eim_store_op_get(s, id, &before));
    audits = audit_count(s, NULL);
    rsp_eim_store_close(s);
    s = open_store(path);
    /* The same result again (replayed by the IPA, or its ack was lost): nothing changes. */
    CHECK_OK(rsp_eim_store_record_result(s, &r, T0 + 2, &outcome, &op_id));
    CHECK_EQ(outcome, RSP_EIM_RECORD_DUPLICATE);
    CHECK_EQ(op_id, id);
    /* The notification copy of the same EPR carries another signature (notes 3.4): same seq. */
    r.der = fake_result(buf, 20, 0x40);
    r.state = RSP_EIM_OP_FAILED;
    CHECK_OK(rsp_eim_store_record_result(s, &r, T0 + 3, &outcome, &op_id));
    CHECK_EQ(outcome, RSP_EIM_RECORD_DUPLICATE);
    CHECK_EQ(audit_count(s, NULL), audits);
    CHECK_OK(rsp_eim_store_op_get(s, id, &op));
    CHECK_EQ(op.state, RSP_EIM_OP_DONE);
    CHECK_EQ(op.done_at, before.done_at);
    CHECK_EQ(op.result.len, before.result.len);
    CHECK_MEM(op.result.data, before.result.data, before.result.len);
    CHECK_STR(op.result_summary, "{\"enableResult\":1}");
    /* Another result for the same counter (another seq, other bytes): kept in audit only. */
    r.seq_number = 21;
    r.der = fake_result(buf, 21, 0);
    CHECK_OK(rsp_eim_store_record_result(s, &r, T0 + 4, &outcome, &op_id));
    CHECK_EQ(outcome, RSP_EIM_RECORD_CONFLICT);
    CHECK_EQ(audit_count(s, "result_conflict"), 1);
    CHECK_OK(rsp_eim_store_op_get(s, id, &op));
    CHECK_EQ(op.result_seq, 20);
    CHECK_EQ(op.state, RSP_EIM_OP_DONE);
    /* Without seqNumbers, identical bytes are the duplicate. */
    r.seq_number = RSP_EIM_NO_SEQ;
    r.der = fake_result(buf, 20, 0);
    CHECK_OK(rsp_eim_store_record_result(s, &r, T0 + 5, &outcome, &op_id));
    CHECK_EQ(outcome, RSP_EIM_RECORD_DUPLICATE);
    /* A counter never handed out. */
    r.counter = counter + 10;
    CHECK_OK(rsp_eim_store_record_result(s, &r, T0 + 6, &outcome, &op_id));
    CHECK_EQ(outcome, RSP_EIM_RECORD_UNKNOWN);
    CHECK_EQ(op_id, 0);
  }
  CHECK_EQ(audit_count(s, "result"), 1);
  CHECK_EQ(audit_count(s, "result_unknown"), 1);
  /* The audit trail is append-only in the file itself. */
  CHECK(sql_int(path, "SELECT count(*) FROM audit") > 0);
  if (use_pg) {
#ifdef RSP_HAVE_LIBPQ
    fprintf(stderr, "expected: two refusals of the append-only audit table\n");
    CHECK(!rsp_test_pg_exec(path, "UPDATE audit SET event = 'x'"));
    CHECK(!rsp_test_pg_exec(path, "DELETE FROM audit"));
    CHECK(!rsp_test_pg_exec(path, "TRUNCATE audit"));
#endif
  } else {
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE audit SET event = 'x'", NULL, NULL, NULL) != SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, NULL) != SQLITE_OK);
    sqlite3_close(db);
  }
  /* Listing by operation and by EID. */
  {
    struct rsp_eim_audit_query q = {eid, id, 0, 100};
    struct rsp_eim_audit_list l;
    CHECK_OK(rsp_eim_store_audit_list(s, &q, &l));
    CHECK_EQ(l.n, 4); /* enqueued, sent, result, result_conflict */
    CHECK_STR(l.v[0].event, "enqueued");
    CHECK_STR(l.v[1].event, "sent");
    CHECK_EQ(l.v[1].der.len, before.package.len);
    CHECK_MEM(l.v[1].der.data, before.package.data, before.package.len);
    CHECK_STR(l.v[2].event, "result");
    CHECK(strstr(l.v[2].detail, "\"summary\":{\"enableResult\":1}") != NULL);
    rsp_eim_audit_list_free(&l);
    q.operation_id = 0;
    q.after_id = 0;
    q.limit = 2;
    CHECK_OK(rsp_eim_store_audit_list(s, &q, &l));
    CHECK_EQ(l.n, 2);
    CHECK_STR(l.v[0].event, "registered");
    rsp_eim_audit_list_free(&l);
  }
  rsp_eim_operation_free(&before);
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
  cleanup();
}

/* ---- notifications --------------------------------------------------------------------------- */

static void notifications(void) {
  struct rsp_eim_store *s = open_store(":memory:");
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_notification n;
  enum rsp_eim_record outcome;
  uint8_t buf[8], buf2[8];
  eid_of(10, eid);
  rsp_eim_notification_init(&n);
  CHECK_OK(reg(s, eid, 1));
  struct rsp_eim_notification_new in = {
      eid, 5, RSP_EIM_NOTIF_INSTALL, "8944000000000000011", fake_result(buf, 5, 0), "smdp.example"};
  CHECK_ERR(rsp_eim_store_notification_next(s, &n), RSP_E_NOT_FOUND);
  CHECK_OK(rsp_eim_store_record_notification(s, &in, T0, &outcome));
  CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
  in.der = fake_result(buf2, 5, 1); /* a second copy: the first is kept */
  CHECK_OK(rsp_eim_store_record_notification(s, &in, T0 + 1, &outcome));
  CHECK_EQ(outcome, RSP_EIM_RECORD_DUPLICATE);
  in.seq_number = 6;
  in.forward_address = NULL; /* nothing to forward */
  CHECK_OK(rsp_eim_store_record_notification(s, &in, T0 + 2, &outcome));
  CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
  CHECK_OK(rsp_eim_store_notification_next(s, &n));
  CHECK_EQ(n.seq_number, 5);
  CHECK_EQ(n.kind, RSP_EIM_NOTIF_INSTALL);
  CHECK_STR(n.iccid, "8944000000000000011");
  CHECK_STR(n.forward_address, "smdp.example");
  CHECK_EQ(n.der.len, 8);
  CHECK_MEM(n.der.data, buf, 8);
  CHECK_OK(rsp_eim_store_notification_forwarded(s, eid, 5, T0 + 3));
  CHECK_OK(rsp_eim_store_notification_forwarded(s, eid, 5, T0 + 4)); /* idempotent */
  CHECK_ERR(rsp_eim_store_notification_forwarded(s, eid, 77, T0 + 4), RSP_E_NOT_FOUND);
  CHECK_ERR(rsp_eim_store_notification_next(s, &n), RSP_E_NOT_FOUND);
  CHECK_EQ(audit_count(s, "notification"), 2);
  CHECK_EQ(audit_count(s, "notification_forwarded"), 1);
  rsp_eim_notification_free(&n);
  rsp_eim_notification_free(&n);
  rsp_eim_store_close(s);
}

/* ---- devices and profiles -------------------------------------------------------------------- */

static void devices(void) {
  struct rsp_eim_store *s = open_store(":memory:");
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_device d;
  struct rsp_eim_device_summary page[3];
  size_t n = 0;
  static const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x05};
  static const uint8_t info2[] = {0xBF, 0x22, 0x03, 0x81, 0x01, 0x02};
  static const uint8_t rplmn[3] = {0x00, 0xF1, 0x10};
  static const uint8_t config[] = {0x30, 0x05, 0x80, 0x03, 'e', 'i', 'm'};
  rsp_eim_device_init(&d);
  for (unsigned i = 7; i >= 1; i--) {
    struct rsp_eim_device_new nd = {0};
    eid_of(i, eid);
    nd.eid = eid;
    nd.eim_id = EIM_ID;
    nd.next_counter = i;
    if (i == 1) nd.initial_config = rsp_msg_slice(config, sizeof config);
    CHECK_OK(rsp_eim_store_device_register(s, &nd, T0 + i));
  }
  /* Paging in EID order. */
  CHECK_OK(rsp_eim_store_device_list(s, NULL, page, 3, &n));
  CHECK_EQ(n, 3);
  eid_of(1, eid);
  CHECK_STR(page[0].eid, eid);
  CHECK_OK(rsp_eim_store_device_list(s, page[2].eid, page, 3, &n));
  CHECK_EQ(n, 3);
  eid_of(4, eid);
  CHECK_STR(page[0].eid, eid);
  CHECK_OK(rsp_eim_store_device_list(s, page[2].eid, page, 3, &n));
  CHECK_EQ(n, 1);
  CHECK_OK(rsp_eim_store_device_list(s, page[0].eid, page, 3, &n));
  CHECK_EQ(n, 0);
  /* What the card told us, and a poll. */
  eid_of(1, eid);
  {
    struct rsp_eim_euicc_data ed = {0};
    ed.euicc_cert = rsp_msg_slice(cert, sizeof cert);
    ed.euicc_info2 = rsp_msg_slice(info2, sizeof info2);
    ed.has_association_token = true;
    ed.association_token = 42;
    CHECK_OK(rsp_eim_store_device_update_euicc_data(s, eid, &ed, T0 + 100));
    ed.euicc_cert.p = NULL; /* absent: kept */
    ed.euicc_cert.len = 0;
    ed.has_association_token = false;
    CHECK_OK(rsp_eim_store_device_update_euicc_data(s, eid, &ed, T0 + 101));
  }
  CHECK_OK(rsp_eim_store_device_touch(s, eid, T0 + 200, rplmn));
  CHECK_OK(rsp_eim_store_device_touch(s, eid, T0 + 201, NULL));
  CHECK_OK(rsp_eim_store_device_get(s, eid, &d));
  CHECK_EQ(d.euicc_cert.len, sizeof cert);
  CHECK_EQ(d.euicc_info2.len, sizeof info2);
  CHECK_EQ(d.eum_cert.len, 0);
  CHECK_EQ(d.initial_config.len, sizeof config);
  CHECK_MEM(d.initial_config.data, config, sizeof config);
  CHECK(d.has_association_token);
  CHECK_EQ(d.association_token, 42);
  CHECK_EQ(d.last_seen, T0 + 201);
  CHECK(d.has_rplmn);
  CHECK_MEM(d.rplmn, rplmn, 3);
  CHECK_EQ(d.created, T0 + 1);
  /* Profiles. */
  {
    struct rsp_eim_profile p[2] = {{"8944000000000000011", RSP_EIM_PROFILE_DISABLED, "one", 2, 0},
                                   {"8944000000000000029", RSP_EIM_PROFILE_ENABLED, "two", -1, 0}};
    struct rsp_eim_profile out[4];
    CHECK_OK(rsp_eim_store_profiles_set(s, eid, p, 2, T0 + 300));
    CHECK_OK(rsp_eim_store_profiles_list(s, eid, out, 4, &n));
    CHECK_EQ(n, 2);
    CHECK_STR(out[0].iccid, "8944000000000000011");
    CHECK_EQ(out[0].profile_class, 2);
    CHECK_EQ(out[1].state, RSP_EIM_PROFILE_ENABLED);
    CHECK_EQ(out[1].profile_class, -1);
    CHECK_STR(out[1].name, "two");
    CHECK_OK(rsp_eim_store_device_get(s, eid, &d));
    CHECK_STR(d.enabled_iccid, "8944000000000000029");
    CHECK_OK(rsp_eim_store_profiles_set(s, eid, p, 1, T0 + 301)); /* replaced */
    CHECK_OK(rsp_eim_store_profiles_list(s, eid, out, 4, &n));
    CHECK_EQ(n, 1);
    CHECK_OK(rsp_eim_store_device_get(s, eid, &d));
    CHECK_STR(d.enabled_iccid, "");
  }
  rsp_eim_device_free(&d);
  rsp_eim_store_close(s);
}

/* ---- polls: device_poll and the batched last_seen -------------------------------------------- */

/* The device and its deliverable head in one call: the same head as next_for_delivery. */
static void device_poll(void) {
  struct rsp_eim_store *s = open_store(":memory:");
  char eid[RSP_EID_DIGITS + 1], eid2[RSP_EID_DIGITS + 1];
  struct rsp_eim_device d;
  struct rsp_eim_operation head, ref;
  static const uint8_t rplmn[3] = {0x32, 0xF4, 0x51};
  int64_t later = 0, now_op = 0, gone = 0, behind = 0, counter = 0;
  eid_of(1, eid);
  eid_of(2, eid2);
  CHECK_OK(reg(s, eid, 7));
  CHECK_OK(reg(s, eid2, 1));
  rsp_eim_device_init(&d);
  rsp_eim_operation_init(&head);
  rsp_eim_operation_init(&ref);
  /* Empty queue: the device, no head, the poll held and shown to this handle. */
  CHECK_OK(rsp_eim_store_device_poll(s, eid, T0 + 5, rplmn, &d, &head));
  CHECK_STR(d.eid, eid);
  CHECK_STR(d.eim_id, EIM_ID);
  CHECK_EQ(d.next_counter, 7);
  CHECK_EQ(d.last_seen, T0 + 5);
  CHECK(d.has_rplmn);
  CHECK_MEM(d.rplmn, rplmn, 3);
  CHECK_EQ(head.id, 0);
  CHECK_EQ(rsp_eim_store_touches_held(s), 1);
  /* A state change writes the held poll with itself. */
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, T0 + 100, 0, T0, &later));
  CHECK_EQ(rsp_eim_store_touches_held(s), 0);
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &now_op));
  /* A head not due yet holds back the queue, as next_for_delivery does. */
  CHECK_OK(rsp_eim_store_device_poll(s, eid, T0 + 10, NULL, &d, &head));
  CHECK_EQ(head.id, 0);
  CHECK_ERR(rsp_eim_store_next_for_delivery(s, eid, T0 + 10, &ref, NULL), RSP_E_NOT_FOUND);
  CHECK_EQ(d.last_seen, T0 + 10);
  CHECK_MEM(d.rplmn, rplmn, 3); /* a poll without rPLMN keeps it */
  CHECK_OK(rsp_eim_store_device_poll(s, eid, T0 + 100, NULL, &d, &head));
  CHECK_EQ(head.id, later);
  CHECK_EQ(head.state, RSP_EIM_OP_QUEUED);
  CHECK_STR(head.spec, SPEC);
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0 + 100, &ref, NULL));
  CHECK_EQ(ref.id, head.id);
  CHECK_EQ(rsp_eim_store_delivery_decision(&head, T0 + 100), RSP_EIM_DELIVERY_SEND_NEW);
  /* A sent head comes back for redelivery, with its package. */
  CHECK_OK(send_head(s, &head, NULL, 0, T0 + 100, &counter));
  CHECK_EQ(counter, 7);
  CHECK_OK(rsp_eim_store_device_poll(s, eid, T0 + 101, NULL, &d, &head));
  CHECK_EQ(head.id, later);
  CHECK_EQ(head.state, RSP_EIM_OP_SENT);
  CHECK(head.package.len > 0);
  CHECK_EQ(d.next_counter, 8);
  CHECK_EQ(rsp_eim_store_delivery_decision(&head, T0 + 101), RSP_EIM_DELIVERY_ASK_RESULTS);
  /* An expired head is marked expired (audited) and the one behind it answers. */
  CHECK_OK(enq(s, eid2, RSP_EIM_OP_PSMO, 0, T0 + 20, T0, &gone));
  CHECK_OK(enq(s, eid2, RSP_EIM_OP_PSMO, 0, 0, T0, &behind));
  CHECK_OK(rsp_eim_store_device_poll(s, eid2, T0 + 30, NULL, &d, &head));
  CHECK_EQ(head.id, behind);
  CHECK_EQ(d.last_seen, T0 + 30);
  CHECK_OK(rsp_eim_store_op_get(s, gone, &ref));
  CHECK_EQ(ref.state, RSP_EIM_OP_EXPIRED);
  CHECK_EQ(audit_count(s, "expired"), 1);
  CHECK_EQ(rsp_eim_store_touches_held(s), 0); /* written with the expiry */
  (void)now_op;
  rsp_eim_operation_free(&ref);
  rsp_eim_operation_free(&head);
  rsp_eim_device_free(&d);
  rsp_eim_store_close(s);
}

/* last_seen and rPLMN of `eid` as the file has them (a fresh handle holds nothing). */
static void seen_in_file(const char *path, const char *eid, int64_t *last_seen, uint8_t *rplmn) {
  struct rsp_eim_store *o = open_store(path);
  struct rsp_eim_device d;
  rsp_eim_device_init(&d);
  CHECK_OK(rsp_eim_store_device_get(o, eid, &d));
  *last_seen = d.last_seen;
  memset(rplmn, 0, 3);
  if (d.has_rplmn) memcpy(rplmn, d.rplmn, 3);
  rsp_eim_device_free(&d);
  rsp_eim_store_close(o);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

#define SEEN_INTERVAL_MS 300

/* Polls are held in memory, shown to their own handle at once and to the file after the
 * interval (the next poll or flush_due writes the batch), at close, or at once with interval 0. */
static void last_seen_batched(void) {
  const char *tmp = db_path("eim-seen");
  char path[600], e1[RSP_EID_DIGITS + 1], e2[RSP_EID_DIGITS + 1];
  static const uint8_t x[3] = {0x32, 0xF4, 0x51}, y[3] = {0x62, 0xF2, 0x10}, none[3] = {0};
  struct rsp_eim_device_summary rows[4];
  struct rsp_eim_device d;
  uint8_t rp[3];
  int64_t seen = 0;
  size_t n = 0;
  snprintf(path, sizeof path, "%s", tmp);
  eid_of(1, e1);
  eid_of(2, e2);
  struct rsp_eim_store *a = open_store(path);
  rsp_eim_device_init(&d);
  CHECK_OK(reg(a, e1, 1));
  CHECK_OK(reg(a, e2, 1));
  CHECK_OK(rsp_eim_store_set_touch_interval(a, SEEN_INTERVAL_MS));
  CHECK_OK(rsp_eim_store_device_touch(a, e1, T0 + 10, x));
  CHECK_EQ(rsp_eim_store_touches_held(a), 1);
  CHECK_OK(rsp_eim_store_device_get(a, e1, &d));
  CHECK_EQ(d.last_seen, T0 + 10);
  CHECK(d.has_rplmn && memcmp(d.rplmn, x, 3) == 0);
  CHECK_OK(rsp_eim_store_device_list(a, NULL, rows, 4, &n));
  CHECK_EQ(n, 2);
  CHECK_EQ(rows[0].last_seen, T0 + 10);
  CHECK_EQ(rows[1].last_seen, 0);
  seen_in_file(path, e1, &seen, rp);
  CHECK_EQ(seen, 0);
  CHECK_OK(rsp_eim_store_flush_due(a)); /* not due yet */
  CHECK_EQ(rsp_eim_store_touches_held(a), 1);
  /* Once the oldest waited for the interval, the next poll writes the whole batch. */
  sleep_ms(SEEN_INTERVAL_MS + 50);
  CHECK_OK(rsp_eim_store_device_touch(a, e2, T0 + 11, NULL));
  CHECK_EQ(rsp_eim_store_touches_held(a), 0);
  seen_in_file(path, e1, &seen, rp);
  CHECK_EQ(seen, T0 + 10);
  CHECK_MEM(rp, x, 3);
  seen_in_file(path, e2, &seen, rp);
  CHECK_EQ(seen, T0 + 11);
  CHECK_MEM(rp, none, 3);
  /* An idle handle: its owner's timer calls flush_due. */
  CHECK_OK(rsp_eim_store_device_touch(a, e1, T0 + 12, NULL));
  sleep_ms(SEEN_INTERVAL_MS + 50);
  CHECK_OK(rsp_eim_store_flush_due(a));
  CHECK_EQ(rsp_eim_store_touches_held(a), 0);
  seen_in_file(path, e1, &seen, rp);
  CHECK_EQ(seen, T0 + 12);
  CHECK_MEM(rp, x, 3);
  /* Close writes what is held. */
  CHECK_OK(rsp_eim_store_device_touch(a, e1, T0 + 13, y));
  rsp_eim_store_close(a);
  seen_in_file(path, e1, &seen, rp);
  CHECK_EQ(seen, T0 + 13);
  CHECK_MEM(rp, y, 3);
  /* Interval 0: every touch is its own commit, as before batching. */
  a = open_store(path);
  CHECK_OK(rsp_eim_store_set_touch_interval(a, 0));
  CHECK_OK(rsp_eim_store_device_touch(a, e2, T0 + 14, x));
  CHECK_EQ(rsp_eim_store_touches_held(a), 0);
  seen_in_file(path, e2, &seen, rp);
  CHECK_EQ(seen, T0 + 14);
  CHECK_MEM(rp, x, 3);
  rsp_eim_store_close(a);
  rsp_eim_device_free(&d);
  cleanup();
}

/* Handles (or processes) write their batches in any order: last_seen never moves backwards and
 * the rPLMN stays the one of the latest poll. A transaction carries the held polls; one that
 * rolls back keeps them. A full batch is written before the next poll is held. */
static void last_seen_never_backwards(void) {
  const char *tmp = db_path("eim-seen-max");
  char path[600], eid[RSP_EID_DIGITS + 1];
  static const uint8_t x[3] = {0x32, 0xF4, 0x51}, y[3] = {0x62, 0xF2, 0x10};
  static const uint8_t z[3] = {0x13, 0x00, 0x14}, w[3] = {0x99, 0xF9, 0x99};
  struct rsp_eim_euicc_data ed = {0};
  struct rsp_eim_device d;
  uint8_t rp[3];
  int64_t seen = 0, id = 0;
  snprintf(path, sizeof path, "%s", tmp);
  eid_of(1, eid);
  struct rsp_eim_store *a = open_store(path), *b = open_store(path);
  rsp_eim_device_init(&d);
  CHECK_OK(reg(a, eid, 1));
  CHECK_OK(rsp_eim_store_set_touch_interval(a, 600000));
  CHECK_OK(rsp_eim_store_set_touch_interval(b, 600000));
  CHECK_OK(rsp_eim_store_device_touch(a, eid, T0 + 100, x));
  CHECK_OK(rsp_eim_store_device_touch(b, eid, T0 + 50, y)); /* older, written last */
  CHECK_OK(rsp_eim_store_flush(a));
  CHECK_OK(rsp_eim_store_flush(b));
  seen_in_file(path, eid, &seen, rp);
  CHECK_EQ(seen, T0 + 100);
  CHECK_MEM(rp, x, 3);
  CHECK_OK(rsp_eim_store_device_get(b, eid, &d)); /* b holds nothing: the file's value */
  CHECK_EQ(d.last_seen, T0 + 100);
  CHECK_OK(rsp_eim_store_device_touch(b, eid, T0 + 200, NULL));
  CHECK_OK(rsp_eim_store_flush(b));
  seen_in_file(path, eid, &seen, rp);
  CHECK_EQ(seen, T0 + 200);
  CHECK_MEM(rp, x, 3);
  /* In one handle: an older poll after a newer one changes nothing. */
  CHECK_OK(rsp_eim_store_device_touch(a, eid, T0 + 300, z));
  CHECK_OK(rsp_eim_store_device_touch(a, eid, T0 + 250, w));
  CHECK_OK(rsp_eim_store_device_get(a, eid, &d));
  CHECK_EQ(d.last_seen, T0 + 300);
  CHECK_MEM(d.rplmn, z, 3);
  CHECK_OK(rsp_eim_store_flush(a));
  seen_in_file(path, eid, &seen, rp);
  CHECK_EQ(seen, T0 + 300);
  CHECK_MEM(rp, z, 3);
  /* IpaEuiccData recorded with an older time does not move it back either. */
  ed.has_association_token = true;
  ed.association_token = 3;
  CHECK_OK(rsp_eim_store_device_update_euicc_data(b, eid, &ed, T0 + 10));
  seen_in_file(path, eid, &seen, rp);
  CHECK_EQ(seen, T0 + 300);
  /* Piggyback: a state change commits the held polls with itself. */
  CHECK_OK(rsp_eim_store_device_touch(a, eid, T0 + 400, NULL));
  CHECK_OK(enq(a, eid, RSP_EIM_OP_PSMO, 0, 0, T0 + 400, &id));
  CHECK_EQ(rsp_eim_store_touches_held(a), 0);
  seen_in_file(path, eid, &seen, rp);
  CHECK_EQ(seen, T0 + 400);
  /* One that rolls back (refused) keeps them for the next write (SQLite: they ride in its
   * transaction). PostgreSQL writes them in a statement of their own just before (docs/adr/0010),
   * so they are written whatever the state change does. */
  CHECK_OK(rsp_eim_store_device_touch(a, eid, T0 + 500, y));
  CHECK_OK(rsp_eim_store_op_cancel(a, id, T0 + 500));
  CHECK_EQ(rsp_eim_store_touches_held(a), 0);
  CHECK_OK(rsp_eim_store_device_touch(a, eid, T0 + 600, x));
  CHECK_ERR(rsp_eim_store_op_cancel(a, id, T0 + 600), RSP_E_STATE); /* rolled back */
  CHECK_EQ(rsp_eim_store_touches_held(a), use_pg ? 0 : 1);
  seen_in_file(path, eid, &seen, rp);
  CHECK_EQ(seen, use_pg ? T0 + 600 : T0 + 500);
  CHECK_MEM(rp, use_pg ? x : y, 3);
  CHECK_OK(rsp_eim_store_flush(a));
  seen_in_file(path, eid, &seen, rp);
  CHECK_EQ(seen, T0 + 600);
  CHECK_MEM(rp, x, 3);
  rsp_eim_store_close(b);
  rsp_eim_store_close(a);
  rsp_eim_device_free(&d);
  cleanup();
}

/* Devices eid_of(first..last) straight into the file, in one transaction (registering them one
 * commit each through the store would take minutes). */
static void bulk_devices(const char *path, unsigned first, unsigned last) {
#ifdef RSP_HAVE_LIBPQ
  if (use_pg) {
    char q[400];
    snprintf(q, sizeof q,
             "INSERT INTO devices (eid, eim_id, next_counter, created) SELECT"
             " '890490320000000000000000' || lpad(i::text, 8, '0'), '" EIM_ID "', 1, %d"
             " FROM generate_series(%u, %u) AS i",
             T0, first, last);
    CHECK(rsp_test_pg_exec(path, q));
    return;
  }
#endif
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  char eid[RSP_EID_DIGITS + 1];
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db,
                           "INSERT INTO devices (eid, eim_id, next_counter, created)"
                           " VALUES (?, '" EIM_ID "', 1, ?)",
                           -1, &st, NULL) == SQLITE_OK);
  for (unsigned i = first; i <= last; i++) {
    eid_of(i, eid);
    sqlite3_bind_text(st, 1, eid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, T0);
    if (sqlite3_step(st) != SQLITE_DONE) CHECK(false);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  CHECK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
}

static int64_t seen_count(const char *path) {
  return sql_int(path, "SELECT count(*) FROM devices WHERE last_seen IS NOT NULL");
}

/* Large batches: RSP_EIM_TOUCH_PENDING_MAX devices held, then one more writes the oldest batch
 * (RSP_EIM_TOUCH_BATCH_MAX) first; a state change carries one batch; a due handle writes one
 * batch per poll, oldest first, and flush_due or flush write all that is due or held. Every
 * device shows its own poll throughout. */
static void last_seen_batches(void) {
  const char *tmp = db_path("eim-seen-batch");
  char path[600], eid[RSP_EID_DIGITS + 1];
  const unsigned max = RSP_EIM_TOUCH_PENDING_MAX, batch = RSP_EIM_TOUCH_BATCH_MAX;
  struct rsp_eim_device_summary rows[3];
  struct rsp_eim_device d;
  int64_t id = 0;
  size_t got = 0;
  snprintf(path, sizeof path, "%s", tmp);
  rsp_eim_store_close(open_store(path));
  bulk_devices(path, 1, max + 3 * batch);
  struct rsp_eim_store *s = open_store(path);
  rsp_eim_device_init(&d);
  CHECK_OK(rsp_eim_store_set_touch_interval(s, 600000));
  for (unsigned i = 1; i <= max; i++) {
    eid_of(i, eid);
    if (rsp_eim_store_device_touch(s, eid, T0 + i, NULL) != RSP_OK) CHECK(false);
  }
  CHECK_EQ(rsp_eim_store_touches_held(s), max);
  CHECK_EQ(seen_count(path), 0);
  eid_of(max + 1, eid);
  CHECK_OK(rsp_eim_store_device_touch(s, eid, T0 + max + 1, NULL));
  CHECK_EQ(rsp_eim_store_touches_held(s), max - batch + 1);
  CHECK_EQ(seen_count(path), batch);
  CHECK_EQ(sql_int(path, "SELECT min(last_seen) - 1700000000 FROM devices"), 1);
  CHECK_EQ(sql_int(path, "SELECT max(last_seen) - 1700000000 FROM devices"), batch);
  for (unsigned i = 1; i <= max + 1; i += 997) {
    eid_of(i, eid);
    CHECK_OK(rsp_eim_store_device_get(s, eid, &d));
    CHECK_EQ(d.last_seen, T0 + i);
  }
  eid_of(max - 1, eid);
  CHECK_OK(rsp_eim_store_device_list(s, eid, rows, 3, &got));
  CHECK_EQ(got, 3);
  CHECK_EQ(rows[0].last_seen, T0 + max);
  CHECK_EQ(rows[1].last_seen, T0 + max + 1);
  CHECK_EQ(rows[2].last_seen, 0);
  /* A state change carries one batch, the oldest. */
  eid_of(1, eid);
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &id));
  CHECK_EQ(rsp_eim_store_touches_held(s), max - 2 * batch + 1);
  CHECK_EQ(seen_count(path), 2 * batch);
  /* flush writes everything, batch after batch. */
  CHECK_OK(rsp_eim_store_flush(s));
  CHECK_EQ(rsp_eim_store_touches_held(s), 0);
  CHECK_EQ(seen_count(path), max + 1);
  /* Due: each poll writes one batch until what is held is younger than the interval. */
  CHECK_OK(rsp_eim_store_set_touch_interval(s, SEEN_INTERVAL_MS));
  for (unsigned i = 1; i <= 2 * batch + 10; i++) {
    eid_of(i, eid);
    if (rsp_eim_store_device_touch(s, eid, T0 + 100000 + i, NULL) != RSP_OK) CHECK(false);
  }
  sleep_ms(SEEN_INTERVAL_MS + 50);
  eid_of(max + 2, eid);
  CHECK_OK(rsp_eim_store_device_touch(s, eid, T0 + 200000, NULL));
  CHECK_EQ(rsp_eim_store_touches_held(s), batch + 11);
  eid_of(max + 3, eid);
  CHECK_OK(rsp_eim_store_device_touch(s, eid, T0 + 200001, NULL));
  CHECK_EQ(rsp_eim_store_touches_held(s), 12);
  /* 10 due ones are left, and the 2 new ones behind them: one batch takes all 12. */
  CHECK_OK(rsp_eim_store_flush_due(s));
  CHECK_EQ(rsp_eim_store_touches_held(s), 0);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM devices WHERE last_seen > 1700100000"),
           2 * batch + 10 + 2);
  /* flush_due with several due batches writes them all. */
  for (unsigned i = 1; i <= 2 * batch + 10; i++) {
    eid_of(max + 3 * batch - i, eid);
    if (rsp_eim_store_device_touch(s, eid, T0 + 300000 + i, NULL) != RSP_OK) CHECK(false);
  }
  CHECK_OK(rsp_eim_store_flush_due(s)); /* none due yet */
  CHECK_EQ(rsp_eim_store_touches_held(s), 2 * batch + 10);
  sleep_ms(SEEN_INTERVAL_MS + 50);
  CHECK_OK(rsp_eim_store_flush_due(s));
  CHECK_EQ(rsp_eim_store_touches_held(s), 0);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM devices WHERE last_seen > 1700300000"),
           2 * batch + 10);
  rsp_eim_device_free(&d);
  rsp_eim_store_close(s);
  cleanup();
}

/* ---- processes ------------------------------------------------------------------------------- */

#define CRASH_DEVICES 4
#define CRASH_ROUNDS 50

static unsigned rnd(unsigned *state) {
  *state = *state * 1103515245u + 12345u;
  return (*state >> 16) & 0x7FFF;
}

static void tell(int fd, const char *fmt, long long a, long long b) {
  char line[64];
  int n = snprintf(line, sizeof line, fmt, a, b);
  if (n > 0 && write(fd, line, (size_t)n) != n) _exit(5);
}

/* One step of the crash child: enqueue, or run the delivery decision for a random device the way
 * the ESipa handler will. Each fact the child learns committed is told to the parent. */
static void crash_step(struct rsp_eim_store *s, int fd, unsigned *seed, int64_t now) {
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_operation op;
  uint8_t txid[8];
  int64_t id = 0, counter = 0;
  enum rsp_eim_record outcome;
  eid_of(1 + rnd(seed) % CRASH_DEVICES, eid);
  if (rnd(seed) % 10 < 4) {
    int64_t expires = rnd(seed) % 4 == 0 ? now + 1 + rnd(seed) % 3 : 0;
    if (enq(s, eid, RSP_EIM_OP_PSMO, 0, expires, now, &id) == RSP_OK)
      tell(fd, "E %lld %lld\n", id, 0);
    return;
  }
  rsp_eim_operation_init(&op);
  if (rsp_eim_store_next_for_delivery(s, eid, now, &op, NULL) != RSP_OK) goto out;
  switch (rsp_eim_store_delivery_decision(&op, now)) {
  case RSP_EIM_DELIVERY_SEND_NEW:
    for (size_t i = 0; i < sizeof txid; i++) txid[i] = (uint8_t)rnd(seed);
    if (send_head(s, &op, txid, sizeof txid, now, &counter) == RSP_OK)
      tell(fd, "S %lld %lld\n", op.id, counter);
    break;
  case RSP_EIM_DELIVERY_ASK_RESULTS:
    if (rnd(seed) % 2) {
      if (rsp_eim_store_op_results_checked(s, op.id, op.sent_count, now) != RSP_OK) _exit(6);
      break;
    }
    /* The card had the result: record it (and, sometimes, its replay). */
    if (result_by_counter(s, eid, op.counter, op.counter, 0, &outcome) != RSP_OK) _exit(7);
    if (outcome != RSP_EIM_RECORD_NEW) _exit(8);
    tell(fd, "R %lld %lld\n", op.id, 0);
    if (rnd(seed) % 3 == 0 &&
        (result_by_counter(s, eid, op.counter, op.counter, 0, &outcome) != RSP_OK ||
         outcome != RSP_EIM_RECORD_DUPLICATE))
      _exit(9);
    break;
  case RSP_EIM_DELIVERY_RESEND:
    if (rsp_eim_store_op_resent(s, op.id, now) != RSP_OK) _exit(10);
    break;
  default:
    break;
  }
out:
  rsp_eim_operation_free(&op);
}

static void crash_child(const char *path, int fd, unsigned seed) {
  int64_t now = T0;
  for (;;) {
    struct rsp_eim_store *s = NULL;
    if (rsp_eim_store_open(path, &s) != RSP_OK) _exit(3);
    for (int i = 0; i < 20; i++) crash_step(s, fd, &seed, now++);
    rsp_eim_store_close(s);
  }
}

/* The invariants of a store file, as SQL counts that must all be zero. */
static void check_invariants(const char *path) {
  static const char *const zero[] = {
      /* no counter reused, none at or past the device's next one, increasing in queue order */
      "SELECT count(*) FROM (SELECT 1 FROM operations WHERE counter IS NOT NULL"
      " GROUP BY eid, counter HAVING count(*) > 1) AS x",
      "SELECT count(*) FROM operations o JOIN devices d USING (eid) WHERE o.counter >="
      " d.next_counter",
      "SELECT count(*) FROM operations a JOIN operations b ON a.eid = b.eid AND a.seq < b.seq"
      " WHERE a.counter IS NOT NULL AND b.counter IS NOT NULL AND a.counter >= b.counter",
      /* every operation in exactly one known state, consistent with its columns */
      "SELECT count(*) FROM operations WHERE state NOT IN ('queued', 'sent', 'done', 'failed',"
      " 'expired', 'cancelled')",
      "SELECT count(*) FROM operations WHERE state = 'queued' AND (package IS NOT NULL OR"
      " counter IS NOT NULL OR result IS NOT NULL)",
      "SELECT count(*) FROM operations WHERE state = 'sent' AND (package IS NULL OR counter IS"
      " NULL OR result IS NOT NULL)",
      "SELECT count(*) FROM operations WHERE state = 'done' AND (result IS NULL OR done_at IS"
      " NULL)",
      /* strict order: nothing sent while an earlier one is open */
      "SELECT count(*) FROM operations a JOIN operations b ON a.eid = b.eid AND a.seq < b.seq"
      " WHERE b.state = 'sent' AND a.state IN ('queued', 'sent')",
      /* each operation enqueued, sent and resolved at most once, with the bytes it stores */
      "SELECT count(*) FROM operations o WHERE (SELECT count(*) FROM audit a WHERE"
      " a.operation_id = o.id AND a.event = 'enqueued') <> 1",
      "SELECT count(*) FROM operations o WHERE (SELECT count(*) FROM audit a WHERE"
      " a.operation_id = o.id AND a.event = 'sent')"
      " <> CASE WHEN o.sent_count > 0 THEN 1 ELSE 0 END",
      "SELECT count(*) FROM operations o WHERE (SELECT count(*) FROM audit a WHERE"
      " a.operation_id = o.id AND a.event = 'result')"
      " <> CASE WHEN o.result IS NOT NULL THEN 1 ELSE 0 END",
      "SELECT count(*) FROM operations o JOIN audit a ON a.operation_id = o.id AND"
      " a.event = 'sent' WHERE a.der IS DISTINCT FROM o.package",
      "SELECT count(*) FROM audit WHERE event IN ('result_conflict', 'result_unknown')",
  };
  if (!rsp_eim_store_is_pg(path)) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++) {
    int64_t v = sql_int(path, zero[i]);
    if (v != 0) rsp_test_fail(__FILE__, __LINE__, "%lld rows: %s", (long long)v, zero[i]);
    rsp_test_checks++;
  }
}

/* What the child told before it died must be in the file. */
static void check_told(struct rsp_eim_store *s, char *text, size_t *facts) {
  struct rsp_eim_operation op;
  char *save = NULL;
  rsp_eim_operation_init(&op);
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char what = 0;
    long long id = 0, counter = 0;
    if (sscanf(line, "%c %lld %lld", &what, &id, &counter) != 3) continue; /* a cut last line */
    CHECK_OK(rsp_eim_store_op_get(s, id, &op));
    if (what == 'S') {
      CHECK_EQ(op.counter, counter);
      CHECK(op.state != RSP_EIM_OP_QUEUED);
      CHECK(op.package.len > 0);
    } else if (what == 'R') {
      CHECK(op.state == RSP_EIM_OP_DONE);
      CHECK(op.result.len > 0);
    }
    (*facts)++;
  }
  rsp_eim_operation_free(&op);
}

static void crash_safety(void) {
  const char *tmp = db_path("eim-crash");
  char path[600], eid[RSP_EID_DIGITS + 1];
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
  size_t facts = 0;
  snprintf(path, sizeof path, "%s", tmp);
  printf("crash_safety: seed %u\n", seed);
  {
    struct rsp_eim_store *s = open_store(path);
    for (unsigned d = 1; d <= CRASH_DEVICES; d++) {
      eid_of(d, eid);
      CHECK_OK(reg(s, eid, 1));
    }
    rsp_eim_store_close(s);
  }
  for (int round = 0; round < CRASH_ROUNDS; round++) {
    int fds[2];
    struct rsp_buf told;
    char chunk[4096];
    ssize_t n;
    int status = 0;
    unsigned child_seed = rnd(&seed) * 65536u + rnd(&seed);
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      crash_child(path, fds[1], child_seed);
      _exit(0);
    }
    close(fds[1]);
    CHECK(pid > 0);
    struct timespec ts = {0, (long)(1 + rnd(&seed) % 40) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid);
    /* Killed by us, not failed on its own. */
    if (!WIFSIGNALED(status))
      rsp_test_fail(__FILE__, __LINE__, "round %d: child exited with %d", round,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    rsp_buf_init(&told, 1u << 24);
    while ((n = read(fds[0], chunk, sizeof chunk)) > 0) rsp_buf_append(&told, chunk, (size_t)n);
    rsp_buf_append_byte(&told, 0);
    close(fds[0]);
    {
      struct rsp_eim_store *s = open_store(path);
      check_told(s, (char *)told.data, &facts);
      rsp_eim_store_close(s);
    }
    check_invariants(path);
    rsp_buf_free(&told);
  }
  printf("crash_safety: %d kills, %zu committed facts checked, %lld operations, %lld sent\n",
         CRASH_ROUNDS, facts, (long long)sql_int(path, "SELECT count(*) FROM operations"),
         (long long)sql_int(path, "SELECT count(*) FROM operations WHERE sent_count > 0"));
  CHECK(facts > 0);
  cleanup();
}

/* ---- a crash with polls held ----------------------------------------------------------------- */

#define SEEN_DEVICES 4
#define SEEN_ROUNDS 20
#define SEEN_CHILD_MS 30  /* the child's touch interval */
#define SEEN_SPAN 1000000 /* poll times of round r: T0 + r * SEEN_SPAN + 1, 2, ... */

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The rPLMN a poll at `t` carries, so that the file's pair (last_seen, rPLMN) can be checked to
 * come from one poll. */
static void seen_rplmn(int64_t t, uint8_t out[3]) {
  out[0] = (uint8_t)(t >> 16);
  out[1] = (uint8_t)(t >> 8);
  out[2] = (uint8_t)t;
}

/* Polls (and, one step in ten, enqueues) until killed, telling the parent "T device t" for each
 * poll held, "E id t" for each operation committed and "F t" whenever the handle holds nothing
 * (every poll up to t is committed). It checks the store's side of the bound itself: after a
 * call that found the oldest held poll SEEN_CHILD_MS old, nothing may be held any more (its few
 * devices fit in one batch). */
static void seen_child(const char *path, int fd, unsigned seed, int64_t t) {
  struct rsp_eim_store *s = NULL;
  char eid[RSP_EID_DIGITS + 1];
  uint8_t rp[3];
  int64_t first = -1, id = 0;
  if (rsp_eim_store_open(path, &s) != RSP_OK) _exit(3);
  if (rsp_eim_store_set_touch_interval(s, SEEN_CHILD_MS) != RSP_OK) _exit(3);
  for (;; t++) {
    unsigned dev = 1 + rnd(&seed) % SEEN_DEVICES;
    int64_t before = mono_ms();
    eid_of(dev, eid);
    if (rnd(&seed) % 10 == 0) {
      if (enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, t, &id) != RSP_OK) _exit(4);
      tell(fd, "E %lld %lld\n", id, t);
    } else {
      seen_rplmn(t, rp);
      if (rsp_eim_store_device_touch(s, eid, t, rp) != RSP_OK) _exit(5);
      tell(fd, "T %lld %lld\n", dev, t);
    }
    if (rsp_eim_store_touches_held(s) == 0) {
      first = -1;
      tell(fd, "F %lld %lld\n", t, 0);
    } else if (first < 0) {
      first = mono_ms(); /* not before the store noted its oldest poll */
    } else if (before - first >= SEEN_CHILD_MS) {
      _exit(6); /* due, yet still held */
    }
  }
}

/* Reads what the child tells until `ms` passed, then kills it and reads the rest. */
static void seen_run(int fd, pid_t pid, long ms, struct rsp_buf *told) {
  char chunk[4096];
  ssize_t n;
  int64_t until = mono_ms() + ms;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  while (mono_ms() < until) {
    if ((n = read(fd, chunk, sizeof chunk)) > 0)
      rsp_buf_append(told, chunk, (size_t)n);
    else
      sleep_ms(1);
  }
  kill(pid, SIGKILL);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  while ((n = read(fd, chunk, sizeof chunk)) > 0) rsp_buf_append(told, chunk, (size_t)n);
}

/* After a kill: each device's last_seen is at least its latest poll told committed ("F"), at most
 * its latest poll, never below what the file had before, and paired with that poll's rPLMN;
 * every operation told committed is there; the file's invariants hold. */
static void seen_check(const char *path, char *text, int64_t floor[SEEN_DEVICES + 1], size_t *polls,
                       size_t *lost) {
  int64_t last[SEEN_DEVICES + 1] = {0}, durable[SEEN_DEVICES + 1] = {0}, flushed = 0;
  char *save = NULL, eid[RSP_EID_DIGITS + 1];
  struct rsp_eim_store *s = open_store(path);
  struct rsp_eim_operation op;
  rsp_eim_operation_init(&op);
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char what = 0;
    long long a = 0, b = 0;
    if (sscanf(line, "%c %lld %lld", &what, &a, &b) != 3) continue;
    if (what == 'T' && a >= 1 && a <= SEEN_DEVICES) {
      last[a] = b;
      (*polls)++;
    } else if (what == 'E') {
      CHECK_OK(rsp_eim_store_op_get(s, a, &op));
    } else if (what == 'F') {
      flushed = a;
      for (int k = 1; k <= SEEN_DEVICES; k++) durable[k] = last[k];
    }
  }
  for (int k = 1; k <= SEEN_DEVICES; k++) {
    int64_t seen = 0;
    uint8_t rp[3], want[3];
    eid_of((unsigned)k, eid);
    seen_in_file(path, eid, &seen, rp);
    if (seen < durable[k] || seen < floor[k] || (last[k] && seen > last[k]))
      rsp_test_fail(__FILE__, __LINE__, "device %d: last_seen %lld, committed %lld, latest %lld", k,
                    (long long)seen, (long long)durable[k], (long long)last[k]);
    rsp_test_checks++;
    if (seen) {
      seen_rplmn(seen, want);
      CHECK_MEM(rp, want, 3);
    }
    *lost += last[k] > seen;
    floor[k] = seen;
  }
  (void)flushed;
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
  check_invariants(path);
}

static void last_seen_crash(void) {
  const char *tmp = db_path("eim-seen-crash");
  char path[600], eid[RSP_EID_DIGITS + 1];
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ 0x5EE4u;
  int64_t floor[SEEN_DEVICES + 1] = {0};
  size_t polls = 0, lost = 0;
  snprintf(path, sizeof path, "%s", tmp);
  printf("last_seen_crash: seed %u\n", seed);
  {
    struct rsp_eim_store *s = open_store(path);
    for (unsigned d = 1; d <= SEEN_DEVICES; d++) {
      eid_of(d, eid);
      CHECK_OK(reg(s, eid, 1));
    }
    rsp_eim_store_close(s);
  }
  for (int round = 0; round < SEEN_ROUNDS; round++) {
    int fds[2], status = 0;
    struct rsp_buf told;
    unsigned child_seed = rnd(&seed) * 65536u + rnd(&seed);
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      seen_child(path, fds[1], child_seed, T0 + (int64_t)round * SEEN_SPAN + 1);
      _exit(0);
    }
    close(fds[1]);
    CHECK(pid > 0);
    rsp_buf_init(&told, 1u << 26);
    seen_run(fds[0], pid, 20 + (long)(rnd(&seed) % 150), &told);
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFSIGNALED(status))
      rsp_test_fail(__FILE__, __LINE__, "round %d: child exited with %d", round,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    rsp_buf_append_byte(&told, 0);
    close(fds[0]);
    seen_check(path, (char *)told.data, floor, &polls, &lost);
    rsp_buf_free(&told);
  }
  printf("last_seen_crash: %d kills, %zu polls, %zu devices lost their last polls (held),"
         " %lld operations\n",
         SEEN_ROUNDS, polls, lost, (long long)sql_int(path, "SELECT count(*) FROM operations"));
  CHECK(polls > 0);
  cleanup();
}

/* Runs fn(path, k) in `n` child processes at once and checks that each exited 0. */
static void in_processes(const char *path, int n, int (*fn)(const char *path, int k)) {
  pid_t pids[8];
  fflush(NULL);
  for (int k = 0; k < n; k++) {
    pids[k] = fork();
    if (pids[k] == 0) _exit(fn(path, k));
  }
  for (int k = 0; k < n; k++) {
    int status = 0;
    CHECK(waitpid(pids[k], &status, 0) == pids[k]);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

#define ENQ_PER_PROC 300

static int enqueue_many(const char *path, int k) {
  struct rsp_eim_store *s = NULL;
  char eid[RSP_EID_DIGITS + 1];
  int64_t id = 0;
  if (rsp_eim_store_open(path, &s) != RSP_OK) return 2;
  for (int i = 0; i < ENQ_PER_PROC; i++) {
    eid_of(1 + (unsigned)(i + k) % 3, eid);
    if (enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0 + i, &id) != RSP_OK) return 3;
  }
  rsp_eim_store_close(s);
  return 0;
}

/* Both processes deliver the same devices' queues at once: each operation is sent exactly once,
 * the counters stay unique and gapless, and a loser sees RSP_E_STATE (never a duplicate). */
static int deliver_all(const char *path, int k) {
  struct rsp_eim_store *s = NULL;
  struct rsp_eim_operation op;
  char eid[RSP_EID_DIGITS + 1];
  int64_t counter = 0;
  enum rsp_eim_record outcome;
  int idle = 0;
  if (rsp_eim_store_open(path, &s) != RSP_OK) return 2;
  rsp_eim_operation_init(&op);
  for (unsigned i = (unsigned)k; idle < 30; i++) {
    eid_of(1 + i % 3, eid);
    rsp_err_t rc = rsp_eim_store_next_for_delivery(s, eid, T0 + 1000, &op, NULL);
    if (rc == RSP_E_NOT_FOUND) {
      idle++;
      continue;
    }
    if (rc != RSP_OK) return 3;
    idle = 0;
    enum rsp_eim_delivery d = rsp_eim_store_delivery_decision(&op, T0 + 1000);
    if (d == RSP_EIM_DELIVERY_SEND_NEW) {
      rc = send_head(s, &op, NULL, 0, T0 + 1000, &counter);
      if (rc != RSP_OK && rc != RSP_E_STATE) return 4;
    } else if (d == RSP_EIM_DELIVERY_ASK_RESULTS) {
      if (result_by_counter(s, eid, op.counter, op.counter, 0, &outcome) != RSP_OK) return 5;
      if (outcome != RSP_EIM_RECORD_NEW && outcome != RSP_EIM_RECORD_DUPLICATE) return 6;
    }
  }
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
  return 0;
}

static void two_processes(void) {
  const char *tmp = db_path("eim-procs");
  char path[600], eid[RSP_EID_DIGITS + 1];
  snprintf(path, sizeof path, "%s", tmp);
  {
    struct rsp_eim_store *s = open_store(path);
    for (unsigned d = 1; d <= 3; d++) {
      eid_of(d, eid);
      CHECK_OK(reg(s, eid, 1));
    }
    rsp_eim_store_close(s);
  }
  in_processes(path, 2, enqueue_many);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM operations"), 2 * ENQ_PER_PROC);
  /* Per device the queue positions are 1..n without a gap or a duplicate. */
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM (SELECT eid FROM operations GROUP BY eid"
                         " HAVING count(*) <> max(seq) OR min(seq) <> 1"
                         " OR count(DISTINCT seq) <> count(*)) AS x"),
           0);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM audit WHERE event = 'enqueued'"), 2 * ENQ_PER_PROC);
  in_processes(path, 2, deliver_all);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM operations WHERE state = 'done'"), 2 * ENQ_PER_PROC);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM audit WHERE event = 'sent'"), 2 * ENQ_PER_PROC);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM audit WHERE event = 'result'"), 2 * ENQ_PER_PROC);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM (SELECT eid FROM operations GROUP BY eid"
                         " HAVING count(DISTINCT counter) <> count(*) OR min(counter) <> 1"
                         " OR max(counter) <> count(*)) AS x"),
           0);
  check_invariants(path);
  cleanup();
}

/* ---- counts and the rollback marker ---------------------------------------------------------- */

/* A signed EuiccPackageResult (BF51) for `counter`: enable ok and, when `rolled`, rollbackResult
 * ok appended as the card does after ProfileRollback. 64 zero bytes stand for euiccSignEPR (the
 * store does not verify signatures). */
static void epr(int64_t counter, int64_t seq, bool rolled, struct rsp_buf *out) {
  static const uint8_t sig[64];
  struct rsp_msg_euicc_result_data v[2];
  memset(v, 0, sizeof v);
  v[0].which = RSP_MSG_EUICC_RESULT_DATA_ENABLE_RESULT;
  v[1].which = RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT;
  struct rsp_msg_euicc_package_result_data_signed_euicc_result list = {.v = v, .n = rolled ? 2 : 1};
  struct rsp_msg_euicc_package_result_data_signed d = {.eim_id =
                                                           rsp_msg_slice(EIM_ID, strlen(EIM_ID)),
                                                       .counter_value = counter,
                                                       .seq_number = seq,
                                                       .euicc_result = &list};
  struct rsp_msg_euicc_package_result_signed sd = {.euicc_package_result_data_signed = &d,
                                                   .euicc_sign_epr = rsp_msg_slice(sig, 64)};
  struct rsp_msg_euicc_package_result r = {
      .which = RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED,
      .u.euicc_package_result_signed = &sd};
  rsp_buf_reset(out);
  if (rsp_msg_encode(&rsp_msgt_euicc_package_result, &r, out, NULL) != RSP_OK) abort();
}

/* Sends the device's head (a PSMO) and records `der` as its result; the operation's id. */
static int64_t send_and_record(struct rsp_eim_store *s, const char *eid, int64_t seq, bool rolled,
                               enum rsp_eim_record *outcome) {
  struct rsp_eim_operation op;
  struct rsp_buf der;
  int64_t counter = 0, id = 0;
  rsp_eim_operation_init(&op);
  rsp_buf_init(&der, 4096);
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid, T0, &op, NULL));
  CHECK_OK(send_head(s, &op, NULL, 0, T0, &counter));
  epr(counter, seq, rolled, &der);
  struct rsp_eim_result r = {eid,  {NULL, 0},       counter, seq, rsp_msg_slice(der.data, der.len),
                             NULL, RSP_EIM_OP_DONE, NULL};
  CHECK_OK(rsp_eim_store_record_result(s, &r, T0 + 1, outcome, &id));
  /* the same again: a duplicate, which marks nothing twice */
  enum rsp_eim_record again;
  CHECK_OK(rsp_eim_store_record_result(s, &r, T0 + 2, &again, NULL));
  CHECK_EQ(again, RSP_EIM_RECORD_DUPLICATE);
  rsp_buf_free(&der);
  rsp_eim_operation_free(&op);
  return id;
}

/* Every text of a query's rows, joined (EXPLAIN QUERY PLAN). */
static void sql_text(const char *path, const char *q, char *out, size_t size) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  size_t k = 0;
  out[0] = '\0';
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK)
    while (sqlite3_step(st) == SQLITE_ROW && k + 1 < size) {
      const unsigned char *t = sqlite3_column_text(st, sqlite3_column_count(st) - 1);
      int w = snprintf(out + k, size - k, "%s\n", t ? (const char *)t : "");
      if (w > 0) k += (size_t)w < size - k ? (size_t)w : size - k - 1;
    }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void check_counts(struct rsp_eim_store *s, int64_t rolled) {
  struct rsp_eim_stats st;
  CHECK_OK(rsp_eim_store_stats(s, &st));
  CHECK_EQ(st.devices, 2);
  CHECK_EQ(st.ops[RSP_EIM_OP_PSMO][RSP_EIM_OP_DONE], 2);
  CHECK_EQ(st.ops[RSP_EIM_OP_PSMO][RSP_EIM_OP_SENT], 1);
  CHECK_EQ(st.ops[RSP_EIM_OP_PSMO][RSP_EIM_OP_CANCELLED], 1);
  CHECK_EQ(st.ops[RSP_EIM_OP_EUICC_DATA][RSP_EIM_OP_QUEUED], 1);
  CHECK_EQ(st.ops[RSP_EIM_OP_DOWNLOAD][RSP_EIM_OP_EXPIRED], 1);
  CHECK_EQ(st.ops[RSP_EIM_OP_ECO][RSP_EIM_OP_QUEUED], 0);
  CHECK_EQ(st.by_state[RSP_EIM_OP_QUEUED], 1);
  CHECK_EQ(st.by_state[RSP_EIM_OP_SENT], 1);
  CHECK_EQ(st.by_state[RSP_EIM_OP_DONE], 2);
  CHECK_EQ(st.by_state[RSP_EIM_OP_FAILED], 0);
  CHECK_EQ(st.by_state[RSP_EIM_OP_EXPIRED], 1);
  CHECK_EQ(st.by_state[RSP_EIM_OP_CANCELLED], 1);
  CHECK_EQ(st.total, 6);
  CHECK_EQ(st.rolled_back, rolled);
}

/* rsp_eim_store_stats over every kind and state; the rollback marker read from the result's own
 * bytes when it is recorded (never twice for a duplicate), kept across reopen; the counts from
 * indexes; and the migration of a version 1 file (no marker column) to version 2. */
static void stats_and_rollback(void) {
  const char *tmp = db_path("eim-stats");
  char path[600], eid1[RSP_EID_DIGITS + 1], eid2[RSP_EID_DIGITS + 1], plan[2048];
  struct rsp_eim_store *s;
  struct rsp_eim_stats st;
  struct rsp_eim_operation op;
  enum rsp_eim_record outcome;
  int64_t id = 0, gone = 0, cancel = 0;
  snprintf(path, sizeof path, "%s", tmp);
  s = open_store(path);
  CHECK_ERR(rsp_eim_store_stats(NULL, &st), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_eim_store_stats(s, NULL), RSP_E_INVALID_ARG);
  CHECK_OK(rsp_eim_store_stats(s, &st));
  CHECK(st.devices == 0 && st.total == 0 && st.rolled_back == 0);
  eid_of(61, eid1);
  eid_of(62, eid2);
  CHECK_OK(reg(s, eid1, 1));
  CHECK_OK(reg(s, eid2, 1));
  for (int i = 0; i < 3; i++) CHECK_OK(enq(s, eid1, RSP_EIM_OP_PSMO, 0, 0, T0, &id));
  CHECK_OK(enq(s, eid2, RSP_EIM_OP_DOWNLOAD, 0, T0 + 10, T0, &gone));
  CHECK_OK(enq(s, eid2, RSP_EIM_OP_PSMO, 0, 0, T0, &cancel));
  CHECK_OK(enq(s, eid2, RSP_EIM_OP_EUICC_DATA, 0, 0, T0, &id));
  /* eid1: a result with rollbackResult ok, one without, one still sent */
  int64_t rolled = send_and_record(s, eid1, 5, true, &outcome);
  CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
  int64_t plain = send_and_record(s, eid1, 6, false, &outcome);
  CHECK_EQ(outcome, RSP_EIM_RECORD_NEW);
  rsp_eim_operation_init(&op);
  int64_t counter = 0;
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid1, T0, &op, NULL));
  CHECK_OK(send_head(s, &op, NULL, 0, T0, &counter));
  /* eid2: the download expires at the head, the PSMO behind it is cancelled */
  size_t expired = 0;
  CHECK_OK(rsp_eim_store_next_for_delivery(s, eid2, T0 + 20, &op, &expired));
  CHECK_EQ(expired, 1);
  CHECK_EQ(op.id, cancel);
  CHECK_OK(rsp_eim_store_op_cancel(s, cancel, T0 + 20));
  CHECK_OK(rsp_eim_store_op_get(s, rolled, &op));
  CHECK(op.rolled_back);
  CHECK_OK(rsp_eim_store_op_get(s, plain, &op));
  CHECK(!op.rolled_back);
  CHECK_OK(rsp_eim_store_op_get(s, gone, &op));
  CHECK(!op.rolled_back && op.state == RSP_EIM_OP_EXPIRED);
  rsp_eim_operation_free(&op);
  check_counts(s, 1);
  rsp_eim_store_close(s);
  /* kept in the file; counted over the indexes */
  s = open_store(path);
  check_counts(s, 1);
  rsp_eim_store_close(s);
  if (use_pg) { /* the query plans and the version 1 file below are SQLite's */
    check_invariants(path);
    return;
  }
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM operations WHERE rolled_back = 1"), 1);
  sql_text(path,
           "EXPLAIN QUERY PLAN SELECT kind, state, count(*) FROM operations GROUP BY state, kind",
           plan, sizeof plan);
  CHECK(strstr(plan, "COVERING INDEX operations_state_kind") != NULL);
  sql_text(path, "EXPLAIN QUERY PLAN SELECT count(*) FROM operations WHERE rolled_back = 1", plan,
           sizeof plan);
  CHECK(strstr(plan, "operations_rolled_back") != NULL);
  /* A version 1 file (no marker, no count indexes) is brought to version 2 on open. */
  sqlite3 *db = NULL;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db,
                     "DROP INDEX operations_rolled_back; DROP INDEX operations_state_kind;"
                     "ALTER TABLE operations DROP COLUMN rolled_back;"
                     "UPDATE schema_version SET version = 1",
                     NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  CHECK_EQ(sql_int(path, "SELECT version FROM schema_version"), 1);
  s = open_store(path);
  CHECK_EQ(sql_int(path, "SELECT version FROM schema_version"), 2);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                         " ('operations_rolled_back', 'operations_state_kind')"),
           2);
  check_counts(s, 0); /* a version 1 file never had the marker */
  rsp_eim_operation_init(&op);
  CHECK_OK(rsp_eim_store_op_get(s, rolled, &op));
  CHECK(!op.rolled_back && op.state == RSP_EIM_OP_DONE);
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
  check_invariants(path);
  cleanup();
}

/* ---- two nodes ------------------------------------------------------------------------------- */

#define NODE_DEVICES 4
#define NODE_OPS 40 /* per device */

/* One node: its own handle on the shared store, delivering every device's queue. */
struct node {
  const char *path;
  unsigned k;
  int64_t sent[NODE_DEVICES * NODE_OPS]; /* the operations this node marked sent */
  size_t n_sent;
  int failed; /* 0, or where it went wrong */
};

/* One delivery step on device `eid`; 1 when there was nothing to deliver. */
static int node_step(struct node *n, struct rsp_eim_store *s, const char *eid,
                     struct rsp_eim_operation *op) {
  enum rsp_eim_record outcome;
  int64_t counter = 0;
  rsp_err_t rc = rsp_eim_store_next_for_delivery(s, eid, T0 + 1000, op, NULL);
  if (rc == RSP_E_NOT_FOUND) return 1;
  if (rc != RSP_OK) return n->failed = 3, 0;
  enum rsp_eim_delivery d = rsp_eim_store_delivery_decision(op, T0 + 1000);
  if (d == RSP_EIM_DELIVERY_SEND_NEW) {
    rc = send_head(s, op, NULL, 0, T0 + 1000, &counter);
    if (rc == RSP_OK && n->n_sent < NODE_DEVICES * NODE_OPS) n->sent[n->n_sent++] = op->id;
    if (rc != RSP_OK && rc != RSP_E_STATE) n->failed = 4; /* RSP_E_STATE: the other node won */
  } else if (d == RSP_EIM_DELIVERY_ASK_RESULTS) {
    if (result_by_counter(s, eid, op->counter, op->counter, 0, &outcome) != RSP_OK)
      n->failed = 5;
    else if (outcome != RSP_EIM_RECORD_NEW && outcome != RSP_EIM_RECORD_DUPLICATE)
      n->failed = 6;
  }
  return 0;
}

static void *node_run(void *arg) {
  struct node *n = arg;
  struct rsp_eim_store *s = NULL;
  struct rsp_eim_operation op;
  char eid[RSP_EID_DIGITS + 1];
  int idle = 0;
  if (rsp_eim_store_open(n->path, &s) != RSP_OK) {
    n->failed = 2;
    return NULL;
  }
  rsp_eim_operation_init(&op);
  for (unsigned i = n->k; idle < 4 * NODE_DEVICES && !n->failed; i++) {
    eid_of(1 + i % NODE_DEVICES, eid);
    idle = node_step(n, s, eid, &op) ? idle + 1 : 0;
  }
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
  return NULL;
}

static int cmp_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Every operation was marked sent by exactly one of the two nodes. */
static void sent_once(const struct node *a, const struct node *b) {
  int64_t all[2 * NODE_DEVICES * NODE_OPS];
  size_t n = 0;
  for (size_t i = 0; i < a->n_sent; i++) all[n++] = a->sent[i];
  for (size_t i = 0; i < b->n_sent; i++) all[n++] = b->sent[i];
  CHECK_EQ(n, NODE_DEVICES * NODE_OPS);
  qsort(all, n, sizeof all[0], cmp_id);
  for (size_t i = 1; i < n; i++)
    if (all[i] == all[i - 1])
      rsp_test_fail(__FILE__, __LINE__, "op %lld sent twice", (long long)all[i]);
}

/* Two handles (two rsp-eim nodes on one database) deliver the same devices' queues from two
 * threads at once: every operation gets exactly one counter and one package, the counters of a
 * device strictly increase in queue order without a gap, and the loser of each race sees
 * RSP_E_STATE. */
static void two_nodes(void) {
  const char *tmp = db_path("eim-nodes");
  char path[600], eid[RSP_EID_DIGITS + 1];
  struct node nodes[2];
  pthread_t th[2];
  int64_t id = 0;
  snprintf(path, sizeof path, "%s", tmp);
  struct rsp_eim_store *s = open_store(path);
  for (unsigned d = 1; d <= NODE_DEVICES; d++) {
    eid_of(d, eid);
    CHECK_OK(reg(s, eid, 1));
    for (int i = 0; i < NODE_OPS; i++) CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &id));
  }
  rsp_eim_store_close(s);
  for (unsigned k = 0; k < 2; k++) {
    memset(&nodes[k], 0, sizeof nodes[k]);
    nodes[k].path = path;
    nodes[k].k = k;
    CHECK(pthread_create(&th[k], NULL, node_run, &nodes[k]) == 0);
  }
  for (unsigned k = 0; k < 2; k++) {
    pthread_join(th[k], NULL);
    CHECK_EQ(nodes[k].failed, 0);
  }
  sent_once(&nodes[0], &nodes[1]);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM operations WHERE state = 'done'"),
           NODE_DEVICES * NODE_OPS);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM (SELECT eid FROM operations GROUP BY eid"
                         " HAVING count(DISTINCT counter) <> count(*) OR min(counter) <> 1"
                         " OR max(counter) <> count(*)) AS x"),
           0);
  CHECK_EQ(sql_int(path, "SELECT min(next_counter) FROM devices"), 1 + NODE_OPS);
  CHECK_EQ(sql_int(path, "SELECT max(next_counter) FROM devices"), 1 + NODE_OPS);
  check_invariants(path);
  cleanup();
}

/* ---- PostgreSQL only ------------------------------------------------------------------------- */

/* Log lines seen while a case captures them (pg_retry, pg_schema). */
static struct {
  int retries;
  bool password;
} logged;

static void log_capture(void *ctx, enum rsp_log_level level, const char *comp, const char *msg) {
  (void)ctx, (void)comp;
  if (strstr(msg, "serialization failure or deadlock")) logged.retries++;
  if (strstr(msg, "secret")) logged.password = true;
  fprintf(stderr, "%s: %s\n", rsp_log_level_name(level), msg);
}

/* The backend's choice by name, the schema version kept in the database, a newer schema refused,
 * an unreachable server an error (RSP_E_IO, logged without the password). */
static void pg_schema(void) {
  struct rsp_eim_store *s = NULL;
  char path[256];
  CHECK(rsp_eim_store_is_pg("postgresql://u@h/db") && rsp_eim_store_is_pg("postgres://h/db"));
  CHECK(rsp_eim_store_is_pg("pg:host=h dbname=d") && !rsp_eim_store_is_pg("/var/lib/eim.db"));
  CHECK(!rsp_eim_store_is_pg("pg") && !rsp_eim_store_is_pg(NULL));
  if (!use_pg) return;
  snprintf(path, sizeof path, "%s", pg_db());
  s = open_store(path);
  rsp_eim_store_close(s);
  CHECK_EQ(sql_int(path, "SELECT version FROM schema_version"), rsp_eim_store_pg_schema_version());
  /* twice: the second open finds nothing to migrate */
  s = open_store(path);
  rsp_eim_store_close(s);
  CHECK_EQ(sql_int(path, "SELECT count(*) FROM schema_version"), 1);
  /* "pg:" + a conninfo string names the same database */
  {
    char conninfo[300];
    const char *port = strrchr(path, ':') + 1;
    snprintf(conninfo, sizeof conninfo, "pg:host=127.0.0.1 port=%.*s user=postgres dbname=%s",
             (int)strcspn(port, "/"), port, strrchr(path, '/') + 1);
    CHECK_OK(rsp_eim_store_open(conninfo, &s));
    rsp_eim_store_close(s);
  }
#ifdef RSP_HAVE_LIBPQ
  CHECK(rsp_test_pg_exec(path, "UPDATE schema_version SET version = 99"));
#endif
  fprintf(stderr, "expected: a refused schema version 99 and a failed connection\n");
  CHECK_ERR(rsp_eim_store_open(path, &s), RSP_E_UNSUPPORTED);
  CHECK(s == NULL);
  /* the password never reaches the log */
  memset(&logged, 0, sizeof logged);
  rsp_log_set_callback(log_capture, NULL);
  CHECK_ERR(rsp_eim_store_open("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2", &s),
            RSP_E_IO);
  CHECK_ERR(rsp_eim_store_open("pg:host=127.0.0.1 port=1 user=nobody password=secret", &s),
            RSP_E_IO);
  rsp_log_set_callback(NULL, NULL);
  CHECK(!logged.password);
}

/* The server closed the connection (a restart, a failover, an idle timeout): the call that meets
 * it fails (RSP_E_IO) or not, the next ones reconnect and work, and nothing committed is lost. */
static void pg_reconnect(void) {
  struct rsp_eim_store *s;
  struct rsp_eim_device d;
  char eid[RSP_EID_DIGITS + 1];
  int64_t id = 0;
  if (!use_pg) return;
  const char *path = pg_db();
  s = open_store(path);
  eid_of(71, eid);
  CHECK_OK(reg(s, eid, 1));
#ifdef RSP_HAVE_LIBPQ
  fprintf(stderr, "expected: the connection is terminated and opened again\n");
  CHECK(rsp_test_pg_exec(path, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                               " datname = current_database() AND pid <> pg_backend_pid()"));
#endif
  rsp_eim_device_init(&d);
  rsp_err_t rc = rsp_eim_store_device_get(s, eid, &d);
  CHECK(rc == RSP_OK || rc == RSP_E_IO);
  CHECK_OK(rsp_eim_store_device_get(s, eid, &d));
  CHECK_OK(enq(s, eid, RSP_EIM_OP_PSMO, 0, 0, T0, &id));
  CHECK_EQ(d.next_counter, 1);
  rsp_eim_device_free(&d);
  rsp_eim_store_close(s);
}

#ifdef RSP_HAVE_LIBPQ
static rsp_err_t flush_rc;

static void *flush_run(void *arg) {
  flush_rc = rsp_eim_store_flush(arg);
  return NULL;
}

/* Waits until a session of the database waits for a lock (up to 10 s). */
static bool lock_wait_seen(const char *path) {
  for (int i = 0; i < 1000; i++) {
    if (rsp_test_pg_int(path, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                              " current_database() AND wait_event_type = 'Lock'") > 0)
      return true;
    sleep_ms(10);
  }
  return false;
}

/* A conflict makes the backend run its statement again, logged: with the database's sessions
 * SERIALIZABLE by default, a batch of polls that waited for another session's update of the same
 * row fails with 40001 once that session commits, and is written on the second try. */
static void pg_retry(void) {
  struct rsp_eim_store *s;
  char eid[RSP_EID_DIGITS + 1], sql[200];
  pthread_t th;
  if (!use_pg) return;
  const char *path = pg_db();
  CHECK(rsp_test_pg_exec(path, "DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET"
                               " default_transaction_isolation = serializable',"
                               " current_database()); END$$"));
  s = open_store(path);
  eid_of(72, eid);
  CHECK_OK(reg(s, eid, 1));
  CHECK_OK(rsp_eim_store_set_touch_interval(s, 60000));
  CHECK_OK(rsp_eim_store_device_touch(s, eid, T0 + 10, NULL));
  PGconn *other = PQconnectdb(path);
  CHECK(PQstatus(other) == CONNECTION_OK);
  snprintf(sql, sizeof sql, "BEGIN; UPDATE devices SET eim_id = eim_id WHERE eid = '%s'", eid);
  PQclear(PQexec(other, sql));
  memset(&logged, 0, sizeof logged);
  rsp_log_set_callback(log_capture, NULL);
  CHECK(pthread_create(&th, NULL, flush_run, s) == 0);
  CHECK(lock_wait_seen(path));
  PQclear(PQexec(other, "COMMIT"));
  pthread_join(th, NULL);
  rsp_log_set_callback(NULL, NULL);
  PQfinish(other);
  CHECK_OK(flush_rc);
  CHECK_EQ(logged.retries, 1);
  CHECK_EQ(rsp_eim_store_touches_held(s), 0);
  CHECK_EQ(sql_int(path, "SELECT last_seen FROM devices"), T0 + 10);
  rsp_eim_store_close(s);
}
#else
static void pg_retry(void) {}
#endif

// clang-format off
static const struct rsp_test_case cases[] = {
    T(migrations), T(bad_arguments), T(bad_operation_arguments), T(bad_send_arguments), T(bad_other_arguments), T(unknown_eid), T(queue_order), T(redelivery), T(timing),
    T(counter_across_reopen), T(counter_exhausted), T(txid_unique), T(duplicate_result),
    T(notifications), T(devices), T(device_poll), T(last_seen_batched),
    T(last_seen_never_backwards), T(last_seen_batches), T(stats_and_rollback), T(crash_safety),
    T(last_seen_crash), T(two_processes), T(two_nodes), T(pg_schema), T(pg_reconnect), T(pg_retry)};
// clang-format on

/* RSP_EIM_STORE_PG=1 runs the cases named on the command line on PostgreSQL (ctest
 * test_eim_store_pg); skipped, saying why, when PostgreSQL is not installed. */
int main(int argc, char **argv) {
  const char *pg = getenv("RSP_EIM_STORE_PG");
  use_pg = pg && strcmp(pg, "1") == 0;
  if (use_pg) {
#ifdef RSP_HAVE_LIBPQ
    const char *why = "";
    enum rsp_test_pg_status st = rsp_test_pg_start(&why);
    if (st != RSP_TEST_PG_READY) {
      printf("%s: %s\n", st == RSP_TEST_PG_ABSENT ? "SKIPPED" : "FAILED", why);
      return st == RSP_TEST_PG_ABSENT ? 77 : 1;
    }
#else
    printf("SKIPPED: this build has no libpq (libpq-dev): the PostgreSQL store is not built\n");
    return 77;
#endif
  }
  return rsp_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
