/* rsp-smdp: the SM-DS role (SGP.22 §3.6) on its own HTTPS port, in front of lib/smdp's SM-DS
 * service (include/rsp/smdp/smds.h): ES11 for LPAs and IPAs, on the ES9+ paths they use and on
 * /gsma/rsp2/es11/..., without client certificate; ES12 (/gsma/rsp2/es12/...) for SM-DP+s, only
 * with a client certificate under the role's client CA (mutual TLS, SGP.22 §2.6.6). It runs inside
 * `rsp-smdp serve --smds-listen` (the SM-DP+ then calls it in-process) or alone as `rsp-smdp
 * smds`.
 *
 * Threads: as the SM-DP+'s servers, each event-loop thread opens its own identity and service
 * object on its first request; `main` serves the same process's SM-DP+ (smds_role_call, under
 * a mutex) and the housekeeping. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/msg/json.h"
#include "rsp/smdp/smds.h"
#include "rsp_smdp.h"

#define SMDS_MAX_WORKERS RSP_NET_MAX_THREADS
/* ES11 and ES12 requests are small: an authenticateServerResponse is the largest. */
#define SMDS_MAX_REQUEST_BODY (64u * 1024u)
#define SMDS_DEFAULT_LISTEN "127.0.0.1:8445"
#define SMDS_EXPIRE_PERIOD_S 60

struct smds_worker {
  struct rsp_smdp_identity *id;
  struct rsp_smds_service *svc;
};

struct smds_role {
  struct smds_role_opts o;
  char address[RSP_SMDP_ADDRESS_MAX + 1];
  char tls_cert[SMDP_PATH_MAX], tls_key[SMDP_PATH_MAX], client_ca[SMDP_PATH_MAX];
  struct rsp_net_server *server;
  pthread_mutex_t mu; /* guards workers/n_workers, and `main` */
  struct smds_worker workers[SMDS_MAX_WORKERS];
  size_t n_workers;
  struct smds_worker main;
};

static _Thread_local struct smds_worker *smds_thread_worker;

/* ---- service objects ------------------------------------------------------------------------- */

static void worker_close(struct smds_worker *w) {
  rsp_smds_service_destroy(w->svc);
  rsp_smdp_identity_destroy(w->id);
  w->svc = NULL;
  w->id = NULL;
}

static rsp_err_t worker_open(const struct smds_role *r, struct smds_worker *w) {
  rsp_err_t rc = rsp_smds_identity_load(r->o.pki_dir, &w->id);
  if (rc != RSP_OK) return rc;
  w->id->ignore_cert_time = r->o.ignore_cert_time;
  struct rsp_smds_service_options so = {.db_path = r->o.state_path,
                                        .identity = w->id,
                                        .address = r->address,
                                        .session_ttl = r->o.session_ttl};
  rc = rsp_smds_service_open(&so, &w->svc);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "smds", "cannot open the SM-DS service (state %s): %s", r->o.state_path,
            rsp_strerror(rc));
    worker_close(w);
  }
  return rc;
}

static struct smds_worker *worker_get(struct smds_role *r) {
  struct smds_worker *w = smds_thread_worker;
  if (!w) {
    pthread_mutex_lock(&r->mu);
    if (r->n_workers < SMDS_MAX_WORKERS) w = &r->workers[r->n_workers++];
    pthread_mutex_unlock(&r->mu);
    if (!w) return NULL;
    smds_thread_worker = w;
  }
  if (!w->svc && worker_open(r, w) != RSP_OK) return NULL;
  return w;
}

/* ---- the HTTP handler ------------------------------------------------------------------------ */

/* The functions this port serves: ES11 on the ES9+ and the ES11 paths, ES12. */
static bool served(const char *path) {
  switch (rsp_msg_json_func_from_path(path)) {
  case RSP_MSG_JSON_FUNC_ES9P_INITIATE_AUTHENTICATION:
  case RSP_MSG_JSON_FUNC_ES9P_AUTHENTICATE_CLIENT:
  case RSP_MSG_JSON_FUNC_ES11_INITIATE_AUTHENTICATION:
  case RSP_MSG_JSON_FUNC_ES11_AUTHENTICATE_CLIENT:
  case RSP_MSG_JSON_FUNC_ES12_REGISTER_EVENT:
  case RSP_MSG_JSON_FUNC_ES12_DELETE_EVENT:
    return true;
  default:
    return false;
  }
}

/* Why a request is refused before the service sees it (NULL: it is not), and its status. ES12
 * changes what devices will be told to download, so only authenticated SM-DP+s may call it. */
