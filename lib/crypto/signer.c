/* openrsp lib/crypto: the signer interface and its in-process implementation.
 *
 * The private keys of an RSP role (SK.EUICC.ECDSA, SK.DPauth.ECDSA, SK.DPpb.ECDSA
 * of SGP.22 §2.6, the eIM signing key of SGP.32) are only ever reached through a
 * struct rsp_signer. The in-process signer below keeps the key in this process;
 * another implementation of struct rsp_signer_ops can keep it in a separate
 * process that only answers sign requests, without the callers changing.
 *
 * Ownership: a signer is created by its implementation's constructor, and its
 * ops->destroy releases everything that constructor allocated, the struct
 * rsp_signer included. A test fake may live on the stack with destroy == NULL.
 */
#include "rsp/crypto/signer.h"

#include "crypto_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"

#define COMP "signer"

/* ---- generic wrappers ------------------------------------------------------------------------ */

rsp_err_t rsp_signer_sign_v(struct rsp_signer *s, const struct rsp_slice *parts, size_t n,
                            uint8_t sig[RSP_SIG_RAW_LEN]) {
  if (!s || !s->ops || !s->ops->sign || !sig) return RSP_E_INVALID_ARG;
  return s->ops->sign(s, parts, n, sig);
}

rsp_err_t rsp_signer_sign(struct rsp_signer *s, const void *msg, size_t len,
                          uint8_t sig[RSP_SIG_RAW_LEN]) {
  struct rsp_slice part = {msg, len};
  return rsp_signer_sign_v(s, &part, 1, sig);
}

const struct rsp_key *rsp_signer_public_key(struct rsp_signer *s) {
  if (!s || !s->ops || !s->ops->public_key) return NULL;
  return s->ops->public_key(s);
}

enum rsp_curve rsp_signer_curve(struct rsp_signer *s) {
  return rsp_key_curve(rsp_signer_public_key(s));
}

void rsp_signer_destroy(struct rsp_signer *s) {
  if (!s || !s->ops || !s->ops->destroy) return;
  s->ops->destroy(s);
}

/* ---- in-process signer ----------------------------------------------------------------------- */

/* The key pair stays private to this file. Callers asking for the public key get a separate
 * public-only struct rsp_key, so a pointer handed out by public_key can never be used to sign
 * outside the signer. */
struct inproc {
  struct rsp_signer signer;
  struct rsp_key *pair;
  struct rsp_key *pub;
};

static struct inproc *inproc_of(struct rsp_signer *s) { return s ? s->ctx : NULL; }

static rsp_err_t inproc_sign(struct rsp_signer *s, const struct rsp_slice *parts, size_t n,
                             uint8_t sig[RSP_SIG_RAW_LEN]) {
  struct inproc *ip = inproc_of(s);
  if (!ip) return RSP_E_INVALID_ARG;
  return rsp_ecdsa_sign_v(ip->pair, parts, n, sig);
}

static rsp_err_t inproc_ecdh(struct rsp_signer *s, const struct rsp_key *peer,
                             uint8_t secret[RSP_ECDH_SECRET_LEN]) {
  struct inproc *ip = inproc_of(s);
  if (!ip) return RSP_E_INVALID_ARG;
  return rsp_ecdh(ip->pair, peer, secret);
}

static const struct rsp_key *inproc_public_key(struct rsp_signer *s) {
  struct inproc *ip = inproc_of(s);
  return ip ? ip->pub : NULL;
}

static void inproc_destroy(struct rsp_signer *s) {
  struct inproc *ip = inproc_of(s);
  if (!ip) return;
  rsp_key_free(ip->pair);
  rsp_key_free(ip->pub);
  rsp_free(ip);
}

static const struct rsp_signer_ops inproc_ops = {
    .name = "inproc",
    .sign = inproc_sign,
    .ecdh = inproc_ecdh,
    .public_key = inproc_public_key,
    .destroy = inproc_destroy,
};

/* Ownership of `key` passes to this function whatever the outcome, so a caller never has to
 * work out whether to free it after a failure. */
rsp_err_t rsp_signer_inproc_take_key(struct rsp_key *key, struct rsp_signer **out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct inproc *ip = NULL;
  struct rsp_key *pub = NULL;
  uint8_t point[RSP_EC_POINT_LEN];

  if (!out) {
    rc = RSP_E_INVALID_ARG;
    goto out;
  }
  *out = NULL;
  if (!key) {
    rc = RSP_E_INVALID_ARG;
    goto out;
  }
  if (!rsp_key_has_private(key)) {
    rc = RSP_E_KEY_INVALID;
    goto out;
  }
  if ((rc = rsp_key_point(key, point)) != RSP_OK) goto out;
  if ((rc = rsp_key_from_point(rsp_key_curve(key), point, sizeof(point), &pub)) != RSP_OK) goto out;
  ip = rsp_calloc(1, sizeof(*ip));
  if (!ip) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  ip->signer.ops = &inproc_ops;
  ip->signer.ctx = ip;
  ip->pair = key;
  ip->pub = pub;
  key = NULL;
  pub = NULL;
  *out = &ip->signer;
  rc = RSP_OK;
out:
  rsp_key_free(pub);
  rsp_key_free(key);
  return rc;
}

rsp_err_t rsp_signer_inproc_from_bytes(const uint8_t *data, size_t len, struct rsp_signer **out) {
  struct rsp_key *key = NULL;
  rsp_err_t rc;

  if (!data || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  rc = rsp_key_parse(data, len, true, &key);
  if (rc != RSP_OK) return rc;
  return rsp_signer_inproc_take_key(key, out);
}

rsp_err_t rsp_signer_inproc_load(const char *key_path, struct rsp_signer **out) {
  struct rsp_key *key = NULL;
  rsp_err_t rc;

  if (!key_path || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  rc = rsp_key_load_file(key_path, true, &key);
  if (rc != RSP_OK) {
    RSP_LOG_E(COMP, "cannot load signing key %s: %s", key_path, rsp_strerror(rc));
    return rc;
  }
  rc = rsp_signer_inproc_take_key(key, out);
  if (rc == RSP_OK)
    RSP_LOG_D(COMP, "in-process signer on %s key %s", rsp_curve_name(rsp_signer_curve(*out)),
              key_path);
  return rc;
}
