/* Small helpers shared by the eIM benches (bench/eim): clock, files, memory, EIDs, progress. */
#ifndef BENCH_EIM_UTIL_H
#define BENCH_EIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/core/hex.h"

/* Seconds on the monotonic clock. */
double bench_now(void);

/* Prints "PROG: WHAT: the error's message" to stderr and exits 1. */
void bench_die(const char *prog, const char *what, rsp_err_t rc);

/* Reads a whole file into `out` (reset first); false when it cannot be read or exceeds the cap. */
bool bench_read_file(const char *path, struct rsp_buf *out);

/* The process's resident set (VmRSS) and its peak (VmHWM) in kB, from /proc/self/status; 0 when
 * unknown. */
long bench_rss_kb(void);
long bench_hwm_kb(void);

/* Size in bytes of an SQLite file once its WAL is folded in (checkpoint, then stat). */
double bench_db_size(const char *path);
/* Removes an SQLite file with its -wal and -shm companions. */
void bench_db_remove(const char *path);

/* The i-th EID of a bench fleet: "890490321", i on 21 digits, and valid check digits (SGP.29). */
void bench_eid(unsigned long i, char out[RSP_EID_DIGITS + 1]);

/* Progress on stderr: at most one line per 10 s and at every 10% of `total`. */
struct bench_progress {
  const char *prog, *what;
  unsigned long total, next_mark;
  double t0, last;
};
void bench_progress_start(struct bench_progress *p, const char *prog, const char *what,
                          unsigned long total);
void bench_progress_step(struct bench_progress *p, unsigned long done);

#endif
