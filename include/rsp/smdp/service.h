/* openrsp: the SM-DP+ service: the ES2+ (operator) and ES9+ (LPA/IPA) functions of SGP.22 §5.3 and
 * §5.6 over a durable store, without any transport. The rsp-smdp program puts an HTTPS server in
 * front of rsp_smdp_service_handle (JSON) and rsp_smdp_service_handle_asn1 (the ASN.1 binding of
 * ES9+) and sends the operator callbacks the service queues.
 *
 * What the service keeps (SQLite, WAL, one transaction per state change, docs/smdp.md):
 *   - profiles: ICCID, profile type, the unprotected profile package (a blob, or the path of a
 *     .der file read in place) and the SM-DP+ profile state (SGP.22 §3.1.1: available,
 *     allocated, linked, confirmed, released, downloaded, installed, error, unavailable);
 *   - orders: one per downloadOrder, with the EID, matchingId, SHA-256 of the confirmation code,
 *     releaseFlag, expiry, the remaining confirmation code attempts and the order state;
 *   - download sessions: everything struct rsp_smdp_session holds between two ES9+ calls, keyed
 *     by transactionId, with an expiry;
 *   - the eUICC keys seen (PK.EUICC by EID), for notifications that arrive after their session;
 *   - the notifications received, verified or not;
 *   - an outbox of ES2+.HandleDownloadProgressInfo request bodies for the operator.
 * Every call reads what it needs from the store and writes its changes back before it returns,
 * so the process can stop between any two calls.
 *
 * Outcomes: rsp_err_t reports failures to evaluate (storage, memory); a request that was
 * understood but refused returns RSP_OK with header.functionExecutionStatus = Failed and the
 * subjectCode/reasonCode of the RSP_SMDP_SUBJECT_* / RSP_SMDP_REASON_* tables (bind.h and below).
 * One service object is used by one thread at a time; several processes may share the file. */
#ifndef RSP_SMDP_SERVICE_H
#define RSP_SMDP_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/core/hex.h"
#include "rsp/msg/activation_code.h"
#include "rsp/msg/json.h"
#include "rsp/smdp/bind.h"

#define RSP_SMDP_SESSION_TTL_DEFAULT 300           /* seconds a download session lives (5 min) */
#define RSP_SMDP_ORDER_TTL_DEFAULT (7 * 24 * 3600) /* seconds an unused order lives */
#define RSP_SMDP_CC_RETRIES_DEFAULT 3              /* confirmation code attempts per order */
#define RSP_SMDP_PROFILE_TYPE_MAX 100              /* ProfileHeader.profileType SIZE(1..100) */
#define RSP_SMDP_SPN_MAX 32                        /* StoreMetadata serviceProviderName */
#define RSP_SMDP_PROFILE_NAME_MAX 64               /* StoreMetadata profileName */
#define RSP_SMDP_REQUESTER_MAX 255                 /* functionRequesterIdentifier kept */
#define RSP_SMDP_AC_MAX (RSP_MSG_AC_MAX_LEN + sizeof RSP_MSG_AC_LPA_PREFIX)

/* ES2+/ES9+ statusCodeData beyond those of bind.h (SGP.22 §5.2.6, function tables of §5.3 and
 * §5.6; docs/smdp.md lists which function answers which). */
#define RSP_SMDP_SUBJECT_EID "8.1.1"
#define RSP_SMDP_SUBJECT_PROFILE "8.2"
#define RSP_SMDP_SUBJECT_ICCID "8.2.1"
#define RSP_SMDP_SUBJECT_PROFILE_TYPE "8.2.5"
#define RSP_SMDP_SUBJECT_MATCHING_ID "8.2.6"
#define RSP_SMDP_SUBJECT_SMDP_ADDRESS "8.8.1"
#define RSP_SMDP_SUBJECT_SECURITY_CONFIGURATION "8.8.2"
#define RSP_SMDP_SUBJECT_DOWNLOAD_ORDER "8.8.5"
#define RSP_SMDP_SUBJECT_RSP "8" /* eUICC remote provisioning in general */
#define RSP_SMDP_SUBJECT_PPR "8.2.8"
#define RSP_SMDP_SUBJECT_PROFILE_METADATA "8.2.9"
#define RSP_SMDP_SUBJECT_BPP "8.2.10"            /* Bound Profile Package */
#define RSP_SMDP_REASON_NOT_ALLOWED "1.2"        /* Not allowed (authorisation) */
#define RSP_SMDP_REASON_FORMAT "2.1"             /* Invalid (format or value) */
#define RSP_SMDP_REASON_UNSUPPORTED "3.1"        /* none of the proposed values is supported */
#define RSP_SMDP_REASON_IN_USE "3.3"             /* Already in use */
#define RSP_SMDP_REASON_INVALID_TRANSITION "3.5" /* not allowed in the current state */
#define RSP_SMDP_REASON_UNAVAILABLE "3.7"        /* no more profile available */
#define RSP_SMDP_REASON_VALUE_CHANGED "3.11"     /* Value has changed */
#define RSP_SMDP_REASON_EXECUTION_ERROR "4.2"    /* Execution error */
#define RSP_SMDP_REASON_TTL_EXPIRED "4.10"       /* Time to Live expired */
#define RSP_SMDP_REASON_RETRIES_EXCEEDED "6.4"   /* Maximum number of attempts exceeded */

