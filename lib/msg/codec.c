/* Table-driven DER codec over the descriptors of include/rsp/msg/asn1.h.
 *
 * The descriptors carry the wire tags already resolved by tools/msggen (automatic tagging,
 * implicit replacement, explicit wrappers of CHOICE and open types), so this file only has to know
 * three shapes: a SEQUENCE (components in order, OPTIONAL/DEFAULT, unknown extensions skipped), a
 * CHOICE (one alternative, optionally inside an explicit wrapper) and a SEQUENCE OF. */
#include <stdio.h>
#include <string.h>

#include "msg_internal.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/sgp32_v10.h"

#define MAX_FIELDS 64 /* components of one SEQUENCE: EUICCInfo2 has 21 */

struct ctx {
  struct rsp_arena *arena;
  struct rsp_msg_diag *diag;
  unsigned depth;
};

/* ---- diagnostics ------------------------------------------------------------------------------
 */

static void diag_push(struct rsp_msg_diag *d, const char *name, size_t *mark) {
  if (!d) return;
  size_t len = strlen(d->path);
  *mark = len;
  snprintf(d->path + len, sizeof d->path - len, "%s%s", len ? "." : "", name);
}

static void diag_pop(struct rsp_msg_diag *d, size_t mark) {
  if (d) d->path[mark] = '\0';
}

/* ---- storage helpers --------------------------------------------------------------------------
 */

static bool is_constructed_kind(uint8_t kind) {
  return kind == RSP_MSG_SEQ || kind == RSP_MSG_SEQOF || kind == RSP_MSG_CHOICE;
}

static bool is_optional(const struct rsp_msg_field *f) {
  return (f->flags & (RSP_MSG_F_OPTIONAL | RSP_MSG_F_DEFAULT)) != 0;
}

/* Size of a SEQUENCE OF item (stored by value). */
size_t rsp_msg_item_size(const struct rsp_msg_field *f) {
  switch (f->kind) {
  case RSP_MSG_INT:
  case RSP_MSG_ENUM:
    return sizeof(int64_t);
  case RSP_MSG_BOOL:
  case RSP_MSG_NULL:
    return sizeof(bool);
  case RSP_MSG_SEQ:
  case RSP_MSG_SEQOF:
  case RSP_MSG_CHOICE:
    return f->type->size;
  default:
    return sizeof(struct rsp_slice);
  }
}

bool rsp__msg_present(const struct rsp_msg_field *f, const void *src) {
  switch (f->kind) {
  case RSP_MSG_INT:
  case RSP_MSG_ENUM:
    return is_optional(f) ? ((const struct rsp_msg_int *)src)->present : true;
  case RSP_MSG_BOOL:
    return is_optional(f) ? ((const struct rsp_msg_bool *)src)->present : true;
  case RSP_MSG_NULL:
    return *(const bool *)src;
  case RSP_MSG_SEQ:
  case RSP_MSG_SEQOF:
  case RSP_MSG_CHOICE:
    return *(void *const *)src != NULL;
  default:
    return ((const struct rsp_slice *)src)->p != NULL;
  }
}

bool rsp_msg_type_accepts(const struct rsp_msg_type *t, uint32_t tag) {
  if (t->tag) return t->tag == tag;
  if (t->kind != RSP_MSG_CHOICE) return false;
  for (uint16_t i = 0; i < t->nfields; i++)
    if (rsp__msg_field_accepts(&t->fields[i], tag)) return true;
  return false;
}

bool rsp__msg_field_accepts(const struct rsp_msg_field *f, uint32_t tag) {
  if (f->tag) return f->tag == tag;
  if (f->kind == RSP_MSG_ANY) return true;
  if (f->kind == RSP_MSG_CHOICE) return rsp_msg_type_accepts(f->type, tag);
  return false;
}

static bool check_bounds(const struct rsp_msg_field *f, int64_t v) {
  if ((f->flags & RSP_MSG_F_LO) && v < f->lo) return false;
  if ((f->flags & RSP_MSG_F_HI) && v > f->hi) return false;
  return true;
}

