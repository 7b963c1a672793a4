/* eIM operation specs (rsp/eim/spec.h): the operator's JSON object turned into the message the
 * eIM hands out when the device polls: an EuiccPackage (PSMOs, SGP.32 §5.14.x and notes 3.2; or
 * eCOs, notes 3.3), an IpaEuiccDataRequest (notes 3.5) or a ProfileDownloadTriggerRequest (notes
 * 3.6). Parsing is strict: an unknown key, a wrong JSON type or a value out of range is refused
 * with a `why` naming the key path, because a typo must not silently change what a device
 * executes. Every byte string is copied into the caller's arena, so the message outlives the
 * JSON document; the message is encoded once at the end, so a spec that parses can always be
 * signed and sent. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rsp/core/hex.h"
#include "rsp/crypto/crypto.h"
#include "rsp/crypto/x509.h"
#include "rsp/eim/spec.h"
#include "rsp/msg/activation_code.h"
#include "rsp/msg/base64.h"
#include "rsp/msg/tags.h"

#define PATH_MAX_LEN 96
#define ADDRESS_MAX 255 /* an FQDN (smdpAddress, defaultDpAddress, eimFqdn, smdsAddress) */
#define CERT_MAX 8192   /* certificates and public keys in EimConfigurationData, DER */
#define KEYID_MAX 32    /* euiccCiPKId: a SubjectKeyIdentifier */
#define AID_MAX 16      /* ProfileInfoListRequest isdpAid OCTET STRING (SIZE(5..16)) */
#define TAGS_MAX 64     /* a tag list, bytes */
#define TAG_BYTES_MAX 4 /* the DER reader's tag limit (docs/architecture.md, lib/der) */
/* associationToken -1 asks the eUICC to allocate a token for the new association (SGP.32
 * §5.9.4 as quoted in notes 3.7). */
#define TOKEN_ALLOCATE (-1)

struct sp {
  struct rsp_arena *a;
  char *why;
  size_t why_size;
};

/* Records "<path>: <message>" (or only the message at the root) and returns rc. */
static rsp_err_t fail(struct sp *s, rsp_err_t rc, const char *path, const char *fmt, ...) {
  va_list ap;
  int n = 0;
  if (!s->why || s->why_size == 0) return rc;
  if (path && path[0]) n = snprintf(s->why, s->why_size, "%s: ", path);
  if (n < 0 || (size_t)n >= s->why_size) return rc;
  va_start(ap, fmt);
  vsnprintf(s->why + n, s->why_size - (size_t)n, fmt, ap);
  va_end(ap);
  return rc;
}

#define INVALID(s, path, ...) fail(s, RSP_E_JSON_INVALID, path, __VA_ARGS__)

/* parent.key (a long path is cut: it only names the place in a message). */
static void join(char out[PATH_MAX_LEN], const char *parent, const char *key) {
  int n = parent && parent[0] ? snprintf(out, PATH_MAX_LEN, "%s.%s", parent, key)
                              : snprintf(out, PATH_MAX_LEN, "%s", key);
  if (n < 0) out[0] = '\0';
}

static void *alloc(struct sp *s, size_t n) { return rsp_arena_alloc(s->a, n ? n : 1); }

static rsp_err_t nomem(struct sp *s) { return fail(s, RSP_E_NOMEM, "", "out of memory"); }

/* ---- JSON value readers ------------------------------------------------------------------------
 * Each reads obj[key] into arena memory; `present` (may be NULL for required keys) tells whether
 * an optional key was there. */

static bool listed(const char *k, const char *const *keys) {
  for (size_t i = 0; keys && keys[i]; i++)
    if (strcmp(keys[i], k) == 0) return true;
  return false;
}

/* `v` must be an object holding only the keys listed (NULL-terminated). */
static rsp_err_t object_with(struct sp *s, const char *path, json_t *v, const char *const *keys) {
  const char *k;
  json_t *item;
  if (!json_is_object(v)) return INVALID(s, path, "must be a JSON object");
  json_object_foreach(v, k, item) {
    if (!listed(k, keys)) return INVALID(s, path, "unknown key \"%.40s\"", k);
  }
  return RSP_OK;
}

/* obj[key], or NULL with RSP_E_JSON_MISSING when required and absent. */
static json_t *member(struct sp *s, json_t *obj, const char *path, const char *key, bool required,
                      rsp_err_t *rc) {
  json_t *v = json_object_get(obj, key);
  *rc = RSP_OK;
  if (!v && required) {
    char p[PATH_MAX_LEN];
    join(p, path, key);
    *rc = fail(s, RSP_E_JSON_MISSING, p, "missing");
  }
  return v;
}

static rsp_err_t get_text(struct sp *s, json_t *obj, const char *path, const char *key,
                          bool required, size_t lo, size_t hi, struct rsp_slice *out) {
  char p[PATH_MAX_LEN];
  rsp_err_t rc;
  json_t *v = member(s, obj, path, key, required, &rc);
  if (!v) return rc;
  join(p, path, key);
  if (!json_is_string(v)) return INVALID(s, p, "must be a string");
  size_t n = json_string_length(v);
  if (n < lo || n > hi) return INVALID(s, p, "%zu bytes, %zu to %zu expected", n, lo, hi);
  uint8_t *copy = alloc(s, n);
  if (!copy) return nomem(s);
  memcpy(copy, json_string_value(v), n);
  *out = rsp_msg_slice(copy, n);
  return RSP_OK;
}

