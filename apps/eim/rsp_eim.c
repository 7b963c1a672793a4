/* rsp-eim: the eIM server (SGP.32 eSIM IoT Remote Manager). Two HTTPS servers on lib/net:
 *   - ESipa for the devices' IPAs: the ASN.1 binding (POST /gsma/rsp2/asn1) and the JSON binding
 *     (POST /gsma/rsp2/esipa/<function>), answered by lib/eim's service over the store;
 *   - the operator API (REST/JSON, docs/eim-api.yaml) behind an API key, answered by lib/eim's
 *     API over the same store.
 * With --coap-listen, ESipa's CoAP/DTLS binding too (POST coaps://.../gsma/rsp2/asn1, DER, on
 * lib/net's CoAP server, docs/adr/0009), answered by the same service on its own thread.
 * Indirect downloads are relayed to the SM-DP+s over ES9+ (lib/eim/relay.c on the HTTPS ES9+
 * transport). State is one SQLite file (WAL): several rsp-eim processes may share it.
 *
 * Threads: each server runs --threads event-loop threads; every loop thread opens its own store
 * handle and service object on its first request (the store is one handle per thread). A handle
 * holds the polls' last_seen and rPLMN in memory for up to --last-seen-interval ms; the flusher
 * thread writes those of an idle loop thread's handle (under the worker's mutex, between its
 * requests), so that the API and other processes see them at most about one interval late.
 *
 * Exit codes: 0 after SIGINT/SIGTERM, 1 start-up failure, 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rsp/cli/cli.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/drivers/https.h"
#include "rsp/eim/api.h"
#include "rsp/eim/relay.h"
#include "rsp/eim/service.h"
#include "rsp/eim/store.h"
#include "rsp/msg/json.h"
#include "rsp/net/coap.h"
#include "rsp/net/http.h"

#define EIM_EXIT_OK 0
#define EIM_EXIT_FAIL 1
#define EIM_EXIT_USAGE 2
#define EIM_EXIT_HELP (-1)

#define EIM_MAX_WORKERS (2 * RSP_NET_MAX_THREADS)
#define EIM_MAX_KEYS 64
#define EIM_KEY_MAX 256
#define EIM_PATH_MAX 4096
#define EIM_HOST_MAX 256
#define EIM_MAX_ESIPA_BODY (1u << 20)         /* a PIR or an EPR list is far smaller */
#define EIM_MAX_API_BODY RSP_EIM_API_MAX_BODY /* a bulk order of 10,000 EIDs */
#define ASN1_TYPE "application/x-gsma-rsp-asn1"
#define JSON_TYPE "application/json"
#define ADMIN_PROTOCOL "gsma/rsp/v2.1.0"

static const char usage_text[] =
    "usage: rsp-eim serve --pki DIR --state FILE|URI --api-key-file FILE [options]\n"
    "       rsp-eim --help\n"
    "\n"
    "The eIM (SGP.32 eSIM IoT Remote Manager): ESipa over HTTPS for the devices' IPAs, and a\n"
    "REST operator API (docs/eim-api.yaml, driven by rsp-eimctl) over one store: a SQLite\n"
    "file, or a PostgreSQL database shared by several rsp-eim nodes (docs/eim.md).\n"
    "\n"
    "serve:\n"
    "  --pki DIR             eIM identity in the rsp-pki layout: DIR/eim/sign/{key.pem,cert.der}\n"
    "                        (package signing), DIR/eim/tls/{cert.pem,key.pem} (TLS), DIR/ci\n"
    "                        (the CIs eUICC certificate chains must reach)\n"
    "  --state FILE|URI      the store: a path is a SQLite file (created when absent; WAL;\n"
    "                        may be shared by several rsp-eim processes on one machine);\n"
    "                        postgresql://USER[:PASS]@HOST[:PORT]/DB (or postgres://, or\n"
    "                        pg:KEY=VALUE... a libpq connection string) is a PostgreSQL\n"
    "                        database shared by rsp-eim nodes on several machines (tables\n"
    "                        created when absent; prefer PGPASSFILE to a password here)\n"
    "  --eim-id ID           our eimId as configured on the cards (default: the eim_id of\n"
    "                        DIR/pki.json, else openrsp-eim)\n"
    "  --listen HOST:PORT    ESipa (default 127.0.0.1:8445)\n"
    "  --api-listen HOST:PORT  operator API (default 127.0.0.1:8446)\n"
    "  --api-key-file FILE   API keys, one per line ('#' starts a comment); a request must\n"
    "                        carry one as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'\n"
    "                        (every route but /v1/health; GET /v1/stats also counts the\n"
    "                        ESipa requests this process served since it started)\n"
    "  --fqdn NAME[:PORT]    our address in the AddInitialEim of new devices (default: the\n"
    "                        --listen address with localhost for a loopback host)\n"
    "  --tls-cert FILE       TLS certificate of both servers (default DIR/eim/tls/cert.pem),\n"
    "  --tls-key FILE        and its key (default DIR/eim/tls/key.pem)\n"
    "  --smdp-ca FILE        CA (PEM) of the SM-DP+s' TLS certificates, for indirect\n"
    "                        downloads (default DIR/ci/cert.pem)\n"
    "  --threads N           event-loop threads per server (default 1)\n"
    "  --last-seen-interval MS  how long a poll's last-seen time and rPLMN may wait in memory\n"
    "                        before they are written, batched (default 1000; 0: every poll\n"
    "                        commits them at once); a crash loses at most that much of them\n"
    "  --coap-listen [HOST:]PORT  also serve ESipa over CoAP/DTLS on this UDP address (ASN.1\n"
    "                        binding, POST /gsma/rsp2/asn1; HOST default 127.0.0.1); DTLS with\n"
    "                        the --tls-cert certificate and, with --coap-psk-file, PSKs\n"
    "  --coap-psk-file FILE  DTLS pre-shared keys, one 'identity hexkey' per line ('#' starts a\n"
    "                        comment; the file must be mode 600 or stricter)\n"
    "  --coap-path PATH      Uri-Path served over CoAP (default gsma/rsp2/asn1)\n"
    "  --ignore-cert-time    accept expired or not yet valid eUICC and EUM certificates\n"
    "  --log-level LEVEL     error, warn, info (default), debug, trace\n"
    "\n"
    "ESipa: POST /gsma/rsp2/asn1 with Content-Type application/x-gsma-rsp-asn1 (else 415), any\n"
    "X-Admin-Protocol gsma/rsp/vX.Y.Z or none; POST /gsma/rsp2/esipa/<function> with\n"
    "application/json. Bodies over 1 MiB get 413. Answers carry X-Admin-Protocol\n"
    "gsma/rsp/v2.1.0. CoAP: 2.05 Content with the answer, 2.04 Changed without, 4.00, 4.13\n"
    "over 1 MiB, 5.00. SIGINT or SIGTERM stop cleanly.\n"
    "Exit codes: 0 success, 1 failure, 2 usage.\n";

