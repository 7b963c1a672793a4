/* rsp-pki: creates, imports and verifies RSP test PKIs (CI, EUM, eUICCs, SM-DP+, SM-DS, eIM).
 *
 *   rsp-pki create --dir DIR [...]            a fresh PKI shaped like GSMA SGP.26
 *   rsp-pki import-sgp26 --from SGP26 --dir DIR  the SGP.26 set in the same layout
 *   rsp-pki verify --dir DIR                  every chain checked with the RSP rules
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. The layout is described in rsp_pki.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "rsp/core/log.h"
#include "rsp/crypto/pki.h"
#include "rsp_pki.h"

#define COPY_MAX (1024 * 1024)

static const char usage_text[] =
    "usage: rsp-pki <command> [options]\n"
    "\n"
    "Commands:\n"
    "  create        create a complete test PKI (CI, EUM, eUICCs, SM-DP+, SM-DS, eIM)\n"
    "  import-sgp26  lay out the GSMA SGP.26 test PKI, adding eIM certificates and eUICCs\n"
    "  verify        verify every certificate chain of a PKI directory\n"
    "  check         check other certificates against the CI and EUM of a PKI directory\n"
    "  help          this text\n"
    "\n"
    "rsp-pki create --dir DIR [options]\n"
    "  --curve nist|brp        key curve: NIST P-256 (default) or brainpoolP256r1\n"
    "  --ein DIGITS            EIN the EUM may issue EIDs under (default 89049032)\n"
    "  --eid EID               an eUICC to create (32 digits, valid check digits); repeatable\n"
    "  --eid-range FIRST:COUNT COUNT eUICCs from FIRST (30 digits, or a valid 32-digit EID);\n"
    "                          the check digits (SGP.29, ISO 7064 MOD 97-10) are computed\n"
    "                          (default when no EID is given: one eUICC, EIN...0001 + check)\n"
    "  --smdp-host HOST        DNS name in the SM-DP+ TLS certificate (default localhost)\n"
    "  --smds-host HOST        DNS name in the SM-DS TLS certificate (default localhost)\n"
    "  --eim-host HOST         DNS name in the eIM TLS certificate (default localhost)\n"
    "  --eim-id ID             eIM identifier, the CN of the eIM signing certificate\n"
    "                          (default openrsp-test-eim)\n"
    "  --force                 write into a non-empty DIR, overwriting files\n"
    "  --json                  print the manifest (pki.json) instead of a summary\n"
    "\n"
    "rsp-pki import-sgp26 --from SGP26_DIR --dir DIR [options]\n"
    "  SGP26_DIR holds CertificateIssuer/, EUM/, eUICC/, DPauth/, DPpb/, DPtls/. The files are\n"
    "  copied (DIR must be outside any git work tree: the set must not be committed); the SM-DS\n"
    "  and eIM certificates are issued by the SGP.26 CI.\n"
    "  --curve nist|brp        which SGP.26 variant (default nist)\n"
    "  --eid-range FIRST:COUNT more eUICCs under the SGP.26 EUM (EIN 89049032)\n"
    "  --smdp-host HOST        issue a new SM-DP+ TLS certificate for HOST under the SGP.26 CI\n"
    "                          (default: copy SGP.26's, issued for testsmdpplus1.example.com)\n"
    "  --smds-host, --eim-host, --eim-id, --force, --json   as for create\n"
    "\n"
    "rsp-pki verify --dir DIR [--json] [--ignore-time | --at EPOCH_SECONDS]\n"
    "  Checks every chain with the RSP rules (signatures, AKI/SKI, validity, role policies,\n"
    "  basicConstraints, keyUsage, EID range) and that every key file matches its certificate.\n"
    "\n"
    "rsp-pki check --dir DIR [--eid EID] [--json] [--ignore-time | --at SECONDS] FILE...\n"
    "  Checks each certificate file (DER or PEM) with the RSP rules against DIR's trust:\n"
    "  an eUICC certificate against DIR's EUM and CI (and --eid, the EID it must carry), an EUM\n"
    "  against DIR's CI, SM-DP+ and SM-DS certificates for their role, a CI against DIR's CI.\n"
    "\n"
    "Exit codes: 0 success, 1 failure, 2 usage error.\n";

static void usage(FILE *f) { fputs(usage_text, f); }

void cli_err(const char *fmt, ...) {
  va_list ap;
  fputs("rsp-pki: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---- files ----------------------------------------------------------------------------------- */

