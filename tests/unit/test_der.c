/* lib/der: strict reading, primitives and nested writing. */
#include "rsp/core/alloc.h"
#include "rsp/der/der.h"
#include "test.h"

static rsp_err_t parse_hex(const char *hex, struct rsp_der_tlv *t, uint8_t **keep) {
  size_t n;
  *keep = rsp_test_hex(hex, &n);
  return rsp_der_parse_one(*keep, n, t);
}

#define EXPECT_PARSE(hex, want)                                                                    \
  do {                                                                                             \
    struct rsp_der_tlv t_;                                                                         \
    uint8_t *k_;                                                                                   \
    CHECK_ERR(parse_hex(hex, &t_, &k_), want);                                                     \
    rsp_free(k_);                                                                                  \
  } while (0)

static void tags_single_and_multi_byte(void) {
  struct rsp_der_tlv t;
  uint8_t *k;
  CHECK_OK(parse_hex("BF51 03 800100", &t, &k));
  CHECK_EQ(t.tag, 0xBF51);
  CHECK_EQ(rsp_der_tag_number(t.tag), 81);
  CHECK_EQ(rsp_der_tag_class(t.tag), RSP_DER_CLASS_CONTEXT);
  CHECK(rsp_der_tag_constructed(t.tag));
  CHECK_EQ(t.len, 3);
  CHECK_EQ(t.raw_len, 6);
  rsp_free(k);
  CHECK_OK(parse_hex("5F37 02 AABB", &t, &k));
  CHECK_EQ(t.tag, 0x5F37);
  CHECK_EQ(rsp_der_tag_number(t.tag), 55);
  CHECK_EQ(rsp_der_tag_class(t.tag), RSP_DER_CLASS_APPLICATION);
  CHECK(!rsp_der_tag_constructed(t.tag));
  rsp_free(k);
  CHECK_OK(parse_hex("9F67 01 FF", &t, &k));
  CHECK_EQ(rsp_der_tag_number(t.tag), 103);
  rsp_free(k);
  /* Three tag bytes: [200] = 9F 81 48. */
  CHECK_OK(parse_hex("9F8148 00", &t, &k));
  CHECK_EQ(rsp_der_tag_number(t.tag), 200);
  CHECK_EQ(rsp_der_tag_make(RSP_DER_CLASS_CONTEXT, false, 200), 0x9F8148);
  rsp_free(k);
  CHECK_EQ(rsp_der_tag_make(RSP_DER_CLASS_CONTEXT, true, 81), 0xBF51);
  CHECK_EQ(rsp_der_tag_make(RSP_DER_CLASS_APPLICATION, false, 55), 0x5F37);
  CHECK_EQ(rsp_der_tag_make(RSP_DER_CLASS_CONTEXT, true, 3), 0xA3);
  CHECK_EQ(rsp_der_tag_make(RSP_DER_CLASS_PRIVATE, false, 38), 0xDF26);
  /* Non-minimal high tag forms. */
  EXPECT_PARSE("9F1E 00", RSP_E_DER_BAD_TAG);       /* number 30 must use the short form */
  EXPECT_PARSE("9F8051 00", RSP_E_DER_BAD_TAG);     /* leading 0x80 padding */
  EXPECT_PARSE("9F81818181 00", RSP_E_DER_BAD_TAG); /* too many tag bytes */
  EXPECT_PARSE("BF", RSP_E_DER_TRUNCATED);
  EXPECT_PARSE("00 00", RSP_E_DER_BAD_TAG); /* BER end-of-contents */
  EXPECT_PARSE("BF81", RSP_E_DER_TRUNCATED);
}

