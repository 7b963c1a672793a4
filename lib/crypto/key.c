/* openrsp lib/crypto: EC keys, ECDSA and ECDH on OpenSSL 3 EVP.
 *
 * RSP uses two curves only, NIST P-256 and brainpoolP256r1 (SGP.22 §2.6; the eUICC tells
 * which CI keys, and so which curves, it supports through euiccCiPKIdListForVerification and
 * euiccCiPKIdListForSigning). A struct rsp_key is always on one of them, always carries a
 * named-curve encoding and an uncompressed point format, and its public point has been checked
 * to lie on the curve when the key was made. Later operations (ECDH in particular) rely on that
 * invariant instead of re-validating.
 */
#ifndef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 30000
#endif
#ifndef OPENSSL_NO_DEPRECATED
#define OPENSSL_NO_DEPRECATED
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"

#define COMP "crypto"

/* Key files are a few hundred bytes; anything far larger is not a key file. */
#define RSP_KEY_FILE_MAX (64 * 1024)
/* Field and scalar size of both RSP curves, in bytes. */
#define RSP_EC_COORD_LEN 32

/* Logs the oldest OpenSSL error at debug level and empties the queue, so that a
 * failure here never shows up later as a stale error in an unrelated call. */
static rsp_err_t ossl_fail(const char *what, rsp_err_t rc) {
  unsigned long e = ERR_peek_error();
  char msg[256];
  ERR_error_string_n(e, msg, sizeof(msg));
  RSP_LOG_D(COMP, "%s failed: %s", what, e ? msg : "no OpenSSL error");
  ERR_clear_error();
  return rc;
}

/* ---- curves ---------------------------------------------------------------------------------- */

const char *rsp__curve_group(enum rsp_curve curve) {
  switch (curve) {
  case RSP_CURVE_NIST_P256:
    return SN_X9_62_prime256v1;
  case RSP_CURVE_BRAINPOOL_P256R1:
    return SN_brainpoolP256r1;
  default:
    return NULL;
  }
}

static enum rsp_curve curve_of_nid(int nid) {
  if (nid == NID_X9_62_prime256v1) return RSP_CURVE_NIST_P256;
  if (nid == NID_brainpoolP256r1) return RSP_CURVE_BRAINPOOL_P256R1;
  return RSP_CURVE_NONE;
}

/* A key read with explicit domain parameters (a SEC1 file written with -param_enc explicit)
 * still reports a group name here: OpenSSL 3 matches decoded explicit parameters against its
 * table of named curves and keeps the curve's identity, only marking the encoding as explicit
 * (normalise() below switches that back). Parameters matching neither RSP curve give NONE.
 * The unit test loads explicit-parameter keys of both curves to hold OpenSSL to this. */
enum rsp_curve rsp__curve_of(const EVP_PKEY *pkey) {
  char name[64];
  size_t name_len = 0;
  int nid = NID_undef;

  if (!pkey || !EVP_PKEY_is_a(pkey, "EC")) return RSP_CURVE_NONE;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
                                     &name_len)) {
    nid = OBJ_sn2nid(name);
    if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  }
  ERR_clear_error();
  return curve_of_nid(nid);
}

/* ---- wrapping -------------------------------------------------------------------------------- */

/* Puts the key in the one form RSP uses: named curve (certificates and SubjectPublicKeyInfo in
 * SGP.22 §4.5 carry the curve OID, never explicit parameters) and uncompressed points (the
 * [APPLICATION 73] 5F49 otPK values exchanged during profile download are 04||X||Y). */
static rsp_err_t normalise(EVP_PKEY *pkey) {
  char enc[] = OSSL_PKEY_EC_ENCODING_GROUP;
  char fmt[] = OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED;
  OSSL_PARAM params[3];

  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, enc, 0);
  params[1] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, fmt, 0);
  params[2] = OSSL_PARAM_construct_end();
  if (!EVP_PKEY_set_params(pkey, params)) return ossl_fail("EC key normalisation", RSP_E_CRYPTO);
  return RSP_OK;
}

