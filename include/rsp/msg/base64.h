/* openrsp: a strict base64 codec (RFC 4648 §4, standard alphabet, with padding).
 *
 * The JSON bindings of ES9+, ES2+ and ESipa carry every binary value as base64 (SGP.22 §6.5,
 * SGP.32 §6.4). The decoder accepts only the canonical form: a length that is a multiple of 4,
 * `=` padding only at the very end (at most two), no whitespace or line breaks anywhere, no
 * characters outside the alphabet (so no URL-safe `-`/`_`), and zero bits in the unused low
 * bits of the last symbol (RFC 4648 §3.5), so every byte string has exactly one accepted text.
 * lib/msg has no crypto dependency, so this does not use OpenSSL's codec. */
#ifndef RSP_MSG_BASE64_H
#define RSP_MSG_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "rsp/core/error.h"

/* Characters of the encoding of n bytes (without the terminating NUL); SIZE_MAX if it overflows. */
size_t rsp_msg_base64_encoded_len(size_t n);
/* Upper bound of the bytes decoded from a text of `len` characters. */
size_t rsp_msg_base64_decoded_max(size_t len);

/* Writes the encoding and a NUL into out; RSP_E_BUF_SMALL unless out_size > encoded length. */
rsp_err_t rsp_msg_base64_encode(const uint8_t *p, size_t n, char *out, size_t out_size);
/* Decodes exactly `len` characters of `s` (no NUL needed). RSP_E_BASE64_INVALID for anything that
 * is not canonical base64 (error.h has no base64 code yet), RSP_E_BUF_SMALL when out_size is
 * below the decoded length. */
rsp_err_t rsp_msg_base64_decode(const char *s, size_t len, uint8_t *out, size_t out_size,
                                size_t *out_len);

#endif
