/* Signed-input builders (notes 3.1, 3.4, 4.3). */
#include "rsp/msg/signed.h"

#include "rsp/der/der.h"
#include "rsp/msg/tags.h"

static rsp_err_t check_one(struct rsp_slice s) {
  struct rsp_der_tlv tlv;
  if (!s.p) return RSP_E_INVALID_ARG;
  return rsp_der_parse_one(s.p, s.len, &tlv);
}

static rsp_err_t finish(struct rsp_der_writer *w, struct rsp_buf *out, size_t start) {
  rsp_err_t rc = rsp_der_writer_finish(w);
  if (rc != RSP_OK) out->len = start;
  return rc;
}

rsp_err_t rsp_msg_signed_with_token(struct rsp_slice data, struct rsp_msg_token token,
                                    struct rsp_buf *out) {
  struct rsp_der_writer w;
  size_t start = out->len;
  rsp_err_t rc = check_one(data);
  if (rc != RSP_OK) return rc;
  rsp_der_writer_init(&w, out);
  rsp_der_put_raw(&w, data.p, data.len);
  /* associationToken [4] INTEGER, context tag 84 */
  rsp_der_put_int64(&w, RSP_DER_CLASS_CONTEXT | 4u, token.present ? token.value : 0);
  return finish(&w, out, start);
}

static rsp_err_t data_then_signature(struct rsp_slice data, struct rsp_slice sig,
                                     struct rsp_buf *out) {
  struct rsp_der_writer w;
  size_t start = out->len;
  rsp_err_t rc = check_one(data);
  if (rc != RSP_OK) return rc;
  if (!sig.p || sig.len != RSP_MSG_SIG_LEN) return RSP_E_SIG_FORMAT;
  rsp_der_writer_init(&w, out);
  rsp_der_put_raw(&w, data.p, data.len);
  rsp_der_put_octets(&w, RSP_MSG_TAG_SIGNATURE, sig.p, sig.len); /* 5F37 */
  return finish(&w, out, start);
}

rsp_err_t rsp_msg_signed_smdp2(struct rsp_slice smdp_signed2, struct rsp_slice euicc_signature1,
                               struct rsp_buf *out) {
  return data_then_signature(smdp_signed2, euicc_signature1, out);
}

rsp_err_t rsp_msg_signed_euicc2(struct rsp_slice euicc_signed2, struct rsp_slice smdp_signature2,
                                struct rsp_buf *out) {
  return data_then_signature(euicc_signed2, smdp_signature2, out);
}

rsp_err_t rsp_msg_signed_isc(struct rsp_slice isc, struct rsp_slice euicc_otpk,
                             struct rsp_buf *out) {
  struct rsp_der_tlv tlv, child;
  struct rsp_der_writer w;
  const uint8_t *p, *end;
  size_t start = out->len;
  rsp_err_t rc = check_one(isc);
  if (rc != RSP_OK) return rc;
  rsp_der_parse_one(isc.p, isc.len, &tlv);
  if (tlv.tag != RSP_TAG_INITIALISE_SECURE_CHANNEL_REQUEST) return RSP_E_DER_UNEXPECTED_TAG;
  if (!euicc_otpk.p || euicc_otpk.len == 0) return RSP_E_INVALID_ARG;
  rsp_der_writer_init(&w, out);
  rsp_der_children(&tlv, &p, &end);
  while (p < end) {
    if ((rc = rsp_der_read_tlv(&p, end, &child)) != RSP_OK) {
      out->len = start;
      return rc;
    }
    if (child.tag != RSP_MSG_TAG_SIGNATURE) rsp_der_put_raw(&w, child.raw, child.raw_len);
  }
  rsp_der_put_octets(&w, RSP_MSG_TAG_OTPK, euicc_otpk.p, euicc_otpk.len); /* 5F49 */
  return finish(&w, out, start);
}

rsp_err_t rsp_msg_signed_element(struct rsp_slice element, struct rsp_buf *out) {
  rsp_err_t rc = check_one(element);
  if (rc != RSP_OK) return rc;
  return rsp_buf_append(out, element.p, element.len);
}
