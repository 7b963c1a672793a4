/* SGP.22 section 4.1 activation codes: strict parsing and canonical formatting.
 *
 * The activation code travels as text (a QR code, a ProfileDownloadTriggerRequest from an eIM), so
 * it is validated here once, with the same rules in both directions: whatever the parser accepts,
 * the formatter writes back byte for byte, and the formatter refuses what the parser would. */
#include "rsp/msg/activation_code.h"

#include <string.h>

#define DELIM '$'
#define MAX_FIELDS 5    /* format, address, token, OID, flag */
#define MAX_HOST 253    /* RFC 1035 section 2.3.4: 255 octets on the wire, 253 as text */
#define MAX_LABEL 63    /* ... made of labels of at most 63 */
#define MAX_OID_ARC 19  /* digits per OID arc, so an arc fits a 64-bit integer when encoded */
#define PREFIX_LEN 4    /* strlen(RSP_MSG_AC_LPA_PREFIX) */
#define CC_REQUIRED "1" /* the only value of the Confirmation Code Required Flag */

enum field { F_FORMAT, F_ADDRESS, F_TOKEN, F_OID, F_FLAG };

struct span {
  const char *p;
  size_t len;
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool all_digits(struct span s) {
  for (size_t i = 0; i < s.len; i++)
    if (!is_digit(s.p[i])) return false;
  return s.len > 0;
}

/* A decimal number without leading zeros ("0" itself is fine) of at most `max_digits`. */
static bool decimal_ok(struct span s, size_t max_digits, unsigned long long *value) {
  unsigned long long v = 0;
  if (!all_digits(s) || s.len > max_digits || (s.len > 1 && s.p[0] == '0')) return false;
  for (size_t i = 0; i < s.len; i++) v = v * 10u + (unsigned)(s.p[i] - '0');
  *value = v;
  return true;
}

/* Splits `s` at the first `sep` at or after *pos; returns false when nothing is left. */
static bool next_part(struct span s, size_t *pos, char sep, struct span *part) {
  if (*pos > s.len) return false;
  const char *start = s.p + *pos;
  const char *hit = memchr(start, sep, s.len - *pos);
  part->p = start;
  part->len = hit ? (size_t)(hit - start) : s.len - *pos;
  *pos += part->len + 1;
  return true;
}

/* RFC 1123 host name label: letters, digits and '-', not starting or ending with '-'. */
static bool label_ok(struct span l) {
  if (l.len == 0 || l.len > MAX_LABEL || l.p[0] == '-' || l.p[l.len - 1] == '-') return false;
  for (size_t i = 0; i < l.len; i++)
    if (!is_alnum(l.p[i]) && l.p[i] != '-') return false;
  return true;
}

/* A name whose last label is numeric cannot be a host name (no top-level domain is numeric,
 * RFC 3696 section 2), so it must be a dotted IPv4 address: four decimal octets. */
static bool ipv4_ok(struct span host) {
  struct span part;
  size_t pos = 0, n = 0;
  unsigned long long v;
  while (next_part(host, &pos, '.', &part))
    if (++n > 4 || !decimal_ok(part, 3, &v) || v > 255) return false;
  return n == 4;
}

static bool host_ok(struct span host) {
  struct span label = {NULL, 0};
  size_t pos = 0;
  if (host.len == 0 || host.len > MAX_HOST) return false;
  while (next_part(host, &pos, '.', &label))
    if (!label_ok(label)) return false;
  return all_digits(label) ? ipv4_ok(host) : true;
}

/* SGP.22 calls the SM-DP+ address an FQDN; deployments also carry a port (test servers, the eIM
 * FQDN of SGP.32 EimConfigurationData does the same), so "host[:port]" is accepted. */
static bool address_ok(struct span a) {
  const char *colon = memchr(a.p, ':', a.len);
  unsigned long long port;
  if (!colon) return host_ok(a);
  struct span host = {a.p, (size_t)(colon - a.p)};
  struct span p = {colon + 1, a.len - host.len - 1};
  return host_ok(host) && decimal_ok(p, 5, &port) && port >= 1 && port <= 65535;
}

/* SGP.22 recommends upper case letters, digits and '-' for the Matching ID, but the SM-DP+ that
 * issued it is the judge of its content; the parser only keeps out what would break the format
 * or a log line: '$', spaces, control characters and non-ASCII bytes. */
static bool token_ok(struct span t) {
  for (size_t i = 0; i < t.len; i++)
    if (t.p[i] <= ' ' || t.p[i] > '~' || t.p[i] == DELIM) return false;
  return true;
}

/* Dotted OBJECT IDENTIFIER value (X.660): at least two arcs, the first 0..2, the second at most
 * 39 under the arcs 0 and 1 (so the pair encodes in one DER subidentifier). */
static bool oid_ok(struct span o) {
  struct span arc;
  size_t pos = 0, n = 0;
  unsigned long long first = 0, v;
  while (next_part(o, &pos, '.', &arc)) {
    if (!decimal_ok(arc, MAX_OID_ARC, &v)) return false;
    if (n == 0 && (first = v) > 2) return false;
    if (n == 1 && first < 2 && v > 39) return false;
    n++;
  }
  return n >= 2;
}

static void copy_field(char *dst, struct span s) {
  memcpy(dst, s.p, s.len); /* s.len <= RSP_MSG_AC_MAX_LEN: checked by the caller */
  dst[s.len] = '\0';
}

static rsp_err_t fail(const char **why, const char *reason, rsp_err_t rc) {
  if (why) *why = reason;
  return rc;
}

/* Checks the split fields; the rules are the ones the formatter applies too. */
static rsp_err_t check_fields(const struct span *f, size_t n, const char **why) {
  if (n < 3) return fail(why, "fewer than three '$'-separated fields", RSP_E_INVALID_ARG);
  if (n > MAX_FIELDS) return fail(why, "more than five '$'-separated fields", RSP_E_INVALID_ARG);
  if (f[F_FORMAT].len != 1 || !is_digit(f[F_FORMAT].p[0]))
    return fail(why, "AC_Format is not a single digit", RSP_E_INVALID_ARG);
  if (f[F_FORMAT].p[0] != '0' + RSP_MSG_AC_FORMAT)
    return fail(why, "AC_Format other than 1", RSP_E_UNSUPPORTED);
  if (f[F_ADDRESS].len == 0) return fail(why, "empty SM-DP+ address", RSP_E_INVALID_ARG);
  if (!address_ok(f[F_ADDRESS]))
    return fail(why, "SM-DP+ address is not a host name[:port]", RSP_E_INVALID_ARG);
  if (!token_ok(f[F_TOKEN]))
    return fail(why, "AC_Token holds a character outside printable ASCII", RSP_E_INVALID_ARG);
  if (n == 4 && f[F_OID].len == 0)
    return fail(why, "empty SM-DP+ OID without a confirmation code flag", RSP_E_INVALID_ARG);
  if (n >= 4 && f[F_OID].len > 0 && !oid_ok(f[F_OID]))
    return fail(why, "SM-DP+ OID is not a dotted object identifier", RSP_E_INVALID_ARG);
  if (n == 5 && (f[F_FLAG].len != 1 || f[F_FLAG].p[0] != CC_REQUIRED[0]))
    return fail(why, "Confirmation Code Required Flag other than 1", RSP_E_INVALID_ARG);
  return RSP_OK;
}

void rsp_msg_activation_code_init(struct rsp_msg_activation_code *ac) {
  memset(ac, 0, sizeof(*ac));
  ac->format = RSP_MSG_AC_FORMAT;
}

rsp_err_t rsp_msg_activation_code_parse(const char *text, size_t len,
                                        struct rsp_msg_activation_code *ac, const char **why) {
  struct span body = {text, len}, f[MAX_FIELDS + 1];
  size_t n = 0, pos = 0;
  rsp_msg_activation_code_init(ac);
  if (!text && len) return fail(why, "no input", RSP_E_INVALID_ARG);
  if (len && memchr(text, '\0', len)) return fail(why, "embedded NUL", RSP_E_INVALID_ARG);
  bool prefix = len >= PREFIX_LEN && memcmp(text, RSP_MSG_AC_LPA_PREFIX, PREFIX_LEN) == 0;
  if (prefix) {
    body.p += PREFIX_LEN;
    body.len -= PREFIX_LEN;
  }
  if (body.len > RSP_MSG_AC_MAX_LEN)
    return fail(why, "longer than 255 characters (SGP.32 activationCode)", RSP_E_BUF_CAP);
  if (body.len == 0) return fail(why, "empty activation code", RSP_E_INVALID_ARG);
  while (n <= MAX_FIELDS && next_part(body, &pos, DELIM, &f[n])) n++;
  rsp_err_t rc = check_fields(f, n, why);
  if (rc != RSP_OK) return rc;
  ac->lpa_prefix = prefix;
  copy_field(ac->smdp_address, f[F_ADDRESS]);
  copy_field(ac->matching_id, f[F_TOKEN]);
  if (n >= 4) copy_field(ac->smdp_oid, f[F_OID]);
  ac->cc_required = n == 5;
  if (why) *why = NULL;
  return RSP_OK;
}

/* The fields of `ac` as spans, after checking that each buffer is NUL-terminated. */
static bool struct_spans(const struct rsp_msg_activation_code *ac, struct span *f, size_t *n) {
  static const char format_digit[2] = {'0' + RSP_MSG_AC_FORMAT, '\0'};
  const char *bufs[3] = {ac->smdp_address, ac->matching_id, ac->smdp_oid};
  size_t lens[3];
  for (int i = 0; i < 3; i++)
    if ((lens[i] = strnlen(bufs[i], RSP_MSG_AC_MAX_LEN + 1)) > RSP_MSG_AC_MAX_LEN) return false;
  f[F_FORMAT] = (struct span){format_digit, 1}; /* ac->format is checked by the caller */
  f[F_ADDRESS] = (struct span){bufs[0], lens[0]};
  f[F_TOKEN] = (struct span){bufs[1], lens[1]};
  f[F_OID] = (struct span){bufs[2], lens[2]};
  f[F_FLAG] = (struct span){CC_REQUIRED, 1};
  *n = ac->cc_required ? 5 : lens[2] ? 4 : 3;
  return true;
}

rsp_err_t rsp_msg_activation_code_format(const struct rsp_msg_activation_code *ac, char *out,
                                         size_t out_size, size_t *out_len, const char **why) {
  struct span f[MAX_FIELDS];
  size_t n, body = 0, at = 0;
  if (!ac || !out) return fail(why, "no code or no output buffer", RSP_E_INVALID_ARG);
  if (ac->format != RSP_MSG_AC_FORMAT)
    return fail(why, "AC_Format other than 1", RSP_E_UNSUPPORTED);
  if (!struct_spans(ac, f, &n)) return fail(why, "field not NUL-terminated", RSP_E_INVALID_ARG);
  rsp_err_t rc = check_fields(f, n, why);
  if (rc != RSP_OK) return rc;
  for (size_t i = 0; i < n; i++) body += f[i].len + (i ? 1 : 0);
  if (body > RSP_MSG_AC_MAX_LEN)
    return fail(why, "longer than 255 characters (SGP.32 activationCode)", RSP_E_BUF_CAP);
  size_t total = body + (ac->lpa_prefix ? PREFIX_LEN : 0);
  if (out_size < total + 1) return fail(why, "output buffer too small", RSP_E_BUF_SMALL);
  if (ac->lpa_prefix) {
    memcpy(out, RSP_MSG_AC_LPA_PREFIX, PREFIX_LEN);
    at = PREFIX_LEN;
  }
  for (size_t i = 0; i < n; i++) {
    if (i) out[at++] = DELIM;
    memcpy(out + at, f[i].p, f[i].len);
    at += f[i].len;
  }
  out[at] = '\0';
  if (out_len) *out_len = at;
  if (why) *why = NULL;
  return RSP_OK;
}
