/* openrsp: RSP certificate path validation (SGP.22 §4.5.2, §5.6.3 ES9+.AuthenticateClient,
 * §5.7.13 ES10b.AuthenticateServer).
 *
 * The paths are short and fixed (CI -> EUM -> eUICC, CI -> SM-DP+), so they are checked
 * here step by step instead of by X509_verify_cert. Besides being explicit about each RSP rule,
 * this avoids OpenSSL's nameConstraints processing: it treats the EUM's permitted directoryName
 * {O, serialNumber=EIN} as an RDN prefix of the whole subject and so rejects every valid eUICC
 * certificate ("permitted subtree violation"). The RSP rule is that the EID (subject
 * serialNumber) starts with the EIN and the organisation matches.
 *
 * Order of the checks at each level, top down: the CI is found, then each certificate's
 * signature, its issuer linkage (name and AKI), validity, unsupported critical extensions, role
 * policy, basicConstraints/keyUsage, and at the leaf the EID rules. A signature failure is
 * reported before anything read from the unauthenticated certificate.
 *
 * On failure res->depth says where (0 leaf, 1 EUM or the CI of a server certificate, 2 CI of an
 * eUICC chain); on success it is -1 and res->detail summarises the path for the logs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "rsp/core/log.h"
#include "rsp/crypto/pki.h"
#include "x509_internal.h"

#define SUBJECT_MAX 96
#define HEX_MAX (2 * RSP_KEYID_MAX + 1)

struct chain {
  const struct rsp_ci_store *cis;
  const struct rsp_chain_opts *opts;
  struct rsp_chain_result *res;
  struct rsp_chain_result scratch; /* used when the caller passes no result */
  int64_t now;
};

static const struct rsp_chain_opts default_opts;

static void chain_begin(struct chain *c, const struct rsp_ci_store *cis,
                        const struct rsp_chain_opts *opts, struct rsp_chain_result *res) {
  c->cis = cis;
  c->opts = opts ? opts : &default_opts;
  c->res = res ? res : &c->scratch;
  c->now = c->opts->now ? c->opts->now : (int64_t)time(NULL);
  c->res->depth = -1;
  c->res->detail[0] = 0;
}

/* Records where and why a check failed; with RSP_OK and depth -1 it records the success line.
 * Details are cut to fit: they are log lines, not data. */
static rsp_err_t fail(struct chain *c, rsp_err_t rc, int depth, const char *fmt, ...)
    RSP_PRINTF(4, 5);

static rsp_err_t fail(struct chain *c, rsp_err_t rc, int depth, const char *fmt, ...) {
  va_list ap;
  c->res->depth = depth;
  va_start(ap, fmt);
  vsnprintf(c->res->detail, sizeof(c->res->detail), fmt, ap);
  va_end(ap);
  return rc;
}

static const char *subject(const struct rsp_cert *cert, char buf[SUBJECT_MAX]) {
  rsp_cert_subject_string(cert, buf, SUBJECT_MAX); /* a cut line is fine for a log */
  return buf;
}

static const char *keyid_hex(const struct rsp_keyid *id, char buf[HEX_MAX]) {
  rsp__keyid_hex(id, buf, HEX_MAX);
  return buf;
}

/* ---- finding the CI ------------------------------------------------------------------------ */

/* Without an AKI the certificate does not say which CI issued it (SGP.22 §4.5.2 makes the AKI
 * mandatory below the CI). Each trusted CI is tried by signature so the failure reported is the
 * real one: no trusted key signed this certificate. */
static rsp_err_t find_ci_by_signature(struct chain *c, const struct rsp_cert *child,
                                      const char *label, int depth, const struct rsp_cert **out) {
  size_t n = rsp_ci_store_count(c->cis);
  if (n == 0) return fail(c, RSP_E_CERT_UNKNOWN_CI, depth + 1, "the CI store is empty");
  for (size_t i = 0; i < n; i++) {
    const struct rsp_cert *ci = rsp_ci_store_get(c->cis, i);
    if (rsp_cert_verify_signature(child, ci) == RSP_OK) {
      *out = ci;
      return RSP_OK;
    }
  }
  return fail(c, RSP_E_CERT_SIG_INVALID, depth,
              "%s has no authorityKeyIdentifier and no trusted CI signed it", label);
}

