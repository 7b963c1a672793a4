/* openrsp: the SM-DP+ side of the SGP.22 profile download (SGP.22 §3.1.3, §5.6, notes 4 and 6),
 * as pure functions without network, for the SM-DP+ server and the tests.
 *
 * The download in the order of the calls (the ES9+ function each step serves in brackets):
 *   rsp_smdp_server_signed1_make                  serverSigned1, serverSignature1
 * [initiateAuthentication] rsp_smdp_authenticate_server_request_build    what the LPA/IPA sends to
 * the card (BF38) rsp_smdp_authenticate_server_response_verify  the card's answer
 * [authenticateClient] rsp_smdp_signed2_make                         smdpSigned2, smdpSignature2
 * [authenticateClient] rsp_smdp_prepare_download_request_build       what the LPA/IPA sends to the
 * card (BF21) rsp_smdp_prepare_download_response_verify     the card's answer
 * [getBoundProfilePackage] rsp_smdp_bind_profile                         the Bound Profile Package
 * (BF36) rsp_smdp_pir_verify                           ProfileInstallationResult
 * [handleNotification] rsp_smdp_cancel_session_response_verify       the card's CancelSession
 * answer [cancelSession] rsp_msg_bpp_split (rsp/msg/bpp.h) cuts the BPP into the card's
 * LoadBoundProfilePackage calls.
 *
 * One struct rsp_smdp_session carries the state of one download between the steps; the steps
 * form a state machine (enum rsp_smdp_stage) and a call in the wrong stage is RSP_E_STATE.
 * Private keys are reached only through the identity's signers.
 *
 * Return values: rsp_err_t is for failures to evaluate (malformed input, out of memory, a call
 * in the wrong stage). A message that was understood but must be refused is RSP_OK with the
 * outcome in struct rsp_smdp_status: the ES9+ subjectCode/reasonCode the SM-DP+ answers with
 * (notes 6), or the error code the card itself reported. */
#ifndef RSP_SMDP_BIND_H
#define RSP_SMDP_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/core/hex.h"
#include "rsp/crypto/crypto.h"
#include "rsp/crypto/signer.h"
#include "rsp/crypto/x509.h"
#include "rsp/msg/asn1.h"

#define RSP_SMDP_TRANSACTION_ID_LEN 16   /* what this SM-DP+ generates (TransactionId: 1..16) */
#define RSP_SMDP_CHALLENGE_LEN 16        /* euiccChallenge, serverChallenge (Octet16) */
#define RSP_SMDP_TAC_LEN 4               /* DeviceInfo.tac (Octet4) */
#define RSP_SMDP_ADDRESS_MAX 255         /* serverAddress (FQDN) */
#define RSP_SMDP_MATCHING_ID_MAX 255     /* ctxParams1 matchingId kept in the session */
#define RSP_SMDP_OID_MAX 64              /* SM-DP+ OID, OBJECT IDENTIFIER content octets */
#define RSP_SMDP_HASH_CC_LEN 32          /* hashCc (Octet32) */
#define RSP_SMDP_UPP_MAX (1024u * 1024u) /* largest unprotected profile package bound */
/* hostId of the CRT when the caller gives none (1..16 bytes, SGP.22 §2.6.4.2). */
#define RSP_SMDP_HOST_ID_DEFAULT "openrsp-smdp"

/* ES9+ statusCodeData (SGP.22 §5.6, Tables 49 and 51): the codes of notes 6, and those
 * osmo-smdpp cites from SGP.22 for the EUM certificate, expiry, the CI and the confirmation
 * code (docs/smdp.md). */
#define RSP_SMDP_SUBJECT_EUICC "8.1"               /* eUICC: signature or challenge */
#define RSP_SMDP_SUBJECT_EUM_CERT "8.1.2"          /* EUM certificate */
#define RSP_SMDP_SUBJECT_EUICC_CERT "8.1.3"        /* eUICC certificate */
#define RSP_SMDP_SUBJECT_EID_RANGE "8.1.4"         /* EID outside the EUM's range (osmo-smdpp) */
#define RSP_SMDP_SUBJECT_CONFIRMATION_CODE "8.2.7" /* hashCc */
#define RSP_SMDP_SUBJECT_SMDP_OID "8.8"            /* SM-DP+ OID (CancelSession) */
#define RSP_SMDP_SUBJECT_TRANSACTION_ID "8.10.1"   /* TransactionId */
#define RSP_SMDP_SUBJECT_CI_PK "8.11.1"            /* CI public key */
#define RSP_SMDP_REASON_MISSING "2.2"
#define RSP_SMDP_REASON_REFUSED "3.8"
#define RSP_SMDP_REASON_UNKNOWN "3.9"
#define RSP_SMDP_REASON_INVALID "3.10"
#define RSP_SMDP_REASON_VERIFICATION_FAILED "6.1"
#define RSP_SMDP_REASON_EXPIRED "6.3"

