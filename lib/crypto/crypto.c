/* openrsp lib/crypto: hashing, random, AES and the X9.63 KDF on OpenSSL 3 EVP.
 *
 * These are the symmetric building blocks of SGP.22 §2.6: SHA-256 for the
 * signed data, the X9.63 KDF that turns the ECKA shared secret into the session
 * keys (§2.6.4), and AES-128 CBC / CMAC for SCP03t, the secure channel that
 * protects the Bound Profile Package (GlobalPlatform SCP03 as profiled by SGP.22).
 */
#ifndef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 30000
#endif
#ifndef OPENSSL_NO_DEPRECATED
#define OPENSSL_NO_DEPRECATED
#endif

#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "crypto_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"

#define COMP "crypto"

/* Logs the oldest OpenSSL error at debug level and empties the queue, so that a
 * failure here never shows up later as a stale error in an unrelated call. */
static rsp_err_t ossl_fail(const char *what) {
  unsigned long e = ERR_peek_error();
  char msg[256];
  ERR_error_string_n(e, msg, sizeof(msg));
  RSP_LOG_D(COMP, "%s failed: %s", what, e ? msg : "no OpenSSL error");
  ERR_clear_error();
  return RSP_E_CRYPTO;
}

/* ---- curves ---------------------------------------------------------------------------------- */

const char *rsp_curve_name(enum rsp_curve curve) {
  switch (curve) {
  case RSP_CURVE_NIST_P256:
    return "nist";
  case RSP_CURVE_BRAINPOOL_P256R1:
    return "brp";
  default:
    return "none";
  }
}

enum rsp_curve rsp_curve_parse(const char *name) {
  static const struct {
    const char *name;
    enum rsp_curve curve;
  } names[] = {
      {"nist", RSP_CURVE_NIST_P256},
      {"p256", RSP_CURVE_NIST_P256},
      {"p-256", RSP_CURVE_NIST_P256},
      {"prime256v1", RSP_CURVE_NIST_P256},
      {"secp256r1", RSP_CURVE_NIST_P256},
      {"brp", RSP_CURVE_BRAINPOOL_P256R1},
      {"brainpool", RSP_CURVE_BRAINPOOL_P256R1},
      {"brainpoolP256r1", RSP_CURVE_BRAINPOOL_P256R1},
  };
  if (!name) return RSP_CURVE_NONE;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcasecmp(name, names[i].name) == 0) return names[i].curve;
  return RSP_CURVE_NONE;
}

/* ---- hashing --------------------------------------------------------------------------------- */

rsp_err_t rsp_sha256(const void *data, size_t len, uint8_t out[RSP_SHA256_LEN]) {
  struct rsp_slice part = {data, len};
  return rsp_sha256_v(&part, 1, out);
}

/* Signed data in RSP is often a concatenation (in ES10b.PrepareDownload, euiccSignature2 covers
 * euiccSigned2 followed by smdpSignature2), so the slice form is the primitive and the
 * single-buffer form a wrapper. */
rsp_err_t rsp_sha256_v(const struct rsp_slice *parts, size_t n, uint8_t out[RSP_SHA256_LEN]) {
  rsp_err_t rc = RSP_E_INTERNAL;
  EVP_MD_CTX *md = NULL;
  unsigned int out_len = 0;

  if ((!parts && n) || !out) return RSP_E_INVALID_ARG;
  for (size_t i = 0; i < n; i++)
    if (!parts[i].p && parts[i].len) return RSP_E_INVALID_ARG;
  md = EVP_MD_CTX_new();
  if (!md) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  if (!EVP_DigestInit_ex2(md, EVP_sha256(), NULL)) goto crypto_err;
  for (size_t i = 0; i < n; i++)
    if (parts[i].len && !EVP_DigestUpdate(md, parts[i].p, parts[i].len)) goto crypto_err;
  if (!EVP_DigestFinal_ex(md, out, &out_len) || out_len != RSP_SHA256_LEN) goto crypto_err;
  rc = RSP_OK;
  goto out;
crypto_err:
  rc = ossl_fail("SHA-256");
out:
  EVP_MD_CTX_free(md);
  return rc;
}

/* ---- random ---------------------------------------------------------------------------------- */

rsp_err_t rsp_random(void *out, size_t n) {
  uint8_t *p = out;
  if (!out && n) return RSP_E_INVALID_ARG;
  /* RAND_bytes takes an int, so very large requests are served in chunks. */
  while (n) {
    int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
    if (RAND_bytes(p, chunk) != 1) return ossl_fail("RAND_bytes");
    p += chunk;
    n -= (size_t)chunk;
  }
  return RSP_OK;
}

/* ---- AES ------------------------------------------------------------------------------------- */

/* One unpadded AES-128 pass (CBC or ECB). SCP03t data is already padded by the caller with the
 * 80 00.. scheme of SCP03, so OpenSSL's PKCS#7 padding must stay off. OpenSSL allows
 * in == out for these modes, which the header promises. */
static rsp_err_t aes_pass(const EVP_CIPHER *cipher, int enc, const uint8_t key[16],
                          const uint8_t *iv, const uint8_t *in, size_t len, uint8_t *out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  EVP_CIPHER_CTX *ctx = NULL;
  int n1 = 0, n2 = 0;

  if (!key || (!in && len) || (!out && len)) return RSP_E_INVALID_ARG;
  if (len % RSP_AES_BLOCK != 0 || len > (size_t)INT_MAX - RSP_AES_BLOCK) return RSP_E_INVALID_ARG;
  ctx = EVP_CIPHER_CTX_new();
  if (!ctx) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  if (!EVP_CipherInit_ex2(ctx, cipher, key, iv, enc, NULL)) goto crypto_err;
  if (!EVP_CIPHER_CTX_set_padding(ctx, 0)) goto crypto_err;
  if (len && !EVP_CipherUpdate(ctx, out, &n1, in, (int)len)) goto crypto_err;
  if (!EVP_CipherFinal_ex(ctx, out + n1, &n2)) goto crypto_err;
  if ((size_t)n1 + (size_t)n2 != len) goto crypto_err;
  rc = RSP_OK;
  goto out;
crypto_err:
  rc = ossl_fail("AES");
out:
  EVP_CIPHER_CTX_free(ctx);
  return rc;
}

