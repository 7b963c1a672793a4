/* rsp-eimctl: the operator's command line for rsp-eim's REST API (include/rsp/eim/api.h,
 * docs/eim-api.yaml). One command is one or a few HTTPS requests through lib/net's client, with
 * the server always verified against a CA file; the answer is printed as a table for people or,
 * with --json, as the API's JSON for scripts.
 *
 * Exit codes: 0 success, 1 failure (the API refused the request, with its message, or the server
 * could not be reached), 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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
#include "rsp/core/log.h"
#include "rsp/crypto/x509.h"
#include "rsp/eim/api.h"
#include "rsp/msg/base64.h"
#include "rsp/net/http.h"

#define CTL_EXIT_OK RSP_CLI_OK
#define CTL_EXIT_FAIL RSP_CLI_FAIL
#define CTL_EXIT_USAGE RSP_CLI_USAGE

#define CTL_DEFAULT_URL "https://localhost:8446"
#define CTL_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
#define CTL_URL_MAX 2048
#define CTL_KEY_MAX 512
#define CTL_FILE_MAX (1u << 20)       /* a spec, an initial eIM configuration, a key */
#define CTL_EIDS_FILE_MAX (64u << 20) /* an EID list: millions of lines */
#define CTL_RESPONSE_MAX (64u << 20)
#define CTL_DEFAULT_TIMEOUT_S 120
#define CTL_TIMEOUT_MAX_S 86400
#define CTL_TIME_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */
#define CTL_OPS_FILE_MAX (256u << 20) /* op add-many: a line per operation, a spec each */
#define CTL_PROGRESS_LINES 500        /* op add-many reports on stderr every so many lines */
#define CTL_WAIT_POLL_S 1             /* stats --wait-idle asks this often */
#define CTL_WAIT_REPORT_S 10          /* and reports at least this often when nothing moves */

static const char usage_text[] =
    "usage: rsp-eimctl [--url URL] [--api-key KEY | --api-key-file FILE] [--ca FILE] [--json]\n"
    "                  [--timeout SECONDS] COMMAND ...\n"
    "\n"
    "Drives rsp-eim's operator API (REST over HTTPS, docs/eim-api.yaml).\n"
    "\n"
    "commands:\n"
    "  health\n"
    "  stats [--wait-idle]\n"
    "  device add EID [--eim-id ID] [--euicc-cert FILE] [--eum-cert FILE]\n"
    "                 [--association-token N] [--initial-eim-json FILE]\n"
    "  device list [--after EID] [--limit N] [--all] [--profiles]\n"
    "  device show EID\n"
    "  device add-initial-eim EID [--out FILE]\n"
    "  op add EID SPEC [--not-before TIME] [--expires-at TIME]\n"
    "  op list EID [--after SEQ] [--limit N] [--all]\n"
    "  op show ID\n"
    "  op cancel ID\n"
    "  op bulk --eids-file FILE SPEC [--not-before TIME] [--expires-at TIME]\n"
    "  op add-many --ops-file FILE [--not-before TIME] [--expires-at TIME]\n"
    "  audit EID [--after ID] [--limit N] [--operation ID] [--all]\n"
    "\n"
    "SPEC is one of:\n"
    "  --spec-json TEXT        the operation as JSON (docs/eim.md, include/rsp/eim/spec.h)\n"
    "  --spec-file FILE        the same from a file ('-': standard input)\n"
    "  enable ICCID [--rollback] | disable ICCID | delete ICCID | list-profiles | get-rat\n"
    "  download ACTIVATION-CODE | euicc-data TAGS (hex tag list, e.g. BF20BF22A5A6)\n"
    "\n"
    "options:\n"
    "  --url URL               the API's base URL (default $RSP_EIM_URL, else " CTL_DEFAULT_URL
    ")\n"
    "  --api-key KEY           sent as 'Authorization: Bearer KEY' (default $RSP_EIM_API_KEY)\n"
    "  --api-key-file FILE     the key from FILE: its first line that is not a '#' comment\n"
    "  --ca FILE               CA certificates (PEM) the server's certificate must chain to\n"
    "                          (default $RSP_EIM_CA, else " CTL_SYSTEM_CA ")\n"
    "  --json                  print the API's JSON answers instead of tables\n"
    "  --timeout SECONDS       per request (default 120, at most 86400); with stats\n"
    "                          --wait-idle: the whole wait (default: no limit)\n"
    "  --euicc-cert, --eum-cert FILE   the device's certificates, PEM or DER\n"
    "  --initial-eim-json FILE the EimConfigurationData for AddInitialEim as JSON (an EIMCONFIG,\n"
    "                          docs/eim.md); default: the server's own eIM, counter 0\n"
    "  --out FILE              device add-initial-eim: write the AddInitialEimRequest (DER)\n"
    "                          there; default: print it as hex\n"
    "  --all                   follow every page of a list\n"
    "  TIME                    seconds since 1970, +N[s|m|h|d] from now, or\n"
    "                          YYYY-MM-DDTHH:MM:SSZ\n"
    "  --eids-file FILE        one EID per line ('#' comments); sent 10,000 per request\n"
    "  --profiles              device list: each device's profiles too (the same objects\n"
    "                          device show gives)\n"
    "  --ops-file FILE         op add-many: one operation per line, 'EID SPEC-JSON' (the JSON\n"
    "                          of --spec-json; '#' comments and blank lines skipped; '-':\n"
    "                          standard input), all over one connection; prints\n"
    "                          'EID OPERATION-ID' per queued operation (--json: one array),\n"
    "                          each refused line with its number and the API's error on\n"
    "                          stderr, and progress every 500 lines\n"
    "  --wait-idle             stats: poll every second until no operation is queued or sent,\n"
    "                          with progress (done/failed/total) on stderr, then print the\n"
    "                          counts; exit 1 when --timeout passes first\n"
    "\n"
    "Exit codes: 0 success, 1 the API refused the request or the server is unreachable (op\n"
    "add-many: a line was refused; stats --wait-idle: the timeout passed), 2 usage error.\n";

/* ---- options --------------------------------------------------------------------------------- */

enum ctl_opt_id {
  O_URL = 256,
  O_API_KEY,
  O_API_KEY_FILE,
  O_CA,
  O_JSON,
  O_TIMEOUT,
  O_HELP,
  O_EIM_ID,
  O_EUICC_CERT,
  O_EUM_CERT,
  O_TOKEN,
  O_INITIAL_EIM,
  O_AFTER,
  O_LIMIT,
  O_ALL,
  O_OUT,
  O_SPEC_JSON,
  O_SPEC_FILE,
  O_ROLLBACK,
  O_NOT_BEFORE,
  O_EXPIRES_AT,
  O_EIDS_FILE,
  O_OPERATION,
  O_PROFILES,
  O_OPS_FILE,
  O_WAIT_IDLE,
  O__END
};

#define BIT(o) (1u << ((o)-O_URL))
_Static_assert(O__END - O_URL <= 32, "the option bits fit a uint32_t");
#define GLOBAL_OPTS                                                                                \
  (BIT(O_URL) | BIT(O_API_KEY) | BIT(O_API_KEY_FILE) | BIT(O_CA) | BIT(O_JSON) | BIT(O_TIMEOUT) |  \
   BIT(O_HELP))
#define SPEC_OPTS                                                                                  \
  (BIT(O_SPEC_JSON) | BIT(O_SPEC_FILE) | BIT(O_ROLLBACK) | BIT(O_NOT_BEFORE) | BIT(O_EXPIRES_AT))

