/* The operations of the PostgreSQL store (struct rsp_eim_store_ops; store_pg.c has the
 * connection, the transactions and the schema). Each state change is a function run by
 * rsp__pg_tx, whose first statement locks the device's row; the checks on what it reads and the
 * audit details are those of every backend (store_common.c). */
#include <jansson.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "store_pg_internal.h"

#define PG(b) ((struct rsp__pg_store *)(b))
#define DEVICE_NCOLS 12 /* the first column of the head in PQ_DEVICE_POLL */

static const struct rsp_slice NO_DER = {NULL, 0};

/* Appends one audit row; `detail` (a JSON object, consumed; NULL: {}). */
static rsp_err_t audit(struct rsp__pg_store *s, int64_t now, const char *eid, int64_t op_id,
                       const char *event, json_t *detail, struct rsp_slice der) {
  char *text = rsp__eim_json_text(detail);
  struct rsp__pg_args a = {0};
  rsp_err_t rc;
  if (!text) return RSP_E_NOMEM;
  rsp__pg_int(&a, now);
  rsp__pg_text(&a, eid);
  rsp__pg_opt_int(&a, op_id > 0, op_id);
  rsp__pg_str(&a, event);
  rsp__pg_str(&a, text);
  rsp__pg_blob(&a, der);
  rc = rsp__pg_cmd(s, PQ_AUDIT, &a, NULL);
  rsp_free(text);
  return rc;
}

/* A statement with one text parameter and a row or none. */
static rsp_err_t row_by_eid(struct rsp__pg_store *s, enum rsp__pg_query q, const char *eid,
                            PGresult **r) {
  struct rsp__pg_args a = {0};
  rsp__pg_str(&a, eid);
  return rsp__pg_row(s, q, &a, r);
}

static rsp_err_t device_exists(struct rsp__pg_store *s, const char *eid) {
  PGresult *r;
  rsp_err_t rc = row_by_eid(s, PQ_DEVICE_EXISTS, eid, &r);
  PQclear(r);
  return rc;
}

/* Takes the device's lock (its row, FOR UPDATE) for the rest of the transaction; fills eim_id
 * and *next when asked. RSP_E_NOT_FOUND for an unknown EID. */
static rsp_err_t lock_device(struct rsp__pg_store *s, const char *eid, char *eim_id,
                             size_t eim_id_size, int64_t *next) {
  PGresult *r;
  rsp_err_t rc = row_by_eid(s, PQ_DEVICE_LOCK, eid, &r);
  if (rc == RSP_OK && eim_id) rsp__pg_col_text(r, 0, 0, eim_id, eim_id_size);
  if (rc == RSP_OK && next) *next = rsp__pg_col_int(r, 0, 1, 0);
  PQclear(r);
  return rc;
}

/* The lock of the device an operation belongs to (an operation never changes device); fills
 * eim_id and *next (the locked row's latest values) when asked. */
static rsp_err_t lock_device_of_op(struct rsp__pg_store *s, int64_t id, char *eim_id,
                                   size_t eim_id_size, int64_t *next) {
  struct rsp__pg_args a = {0};
  PGresult *r;
  rsp_err_t rc;
  rsp__pg_int(&a, id);
  rc = rsp__pg_row(s, PQ_DEVICE_LOCK_BY_OP, &a, &r);
  if (rc == RSP_OK && eim_id) rsp__pg_col_text(r, 0, 0, eim_id, eim_id_size);
  if (rc == RSP_OK && next) *next = rsp__pg_col_int(r, 0, 1, 0);
  PQclear(r);
  return rc;
}

/* ---- devices --------------------------------------------------------------------------------- */

struct register_ctx {
  const struct rsp_eim_device_new *d;
  int64_t now;
};

static rsp_err_t register_tx(struct rsp__pg_store *s, void *ctx) {
  const struct register_ctx *c = ctx;
  const struct rsp_eim_device_new *d = c->d;
  struct rsp__pg_args a = {0};
  rsp_err_t rc;
  rsp__pg_str(&a, d->eid);
  rsp__pg_str(&a, d->eim_id);
  rsp__pg_opt_int(&a, d->has_association_token, d->association_token);
  rsp__pg_int(&a, d->next_counter);
  rsp__pg_blob(&a, d->initial_config);
  rsp__pg_blob(&a, d->euicc_cert);
  rsp__pg_blob(&a, d->eum_cert);
  rsp__pg_int(&a, c->now);
  rc = rsp__pg_cmd(s, PQ_DEVICE_INSERT, &a, NULL);
  if (rc == RSP_OK)
    rc = audit(s, c->now, d->eid, 0, "registered", rsp__eim_detail_registered(d), NO_DER);
  return rc;
}

static rsp_err_t pg_device_register(struct rsp_eim_store *base, const struct rsp_eim_device_new *d,
                                    int64_t now) {
  struct register_ctx c = {d, now};
  return rsp__pg_tx(PG(base), register_tx, &c);
}

/* Fills `d` from the device columns of row 0, starting at column `b`, with this handle's held
 * poll applied. */
static rsp_err_t device_read(const struct rsp__pg_store *s, const PGresult *r, int b,
                             struct rsp_eim_device *d) {
  rsp_err_t rc;
  rsp__pg_col_text(r, 0, b + 0, d->eid, sizeof d->eid);
  rsp__pg_col_text(r, 0, b + 1, d->eim_id, sizeof d->eim_id);
  d->has_association_token = !rsp__pg_col_null(r, 0, b + 2);
  d->association_token = rsp__pg_col_int(r, 0, b + 2, 0);
  d->next_counter = rsp__pg_col_int(r, 0, b + 3, 0);
  rc = rsp__pg_col_buf(r, 0, b + 4, &d->euicc_cert);
  if (rc == RSP_OK) rc = rsp__pg_col_buf(r, 0, b + 5, &d->eum_cert);
  if (rc == RSP_OK) rc = rsp__pg_col_buf(r, 0, b + 6, &d->euicc_info2);
  if (rc == RSP_OK) rc = rsp__pg_col_buf(r, 0, b + 7, &d->initial_config);
  d->created = rsp__pg_col_int(r, 0, b + 8, 0);
  d->last_seen = rsp__pg_col_int(r, 0, b + 9, 0);
  d->has_rplmn = PQgetlength(r, 0, b + 10) == RSP_EIM_RPLMN_LEN;
  if (d->has_rplmn) memcpy(d->rplmn, PQgetvalue(r, 0, b + 10), RSP_EIM_RPLMN_LEN);
  rsp__pg_col_text(r, 0, b + 11, d->enabled_iccid, sizeof d->enabled_iccid);
  rsp__eim_touches_show(&s->touches, d->eid, &d->last_seen, &d->has_rplmn, d->rplmn);
  return rc;
}

