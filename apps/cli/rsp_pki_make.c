/* rsp-pki create and import-sgp26: write a PKI directory in the layout of rsp_pki.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/crypto/pki.h"
#include "rsp/crypto/signer.h"
#include "rsp_pki.h"

#define DEFAULT_EIN "89049032"
#define DEFAULT_HOST "localhost"
#define DEFAULT_EIM_ID "openrsp-test-eim"
#define MANIFEST_FORMAT "openrsp-pki/1"

struct maker {
  struct cli_pki_opts *o;
  json_t *root;
  struct rsp_signer *ci_signer;
  struct rsp_signer *eum_signer;
  struct rsp_cert *ci;
  struct rsp_cert *eum;
  char ein[RSP_EID_DIGITS + 1];
  char eum_org[128];
};

static void maker_free(struct maker *m) {
  json_decref(m->root);
  rsp_signer_destroy(m->ci_signer);
  rsp_signer_destroy(m->eum_signer);
  rsp_cert_free(m->ci);
  rsp_cert_free(m->eum);
}

static void report(const struct maker *m, const char *name, const char *rel,
                   const struct rsp_cert *cert) {
  char subject[200];
  if (m->o->json) return;
  rsp_cert_subject_string(cert, subject, sizeof(subject));
  printf("  %-12s %-47s %s\n", name, rel, subject);
}

static bool fail_rc(const char *what, rsp_err_t rc) {
  cli_err("%s: %s (%s)", what, rsp_strerror(rc), rsp_err_name(rc));
  return false;
}

static bool prepare_dir(const struct cli_pki_opts *o) {
  if (!cli_dir_empty(o->dir) && !o->force) {
    cli_err("%s is not empty (use --force to write into it)", o->dir);
    return false;
  }
  return cli_mkdirs(o->dir);
}

/* Writes DIR/rel/cert.der (and cert.pem) from the certificate's exact bytes. */
static bool write_cert(const struct maker *m, const char *rel, const struct rsp_cert *cert,
                       bool pem) {
  char dir[CLI_PATH_MAX], path[CLI_PATH_MAX];
  rsp_err_t rc;
  if (!cli_join(dir, sizeof(dir), m->o->dir, rel) || !cli_mkdirs(dir)) return false;
  if (!cli_join(path, sizeof(path), dir, "cert.der")) return false;
  if ((rc = rsp_pki_cert_write(cert, path, false)) != RSP_OK) return fail_rc(path, rc);
  if (!pem) return true;
  if (!cli_join(path, sizeof(path), dir, "cert.pem")) return false;
  if ((rc = rsp_pki_cert_write(cert, path, true)) != RSP_OK) return fail_rc(path, rc);
  return true;
}

/* A new key pair and certificate at DIR/rel. The private key is written first and then handed
 * to a signer; for a self-signed CI that signer also signs the certificate. */
static bool new_party(struct maker *m, const struct rsp_cert_template *t, const char *rel, bool pem,
                      const struct rsp_cert *issuer, struct rsp_signer *issuer_signer,
                      struct rsp_signer **signer_out, struct rsp_cert **cert_out, json_t **entry) {
  char dir[CLI_PATH_MAX], path[CLI_PATH_MAX];
  struct rsp_key *key = NULL;
  struct rsp_signer *signer = NULL;
  struct rsp_cert *cert = NULL;
  bool ok = false;
  rsp_err_t rc;

  if (!cli_join(dir, sizeof(dir), m->o->dir, rel) || !cli_mkdirs(dir)) return false;
  if (!cli_join(path, sizeof(path), dir, "key.pem")) return false;
  if ((rc = rsp_key_generate(m->o->curve, &key)) != RSP_OK) return fail_rc("key generation", rc);
  if ((rc = rsp_key_write_pem(key, true, path)) != RSP_OK) {
    rsp_key_free(key);
    return fail_rc(path, rc);
  }
  if ((rc = rsp_signer_inproc_take_key(key, &signer)) != RSP_OK) return fail_rc("signer", rc);
  rc = rsp_pki_issue(t, rsp_signer_public_key(signer), issuer, issuer ? issuer_signer : signer,
                     &cert);
  if (rc != RSP_OK) {
    fail_rc(rel, rc);
    goto out;
  }
  if (!write_cert(m, rel, cert, pem)) goto out;
  *entry = cli_cert_entry(rel, cert, pem);
  report(m, rsp_pki_profile_name(t->profile), rel, cert);
  ok = *entry != NULL;
  if (signer_out) {
    *signer_out = signer;
    signer = NULL;
  }
  if (cert_out) {
    *cert_out = cert;
    cert = NULL;
  }
out:
  rsp_signer_destroy(signer);
  rsp_cert_free(cert);
  return ok;
}

