/* rsp-smdpctl: the operator's command line for an SM-DP+'s ES2+ interface (GSMA SGP.22 §5.3),
 * over HTTPS with a client certificate (mutual TLS, §2.6.6). Every request and answer is a body of
 * lib/msg's JSON function table (rsp_msg_json_func_get), sent with lib/net's client; one client,
 * and so one kept-alive connection, serves all the requests of an invocation.
 *
 *   rsp-smdpctl order    DownloadOrder + ConfirmOrder for one EID, every EID of a file, or N
 *                        orders without EID; one line "EID ICCID ACTIVATION_CODE" per order
 *   rsp-smdpctl confirm  ConfirmOrder of an order made before
 *   rsp-smdpctl cancel   CancelOrder
 *   rsp-smdpctl release  ReleaseProfile
 *
 * Exit codes: 0 success, 1 failure (an order or a call refused by the SM-DP+, with its
 * subjectCode/reasonCode and message, or the SM-DP+ unreachable), 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "rsp/cli/cli.h"
#include "rsp/core/buf.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/msg/activation_code.h"
#include "rsp/msg/json.h"
#include "rsp/net/http.h"

#define CTL_EXIT_OK RSP_CLI_OK
#define CTL_EXIT_FAIL RSP_CLI_FAIL
#define CTL_EXIT_USAGE RSP_CLI_USAGE

#define CTL_DEFAULT_URL "https://localhost:8444"
#define CTL_DEFAULT_REQUESTER "operator.example"
#define CTL_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
/* SGP.22 §6.5.1: the X-Admin-Protocol of the requests (rsp-smdp answers with the same). */
#define CTL_ADMIN_PROTOCOL "gsma/rsp/v2.5.0"
#define CTL_CONTENT_TYPE "application/json"
#define CTL_URL_MAX 2048
#define CTL_DEFAULT_TIMEOUT_S 60
#define CTL_COUNT_MAX 1000000L        /* orders of one invocation */
#define CTL_EIDS_FILE_MAX (64u << 20) /* an EID list: a million lines and comments */
#define CTL_REQUEST_MAX (64u << 10)   /* an ES2+ request body */
#define CTL_RESPONSE_MAX (1u << 20)   /* an ES2+ answer */
#define CTL_PROGRESS_EVERY 100        /* orders between two progress lines */
#define CTL_FIELD_MAX 256             /* matchingId, smdpAddress (255 bytes) */
#define CTL_MESSAGE_MAX 512

static const char usage_text[] =
    "usage: rsp-smdpctl [options] COMMAND [command options]\n"
    "\n"
    "Drives an SM-DP+'s ES2+ interface (GSMA SGP.22 5.3, JSON over HTTPS with a client\n"
    "certificate) as the operator: orders profiles for devices and manages the orders.\n"
    "\n"
    "commands:\n"
    "  order [--eid EID | --eids-file FILE | --count N] (--profile-type T | --iccid ICCID)\n"
    "        [--matching-id ID | --default-smdp] [--confirmation-code CODE]\n"
    "        [--smds-address ADDRESS] [--no-release | --no-confirm]\n"
    "      DownloadOrder, then ConfirmOrder, for each order. Prints one line per order placed,\n"
    "      \"EID ICCID ACTIVATION_CODE\" (activation code 1$<SM-DP+ address>$<matchingId>, the\n"
    "      address from ConfirmOrder's answer; '-' for what is absent), or with --json a JSON\n"
    "      array with one object per order (failed ones with an \"error\" object). Each failure\n"
    "      is reported on stderr with the SM-DP+'s subjectCode/reasonCode and message; a\n"
    "      refused ConfirmOrder cancels its order again (CancelOrder, Available). Once no\n"
    "      profile of the type is left, or the SM-DP+ cannot be reached, the rest of a list\n"
    "      is not attempted. Lists report their progress on stderr every 100 orders.\n"
    "  confirm --iccid ICCID [--eid EID] [--matching-id ID | --default-smdp]\n"
    "        [--confirmation-code CODE] [--smds-address ADDRESS] [--no-release]\n"
    "      ConfirmOrder of an order made before; prints its line as order does\n"
    "  cancel --iccid ICCID [--eid EID] [--matching-id ID] [--final-status STATUS]\n"
    "      CancelOrder; STATUS Available (default: the profile can be ordered again) or\n"
    "      Unavailable\n"
    "  release --iccid ICCID\n"
    "      ReleaseProfile of an order confirmed with --no-release\n"
    "\n"
    "order and confirm options:\n"
    "  --eid EID               the device (32 digits); the order is bound to it\n"
    "  --eids-file FILE        one order per EID of FILE: one EID per line, '#' starts a\n"
    "                          comment, blank lines are skipped ('-': standard input)\n"
    "  --count N               N orders without EID (1 to 1000000), for activation codes;\n"
    "                          without --eid, --eids-file and --count: one order, no EID\n"
    "  --profile-type T        a profile of this type (DownloadOrder profileType)\n"
    "  --iccid ICCID           this profile (18 to 20 digits; one order only)\n"
    "  --matching-id ID        the matchingId (one order only; printable ASCII, no '$');\n"
    "                          default: the SM-DP+ makes one per order\n"
    "  --default-smdp          no matchingId (ConfirmOrder matchingId \"\"): the device finds\n"
    "                          its order by its EID at its default SM-DP+ address (SGP.22\n"
    "                          3.1.2); needs --eid or --eids-file; the activation code\n"
    "                          printed is 1$<address>$\n"
    "  --confirmation-code CODE  the code the user must enter at download\n"
    "  --smds-address ADDRESS  the SM-DP+ registers an event for the device at this SM-DS\n"
    "                          (needs an EID and a matchingId)\n"
    "  --no-release            confirm with releaseFlag false: the download waits for\n"
    "                          `release`\n"
    "  --no-confirm            DownloadOrder only (the line shows '-' as activation code);\n"
    "                          `confirm` finishes the order\n"
    "\n"
    "common options:\n"
    "  --url URL               the SM-DP+'s ES2+ base URL, https://HOST:PORT (default\n"
    "                          $RSP_SMDP_ES2_URL, else " CTL_DEFAULT_URL ")\n"
    "  --cert FILE             client certificate (PEM) the SM-DP+ accepts for ES2+\n"
    "                          (default $RSP_SMDP_CERT), with\n"
    "  --key FILE              its private key (PEM; default $RSP_SMDP_KEY)\n"
    "  --ca FILE               CA certificates (PEM) the SM-DP+'s TLS certificate must chain\n"
    "                          to (default $RSP_SMDP_CA, else " CTL_SYSTEM_CA ")\n"
    "  --function-requester-id ID  header.functionRequesterIdentifier (default\n"
    "                          " CTL_DEFAULT_REQUESTER ")\n"
    "  --json                  print JSON instead of lines\n"
    "  --timeout SECONDS       per request (1 to 3600, default 60)\n"
    "  --help                  this text\n"
    "\n"
    "Exit codes: 0 success, 1 an order or call failed (refused by the SM-DP+, or the SM-DP+\n"
    "could not be reached), 2 usage error (options, or an --eids-file line that is no EID).\n";

