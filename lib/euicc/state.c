/* The card's durable state: JSON serialisation (one document per card) and the SQLite store.
 *
 * A real eUICC commits each command atomically. Here every state-changing ES10 command ends with
 * one write of the whole state document: a single-row upsert in SQLite (WAL, synchronous=FULL),
 * so a crash at any point leaves either the old or the new document, never a mix. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "euicc_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"

#define STATE_VERSION 1

struct rsp_euicc_store {
  sqlite3 *db;
};

/* ---- JSON helpers ---------------------------------------------------------------------------- */

static json_t *hex_json(const uint8_t *p, size_t n) {
  char *s = rsp_malloc(2 * n + 1);
  if (!s) return NULL;
  rsp_hex_encode(p, n, s, 2 * n + 1);
  json_t *j = json_string(s);
  rsp_free(s);
  return j;
}

static bool json_hex_fixed(json_t *j, uint8_t *out, size_t n) {
  size_t len;
  const char *s = json_string_value(j);
  return s && strlen(s) == 2 * n && rsp_hex_decode(s, out, n, &len) == RSP_OK && len == n;
}

static bool json_hex_buf(json_t *j, struct rsp_buf *out) {
  const char *s = json_string_value(j);
  size_t n, len;
  if (!s) return false;
  n = strlen(s) / 2;
  rsp_buf_reset(out);
  if (n == 0) return true;
  if (rsp_buf_reserve(out, n) != RSP_OK) return false;
  if (rsp_hex_decode(s, out->data, n, &len) != RSP_OK) return false;
  out->len = len;
  return true;
}

static void json_str_copy(json_t *j, char *out, size_t size) {
  const char *s = json_string_value(j);
  snprintf(out, size, "%s", s ? s : "");
}

/* ---- state lifecycle ------------------------------------------------------------------------- */

void rsp__euicc_state_init(struct euicc_state *st) {
  memset(st, 0, sizeof *st);
  st->next_seq = 1;
  st->next_token = 1;
  st->next_aid = 0x1000;
  for (size_t i = 0; i < EUICC_MAX_PROFILES; i++) rsp_buf_init(&st->profiles[i].metadata, 65536);
  for (size_t i = 0; i < EUICC_MAX_NOTIFICATIONS; i++)
    rsp_buf_init(&st->notifications[i].raw, EUICC_MAX_COMMAND);
  for (size_t i = 0; i < EUICC_MAX_EIMS; i++) rsp_buf_init(&st->eims[i].config, 8192);
  rsp_buf_init(&st->immediate_smdp_oid, 64);
}

void rsp__euicc_state_free(struct euicc_state *st) {
  for (size_t i = 0; i < EUICC_MAX_PROFILES; i++) rsp_buf_free(&st->profiles[i].metadata);
  for (size_t i = 0; i < EUICC_MAX_NOTIFICATIONS; i++) rsp_buf_free(&st->notifications[i].raw);
  for (size_t i = 0; i < EUICC_MAX_EIMS; i++) rsp_buf_free(&st->eims[i].config);
  rsp_buf_free(&st->immediate_smdp_oid);
}

/* ---- serialise ---------------------------------------------------------------------------------
 */

static json_t *profile_json(const struct euicc_profile *p) {
  return json_pack("{s:o, s:o, s:i, s:b, s:s, s:o, s:o, s:I}", "iccid",
                   hex_json(p->iccid, RSP_ICCID_LEN), "aid", hex_json(p->aid, sizeof p->aid),
                   "state", p->state, "fallback", p->fallback_attribute, "nickname", p->nickname,
                   "metadata", hex_json(p->metadata.data, p->metadata.len), "upp_hash",
                   hex_json(p->upp_hash, 32), "upp_len", (json_int_t)p->upp_len);
}

static json_t *notification_json(const struct euicc_notification *n) {
  return json_pack("{s:I, s:b, s:i, s:s, s:o, s:s, s:o}", "seq", (json_int_t)n->seq, "epr",
                   n->is_epr, "event", (int)n->event, "address", n->address, "iccid",
                   n->has_iccid ? hex_json(n->iccid, RSP_ICCID_LEN) : json_null(), "eim_id",
                   n->eim_id, "raw", hex_json(n->raw.data, n->raw.len));
}

static json_t *eim_json(const struct euicc_eim *e) {
  return json_pack("{s:s, s:o, s:I, s:o}", "eim_id", e->eim_id, "config",
                   hex_json(e->config.data, e->config.len), "counter", (json_int_t)e->counter,
                   "token", e->has_token ? json_integer(e->token) : json_null());
}

static json_t *lists_json(const struct euicc_state *st) {
  json_t *profiles = json_array(), *notifs = json_array(), *eims = json_array();
  for (size_t i = 0; i < st->n_profiles; i++)
    json_array_append_new(profiles, profile_json(&st->profiles[i]));
  for (size_t i = 0; i < st->n_notifications; i++)
    json_array_append_new(notifs, notification_json(&st->notifications[i]));
  for (size_t i = 0; i < st->n_eims; i++) json_array_append_new(eims, eim_json(&st->eims[i]));
  return json_pack("{s:o, s:o, s:o}", "profiles", profiles, "notifications", notifs, "eims", eims);
}

