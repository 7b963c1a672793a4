/* Structural equality of two message values, driven by the same descriptors as the codec. */
#include <string.h>

#include "msg_internal.h"

static bool equal_constructed(const struct rsp_msg_type *t, const void *a, const void *b);

static bool slice_eq(const struct rsp_slice *a, const struct rsp_slice *b) {
  if (!a->p || !b->p) return !a->p && !b->p;
  return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static bool field_eq(const struct rsp_msg_field *f, const void *a, const void *b, bool item) {
  bool pa = item || rsp__msg_present(f, a), pb = item || rsp__msg_present(f, b);
  if (pa != pb) return false;
  if (!pa) return true;
  switch (f->kind) {
  case RSP_MSG_INT:
  case RSP_MSG_ENUM:
    if (!item && (f->flags & (RSP_MSG_F_OPTIONAL | RSP_MSG_F_DEFAULT)))
      return ((const struct rsp_msg_int *)a)->v == ((const struct rsp_msg_int *)b)->v;
    return *(const int64_t *)a == *(const int64_t *)b;
  case RSP_MSG_BOOL:
    if (!item && (f->flags & (RSP_MSG_F_OPTIONAL | RSP_MSG_F_DEFAULT)))
      return ((const struct rsp_msg_bool *)a)->v == ((const struct rsp_msg_bool *)b)->v;
    return *(const bool *)a == *(const bool *)b;
  case RSP_MSG_NULL:
    return true;
  case RSP_MSG_SEQ:
  case RSP_MSG_SEQOF:
  case RSP_MSG_CHOICE:
    if (item) return equal_constructed(f->type, a, b);
    return equal_constructed(f->type, *(const void *const *)a, *(const void *const *)b);
  default:
    return slice_eq(a, b);
  }
}

static bool equal_constructed(const struct rsp_msg_type *t, const void *a, const void *b) {
  const uint8_t *oa = a, *ob = b;
  if (t->kind == RSP_MSG_CHOICE) {
    const struct rsp_msg_choice *ca = a, *cb = b;
    if (ca->which != cb->which) return false;
    if (ca->which == RSP_MSG_ALT_UNKNOWN) return slice_eq(&ca->raw, &cb->raw);
    if (ca->which < 1 || ca->which > t->nfields) return false;
    const struct rsp_msg_field *f = &t->fields[ca->which - 1];
    return field_eq(f, oa + f->offset, ob + f->offset, false);
  }
  if (t->kind == RSP_MSG_SEQOF) {
    const struct rsp_msg_list *la = a, *lb = b;
    size_t isz = rsp_msg_item_size(&t->fields[0]);
    if (la->n != lb->n) return false;
    for (size_t i = 0; i < la->n; i++)
      if (!field_eq(&t->fields[0], (const uint8_t *)la->v + i * isz,
                    (const uint8_t *)lb->v + i * isz, true))
        return false;
    return true;
  }
  const struct rsp_msg_ext *ea = ((const struct rsp_msg_seq_head *)a)->ext;
  const struct rsp_msg_ext *eb = ((const struct rsp_msg_seq_head *)b)->ext;
  size_t na = ea ? ea->n : 0, nb = eb ? eb->n : 0;
  if (na != nb) return false;
  for (size_t i = 0; i < na; i++)
    if (ea->v[i].before != eb->v[i].before || !slice_eq(&ea->v[i].tlv, &eb->v[i].tlv)) return false;
  for (uint16_t i = 0; i < t->nfields; i++) {
    const struct rsp_msg_field *f = &t->fields[i];
    if (!field_eq(f, oa + f->offset, ob + f->offset, false)) return false;
  }
  return true;
}

bool rsp_msg_equal(const struct rsp_msg_type *t, const void *a, const void *b) {
  return equal_constructed(t, a, b);
}
