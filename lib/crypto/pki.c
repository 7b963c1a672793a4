/* openrsp: issuing certificates shaped like the GSMA SGP.26 test PKI (see rsp/crypto/pki.h).
 *
 * OpenSSL builds the TBSCertificate; the signature comes from the issuer's rsp_signer (plain
 * r||s, converted to DER) and the final Certificate is assembled with our DER writer, so no
 * private key is needed in this file. The result is parsed back and its signature checked
 * against the issuer before it is handed out.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crypto_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/crypto/pki.h"
#include "rsp/der/der.h"
#include "x509_internal.h"

#define DAY INT64_C(86400)
#define YEAR (365 * DAY)
#define CONF_VALUE_MAX 512
#define ECDSA_WITH_SHA256_OID "1.2.840.10045.4.3.2" /* RFC 5758 §3.2 */

/* The extensions a profile carries, in SGP.26's order. */
enum ext_id {
  X_END = 0,
  X_SKI,
  X_AKI,
  X_BC_CA,       /* critical, cA TRUE (CI) */
  X_BC_CA0,      /* critical, cA TRUE, pathLen 0 (EUM) */
  X_KU_CI,       /* critical, keyCertSign + cRLSign */
  X_KU_CERTSIGN, /* critical, keyCertSign (EUM) */
  X_KU_DS,       /* critical, digitalSignature */
  X_EKU_TLS,     /* critical, serverAuth + clientAuth */
  X_CP_CRIT,     /* critical role policy */
  X_CP,          /* non-critical role policy (CERT.DP.TLS in SGP.26) */
  X_SAN,
  X_CRLDP,
  X_NC /* critical nameConstraints with the EIN (EUM) */
};

struct profile {
  const char *name;
  enum rsp_cert_role role;
  enum rsp_cert_role issuer_role; /* RSP_ROLE_UNKNOWN: self-signed */
  int64_t lifetime;               /* 0: RSP_PKI_NO_EXPIRY */
  const char *c, *o, *ou, *cn, *rid;
  uint8_t crl_count; /* how many default CRL URIs */
  uint8_t exts[10];
};

static const char *const default_crl[RSP_PKI_MAX_CRL_URIS] = {"http://ci.openrsp.test/crl-a.crl",
                                                              "http://ci.openrsp.test/crl-b.crl"};