static const struct option longopts[] = {
    {"url", required_argument, NULL, O_URL},
    {"api-key", required_argument, NULL, O_API_KEY},
    {"api-key-file", required_argument, NULL, O_API_KEY_FILE},
    {"ca", required_argument, NULL, O_CA},
    {"json", no_argument, NULL, O_JSON},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"help", no_argument, NULL, O_HELP},
    {"eim-id", required_argument, NULL, O_EIM_ID},
    {"euicc-cert", required_argument, NULL, O_EUICC_CERT},
    {"eum-cert", required_argument, NULL, O_EUM_CERT},
    {"association-token", required_argument, NULL, O_TOKEN},
    {"initial-eim-json", required_argument, NULL, O_INITIAL_EIM},
    {"after", required_argument, NULL, O_AFTER},
    {"limit", required_argument, NULL, O_LIMIT},
    {"all", no_argument, NULL, O_ALL},
    {"out", required_argument, NULL, O_OUT},
    {"spec-json", required_argument, NULL, O_SPEC_JSON},
    {"spec-file", required_argument, NULL, O_SPEC_FILE},
    {"rollback", no_argument, NULL, O_ROLLBACK},
    {"not-before", required_argument, NULL, O_NOT_BEFORE},
    {"expires-at", required_argument, NULL, O_EXPIRES_AT},
    {"eids-file", required_argument, NULL, O_EIDS_FILE},
    {"operation", required_argument, NULL, O_OPERATION},
    {"profiles", no_argument, NULL, O_PROFILES},
    {"ops-file", required_argument, NULL, O_OPS_FILE},
    {"wait-idle", no_argument, NULL, O_WAIT_IDLE},
    {NULL, 0, NULL, 0}};

struct ctl {
  const char *url, *api_key, *api_key_file, *ca;
  bool json;
  long timeout_s;
  char key[CTL_KEY_MAX + 1];
  char base[CTL_URL_MAX];
  struct rsp_net_client *client;
};

/* The command-line frame (lib/cli): options by id, positionals, messages. */
static struct rsp_cli cli;
#define usage_error(...) rsp_cli_usage_error(&cli, __VA_ARGS__)
#define fail(...) rsp_cli_fail(&cli, __VA_ARGS__)
#define parse_long rsp_cli_parse_long

static const char *opt(const struct ctl *c, int id) { return rsp_cli_opt(&cli, id); }
static bool has(const struct ctl *c, int id) { return rsp_cli_has(&cli, id); }
static bool is_eid(const char *s) { return rsp_cli_is_eid(s, strlen(s)); }

/* ---- files ----------------------------------------------------------------------------------- */

/* Reads a whole file ('-': standard input) into `out`, whose cap bounds it. */
static bool read_file(const char *path, struct rsp_buf *out) {
  return rsp_cli_read_file(&cli, path, out);
}

static bool write_file(const char *path, const uint8_t *p, size_t len) {
  FILE *f = fopen(path, "wb");
  bool ok = f && fwrite(p, 1, len, f) == len;
  if (f && fclose(f) != 0) ok = false;
  if (!ok) fail("cannot write %s: %s", path, strerror(errno));
  return ok;
}

/* A JSON object from a file or a text; NULL (message printed) when it is none. */
static json_t *json_object_from(const char *text, size_t len, const char *what) {
  json_error_t err;
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!j)
    fprintf(stderr, "rsp-eimctl: %s: not JSON: %s (line %d, column %d)\n", what, err.text, err.line,
            err.column);
  else if (!json_is_object(j)) {
    fprintf(stderr, "rsp-eimctl: %s: a JSON object expected\n", what);
    json_decref(j);
    j = NULL;
  }
  return j;
}

static json_t *json_file(const char *path) {
  struct rsp_buf b;
  json_t *j = NULL;
  rsp_buf_init(&b, CTL_FILE_MAX);
  if (read_file(path, &b)) j = json_object_from((const char *)b.data, b.len, path);
  rsp_buf_free(&b);
  return j;
}

/* A certificate file (PEM or DER) as base64 of its DER. */
static json_t *cert_b64(const char *path) {
  struct rsp_cert *cert = NULL;
  json_t *v = NULL;
  rsp_err_t rc = rsp_cert_load_file(path, &cert);
  if (rc != RSP_OK) {
    fail("%s: not a certificate (PEM or DER): %s", path, rsp_strerror(rc));
    return NULL;
  }
  struct rsp_slice der = rsp_cert_der(cert);
  size_t n = rsp_msg_base64_encoded_len(der.len);
  char *text = malloc(n + 1);
  if (text && rsp_msg_base64_encode(der.p, der.len, text, n + 1) == RSP_OK) v = json_string(text);
  free(text);
  rsp_cert_free(cert);
  return v;
}

/* ---- times ----------------------------------------------------------------------------------- */

/* TIME: seconds since 1970, +N[smhd] from now, or YYYY-MM-DDTHH:MM:SSZ. */
static bool parse_time(const char *s, int64_t *out) {
  long v;
  if (s[0] == '+') {
    static const char units[] = "smhd";
    static const long mult[] = {1, 60, 3600, 86400};
    char num[32];
    size_t n = strlen(s + 1);
    const char *u = n ? strchr(units, s[n]) : NULL;
    long m = 1;
    if (u && *u) {
      m = mult[u - units];
      n--;
    }
    if (n == 0 || n >= sizeof num) return false;
    memcpy(num, s + 1, n);
    num[n] = '\0';
    if (!parse_long(num, 0, 100L * 365 * 86400, &v)) return false;
    *out = (int64_t)time(NULL) + (int64_t)v * m;
    return *out <= CTL_TIME_MAX;
  }
  if (strchr(s, '-')) {
    struct tm tm, back;
    int y, mo, d, h, mi, sec, end = -1;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &end) != 6 || end < 0 ||
        s[end] != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 59 || h < 0 || mi < 0 || sec < 0)
      return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    /* A date that does not exist (February 30) comes back as another day. */
    if (!gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1) return false;
    *out = (int64_t)t;
    return *out >= 0 && *out <= CTL_TIME_MAX;
  }
  if (!parse_long(s, 0, (long)CTL_TIME_MAX, &v)) return false;
  *out = v;
  return true;
}

