/* Certificate issuing (lib/crypto/pki.c) checked by the chain code and, when the shared SGP.26
 * data is present, against the shape of the SGP.26 certificates. */
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/der/der.h"
#include "rsp/crypto/pki.h"
#include "rsp/crypto/signer.h"
#include "rsp/crypto/x509.h"
#include "test.h"

#define EIN "89049032"
#define EID_OK "89049032123451234512345678901235"
#define EID_OTHER_EIN "89049033123451234512345678901234"

/* One party of the PKI: its signer (which owns the private key) and its certificate. */
struct party {
  struct rsp_signer *signer;
  struct rsp_cert *cert;
};

struct pki {
  enum rsp_curve curve;
  struct party ci, eum, euicc, dp_auth, dp_pb, dp_tls, eim_sign, eim_tls;
  struct rsp_ci_store *cis;
};

static rsp_err_t new_signer(enum rsp_curve curve, struct rsp_signer **out) {
  struct rsp_key *key = NULL;
  rsp_err_t rc = rsp_key_generate(curve, &key);
  if (rc != RSP_OK) return rc;
  return rsp_signer_inproc_take_key(key, out); /* takes the key whatever the outcome */
}

static rsp_err_t issue(struct party *p, const struct rsp_cert_template *t, enum rsp_curve curve,
                       const struct party *issuer) {
  rsp_err_t rc = new_signer(curve, &p->signer);
  if (rc != RSP_OK) return rc;
  return rsp_pki_issue(t, rsp_signer_public_key(p->signer), issuer ? issuer->cert : NULL,
                       issuer ? issuer->signer : p->signer, &p->cert);
}

/* Issues into a throw-away party and returns the result; for the cases that must be refused. */
static rsp_err_t issue_refused(const struct rsp_cert_template *t, enum rsp_curve curve,
                               const struct party *issuer) {
  struct party p = {0};
  rsp_err_t rc = issue(&p, t, curve, issuer);
  rsp_cert_free(p.cert);
  rsp_signer_destroy(p.signer);
  return rc;
}

static void pki_free(struct pki *k) {
  struct party *all[] = {&k->ci,    &k->eum,    &k->euicc,    &k->dp_auth,
                         &k->dp_pb, &k->dp_tls, &k->eim_sign, &k->eim_tls};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    rsp_cert_free(all[i]->cert);
    rsp_signer_destroy(all[i]->signer);
  }
  rsp_ci_store_free(k->cis);
  memset(k, 0, sizeof(*k));
}

static void build(struct pki *k, enum rsp_curve curve) {
  struct rsp_cert_template t;
  struct rsp_cert *ci_copy = NULL;
  memset(k, 0, sizeof(*k));
  k->curve = curve;
  rsp_pki_template_init(&t, RSP_PKI_CI);
  CHECK_OK(issue(&k->ci, &t, curve, NULL));
  rsp_pki_template_init(&t, RSP_PKI_EUM);
  t.permitted_ein = EIN;
  CHECK_OK(issue(&k->eum, &t, curve, &k->ci));
  rsp_pki_template_init(&t, RSP_PKI_EUICC);
  t.eid = EID_OK;
  CHECK_OK(issue(&k->euicc, &t, curve, &k->eum));
  rsp_pki_template_init(&t, RSP_PKI_DP_AUTH);
  CHECK_OK(issue(&k->dp_auth, &t, curve, &k->ci));
  rsp_pki_template_init(&t, RSP_PKI_DP_PB);
  CHECK_OK(issue(&k->dp_pb, &t, curve, &k->ci));
  rsp_pki_template_init(&t, RSP_PKI_DP_TLS);
  t.san_dns = "localhost";
  CHECK_OK(issue(&k->dp_tls, &t, curve, &k->ci));
  rsp_pki_template_init(&t, RSP_PKI_EIM_SIGN);
  CHECK_OK(issue(&k->eim_sign, &t, curve, &k->ci));
  rsp_pki_template_init(&t, RSP_PKI_EIM_TLS);
  t.san_dns = "eim.example.test";
  CHECK_OK(issue(&k->eim_tls, &t, curve, &k->ci));
  CHECK_OK(rsp_ci_store_new(&k->cis));
  struct rsp_slice der = rsp_cert_der(k->ci.cert);
  CHECK_OK(rsp_cert_parse(der.p, der.len, &ci_copy));
  CHECK_OK(rsp_ci_store_add(k->cis, ci_copy));
}