rsp_err_t rsp_aes128_cbc_encrypt(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                                 size_t len, uint8_t *out) {
  if (!iv) return RSP_E_INVALID_ARG;
  return aes_pass(EVP_aes_128_cbc(), 1, key, iv, in, len, out);
}

rsp_err_t rsp_aes128_cbc_decrypt(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                                 size_t len, uint8_t *out) {
  if (!iv) return RSP_E_INVALID_ARG;
  return aes_pass(EVP_aes_128_cbc(), 0, key, iv, in, len, out);
}

rsp_err_t rsp_aes128_ecb_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]) {
  return aes_pass(EVP_aes_128_ecb(), 1, key, NULL, in, RSP_AES_BLOCK, out);
}

/* AES-CMAC as in NIST SP 800-38B, used by SCP03t for the C-MAC of every BPP segment;
 * OpenSSL's CMAC takes the CBC cipher name as its parameter. */
rsp_err_t rsp_aes128_cmac_v(const uint8_t key[16], const struct rsp_slice *parts, size_t n,
                            uint8_t mac[RSP_CMAC_LEN]) {
  rsp_err_t rc = RSP_E_INTERNAL;
  EVP_MAC *alg = NULL;
  EVP_MAC_CTX *ctx = NULL;
  size_t mac_len = 0;
  char cipher[] = "AES-128-CBC";
  OSSL_PARAM params[2];

  if (!key || !mac || (!parts && n)) return RSP_E_INVALID_ARG;
  for (size_t i = 0; i < n; i++)
    if (!parts[i].p && parts[i].len) return RSP_E_INVALID_ARG;
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0);
  params[1] = OSSL_PARAM_construct_end();
  alg = EVP_MAC_fetch(NULL, "CMAC", NULL);
  if (!alg) goto crypto_err;
  ctx = EVP_MAC_CTX_new(alg);
  if (!ctx) goto crypto_err;
  if (!EVP_MAC_init(ctx, key, RSP_AES128_KEY_LEN, params)) goto crypto_err;
  for (size_t i = 0; i < n; i++)
    if (parts[i].len && !EVP_MAC_update(ctx, parts[i].p, parts[i].len)) goto crypto_err;
  if (!EVP_MAC_final(ctx, mac, &mac_len, RSP_CMAC_LEN) || mac_len != RSP_CMAC_LEN) goto crypto_err;
  rc = RSP_OK;
  goto out;
crypto_err:
  rc = ossl_fail("AES-CMAC");
out:
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(alg);
  return rc;
}

rsp_err_t rsp_aes128_cmac(const uint8_t key[16], const void *data, size_t len,
                          uint8_t mac[RSP_CMAC_LEN]) {
  struct rsp_slice part = {data, len};
  return rsp_aes128_cmac_v(key, &part, 1, mac);
}

/* ---- X9.63 KDF ------------------------------------------------------------------------------- */

/* ANSI X9.63 KDF with SHA-256 as SGP.22 §2.6.4 uses it (the GlobalPlatform SCP11 scheme):
 * block i = SHA-256(Z || counter_i || SharedInfo), counter from 1 as a big-endian 32-bit
 * integer, the output being the first out_len bytes of the concatenated blocks. The loop is
 * written out rather than delegated to the X963KDF provider so that the exact construction the
 * specification names is visible here; the unit test checks it against NIST CAVS vectors and
 * against OpenSSL's implementation. */
rsp_err_t rsp_kdf_x963_sha256(const uint8_t *z, size_t z_len, const uint8_t *shared_info,
                              size_t si_len, uint8_t *out, size_t out_len) {
  rsp_err_t rc = RSP_E_INTERNAL;
  uint8_t block[RSP_SHA256_LEN];
  uint8_t counter[4];
  size_t done = 0;
  uint32_t i = 1;

  if ((!z && z_len) || (!shared_info && si_len) || (!out && out_len)) return RSP_E_INVALID_ARG;
  /* X9.63 caps the output at hashlen * (2^32 - 1); any size_t past that is refused. */
  if (out_len / RSP_SHA256_LEN >= (size_t)UINT32_MAX) return RSP_E_INVALID_ARG;
  while (done < out_len) {
    struct rsp_slice parts[3] = {{z, z_len}, {counter, 4}, {shared_info, si_len}};
    size_t take = out_len - done < RSP_SHA256_LEN ? out_len - done : RSP_SHA256_LEN;
    counter[0] = (uint8_t)(i >> 24);
    counter[1] = (uint8_t)(i >> 16);
    counter[2] = (uint8_t)(i >> 8);
    counter[3] = (uint8_t)i;
    rc = rsp_sha256_v(parts, 3, block);
    if (rc != RSP_OK) goto out;
    memcpy(out + done, block, take);
    done += take;
    i++;
  }
  rc = RSP_OK;
out:
  /* The last block may hold key material beyond what the caller asked for. */
  rsp_memzero(block, sizeof(block));
  if (rc != RSP_OK && out) rsp_memzero(out, out_len);
  return rc;
}

/* ---- misc ------------------------------------------------------------------------------------ */

bool rsp_ct_equal(const void *a, const void *b, size_t n) {
  if (n == 0) return true;
  return CRYPTO_memcmp(a, b, n) == 0;
}