/* A public key must lie on its curve. Both RSP curves have cofactor 1, so the quick check
 * (on the curve and not the point at infinity) already implies the point has the full group
 * order; the costly n*Q test of the full check adds nothing here. A private key must actually
 * hold its scalar. */
static rsp_err_t check_key(EVP_PKEY *pkey, bool has_private) {
  rsp_err_t rc = RSP_E_KEY_INVALID;
  EVP_PKEY_CTX *ctx = NULL;
  BIGNUM *d = NULL;

  if (has_private) {
    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) || BN_is_zero(d)) {
      rc = ossl_fail("private scalar", RSP_E_KEY_INVALID);
      goto out;
    }
  }
  ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  if (!ctx) {
    rc = ossl_fail("EVP_PKEY_CTX_new_from_pkey", RSP_E_CRYPTO);
    goto out;
  }
  if (EVP_PKEY_public_check_quick(ctx) != 1) {
    rc = ossl_fail("public key check", RSP_E_KEY_INVALID);
    goto out;
  }
  rc = RSP_OK;
out:
  BN_clear_free(d);
  EVP_PKEY_CTX_free(ctx);
  return rc;
}

rsp_err_t rsp__key_wrap(EVP_PKEY *pkey, bool has_private, struct rsp_key **out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_key *key = NULL;
  enum rsp_curve curve;

  if (!pkey || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if (!EVP_PKEY_is_a(pkey, "EC")) return RSP_E_KEY_INVALID;
  curve = rsp__curve_of(pkey);
  if (curve == RSP_CURVE_NONE) return RSP_E_CURVE_UNSUPPORTED;
  if ((rc = normalise(pkey)) != RSP_OK) return rc;
  if ((rc = check_key(pkey, has_private)) != RSP_OK) return rc;
  key = rsp_malloc(sizeof(*key));
  if (!key) return RSP_E_NOMEM;
  key->pkey = pkey;
  key->curve = curve;
  key->has_private = has_private;
  *out = key;
  return RSP_OK;
}

/* Wraps and, on failure, frees: the common tail of every constructor below. */
static rsp_err_t wrap_or_free(EVP_PKEY *pkey, bool has_private, struct rsp_key **out) {
  rsp_err_t rc = rsp__key_wrap(pkey, has_private, out);
  if (rc != RSP_OK) EVP_PKEY_free(pkey);
  return rc;
}

void *rsp__key_evp(const struct rsp_key *key) { return key ? key->pkey : NULL; }

void rsp_key_free(struct rsp_key *key) {
  if (!key) return;
  EVP_PKEY_free(key->pkey);
  rsp_free(key);
}

enum rsp_curve rsp_key_curve(const struct rsp_key *key) {
  return key ? key->curve : RSP_CURVE_NONE;
}

bool rsp_key_has_private(const struct rsp_key *key) { return key && key->has_private; }

/* ---- constructors ---------------------------------------------------------------------------- */

rsp_err_t rsp_key_generate(enum rsp_curve curve, struct rsp_key **out) {
  const char *group = rsp__curve_group(curve);
  EVP_PKEY *pkey = NULL;

  if (!out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if (!group) return RSP_E_CURVE_UNSUPPORTED;
  pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
  if (!pkey) return ossl_fail("EC key generation", RSP_E_CRYPTO);
  return wrap_or_free(pkey, true, out);
}

/* The one-time public keys of SGP.22 §3.1.3 (otPK.EUICC.ECKA, otPK.DP.ECKA) travel as bare
 * uncompressed points, so this is how a peer key arrives. Compressed points are refused: the
 * specification does not use them, and accepting them would widen the attack surface. */
rsp_err_t rsp_key_from_point(enum rsp_curve curve, const uint8_t *pt, size_t pt_len,
                             struct rsp_key **out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  const char *group = rsp__curve_group(curve);
  OSSL_PARAM_BLD *bld = NULL;
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  EVP_PKEY *pkey = NULL;

  if (!out || !pt) return RSP_E_INVALID_ARG;
  *out = NULL;
  if (!group) return RSP_E_CURVE_UNSUPPORTED;
  if (pt_len != RSP_EC_POINT_LEN || pt[0] != 0x04) return RSP_E_KEY_INVALID;
  bld = OSSL_PARAM_BLD_new();
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, pt_len)) {
    rc = ossl_fail("OSSL_PARAM_BLD", RSP_E_NOMEM);
    goto out;
  }
  params = OSSL_PARAM_BLD_to_param(bld);
  ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1) {
    rc = ossl_fail("EVP_PKEY_fromdata_init", RSP_E_CRYPTO);
    goto out;
  }
  /* The import itself rejects a point that is not on the curve. */
  if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    rc = ossl_fail("EC point import", RSP_E_KEY_INVALID);
    goto out;
  }
  rc = wrap_or_free(pkey, false, out);
