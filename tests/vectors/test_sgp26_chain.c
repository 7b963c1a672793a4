/* The GSMA SGP.26 test PKI against the RSP chain rules (lib/crypto/chain.c).
 *
 * The certificates are read in place from the shared reference data; the test
 * is skipped (exit 77) when that data is absent. Times are fixed so the result
 * does not depend on the day the test runs: several SGP.26 TLS certificates
 * have short lives.
 */
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/crypto/pki.h"
#include "rsp/crypto/x509.h"
#include "test.h"

#define SGP26_EID "89049032123451234512345678901235"
#define T_2026_09_01 INT64_C(1788220800)
#define T_2025_01_01 INT64_C(1735689600)
#define T_EUICC_NOT_BEFORE INT64_C(1585734538) /* 2020-04-01T09:48:58Z */

static const uint8_t nist_ci_ski[] = {0xF5, 0x41, 0x72, 0xBD, 0xF9, 0x8A, 0x95, 0xD6, 0x5C, 0xBE,
                                      0xB8, 0x8A, 0x38, 0xA1, 0xC1, 0x1D, 0x80, 0x0A, 0x85, 0xC3};
static const uint8_t nist_eum_ski[] = {0xDD, 0x3D, 0xA2, 0x4D, 0x35, 0x0C, 0x1C, 0xC5, 0xD0, 0xAF,
                                       0x09, 0x65, 0xF4, 0x0E, 0xC3, 0x4C, 0x5E, 0xE4, 0x09, 0xF1};
static const uint8_t nist_euicc_ski[] = {0xA5, 0x24, 0x76, 0xAF, 0x5D, 0x50, 0xAA,
                                         0x37, 0x64, 0x37, 0xCC, 0xB1, 0xDA, 0x21,
                                         0x72, 0xEF, 0x45, 0xF4, 0x84, 0xF0};

/* NULL (and the whole test marked skipped) when the shared data is absent. */
static struct rsp_cert *load(const char *rel) {
  const char *path = rsp_test_shared_path(rel);
  struct rsp_cert *cert = NULL;
  if (!path) {
    rsp_test_skip("shared SGP.26 data absent");
    return NULL;
  }
  CHECK_OK(rsp_cert_load_file(path, &cert));
  return cert;
}

static struct rsp_ci_store *store_both(void) {
  struct rsp_ci_store *cis = NULL;
  const char *nist = rsp_test_shared_path("sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.der");
  if (!nist) {
    rsp_test_skip("shared SGP.26 data absent");
    return NULL;
  }
  CHECK_OK(rsp_ci_store_new(&cis));
  CHECK_OK(rsp_ci_store_add_file(cis, nist));
  CHECK_OK(rsp_ci_store_add_file(
      cis, rsp_test_shared_path("sgp26/CertificateIssuer/CERT_CI_ECDSA_BRP.pem")));
  return cis;
}

static struct rsp_chain_opts opts_at(int64_t now) {
  struct rsp_chain_opts o;
  memset(&o, 0, sizeof(o));
  o.now = now;
  return o;
}

