/* openrsp drivers: the IPA's network ports on lib/net's HTTPS client (libcurl).
 *   - esipa_https: ESipa, ASN.1 binding (SGP.32 §6.1, notes 2.3): each EsipaMessageFromIpaToEim
 *     (DER) is POSTed to https://<eimFqdn>/gsma/rsp2/asn1 and the EsipaMessageFromEimToIpa comes
 *     back in the answer;
 *   - es9_https: ES9+, JSON binding (SGP.22 §6.5): a JSON body POSTed to
 *     https://<SM-DP+ address><path>, the answer handed back with its HTTP status.
 *
 * The server is always authenticated (include/rsp/net/http.h, struct rsp_net_client_options):
 * by a CA file or in-memory anchors (PEM, or the DER of one certificate, which may be the
 * server's own), by a pinned key (the DER SubjectPublicKeyInfo; alone, it replaces the chain and
 * host name checks, as SGP.32's trustedEimPkTls asks), or by both; with none of them the
 * transport is not created. Each transport keeps one lib/net client, so its connections and TLS
 * sessions are reused from one call to the next. Neither is thread-safe. */
#ifndef RSP_DRIVERS_HTTPS_H
#define RSP_DRIVERS_HTTPS_H

#include "rsp/ipa/download.h"
#include "rsp/ipa/ipa.h"
#include "rsp/msg/asn1.h"

/* The ESipa ASN.1 binding: one path for every function, and its headers (notes 2.3). The JSON
 * binding has a path per function under RSP_ESIPA_JSON_PREFIX, with the same headers but its
 * Content-Type. */
#define RSP_ESIPA_JSON_PREFIX "/gsma/rsp2/esipa/"
#define RSP_ESIPA_JSON_CONTENT_TYPE "application/json;charset=UTF-8"
#define RSP_ESIPA_HTTPS_PATH "/gsma/rsp2/asn1"
#define RSP_ESIPA_HTTPS_CONTENT_TYPE "application/x-gsma-rsp-asn1"
#define RSP_ESIPA_HTTPS_ADMIN_PROTOCOL "gsma/rsp/v2.1.0"
/* Hard cap on one eIM answer: packages are small, but the indirect download relays a bound
 * profile package over ESipa. */
#define RSP_ESIPA_HTTPS_MAX_RESPONSE (4u << 20)
/* Longest URL a transport builds (eIM URL, SM-DP+ address and path). */
#define RSP_HTTPS_URL_MAX 1024

/* ES9+ JSON binding headers (SGP.22 §6.5.1; rsp-smdp accepts any gsma/rsp/v2.x.y). */
#define RSP_ES9_HTTPS_CONTENT_TYPE "application/json;charset=UTF-8"
#define RSP_ES9_HTTPS_ADMIN_PROTOCOL "gsma/rsp/v2.2.0"
/* Hard cap on one SM-DP+ answer: the base64 JSON of a large bound profile package. */
#define RSP_ES9_HTTPS_MAX_RESPONSE (8u << 20)

/* Default User-Agents: SGP.32 v1.2 makes "gsma-rsp-ipad" mandatory on ESipa (notes 2.3); on
 * ES9+ the IPA is in the LPA's role and sends SGP.22's "gsma-rsp-lpad". */
#define RSP_ESIPA_HTTPS_USER_AGENT "gsma-rsp-ipad"
#define RSP_ES9_HTTPS_USER_AGENT "gsma-rsp-lpad"

/* True when s[0..len) is a plain server address "HOST[:PORT]" that can be put in a URL as it is:
 * a DNS name or IPv4 address (letters, digits, '-', '.'; at most 253 characters) or "[IPv6]",
 * and an optional decimal port 1..65535. eimFqdn and SM-DP+ addresses come from the card or an
 * activation code: nothing that changes a URL's meaning ('/', '@', '?', '#', '%', spaces, a
 * scheme) gets through. */
bool rsp_https_address_valid(const char *s, size_t len);

/* ---- ESipa ----------------------------------------------------------------------------------- */

struct rsp_esipa_https_options {
  const char *url; /* https:// URL of the eIM's ASN.1 binding; see rsp_esipa_https_url_from_fqdn */
  /* Trust (at least one of them; ca_file and ca_pem not both): see rsp_net_client_options.
   * rsp_esipa_https_trust_from_eim_config fills ca_pem or pinned_spki from the card. */
  const char *ca_file;
  const void *ca_pem;
  size_t ca_pem_len;
  const uint8_t *pinned_spki;
  size_t pinned_spki_len;
  const char *cert_file;      /* optional client certificate (PEM) for mutual TLS */
  const char *key_file;       /* its private key (PEM), required with cert_file */
  unsigned timeout_ms;        /* whole exchange; 0: lib/net's default (30 s) */
  const char *admin_protocol; /* X-Admin-Protocol; NULL: RSP_ESIPA_HTTPS_ADMIN_PROTOCOL */
  const char *user_agent;     /* NULL: RSP_ESIPA_HTTPS_USER_AGENT */
  /* The JSON binding (SGP.32 §6.4.1, notes 2.3a) instead of the ASN.1 one: each message goes to
   * <scheme://host[:port] of url>/gsma/rsp2/esipa/<function> as JSON (lib/msg's
   * rsp_esipa_json_from_ipa), and the JSON answer comes back as the ASN.1 message the IPA core
   * expects (rsp_esipa_json_to_ipa). */
  bool json_binding;
};