/* "2024-05-01 12:00:00Z", or `none` for 0 / null. */
static const char *fmt_time(json_t *v, const char *none, char buf[32]) {
  if (!json_is_integer(v) || json_integer_value(v) == 0) return none;
  time_t t = (time_t)json_integer_value(v);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
    snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
  return buf;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static bool key_ok(const char *k) {
  size_t n = strlen(k);
  if (n == 0 || n > CTL_KEY_MAX) return false;
  for (; *k; k++)
    if (*k < 0x21 || *k > 0x7e) return false;
  return true;
}

/* The API key from --api-key, --api-key-file or $RSP_EIM_API_KEY (none: no header). */
static int setup_key(struct ctl *c) {
  if (c->api_key && c->api_key_file)
    return usage_error("--api-key and --api-key-file exclude each other");
  if (c->api_key_file) {
    struct rsp_buf b;
    rsp_buf_init(&b, CTL_FILE_MAX);
    if (!read_file(c->api_key_file, &b)) {
      rsp_buf_free(&b);
      return CTL_EXIT_FAIL;
    }
    /* The first line that is neither blank nor a '#' comment: rsp-eim's key file works too. */
    size_t start = 0, n = 0;
    while (start < b.len) {
      size_t end = start;
      while (end < b.len && b.data[end] != '\n') end++;
      while (start < end && (b.data[start] == ' ' || b.data[start] == '\t')) start++;
      n = end - start;
      while (n > 0 && strchr(" \t\r", b.data[start + n - 1])) n--;
      if (n > 0 && b.data[start] != '#') break;
      n = 0;
      start = end + 1;
    }
    if (n > CTL_KEY_MAX) n = CTL_KEY_MAX + 1;
    snprintf(c->key, sizeof c->key, "%.*s", (int)n, n ? (const char *)b.data + start : "");
    rsp_buf_free(&b);
    if (n > CTL_KEY_MAX || !key_ok(c->key))
      return usage_error("%s: no API key in it (the first line that is not a '#' comment; "
                         "printable, no spaces)",
                         c->api_key_file);
    return CTL_EXIT_OK;
  }
  if (!c->api_key) c->api_key = getenv("RSP_EIM_API_KEY");
  if (c->api_key && c->api_key[0]) {
    if (!key_ok(c->api_key)) return usage_error("the API key must be printable, without spaces");
    snprintf(c->key, sizeof c->key, "%s", c->api_key);
  }
  return CTL_EXIT_OK;
}

static int setup_client(struct ctl *c) {
  int rc;
  if (!c->url) c->url = getenv("RSP_EIM_URL");
  if (!c->url || !c->url[0]) c->url = CTL_DEFAULT_URL;
  if (strncmp(c->url, "https://", 8) != 0)
    return usage_error("--url must be an https:// URL, not %s", c->url);
  size_t n = strlen(c->url);
  while (n > 8 && c->url[n - 1] == '/') n--;
  if (n >= sizeof c->base - 256) return usage_error("--url is too long");
  snprintf(c->base, sizeof c->base, "%.*s", (int)n, c->url);
  if ((rc = setup_key(c)) != CTL_EXIT_OK) return rc;
  if (!c->ca) c->ca = getenv("RSP_EIM_CA");
  if (!c->ca || !c->ca[0]) {
    if (access(CTL_SYSTEM_CA, R_OK) != 0)
      return usage_error("no CA file: give --ca FILE or set RSP_EIM_CA");
    c->ca = CTL_SYSTEM_CA;
  }
  /* stats --wait-idle takes --timeout for the whole wait; each request keeps the default. */
  long per_request = c->timeout_s;
  if (has(c, O_WAIT_IDLE) && per_request > CTL_DEFAULT_TIMEOUT_S)
    per_request = CTL_DEFAULT_TIMEOUT_S;
  struct rsp_net_client_options co = {.ca_file = c->ca,
                                      .connect_timeout_ms = 10000,
                                      .timeout_ms = (unsigned)per_request * 1000u,
                                      .max_response_body = CTL_RESPONSE_MAX,
                                      .user_agent = "rsp-eimctl"};
  rsp_err_t e = rsp_net_client_new(&co, &c->client);
  if (e != RSP_OK) return fail("HTTPS client (CA file %s): %s", c->ca, rsp_strerror(e));
  return CTL_EXIT_OK;
}

static void print_json(json_t *j) {
  char *text = json_dumps(j, JSON_INDENT(2));
  if (text) printf("%s\n", text);
  free(text);
}

/* Why the API refused a request: its HTTP status (0: no answer at all, the transport failed and
 * the message is printed) and the API's error code and detail. */
struct api_refusal {
  int status;
  char code[40];
  char detail[512];
};

static int call_ex(struct ctl *c, const char *method, const char *path, json_t *body, json_t **out,
                   struct api_refusal *why);

/* One request: method, path (with its query) and an optional JSON body. CTL_EXIT_OK with the
 * answer in *out; otherwise the message is printed (and, with --json, the API's error JSON). */
static int call(struct ctl *c, const char *method, const char *path, json_t *body, json_t **out) {
  return call_ex(c, method, path, body, out, NULL);
}

/* The same; with `why`, a refusal of the API (an HTTP error status) is not printed but returned
 * there, for commands that report it their own way. */
static int call_ex(struct ctl *c, const char *method, const char *path, json_t *body, json_t **out,
                   struct api_refusal *why) {
  struct rsp_net_header headers[3];
  struct rsp_net_client_response res;
  char url[CTL_URL_MAX + 256], auth[CTL_KEY_MAX + 16];
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  size_t nh = 0;
  int rc = CTL_EXIT_FAIL;
  json_t *j = NULL;
  *out = NULL;
  if (why) memset(why, 0, sizeof *why);
  if (body && !text) return fail("out of memory");
  snprintf(url, sizeof url, "%s%s", c->base, path);
  headers[nh++] = (struct rsp_net_header){"Accept", RSP_EIM_API_CONTENT_TYPE};
  if (text) headers[nh++] = (struct rsp_net_header){"Content-Type", RSP_EIM_API_CONTENT_TYPE};
  if (c->key[0]) {
    snprintf(auth, sizeof auth, "Bearer %s", c->key);
    headers[nh++] = (struct rsp_net_header){"Authorization", auth};
  }
  rsp_net_client_response_init(&res);
  rsp_err_t e = rsp_net_client_request(c->client, method, url, headers, nh, text,
                                       text ? strlen(text) : 0, &res);
  free(text);
  if (e != RSP_OK) {
    fail("%s %s: %s%s%s", method, url, rsp_strerror(e), res.error[0] ? ": " : "", res.error);
    goto out;
  }
  j = json_loadb((const char *)res.body.data, res.body.len, 0, NULL);
  if (res.status >= 200 && res.status < 300 && json_is_object(j)) {
    *out = j;
    j = NULL;
    rc = CTL_EXIT_OK;
    goto out;
  }
  if (res.status >= 200 && res.status < 300) {
    fail("%s %s: HTTP %d, but the answer is not a JSON object", method, url, res.status);
    goto out;
  }
  const char *code = json_string_value(json_object_get(j, "error"));
  const char *detail = json_string_value(json_object_get(j, "detail"));
  if (why) {
    why->status = res.status;
    snprintf(why->code, sizeof why->code, "%s", code ? code : "error");
    snprintf(why->detail, sizeof why->detail, "%s",
             detail ? detail : "no JSON error in the answer");
    goto out;
  }
  if (c->json && json_is_object(j)) print_json(j);
  if (code || detail)
    fail("HTTP %d %s: %s%s", res.status, code ? code : "error", detail ? detail : "",
         res.status == 401 || res.status == 403 ? " (check --api-key, --api-key-file or "
                                                  "RSP_EIM_API_KEY)"
                                                : "");
  else
    fail("%s %s: HTTP %d without a JSON error", method, url, res.status);
out:
  json_decref(j);
  rsp_net_client_response_free(&res);
  return rc;
}

/* ---- printing -------------------------------------------------------------------------------- */

static const char *s_or(json_t *v, const char *none) {
  return json_is_string(v) && json_string_length(v) ? json_string_value(v) : none;
}

static const char *n_or(json_t *v, const char *none, char buf[32]) {
  if (!json_is_integer(v)) return none;
  snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
  return buf;
}

#define GET(o, k) json_object_get(o, k)

static void print_device(json_t *d) {
  char b1[32];
  json_t *profiles = GET(d, "profiles"), *p;
  size_t i;
  printf("eid:               %s\n", s_or(GET(d, "eid"), "-"));
  printf("eim id:            %s\n", s_or(GET(d, "eimId"), "-"));
  printf("association token: %s\n", n_or(GET(d, "associationToken"), "-", b1));
  printf("next counter:      %s\n", n_or(GET(d, "nextCounter"), "-", b1));
  printf("created:           %s\n", fmt_time(GET(d, "created"), "-", b1));
  printf("last seen:         %s\n", fmt_time(GET(d, "lastSeen"), "never", b1));
  printf("rplmn:             %s\n", s_or(GET(d, "rplmn"), "-"));
  printf("enabled iccid:     %s\n", s_or(GET(d, "enabledIccid"), "-"));
  printf("pending:           %s\n", n_or(GET(d, "pending"), "-", b1));
  printf("euicc certificate: %s\n", json_is_true(GET(d, "certificateKnown")) ? "known" : "unknown");
  printf("eum certificate:   %s\n",
         json_is_true(GET(d, "eumCertificateKnown")) ? "known" : "unknown");
  printf("euiccInfo2:        %s\n", json_is_string(GET(d, "euiccInfo2")) ? "known" : "unknown");
  printf("initial eim:       %s\n", json_is_true(GET(d, "initialEim")) ? "yes" : "no");
  printf("profiles:          %zu\n", json_array_size(profiles));
  if (json_array_size(profiles))
    printf("  %-22s %-9s %-13s %s\n", "ICCID", "STATE", "CLASS", "NAME");
  json_array_foreach(profiles, i, p) {
    printf("  %-22s %-9s %-13s %s\n", s_or(GET(p, "iccid"), "-"), s_or(GET(p, "state"), "-"),
           s_or(GET(p, "class"), "-"), s_or(GET(p, "name"), ""));
  }
}

static void print_device_rows(json_t *devices, bool header) {
  char b1[32], b2[32];
  size_t i;
  json_t *d;
  if (header)
    printf("%-32s  %-20s %7s  %-20s  %s\n", "EID", "EIM ID", "PENDING", "ENABLED ICCID",
           "LAST SEEN");
  json_array_foreach(devices, i, d) {
    json_t *p;
    size_t k;
    printf("%-32s  %-20s %7s  %-20s  %s\n", s_or(GET(d, "eid"), "-"), s_or(GET(d, "eimId"), "-"),
           n_or(GET(d, "pending"), "-", b1), s_or(GET(d, "enabledIccid"), "-"),
           fmt_time(GET(d, "lastSeen"), "never", b2));
    /* device list --profiles: each device's profiles under it */
    json_array_foreach(GET(d, "profiles"), k, p) {
      printf("    %-22s %-9s %-13s %s\n", s_or(GET(p, "iccid"), "-"), s_or(GET(p, "state"), "-"),
             s_or(GET(p, "class"), "-"), s_or(GET(p, "name"), ""));
    }
  }
}

/* One-line compact JSON of `v` (at most `max` characters, "..." beyond), "-" for null. */
static void compact(json_t *v, size_t max, char *out, size_t size) {
  char *t = v && !json_is_null(v) ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  if (!t)
    snprintf(out, size, "-");
  else if (strlen(t) > max)
    snprintf(out, size, "%.*s...", (int)max, t);
  else
    snprintf(out, size, "%s", t);
  free(t);
}

/* A short description of a spec for the operation table: "enable 894400...11 rollback, getRAT",
 * "addEim fleet-1", "euicc_data BF20BF22", "download 1$SMDP$ID"; at most `size` - 1 bytes. */
static void describe_spec(json_t *spec, char *out, size_t size) {
  const char *kind = json_string_value(GET(spec, "kind"));
  json_t *list = GET(spec, "psmos") ? GET(spec, "psmos") : GET(spec, "ecos"), *item;
  size_t k = 0, i;
  out[0] = '\0';
  if (!kind) return;
  if (!json_is_array(list)) {
    json_t *v = GET(spec, "tags") ? GET(spec, "tags") : GET(spec, "activationCode");
    snprintf(out, size, "%s %s", kind, json_is_string(v) ? json_string_value(v) : "");
    if (json_is_true(GET(spec, "defaultSmdp"))) snprintf(out, size, "download default SM-DP+");
    if (json_is_true(GET(spec, "smds"))) snprintf(out, size, "download via SM-DS");
    return;
  }
  json_array_foreach(list, i, item) {
    const char *name = json_object_iter_key(json_object_iter(item));
    json_t *v = json_object_iter_value(json_object_iter(item));
    json_t *arg = GET(v, "iccid") ? GET(v, "iccid") : GET(v, "eimId");
    int w =
        snprintf(out + k, size - k, "%s%s%s%s%s", i ? ", " : "", name ? name : "?",
                 json_is_string(arg) ? " " : "", json_is_string(arg) ? json_string_value(arg) : "",
                 json_is_true(GET(v, "rollback")) ? " rollback" : "");
    if (w < 0 || (size_t)w >= size - k) break;
    k += (size_t)w;
  }
}

static void print_op_rows(json_t *ops, bool header) {
  char b1[32], b2[32], b3[32], b4[32], spec[72];
  size_t i;
  json_t *o;
  if (header)
    printf("%8s %5s  %-10s %-9s  %-20s  %7s %4s  %s\n", "ID", "SEQ", "KIND", "STATE", "CREATED",
           "COUNTER", "SENT", "OPERATION / ERROR");
  json_array_foreach(ops, i, o) {
    describe_spec(GET(o, "spec"), spec, sizeof spec);
    printf("%8s %5s  %-10s %-9s  %-20s  %7s %4lld  %s\n", n_or(GET(o, "id"), "-", b1),
           n_or(GET(o, "seq"), "-", b2), s_or(GET(o, "kind"), "-"), s_or(GET(o, "state"), "-"),
           fmt_time(GET(o, "created"), "-", b3), n_or(GET(o, "counter"), "-", b4),
           (long long)json_integer_value(GET(o, "sentCount")),
           json_is_string(GET(o, "error")) ? json_string_value(GET(o, "error")) : spec);
  }
}

static void print_op(json_t *o) {
  char b1[32], *text;
  json_t *result = GET(o, "result");
  printf("id:                %s\n", n_or(GET(o, "id"), "-", b1));
  printf("eid:               %s\n", s_or(GET(o, "eid"), "-"));
  printf("position:          %s\n", n_or(GET(o, "seq"), "-", b1));
  printf("kind:              %s\n", s_or(GET(o, "kind"), "-"));
  printf("state:             %s\n", s_or(GET(o, "state"), "-"));
  printf("created:           %s\n", fmt_time(GET(o, "created"), "-", b1));
  printf("not before:        %s\n", fmt_time(GET(o, "notBefore"), "-", b1));
  printf("expires at:        %s\n", fmt_time(GET(o, "expiresAt"), "never", b1));
  printf("counter:           %s\n", n_or(GET(o, "counter"), "-", b1));
  printf("eimTransactionId:  %s\n", s_or(GET(o, "eimTransactionId"), "-"));
  printf("sent:              %s times", n_or(GET(o, "sentCount"), "0", b1));
  printf(", last %s\n", fmt_time(GET(o, "lastSent"), "never", b1));
  printf("done at:           %s\n", fmt_time(GET(o, "doneAt"), "-", b1));
  printf("error:             %s\n", s_or(GET(o, "error"), "-"));
  text = json_dumps(GET(o, "spec"), JSON_COMPACT | JSON_ENCODE_ANY);
  printf("spec:              %s\n", text ? text : "-");
  free(text);
  text = json_is_null(GET(o, "resultSummary"))
             ? NULL
             : json_dumps(GET(o, "resultSummary"), JSON_COMPACT | JSON_ENCODE_ANY);
  printf("result summary:    %s\n", text ? text : "-");
  free(text);
  if (json_is_string(result)) {
    const char *t = json_string_value(result);
    size_t len = json_string_length(result), pad = 0;
    while (pad < 2 && pad < len && t[len - 1 - pad] == '=') pad++;
    printf("result:            %zu bytes of DER (base64 with --json)\n", len / 4 * 3 - pad);
  } else
    printf("result:            -\n");
}

static void print_audit_rows(json_t *entries, bool header) {
  char b1[32], b2[32], b3[32], detail[96];
  size_t i;
  json_t *e;
  if (header) printf("%8s  %-20s  %8s  %-22s  %s\n", "ID", "TIME", "OP", "EVENT", "DETAIL");
  json_array_foreach(entries, i, e) {
    compact(GET(e, "detail"), 70, detail, sizeof detail);
    printf("%8s  %-20s  %8s  %-22s  %s%s\n", n_or(GET(e, "id"), "-", b1),
           fmt_time(GET(e, "time"), "-", b2), n_or(GET(e, "operationId"), "-", b3),
           s_or(GET(e, "event"), "-"), detail, json_is_string(GET(e, "der")) ? " [DER]" : "");
  }
}

/* ---- commands -------------------------------------------------------------------------------- */

static int cmd_health(struct ctl *c) {
  json_t *out;
  int rc = call(c, "GET", "/v1/health", NULL, &out);
  if (rc != CTL_EXIT_OK) return rc;
  if (c->json)
    print_json(out);
  else
    printf("%s (store %s)\n", s_or(GET(out, "status"), "?"), s_or(GET(out, "store"), "?"));
  json_decref(out);
  return CTL_EXIT_OK;
}

static int device_add_body(struct ctl *c, json_t *body) {
  long token;
  json_t *v;
  if (has(c, O_EIM_ID) && json_object_set_new(body, "eimId", json_string(opt(c, O_EIM_ID))) != 0)
    return usage_error("--eim-id must be UTF-8 text");
  if (has(c, O_TOKEN)) {
    if (!parse_long(opt(c, O_TOKEN), 0, INT32_MAX, &token))
      return usage_error("--association-token wants 0 to %d", INT32_MAX);
    json_object_set_new(body, "associationToken", json_integer(token));
  }
  if (has(c, O_EUICC_CERT)) {
    if (!(v = cert_b64(opt(c, O_EUICC_CERT)))) return CTL_EXIT_FAIL;
    json_object_set_new(body, "euiccCertificate", v);
  }
  if (has(c, O_EUM_CERT)) {
    if (!(v = cert_b64(opt(c, O_EUM_CERT)))) return CTL_EXIT_FAIL;
    json_object_set_new(body, "eumCertificate", v);
  }
  if (has(c, O_INITIAL_EIM)) {
    if (!(v = json_file(opt(c, O_INITIAL_EIM)))) return CTL_EXIT_FAIL;
    json_object_set_new(body, "initialEim", v);
  }
  return CTL_EXIT_OK;
}

static int cmd_device_add(struct ctl *c) {
  json_t *body = json_pack("{s:s}", "eid", cli.pos[0]), *out = NULL;
  int rc;
  if (!body) return fail("out of memory");
  if ((rc = device_add_body(c, body)) == CTL_EXIT_OK &&
      (rc = call(c, "POST", "/v1/devices", body, &out)) == CTL_EXIT_OK) {
    if (c->json)
      print_json(out);
    else {
      printf("device %s registered\n", s_or(GET(out, "eid"), "?"));
      print_device(out);
    }
  }
  json_decref(body);
  json_decref(out);
  return rc;
}

/* Appends "?k=v&k=v" of the given options (values checked by the caller). */
static void query_of(const struct ctl *c, const int *ids, const char *const *names, size_t n,
                     char *out, size_t size) {
  size_t k = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (!has(c, ids[i])) continue;
    int w = snprintf(out + k, size - k, "%c%s=%s", k ? '&' : '?', names[i], opt(c, ids[i]));
    if (w > 0 && (size_t)w < size - k) k += (size_t)w;
  }
}

