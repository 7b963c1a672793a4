/* The eIM store on SQLite against SQLite's own bulk INSERT of the same rows, in the same run.
 *
 *   bench_store [directory] [devices] [operations]      (defaults: $TMPDIR or /tmp, 10000, 100000)
 *
 * Ours: register the devices, enqueue the operations (round robin over the devices), then deliver
 * them the way the ESipa handler will: next_for_delivery, build the EuiccPackageRequest with the
 * device's next counter, assign_counter_and_mark_sent, and record the result that frees the
 * queue head. Every call is its own transaction with synchronous=FULL, as in production.
 * Baseline: one transaction of INSERTs of the same operation rows in their final form (package,
 * counter, txid, result) into a table of the same schema, with one prepared statement; and, for
 * scale, the same INSERT one row per transaction on a sample. Prints rates, the ratio of ours to
 * the bulk baseline, and the database size per device once the WAL is checkpointed. The ratio is
 * the price of durability per state change (one commit, so one fsync, each), not a verdict. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/hex.h"
#include "rsp/eim/store.h"
#include "rsp/msg/asn1.h"

#define EIM_ID "eim.bench.example"
#define SPEC "{\"psmo\":\"enable\",\"iccid\":\"8944000000000000011\",\"rollback\":true}"
#define T0 1700000000

static const uint8_t ICCID_BCD[10] = {0x98, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xF1};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, rsp_err_t rc) {
  fprintf(stderr, "bench_store: %s: %s\n", what, rsp_strerror(rc));
  exit(1);
}

static void eid_of(unsigned i, char out[RSP_EID_DIGITS + 1]) {
  snprintf(out, RSP_EID_DIGITS + 1, "890490320000000000000000%08u", i % 100000000u);
}

/* An EuiccPackageRequest of the production size: one enable PSMO, a 16-byte eimTransactionId and
 * a 64-byte signature (zeros: the store does not verify it). */
static void package(const char *eid, int64_t counter, const uint8_t txid[16], struct rsp_buf *out) {
  static const uint8_t sig[64];
  uint8_t eid_bcd[RSP_EID_LEN];
  struct rsp_msg_psmo_enable en = {0};
  struct rsp_msg_psmo psmo = {0};
  struct rsp_msg_euicc_package_psmo_list list = {0};
  struct rsp_msg_euicc_package pkg = {0};
  struct rsp_msg_euicc_package_signed ps = {0};
  struct rsp_msg_euicc_package_request req = {0};
  if (rsp_eid_from_string(eid, eid_bcd) != RSP_OK) die("eid", RSP_E_INVALID_ARG);
  en.iccid = rsp_msg_slice(ICCID_BCD, sizeof ICCID_BCD);
  en.rollback_flag = true;
  psmo.which = RSP_MSG_PSMO_ENABLE;
  psmo.u.enable = &en;
  list.v = &psmo;
  list.n = 1;
  pkg.which = RSP_MSG_EUICC_PACKAGE_PSMO_LIST;
  pkg.u.psmo_list = &list;
  ps.eim_id = rsp_msg_slice(EIM_ID, strlen(EIM_ID));
  ps.eid_value = rsp_msg_slice(eid_bcd, sizeof eid_bcd);
  ps.counter_value = counter;
  ps.eim_transaction_id = rsp_msg_slice(txid, 16);
  ps.euicc_package = &pkg;
  req.euicc_package_signed = &ps;
  req.eim_signature = rsp_msg_slice(sig, sizeof sig);
  rsp_buf_reset(out);
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_euicc_package_request, &req, out, NULL);
  if (rc != RSP_OK) die("encode", rc);
}

/* A result of the production size: an EuiccPackageResultSigned (notes 3.4) is about 109 bytes. */
static size_t result(uint8_t out[109], int64_t seq) {
  memset(out, 0, 109);
  out[0] = 0xBF;
  out[1] = 0x51;
  out[2] = 106;
  out[3] = 0x04; /* an OCTET STRING standing for the signed content */
  out[4] = 104;
  memcpy(out + 5, &seq, sizeof seq);
  return 109;
}

static void txid_of(unsigned i, uint8_t out[16]) {
  memset(out, 0xA5, 16);
  memcpy(out, &i, sizeof i);
}

struct rates {
  double register_s, enqueue_s, next_s, sent_s, result_s;
};

