/* DER reader and writer against encodings made by other implementations: every der-hex row of
 * shared/vectors/traces.tsv and every SGP.26 certificate. Each must parse as a complete tree,
 * re-encode byte for byte through our writer, and every truncated prefix, copied into a buffer of
 * exactly that size (so ASan sees any over-read), must fail cleanly. */
#include <dirent.h>
#include <stdlib.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/der/der.h"
#include "test.h"

/* Rebuilds the tree with the writer: constructed elements recursively, primitives verbatim. */
static void reencode(struct rsp_der_writer *w, const uint8_t *p, const uint8_t *end) {
  while (p < end) {
    struct rsp_der_tlv t;
    if (rsp_der_read_tlv(&p, end, &t) != RSP_OK) {
      w->err = RSP_E_INTERNAL;
      return;
    }
    if (rsp_der_tag_constructed(t.tag)) {
      rsp_der_begin(w, t.tag);
      reencode(w, t.val, t.val + t.len);
      rsp_der_end(w);
    } else {
      rsp_der_put_tlv(w, t.tag, t.val, t.len);
    }
  }
}

static int prefixes_checked;

static void check_encoding(const char *id, const uint8_t *d, size_t n) {
  struct rsp_buf b;
  struct rsp_der_writer w;
  rsp_err_t rc = rsp_der_validate_tree(d, n);
  if (rc != RSP_OK) {
    rsp_test_fail(__FILE__, __LINE__, "%s: full vector rejected: %s", id, rsp_err_name(rc));
    return;
  }
  rsp_buf_init(&b, n + 16);
  rsp_der_writer_init(&w, &b);
  reencode(&w, d, d + n);
  CHECK_OK(rsp_der_writer_finish(&w));
  if (b.len != n || memcmp(b.data, d, n) != 0)
    rsp_test_fail(__FILE__, __LINE__, "%s: re-encoding differs", id);
  rsp_buf_free(&b);
  for (size_t cut = 0; cut < n; cut++) {
    uint8_t *copy = malloc(cut ? cut : 1);
    memcpy(copy, d, cut);
    rc = rsp_der_validate_tree(copy, cut);
    if (rc == RSP_OK)
      rsp_test_fail(__FILE__, __LINE__, "%s: prefix of %zu/%zu bytes accepted", id, cut, n);
    free(copy);
    prefixes_checked++;
  }
}

static void trace_vectors(void) {
  struct rsp_test_vector *v;
  int n = rsp_test_vectors_load(&v);
  if (n < 0) {
    rsp_test_skip("shared/vectors/traces.tsv absent");
    return;
  }
  int der_rows = 0;
  for (int i = 0; i < n; i++) {
    if (strcmp(v[i].encoding, "der-hex") != 0 || v[i].negative) continue;
    size_t len = strlen(v[i].data) / 2;
    uint8_t *d = rsp_malloc(len ? len : 1);
    CHECK_OK(rsp_hex_decode(v[i].data, d, len, &len));
    check_encoding(v[i].id, d, len);
    rsp_free(d);
    der_rows++;
  }
  printf("trace vectors: %d DER rows, %d truncated prefixes rejected\n", der_rows,
         prefixes_checked);
  CHECK(der_rows >= 30);
  rsp_test_vectors_free(v, n);
}

static void sgp26_certificates(void) {
  static const char *const dirs[] = {"CertificateIssuer", "EUM", "eUICC", "DPauth", "DPpb", "DPtls",
                                     "InvalidTestCases"};
  int certs = 0;
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
    char rel[256];
    snprintf(rel, sizeof(rel), "sgp26/%s", dirs[i]);
    const char *dir = rsp_test_shared_path(rel);
    if (!dir) {
      rsp_test_skip("shared/sgp26 absent");
      return;
    }
    char dirpath[4096];
    snprintf(dirpath, sizeof(dirpath), "%s", dir);
    DIR *dh = opendir(dirpath);
    CHECK(dh != NULL);
    if (!dh) continue;
    struct dirent *e;
    while ((e = readdir(dh))) {
      size_t l = strlen(e->d_name);
      if (l < 4 || strcmp(e->d_name + l - 4, ".der") != 0) continue;
      char path[8192];
      snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
      size_t n;
      uint8_t *d = rsp_test_read_file(path, &n);
      CHECK(d != NULL);
      if (!d) continue;
      check_encoding(e->d_name, d, n);
      rsp_free(d);
      certs++;
    }
    closedir(dh);
  }
  printf("SGP.26 certificates: %d\n", certs);
  CHECK(certs >= 25);
}

RSP_TESTS(T(trace_vectors), T(sgp26_certificates))
