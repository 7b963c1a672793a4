/* lib/euicc internals: the card's durable and volatile state and the functions the files of the
 * library share. */
#ifndef RSP_EUICC_EUICC_INTERNAL_H
#define RSP_EUICC_EUICC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "rsp/core/arena.h"
#include "rsp/core/buf.h"
#include "rsp/core/hex.h"
#include "rsp/crypto/crypto.h"
#include "rsp/crypto/signer.h"
#include "rsp/crypto/x509.h"
#include "rsp/euicc/euicc.h"
#include "rsp/msg/asn1.h"

/* Capacities of one card (a real IoT eUICC holds a handful of profiles). */
#define EUICC_MAX_PROFILES 16
#define EUICC_MAX_NOTIFICATIONS 64 /* pending notifications and eUICC package results */
#define EUICC_MAX_EIMS 8
#define EUICC_MAX_ADDRESS 255
/* SGP.32 §2.11.1.1: an eUICC handles counter values up to at least 0x7FFFFF. */
#define EUICC_COUNTER_MAX 0x7FFFFF
/* Largest ES10 request or response the card handles in one STORE DATA sequence. */
#define EUICC_MAX_COMMAND (64u * 1024u)

/* ProfileState (SGP.22): disabled(0), enabled(1). */
#define EUICC_PROFILE_DISABLED 0
#define EUICC_PROFILE_ENABLED 1

struct euicc_profile {
  uint8_t iccid[RSP_ICCID_LEN];
  uint8_t aid[16];
  int state;
  bool fallback_attribute;
  char nickname[65];
  struct rsp_buf metadata; /* StoreMetadataRequest (BF25) as installed: names, class, PPRs ... */
  uint8_t upp_hash[32];    /* SHA-256 of the profile package as installed */
  uint64_t upp_len;
};

/* A pending notification or eUICC package result, kept until RemoveNotificationFromList. */
struct euicc_notification {
  int64_t seq;
  bool is_epr;    /* an EuiccPackageResult (BF51) rather than a PendingNotification */
  uint32_t event; /* NotificationEvent bits (install 0, enable 1, disable 2, delete 3) */
  char address[EUICC_MAX_ADDRESS + 1];
  uint8_t iccid[RSP_ICCID_LEN];
  bool has_iccid;
  char eim_id[129];   /* for EPRs: the eIM it belongs to */
  struct rsp_buf raw; /* the signed object exactly as it will be delivered */
};

struct euicc_eim {
  char eim_id[129];
  struct rsp_buf config; /* EimConfigurationData (30 ...) as stored, counterValue as configured */
  int64_t counter;       /* last accepted counterValue */
  bool has_token;
  int64_t token; /* associationToken */
};

/* Everything that survives a power cycle. Serialised as a whole (JSON) at every commit. */
struct euicc_state {
  int64_t next_seq;   /* notification / EPR sequence numbers, never reused */
  int64_t next_token; /* associationToken allocation */
  uint32_t next_aid;  /* ISD-P AID allocation (bytes 14-15 of the AID) */
  struct euicc_profile profiles[EUICC_MAX_PROFILES];
  size_t n_profiles;
  struct euicc_notification notifications[EUICC_MAX_NOTIFICATIONS];
  size_t n_notifications;
  struct euicc_eim eims[EUICC_MAX_EIMS];
  size_t n_eims;
  char default_dp[EUICC_MAX_ADDRESS + 1];
  char root_ds[EUICC_MAX_ADDRESS + 1];
  /* ConfigureImmediateProfileEnabling / the configureImmediateEnable PSMO */
  bool immediate_enable;
  struct rsp_buf immediate_smdp_oid; /* OBJECT IDENTIFIER content octets */
  char immediate_smdp_address[EUICC_MAX_ADDRESS + 1];
  /* Rollback: granted by an enable PSMO with rollbackFlag, usable once while that profile is
   * enabled and the previous one is known. */
  bool rollback_granted;
  uint8_t rollback_from[RSP_ICCID_LEN]; /* the profile enabled before the switch */
  bool rollback_has_from;
  uint8_t rollback_to[RSP_ICCID_LEN];
  /* Fallback mechanism (SGP.32 v1.2) */
  bool fallback_active;
  uint8_t fallback_return_to[RSP_ICCID_LEN];
  bool fallback_has_return;
  bool emergency_active;
};

/* Volatile download session (SGP.22 §3.1.3), reset on power cycle and CancelSession. The BSP
 * part lives in download.c. */
struct euicc_download;

