/* openrsp: X.509 certificates for RSP (SGP.22 §4.5.2) and the store of trusted CIs.
 *
 * A certificate keeps the exact DER bytes it was parsed from: they are what the
 * eUICC and the SM-DP+ exchange (CERT.EUICC.ECDSA, CERT.DPauth.ECDSA ...) and what
 * gets forwarded, so they are never re-encoded. OpenSSL is used for the decoding
 * and for the signature arithmetic only; the RSP path rules live in chain.c.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crypto_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/der/der.h"
#include "x509_internal.h"

/* A PEM file holds the DER base64-encoded plus armour lines; 2x the DER cap is plenty. */
#define CERT_FILE_MAX (2 * RSP_CERT_DER_MAX + 1024)
/* No deployment has more than a handful of CIs (GSMA, test CIs); the cap bounds the array. */
#define CI_STORE_MAX 64

struct rsp_cert {
  X509 *x509;
  uint8_t *der;
  size_t der_len;
  enum rsp_cert_role role; /* decoded once: the certificate is immutable after parse */
};

struct rsp_ci_store {
  struct rsp_cert **certs;
  size_t n;
  size_t size;
};

const char *rsp_cert_role_name(enum rsp_cert_role role) {
  switch (role) {
  case RSP_ROLE_CI:
    return "CI";
  case RSP_ROLE_EUICC:
    return "eUICC";
  case RSP_ROLE_EUM:
    return "EUM";
  case RSP_ROLE_DP_TLS:
    return "SM-DP+ TLS";
  case RSP_ROLE_DP_AUTH:
    return "SM-DP+ auth";
  case RSP_ROLE_DP_PB:
    return "SM-DP+ pb";
  case RSP_ROLE_DS_TLS:
    return "SM-DS TLS";
  case RSP_ROLE_DS_AUTH:
    return "SM-DS auth";
  case RSP_ROLE_UNKNOWN:
    break;
  }
  return "unknown";
}

X509 *rsp__cert_x509(const struct rsp_cert *cert) { return cert ? cert->x509 : NULL; }

void rsp__keyid_hex(const struct rsp_keyid *id, char *out, size_t out_size) {
  size_t n = id->len;
  if (out_size == 0) return;
  if (n > (out_size - 1) / 2) n = (out_size - 1) / 2;
  if (rsp_hex_encode(id->id, n, out, out_size) != RSP_OK) out[0] = 0;
}

bool rsp__keyid_equal(const struct rsp_keyid *a, const uint8_t *b, size_t b_len) {
  return a->len == b_len && memcmp(a->id, b, b_len) == 0;
}

/* ---- parsing ------------------------------------------------------------------------------- */

/* The first role policy (2.23.146.1.2.1.n) in certificatePolicies. SGP.22 §4.5.2.1 gives every
 * RSP certificate exactly one; a certificate without one is not an RSP certificate. */
static enum rsp_cert_role find_role(X509 *x) {
  enum rsp_cert_role role = RSP_ROLE_UNKNOWN;
  CERTIFICATEPOLICIES *pols = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
  const size_t plen = strlen(RSP_ROLE_OID_PREFIX);

  for (int i = 0; pols && i < sk_POLICYINFO_num(pols) && role == RSP_ROLE_UNKNOWN; i++) {
    char oid[80];
    const POLICYINFO *pi = sk_POLICYINFO_value(pols, i);
    int n = OBJ_obj2txt(oid, sizeof(oid), pi->policyid, 1);
    if (n <= 0 || (size_t)n >= sizeof(oid) || strncmp(oid, RSP_ROLE_OID_PREFIX, plen) != 0)
      continue;
    const char *arc = oid + plen;
    if (arc[0] >= '0' && arc[0] <= '7' && arc[1] == 0) role = (enum rsp_cert_role)(arc[0] - '0');
  }
  CERTIFICATEPOLICIES_free(pols);
  ERR_clear_error();
  return role;
}

/* DER framing is checked by our own strict reader first: OpenSSL's d2i accepts some BER
 * (indefinite lengths, non-minimal lengths) that SGP.22 §5 forbids on the wire. */
