/* rsp-fleet: a fleet of simulated IoT devices in one process (docs/fleet.md).
 *
 * Each device is lib/ipa's IPA core on an in-process software eUICC (lib/euicc), with its own EID,
 * certificate and key from an rsp-pki directory, talking to a real eIM (ESipa over HTTPS) and to
 * real SM-DP+s (ES9+ over HTTPS) through the same drivers rsp-ipad uses. A pool of worker threads
 * runs the devices' poll cycles when they are due (a poll interval with jitter, per device); each
 * worker keeps its own HTTPS connections, so the servers see keep-alive connections shared by the
 * devices of a worker, like a carrier-grade NAT would show them.
 *
 * Manufacture: at start every device is registered at the eIM's operator API (with its
 * certificates) and the AddInitialEim the eIM hands out is loaded on its card, as a factory would.
 *
 * Network: a model (include/rsp/fleet/model.h) places each device in a country; a profile attaches
 * only where its operator has coverage. The IPA's connectivity hook reads it, so a profile switch
 * without coverage is rolled back by the IPA's watchdog. The watchdog waits in simulated time (a
 * device's clock jumps forward instead of sleeping), so a fleet of thousands is not held up by it;
 * --real-time-waits makes the waits real. A device without network on its enabled profile skips
 * its polls (it cannot reach the eIM). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/drivers/https.h"
#include "rsp/euicc/euicc.h"
#include "rsp/fleet/model.h"
#include "rsp/ipa/config.h"
#include "rsp/ipa/download.h"
#include "rsp/ipa/ipa.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/base64.h"
#include "rsp/msg/msg.h"
#include "rsp/net/http.h"

#define FLEET_EXIT_OK 0
#define FLEET_EXIT_FAIL 1
#define FLEET_EXIT_USAGE 2
#define FLEET_EXIT_HELP 3 /* internal: --help printed */

#define FLEET_DEVICES_MAX 100000
#define FLEET_THREADS_MAX 256
#define FLEET_PATH_MAX 4096
#define FLEET_API_KEY_MAX 512
#define FLEET_CERT_MAX 8192

static const char usage_text[] =
    "usage: rsp-fleet --pki DIR --eim-api URL --api-key-file FILE [options]\n"
    "       rsp-fleet --print-model\n"
    "\n"
    "Simulates a fleet of IoT devices in one process: each is an IPA (lib/ipa) on its own\n"
    "software eUICC with the EID, certificate and key of an rsp-pki directory, polling a real\n"
    "eIM over ESipa (HTTPS) and downloading from real SM-DP+s over ES9+ (HTTPS), directly or\n"
    "through the eIM. A network model decides where each device is and which profiles attach\n"
    "there; a switch to a profile without coverage is rolled back by the IPA's watchdog.\n"
    "\n"
    "devices:\n"
    "  --pki DIR             rsp-pki directory: DIR/euicc/<EID>/{cert.der,key.pem}, DIR/eum, "
    "DIR/ci\n"
    "  --devices N           the first N EIDs of DIR/euicc in order (default: all of them)\n"
    "  --eids-file FILE      these EIDs instead (one per line, '#' comments)\n"
    "  --indirect PERCENT    share of devices that download through the eIM (indirect); the\n"
    "                        others run ES9+ themselves (direct). Every 100/PERCENT-th device\n"
    "                        by position is indirect (default 50: odd positions)\n"
    "  --eim-id ID           the eIM whose configuration on the card counts (default: the first)\n"
    "  --rollback-timeout S  how long a device waits for network on a newly enabled profile\n"
    "                        before it rolls back (default 60, simulated time)\n"
    "  --real-time-waits     the IPA's waits take real time instead of simulated time\n"
    "  --minimize-esipa-bytes  the compact ESipa forms (SGP.32 minimizeEsipaBytes)\n"
    "\n"
    "manufacture (every start: the cards live in memory):\n"
    "  --eim-api URL         the eIM's operator API (e.g. https://localhost:8446): each device\n"
    "                        is registered (POST /v1/devices, with its certificates; an existing\n"
    "                        registration is kept) and its AddInitialEim loaded on the card\n"
    "  --api-key-file FILE   the API key: the first line that is not a '#' comment\n"
    "  --api-ca FILE         CA (PEM) of the API's TLS certificate (default DIR/ci/cert.pem)\n"
    "\n"
    "network:\n"
    "  --model FILE          the network model, JSON (default: built in, see --print-model)\n"
    "  --seed N              where devices are placed and how they move (default 1)\n"
    "  --smdp-ca FILE        CA (PEM) of the SM-DP+s' TLS certificates, for direct downloads\n"
    "                        (default DIR/ci/cert.pem). The eIM's TLS trust comes from each\n"
    "                        card's eIM configuration (trustedPublicKeyDataTls)\n"
    "  --timeout S           per HTTPS exchange (default 30)\n"
    "  --eim-url URL, --eim-ca FILE  poll this ESipa URL, trusting this CA (PEM), instead of\n"
    "                        the card's eIM configuration (load tests against another server)\n"
    "\n"
    "schedule:\n"
    "  --poll-interval S     time between a device's polls (default 10)\n"
    "  --jitter PERCENT      random spread of each interval (default 20)\n"
    "  --threads N           worker threads (default 8)\n"
    "  --duration S          stop after S seconds (default: run until SIGINT or SIGTERM)\n"
    "  SIGUSR1               every device polls now\n"
    "\n"
    "output:\n"
    "  --status FILE         a JSON status rewritten every second (counters, devices per\n"
    "                        operator, requests per second)\n"
    "  --progress S          a progress line on stderr every S seconds (default 5; 0: none)\n"
    "  --json                the final report as JSON on stdout (else a table)\n"
    "  --log-level LEVEL     error, warn (default), info, debug, trace\n"
    "  --print-model         print the built-in network model and exit\n"
    "\n"
    "Exit codes: 0 stopped cleanly, 1 failure (a card or the eIM's API could not be set up),\n"
    "2 usage error.\n";

/* ---- options --------------------------------------------------------------------------------- */

struct fleet_opts {
  const char *pki, *eids_file, *eim_id, *eim_api, *api_key_file, *api_ca, *model, *smdp_ca;
  const char *status_file, *eim_url, *eim_ca;
  long devices, indirect_pct, rollback_timeout_s, timeout_s, poll_interval_s, jitter_pct, threads;
  long duration_s, progress_s, seed;
  bool real_time_waits, minimize, json, print_model;
  int log_level;
  char api_ca_buf[FLEET_PATH_MAX], smdp_ca_buf[FLEET_PATH_MAX];
};

enum {
  O_PKI = 256,
  O_DEVICES,
  O_EIDS_FILE,
  O_INDIRECT,
  O_EIM_ID,
  O_ROLLBACK_TIMEOUT,
  O_REAL_TIME,
  O_MINIMIZE,
  O_EIM_API,
  O_API_KEY_FILE,
  O_API_CA,
  O_MODEL,
  O_SEED,
  O_SMDP_CA,
  O_TIMEOUT,
  O_POLL_INTERVAL,
  O_JITTER,
  O_THREADS,
  O_DURATION,
  O_STATUS,
  O_PROGRESS,
  O_JSON,
  O_LOG_LEVEL,
  O_PRINT_MODEL,
  O_EIM_URL,
  O_EIM_CA,
  O_HELP,
};

