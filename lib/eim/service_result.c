/* The ESipa service's result path (rsp/eim/service.h; SGP.32 §3.3 steps of ProvideEimPackageResult,
 * notes 3.4, 3.5, 3.6 and 3.8): every eUICC-signed package result is verified (the eUICC
 * certificate chain to a trusted CI with the device's EID, then euiccSignEPR / euiccSignEPE over
 * the signed data || associationToken DO, notes 3.4), recorded once in the store (by
 * eimTransactionId or (EID, counter); a replay is a DUPLICATE and acknowledged again), and only
 * then acknowledged. A bad signature is audited and answered with an error: nothing of that
 * message is recorded or acknowledged. The device's view (profiles, enabled ICCID) follows what
 * the card did: listProfileInfo results, executed enables, disables and deletes, a rollback
 * (the previous profile enabled again), and installations (a verified ProfileInstallationResult
 * in a download's result or a notification). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/core/text.h"
#include "rsp/crypto/crypto.h"
#include "rsp/msg/signed.h"
#include "service_internal.h"
#include "summary_internal.h"

/* ProvideEimPackageResultResponse.provideEimPackageResultError (SGP32Definitions). */
#define PROVIDE_EID_NOT_FOUND                                                                      \
  RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR_EID_NOT_FOUND
#define PROVIDE_INVALID_EID                                                                        \
  RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR_INVALID_EID
#define PROVIDE_MISSING_EID                                                                        \
  RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR_MISSING_EID
#define PROVIDE_UNDEFINED_ERROR                                                                    \
  RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_PROVIDE_EIM_PACKAGE_RESULT_ERROR_UNDEFINED_ERROR

/* One ProvideEimPackageResult being handled. */
struct rctx {
  struct rsp_eim_service *s;
  struct rsp_eim_device dev;
  char eid[RSP_EID_DIGITS + 1];
  uint8_t eid_bytes[RSP_EID_LEN];
  int64_t now;
  struct rsp__eim_answer *a;
  /* The certificates that verify this message's signatures: the registry's, or those the same
   * IpaEuiccData brought (after their chain verified). */
  struct rsp_slice euicc_cert, eum_cert;
};

static struct rsp_slice buf_slice(const struct rsp_buf *b) {
  return b->len ? rsp_msg_slice(b->data, b->len) : rsp_msg_slice(NULL, 0);
}

static bool same_text(struct rsp_slice s, const char *t) {
  return s.p && s.len == strlen(t) && memcmp(s.p, t, s.len) == 0;
}

/* ---- signatures --------------------------------------------------------------------------------
 */

enum verdict {
  V_OK = 0,
  V_BAD,          /* signature or certificate chain invalid: refuse the whole message */
  V_UNVERIFIABLE, /* no certificate known yet: leave it on the card (no acknowledgement) */
  V_FOREIGN,      /* another eIM's result: not ours to record or acknowledge */
  V_UNSIGNED,     /* EuiccPackageErrorUnsigned: nothing to verify */
};

/* The eUICC certificate chain (CI -> EUM -> eUICC, RSP rules, EID in the certificate = the
 * device's EID) and its public key. */
static rsp_err_t euicc_key(struct rctx *c, struct rsp_slice euicc_der, struct rsp_slice eum_der,
                           struct rsp_key **key, char *why, size_t why_size) {
  struct rsp_cert *euicc = NULL, *eum = NULL;
  struct rsp_chain_result res = {0};
  struct rsp_chain_opts opts = {
      .now = c->now, .ignore_time = c->s->ignore_cert_time, .expected_eid = c->eid_bytes};
  rsp_err_t rc = rsp_cert_parse(euicc_der.p, euicc_der.len, &euicc);
  if (rc == RSP_OK) rc = rsp_cert_parse(eum_der.p, eum_der.len, &eum);
  if (rc == RSP_OK) rc = rsp_x509_verify_euicc_chain(c->s->cis, eum, euicc, &opts, &res);
  if (rc == RSP_OK) rc = rsp_cert_public_key(euicc, key);
  if (rc != RSP_OK)
    snprintf(why, why_size, "eUICC certificate chain: %s%s%s", rsp_strerror(rc),
             res.detail[0] ? ": " : "", res.detail);
  rsp_cert_free(euicc);
  rsp_cert_free(eum);
  return rc;
}

/* euiccSignEPR / euiccSignEPE over DER(signed data) || associationToken DO: the same shape as
 * the eIM's own signature (notes 3.4, confirmed for EPR on a real card; lib/euicc signs both this
 * way through rsp_msg_signed_with_token). */
static enum verdict verify_epr(struct rctx *c, const struct rsp_msg_euicc_package_result *r,
                               char *why, size_t why_size) {
  struct rsp_slice eim_id, data, sig;
  struct rsp_key *key = NULL;
  struct rsp_buf in;
  struct rsp_msg_token token = {c->dev.has_association_token, c->dev.association_token};
  switch (r->which) {
  case RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED:
    eim_id = r->u.euicc_package_result_signed->euicc_package_result_data_signed->eim_id;
    data = r->u.euicc_package_result_signed->euicc_package_result_data_signed->raw;
    sig = r->u.euicc_package_result_signed->euicc_sign_epr;
    break;
  case RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED:
    eim_id = r->u.euicc_package_error_signed->euicc_package_error_data_signed->eim_id;
    data = r->u.euicc_package_error_signed->euicc_package_error_data_signed->raw;
    sig = r->u.euicc_package_error_signed->euicc_sign_epe;
    break;
  case RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED:
    return same_text(r->u.euicc_package_error_unsigned->eim_id, c->dev.eim_id) ? V_UNSIGNED
                                                                               : V_FOREIGN;
  default:
    snprintf(why, why_size, "unknown EuiccPackageResult form");
    return V_BAD;
  }
  if (!same_text(eim_id, c->dev.eim_id)) return V_FOREIGN;
  if (!c->euicc_cert.p || !c->eum_cert.p) return V_UNVERIFIABLE;
  if (sig.len != RSP_SIG_RAW_LEN) {
    snprintf(why, why_size, "signature is %zu bytes, 64 expected", sig.len);
    return V_BAD;
  }
  if (euicc_key(c, c->euicc_cert, c->eum_cert, &key, why, why_size) != RSP_OK) return V_BAD;
  rsp_buf_init(&in, RSP_EIM_RESULT_MAX + 8);
  rsp_err_t rc = rsp_msg_signed_with_token(data, token, &in);
  if (rc == RSP_OK) rc = rsp_ecdsa_verify(key, in.data, in.len, sig.p);
  rsp_buf_free(&in);
  rsp_key_free(key);
  if (rc != RSP_OK) {
    snprintf(why, why_size, "eUICC signature: %s", rsp_strerror(rc));
    return V_BAD;
  }
  return V_OK;
}