static void verify_all(struct pki *k) {
  struct rsp_chain_result res;
  struct rsp_keyid ski;
  uint8_t eid[RSP_EID_LEN];
  struct rsp_chain_opts o;
  memset(&o, 0, sizeof(o));
  CHECK_OK(rsp_eid_from_string(EID_OK, eid));
  o.expected_eid = eid;
  CHECK_OK(rsp_cert_ski(k->ci.cert, &ski));
  o.ci_ski = ski.id;
  o.ci_ski_len = ski.len;
  CHECK_OK(rsp_x509_verify_euicc_chain(k->cis, k->eum.cert, k->euicc.cert, &o, &res));
  CHECK_EQ(res.depth, -1);
  CHECK_OK(rsp_x509_verify_server_cert(k->cis, k->dp_auth.cert, RSP_ROLE_DP_AUTH, &o, &res));
  CHECK_OK(rsp_x509_verify_server_cert(k->cis, k->dp_pb.cert, RSP_ROLE_DP_PB, &o, &res));
  CHECK_OK(rsp_x509_verify_server_cert(k->cis, k->dp_tls.cert, RSP_ROLE_DP_TLS, &o, &res));
  CHECK_ERR(rsp_x509_verify_server_cert(k->cis, k->dp_pb.cert, RSP_ROLE_DP_AUTH, &o, &res),
            RSP_E_CERT_POLICY);
  CHECK_OK(rsp_pki_verify_eim_cert(k->cis, k->eim_sign.cert, false, &o, &res));
  CHECK_OK(rsp_pki_verify_eim_cert(k->cis, k->eim_tls.cert, true, &o, &res));
  /* The signing certificate has no serverAuth, so it is no TLS certificate. */
  CHECK_ERR(rsp_pki_verify_eim_cert(k->cis, k->eim_sign.cert, true, &o, &res),
            RSP_E_CERT_CONSTRAINTS);
}

static void check_linkage(struct pki *k) {
  struct {
    const struct party *child, *parent;
  } links[] = {{&k->eum, &k->ci},     {&k->euicc, &k->eum}, {&k->dp_auth, &k->ci},
               {&k->dp_pb, &k->ci},   {&k->dp_tls, &k->ci}, {&k->eim_sign, &k->ci},
               {&k->eim_tls, &k->ci}, {&k->ci, NULL}};
  for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
    struct rsp_keyid ski, aki, kid, parent_ski;
    CHECK_OK(rsp_cert_ski(links[i].child->cert, &ski));
    CHECK_OK(rsp_pki_key_id(rsp_signer_public_key(links[i].child->signer), &kid));
    CHECK_EQ(ski.len, 20);
    CHECK_MEM(ski.id, kid.id, 20);
    if (!links[i].parent) {
      CHECK_ERR(rsp_cert_aki(links[i].child->cert, &aki), RSP_E_NOT_FOUND);
      continue;
    }
    CHECK_OK(rsp_cert_aki(links[i].child->cert, &aki));
    CHECK_OK(rsp_cert_ski(links[i].parent->cert, &parent_ski));
    CHECK_EQ(aki.len, parent_ski.len);
    CHECK_MEM(aki.id, parent_ski.id, aki.len);
  }
}

static void check_fields(struct pki *k) {
  char buf[128];
  int64_t nb = 0, na = 0;
  CHECK_EQ(rsp_cert_role(k->ci.cert), RSP_ROLE_CI);
  CHECK_EQ(rsp_cert_role(k->eum.cert), RSP_ROLE_EUM);
  CHECK_EQ(rsp_cert_role(k->euicc.cert), RSP_ROLE_EUICC);
  CHECK_EQ(rsp_cert_role(k->dp_tls.cert), RSP_ROLE_DP_TLS);
  CHECK_EQ(rsp_cert_role(k->eim_sign.cert), RSP_ROLE_UNKNOWN);
  CHECK_EQ(rsp_cert_curve(k->euicc.cert), k->curve);
  CHECK_OK(rsp_cert_subject_serial(k->euicc.cert, buf, sizeof(buf)));
  CHECK_STR(buf, EID_OK);
  CHECK_OK(rsp_cert_validity(k->euicc.cert, &nb, &na));
  CHECK_EQ(na, RSP_PKI_NO_EXPIRY);
  CHECK_OK(rsp_cert_subject_string(k->dp_tls.cert, buf, sizeof(buf)));
  CHECK_STR(buf, "O=OPENRSP, CN=localhost");
  char org[64];
  CHECK_OK(rsp_pki_eum_range(k->eum.cert, buf, sizeof(buf), org, sizeof(org)));
  CHECK_STR(buf, EIN);
  CHECK_STR(org, "openrsp Test EUM");
}

