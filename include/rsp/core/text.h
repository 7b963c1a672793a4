/* openrsp: text checks shared by the DER and JSON layers. */
#ifndef RSP_CORE_TEXT_H
#define RSP_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Well-formed UTF-8 (RFC 3629): shortest form, no surrogates, at most U+10FFFF. NUL is refused
 * unless allow_nul: most consumers of these strings are C. */
bool rsp_utf8_valid(const uint8_t *s, size_t n, bool allow_nul);

#endif