/* The checks of --after (`after_eid`: an EID, else a number) and --limit. */
static int page_opts(struct ctl *c, bool after_eid) {
  long v;
  if (has(c, O_LIMIT) && !parse_long(opt(c, O_LIMIT), 1, 1000, &v))
    return usage_error("--limit wants 1 to 1000");
  if (has(c, O_AFTER) &&
      (after_eid ? !is_eid(opt(c, O_AFTER)) : !parse_long(opt(c, O_AFTER), 0, LONG_MAX, &v)))
    return usage_error(after_eid ? "--after wants an EID (32 digits)" : "--after wants a number");
  if (has(c, O_OPERATION) && !parse_long(opt(c, O_OPERATION), 1, LONG_MAX, &v))
    return usage_error("--operation wants an operation id");
  return CTL_EXIT_OK;
}

/* A list route, one page or (--all) every page: `key` is the array, "next" the cursor. With
 * --json the pages are merged into one answer. */
static int list_pages(struct ctl *c, const char *path, const char *key,
                      void (*rows)(json_t *, bool)) {
  static const int ids[] = {O_LIMIT, O_OPERATION};
  static const char *const names[] = {"limit", "operation"};
  char query[256], cursor[64], url[512];
  json_t *all = NULL, *out = NULL;
  int rc = CTL_EXIT_OK;
  bool first = true;
  snprintf(cursor, sizeof cursor, "%s", has(c, O_AFTER) ? opt(c, O_AFTER) : "");
  query_of(c, ids, names, 2, query, sizeof query);
  if (has(c, O_PROFILES))
    snprintf(query + strlen(query), sizeof query - strlen(query), "%cprofiles=true",
             query[0] ? '&' : '?');
  for (;;) {
    snprintf(url, sizeof url, "%s%s%s%s%s", path, query, cursor[0] ? (query[0] ? "&" : "?") : "",
             cursor[0] ? "after=" : "", cursor);
    if ((rc = call(c, "GET", url, NULL, &out)) != CTL_EXIT_OK) break;
    json_t *items = GET(out, key), *next = GET(out, "next");
    if (c->json && !all)
      all = json_incref(out);
    else if (c->json)
      json_array_extend(GET(all, key), items);
    else
      rows(items, first);
    first = false;
    cursor[0] = '\0';
    if (json_is_string(next)) snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
    if (json_is_integer(next))
      snprintf(cursor, sizeof cursor, "%lld", (long long)json_integer_value(next));
    if (!has(c, O_ALL) || !cursor[0]) {
      if (c->json) {
        json_object_set(all, "next", next);
        print_json(all);
      } else if (cursor[0]) {
        printf("more: --after %s (or --all)\n", cursor);
      }
      break;
    }
    json_decref(out);
    out = NULL;
  }
  json_decref(out);
  json_decref(all);
  return rc;
}

