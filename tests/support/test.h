/* openrsp test support: a minimal harness for ctest-driven C tests.
 *
 * A test file lists its cases in a table and calls rsp_test_main. Each failed
 * check prints file:line and the expression; the process exits non-zero if any
 * check failed, 77 if the test asked to be skipped (ctest reports it as skipped).
 */
#ifndef RSP_TEST_H
#define RSP_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"

struct rsp_test_case {
  const char *name;
  void (*fn)(void);
};

extern int rsp_test_failures;
extern int rsp_test_checks;

int rsp_test_main(int argc, char **argv, const struct rsp_test_case *cases, size_t n);
void rsp_test_fail(const char *file, int line, const char *fmt, ...);
/* Marks the whole test program as skipped with a reason (exit 77 at the end). */
void rsp_test_skip(const char *why);

#define RSP_TESTS(...)                                                                             \
  int main(int argc, char **argv) {                                                                \
    static const struct rsp_test_case cases_[] = {__VA_ARGS__};                                    \
    return rsp_test_main(argc, argv, cases_, sizeof(cases_) / sizeof(cases_[0]));                  \
  }
#define T(fn)                                                                                      \
  { #fn, fn }

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    rsp_test_checks++;                                                                             \
    if (!(cond)) rsp_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                            \
  } while (0)

#define CHECK_EQ(a, b)                                                                             \
  do {                                                                                             \
    long long a_ = (long long)(a), b_ = (long long)(b);                                            \
    rsp_test_checks++;                                                                             \
    if (a_ != b_) rsp_test_fail(__FILE__, __LINE__, "%s == %s (%lld vs %lld)", #a, #b, a_, b_);    \
  } while (0)

#define CHECK_OK(expr)                                                                             \
  do {                                                                                             \
    rsp_err_t e_ = (expr);                                                                         \
    rsp_test_checks++;                                                                             \
    if (e_ != RSP_OK) rsp_test_fail(__FILE__, __LINE__, "%s -> %s", #expr, rsp_err_name(e_));      \
  } while (0)

#define CHECK_ERR(expr, want)                                                                      \
  do {                                                                                             \
    rsp_err_t e_ = (expr);                                                                         \
    rsp_test_checks++;                                                                             \
    if (e_ != (want))                                                                              \
      rsp_test_fail(__FILE__, __LINE__, "%s -> %s, expected %s", #expr, rsp_err_name(e_),          \
                    rsp_err_name(want));                                                           \
  } while (0)

#define CHECK_MEM(a, b, n)                                                                         \
  do {                                                                                             \
    rsp_test_checks++;                                                                             \
    if (memcmp((a), (b), (n)) != 0) rsp_test_fail(__FILE__, __LINE__, "memcmp(%s, %s)", #a, #b);   \
  } while (0)

#define CHECK_STR(a, b)                                                                            \
  do {                                                                                             \
    const char *a_ = (a), *b_ = (b);                                                               \
    rsp_test_checks++;                                                                             \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                         \
      rsp_test_fail(__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)", \
                    b_ ? b_ : "(null)");                                                           \
  } while (0)

/* ---- helpers --------------------------------------------------------------------------------- */

/* Decodes a hex literal (spaces allowed) into a fresh rsp_malloc'd buffer; aborts on bad input. */
uint8_t *rsp_test_hex(const char *hex, size_t *len);
/* Path of the shared reference data directory, or NULL when absent (message printed). */
const char *rsp_test_shared_dir(void);
/* Joins the shared dir and a relative path into a static buffer; NULL when shared is absent. */
const char *rsp_test_shared_path(const char *rel);
/* The source tree root (for committed corpora and fixtures). */
const char *rsp_test_source_dir(void);
/* Reads a whole file into a fresh rsp_malloc'd buffer; NULL on error. */
uint8_t *rsp_test_read_file(const char *path, size_t *len);
/* Makes a fresh empty directory under $TMPDIR (or /tmp) for this test; the path is static. */
const char *rsp_test_tmpdir(const char *tag);
/* rsp_test_main's end: removes the directories of rsp_test_tmpdir, or names them when `keep`. */
void rsp__test_tmpdirs_done(bool keep);

/* One row of shared/vectors/traces.tsv. */
struct rsp_test_vector {
  char id[32];
  char type[128];
  char encoding[16];
  char *data; /* owned */
  char expected[512];
  bool negative;
};
/* Loads every row; returns the count, -1 when the file is absent. Free with rsp_test_vectors_free.
 */
int rsp_test_vectors_load(struct rsp_test_vector **out);
void rsp_test_vectors_free(struct rsp_test_vector *v, int n);

/* Allocation failure injection: after `n` more successful allocations, every allocation fails.
 * n < 0 disables injection. Returns how many allocations happened since the last arm. */
void rsp_test_alloc_fail_after(long n);
long rsp_test_alloc_count(void);

#endif