/* The CI is the one named by opts->ci_ski when given (euiccCiPKIdToBeUsed, chosen in SGP.22
 * §5.6.1 and checked in §5.6.3), otherwise the one the child's AKI names. A child issued by
 * another CI than the requested one leads to an unknown CI as far as this session is concerned. */
static rsp_err_t find_ci(struct chain *c, const struct rsp_cert *child, const char *label,
                         int depth, const struct rsp_cert **out) {
  struct rsp_keyid aki, want;
  char h1[HEX_MAX], h2[HEX_MAX];
  bool has_aki = rsp_cert_aki(child, &aki) == RSP_OK;
  const struct rsp_cert *ci;

  if (c->opts->ci_ski) {
    memcpy(want.id, c->opts->ci_ski, c->opts->ci_ski_len);
    want.len = c->opts->ci_ski_len;
    ci = rsp_ci_store_find(c->cis, want.id, want.len);
    if (!ci)
      return fail(c, RSP_E_CERT_UNKNOWN_CI, depth + 1, "requested CI %s is not trusted",
                  keyid_hex(&want, h1));
    if (has_aki && !rsp__keyid_equal(&aki, want.id, want.len))
      return fail(c, RSP_E_CERT_UNKNOWN_CI, depth + 1, "%s was issued by CI %s, not by CI %s",
                  label, keyid_hex(&aki, h1), keyid_hex(&want, h2));
    *out = ci;
    return RSP_OK;
  }
  if (!has_aki) return find_ci_by_signature(c, child, label, depth, out);
  ci = rsp_ci_store_find(c->cis, aki.id, aki.len);
  if (!ci)
    return fail(c, RSP_E_CERT_UNKNOWN_CI, depth + 1, "%s was issued by CI %s, which is not trusted",
                label, keyid_hex(&aki, h1));
  *out = ci;
  return RSP_OK;
}

/* ---- per-certificate checks ---------------------------------------------------------------- */

/* Signature first, then the linkage RFC 5280 §6.1.3 and SGP.22 §4.5.2 ask for: the issuer name
 * equals the issuer's subject and the AKI equals the issuer's SKI. */
static rsp_err_t check_link(struct chain *c, const struct rsp_cert *child, const char *label,
                            const struct rsp_cert *issuer, int depth) {
  X509 *cx = rsp__cert_x509(child), *ix = rsp__cert_x509(issuer);
  struct rsp_keyid aki, ski;
  char s[SUBJECT_MAX], h1[HEX_MAX], h2[HEX_MAX];
  rsp_err_t rc = rsp_cert_verify_signature(child, issuer);

  if (rc == RSP_E_UNSUPPORTED)
    return fail(c, rc, depth, "%s signature algorithm is not ecdsa-with-SHA256", label);
  if (rc != RSP_OK)
    return fail(c, RSP_E_CERT_SIG_INVALID, depth, "%s signature does not verify with the key of %s",
                label, subject(issuer, s));
  if (X509_NAME_cmp(X509_get_issuer_name(cx), X509_get_subject_name(ix)) != 0)
    return fail(c, RSP_E_CERT_ISSUER_MISMATCH, depth, "%s issuer name differs from subject %s",
                label, subject(issuer, s));
  if (rsp_cert_aki(child, &aki) != RSP_OK)
    return fail(c, RSP_E_CERT_ISSUER_MISMATCH, depth, "%s has no authorityKeyIdentifier", label);
  if (rsp_cert_ski(issuer, &ski) != RSP_OK || !rsp__keyid_equal(&aki, ski.id, ski.len))
    return fail(c, RSP_E_CERT_ISSUER_MISMATCH, depth, "%s AKI %s is not the issuer's SKI %s", label,
                keyid_hex(&aki, h1), keyid_hex(&ski, h2));
  return RSP_OK;
}

