/* Database size and memory per registered device, against a plain SQLite table of the same
 * columns filled in the same run.
 *
 *   bench_devices PKI_DIR DB_FILE [COUNT] [EIDS_OUT [N_EIDS]]   (defaults 1000000 devices, 1000)
 *
 * Ours: COUNT devices registered through the operator API in this process (rsp_eim_api_handle,
 * POST /v1/devices {"eid"}: what `rsp-eimctl device add EID` makes rsp-eim do), into a new store
 * DB_FILE (SQLite, synchronous=FULL). The store has no batched registration: each device is one
 * transaction (its row, its "registered" audit row, one commit). The API stores the device's
 * AddInitialEim configuration (EimConfigurationData with the eIM's signing and TLS certificates
 * from PKI_DIR), as it does for every device registered without its own initialEim.
 * Baseline: the same rows (EID, eimId, counter, the same EimConfigurationData, time) inserted into
 * a table with the store's device columns and primary key (no CHECKs, no audit, no other
 * tables), with one prepared statement: all in one transaction, and one transaction per row on a
 * sample of 2,000. Prints the rates, the file size per device once the WAL is folded in, and this
 * process's resident memory per device (growth while registering). DB_FILE is left in place, so
 * that run.sh can start rsp-eim on it; EIDS_OUT receives N_EIDS of the EIDs, evenly spread, for
 * its polls. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_eim_util.h"
#include "rsp/core/log.h"
#include "rsp/eim/api.h"
#include "rsp/eim/store.h"
#include "rsp/msg/msg.h"

#define PROG "bench_devices"
#define EIM_ID "openrsp-bench-eim"
#define EIM_FQDN "localhost:8445"
#define PER_ROW_SAMPLE 2000ul
#define SAMPLE_EIDS 1000ul /* default N_EIDS */

struct result {
  double t_register, t_bulk, t_row, size, base_size;
  long rss_before, rss_after, hwm;
  unsigned long row_n;
};

static void load(const char *pki, const char *rel, struct rsp_buf *out) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", pki, rel);
  rsp_buf_init(out, 1u << 20);
  if (!bench_read_file(path, out) || out->len == 0) {
    fprintf(stderr, PROG ": cannot read %s (an rsp-pki create directory is needed)\n", path);
    exit(1);
  }
}

static void register_one(const struct rsp_eim_api_options *o, const char *eid,
                         struct rsp_buf *resp) {
  char body[64];
  int status = 0;
  int n = snprintf(body, sizeof body, "{\"eid\":\"%s\"}", eid);
  struct rsp_eim_api_request rq = {"POST", "/v1/devices", (const uint8_t *)body, (size_t)n};
  rsp_buf_reset(resp);
  rsp_err_t rc = rsp_eim_api_handle(o, &rq, resp, &status);
  if (rc != RSP_OK || status != 201) {
    fprintf(stderr, PROG ": POST /v1/devices %s: HTTP %d (%s): %.*s\n", eid, status,
            rsp_strerror(rc), (int)(resp->len < 300 ? resp->len : 300), (const char *)resp->data);
    exit(1);
  }
}

/* Registers `count` devices; the EimConfigurationData the API stored is copied to `config`. */
static void run_ours(const char *pki, const char *db, unsigned long count, struct rsp_buf *config,
                     struct result *r) {
  struct rsp_eim_store *s = NULL;
  struct rsp_buf sign_cert, tls_cert, resp;
  struct rsp_eim_device d;
  struct bench_progress p;
  char eid[RSP_EID_DIGITS + 1];
  load(pki, "eim/sign/cert.der", &sign_cert);
  load(pki, "eim/tls/cert.der", &tls_cert);
  rsp_buf_init(&resp, 1u << 20);
  rsp_err_t rc = rsp_eim_store_sqlite_open(db, &s);
  if (rc != RSP_OK) bench_die(PROG, db, rc);
  struct rsp_eim_api_options o = {.store = s,
                                  .eim_id = EIM_ID,
                                  .eim_fqdn = EIM_FQDN,
                                  .eim_certificate = rsp_msg_slice(sign_cert.data, sign_cert.len),
                                  .eim_tls_certificate =
                                      rsp_msg_slice(tls_cert.data, tls_cert.len)};
  r->rss_before = bench_rss_kb();
  bench_progress_start(&p, PROG, "devices registered", count);
  double t = bench_now();
  for (unsigned long i = 0; i < count; i++) {
    bench_eid(i, eid);
    register_one(&o, eid, &resp);
    bench_progress_step(&p, i + 1);
  }
  r->t_register = bench_now() - t;
  r->rss_after = bench_rss_kb();
  r->hwm = bench_hwm_kb();
  rsp_eim_device_init(&d);
  bench_eid(0, eid);
  if ((rc = rsp_eim_store_device_get(s, eid, &d)) != RSP_OK) bench_die(PROG, "device_get", rc);
  if ((rc = rsp_buf_append(config, d.initial_config.data, d.initial_config.len)) != RSP_OK)
    bench_die(PROG, "initial_config", rc);
  rsp_eim_device_free(&d);
  rsp_eim_store_close(s);
  rsp_buf_free(&sign_cert);
  rsp_buf_free(&tls_cert);
  rsp_buf_free(&resp);
}