enum {
  O_PKI = 256,
  O_STATE,
  O_EIM_ID,
  O_LISTEN,
  O_API_LISTEN,
  O_API_KEY_FILE,
  O_FQDN,
  O_TLS_CERT,
  O_TLS_KEY,
  O_SMDP_CA,
  O_THREADS,
  O_LAST_SEEN_INTERVAL,
  O_IGNORE_CERT_TIME,
  O_COAP_LISTEN,
  O_COAP_PSK_FILE,
  O_COAP_PATH,
  O_LOG_LEVEL,
  O_HELP
};

static const struct option longopts[] = {
    {"pki", required_argument, NULL, O_PKI},
    {"state", required_argument, NULL, O_STATE},
    {"eim-id", required_argument, NULL, O_EIM_ID},
    {"listen", required_argument, NULL, O_LISTEN},
    {"api-listen", required_argument, NULL, O_API_LISTEN},
    {"api-key-file", required_argument, NULL, O_API_KEY_FILE},
    {"fqdn", required_argument, NULL, O_FQDN},
    {"tls-cert", required_argument, NULL, O_TLS_CERT},
    {"tls-key", required_argument, NULL, O_TLS_KEY},
    {"smdp-ca", required_argument, NULL, O_SMDP_CA},
    {"threads", required_argument, NULL, O_THREADS},
    {"last-seen-interval", required_argument, NULL, O_LAST_SEEN_INTERVAL},
    {"ignore-cert-time", no_argument, NULL, O_IGNORE_CERT_TIME},
    {"coap-listen", required_argument, NULL, O_COAP_LISTEN},
    {"coap-psk-file", required_argument, NULL, O_COAP_PSK_FILE},
    {"coap-path", required_argument, NULL, O_COAP_PATH},
    {"log-level", required_argument, NULL, O_LOG_LEVEL},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};

struct eim_opts {
  const char *pki, *state, *eim_id, *listen, *api_listen, *api_key_file, *fqdn;
  const char *tls_cert, *tls_key, *smdp_ca;
  const char *coap_listen, *coap_psk_file, *coap_path;
  long threads;
  long last_seen_ms; /* rsp_eim_store_set_touch_interval of every handle */
  bool ignore_cert_time;
  int log_level;
};

/* One loop thread's objects (ESipa or API), opened on its first request. */
struct eim_worker {
  pthread_t thread;
  bool api;
  /* Held while the store handle is in use: by the loop thread during a request, by the flusher
   * between requests (a handle serves one thread at a time). */
  pthread_mutex_t mu;
  struct rsp_eim_store *store;
  struct rsp_eim_service *svc; /* ESipa workers only */
};

struct eim_app {
  const struct eim_opts *o;
  char eim_id[129];
  char paths[6][EIM_PATH_MAX]; /* sign key, sign cert, tls cert, tls key, ci dir, smdp ca */
  char fqdn[EIM_HOST_MAX + 8];
  char state_name[EIM_PATH_MAX]; /* --state for logs: without a PostgreSQL password */
  struct rsp_buf sign_cert, tls_cert_der;
  struct rsp_signer *signer;
  struct rsp_es9_https *es9;
  struct rsp_eim_relay *relay;
  char keys[EIM_MAX_KEYS][EIM_KEY_MAX];
  size_t n_keys;
  pthread_mutex_t mu;
  struct eim_worker workers[EIM_MAX_WORKERS];
  size_t n_workers;
  struct rsp_net_server *esipa, *api;
  struct rsp_net_coap_server *coap; /* --coap-listen */
  /* the notification forwarder, and the flusher of the loop threads' held polls */
  pthread_t forwarder, flusher;
  bool forwarder_running, flusher_running, stopping;
  pthread_cond_t cond;
  unsigned long forwarded;
  /* ESipa requests served since `started`, for GET /v1/stats: counted by the ESipa loop
   * threads, read by the API's, so an atomic (relaxed: a count, nothing is ordered by it). */
  atomic_uint_fast64_t esipa_requests;
  int64_t started;
};

enum { P_SIGN_KEY, P_SIGN_CERT, P_TLS_CERT, P_TLS_KEY, P_CI, P_SMDP_CA };

