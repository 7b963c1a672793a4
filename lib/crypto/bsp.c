/* openrsp lib/crypto: the BPP secure channel (BSP, formerly SCP03t), SGP.22 §2.5.4 and §2.6.4.
 *
 * Both directions live here so the SM-DP+ and the eUICC cannot drift apart: the sender and the
 * receiver share the padding, ICV, C-MAC and counter code. Every operation builds its result in
 * locals and commits the new MCV and counter only at the very end, so a failure never leaves
 * the channel half-advanced. Plaintext (profile data holds the NAA keys) and key material on
 * the stack are zeroed before returning.
 */
#include "rsp/crypto/bsp.h"

#include <stdbool.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/der/der.h"

/* The tag byte plus the longest length field a segment needs: 82 LL LL for values of 256 bytes
 * and more (a segment is never longer than RSP_BSP_SEGMENT_MAX). */
#define SEG_HEAD_MAX 4
/* The first padding byte (ISO/IEC 9797-1 method 2, as SCP03 uses it). */
#define PAD_START 0x80u

static bool is_enc_tag(uint32_t tag) {
  return tag == RSP_BSP_TAG_SEQUENCE_OF_86 || tag == RSP_BSP_TAG_SEQUENCE_OF_87;
}

static bool is_seg_tag(uint32_t tag) {
  return is_enc_tag(tag) || tag == RSP_BSP_TAG_SEQUENCE_OF_88;
}

/* Counter 0 marks a channel that was never initialised or has been freed. The last counter
 * value is refused too, so the counter can never wrap back to an ICV already used. */
static bool usable(const struct rsp_bsp *bsp) {
  return bsp->counter != 0 && bsp->counter != UINT64_MAX;
}

/* ---- key derivation -------------------------------------------------------------------------- */

rsp_err_t rsp_bsp_derive_keys(const uint8_t shs[RSP_ECDH_SECRET_LEN], uint8_t key_type,
                              uint8_t key_length, const uint8_t *host_id, size_t host_id_len,
                              const uint8_t eid[RSP_BSP_EID_LEN], struct rsp_bsp_keys *out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  /* keyType || keyLength || len(hostId) || hostId || len(EID) || EID (SGP.22 §2.6.4.2). */
  uint8_t si[3 + RSP_BSP_HOST_ID_MAX + 1 + RSP_BSP_EID_LEN];
  uint8_t key_data[RSP_BSP_KEY_DATA_LEN];
  size_t n = 0;

  if (!shs || !host_id || host_id_len == 0 || host_id_len > RSP_BSP_HOST_ID_MAX || !eid || !out)
    return RSP_E_INVALID_ARG;
  /* Only AES-128 session keys exist in SGP.22; any other CRT is refused, not guessed at. */
  if (key_type != RSP_BSP_KEY_TYPE_AES || key_length != RSP_BSP_KEY_LENGTH_AES128)
    return RSP_E_UNSUPPORTED;
  si[n++] = key_type;
  si[n++] = key_length;
  si[n++] = (uint8_t)host_id_len;
  memcpy(si + n, host_id, host_id_len);
  n += host_id_len;
  si[n++] = RSP_BSP_EID_LEN;
  memcpy(si + n, eid, RSP_BSP_EID_LEN);
  n += RSP_BSP_EID_LEN;

  rc = rsp_kdf_x963_sha256(shs, RSP_ECDH_SECRET_LEN, si, n, key_data, sizeof(key_data));
  if (rc != RSP_OK) goto out;
  memcpy(out->mcv, key_data, RSP_BSP_MCV_LEN);
  memcpy(out->enc, key_data + RSP_BSP_MCV_LEN, RSP_BSP_KEY_LEN);
  memcpy(out->mac, key_data + RSP_BSP_MCV_LEN + RSP_BSP_KEY_LEN, RSP_BSP_KEY_LEN);
  rc = RSP_OK;
out:
  rsp_memzero(key_data, sizeof(key_data));
  return rc;
}

