/* The eIM store interface: argument checks, the names stored in the tables, the operation state
 * machine and the delivery decision, shared by every backend (store_sqlite.c, store_pg*.c).
 *
 * Every public function checks its input here and answers RSP_E_INVALID_ARG (logged at debug
 * level with the reason) before the backend runs, so a backend only ever sees a valid EID, lengths
 * within their caps, JSON objects where JSON is expected and one DER element where DER is. */
#include <jansson.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/text.h"
#include "rsp/der/der.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/tags.h"
#include "store_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names ----------------------------------------------------------------------------------- */

static const char *const kind_names[] = {
    [RSP_EIM_OP_PSMO] = "psmo",
    [RSP_EIM_OP_ECO] = "eco",
    [RSP_EIM_OP_EUICC_DATA] = "euicc_data",
    [RSP_EIM_OP_DOWNLOAD] = "download",
};

static const char *const state_names[] = {
    [RSP_EIM_OP_QUEUED] = "queued",   [RSP_EIM_OP_SENT] = "sent",
    [RSP_EIM_OP_DONE] = "done",       [RSP_EIM_OP_FAILED] = "failed",
    [RSP_EIM_OP_EXPIRED] = "expired", [RSP_EIM_OP_CANCELLED] = "cancelled",
};

static const char *const record_names[] = {
    [RSP_EIM_RECORD_NEW] = "new",
    [RSP_EIM_RECORD_DUPLICATE] = "duplicate",
    [RSP_EIM_RECORD_UNKNOWN] = "unknown",
    [RSP_EIM_RECORD_CONFLICT] = "conflict",
};

static const char *const notif_names[] = {
    [RSP_EIM_NOTIF_INSTALL] = "install", [RSP_EIM_NOTIF_ENABLE] = "enable",
    [RSP_EIM_NOTIF_DISABLE] = "disable", [RSP_EIM_NOTIF_DELETE] = "delete",
    [RSP_EIM_NOTIF_OTHER] = "other",
};

static const char *const delivery_names[] = {
    [RSP_EIM_DELIVERY_NOTHING] = "nothing",
    [RSP_EIM_DELIVERY_SEND_NEW] = "send_new",
    [RSP_EIM_DELIVERY_RESEND] = "resend",
    [RSP_EIM_DELIVERY_ASK_RESULTS] = "ask_results",
};

static const char *const profile_state_names[] = {
    [RSP_EIM_PROFILE_DISABLED] = "disabled",
    [RSP_EIM_PROFILE_ENABLED] = "enabled",
};

/* ProfileClass values of SGP.22 (test 0, provisioning 1, operational 2). */
static const char *const class_names[] = {"test", "provisioning", "operational"};

static const char *name_of(const char *const *names, size_t n, int v) {
  return v >= 0 && (size_t)v < n && names[v] ? names[v] : "unknown";
}

/* Index of `name` in the table; 0 (no entry uses it) when unknown. */
static int parse_name(const char *const *names, size_t n, const char *name) {
  for (size_t i = 0; name && i < n; i++)
    if (names[i] && strcmp(names[i], name) == 0) return (int)i;
  return 0;
}

const char *rsp_eim_op_kind_name(enum rsp_eim_op_kind k) {
  return name_of(kind_names, COUNT(kind_names), (int)k);
}

const char *rsp_eim_op_state_name(enum rsp_eim_op_state s) {
  return name_of(state_names, COUNT(state_names), (int)s);
}

enum rsp_eim_op_kind rsp_eim_op_kind_parse(const char *name) {
  return (enum rsp_eim_op_kind)parse_name(kind_names, COUNT(kind_names), name);
}

enum rsp_eim_op_state rsp_eim_op_state_parse(const char *name) {
  return (enum rsp_eim_op_state)parse_name(state_names, COUNT(state_names), name);
}

const char *rsp_eim_record_name(enum rsp_eim_record r) {
  return name_of(record_names, COUNT(record_names), (int)r);
}

const char *rsp_eim_notification_kind_name(enum rsp_eim_notification_kind k) {
  return name_of(notif_names, COUNT(notif_names), (int)k);
}

enum rsp_eim_notification_kind rsp__eim_notification_kind_parse(const char *name) {
  return (enum rsp_eim_notification_kind)parse_name(notif_names, COUNT(notif_names), name);
}

const char *rsp_eim_delivery_name(enum rsp_eim_delivery d) {
  return name_of(delivery_names, COUNT(delivery_names), (int)d);
}

const char *rsp__eim_profile_state_name(enum rsp_eim_profile_state s) {
  return name_of(profile_state_names, COUNT(profile_state_names), (int)s);
}

enum rsp_eim_profile_state rsp__eim_profile_state_parse(const char *name) {
  return (enum rsp_eim_profile_state)parse_name(profile_state_names, COUNT(profile_state_names),
                                                name);
}