/* ---- helpers --------------------------------------------------------------------------------- */

static int usage_error(const char *fmt, ...) RSP_PRINTF(1, 2);
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("rsp-eim: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs("\n(rsp-eim --help for the options)\n", stderr);
  va_end(ap);
  return EIM_EXIT_USAGE;
}

/* HOST:PORT or [V6]:PORT. */
static bool split_addr(const char *s, char host[EIM_HOST_MAX], uint16_t *port) {
  const char *colon = strrchr(s, ':');
  char *end;
  if (!colon || colon == s) return false;
  size_t hl = (size_t)(colon - s);
  if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
    s++;
    hl -= 2;
  }
  if (hl == 0 || hl >= EIM_HOST_MAX) return false;
  memcpy(host, s, hl);
  host[hl] = '\0';
  errno = 0;
  long p = strtol(colon + 1, &end, 10);
  if (errno || *end || p < 0 || p > 65535) return false;
  *port = (uint16_t)p;
  return true;
}

static bool read_file(const char *path, struct rsp_buf *out) {
  FILE *f = fopen(path, "rb");
  uint8_t tmp[4096];
  size_t n;
  if (!f) return false;
  rsp_buf_reset(out);
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    if (rsp_buf_append(out, tmp, n) != RSP_OK) {
      fclose(f);
      return false;
    }
  bool ok = !ferror(f);
  fclose(f);
  return ok;
}

/* Constant-time comparison of two NUL-terminated keys. */
static bool key_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char d = la != lb;
  for (size_t i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}

static bool content_type_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  if (!ct) return false;
  while (*ct == ' ') ct++;
  return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* ---- workers --------------------------------------------------------------------------------- */

static rsp_err_t worker_open(const struct eim_app *app, struct eim_worker *w) {
  rsp_err_t rc = rsp_eim_store_open(app->o->state, &w->store);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "eim", "cannot open the store %s: %s", app->state_name,
            rsp_strerror(rc));
    return rc;
  }
  rsp_eim_store_set_touch_interval(w->store, (unsigned)app->o->last_seen_ms);
  if (w->api) return RSP_OK;
  struct rsp_eim_service_options so = {.eim_id = app->eim_id,
                                       .signer = app->signer,
                                       .store = w->store,
                                       .relay = app->relay,
                                       .ci_dir = app->paths[P_CI],
                                       .ignore_cert_time = app->o->ignore_cert_time};
  rc = rsp_eim_service_new(&so, &w->svc);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "eim", "cannot start the ESipa service: %s", rsp_strerror(rc));
    rsp_eim_store_close(w->store);
    w->store = NULL;
  }
  return rc;
}

/* The calling loop thread's worker of the given kind, locked (worker_put unlocks it); NULL when
 * it cannot be opened. */
static struct eim_worker *worker_get(struct eim_app *app, bool api) {
  pthread_t self = pthread_self();
  struct eim_worker *w = NULL;
  pthread_mutex_lock(&app->mu);
  for (size_t i = 0; i < app->n_workers && !w; i++)
    if (app->workers[i].api == api && pthread_equal(app->workers[i].thread, self))
      w = &app->workers[i];
  if (!w && app->n_workers < EIM_MAX_WORKERS) {
    w = &app->workers[app->n_workers];
    w->thread = self;
    w->api = api;
    pthread_mutex_init(&w->mu, NULL);
    app->n_workers++; /* after the mutex exists: the flusher walks the first n_workers */
  }
  pthread_mutex_unlock(&app->mu);
  if (!w) return NULL;
  pthread_mutex_lock(&w->mu);
  if (!w->store && worker_open(app, w) != RSP_OK) {
    pthread_mutex_unlock(&w->mu);
    return NULL;
  }
  return w;
}

static void worker_put(struct eim_worker *w) { pthread_mutex_unlock(&w->mu); }

/* After the servers and the flusher stopped: each handle writes the polls it holds as it closes. */
static void workers_close(struct eim_app *app) {
  for (size_t i = 0; i < app->n_workers; i++) {
    rsp_eim_service_destroy(app->workers[i].svc);
    rsp_eim_store_close(app->workers[i].store);
    pthread_mutex_destroy(&app->workers[i].mu);
  }
  app->n_workers = 0;
}

/* ---- the ESipa server ------------------------------------------------------------------------ */

static rsp_err_t refuse(struct rsp_net_response *res, int status, const char *why,
                        const struct rsp_net_request *req) {
  rsp_log(RSP_LOG_WARN, "eim", "%s %s from %s: %d %s", req->method, req->path, req->peer, status,
          why);
  return rsp_net_response_set(res, status, NULL, NULL, 0);
}

static bool admin_protocol_ok(const char *v) {
  return !v || strncmp(v, "gsma/rsp/v", 10) == 0; /* lenient: any version, or none */
}