/* Names and lifetimes follow SGP.26 (CI 35 years, EUM 34, eUICC without expiry, SM-DP+ 10). */
static const struct profile profiles[] = {
    [RSP_PKI_CI] = {"ci",
                    RSP_ROLE_CI,
                    RSP_ROLE_UNKNOWN,
                    35 * YEAR,
                    "XX",
                    "OPENRSP",
                    "TESTCERT",
                    "openrsp Test CI",
                    "2.999.1",
                    2,
                    {X_SKI, X_BC_CA, X_CP_CRIT, X_KU_CI, X_SAN, X_CRLDP}},
    [RSP_PKI_EUM] = {"eum",
                     RSP_ROLE_EUM,
                     RSP_ROLE_CI,
                     34 * YEAR,
                     "XX",
                     "openrsp Test EUM",
                     NULL,
                     "EUM Test",
                     "2.999.5",
                     1,
                     {X_AKI, X_SKI, X_KU_CERTSIGN, X_CP_CRIT, X_SAN, X_BC_CA0, X_CRLDP, X_NC}},
    [RSP_PKI_EUICC] = {"euicc",
                       RSP_ROLE_EUICC,
                       RSP_ROLE_EUM,
                       0,
                       "XX",
                       "openrsp Test EUM",
                       NULL,
                       "Test eUICC",
                       NULL,
                       0,
                       {X_AKI, X_SKI, X_KU_DS, X_CP_CRIT}},
    [RSP_PKI_DP_AUTH] = {"dp-auth",
                         RSP_ROLE_DP_AUTH,
                         RSP_ROLE_CI,
                         10 * YEAR,
                         NULL,
                         "OPENRSP",
                         NULL,
                         "TEST SM-DP+",
                         "2.999.10",
                         2,
                         {X_AKI, X_SKI, X_SAN, X_KU_DS, X_CP_CRIT, X_CRLDP}},
    [RSP_PKI_DP_PB] = {"dp-pb",
                       RSP_ROLE_DP_PB,
                       RSP_ROLE_CI,
                       10 * YEAR,
                       NULL,
                       "OPENRSP",
                       NULL,
                       "TEST SM-DP+",
                       "2.999.10",
                       2,
                       {X_AKI, X_SKI, X_SAN, X_KU_DS, X_CP_CRIT, X_CRLDP}},
    [RSP_PKI_DP_TLS] = {"dp-tls",
                        RSP_ROLE_DP_TLS,
                        RSP_ROLE_CI,
                        2 * YEAR,
                        NULL,
                        "OPENRSP",
                        NULL,
                        NULL,
                        "2.999.10",
                        2,
                        {X_KU_DS, X_EKU_TLS, X_CP, X_SKI, X_AKI, X_SAN, X_CRLDP}},
    [RSP_PKI_DS_AUTH] = {"ds-auth",
                         RSP_ROLE_DS_AUTH,
                         RSP_ROLE_CI,
                         10 * YEAR,
                         NULL,
                         "OPENRSP",
                         NULL,
                         "TEST SM-DS",
                         "2.999.15",
                         2,
                         {X_AKI, X_SKI, X_SAN, X_KU_DS, X_CP_CRIT, X_CRLDP}},
    [RSP_PKI_DS_TLS] = {"ds-tls",
                        RSP_ROLE_DS_TLS,
                        RSP_ROLE_CI,
                        2 * YEAR,
                        NULL,
                        "OPENRSP",
                        NULL,
                        NULL,
                        "2.999.15",
                        2,
                        {X_KU_DS, X_EKU_TLS, X_CP, X_SKI, X_AKI, X_SAN, X_CRLDP}},
    [RSP_PKI_EIM_SIGN] = {"eim-sign",
                          RSP_ROLE_UNKNOWN,
                          RSP_ROLE_CI,
                          10 * YEAR,
                          NULL,
                          "OPENRSP",
                          NULL,
                          "Test eIM",
                          NULL,
                          0,
                          {X_AKI, X_SKI, X_KU_DS, X_SAN}},
    [RSP_PKI_EIM_TLS] = {"eim-tls",
                         RSP_ROLE_UNKNOWN,
                         RSP_ROLE_CI,
                         2 * YEAR,
                         NULL,
                         "OPENRSP",
                         NULL,
                         NULL,
                         NULL,
                         0,
                         {X_KU_DS, X_EKU_TLS, X_SKI, X_AKI, X_SAN}},
};

static const struct profile *profile_of(enum rsp_pki_profile p) {
  if ((unsigned)p >= sizeof(profiles) / sizeof(profiles[0])) return NULL;
  return &profiles[p];
}

const char *rsp_pki_profile_name(enum rsp_pki_profile profile) {
  const struct profile *p = profile_of(profile);
  return p ? p->name : "unknown";
}

enum rsp_cert_role rsp_pki_profile_role(enum rsp_pki_profile profile) {
  const struct profile *p = profile_of(profile);
  return p ? p->role : RSP_ROLE_UNKNOWN;
}

static bool is_tls(enum rsp_pki_profile p) {
  return p == RSP_PKI_DP_TLS || p == RSP_PKI_DS_TLS || p == RSP_PKI_EIM_TLS;
}

void rsp_pki_template_init(struct rsp_cert_template *t, enum rsp_pki_profile profile) {
  const struct profile *p = profile_of(profile);
  memset(t, 0, sizeof(*t));
  t->profile = profile;
  if (!p) return;
  t->country = p->c;
  t->org = p->o;
  t->org_unit = p->ou;
  t->common_name = p->cn;
  t->san_rid = p->rid;
  for (unsigned i = 0; i < p->crl_count && i < RSP_PKI_MAX_CRL_URIS; i++)
    t->crl_uris[i] = default_crl[i];
}

/* ---- EID check digits ---------------------------------------------------------------------- */

static bool all_digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

/* The remainder modulo 97 of the first n digits, computed digit by digit (the number itself has
 * 32 digits, far beyond any integer type). */
static unsigned mod97(const char *digits, size_t n) {
  unsigned r = 0;
  for (size_t i = 0; i < n; i++) r = (r * 10 + (unsigned)(digits[i] - '0')) % 97;
  return r;
}

