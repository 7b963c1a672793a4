/* Small helpers shared by the eIM benches: see bench_eim_util.h. */
#include "bench_eim_util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rsp/crypto/pki.h"

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_die(const char *prog, const char *what, rsp_err_t rc) {
  fprintf(stderr, "%s: %s: %s\n", prog, what, rsp_strerror(rc));
  exit(1);
}

bool bench_read_file(const char *path, struct rsp_buf *out) {
  FILE *f = fopen(path, "rb");
  uint8_t chunk[4096];
  size_t n;
  bool ok = f != NULL;
  rsp_buf_reset(out);
  while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0) ok = rsp_buf_append(out, chunk, n) == 0;
  if (f) {
    ok = ok && !ferror(f);
    fclose(f);
  }
  return ok;
}

/* A "Name:   123 kB" line of /proc/self/status. */
static long status_kb(const char *name) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t n = strlen(name);
  long kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, name, n) == 0 && line[n] == ':') kb = strtol(line + n + 1, NULL, 10);
  if (f) fclose(f);
  return kb;
}

long bench_rss_kb(void) { return status_kb("VmRSS"); }
long bench_hwm_kb(void) { return status_kb("VmHWM"); }

double bench_db_size(const char *path) {
  sqlite3 *db = NULL;
  struct stat sb;
  if (sqlite3_open(path, &db) == SQLITE_OK)
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  sqlite3_close(db);
  return stat(path, &sb) == 0 ? (double)sb.st_size : 0;
}

void bench_db_remove(const char *path) {
  static const char *const suffix[] = {"", "-wal", "-shm"};
  char p[4200];
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
}

void bench_eid(unsigned long i, char out[RSP_EID_DIGITS + 1]) {
  snprintf(out, RSP_EID_DIGITS + 1, "890490321%021lu00", i);
  if (rsp_pki_eid_set_check_digits(out) != RSP_OK) bench_die("bench", "EID", RSP_E_INTERNAL);
}

void bench_progress_start(struct bench_progress *p, const char *prog, const char *what,
                          unsigned long total) {
  p->prog = prog;
  p->what = what;
  p->total = total;
  p->next_mark = total / 10;
  p->t0 = p->last = bench_now();
}

void bench_progress_step(struct bench_progress *p, unsigned long done) {
  double t = bench_now();
  if (done < p->next_mark && t - p->last < 10.0 && done != p->total) return;
  while (p->next_mark <= done && p->next_mark < p->total) p->next_mark += p->total / 10 + 1;
  p->last = t;
  fprintf(stderr, "%s: %s %lu/%lu (%.0f%%), %.0f s, %.0f/s\n", p->prog, p->what, done, p->total,
          p->total ? 100.0 * (double)done / (double)p->total : 100.0, t - p->t0,
          t > p->t0 ? (double)done / (t - p->t0) : 0.0);
}
