/* rsp-smdp: app-internal declarations shared by rsp_smdp.c (the program, the SM-DP+ role) and
 * rsp_smdp_smds.c (the SM-DS role). */
#ifndef RSP_APPS_SMDP_RSP_SMDP_H
#define RSP_APPS_SMDP_RSP_SMDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/net/http.h"
#include "rsp/smdp/service.h"

#define SMDP_EXIT_OK 0
#define SMDP_EXIT_FAIL 1
#define SMDP_EXIT_USAGE 2
#define SMDP_EXIT_HELP (-1) /* --help: print, then exit 0 */

/* SGP.22 §6.5.1: the version both roles answer with, and the family they accept. */
#define SMDP_ADMIN_PROTOCOL "gsma/rsp/v2.5.0"
#define SMDP_CONTENT_TYPE "application/json"
#define SMDP_HOST_MAX 256
#define SMDP_PATH_MAX 4096
#define SMDP_URL_MAX 2048

/* ---- helpers of rsp_smdp.c ----------------------------------------------------------------- */

/* Splits "HOST:PORT" or "[V6]:PORT"; PORT 0 asks for an ephemeral port. */
bool smdp_split_addr(const char *s, char host[SMDP_HOST_MAX], uint16_t *port);
bool smdp_parse_long(const char *s, long min, long max, long *out);
/* The media type `want`, optionally with parameters. */
bool smdp_content_type_is(const char *ct, const char *want);
/* gsma/rsp/v2.x.y (SGP.22 §6.5.1). */
bool smdp_admin_protocol_ok(const char *v);
/* A text/plain refusal with this status (405 adds Allow: POST). */
rsp_err_t smdp_refuse(struct rsp_net_response *res, int status, const char *why);
/* "Executed-Success", "Failed 8.2.6/3.8 (message)", "HTTP 400" ... of a JSON answer. */
void smdp_describe(int status, const struct rsp_buf *body, char *out, size_t size);
double smdp_ms_since(const struct timespec *t0);

/* ---- generated profiles: --generate and --batch (rsp_smdp_batch.c) -------------------------- */

#define SMDP_GENERATE_MAX 100000 /* profiles of one --generate or --batch */
#define SMDP_BATCH_MAX 64        /* --batch options of one serve */

/* One --batch COUNT:ICCID_BASE:IMSI_BASE:PROFILE_TYPE[:SERVICE_PROVIDER_NAME]. */
struct smdp_batch {
  long count;
  char iccid_base[20]; /* 17..19 digits: profile i gets base + i and the Luhn digit */
  char imsi_base[16];  /* 6..15 digits: profile i gets base + i */
  char profile_type[RSP_SMDP_PROFILE_TYPE_MAX + 1];
  char spn[RSP_SMDP_SPN_MAX + 1]; /* "": the service's default */
};

/* Decimal digits only, min..max of them. */
bool smdp_digits(const char *s, size_t min, size_t max);
/* Parses a --batch value; false with the reason (naming the field) in `why`. */
bool smdp_batch_parse(const char *arg, struct smdp_batch *b, char *why, size_t why_size);
/* base + count - 1 keeps the width of base (at most 19 digits). */
bool smdp_range_fits(const char *base, long count);
/* The ranges base_a + [0, count_a) and base_b + [0, count_b) of equally long bases meet. */
bool smdp_ranges_overlap(const char *base_a, long count_a, const char *base_b, long count_b);

/* ---- the SM-DS role (rsp_smdp_smds.c) ------------------------------------------------------ */

struct smds_role_opts {
  const char *pki_dir;    /* DIR/smds/auth, DIR/smds/tls, DIR/ci */
  const char *state_path; /* the SM-DS's store (may be the SM-DP+'s file) */
  const char *listen;     /* HOST:PORT */
  const char *address;    /* NULL: the listening HOST:PORT */
  const char *tls_cert;   /* NULL: DIR/smds/tls/cert.pem */
  const char *tls_key;    /* NULL: DIR/smds/tls/key.pem */
  const char *client_ca;  /* ES12 clients' CA; NULL: DIR/ci/cert.pem */
  long session_ttl;       /* 0: the default */
  long threads;           /* event-loop threads */
  bool ignore_cert_time;
};

struct smds_role;

/* Binds the HTTPS server and opens the store; nothing is served yet. NULL on failure (logged). */
struct smds_role *smds_role_new(const struct smds_role_opts *o);
bool smds_role_start(struct smds_role *r);
const char *smds_role_address(const struct smds_role *r);
uint16_t smds_role_port(const struct smds_role *r);
/* One ES12 call from the same process's SM-DP+ (no HTTPS): thread-safe. */
rsp_err_t smds_role_call(struct smds_role *r, const char *path, const char *body, size_t len,
                         int *http_status, struct rsp_buf *resp);
/* Drops sessions long over; logs what it did. */
void smds_role_housekeeping(struct smds_role *r);
/* Stops the server, then frees everything. NULL-safe. */
void smds_role_free(struct smds_role *r);

/* `rsp-smdp smds ...`: the SM-DS role alone. */
int smds_main(int argc, char **argv);
extern const char smds_usage_text[];

#endif
