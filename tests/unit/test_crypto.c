/* Unit tests of lib/crypto: published vectors for the symmetric primitives, and for ECDSA and
 * ECDH round trips on both RSP curves plus interoperability with the OpenSSL command line,
 * using the SGP.26 test keys when the shared reference data is present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "rsp/core/alloc.h"
#include "rsp/crypto/crypto.h"
#include "rsp/crypto/signer.h"
#include "test.h"

static const enum rsp_curve curves[] = {RSP_CURVE_NIST_P256, RSP_CURVE_BRAINPOOL_P256R1};
#define NCURVES (sizeof(curves) / sizeof(curves[0]))

/* ---- helpers --------------------------------------------------------------------------------- */

/* Runs a shell command, collecting up to out_size-1 bytes of its combined output; returns its
 * exit status, or -1 when it could not be run. */
static int run(const char *cmd, char *out, size_t out_size) {
  char full[8192];
  char sink[256];
  size_t n = 0;
  snprintf(full, sizeof(full), "%s 2>&1", cmd);
  FILE *p = popen(full, "r");
  if (!p) return -1;
  if (!out) {
    out = sink;
    out_size = sizeof(sink);
  }
  for (;;) {
    size_t r = fread(out + n, 1, out_size - 1 - n, p);
    n += r;
    if (r == 0) break;
    if (n == out_size - 1) { /* drain the rest */
      char drop[256];
      while (fread(drop, 1, sizeof(drop), p) > 0) {
      }
      break;
    }
  }
  out[n] = 0;
  int st = pclose(p);
  return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* rsp_test_tmpdir returns a static buffer: keep a copy per test and remove the directory when
 * the test is done, so repeated runs leave nothing behind in $TMPDIR. */
static char tmp_dir[4096];

static const char *tmpdir(const char *tag) {
  snprintf(tmp_dir, sizeof(tmp_dir), "%s", rsp_test_tmpdir(tag));
  return tmp_dir;
}

static void tmpdir_remove(void) {
  char cmd[4200];
  if (!tmp_dir[0]) return;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
  CHECK_EQ(run(cmd, NULL, 0), 0);
  tmp_dir[0] = 0;
}

static bool have_openssl_cli(void) {
  static int state; /* 0 unknown, 1 yes, 2 no */
  if (!state) state = run("openssl version", NULL, 0) == 0 ? 1 : 2;
  return state == 1;
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  CHECK_EQ(fwrite(p, 1, n, f), n);
  CHECK_EQ(fclose(f), 0);
}

/* Checks that hex (spaces allowed) equals the n bytes at p. */
static void check_hex(const uint8_t *p, size_t n, const char *hex) {
  size_t len = 0;
  uint8_t *want = rsp_test_hex(hex, &len);
  CHECK_EQ(len, n);
  if (len == n) CHECK_MEM(p, want, n);
  rsp_free(want);
}

static char *hex_string(const uint8_t *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = 0;
  return out;
}

/* ---- curves, hashing, random ----------------------------------------------------------------- */

static void test_curve_names(void) {
  CHECK_STR(rsp_curve_name(RSP_CURVE_NIST_P256), "nist");
  CHECK_STR(rsp_curve_name(RSP_CURVE_BRAINPOOL_P256R1), "brp");
  const char *nist[] = {"nist", "p256", "prime256v1", "NIST", "P-256"};
  const char *brp[] = {"brp", "brainpool", "brainpoolP256r1", "BRAINPOOLP256R1"};
  for (size_t i = 0; i < sizeof(nist) / sizeof(nist[0]); i++)
    CHECK_EQ(rsp_curve_parse(nist[i]), RSP_CURVE_NIST_P256);
  for (size_t i = 0; i < sizeof(brp) / sizeof(brp[0]); i++)
    CHECK_EQ(rsp_curve_parse(brp[i]), RSP_CURVE_BRAINPOOL_P256R1);
  CHECK_EQ(rsp_curve_parse("secp384r1"), RSP_CURVE_NONE);
  CHECK_EQ(rsp_curve_parse(""), RSP_CURVE_NONE);
  CHECK_EQ(rsp_curve_parse(NULL), RSP_CURVE_NONE);
}

/* FIPS 180-2 examples. */
static void test_sha256(void) {
  uint8_t h[RSP_SHA256_LEN], h2[RSP_SHA256_LEN];
  CHECK_OK(rsp_sha256("abc", 3, h));
  check_hex(h, sizeof(h), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK_OK(rsp_sha256(NULL, 0, h));
  check_hex(h, sizeof(h), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK_OK(rsp_sha256(m, strlen(m), h));
  check_hex(h, sizeof(h), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  struct rsp_slice parts[4] = {{(const uint8_t *)m, 5},
                               {NULL, 0},
                               {(const uint8_t *)m + 5, 20},
                               {(const uint8_t *)m + 25, strlen(m) - 25}};
  CHECK_OK(rsp_sha256_v(parts, 4, h2));
  CHECK_MEM(h, h2, sizeof(h));
  struct rsp_slice bad = {NULL, 3};
  CHECK_ERR(rsp_sha256_v(&bad, 1, h2), RSP_E_INVALID_ARG);
}

static void test_random(void) {
  uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
  CHECK_OK(rsp_random(a, sizeof(a)));
  CHECK_OK(rsp_random(b, sizeof(b)));
  CHECK(memcmp(a, b, sizeof(a)) != 0);
  CHECK(memcmp(a, zero, sizeof(a)) != 0);
  CHECK_OK(rsp_random(NULL, 0));
  CHECK_ERR(rsp_random(NULL, 1), RSP_E_INVALID_ARG);
}

static void test_ct_equal(void) {
  CHECK(rsp_ct_equal("abcd", "abcd", 4));
  CHECK(!rsp_ct_equal("abcd", "abce", 4));
  CHECK(rsp_ct_equal("a", "b", 0));
}

/* ---- AES ------------------------------------------------------------------------------------- */

static const char *nist_key = "2b7e151628aed2a6abf7158809cf4f3c";
static const char *nist_pt = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
                             "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";

/* NIST SP 800-38A F.2.1 / F.2.2 CBC-AES128. */
static void test_aes_cbc_sp800_38a(void) {
  size_t klen, ivlen, ptlen;
  uint8_t *key = rsp_test_hex(nist_key, &klen);
  uint8_t *iv = rsp_test_hex("000102030405060708090a0b0c0d0e0f", &ivlen);
  uint8_t *pt = rsp_test_hex(nist_pt, &ptlen);
  const char *ct_hex = "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2"
                       "73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7";
  uint8_t ct[64], back[64], buf[64];

  CHECK_EQ(ptlen, 64);
  CHECK_OK(rsp_aes128_cbc_encrypt(key, iv, pt, ptlen, ct));
  check_hex(ct, sizeof(ct), ct_hex);
  CHECK_OK(rsp_aes128_cbc_decrypt(key, iv, ct, sizeof(ct), back));
  CHECK_MEM(back, pt, 64);
  /* In place, as the header allows. */
  memcpy(buf, pt, 64);
  CHECK_OK(rsp_aes128_cbc_encrypt(key, iv, buf, 64, buf));
  CHECK_MEM(buf, ct, 64);
  CHECK_OK(rsp_aes128_cbc_decrypt(key, iv, buf, 64, buf));
  CHECK_MEM(buf, pt, 64);
  /* No padding: a length that is not a multiple of the block size is refused. */
  CHECK_ERR(rsp_aes128_cbc_encrypt(key, iv, pt, 15, ct), RSP_E_INVALID_ARG);
  CHECK_ERR(rsp_aes128_cbc_decrypt(key, iv, ct, 17, back), RSP_E_INVALID_ARG);
  CHECK_OK(rsp_aes128_cbc_encrypt(key, iv, pt, 0, ct));
  rsp_free(key);
  rsp_free(iv);
  rsp_free(pt);
}

/* NIST SP 800-38A F.1.1 ECB-AES128, first block. */
static void test_aes_ecb_block(void) {
  size_t klen, ptlen;
  uint8_t *key = rsp_test_hex(nist_key, &klen);
  uint8_t *pt = rsp_test_hex(nist_pt, &ptlen);
  uint8_t out[16];
  CHECK_OK(rsp_aes128_ecb_block(key, pt, out));
  check_hex(out, 16, "3ad77bb40d7a3660a89ecaf32466ef97");
  CHECK_OK(rsp_aes128_ecb_block(key, pt + 16, out));
  check_hex(out, 16, "f5d3d58503b9699de785895a96fdbaaf");
  rsp_free(key);
  rsp_free(pt);
}

/* RFC 4493 §4 (the NIST SP 800-38B AES-128 examples): Mlen 0, 128, 320 and 512 bits. */
static void test_aes_cmac_rfc4493(void) {
  static const struct {
    size_t len;
    const char *mac;
  } ex[] = {
      {0, "bb1d6929e95937287fa37d129b756746"},
      {16, "070a16b46b4d4144f79bdd9dd04a287c"},
      {40, "dfa66747de9ae63030ca32611497c827"},
      {64, "51f0bebf7e3b9d92fc49741779363cfe"},
  };
  size_t klen, mlen;
  uint8_t *key = rsp_test_hex(nist_key, &klen);
  uint8_t *msg = rsp_test_hex(nist_pt, &mlen);
  uint8_t mac[RSP_CMAC_LEN], mac2[RSP_CMAC_LEN];

  for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
    CHECK_OK(rsp_aes128_cmac(key, msg, ex[i].len, mac));
    check_hex(mac, sizeof(mac), ex[i].mac);
    /* The same message split at awkward places must give the same MAC. */
    size_t a = ex[i].len / 3, b = ex[i].len - a;
    struct rsp_slice parts[3] = {{msg, a}, {NULL, 0}, {msg + a, b}};
    CHECK_OK(rsp_aes128_cmac_v(key, parts, 3, mac2));
    CHECK_MEM(mac, mac2, sizeof(mac));
  }
  rsp_free(key);
  rsp_free(msg);
}

/* ---- X9.63 KDF ------------------------------------------------------------------------------- */

/* NIST CAVS ansx963_2001.rsp, [SHA-256] sets (the same vectors appear in OpenSSL's
 * evpkdf_x963.txt): COUNT 0 of "shared secret 192, SharedInfo 0, key data 128" and COUNT 0 of
 * "shared secret 192, SharedInfo 128, key data 1024". */
static void test_kdf_x963_nist(void) {
  size_t zl, sil, kl;
  uint8_t out[128];
  uint8_t *z = rsp_test_hex("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08", &zl);
  CHECK_OK(rsp_kdf_x963_sha256(z, zl, NULL, 0, out, 16));
  check_hex(out, 16, "443024c3dae66b95e6f5670601558f71");
  rsp_free(z);

  z = rsp_test_hex("22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d", &zl);
  uint8_t *si = rsp_test_hex("75eef81aa3041e33b80971203d2c0c52", &sil);
  uint8_t *want = rsp_test_hex("c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e"
                               "52a13d9c7c6fc878c50c5ea0bc7b00e0da2447cfd874f6cf92f30d0097111485"
                               "500c90c3af8b487872d04685d14c8d1dc8d7fa08beb0ce0ababc11f0bd496269"
                               "142d43525a78e5bc79a17f59676a5706dc54d54d4d1f0bd7e386128ec26afc21",
                               &kl);
  CHECK_EQ(kl, 128);
  CHECK_OK(rsp_kdf_x963_sha256(z, zl, si, sil, out, 128));
  CHECK_MEM(out, want, 128);
  /* Shorter outputs are prefixes, including lengths that end inside a hash block. */
  uint8_t part[45];
  CHECK_OK(rsp_kdf_x963_sha256(z, zl, si, sil, part, sizeof(part)));
  CHECK_MEM(part, want, sizeof(part));
  CHECK_OK(rsp_kdf_x963_sha256(z, zl, si, sil, NULL, 0));
  CHECK_ERR(rsp_kdf_x963_sha256(NULL, 3, si, sil, out, 16), RSP_E_INVALID_ARG);
  rsp_free(z);
  rsp_free(si);
  rsp_free(want);
}

/* Random inputs checked against the `openssl kdf ... X963KDF` command line (OpenSSL's own
 * implementation), so a construction error that the two NIST vectors missed would show. */
static void test_kdf_x963_vs_openssl_cli(void) {
  if (!have_openssl_cli()) {
    rsp_test_skip("openssl command line not available");
    return;
  }
  for (int round = 0; round < 3; round++) {
    uint8_t z[32], si[40], ours[80];
    size_t out_len = round == 0 ? 48 : round == 1 ? 33 : 80;
    char zh[65], sih[81], cmd[512], out[1024], oh[161];
    CHECK_OK(rsp_random(z, sizeof(z)));
    CHECK_OK(rsp_random(si, sizeof(si)));
    CHECK_OK(rsp_kdf_x963_sha256(z, sizeof(z), si, sizeof(si), ours, out_len));
    snprintf(cmd, sizeof(cmd),
             "openssl kdf -keylen %zu -kdfopt digest:SHA256 -kdfopt hexsecret:%s "
             "-kdfopt hexinfo:%s X963KDF",
             out_len, hex_string(z, sizeof(z), zh), hex_string(si, sizeof(si), sih));
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    /* The command prints colon-separated upper-case hex; normalise it. */
    size_t k = 0;
    for (const char *c = out; *c && k < sizeof(oh) - 1; c++)
      if (*c != ':' && *c != '\n' && *c != '\r') oh[k++] = (char)(*c | 0x20);
    oh[k] = 0;
    char want[161];
    CHECK_STR(oh, hex_string(ours, out_len, want));
  }
}

/* SGP.22 §2.6.4 session keys: KeyData = KDF(ShS, SharedInfo) with SharedInfo = keyType 0x88 ||
 * keyLength 0x10 || hostId length || hostId || EID length 0x10 || EID, 48 bytes giving the
 * initial MAC chaining value, S-ENC and S-MAC. The result must equal the two SHA-256 blocks
 * computed by hand from the X9.63 definition. */
static void test_kdf_sgp22_shape(void) {
  size_t hl, el;
  uint8_t *host_id = rsp_test_hex("0102030405060708090A0B0C0D0E0F10", &hl);
  uint8_t *eid = rsp_test_hex("89049032123451234512345678901235", &el);
  uint8_t shs[RSP_ECDH_SECRET_LEN], si[64], key_data[48], blocks[64];
  size_t sil = 0;

  CHECK_OK(rsp_random(shs, sizeof(shs)));
  si[sil++] = 0x88;
  si[sil++] = 0x10;
  si[sil++] = (uint8_t)hl;
  memcpy(si + sil, host_id, hl);
  sil += hl;
  si[sil++] = 0x10;
  memcpy(si + sil, eid, el);
  sil += el;
  CHECK_EQ(sil, 3 + 16 + 1 + 16);
  CHECK_OK(rsp_kdf_x963_sha256(shs, sizeof(shs), si, sil, key_data, sizeof(key_data)));

  for (uint8_t c = 1; c <= 2; c++) {
    uint8_t counter[4] = {0, 0, 0, c};
    struct rsp_slice parts[3] = {{shs, sizeof(shs)}, {counter, 4}, {si, sil}};
    CHECK_OK(rsp_sha256_v(parts, 3, blocks + 32 * (c - 1)));
  }
  CHECK_MEM(key_data, blocks, 48);
  /* The three 16-byte keys are distinct. */
  CHECK(memcmp(key_data, key_data + 16, 16) != 0);
  CHECK(memcmp(key_data + 16, key_data + 32, 16) != 0);
  rsp_free(host_id);
  rsp_free(eid);
}

/* ---- ECDSA ----------------------------------------------------------------------------------- */

static void test_ecdsa_round_trip(void) {
  static const char msg[] = "euiccSigned1 stand-in: the bytes as received";
  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *k = NULL, *other = NULL, *pub = NULL;
    uint8_t sig[RSP_SIG_RAW_LEN], bad[RSP_SIG_RAW_LEN], pt[RSP_EC_POINT_LEN];
    CHECK_OK(rsp_key_generate(curves[c], &k));
    CHECK_OK(rsp_key_generate(curves[c], &other));
    if (!k || !other) continue;
    CHECK_EQ(rsp_key_curve(k), curves[c]);
    CHECK(rsp_key_has_private(k));
    CHECK_OK(rsp_key_point(k, pt));
    CHECK_OK(rsp_key_from_point(curves[c], pt, sizeof(pt), &pub));
    CHECK(!rsp_key_has_private(pub));

    CHECK_OK(rsp_ecdsa_sign(k, msg, sizeof(msg) - 1, sig));
    CHECK_OK(rsp_ecdsa_verify(pub, msg, sizeof(msg) - 1, sig));
    CHECK_OK(rsp_ecdsa_verify(k, msg, sizeof(msg) - 1, sig));
    /* Tampered message, tampered r, tampered s, wrong key. */
    CHECK_ERR(rsp_ecdsa_verify(pub, msg, sizeof(msg) - 2, sig), RSP_E_SIG_INVALID);
    memcpy(bad, sig, sizeof(bad));
    bad[3] ^= 0x01;
    CHECK_ERR(rsp_ecdsa_verify(pub, msg, sizeof(msg) - 1, bad), RSP_E_SIG_INVALID);
    memcpy(bad, sig, sizeof(bad));
    bad[63] ^= 0x80;
    CHECK_ERR(rsp_ecdsa_verify(pub, msg, sizeof(msg) - 1, bad), RSP_E_SIG_INVALID);
    CHECK_ERR(rsp_ecdsa_verify(other, msg, sizeof(msg) - 1, sig), RSP_E_SIG_INVALID);
    /* r = 0, s = 0, and r = s = 0xFF..FF (above the group order) never verify. */
    memset(bad, 0, sizeof(bad));
    CHECK_ERR(rsp_ecdsa_verify(pub, msg, sizeof(msg) - 1, bad), RSP_E_SIG_INVALID);
    memset(bad, 0xFF, sizeof(bad));
    CHECK_ERR(rsp_ecdsa_verify(pub, msg, sizeof(msg) - 1, bad), RSP_E_SIG_INVALID);
    /* Malformed input gets another code. */
    CHECK_ERR(rsp_ecdsa_verify(NULL, msg, sizeof(msg) - 1, sig), RSP_E_INVALID_ARG);
    CHECK_ERR(rsp_ecdsa_verify(pub, NULL, 5, sig), RSP_E_INVALID_ARG);
    /* A public key cannot sign. */
    CHECK_ERR(rsp_ecdsa_sign(pub, msg, 3, bad), RSP_E_KEY_INVALID);

    /* The sliced forms sign and verify the concatenation. */
    struct rsp_slice parts[3] = {{(const uint8_t *)msg, 10},
                                 {(const uint8_t *)msg + 10, 0},
                                 {(const uint8_t *)msg + 10, sizeof(msg) - 11}};
    CHECK_OK(rsp_ecdsa_sign_v(k, parts, 3, bad));
    CHECK_OK(rsp_ecdsa_verify(pub, msg, sizeof(msg) - 1, bad));
    CHECK_OK(rsp_ecdsa_verify_v(pub, parts, 3, sig));
    /* ECDSA is randomised: two signatures of one message differ. */
    CHECK(memcmp(sig, bad, sizeof(sig)) != 0);
    rsp_key_free(k);
    rsp_key_free(other);
    rsp_key_free(pub);
  }
}

/* The signature verified under one curve's key must not verify under the other curve. */
static void test_ecdsa_cross_curve(void) {
  struct rsp_key *n = NULL, *b = NULL;
  uint8_t sig[RSP_SIG_RAW_LEN];
  CHECK_OK(rsp_key_generate(RSP_CURVE_NIST_P256, &n));
  CHECK_OK(rsp_key_generate(RSP_CURVE_BRAINPOOL_P256R1, &b));
  CHECK_OK(rsp_ecdsa_sign(n, "x", 1, sig));
  CHECK_ERR(rsp_ecdsa_verify(b, "x", 1, sig), RSP_E_SIG_INVALID);
  rsp_key_free(n);
  rsp_key_free(b);
}

static void der_to_raw_case(const char *hex, rsp_err_t want) {
  size_t len;
  uint8_t *der = rsp_test_hex(hex, &len);
  uint8_t raw[RSP_SIG_RAW_LEN];
  rsp_err_t rc = rsp_ecdsa_sig_der_to_raw(der, len, raw);
  if (rc != want) fprintf(stderr, "  DER case: %s\n", hex);
  CHECK_ERR(rc, want);
  rsp_free(der);
}

static void test_sig_conversion(void) {
  uint8_t raw[RSP_SIG_RAW_LEN] = {0}, back[RSP_SIG_RAW_LEN], der[RSP_SIG_DER_MAX];
  size_t der_len = 0;
  char big[200];

  /* r = s = 1: the shortest encoding. */
  raw[31] = 1;
  raw[63] = 1;
  CHECK_OK(rsp_ecdsa_sig_raw_to_der(raw, der, sizeof(der), &der_len));
  check_hex(der, der_len, "3006020101020101");
  CHECK_OK(rsp_ecdsa_sig_der_to_raw(der, der_len, back));
  CHECK_MEM(back, raw, sizeof(raw));
  /* r with its top bit set needs a 00 pad; both 32-byte halves at maximum size give 72 bytes. */
  memset(raw, 0xA5, sizeof(raw));
  CHECK_OK(rsp_ecdsa_sig_raw_to_der(raw, der, sizeof(der), &der_len));
  CHECK_EQ(der_len, RSP_SIG_DER_MAX);
  CHECK_EQ(der[2], 0x02);
  CHECK_EQ(der[3], 0x21);
  CHECK_EQ(der[4], 0x00);
  CHECK_OK(rsp_ecdsa_sig_der_to_raw(der, der_len, back));
  CHECK_MEM(back, raw, sizeof(raw));
  CHECK_ERR(rsp_ecdsa_sig_raw_to_der(raw, der, 71, &der_len), RSP_E_BUF_SMALL);
  memset(raw, 0, 32);
  CHECK_ERR(rsp_ecdsa_sig_raw_to_der(raw, der, sizeof(der), &der_len), RSP_E_SIG_FORMAT);

  /* Round trip of real signatures on both curves. */
  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *k = NULL;
    CHECK_OK(rsp_key_generate(curves[c], &k));
    for (int i = 0; i < 8 && k; i++) {
      CHECK_OK(rsp_ecdsa_sign(k, &i, sizeof(i), raw));
      CHECK_OK(rsp_ecdsa_sig_raw_to_der(raw, der, sizeof(der), &der_len));
      CHECK_OK(rsp_ecdsa_sig_der_to_raw(der, der_len, back));
      CHECK_MEM(back, raw, sizeof(raw));
    }
    rsp_key_free(k);
  }

  der_to_raw_case("3006020101020101", RSP_OK);
  der_to_raw_case(
      "30260221008000000000000000000000000000000000000000000000000000000000000000020101", RSP_OK);
  der_to_raw_case("300602010102010100", RSP_E_SIG_FORMAT);      /* trailing byte */
  der_to_raw_case("30070202000102010100", RSP_E_SIG_FORMAT);    /* non-minimal r, and trailing */
  der_to_raw_case("300702020001020101", RSP_E_SIG_FORMAT);      /* non-minimal INTEGER r */
  der_to_raw_case("3081060201010201 01", RSP_E_SIG_FORMAT);     /* long-form SEQUENCE length */
  der_to_raw_case("30070281010102 0101", RSP_E_SIG_FORMAT);     /* long-form INTEGER length */
  der_to_raw_case("3006020180020101", RSP_E_SIG_FORMAT);        /* negative r */
  der_to_raw_case("30060201010201FF", RSP_E_SIG_FORMAT);        /* negative s */
  der_to_raw_case("3006020100020101", RSP_E_SIG_FORMAT);        /* r = 0 */
  der_to_raw_case("3006020101020100", RSP_E_SIG_FORMAT);        /* s = 0 */
  der_to_raw_case("30800201010201010000", RSP_E_SIG_FORMAT);    /* indefinite length */
  der_to_raw_case("3106020101020101", RSP_E_SIG_FORMAT);        /* SET, not SEQUENCE */
  der_to_raw_case("3006040101020101", RSP_E_SIG_FORMAT);        /* OCTET STRING r */
  der_to_raw_case("3007020101020101", RSP_E_SIG_FORMAT);        /* length beyond the data */
  der_to_raw_case("30090201010201010201 01", RSP_E_SIG_FORMAT); /* three INTEGERs */
  der_to_raw_case("3000", RSP_E_SIG_FORMAT);
  /* r of 33 significant bytes does not fit the 32-byte raw form. */
  snprintf(big, sizeof(big), "3026 0221 01%s 020101",
           "1111111111111111111111111111111111111111111111111111111111111111");
  der_to_raw_case(big, RSP_E_SIG_FORMAT);
  /* Longer than any P-256 signature can be. */
  uint8_t huge[RSP_SIG_DER_MAX + 1] = {0x30, RSP_SIG_DER_MAX - 1};
  CHECK_ERR(rsp_ecdsa_sig_der_to_raw(huge, sizeof(huge), back), RSP_E_SIG_FORMAT);
}

/* ---- keys ------------------------------------------------------------------------------------ */

static void test_key_point_and_spki(void) {
  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *k = NULL, *p1 = NULL, *p2 = NULL, *bad = NULL;
    uint8_t pt[RSP_EC_POINT_LEN], pt2[RSP_EC_POINT_LEN];
    struct rsp_buf spki;
    rsp_buf_init(&spki, 1024);
    CHECK_OK(rsp_key_generate(curves[c], &k));
    if (!k) continue;
    CHECK_OK(rsp_key_point(k, pt));
    CHECK_EQ(pt[0], 0x04);
    CHECK_OK(rsp_key_from_point(curves[c], pt, sizeof(pt), &p1));
    CHECK_OK(rsp_key_point(p1, pt2));
    CHECK_MEM(pt, pt2, sizeof(pt));

    /* SPKI: named curve OID and uncompressed point, so 91 bytes for P-256 (OID 8 bytes) and
     * 92 for brainpoolP256r1 (OID 9 bytes); rsp_key_spki appends. */
    CHECK_OK(rsp_buf_append(&spki, "\xAA", 1));
    CHECK_OK(rsp_key_spki(k, &spki));
    CHECK_EQ(spki.len, 1 + (curves[c] == RSP_CURVE_NIST_P256 ? 91 : 92));
    CHECK_EQ(spki.data[0], 0xAA);
    CHECK_MEM(spki.data + spki.len - 64, pt + 1, 64);
    CHECK_OK(rsp_key_from_spki(spki.data + 1, spki.len - 1, &p2));
    CHECK_EQ(rsp_key_curve(p2), curves[c]);
    CHECK_OK(rsp_key_point(p2, pt2));
    CHECK_MEM(pt, pt2, sizeof(pt));
    /* Trailing bytes and truncation. */
    CHECK_OK(rsp_buf_append(&spki, "\x00", 1));
    CHECK(rsp_key_from_spki(spki.data + 1, spki.len - 1, &bad) != RSP_OK);
    CHECK(rsp_key_from_spki(spki.data + 1, spki.len - 3, &bad) != RSP_OK);
    CHECK(bad == NULL);

    /* Points that are off the curve, compressed, the wrong size, or for the other curve. */
    memcpy(pt2, pt, sizeof(pt));
    pt2[64] ^= 0x01;
    CHECK_ERR(rsp_key_from_point(curves[c], pt2, sizeof(pt2), &bad), RSP_E_KEY_INVALID);
    pt2[64] ^= 0x01;
    pt2[0] = 0x02;
    CHECK_ERR(rsp_key_from_point(curves[c], pt2, 33, &bad), RSP_E_KEY_INVALID);
    CHECK_ERR(rsp_key_from_point(curves[c], pt2, sizeof(pt2), &bad), RSP_E_KEY_INVALID);
    CHECK_ERR(rsp_key_from_point(curves[c], pt, 64, &bad), RSP_E_KEY_INVALID);
    CHECK_ERR(rsp_key_from_point(curves[NCURVES - 1 - c], pt, sizeof(pt), &bad), RSP_E_KEY_INVALID);
    CHECK_ERR(rsp_key_from_point(RSP_CURVE_NONE, pt, sizeof(pt), &bad), RSP_E_CURVE_UNSUPPORTED);
    memset(pt2, 0, sizeof(pt2));
    pt2[0] = 0x04;
    CHECK_ERR(rsp_key_from_point(curves[c], pt2, sizeof(pt2), &bad), RSP_E_KEY_INVALID);
    CHECK(bad == NULL);
    rsp_buf_free(&spki);
    rsp_key_free(k);
    rsp_key_free(p1);
    rsp_key_free(p2);
  }
  struct rsp_key *none = NULL;
  CHECK_ERR(rsp_key_generate(RSP_CURVE_NONE, &none), RSP_E_CURVE_UNSUPPORTED);
  rsp_key_free(NULL);
}