/* ES2+.HandleDownloadProgressInfo notificationPointId (SGP.22 §5.3.5). */
#define RSP_SMDP_POINT_ELIGIBILITY 1  /* eligibility and retry limit check (authenticateClient) */
#define RSP_SMDP_POINT_CONFIRMATION 2 /* ConfirmationFailure (wrong confirmation code) */
#define RSP_SMDP_POINT_BPP_DOWNLOAD 3 /* BPP download (getBoundProfilePackage, cancelSession) */
#define RSP_SMDP_POINT_BPP_INSTALLATION 4 /* BPP installation (the PIR) */

enum rsp_smdp_profile_state {
  RSP_SMDP_PROFILE_AVAILABLE = 1,
  RSP_SMDP_PROFILE_ALLOCATED,  /* downloadOrder without EID */
  RSP_SMDP_PROFILE_LINKED,     /* downloadOrder with EID */
  RSP_SMDP_PROFILE_CONFIRMED,  /* confirmOrder, releaseFlag false */
  RSP_SMDP_PROFILE_RELEASED,   /* confirmOrder with releaseFlag, or releaseProfile */
  RSP_SMDP_PROFILE_DOWNLOADED, /* the BPP went out */
  RSP_SMDP_PROFILE_INSTALLED,  /* a verified successful PIR came back */
  RSP_SMDP_PROFILE_ERROR,      /* failed installation or retries exhausted: cancelOrder decides */
  RSP_SMDP_PROFILE_UNAVAILABLE /* cancelOrder with Unavailable */
};

enum rsp_smdp_order_state {
  RSP_SMDP_ORDER_ALLOCATED = 1, /* downloadOrder */
  RSP_SMDP_ORDER_CONFIRMED,     /* confirmOrder, not released */
  RSP_SMDP_ORDER_RELEASED,      /* downloadable with its matchingId */
  RSP_SMDP_ORDER_DOWNLOADED,    /* BPP delivered, installation result pending */
  RSP_SMDP_ORDER_INSTALLED,     /* final */
  RSP_SMDP_ORDER_FAILED,        /* installation failed or codes exhausted; cancelOrder closes it */
  RSP_SMDP_ORDER_CANCELLED,     /* final: cancelOrder or a terminal CancelSession */
  RSP_SMDP_ORDER_EXPIRED        /* final: its time ran out before the download */
};

const char *rsp_smdp_profile_state_name(enum rsp_smdp_profile_state s); /* "available" ... */
const char *rsp_smdp_order_state_name(enum rsp_smdp_order_state s);     /* "allocated" ... */

struct rsp_smdp_service;

struct rsp_smdp_service_options {
  const char *db_path;                      /* SQLite file, created when absent */
  const struct rsp_smdp_identity *identity; /* borrowed; must outlive the service */
  const char *address;                      /* this SM-DP+'s address (FQDN[:port]) */
  const char *requester_id;                 /* header of the operator callbacks; NULL: address */
  int64_t session_ttl;                      /* seconds; 0: RSP_SMDP_SESSION_TTL_DEFAULT */
  int64_t order_ttl;                        /* seconds; 0: RSP_SMDP_ORDER_TTL_DEFAULT */
  int cc_retries;                           /* 0: RSP_SMDP_CC_RETRIES_DEFAULT */
  int64_t (*now)(void *ctx);                /* seconds since the epoch; NULL: time() */
  void *now_ctx;
};

/* Opens (or creates and migrates) the store and checks the options. */
rsp_err_t rsp_smdp_service_open(const struct rsp_smdp_service_options *o,
                                struct rsp_smdp_service **out);
