/* rsp-smdp: the SM-DP+ (GSMA SGP.22) as a program. It puts two HTTPS servers (lib/net) in front
 * of the SM-DP+ service (include/rsp/smdp/service.h) and sends the operator callbacks and the
 * ES12 calls the service queues; it also runs the SM-DS role (include/rsp/smdp/smds.h,
 * rsp_smdp_smds.c) and makes and inspects test profile packages.
 *
 *   rsp-smdp serve --pki DIR --state FILE [...]           ES9+ and ES2+ over HTTPS
 *                  [--smds-listen HOST:PORT ...]          ... and the SM-DS (ES11, ES12)
 *   rsp-smdp smds --pki DIR --state FILE [...]            the SM-DS alone
 *   rsp-smdp profile new --iccid D --imsi D --out FILE    a generated test profile package
 *   rsp-smdp profile info FILE [--json]                   ICCID and type of a package
 *
 * ES9+ is served in both bindings of SGP.22: JSON on /gsma/rsp2/es9plus/<function> (§6.5) and
 * ASN.1 on /gsma/rsp2/asn1 (§6.6, rsp_smdp_service_handle_asn1).
 *
 * Threads of `serve`: each server runs its event-loop threads; every loop thread opens its own
 * SM-DP+ identity and service object on its first request, because a service object serves one
 * thread at a time (SQLite serialises the writers of the shared file). One more thread POSTs
 * the outbox to the operator, the ES12 calls to the SM-DSs (to the SM-DS role in-process when the
 * smdsAddress is its address) and expires old orders and sessions. The main thread blocks
 * SIGINT and SIGTERM before any other thread exists and waits for them with sigwait.
 *
 * Exit codes: 0 success (serve: after SIGINT/SIGTERM), 1 failure, 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "rsp/core/alloc.h"
#include "rsp/core/buf.h"
#include "rsp/core/log.h"
#include "rsp/der/der.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/json.h"
#include "rsp/net/http.h"
#include "rsp/smdp/service.h"
#include "rsp/smdp/smds.h"
#include "rsp_smdp.h"

#define SMDP_ADMIN_PREFIX "gsma/rsp/v2."
/* The largest ES9+/ES2+ request, authenticateClient, carries euiccInfo2 and two certificates: a
 * few kB of base64. 64 KiB leaves a wide margin and bounds what an anonymous client can make the
 * server buffer. */
#define SMDP_MAX_REQUEST_BODY (64u * 1024u)
#define SMDP_DEFAULT_ES9P "127.0.0.1:8443"
#define SMDP_DEFAULT_ES2P "127.0.0.1:8444"
#define SMDP_MAX_WORKERS (2 * RSP_NET_MAX_THREADS)
/* The sender looks at the outbox when a function was served, and at least this often. */
#define SMDP_POLL_MS 5000
#define SMDP_EXPIRE_PERIOD_MS 60000
#define SMDP_RETRY_FIRST_MS 1000
#define SMDP_RETRY_MAX_MS 60000
/* A callback in flight delays the shutdown by at most this much. */
#define SMDP_CALLBACK_CONNECT_MS 5000
#define SMDP_CALLBACK_TIMEOUT_MS 10000

static const char usage_text[] =
    "usage: rsp-smdp serve --pki DIR --state FILE [options]\n"
    "       rsp-smdp smds --pki DIR --state FILE [options]\n"
    "       rsp-smdp profile new --iccid DIGITS --imsi DIGITS --out FILE\n"
    "       rsp-smdp profile info FILE [--json]\n"
    "       rsp-smdp --help\n"
    "\n"
    "SM-DP+ (GSMA SGP.22): ES9+ for LPAs and IPAs and ES2+ for operators over HTTPS, with the\n"
    "profiles, orders and download sessions in one SQLite file. Operators can drive ES2+ from\n"
    "the shell with rsp-smdpctl (rsp-smdpctl --help).\n"
    "\n"
    "serve:\n"
    "  --pki DIR             PKI directory in the rsp-pki layout: keys and certificates from\n"
    "                        DIR/smdp/auth and DIR/smdp/pb, the TLS certificate and key from\n"
    "                        DIR/smdp/tls/{cert,key}.pem; eUICC chains must end at DIR/ci\n"
    "  --state FILE          SQLite file of profiles, orders, sessions and operator callbacks\n"
    "                        (created when absent; kept across restarts)\n"
    "  --listen HOST:PORT    ES9+, no client certificate (default " SMDP_DEFAULT_ES9P ")\n"
    "  --es2-listen HOST:PORT  ES2+, client certificate required (default " SMDP_DEFAULT_ES2P ")\n"
    "                        HOST is a numeric address, [V6]:PORT for IPv6\n"
    "  --tls-cert FILE       TLS certificate (PEM, optionally followed by its chain) of both\n"
    "                        servers (default DIR/smdp/tls/cert.pem), with\n"
    "  --tls-key FILE        its private key (default DIR/smdp/tls/key.pem)\n"
    "  --operator-ca FILE    ES2+ clients must present a certificate issued by a CA of this\n"
    "                        PEM file (default DIR/ci/cert.pem)\n"
    "  --address NAME        SM-DP+ address (FQDN[:PORT]) in activation codes and serverSigned1;\n"
    "                        LPAs must send it back (default the --listen HOST:PORT, with\n"
    "                        localhost for a loopback HOST; needed\n"
    "                        with a wildcard or IPv6 HOST)\n"
    "  --profiles DIR        add every DIR/*.der profile package, read in place at each\n"
    "                        download; ICCIDs already known are skipped\n"
    "  --generate N          add N generated test profiles, with:\n"
    "  --iccid-base DIGITS   the first ICCID without its check digit (17 to 19 digits); profile\n"
    "                        i gets DIGITS + i and the Luhn check digit\n"
    "  --imsi-base DIGITS    the first IMSI (6 to 15 digits); profile i gets DIGITS + i\n"
    "                        (profile type \"openrsp test profile\")\n"
    "  --batch COUNT:ICCID_BASE:IMSI_BASE:PROFILE_TYPE[:SERVICE_PROVIDER_NAME]\n"
    "                        add COUNT generated profiles as --generate does (ICCID_BASE 17 to\n"
    "                        19 digits without check digit, IMSI_BASE 6 to 15 digits) with\n"
    "                        this profileType (1 to 100 bytes, no ':') in their ProfileHeader\n"
    "                        and store, so ES2+ downloadOrder by profileType picks from them;\n"
    "                        the card's profile metadata shows PROFILE_TYPE (its first 64\n"
    "                        bytes) as profile name and SERVICE_PROVIDER_NAME (1 to 32 bytes,\n"
    "                        default \"openrsp\"). Repeat it for several batches (at most 64);\n"
    "                        their ICCID ranges must not overlap. ICCIDs already in the state\n"
    "                        file are skipped (a restart), whatever their type\n"
    "  --operator-url URL    where the ES2+ HandleDownloadProgressInfo callbacks are POSTed\n"
    "                        (https; a URL without a path gets the function's path). Without\n"
    "                        it the callbacks wait in the state file\n"
    "  --operator-cert FILE  client certificate (PEM) for the callbacks, with\n"
    "  --operator-key FILE   its private key (PEM)\n"
    "  --operator-ca-file FILE  CA (PEM) of the operator's server certificate\n"
    "                        (default DIR/ci/cert.pem)\n"
    "  --session-ttl SECONDS lifetime of a download session (default 300)\n"
    "  --threads N           event-loop threads per server (default 1)\n"
    "  --ignore-cert-time    accept expired or not yet valid eUICC and EUM certificates\n"
    "  --log-level LEVEL     error, warn, info (default), debug, trace\n"
    "\n"
    "  SM-DS (SGP.22 3.6): an order confirmed with smdsAddress gets an event at that SM-DS once\n"
    "  released (ES12 registerEvent; eventId = matchingId), deleted when the order ends. The\n"
    "  calls are sent after the order's change commits, retried until the SM-DS answers.\n"
    "  --smds-listen HOST:PORT  also run the SM-DS role on this port: ES11 for devices (ES9+\n"
    "                        and /gsma/rsp2/es11/ paths), ES12 with a client certificate\n"
    "  --smds-address NAME   its address (default the --smds-listen HOST:PORT); an smdsAddress\n"
    "                        equal to it is served in-process, any other over HTTPS\n"
    "  --smds-state FILE     its events and sessions (default the --state file)\n"
    "  --smds-tls-cert FILE, --smds-tls-key FILE  its TLS certificate and key\n"
    "                        (default DIR/smds/tls/{cert,key}.pem)\n"
    "  --smds-client-ca FILE  CA of the SM-DP+s that may call its ES12 (default DIR/ci/cert.pem)\n"
    "  --es12-cert FILE, --es12-key FILE  client certificate toward remote SM-DSs (mutual TLS;\n"
    "                        default DIR/smdp/tls/{cert,key}.pem)\n"
    "  --es12-ca FILE        CA of remote SM-DSs' TLS certificates (default DIR/ci/cert.pem)\n"
    "\n"
    "  Requests must be POST (else 405) with Content-Type application/json (else 415) and\n"
    "  X-Admin-Protocol gsma/rsp/v2.x.y (else 400); bodies over 64 KiB get 413. Answers carry\n"
    "  X-Admin-Protocol " SMDP_ADMIN_PROTOCOL ". One log line per served function.\n"
    "  ES9+ also serves the ASN.1 binding (SGP.22 6.6) on " RSP_SMDP_ASN1_PATH ": a DER\n"
    "  RemoteProfileProvisioningRequest with Content-Type " RSP_SMDP_ASN1_CONTENT_TYPE "\n"
    "  (else 415), answered with a RemoteProfileProvisioningResponse of the same type.\n"
    "\n"
    "smds --pki DIR --state FILE [options]\n"
    "  the SM-DS role alone (rsp-smdp smds --help)\n"
    "\n"
    "profile new --iccid DIGITS --imsi DIGITS --out FILE\n"
    "  writes a generated test profile package (DER: ProfileHeader, EF.ICCID, EF.IMSI, end)\n"
    "profile info FILE [--json]\n"
    "  prints the ICCID and profile type of a profile package's ProfileHeader\n"
    "\n"
    "SIGINT or SIGTERM stop serve cleanly. Exit codes: 0 success (serve: after a signal),\n"
    "1 failure, 2 usage error.\n";

