/* The SM-DP+'s profiles and their unprotected profile packages: adding them one by one or from a
 * directory of .der files (read in place, never copied), the ICCID a package's ProfileHeader
 * carries, and a generated test package.
 *
 * A package is a concatenation of Profile Elements (SIMalliance/TCA eUICC Profile Package,
 * PEDefinitions, AUTOMATIC TAGS), each one strict DER, the ProfileHeader first. Its iccid holds
 * the ICCID digits in order, BCD, F-padded: the TS.48 packages carry 89 00 01 23 ... 41 there and
 * the nibble-swapped EF.ICCID form (98 00 10 32 ...) in their MF, as SGP.22 metadata does. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/text.h"
#include "rsp/der/der.h"
#include "smdp_internal.h"

#define TAG_PE_HEADER 0xA0u                 /* ProfileElement.header [0] ProfileHeader */
#define TAG_PE_NON_STANDARD 0xA9u           /* ProfileElement.nonStandard [9] PE-NonStandard */
#define TAG_PE_END 0xAAu                    /* ProfileElement.end [10] PE-End */
#define TAG_HEADER_MAJOR_VERSION 0x80u      /* ProfileHeader.major-version [0] UInt8 */
#define TAG_HEADER_MINOR_VERSION 0x81u      /* ProfileHeader.minor-version [1] UInt8 */
#define TAG_HEADER_PROFILE_TYPE 0x82u       /* ProfileHeader.profileType [2] UTF8String */
#define TAG_HEADER_ICCID 0x83u              /* ProfileHeader.iccid [3] OCTET STRING (SIZE (10)) */
#define TAG_HEADER_MANDATORY_SERVICES 0xA5u /* ProfileHeader.eUICC-Mandatory-services [5] */
#define TAG_HEADER_MANDATORY_GFSTE 0xA6u    /* ProfileHeader.eUICC-Mandatory-GFSTEList [6] */
#define TAG_SERVICES_USIM 0x81u             /* ServicesList.usim [1] NULL */
#define TAG_PE_COMMON_HEADER 0xA0u          /* the xxx-header [0] PEHeader of every PE-xxx */
#define TAG_PEHEADER_IDENTIFICATION 0x81u   /* PEHeader.identification [1] UInt15 */
#define TAG_NON_STANDARD_ISSUER_ID 0x81u    /* PE-NonStandard.issuerID [1] OBJECT IDENTIFIER */
#define TAG_NON_STANDARD_CONTENT 0x82u      /* PE-NonStandard.content [2] OCTET STRING */

#define TEST_MAJOR_VERSION 2 /* SAIP 2.3, what the TS.48 v4/v5 packages declare */
#define TEST_MINOR_VERSION 3
#define TEST_PROFILE_TYPE "openrsp test profile"
#define TEST_ISSUER_OID "2.999.1" /* under the example arc of X.660 */
#define EF_IMSI_LEN 9             /* TS 31.102 §4.2.2: length byte and 8 BCD bytes */
#define DEFAULT_SPN "openrsp"
#define DEFAULT_TYPE "default"

/* ---- reading a package -------------------------------------------------------------------------
 */

static rsp_err_t header_iccid(const uint8_t v[RSP_ICCID_LEN], char out[RSP_ICCID_MAX_DIGITS + 1]) {
  char hex[2 * RSP_ICCID_LEN + 1];
  size_t n = 2 * RSP_ICCID_LEN;
  rsp_err_t rc = rsp_hex_encode(v, RSP_ICCID_LEN, hex, sizeof hex);
  while (rc == RSP_OK && n > 0 && hex[n - 1] == 'F') n--;
  hex[n] = '\0';
  return rc == RSP_OK ? rsp__smdp_iccid_canon(hex, out) : rc;
}

/* Every top-level element is strict DER, as the card checks before installing. */
static bool elements_ok(const uint8_t *p, size_t len) {
  const uint8_t *end = p + len;
  struct rsp_der_tlv t;
  while (p < end)
    if (rsp_der_read_tlv(&p, end, &t) != RSP_OK ||
        rsp_der_validate_tree(t.raw, t.raw_len) != RSP_OK)
      return false;
  return len > 0;
}