/* Audits a refused result and turns the answer into provideEimPackageResultError. */
static void refuse(struct rctx *c, const struct rsp_msg_euicc_package_result *r, const char *why) {
  json_t *j = json_pack("{s:s}", "reason", why);
  char *detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  c->s->stats.bad_signatures++;
  rsp_log(RSP_LOG_WARN, RSP__EIM_SVC, "%s: package result refused: %s", c->eid, why);
  rsp__eim_audit(c->s, c->eid, 0, "bad_signature", detail, r->raw);
  free(detail);
  rsp_buf_reset(&c->a->bytes);
  c->a->n_acks = 0;
  c->a->kind = RSP__EIM_ANS_PROVIDE_ERROR;
  c->a->code = PROVIDE_UNDEFINED_ERROR;
}

/* ---- the device's profiles ---------------------------------------------------------------------
 */

static int find_profile(struct rsp_eim_profile *v, size_t n, const char *iccid) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i].iccid, iccid) == 0) return (int)i;
  return -1;
}

/* The profile of `iccid` in the view, added (disabled, nothing else known) when it is not there;
 * -1 when the view is full. */
static int ensure_profile(struct rsp_eim_profile *v, size_t *n, const char *iccid) {
  int i = find_profile(v, *n, iccid);
  if (i >= 0 || *n == RSP_EIM_PROFILES_MAX) return i;
  i = (int)(*n)++;
  memset(&v[i], 0, sizeof v[i]);
  snprintf(v[i].iccid, sizeof v[i].iccid, "%s", iccid);
  v[i].state = RSP_EIM_PROFILE_DISABLED;
  v[i].profile_class = -1;
  return i;
}

static int enabled_profile(const struct rsp_eim_profile *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (v[i].state == RSP_EIM_PROFILE_ENABLED) return (int)i;
  return -1;
}

static bool iccid_digits(struct rsp_slice s, char out[RSP_ICCID_MAX_DIGITS + 1]) {
  return s.len == RSP_ICCID_LEN && rsp_iccid_decode(s.p, out) == RSP_OK && strlen(out) >= 18;
}

/* Merges one ProfileInfo of a listProfileInfo result into the view. */
static void merge_profile(struct rsp_eim_profile *v, size_t *n,
                          const struct rsp_msg_sgp32_profile_info *p) {
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  int i;
  if (!iccid_digits(p->iccid, iccid) || (i = ensure_profile(v, n, iccid)) < 0) return;
  if (p->profile_state.present)
    v[i].state = p->profile_state.v == RSP_MSG_PROFILE_STATE_ENABLED ? RSP_EIM_PROFILE_ENABLED
                                                                     : RSP_EIM_PROFILE_DISABLED;
  if (p->profile_name.p && p->profile_name.len <= RSP_EIM_PROFILE_NAME_MAX &&
      rsp_utf8_valid(p->profile_name.p, p->profile_name.len, false))
    snprintf(v[i].name, sizeof v[i].name, "%.*s", (int)p->profile_name.len,
             (const char *)p->profile_name.p);
  if (p->profile_class.present && p->profile_class.v >= RSP_MSG_PROFILE_CLASS_TEST &&
      p->profile_class.v <= RSP_MSG_PROFILE_CLASS_OPERATIONAL)
    v[i].profile_class = (int)p->profile_class.v;
}

/* The last enable a package executed, for a rollback to undo: the profile it enabled and the one
 * enabled before it ("" when none was). */
struct last_enable {
  char enabled[RSP_ICCID_MAX_DIGITS + 1];
  char previous[RSP_ICCID_MAX_DIGITS + 1];
};

/* The view after one PSMO and its result; true when it changed. An enable or disable that the
 * card executed proves the profile is there, so an ICCID the view does not know yet joins it; a
 * delete of an unknown ICCID changes nothing. A listProfileInfo teaches names and classes. */