struct smdp_opts {
  const char *pki_dir;
  const char *state_path;
  const char *listen;
  const char *es2_listen;
  const char *tls_cert;
  const char *tls_key;
  const char *operator_ca;
  const char *address;
  const char *profiles_dir;
  long generate;
  const char *iccid_base;
  const char *imsi_base;
  struct smdp_batch batches[SMDP_BATCH_MAX];
  size_t n_batches;
  const char *operator_url;
  const char *operator_cert;
  const char *operator_key;
  const char *operator_ca_file;
  long session_ttl;
  long threads;
  bool ignore_cert_time;
  const char *smds_listen;
  const char *smds_address;
  const char *smds_state;
  const char *smds_tls_cert;
  const char *smds_tls_key;
  const char *smds_client_ca;
  const char *es12_cert;
  const char *es12_key;
  const char *es12_ca;
};

/* What one thread uses to serve: its own identity (signers) and service object. */
struct smdp_worker {
  struct rsp_smdp_identity *id;
  struct rsp_smdp_service *svc;
};

struct smdp_app;

/* One server: the functions it serves and where it logs. */
struct smdp_iface {
  struct smdp_app *app;
  const char *comp; /* log component of the function lines */
  enum rsp_msg_json_func first, last;
  bool asn1; /* serves the ASN.1 binding of ES9+ at RSP_SMDP_ASN1_PATH */
};

struct smdp_app {
  const struct smdp_opts *o;
  char address[RSP_SMDP_ADDRESS_MAX + 1];
  char ca_default[SMDP_PATH_MAX]; /* DIR/ci/cert.pem */
  char tls_cert[SMDP_PATH_MAX];
  char tls_key[SMDP_PATH_MAX];
  struct smdp_iface es9p_iface, es2p_iface;
  struct rsp_net_server *es9p, *es2p;
  pthread_mutex_t mu; /* guards workers/n_workers and the sender's flags */
  pthread_cond_t cond;
  bool sync_ready;
  bool kick;     /* a function was served: the outbox may have grown */
  bool stopping; /* the sender ends */
  struct smdp_worker workers[SMDP_MAX_WORKERS];
  size_t n_workers;
  struct smdp_worker main; /* start-up, then the sender thread */
  struct rsp_net_client *client;
  pthread_t sender;
  bool sender_running;
  struct smds_role *smds;             /* the SM-DS role, NULL when not run */
  struct rsp_net_client *es12_client; /* toward other SM-DSs (sender thread only) */
};

/* The worker of the current loop thread (each server thread has its own). */
static _Thread_local struct smdp_worker *smdp_thread_worker;

/* ---- small helpers --------------------------------------------------------------------------- */

static int64_t smdp_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double smdp_ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Adds one to a decimal string in place, keeping its width; false on overflow. */
static bool smdp_increment(char *digits) {
  for (size_t i = strlen(digits); i-- > 0;) {
    if (digits[i] != '9') {
      digits[i]++;
      return true;
    }
    digits[i] = '0';
  }
  return false;
}

/* The Luhn check digit of an ICCID body (ITU-T E.118). */
static char smdp_luhn(const char *digits) {
  int sum = 0;
  bool twice = true; /* the rightmost body digit is doubled */
  for (size_t i = strlen(digits); i-- > 0; twice = !twice) {
    int d = (digits[i] - '0') * (twice ? 2 : 1);
    sum += d > 9 ? d - 9 : d;
  }
  return (char)('0' + (10 - sum % 10) % 10);
}

bool smdp_parse_long(const char *s, long min, long max, long *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || !*s || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

/* Splits "HOST:PORT" or "[V6]:PORT"; PORT 0 asks for an ephemeral port. */
bool smdp_split_addr(const char *s, char host[SMDP_HOST_MAX], uint16_t *port) {
  const char *colon = strrchr(s, ':');
  long p = 0;
  size_t hl;
  if (!colon || !smdp_parse_long(colon + 1, 0, 65535, &p)) return false;
  hl = (size_t)(colon - s);
  if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
    s++;
    hl -= 2;
  }
  if (hl == 0 || hl >= SMDP_HOST_MAX) return false;
  memcpy(host, s, hl);
  host[hl] = '\0';
  *port = (uint16_t)p;
  return true;
}

/* Reads a whole file into `out`, whose cap bounds it. */
static bool smdp_read_file(const char *path, struct rsp_buf *out) {
  uint8_t chunk[8192];
  size_t n;
  bool ok = true;
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "rsp-smdp: %s: %s\n", path, strerror(errno));
    return false;
  }
  while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    ok = rsp_buf_append(out, chunk, n) == RSP_OK;
  if (ferror(f)) ok = false;
  fclose(f);
  if (!ok) fprintf(stderr, "rsp-smdp: %s: unreadable or too large\n", path);
  return ok;
}

static bool smdp_write_file(const char *path, const uint8_t *p, size_t len) {
  FILE *f = fopen(path, "wb");
  bool ok = f && fwrite(p, 1, len, f) == len;
  if (f && fclose(f) != 0) ok = false;
  if (!ok) fprintf(stderr, "rsp-smdp: cannot write %s: %s\n", path, strerror(errno));
  return ok;
}

/* ---- per-thread service objects -------------------------------------------------------------- */

static void smdp_worker_close(struct smdp_worker *w) {
  rsp_smdp_service_destroy(w->svc);
  rsp_smdp_identity_destroy(w->id);
  w->svc = NULL;
  w->id = NULL;
}

static rsp_err_t smdp_worker_open(const struct smdp_app *app, struct smdp_worker *w) {
  const struct smdp_opts *o = app->o;
  rsp_err_t rc = rsp_smdp_identity_load(o->pki_dir, &w->id);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "smdp", "SM-DP+ identity from %s: %s", o->pki_dir, rsp_strerror(rc));
    return rc;
  }
  w->id->ignore_cert_time = o->ignore_cert_time;
  struct rsp_smdp_service_options so = {.db_path = o->state_path,
                                        .identity = w->id,
                                        .address = app->address,
                                        .session_ttl = o->session_ttl};
  rc = rsp_smdp_service_open(&so, &w->svc);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "smdp", "cannot open the service (state %s, address %s): %s",
            o->state_path, app->address, rsp_strerror(rc));
    smdp_worker_close(w);
  }
  return rc;
}

/* The calling loop thread's worker, opened on its first request; NULL when it cannot be. */
static struct smdp_worker *smdp_worker_get(struct smdp_app *app) {
  struct smdp_worker *w = smdp_thread_worker;
  if (!w) {
    pthread_mutex_lock(&app->mu);
    if (app->n_workers < SMDP_MAX_WORKERS) w = &app->workers[app->n_workers++];
    pthread_mutex_unlock(&app->mu);
    if (!w) return NULL;
    smdp_thread_worker = w;
  }
  if (!w->svc && smdp_worker_open(app, w) != RSP_OK) return NULL;
  return w;
}

/* ---- the HTTP handler ------------------------------------------------------------------------ */

/* Just the response header of any ES2+/ES9+ answer: other keys are ignored by the engine, so the
 * outcome is read without decoding a bound profile package again. */