static void test_accessors(void) {
  struct rsp_cert *c = load("sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der");
  struct rsp_keyid id;
  char buf[160];
  int64_t nb = 0, na = 0;
  size_t len = 0;
  uint8_t *raw;
  if (!c) return;
  CHECK_EQ(rsp_cert_role(c), RSP_ROLE_EUICC);
  CHECK_EQ(rsp_cert_curve(c), RSP_CURVE_NIST_P256);
  CHECK_OK(rsp_cert_subject_serial(c, buf, sizeof(buf)));
  CHECK_STR(buf, SGP26_EID);
  CHECK_ERR(rsp_cert_subject_serial(c, buf, 10), RSP_E_BUF_SMALL);
  CHECK_OK(rsp_cert_ski(c, &id));
  CHECK_EQ(id.len, 20);
  CHECK_MEM(id.id, nist_euicc_ski, 20);
  CHECK_OK(rsp_cert_aki(c, &id));
  CHECK_MEM(id.id, nist_eum_ski, 20);
  CHECK_OK(rsp_cert_validity(c, &nb, &na));
  CHECK_EQ(nb, T_EUICC_NOT_BEFORE);
  CHECK(na > INT64_C(170000000000)); /* year 7496 */
  CHECK_OK(rsp_cert_subject_string(c, buf, sizeof(buf)));
  CHECK_STR(buf, "C=ES, O=RSP Test EUM, serialNumber=" SGP26_EID ", CN=Test eUICC");
  CHECK_ERR(rsp_cert_subject_string(c, buf, 8), RSP_E_BUF_SMALL);
  CHECK_EQ(strlen(buf), 7);
  raw = rsp_test_read_file(rsp_test_shared_path("sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der"), &len);
  CHECK(raw && rsp_cert_der(c).len == len && memcmp(rsp_cert_der(c).p, raw, len) == 0);
  rsp_free(raw);
  rsp_cert_free(c);
}

static void test_pem_and_keys(void) {
  struct rsp_cert *pem = load("sgp26/CertificateIssuer/CERT_CI_ECDSA_BRP.pem");
  struct rsp_cert *der = load("sgp26/CertificateIssuer/CERT_CI_ECDSA_BRP.der");
  struct rsp_key *key = NULL;
  struct rsp_keyid ski, kid;
  if (!pem || !der) goto out;
  CHECK_EQ(rsp_cert_der(pem).len, rsp_cert_der(der).len);
  CHECK_MEM(rsp_cert_der(pem).p, rsp_cert_der(der).p, rsp_cert_der(der).len);
  CHECK_EQ(rsp_cert_role(pem), RSP_ROLE_CI);
  CHECK_EQ(rsp_cert_curve(pem), RSP_CURVE_BRAINPOOL_P256R1);
  CHECK_ERR(rsp_cert_aki(pem, &ski), RSP_E_NOT_FOUND);
  /* SGP.26 SKIs are RFC 5280 method 1 identifiers, which rsp_pki_key_id computes. */
  CHECK_OK(rsp_cert_public_key(pem, &key));
  CHECK_OK(rsp_cert_ski(pem, &ski));
  CHECK_OK(rsp_pki_key_id(key, &kid));
  CHECK_EQ(kid.len, ski.len);
  CHECK_MEM(kid.id, ski.id, ski.len);
  CHECK_OK(rsp_cert_verify_signature(der, pem));
out:
  rsp_key_free(key);
  rsp_cert_free(pem);
  rsp_cert_free(der);
}

/* Strict DER: every truncated prefix and any trailing byte is refused. */
static void test_parse_strict(void) {
  size_t len = 0;
  const char *path = rsp_test_shared_path("sgp26/EUM/CERT_EUM_ECDSA_NIST.der");
  uint8_t *raw = path ? rsp_test_read_file(path, &len) : NULL;
  struct rsp_cert *c = NULL;
  if (!raw) {
    rsp_test_skip("shared SGP.26 data absent");
    return;
  }
  for (size_t n = 0; n < len; n++) {
    CHECK_ERR(rsp_cert_parse(raw, n, &c), RSP_E_CERT_PARSE);
    CHECK(c == NULL);
  }
  uint8_t *longer = rsp_malloc(len + 1);
  memcpy(longer, raw, len);
  longer[len] = 0;
  CHECK_ERR(rsp_cert_parse(longer, len + 1, &c), RSP_E_CERT_PARSE);
  CHECK_OK(rsp_cert_parse(longer, len, &c));
  rsp_cert_free(c);
  rsp_free(longer);
  rsp_free(raw);
}

