/* openrsp drivers: the IPA's ESipa port over CoAP/DTLS (SGP.32 §6.2, docs/adr/0009).
 *
 * Each EsipaMessageFromIpaToEim (DER, the ASN.1 binding) is one confirmable POST to the eIM's
 * coaps:// URL (default path gsma/rsp2/asn1), Content-Format 42; libcoap splits and joins large
 * bodies block-wise (RFC 7959). The answer is the payload of a 2.05 Content or 2.04 Changed (or
 * nothing when there is none). The DTLS session is kept between exchanges. */
#ifndef RSP_DRIVERS_COAP_H
#define RSP_DRIVERS_COAP_H

#include <stddef.h>
#include <stdint.h>

#include "rsp/core/error.h"
#include "rsp/ipa/ipa.h"

/* An ESipa answer is a bound profile package at most, as with HTTPS. */
#define RSP_ESIPA_COAP_MAX_RESPONSE (4u << 20)
/* Longest DTLS-PSK key (libcoap 4.3's limit, RSP_NET_COAP_PSK_KEY_MAX). */
#define RSP_ESIPA_COAP_PSK_KEY_MAX 64

struct rsp_esipa_coap_options {
  const char *url; /* coaps://host[:port]/gsma/rsp2/asn1 */
  /* DTLS-PSK (identity and key), or certificates: ca_file and/or pinned_spki, with an optional
   * client certificate; see rsp_net_coap_client_options (never unauthenticated). */
  const char *psk_identity;
  const uint8_t *psk_key;
  size_t psk_key_len;
  const char *ca_file;
  const uint8_t *pinned_spki;
  size_t pinned_spki_len;
  const char *cert_file;
  const char *key_file;
  unsigned timeout_ms; /* one exchange; 0: lib/net's default (30 s) */
};

struct rsp_esipa_coap;

/* The port table; its ctx is a struct rsp_esipa_coap. Errors, each logged with the code or
 * cause and the URL: RSP_E_STATE (the eIM answered another code than 2.04/2.05), RSP_E_TLS,
 * RSP_E_NET, RSP_E_BUF_CAP. */
extern const struct rsp_ipa_esipa_ops rsp_esipa_coap_ops;

/* RSP_E_INVALID_ARG (no coaps:// URL, no credentials), RSP_E_NET (host does not resolve),
 * RSP_E_NOMEM. */
rsp_err_t rsp_esipa_coap_new(const struct rsp_esipa_coap_options *opt, struct rsp_esipa_coap **out);
void rsp_esipa_coap_free(struct rsp_esipa_coap *e); /* NULL-safe */

/* Reads a key file for --coap-psk-key-file: the key in hex on one line (whitespace ignored),
 * 1 to 64 bytes; the file must not be readable by group or others. RSP_E_IO, RSP_E_INVALID_ARG. */
rsp_err_t rsp_esipa_coap_read_key(const char *path, uint8_t *key, size_t size, size_t *len);

#endif
