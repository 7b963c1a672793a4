/* The eIM's ESipa service (rsp/eim/service.h; SGP.32 §5.14 and §3.3, notes 2 and 3): the handle,
 * the ASN.1 binding, GetEimPackage (the delivery state machine of docs/eim.md "Exactly-once" over
 * the store), HandleNotification and the hand-over of download requests to the relay. The result
 * path is service_result.c, the JSON binding esipa_json.c. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/core/text.h"
#include "rsp/crypto/crypto.h"
#include "rsp/crypto/signer.h"
#include "rsp/eim/spec.h"
#include "rsp/msg/activation_code.h"
#include "rsp/msg/signed.h"
#include "rsp/msg/tags.h"
#include "service_internal.h"

/* GetEimPackageResponse.eimPackageError (SGP32Definitions). */
#define NO_EIM_PACKAGE_AVAILABLE                                                                   \
  RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_NO_EIM_PACKAGE_AVAILABLE
#define EID_NOT_FOUND RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_EID_NOT_FOUND
#define INVALID_EID RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_INVALID_EID
#define UNDEFINED_ERROR RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR_UNDEFINED_ERROR

/* Bound of the delivery loop of one GetEimPackage: operations failed because their spec no
 * longer parses are skipped, a counter race is retried once (store.h). */
#define DELIVERY_STEPS 8
#define RACES_MAX 1

#define TXID_LEN RSP_EIM_TXID_MAX /* fresh eimTransactionIds: 16 random bytes (notes 3.1) */

/* IpaEuiccData tags (notes 3.5): the certificates and EUICCInfo2 the eIM needs to verify the
 * card's signatures, and the pending package results and notifications. */
static const uint8_t TAGS_CERTS[] = {0xA5, 0xA6, 0xBF, 0x22};
static const uint8_t TAGS_RESULTS[] = {0xA2, 0xA0};

static const uint8_t CHECK_MARK[4] = {'C', 'H', 'K', '1'};

/* ---- small helpers -----------------------------------------------------------------------------
 */

int64_t rsp__eim_now(struct rsp_eim_service *s) {
  return s->now ? s->now(s->now_ctx) : (int64_t)time(NULL);
}

void rsp__eim_answer_init(struct rsp__eim_answer *a) {
  memset(a, 0, sizeof *a);
  rsp_buf_init(&a->bytes, RSP_EIM_ESIPA_MAX);
}

void rsp__eim_answer_free(struct rsp__eim_answer *a) {
  if (a) rsp_buf_free(&a->bytes);
}

void rsp__eim_answer_ack(struct rsp__eim_answer *a, int64_t seq) {
  for (size_t i = 0; i < a->n_acks; i++)
    if (a->acks[i] == seq) return;
  if (a->n_acks < RSP_EIM_SERVICE_MAX_ACKS) a->acks[a->n_acks++] = seq;
}

void rsp__eim_audit(struct rsp_eim_service *s, const char *eid, int64_t op_id, const char *event,
                    const char *detail, struct rsp_slice der) {
  rsp_err_t rc = rsp_eim_store_audit_add(s->store, eid, op_id, event, detail, der, rsp__eim_now(s));
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, RSP__EIM_SVC, "audit %s for %s: %s", event, eid ? eid : "-",
            rsp_strerror(rc));
}

void rsp__eim_check_txid(int64_t op_id, int64_t sent_count, uint8_t out[RSP__EIM_CHECK_TXID_LEN]) {
  memcpy(out, CHECK_MARK, sizeof CHECK_MARK);
  for (int i = 0; i < 8; i++) out[4 + i] = (uint8_t)((uint64_t)op_id >> (56 - 8 * i));
  for (int i = 0; i < 4; i++) out[12 + i] = (uint8_t)((uint64_t)sent_count >> (24 - 8 * i));
}

bool rsp__eim_check_txid_parse(struct rsp_slice txid, int64_t *op_id, int64_t *sent_count) {
  uint64_t id = 0, n = 0;
  if (!txid.p || txid.len != RSP__EIM_CHECK_TXID_LEN ||
      memcmp(txid.p, CHECK_MARK, sizeof CHECK_MARK) != 0)
    return false;
  for (int i = 0; i < 8; i++) id = id << 8 | txid.p[4 + i];
  for (int i = 0; i < 4; i++) n = n << 8 | txid.p[12 + i];
  if (id == 0 || id > (uint64_t)INT64_MAX || n == 0) return false;
  *op_id = (int64_t)id;
  *sent_count = (int64_t)n;
  return true;
}

static struct rsp_slice text_slice(const char *t) { return rsp_msg_slice(t, strlen(t)); }

/* ---- the handle --------------------------------------------------------------------------------
 */

/* Every CI certificate of `dir` (or the one file `dir` names); files that are not CI
 * certificates (the CI's key.pem in an rsp-pki directory) are skipped. */
