/* openrsp: cryptographic primitives used by RSP (SGP.22 §2.6, SGP.32 §2.11), on OpenSSL 3.
 *
 * No OpenSSL type appears in this header: keys are opaque `struct rsp_key`.
 * RSP-level signatures (the 5F37 values) are ECDSA-SHA256 in the plain 64-byte
 * r||s form of BSI TR-03111; certificates keep DER ECDSA-Sig-Value signatures.
 */
#ifndef RSP_CRYPTO_CRYPTO_H
#define RSP_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"

#define RSP_SHA256_LEN 32
#define RSP_SIG_RAW_LEN 64 /* r || s, 32 bytes each */
#define RSP_SIG_DER_MAX 72
#define RSP_EC_POINT_LEN 65 /* 04 || X || Y */
#define RSP_ECDH_SECRET_LEN 32
#define RSP_AES_BLOCK 16
#define RSP_AES128_KEY_LEN 16
#define RSP_CMAC_LEN 16

enum rsp_curve {
  RSP_CURVE_NONE = 0,
  RSP_CURVE_NIST_P256,       /* 1.2.840.10045.3.1.7 */
  RSP_CURVE_BRAINPOOL_P256R1 /* 1.3.36.3.3.2.8.1.1.7 */
};

const char *rsp_curve_name(enum rsp_curve curve); /* "nist" / "brp" */
enum rsp_curve rsp_curve_parse(const char *name); /* accepts nist, p256, prime256v1, brp,
                                                     brainpool, brainpoolP256r1 */

/* ---- hashing -------------------------------------------------------------------------------- */
rsp_err_t rsp_sha256(const void *data, size_t len, uint8_t out[RSP_SHA256_LEN]);
/* Hash of the concatenation of n slices (signature inputs are concatenations). */
rsp_err_t rsp_sha256_v(const struct rsp_slice *parts, size_t n, uint8_t out[RSP_SHA256_LEN]);

/* ---- random --------------------------------------------------------------------------------- */
rsp_err_t rsp_random(void *out, size_t n);

/* ---- EC keys -------------------------------------------------------------------------------- */
struct rsp_key; /* opaque; an EC public key or key pair */

rsp_err_t rsp_key_generate(enum rsp_curve curve, struct rsp_key **out);
/* Public key from an uncompressed point 04||X||Y on the given curve (point is validated). */
rsp_err_t rsp_key_from_point(enum rsp_curve curve, const uint8_t *pt, size_t pt_len,
                             struct rsp_key **out);
/* Public key from a DER SubjectPublicKeyInfo. */
rsp_err_t rsp_key_from_spki(const uint8_t *der, size_t len, struct rsp_key **out);
/* Public or private key from PEM or DER bytes (private keys: used only behind the signer). */
rsp_err_t rsp_key_parse(const uint8_t *data, size_t len, bool private_key, struct rsp_key **out);
rsp_err_t rsp_key_load_file(const char *path, bool private_key, struct rsp_key **out);
/* Writes the private key as PEM (PKCS#8) or the public key as PEM SPKI. */
rsp_err_t rsp_key_write_pem(const struct rsp_key *key, bool private_key, const char *path);
enum rsp_curve rsp_key_curve(const struct rsp_key *key);
bool rsp_key_has_private(const struct rsp_key *key);
rsp_err_t rsp_key_point(const struct rsp_key *key, uint8_t out[RSP_EC_POINT_LEN]);
rsp_err_t rsp_key_spki(const struct rsp_key *key, struct rsp_buf *out);
void rsp_key_free(struct rsp_key *key); /* NULL-safe */
/* Internal handle (an EVP_PKEY *) for the other files of lib/crypto. */
void *rsp__key_evp(const struct rsp_key *key);

/* ---- ECDSA ---------------------------------------------------------------------------------- */
/* DER ECDSA-Sig-Value <-> r||s. DER input must be strict DER (minimal INTEGERs). */
rsp_err_t rsp_ecdsa_sig_der_to_raw(const uint8_t *der, size_t der_len,
                                   uint8_t raw[RSP_SIG_RAW_LEN]);
rsp_err_t rsp_ecdsa_sig_raw_to_der(const uint8_t raw[RSP_SIG_RAW_LEN], uint8_t *der,
                                   size_t der_size, size_t *der_len);
/* ECDSA-SHA256 over the concatenation of the parts, r||s output / input. */
rsp_err_t rsp_ecdsa_sign_v(const struct rsp_key *priv, const struct rsp_slice *parts, size_t n,
                           uint8_t sig[RSP_SIG_RAW_LEN]);
rsp_err_t rsp_ecdsa_sign(const struct rsp_key *priv, const void *msg, size_t len,
                         uint8_t sig[RSP_SIG_RAW_LEN]);
/* RSP_OK when valid, RSP_E_SIG_INVALID when not, other codes on bad input. */
rsp_err_t rsp_ecdsa_verify_v(const struct rsp_key *pub, const struct rsp_slice *parts, size_t n,
                             const uint8_t sig[RSP_SIG_RAW_LEN]);
rsp_err_t rsp_ecdsa_verify(const struct rsp_key *pub, const void *msg, size_t len,
                           const uint8_t sig[RSP_SIG_RAW_LEN]);

/* ---- key agreement and derivation ----------------------------------------------------------- */
/* ECDH: the x-coordinate of priv * peer (SGP.22 §2.6.4: ShS). Curves must match. */
rsp_err_t rsp_ecdh(const struct rsp_key *priv, const struct rsp_key *peer,
                   uint8_t secret[RSP_ECDH_SECRET_LEN]);
/* ANSI X9.63 KDF with SHA-256 (counter from 1, big-endian 32-bit). */
rsp_err_t rsp_kdf_x963_sha256(const uint8_t *z, size_t z_len, const uint8_t *shared_info,
                              size_t si_len, uint8_t *out, size_t out_len);

/* ---- AES ------------------------------------------------------------------------------------ */
/* AES-128-CBC without padding: len must be a multiple of 16. in == out is allowed. */
rsp_err_t rsp_aes128_cbc_encrypt(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                                 size_t len, uint8_t *out);
rsp_err_t rsp_aes128_cbc_decrypt(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                                 size_t len, uint8_t *out);
/* AES-128 of one block in ECB mode (used for the BSP ICV). */
rsp_err_t rsp_aes128_ecb_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]);
/* AES-CMAC (NIST SP 800-38B) over the concatenation of the parts. */
rsp_err_t rsp_aes128_cmac_v(const uint8_t key[16], const struct rsp_slice *parts, size_t n,
                            uint8_t mac[RSP_CMAC_LEN]);
rsp_err_t rsp_aes128_cmac(const uint8_t key[16], const void *data, size_t len,
                          uint8_t mac[RSP_CMAC_LEN]);

/* Constant-time comparison; true when equal. */
bool rsp_ct_equal(const void *a, const void *b, size_t n);

#endif
