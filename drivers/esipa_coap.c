/* ESipa port over CoAP/DTLS, ASN.1 binding (SGP.32 §6.2, docs/adr/0009): every
 * EsipaMessageFromIpaToEim is POSTed to the eIM's coaps:// URL on lib/net's CoAP client; the
 * payload of a 2.05 Content or 2.04 Changed answer is the EsipaMessageFromEimToIpa (none when
 * empty). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/coap.h"
#include "rsp/net/coap.h"

#define KEY_FILE_MAX 512

struct rsp_esipa_coap {
  struct rsp_net_coap_client *client;
  char *url;
};

static rsp_err_t esipa_exchange(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp) {
  struct rsp_esipa_coap *e = ctx;
  struct rsp_buf answer;
  char code_text[24];
  int code = 0;
  if (!e || (len && !req) || !resp) return RSP_E_INVALID_ARG;
  rsp_buf_init(&answer, RSP_ESIPA_COAP_MAX_RESPONSE);
  rsp_err_t rc = rsp_net_coap_client_post(e->client, req, len, &answer, &code);
  snprintf(code_text, sizeof code_text, "%d.%02d", code / 100, code % 100);
  if (rc != RSP_OK) {
    RSP_LOG_W("esipa", "POST %s failed: %s", e->url, rsp_strerror(rc));
  } else if (code != RSP_NET_COAP_CONTENT && code != RSP_NET_COAP_CHANGED) {
    RSP_LOG_W("esipa", "eIM refused the message: CoAP %s from %s", code_text, e->url);
    rc = RSP_E_STATE;
  } else {
    RSP_LOG_D("esipa", "POST %s: CoAP %s, %zu bytes", e->url, code_text, answer.len);
    rc = answer.len ? rsp_buf_append(resp, answer.data, answer.len) : RSP_OK;
  }
  rsp_buf_free(&answer);
  return rc;
}

const struct rsp_ipa_esipa_ops rsp_esipa_coap_ops = {"esipa-coap", esipa_exchange};

rsp_err_t rsp_esipa_coap_new(const struct rsp_esipa_coap_options *opt,
                             struct rsp_esipa_coap **out) {
  rsp_err_t rc = RSP_E_INVALID_ARG;
  struct rsp_esipa_coap *e = NULL;
  if (!opt || !out || !opt->url) goto out;
  rc = RSP_E_NOMEM;
  if (!(e = rsp_calloc(1, sizeof *e)) || !(e->url = rsp_strdup(opt->url))) goto out;
  struct rsp_net_coap_client_options o = {.url = opt->url,
                                          .psk_identity = opt->psk_identity,
                                          .psk_key = opt->psk_key,
                                          .psk_key_len = opt->psk_key_len,
                                          .ca_file = opt->ca_file,
                                          .pinned_spki = opt->pinned_spki,
                                          .pinned_spki_len = opt->pinned_spki_len,
                                          .cert_file = opt->cert_file,
                                          .key_file = opt->key_file,
                                          .timeout_ms = opt->timeout_ms,
                                          .max_response_body = RSP_ESIPA_COAP_MAX_RESPONSE};
  if ((rc = rsp_net_coap_client_new(&o, &e->client)) != RSP_OK) {
    RSP_LOG_E("esipa", "ESipa transport to %s: %s", opt->url, rsp_strerror(rc));
    goto out;
  }
  *out = e;
  e = NULL;
out:
  rsp_esipa_coap_free(e);
  return rc;
}

void rsp_esipa_coap_free(struct rsp_esipa_coap *e) {
  if (!e) return;
  rsp_net_coap_client_destroy(e->client);
  rsp_free(e->url);
  rsp_free(e);
}

/* ---- the key file ---------------------------------------------------------------------------- */

/* The hex digits of `text`, whitespace (a final newline, line breaks) left out. */
static rsp_err_t parse_hex_key(const char *text, uint8_t *key, size_t size, size_t *len) {
  char digits[KEY_FILE_MAX + 1];
  size_t n = 0;
  for (const char *p = text; *p && n < KEY_FILE_MAX; p++)
    if (!isspace((unsigned char)*p)) digits[n++] = *p;
  digits[n] = '\0';
  if (rsp_hex_decode(digits, key, size, len) != RSP_OK || !*len) return RSP_E_INVALID_ARG;
  return RSP_OK;
}

rsp_err_t rsp_esipa_coap_read_key(const char *path, uint8_t *key, size_t size, size_t *len) {
  char text[KEY_FILE_MAX + 1];
  struct stat st;
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) {
    RSP_LOG_E("esipa", "PSK key file %s: %s", path ? path : "(none)", strerror(errno));
    return RSP_E_IO;
  }
  size_t n = fread(text, 1, KEY_FILE_MAX, f);
  text[n] = '\0';
  bool open_to_others = fstat(fileno(f), &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO));
  fclose(f);
  if (open_to_others) {
    RSP_LOG_E("esipa", "PSK key file %s is open to group or others: chmod 600 it", path);
    return RSP_E_IO;
  }
  if (parse_hex_key(text, key, size, len) != RSP_OK) {
    RSP_LOG_E("esipa", "PSK key file %s: not a hex key of 1 to %zu bytes", path, size);
    return RSP_E_INVALID_ARG;
  }
  return RSP_OK;
}