static int cmd_device_list(struct ctl *c) {
  int rc = page_opts(c, true);
  return rc != CTL_EXIT_OK ? rc : list_pages(c, "/v1/devices", "devices", print_device_rows);
}

static int cmd_device_show(struct ctl *c) {
  char path[128];
  json_t *out;
  snprintf(path, sizeof path, "/v1/devices/%s", cli.pos[0]);
  int rc = call(c, "GET", path, NULL, &out);
  if (rc != CTL_EXIT_OK) return rc;
  if (c->json)
    print_json(out);
  else
    print_device(out);
  json_decref(out);
  return CTL_EXIT_OK;
}

static int cmd_device_add_initial(struct ctl *c) {
  char path[128];
  json_t *out;
  uint8_t *der = NULL;
  size_t len = 0;
  snprintf(path, sizeof path, "/v1/devices/%s/add-initial-eim", cli.pos[0]);
  int rc = call(c, "GET", path, NULL, &out);
  if (rc != CTL_EXIT_OK) return rc;
  json_t *b64 = GET(out, "addInitialEimRequest");
  size_t n = json_string_length(b64);
  rc = CTL_EXIT_FAIL;
  if (!json_is_string(b64) || !(der = malloc(rsp_msg_base64_decoded_max(n) + 1)) ||
      rsp_msg_base64_decode(json_string_value(b64), n, der, rsp_msg_base64_decoded_max(n) + 1,
                            &len) != RSP_OK) {
    fail("the answer carries no AddInitialEimRequest");
    goto out;
  }
  if (has(c, O_OUT) && !write_file(opt(c, O_OUT), der, len)) goto out;
  if (c->json) {
    print_json(out);
  } else if (has(c, O_OUT)) {
    printf("%s: AddInitialEimRequest for %s, %zu bytes\n", opt(c, O_OUT), cli.pos[0], len);
  } else {
    for (size_t i = 0; i < len; i++) printf("%02X", der[i]);
    printf("\n");
  }
  rc = CTL_EXIT_OK;
out:
  free(der);
  json_decref(out);
  return rc;
}

/* The spec of op add / op bulk: --spec-json, --spec-file, or a shortcut from the positional
 * words (`words`, n of them). NULL when it is a usage error (*rc set). */
