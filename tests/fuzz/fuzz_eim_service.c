/* libFuzzer target for the eIM's ESipa service (lib/eim/service*.c, esipa_json.c): arbitrary
 * bytes as requests of either binding, over a fresh in-memory store per input with one
 * registered device (certificates of an in-process PKI, so result verification runs its chain
 * checks) and three queued operations (a signed PSMO, an IpaEuiccDataRequest, a download
 * trigger). The first byte picks the entry: 0 the ASN.1 binding, 1..3 the JSON functions
 * getEimPackage, provideEimPackageResult, handleNotification. Afterwards the device polls once
 * more (GetEimPackage), so whatever the input changed is delivered too.
 *
 * Checked: only the statuses of the contract (200, 204, 400, 404, 413) and no internal failure;
 * a 200 answer of the ASN.1 binding decodes as EsipaMessageFromEimToIpa; a 204 has no body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/euicc_pki.h"
#include "rsp/core/alloc.h"
#include "rsp/core/log.h"
#include "rsp/crypto/signer.h"
#include "rsp/eim/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char pki_dir[4096], ci_dir[4200];
static struct rsp_buf euicc_cert, eum_cert;
static struct rsp_signer *signer;

static void remove_pki(void) {
  rsp_test_rmtree(pki_dir);
  rsp_signer_destroy(signer);
  rsp_buf_free(&euicc_cert);
  rsp_buf_free(&eum_cert);
}

static void read_into(const char *path, struct rsp_buf *b) {
  FILE *f = fopen(path, "rb");
  uint8_t chunk[4096];
  size_t n;
  if (!f) abort();
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    if (rsp_buf_append(b, chunk, n) != RSP_OK) abort();
  fclose(f);
}

/* One PKI and eIM key per process. */
static void setup(void) {
  static const char *const eids[] = {RSP_TEST_EID_1};
  const char *base = getenv("TMPDIR");
  char path[4400];
  struct rsp_key *k = NULL;
  if (pki_dir[0]) return;
  snprintf(pki_dir, sizeof pki_dir, "%s/rsp-fuzz-eim-XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(pki_dir) || rsp_test_euicc_pki(pki_dir, RSP_CURVE_NIST_P256, eids, 1) != RSP_OK)
    abort();
  snprintf(ci_dir, sizeof ci_dir, "%s/ci", pki_dir);
  rsp_buf_init(&euicc_cert, 8192);
  rsp_buf_init(&eum_cert, 8192);
  snprintf(path, sizeof path, "%s/euicc/%s/cert.der", pki_dir, RSP_TEST_EID_1);
  read_into(path, &euicc_cert);
  snprintf(path, sizeof path, "%s/eum/cert.der", pki_dir);
  read_into(path, &eum_cert);
  if (rsp_key_generate(RSP_CURVE_NIST_P256, &k) != RSP_OK ||
      rsp_signer_inproc_take_key(k, &signer) != RSP_OK)
    abort();
  atexit(remove_pki);
  rsp_log_set_level(RSP_LOG_ERROR); /* refused requests are logged at info: too much noise */
}

static const struct {
  enum rsp_eim_op_kind kind;
  const char *spec;
} ops[] = {
    {RSP_EIM_OP_PSMO,
     "{\"kind\":\"psmo\",\"psmos\":[{\"enable\":{\"iccid\":\"8944012345678901234\"}}]}"},
    {RSP_EIM_OP_EUICC_DATA, "{\"kind\":\"euicc_data\",\"tags\":\"A2A0\"}"},
    {RSP_EIM_OP_DOWNLOAD, "{\"kind\":\"download\",\"activationCode\":\"1$smdp.example$MID\"}"},
};

static int64_t fixed_now(void *ctx) {
  (void)ctx;
  return 1900000000; /* fixed, so a replay is a replay (certificate times are ignored) */
}

static void check(rsp_err_t rc, int status, const struct rsp_buf *resp, bool asn1) {
  struct rsp_arena a;
  void *m = NULL;
  if (rc != RSP_OK && rc != RSP_E_NOMEM) abort();
  if (rc != RSP_OK) return;
  if (status != 200 && status != 204 && status != 400 && status != 404 && status != 413) abort();
  if (status != 200 && resp->len) abort();
  if (!asn1 || status != 200) return;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  if (rsp_msg_decode(&rsp_msgt_esipa_message_from_eim_to_ipa, resp->data, resp->len, &a, &m,
                     NULL) != RSP_OK)
    abort();
  rsp_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const functions[] = {"getEimPackage", "provideEimPackageResult",
                                          "handleNotification"};
  struct rsp_eim_store *store = NULL;
  struct rsp_eim_service *svc = NULL;
  struct rsp_buf resp;
  int status = 0;
  int64_t id;
  setup();
  if (rsp_eim_store_sqlite_open(":memory:", &store) != RSP_OK) abort();
  struct rsp_eim_device_new d = {.eid = RSP_TEST_EID_1,
                                 .eim_id = "eim-fuzz",
                                 .has_association_token = true,
                                 .association_token = 1,
                                 .next_counter = 1,
                                 .euicc_cert = rsp_msg_slice(euicc_cert.data, euicc_cert.len),
                                 .eum_cert = rsp_msg_slice(eum_cert.data, eum_cert.len)};
  if (rsp_eim_store_device_register(store, &d, fixed_now(NULL)) != RSP_OK) abort();
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    struct rsp_eim_op_new op = {.eid = RSP_TEST_EID_1, .kind = ops[i].kind, .spec = ops[i].spec};
    if (rsp_eim_store_op_enqueue(store, &op, fixed_now(NULL), &id) != RSP_OK) abort();
  }
  struct rsp_eim_service_options o = {.eim_id = "eim-fuzz",
                                      .signer = signer,
                                      .store = store,
                                      .ci_dir = ci_dir,
                                      .ignore_cert_time = true,
                                      .now = fixed_now};
  if (rsp_eim_service_new(&o, &svc) != RSP_OK) abort();
  rsp_buf_init(&resp, RSP_EIM_ESIPA_MAX);
  rsp_err_t rc = RSP_OK;
  if (size > 0) {
    if (data[0] % 4 == 0) {
      rc = rsp_eim_service_esipa(svc, data + 1, size - 1, &resp, &status);
      check(rc, status, &resp, true);
    } else {
      rc = rsp_eim_service_esipa_json(svc, functions[data[0] % 4 - 1], data + 1, size - 1, &resp,
                                      &status);
      check(rc, status, &resp, false);
    }
  }
  /* the device polls: BF4F 12 5A 10 <EID> */
  uint8_t poll[21] = {0xBF, 0x4F, 0x12, 0x5A, 0x10};
  if (rsp_eid_from_string(RSP_TEST_EID_1, poll + 5) != RSP_OK) abort();
  rsp_buf_reset(&resp);
  rc = rsp_eim_service_esipa(svc, poll, sizeof poll, &resp, &status);
  check(rc, status, &resp, true);
  if (status != 200) abort();
  rsp_buf_free(&resp);
  rsp_eim_service_destroy(svc);
  rsp_eim_store_close(store);
  return 0;
}