void rsp_smdp_service_destroy(struct rsp_smdp_service *svc); /* NULL-safe */

/* ---- the generic entry for the HTTP layer ---------------------------------------------------- */

/* One HTTP POST: `path` selects the ES2+ or ES9+ function (notes 6), `body` is its JSON. The JSON
 * answer is appended to `response` (initialised by the caller with a cap of at least
 * RSP_MSG_JSON_MAX_BODY) and *http_status gets the HTTP status: 200 with a body (also for a
 * Failed functionExecutionStatus), 204 without one (handleNotification), 400 for a body that is
 * not a JSON object, 404 for a path this service does not serve, 500 (and the rsp_err_t) when
 * the service itself failed. A body that is JSON but breaks the function's binding is answered
 * Failed with reason 2.2 (key missing) or 2.1 (invalid) and the subject of the key. */
rsp_err_t rsp_smdp_service_handle(struct rsp_smdp_service *svc, const char *path, const char *body,
                                  size_t len, int *http_status, struct rsp_buf *response);

/* ---- the ASN.1 binding of ES9+ (SGP.22 §6.6) ------------------------------------------------- */

#define RSP_SMDP_ASN1_PATH "/gsma/rsp2/asn1"
#define RSP_SMDP_ASN1_CONTENT_TYPE "application/x-gsma-rsp-asn1"

/* One HTTP POST to RSP_SMDP_ASN1_PATH: `der` is a RemoteProfileProvisioningRequest ([2], A2)
 * whose alternative selects the ES9+ function (lib/smdp/es9p_asn1.c). The DER
 * RemoteProfileProvisioningResponse is appended to `response` (initialised by the caller with a
 * cap of at least RSP_MSG_JSON_MAX_BODY) and *http_status gets the HTTP status: 200 with the
 * function's Ok SEQUENCE or, for a refusal, its error INTEGER (the values of docs/smdp.md); 204
 * without a body for handleNotification, refused or not (the response CHOICE has no alternative
 * for it); 400 for a body that is not a RemoteProfileProvisioningRequest of a function this
 * service serves; 500 (and the rsp_err_t) when the service itself failed. */
rsp_err_t rsp_smdp_service_handle_asn1(struct rsp_smdp_service *svc, const uint8_t *der, size_t len,
                                       int *http_status, struct rsp_buf *response);

/* ---- the functions, on the bodies of rsp/msg/json.h -------------------------------------------
 * Each fills *resp (strings and bytes allocated in `mem`, which must outlive the encoding); on a
 * refusal only resp->header is set (Failed + statusCodeData), as SGP.22 §6.5.1 wants it sent. */

rsp_err_t rsp_smdp_es2p_download_order(struct rsp_smdp_service *svc,
                                       const struct rsp_es2p_json_download_order_req *req,
                                       struct rsp_msg_json_doc *mem,
                                       struct rsp_es2p_json_download_order_resp *resp);
rsp_err_t rsp_smdp_es2p_confirm_order(struct rsp_smdp_service *svc,
                                      const struct rsp_es2p_json_confirm_order_req *req,
                                      struct rsp_msg_json_doc *mem,
                                      struct rsp_es2p_json_confirm_order_resp *resp);
rsp_err_t rsp_smdp_es2p_cancel_order(struct rsp_smdp_service *svc,
                                     const struct rsp_es2p_json_cancel_order_req *req,
                                     struct rsp_msg_json_doc *mem,
                                     struct rsp_es2p_json_cancel_order_resp *resp);
rsp_err_t rsp_smdp_es2p_release_profile(struct rsp_smdp_service *svc,
                                        const struct rsp_es2p_json_release_profile_req *req,
                                        struct rsp_msg_json_doc *mem,
                                        struct rsp_es2p_json_release_profile_resp *resp);

rsp_err_t rsp_smdp_es9p_initiate_authentication(
    struct rsp_smdp_service *svc, const struct rsp_es9p_json_initiate_authentication_req *req,
    struct rsp_msg_json_doc *mem, struct rsp_es9p_json_initiate_authentication_resp *resp);
rsp_err_t rsp_smdp_es9p_authenticate_client(struct rsp_smdp_service *svc,
                                            const struct rsp_es9p_json_authenticate_client_req *req,
                                            struct rsp_msg_json_doc *mem,
                                            struct rsp_es9p_json_authenticate_client_resp *resp);
rsp_err_t rsp_smdp_es9p_get_bound_profile_package(
    struct rsp_smdp_service *svc, const struct rsp_es9p_json_get_bound_profile_package_req *req,
    struct rsp_msg_json_doc *mem, struct rsp_es9p_json_get_bound_profile_package_resp *resp);