out:
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return rc;
}

rsp_err_t rsp_key_from_spki(const uint8_t *der, size_t len, struct rsp_key **out) {
  const unsigned char *p = der;
  EVP_PKEY *pkey = NULL;

  if (!der || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if (len == 0 || len > RSP_KEY_FILE_MAX) return RSP_E_KEY_INVALID;
  pkey = d2i_PUBKEY(NULL, &p, (long)len);
  if (!pkey) return ossl_fail("SubjectPublicKeyInfo", RSP_E_KEY_INVALID);
  if (p != der + len) {
    EVP_PKEY_free(pkey);
    return RSP_E_DER_TRAILING_BYTES;
  }
  return wrap_or_free(pkey, false, out);
}

/* ---- parsing --------------------------------------------------------------------------------- */

/* Encrypted key files are not supported: the callback refuses to supply a passphrase, so
 * OpenSSL never falls back to prompting on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static bool looks_like_pem(const uint8_t *data, size_t len) {
  static const char mark[] = "-----BEGIN ";
  const size_t mark_len = sizeof(mark) - 1;
  for (size_t i = 0; i + mark_len <= len; i++)
    if (memcmp(data + i, mark, mark_len) == 0) return true;
  return false;
}

/* PEM: SGP.26 key files hold an "EC PARAMETERS" block before the "EC PRIVATE KEY" one; the PEM
 * reader skips blocks whose label does not match, so SEC1 and PKCS#8 both load. */
static EVP_PKEY *parse_pem(const uint8_t *data, size_t len, bool private_key) {
  EVP_PKEY *pkey = NULL;
  BIO *bio = BIO_new_mem_buf(data, (int)len);
  if (!bio) return NULL;
  if (private_key)
    pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
  else
    pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
  BIO_free(bio);
  return pkey;
}

/* DER: a private key is SEC1 ECPrivateKey or PKCS#8 PrivateKeyInfo, a public key is a
 * SubjectPublicKeyInfo. Trailing bytes mean the input is not one DER object and are refused. */
static EVP_PKEY *parse_der(const uint8_t *data, size_t len, bool private_key) {
  const unsigned char *p = data;
  EVP_PKEY *pkey =
      private_key ? d2i_AutoPrivateKey(NULL, &p, (long)len) : d2i_PUBKEY(NULL, &p, (long)len);
  if (pkey && p != data + len) {
    EVP_PKEY_free(pkey);
    pkey = NULL;
  }
  return pkey;
}

/* A key file whose stored public point does not belong to its private scalar would produce
 * signatures that nobody can verify against the certificate; refuse it at load time. */
static rsp_err_t check_pair(EVP_PKEY *pkey) {
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  int ok = ctx ? EVP_PKEY_pairwise_check(ctx) : 0;
  EVP_PKEY_CTX_free(ctx);
  return ok == 1 ? RSP_OK : ossl_fail("EC key pair check", RSP_E_KEY_INVALID);
}

rsp_err_t rsp_key_parse(const uint8_t *data, size_t len, bool private_key, struct rsp_key **out) {
  EVP_PKEY *pkey = NULL;
  rsp_err_t rc;

  if (!data || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if (len == 0) return RSP_E_KEY_INVALID;
  if (len > RSP_KEY_FILE_MAX) return RSP_E_BUF_CAP;
  pkey = looks_like_pem(data, len) ? parse_pem(data, len, private_key)
                                   : parse_der(data, len, private_key);
  if (!pkey)
    return ossl_fail(private_key ? "private key parse" : "public key parse", RSP_E_KEY_INVALID);
  if (private_key && EVP_PKEY_is_a(pkey, "EC") && (rc = check_pair(pkey)) != RSP_OK) {
    EVP_PKEY_free(pkey);
    return rc;
  }
  return wrap_or_free(pkey, private_key, out);
}

/* Reads at most RSP_KEY_FILE_MAX bytes; a longer file is an error, not a truncated key. */
static rsp_err_t read_key_file(const char *path, uint8_t **data, size_t *len) {
  rsp_err_t rc = RSP_E_INTERNAL;
  uint8_t *buf = NULL;
  size_t n = 0;
  FILE *f = fopen(path, "rb");

  if (!f) return errno == ENOENT ? RSP_E_NOT_FOUND : RSP_E_IO;
  buf = rsp_malloc(RSP_KEY_FILE_MAX + 1);
  if (!buf) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  n = fread(buf, 1, RSP_KEY_FILE_MAX + 1, f);
  if (ferror(f)) {
    rc = RSP_E_IO;
    goto out;
  }
  if (n > RSP_KEY_FILE_MAX) {
    rc = RSP_E_BUF_CAP;
    goto out;
  }
  *data = buf;
  *len = n;
  buf = NULL;
  rc = RSP_OK;
out:
  if (buf) {
    rsp_memzero(buf, RSP_KEY_FILE_MAX + 1);
    rsp_free(buf);
  }
  fclose(f);
  return rc;
}

rsp_err_t rsp_key_load_file(const char *path, bool private_key, struct rsp_key **out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  uint8_t *data = NULL;
  size_t len = 0;

  if (!path || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  rc = read_key_file(path, &data, &len);
  if (rc != RSP_OK) {
    RSP_LOG_D(COMP, "cannot read key file %s: %s", path, rsp_strerror(rc));
    return rc;
  }
  rc = rsp_key_parse(data, len, private_key, out);
  if (rc != RSP_OK) RSP_LOG_D(COMP, "cannot load key %s: %s", path, rsp_strerror(rc));
  /* The buffer may hold a private key in clear. */
  rsp_memzero(data, len);
  rsp_free(data);
  return rc;
}

/* ---- export ---------------------------------------------------------------------------------- */

rsp_err_t rsp_key_write_pem(const struct rsp_key *key, bool private_key, const char *path) {
  rsp_err_t rc = RSP_E_INTERNAL;
  BIO *bio = NULL;
  FILE *f = NULL;
  int fd, ok;

  if (!key || !path) return RSP_E_INVALID_ARG;
  if (private_key && !key->has_private) return RSP_E_KEY_INVALID;
  /* A private key file is made readable by its owner only before any byte is written; the
   * fchmod covers a file that already existed with a wider mode. */
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, private_key ? 0600 : 0644);
  if (fd < 0) return RSP_E_IO;
  if (private_key && fchmod(fd, 0600) != 0) {
    close(fd);
    return RSP_E_IO;
  }
  f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    return RSP_E_IO;
  }
  bio = BIO_new_fp(f, BIO_NOCLOSE);
  if (!bio) {
    rc = ossl_fail("BIO_new_fp", RSP_E_NOMEM);
    goto out;
  }
  /* PEM_write_bio_PrivateKey writes PKCS#8 ("PRIVATE KEY"), as the header promises. */
  ok = private_key ? PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)
                   : PEM_write_bio_PUBKEY(bio, key->pkey);
  if (!ok || BIO_flush(bio) != 1) {
    rc = ossl_fail("PEM write", RSP_E_IO);
    goto out;
  }
  rc = RSP_OK;
out:
  BIO_free(bio);
  if (fclose(f) != 0 && rc == RSP_OK) rc = RSP_E_IO;
  return rc;
}