static rsp_err_t esipa_handle(void *ctx, const struct rsp_net_request *req,
                              struct rsp_net_response *res) {
  struct eim_app *app = ctx;
  static const char json_prefix[] = "/gsma/rsp2/esipa/";
  bool asn1 = strcmp(req->path, "/gsma/rsp2/asn1") == 0;
  bool json = strncmp(req->path, json_prefix, sizeof json_prefix - 1) == 0;
  int status = 500;
  atomic_fetch_add_explicit(&app->esipa_requests, 1, memory_order_relaxed);
  if (!asn1 && !json) return refuse(res, 404, "no such path", req);
  if (strcmp(req->method, "POST") != 0) return refuse(res, 405, "only POST", req);
  if (!content_type_is(req->content_type, asn1 ? ASN1_TYPE : JSON_TYPE))
    return refuse(res, 415, req->content_type ? req->content_type : "no Content-Type", req);
  if (!admin_protocol_ok(req->admin_protocol))
    return refuse(res, 400, "X-Admin-Protocol is not gsma/rsp/v...", req);
  struct eim_worker *w = worker_get(app, false);
  if (!w) return refuse(res, 503, "no store", req);
  rsp_err_t rc = asn1 ? rsp_eim_service_esipa(w->svc, req->body, req->body_len, &res->body, &status)
                      : rsp_eim_service_esipa_json(w->svc, req->path + sizeof json_prefix - 1,
                                                   req->body, req->body_len, &res->body, &status);
  worker_put(w);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "eim", "ESipa request from %s failed: %s", req->peer, rsp_strerror(rc));
    return rc; /* 500 */
  }
  res->status = status;
  if (status == 200 && res->body.len)
    snprintf(res->content_type, sizeof res->content_type, "%s", asn1 ? ASN1_TYPE : JSON_TYPE);
  return rsp_net_response_header(res, "X-Admin-Protocol", ADMIN_PROTOCOL);
}

/* ESipa over CoAP (lib/net's CoAP server): the same service as the HTTPS ASN.1 binding, on the
 * CoAP thread's own worker; the service's HTTP-like status is mapped to a CoAP code by lib/net. */
static rsp_err_t esipa_coap_handle(void *ctx, const uint8_t *body, size_t len, struct rsp_buf *resp,
                                   int *status) {
  struct eim_app *app = ctx;
  atomic_fetch_add_explicit(&app->esipa_requests, 1, memory_order_relaxed);
  struct eim_worker *w = worker_get(app, false);
  if (!w) {
    rsp_log(RSP_LOG_WARN, "eim", "ESipa over CoAP: no store");
    *status = 503; /* 5.00 */
    return RSP_OK;
  }
  rsp_err_t rc = rsp_eim_service_esipa(w->svc, body, len, resp, status);
  worker_put(w);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "eim", "ESipa request over CoAP failed: %s", rsp_strerror(rc));
  return rc;
}

/* ---- the operator API server ----------------------------------------------------------------- */

/* The key a request carries, or NULL. */
static const char *request_key(const struct rsp_net_request *req) {
  if (req->api_key) return req->api_key;
  if (req->authorization && strncasecmp(req->authorization, "Bearer ", 7) == 0)
    return req->authorization + 7;
  return NULL;
}

static rsp_err_t api_error(struct rsp_net_response *res, int status, const char *error,
                           const char *detail) {
  char body[512];
  json_t *j = json_pack("{s:s, s:s}", "error", error, "detail", detail);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  snprintf(body, sizeof body, "%s", text ? text : "{}");
  free(text);
  json_decref(j);
  return rsp_net_response_set(res, status, JSON_TYPE, body, strlen(body));
}

/* The API's view of the ESipa counter (rsp_eim_api_options.esipa_count). */
static void esipa_count(void *ctx, struct rsp_eim_api_esipa_count *out) {
  struct eim_app *app = ctx;
  out->requests = (uint64_t)atomic_load_explicit(&app->esipa_requests, memory_order_relaxed);
  out->since = app->started;
}

static rsp_err_t api_handle(void *ctx, const struct rsp_net_request *req,
                            struct rsp_net_response *res) {
  struct eim_app *app = ctx;
  if (rsp_eim_api_key_required(req->path)) {
    const char *key = request_key(req);
    bool ok = false;
    if (!key) {
      rsp_log(RSP_LOG_WARN, "eim", "API %s %s from %s: no API key", req->method, req->path,
              req->peer);
      rsp_net_response_header(res, "WWW-Authenticate", "Bearer");
      return api_error(res, 401, "unauthorized",
                       "an API key is required (Authorization: Bearer KEY or X-API-Key: KEY)");
    }
    for (size_t i = 0; i < app->n_keys; i++) ok |= key_equal(key, app->keys[i]);
    if (!ok) {
      rsp_log(RSP_LOG_WARN, "eim", "API %s %s from %s: wrong API key", req->method, req->path,
              req->peer);
      return api_error(res, 403, "forbidden", "the API key is not valid");
    }
  }
  struct eim_worker *w = worker_get(app, true);
  if (!w) return api_error(res, 503, "unavailable", "the store cannot be opened");
  struct rsp_eim_api_options ao = {
      .store = w->store,
      .eim_id = app->eim_id,
      .eim_fqdn = app->fqdn,
      .eim_certificate = rsp_msg_slice(app->sign_cert.data, app->sign_cert.len),
      .eim_tls_certificate = rsp_msg_slice(app->tls_cert_der.data, app->tls_cert_der.len),
      .esipa_count = esipa_count,
      .esipa_count_ctx = app};
  struct rsp_eim_api_request ar = {
      .method = req->method, .path = req->path, .body = req->body, .body_len = req->body_len};
  int status = 500;
  rsp_err_t rc = rsp_eim_api_handle(&ao, &ar, &res->body, &status);
  worker_put(w);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "eim", "API %s %s failed: %s", req->method, req->path, rsp_strerror(rc));
    if (!res->body.len) return rc; /* lib/net answers an empty 500 */
    status = 500;                  /* the API's error JSON says what failed */
  }
  res->status = status;
  if (status == 405) {
    char allow[64];
    if (rsp_eim_api_allow(req->path, allow, sizeof allow))
      rsp_net_response_header(res, "Allow", allow);
  }
  if (res->body.len) snprintf(res->content_type, sizeof res->content_type, "%s", JSON_TYPE);
  return RSP_OK;
}