static void test_ci_store(void) {
  struct rsp_ci_store *cis = store_both();
  struct rsp_cert *unknown = load("sgp26/InvalidTestCases/CERT_UNKNOWN_CI_ECDSA_NIST.der");
  struct rsp_cert *eum = load("sgp26/EUM/CERT_EUM_ECDSA_NIST.der");
  if (!cis || !unknown || !eum) goto out;
  CHECK_EQ(rsp_ci_store_count(cis), 2);
  CHECK(rsp_ci_store_find(cis, nist_ci_ski, sizeof(nist_ci_ski)) == rsp_ci_store_get(cis, 0));
  CHECK(rsp_ci_store_find(cis, nist_eum_ski, sizeof(nist_eum_ski)) == NULL);
  CHECK_ERR(rsp_ci_store_add_file(
                cis, rsp_test_shared_path("sgp26/CertificateIssuer/CERT_CI_ECDSA_NIST.pem")),
            RSP_E_EXISTS);
  /* Neither a certificate without the CI role policy nor an EUM can anchor chains. */
  CHECK_ERR(rsp_ci_store_add(cis, unknown), RSP_E_CERT_POLICY);
  CHECK_ERR(rsp_ci_store_add(cis, eum), RSP_E_CERT_POLICY);
  CHECK_EQ(rsp_ci_store_count(cis), 2);
out:
  rsp_cert_free(unknown);
  rsp_cert_free(eum);
  rsp_ci_store_free(cis);
}

static void check_good_chain(const char *eum_rel, const char *euicc_rel, const uint8_t *ci_ski) {
  struct rsp_ci_store *cis = store_both();
  struct rsp_cert *eum = load(eum_rel), *euicc = load(euicc_rel);
  struct rsp_chain_opts o = opts_at(T_2026_09_01);
  struct rsp_chain_result res;
  uint8_t eid[RSP_EID_LEN];
  if (!cis || !eum || !euicc) goto out;
  CHECK_OK(rsp_eid_from_string(SGP26_EID, eid));
  CHECK_OK(rsp_x509_verify_euicc_chain(cis, eum, euicc, &o, &res));
  CHECK_EQ(res.depth, -1);
  CHECK(strstr(res.detail, SGP26_EID) != NULL);
  o.expected_eid = eid;
  CHECK_OK(rsp_x509_verify_euicc_chain(cis, eum, euicc, &o, &res));
  if (ci_ski) {
    o.ci_ski = ci_ski;
    o.ci_ski_len = 20;
    CHECK_OK(rsp_x509_verify_euicc_chain(cis, eum, euicc, &o, &res));
  }
  o.now = 0; /* today */
  CHECK_OK(rsp_x509_verify_euicc_chain(cis, eum, euicc, &o, NULL));
  CHECK_OK(rsp_x509_eid_in_eum_range(eum, eid));
  CHECK(rsp_pki_eid_check_ok(SGP26_EID));
out:
  rsp_cert_free(eum);
  rsp_cert_free(euicc);
  rsp_ci_store_free(cis);
}

static void test_nist_chain(void) {
  check_good_chain("sgp26/EUM/CERT_EUM_ECDSA_NIST.der", "sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der",
                   nist_ci_ski);
}

static void test_brp_chain(void) {
  check_good_chain("sgp26/EUM/CERT_EUM_ECDSA_BRP.der", "sgp26/eUICC/CERT_EUICC_ECDSA_BRP.der",
                   NULL);
}

struct bad_case {
  const char *eum;   /* relative to sgp26/ */
  const char *euicc; /* relative to sgp26/ */
  bool with_ci_ski;  /* pass the NIST CI as euiccCiPKIdToBeUsed */
  rsp_err_t want;
  int depth;
};

#define EUM_N "EUM/CERT_EUM_ECDSA_NIST.der"
#define EUICC_N "eUICC/CERT_EUICC_ECDSA_NIST.der"
#define INV "InvalidTestCases/"