/* A host name or address as the SM-DP+ addresses and eimFqdn carry it: printable ASCII without
 * spaces; empty only when `allow_empty`. */
static rsp_err_t get_address(struct sp *s, json_t *obj, const char *path, const char *key,
                             bool required, bool allow_empty, struct rsp_slice *out) {
  char p[PATH_MAX_LEN];
  rsp_err_t rc = get_text(s, obj, path, key, required, allow_empty ? 0 : 1, ADDRESS_MAX, out);
  if (rc != RSP_OK || !out->p) return rc;
  join(p, path, key);
  for (size_t i = 0; i < out->len; i++)
    if (out->p[i] <= 0x20 || out->p[i] >= 0x7F || out->p[i] == '$')
      return INVALID(s, p, "not a host name (character %zu)", i + 1);
  return RSP_OK;
}

static rsp_err_t get_bool(struct sp *s, json_t *obj, const char *path, const char *key,
                          bool required, bool *present, bool *out) {
  char p[PATH_MAX_LEN];
  rsp_err_t rc;
  json_t *v = member(s, obj, path, key, required, &rc);
  if (present) *present = v != NULL;
  if (!v) return rc;
  join(p, path, key);
  if (!json_is_boolean(v)) return INVALID(s, p, "must be true or false");
  *out = json_is_true(v);
  return RSP_OK;
}

static rsp_err_t get_int(struct sp *s, json_t *obj, const char *path, const char *key,
                         bool required, int64_t lo, int64_t hi, bool *present, int64_t *out) {
  char p[PATH_MAX_LEN];
  rsp_err_t rc;
  json_t *v = member(s, obj, path, key, required, &rc);
  if (present) *present = v != NULL;
  if (!v) return rc;
  join(p, path, key);
  if (!json_is_integer(v)) return INVALID(s, p, "must be an integer");
  json_int_t n = json_integer_value(v);
  if (n < lo || n > hi)
    return INVALID(s, p, "%lld is out of range %lld..%lld", (long long)n, (long long)lo,
                   (long long)hi);
  *out = (int64_t)n;
  return RSP_OK;
}

static rsp_err_t get_hex(struct sp *s, json_t *obj, const char *path, const char *key,
                         bool required, size_t lo, size_t hi, struct rsp_slice *out) {
  char p[PATH_MAX_LEN];
  rsp_err_t rc;
  json_t *v = member(s, obj, path, key, required, &rc);
  size_t n;
  if (!v) return rc;
  join(p, path, key);
  if (!json_is_string(v)) return INVALID(s, p, "must be a hex string");
  const char *t = json_string_value(v);
  size_t tl = json_string_length(v);
  if (tl % 2) return INVALID(s, p, "odd number of hex digits");
  if (tl / 2 < lo || tl / 2 > hi)
    return INVALID(s, p, "%zu bytes, %zu to %zu expected", tl / 2, lo, hi);
  uint8_t *bytes = alloc(s, tl / 2);
  if (!bytes) return nomem(s);
  if (strlen(t) != tl || rsp_hex_decode(t, bytes, tl / 2, &n) != RSP_OK || n != tl / 2)
    return INVALID(s, p, "not a hex string");
  *out = rsp_msg_slice(bytes, n);
  return RSP_OK;
}

static rsp_err_t get_b64(struct sp *s, json_t *obj, const char *path, const char *key, size_t hi,
                         struct rsp_slice *out) {
  char p[PATH_MAX_LEN];
  rsp_err_t rc;
  json_t *v = member(s, obj, path, key, false, &rc);
  size_t n;
  if (!v) return rc;
  join(p, path, key);
  if (!json_is_string(v)) return INVALID(s, p, "must be a base64 string");
  size_t tl = json_string_length(v);
  size_t max = rsp_msg_base64_decoded_max(tl);
  if (max > hi + 2) return INVALID(s, p, "longer than %zu bytes", hi);
  uint8_t *bytes = alloc(s, max);
  if (!bytes) return nomem(s);
  if (rsp_msg_base64_decode(json_string_value(v), tl, bytes, max, &n) != RSP_OK)
    return INVALID(s, p, "not canonical base64");
  if (n == 0 || n > hi) return INVALID(s, p, "%zu bytes, 1 to %zu expected", n, hi);
  *out = rsp_msg_slice(bytes, n);
  return RSP_OK;
}

/* An ICCID of 18..20 digits, stored the EF.ICCID way (nibble-swapped, an odd count F-padded). */
static rsp_err_t get_iccid(struct sp *s, json_t *obj, const char *path, const char *key,
                           struct rsp_slice *out) {
  char p[PATH_MAX_LEN];
  rsp_err_t rc;
  json_t *v = member(s, obj, path, key, true, &rc);
  if (!v) return rc;
  join(p, path, key);
  if (!json_is_string(v)) return INVALID(s, p, "must be a string of digits");
  const char *t = json_string_value(v);
  size_t n = json_string_length(v);
  for (size_t i = 0; i < n; i++)
    if (t[i] < '0' || t[i] > '9') return INVALID(s, p, "not a digit at position %zu", i + 1);
  if (n < 18 || n > RSP_ICCID_MAX_DIGITS) return INVALID(s, p, "%zu digits, 18 to 20 expected", n);
  uint8_t *iccid = alloc(s, RSP_ICCID_LEN);
  if (!iccid) return nomem(s);
  if (rsp_iccid_encode(t, iccid) != RSP_OK) return INVALID(s, p, "not an ICCID");
  *out = rsp_msg_slice(iccid, RSP_ICCID_LEN);
  return RSP_OK;
}

