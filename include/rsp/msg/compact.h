/* openrsp: the compact ESipa forms of minimizeEsipaBytes (SGP.32 §2.5, notes 2.5) and their
 * reconstruction.
 *
 * With minimizeEsipaBytes the IPA sends shorter forms of four eUICC answers to the eIM:
 *   AuthenticateServerResponse (BF38)   -> compactAuthenticateResponseOk (BF38 A2 ...)
 *   PrepareDownloadResponse (BF21)      -> compactDownloadResponseOk (BF21 A2 ...)
 *   ProfileInstallationResult (BF37)    -> compactProfileInstallationResult (A0 ...)
 *   OtherSignedNotification (30)        -> compactOtherSignedNotification (A1 ...)
 *   CancelSessionResponse (BF41)        -> compactCancelSessionResponseOk (BF41 A2 ...)
 * The eUICC signed the full SGP.22 structures, so the eIM must rebuild them byte for byte from
 * the compact form and what it knows of the session before it relays them over ES9+. The rules
 * are unconfirmed in the notes; the ones chosen here are docs/adr/0006-compact-esipa-forms.md.
 *
 * Everything here is pure: DER in, DER out (appended to `out`), no crypto. A compress function
 * copies an answer that has no compact form (an error answer, a PIR whose ISD-P AID does not fit
 * the AID rule) unchanged; an expand function copies a full form unchanged. Both check that the
 * input is one DER element of the expected type (RSP_E_DER_* otherwise) and that the context
 * holds what a reconstruction needs (RSP_E_INVALID_ARG naming nothing else). */
#ifndef RSP_MSG_COMPACT_H
#define RSP_MSG_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/msg/msg.h"

#define RSP_MSG_AID_MAX 16

/* How compactAid (2 bytes, "byte 14 and 15 of ISD-P AID") maps to the ISD-P AID: the AID is
 * `base` with the two bytes at `offset` (0-based) replaced. The default is the reading of the
 * spec's 1-based byte numbers that matches the ISD-P AIDs of real cards
 * (A0000005591010FFFFFFFF89 0000 XX00): base A0000005591010FFFFFFFF8900000000, offset 13. */
struct rsp_msg_compact_aid_rule {
  uint8_t base[RSP_MSG_AID_MAX];
  size_t len;    /* AID length, 5..16 */
  size_t offset; /* of the two compact bytes, offset + 2 <= len */
};

void rsp_msg_compact_aid_rule_default(struct rsp_msg_compact_aid_rule *r);

/* What the IPA leaves out (all false: only what the spec always removes). */
struct rsp_msg_compact_opts {
  bool omit_certificates; /* euiccCertificate/eumCertificate: the eIM has them (IpaEuiccData) */
  bool omit_ctx_params1;  /* ctxParams1 came from the eIM (eimCtxParams1Generation) */
  bool omit_hash_cc;      /* hashCc came from the eIM */
  bool omit_eid;          /* CompactOtherSignedNotification.eidValue */
  const struct rsp_msg_compact_aid_rule *aid; /* NULL: the default rule */
};

/* What the eIM knows of the session and the device, for the reconstruction. Slices are empty
 * (p == NULL) when unknown; a rule that needs an unknown value fails with RSP_E_INVALID_ARG. */
struct rsp_msg_compact_context {
  struct rsp_slice transaction_id;   /* the SM-DP+'s (serverSigned1.transactionId) */
  struct rsp_slice server_address;   /* serverSigned1.serverAddress */
  struct rsp_slice server_challenge; /* serverSigned1.serverChallenge, 16 bytes */
  struct rsp_slice euicc_info2;      /* the card's EUICCInfo2 (BF22 TLV, from IpaEuiccData) */
  struct rsp_slice ctx_params1; /* CtxParams1 TLV (A0 ...) the eIM gave, if the form has none */
  struct rsp_slice euicc_certificate; /* CERT.EUICC (30 TLV), if the form has none */
  struct rsp_slice eum_certificate;   /* CERT.EUM (30 TLV), if the form has none */
  struct rsp_slice hash_cc;           /* 32 bytes the eIM gave, if the form has none */
  struct rsp_slice bpp_euicc_otpk;    /* SmdpSigned2.bppEuiccOtpk, if the form has no euiccOtpk */
  struct rsp_slice smdp_oid; /* OID content octets of CERT.DPauth's registeredID (PIR, cancel) */
  struct rsp_slice notification_address; /* PIR notificationAddress; empty: server_address */
  struct rsp_slice iccid; /* 10 bytes (profileMetadata.iccid), for a PIR with iccidPresent */
  const struct rsp_msg_compact_aid_rule *aid; /* NULL: the default rule */
  /* CompactEuiccCancelSessionSigned without reason: this reason (present false: 127,
   * undefinedReason). */
  struct rsp_msg_int cancel_reason;
};