/* Success is answered with HTTP 204 and no body; resp->header then says Executed-Success. */
rsp_err_t rsp_smdp_es9p_handle_notification(struct rsp_smdp_service *svc,
                                            const struct rsp_es9p_json_handle_notification_req *req,
                                            struct rsp_msg_json_doc *mem,
                                            struct rsp_es9p_json_handle_notification_resp *resp);
rsp_err_t rsp_smdp_es9p_cancel_session(struct rsp_smdp_service *svc,
                                       const struct rsp_es9p_json_cancel_session_req *req,
                                       struct rsp_msg_json_doc *mem,
                                       struct rsp_es9p_json_cancel_session_resp *resp);

/* ---- profiles ----------------------------------------------------------------------------------
 */

/* A profile to add: exactly one of upp (the package bytes, stored in the database) and upp_path
 * (a .der file read at each binding, never copied). iccid: 18..20 digits (19 may carry F). */
struct rsp_smdp_profile_new {
  const char *iccid;
  const char *profile_type;          /* 1..100 bytes */
  const char *service_provider_name; /* NULL: "openrsp" */
  const char *profile_name;          /* NULL: the profile type (cut to 64 bytes) */
  struct rsp_slice upp;
  const char *upp_path;
};

struct rsp_smdp_profile_info {
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  char profile_type[RSP_SMDP_PROFILE_TYPE_MAX + 1];
  enum rsp_smdp_profile_state state;
};

/* RSP_E_EXISTS when the ICCID is known; RSP_E_INVALID_ARG for a package that is not strict DER
 * Profile Elements with a ProfileHeader carrying this ICCID. */
rsp_err_t rsp_smdp_service_profile_add(struct rsp_smdp_service *svc,
                                       const struct rsp_smdp_profile_new *p);
/* Adds every *.der file of `dir` (in name order) by path, the ICCID and, when profile_type is
 * NULL, the type from its ProfileHeader. Files that are no profile package, or whose ICCID is
 * already known, are skipped (logged, counted). */
rsp_err_t rsp_smdp_service_profiles_load_dir(struct rsp_smdp_service *svc, const char *dir,
                                             const char *profile_type, size_t *added,
                                             size_t *skipped);
rsp_err_t rsp_smdp_service_profile_get(struct rsp_smdp_service *svc, const char *iccid,
                                       struct rsp_smdp_profile_info *out); /* RSP_E_NOT_FOUND */

/* The newest order of a profile. activation_code is "LPA:1$<address>$<matchingId>" once the
 * order is confirmed (an empty matchingId gives "LPA:1$<address>$": the card's EID finds the
 * order), "" before. */
struct rsp_smdp_order_info {
  int64_t id;
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  char eid[RSP_EID_DIGITS + 1]; /* "" when none */
  char matching_id[RSP_SMDP_MATCHING_ID_MAX + 1];
  enum rsp_smdp_order_state state;
  bool release_flag;
  bool cc_required;
  int cc_retries; /* confirmation code attempts left */
  int64_t expires;
  char activation_code[RSP_SMDP_AC_MAX];
  /* SM-DS (confirmOrder's smdsAddress; "" when none) and where its event is: 0 none, 1 the
   * registration is queued (or done), 2 the deletion is queued (or done). */
  char smds_address[RSP_SMDP_ADDRESS_MAX + 1];
  int smds_event;
};
rsp_err_t rsp_smdp_service_order_get(struct rsp_smdp_service *svc, const char *iccid,
                                     struct rsp_smdp_order_info *out); /* RSP_E_NOT_FOUND */

/* The newest notification received (handleNotification), for operators and tests. */
struct rsp_smdp_notification_info {
  int64_t id;
  char eid[RSP_EID_DIGITS + 1];         /* "" when unknown */
  char iccid[RSP_ICCID_MAX_DIGITS + 1]; /* "" when absent */
  int64_t seq_number;
  int event;    /* NotificationEvent bit: 0 install, 1 enable, 2 disable, 3 delete; -1 unknown */
  bool pir;     /* ProfileInstallationResult (else OtherSignedNotification) */
  bool success; /* PIR: successResult */
  bool verified;
};
rsp_err_t rsp_smdp_service_notification_last(struct rsp_smdp_service *svc,
                                             struct rsp_smdp_notification_info *out);

/* ---- the operator callbacks ------------------------------------------------------------------ */