/* The point is assembled from the affine coordinates rather than taken from the encoded public
 * key, so its form does not depend on how the key was first encoded. */
rsp_err_t rsp_key_point(const struct rsp_key *key, uint8_t out[RSP_EC_POINT_LEN]) {
  rsp_err_t rc = RSP_E_INTERNAL;
  BIGNUM *x = NULL, *y = NULL;

  if (!key || !out) return RSP_E_INVALID_ARG;
  if (!EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
      !EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y)) {
    rc = ossl_fail("EC public coordinates", RSP_E_CRYPTO);
    goto out;
  }
  out[0] = 0x04;
  if (BN_bn2binpad(x, out + 1, RSP_EC_COORD_LEN) != RSP_EC_COORD_LEN ||
      BN_bn2binpad(y, out + 1 + RSP_EC_COORD_LEN, RSP_EC_COORD_LEN) != RSP_EC_COORD_LEN) {
    rc = ossl_fail("EC coordinate size", RSP_E_CRYPTO);
    goto out;
  }
  rc = RSP_OK;
out:
  BN_free(x);
  BN_free(y);
  return rc;
}

/* Appends the DER SubjectPublicKeyInfo to `out` (the buffer's content before it is kept). */
rsp_err_t rsp_key_spki(const struct rsp_key *key, struct rsp_buf *out) {
  unsigned char *q;
  int n;
  rsp_err_t rc;

  if (!key || !out) return RSP_E_INVALID_ARG;
  n = i2d_PUBKEY(key->pkey, NULL);
  if (n <= 0) return ossl_fail("i2d_PUBKEY", RSP_E_CRYPTO);
  if ((rc = rsp_buf_reserve(out, (size_t)n)) != RSP_OK) return rc;
  q = out->data + out->len;
  if (i2d_PUBKEY(key->pkey, &q) != n) return ossl_fail("i2d_PUBKEY", RSP_E_CRYPTO);
  out->len += (size_t)n;
  return RSP_OK;
}

