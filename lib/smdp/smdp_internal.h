/* lib/smdp internals shared by service.c, es2p.c, es9p.c, es9p_notify.c, profile_package.c and
 * store.c: the service object, the refusal record, and the rows of the store. */
#ifndef RSP_SMDP_INTERNAL_H
#define RSP_SMDP_INTERNAL_H

#include <limits.h>
#include <sqlite3.h>

#include "rsp/core/log.h"
#include "rsp/msg/asn1.h"
#include "rsp/smdp/service.h"
#include "rsp/smdp/smds.h"

#define RSP__SMDP_COMP "smdp"
#define RSP__SMDP_UPP_PATH_MAX PATH_MAX
/* Sessions that ended are kept this long after their expiry (a late PIR still finds its key). */
#define RSP__SMDP_SESSION_KEEP (24 * 3600)

struct rsp_smdp_service {
  sqlite3 *db;
  const struct rsp_smdp_identity *id;
  char address[RSP_SMDP_ADDRESS_MAX + 1];
  char requester_id[RSP_SMDP_REQUESTER_MAX + 1];
  int64_t session_ttl, order_ttl;
  int cc_retries;
  int64_t (*now)(void *ctx);
  void *now_ctx;
};

int64_t rsp__smdp_now(const struct rsp_smdp_service *svc);

/* A protocol refusal: the statusCodeData the function answers with. */
struct rsp__smdp_refusal {
  bool set;
  const char *subject;
  const char *reason;
  char message[192];
};

void rsp__smdp_refuse(struct rsp__smdp_refusal *r, const char *subject, const char *reason,
                      const char *fmt, ...) RSP_PRINTF(4, 5);
/* Sets a response header: Executed-Success, or Failed with the refusal's statusCodeData (allocated
 * in mem). */
rsp_err_t rsp__smdp_header_set(struct rsp_msg_json_resp_header *h,
                               const struct rsp__smdp_refusal *r, struct rsp_msg_json_doc *mem);
/* Copies bytes, a string, or `tag L bytes` as one TLV into mem. */
rsp_err_t rsp__smdp_mem_dup(struct rsp_msg_json_doc *mem, const void *p, size_t n,
                            struct rsp_slice *out);
rsp_err_t rsp__smdp_mem_str(struct rsp_msg_json_doc *mem, const char *s, const char **out);
rsp_err_t rsp__smdp_mem_tlv(struct rsp_msg_json_doc *mem, uint32_t tag, const void *p, size_t n,
                            struct rsp_slice *out);
/* A malformed message from the card or LPA (a decoding error), as opposed to a failure of ours. */
bool rsp__smdp_input_error(rsp_err_t rc);
/* Canonical ICCID digits of a JSON iccid value (18..20 digits, a 20th F dropped). */
rsp_err_t rsp__smdp_iccid_canon(const char *in, char out[RSP_ICCID_MAX_DIGITS + 1]);

/* The generic JSON entry of both services (service.c): the routes a service serves, and the
 * decode, dispatch, encode and HTTP status rules of rsp_smdp_service_handle. */
struct rsp__smdp_route {
  enum rsp_msg_json_func func; /* body types and name */
  const char *path;            /* served at this path; NULL: the function's own */
  rsp_err_t (*fn)(struct rsp_smdp_service *, const void *, struct rsp_msg_json_doc *, void *);
  const char *subject; /* of a body that does not decode */
};
rsp_err_t rsp__smdp_handle_json(struct rsp_smdp_service *svc, const struct rsp__smdp_route *routes,
                                size_t n_routes, const char *path, const char *body, size_t len,
                                int *http_status, struct rsp_buf *response);

/* One function's work inside its transaction: fills *resp or records a refusal in *ref. */
typedef rsp_err_t (*rsp__smdp_step_fn)(struct rsp_smdp_service *svc, const void *req,
                                       struct rsp_msg_json_doc *mem, void *resp,
                                       struct rsp__smdp_refusal *ref);
rsp_err_t rsp__smdp_run(struct rsp_smdp_service *svc, rsp__smdp_step_fn step, const void *req,
                        struct rsp_msg_json_doc *mem, void *resp, size_t resp_size);