static void lengths_are_strict(void) {
  EXPECT_PARSE("04 00", RSP_OK);
  EXPECT_PARSE("04 80", RSP_E_DER_INDEFINITE_LENGTH);
  EXPECT_PARSE("30 80 0000", RSP_E_DER_INDEFINITE_LENGTH);
  EXPECT_PARSE("04 8101 AA", RSP_E_DER_NON_MINIMAL_LENGTH);   /* 1 needs no long form */
  EXPECT_PARSE("04 820001 AA", RSP_E_DER_NON_MINIMAL_LENGTH); /* leading zero length byte */
  EXPECT_PARSE("04 85 0100000000", RSP_E_DER_LENGTH_TOO_LARGE);
  EXPECT_PARSE("04 02 AA", RSP_E_DER_TRUNCATED);
  EXPECT_PARSE("04 84 7FFFFFFF AA", RSP_E_DER_TRUNCATED);
  EXPECT_PARSE("04 82 01", RSP_E_DER_TRUNCATED);
  EXPECT_PARSE("04 01 AA BB", RSP_E_DER_TRAILING_BYTES);
  EXPECT_PARSE("", RSP_E_DER_TRUNCATED);
  /* 128 bytes: 81 80 is the minimal form. */
  struct rsp_buf b;
  rsp_buf_init(&b, 1024);
  CHECK_OK(rsp_buf_append(&b, "\x04\x81\x80", 3));
  for (int i = 0; i < 128; i++) CHECK_OK(rsp_buf_append_byte(&b, (uint8_t)i));
  struct rsp_der_tlv t;
  CHECK_OK(rsp_der_parse_one(b.data, b.len, &t));
  CHECK_EQ(t.len, 128);
  rsp_buf_free(&b);
}

static void cursor_advances_only_on_success(void) {
  size_t n;
  uint8_t *d = rsp_test_hex("30 0B 80 01 05 5A 02 8904 81 02 03EE", &n);
  struct rsp_der_tlv seq, f;
  bool present;
  CHECK_OK(rsp_der_parse_one(d, n, &seq));
  const uint8_t *p, *end;
  rsp_der_children(&seq, &p, &end);
  const uint8_t *before = p;
  CHECK_ERR(rsp_der_read_expect(&p, end, 0x81, &f), RSP_E_DER_UNEXPECTED_TAG);
  CHECK(p == before);
  CHECK_OK(rsp_der_read_expect(&p, end, 0x80, &f));
  CHECK_OK(rsp_der_read_optional(&p, end, 0x82, &f, &present));
  CHECK(!present);
  CHECK_OK(rsp_der_read_optional(&p, end, 0x5A, &f, &present));
  CHECK(present);
  CHECK_EQ(f.len, 2);
  CHECK_OK(rsp_der_read_expect(&p, end, 0x81, &f));
  int64_t v;
  CHECK_OK(rsp_der_get_int64(&f, &v));
  CHECK_EQ(v, 1006);
  CHECK(p == end);
  CHECK_OK(rsp_der_read_optional(&p, end, 0x83, &f, &present));
  CHECK(!present);
  /* The raw slice of the sequence is exactly the input (what signatures are computed over). */
  CHECK(seq.raw == d && seq.raw_len == n);
  rsp_free(d);
}

static void integers_are_minimal(void) {
  struct rsp_der_tlv t;
  uint8_t *k;
  int64_t v;
  uint64_t u;
  static const struct {
    const char *hex;
    int64_t v;
  } ok[] = {{"02 01 00", 0},
            {"02 01 7F", 127},
            {"02 02 0080", 128},
            {"02 01 FF", -1},
            {"02 01 80", -128},
            {"02 02 FF7F", -129},
            {"02 02 03EE", 1006},
            {"02 03 7FFFFF", 0x7FFFFF},
            {"02 08 7FFFFFFFFFFFFFFF", INT64_MAX},
            {"02 08 8000000000000000", INT64_MIN}};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    CHECK_OK(parse_hex(ok[i].hex, &t, &k));
    CHECK_OK(rsp_der_get_int64(&t, &v));
    CHECK_EQ(v, ok[i].v);
    rsp_free(k);
  }
  static const char *const bad[] = {"02 00", "02 02 0001", "02 02 FFFF", "02 03 00007F"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK_OK(parse_hex(bad[i], &t, &k));
    CHECK_ERR(rsp_der_get_int64(&t, &v), RSP_E_DER_BAD_VALUE);
    rsp_free(k);
  }
  CHECK_OK(parse_hex("02 09 008000000000000000", &t, &k));
  CHECK_ERR(rsp_der_get_int64(&t, &v), RSP_E_DER_RANGE);
  CHECK_OK(rsp_der_get_uint64(&t, &u));
  CHECK(u == 0x8000000000000000ull);
  rsp_free(k);
  CHECK_OK(parse_hex("02 01 80", &t, &k));
  CHECK_ERR(rsp_der_get_uint64(&t, &u), RSP_E_DER_RANGE);
  rsp_free(k);
}