/* ---- ECDSA ----------------------------------------------------------------------------------- */

/* RSP signatures (the [APPLICATION 55] 5F37 values such as euiccSignature1 and
 * serverSignature1, and the eIM signatures of SGP.32) are r||s, 32 bytes each, as BSI TR-03111
 * defines the plain format; OpenSSL speaks the DER ECDSA-Sig-Value of RFC 3279. Conversion is
 * strict in both directions: a DER input must be exactly what a DER encoder would produce (checked
 * by re-encoding it), and r and s must be positive and fit in 32 bytes. */
rsp_err_t rsp_ecdsa_sig_der_to_raw(const uint8_t *der, size_t der_len,
                                   uint8_t raw[RSP_SIG_RAW_LEN]) {
  rsp_err_t rc = RSP_E_SIG_FORMAT;
  const unsigned char *p = der;
  unsigned char reenc[RSP_SIG_DER_MAX];
  unsigned char *q = reenc;
  const BIGNUM *r = NULL, *s = NULL;
  ECDSA_SIG *sig = NULL;

  if (!der || !raw) return RSP_E_INVALID_ARG;
  /* 30 06 02 01 rr 02 01 ss is the shortest possible encoding. */
  if (der_len < 8 || der_len > RSP_SIG_DER_MAX) return RSP_E_SIG_FORMAT;
  sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  if (!sig || p != der + der_len) goto out;
  ECDSA_SIG_get0(sig, &r, &s);
  if (BN_is_zero(r) || BN_is_zero(s) || BN_is_negative(r) || BN_is_negative(s)) goto out;
  if (BN_num_bytes(r) > RSP_EC_COORD_LEN || BN_num_bytes(s) > RSP_EC_COORD_LEN) goto out;
  if (i2d_ECDSA_SIG(sig, NULL) != (int)der_len || i2d_ECDSA_SIG(sig, &q) != (int)der_len ||
      memcmp(reenc, der, der_len) != 0)
    goto out;
  if (BN_bn2binpad(r, raw, RSP_EC_COORD_LEN) != RSP_EC_COORD_LEN ||
      BN_bn2binpad(s, raw + RSP_EC_COORD_LEN, RSP_EC_COORD_LEN) != RSP_EC_COORD_LEN)
    goto out;
  rc = RSP_OK;
out:
  ECDSA_SIG_free(sig);
  ERR_clear_error();
  return rc;
}