static rsp_err_t check_der(const uint8_t *der, size_t len) {
  struct rsp_der_tlv tlv;
  if (len == 0 || len > RSP_CERT_DER_MAX) return RSP_E_CERT_PARSE;
  if (rsp_der_parse_one(der, len, &tlv) != RSP_OK || tlv.tag != RSP_DER_SEQUENCE)
    return RSP_E_CERT_PARSE;
  if (rsp_der_validate_tree(der, len) != RSP_OK) return RSP_E_CERT_PARSE;
  return RSP_OK;
}

rsp_err_t rsp_cert_parse(const uint8_t *der, size_t len, struct rsp_cert **out) {
  rsp_err_t rc = RSP_E_INTERNAL;
  struct rsp_cert *cert = NULL;
  const uint8_t *p = der;

  if (!der || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if ((rc = check_der(der, len)) != RSP_OK) return rc;
  cert = rsp_calloc(1, sizeof(*cert));
  if (!cert) return RSP_E_NOMEM;
  cert->x509 = d2i_X509(NULL, &p, (long)len);
  if (!cert->x509 || p != der + len) {
    rc = RSP_E_CERT_PARSE;
    goto out;
  }
  /* EXFLAG_INVALID covers malformed or duplicated extensions; a certificate whose SKI, AKI or
   * constraints cannot be read must not take part in a chain. */
  if ((X509_get_extension_flags(cert->x509) & EXFLAG_INVALID) || !X509_get0_pubkey(cert->x509)) {
    rc = RSP_E_CERT_PARSE;
    goto out;
  }
  cert->der = rsp_memdup(der, len);
  if (!cert->der) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  cert->der_len = len;
  cert->role = find_role(cert->x509);
  *out = cert;
  cert = NULL;
  rc = RSP_OK;
out:
  ERR_clear_error();
  rsp_cert_free(cert);
  return rc;
}

void rsp_cert_free(struct rsp_cert *cert) {
  if (!cert) return;
  X509_free(cert->x509);
  rsp_free(cert->der);
  rsp_free(cert);
}

static rsp_err_t read_file(const char *path, uint8_t **data, size_t *len) {
  rsp_err_t rc = RSP_E_IO;
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t n;

  if (!f) return RSP_E_IO;
  buf = rsp_malloc(CERT_FILE_MAX + 1);
  if (!buf) {
    rc = RSP_E_NOMEM;
    goto out;
  }
  n = fread(buf, 1, CERT_FILE_MAX + 1, f);
  if (ferror(f)) goto out;
  if (n > CERT_FILE_MAX) {
    rc = RSP_E_BUF_CAP;
    goto out;
  }
  *data = buf;
  *len = n;
  buf = NULL;
  rc = RSP_OK;
out:
  rsp_free(buf);
  fclose(f);
  return rc;
}

/* PEM: the base64 body of the first CERTIFICATE block is decoded and then parsed like any DER,
 * so the kept bytes are exactly the certificate's. */
static rsp_err_t parse_pem(const uint8_t *data, size_t len, struct rsp_cert **out) {
  rsp_err_t rc = RSP_E_CERT_PARSE;
  BIO *bio = BIO_new_mem_buf(data, (int)len);
  char *name = NULL, *header = NULL;
  unsigned char *der = NULL;
  long der_len = 0;

  if (!bio) return RSP_E_NOMEM;
  while (PEM_read_bio(bio, &name, &header, &der, &der_len) == 1) {
    if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0) {
      rc = rsp_cert_parse(der, (size_t)der_len, out);
      break;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    name = header = NULL;
    der = NULL;
  }
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(der);
  BIO_free(bio);
  ERR_clear_error();
  return rc;
}

static bool looks_like_pem(const uint8_t *data, size_t len) {
  static const char armour[] = "-----BEGIN ";
  for (size_t i = 0; i + sizeof(armour) - 1 <= len; i++)
    if (memcmp(data + i, armour, sizeof(armour) - 1) == 0) return true;
  return false;
}

rsp_err_t rsp_cert_load_file(const char *path, struct rsp_cert **out) {
  rsp_err_t rc;
  uint8_t *data = NULL;
  size_t len = 0;

  if (!path || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  if ((rc = read_file(path, &data, &len)) != RSP_OK) return rc;
  /* A DER certificate starts with 30 82; PEM armour is text, possibly after comments. */
  if (len > 0 && data[0] != RSP_DER_SEQUENCE && looks_like_pem(data, len))
    rc = parse_pem(data, len, out);
  else
    rc = rsp_cert_parse(data, len, out);
  rsp_free(data);
  return rc;
}

/* ---- accessors ----------------------------------------------------------------------------- */

struct rsp_slice rsp_cert_der(const struct rsp_cert *cert) {
  struct rsp_slice s = {NULL, 0};
  if (cert) {
    s.p = cert->der;
    s.len = cert->der_len;
  }
  return s;
}

static rsp_err_t copy_keyid(const ASN1_OCTET_STRING *os, struct rsp_keyid *out) {
  int n;
  memset(out, 0, sizeof(*out));
  if (!os) return RSP_E_NOT_FOUND;
  n = ASN1_STRING_length(os);
  if (n <= 0 || (size_t)n > RSP_KEYID_MAX) return RSP_E_CERT_PARSE;
  memcpy(out->id, ASN1_STRING_get0_data(os), (size_t)n);
  out->len = (size_t)n;
  return RSP_OK;
}

rsp_err_t rsp_cert_ski(const struct rsp_cert *cert, struct rsp_keyid *out) {
  if (!cert || !out) return RSP_E_INVALID_ARG;
  return copy_keyid(X509_get0_subject_key_id(cert->x509), out);
}

/* Only the keyIdentifier form of AKI is used in RSP (SGP.22 §4.5.2.1); an AKI that names the
 * issuer by name and serial only counts as absent. */
rsp_err_t rsp_cert_aki(const struct rsp_cert *cert, struct rsp_keyid *out) {
  if (!cert || !out) return RSP_E_INVALID_ARG;
  return copy_keyid(X509_get0_authority_key_id(cert->x509), out);
}

/* The key is duplicated because rsp__key_wrap normalises the EVP_PKEY it is given, and the one
 * inside the X509 is shared by every reader of this (immutable) certificate. */
rsp_err_t rsp_cert_public_key(const struct rsp_cert *cert, struct rsp_key **out) {
  rsp_err_t rc;
  EVP_PKEY *dup;

  if (!cert || !out) return RSP_E_INVALID_ARG;
  *out = NULL;
  dup = EVP_PKEY_dup(X509_get0_pubkey(cert->x509));
  if (!dup) {
    ERR_clear_error();
    return RSP_E_KEY_INVALID;
  }
  rc = rsp__key_wrap(dup, false, out);
  if (rc != RSP_OK) EVP_PKEY_free(dup);
  ERR_clear_error();
  return rc;
}

enum rsp_curve rsp_cert_curve(const struct rsp_cert *cert) {
  if (!cert) return RSP_CURVE_NONE;
  return rsp__curve_of(X509_get0_pubkey(cert->x509));
}

enum rsp_cert_role rsp_cert_role(const struct rsp_cert *cert) {
  return cert ? cert->role : RSP_ROLE_UNKNOWN;
}

rsp_err_t rsp__x509_name_get(const X509_NAME *name, int nid, char *out, size_t out_size) {
  rsp_err_t rc = RSP_E_CERT_PARSE;
  unsigned char *utf8 = NULL;
  int idx, n;

  if (!name || !out || out_size == 0) return RSP_E_INVALID_ARG;
  out[0] = 0;
  idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return RSP_E_NOT_FOUND;
  n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
  if (n < 0) goto out;
  if (memchr(utf8, 0, (size_t)n)) goto out; /* an embedded NUL would truncate comparisons */
  if ((size_t)n >= out_size) {
    rc = RSP_E_BUF_SMALL;
    goto out;
  }
  memcpy(out, utf8, (size_t)n);
  out[n] = 0;
  rc = RSP_OK;
out:
  OPENSSL_free(utf8);
  ERR_clear_error();
  return rc;
}

rsp_err_t rsp_cert_subject_serial(const struct rsp_cert *cert, char *out, size_t out_size) {
  if (!cert) return RSP_E_INVALID_ARG;
  return rsp__x509_name_get(X509_get_subject_name(cert->x509), NID_serialNumber, out, out_size);
}

rsp_err_t rsp_cert_registered_id(const struct rsp_cert *cert, uint8_t *out, size_t out_size,
                                 size_t *out_len) {
  rsp_err_t rc = RSP_E_NOT_FOUND;
  if (!cert) return RSP_E_INVALID_ARG;
  GENERAL_NAMES *names = X509_get_ext_d2i(cert->x509, NID_subject_alt_name, NULL, NULL);
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && rc == RSP_E_NOT_FOUND; i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != GEN_RID) continue;
    const unsigned char *data = OBJ_get0_data(gn->d.registeredID);
    size_t len = OBJ_length(gn->d.registeredID);
    if (len > out_size)
      rc = RSP_E_BUF_SMALL;
    else {
      memcpy(out, data, len);
      *out_len = len;
      rc = RSP_OK;
    }
  }
  GENERAL_NAMES_free(names);
  return rc;
}