static const struct option longopts[] = {
    {"pki", required_argument, NULL, O_PKI},
    {"devices", required_argument, NULL, O_DEVICES},
    {"eids-file", required_argument, NULL, O_EIDS_FILE},
    {"indirect", required_argument, NULL, O_INDIRECT},
    {"eim-id", required_argument, NULL, O_EIM_ID},
    {"rollback-timeout", required_argument, NULL, O_ROLLBACK_TIMEOUT},
    {"real-time-waits", no_argument, NULL, O_REAL_TIME},
    {"minimize-esipa-bytes", no_argument, NULL, O_MINIMIZE},
    {"eim-api", required_argument, NULL, O_EIM_API},
    {"api-key-file", required_argument, NULL, O_API_KEY_FILE},
    {"api-ca", required_argument, NULL, O_API_CA},
    {"model", required_argument, NULL, O_MODEL},
    {"seed", required_argument, NULL, O_SEED},
    {"smdp-ca", required_argument, NULL, O_SMDP_CA},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"poll-interval", required_argument, NULL, O_POLL_INTERVAL},
    {"jitter", required_argument, NULL, O_JITTER},
    {"threads", required_argument, NULL, O_THREADS},
    {"duration", required_argument, NULL, O_DURATION},
    {"status", required_argument, NULL, O_STATUS},
    {"progress", required_argument, NULL, O_PROGRESS},
    {"json", no_argument, NULL, O_JSON},
    {"log-level", required_argument, NULL, O_LOG_LEVEL},
    {"print-model", no_argument, NULL, O_PRINT_MODEL},
    {"eim-url", required_argument, NULL, O_EIM_URL},
    {"eim-ca", required_argument, NULL, O_EIM_CA},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

RSP_PRINTF(1, 2)
static int usage_error(const char *fmt, ...) {
  va_list ap;
  fputs("rsp-fleet: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\n(rsp-fleet --help for the options)\n", stderr);
  return FLEET_EXIT_USAGE;
}

static bool parse_long(const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

static int set_number(const char *name, const char *arg, long min, long max, long *out) {
  if (!parse_long(arg, min, max, out))
    return usage_error("--%s wants a number %ld to %ld, not %s", name, min, max, arg);
  return FLEET_EXIT_OK;
}

static int apply_opt(struct fleet_opts *o, int c, const char *arg) {
  switch (c) {
  case O_PKI:
    o->pki = arg;
    break;
  case O_DEVICES:
    return set_number("devices", arg, 1, FLEET_DEVICES_MAX, &o->devices);
  case O_EIDS_FILE:
    o->eids_file = arg;
    break;
  case O_INDIRECT:
    return set_number("indirect", arg, 0, 100, &o->indirect_pct);
  case O_EIM_ID:
    o->eim_id = arg;
    break;
  case O_ROLLBACK_TIMEOUT:
    return set_number("rollback-timeout", arg, 1, 86400, &o->rollback_timeout_s);
  case O_REAL_TIME:
    o->real_time_waits = true;
    break;
  case O_MINIMIZE:
    o->minimize = true;
    break;
  case O_EIM_API:
    o->eim_api = arg;
    break;
  case O_API_KEY_FILE:
    o->api_key_file = arg;
    break;
  case O_API_CA:
    o->api_ca = arg;
    break;
  case O_MODEL:
    o->model = arg;
    break;
  case O_SEED:
    return set_number("seed", arg, 0, 0x7fffffffL, &o->seed);
  case O_SMDP_CA:
    o->smdp_ca = arg;
    break;
  case O_TIMEOUT:
    return set_number("timeout", arg, 1, 3600, &o->timeout_s);
  case O_POLL_INTERVAL:
    return set_number("poll-interval", arg, 1, 86400, &o->poll_interval_s);
  case O_JITTER:
    return set_number("jitter", arg, 0, 90, &o->jitter_pct);
  case O_THREADS:
    return set_number("threads", arg, 1, FLEET_THREADS_MAX, &o->threads);
  case O_DURATION:
    return set_number("duration", arg, 1, 30L * 86400, &o->duration_s);
  case O_STATUS:
    o->status_file = arg;
    break;
  case O_PROGRESS:
    return set_number("progress", arg, 0, 86400, &o->progress_s);
  case O_JSON:
    o->json = true;
    break;
  case O_LOG_LEVEL:
    if ((o->log_level = rsp_log_level_parse(arg)) < 0)
      return usage_error("--log-level wants error, warn, info, debug or trace, not %s", arg);
    break;
  case O_EIM_URL:
    o->eim_url = arg;
    break;
  case O_EIM_CA:
    o->eim_ca = arg;
    break;
  case O_PRINT_MODEL:
    o->print_model = true;
    break;
  case O_HELP:
    fputs(usage_text, stdout);
    return FLEET_EXIT_HELP;
  default:
    return usage_error("unknown option");
  }
  return FLEET_EXIT_OK;
}

static int parse_opts(int argc, char **argv, struct fleet_opts *o) {
  memset(o, 0, sizeof *o);
  o->indirect_pct = 50;
  o->rollback_timeout_s = 60;
  o->timeout_s = 30;
  o->poll_interval_s = 10;
  o->jitter_pct = 20;
  o->threads = 8;
  o->progress_s = 5;
  o->seed = 1;
  o->log_level = RSP_LOG_WARN;
  int c, rc;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    if (c == '?') return usage_error("unknown option or missing value: %s", argv[optind - 1]);
    if ((rc = apply_opt(o, c, optarg)) != FLEET_EXIT_OK) return rc;
  }
  if (optind < argc) return usage_error("unexpected argument %s", argv[optind]);
  if (o->print_model) return FLEET_EXIT_OK;
  if (!o->pki) return usage_error("--pki DIR is required");
  if (!o->eim_api || !o->api_key_file)
    return usage_error("--eim-api URL and --api-key-file FILE are required (manufacture)");
  if (o->eim_url && strncmp(o->eim_url, "https://", 8) != 0)
    return usage_error("--eim-url wants an https:// URL, not %s", o->eim_url);
  if (!o->eim_url != !o->eim_ca) return usage_error("--eim-url and --eim-ca go together");
  if (strncmp(o->eim_api, "https://", 8) != 0)
    return usage_error("--eim-api wants an https:// URL, not %s", o->eim_api);
  if (o->eids_file && o->devices)
    return usage_error("--devices and --eids-file exclude each other");
  if (!o->api_ca) {
    snprintf(o->api_ca_buf, sizeof o->api_ca_buf, "%s/ci/cert.pem", o->pki);
    o->api_ca = o->api_ca_buf;
  }
  if (!o->smdp_ca) {
    snprintf(o->smdp_ca_buf, sizeof o->smdp_ca_buf, "%s/ci/cert.pem", o->pki);
    o->smdp_ca = o->smdp_ca_buf;
  }
  return FLEET_EXIT_OK;
}

/* ---- the fleet ------------------------------------------------------------------------------- */

struct fleet;

struct device {
  struct fleet *f;
  size_t idx;
  char eid[RSP_EID_DIGITS + 1];
  struct rsp_euicc *card;
  struct rsp_apdu apdu;
  struct rsp_ipa ipa;
  bool indirect;
  bool manufactured;
  _Atomic size_t country;
  int64_t due_ms;      /* next poll (monotonic ms), the scheduler's key */
  int64_t time_offset; /* simulated time the IPA waited */
  size_t heap_pos;
  /* Copied under the fleet's lock when a worker hands the device back (for the status). */
  struct rsp_ipa_stats stats;
  char enabled_iccid[RSP_ICCID_MAX_DIGITS + 1];
  unsigned polls, poll_failures, offline_polls, failures_in_row;
};