rsp_err_t rsp_ecdsa_sig_raw_to_der(const uint8_t raw[RSP_SIG_RAW_LEN], uint8_t *der,
                                   size_t der_size, size_t *der_len) {
  rsp_err_t rc = RSP_E_INTERNAL;
  BIGNUM *r = NULL, *s = NULL;
  ECDSA_SIG *sig = NULL;
  unsigned char *q = der;
  int n;

  if (!raw || !der || !der_len) return RSP_E_INVALID_ARG;
  r = BN_bin2bn(raw, RSP_EC_COORD_LEN, NULL);
  s = BN_bin2bn(raw + RSP_EC_COORD_LEN, RSP_EC_COORD_LEN, NULL);
  sig = ECDSA_SIG_new();
  if (!r || !s || !sig) {
    rc = ossl_fail("ECDSA_SIG", RSP_E_NOMEM);
    goto out;
  }
  if (BN_is_zero(r) || BN_is_zero(s)) {
    rc = RSP_E_SIG_FORMAT;
    goto out;
  }
  if (!ECDSA_SIG_set0(sig, r, s)) goto out;
  r = s = NULL; /* now owned by sig */
  n = i2d_ECDSA_SIG(sig, NULL);
  if (n <= 0) {
    rc = ossl_fail("i2d_ECDSA_SIG", RSP_E_CRYPTO);
    goto out;
  }
  if ((size_t)n > der_size) {
    rc = RSP_E_BUF_SMALL;
    goto out;
  }
  if (i2d_ECDSA_SIG(sig, &q) != n) goto out;
  *der_len = (size_t)n;
  rc = RSP_OK;
out:
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(sig);
  return rc;
}

static bool slices_ok(const struct rsp_slice *parts, size_t n) {
  if (!parts && n) return false;
  for (size_t i = 0; i < n; i++)
    if (!parts[i].p && parts[i].len) return false;
  return true;
}

rsp_err_t rsp_ecdsa_sign_v(const struct rsp_key *priv, const struct rsp_slice *parts, size_t n,
                           uint8_t sig[RSP_SIG_RAW_LEN]) {
  rsp_err_t rc = RSP_E_INTERNAL;
  EVP_MD_CTX *md = NULL;
  unsigned char der[RSP_SIG_DER_MAX];
  size_t der_len = sizeof(der);

  if (!priv || !sig || !slices_ok(parts, n)) return RSP_E_INVALID_ARG;
  if (!priv->has_private) return RSP_E_KEY_INVALID;
  md = EVP_MD_CTX_new();
  if (!md) return RSP_E_NOMEM;
  if (EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, priv->pkey, NULL) != 1) goto crypto_err;
  for (size_t i = 0; i < n; i++)
    if (parts[i].len && EVP_DigestSignUpdate(md, parts[i].p, parts[i].len) != 1) goto crypto_err;
  if (EVP_DigestSignFinal(md, der, &der_len) != 1) goto crypto_err;
  rc = rsp_ecdsa_sig_der_to_raw(der, der_len, sig);
  goto out;
crypto_err:
  rc = ossl_fail("ECDSA sign", RSP_E_CRYPTO);
out:
  EVP_MD_CTX_free(md);
  return rc;
}

rsp_err_t rsp_ecdsa_sign(const struct rsp_key *priv, const void *msg, size_t len,
                         uint8_t sig[RSP_SIG_RAW_LEN]) {
  struct rsp_slice part = {msg, len};
  return rsp_ecdsa_sign_v(priv, &part, 1, sig);
}

