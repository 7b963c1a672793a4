/* openrsp: a strict DER reader and writer (ITU-T X.690 §10).
 *
 * Tags are kept as their encoded bytes packed big-endian into a uint32_t, so
 * they read like the hex on the wire: 0x30, 0x80, 0xA0, 0x5A, 0x5F37, 0xBF51,
 * 0x9F67. Up to 4 tag bytes (tag numbers below 2^21) are accepted.
 *
 * The reader works on a cursor (p, end): it checks before every read, advances
 * only on success and rejects everything DER forbids (indefinite lengths,
 * non-minimal lengths and tags, lengths past the end, trailing bytes). A parsed
 * element keeps a pointer to its raw bytes so signatures can be computed over
 * exactly what was received.
 */
#ifndef RSP_DER_DER_H
#define RSP_DER_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"

#define RSP_DER_MAX_TAG_BYTES 4
#define RSP_DER_MAX_LEN_BYTES 4 /* a length field of up to 4 bytes after 0x8N */
#define RSP_DER_MAX_DEPTH 32    /* writer nesting and generic walker recursion */

/* Universal tags (X.680 §8.4). */
#define RSP_DER_BOOLEAN 0x01u
#define RSP_DER_INTEGER 0x02u
#define RSP_DER_BIT_STRING 0x03u
#define RSP_DER_OCTET_STRING 0x04u
#define RSP_DER_NULL 0x05u
#define RSP_DER_OID 0x06u
#define RSP_DER_ENUMERATED 0x0Au
#define RSP_DER_UTF8_STRING 0x0Cu
#define RSP_DER_PRINTABLE_STRING 0x13u
#define RSP_DER_IA5_STRING 0x16u
#define RSP_DER_UTC_TIME 0x17u
#define RSP_DER_GENERALIZED_TIME 0x18u
#define RSP_DER_SEQUENCE 0x30u
#define RSP_DER_SET 0x31u

/* Tag classes and the constructed bit, as they appear in the first tag byte. */
#define RSP_DER_CLASS_UNIVERSAL 0x00u
#define RSP_DER_CLASS_APPLICATION 0x40u
#define RSP_DER_CLASS_CONTEXT 0x80u
#define RSP_DER_CLASS_PRIVATE 0xC0u
#define RSP_DER_CONSTRUCTED 0x20u

struct rsp_der_tlv {
  uint32_t tag;       /* encoded tag bytes, e.g. 0xBF51 */
  const uint8_t *raw; /* first byte of the tag */
  size_t raw_len;     /* tag + length + value */
  const uint8_t *val; /* first byte of the value */
  size_t len;         /* value length */
};

/* Class bits (RSP_DER_CLASS_*) and constructed flag of an encoded tag. */
uint8_t rsp_der_tag_class(uint32_t tag);
bool rsp_der_tag_constructed(uint32_t tag);
/* Tag number (the [n] of ASN.1) of an encoded tag. */
uint32_t rsp_der_tag_number(uint32_t tag);
/* Builds the encoded form of class|constructed + number (for tables written as [n]). */
uint32_t rsp_der_tag_make(uint8_t cls, bool constructed, uint32_t number);
/* Number of encoded bytes of a tag value (1..4). */
size_t rsp_der_tag_size(uint32_t tag);

/* ---- reading ----------------------------------------------------------------------------------
 */

/* Reads one TLV at *p; on success *p points past it. */
rsp_err_t rsp_der_read_tlv(const uint8_t **p, const uint8_t *end, struct rsp_der_tlv *out);
/* Peeks at the next tag without moving; RSP_E_DER_TRUNCATED at end. */
rsp_err_t rsp_der_peek_tag(const uint8_t *p, const uint8_t *end, uint32_t *tag);
/* Reads one TLV that must carry `tag`; RSP_E_DER_UNEXPECTED_TAG otherwise (cursor unmoved). */
rsp_err_t rsp_der_read_expect(const uint8_t **p, const uint8_t *end, uint32_t tag,
                              struct rsp_der_tlv *out);
/* Reads an optional element: *present is false (and RSP_OK) if the next tag differs or at end. */
rsp_err_t rsp_der_read_optional(const uint8_t **p, const uint8_t *end, uint32_t tag,
                                struct rsp_der_tlv *out, bool *present);
/* Parses a buffer that must hold exactly one TLV (no trailing bytes). */
rsp_err_t rsp_der_parse_one(const uint8_t *data, size_t len, struct rsp_der_tlv *out);
/* Cursor over a constructed element's content. */
void rsp_der_children(const struct rsp_der_tlv *tlv, const uint8_t **p, const uint8_t **end);
/* Walks a whole tree, checking that every constructed element's content is a valid sequence of
 * TLVs (recursion capped at RSP_DER_MAX_DEPTH). Primitive contents are not interpreted. */
rsp_err_t rsp_der_validate_tree(const uint8_t *data, size_t len);

/* Primitive value decoders; they check the tag's content, not the tag itself, so they work for
 * implicitly tagged fields ([0] INTEGER etc.). */