static rsp_err_t load_cis(struct rsp_ci_store *cis, const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0) {
    rsp_log(RSP_LOG_ERROR, RSP__EIM_SVC, "CI directory %s: not found", dir);
    return RSP_E_NOT_FOUND;
  }
  if (!S_ISDIR(st.st_mode)) return rsp_ci_store_add_file(cis, dir);
  DIR *d = opendir(dir);
  struct dirent *e;
  if (!d) return RSP_E_IO;
  while ((e = readdir(d)) != NULL) {
    char path[4096];
    if (e->d_name[0] == '.') continue;
    int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (n < 0 || (size_t)n >= sizeof path || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (rsp_ci_store_add_file(cis, path) != RSP_OK)
      rsp_log(RSP_LOG_DEBUG, RSP__EIM_SVC, "%s: not a CI certificate, skipped", path);
  }
  closedir(d);
  return rsp_ci_store_count(cis) ? RSP_OK : RSP_E_NOT_FOUND;
}

rsp_err_t rsp_eim_service_new(const struct rsp_eim_service_options *o,
                              struct rsp_eim_service **out) {
  struct rsp_eim_service *s = NULL;
  rsp_err_t rc;
  if (out) *out = NULL;
  if (!o || !out || !o->eim_id || !o->signer || !o->store || !o->ci_dir || strlen(o->eim_id) == 0 ||
      strlen(o->eim_id) > RSP_EIM_ID_MAX)
    return RSP_E_INVALID_ARG;
  if (!(s = rsp_calloc(1, sizeof *s))) return RSP_E_NOMEM;
  snprintf(s->eim_id, sizeof s->eim_id, "%s", o->eim_id);
  s->signer = o->signer;
  s->store = o->store;
  s->relay = o->relay;
  s->ignore_cert_time = o->ignore_cert_time;
  s->now = o->now;
  s->now_ctx = o->now_ctx;
  rc = rsp_ci_store_new(&s->cis);
  if (rc == RSP_OK) rc = load_cis(s->cis, o->ci_dir);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, RSP__EIM_SVC, "no CI certificate in %s: %s", o->ci_dir,
            rsp_strerror(rc));
    rsp_eim_service_destroy(s);
    return rc;
  }
  *out = s;
  return RSP_OK;
}

void rsp_eim_service_destroy(struct rsp_eim_service *s) {
  if (!s) return;
  rsp_ci_store_free(s->cis);
  rsp_free(s);
}

void rsp_eim_service_stats(const struct rsp_eim_service *s, struct rsp_eim_service_stats *out) {
  if (!out) return;
  if (!s) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = s->stats;
}

/* ---- building packages -------------------------------------------------------------------------
 */

/* EuiccPackageRequest: EuiccPackageSigned {eimId, eidValue, counterValue, eimTransactionId,
 * euiccPackage} signed over DER(EuiccPackageSigned) || associationToken DO (SGP.32 §2.11.1.1,
 * notes 3.1; `84 01 00` when the association has no token). */
static rsp_err_t sign_package(struct rsp_eim_service *s, const struct rsp_eim_device *d,
                              struct rsp_msg_euicc_package *pkg, int64_t counter,
                              const uint8_t *txid, struct rsp_buf *out) {
  uint8_t eid[RSP_EID_LEN], sig[RSP_SIG_RAW_LEN];
  struct rsp_buf der, in;
  struct rsp_msg_token token = {d->has_association_token, d->association_token};
  rsp_err_t rc = rsp_eid_from_string(d->eid, eid);
  struct rsp_msg_euicc_package_signed ps = {.eim_id = text_slice(d->eim_id),
                                            .eid_value = rsp_msg_slice(eid, RSP_EID_LEN),
                                            .counter_value = counter,
                                            .eim_transaction_id = rsp_msg_slice(txid, TXID_LEN),
                                            .euicc_package = pkg};
  struct rsp_msg_euicc_package_request rq = {.euicc_package_signed = &ps,
                                             .eim_signature = rsp_msg_slice(sig, sizeof sig)};
  rsp_buf_init(&der, RSP_EIM_PACKAGE_MAX);
  rsp_buf_init(&in, RSP_EIM_PACKAGE_MAX);
  if (rc == RSP_OK) rc = rsp_msg_encode(&rsp_msgt_euicc_package_signed, &ps, &der, NULL);
  if (rc == RSP_OK) rc = rsp_msg_signed_with_token(rsp_msg_slice(der.data, der.len), token, &in);
  if (rc == RSP_OK) rc = rsp_signer_sign(s->signer, in.data, in.len, sig);
  if (rc == RSP_OK) rc = rsp_msg_encode(&rsp_msgt_euicc_package_request, &rq, out, NULL);
  rsp_buf_free(&der);
  rsp_buf_free(&in);
  return rc;
}

/* An IpaEuiccDataRequest that is not an operation of the queue: the certificates before the
 * first package, or the pending results before a re-send. */
static rsp_err_t data_request(struct rsp_eim_service *s, const uint8_t *tags, size_t n,
                              const uint8_t *txid, size_t txid_len, struct rsp__eim_answer *a) {
  struct rsp_msg_ipa_euicc_data_request q = {.tag_list = rsp_msg_slice(tags, n),
                                             .eim_transaction_id = rsp_msg_slice(txid, txid_len)};
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_ipa_euicc_data_request, &q, &a->bytes, NULL);
  if (rc == RSP_OK) {
    a->kind = RSP__EIM_ANS_PACKAGE;
    s->stats.data_requests++;
  }
  return rc;
}