static rsp_err_t pg_device_get(struct rsp_eim_store *base, const char *eid,
                               struct rsp_eim_device *d) {
  PGresult *r;
  rsp_err_t rc = row_by_eid(PG(base), PQ_DEVICE_GET, eid, &r);
  if (rc == RSP_OK) rc = device_read(PG(base), r, 0, d);
  PQclear(r);
  return rc;
}

static rsp_err_t pg_device_list(struct rsp_eim_store *base, const char *after,
                                struct rsp_eim_device_summary *out, size_t out_size,
                                size_t *out_len) {
  struct rsp__pg_store *s = PG(base);
  struct rsp__pg_args a = {0};
  PGresult *r;
  rsp_err_t rc;
  rsp__pg_str(&a, after);
  rsp__pg_int(&a, (int64_t)out_size);
  if ((rc = rsp__pg_exec(s, PQ_DEVICE_LIST, &a, &r)) != RSP_OK) return rc;
  for (int i = 0; i < PQntuples(r) && *out_len < out_size; i++) {
    struct rsp_eim_device_summary *d = &out[(*out_len)++];
    bool has_rplmn = false;
    uint8_t rplmn[RSP_EIM_RPLMN_LEN];
    memset(d, 0, sizeof *d);
    rsp__pg_col_text(r, i, 0, d->eid, sizeof d->eid);
    rsp__pg_col_text(r, i, 1, d->eim_id, sizeof d->eim_id);
    d->next_counter = rsp__pg_col_int(r, i, 2, 0);
    d->created = rsp__pg_col_int(r, i, 3, 0);
    d->last_seen = rsp__pg_col_int(r, i, 4, 0);
    rsp__pg_col_text(r, i, 5, d->enabled_iccid, sizeof d->enabled_iccid);
    d->pending = rsp__pg_col_int(r, i, 6, 0);
    rsp__eim_touches_show(&s->touches, d->eid, &d->last_seen, &has_rplmn, rplmn);
  }
  PQclear(r);
  return RSP_OK;
}

struct euicc_data_ctx {
  const char *eid;
  const struct rsp_eim_euicc_data *d;
  int64_t now;
};

static rsp_err_t euicc_data_tx(struct rsp__pg_store *s, void *ctx) {
  const struct euicc_data_ctx *c = ctx;
  struct rsp__pg_args a = {0};
  long changed = 0;
  rsp_err_t rc;
  rsp__pg_str(&a, c->eid);
  rsp__pg_blob(&a, c->d->euicc_cert);
  rsp__pg_blob(&a, c->d->eum_cert);
  rsp__pg_blob(&a, c->d->euicc_info2);
  rsp__pg_bool(&a, c->d->has_association_token);
  rsp__pg_int(&a, c->d->association_token);
  rsp__pg_int(&a, c->now);
  rc = rsp__pg_cmd(s, PQ_DEVICE_DATA, &a, &changed);
  if (rc == RSP_OK && changed != 1) rc = RSP_E_NOT_FOUND;
  if (rc == RSP_OK)
    rc = audit(s, c->now, c->eid, 0, "euicc_data", rsp__eim_detail_euicc_data(c->d), NO_DER);
  return rc;
}

static rsp_err_t pg_device_update_euicc_data(struct rsp_eim_store *base, const char *eid,
                                             const struct rsp_eim_euicc_data *d, int64_t now) {
  struct euicc_data_ctx c = {eid, d, now};
  return rsp__pg_tx(PG(base), euicc_data_tx, &c);
}

static rsp_err_t pg_device_touch(struct rsp_eim_store *base, const char *eid, int64_t now,
                                 const uint8_t *rplmn) {
  struct rsp__pg_store *s = PG(base);
  rsp_err_t rc = device_exists(s, eid);
  if (rc != RSP_OK) return rc;
  return rsp__eim_touches_record(&s->touches, s->touch_ms, eid, now, rplmn, rsp__pg_touches_write,
                                 s);
}

/* ---- profiles -------------------------------------------------------------------------------- */

struct profiles_ctx {
  const char *eid;
  const struct rsp_eim_profile *v;
  size_t n;
  int64_t now;
};

static rsp_err_t profile_insert(struct rsp__pg_store *s, const char *eid,
                                const struct rsp_eim_profile *p, int64_t now) {
  struct rsp__pg_args a = {0};
  rsp__pg_str(&a, eid);
  rsp__pg_str(&a, p->iccid);
  rsp__pg_str(&a, rsp__eim_profile_state_name(p->state));
  rsp__pg_text(&a, p->name);
  rsp__pg_text(&a, rsp__eim_profile_class_name(p->profile_class));
  rsp__pg_int(&a, now);
  return rsp__pg_cmd(s, PQ_PROFILE_INSERT, &a, NULL);
}

static rsp_err_t profiles_tx(struct rsp__pg_store *s, void *ctx) {
  const struct profiles_ctx *c = ctx;
  struct rsp__pg_args a = {0}, del = {0};
  const char *enabled = NULL;
  long changed = 0;
  rsp_err_t rc;
  for (size_t i = 0; i < c->n; i++)
    if (c->v[i].state == RSP_EIM_PROFILE_ENABLED) enabled = c->v[i].iccid;
  rsp__pg_str(&a, c->eid);
  rsp__pg_text(&a, enabled);
  rc = rsp__pg_cmd(s, PQ_DEVICE_ENABLED, &a, &changed);
  if (rc == RSP_OK && changed != 1) rc = RSP_E_NOT_FOUND;
  rsp__pg_str(&del, c->eid);
  if (rc == RSP_OK) rc = rsp__pg_cmd(s, PQ_PROFILES_DELETE, &del, NULL);
  for (size_t i = 0; rc == RSP_OK && i < c->n; i++)
    rc = profile_insert(s, c->eid, &c->v[i], c->now);
  if (rc == RSP_OK)
    rc = audit(s, c->now, c->eid, 0, "profiles", rsp__eim_detail_profiles(c->n, enabled), NO_DER);
  return rc;
}