rsp_err_t rsp_smdp_profile_package_info(const uint8_t *upp, size_t len,
                                        char iccid[RSP_ICCID_MAX_DIGITS + 1], char *profile_type,
                                        size_t profile_type_size) {
  struct rsp_der_tlv h, c;
  const uint8_t *p = upp, *q, *end;
  bool found = false;
  if (!upp || !iccid) return RSP_E_INVALID_ARG;
  if (profile_type && profile_type_size) profile_type[0] = '\0';
  if (!elements_ok(upp, len) || rsp_der_read_expect(&p, upp + len, TAG_PE_HEADER, &h) != RSP_OK)
    return RSP_E_INVALID_ARG;
  rsp_der_children(&h, &q, &end);
  while (q < end && rsp_der_read_tlv(&q, end, &c) == RSP_OK) {
    if (c.tag == TAG_HEADER_ICCID && c.len == RSP_ICCID_LEN)
      found = header_iccid(c.val, iccid) == RSP_OK;
    else if (c.tag == TAG_HEADER_PROFILE_TYPE && profile_type && profile_type_size &&
             rsp_der_get_utf8_cstr(&c, profile_type, profile_type_size) != RSP_OK)
      profile_type[0] = '\0';
  }
  return found ? RSP_OK : RSP_E_INVALID_ARG;
}

/* ---- generating one ----------------------------------------------------------------------------
 */

/* EF.IMSI (TS 31.102 §4.2.2): the number of bytes that follow, then the parity nibble (9 for an
 * odd digit count, 1 for even) and the digits, nibble-swapped, F-padded. */
static rsp_err_t ef_imsi(const char *imsi, uint8_t out[EF_IMSI_LEN]) {
  size_t n = strlen(imsi);
  if (n < 6 || n > 15 || strspn(imsi, "0123456789") != n) return RSP_E_INVALID_ARG;
  memset(out, 0xFF, EF_IMSI_LEN);
  out[0] = (uint8_t)((n + 2) / 2);
  for (size_t i = 0; i <= n; i++) {
    uint8_t nib = i == 0 ? (n % 2 ? 0x9 : 0x1) : (uint8_t)(imsi[i - 1] - '0');
    uint8_t *b = &out[1 + i / 2];
    *b = i % 2 ? (uint8_t)((*b & 0x0F) | nib << 4) : (uint8_t)((*b & 0xF0) | nib);
  }
  return RSP_OK;
}

static void put_non_standard(struct rsp_der_writer *w, int64_t id, const uint8_t *content,
                             size_t n) {
  rsp_der_begin(w, TAG_PE_NON_STANDARD);
  rsp_der_begin(w, TAG_PE_COMMON_HEADER);
  rsp_der_put_int64(w, TAG_PEHEADER_IDENTIFICATION, id);
  rsp_der_end(w);
  rsp_der_put_oid(w, TAG_NON_STANDARD_ISSUER_ID, TEST_ISSUER_OID);
  rsp_der_put_octets(w, TAG_NON_STANDARD_CONTENT, content, n);
  rsp_der_end(w);
}

static void put_header(struct rsp_der_writer *w, const uint8_t iccid[RSP_ICCID_LEN],
                       const char *profile_type) {
  rsp_der_begin(w, TAG_PE_HEADER);
  rsp_der_put_int64(w, TAG_HEADER_MAJOR_VERSION, TEST_MAJOR_VERSION);
  rsp_der_put_int64(w, TAG_HEADER_MINOR_VERSION, TEST_MINOR_VERSION);
  rsp_der_put_utf8(w, TAG_HEADER_PROFILE_TYPE, profile_type);
  rsp_der_put_octets(w, TAG_HEADER_ICCID, iccid, RSP_ICCID_LEN);
  rsp_der_begin(w, TAG_HEADER_MANDATORY_SERVICES);
  rsp_der_put_null(w, TAG_SERVICES_USIM);
  rsp_der_end(w);
  rsp_der_begin(w, TAG_HEADER_MANDATORY_GFSTE);
  rsp_der_end(w);
  rsp_der_end(w);
}

/* ProfileHeader.profileType is a UTF8String (SIZE (1..100)) (PEDefinitions). */
static bool profile_type_ok(const char *t) {
  size_t n = strlen(t);
  return n >= 1 && n <= RSP_SMDP_PROFILE_TYPE_MAX && rsp_utf8_valid((const uint8_t *)t, n, false);
}

rsp_err_t rsp_smdp_profile_generate(const char *iccid, const char *imsi, struct rsp_buf *der) {
  return rsp_smdp_profile_generate_typed(iccid, imsi, NULL, der);
}