/* Seconds since the epoch of an ASN1_TIME. The difference is taken in days and seconds from
 * 1970-01-01 so no time_t range limits apply (SGP.26 eUICC certificates end in year 7496). */
static rsp_err_t time_to_epoch(const ASN1_TIME *t, int64_t *out) {
  struct tm tm, epoch;
  int days = 0, secs = 0;

  memset(&epoch, 0, sizeof(epoch));
  epoch.tm_year = 70;
  epoch.tm_mday = 1;
  if (!t || !ASN1_TIME_to_tm(t, &tm) || !OPENSSL_gmtime_diff(&days, &secs, &epoch, &tm)) {
    ERR_clear_error();
    return RSP_E_CERT_PARSE;
  }
  *out = (int64_t)days * 86400 + secs;
  return RSP_OK;
}

rsp_err_t rsp_cert_validity(const struct rsp_cert *cert, int64_t *not_before, int64_t *not_after) {
  rsp_err_t rc;
  int64_t nb = 0, na = 0;

  if (!cert) return RSP_E_INVALID_ARG;
  if ((rc = time_to_epoch(X509_get0_notBefore(cert->x509), &nb)) != RSP_OK) return rc;
  if ((rc = time_to_epoch(X509_get0_notAfter(cert->x509), &na)) != RSP_OK) return rc;
  if (not_before) *not_before = nb;
  if (not_after) *not_after = na;
  return RSP_OK;
}