/* An empty object: the operations without parameters ({"getRAT": {}}). */
static rsp_err_t empty_object(struct sp *s, const char *path, json_t *v) {
  static const char *const none[] = {NULL};
  return object_with(s, path, v, none);
}

/* ---- tag lists (5C) ----------------------------------------------------------------------------
 */

/* Splits a tag list into tags (BER tag rules, at most TAG_BYTES_MAX bytes each); *n counts them.
 * `tags` may be NULL to only check. */
static bool tag_list_split(struct rsp_slice l, uint32_t *tags, size_t tags_size, size_t *n) {
  *n = 0;
  for (size_t i = 0; i < l.len;) {
    uint32_t t = l.p[i++];
    size_t bytes = 1;
    if ((t & 0x1F) == 0x1F) {
      do {
        if (i == l.len || ++bytes > TAG_BYTES_MAX) return false;
        t = t << 8 | l.p[i];
      } while (l.p[i++] & 0x80);
    }
    if (tags && *n < tags_size) tags[*n] = t;
    (*n)++;
  }
  return *n > 0;
}

static rsp_err_t get_tag_list(struct sp *s, json_t *obj, const char *path, const char *key,
                              bool required, struct rsp_slice *out) {
  char p[PATH_MAX_LEN];
  size_t n;
  rsp_err_t rc = get_hex(s, obj, path, key, required, 1, TAGS_MAX, out);
  if (rc != RSP_OK || !out->p) return rc;
  join(p, path, key);
  if (!tag_list_split(*out, NULL, 0, &n)) return INVALID(s, p, "not a list of BER tags");
  return RSP_OK;
}

/* ---- PSMOs (SGP.32 Psmo, notes 3.2) ------------------------------------------------------------
 */

static rsp_err_t psmo_iccid_only(struct sp *s, const char *path, json_t *v,
                                 struct rsp_slice *iccid) {
  static const char *const keys[] = {"iccid", NULL};
  rsp_err_t rc = object_with(s, path, v, keys);
  return rc == RSP_OK ? get_iccid(s, v, path, "iccid", iccid) : rc;
}

static rsp_err_t psmo_enable(struct sp *s, const char *path, json_t *v, struct rsp_msg_psmo *op) {
  static const char *const keys[] = {"iccid", "rollback", NULL};
  struct rsp_msg_psmo_enable *e = alloc(s, sizeof *e);
  rsp_err_t rc = e ? object_with(s, path, v, keys) : nomem(s);
  if (rc == RSP_OK) rc = get_iccid(s, v, path, "iccid", &e->iccid);
  if (rc == RSP_OK) rc = get_bool(s, v, path, "rollback", false, NULL, &e->rollback_flag);
  op->u.enable = e;
  return rc;
}

static rsp_err_t psmo_disable(struct sp *s, const char *path, json_t *v, struct rsp_msg_psmo *op) {
  struct rsp_msg_psmo_disable *d = alloc(s, sizeof *d);
  op->u.disable = d;
  return d ? psmo_iccid_only(s, path, v, &d->iccid) : nomem(s);
}

static rsp_err_t psmo_delete(struct sp *s, const char *path, json_t *v, struct rsp_msg_psmo *op) {
  struct rsp_msg_psmo_delete *d = alloc(s, sizeof *d);
  op->u.delete = d;
  return d ? psmo_iccid_only(s, path, v, &d->iccid) : nomem(s);
}

/* ProfileInfoListRequest (SGP.22 BF2D): at most one search criterion, an optional tag list. */
static rsp_err_t psmo_list_profile_info(struct sp *s, const char *path, json_t *v,
                                        struct rsp_msg_psmo *op) {
  static const char *const keys[] = {"iccid", "isdpAid", "profileClass", "tags", NULL};
  struct rsp_msg_profile_info_list_request *r = alloc(s, sizeof *r);
  struct rsp_msg_profile_info_list_request_search_criteria *c = alloc(s, sizeof *c);
  rsp_err_t rc = r && c ? object_with(s, path, v, keys) : nomem(s);
  int criteria = 0;
  bool has_class = false;
  if (rc != RSP_OK) return rc;
  op->u.list_profile_info = r;
  criteria = (json_object_get(v, "iccid") != NULL) + (json_object_get(v, "isdpAid") != NULL) +
             (json_object_get(v, "profileClass") != NULL);
  if (criteria > 1) return INVALID(s, path, "iccid, isdpAid and profileClass exclude each other");
  if (json_object_get(v, "iccid")) {
    c->which = RSP_MSG_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ICCID;
    rc = get_iccid(s, v, path, "iccid", &c->u.iccid);
  } else if (json_object_get(v, "isdpAid")) {
    c->which = RSP_MSG_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_ISDP_AID;
    rc = get_hex(s, v, path, "isdpAid", true, 5, AID_MAX, &c->u.isdp_aid);
  } else {
    c->which = RSP_MSG_PROFILE_INFO_LIST_REQUEST_SEARCH_CRITERIA_PROFILE_CLASS;
    rc = get_int(s, v, path, "profileClass", false, RSP_MSG_PROFILE_CLASS_TEST,
                 RSP_MSG_PROFILE_CLASS_OPERATIONAL, &has_class, &c->u.profile_class);
  }
  if (criteria) r->search_criteria = c;
  if (rc == RSP_OK) rc = get_tag_list(s, v, path, "tags", false, &r->tag_list);
  return rc;
}