static void booleans_nulls_octets(void) {
  struct rsp_der_tlv t;
  uint8_t *k;
  bool b;
  struct rsp_slice s;
  CHECK_OK(parse_hex("01 01 FF", &t, &k));
  CHECK_OK(rsp_der_get_bool(&t, &b));
  CHECK(b);
  rsp_free(k);
  CHECK_OK(parse_hex("01 01 01", &t, &k));
  CHECK_ERR(rsp_der_get_bool(&t, &b), RSP_E_DER_BAD_VALUE); /* DER: TRUE is FF */
  rsp_free(k);
  CHECK_OK(parse_hex("05 00", &t, &k));
  CHECK_OK(rsp_der_get_null(&t));
  rsp_free(k);
  CHECK_OK(parse_hex("05 01 00", &t, &k));
  CHECK_ERR(rsp_der_get_null(&t), RSP_E_DER_BAD_VALUE);
  rsp_free(k);
  CHECK_OK(parse_hex("5A 10 89049032123451234512345678901235", &t, &k));
  CHECK_OK(rsp_der_get_octets(&t, 16, 16, &s));
  CHECK_ERR(rsp_der_get_octets(&t, 1, 15, &s), RSP_E_DER_RANGE);
  uint8_t eid[16];
  CHECK_OK(rsp_der_get_octets_fixed(&t, eid, 16));
  CHECK_EQ(eid[0], 0x89);
  rsp_free(k);
  CHECK_OK(parse_hex("24 03 040100", &t, &k)); /* constructed OCTET STRING is BER only */
  CHECK_ERR(rsp_der_get_octets(&t, 0, 100, &s), RSP_E_DER_BAD_VALUE);
  rsp_free(k);
}

static void utf8_strings(void) {
  struct rsp_der_tlv t;
  uint8_t *k;
  char out[16];
  struct rsp_slice s;
  CHECK_OK(parse_hex("80 03 65494D", &t, &k));
  CHECK_OK(rsp_der_get_utf8_cstr(&t, out, sizeof(out)));
  CHECK_STR(out, "eIM");
  CHECK_ERR(rsp_der_get_utf8_cstr(&t, out, 3), RSP_E_BUF_SMALL);
  rsp_free(k);
  CHECK_OK(parse_hex("0C 02 C3A9", &t, &k)); /* e-acute */
  CHECK_OK(rsp_der_get_utf8(&t, 1, 128, &s));
  rsp_free(k);
  static const char *const bad[] = {"0C 02 C0AF", "0C 01 80", "0C 03 EDA080",
                                    "0C 01 C3",   "0C 01 00", "0C 04 F4908080"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK_OK(parse_hex(bad[i], &t, &k));
    CHECK_ERR(rsp_der_get_utf8(&t, 0, 128, &s), RSP_E_DER_BAD_VALUE);
    rsp_free(k);
  }
}

static void bit_strings(void) {
  struct rsp_der_tlv t;
  uint8_t *k;
  uint32_t bits;
  unsigned nbits, unused;
  struct rsp_slice s;
  /* resetOptions with bits 0 and 2 set: 03 02 05 A0. */
  CHECK_OK(parse_hex("82 02 05A0", &t, &k));
  CHECK_OK(rsp_der_get_bits(&t, &bits, &nbits));
  CHECK_EQ(bits, 0x5);
  CHECK_EQ(nbits, 3);
  rsp_free(k);
  CHECK_OK(parse_hex("03 01 00", &t, &k)); /* empty named-bit list */
  CHECK_OK(rsp_der_get_bits(&t, &bits, &nbits));
  CHECK_EQ(bits, 0);
  rsp_free(k);
  CHECK_OK(parse_hex("03 02 04A0", &t, &k)); /* trailing zero bit kept: not DER for named bits */
  CHECK_ERR(rsp_der_get_bits(&t, &bits, &nbits), RSP_E_DER_BAD_VALUE);
  CHECK_OK(rsp_der_get_bitstring(&t, &unused, &s));
  rsp_free(k);
  CHECK_OK(parse_hex("03 02 05A8", &t, &k)); /* unused bits not zero */
  CHECK_ERR(rsp_der_get_bitstring(&t, &unused, &s), RSP_E_DER_BAD_VALUE);
  rsp_free(k);
  CHECK_OK(parse_hex("03 01 03", &t, &k));
  CHECK_ERR(rsp_der_get_bitstring(&t, &unused, &s), RSP_E_DER_BAD_VALUE);
  rsp_free(k);
  CHECK_OK(parse_hex("03 00", &t, &k));
  CHECK_ERR(rsp_der_get_bitstring(&t, &unused, &s), RSP_E_DER_BAD_VALUE);
  rsp_free(k);
}