static const char *refusal(const struct rsp_net_request *req, int *status) {
  *status = 404;
  if (!served(req->path)) return "no such function here";
  *status = 405;
  if (strcmp(req->method, "POST") != 0) return "method not allowed: POST only";
  *status = 415;
  if (!smdp_content_type_is(req->content_type, SMDP_CONTENT_TYPE))
    return "Content-Type must be application/json";
  *status = 400;
  if (!smdp_admin_protocol_ok(req->admin_protocol))
    return "X-Admin-Protocol must be gsma/rsp/v2.x.y";
  *status = 403;
  if (rsp_smds_path_is_es12(req->path) && !req->client_subject)
    return "ES12 needs a client certificate";
  return NULL;
}

static rsp_err_t handle(void *ctx, const struct rsp_net_request *req,
                        struct rsp_net_response *res) {
  struct smds_role *r = ctx;
  enum rsp_msg_json_func f = rsp_msg_json_func_from_path(req->path);
  const struct rsp_msg_json_func_info *fi = rsp_msg_json_func_get(f);
  const char *comp = rsp_smds_path_is_es12(req->path) ? "es12" : "es11";
  struct smds_worker *w;
  struct timespec t0;
  char outcome[320];
  int status = 500;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  rsp_err_t rc = rsp_net_response_header(res, "X-Admin-Protocol", SMDP_ADMIN_PROTOCOL);
  if (rc != RSP_OK) return rc;
  const char *why = refusal(req, &status);
  if (why) {
    rsp_log(RSP_LOG_INFO, comp, "%s %s %s: refused %d: %s", req->peer, req->method, req->path,
            status, why);
    return smdp_refuse(res, status, why);
  }
  if (!(w = worker_get(r))) {
    rsp_log(RSP_LOG_ERROR, comp, "%s: no service object for this thread", req->path);
    return smdp_refuse(res, 500, "service unavailable");
  }
  rc = rsp_smds_service_handle(w->svc, req->path, (const char *)req->body, req->body_len, &status,
                               &res->body);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, comp, "%s %s: service failure: %s", req->peer, req->path,
            rsp_strerror(rc));
    return smdp_refuse(res, 500, "internal error");
  }
  rc = rsp_net_response_set(res, status, res->body.len ? SMDP_CONTENT_TYPE : NULL, NULL, 0);
  smdp_describe(status, &res->body, outcome, sizeof outcome);
  rsp_log(status >= 500 ? RSP_LOG_ERROR : RSP_LOG_INFO, comp, "%s %s: %s (%.1f ms)%s%s", req->peer,
          fi ? fi->name : req->path, outcome, smdp_ms_since(&t0),
          req->client_subject ? " client " : "", req->client_subject ? req->client_subject : "");
  return rc;
}

/* ---- the role -------------------------------------------------------------------------------- */

static void paths_init(struct smds_role *r) {
  const struct smds_role_opts *o = &r->o;
  snprintf(r->tls_cert, sizeof r->tls_cert, "%s", o->tls_cert ? o->tls_cert : "");
  snprintf(r->tls_key, sizeof r->tls_key, "%s", o->tls_key ? o->tls_key : "");
  snprintf(r->client_ca, sizeof r->client_ca, "%s", o->client_ca ? o->client_ca : "");
  if (!o->tls_cert) snprintf(r->tls_cert, sizeof r->tls_cert, "%s/smds/tls/cert.pem", o->pki_dir);
  if (!o->tls_key) snprintf(r->tls_key, sizeof r->tls_key, "%s/smds/tls/key.pem", o->pki_dir);
  if (!o->client_ca) snprintf(r->client_ca, sizeof r->client_ca, "%s/ci/cert.pem", o->pki_dir);
}

static bool server_new(struct smds_role *r) {
  char host[SMDP_HOST_MAX];
  uint16_t port = 0;
  if (!smdp_split_addr(r->o.listen, host, &port)) return false;
  struct rsp_net_server_options so = {.address = host,
                                      .port = port,
                                      .cert_file = r->tls_cert,
                                      .key_file = r->tls_key,
                                      .client_ca_file = r->client_ca,
                                      .require_client_cert = false,
                                      .max_request_body = SMDS_MAX_REQUEST_BODY,
                                      .threads = (unsigned)r->o.threads,
                                      .log_component = "smds-http",
                                      .handler = handle,
                                      .handler_ctx = r};
  rsp_err_t rc = rsp_net_server_new(&so, &r->server);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "smds", "SM-DS server on %s: %s", r->o.listen, rsp_strerror(rc));
    return false;
  }
  if (r->o.address) {
    snprintf(r->address, sizeof r->address, "%s", r->o.address);
  } else {
    snprintf(r->address, sizeof r->address, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
             (unsigned)rsp_net_server_port(r->server));
    if (strcmp(host, "0.0.0.0") == 0 || strchr(host, ':'))
      rsp_log(RSP_LOG_WARN, "smds", "SM-DS address %s is no name a device can use: give one",
              r->address);
  }
  return true;
}