static json_t *shortcut(const char *verb, char **args, int n, bool rollback, int *rc) {
  struct {
    const char *verb;
    int nargs;
  } const forms[] = {{"enable", 1},  {"disable", 1},  {"delete", 1},    {"list-profiles", 0},
                     {"get-rat", 0}, {"download", 1}, {"euicc-data", 1}};
  size_t i = 0;
  while (i < sizeof forms / sizeof forms[0] && strcmp(forms[i].verb, verb) != 0) i++;
  if (i == sizeof forms / sizeof forms[0]) {
    *rc = usage_error("unknown operation %s", verb);
    return NULL;
  }
  if (n != forms[i].nargs) {
    *rc = usage_error("%s wants %s", verb, forms[i].nargs ? "one argument" : "no argument");
    return NULL;
  }
  if (rollback && strcmp(verb, "enable") != 0) {
    *rc = usage_error("--rollback goes with enable only");
    return NULL;
  }
  *rc = CTL_EXIT_OK;
  switch (i) {
  case 0:
    return json_pack("{s:s, s:[{s:{s:s, s:b}}]}", "kind", "psmo", "psmos", "enable", "iccid",
                     args[0], "rollback", rollback);
  case 1:
  case 2:
    return json_pack("{s:s, s:[{s:{s:s}}]}", "kind", "psmo", "psmos", verb, "iccid", args[0]);
  case 3:
    return json_pack("{s:s, s:[{s:{}}]}", "kind", "psmo", "psmos", "listProfileInfo");
  case 4:
    return json_pack("{s:s, s:[{s:{}}]}", "kind", "psmo", "psmos", "getRAT");
  case 5:
    return json_pack("{s:s, s:s}", "kind", "download", "activationCode", args[0]);
  default:
    return json_pack("{s:s, s:s}", "kind", "euicc_data", "tags", args[0]);
  }
}

static json_t *spec_of(struct ctl *c, char **words, int n, int *rc) {
  int sources = has(c, O_SPEC_JSON) + has(c, O_SPEC_FILE) + (n > 0);
  json_t *spec = NULL;
  *rc = CTL_EXIT_FAIL;
  if (sources != 1) {
    *rc = usage_error("give the operation once: --spec-json, --spec-file or a shortcut");
    return NULL;
  }
  if (has(c, O_ROLLBACK) && n == 0) {
    *rc = usage_error("--rollback goes with the enable shortcut");
    return NULL;
  }
  if (has(c, O_SPEC_JSON)) {
    const char *t = opt(c, O_SPEC_JSON);
    if (!(spec = json_object_from(t, strlen(t), "--spec-json"))) *rc = CTL_EXIT_USAGE;
  } else if (has(c, O_SPEC_FILE)) {
    spec = json_file(opt(c, O_SPEC_FILE));
  } else {
    spec = shortcut(words[0], words + 1, n - 1, has(c, O_ROLLBACK), rc);
    if (!spec && *rc == CTL_EXIT_OK) *rc = fail("out of memory");
  }
  if (spec) *rc = CTL_EXIT_OK;
  return spec;
}

/* The times of op add / op bulk into `body`. */
static int times_into(struct ctl *c, json_t *body) {
  static const int ids[] = {O_NOT_BEFORE, O_EXPIRES_AT};
  static const char *const keys[] = {"notBefore", "expiresAt"};
  for (int i = 0; i < 2; i++) {
    int64_t t;
    if (!has(c, ids[i])) continue;
    if (!parse_time(opt(c, ids[i]), &t))
      return usage_error("--%s wants seconds since 1970, +N[smhd] or YYYY-MM-DDTHH:MM:SSZ",
                         i ? "expires-at" : "not-before");
    json_object_set_new(body, keys[i], json_integer((json_int_t)t));
  }
  return CTL_EXIT_OK;
}

static int cmd_op_add(struct ctl *c) {
  char path[128];
  int rc;
  json_t *spec = spec_of(c, cli.pos + 1, cli.n_pos - 1, &rc), *body = NULL, *out = NULL;
  if (!spec) return rc;
  body = json_pack("{s:o}", "spec", spec);
  if (!body) return fail("out of memory");
  if ((rc = times_into(c, body)) != CTL_EXIT_OK) goto out;
  snprintf(path, sizeof path, "/v1/devices/%s/operations", cli.pos[0]);
  if ((rc = call(c, "POST", path, body, &out)) != CTL_EXIT_OK) goto out;
  if (c->json)
    print_json(out);
  else
    printf("operation %lld queued for %s (%s, position %lld)\n",
           (long long)json_integer_value(GET(out, "id")), cli.pos[0], s_or(GET(out, "kind"), "?"),
           (long long)json_integer_value(GET(out, "seq")));
out:
  json_decref(body);
  json_decref(out);
  return rc;
}

static int cmd_op_list(struct ctl *c) {
  char path[128];
  int rc = page_opts(c, false);
  if (rc != CTL_EXIT_OK) return rc;
  snprintf(path, sizeof path, "/v1/devices/%s/operations", cli.pos[0]);
  return list_pages(c, path, "operations", print_op_rows);
}

static bool op_id_ok(const char *s) {
  long v;
  return parse_long(s, 1, LONG_MAX, &v);
}

static int cmd_op_show_or_cancel(struct ctl *c, bool cancel) {
  char path[64];
  json_t *out;
  if (!op_id_ok(cli.pos[0])) return usage_error("%s is no operation id", cli.pos[0]);
  snprintf(path, sizeof path, "/v1/operations/%s", cli.pos[0]);
  int rc = call(c, cancel ? "DELETE" : "GET", path, NULL, &out);
  if (rc != CTL_EXIT_OK) return rc;
  if (c->json)
    print_json(out);
  else if (cancel)
    printf("operation %s cancelled\n", cli.pos[0]);
  else
    print_op(out);
  json_decref(out);
  return CTL_EXIT_OK;
}

static int cmd_op_show(struct ctl *c) { return cmd_op_show_or_cancel(c, false); }
static int cmd_op_cancel(struct ctl *c) { return cmd_op_show_or_cancel(c, true); }

/* The EIDs of --eids-file: one per line, '#' comments and blank lines skipped. */
static json_t *read_eids(const char *path) {
  struct rsp_buf b;
  json_t *eids = NULL;
  rsp_buf_init(&b, CTL_EIDS_FILE_MAX);
  if (!read_file(path, &b) || !(eids = json_array())) goto out;
  for (size_t i = 0; i < b.len;) {
    size_t end = i, s, e;
    while (end < b.len && b.data[end] != '\n') end++;
    for (s = i; s < end && (b.data[s] == ' ' || b.data[s] == '\t'); s++) {
    }
    for (e = end; e > s && (b.data[e - 1] == ' ' || b.data[e - 1] == '\t' || b.data[e - 1] == '\r');
         e--) {
    }
    if (e > s && b.data[s] != '#' &&
        json_array_append_new(eids, json_stringn((const char *)b.data + s, e - s)) != 0) {
      fail("%s: line is not UTF-8 text", path);
      json_decref(eids);
      eids = NULL;
      goto out;
    }
    i = end + 1;
  }
  if (json_array_size(eids) == 0) {
    fail("%s: no EID in the file", path);
    json_decref(eids);
    eids = NULL;
  }
out:
  rsp_buf_free(&b);
  return eids;
}

/* Sends the EIDs RSP_EIM_API_BULK_MAX at a time; the answers are merged into `all`. */
static int bulk_send(struct ctl *c, json_t *eids, json_t *body, json_t *all) {
  size_t n = json_array_size(eids);
  for (size_t first = 0; first < n; first += RSP_EIM_API_BULK_MAX) {
    json_t *chunk = json_array(), *out = NULL;
    size_t last = first + RSP_EIM_API_BULK_MAX < n ? first + RSP_EIM_API_BULK_MAX : n;
    for (size_t i = first; chunk && i < last; i++)
      json_array_append(chunk, json_array_get(eids, i));
    if (!chunk) return fail("out of memory");
    json_object_set_new(body, "eids", chunk);
    int rc = call(c, "POST", "/v1/operations/bulk", body, &out);
    if (rc != CTL_EXIT_OK) {
      if (first) fprintf(stderr, "rsp-eimctl: the first %zu EIDs were sent already\n", first);
      return rc;
    }
    json_array_extend(GET(all, "created"), GET(out, "created"));
    json_array_extend(GET(all, "refused"), GET(out, "refused"));
    if (GET(out, "kind")) json_object_set(all, "kind", GET(out, "kind"));
    json_decref(out);
  }
  return CTL_EXIT_OK;
}