static bool apply_psmo(struct rsp_eim_profile *v, size_t *n, const struct rsp_msg_psmo *op,
                       const struct rsp_msg_euicc_result_data *r, struct last_enable *le) {
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  int i, prev;
  switch (op->which) {
  case RSP_MSG_PSMO_ENABLE:
    if (r->which != RSP_MSG_EUICC_RESULT_DATA_ENABLE_RESULT || r->u.enable_result ||
        !iccid_digits(op->u.enable->iccid, iccid) || (i = ensure_profile(v, n, iccid)) < 0)
      return false;
    prev = enabled_profile(v, *n);
    snprintf(le->previous, sizeof le->previous, "%s", prev >= 0 ? v[prev].iccid : "");
    snprintf(le->enabled, sizeof le->enabled, "%s", iccid);
    for (size_t k = 0; k < *n; k++) v[k].state = RSP_EIM_PROFILE_DISABLED;
    v[i].state = RSP_EIM_PROFILE_ENABLED;
    return true;
  case RSP_MSG_PSMO_DISABLE:
    if (r->which != RSP_MSG_EUICC_RESULT_DATA_DISABLE_RESULT || r->u.disable_result ||
        !iccid_digits(op->u.disable->iccid, iccid) || (i = ensure_profile(v, n, iccid)) < 0)
      return false;
    v[i].state = RSP_EIM_PROFILE_DISABLED;
    return true;
  case RSP_MSG_PSMO_DELETE:
    if (r->which != RSP_MSG_EUICC_RESULT_DATA_DELETE_RESULT || r->u.delete_result ||
        !iccid_digits(op->u.delete->iccid, iccid) || (i = find_profile(v, *n, iccid)) < 0)
      return false;
    memmove(&v[i], &v[i + 1], (*n - (size_t)i - 1) * sizeof *v);
    (*n)--;
    return true;
  case RSP_MSG_PSMO_LIST_PROFILE_INFO: {
    const struct rsp_msg_sgp32_profile_info_list_response *l = r->u.list_profile_info_result;
    if (r->which != RSP_MSG_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT ||
        l->which != RSP_MSG_SGP32_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK)
      return false;
    if (!op->u.list_profile_info->search_criteria) *n = 0; /* the whole list: replaces the view */
    for (size_t k = 0; k < l->u.profile_info_list_ok->n; k++)
      merge_profile(v, n, &l->u.profile_info_list_ok->v[k]);
    return true;
  }
  default:
    return false;
  }
}

/* ProfileRollback (SGP.32 §3.2.x, notes 3.9): the IPA's watchdog found no network on the profile
 * the package enabled and had the card enable the previous one again; the card appended
 * rollbackResult ok to the package's result. The view follows: the profile enabled before that
 * enable is enabled again (none, when none was), the new one disabled. */
static bool undo_enable(struct rsp_eim_profile *v, size_t n, const struct last_enable *le) {
  int i = find_profile(v, n, le->enabled),
      prev = le->previous[0] ? find_profile(v, n, le->previous) : -1;
  if (i < 0) return false;
  v[i].state = RSP_EIM_PROFILE_DISABLED;
  if (prev >= 0) v[prev].state = RSP_EIM_PROFILE_ENABLED;
  return true;
}

/* Keeps at most one profile enabled (the store's rule): the last one wins. */
static void one_enabled(struct rsp_eim_profile *v, size_t n) {
  bool seen = false;
  for (size_t i = n; i-- > 0;)
    if (v[i].state == RSP_EIM_PROFILE_ENABLED) {
      if (seen) v[i].state = RSP_EIM_PROFILE_DISABLED;
      seen = true;
    }
}

/* A result shows a rollback when it carries rollbackResult ok (the card appends it to the result
 * of the package whose enable it undid). */
static bool rolled_back(const struct rsp_msg_euicc_package_result_data_signed *d) {
  const struct rsp_msg_euicc_package_result_data_signed_euicc_result *res = d->euicc_result;
  for (size_t i = 0; res && i < res->n; i++)
    if (res->v[i].which == RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT &&
        res->v[i].u.rollback_result == 0)
      return true;
  return false;
}

/* The view after a recorded result of operation `op_id`: the package it answers is the one the
 * store kept, so each PSMO is matched with its result by position (a rollbackResult comes after
 * them all). */
static rsp_err_t update_profiles(struct rctx *c, int64_t op_id,
                                 const struct rsp_msg_euicc_package_result_data_signed *d) {
  struct rsp_eim_operation op;
  struct rsp_arena arena;
  struct rsp_msg_euicc_package_request *q = NULL;
  struct rsp_eim_profile *v = rsp_calloc(RSP_EIM_PROFILES_MAX, sizeof *v);
  struct last_enable le = {"", ""};
  size_t n = 0;
  bool changed = false;
  rsp_err_t rc = v ? RSP_OK : RSP_E_NOMEM;
  rsp_eim_operation_init(&op);
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  if (rc == RSP_OK) rc = rsp_eim_store_op_get(c->s->store, op_id, &op);
  if (rc != RSP_OK || op.kind != RSP_EIM_OP_PSMO ||
      rsp_msg_decode(&rsp_msgt_euicc_package_request, op.package.data, op.package.len, &arena,
                     (void **)&q, NULL) != RSP_OK)
    goto out;
  const struct rsp_msg_euicc_package_psmo_list *ops =
      q->euicc_package_signed->euicc_package->u.psmo_list;
  const struct rsp_msg_euicc_package_result_data_signed_euicc_result *res = d->euicc_result;
  if ((rc = rsp_eim_store_profiles_list(c->s->store, c->eid, v, RSP_EIM_PROFILES_MAX, &n)) !=
      RSP_OK)
    goto out;
  for (size_t i = 0; i < ops->n && i < res->n; i++)
    changed |= apply_psmo(v, &n, &ops->v[i], &res->v[i], &le);
  if (rolled_back(d) && le.enabled[0]) {
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: operation %lld rolled back: %s enabled again", c->eid,
            (long long)op_id, le.previous[0] ? le.previous : "no profile");
    changed |= undo_enable(v, n, &le);
  }
  one_enabled(v, n);
  if (changed) rc = rsp_eim_store_profiles_set(c->s->store, c->eid, v, n, c->now);
out:
  rsp_arena_free(&arena);
  rsp_eim_operation_free(&op);
  rsp_free(v);
  return rc;
}

