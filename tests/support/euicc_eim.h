/* openrsp test support: a test eIM that signs eUICC packages with the eIM key of an rsp-pki
 * directory (eim/sign/{cert.der,key.pem}), for the software eUICC's tests. */
#ifndef RSP_TEST_EUICC_EIM_H
#define RSP_TEST_EUICC_EIM_H

#include <stdbool.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/crypto/signer.h"
#include "rsp/msg/asn1.h"

struct rsp_test_eim {
  struct rsp_signer *signer;
  struct rsp_buf cert; /* CERT of the eIM signing key, DER */
  int64_t token;       /* associationToken the card allocated (set by the caller) */
};

rsp_err_t rsp_test_eim_load(struct rsp_test_eim *e, const char *pki_dir);
void rsp_test_eim_free(struct rsp_test_eim *e);
/* AddInitialEimRequest (BF57) for one eIM with its certificate, the initial counter and
 * associationToken -1 (the card allocates one). */
rsp_err_t rsp_test_eim_add_initial(const struct rsp_test_eim *e, const char *eim_id,
                                   int64_t counter, struct rsp_buf *out);
/* The same with the eIM's address and TLS trust: eimFqdn `fqdn` (NULL: "eim.example") and
 * trustedPublicKeyDataTls: a certificate (the eIM's TLS certificate or its CA, DER) or, when
 * `tls_is_spki`, the eIM's TLS public key (SubjectPublicKeyInfo, DER); none when tls is NULL. */
rsp_err_t rsp_test_eim_add_initial_tls(const struct rsp_test_eim *e, const char *eim_id,
                                       int64_t counter, const char *fqdn, const uint8_t *tls,
                                       size_t tls_len, bool tls_is_spki, struct rsp_buf *out);
/* A signed EuiccPackageRequest (BF51) with PSMOs; `corrupt` flips a bit of the signature. */
rsp_err_t rsp_test_eim_package(const struct rsp_test_eim *e, const char *eim_id,
                               const uint8_t eid[16], int64_t counter,
                               const struct rsp_msg_psmo *ops, size_t n, bool corrupt,
                               struct rsp_buf *out);

/* The same for any EuiccPackage (PSMO or eCO list). */
rsp_err_t rsp_test_eim_package_any(const struct rsp_test_eim *e, const char *eim_id,
                                   const uint8_t eid[16], int64_t counter,
                                   const struct rsp_msg_euicc_package *pkg, bool corrupt,
                                   struct rsp_buf *out);

#endif
