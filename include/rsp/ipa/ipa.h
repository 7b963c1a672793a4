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

#define RSP_IPA_MAX_PACKAGES_PER_POLL 32 /* a misbehaving eIM cannot keep a device busy forever */

/* ESipa transport: sends one EsipaMessageFromIpaToEim (DER) and appends the eIM's
 * EsipaMessageFromEimToIpa to resp (empty for functions without an answer). */
struct rsp_ipa_esipa_ops {
  const char *name;
  rsp_err_t (*exchange)(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp);
};

/* The device around the IPA: is it attached to a network on the current profile, and time. */
struct rsp_ipa_platform_ops {
  bool (*attached)(void *ctx);
  int64_t (*now_ms)(void *ctx);
  void (*wait_ms)(void *ctx, int ms);
};

#define RSP_IPA_ROLLBACK_TIMEOUT_MS_DEFAULT 120000
#define RSP_IPA_ATTACH_POLL_MS 1000

struct rsp_ipa_stats {
  unsigned packages;      /* eUICC packages executed */
  unsigned data_requests; /* IpaEuiccDataRequests answered */
  unsigned triggers;      /* ProfileDownloadTriggerRequests received */
  unsigned acknowledged;  /* notifications/results removed after an acknowledgement */
  unsigned errors;        /* packages the eIM or the card refused */
  unsigned rollbacks;     /* profile switches undone because the new profile had no network */
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
};

/* Cannot fail. The APDU port must outlive the IPA. */
void rsp_ipa_init(struct rsp_ipa *ipa, struct rsp_apdu *card, const struct rsp_ipa_esipa_ops *ops,
                  void *ctx);
/* One cycle: opens the ISD-R, reads the EID, then GetEimPackage ... until nothing is left. */
rsp_err_t rsp_ipa_poll(struct rsp_ipa *ipa);

#endif