static rsp_err_t pg_profiles_set(struct rsp_eim_store *base, const char *eid,
                                 const struct rsp_eim_profile *v, size_t n, int64_t now) {
  struct profiles_ctx c = {eid, v, n, now};
  return rsp__pg_tx(PG(base), profiles_tx, &c);
}

static rsp_err_t pg_profiles_list(struct rsp_eim_store *base, const char *eid,
                                  struct rsp_eim_profile *out, size_t out_size, size_t *out_len) {
  struct rsp__pg_store *s = PG(base);
  struct rsp__pg_args a = {0};
  char name[32], cls[32];
  PGresult *r;
  rsp_err_t rc = device_exists(s, eid);
  if (rc != RSP_OK) return rc;
  rsp__pg_str(&a, eid);
  rsp__pg_int(&a, (int64_t)out_size);
  if ((rc = rsp__pg_exec(s, PQ_PROFILES_LIST, &a, &r)) != RSP_OK) return rc;
  for (int i = 0; i < PQntuples(r) && *out_len < out_size; i++) {
    struct rsp_eim_profile *p = &out[(*out_len)++];
    memset(p, 0, sizeof *p);
    rsp__pg_col_text(r, i, 0, p->iccid, sizeof p->iccid);
    rsp__pg_col_text(r, i, 1, name, sizeof name);
    p->state = rsp__eim_profile_state_parse(name);
    rsp__pg_col_text(r, i, 2, p->name, sizeof p->name);
    rsp__pg_col_text(r, i, 3, cls, sizeof cls);
    p->profile_class = rsp__eim_profile_class_parse(rsp__pg_col_null(r, i, 3) ? NULL : cls);
    p->updated = rsp__pg_col_int(r, i, 4, 0);
  }
  PQclear(r);
  return RSP_OK;
}

/* ---- operations: reading --------------------------------------------------------------------- */

/* Fills `op` (freed first) from the operation columns of row `row`, starting at column `b`. */
static rsp_err_t op_read(const PGresult *r, int row, int b, struct rsp_eim_operation *op) {
  char name[32];
  int txlen = PQgetlength(r, row, b + 10);
  rsp_err_t rc;
  rsp_eim_operation_free(op);
  rsp_eim_operation_init(op);
  op->id = rsp__pg_col_int(r, row, b + 0, 0);
  rsp__pg_col_text(r, row, b + 1, op->eid, sizeof op->eid);
  op->seq = rsp__pg_col_int(r, row, b + 2, 0);
  rsp__pg_col_text(r, row, b + 3, name, sizeof name);
  op->kind = rsp_eim_op_kind_parse(name);
  rsp__pg_col_text(r, row, b + 5, name, sizeof name);
  op->state = rsp_eim_op_state_parse(name);
  op->not_before = rsp__pg_col_int(r, row, b + 6, 0);
  op->expires_at = rsp__pg_col_int(r, row, b + 7, 0);
  op->created = rsp__pg_col_int(r, row, b + 8, 0);
  op->counter = rsp__pg_col_int(r, row, b + 9, RSP_EIM_NO_COUNTER);
  if (txlen < 0 || txlen > RSP_EIM_TXID_MAX || !op->kind || !op->state) return RSP_E_IO;
  op->eim_transaction_id_len = (size_t)txlen;
  if (txlen) memcpy(op->eim_transaction_id, PQgetvalue(r, row, b + 10), (size_t)txlen);
  op->sent_count = rsp__pg_col_int(r, row, b + 12, 0);
  op->last_sent = rsp__pg_col_int(r, row, b + 13, 0);
  op->checked_count = rsp__pg_col_int(r, row, b + 14, 0);
  op->result_seq = rsp__pg_col_int(r, row, b + 16, RSP_EIM_NO_SEQ);
  op->done_at = rsp__pg_col_int(r, row, b + 18, 0);
  rc = rsp__pg_col_strdup(r, row, b + 4, &op->spec);
  if (rc == RSP_OK) rc = rsp__pg_col_buf(r, row, b + 11, &op->package);
  if (rc == RSP_OK) rc = rsp__pg_col_buf(r, row, b + 15, &op->result);
  if (rc == RSP_OK) rc = rsp__pg_col_strdup(r, row, b + 17, &op->result_summary);
  if (rc == RSP_OK) rc = rsp__pg_col_strdup(r, row, b + 19, &op->error);
  op->rolled_back = rsp__pg_col_int(r, row, b + 20, 0) != 0;
  return rc;
}

static rsp_err_t op_select(struct rsp__pg_store *s, enum rsp__pg_query q,
                           const struct rsp__pg_args *a, struct rsp_eim_operation *op) {
  PGresult *r;
  rsp_err_t rc = rsp__pg_row(s, q, a, &r);
  if (rc == RSP_OK && (rc = op_read(r, 0, 0, op)) == RSP_E_IO)
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: unreadable operation row");
  PQclear(r);
  return rc;
}

static rsp_err_t op_by_id(struct rsp__pg_store *s, int64_t id, struct rsp_eim_operation *op) {
  struct rsp__pg_args a = {0};
  rsp__pg_int(&a, id);
  return op_select(s, PQ_OP_GET, &a, op);
}

static rsp_err_t op_by_txid(struct rsp__pg_store *s, struct rsp_slice txid,
                            struct rsp_eim_operation *op) {
  struct rsp__pg_args a = {0};
  rsp__pg_blob(&a, txid);
  return op_select(s, PQ_OP_BY_TXID, &a, op);
}

static rsp_err_t op_by_counter(struct rsp__pg_store *s, const char *eid, int64_t counter,
                               struct rsp_eim_operation *op) {
  struct rsp__pg_args a = {0};
  rsp__pg_str(&a, eid);
  rsp__pg_int(&a, counter);
  return op_select(s, PQ_OP_BY_COUNTER, &a, op);
}

static rsp_err_t read_head(struct rsp__pg_store *s, const char *eid, struct rsp_eim_operation *op) {
  struct rsp__pg_args a = {0};
  rsp__pg_str(&a, eid);
  return op_select(s, PQ_OP_HEAD, &a, op);
}