/* The SM-DP+ as one PKI directory holds it (docs/pki.md): SK.DPauth and SK.DPpb behind signers,
 * their certificates, the CI it chains to. An SM-DS's identity (rsp_smds_identity_load, smds.h)
 * has SK.DSauth and CERT.DSauth as auth and no pb: it only makes serverSigned1 and verifies the
 * card's AuthenticateServerResponse. */
struct rsp_smdp_identity {
  struct rsp_signer *auth;       /* SK.DPauth.ECDSA */
  struct rsp_signer *pb;         /* SK.DPpb.ECDSA */
  struct rsp_cert *auth_cert;    /* CERT.DPauth.ECDSA */
  struct rsp_cert *pb_cert;      /* CERT.DPpb.ECDSA */
  struct rsp_ci_store *cis;      /* the CI: eUICC chains are verified to it */
  struct rsp_keyid ci_ski;       /* its SKI: euiccCiPKIdToBeUsed */
  uint8_t oid[RSP_SMDP_OID_MAX]; /* SM-DP+ OID (subjectAltName registeredID of CERT.DPauth) */
  size_t oid_len;
  bool ignore_cert_time; /* accept expired eUICC certificates (test cards) */
};

/* Loads DIR/smdp/auth/{cert.der,key.pem}, DIR/smdp/pb/{cert.der,key.pem} and DIR/ci/cert.der
 * and checks that each key matches its certificate. */
rsp_err_t rsp_smdp_identity_load(const char *pki_dir, struct rsp_smdp_identity **out);
void rsp_smdp_identity_destroy(struct rsp_smdp_identity *id); /* NULL-safe */

enum rsp_smdp_stage {
  RSP_SMDP_STAGE_NEW = 0,       /* nothing sent yet */
  RSP_SMDP_STAGE_AUTH_SENT,     /* serverSigned1 made */
  RSP_SMDP_STAGE_AUTHENTICATED, /* AuthenticateServerResponse verified */
  RSP_SMDP_STAGE_PREPARE_SENT,  /* smdpSigned2 made */
  RSP_SMDP_STAGE_PREPARED,      /* PrepareDownloadResponse verified, otPK.EUICC known */
  RSP_SMDP_STAGE_BOUND,         /* Bound Profile Package made */
  RSP_SMDP_STAGE_CLOSED         /* refused or cancelled: the session is over */
};

/* One download, from the SM-DP+'s point of view. Plain data except euicc_pk. */
struct rsp_smdp_session {
  enum rsp_smdp_stage stage;
  uint8_t transaction_id[RSP_SMDP_TRANSACTION_ID_LEN];
  size_t transaction_id_len;
  uint8_t euicc_challenge[RSP_SMDP_CHALLENGE_LEN];
  uint8_t server_challenge[RSP_SMDP_CHALLENGE_LEN];
  char server_address[RSP_SMDP_ADDRESS_MAX + 1];
  /* from AuthenticateServerResponse */
  uint8_t eid[RSP_EID_LEN];
  enum rsp_curve euicc_curve; /* curve of CERT.EUICC */
  struct rsp_key *euicc_pk;   /* PK.EUICC.ECDSA (owned) */
  uint8_t euicc_signature1[RSP_SIG_RAW_LEN];
  uint8_t matching_id[RSP_SMDP_MATCHING_ID_MAX]; /* ctxParams1 matchingId as received */
  size_t matching_id_len;
  bool has_matching_id;
  /* PrepareDownload */
  bool cc_required;
  uint8_t hash_cc[RSP_SMDP_HASH_CC_LEN]; /* the value the card must send when cc_required */
  uint8_t smdp_signature2[RSP_SIG_RAW_LEN];
  uint8_t euicc_otpk[RSP_EC_POINT_LEN]; /* otPK.EUICC.ECKA */
};

void rsp_smdp_session_init(struct rsp_smdp_session *s); /* cannot fail */
void rsp_smdp_session_free(struct rsp_smdp_session *s); /* NULL-safe, idempotent */