/* ISO 8601 for log lines; the raw number when gmtime cannot represent it. */
static const char *iso_time(int64_t t, char buf[32]) {
  time_t tt = (time_t)t;
  struct tm tm;
  if ((int64_t)tt != t || !gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, 32, "%lld", (long long)t);
  return buf;
}

static rsp_err_t check_time(struct chain *c, const struct rsp_cert *cert, const char *label,
                            int depth) {
  int64_t nb = 0, na = 0;
  char t1[32], t2[32];
  if (rsp_cert_validity(cert, &nb, &na) != RSP_OK)
    return fail(c, RSP_E_CERT_PARSE, depth, "%s validity cannot be decoded", label);
  if (c->opts->ignore_time) return RSP_OK;
  if (c->now < nb)
    return fail(c, RSP_E_CERT_NOT_YET_VALID, depth, "%s is not valid before %s (now %s)", label,
                iso_time(nb, t1), iso_time(c->now, t2));
  if (c->now > na)
    return fail(c, RSP_E_CERT_EXPIRED, depth, "%s expired at %s (now %s)", label, iso_time(na, t1),
                iso_time(c->now, t2));
  return RSP_OK;
}

/* RFC 5280 §4.2: a critical extension that is not understood makes the certificate unusable.
 * Then the role policy of SGP.22 §4.5.2.1 (RSP_ROLE_UNKNOWN: no role is required). */
static rsp_err_t check_role(struct chain *c, const struct rsp_cert *cert, const char *label,
                            enum rsp_cert_role want, int depth) {
  enum rsp_cert_role got = rsp_cert_role(cert);
  if (X509_get_extension_flags(rsp__cert_x509(cert)) & EXFLAG_CRITICAL)
    return fail(c, RSP_E_CERT_CONSTRAINTS, depth, "%s has an unsupported critical extension",
                label);
  if (want == RSP_ROLE_UNKNOWN || got == want) return RSP_OK;
  return fail(c, RSP_E_CERT_POLICY, depth,
              "%s has role policy %s, expected %s (" RSP_ROLE_OID_PREFIX "%d)", label,
              rsp_cert_role_name(got), rsp_cert_role_name(want), (int)want);
}