/* ---- options --------------------------------------------------------------------------------- */

enum ctl_opt_id {
  O_URL = 256,
  O_CERT,
  O_KEY,
  O_CA,
  O_REQUESTER,
  O_JSON,
  O_TIMEOUT,
  O_HELP,
  O_EID,
  O_EIDS_FILE,
  O_COUNT,
  O_PROFILE_TYPE,
  O_ICCID,
  O_MATCHING_ID,
  O_DEFAULT_SMDP,
  O_CC,
  O_SMDS_ADDRESS,
  O_NO_RELEASE,
  O_NO_CONFIRM,
  O_FINAL_STATUS,
  O__END
};

#define BIT(o) (1u << ((o)-O_URL))
#define GLOBAL_OPTS                                                                                \
  (BIT(O_URL) | BIT(O_CERT) | BIT(O_KEY) | BIT(O_CA) | BIT(O_REQUESTER) | BIT(O_JSON) |            \
   BIT(O_TIMEOUT) | BIT(O_HELP))
#define CONFIRM_OPTS                                                                               \
  (BIT(O_EID) | BIT(O_ICCID) | BIT(O_MATCHING_ID) | BIT(O_DEFAULT_SMDP) | BIT(O_CC) |              \
   BIT(O_SMDS_ADDRESS) | BIT(O_NO_RELEASE))
#define ORDER_OPTS                                                                                 \
  (CONFIRM_OPTS | BIT(O_EIDS_FILE) | BIT(O_COUNT) | BIT(O_PROFILE_TYPE) | BIT(O_NO_CONFIRM))

static const struct option longopts[] = {
    {"url", required_argument, NULL, O_URL},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"ca", required_argument, NULL, O_CA},
    {"function-requester-id", required_argument, NULL, O_REQUESTER},
    {"json", no_argument, NULL, O_JSON},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"help", no_argument, NULL, O_HELP},
    {"eid", required_argument, NULL, O_EID},
    {"eids-file", required_argument, NULL, O_EIDS_FILE},
    {"count", required_argument, NULL, O_COUNT},
    {"profile-type", required_argument, NULL, O_PROFILE_TYPE},
    {"iccid", required_argument, NULL, O_ICCID},
    {"matching-id", required_argument, NULL, O_MATCHING_ID},
    {"default-smdp", no_argument, NULL, O_DEFAULT_SMDP},
    {"confirmation-code", required_argument, NULL, O_CC},
    {"smds-address", required_argument, NULL, O_SMDS_ADDRESS},
    {"no-release", no_argument, NULL, O_NO_RELEASE},
    {"no-confirm", no_argument, NULL, O_NO_CONFIRM},
    {"final-status", required_argument, NULL, O_FINAL_STATUS},
    {NULL, 0, NULL, 0}};

struct ctl {
  const char *url, *cert, *key, *ca, *requester;
  bool json;
  long timeout_s;
  char base[CTL_URL_MAX];
  char call_prefix[64]; /* functionCallIdentifier: <prefix>-<n> */
  unsigned long calls;
  struct rsp_net_client *client;
};

/* The command-line frame (lib/cli): options by id, messages. */
static struct rsp_cli cli;
#define usage_error(...) rsp_cli_usage_error(&cli, __VA_ARGS__)
#define fail(...) rsp_cli_fail(&cli, __VA_ARGS__)
#define parse_long rsp_cli_parse_long
#define is_eid rsp_cli_is_eid

/* snprintf for messages that may be cut short: a long URL or server message is shortened, not
 * refused. */
static void textf(char *out, size_t size, const char *fmt, ...) RSP_PRINTF(3, 4);
static void textf(char *out, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, size, fmt, ap);
  va_end(ap);
}

static const char *opt(const struct ctl *c, int id) { return rsp_cli_opt(&cli, id); }
static bool has(const struct ctl *c, int id) { return rsp_cli_has(&cli, id); }

static bool is_iccid(const char *s) {
  uint8_t b[RSP_ICCID_LEN];
  return rsp_iccid_encode(s, b) == RSP_OK;
}

/* "1$<address>$<matchingId>" (SGP.22 4.1, without the LPA: prefix); false when the fields make
 * no activation code. */
static bool activation_code(const char *address, const char *matching_id, char *out, size_t size) {
  struct rsp_msg_activation_code ac;
  rsp_msg_activation_code_init(&ac);
  if (strlen(address) > RSP_MSG_AC_MAX_LEN || strlen(matching_id) > RSP_MSG_AC_MAX_LEN)
    return false;
  snprintf(ac.smdp_address, sizeof ac.smdp_address, "%s", address);
  snprintf(ac.matching_id, sizeof ac.matching_id, "%s", matching_id);
  return rsp_msg_activation_code_format(&ac, out, size, NULL, NULL) == RSP_OK;
}

/* ---- ES2+ calls ------------------------------------------------------------------------------ */

enum ctl_call {
  CALL_OK,      /* Executed-Success or Executed-WithWarning */
  CALL_REFUSED, /* the SM-DP+ answered Failed or Expired */
  CALL_BROKEN   /* no usable answer: transport, HTTP status, malformed body */
};

/* Why a call failed, for stderr and the JSON output. */
struct ctl_error {
  const char *function; /* "downloadOrder" ... */
  char status[32];      /* "Failed", "Expired", "HTTP 404", "TLS", "network" ... */
  char subject[16];     /* statusCodeData subjectCode ("" when none) */
  char reason[16];      /* reasonCode */
  char message[CTL_MESSAGE_MAX];
};