struct smdp_outcome {
  struct rsp_msg_json_resp_header header;
};
static const struct rsp_msg_json_field smdp_outcome_fields[] = {
    {.key = "header",
     .offset = offsetof(struct smdp_outcome, header),
     .kind = RSP_MSG_JSON_OBJECT,
     .flags = RSP_MSG_JSON_F_INLINE,
     .type = &rsp_msg_json_resp_header_type},
};
static const struct rsp_msg_json_type smdp_outcome_type = {.name = "rsp-smdp.outcome",
                                                           .fields = smdp_outcome_fields,
                                                           .nfields = sizeof smdp_outcome_fields /
                                                                      sizeof smdp_outcome_fields[0],
                                                           .size = sizeof(struct smdp_outcome)};

/* The media type `want`, optionally with parameters (";charset=UTF-8" from some peers). */
bool smdp_content_type_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  if (!ct) return false;
  while (*ct == ' ' || *ct == '\t') ct++;
  return strncasecmp(ct, want, n) == 0 &&
         (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* The path of the ASN.1 binding (a query string is ignored, as on the JSON paths). */
static bool smdp_asn1_path(const char *path) {
  size_t n = sizeof RSP_SMDP_ASN1_PATH - 1;
  return strncmp(path, RSP_SMDP_ASN1_PATH, n) == 0 && (path[n] == '\0' || path[n] == '?');
}

/* gsma/rsp/v2.x.y with decimal x and y (SGP.22 §6.5.1). */
bool smdp_admin_protocol_ok(const char *v) {
  size_t n = sizeof SMDP_ADMIN_PREFIX - 1, d;
  if (!v || strncmp(v, SMDP_ADMIN_PREFIX, n) != 0) return false;
  v += n;
  if ((d = strspn(v, "0123456789")) == 0 || v[d] != '.') return false;
  v += d + 1;
  return (d = strspn(v, "0123456789")) > 0 && v[d] == '\0';
}

/* Why a request is refused before it reaches the service (NULL: it is not), and its status. */
static const char *smdp_refusal(const struct smdp_iface *ifc, const struct rsp_net_request *req,
                                enum rsp_msg_json_func f, bool asn1, int *status) {
  *status = 404;
  if (asn1 ? !ifc->asn1 : (f < ifc->first || f > ifc->last)) return "no such function here";
  *status = 405;
  if (strcmp(req->method, "POST") != 0) return "method not allowed: POST only";
  *status = 415;
  if (asn1 && !smdp_content_type_is(req->content_type, RSP_SMDP_ASN1_CONTENT_TYPE))
    return "Content-Type must be " RSP_SMDP_ASN1_CONTENT_TYPE;
  if (!asn1 && !smdp_content_type_is(req->content_type, SMDP_CONTENT_TYPE))
    return "Content-Type must be application/json";
  *status = 400;
  if (!smdp_admin_protocol_ok(req->admin_protocol))
    return "X-Admin-Protocol must be gsma/rsp/v2.x.y";
  return NULL;
}

rsp_err_t smdp_refuse(struct rsp_net_response *res, int status, const char *why) {
  rsp_buf_reset(&res->body);
  if (status == 405) {
    rsp_err_t rc = rsp_net_response_header(res, "Allow", "POST");
    if (rc != RSP_OK) return rc;
  }
  char text[160];
  int n = snprintf(text, sizeof text, "%s\n", why);
  return rsp_net_response_set(res, status, "text/plain", text, (size_t)n);
}

/* "Executed-Success", "Failed 8.2.6/3.8 (message)", "HTTP 400" ... for the log line. */
void smdp_describe(int status, const struct rsp_buf *body, char *out, size_t size) {
  struct rsp_msg_json_doc doc;
  struct smdp_outcome oc;
  snprintf(out, size, "HTTP %d", status);
  if (status == 204) snprintf(out, size, "Executed-Success");
  if (status != 200) return;
  rsp_msg_json_doc_init(&doc);
  if (rsp_msg_json_decode(&smdp_outcome_type, (const char *)body->data, body->len, &doc, &oc,
                          NULL) == RSP_OK) {
    const struct rsp_msg_json_exec_status *st = &oc.header.function_execution_status;
    const struct rsp_msg_json_status_code_data *c = st->status_code_data;
    const char *name = rsp_msg_json_status_name(st->status);
    snprintf(out, size, "%s%s%s%s%s%s%s", name ? name : "no status", c ? " " : "",
             c ? c->subject_code : "", c ? "/" : "", c ? c->reason_code : "",
             c && c->message ? ": " : "", c && c->message ? c->message : "");
  }
  rsp_msg_json_doc_free(&doc);
}

/* The alternative of the CHOICE `t` in a DER value that is one element tagged `wrapper` around
 * it (the [2] of RemoteProfileProvisioningRequest and -Response, the [57] of
 * InitiateAuthenticationResponse ...); *in gets the alternative's element. NULL when the bytes
 * are no such value. For the log line only: the service has checked, or will check, the rest. */
static const struct rsp_msg_field *smdp_asn1_alt(const struct rsp_msg_type *t, uint32_t wrapper,
                                                 const uint8_t *p, size_t len,
                                                 struct rsp_der_tlv *in) {
  struct rsp_der_tlv top;
  if (rsp_der_parse_one(p, len, &top) != RSP_OK || top.tag != wrapper ||
      rsp_der_parse_one(top.val, top.len, in) != RSP_OK)
    return NULL;
  for (uint16_t i = 0; i < t->nfields; i++)
    if (t->fields[i].tag == in->tag) return &t->fields[i];
  return NULL;
}

/* "initiateAuthenticationOk", "authenticateClientError 6", "HTTP 400" ... for the log line. */
static void smdp_describe_asn1(int status, const struct rsp_buf *body, char *out, size_t size) {
  const struct rsp_msg_type *top = &rsp_msgt_remote_profile_provisioning_response;
  const struct rsp_msg_field *alt, *x;
  struct rsp_der_tlv fn, in;
  int64_t v;
  snprintf(out, size, "HTTP %d", status);
  if (status != 200 || !(alt = smdp_asn1_alt(top, top->tag, body->data, body->len, &fn)) ||
      !alt->type || !(x = smdp_asn1_alt(alt->type, alt->tag, fn.raw, fn.raw_len, &in)))
    return;
  if (x->kind == RSP_MSG_INT && rsp_der_get_int64(&in, &v) == RSP_OK)
    snprintf(out, size, "%s %lld", x->name, (long long)v);
  else
    snprintf(out, size, "%s", x->name);
}

/* The function a request calls, for the log line: the JSON function of its path, or the
 * alternative of its RemoteProfileProvisioningRequest; else the path. */
static const char *smdp_func_name(const struct rsp_net_request *req, enum rsp_msg_json_func f,
                                  bool asn1) {
  const struct rsp_msg_type *t = &rsp_msgt_remote_profile_provisioning_request;
  const struct rsp_msg_json_func_info *fi = rsp_msg_json_func_get(f);
  const struct rsp_msg_field *alt;
  struct rsp_der_tlv in;
  if (!asn1) return fi ? fi->name : req->path;
  alt = smdp_asn1_alt(t, t->tag, req->body, req->body_len, &in);
  return alt ? alt->name : req->path;
}

static void smdp_log_served(const struct smdp_iface *ifc, const struct rsp_net_request *req,
                            const char *name, int status, const char *outcome,
                            const struct timespec *t0) {
  rsp_log(status >= 500 ? RSP_LOG_ERROR : RSP_LOG_INFO, ifc->comp, "%s %s: %s (%.1f ms)%s%s",
          req->peer, name, outcome, smdp_ms_since(t0), req->client_subject ? " client " : "",
          req->client_subject ? req->client_subject : "");
}

static void smdp_kick(struct smdp_app *app) {
  pthread_mutex_lock(&app->mu);
  app->kick = true;
  pthread_cond_signal(&app->cond);
  pthread_mutex_unlock(&app->mu);
}

/* Serves one request of either interface, in either ES9+ binding. The service's answer is
 * written straight into the response body (its cap, RSP_NET_MAX_RESPONSE_BODY, exceeds
 * RSP_MSG_JSON_MAX_BODY). */
static rsp_err_t smdp_handle(void *ctx, const struct rsp_net_request *req,
                             struct rsp_net_response *res) {
  const struct smdp_iface *ifc = ctx;
  enum rsp_msg_json_func f = rsp_msg_json_func_from_path(req->path);
  bool asn1 = smdp_asn1_path(req->path);
  struct smdp_worker *w;
  struct timespec t0;
  char outcome[320];
  int status = 500;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  rsp_err_t rc = rsp_net_response_header(res, "X-Admin-Protocol", SMDP_ADMIN_PROTOCOL);
  if (rc != RSP_OK) return rc;
  const char *why = smdp_refusal(ifc, req, f, asn1, &status);
  if (why) {
    rsp_log(RSP_LOG_INFO, ifc->comp, "%s %s %s: refused %d: %s", req->peer, req->method, req->path,
            status, why);
    return smdp_refuse(res, status, why);
  }
  if (!(w = smdp_worker_get(ifc->app))) {
    rsp_log(RSP_LOG_ERROR, ifc->comp, "%s: no service object for this thread", req->path);
    return smdp_refuse(res, 500, "service unavailable");
  }
  if (asn1)
    rc = rsp_smdp_service_handle_asn1(w->svc, req->body, req->body_len, &status, &res->body);
  else
    rc = rsp_smdp_service_handle(w->svc, req->path, (const char *)req->body, req->body_len, &status,
                                 &res->body);
  if (rc != RSP_OK) {
    snprintf(outcome, sizeof outcome, "service failure: %s", rsp_strerror(rc));
    smdp_log_served(ifc, req, smdp_func_name(req, f, asn1), 500, outcome, &t0);
    return smdp_refuse(res, 500, "internal error");
  }
  const char *type = asn1 ? RSP_SMDP_ASN1_CONTENT_TYPE : SMDP_CONTENT_TYPE;
  rc = rsp_net_response_set(res, status, res->body.len ? type : NULL, NULL, 0);
  if (asn1)
    smdp_describe_asn1(status, &res->body, outcome, sizeof outcome);
  else
    smdp_describe(status, &res->body, outcome, sizeof outcome);
  smdp_log_served(ifc, req, smdp_func_name(req, f, asn1), status, outcome, &t0);
  if (status == 200 || status == 204) smdp_kick(ifc->app);
  return rc;
}

/* ---- operator callbacks and housekeeping (the sender thread) --------------------------------- */

/* The operator URL as given when it has a path, else with the function's path appended. */
static bool smdp_callback_url(const char *base, const char *path, char *out, size_t size) {
  const char *host = strstr(base, "://");
  const char *slash = host ? strchr(host + 3, '/') : NULL;
  size_t n = strlen(base);
  int w;
  if (slash && slash[1] != '\0') {
    w = snprintf(out, size, "%s", base);
  } else {
    if (n > 0 && base[n - 1] == '/') n--;
    w = snprintf(out, size, "%.*s%s", (int)n, base, path);
  }
  return w > 0 && (size_t)w < size;
}

/* POSTs one callback; true when the operator took it (2xx). */
static bool smdp_post_callback(struct smdp_app *app, const struct rsp_smdp_outbox_item *it) {
  static const struct rsp_net_header headers[] = {{"Content-Type", SMDP_CONTENT_TYPE},
                                                  {"X-Admin-Protocol", SMDP_ADMIN_PROTOCOL}};
  struct rsp_net_client_response res;
  char url[SMDP_URL_MAX];
  bool ok = false;
  rsp_net_client_response_init(&res);
  if (!smdp_callback_url(app->o->operator_url, it->path, url, sizeof url)) {
    rsp_log(RSP_LOG_ERROR, "outbox", "operator URL too long");
    return false;
  }
  rsp_err_t rc = rsp_net_client_post(app->client, url, headers, 2, it->body, it->body_len, &res);
  ok = rc == RSP_OK && res.status >= 200 && res.status < 300;
  if (ok)
    rsp_log(RSP_LOG_INFO, "outbox", "callback %lld (order %lld, for %s) delivered: HTTP %d",
            (long long)it->id, (long long)it->order_id, it->requester, res.status);
  else if (rc == RSP_OK)
    rsp_log(RSP_LOG_WARN, "outbox", "callback %lld to %s: HTTP %d", (long long)it->id, url,
            res.status);
  else
    rsp_log(RSP_LOG_WARN, "outbox", "callback %lld to %s: %s: %s", (long long)it->id, url,
            rsp_strerror(rc), res.error);
  rsp_net_client_response_free(&res);
  return ok;
}

static bool smdp_stopping(struct smdp_app *app) {
  pthread_mutex_lock(&app->mu);
  bool stop = app->stopping;
  pthread_mutex_unlock(&app->mu);
  return stop;
}

/* Sends the outbox oldest first, so the operator sees each order's points in order; stops at the
 * first failure (false), which is retried later from the same item. */
static bool smdp_send_outbox(struct smdp_app *app) {
  struct rsp_smdp_outbox_item it;
  rsp_err_t rc = RSP_OK;
  bool ok = true;
  while (ok && !smdp_stopping(app)) {
    memset(&it, 0, sizeof it);
    rc = rsp_smdp_service_outbox_next(app->main.svc, &it);
    if (rc == RSP_E_NOT_FOUND) break;
    if (rc != RSP_OK) {
      rsp_log(RSP_LOG_ERROR, "outbox", "reading the outbox: %s", rsp_strerror(rc));
      ok = false;
    } else if ((ok = smdp_post_callback(app, &it))) {
      rc = rsp_smdp_service_outbox_done(app->main.svc, it.id);
      if (rc != RSP_OK)
        rsp_log(RSP_LOG_ERROR, "outbox", "marking callback %lld sent: %s", (long long)it.id,
                rsp_strerror(rc));
      ok = rc == RSP_OK;
    }
    rsp_smdp_outbox_item_free(&it);
  }
  return ok;
}

/* ---- ES12 toward the SM-DSs (the sender thread) ------------------------------------------------
 */

/* The SM-DP+'s ES12 port: the SM-DS role of this process in-process, any other SM-DS over HTTPS
 * with the SM-DP+'s client certificate (https://<smdsAddress><path>, SGP.22 §6.5). */
static rsp_err_t smdp_es12_call(void *ctx, const char *smds_address, const char *path,
                                const char *body, size_t len, int *http_status,
                                struct rsp_buf *resp) {
  static const struct rsp_net_header headers[] = {{"Content-Type", SMDP_CONTENT_TYPE},
                                                  {"X-Admin-Protocol", SMDP_ADMIN_PROTOCOL}};
  struct smdp_app *app = ctx;
  struct rsp_net_client_response res;
  char url[SMDP_URL_MAX];
  if (app->smds && strcasecmp(smds_address, smds_role_address(app->smds)) == 0)
    return smds_role_call(app->smds, path, body, len, http_status, resp);
  int n = snprintf(url, sizeof url, "https://%s%s", smds_address, path);
  if (n < 0 || (size_t)n >= sizeof url) return RSP_E_INVALID_ARG;
  rsp_net_client_response_init(&res);
  rsp_err_t rc = rsp_net_client_post(app->es12_client, url, headers, 2, body, len, &res);
  if (rc == RSP_OK) {
    *http_status = res.status;
    rc = rsp_buf_append(resp, res.body.data, res.body.len);
  } else {
    rsp_log(RSP_LOG_WARN, "es12", "%s: %s: %s", url, rsp_strerror(rc), res.error);
  }
  rsp_net_client_response_free(&res);
  return rc;
}

static const struct rsp_smdp_es12_ops smdp_es12_ops = {smdp_es12_call};

/* Sends the queued ES12 calls; false when one could not be delivered (retried later). */
static bool smdp_send_es12(struct smdp_app *app) {
  size_t n = 0;
  rsp_err_t rc = rsp_smdp_service_es12_flush(app->main.svc, &smdp_es12_ops, app, &n);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_WARN, "es12", "%zu call%s delivered, the next failed: %s", n, n == 1 ? "" : "s",
            rsp_strerror(rc));
  return rc == RSP_OK;
}