/* A profile the card installed (a successful ProfileInstallationResult): it joins the view
 * disabled, with the name the download's metadata gave when this handle relayed it; a profile
 * already there keeps its state, and gets the name if it had none. */
static rsp_err_t add_installed(struct rsp_eim_service *s, const char *eid, int64_t now,
                               struct rsp_slice iccid_bytes) {
  char iccid[RSP_ICCID_MAX_DIGITS + 1], name[RSP_EIM_PROFILE_NAME_MAX + 1] = "";
  struct rsp_eim_profile *v;
  size_t n = 0;
  int i;
  if (!iccid_digits(iccid_bytes, iccid)) return RSP_OK;
  if (!(v = rsp_calloc(RSP_EIM_PROFILES_MAX, sizeof *v))) return RSP_E_NOMEM;
  rsp__eim_dl_profile_name(s, iccid, name);
  rsp_err_t rc = rsp_eim_store_profiles_list(s->store, eid, v, RSP_EIM_PROFILES_MAX, &n);
  bool known = rc == RSP_OK && find_profile(v, n, iccid) >= 0;
  if (rc == RSP_OK && (i = ensure_profile(v, &n, iccid)) >= 0 &&
      (!known || (name[0] && !v[i].name[0]))) {
    if (!v[i].name[0]) snprintf(v[i].name, sizeof v[i].name, "%s", name);
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: profile %s installed%s%s", eid, iccid,
            name[0] ? ": " : "", name);
    rc = rsp_eim_store_profiles_set(s->store, eid, v, n, now);
  }
  rsp_free(v);
  return rc;
}

#define PIR_SUCCESS RSP_MSG_PROFILE_INSTALLATION_RESULT_DATA_FINAL_RESULT_SUCCESS_RESULT

/* euiccSignPIR over ProfileInstallationResultData as received (SGP.22 §5.6.4; the signature the
 * SM-DP+ checks too), with the device's eUICC certificate chain. RSP_OK when it verifies or when
 * the certificates are not known yet; otherwise `why` says what failed. */
static rsp_err_t verify_pir(struct rctx *c,
                            const struct rsp_msg_sgp32_profile_installation_result *pir, char *why,
                            size_t why_size) {
  const struct rsp_msg_profile_installation_result_data *d = pir->profile_installation_result_data;
  struct rsp_key *key = NULL;
  if (!c->dev.euicc_cert.len || !c->dev.eum_cert.len) return RSP_OK;
  rsp_err_t rc =
      euicc_key(c, buf_slice(&c->dev.euicc_cert), buf_slice(&c->dev.eum_cert), &key, why, why_size);
  if (rc != RSP_OK) return rc;
  rc = pir->euicc_sign_pir.len == RSP_SIG_RAW_LEN
           ? rsp_ecdsa_verify(key, d->raw.p, d->raw.len, pir->euicc_sign_pir.p)
           : RSP_E_SIG_INVALID;
  if (rc != RSP_OK) snprintf(why, why_size, "euiccSignPIR: %s", rsp_strerror(rc));
  rsp_key_free(key);
  return rc;
}

/* The view after a ProfileInstallationResult of device `eid` (in a download trigger's result or
 * as a pending notification): a successful installation adds its profile (add_installed) once
 * its signature verifies. A PIR that does not verify changes nothing and is audited
 * ("pir_refused"); while the device's certificates are unknown it is taken as it is: the view
 * informs the operator and closes no operation. */
static rsp_err_t installed(struct rsp_eim_service *s, const char *eid, int64_t now,
                           const struct rsp_msg_sgp32_profile_installation_result *pir) {
  const struct rsp_msg_profile_installation_result_data *d = pir->profile_installation_result_data;
  struct rctx c = {.s = s, .now = now};
  char why[256] = "";
  rsp_err_t rc;
  if (!d || !d->final_result || d->final_result->which != PIR_SUCCESS ||
      !d->notification_metadata || !d->notification_metadata->iccid.p)
    return RSP_OK;
  snprintf(c.eid, sizeof c.eid, "%s", eid);
  if (rsp_eid_from_string(c.eid, c.eid_bytes) != RSP_OK) return RSP_OK;
  rsp_eim_device_init(&c.dev);
  rc = rsp_eim_store_device_get(s->store, eid, &c.dev);
  if (rc == RSP_OK && verify_pir(&c, pir, why, sizeof why) != RSP_OK) {
    json_t *j = json_pack("{s:s}", "reason", why);
    char *detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    rsp_log(RSP_LOG_WARN, RSP__EIM_SVC, "%s: installation result not taken into the view: %s", eid,
            why);
    rsp__eim_audit(s, eid, 0, "pir_refused", detail, pir->raw);
    free(detail);
  } else if (rc == RSP_OK) {
    rc = add_installed(s, eid, now, d->notification_metadata->iccid);
  }
  rsp_eim_device_free(&c.dev);
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

/* ---- recording ---------------------------------------------------------------------------------
 */

/* Records one result in the store (which also marks a rollback it shows); *op_id and *outcome
 * say what it matched. */
static rsp_err_t record(struct rctx *c, struct rsp_slice txid, int64_t counter, int64_t seq,
                        struct rsp_slice der, const struct rsp__eim_outcome *o,
                        enum rsp_eim_record *outcome, int64_t *op_id) {
  struct rsp_eim_result r = {
      .eid = c->eid,
      .eim_transaction_id = txid,
      .counter = counter >= 0 && counter <= RSP_EIM_COUNTER_MAX ? counter : RSP_EIM_NO_COUNTER,
      .seq_number = seq,
      .der = der,
      .summary = o->summary,
      .state = o->failed ? RSP_EIM_OP_FAILED : RSP_EIM_OP_DONE,
      .error = o->failed && o->error[0] ? o->error : NULL};
  *outcome = 0;
  *op_id = 0;
  if (!r.eim_transaction_id.p && r.counter == RSP_EIM_NO_COUNTER) {
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: a result without eimTransactionId or counter", c->eid);
    return RSP_OK;
  }
  rsp_err_t rc = rsp_eim_store_record_result(c->s->store, &r, c->now, outcome, op_id);
  if (rc != RSP_OK) return rc;
  switch (*outcome) {
  case RSP_EIM_RECORD_NEW:
    c->s->stats.results++;
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: operation %lld %s%s", c->eid, (long long)*op_id,
            o->failed ? "failed: " : "done", o->failed ? o->error : "");
    break;
  case RSP_EIM_RECORD_DUPLICATE:
    c->s->stats.duplicates++;
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: result of operation %lld again (acknowledged again)",
            c->eid, (long long)*op_id);
    break;
  default:
    rsp_log(RSP_LOG_WARN, RSP__EIM_SVC, "%s: result %s (kept in the audit trail)", c->eid,
            rsp_eim_record_name(*outcome));
  }
  return RSP_OK;
}