bool rsp_pki_eid_check_ok(const char *eid) {
  return eid && strlen(eid) == RSP_EID_DIGITS && all_digits(eid, RSP_EID_DIGITS) &&
         mod97(eid, RSP_EID_DIGITS) == 1;
}

/* ISO/IEC 7064 MOD 97-10 as SGP.29 applies it: append 00, take the remainder r, and the check
 * digits are 98 - r, which makes the whole 32-digit number congruent to 1 modulo 97. */
rsp_err_t rsp_pki_eid_set_check_digits(char eid[RSP_EID_DIGITS + 1]) {
  unsigned check;
  if (!eid || strnlen(eid, RSP_EID_DIGITS + 1) < RSP_EID_DIGITS - 2 ||
      !all_digits(eid, RSP_EID_DIGITS - 2))
    return RSP_E_INVALID_ARG;
  check = 98 - (mod97(eid, RSP_EID_DIGITS - 2) * 100) % 97;
  eid[RSP_EID_DIGITS - 2] = (char)('0' + check / 10);
  eid[RSP_EID_DIGITS - 1] = (char)('0' + check % 10);
  eid[RSP_EID_DIGITS] = 0;
  return RSP_OK;
}

/* ---- key identifiers and output ------------------------------------------------------------ */

/* RSP keys are always encoded as uncompressed points, so the point is the subjectPublicKey
 * BIT STRING value that RFC 5280 method 1 hashes. */
rsp_err_t rsp_pki_key_id(const struct rsp_key *key, struct rsp_keyid *out) {
  uint8_t pt[RSP_EC_POINT_LEN];
  unsigned int n = 0;
  rsp_err_t rc;

  if (!key || !out) return RSP_E_INVALID_ARG;
  memset(out, 0, sizeof(*out));
  if ((rc = rsp_key_point(key, pt)) != RSP_OK) return rc;
  if (!EVP_Digest(pt, sizeof(pt), out->id, &n, EVP_sha1(), NULL)) {
    ERR_clear_error();
    return RSP_E_CRYPTO;
  }
  out->len = n;
  return RSP_OK;
}

rsp_err_t rsp_pki_cert_write(const struct rsp_cert *cert, const char *path, bool pem) {
  struct rsp_slice der = rsp_cert_der(cert);
  FILE *f;
  bool ok;

  if (!cert || !path) return RSP_E_INVALID_ARG;
  f = fopen(path, "wb");
  if (!f) return RSP_E_IO;
  if (pem)
    ok = PEM_write(f, PEM_STRING_X509, "", der.p, (long)der.len) > 0;
  else
    ok = fwrite(der.p, 1, der.len, f) == der.len;
  ok = fclose(f) == 0 && ok;
  ERR_clear_error();
  return ok ? RSP_OK : RSP_E_IO;
}

/* ---- template checks ----------------------------------------------------------------------- */

/* Strings that end up in an OpenSSL extension configuration value must not carry its
 * separators, or a host name could smuggle in extra entries. */
static bool conf_safe(const char *s, const char *extra) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 253) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || (extra && strchr(extra, ch));
    if (!ok) return false;
  }
  return true;
}

static bool set(const char *s) { return s && *s; }

static rsp_err_t check_strings(const struct rsp_cert_template *t) {
  if (set(t->san_dns) && !conf_safe(t->san_dns, NULL)) return RSP_E_INVALID_ARG;
  if (set(t->san_rid) && !conf_safe(t->san_rid, NULL)) return RSP_E_INVALID_ARG;
  for (int i = 0; i < RSP_PKI_MAX_CRL_URIS; i++)
    if (set(t->crl_uris[i]) && !conf_safe(t->crl_uris[i], ":/_~%?=&+")) return RSP_E_INVALID_ARG;
  if (is_tls(t->profile) && !set(t->san_dns)) return RSP_E_INVALID_ARG;
  if (t->profile == RSP_PKI_EUICC &&
      (!t->eid || strlen(t->eid) != RSP_EID_DIGITS || !all_digits(t->eid, RSP_EID_DIGITS)))
    return RSP_E_INVALID_ARG;
  if (t->profile == RSP_PKI_EUM &&
      (!set(t->permitted_ein) || strlen(t->permitted_ein) > RSP_PKI_EIN_MAX_DIGITS ||
       !all_digits(t->permitted_ein, strlen(t->permitted_ein))))
    return RSP_E_INVALID_ARG;
  return RSP_OK;
}