/* ---- notification forwarding ----------------------------------------------------------------- */

#define FORWARD_RETRY_MIN_S 2
#define FORWARD_RETRY_MAX_S 300

/* Sleeps up to `ms` milliseconds; false when the program is stopping. */
static bool app_wait_ms(struct eim_app *app, long ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&app->mu);
  while (!app->stopping && pthread_cond_timedwait(&app->cond, &app->mu, &until) == 0) {
  }
  bool go_on = !app->stopping;
  pthread_mutex_unlock(&app->mu);
  return go_on;
}

/* POSTs one notification to its address (ES9+ handleNotification); true when it was taken. */
static bool forward_one(struct eim_app *app, struct rsp_es9_https *es9,
                        const struct rsp_eim_notification *n) {
  struct rsp_buf body, resp;
  int status = 0;
  struct rsp_es9p_json_handle_notification_req q = {.pending_notification =
                                                        rsp_msg_slice(n->der.data, n->der.len)};
  const struct rsp_msg_json_func_info *fi =
      rsp_msg_json_func_get(RSP_MSG_JSON_FUNC_ES9P_HANDLE_NOTIFICATION);
  rsp_buf_init(&body, RSP_MSG_JSON_MAX_BODY);
  rsp_buf_init(&resp, 1 << 16);
  rsp_err_t rc = rsp_msg_json_encode(fi->request, &q, &body, NULL);
  if (rc == RSP_OK)
    rc = rsp_es9_https_ops.call(es9, n->forward_address, fi->path, &body, &status, &resp);
  bool ok = rc == RSP_OK && (status == 204 || status == 200);
  if (ok)
    rsp_log(RSP_LOG_INFO, "eim", "notification %lld of %s forwarded to %s",
            (long long)n->seq_number, n->eid, n->forward_address);
  else
    rsp_log(RSP_LOG_WARN, "eim", "notification %lld of %s not taken by %s: %s (HTTP %d)",
            (long long)n->seq_number, n->eid, n->forward_address, rsp_strerror(rc), status);
  rsp_buf_free(&body);
  rsp_buf_free(&resp);
  (void)app;
  return ok;
}

/* Forwards the notifications the devices delivered (PIRs and other signed notifications) to
 * their notificationAddress, oldest first, with back-off while the receiver refuses. */
static void *forwarder_main(void *arg) {
  struct eim_app *app = arg;
  struct rsp_eim_store *st = NULL;
  struct rsp_es9_https *es9 = NULL;
  struct rsp_es9_https_options eo = {.ca_file = app->paths[P_SMDP_CA], .timeout_ms = 20000};
  long retry = FORWARD_RETRY_MIN_S;
  if (rsp_eim_store_open(app->o->state, &st) != RSP_OK || rsp_es9_https_new(&eo, &es9) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "eim", "notification forwarder cannot start");
    goto out;
  }
  for (;;) {
    struct rsp_eim_notification n;
    rsp_eim_notification_init(&n);
    rsp_err_t rc = rsp_eim_store_notification_next(st, &n);
    bool sent = rc == RSP_OK && forward_one(app, es9, &n);
    if (sent) {
      rc = rsp_eim_store_notification_forwarded(st, n.eid, n.seq_number, (int64_t)time(NULL));
      if (rc == RSP_OK) app->forwarded++;
      retry = FORWARD_RETRY_MIN_S;
    }
    rsp_eim_notification_free(&n);
    if (sent) {
      if (app->stopping) break;
      continue;
    }
    /* nothing to send (wait a little), or the receiver refused (back off) */
    long wait = rc == RSP_OK ? retry : 1;
    if (rc == RSP_OK && retry < FORWARD_RETRY_MAX_S) retry *= 2;
    if (!app_wait_ms(app, wait * 1000)) break;
  }
out:
  rsp_es9_https_free(es9);
  rsp_eim_store_close(st);
  return NULL;
}

/* ---- the flusher of held polls --------------------------------------------------------------- */

/* A loop thread writes its handle's held polls (last_seen, rPLMN) itself when it serves a poll
 * and the oldest waits for the interval; a thread with no more requests would hold them for
 * ever. So every tenth of the interval this thread writes the due batches of the ESipa handles,
 * each under its worker's mutex (between two requests of that thread), and the API's handles
 * and other processes see a poll at most about 1.1 intervals late. */
static void *flusher_main(void *arg) {
  struct eim_app *app = arg;
  long period = app->o->last_seen_ms / 10 > 10 ? app->o->last_seen_ms / 10 : 10;
  while (app_wait_ms(app, period)) {
    pthread_mutex_lock(&app->mu);
    size_t n = app->n_workers;
    pthread_mutex_unlock(&app->mu);
    for (size_t i = 0; i < n; i++) {
      struct eim_worker *w = &app->workers[i];
      if (w->api) continue;
      pthread_mutex_lock(&w->mu);
      if (w->store) rsp_eim_store_flush_due(w->store); /* a failure is logged and retried */
      pthread_mutex_unlock(&w->mu);
    }
  }
  return NULL;
}

/* ---- start-up -------------------------------------------------------------------------------- */

