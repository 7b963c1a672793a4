/* Signing and queueing eUICC packages with the eIM's key, along the code path rsp-eim runs.
 *
 *   bench_sign PKI_DIR DIR [COUNT] [DEVICES]     (defaults: 1000000 packages, 1000 devices)
 *
 * PKI_DIR is an `rsp-pki create` directory: the eIM signing key and certificates, the CI, and the
 * eUICCs whose EIDs become the devices (the first DEVICES of PKI_DIR/euicc, in EID order). The
 * store is a new SQLite file in DIR (synchronous=FULL, as in production).
 *
 * Set-up: every device is registered through the operator API (rsp_eim_api_handle, POST
 * /v1/devices with its eUICC and EUM certificates, so the eIM signs for it at once). Then, in
 * rounds until COUNT packages are out, as a campaign runs:
 *   queue   POST /v1/operations/bulk: one enable PSMO for every device (the API's bulk route:
 *           the spec validated once, each EID queued in its own transaction);
 *   sign    for every device, its GetEimPackageRequest (DER) through rsp_eim_service_esipa, the
 *           ESipa handler of rsp-eim: the poll recorded, the queue head read, the package built
 *           from the spec, signed with SK.EIM through the signer with the device's next counter,
 *           committed as sent, and the EuiccPackageRequest answered (checked here);
 *   result  the card's answer, stood in for by rsp_eim_store_record_result, which frees the queue
 *           head for the next round (timed apart: not part of signing and queueing).
 * "signed and queued" is queue + sign per package. In the same run, "build+sign only" does the
 * package work alone without any store (spec parsed, EuiccPackageSigned encoded, eimSignature
 * over it and the associationToken DO through the signer, EuiccPackageRequest encoded) on up to
 * 100,000 packages. run.sh divides both by `openssl speed ecdsap256`'s signing rate. Progress goes
 * to stderr. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_eim_util.h"
#include "rsp/core/arena.h"
#include "rsp/core/log.h"
#include "rsp/crypto/crypto.h"
#include "rsp/crypto/signer.h"
#include "rsp/eim/api.h"
#include "rsp/eim/service.h"
#include "rsp/eim/spec.h"
#include "rsp/eim/store.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/base64.h"
#include "rsp/msg/msg.h"
#include "rsp/msg/signed.h"

#define PROG "bench_sign"
#define EIM_ID "openrsp-bench-eim"
#define EIM_FQDN "localhost:8445"
#define SPEC "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"8944000000000000011\"}}]}"
#define SIGN_ONLY_MAX 100000ul
#define MAX_DEVICES RSP_EIM_API_BULK_MAX
#define API_RESP_CAP (8u << 20)
#define CERT_B64_MAX 12000

struct bench {
  const char *pki;
  char db[4096];
  unsigned long count;
  size_t n_devices;
  char (*eids)[RSP_EID_DIGITS + 1];
  struct rsp_buf *requests; /* each device's GetEimPackageRequest, DER */
  struct rsp_eim_store *store;
  struct rsp_signer *signer;
  struct rsp_eim_service *svc;
  struct rsp_buf sign_cert, tls_cert, eum_cert;
  struct rsp_eim_api_options api;
  double t_register, t_sign_only, t_queue, t_sign, t_result;
  unsigned long sign_only;
};

/* ---- set-up ---------------------------------------------------------------------------------- */

static int eid_cmp(const void *a, const void *b) { return strcmp(a, b); }

/* The EIDs of PKI/euicc (directories named by 32 digits), sorted, at most `max`. */
static size_t list_eids(struct bench *b, size_t max) {
  char dir[4200];
  struct dirent *e;
  size_t n = 0;
  snprintf(dir, sizeof dir, "%s/euicc", b->pki);
  DIR *d = opendir(dir);
  b->eids = calloc(MAX_DEVICES, sizeof *b->eids);
  if (!d || !b->eids) return 0;
  while ((e = readdir(d)) != NULL && n < MAX_DEVICES)
    if (strlen(e->d_name) == RSP_EID_DIGITS && strspn(e->d_name, "0123456789") == RSP_EID_DIGITS)
      memcpy(b->eids[n++], e->d_name, RSP_EID_DIGITS + 1);
  closedir(d);
  qsort(b->eids, n, sizeof *b->eids, eid_cmp);
  return n < max ? n : max;
}