/* A 64-byte value with r or s equal to zero is well formed but can never verify (r and s must
 * lie in [1, n-1]), so it is reported as RSP_E_SIG_INVALID like any other wrong signature;
 * only bad arguments give a different code. */
rsp_err_t rsp_ecdsa_verify_v(const struct rsp_key *pub, const struct rsp_slice *parts, size_t n,
                             const uint8_t sig[RSP_SIG_RAW_LEN]) {
  rsp_err_t rc = RSP_E_INTERNAL;
  EVP_MD_CTX *md = NULL;
  uint8_t der[RSP_SIG_DER_MAX];
  size_t der_len = 0;
  int v;

  if (!pub || !sig || !slices_ok(parts, n)) return RSP_E_INVALID_ARG;
  rc = rsp_ecdsa_sig_raw_to_der(sig, der, sizeof(der), &der_len);
  if (rc == RSP_E_SIG_FORMAT) return RSP_E_SIG_INVALID;
  if (rc != RSP_OK) return rc;
  md = EVP_MD_CTX_new();
  if (!md) return RSP_E_NOMEM;
  if (EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pub->pkey, NULL) != 1)
    goto crypto_err;
  for (size_t i = 0; i < n; i++)
    if (parts[i].len && EVP_DigestVerifyUpdate(md, parts[i].p, parts[i].len) != 1) goto crypto_err;
  v = EVP_DigestVerifyFinal(md, der, der_len);
  if (v == 1) {
    rc = RSP_OK;
  } else if (v == 0) {
    ERR_clear_error();
    rc = RSP_E_SIG_INVALID;
  } else {
    goto crypto_err;
  }
  goto out;
crypto_err:
  rc = ossl_fail("ECDSA verify", RSP_E_CRYPTO);
out:
  EVP_MD_CTX_free(md);
  return rc;
}

rsp_err_t rsp_ecdsa_verify(const struct rsp_key *pub, const void *msg, size_t len,
                           const uint8_t sig[RSP_SIG_RAW_LEN]) {
  struct rsp_slice part = {msg, len};
  return rsp_ecdsa_verify_v(pub, &part, 1, sig);
}

/* ---- ECDH ------------------------------------------------------------------------------------ */

/* ECKA-DH of BSI TR-03111 as SGP.22 §2.6.4 uses it: the shared secret ShS is the x-coordinate
 * of priv * peer. The peer's point was validated when its struct rsp_key was made, so the
 * derivation does not validate it again. */
rsp_err_t rsp_ecdh(const struct rsp_key *priv, const struct rsp_key *peer,
                   uint8_t secret[RSP_ECDH_SECRET_LEN]) {
  rsp_err_t rc = RSP_E_INTERNAL;
  EVP_PKEY_CTX *ctx = NULL;
  size_t len = RSP_ECDH_SECRET_LEN;

  if (!priv || !peer || !secret) return RSP_E_INVALID_ARG;
  if (!priv->has_private) return RSP_E_KEY_INVALID;
  if (priv->curve != peer->curve) {
    RSP_LOG_D(COMP, "ECDH between %s and %s keys refused", rsp_curve_name(priv->curve),
              rsp_curve_name(peer->curve));
    return RSP_E_KEY_INVALID;
  }
  ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv->pkey, NULL);
  if (!ctx) return ossl_fail("EVP_PKEY_CTX_new_from_pkey", RSP_E_NOMEM);
  if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer_ex(ctx, peer->pkey, 0) != 1) {
    rc = ossl_fail("ECDH setup", RSP_E_KEY_INVALID);
    goto out;
  }
  if (EVP_PKEY_derive(ctx, secret, &len) != 1 || len != RSP_ECDH_SECRET_LEN) {
    rsp_memzero(secret, RSP_ECDH_SECRET_LEN);
    rc = ossl_fail("ECDH", RSP_E_CRYPTO);
    goto out;
  }
  rc = RSP_OK;
out:
  EVP_PKEY_CTX_free(ctx);
  return rc;
}