/* ---- store rows -------------------------------------------------------------------------------
 */

struct rsp__smdp_profile_row {
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  char profile_type[RSP_SMDP_PROFILE_TYPE_MAX + 1];
  char spn[RSP_SMDP_SPN_MAX + 1];
  char name[RSP_SMDP_PROFILE_NAME_MAX + 1];
  enum rsp_smdp_profile_state state;
};

struct rsp__smdp_order_row {
  int64_t id;
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  char eid[RSP_EID_DIGITS + 1];                   /* "" = none */
  char matching_id[RSP_SMDP_MATCHING_ID_MAX + 1]; /* "" = none */
  uint8_t cc_hash[RSP_SHA256_LEN];                /* SHA-256(confirmation code) */
  bool has_cc;
  bool release_flag;
  int64_t created, expires;
  int64_t cc_retries;
  enum rsp_smdp_order_state state;
  char requester[RSP_SMDP_REQUESTER_MAX + 1];
  char profile_type[RSP_SMDP_PROFILE_TYPE_MAX + 1];
  char smds_address[RSP_SMDP_ADDRESS_MAX + 1]; /* "" = none */
  int smds_event;                              /* RSP__SMDP_EVENT_* */
};

/* Where the SM-DS event of an order is (column download_order.smds_event). */
#define RSP__SMDP_EVENT_NONE 0
#define RSP__SMDP_EVENT_REGISTERED 1 /* ES12.RegisterEvent queued */
#define RSP__SMDP_EVENT_DELETED 2    /* ES12.DeleteEvent queued */

struct rsp__smdp_session_row {
  struct rsp_smdp_session s; /* s.euicc_pk owned: rsp_smdp_session_free */
  int64_t order_id;          /* 0 = none yet */
  int64_t created, expires;
};

/* ---- store (store.c) ------------------------------------------------------------------------- */

rsp_err_t rsp__smdp_db_open(const char *path, sqlite3 **out);
void rsp__smdp_db_close(sqlite3 *db);
/* BEGIN IMMEDIATE / COMMIT (rc == RSP_OK) or ROLLBACK; end returns rc, or the commit's error. */
rsp_err_t rsp__smdp_begin(sqlite3 *db);
rsp_err_t rsp__smdp_end(sqlite3 *db, rsp_err_t rc);

rsp_err_t rsp__smdp_profile_insert(sqlite3 *db, const struct rsp__smdp_profile_row *p,
                                   struct rsp_slice upp, const char *upp_path, int64_t now);
rsp_err_t rsp__smdp_profile_get(sqlite3 *db, const char *iccid, struct rsp__smdp_profile_row *p);
/* The first available profile of a type; RSP_E_NOT_FOUND, and *type_known tells whether any
 * profile of that type exists at all. */
rsp_err_t rsp__smdp_profile_pick(sqlite3 *db, const char *type, struct rsp__smdp_profile_row *p,
                                 bool *type_known);
rsp_err_t rsp__smdp_profile_set_state(sqlite3 *db, const char *iccid, enum rsp_smdp_profile_state s,
                                      int64_t now);
/* A whole file of at most RSP_SMDP_UPP_MAX bytes appended to out. */
rsp_err_t rsp__smdp_read_file(const char *path, struct rsp_buf *out);
/* The package bytes (blob, or the file at its path) appended to out. */
rsp_err_t rsp__smdp_profile_upp(sqlite3 *db, const char *iccid, struct rsp_buf *out);

rsp_err_t rsp__smdp_order_insert(sqlite3 *db, struct rsp__smdp_order_row *o);
rsp_err_t rsp__smdp_order_update(sqlite3 *db, const struct rsp__smdp_order_row *o);
rsp_err_t rsp__smdp_order_by_id(sqlite3 *db, int64_t id, struct rsp__smdp_order_row *o);
rsp_err_t rsp__smdp_order_by_matching_id(sqlite3 *db, const char *mid,
                                         struct rsp__smdp_order_row *o);