const char *rsp__eim_profile_class_name(int profile_class) {
  return profile_class >= 0 && (size_t)profile_class < COUNT(class_names)
             ? class_names[profile_class]
             : NULL;
}

int rsp__eim_profile_class_parse(const char *name) {
  for (size_t i = 0; name && i < COUNT(class_names); i++)
    if (strcmp(class_names[i], name) == 0) return (int)i;
  return -1;
}

/* ---- the operation state machine ------------------------------------------------------------- */

static const char *const event_names[] = {
    [RSP_EIM_EV_SEND] = "send",           [RSP_EIM_EV_EXPIRE] = "expire",
    [RSP_EIM_EV_CANCEL] = "cancel",       [RSP_EIM_EV_ABANDON] = "abandon",
    [RSP_EIM_EV_RESEND] = "resend",       [RSP_EIM_EV_RESULTS_CHECKED] = "results_checked",
    [RSP_EIM_EV_RESULT_OK] = "result_ok", [RSP_EIM_EV_RESULT_ERROR] = "result_error",
};

const char *rsp_eim_op_event_name(enum rsp_eim_op_event e) {
  return name_of(event_names, COUNT(event_names), (int)e);
}

/* Rows: state; columns: event; cells: the next state (0: refused). A sent operation never
 * expires and is never cancelled or abandoned: the card may have executed it, so only its result
 * (or an error result) closes it. Final states accept nothing. */
static const uint8_t machine[RSP_EIM_OP_CANCELLED + 1][RSP_EIM_EV_RESULT_ERROR + 1] = {
    [RSP_EIM_OP_QUEUED] = {[RSP_EIM_EV_SEND] = RSP_EIM_OP_SENT,
                           [RSP_EIM_EV_EXPIRE] = RSP_EIM_OP_EXPIRED,
                           [RSP_EIM_EV_CANCEL] = RSP_EIM_OP_CANCELLED,
                           [RSP_EIM_EV_ABANDON] = RSP_EIM_OP_FAILED},
    [RSP_EIM_OP_SENT] = {[RSP_EIM_EV_RESEND] = RSP_EIM_OP_SENT,
                         [RSP_EIM_EV_RESULTS_CHECKED] = RSP_EIM_OP_SENT,
                         [RSP_EIM_EV_RESULT_OK] = RSP_EIM_OP_DONE,
                         [RSP_EIM_EV_RESULT_ERROR] = RSP_EIM_OP_FAILED},
};

enum rsp_eim_op_state rsp_eim_op_next_state(enum rsp_eim_op_state from,
                                            enum rsp_eim_op_event event) {
  if (from < RSP_EIM_OP_QUEUED || from > RSP_EIM_OP_CANCELLED || event < RSP_EIM_EV_SEND ||
      event > RSP_EIM_EV_RESULT_ERROR)
    return 0;
  return (enum rsp_eim_op_state)machine[from][event];
}

/* ---- the delivery decision ------------------------------------------------------------------- */

static bool signed_kind(enum rsp_eim_op_kind k) {
  return k == RSP_EIM_OP_PSMO || k == RSP_EIM_OP_ECO;
}

/* A signed package carries a counter the card records once it executed it; a second copy of an
 * executed package is refused (replayError), and its result waits on the card until the eIM
 * acknowledges it. So before a signed package goes out again, the card's pending results are read
 * once per send: found, the operation is closed by its result; not found, the package never
 * reached the card and the same bytes (same counter) can safely go again. The unsigned kinds
 * (IpaEuiccDataRequest, ProfileDownloadTriggerRequest) carry no counter and are simply re-sent;
 * their answers are matched by eimTransactionId. */
enum rsp_eim_delivery rsp_eim_store_delivery_decision(const struct rsp_eim_operation *head,
                                                      int64_t now) {
  if (!head) return RSP_EIM_DELIVERY_NOTHING;
  switch (head->state) {
  case RSP_EIM_OP_QUEUED:
    if (head->not_before > now) return RSP_EIM_DELIVERY_NOTHING;
    if (head->expires_at > 0 && head->expires_at <= now) return RSP_EIM_DELIVERY_NOTHING;
    return RSP_EIM_DELIVERY_SEND_NEW;
  case RSP_EIM_OP_SENT:
    if (head->package.len == 0) return RSP_EIM_DELIVERY_NOTHING; /* cannot happen: stored first */
    if (!signed_kind(head->kind)) return RSP_EIM_DELIVERY_RESEND;
    return head->checked_count >= head->sent_count ? RSP_EIM_DELIVERY_RESEND
                                                   : RSP_EIM_DELIVERY_ASK_RESULTS;
  default:
    return RSP_EIM_DELIVERY_NOTHING;
  }
}

/* ---- lifecycle of the value types ------------------------------------------------------------ */