/* SGP.22 §4.5.2: the EUM is a CA that may sign only end-entity (eUICC) certificates. */
static rsp_err_t check_eum_ca(struct chain *c, const struct rsp_cert *eum) {
  X509 *x = rsp__cert_x509(eum);
  uint32_t flags = X509_get_extension_flags(x);

  if (!(flags & EXFLAG_BCONS) || !(flags & EXFLAG_CA))
    return fail(c, RSP_E_CERT_CONSTRAINTS, 1, "EUM basicConstraints does not say cA");
  if (X509_get_pathlen(x) != 0)
    return fail(c, RSP_E_CERT_CONSTRAINTS, 1, "EUM pathLenConstraint is not 0");
  if (!(flags & EXFLAG_KUSAGE) || !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
    return fail(c, RSP_E_CERT_CONSTRAINTS, 1, "EUM keyUsage lacks keyCertSign");
  return RSP_OK;
}

/* eUICC and server certificates sign protocol data only: not a CA, keyUsage digitalSignature.
 * (X509_get_key_usage reports all bits when the extension is absent, hence the flag test.) */
static rsp_err_t check_end_entity(struct chain *c, const struct rsp_cert *cert, const char *label,
                                  int depth) {
  X509 *x = rsp__cert_x509(cert);
  uint32_t flags = X509_get_extension_flags(x);

  if (flags & EXFLAG_CA)
    return fail(c, RSP_E_CERT_CONSTRAINTS, depth, "%s is a CA certificate", label);
  if (!(flags & EXFLAG_KUSAGE) || !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
    return fail(c, RSP_E_CERT_CONSTRAINTS, depth, "%s keyUsage lacks digitalSignature", label);
  if (X509_get_key_usage(x) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN))
    return fail(c, RSP_E_CERT_CONSTRAINTS, depth, "%s keyUsage allows certificate signing", label);
  return RSP_OK;
}

/* TLS server certificates (CERT.DP.TLS, SGP.22 §4.5.2) carry extendedKeyUsage serverAuth. */
static rsp_err_t check_tls_eku(struct chain *c, const struct rsp_cert *cert, const char *label) {
  X509 *x = rsp__cert_x509(cert);
  if (!(X509_get_extension_flags(x) & EXFLAG_XKUSAGE) ||
      !(X509_get_extended_key_usage(x) & XKU_SSL_SERVER))
    return fail(c, RSP_E_CERT_CONSTRAINTS, 0, "%s extendedKeyUsage lacks serverAuth", label);
  return RSP_OK;
}

/* ---- the EID range ------------------------------------------------------------------------- */

struct subtree_hit {
  char ein[RSP_EID_DIGITS + 1]; /* serialNumber of the first directoryName seen, for messages */
  char org[64];
};

/* True when some directoryName of the subtrees has a serialNumber that prefixes the EID and,
 * when org is given, no O or the same O. Other name forms are not RSP's concern. */
static bool subtrees_match(const STACK_OF(GENERAL_SUBTREE) * trees, const char *eid,
                           const char *org, struct subtree_hit *first) {
  for (int i = 0; i < sk_GENERAL_SUBTREE_num(trees); i++) {
    const GENERAL_SUBTREE *st = sk_GENERAL_SUBTREE_value(trees, i);
    char sn[RSP_EID_DIGITS + 1], o[64];
    if (!st->base || st->base->type != GEN_DIRNAME) continue;
    if (rsp__x509_name_get(st->base->d.directoryName, NID_serialNumber, sn, sizeof(sn)) != RSP_OK)
      continue;
    rsp_err_t orc =
        rsp__x509_name_get(st->base->d.directoryName, NID_organizationName, o, sizeof(o));
    if (first && !first->ein[0]) {
      snprintf(first->ein, sizeof(first->ein), "%s", sn);
      snprintf(first->org, sizeof(first->org), "%s", orc == RSP_OK ? o : "");
    }
    if (strncmp(eid, sn, strlen(sn)) != 0) continue;
    if (org && orc == RSP_OK && strcmp(org, o) != 0) continue;
    return true;
  }
  return false;
}

/* SGP.22 §4.5.2: the EUM's nameConstraints permit a directoryName {O, serialNumber = EIN};
 * an eUICC certificate is in range when its EID starts with the EIN and (org given) its O is
 * the permitted O. An EUM without such a constraint permits nothing. */
rsp_err_t rsp__x509_eid_range(const struct rsp_cert *eum, const char *eid, const char *org,
                              char *why, size_t why_size) {
  rsp_err_t rc = RSP_E_CERT_EID_OUT_OF_RANGE;
  struct subtree_hit first = {{0}, {0}};
  NAME_CONSTRAINTS *nc = X509_get_ext_d2i(rsp__cert_x509(eum), NID_name_constraints, NULL, NULL);

  if (!nc || !nc->permittedSubtrees) {
    snprintf(why, why_size, "EUM certificate has no nameConstraints permitting an EIN");
    goto out;
  }
  if (nc->excludedSubtrees && subtrees_match(nc->excludedSubtrees, eid, NULL, NULL)) {
    snprintf(why, why_size, "EID %s is in a subtree the EUM excludes", eid);
    goto out;
  }
  if (!subtrees_match(nc->permittedSubtrees, eid, org, &first)) {
    snprintf(why, why_size, "EID %s (O=%s) outside EUM range O=%s serialNumber=%s", eid,
             org ? org : "-", first.org, first.ein[0] ? first.ein : "(none)");
    goto out;
  }
  rc = RSP_OK;
out:
  NAME_CONSTRAINTS_free(nc);
  ERR_clear_error();
  return rc;
}

rsp_err_t rsp_pki_eum_range(const struct rsp_cert *eum, char *ein, size_t ein_size, char *org,
                            size_t org_size) {
  rsp_err_t rc = RSP_E_NOT_FOUND;
  struct subtree_hit first = {{0}, {0}};
  NAME_CONSTRAINTS *nc;

  if (!eum || !ein || ein_size == 0) return RSP_E_INVALID_ARG;
  nc = X509_get_ext_d2i(rsp__cert_x509(eum), NID_name_constraints, NULL, NULL);
  /* Matching the empty EID matches nothing; it only records the first permitted name. */
  if (nc && nc->permittedSubtrees) subtrees_match(nc->permittedSubtrees, "", NULL, &first);
  if (first.ein[0]) {
    rc = (size_t)snprintf(ein, ein_size, "%s", first.ein) < ein_size ? RSP_OK : RSP_E_BUF_SMALL;
    if (org && org_size && (size_t)snprintf(org, org_size, "%s", first.org) >= org_size)
      rc = RSP_E_BUF_SMALL;
  }
  NAME_CONSTRAINTS_free(nc);
  ERR_clear_error();
  return rc;
}

rsp_err_t rsp_x509_eid_in_eum_range(const struct rsp_cert *eum, const uint8_t eid[RSP_EID_LEN]) {
  char digits[RSP_EID_DIGITS + 1], why[160];
  if (!eum || !eid) return RSP_E_INVALID_ARG;
  if (rsp_eid_to_string(eid, digits) != RSP_OK) return RSP_E_BCD_INVALID;
  return rsp__x509_eid_range(eum, digits, NULL, why, sizeof(why));
}

/* The EID is the eUICC certificate's subject serialNumber (SGP.22 §4.5.2, SGP.26). */
static rsp_err_t check_eid(struct chain *c, const struct rsp_cert *eum,
                           const struct rsp_cert *euicc, char eid[RSP_EID_DIGITS + 1]) {
  const X509_NAME *subj = X509_get_subject_name(rsp__cert_x509(euicc));
  char org[64], want[RSP_EID_DIGITS + 1], why[160];
  uint8_t bcd[RSP_EID_LEN];
  bool has_org;

  if (rsp_cert_subject_serial(euicc, eid, RSP_EID_DIGITS + 1) != RSP_OK ||
      rsp_eid_from_string(eid, bcd) != RSP_OK)
    return fail(c, RSP_E_CERT_EID_OUT_OF_RANGE, 0,
                "eUICC subject serialNumber is not a 32-digit EID");
  has_org = rsp__x509_name_get(subj, NID_organizationName, org, sizeof(org)) == RSP_OK;
  if (rsp__x509_eid_range(eum, eid, has_org ? org : "", why, sizeof(why)) != RSP_OK)
    return fail(c, RSP_E_CERT_EID_OUT_OF_RANGE, 0, "%s", why);
  if (c->opts->expected_eid && memcmp(bcd, c->opts->expected_eid, RSP_EID_LEN) != 0) {
    if (rsp_eid_to_string(c->opts->expected_eid, want) != RSP_OK) snprintf(want, sizeof(want), "?");
    return fail(c, RSP_E_CERT_EID_MISMATCH, 0, "eUICC EID %s is not the expected %s", eid, want);
  }
  return RSP_OK;
}

/* ---- the paths ----------------------------------------------------------------------------- */

static bool opts_ok(const struct rsp_chain_opts *opts) {
  return !opts || !opts->ci_ski || (opts->ci_ski_len > 0 && opts->ci_ski_len <= RSP_KEYID_MAX);
}

rsp_err_t rsp_x509_verify_euicc_chain(const struct rsp_ci_store *cis, const struct rsp_cert *eum,
                                      const struct rsp_cert *euicc,
                                      const struct rsp_chain_opts *opts,
                                      struct rsp_chain_result *res) {
  struct chain c;
  const struct rsp_cert *ci = NULL;
  char eid[RSP_EID_DIGITS + 1] = "", s[SUBJECT_MAX];
  struct rsp_keyid ski = {{0}, 0};
  char h[HEX_MAX];
  rsp_err_t rc;

  if (!cis || !eum || !euicc || !opts_ok(opts)) return RSP_E_INVALID_ARG;
  chain_begin(&c, cis, opts, res);
  rc = find_ci(&c, eum, "EUM", 1, &ci);
  if (rc == RSP_OK) rc = check_time(&c, ci, "CI", 2);
  if (rc == RSP_OK) rc = check_link(&c, eum, "EUM", ci, 1);
  if (rc == RSP_OK) rc = check_time(&c, eum, "EUM", 1);
  if (rc == RSP_OK) rc = check_role(&c, eum, "EUM", RSP_ROLE_EUM, 1);
  if (rc == RSP_OK) rc = check_eum_ca(&c, eum);
  if (rc == RSP_OK) rc = check_link(&c, euicc, "eUICC", eum, 0);
  if (rc == RSP_OK) rc = check_time(&c, euicc, "eUICC", 0);
  if (rc == RSP_OK) rc = check_role(&c, euicc, "eUICC", RSP_ROLE_EUICC, 0);
  if (rc == RSP_OK) rc = check_end_entity(&c, euicc, "eUICC", 0);
  if (rc == RSP_OK) rc = check_eid(&c, eum, euicc, eid);
  if (rc != RSP_OK) return rc;
  rsp_cert_ski(ci, &ski);
  fail(&c, RSP_OK, -1, "EID %s, EUM %s, CI %s", eid, subject(eum, s), keyid_hex(&ski, h));
  return RSP_OK;
}

static bool is_server_role(enum rsp_cert_role role) {
  return role == RSP_ROLE_DP_TLS || role == RSP_ROLE_DP_AUTH || role == RSP_ROLE_DP_PB ||
         role == RSP_ROLE_DS_TLS || role == RSP_ROLE_DS_AUTH;
}

/* CI -> leaf for the server roles and for eIM certificates (want_role RSP_ROLE_UNKNOWN).
 * SGP.26 issues every SM-DP+ certificate, TLS included, directly under the CI. */
static rsp_err_t verify_leaf(struct chain *c, const struct rsp_cert *cert, const char *label,
                             enum rsp_cert_role want_role, bool tls) {
  const struct rsp_cert *ci = NULL;
  struct rsp_keyid ski = {{0}, 0};
  char s[SUBJECT_MAX], h[HEX_MAX];
  rsp_err_t rc;

  rc = find_ci(c, cert, label, 0, &ci);
  if (rc == RSP_OK) rc = check_time(c, ci, "CI", 1);
  if (rc == RSP_OK) rc = check_link(c, cert, label, ci, 0);
  if (rc == RSP_OK) rc = check_time(c, cert, label, 0);
  if (rc == RSP_OK) rc = check_role(c, cert, label, want_role, 0);
  if (rc == RSP_OK) rc = check_end_entity(c, cert, label, 0);
  if (rc == RSP_OK && tls) rc = check_tls_eku(c, cert, label);
  if (rc != RSP_OK) return rc;
  rsp_cert_ski(ci, &ski);
  fail(c, RSP_OK, -1, "%s %s, CI %s", label, subject(cert, s), keyid_hex(&ski, h));
  return RSP_OK;
}

rsp_err_t rsp_x509_verify_server_cert(const struct rsp_ci_store *cis, const struct rsp_cert *cert,
                                      enum rsp_cert_role role, const struct rsp_chain_opts *opts,
                                      struct rsp_chain_result *res) {
  struct chain c;
  bool tls = role == RSP_ROLE_DP_TLS || role == RSP_ROLE_DS_TLS;

  if (!cis || !cert || !is_server_role(role) || !opts_ok(opts)) return RSP_E_INVALID_ARG;
  chain_begin(&c, cis, opts, res);
  return verify_leaf(&c, cert, "server certificate", role, tls);
}

rsp_err_t rsp_pki_verify_eim_cert(const struct rsp_ci_store *cis, const struct rsp_cert *cert,
                                  bool tls, const struct rsp_chain_opts *opts,
                                  struct rsp_chain_result *res) {
  struct chain c;

  if (!cis || !cert || !opts_ok(opts)) return RSP_E_INVALID_ARG;
  chain_begin(&c, cis, opts, res);
  return verify_leaf(&c, cert, tls ? "eIM TLS certificate" : "eIM certificate", RSP_ROLE_UNKNOWN,
                     tls);
}
