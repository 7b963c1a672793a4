/* openrsp: the signer interface.
 *
 * Private keys are reached only through a signer, so network-facing code never
 * holds key material: the in-process signer is the default, a separate signer
 * process can implement the same table. Key-loading code lives only behind it.
 */
#ifndef RSP_CRYPTO_SIGNER_H
#define RSP_CRYPTO_SIGNER_H

#include "rsp/crypto/crypto.h"

struct rsp_signer;

struct rsp_signer_ops {
  const char *name;
  /* ECDSA-SHA256 over the concatenation of the parts, plain r||s. */
  rsp_err_t (*sign)(struct rsp_signer *s, const struct rsp_slice *parts, size_t n,
                    uint8_t sig[RSP_SIG_RAW_LEN]);
  /* ECDH with the signer's private key (eUICC and SM-DP+ static keys are not used this way in
   * RSP, but one-time keys kept behind a signer are). May be NULL when unsupported. */
  rsp_err_t (*ecdh)(struct rsp_signer *s, const struct rsp_key *peer,
                    uint8_t secret[RSP_ECDH_SECRET_LEN]);
  /* The public half; the signer keeps ownership. */
  const struct rsp_key *(*public_key)(struct rsp_signer *s);
  /* Releases everything the implementation's constructor allocated, the struct rsp_signer
   * itself included (rsp_signer_destroy frees nothing else). May be NULL for a signer that
   * owns nothing, such as a test fake on the stack. */
  void (*destroy)(struct rsp_signer *s);
};

struct rsp_signer {
  const struct rsp_signer_ops *ops;
  void *ctx;
};

rsp_err_t rsp_signer_sign_v(struct rsp_signer *s, const struct rsp_slice *parts, size_t n,
                            uint8_t sig[RSP_SIG_RAW_LEN]);
rsp_err_t rsp_signer_sign(struct rsp_signer *s, const void *msg, size_t len,
                          uint8_t sig[RSP_SIG_RAW_LEN]);
const struct rsp_key *rsp_signer_public_key(struct rsp_signer *s);
enum rsp_curve rsp_signer_curve(struct rsp_signer *s);
void rsp_signer_destroy(struct rsp_signer *s); /* NULL-safe */

/* In-process signer over a PEM/DER private key file (SEC1 or PKCS#8). */
rsp_err_t rsp_signer_inproc_load(const char *key_path, struct rsp_signer **out);
/* In-process signer over key bytes (PEM or DER). */
rsp_err_t rsp_signer_inproc_from_bytes(const uint8_t *data, size_t len, struct rsp_signer **out);
/* In-process signer taking ownership of a private key (e.g. a freshly generated one). */
rsp_err_t rsp_signer_inproc_take_key(struct rsp_key *key, struct rsp_signer **out);

#endif