/* ESipa latency histogram: buckets of about 6 % width (16 per power of two of microseconds). */
#define LAT_BUCKETS 1024

struct counters {
  atomic_ulong esipa_requests, esipa_failures, es9_requests, es9_failures, api_requests;
  atomic_ulong manufactured, manufacture_failures;
  atomic_ulong esipa_latency[LAT_BUCKETS];
};

struct fleet {
  const struct fleet_opts *o;
  struct rsp_fleet_model model;
  struct device *devices;
  size_t n;
  char api_key[FLEET_API_KEY_MAX];
  char *eum_b64;
  /* scheduler: a min-heap of the devices waiting for their poll, by due_ms */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct device **heap;
  size_t heap_len;
  bool stop;
  struct counters c;
  int64_t started_ms;
};

struct worker {
  struct fleet *f;
  pthread_t thread;
  unsigned id;
  struct rsp_esipa_https *esipa;
  char esipa_url[RSP_HTTPS_URL_MAX];
  struct rsp_buf esipa_trust;
  struct rsp_es9_https *es9;
  struct rsp_net_client *api;
  uint64_t rng;
};

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static unsigned lat_bucket(uint64_t us) {
  if (us < 16) return (unsigned)us;
  unsigned e = 63u - (unsigned)__builtin_clzll(us); /* e >= 4 */
  unsigned i = (e - 3u) * 16u + (unsigned)((us >> (e - 4u)) & 15u);
  return i < LAT_BUCKETS ? i : LAT_BUCKETS - 1;
}

/* The smallest latency (microseconds) of bucket i. */
static uint64_t lat_floor(unsigned i) {
  if (i < 16) return i;
  unsigned e = i / 16u + 3u, m = i % 16u;
  return (uint64_t)(16u + m) << (e - 4u);
}

