/* rsp-ipad: the IoT Profile Assistant daemon (SGP.32 IPAd) for Linux. It drives lib/ipa's core:
 * the card through an APDU driver (raw socket to rsp-euicc, PC/SC, AT+CSIM on a modem's serial
 * line), the eIM over ESipa (ASN.1 binding, HTTPS) and the SM-DP+ over ES9+ (JSON binding,
 * HTTPS) for direct downloads.
 *
 * Schedule: one poll cycle (GetEimPackage until the eIM has nothing left) at start and every
 * --interval seconds with +-jitter; after a failed cycle, retries back off exponentially from
 * --retry-min to --retry-max. SIGUSR1 polls now; SIGINT/SIGTERM stop after the cycle in
 * progress. Signals are blocked and taken with sigtimedwait, so a cycle is never cut half way.
 *
 * Exit codes: 0 (a signal, or --once with a successful cycle), 1 (start-up failure, or --once
 * with a failed cycle), 2 (usage error). */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/arena.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/drivers/apdu.h"
#include "rsp/drivers/coap.h"
#include "rsp/drivers/https.h"
#include "rsp/drivers/storage.h"
#include "rsp/ipa/config.h"
#include "rsp/ipa/download.h"
#include "rsp/ipa/ipa.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/msg.h"

#define IPAD_EXIT_OK 0
#define IPAD_EXIT_FAIL 1
#define IPAD_EXIT_USAGE 2
#define IPAD_EXIT_HELP (-1)

#define IPAD_INITIAL_EIM_MAX (64u * 1024u) /* --add-initial-eim input */
#define IPAD_MAX_CONFIG_ARGS 128

static const char usage_text[] =
    "usage: rsp-ipad --card URI [options]\n"
    "       rsp-ipad --config FILE [options]\n"
    "\n"
    "The SGP.32 IoT Profile Assistant: polls the eIM over ESipa (HTTPS, ASN.1 binding), runs\n"
    "the eUICC packages it gets on the card, returns the signed results, answers the eIM's\n"
    "data requests and runs the profile downloads it triggers.\n"
    "\n"
    "Card:\n"
    "  --card URI            socket:HOST:PORT   raw APDU socket (rsp-euicc --listen)\n"
    "                        pcsc[:READER]      a PC/SC reader (default: the first with a card)\n"
    "                        at:DEVICE          a modem's serial line, AT+CSIM\n"
    "  --card-timeout MS     per-APDU timeout (default 5000)\n"
    "  --block N             STORE DATA block size, 1..255 (default 255)\n"
    "  --basic-channel       talk to the ISD-R on the basic channel, not a logical channel\n"
    "\n"
    "eIM (ESipa):\n"
    "  --eim-id ID           the eIM of the card's configuration to use (default: the first)\n"
    "  --eim-url URL         https URL of the eIM's ASN.1 binding (default: from the card's\n"
    "                        eimFqdn: https://FQDN/gsma/rsp2/asn1), or a coaps:// URL for\n"
    "                        ESipa over CoAP/DTLS (coaps://HOST:5684/gsma/rsp2/asn1)\n"
    "  --eim-ca FILE         CA certificates (PEM) the eIM's TLS certificate must chain to\n"
    "                        (default: the card's trustedPublicKeyDataTls; without either the\n"
    "                        IPA refuses to connect: never insecure)\n"
    "  --eim-cert FILE       TLS client certificate (PEM), with\n"
    "  --eim-key FILE        its private key\n"
    "  --admin-protocol V    X-Admin-Protocol sent to the eIM (default gsma/rsp/v2.1.0)\n"
    "  --esipa-binding B     asn1 (default: POST the DER messages to the eIM URL) or json\n"
    "                        (SGP.32 6.4.1: /gsma/rsp2/esipa/<function> at the URL's host)\n"
    "  --coap-psk-identity ID  coaps:// only: DTLS-PSK identity, with\n"
    "  --coap-psk-key-file FILE  the key in hex (file mode 600 or stricter); without them\n"
    "                        DTLS uses certificates: --eim-ca, or the card's trustedEimPkTls\n"
    "\n"
    "Profile downloads triggered by the eIM:\n"
    "  --smdp-ca FILE        CA certificates (PEM) for SM-DP+ TLS, for direct downloads (the\n"
    "                        IPA runs ES9+ itself); without it downloads are indirect\n"
    "  --download-mode M     auto (default: indirect without --smdp-ca or when the card's eIM\n"
    "                        configuration asks for it, else direct), direct or indirect (the\n"
    "                        eIM relays ES9+)\n"
    "  --minimize-esipa-bytes  send the compact ESipa forms in indirect downloads\n"
    "  --immediate-enable    enable a profile right after its installation (ImmediateEnable;\n"
    "                        the card decides whether it is allowed)\n"
    "\n"
    "Schedule:\n"
    "  --once                one poll cycle, then exit (0: success, 1: failure)\n"
    "  --interval SEC        seconds between polls (default 3600)\n"
    "  --jitter PCT          random spread of every wait, +-PCT percent (default 10)\n"
    "  --retry-min SEC       first retry after a failed cycle (default 10), doubling up to\n"
    "  --retry-max SEC       (default 3600)\n"
    "  --net-timeout SEC     timeout of one HTTPS exchange (default 30)\n"
    "\n"
    "Device:\n"
    "  --attached-cmd CMD    shell command telling whether the device has network on the\n"
    "                        current profile (exit status 0: attached); default: always\n"
    "  --rollback-timeout SEC  after a profile switch granted with rollback, how long to wait\n"
    "                        for network before ProfileRollback (default 120)\n"
    "  --state-dir DIR       keep what must survive a restart here (an interrupted rollback\n"
    "                        watchdog, a state change owed to the eIM); without it, only in\n"
    "                        memory. Under systemd: /var/lib/rsp-ipad\n"
    "\n"
    "Output:\n"
    "  --json                with --once: a JSON summary of the cycle on stdout\n"
    "  --status-file FILE    a JSON status written (atomically) after every cycle\n"
    "  --log-level LEVEL     error, warn, info (default), debug, trace\n"
    "  --syslog              log to syslog (ident rsp-ipad) instead of stderr\n"
    "  --config FILE         INI file; keys are the long option names (without --), in the\n"
    "                        [ipad] section or none; the command line wins. Flags take\n"
    "                        true/false\n"
    "  --help                this text\n"
    "\n"
    "Factory:\n"
    "  --add-initial-eim FILE  load an AddInitialEimRequest (DER, as rsp-eimctl device\n"
    "                        add-initial-eim --out writes it; '-': standard input) on the card\n"
    "                        (ES10b.AddInitialEim), print the card's answer and exit\n"
    "\n"
    "Signals: SIGUSR1 polls now; SIGINT or SIGTERM stop after the cycle in progress.\n"
    "Exit codes: 0 success, 1 failure, 2 usage error.\n";

