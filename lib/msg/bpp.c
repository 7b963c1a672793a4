/* Cutting a Bound Profile Package into LoadBoundProfilePackage calls (SGP.22 §2.5.5, notes 4.5).
 * The rules are in include/rsp/msg/bpp.h. */
#include "rsp/msg/bpp.h"

#include "rsp/der/der.h"
#include "rsp/msg/tags.h"

struct split {
  struct rsp_slice *seg;
  size_t seg_size;
  size_t n;
};

static void emit(struct split *sp, const uint8_t *from, const uint8_t *to) {
  if (sp->n < sp->seg_size) {
    sp->seg[sp->n].p = from;
    sp->seg[sp->n].len = (size_t)(to - from);
  }
  sp->n++;
}

/* One container (A0..A3) whose elements must all carry `elem`. With `with_first` the container
 * header travels with its first element (A0 and A2); otherwise the header is a call of its own
 * (A1 and A3). */
static rsp_err_t container(struct split *sp, const uint8_t **p, const uint8_t *end, uint32_t tag,
                           uint32_t elem, bool with_first) {
  struct rsp_der_tlv c, e;
  const uint8_t *q, *qend;
  rsp_err_t rc = rsp_der_read_expect(p, end, tag, &c);
  if (rc != RSP_OK) return rc;
  rsp_der_children(&c, &q, &qend);
  const uint8_t *pending = c.raw; /* start of the header not emitted yet */
  if (!with_first || q == qend) {
    emit(sp, c.raw, c.val);
    pending = NULL;
  }
  while (q < qend) {
    if ((rc = rsp_der_read_expect(&q, qend, elem, &e)) != RSP_OK) return rc;
    emit(sp, pending ? pending : e.raw, e.raw + e.raw_len);
    pending = NULL;
  }
  return RSP_OK;
}

rsp_err_t rsp_msg_bpp_split(const uint8_t *bpp, size_t len, struct rsp_slice *seg, size_t seg_size,
                            size_t *n) {
  struct split sp = {seg, seg_size, 0};
  struct rsp_der_tlv outer, isc;
  const uint8_t *p, *end;
  bool present;
  if (!bpp || !n || (seg_size && !seg)) return RSP_E_INVALID_ARG;
  rsp_err_t rc = rsp_der_parse_one(bpp, len, &outer);
  if (rc == RSP_OK && outer.tag != RSP_TAG_BOUND_PROFILE_PACKAGE) rc = RSP_E_DER_UNEXPECTED_TAG;
  if (rc != RSP_OK) return rc;
  rsp_der_children(&outer, &p, &end);
  /* 1: BF36 header + InitialiseSecureChannelRequest */
  if ((rc = rsp_der_read_expect(&p, end, RSP_TAG_INITIALISE_SECURE_CHANNEL_REQUEST, &isc)) !=
      RSP_OK)
    return rc;
  emit(&sp, outer.raw, isc.raw + isc.raw_len);
  /* 2 to 7 */
  rc = container(&sp, &p, end, RSP_MSG_TAG_BPP_FIRST_SEQUENCE_OF_87, RSP_MSG_TAG_BPP_ELEMENT_87,
                 true);
  if (rc == RSP_OK)
    rc = container(&sp, &p, end, RSP_MSG_TAG_BPP_SEQUENCE_OF_88, RSP_MSG_TAG_BPP_ELEMENT_88, false);
  if (rc == RSP_OK) {
    uint32_t tag;
    present =
        rsp_der_peek_tag(p, end, &tag) == RSP_OK && tag == RSP_MSG_TAG_BPP_SECOND_SEQUENCE_OF_87;
    if (present)
      rc = container(&sp, &p, end, RSP_MSG_TAG_BPP_SECOND_SEQUENCE_OF_87,
                     RSP_MSG_TAG_BPP_ELEMENT_87, true);
  }
  if (rc == RSP_OK)
    rc = container(&sp, &p, end, RSP_MSG_TAG_BPP_SEQUENCE_OF_86, RSP_MSG_TAG_BPP_ELEMENT_86, false);
  if (rc == RSP_OK && p != end) rc = RSP_E_DER_TRAILING_BYTES;
  if (rc != RSP_OK) return rc;
  *n = sp.n;
  return sp.n > seg_size ? RSP_E_BUF_SMALL : RSP_OK;
}