static bool load_keys(struct eim_app *app) {
  FILE *f = fopen(app->o->api_key_file, "r");
  char line[EIM_KEY_MAX + 2];
  if (!f) {
    rsp_log(RSP_LOG_ERROR, "eim", "API key file %s: %s", app->o->api_key_file, strerror(errno));
    return false;
  }
  while (fgets(line, sizeof line, f)) {
    char *p = line, *e;
    while (*p == ' ' || *p == '\t') p++;
    e = p + strcspn(p, "\r\n#");
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *e = '\0';
    if (!*p) continue;
    if (strlen(p) < 16 || app->n_keys >= EIM_MAX_KEYS) {
      rsp_log(RSP_LOG_ERROR, "eim", "API key file %s: keys are 16 to %d characters, at most %d",
              app->o->api_key_file, EIM_KEY_MAX - 1, EIM_MAX_KEYS);
      fclose(f);
      return false;
    }
    snprintf(app->keys[app->n_keys++], EIM_KEY_MAX, "%s", p);
  }
  fclose(f);
  if (!app->n_keys) rsp_log(RSP_LOG_ERROR, "eim", "no API key in %s", app->o->api_key_file);
  return app->n_keys > 0;
}

/* Our eimId: --eim-id, else the manifest of the PKI directory, else "openrsp-eim". */
static void eim_id_default(struct eim_app *app) {
  char path[EIM_PATH_MAX];
  const char *id = app->o->eim_id;
  json_t *j = NULL;
  if (!id) {
    snprintf(path, sizeof path, "%s/pki.json", app->o->pki);
    j = json_load_file(path, 0, NULL);
    json_t *v = j ? json_object_get(j, "eim_id") : NULL;
    if (!json_is_string(v) && j) v = json_object_get(json_object_get(j, "eim"), "id");
    id = json_is_string(v) ? json_string_value(v) : "openrsp-eim";
  }
  snprintf(app->eim_id, sizeof app->eim_id, "%s", id);
  json_decref(j);
}

static bool setup_identity(struct eim_app *app) {
  const struct eim_opts *o = app->o;
  snprintf(app->paths[P_SIGN_KEY], EIM_PATH_MAX, "%s/eim/sign/key.pem", o->pki);
  snprintf(app->paths[P_SIGN_CERT], EIM_PATH_MAX, "%s/eim/sign/cert.der", o->pki);
  snprintf(app->paths[P_TLS_CERT], EIM_PATH_MAX, "%s/eim/tls/cert.pem", o->pki);
  snprintf(app->paths[P_TLS_KEY], EIM_PATH_MAX, "%s/eim/tls/key.pem", o->pki);
  if (o->tls_cert) snprintf(app->paths[P_TLS_CERT], EIM_PATH_MAX, "%s", o->tls_cert);
  if (o->tls_key) snprintf(app->paths[P_TLS_KEY], EIM_PATH_MAX, "%s", o->tls_key);
  snprintf(app->paths[P_CI], EIM_PATH_MAX, "%s/ci", o->pki);
  snprintf(app->paths[P_SMDP_CA], EIM_PATH_MAX, "%s/ci/cert.pem", o->pki);
  if (o->smdp_ca) snprintf(app->paths[P_SMDP_CA], EIM_PATH_MAX, "%s", o->smdp_ca);
  eim_id_default(app);
  rsp_err_t rc = rsp_signer_inproc_load(app->paths[P_SIGN_KEY], &app->signer);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "eim", "eIM signing key %s: %s", app->paths[P_SIGN_KEY],
            rsp_strerror(rc));
    return false;
  }
  if (!read_file(app->paths[P_SIGN_CERT], &app->sign_cert)) {
    rsp_log(RSP_LOG_ERROR, "eim", "eIM signing certificate %s: %s", app->paths[P_SIGN_CERT],
            strerror(errno));
    return false;
  }
  char der[EIM_PATH_MAX];
  snprintf(der, sizeof der, "%s/eim/tls/cert.der", o->pki);
  if (!o->tls_cert && !read_file(der, &app->tls_cert_der))
    rsp_log(RSP_LOG_WARN, "eim", "no %s: new devices get no trustedPublicKeyDataTls", der);
  struct rsp_es9_https_options eo = {.ca_file = app->paths[P_SMDP_CA]};
  if ((rc = rsp_es9_https_new(&eo, &app->es9)) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "eim", "ES9+ client (--smdp-ca %s): %s", app->paths[P_SMDP_CA],
            rsp_strerror(rc));
    return false;
  }
  return true;
}

/* The relay's ES9+ port is the HTTPS transport of drivers/ (both ports have the same shape). */
static rsp_err_t relay_es9(void *ctx, const char *address, const char *path,
                           const struct rsp_buf *body, int *http_status, struct rsp_buf *resp) {
  return rsp_es9_https_ops.call(ctx, address, path, body, http_status, resp);
}

static const struct rsp_eim_es9_ops relay_es9_ops = {relay_es9};

static rsp_err_t server_new(struct eim_app *app, const char *spec, bool api,
                            struct rsp_net_server **out) {
  char host[EIM_HOST_MAX];
  uint16_t port = 0;
  if (!split_addr(spec, host, &port)) return RSP_E_INVALID_ARG;
  struct rsp_net_server_options so = {.address = host,
                                      .port = port,
                                      .cert_file = app->paths[P_TLS_CERT],
                                      .key_file = app->paths[P_TLS_KEY],
                                      .max_request_body =
                                          api ? EIM_MAX_API_BODY : EIM_MAX_ESIPA_BODY,
                                      .threads = (unsigned)app->o->threads,
                                      .log_component = api ? "api-http" : "esipa-http",
                                      .handler = api ? api_handle : esipa_handle,
                                      .handler_ctx = app};
  rsp_err_t rc = rsp_net_server_new(&so, out);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "eim", "%s server on %s: %s", api ? "API" : "ESipa", spec,
            rsp_strerror(rc));
  return rc;
}