static rsp_err_t psmo_get_rat(struct sp *s, const char *path, json_t *v, struct rsp_msg_psmo *op) {
  op->u.get_rat = alloc(s, sizeof *op->u.get_rat);
  return op->u.get_rat ? empty_object(s, path, v) : nomem(s);
}

static rsp_err_t psmo_configure_immediate(struct sp *s, const char *path, json_t *v,
                                          struct rsp_msg_psmo *op) {
  static const char *const keys[] = {"enable", "smdpAddress", NULL};
  struct rsp_msg_psmo_configure_immediate_enable *c = alloc(s, sizeof *c);
  rsp_err_t rc = c ? object_with(s, path, v, keys) : nomem(s);
  op->u.configure_immediate_enable = c;
  if (rc == RSP_OK) rc = get_bool(s, v, path, "enable", true, NULL, &c->immediate_enable_flag);
  if (rc == RSP_OK)
    rc = get_address(s, v, path, "smdpAddress", false, false, &c->default_smdp_address);
  return rc;
}

static rsp_err_t psmo_set_fallback(struct sp *s, const char *path, json_t *v,
                                   struct rsp_msg_psmo *op) {
  struct rsp_msg_psmo_set_fallback_attribute *f = alloc(s, sizeof *f);
  op->u.set_fallback_attribute = f;
  return f ? psmo_iccid_only(s, path, v, &f->iccid) : nomem(s);
}

static rsp_err_t psmo_unset_fallback(struct sp *s, const char *path, json_t *v,
                                     struct rsp_msg_psmo *op) {
  op->u.unset_fallback_attribute = alloc(s, sizeof *op->u.unset_fallback_attribute);
  return op->u.unset_fallback_attribute ? empty_object(s, path, v) : nomem(s);
}

/* setDefaultDpAddress: an empty address clears the card's default SM-DP+. */
static rsp_err_t psmo_set_default_dp(struct sp *s, const char *path, json_t *v,
                                     struct rsp_msg_psmo *op) {
  static const char *const keys[] = {"address", NULL};
  struct rsp_msg_sgp32_set_default_dp_address_request *d = alloc(s, sizeof *d);
  rsp_err_t rc = d ? object_with(s, path, v, keys) : nomem(s);
  op->u.set_default_dp_address = d;
  if (rc == RSP_OK) rc = get_address(s, v, path, "address", true, true, &d->default_dp_address);
  return rc;
}

/* One operation's parser: fills op->u for op->which. */
typedef rsp_err_t (*op_parser)(struct sp *s, const char *path, json_t *v, struct rsp_msg_psmo *op);

static const struct {
  const char *name;
  int which;
  op_parser parse;
} psmo_table[] = {
    {"enable", RSP_MSG_PSMO_ENABLE, psmo_enable},
    {"disable", RSP_MSG_PSMO_DISABLE, psmo_disable},
    {"delete", RSP_MSG_PSMO_DELETE, psmo_delete},
    {"listProfileInfo", RSP_MSG_PSMO_LIST_PROFILE_INFO, psmo_list_profile_info},
    {"getRAT", RSP_MSG_PSMO_GET_RAT, psmo_get_rat},
    {"configureImmediateEnable", RSP_MSG_PSMO_CONFIGURE_IMMEDIATE_ENABLE, psmo_configure_immediate},
    {"setFallbackAttribute", RSP_MSG_PSMO_SET_FALLBACK_ATTRIBUTE, psmo_set_fallback},
    {"unsetFallbackAttribute", RSP_MSG_PSMO_UNSET_FALLBACK_ATTRIBUTE, psmo_unset_fallback},
    {"setDefaultDpAddress", RSP_MSG_PSMO_SET_DEFAULT_DP_ADDRESS, psmo_set_default_dp},
};

/* ---- eCOs (SGP.32 Eco, notes 3.3 and 3.7) ------------------------------------------------------
 */

/* eimPublicKeyData / trustedPublicKeyDataTls: a certificate or a SubjectPublicKeyInfo, base64 DER,
 * checked by parsing it (a key the card cannot use must not reach it). */
static rsp_err_t get_key_data(struct sp *s, json_t *v, const char *path, const char *cert_key,
                              const char *spki_key, struct rsp_slice *cert,
                              struct rsp_slice *spki) {
  char p[PATH_MAX_LEN];
  struct rsp_cert *c = NULL;
  struct rsp_key *k = NULL;
  *cert = *spki = (struct rsp_slice){NULL, 0};
  if (json_object_get(v, cert_key) && json_object_get(v, spki_key))
    return INVALID(s, path, "%s and %s exclude each other", cert_key, spki_key);
  rsp_err_t rc = get_b64(s, v, path, cert_key, CERT_MAX, cert);
  if (rc == RSP_OK) rc = get_b64(s, v, path, spki_key, CERT_MAX, spki);
  if (rc != RSP_OK) return rc;
  if (cert->p) {
    join(p, path, cert_key);
    rc = rsp_cert_parse(cert->p, cert->len, &c);
    rsp_cert_free(c);
    if (rc != RSP_OK) return INVALID(s, p, "not an X.509 certificate (%s)", rsp_strerror(rc));
  }
  if (spki->p) {
    join(p, path, spki_key);
    rc = rsp_key_from_spki(spki->p, spki->len, &k);
    rsp_key_free(k);
    if (rc != RSP_OK) return INVALID(s, p, "not an EC public key (%s)", rsp_strerror(rc));
  }
  return RSP_OK;
}