bool cli_join(char *out, size_t size, const char *dir, const char *rel) {
  int n = snprintf(out, size, "%s/%s", dir, rel);
  if (n < 0 || (size_t)n >= size) {
    cli_err("path too long: %s/%s", dir, rel);
    return false;
  }
  return true;
}

bool cli_mkdirs(const char *path) {
  char buf[CLI_PATH_MAX];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(buf)) return false;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char saved = buf[i];
    buf[i] = 0;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      cli_err("cannot create %s: %s", buf, strerror(errno));
      return false;
    }
    buf[i] = saved;
  }
  return true;
}

bool cli_dir_empty(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  bool empty = true;
  if (!d) return errno == ENOENT;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = false;
  closedir(d);
  return empty;
}

bool cli_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool read_all(const char *path, unsigned char *buf, size_t size, size_t *len) {
  FILE *f = fopen(path, "rb");
  size_t n;
  if (!f) {
    cli_err("cannot read %s: %s", path, strerror(errno));
    return false;
  }
  n = fread(buf, 1, size, f);
  bool ok = !ferror(f) && n < size;
  fclose(f);
  if (!ok) cli_err("cannot read %s (error or larger than %zu bytes)", path, size - 1);
  *len = n;
  return ok;
}

bool cli_copy_file(const char *src, const char *dst, bool secret) {
  unsigned char *buf = malloc(COPY_MAX);
  size_t len = 0;
  bool ok = false;
  int fd = -1;

  if (!buf || !read_all(src, buf, COPY_MAX, &len)) goto out;
  fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, secret ? 0600 : 0644);
  if (fd < 0 || (secret && fchmod(fd, 0600) != 0)) {
    cli_err("cannot write %s: %s", dst, strerror(errno));
    goto out;
  }
  ok = write(fd, buf, len) == (ssize_t)len;
  if (!ok) cli_err("cannot write %s: %s", dst, strerror(errno));
out:
  if (fd >= 0 && close(fd) != 0) ok = false;
  free(buf);
  return ok;
}

/* SGP.26 keys must never end up in a repository; a .git beside DIR or above it is refused. */
bool cli_inside_git(const char *path, char *out, size_t size) {
  char cur[CLI_PATH_MAX], start[CLI_PATH_MAX];
  /* DIR may not exist yet: start from its nearest existing ancestor. */
  snprintf(start, sizeof(start), "%s", path);
  while (!realpath(start, cur)) {
    char *slash = strrchr(start, '/');
    if (!slash) {
      snprintf(start, sizeof(start), ".");
      if (!realpath(start, cur)) return false;
      break;
    }
    if (slash == start)
      start[1] = 0;
    else
      *slash = 0;
  }
  for (;;) {
    char probe[CLI_PATH_MAX + 8];
    struct stat st;
    snprintf(probe, sizeof(probe), "%s/.git", strcmp(cur, "/") == 0 ? "" : cur);
    if (stat(probe, &st) == 0) {
      snprintf(out, size, "%s", cur);
      return true;
    }
    char *slash = strrchr(cur, '/');
    if (!slash || strcmp(cur, "/") == 0) return false;
    if (slash == cur)
      cur[1] = 0;
    else
      *slash = 0;
  }
}

/* ---- EIDs ------------------------------------------------------------------------------------ */