static void smdp_housekeeping(struct smdp_app *app) {
  size_t orders = 0, sessions = 0;
  rsp_err_t rc = rsp_smdp_service_expire(app->main.svc, &orders, &sessions);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "smdp", "expiring orders and sessions: %s", rsp_strerror(rc));
  else if (orders || sessions)
    rsp_log(RSP_LOG_INFO, "smdp", "expired %zu order%s, purged %zu session%s", orders,
            orders == 1 ? "" : "s", sessions, sessions == 1 ? "" : "s");
  if (app->smds) smds_role_housekeeping(app->smds);
}

/* One retried activity of the sender: due now unless a failure put it off (with back-off). */
struct smdp_retry {
  int64_t at, backoff;
};

static void smdp_retry_after(struct smdp_retry *r, bool ok, int64_t now, const char *what) {
  if (ok) {
    r->at = 0;
    r->backoff = SMDP_RETRY_FIRST_MS;
    return;
  }
  r->at = now + r->backoff;
  rsp_log(RSP_LOG_INFO, what, "next attempt in %lld ms", (long long)r->backoff);
  r->backoff = r->backoff * 2 > SMDP_RETRY_MAX_MS ? SMDP_RETRY_MAX_MS : r->backoff * 2;
}

/* Waits until `deadline` (monotonic ms) or a kick; false once the program stops. */
static bool smdp_sender_wait(struct smdp_app *app, int64_t deadline) {
  struct timespec ts;
  pthread_mutex_lock(&app->mu);
  while (!app->stopping && !app->kick && smdp_now_ms() < deadline) {
    ts.tv_sec = (time_t)(deadline / 1000);
    ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
    pthread_cond_timedwait(&app->cond, &app->mu, &ts);
  }
  app->kick = false;
  bool go_on = !app->stopping;
  pthread_mutex_unlock(&app->mu);
  return go_on;
}