static void test_key_pem_round_trip(void) {
  const char *dir = tmpdir("crypto-pem");
  char priv_path[4200], pub_path[4200];
  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *k = NULL, *kp = NULL, *kq = NULL, *bad = NULL;
    uint8_t pt[RSP_EC_POINT_LEN], pt2[RSP_EC_POINT_LEN], sig[RSP_SIG_RAW_LEN];
    snprintf(priv_path, sizeof(priv_path), "%s/sk_%s.pem", dir, rsp_curve_name(curves[c]));
    snprintf(pub_path, sizeof(pub_path), "%s/pk_%s.pem", dir, rsp_curve_name(curves[c]));
    CHECK_OK(rsp_key_generate(curves[c], &k));
    if (!k) continue;
    CHECK_OK(rsp_key_write_pem(k, true, priv_path));
    CHECK_OK(rsp_key_write_pem(k, false, pub_path));
    size_t n = 0;
    uint8_t *text = rsp_test_read_file(priv_path, &n);
    CHECK(text && n > 30 && memcmp(text, "-----BEGIN PRIVATE KEY-----", 27) == 0);
    rsp_free(text);
    struct stat st;
    CHECK_EQ(stat(priv_path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);

    CHECK_OK(rsp_key_load_file(priv_path, true, &kp));
    CHECK_OK(rsp_key_load_file(pub_path, false, &kq));
    CHECK(rsp_key_has_private(kp));
    CHECK(!rsp_key_has_private(kq));
    CHECK_EQ(rsp_key_curve(kp), curves[c]);
    CHECK_EQ(rsp_key_curve(kq), curves[c]);
    CHECK_OK(rsp_key_point(k, pt));
    CHECK_OK(rsp_key_point(kq, pt2));
    CHECK_MEM(pt, pt2, sizeof(pt));
    CHECK_OK(rsp_ecdsa_sign(kp, "m", 1, sig));
    CHECK_OK(rsp_ecdsa_verify(kq, "m", 1, sig));

    /* A public key file is not a private key, and a public key cannot be written as one. */
    CHECK_ERR(rsp_key_load_file(pub_path, true, &bad), RSP_E_KEY_INVALID);
    CHECK_ERR(rsp_key_write_pem(kq, true, priv_path), RSP_E_KEY_INVALID);
    CHECK(bad == NULL);
    rsp_key_free(k);
    rsp_key_free(kp);
    rsp_key_free(kq);
  }
  struct rsp_key *bad = NULL;
  snprintf(priv_path, sizeof(priv_path), "%s/missing.pem", dir);
  CHECK_ERR(rsp_key_load_file(priv_path, true, &bad), RSP_E_NOT_FOUND);
  CHECK_ERR(rsp_key_parse((const uint8_t *)"garbage", 7, true, &bad), RSP_E_KEY_INVALID);
  CHECK_ERR(rsp_key_parse((const uint8_t *)"-----BEGIN ", 11, false, &bad), RSP_E_KEY_INVALID);
  tmpdir_remove();
}