struct rsp_euicc {
  char eid_digits[RSP_EID_DIGITS + 1];
  uint8_t eid[RSP_EID_LEN];
  struct rsp_cert *cert;     /* CERT.EUICC */
  struct rsp_cert *eum_cert; /* CERT.EUM */
  struct rsp_signer *signer; /* SK.EUICC */
  struct rsp_ci_store *cis;  /* trusted CIs (euiccCiPKIdListForVerification/ForSigning) */
  enum rsp_curve curve;
  struct rsp_euicc_options opts;
  struct rsp_euicc_store *store;
  struct euicc_state st;
  char *committed; /* JSON of the last committed state: restored when a command fails */
  /* volatile */
  uint8_t challenge[16];
  bool challenge_valid;
  struct euicc_download *dl;
  struct euicc_apdu *apdu; /* card.c: channels, STORE DATA, GET RESPONSE */
};

/* ---- core (euicc.c) ---- */
/* Runs one ES10 function on a complete request TLV (the APDU layer's entry). Returns RSP_OK with
 * the response TLV appended to `resp` (function-level errors are inside the response, as the
 * spec encodes them), RSP_E_UNSUPPORTED for a tag that names no function (SW 6A88), RSP_E_DER_*
 * for a malformed request (SW 6A80), anything else for a failure of the card (SW 6F00). */
rsp_err_t rsp__euicc_es10(struct rsp_euicc *c, const uint8_t *req, size_t len,
                          struct rsp_buf *resp);
int64_t rsp__euicc_now(const struct rsp_euicc *c);
/* Encodes a response (logging the path of anything the encoder refuses). */
rsp_err_t rsp__euicc_encode(const struct rsp_msg_type *t, const void *v, struct rsp_buf *resp);
/* Fault injection for the tear tests: when set, called at "commit:before" and "commit:after"
 * (around the store write) so a test can kill the process there. NULL in production. */
extern void (*rsp__euicc_fault_hook)(const char *point);
/* Makes the current state durable (or, on error, restores the last committed one). */
rsp_err_t rsp__euicc_commit(struct rsp_euicc *c);
void rsp__euicc_rollback(struct rsp_euicc *c);
/* Power cycle plus the durable state of `json` (a committed document): tests and fuzzers put a
 * card back to a known state without reopening it. */
rsp_err_t rsp__euicc_restore(struct rsp_euicc *c, const char *json);

/* ---- state (state.c) ---- */
void rsp__euicc_state_init(struct euicc_state *st);
void rsp__euicc_state_free(struct euicc_state *st);
rsp_err_t rsp__euicc_state_to_json(const struct euicc_state *st, char **out);
rsp_err_t rsp__euicc_state_from_json(const char *json, struct euicc_state *st);
rsp_err_t rsp__euicc_store_load(struct rsp_euicc_store *s, const char *eid, char **json);
rsp_err_t rsp__euicc_store_save(struct rsp_euicc_store *s, const char *eid, const char *json);

/* ---- profiles and notifications (profiles.c) ---- */
struct euicc_profile *rsp__euicc_profile_by_iccid(struct rsp_euicc *c, const uint8_t *iccid);
struct euicc_profile *rsp__euicc_profile_by_aid(struct rsp_euicc *c, const uint8_t *aid,
                                                size_t len);
struct euicc_profile *rsp__euicc_enabled_profile(struct rsp_euicc *c);
/* Adds a signed notification for `event` on profile `p` (NotificationMetadata signed with
 * SK.EUICC, as an OtherSignedNotification), if the profile's metadata asks for that event. */
rsp_err_t rsp__euicc_notify(struct rsp_euicc *c, const struct euicc_profile *p, unsigned event);
/* Adds an already signed object (PIR, EPR) as a pending notification; takes `raw`. */
rsp_err_t rsp__euicc_add_pending(struct rsp_euicc *c, struct euicc_notification *n);
/* Installs a profile from its metadata (BF25) and package digest; returns it disabled. */
rsp_err_t rsp__euicc_install(struct rsp_euicc *c, struct rsp_slice metadata,
                             const uint8_t iccid[RSP_ICCID_LEN], const uint8_t upp_hash[32],
                             uint64_t upp_len, struct euicc_profile **out);

/* ---- signing ---- */
/* ECDSA r||s with SK.EUICC over the concatenation of parts. */
rsp_err_t rsp__euicc_sign(struct rsp_euicc *c, const struct rsp_slice *parts, size_t n,
                          uint8_t sig[64]);

/* ---- APDU layer (card.c) ---- */
struct euicc_apdu;
rsp_err_t rsp__euicc_apdu_new(struct euicc_apdu **out);
void rsp__euicc_apdu_free(struct euicc_apdu *a);
void rsp__euicc_apdu_reset(struct euicc_apdu *a);

/* ---- download (download.c): AuthenticateServer, PrepareDownload, LoadBoundProfilePackage ---- */
void rsp__euicc_download_reset(struct rsp_euicc *c);
void rsp__euicc_download_free(struct rsp_euicc *c);

#endif
