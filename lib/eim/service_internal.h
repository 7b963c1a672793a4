/* lib/eim internals of the ESipa service (rsp/eim/service.h): the handle, the binding-neutral
 * answer that service.c (GetEimPackage, dispatch, ASN.1 binding), service_result.c (the result
 * path) and esipa_json.c (JSON binding) share. */
#ifndef RSP_EIM_SERVICE_INTERNAL_H
#define RSP_EIM_SERVICE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "rsp/crypto/x509.h"
#include "rsp/eim/service.h"
#include "rsp/msg/asn1.h"

#define RSP__EIM_SVC "eim"

/* SM-DP+ transactionIds of indirect downloads this handle relayed, with the device they belong
 * to: the later download requests (BF3B, BF3A, BF41) carry no EID (see docs/eim.md). The
 * profile's ICCID and name come from the metadata of authenticateClient's answer, so the view
 * can name the profile once its installation is reported. */
#define RSP__EIM_DL_SESSIONS 64

struct rsp__eim_dl_session {
  uint8_t txid[RSP_EIM_TXID_MAX];
  size_t txid_len; /* 0: free */
  char eid[RSP_EID_DIGITS + 1];
  char iccid[RSP_ICCID_MAX_DIGITS + 1];    /* "" until authenticateClient answered */
  char name[RSP_EIM_PROFILE_NAME_MAX + 1]; /* profileName of the metadata, "" when none */
};

struct rsp_eim_service {
  char eim_id[RSP_EIM_ID_MAX + 1];
  struct rsp_signer *signer;
  struct rsp_eim_store *store;
  struct rsp_eim_relay *relay;
  struct rsp_ci_store *cis;
  bool ignore_cert_time;
  int64_t (*now)(void *ctx);
  void *now_ctx;
  struct rsp_eim_service_stats stats;
  struct rsp__eim_dl_session dl[RSP__EIM_DL_SESSIONS];
  size_t dl_next;
};

/* What the eIM answers, independent of the binding. */
enum rsp__eim_answer_kind {
  RSP__EIM_ANS_NONE = 0,      /* no answer body (HandleNotification): 204 */
  RSP__EIM_ANS_PACKAGE,       /* GetEimPackageResponse with `bytes` (BF51, BF52 or BF54) */
  RSP__EIM_ANS_PACKAGE_ERROR, /* GetEimPackageResponse.eimPackageError `code` */
  RSP__EIM_ANS_ACKS,          /* ProvideEimPackageResultResponse: acks, or emptyResponse */
  RSP__EIM_ANS_PROVIDE_ERROR, /* ProvideEimPackageResultResponse.provideEimPackageResultError */
  RSP__EIM_ANS_RAW,           /* `bytes` is a complete EsipaMessageFromEimToIpa (the relay) */
  RSP__EIM_ANS_BAD_REQUEST,   /* not a valid request: HTTP 400, nothing changed */
};

struct rsp__eim_answer {
  enum rsp__eim_answer_kind kind;
  struct rsp_buf bytes;
  int64_t code;
  int64_t acks[RSP_EIM_SERVICE_MAX_ACKS];
  size_t n_acks;
};

void rsp__eim_answer_init(struct rsp__eim_answer *a);
void rsp__eim_answer_free(struct rsp__eim_answer *a);
/* Adds a seqNumber to EimAcknowledgements (once; beyond the cap it is left for the next
 * delivery, which is harmless: the card keeps what is not acknowledged). */
void rsp__eim_answer_ack(struct rsp__eim_answer *a, int64_t seq);

int64_t rsp__eim_now(struct rsp_eim_service *s);

/* One decoded request, handled by the function its alternative names; `a` receives the answer.
 * rsp_err_t only for internal failures (store, memory). */
rsp_err_t rsp__eim_get_package(struct rsp_eim_service *s,
                               const struct rsp_msg_get_eim_package_request *q,
                               struct rsp__eim_answer *a);
rsp_err_t rsp__eim_provide_result(struct rsp_eim_service *s,
                                  const struct rsp_msg_provide_eim_package_result *p,
                                  struct rsp__eim_answer *a);
rsp_err_t rsp__eim_handle_message(struct rsp_eim_service *s,
                                  const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                                  struct rsp__eim_answer *a);

/* Records one pending notification (SGP32-PendingNotification) for `eid` (NULL: taken from the
 * notification itself when it names it: the eUICC certificate of an otherSignedNotification or
 * the eidValue of the compact form). `forwarded`: the relay has just forwarded it, so it is kept
 * without a forwarding address. *seq (may be NULL) gets its seqNumber once it is committed (new or
 * already there), -1 otherwise. A notification of an unknown device is logged and dropped. */
rsp_err_t rsp__eim_record_pending_notification(struct rsp_eim_service *s, const char *eid,
                                               const struct rsp_msg_sgp32_pending_notification *n,
                                               bool forwarded, int64_t *seq);

/* The device of an indirect download this handle relayed, by the SM-DP+'s transactionId (a PIR
 * carries it); NULL when unknown here. */
const char *rsp__eim_dl_session_eid(const struct rsp_eim_service *s, struct rsp_slice txid);
/* The profileName the metadata of a relayed download of `iccid` announced; "" when this handle
 * relayed no such download or the metadata had no name. */
void rsp__eim_dl_profile_name(const struct rsp_eim_service *s, const char *iccid,
                              char name[RSP_EIM_PROFILE_NAME_MAX + 1]);

/* The eimTransactionId of the IpaEuiccDataRequest that asks the card for its pending results
 * before a re-send (docs/eim.md "ESipa service"): a marker, the operation id and its sent_count,
 * so the answer tells which check it completes on whatever handle it reaches. */
#define RSP__EIM_CHECK_TXID_LEN 16
void rsp__eim_check_txid(int64_t op_id, int64_t sent_count, uint8_t out[RSP__EIM_CHECK_TXID_LEN]);
bool rsp__eim_check_txid_parse(struct rsp_slice txid, int64_t *op_id, int64_t *sent_count);

/* Audit helper: a JSON object built by json_pack-like format is awkward across files, so the
 * detail is given as text. Failures are logged, not returned (the audit of a refusal must not
 * turn the refusal into a 500). */
void rsp__eim_audit(struct rsp_eim_service *s, const char *eid, int64_t op_id, const char *event,
                    const char *detail, struct rsp_slice der);

#endif