/* The q-quantile (0..1) in milliseconds, from the bucket's floor; -1 without samples. */
static double lat_quantile(struct counters *c, double q, unsigned long *count) {
  unsigned long n = 0, seen = 0, snap[LAT_BUCKETS];
  for (unsigned i = 0; i < LAT_BUCKETS; i++) n += snap[i] = atomic_load(&c->esipa_latency[i]);
  if (count) *count = n;
  if (n == 0) return -1;
  unsigned long want = (unsigned long)((double)n * q);
  if (want >= n) want = n - 1;
  for (unsigned i = 0; i < LAT_BUCKETS; i++) {
    seen += snap[i];
    if (seen > want) return (double)lat_floor(i) / 1000.0;
  }
  return -1;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t next_random(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static int64_t jittered_ms(struct worker *w, long s, long pct) {
  int64_t base = (int64_t)s * 1000;
  int64_t spread = base * pct / 100;
  if (spread <= 0) return base;
  return base - spread + (int64_t)(next_random(&w->rng) % (uint64_t)(2 * spread + 1));
}

/* ---- scheduler heap (under f->lock) ---------------------------------------------------------- */

static void heap_swap(struct fleet *f, size_t a, size_t b) {
  struct device *t = f->heap[a];
  f->heap[a] = f->heap[b];
  f->heap[b] = t;
  f->heap[a]->heap_pos = a;
  f->heap[b]->heap_pos = b;
}

static void heap_up(struct fleet *f, size_t i) {
  while (i > 0 && f->heap[(i - 1) / 2]->due_ms > f->heap[i]->due_ms) {
    heap_swap(f, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void heap_down(struct fleet *f, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < f->heap_len && f->heap[l]->due_ms < f->heap[m]->due_ms) m = l;
    if (r < f->heap_len && f->heap[r]->due_ms < f->heap[m]->due_ms) m = r;
    if (m == i) return;
    heap_swap(f, i, m);
    i = m;
  }
}

static void heap_push(struct fleet *f, struct device *d) {
  d->heap_pos = f->heap_len;
  f->heap[f->heap_len++] = d;
  heap_up(f, d->heap_pos);
}

static struct device *heap_pop(struct fleet *f) {
  struct device *top = f->heap[0];
  f->heap[0] = f->heap[--f->heap_len];
  f->heap[0]->heap_pos = 0;
  if (f->heap_len) heap_down(f, 0);
  return top;
}

/* Every waiting device is due now (SIGUSR1). */
static void poll_all_now(struct fleet *f) {
  pthread_mutex_lock(&f->lock);
  int64_t now = mono_ms();
  for (size_t i = 0; i < f->heap_len; i++) f->heap[i]->due_ms = now;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
}

/* Waits for the next due device; NULL when the fleet stops. */
static struct device *take_due(struct fleet *f) {
  pthread_mutex_lock(&f->lock);
  for (;;) {
    if (f->stop) break;
    if (f->heap_len == 0) {
      pthread_cond_wait(&f->cond, &f->lock);
      continue;
    }
    int64_t now = mono_ms(), due = f->heap[0]->due_ms;
    if (due <= now) {
      struct device *d = heap_pop(f);
      pthread_mutex_unlock(&f->lock);
      return d;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wait = due - now;
    if (wait > 1000) wait = 1000;
    ts.tv_sec += (time_t)(wait / 1000);
    ts.tv_nsec += (long)(wait % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&f->cond, &f->lock, &ts);
  }
  pthread_mutex_unlock(&f->lock);
  return NULL;
}

static void give_back(struct fleet *f, struct device *d, int64_t delay_ms) {
  pthread_mutex_lock(&f->lock);
  d->due_ms = mono_ms() + delay_ms;
  d->stats = d->ipa.stats;
  heap_push(f, d);
  pthread_cond_signal(&f->cond);
  pthread_mutex_unlock(&f->lock);
}

/* ---- the device's card: which profile is enabled --------------------------------------------- */

/* The ICCID of the enabled profile ("" when none), read from the card (ES10c.GetProfilesInfo
 * with the ICCID and state tags), as a device's modem would know it. */
static void read_enabled_iccid(struct device *d, char out[RSP_ICCID_MAX_DIGITS + 1]) {
  static const uint8_t tags[] = {0x5A, 0x9F, 0x70}; /* iccid, profileState */
  struct rsp_msg_profile_info_list_request q = {.tag_list = {tags, sizeof tags}};
  struct rsp_msg_profile_info_list_response *r = NULL;
  struct rsp_buf req, resp;
  struct rsp_arena a;
  out[0] = '\0';
  rsp_buf_init(&req, 64);
  rsp_buf_init(&resp, 1 << 16);
  rsp_arena_init(&a, 1 << 20);
  if (rsp_msg_encode(&rsp_msgt_profile_info_list_request, &q, &req, NULL) == RSP_OK &&
      rsp_euicc_es10(d->card, req.data, req.len, &resp) == RSP_OK &&
      rsp_msg_decode(&rsp_msgt_profile_info_list_response, resp.data, resp.len, &a, (void **)&r,
                     NULL) == RSP_OK &&
      r->which == RSP_MSG_PROFILE_INFO_LIST_RESPONSE_PROFILE_INFO_LIST_OK) {
    const struct rsp_msg_profile_info_list_response_profile_info_list_ok *l =
        r->u.profile_info_list_ok;
    for (size_t i = 0; i < l->n; i++)
      if (l->v[i].profile_state.present &&
          l->v[i].profile_state.v == RSP_MSG_PROFILE_STATE_ENABLED &&
          l->v[i].iccid.len == RSP_ICCID_LEN) {
        if (rsp_iccid_decode(l->v[i].iccid.p, out) != RSP_OK) out[0] = '\0';
        break;
      }
  }
  rsp_arena_free(&a);
  rsp_buf_free(&resp);
  rsp_buf_free(&req);
}

/* ---- the IPA's ports ------------------------------------------------------------------------- */

static bool dev_attached(void *ctx) {
  struct device *d = ctx;
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  read_enabled_iccid(d, iccid);
  return rsp_fleet_model_attached(&d->f->model, atomic_load(&d->country), iccid);
}

static int64_t dev_now_ms(void *ctx) {
  struct device *d = ctx;
  return mono_ms() + d->time_offset;
}

static void dev_wait_ms(void *ctx, int ms) {
  struct device *d = ctx;
  if (!d->f->o->real_time_waits) {
    d->time_offset += ms;
    return;
  }
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static const struct rsp_ipa_platform_ops dev_platform = {dev_attached, dev_now_ms, dev_wait_ms,
                                                         NULL};

/* The workers' transports, counted. The IPA's ctx is the worker. */
static rsp_err_t counted_esipa(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp) {
  struct worker *w = ctx;
  uint64_t t0 = mono_us();
  rsp_err_t rc = rsp_esipa_https_ops.exchange(w->esipa, req, len, resp);
  atomic_fetch_add(&w->f->c.esipa_latency[lat_bucket(mono_us() - t0)], 1);
  atomic_fetch_add(&w->f->c.esipa_requests, 1);
  if (rc != RSP_OK) atomic_fetch_add(&w->f->c.esipa_failures, 1);
  return rc;
}

static const struct rsp_ipa_esipa_ops counted_esipa_ops = {"fleet-esipa", counted_esipa};

static rsp_err_t counted_es9(void *ctx, const char *smdp_address, const char *path,
                             const struct rsp_buf *body, int *http_status, struct rsp_buf *resp) {
  struct worker *w = ctx;
  rsp_err_t rc = rsp_es9_https_ops.call(w->es9, smdp_address, path, body, http_status, resp);
  atomic_fetch_add(&w->f->c.es9_requests, 1);
  if (rc != RSP_OK || *http_status != 200) atomic_fetch_add(&w->f->c.es9_failures, 1);
  return rc;
}

static const struct rsp_ipa_es9_ops counted_es9_ops = {counted_es9};

/* Points the worker's ESipa transport at the eIM of the device's card (eimFqdn, and the TLS
 * trust from trustedPublicKeyDataTls), keeping the connection when nothing changed. */
static bool worker_esipa_for(struct worker *w, struct device *d) {
  const struct fleet_opts *o = w->f->o;
  if (o->eim_url) { /* --eim-url: one transport per worker, the card's configuration unused */
    struct rsp_esipa_https_options eo = {
        .url = o->eim_url, .ca_file = o->eim_ca, .timeout_ms = (unsigned)o->timeout_s * 1000u};
    if (!w->esipa && rsp_esipa_https_new(&eo, &w->esipa) != RSP_OK) {
      rsp_log(RSP_LOG_ERROR, "fleet", "ESipa transport to %s (--eim-ca %s) failed", o->eim_url,
              o->eim_ca);
      return false;
    }
    return true;
  }
  struct rsp_arena a;
  struct rsp_msg_eim_configuration_data *cfg = NULL;
  char url[RSP_HTTPS_URL_MAX];
  bool ok = false;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_es10_client_open(&d->ipa.es10);
  if (rc == RSP_OK) rc = rsp_ipa_read_eim_config(&d->ipa.es10, w->f->o->eim_id, &a, &cfg);
  rsp_es10_client_close(&d->ipa.es10);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_WARN, "fleet", "%s: no eIM configuration on the card: %s", d->eid,
            rsp_strerror(rc));
    goto out;
  }
  const struct rsp_slice trust = cfg->trusted_public_key_data_tls
                                     ? cfg->trusted_public_key_data_tls->raw
                                     : rsp_msg_slice(NULL, 0);
  if (!cfg->eim_fqdn.len ||
      rsp_esipa_https_url_from_fqdn((const char *)cfg->eim_fqdn.p, cfg->eim_fqdn.len, url,
                                    sizeof url) != RSP_OK) {
    rsp_log(RSP_LOG_WARN, "fleet", "%s: the card's eIM configuration has no usable eimFqdn",
            d->eid);
    goto out;
  }
  if (!trust.len) {
    rsp_log(RSP_LOG_WARN, "fleet", "%s: the card's eIM configuration has no TLS trust", d->eid);
    goto out;
  }
  if (w->esipa && !strcmp(url, w->esipa_url) && trust.len == w->esipa_trust.len &&
      memcmp(trust.p, w->esipa_trust.data, trust.len) == 0) {
    ok = true;
    goto out;
  }
  struct rsp_esipa_https_options eo = {.url = url,
                                       .timeout_ms = (unsigned)w->f->o->timeout_s * 1000u};
  struct rsp_esipa_https *t = NULL;
  if (rsp_esipa_https_trust_from_eim_config(cfg, &eo) != RSP_OK ||
      (rc = rsp_esipa_https_new(&eo, &t)) != RSP_OK) {
    rsp_log(RSP_LOG_WARN, "fleet", "%s: ESipa transport to %s: unusable TLS trust", d->eid, url);
    goto out;
  }
  rsp_esipa_https_free(w->esipa);
  w->esipa = t;
  snprintf(w->esipa_url, sizeof w->esipa_url, "%s", url);
  rsp_buf_reset(&w->esipa_trust);
  ok = rsp_buf_append(&w->esipa_trust, trust.p, trust.len) == RSP_OK;
out:
  rsp_arena_free(&a);
  return ok;
}

/* ---- manufacture: registration at the eIM and AddInitialEim ---------------------------------- */

static bool read_file(const char *path, struct rsp_buf *out) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return false;
  uint8_t chunk[4096];
  size_t n;
  bool ok = true;
  while (ok && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
    ok = rsp_buf_append(out, chunk, n) == RSP_OK;
  ok = ok && !ferror(fp);
  fclose(fp);
  return ok;
}

static char *b64_of(const uint8_t *p, size_t n) {
  size_t size = rsp_msg_base64_encoded_len(n) + 1;
  char *s = rsp_malloc(size);
  if (s && rsp_msg_base64_encode(p, n, s, size) != RSP_OK) {
    rsp_free(s);
    s = NULL;
  }
  return s;
}

static rsp_err_t api_call(struct worker *w, const char *method, const char *path, const char *body,
                          struct rsp_net_client_response *res) {
  char url[1024], auth[FLEET_API_KEY_MAX + 16];
  snprintf(url, sizeof url, "%s%s", w->f->o->eim_api, path);
  snprintf(auth, sizeof auth, "Bearer %s", w->f->api_key);
  const struct rsp_net_header h[] = {{"Authorization", auth}, {"Content-Type", "application/json"}};
  atomic_fetch_add(&w->f->c.api_requests, 1);
  return rsp_net_client_request(w->api, method, url, h, body ? 2 : 1, body, body ? strlen(body) : 0,
                                res);
}

static bool register_device(struct worker *w, struct device *d) {
  char path[FLEET_PATH_MAX];
  struct rsp_buf cert;
  struct rsp_net_client_response res;
  bool ok = false;
  rsp_buf_init(&cert, FLEET_CERT_MAX);
  rsp_net_client_response_init(&res);
  snprintf(path, sizeof path, "%s/euicc/%s/cert.der", w->f->o->pki, d->eid);
  char *cert_b64 = read_file(path, &cert) ? b64_of(cert.data, cert.len) : NULL;
  json_t *body = json_pack("{s:s}", "eid", d->eid);
  if (!cert_b64 || !body) {
    rsp_log(RSP_LOG_ERROR, "fleet", "%s: cannot read %s", d->eid, path);
    goto out;
  }
  json_object_set_new(body, "euiccCertificate", json_string(cert_b64));
  if (w->f->eum_b64) json_object_set_new(body, "eumCertificate", json_string(w->f->eum_b64));
  char *text = json_dumps(body, JSON_COMPACT);
  rsp_err_t rc = text ? api_call(w, "POST", "/v1/devices", text, &res) : RSP_E_NOMEM;
  free(text);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "fleet", "%s: eIM API: %s (%s)", d->eid, rsp_strerror(rc), res.error);
  } else if (res.status != 201 && res.status != 409) {
    rsp_log(RSP_LOG_ERROR, "fleet", "%s: registration refused: HTTP %d %.*s", d->eid, res.status,
            (int)(res.body.len > 300 ? 300 : res.body.len), (const char *)res.body.data);
  } else {
    ok = true;
  }
out:
  json_decref(body);
  rsp_free(cert_b64);
  rsp_net_client_response_free(&res);
  rsp_buf_free(&cert);
  return ok;
}

static bool load_initial_eim(struct worker *w, struct device *d) {
  char path[128];
  struct rsp_net_client_response res;
  struct rsp_buf der, resp;
  struct rsp_arena a;
  struct rsp_msg_add_initial_eim_response *r = NULL;
  bool ok = false;
  json_t *j = NULL;
  rsp_net_client_response_init(&res);
  rsp_buf_init(&der, 1 << 16);
  rsp_buf_init(&resp, 1 << 12);
  rsp_arena_init(&a, 1 << 16);
  snprintf(path, sizeof path, "/v1/devices/%s/add-initial-eim", d->eid);
  rsp_err_t rc = api_call(w, "GET", path, NULL, &res);
  if (rc != RSP_OK || res.status != 200) {
    rsp_log(RSP_LOG_ERROR, "fleet", "%s: AddInitialEim from the eIM: %s HTTP %d", d->eid,
            rsp_strerror(rc), res.status);
    goto out;
  }
  j = json_loadb((const char *)res.body.data, res.body.len, 0, NULL);
  const char *b64 = json_string_value(json_object_get(j, "addInitialEimRequest"));
  size_t len = 0;
  if (!b64 || rsp_buf_reserve(&der, rsp_msg_base64_decoded_max(strlen(b64))) != RSP_OK ||
      rsp_msg_base64_decode(b64, strlen(b64), der.data, der.size, &len) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "fleet", "%s: the eIM's answer has no addInitialEimRequest", d->eid);
    goto out;
  }
  rc = rsp_euicc_es10(d->card, der.data, len, &resp);
  if (rc == RSP_OK)
    rc = rsp_msg_decode(&rsp_msgt_add_initial_eim_response, resp.data, resp.len, &a, (void **)&r,
                        NULL);
  if (rc != RSP_OK || r->which != RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK) {
    rsp_log(RSP_LOG_ERROR, "fleet", "%s: the card refused AddInitialEim: %s (error %lld)", d->eid,
            rsp_strerror(rc), rc == RSP_OK ? (long long)r->u.add_initial_eim_error : -1LL);
    goto out;
  }
  ok = true;
out:
  json_decref(j);
  rsp_arena_free(&a);
  rsp_buf_free(&resp);
  rsp_buf_free(&der);
  rsp_net_client_response_free(&res);
  return ok;
}