/* The oldest released order of an EID without matchingId (found by the card's EID). */
rsp_err_t rsp__smdp_order_for_eid(sqlite3 *db, const char *eid, struct rsp__smdp_order_row *o);
/* The newest order of a profile (any state). */
rsp_err_t rsp__smdp_order_latest(sqlite3 *db, const char *iccid, struct rsp__smdp_order_row *o);
/* Ids of orders in an expirable state whose expiry is <= now, up to n; *count gets how many. */
rsp_err_t rsp__smdp_orders_due(sqlite3 *db, int64_t now, int64_t *ids, size_t n, size_t *count);

rsp_err_t rsp__smdp_session_insert(sqlite3 *db, const struct rsp__smdp_session_row *r);
rsp_err_t rsp__smdp_session_update(sqlite3 *db, const struct rsp__smdp_session_row *r);
/* RSP_E_NOT_FOUND for an unknown transactionId. r->s is initialised in every case. */
rsp_err_t rsp__smdp_session_get(sqlite3 *db, struct rsp_slice txid,
                                struct rsp__smdp_session_row *r);
/* Closes every open session of an order except `keep` (p == NULL: none kept). */
rsp_err_t rsp__smdp_sessions_close(sqlite3 *db, int64_t order_id, struct rsp_slice keep);
rsp_err_t rsp__smdp_sessions_purge(sqlite3 *db, int64_t before, size_t *count);

rsp_err_t rsp__smdp_euicc_put(sqlite3 *db, const uint8_t eid[RSP_EID_LEN], const struct rsp_key *pk,
                              int64_t now);
rsp_err_t rsp__smdp_euicc_get(sqlite3 *db, const char *eid, struct rsp_key **pk);

struct rsp__smdp_notification_row {
  const char *eid;   /* NULL: unknown */
  const char *iccid; /* NULL: absent */
  int64_t seq_number;
  int event; /* -1: unknown */
  bool pir, success, verified;
  struct rsp_slice raw;
};
/* A verified notification already recorded (same EID and sequence number) is not added again. */
rsp_err_t rsp__smdp_notification_add(sqlite3 *db, const struct rsp__smdp_notification_row *n,
                                     int64_t now);
rsp_err_t rsp__smdp_notification_last(sqlite3 *db, struct rsp_smdp_notification_info *out);

rsp_err_t rsp__smdp_outbox_add(sqlite3 *db, int64_t order_id, const char *requester,
                               const char *path, const char *body, int64_t now);
rsp_err_t rsp__smdp_outbox_next(sqlite3 *db, struct rsp_smdp_outbox_item *item);
rsp_err_t rsp__smdp_outbox_done(sqlite3 *db, int64_t id, int64_t now);

/* ES12 calls the SM-DP+ owes SM-DSs (es12_outbox). */
struct rsp__smdp_es12_item {
  int64_t id;
  int64_t order_id;
  char smds_address[RSP_SMDP_ADDRESS_MAX + 1];
  char path[64];
  char *body; /* owned: rsp_free */
  size_t body_len;
};
rsp_err_t rsp__smdp_es12_add(sqlite3 *db, int64_t order_id, const char *smds_address,
                             const char *path, const char *body, int64_t now);
/* The oldest call not yet done; RSP_E_NOT_FOUND when none waits. */
rsp_err_t rsp__smdp_es12_next(sqlite3 *db, struct rsp__smdp_es12_item *item);
rsp_err_t rsp__smdp_es12_done(sqlite3 *db, int64_t id, const char *outcome, int64_t now);
rsp_err_t rsp__smdp_es12_pending(sqlite3 *db, size_t *count);

/* The SM-DS's events (smds_event). An event registered again is not added twice (*added false). */
rsp_err_t rsp__smds_event_add(sqlite3 *db, const struct rsp_smds_event_info *e, bool forwarding,
                              int64_t now, bool *added);
rsp_err_t rsp__smds_event_delete(sqlite3 *db, const char *eid, const char *event_id, size_t *count);
/* The events of an EID (NULL: all), oldest first. */
rsp_err_t rsp__smds_events_list(sqlite3 *db, const char *eid, struct rsp_smds_event_info *out,
                                size_t max, size_t *count);

/* ---- shared steps of the functions ----------------------------------------------------------- */