enum {
  O_CARD = 256,
  O_CARD_TIMEOUT,
  O_BLOCK,
  O_BASIC_CHANNEL,
  O_EIM_ID,
  O_EIM_URL,
  O_EIM_CA,
  O_EIM_CERT,
  O_EIM_KEY,
  O_ADMIN_PROTOCOL,
  O_ESIPA_BINDING,
  O_COAP_PSK_IDENTITY,
  O_COAP_PSK_KEY_FILE,
  O_SMDP_CA,
  O_DOWNLOAD_MODE,
  O_MINIMIZE,
  O_IMMEDIATE_ENABLE,
  O_ONCE,
  O_INTERVAL,
  O_JITTER,
  O_RETRY_MIN,
  O_RETRY_MAX,
  O_NET_TIMEOUT,
  O_ATTACHED_CMD,
  O_ROLLBACK_TIMEOUT,
  O_STATE_DIR,
  O_JSON,
  O_STATUS_FILE,
  O_LOG_LEVEL,
  O_SYSLOG,
  O_CONFIG,
  O_ADD_INITIAL_EIM,
  O_HELP
};

static const struct option longopts[] = {
    {"card", required_argument, NULL, O_CARD},
    {"card-timeout", required_argument, NULL, O_CARD_TIMEOUT},
    {"block", required_argument, NULL, O_BLOCK},
    {"basic-channel", no_argument, NULL, O_BASIC_CHANNEL},
    {"eim-id", required_argument, NULL, O_EIM_ID},
    {"eim-url", required_argument, NULL, O_EIM_URL},
    {"eim-ca", required_argument, NULL, O_EIM_CA},
    {"eim-cert", required_argument, NULL, O_EIM_CERT},
    {"eim-key", required_argument, NULL, O_EIM_KEY},
    {"admin-protocol", required_argument, NULL, O_ADMIN_PROTOCOL},
    {"esipa-binding", required_argument, NULL, O_ESIPA_BINDING},
    {"coap-psk-identity", required_argument, NULL, O_COAP_PSK_IDENTITY},
    {"coap-psk-key-file", required_argument, NULL, O_COAP_PSK_KEY_FILE},
    {"smdp-ca", required_argument, NULL, O_SMDP_CA},
    {"download-mode", required_argument, NULL, O_DOWNLOAD_MODE},
    {"minimize-esipa-bytes", no_argument, NULL, O_MINIMIZE},
    {"immediate-enable", no_argument, NULL, O_IMMEDIATE_ENABLE},
    {"once", no_argument, NULL, O_ONCE},
    {"interval", required_argument, NULL, O_INTERVAL},
    {"jitter", required_argument, NULL, O_JITTER},
    {"retry-min", required_argument, NULL, O_RETRY_MIN},
    {"retry-max", required_argument, NULL, O_RETRY_MAX},
    {"net-timeout", required_argument, NULL, O_NET_TIMEOUT},
    {"attached-cmd", required_argument, NULL, O_ATTACHED_CMD},
    {"rollback-timeout", required_argument, NULL, O_ROLLBACK_TIMEOUT},
    {"state-dir", required_argument, NULL, O_STATE_DIR},
    {"json", no_argument, NULL, O_JSON},
    {"status-file", required_argument, NULL, O_STATUS_FILE},
    {"log-level", required_argument, NULL, O_LOG_LEVEL},
    {"syslog", no_argument, NULL, O_SYSLOG},
    {"config", required_argument, NULL, O_CONFIG},
    {"add-initial-eim", required_argument, NULL, O_ADD_INITIAL_EIM},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};

struct ipad_opts {
  const char *card;
  long card_timeout_ms, block;
  bool basic_channel;
  const char *eim_id, *eim_url, *eim_ca, *eim_cert, *eim_key, *admin_protocol;
  const char *coap_psk_identity, *coap_psk_key_file;
  const char *smdp_ca;
  enum rsp_ipa_download_mode download_mode;
  bool minimize, immediate_enable, esipa_json;
  bool once, json, syslog;
  long interval_s, jitter_pct, retry_min_s, retry_max_s, net_timeout_s, rollback_timeout_s;
  const char *attached_cmd, *status_file, *config, *add_initial_eim, *state_dir;
  int log_level;
  /* values read from the config file, kept until exit */
  char *config_args[IPAD_MAX_CONFIG_ARGS];
  int n_config_args;
};

