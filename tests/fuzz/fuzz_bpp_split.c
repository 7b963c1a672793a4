/* libFuzzer target for the IPA-side split of a Bound Profile Package into LoadBoundProfilePackage
 * calls (rsp_msg_bpp_split, notes 4.5), which an IPA runs on a BPP from the network.
 * Invariants (abort when broken): counting and filling agree; an accepted BPP is cut into
 * contiguous slices that cover it exactly, the first starting with BF36, each later one with a
 * container (A0..A3) or segment (86/87/88) tag; a too short array is RSP_E_BUF_SMALL. */
#include <stdint.h>
#include <stdlib.h>

#include "rsp/msg/bpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEGMENTS 4096

static int allowed(uint8_t first) {
  return (first >= RSP_MSG_TAG_BPP_FIRST_SEQUENCE_OF_87 &&
          first <= RSP_MSG_TAG_BPP_SEQUENCE_OF_86) ||
         (first >= RSP_MSG_TAG_BPP_ELEMENT_86 && first <= RSP_MSG_TAG_BPP_ELEMENT_88);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct rsp_slice seg[MAX_SEGMENTS];
  size_t n = 0, m = 0, total = 0;
  rsp_err_t rc = rsp_msg_bpp_split(data, size, NULL, 0, &n);
  if (rc != RSP_OK && rc != RSP_E_BUF_SMALL) return 0;
  if (n > MAX_SEGMENTS) return 0;
  if (rsp_msg_bpp_split(data, size, seg, n, &m) != RSP_OK || m != n) abort();
  if (n > 1 && rsp_msg_bpp_split(data, size, seg, n - 1, &m) != RSP_E_BUF_SMALL) abort();
  if (rsp_msg_bpp_split(data, size, seg, n, &m) != RSP_OK) abort();
  for (size_t i = 0; i < n; i++) {
    if (seg[i].p != data + total || seg[i].len == 0) abort();
    if (i == 0 ? seg[i].p[0] != 0xBF : !allowed(seg[i].p[0])) abort();
    total += seg[i].len;
  }
  if (total != size) abort();
  return 0;
}