static const struct bad_case bad_cases[] = {
    {EUM_N, INV "CERT_EUICC_ECDSA_NIST_EXPIRED.der", false, RSP_E_CERT_EXPIRED, 0},
    {EUM_N, INV "CERT_EUICC_ECDSA_NIST_INVALID.der", false, RSP_E_CERT_SIG_INVALID, 0},
    {EUM_N, INV "CERT_EUICC_ECDSA_NIST_INVALID_EID.der", false, RSP_E_CERT_EID_OUT_OF_RANGE, 0},
    {EUM_N, INV "CERT_EUICC_ECDSA_NIST_UNMATCHED_EID.der", false, RSP_E_CERT_EID_MISMATCH, 0},
    {INV "CERT_EUM_ECDSA_NIST_EXPIRED.der", EUICC_N, false, RSP_E_CERT_EXPIRED, 1},
    {INV "CERT_EUM_ECDSA_NIST_INVALID.der", EUICC_N, false, RSP_E_CERT_SIG_INVALID, 1},
    {INV "CERT_EUM_ECDSA_NIST_INVALID.der", EUICC_N, true, RSP_E_CERT_SIG_INVALID, 1},
    {INV "CERT_EUM_ECDSA_NIST_UNKNOWN_CI.der", EUICC_N, false, RSP_E_CERT_UNKNOWN_CI, 2},
    {INV "CERT_EUM_ECDSA_NIST_UNKNOWN_CI.der", EUICC_N, true, RSP_E_CERT_UNKNOWN_CI, 2},
    /* The BRP eUICC under the NIST EUM: the signature cannot verify. */
    {EUM_N, "eUICC/CERT_EUICC_ECDSA_BRP.der", false, RSP_E_CERT_SIG_INVALID, 0},
};

static void run_bad_case(const struct bad_case *bc) {
  struct rsp_ci_store *cis = store_both();
  char eum_rel[128], euicc_rel[128];
  struct rsp_cert *eum, *euicc;
  struct rsp_chain_opts o = opts_at(T_2026_09_01);
  struct rsp_chain_result res;
  uint8_t eid[RSP_EID_LEN];
  rsp_err_t rc;

  snprintf(eum_rel, sizeof(eum_rel), "sgp26/%s", bc->eum);
  snprintf(euicc_rel, sizeof(euicc_rel), "sgp26/%s", bc->euicc);
  eum = load(eum_rel);
  euicc = load(euicc_rel);
  if (!cis || !eum || !euicc) goto out;
  CHECK_OK(rsp_eid_from_string(SGP26_EID, eid));
  o.expected_eid = eid;
  if (bc->with_ci_ski) {
    o.ci_ski = nist_ci_ski;
    o.ci_ski_len = sizeof(nist_ci_ski);
  }
  rc = rsp_x509_verify_euicc_chain(cis, eum, euicc, &o, &res);
  printf("  %s + %s -> %s depth %d: %s\n", bc->eum, bc->euicc, rsp_err_name(rc), res.depth,
         res.detail);
  CHECK_ERR(rc, bc->want);
  CHECK_EQ(res.depth, bc->depth);
  CHECK(res.detail[0] != 0);
out:
  rsp_cert_free(eum);
  rsp_cert_free(euicc);
  rsp_ci_store_free(cis);
}

static void test_invalid_cases(void) {
  for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) run_bad_case(&bad_cases[i]);
}

/* Time is the only fault of the expired certificates: with ignore_time they verify. The
 * unmatched EID is in range, so without an expected EID it verifies too. */
static void test_only_fault(void) {
  struct rsp_ci_store *cis = store_both();
  struct rsp_cert *eum = load("sgp26/" EUM_N);
  struct rsp_cert *expired = load("sgp26/" INV "CERT_EUICC_ECDSA_NIST_EXPIRED.der");
  struct rsp_cert *unmatched = load("sgp26/" INV "CERT_EUICC_ECDSA_NIST_UNMATCHED_EID.der");
  struct rsp_chain_opts o = opts_at(T_2026_09_01);
  struct rsp_chain_result res;
  if (!cis || !eum || !expired || !unmatched) goto out;
  CHECK_OK(rsp_x509_verify_euicc_chain(cis, eum, unmatched, &o, &res));
  o.ignore_time = true;
  CHECK_OK(rsp_x509_verify_euicc_chain(cis, eum, expired, &o, &res));
  o.ignore_time = false;
  o.now = INT64_C(1262304000) + 1000; /* 2010: the eUICC was valid then, but not the CI */
  CHECK_ERR(rsp_x509_verify_euicc_chain(cis, eum, expired, &o, &res), RSP_E_CERT_NOT_YET_VALID);
  CHECK_EQ(res.depth, 2);
out:
  rsp_cert_free(eum);
  rsp_cert_free(expired);
  rsp_cert_free(unmatched);
  rsp_ci_store_free(cis);
}