/* [HOST:]PORT, HOST 127.0.0.1 when absent. */
static bool split_udp_addr(const char *spec, char host[EIM_HOST_MAX], uint16_t *port) {
  if (strchr(spec, ':')) return split_addr(spec, host, port);
  snprintf(host, EIM_HOST_MAX, "127.0.0.1");
  char *end;
  errno = 0;
  long p = strtol(spec, &end, 10);
  if (errno || *end || !spec[0] || p < 0 || p > 65535) return false;
  *port = (uint16_t)p;
  return true;
}

static rsp_err_t coap_server_new(struct eim_app *app) {
  char host[EIM_HOST_MAX];
  uint16_t port = 0;
  struct rsp_net_coap_psk *psk = NULL;
  size_t n_psk = 0;
  rsp_err_t rc = RSP_E_INVALID_ARG;
  if (!split_udp_addr(app->o->coap_listen, host, &port)) goto out;
  if (app->o->coap_psk_file &&
      (rc = rsp_net_coap_psk_load(app->o->coap_psk_file, &psk, &n_psk)) != RSP_OK)
    goto out;
  struct rsp_net_coap_server_options so = {.address = host,
                                           .port = port,
                                           .psk = psk,
                                           .n_psk = n_psk,
                                           .cert_file = app->paths[P_TLS_CERT],
                                           .key_file = app->paths[P_TLS_KEY],
                                           .path = app->o->coap_path,
                                           .max_request_body = EIM_MAX_ESIPA_BODY,
                                           .log_component = "esipa-coap",
                                           .handler = esipa_coap_handle,
                                           .handler_ctx = app};
  if ((rc = rsp_net_coap_server_new(&so, &app->coap)) == RSP_OK)
    rc = rsp_net_coap_server_start(app->coap);
out:
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "eim", "ESipa CoAP server on %s: %s", app->o->coap_listen,
            rsp_strerror(rc));
  if (psk) {
    memset(psk, 0, n_psk * sizeof *psk);
    rsp_free(psk);
  }
  return rc;
}

static bool setup(struct eim_app *app) {
  char host[EIM_HOST_MAX];
  uint16_t port;
  if (!load_keys(app) || !setup_identity(app)) return false;
  struct rsp_eim_relay_options ro = {.es9 = &relay_es9_ops, .es9_ctx = app->es9};
  if (rsp_eim_relay_new(&ro, &app->relay) != RSP_OK) return false;
  /* the store is created (and migrated) once here, so that a bad file fails the start-up */
  struct rsp_eim_store *st = NULL;
  rsp_eim_store_describe(app->o->state, app->state_name, sizeof app->state_name);
  rsp_err_t rc = rsp_eim_store_open(app->o->state, &st);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "eim", "store %s: %s", app->state_name, rsp_strerror(rc));
    return false;
  }
  rsp_eim_store_close(st);
  if (server_new(app, app->o->listen, false, &app->esipa) != RSP_OK ||
      server_new(app, app->o->api_listen, true, &app->api) != RSP_OK)
    return false;
  if (app->o->fqdn) {
    snprintf(app->fqdn, sizeof app->fqdn, "%s", app->o->fqdn);
  } else {
    split_addr(app->o->listen, host, &port);
    bool loop = !strcmp(host, "127.0.0.1") || !strcmp(host, "::1");
    snprintf(app->fqdn, sizeof app->fqdn, strchr(host, ':') && !loop ? "[%s]:%u" : "%s:%u",
             loop ? "localhost" : host, (unsigned)rsp_net_server_port(app->esipa));
  }
  if (rsp_net_server_start(app->esipa) != RSP_OK || rsp_net_server_start(app->api) != RSP_OK)
    return false;
  if (app->o->coap_listen && coap_server_new(app) != RSP_OK) return false;
  app->forwarder_running = pthread_create(&app->forwarder, NULL, forwarder_main, app) == 0;
  if (app->o->last_seen_ms > 0)
    app->flusher_running = pthread_create(&app->flusher, NULL, flusher_main, app) == 0;
  rsp_log(RSP_LOG_INFO, "eim",
          "eIM %s ready: ESipa on port %u (address %s), operator API on port %u, store %s",
          app->eim_id, (unsigned)rsp_net_server_port(app->esipa), app->fqdn,
          (unsigned)rsp_net_server_port(app->api), app->state_name);
  return true;
}

static void app_free(struct eim_app *app) {
  pthread_mutex_lock(&app->mu);
  app->stopping = true;
  pthread_cond_broadcast(&app->cond);
  pthread_mutex_unlock(&app->mu);
  if (app->forwarder_running) pthread_join(app->forwarder, NULL);
  if (app->flusher_running) pthread_join(app->flusher, NULL);
  rsp_net_server_destroy(app->esipa);
  rsp_net_server_destroy(app->api);
  rsp_net_coap_server_destroy(app->coap);
  workers_close(app);
  rsp_eim_relay_destroy(app->relay);
  rsp_es9_https_free(app->es9);
  rsp_signer_destroy(app->signer);
  rsp_buf_free(&app->sign_cert);
  rsp_buf_free(&app->tls_cert_der);
  pthread_mutex_destroy(&app->mu);
  pthread_cond_destroy(&app->cond);
}

/* ---- options --------------------------------------------------------------------------------- */

