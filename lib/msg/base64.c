/* Strict RFC 4648 base64; see include/rsp/msg/base64.h for what is rejected and why. */
#include "rsp/msg/base64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of one alphabet character, -1 for anything else (including '=' and whitespace). */
static int sym(char ch) {
  unsigned char c = (unsigned char)ch;
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

size_t rsp_msg_base64_encoded_len(size_t n) {
  size_t groups = n / 3 + (n % 3 ? 1 : 0);
  return groups > SIZE_MAX / 4 ? SIZE_MAX : groups * 4;
}

size_t rsp_msg_base64_decoded_max(size_t len) { return len / 4 * 3; }

rsp_err_t rsp_msg_base64_encode(const uint8_t *p, size_t n, char *out, size_t out_size) {
  size_t need = rsp_msg_base64_encoded_len(n);
  if (need == SIZE_MAX || out_size <= need) return RSP_E_BUF_SMALL;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
  }
  out[o] = '\0';
  return RSP_OK;
}

/* Decodes the final quad, which may end in "=" or "=="; returns the byte count (1..3) or -1. */
static int last_quad(const char *q, uint8_t b[3]) {
  int s0 = sym(q[0]), s1 = sym(q[1]), s2 = sym(q[2]), s3 = sym(q[3]);
  if (s0 < 0 || s1 < 0) return -1;
  if (q[2] == '=' && q[3] == '=') {
    if (s1 & 15) return -1; /* non-zero unused bits: not the canonical encoding */
    b[0] = (uint8_t)(s0 << 2 | s1 >> 4);
    return 1;
  }
  if (s2 < 0) return -1;
  if (q[3] == '=') {
    if (s2 & 3) return -1;
    b[0] = (uint8_t)(s0 << 2 | s1 >> 4);
    b[1] = (uint8_t)((s1 & 15) << 4 | s2 >> 2);
    return 2;
  }
  if (s3 < 0) return -1;
  uint32_t v = (uint32_t)s0 << 18 | (uint32_t)s1 << 12 | (uint32_t)s2 << 6 | (uint32_t)s3;
  b[0] = (uint8_t)(v >> 16);
  b[1] = (uint8_t)(v >> 8);
  b[2] = (uint8_t)v;
  return 3;
}

rsp_err_t rsp_msg_base64_decode(const char *s, size_t len, uint8_t *out, size_t out_size,
                                size_t *out_len) {
  if (len % 4) return RSP_E_BASE64_INVALID;
  size_t o = 0;
  for (size_t i = 0; i + 4 < len; i += 4) { /* every quad but the last: no padding allowed */
    int s0 = sym(s[i]), s1 = sym(s[i + 1]), s2 = sym(s[i + 2]), s3 = sym(s[i + 3]);
    if ((s0 | s1 | s2 | s3) < 0) return RSP_E_BASE64_INVALID;
    if (out_size - o < 3) return RSP_E_BUF_SMALL;
    uint32_t v = (uint32_t)s0 << 18 | (uint32_t)s1 << 12 | (uint32_t)s2 << 6 | (uint32_t)s3;
    out[o++] = (uint8_t)(v >> 16);
    out[o++] = (uint8_t)(v >> 8);
    out[o++] = (uint8_t)v;
  }
  if (len > 0) {
    uint8_t b[3];
    int n = last_quad(s + len - 4, b);
    if (n < 0) return RSP_E_BASE64_INVALID;
    if (out_size - o < (size_t)n) return RSP_E_BUF_SMALL;
    for (int k = 0; k < n; k++) out[o++] = b[k];
  }
  if (out_len) *out_len = o;
  return RSP_OK;
}