/* CERT_UNKNOWN_CI has no SKI extension; its method 1 key identifier is what the UNKNOWN_CI EUM
 * names as AKI. Used as euiccCiPKIdToBeUsed it names a CI the store does not hold. */
static void test_unknown_ci(void) {
  struct rsp_ci_store *cis = store_both(), *only_unknown = NULL;
  struct rsp_cert *unknown = load("sgp26/" INV "CERT_UNKNOWN_CI_ECDSA_NIST.der");
  struct rsp_cert *eum_u = load("sgp26/" INV "CERT_EUM_ECDSA_NIST_UNKNOWN_CI.der");
  struct rsp_cert *eum = load("sgp26/" EUM_N), *euicc = load("sgp26/" EUICC_N);
  struct rsp_key *key = NULL;
  struct rsp_keyid kid, aki;
  struct rsp_chain_opts o = opts_at(T_2026_09_01);
  struct rsp_chain_result res;
  if (!cis || !unknown || !eum_u || !eum || !euicc) goto out;
  CHECK_ERR(rsp_cert_ski(unknown, &kid), RSP_E_NOT_FOUND);
  CHECK_OK(rsp_cert_public_key(unknown, &key));
  CHECK_OK(rsp_pki_key_id(key, &kid));
  CHECK_OK(rsp_cert_aki(eum_u, &aki));
  CHECK_EQ(aki.len, kid.len);
  CHECK_MEM(aki.id, kid.id, kid.len);
  CHECK_OK(rsp_cert_verify_signature(eum_u, unknown));
  o.ci_ski = kid.id;
  o.ci_ski_len = kid.len;
  CHECK_ERR(rsp_x509_verify_euicc_chain(cis, eum, euicc, &o, &res), RSP_E_CERT_UNKNOWN_CI);
  CHECK_EQ(res.depth, 2);
  CHECK_ERR(rsp_x509_verify_euicc_chain(cis, eum_u, euicc, &o, &res), RSP_E_CERT_UNKNOWN_CI);
  /* An empty store trusts nothing. */
  CHECK_OK(rsp_ci_store_new(&only_unknown));
  CHECK_ERR(rsp_x509_verify_euicc_chain(only_unknown, eum, euicc, NULL, &res),
            RSP_E_CERT_UNKNOWN_CI);
out:
  rsp_key_free(key);
  rsp_cert_free(unknown);
  rsp_cert_free(eum_u);
  rsp_cert_free(eum);
  rsp_cert_free(euicc);
  rsp_ci_store_free(cis);
  rsp_ci_store_free(only_unknown);
}

