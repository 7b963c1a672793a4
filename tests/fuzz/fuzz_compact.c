/* libFuzzer target for the compact ESipa forms (rsp/msg/compact.h): the eIM expands what a device
 * sent, the IPA compresses what a card answered. The first byte picks the function, the rest is
 * its input; the context is fixed. Invariant (abort when broken): an accepted input gives one
 * strict DER element of the function's output type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/msg/asn1.h"
#include "rsp/msg/compact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef rsp_err_t (*expand_fn)(const uint8_t *, size_t, const struct rsp_msg_compact_context *,
                               struct rsp_buf *);
typedef rsp_err_t (*compress_fn)(const uint8_t *, size_t, const struct rsp_msg_compact_opts *,
                                 struct rsp_buf *);

static rsp_err_t notification_compress(const uint8_t *der, size_t len,
                                       const struct rsp_msg_compact_opts *o, struct rsp_buf *out) {
  static const uint8_t eid[16] = {0x89};
  return rsp_msg_compact_notification_compress(der, len, o, rsp_msg_slice(eid, 16), out);
}

static const struct {
  expand_fn expand;
  compress_fn compress;
  const struct rsp_msg_type *type; /* of the output */
} FUNCS[] = {
    {rsp_msg_compact_auth_expand, rsp_msg_compact_auth_compress,
     &rsp_msgt_sgp32_authenticate_server_response},
    {rsp_msg_compact_prepare_expand, rsp_msg_compact_prepare_compress,
     &rsp_msgt_sgp32_prepare_download_response},
    {rsp_msg_compact_notification_expand, notification_compress,
     &rsp_msgt_sgp32_pending_notification},
    {rsp_msg_compact_cancel_expand, rsp_msg_compact_cancel_compress,
     &rsp_msgt_sgp32_cancel_session_response},
};

static void check_output(const struct rsp_msg_type *t, const struct rsp_buf *out) {
  struct rsp_arena a;
  void *v = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (rsp_msg_decode(t, out->data, out->len, &a, &v, NULL) != RSP_OK) abort();
  rsp_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t txid[] = {0x01, 0x02, 0x03, 0x04}, challenge[16] = {0x11},
                       oid[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37}, iccid[10] = {0x98, 0x44},
                       cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  struct rsp_msg_compact_context c = {.transaction_id = rsp_msg_slice(txid, sizeof txid),
                                      .server_address = rsp_msg_slice("smdp.example", 12),
                                      .server_challenge = rsp_msg_slice(challenge, 16),
                                      .euicc_certificate = rsp_msg_slice(cert, sizeof cert),
                                      .eum_certificate = rsp_msg_slice(cert, sizeof cert),
                                      .bpp_euicc_otpk = rsp_msg_slice(challenge, 16),
                                      .smdp_oid = rsp_msg_slice(oid, sizeof oid),
                                      .iccid = rsp_msg_slice(iccid, 10)};
  struct rsp_buf out;
  if (size < 1) return 0;
  size_t i = data[0] % (2 * (sizeof FUNCS / sizeof FUNCS[0]));
  const uint8_t *in = data + 1;
  size_t len = size - 1;
  rsp_buf_init(&out, 1u << 20);
  if (i % 2 == 0) {
    if (FUNCS[i / 2].expand(in, len, &c, &out) == RSP_OK) check_output(FUNCS[i / 2].type, &out);
  } else if (FUNCS[i / 2].compress(in, len, NULL, &out) == RSP_OK) {
    check_output(FUNCS[i / 2].type, &out);
  }
  rsp_buf_free(&out);
  return 0;
}