static void load(const struct bench *b, const char *rel, struct rsp_buf *out) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", b->pki, rel);
  rsp_buf_init(out, 1u << 20);
  if (!bench_read_file(path, out) || out->len == 0) {
    fprintf(stderr, PROG ": cannot read %s (an rsp-pki create directory is needed)\n", path);
    exit(1);
  }
}

static void open_eim(struct bench *b) {
  char path[4200], ci[4200];
  rsp_err_t rc = rsp_eim_store_open(b->db, &b->store);
  if (rc != RSP_OK) bench_die(PROG, b->db, rc);
  snprintf(path, sizeof path, "%s/eim/sign/key.pem", b->pki);
  if ((rc = rsp_signer_inproc_load(path, &b->signer)) != RSP_OK) bench_die(PROG, path, rc);
  snprintf(ci, sizeof ci, "%s/ci", b->pki);
  struct rsp_eim_service_options so = {
      .eim_id = EIM_ID, .signer = b->signer, .store = b->store, .ci_dir = ci};
  if ((rc = rsp_eim_service_new(&so, &b->svc)) != RSP_OK) bench_die(PROG, "service", rc);
  load(b, "eim/sign/cert.der", &b->sign_cert);
  load(b, "eim/tls/cert.der", &b->tls_cert);
  load(b, "eum/cert.der", &b->eum_cert);
  b->api = (struct rsp_eim_api_options){
      .store = b->store,
      .eim_id = EIM_ID,
      .eim_fqdn = EIM_FQDN,
      .eim_certificate = rsp_msg_slice(b->sign_cert.data, b->sign_cert.len),
      .eim_tls_certificate = rsp_msg_slice(b->tls_cert.data, b->tls_cert.len)};
}

/* One operator API call; exits unless it is answered `want`. */
static void api_call(struct bench *b, const char *method, const char *path, const char *body,
                     int want, struct rsp_buf *resp) {
  struct rsp_eim_api_request rq = {method, path, (const uint8_t *)body, strlen(body)};
  int status = 0;
  rsp_buf_reset(resp);
  rsp_err_t rc = rsp_eim_api_handle(&b->api, &rq, resp, &status);
  if (rc != RSP_OK || status != want) {
    fprintf(stderr, PROG ": %s %s: HTTP %d (%s): %.*s\n", method, path, status, rsp_strerror(rc),
            (int)(resp->len < 300 ? resp->len : 300), (const char *)resp->data);
    exit(1);
  }
}

static void base64(const struct rsp_buf *der, char *out, size_t size) {
  rsp_err_t rc = rsp_msg_base64_encode(der->data, der->len, out, size);
  if (rc != RSP_OK) bench_die(PROG, "base64", rc);
}

/* POST /v1/devices with the device's eUICC certificate and the EUM's. */
static void register_device(struct bench *b, size_t i, const char *eum_b64, struct rsp_buf *resp) {
  static char cert_b64[CERT_B64_MAX], body[2 * CERT_B64_MAX + 256];
  char rel[128];
  struct rsp_buf cert;
  snprintf(rel, sizeof rel, "euicc/%s/cert.der", b->eids[i]);
  load(b, rel, &cert);
  base64(&cert, cert_b64, sizeof cert_b64);
  snprintf(body, sizeof body,
           "{\"eid\":\"%s\",\"euiccCertificate\":\"%s\",\"eumCertificate\":\"%s\"}", b->eids[i],
           cert_b64, eum_b64);
  api_call(b, "POST", "/v1/devices", body, 201, resp);
  rsp_buf_free(&cert);
}

/* EsipaMessageFromIpaToEim {getEimPackageRequest {eidValue}} of device i. */
static void encode_poll(struct bench *b, size_t i) {
  uint8_t eid[RSP_EID_LEN];
  struct rsp_msg_get_eim_package_request g = {0};
  struct rsp_msg_esipa_message_from_ipa_to_eim m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST,
      .u.get_eim_package_request = &g};
  rsp_err_t rc = rsp_eid_from_string(b->eids[i], eid);
  g.eid_value = rsp_msg_slice(eid, sizeof eid);
  rsp_buf_init(&b->requests[i], 256);
  if (rc == RSP_OK)
    rc = rsp_msg_encode(&rsp_msgt_esipa_message_from_ipa_to_eim, &m, &b->requests[i], NULL);
  if (rc != RSP_OK) bench_die(PROG, "GetEimPackageRequest", rc);
}