static void test_full_pki(void) {
  enum rsp_curve curves[] = {RSP_CURVE_NIST_P256, RSP_CURVE_BRAINPOOL_P256R1};
  for (size_t i = 0; i < 2; i++) {
    struct pki k;
    build(&k, curves[i]);
    if (k.cis && k.eim_tls.cert) {
      verify_all(&k);
      check_linkage(&k);
      check_fields(&k);
    }
    pki_free(&k);
  }
}

/* The issuer side refuses what the chain code would reject. With `unchecked` the certificate is
 * built anyway and then the chain code must catch it. */
static void test_refusals(void) {
  struct pki k;
  struct party p = {0}, other = {0};
  struct rsp_cert_template t;
  struct rsp_chain_result res;
  build(&k, RSP_CURVE_NIST_P256);
  rsp_pki_template_init(&t, RSP_PKI_EUICC);
  t.eid = EID_OTHER_EIN;
  CHECK_ERR(issue_refused(&t, RSP_CURVE_NIST_P256, &k.eum), RSP_E_CERT_EID_OUT_OF_RANGE);
  t.eid = EID_OK;
  t.org = "Another EUM"; /* the permitted O is "openrsp Test EUM" */
  CHECK_ERR(issue_refused(&t, RSP_CURVE_NIST_P256, &k.eum), RSP_E_CERT_EID_OUT_OF_RANGE);
  t.eid = "8904903212345";
  CHECK_ERR(issue_refused(&t, RSP_CURVE_NIST_P256, &k.eum), RSP_E_INVALID_ARG);
  /* Out of range but issued on purpose: the chain must say EID_OUT_OF_RANGE. */
  rsp_pki_template_init(&t, RSP_PKI_EUICC);
  t.eid = EID_OTHER_EIN;
  t.unchecked = true;
  CHECK_OK(issue(&p, &t, RSP_CURVE_NIST_P256, &k.eum));
  CHECK_ERR(rsp_x509_verify_euicc_chain(k.cis, k.eum.cert, p.cert, NULL, &res),
            RSP_E_CERT_EID_OUT_OF_RANGE);
  CHECK_EQ(res.depth, 0);
  rsp_cert_free(p.cert);
  rsp_signer_destroy(p.signer);
  memset(&p, 0, sizeof(p));
  /* An eUICC certificate straight from the CI: wrong issuer role. */
  t.unchecked = false;
  t.eid = EID_OK;
  CHECK_ERR(issue_refused(&t, RSP_CURVE_NIST_P256, &k.ci), RSP_E_CERT_POLICY);
  /* Curves do not mix within a chain. */
  CHECK_ERR(issue_refused(&t, RSP_CURVE_BRAINPOOL_P256R1, &k.eum), RSP_E_INVALID_ARG);
  /* A signer that does not hold the issuer's key. */
  CHECK_OK(new_signer(RSP_CURVE_NIST_P256, &other.signer));
  other.cert = k.eum.cert;
  CHECK_ERR(issue_refused(&t, RSP_CURVE_NIST_P256, &other), RSP_E_INVALID_ARG);
  rsp_signer_destroy(other.signer);
  /* TLS needs a DNS name, and a clean one. */
  rsp_pki_template_init(&t, RSP_PKI_DP_TLS);
  CHECK_ERR(issue_refused(&t, RSP_CURVE_NIST_P256, &k.ci), RSP_E_INVALID_ARG);
  t.san_dns = "host, DNS:evil.example";
  CHECK_ERR(issue_refused(&t, RSP_CURVE_NIST_P256, &k.ci), RSP_E_INVALID_ARG);
  pki_free(&k);
}