static void answer_error(struct rsp__eim_answer *a, int64_t code) {
  rsp_buf_reset(&a->bytes);
  a->kind = RSP__EIM_ANS_PACKAGE_ERROR;
  a->code = code;
}

enum send_outcome { SENT, RETRY, SKIPPED };

/* The message of a queued operation, built from its spec; *built false (and the operation
 * failed in the store, so it no longer blocks the queue) when the spec cannot be used. */
static rsp_err_t build(struct rsp_eim_service *s, const struct rsp_eim_device *d,
                       const struct rsp_eim_operation *op, const uint8_t *txid, struct rsp_buf *out,
                       bool *built) {
  struct rsp_arena arena;
  struct rsp_eim_spec spec;
  char why[256], error[300];
  rsp_err_t rc;
  *built = false;
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  rc = rsp_eim_spec_parse(op->spec ? op->spec : "", op->spec ? strlen(op->spec) : 0, &arena, &spec,
                          why, sizeof why);
  if (rc == RSP_E_NOMEM) goto out;
  if (rc == RSP_OK && spec.kind != op->kind) {
    snprintf(why, sizeof why, "kind %s differs from the operation's",
             rsp_eim_op_kind_name(spec.kind));
    rc = RSP_E_JSON_INVALID;
  }
  if (rc == RSP_OK) {
    switch (op->kind) {
    case RSP_EIM_OP_PSMO:
    case RSP_EIM_OP_ECO:
      rc = sign_package(s, d, spec.package, d->next_counter, txid, out);
      break;
    case RSP_EIM_OP_EUICC_DATA:
      spec.data_request->eim_transaction_id = rsp_msg_slice(txid, TXID_LEN);
      rc = rsp_msg_encode(&rsp_msgt_ipa_euicc_data_request, spec.data_request, out, NULL);
      break;
    default:
      spec.trigger->eim_transaction_id = rsp_msg_slice(txid, TXID_LEN);
      rc = rsp_msg_encode(&rsp_msgt_profile_download_trigger_request, spec.trigger, out, NULL);
    }
    *built = rc == RSP_OK;
    if (rc != RSP_OK && rc != RSP_E_NOMEM)
      snprintf(why, sizeof why, "package cannot be built: %s", rsp_strerror(rc));
  }
  if (!*built && rc != RSP_E_NOMEM) {
    snprintf(error, sizeof error, "spec: %s", why);
    rsp_log(RSP_LOG_WARN, RSP__EIM_SVC, "operation %lld of %s: %s", (long long)op->id, op->eid,
            error);
    rc = rsp_eim_store_op_fail(s->store, op->id, error, rsp__eim_now(s));
    if (rc == RSP_E_STATE) rc = RSP_OK; /* another handler took it meanwhile: read again */
  }
out:
  rsp_arena_free(&arena);
  return rc;
}

/* SEND_NEW: build, sign with the device's next counter, commit as sent, and only then answer. */
static rsp_err_t send_new(struct rsp_eim_service *s, const struct rsp_eim_device *d,
                          const struct rsp_eim_operation *op, struct rsp__eim_answer *a,
                          enum send_outcome *outcome) {
  uint8_t txid[TXID_LEN];
  bool built = false;
  bool counted = op->kind == RSP_EIM_OP_PSMO || op->kind == RSP_EIM_OP_ECO;
  rsp_err_t rc = rsp_random(txid, sizeof txid);
  *outcome = RETRY;
  rsp_buf_reset(&a->bytes);
  if (rc == RSP_OK) rc = build(s, d, op, txid, &a->bytes, &built);
  if (rc != RSP_OK || !built) {
    *outcome = SKIPPED;
    return rc;
  }
  rc = rsp_eim_store_assign_counter_and_mark_sent(
      s->store, op->id, rsp_msg_slice(a->bytes.data, a->bytes.len),
      counted ? d->next_counter : RSP_EIM_NO_COUNTER, rsp_msg_slice(txid, sizeof txid),
      rsp__eim_now(s));
  if (rc == RSP_E_STATE || rc == RSP_E_EXISTS) {
    /* another handler was faster (or, once in 2^128, the eimTransactionId is taken): read the
     * device and its queue head again */
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "operation %lld of %s: %s, reading the queue again",
            (long long)op->id, op->eid, rc == RSP_E_STATE ? "raced" : "eimTransactionId in use");
    rsp_buf_reset(&a->bytes);
    return RSP_OK;
  }
  if (rc != RSP_OK) return rc;
  a->kind = RSP__EIM_ANS_PACKAGE;
  *outcome = SENT;
  s->stats.packages_sent++;
  if (op->kind == RSP_EIM_OP_EUICC_DATA) s->stats.data_requests++;
  rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: operation %lld (%s) sent%s", op->eid, (long long)op->id,
          rsp_eim_op_kind_name(op->kind), counted ? " signed" : "");
  return RSP_OK;
}

static bool signed_kind(enum rsp_eim_op_kind k) {
  return k == RSP_EIM_OP_PSMO || k == RSP_EIM_OP_ECO;
}

/* One step of the delivery loop on the device's queue head `op` (id 0: nothing deliverable).
 * *done when `a` holds the answer. */