/* "downloadOrder refused: 8.2.5/3.7 (no profile ...)", "confirmOrder refused: Expired 8.8.5/4.10
 * (...)" or "downloadOrder: HTTP 404 from ...". */
static void error_text(const struct ctl_error *e, char *out, size_t size) {
  bool failed = strcmp(e->status, "Failed") == 0;
  bool refused = failed || strcmp(e->status, "Expired") == 0;
  const char *fn = e->function ? e->function : "order";
  if (refused && e->subject[0])
    snprintf(out, size, "%s refused: %s%s%s/%s%s%s%s", fn, failed ? "" : e->status,
             failed ? "" : " ", e->subject, e->reason, e->message[0] ? " (" : "", e->message,
             e->message[0] ? ")" : "");
  else if (refused)
    snprintf(out, size, "%s refused: %s%s%s%s", fn, e->status, e->message[0] ? " (" : "",
             e->message, e->message[0] ? ")" : "");
  else /* the message says it all: transport, HTTP status, malformed answer */
    snprintf(out, size, "%s: %s", fn, e->message[0] ? e->message : e->status);
}

static json_t *error_json(const struct ctl_error *e) {
  json_t *j = json_pack("{s:s?, s:s}", "function", e->function, "status", e->status);
  if (j && e->subject[0]) {
    json_object_set_new(j, "subjectCode", json_string(e->subject));
    json_object_set_new(j, "reasonCode", json_string(e->reason));
  }
  if (j && e->message[0]) json_object_set_new(j, "message", json_string(e->message));
  return j;
}

/* The first line of a text answer (rsp-smdp's refusals are text/plain). */
static void first_line(const struct rsp_buf *b, char *out, size_t size) {
  size_t n = 0;
  while (n < b->len && n + 1 < size && b->data[n] != '\n' && b->data[n] != '\r' &&
         b->data[n] >= 0x20 && b->data[n] < 0x7f)
    n++;
  memcpy(out, b->data, n);
  out[n] = '\0';
}

/* A transport failure, with a hint where the cause is most likely the certificates. */
static void transport_error(rsp_err_t rc, const char *url,
                            const struct rsp_net_client_response *res, struct ctl_error *e) {
  /* With TLS 1.3 a server that refuses the client certificate does so after the client's side
   * of the handshake is over: the client then sees the connection end, not a TLS error. Only a
   * connection that never came up says nothing about the certificates. */
  bool unreachable = strstr(res->error, "connect to") || strstr(res->error, "resolve");
  bool tls = rc == RSP_E_TLS;
  snprintf(e->status, sizeof e->status, "%s", tls ? "TLS" : "network");
  textf(e->message, sizeof e->message, "%s: %s%s%s%s", url, rsp_strerror(rc),
        res->error[0] ? ": " : "", res->error,
        tls ? " (check --cert and --key: the SM-DP+ accepts only client certificates of its "
              "operator CA; and --ca: the SM-DP+'s certificate must chain to it)"
        : !unreachable ? " (the SM-DP+ may have refused the client certificate: check --cert "
                         "and --key)"
                       : "");
}

/* Encodes `req` as function f's request, POSTs it, and decodes the answer into `resp` (a
 * response struct of f, whose first member is the header) with its strings in `doc`. */
static enum ctl_call es2p_call(struct ctl *c, enum rsp_msg_json_func f, const void *req,
                               struct rsp_msg_json_doc *doc, void *resp, struct ctl_error *e) {
  static const struct rsp_net_header headers[] = {{"Content-Type", CTL_CONTENT_TYPE},
                                                  {"X-Admin-Protocol", CTL_ADMIN_PROTOCOL}};
  const struct rsp_msg_json_func_info *fi = rsp_msg_json_func_get(f);
  const struct rsp_msg_json_resp_header *h = resp;
  struct rsp_net_client_response res;
  struct rsp_msg_json_diag diag;
  struct rsp_buf body;
  char url[CTL_URL_MAX + 128];
  enum ctl_call out = CALL_BROKEN;
  memset(e, 0, sizeof *e);
  e->function = fi->name;
  rsp_buf_init(&body, CTL_REQUEST_MAX);
  rsp_net_client_response_init(&res);
  snprintf(url, sizeof url, "%s%s", c->base, fi->path);
  memset(&diag, 0, sizeof diag);
  rsp_err_t rc = rsp_msg_json_encode(fi->request, req, &body, &diag);
  if (rc != RSP_OK) {
    snprintf(e->status, sizeof e->status, "request");
    textf(e->message, sizeof e->message, "cannot encode the request: %s",
          diag.text[0] ? diag.text : rsp_strerror(rc));
    goto out;
  }
  c->calls++;
  rc = rsp_net_client_post(c->client, url, headers, 2, body.data, body.len, &res);
  if (rc != RSP_OK) {
    transport_error(rc, url, &res, e);
    goto out;
  }
  if (res.status != 200) {
    char line[200];
    first_line(&res.body, line, sizeof line);
    snprintf(e->status, sizeof e->status, "HTTP %d", res.status);
    textf(e->message, sizeof e->message, "HTTP %d from %s%s%s", res.status, url,
          line[0] ? ": " : "", line);
    goto out;
  }
  rc = rsp_msg_json_decode(fi->response, (const char *)res.body.data, res.body.len, doc, resp,
                           &diag);
  if (rc != RSP_OK) {
    snprintf(e->status, sizeof e->status, "answer");
    textf(e->message, sizeof e->message, "the answer from %s is no %s response: %s", url, fi->name,
          diag.text[0] ? diag.text : rsp_strerror(rc));
    goto out;
  }
  if (rsp_msg_json_status_ok(h)) {
    out = CALL_OK;
    goto out;
  }
  const struct rsp_msg_json_status_code_data *d = h->function_execution_status.status_code_data;
  const char *name = rsp_msg_json_status_name(h->function_execution_status.status);
  snprintf(e->status, sizeof e->status, "%s", name ? name : "Failed");
  if (d && d->subject_code) snprintf(e->subject, sizeof e->subject, "%s", d->subject_code);
  if (d && d->reason_code) snprintf(e->reason, sizeof e->reason, "%s", d->reason_code);
  if (d && d->message) textf(e->message, sizeof e->message, "%s", d->message);
  out = CALL_REFUSED;
out:
  rsp_net_client_response_free(&res);
  rsp_buf_free(&body);
  return out;
}