static sqlite3 *baseline_open(const char *path, sqlite3_stmt **ins) {
  sqlite3 *db = NULL;
  bench_db_remove(path);
  if (sqlite3_open(path, &db) != SQLITE_OK ||
      sqlite3_exec(
          db,
          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
          "CREATE TABLE devices (eid TEXT PRIMARY KEY, eim_id TEXT NOT NULL,"
          " association_token INTEGER, next_counter INTEGER NOT NULL, euicc_cert BLOB,"
          " eum_cert BLOB, euicc_info2 BLOB, initial_config BLOB, created INTEGER NOT NULL,"
          " last_seen INTEGER, rplmn BLOB, enabled_iccid TEXT);",
          NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "INSERT INTO devices (eid, eim_id, next_counter, initial_config, created)"
                         " VALUES (?1, ?2, 1, ?3, ?4)",
                         -1, ins, NULL) != SQLITE_OK) {
    fprintf(stderr, PROG ": baseline %s: %s\n", path, sqlite3_errmsg(db));
    exit(1);
  }
  return db;
}

/* The same rows through plain SQLite, all in one transaction or one transaction per row. */
static double run_baseline(const char *path, unsigned long count, const struct rsp_buf *config,
                           bool per_row) {
  sqlite3_stmt *ins = NULL;
  sqlite3 *db = baseline_open(path, &ins);
  char eid[RSP_EID_DIGITS + 1];
  int64_t now = (int64_t)time(NULL);
  double t = bench_now();
  if (!per_row) sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  for (unsigned long i = 0; i < count; i++) {
    bench_eid(i, eid);
    sqlite3_reset(ins);
    sqlite3_bind_text(ins, 1, eid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, EIM_ID, -1, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 3, config->data, (int)config->len, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 4, now);
    if (sqlite3_step(ins) != SQLITE_DONE) {
      fprintf(stderr, PROG ": baseline insert: %s\n", sqlite3_errmsg(db));
      exit(1);
    }
  }
  if (!per_row) sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  t = bench_now() - t;
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return t;
}

static bool write_sample(const char *path, unsigned long count, unsigned long n) {
  FILE *f = fopen(path, "w");
  unsigned long step = n && count > n ? count / n : 1;
  char eid[RSP_EID_DIGITS + 1];
  if (!f) return false;
  for (unsigned long i = 0; i < count; i += step) {
    bench_eid(i, eid);
    fprintf(f, "%s\n", eid);
  }
  return fclose(f) == 0;
}

static void report(unsigned long count, const struct rsp_buf *config, const struct result *r) {
  double n = (double)count;
  printf("eIM device registry bench: %lu devices (synchronous=FULL; EimConfigurationData of %zu "
         "bytes each)\n",
         count, config->len);
  printf("%-44s %12.0f /s  (%.1f s)\n", "register (API POST /v1/devices)", n / r->t_register,
         r->t_register);
  printf("%-44s %12.0f /s\n", "baseline: INSERT, one transaction", n / r->t_bulk);
  printf("%-44s %12.0f /s  (%lu rows)\n", "baseline: INSERT, one transaction per row",
         r->row_n / r->t_row, r->row_n);
  printf("%-44s %12.2f\n", "ratio register / per-row INSERT",
         (n / r->t_register) / (r->row_n / r->t_row));
  printf("%-44s %12.0f bytes  (%.1f MB)\n", "database size per device", r->size / n, r->size / 1e6);
  printf("%-44s %12.0f bytes  (%.1f MB)\n", "baseline size per device", r->base_size / n,
         r->base_size / 1e6);
  printf("%-44s %12.2f\n", "ratio size / baseline size", r->size / r->base_size);
  printf("%-44s %12.1f bytes  (RSS %ld -> %ld kB, peak %ld kB)\n", "bench process RSS per device",
         (double)(r->rss_after - r->rss_before) * 1024.0 / n, r->rss_before, r->rss_after, r->hwm);
}

int main(int argc, char **argv) {
  struct result r = {0};
  struct rsp_buf config;
  char base[4200];
  if (argc < 3 || argc > 6) {
    fprintf(stderr, "usage: %s PKI_DIR DB_FILE [COUNT] [EIDS_OUT [N_EIDS]]\n", argv[0]);
    return 2;
  }
  unsigned long count = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000;
  unsigned long sample = argc > 5 ? strtoul(argv[5], NULL, 10) : SAMPLE_EIDS;
  if (count == 0 || sample == 0) {
    fprintf(stderr, PROG ": COUNT and N_EIDS must be positive\n");
    return 2;
  }
  rsp_log_set_level(RSP_LOG_WARN); /* the API logs every registration at info */
  rsp_buf_init(&config, RSP_EIM_CONFIG_MAX);
  bench_db_remove(argv[2]);
  run_ours(argv[1], argv[2], count, &config, &r);
  r.size = bench_db_size(argv[2]);
  snprintf(base, sizeof base, "%s.baseline", argv[2]);
  r.t_bulk = run_baseline(base, count, &config, false);
  r.base_size = bench_db_size(base);
  r.row_n = count < PER_ROW_SAMPLE ? count : PER_ROW_SAMPLE;
  r.t_row = run_baseline(base, r.row_n, &config, true);
  bench_db_remove(base);
  if (argc > 4 && !write_sample(argv[4], count, sample)) {
    fprintf(stderr, PROG ": cannot write %s\n", argv[4]);
    return 1;
  }
  report(count, &config, &r);
  rsp_buf_free(&config);
  return 0;
}