void rsp_eim_device_init(struct rsp_eim_device *d) {
  memset(d, 0, sizeof *d);
  rsp_buf_init(&d->euicc_cert, RSP_EIM_CERT_MAX);
  rsp_buf_init(&d->eum_cert, RSP_EIM_CERT_MAX);
  rsp_buf_init(&d->euicc_info2, RSP_EIM_INFO2_MAX);
  rsp_buf_init(&d->initial_config, RSP_EIM_CONFIG_MAX);
}

void rsp_eim_device_free(struct rsp_eim_device *d) {
  if (!d) return;
  rsp_buf_free(&d->euicc_cert);
  rsp_buf_free(&d->eum_cert);
  rsp_buf_free(&d->euicc_info2);
  rsp_buf_free(&d->initial_config);
}

void rsp_eim_operation_init(struct rsp_eim_operation *op) {
  memset(op, 0, sizeof *op);
  op->counter = RSP_EIM_NO_COUNTER;
  op->result_seq = RSP_EIM_NO_SEQ;
  rsp_buf_init(&op->package, RSP_EIM_PACKAGE_MAX);
  rsp_buf_init(&op->result, RSP_EIM_RESULT_MAX);
}

void rsp_eim_operation_free(struct rsp_eim_operation *op) {
  if (!op) return;
  rsp_free(op->spec);
  rsp_free(op->result_summary);
  rsp_free(op->error);
  op->spec = op->result_summary = op->error = NULL;
  rsp_buf_free(&op->package);
  rsp_buf_free(&op->result);
}

void rsp_eim_op_list_free(struct rsp_eim_op_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) rsp_eim_operation_free(&l->v[i]);
  rsp_free(l->v);
  l->v = NULL;
  l->n = 0;
}

void rsp_eim_notification_init(struct rsp_eim_notification *n) {
  memset(n, 0, sizeof *n);
  rsp_buf_init(&n->der, RSP_EIM_NOTIFICATION_MAX);
}

void rsp_eim_notification_free(struct rsp_eim_notification *n) {
  if (n) rsp_buf_free(&n->der);
}

void rsp_eim_audit_list_free(struct rsp_eim_audit_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) {
    rsp_free(l->v[i].detail);
    rsp_buf_free(&l->v[i].der);
  }
  rsp_free(l->v);
  l->v = NULL;
  l->n = 0;
}

rsp_err_t rsp_eim_euicc_data_from_msg(const struct rsp_msg_ipa_euicc_data *in,
                                      struct rsp_eim_euicc_data *out) {
  if (!in || !out) return RSP_E_INVALID_ARG;
  memset(out, 0, sizeof *out);
  /* The stored euiccInfo2 is the card's own encoding: only a decoded message has it. */
  if (in->euicc_info2 && in->euicc_info2->raw.len == 0) return RSP_E_INVALID_ARG;
  out->euicc_cert = in->euicc_certificate;
  out->eum_cert = in->eum_certificate;
  if (in->euicc_info2) out->euicc_info2 = in->euicc_info2->raw;
  out->has_association_token = in->association_token.present;
  out->association_token = in->association_token.v;
  return RSP_OK;
}

/* ---- argument checks ------------------------------------------------------------------------- */

static rsp_err_t bad(const char *fn, const char *why) {
  RSP_LOG_D(RSP__EIM_COMP, "store: %s: %s", fn, why);
  return RSP_E_INVALID_ARG;
}

#define BAD(why) bad(__func__, why)