rsp_err_t rsp__euicc_state_to_json(const struct euicc_state *st, char **out) {
  json_t *j = lists_json(st);
  if (!j) return RSP_E_NOMEM;
  json_t *opt = json_pack(
      "{s:i, s:I, s:I, s:I, s:s, s:s, s:{s:b, s:o, s:s}, s:{s:b, s:o, s:o}, s:{s:b, s:o}, s:b}",
      "version", STATE_VERSION, "next_seq", (json_int_t)st->next_seq, "next_token",
      (json_int_t)st->next_token, "next_aid", (json_int_t)st->next_aid, "default_dp",
      st->default_dp, "root_ds", st->root_ds, "immediate", "enabled", st->immediate_enable, "oid",
      hex_json(st->immediate_smdp_oid.data, st->immediate_smdp_oid.len), "address",
      st->immediate_smdp_address, "rollback", "granted", st->rollback_granted, "from",
      st->rollback_has_from ? hex_json(st->rollback_from, RSP_ICCID_LEN) : json_null(), "to",
      hex_json(st->rollback_to, RSP_ICCID_LEN), "fallback", "active", st->fallback_active,
      "return_to",
      st->fallback_has_return ? hex_json(st->fallback_return_to, RSP_ICCID_LEN) : json_null(),
      "emergency", st->emergency_active);
  if (!opt || json_object_update(j, opt) != 0) {
    json_decref(opt);
    json_decref(j);
    return RSP_E_NOMEM;
  }
  json_decref(opt);
  char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  if (!text) return RSP_E_NOMEM;
  *out = rsp_strdup(text);
  free(text);
  return *out ? RSP_OK : RSP_E_NOMEM;
}

/* ---- parse ------------------------------------------------------------------------------------
 */

static bool profile_from(json_t *j, struct euicc_profile *p) {
  json_t *state = json_object_get(j, "state");
  json_t *len = json_object_get(j, "upp_len");
  if (!json_hex_fixed(json_object_get(j, "iccid"), p->iccid, RSP_ICCID_LEN) ||
      !json_hex_fixed(json_object_get(j, "aid"), p->aid, sizeof p->aid) ||
      !json_is_integer(state) || !json_hex_buf(json_object_get(j, "metadata"), &p->metadata) ||
      !json_hex_fixed(json_object_get(j, "upp_hash"), p->upp_hash, 32) || !json_is_integer(len))
    return false;
  p->state = (int)json_integer_value(state);
  p->upp_len = (uint64_t)json_integer_value(len);
  p->fallback_attribute = json_is_true(json_object_get(j, "fallback"));
  json_str_copy(json_object_get(j, "nickname"), p->nickname, sizeof p->nickname);
  return true;
}

static bool notification_from(json_t *j, struct euicc_notification *n) {
  json_t *seq = json_object_get(j, "seq"), *iccid = json_object_get(j, "iccid");
  if (!json_is_integer(seq) || !json_hex_buf(json_object_get(j, "raw"), &n->raw)) return false;
  n->seq = json_integer_value(seq);
  n->is_epr = json_is_true(json_object_get(j, "epr"));
  n->event = (uint32_t)json_integer_value(json_object_get(j, "event"));
  json_str_copy(json_object_get(j, "address"), n->address, sizeof n->address);
  json_str_copy(json_object_get(j, "eim_id"), n->eim_id, sizeof n->eim_id);
  n->has_iccid = !json_is_null(iccid) && iccid;
  return !n->has_iccid || json_hex_fixed(iccid, n->iccid, RSP_ICCID_LEN);
}

static bool eim_from(json_t *j, struct euicc_eim *e) {
  json_t *counter = json_object_get(j, "counter"), *token = json_object_get(j, "token");
  if (!json_is_integer(counter) || !json_hex_buf(json_object_get(j, "config"), &e->config))
    return false;
  json_str_copy(json_object_get(j, "eim_id"), e->eim_id, sizeof e->eim_id);
  e->counter = json_integer_value(counter);
  e->has_token = json_is_integer(token);
  e->token = e->has_token ? json_integer_value(token) : 0;
  return true;
}

static bool lists_from(json_t *j, struct euicc_state *st) {
  json_t *a, *v;
  size_t i;
  a = json_object_get(j, "profiles");
  if (!json_is_array(a) || json_array_size(a) > EUICC_MAX_PROFILES) return false;
  json_array_foreach(a, i, v) if (!profile_from(v, &st->profiles[i])) return false;
  st->n_profiles = json_array_size(a);
  a = json_object_get(j, "notifications");
  if (!json_is_array(a) || json_array_size(a) > EUICC_MAX_NOTIFICATIONS) return false;
  json_array_foreach(a, i, v) if (!notification_from(v, &st->notifications[i])) return false;
  st->n_notifications = json_array_size(a);
  a = json_object_get(j, "eims");
  if (!json_is_array(a) || json_array_size(a) > EUICC_MAX_EIMS) return false;
  json_array_foreach(a, i, v) if (!eim_from(v, &st->eims[i])) return false;
  st->n_eims = json_array_size(a);
  return true;
}