static rsp_err_t pg_op_get(struct rsp_eim_store *base, int64_t id, struct rsp_eim_operation *op) {
  return op_by_id(PG(base), id, op);
}

static rsp_err_t pg_op_get_by_txid(struct rsp_eim_store *base, struct rsp_slice txid,
                                   struct rsp_eim_operation *op) {
  return op_by_txid(PG(base), txid, op);
}

static rsp_err_t pg_op_list(struct rsp_eim_store *base, const char *eid, int64_t after_seq,
                            size_t limit, struct rsp_eim_op_list *out) {
  struct rsp__pg_store *s = PG(base);
  struct rsp__pg_args a = {0};
  PGresult *r;
  rsp_err_t rc = device_exists(s, eid);
  if (rc != RSP_OK) return rc;
  rsp__pg_str(&a, eid);
  rsp__pg_int(&a, after_seq);
  rsp__pg_int(&a, (int64_t)limit);
  if ((rc = rsp__pg_exec(s, PQ_OP_LIST, &a, &r)) != RSP_OK) return rc;
  if (PQntuples(r) && !(out->v = rsp_calloc((size_t)PQntuples(r), sizeof *out->v)))
    rc = RSP_E_NOMEM;
  for (int i = 0; rc == RSP_OK && i < PQntuples(r) && out->n < limit; i++) {
    rsp_eim_operation_init(&out->v[out->n]);
    rc = op_read(r, i, 0, &out->v[out->n++]);
  }
  PQclear(r);
  if (rc != RSP_OK) rsp_eim_op_list_free(out);
  return rc;
}

/* ---- operations: the queue ------------------------------------------------------------------- */

struct enqueue_ctx {
  const struct rsp_eim_op_new *r;
  int64_t now, *id;
};

/* The device's lock makes max(seq) + 1 safe: no other node appends to this queue meanwhile. */
static rsp_err_t enqueue_tx(struct rsp__pg_store *s, void *ctx) {
  const struct enqueue_ctx *c = ctx;
  struct rsp__pg_args a = {0};
  PGresult *res = NULL;
  int64_t seq = 0;
  rsp_err_t rc = lock_device(s, c->r->eid, NULL, 0, NULL);
  rsp__pg_str(&a, c->r->eid);
  rsp__pg_str(&a, rsp_eim_op_kind_name(c->r->kind));
  rsp__pg_str(&a, c->r->spec);
  rsp__pg_int(&a, c->r->not_before);
  rsp__pg_opt_int(&a, c->r->expires_at > 0, c->r->expires_at);
  rsp__pg_int(&a, c->now);
  if (rc == RSP_OK && (rc = rsp__pg_row(s, PQ_OP_INSERT, &a, &res)) == RSP_OK) {
    *c->id = rsp__pg_col_int(res, 0, 0, 0);
    seq = rsp__pg_col_int(res, 0, 1, 0);
  }
  PQclear(res);
  if (rc == RSP_OK)
    rc = audit(s, c->now, c->r->eid, *c->id, "enqueued", rsp__eim_detail_enqueued(c->r, seq),
               NO_DER);
  return rc;
}

static rsp_err_t pg_op_enqueue(struct rsp_eim_store *base, const struct rsp_eim_op_new *r,
                               int64_t now, int64_t *id) {
  struct enqueue_ctx c = {r, now, id};
  rsp_err_t rc = rsp__pg_tx(PG(base), enqueue_tx, &c);
  if (rc != RSP_OK) *id = 0;
  return rc;
}

/* Applies a closing event (expire, cancel, abandon) to `op`, read under the device's lock. */
static rsp_err_t op_move(struct rsp__pg_store *s, const struct rsp_eim_operation *op,
                         enum rsp_eim_op_event event, const char *error, int64_t now) {
  struct rsp__pg_args a = {0};
  enum rsp_eim_op_state to;
  long changed = 0;
  rsp_err_t rc = rsp__eim_allowed(op, event, &to);
  if (rc != RSP_OK) return rc;
  rsp__pg_int(&a, op->id);
  rsp__pg_str(&a, rsp_eim_op_state_name(op->state));
  rsp__pg_str(&a, rsp_eim_op_state_name(to));
  rsp__pg_int(&a, now);
  rsp__pg_text(&a, error);
  rc = rsp__pg_cmd(s, PQ_OP_CLOSE, &a, &changed);
  if (rc == RSP_OK && changed != 1) rc = RSP_E_STATE;
  if (rc == RSP_OK)
    rc = audit(s, now, op->eid, op->id, rsp_eim_op_state_name(to),
               rsp__eim_detail_moved(event, error), NO_DER);
  return rc;
}

/* The state of a transaction on one operation: its id, the operation as read under the lock. */
struct op_ctx {
  int64_t id, now;
  enum rsp_eim_op_event event;
  const char *error;
  int64_t sent_count;
  struct rsp_eim_operation op;
};

/* Locks the operation's device, then reads the operation: what it says now cannot change until
 * the transaction ends. */
static rsp_err_t op_locked(struct rsp__pg_store *s, struct op_ctx *c) {
  rsp_err_t rc = lock_device_of_op(s, c->id, NULL, 0, NULL);
  return rc == RSP_OK ? op_by_id(s, c->id, &c->op) : rc;
}

static rsp_err_t close_tx(struct rsp__pg_store *s, void *ctx) {
  struct op_ctx *c = ctx;
  rsp_err_t rc = op_locked(s, c);
  return rc == RSP_OK ? op_move(s, &c->op, c->event, c->error, c->now) : rc;
}

/* Runs fn on one operation (c->op initialised here and freed after). */
static rsp_err_t op_tx(struct rsp__pg_store *s, rsp__pg_tx_fn fn, struct op_ctx *c) {
  rsp_err_t rc;
  rsp_eim_operation_init(&c->op);
  rc = rsp__pg_tx(s, fn, c);
  rsp_eim_operation_free(&c->op);
  return rc;
}

static rsp_err_t pg_op_close(struct rsp_eim_store *base, int64_t id, enum rsp_eim_op_event event,
                             const char *error, int64_t now) {
  struct op_ctx c = {.id = id, .now = now, .event = event, .error = error};
  return op_tx(PG(base), close_tx, &c);
}