struct smds_role *smds_role_new(const struct smds_role_opts *o) {
  struct smds_role *r = rsp_calloc(1, sizeof *r);
  if (!r) return NULL;
  r->o = *o;
  if (r->o.threads < 1) r->o.threads = 1;
  if (pthread_mutex_init(&r->mu, NULL) != 0) {
    rsp_free(r);
    return NULL;
  }
  paths_init(r);
  if (!server_new(r) || worker_open(r, &r->main) != RSP_OK) {
    smds_role_free(r);
    return NULL;
  }
  rsp_log(RSP_LOG_INFO, "smds", "SM-DS %s: port %u, state %s", r->address,
          (unsigned)rsp_net_server_port(r->server), r->o.state_path);
  return r;
}

bool smds_role_start(struct smds_role *r) {
  if (rsp_net_server_start(r->server) == RSP_OK) return true;
  rsp_log(RSP_LOG_ERROR, "smds", "cannot start the SM-DS server");
  return false;
}

const char *smds_role_address(const struct smds_role *r) { return r->address; }

uint16_t smds_role_port(const struct smds_role *r) { return rsp_net_server_port(r->server); }

rsp_err_t smds_role_call(struct smds_role *r, const char *path, const char *body, size_t len,
                         int *http_status, struct rsp_buf *resp) {
  pthread_mutex_lock(&r->mu);
  rsp_err_t rc = rsp_smds_service_handle(r->main.svc, path, body, len, http_status, resp);
  pthread_mutex_unlock(&r->mu);
  return rc;
}

void smds_role_housekeeping(struct smds_role *r) {
  size_t n = 0;
  pthread_mutex_lock(&r->mu);
  rsp_err_t rc = rsp_smds_service_expire(r->main.svc, &n);
  pthread_mutex_unlock(&r->mu);
  if (rc != RSP_OK)
    rsp_log(RSP_LOG_ERROR, "smds", "purging sessions: %s", rsp_strerror(rc));
  else if (n)
    rsp_log(RSP_LOG_INFO, "smds", "purged %zu session%s", n, n == 1 ? "" : "s");
}

void smds_role_free(struct smds_role *r) {
  if (!r) return;
  rsp_net_server_destroy(r->server); /* no request in flight afterwards */
  for (size_t i = 0; i < r->n_workers; i++) worker_close(&r->workers[i]);
  worker_close(&r->main);
  pthread_mutex_destroy(&r->mu);
  rsp_free(r);
}

/* ---- rsp-smdp smds --------------------------------------------------------------------------- */

const char smds_usage_text[] =
    "usage: rsp-smdp smds --pki DIR --state FILE [options]\n"
    "\n"
    "The SM-DS alone (SGP.22 3.6): ES11 for LPAs and IPAs, ES12 for SM-DP+s, over HTTPS.\n"
    "  --pki DIR             PKI directory (rsp-pki layout): CERT.DSauth and its key from\n"
    "                        DIR/smds/auth, TLS from DIR/smds/tls/{cert,key}.pem; eUICC chains\n"
    "                        must end at DIR/ci\n"
    "  --state FILE          SQLite file of events and sessions (created when absent)\n"
    "  --listen HOST:PORT    (default " SMDS_DEFAULT_LISTEN ")\n"
    "  --address NAME        SM-DS address (FQDN[:PORT]) in serverSigned1; devices must send\n"
    "                        it back (default the --listen HOST:PORT)\n"
    "  --tls-cert FILE, --tls-key FILE   the TLS certificate and key\n"
    "  --client-ca FILE      ES12 callers must present a certificate issued by a CA of this\n"
    "                        PEM file (default DIR/ci/cert.pem)\n"
    "  --session-ttl SECONDS, --threads N, --ignore-cert-time, --log-level LEVEL   as for serve\n"
    "\n"
    "  ES11: POST /gsma/rsp2/es9plus/{initiateAuthentication,authenticateClient} (what LPAs send\n"
    "  SM-DSs) or /gsma/rsp2/es11/...; ES12: POST /gsma/rsp2/es12/{registerEvent,deleteEvent},\n"
    "  client certificate required (else 403). Same request rules as serve.\n";

enum {
  S_PKI = 256,
  S_STATE,
  S_LISTEN,
  S_ADDRESS,
  S_TLS_CERT,
  S_TLS_KEY,
  S_CLIENT_CA,
  S_TTL,
  S_THREADS,
  S_IGNORE_TIME,
  S_LOG_LEVEL,
  S_HELP
};