static rsp_err_t deliver_step(struct rsp_eim_service *s, struct rsp_eim_device *d,
                              const struct rsp_eim_operation *op, struct rsp__eim_answer *a,
                              int *races, bool *done) {
  enum send_outcome outcome;
  int64_t now = rsp__eim_now(s);
  rsp_err_t rc = RSP_OK;
  *done = true;
  if (op->id == 0) {
    answer_error(a, NO_EIM_PACKAGE_AVAILABLE);
    return RSP_OK;
  }
  switch (rsp_eim_store_delivery_decision(op, now)) {
  case RSP_EIM_DELIVERY_SEND_NEW:
    if (signed_kind(op->kind) && (d->euicc_cert.len == 0 || d->eum_cert.len == 0)) {
      /* the result will be signed by the card: learn its certificates first */
      uint8_t txid[TXID_LEN];
      rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: certificates unknown, asking for them", d->eid);
      rc = rsp_random(txid, sizeof txid);
      if (rc == RSP_OK) rc = data_request(s, TAGS_CERTS, sizeof TAGS_CERTS, txid, TXID_LEN, a);
      break;
    }
    rc = send_new(s, d, op, a, &outcome);
    if (rc == RSP_OK && outcome == RETRY && ++*races <= RACES_MAX) {
      rsp_eim_device_free(d);
      rsp_eim_device_init(d);
      rc = rsp_eim_store_device_get(s->store, op->eid, d);
    }
    if (rc == RSP_OK && outcome == RETRY && *races > RACES_MAX)
      answer_error(a, NO_EIM_PACKAGE_AVAILABLE);
    *done = rc != RSP_OK || outcome == SENT || *races > RACES_MAX;
    break;
  case RSP_EIM_DELIVERY_RESEND:
    /* the same bytes, counted before they leave (the next re-send needs a new check) */
    rc = rsp_eim_store_op_resent(s->store, op->id, now);
    if (rc == RSP_E_STATE) {
      *done = ++*races > RACES_MAX;
      if (*done) answer_error(a, NO_EIM_PACKAGE_AVAILABLE);
      rc = RSP_OK;
      break;
    }
    if (rc == RSP_OK) rc = rsp_buf_append(&a->bytes, op->package.data, op->package.len);
    if (rc == RSP_OK) {
      a->kind = RSP__EIM_ANS_PACKAGE;
      s->stats.packages_resent++;
      rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: operation %lld re-sent (send %lld)", d->eid,
              (long long)op->id, (long long)op->sent_count + 1);
    }
    break;
  case RSP_EIM_DELIVERY_ASK_RESULTS: {
    uint8_t txid[RSP__EIM_CHECK_TXID_LEN];
    rsp__eim_check_txid(op->id, op->sent_count, txid);
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC,
            "%s: operation %lld sent without a result: asking for pending results", d->eid,
            (long long)op->id);
    rc = data_request(s, TAGS_RESULTS, sizeof TAGS_RESULTS, txid, sizeof txid, a);
    break;
  }
  default:
    answer_error(a, NO_EIM_PACKAGE_AVAILABLE);
  }
  return rc;
}

/* The device's deliverable queue head after a step that did not answer (head->id 0: none). */
static rsp_err_t next_head(struct rsp_eim_service *s, const char *eid,
                           struct rsp_eim_operation *head) {
  rsp_err_t rc = rsp_eim_store_next_for_delivery(s->store, eid, rsp__eim_now(s), head, NULL);
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc; /* left with id 0 */
}

/* GetEimPackage: the device, its queue head and the poll's bookkeeping in one store call
 * (rsp_eim_store_device_poll: one read, no write when nothing is due), then the delivery loop. */
rsp_err_t rsp__eim_get_package(struct rsp_eim_service *s,
                               const struct rsp_msg_get_eim_package_request *q,
                               struct rsp__eim_answer *a) {
  struct rsp_eim_device d;
  struct rsp_eim_operation head;
  char eid[RSP_EID_DIGITS + 1];
  const uint8_t *rplmn = q->r_plmn.len == RSP_EIM_RPLMN_LEN ? q->r_plmn.p : NULL;
  int races = 0;
  bool done = false;
  rsp_err_t rc;
  if (q->eid_value.len != RSP_EID_LEN || rsp_eid_to_string(q->eid_value.p, eid) != RSP_OK) {
    answer_error(a, INVALID_EID);
    return RSP_OK;
  }
  rsp_eim_device_init(&d);
  rsp_eim_operation_init(&head);
  rc = rsp_eim_store_device_poll(s->store, eid, rsp__eim_now(s), rplmn, &d, &head);
  if (rc == RSP_E_NOT_FOUND) {
    s->stats.unknown_devices++;
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "GetEimPackage from unknown EID %s", eid);
    answer_error(a, EID_NOT_FOUND);
    rc = RSP_OK;
    goto out;
  }
  if (rc == RSP_OK && q->notify_state_change) {
    /* the device's profiles changed outside the eIM (SGP.32 StateChangeCause): recorded for the
     * operator, who decides whether to ask for a listProfileInfo; nothing is queued here */
    char detail[64];
    snprintf(detail, sizeof detail, "{\"cause\":%lld}",
             (long long)(q->state_change_cause.present ? q->state_change_cause.v
                                                       : RSP_MSG_STATE_CHANGE_CAUSE_UNDEFINED));
    rsp__eim_audit(s, eid, 0, "state_change", detail, rsp_msg_slice(NULL, 0));
  }
  for (int i = 0; rc == RSP_OK && !done && i < DELIVERY_STEPS; i++) {
    if (i > 0) rc = next_head(s, eid, &head);
    if (rc == RSP_OK) rc = deliver_step(s, &d, &head, a, &races, &done);
  }
  if (rc == RSP_OK && a->kind == RSP__EIM_ANS_NONE) answer_error(a, NO_EIM_PACKAGE_AVAILABLE);