struct ipad {
  const struct ipad_opts *o;
  struct rsp_apdu apdu;
  void (*apdu_free)(struct rsp_apdu *);
  struct rsp_ipa ipa;
  struct rsp_esipa_https *eim;
  struct rsp_esipa_coap *coap; /* instead of eim, for a coaps:// --eim-url */
  char eim_url[RSP_HTTPS_URL_MAX];
  struct rsp_buf eim_trust; /* the trustedPublicKeyDataTls the transport was made with */
  struct rsp_es9_https *es9;
  struct rsp_storage_dir state;
  sigset_t signals;
  unsigned failures;      /* consecutive failed cycles */
  int64_t last_success_s; /* wall-clock time of the last good cycle, 0: none yet */
  unsigned cycles;
};

/* ---- small helpers --------------------------------------------------------------------------- */

static int usage_error(const char *fmt, ...) RSP_PRINTF(1, 2);
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("rsp-ipad: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs("\n(rsp-ipad --help for the options)\n", stderr);
  va_end(ap);
  return IPAD_EXIT_USAGE;
}

static bool parse_long(const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A delay of `s` seconds spread by +-jitter percent, in milliseconds. */
static int64_t jittered_ms(long s, long jitter_pct) {
  double base = (double)s * 1000.0;
  double spread = base * (double)jitter_pct / 100.0;
  double r = (double)random() / (double)RAND_MAX; /* 0..1 */
  double v = base - spread + 2.0 * spread * r;
  return v < 0 ? 0 : (int64_t)v;
}

/* ---- options and the config file ------------------------------------------------------------- */

static void opts_defaults(struct ipad_opts *o) {
  memset(o, 0, sizeof *o);
  o->card_timeout_ms = 5000;
  o->block = RSP_ES10_BLOCK_DEFAULT;
  o->interval_s = 3600;
  o->jitter_pct = 10;
  o->retry_min_s = 10;
  o->retry_max_s = 3600;
  o->net_timeout_s = 30;
  o->rollback_timeout_s = RSP_IPA_ROLLBACK_TIMEOUT_MS_DEFAULT / 1000;
  o->log_level = RSP_LOG_INFO;
}

static const char *opt_name(int c) {
  for (const struct option *p = longopts; p->name; p++)
    if (p->val == c) return p->name;
  return "?";
}

/* Applies one option; `arg` is NULL for the flags. */
/* The options with a choice of words. */
static int apply_choice(struct ipad_opts *o, int c, const char *arg) {
  switch (c) {
  case O_ESIPA_BINDING:
    if (strcmp(arg, "asn1") != 0 && strcmp(arg, "json") != 0)
      return usage_error("--esipa-binding is asn1 or json, not %s", arg);
    o->esipa_json = strcmp(arg, "json") == 0;
    return IPAD_EXIT_OK;
  case O_DOWNLOAD_MODE:
    if (!strcmp(arg, "auto"))
      o->download_mode = RSP_IPA_DOWNLOAD_AUTO;
    else if (!strcmp(arg, "direct"))
      o->download_mode = RSP_IPA_DOWNLOAD_DIRECT;
    else if (!strcmp(arg, "indirect"))
      o->download_mode = RSP_IPA_DOWNLOAD_INDIRECT;
    else
      return usage_error("--download-mode is auto, direct or indirect, not '%s'", arg);
    return IPAD_EXIT_OK;
  case O_LOG_LEVEL:
    if ((o->log_level = rsp_log_level_parse(arg)) < 0)
      return usage_error("unknown log level '%s' (error, warn, info, debug, trace)", arg);
    return IPAD_EXIT_OK;
  case O_HELP:
    fputs(usage_text, stdout);
    return IPAD_EXIT_HELP;
  default:
    return usage_error("unknown option");
  }
}

/* One option into `o`: numbers with their bounds, strings and flags by table, the rest above. */
static int apply_opt(struct ipad_opts *o, int c, const char *arg) {
  const struct {
    int c;
    long *p, min, max;
  } nums[] = {{O_CARD_TIMEOUT, &o->card_timeout_ms, 100, 600000},
              {O_BLOCK, &o->block, 1, 255},
              {O_INTERVAL, &o->interval_s, 1, 31L * 86400},
              {O_JITTER, &o->jitter_pct, 0, 50},
              {O_RETRY_MIN, &o->retry_min_s, 1, 86400},
              {O_RETRY_MAX, &o->retry_max_s, 1, 7L * 86400},
              {O_NET_TIMEOUT, &o->net_timeout_s, 1, 3600},
              {O_ROLLBACK_TIMEOUT, &o->rollback_timeout_s, 1, 86400}};
  const struct {
    int c;
    const char **p;
  } strs[] = {{O_CARD, &o->card},
              {O_EIM_ID, &o->eim_id},
              {O_EIM_URL, &o->eim_url},
              {O_ADD_INITIAL_EIM, &o->add_initial_eim},
              {O_EIM_CA, &o->eim_ca},
              {O_EIM_CERT, &o->eim_cert},
              {O_EIM_KEY, &o->eim_key},
              {O_ADMIN_PROTOCOL, &o->admin_protocol},
              {O_COAP_PSK_IDENTITY, &o->coap_psk_identity},
              {O_COAP_PSK_KEY_FILE, &o->coap_psk_key_file},
              {O_SMDP_CA, &o->smdp_ca},
              {O_ATTACHED_CMD, &o->attached_cmd},
              {O_STATUS_FILE, &o->status_file},
              {O_STATE_DIR, &o->state_dir},
              {O_CONFIG, &o->config}};
  const struct {
    int c;
    bool *p;
  } flags[] = {{O_BASIC_CHANNEL, &o->basic_channel},
               {O_MINIMIZE, &o->minimize},
               {O_IMMEDIATE_ENABLE, &o->immediate_enable},
               {O_ONCE, &o->once},
               {O_JSON, &o->json},
               {O_SYSLOG, &o->syslog}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    if (nums[i].c != c) continue;
    if (!parse_long(arg, nums[i].min, nums[i].max, nums[i].p))
      return usage_error("--%s wants a number from %ld to %ld, not '%s'", opt_name(c), nums[i].min,
                         nums[i].max, arg);
    return IPAD_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (strs[i].c == c) {
      *strs[i].p = arg;
      return IPAD_EXIT_OK;
    }
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (flags[i].c == c) {
      *flags[i].p = true;
      return IPAD_EXIT_OK;
    }
  return apply_choice(o, c, arg);
}

struct ini_ctx {
  struct ipad_opts *o;
  int rc;        /* the first failure's exit code */
  char why[256]; /* what was wrong with the line, when apply_opt did not say it */
};

static bool ini_bool(const char *v, bool *out) {
  if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "on"))
    *out = true;
  else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
           !strcasecmp(v, "off"))
    *out = false;
  else
    return false;
  return true;
}

