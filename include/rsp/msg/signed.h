/* openrsp: the exact byte strings that RSP signatures cover (SGP.22 §5.7, SGP.32 §2.11, notes
 * section 4.3 and 3.1/3.4).
 *
 * Every builder works from the raw bytes of received or freshly encoded elements (the `raw` of a
 * decoded struct, or the output of rsp_msg_encode), never from a re-encoding, so a peer's
 * harmless encoding choices cannot break verification. The builders append to `out`. */
#ifndef RSP_MSG_SIGNED_H
#define RSP_MSG_SIGNED_H

#include <stdbool.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"

/* [APPLICATION 55] OCTET STRING: every RSP-level signature (euiccSignature1/2, smdpSign,
 * eimSignature, euiccSignEPR ...). */
#define RSP_MSG_TAG_SIGNATURE 0x5F37u
/* [APPLICATION 73] OCTET STRING: the one-time public keys (euiccOtpk, smdpOtpk). */
#define RSP_MSG_TAG_OTPK 0x5F49u

/* Length of an RSP-level ECDSA signature (r||s, TR-03111) inside 5F37. */
#define RSP_MSG_SIG_LEN 64u

/* The associationToken data object that follows signed SGP.32 data: `84 L token` (INTEGER,
 * minimal two's complement). Without a token for the association the eUICC and eIM use
 * `84 01 00` (SGP.32 §2.11.1.1 as quoted in the notes 3.1). */
struct rsp_msg_token {
  bool present;
  int64_t value;
};

/* eimSignature (EuiccPackageRequest), euiccSignEPR (EuiccPackageResultSigned) and euiccSignEPE
 * (EuiccPackageErrorSigned): DER(signed data) || associationToken DO. `data` is the complete TLV
 * of euiccPackageSigned / euiccPackageResultDataSigned / euiccPackageErrorDataSigned. The
 * v1.2 EPR rule was confirmed on a real test eUICC (notes 3.4); the EPE rule follows the same
 * spec text (docs/adr/0004). */
rsp_err_t rsp_msg_signed_with_token(struct rsp_slice data, struct rsp_msg_token token,
                                    struct rsp_buf *out);

/* smdpSignature2: DER(SmdpSigned2) || 5F37 40 euiccSignature1. `euicc_signature1` is the 64-byte
 * value (without 5F37). */
rsp_err_t rsp_msg_signed_smdp2(struct rsp_slice smdp_signed2, struct rsp_slice euicc_signature1,
                               struct rsp_buf *out);
/* euiccSignature2: DER(EUICCSigned2) || 5F37 40 smdpSignature2. */
rsp_err_t rsp_msg_signed_euicc2(struct rsp_slice euicc_signed2, struct rsp_slice smdp_signature2,
                                struct rsp_buf *out);
/* smdpSign of InitialiseSecureChannelRequest: every element of the BF23 content except the 5F37
 * signature (remoteOpId, transactionId, controlRefTemplate, smdpOtpk), in received order,
 * followed by `5F49 L euiccOtpk`. `isc` is the complete BF23 TLV; an SM-DP+ building one encodes
 * it with a placeholder signature first and patches the 64 bytes after signing. */
rsp_err_t rsp_msg_signed_isc(struct rsp_slice isc, struct rsp_slice euicc_otpk,
                             struct rsp_buf *out);
/* Signatures computed over one element exactly as received (serverSigned1, euiccSigned1,
 * ProfileInstallationResultData, NotificationMetadata, EuiccCancelSessionSigned): the input is
 * the element's complete TLV. This copies it after checking it is one well-formed TLV. */
rsp_err_t rsp_msg_signed_element(struct rsp_slice element, struct rsp_buf *out);

#endif
