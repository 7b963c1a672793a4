#define _XOPEN_SOURCE 700 /* nftw with FTW_DEPTH | FTW_PHYS */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "test.h"

const char *rsp_test_source_dir(void) { return RSP_SOURCE_DIR; }

const char *rsp_test_shared_dir(void) {
  static char dir[4096];
  static int state; /* 0 unknown, 1 present, 2 absent */
  if (state == 1) return dir;
  if (state == 2) return NULL;
  const char *env = getenv("RSP_SHARED");
  const char *cand[2] = {env && *env ? env : NULL, RSP_SHARED_DIR};
  for (int i = 0; i < 2; i++) {
    struct stat st;
    if (!cand[i]) continue;
    char probe[4200];
    snprintf(probe, sizeof(probe), "%s/sgp26", cand[i]);
    if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode)) {
      snprintf(dir, sizeof(dir), "%s", cand[i]);
      state = 1;
      return dir;
    }
  }
  fprintf(stderr,
          "reference data not found: set RSP_SHARED or place the shared directory beside the "
          "checkout (looked at %s%s%s)\n",
          env ? env : "", env ? " and " : "", RSP_SHARED_DIR);
  state = 2;
  return NULL;
}

const char *rsp_test_shared_path(const char *rel) {
  static char path[8192];
  const char *dir = rsp_test_shared_dir();
  if (!dir) return NULL;
  snprintf(path, sizeof(path), "%s/%s", dir, rel);
  return path;
}

uint8_t *rsp_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *data = NULL;
  size_t size = 0, n = 0;
  for (;;) {
    if (n == size) {
      size = size ? size * 2 : 4096;
      uint8_t *d = rsp_realloc(data, size);
      if (!d) {
        rsp_free(data);
        fclose(f);
        return NULL;
      }
      data = d;
    }
    size_t r = fread(data + n, 1, size - n, f);
    n += r;
    if (r == 0) break;
  }
  fclose(f);
  *len = n;
  return data;
}

/* The directories rsp_test_tmpdir made, removed by rsp_test_main when every case passed. */
#define TMPDIRS_MAX 256
static char *tmpdirs[TMPDIRS_MAX];
static size_t n_tmpdirs;

const char *rsp_test_tmpdir(const char *tag) {
  static char path[4096];
  const char *base = getenv("TMPDIR");
  snprintf(path, sizeof(path), "%s/rsp-test-%s-XXXXXX", base && *base ? base : "/tmp", tag);
  if (!mkdtemp(path)) {
    fprintf(stderr, "mkdtemp %s: %s\n", path, strerror(errno));
    abort();
  }
  if (n_tmpdirs < TMPDIRS_MAX) tmpdirs[n_tmpdirs++] = strdup(path);
  return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0; /* best effort: go on */
}

void rsp__test_tmpdirs_done(bool keep) {
  for (size_t i = 0; i < n_tmpdirs; i++) {
    if (!tmpdirs[i]) continue;
    if (keep)
      fprintf(stderr, "kept %s\n", tmpdirs[i]);
    else
      nftw(tmpdirs[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(tmpdirs[i]);
    tmpdirs[i] = NULL;
  }
  n_tmpdirs = 0;
}

static void copy_field(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src ? src : "");
}

int rsp_test_vectors_load(struct rsp_test_vector **out) {
  const char *path = rsp_test_shared_path("vectors/traces.tsv");
  size_t len = 0;
  uint8_t *raw = path ? rsp_test_read_file(path, &len) : NULL;
  if (!raw) return -1;
  char *text = rsp_realloc(raw, len + 1);
  if (!text) abort();
  text[len] = 0;
  struct rsp_test_vector *v = NULL;
  int n = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *cols[9] = {0};
    int c = 0;
    for (char *p = line; c < 9; c++) {
      cols[c] = p;
      char *tab = strchr(p, '\t');
      if (!tab) {
        c++;
        break;
      }
      *tab = 0;
      p = tab + 1;
    }
    if (c < 8 || strcmp(cols[0], "id") == 0) continue;
    v = rsp_realloc(v, sizeof(*v) * (size_t)(n + 1));
    if (!v) abort();
    struct rsp_test_vector *r = &v[n++];
    memset(r, 0, sizeof(*r));
    copy_field(r->id, sizeof(r->id), cols[0]);
    copy_field(r->type, sizeof(r->type), cols[1]);
    copy_field(r->encoding, sizeof(r->encoding), cols[4]);
    r->data = rsp_strdup(cols[5]);
    copy_field(r->expected, sizeof(r->expected), cols[6]);
    r->negative = strcmp(cols[7], "yes") == 0;
  }
  rsp_free(text);
  *out = v;
  return n;
}

void rsp_test_vectors_free(struct rsp_test_vector *v, int n) {
  for (int i = 0; i < n; i++) rsp_free(v[i].data);
  rsp_free(v);
}
