/* openrsp: SGP.22 activation codes (SGP.22 section 4.1).
 *
 *   [LPA:]1$<SM-DP+ address>$<AC_Token>[$<SM-DP+ OID>[$<Confirmation Code Required Flag>]]
 *
 * The activation code is what a user scans from a QR code (with the "LPA:" prefix) or what an eIM
 * sends in ProfileDownloadTriggerRequest.profileDownloadData.activationCode (SGP.32, a
 * UTF8String (SIZE(0..255)), without the prefix). Parsing is strict: an input that is accepted
 * formats back to exactly the same bytes, so an accepted code has one canonical spelling.
 *
 * Rules enforced (reasons in lib/msg/activation_code.c):
 *   - AC_Format is "1" (any other single digit is RSP_E_UNSUPPORTED: a format this code does not
 *     know yet; anything else is RSP_E_INVALID_ARG);
 *   - the SM-DP+ address is a host name or dotted IPv4 address, optionally ":port" (1..65535);
 *   - the AC_Token (Matching ID) may be empty, and holds printable ASCII other than '$';
 *   - the SM-DP+ OID, when present, is a dotted OBJECT IDENTIFIER value; it may be empty only
 *     when the Confirmation Code Required Flag follows (SGP.22 keeps the field positional);
 *   - the Confirmation Code Required Flag, when present, is "1";
 *   - the code without the prefix is at most RSP_MSG_AC_MAX_LEN bytes (RSP_E_BUF_CAP). */
#ifndef RSP_MSG_ACTIVATION_CODE_H
#define RSP_MSG_ACTIVATION_CODE_H

#include <stdbool.h>
#include <stddef.h>

#include "rsp/core/error.h"

/* ProfileDownloadTriggerRequest.activationCode is UTF8String (SIZE(0..255)) (SGP.32). */
#define RSP_MSG_AC_MAX_LEN 255u
/* The QR code form starts with this prefix (SGP.22 section 4.1). */
#define RSP_MSG_AC_LPA_PREFIX "LPA:"
/* The only AC_Format defined by SGP.22. */
#define RSP_MSG_AC_FORMAT 1

/* A parsed activation code. The strings are NUL-terminated copies; every buffer can hold the
 * longest field an RSP_MSG_AC_MAX_LEN code can carry. An empty smdp_oid means "absent". */
struct rsp_msg_activation_code {
  int format;       /* AC_Format: RSP_MSG_AC_FORMAT */
  bool lpa_prefix;  /* the input started with "LPA:" */
  bool cc_required; /* Confirmation Code Required Flag present ("1") */
  char smdp_address[RSP_MSG_AC_MAX_LEN + 1];
  char matching_id[RSP_MSG_AC_MAX_LEN + 1]; /* AC_Token, may be empty */
  char smdp_oid[RSP_MSG_AC_MAX_LEN + 1];    /* dotted form, "" when absent */
};

/* Clears `ac` to an empty code of format 1 (cannot fail). */
void rsp_msg_activation_code_init(struct rsp_msg_activation_code *ac);

/* Parses `len` bytes of `text` (no NUL terminator needed; an embedded NUL is an error) into `ac`.
 * On error `ac` is cleared and `why` (may be NULL) points to a static English reason.
 * Returns RSP_OK, RSP_E_INVALID_ARG (syntax), RSP_E_UNSUPPORTED (unknown AC_Format) or
 * RSP_E_BUF_CAP (longer than RSP_MSG_AC_MAX_LEN without the prefix). */
rsp_err_t rsp_msg_activation_code_parse(const char *text, size_t len,
                                        struct rsp_msg_activation_code *ac, const char **why);

/* Writes the canonical string of `ac` (with "LPA:" when ac->lpa_prefix) and a NUL into `out`.
 * The fields are validated with the parser's rules, so an invalid code is never produced.
 * `out_len` (may be NULL) receives the length without the NUL. RSP_E_BUF_SMALL when `out_size`
 * cannot hold the string and its NUL. */
rsp_err_t rsp_msg_activation_code_format(const struct rsp_msg_activation_code *ac, char *out,
                                         size_t out_size, size_t *out_len, const char **why);

#endif
