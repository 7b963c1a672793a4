/* DER primitive value decoders (X.690 §8.2 to §8.19 with the §10/§11 DER restrictions). They
 * look at the content only, so they serve implicitly tagged fields as well. */
#include <stdio.h>
#include <string.h>

#include "rsp/der/der.h"

#include "rsp/core/text.h"

/* INTEGER content must be non-empty and minimal: the first 9 bits are not all 0 or all 1. */
rsp_err_t rsp_der_check_integer(const struct rsp_der_tlv *tlv) {
  const uint8_t *v = tlv->val;
  if (tlv->len == 0) return RSP_E_DER_BAD_VALUE;
  if (tlv->len > 1 && ((v[0] == 0x00 && !(v[1] & 0x80)) || (v[0] == 0xFF && (v[1] & 0x80))))
    return RSP_E_DER_BAD_VALUE;
  return RSP_OK;
}

rsp_err_t rsp_der_get_int64(const struct rsp_der_tlv *tlv, int64_t *out) {
  rsp_err_t rc = rsp_der_check_integer(tlv);
  if (rc != RSP_OK) return rc;
  if (tlv->len > 8) return RSP_E_DER_RANGE;
  uint64_t u = (tlv->val[0] & 0x80) ? UINT64_MAX : 0;
  for (size_t i = 0; i < tlv->len; i++) u = u << 8 | tlv->val[i];
  *out = (int64_t)u;
  return RSP_OK;
}

rsp_err_t rsp_der_get_uint64(const struct rsp_der_tlv *tlv, uint64_t *out) {
  rsp_err_t rc = rsp_der_check_integer(tlv);
  if (rc != RSP_OK) return rc;
  if (tlv->val[0] & 0x80) return RSP_E_DER_RANGE; /* negative */
  size_t n = tlv->len, i = 0;
  if (tlv->val[0] == 0) i = 1; /* sign octet of a value with the top bit set */
  if (n - i > 8) return RSP_E_DER_RANGE;
  uint64_t u = 0;
  for (; i < n; i++) u = u << 8 | tlv->val[i];
  *out = u;
  return RSP_OK;
}

rsp_err_t rsp_der_get_enum(const struct rsp_der_tlv *tlv, int64_t *out) {
  return rsp_der_get_int64(tlv, out);
}

/* DER BOOLEAN: one octet, 0x00 or 0xFF (X.690 §11.1). */
rsp_err_t rsp_der_get_bool(const struct rsp_der_tlv *tlv, bool *out) {
  if (tlv->len != 1 || (tlv->val[0] != 0x00 && tlv->val[0] != 0xFF)) return RSP_E_DER_BAD_VALUE;
  *out = tlv->val[0] == 0xFF;
  return RSP_OK;
}

rsp_err_t rsp_der_get_null(const struct rsp_der_tlv *tlv) {
  return tlv->len == 0 ? RSP_OK : RSP_E_DER_BAD_VALUE;
}

rsp_err_t rsp_der_get_octets(const struct rsp_der_tlv *tlv, size_t min_len, size_t max_len,
                             struct rsp_slice *out) {
  if (rsp_der_tag_constructed(tlv->tag)) return RSP_E_DER_BAD_VALUE; /* DER: primitive only */
  if (tlv->len < min_len || tlv->len > max_len) return RSP_E_DER_RANGE;
  out->p = tlv->val;
  out->len = tlv->len;
  return RSP_OK;
}

rsp_err_t rsp_der_get_octets_fixed(const struct rsp_der_tlv *tlv, uint8_t *out, size_t n) {
  struct rsp_slice s;
  rsp_err_t rc = rsp_der_get_octets(tlv, n, n, &s);
  if (rc == RSP_OK && n) memcpy(out, s.p, n);
  return rc;
}

rsp_err_t rsp_der_get_utf8(const struct rsp_der_tlv *tlv, size_t min_len, size_t max_len,
                           struct rsp_slice *out) {
  rsp_err_t rc = rsp_der_get_octets(tlv, min_len, max_len, out);
  if (rc != RSP_OK) return rc;
  return rsp_utf8_valid(tlv->val, tlv->len, false) ? RSP_OK : RSP_E_DER_BAD_VALUE;
}