/* One option of `serve` into `o`: strings by table, then the numbers and the log level. */
static int apply_opt(struct eim_opts *o, int c, const char *arg) {
  const struct {
    int c;
    const char **p;
  } strs[] = {{O_PKI, &o->pki},
              {O_STATE, &o->state},
              {O_EIM_ID, &o->eim_id},
              {O_LISTEN, &o->listen},
              {O_API_LISTEN, &o->api_listen},
              {O_API_KEY_FILE, &o->api_key_file},
              {O_FQDN, &o->fqdn},
              {O_TLS_CERT, &o->tls_cert},
              {O_TLS_KEY, &o->tls_key},
              {O_SMDP_CA, &o->smdp_ca},
              {O_COAP_LISTEN, &o->coap_listen},
              {O_COAP_PSK_FILE, &o->coap_psk_file},
              {O_COAP_PATH, &o->coap_path}};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (strs[i].c == c) {
      *strs[i].p = arg;
      return EIM_EXIT_OK;
    }
  switch (c) {
  case O_IGNORE_CERT_TIME:
    o->ignore_cert_time = true;
    return EIM_EXIT_OK;
  case O_THREADS:
    if (!rsp_cli_parse_long(arg, 1, RSP_NET_MAX_THREADS, &o->threads))
      return usage_error("--threads wants 1 to %d, not '%s'", RSP_NET_MAX_THREADS, arg);
    return EIM_EXIT_OK;
  case O_LAST_SEEN_INTERVAL:
    if (!rsp_cli_parse_long(arg, 0, 3600000, &o->last_seen_ms))
      return usage_error("--last-seen-interval wants 0 to 3600000 ms, not '%s'", arg);
    return EIM_EXIT_OK;
  case O_LOG_LEVEL:
    if ((o->log_level = rsp_log_level_parse(arg)) < 0)
      return usage_error("unknown log level '%s'", arg);
    return EIM_EXIT_OK;
  case 'h':
  case O_HELP:
    fputs(usage_text, stdout);
    return EIM_EXIT_HELP;
  default:
    return usage_error("unknown option or missing value: %s", arg ? arg : "?");
  }
}

/* The checks that need every option. */
static int check_opts(const struct eim_opts *o) {
  char host[EIM_HOST_MAX];
  uint16_t port;
  if (!o->pki) return usage_error("--pki is required");
  if (!o->state) return usage_error("--state is required");
  if (!o->api_key_file) return usage_error("--api-key-file is required");
  if (!split_addr(o->listen, host, &port))
    return usage_error("--listen HOST:PORT, not %s", o->listen);
  if (!split_addr(o->api_listen, host, &port))
    return usage_error("--api-listen HOST:PORT, not %s", o->api_listen);
  if (!o->tls_cert != !o->tls_key) return usage_error("--tls-cert and --tls-key go together");
  if (o->coap_listen && !split_udp_addr(o->coap_listen, host, &port))
    return usage_error("--coap-listen [HOST:]PORT, not %s", o->coap_listen);
  if ((o->coap_psk_file || o->coap_path) && !o->coap_listen)
    return usage_error("--coap-psk-file and --coap-path go with --coap-listen");
  if (o->coap_path && (!o->coap_path[0] || o->coap_path[0] == '/' || strlen(o->coap_path) >= 128))
    return usage_error("--coap-path is a relative Uri-Path such as gsma/rsp2/asn1, not %s",
                       o->coap_path);
  return EIM_EXIT_OK;
}

static int parse_opts(int argc, char **argv, struct eim_opts *o) {
  int c, rc;
  memset(o, 0, sizeof *o);
  o->listen = "127.0.0.1:8445";
  o->api_listen = "127.0.0.1:8446";
  o->threads = 1;
  o->last_seen_ms = RSP_EIM_TOUCH_INTERVAL_MS;
  o->log_level = RSP_LOG_INFO;
  if (argc < 2) return usage_error("a command is required (serve)");
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    fputs(usage_text, stdout);
    return EIM_EXIT_HELP;
  }
  if (strcmp(argv[1], "serve") != 0) return usage_error("unknown command '%s'", argv[1]);
  opterr = 0;
  optind = 2;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
    if ((rc = apply_opt(o, c, c == '?' || c == ':' ? argv[optind - 1] : optarg)) != EIM_EXIT_OK)
      return rc;
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  return check_opts(o);
}

int main(int argc, char **argv) {
  struct eim_opts o;
  static struct eim_app app;
  sigset_t set;
  int sig = 0, rc = parse_opts(argc, argv, &o);
  if (rc != EIM_EXIT_OK) return rc == EIM_EXIT_HELP ? EIM_EXIT_OK : rc;
  rsp_log_set_level((enum rsp_log_level)o.log_level);
  /* Blocked before any thread exists: only sigwait below takes them. */
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  app.o = &o;
  atomic_init(&app.esipa_requests, 0);
  app.started = (int64_t)time(NULL);
  pthread_mutex_init(&app.mu, NULL);
  pthread_cond_init(&app.cond, NULL);
  rsp_buf_init(&app.sign_cert, 1 << 16);
  rsp_buf_init(&app.tls_cert_der, 1 << 16);
  rc = EIM_EXIT_FAIL;
  if (setup(&app)) {
    while (sigwait(&set, &sig) != 0) {
    }
    rsp_log(RSP_LOG_INFO, "eim", "%s received, shutting down",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = EIM_EXIT_OK;
  }
  app_free(&app);
  if (rc == EIM_EXIT_OK) rsp_log(RSP_LOG_INFO, "eim", "stopped");
  return rc;
}