/* ---- decoding ---------------------------------------------------------------------------------
 */

static rsp_err_t decode_constructed(struct ctx *c, const struct rsp_msg_type *t, uint32_t tag,
                                    const struct rsp_der_tlv *tlv, void *obj);

static rsp_err_t check_bits(const struct rsp_der_tlv *tlv) {
  if (tlv->len < 1 || tlv->val[0] > 7) return RSP_E_DER_BAD_VALUE;
  if (tlv->len == 1) return tlv->val[0] == 0 ? RSP_OK : RSP_E_DER_BAD_VALUE;
  uint8_t mask = (uint8_t)((1u << tlv->val[0]) - 1u);
  return (tlv->val[tlv->len - 1] & mask) ? RSP_E_DER_BAD_VALUE : RSP_OK;
}

static rsp_err_t check_oid(const struct rsp_der_tlv *tlv) {
  if (tlv->len < 1 || (tlv->val[tlv->len - 1] & 0x80)) return RSP_E_DER_BAD_VALUE;
  for (size_t i = 0; i < tlv->len; i++) /* each arc minimal: no leading 0x80 */
    if (tlv->val[i] == 0x80 && (i == 0 || !(tlv->val[i - 1] & 0x80))) return RSP_E_DER_BAD_VALUE;
  return RSP_OK;
}

/* An opaque imported value arrives under an implicit tag: rebuild it with its natural tag so the
 * application always sees parseable DER (a certificate starts with 30). */
static rsp_err_t decode_raw(struct ctx *c, const struct rsp_msg_field *f,
                            const struct rsp_der_tlv *tlv, struct rsp_slice *out) {
  rsp_err_t rc = rsp_der_validate_tree(tlv->raw, tlv->raw_len);
  if (rc != RSP_OK) return rc;
  if (tlv->tag == f->inner_tag) {
    *out = rsp_msg_slice(tlv->raw, tlv->raw_len);
    return RSP_OK;
  }
  uint8_t t[4], l[5];
  size_t tn = rsp_der_encode_tag(f->inner_tag, t), ln = rsp_der_encode_len(tlv->len, l);
  uint8_t *p = rsp_arena_alloc(c->arena, tn + ln + tlv->len);
  if (!p) return RSP_E_NOMEM;
  memcpy(p, t, tn);
  memcpy(p + tn, l, ln);
  memcpy(p + tn + ln, tlv->val, tlv->len);
  *out = rsp_msg_slice(p, tn + ln + tlv->len);
  return RSP_OK;
}

