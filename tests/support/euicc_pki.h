/* openrsp test support: the smallest PKI directory a software eUICC opens (rsp_euicc_open), made
 * in-process with lib/crypto, so unit tests and fuzz targets need no rsp-pki binary.
 *
 * Writes DIR/ci/cert.der, DIR/eum/cert.der and DIR/euicc/<EID>/{cert.der,key.pem} in the rsp-pki
 * layout (docs/pki.md); the certificates are shaped like SGP.26's. */
#ifndef RSP_TEST_EUICC_PKI_H
#define RSP_TEST_EUICC_PKI_H

#include <stddef.h>

#include "rsp/core/error.h"
#include "rsp/crypto/crypto.h"

/* EIDs inside the default EUM's EIN (89049032), with valid check digits. */
#define RSP_TEST_EID_1 "89049032123451234512345678901235"

/* Makes the PKI for the given EIDs (each must lie in the EIN 89049032) under dir, which must
 * exist. */
rsp_err_t rsp_test_euicc_pki(const char *dir, enum rsp_curve curve, const char *const *eids,
                             size_t n_eids);
/* Removes a directory tree made by a test (best effort). */
void rsp_test_rmtree(const char *dir);

#endif