static void register_devices(struct bench *b) {
  static char eum_b64[CERT_B64_MAX];
  struct rsp_buf resp;
  rsp_buf_init(&resp, API_RESP_CAP);
  base64(&b->eum_cert, eum_b64, sizeof eum_b64);
  b->requests = calloc(b->n_devices, sizeof *b->requests);
  if (!b->requests) bench_die(PROG, "devices", RSP_E_NOMEM);
  double t = bench_now();
  for (size_t i = 0; i < b->n_devices; i++) {
    register_device(b, i, eum_b64, &resp);
    encode_poll(b, i);
  }
  b->t_register = bench_now() - t;
  rsp_buf_free(&resp);
}

/* ---- build+sign only ------------------------------------------------------------------------- */

/* The package work of one EuiccPackageRequest without a store: spec -> EuiccPackageSigned ->
 * eimSignature over DER(EuiccPackageSigned) || 84 01 00 (no associationToken) -> request. */
static rsp_err_t build_and_sign(struct bench *b, const char *eid_digits, int64_t counter,
                                struct rsp_buf *der, struct rsp_buf *in, struct rsp_buf *out) {
  struct rsp_arena a;
  struct rsp_eim_spec spec;
  uint8_t eid[RSP_EID_LEN], txid[16], sig[RSP_SIG_RAW_LEN];
  struct rsp_msg_euicc_package_signed ps = {.eim_id = rsp_msg_slice(EIM_ID, strlen(EIM_ID)),
                                            .eid_value = rsp_msg_slice(eid, sizeof eid),
                                            .counter_value = counter,
                                            .eim_transaction_id = rsp_msg_slice(txid, sizeof txid)};
  struct rsp_msg_euicc_package_request rq = {.euicc_package_signed = &ps,
                                             .eim_signature = rsp_msg_slice(sig, sizeof sig)};
  struct rsp_msg_token token = {false, 0};
  rsp_buf_reset(der);
  rsp_buf_reset(in);
  rsp_buf_reset(out);
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_err_t rc = rsp_eim_spec_parse(SPEC, strlen(SPEC), &a, &spec, NULL, 0);
  if (rc == RSP_OK) rc = rsp_eid_from_string(eid_digits, eid);
  if (rc == RSP_OK) rc = rsp_random(txid, sizeof txid);
  ps.euicc_package = spec.package;
  if (rc == RSP_OK) rc = rsp_msg_encode(&rsp_msgt_euicc_package_signed, &ps, der, NULL);
  if (rc == RSP_OK) rc = rsp_msg_signed_with_token(rsp_msg_slice(der->data, der->len), token, in);
  if (rc == RSP_OK) rc = rsp_signer_sign(b->signer, in->data, in->len, sig);
  if (rc == RSP_OK) rc = rsp_msg_encode(&rsp_msgt_euicc_package_request, &rq, out, NULL);
  rsp_arena_free(&a);
  return rc;
}

static void run_sign_only(struct bench *b) {
  struct rsp_buf der, in, out;
  rsp_buf_init(&der, RSP_EIM_PACKAGE_MAX);
  rsp_buf_init(&in, RSP_EIM_PACKAGE_MAX);
  rsp_buf_init(&out, RSP_EIM_PACKAGE_MAX);
  b->sign_only = b->count < SIGN_ONLY_MAX ? b->count : SIGN_ONLY_MAX;
  double t = bench_now();
  for (unsigned long i = 0; i < b->sign_only; i++) {
    rsp_err_t rc = build_and_sign(b, b->eids[i % b->n_devices], (int64_t)(1 + i), &der, &in, &out);
    if (rc != RSP_OK) bench_die(PROG, "build+sign", rc);
  }
  b->t_sign_only = bench_now() - t;
  rsp_buf_free(&der);
  rsp_buf_free(&in);
  rsp_buf_free(&out);
}

/* ---- the campaign ---------------------------------------------------------------------------- */