static bool digits_only(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

/* Exactly 32 decimal digits (SGP.22 §4.1). */
static bool eid_ok(const char *eid) {
  return eid && strnlen(eid, RSP_EID_DIGITS + 1) == RSP_EID_DIGITS &&
         digits_only(eid, RSP_EID_DIGITS);
}

static bool iccid_ok(const char *iccid) {
  size_t n = iccid ? strnlen(iccid, RSP_ICCID_MAX_DIGITS + 1) : 0;
  return n >= 18 && n <= RSP_ICCID_MAX_DIGITS && digits_only(iccid, n);
}

/* UTF-8 text without NUL of 1..max bytes. */
static bool text_ok(const char *s, size_t max) {
  size_t n = s ? strnlen(s, max + 1) : 0;
  return n >= 1 && n <= max && rsp_utf8_valid((const uint8_t *)s, n, false);
}

/* A JSON object as text, within `max` bytes. */
static bool json_object_ok(const char *s, size_t max) {
  size_t n = s ? strnlen(s, max + 1) : 0;
  if (n == 0 || n > max) return false;
  json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
  bool ok = j && json_is_object(j);
  json_decref(j);
  return ok;
}

/* A slice: p NULL means absent (len 0), else min..max bytes. */
static bool slice_ok(struct rsp_slice s, size_t min, size_t max, bool optional) {
  if (!s.p) return optional && s.len == 0;
  return s.len >= min && s.len <= max;
}

/* Exactly one well-formed DER element of at most max bytes. */
static bool der_ok(struct rsp_slice s, size_t max, bool optional) {
  struct rsp_der_tlv tlv;
  if (!s.p) return optional && s.len == 0;
  return s.len > 0 && s.len <= max && rsp_der_parse_one(s.p, s.len, &tlv) == RSP_OK &&
         rsp_der_validate_tree(s.p, s.len) == RSP_OK;
}

static bool time_ok(int64_t t) { return t >= 0; }

static bool counter_ok(int64_t c) { return c >= 0 && c <= RSP_EIM_COUNTER_MAX; }

static bool store_ok(const struct rsp_eim_store *s) { return s && s->ops; }

/* ---- the package check ----------------------------------------------------------------------- */

static bool same_slice(struct rsp_slice a, struct rsp_slice b) {
  if (!a.p || !b.p) return !a.p && !b.p;
  return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static rsp_err_t check_euicc_package(const struct rsp_msg_euicc_package_request *req,
                                     enum rsp_eim_op_kind kind, const char *eid, const char *eim_id,
                                     int64_t counter, struct rsp_slice txid) {
  const struct rsp_msg_euicc_package_signed *ps = req->euicc_package_signed;
  char digits[RSP_EID_DIGITS + 1];
  int want =
      kind == RSP_EIM_OP_PSMO ? RSP_MSG_EUICC_PACKAGE_PSMO_LIST : RSP_MSG_EUICC_PACKAGE_ECO_LIST;
  if (!ps || !ps->euicc_package || ps->euicc_package->which != want)
    return BAD("package list does not match the operation kind");
  if (ps->eid_value.len != RSP_EID_LEN || rsp_eid_to_string(ps->eid_value.p, digits) != RSP_OK ||
      strcmp(digits, eid) != 0)
    return BAD("package is for another EID");
  if (ps->eim_id.len != strlen(eim_id) || memcmp(ps->eim_id.p, eim_id, ps->eim_id.len) != 0)
    return BAD("package carries another eimId");
  if (ps->counter_value != counter) return BAD("package counterValue differs from the counter");
  if (!same_slice(ps->eim_transaction_id, txid))
    return BAD("package eimTransactionId differs from the one given");
  return RSP_OK;
}

rsp_err_t rsp__eim_package_check(enum rsp_eim_op_kind kind, const char *eid, const char *eim_id,
                                 struct rsp_slice package, int64_t counter, struct rsp_slice txid) {
  static const struct {
    const struct rsp_msg_type *type;
    uint32_t tag;
  } kinds[] = {
      [RSP_EIM_OP_PSMO] = {&rsp_msgt_euicc_package_request, RSP_TAG_EUICC_PACKAGE_REQUEST},
      [RSP_EIM_OP_ECO] = {&rsp_msgt_euicc_package_request, RSP_TAG_EUICC_PACKAGE_REQUEST},
      [RSP_EIM_OP_EUICC_DATA] = {&rsp_msgt_ipa_euicc_data_request, RSP_TAG_IPA_EUICC_DATA_REQUEST},
      [RSP_EIM_OP_DOWNLOAD] = {&rsp_msgt_profile_download_trigger_request,
                               RSP_TAG_PROFILE_DOWNLOAD_TRIGGER_REQUEST},
  };
  struct rsp_arena arena;
  struct rsp_der_tlv tlv;
  void *v = NULL;
  rsp_err_t rc;
  if (kind < RSP_EIM_OP_PSMO || kind > RSP_EIM_OP_DOWNLOAD) return BAD("unknown kind");
  if (rsp_der_parse_one(package.p, package.len, &tlv) != RSP_OK || tlv.tag != kinds[kind].tag)
    return BAD("package is not one element of the operation's message");
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  if (rsp_msg_decode(kinds[kind].type, package.p, package.len, &arena, &v, NULL) != RSP_OK) {
    rc = BAD("package does not decode");
  } else if (signed_kind(kind)) {
    rc = check_euicc_package(v, kind, eid, eim_id, counter, txid);
  } else {
    struct rsp_slice in_pkg =
        kind == RSP_EIM_OP_EUICC_DATA
            ? ((struct rsp_msg_ipa_euicc_data_request *)v)->eim_transaction_id
            : ((struct rsp_msg_profile_download_trigger_request *)v)->eim_transaction_id;
    rc = same_slice(in_pkg, txid) ? RSP_OK : BAD("package eimTransactionId differs");
  }
  rsp_arena_free(&arena);
  return rc;
}

/* ---- the rollback marker --------------------------------------------------------------------- */

/* Whether a result (one DER element, checked) is an EuiccPackageResult (BF51) whose signed data
 * carries rollbackResult ok: after an enable with rollbackFlag left the device without network,
 * the IPA had the card enable the previous profile again (ProfileRollback), and the card appended
 * that result to the enable's (SGP.32 notes 3.9). Any other result, or one that does not decode,
 * shows no rollback. */
static bool result_rolled_back(struct rsp_slice der) {
  struct rsp_arena arena;
  struct rsp_der_tlv tlv;
  struct rsp_msg_euicc_package_result *r = NULL;
  bool rolled = false;
  if (rsp_der_parse_one(der.p, der.len, &tlv) != RSP_OK || tlv.tag != RSP_TAG_EUICC_PACKAGE_RESULT)
    return false;
  rsp_arena_init(&arena, RSP_MSG_ARENA_CAP);
  if (rsp_msg_decode(&rsp_msgt_euicc_package_result, der.p, der.len, &arena, (void **)&r, NULL) ==
          RSP_OK &&
      r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED) {
    const struct rsp_msg_euicc_package_result_data_signed_euicc_result *l =
        r->u.euicc_package_result_signed->euicc_package_result_data_signed->euicc_result;
    for (size_t i = 0; l && i < l->n && !rolled; i++)
      rolled = l->v[i].which == RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT &&
               l->v[i].u.rollback_result == 0;
  }
  rsp_arena_free(&arena);
  return rolled;
}

/* ---- the public functions -------------------------------------------------------------------- */

void rsp_eim_store_close(struct rsp_eim_store *s) {
  if (store_ok(s)) s->ops->close(s);
}

rsp_err_t rsp_eim_store_set_touch_interval(struct rsp_eim_store *s, unsigned ms) {
  if (!store_ok(s)) return BAD("NULL");
  return s->ops->set_touch_interval ? s->ops->set_touch_interval(s, ms) : RSP_E_UNSUPPORTED;
}

rsp_err_t rsp_eim_store_flush(struct rsp_eim_store *s) {
  if (!store_ok(s)) return BAD("NULL");
  return s->ops->flush ? s->ops->flush(s, false) : RSP_OK;
}

rsp_err_t rsp_eim_store_flush_due(struct rsp_eim_store *s) {
  if (!store_ok(s)) return BAD("NULL");
  return s->ops->flush ? s->ops->flush(s, true) : RSP_OK;
}

size_t rsp_eim_store_touches_held(struct rsp_eim_store *s) {
  return store_ok(s) && s->ops->touches_held ? s->ops->touches_held(s) : 0;
}

rsp_err_t rsp_eim_store_device_register(struct rsp_eim_store *s, const struct rsp_eim_device_new *d,
                                        int64_t now) {
  if (!store_ok(s) || !d || !time_ok(now)) return BAD("NULL or bad time");
  if (!eid_ok(d->eid)) return BAD("EID is not 32 digits");
  if (!text_ok(d->eim_id, RSP_EIM_ID_MAX)) return BAD("eimId is not 1..128 bytes of UTF-8");
  if (!counter_ok(d->next_counter)) return BAD("counter out of range");
  if (!der_ok(d->initial_config, RSP_EIM_CONFIG_MAX, true) ||
      !der_ok(d->euicc_cert, RSP_EIM_CERT_MAX, true) ||
      !der_ok(d->eum_cert, RSP_EIM_CERT_MAX, true))
    return BAD("configuration or certificate is not one DER element within its cap");
  return s->ops->device_register(s, d, now);
}

rsp_err_t rsp_eim_store_device_get(struct rsp_eim_store *s, const char *eid,
                                   struct rsp_eim_device *out) {
  if (!store_ok(s) || !out || !eid_ok(eid)) return BAD("NULL or bad EID");
  return s->ops->device_get(s, eid, out);
}

rsp_err_t rsp_eim_store_device_list(struct rsp_eim_store *s, const char *after_eid,
                                    struct rsp_eim_device_summary *out, size_t out_size,
                                    size_t *out_len) {
  if (out_len) *out_len = 0;
  if (!store_ok(s) || !out || !out_len || out_size == 0 || out_size > RSP_EIM_PAGE_MAX)
    return BAD("NULL or page size");
  if (after_eid && after_eid[0] && !eid_ok(after_eid)) return BAD("bad EID cursor");
  return s->ops->device_list(s, after_eid && after_eid[0] ? after_eid : "", out, out_size, out_len);
}

rsp_err_t rsp_eim_store_device_update_euicc_data(struct rsp_eim_store *s, const char *eid,
                                                 const struct rsp_eim_euicc_data *d, int64_t now) {
  if (!store_ok(s) || !d || !eid_ok(eid) || !time_ok(now)) return BAD("NULL, EID or time");
  if (!der_ok(d->euicc_cert, RSP_EIM_CERT_MAX, true) ||
      !der_ok(d->eum_cert, RSP_EIM_CERT_MAX, true) ||
      !der_ok(d->euicc_info2, RSP_EIM_INFO2_MAX, true))
    return BAD("certificate or euiccInfo2 is not one DER element within its cap");
  return s->ops->device_update_euicc_data(s, eid, d, now);
}

rsp_err_t rsp_eim_store_device_touch(struct rsp_eim_store *s, const char *eid, int64_t now,
                                     const uint8_t *rplmn) {
  if (!store_ok(s) || !eid_ok(eid) || !time_ok(now)) return BAD("NULL, EID or time");
  return s->ops->device_touch(s, eid, now, rplmn);
}

/* A backend without device_poll: the three calls it stands for, one after the other. */
static rsp_err_t poll_by_parts(struct rsp_eim_store *s, const char *eid, int64_t now,
                               const uint8_t *rplmn, struct rsp_eim_device *out,
                               struct rsp_eim_operation *head) {
  size_t expired = 0;
  rsp_err_t rc = s->ops->device_get(s, eid, out);
  if (rc == RSP_OK) rc = s->ops->device_touch(s, eid, now, rplmn);
  if (rc == RSP_OK) {
    rsp__eim_touch_merge(&out->last_seen, &out->has_rplmn, out->rplmn, now, rplmn);
    rc = s->ops->next_for_delivery(s, eid, now, head, &expired);
    if (rc == RSP_E_NOT_FOUND) rc = RSP_OK; /* the device exists: nothing deliverable */
  }
  return rc;
}

rsp_err_t rsp_eim_store_device_poll(struct rsp_eim_store *s, const char *eid, int64_t now,
                                    const uint8_t *rplmn, struct rsp_eim_device *out,
                                    struct rsp_eim_operation *head) {
  rsp_err_t rc;
  if (!store_ok(s) || !eid_ok(eid) || !time_ok(now) || !out || !head)
    return BAD("NULL, EID or time");
  rc = s->ops->device_poll ? s->ops->device_poll(s, eid, now, rplmn, out, head)
                           : poll_by_parts(s, eid, now, rplmn, out, head);
  if (rc != RSP_OK || head->id == 0) {
    rsp_eim_operation_free(head);
    rsp_eim_operation_init(head);
  }
  return rc;
}

rsp_err_t rsp_eim_store_profiles_set(struct rsp_eim_store *s, const char *eid,
                                     const struct rsp_eim_profile *v, size_t n, int64_t now) {
  size_t enabled = 0;
  if (!store_ok(s) || !eid_ok(eid) || !time_ok(now) || (n && !v) || n > RSP_EIM_PROFILES_MAX)
    return BAD("NULL, EID, time or count");
  for (size_t i = 0; i < n; i++) {
    size_t name_len = strnlen(v[i].name, sizeof v[i].name);
    if (!iccid_ok(v[i].iccid)) return BAD("ICCID is not 18..20 digits");
    if (v[i].state != RSP_EIM_PROFILE_ENABLED && v[i].state != RSP_EIM_PROFILE_DISABLED)
      return BAD("profile state");
    if (name_len == sizeof v[i].name ||
        !rsp_utf8_valid((const uint8_t *)v[i].name, name_len, false))
      return BAD("profile name");
    if (v[i].profile_class != -1 && !rsp__eim_profile_class_name(v[i].profile_class))
      return BAD("profile class");
    enabled += v[i].state == RSP_EIM_PROFILE_ENABLED;
    for (size_t j = 0; j < i; j++)
      if (strcmp(v[i].iccid, v[j].iccid) == 0) return BAD("ICCID listed twice");
  }
  if (enabled > 1) return BAD("more than one profile enabled");
  return s->ops->profiles_set(s, eid, v, n, now);
}

rsp_err_t rsp_eim_store_profiles_list(struct rsp_eim_store *s, const char *eid,
                                      struct rsp_eim_profile *out, size_t out_size,
                                      size_t *out_len) {
  if (out_len) *out_len = 0;
  if (!store_ok(s) || !eid_ok(eid) || !out || !out_len || out_size == 0) return BAD("arguments");
  return s->ops->profiles_list(s, eid, out, out_size, out_len);
}

rsp_err_t rsp_eim_store_op_enqueue(struct rsp_eim_store *s, const struct rsp_eim_op_new *req,
                                   int64_t now, int64_t *id) {
  if (id) *id = 0;
  if (!store_ok(s) || !req || !id || !time_ok(now)) return BAD("NULL or time");
  if (!eid_ok(req->eid)) return BAD("EID is not 32 digits");
  if (req->kind < RSP_EIM_OP_PSMO || req->kind > RSP_EIM_OP_DOWNLOAD) return BAD("kind");
  if (!json_object_ok(req->spec, RSP_EIM_SPEC_MAX)) return BAD("spec is not a JSON object");
  if (!time_ok(req->not_before) || !time_ok(req->expires_at)) return BAD("negative times");
  if (req->expires_at && req->expires_at <= req->not_before)
    return BAD("expires before it may be sent");
  return s->ops->op_enqueue(s, req, now, id);
}

rsp_err_t rsp_eim_store_op_get(struct rsp_eim_store *s, int64_t id, struct rsp_eim_operation *op) {
  if (!store_ok(s) || !op || id <= 0) return BAD("NULL or id");
  return s->ops->op_get(s, id, op);
}

rsp_err_t rsp_eim_store_op_get_by_txid(struct rsp_eim_store *s, struct rsp_slice txid,
                                       struct rsp_eim_operation *op) {
  if (!store_ok(s) || !op || !slice_ok(txid, 1, RSP_EIM_TXID_MAX, false))
    return BAD("NULL or eimTransactionId length");
  return s->ops->op_get_by_txid(s, txid, op);
}

rsp_err_t rsp_eim_store_op_list(struct rsp_eim_store *s, const char *eid, int64_t after_seq,
                                size_t limit, struct rsp_eim_op_list *out) {
  if (out) out->v = NULL, out->n = 0;
  if (!store_ok(s) || !out || !eid_ok(eid) || after_seq < 0 || limit == 0 ||
      limit > RSP_EIM_PAGE_MAX)
    return BAD("arguments");
  return s->ops->op_list(s, eid, after_seq, limit, out);
}

rsp_err_t rsp_eim_store_op_cancel(struct rsp_eim_store *s, int64_t id, int64_t now) {
  if (!store_ok(s) || id <= 0 || !time_ok(now)) return BAD("arguments");
  return s->ops->op_close(s, id, RSP_EIM_EV_CANCEL, NULL, now);
}

rsp_err_t rsp_eim_store_op_fail(struct rsp_eim_store *s, int64_t id, const char *error,
                                int64_t now) {
  if (!store_ok(s) || id <= 0 || !time_ok(now) || !text_ok(error, RSP_EIM_ERROR_MAX))
    return BAD("arguments");
  return s->ops->op_close(s, id, RSP_EIM_EV_ABANDON, error, now);
}

rsp_err_t rsp_eim_store_next_for_delivery(struct rsp_eim_store *s, const char *eid, int64_t now,
                                          struct rsp_eim_operation *op, size_t *expired) {
  size_t dummy;
  if (expired) *expired = 0;
  if (!store_ok(s) || !op || !eid_ok(eid) || !time_ok(now)) return BAD("arguments");
  return s->ops->next_for_delivery(s, eid, now, op, expired ? expired : &dummy);
}

rsp_err_t rsp_eim_store_assign_counter_and_mark_sent(struct rsp_eim_store *s, int64_t id,
                                                     struct rsp_slice package, int64_t counter,
                                                     struct rsp_slice txid, int64_t now) {
  if (!store_ok(s) || id <= 0 || !time_ok(now)) return BAD("arguments");
  if (!der_ok(package, RSP_EIM_PACKAGE_MAX, false)) return BAD("package is not one DER element");
  if (counter != RSP_EIM_NO_COUNTER && !counter_ok(counter)) return BAD("counter out of range");
  if (!slice_ok(txid, 1, RSP_EIM_TXID_MAX, true)) return BAD("eimTransactionId length");
  return s->ops->mark_sent(s, id, package, counter, txid, now);
}

rsp_err_t rsp_eim_store_op_resent(struct rsp_eim_store *s, int64_t id, int64_t now) {
  if (!store_ok(s) || id <= 0 || !time_ok(now)) return BAD("arguments");
  return s->ops->op_resent(s, id, now);
}

rsp_err_t rsp_eim_store_op_results_checked(struct rsp_eim_store *s, int64_t id, int64_t sent_count,
                                           int64_t now) {
  if (!store_ok(s) || id <= 0 || sent_count <= 0 || !time_ok(now)) return BAD("arguments");
  return s->ops->op_results_checked(s, id, sent_count, now);
}

rsp_err_t rsp_eim_store_record_result(struct rsp_eim_store *s, const struct rsp_eim_result *r,
                                      int64_t now, enum rsp_eim_record *outcome, int64_t *op_id) {
  int64_t dummy;
  if (outcome) *outcome = 0;
  if (op_id) *op_id = 0;
  if (!store_ok(s) || !r || !outcome || !time_ok(now)) return BAD("NULL or time");
  if (!slice_ok(r->eim_transaction_id, 1, RSP_EIM_TXID_MAX, true))
    return BAD("eimTransactionId length");
  if (r->eid ? !eid_ok(r->eid) : !r->eim_transaction_id.p)
    return BAD("bad EID, or neither EID nor eimTransactionId");
  if (!r->eim_transaction_id.p && r->counter == RSP_EIM_NO_COUNTER)
    return BAD("neither eimTransactionId nor counter");
  if (r->counter != RSP_EIM_NO_COUNTER && !counter_ok(r->counter)) return BAD("counter");
  if (r->seq_number != RSP_EIM_NO_SEQ && r->seq_number < 0) return BAD("seqNumber");
  if (!der_ok(r->der, RSP_EIM_RESULT_MAX, false)) return BAD("result is not one DER element");
  if (r->summary && !json_object_ok(r->summary, RSP_EIM_SUMMARY_MAX))
    return BAD("summary is not a JSON object");
  if (r->state != RSP_EIM_OP_DONE && r->state != RSP_EIM_OP_FAILED) return BAD("state");
  if (r->error && !text_ok(r->error, RSP_EIM_ERROR_MAX)) return BAD("error text");
  return s->ops->record_result(s, r, result_rolled_back(r->der), now, outcome,
                               op_id ? op_id : &dummy);
}

rsp_err_t rsp_eim_store_record_notification(struct rsp_eim_store *s,
                                            const struct rsp_eim_notification_new *n, int64_t now,
                                            enum rsp_eim_record *outcome) {
  if (outcome) *outcome = 0;
  if (!store_ok(s) || !n || !outcome || !time_ok(now)) return BAD("NULL or time");
  if (!eid_ok(n->eid) || n->seq_number < 0) return BAD("EID or seqNumber");
  if (n->kind < RSP_EIM_NOTIF_INSTALL || n->kind > RSP_EIM_NOTIF_OTHER) return BAD("kind");
  if (n->iccid && !iccid_ok(n->iccid)) return BAD("ICCID");
  if (!der_ok(n->der, RSP_EIM_NOTIFICATION_MAX, false)) return BAD("notification DER");
  if (n->forward_address && !text_ok(n->forward_address, RSP_EIM_ADDRESS_MAX))
    return BAD("forward address");
  return s->ops->record_notification(s, n, now, outcome);
}

rsp_err_t rsp_eim_store_notification_next(struct rsp_eim_store *s,
                                          struct rsp_eim_notification *out) {
  if (!store_ok(s) || !out) return BAD("NULL");
  return s->ops->notification_next(s, out);
}

rsp_err_t rsp_eim_store_notification_forwarded(struct rsp_eim_store *s, const char *eid,
                                               int64_t seq_number, int64_t now) {
  if (!store_ok(s) || !eid_ok(eid) || seq_number < 0 || !time_ok(now)) return BAD("arguments");
  return s->ops->notification_forwarded(s, eid, seq_number, now);
}

rsp_err_t rsp_eim_store_audit_list(struct rsp_eim_store *s, const struct rsp_eim_audit_query *q,
                                   struct rsp_eim_audit_list *out) {
  if (out) out->v = NULL, out->n = 0;
  if (!store_ok(s) || !q || !out || q->after_id < 0 || q->operation_id < 0 || q->limit == 0 ||
      q->limit > RSP_EIM_PAGE_MAX)
    return BAD("arguments");
  if (q->eid && !eid_ok(q->eid)) return BAD("EID");
  return s->ops->audit_list(s, q, out);
}

static bool event_ok(const char *e) {
  size_t n = e ? strnlen(e, RSP_EIM_EVENT_MAX + 1) : 0;
  if (n == 0 || n > RSP_EIM_EVENT_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= '0' && e[i] <= '9') || e[i] == '_'))
      return false;
  return true;
}