struct expiry_ctx {
  const char *eid;
  int64_t now;
  struct rsp_eim_operation *op;
  size_t *expired;
  rsp_err_t found; /* RSP_OK: a head; RSP_E_NOT_FOUND: none (the expiries commit all the same) */
};

/* Under the device's lock: the head after marking the expired queued ones. */
static rsp_err_t expiry_tx(struct rsp__pg_store *s, void *ctx) {
  struct expiry_ctx *c = ctx;
  rsp_err_t rc = lock_device(s, c->eid, NULL, 0, NULL);
  *c->expired = 0;
  while (rc == RSP_OK) {
    if ((rc = read_head(s, c->eid, c->op)) != RSP_OK || !rsp__eim_op_expired(c->op, c->now)) break;
    if ((rc = op_move(s, c->op, RSP_EIM_EV_EXPIRE, NULL, c->now)) != RSP_OK) return rc;
    (*c->expired)++;
  }
  c->found = rc;
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

/* A poll usually changes nothing, so the head is first read without a lock (one statement, one
 * snapshot; whatever the caller does next is checked again under the lock). Only an expired
 * head takes the device's lock to mark the expiries. */
static rsp_err_t pg_next_for_delivery(struct rsp_eim_store *base, const char *eid, int64_t now,
                                      struct rsp_eim_operation *op, size_t *expired) {
  struct rsp__pg_store *s = PG(base);
  rsp_err_t found = read_head(s, eid, op);
  if (found == RSP_OK && rsp__eim_op_expired(op, now)) {
    struct expiry_ctx c = {eid, now, op, expired, RSP_E_NOT_FOUND};
    rsp_err_t rc = rsp__pg_tx(s, expiry_tx, &c);
    found = rc == RSP_OK ? c.found : rc;
  }
  return rsp__eim_head_due(op, now, found);
}

/* The device and its queue head in one statement; nothing written unless the head expired. */
static rsp_err_t pg_device_poll(struct rsp_eim_store *base, const char *eid, int64_t now,
                                const uint8_t *rplmn, struct rsp_eim_device *d,
                                struct rsp_eim_operation *head) {
  struct rsp__pg_store *s = PG(base);
  size_t expired = 0;
  bool has_head = false;
  PGresult *r;
  rsp_err_t rc = row_by_eid(s, PQ_DEVICE_POLL, eid, &r);
  if (rc == RSP_OK) rc = device_read(s, r, 0, d);
  if (rc == RSP_OK && (has_head = !rsp__pg_col_null(r, 0, DEVICE_NCOLS)) &&
      (rc = op_read(r, 0, DEVICE_NCOLS, head)) == RSP_E_IO)
    rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: unreadable operation row");
  PQclear(r);
  if (rc == RSP_OK)
    rc = rsp__eim_touches_record(&s->touches, s->touch_ms, eid, now, rplmn, rsp__pg_touches_write,
                                 s);
  if (rc != RSP_OK) return rc;
  rsp__eim_touches_show(&s->touches, eid, &d->last_seen, &d->has_rplmn, d->rplmn);
  if (has_head && rsp__eim_op_expired(head, now)) {
    rc = pg_next_for_delivery(base, eid, now, head, &expired);
    return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
  }
  if (has_head && head->state == RSP_EIM_OP_QUEUED && head->not_before > now) {
    rsp_eim_operation_free(head);
    rsp_eim_operation_init(head);
  }
  return RSP_OK;
}

/* ---- operations: sending --------------------------------------------------------------------- */

struct send_ctx {
  int64_t id, counter, now;
  struct rsp_slice package, txid;
  struct rsp_eim_operation op;
};

/* Whether another operation of the device comes before `op` and is still open. */
static rsp_err_t earlier_open(struct rsp__pg_store *s, const struct rsp_eim_operation *op,
                              bool *yes) {
  struct rsp__pg_args a = {0};
  PGresult *r;
  rsp_err_t rc;
  rsp__pg_str(&a, op->eid);
  rsp__pg_int(&a, op->seq);
  rc = rsp__pg_row(s, PQ_OP_EARLIER_OPEN, &a, &r);
  PQclear(r);
  *yes = rc == RSP_OK;
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

/* The writes of assign_counter_and_mark_sent: counter, then the operation, then the audit row. */
static rsp_err_t send_writes(struct rsp__pg_store *s, const struct send_ctx *c) {
  struct rsp__pg_args a = {0}, b = {0};
  long changed = 1;
  rsp_err_t rc = RSP_OK;
  if (c->counter != RSP_EIM_NO_COUNTER) {
    rsp__pg_str(&a, c->op.eid);
    rsp__pg_int(&a, c->counter);
    rsp__pg_int(&a, c->counter + 1);
    rc = rsp__pg_cmd(s, PQ_DEVICE_SET_COUNTER, &a, &changed);
  }
  if (rc == RSP_OK && changed != 1) rc = RSP_E_STATE;
  if (rc != RSP_OK) return rc;
  rsp__pg_int(&b, c->id);
  rsp__pg_opt_int(&b, c->counter != RSP_EIM_NO_COUNTER, c->counter);
  rsp__pg_blob(&b, c->txid);
  rsp__pg_blob(&b, c->package);
  rsp__pg_int(&b, c->now);
  rc = rsp__pg_cmd(s, PQ_OP_SENT, &b, &changed);
  if (rc == RSP_OK && changed != 1) rc = RSP_E_STATE;
  if (rc == RSP_OK)
    rc = audit(s, c->now, c->op.eid, c->id, "sent",
               rsp__eim_detail_sent(&c->op, c->txid, c->counter), c->package);
  return rc;
}

/* The device's lock first: two nodes handing out the same device's next counter wait for each
 * other here, and the second reads the counter (and the operation's state) the first left. */
static rsp_err_t send_tx(struct rsp__pg_store *s, void *ctx) {
  struct send_ctx *c = ctx;
  char eim_id[RSP_EIM_ID_MAX + 1];
  int64_t next = 0;
  bool blocked = false;
  rsp_err_t rc = lock_device_of_op(s, c->id, eim_id, sizeof eim_id, &next);
  if (rc == RSP_OK) rc = op_by_id(s, c->id, &c->op);
  if (rc == RSP_OK) rc = rsp__eim_send_precheck(&c->op, c->now, c->counter, c->txid);
  if (rc == RSP_OK) rc = earlier_open(s, &c->op, &blocked);
  if (rc == RSP_OK && blocked)
    rc = rsp__eim_refuse(&c->op, "an earlier operation of the device is open");
  if (rc == RSP_OK) rc = rsp__eim_counter_check(&c->op, c->counter, next);
  if (rc == RSP_OK)
    rc = rsp__eim_package_check(c->op.kind, c->op.eid, eim_id, c->package, c->counter, c->txid);
  if (rc == RSP_OK) rc = send_writes(s, c);
  return rc;
}

static rsp_err_t pg_mark_sent(struct rsp_eim_store *base, int64_t id, struct rsp_slice package,
                              int64_t counter, struct rsp_slice txid, int64_t now) {
  struct send_ctx c = {.id = id, .counter = counter, .now = now, .package = package, .txid = txid};
  rsp_err_t rc;
  rsp_eim_operation_init(&c.op);
  rc = rsp__pg_tx(PG(base), send_tx, &c);
  rsp_eim_operation_free(&c.op);
  return rc;
}

static rsp_err_t resent_tx(struct rsp__pg_store *s, void *ctx) {
  struct op_ctx *c = ctx;
  struct rsp__pg_args a = {0};
  enum rsp_eim_op_state to;
  long changed = 0;
  rsp_err_t rc = op_locked(s, c);
  if (rc == RSP_OK) rc = rsp__eim_allowed(&c->op, RSP_EIM_EV_RESEND, &to);
  /* A signed package goes again only once the card's pending results were read (docs/eim.md). */
  if (rc == RSP_OK && rsp__eim_signed_kind(c->op.kind) && c->op.checked_count < c->op.sent_count)
    rc = rsp__eim_refuse(&c->op, "the card's pending results were not checked since the last send");
  rsp__pg_int(&a, c->id);
  rsp__pg_int(&a, c->now);
  rsp__pg_int(&a, c->op.sent_count);
  if (rc == RSP_OK) rc = rsp__pg_cmd(s, PQ_OP_RESENT, &a, &changed);
  if (rc == RSP_OK && changed != 1) rc = RSP_E_STATE;
  if (rc == RSP_OK)
    rc = audit(s, c->now, c->op.eid, c->id, "resent", rsp__eim_detail_resent(&c->op), NO_DER);
  return rc;
}

static rsp_err_t pg_op_resent(struct rsp_eim_store *base, int64_t id, int64_t now) {
  struct op_ctx c = {.id = id, .now = now};
  return op_tx(PG(base), resent_tx, &c);
}

static rsp_err_t checked_tx(struct rsp__pg_store *s, void *ctx) {
  struct op_ctx *c = ctx;
  struct rsp__pg_args a = {0};
  enum rsp_eim_op_state to;
  long changed = 0;
  rsp_err_t rc = op_locked(s, c);
  if (rc == RSP_OK) rc = rsp__eim_allowed(&c->op, RSP_EIM_EV_RESULTS_CHECKED, &to);
  if (rc == RSP_OK && c->op.sent_count != c->sent_count)
    rc = rsp__eim_refuse(&c->op, "results checked for a send that is not the last one");
  rsp__pg_int(&a, c->id);
  rsp__pg_int(&a, c->sent_count);
  if (rc == RSP_OK) rc = rsp__pg_cmd(s, PQ_OP_CHECKED, &a, &changed);
  if (rc == RSP_OK && changed != 1) rc = RSP_E_STATE;
  if (rc == RSP_OK)
    rc = audit(s, c->now, c->op.eid, c->id, "results_checked",
               rsp__eim_detail_count("sent_count", c->sent_count), NO_DER);
  return rc;
}

static rsp_err_t pg_op_results_checked(struct rsp_eim_store *base, int64_t id, int64_t sent_count,
                                       int64_t now) {
  struct op_ctx c = {.id = id, .now = now, .sent_count = sent_count};
  return op_tx(PG(base), checked_tx, &c);
}

/* ---- results --------------------------------------------------------------------------------- */

struct result_ctx {
  const struct rsp_eim_result *r;
  bool rolled_back;
  int64_t now;
  enum rsp_eim_record *outcome;
  int64_t *op_id;
  struct rsp_eim_operation op;
};

/* The lock of the result's device: by its EID when given, else the device of the operation
 * with this eimTransactionId (none: nothing to lock, the result is unknown). */
static rsp_err_t result_lock(struct rsp__pg_store *s, const struct rsp_eim_result *r) {
  struct rsp__pg_args a = {0};
  PGresult *res;
  rsp_err_t rc;
  if (r->eid) {
    rc = lock_device(s, r->eid, NULL, 0, NULL);
  } else {
    rsp__pg_blob(&a, r->eim_transaction_id);
    rc = rsp__pg_row(s, PQ_DEVICE_LOCK_BY_TXID, &a, &res);
    PQclear(res);
  }
  return rc == RSP_E_NOT_FOUND ? RSP_OK : rc;
}

static rsp_err_t result_write(struct rsp__pg_store *s, const struct result_ctx *c) {
  const struct rsp_eim_result *r = c->r;
  enum rsp_eim_op_event event =
      r->state == RSP_EIM_OP_DONE ? RSP_EIM_EV_RESULT_OK : RSP_EIM_EV_RESULT_ERROR;
  struct rsp__pg_args a = {0};
  enum rsp_eim_op_state to;
  long changed = 0;
  json_t *d;
  rsp_err_t rc = rsp__eim_allowed(&c->op, event, &to);
  if (rc != RSP_OK) return rc;
  rsp__pg_int(&a, c->op.id);
  rsp__pg_str(&a, rsp_eim_op_state_name(to));
  rsp__pg_blob(&a, r->der);
  rsp__pg_opt_int(&a, r->seq_number != RSP_EIM_NO_SEQ, r->seq_number);
  rsp__pg_text(&a, r->summary);
  rsp__pg_int(&a, c->now);
  rsp__pg_text(&a, r->error);
  rsp__pg_bool(&a, c->rolled_back);
  rc = rsp__pg_cmd(s, PQ_OP_RESULT, &a, &changed);
  if (rc == RSP_OK && changed != 1) rc = RSP_E_STATE;
  if (rc != RSP_OK) return rc;
  d = rsp__eim_detail_result(r, NULL);
  if (d && c->rolled_back) json_object_set_new(d, "rolled_back", json_true());
  return audit(s, c->now, c->op.eid, c->op.id, "result", d, r->der);
}

static rsp_err_t result_tx(struct rsp__pg_store *s, void *ctx) {
  struct result_ctx *c = ctx;
  const struct rsp_eim_result *r = c->r;
  const char *why = "no operation with this eimTransactionId or counter";
  rsp_err_t rc = result_lock(s, r);
  *c->outcome = 0;
  *c->op_id = 0;
  if (rc == RSP_OK)
    rc = r->eim_transaction_id.p ? op_by_txid(s, r->eim_transaction_id, &c->op)
                                 : op_by_counter(s, r->eid, r->counter, &c->op);
  if (rc == RSP_OK && !rsp__eim_result_fits(&c->op, r, &why)) rc = RSP_E_NOT_FOUND;
  if (rc == RSP_E_NOT_FOUND) {
    *c->outcome = RSP_EIM_RECORD_UNKNOWN;
    return audit(s, c->now, r->eid, 0, "result_unknown", rsp__eim_detail_result(r, why), r->der);
  }
  if (rc != RSP_OK) return rc;
  *c->op_id = c->op.id;
  if (c->op.state == RSP_EIM_OP_SENT) {
    *c->outcome = RSP_EIM_RECORD_NEW;
    return result_write(s, c);
  }
  if (c->op.result.len && rsp__eim_same_result(&c->op, r)) {
    *c->outcome = RSP_EIM_RECORD_DUPLICATE; /* nothing to write: the first copy is committed */
    return RSP_OK;
  }
  *c->outcome = RSP_EIM_RECORD_CONFLICT;
  rsp_log(RSP_LOG_WARN, RSP__EIM_COMP, "store: operation %lld (%s) got a different result",
          (long long)c->op.id, rsp_eim_op_state_name(c->op.state));
  return audit(s, c->now, c->op.eid, c->op.id, "result_conflict",
               rsp__eim_detail_result(r, "the operation already has another result"), r->der);
}

static rsp_err_t pg_record_result(struct rsp_eim_store *base, const struct rsp_eim_result *r,
                                  bool rolled_back, int64_t now, enum rsp_eim_record *outcome,
                                  int64_t *op_id) {
  struct result_ctx c = {r, rolled_back, now, outcome, op_id, {0}};
  rsp_err_t rc;
  rsp_eim_operation_init(&c.op);
  rc = rsp__pg_tx(PG(base), result_tx, &c);
  rsp_eim_operation_free(&c.op);
  if (rc != RSP_OK) {
    *outcome = 0;
    *op_id = 0;
  }
  return rc;
}

/* ---- notifications --------------------------------------------------------------------------- */

struct notif_ctx {
  const struct rsp_eim_notification_new *n;
  const char *eid;
  int64_t seq, now;
  bool inserted;
};

static rsp_err_t notif_tx(struct rsp__pg_store *s, void *ctx) {
  struct notif_ctx *c = ctx;
  const struct rsp_eim_notification_new *n = c->n;
  struct rsp__pg_args a = {0};
  long changed = 0;
  rsp_err_t rc = lock_device(s, n->eid, NULL, 0, NULL);
  c->inserted = false;
  rsp__pg_str(&a, n->eid);
  rsp__pg_int(&a, n->seq_number);
  rsp__pg_str(&a, rsp_eim_notification_kind_name(n->kind));
  rsp__pg_text(&a, n->iccid);
  rsp__pg_blob(&a, n->der);
  rsp__pg_int(&a, c->now);
  rsp__pg_text(&a, n->forward_address);
  if (rc == RSP_OK) rc = rsp__pg_cmd(s, PQ_NOTIF_INSERT, &a, &changed);
  c->inserted = rc == RSP_OK && changed == 1;
  if (c->inserted)
    rc = audit(s, c->now, n->eid, 0, "notification", rsp__eim_detail_notification(n), n->der);
  return rc;
}

static rsp_err_t pg_record_notification(struct rsp_eim_store *base,
                                        const struct rsp_eim_notification_new *n, int64_t now,
                                        enum rsp_eim_record *outcome) {
  struct notif_ctx c = {.n = n, .now = now};
  rsp_err_t rc = rsp__pg_tx(PG(base), notif_tx, &c);
  *outcome = rc != RSP_OK ? 0 : c.inserted ? RSP_EIM_RECORD_NEW : RSP_EIM_RECORD_DUPLICATE;
  return rc;
}

static rsp_err_t pg_notification_next(struct rsp_eim_store *base, struct rsp_eim_notification *n) {
  char kind[32];
  PGresult *r;
  rsp_err_t rc = rsp__pg_row(PG(base), PQ_NOTIF_NEXT, NULL, &r);
  if (rc != RSP_OK) return rc;
  rsp__pg_col_text(r, 0, 0, n->eid, sizeof n->eid);
  n->seq_number = rsp__pg_col_int(r, 0, 1, 0);
  rsp__pg_col_text(r, 0, 2, kind, sizeof kind);
  n->kind = rsp__eim_notification_kind_parse(kind);
  rsp__pg_col_text(r, 0, 3, n->iccid, sizeof n->iccid);
  rc = rsp__pg_col_buf(r, 0, 4, &n->der);
  n->received = rsp__pg_col_int(r, 0, 5, 0);
  n->forwarded_at = rsp__pg_col_int(r, 0, 6, 0);
  rsp__pg_col_text(r, 0, 7, n->forward_address, sizeof n->forward_address);
  PQclear(r);
  return rc;
}

/* Idempotent: forwarding an already forwarded notification again changes nothing. */
static rsp_err_t forwarded_tx(struct rsp__pg_store *s, void *ctx) {
  const struct notif_ctx *c = ctx;
  struct rsp__pg_args a = {0};
  long changed = 0;
  PGresult *r;
  rsp_err_t rc;
  rsp__pg_str(&a, c->eid);
  rsp__pg_int(&a, c->seq);
  rsp__pg_int(&a, c->now);
  rc = rsp__pg_cmd(s, PQ_NOTIF_FORWARDED, &a, &changed);
  if (rc == RSP_OK && changed == 0) {
    a.n = 2;
    rc = rsp__pg_row(s, PQ_NOTIF_EXISTS, &a, &r);
    PQclear(r);
  } else if (rc == RSP_OK) {
    rc = audit(s, c->now, c->eid, 0, "notification_forwarded",
               rsp__eim_detail_count("seq_number", c->seq), NO_DER);
  }
  return rc;
}

static rsp_err_t pg_notification_forwarded(struct rsp_eim_store *base, const char *eid, int64_t seq,
                                           int64_t now) {
  struct notif_ctx c = {.eid = eid, .seq = seq, .now = now};
  return rsp__pg_tx(PG(base), forwarded_tx, &c);
}

/* ---- audit ----------------------------------------------------------------------------------- */

static rsp_err_t audit_read(const PGresult *r, int i, struct rsp_eim_audit_entry *e) {
  rsp_err_t rc;
  memset(e, 0, sizeof *e);
  rsp_buf_init(&e->der, RSP_EIM_RESULT_MAX);
  e->id = rsp__pg_col_int(r, i, 0, 0);
  e->time = rsp__pg_col_int(r, i, 1, 0);
  rsp__pg_col_text(r, i, 2, e->eid, sizeof e->eid);
  e->operation_id = rsp__pg_col_int(r, i, 3, 0);
  rsp__pg_col_text(r, i, 4, e->event, sizeof e->event);
  rc = rsp__pg_col_strdup(r, i, 5, &e->detail);
  if (rc == RSP_OK) rc = rsp__pg_col_buf(r, i, 6, &e->der);
  return rc;
}

static rsp_err_t pg_audit_list(struct rsp_eim_store *base, const struct rsp_eim_audit_query *q,
                               struct rsp_eim_audit_list *out) {
  struct rsp__pg_args a = {0};
  PGresult *r;
  rsp_err_t rc;
  rsp__pg_int(&a, q->after_id);
  rsp__pg_int(&a, (int64_t)q->limit);
  rsp__pg_str(&a, q->eid);
  rsp__pg_opt_int(&a, q->operation_id > 0, q->operation_id);
  if ((rc = rsp__pg_exec(PG(base), PQ_AUDIT_LIST, &a, &r)) != RSP_OK) return rc;
  if (!(out->v = rsp_calloc(q->limit, sizeof *out->v))) rc = RSP_E_NOMEM;
  for (int i = 0; rc == RSP_OK && i < PQntuples(r) && out->n < q->limit; i++)
    rc = audit_read(r, i, &out->v[out->n++]);
  PQclear(r);
  if (rc != RSP_OK) rsp_eim_audit_list_free(out);
  return rc;
}

struct audit_ctx {
  const char *eid, *event, *detail;
  int64_t op_id, now;
  struct rsp_slice der;
};

/* The detail text was checked to be a JSON object by store.c. */
static rsp_err_t audit_tx(struct rsp__pg_store *s, void *ctx) {
  const struct audit_ctx *c = ctx;
  json_t *j = c->detail ? json_loads(c->detail, JSON_REJECT_DUPLICATES, NULL) : json_object();
  if (!j) return RSP_E_NOMEM;
  return audit(s, c->now, c->eid, c->op_id, c->event, j, c->der);
}

static rsp_err_t pg_audit_add(struct rsp_eim_store *base, const char *eid, int64_t op_id,
                              const char *event, const char *detail, struct rsp_slice der,
                              int64_t now) {
  struct audit_ctx c = {eid, event, detail, op_id, now, der};
  return rsp__pg_tx(PG(base), audit_tx, &c);
}

/* ---- counts ---------------------------------------------------------------------------------- */

static rsp_err_t pg_stats(struct rsp_eim_store *base, struct rsp_eim_stats *out) {
  char kind[32], state[32];
  PGresult *r;
  rsp_err_t rc = rsp__pg_exec(PG(base), PQ_STATS, NULL, &r);
  for (int i = 0; rc == RSP_OK && i < PQntuples(r); i++) {
    int64_t part = rsp__pg_col_int(r, i, 0, 0), n = rsp__pg_col_int(r, i, 3, 0);
    if (part == 0) {
      out->devices = n;
    } else if (part == 2) {
      out->rolled_back = n;
    } else {
      rsp__pg_col_text(r, i, 1, kind, sizeof kind);
      rsp__pg_col_text(r, i, 2, state, sizeof state);
      enum rsp_eim_op_kind k = rsp_eim_op_kind_parse(kind);
      enum rsp_eim_op_state v = rsp_eim_op_state_parse(state);
      if (!k || !v) { /* the CHECKs keep other names out */
        rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP, "store: unknown kind or state %s/%s", kind, state);
        rc = RSP_E_IO;
      } else {
        out->ops[k][v] = n;
      }
    }
  }
  PQclear(r);
  return rc;
}

/* ---- the table ------------------------------------------------------------------------------- */

const struct rsp_eim_store_ops rsp__pg_ops = {
    .name = "postgresql",
    .close = rsp__pg_close,
    .device_register = pg_device_register,
    .device_get = pg_device_get,
    .device_list = pg_device_list,
    .device_update_euicc_data = pg_device_update_euicc_data,
    .device_touch = pg_device_touch,
    .profiles_set = pg_profiles_set,
    .profiles_list = pg_profiles_list,
    .op_enqueue = pg_op_enqueue,
    .op_get = pg_op_get,
    .op_get_by_txid = pg_op_get_by_txid,
    .op_list = pg_op_list,
    .op_close = pg_op_close,
    .next_for_delivery = pg_next_for_delivery,
    .mark_sent = pg_mark_sent,
    .op_resent = pg_op_resent,
    .op_results_checked = pg_op_results_checked,
    .record_result = pg_record_result,
    .record_notification = pg_record_notification,
    .notification_next = pg_notification_next,
    .notification_forwarded = pg_notification_forwarded,
    .audit_list = pg_audit_list,
    .audit_add = pg_audit_add,
    .stats = pg_stats,
    .device_poll = pg_device_poll,
    .flush = rsp__pg_flush,
    .set_touch_interval = rsp__pg_set_touch_interval,
    .touches_held = rsp__pg_touches_held,
};