/* The SGP.26 key files: SEC1 "EC PRIVATE KEY" preceded by an "EC PARAMETERS" block. Each SK
 * must load with the right curve and match its PK. */
static void test_key_sgp26_files(void) {
  static const struct {
    const char *sk, *pk;
    enum rsp_curve curve;
  } files[] = {
      {"sgp26/eUICC/SK_EUICC_ECDSA_NIST.pem", "sgp26/eUICC/PK_EUICC_ECDSA_NIST.pem",
       RSP_CURVE_NIST_P256},
      {"sgp26/eUICC/SK_EUICC_ECDSA_BRP.pem", "sgp26/eUICC/PK_EUICC_ECDSA_BRP.pem",
       RSP_CURVE_BRAINPOOL_P256R1},
      {"sgp26/EUM/SK_EUM_ECDSA_BRP.pem", "sgp26/EUM/PK_EUM_ECDSA_BRP.pem",
       RSP_CURVE_BRAINPOOL_P256R1},
      {"sgp26/DPpb/SK_S_SM_DPpb_ECDSA_NIST.pem", "sgp26/DPpb/PK_S_SM_DPpb_ECDSA_NIST.pem",
       RSP_CURVE_NIST_P256},
      {"sgp26/DPauth/SK_S_SM_DPauth_ECDSA_BRP.pem", "sgp26/DPauth/PK_S_SM_DPauth_ECDSA_BRP.pem",
       RSP_CURVE_BRAINPOOL_P256R1},
  };
  if (!rsp_test_shared_dir()) {
    rsp_test_skip("shared reference data absent: SGP.26 key files not tested");
    return;
  }
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    struct rsp_key *sk = NULL, *pk = NULL;
    uint8_t a[RSP_EC_POINT_LEN], b[RSP_EC_POINT_LEN];
    char sk_path[8192];
    snprintf(sk_path, sizeof(sk_path), "%s", rsp_test_shared_path(files[i].sk));
    CHECK_OK(rsp_key_load_file(sk_path, true, &sk));
    CHECK_OK(rsp_key_load_file(rsp_test_shared_path(files[i].pk), false, &pk));
    if (!sk || !pk) {
      fprintf(stderr, "  key file %s\n", files[i].sk);
      rsp_key_free(sk);
      rsp_key_free(pk);
      continue;
    }
    CHECK_EQ(rsp_key_curve(sk), files[i].curve);
    CHECK_EQ(rsp_key_curve(pk), files[i].curve);
    CHECK_OK(rsp_key_point(sk, a));
    CHECK_OK(rsp_key_point(pk, b));
    CHECK_MEM(a, b, sizeof(a));
    rsp_key_free(sk);
    rsp_key_free(pk);
  }
}

