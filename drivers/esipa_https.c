/* ESipa port over HTTPS, ASN.1 binding (SGP.32 §6.1, notes 2.3): every EsipaMessageFromIpaToEim
 * is POSTed to the eIM's URL (https://<eimFqdn>/gsma/rsp2/asn1) with Content-Type
 * application/x-gsma-rsp-asn1 and X-Admin-Protocol gsma/rsp/v2.1.0; the answer is the
 * EsipaMessageFromEimToIpa (200), or nothing (204, or an empty 200 as some eIMs send for
 * HandleNotification). Also the helpers that derive the URL and the TLS trust from the card's
 * EimConfigurationData, and the address check both HTTPS ports use. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/drivers/https.h"
#include "rsp/msg/json.h"
#include "rsp/net/http.h"

#define HTTP_OK 200
#define HTTP_NO_CONTENT 204
#define DNS_NAME_MAX 253 /* RFC 1035 §2.3.4, as text without the final dot */
#define PREVIEW_MAX 96   /* bytes of a refused answer quoted in the log */

struct rsp_esipa_https {
  struct rsp_net_client *client;
  char *url;
  char *admin_protocol;
  bool json;
  size_t origin_len; /* scheme://host[:port] of url, for the JSON binding's paths */
};

/* ---- addresses ------------------------------------------------------------------------------- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_name_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.';
}

static bool is_ipv6_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/* ":PORT": 1 to 5 decimal digits, 1..65535. */
static bool port_valid(const char *s, size_t len) {
  unsigned long v = 0;
  if (len < 2 || len > 6 || s[0] != ':') return false;
  for (size_t i = 1; i < len; i++) {
    if (!is_digit(s[i])) return false;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  return v >= 1 && v <= 65535;
}

bool rsp_https_address_valid(const char *s, size_t len) {
  size_t host = 0;
  if (!s || len == 0) return false;
  if (s[0] == '[') {
    size_t inner = 0;
    while (1 + inner < len && is_ipv6_char(s[1 + inner])) inner++;
    if (inner == 0 || 1 + inner >= len || s[1 + inner] != ']') return false;
    host = inner + 2;
  } else {
    while (host < len && is_name_char(s[host])) host++;
    if (host == 0 || host > DNS_NAME_MAX || s[0] == '-' || s[0] == '.') return false;
  }
  return host == len || port_valid(s + host, len - host);
}

rsp_err_t rsp_esipa_https_url_from_fqdn(const char *fqdn, size_t len, char *url, size_t size) {
  if (!fqdn || !url || !rsp_https_address_valid(fqdn, len)) return RSP_E_INVALID_ARG;
  int n = snprintf(url, size, "https://%.*s%s", (int)len, fqdn, RSP_ESIPA_HTTPS_PATH);
  return n > 0 && (size_t)n < size ? RSP_OK : RSP_E_BUF_SMALL;
}

/* ---- trust from the card --------------------------------------------------------------------- */

/* EimConfigurationData.trustedPublicKeyDataTls CHOICE { trustedEimPkTls [0]
 * SubjectPublicKeyInfo, trustedCertificateTls [1] Certificate }: the codec keeps both in their
 * natural DER form (30 ...), which is what lib/net takes as a pin or as an anchor. */
rsp_err_t rsp_esipa_https_trust_from_eim_config(const struct rsp_msg_eim_configuration_data *cfg,
                                                struct rsp_esipa_https_options *opt) {
  const struct rsp_msg_eim_configuration_data_trusted_public_key_data_tls *t;
  if (!cfg || !opt) return RSP_E_INVALID_ARG;
  if (!(t = cfg->trusted_public_key_data_tls)) return RSP_E_NOT_FOUND;
  bool pin =
      t->which == RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_EIM_PK_TLS;
  bool cert = t->which ==
              RSP_MSG_EIM_CONFIGURATION_DATA_TRUSTED_PUBLIC_KEY_DATA_TLS_TRUSTED_CERTIFICATE_TLS;
  if (t->which == RSP_MSG_ALT_UNKNOWN) return RSP_E_UNSUPPORTED;
  if (!pin && !cert) return RSP_E_INVALID_ARG;
  struct rsp_slice v = pin ? t->u.trusted_eim_pk_tls : t->u.trusted_certificate_tls;
  if (!v.p || !v.len) return RSP_E_INVALID_ARG;
  opt->pinned_spki = pin ? v.p : NULL;
  opt->pinned_spki_len = pin ? v.len : 0;
  opt->ca_pem = cert ? v.p : NULL;
  opt->ca_pem_len = cert ? v.len : 0;
  return RSP_OK;
}

/* ---- the transport --------------------------------------------------------------------------- */

/* A header value we put on the wire: printable ASCII only (no CR/LF that would start another
 * header). */
static bool header_value_ok(const char *v) {
  for (; *v; v++)
    if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7F) return false;
  return true;
}