/* A chain from another CI, a foreign eUICC, and a CI used as an EUM are refused. */
static void test_cross_pki(void) {
  struct pki a, b;
  struct rsp_chain_result res;
  build(&a, RSP_CURVE_NIST_P256);
  build(&b, RSP_CURVE_NIST_P256);
  CHECK_ERR(rsp_x509_verify_euicc_chain(a.cis, b.eum.cert, b.euicc.cert, NULL, &res),
            RSP_E_CERT_UNKNOWN_CI);
  CHECK_ERR(rsp_x509_verify_euicc_chain(a.cis, a.eum.cert, b.euicc.cert, NULL, &res),
            RSP_E_CERT_SIG_INVALID);
  CHECK_EQ(res.depth, 0);
  /* The CI posing as an EUM has no AKI (SGP.22 makes it mandatory below the CI). */
  CHECK_ERR(rsp_x509_verify_euicc_chain(a.cis, a.ci.cert, a.eum.cert, NULL, &res),
            RSP_E_CERT_ISSUER_MISMATCH);
  CHECK_EQ(res.depth, 1);
  CHECK_ERR(rsp_x509_verify_server_cert(a.cis, b.dp_auth.cert, RSP_ROLE_DP_AUTH, NULL, &res),
            RSP_E_CERT_UNKNOWN_CI);
  pki_free(&a);
  pki_free(&b);
}

static void test_eid_check_digits(void) {
  char eid[RSP_EID_DIGITS + 1] = "890490321234512345123456789012xx";
  CHECK(rsp_pki_eid_check_ok(EID_OK));
  CHECK(!rsp_pki_eid_check_ok("89049032123451234512345678901234"));
  CHECK(!rsp_pki_eid_check_ok("8904903212345123451234567890123"));
  CHECK(!rsp_pki_eid_check_ok("8904903212345123451234567890123a"));
  CHECK_OK(rsp_pki_eid_set_check_digits(eid));
  CHECK_STR(eid, EID_OK);
  /* Check digits below 10 keep their leading zero. */
  for (int i = 0; i < 200; i++) {
    snprintf(eid, sizeof(eid), "89049032000000000000000000%04d", i);
    CHECK_OK(rsp_pki_eid_set_check_digits(eid));
    CHECK(rsp_pki_eid_check_ok(eid));
  }
  memcpy(eid, "8904903200000000000000000000x0", 30);
  CHECK_ERR(rsp_pki_eid_set_check_digits(eid), RSP_E_INVALID_ARG);
}

static void test_write_reload(void) {
  struct pki k;
  const char *dir = rsp_test_tmpdir("pki");
  char der_path[4200], pem_path[4200];
  struct rsp_cert *a = NULL, *b = NULL;
  build(&k, RSP_CURVE_BRAINPOOL_P256R1);
  snprintf(der_path, sizeof(der_path), "%s/cert.der", dir);
  snprintf(pem_path, sizeof(pem_path), "%s/cert.pem", dir);
  CHECK_OK(rsp_pki_cert_write(k.eum.cert, der_path, false));
  CHECK_OK(rsp_pki_cert_write(k.eum.cert, pem_path, true));
  CHECK_OK(rsp_cert_load_file(der_path, &a));
  CHECK_OK(rsp_cert_load_file(pem_path, &b));
  if (a && b) {
    CHECK_EQ(rsp_cert_der(a).len, rsp_cert_der(k.eum.cert).len);
    CHECK_MEM(rsp_cert_der(a).p, rsp_cert_der(k.eum.cert).p, rsp_cert_der(a).len);
    CHECK_MEM(rsp_cert_der(b).p, rsp_cert_der(k.eum.cert).p, rsp_cert_der(a).len);
  }
  CHECK_ERR(rsp_pki_cert_write(k.eum.cert, "/nonexistent/dir/x.der", false), RSP_E_IO);
  remove(der_path);
  remove(pem_path);
  remove(dir);
  rsp_cert_free(a);
  rsp_cert_free(b);
  pki_free(&k);
}

/* ---- shape against SGP.26 ------------------------------------------------------------------ */