/* DER forms (SEC1 and PKCS#8 private keys, SPKI public keys) and explicit-parameter keys, made
 * with the OpenSSL command line from a key of ours. */
static void test_key_der_and_explicit(void) {
  if (!have_openssl_cli()) {
    rsp_test_skip("openssl command line not available");
    return;
  }
  const char *dir = tmpdir("crypto-der");
  char cmd[4096 * 3], path[4200], out[2048];
  static const char *forms[] = {
      "openssl ec -in '%s/sk.pem' -outform DER -out '%s/k.der'",
      "openssl pkcs8 -topk8 -nocrypt -in '%s/sk.pem' -outform DER -out '%s/k.der'",
      "openssl ec -in '%s/sk.pem' -param_enc explicit -outform DER -out '%s/k.der'",
      "openssl ec -in '%s/sk.pem' -param_enc explicit -out '%s/k.der'",
      "openssl ec -in '%s/sk.pem' -conv_form compressed -outform DER -out '%s/k.der'",
  };
  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *k = NULL;
    uint8_t pt[RSP_EC_POINT_LEN];
    CHECK_OK(rsp_key_generate(curves[c], &k));
    if (!k) continue;
    CHECK_OK(rsp_key_point(k, pt));
    snprintf(path, sizeof(path), "%s/sk.pem", dir);
    CHECK_OK(rsp_key_write_pem(k, true, path));
    for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
      struct rsp_key *kd = NULL, *pub = NULL;
      uint8_t pt2[RSP_EC_POINT_LEN];
      struct rsp_buf spki;
      rsp_buf_init(&spki, 1024);
      snprintf(cmd, sizeof(cmd), forms[f], dir, dir);
      CHECK_EQ(run(cmd, out, sizeof(out)), 0);
      snprintf(path, sizeof(path), "%s/k.der", dir);
      CHECK_OK(rsp_key_load_file(path, true, &kd));
      if (!kd) {
        fprintf(stderr, "  form: %s\n  %s\n", forms[f], out);
        continue;
      }
      CHECK_EQ(rsp_key_curve(kd), curves[c]);
      CHECK_OK(rsp_key_point(kd, pt2));
      CHECK_MEM(pt, pt2, sizeof(pt));
      /* Whatever the input form, the key comes out with the named curve and an
       * uncompressed point. */
      CHECK_OK(rsp_key_spki(kd, &spki));
      CHECK_EQ(spki.len, curves[c] == RSP_CURVE_NIST_P256 ? 91 : 92);
      CHECK_OK(rsp_key_from_spki(spki.data, spki.len, &pub));
      rsp_buf_free(&spki);
      rsp_key_free(pub);
      rsp_key_free(kd);
    }
    /* SPKI DER of the public key with explicit parameters. */
    snprintf(cmd, sizeof(cmd),
             "openssl ec -in '%s/sk.pem' -pubout -param_enc explicit -outform DER -out '%s/pk.der'",
             dir, dir);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    snprintf(path, sizeof(path), "%s/pk.der", dir);
    struct rsp_key *pk = NULL;
    uint8_t pt2[RSP_EC_POINT_LEN];
    CHECK_OK(rsp_key_load_file(path, false, &pk));
    CHECK_EQ(rsp_key_curve(pk), curves[c]);
    if (pk) CHECK_OK(rsp_key_point(pk, pt2));
    if (pk) CHECK_MEM(pt, pt2, sizeof(pt));
    rsp_key_free(pk);
    rsp_key_free(k);
  }
  /* A curve RSP does not use is refused with its own code. */
  snprintf(cmd, sizeof(cmd), "openssl ecparam -name secp384r1 -genkey -noout -out '%s/p384.pem'",
           dir);
  CHECK_EQ(run(cmd, out, sizeof(out)), 0);
  snprintf(path, sizeof(path), "%s/p384.pem", dir);
  struct rsp_key *bad = NULL;
  CHECK_ERR(rsp_key_load_file(path, true, &bad), RSP_E_CURVE_UNSUPPORTED);
  tmpdir_remove();
}