static rsp_err_t decode_leaf(struct ctx *c, const struct rsp_msg_field *f,
                             const struct rsp_der_tlv *tlv, void *dst) {
  rsp_err_t rc;
  int64_t v;
  bool b;
  struct rsp_slice *s = dst;
  switch (f->kind) {
  case RSP_MSG_INT:
  case RSP_MSG_ENUM:
    if ((rc = rsp_der_get_int64(tlv, &v)) != RSP_OK) return rc;
    if (!check_bounds(f, v)) return RSP_E_DER_RANGE;
    if (is_optional(f))
      *(struct rsp_msg_int *)dst = rsp_msg_int_make(v);
    else
      *(int64_t *)dst = v;
    return RSP_OK;
  case RSP_MSG_BOOL:
    if ((rc = rsp_der_get_bool(tlv, &b)) != RSP_OK) return rc;
    if (is_optional(f)) {
      ((struct rsp_msg_bool *)dst)->v = b;
      ((struct rsp_msg_bool *)dst)->present = true;
    } else {
      *(bool *)dst = b;
    }
    return RSP_OK;
  case RSP_MSG_NULL:
    if ((rc = rsp_der_get_null(tlv)) != RSP_OK) return rc;
    *(bool *)dst = true;
    return RSP_OK;
  case RSP_MSG_UTF8:
    if (rsp_der_tag_constructed(tlv->tag)) return RSP_E_DER_BAD_VALUE;
    if (!check_bounds(f, (int64_t)tlv->len)) return RSP_E_DER_RANGE;
    if ((rc = rsp_der_get_utf8(tlv, 0, SIZE_MAX, s)) != RSP_OK) return rc;
    s->p = tlv->val; /* non-NULL even when empty: present */
    return RSP_OK;
  case RSP_MSG_OCTETS:
  case RSP_MSG_STRING:
  case RSP_MSG_BITS:
  case RSP_MSG_OID:
    if (rsp_der_tag_constructed(tlv->tag)) return RSP_E_DER_BAD_VALUE;
    if (f->kind == RSP_MSG_BITS && (rc = check_bits(tlv)) != RSP_OK) return rc;
    if (f->kind == RSP_MSG_OID && (rc = check_oid(tlv)) != RSP_OK) return rc;
    if (f->kind != RSP_MSG_BITS && !check_bounds(f, (int64_t)tlv->len)) return RSP_E_DER_RANGE;
    *s = rsp_msg_slice(tlv->val, tlv->len);
    return RSP_OK;
  case RSP_MSG_RAW:
    return decode_raw(c, f, tlv, s);
  case RSP_MSG_ANY:
    if ((rc = rsp_der_validate_tree(tlv->raw, tlv->raw_len)) != RSP_OK) return rc;
    *s = rsp_msg_slice(tlv->raw, tlv->raw_len);
    return RSP_OK;
  default:
    return RSP_E_INTERNAL;
  }
}

/* The only element inside an explicit wrapper. */
static rsp_err_t unwrap(const struct rsp_der_tlv *outer, struct rsp_der_tlv *inner) {
  if (!rsp_der_tag_constructed(outer->tag)) return RSP_E_DER_BAD_VALUE;
  return rsp_der_parse_one(outer->val, outer->len, inner);
}

/* Decodes a value of field f held in tlv into dst (the field's storage, or a SEQUENCE OF item when
 * `item` is true: constructed items are stored by value, not behind a pointer). */
static rsp_err_t decode_field(struct ctx *c, const struct rsp_msg_field *f,
                              const struct rsp_der_tlv *tlv, void *dst, bool item) {
  size_t mark = 0;
  rsp_err_t rc;
  diag_push(c->diag, f->name, &mark);
  if (is_constructed_kind(f->kind)) {
    void *obj = dst;
    if (!item && !(obj = rsp_arena_alloc(c->arena, f->type->size))) {
      rc = RSP_E_NOMEM;
      goto out;
    }
    rc = decode_constructed(c, f->type, f->tag, tlv, obj);
    if (rc == RSP_OK && !item) *(void **)dst = obj;
    goto out;
  }
  if (f->flags & RSP_MSG_F_EXPLICIT) {
    struct rsp_der_tlv inner;
    if ((rc = unwrap(tlv, &inner)) != RSP_OK) goto out;
    if (f->inner_tag && inner.tag != f->inner_tag) {
      rc = RSP_E_DER_UNEXPECTED_TAG;
      goto out;
    }
    rc = decode_leaf(c, f, &inner, dst);
    goto out;
  }
  rc = decode_leaf(c, f, tlv, dst);
out:
  if (rc == RSP_OK) diag_pop(c->diag, mark);
  return rc;
}

/* Keeps an unknown component (an extension of a later version, EXTENSIBILITY IMPLIED) with its
 * position, so that re-encoding reproduces the received bytes. */