/* Moves an order and its profile together (one state change inside the caller's transaction). */
rsp_err_t rsp__smdp_order_move(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                               enum rsp_smdp_order_state os, enum rsp_smdp_profile_state ps);
/* An order still waiting for its download whose time ran out becomes EXPIRED, its profile
 * available again; returns true when it did. */
bool rsp__smdp_order_expired(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                             rsp_err_t *rc);

/* Queues ES2+.HandleDownloadProgressInfo for the order's operator (es2p.c). status_subject NULL:
 * Executed-Success, else Failed with that statusCodeData; result_data may be empty. */
struct rsp__smdp_progress {
  int point;
  bool failed;
  const char *subject, *reason, *message;
  const char *eid; /* NULL: the order's */
  struct rsp_slice result_data;
};
rsp_err_t rsp__smdp_progress_queue(struct rsp_smdp_service *svc,
                                   const struct rsp__smdp_order_row *o,
                                   const struct rsp__smdp_progress *p);
/* Queues ES12.RegisterEvent (register) or ES12.DeleteEvent for the order's SM-DS event and
 * records it in o->smds_event (the caller writes the order). es2p.c. */
rsp_err_t rsp__smdp_es12_queue(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                               bool register_event);

/* ---- ES9+ pieces shared by es9p.c and es9p_notify.c ------------------------------------------ */

/* The session of a transactionId, open, in `stage` (-1: any open stage) and not expired; a
 * refusal 8.10.1/3.9 otherwise (an expired session is closed on the way). r->s is initialised in
 * every case: rsp_smdp_session_free it. */
rsp_err_t rsp__smdp_session_load(struct rsp_smdp_service *svc, struct rsp_slice txid, int stage,
                                 struct rsp__smdp_session_row *r, struct rsp__smdp_refusal *ref);
/* A bind.h refusal as the answer: its codes, or 8.1/3.8 when the card sent its own error. */
void rsp__smdp_refuse_status(struct rsp__smdp_refusal *ref, const struct rsp_smdp_status *st);
/* A session ends (stage closed). */
rsp_err_t rsp__smdp_session_close(struct rsp_smdp_service *svc, struct rsp__smdp_session_row *r);
/* InitiateAuthentication's checks (SGP.22 §5.6.1, §5.8.1): `address` is this server's
 * (case-insensitive; else subject_address / 3.8) and the card verifies with and signs under our CI
 * (euiccInfo1, notes 4.1; else subject_security / 3.1). */
void rsp__smdp_ia_check(const struct rsp_smdp_service *svc, const char *address,
                        struct rsp_slice euicc_info1, const char *subject_address,
                        const char *subject_security, struct rsp__smdp_refusal *ref);
/* A new session: serverSigned1 signed with the identity's auth key, the session stored, the
 * answer (transactionId, serverSigned1, serverSignature1, euiccCiPKIdToBeUsed, the certificate). */
rsp_err_t rsp__smdp_ia_open(struct rsp_smdp_service *svc, struct rsp_slice euicc_challenge,
                            struct rsp_msg_json_doc *mem,
                            struct rsp_es9p_json_initiate_authentication_resp *resp);
/* AuthenticateClient's verification of the card's answer (bind.h), its refusal as the answer. */
rsp_err_t rsp__smdp_ac_verify(struct rsp_smdp_service *svc, struct rsp__smdp_session_row *row,
                              struct rsp_slice asr, struct rsp__smdp_refusal *ref);
/* The order is still downloadable: released, not expired, attempts left. */
rsp_err_t rsp__smdp_order_live(struct rsp_smdp_service *svc, struct rsp__smdp_order_row *o,
                               struct rsp__smdp_refusal *ref);

/* StoreMetadataRequest of a profile; the struct points into itself, so it is never copied. */
struct rsp__smdp_metadata {
  uint8_t iccid[RSP_ICCID_LEN];
  uint8_t bits[5];
  struct rsp_msg_notification_configuration_information nci;
  struct rsp_msg_sgp32_store_metadata_request_notification_configuration_info list;
  struct rsp_msg_sgp32_store_metadata_request m;
};
rsp_err_t rsp__smdp_metadata_fill(const struct rsp_smdp_service *svc,
                                  const struct rsp__smdp_profile_row *p,
                                  struct rsp__smdp_metadata *m);

#endif