/* One verified (or unsigned) EuiccPackageResult: recorded, the view updated, then acknowledged
 * (only what was committed: notes 3.8, docs/eim.md step 5). */
static rsp_err_t apply_epr(struct rctx *c, const struct rsp_msg_euicc_package_result *r,
                           size_t notifications) {
  struct rsp__eim_outcome o = {0};
  struct rsp_slice txid = {0};
  int64_t counter = RSP_EIM_NO_COUNTER, seq = RSP_EIM_NO_SEQ, op_id = 0;
  enum rsp_eim_record outcome = 0;
  const struct rsp_msg_euicc_package_result_data_signed *d = NULL;
  rsp_err_t rc = rsp__eim_summarize_epr(r, notifications, &o);
  if (rc != RSP_OK) return rc;
  switch (r->which) {
  case RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED:
    d = r->u.euicc_package_result_signed->euicc_package_result_data_signed;
    txid = d->eim_transaction_id;
    counter = d->counter_value;
    seq = d->seq_number;
    break;
  case RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED:
    txid = r->u.euicc_package_error_signed->euicc_package_error_data_signed->eim_transaction_id;
    counter = r->u.euicc_package_error_signed->euicc_package_error_data_signed->counter_value;
    break;
  default: /* unsigned: only its eimTransactionId can name the operation */
    txid = r->u.euicc_package_error_unsigned->eim_transaction_id;
  }
  rc = record(c, txid, counter, seq, r->raw, &o, &outcome, &op_id);
  if (rc == RSP_OK && outcome == RSP_EIM_RECORD_NEW && d) rc = update_profiles(c, op_id, d);
  if (rc == RSP_OK && outcome && seq >= 0) rsp__eim_answer_ack(c->a, seq);
  rsp__eim_outcome_free(&o);
  return rc;
}

/* ---- notifications -----------------------------------------------------------------------------
 */

static enum rsp_eim_notification_kind notification_kind(struct rsp_slice bits) {
  static const enum rsp_eim_notification_kind kinds[] = {
      [RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_INSTALL] = RSP_EIM_NOTIF_INSTALL,
      [RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_ENABLE] = RSP_EIM_NOTIF_ENABLE,
      [RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DISABLE] = RSP_EIM_NOTIF_DISABLE,
      [RSP_MSG_NOTIFICATION_EVENT_NOTIFICATION_DELETE] = RSP_EIM_NOTIF_DELETE,
  };
  for (unsigned b = 0; b < sizeof kinds / sizeof kinds[0]; b++)
    if (bits.p && rsp_msg_bit(bits, b)) return kinds[b];
  return RSP_EIM_NOTIF_OTHER;
}

static bool eid_of_cert(struct rsp_slice der, char *eid) {
  struct rsp_cert *c = NULL;
  bool ok = der.p && rsp_cert_parse(der.p, der.len, &c) == RSP_OK &&
            rsp_cert_subject_serial(c, eid, RSP_EID_DIGITS + 1) == RSP_OK &&
            strlen(eid) == RSP_EID_DIGITS;
  rsp_cert_free(c);
  return ok;
}