/* ---- interoperability with the OpenSSL command line ------------------------------------------ */

/* Our signature, converted to DER, verifies with `openssl dgst -verify`; a signature made by
 * `openssl dgst -sign` verifies with our code; tampering is caught on both sides. */
static void interop_one(const char *dir, const char *tag, const char *sk_path,
                        const char *pk_path) {
  struct rsp_key *sk = NULL, *pk = NULL;
  uint8_t sig[RSP_SIG_RAW_LEN], der[RSP_SIG_DER_MAX];
  size_t der_len = 0, n = 0;
  char msg_path[4200], sig_path[4200], cmd[16384], out[2048];
  char msg[128];

  CHECK_OK(rsp_key_load_file(sk_path, true, &sk));
  CHECK_OK(rsp_key_load_file(pk_path, false, &pk));
  if (!sk || !pk) goto out;
  snprintf(msg, sizeof(msg), "interoperability check, %s key", tag);
  snprintf(msg_path, sizeof(msg_path), "%s/msg_%s.bin", dir, tag);
  write_file(msg_path, msg, strlen(msg));

  CHECK_OK(rsp_ecdsa_sign(sk, msg, strlen(msg), sig));
  CHECK_OK(rsp_ecdsa_sig_raw_to_der(sig, der, sizeof(der), &der_len));
  snprintf(sig_path, sizeof(sig_path), "%s/sig_ours_%s.der", dir, tag);
  write_file(sig_path, der, der_len);
  snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -verify '%s' -signature '%s' '%s'", pk_path,
           sig_path, msg_path);
  CHECK_EQ(run(cmd, out, sizeof(out)), 0);
  CHECK(strstr(out, "Verified OK") != NULL);
  sig[40] ^= 0x04;
  CHECK_OK(rsp_ecdsa_sig_raw_to_der(sig, der, sizeof(der), &der_len));
  write_file(sig_path, der, der_len);
  CHECK(run(cmd, out, sizeof(out)) != 0);

  snprintf(sig_path, sizeof(sig_path), "%s/sig_openssl_%s.der", dir, tag);
  snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -sign '%s' -out '%s' '%s'", sk_path, sig_path,
           msg_path);
  CHECK_EQ(run(cmd, out, sizeof(out)), 0);
  uint8_t *theirs = rsp_test_read_file(sig_path, &n);
  CHECK(theirs != NULL);
  if (theirs) {
    CHECK_OK(rsp_ecdsa_sig_der_to_raw(theirs, n, sig));
    CHECK_OK(rsp_ecdsa_verify(pk, msg, strlen(msg), sig));
    CHECK_ERR(rsp_ecdsa_verify(pk, msg, strlen(msg) - 1, sig), RSP_E_SIG_INVALID);
  }
  rsp_free(theirs);