/* SGP.22 §4.5 fixes ecdsa-with-SHA256 for every RSP certificate; other algorithms are refused
 * outright rather than verified. X509_verify also requires the inner and outer signature
 * AlgorithmIdentifiers to be equal. */
rsp_err_t rsp_cert_verify_signature(const struct rsp_cert *cert, const struct rsp_cert *issuer) {
  int ok;

  if (!cert || !issuer) return RSP_E_INVALID_ARG;
  if (X509_get_signature_nid(cert->x509) != NID_ecdsa_with_SHA256) return RSP_E_UNSUPPORTED;
  ok = X509_verify(cert->x509, X509_get0_pubkey(issuer->x509));
  ERR_clear_error();
  return ok == 1 ? RSP_OK : RSP_E_CERT_SIG_INVALID;
}

/* "C=ES, O=RSP Test EUM, CN=EUM Test". Bytes outside ASCII are escaped so the line is safe for
 * any log sink. When out is too small the line is cut and RSP_E_BUF_SMALL returned. */
rsp_err_t rsp_cert_subject_string(const struct rsp_cert *cert, char *out, size_t out_size) {
  const unsigned long flags = XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ;
  rsp_err_t rc = RSP_E_NOMEM;
  BIO *bio;
  char *mem = NULL;
  long n;

  if (!cert || !out || out_size == 0) return RSP_E_INVALID_ARG;
  out[0] = 0;
  bio = BIO_new(BIO_s_mem());
  if (!bio) return RSP_E_NOMEM;
  if (X509_NAME_print_ex(bio, X509_get_subject_name(cert->x509), 0, flags) < 0) goto out;
  n = BIO_get_mem_data(bio, &mem);
  if (n < 0) goto out;
  rc = (size_t)n < out_size ? RSP_OK : RSP_E_BUF_SMALL;
  if ((size_t)n >= out_size) n = (long)out_size - 1;
  memcpy(out, mem, (size_t)n);
  out[n] = 0;
out:
  BIO_free(bio);
  ERR_clear_error();
  return rc;
}

