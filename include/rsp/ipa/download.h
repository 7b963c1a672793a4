/* openrsp IPA: profile download (the IPA in the LPA role, SGP.32 §3.2.3, SGP.22 §3.1.3).
 *
 * Direct: the SM-DP+ is reached through the ES9+ port (JSON binding: one POST of a JSON body to
 * a path, the answer's HTTP status and body). Indirect: the IPA runs the ES10b part on the card
 * and sends the ES9+-equivalent ESipa requests (InitiateAuthenticationRequestEsipa ...
 * HandleNotificationEsipa, CancelSessionRequestEsipa) to the eIM through the ESipa port of the
 * IPA; the eIM relays them to the SM-DP+. Both share every card step, so the core makes no OS
 * calls either way. */
#ifndef RSP_IPA_DOWNLOAD_H
#define RSP_IPA_DOWNLOAD_H

#include "rsp/ipa/ipa.h"

struct rsp_ipa_es9_ops {
  /* POSTs body (JSON) to path on the SM-DP+ at smdp_address (FQDN[:port]); *http_status and
   * resp receive its answer. */
  rsp_err_t (*call)(void *ctx, const char *smdp_address, const char *path,
                    const struct rsp_buf *body, int *http_status, struct rsp_buf *resp);
};

struct rsp_ipa_download_params {
  const char *smdp_address;      /* from the activation code or the default SM-DP+ */
  const char *matching_id;       /* NULL: none (default SM-DP+ / SM-DS event) */
  const char *confirmation_code; /* NULL: none */
  /* Indirect only: ProfileDownloadTriggerRequest.eimTransactionId, echoed in
   * InitiateAuthenticationRequestEsipa (empty: none). smdp_address may be NULL there when the
   * eIM keeps the activation code (eimDownloadDataHandling). */
  struct rsp_slice eim_transaction_id;
};

struct rsp_ipa_download_result {
  bool installed;
  const char *failed_step; /* which step failed (static text), NULL on success */
  uint8_t iccid[10];
  bool has_iccid;
  int64_t bpp_command_id; /* when the card refused the package */
  int64_t error_reason;
  struct rsp_buf pir; /* the ProfileInstallationResult as the card signed it (for the eIM) */
  bool indirect;      /* the download went through the eIM */
  /* ImmediateEnable after the install (ipa->immediate_enable): tried, and the card's
   * immediateEnableResult (0 ok, 1 notAvailable, 4 noSessionContext, 5 catBusy, 127). */
  bool immediate_enable_tried;
  int64_t immediate_enable_result;
};

void rsp_ipa_download_result_init(struct rsp_ipa_download_result *r);
void rsp_ipa_download_result_free(struct rsp_ipa_download_result *r);

/* Runs the whole download: GetEUICCChallenge, GetEUICCInfo1, initiateAuthentication,
 * AuthenticateServer, authenticateClient, PrepareDownload, getBoundProfilePackage,
 * LoadBoundProfilePackage, handleNotification, RemoveNotificationFromList. A failure after the
 * session started cancels it on the card and at the SM-DP+. Returns RSP_OK when the procedure
 * ran to its end (out->installed says whether the card installed the profile). */
rsp_err_t rsp_ipa_download(struct rsp_ipa *ipa, const struct rsp_ipa_es9_ops *es9, void *es9_ctx,
                           const struct rsp_ipa_download_params *p,
                           struct rsp_ipa_download_result *out);

/* The same download relayed by the eIM (SGP.32 §3.2.3.2) over ipa->esipa: the ES9+ functions
 * become InitiateAuthenticationRequestEsipa (with euiccInfo1 unless minimize_esipa_bytes),
 * AuthenticateClientRequestEsipa, GetBoundProfilePackageRequestEsipa and HandleNotificationEsipa
 * (the PIR); with minimize_esipa_bytes the card's answers go in their compact forms. A failure
 * after the session started cancels it on the card (CancelSession) and with
 * CancelSessionRequestEsipa. Same result and return value as rsp_ipa_download. */
rsp_err_t rsp_ipa_download_indirect(struct rsp_ipa *ipa, const struct rsp_ipa_download_params *p,
                                    struct rsp_ipa_download_result *out);

/* ---- SM-DS event retrieval (SGP.22 §3.6.2, the IPA in the LPA role; SGP.32 contactSmds) ------
 * GetEUICCChallenge, GetEUICCInfo1, ES11.InitiateAuthentication at the SM-DS, AuthenticateServer
 * (ctxParams1 without matchingId), ES11.AuthenticateClient: the SM-DS answers the events of the
 * card's EID. Each event names an SM-DP+ (rspServerAddress) and the matchingId to use there
 * (eventId). ES11 goes through the ES9+ port with the ES9+ paths and bodies, which is what LPAs
 * send to SM-DSs (docs/adr/0007-smds-es11-paths.md). */

#define RSP_IPA_SMDS_EVENTS_MAX 8
#define RSP_IPA_SMDS_FIELD_MAX 255 /* eventId, rspServerAddress */

struct rsp_ipa_smds_event {
  char event_id[RSP_IPA_SMDS_FIELD_MAX + 1];
  char rsp_server_address[RSP_IPA_SMDS_FIELD_MAX + 1];
};

struct rsp_ipa_smds_events {
  size_t n; /* the first RSP_IPA_SMDS_EVENTS_MAX events, in the SM-DS's order */
  struct rsp_ipa_smds_event v[RSP_IPA_SMDS_EVENTS_MAX];
  const char *failed_step; /* which step failed (static text), NULL on success */
};

/* Direct: ES11 through the ES9+ port to the SM-DS at smds_address (FQDN[:port]). RSP_OK when the
 * SM-DS answered; out->n may then be 0 (no event waits). A refusal of the SM-DS is RSP_E_STATE
 * (logged with its codes). */
rsp_err_t rsp_ipa_smds_events(struct rsp_ipa *ipa, const struct rsp_ipa_es9_ops *es9, void *es9_ctx,
                              const char *smds_address, struct rsp_ipa_smds_events *out);

/* Indirect (SGP.32 §3.2.3.2): the same card steps, the SM-DS reached through the eIM
 * (InitiateAuthenticationRequestEsipa with the SM-DS address, AuthenticateClientRequestEsipa),
 * which answers AuthenticateClientOkDSEsipa: its profileDownloadTrigger (an activation code) is
 * the event, absent when none waits. eim_transaction_id (may be empty) is the trigger's. */
rsp_err_t rsp_ipa_smds_events_indirect(struct rsp_ipa *ipa, const char *smds_address,
                                       struct rsp_slice eim_transaction_id,
                                       struct rsp_ipa_smds_events *out);

/* euiccCiPKIdentifierToBeUsed as an eIM may send it with minimizeEsipaBytes: "possibly truncated"
 * (SGP.32 InitiateAuthenticationOkEsipa, notes 2.1). A shorter identifier is the start of one of
 * the card's euiccCiPKIdListForSigning entries (EUICCInfo1, the DER `info1` the IPA read): *full
 * becomes that entry (pointing into info1) when exactly one matches. A full-length identifier
 * (20 bytes or more) is kept as it is. RSP_E_NOT_FOUND when no entry, RSP_E_STATE when several
 * entries match; RSP_E_DER_* for an info1 that does not decode. */
#define RSP_IPA_CI_PK_ID_LEN 20
rsp_err_t rsp_ipa_ci_pk_id_expand(const uint8_t *info1, size_t len, struct rsp_slice id,
                                  struct rsp_slice *full);

#endif