static bool digits_only(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

bool cli_check_eid(const char *eid, const char *ein) {
  if (strlen(eid) != RSP_EID_DIGITS || !digits_only(eid)) {
    cli_err("EID %s: an EID has exactly 32 decimal digits", eid);
    return false;
  }
  if (!rsp_pki_eid_check_ok(eid)) {
    char fixed[RSP_EID_DIGITS + 1];
    memcpy(fixed, eid, sizeof(fixed));
    rsp_pki_eid_set_check_digits(fixed);
    cli_err("EID %s: wrong check digits (SGP.29), the EID would be %s", eid, fixed);
    return false;
  }
  if (strncmp(eid, ein, strlen(ein)) != 0) {
    cli_err("EID %s does not start with the EIN %s", eid, ein);
    return false;
  }
  return true;
}

bool cli_add_eid(struct cli_pki_opts *o, const char *eid) {
  for (size_t i = 0; i < o->n_eids; i++)
    if (strcmp(o->eids[i], eid) == 0) {
      cli_err("EID %s given twice", eid);
      return false;
    }
  if (o->n_eids >= CLI_MAX_EIDS) {
    cli_err("more than %d EIDs", CLI_MAX_EIDS);
    return false;
  }
  if (!o->eids) o->eids = calloc(CLI_MAX_EIDS, sizeof(*o->eids));
  if (!o->eids) {
    cli_err("out of memory");
    return false;
  }
  snprintf(o->eids[o->n_eids++], RSP_EID_DIGITS + 1, "%s", eid);
  return true;
}

/* Adds one to a decimal string in place; false on overflow. */
static bool increment(char *digits, size_t n) {
  for (size_t i = n; i-- > 0;) {
    if (digits[i] != '9') {
      digits[i]++;
      return true;
    }
    digits[i] = '0';
  }
  return false;
}

static bool parse_range(const char *spec, char body[RSP_EID_DIGITS + 1], long *count) {
  const char *colon = strchr(spec, ':');
  size_t n = colon ? (size_t)(colon - spec) : 0;
  char *end = NULL;

  if (!colon || (n != RSP_EID_DIGITS - 2 && n != RSP_EID_DIGITS)) {
    cli_err("--eid-range %s: expected FIRST:COUNT with a 30- or 32-digit FIRST", spec);
    return false;
  }
  memcpy(body, spec, n);
  body[n] = 0;
  if (!digits_only(body) || (n == RSP_EID_DIGITS && !rsp_pki_eid_check_ok(body))) {
    cli_err("--eid-range %s: FIRST is not a valid EID (digits or check digits)", spec);
    return false;
  }
  errno = 0;
  *count = strtol(colon + 1, &end, 10);
  if (errno || !end || *end || *count < 1 || *count > CLI_MAX_EIDS) {
    cli_err("--eid-range %s: COUNT must be 1..%d", spec, CLI_MAX_EIDS);
    return false;
  }
  body[RSP_EID_DIGITS - 2] = 0;
  return true;
}

bool cli_expand_eid_range(struct cli_pki_opts *o, const char *ein) {
  char body[RSP_EID_DIGITS + 1], eid[RSP_EID_DIGITS + 1];
  long count = 0;

  if (!o->eid_range) return true;
  if (!parse_range(o->eid_range, body, &count)) return false;
  for (long i = 0; i < count; i++) {
    if (i > 0 && !increment(body, RSP_EID_DIGITS - 2)) {
      cli_err("--eid-range %s overflows the 30-digit EID body", o->eid_range);
      return false;
    }
    memcpy(eid, body, RSP_EID_DIGITS - 2);
    memcpy(eid + RSP_EID_DIGITS - 2, "00", 3);
    rsp_pki_eid_set_check_digits(eid);
    if (strncmp(eid, ein, strlen(ein)) != 0) {
      cli_err("--eid-range %s: EID %s leaves the EIN %s", o->eid_range, eid, ein);
      return false;
    }
    if (!cli_add_eid(o, eid)) return false;
  }
  return true;
}

/* ---- manifest entries ---------------------------------------------------------------------- */

const char *cli_iso_time(long long t, char buf[32]) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, 32, "%lld", t);
  return buf;
}

