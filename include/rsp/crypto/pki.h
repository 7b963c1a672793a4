/* openrsp: issuing RSP certificates, for tests and tooling (rsp-pki).
 *
 * The certificates are shaped like the GSMA SGP.26 test certificates: the same
 * extensions in the same order and criticality, the role policies of SGP.22
 * §4.5.2.1, SKI = SHA-1 of the public key (RFC 5280 §4.2.1.2 method 1), AKI =
 * the issuer's SKI, nameConstraints with the EIN on the EUM, the EID as subject
 * serialNumber of eUICC certificates, and SAN dNSName plus extendedKeyUsage
 * serverAuth/clientAuth on TLS certificates. Issuers sign through the signer
 * interface, so a CI key can stay in a separate signer process.
 *
 * eIM certificates (SGP.32) carry no RSP role: SGP.22 defines no eIM role
 * policy, and the eUICC takes the eIM key from eimPublicKeyData without path
 * validation. They are issued under the CI here so that a test deployment needs
 * a single trust anchor (EimConfigurationData.trustedCertificateTls may be a
 * CA certificate in SGP.32).
 */
#ifndef RSP_CRYPTO_PKI_H
#define RSP_CRYPTO_PKI_H

#include <stdbool.h>
#include <stdint.h>

#include "rsp/crypto/crypto.h"
#include "rsp/crypto/signer.h"
#include "rsp/crypto/x509.h"

#define RSP_PKI_MAX_CRL_URIS 2
#define RSP_PKI_EIN_MAX_DIGITS RSP_EID_DIGITS
/* notAfter 9999-12-31T23:59:59Z: "no well-defined expiration date" (RFC 5280 §4.1.2.5), the
 * usual validity of eUICC certificates. */
#define RSP_PKI_NO_EXPIRY INT64_C(253402300799)

/* What kind of certificate to issue; each profile fixes the extensions and the role policy. */
enum rsp_pki_profile {
  RSP_PKI_CI,       /* self-signed, CA, keyCertSign+cRLSign, policy .0 */
  RSP_PKI_EUM,      /* CA pathLen 0, keyCertSign, nameConstraints (EIN), policy .2 */
  RSP_PKI_EUICC,    /* digitalSignature, EID in subject serialNumber, policy .1 */
  RSP_PKI_DP_AUTH,  /* digitalSignature, policy .4 */
  RSP_PKI_DP_PB,    /* digitalSignature, policy .5 */
  RSP_PKI_DP_TLS,   /* digitalSignature, EKU serverAuth+clientAuth, SAN dNSName, policy .3 */
  RSP_PKI_DS_AUTH,  /* as DP_AUTH with policy .7 */
  RSP_PKI_DS_TLS,   /* as DP_TLS with policy .6 */
  RSP_PKI_EIM_SIGN, /* digitalSignature, no role policy (eUICC package signing, SGP.32) */
  RSP_PKI_EIM_TLS   /* as DP_TLS without role policy (ESipa over HTTPS) */
};

const char *rsp_pki_profile_name(enum rsp_pki_profile profile);
/* The role policy a profile carries; RSP_ROLE_UNKNOWN for the eIM profiles. */
enum rsp_cert_role rsp_pki_profile_role(enum rsp_pki_profile profile);

/* Strings are borrowed (they must outlive rsp_pki_issue); NULL or "" leaves a field out. */
struct rsp_cert_template {
  enum rsp_pki_profile profile;
  const char *country;       /* C */
  const char *org;           /* O; for an eUICC it must equal the EUM's permitted O */
  const char *org_unit;      /* OU */
  const char *common_name;   /* CN */
  const char *eid;           /* eUICC: the 32-digit EID, written as subject serialNumber */
  uint64_t serial;           /* 0: random positive 63-bit serial */
  int64_t not_before;        /* seconds since the epoch; 0: now minus one hour (clock skew) */
  int64_t not_after;         /* 0: the profile's default lifetime */
  const char *permitted_ein; /* EUM: serialNumber prefix of nameConstraints (e.g. "89049032") */
  const char *permitted_org; /* EUM: O of nameConstraints; NULL: the EUM's own O */
  const char *san_rid;       /* registeredID in subjectAltName (SGP.26 uses 2.999.n); NULL: none */
  const char *san_dns;       /* dNSName in subjectAltName (TLS profiles, required there) */
  const char *crl_uris[RSP_PKI_MAX_CRL_URIS]; /* crlDistributionPoints, one point per URI */
  bool unchecked; /* tests only: skip the issuer-side checks (EID range, issuer role) so that
                     negative test certificates can be built */
};

/* Fills t with the SGP.26-like defaults of the profile (names, SAN registeredID, lifetime). */
void rsp_pki_template_init(struct rsp_cert_template *t, enum rsp_pki_profile profile);

/* Issues a certificate for subject_key (its public half is certified).
 * issuer: the issuing certificate, NULL for a self-signed CI (then signer must hold the subject
 * key). signer: the issuer's private key. The issuer side enforces the RSP rules it can:
 * an eUICC's EID must lie in the EUM's nameConstraints (RSP_E_CERT_EID_OUT_OF_RANGE), the
 * issuer must have the right role (RSP_E_CERT_POLICY), curves must match (RSP_E_INVALID_ARG),
 * and the signer's key must be the issuer's (RSP_E_INVALID_ARG). */
rsp_err_t rsp_pki_issue(const struct rsp_cert_template *tpl, const struct rsp_key *subject_key,
                        const struct rsp_cert *issuer, struct rsp_signer *signer,
                        struct rsp_cert **out);

/* RFC 5280 §4.2.1.2 method 1 key identifier: SHA-1 of the subjectPublicKey BIT STRING value.
 * This is the SKI of every SGP.26 certificate, and the euiccCiPKId of a CI. */
rsp_err_t rsp_pki_key_id(const struct rsp_key *key, struct rsp_keyid *out);

/* The EID range an EUM certificate permits: serialNumber (EIN) and O of the first
 * directoryName in its nameConstraints permittedSubtrees (org may be NULL). RSP_E_NOT_FOUND
 * when there is none. */
rsp_err_t rsp_pki_eum_range(const struct rsp_cert *eum, char *ein, size_t ein_size, char *org,
                            size_t org_size);

/* Writes the certificate's DER bytes, or PEM ("CERTIFICATE") when pem is true. */
rsp_err_t rsp_pki_cert_write(const struct rsp_cert *cert, const char *path, bool pem);

/* CI -> eIM certificate (no RSP role): signature, AKI/issuer linkage, validity, end-entity
 * keyUsage digitalSignature; for tls also extendedKeyUsage serverAuth. */
rsp_err_t rsp_pki_verify_eim_cert(const struct rsp_ci_store *cis, const struct rsp_cert *cert,
                                  bool tls, const struct rsp_chain_opts *opts,
                                  struct rsp_chain_result *res);

/* ---- EID check digits (GSMA SGP.29, ISO/IEC 7064 MOD 97-10) -------------------------------- */
/* True when eid is 32 decimal digits and the whole number is 1 modulo 97. */
bool rsp_pki_eid_check_ok(const char *eid);
/* Replaces digits 31-32 of eid (its first 30 digits must be decimal) with the check digits. */
rsp_err_t rsp_pki_eid_set_check_digits(char eid[RSP_EID_DIGITS + 1]);

#endif