/* One queued ES2+.HandleDownloadProgressInfo: POST `body` (the JSON request, NUL-terminated) to
 * the operator that sent the order (`requester`, its functionRequesterIdentifier) at `path`. */
struct rsp_smdp_outbox_item {
  int64_t id;
  int64_t order_id;
  char requester[RSP_SMDP_REQUESTER_MAX + 1];
  char path[64];
  char *body; /* owned: rsp_smdp_outbox_item_free */
  size_t body_len;
};
/* The oldest item not yet marked sent; RSP_E_NOT_FOUND when the outbox is empty. */
rsp_err_t rsp_smdp_service_outbox_next(struct rsp_smdp_service *svc,
                                       struct rsp_smdp_outbox_item *item);
rsp_err_t rsp_smdp_service_outbox_done(struct rsp_smdp_service *svc, int64_t id);
void rsp_smdp_outbox_item_free(struct rsp_smdp_outbox_item *item); /* NULL-safe */

/* ---- ES12: the SM-DP+'s calls to SM-DSs (SGP.22 §5.5) -----------------------------------------
 * An order confirmed with smdsAddress gets an event at that SM-DS once it is released
 * (ES12.RegisterEvent, eventId = matchingId, rspServerAddress = this SM-DP+), and the event is
 * deleted (ES12.DeleteEvent) when the order ends: installed or failed (the PIR), cancelled,
 * expired. Both calls are queued in the transaction of the state change and delivered after it
 * by rsp_smdp_service_es12_flush, so an unreachable SM-DS never fails nor blocks an ES2+ or ES9+
 * function (docs/adr/0007-smds-es11-paths.md). */

/* POSTs the JSON `body` to `path` at the SM-DS `smds_address` (FQDN[:port]); *http_status and
 * resp get its answer. A transport failure is any error return. */
struct rsp_smdp_es12_ops {
  rsp_err_t (*call)(void *ctx, const char *smds_address, const char *path, const char *body,
                    size_t len, int *http_status, struct rsp_buf *resp);
};

/* Delivers the queued ES12 calls oldest first. An answer (Executed-Success, or a refusal, which
 * is logged and not retried) marks a call done; a transport failure or another HTTP status stops
 * the flush with that call still queued (RSP_E_NET, or the port's error) for a later attempt.
 * *delivered (may be NULL) counts the calls done. */
rsp_err_t rsp_smdp_service_es12_flush(struct rsp_smdp_service *svc,
                                      const struct rsp_smdp_es12_ops *ops, void *ctx,
                                      size_t *delivered);
/* How many ES12 calls wait. */
rsp_err_t rsp_smdp_service_es12_pending(struct rsp_smdp_service *svc, size_t *count);

/* Housekeeping: expires orders whose time ran out (their profiles become available again) and
 * deletes sessions that ended more than a day ago. Either count pointer may be NULL. */
rsp_err_t rsp_smdp_service_expire(struct rsp_smdp_service *svc, size_t *orders, size_t *sessions);

/* ---- test profile packages ------------------------------------------------------------------- */

/* A well-formed unprotected profile package for tests (SAIP-shaped, strict DER): a ProfileHeader
 * (version 2.3, profileType "openrsp test profile", the ICCID, USIM mandatory), two nonStandard
 * elements carrying the EF.ICCID and EF.IMSI contents, and the end element. Appended to der.
 * iccid: 18..20 digits; imsi: 6..15 digits. */
rsp_err_t rsp_smdp_profile_generate(const char *iccid, const char *imsi, struct rsp_buf *der);
/* The same package with another ProfileHeader.profileType (UTF-8, 1..100 bytes; NULL: "openrsp
 * test profile"), so that profiles generated for different operators can be told apart and
 * ordered by type (ES2+ DownloadOrder profileType). RSP_E_INVALID_ARG for a bad argument. */
rsp_err_t rsp_smdp_profile_generate_typed(const char *iccid, const char *imsi,
                                          const char *profile_type, struct rsp_buf *der);

/* The ICCID (digits, trailing F dropped) and profileType ("" when absent) of a profile package's
 * ProfileHeader, after checking that the package is a list of strict DER elements starting with
 * the header. profile_type may be NULL. RSP_E_INVALID_ARG when it is not such a package. */
rsp_err_t rsp_smdp_profile_package_info(const uint8_t *upp, size_t len,
                                        char iccid[RSP_ICCID_MAX_DIGITS + 1], char *profile_type,
                                        size_t profile_type_size);

#endif