rsp_err_t rsp__eim_record_pending_notification(struct rsp_eim_service *s, const char *eid,
                                               const struct rsp_msg_sgp32_pending_notification *n,
                                               bool forwarded, int64_t *seq) {
  const struct rsp_msg_notification_metadata *md = NULL;
  char who[RSP_EID_DIGITS + 1] = "", iccid[RSP_ICCID_MAX_DIGITS + 1] = "";
  char address[RSP_EIM_ADDRESS_MAX + 1] = "";
  struct rsp_eim_notification_new nn = {.kind = RSP_EIM_NOTIF_INSTALL, .der = n->raw};
  enum rsp_eim_record outcome = 0;
  if (seq) *seq = -1;
  if (eid) snprintf(who, sizeof who, "%s", eid);
  switch (n->which) {
  case RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT: {
    const struct rsp_msg_profile_installation_result_data *d =
        n->u.profile_installation_result->profile_installation_result_data;
    /* a PIR names no EID: the download this handle relayed does (by transactionId) */
    const char *dl = who[0] ? NULL : rsp__eim_dl_session_eid(s, d->transaction_id);
    if (dl) snprintf(who, sizeof who, "%s", dl);
    md = d->notification_metadata;
    break;
  }
  case RSP_MSG_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION:
    md = n->u.other_signed_notification->tbs_other_notification;
    if (!who[0]) eid_of_cert(n->u.other_signed_notification->euicc_certificate, who);
    break;
  case RSP_MSG_SGP32_PENDING_NOTIFICATION_COMPACT_PROFILE_INSTALLATION_RESULT:
    nn.seq_number = n->u.compact_profile_installation_result
                        ->compact_profile_installation_result_data->seq_number;
    break;
  case RSP_MSG_SGP32_PENDING_NOTIFICATION_COMPACT_OTHER_SIGNED_NOTIFICATION: {
    struct rsp_slice e = n->u.compact_other_signed_notification->eid_value;
    md = n->u.compact_other_signed_notification->tbs_other_notification;
    if (!who[0] && e.len == RSP_EID_LEN && rsp_eid_to_string(e.p, who) != RSP_OK) who[0] = '\0';
    break;
  }
  default:
    return RSP_OK;
  }
  if (md) {
    nn.seq_number = md->seq_number;
    nn.kind = n->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT
                  ? RSP_EIM_NOTIF_INSTALL
                  : notification_kind(md->profile_management_operation);
    if (iccid_digits(md->iccid, iccid)) nn.iccid = iccid;
    if (md->notification_address.len > 0 && md->notification_address.len <= RSP_EIM_ADDRESS_MAX &&
        rsp_utf8_valid(md->notification_address.p, md->notification_address.len, false))
      snprintf(address, sizeof address, "%.*s", (int)md->notification_address.len,
               (const char *)md->notification_address.p);
  }
  if (!who[0] || nn.seq_number < 0) {
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "a notification of an unknown device: not recorded");
    return RSP_OK;
  }
  nn.eid = who;
  nn.forward_address = !forwarded && address[0] ? address : NULL;
  rsp_err_t rc = rsp_eim_store_record_notification(s->store, &nn, rsp__eim_now(s), &outcome);
  if (rc == RSP_E_NOT_FOUND || rc == RSP_E_INVALID_ARG) {
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "notification %lld of %s not recorded: %s",
            (long long)nn.seq_number, who, rsp_strerror(rc));
    return RSP_OK;
  }
  if (rc != RSP_OK) return rc;
  if (outcome == RSP_EIM_RECORD_NEW) s->stats.notifications++;
  /* a new PIR adds its profile; a copy seen again does not (the profile may be deleted since) */
  if (outcome == RSP_EIM_RECORD_NEW &&
      n->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_PROFILE_INSTALLATION_RESULT &&
      (rc = installed(s, who, rsp__eim_now(s), n->u.profile_installation_result)) != RSP_OK)
    return rc;
  if (seq) *seq = nn.seq_number;
  return RSP_OK;
}

static rsp_err_t notifications(struct rctx *c, const struct rsp_msg_pending_notification_list *l) {
  rsp_err_t rc = RSP_OK;
  for (size_t i = 0; l && rc == RSP_OK && i < l->n; i++) {
    int64_t seq = -1;
    rc = rsp__eim_record_pending_notification(c->s, c->eid, &l->v[i], false, &seq);
    if (rc == RSP_OK && seq >= 0) rsp__eim_answer_ack(c->a, seq);
  }
  return rc;
}

/* ---- the result kinds --------------------------------------------------------------------------
 */

/* Verifies a list of results before any is applied: one bad signature refuses the message. */
static bool verify_all(struct rctx *c, const struct rsp_msg_euicc_package_result *v, size_t n,
                       enum verdict *verdicts) {
  char why[256] = "";
  for (size_t i = 0; i < n; i++) {
    verdicts[i] = verify_epr(c, &v[i], why, sizeof why);
    if (verdicts[i] == V_BAD) {
      refuse(c, &v[i], why);
      return false;
    }
  }
  return true;
}

static rsp_err_t apply_verified(struct rctx *c, const struct rsp_msg_euicc_package_result *r,
                                enum verdict v, size_t notes) {
  if (v == V_OK || v == V_UNSIGNED) return apply_epr(c, r, notes);
  if (v == V_UNVERIFIABLE) {
    rsp_log(RSP_LOG_WARN, RSP__EIM_SVC,
            "%s: package result not verifiable (eUICC certificate unknown): left on the card",
            c->eid);
    rsp__eim_audit(c->s, c->eid, 0, "result_unverified", NULL, r->raw);
  } else {
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: a package result of another eIM: ignored", c->eid);
  }
  return RSP_OK;
}

static rsp_err_t package_result(struct rctx *c, const struct rsp_msg_euicc_package_result *r,
                                const struct rsp_msg_pending_notification_list *notes) {
  enum verdict v;
  if (!verify_all(c, r, 1, &v)) return RSP_OK;
  rsp_err_t rc = apply_verified(c, r, v, notes ? notes->n : 0);
  if (rc == RSP_OK) rc = notifications(c, notes);
  return rc;
}

/* Certificates an IpaEuiccData brings: kept (and used for this message) only when their chain
 * verifies for this EID. */
static bool certificates_ok(struct rctx *c, const struct rsp_msg_ipa_euicc_data *d) {
  char why[256];
  struct rsp_key *key = NULL;
  if (!d->euicc_certificate.p || !d->eum_certificate.p) return false;
  rsp_err_t rc = euicc_key(c, d->euicc_certificate, d->eum_certificate, &key, why, sizeof why);
  rsp_key_free(key);
  if (rc == RSP_OK) return true;
  char detail[320];
  snprintf(detail, sizeof detail, "{\"reason\":\"certificates refused\"}");
  rsp_log(RSP_LOG_WARN, RSP__EIM_SVC, "%s: certificates refused: %s", c->eid, why);
  rsp__eim_audit(c->s, c->eid, 0, "euicc_data_refused", detail, d->euicc_certificate);
  return false;
}

/* An IpaEuiccData answers an operation (recorded), a pending-results check (completed), or the
 * certificate request (nothing more to do). */
