/* rsp-pki verify: every chain of a PKI directory checked with the RSP rules of lib/crypto, and
 * every key file checked against its certificate. */
#include <stdio.h>
#include <string.h>

#include "rsp/crypto/pki.h"
#include "rsp/crypto/signer.h"
#include "rsp_pki.h"

struct verifier {
  const struct cli_pki_opts *o;
  json_t *manifest;
  json_t *results;
  struct rsp_ci_store *cis;
  struct rsp_cert *eum;
  struct rsp_keyid ci_ski;
  struct rsp_chain_opts copts;
  int checked;
  int failed;
};

/* What one check found, for both output forms. */
struct outcome {
  rsp_err_t rc;
  int depth;
  char detail[200];
};

static void record(struct verifier *v, const char *name, const char *path,
                   const struct outcome *r) {
  json_t *e;
  v->checked++;
  if (r->rc != RSP_OK) v->failed++;
  if (!v->o->json) {
    if (r->rc == RSP_OK)
      printf("ok    %-24s %-46s %s\n", name, path, r->detail);
    else
      printf("FAIL  %-24s %-46s %s (depth %d): %s\n", name, path, rsp_err_name(r->rc), r->depth,
             r->detail);
    return;
  }
  e = json_object();
  json_object_set_new(e, "name", json_string(name));
  json_object_set_new(e, "cert", json_string(path));
  json_object_set_new(e, "ok", json_boolean(r->rc == RSP_OK));
  json_object_set_new(e, "error", r->rc == RSP_OK ? json_null() : json_string(rsp_err_name(r->rc)));
  json_object_set_new(e, "depth", json_integer(r->depth));
  json_object_set_new(e, "detail", json_string(r->detail));
  json_array_append_new(v->results, e);
}