static void *smdp_sender_main(void *arg) {
  struct smdp_app *app = arg;
  struct smdp_retry outbox = {0, SMDP_RETRY_FIRST_MS}, es12 = {0, SMDP_RETRY_FIRST_MS};
  int64_t next_expire = 0;
  for (;;) {
    int64_t now = smdp_now_ms(), deadline = now + SMDP_POLL_MS;
    if (now >= next_expire) {
      smdp_housekeeping(app);
      next_expire = now + SMDP_EXPIRE_PERIOD_MS;
    }
    if (app->client && now >= outbox.at)
      smdp_retry_after(&outbox, smdp_send_outbox(app), now, "outbox");
    if (now >= es12.at) smdp_retry_after(&es12, smdp_send_es12(app), now, "es12");
    if (outbox.at && outbox.at < deadline) deadline = outbox.at;
    if (es12.at && es12.at < deadline) deadline = es12.at;
    if (next_expire < deadline) deadline = next_expire;
    if (!smdp_sender_wait(app, deadline)) break;
  }
  return NULL;
}

/* ---- start-up -------------------------------------------------------------------------------- */

static rsp_err_t smdp_server_new(struct smdp_app *app, const char *spec, bool es2p,
                                 struct rsp_net_server **out) {
  char host[SMDP_HOST_MAX];
  uint16_t port = 0;
  const struct smdp_opts *o = app->o;
  if (!smdp_split_addr(spec, host, &port)) return RSP_E_INVALID_ARG; /* checked with the options */
  struct rsp_net_server_options so = {
      .address = host,
      .port = port,
      .cert_file = app->tls_cert,
      .key_file = app->tls_key,
      .client_ca_file = es2p ? (o->operator_ca ? o->operator_ca : app->ca_default) : NULL,
      .require_client_cert = es2p,
      .max_request_body = SMDP_MAX_REQUEST_BODY,
      .threads = (unsigned)o->threads,
      .log_component = es2p ? "es2p-http" : "es9p-http",
      .handler = smdp_handle,
      .handler_ctx = es2p ? &app->es2p_iface : &app->es9p_iface};
  rsp_err_t rc = rsp_net_server_new(&so, out);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "smdp", "%s server on %s: %s", es2p ? "ES2+" : "ES9+", spec,
            rsp_strerror(rc));
  return rc;
}

/* The default SM-DP+ address: the ES9+ listening address with the port actually bound. */
static void smdp_default_address(struct smdp_app *app) {
  char host[SMDP_HOST_MAX];
  uint16_t port = 0;
  if (!smdp_split_addr(app->o->listen, host, &port)) host[0] = '\0';
  port = rsp_net_server_port(app->es9p);
  /* a loopback listener is reached as localhost, the name rsp-pki's TLS certificates carry */
  if (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0) strcpy(host, "localhost");
  snprintf(app->address, sizeof app->address, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
           (unsigned)port);
  if (strcmp(host, "0.0.0.0") == 0 || strchr(host, ':'))
    rsp_log(RSP_LOG_WARN, "smdp", "SM-DP+ address %s is no name an LPA can use: give --address",
            app->address);
}

/* One range of generated profiles: --generate (profile_type NULL: the generator's default type,
 * spn NULL: the service's default) or one --batch. */
struct smdp_range {
  const char *what; /* "--generate", "--batch 2" ... for the log lines */
  long count;
  const char *iccid_base, *imsi_base, *profile_type, *spn;
  size_t added, known, other_type;
};

/* A profile of the range already in the store (a restart): kept as it is; one whose type is not
 * the range's is counted, so the log says the state file and the options disagree. */
static void smdp_known_profile(struct smdp_app *app, const char *iccid, const char *type,
                               struct smdp_range *r) {
  struct rsp_smdp_profile_info info;
  r->known++;
  if (rsp_smdp_service_profile_get(app->main.svc, iccid, &info) == RSP_OK &&
      strcmp(info.profile_type, type) != 0) {
    if (r->other_type++ == 0)
      rsp_log(RSP_LOG_WARN, "smdp", "%s: profile %s is known with type \"%s\", not \"%s\": kept",
              r->what, iccid, info.profile_type, type);
  }
}

static bool smdp_add_generated(struct smdp_app *app, const char *iccid, const char *imsi,
                               struct rsp_buf *upp, struct smdp_range *r) {
  char read_iccid[RSP_ICCID_MAX_DIGITS + 1], type[RSP_SMDP_PROFILE_TYPE_MAX + 1];
  rsp_buf_reset(upp);
  rsp_err_t rc = rsp_smdp_profile_generate_typed(iccid, imsi, r->profile_type, upp);
  /* the stored type is the one the package's ProfileHeader carries */
  if (rc == RSP_OK)
    rc = rsp_smdp_profile_package_info(upp->data, upp->len, read_iccid, type, sizeof type);
  if (rc == RSP_OK) {
    struct rsp_smdp_profile_new p = {.iccid = iccid,
                                     .profile_type = type,
                                     .service_provider_name = r->spn,
                                     .upp = rsp_msg_slice(upp->data, upp->len)};
    rc = rsp_smdp_service_profile_add(app->main.svc, &p);
  }
  if (rc == RSP_E_EXISTS) { /* a restart on the same state: already there */
    smdp_known_profile(app, iccid, type, r);
    return true;
  }
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "smdp", "%s: generated profile %s / %s: %s", r->what, iccid, imsi,
            rsp_strerror(rc));
    return false;
  }
  r->added++;
  return true;
}

static bool smdp_generate(struct smdp_app *app, struct smdp_range *r) {
  char body[RSP_ICCID_MAX_DIGITS + 1], iccid[RSP_ICCID_MAX_DIGITS + 2], imsi[16];
  struct rsp_buf upp;
  bool ok = true;
  snprintf(body, sizeof body, "%s", r->iccid_base);
  snprintf(imsi, sizeof imsi, "%s", r->imsi_base);
  rsp_buf_init(&upp, RSP_SMDP_UPP_MAX);
  for (long i = 0; ok && i < r->count; i++) {
    if (i > 0 && (!smdp_increment(body) || !smdp_increment(imsi))) {
      rsp_log(RSP_LOG_ERROR, "smdp", "%s: %ld profiles overflow the ICCID or IMSI base", r->what,
              r->count);
      ok = false;
      break;
    }
    snprintf(iccid, sizeof iccid, "%s%c", body, smdp_luhn(body));
    ok = smdp_add_generated(app, iccid, imsi, &upp, r);
  }
  rsp_buf_free(&upp);
  if (ok && r->profile_type)
    rsp_log(RSP_LOG_INFO, "smdp", "%s (%s, ICCIDs from %s): %zu added, %zu already known", r->what,
            r->profile_type, r->iccid_base, r->added, r->known);
  else if (ok)
    rsp_log(RSP_LOG_INFO, "smdp", "generated profiles: %zu added, %zu already known", r->added,
            r->known);
  if (ok && r->other_type)
    rsp_log(RSP_LOG_WARN, "smdp", "%s: %zu known profiles have another type", r->what,
            r->other_type);
  return ok;
}

/* --generate, then every --batch in the order given. */
static bool smdp_generate_all(struct smdp_app *app) {
  const struct smdp_opts *o = app->o;
  char what[32];
  if (o->generate) {
    struct smdp_range r = {.what = "--generate",
                           .count = o->generate,
                           .iccid_base = o->iccid_base,
                           .imsi_base = o->imsi_base};
    if (!smdp_generate(app, &r)) return false;
  }
  for (size_t i = 0; i < o->n_batches; i++) {
    const struct smdp_batch *b = &o->batches[i];
    snprintf(what, sizeof what, "--batch %zu", i + 1);
    struct smdp_range r = {.what = what,
                           .count = b->count,
                           .iccid_base = b->iccid_base,
                           .imsi_base = b->imsi_base,
                           .profile_type = b->profile_type,
                           .spn = b->spn[0] ? b->spn : NULL};
    if (!smdp_generate(app, &r)) return false;
  }
  return true;
}

static bool smdp_load_profiles(struct smdp_app *app) {
  size_t added = 0, skipped = 0;
  const struct smdp_opts *o = app->o;
  if (o->profiles_dir) {
    rsp_err_t rc =
        rsp_smdp_service_profiles_load_dir(app->main.svc, o->profiles_dir, NULL, &added, &skipped);
    if (rc != RSP_OK) {
      rsp_log(RSP_LOG_ERROR, "smdp", "--profiles %s: %s", o->profiles_dir, rsp_strerror(rc));
      return false;
    }
    rsp_log(RSP_LOG_INFO, "smdp", "profiles from %s: %zu added, %zu skipped", o->profiles_dir,
            added, skipped);
  }
  return smdp_generate_all(app);
}