/* EimSupportedProtocol BIT STRING as its content octets: the unused-bit count, then the bits,
 * with DER's rule that unused bits are zero. */
static rsp_err_t get_bit_string(struct sp *s, json_t *v, const char *path, const char *key,
                                struct rsp_slice *out) {
  char p[PATH_MAX_LEN];
  rsp_err_t rc = get_hex(s, v, path, key, false, 1, 5, out);
  if (rc != RSP_OK || !out->p) return rc;
  join(p, path, key);
  uint8_t unused = out->p[0];
  if (unused > 7 || (out->len == 1 && unused != 0))
    return INVALID(s, p, "not BIT STRING content (first byte: unused bits 0..7)");
  if (out->len > 1 && (out->p[out->len - 1] & ((1u << unused) - 1)) != 0)
    return INVALID(s, p, "unused bits are not zero");
  return RSP_OK;
}

static rsp_err_t eim_key_data(struct sp *s, json_t *v, const char *path,
                              struct rsp_msg_eim_configuration_data *e) {
  struct rsp_slice cert = {0}, spki = {0};
  rsp_err_t rc = get_key_data(s, v, path, "certificate", "publicKey", &cert, &spki);
  if (rc == RSP_OK && (cert.p || spki.p)) {
    struct rsp_msg_eim_configuration_data_eim_public_key_data *k = alloc(s, sizeof *k);
    if (!k) return nomem(s);
    k->which = cert.p ? RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_CERTIFICATE
                      : RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY;
    if (cert.p)
      k->u.eim_certificate = cert;
    else
      k->u.eim_public_key = spki;
    e->eim_public_key_data = k;
  }
  if (rc == RSP_OK) rc = get_key_data(s, v, path, "tlsCertificate", "tlsPublicKey", &cert, &spki);
  if (rc == RSP_OK && (cert.p || spki.p)) {
    struct rsp_msg_eim_configuration_data_trusted_public_key_data_tls *t = alloc(s, sizeof *t);
    if (!t) return nomem(s);
    t->which =
        cert.p ? RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_CERTIFICATE_TLS
               : RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS;
    if (cert.p)
      t->u.trusted_certificate_tls = cert;
    else
      t->u.trusted_eim_pk_tls = spki;
    e->trusted_public_key_data_tls = t;
  }
  return rc;
}

/* EimConfigurationData for addEim (`add`) or updateEim. An associationToken may only be asked
 * for when adding (updateEim must not carry one, notes 3.3). */
static rsp_err_t eim_config(struct sp *s, const char *path, json_t *v, bool add,
                            struct rsp_msg_eim_configuration_data **out) {
  static const char *const keys[] = {"eimId",
                                     "fqdn",
                                     "idType",
                                     "counter",
                                     "certificate",
                                     "publicKey",
                                     "tlsCertificate",
                                     "tlsPublicKey",
                                     "supportedProtocols",
                                     "indirect",
                                     "ciPKId",
                                     "associationToken",
                                     NULL};
  struct rsp_msg_eim_configuration_data *e = alloc(s, sizeof *e);
  bool present = false, flag = false;
  rsp_err_t rc = e ? object_with(s, path, v, keys) : nomem(s);
  *out = e;
  if (rc == RSP_OK) rc = get_text(s, v, path, "eimId", true, 1, RSP_EIM_ID_MAX, &e->eim_id);
  if (rc == RSP_OK) rc = get_address(s, v, path, "fqdn", false, false, &e->eim_fqdn);
  if (rc == RSP_OK)
    rc = get_int(s, v, path, "idType", false, RSP_MSG_EIM_ID_TYPE_EIM_ID_TYPE_OID,
                 RSP_MSG_EIM_ID_TYPE_EIM_ID_TYPE_PROPRIETARY, &e->eim_id_type.present,
                 &e->eim_id_type.v);
  if (rc == RSP_OK)
    rc = get_int(s, v, path, "counter", false, 0, RSP_EIM_COUNTER_MAX, &e->counter_value.present,
                 &e->counter_value.v);
  if (rc == RSP_OK) rc = eim_key_data(s, v, path, e);
  if (rc == RSP_OK)
    rc = get_bit_string(s, v, path, "supportedProtocols", &e->eim_supported_protocol);
  if (rc == RSP_OK) rc = get_hex(s, v, path, "ciPKId", false, 1, KEYID_MAX, &e->euicc_ci_pk_id);
  if (rc == RSP_OK)
    rc = get_bool(s, v, path, "indirect", false, NULL, &e->indirect_profile_download);
  if (rc == RSP_OK) rc = get_bool(s, v, path, "associationToken", false, &present, &flag);
  if (rc == RSP_OK && present && !add) {
    char p[PATH_MAX_LEN];
    join(p, path, "associationToken");
    return INVALID(s, p, "updateEim cannot carry an associationToken");
  }
  if (rc == RSP_OK && flag) e->association_token = rsp_msg_int_make(TOKEN_ALLOCATE);
  return rc;
}