/* A fresh request header: functionCallIdentifier unique within this invocation and, with the
 * process id and start time in the prefix, among invocations. */
static struct rsp_msg_json_req_header req_header(struct ctl *c, char *id, size_t size) {
  snprintf(id, size, "%s-%lu", c->call_prefix, c->calls + 1);
  return (struct rsp_msg_json_req_header){c->requester, id};
}

/* ---- orders ---------------------------------------------------------------------------------- */

/* What every order of an invocation shares. */
struct ctl_order_spec {
  const char *profile_type, *iccid;
  const char *matching_id; /* NULL: the SM-DP+ makes one; "": none (default SM-DP+) */
  const char *confirmation_code, *smds_address;
  bool confirm, release;
};

enum ctl_outcome { ORDER_DONE = 1, ORDER_FAILED, ORDER_NOT_ATTEMPTED };

/* One order's result. */
struct ctl_result {
  enum ctl_outcome outcome;
  char eid[RSP_EID_DIGITS + 1]; /* "" without EID */
  char iccid[RSP_ICCID_MAX_DIGITS + 2];
  bool confirmed, released, has_mid, has_address;
  char matching_id[CTL_FIELD_MAX];
  char smdp_address[CTL_FIELD_MAX];
  struct ctl_error err;
  char note[160]; /* what happened to the order after a refused confirmation */
};

/* ES2+ DownloadOrder; the ICCID of the reserved profile goes to r->iccid. */
static enum ctl_call download_order(struct ctl *c, const struct ctl_order_spec *s,
                                    struct ctl_result *r) {
  struct rsp_es2p_json_download_order_resp resp;
  struct rsp_msg_json_doc doc;
  uint8_t eid[RSP_EID_LEN];
  char id[96];
  struct rsp_es2p_json_download_order_req q = {
      .header = req_header(c, id, sizeof id), .iccid = s->iccid, .profile_type = s->profile_type};
  if (r->eid[0] && rsp_eid_from_string(r->eid, eid) == RSP_OK)
    q.eid = (struct rsp_slice){eid, sizeof eid};
  memset(&resp, 0, sizeof resp);
  rsp_msg_json_doc_init(&doc);
  enum ctl_call k = es2p_call(c, RSP_MSG_JSON_FUNC_ES2P_DOWNLOAD_ORDER, &q, &doc, &resp, &r->err);
  if (k == CALL_OK) snprintf(r->iccid, sizeof r->iccid, "%s", resp.iccid ? resp.iccid : "");
  rsp_msg_json_doc_free(&doc);
  return k;
}

/* ES2+ ConfirmOrder of r->iccid; the matchingId and SM-DP+ address of the answer go to r. */
static enum ctl_call confirm_order(struct ctl *c, const struct ctl_order_spec *s,
                                   struct ctl_result *r) {
  struct rsp_es2p_json_confirm_order_resp resp;
  struct rsp_msg_json_doc doc;
  uint8_t eid[RSP_EID_LEN];
  char id[96];
  struct rsp_es2p_json_confirm_order_req q = {.header = req_header(c, id, sizeof id),
                                              .iccid = r->iccid,
                                              .matching_id = s->matching_id,
                                              .confirmation_code = s->confirmation_code,
                                              .smds_address = s->smds_address,
                                              .release_flag = {s->release, true}};
  if (r->eid[0] && rsp_eid_from_string(r->eid, eid) == RSP_OK)
    q.eid = (struct rsp_slice){eid, sizeof eid};
  memset(&resp, 0, sizeof resp);
  rsp_msg_json_doc_init(&doc);
  enum ctl_call k = es2p_call(c, RSP_MSG_JSON_FUNC_ES2P_CONFIRM_ORDER, &q, &doc, &resp, &r->err);
  if (k == CALL_OK) {
    char eid_text[RSP_EID_DIGITS + 1];
    r->confirmed = true;
    r->released = s->release;
    r->has_mid = resp.matching_id != NULL;
    r->has_address = resp.smdp_address && resp.smdp_address[0];
    snprintf(r->matching_id, sizeof r->matching_id, "%s", r->has_mid ? resp.matching_id : "");
    snprintf(r->smdp_address, sizeof r->smdp_address, "%s",
             r->has_address ? resp.smdp_address : "");
    if (!r->eid[0] && resp.eid.p && resp.eid.len == RSP_EID_LEN &&
        rsp_eid_to_string(resp.eid.p, eid_text) == RSP_OK)
      memcpy(r->eid, eid_text, sizeof r->eid);
  }
  rsp_msg_json_doc_free(&doc);
  return k;
}

/* ES2+ CancelOrder. */
static enum ctl_call cancel_order(struct ctl *c, const char *iccid, const char *eid_digits,
                                  const char *matching_id, const char *final_status,
                                  struct ctl_error *e) {
  struct rsp_es2p_json_cancel_order_resp resp;
  struct rsp_msg_json_doc doc;
  uint8_t eid[RSP_EID_LEN];
  char id[96];
  struct rsp_es2p_json_cancel_order_req q = {.header = req_header(c, id, sizeof id),
                                             .iccid = iccid,
                                             .matching_id = matching_id,
                                             .final_profile_status_indicator = final_status};
  if (eid_digits && eid_digits[0] && rsp_eid_from_string(eid_digits, eid) == RSP_OK)
    q.eid = (struct rsp_slice){eid, sizeof eid};
  memset(&resp, 0, sizeof resp);
  rsp_msg_json_doc_init(&doc);
  enum ctl_call k = es2p_call(c, RSP_MSG_JSON_FUNC_ES2P_CANCEL_ORDER, &q, &doc, &resp, e);
  rsp_msg_json_doc_free(&doc);
  return k;
}

/* A refused ConfirmOrder leaves the profile reserved for an order nobody will finish: it is
 * cancelled again (Available), so the profile can be ordered once more. */
static void undo_order(struct ctl *c, struct ctl_result *r) {
  struct ctl_error e;
  char why[CTL_MESSAGE_MAX + 64];
  if (cancel_order(c, r->iccid, r->eid, NULL, "Available", &e) == CALL_OK) {
    snprintf(r->note, sizeof r->note, "order cancelled, profile %s available again", r->iccid);
    return;
  }
  error_text(&e, why, sizeof why);
  snprintf(r->note, sizeof r->note, "profile %s stays reserved (%.100s)", r->iccid, why);
}