static rsp_err_t keep_ext(struct ctx *c, const struct rsp_der_tlv *tlv,
                          const struct rsp_der_tlv *child, struct rsp_msg_seq_head *head,
                          uint16_t before) {
  rsp_err_t rc = rsp_der_validate_tree(child->raw, child->raw_len);
  if (rc != RSP_OK) return rc;
  if (!head->ext) {
    size_t cap = 0;
    const uint8_t *p, *end;
    struct rsp_der_tlv tmp;
    rsp_der_children(tlv, &p, &end);
    while (p < end && rsp_der_read_tlv(&p, end, &tmp) == RSP_OK) cap++;
    head->ext = rsp_arena_alloc(c->arena, sizeof *head->ext);
    if (!head->ext || !(head->ext->v = rsp_arena_alloc(c->arena, cap * sizeof *head->ext->v)))
      return RSP_E_NOMEM;
  }
  struct rsp_msg_ext_item *it = &head->ext->v[head->ext->n++];
  it->tlv = rsp_msg_slice(child->raw, child->raw_len);
  it->before = before;
  return RSP_OK;
}

static rsp_err_t decode_seq(struct ctx *c, const struct rsp_msg_type *t,
                            const struct rsp_der_tlv *tlv, uint8_t *obj) {
  bool seen[MAX_FIELDS] = {false};
  const uint8_t *p, *end;
  uint16_t pos = 0;
  rsp_err_t rc;
  if (t->nfields > MAX_FIELDS) return RSP_E_INTERNAL;
  rsp_der_children(tlv, &p, &end);
  while (p < end) {
    struct rsp_der_tlv child;
    if ((rc = rsp_der_read_tlv(&p, end, &child)) != RSP_OK) return rc;
    uint16_t i = pos;
    while (i < t->nfields && !rsp__msg_field_accepts(&t->fields[i], child.tag)) i++;
    if (i == t->nfields) {
      for (uint16_t k = 0; k < pos; k++)
        if (rsp__msg_field_accepts(&t->fields[k], child.tag)) return RSP_E_DER_UNEXPECTED_TAG;
      if ((rc = keep_ext(c, tlv, &child, (struct rsp_msg_seq_head *)obj, pos)) != RSP_OK) return rc;
      continue;
    }
    const struct rsp_msg_field *f = &t->fields[i];
    if ((rc = decode_field(c, f, &child, obj + f->offset, false)) != RSP_OK) return rc;
    seen[i] = true;
    pos = (uint16_t)(i + 1);
  }
  for (uint16_t i = 0; i < t->nfields; i++) {
    if (!seen[i] && !is_optional(&t->fields[i])) {
      size_t mark;
      diag_push(c->diag, t->fields[i].name, &mark);
      return RSP_E_DER_MISSING;
    }
  }
  return RSP_OK;
}

static rsp_err_t decode_seqof(struct ctx *c, const struct rsp_msg_type *t,
                              const struct rsp_der_tlv *tlv, uint8_t *obj) {
  const struct rsp_msg_field *f = &t->fields[0];
  const uint8_t *p, *end;
  size_t n = 0, isz = rsp_msg_item_size(f);
  rsp_err_t rc;
  struct rsp_der_tlv child;
  rsp_der_children(tlv, &p, &end);
  while (p < end) {
    if ((rc = rsp_der_read_tlv(&p, end, &child)) != RSP_OK) return rc;
    if (!rsp__msg_field_accepts(f, child.tag)) return RSP_E_DER_UNEXPECTED_TAG;
    n++;
  }
  if ((t->flags & RSP_MSG_F_LO && (int64_t)n < t->lo) ||
      (t->flags & RSP_MSG_F_HI && (int64_t)n > t->hi))
    return RSP_E_DER_RANGE;
  /* A present but empty list still gets a non-NULL array, so presence survives a round trip. */
  uint8_t *v = rsp_arena_alloc(c->arena, n ? n * isz : 1);
  if (!v || (n && n * isz / n != isz)) return RSP_E_NOMEM;
  rsp_der_children(tlv, &p, &end);
  for (size_t i = 0; i < n; i++) {
    if ((rc = rsp_der_read_tlv(&p, end, &child)) != RSP_OK) return rc;
    if ((rc = decode_field(c, f, &child, v + i * isz, true)) != RSP_OK) return rc;
  }
  struct rsp_msg_list *list = (struct rsp_msg_list *)obj;
  list->v = v;
  list->n = n;
  return RSP_OK;
}