static bool options_from(json_t *j, struct euicc_state *st) {
  json_t *imm = json_object_get(j, "immediate"), *rb = json_object_get(j, "rollback");
  json_t *fb = json_object_get(j, "fallback");
  st->next_seq = json_integer_value(json_object_get(j, "next_seq"));
  st->next_token = json_integer_value(json_object_get(j, "next_token"));
  st->next_aid = (uint32_t)json_integer_value(json_object_get(j, "next_aid"));
  json_str_copy(json_object_get(j, "default_dp"), st->default_dp, sizeof st->default_dp);
  json_str_copy(json_object_get(j, "root_ds"), st->root_ds, sizeof st->root_ds);
  st->immediate_enable = json_is_true(json_object_get(imm, "enabled"));
  if (!json_hex_buf(json_object_get(imm, "oid"), &st->immediate_smdp_oid)) return false;
  json_str_copy(json_object_get(imm, "address"), st->immediate_smdp_address,
                sizeof st->immediate_smdp_address);
  st->rollback_granted = json_is_true(json_object_get(rb, "granted"));
  st->rollback_has_from = json_is_string(json_object_get(rb, "from"));
  if (st->rollback_has_from &&
      !json_hex_fixed(json_object_get(rb, "from"), st->rollback_from, RSP_ICCID_LEN))
    return false;
  if (!json_hex_fixed(json_object_get(rb, "to"), st->rollback_to, RSP_ICCID_LEN)) return false;
  st->fallback_active = json_is_true(json_object_get(fb, "active"));
  st->fallback_has_return = json_is_string(json_object_get(fb, "return_to"));
  if (st->fallback_has_return &&
      !json_hex_fixed(json_object_get(fb, "return_to"), st->fallback_return_to, RSP_ICCID_LEN))
    return false;
  st->emergency_active = json_is_true(json_object_get(j, "emergency"));
  return st->next_seq > 0 && st->next_token > 0;
}

rsp_err_t rsp__euicc_state_from_json(const char *text, struct euicc_state *st) {
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  bool ok = j && json_integer_value(json_object_get(j, "version")) == STATE_VERSION &&
            lists_from(j, st) && options_from(j, st);
  json_decref(j);
  if (!ok) rsp_log(RSP_LOG_ERROR, "euicc", "stored card state is not readable");
  return ok ? RSP_OK : RSP_E_IO;
}

/* ---- SQLite store ------------------------------------------------------------------------------
 */

rsp_err_t rsp_euicc_store_open(const char *path, struct rsp_euicc_store **out) {
  struct rsp_euicc_store *s = rsp_calloc(1, sizeof *s);
  char *err = NULL;
  if (!s) return RSP_E_NOMEM;
  if (sqlite3_open(path, &s->db) != SQLITE_OK ||
      sqlite3_exec(s->db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE IF NOT EXISTS card (eid TEXT PRIMARY KEY, generation INTEGER "
                   "NOT NULL, state TEXT NOT NULL)",
                   NULL, NULL, &err) != SQLITE_OK) {
    rsp_log(RSP_LOG_ERROR, "euicc", "cannot open card store %s: %s", path,
            err ? err : sqlite3_errmsg(s->db));
    sqlite3_free(err);
    rsp_euicc_store_close(s);
    return RSP_E_IO;
  }
  sqlite3_busy_timeout(s->db, 5000);
  *out = s;
  return RSP_OK;
}

void rsp_euicc_store_close(struct rsp_euicc_store *s) {
  if (!s) return;
  sqlite3_close(s->db);
  rsp_free(s);
}

rsp_err_t rsp__euicc_store_load(struct rsp_euicc_store *s, const char *eid, char **json) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = RSP_E_NOT_FOUND;
  *json = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT state FROM card WHERE eid = ?", -1, &st, NULL) != SQLITE_OK)
    return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    *json = rsp_strdup((const char *)sqlite3_column_text(st, 0));
    rc = *json ? RSP_OK : RSP_E_NOMEM;
  } else if (r != SQLITE_DONE) {
    rc = RSP_E_IO;
  }
  sqlite3_finalize(st);
  return rc;
}

rsp_err_t rsp__euicc_store_save(struct rsp_euicc_store *s, const char *eid, const char *json) {
  sqlite3_stmt *st = NULL;
  rsp_err_t rc = RSP_E_IO;
  if (sqlite3_prepare_v2(s->db,
                         "INSERT INTO card (eid, generation, state) VALUES (?, 1, ?) "
                         "ON CONFLICT(eid) DO UPDATE SET generation = generation + 1, "
                         "state = excluded.state",
                         -1, &st, NULL) != SQLITE_OK)
    return RSP_E_IO;
  sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_DONE)
    rc = RSP_OK;
  else
    rsp_log(RSP_LOG_ERROR, "euicc", "card %s: state not saved: %s", eid, sqlite3_errmsg(s->db));
  sqlite3_finalize(st);
  return rc;
}