rsp_err_t rsp_der_get_utf8_cstr(const struct rsp_der_tlv *tlv, char *out, size_t out_size) {
  struct rsp_slice s;
  if (out_size == 0) return RSP_E_BUF_SMALL;
  rsp_err_t rc = rsp_der_get_utf8(tlv, 0, SIZE_MAX, &s);
  if (rc != RSP_OK) return rc;
  if (s.len >= out_size) return RSP_E_BUF_SMALL;
  memcpy(out, s.p, s.len);
  out[s.len] = 0;
  return RSP_OK;
}

/* BIT STRING: first content octet is the unused-bit count (0..7, 0 when empty) and DER requires
 * the unused bits to be zero (X.690 §11.2.1). */
rsp_err_t rsp_der_get_bitstring(const struct rsp_der_tlv *tlv, unsigned *unused,
                                struct rsp_slice *out) {
  if (rsp_der_tag_constructed(tlv->tag) || tlv->len == 0) return RSP_E_DER_BAD_VALUE;
  uint8_t u = tlv->val[0];
  if (u > 7 || (tlv->len == 1 && u != 0)) return RSP_E_DER_BAD_VALUE;
  if (tlv->len > 1 && (tlv->val[tlv->len - 1] & ((1u << u) - 1u))) return RSP_E_DER_BAD_VALUE;
  *unused = u;
  out->p = tlv->val + 1;
  out->len = tlv->len - 1;
  return RSP_OK;
}

/* Named-bit lists additionally drop trailing zero bits (X.690 §11.2.2): the last used bit is 1. */
rsp_err_t rsp_der_get_bits(const struct rsp_der_tlv *tlv, uint32_t *out, unsigned *nbits) {
  unsigned unused;
  struct rsp_slice s;
  rsp_err_t rc = rsp_der_get_bitstring(tlv, &unused, &s);
  if (rc != RSP_OK) return rc;
  if (s.len > 0 && !(s.p[s.len - 1] & (1u << unused))) return RSP_E_DER_BAD_VALUE;
  size_t total = s.len * 8 - unused;
  if (total > 32) return RSP_E_DER_RANGE;
  uint32_t v = 0;
  for (size_t i = 0; i < total; i++)
    if (s.p[i / 8] & (0x80u >> (i % 8))) v |= 1u << i;
  *out = v;
  if (nbits) *nbits = (unsigned)total;
  return RSP_OK;
}

/* OBJECT IDENTIFIER (X.690 §8.19): base-128 subidentifiers, no 0x80 padding, last octet of the
 * content ends a subidentifier. Rendered as dotted decimal. */
rsp_err_t rsp_der_get_oid(const struct rsp_der_tlv *tlv, char *out, size_t out_size) {
  const uint8_t *v = tlv->val;
  size_t n = tlv->len, o = 0;
  if (out_size == 0) return RSP_E_BUF_SMALL;
  if (rsp_der_tag_constructed(tlv->tag) || n == 0 || (v[n - 1] & 0x80)) return RSP_E_DER_BAD_VALUE;
  bool first = true;
  for (size_t i = 0; i < n;) {
    uint64_t sub = 0;
    if (v[i] == 0x80) return RSP_E_DER_BAD_VALUE;
    do {
      if (sub >> 57) return RSP_E_DER_RANGE;
      sub = sub << 7 | (v[i] & 0x7Fu);
    } while (v[i++] & 0x80);
    int w;
    if (first) {
      unsigned arc0 = sub < 40 ? 0 : sub < 80 ? 1 : 2;
      w = snprintf(out + o, out_size - o, "%u.%llu", arc0, (unsigned long long)(sub - 40u * arc0));
      first = false;
    } else {
      w = snprintf(out + o, out_size - o, ".%llu", (unsigned long long)sub);
    }
    if (w < 0 || (size_t)w >= out_size - o) return RSP_E_BUF_SMALL;
    o += (size_t)w;
  }
  return RSP_OK;
}
