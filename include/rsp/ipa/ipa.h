/* openrsp IPA core: the SGP.32 eIM package procedures of the IPAd (SGP.32 §3.3, notes 2 and 3).
 *
 * One poll cycle: GetEimPackage until the eIM has nothing more (noEimPackageAvailable), and for
 * each package: an EuiccPackageRequest is passed to the card (ES10b.LoadEuiccPackage) and its
 * result returned with ProvideEimPackageResult; an IpaEuiccDataRequest is answered from the card
 * (EUICCInfo, certificates, addresses, notifications, package results); the eIM's
 * EimAcknowledgements are applied with RemoveNotificationFromList. The card is reached through
 * the ES10 client, the eIM through the ESipa port (ASN.1 binding: one DER message in, one out),
 * so the core makes no OS calls. */
#ifndef RSP_IPA_IPA_H
#define RSP_IPA_IPA_H

#include "rsp/ipa/es10.h"
#include "rsp/msg/compact.h"

#define RSP_IPA_MAX_PACKAGES_PER_POLL 32 /* a misbehaving eIM cannot keep a device busy forever */
/* Hard cap of one ESipa message in either direction (a bound profile package is the largest). */
#define RSP_IPA_ESIPA_MAX (4u * 1024u * 1024u)

/* ESipa transport: sends one EsipaMessageFromIpaToEim (DER) and appends the eIM's
 * EsipaMessageFromEimToIpa to resp (empty for functions without an answer). */
struct rsp_ipa_esipa_ops {
  const char *name;
  rsp_err_t (*exchange)(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp);
};

/* The device around the IPA: is it attached to a network on the current profile, and time.
 * now_ms is a monotonic clock; wall_ms (optional) the calendar time in ms since 1970, which
 * survives a restart of the device: with it, a rollback watchdog interrupted by a restart
 * resumes with the time that was left, without it with the whole timeout again. */
struct rsp_ipa_platform_ops {
  bool (*attached)(void *ctx);
  int64_t (*now_ms)(void *ctx);
  void (*wait_ms)(void *ctx, int ms);
  int64_t (*wall_ms)(void *ctx);
};

/* Small persistent storage (a few records of at most RSP_IPA_RECORD_MAX bytes, by name): what
 * the IPA must remember across a restart of the daemon or the device. load appends the record
 * to `out` (RSP_E_NOT_FOUND when there is none); save replaces it atomically (a crash leaves the
 * old or the new record, never a mix); erase removes it (no error when absent). Records used:
 * "rollback" (an armed rollback watchdog) and "state-change" (a notifyStateChange still owed to
 * the eIM). Without storage the IPA keeps them in memory only. docs/ipa.md, "Porting". */
#define RSP_IPA_RECORD_MAX 256
struct rsp_ipa_storage_ops {
  rsp_err_t (*load)(void *ctx, const char *name, struct rsp_buf *out);
  rsp_err_t (*save)(void *ctx, const char *name, const uint8_t *data, size_t len);
  rsp_err_t (*erase)(void *ctx, const char *name);
};

#define RSP_IPA_ROLLBACK_TIMEOUT_MS_DEFAULT 120000
#define RSP_IPA_ATTACH_POLL_MS 1000

struct rsp_ipa_stats {
  unsigned packages;           /* eUICC packages executed */
  unsigned data_requests;      /* IpaEuiccDataRequests answered */
  unsigned triggers;           /* ProfileDownloadTriggerRequests received */
  unsigned acknowledged;       /* notifications/results removed after an acknowledgement */
  unsigned errors;             /* packages the eIM or the card refused */
  unsigned rollbacks;          /* profile switches undone because the new profile had no network */
  unsigned indirect_downloads; /* downloads relayed by the eIM (ESipa), any outcome */
  unsigned immediate_enables;  /* profiles enabled by ImmediateEnable after install */
  unsigned immediate_enable_refusals; /* ImmediateEnable answered other than ok */
  unsigned redelivered;     /* package results delivered again (an earlier delivery failed) */
  unsigned notifications;   /* pending notifications handed to the eIM (HandleNotification) */
  unsigned smds_retrievals; /* SM-DS event retrievals (contactSmds triggers), any outcome */
};

/* Who talks to the SM-DP+ when the eIM triggers a download (SGP.32 §3.2.3, notes 1.3).
 * AUTO: indirect when no ES9+ port is configured, or when the card's eIM configuration
 * (GetEimConfigurationData; the entry of `eim_id`, or any entry when it is NULL) has
 * indirectProfileDownload; direct otherwise. DIRECT: the IPA's configuration does not allow
 * indirect download (without an ES9+ port the trigger is answered with profileDownloadError).
 * INDIRECT: always through the eIM. docs/ipa.md. */
enum rsp_ipa_download_mode {
  RSP_IPA_DOWNLOAD_AUTO = 0,
  RSP_IPA_DOWNLOAD_DIRECT,
  RSP_IPA_DOWNLOAD_INDIRECT,
};

struct rsp_ipa_es9_ops; /* include/rsp/ipa/download.h */

struct rsp_ipa {
  struct rsp_es10_client es10;
  const struct rsp_ipa_esipa_ops *esipa;
  void *esipa_ctx;
  uint8_t eid[16];
  bool have_eid;
  struct rsp_ipa_stats stats;
  /* Rollback watchdog (SGP.32 §3.2.x, notes 3.9): after an enable granted with rollbackFlag, if
   * the device is not attached on the new profile within rollback_timeout_ms, ProfileRollback
   * and the result (with rollbackResult) is delivered on the previous profile. Without a
   * platform the IPA assumes it is attached. */
  /* ES9+ port for direct downloads (ProfileDownloadTriggerRequest); NULL: triggers are answered
   * with profileDownloadError undefinedError. */
  const struct rsp_ipa_es9_ops *es9;
  void *es9_ctx;
  const struct rsp_ipa_platform_ops *platform;
  void *platform_ctx;
  int64_t rollback_timeout_ms;
  /* Persistent records (see rsp_ipa_storage_ops); NULL: none. */
  const struct rsp_ipa_storage_ops *storage;
  void *storage_ctx;
  /* Indirect download (download.h): mode selection, and the eIM whose configuration counts. */
  enum rsp_ipa_download_mode download_mode;
  const char *eim_id; /* NULL: any eIM configured on the card */
  /* minimizeEsipaBytes (SGP.32 §2.5): no euiccInfo1 in InitiateAuthentication, the compact forms
   * of the card's answers (rsp/msg/compact.h) with these options. Default false. */
  bool minimize_esipa_bytes;
  struct rsp_msg_compact_opts compact;
  /* ImmediateEnable (ES10b, BF5A) after a successful install; the card refuses it unless
   * ConfigureImmediateProfileEnabling (or the PSMO) allowed it. Default false. */
  bool immediate_enable;
  /* Set after an immediate enable: the next GetEimPackage carries notifyStateChange with
   * stateChangeCause immediateEnableProfile (SGP.32 StateChangeCause 5); cleared once sent. */
  bool notify_state_change;
  int64_t state_change_cause;
};

/* Cannot fail. The APDU port must outlive the IPA. */
void rsp_ipa_init(struct rsp_ipa *ipa, struct rsp_apdu *card, const struct rsp_ipa_esipa_ops *ops,
                  void *ctx);
/* One cycle: opens the ISD-R, reads the EID, then GetEimPackage ... until nothing is left. */
rsp_err_t rsp_ipa_poll(struct rsp_ipa *ipa);

#endif