json_t *cli_cert_entry(const char *rel, const struct rsp_cert *cert, bool has_pem) {
  char path[CLI_PATH_MAX], subject[256], hex[2 * RSP_KEYID_MAX + 1] = "", t1[32], t2[32];
  struct rsp_keyid ski;
  int64_t nb = 0, na = 0;
  json_t *e = json_object();

  if (!e) return NULL;
  snprintf(path, sizeof(path), "%s/cert.der", rel);
  json_object_set_new(e, "cert", json_string(path));
  if (has_pem) {
    snprintf(path, sizeof(path), "%s/cert.pem", rel);
    json_object_set_new(e, "cert_pem", json_string(path));
  }
  snprintf(path, sizeof(path), "%s/key.pem", rel);
  json_object_set_new(e, "key", json_string(path));
  rsp_cert_subject_string(cert, subject, sizeof(subject));
  json_object_set_new(e, "subject", json_string(subject));
  if (rsp_cert_ski(cert, &ski) == RSP_OK) rsp_hex_encode(ski.id, ski.len, hex, sizeof(hex));
  json_object_set_new(e, "ski", json_string(hex));
  rsp_cert_validity(cert, &nb, &na);
  json_object_set_new(e, "not_before", json_string(cli_iso_time(nb, t1)));
  json_object_set_new(e, "not_after", json_string(cli_iso_time(na, t2)));
  return e;
}

/* ---- arguments ------------------------------------------------------------------------------ */

enum opt_id {
  O_DIR = 1,
  O_FROM,
  O_CURVE,
  O_EIN,
  O_EID,
  O_EID_RANGE,
  O_SMDP_HOST,
  O_SMDS_HOST,
  O_EIM_HOST,
  O_EIM_ID,
  O_FORCE,
  O_JSON,
  O_IGNORE_TIME,
  O_AT,
  O_HELP
};

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, O_DIR},
    {"from", required_argument, NULL, O_FROM},
    {"curve", required_argument, NULL, O_CURVE},
    {"ein", required_argument, NULL, O_EIN},
    {"eid", required_argument, NULL, O_EID},
    {"eid-range", required_argument, NULL, O_EID_RANGE},
    {"smdp-host", required_argument, NULL, O_SMDP_HOST},
    {"smds-host", required_argument, NULL, O_SMDS_HOST},
    {"eim-host", required_argument, NULL, O_EIM_HOST},
    {"eim-id", required_argument, NULL, O_EIM_ID},
    {"force", no_argument, NULL, O_FORCE},
    {"json", no_argument, NULL, O_JSON},
    {"ignore-time", no_argument, NULL, O_IGNORE_TIME},
    {"at", required_argument, NULL, O_AT},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* Which options each command accepts (a bit per enum opt_id). */
#define BIT(o) (1u << (o))
#define COMMON (BIT(O_DIR) | BIT(O_JSON) | BIT(O_HELP))
#define MAKE                                                                                       \
  (COMMON | BIT(O_CURVE) | BIT(O_EID_RANGE) | BIT(O_SMDP_HOST) | BIT(O_SMDS_HOST) |                \
   BIT(O_EIM_HOST) | BIT(O_EIM_ID) | BIT(O_FORCE))
static const struct {
  const char *name;
  unsigned allowed;
} commands[] = {
    {"create", MAKE | BIT(O_EIN) | BIT(O_EID)},
    {"import-sgp26", MAKE | BIT(O_FROM)},
    {"verify", COMMON | BIT(O_IGNORE_TIME) | BIT(O_AT)},
    {"check", COMMON | BIT(O_IGNORE_TIME) | BIT(O_AT) | BIT(O_EID)},
};