static bool smdp_client_setup(struct smdp_app *app) {
  const struct smdp_opts *o = app->o;
  if (!o->operator_url) {
    rsp_log(RSP_LOG_INFO, "outbox", "no --operator-url: operator callbacks stay queued");
    return true;
  }
  struct rsp_net_client_options co = {.ca_file = o->operator_ca_file ? o->operator_ca_file
                                                                     : app->ca_default,
                                      .cert_file = o->operator_cert,
                                      .key_file = o->operator_key,
                                      .connect_timeout_ms = SMDP_CALLBACK_CONNECT_MS,
                                      .timeout_ms = SMDP_CALLBACK_TIMEOUT_MS,
                                      .user_agent = "openrsp-smdp"};
  rsp_err_t rc = rsp_net_client_new(&co, &app->client);
  if (rc != RSP_OK) rsp_log(RSP_LOG_ERROR, "outbox", "callback client: %s", rsp_strerror(rc));
  return rc == RSP_OK;
}

/* The client of the ES12 calls to other SM-DSs: the SM-DP+'s TLS certificate as client
 * certificate (SGP.22 §2.6.6: ES12 is mutually authenticated), their TLS certificates under
 * --es12-ca. */
static bool smdp_es12_setup(struct smdp_app *app) {
  const struct smdp_opts *o = app->o;
  char cert[SMDP_PATH_MAX], key[SMDP_PATH_MAX];
  snprintf(cert, sizeof cert, "%s", o->es12_cert ? o->es12_cert : app->tls_cert);
  snprintf(key, sizeof key, "%s", o->es12_key ? o->es12_key : app->tls_key);
  struct rsp_net_client_options co = {.ca_file = o->es12_ca ? o->es12_ca : app->ca_default,
                                      .cert_file = cert,
                                      .key_file = key,
                                      .connect_timeout_ms = SMDP_CALLBACK_CONNECT_MS,
                                      .timeout_ms = SMDP_CALLBACK_TIMEOUT_MS,
                                      .user_agent = "openrsp-smdp"};
  rsp_err_t rc = rsp_net_client_new(&co, &app->es12_client);
  if (rc != RSP_OK) rsp_log(RSP_LOG_ERROR, "es12", "ES12 client: %s", rsp_strerror(rc));
  return rc == RSP_OK;
}

/* The SM-DS role beside the SM-DP+ (--smds-listen). */
static bool smdp_smds_setup(struct smdp_app *app) {
  const struct smdp_opts *o = app->o;
  if (!o->smds_listen) return true;
  struct smds_role_opts so = {.pki_dir = o->pki_dir,
                              .state_path = o->smds_state ? o->smds_state : o->state_path,
                              .listen = o->smds_listen,
                              .address = o->smds_address,
                              .tls_cert = o->smds_tls_cert,
                              .tls_key = o->smds_tls_key,
                              .client_ca = o->smds_client_ca,
                              .session_ttl = o->session_ttl,
                              .threads = o->threads,
                              .ignore_cert_time = o->ignore_cert_time};
  app->smds = smds_role_new(&so);
  return app->smds != NULL;
}

static void smdp_app_init(struct smdp_app *app, const struct smdp_opts *o) {
  memset(app, 0, sizeof *app);
  app->o = o;
  snprintf(app->ca_default, sizeof app->ca_default, "%s/ci/cert.pem", o->pki_dir);
  if (o->tls_cert)
    snprintf(app->tls_cert, sizeof app->tls_cert, "%s", o->tls_cert);
  else
    snprintf(app->tls_cert, sizeof app->tls_cert, "%s/smdp/tls/cert.pem", o->pki_dir);
  if (o->tls_key)
    snprintf(app->tls_key, sizeof app->tls_key, "%s", o->tls_key);
  else
    snprintf(app->tls_key, sizeof app->tls_key, "%s/smdp/tls/key.pem", o->pki_dir);
  app->es9p_iface = (struct smdp_iface){app, "es9p", RSP_MSG_JSON_FUNC_ES9P_INITIATE_AUTHENTICATION,
                                        RSP_MSG_JSON_FUNC_ES9P_CANCEL_SESSION, true};
  app->es2p_iface = (struct smdp_iface){app, "es2p", RSP_MSG_JSON_FUNC_ES2P_DOWNLOAD_ORDER,
                                        RSP_MSG_JSON_FUNC_ES2P_RELEASE_PROFILE, false};
}

/* Binds both servers, opens the store, loads the profiles; nothing is served yet. */
static bool smdp_app_setup(struct smdp_app *app) {
  const struct smdp_opts *o = app->o;
  pthread_condattr_t ca;
  if (pthread_mutex_init(&app->mu, NULL) != 0) return false;
  if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
      pthread_cond_init(&app->cond, &ca) != 0) {
    pthread_mutex_destroy(&app->mu);
    return false;
  }
  pthread_condattr_destroy(&ca);
  app->sync_ready = true;
  if (smdp_server_new(app, o->listen, false, &app->es9p) != RSP_OK ||
      smdp_server_new(app, o->es2_listen, true, &app->es2p) != RSP_OK)
    return false;
  if (o->address)
    snprintf(app->address, sizeof app->address, "%s", o->address);
  else
    smdp_default_address(app);
  if (smdp_worker_open(app, &app->main) != RSP_OK || !smdp_load_profiles(app) ||
      !smdp_client_setup(app) || !smdp_es12_setup(app) || !smdp_smds_setup(app))
    return false;
  rsp_log(RSP_LOG_INFO, "smdp", "SM-DP+ %s: ES9+ port %u, ES2+ port %u, state %s", app->address,
          (unsigned)rsp_net_server_port(app->es9p), (unsigned)rsp_net_server_port(app->es2p),
          o->state_path);
  return true;
}

static bool smdp_app_start(struct smdp_app *app) {
  if (rsp_net_server_start(app->es9p) != RSP_OK || rsp_net_server_start(app->es2p) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "smdp", "cannot start the servers");
    return false;
  }
  if (app->smds && !smds_role_start(app->smds)) return false;
  if (pthread_create(&app->sender, NULL, smdp_sender_main, app) != 0) {
    rsp_log(RSP_LOG_ERROR, "smdp", "cannot start the sender thread");
    return false;
  }
  app->sender_running = true;
  return true;
}

/* Servers first (no request in flight afterwards), then the sender, then the service objects. */
static void smdp_app_free(struct smdp_app *app) {
  rsp_net_server_destroy(app->es9p);
  rsp_net_server_destroy(app->es2p);
  app->es9p = app->es2p = NULL;
  if (app->sender_running) {
    pthread_mutex_lock(&app->mu);
    app->stopping = true;
    pthread_cond_signal(&app->cond);
    pthread_mutex_unlock(&app->mu);
    pthread_join(app->sender, NULL);
    app->sender_running = false;
  }
  rsp_net_client_destroy(app->client);
  app->client = NULL;
  rsp_net_client_destroy(app->es12_client);
  app->es12_client = NULL;
  smds_role_free(app->smds); /* the sender, its only in-process caller, has stopped */
  app->smds = NULL;
  for (size_t i = 0; i < app->n_workers; i++) smdp_worker_close(&app->workers[i]);
  app->n_workers = 0;
  smdp_worker_close(&app->main);
  if (app->sync_ready) {
    pthread_cond_destroy(&app->cond);
    pthread_mutex_destroy(&app->mu);
    app->sync_ready = false;
  }
}

/* ---- serve: options -------------------------------------------------------------------------- */

enum smdp_opt_id {
  O_PKI = 256,
  O_STATE,
  O_LISTEN,
  O_ES2_LISTEN,
  O_TLS_CERT,
  O_TLS_KEY,
  O_OPERATOR_CA,
  O_ADDRESS,
  O_PROFILES,
  O_GENERATE,
  O_ICCID_BASE,
  O_IMSI_BASE,
  O_BATCH,
  O_OPERATOR_URL,
  O_OPERATOR_CERT,
  O_OPERATOR_KEY,
  O_OPERATOR_CA_FILE,
  O_SESSION_TTL,
  O_THREADS,
  O_IGNORE_CERT_TIME,
  O_SMDS_LISTEN,
  O_SMDS_ADDRESS,
  O_SMDS_STATE,
  O_SMDS_TLS_CERT,
  O_SMDS_TLS_KEY,
  O_SMDS_CLIENT_CA,
  O_ES12_CERT,
  O_ES12_KEY,
  O_ES12_CA,
  O_LOG_LEVEL,
  O_HELP,
  O_ICCID,
  O_IMSI,
  O_OUT,
  O_JSON
};