rsp_err_t rsp_bsp_derive_keys_ecdh(const struct rsp_key *own_otsk, const struct rsp_key *peer_otpk,
                                   uint8_t key_type, uint8_t key_length, const uint8_t *host_id,
                                   size_t host_id_len, const uint8_t eid[RSP_BSP_EID_LEN],
                                   struct rsp_bsp_keys *out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  uint8_t shs[RSP_ECDH_SECRET_LEN];

  if (!own_otsk || !peer_otpk) return RSP_E_INVALID_ARG;
  rc = rsp_ecdh(own_otsk, peer_otpk, shs);
  if (rc != RSP_OK) goto out;
  rc = rsp_bsp_derive_keys(shs, key_type, key_length, host_id, host_id_len, eid, out);
out:
  rsp_memzero(shs, sizeof(shs));
  return rc;
}

/* ---- channel state --------------------------------------------------------------------------- */

void rsp_bsp_init(struct rsp_bsp *bsp, const struct rsp_bsp_keys *keys) {
  if (!bsp) return;
  rsp_memzero(bsp, sizeof(*bsp));
  if (!keys) return; /* stays unusable: every operation answers RSP_E_STATE */
  memcpy(bsp->enc, keys->enc, RSP_BSP_KEY_LEN);
  memcpy(bsp->mac, keys->mac, RSP_BSP_KEY_LEN);
  memcpy(bsp->mcv, keys->mcv, RSP_BSP_MCV_LEN);
  bsp->counter = 1;
}

void rsp_bsp_free(struct rsp_bsp *bsp) {
  if (bsp) rsp_memzero(bsp, sizeof(*bsp));
}

rsp_err_t rsp_bsp_replace_keys(struct rsp_bsp *bsp, const struct rsp_bsp_keys *ppk,
                               enum rsp_bsp_counter_mode mode) {
  if (!bsp || !ppk || (mode != RSP_BSP_COUNTER_RESTART && mode != RSP_BSP_COUNTER_CONTINUE))
    return RSP_E_INVALID_ARG;
  if (!usable(bsp)) return RSP_E_STATE;
  memcpy(bsp->enc, ppk->enc, RSP_BSP_KEY_LEN);
  memcpy(bsp->mac, ppk->mac, RSP_BSP_KEY_LEN);
  memcpy(bsp->mcv, ppk->mcv, RSP_BSP_MCV_LEN);
  if (mode == RSP_BSP_COUNTER_RESTART) bsp->counter = 1;
  return RSP_OK;
}

/* ---- sizes ----------------------------------------------------------------------------------- */

size_t rsp_bsp_max_plain(uint32_t tag) {
  /* The longest data field under the cap, once the tag, the 3-byte length field such a long
   * value needs and the C-MAC are taken off. Encrypted data is whole blocks and always ends
   * with at least one padding byte. */
  size_t data = RSP_BSP_SEGMENT_MAX - SEG_HEAD_MAX - RSP_BSP_MAC_LEN;
  if (!is_seg_tag(tag)) return 0;
  if (is_enc_tag(tag)) return data / RSP_AES_BLOCK * RSP_AES_BLOCK - 1;
  return data;
}

/* Length of the data field (ciphertext for 86/87, plaintext for 88). */
static size_t data_len_for(uint32_t tag, size_t plain_len) {
  return is_enc_tag(tag) ? (plain_len / RSP_AES_BLOCK + 1) * RSP_AES_BLOCK : plain_len;
}

size_t rsp_bsp_wrapped_len(uint32_t tag, size_t plain_len) {
  uint8_t l[5];
  size_t value;
  if (!is_seg_tag(tag) || plain_len > rsp_bsp_max_plain(tag)) return 0;
  value = data_len_for(tag, plain_len) + RSP_BSP_MAC_LEN;
  return 1 + rsp_der_encode_len(value, l) + value;
}

/* ---- segment crypto -------------------------------------------------------------------------- */