static rsp_err_t decode_choice(struct ctx *c, const struct rsp_msg_type *t, uint32_t tag,
                               const struct rsp_der_tlv *tlv, uint8_t *obj) {
  struct rsp_der_tlv inner = *tlv;
  rsp_err_t rc;
  struct rsp_msg_choice *ch = (struct rsp_msg_choice *)obj;
  if (tag && (rc = unwrap(tlv, &inner)) != RSP_OK) return rc;
  for (uint16_t i = 0; i < t->nfields; i++) {
    const struct rsp_msg_field *f = &t->fields[i];
    if (!rsp__msg_field_accepts(f, inner.tag)) continue;
    if ((rc = decode_field(c, f, &inner, obj + f->offset, false)) != RSP_OK) return rc;
    ch->which = i + 1;
    return RSP_OK;
  }
  ch->which = RSP_MSG_ALT_UNKNOWN; /* kept in raw; re-encoded unchanged */
  return RSP_OK;
}

static rsp_err_t decode_constructed(struct ctx *c, const struct rsp_msg_type *t, uint32_t tag,
                                    const struct rsp_der_tlv *tlv, void *obj) {
  rsp_err_t rc;
  if (++c->depth > RSP_DER_MAX_DEPTH) return RSP_E_DER_NESTING;
  ((struct rsp_slice *)obj)->p = tlv->raw;
  ((struct rsp_slice *)obj)->len = tlv->raw_len;
  if (t->kind == RSP_MSG_CHOICE) {
    rc = decode_choice(c, t, tag, tlv, obj);
  } else if (!rsp_der_tag_constructed(tlv->tag)) {
    rc = RSP_E_DER_BAD_VALUE;
  } else {
    rc = t->kind == RSP_MSG_SEQ ? decode_seq(c, t, tlv, obj) : decode_seqof(c, t, tlv, obj);
  }
  c->depth--;
  return rc;
}

rsp_err_t rsp_msg_decode_tlv(const struct rsp_msg_type *t, const struct rsp_der_tlv *tlv,
                             struct rsp_arena *arena, void **out, struct rsp_msg_diag *diag) {
  struct ctx c = {arena, diag, 0};
  size_t mark = 0;
  if (diag) diag->path[0] = '\0';
  diag_push(diag, t->name, &mark);
  if (!rsp_msg_type_accepts(t, tlv->tag) && !(t->kind == RSP_MSG_CHOICE && !t->tag))
    return RSP_E_DER_UNEXPECTED_TAG;
  void *obj = rsp_arena_alloc(arena, t->size);
  if (!obj) return RSP_E_NOMEM;
  rsp_err_t rc = decode_constructed(&c, t, t->tag, tlv, obj);
  if (rc != RSP_OK) return rc;
  diag_pop(diag, mark);
  *out = obj;
  return RSP_OK;
}

rsp_err_t rsp_msg_decode(const struct rsp_msg_type *t, const uint8_t *der, size_t len,
                         struct rsp_arena *arena, void **out, struct rsp_msg_diag *diag) {
  struct rsp_der_tlv tlv;
  if (diag) diag->path[0] = '\0';
  rsp_err_t rc = rsp_der_parse_one(der, len, &tlv);
  if (rc != RSP_OK) return rc;
  return rsp_msg_decode_tlv(t, &tlv, arena, out, diag);
}

/* ---- encoding ---------------------------------------------------------------------------------
 */

struct wctx {
  struct rsp_der_writer *w;
  struct rsp_msg_diag *diag;
};

static void fail(struct wctx *c, rsp_err_t rc) {
  if (c->w->err == RSP_OK) c->w->err = rc;
}

static void encode_constructed(struct wctx *c, const struct rsp_msg_type *t, uint32_t tag,
                               const void *obj);