rsp_err_t rsp_smdp_profile_generate_typed(const char *iccid, const char *imsi,
                                          const char *profile_type, struct rsp_buf *der) {
  char canon[RSP_ICCID_MAX_DIGITS + 1], padded[2 * RSP_ICCID_LEN + 1];
  uint8_t header[RSP_ICCID_LEN], ef_iccid[RSP_ICCID_LEN], imsi_ef[EF_IMSI_LEN];
  struct rsp_der_writer w;
  if (!iccid || !imsi || !der) return RSP_E_INVALID_ARG;
  if (!profile_type) profile_type = TEST_PROFILE_TYPE;
  size_t start = der->len;
  if (rsp__smdp_iccid_canon(iccid, canon) != RSP_OK || ef_imsi(imsi, imsi_ef) != RSP_OK ||
      !profile_type_ok(profile_type))
    return RSP_E_INVALID_ARG;
  memset(padded, 'F', 2 * RSP_ICCID_LEN); /* 18 or 19 digits: F up to 20 */
  memcpy(padded, canon, strlen(canon));
  padded[2 * RSP_ICCID_LEN] = '\0';
  rsp_err_t rc = rsp_hex_decode(padded, header, sizeof header, NULL);
  if (rc == RSP_OK) rc = rsp_iccid_encode(canon, ef_iccid);
  if (rc != RSP_OK) return rc;
  rsp_der_writer_init(&w, der);
  put_header(&w, header, profile_type);
  put_non_standard(&w, 1, ef_iccid, sizeof ef_iccid);
  put_non_standard(&w, 2, imsi_ef, sizeof imsi_ef);
  rsp_der_begin(&w, TAG_PE_END);
  rsp_der_begin(&w, TAG_PE_COMMON_HEADER);
  rsp_der_put_int64(&w, TAG_PEHEADER_IDENTIFICATION, 3);
  rsp_der_end(&w);
  rsp_der_end(&w);
  if ((rc = rsp_der_writer_finish(&w)) != RSP_OK) der->len = start;
  return rc;
}

/* ---- the service's profiles --------------------------------------------------------------------
 */

/* Copies s into out (size bytes with the NUL) without cutting a UTF-8 character. */
static void utf8_copy(char *out, size_t size, const char *s) {
  size_t n = strlen(s);
  if (n >= size) {
    n = size - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  memcpy(out, s, n);
  out[n] = '\0';
}

static rsp_err_t row_fill(const struct rsp_smdp_profile_new *p, struct rsp__smdp_profile_row *r) {
  const char *spn = p->service_provider_name ? p->service_provider_name : DEFAULT_SPN;
  memset(r, 0, sizeof *r);
  if (!p->profile_type || !p->profile_type[0] ||
      strlen(p->profile_type) > RSP_SMDP_PROFILE_TYPE_MAX || strlen(spn) > RSP_SMDP_SPN_MAX ||
      (p->profile_name && strlen(p->profile_name) > RSP_SMDP_PROFILE_NAME_MAX) ||
      !p->upp.p == !p->upp_path || rsp__smdp_iccid_canon(p->iccid, r->iccid) != RSP_OK)
    return RSP_E_INVALID_ARG;
  memcpy(r->profile_type, p->profile_type, strlen(p->profile_type) + 1);
  memcpy(r->spn, spn, strlen(spn) + 1);
  utf8_copy(r->name, sizeof r->name, p->profile_name ? p->profile_name : p->profile_type);
  r->state = RSP_SMDP_PROFILE_AVAILABLE;
  return RSP_OK;
}

/* Stores a profile whose package bytes were read (from the caller or its file). */
static rsp_err_t profile_store(struct rsp_smdp_service *svc, const struct rsp_smdp_profile_new *p,
                               struct rsp_slice bytes) {
  struct rsp__smdp_profile_row r;
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  rsp_err_t rc = row_fill(p, &r);
  if (rc != RSP_OK) return rc;
  if (rsp_smdp_profile_package_info(bytes.p, bytes.len, iccid, NULL, 0) != RSP_OK ||
      strcmp(iccid, r.iccid) != 0) {
    rsp_log(RSP_LOG_WARN, RSP__SMDP_COMP, "profile %s: not a profile package with this ICCID",
            r.iccid);
    return RSP_E_INVALID_ARG;
  }
  if ((rc = rsp__smdp_begin(svc->db)) != RSP_OK) return rc;
  rc = rsp__smdp_profile_insert(svc->db, &r, p->upp, p->upp_path, rsp__smdp_now(svc));
  rc = rsp__smdp_end(svc->db, rc);
  if (rc == RSP_OK)
    rsp_log(RSP_LOG_INFO, RSP__SMDP_COMP, "profile %s (%s) added", r.iccid, r.profile_type);
  return rc;
}

rsp_err_t rsp_smdp_service_profile_add(struct rsp_smdp_service *svc,
                                       const struct rsp_smdp_profile_new *p) {
  struct rsp_buf file;
  if (!svc || !p) return RSP_E_INVALID_ARG;
  if (!p->upp_path) return profile_store(svc, p, p->upp);
  rsp_buf_init(&file, RSP_SMDP_UPP_MAX);
  rsp_err_t rc = rsp__smdp_read_file(p->upp_path, &file);
  if (rc == RSP_OK) rc = profile_store(svc, p, rsp_msg_slice(file.data, file.len));
  rsp_buf_free(&file);
  return rc;
}

static int der_file(const struct dirent *d) {
  size_t n = strlen(d->d_name);
  return n > 4 && strcmp(d->d_name + n - 4, ".der") == 0;
}

/* One file of the directory, stored by its absolute path. */
static rsp_err_t load_one(struct rsp_smdp_service *svc, const char *dir, const char *name,
                          const char *type) {
  char path[RSP__SMDP_UPP_PATH_MAX], real[RSP__SMDP_UPP_PATH_MAX];
  char iccid[RSP_ICCID_MAX_DIGITS + 1], header_type[RSP_SMDP_PROFILE_TYPE_MAX + 1];
  struct rsp_buf file;
  int n = snprintf(path, sizeof path, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= sizeof path || !realpath(path, real)) return RSP_E_IO;
  rsp_buf_init(&file, RSP_SMDP_UPP_MAX);
  rsp_err_t rc = rsp__smdp_read_file(real, &file);
  if (rc == RSP_OK)
    rc = rsp_smdp_profile_package_info(file.data, file.len, iccid, header_type, sizeof header_type);
  if (rc == RSP_OK) {
    struct rsp_smdp_profile_new p = {.iccid = iccid,
                                     .profile_type = type             ? type
                                                     : header_type[0] ? header_type
                                                                      : DEFAULT_TYPE,
                                     .upp_path = real};
    rc = profile_store(svc, &p, rsp_msg_slice(file.data, file.len));
  }
  rsp_buf_free(&file);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_WARN, RSP__SMDP_COMP, "%s skipped: %s", real,
            rc == RSP_E_EXISTS ? "its ICCID is known already" : rsp_strerror(rc));
  return rc;
}

