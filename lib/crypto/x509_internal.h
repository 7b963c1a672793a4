/* openrsp lib/crypto: what x509.c shares with chain.c and pki.c (never included by apps). */
#ifndef RSP_CRYPTO_X509_INTERNAL_H
#define RSP_CRYPTO_X509_INTERNAL_H

#include <openssl/x509.h>

#include "rsp/crypto/x509.h"

/* RSP certificates are a few hundred bytes (SGP.22 §4.5.2); anything past this cap is refused
 * before OpenSSL sees it. */
#define RSP_CERT_DER_MAX (16 * 1024)
/* The dotted prefix of the role policies, id-rspRole (SGP.22 §4.5.2.1, RSPDefinitions). */
#define RSP_ROLE_OID_PREFIX "2.23.146.1.2.1."

/* The parsed certificate, owned by the rsp_cert. Not const only because OpenSSL's getters
 * (X509_get_extension_flags, X509_get_key_usage ...) take non-const pointers: never modify it. */
X509 *rsp__cert_x509(const struct rsp_cert *cert);
/* An X509_NAME attribute (first of its kind) as UTF-8: RSP_E_NOT_FOUND when absent,
 * RSP_E_CERT_PARSE when it holds a NUL or cannot be converted, RSP_E_BUF_SMALL. */
rsp_err_t rsp__x509_name_get(const X509_NAME *name, int nid, char *out, size_t out_size);
/* Upper-case hex of a key identifier for log lines (truncated to fit out). */
void rsp__keyid_hex(const struct rsp_keyid *id, char *out, size_t out_size);
bool rsp__keyid_equal(const struct rsp_keyid *a, const uint8_t *b, size_t b_len);

/* The EID range rule (chain.c): eid (32 digits) against the EUM's nameConstraints; org, when not
 * NULL, must equal the permitted O. RSP_E_CERT_EID_OUT_OF_RANGE with a reason in why. */
rsp_err_t rsp__x509_eid_range(const struct rsp_cert *eum, const char *eid, const char *org,
                              char *why, size_t why_size);

#endif