static const struct option smds_longopts[] = {
    {"pki", required_argument, NULL, S_PKI},
    {"state", required_argument, NULL, S_STATE},
    {"listen", required_argument, NULL, S_LISTEN},
    {"address", required_argument, NULL, S_ADDRESS},
    {"tls-cert", required_argument, NULL, S_TLS_CERT},
    {"tls-key", required_argument, NULL, S_TLS_KEY},
    {"client-ca", required_argument, NULL, S_CLIENT_CA},
    {"session-ttl", required_argument, NULL, S_TTL},
    {"threads", required_argument, NULL, S_THREADS},
    {"ignore-cert-time", no_argument, NULL, S_IGNORE_TIME},
    {"log-level", required_argument, NULL, S_LOG_LEVEL},
    {"help", no_argument, NULL, S_HELP},
    {NULL, 0, NULL, 0}};

static int usage_error(const char *what, const char *arg) {
  fprintf(stderr, "rsp-smdp smds: %s%s%s (see --help)\n", what, arg ? " " : "", arg ? arg : "");
  return SMDP_EXIT_USAGE;
}

static const char **string_opt(int c, struct smds_role_opts *o) {
  switch (c) {
  case S_PKI:
    return &o->pki_dir;
  case S_STATE:
    return &o->state_path;
  case S_LISTEN:
    return &o->listen;
  case S_ADDRESS:
    return &o->address;
  case S_TLS_CERT:
    return &o->tls_cert;
  case S_TLS_KEY:
    return &o->tls_key;
  case S_CLIENT_CA:
    return &o->client_ca;
  default:
    return NULL;
  }
}

static int parse(int argc, char **argv, struct smds_role_opts *o) {
  int c, level;
  const char **slot;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", smds_longopts, NULL)) != -1) {
    if ((slot = string_opt(c, o))) {
      *slot = optarg;
    } else if (c == S_TTL) {
      if (!smdp_parse_long(optarg, 1, 7 * 24 * 3600, &o->session_ttl))
        return usage_error("--session-ttl wants 1 to 604800 seconds, not", optarg);
    } else if (c == S_THREADS) {
      if (!smdp_parse_long(optarg, 1, RSP_NET_MAX_THREADS, &o->threads))
        return usage_error("--threads wants 1 to 64, not", optarg);
    } else if (c == S_IGNORE_TIME) {
      o->ignore_cert_time = true;
    } else if (c == S_LOG_LEVEL) {
      if ((level = rsp_log_level_parse(optarg)) < 0)
        return usage_error("unknown log level", optarg);
      rsp_log_set_level((enum rsp_log_level)level);
    } else if (c == S_HELP || c == 'h') {
      fputs(smds_usage_text, stdout);
      return SMDP_EXIT_HELP;
    } else {
      fputs(smds_usage_text, stderr);
      return SMDP_EXIT_USAGE;
    }
  }
  if (optind < argc) return usage_error("unexpected argument", argv[optind]);
  return SMDP_EXIT_OK;
}

static int check(struct smds_role_opts *o) {
  char host[SMDP_HOST_MAX];
  uint16_t port;
  if (!o->pki_dir) return usage_error("smds needs --pki DIR", NULL);
  if (!o->state_path) return usage_error("smds needs --state FILE", NULL);
  if (!o->listen) o->listen = SMDS_DEFAULT_LISTEN;
  if (!smdp_split_addr(o->listen, host, &port))
    return usage_error("--listen wants HOST:PORT, not", o->listen);
  if (o->address && (!o->address[0] || strlen(o->address) > RSP_SMDP_ADDRESS_MAX))
    return usage_error("--address wants 1 to 255 characters, not", o->address);
  return SMDP_EXIT_OK;
}

/* Signals are taken with sigtimedwait, which also paces the housekeeping. */
static int run(struct smds_role *r, const sigset_t *set) {
  struct timespec period = {SMDS_EXPIRE_PERIOD_S, 0};
  int sig;
  for (;;) {
    smds_role_housekeeping(r);
    sig = sigtimedwait(set, NULL, &period);
    if (sig == SIGINT || sig == SIGTERM) break;
  }
  rsp_log(RSP_LOG_INFO, "smds", "%s received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  return SMDP_EXIT_OK;
}

int smds_main(int argc, char **argv) {
  struct smds_role_opts o;
  struct smds_role *r = NULL;
  sigset_t set;
  int rc;
  memset(&o, 0, sizeof o);
  if ((rc = parse(argc, argv, &o)) != SMDP_EXIT_OK) return rc == SMDP_EXIT_HELP ? SMDP_EXIT_OK : rc;
  if ((rc = check(&o)) != SMDP_EXIT_OK) return rc;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  rc = SMDP_EXIT_FAIL;
  if ((r = smds_role_new(&o)) && smds_role_start(r)) rc = run(r, &set);
  smds_role_free(r);
  if (rc == SMDP_EXIT_OK) rsp_log(RSP_LOG_INFO, "smds", "stopped");
  return rc;
}