static void encode_raw(struct wctx *c, const struct rsp_msg_field *f, uint32_t tag,
                       struct rsp_slice s) {
  struct rsp_der_tlv tlv;
  rsp_err_t rc = rsp_der_parse_one(s.p, s.len, &tlv);
  if (rc != RSP_OK) return fail(c, rc);
  if (f->kind == RSP_MSG_RAW && tlv.tag != f->inner_tag) return fail(c, RSP_E_DER_UNEXPECTED_TAG);
  if (f->kind == RSP_MSG_ANY || tag == tlv.tag)
    rsp_der_put_raw(c->w, s.p, s.len);
  else
    rsp_der_put_tlv(c->w, tag, tlv.val, tlv.len);
}

static void encode_leaf(struct wctx *c, const struct rsp_msg_field *f, uint32_t tag,
                        const void *src) {
  const struct rsp_slice *s = src;
  int64_t v;
  switch (f->kind) {
  case RSP_MSG_INT:
  case RSP_MSG_ENUM:
    v = is_optional(f) ? ((const struct rsp_msg_int *)src)->v : *(const int64_t *)src;
    if (!check_bounds(f, v)) return fail(c, RSP_E_DER_RANGE);
    return rsp_der_put_int64(c->w, tag, v);
  case RSP_MSG_BOOL:
    return rsp_der_put_bool(
        c->w, tag, is_optional(f) ? ((const struct rsp_msg_bool *)src)->v : *(const bool *)src);
  case RSP_MSG_NULL:
    return rsp_der_put_null(c->w, tag);
  case RSP_MSG_RAW:
  case RSP_MSG_ANY:
    return encode_raw(c, f, tag, *s);
  default:
    if (f->kind != RSP_MSG_BITS && !check_bounds(f, (int64_t)s->len))
      return fail(c, RSP_E_DER_RANGE);
    if (f->kind == RSP_MSG_BITS && (s->len < 1 || s->p[0] > 7 || (s->len == 1 && s->p[0])))
      return fail(c, RSP_E_DER_BAD_VALUE);
    return rsp_der_put_tlv(c->w, tag, s->p, s->len);
  }
}

static void encode_field(struct wctx *c, const struct rsp_msg_field *f, const void *src,
                         bool item) {
  size_t mark = 0;
  diag_push(c->diag, f->name, &mark);
  if (is_constructed_kind(f->kind)) {
    const void *obj = item ? src : *(const void *const *)src;
    if (!obj)
      fail(c, RSP_E_DER_MISSING);
    else
      encode_constructed(c, f->type, f->tag, obj);
  } else if (f->flags & RSP_MSG_F_EXPLICIT) {
    rsp_der_begin(c->w, f->tag);
    encode_leaf(c, f, f->inner_tag, src);
    rsp_der_end(c->w);
  } else {
    encode_leaf(c, f, f->tag, src);
  }
  if (c->w->err == RSP_OK) diag_pop(c->diag, mark);
}

