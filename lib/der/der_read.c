/* Strict DER reading (X.690 §8.1 and §10.1): tags, lengths, TLV cursors. */
#include <string.h>

#include "rsp/der/der.h"

uint8_t rsp_der_tag_class(uint32_t tag) {
  size_t n = rsp_der_tag_size(tag);
  return (uint8_t)((tag >> (8 * (n - 1))) & 0xC0u);
}

bool rsp_der_tag_constructed(uint32_t tag) {
  size_t n = rsp_der_tag_size(tag);
  return ((tag >> (8 * (n - 1))) & RSP_DER_CONSTRUCTED) != 0;
}

size_t rsp_der_tag_size(uint32_t tag) {
  if (tag > 0xFFFFFFu) return 4;
  if (tag > 0xFFFFu) return 3;
  if (tag > 0xFFu) return 2;
  return 1;
}

uint32_t rsp_der_tag_number(uint32_t tag) {
  size_t n = rsp_der_tag_size(tag);
  if (n == 1) return tag & 0x1Fu;
  uint32_t num = 0;
  for (size_t i = n - 1; i-- > 0;) num = num << 7 | ((tag >> (8 * i)) & 0x7Fu);
  return num;
}

uint32_t rsp_der_tag_make(uint8_t cls, bool constructed, uint32_t number) {
  uint32_t first = (uint32_t)(cls & 0xC0u) | (constructed ? RSP_DER_CONSTRUCTED : 0);
  if (number < 31) return first | number;
  /* High tag number form: 0x1F then base-128 digits, most significant first (X.690 §8.1.2.4). */
  uint32_t tag = first | 0x1Fu;
  int digits = number < (1u << 7) ? 1 : number < (1u << 14) ? 2 : 3;
  for (int i = digits - 1; i >= 0; i--) {
    uint32_t d = (number >> (7 * i)) & 0x7Fu;
    tag = tag << 8 | d | (i ? 0x80u : 0);
  }
  return tag;
}

size_t rsp_der_encode_tag(uint32_t tag, uint8_t out[4]) {
  size_t n = rsp_der_tag_size(tag);
  for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(tag >> (8 * (n - 1 - i)));
  return n;
}