static bool same_key(const struct rsp_key *a, const struct rsp_key *b) {
  uint8_t pa[RSP_EC_POINT_LEN], pb[RSP_EC_POINT_LEN];
  return a && b && rsp_key_curve(a) == rsp_key_curve(b) && rsp_key_point(a, pa) == RSP_OK &&
         rsp_key_point(b, pb) == RSP_OK && memcmp(pa, pb, sizeof(pa)) == 0;
}

/* The issuer side of the RSP rules: the right issuer role, one curve along a chain (SGP.22
 * §4.5.2 chains are single-curve), a signer that really holds the issuer's key, and for an eUICC
 * an EID inside the EUM's nameConstraints with the permitted O. */
static rsp_err_t check_issuer(const struct rsp_cert_template *t, const struct profile *p,
                              const struct rsp_key *subject_key, const struct rsp_cert *issuer,
                              struct rsp_signer *signer) {
  const struct rsp_key *signer_key = rsp_signer_public_key(signer);
  struct rsp_key *issuer_key = NULL;
  char why[160];
  rsp_err_t rc = RSP_E_INVALID_ARG;

  if ((p->issuer_role == RSP_ROLE_UNKNOWN) != (issuer == NULL)) return RSP_E_INVALID_ARG;
  if (!issuer) return same_key(signer_key, subject_key) ? RSP_OK : RSP_E_INVALID_ARG;
  if (!t->unchecked && rsp_cert_role(issuer) != p->issuer_role) return RSP_E_CERT_POLICY;
  if (rsp_cert_public_key(issuer, &issuer_key) != RSP_OK) goto out;
  if (!same_key(signer_key, issuer_key)) goto out;
  if (rsp_key_curve(subject_key) != rsp_key_curve(issuer_key)) goto out;
  rc = RSP_OK;
  if (t->profile == RSP_PKI_EUICC && !t->unchecked)
    rc = rsp__x509_eid_range(issuer, t->eid, t->org ? t->org : "", why, sizeof(why));
out:
  rsp_key_free(issuer_key);
  return rc;
}

/* ---- building the TBSCertificate ----------------------------------------------------------- */

static bool add_entry(X509_NAME *name, int nid, const char *value) {
  if (!set(value)) return true;
  return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (const unsigned char *)value, -1, -1,
                                    0) == 1;
}

/* SGP.26 writes the CI's name CN, OU, O, C and every other name C, O, serialNumber, CN. */
static bool build_subject(X509_NAME *name, const struct rsp_cert_template *t) {
  if (t->profile == RSP_PKI_CI)
    return add_entry(name, NID_commonName, t->common_name) &&
           add_entry(name, NID_organizationalUnitName, t->org_unit) &&
           add_entry(name, NID_organizationName, t->org) &&
           add_entry(name, NID_countryName, t->country);
  const char *cn = set(t->common_name) ? t->common_name : t->san_dns;
  return add_entry(name, NID_countryName, t->country) &&
         add_entry(name, NID_organizationName, t->org) &&
         add_entry(name, NID_organizationalUnitName, t->org_unit) &&
         add_entry(name, NID_serialNumber, t->profile == RSP_PKI_EUICC ? t->eid : NULL) &&
         add_entry(name, NID_commonName, cn);
}

static rsp_err_t set_serial(X509 *x, uint64_t serial) {
  if (serial == 0) {
    uint8_t r[8];
    if (rsp_random(r, sizeof(r)) != RSP_OK) return RSP_E_CRYPTO;
    for (int i = 0; i < 8; i++) serial = serial << 8 | r[i];
    serial &= INT64_MAX; /* positive, as RFC 5280 §4.1.2.2 requires */
    if (serial == 0) serial = 1;
  }
  return ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) ? RSP_OK : RSP_E_CRYPTO;
}