/* ---- IPA side: full (what the card answered) -> compact ---------------------------------------
 */

/* BF38 authenticateResponseOk -> BF38 compactAuthenticateResponseOk { compactEuiccSigned1 {
 * extCardResource, ctxParams1 }, euiccSignature1, certificates }. */
rsp_err_t rsp_msg_compact_auth_compress(const uint8_t *der, size_t len,
                                        const struct rsp_msg_compact_opts *o, struct rsp_buf *out);
/* BF21 downloadResponseOk -> BF21 compactDownloadResponseOk { { euiccOtpk, hashCc }, sig }. */
rsp_err_t rsp_msg_compact_prepare_compress(const uint8_t *der, size_t len,
                                           const struct rsp_msg_compact_opts *o,
                                           struct rsp_buf *out);
/* A pending notification (BF37 PIR or 30 OtherSignedNotification) -> the SGP32-PendingNotification
 * alternative A0 (compact PIR) or A1 (compact other). `eid` (16 bytes or empty) fills
 * eidValue of the compact other notification. */
rsp_err_t rsp_msg_compact_notification_compress(const uint8_t *der, size_t len,
                                                const struct rsp_msg_compact_opts *o,
                                                struct rsp_slice eid, struct rsp_buf *out);
/* BF41 cancelSessionResponseOk -> BF41 compactCancelSessionResponseOk { { reason }, sig }. */
rsp_err_t rsp_msg_compact_cancel_compress(const uint8_t *der, size_t len,
                                          const struct rsp_msg_compact_opts *o,
                                          struct rsp_buf *out);

/* ---- eIM side: compact + context -> the full SGP.22 structure the eUICC signed ----------------
 */

/* Any SGP32-AuthenticateServerResponse (BF38) -> SGP.22 AuthenticateServerResponse (BF38). */
rsp_err_t rsp_msg_compact_auth_expand(const uint8_t *der, size_t len,
                                      const struct rsp_msg_compact_context *c, struct rsp_buf *out);
/* Any SGP32-PrepareDownloadResponse (BF21) -> SGP.22 PrepareDownloadResponse (BF21). */
rsp_err_t rsp_msg_compact_prepare_expand(const uint8_t *der, size_t len,
                                         const struct rsp_msg_compact_context *c,
                                         struct rsp_buf *out);
/* Any SGP32-PendingNotification alternative (BF37, 30, A0, A1) -> BF37 or 30. */
rsp_err_t rsp_msg_compact_notification_expand(const uint8_t *der, size_t len,
                                              const struct rsp_msg_compact_context *c,
                                              struct rsp_buf *out);
/* Any SGP32-CancelSessionResponse, tagged BF41 or, as inside CancelSessionRequestEsipa, A1 (the
 * automatic tag replacing [65], notes 8.3) -> SGP.22 CancelSessionResponse (BF41). */
rsp_err_t rsp_msg_compact_cancel_expand(const uint8_t *der, size_t len,
                                        const struct rsp_msg_compact_context *c,
                                        struct rsp_buf *out);

/* The transactionId a pending notification carries (a full or compact PIR), as a slice into
 * `der`; empty for other notifications. RSP_E_DER_* when it is not a notification. */
rsp_err_t rsp_msg_compact_notification_transaction_id(const uint8_t *der, size_t len,
                                                      struct rsp_slice *out);

#endif
