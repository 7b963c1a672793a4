/* Helper of test_bsp_openssl.sh: runs the BSP API (include/rsp/crypto/bsp.h) on hex arguments
 * and prints hex, one result per line, so the script can compare our output byte for byte with
 * a construction from the openssl command line.
 *
 *   bsp_tool derive SHS HOSTID EID
 *   bsp_tool derive-ecdh OWN_PRIVATE_KEY_PEM PEER_PUBLIC_KEY_PEM HOSTID EID
 *   bsp_tool wrap KEYDATA ITEM...      ITEM = 86:HEX | 87:HEX | 88:HEX (plaintext)
 *   bsp_tool unwrap KEYDATA ITEM...    ITEM = 86:HEX | 87:HEX | 88:HEX (segment)
 *
 * KEYDATA is 48 bytes, MCV || S-ENC || S-MAC as the KDF gives them. Both channel commands also
 * take restart:KEYDATA and continue:KEYDATA items, which run ReplaceSessionKeys with those PPKs
 * in the given counter mode. derive prints the 48 bytes of KeyData. Exit status 1 on any error.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/hex.h"
#include "rsp/crypto/bsp.h"

#define HEX_MAX (2 * RSP_BSP_SEGMENT_MAX + 1)

static int fail(const char *what, rsp_err_t rc) {
  fprintf(stderr, "bsp_tool: %s: %s (%s)\n", what, rsp_err_name(rc), rsp_strerror(rc));
  return 1;
}

static rsp_err_t unhex(const char *hex, uint8_t *out, size_t size, size_t want) {
  size_t len = 0;
  rsp_err_t rc = rsp_hex_decode(hex, out, size, &len);
  if (rc == RSP_OK && want && len != want) rc = RSP_E_INVALID_ARG;
  return rc;
}

static void print_hex(const uint8_t *p, size_t n) {
  static char hex[HEX_MAX];
  if (rsp_hex_encode(p, n, hex, sizeof(hex)) == RSP_OK) printf("%s\n", hex);
}

static void print_keys(const struct rsp_bsp_keys *k) {
  uint8_t kd[RSP_BSP_KEY_DATA_LEN];
  memcpy(kd, k->mcv, 16);
  memcpy(kd + 16, k->enc, 16);
  memcpy(kd + 32, k->mac, 16);
  print_hex(kd, sizeof(kd));
}

static rsp_err_t parse_keys(const char *hex, struct rsp_bsp_keys *k) {
  uint8_t kd[RSP_BSP_KEY_DATA_LEN];
  rsp_err_t rc = unhex(hex, kd, sizeof(kd), sizeof(kd));
  if (rc != RSP_OK) return rc;
  memcpy(k->mcv, kd, 16);
  memcpy(k->enc, kd + 16, 16);
  memcpy(k->mac, kd + 32, 16);
  return RSP_OK;
}

/* derive SHS HOSTID EID, or derive-ecdh PRIV PUB HOSTID EID. */
static int cmd_derive(int argc, char **argv, bool ecdh) {
  uint8_t shs[RSP_ECDH_SECRET_LEN], host[RSP_BSP_HOST_ID_MAX], eid[RSP_BSP_EID_LEN];
  size_t host_len = 0;
  struct rsp_key *own = NULL, *peer = NULL;
  struct rsp_bsp_keys k;
  const char **a = (const char **)argv + 2;
  rsp_err_t rc;

  if (argc != (ecdh ? 6 : 5)) return fail("usage", RSP_E_INVALID_ARG);
  rc = rsp_hex_decode(a[ecdh ? 2 : 1], host, sizeof(host), &host_len);
  if (rc == RSP_OK) rc = unhex(a[ecdh ? 3 : 2], eid, sizeof(eid), sizeof(eid));
  if (rc == RSP_OK && !ecdh) rc = unhex(a[0], shs, sizeof(shs), sizeof(shs));
  if (rc == RSP_OK && !ecdh)
    rc = rsp_bsp_derive_keys(shs, RSP_BSP_KEY_TYPE_AES, RSP_BSP_KEY_LENGTH_AES128, host, host_len,
                             eid, &k);
  if (rc == RSP_OK && ecdh) rc = rsp_key_load_file(a[0], true, &own);
  if (rc == RSP_OK && ecdh) rc = rsp_key_load_file(a[1], false, &peer);
  if (rc == RSP_OK && ecdh)
    rc = rsp_bsp_derive_keys_ecdh(own, peer, RSP_BSP_KEY_TYPE_AES, RSP_BSP_KEY_LENGTH_AES128, host,
                                  host_len, eid, &k);
  rsp_key_free(own);
  rsp_key_free(peer);
  if (rc != RSP_OK) return fail("derive", rc);
  print_keys(&k);
  return 0;
}