/* An existing certificate and key (SGP.26) copied to DIR/rel: the DER is rewritten from the
 * parsed certificate's exact bytes, the key file is copied unchanged. */
static bool copy_party(struct maker *m, const char *name, const char *rel, const char *cert_src,
                       const char *key_src, bool pem, struct rsp_cert **cert_out, json_t **entry) {
  char dir[CLI_PATH_MAX], path[CLI_PATH_MAX];
  struct rsp_cert *cert = NULL;
  rsp_err_t rc = rsp_cert_load_file(cert_src, &cert);
  bool ok = false;

  if (rc != RSP_OK) return fail_rc(cert_src, rc);
  if (!write_cert(m, rel, cert, pem)) goto out;
  if (!cli_join(dir, sizeof(dir), m->o->dir, rel) || !cli_join(path, sizeof(path), dir, "key.pem"))
    goto out;
  if (!cli_copy_file(key_src, path, true)) goto out;
  *entry = cli_cert_entry(rel, cert, pem);
  report(m, name, rel, cert);
  ok = *entry != NULL;
  if (cert_out) {
    *cert_out = cert;
    cert = NULL;
  }
out:
  rsp_cert_free(cert);
  return ok;
}

/* ---- the parts of a PKI -------------------------------------------------------------------- */

static bool add_euicc(struct maker *m, json_t *list, const char *eid) {
  struct rsp_cert_template t;
  char rel[64];
  json_t *entry = NULL;

  rsp_pki_template_init(&t, RSP_PKI_EUICC);
  t.eid = eid;
  if (m->eum_org[0]) {
    t.org = m->eum_org; /* the eUICC's O must be the O the EUM's nameConstraints permit */
    t.country = NULL;
  }
  snprintf(rel, sizeof(rel), "euicc/%s", eid);
  if (!new_party(m, &t, rel, false, m->eum, m->eum_signer, NULL, NULL, &entry)) return false;
  json_object_set_new(entry, "eid", json_string(eid));
  json_array_append_new(list, entry);
  return true;
}

static bool add_eim(struct maker *m) {
  struct rsp_cert_template t;
  json_t *eim = json_object(), *e = NULL;

  json_object_set_new(m->root, "eim", eim);
  json_object_set_new(eim, "id", json_string(m->o->eim_id));
  json_object_set_new(eim, "host", json_string(m->o->eim_host));
  rsp_pki_template_init(&t, RSP_PKI_EIM_SIGN);
  t.common_name = m->o->eim_id;
  if (!new_party(m, &t, "eim/sign", true, m->ci, m->ci_signer, NULL, NULL, &e)) return false;
  json_object_set_new(eim, "sign", e);
  rsp_pki_template_init(&t, RSP_PKI_EIM_TLS);
  t.san_dns = m->o->eim_host;
  if (!new_party(m, &t, "eim/tls", true, m->ci, m->ci_signer, NULL, NULL, &e)) return false;
  json_object_set_new(eim, "tls", e);
  return true;
}