static void oids(void) {
  struct rsp_der_tlv t;
  uint8_t *k;
  char out[64];
  CHECK_OK(parse_hex("06 08 2A8648CE3D030107", &t, &k));
  CHECK_OK(rsp_der_get_oid(&t, out, sizeof(out)));
  CHECK_STR(out, "1.2.840.10045.3.1.7");
  CHECK_ERR(rsp_der_get_oid(&t, out, 8), RSP_E_BUF_SMALL);
  rsp_free(k);
  CHECK_OK(parse_hex("06 07 6781120102 0100", &t, &k));
  CHECK_OK(rsp_der_get_oid(&t, out, sizeof(out)));
  CHECK_STR(out, "2.23.146.1.2.1.0");
  rsp_free(k);
  CHECK_OK(parse_hex("06 02 2A80", &t, &k)); /* unterminated subidentifier */
  CHECK_ERR(rsp_der_get_oid(&t, out, sizeof(out)), RSP_E_DER_BAD_VALUE);
  rsp_free(k);
  CHECK_OK(parse_hex("06 03 2A8001", &t, &k)); /* 0x80 padding */
  CHECK_ERR(rsp_der_get_oid(&t, out, sizeof(out)), RSP_E_DER_BAD_VALUE);
  rsp_free(k);
}

static void writer_nests_and_encodes(void) {
  struct rsp_buf b;
  struct rsp_der_writer w;
  rsp_buf_init(&b, 4096);
  rsp_der_writer_init(&w, &b);
  /* The EuiccPackageSigned shape of sgp32-notes 3.1. */
  rsp_der_begin(&w, 0xBF51);
  rsp_der_begin(&w, RSP_DER_SEQUENCE);
  rsp_der_put_utf8(&w, 0x80, "eIM");
  uint8_t eid[16] = {0x89, 0x04};
  rsp_der_put_octets(&w, 0x5A, eid, 16);
  rsp_der_put_int64(&w, 0x81, 1006);
  rsp_der_begin(&w, 0xA0);
  rsp_der_begin(&w, 0xA3);
  rsp_der_put_null(&w, RSP_DER_NULL);
  rsp_der_end(&w);
  rsp_der_end(&w);
  rsp_der_end(&w);
  rsp_der_end(&w);
  CHECK_OK(rsp_der_writer_finish(&w));
  size_t n;
  uint8_t *want = rsp_test_hex("BF51 23 30 21 8003 65494D 5A10 89040000000000000000000000000000 "
                               "8102 03EE A004 A302 0500",
                               &n);
  CHECK_EQ(b.len, n);
  CHECK_MEM(b.data, want, n);
  rsp_free(want);
  CHECK_OK(rsp_der_validate_tree(b.data, b.len));
  rsp_buf_free(&b);
}

static void writer_long_lengths_and_primitives(void) {
  struct rsp_buf b;
  struct rsp_der_writer w;
  uint8_t big[300] = {0};
  rsp_buf_init(&b, 4096);
  rsp_der_writer_init(&w, &b);
  rsp_der_begin(&w, RSP_DER_SEQUENCE);
  rsp_der_put_octets(&w, RSP_DER_OCTET_STRING, big, sizeof(big));
  rsp_der_end(&w);
  CHECK_OK(rsp_der_writer_finish(&w));
  CHECK_MEM(b.data, "\x30\x82\x01\x30\x04\x82\x01\x2C", 8);
  CHECK_EQ(b.len, 4 + 4 + 300);
  rsp_buf_reset(&b);
  rsp_der_writer_init(&w, &b);
  rsp_der_put_int64(&w, RSP_DER_INTEGER, -129);
  rsp_der_put_int64(&w, RSP_DER_INTEGER, 128);
  rsp_der_put_int64(&w, RSP_DER_INTEGER, 0);
  rsp_der_put_uint64(&w, RSP_DER_INTEGER, 0x80);
  static const uint8_t mag[] = {0x00, 0x00, 0xB8, 0x74};
  rsp_der_put_uint_bytes(&w, RSP_DER_INTEGER, mag, sizeof(mag));
  rsp_der_put_bool(&w, RSP_DER_BOOLEAN, true);
  rsp_der_put_bits(&w, 0x82, 0x5);
  rsp_der_put_bits(&w, RSP_DER_BIT_STRING, 0);
  rsp_der_put_oid(&w, RSP_DER_OID, "2.23.146.1.2.1.0");
  rsp_der_put_enum(&w, RSP_DER_ENUMERATED, 3);
  CHECK_OK(rsp_der_writer_finish(&w));
  size_t n;
  uint8_t *want = rsp_test_hex("0202FF7F 02020080 020100 02020080 020300B874 0101FF 820205A0 "
                               "030100 0607678112010201 00 0A0103",
                               &n);
  CHECK_EQ(b.len, n);
  CHECK_MEM(b.data, want, n);
  rsp_free(want);
  rsp_buf_free(&b);
}