struct rsp_esipa_https;

/* The port table; its ctx is a struct rsp_esipa_https. An answer of 200 with a body must have
 * Content-Type application/x-gsma-rsp-asn1 (application/json with the JSON binding, converted)
 * and is appended to resp; 204 (or an empty 200) leaves resp empty (with the JSON binding only
 * for handleNotification; RSP_E_STATE when the eIM answered Failed there, or when its JSON answer
 * is not valid for the function). Errors, each logged with the status or cause and the URL:
 * RSP_E_STATE when the eIM answers another status or a 200 of another content type, RSP_E_TLS
 * (handshake, certificate, pinned key), RSP_E_NET (resolve, connect, reset, timeout), RSP_E_BUF_CAP
 * (answer too long). */
extern const struct rsp_ipa_esipa_ops rsp_esipa_https_ops;

/* Copies what it needs from opt. RSP_E_INVALID_ARG (no URL or not https://, no trust, unusable
 * anchors or pin, cert_file without key_file), RSP_E_NOMEM. */
rsp_err_t rsp_esipa_https_new(const struct rsp_esipa_https_options *opt,
                              struct rsp_esipa_https **out);
void rsp_esipa_https_free(struct rsp_esipa_https *e); /* NULL-safe */
/* The URL every message is POSTed to. */
const char *rsp_esipa_https_url(const struct rsp_esipa_https *e);

/* "https://<fqdn>/gsma/rsp2/asn1" from an eimFqdn of `len` bytes (EimConfigurationData, not
 * NUL-terminated): a DNS name or IPv4 address, or "[IPv6]", with an optional ":port" 1..65535;
 * anything else (a scheme, a path, '@', spaces ...) is RSP_E_INVALID_ARG. RSP_E_BUF_SMALL when
 * the URL does not fit in `size` bytes. */
rsp_err_t rsp_esipa_https_url_from_fqdn(const char *fqdn, size_t len, char *url, size_t size);

/* Fills the trust options from the card's EimConfigurationData.trustedPublicKeyDataTls
 * (SGP.32 notes 3.7, AddInitialEim): trustedEimPkTls (a SubjectPublicKeyInfo) becomes pinned_spki,
 * trustedCertificateTls (the eIM's or a CA's certificate, DER) becomes ca_pem; the other of the
 * two is cleared and ca_file is left as it is. The options then point into cfg, which must stay
 * alive until rsp_esipa_https_new (which copies them). RSP_E_NOT_FOUND when cfg has no
 * trustedPublicKeyDataTls, RSP_E_UNSUPPORTED for an unknown alternative, RSP_E_INVALID_ARG. */
rsp_err_t rsp_esipa_https_trust_from_eim_config(const struct rsp_msg_eim_configuration_data *cfg,
                                                struct rsp_esipa_https_options *opt);

/* ---- ES9+ ------------------------------------------------------------------------------------ */

struct rsp_es9_https_options {
  /* Trust anchors for the SM-DP+s' TLS certificates: one of the two is required. */
  const char *ca_file;
  const void *ca_pem;
  size_t ca_pem_len;
  unsigned timeout_ms;        /* whole call; 0: lib/net's default (30 s) */
  const char *admin_protocol; /* X-Admin-Protocol; NULL: RSP_ES9_HTTPS_ADMIN_PROTOCOL */
  const char *user_agent;     /* NULL: RSP_ES9_HTTPS_USER_AGENT */
};

struct rsp_es9_https;

/* The port table; its ctx is a struct rsp_es9_https. Every complete HTTP answer is RSP_OK with
 * its status in *http_status and its body appended to resp (what a status means is the IPA
 * core's business). An SM-DP+ address that is not a plain HOST[:PORT] (it comes from an
 * activation code) or a path that is not a plain absolute path is RSP_E_INVALID_ARG; transport
 * failures are RSP_E_TLS or RSP_E_NET, logged with the URL. */
extern const struct rsp_ipa_es9_ops rsp_es9_https_ops;

/* RSP_E_INVALID_ARG (no trust anchors, unusable anchors), RSP_E_NOMEM. */
rsp_err_t rsp_es9_https_new(const struct rsp_es9_https_options *opt, struct rsp_es9_https **out);
void rsp_es9_https_free(struct rsp_es9_https *e); /* NULL-safe */

#endif