/* One `key = value` of the config file, applied as the long option of the same name. Returns 0
 * to stop: ini_parse then returns the line number. */
static int ini_entry(void *user, const char *section, const char *name, const char *value) {
  struct ini_ctx *x = user;
  const struct option *opt = NULL;
  x->rc = IPAD_EXIT_USAGE;
  if (section[0] && strcmp(section, "ipad") != 0) {
    snprintf(x->why, sizeof x->why, "unknown section [%s] (only [ipad])", section);
    return 0;
  }
  for (const struct option *p = longopts; p->name; p++)
    if (!strcmp(p->name, name)) opt = p;
  if (!opt || opt->val == O_CONFIG || opt->val == O_HELP) {
    snprintf(x->why, sizeof x->why, "unknown key '%s'", name);
    return 0;
  }
  if (opt->has_arg == no_argument) {
    bool on;
    if (!ini_bool(value, &on)) {
      snprintf(x->why, sizeof x->why, "%s wants true or false, not '%s'", name, value);
      return 0;
    }
    x->rc = on ? apply_opt(x->o, opt->val, NULL) : IPAD_EXIT_OK;
    return x->rc == IPAD_EXIT_OK;
  }
  if (x->o->n_config_args >= IPAD_MAX_CONFIG_ARGS) {
    snprintf(x->why, sizeof x->why, "too many entries");
    return 0;
  }
  char *copy = strdup(value);
  if (!copy) {
    snprintf(x->why, sizeof x->why, "out of memory");
    return 0;
  }
  x->o->config_args[x->o->n_config_args++] = copy;
  x->rc = apply_opt(x->o, opt->val, copy);
  return x->rc == IPAD_EXIT_OK;
}

static int parse_opts(int argc, char **argv, struct ipad_opts *o) {
  int c, rc;
  opts_defaults(o);
  /* the config file first, so that the command line overrides it */
  for (int i = 1; i < argc; i++) {
    const char *cfg = NULL;
    if (!strcmp(argv[i], "--config") && i + 1 < argc) cfg = argv[i + 1];
    if (!strncmp(argv[i], "--config=", 9)) cfg = argv[i] + 9;
    if (!cfg) continue;
    struct ini_ctx x = {o, IPAD_EXIT_OK, ""};
    int r = ini_parse(cfg, ini_entry, &x);
    if (r < 0) return usage_error("cannot read the config file %s: %s", cfg, strerror(errno));
    if (r > 0 && x.why[0]) return usage_error("%s, line %d: %s", cfg, r, x.why);
    if (r > 0 && x.rc != IPAD_EXIT_OK) return usage_error("(in %s, line %d)", cfg, r);
    if (r > 0) return usage_error("%s, line %d: not a 'key = value' line", cfg, r);
  }
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (c == 'h') c = O_HELP;
    if (c == '?') return usage_error("unknown option or missing value: %s", argv[optind - 1]);
    if ((rc = apply_opt(o, c, optarg)) != IPAD_EXIT_OK) return rc;
  }
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  if (!o->card) return usage_error("--card is required");
  if (!o->eim_cert != !o->eim_key) return usage_error("--eim-cert and --eim-key go together");
  bool coap = o->eim_url && strncasecmp(o->eim_url, "coaps://", 8) == 0;
  if (o->eim_url && strncasecmp(o->eim_url, "https://", 8) != 0 && !coap)
    return usage_error("--eim-url must be an https:// or coaps:// URL, not %s", o->eim_url);
  if (!o->coap_psk_identity != !o->coap_psk_key_file)
    return usage_error("--coap-psk-identity and --coap-psk-key-file go together");
  if (o->coap_psk_identity && !coap)
    return usage_error("--coap-psk-identity goes with a coaps:// --eim-url");
  if (coap && o->esipa_json)
    return usage_error("--esipa-binding json goes with https://: CoAP carries the ASN.1 binding");
  if (o->json && !o->once) return usage_error("--json goes with --once (see --status-file)");
  if (o->retry_max_s < o->retry_min_s) return usage_error("--retry-max is below --retry-min");
  if (o->download_mode == RSP_IPA_DOWNLOAD_DIRECT && !o->smdp_ca)
    return usage_error("--download-mode direct needs --smdp-ca");
  return IPAD_EXIT_OK;
}

/* ---- the card -------------------------------------------------------------------------------- */