static int cmd_op_bulk(struct ctl *c) {
  int rc;
  json_t *spec = spec_of(c, cli.pos, cli.n_pos, &rc), *eids = NULL, *body = NULL, *all = NULL;
  size_t i;
  json_t *r;
  if (!spec) return rc;
  body = json_pack("{s:o}", "spec", spec);
  all = json_pack("{s:[], s:[]}", "created", "refused");
  rc = CTL_EXIT_FAIL;
  if (!body || !all) goto out;
  if ((rc = times_into(c, body)) != CTL_EXIT_OK) goto out;
  rc = CTL_EXIT_FAIL;
  if (!(eids = read_eids(opt(c, O_EIDS_FILE)))) goto out;
  if ((rc = bulk_send(c, eids, body, all)) != CTL_EXIT_OK) goto out;
  if (c->json) {
    print_json(all);
    goto out;
  }
  printf("%zu operations queued, %zu EIDs refused\n", json_array_size(GET(all, "created")),
         json_array_size(GET(all, "refused")));
  json_array_foreach(GET(all, "refused"), i, r) {
    char eid[80];
    compact(GET(r, "eid"), 40, eid, sizeof eid);
    printf("  refused %s: %s\n",
           json_is_string(GET(r, "eid")) ? json_string_value(GET(r, "eid")) : eid,
           s_or(GET(r, "error"), "?"));
  }
out:
  json_decref(body);
  json_decref(all);
  json_decref(eids);
  return rc;
}

static int cmd_audit(struct ctl *c) {
  char path[128];
  int rc = page_opts(c, false);
  if (rc != CTL_EXIT_OK) return rc;
  snprintf(path, sizeof path, "/v1/devices/%s/audit", cli.pos[0]);
  return list_pages(c, path, "entries", print_audit_rows);
}

/* ---- stats ----------------------------------------------------------------------------------- */

static long long count_of(json_t *obj, const char *key) {
  json_t *v = GET(obj, key);
  return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static void print_stats(json_t *s) {
  static const char *const states[] = {"queued", "sent", "done", "failed", "expired", "cancelled"};
  json_t *ops = GET(s, "operations"), *esipa = GET(s, "esipa"), *kinds = GET(s, "byKind"), *v;
  const char *kind;
  char b1[32];
  printf("devices:           %lld\n", count_of(s, "devices"));
  printf("operations:        %lld in all\n", count_of(ops, "total"));
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
    printf("  %-16s %lld\n", states[i], count_of(ops, states[i]));
  printf("rolled back:       %lld\n", count_of(s, "rolledBack"));
  if (json_is_object(esipa))
    printf("esipa requests:    %lld since %s\n", count_of(esipa, "requests"),
           fmt_time(GET(esipa, "since"), "-", b1));
  else
    printf("esipa requests:    - (not counted by this server)\n");
  if (!json_object_size(kinds)) return;
  printf("\n%-12s", "KIND");
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) printf(" %9s", states[i]);
  printf("\n");
  json_object_foreach(kinds, kind, v) {
    printf("%-12s", kind);
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
      printf(" %9lld", count_of(v, states[i]));
    printf("\n");
  }
}

static double monotonic_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Polls /v1/stats until no operation is queued or sent (progress on stderr); the last answer in
 * *out. CTL_EXIT_FAIL when --timeout (the whole wait) passes first or a request fails. */
static int wait_idle(struct ctl *c, json_t **out) {
  double start = monotonic_s(), last_report = -1;
  long long last_done = -1, last_failed = -1, last_total = -1;
  *out = NULL;
  for (;;) {
    json_t *s = NULL;
    int rc = call(c, "GET", "/v1/stats", NULL, &s);
    if (rc != CTL_EXIT_OK) return rc;
    json_t *ops = GET(s, "operations");
    long long open = count_of(ops, "queued") + count_of(ops, "sent");
    long long done = count_of(ops, "done"), failed = count_of(ops, "failed");
    long long total = count_of(ops, "total");
    double now = monotonic_s();
    if (done != last_done || failed != last_failed || total != last_total || open == 0 ||
        now - last_report >= CTL_WAIT_REPORT_S) {
      fprintf(stderr, "rsp-eimctl: %lld/%lld/%lld done/failed/total, %lld queued or sent\n", done,
              failed, total, open);
      last_done = done;
      last_failed = failed;
      last_total = total;
      last_report = now;
    }
    if (open == 0) {
      *out = s;
      return CTL_EXIT_OK;
    }
    json_decref(s);
    if (has(c, O_TIMEOUT) && now - start + CTL_WAIT_POLL_S > (double)c->timeout_s)
      return fail("timed out after %ld s: %lld operations still queued or sent", c->timeout_s,
                  open);
    sleep(CTL_WAIT_POLL_S);
  }
}

static int cmd_stats(struct ctl *c) {
  json_t *out = NULL;
  int rc = has(c, O_WAIT_IDLE) ? wait_idle(c, &out) : call(c, "GET", "/v1/stats", NULL, &out);
  if (rc != CTL_EXIT_OK) return rc;
  if (c->json)
    print_json(out);
  else
    print_stats(out);
  json_decref(out);
  return CTL_EXIT_OK;
}

/* ---- op add-many ----------------------------------------------------------------------------- */

/* One line of --ops-file: "EID SPEC-JSON" (blanks around both). *eid and *spec point into the
 * line (spec runs to its end); false with `why` when the line is neither that nor blank. *skip
 * for blank and '#' comment lines. */
static bool ops_line(char *line, size_t len, char **eid, char **spec, size_t *spec_len, bool *skip,
                     const char **why) {
  size_t s = 0, e = len;
  while (s < e && (line[s] == ' ' || line[s] == '\t')) s++;
  while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t' || line[e - 1] == '\r')) e--;
  *skip = s == e || line[s] == '#';
  if (*skip) return true;
  size_t k = s;
  while (k < e && line[k] != ' ' && line[k] != '\t') k++;
  if (k == e) {
    *why = "no spec after the EID (a line is 'EID SPEC-JSON')";
    return false;
  }
  line[k] = '\0';
  *eid = line + s;
  if (!is_eid(*eid)) {
    *why = "not an EID (32 decimal digits) at the start of the line";
    return false;
  }
  while (k + 1 < e && (line[k + 1] == ' ' || line[k + 1] == '\t')) k++;
  *spec = line + k + 1;
  *spec_len = e - k - 1;
  return true;
}

struct add_many {
  const char *path;
  size_t lines, queued, refused;
  json_t *created; /* --json: [{"line", "eid", "id"}] */
};

/* Reports a refused line on stderr: its number, the EID and why. */
static void line_refused(struct add_many *m, size_t line, const char *eid, const char *fmt, ...)
    RSP_PRINTF(4, 5);