out:
  rsp_key_free(sk);
  rsp_key_free(pk);
}

static void test_interop_generated_keys(void) {
  if (!have_openssl_cli()) {
    rsp_test_skip("openssl command line not available");
    return;
  }
  const char *dir = tmpdir("crypto-interop");
  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *k = NULL;
    char sk[4200], pk[4200];
    snprintf(sk, sizeof(sk), "%s/sk_%s.pem", dir, rsp_curve_name(curves[c]));
    snprintf(pk, sizeof(pk), "%s/pk_%s.pem", dir, rsp_curve_name(curves[c]));
    CHECK_OK(rsp_key_generate(curves[c], &k));
    CHECK_OK(rsp_key_write_pem(k, true, sk));
    CHECK_OK(rsp_key_write_pem(k, false, pk));
    rsp_key_free(k);
    interop_one(dir, rsp_curve_name(curves[c]), sk, pk);
  }
  tmpdir_remove();
}

static void test_interop_sgp26_keys(void) {
  if (!have_openssl_cli()) {
    rsp_test_skip("openssl command line not available");
    return;
  }
  if (!rsp_test_shared_dir()) {
    rsp_test_skip("shared reference data absent: SGP.26 interoperability not tested");
    return;
  }
  const char *dir = tmpdir("crypto-sgp26");
  static const char *names[][3] = {
      {"nist", "sgp26/eUICC/SK_EUICC_ECDSA_NIST.pem", "sgp26/eUICC/PK_EUICC_ECDSA_NIST.pem"},
      {"brp", "sgp26/eUICC/SK_EUICC_ECDSA_BRP.pem", "sgp26/eUICC/PK_EUICC_ECDSA_BRP.pem"},
  };
  for (size_t i = 0; i < 2; i++) {
    char sk[8192], pk[8192];
    snprintf(sk, sizeof(sk), "%s", rsp_test_shared_path(names[i][1]));
    snprintf(pk, sizeof(pk), "%s", rsp_test_shared_path(names[i][2]));
    interop_one(dir, names[i][0], sk, pk);
  }
  tmpdir_remove();
}

/* ---- ECDH ------------------------------------------------------------------------------------ */