static void set_outcome(struct outcome *r, rsp_err_t rc, int depth, const char *detail) {
  r->rc = rc;
  r->depth = depth;
  snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

/* The paths in the manifest are relative to its directory. */
static const char *entry_path(const json_t *entry, const char *field) {
  const char *s = json_string_value(json_object_get(entry, field));
  return s ? s : "";
}

static rsp_err_t load_cert(const struct verifier *v, const json_t *entry, struct rsp_cert **out) {
  char path[CLI_PATH_MAX];
  if (!cli_join(path, sizeof(path), v->o->dir, entry_path(entry, "cert"))) return RSP_E_INVALID_ARG;
  return rsp_cert_load_file(path, out);
}

/* The private key must belong to the certificate: a signer is loaded from it and the public
 * points compared. */
static rsp_err_t key_matches(const struct verifier *v, const json_t *entry,
                             const struct rsp_cert *cert) {
  char path[CLI_PATH_MAX];
  struct rsp_signer *s = NULL;
  struct rsp_key *pub = NULL;
  uint8_t a[RSP_EC_POINT_LEN], b[RSP_EC_POINT_LEN];
  rsp_err_t rc;

  if (!cli_join(path, sizeof(path), v->o->dir, entry_path(entry, "key"))) return RSP_E_INVALID_ARG;
  if ((rc = rsp_signer_inproc_load(path, &s)) != RSP_OK) return rc;
  rc = rsp_cert_public_key(cert, &pub);
  if (rc == RSP_OK) rc = rsp_key_point(rsp_signer_public_key(s), a);
  if (rc == RSP_OK) rc = rsp_key_point(pub, b);
  if (rc == RSP_OK && memcmp(a, b, sizeof(a)) != 0) rc = RSP_E_KEY_INVALID;
  rsp_key_free(pub);
  rsp_signer_destroy(s);
  return rc;
}

static void check_key(const struct verifier *v, const json_t *entry, const struct rsp_cert *cert,
                      struct outcome *r) {
  rsp_err_t rc;
  if (r->rc != RSP_OK) return;
  rc = key_matches(v, entry, cert);
  if (rc != RSP_OK)
    set_outcome(r, rc, 0, "key.pem does not load or does not match the certificate");
}

/* ---- the entries ----------------------------------------------------------------------------- */

static void verify_ci(struct verifier *v) {
  const json_t *entry = json_object_get(v->manifest, "ci");
  struct rsp_cert *ci = NULL;
  struct outcome r = {RSP_OK, -1, ""};
  char subject[160];

  r.rc = load_cert(v, entry, &ci);
  if (r.rc == RSP_OK) {
    rsp_cert_subject_string(ci, subject, sizeof(subject));
    snprintf(r.detail, sizeof(r.detail), "CI %s", subject);
    check_key(v, entry, ci, &r);
  }
  if (r.rc == RSP_OK) {
    rsp_cert_ski(ci, &v->ci_ski);
    r.rc = rsp_ci_store_add(v->cis, ci);
    if (r.rc != RSP_OK)
      set_outcome(&r, r.rc, 0, "not a self-signed CI with the CI role, keyCertSign and an SKI");
    else
      ci = NULL;
  } else if (!r.detail[0]) {
    set_outcome(&r, r.rc, 0, "certificate cannot be loaded");
  }
  rsp_cert_free(ci);
  record(v, "ci", entry_path(entry, "cert"), &r);
}

/* The EUM's own line: loadable, its key, issued by the CI. The RSP rules for it (role, pathLen,
 * nameConstraints) are applied on every eUICC chain below. */
static void verify_eum(struct verifier *v) {
  const json_t *entry = json_object_get(v->manifest, "eum");
  const struct rsp_cert *ci = rsp_ci_store_find(v->cis, v->ci_ski.id, v->ci_ski.len);
  struct outcome r = {RSP_OK, -1, ""};
  char ein[RSP_EID_DIGITS + 1] = "", org[128] = "";

  r.rc = load_cert(v, entry, &v->eum);
  if (r.rc != RSP_OK) {
    set_outcome(&r, r.rc, 1, "certificate cannot be loaded");
  } else if (!ci || rsp_cert_verify_signature(v->eum, ci) != RSP_OK) {
    set_outcome(&r, RSP_E_CERT_SIG_INVALID, 1, "not signed by the CI of this directory");
  } else {
    rsp_pki_eum_range(v->eum, ein, sizeof(ein), org, sizeof(org));
    snprintf(r.detail, sizeof(r.detail), "EUM, permitted O=%s serialNumber=%s", org, ein);
    check_key(v, entry, v->eum, &r);
  }
  record(v, "eum", entry_path(entry, "cert"), &r);
}

static void verify_euicc(struct verifier *v, const json_t *entry) {
  const char *eid_str = json_string_value(json_object_get(entry, "eid"));
  struct rsp_cert *cert = NULL;
  struct rsp_chain_result res = {-1, ""};
  struct rsp_chain_opts o = v->copts;
  struct outcome r = {RSP_OK, -1, ""};
  uint8_t eid[RSP_EID_LEN];
  char name[64];

  snprintf(name, sizeof(name), "euicc %s", eid_str ? eid_str : "?");
  if (!eid_str || rsp_eid_from_string(eid_str, eid) != RSP_OK) {
    set_outcome(&r, RSP_E_INVALID_ARG, 0, "manifest entry without a valid eid");
  } else if ((r.rc = load_cert(v, entry, &cert)) != RSP_OK) {
    set_outcome(&r, r.rc, 0, "certificate cannot be loaded");
  } else if (!v->eum) {
    set_outcome(&r, RSP_E_NOT_FOUND, 1, "no EUM certificate");
  } else {
    o.expected_eid = eid;
    r.rc = rsp_x509_verify_euicc_chain(v->cis, v->eum, cert, &o, &res);
    set_outcome(&r, r.rc, res.depth, res.detail);
    check_key(v, entry, cert, &r);
  }
  rsp_cert_free(cert);
  record(v, name, entry_path(entry, "cert"), &r);
}

/* role RSP_ROLE_UNKNOWN selects the eIM check (tls tells which eIM certificate). */
static void verify_leaf(struct verifier *v, const char *name, const json_t *entry,
                        enum rsp_cert_role role, bool tls) {
  struct rsp_cert *cert = NULL;
  struct rsp_chain_result res = {-1, ""};
  struct outcome r = {RSP_OK, -1, ""};

  if (!entry) {
    set_outcome(&r, RSP_E_NOT_FOUND, 0, "missing from the manifest");
  } else if ((r.rc = load_cert(v, entry, &cert)) != RSP_OK) {
    set_outcome(&r, r.rc, 0, "certificate cannot be loaded");
  } else {
    r.rc = role == RSP_ROLE_UNKNOWN
               ? rsp_pki_verify_eim_cert(v->cis, cert, tls, &v->copts, &res)
               : rsp_x509_verify_server_cert(v->cis, cert, role, &v->copts, &res);
    set_outcome(&r, r.rc, res.depth, res.detail);
    check_key(v, entry, cert, &r);
  }
  rsp_cert_free(cert);
  record(v, name, entry ? entry_path(entry, "cert") : "-", &r);
}

static void verify_all(struct verifier *v) {
  const json_t *smdp = json_object_get(v->manifest, "smdp");
  const json_t *smds = json_object_get(v->manifest, "smds");
  const json_t *eim = json_object_get(v->manifest, "eim");
  const json_t *list = json_object_get(v->manifest, "euicc");
  size_t i;
  json_t *e;

  verify_ci(v);
  /* Every other chain must end at this directory's CI: its SKI plays euiccCiPKIdToBeUsed. */
  if (v->ci_ski.len) {
    v->copts.ci_ski = v->ci_ski.id;
    v->copts.ci_ski_len = v->ci_ski.len;
  }
  verify_eum(v);
  json_array_foreach(list, i, e) verify_euicc(v, e);
  verify_leaf(v, "smdp auth", json_object_get(smdp, "auth"), RSP_ROLE_DP_AUTH, false);
  verify_leaf(v, "smdp pb", json_object_get(smdp, "pb"), RSP_ROLE_DP_PB, false);
  verify_leaf(v, "smdp tls", json_object_get(smdp, "tls"), RSP_ROLE_DP_TLS, true);
  /* directories made before the SM-DS have none */
  if (json_is_object(smds)) {
    verify_leaf(v, "smds auth", json_object_get(smds, "auth"), RSP_ROLE_DS_AUTH, false);
    verify_leaf(v, "smds tls", json_object_get(smds, "tls"), RSP_ROLE_DS_TLS, true);
  }
  verify_leaf(v, "eim sign", json_object_get(eim, "sign"), RSP_ROLE_UNKNOWN, false);
  verify_leaf(v, "eim tls", json_object_get(eim, "tls"), RSP_ROLE_UNKNOWN, true);
}

static bool load_manifest(struct verifier *v) {
  char path[CLI_PATH_MAX];
  json_error_t jerr;
  const char *format;

  if (!cli_join(path, sizeof(path), v->o->dir, "pki.json")) return false;
  v->manifest = json_load_file(path, 0, &jerr);
  if (!v->manifest) {
    cli_err("%s: %s (line %d)", path, jerr.text, jerr.line);
    return false;
  }
  format = json_string_value(json_object_get(v->manifest, "format"));
  if (!format || strcmp(format, "openrsp-pki/1") != 0 ||
      !json_is_object(json_object_get(v->manifest, "ci"))) {
    cli_err("%s: not an openrsp PKI manifest (format openrsp-pki/1)", path);
    return false;
  }
  return true;
}

static void print_summary(struct verifier *v) {
  json_t *out;
  if (!v->o->json) {
    printf("%d certificate%s checked: %d ok, %d failed\n", v->checked, v->checked == 1 ? "" : "s",
           v->checked - v->failed, v->failed);
    return;
  }
  out = json_object();
  json_object_set_new(out, "dir", json_string(v->o->dir));
  json_object_set_new(out, "ok", json_boolean(v->failed == 0));
  json_object_set_new(out, "checked", json_integer(v->checked));
  json_object_set_new(out, "failed", json_integer(v->failed));
  json_object_set(out, "results", v->results);
  json_dumpf(out, stdout, JSON_INDENT(2));
  putchar('\n');
  json_decref(out);
}

/* ---- check: foreign certificates against this directory's trust ------------------------------ */

/* The first eUICC of the directory: an EUM under test is checked on a chain ending in it, and a
 * failure at depth 1 or 2 is then about the EUM, not the eUICC. */
static struct rsp_cert *reference_euicc(const struct verifier *v) {
  const json_t *first = json_array_get(json_object_get(v->manifest, "euicc"), 0);
  struct rsp_cert *cert = NULL;
  if (first && load_cert(v, first, &cert) != RSP_OK) cert = NULL;
  return cert;
}

static void check_ci_cert(const struct verifier *v, const struct rsp_cert *cert,
                          struct outcome *r) {
  struct rsp_slice mine = rsp_cert_der(cert);
  for (size_t i = 0; i < rsp_ci_store_count(v->cis); i++) {
    struct rsp_slice ci = rsp_cert_der(rsp_ci_store_get(v->cis, i));
    if (mine.len == ci.len && memcmp(mine.p, ci.p, ci.len) == 0) {
      set_outcome(r, RSP_OK, -1, "the CI of this directory");
      return;
    }
  }
  set_outcome(r, RSP_E_CERT_UNKNOWN_CI, 2, "not a CI trusted by this directory");
}

static void check_eum_cert(const struct verifier *v, const struct rsp_cert *eum,
                           struct outcome *r) {
  struct rsp_chain_result res = {-1, ""};
  struct rsp_cert *leaf = reference_euicc(v);
  rsp_err_t rc;
  if (!leaf) {
    set_outcome(r, RSP_E_NOT_FOUND, 0, "the directory has no eUICC to build a chain with");
    return;
  }
  rc = rsp_x509_verify_euicc_chain(v->cis, eum, leaf, &v->copts, &res);
  if (rc != RSP_OK && res.depth == 0)
    set_outcome(r, RSP_OK, -1, "EUM valid under this CI (the reference eUICC is not its own)");
  else
    set_outcome(r, rc, res.depth, res.detail);
  rsp_cert_free(leaf);
}

static void check_one(struct verifier *v, const char *path) {
  struct rsp_cert *cert = NULL;
  struct rsp_chain_result res = {-1, ""};
  struct rsp_chain_opts co = v->copts;
  struct outcome r = {RSP_OK, -1, ""};
  uint8_t eid[RSP_EID_LEN];
  enum rsp_cert_role role;
  char serial[64];

  if ((r.rc = rsp_cert_load_file(path, &cert)) != RSP_OK) {
    set_outcome(&r, r.rc, 0, "certificate cannot be loaded");
    goto out;
  }
  role = rsp_cert_role(cert);
  if (role == RSP_ROLE_UNKNOWN && rsp_cert_subject_serial(cert, serial, sizeof(serial)) == RSP_OK &&
      strlen(serial) == 32)
    role = RSP_ROLE_EUICC; /* judged as what it claims to be: an eUICC */
  if (v->o->n_eids && rsp_eid_from_string(v->o->eids[0], eid) == RSP_OK) co.expected_eid = eid;
  if (role == RSP_ROLE_EUICC) {
    r.rc = rsp_x509_verify_euicc_chain(v->cis, v->eum, cert, &co, &res);
    set_outcome(&r, r.rc, res.depth, res.detail);
  } else if (role == RSP_ROLE_EUM) {
    check_eum_cert(v, cert, &r);
  } else if (role == RSP_ROLE_CI || role == RSP_ROLE_UNKNOWN) {
    check_ci_cert(v, cert, &r);
  } else {
    r.rc = rsp_x509_verify_server_cert(v->cis, cert, role, &v->copts, &res);
    set_outcome(&r, r.rc, res.depth, res.detail);
  }
out : {
  const char *base = strrchr(path, '/');
  record(v, cert ? rsp_cert_role_name(rsp_cert_role(cert)) : "?", base ? base + 1 : path, &r);
}
  rsp_cert_free(cert);
}

/* Loads the manifest and prepares an empty CI store; false (with a message) on failure. */
static bool verifier_open(struct verifier *v, const struct cli_pki_opts *o) {
  memset(v, 0, sizeof(*v));
  v->o = o;
  v->copts.now = o->at;
  v->copts.ignore_time = o->ignore_time;
  return load_manifest(v) && rsp_ci_store_new(&v->cis) == RSP_OK && (v->results = json_array());
}

static void verifier_close(struct verifier *v) {
  rsp_cert_free(v->eum);
  rsp_ci_store_free(v->cis);
  json_decref(v->results);
  json_decref(v->manifest);
}

int cli_pki_check(const struct cli_pki_opts *o) {
  struct verifier v;
  int rc = CLI_EXIT_FAIL;

  if (!verifier_open(&v, o)) goto out;
  verify_ci(&v);
  verify_eum(&v);
  if (v.failed) {
    cli_err("%s: the directory's own CI or EUM does not verify; run rsp-pki verify", o->dir);
    goto out;
  }
  v.checked = v.failed = 0; /* the anchors are context; the summary counts the files */
  json_array_clear(v.results);
  for (int i = 0; i < o->n_files; i++) check_one(&v, o->files[i]);
  print_summary(&v);
  rc = v.failed == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
  verifier_close(&v);
  return rc;
}

int cli_pki_verify(const struct cli_pki_opts *o) {
  struct verifier v;
  int rc = CLI_EXIT_FAIL;

  if (!verifier_open(&v, o)) goto out;
  if (!o->json) {
    const char *curve = json_string_value(json_object_get(v.manifest, "curve"));
    printf("verifying %s (curve %s)\n", o->dir, curve ? curve : "?");
  }
  verify_all(&v);
  print_summary(&v);
  rc = v.failed == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
  verifier_close(&v);
  return rc;
}