static rsp_err_t set_validity(X509 *x, const struct rsp_cert_template *t, const struct profile *p) {
  int64_t nb = t->not_before ? t->not_before : (int64_t)time(NULL) - 3600;
  int64_t na = t->not_after ? t->not_after : p->lifetime ? nb + p->lifetime : RSP_PKI_NO_EXPIRY;
  if (na < nb || na > RSP_PKI_NO_EXPIRY || nb < 0) return RSP_E_INVALID_ARG;
  /* ASN1_TIME_set picks UTCTime up to 2049 and GeneralizedTime after, as RFC 5280 §4.1.2.5 asks. */
  if (!ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) ||
      !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na))
    return RSP_E_CRYPTO;
  return RSP_OK;
}

static rsp_err_t add_keyid_ext(X509 *x, int nid, const struct rsp_keyid *id) {
  int ok = 0;
  if (nid == NID_subject_key_identifier) {
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    ok = os && ASN1_OCTET_STRING_set(os, id->id, (int)id->len) &&
         X509_add1_ext_i2d(x, nid, os, 0, X509V3_ADD_DEFAULT) == 1;
    ASN1_OCTET_STRING_free(os);
  } else {
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    ok = akid && (akid->keyid = ASN1_OCTET_STRING_new()) != NULL &&
         ASN1_OCTET_STRING_set(akid->keyid, id->id, (int)id->len) &&
         X509_add1_ext_i2d(x, nid, akid, 0, X509V3_ADD_DEFAULT) == 1;
    AUTHORITY_KEYID_free(akid);
  }
  return ok ? RSP_OK : RSP_E_CRYPTO;
}

/* nameConstraints: permittedSubtrees = { directoryName { O, serialNumber = EIN } } (SGP.22 §4.5.2,
 * as in SGP.26's EUM certificate). */
static rsp_err_t add_name_constraints(X509 *x, const struct rsp_cert_template *t) {
  rsp_err_t rc = RSP_E_CRYPTO;
  NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
  GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
  X509_NAME *dn = X509_NAME_new();
  const char *org = set(t->permitted_org) ? t->permitted_org : t->org;

  if (!nc || !st || !dn) goto out;
  if (!add_entry(dn, NID_organizationName, org) ||
      !add_entry(dn, NID_serialNumber, t->permitted_ein))
    goto out;
  GENERAL_NAME_set0_value(st->base, GEN_DIRNAME, dn);
  dn = NULL;
  if (!(nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null())) goto out;
  if (!sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, st)) goto out;
  st = NULL;
  if (X509_add1_ext_i2d(x, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT) == 1) rc = RSP_OK;
out:
  X509_NAME_free(dn);
  GENERAL_SUBTREE_free(st);
  NAME_CONSTRAINTS_free(nc);
  return rc;
}

/* certificatePolicies with the one role policy (SGP.22 §4.5.2.1). Built directly: OpenSSL's
 * text form of this extension needs a configuration database. */
static rsp_err_t add_policy(X509 *x, const struct profile *p, bool critical) {
  char oid[64];
  rsp_err_t rc = RSP_E_CRYPTO;
  CERTIFICATEPOLICIES *pols = sk_POLICYINFO_new_null();
  POLICYINFO *pi = POLICYINFO_new();

  if (p->role == RSP_ROLE_UNKNOWN) {
    rc = RSP_OK; /* eIM certificates: no RSP role */
    goto out;
  }
  snprintf(oid, sizeof(oid), RSP_ROLE_OID_PREFIX "%d", (int)p->role);
  if (!pols || !pi) goto out;
  ASN1_OBJECT_free(pi->policyid);
  if (!(pi->policyid = OBJ_txt2obj(oid, 1))) goto out;
  if (!sk_POLICYINFO_push(pols, pi)) goto out;
  pi = NULL;
  if (X509_add1_ext_i2d(x, NID_certificate_policies, pols, critical ? 1 : 0, X509V3_ADD_DEFAULT) ==
      1)
    rc = RSP_OK;
out:
  POLICYINFO_free(pi);
  sk_POLICYINFO_pop_free(pols, POLICYINFO_free);
  return rc;
}

/* The configuration string of the extensions OpenSSL can build from text; "" means "leave it
 * out" (no SAN or CRL URI given). */