/* ---- the CI store -------------------------------------------------------------------------- */

rsp_err_t rsp_ci_store_new(struct rsp_ci_store **out) {
  if (!out) return RSP_E_INVALID_ARG;
  *out = rsp_calloc(1, sizeof(**out));
  return *out ? RSP_OK : RSP_E_NOMEM;
}

/* What SGP.22 §4.5.2.1 asks of a CI certificate before it can anchor chains: the CI role
 * policy, self-issued and self-signed, a CA that may sign certificates, and a subjectKeyIdentifier
 * (euiccCiPKId and every AKI below it refer to the CI by that identifier). */
static rsp_err_t check_ci(const struct rsp_cert *cert) {
  X509 *x = cert->x509;
  uint32_t flags = X509_get_extension_flags(x);
  struct rsp_keyid ski;

  if (cert->role != RSP_ROLE_CI) return RSP_E_CERT_POLICY;
  if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0)
    return RSP_E_CERT_ISSUER_MISMATCH;
  if (rsp_cert_verify_signature(cert, cert) != RSP_OK) return RSP_E_CERT_SIG_INVALID;
  if (!(flags & EXFLAG_CA) || !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
    return RSP_E_CERT_CONSTRAINTS;
  if (rsp_cert_ski(cert, &ski) != RSP_OK) return RSP_E_CERT_CONSTRAINTS;
  return RSP_OK;
}

rsp_err_t rsp_ci_store_add(struct rsp_ci_store *store, struct rsp_cert *cert) {
  rsp_err_t rc;
  struct rsp_keyid ski;

  if (!store || !cert) return RSP_E_INVALID_ARG;
  if ((rc = check_ci(cert)) != RSP_OK) return rc;
  if (rsp_cert_ski(cert, &ski) != RSP_OK) return RSP_E_CERT_CONSTRAINTS;
  if (rsp_ci_store_find(store, ski.id, ski.len)) return RSP_E_EXISTS;
  if (store->n == store->size) {
    size_t size = store->size ? store->size * 2 : 4;
    struct rsp_cert **certs;
    if (store->n >= CI_STORE_MAX) return RSP_E_BUF_CAP;
    if (size > CI_STORE_MAX) size = CI_STORE_MAX;
    certs = rsp_realloc(store->certs, size * sizeof(*certs));
    if (!certs) return RSP_E_NOMEM;
    store->certs = certs;
    store->size = size;
  }
  store->certs[store->n++] = cert;
  return RSP_OK;
}

rsp_err_t rsp_ci_store_add_file(struct rsp_ci_store *store, const char *path) {
  rsp_err_t rc;
  struct rsp_cert *cert = NULL;

  if (!store || !path) return RSP_E_INVALID_ARG;
  if ((rc = rsp_cert_load_file(path, &cert)) != RSP_OK) return rc;
  rc = rsp_ci_store_add(store, cert);
  if (rc != RSP_OK) rsp_cert_free(cert);
  return rc;
}

const struct rsp_cert *rsp_ci_store_find(const struct rsp_ci_store *store, const uint8_t *ski,
                                         size_t ski_len) {
  if (!store || !ski) return NULL;
  for (size_t i = 0; i < store->n; i++) {
    struct rsp_keyid id;
    if (rsp_cert_ski(store->certs[i], &id) == RSP_OK && rsp__keyid_equal(&id, ski, ski_len))
      return store->certs[i];
  }
  return NULL;
}

size_t rsp_ci_store_count(const struct rsp_ci_store *store) { return store ? store->n : 0; }

const struct rsp_cert *rsp_ci_store_get(const struct rsp_ci_store *store, size_t i) {
  return store && i < store->n ? store->certs[i] : NULL;
}

void rsp_ci_store_free(struct rsp_ci_store *store) {
  if (!store) return;
  for (size_t i = 0; i < store->n; i++) rsp_cert_free(store->certs[i]);
  rsp_free(store->certs);
  rsp_free(store);
}
