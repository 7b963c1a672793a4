/* libFuzzer target for the receiving side of the BPP secure channel (rsp_bsp_unwrap), as the
 * eUICC runs it on segments that arrive from the network. The first input byte picks a mode and
 * the expected tag:
 *   raw      the rest is a stream of segments, unwrapped until the first error;
 *   re-MAC   the rest is the data field of one segment that gets a valid C-MAC, so the fuzzer
 *            reaches the decryption and padding checks behind the MAC;
 *   flip     the rest is cut into plaintexts that are wrapped and unwrapped, one byte of one
 *            segment possibly flipped.
 * Invariants (abort when broken): a failure leaves the state and the cursor as they were; a
 * success consumes exactly one segment, within the size limit; an accepted segment is exactly
 * what the sender would have produced for that plaintext (so padding and framing are canonical);
 * an unmodified segment is always accepted, a modified one never. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/crypto/bsp.h"
#include "rsp/der/der.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t tags[] = {RSP_BSP_TAG_SEQUENCE_OF_86, RSP_BSP_TAG_SEQUENCE_OF_87,
                                RSP_BSP_TAG_SEQUENCE_OF_88};

static void start(struct rsp_bsp *bsp) {
  struct rsp_bsp_keys k;
  for (size_t i = 0; i < 16; i++) {
    k.mcv[i] = (uint8_t)(0xA0 + i);
    k.enc[i] = (uint8_t)(0x40 + 3 * i);
    k.mac[i] = (uint8_t)(0x17 * i + 5);
  }
  rsp_bsp_init(bsp, &k);
}

static bool same(const struct rsp_bsp *a, const struct rsp_bsp *b) {
  return memcmp(a->enc, b->enc, 16) == 0 && memcmp(a->mac, b->mac, 16) == 0 &&
         memcmp(a->mcv, b->mcv, 16) == 0 && a->counter == b->counter;
}

/* One unwrap with the invariants checked; a copy of the state before it plays the sender. */
static rsp_err_t checked_unwrap(struct rsp_bsp *rx, uint32_t tag, const uint8_t **p,
                                const uint8_t *end) {
  static uint8_t out[RSP_BSP_MAC_PLAIN_MAX], again[RSP_BSP_SEGMENT_MAX];
  struct rsp_bsp snap = *rx, tx = *rx;
  const uint8_t *start_p = *p;
  size_t out_len = 0, again_len = 0;
  rsp_err_t rc = rsp_bsp_unwrap(rx, tag, p, end, out, sizeof(out), &out_len);
  if (rc != RSP_OK) {
    if (*p != start_p || !same(rx, &snap)) abort();
    return rc;
  }
  size_t seg_len = (size_t)(*p - start_p);
  if (seg_len > RSP_BSP_SEGMENT_MAX || out_len > rsp_bsp_max_plain(tag)) abort();
  if (rx->counter != snap.counter + 1) abort();
  /* The sender, from the same state, must produce the very bytes that were accepted. */
  if (rsp_bsp_wrap(&tx, tag, out, out_len, again, sizeof(again), &again_len) != RSP_OK ||
      again_len != seg_len || memcmp(again, start_p, seg_len) != 0 || !same(&tx, rx))
    abort();
  return RSP_OK;
}

static void mode_raw(uint32_t tag, const uint8_t *data, size_t size) {
  struct rsp_bsp rx;
  const uint8_t *p = data, *end = data + size;
  start(&rx);
  while (p < end && checked_unwrap(&rx, tag, &p, end) == RSP_OK) {
  }
  rsp_bsp_free(&rx);
}

/* Frames `data` as the data field of one segment with a valid C-MAC for the receiver. */
static void mode_remac(uint32_t tag, const uint8_t *data, size_t size) {
  static uint8_t seg[RSP_BSP_SEGMENT_MAX + 16];
  struct rsp_bsp rx;
  uint8_t cmac[RSP_CMAC_LEN];
  size_t head, n = size > RSP_BSP_SEGMENT_MAX ? RSP_BSP_SEGMENT_MAX : size;
  const uint8_t *p = seg;
  start(&rx);
  seg[0] = (uint8_t)tag;
  head = 1 + rsp_der_encode_len(n + RSP_BSP_MAC_LEN, seg + 1);
  memcpy(seg + head, data, n);
  struct rsp_slice parts[2] = {{rx.mcv, 16}, {seg, head + n}};
  if (rsp_aes128_cmac_v(rx.mac, parts, 2, cmac) != RSP_OK) abort();
  memcpy(seg + head + n, cmac, RSP_BSP_MAC_LEN);
  (void)checked_unwrap(&rx, tag, &p, seg + head + n + RSP_BSP_MAC_LEN);
  rsp_bsp_free(&rx);
}

/* Wraps pieces of the input, flips the byte the first two input bytes name (if in range). */
static void mode_flip(uint32_t tag, const uint8_t *data, size_t size) {
  static uint8_t seg[RSP_BSP_SEGMENT_MAX];
  struct rsp_bsp tx, rx;
  size_t flip_at = size >= 2 ? (size_t)(data[0] << 8 | data[1]) : SIZE_MAX;
  size_t pos = size >= 2 ? 2 : size, at = 0;
  start(&tx);
  start(&rx);
  while (pos < size) {
    size_t n = data[pos++] * 4u, seg_len = 0;
    if (n > size - pos) n = size - pos;
    if (n > rsp_bsp_max_plain(tag)) n = rsp_bsp_max_plain(tag);
    if (rsp_bsp_wrap(&tx, tag, data + pos, n, seg, sizeof(seg), &seg_len) != RSP_OK) abort();
    bool flipped = flip_at >= at && flip_at < at + seg_len;
    if (flipped) seg[flip_at - at] ^= data[0] | 1;
    const uint8_t *p = seg;
    rsp_err_t rc = checked_unwrap(&rx, tag, &p, seg + seg_len);
    if ((rc == RSP_OK) == flipped) abort();
    if (flipped) break;
    at += seg_len;
    pos += n;
  }
  rsp_bsp_free(&tx);
  rsp_bsp_free(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint32_t tag = tags[(data[0] >> 2) % 3];
  switch (data[0] & 3) {
  case 0:
  case 3:
    mode_raw(tag, data + 1, size - 1);
    break;
  case 1:
    mode_remac(tag, data + 1, size - 1);
    break;
  default:
    mode_flip(tag, data + 1, size - 1);
    break;
  }
  return 0;
}