/* The outcome of verifying one of the card's answers. */
struct rsp_smdp_status {
  bool ok;
  const char *subject; /* ES9+ subjectCode when we refuse (RSP_SMDP_SUBJECT_*), else NULL */
  const char *reason;  /* ES9+ reasonCode (RSP_SMDP_REASON_*), else NULL */
  int64_t euicc_error; /* the card's own error code when it answered with an error, else 0 */
  char detail[160];    /* for logs */
};

/* ---- AuthenticateServer ---- */

/* ES9+.InitiateAuthentication: a fresh transactionId and serverChallenge, DER ServerSigned1
 * appended to server_signed1, serverSignature1 (SK.DPauth over that DER) in signature.
 * server_address must be 1..RSP_SMDP_ADDRESS_MAX bytes. NEW -> AUTH_SENT. */
rsp_err_t rsp_smdp_server_signed1_make(const struct rsp_smdp_identity *id,
                                       struct rsp_smdp_session *s,
                                       const uint8_t euicc_challenge[RSP_SMDP_CHALLENGE_LEN],
                                       const char *server_address, struct rsp_buf *server_signed1,
                                       uint8_t signature[RSP_SIG_RAW_LEN]);

/* What the LPA/IPA puts into AuthenticateServerRequest: the SM-DP+'s four values as received
 * (notes 6) and its own ctxParams1. */
struct rsp_smdp_authenticate_server_parts {
  struct rsp_slice server_signed1;     /* DER ServerSigned1, kept byte for byte */
  struct rsp_slice server_signature1;  /* 64 bytes */
  struct rsp_slice euicc_ci_pk_id;     /* SubjectKeyIdentifier value */
  struct rsp_slice server_certificate; /* DER CERT.DPauth */
  struct rsp_slice matching_id;        /* UTF-8; p == NULL: absent */
  uint8_t tac[RSP_SMDP_TAC_LEN];       /* DeviceInfo.tac; deviceCapabilities are sent empty */
};

/* Appends BF38 { serverSigned1, 5F37 serverSignature1, 04 euiccCiPKIdToBeUsed,
 * serverCertificate, A0 ctxParamsForCommonAuthentication { 80 matchingId OPT, A1 deviceInfo } }
 * (ES10b.AuthenticateServer, SGP.22 §5.7.13), as an LPA assembles it. */
rsp_err_t
rsp_smdp_authenticate_server_request_build(const struct rsp_smdp_authenticate_server_parts *parts,
                                           struct rsp_buf *out);

/* ES9+.AuthenticateClient: checks the card's AuthenticateServerResponse (BF38): the chain
 * CI -> EUM -> eUICC to our CI with the EID in the EUM's range, euiccSignature1 over the
 * received euiccSigned1, and the echo of transactionId and serverChallenge. On success the
 * session holds the EID, PK.EUICC and its curve (AUTH_SENT -> AUTHENTICATED); a refusal sets
 * st->subject/reason (or st->euicc_error for the card's own error) and ends the session. */
rsp_err_t rsp_smdp_authenticate_server_response_verify(const struct rsp_smdp_identity *id,
                                                       struct rsp_smdp_session *s,
                                                       const uint8_t *der, size_t len,
                                                       struct rsp_smdp_status *st);

/* ---- PrepareDownload ---- */

/* hashCc = SHA-256(SHA-256(confirmationCode) || transactionId) (notes 4.3). */
rsp_err_t rsp_smdp_hash_cc(struct rsp_slice confirmation_code, struct rsp_slice transaction_id,
                           uint8_t out[RSP_SMDP_HASH_CC_LEN]);

/* ES9+.AuthenticateClient answer: smdpSigned2 {transactionId, ccRequiredFlag, bppEuiccOtpk OPT}
 * appended to smdp_signed2 and smdpSignature2 (SK.DPpb over smdpSigned2 || 5F37 40
 * euiccSignature1) in signature. A confirmation code (p != NULL) sets ccRequiredFlag and makes
 * the session expect its hashCc. bpp_euicc_otpk (p != NULL) names the otPK.EUICC of a BPP bound
 * before (retry). AUTHENTICATED -> PREPARE_SENT. */
rsp_err_t rsp_smdp_signed2_make(const struct rsp_smdp_identity *id, struct rsp_smdp_session *s,
                                struct rsp_slice confirmation_code, struct rsp_slice bpp_euicc_otpk,
                                struct rsp_buf *smdp_signed2, uint8_t signature[RSP_SIG_RAW_LEN]);