static rsp_err_t eco_add(struct sp *s, const char *path, json_t *v, struct rsp_msg_eco *op) {
  return eim_config(s, path, v, true, &op->u.add_eim);
}

static rsp_err_t eco_update(struct sp *s, const char *path, json_t *v, struct rsp_msg_eco *op) {
  return eim_config(s, path, v, false, &op->u.update_eim);
}

static rsp_err_t eco_delete(struct sp *s, const char *path, json_t *v, struct rsp_msg_eco *op) {
  static const char *const keys[] = {"eimId", NULL};
  struct rsp_msg_eco_delete_eim *d = alloc(s, sizeof *d);
  rsp_err_t rc = d ? object_with(s, path, v, keys) : nomem(s);
  op->u.delete_eim = d;
  if (rc == RSP_OK) rc = get_text(s, v, path, "eimId", true, 1, RSP_EIM_ID_MAX, &d->eim_id);
  return rc;
}

static rsp_err_t eco_list(struct sp *s, const char *path, json_t *v, struct rsp_msg_eco *op) {
  op->u.list_eim = alloc(s, sizeof *op->u.list_eim);
  return op->u.list_eim ? empty_object(s, path, v) : nomem(s);
}

typedef rsp_err_t (*eco_parser)(struct sp *s, const char *path, json_t *v, struct rsp_msg_eco *op);

static const struct {
  const char *name;
  int which;
  eco_parser parse;
} eco_table[] = {
    {"addEim", RSP_MSG_ECO_ADD_EIM, eco_add},
    {"updateEim", RSP_MSG_ECO_UPDATE_EIM, eco_update},
    {"deleteEim", RSP_MSG_ECO_DELETE_EIM, eco_delete},
    {"listEim", RSP_MSG_ECO_LIST_EIM, eco_list},
};

/* ---- the operation lists -----------------------------------------------------------------------
 */

/* `item` must be an object with exactly one key, the operation's name; *name and *value get it. */
static rsp_err_t single_key(struct sp *s, const char *path, json_t *item, const char **name,
                            json_t **value) {
  if (!json_is_object(item) || json_object_size(item) != 1)
    return INVALID(s, path, "must be an object with exactly one operation name as key");
  void *it = json_object_iter(item);
  *name = json_object_iter_key(it);
  *value = json_object_iter_value(it);
  return RSP_OK;
}

/* The array at obj[key]: 1..RSP_EIM_SPEC_MAX_OPS items. */
static rsp_err_t op_array(struct sp *s, json_t *obj, const char *key, json_t **arr) {
  rsp_err_t rc;
  *arr = member(s, obj, "", key, true, &rc);
  if (!*arr) return rc;
  if (!json_is_array(*arr)) return INVALID(s, key, "must be an array of operations");
  size_t n = json_array_size(*arr);
  if (n < 1 || n > RSP_EIM_SPEC_MAX_OPS)
    return INVALID(s, key, "%zu operations, 1 to %d expected", n, RSP_EIM_SPEC_MAX_OPS);
  return RSP_OK;
}

static rsp_err_t parse_psmos(struct sp *s, json_t *root, struct rsp_msg_euicc_package *pkg) {
  json_t *arr;
  rsp_err_t rc = op_array(s, root, "psmos", &arr);
  if (rc != RSP_OK) return rc;
  size_t n = json_array_size(arr);
  struct rsp_msg_euicc_package_psmo_list *l = alloc(s, sizeof *l);
  struct rsp_msg_psmo *v = alloc(s, n * sizeof *v);
  if (!l || !v) return nomem(s);
  for (size_t i = 0; i < n; i++) {
    char item_path[PATH_MAX_LEN], op_path[PATH_MAX_LEN];
    const char *name;
    json_t *value;
    size_t k = 0;
    snprintf(item_path, sizeof item_path, "psmos[%zu]", i);
    if ((rc = single_key(s, item_path, json_array_get(arr, i), &name, &value)) != RSP_OK) return rc;
    while (k < sizeof psmo_table / sizeof psmo_table[0] && strcmp(psmo_table[k].name, name) != 0)
      k++;
    if (k == sizeof psmo_table / sizeof psmo_table[0])
      return INVALID(s, item_path, "unknown PSMO \"%.40s\"", name);
    join(op_path, item_path, name);
    v[i].which = psmo_table[k].which;
    if ((rc = psmo_table[k].parse(s, op_path, value, &v[i])) != RSP_OK) return rc;
  }
  l->v = v;
  l->n = n;
  pkg->which = RSP_MSG_EUICC_PACKAGE_PSMO_LIST;
  pkg->u.psmo_list = l;
  return RSP_OK;
}