static void line_refused(struct add_many *m, size_t line, const char *eid, const char *fmt, ...) {
  va_list ap;
  m->refused++;
  fprintf(stderr, "rsp-eimctl: %s:%zu: %s%s", m->path, line, eid ? eid : "", eid ? ": " : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* Queues the operation of one line. CTL_EXIT_OK also when the API refused it (reported);
 * CTL_EXIT_FAIL when the server could not be asked at all. */
static int add_one(struct ctl *c, struct add_many *m, size_t line, const char *eid,
                   const char *text, size_t len) {
  char path[128], where[64];
  struct api_refusal why;
  json_t *out = NULL, *spec, *body;
  int rc;
  snprintf(where, sizeof where, "%s:%zu", m->path, line);
  json_error_t err;
  spec = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!json_is_object(spec)) {
    if (spec)
      line_refused(m, line, eid, "the spec is not a JSON object");
    else
      line_refused(m, line, eid, "the spec is not JSON: %s (column %d)", err.text, err.column);
    json_decref(spec);
    return CTL_EXIT_OK;
  }
  if (!(body = json_pack("{s:o}", "spec", spec))) return fail("out of memory");
  if ((rc = times_into(c, body)) != CTL_EXIT_OK) {
    json_decref(body);
    return rc;
  }
  snprintf(path, sizeof path, "/v1/devices/%s/operations", eid);
  rc = call_ex(c, "POST", path, body, &out, &why);
  json_decref(body);
  if (rc != CTL_EXIT_OK && why.status == 0) return rc; /* no answer: printed already */
  if (rc != CTL_EXIT_OK) {
    line_refused(m, line, eid, "HTTP %d %s: %s", why.status, why.code, why.detail);
    return CTL_EXIT_OK;
  }
  long long id = (long long)json_integer_value(GET(out, "id"));
  m->queued++;
  if (!c->json)
    printf("%s %lld\n", eid, id);
  else if (json_array_append_new(m->created, json_pack("{s:I, s:s, s:I}", "line", (json_int_t)line,
                                                       "eid", eid, "id", (json_int_t)id)) != 0)
    rc = fail("out of memory");
  json_decref(out);
  return rc;
}

static int cmd_op_add_many(struct ctl *c) {
  struct add_many m = {.path = opt(c, O_OPS_FILE)};
  struct rsp_buf b;
  struct rsp_net_client_stats ns;
  int rc = CTL_EXIT_OK;
  int64_t t;
  for (int id = O_NOT_BEFORE; id <= O_EXPIRES_AT; id++)
    if (has(c, id) && !parse_time(opt(c, id), &t))
      return usage_error("--%s wants seconds since 1970, +N[smhd] or YYYY-MM-DDTHH:MM:SSZ",
                         id == O_NOT_BEFORE ? "not-before" : "expires-at");
  rsp_buf_init(&b, CTL_OPS_FILE_MAX);
  if (!read_file(m.path, &b) || rsp_buf_append_byte(&b, '\0') != RSP_OK ||
      !(m.created = json_array())) {
    rsp_buf_free(&b);
    return CTL_EXIT_FAIL;
  }
  char *p = (char *)b.data, *end = p + b.len - 1;
  size_t line = 0;
  while (rc == CTL_EXIT_OK && p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p)), *eid = NULL, *spec = NULL;
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p), spec_len = 0;
    const char *why = NULL;
    bool skip = false;
    line++;
    if (memchr(p, '\0', len))
      line_refused(&m, line, NULL, "a NUL byte in the line");
    else if (!ops_line(p, len, &eid, &spec, &spec_len, &skip, &why))
      line_refused(&m, line, NULL, "%s", why);
    else if (!skip)
      rc = add_one(c, &m, line, eid, spec, spec_len);
    if (!skip && ++m.lines % CTL_PROGRESS_LINES == 0)
      fprintf(stderr, "rsp-eimctl: %zu lines: %zu queued, %zu refused\n", m.lines, m.queued,
              m.refused);
    p += len + (nl ? 1 : 0);
  }
  if (rc != CTL_EXIT_OK)
    fprintf(stderr, "rsp-eimctl: stopped at line %zu; the %zu operations before it are queued\n",
            line, m.queued);
  if (c->json) print_json(m.created); /* what was queued, also when the run stopped early */
  rsp_net_client_stats(c->client, &ns);
  fprintf(stderr,
          "rsp-eimctl: %zu operations queued, %zu lines refused (%lu requests over %lu "
          "connection%s)\n",
          m.queued, m.refused, ns.requests, ns.connections, ns.connections == 1 ? "" : "s");
  json_decref(m.created);
  rsp_buf_free(&b);
  if (rc == CTL_EXIT_OK && m.lines == 0) rc = fail("%s: no operation in the file", m.path);
  return rc == CTL_EXIT_OK && m.refused ? CTL_EXIT_FAIL : rc;
}

/* ---- the command table ----------------------------------------------------------------------- */

struct ctl_cmd {
  struct rsp_cli_cmd cli; /* words, positionals (max -1: checked by the command), options */
  bool eid_first;         /* the first positional is an EID */
  int (*run)(struct ctl *c);
};

#define CMD(w1, w2, min, max, opts)                                                                \
  { w1, w2, min, max, opts }
static const struct ctl_cmd commands[] = {
    {CMD("health", NULL, 0, 0, 0), false, cmd_health},
    {CMD("stats", NULL, 0, 0, BIT(O_WAIT_IDLE)), false, cmd_stats},
    {CMD("device", "add", 1, 1,
         BIT(O_EIM_ID) | BIT(O_EUICC_CERT) | BIT(O_EUM_CERT) | BIT(O_TOKEN) | BIT(O_INITIAL_EIM)),
     true, cmd_device_add},
    {CMD("device", "list", 0, 0, BIT(O_AFTER) | BIT(O_LIMIT) | BIT(O_ALL) | BIT(O_PROFILES)), false,
     cmd_device_list},
    {CMD("device", "show", 1, 1, 0), true, cmd_device_show},
    {CMD("device", "add-initial-eim", 1, 1, BIT(O_OUT)), true, cmd_device_add_initial},
    {CMD("op", "add", 1, -1, SPEC_OPTS), true, cmd_op_add},
    {CMD("op", "list", 1, 1, BIT(O_AFTER) | BIT(O_LIMIT) | BIT(O_ALL)), true, cmd_op_list},
    {CMD("op", "show", 1, 1, 0), false, cmd_op_show},
    {CMD("op", "cancel", 1, 1, 0), false, cmd_op_cancel},
    {CMD("op", "bulk", 0, -1, SPEC_OPTS | BIT(O_EIDS_FILE)), false, cmd_op_bulk},
    {CMD("op", "add-many", 0, 0, BIT(O_OPS_FILE) | BIT(O_NOT_BEFORE) | BIT(O_EXPIRES_AT)), false,
     cmd_op_add_many},
    {CMD("audit", NULL, 1, 1, BIT(O_AFTER) | BIT(O_LIMIT) | BIT(O_OPERATION) | BIT(O_ALL)), true,
     cmd_audit},
};

/* lib/cli's on_opt: the global options into `c` as they are parsed. */
static int set_global(void *ctx, int o, const char *arg) {
  struct ctl *c = ctx;
  switch (o) {
  case O_URL:
    c->url = arg;
    break;
  case O_API_KEY:
    c->api_key = arg;
    break;
  case O_API_KEY_FILE:
    c->api_key_file = arg;
    break;
  case O_CA:
    c->ca = arg;
    break;
  case O_JSON:
    c->json = true;
    break;
  case O_TIMEOUT:
    if (!parse_long(arg, 1, CTL_TIMEOUT_MAX_S, &c->timeout_s))
      return usage_error("--timeout wants 1 to %d seconds", CTL_TIMEOUT_MAX_S);
    break;
  default:
    break;
  }
  return CTL_EXIT_OK;
}

/* What lib/cli does not check: EIDs, and the files some commands need. */
static int check_command(const struct ctl_cmd *k) {
  if (k->eid_first && !is_eid(cli.pos[0]))
    return usage_error("%s is no EID (32 decimal digits)", cli.pos[0]);
  if (k->run == cmd_op_bulk && !has(NULL, O_EIDS_FILE))
    return usage_error("op bulk needs --eids-file");
  if (k->run == cmd_op_add_many && !has(NULL, O_OPS_FILE))
    return usage_error("op add-many needs --ops-file");
  return CTL_EXIT_OK;
}

int main(int argc, char **argv) {
  struct ctl c;
  int rc;
  rsp_log_set_sink(RSP_LOG_SINK_STDERR, "rsp-eimctl");
  rsp_log_set_level(RSP_LOG_ERROR);
  memset(&c, 0, sizeof c);
  c.timeout_s = CTL_DEFAULT_TIMEOUT_S;
  cli = (struct rsp_cli){.prog = "rsp-eimctl",
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
  if ((rc = check_command(&commands[i])) != CTL_EXIT_OK) return rc;
  if ((rc = setup_client(&c)) != CTL_EXIT_OK) return rc;
  rc = commands[i].run(&c);
  rsp_net_client_destroy(c.client);
  return rc;
}