/* One item of wrap/unwrap: TAG:HEX, restart:KEYDATA or continue:KEYDATA. */
static rsp_err_t run_item(struct rsp_bsp *bsp, bool wrap, const char *item) {
  static uint8_t in[RSP_BSP_SEGMENT_MAX + 1], out[RSP_BSP_SEGMENT_MAX];
  const char *colon = strchr(item, ':');
  struct rsp_bsp_keys ppk;
  size_t in_len = 0, out_len = 0;
  rsp_err_t rc;

  if (!colon) return RSP_E_INVALID_ARG;
  if (strncmp(item, "restart:", 8) == 0 || strncmp(item, "continue:", 9) == 0) {
    rc = parse_keys(colon + 1, &ppk);
    if (rc == RSP_OK)
      rc = rsp_bsp_replace_keys(
          bsp, &ppk, item[0] == 'r' ? RSP_BSP_COUNTER_RESTART : RSP_BSP_COUNTER_CONTINUE);
    return rc;
  }
  uint32_t tag = (uint32_t)strtoul(item, NULL, 16);
  rc = rsp_hex_decode(colon + 1, in, sizeof(in), &in_len);
  if (rc != RSP_OK) return rc;
  if (wrap) {
    rc = rsp_bsp_wrap(bsp, tag, in, in_len, out, sizeof(out), &out_len);
  } else {
    const uint8_t *p = in;
    rc = rsp_bsp_unwrap(bsp, tag, &p, in + in_len, out, sizeof(out), &out_len);
    if (rc == RSP_OK && p != in + in_len) rc = RSP_E_DER_TRAILING_BYTES;
  }
  if (rc == RSP_OK) print_hex(out, out_len);
  return rc;
}

static int cmd_channel(int argc, char **argv, bool wrap) {
  struct rsp_bsp bsp;
  struct rsp_bsp_keys k;
  rsp_err_t rc;
  if (argc < 3) return fail("usage", RSP_E_INVALID_ARG);
  rc = parse_keys(argv[2], &k);
  if (rc != RSP_OK) return fail("KEYDATA", rc);
  rsp_bsp_init(&bsp, &k);
  for (int i = 3; i < argc && rc == RSP_OK; i++) {
    rc = run_item(&bsp, wrap, argv[i]);
    if (rc != RSP_OK) fprintf(stderr, "bsp_tool: item %d failed\n", i - 2);
  }
  rsp_bsp_free(&bsp);
  return rc == RSP_OK ? 0 : fail(wrap ? "wrap" : "unwrap", rc);
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "derive") == 0) return cmd_derive(argc, argv, false);
  if (argc >= 2 && strcmp(argv[1], "derive-ecdh") == 0) return cmd_derive(argc, argv, true);
  if (argc >= 2 && strcmp(argv[1], "wrap") == 0) return cmd_channel(argc, argv, true);
  if (argc >= 2 && strcmp(argv[1], "unwrap") == 0) return cmd_channel(argc, argv, false);
  fprintf(stderr, "usage: bsp_tool derive|derive-ecdh|wrap|unwrap ...\n");
  return 2;
}