rsp_err_t rsp_der_get_int64(const struct rsp_der_tlv *tlv, int64_t *out);
rsp_err_t rsp_der_get_uint64(const struct rsp_der_tlv *tlv, uint64_t *out);
/* An INTEGER's content must be minimal two's complement; this checks it without converting
 * (for big integers such as certificate serial numbers). */
rsp_err_t rsp_der_check_integer(const struct rsp_der_tlv *tlv);
rsp_err_t rsp_der_get_bool(const struct rsp_der_tlv *tlv, bool *out);
rsp_err_t rsp_der_get_null(const struct rsp_der_tlv *tlv);
/* OCTET STRING with size bounds [min_len, max_len]. */
rsp_err_t rsp_der_get_octets(const struct rsp_der_tlv *tlv, size_t min_len, size_t max_len,
                             struct rsp_slice *out);
/* Copies a fixed-size OCTET STRING (exactly n bytes). */
rsp_err_t rsp_der_get_octets_fixed(const struct rsp_der_tlv *tlv, uint8_t *out, size_t n);
/* UTF8String: validates UTF-8 (no overlongs, no surrogates, no NUL) and the byte length bounds. */
rsp_err_t rsp_der_get_utf8(const struct rsp_der_tlv *tlv, size_t min_len, size_t max_len,
                           struct rsp_slice *out);
/* Copies a UTF8String into a NUL-terminated buffer. */
rsp_err_t rsp_der_get_utf8_cstr(const struct rsp_der_tlv *tlv, char *out, size_t out_size);
/* BIT STRING with named bits: bit 0 is the most significant bit of the first content byte.
 * DER requires trailing zero bits to be removed for named-bit lists (X.690 §11.2.2); `out` gets
 * bit i at (1u << i). Up to 32 named bits. */
rsp_err_t rsp_der_get_bits(const struct rsp_der_tlv *tlv, uint32_t *out, unsigned *nbits);
/* Generic BIT STRING: unused-bit count and content bytes (unused bits must be zero). */
rsp_err_t rsp_der_get_bitstring(const struct rsp_der_tlv *tlv, unsigned *unused,
                                struct rsp_slice *out);
/* OBJECT IDENTIFIER: validates and renders dotted form ("2.23.146.1.2.1.0"). */
rsp_err_t rsp_der_get_oid(const struct rsp_der_tlv *tlv, char *out, size_t out_size);
rsp_err_t rsp_der_get_enum(const struct rsp_der_tlv *tlv, int64_t *out);

/* ---- writing ----------------------------------------------------------------------------------
 */

struct rsp_der_writer {
  struct rsp_buf *buf;
  size_t stack[RSP_DER_MAX_DEPTH]; /* offsets of the open constructed elements' value starts */
  uint32_t tags[RSP_DER_MAX_DEPTH];
  unsigned depth;
  rsp_err_t err; /* first error; once set every call is a no-op and end() reports it */
};

/* Writes into buf (appending). The buffer's cap bounds the output. */
void rsp_der_writer_init(struct rsp_der_writer *w, struct rsp_buf *buf);
/* Opens a constructed element; its length is filled in by rsp_der_end. */
void rsp_der_begin(struct rsp_der_writer *w, uint32_t tag);
void rsp_der_end(struct rsp_der_writer *w);
/* Returns the first error, or RSP_E_STATE when elements are still open. */
rsp_err_t rsp_der_writer_finish(struct rsp_der_writer *w);

void rsp_der_put_tlv(struct rsp_der_writer *w, uint32_t tag, const void *val, size_t len);
/* Pre-encoded TLV bytes (retained raw elements, certificates). */
void rsp_der_put_raw(struct rsp_der_writer *w, const void *raw, size_t len);
void rsp_der_put_int64(struct rsp_der_writer *w, uint32_t tag, int64_t v);
void rsp_der_put_uint64(struct rsp_der_writer *w, uint32_t tag, uint64_t v);
/* Unsigned big-endian magnitude -> minimal two's-complement INTEGER. */
void rsp_der_put_uint_bytes(struct rsp_der_writer *w, uint32_t tag, const uint8_t *mag, size_t len);
void rsp_der_put_bool(struct rsp_der_writer *w, uint32_t tag, bool v);
void rsp_der_put_null(struct rsp_der_writer *w, uint32_t tag);
void rsp_der_put_octets(struct rsp_der_writer *w, uint32_t tag, const void *p, size_t len);
void rsp_der_put_utf8(struct rsp_der_writer *w, uint32_t tag, const char *s);
/* Named-bit BIT STRING, trailing zero bits removed (bit i of `bits` = named bit i). */
void rsp_der_put_bits(struct rsp_der_writer *w, uint32_t tag, uint32_t bits);
/* Dotted OID string -> encoded OBJECT IDENTIFIER. */
void rsp_der_put_oid(struct rsp_der_writer *w, uint32_t tag, const char *dotted);
void rsp_der_put_enum(struct rsp_der_writer *w, uint32_t tag, int64_t v);

/* Encodes a length field into out (up to 5 bytes); returns the number of bytes. */
size_t rsp_der_encode_len(size_t len, uint8_t out[5]);
/* Encodes a tag into out (up to 4 bytes); returns the number of bytes. */
size_t rsp_der_encode_tag(uint32_t tag, uint8_t out[4]);

#endif
