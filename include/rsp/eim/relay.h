/* openrsp eIM: the relay of indirect profile downloads (SGP.32 §3.2.3.2, notes 1.3 and 2.2).
 *
 * In an indirect download the IPA runs the card's part and sends the ES9+-equivalent ESipa
 * requests to the eIM, which acts as the LPA toward the SM-DP+ (ES9+'). The relay takes one
 * decoded ESipa request of the download procedures, expands its compact forms (minimizeEsipaBytes,
 * rsp/msg/compact.h) back to the SGP.22 structures the eUICC signed, performs the ES9+ function
 * through an ES9+ port (JSON binding, lib/msg's rsp_msg_json_*), and builds the ESipa answer.
 * InitiateAuthenticationRequestEsipa becomes initiateAuthentication, AuthenticateClientRequestEsipa
 * authenticateClient, GetBoundProfilePackageRequestEsipa getBoundProfilePackage and
 * CancelSessionRequestEsipa cancelSession, each answered with the matching *ResponseEsipa;
 * HandleNotificationEsipa (a PIR or another signed notification) becomes handleNotification,
 * with no answer.
 *
 * The SM-DP+'s transactionId is bound to a relay session at initiateAuthentication (in memory,
 * keyed by transactionId): it keeps what the compact forms leave out (server address and
 * challenge, the SM-DP+ OID, the profile's ICCID ...) and the SM-DP+ to talk to. A session ends
 * with its PIR or its cancelSession; the oldest goes when the table is full. A refusal of the
 * SM-DP+ becomes the ESipa function's error value (the table in docs/adr/0006). One relay serves
 * several threads: requests are taken one at a time (a mutex), as the ES9+ port is shared. */
#ifndef RSP_EIM_RELAY_H
#define RSP_EIM_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/compact.h"

#define RSP_EIM_RELAY_MAX_SESSIONS_DEFAULT 1024
#define RSP_EIM_RELAY_ADDRESS_MAX 255 /* smdpAddress, as ES9+ bounds it */

/* ES9+ port of the eIM (same shape as the IPA's struct rsp_ipa_es9_ops): POSTs `body` (JSON) to
 * `path` on the SM-DP+ at `smdp_address`; *http_status and resp receive its answer. */
struct rsp_eim_es9_ops {
  rsp_err_t (*call)(void *ctx, const char *smdp_address, const char *path,
                    const struct rsp_buf *body, int *http_status, struct rsp_buf *resp);
};

/* What the eIM knows of the device a request comes from (from IpaEuiccData, its own records and
 * its configuration). Slices may be empty when unknown; a compact form that needs an unknown
 * value is refused. The relay copies what a session needs. */
struct rsp_eim_relay_device {
  struct rsp_slice eid;               /* 16 bytes */
  struct rsp_slice euicc_info1;       /* BF20: initiateAuthentication when the IPA left it out */
  struct rsp_slice euicc_info2;       /* BF22: expands CompactAuthenticateResponseOk */
  struct rsp_slice euicc_certificate; /* 30: compact forms without certificates */
  struct rsp_slice eum_certificate;   /* 30 */
  const char *smdp_address;  /* when the IPA sends none (the eIM keeps the activation code) */
  const char *matching_id;   /* answered in InitiateAuthenticationOkEsipa.matchingId (same case) */
  bool minimize_esipa_bytes; /* the IPA minimizes: no transactionId echo in the answers */
  const struct rsp_msg_compact_aid_rule *aid; /* NULL: the default rule of compact.h */
};

struct rsp_eim_relay_options {
  const struct rsp_eim_es9_ops *es9;
  void *es9_ctx;
  size_t max_sessions; /* 0: RSP_EIM_RELAY_MAX_SESSIONS_DEFAULT */
  /* CompactEuiccCancelSessionSigned without reason: the reason put back (present false: 127). */
  struct rsp_msg_int cancel_reason;
};

struct rsp_eim_relay_stats {
  unsigned requests;      /* download requests handled */
  unsigned expanded;      /* compact forms rebuilt */
  unsigned refused;       /* answered with an ESipa error value */
  unsigned notifications; /* notifications forwarded to an SM-DP+ */
  unsigned cancelled;     /* sessions ended by cancelSession */
  unsigned installed;     /* sessions ended by a PIR */
};

struct rsp_eim_relay;

rsp_err_t rsp_eim_relay_new(const struct rsp_eim_relay_options *o, struct rsp_eim_relay **out);
void rsp_eim_relay_destroy(struct rsp_eim_relay *r); /* NULL-safe */

/* True for the ESipa requests of the download procedures (the ones rsp_eim_relay_handle takes:
 * BF39, BF3B, BF3A, BF41, and BF3D with a pendingNotification). */
bool rsp_eim_relay_accepts(const struct rsp_msg_esipa_message_from_ipa_to_eim *m);

/* One ESipa request from the device `dev`: the EsipaMessageFromEimToIpa answer (DER) is appended
 * to `resp` (nothing for HandleNotificationEsipa). Refusals of the SM-DP+ and unknown
 * transactionIds are answered with the function's error value (RSP_OK); rsp_err_t reports what
 * could not be evaluated: RSP_E_UNSUPPORTED for a request that is not a download one, a
 * notification that cannot be rebuilt or forwarded, memory. */
rsp_err_t rsp_eim_relay_handle(struct rsp_eim_relay *r, const struct rsp_eim_relay_device *dev,
                               const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                               struct rsp_buf *resp);

/* Open relay sessions, and whether one is bound to this transactionId. */
size_t rsp_eim_relay_session_count(const struct rsp_eim_relay *r);
bool rsp_eim_relay_session_exists(const struct rsp_eim_relay *r, struct rsp_slice transaction_id);
const struct rsp_eim_relay_stats *rsp_eim_relay_stats(const struct rsp_eim_relay *r);

#endif
