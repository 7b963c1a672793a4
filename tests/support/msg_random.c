#include "msg_random.h"

#include <string.h>

/* Kept in sync with lib/msg/msg_internal.h (the generated layouts). */
struct list {
  struct rsp_slice raw;
  void *v;
  size_t n;
};
struct choice {
  struct rsp_slice raw;
  int which;
};

static const uint8_t *cert_der;
static size_t cert_len;

/* SubjectPublicKeyInfo of a P-256 key (the point is arbitrary: only the structure matters). */
static const uint8_t spki[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A,
    0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x10, 0x11, 0x12, 0x13, 0x14,
    0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24,
    0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x32, 0x33, 0x34,
    0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x41, 0x42, 0x43, 0x44,
    0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};

/* A structurally valid, unsigned CertificateList (v2, no entries). */
static const uint8_t crl[] = {0x30, 0x31, 0x30, 0x20, 0x02, 0x01, 0x01, 0x30, 0x0A, 0x06, 0x08,
                              0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02, 0x30, 0x00, 0x17,
                              0x0D, '2',  '5',  '0',  '1',  '0',  '1',  '0',  '0',  '0',  '0',
                              '0',  '0',  'Z',  0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE,
                              0x3D, 0x04, 0x03, 0x02, 0x03, 0x01, 0x00};

/* Object identifier 2.23.146.1.2.1.0 (id-rspRole-ci) as content octets. */
static const uint8_t oid[] = {0x67, 0x81, 0x12, 0x01, 0x02, 0x01, 0x00};
static const uint8_t any_tlv[] = {0x04, 0x02, 0xCA, 0xFE};

uint32_t rsp_test_rng_next(struct rsp_test_rng *r) {
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return (uint32_t)(r->s >> 11);
}

void rsp_test_msg_random_set_certificate(const uint8_t *der, size_t len) {
  cert_der = der;
  cert_len = len;
}

static int64_t pick_len(const struct rsp_msg_field *f, struct rsp_test_rng *r, int64_t dflt_hi) {
  int64_t lo = (f->flags & RSP_MSG_F_LO) ? f->lo : 0;
  int64_t hi = (f->flags & RSP_MSG_F_HI) ? f->hi : lo + dflt_hi;
  if (hi > lo + dflt_hi) hi = lo + dflt_hi;
  return lo + (int64_t)(rsp_test_rng_next(r) % (uint32_t)(hi - lo + 1));
}

static int64_t pick_int(const struct rsp_msg_field *f, struct rsp_test_rng *r) {
  static const int64_t interesting[] = {
      0,  1,    2,     5,        127,        128,         255,       256,
      -1, -129, 65535, 0x7FFFFF, 0x12345678, -0x12345678, INT64_MAX, INT64_MIN};
  int64_t v = interesting[rsp_test_rng_next(r) % (sizeof interesting / sizeof interesting[0])];
  int64_t lo = (f->flags & RSP_MSG_F_LO) ? f->lo : INT64_MIN;
  int64_t hi = (f->flags & RSP_MSG_F_HI) ? f->hi : INT64_MAX;
  if (v < lo || v > hi) v = lo != INT64_MIN ? lo + (int64_t)(rsp_test_rng_next(r) % 3) : hi;
  if (v > hi) v = hi;
  if ((f->flags & RSP_MSG_F_DEFAULT) && v == f->def) v = v == hi ? v - 1 : v + 1;
  return v;
}

static const uint8_t *random_bytes(struct rsp_arena *a, struct rsp_test_rng *r, size_t n,
                                   bool text) {
  uint8_t *p = rsp_arena_alloc(a, n ? n : 1);
  if (!p) return NULL;
  for (size_t i = 0; i < n; i++)
    p[i] = text ? (uint8_t)('a' + rsp_test_rng_next(r) % 26) : (uint8_t)rsp_test_rng_next(r);
  return p;
}

/* Canonical named-bit BIT STRING: 0..16 bits, the last one set. */
static struct rsp_slice random_bits(struct rsp_arena *a, struct rsp_test_rng *r) {
  uint32_t mask = rsp_test_rng_next(r) & 0xFFFFu;
  uint8_t *p = rsp_arena_alloc(a, 5);
  if (!p) return rsp_msg_slice(NULL, 0);
  return rsp_msg_bits_make(mask, p);
}

static struct rsp_slice random_raw(const struct rsp_msg_field *f) {
  if (f->type_name && strcmp(f->type_name, "SubjectPublicKeyInfo") == 0)
    return rsp_msg_slice(spki, sizeof spki);
  if (f->type_name && strcmp(f->type_name, "CertificateList") == 0)
    return rsp_msg_slice(crl, sizeof crl);
  if (cert_der) return rsp_msg_slice(cert_der, cert_len);
  return rsp_msg_slice(spki, sizeof spki);
}