static void conf_value(enum ext_id id, const struct rsp_cert_template *t, const struct profile *p,
                       char *v, size_t size) {
  v[0] = 0;
  switch (id) {
  case X_BC_CA:
    snprintf(v, size, "critical,CA:TRUE");
    break;
  case X_BC_CA0:
    snprintf(v, size, "critical,CA:TRUE,pathlen:0");
    break;
  case X_KU_CI:
    snprintf(v, size, "critical,keyCertSign,cRLSign");
    break;
  case X_KU_CERTSIGN:
    snprintf(v, size, "critical,keyCertSign");
    break;
  case X_KU_DS:
    snprintf(v, size, "critical,digitalSignature");
    break;
  case X_EKU_TLS:
    snprintf(v, size, "critical,serverAuth,clientAuth");
    break;
  case X_SAN:
    if (set(t->san_dns) && set(t->san_rid))
      snprintf(v, size, "DNS:%s, RID:%s", t->san_dns, t->san_rid);
    else if (set(t->san_dns) || set(t->san_rid))
      snprintf(v, size, set(t->san_dns) ? "DNS:%s" : "RID:%s",
               set(t->san_dns) ? t->san_dns : t->san_rid);
    break;
  case X_CRLDP:
    if (set(t->crl_uris[0]) && set(t->crl_uris[1]))
      snprintf(v, size, "URI:%s, URI:%s", t->crl_uris[0], t->crl_uris[1]);
    else if (set(t->crl_uris[0]))
      snprintf(v, size, "URI:%s", t->crl_uris[0]);
    break;
  default:
    break;
  }
}

static int conf_nid(enum ext_id id) {
  switch (id) {
  case X_BC_CA:
  case X_BC_CA0:
    return NID_basic_constraints;
  case X_KU_CI:
  case X_KU_CERTSIGN:
  case X_KU_DS:
    return NID_key_usage;
  case X_EKU_TLS:
    return NID_ext_key_usage;
  case X_CP_CRIT:
  case X_CP:
    return NID_certificate_policies;
  case X_SAN:
    return NID_subject_alt_name;
  case X_CRLDP:
    return NID_crl_distribution_points;
  default:
    return NID_undef;
  }
}

static rsp_err_t add_conf_ext(X509 *x, enum ext_id id, const struct rsp_cert_template *t,
                              const struct profile *p) {
  char value[CONF_VALUE_MAX];
  X509V3_CTX ctx;
  X509_EXTENSION *ext;
  int ok;

  conf_value(id, t, p, value, sizeof(value));
  if (!value[0]) return RSP_OK;
  X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &ctx, conf_nid(id), value);
  ok = ext && X509_add_ext(x, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok ? RSP_OK : RSP_E_CRYPTO;
}

static rsp_err_t add_extensions(X509 *x, const struct rsp_cert_template *t, const struct profile *p,
                                const struct rsp_key *subject_key, const struct rsp_cert *issuer) {
  struct rsp_keyid ski, aki;
  rsp_err_t rc = RSP_OK;

  if ((rc = rsp_pki_key_id(subject_key, &ski)) != RSP_OK) return rc;
  if (issuer && rsp_cert_ski(issuer, &aki) != RSP_OK) return RSP_E_CERT_CONSTRAINTS;
  for (size_t i = 0; i < sizeof(p->exts) && p->exts[i] != X_END && rc == RSP_OK; i++) {
    enum ext_id id = (enum ext_id)p->exts[i];
    if (id == X_SKI)
      rc = add_keyid_ext(x, NID_subject_key_identifier, &ski);
    else if (id == X_AKI)
      rc = issuer ? add_keyid_ext(x, NID_authority_key_identifier, &aki) : RSP_OK;
    else if (id == X_NC)
      rc = add_name_constraints(x, t);
    else if (id == X_CP_CRIT || id == X_CP)
      rc = add_policy(x, p, id == X_CP_CRIT);
    else
      rc = add_conf_ext(x, id, t, p);
  }
  return rc;
}

static rsp_err_t build_tbs(X509 *x, const struct rsp_cert_template *t, const struct profile *p,
                           const struct rsp_key *subject_key, const struct rsp_cert *issuer) {
  rsp_err_t rc;
  X509_NAME *subj = X509_get_subject_name(x);

  if (!X509_set_version(x, X509_VERSION_3)) return RSP_E_CRYPTO;
  if ((rc = set_serial(x, t->serial)) != RSP_OK) return rc;
  if ((rc = set_validity(x, t, p)) != RSP_OK) return rc;
  if (!build_subject(subj, t)) return RSP_E_INVALID_ARG;
  if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(rsp__cert_x509(issuer)) : subj))
    return RSP_E_CRYPTO;
  if (!X509_set_pubkey(x, rsp__key_evp(subject_key))) return RSP_E_KEY_INVALID;
  return add_extensions(x, t, p, subject_key, issuer);
}

