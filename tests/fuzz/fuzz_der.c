/* libFuzzer target for the DER reader: the generic tree walk, the primitive decoders on every
 * element, and the writer re-encoding, which must reproduce accepted input byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/der/der.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void poke_primitives(const struct rsp_der_tlv *t) {
  int64_t i;
  uint64_t u;
  bool b;
  struct rsp_slice s;
  uint32_t bits;
  unsigned nb;
  char buf[128];
  (void)rsp_der_get_int64(t, &i);
  (void)rsp_der_get_uint64(t, &u);
  (void)rsp_der_get_bool(t, &b);
  (void)rsp_der_get_null(t);
  (void)rsp_der_get_octets(t, 0, 64, &s);
  (void)rsp_der_get_utf8(t, 0, 255, &s);
  (void)rsp_der_get_utf8_cstr(t, buf, sizeof(buf));
  (void)rsp_der_get_bits(t, &bits, &nb);
  (void)rsp_der_get_oid(t, buf, sizeof(buf));
}

static void walk(struct rsp_der_writer *w, const uint8_t *p, const uint8_t *end, int depth) {
  while (p < end) {
    struct rsp_der_tlv t;
    if (rsp_der_read_tlv(&p, end, &t) != RSP_OK) abort(); /* validated before */
    if (rsp_der_tag_constructed(t.tag) && depth < RSP_DER_MAX_DEPTH) {
      rsp_der_begin(w, t.tag);
      walk(w, t.val, t.val + t.len, depth + 1);
      rsp_der_end(w);
    } else {
      poke_primitives(&t);
      rsp_der_put_tlv(w, t.tag, t.val, t.len);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (rsp_der_validate_tree(data, size) != RSP_OK) {
    /* Still exercise the single-element reader on rejected input. */
    const uint8_t *p = data;
    struct rsp_der_tlv t;
    if (rsp_der_read_tlv(&p, data + size, &t) == RSP_OK) poke_primitives(&t);
    return 0;
  }
  struct rsp_buf b;
  struct rsp_der_writer w;
  rsp_buf_init(&b, size + 64);
  rsp_der_writer_init(&w, &b);
  walk(&w, data, data + size, 1);
  if (rsp_der_writer_finish(&w) != RSP_OK || b.len != size || memcmp(b.data, data, size) != 0)
    abort(); /* a valid DER tree must re-encode to itself */
  rsp_buf_free(&b);
  return 0;
}
