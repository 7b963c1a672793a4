/* Property test of the whole message layer against the independent asn1c decoder generated from
 * the reference ASN.1 modules. For every message type lib/msg knows, random valid values are
 * encoded by our codec; asn1c must decode them as the same production, find them within the
 * modules' constraints and re-encode exactly the same DER; our decoder must read them back equal
 * and re-encode them byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asn_application.h"
#include "constr_TYPE.h"
#include "msg_random.h"
#include "rsp/core/alloc.h"
#include "rsp/msg/asn1.h"
#include "test.h"

extern asn_TYPE_descriptor_t *asn_pdu_collection[];

/* asn1c refuses to decode when its stack use passes a limit (30 kB by default); sanitizer builds
 * use several times more stack per frame, so certificates nested in messages hit it. */
static asn_codec_ctx_t asn1c_ctx = {1u << 22};

#define ROUNDS 60

static asn_TYPE_descriptor_t *find_type(const char *name) {
  for (asn_TYPE_descriptor_t **t = asn_pdu_collection; *t; t++)
    if (strcmp((*t)->name, name) == 0) return *t;
  return NULL;
}

struct out_buf {
  unsigned char p[1 << 16];
  size_t len;
};

static int collect(const void *data, size_t n, void *ctx) {
  struct out_buf *o = ctx;
  if (o->len + n > sizeof o->p) return -1;
  memcpy(o->p + o->len, data, n);
  o->len += n;
  return 0;
}

static void hexdump(const char *what, const uint8_t *p, size_t n) {
  fprintf(stderr, "  %s: ", what);
  for (size_t i = 0; i < n && i < 400; i++) fprintf(stderr, "%02X", p[i]);
  fprintf(stderr, "%s\n", n > 400 ? "..." : "");
}

/* asn1c's verdict on our encoding; 0 = same production, within constraints, same DER. */
static int asn1c_verdict(asn_TYPE_descriptor_t *td, const uint8_t *der, size_t len) {
  void *value = NULL;
  static struct out_buf o;
  int rc = 0;
  asn_dec_rval_t dr = ber_decode(&asn1c_ctx, td, &value, der, len);
  if (dr.code != RC_OK || dr.consumed != len) {
    rc = 2;
  } else {
    char err[256];
    size_t errlen = sizeof err;
    if (asn_check_constraints(td, value, err, &errlen) != 0) {
      fprintf(stderr, "  asn1c constraint: %s\n", err);
      rc = 3;
    } else {
      o.len = 0;
      asn_enc_rval_t er = der_encode(td, value, collect, &o);
      if (er.encoded < 0 || o.len != len || memcmp(o.p, der, len) != 0) {
        hexdump("asn1c re-encoding", o.p, o.len);
        rc = 1;
      }
    }
  }
  ASN_STRUCT_FREE(*td, value);
  return rc;
}

static void check_type(const struct rsp_msg_type *t, uint64_t seed, int *with_ref) {
  asn_TYPE_descriptor_t *td = strchr(t->name, '.') ? NULL : find_type(t->name);
  struct rsp_test_rng rng = {seed * 0x9E3779B97F4A7C15ull + 1};
  if (td)
    (*with_ref)++;
  else if (!strchr(t->name, '.'))
    rsp_test_fail(__FILE__, __LINE__, "%s: not in the reference modules", t->name);
  for (int round = 0; round < ROUNDS; round++) {
    struct rsp_arena a;
    struct rsp_buf der, again;
    struct rsp_msg_diag diag;
    rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
    rsp_buf_init(&der, 1 << 16);
    rsp_buf_init(&again, 1 << 16);
    void *v = rsp_test_msg_random(t, &rng, &a), *back = NULL;
    rsp_err_t rc = v ? rsp_msg_encode(t, v, &der, &diag) : RSP_E_NOMEM;
    if (rc != RSP_OK) {
      rsp_test_fail(__FILE__, __LINE__, "%s: encode: %s at %s", t->name, rsp_err_name(rc),
                    diag.path);
      goto next;
    }
    rsp_test_checks++;
    if (td) {
      int verdict = asn1c_verdict(td, der.data, der.len);
      if (verdict != 0) {
        hexdump("ours", der.data, der.len);
        rsp_test_fail(__FILE__, __LINE__, "%s: asn1c verdict %d (round %d)", t->name, verdict,
                      round);
        goto next;
      }
    }
    rc = rsp_msg_decode(t, der.data, der.len, &a, &back, &diag);
    if (rc != RSP_OK) {
      hexdump("ours", der.data, der.len);
      rsp_test_fail(__FILE__, __LINE__, "%s: decode: %s at %s", t->name, rsp_err_name(rc),
                    diag.path);
      goto next;
    }
    CHECK(rsp_msg_equal(t, v, back));
    CHECK_OK(rsp_msg_encode(t, back, &again, NULL));
    CHECK(again.len == der.len && memcmp(again.data, der.data, der.len) == 0);
    CHECK(((struct rsp_slice *)back)->len == der.len);
  next:
    rsp_buf_free(&der);
    rsp_buf_free(&again);
    rsp_arena_free(&a);
    if (rsp_test_failures > 20) return;
  }
}

static void every_type_round_trips_through_asn1c(void) {
  size_t cert_len;
  uint8_t *cert =
      rsp_test_read_file(rsp_test_shared_path("sgp26/eUICC/CERT_EUICC_ECDSA_NIST.der"), &cert_len);
  if (!cert) rsp_test_skip("SGP.26 certificates absent (../shared/sgp26)");
  rsp_test_msg_random_set_certificate(cert, cert_len);
  int with_ref = 0;
  for (size_t i = 0; i < rsp_msg_all_types_count; i++)
    check_type(rsp_msg_all_types[i], i + 1, &with_ref);
  printf("%zu message types, %d checked against asn1c, %d rounds each\n", rsp_msg_all_types_count,
         with_ref, ROUNDS);
  CHECK(with_ref > 150);
  rsp_free(cert);
}

RSP_TESTS(T(every_type_round_trips_through_asn1c))
