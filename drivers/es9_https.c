/* ES9+ port over HTTPS, JSON binding (SGP.22 §6.5): the IPA's direct download POSTs each
 * function's JSON body to https://<SM-DP+ address><path> with Content-Type
 * application/json;charset=UTF-8 and X-Admin-Protocol gsma/rsp/v2.2.0. Every complete answer
 * goes back with its status: what a status means for the procedure is lib/ipa's business. One
 * lib/net client serves every SM-DP+ this transport talks to; libcurl keeps a connection per
 * host. */
#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/drivers/https.h"
#include "rsp/net/http.h"

struct rsp_es9_https {
  struct rsp_net_client *client;
  char *admin_protocol;
};

static bool path_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         strchr("/-._~", c) != NULL;
}

/* The address comes from an activation code or the card: only a plain HOST[:PORT] goes into the
 * URL, followed by a plain absolute path (the ES9+ function's). */
static rsp_err_t build_url(const char *address, const char *path, char *url, size_t size) {
  if (!address || !rsp_https_address_valid(address, strlen(address))) {
    RSP_LOG_W("es9", "SM-DP+ address '%s' refused: not a plain HOST[:PORT]",
              address ? address : "(none)");
    return RSP_E_INVALID_ARG;
  }
  if (!path || path[0] != '/') return RSP_E_INVALID_ARG;
  for (const char *p = path; *p; p++)
    if (!path_char_ok(*p)) return RSP_E_INVALID_ARG;
  int n = snprintf(url, size, "https://%s%s", address, path);
  return n > 0 && (size_t)n < size ? RSP_OK : RSP_E_INVALID_ARG;
}

static rsp_err_t es9_call(void *ctx, const char *smdp_address, const char *path,
                          const struct rsp_buf *body, int *http_status, struct rsp_buf *resp) {
  struct rsp_es9_https *e = ctx;
  struct rsp_net_client_response res;
  char url[RSP_HTTPS_URL_MAX];
  if (!e || !body || !http_status || !resp) return RSP_E_INVALID_ARG;
  *http_status = 0;
  rsp_err_t rc = build_url(smdp_address, path, url, sizeof url);
  if (rc != RSP_OK) return rc;
  const struct rsp_net_header headers[] = {
      {"Content-Type", RSP_ES9_HTTPS_CONTENT_TYPE},
      {"X-Admin-Protocol", e->admin_protocol},
  };
  rc = rsp_net_client_post(e->client, url, headers, sizeof headers / sizeof *headers, body->data,
                           body->len, &res);
  if (rc != RSP_OK) {
    RSP_LOG_W("es9", "POST %s failed: %s (%s)", url, rsp_strerror(rc),
              res.error[0] ? res.error : "no detail");
  } else {
    RSP_LOG_D("es9", "POST %s: %zu bytes -> HTTP %d, %zu bytes", url, body->len, res.status,
              res.body.len);
    *http_status = res.status;
    rc = rsp_buf_append(resp, res.body.data, res.body.len);
  }
  rsp_net_client_response_free(&res);
  return rc;
}

const struct rsp_ipa_es9_ops rsp_es9_https_ops = {es9_call};

/* Printable ASCII only: a CR or LF would start another header. */
static bool header_value_ok(const char *v) {
  for (; *v; v++)
    if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7F) return false;
  return true;
}

rsp_err_t rsp_es9_https_new(const struct rsp_es9_https_options *opt, struct rsp_es9_https **out) {
  rsp_err_t rc = RSP_E_INVALID_ARG;
  struct rsp_es9_https *e = NULL;
  /* No pin here: SM-DP+ TLS certificates chain to a CI (SGP.22 §2.6), so anchors are required. */
  if (!opt || !out || (!opt->ca_file && !opt->ca_pem)) goto out;
  const char *admin = opt->admin_protocol ? opt->admin_protocol : RSP_ES9_HTTPS_ADMIN_PROTOCOL;
  const char *agent = opt->user_agent ? opt->user_agent : RSP_ES9_HTTPS_USER_AGENT;
  if (!admin[0] || !header_value_ok(admin) || !header_value_ok(agent)) goto out;
  rc = RSP_E_NOMEM;
  if (!(e = rsp_calloc(1, sizeof *e)) || !(e->admin_protocol = rsp_strdup(admin))) goto out;
  struct rsp_net_client_options o = {.ca_file = opt->ca_file,
                                     .ca_pem = opt->ca_pem,
                                     .ca_pem_len = opt->ca_pem_len,
                                     .timeout_ms = opt->timeout_ms,
                                     .max_response_body = RSP_ES9_HTTPS_MAX_RESPONSE,
                                     .user_agent = agent};
  if ((rc = rsp_net_client_new(&o, &e->client)) != RSP_OK) {
    RSP_LOG_E("es9", "ES9+ transport: %s", rsp_strerror(rc));
    goto out;
  }
  *out = e;
  e = NULL;
out:
  rsp_es9_https_free(e);
  return rc;
}

void rsp_es9_https_free(struct rsp_es9_https *e) {
  if (!e) return;
  rsp_net_client_destroy(e->client);
  rsp_free(e->admin_protocol);
  rsp_free(e);
}