static int open_card(struct ipad *d) {
  const char *uri = d->o->card;
  int t = (int)d->o->card_timeout_ms;
  rsp_err_t rc = RSP_E_INVALID_ARG;
  if (!strncmp(uri, "socket:", 7)) {
    char host[256];
    const char *hp = uri + 7, *colon = strrchr(hp, ':');
    long port;
    if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof host ||
        !parse_long(colon + 1, 1, 65535, &port))
      return usage_error("--card socket:HOST:PORT, not %s", uri);
    size_t hl = (size_t)(colon - hp);
    if (hp[0] == '[' && hp[hl - 1] == ']') { /* [v6]:port */
      hp++;
      hl -= 2;
    }
    memcpy(host, hp, hl);
    host[hl] = '\0';
    rc = rsp_apdu_socket_new(host, (unsigned)port, t, &d->apdu);
    d->apdu_free = rsp_apdu_socket_free;
  } else if (!strncmp(uri, "at:", 3)) {
    if (!uri[3]) return usage_error("--card at:DEVICE, e.g. at:/dev/ttyUSB2");
    rc = rsp_apdu_at_new(uri + 3, t, &d->apdu);
    d->apdu_free = rsp_apdu_at_free;
  } else if (!strcmp(uri, "pcsc") || !strncmp(uri, "pcsc:", 5)) {
#ifdef RSP_HAVE_PCSC
    rc = rsp_apdu_pcsc_new(uri[4] ? uri + 5 : NULL, 0, t, &d->apdu);
    d->apdu_free = rsp_apdu_pcsc_free;
#else
    return usage_error("this build has no PC/SC support (libpcsclite was not found)");
#endif
  } else {
    return usage_error("unknown card URI %s (socket:HOST:PORT, pcsc[:READER], at:DEVICE)", uri);
  }
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "ipad", "card %s: %s", uri, rsp_strerror(rc));
    return IPAD_EXIT_FAIL;
  }
  return IPAD_EXIT_OK;
}

/* ---- the device port: attachment and time ---------------------------------------------------- */

static bool dev_attached(void *ctx) {
  struct ipad *d = ctx;
  if (!d->o->attached_cmd) return true;
  int st = system(d->o->attached_cmd);
  bool ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  RSP_LOG_D("ipad", "attached-cmd: %s", ok ? "attached" : "not attached");
  return ok;
}

static int64_t dev_now_ms(void *ctx) { return mono_ms(); }

static int64_t dev_wall_ms(void *ctx) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dev_wait_ms(void *ctx, int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static const struct rsp_ipa_platform_ops dev_ops = {dev_attached, dev_now_ms, dev_wait_ms,
                                                    dev_wall_ms};

/* ---- the eIM transport ----------------------------------------------------------------------- */

/* Reads the card's eIM configuration and (re)builds the ESipa transport when the eIM's address
 * or TLS trust changed (an updateEim eCO can change them). False (logged) when the eIM cannot be
 * reached safely. */
/* ESipa over CoAP/DTLS (a coaps:// --eim-url, docs/adr/0009): DTLS-PSK with --coap-psk-*, else
 * certificates: --eim-ca, or the card's trustedEimPkTls as a pinned key. The URL is fixed, so
 * the transport (and its DTLS session) is made once. */
static bool setup_eim_coap(struct ipad *d, const struct rsp_msg_eim_configuration_data *cfg,
                           const char *url) {
  uint8_t key[RSP_ESIPA_COAP_PSK_KEY_MAX];
  struct rsp_esipa_https_options card = {0};
  if (d->coap) return true;
  struct rsp_esipa_coap_options co = {.url = url,
                                      .psk_identity = d->o->coap_psk_identity,
                                      .ca_file = d->o->eim_ca,
                                      .cert_file = d->o->eim_cert,
                                      .key_file = d->o->eim_key,
                                      .timeout_ms = (unsigned)d->o->net_timeout_s * 1000u};
  if (d->o->coap_psk_identity) {
    if (rsp_esipa_coap_read_key(d->o->coap_psk_key_file, key, sizeof key, &co.psk_key_len) !=
        RSP_OK)
      return false;
    co.psk_key = key;
  } else if (!d->o->eim_ca) {
    if (rsp_esipa_https_trust_from_eim_config(cfg, &card) != RSP_OK || !card.pinned_spki) {
      rsp_log(RSP_LOG_ERROR, "ipad",
              "CoAP/DTLS with certificates needs --eim-ca or a trustedEimPkTls on the card "
              "(or --coap-psk-identity and --coap-psk-key-file)");
      return false;
    }
    co.pinned_spki = card.pinned_spki;
    co.pinned_spki_len = card.pinned_spki_len;
  }
  rsp_err_t rc = rsp_esipa_coap_new(&co, &d->coap);
  memset(key, 0, sizeof key);
  if (rc != RSP_OK) return false; /* logged by the driver */
  snprintf(d->eim_url, sizeof d->eim_url, "%s", url);
  d->ipa.esipa = &rsp_esipa_coap_ops;
  d->ipa.esipa_ctx = d->coap;
  rsp_log(RSP_LOG_INFO, "ipad", "eIM %.*s at %s, DTLS: %s", (int)cfg->eim_id.len,
          (const char *)cfg->eim_id.p, url,
          d->o->coap_psk_identity ? "PSK"
          : d->o->eim_ca          ? d->o->eim_ca
                                  : "the card's trustedEimPkTls");
  return true;
}

static bool setup_eim(struct ipad *d) {
  struct rsp_arena a;
  struct rsp_msg_eim_configuration_data *cfg = NULL;
  char url[RSP_HTTPS_URL_MAX];
  bool ok = false;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_es10_client_open(&d->ipa.es10);
  if (rc == RSP_OK) rc = rsp_ipa_read_eim_config(&d->ipa.es10, d->o->eim_id, &a, &cfg);
  rsp_es10_client_close(&d->ipa.es10);
  if (rc == RSP_E_NOT_FOUND) {
    rsp_log(RSP_LOG_ERROR, "ipad", "the card has no eIM configuration%s%s",
            d->o->eim_id ? " for eIM " : "", d->o->eim_id ? d->o->eim_id : "");
    goto out;
  }
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "ipad", "cannot read the card's eIM configuration: %s",
            rsp_strerror(rc));
    goto out;
  }
  if (d->o->eim_url) {
    snprintf(url, sizeof url, "%s", d->o->eim_url);
  } else if (!cfg->eim_fqdn.len ||
             rsp_esipa_https_url_from_fqdn((const char *)cfg->eim_fqdn.p, cfg->eim_fqdn.len, url,
                                           sizeof url) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "ipad",
            "the card's eIM configuration has no usable eimFqdn: give --eim-url");
    goto out;
  }
  if (strncasecmp(url, "coaps://", 8) == 0) {
    ok = setup_eim_coap(d, cfg, url);
    goto out;
  }
  const struct rsp_slice trust = cfg->trusted_public_key_data_tls
                                     ? cfg->trusted_public_key_data_tls->raw
                                     : rsp_msg_slice(NULL, 0);
  if (!d->o->eim_ca && !trust.len) {
    rsp_log(RSP_LOG_ERROR, "ipad",
            "no way to verify the eIM's TLS certificate: the card's eIM configuration has no "
            "trustedPublicKeyDataTls; give --eim-ca");
    goto out;
  }
  if (d->eim && !strcmp(url, d->eim_url) && trust.len == d->eim_trust.len &&
      (!trust.len || memcmp(trust.p, d->eim_trust.data, trust.len) == 0)) {
    ok = true; /* unchanged: keep the connection and the TLS session */
    goto out;
  }
  struct rsp_esipa_https_options eo = {.url = url,
                                       .ca_file = d->o->eim_ca,
                                       .cert_file = d->o->eim_cert,
                                       .key_file = d->o->eim_key,
                                       .timeout_ms = (unsigned)d->o->net_timeout_s * 1000u,
                                       .admin_protocol = d->o->admin_protocol,
                                       .json_binding = d->o->esipa_json};
  if (!d->o->eim_ca && rsp_esipa_https_trust_from_eim_config(cfg, &eo) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "ipad", "the card's trustedPublicKeyDataTls is not usable");
    goto out;
  }
  struct rsp_esipa_https *t = NULL;
  if ((rc = rsp_esipa_https_new(&eo, &t)) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "ipad", "ESipa transport to %s: %s", url, rsp_strerror(rc));
    goto out;
  }
  rsp_esipa_https_free(d->eim);
  d->eim = t;
  snprintf(d->eim_url, sizeof d->eim_url, "%s", url);
  rsp_buf_reset(&d->eim_trust);
  if (trust.len) rsp_buf_append(&d->eim_trust, trust.p, trust.len);
  d->ipa.esipa = &rsp_esipa_https_ops;
  d->ipa.esipa_ctx = t;
  rsp_log(RSP_LOG_INFO, "ipad", "eIM %.*s at %s, TLS trust: %s", (int)cfg->eim_id.len,
          (const char *)cfg->eim_id.p, url,
          d->o->eim_ca ? d->o->eim_ca : "the card's trustedPublicKeyDataTls");
  ok = true;
