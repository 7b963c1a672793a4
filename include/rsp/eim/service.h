/* openrsp eIM: the ESipa service (SGP.32 §5.14, notes 2 and 3): what the eIM answers a device,
 * over the store (rsp/eim/store.h), independent of HTTP. rsp-eim calls it from its HTTPS handler,
 * tests call it in-process.
 *
 * GetEimPackage: the device's queue head (store delivery decision): a new EuiccPackage built from
 * the operation's spec (rsp/eim/spec.h), signed with the eIM key through the signer with the next
 * counter and the device's associationToken, committed as sent before it leaves; the same bytes
 * again for a re-send, after asking the card for its pending results (IpaEuiccDataRequest, tag
 * A2) when one was sent without an answer; an IpaEuiccDataRequest or a
 * ProfileDownloadTriggerRequest for those kinds; noEimPackageAvailable otherwise.
 * ProvideEimPackageResult: the eUICC's signature on a package result is verified (its
 * certificate chain to a trusted CI, the EID in it), the result is recorded once (a replay is
 * acknowledged again, never applied twice), the device's view (profiles, enabled ICCID) is
 * updated, and EimAcknowledgements name every seqNumber committed. IpaEuiccData updates the
 * registry (certificates, EUICCInfo2) and resolves pending results. HandleNotification records
 * the notification (idempotent on seqNumber) for forwarding. The indirect-download functions go
 * to the relay (rsp/eim/relay.h). Unknown EIDs, malformed or oversized bodies and results with a
 * bad signature get an ESipa error value or an HTTP error, and change nothing. */
#ifndef RSP_EIM_SERVICE_H
#define RSP_EIM_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/crypto/signer.h"
#include "rsp/eim/relay.h"
#include "rsp/eim/store.h"

/* Hard cap of one ESipa request body, either binding (a bound profile package relayed in an
 * answer is the largest message; requests are far smaller). Larger bodies are answered 413. */
#define RSP_EIM_ESIPA_MAX (4u * 1024u * 1024u)
/* seqNumbers acknowledged in one EimAcknowledgements at most; the rest wait for the next
 * delivery (the card keeps what is not acknowledged). */
#define RSP_EIM_SERVICE_MAX_ACKS 256

struct rsp_eim_service_options {
  const char *eim_id;          /* our eimId, as in the cards' EimConfigurationData */
  struct rsp_signer *signer;   /* the eIM's package signing key (SK.EIM.ECDSA) */
  struct rsp_eim_store *store; /* one handle per thread (store.h) */
  struct rsp_eim_relay *relay; /* indirect downloads; NULL: refused */
  const char *ci_dir;          /* PEM/DER CI certificates that eUICC chains must reach */
  bool ignore_cert_time;       /* accept expired eUICC/EUM certificates (old test PKIs) */
  int64_t (*now)(void *ctx);   /* seconds since the epoch; NULL: time() */
  void *now_ctx;
};

/* Counters of one handle since it was created. requests: every call; packages_sent: new
 * packages handed out (any kind); packages_resent: the same bytes again; results: results
 * recorded (NEW); duplicates: results already recorded (acknowledged again); bad_signatures:
 * results refused because their eUICC signature or certificate chain did not verify;
 * unknown_devices: requests for an EID not registered; notifications: notifications recorded
 * (NEW); data_requests: IpaEuiccDataRequests handed out (operations, pending-result checks and
 * certificate requests); relayed: requests handed to the relay; refused: requests answered 400
 * or 413 (not a valid message). */
struct rsp_eim_service_stats {
  unsigned long requests, packages_sent, packages_resent, results, duplicates, bad_signatures,
      unknown_devices, notifications, data_requests, relayed, refused;
};

struct rsp_eim_service;

/* `o->eim_id`, `o->signer`, `o->store` and `o->ci_dir` are required. ci_dir is a directory of
 * CI certificates (every regular file that parses as a self-signed CI certificate, PEM or DER, is
 * taken; others such as a key.pem are skipped) or one certificate file; at least one CI is
 * needed (RSP_E_NOT_FOUND otherwise). The handle keeps pointers to the signer, the store and the
 * relay (the caller owns them) and copies the rest. One handle serves one thread at a time. */
rsp_err_t rsp_eim_service_new(const struct rsp_eim_service_options *o,
                              struct rsp_eim_service **out);
void rsp_eim_service_destroy(struct rsp_eim_service *s); /* NULL-safe */

/* ASN.1 binding (POST /gsma/rsp2/asn1): one EsipaMessageFromIpaToEim (DER) in; the
 * EsipaMessageFromEimToIpa appended to `resp` (empty for HandleNotification) and the HTTP status
 * to answer in *status (200, 204 for HandleNotification, 400 for a body that is not a valid
 * message, 413 above RSP_EIM_ESIPA_MAX). RSP_OK unless something internal failed (then answer
 * 500; nothing was acknowledged). The error mapping is in docs/eim.md, "ESipa service". */
rsp_err_t rsp_eim_service_esipa(struct rsp_eim_service *s, const uint8_t *req, size_t len,
                                struct rsp_buf *resp, int *status);

/* JSON binding (POST /gsma/rsp2/esipa/<function>, notes 2.3a): the same with `function` the
 * path's last segment, a JSON body in and a JSON answer out (404 for an unknown function). */
rsp_err_t rsp_eim_service_esipa_json(struct rsp_eim_service *s, const char *function,
                                     const uint8_t *body, size_t len, struct rsp_buf *resp,
                                     int *status);

void rsp_eim_service_stats(const struct rsp_eim_service *s, struct rsp_eim_service_stats *out);

#endif