/* A DNS name for a certificate's subjectAltName: letters, digits, '-' and '.' (RFC 1123). */
static bool valid_host(const char *h) {
  size_t n = strlen(h);
  bool ok = n > 0 && n <= 253 && h[0] != '.' && h[0] != '-';
  for (size_t i = 0; ok && i < n; i++)
    ok = (h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
         (h[i] >= '0' && h[i] <= '9') || h[i] == '-' || h[i] == '.';
  if (!ok) cli_err("%s is not a valid DNS host name", h);
  return ok;
}

static bool set_opt(struct cli_pki_opts *o, int id, const char *arg) {
  char *end = NULL;
  switch (id) {
  case O_DIR:
    o->dir = arg;
    return true;
  case O_FROM:
    o->from = arg;
    return true;
  case O_CURVE:
    o->curve = rsp_curve_parse(arg);
    if (o->curve == RSP_CURVE_NONE) cli_err("unknown curve %s (nist or brp)", arg);
    return o->curve != RSP_CURVE_NONE;
  case O_EIN:
    o->ein = arg;
    if (!digits_only(arg) || strlen(arg) > RSP_EID_DIGITS - 2)
      cli_err("--ein %s: 1 to 30 decimal digits expected", arg);
    return digits_only(arg) && strlen(arg) <= RSP_EID_DIGITS - 2;
  case O_EID:
    return cli_add_eid(o, arg);
  case O_EID_RANGE:
    o->eid_range = arg;
    return true;
  case O_SMDP_HOST:
    o->smdp_host = arg;
    return valid_host(arg);
  case O_SMDS_HOST:
    o->smds_host = arg;
    return valid_host(arg);
  case O_EIM_HOST:
    o->eim_host = arg;
    return valid_host(arg);
  case O_EIM_ID:
    o->eim_id = arg;
    return true;
  case O_FORCE:
    o->force = true;
    return true;
  case O_JSON:
    o->json = true;
    return true;
  case O_IGNORE_TIME:
    o->ignore_time = true;
    return true;
  case O_AT:
    errno = 0;
    o->at = strtoll(arg, &end, 10);
    if (errno || !end || *end || o->at <= 0) cli_err("--at %s: seconds since the epoch", arg);
    return !(errno || !end || *end || o->at <= 0);
  default:
    return false;
  }
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, unsigned allowed, struct cli_pki_opts *o) {
  int id;
  opterr = 0;
  optind = 1;
  while ((id = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
    if (id == O_HELP) {
      usage(stdout);
      return CLI_EXIT_OK;
    }
    if (id == '?' || id == ':') {
      cli_err("%s: unknown option or missing value: %s (see rsp-pki --help)", argv[0],
              argv[optind - 1]);
      return CLI_EXIT_USAGE;
    }
    if (!(allowed & BIT(id))) {
      cli_err("%s: option --%s does not apply to this command (see rsp-pki --help)", argv[0],
              long_opts[id - 1].name);
      return CLI_EXIT_USAGE;
    }
    if (!set_opt(o, id, optarg)) return CLI_EXIT_USAGE;
  }
  if (optind < argc && strcmp(argv[0], "check") != 0) {
    cli_err("%s: unexpected argument %s", argv[0], argv[optind]);
    return CLI_EXIT_USAGE;
  }
  o->files = argv + optind;
  o->n_files = argc - optind;
  if (strcmp(argv[0], "check") == 0 && o->n_files == 0) {
    cli_err("check: no certificate file given");
    return CLI_EXIT_USAGE;
  }
  if (!o->dir || !*o->dir) {
    cli_err("%s: --dir is required", argv[0]);
    return CLI_EXIT_USAGE;
  }
  return -1;
}

int main(int argc, char **argv) {
  struct cli_pki_opts o;
  int rc = CLI_EXIT_USAGE;

  memset(&o, 0, sizeof(o));
  o.curve = RSP_CURVE_NIST_P256;
  rsp_log_set_level(RSP_LOG_WARN);
  if (argc < 2) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return CLI_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
    if (strcmp(argv[1], commands[i].name) != 0) continue;
    rc = parse_args(argc - 1, argv + 1, commands[i].allowed, &o);
    if (rc != -1) goto out;
    if (i == 0)
      rc = cli_pki_create(&o);
    else if (i == 1)
      rc = cli_pki_import_sgp26(&o);
    else if (i == 2)
      rc = cli_pki_verify(&o);
    else
      rc = cli_pki_check(&o);
    goto out;
  }
  cli_err("unknown command %s (see rsp-pki --help)", argv[1]);
out:
  free(o.eids);
  return rc;
}