static const struct option smdp_serve_longopts[] = {
    {"pki", required_argument, NULL, O_PKI},
    {"state", required_argument, NULL, O_STATE},
    {"listen", required_argument, NULL, O_LISTEN},
    {"es2-listen", required_argument, NULL, O_ES2_LISTEN},
    {"tls-cert", required_argument, NULL, O_TLS_CERT},
    {"tls-key", required_argument, NULL, O_TLS_KEY},
    {"operator-ca", required_argument, NULL, O_OPERATOR_CA},
    {"address", required_argument, NULL, O_ADDRESS},
    {"profiles", required_argument, NULL, O_PROFILES},
    {"generate", required_argument, NULL, O_GENERATE},
    {"iccid-base", required_argument, NULL, O_ICCID_BASE},
    {"imsi-base", required_argument, NULL, O_IMSI_BASE},
    {"batch", required_argument, NULL, O_BATCH},
    {"operator-url", required_argument, NULL, O_OPERATOR_URL},
    {"operator-cert", required_argument, NULL, O_OPERATOR_CERT},
    {"operator-key", required_argument, NULL, O_OPERATOR_KEY},
    {"operator-ca-file", required_argument, NULL, O_OPERATOR_CA_FILE},
    {"session-ttl", required_argument, NULL, O_SESSION_TTL},
    {"threads", required_argument, NULL, O_THREADS},
    {"ignore-cert-time", no_argument, NULL, O_IGNORE_CERT_TIME},
    {"smds-listen", required_argument, NULL, O_SMDS_LISTEN},
    {"smds-address", required_argument, NULL, O_SMDS_ADDRESS},
    {"smds-state", required_argument, NULL, O_SMDS_STATE},
    {"smds-tls-cert", required_argument, NULL, O_SMDS_TLS_CERT},
    {"smds-tls-key", required_argument, NULL, O_SMDS_TLS_KEY},
    {"smds-client-ca", required_argument, NULL, O_SMDS_CLIENT_CA},
    {"es12-cert", required_argument, NULL, O_ES12_CERT},
    {"es12-key", required_argument, NULL, O_ES12_KEY},
    {"es12-ca", required_argument, NULL, O_ES12_CA},
    {"log-level", required_argument, NULL, O_LOG_LEVEL},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};

static int smdp_usage_error(const char *fmt, ...) RSP_PRINTF(1, 2);
static int smdp_usage_error(const char *fmt, ...) {
  va_list ap;
  fputs("rsp-smdp: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (see --help)\n", stderr);
  return SMDP_EXIT_USAGE;
}

static int smdp_set_log_level(const char *name) {
  int level = rsp_log_level_parse(name);
  if (level < 0) return smdp_usage_error("unknown log level %s", name);
  rsp_log_set_level((enum rsp_log_level)level);
  return SMDP_EXIT_OK;
}

/* The options that take a number. */
static int smdp_number_opt(int c, const char *arg, struct smdp_opts *o) {
  switch (c) {
  case O_GENERATE:
    if (!smdp_parse_long(arg, 1, SMDP_GENERATE_MAX, &o->generate))
      return smdp_usage_error("--generate wants 1 to 100000, not %s", arg);
    return SMDP_EXIT_OK;
  case O_SESSION_TTL:
    if (!smdp_parse_long(arg, 1, 7 * 24 * 3600, &o->session_ttl))
      return smdp_usage_error("--session-ttl wants 1 to 604800 seconds, not %s", arg);
    return SMDP_EXIT_OK;
  default: /* O_THREADS */
    if (!smdp_parse_long(arg, 1, RSP_NET_MAX_THREADS, &o->threads))
      return smdp_usage_error("--threads wants 1 to 64, not %s", arg);
    return SMDP_EXIT_OK;
  }
}

/* Where each string option of the SM-DS role and ES12 goes. */
static const char **smdp_smds_string_opt(int c, struct smdp_opts *o) {
  switch (c) {
  case O_SMDS_LISTEN:
    return &o->smds_listen;
  case O_SMDS_ADDRESS:
    return &o->smds_address;
  case O_SMDS_STATE:
    return &o->smds_state;
  case O_SMDS_TLS_CERT:
    return &o->smds_tls_cert;
  case O_SMDS_TLS_KEY:
    return &o->smds_tls_key;
  case O_SMDS_CLIENT_CA:
    return &o->smds_client_ca;
  case O_ES12_CERT:
    return &o->es12_cert;
  case O_ES12_KEY:
    return &o->es12_key;
  case O_ES12_CA:
    return &o->es12_ca;
  default:
    return NULL;
  }
}

/* Where each string option goes. */
static const char **smdp_string_opt(int c, struct smdp_opts *o) {
  switch (c) {
  case O_PKI:
    return &o->pki_dir;
  case O_STATE:
    return &o->state_path;
  case O_LISTEN:
    return &o->listen;
  case O_ES2_LISTEN:
    return &o->es2_listen;
  case O_TLS_CERT:
    return &o->tls_cert;
  case O_TLS_KEY:
    return &o->tls_key;
  case O_OPERATOR_CA:
    return &o->operator_ca;
  case O_ADDRESS:
    return &o->address;
  case O_PROFILES:
    return &o->profiles_dir;
  case O_ICCID_BASE:
    return &o->iccid_base;
  case O_IMSI_BASE:
    return &o->imsi_base;
  case O_OPERATOR_URL:
    return &o->operator_url;
  case O_OPERATOR_CERT:
    return &o->operator_cert;
  case O_OPERATOR_KEY:
    return &o->operator_key;
  case O_OPERATOR_CA_FILE:
    return &o->operator_ca_file;
  default:
    return smdp_smds_string_opt(c, o);
  }
}

/* One more --batch. */
static int smdp_batch_opt(const char *arg, struct smdp_opts *o) {
  char why[160];
  if (o->n_batches == SMDP_BATCH_MAX)
    return smdp_usage_error("at most %d --batch options", SMDP_BATCH_MAX);
  if (!smdp_batch_parse(arg, &o->batches[o->n_batches], why, sizeof why))
    return smdp_usage_error("--batch %s: %s; the form is "
                            "COUNT:ICCID_BASE:IMSI_BASE:PROFILE_TYPE[:SERVICE_PROVIDER_NAME]",
                            arg, why);
  o->n_batches++;
  return SMDP_EXIT_OK;
}

/* No two ranges of generated profiles (--generate and the batches) may share an ICCID: the
 * second would silently be skipped as already known. */
static int smdp_batches_check(const struct smdp_opts *o) {
  for (size_t i = 0; i < o->n_batches; i++) {
    const struct smdp_batch *b = &o->batches[i];
    if (o->generate && o->iccid_base &&
        smdp_ranges_overlap(b->iccid_base, b->count, o->iccid_base, o->generate))
      return smdp_usage_error("the ICCIDs of --batch %zu overlap those of --generate", i + 1);
    for (size_t k = 0; k < i; k++)
      if (smdp_ranges_overlap(b->iccid_base, b->count, o->batches[k].iccid_base,
                              o->batches[k].count))
        return smdp_usage_error("the ICCIDs of --batch %zu overlap those of --batch %zu", i + 1,
                                k + 1);
  }
  return SMDP_EXIT_OK;
}

static int smdp_serve_parse(int argc, char **argv, struct smdp_opts *o) {
  int c, rc = SMDP_EXIT_OK;
  const char **slot;
  optind = 1;
  while (rc == SMDP_EXIT_OK &&
         (c = getopt_long(argc, argv, "h", smdp_serve_longopts, NULL)) != -1) {
    if ((slot = smdp_string_opt(c, o))) {
      *slot = optarg;
    } else if (c == O_GENERATE || c == O_SESSION_TTL || c == O_THREADS) {
      rc = smdp_number_opt(c, optarg, o);
    } else if (c == O_BATCH) {
      rc = smdp_batch_opt(optarg, o);
    } else if (c == O_IGNORE_CERT_TIME) {
      o->ignore_cert_time = true;
    } else if (c == O_LOG_LEVEL) {
      rc = smdp_set_log_level(optarg);
    } else if (c == O_HELP || c == 'h') {
      fputs(usage_text, stdout);
      rc = SMDP_EXIT_HELP;
    } else {
      fputs(usage_text, stderr);
      rc = SMDP_EXIT_USAGE;
    }
  }
  if (rc == SMDP_EXIT_OK && optind < argc)
    rc = smdp_usage_error("unexpected argument %s", argv[optind]);
  return rc;
}