struct rsp_smdp_prepare_download_parts {
  struct rsp_slice smdp_signed2;     /* DER SmdpSigned2, kept byte for byte */
  struct rsp_slice smdp_signature2;  /* 64 bytes */
  struct rsp_slice hash_cc;          /* 32 bytes; p == NULL: absent */
  struct rsp_slice smdp_certificate; /* DER CERT.DPpb */
};

/* Appends BF21 { smdpSigned2, 5F37 smdpSignature2, 04 hashCc OPT, smdpCertificate }
 * (ES10b.PrepareDownload, SGP.22 §5.7.14), as an LPA assembles it. */
rsp_err_t
rsp_smdp_prepare_download_request_build(const struct rsp_smdp_prepare_download_parts *parts,
                                        struct rsp_buf *out);

/* ES9+.GetBoundProfilePackage: checks the card's PrepareDownloadResponse (BF21):
 * euiccSignature2 over euiccSigned2 || 5F37 40 smdpSignature2, the transactionId, hashCc when a
 * confirmation code is required, and keeps otPK.EUICC.ECKA (a valid point on the curve of
 * CERT.DPpb, where the card makes its one-time key). PREPARE_SENT -> PREPARED. */
rsp_err_t rsp_smdp_prepare_download_response_verify(const struct rsp_smdp_identity *id,
                                                    struct rsp_smdp_session *s, const uint8_t *der,
                                                    size_t len, struct rsp_smdp_status *st);

/* ---- binding ---- */

struct rsp_smdp_profile {
  const struct rsp_msg_sgp32_store_metadata_request *metadata; /* becomes StoreMetadata (BF25) */
  struct rsp_slice upp;      /* the unprotected profile package (any DER) */
  bool replace_session_keys; /* add ReplaceSessionKeys (A2) with random PPKs */
  struct rsp_slice host_id;  /* CRT hostId, 1..16 bytes; p == NULL: RSP_SMDP_HOST_ID_DEFAULT */
};

/* Binds the profile to the session (SGP.22 §2.5.3 to §2.5.5, notes 4.4, 4.5): a one-time key
 * pair on the curve of otPK.EUICC, InitialiseSecureChannelRequest signed with SK.DPpb, the
 * session keys, ConfigureISDP (one 87 in A0), StoreMetadata (88 segments in A1), optionally
 * ReplaceSessionKeys (one 87 in A2, the 86 segments then use the PPKs with the block counter
 * restarted at 1) and the package in 86 segments (A3). Appends the complete BF36 to bpp.
 * PREPARED -> BOUND. */
rsp_err_t rsp_smdp_bind_profile(const struct rsp_smdp_identity *id, struct rsp_smdp_session *s,
                                const struct rsp_smdp_profile *p, struct rsp_buf *bpp);

/* ---- after the download ---- */

struct rsp_smdp_pir {
  uint8_t transaction_id[RSP_SMDP_TRANSACTION_ID_LEN];
  size_t transaction_id_len;
  int64_t seq_number;
  uint8_t iccid[RSP_ICCID_LEN];
  bool has_iccid;
  bool success;
  uint8_t aid[16]; /* success: the ISD-P AID */
  size_t aid_len;
  int64_t bpp_command_id; /* failure: BppCommandId */
  int64_t error_reason;   /* failure: ErrorReason */
};

/* Verifies a ProfileInstallationResult (BF37): euiccSignPIR over the received
 * ProfileInstallationResultData with PK.EUICC (RSP_E_SIG_INVALID when wrong), and reports the
 * result. expected_transaction_id (p != NULL) must match (RSP_E_STATE otherwise). */
rsp_err_t rsp_smdp_pir_verify(const struct rsp_key *euicc_pk,
                              struct rsp_slice expected_transaction_id, const uint8_t *der,
                              size_t len, struct rsp_smdp_pir *out);

/* ES9+.CancelSession: verifies the card's CancelSessionResponse (BF41): euiccCancelSessionSignature
 * over euiccCancelSessionSigned with the session's PK.EUICC, its transactionId and our OID.
 * *reason gets the CancelSessionReason. A signed cancel ends the session. */
rsp_err_t rsp_smdp_cancel_session_response_verify(const struct rsp_smdp_identity *id,
                                                  struct rsp_smdp_session *s, const uint8_t *der,
                                                  size_t len, int64_t *reason,
                                                  struct rsp_smdp_status *st);

#endif