static void test_ecdh(void) {
  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *a = NULL, *b = NULL, *a_pub = NULL, *b_pub = NULL;
    uint8_t pa[RSP_EC_POINT_LEN], pb[RSP_EC_POINT_LEN];
    uint8_t s1[RSP_ECDH_SECRET_LEN], s2[RSP_ECDH_SECRET_LEN], s3[RSP_ECDH_SECRET_LEN];
    CHECK_OK(rsp_key_generate(curves[c], &a));
    CHECK_OK(rsp_key_generate(curves[c], &b));
    if (!a || !b) continue;
    CHECK_OK(rsp_key_point(a, pa));
    CHECK_OK(rsp_key_point(b, pb));
    CHECK_OK(rsp_key_from_point(curves[c], pa, sizeof(pa), &a_pub));
    CHECK_OK(rsp_key_from_point(curves[c], pb, sizeof(pb), &b_pub));
    CHECK_OK(rsp_ecdh(a, b_pub, s1));
    CHECK_OK(rsp_ecdh(b, a_pub, s2));
    CHECK_MEM(s1, s2, sizeof(s1));
    /* A different peer gives a different secret; a public key cannot be the private side. */
    CHECK_OK(rsp_ecdh(a, a_pub, s3));
    CHECK(memcmp(s1, s3, sizeof(s1)) != 0);
    CHECK_ERR(rsp_ecdh(a_pub, b_pub, s3), RSP_E_KEY_INVALID);
    CHECK_ERR(rsp_ecdh(a, NULL, s3), RSP_E_INVALID_ARG);
    rsp_key_free(a);
    rsp_key_free(b);
    rsp_key_free(a_pub);
    rsp_key_free(b_pub);
  }
  /* Curves must match. */
  struct rsp_key *n = NULL, *b = NULL;
  uint8_t s[RSP_ECDH_SECRET_LEN];
  CHECK_OK(rsp_key_generate(RSP_CURVE_NIST_P256, &n));
  CHECK_OK(rsp_key_generate(RSP_CURVE_BRAINPOOL_P256R1, &b));
  CHECK_ERR(rsp_ecdh(n, b, s), RSP_E_KEY_INVALID);
  CHECK_ERR(rsp_ecdh(b, n, s), RSP_E_KEY_INVALID);
  rsp_key_free(n);
  rsp_key_free(b);
}

/* SGP.22 §2.6.4 as the two ends run it: the eUICC and the SM-DP+ each make a one-time key pair,
 * exchange the bare points (otPK.EUICC.ECKA in PrepareDownloadResponse, otPK.DP.ECKA in
 * InitialiseSecureChannel), compute ShS and derive 48 bytes of KeyData. Both must agree. */
static void test_ecdh_sgp22_session_keys(void) {
  size_t hl, el;
  uint8_t *host_id = rsp_test_hex("00112233445566778899AABBCCDDEEFF", &hl);
  uint8_t *eid = rsp_test_hex("89049032123451234512345678901235", &el);
  uint8_t si[64];
  size_t sil = 0;
  si[sil++] = 0x88;
  si[sil++] = 0x10;
  si[sil++] = (uint8_t)hl;
  memcpy(si + sil, host_id, hl);
  sil += hl;
  si[sil++] = (uint8_t)el;
  memcpy(si + sil, eid, el);
  sil += el;

  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *euicc = NULL, *dp = NULL, *euicc_seen = NULL, *dp_seen = NULL;
    uint8_t pe[RSP_EC_POINT_LEN], pd[RSP_EC_POINT_LEN];
    uint8_t shs_e[RSP_ECDH_SECRET_LEN], shs_d[RSP_ECDH_SECRET_LEN];
    uint8_t keys_e[48], keys_d[48];
    CHECK_OK(rsp_key_generate(curves[c], &euicc));
    CHECK_OK(rsp_key_generate(curves[c], &dp));
    CHECK_OK(rsp_key_point(euicc, pe));
    CHECK_OK(rsp_key_point(dp, pd));
    CHECK_OK(rsp_key_from_point(curves[c], pe, sizeof(pe), &euicc_seen));
    CHECK_OK(rsp_key_from_point(curves[c], pd, sizeof(pd), &dp_seen));
    CHECK_OK(rsp_ecdh(euicc, dp_seen, shs_e));
    CHECK_OK(rsp_ecdh(dp, euicc_seen, shs_d));
    CHECK_OK(rsp_kdf_x963_sha256(shs_e, sizeof(shs_e), si, sil, keys_e, sizeof(keys_e)));
    CHECK_OK(rsp_kdf_x963_sha256(shs_d, sizeof(shs_d), si, sil, keys_d, sizeof(keys_d)));
    CHECK_MEM(keys_e, keys_d, sizeof(keys_e));
    /* The BPP keys work end to end: what one side encrypts and MACs, the other accepts. */
    uint8_t iv[16] = {0}, block[32] = "profile element data, padded..", ct[32], mac_e[16],
            mac_d[16];
    CHECK_OK(rsp_aes128_cbc_encrypt(keys_e + 16, iv, block, sizeof(block), ct));
    CHECK_OK(rsp_aes128_cmac(keys_e + 32, ct, sizeof(ct), mac_e));
    CHECK_OK(rsp_aes128_cmac(keys_d + 32, ct, sizeof(ct), mac_d));
    CHECK(rsp_ct_equal(mac_e, mac_d, sizeof(mac_e)));
    CHECK_OK(rsp_aes128_cbc_decrypt(keys_d + 16, iv, ct, sizeof(ct), ct));
    CHECK_MEM(ct, block, sizeof(block));
    rsp_key_free(euicc);
    rsp_key_free(dp);
    rsp_key_free(euicc_seen);
    rsp_key_free(dp_seen);
  }
  rsp_free(host_id);
  rsp_free(eid);
}

/* Our ECDH agrees with `openssl pkeyutl -derive`. */
static void test_ecdh_vs_openssl_cli(void) {
  if (!have_openssl_cli()) {
    rsp_test_skip("openssl command line not available");
    return;
  }
  const char *dir = tmpdir("crypto-ecdh");
  char a_path[4200], b_path[4200], s_path[4200], cmd[16384], out[2048];
  snprintf(a_path, sizeof(a_path), "%s/a.pem", dir);
  snprintf(b_path, sizeof(b_path), "%s/b_pub.pem", dir);
  snprintf(s_path, sizeof(s_path), "%s/shared.bin", dir);
  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *a = NULL, *b = NULL;
    uint8_t s[RSP_ECDH_SECRET_LEN];
    size_t n = 0;
    CHECK_OK(rsp_key_generate(curves[c], &a));
    CHECK_OK(rsp_key_generate(curves[c], &b));
    CHECK_OK(rsp_key_write_pem(a, true, a_path));
    CHECK_OK(rsp_key_write_pem(b, false, b_path));
    CHECK_OK(rsp_ecdh(b, a, s));
    snprintf(cmd, sizeof(cmd), "openssl pkeyutl -derive -inkey '%s' -peerkey '%s' -out '%s'",
             a_path, b_path, s_path);
    CHECK_EQ(run(cmd, out, sizeof(out)), 0);
    uint8_t *theirs = rsp_test_read_file(s_path, &n);
    CHECK_EQ(n, RSP_ECDH_SECRET_LEN);
    if (theirs && n == RSP_ECDH_SECRET_LEN) CHECK_MEM(theirs, s, n);
    rsp_free(theirs);
    rsp_key_free(a);
    rsp_key_free(b);
  }
  tmpdir_remove();
}

/* ---- signer ---------------------------------------------------------------------------------- */

static void check_signer_against(struct rsp_signer *s, const struct rsp_key *pub) {
  static const char msg[] = "serverSigned1 stand-in";
  uint8_t sig[RSP_SIG_RAW_LEN];
  CHECK_OK(rsp_signer_sign(s, msg, sizeof(msg) - 1, sig));
  CHECK_OK(rsp_ecdsa_verify(pub, msg, sizeof(msg) - 1, sig));
  CHECK_OK(rsp_ecdsa_verify(rsp_signer_public_key(s), msg, sizeof(msg) - 1, sig));
  sig[10] ^= 1;
  CHECK_ERR(rsp_ecdsa_verify(pub, msg, sizeof(msg) - 1, sig), RSP_E_SIG_INVALID);
}