static void run_ours(const char *path, unsigned devices, unsigned ops, struct rates *r) {
  struct rsp_eim_store *s = NULL;
  struct rsp_eim_operation op;
  struct rsp_buf pkg;
  char eid[RSP_EID_DIGITS + 1];
  uint8_t txid[16], res[109];
  int64_t id = 0;
  rsp_err_t rc = rsp_eim_store_sqlite_open(path, &s);
  if (rc != RSP_OK) die("open", rc);
  rsp_eim_operation_init(&op);
  rsp_buf_init(&pkg, RSP_EIM_PACKAGE_MAX);
  double t = now_s();
  for (unsigned d = 0; d < devices; d++) {
    struct rsp_eim_device_new nd = {0};
    eid_of(d, eid);
    nd.eid = eid;
    nd.eim_id = EIM_ID;
    nd.next_counter = 1;
    if ((rc = rsp_eim_store_device_register(s, &nd, T0)) != RSP_OK) die("register", rc);
  }
  r->register_s = now_s() - t;
  t = now_s();
  for (unsigned i = 0; i < ops; i++) {
    struct rsp_eim_op_new req = {eid, RSP_EIM_OP_PSMO, SPEC, 0, 0};
    eid_of(i % devices, eid);
    if ((rc = rsp_eim_store_op_enqueue(s, &req, T0, &id)) != RSP_OK) die("enqueue", rc);
  }
  r->enqueue_s = now_s() - t;
  for (unsigned i = 0; i < ops; i++) {
    enum rsp_eim_record outcome;
    int64_t counter = 1 + i / devices; /* each device's counters run 1, 2, ... */
    eid_of(i % devices, eid);
    t = now_s();
    if ((rc = rsp_eim_store_next_for_delivery(s, eid, T0 + 1, &op, NULL)) != RSP_OK)
      die("next", rc);
    r->next_s += now_s() - t;
    txid_of(i, txid);
    package(eid, counter, txid, &pkg);
    t = now_s();
    rc = rsp_eim_store_assign_counter_and_mark_sent(s, op.id, rsp_msg_slice(pkg.data, pkg.len),
                                                    counter, rsp_msg_slice(txid, 16), T0 + 1);
    if (rc != RSP_OK) die("mark sent", rc);
    r->sent_s += now_s() - t;
    struct rsp_eim_result rr = {
        eid,  {txid, 16},      counter, counter, {res, result(res, counter)},
        NULL, RSP_EIM_OP_DONE, NULL};
    t = now_s();
    if ((rc = rsp_eim_store_record_result(s, &rr, T0 + 2, &outcome, NULL)) != RSP_OK)
      die("result", rc);
    r->result_s += now_s() - t;
  }
  rsp_buf_free(&pkg);
  rsp_eim_operation_free(&op);
  rsp_eim_store_close(s);
}

/* The same operation rows through plain SQLite: one table of the store's shape, one prepared
 * INSERT, either all in one transaction or one transaction per row. */
static double run_baseline(const char *path, unsigned devices, unsigned ops, bool per_row) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  struct rsp_buf pkg;
  char eid[RSP_EID_DIGITS + 1];
  uint8_t txid[16], res[109];
  rsp_buf_init(&pkg, RSP_EIM_PACKAGE_MAX);
  if (sqlite3_open(path, &db) != SQLITE_OK ||
      sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE operations (id INTEGER PRIMARY KEY, eid TEXT NOT NULL,"
                   " seq INTEGER NOT NULL, kind TEXT NOT NULL, spec TEXT NOT NULL,"
                   " state TEXT NOT NULL, not_before INTEGER NOT NULL, expires_at INTEGER,"
                   " created INTEGER NOT NULL, counter INTEGER, eim_transaction_id BLOB,"
                   " package BLOB, sent_count INTEGER NOT NULL, last_sent INTEGER,"
                   " checked_count INTEGER NOT NULL, result BLOB, result_seq INTEGER,"
                   " result_summary TEXT, done_at INTEGER, error TEXT, UNIQUE (eid, seq));"
                   "CREATE UNIQUE INDEX c ON operations (eid, counter);"
                   "CREATE UNIQUE INDEX t ON operations (eim_transaction_id);",
                   NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "INSERT INTO operations (eid, seq, kind, spec, state, not_before,"
                         " created, counter, eim_transaction_id, package, sent_count, last_sent,"
                         " checked_count, result, result_seq, done_at) VALUES (?1, ?2, 'psmo', ?3,"
                         " 'done', 0, ?4, ?2, ?5, ?6, 1, ?4, 0, ?7, ?2, ?4)",
                         -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench_store: baseline: %s\n", sqlite3_errmsg(db));
    exit(1);
  }
  double t = now_s();
  if (!per_row) sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  for (unsigned i = 0; i < ops; i++) {
    int64_t counter = 1 + i / devices;
    eid_of(i % devices, eid);
    txid_of(i, txid);
    package(eid, counter, txid, &pkg);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, eid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, counter);
    sqlite3_bind_text(st, 3, SPEC, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, T0);
    sqlite3_bind_blob(st, 5, txid, 16, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 6, pkg.data, (int)pkg.len, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 7, res, (int)result(res, counter), SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) {
      fprintf(stderr, "bench_store: baseline insert: %s\n", sqlite3_errmsg(db));
      exit(1);
    }
  }
  if (!per_row) sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  t = now_s() - t;
  sqlite3_finalize(st);
  sqlite3_close(db);
  rsp_buf_free(&pkg);
  return t;
}

