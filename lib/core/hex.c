#include "rsp/core/hex.h"

#include <string.h>

static int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

rsp_err_t rsp_hex_encode(const uint8_t *p, size_t n, char *out, size_t out_size) {
  static const char digits[] = "0123456789ABCDEF";
  if (n > (out_size - 1) / 2 || out_size == 0) return RSP_E_BUF_SMALL;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = 0;
  return RSP_OK;
}

rsp_err_t rsp_hex_decode(const char *hex, uint8_t *out, size_t out_size, size_t *out_len) {
  size_t n = strlen(hex);
  if (n % 2) return RSP_E_HEX_INVALID;
  if (n / 2 > out_size) return RSP_E_BUF_SMALL;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return RSP_E_HEX_INVALID;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  if (out_len) *out_len = n / 2;
  return RSP_OK;
}

rsp_err_t rsp_eid_from_string(const char *digits, uint8_t eid[RSP_EID_LEN]) {
  if (strlen(digits) != RSP_EID_DIGITS) return RSP_E_BCD_INVALID;
  for (size_t i = 0; i < RSP_EID_DIGITS; i++)
    if (digits[i] < '0' || digits[i] > '9') return RSP_E_BCD_INVALID;
  return rsp_hex_decode(digits, eid, RSP_EID_LEN, NULL);
}

bool rsp_eid_is_valid(const uint8_t eid[RSP_EID_LEN]) {
  for (size_t i = 0; i < RSP_EID_LEN; i++)
    if ((eid[i] >> 4) > 9 || (eid[i] & 15) > 9) return false;
  return true;
}

rsp_err_t rsp_eid_to_string(const uint8_t eid[RSP_EID_LEN], char out[RSP_EID_DIGITS + 1]) {
  if (!rsp_eid_is_valid(eid)) return RSP_E_BCD_INVALID;
  return rsp_hex_encode(eid, RSP_EID_LEN, out, RSP_EID_DIGITS + 1);
}

rsp_err_t rsp_iccid_encode(const char *digits, uint8_t iccid[RSP_ICCID_LEN]) {
  size_t n = strlen(digits);
  /* A 19-digit ICCID is often written with its F pad ("...F"); accept and drop it. */
  if (n == RSP_ICCID_MAX_DIGITS && (digits[n - 1] == 'F' || digits[n - 1] == 'f')) n--;
  if (n < 18 || n > RSP_ICCID_MAX_DIGITS) return RSP_E_BCD_INVALID;
  for (size_t i = 0; i < n; i++)
    if (digits[i] < '0' || digits[i] > '9') return RSP_E_BCD_INVALID;
  for (size_t i = 0; i < RSP_ICCID_LEN; i++) {
    uint8_t lo = 2 * i < n ? (uint8_t)(digits[2 * i] - '0') : 0xF;
    uint8_t hi = 2 * i + 1 < n ? (uint8_t)(digits[2 * i + 1] - '0') : 0xF;
    iccid[i] = (uint8_t)(hi << 4 | lo);
  }
  return RSP_OK;
}

rsp_err_t rsp_iccid_decode(const uint8_t iccid[RSP_ICCID_LEN], char out[RSP_ICCID_MAX_DIGITS + 1]) {
  size_t k = 0;
  bool padded = false;
  for (size_t i = 0; i < 2 * RSP_ICCID_LEN; i++) {
    uint8_t d = i % 2 ? iccid[i / 2] >> 4 : iccid[i / 2] & 15;
    if (d == 0xF) {
      padded = true;
      continue;
    }
    if (d > 9 || padded) return RSP_E_BCD_INVALID; /* F only as trailing padding */
    out[k++] = (char)('0' + d);
  }
  if (k < 18) return RSP_E_BCD_INVALID;
  out[k] = 0;
  return RSP_OK;
}