/* No profile of the type left (8.2.5/3.7) or no such type (8.2.5/3.9): the next orders of the
 * list would be refused the same way. */
static bool pool_exhausted(const struct ctl_error *e) {
  return strcmp(e->subject, "8.2.5") == 0 &&
         (strcmp(e->reason, "3.7") == 0 || strcmp(e->reason, "3.9") == 0);
}

/* One order: DownloadOrder, then ConfirmOrder unless --no-confirm. Returns the outcome of the
 * call that ended it; r says what was done. */
static enum ctl_call order_one(struct ctl *c, const struct ctl_order_spec *s,
                               struct ctl_result *r) {
  enum ctl_call k = download_order(c, s, r);
  if (k == CALL_OK && s->confirm) {
    k = confirm_order(c, s, r);
    if (k == CALL_REFUSED) undo_order(c, r);
  }
  r->outcome = k == CALL_OK ? ORDER_DONE : ORDER_FAILED;
  return k;
}

/* ---- output ---------------------------------------------------------------------------------- */

static void result_ac(const struct ctl_result *r, char *out, size_t size) {
  snprintf(out, size, "-");
  if (r->confirmed && r->has_address && r->has_mid &&
      !activation_code(r->smdp_address, r->matching_id, out, size))
    snprintf(out, size, "-");
}

static void print_line(const struct ctl_result *r) {
  char ac[RSP_MSG_AC_MAX_LEN + 8];
  result_ac(r, ac, sizeof ac);
  printf("%s %s %s\n", r->eid[0] ? r->eid : "-", r->iccid[0] ? r->iccid : "-", ac);
}

static json_t *result_json(const struct ctl_result *r) {
  char ac[RSP_MSG_AC_MAX_LEN + 8];
  json_t *j = json_object();
  if (!j) return NULL;
  result_ac(r, ac, sizeof ac);
  json_object_set_new(j, "eid", r->eid[0] ? json_string(r->eid) : json_null());
  json_object_set_new(j, "iccid", r->iccid[0] ? json_string(r->iccid) : json_null());
  if (r->outcome == ORDER_DONE) {
    json_object_set_new(j, "confirmed", json_boolean(r->confirmed));
    json_object_set_new(j, "released", json_boolean(r->released));
    json_object_set_new(j, "matchingId", r->has_mid ? json_string(r->matching_id) : json_null());
    json_object_set_new(j, "smdpAddress",
                        r->has_address ? json_string(r->smdp_address) : json_null());
    json_object_set_new(j, "activationCode", strcmp(ac, "-") ? json_string(ac) : json_null());
    return j;
  }
  json_object_set_new(j, "error", error_json(&r->err));
  if (r->note[0]) json_object_set_new(j, "note", json_string(r->note));
  return j;
}

static void print_json(json_t *j) {
  char *text = json_dumps(j, JSON_INDENT(2));
  if (text) printf("%s\n", text);
  free(text);
}

/* The failure of one order on stderr: which order, which call, the SM-DP+'s codes. */
static void report_failure(const struct ctl_result *r, size_t index, size_t total) {
  char what[CTL_MESSAGE_MAX + 128], who[80];
  if (r->eid[0])
    snprintf(who, sizeof who, "EID %s", r->eid);
  else if (total > 1)
    snprintf(who, sizeof who, "order %zu of %zu", index + 1, total);
  else
    snprintf(who, sizeof who, "order");
  error_text(&r->err, what, sizeof what);
  fail("%s: %s%s%s", who, what, r->note[0] ? "; " : "", r->note);
}

/* ---- order: the list ------------------------------------------------------------------------- */

/* The orders of an invocation: EIDs (eids[i], 33 bytes each) or `n` orders without EID. */
struct ctl_list {
  char (*eids)[RSP_EID_DIGITS + 1];
  size_t n;
};

/* Reads the EIDs of --eids-file: one per line, '#' to the end of a line is a comment, blank
 * lines skipped, spaces around an EID ignored. A line that is no EID is a usage error. */