static int smdp_serve_check(struct smdp_opts *o) {
  char host[SMDP_HOST_MAX];
  uint16_t port;
  if (!o->pki_dir) return smdp_usage_error("serve needs --pki DIR");
  if (!o->state_path) return smdp_usage_error("serve needs --state FILE");
  if (!o->listen) o->listen = SMDP_DEFAULT_ES9P;
  if (!o->es2_listen) o->es2_listen = SMDP_DEFAULT_ES2P;
  if (!smdp_split_addr(o->listen, host, &port))
    return smdp_usage_error("--listen wants HOST:PORT, not %s", o->listen);
  if (!smdp_split_addr(o->es2_listen, host, &port))
    return smdp_usage_error("--es2-listen wants HOST:PORT, not %s", o->es2_listen);
  if (o->generate && (!o->iccid_base || !o->imsi_base))
    return smdp_usage_error("--generate needs --iccid-base and --imsi-base");
  if (o->iccid_base && !smdp_digits(o->iccid_base, 17, 19))
    return smdp_usage_error("--iccid-base wants 17 to 19 digits, not %s", o->iccid_base);
  if (o->imsi_base && !smdp_digits(o->imsi_base, 6, 15))
    return smdp_usage_error("--imsi-base wants 6 to 15 digits, not %s", o->imsi_base);
  int rc = smdp_batches_check(o);
  if (rc != SMDP_EXIT_OK) return rc;
  if (!o->operator_cert != !o->operator_key)
    return smdp_usage_error("--operator-cert and --operator-key go together");
  if (o->operator_url && strncasecmp(o->operator_url, "https://", 8) != 0)
    return smdp_usage_error("--operator-url must be an https:// URL, not %s", o->operator_url);
  if (o->smds_listen && !smdp_split_addr(o->smds_listen, host, &port))
    return smdp_usage_error("--smds-listen wants HOST:PORT, not %s", o->smds_listen);
  if (!o->smds_listen && (o->smds_address || o->smds_state || o->smds_tls_cert || o->smds_tls_key ||
                          o->smds_client_ca))
    return smdp_usage_error("the --smds-* options need --smds-listen");
  if (o->smds_address && (!o->smds_address[0] || strlen(o->smds_address) > RSP_SMDP_ADDRESS_MAX))
    return smdp_usage_error("--smds-address wants 1 to 255 characters");
  if (!o->es12_cert != !o->es12_key)
    return smdp_usage_error("--es12-cert and --es12-key go together");
  if (!o->threads) o->threads = 1;
  return SMDP_EXIT_OK;
}

static int smdp_wait_signal(const sigset_t *set) {
  int sig = 0;
  while (sigwait(set, &sig) != 0) {
  }
  rsp_log(RSP_LOG_INFO, "smdp", "%s received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  return SMDP_EXIT_OK;
}

static int smdp_serve(int argc, char **argv) {
  struct smdp_opts o;
  struct smdp_app app;
  sigset_t set;
  int rc;
  memset(&o, 0, sizeof o);
  if ((rc = smdp_serve_parse(argc, argv, &o)) != SMDP_EXIT_OK)
    return rc == SMDP_EXIT_HELP ? SMDP_EXIT_OK : rc;
  if ((rc = smdp_serve_check(&o)) != SMDP_EXIT_OK) return rc;
  /* Blocked before any thread exists, so every thread inherits the mask and only sigwait below
   * takes the signals. A write to a connection the peer closed must fail, not kill. */
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  smdp_app_init(&app, &o);
  rc = SMDP_EXIT_FAIL;
  if (!smdp_app_setup(&app) || !smdp_app_start(&app)) goto out;
  rc = smdp_wait_signal(&set);
out:
  smdp_app_free(&app);
  if (rc == SMDP_EXIT_OK) rsp_log(RSP_LOG_INFO, "smdp", "stopped");
  return rc;
}

/* ---- profile new / profile info -------------------------------------------------------------- */

static const struct option smdp_profile_longopts[] = {
    {"iccid", required_argument, NULL, O_ICCID}, {"imsi", required_argument, NULL, O_IMSI},
    {"out", required_argument, NULL, O_OUT},     {"json", no_argument, NULL, O_JSON},
    {"help", no_argument, NULL, O_HELP},         {NULL, 0, NULL, 0}};

struct smdp_profile_opts {
  const char *iccid, *imsi, *out;
  bool json;
  const char *file;
};

static int smdp_profile_parse(int argc, char **argv, struct smdp_profile_opts *p) {
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", smdp_profile_longopts, NULL)) != -1) {
    if (c == O_ICCID)
      p->iccid = optarg;
    else if (c == O_IMSI)
      p->imsi = optarg;
    else if (c == O_OUT)
      p->out = optarg;
    else if (c == O_JSON)
      p->json = true;
    else if (c == O_HELP || c == 'h') {
      fputs(usage_text, stdout);
      return SMDP_EXIT_HELP;
    } else {
      fputs(usage_text, stderr);
      return SMDP_EXIT_USAGE;
    }
  }
  if (optind + 1 < argc) return smdp_usage_error("unexpected argument %s", argv[optind + 1]);
  p->file = optind < argc ? argv[optind] : NULL;
  return SMDP_EXIT_OK;
}

static int smdp_profile_new(const struct smdp_profile_opts *p) {
  struct rsp_buf der;
  int rc = SMDP_EXIT_FAIL;
  if (!p->iccid || !p->imsi || !p->out || p->file || p->json)
    return smdp_usage_error("profile new wants --iccid DIGITS --imsi DIGITS --out FILE");
  rsp_buf_init(&der, RSP_SMDP_UPP_MAX);
  rsp_err_t e = rsp_smdp_profile_generate(p->iccid, p->imsi, &der);
  if (e == RSP_E_INVALID_ARG) {
    rc = smdp_usage_error("profile new: ICCID 18 to 20 digits (19 + F allowed), IMSI 6 to 15");
    goto out;
  }
  if (e != RSP_OK) {
    fprintf(stderr, "rsp-smdp: profile new: %s\n", rsp_strerror(e));
    goto out;
  }
  if (!smdp_write_file(p->out, der.data, der.len)) goto out;
  printf("%s: profile package for ICCID %s, %zu bytes\n", p->out, p->iccid, der.len);
  rc = SMDP_EXIT_OK;
out:
  rsp_buf_free(&der);
  return rc;
}

static bool smdp_print_info_json(const char *file, const char *iccid, const char *type,
                                 size_t size) {
  json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "file", file, "iccid", iccid, "profileType", type,
                        "size", (json_int_t)size);
  char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
  if (text) printf("%s\n", text);
  free(text);
  json_decref(o);
  return text != NULL;
}

static int smdp_profile_info(const struct smdp_profile_opts *p) {
  char iccid[RSP_ICCID_MAX_DIGITS + 1], type[RSP_SMDP_PROFILE_TYPE_MAX + 1];
  struct rsp_buf der;
  int rc = SMDP_EXIT_FAIL;
  if (!p->file || p->iccid || p->imsi || p->out)
    return smdp_usage_error("profile info wants FILE [--json]");
  rsp_buf_init(&der, RSP_SMDP_UPP_MAX);
  if (!smdp_read_file(p->file, &der)) goto out;
  if (rsp_smdp_profile_package_info(der.data, der.len, iccid, type, sizeof type) != RSP_OK) {
    fprintf(stderr,
            "rsp-smdp: %s: not a profile package (strict DER Profile Elements, starting "
            "with a ProfileHeader)\n",
            p->file);
    goto out;
  }
  if (p->json) {
    if (!smdp_print_info_json(p->file, iccid, type, der.len)) goto out;
  } else {
    printf("iccid: %s\nprofile type: %s\nsize: %zu bytes\n", iccid, type, der.len);
  }
  rc = SMDP_EXIT_OK;
out:
  rsp_buf_free(&der);
  return rc;
}

static int smdp_profile(int argc, char **argv) {
  struct smdp_profile_opts p;
  int rc;
  memset(&p, 0, sizeof p);
  if (argc < 2 || (strcmp(argv[1], "new") != 0 && strcmp(argv[1], "info") != 0))
    return smdp_usage_error("profile wants new or info");
  if ((rc = smdp_profile_parse(argc - 1, argv + 1, &p)) != SMDP_EXIT_OK)
    return rc == SMDP_EXIT_HELP ? SMDP_EXIT_OK : rc;
  return strcmp(argv[1], "new") == 0 ? smdp_profile_new(&p) : smdp_profile_info(&p);
}

int main(int argc, char **argv) {
  rsp_log_set_sink(RSP_LOG_SINK_STDERR, "rsp-smdp");
  rsp_log_set_level(RSP_LOG_INFO);
  if (argc < 2) {
    fputs(usage_text, stderr);
    return SMDP_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    fputs(usage_text, stdout);
    return SMDP_EXIT_OK;
  }
  if (strcmp(argv[1], "serve") == 0) return smdp_serve(argc - 1, argv + 1);
  if (strcmp(argv[1], "smds") == 0) return smds_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "profile") == 0) return smdp_profile(argc - 1, argv + 1);
  return smdp_usage_error("unknown command %s", argv[1]);
}
