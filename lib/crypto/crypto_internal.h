/* openrsp lib/crypto private definitions shared by its files (never included by apps). */
#ifndef RSP_CRYPTO_INTERNAL_H
#define RSP_CRYPTO_INTERNAL_H

#include <openssl/evp.h>

#include "rsp/crypto/crypto.h"

struct rsp_key {
  EVP_PKEY *pkey;
  enum rsp_curve curve;
  bool has_private;
};

/* Wraps an EVP_PKEY (ownership taken on success); detects the curve. */
rsp_err_t rsp__key_wrap(EVP_PKEY *pkey, bool has_private, struct rsp_key **out);
/* The curve of an EC EVP_PKEY, RSP_CURVE_NONE when not one of the two RSP curves. */
enum rsp_curve rsp__curve_of(const EVP_PKEY *pkey);
/* OpenSSL group name for a curve ("prime256v1", "brainpoolP256r1"). */
const char *rsp__curve_group(enum rsp_curve curve);

#endif
