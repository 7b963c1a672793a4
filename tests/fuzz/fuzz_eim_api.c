/* libFuzzer target for the eIM's operator API (lib/eim/api*.c): arbitrary method, request target
 * and body through rsp_eim_api_handle over an in-memory store that holds two devices with queued
 * operations. Input: the first byte picks the method (byte % 6 of GET, POST, DELETE, PUT, PATCH
 * and a lower-case "get"); the request target runs to the first newline; the rest is the body.
 * Every answer must be a JSON object with a status the API documents, errors must have the
 * {"error", "detail"} shape, and only an internal failure may return an error (then with 500). The
 * store is reopened every 500 inputs to keep it small. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rsp/core/log.h"
#include "rsp/eim/api.h"
#include "rsp/eim/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EID_A "89049032000000000000000000000001"
#define EID_B "89049032000000000000000000000002"
#define REOPEN_EVERY 500

static struct rsp_eim_store *store;
static unsigned calls;

static int64_t fixed_now(void *ctx) { return 1700000000; }

static void handle(const char *method, const char *path, const uint8_t *body, size_t len,
                   struct rsp_buf *resp, int *status) {
  struct rsp_eim_api_options o = {.store = store, .eim_id = "eim.fuzz", .now = fixed_now};
  struct rsp_eim_api_request req = {method, path, body, len};
  rsp_buf_reset(resp);
  rsp_err_t rc = rsp_eim_api_handle(&o, &req, resp, status);
  if (rc != RSP_OK && *status != 500) abort();
}

static void fresh_store(void) {
  static const char spec[] = "{\"kind\":\"psmo\",\"psmos\":[{\"getRAT\":{}}]}";
  struct rsp_buf b;
  int status;
  rsp_eim_store_close(store);
  store = NULL;
  if (rsp_eim_store_sqlite_open(":memory:", &store) != RSP_OK) abort();
  rsp_buf_init(&b, 1u << 20);
  handle("POST", "/v1/devices", (const uint8_t *)"{\"eid\":\"" EID_A "\"}", 42, &b, &status);
  handle("POST", "/v1/devices", (const uint8_t *)"{\"eid\":\"" EID_B "\"}", 42, &b, &status);
  for (int i = 0; i < 3; i++)
    handle("POST", "/v1/devices/" EID_A "/operations", (const uint8_t *)spec, sizeof spec - 1, &b,
           &status);
  rsp_buf_free(&b);
}

static bool status_known(int s) {
  static const int known[] = {200, 201, 400, 404, 405, 409, 413, 500};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (s == known[i]) return true;
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "POST", "DELETE", "PUT", "PATCH", "get"};
  struct rsp_buf resp;
  char *path;
  int status = 0;
  if (size < 1) return 0;
  if (!store || calls++ % REOPEN_EVERY == 0) {
    rsp_log_set_level(RSP_LOG_ERROR);
    fresh_store();
  }
  const uint8_t *p = data + 1, *end = data + size;
  const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
  size_t path_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
  /* A request target is C text: a NUL inside ends it, as it would in lib/net. */
  if (!(path = malloc(path_len + 1))) abort();
  memcpy(path, p, path_len);
  path[path_len] = '\0';
  const uint8_t *body = nl ? nl + 1 : end;
  rsp_buf_init(&resp, 8u << 20);
  handle(methods[data[0] % 6], path, body, (size_t)(end - body), &resp, &status);
  if (!status_known(status)) abort();
  json_t *j = json_loadb((const char *)resp.data, resp.len, 0, NULL);
  if (!json_is_object(j)) abort();
  if (status >= 400 && (!json_is_string(json_object_get(j, "error")) ||
                        !json_is_string(json_object_get(j, "detail"))))
    abort();
  json_decref(j);
  rsp_buf_free(&resp);
  free(path);
  return 0;
}