out:
  rsp_arena_free(&a);
  return ok;
}

/* ---- factory: AddInitialEim ------------------------------------------------------------------ */

/* Reads the AddInitialEimRequest (DER, or its hex), runs ES10b.AddInitialEim and prints the
 * card's answer: the associationToken per eIM, or the error code. */
static int add_initial_eim(struct ipad *d) {
  const char *path = d->o->add_initial_eim;
  struct rsp_buf in, der, resp;
  struct rsp_arena a;
  struct rsp_msg_add_initial_eim_response *r = NULL;
  int rc = IPAD_EXIT_FAIL;
  FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  rsp_buf_init(&in, IPAD_INITIAL_EIM_MAX);
  rsp_buf_init(&der, IPAD_INITIAL_EIM_MAX);
  rsp_buf_init(&resp, 1 << 12);
  rsp_arena_init(&a, 1 << 16);
  if (!fp) {
    rsp_log(RSP_LOG_ERROR, "ipad", "--add-initial-eim %s: %s", path, strerror(errno));
    goto out;
  }
  uint8_t chunk[4096];
  size_t n;
  rsp_err_t e = RSP_OK;
  while (e == RSP_OK && (n = fread(chunk, 1, sizeof chunk, fp)) > 0)
    e = rsp_buf_append(&in, chunk, n);
  if (fp != stdin) fclose(fp);
  if (e != RSP_OK || in.len == 0) {
    rsp_log(RSP_LOG_ERROR, "ipad", "--add-initial-eim %s: %s", path,
            e != RSP_OK ? "larger than 64 KiB" : "empty");
    goto out;
  }
  /* hex text (rsp-eimctl's default output) or DER */
  size_t hex_len = 0;
  bool hex = true;
  for (size_t i = 0; i < in.len && hex; i++) {
    char c = (char)in.data[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    in.data[hex_len++] = in.data[i];
  }
  if (hex) {
    in.len = hex_len;
    if (rsp_buf_append_byte(&in, 0) != RSP_OK || rsp_buf_reserve(&der, hex_len / 2 + 1) != RSP_OK ||
        rsp_hex_decode((const char *)in.data, der.data, der.size, &der.len) != RSP_OK) {
      rsp_log(RSP_LOG_ERROR, "ipad", "--add-initial-eim %s: odd or invalid hex", path);
      goto out;
    }
  } else if (rsp_buf_append(&der, in.data, in.len) != RSP_OK) {
    goto out;
  }
  e = rsp_es10_client_open(&d->ipa.es10);
  if (e == RSP_OK) e = rsp_es10_client_call(&d->ipa.es10, der.data, der.len, &resp);
  rsp_es10_client_close(&d->ipa.es10);
  if (e != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "ipad", "AddInitialEim on card %s: %s", d->o->card, rsp_strerror(e));
    goto out;
  }
  struct rsp_msg_diag diag;
  if ((e = rsp_msg_decode(&rsp_msgt_add_initial_eim_response, resp.data, resp.len, &a, (void **)&r,
                          &diag)) != RSP_OK) {
    rsp_log(RSP_LOG_ERROR, "ipad", "the card's AddInitialEimResponse: %s at %s", rsp_strerror(e),
            diag.path);
    goto out;
  }
  if (r->which != RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK) {
    printf("addInitialEimError %lld\n", (long long)r->u.add_initial_eim_error);
    rsp_log(RSP_LOG_ERROR, "ipad", "the card refused AddInitialEim: error %lld",
            (long long)r->u.add_initial_eim_error);
    goto out;
  }
  printf("addInitialEimOk (%zu eIM%s)\n", r->u.add_initial_eim_ok->n,
         r->u.add_initial_eim_ok->n == 1 ? "" : "s");
  rc = IPAD_EXIT_OK;
out:
  rsp_arena_free(&a);
  rsp_buf_free(&resp);
  rsp_buf_free(&der);
  rsp_buf_free(&in);
  return rc;
}