rsp_err_t rsp_smdp_service_profiles_load_dir(struct rsp_smdp_service *svc, const char *dir,
                                             const char *profile_type, size_t *added,
                                             size_t *skipped) {
  struct dirent **names = NULL;
  size_t a = 0, s = 0;
  rsp_err_t rc = RSP_OK;
  if (!svc || !dir) return RSP_E_INVALID_ARG;
  int n = scandir(dir, &names, der_file, alphasort);
  if (n < 0) {
    rsp_log(RSP_LOG_ERROR, RSP__SMDP_COMP, "cannot list %s", dir);
    return RSP_E_IO;
  }
  for (int i = 0; i < n; i++) {
    rsp_err_t one = rc == RSP_OK ? load_one(svc, dir, names[i]->d_name, profile_type) : rc;
    if (one == RSP_OK)
      a++;
    else if (one == RSP_E_EXISTS || one == RSP_E_INVALID_ARG || one == RSP_E_IO ||
             one == RSP_E_BUF_CAP)
      s++;
    else
      rc = one;
    free(names[i]);
  }
  free(names);
  if (added) *added = a;
  if (skipped) *skipped = s;
  return rc;
}

rsp_err_t rsp_smdp_service_profile_get(struct rsp_smdp_service *svc, const char *iccid,
                                       struct rsp_smdp_profile_info *out) {
  struct rsp__smdp_profile_row r;
  char canon[RSP_ICCID_MAX_DIGITS + 1];
  if (!svc || !iccid || !out) return RSP_E_INVALID_ARG;
  memset(out, 0, sizeof *out);
  rsp_err_t rc = rsp__smdp_iccid_canon(iccid, canon);
  if (rc == RSP_OK) rc = rsp__smdp_profile_get(svc->db, canon, &r);
  if (rc != RSP_OK) return rc;
  memcpy(out->iccid, r.iccid, sizeof out->iccid);
  memcpy(out->profile_type, r.profile_type, sizeof out->profile_type);
  out->state = r.state;
  return RSP_OK;
}