static bool manufacture(struct worker *w, struct device *d) {
  bool ok = register_device(w, d) && load_initial_eim(w, d);
  atomic_fetch_add(ok ? &w->f->c.manufactured : &w->f->c.manufacture_failures, 1);
  if (ok) rsp_log(RSP_LOG_DEBUG, "fleet", "%s: manufactured", d->eid);
  return ok;
}

/* ---- one turn of a device -------------------------------------------------------------------- */

static int64_t device_turn(struct worker *w, struct device *d) {
  const struct fleet_opts *o = w->f->o;
  if (!d->manufactured) {
    if (!manufacture(w, d)) return jittered_ms(w, o->poll_interval_s, o->jitter_pct);
    d->manufactured = true;
    /* the first poll somewhere in the first interval, so the fleet does not poll in step */
    return (int64_t)(next_random(&w->rng) % (uint64_t)(o->poll_interval_s * 1000));
  }
  char iccid[RSP_ICCID_MAX_DIGITS + 1];
  read_enabled_iccid(d, iccid);
  if (!rsp_fleet_model_attached(&w->f->model, atomic_load(&d->country), iccid)) {
    d->offline_polls++;
    snprintf(d->enabled_iccid, sizeof d->enabled_iccid, "%s", iccid);
    return jittered_ms(w, o->poll_interval_s, o->jitter_pct);
  }
  d->polls++;
  rsp_err_t rc = RSP_E_STATE;
  if (worker_esipa_for(w, d)) {
    d->ipa.esipa = &counted_esipa_ops;
    d->ipa.esipa_ctx = w;
    d->ipa.es9 = d->indirect ? NULL : &counted_es9_ops;
    d->ipa.es9_ctx = w;
    rc = rsp_ipa_poll(&d->ipa);
  }
  read_enabled_iccid(d, d->enabled_iccid);
  if (rc != RSP_OK) {
    d->poll_failures++;
    d->failures_in_row++;
    rsp_log(RSP_LOG_INFO, "fleet", "%s: poll failed: %s (%u in a row)", d->eid, rsp_strerror(rc),
            d->failures_in_row);
    long s = o->poll_interval_s;
    for (unsigned i = 1; i < d->failures_in_row && s < 8 * o->poll_interval_s; i++) s *= 2;
    return jittered_ms(w, s, o->jitter_pct);
  }
  d->failures_in_row = 0;
  return jittered_ms(w, o->poll_interval_s, o->jitter_pct);
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct device *d;
  while ((d = take_due(w->f)) != NULL) {
    int64_t next = device_turn(w, d);
    give_back(w->f, d, next);
  }
  return NULL;
}

static bool worker_setup(struct worker *w) {
  const struct fleet_opts *o = w->f->o;
  rsp_buf_init(&w->esipa_trust, 1 << 16);
  w->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)w->id << 32) ^ (uint64_t)o->seed;
  struct rsp_es9_https_options so = {.ca_file = o->smdp_ca,
                                     .timeout_ms = (unsigned)o->timeout_s * 1000u};
  rsp_err_t rc = rsp_es9_https_new(&so, &w->es9);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "fleet", "ES9+ transport (--smdp-ca %s): %s", o->smdp_ca,
            rsp_strerror(rc));
    return false;
  }
  struct rsp_net_client_options no = {.ca_file = o->api_ca,
                                      .timeout_ms = (unsigned)o->timeout_s * 1000u,
                                      .user_agent = "rsp-fleet"};
  if ((rc = rsp_net_client_new(&no, &w->api)) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "fleet", "eIM API client (--api-ca %s): %s", o->api_ca,
            rsp_strerror(rc));
    return false;
  }
  return true;
}