static bool url_ok(const char *url) {
  if (!url || strncasecmp(url, "https://", 8) != 0 || strlen(url) >= RSP_HTTPS_URL_MAX)
    return false;
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F) return false;
  return true;
}

/* "media/type" with optional parameters (";charset=..."), compared without case. */
static bool content_type_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  while (*ct == ' ' || *ct == '\t') ct++;
  return strncasecmp(ct, want, n) == 0 &&
         (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* The printable start of a refused answer, for its log line. */
static void preview(const struct rsp_buf *b, char *out, size_t size) {
  size_t n = 0;
  for (size_t i = 0; i < b->len && n + 1 < size; i++)
    out[n++] = b->data[i] >= 0x20 && b->data[i] < 0x7F ? (char)b->data[i] : '.';
  out[n] = '\0';
}

/* 200 with a body is the answer (*has_body); 204 and an empty 200 are none; everything else is a
 * refusal. */
static rsp_err_t check_answer(const char *url, const struct rsp_net_client_response *res,
                              const char *content_type, bool *has_body) {
  char text[PREVIEW_MAX + 1];
  *has_body = false;
  if (res->status == HTTP_NO_CONTENT || (res->status == HTTP_OK && res->body.len == 0)) {
    RSP_LOG_D("esipa", "POST %s: HTTP %d, no answer", url, res->status);
    return RSP_OK;
  }
  if (res->status != HTTP_OK) {
    preview(&res->body, text, sizeof text);
    RSP_LOG_W("esipa", "eIM refused the message: HTTP %d from %s%s%s", res->status, url,
              text[0] ? ": " : "", text);
    return RSP_E_STATE;
  }
  if (!content_type_is(res->content_type, content_type)) {
    RSP_LOG_W("esipa", "eIM answer refused: HTTP 200 from %s with Content-Type '%s', not %s", url,
              res->content_type, content_type);
    return RSP_E_STATE;
  }
  RSP_LOG_D("esipa", "POST %s: HTTP 200, %zu bytes (%s)", url, res->body.len,
            res->admin_protocol[0] ? res->admin_protocol : "no X-Admin-Protocol");
  *has_body = true;
  return RSP_OK;
}

/* One POST; the answer's checks as above. */
static rsp_err_t post(struct rsp_esipa_https *e, const char *url, const char *content_type,
                      const void *body, size_t len, struct rsp_net_client_response *res,
                      bool *has_body) {
  const struct rsp_net_header headers[] = {
      {"Content-Type", content_type},
      {"X-Admin-Protocol", e->admin_protocol},
  };
  rsp_err_t rc = rsp_net_client_post(e->client, url, headers, sizeof headers / sizeof *headers,
                                     body, len, res);
  if (rc != RSP_OK) {
    RSP_LOG_W("esipa", "POST %s failed: %s (%s)", url, rsp_strerror(rc),
              res->error[0] ? res->error : "no detail");
    return rc;
  }
  /* the JSON answer is application/json, with or without ";charset=UTF-8" */
  return check_answer(url, res, e->json ? "application/json" : content_type, has_body);
}

/* The JSON binding: the message as its function's JSON, the JSON answer as ASN.1. */
static rsp_err_t exchange_json(struct rsp_esipa_https *e, const uint8_t *req, size_t len,
                               struct rsp_buf *resp, struct rsp_net_client_response *res) {
  struct rsp_buf json;
  char url[RSP_HTTPS_URL_MAX + 64];
  const char *function = NULL;
  bool has_body = false;
  rsp_buf_init(&json, RSP_MSG_JSON_MAX_BODY);
  rsp_err_t rc = rsp_esipa_json_from_ipa(req, len, &function, &json);
  if (rc != RSP_OK) {
    RSP_LOG_W("esipa", "message not expressible in the JSON binding: %s", rsp_strerror(rc));
    goto out;
  }
  snprintf(url, sizeof url, "%.*s" RSP_ESIPA_JSON_PREFIX "%s", (int)e->origin_len, e->url,
           function);
  rc = post(e, url, RSP_ESIPA_JSON_CONTENT_TYPE, json.data, json.len, res, &has_body);
  if (rc == RSP_OK && !has_body && strcmp(function, "handleNotification") != 0) {
    RSP_LOG_W("esipa", "eIM answered %s without a body", url);
    rc = RSP_E_STATE;
  }
  if (rc == RSP_OK && has_body &&
      (rc = rsp_esipa_json_to_ipa(function, (const char *)res->body.data, res->body.len, resp)) !=
          RSP_OK)
    RSP_LOG_W("esipa", "eIM's JSON answer from %s refused: %s", url, rsp_strerror(rc));
out:
  rsp_buf_free(&json);
  return rc;
}

static rsp_err_t esipa_exchange(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp) {
  struct rsp_esipa_https *e = ctx;
  struct rsp_net_client_response res;
  bool has_body = false;
  if (!e || (len && !req) || !resp) return RSP_E_INVALID_ARG;
  memset(&res, 0, sizeof res);
  rsp_err_t rc;
  if (e->json) {
    rc = exchange_json(e, req, len, resp, &res);
  } else {
    rc = post(e, e->url, RSP_ESIPA_HTTPS_CONTENT_TYPE, req, len, &res, &has_body);
    if (rc == RSP_OK && has_body) rc = rsp_buf_append(resp, res.body.data, res.body.len);
  }
  rsp_net_client_response_free(&res);
  return rc;
}

const struct rsp_ipa_esipa_ops rsp_esipa_https_ops = {"esipa-https", esipa_exchange};

rsp_err_t rsp_esipa_https_new(const struct rsp_esipa_https_options *opt,
                              struct rsp_esipa_https **out) {
  rsp_err_t rc = RSP_E_INVALID_ARG;
  struct rsp_esipa_https *e = NULL;
  if (!opt || !out || !url_ok(opt->url)) goto out;
  const char *admin = opt->admin_protocol ? opt->admin_protocol : RSP_ESIPA_HTTPS_ADMIN_PROTOCOL;
  const char *agent = opt->user_agent ? opt->user_agent : RSP_ESIPA_HTTPS_USER_AGENT;
  if (!admin[0] || !header_value_ok(admin) || !header_value_ok(agent)) goto out;
  rc = RSP_E_NOMEM;
  if (!(e = rsp_calloc(1, sizeof *e)) || !(e->url = rsp_strdup(opt->url)) ||
      !(e->admin_protocol = rsp_strdup(admin)))
    goto out;
  e->json = opt->json_binding;
  e->origin_len = strcspn(e->url + 8, "/") + 8; /* after "https://" */
  struct rsp_net_client_options o = {.ca_file = opt->ca_file,
                                     .ca_pem = opt->ca_pem,
                                     .ca_pem_len = opt->ca_pem_len,
                                     .pinned_spki = opt->pinned_spki,
                                     .pinned_spki_len = opt->pinned_spki_len,
                                     .cert_file = opt->cert_file,
                                     .key_file = opt->key_file,
                                     .timeout_ms = opt->timeout_ms,
                                     .max_response_body = RSP_ESIPA_HTTPS_MAX_RESPONSE,
                                     .user_agent = agent};
  if ((rc = rsp_net_client_new(&o, &e->client)) != RSP_OK) {
    RSP_LOG_E("esipa", "ESipa transport to %s: %s", opt->url, rsp_strerror(rc));
    goto out;
  }
  *out = e;
  e = NULL;
out:
  rsp_esipa_https_free(e);
  return rc;
}

void rsp_esipa_https_free(struct rsp_esipa_https *e) {
  if (!e) return;
  rsp_net_client_destroy(e->client);
  rsp_free(e->url);
  rsp_free(e->admin_protocol);
  rsp_free(e);
}

const char *rsp_esipa_https_url(const struct rsp_esipa_https *e) { return e ? e->url : ""; }