static rsp_err_t parse_ecos(struct sp *s, json_t *root, struct rsp_msg_euicc_package *pkg) {
  json_t *arr;
  rsp_err_t rc = op_array(s, root, "ecos", &arr);
  if (rc != RSP_OK) return rc;
  size_t n = json_array_size(arr);
  struct rsp_msg_euicc_package_eco_list *l = alloc(s, sizeof *l);
  struct rsp_msg_eco *v = alloc(s, n * sizeof *v);
  if (!l || !v) return nomem(s);
  for (size_t i = 0; i < n; i++) {
    char item_path[PATH_MAX_LEN], op_path[PATH_MAX_LEN];
    const char *name;
    json_t *value;
    size_t k = 0;
    snprintf(item_path, sizeof item_path, "ecos[%zu]", i);
    if ((rc = single_key(s, item_path, json_array_get(arr, i), &name, &value)) != RSP_OK) return rc;
    while (k < sizeof eco_table / sizeof eco_table[0] && strcmp(eco_table[k].name, name) != 0) k++;
    if (k == sizeof eco_table / sizeof eco_table[0])
      return INVALID(s, item_path, "unknown eCO \"%.40s\"", name);
    join(op_path, item_path, name);
    v[i].which = eco_table[k].which;
    if ((rc = eco_table[k].parse(s, op_path, value, &v[i])) != RSP_OK) return rc;
  }
  l->v = v;
  l->n = n;
  pkg->which = RSP_MSG_EUICC_PACKAGE_ECO_LIST;
  pkg->u.eco_list = l;
  return RSP_OK;
}

/* ---- IpaEuiccDataRequest (notes 3.5) -----------------------------------------------------------
 */

/* The IpaEuiccData fields an IPA can return (SGP.32 v1.2): notificationsList A0,
 * defaultSmdpAddress 81, euiccPackageResultList A2, euiccInfo1 BF20, euiccInfo2 BF22,
 * rootSmdsAddress 83, associationToken 84, eumCertificate A5, euiccCertificate A6,
 * ipaCapabilities A8, deviceInfo A9. Others are refused here rather than answered with
 * incorrectTagList by the device. */
static bool euicc_data_tag(uint32_t t) {
  static const uint32_t ok[] = {
      0xA0, 0x81, 0xA2, RSP_TAG_EUICC_INFO1, RSP_TAG_EUICC_INFO2, 0x83, 0x84, 0xA5,
      0xA6, 0xA8, 0xA9};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (ok[i] == t) return true;
  return false;
}

static rsp_err_t parse_euicc_data(struct sp *s, json_t *root, struct rsp_eim_spec *out) {
  static const char *const keys[] = {"kind", "tags", "ciPKId", NULL};
  struct rsp_msg_ipa_euicc_data_request *q = alloc(s, sizeof *q);
  uint32_t tags[TAGS_MAX];
  size_t n = 0;
  rsp_err_t rc = q ? object_with(s, "", root, keys) : nomem(s);
  if (rc == RSP_OK) rc = get_tag_list(s, root, "", "tags", true, &q->tag_list);
  if (rc == RSP_OK)
    rc = get_hex(s, root, "", "ciPKId", false, 1, KEYID_MAX, &q->euicc_ci_pk_identifier_to_be_used);
  if (rc != RSP_OK) return rc;
  tag_list_split(q->tag_list, tags, TAGS_MAX, &n);
  for (size_t i = 0; i < n && i < TAGS_MAX; i++) {
    if (!euicc_data_tag(tags[i]))
      return INVALID(s, "tags", "%X is not an IpaEuiccData tag", tags[i]);
    for (size_t j = 0; j < i; j++)
      if (tags[j] == tags[i]) return INVALID(s, "tags", "%X is listed twice", tags[i]);
  }
  out->data_request = q;
  return RSP_OK;
}

/* ---- ProfileDownloadTriggerRequest (notes 3.6) -------------------------------------------------
 */

/* The activation code as the eIM sends it: without "LPA:" (notes 3.6), in its canonical form. */
static rsp_err_t activation_code(struct sp *s, json_t *root,
                                 struct rsp_msg_profile_download_data *d) {
  struct rsp_msg_activation_code ac;
  const char *why = NULL;
  char text[RSP_MSG_AC_MAX_LEN + 8];
  size_t n = 0;
  json_t *v = json_object_get(root, "activationCode");
  if (!json_is_string(v)) return INVALID(s, "activationCode", "must be a string");
  rsp_err_t rc =
      rsp_msg_activation_code_parse(json_string_value(v), json_string_length(v), &ac, &why);
  if (rc != RSP_OK) return INVALID(s, "activationCode", "%s", why ? why : rsp_strerror(rc));
  ac.lpa_prefix = false;
  if (rsp_msg_activation_code_format(&ac, text, sizeof text, &n, &why) != RSP_OK)
    return INVALID(s, "activationCode", "%s", why ? why : "cannot be formatted");
  uint8_t *copy = alloc(s, n);
  if (!copy) return nomem(s);
  memcpy(copy, text, n);
  d->which = RSP_MSG_PROFILE_DOWNLOAD_DATA_ACTIVATION_CODE;
  d->u.activation_code = rsp_msg_slice(copy, n);
  return RSP_OK;
}