static void worker_free(struct worker *w) {
  rsp_esipa_https_free(w->esipa);
  rsp_es9_https_free(w->es9);
  rsp_net_client_destroy(w->api);
  rsp_buf_free(&w->esipa_trust);
}

/* ---- setup: the EIDs, the cards, the devices ------------------------------------------------- */

static bool eid_ok(const char *s) {
  uint8_t eid[RSP_EID_LEN];
  return strlen(s) == RSP_EID_DIGITS && rsp_eid_from_string(s, eid) == RSP_OK;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A growing list of EIDs (heap strings). */
struct eid_list {
  char **v;
  size_t n, size;
};

static bool eid_list_add(struct eid_list *l, const char *eid) {
  if (l->n == l->size) {
    size_t size = l->size ? 2 * l->size : 1024;
    char **nv = realloc(l->v, size * sizeof *nv);
    if (!nv) return false;
    l->v = nv;
    l->size = size;
  }
  if (!(l->v[l->n] = strdup(eid))) return false;
  l->n++;
  return true;
}

static void eid_list_free(struct eid_list *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* --eids-file: one EID per line, '#' comments, in the file's order. */
static bool eids_from_file(const char *path, struct eid_list *l) {
  char line[256];
  bool ok = true;
  FILE *fp = fopen(path, "r");
  if (!fp) {
    rsp_log(RSP_LOG_ERROR, "fleet", "--eids-file %s: %s", path, strerror(errno));
    return false;
  }
  for (unsigned no = 1; ok && fgets(line, sizeof line, fp); no++) {
    line[strcspn(line, " \t\r\n#")] = '\0';
    if (!line[0]) continue;
    if (!eid_ok(line)) {
      rsp_log(RSP_LOG_ERROR, "fleet", "%s:%u: not an EID: %s", path, no, line);
      ok = false;
    } else {
      ok = eid_list_add(l, line);
    }
  }
  fclose(fp);
  return ok;
}

/* The EID folders of DIR/euicc, sorted. */
static bool eids_from_pki(const char *pki, struct eid_list *l) {
  char dir[FLEET_PATH_MAX];
  bool ok = true;
  snprintf(dir, sizeof dir, "%s/euicc", pki);
  DIR *dp = opendir(dir);
  if (!dp) {
    rsp_log(RSP_LOG_ERROR, "fleet", "%s: %s (is --pki an rsp-pki directory?)", dir,
            strerror(errno));
    return false;
  }
  struct dirent *e;
  while (ok && (e = readdir(dp)) != NULL)
    if (eid_ok(e->d_name)) ok = eid_list_add(l, e->d_name);
  closedir(dp);
  if (ok) qsort(l->v, l->n, sizeof *l->v, cmp_str);
  return ok;
}

/* The EIDs to simulate: --eids-file, or the EID folders of DIR/euicc in order; the first
 * --devices of them. */
static bool list_eids(const struct fleet_opts *o, char ***out, size_t *n_out) {
  struct eid_list l = {0};
  bool ok = o->eids_file ? eids_from_file(o->eids_file, &l) : eids_from_pki(o->pki, &l);
  if (ok && l.n == 0) {
    rsp_log(RSP_LOG_ERROR, "fleet", "no EIDs found (%s)", o->eids_file ? o->eids_file : o->pki);
    ok = false;
  }
  if (ok && o->devices && (size_t)o->devices > l.n) {
    rsp_log(RSP_LOG_ERROR, "fleet", "--devices %ld but %s/euicc has %zu eUICCs", o->devices, o->pki,
            l.n);
    ok = false;
  }
  if (!ok) {
    eid_list_free(&l);
    return false;
  }
  if (o->devices) {
    for (size_t i = (size_t)o->devices; i < l.n; i++) free(l.v[i]);
    l.n = (size_t)o->devices;
  }
  *out = l.v;
  *n_out = l.n;
  return true;
}

static bool read_api_key(const char *path, char *key, size_t size) {
  FILE *fp = fopen(path, "r");
  char line[FLEET_API_KEY_MAX];
  if (!fp) {
    rsp_log(RSP_LOG_ERROR, "fleet", "--api-key-file %s: %s", path, strerror(errno));
    return false;
  }
  key[0] = '\0';
  while (!key[0] && fgets(line, sizeof line, fp)) {
    line[strcspn(line, "\r\n")] = '\0';
    char *s = line + strspn(line, " \t");
    if (*s && *s != '#') snprintf(key, size, "%s", s);
  }
  fclose(fp);
  if (!key[0]) rsp_log(RSP_LOG_ERROR, "fleet", "--api-key-file %s: no key in it", path);
  return key[0] != '\0';
}

static bool open_device(struct fleet *f, struct device *d, size_t idx, const char *eid) {
  const struct fleet_opts *o = f->o;
  d->f = f;
  d->idx = idx;
  snprintf(d->eid, sizeof d->eid, "%s", eid);
  struct rsp_euicc_options eo = {.pki_dir = o->pki, .eid = eid};
  rsp_err_t rc = rsp_euicc_open(&eo, &d->card);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "fleet", "card %s (%s/euicc/%s): %s", eid, o->pki, eid,
            rsp_strerror(rc));
    return false;
  }
  rsp_apdu_inproc_init(&d->apdu, d->card);
  rsp_ipa_init(&d->ipa, &d->apdu, NULL, NULL);
  d->ipa.platform = &dev_platform;
  d->ipa.platform_ctx = d;
  d->ipa.rollback_timeout_ms = (int64_t)o->rollback_timeout_s * 1000;
  /* every (100 / pct)-th device by position is indirect: pct 50 -> odd positions */
  d->indirect = o->indirect_pct > 0 && (idx * (size_t)o->indirect_pct) / 100 !=
                                           ((idx + 1) * (size_t)o->indirect_pct) / 100;
  d->ipa.download_mode = d->indirect ? RSP_IPA_DOWNLOAD_INDIRECT : RSP_IPA_DOWNLOAD_DIRECT;
  d->ipa.minimize_esipa_bytes = o->minimize;
  d->ipa.eim_id = o->eim_id;
  atomic_store(&d->country, rsp_fleet_model_place(&f->model, eid, (uint64_t)o->seed));
  return true;
}

/* ---- status and report ----------------------------------------------------------------------- */

struct totals {
  size_t devices, manufactured, attached, offline, indirect;
  unsigned long polls, poll_failures, offline_polls;
  struct rsp_ipa_stats s;
  size_t per_operator[RSP_FLEET_OPERATORS_MAX + 2]; /* + unknown operator, + none enabled */
  size_t per_country[RSP_FLEET_COUNTRIES_MAX];
};

static void add_stats(struct rsp_ipa_stats *t, const struct rsp_ipa_stats *s) {
  t->packages += s->packages;
  t->data_requests += s->data_requests;
  t->triggers += s->triggers;
  t->acknowledged += s->acknowledged;
  t->errors += s->errors;
  t->rollbacks += s->rollbacks;
  t->indirect_downloads += s->indirect_downloads;
  t->immediate_enables += s->immediate_enables;
  t->immediate_enable_refusals += s->immediate_enable_refusals;
  t->redelivered += s->redelivered;
  t->notifications += s->notifications;
  t->smds_retrievals += s->smds_retrievals;
}