out:
  rsp_eim_operation_free(&head);
  rsp_eim_device_free(&d);
  return rc;
}

/* ---- the relay ---------------------------------------------------------------------------------
 */

static const char *dl_session_find(const struct rsp_eim_service *s, struct rsp_slice txid) {
  for (size_t i = 0; txid.p && i < RSP__EIM_DL_SESSIONS; i++)
    if (s->dl[i].txid_len == txid.len && memcmp(s->dl[i].txid, txid.p, txid.len) == 0)
      return s->dl[i].eid;
  return NULL;
}

const char *rsp__eim_dl_session_eid(const struct rsp_eim_service *s, struct rsp_slice txid) {
  return s ? dl_session_find(s, txid) : NULL;
}

static struct rsp__eim_dl_session *dl_session_add(struct rsp_eim_service *s, struct rsp_slice txid,
                                                  const char *eid) {
  struct rsp__eim_dl_session *e = NULL;
  if (!txid.p || txid.len == 0 || txid.len > RSP_EIM_TXID_MAX) return NULL;
  for (size_t i = 0; i < RSP__EIM_DL_SESSIONS && !e; i++)
    if (s->dl[i].txid_len == txid.len && memcmp(s->dl[i].txid, txid.p, txid.len) == 0)
      e = &s->dl[i];
  if (e) return e;
  e = &s->dl[s->dl_next++ % RSP__EIM_DL_SESSIONS];
  memset(e, 0, sizeof *e);
  memcpy(e->txid, txid.p, txid.len);
  e->txid_len = txid.len;
  snprintf(e->eid, sizeof e->eid, "%s", eid);
  return e;
}

void rsp__eim_dl_profile_name(const struct rsp_eim_service *s, const char *iccid,
                              char name[RSP_EIM_PROFILE_NAME_MAX + 1]) {
  name[0] = '\0';
  for (size_t i = 0; s && i < RSP__EIM_DL_SESSIONS; i++)
    if (s->dl[i].txid_len && s->dl[i].iccid[0] && strcmp(s->dl[i].iccid, iccid) == 0)
      snprintf(name, RSP_EIM_PROFILE_NAME_MAX + 1, "%s", s->dl[i].name);
}

/* The profile's ICCID and name from the relay's answer to AuthenticateClient (its
 * profileMetaData, StoreMetadataRequest BF25), kept with the download's session. */
static void learn_profile(struct rsp_eim_service *s, const struct rsp_buf *answer,
                          struct rsp_slice txid, const char *eid) {
  struct rsp_arena arena;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  struct rsp__eim_dl_session *e;
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  if (rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, answer->data, answer->len, &arena,
                     (void **)&m, NULL) == RSP_OK &&
      m->which == RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_AUTHENTICATE_CLIENT_RESPONSE_ESIPA &&
      m->u.authenticate_client_response_esipa->which ==
          RSP_MSG_AUTHENTICATE_CLIENT_RESPONSE_ESIPA_AUTHENTICATE_CLIENT_OK_DP_ESIPA) {
    const struct rsp_msg_sgp32_store_metadata_request *md =
        m->u.authenticate_client_response_esipa->u.authenticate_client_ok_dp_esipa
            ->profile_meta_data;
    char iccid[RSP_ICCID_MAX_DIGITS + 1];
    if (md && md->iccid.len == RSP_ICCID_LEN && rsp_iccid_decode(md->iccid.p, iccid) == RSP_OK &&
        (e = dl_session_add(s, txid, eid))) {
      snprintf(e->iccid, sizeof e->iccid, "%s", iccid);
      e->name[0] = '\0';
      if (md->profile_name.p && md->profile_name.len <= RSP_EIM_PROFILE_NAME_MAX &&
          rsp_utf8_valid(md->profile_name.p, md->profile_name.len, false))
        snprintf(e->name, sizeof e->name, "%.*s", (int)md->profile_name.len,
                 (const char *)md->profile_name.p);
    }
  }
  rsp_arena_free(&arena);
}

/* The SM-DP+'s transactionId in the relay's answer to InitiateAuthentication. */
static void learn_session(struct rsp_eim_service *s, const struct rsp_buf *answer,
                          const char *eid) {
  struct rsp_arena arena;
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  if (rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, answer->data, answer->len, &arena,
                     (void **)&m, NULL) == RSP_OK &&
      m->which == RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_INITIATE_AUTHENTICATION_RESPONSE_ESIPA &&
      m->u.initiate_authentication_response_esipa->which ==
          RSP_MSG_INITIATE_AUTHENTICATION_RESPONSE_ESIPA_INITIATE_AUTHENTICATION_OK_ESIPA) {
    const struct rsp_msg_initiate_authentication_ok_esipa *ok =
        m->u.initiate_authentication_response_esipa->u.initiate_authentication_ok_esipa;
    dl_session_add(s, ok->server_signed1->transaction_id, eid);
  }
  rsp_arena_free(&arena);
}