/* ---- signing ------------------------------------------------------------------------------- */

/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 * (RFC 5280 §4.1); ecdsa-with-SHA256 has absent parameters (RFC 5758 §3.2). */
static rsp_err_t assemble(const uint8_t *tbs, size_t tbs_len, const uint8_t *sig, size_t sig_len,
                          struct rsp_buf *out) {
  uint8_t bits[1 + RSP_SIG_DER_MAX];
  struct rsp_der_writer w;

  bits[0] = 0; /* no unused bits */
  memcpy(bits + 1, sig, sig_len);
  rsp_der_writer_init(&w, out);
  rsp_der_begin(&w, RSP_DER_SEQUENCE);
  rsp_der_put_raw(&w, tbs, tbs_len);
  rsp_der_begin(&w, RSP_DER_SEQUENCE);
  rsp_der_put_oid(&w, RSP_DER_OID, ECDSA_WITH_SHA256_OID);
  rsp_der_end(&w);
  rsp_der_put_tlv(&w, RSP_DER_BIT_STRING, bits, sig_len + 1);
  rsp_der_end(&w);
  return rsp_der_writer_finish(&w);
}

/* The TBSCertificate names its own signature algorithm. OpenSSL only sets that field while
 * signing with a key it holds, so it is set here through the pointer X509_get0_tbs_sigalg
 * returns: it points into the (non-const) X509 we own, and i2d_re_X509_tbs then re-encodes. */
static rsp_err_t sign_tbs(X509 *x, struct rsp_signer *signer, struct rsp_cert **out) {
  rsp_err_t rc = RSP_E_CRYPTO;
  X509_ALGOR *alg = (X509_ALGOR *)X509_get0_tbs_sigalg(x);
  unsigned char *tbs = NULL;
  uint8_t raw[RSP_SIG_RAW_LEN], der[RSP_SIG_DER_MAX];
  size_t der_len = 0;
  struct rsp_buf cert;
  int tbs_len;

  rsp_buf_init(&cert, RSP_CERT_DER_MAX);
  if (!X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL)) goto out;
  tbs_len = i2d_re_X509_tbs(x, &tbs);
  if (tbs_len <= 0) goto out;
  if ((rc = rsp_signer_sign(signer, tbs, (size_t)tbs_len, raw)) != RSP_OK) goto out;
  if ((rc = rsp_ecdsa_sig_raw_to_der(raw, der, sizeof(der), &der_len)) != RSP_OK) goto out;
  if ((rc = assemble(tbs, (size_t)tbs_len, der, der_len, &cert)) != RSP_OK) goto out;
  rc = rsp_cert_parse(cert.data, cert.len, out);
out:
  OPENSSL_free(tbs);
  rsp_buf_free(&cert);
  return rc;
}

rsp_err_t rsp_pki_issue(const struct rsp_cert_template *tpl, const struct rsp_key *subject_key,
                        const struct rsp_cert *issuer, struct rsp_signer *signer,
                        struct rsp_cert **out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  const struct profile *p = tpl ? profile_of(tpl->profile) : NULL;
  struct rsp_cert *cert = NULL;
  X509 *x = NULL;

  if (!p || !subject_key || !signer || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if ((rc = check_strings(tpl)) != RSP_OK) return rc;
  if ((rc = check_issuer(tpl, p, subject_key, issuer, signer)) != RSP_OK) return rc;
  x = X509_new();
  if (!x) return RSP_E_NOMEM;
  if ((rc = build_tbs(x, tpl, p, subject_key, issuer)) != RSP_OK) goto out;
  if ((rc = sign_tbs(x, signer, &cert)) != RSP_OK) goto out;
  /* A signer that signed with another key than it claims is caught here, not by a relying
   * party later. */
  if ((rc = rsp_cert_verify_signature(cert, issuer ? issuer : cert)) != RSP_OK) goto out;
  *out = cert;
  cert = NULL;
out:
  rsp_cert_free(cert);
  X509_free(x);
  ERR_clear_error();
  return rc;
}
