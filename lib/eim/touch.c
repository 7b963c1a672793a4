/* The polls a store handle recorded but has not written yet (store_internal.h, docs/eim.md
 * "Polls: last_seen and rPLMN"): the latest (last_seen, rPLMN) per EID, in a dense array in the
 * order the devices were first recorded (so the oldest come first and are written first) with an
 * open-addressing index over it, so that recording a poll is a hash lookup and writing a batch a
 * walk of the array's front. Every backend can keep its pending polls here. */
#include <string.h>
#include <time.h>

#include "rsp/core/alloc.h"
#include "store_internal.h"

#define FIRST_SIZE 64u

void rsp__eim_touches_init(struct rsp__eim_touches *t) { memset(t, 0, sizeof *t); }

void rsp__eim_touches_free(struct rsp__eim_touches *t) {
  if (!t) return;
  rsp_free(t->v);
  rsp_free(t->slots);
  rsp__eim_touches_init(t);
}

int64_t rsp__eim_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a over the 32 digits. */
static uint32_t eid_hash(const char *eid) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < RSP_EID_DIGITS && eid[i]; i++) h = (h ^ (uint8_t)eid[i]) * 16777619u;
  return h;
}

/* The slot of `eid`: the one that holds it, or the empty one where it would go. */
static size_t slot_of(const struct rsp__eim_touches *t, const char *eid) {
  size_t mask = t->n_slots - 1, i = eid_hash(eid) & mask;
  while (t->slots[i] && strcmp(t->v[t->slots[i] - 1].eid, eid) != 0) i = (i + 1) & mask;
  return i;
}

/* Doubles the array and rebuilds the index (twice the array's size, so at most half full). */
static rsp_err_t grow(struct rsp__eim_touches *t) {
  size_t size = t->size ? t->size * 2 : FIRST_SIZE;
  struct rsp__eim_touch *v;
  uint32_t *slots;
  if (size > RSP_EIM_TOUCH_PENDING_MAX) size = RSP_EIM_TOUCH_PENDING_MAX;
  if (size <= t->size) return RSP_E_BUF_CAP;
  if (!(slots = rsp_calloc(2 * size, sizeof *slots))) return RSP_E_NOMEM;
  if (!(v = rsp_realloc(t->v, size * sizeof *v))) {
    rsp_free(slots);
    return RSP_E_NOMEM;
  }
  rsp_free(t->slots);
  t->v = v;
  t->size = size;
  t->slots = slots;
  t->n_slots = 2 * size;
  for (size_t k = 0; k < t->n; k++) {
    size_t i = slot_of(t, t->v[k].eid);
    t->slots[i] = (uint32_t)k + 1;
    t->v[k].slot = (uint32_t)i;
  }
  return RSP_OK;
}

const struct rsp__eim_touch *rsp__eim_touches_find(const struct rsp__eim_touches *t,
                                                   const char *eid) {
  if (!t->n) return NULL;
  size_t i = slot_of(t, eid);
  return t->slots[i] ? &t->v[t->slots[i] - 1] : NULL;
}

/* The same rule as the SQL that writes a batch (store_sqlite.c Q_DEVICE_TOUCH): last_seen never
 * moves backwards, and an rPLMN counts only from a poll at least as recent as the latest one. */
void rsp__eim_touch_merge(int64_t *last_seen, bool *has_rplmn, uint8_t rplmn[RSP_EIM_RPLMN_LEN],
                          int64_t when, const uint8_t *new_rplmn) {
  if (new_rplmn && when >= *last_seen) {
    memcpy(rplmn, new_rplmn, RSP_EIM_RPLMN_LEN);
    *has_rplmn = true;
  }
  if (when > *last_seen) *last_seen = when;
}