static bool add_smdp_tls(struct maker *m, json_t *smdp) {
  struct rsp_cert_template t;
  json_t *e = NULL;
  rsp_pki_template_init(&t, RSP_PKI_DP_TLS);
  t.san_dns = m->o->smdp_host;
  if (!new_party(m, &t, "smdp/tls", true, m->ci, m->ci_signer, NULL, NULL, &e)) return false;
  json_object_set_new(smdp, "tls", e);
  return true;
}

/* The SM-DS (SGP.22 §4.5.2.1): CERT.DSauth signs ES11's serverSigned1, CERT.DS.TLS serves ES11
 * and ES12 over HTTPS; both under the CI, as the SM-DP+'s. */
static bool add_smds(struct maker *m) {
  struct rsp_cert_template t;
  json_t *smds = json_object(), *e = NULL;
  json_object_set_new(m->root, "smds", smds);
  json_object_set_new(smds, "host", json_string(m->o->smds_host));
  rsp_pki_template_init(&t, RSP_PKI_DS_AUTH);
  if (!new_party(m, &t, "smds/auth", true, m->ci, m->ci_signer, NULL, NULL, &e)) return false;
  json_object_set_new(smds, "auth", e);
  rsp_pki_template_init(&t, RSP_PKI_DS_TLS);
  t.san_dns = m->o->smds_host;
  if (!new_party(m, &t, "smds/tls", true, m->ci, m->ci_signer, NULL, NULL, &e)) return false;
  json_object_set_new(smds, "tls", e);
  return true;
}

/* "eids" is filled from the "euicc" entries when the manifest is written, so the two lists
 * cannot disagree. */
static void manifest_head(struct maker *m, const char *source) {
  m->root = json_object();
  json_object_set_new(m->root, "format", json_string(MANIFEST_FORMAT));
  json_object_set_new(m->root, "source", json_string(source));
  json_object_set_new(m->root, "curve", json_string(rsp_curve_name(m->o->curve)));
  json_object_set_new(m->root, "ein", json_string(m->ein));
  json_object_set_new(m->root, "eids", json_array());
  /* Placeholders fix the key order; the parts replace them as they are written. */
  json_object_set_new(m->root, "ci", json_null());
  json_object_set_new(m->root, "eum", json_null());
  json_object_set_new(m->root, "euicc", json_null());
  json_object_set_new(m->root, "smdp", json_null());
  json_object_set_new(m->root, "smds", json_null());
  json_object_set_new(m->root, "eim", json_null());
}

static void manifest_eids(struct maker *m) {
  json_t *eids = json_object_get(m->root, "eids"), *list = json_object_get(m->root, "euicc");
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) json_array_append(eids, json_object_get(e, "eid"));
}