static void gather(struct fleet *f, struct totals *t) {
  memset(t, 0, sizeof *t);
  t->devices = f->n;
  pthread_mutex_lock(&f->lock);
  for (size_t i = 0; i < f->n; i++) {
    const struct device *d = &f->devices[i];
    size_t country = atomic_load(&d->country);
    t->manufactured += d->manufactured;
    t->indirect += d->indirect;
    t->polls += d->polls;
    t->poll_failures += d->poll_failures;
    t->offline_polls += d->offline_polls;
    add_stats(&t->s, &d->stats);
    t->per_country[country]++;
    if (!d->manufactured) continue;
    bool att = rsp_fleet_model_attached(&f->model, country, d->enabled_iccid);
    t->attached += att;
    t->offline += !att;
    int op = d->enabled_iccid[0] ? rsp_fleet_model_operator(&f->model, d->enabled_iccid) : -2;
    t->per_operator[op >= 0    ? (size_t)op
                    : op == -1 ? f->model.n_operators
                               : f->model.n_operators + 1]++;
  }
  pthread_mutex_unlock(&f->lock);
}

static json_t *report_json(struct fleet *f) {
  struct totals t;
  gather(f, &t);
  double secs = (double)(mono_ms() - f->started_ms) / 1000.0;
  unsigned long esipa = atomic_load(&f->c.esipa_requests), es9 = atomic_load(&f->c.es9_requests),
                api = atomic_load(&f->c.api_requests);
  json_t *ops = json_object(), *countries = json_object();
  for (size_t i = 0; i < f->model.n_operators; i++)
    json_object_set_new(ops, f->model.operators[i].name,
                        json_integer((json_int_t)t.per_operator[i]));
  json_object_set_new(ops, "(unknown operator)",
                      json_integer((json_int_t)t.per_operator[f->model.n_operators]));
  json_object_set_new(ops, "(no profile enabled)",
                      json_integer((json_int_t)t.per_operator[f->model.n_operators + 1]));
  for (size_t i = 0; i < f->model.n_countries; i++)
    json_object_set_new(countries, f->model.countries[i].code,
                        json_integer((json_int_t)t.per_country[i]));
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  unsigned long samples = 0;
  double p50 = lat_quantile(&f->c, 0.50, &samples), p90 = lat_quantile(&f->c, 0.90, NULL),
         p99 = lat_quantile(&f->c, 0.99, NULL), p999 = lat_quantile(&f->c, 0.999, NULL);
  json_t *lat = json_pack("{s:I, s:f, s:f, s:f, s:f}", "samples", (json_int_t)samples, "p50", p50,
                          "p90", p90, "p99", p99, "p999", p999);
  json_t *j = json_pack(
      "{s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
      "s:I, "
      "s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:f}, s:o, s:o, s:f, s:I}",
      "devices", (json_int_t)t.devices, "manufactured", (json_int_t)t.manufactured,
      "manufactureFailures", (json_int_t)atomic_load(&f->c.manufacture_failures), "attached",
      (json_int_t)t.attached, "offline", (json_int_t)t.offline, "indirectDevices",
      (json_int_t)t.indirect, "polls", "done", (json_int_t)t.polls, "failed",
      (json_int_t)t.poll_failures, "offline", (json_int_t)t.offline_polls, "ipa", "packages",
      (json_int_t)t.s.packages, "dataRequests", (json_int_t)t.s.data_requests, "downloadTriggers",
      (json_int_t)t.s.triggers, "indirectDownloads", (json_int_t)t.s.indirect_downloads,
      "rollbacks", (json_int_t)t.s.rollbacks, "refused", (json_int_t)t.s.errors, "acknowledged",
      (json_int_t)t.s.acknowledged, "redelivered", (json_int_t)t.s.redelivered, "notifications",
      (json_int_t)t.s.notifications, "requests", "esipa", (json_int_t)esipa, "esipaFailed",
      (json_int_t)atomic_load(&f->c.esipa_failures), "es9", (json_int_t)es9, "es9Failed",
      (json_int_t)atomic_load(&f->c.es9_failures), "api", (json_int_t)api, "perSecond",
      secs > 0 ? (double)(esipa + es9 + api) / secs : 0.0, "devicesPerOperator", ops,
      "devicesPerCountry", countries, "elapsedSeconds", secs, "maxRssKiB",
      (json_int_t)ru.ru_maxrss);
  if (j && lat)
    json_object_set_new(j, "esipaLatencyMs", lat); /* bucket floors, ~6 % wide */
  else
    json_decref(lat);
  return j;
}

static void write_status(struct fleet *f) {
  char tmp[FLEET_PATH_MAX + 8];
  json_t *j = report_json(f);
  if (!j) return;
  json_object_set_new(j, "running", json_boolean(!f->stop));
  snprintf(tmp, sizeof tmp, "%s.tmp", f->o->status_file);
  if (json_dump_file(j, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
      rename(tmp, f->o->status_file) != 0)
    rsp_log(RSP_LOG_WARN, "fleet", "--status %s: cannot write it", f->o->status_file);
  json_decref(j);
}

static void progress_line(struct fleet *f) {
  struct totals t;
  gather(f, &t);
  double secs = (double)(mono_ms() - f->started_ms) / 1000.0;
  unsigned long req = atomic_load(&f->c.esipa_requests) + atomic_load(&f->c.es9_requests);
  fprintf(stderr,
          "rsp-fleet: %5.0f s  devices %zu (manufactured %zu, offline %zu)  polls %lu (failed %lu)"
          "  packages %u  downloads %u  rollbacks %u  requests %lu (%.0f/s)\n",
          secs, t.devices, t.manufactured, t.offline, t.polls, t.poll_failures, t.s.packages,
          t.s.triggers, t.s.rollbacks, req, secs > 0 ? (double)req / secs : 0.0);
}

static void print_table(struct fleet *f) {
  json_t *j = report_json(f);
  if (!j) return;
  json_t *ipa = json_object_get(j, "ipa"), *req = json_object_get(j, "requests"),
         *polls = json_object_get(j, "polls");
#define I(o, k) ((long long)json_integer_value(json_object_get(o, k)))
  printf("%-26s %lld (%lld indirect)\n", "devices", I(j, "devices"), I(j, "indirectDevices"));
  printf("%-26s %lld (failed %lld)\n", "manufactured", I(j, "manufactured"),
         I(j, "manufactureFailures"));
  printf("%-26s %lld done, %lld failed, %lld skipped offline\n", "polls", I(polls, "done"),
         I(polls, "failed"), I(polls, "offline"));
  printf("%-26s %lld packages, %lld downloads (%lld indirect), %lld data requests\n", "executed",
         I(ipa, "packages"), I(ipa, "downloadTriggers"), I(ipa, "indirectDownloads"),
         I(ipa, "dataRequests"));
  printf("%-26s %lld\n", "rollbacks", I(ipa, "rollbacks"));
  json_t *lat = json_object_get(j, "esipaLatencyMs");
  if (I(lat, "samples") > 0)
    printf("%-26s p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms\n", "ESipa latency",
           json_real_value(json_object_get(lat, "p50")),
           json_real_value(json_object_get(lat, "p90")),
           json_real_value(json_object_get(lat, "p99")),
           json_real_value(json_object_get(lat, "p999")));
  printf("%-26s %lld ESipa (%lld failed), %lld ES9+, %lld API; %.1f/s\n", "requests",
         I(req, "esipa"), I(req, "esipaFailed"), I(req, "es9"), I(req, "api"),
         json_real_value(json_object_get(req, "perSecond")));
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(j, "devicesPerOperator"), k, v)
      printf("%-26s %lld devices\n", k, (long long)json_integer_value(v));
  printf("%-26s %.1f s, max RSS %lld MiB\n", "elapsed",
         json_real_value(json_object_get(j, "elapsedSeconds")), I(j, "maxRssKiB") / 1024);
#undef I
  json_decref(j);
}