rsp_err_t rsp__eim_touches_add(struct rsp__eim_touches *t, const char *eid, int64_t now,
                               const uint8_t *rplmn) {
  struct rsp__eim_touch *e;
  size_t i;
  rsp_err_t rc;
  if (t->n && (e = (struct rsp__eim_touch *)rsp__eim_touches_find(t, eid)) != NULL) {
    rsp__eim_touch_merge(&e->last_seen, &e->has_rplmn, e->rplmn, now, rplmn);
    return RSP_OK;
  }
  if (t->n == t->size && (rc = grow(t)) != RSP_OK) return rc;
  i = slot_of(t, eid);
  e = &t->v[t->n];
  memset(e, 0, sizeof *e);
  memcpy(e->eid, eid, RSP_EID_DIGITS);
  e->since_ms = rsp__eim_mono_ms();
  e->last_seen = now;
  e->has_rplmn = rplmn != NULL;
  if (rplmn) memcpy(e->rplmn, rplmn, RSP_EIM_RPLMN_LEN);
  e->slot = (uint32_t)i;
  t->slots[i] = (uint32_t)++t->n;
  return RSP_OK;
}

/* Empties the slots in use only (the index may be far larger than the batch), then indexes the
 * n - k entries left, moved to the front. */
void rsp__eim_touches_drop(struct rsp__eim_touches *t, size_t k) {
  for (size_t i = 0; i < t->n; i++) t->slots[t->v[i].slot] = 0;
  if (k >= t->n) {
    t->n = 0;
    return;
  }
  memmove(t->v, t->v + k, (t->n - k) * sizeof *t->v);
  t->n -= k;
  for (size_t i = 0; i < t->n; i++) {
    size_t s = slot_of(t, t->v[i].eid);
    t->slots[s] = (uint32_t)i + 1;
    t->v[i].slot = (uint32_t)s;
  }
}

bool rsp__eim_touches_due(const struct rsp__eim_touches *t, unsigned interval_ms) {
  return t->n && rsp__eim_mono_ms() - t->v[0].since_ms >= (int64_t)interval_ms;
}

void rsp__eim_touches_show(const struct rsp__eim_touches *t, const char *eid, int64_t *last_seen,
                           bool *has_rplmn, uint8_t rplmn[RSP_EIM_RPLMN_LEN]) {
  const struct rsp__eim_touch *e = rsp__eim_touches_find(t, eid);
  if (e)
    rsp__eim_touch_merge(last_seen, has_rplmn, rplmn, e->last_seen, e->has_rplmn ? e->rplmn : NULL);
}

rsp_err_t rsp__eim_touches_flush(struct rsp__eim_touches *t, unsigned interval_ms, bool due_only,
                                 rsp__eim_touch_batch_fn write_batch, void *backend) {
  rsp_err_t rc = RSP_OK;
  while (rc == RSP_OK && t->n && (!due_only || rsp__eim_touches_due(t, interval_ms)))
    rc = write_batch(backend);
  return rc;
}

/* A busy handle drains a large backlog a batch per poll instead of stalling one poll for all of
 * it. */
rsp_err_t rsp__eim_touches_record(struct rsp__eim_touches *t, unsigned interval_ms, const char *eid,
                                  int64_t now, const uint8_t *rplmn,
                                  rsp__eim_touch_batch_fn write_batch, void *backend) {
  rsp_err_t rc = rsp__eim_touches_add(t, eid, now, rplmn);
  if (rc == RSP_E_BUF_CAP || rc == RSP_E_NOMEM) {
    if ((rc = write_batch(backend)) == RSP_OK) rc = rsp__eim_touches_add(t, eid, now, rplmn);
  }
  if (rc != RSP_OK) return rc;
  if (interval_ms == 0) return rsp__eim_touches_flush(t, 0, false, write_batch, backend);
  if (rsp__eim_touches_due(t, interval_ms) && (rc = write_batch(backend)) != RSP_OK)
    rsp_log(RSP_LOG_WARN, RSP__EIM_COMP, "store: polls of %zu devices not written yet: %s", t->n,
            rsp_strerror(rc));
  return RSP_OK;
}