/* File size once the WAL is folded in. */
static double db_size(const char *path) {
  sqlite3 *db = NULL;
  struct stat sb;
  if (sqlite3_open(path, &db) == SQLITE_OK)
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  sqlite3_close(db);
  return stat(path, &sb) == 0 ? (double)sb.st_size : 0;
}

static void remove_db(const char *path) {
  char p[4200];
  static const char *const suffix[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : getenv("TMPDIR");
  unsigned devices = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 10000;
  unsigned ops = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 100000;
  unsigned sample = ops < 2000 ? ops : 2000;
  char ours[4096], base[4096];
  struct rates r = {0};
  if (!dir || !dir[0]) dir = "/tmp";
  if (devices == 0 || ops == 0) {
    fprintf(stderr, "usage: %s [directory] [devices] [operations]\n", argv[0]);
    return 2;
  }
  snprintf(ours, sizeof ours, "%s/bench-eim-store-%d.db", dir, (int)getpid());
  snprintf(base, sizeof base, "%s/bench-eim-baseline-%d.db", dir, (int)getpid());
  remove_db(ours);
  remove_db(base);
  printf("eIM store bench: %u devices, %u operations, files in %s (synchronous=FULL)\n", devices,
         ops, dir);
  run_ours(ours, devices, ops, &r);
  double bulk = run_baseline(base, devices, ops, false);
  double bulk_size = db_size(base);
  remove_db(base);
  double row = run_baseline(base, devices, sample, true);
  double size = db_size(ours);
  remove_db(base);
  remove_db(ours);
  double cycle = r.next_s + r.sent_s + r.result_s;
  printf("%-44s %12.0f /s\n", "register device", devices / r.register_s);
  printf("%-44s %12.0f /s\n", "enqueue", ops / r.enqueue_s);
  printf("%-44s %12.0f /s\n", "next_for_delivery", ops / r.next_s);
  printf("%-44s %12.0f /s\n", "assign_counter_and_mark_sent", ops / r.sent_s);
  printf("%-44s %12.0f /s\n", "record_result", ops / r.result_s);
  printf("%-44s %12.0f /s\n", "enqueue + mark sent (per operation)",
         ops / (r.enqueue_s + r.sent_s));
  printf("%-44s %12.0f /s\n", "full life (enqueue, next, sent, result)",
         ops / (r.enqueue_s + cycle));
  printf("%-44s %12.0f /s\n", "baseline: bulk INSERT, one transaction", ops / bulk);
  printf("%-44s %12.0f /s\n", "baseline: INSERT, one transaction per row", sample / row);
  printf("%-44s %12.4f\n", "ratio enqueue+sent / bulk INSERT", bulk / (r.enqueue_s + r.sent_s));
  printf("%-44s %12.4f\n", "ratio enqueue+sent / per-row INSERT",
         (ops / (r.enqueue_s + r.sent_s)) / (sample / row));
  printf("%-44s %12.0f bytes (%.0f per operation)\n", "database size per device", size / devices,
         size / ops);
  printf("%-44s %12.0f bytes (%.0f per operation)\n", "baseline size per device",
         bulk_size / devices, bulk_size / ops);
  return 0;
}