static void writer_errors_are_sticky(void) {
  struct rsp_buf b;
  struct rsp_der_writer w;
  rsp_buf_init(&b, 8); /* tiny cap */
  rsp_der_writer_init(&w, &b);
  rsp_der_begin(&w, RSP_DER_SEQUENCE);
  rsp_der_put_octets(&w, RSP_DER_OCTET_STRING, "0123456789", 10);
  rsp_der_end(&w);
  CHECK_ERR(rsp_der_writer_finish(&w), RSP_E_BUF_CAP);
  rsp_buf_free(&b);
  rsp_buf_init(&b, 64);
  rsp_der_writer_init(&w, &b);
  rsp_der_begin(&w, RSP_DER_SEQUENCE);
  CHECK_ERR(rsp_der_writer_finish(&w), RSP_E_STATE);
  rsp_der_writer_init(&w, &b);
  rsp_der_end(&w);
  CHECK_ERR(rsp_der_writer_finish(&w), RSP_E_STATE);
  rsp_der_writer_init(&w, &b);
  rsp_der_put_oid(&w, RSP_DER_OID, "3.1");
  CHECK_ERR(rsp_der_writer_finish(&w), RSP_E_INVALID_ARG);
  rsp_der_writer_init(&w, &b);
  rsp_der_put_oid(&w, RSP_DER_OID, "1.2.");
  CHECK_ERR(rsp_der_writer_finish(&w), RSP_E_INVALID_ARG);
  rsp_der_writer_init(&w, &b);
  for (int i = 0; i <= RSP_DER_MAX_DEPTH; i++) rsp_der_begin(&w, RSP_DER_SEQUENCE);
  CHECK_ERR(rsp_der_writer_finish(&w), RSP_E_DER_NESTING);
  rsp_buf_free(&b);
}

static void validate_tree_walks_children(void) {
  size_t n;
  uint8_t *d = rsp_test_hex("30 06 A0 04 04 03 AABB", &n); /* inner length past its parent */
  CHECK_ERR(rsp_der_validate_tree(d, n), RSP_E_DER_TRUNCATED);
  rsp_free(d);
  d = rsp_test_hex("30 05 A0 03 04 01 AA", &n);
  CHECK_OK(rsp_der_validate_tree(d, n));
  rsp_free(d);
  d = rsp_test_hex("30 04 A0 80 0000", &n);
  CHECK_ERR(rsp_der_validate_tree(d, n), RSP_E_DER_INDEFINITE_LENGTH);
  rsp_free(d);
  /* Nesting deeper than the cap is refused rather than recursing without bound. */
  struct rsp_buf b;
  rsp_buf_init(&b, 4096);
  for (int i = 0; i < 40; i++) CHECK_OK(rsp_buf_append(&b, "\x30\x00", 2));
  for (int i = 39; i >= 0; i--) b.data[2 * i + 1] = (uint8_t)(78 - 2 * i);
  CHECK_ERR(rsp_der_validate_tree(b.data, b.len), RSP_E_DER_NESTING);
  rsp_buf_free(&b);
}

RSP_TESTS(T(tags_single_and_multi_byte), T(lengths_are_strict), T(cursor_advances_only_on_success),
          T(integers_are_minimal), T(booleans_nulls_octets), T(utf8_strings), T(bit_strings),
          T(oids), T(writer_nests_and_encodes), T(writer_long_lengths_and_primitives),
          T(writer_errors_are_sticky), T(validate_tree_walks_children))
