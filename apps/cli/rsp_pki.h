/* rsp-pki: app-internal declarations shared by its source files.
 *
 * Directory layout of a PKI directory (fixed; tools and tests rely on it):
 *
 *   DIR/pki.json                               manifest: curve, EIN, EIDs, every path (relative)
 *   DIR/ci/{cert.der,cert.pem,key.pem}          CI (CERT.CI.ECDSA, self-signed)
 *   DIR/eum/{cert.der,key.pem}                  EUM (CERT.EUM.ECDSA, nameConstraints = EIN)
 *   DIR/euicc/<EID>/{cert.der,key.pem}          one per eUICC (CERT.EUICC.ECDSA)
 *   DIR/smdp/{auth,pb,tls}/{cert.der,cert.pem,key.pem}   CERT.DPauth, CERT.DPpb, CERT.DP.TLS
 *   DIR/smds/{auth,tls}/{cert.der,cert.pem,key.pem}      CERT.DSauth, CERT.DS.TLS (SM-DS)
 *   DIR/eim/{sign,tls}/{cert.der,cert.pem,key.pem}       eIM package signing and ESipa TLS
 *
 * The eIM certificates are issued by the CI (no RSP role policy): one trust anchor,
 * DIR/ci/cert.pem, then serves both SM-DP+ and eIM TLS in a test deployment.
 */
#ifndef RSP_APPS_CLI_RSP_PKI_H
#define RSP_APPS_CLI_RSP_PKI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/crypto/crypto.h"
#include "rsp/crypto/x509.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

#define CLI_MAX_EIDS 10000 /* per command: bounds --eid-range and the manifest */
#define CLI_PATH_MAX 4096

struct cli_pki_opts {
  const char *dir;
  const char *from; /* import-sgp26: the SGP.26 directory */
  enum rsp_curve curve;
  const char *ein;
  const char *smdp_host;
  const char *smds_host;
  const char *eim_host;
  const char *eim_id;
  char (*eids)[RSP_EID_DIGITS + 1]; /* --eid values, then the --eid-range ones */
  size_t n_eids;
  const char *eid_range; /* "FIRST:COUNT", expanded once the EIN is known */
  bool force;
  bool json;
  bool ignore_time;
  long long at; /* verify --at: seconds since the epoch, 0 = now */
  char **files; /* check: the certificate files to check (argv slice) */
  int n_files;
};

/* Subcommands; each returns a CLI_EXIT_* code. */
int cli_pki_create(struct cli_pki_opts *o);
int cli_pki_import_sgp26(struct cli_pki_opts *o);
int cli_pki_verify(const struct cli_pki_opts *o);
int cli_pki_check(const struct cli_pki_opts *o);

/* ---- helpers (rsp_pki.c) -------------------------------------------------------------------- */

/* Prints "rsp-pki: <message>" to stderr. */
void cli_err(const char *fmt, ...) RSP_PRINTF(1, 2);
/* DIR/rel into out; false (with a message) when it does not fit. */
bool cli_join(char *out, size_t size, const char *dir, const char *rel);
/* mkdir -p with mode 0755. */
bool cli_mkdirs(const char *path);
/* True when the directory does not exist or is empty. */
bool cli_dir_empty(const char *path);
bool cli_file_exists(const char *path);
/* Copies a file (capped at 1 MiB); key files get mode 0600. */
bool cli_copy_file(const char *src, const char *dst, bool secret);
/* The git work tree containing path (or one of its parents), if any, into out. */
bool cli_inside_git(const char *path, char *out, size_t size);
/* Expands "FIRST:COUNT" into o->eids: FIRST has 30 digits or is a valid 32-digit EID; the
 * 30-digit body is incremented and each EID gets its check digits (SGP.29). Every EID must start
 * with ein. Returns false with a message. */
bool cli_expand_eid_range(struct cli_pki_opts *o, const char *ein);
/* An EID given by the user: 32 digits, valid check digits, inside the EIN. */
bool cli_check_eid(const char *eid, const char *ein);
/* Adds one EID (refusing duplicates and more than CLI_MAX_EIDS). */
bool cli_add_eid(struct cli_pki_opts *o, const char *eid);

/* Manifest entry for a certificate at DIR/<rel>/: paths, subject, SKI, validity. */
json_t *cli_cert_entry(const char *rel, const struct rsp_cert *cert, bool has_pem);
/* ISO 8601 UTC into buf. */
const char *cli_iso_time(long long t, char buf[32]);

#endif
