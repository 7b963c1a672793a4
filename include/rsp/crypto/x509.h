/* openrsp: X.509 certificates with the RSP rules (SGP.22 §4.5, SGP.26).
 *
 * Chains are verified by our own code rather than by X509_verify_cert: the EUM
 * certificates carry a nameConstraints extension (permitted O + serialNumber =
 * EIN prefix) that OpenSSL applies to the whole subject and so rejects every
 * valid eUICC certificate. The RSP rule is narrower: the eUICC's EID (subject
 * serialNumber) must start with the EUM's permitted serialNumber prefix and the
 * organisation must match.
 */
#ifndef RSP_CRYPTO_X509_H
#define RSP_CRYPTO_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/core/hex.h"
#include "rsp/crypto/crypto.h"

#define RSP_KEYID_MAX 32 /* SKI/AKI key identifiers are 20 bytes in practice */

/* Role policy OIDs under id-rspRole 2.23.146.1.2.1 (SGP.22 §4.5.2.1). */
enum rsp_cert_role {
  RSP_ROLE_UNKNOWN = -1,
  RSP_ROLE_CI = 0,
  RSP_ROLE_EUICC = 1,
  RSP_ROLE_EUM = 2,
  RSP_ROLE_DP_TLS = 3,
  RSP_ROLE_DP_AUTH = 4,
  RSP_ROLE_DP_PB = 5,
  RSP_ROLE_DS_TLS = 6,
  RSP_ROLE_DS_AUTH = 7
};

const char *rsp_cert_role_name(enum rsp_cert_role role);

struct rsp_cert; /* opaque, immutable after parse */

struct rsp_keyid {
  uint8_t id[RSP_KEYID_MAX];
  size_t len;
};

rsp_err_t rsp_cert_parse(const uint8_t *der, size_t len, struct rsp_cert **out); /* DER only */
/* Loads DER or PEM from a file. */
rsp_err_t rsp_cert_load_file(const char *path, struct rsp_cert **out);
void rsp_cert_free(struct rsp_cert *cert); /* NULL-safe */

/* The exact DER bytes the certificate was parsed from. */
struct rsp_slice rsp_cert_der(const struct rsp_cert *cert);
rsp_err_t rsp_cert_ski(const struct rsp_cert *cert, struct rsp_keyid *out); /* RSP_E_NOT_FOUND */
rsp_err_t rsp_cert_aki(const struct rsp_cert *cert, struct rsp_keyid *out); /* RSP_E_NOT_FOUND */
/* The public key (caller frees). */
rsp_err_t rsp_cert_public_key(const struct rsp_cert *cert, struct rsp_key **out);
enum rsp_curve rsp_cert_curve(const struct rsp_cert *cert);
/* The first RSP role policy found in certificatePolicies, RSP_ROLE_UNKNOWN if none. */
enum rsp_cert_role rsp_cert_role(const struct rsp_cert *cert);
/* Subject serialNumber attribute as a string (the EID for eUICC certs); RSP_E_NOT_FOUND. */
rsp_err_t rsp_cert_subject_serial(const struct rsp_cert *cert, char *out, size_t out_size);
/* notBefore/notAfter as seconds since the epoch. */
/* The registeredID of the subjectAltName (the SM-DP+ OID of CERT.DPauth/DPpb, SGP.22 §4.5.2),
 * as OBJECT IDENTIFIER content octets. RSP_E_NOT_FOUND when there is none. */
rsp_err_t rsp_cert_registered_id(const struct rsp_cert *cert, uint8_t *out, size_t out_size,
                                 size_t *out_len);
rsp_err_t rsp_cert_validity(const struct rsp_cert *cert, int64_t *not_before, int64_t *not_after);
/* Checks the certificate's signature with the issuer's public key. */
rsp_err_t rsp_cert_verify_signature(const struct rsp_cert *cert, const struct rsp_cert *issuer);
/* One-line subject, for logs. */
rsp_err_t rsp_cert_subject_string(const struct rsp_cert *cert, char *out, size_t out_size);

/* A set of trusted CI certificates, looked up by SKI (euiccCiPKId / AKI). */
struct rsp_ci_store;
rsp_err_t rsp_ci_store_new(struct rsp_ci_store **out);
/* Takes ownership of cert on success. The certificate must be a self-signed CI. */
rsp_err_t rsp_ci_store_add(struct rsp_ci_store *store, struct rsp_cert *cert);
rsp_err_t rsp_ci_store_add_file(struct rsp_ci_store *store, const char *path);
const struct rsp_cert *rsp_ci_store_find(const struct rsp_ci_store *store, const uint8_t *ski,
                                         size_t ski_len);
size_t rsp_ci_store_count(const struct rsp_ci_store *store);
const struct rsp_cert *rsp_ci_store_get(const struct rsp_ci_store *store, size_t i);
void rsp_ci_store_free(struct rsp_ci_store *store); /* NULL-safe */

struct rsp_chain_opts {
  int64_t now;           /* seconds since the epoch; 0 = current time */
  bool ignore_time;      /* skip expiry checks (test cards, offline cards) */
  const uint8_t *ci_ski; /* when set, the chain must end at this CI (euiccCiPKIdToBeUsed) */
  size_t ci_ski_len;
  const uint8_t *expected_eid; /* when set (16 bytes), the eUICC cert's EID must equal it */
};

/* Where a chain check failed: 0 = leaf, 1 = intermediate (EUM), 2 = CI. */
struct rsp_chain_result {
  int depth;
  char detail[160];
};

/* CI -> EUM -> eUICC (SGP.22 §4.5.2): signatures, validity, role policies, basicConstraints
 * (EUM is a CA with pathLen 0, eUICC is not a CA), keyUsage, and the EID range. */
rsp_err_t rsp_x509_verify_euicc_chain(const struct rsp_ci_store *cis, const struct rsp_cert *eum,
                                      const struct rsp_cert *euicc,
                                      const struct rsp_chain_opts *opts,
                                      struct rsp_chain_result *res);
/* CI -> SM-DP+ (or SM-DS) certificate for the given role (DP_AUTH, DP_PB, DP_TLS ...). */
rsp_err_t rsp_x509_verify_server_cert(const struct rsp_ci_store *cis, const struct rsp_cert *cert,
                                      enum rsp_cert_role role, const struct rsp_chain_opts *opts,
                                      struct rsp_chain_result *res);
/* The EID-in-range rule alone: eid (16 bytes BCD) against the EUM's name constraints. */
rsp_err_t rsp_x509_eid_in_eum_range(const struct rsp_cert *eum, const uint8_t eid[RSP_EID_LEN]);

#endif
