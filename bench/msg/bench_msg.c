/* Message codec speed against asn1c's generated codec (the test-only reference decoder), in the
 * same process: decode and encode of an eIM package (notes 3.1), its ESipa envelope, and a bound
 * profile package of 40 segments of 1020 bytes (the largest message an IPA handles).
 *
 *   bench_msg [seconds-per-case]
 *
 * Prints, per message and direction, our rate, asn1c's rate and the ratio. Both decoders read the
 * same bytes; asn1c copies every field into its own allocations, we point into the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asn_application.h"
#include "constr_TYPE.h"
#include "rsp/core/hex.h"
#include "rsp/msg/asn1.h"

extern asn_TYPE_descriptor_t *asn_pdu_collection[];

/* asn1c refuses to decode when its stack use passes a limit (30 kB by default); sanitizer builds
 * use several times more stack per frame, so certificates nested in messages hit it. */
static asn_codec_ctx_t asn1c_ctx = {1u << 22};

static const char *EPRQ_HEX =
    "BF518182303D800365494D5A1089044045118427484800000000011628810203EE8210F92B2FEE35632499E841CB"
    "754FDFD9F3A00EA30C5A0A989444999999990920F35F37408D5DE179B03A3FE13CD3A7E5A947FDDBB831ACC8F9AA"
    "FDC9777D314837CB0C805EE3029BF2445611C1580DC4470147DD6293ECA66987BC9A0A704CAB0031B223";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static asn_TYPE_descriptor_t *find(const char *name) {
  for (asn_TYPE_descriptor_t **t = asn_pdu_collection; *t; t++)
    if (strcmp((*t)->name, name) == 0) return *t;
  return NULL;
}

static int discard(const void *d, size_t n, void *ctx) {
  (void)d;
  *(size_t *)ctx += n;
  return 0;
}

typedef int (*op_fn)(const struct rsp_msg_type *t, asn_TYPE_descriptor_t *td, const uint8_t *der,
                     size_t len);

static int ours_decode(const struct rsp_msg_type *t, asn_TYPE_descriptor_t *td, const uint8_t *der,
                       size_t len) {
  (void)td;
  struct rsp_arena a;
  void *v;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  int ok = rsp_msg_decode(t, der, len, &a, &v, NULL) == RSP_OK;
  rsp_arena_free(&a);
  return ok;
}

static int ref_decode(const struct rsp_msg_type *t, asn_TYPE_descriptor_t *td, const uint8_t *der,
                      size_t len) {
  (void)t;
  void *v = NULL;
  asn_dec_rval_t r = ber_decode(&asn1c_ctx, td, &v, der, len);
  ASN_STRUCT_FREE(*td, v);
  return r.code == RC_OK;
}

static int ours_encode(const struct rsp_msg_type *t, asn_TYPE_descriptor_t *td, const uint8_t *der,
                       size_t len) {
  (void)td;
  static struct rsp_arena a;
  static void *v;
  static const uint8_t *cached;
  struct rsp_buf out;
  if (cached != der) { /* decode once, then measure encoding only */
    rsp_arena_free(&a);
    rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
    if (rsp_msg_decode(t, der, len, &a, &v, NULL) != RSP_OK) return 0;
    cached = der;
  }
  rsp_buf_init(&out, 1u << 20);
  int ok = rsp_msg_encode(t, v, &out, NULL) == RSP_OK && out.len == len;
  rsp_buf_free(&out);
  return ok;
}

static int ref_encode(const struct rsp_msg_type *t, asn_TYPE_descriptor_t *td, const uint8_t *der,
                      size_t len) {
  (void)t;
  static void *v;
  static const uint8_t *cached;
  if (cached != der) {
    v = NULL;
    if (ber_decode(&asn1c_ctx, td, &v, der, len).code != RC_OK) return 0;
    cached = der;
  }
  size_t n = 0;
  return der_encode(td, v, discard, &n).encoded == (ssize_t)len;
}

static double rate(op_fn op, const struct rsp_msg_type *t, asn_TYPE_descriptor_t *td,
                   const uint8_t *der, size_t len, double secs) {
  long n = 0;
  double start = now(), el;
  do {
    for (int i = 0; i < 64; i++)
      if (!op(t, td, der, len)) return -1;
    n += 64;
  } while ((el = now() - start) < secs);
  return (double)n / el;
}

static void run(const char *label, const struct rsp_msg_type *t, const uint8_t *der, size_t len,
                double secs) {
  asn_TYPE_descriptor_t *td = find(t->name);
  if (!td) return;
  double od = rate(ours_decode, t, td, der, len, secs),
         rd = rate(ref_decode, t, td, der, len, secs);
  double oe = rate(ours_encode, t, td, der, len, secs),
         re = rate(ref_encode, t, td, der, len, secs);
  printf("%-28s %7zu B  decode %10.0f/s asn1c %10.0f/s ratio %5.2f   encode %10.0f/s asn1c "
         "%10.0f/s ratio %5.2f\n",
         label, len, od, rd, od / rd, oe, re, oe / re);
}

/* A BoundProfilePackage with `segments` 86 segments of 1020 bytes (MAC-sized content). */
static uint8_t *make_bpp(size_t segments, size_t *len) {
  static uint8_t seg[1020 - 4], otpk[65], sig[64], txid[16], one[1] = {1}, key_type[1] = {0x88},
                                                             key_len[1] = {0x10};
  struct rsp_slice s86[64], s87 = {seg, 200}, s88 = {seg, 300};
  struct rsp_msg_control_ref_template crt = {
      .key_type = {key_type, 1}, .key_len = {key_len, 1}, .host_id = {txid, 8}};
  struct rsp_msg_initialise_secure_channel_request isc = {.remote_op_id = 1,
                                                          .transaction_id = {txid, 16},
                                                          .control_ref_template = &crt,
                                                          .smdp_otpk = {otpk, 65},
                                                          .smdp_sign = {sig, 64}};
  struct rsp_msg_bound_profile_package_first_sequence_of87 l87 = {{0}, &s87, 1};
  struct rsp_msg_bound_profile_package_sequence_of88 l88 = {{0}, &s88, 1};
  struct rsp_msg_bound_profile_package_sequence_of86 l86 = {{0}, s86, segments};
  struct rsp_msg_bound_profile_package bpp = {.initialise_secure_channel_request = &isc,
                                              .first_sequence_of87 = &l87,
                                              .sequence_of88 = &l88,
                                              .sequence_of86 = &l86};
  struct rsp_buf out;
  (void)one;
  for (size_t i = 0; i < segments; i++) s86[i] = rsp_msg_slice(seg, sizeof seg);
  rsp_buf_init(&out, 1u << 20);
  if (rsp_msg_encode(&rsp_msgt_bound_profile_package, &bpp, &out, NULL) != RSP_OK) exit(1);
  return rsp_buf_take(&out, len);
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 1.0;
  uint8_t req[256], env[300], *bpp;
  size_t req_len, bpp_len;
  if (rsp_hex_decode(EPRQ_HEX, req, sizeof req, &req_len) != RSP_OK) return 1;
  memcpy(env, "\xBF\x4F\x81\x86", 4);
  memcpy(env + 4, req, req_len);
  bpp = make_bpp(40, &bpp_len);
  run("EuiccPackageRequest", &rsp_msgt_euicc_package_request, req, req_len, secs);
  run("EsipaMessageFromEimToIpa", &rsp_msgt_esipa_message_from_eim_to_ipa, env, req_len + 4, secs);
  run("BoundProfilePackage (40x1020)", &rsp_msgt_bound_profile_package, bpp, bpp_len, secs);
  free(bpp);
  return 0;
}
