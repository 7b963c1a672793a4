/* DER writing. Constructed elements are opened with rsp_der_begin and closed with rsp_der_end,
 * which inserts the now-known length in front of the content; errors are sticky so a long
 * encoder can check once at the end. */
#include <stdlib.h>
#include <string.h>

#include "rsp/der/der.h"

void rsp_der_writer_init(struct rsp_der_writer *w, struct rsp_buf *buf) {
  memset(w, 0, sizeof(*w));
  w->buf = buf;
  w->err = buf ? RSP_OK : RSP_E_INVALID_ARG;
}

static void put_bytes(struct rsp_der_writer *w, const void *p, size_t n) {
  if (w->err != RSP_OK) return;
  w->err = rsp_buf_append(w->buf, p, n);
}

static void put_tag(struct rsp_der_writer *w, uint32_t tag) {
  uint8_t t[4];
  if (tag == 0) {
    if (w->err == RSP_OK) w->err = RSP_E_INVALID_ARG;
    return;
  }
  put_bytes(w, t, rsp_der_encode_tag(tag, t));
}

static void put_len(struct rsp_der_writer *w, size_t len) {
  uint8_t l[5];
  put_bytes(w, l, rsp_der_encode_len(len, l));
}

void rsp_der_begin(struct rsp_der_writer *w, uint32_t tag) {
  if (w->err != RSP_OK) return;
  if (w->depth >= RSP_DER_MAX_DEPTH) {
    w->err = RSP_E_DER_NESTING;
    return;
  }
  put_tag(w, tag);
  if (w->err != RSP_OK) return;
  w->tags[w->depth] = tag;
  w->stack[w->depth++] = w->buf->len;
}

void rsp_der_end(struct rsp_der_writer *w) {
  if (w->err != RSP_OK) return;
  if (w->depth == 0) {
    w->err = RSP_E_STATE;
    return;
  }
  size_t start = w->stack[--w->depth];
  uint8_t l[5];
  size_t n = rsp_der_encode_len(w->buf->len - start, l);
  w->err = rsp_buf_insert(w->buf, start, l, n);
}

rsp_err_t rsp_der_writer_finish(struct rsp_der_writer *w) {
  if (w->err != RSP_OK) return w->err;
  return w->depth ? RSP_E_STATE : RSP_OK;
}

void rsp_der_put_tlv(struct rsp_der_writer *w, uint32_t tag, const void *val, size_t len) {
  put_tag(w, tag);
  put_len(w, len);
  put_bytes(w, val, len);
}

void rsp_der_put_raw(struct rsp_der_writer *w, const void *raw, size_t len) {
  put_bytes(w, raw, len);
}

/* Minimal two's complement: drop leading octets that only repeat the sign (X.690 §8.3.2). */
void rsp_der_put_int64(struct rsp_der_writer *w, uint32_t tag, int64_t v) {
  uint8_t b[8];
  uint64_t u = (uint64_t)v;
  for (int i = 7; i >= 0; i--, u >>= 8) b[i] = (uint8_t)u;
  size_t i = 0;
  while (i < 7 && ((b[i] == 0x00 && !(b[i + 1] & 0x80)) || (b[i] == 0xFF && (b[i + 1] & 0x80))))
    i++;
  rsp_der_put_tlv(w, tag, b + i, 8 - i);
}

void rsp_der_put_uint64(struct rsp_der_writer *w, uint32_t tag, uint64_t v) {
  uint8_t b[8];
  for (int i = 7; i >= 0; i--, v >>= 8) b[i] = (uint8_t)v;
  rsp_der_put_uint_bytes(w, tag, b, 8);
}

void rsp_der_put_uint_bytes(struct rsp_der_writer *w, uint32_t tag, const uint8_t *mag,
                            size_t len) {
  while (len > 1 && mag[0] == 0) mag++, len--;
  put_tag(w, tag);
  if (len == 0 || (mag[0] & 0x80)) {
    /* A zero-length magnitude is the value 0; a set top bit needs a sign octet. */
    put_len(w, len + 1);
    put_bytes(w, "\0", 1);
  } else {
    put_len(w, len);
  }
  put_bytes(w, mag, len);
}

void rsp_der_put_bool(struct rsp_der_writer *w, uint32_t tag, bool v) {
  uint8_t b = v ? 0xFF : 0x00;
  rsp_der_put_tlv(w, tag, &b, 1);
}

void rsp_der_put_null(struct rsp_der_writer *w, uint32_t tag) { rsp_der_put_tlv(w, tag, NULL, 0); }

void rsp_der_put_octets(struct rsp_der_writer *w, uint32_t tag, const void *p, size_t len) {
  rsp_der_put_tlv(w, tag, p, len);
}

void rsp_der_put_utf8(struct rsp_der_writer *w, uint32_t tag, const char *s) {
  rsp_der_put_tlv(w, tag, s, s ? strlen(s) : 0);
}

void rsp_der_put_bits(struct rsp_der_writer *w, uint32_t tag, uint32_t bits) {
  uint8_t b[5] = {0};
  unsigned nbits = 0;
  for (unsigned i = 0; i < 32; i++)
    if (bits & (1u << i)) nbits = i + 1;
  size_t nbytes = (nbits + 7) / 8;
  for (unsigned i = 0; i < nbits; i++)
    if (bits & (1u << i)) b[1 + i / 8] |= (uint8_t)(0x80u >> (i % 8));
  b[0] = (uint8_t)(nbytes * 8 - nbits);
  rsp_der_put_tlv(w, tag, b, 1 + nbytes);
}

void rsp_der_put_enum(struct rsp_der_writer *w, uint32_t tag, int64_t v) {
  rsp_der_put_int64(w, tag, v);
}

/* Parses dotted decimal into arcs; false on syntax errors or more than `max` arcs. */
static bool parse_arcs(const char *s, uint64_t *arcs, size_t max, size_t *n) {
  *n = 0;
  for (;;) {
    char *endp;
    if (!s || *s < '0' || *s > '9' || *n == max) return false;
    arcs[(*n)++] = strtoull(s, &endp, 10);
    if (*endp == 0) return true;
    if (*endp != '.') return false;
    s = endp + 1;
  }
}

/* The first two arcs share one subidentifier, 40 * a0 + a1 (X.690 §8.19.4). */
void rsp_der_put_oid(struct rsp_der_writer *w, uint32_t tag, const char *dotted) {
  uint64_t arcs[32];
  uint8_t out[sizeof(arcs) / sizeof(arcs[0]) * 10];
  size_t n, o = 0;
  if (w->err != RSP_OK) return;
  if (!parse_arcs(dotted, arcs, sizeof(arcs) / sizeof(arcs[0]), &n) || n < 2 || arcs[0] > 2 ||
      (arcs[0] < 2 && arcs[1] > 39) || arcs[1] > UINT64_MAX - 80) {
    w->err = RSP_E_INVALID_ARG;
    return;
  }
  arcs[1] += arcs[0] * 40;
  for (size_t i = 1; i < n; i++) {
    uint8_t tmp[10];
    size_t k = 0;
    uint64_t sub = arcs[i];
    do {
      tmp[k++] = (uint8_t)(sub & 0x7F);
      sub >>= 7;
    } while (sub);
    while (k) {
      k--;
      out[o++] = (uint8_t)(tmp[k] | (k ? 0x80 : 0));
    }
  }
  rsp_der_put_tlv(w, tag, out, o);
}