/* POST /v1/operations/bulk for the first n devices. */
static void queue_round(struct bench *b, size_t n, struct rsp_buf *body, struct rsp_buf *resp) {
  static const char tail[] = "],\"spec\":" SPEC "}";
  rsp_buf_reset(body);
  rsp_err_t rc = rsp_buf_append(body, "{\"eids\":[", 9);
  for (size_t i = 0; i < n && rc == RSP_OK; i++) {
    char item[RSP_EID_DIGITS + 4];
    int len = snprintf(item, sizeof item, "%s\"%s\"", i ? "," : "", b->eids[i]);
    rc = rsp_buf_append(body, item, (size_t)len);
  }
  if (rc == RSP_OK) rc = rsp_buf_append(body, tail, sizeof tail); /* with its NUL */
  if (rc != RSP_OK) bench_die(PROG, "bulk body", rc);
  api_call(b, "POST", "/v1/operations/bulk", (const char *)body->data, 201, resp);
}

/* The EuiccPackageRequest in an ESipa answer, or exits. */
static const struct rsp_msg_euicc_package_signed *signed_package(const struct rsp_buf *answer,
                                                                 struct rsp_arena *a) {
  struct rsp_msg_esipa_message_from_eim_to_ipa *m = NULL;
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, answer->data, answer->len,
                                a, (void **)&m, NULL);
  if (rc != RSP_OK || m->which != RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_EIM_PACKAGE_RESPONSE ||
      m->u.get_eim_package_response->which !=
          RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EUICC_PACKAGE_REQUEST) {
    fprintf(stderr, PROG ": the eIM did not answer with an EuiccPackageRequest\n");
    exit(1);
  }
  return m->u.get_eim_package_response->u.euicc_package_request->euicc_package_signed;
}

/* GetEimPackage for device i; the package's eimTransactionId and counter for the result. */
static void sign_one(struct bench *b, size_t i, struct rsp_buf *answer, uint8_t txid[16],
                     int64_t *counter) {
  struct rsp_arena a;
  int status = 0;
  rsp_buf_reset(answer);
  rsp_err_t rc =
      rsp_eim_service_esipa(b->svc, b->requests[i].data, b->requests[i].len, answer, &status);
  if (rc != RSP_OK || status != 200) {
    fprintf(stderr, PROG ": GetEimPackage of %s: HTTP %d (%s)\n", b->eids[i], status,
            rsp_strerror(rc));
    exit(1);
  }
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  const struct rsp_msg_euicc_package_signed *ps = signed_package(answer, &a);
  memcpy(txid, ps->eim_transaction_id.p, 16);
  *counter = ps->counter_value;
  rsp_arena_free(&a);
}

/* The card's answer, stood in for: a result of the production size (about 109 bytes). */
static void result_one(struct bench *b, size_t i, const uint8_t txid[16], int64_t counter) {
  uint8_t der[109] = {0xBF, 0x51, 106, 0x04, 104};
  enum rsp_eim_record outcome;
  memcpy(der + 5, &counter, sizeof counter);
  struct rsp_eim_result r = {.eid = b->eids[i],
                             .eim_transaction_id = rsp_msg_slice(txid, 16),
                             .counter = counter,
                             .seq_number = counter,
                             .der = rsp_msg_slice(der, sizeof der),
                             .state = RSP_EIM_OP_DONE};
  rsp_err_t rc = rsp_eim_store_record_result(b->store, &r, (int64_t)time(NULL), &outcome, NULL);
  if (rc != RSP_OK) bench_die(PROG, "record_result", rc);
  if (outcome != RSP_EIM_RECORD_NEW) {
    fprintf(stderr, PROG ": the result of %s was not new: %s\n", b->eids[i],
            rsp_eim_record_name(outcome));
    exit(1);
  }
}

static void run_campaign(struct bench *b) {
  struct rsp_buf body, resp, answer;
  struct bench_progress p;
  uint8_t(*txids)[16] = calloc(b->n_devices, 16);
  int64_t *counters = calloc(b->n_devices, sizeof *counters);
  unsigned long done = 0;
  if (!txids || !counters) bench_die(PROG, "campaign", RSP_E_NOMEM);
  rsp_buf_init(&body, RSP_EIM_API_MAX_BODY);
  rsp_buf_init(&resp, API_RESP_CAP);
  rsp_buf_init(&answer, RSP_EIM_ESIPA_MAX);
  bench_progress_start(&p, PROG, "packages signed and queued", b->count);
  while (done < b->count) {
    size_t n = b->count - done < b->n_devices ? (size_t)(b->count - done) : b->n_devices;
    double t = bench_now();
    queue_round(b, n, &body, &resp);
    double t1 = bench_now();
    for (size_t i = 0; i < n; i++) sign_one(b, i, &answer, txids[i], &counters[i]);
    double t2 = bench_now();
    for (size_t i = 0; i < n; i++) result_one(b, i, txids[i], counters[i]);
    b->t_queue += t1 - t;
    b->t_sign += t2 - t1;
    b->t_result += bench_now() - t2;
    done += n;
    bench_progress_step(&p, done);
  }
  rsp_buf_free(&body);
  rsp_buf_free(&resp);
  rsp_buf_free(&answer);
  free(txids);
  free(counters);
}