static int read_eids(const char *path, struct ctl_list *l) {
  struct rsp_buf b;
  size_t line = 0, cap = 0;
  int rc = CTL_EXIT_FAIL;
  bool is_stdin = strcmp(path, "-") == 0;
  uint8_t chunk[8192];
  size_t got;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  if (!f) return fail("--eids-file %s: %s", path, strerror(errno));
  rsp_buf_init(&b, CTL_EIDS_FILE_MAX);
  bool ok = true;
  while (ok && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
    ok = rsp_buf_append(&b, chunk, got) == RSP_OK;
  if (ferror(f)) ok = false;
  if (!is_stdin) fclose(f);
  if (!ok) {
    rc = fail("--eids-file %s: unreadable or larger than %u bytes", path, CTL_EIDS_FILE_MAX);
    goto out;
  }
  for (size_t i = 0; i < b.len;) {
    size_t end = i, s = i, e;
    while (end < b.len && b.data[end] != '\n') end++;
    line++;
    for (e = s; e < end && b.data[e] != '#'; e++) {
    }
    while (s < e && strchr(" \t\r", b.data[s])) s++;
    while (e > s && strchr(" \t\r", b.data[e - 1])) e--;
    i = end + 1;
    if (e == s) continue;
    if (!is_eid((const char *)b.data + s, e - s)) {
      rc = usage_error("--eids-file %s, line %zu: \"%.*s\" is no EID (32 digits)", path, line,
                       (int)(e - s > 40 ? 40 : e - s), (const char *)b.data + s);
      goto out;
    }
    if (l->n == (size_t)CTL_COUNT_MAX) {
      rc = usage_error("--eids-file %s: more than %ld EIDs", path, CTL_COUNT_MAX);
      goto out;
    }
    if (l->n == cap) {
      cap = cap ? 2 * cap : 256;
      void *p = realloc(l->eids, cap * sizeof *l->eids);
      if (!p) {
        rc = fail("out of memory");
        goto out;
      }
      l->eids = p;
    }
    memcpy(l->eids[l->n], b.data + s, RSP_EID_DIGITS);
    l->eids[l->n++][RSP_EID_DIGITS] = '\0';
  }
  rc = l->n ? CTL_EXIT_OK : usage_error("--eids-file %s: no EID in it", path);
out:
  rsp_buf_free(&b);
  return rc;
}

/* Counts of one run. */
struct ctl_tally {
  size_t done, failed, skipped;
};

static void progress(const struct ctl_tally *t, size_t total) {
  fprintf(stderr, "rsp-smdpctl: %zu/%zu orders: %zu placed, %zu failed\n",
          t->done + t->failed + t->skipped, total, t->done, t->failed);
}

/* The orders after a stop: reported once on stderr, listed in the JSON output. */
static void skip_rest(const struct ctl_list *l, size_t from, const char *why, json_t *all,
                      struct ctl_tally *t) {
  if (from >= l->n) return;
  fail("the remaining %zu order%s not attempted: %s", l->n - from,
       l->n - from == 1 ? " was" : "s were", why);
  for (size_t i = from; i < l->n; i++) {
    struct ctl_result r = {.outcome = ORDER_NOT_ATTEMPTED};
    if (l->eids) memcpy(r.eid, l->eids[i], sizeof r.eid);
    snprintf(r.err.status, sizeof r.err.status, "NotAttempted");
    textf(r.err.message, sizeof r.err.message, "%s", why);
    if (all) json_array_append_new(all, result_json(&r));
    t->skipped++;
  }
}

static int run_orders(struct ctl *c, const struct ctl_order_spec *s, const struct ctl_list *l) {
  struct ctl_tally t = {0, 0, 0};
  json_t *all = c->json ? json_array() : NULL;
  char why[CTL_MESSAGE_MAX + 128];
  bool long_list = l->n > CTL_PROGRESS_EVERY;
  if (c->json && !all) return fail("out of memory");
  for (size_t i = 0; i < l->n; i++) {
    struct ctl_result r;
    memset(&r, 0, sizeof r);
    if (l->eids) memcpy(r.eid, l->eids[i], sizeof r.eid);
    enum ctl_call k = order_one(c, s, &r);
    if (k == CALL_OK) {
      t.done++;
      if (!c->json) print_line(&r);
      fflush(stdout);
    } else {
      t.failed++;
      report_failure(&r, i, l->n);
    }
    if (all) json_array_append_new(all, result_json(&r));
    if (long_list && (i + 1) % CTL_PROGRESS_EVERY == 0 && i + 1 < l->n) progress(&t, l->n);
    if (k == CALL_BROKEN ||
        (k == CALL_REFUSED && s->profile_type && pool_exhausted(&r.err) && !r.iccid[0])) {
      if (k == CALL_BROKEN)
        textf(why, sizeof why, "no usable answer from the SM-DP+ (see above)");
      else
        textf(why, sizeof why, "%s %s", s->profile_type,
              strcmp(r.err.reason, "3.7") == 0 ? "has no profile left"
                                               : "is no known profile type");
      skip_rest(l, i + 1, why, all, &t);
      break;
    }
  }
  if (all) print_json(all);
  json_decref(all);
  if (l->n > 1) {
    struct rsp_net_client_stats st;
    rsp_net_client_stats(c->client, &st);
    fprintf(stderr,
            "rsp-smdpctl: %zu order%s: %zu placed, %zu failed, %zu not attempted (%lu request%s "
            "over %lu connection%s)\n",
            l->n, l->n == 1 ? "" : "s", t.done, t.failed, t.skipped, st.requests,
            st.requests == 1 ? "" : "s", st.connections, st.connections == 1 ? "" : "s");
  }
  return t.failed || t.skipped ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

/* The options shared by order and confirm that shape ConfirmOrder. */
static int confirm_spec(const struct ctl *c, bool has_eid, struct ctl_order_spec *s) {
  char ac[RSP_MSG_AC_MAX_LEN + 8];
  s->matching_id = opt(c, O_MATCHING_ID);
  s->confirmation_code = opt(c, O_CC);
  s->smds_address = opt(c, O_SMDS_ADDRESS);
  s->release = !has(c, O_NO_RELEASE);
  s->confirm = true;
  if (has(c, O_MATCHING_ID) && has(c, O_DEFAULT_SMDP))
    return usage_error("--matching-id and --default-smdp exclude each other");
  if (s->matching_id &&
      (!s->matching_id[0] || !activation_code("example.com", s->matching_id, ac, sizeof ac)))
    return usage_error("--matching-id %s: a matchingId is 1 to 255 printable ASCII characters "
                       "without '$'",
                       s->matching_id);
  if (has(c, O_DEFAULT_SMDP)) {
    if (!has_eid)
      return usage_error("--default-smdp needs the EID (--eid or --eids-file): the device finds "
                         "its order by it");
    s->matching_id = ""; /* ConfirmOrder matchingId "": no matchingId (es2p.c, SGP.22 3.1.2) */
  }
  if (s->confirmation_code && !s->confirmation_code[0])
    return usage_error("--confirmation-code must not be empty");
  if (s->smds_address) {
    if (!activation_code(s->smds_address, "X", ac, sizeof ac))
      return usage_error("--smds-address %s is no address (FQDN or IPv4, optionally :PORT)",
                         s->smds_address);
    if (!has_eid || has(c, O_DEFAULT_SMDP))
      return usage_error("--smds-address needs the EID and a matchingId (the SM-DS event is "
                         "the EID's, named by the matchingId)");
  }
  return CTL_EXIT_OK;
}

/* The checks of `order`'s options; the list of orders goes to l. */
static int order_options(struct ctl *c, struct ctl_order_spec *s, struct ctl_list *l) {
  int n_modes = has(c, O_EID) + has(c, O_EIDS_FILE) + has(c, O_COUNT), rc;
  long count = 1;
  if (n_modes > 1) return usage_error("--eid, --eids-file and --count exclude each other");
  if (!has(c, O_PROFILE_TYPE) && !has(c, O_ICCID))
    return usage_error("order needs --profile-type T or --iccid ICCID");
  s->profile_type = opt(c, O_PROFILE_TYPE);
  s->iccid = opt(c, O_ICCID);
  if (s->profile_type && !s->profile_type[0])
    return usage_error("--profile-type must not be empty");
  if (s->iccid && !is_iccid(s->iccid))
    return usage_error("--iccid %s is no ICCID (18 to 20 digits)", s->iccid);
  if (has(c, O_EID) && !is_eid(opt(c, O_EID), strlen(opt(c, O_EID))))
    return usage_error("--eid %s is no EID (32 digits)", opt(c, O_EID));
  if (has(c, O_COUNT) && !parse_long(opt(c, O_COUNT), 1, CTL_COUNT_MAX, &count))
    return usage_error("--count wants 1 to %ld, not %s", CTL_COUNT_MAX, opt(c, O_COUNT));
  if (has(c, O_NO_CONFIRM)) {
    if (cli.used & (BIT(O_MATCHING_ID) | BIT(O_DEFAULT_SMDP) | BIT(O_CC) | BIT(O_SMDS_ADDRESS) |
                    BIT(O_NO_RELEASE)))
      return usage_error("--no-confirm leaves out ConfirmOrder: its options do not apply");
  } else if ((rc = confirm_spec(c, !has(c, O_COUNT), s)) != CTL_EXIT_OK) {
    return rc;
  }
  if (has(c, O_EIDS_FILE) && (rc = read_eids(opt(c, O_EIDS_FILE), l)) != CTL_EXIT_OK) return rc;
  if (has(c, O_EID)) {
    if (!(l->eids = malloc(sizeof *l->eids))) return fail("out of memory");
    snprintf(l->eids[0], sizeof l->eids[0], "%s", opt(c, O_EID));
    l->n = 1;
  }
  if (!has(c, O_EID) && !has(c, O_EIDS_FILE)) l->n = (size_t)count; /* --count, default 1 */
  if (l->n > 1 && s->iccid)
    return usage_error("--iccid names one profile: it goes with one order only");
  if (l->n > 1 && has(c, O_MATCHING_ID))
    return usage_error("--matching-id goes with one order only (a matchingId is unique)");
  return CTL_EXIT_OK;
}

/* ---- settings and the client ---------------------------------------------------------------- */

/* The environment's value of a setting not given as an option ("" counts as unset). */
static const char *env_or(const char *given, const char *name) {
  const char *v = given ? given : getenv(name);
  return v && v[0] ? v : NULL;
}

/* The common settings, from the options or the environment: usage errors only, nothing is
 * opened yet. */
static int settings(struct ctl *c) {
  if (!(c->url = env_or(c->url, "RSP_SMDP_ES2_URL"))) c->url = CTL_DEFAULT_URL;
  if (strncmp(c->url, "https://", 8) != 0 || !c->url[8])
    return usage_error("--url must be an https:// URL, not %s", c->url);
  size_t n = strlen(c->url);
  while (n > 8 && c->url[n - 1] == '/') n--;
  if (n >= sizeof c->base) return usage_error("--url is too long");
  snprintf(c->base, sizeof c->base, "%.*s", (int)n, c->url);
  c->cert = env_or(c->cert, "RSP_SMDP_CERT");
  c->key = env_or(c->key, "RSP_SMDP_KEY");
  if (!c->cert || !c->key)
    return usage_error("ES2+ needs a client certificate: give --cert FILE and --key FILE (or "
                       "RSP_SMDP_CERT and RSP_SMDP_KEY)");
  if (!(c->ca = env_or(c->ca, "RSP_SMDP_CA"))) {
    if (access(CTL_SYSTEM_CA, R_OK) != 0)
      return usage_error("no CA file: give --ca FILE or set RSP_SMDP_CA");
    c->ca = CTL_SYSTEM_CA;
  }
  if (!c->requester) c->requester = CTL_DEFAULT_REQUESTER;
  if (!c->requester[0]) return usage_error("--function-requester-id must not be empty");
  snprintf(c->call_prefix, sizeof c->call_prefix, "smdpctl-%ld-%ld", (long)getpid(),
           (long)time(NULL));
  return CTL_EXIT_OK;
}

/* The HTTPS client of every request of this invocation, opened once the command's options are
 * known to be good. */
static int open_client(struct ctl *c) {
  const char *files[][2] = {{"--cert", c->cert}, {"--key", c->key}, {"--ca", c->ca}};
  for (size_t i = 0; i < 3; i++)
    if (access(files[i][1], R_OK) != 0)
      return fail("%s %s: %s", files[i][0], files[i][1], strerror(errno));
  struct rsp_net_client_options co = {.ca_file = c->ca,
                                      .cert_file = c->cert,
                                      .key_file = c->key,
                                      .connect_timeout_ms = 10000,
                                      .timeout_ms = (unsigned)c->timeout_s * 1000u,
                                      .max_response_body = CTL_RESPONSE_MAX,
                                      .user_agent = "rsp-smdpctl"};
  rsp_err_t e = rsp_net_client_new(&co, &c->client);
  if (e != RSP_OK)
    return fail("HTTPS client (--cert %s, --key %s, --ca %s): %s", c->cert, c->key, c->ca,
                rsp_strerror(e));
  return CTL_EXIT_OK;
}

/* ---- commands -------------------------------------------------------------------------------- */

static int cmd_order(struct ctl *c) {
  struct ctl_order_spec s;
  struct ctl_list l = {NULL, 0};
  memset(&s, 0, sizeof s);
  int rc = order_options(c, &s, &l);
  if (rc == CTL_EXIT_OK) rc = open_client(c);
  if (rc == CTL_EXIT_OK) rc = run_orders(c, &s, &l);
  free(l.eids);
  return rc;
}

/* The end of a single-call command: its JSON or line, or its failure. */
static int single_result(struct ctl *c, enum ctl_call k, const struct ctl_error *e, json_t *ok) {
  char what[CTL_MESSAGE_MAX + 128];
  if (k == CALL_OK) {
    if (c->json) print_json(ok);
    json_decref(ok);
    return CTL_EXIT_OK;
  }
  json_decref(ok);
  if (c->json) {
    json_t *j = json_pack("{s:o?}", "error", error_json(e));
    print_json(j);
    json_decref(j);
  }
  error_text(e, what, sizeof what);
  return fail("%s", what);
}

static int cmd_confirm(struct ctl *c) {
  struct ctl_order_spec s;
  struct ctl_result r;
  int rc;
  memset(&s, 0, sizeof s);
  memset(&r, 0, sizeof r);
  if (!has(c, O_ICCID) || !is_iccid(opt(c, O_ICCID)))
    return usage_error("confirm needs --iccid ICCID (18 to 20 digits)");
  if (has(c, O_EID) && !is_eid(opt(c, O_EID), strlen(opt(c, O_EID))))
    return usage_error("--eid %s is no EID (32 digits)", opt(c, O_EID));
  /* The order may carry the EID from DownloadOrder already: the SM-DP+ decides then. */
  if ((rc = confirm_spec(c, true, &s)) != CTL_EXIT_OK || (rc = open_client(c)) != CTL_EXIT_OK)
    return rc;
  snprintf(r.iccid, sizeof r.iccid, "%s", opt(c, O_ICCID));
  if (has(c, O_EID)) snprintf(r.eid, sizeof r.eid, "%s", opt(c, O_EID));
  enum ctl_call k = confirm_order(c, &s, &r);
  r.outcome = k == CALL_OK ? ORDER_DONE : ORDER_FAILED;
  if (k == CALL_OK && !c->json) print_line(&r);
  return single_result(c, k, &r.err, k == CALL_OK ? result_json(&r) : NULL);
}

static int cmd_cancel(struct ctl *c) {
  struct ctl_error e;
  const char *fs = has(c, O_FINAL_STATUS) ? opt(c, O_FINAL_STATUS) : "Available";
  if (!has(c, O_ICCID) || !is_iccid(opt(c, O_ICCID)))
    return usage_error("cancel needs --iccid ICCID (18 to 20 digits)");
  if (has(c, O_EID) && !is_eid(opt(c, O_EID), strlen(opt(c, O_EID))))
    return usage_error("--eid %s is no EID (32 digits)", opt(c, O_EID));
  if (strcmp(fs, "Available") != 0 && strcmp(fs, "Unavailable") != 0)
    return usage_error("--final-status wants Available or Unavailable, not %s", fs);
  if (has(c, O_MATCHING_ID) && !opt(c, O_MATCHING_ID)[0])
    return usage_error("--matching-id must not be empty");
  int rc = open_client(c);
  if (rc != CTL_EXIT_OK) return rc;
  enum ctl_call k = cancel_order(c, opt(c, O_ICCID), opt(c, O_EID), opt(c, O_MATCHING_ID), fs, &e);
  if (k == CALL_OK && !c->json) printf("%s cancelled, profile %s\n", opt(c, O_ICCID), fs);
  return single_result(c, k, &e,
                       k == CALL_OK ? json_pack("{s:s, s:b, s:s}", "iccid", opt(c, O_ICCID),
                                                "cancelled", 1, "finalProfileStatusIndicator", fs)
                                    : NULL);
}

static int cmd_release(struct ctl *c) {
  struct rsp_es2p_json_release_profile_resp resp;
  struct rsp_msg_json_doc doc;
  struct ctl_error e;
  char id[96];
  if (!has(c, O_ICCID) || !is_iccid(opt(c, O_ICCID)))
    return usage_error("release needs --iccid ICCID (18 to 20 digits)");
  int rc = open_client(c);
  if (rc != CTL_EXIT_OK) return rc;
  struct rsp_es2p_json_release_profile_req q = {.header = req_header(c, id, sizeof id),
                                                .iccid = opt(c, O_ICCID)};
  memset(&resp, 0, sizeof resp);
  rsp_msg_json_doc_init(&doc);
  enum ctl_call k = es2p_call(c, RSP_MSG_JSON_FUNC_ES2P_RELEASE_PROFILE, &q, &doc, &resp, &e);
  rsp_msg_json_doc_free(&doc);
  if (k == CALL_OK && !c->json) printf("%s released\n", opt(c, O_ICCID));
  return single_result(
      c, k, &e,
      k == CALL_OK ? json_pack("{s:s, s:b}", "iccid", opt(c, O_ICCID), "released", 1) : NULL);
}

/* ---- the command table ----------------------------------------------------------------------- */

struct ctl_cmd {
  struct rsp_cli_cmd cli; /* one word, no positional argument, the options it takes */
  int (*run)(struct ctl *c);
};

static const struct ctl_cmd commands[] = {
    {{"order", NULL, 0, 0, ORDER_OPTS}, cmd_order},
    {{"confirm", NULL, 0, 0, CONFIRM_OPTS}, cmd_confirm},
    {{"cancel", NULL, 0, 0, BIT(O_ICCID) | BIT(O_EID) | BIT(O_MATCHING_ID) | BIT(O_FINAL_STATUS)},
     cmd_cancel},
    {{"release", NULL, 0, 0, BIT(O_ICCID)}, cmd_release},
};

/* lib/cli's on_opt: the common options into `c` as they are parsed. */
static int set_global(void *ctx, int o, const char *arg) {
  struct ctl *c = ctx;
  switch (o) {
  case O_URL:
    c->url = arg;
    break;
  case O_CERT:
    c->cert = arg;
    break;
  case O_KEY:
    c->key = arg;
    break;
  case O_CA:
    c->ca = arg;
    break;
  case O_REQUESTER:
    c->requester = arg;
    break;
  case O_JSON:
    c->json = true;
    break;
  case O_TIMEOUT:
    if (!parse_long(arg, 1, 3600, &c->timeout_s))
      return usage_error("--timeout wants 1 to 3600 seconds, not %s", arg);
    break;
  default:
    break;
  }
  return CTL_EXIT_OK;
}

int main(int argc, char **argv) {
  struct ctl c;
  int rc;
  rsp_log_set_sink(RSP_LOG_SINK_STDERR, "rsp-smdpctl");
  rsp_log_set_level(RSP_LOG_ERROR);
  memset(&c, 0, sizeof c);
  c.timeout_s = CTL_DEFAULT_TIMEOUT_S;
  cli = (struct rsp_cli){.prog = "rsp-smdpctl",
                         .usage = usage_text,
                         .longopts = longopts,
                         .first_id = O_URL,
                         .end_id = O__END,
                         .help_id = O_HELP,
                         .global = GLOBAL_OPTS,
                         .on_opt = set_global,
                         .ctx = &c};
  int i = rsp_cli_parse(&cli, commands, sizeof commands / sizeof commands[0], sizeof commands[0],
                        argc, argv, &rc);
  if (i < 0) return rc;
  if ((rc = settings(&c)) != CTL_EXIT_OK) return rc;
  rc = commands[i].run(&c);
  rsp_net_client_destroy(c.client);
  return rc;
}