static bool write_manifest(struct maker *m) {
  char path[CLI_PATH_MAX];
  FILE *f;
  bool ok;
  if (!cli_join(path, sizeof(path), m->o->dir, "pki.json")) return false;
  manifest_eids(m);
  f = fopen(path, "w");
  if (!f) {
    cli_err("cannot write %s", path);
    return false;
  }
  ok = json_dumpf(m->root, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF;
  ok = fclose(f) == 0 && ok;
  if (!ok) cli_err("cannot write %s", path);
  if (ok && m->o->json) {
    json_dumpf(m->root, stdout, JSON_INDENT(2));
    putchar('\n');
  } else if (ok) {
    printf("manifest: %s\n", path);
  }
  return ok;
}

/* ---- create --------------------------------------------------------------------------------- */

static bool create_opts(struct cli_pki_opts *o) {
  char eid[RSP_EID_DIGITS + 1];
  if (!o->ein) o->ein = DEFAULT_EIN;
  if (!o->smdp_host) o->smdp_host = DEFAULT_HOST;
  if (!o->smds_host) o->smds_host = DEFAULT_HOST;
  if (!o->eim_host) o->eim_host = DEFAULT_HOST;
  if (!o->eim_id) o->eim_id = DEFAULT_EIM_ID;
  for (size_t i = 0; i < o->n_eids; i++)
    if (!cli_check_eid(o->eids[i], o->ein)) return false;
  if (!cli_expand_eid_range(o, o->ein)) return false;
  if (o->n_eids > 0) return true;
  /* One eUICC by default: the EIN, zeros, a final 1, and the check digits. */
  snprintf(eid, sizeof(eid), "%s%0*d00", o->ein, (int)(RSP_EID_DIGITS - 2 - strlen(o->ein)), 1);
  rsp_pki_eid_set_check_digits(eid);
  return cli_add_eid(o, eid);
}

static bool create_all(struct maker *m) {
  struct rsp_cert_template t;
  json_t *e = NULL, *list = json_array(), *smdp = json_object();
  static const struct {
    enum rsp_pki_profile profile;
    const char *rel, *key;
  } dp[] = {{RSP_PKI_DP_AUTH, "smdp/auth", "auth"}, {RSP_PKI_DP_PB, "smdp/pb", "pb"}};

  json_object_set_new(m->root, "euicc", list);
  json_object_set_new(m->root, "smdp", smdp);
  rsp_pki_template_init(&t, RSP_PKI_CI);
  if (!new_party(m, &t, "ci", true, NULL, NULL, &m->ci_signer, &m->ci, &e)) return false;
  json_object_set_new(m->root, "ci", e);
  rsp_pki_template_init(&t, RSP_PKI_EUM);
  t.permitted_ein = m->ein;
  if (!new_party(m, &t, "eum", false, m->ci, m->ci_signer, &m->eum_signer, &m->eum, &e))
    return false;
  json_object_set_new(m->root, "eum", e);
  for (size_t i = 0; i < m->o->n_eids; i++)
    if (!add_euicc(m, list, m->o->eids[i])) return false;
  json_object_set_new(smdp, "host", json_string(m->o->smdp_host));
  for (size_t i = 0; i < 2; i++) {
    rsp_pki_template_init(&t, dp[i].profile);
    if (!new_party(m, &t, dp[i].rel, true, m->ci, m->ci_signer, NULL, NULL, &e)) return false;
    json_object_set_new(smdp, dp[i].key, e);
  }
  return add_smdp_tls(m, smdp) && add_smds(m) && add_eim(m);
}

int cli_pki_create(struct cli_pki_opts *o) {
  struct maker m;
  bool ok;

  memset(&m, 0, sizeof(m));
  m.o = o;
  if (!create_opts(o)) return CLI_EXIT_USAGE;
  snprintf(m.ein, sizeof(m.ein), "%s", o->ein);
  if (!prepare_dir(o)) return CLI_EXIT_FAIL;
  if (!o->json)
    printf("creating test PKI in %s (curve %s, EIN %s, %zu eUICC%s)\n", o->dir,
           rsp_curve_name(o->curve), o->ein, o->n_eids, o->n_eids == 1 ? "" : "s");
  manifest_head(&m, "generated");
  ok = create_all(&m) && write_manifest(&m);
  maker_free(&m);
  return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ---- import-sgp26 ---------------------------------------------------------------------------- */

static bool sgp26_path(char *out, size_t size, const struct maker *m, const char *fmt) {
  char rel[256];
  snprintf(rel, sizeof(rel), fmt, m->o->curve == RSP_CURVE_NIST_P256 ? "NIST" : "BRP");
  return cli_join(out, size, m->o->from, rel);
}

/* The SGP.26 TLS certificate of the curve is the one whose key is SK_S_SM_DP_TLS_<curve>.pem;
 * the DPtls directory also holds certificates for other hosts and older ones. */
static bool find_sgp26_tls(const struct maker *m, const char *key_path, char *cert_path,
                           size_t size) {
  char dir[CLI_PATH_MAX];
  struct rsp_signer *s = NULL;
  uint8_t want[RSP_EC_POINT_LEN];
  bool found = false;
  DIR *d;
  struct dirent *e;

  if (rsp_signer_inproc_load(key_path, &s) != RSP_OK) return false;
  rsp_key_point(rsp_signer_public_key(s), want);
  if (!cli_join(dir, sizeof(dir), m->o->from, "DPtls") || !(d = opendir(dir))) goto out;
  while (!found && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    struct rsp_cert *c = NULL;
    struct rsp_key *k = NULL;
    uint8_t pt[RSP_EC_POINT_LEN];
    if (n < 4 || strcmp(e->d_name + n - 4, ".der") != 0) continue;
    if (!cli_join(cert_path, size, dir, e->d_name)) continue;
    if (rsp_cert_load_file(cert_path, &c) == RSP_OK && rsp_cert_public_key(c, &k) == RSP_OK &&
        rsp_key_point(k, pt) == RSP_OK && memcmp(pt, want, sizeof(pt)) == 0)
      found = true;
    rsp_key_free(k);
    rsp_cert_free(c);
  }
  closedir(d);
out:
  rsp_signer_destroy(s);
  if (!found) cli_err("no SGP.26 DPtls certificate matches %s", key_path);
  return found;
}

static bool import_ci_eum(struct maker *m) {
  char cert[CLI_PATH_MAX], key[CLI_PATH_MAX], pem[CLI_PATH_MAX], dst[CLI_PATH_MAX];
  json_t *e = NULL;
  rsp_err_t rc;

  if (!sgp26_path(cert, sizeof(cert), m, "CertificateIssuer/CERT_CI_ECDSA_%s.der") ||
      !sgp26_path(key, sizeof(key), m, "CertificateIssuer/SK_CI_ECDSA_%s.pem") ||
      !sgp26_path(pem, sizeof(pem), m, "CertificateIssuer/CERT_CI_ECDSA_%s.pem"))
    return false;
  if (!copy_party(m, "ci", "ci", cert, key, true, &m->ci, &e)) return false;
  json_object_set_new(m->root, "ci", e);
  /* SGP.26 ships the CI in PEM too: keep its file rather than a re-encoding. */
  if (cli_file_exists(pem) &&
      (!cli_join(dst, sizeof(dst), m->o->dir, "ci/cert.pem") || !cli_copy_file(pem, dst, false)))
    return false;
  if ((rc = rsp_signer_inproc_load(key, &m->ci_signer)) != RSP_OK) return fail_rc(key, rc);
  if (!sgp26_path(cert, sizeof(cert), m, "EUM/CERT_EUM_ECDSA_%s.der") ||
      !sgp26_path(key, sizeof(key), m, "EUM/SK_EUM_ECDSA_%s.pem"))
    return false;
  if (!copy_party(m, "eum", "eum", cert, key, false, &m->eum, &e)) return false;
  json_object_set_new(m->root, "eum", e);
  if ((rc = rsp_signer_inproc_load(key, &m->eum_signer)) != RSP_OK) return fail_rc(key, rc);
  rc = rsp_pki_eum_range(m->eum, m->ein, sizeof(m->ein), m->eum_org, sizeof(m->eum_org));
  if (rc != RSP_OK) return fail_rc("EUM nameConstraints", rc);
  json_object_set_new(m->root, "ein", json_string(m->ein));
  return true;
}

static bool import_euiccs(struct maker *m) {
  char cert[CLI_PATH_MAX], key[CLI_PATH_MAX], eid[RSP_EID_DIGITS + 1], rel[64];
  json_t *list = json_array(), *e = NULL;
  struct rsp_cert *c = NULL;
  bool ok;

  json_object_set_new(m->root, "euicc", list);
  if (!sgp26_path(cert, sizeof(cert), m, "eUICC/CERT_EUICC_ECDSA_%s.der") ||
      !sgp26_path(key, sizeof(key), m, "eUICC/SK_EUICC_ECDSA_%s.pem"))
    return false;
  if (rsp_cert_load_file(cert, &c) != RSP_OK || rsp_cert_subject_serial(c, eid, sizeof(eid))) {
    rsp_cert_free(c);
    cli_err("%s: no EID in the subject", cert);
    return false;
  }
  rsp_cert_free(c);
  snprintf(rel, sizeof(rel), "euicc/%s", eid);
  if (!copy_party(m, "euicc", rel, cert, key, false, NULL, &e)) return false;
  json_object_set_new(e, "eid", json_string(eid));
  json_array_append_new(list, e);
  ok = true;
  for (size_t i = 0; ok && i < m->o->n_eids; i++) {
    if (strcmp(m->o->eids[i], eid) == 0) continue; /* already the SGP.26 eUICC */
    ok = add_euicc(m, list, m->o->eids[i]);
  }
  return ok;
}

static bool import_smdp(struct maker *m) {
  char cert[CLI_PATH_MAX], key[CLI_PATH_MAX];
  json_t *smdp = json_object(), *e = NULL;

  json_object_set_new(m->root, "smdp", smdp);
  if (!sgp26_path(cert, sizeof(cert), m, "DPauth/CERT_S_SM_DPauth_ECDSA_%s.der") ||
      !sgp26_path(key, sizeof(key), m, "DPauth/SK_S_SM_DPauth_ECDSA_%s.pem") ||
      !copy_party(m, "dp-auth", "smdp/auth", cert, key, true, NULL, &e))
    return false;
  json_object_set_new(smdp, "auth", e);
  if (!sgp26_path(cert, sizeof(cert), m, "DPpb/CERT_S_SM_DPpb_ECDSA_%s.der") ||
      !sgp26_path(key, sizeof(key), m, "DPpb/SK_S_SM_DPpb_ECDSA_%s.pem") ||
      !copy_party(m, "dp-pb", "smdp/pb", cert, key, true, NULL, &e))
    return false;
  json_object_set_new(smdp, "pb", e);
  if (m->o->smdp_host) {
    json_object_set_new(smdp, "host", json_string(m->o->smdp_host));
    return add_smdp_tls(m, smdp);
  }
  /* SGP.26's own TLS certificate names testsmdpplus1.example.com; see the subject. */
  json_object_set_new(smdp, "host", json_null());
  if (!sgp26_path(key, sizeof(key), m, "DPtls/SK_S_SM_DP_TLS_%s.pem") ||
      !find_sgp26_tls(m, key, cert, sizeof(cert)) ||
      !copy_party(m, "dp-tls", "smdp/tls", cert, key, true, NULL, &e))
    return false;
  json_object_set_new(smdp, "tls", e);
  return true;
}

int cli_pki_import_sgp26(struct cli_pki_opts *o) {
  struct maker m;
  char repo[CLI_PATH_MAX];
  bool ok;

  memset(&m, 0, sizeof(m));
  m.o = o;
  if (!o->from) {
    cli_err("import-sgp26: --from SGP26_DIR is required");
    return CLI_EXIT_USAGE;
  }
  if (!o->eim_host) o->eim_host = DEFAULT_HOST;
  if (!o->smds_host) o->smds_host = DEFAULT_HOST;
  if (!o->eim_id) o->eim_id = DEFAULT_EIM_ID;
  if (cli_inside_git(o->dir, repo, sizeof(repo))) {
    cli_err("%s is inside the git work tree %s: SGP.26 keys must stay out of repositories", o->dir,
            repo);
    return CLI_EXIT_FAIL;
  }
  if (!prepare_dir(o)) return CLI_EXIT_FAIL;
  if (!o->json)
    printf("importing SGP.26 (%s) from %s into %s\n", rsp_curve_name(o->curve), o->from, o->dir);
  manifest_head(&m, "sgp26");
  json_object_set_new(m.root, "sgp26_dir", json_string(o->from));
  ok = import_ci_eum(&m);
  /* The range is checked against the EIN the SGP.26 EUM really permits. */
  ok = ok && cli_expand_eid_range(o, m.ein);
  /* SGP.26 has no SM-DS certificates: they are issued by its CI, as the eIM's */
  ok = ok && import_euiccs(&m) && import_smdp(&m) && add_smds(&m) && add_eim(&m) &&
       write_manifest(&m);
  maker_free(&m);
  return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