static void encode_constructed(struct wctx *c, const struct rsp_msg_type *t, uint32_t tag,
                               const void *obj) {
  const uint8_t *o = obj;
  if (c->w->err != RSP_OK) return;
  if (t->kind == RSP_MSG_CHOICE) {
    const struct rsp_msg_choice *ch = obj;
    if (ch->which == RSP_MSG_ALT_UNKNOWN) {
      if (!ch->raw.p) return fail(c, RSP_E_DER_MISSING);
      return rsp_der_put_raw(c->w, ch->raw.p, ch->raw.len);
    }
    if (ch->which < 1 || ch->which > t->nfields) return fail(c, RSP_E_DER_MISSING);
    const struct rsp_msg_field *f = &t->fields[ch->which - 1];
    if (tag) rsp_der_begin(c->w, tag);
    encode_field(c, f, o + f->offset, false);
    if (tag) rsp_der_end(c->w);
    return;
  }
  rsp_der_begin(c->w, tag);
  if (t->kind == RSP_MSG_SEQOF) {
    const struct rsp_msg_list *list = obj;
    size_t isz = rsp_msg_item_size(&t->fields[0]);
    if ((t->flags & RSP_MSG_F_LO && (int64_t)list->n < t->lo) ||
        (t->flags & RSP_MSG_F_HI && (int64_t)list->n > t->hi))
      fail(c, RSP_E_DER_RANGE);
    for (size_t i = 0; i < list->n && c->w->err == RSP_OK; i++)
      encode_field(c, &t->fields[0], (const uint8_t *)list->v + i * isz, true);
  } else {
    const struct rsp_msg_ext *ext = ((const struct rsp_msg_seq_head *)obj)->ext;
    size_t e = 0;
    for (uint16_t i = 0; i <= t->nfields && c->w->err == RSP_OK; i++) {
      /* extensions kept from a received message go back where they were */
      for (; ext && e < ext->n && ext->v[e].before <= i; e++)
        rsp_der_put_raw(c->w, ext->v[e].tlv.p, ext->v[e].tlv.len);
      if (i == t->nfields) break;
      const struct rsp_msg_field *f = &t->fields[i];
      if (rsp__msg_present(f, o + f->offset))
        encode_field(c, f, o + f->offset, false);
      else if (!is_optional(f)) {
        size_t mark;
        diag_push(c->diag, f->name, &mark);
        fail(c, RSP_E_DER_MISSING);
      }
    }
  }
  rsp_der_end(c->w);
}

void rsp_msg_write(struct rsp_der_writer *w, const struct rsp_msg_type *t, const void *value) {
  struct wctx c = {w, NULL};
  encode_constructed(&c, t, t->tag, value);
}

rsp_err_t rsp_msg_encode(const struct rsp_msg_type *t, const void *value, struct rsp_buf *out,
                         struct rsp_msg_diag *diag) {
  struct rsp_der_writer w;
  size_t start = out->len, mark = 0;
  if (diag) diag->path[0] = '\0';
  diag_push(diag, t->name, &mark);
  rsp_der_writer_init(&w, out);
  struct wctx c = {&w, diag};
  encode_constructed(&c, t, t->tag, value);
  rsp_err_t rc = rsp_der_writer_finish(&w);
  if (rc != RSP_OK) {
    out->len = start;
    return rc;
  }
  diag_pop(diag, mark);
  return RSP_OK;
}

/* ---- helpers ----------------------------------------------------------------------------------
 */

/* The hand-written SGP.32 v1.0 forms, found by name like the generated ones. */
static const struct rsp_msg_type *const v10_types[] = {
    &rsp_msgt_v10_get_eim_package_request, &rsp_msgt_v10_epr_and_notifications,
    &rsp_msgt_v10_provide_eim_package_result, &rsp_msgt_v10_provide_eim_package_result_response};

const struct rsp_msg_type *rsp_msg_type_find(const char *name) {
  for (size_t i = 0; i < rsp_msg_all_types_count; i++)
    if (strcmp(rsp_msg_all_types[i]->name, name) == 0) return rsp_msg_all_types[i];
  for (size_t i = 0; i < sizeof v10_types / sizeof v10_types[0]; i++)
    if (strcmp(v10_types[i]->name, name) == 0) return v10_types[i];
  return NULL;
}

bool rsp_msg_bit(struct rsp_slice bits, unsigned bit) {
  if (bits.len < 1 || bit / 8 >= bits.len - 1) return false;
  return (bits.p[1 + bit / 8] >> (7 - bit % 8)) & 1u;
}

struct rsp_slice rsp_msg_bits_make(uint32_t mask, uint8_t out[5]) {
  unsigned nbits = 0;
  for (unsigned i = 0; i < 32; i++)
    if (mask & (1u << i)) nbits = i + 1;
  size_t nbytes = (nbits + 7) / 8;
  memset(out, 0, 5);
  for (unsigned i = 0; i < nbits; i++)
    if (mask & (1u << i)) out[1 + i / 8] |= (uint8_t)(0x80u >> (i % 8));
  out[0] = (uint8_t)(nbytes * 8 - nbits);
  return rsp_msg_slice(out, 1 + nbytes);
}