static void bench_free(struct bench *b) {
  for (size_t i = 0; b->requests && i < b->n_devices; i++) rsp_buf_free(&b->requests[i]);
  free(b->requests);
  free(b->eids);
  rsp_buf_free(&b->sign_cert);
  rsp_buf_free(&b->tls_cert);
  rsp_buf_free(&b->eum_cert);
  rsp_signer_destroy(b->signer);
}

/* ---- report ---------------------------------------------------------------------------------- */

static void report(const struct bench *b) {
  bool pg = rsp_eim_store_is_pg(b->db);
  double n = (double)b->count, size = pg ? 0 : bench_db_size(b->db);
  char where[512];
  rsp_eim_store_describe(b->db, where, sizeof where);
  printf("eIM signing bench: %lu packages for %zu devices, store %s (%s)\n", b->count, b->n_devices,
         where, pg ? "PostgreSQL" : "synchronous=FULL");
  printf("%-40s %12.0f /s\n", "register (API, with certificates)", b->n_devices / b->t_register);
  printf("%-40s %12.0f /s  (%lu packages)\n", "build+sign only (no store)",
         b->sign_only / b->t_sign_only, b->sign_only);
  printf("%-40s %12.0f /s\n", "queue (API bulk)", n / b->t_queue);
  printf("%-40s %12.0f /s\n", "sign (GetEimPackage via the service)", n / b->t_sign);
  printf("%-40s %12.0f /s  (%.1f s for %lu)\n", "signed and queued", n / (b->t_queue + b->t_sign),
         b->t_queue + b->t_sign, b->count);
  printf("%-40s %12.0f /s  (not counted above)\n", "result stand-in (record_result)",
         n / b->t_result);
  if (!pg) printf("%-40s %12.0f bytes per package\n", "database size", size / n);
}

int main(int argc, char **argv) {
  struct bench b = {0};
  unsigned long devices = argc > 4 ? strtoul(argv[4], NULL, 10) : 1000;
  if (argc < 3 || argc > 5) {
    fprintf(stderr, "usage: %s PKI_DIR DIR|POSTGRESQL_URI [COUNT] [DEVICES]\n", argv[0]);
    return 2;
  }
  b.pki = argv[1];
  b.count = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000;
  if (b.count == 0 || devices == 0 || devices > MAX_DEVICES) {
    fprintf(stderr, PROG ": COUNT must be positive and DEVICES 1..%d\n", MAX_DEVICES);
    return 2;
  }
  rsp_log_set_level(RSP_LOG_WARN); /* the service logs every package sent at info */
  b.n_devices = list_eids(&b, devices);
  if (b.n_devices == 0) {
    fprintf(stderr, PROG ": no eUICC in %s/euicc (rsp-pki create --eid-range ...)\n", b.pki);
    return 1;
  }
  /* a PostgreSQL URI names an empty database the bench fills (docs/adr/0010) */
  if (rsp_eim_store_is_pg(argv[2]))
    snprintf(b.db, sizeof b.db, "%s", argv[2]);
  else
    snprintf(b.db, sizeof b.db, "%s/bench-eim-sign-%d.db", argv[2], (int)getpid());
  if (!rsp_eim_store_is_pg(b.db)) bench_db_remove(b.db);
  open_eim(&b);
  register_devices(&b);
  run_sign_only(&b);
  run_campaign(&b);
  rsp_eim_service_destroy(b.svc);
  rsp_eim_store_close(b.store);
  report(&b);
  if (!rsp_eim_store_is_pg(b.db)) bench_db_remove(b.db);
  bench_free(&b);
  return 0;
}