static void test_eid_range_api(void) {
  struct rsp_cert *eum = load("sgp26/" EUM_N);
  struct rsp_cert *euicc = load("sgp26/" EUICC_N);
  uint8_t eid[RSP_EID_LEN];
  char ein[RSP_EID_DIGITS + 1], org[64];
  if (!eum || !euicc) goto out;
  CHECK_OK(rsp_pki_eum_range(eum, ein, sizeof(ein), org, sizeof(org)));
  CHECK_STR(ein, "89049032");
  CHECK_STR(org, "RSP Test EUM");
  CHECK_ERR(rsp_pki_eum_range(eum, ein, 4, NULL, 0), RSP_E_BUF_SMALL);
  CHECK_ERR(rsp_pki_eum_range(euicc, ein, sizeof(ein), NULL, 0), RSP_E_NOT_FOUND);
  CHECK_OK(rsp_eid_from_string("89049032000000000000000000000000", eid));
  CHECK_OK(rsp_x509_eid_in_eum_range(eum, eid));
  CHECK_OK(rsp_eid_from_string("89049033123451234512345678901234", eid));
  CHECK_ERR(rsp_x509_eid_in_eum_range(eum, eid), RSP_E_CERT_EID_OUT_OF_RANGE);
  CHECK_OK(rsp_eid_from_string("89049030123451234512345678901234", eid));
  CHECK_ERR(rsp_x509_eid_in_eum_range(eum, eid), RSP_E_CERT_EID_OUT_OF_RANGE);
  /* An "EUM" without nameConstraints permits no EID at all. */
  CHECK_OK(rsp_eid_from_string(SGP26_EID, eid));
  CHECK_ERR(rsp_x509_eid_in_eum_range(euicc, eid), RSP_E_CERT_EID_OUT_OF_RANGE);
  memset(eid, 0xAB, sizeof(eid));
  CHECK_ERR(rsp_x509_eid_in_eum_range(eum, eid), RSP_E_BCD_INVALID);
out:
  rsp_cert_free(eum);
  rsp_cert_free(euicc);
}

struct server_case {
  const char *rel;
  enum rsp_cert_role role;
  int64_t now;
  rsp_err_t want;
};

static const struct server_case server_cases[] = {
    {"DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der", RSP_ROLE_DP_AUTH, T_2026_09_01, RSP_OK},
    {"DPauth/CERT_S_SM_DPauth_ECDSA_BRP.der", RSP_ROLE_DP_AUTH, T_2026_09_01, RSP_OK},
    {"DPauth/CERT_S_SM_DP2auth_ECDSA_NIST.der", RSP_ROLE_DP_AUTH, T_2026_09_01, RSP_OK},
    {"DPauth/CERT_S_SM_DP2auth_ECDSA_BRP.der", RSP_ROLE_DP_AUTH, T_2026_09_01, RSP_OK},
    {"DPpb/CERT_S_SM_DPpb_ECDSA_NIST.der", RSP_ROLE_DP_PB, T_2026_09_01, RSP_OK},
    {"DPpb/CERT_S_SM_DPpb_ECDSA_BRP.der", RSP_ROLE_DP_PB, T_2026_09_01, RSP_OK},
    {"DPpb/CERT_S_SM_DP2pb_ECDSA_NIST.der", RSP_ROLE_DP_PB, T_2026_09_01, RSP_OK},
    {"DPpb/CERT_S_SM_DP2pb_ECDSA_BRP.der", RSP_ROLE_DP_PB, T_2026_09_01, RSP_OK},
    {"DPtls/CERT_S_SM_DP_VARO_TLS_NIST.der", RSP_ROLE_DP_TLS, T_2026_09_01, RSP_OK},
    {"DPtls/CERT_S_SM_DP_VARO_TLS_BRP.der", RSP_ROLE_DP_TLS, T_2026_09_01, RSP_OK},
    {"DPtls/CERT_S_SM_DP2_TLS.der", RSP_ROLE_DP_TLS, T_2025_01_01, RSP_OK},
    {"DPtls/CERT_S_SM_DP4_TLS.der", RSP_ROLE_DP_TLS, T_2025_01_01, RSP_OK},
    {"DPtls/CERT_S_SM_DP8_TLS.der", RSP_ROLE_DP_TLS, T_2025_01_01, RSP_OK},
    {"DPtls/CERT_S_SM_DP2_TLS.der", RSP_ROLE_DP_TLS, T_2026_09_01, RSP_E_CERT_EXPIRED},
    {"DPtls/CERT_S_SM_DP_VARO_TLS_NIST.der", RSP_ROLE_DP_TLS, T_2025_01_01,
     RSP_E_CERT_NOT_YET_VALID},
    /* Wrong roles. */
    {"DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der", RSP_ROLE_DP_PB, T_2026_09_01, RSP_E_CERT_POLICY},
    {"DPpb/CERT_S_SM_DPpb_ECDSA_BRP.der", RSP_ROLE_DP_AUTH, T_2026_09_01, RSP_E_CERT_POLICY},
    {"DPtls/CERT_S_SM_DP_VARO_TLS_NIST.der", RSP_ROLE_DP_AUTH, T_2026_09_01, RSP_E_CERT_POLICY},
    {"DPauth/CERT_S_SM_DPauth_ECDSA_NIST.der", RSP_ROLE_DS_AUTH, T_2026_09_01, RSP_E_CERT_POLICY},
    /* A DPauth certificate used for TLS fails on its role before its missing serverAuth. */
    {"DPauth/CERT_S_SM_DPauth_ECDSA_BRP.der", RSP_ROLE_DP_TLS, T_2026_09_01, RSP_E_CERT_POLICY},
    /* Certificates that are not server certificates at all. */
    {"eUICC/CERT_EUICC_ECDSA_NIST.der", RSP_ROLE_DP_AUTH, T_2026_09_01, RSP_E_CERT_UNKNOWN_CI},
    {"EUM/CERT_EUM_ECDSA_NIST.der", RSP_ROLE_DP_AUTH, T_2026_09_01, RSP_E_CERT_POLICY},
};