static rsp_err_t data_answer(struct rctx *c, const struct rsp_msg_ipa_euicc_data_response *dr,
                             struct rsp_slice txid) {
  struct rsp_eim_operation op;
  struct rsp__eim_outcome o = {0};
  struct rsp_msg_eim_package_result whole = {
      .which = RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE,
      .u.ipa_euicc_data_response = (struct rsp_msg_ipa_euicc_data_response *)dr};
  enum rsp_eim_record outcome;
  int64_t op_id, check_id, sent_count;
  rsp_err_t rc = RSP_OK;
  if (!txid.p) return RSP_OK;
  rsp_eim_operation_init(&op);
  rc = rsp_eim_store_op_get_by_txid(c->s->store, txid, &op);
  if (rc == RSP_OK) {
    rc = rsp__eim_summarize(&whole, &o);
    if (rc == RSP_OK)
      rc = record(c, txid, RSP_EIM_NO_COUNTER, RSP_EIM_NO_SEQ, dr->raw, &o, &outcome, &op_id);
  } else if (rc == RSP_E_NOT_FOUND && dr->which == RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA &&
             rsp__eim_check_txid_parse(txid, &check_id, &sent_count)) {
    /* the card's pending results were read; if the operation's was not among them (it is still
     * sent, not re-sent since), the same bytes may go again (docs/eim.md step 3) */
    rc = rsp_eim_store_op_get(c->s->store, check_id, &op);
    if (rc == RSP_OK && op.state == RSP_EIM_OP_SENT && op.sent_count == sent_count &&
        strcmp(op.eid, c->eid) == 0)
      rc = rsp_eim_store_op_results_checked(c->s->store, check_id, sent_count, c->now);
    if (rc == RSP_E_NOT_FOUND || rc == RSP_E_STATE) rc = RSP_OK;
  } else if (rc == RSP_E_NOT_FOUND) {
    rc = RSP_OK;
  }
  rsp__eim_outcome_free(&o);
  rsp_eim_operation_free(&op);
  return rc;
}

static rsp_err_t euicc_data(struct rctx *c, const struct rsp_msg_ipa_euicc_data_response *dr) {
  if (dr->which != RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA) {
    struct rsp_slice t = dr->which == RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA_RESPONSE_ERROR
                             ? dr->u.ipa_euicc_data_response_error->eim_transaction_id
                             : rsp_msg_slice(NULL, 0);
    return data_answer(c, dr, t);
  }
  const struct rsp_msg_ipa_euicc_data *d = dr->u.ipa_euicc_data;
  const struct rsp_msg_euicc_package_result_list *l = d->euicc_package_result_list;
  struct rsp_eim_euicc_data ed;
  enum verdict *verdicts = NULL;
  rsp_err_t rc = rsp_eim_euicc_data_from_msg(d, &ed);
  if (rc != RSP_OK) return rc;
  if (certificates_ok(c, d)) {
    c->euicc_cert = d->euicc_certificate;
    c->eum_cert = d->eum_certificate;
  } else {
    ed.euicc_cert = ed.eum_cert = rsp_msg_slice(NULL, 0);
  }
  if (l && l->n && !(verdicts = rsp_calloc(l->n, sizeof *verdicts))) return RSP_E_NOMEM;
  if (l && !verify_all(c, l->v, l->n, verdicts)) goto out;
  if (ed.euicc_cert.p || ed.eum_cert.p || ed.euicc_info2.p || ed.has_association_token)
    rc = rsp_eim_store_device_update_euicc_data(c->s->store, c->eid, &ed, c->now);
  for (size_t i = 0; l && rc == RSP_OK && i < l->n; i++)
    rc = apply_verified(c, &l->v[i], verdicts[i], 0);
  if (rc == RSP_OK) rc = notifications(c, d->notifications_list);
  if (rc == RSP_OK) rc = data_answer(c, dr, d->eim_transaction_id);
out:
  rsp_free(verdicts);
  return rc;
}

static rsp_err_t trigger_result(struct rctx *c, const struct rsp_msg_eim_package_result *whole,
                                const struct rsp_msg_profile_download_trigger_result *t) {
  struct rsp__eim_outcome o = {0};
  enum rsp_eim_record outcome;
  int64_t op_id;
  rsp_err_t rc = rsp__eim_summarize(whole, &o);
  if (rc == RSP_OK)
    rc = record(c, t->eim_transaction_id, RSP_EIM_NO_COUNTER, RSP_EIM_NO_SEQ, t->raw, &o, &outcome,
                &op_id);
  const struct rsp_msg_profile_download_trigger_result_profile_download_trigger_result_data *d =
      t->profile_download_trigger_result_data;
  if (rc == RSP_OK && outcome == RSP_EIM_RECORD_NEW && !o.failed &&
      d->which ==
          RSP_MSG_PROFILE_DOWNLOAD_TRIGGER_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT_DATA_PROFILE_INSTALLATION_RESULT) {
    rc = installed(c->s, c->eid, c->now, d->u.profile_installation_result);
  }
  rsp__eim_outcome_free(&o);
  return rc;
}

/* eimPackageResultResponseError: the IPA could not use the package (notes 2.2). */
static rsp_err_t response_error(struct rctx *c, const struct rsp_msg_eim_package_result *whole) {
  struct rsp__eim_outcome o = {0};
  enum rsp_eim_record outcome;
  int64_t op_id;
  rsp_err_t rc = rsp__eim_summarize(whole, &o);
  if (rc == RSP_OK)
    rc = record(c, whole->u.eim_package_result_response_error->eim_transaction_id,
                RSP_EIM_NO_COUNTER, RSP_EIM_NO_SEQ, whole->raw, &o, &outcome, &op_id);
  rsp__eim_outcome_free(&o);
  return rc;
}