/* ICV = AES-128(S-ENC, counter as a 16-byte big-endian block). */
static rsp_err_t make_icv(const uint8_t enc[RSP_BSP_KEY_LEN], uint64_t counter,
                          uint8_t icv[RSP_AES_BLOCK]) {
  uint8_t block[RSP_AES_BLOCK] = {0};
  for (int i = 0; i < 8; i++) block[RSP_AES_BLOCK - 1 - i] = (uint8_t)(counter >> (8 * i));
  return rsp_aes128_ecb_block(enc, block, icv);
}

/* CMAC(S-MAC, MCV || tag || L || data): `head_data` is the segment without its C-MAC. */
static rsp_err_t seg_cmac(const struct rsp_bsp *bsp, const uint8_t *head_data, size_t n,
                          uint8_t cmac[RSP_CMAC_LEN]) {
  struct rsp_slice parts[2] = {{bsp->mcv, RSP_BSP_MCV_LEN}, {head_data, n}};
  return rsp_aes128_cmac_v(bsp->mac, parts, 2, cmac);
}

/* Pads and encrypts in place: data holds plain_len bytes and has room for data_len. */
static rsp_err_t seal_payload(const struct rsp_bsp *bsp, uint8_t *data, size_t plain_len,
                              size_t data_len) {
  uint8_t icv[RSP_AES_BLOCK];
  rsp_err_t rc;
  data[plain_len] = PAD_START;
  memset(data + plain_len + 1, 0, data_len - plain_len - 1);
  rc = make_icv(bsp->enc, bsp->counter, icv);
  if (rc == RSP_OK) rc = rsp_aes128_cbc_encrypt(bsp->enc, icv, data, data_len, data);
  rsp_memzero(icv, sizeof(icv));
  return rc;
}

/* Decrypts data_len bytes into plain and strips the padding: zero bytes after one 80, all of it
 * inside the last block. The C-MAC has been verified already, so this check cannot serve as a
 * padding oracle. */
static rsp_err_t open_payload(const struct rsp_bsp *bsp, const uint8_t *data, size_t data_len,
                              uint8_t *plain, size_t *plain_len) {
  uint8_t icv[RSP_AES_BLOCK];
  size_t n = data_len;
  rsp_err_t rc = make_icv(bsp->enc, bsp->counter, icv);
  if (rc == RSP_OK) rc = rsp_aes128_cbc_decrypt(bsp->enc, icv, data, data_len, plain);
  rsp_memzero(icv, sizeof(icv));
  if (rc != RSP_OK) return rc;
  while (n > 0 && plain[n - 1] == 0) n--;
  if (n == 0 || plain[n - 1] != PAD_START || data_len - (n - 1) > RSP_AES_BLOCK)
    return RSP_E_CRYPTO;
  *plain_len = n - 1;
  return RSP_OK;
}

/* ---- wrap ------------------------------------------------------------------------------------ */

rsp_err_t rsp_bsp_wrap(struct rsp_bsp *bsp, uint32_t tag, const uint8_t *plain, size_t plain_len,
                       uint8_t *out, size_t out_size, size_t *out_len) {
  rsp_err_t rc = RSP_E_INTERNAL;
  uint8_t seg[RSP_BSP_SEGMENT_MAX];
  uint8_t cmac[RSP_CMAC_LEN];
  size_t seg_len, head, data_len;

  if (!bsp || !is_seg_tag(tag) || (!plain && plain_len) || !out || !out_len)
    return RSP_E_INVALID_ARG;
  if (!usable(bsp)) return RSP_E_STATE;
  seg_len = rsp_bsp_wrapped_len(tag, plain_len);
  if (seg_len == 0) return RSP_E_BUF_CAP;
  if (out_size < seg_len) return RSP_E_BUF_SMALL;

  data_len = data_len_for(tag, plain_len);
  seg[0] = (uint8_t)tag;
  head = 1 + rsp_der_encode_len(data_len + RSP_BSP_MAC_LEN, seg + 1);
  if (plain_len) memcpy(seg + head, plain, plain_len);
  if (is_enc_tag(tag)) {
    rc = seal_payload(bsp, seg + head, plain_len, data_len);
    if (rc != RSP_OK) goto out;
  }
  rc = seg_cmac(bsp, seg, head + data_len, cmac);
  if (rc != RSP_OK) goto out;
  memcpy(seg + head + data_len, cmac, RSP_BSP_MAC_LEN);

  memcpy(out, seg, seg_len);
  *out_len = seg_len;
  memcpy(bsp->mcv, cmac, RSP_BSP_MCV_LEN);
  bsp->counter++;
  rc = RSP_OK;
out:
  rsp_memzero(seg, sizeof(seg));
  rsp_memzero(cmac, sizeof(cmac));
  return rc;
}