size_t rsp_der_encode_len(size_t len, uint8_t out[5]) {
  if (len < 0x80) {
    out[0] = (uint8_t)len;
    return 1;
  }
  size_t n = 0;
  for (size_t v = len; v; v >>= 8) n++;
  out[0] = (uint8_t)(0x80 | n);
  for (size_t i = 0; i < n; i++) out[1 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
  return 1 + n;
}

/* Reads the identifier octets. DER demands the short form for numbers below 31 and no leading
 * 0x80 padding in the subsequent octets (X.690 §8.1.2.4.2 c). */
static rsp_err_t read_tag(const uint8_t **p, const uint8_t *end, uint32_t *tag) {
  const uint8_t *q = *p;
  if (q >= end) return RSP_E_DER_TRUNCATED;
  uint32_t t = *q++;
  /* Identifier 00 is the BER end-of-contents marker, which has no place in DER. */
  if (t == 0) return RSP_E_DER_BAD_TAG;
  if ((t & 0x1Fu) == 0x1Fu) {
    uint32_t number = 0;
    size_t digits = 0;
    for (;;) {
      if (q >= end) return RSP_E_DER_TRUNCATED;
      uint8_t b = *q++;
      if (digits == 0 && b == 0x80) return RSP_E_DER_BAD_TAG;
      if (++digits > RSP_DER_MAX_TAG_BYTES - 1) return RSP_E_DER_BAD_TAG;
      number = number << 7 | (b & 0x7Fu);
      t = t << 8 | b;
      if (!(b & 0x80)) break;
    }
    if (number < 31) return RSP_E_DER_BAD_TAG;
  }
  *tag = t;
  *p = q;
  return RSP_OK;
}

/* Reads the length octets: definite form only, minimal, at most 4 length bytes. */
static rsp_err_t read_len(const uint8_t **p, const uint8_t *end, size_t *len) {
  const uint8_t *q = *p;
  if (q >= end) return RSP_E_DER_TRUNCATED;
  uint8_t first = *q++;
  if (first < 0x80) {
    *len = first;
    *p = q;
    return RSP_OK;
  }
  if (first == 0x80) return RSP_E_DER_INDEFINITE_LENGTH;
  size_t n = first & 0x7Fu;
  if (n > RSP_DER_MAX_LEN_BYTES) return RSP_E_DER_LENGTH_TOO_LARGE;
  if ((size_t)(end - q) < n) return RSP_E_DER_TRUNCATED;
  if (q[0] == 0) return RSP_E_DER_NON_MINIMAL_LENGTH;
  size_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | q[i];
  if (v < 0x80) return RSP_E_DER_NON_MINIMAL_LENGTH;
  *len = v;
  *p = q + n;
  return RSP_OK;
}

rsp_err_t rsp_der_read_tlv(const uint8_t **p, const uint8_t *end, struct rsp_der_tlv *out) {
  uint32_t tag;
  size_t len;
  rsp_err_t rc;
  if (!p || !*p || !end || *p > end) return RSP_E_INVALID_ARG;
  const uint8_t *q = *p;
  if ((rc = read_tag(&q, end, &tag)) != RSP_OK) return rc;
  if ((rc = read_len(&q, end, &len)) != RSP_OK) return rc;
  if ((size_t)(end - q) < len) return RSP_E_DER_TRUNCATED;
  out->tag = tag;
  out->raw = *p;
  out->val = q;
  out->len = len;
  out->raw_len = (size_t)(q - *p) + len;
  *p = q + len;
  return RSP_OK;
}

rsp_err_t rsp_der_peek_tag(const uint8_t *p, const uint8_t *end, uint32_t *tag) {
  return read_tag(&p, end, tag);
}

rsp_err_t rsp_der_read_expect(const uint8_t **p, const uint8_t *end, uint32_t tag,
                              struct rsp_der_tlv *out) {
  const uint8_t *q = *p;
  struct rsp_der_tlv t;
  rsp_err_t rc = rsp_der_read_tlv(&q, end, &t);
  if (rc != RSP_OK) return rc;
  if (t.tag != tag) return RSP_E_DER_UNEXPECTED_TAG;
  *out = t;
  *p = q;
  return RSP_OK;
}

rsp_err_t rsp_der_read_optional(const uint8_t **p, const uint8_t *end, uint32_t tag,
                                struct rsp_der_tlv *out, bool *present) {
  uint32_t next;
  *present = false;
  if (*p >= end) return RSP_OK;
  rsp_err_t rc = rsp_der_peek_tag(*p, end, &next);
  if (rc != RSP_OK) return rc;
  if (next != tag) return RSP_OK;
  rc = rsp_der_read_tlv(p, end, out);
  if (rc == RSP_OK) *present = true;
  return rc;
}

rsp_err_t rsp_der_parse_one(const uint8_t *data, size_t len, struct rsp_der_tlv *out) {
  if (!data) return len ? RSP_E_INVALID_ARG : RSP_E_DER_TRUNCATED;
  const uint8_t *p = data, *end = data + len;
  rsp_err_t rc = rsp_der_read_tlv(&p, end, out);
  if (rc != RSP_OK) return rc;
  return p == end ? RSP_OK : RSP_E_DER_TRAILING_BYTES;
}

void rsp_der_children(const struct rsp_der_tlv *tlv, const uint8_t **p, const uint8_t **end) {
  *p = tlv->val;
  *end = tlv->val + tlv->len;
}

static rsp_err_t validate_content(const uint8_t *p, const uint8_t *end, unsigned depth) {
  if (depth > RSP_DER_MAX_DEPTH) return RSP_E_DER_NESTING;
  while (p < end) {
    struct rsp_der_tlv t;
    rsp_err_t rc = rsp_der_read_tlv(&p, end, &t);
    if (rc != RSP_OK) return rc;
    if (rsp_der_tag_constructed(t.tag)) {
      rc = validate_content(t.val, t.val + t.len, depth + 1);
      if (rc != RSP_OK) return rc;
    }
  }
  return RSP_OK;
}

rsp_err_t rsp_der_validate_tree(const uint8_t *data, size_t len) {
  struct rsp_der_tlv t;
  rsp_err_t rc = rsp_der_parse_one(data, len, &t);
  if (rc != RSP_OK) return rc;
  if (!rsp_der_tag_constructed(t.tag)) return RSP_OK;
  return validate_content(t.val, t.val + t.len, 1);
}
