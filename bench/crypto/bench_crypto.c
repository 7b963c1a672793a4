/* openrsp bench: ECDSA sign, ECDSA verify and ECDH rates of lib/crypto on both RSP curves.
 *
 * Prints one line per measurement, "<op> <curve> <ops/s>", for bench/crypto/run.sh to put
 * beside `openssl speed` figures measured in the same run. Each operation goes through the
 * public API exactly as the protocol code calls it (SHA-256 of a 32-byte message, DER <-> r||s
 * conversion, a fresh OpenSSL context per call), so the ratio shows the cost of that layer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rsp/crypto/crypto.h"

struct bench_ctx {
  struct rsp_key *priv;
  struct rsp_key *pub;
  struct rsp_key *peer;
  uint8_t msg[32];
  uint8_t sig[RSP_SIG_RAW_LEN];
};

typedef rsp_err_t (*bench_op)(struct bench_ctx *b);

static rsp_err_t op_sign(struct bench_ctx *b) {
  uint8_t sig[RSP_SIG_RAW_LEN];
  return rsp_ecdsa_sign(b->priv, b->msg, sizeof(b->msg), sig);
}

static rsp_err_t op_verify(struct bench_ctx *b) {
  return rsp_ecdsa_verify(b->pub, b->msg, sizeof(b->msg), b->sig);
}

static rsp_err_t op_ecdh(struct bench_ctx *b) {
  uint8_t secret[RSP_ECDH_SECRET_LEN];
  return rsp_ecdh(b->priv, b->peer, secret);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the operation in batches until `seconds` have passed; returns operations per second,
 * or a negative value when an operation failed. */
static double measure(bench_op op, struct bench_ctx *b, double seconds) {
  double start = now(), elapsed = 0;
  long count = 0;
  while (elapsed < seconds) {
    for (int i = 0; i < 16; i++)
      if (op(b) != RSP_OK) return -1;
    count += 16;
    elapsed = now() - start;
  }
  return (double)count / elapsed;
}

static int setup(enum rsp_curve curve, struct bench_ctx *b) {
  uint8_t pt[RSP_EC_POINT_LEN];
  struct rsp_key *other = NULL;
  int ok = 0;

  if (rsp_key_generate(curve, &b->priv) != RSP_OK || rsp_key_point(b->priv, pt) != RSP_OK ||
      rsp_key_from_point(curve, pt, sizeof(pt), &b->pub) != RSP_OK)
    goto out;
  if (rsp_key_generate(curve, &other) != RSP_OK || rsp_key_point(other, pt) != RSP_OK ||
      rsp_key_from_point(curve, pt, sizeof(pt), &b->peer) != RSP_OK)
    goto out;
  if (rsp_random(b->msg, sizeof(b->msg)) != RSP_OK ||
      rsp_ecdsa_sign(b->priv, b->msg, sizeof(b->msg), b->sig) != RSP_OK)
    goto out;
  ok = 1;
out:
  rsp_key_free(other);
  return ok;
}

int main(int argc, char **argv) {
  static const enum rsp_curve curves[] = {RSP_CURVE_NIST_P256, RSP_CURVE_BRAINPOOL_P256R1};
  static const struct {
    const char *name;
    bench_op op;
  } ops[] = {{"sign", op_sign}, {"verify", op_verify}, {"ecdh", op_ecdh}};
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  int rc = 0;

  if (seconds <= 0) seconds = 1.0;
  for (size_t c = 0; c < sizeof(curves) / sizeof(curves[0]); c++) {
    struct bench_ctx b = {0};
    if (!setup(curves[c], &b)) {
      fprintf(stderr, "bench_crypto: setup failed for %s\n", rsp_curve_name(curves[c]));
      rc = 1;
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]) && b.peer; i++) {
      double r = measure(ops[i].op, &b, seconds);
      if (r < 0) {
        fprintf(stderr, "bench_crypto: %s failed on %s\n", ops[i].name, rsp_curve_name(curves[c]));
        rc = 1;
        continue;
      }
      printf("%s %s %.1f\n", ops[i].name, rsp_curve_name(curves[c]), r);
      fflush(stdout);
    }
    rsp_key_free(b.priv);
    rsp_key_free(b.pub);
    rsp_key_free(b.peer);
  }
  return rc;
}