/* The EID of a download request: InitiateAuthentication names the trigger's eimTransactionId,
 * the later requests the SM-DP+'s transactionId (learned from the first answer) or, in the full
 * AuthenticateServerResponse, the eUICC certificate. *op_spec gets the trigger's spec text. */
static bool download_eid(struct rsp_eim_service *s,
                         const struct rsp_msg_esipa_message_from_ipa_to_eim *m, char *eid,
                         char **op_spec) {
  const char *known = NULL;
  eid[0] = '\0';
  switch (m->which) {
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA: {
    struct rsp_eim_operation op;
    struct rsp_slice t = m->u.initiate_authentication_request_esipa->eim_transaction_id;
    rsp_eim_operation_init(&op);
    if (t.p && rsp_eim_store_op_get_by_txid(s->store, t, &op) == RSP_OK) {
      snprintf(eid, RSP_EID_DIGITS + 1, "%s", op.eid);
      *op_spec = op.spec;
      op.spec = NULL;
    }
    rsp_eim_operation_free(&op);
    return eid[0] != '\0';
  }
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA: {
    const struct rsp_msg_authenticate_client_request_esipa *q =
        m->u.authenticate_client_request_esipa;
    known = dl_session_find(s, q->transaction_id);
    if (!known && q->authenticate_server_response->which ==
                      RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_AUTHENTICATE_RESPONSE_OK) {
      struct rsp_slice der =
          q->authenticate_server_response->u.authenticate_response_ok->euicc_certificate;
      struct rsp_cert *c = NULL;
      bool ok = rsp_cert_parse(der.p, der.len, &c) == RSP_OK &&
                rsp_cert_subject_serial(c, eid, RSP_EID_DIGITS + 1) == RSP_OK;
      rsp_cert_free(c);
      return ok;
    }
    break;
  }
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA:
    known = dl_session_find(s, m->u.get_bound_profile_package_request_esipa->transaction_id);
    break;
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA:
    known = dl_session_find(s, m->u.cancel_session_request_esipa->transaction_id);
    break;
  default:
    break;
  }
  if (known) snprintf(eid, RSP_EID_DIGITS + 1, "%s", known);
  return known != NULL;
}

/* minimizeEsipaBytes, as the request's own form shows it (SGP.32 §2.5): no euiccInfo1 in
 * InitiateAuthentication, a compact answer of the card in the others. */
static bool minimized(const struct rsp_msg_esipa_message_from_ipa_to_eim *m) {
  switch (m->which) {
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA:
    return m->u.initiate_authentication_request_esipa->euicc_info1 == NULL;
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA:
    return m->u.authenticate_client_request_esipa->authenticate_server_response->which ==
           RSP_MSG_SGP32_AUTHENTICATE_SERVER_RESPONSE_COMPACT_AUTHENTICATE_RESPONSE_OK;
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA:
    return m->u.get_bound_profile_package_request_esipa->prepare_download_response->which ==
           RSP_MSG_SGP32_PREPARE_DOWNLOAD_RESPONSE_COMPACT_DOWNLOAD_RESPONSE_OK;
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA:
    return m->u.cancel_session_request_esipa->cancel_session_response->which ==
           RSP_MSG_SGP32_CANCEL_SESSION_RESPONSE_COMPACT_CANCEL_SESSION_RESPONSE_OK;
  default:
    return false;
  }
}

/* The activation code of the trigger that started this download: the SM-DP+ and matchingId when
 * the IPA sends none (eimDownloadDataHandling, notes 1.3). */
static void download_target(const char *spec_text, struct rsp_msg_activation_code *ac) {
  struct rsp_arena arena;
  struct rsp_eim_spec spec;
  const char *why = NULL;
  rsp_msg_activation_code_init(ac);
  ac->smdp_address[0] = '\0';
  if (!spec_text) return;
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  if (rsp_eim_spec_parse(spec_text, strlen(spec_text), &arena, &spec, NULL, 0) == RSP_OK &&
      spec.trigger && spec.trigger->profile_download_data &&
      spec.trigger->profile_download_data->which == RSP_MSG_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE) {
    struct rsp_slice t = spec.trigger->profile_download_data->u.activation_code;
    if (rsp_msg_activation_code_parse((const char *)t.p, t.len, ac, &why) != RSP_OK)
      rsp_msg_activation_code_init(ac);
  }
  rsp_arena_free(&arena);
}

/* EUICCInfo1 (BF20) rebuilt from the stored EUICCInfo2: its three fields (svn and the two CI key
 * lists, SGP.22 §5.7.8) are there with the same tags. The relay needs it for an
 * InitiateAuthentication that left it out (minimizeEsipaBytes); the registry keeps only
 * EUICCInfo2. */