static bool fill_constructed(const struct rsp_msg_type *t, void *obj, struct rsp_test_rng *r,
                             struct rsp_arena *a, unsigned depth);

static bool fill_field(const struct rsp_msg_field *f, void *dst, struct rsp_test_rng *r,
                       struct rsp_arena *a, unsigned depth, bool item) {
  bool opt = !item && (f->flags & (RSP_MSG_F_OPTIONAL | RSP_MSG_F_DEFAULT));
  struct rsp_slice *s = dst;
  size_t n;
  switch (f->kind) {
  case RSP_MSG_INT:
  case RSP_MSG_ENUM:
    if (opt)
      *(struct rsp_msg_int *)dst = rsp_msg_int_make(pick_int(f, r));
    else
      *(int64_t *)dst = pick_int(f, r);
    return true;
  case RSP_MSG_BOOL:
    if (opt) {
      ((struct rsp_msg_bool *)dst)->present = true;
      ((struct rsp_msg_bool *)dst)->v =
          (f->flags & RSP_MSG_F_DEFAULT) ? !f->def : rsp_test_rng_next(r) & 1;
    } else {
      *(bool *)dst = rsp_test_rng_next(r) & 1;
    }
    return true;
  case RSP_MSG_NULL:
    *(bool *)dst = true;
    return true;
  case RSP_MSG_OCTETS:
  case RSP_MSG_UTF8:
  case RSP_MSG_STRING:
    n = (size_t)pick_len(f, r, 20);
    *s = rsp_msg_slice(random_bytes(a, r, n, f->kind != RSP_MSG_OCTETS), n);
    return s->p != NULL;
  case RSP_MSG_BITS:
    *s = random_bits(a, r);
    return s->p != NULL;
  case RSP_MSG_OID:
    *s = rsp_msg_slice(oid, sizeof oid);
    return true;
  case RSP_MSG_RAW:
    *s = random_raw(f);
    return true;
  case RSP_MSG_ANY:
    *s = rsp_msg_slice(any_tlv, sizeof any_tlv);
    return true;
  default: {
    void *obj = dst;
    if (!item) {
      obj = rsp_arena_alloc(a, f->type->size);
      if (!obj) return false;
      *(void **)dst = obj;
    }
    return fill_constructed(f->type, obj, r, a, depth + 1);
  }
  }
}

static bool fill_constructed(const struct rsp_msg_type *t, void *obj, struct rsp_test_rng *r,
                             struct rsp_arena *a, unsigned depth) {
  uint8_t *o = obj;
  if (t->kind == RSP_MSG_CHOICE) {
    struct choice *ch = obj;
    ch->which = 1 + (int)(rsp_test_rng_next(r) % t->nfields);
    const struct rsp_msg_field *f = &t->fields[ch->which - 1];
    return fill_field(f, o + f->offset, r, a, depth, false);
  }
  if (t->kind == RSP_MSG_SEQOF) {
    struct list *l = obj;
    int64_t lo = (t->flags & RSP_MSG_F_LO) ? t->lo : 0;
    int64_t n = depth > 6 ? lo : lo + (int64_t)(rsp_test_rng_next(r) % 3);
    if ((t->flags & RSP_MSG_F_HI) && n > t->hi) n = t->hi;
    size_t isz = rsp_msg_item_size(&t->fields[0]);
    l->v = rsp_arena_alloc(a, n ? (size_t)n * isz : 1);
    l->n = (size_t)n;
    if (!l->v) return false;
    for (int64_t i = 0; i < n; i++)
      if (!fill_field(&t->fields[0], (uint8_t *)l->v + i * isz, r, a, depth, true)) return false;
    return true;
  }
  for (uint16_t i = 0; i < t->nfields; i++) {
    const struct rsp_msg_field *f = &t->fields[i];
    bool opt = f->flags & (RSP_MSG_F_OPTIONAL | RSP_MSG_F_DEFAULT);
    if (opt && (depth > 6 || rsp_test_rng_next(r) % 3 == 0)) continue;
    if (!fill_field(f, o + f->offset, r, a, depth, false)) return false;
  }
  return true;
}

void *rsp_test_msg_random(const struct rsp_msg_type *t, struct rsp_test_rng *r,
                          struct rsp_arena *a) {
  void *obj = rsp_arena_alloc(a, t->size);
  if (!obj || !fill_constructed(t, obj, r, a, 0)) return NULL;
  return obj;
}
