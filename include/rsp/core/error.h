/* openrsp: the project-wide error codes.
 *
 * One X-macro table gives every code its name and message, so the enum, the
 * name lookup and the message lookup can never drift apart. Protocol outcomes
 * (SGP.32 result codes, ES9+ status codes) are not errors: they are data in
 * the result structs of the message layer.
 */
#ifndef RSP_CORE_ERROR_H
#define RSP_CORE_ERROR_H

#define RSP_ERRNO_MAP(XX)                                                                          \
  XX(INTERNAL, "internal error")                                                                   \
  XX(NOMEM, "out of memory")                                                                       \
  XX(INVALID_ARG, "invalid argument")                                                              \
  XX(BUF_CAP, "data exceeds the buffer's hard cap")                                                \
  XX(BUF_SMALL, "output buffer too small")                                                         \
  XX(HEX_INVALID, "invalid hexadecimal string")                                                    \
  XX(BCD_INVALID, "invalid BCD digits")                                                            \
  XX(DER_TRUNCATED, "DER: data ends before the element does")                                      \
  XX(DER_INDEFINITE_LENGTH, "DER: indefinite length is not allowed")                               \
  XX(DER_NON_MINIMAL_LENGTH, "DER: length is not minimally encoded")                               \
  XX(DER_LENGTH_TOO_LARGE, "DER: length field longer than 4 bytes")                                \
  XX(DER_BAD_TAG, "DER: malformed tag")                                                            \
  XX(DER_TRAILING_BYTES, "DER: trailing bytes after the element")                                  \
  XX(DER_UNEXPECTED_TAG, "DER: unexpected tag")                                                    \
  XX(DER_BAD_VALUE, "DER: value is not a valid DER encoding of its type")                          \
  XX(DER_RANGE, "DER: value out of the allowed range")                                             \
  XX(DER_NESTING, "DER: nesting too deep")                                                         \
  XX(DER_MISSING, "DER: mandatory element missing")                                                \
  XX(CRYPTO, "cryptographic library failure")                                                      \
  XX(KEY_INVALID, "invalid or unsupported key")                                                    \
  XX(CURVE_UNSUPPORTED, "unsupported elliptic curve")                                              \
  XX(SIG_INVALID, "signature verification failed")                                                 \
  XX(SIG_FORMAT, "malformed signature")                                                            \
  XX(CERT_PARSE, "certificate cannot be parsed")                                                   \
  XX(CERT_EXPIRED, "certificate expired")                                                          \
  XX(CERT_NOT_YET_VALID, "certificate not yet valid")                                              \
  XX(CERT_SIG_INVALID, "certificate signature invalid")                                            \
  XX(CERT_UNKNOWN_CI, "certificate chain leads to an unknown CI")                                  \
  XX(CERT_ISSUER_MISMATCH, "certificate issuer does not match the next certificate")               \
  XX(CERT_POLICY, "certificate policy does not match the expected RSP role")                       \
  XX(CERT_CONSTRAINTS, "certificate basicConstraints or keyUsage violate RSP rules")               \
  XX(CERT_EID_OUT_OF_RANGE, "EID outside the range permitted to the EUM")                          \
  XX(CERT_EID_MISMATCH, "certificate EID does not match the expected EID")                         \
  XX(IO, "input/output error")                                                                     \
  XX(NOT_FOUND, "not found")                                                                       \
  XX(EXISTS, "already exists")                                                                     \
  XX(UNSUPPORTED, "not supported")                                                                 \
  XX(STATE, "operation not allowed in the current state")                                          \
  XX(JSON_INVALID, "JSON: malformed body, wrong value type or value not allowed")                  \
  XX(JSON_MISSING, "JSON: mandatory key missing")                                                  \
  XX(BASE64_INVALID, "invalid base64")                                                             \
  XX(NET, "network: cannot connect, connection reset or timed out")                                \
  XX(TLS, "TLS: handshake failed or certificate not accepted")

typedef enum rsp_err {
  RSP_OK = 0,
  RSP_E__BASE = -1000,
#define RSP_ERR_ENUM_(name, msg) RSP_E_##name,
  RSP_ERRNO_MAP(RSP_ERR_ENUM_)
#undef RSP_ERR_ENUM_
      RSP_E__END
} rsp_err_t;

/* "RSP_E_DER_TRUNCATED" style name; "RSP_OK" for 0, "RSP_E_UNKNOWN" otherwise. */
const char *rsp_err_name(rsp_err_t err);
/* Human-readable message for logs and CLI output. */
const char *rsp_strerror(rsp_err_t err);

#endif