static void test_signer_sgp26(void) {
  if (!rsp_test_shared_dir()) {
    rsp_test_skip("shared reference data absent: SGP.26 signer not tested");
    return;
  }
  static const char *names[][2] = {
      {"sgp26/eUICC/SK_EUICC_ECDSA_NIST.pem", "sgp26/eUICC/PK_EUICC_ECDSA_NIST.pem"},
      {"sgp26/eUICC/SK_EUICC_ECDSA_BRP.pem", "sgp26/eUICC/PK_EUICC_ECDSA_BRP.pem"},
  };
  for (size_t i = 0; i < 2; i++) {
    struct rsp_signer *s = NULL, *s2 = NULL;
    struct rsp_key *pk = NULL;
    char sk_path[8192];
    snprintf(sk_path, sizeof(sk_path), "%s", rsp_test_shared_path(names[i][0]));
    CHECK_OK(rsp_signer_inproc_load(sk_path, &s));
    CHECK_OK(rsp_key_load_file(rsp_test_shared_path(names[i][1]), false, &pk));
    if (!s || !pk) {
      rsp_signer_destroy(s);
      rsp_key_free(pk);
      continue;
    }
    CHECK_EQ(rsp_signer_curve(s), i == 0 ? RSP_CURVE_NIST_P256 : RSP_CURVE_BRAINPOOL_P256R1);
    CHECK(!rsp_key_has_private(rsp_signer_public_key(s)));
    CHECK_STR(s->ops->name, "inproc");
    check_signer_against(s, pk);

    /* The same key from bytes. */
    size_t n = 0;
    uint8_t *bytes = rsp_test_read_file(sk_path, &n);
    CHECK_OK(rsp_signer_inproc_from_bytes(bytes, n, &s2));
    if (s2) check_signer_against(s2, pk);
    rsp_free(bytes);
    rsp_signer_destroy(s);
    rsp_signer_destroy(s2);
    rsp_key_free(pk);
  }
}

static void test_signer_generated(void) {
  for (size_t c = 0; c < NCURVES; c++) {
    struct rsp_key *k = NULL, *pub = NULL, *peer = NULL;
    struct rsp_signer *s = NULL;
    uint8_t pt[RSP_EC_POINT_LEN], s1[RSP_ECDH_SECRET_LEN], s2[RSP_ECDH_SECRET_LEN];
    CHECK_OK(rsp_key_generate(curves[c], &k));
    CHECK_OK(rsp_key_point(k, pt));
    CHECK_OK(rsp_key_from_point(curves[c], pt, sizeof(pt), &pub));
    CHECK_OK(rsp_signer_inproc_take_key(k, &s));
    if (!s) continue;
    CHECK_EQ(rsp_signer_curve(s), curves[c]);
    check_signer_against(s, pub);
    /* The signer's ECDH matches a plain ECDH from the peer's side. */
    CHECK_OK(rsp_key_generate(curves[c], &peer));
    CHECK(s->ops->ecdh != NULL);
    CHECK_OK(s->ops->ecdh(s, peer, s1));
    CHECK_OK(rsp_ecdh(peer, rsp_signer_public_key(s), s2));
    CHECK_MEM(s1, s2, sizeof(s1));
    rsp_signer_destroy(s);
    rsp_key_free(pub);
    rsp_key_free(peer);
  }
  /* A public key is refused, and consumed like any key handed over. */
  struct rsp_key *k = NULL, *pub = NULL;
  struct rsp_signer *s = NULL;
  uint8_t pt[RSP_EC_POINT_LEN], sig[RSP_SIG_RAW_LEN];
  CHECK_OK(rsp_key_generate(RSP_CURVE_NIST_P256, &k));
  CHECK_OK(rsp_key_point(k, pt));
  CHECK_OK(rsp_key_from_point(RSP_CURVE_NIST_P256, pt, sizeof(pt), &pub));
  CHECK_ERR(rsp_signer_inproc_take_key(pub, &s), RSP_E_KEY_INVALID);
  CHECK(s == NULL);
  rsp_key_free(k);
  CHECK_ERR(rsp_signer_sign(NULL, "x", 1, sig), RSP_E_INVALID_ARG);
  CHECK(rsp_signer_public_key(NULL) == NULL);
  CHECK_EQ(rsp_signer_curve(NULL), RSP_CURVE_NONE);
  rsp_signer_destroy(NULL);
  CHECK_ERR(rsp_signer_inproc_load("/nonexistent/key.pem", &s), RSP_E_NOT_FOUND);
}

/* Every allocation of the signer's construction path is made to fail in turn: each failure
 * must be reported as RSP_E_NOMEM and leak nothing (the sanitizer build checks the leaks). */
static void test_signer_alloc_failures(void) {
  const char *dir = tmpdir("crypto-alloc");
  char path[4200];
  struct rsp_key *k = NULL;
  size_t n = 0;
  snprintf(path, sizeof(path), "%s/sk.pem", dir);
  CHECK_OK(rsp_key_generate(RSP_CURVE_BRAINPOOL_P256R1, &k));
  CHECK_OK(rsp_key_write_pem(k, true, path));
  rsp_key_free(k);
  uint8_t *pem = rsp_test_read_file(path, &n);
  CHECK(pem != NULL);
  if (!pem) {
    tmpdir_remove();
    return;
  }
  bool done = false;
  for (long fail = 0; fail < 50 && !done; fail++) {
    struct rsp_signer *s = NULL;
    rsp_test_alloc_fail_after(fail);
    rsp_err_t rc = rsp_signer_inproc_from_bytes(pem, n, &s);
    rsp_test_alloc_fail_after(-1);
    if (rc == RSP_OK) {
      done = true;
      check_signer_against(s, rsp_signer_public_key(s));
      rsp_signer_destroy(s);
    } else {
      CHECK_ERR(rc, RSP_E_NOMEM);
      CHECK(s == NULL);
    }
  }
  CHECK(done);
  for (long fail = 0; fail < 50; fail++) {
    struct rsp_signer *s = NULL;
    rsp_test_alloc_fail_after(fail);
    rsp_err_t rc = rsp_signer_inproc_load(path, &s);
    rsp_test_alloc_fail_after(-1);
    rsp_signer_destroy(s);
    if (rc == RSP_OK) break;
    CHECK_ERR(rc, RSP_E_NOMEM);
  }
  rsp_free(pem);
  tmpdir_remove();
}

RSP_TESTS(T(test_curve_names), T(test_sha256), T(test_random), T(test_ct_equal),
          T(test_aes_cbc_sp800_38a), T(test_aes_ecb_block), T(test_aes_cmac_rfc4493),
          T(test_kdf_x963_nist), T(test_kdf_x963_vs_openssl_cli), T(test_kdf_sgp22_shape),
          T(test_ecdsa_round_trip), T(test_ecdsa_cross_curve), T(test_sig_conversion),
          T(test_key_point_and_spki), T(test_key_pem_round_trip), T(test_key_sgp26_files),
          T(test_key_der_and_explicit), T(test_interop_generated_keys), T(test_interop_sgp26_keys),
          T(test_ecdh), T(test_ecdh_sgp22_session_keys), T(test_ecdh_vs_openssl_cli),
          T(test_signer_sgp26), T(test_signer_generated), T(test_signer_alloc_failures))