/* ---- moves: devices change country ----------------------------------------------------------- */

static void move_devices(struct fleet *f, double seconds, uint64_t *rng) {
  double p = f->model.moves_per_device_hour * seconds / 3600.0;
  if (p <= 0) return;
  for (size_t i = 0; i < f->n; i++) {
    double x = (double)(next_random(rng) >> 11) / 9007199254740992.0;
    if (x >= p) continue;
    size_t from = atomic_load(&f->devices[i].country);
    atomic_store(&f->devices[i].country, rsp_fleet_model_move(&f->model, from, next_random(rng)));
  }
}

/* ---- main ------------------------------------------------------------------------------------ */

static int run(struct fleet *f, sigset_t *signals) {
  const struct fleet_opts *o = f->o;
  size_t nw = (size_t)o->threads;
  struct worker *w = rsp_calloc(nw, sizeof *w);
  int rc = FLEET_EXIT_OK;
  size_t started = 0;
  if (!w) return FLEET_EXIT_FAIL;
  for (size_t i = 0; i < nw; i++) {
    w[i].f = f;
    w[i].id = (unsigned)i;
    if (!worker_setup(&w[i])) {
      rc = FLEET_EXIT_FAIL;
      goto out;
    }
  }
  f->started_ms = mono_ms();
  for (; started < nw; started++)
    if (pthread_create(&w[started].thread, NULL, worker_main, &w[started]) != 0) {
      rsp_log(RSP_LOG_ERROR, "fleet", "cannot start worker threads");
      rc = FLEET_EXIT_FAIL;
      break;
    }
  int64_t last_progress = f->started_ms, last_tick = f->started_ms;
  uint64_t rng = 0x2545F4914F6CDD1Dull ^ (uint64_t)o->seed;
  bool announced = false;
  while (rc == FLEET_EXIT_OK) {
    struct timespec ts = {1, 0};
    int sig = sigtimedwait(signals, NULL, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
      rsp_log(RSP_LOG_INFO, "fleet", "%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    if (sig == SIGUSR1) poll_all_now(f);
    int64_t now = mono_ms();
    move_devices(f, (double)(now - last_tick) / 1000.0, &rng);
    last_tick = now;
    if (o->status_file) write_status(f);
    if (o->progress_s && now - last_progress >= o->progress_s * 1000) {
      progress_line(f);
      last_progress = now;
    }
    if (!announced &&
        atomic_load(&f->c.manufactured) + atomic_load(&f->c.manufacture_failures) >= f->n) {
      announced = true;
      fprintf(stderr, "rsp-fleet: %lu devices manufactured (%lu failed) in %.1f s\n",
              (unsigned long)atomic_load(&f->c.manufactured),
              (unsigned long)atomic_load(&f->c.manufacture_failures),
              (double)(now - f->started_ms) / 1000.0);
    }
    if (o->duration_s && now - f->started_ms >= o->duration_s * 1000) break;
  }
out:
  pthread_mutex_lock(&f->lock);
  f->stop = true;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
  for (size_t i = 0; i < started; i++) pthread_join(w[i].thread, NULL);
  if (o->status_file) write_status(f);
  for (size_t i = 0; i < nw; i++) worker_free(&w[i]);
  rsp_free(w);
  if (atomic_load(&f->c.manufactured) == 0 && rc == FLEET_EXIT_OK) {
    rsp_log(RSP_LOG_ERROR, "fleet", "no device could be manufactured (is the eIM's API up?)");
    rc = FLEET_EXIT_FAIL;
  }
  return rc;
}

static int setup(struct fleet *f) {
  const struct fleet_opts *o = f->o;
  char why[256], path[FLEET_PATH_MAX];
  char **eids = NULL;
  size_t n = 0;
  if (rsp_fleet_model_load(o->model, &f->model, why, sizeof why) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "fleet", "network model %s: %s", o->model ? o->model : "(built in)",
            why);
    return FLEET_EXIT_USAGE;
  }
  if (!read_api_key(o->api_key_file, f->api_key, sizeof f->api_key)) return FLEET_EXIT_FAIL;
  if (!list_eids(o, &eids, &n)) return FLEET_EXIT_FAIL;
  struct rsp_buf eum;
  rsp_buf_init(&eum, FLEET_CERT_MAX);
  snprintf(path, sizeof path, "%s/eum/cert.der", o->pki);
  if (read_file(path, &eum)) f->eum_b64 = b64_of(eum.data, eum.len);
  rsp_buf_free(&eum);
  f->devices = rsp_calloc(n, sizeof *f->devices);
  f->heap = rsp_calloc(n, sizeof *f->heap);
  int rc = f->devices && f->heap ? FLEET_EXIT_OK : FLEET_EXIT_FAIL;
  int64_t t0 = mono_ms();
  for (size_t i = 0; rc == FLEET_EXIT_OK && i < n; i++) {
    if (!open_device(f, &f->devices[i], i, eids[i])) {
      rc = FLEET_EXIT_FAIL;
      break;
    }
    f->n = i + 1;
    f->devices[i].due_ms = t0; /* manufacture first */
    heap_push(f, &f->devices[i]);
  }
  for (size_t i = 0; i < n; i++) free(eids[i]);
  free(eids);
  if (rc == FLEET_EXIT_OK)
    fprintf(stderr, "rsp-fleet: %zu cards opened in %.1f s; %ld worker threads\n", f->n,
            (double)(mono_ms() - t0) / 1000.0, o->threads);
  return rc;
}

static void teardown(struct fleet *f) {
  for (size_t i = 0; i < f->n; i++) rsp_euicc_destroy(f->devices[i].card);
  rsp_free(f->devices);
  rsp_free(f->heap);
  rsp_free(f->eum_b64);
}

int main(int argc, char **argv) {
  struct fleet_opts o;
  int rc = parse_opts(argc, argv, &o);
  if (rc != FLEET_EXIT_OK) return rc == FLEET_EXIT_HELP ? FLEET_EXIT_OK : rc;
  if (o.print_model) {
    fputs(rsp_fleet_model_default_json, stdout);
    return FLEET_EXIT_OK;
  }
  rsp_log_set_level((enum rsp_log_level)o.log_level);
  rsp_log_set_sink(RSP_LOG_SINK_STDERR, "rsp-fleet");
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, NULL); /* inherited by the workers */
  signal(SIGPIPE, SIG_IGN);
  struct fleet f;
  memset(&f, 0, sizeof f);
  f.o = &o;
  pthread_mutex_init(&f.lock, NULL);
  pthread_cond_init(&f.cond, NULL);
  rc = setup(&f);
  if (rc == FLEET_EXIT_OK) rc = run(&f, &signals);
  if (f.n && rc != FLEET_EXIT_USAGE) {
    if (o.json) {
      json_t *j = report_json(&f);
      if (j) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(j);
      }
    } else {
      print_table(&f);
    }
  }
  teardown(&f);
  pthread_cond_destroy(&f.cond);
  pthread_mutex_destroy(&f.lock);
  return rc;
}