static rsp_err_t info1_from_info2(const struct rsp_buf *info2, struct rsp_buf *out) {
  struct rsp_arena arena;
  struct rsp_msg_sgp32_euicc_info2 *i2 = NULL;
  rsp_err_t rc = RSP_OK;
  if (info2->len == 0) return RSP_OK;
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  rc = rsp_msg_decode(&rsp_msgt_sgp32_euicc_info2, info2->data, info2->len, &arena, (void **)&i2,
                      NULL);
  if (rc == RSP_OK) {
    struct rsp_msg_euicc_info1_euicc_ci_pk_id_list_for_verification v = {
        .v = i2->euicc_ci_pk_id_list_for_verification->v,
        .n = i2->euicc_ci_pk_id_list_for_verification->n};
    struct rsp_msg_euicc_info1_euicc_ci_pk_id_list_for_signing g = {
        .v = i2->euicc_ci_pk_id_list_for_signing->v, .n = i2->euicc_ci_pk_id_list_for_signing->n};
    struct rsp_msg_euicc_info1 i1 = {.svn = i2->svn,
                                     .euicc_ci_pk_id_list_for_verification = &v,
                                     .euicc_ci_pk_id_list_for_signing = &g};
    rc = rsp_msg_encode(&rsp_msgt_euicc_info1, &i1, out, NULL);
  }
  rsp_arena_free(&arena);
  return rc;
}

static struct rsp_slice buf_slice(const struct rsp_buf *b) {
  return b->len ? rsp_msg_slice(b->data, b->len) : rsp_msg_slice(NULL, 0);
}

/* A download request to the relay with what the registry knows of the device. */
static rsp_err_t relay(struct rsp_eim_service *s,
                       const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                       struct rsp__eim_answer *a) {
  struct rsp_eim_device rec;
  struct rsp_buf info1;
  struct rsp_msg_activation_code ac;
  char eid[RSP_EID_DIGITS + 1];
  uint8_t eid_bytes[RSP_EID_LEN];
  char *spec_text = NULL;
  struct rsp_eim_relay_device dev = {.minimize_esipa_bytes = minimized(m)};
  rsp_err_t rc = RSP_OK;
  rsp_eim_device_init(&rec);
  rsp_buf_init(&info1, RSP_EIM_INFO2_MAX);
  if (download_eid(s, m, eid, &spec_text) &&
      rsp_eim_store_device_get(s->store, eid, &rec) == RSP_OK &&
      rsp_eid_from_string(eid, eid_bytes) == RSP_OK) {
    dev.eid = rsp_msg_slice(eid_bytes, RSP_EID_LEN);
    dev.euicc_info2 = buf_slice(&rec.euicc_info2);
    dev.euicc_certificate = buf_slice(&rec.euicc_cert);
    dev.eum_certificate = buf_slice(&rec.eum_cert);
    if (info1_from_info2(&rec.euicc_info2, &info1) == RSP_OK) dev.euicc_info1 = buf_slice(&info1);
  } else {
    eid[0] = '\0';
  }
  download_target(spec_text, &ac);
  if (ac.smdp_address[0]) dev.smdp_address = ac.smdp_address;
  if (ac.smdp_address[0] && ac.matching_id[0]) dev.matching_id = ac.matching_id;
  s->stats.relayed++;
  rc = rsp_eim_relay_handle(s->relay, &dev, m, &a->bytes);
  if (rc == RSP_OK) {
    a->kind = a->bytes.len ? RSP__EIM_ANS_RAW : RSP__EIM_ANS_NONE;
    if (eid[0] &&
        m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA)
      learn_session(s, &a->bytes, eid);
    if (eid[0] &&
        m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA)
      learn_profile(s, &a->bytes, m->u.authenticate_client_request_esipa->transaction_id, eid);
  }
  rsp_free(spec_text);
  rsp_buf_free(&info1);
  rsp_eim_device_free(&rec);
  return rc;
}

/* ---- dispatch ----------------------------------------------------------------------------------
 */

/* HandleNotificationEsipa: a pending notification (recorded for forwarding, and forwarded now
 * by the relay when one is configured) or a ProvideEimPackageResult (v1.0 IPAs); no answer. */
static rsp_err_t handle_notification(struct rsp_eim_service *s,
                                     const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                                     struct rsp__eim_answer *a) {
  const struct rsp_msg_handle_notification_esipa *h = m->u.handle_notification_esipa;
  rsp_err_t rc = RSP_OK;
  if (h->which == RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PROVIDE_EIM_PACKAGE_RESULT) {
    rc = rsp__eim_provide_result(s, h->u.provide_eim_package_result, a);
    rsp_buf_reset(&a->bytes);
    a->kind = RSP__EIM_ANS_NONE;
    return rc;
  }
  if (h->which != RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PENDING_NOTIFICATION) {
    a->kind = RSP__EIM_ANS_BAD_REQUEST;
    return RSP_OK;
  }
  bool forwarded = false;
  if (s->relay && rsp_eim_relay_accepts(m)) {
    struct rsp__eim_answer ignored;
    rsp__eim_answer_init(&ignored);
    s->stats.relayed++;
    rc = rsp_eim_relay_handle(s->relay, &(struct rsp_eim_relay_device){0}, m, &ignored.bytes);
    rsp__eim_answer_free(&ignored);
    forwarded = rc == RSP_OK;
    if (rc != RSP_OK)
      rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "notification not forwarded now: %s", rsp_strerror(rc));
    rc = RSP_OK;
  }
  rc = rsp__eim_record_pending_notification(s, NULL, h->u.pending_notification, forwarded, NULL);
  a->kind = RSP__EIM_ANS_NONE;
  return rc;
}

