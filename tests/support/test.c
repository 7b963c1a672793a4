#include "test.h"

#include <stdarg.h>
#include <stdlib.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"

int rsp_test_failures;
int rsp_test_checks;
static const char *skip_reason;
static const char *current;

void rsp_test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  rsp_test_failures++;
  fprintf(stderr, "FAIL %s (%s:%d): ", current ? current : "?", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void rsp_test_skip(const char *why) { skip_reason = why; }

int rsp_test_main(int argc, char **argv, const struct rsp_test_case *cases, size_t n) {
  size_t ran = 0, failed = 0;
  for (size_t i = 0; i < n; i++) {
    bool wanted = argc <= 1; /* no names: every case; else the cases named, in table order */
    for (int k = 1; k < argc && !wanted; k++) wanted = strcmp(argv[k], cases[i].name) == 0;
    if (!wanted) continue;
    int before = rsp_test_failures;
    current = cases[i].name;
    cases[i].fn();
    ran++;
    if (rsp_test_failures != before) {
      failed++;
      fprintf(stderr, "not ok %s\n", cases[i].name);
    } else {
      printf("ok %s\n", cases[i].name);
    }
  }
  current = NULL;
  printf("%zu cases, %d checks, %zu failed\n", ran, rsp_test_checks, failed);
  /* temporary directories: removed after a clean run, kept (and named) after a failure, or
   * always with RSP_TEST_KEEP=1 */
  const char *keep = getenv("RSP_TEST_KEEP");
  rsp__test_tmpdirs_done(failed > 0 || (keep && strcmp(keep, "1") == 0));
  if (failed) return 1;
  if (skip_reason) {
    printf("SKIPPED: %s\n", skip_reason);
    return 77;
  }
  if (ran == 0) {
    fprintf(stderr, "no test case matched\n");
    return 1;
  }
  return 0;
}

uint8_t *rsp_test_hex(const char *hex, size_t *len) {
  size_t n = strlen(hex), k = 0;
  char *clean = malloc(n + 1);
  if (!clean) abort();
  for (size_t i = 0; i < n; i++)
    if (hex[i] != ' ' && hex[i] != '\n' && hex[i] != '\t') clean[k++] = hex[i];
  clean[k] = 0;
  uint8_t *out = rsp_malloc(k / 2 + 1);
  size_t out_len = 0;
  if (!out || rsp_hex_decode(clean, out, k / 2 + 1, &out_len) != RSP_OK) {
    fprintf(stderr, "bad hex literal in test: %s\n", hex);
    abort();
  }
  free(clean);
  *len = out_len;
  return out;
}

/* ---- allocation failure injection ----------------------------------------------------------- */
static long fail_after = -1;
static long alloc_count;

static void *fi_malloc(void *ctx, size_t size) {
  (void)ctx;
  alloc_count++;
  if (fail_after >= 0 && alloc_count > fail_after) return NULL;
  return malloc(size);
}
static void *fi_realloc(void *ctx, void *p, size_t size) {
  (void)ctx;
  alloc_count++;
  if (fail_after >= 0 && alloc_count > fail_after) return NULL;
  return realloc(p, size);
}
static void fi_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

void rsp_test_alloc_fail_after(long n) {
  static const struct rsp_alloc_hooks hooks = {fi_malloc, fi_realloc, fi_free, NULL};
  fail_after = n;
  alloc_count = 0;
  rsp_alloc_set_hooks(n >= 0 ? &hooks : NULL);
}

long rsp_test_alloc_count(void) { return alloc_count; }