/* ---- one cycle and the status ---------------------------------------------------------------- */

struct cycle_report {
  rsp_err_t rc;
  struct rsp_ipa_stats delta;
  int64_t ms;
};

static json_t *report_json(const struct ipad *d, const struct cycle_report *r) {
  char eid[RSP_EID_DIGITS + 1] = "";
  if (d->ipa.have_eid) rsp_eid_to_string(d->ipa.eid, eid);
  json_t *j = json_pack(
      "{s:s, s:s, s:s, s:s?, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:i, s:I, s:i}", "result",
      r->rc == RSP_OK ? "ok" : "error", "eid", eid, "eim_url", d->eim_url, "error",
      r->rc == RSP_OK ? NULL : rsp_err_name(r->rc), "packages", (int)r->delta.packages,
      "data_requests", (int)r->delta.data_requests, "triggers", (int)r->delta.triggers,
      "acknowledged", (int)r->delta.acknowledged, "errors", (int)r->delta.errors, "rollbacks",
      (int)r->delta.rollbacks, "duration_ms", (json_int_t)r->ms, "cycles", (int)d->cycles,
      "last_success", (json_int_t)d->last_success_s, "consecutive_failures", (int)d->failures);
  if (j) {
    json_object_set_new(j, "redelivered", json_integer(r->delta.redelivered));
    json_object_set_new(j, "notifications", json_integer(r->delta.notifications));
    json_object_set_new(j, "indirect_downloads", json_integer(r->delta.indirect_downloads));
    json_object_set_new(j, "immediate_enables", json_integer(r->delta.immediate_enables));
  }
  return j;
}