/* "oid[!]" per extension, in order ("!" = critical), from the DER with our own reader. */
static void ext_shape(struct rsp_slice der, char *out, size_t out_size) {
  struct rsp_der_tlv cert, tbs, el, exts, ext, f;
  const uint8_t *p, *end, *q, *qend, *r, *rend;
  out[0] = 0;
  if (rsp_der_parse_one(der.p, der.len, &cert) != RSP_OK) return;
  rsp_der_children(&cert, &p, &end);
  if (rsp_der_read_tlv(&p, end, &tbs) != RSP_OK) return;
  rsp_der_children(&tbs, &p, &end);
  while (rsp_der_read_tlv(&p, end, &el) == RSP_OK && el.tag != 0xA3u) {
  }
  if (el.tag != 0xA3u) return;
  rsp_der_children(&el, &q, &qend);
  if (rsp_der_read_tlv(&q, qend, &exts) != RSP_OK) return;
  rsp_der_children(&exts, &q, &qend);
  while (rsp_der_read_tlv(&q, qend, &ext) == RSP_OK) {
    char oid[64];
    bool crit = false;
    rsp_der_children(&ext, &r, &rend);
    if (rsp_der_read_tlv(&r, rend, &f) != RSP_OK || rsp_der_get_oid(&f, oid, sizeof(oid))) return;
    if (rsp_der_read_tlv(&r, rend, &f) == RSP_OK && f.tag == RSP_DER_BOOLEAN)
      rsp_der_get_bool(&f, &crit);
    size_t n = strlen(out);
    snprintf(out + n, out_size - n, "%s%s ", oid, crit ? "!" : "");
  }
}

static void check_shape(const struct rsp_cert *mine, const char *rel) {
  const char *path = rsp_test_shared_path(rel);
  struct rsp_cert *ref = NULL;
  char a[512], b[512];
  if (!path) {
    rsp_test_skip("shared SGP.26 data absent (shape checks)");
    return;
  }
  CHECK_OK(rsp_cert_load_file(path, &ref));
  if (!ref) return;
  ext_shape(rsp_cert_der(mine), a, sizeof(a));
  ext_shape(rsp_cert_der(ref), b, sizeof(b));
  if (strcmp(a, b) != 0) printf("  mine %s\n  ref  %s\n", a, b);
  CHECK_STR(a, b);
  CHECK(a[0] != 0);
  rsp_cert_free(ref);
}

static void test_sgp26_shape(void) {
  struct pki k;
  build(&k, RSP_CURVE_NIST_P256);
  check_shape(k.ci.cert, "sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der");
  check_shape(k.eum.cert, "sgp26/EUM/CERT_EUM_ECDSA_NIST.der");
  check_shape(k.euicc.cert, "sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der");
  check_shape(k.dp_auth.cert, "sgp26/DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der");
  check_shape(k.dp_pb.cert, "sgp26/DPpb/CERT_S_SM_DPpb_ECDSA_NIST.der");
  check_shape(k.dp_tls.cert, "sgp26/DPtls/CERT_S_SM_DP_VARO_TLS_NIST.der");
  pki_free(&k);
}

/* Every allocation failure in issuing is reported, not crashed on, and leaks nothing (ASan). */
static void test_alloc_failures(void) {
  struct pki k;
  struct rsp_cert_template t;
  struct rsp_key *key = NULL;
  build(&k, RSP_CURVE_NIST_P256);
  CHECK_OK(rsp_key_generate(RSP_CURVE_NIST_P256, &key));
  rsp_pki_template_init(&t, RSP_PKI_EUICC);
  t.eid = EID_OK;
  for (long n = 0; n < 1000; n++) {
    struct rsp_cert *c = NULL;
    rsp_test_alloc_fail_after(n);
    rsp_err_t rc = rsp_pki_issue(&t, key, k.eum.cert, k.eum.signer, &c);
    rsp_test_alloc_fail_after(-1);
    if (rc == RSP_OK) {
      CHECK(c != NULL);
      rsp_cert_free(c);
      break;
    }
    CHECK(c == NULL);
  }
  rsp_key_free(key);
  pki_free(&k);
}

RSP_TESTS(T(test_full_pki), T(test_refusals), T(test_cross_pki), T(test_eid_check_digits),
          T(test_write_reload), T(test_sgp26_shape), T(test_alloc_failures))
