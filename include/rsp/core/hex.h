/* openrsp: hex and BCD helpers.
 *
 * EID (SGP.22 §4.1, 32 digits) is stored as plain BCD: the 16 bytes are the hex
 * decoding of the digit string ("8904..." -> 89 04 ...). ICCID (ITU-T E.118,
 * 18 to 20 digits) is stored the EF.ICCID way: 10 bytes, the two digits of each
 * byte swapped, an odd count padded with F ("8944..." -> 98 44 ...).
 */
#ifndef RSP_CORE_HEX_H
#define RSP_CORE_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/error.h"

#define RSP_EID_LEN 16
#define RSP_EID_DIGITS 32
#define RSP_ICCID_LEN 10
#define RSP_ICCID_MAX_DIGITS 20

/* Writes 2*n hex digits (upper case) and a NUL into out (out_size >= 2n+1). */
rsp_err_t rsp_hex_encode(const uint8_t *p, size_t n, char *out, size_t out_size);
/* Decodes a hex string of even length (either case, no separators). */
rsp_err_t rsp_hex_decode(const char *hex, uint8_t *out, size_t out_size, size_t *out_len);

/* EID: exactly 32 decimal digits <-> 16 bytes. */
rsp_err_t rsp_eid_from_string(const char *digits, uint8_t eid[RSP_EID_LEN]);
rsp_err_t rsp_eid_to_string(const uint8_t eid[RSP_EID_LEN], char out[RSP_EID_DIGITS + 1]);
/* True when every nibble of the EID is a decimal digit. */
bool rsp_eid_is_valid(const uint8_t eid[RSP_EID_LEN]);

/* ICCID: 18..20 decimal digits (a trailing 'F'/'f' pad is accepted) <-> 10 bytes. */
rsp_err_t rsp_iccid_encode(const char *digits, uint8_t iccid[RSP_ICCID_LEN]);
rsp_err_t rsp_iccid_decode(const uint8_t iccid[RSP_ICCID_LEN], char out[RSP_ICCID_MAX_DIGITS + 1]);

#endif