rsp_err_t rsp_eim_store_audit_add(struct rsp_eim_store *s, const char *eid, int64_t operation_id,
                                  const char *event, const char *detail, struct rsp_slice der,
                                  int64_t now) {
  if (!store_ok(s) || !time_ok(now) || operation_id < 0) return BAD("NULL, time or id");
  if (eid && !eid_ok(eid)) return BAD("EID");
  if (!event_ok(event)) return BAD("event name");
  if (detail && !json_object_ok(detail, RSP_EIM_SUMMARY_MAX)) return BAD("detail");
  if (!der_ok(der, RSP_EIM_RESULT_MAX, true)) return BAD("der");
  if (!s->ops->audit_add) return RSP_E_UNSUPPORTED;
  return s->ops->audit_add(s, eid, operation_id, event, detail, der, now);
}

rsp_err_t rsp_eim_store_stats(struct rsp_eim_store *s, struct rsp_eim_stats *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!store_ok(s) || !out) return BAD("NULL");
  if (!s->ops->stats) return RSP_E_UNSUPPORTED;
  rsp_err_t rc = s->ops->stats(s, out);
  if (rc != RSP_OK) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  /* The sums are the interface's, so every backend answers them the same way. */
  for (int k = RSP_EIM_OP_PSMO; k <= RSP_EIM_OP_DOWNLOAD; k++)
    for (int st = RSP_EIM_OP_QUEUED; st <= RSP_EIM_OP_CANCELLED; st++) {
      out->by_state[st] += out->ops[k][st];
      out->total += out->ops[k][st];
    }
  return RSP_OK;
}