static rsp_err_t parse_download(struct sp *s, json_t *root, struct rsp_eim_spec *out) {
  static const char *const keys[] = {"kind", "activationCode", "defaultSmdp",
                                     "smds", "smdsAddress",    NULL};
  struct rsp_msg_profile_download_trigger_request *q = alloc(s, sizeof *q);
  struct rsp_msg_profile_download_data *d = alloc(s, sizeof *d);
  bool flag = false;
  rsp_err_t rc = q && d ? object_with(s, "", root, keys) : nomem(s);
  if (rc != RSP_OK) return rc;
  int forms = (json_object_get(root, "activationCode") != NULL) +
              (json_object_get(root, "defaultSmdp") != NULL) +
              (json_object_get(root, "smds") != NULL);
  if (forms != 1)
    return fail(s, forms ? RSP_E_JSON_INVALID : RSP_E_JSON_MISSING, "",
                "exactly one of activationCode, defaultSmdp and smds expected");
  if (json_object_get(root, "smdsAddress") && !json_object_get(root, "smds"))
    return INVALID(s, "smdsAddress", "only with \"smds\": true");
  if (json_object_get(root, "activationCode")) {
    rc = activation_code(s, root, d);
  } else if (json_object_get(root, "defaultSmdp")) {
    rc = get_bool(s, root, "", "defaultSmdp", true, NULL, &flag);
    if (rc == RSP_OK && !flag) return INVALID(s, "defaultSmdp", "must be true");
    d->which = RSP_MSG_PROFILE_DOWNLOAD_DATA_CONTACT_DEFAULT_SMDP;
    d->u.contact_default_smdp = true;
  } else {
    rc = get_bool(s, root, "", "smds", true, NULL, &flag);
    if (rc == RSP_OK && !flag) return INVALID(s, "smds", "must be true");
    d->which = RSP_MSG_PROFILE_DOWNLOAD_DATA_CONTACT_SMDS;
    if (rc == RSP_OK && !(d->u.contact_smds = alloc(s, sizeof *d->u.contact_smds))) return nomem(s);
    if (rc == RSP_OK)
      rc = get_address(s, root, "", "smdsAddress", false, false, &d->u.contact_smds->smds_address);
  }
  q->profile_download_data = d;
  out->trigger = q;
  return rc;
}

/* ---- the spec ----------------------------------------------------------------------------------
 */

/* Encodes the built message once: a spec that parses is one the eIM can always send. */
static rsp_err_t encodable(struct sp *s, const struct rsp_eim_spec *out) {
  struct rsp_buf b;
  struct rsp_msg_diag diag = {{0}};
  rsp_err_t rc;
  rsp_buf_init(&b, RSP_EIM_PACKAGE_MAX);
  if (out->package)
    rc = rsp_msg_encode(&rsp_msgt_euicc_package, out->package, &b, &diag);
  else if (out->data_request)
    rc = rsp_msg_encode(&rsp_msgt_ipa_euicc_data_request, out->data_request, &b, &diag);
  else
    rc = rsp_msg_encode(&rsp_msgt_profile_download_trigger_request, out->trigger, &b, &diag);
  rsp_buf_free(&b);
  if (rc == RSP_E_NOMEM) return nomem(s);
  if (rc != RSP_OK)
    return INVALID(s, "", "the message cannot be encoded (%s at %s)", rsp_strerror(rc), diag.path);
  return RSP_OK;
}

static rsp_err_t parse_root(struct sp *s, json_t *root, struct rsp_eim_spec *out) {
  static const char *const psmo_keys[] = {"kind", "psmos", NULL};
  static const char *const eco_keys[] = {"kind", "ecos", NULL};
  rsp_err_t rc;
  json_t *kind = member(s, root, "", "kind", true, &rc);
  if (!kind) return rc;
  if (!json_is_string(kind)) return INVALID(s, "kind", "must be a string");
  out->kind = rsp_eim_op_kind_parse(json_string_value(kind));
  switch (out->kind) {
  case RSP_EIM_OP_PSMO:
  case RSP_EIM_OP_ECO:
    out->package = alloc(s, sizeof *out->package);
    if (!out->package) return nomem(s);
    rc = object_with(s, "", root, out->kind == RSP_EIM_OP_PSMO ? psmo_keys : eco_keys);
    if (rc == RSP_OK)
      rc = out->kind == RSP_EIM_OP_PSMO ? parse_psmos(s, root, out->package)
                                        : parse_ecos(s, root, out->package);
    break;
  case RSP_EIM_OP_EUICC_DATA:
    rc = parse_euicc_data(s, root, out);
    break;
  case RSP_EIM_OP_DOWNLOAD:
    rc = parse_download(s, root, out);
    break;
  default:
    return INVALID(s, "kind", "\"%.40s\" is not psmo, eco, euicc_data or download",
                   json_string_value(kind));
  }
  return rc == RSP_OK ? encodable(s, out) : rc;
}

rsp_err_t rsp_eim_spec_parse(const char *json, size_t len, struct rsp_arena *a,
                             struct rsp_eim_spec *out, char *why, size_t why_size) {
  struct sp s = {.a = a, .why = why, .why_size = why_size};
  json_error_t err;
  if (why && why_size) why[0] = '\0';
  if (out) memset(out, 0, sizeof *out);
  if (!json || !a || !out) return fail(&s, RSP_E_INVALID_ARG, "", "NULL argument");
  if (len > RSP_EIM_SPEC_MAX_TEXT)
    return INVALID(&s, "", "%zu bytes, at most %u", len, (unsigned)RSP_EIM_SPEC_MAX_TEXT);
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
  if (!root)
    return INVALID(&s, "", "not JSON: %s (line %d, column %d)", err.text, err.line, err.column);
  rsp_err_t rc =
      json_is_object(root) ? parse_root(&s, root, out) : INVALID(&s, "", "must be a JSON object");
  json_decref(root);
  if (rc != RSP_OK) {
    struct rsp_eim_spec empty = {0};
    *out = empty;
  }
  return rc;
}