rsp_err_t rsp__eim_handle_message(struct rsp_eim_service *s,
                                  const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                                  struct rsp__eim_answer *a) {
  switch (m->which) {
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST:
    return rsp__eim_get_package(s, m->u.get_eim_package_request, a);
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT:
    return rsp__eim_provide_result(s, m->u.provide_eim_package_result, a);
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA:
    return handle_notification(s, m, a);
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_INITIATE_AUTHENTICATION_REQUEST_ESIPA:
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_AUTHENTICATE_CLIENT_REQUEST_ESIPA:
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_BOUND_PROFILE_PACKAGE_REQUEST_ESIPA:
  case RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_CANCEL_SESSION_REQUEST_ESIPA:
    if (s->relay && rsp_eim_relay_accepts(m)) return relay(s, m, a);
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "download request refused: no relay configured");
    a->kind = RSP__EIM_ANS_BAD_REQUEST;
    return RSP_OK;
  default: /* transferEimPackageResponse: the eIM-initiated mode is not served */
    a->kind = RSP__EIM_ANS_BAD_REQUEST;
    return RSP_OK;
  }
}

/* ---- the ASN.1 binding -------------------------------------------------------------------------
 */

static rsp_err_t encode_answer(const struct rsp__eim_answer *a, struct rsp_buf *resp, int *status) {
  struct rsp_der_writer w;
  size_t start = resp->len;
  *status = 200;
  switch (a->kind) {
  case RSP__EIM_ANS_NONE:
    *status = 204;
    return RSP_OK;
  case RSP__EIM_ANS_BAD_REQUEST:
    *status = 400;
    return RSP_OK;
  case RSP__EIM_ANS_RAW:
    return rsp_buf_append(resp, a->bytes.data, a->bytes.len);
  case RSP__EIM_ANS_PACKAGE:
  case RSP__EIM_ANS_PACKAGE_ERROR:
    /* GetEimPackageResponse [79] CHOICE: explicit around the alternative (notes 2.2) */
    rsp_der_writer_init(&w, resp);
    rsp_der_begin(&w, RSP_TAG_GET_EIM_PACKAGE_RESPONSE);
    if (a->kind == RSP__EIM_ANS_PACKAGE)
      rsp_der_put_raw(&w, a->bytes.data, a->bytes.len);
    else
      rsp_der_put_int64(&w, RSP_DER_INTEGER, a->code);
    rsp_der_end(&w);
    return rsp_der_writer_finish(&w);
  default: {
    struct rsp_msg_eim_acknowledgements acks = {.v = (int64_t *)a->acks, .n = a->n_acks};
    struct rsp_msg_provide_eim_package_result_response_empty_response empty = {0};
    struct rsp_msg_provide_eim_package_result_response r = {0};
    struct rsp_msg_esipa_message_from_eim_to_ipa m = {
        .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE,
        .u.provide_eim_package_result_response = &r};
    if (a->kind == RSP__EIM_ANS_PROVIDE_ERROR) {
      r.which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR;
      r.u.provide_eim_package_result_error = a->code;
    } else if (a->n_acks) {
      r.which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EIM_ACKNOWLEDGEMENTS;
      r.u.eim_acknowledgements = &acks;
    } else {
      r.which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EMPTY_RESPONSE;
      r.u.empty_response = &empty;
    }
    rsp_err_t rc = rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &m, resp, NULL);
    if (rc != RSP_OK) resp->len = start;
    return rc;
  }
  }
}

rsp_err_t rsp_eim_service_esipa(struct rsp_eim_service *s, const uint8_t *req, size_t len,
                                struct rsp_buf *resp, int *status) {
  struct rsp_arena arena;
  struct rsp_msg_esipa_message_from_ipa_to_eim *m = NULL;
  struct rsp_msg_diag diag = {{0}};
  struct rsp__eim_answer a;
  rsp_err_t rc;
  if (status) *status = 500;
  if (!s || !resp || !status || (!req && len)) return RSP_E_INVALID_ARG;
  s->stats.requests++;
  if (len > RSP_EIM_ESIPA_MAX) {
    s->stats.refused++;
    *status = 413;
    return RSP_OK;
  }
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  rsp__eim_answer_init(&a);
  rc = req ? rsp_msg_decode(&rsp_msgt_esipa_message_from_ipa_to_eim, req, len, &arena, (void **)&m,
                            &diag)
           : RSP_E_DER_TRUNCATED;
  if (rc == RSP_E_NOMEM) goto out;
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "ESipa request refused: %s at %s", rsp_err_name(rc),
            diag.path[0] ? diag.path : "-");
    a.kind = RSP__EIM_ANS_BAD_REQUEST;
    rc = RSP_OK;
  } else {
    rc = rsp__eim_handle_message(s, m, &a);
  }
  if (rc == RSP_OK && a.kind == RSP__EIM_ANS_BAD_REQUEST) s->stats.refused++;
  if (rc == RSP_OK) rc = encode_answer(&a, resp, status);
  if (rc != RSP_OK) *status = 500;
out:
  rsp__eim_answer_free(&a);
  rsp_arena_free(&arena);
  return rc;
}