static void write_status(const struct ipad *d, const struct cycle_report *r) {
  char tmp[4096];
  json_t *j = report_json(d, r);
  if (!j) return;
  json_object_set_new(j, "time", json_integer((json_int_t)time(NULL)));
  if (snprintf(tmp, sizeof tmp, "%s.tmp", d->o->status_file) < (int)sizeof tmp &&
      json_dump_file(j, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 &&
      rename(tmp, d->o->status_file) == 0) {
    json_decref(j);
    return;
  }
  rsp_log(RSP_LOG_WARN, "ipad", "cannot write the status file %s: %s", d->o->status_file,
          strerror(errno));
  json_decref(j);
}

static void stats_delta(const struct rsp_ipa_stats *a, const struct rsp_ipa_stats *b,
                        struct rsp_ipa_stats *out) {
  out->packages = b->packages - a->packages;
  out->data_requests = b->data_requests - a->data_requests;
  out->triggers = b->triggers - a->triggers;
  out->acknowledged = b->acknowledged - a->acknowledged;
  out->errors = b->errors - a->errors;
  out->rollbacks = b->rollbacks - a->rollbacks;
  out->redelivered = b->redelivered - a->redelivered;
  out->notifications = b->notifications - a->notifications;
  out->indirect_downloads = b->indirect_downloads - a->indirect_downloads;
  out->immediate_enables = b->immediate_enables - a->immediate_enables;
}

static void cycle(struct ipad *d, struct cycle_report *r) {
  struct rsp_ipa_stats before = d->ipa.stats;
  int64_t t0 = mono_ms();
  d->cycles++;
  r->rc = setup_eim(d) ? rsp_ipa_poll(&d->ipa) : RSP_E_STATE;
  r->ms = mono_ms() - t0;
  stats_delta(&before, &d->ipa.stats, &r->delta);
  if (r->rc == RSP_OK) {
    d->failures = 0;
    d->last_success_s = (int64_t)time(NULL);
    rsp_log(RSP_LOG_INFO, "ipad",
            "poll done in %lld ms: %u packages, %u data requests, %u downloads, %u acknowledged, "
            "%u refused, %u rollbacks",
            (long long)r->ms, r->delta.packages, r->delta.data_requests, r->delta.triggers,
            r->delta.acknowledged, r->delta.errors, r->delta.rollbacks);
  } else {
    d->failures++;
    rsp_log(RSP_LOG_WARN, "ipad", "poll failed after %lld ms: %s (%u in a row)", (long long)r->ms,
            rsp_strerror(r->rc), d->failures);
  }
  if (d->o->status_file) write_status(d, r);
}

/* ---- the schedule ---------------------------------------------------------------------------- */

/* Waits up to ms for a signal: false when the program must stop. */
static bool wait_next(struct ipad *d, int64_t ms) {
  int64_t deadline = mono_ms() + ms;
  for (;;) {
    int64_t left = deadline - mono_ms();
    if (left <= 0) return true;
    struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
    int sig = sigtimedwait(&d->signals, NULL, &ts);
    if (sig == SIGUSR1) {
      rsp_log(RSP_LOG_INFO, "ipad", "SIGUSR1: polling now");
      return true;
    }
    if (sig == SIGINT || sig == SIGTERM) {
      rsp_log(RSP_LOG_INFO, "ipad", "%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
      return false;
    }
  }
}

/* A stop asked for during a cycle (the signal is pending: signals are blocked). */
static bool stop_pending(void) {
  sigset_t p;
  if (sigpending(&p) != 0) return false;
  int sig = sigismember(&p, SIGTERM) ? SIGTERM : sigismember(&p, SIGINT) ? SIGINT : 0;
  if (!sig) return false;
  struct timespec zero = {0, 0};
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  sigtimedwait(&one, NULL, &zero);
  rsp_log(RSP_LOG_INFO, "ipad", "%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  return true;
}

static int64_t next_delay_ms(const struct ipad *d) {
  if (d->failures == 0) return jittered_ms(d->o->interval_s, d->o->jitter_pct);
  long s = d->o->retry_min_s;
  for (unsigned i = 1; i < d->failures && s < d->o->retry_max_s; i++) s *= 2;
  if (s > d->o->retry_max_s) s = d->o->retry_max_s;
  return jittered_ms(s, d->o->jitter_pct);
}

static int run(struct ipad *d) {
  struct cycle_report r;
  if (d->o->once) {
    cycle(d, &r);
    if (d->o->json) {
      json_t *j = report_json(d, &r);
      if (j) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(j);
      }
    }
    return r.rc == RSP_OK ? IPAD_EXIT_OK : IPAD_EXIT_FAIL;
  }
  rsp_log(RSP_LOG_INFO, "ipad", "started: card %s, poll every %ld s (+-%ld%%)", d->o->card,
          d->o->interval_s, d->o->jitter_pct);
  for (;;) {
    cycle(d, &r);
    if (stop_pending()) break;
    int64_t ms = next_delay_ms(d);
    rsp_log(RSP_LOG_INFO, "ipad", "next poll in %lld s", (long long)(ms / 1000));
    if (!wait_next(d, ms)) break;
  }
  rsp_log(RSP_LOG_INFO, "ipad", "stopped");
  return IPAD_EXIT_OK;
}

static int setup(struct ipad *d) {
  int rc = open_card(d);
  if (rc != IPAD_EXIT_OK) return rc;
  rsp_ipa_init(&d->ipa, &d->apdu, NULL, NULL);
  d->ipa.es10.block = (size_t)d->o->block;
  d->ipa.es10.basic_channel = d->o->basic_channel;
  d->ipa.platform = &dev_ops;
  d->ipa.platform_ctx = d;
  d->ipa.rollback_timeout_ms = (int64_t)d->o->rollback_timeout_s * 1000;
  if (d->o->state_dir) {
    if (rsp_storage_dir_init(&d->state, d->o->state_dir) != RSP_OK) return IPAD_EXIT_FAIL;
    d->ipa.storage = &rsp_storage_dir_ops;
    d->ipa.storage_ctx = &d->state;
  }
  d->ipa.download_mode = d->o->download_mode;
  d->ipa.minimize_esipa_bytes = d->o->minimize;
  d->ipa.immediate_enable = d->o->immediate_enable;
  d->ipa.eim_id = d->o->eim_id;
  if (d->o->smdp_ca) {
    struct rsp_es9_https_options so = {.ca_file = d->o->smdp_ca,
                                       .timeout_ms = (unsigned)d->o->net_timeout_s * 1000u};
    rsp_err_t e = rsp_es9_https_new(&so, &d->es9);
    if (e != RSP_OK) {
      rsp_log(RSP_LOG_ERROR, "ipad", "ES9+ transport (--smdp-ca %s): %s", d->o->smdp_ca,
              rsp_strerror(e));
      return IPAD_EXIT_FAIL;
    }
    d->ipa.es9 = &rsp_es9_https_ops;
    d->ipa.es9_ctx = d->es9;
  }
  return IPAD_EXIT_OK;
}

int main(int argc, char **argv) {
  struct ipad_opts o;
  struct ipad d;
  int rc = parse_opts(argc, argv, &o);
  if (rc != IPAD_EXIT_OK) {
    for (int i = 0; i < o.n_config_args; i++) free(o.config_args[i]);
    return rc == IPAD_EXIT_HELP ? IPAD_EXIT_OK : rc;
  }
  rsp_log_set_level((enum rsp_log_level)o.log_level);
  if (o.syslog) rsp_log_set_sink(RSP_LOG_SINK_SYSLOG, "rsp-ipad");
  srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 8));
  memset(&d, 0, sizeof d);
  d.o = &o;
  rsp_buf_init(&d.eim_trust, 1 << 16);
  /* Blocked before anything else, so that only sigtimedwait takes them; a write to a closed
   * connection must fail, not kill. */
  sigemptyset(&d.signals);
  sigaddset(&d.signals, SIGINT);
  sigaddset(&d.signals, SIGTERM);
  sigaddset(&d.signals, SIGUSR1);
  sigprocmask(SIG_BLOCK, &d.signals, NULL);
  signal(SIGPIPE, SIG_IGN);
  rc = setup(&d);
  if (rc == IPAD_EXIT_OK) rc = o.add_initial_eim ? add_initial_eim(&d) : run(&d);
  rsp_esipa_https_free(d.eim);
  rsp_esipa_coap_free(d.coap);
  rsp_es9_https_free(d.es9);
  if (d.apdu_free) d.apdu_free(&d.apdu);
  rsp_buf_free(&d.eim_trust);
  for (int i = 0; i < o.n_config_args; i++) free(o.config_args[i]);
  return rc;
}