static void test_server_certs(void) {
  struct rsp_ci_store *cis = store_both();
  if (!cis) return;
  for (size_t i = 0; i < sizeof(server_cases) / sizeof(server_cases[0]); i++) {
    const struct server_case *sc = &server_cases[i];
    char rel[128];
    struct rsp_chain_opts o = opts_at(sc->now);
    struct rsp_chain_result res;
    struct rsp_cert *c;
    rsp_err_t rc;
    snprintf(rel, sizeof(rel), "sgp26/%s", sc->rel);
    if (!(c = load(rel))) continue;
    rc = rsp_x509_verify_server_cert(cis, c, sc->role, &o, &res);
    printf("  %s as %s -> %s: %s\n", sc->rel, rsp_cert_role_name(sc->role), rsp_err_name(rc),
           res.detail);
    CHECK_ERR(rc, sc->want);
    /* An unknown CI is a fault of the CI position (depth 1), everything else of the leaf. */
    CHECK_EQ(res.depth, sc->want == RSP_OK ? -1 : sc->want == RSP_E_CERT_UNKNOWN_CI ? 1 : 0);
    rsp_cert_free(c);
  }
  CHECK_ERR(rsp_x509_verify_server_cert(cis, NULL, RSP_ROLE_DP_AUTH, NULL, NULL),
            RSP_E_INVALID_ARG);
  rsp_ci_store_free(cis);
}

/* A DP TLS certificate names its CI: with the other CI requested it is refused. */
static void test_server_ci_ski(void) {
  struct rsp_ci_store *cis = store_both();
  struct rsp_cert *c = load("sgp26/DPtls/CERT_S_SM_DP_VARO_TLS_BRP.der");
  struct rsp_chain_opts o = opts_at(T_2026_09_01);
  struct rsp_chain_result res;
  if (!cis || !c) goto out;
  o.ci_ski = nist_ci_ski;
  o.ci_ski_len = sizeof(nist_ci_ski);
  CHECK_ERR(rsp_x509_verify_server_cert(cis, c, RSP_ROLE_DP_TLS, &o, &res), RSP_E_CERT_UNKNOWN_CI);
  CHECK_EQ(res.depth, 1);
out:
  rsp_cert_free(c);
  rsp_ci_store_free(cis);
}

RSP_TESTS(T(test_accessors), T(test_pem_and_keys), T(test_parse_strict), T(test_ci_store),
          T(test_nist_chain), T(test_brp_chain), T(test_invalid_cases), T(test_only_fault),
          T(test_unknown_ci), T(test_eid_range_api), T(test_server_certs), T(test_server_ci_ski))