/* ---- ProvideEimPackageResult -------------------------------------------------------------------
 */

/* The eimTransactionId a result carries, to find its device when the IPA leaves out the EID. */
static struct rsp_slice result_txid(const struct rsp_msg_eim_package_result *r) {
  const struct rsp_msg_euicc_package_result *e = NULL;
  switch (r->which) {
  case RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT:
    e = r->u.euicc_package_result;
    break;
  case RSP_MSG_EIM_PACKAGE_RESULT_E_PR_AND_NOTIFICATIONS:
    e = r->u.e_pr_and_notifications->euicc_package_result;
    break;
  case RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE: {
    const struct rsp_msg_ipa_euicc_data_response *d = r->u.ipa_euicc_data_response;
    if (d->which == RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA)
      return d->u.ipa_euicc_data->eim_transaction_id;
    if (d->which == RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA_RESPONSE_ERROR)
      return d->u.ipa_euicc_data_response_error->eim_transaction_id;
    break;
  }
  case RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT:
    return r->u.profile_download_trigger_result->eim_transaction_id;
  case RSP_MSG_EIM_PACKAGE_RESULT_EIM_PACKAGE_RESULT_RESPONSE_ERROR:
    return r->u.eim_package_result_response_error->eim_transaction_id;
  default:
    break;
  }
  if (e && e->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED)
    return e->u.euicc_package_result_signed->euicc_package_result_data_signed->eim_transaction_id;
  if (e && e->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED)
    return e->u.euicc_package_error_signed->euicc_package_error_data_signed->eim_transaction_id;
  if (e && e->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED)
    return e->u.euicc_package_error_unsigned->eim_transaction_id;
  return rsp_msg_slice(NULL, 0);
}

/* The device: eidValue when given (CR12014R02 made it optional), else the operation that the
 * result's eimTransactionId names. 0 or the provideEimPackageResultError to answer. */
static int64_t find_device(struct rctx *c, const struct rsp_msg_provide_eim_package_result *p) {
  if (p->eid_value.p) {
    if (p->eid_value.len != RSP_EID_LEN || rsp_eid_to_string(p->eid_value.p, c->eid) != RSP_OK)
      return PROVIDE_INVALID_EID;
  } else {
    struct rsp_eim_operation op;
    struct rsp_slice t = result_txid(p->eim_package_result);
    int64_t id, n;
    rsp_err_t rc = RSP_E_NOT_FOUND;
    rsp_eim_operation_init(&op);
    if (t.p) rc = rsp_eim_store_op_get_by_txid(c->s->store, t, &op);
    if (rc == RSP_E_NOT_FOUND && rsp__eim_check_txid_parse(t, &id, &n))
      rc = rsp_eim_store_op_get(c->s->store, id, &op);
    if (rc == RSP_OK) snprintf(c->eid, sizeof c->eid, "%s", op.eid);
    rsp_eim_operation_free(&op);
    if (rc != RSP_OK) return PROVIDE_MISSING_EID;
  }
  if (rsp_eid_from_string(c->eid, c->eid_bytes) != RSP_OK) return PROVIDE_INVALID_EID;
  return rsp_eim_store_device_get(c->s->store, c->eid, &c->dev) == RSP_OK ? 0
                                                                          : PROVIDE_EID_NOT_FOUND;
}

rsp_err_t rsp__eim_provide_result(struct rsp_eim_service *s,
                                  const struct rsp_msg_provide_eim_package_result *p,
                                  struct rsp__eim_answer *a) {
  struct rctx c = {.s = s, .a = a, .now = rsp__eim_now(s)};
  const struct rsp_msg_eim_package_result *r = p->eim_package_result;
  rsp_err_t rc = RSP_OK;
  rsp_eim_device_init(&c.dev);
  a->kind = RSP__EIM_ANS_ACKS;
  int64_t err = find_device(&c, p);
  if (err) {
    if (err == PROVIDE_EID_NOT_FOUND) s->stats.unknown_devices++;
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "ProvideEimPackageResult refused: error %lld (%s)",
            (long long)err, c.eid[0] ? c.eid : "no EID");
    a->kind = RSP__EIM_ANS_PROVIDE_ERROR;
    a->code = err;
    goto out;
  }
  c.euicc_cert = buf_slice(&c.dev.euicc_cert);
  c.eum_cert = buf_slice(&c.dev.eum_cert);
  switch (r->which) {
  case RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT:
    rc = package_result(&c, r->u.euicc_package_result, NULL);
    break;
  case RSP_MSG_EIM_PACKAGE_RESULT_E_PR_AND_NOTIFICATIONS:
    rc = package_result(&c, r->u.e_pr_and_notifications->euicc_package_result,
                        r->u.e_pr_and_notifications->notification_list);
    break;
  case RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE:
    rc = euicc_data(&c, r->u.ipa_euicc_data_response);
    break;
  case RSP_MSG_EIM_PACKAGE_RESULT_PROFILE_DOWNLOAD_TRIGGER_RESULT:
    rc = trigger_result(&c, r, r->u.profile_download_trigger_result);
    break;
  case RSP_MSG_EIM_PACKAGE_RESULT_EIM_PACKAGE_RESULT_RESPONSE_ERROR:
    rc = response_error(&c, r);
    break;
  default: /* a result form of a later version: nothing to record */
    rsp_log(RSP_LOG_INFO, RSP__EIM_SVC, "%s: unknown EimPackageResult form ignored", c.eid);
  }
out:
  if (rc != RSP_OK) a->n_acks = 0; /* nothing is acknowledged unless all of it was committed */
  rsp_eim_device_free(&c.dev);
  return rc;
}
