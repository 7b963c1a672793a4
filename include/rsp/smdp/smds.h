/* openrsp: the SM-DS, Subscription Manager Discovery Server (SGP.22 §3.6 "Event Registration
 * and Retrieval"), as a service without transport, beside the SM-DP+ service (service.h):
 *
 *   ES12 (SM-DP+ -> SM-DS, §5.5): registerEvent {eid, rspServerAddress, eventId} keeps an event
 *     for an eUICC; deleteEvent {eid, eventId} drops it (after the download).
 *   ES11 (LPA/IPA -> SM-DS, §5.8): initiateAuthentication (the SM-DS signs serverSigned1 with
 *     SK.DSauth) and authenticateClient, which verifies the eUICC's AuthenticateServerResponse
 *     exactly as the SM-DP+ does (bind.h) and answers the eventEntries of the eUICC's EID.
 *
 * The SM-DS's sessions and events live in a store of the SM-DP+'s format (SQLite, WAL, one
 * transaction per function; tables session and smds_event): a separate file, or the SM-DP+'s own
 * (each service only accepts sessions opened for its own address). The rsp-smdp program serves
 * it on its own HTTPS port (`rsp-smdp serve --smds-listen`, or `rsp-smdp smds` alone). Paths: ES11
 * on the ES9+ paths LPAs call SM-DSs with and on /gsma/rsp2/es11/..., ES12 on
 * /gsma/rsp2/es12/... (docs/adr/0007-smds-es11-paths.md). */
#ifndef RSP_SMDP_SMDS_H
#define RSP_SMDP_SMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/msg/json.h"
#include "rsp/smdp/bind.h"
#include "rsp/smdp/service.h"

#define RSP_SMDS_EVENT_ID_MAX 255 /* eventId (the SM-DP+'s matchingId) */
/* eventEntries in one authenticateClient answer, oldest first (an eUICC rarely has more than
 * one or two events). */
#define RSP_SMDS_EVENTS_MAX 32

/* ES11 statusCodeData on the SM-DS's own objects (SGP.22 §5.8: the SM-DS subjects 8.9.x mirror the
 * SM-DP+'s 8.8.x, notes §2.3a); the eUICC codes are bind.h's. */
#define RSP_SMDS_SUBJECT_SMDS_ADDRESS "8.9.1"           /* smdsAddress not this SM-DS */
#define RSP_SMDS_SUBJECT_SECURITY_CONFIGURATION "8.9.2" /* no CI in common with the eUICC */

/* Loads DIR/smds/auth/{cert.der,key.pem} (CERT.DSauth.ECDSA, role id-rspRole-ds-auth, checked
 * against its key) and DIR/ci/cert.der; the identity has no pb signer. Free it with
 * rsp_smdp_identity_destroy. */
rsp_err_t rsp_smds_identity_load(const char *pki_dir, struct rsp_smdp_identity **out);

struct rsp_smds_service;

struct rsp_smds_service_options {
  const char *db_path;                      /* SQLite file, created when absent */
  const struct rsp_smdp_identity *identity; /* rsp_smds_identity_load; borrowed */
  const char *address;                      /* this SM-DS's address (FQDN[:port]) */
  int64_t session_ttl;                      /* seconds; 0: RSP_SMDP_SESSION_TTL_DEFAULT */
  int64_t (*now)(void *ctx);                /* seconds since the epoch; NULL: time() */
  void *now_ctx;
};

rsp_err_t rsp_smds_service_open(const struct rsp_smds_service_options *o,
                                struct rsp_smds_service **out);
void rsp_smds_service_destroy(struct rsp_smds_service *svc); /* NULL-safe */

/* One HTTP POST, as rsp_smdp_service_handle: the ES11 paths (RSP_ES9P_PATH_INITIATE_AUTHENTICATION
 * and RSP_ES9P_PATH_AUTHENTICATE_CLIENT, or RSP_ES11_PATH_*) and the ES12 paths. 200 with the JSON
 * answer (also Failed), 400 for a body that is no JSON object, 404 for any other path, 500 when
 * the service itself failed. The transport decides who may call ES12 (rsp-smdp requires a client
 * certificate under its CA there): see rsp_smds_path_is_es12. */
rsp_err_t rsp_smds_service_handle(struct rsp_smds_service *svc, const char *path, const char *body,
                                  size_t len, int *http_status, struct rsp_buf *response);
bool rsp_smds_path_is_es12(const char *path);

/* ---- the functions (bodies of rsp/msg/json.h; strings and bytes of the answer in mem) ----------
 */

/* ES11.InitiateAuthentication: smdsAddress must be this SM-DS (8.9.1/3.8), the eUICC must know its
 * CI (8.9.2/3.1); then a session and serverSigned1 signed with SK.DSauth, answered with the ES9+
 * keys (CERT.DSauth as serverCertificate). */
rsp_err_t rsp_smds_es11_initiate_authentication(
    struct rsp_smds_service *svc, const struct rsp_es11_json_initiate_authentication_req *req,
    struct rsp_msg_json_doc *mem, struct rsp_es9p_json_initiate_authentication_resp *resp);
/* ES11.AuthenticateClient: the session of transactionId (8.10.1/3.9), the eUICC's answer verified
 * as on ES9+ (chain to our CI, EID range, euiccSignature1, echoes), then the events of the EID in
 * the eUICC certificate (only those whose eventId is ctxParams1's matchingId when one was sent).
 * The session ends with the answer. */
rsp_err_t rsp_smds_es11_authenticate_client(struct rsp_smds_service *svc,
                                            const struct rsp_es9p_json_authenticate_client_req *req,
                                            struct rsp_msg_json_doc *mem,
                                            struct rsp_es11_json_authenticate_client_resp *resp);
/* ES12.RegisterEvent: keeps {eid, eventId, rspServerAddress}; registering the same event again
 * succeeds and changes nothing. */
rsp_err_t rsp_smds_es12_register_event(struct rsp_smds_service *svc,
                                       const struct rsp_es12_json_register_event_req *req,
                                       struct rsp_msg_json_doc *mem,
                                       struct rsp_es12_json_register_event_resp *resp);
/* ES12.DeleteEvent: drops the events of that EID with that eventId; none is 8.1.1/3.9. */
rsp_err_t rsp_smds_es12_delete_event(struct rsp_smds_service *svc,
                                     const struct rsp_es12_json_delete_event_req *req,
                                     struct rsp_msg_json_doc *mem,
                                     struct rsp_es12_json_delete_event_resp *resp);

/* ---- the operator's view ----------------------------------------------------------------------
 */

struct rsp_smds_event_info {
  char eid[RSP_EID_DIGITS + 1];
  char event_id[RSP_SMDS_EVENT_ID_MAX + 1];
  char rsp_server_address[RSP_SMDP_ADDRESS_MAX + 1];
  int64_t registered; /* seconds since the epoch */
};
/* The events of an EID (NULL: of every eUICC), oldest first, at most `max`. */
rsp_err_t rsp_smds_service_events(struct rsp_smds_service *svc, const char *eid,
                                  struct rsp_smds_event_info *out, size_t max, size_t *count);
/* Housekeeping: drops sessions that ended more than a day ago. `sessions` may be NULL. */
rsp_err_t rsp_smds_service_expire(struct rsp_smds_service *svc, size_t *sessions);

#endif