/* ---- unwrap ---------------------------------------------------------------------------------- */

/* Reads one segment TLV and checks its shape: the expected tag, within the size cap, room for
 * the C-MAC and, when encrypted, whole non-empty blocks of ciphertext. */
static rsp_err_t read_segment(const uint8_t **p, const uint8_t *end, uint32_t tag,
                              struct rsp_der_tlv *tlv) {
  const uint8_t *cur = *p;
  rsp_err_t rc = rsp_der_read_tlv(&cur, end, tlv);
  if (rc != RSP_OK) return rc;
  if (tlv->tag != tag) return RSP_E_DER_UNEXPECTED_TAG;
  if (tlv->raw_len > RSP_BSP_SEGMENT_MAX) return RSP_E_BUF_CAP;
  if (tlv->len < RSP_BSP_MAC_LEN) return RSP_E_DER_BAD_VALUE;
  if (is_enc_tag(tag) &&
      ((tlv->len - RSP_BSP_MAC_LEN) == 0 || (tlv->len - RSP_BSP_MAC_LEN) % RSP_AES_BLOCK != 0))
    return RSP_E_DER_BAD_VALUE;
  *p = cur;
  return RSP_OK;
}

rsp_err_t rsp_bsp_unwrap(struct rsp_bsp *bsp, uint32_t tag, const uint8_t **p, const uint8_t *end,
                         uint8_t *out, size_t out_size, size_t *out_len) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_der_tlv tlv;
  const uint8_t *cur;
  uint8_t cmac[RSP_CMAC_LEN];
  uint8_t plain[RSP_BSP_SEGMENT_MAX];
  size_t data_len, plain_len;

  if (!bsp || !is_seg_tag(tag) || !p || !*p || !end || end < *p || (!out && out_size) || !out_len)
    return RSP_E_INVALID_ARG;
  if (!usable(bsp)) return RSP_E_STATE;
  cur = *p;
  rc = read_segment(&cur, end, tag, &tlv);
  if (rc != RSP_OK) goto out;
  data_len = tlv.len - RSP_BSP_MAC_LEN;

  rc = seg_cmac(bsp, tlv.raw, tlv.raw_len - RSP_BSP_MAC_LEN, cmac);
  if (rc != RSP_OK) goto out;
  if (!rsp_ct_equal(cmac, tlv.val + data_len, RSP_BSP_MAC_LEN)) {
    rc = RSP_E_SIG_INVALID;
    goto out;
  }
  if (is_enc_tag(tag)) {
    rc = open_payload(bsp, tlv.val, data_len, plain, &plain_len);
    if (rc != RSP_OK) goto out;
  } else {
    if (data_len) memcpy(plain, tlv.val, data_len);
    plain_len = data_len;
  }
  if (plain_len > out_size) {
    rc = RSP_E_BUF_SMALL;
    goto out;
  }

  if (plain_len) memcpy(out, plain, plain_len);
  *out_len = plain_len;
  memcpy(bsp->mcv, cmac, RSP_BSP_MCV_LEN);
  bsp->counter++;
  *p = cur;
  rc = RSP_OK;
out:
  rsp_memzero(plain, sizeof(plain));
  rsp_memzero(cmac, sizeof(cmac));
  return rc;
}
