/* openrsp eIM: the operator API (REST, JSON over HTTPS; the OpenAPI 3 document is
 * docs/eim-api.yaml), over the store, independent of HTTP: rsp-eim's API server checks the API
 * key and hands each request here.
 *
 *   GET    /v1/health                               liveness (the one route without a key)
 *   GET    /v1/stats                                counts: devices, operations by state and
 *                                                   kind, rolled back, ESipa requests served
 *   POST   /v1/devices                              register a device (and its initial eIM
 *                                                   configuration for AddInitialEim)
 *   GET    /v1/devices?after=EID&limit=N&profiles=true   list (pages in EID order; with
 *                                                   profiles=true each row has its profiles)
 *   GET    /v1/devices/{eid}                        a device's state: certificates known,
 *                                                   profiles, enabled ICCID, last seen, pending
 *   GET    /v1/devices/{eid}/add-initial-eim        the AddInitialEimRequest (DER, base64) to
 *                                                   load on the card at manufacture
 *   POST   /v1/devices/{eid}/operations             enqueue an operation (spec.h), with
 *                                                   optional notBefore / expiresAt (epoch s)
 *   GET    /v1/devices/{eid}/operations?after=SEQ&limit=N   the device's operations, in order
 *   GET    /v1/operations/{id}                      one operation with its state and result
 *   DELETE /v1/operations/{id}                      cancel a queued operation (409 once sent)
 *   POST   /v1/operations/bulk                      one spec for many EIDs (a campaign)
 *   GET    /v1/devices/{eid}/audit?after=ID&limit=N&operation=ID   the audit trail
 * rsp-eim checks the API key before a request reaches rsp_eim_api_handle, on every route for which
 * rsp_eim_api_key_required says so.
 * Errors are JSON {"error": "...", "detail": "..."} with 400 (bad JSON or spec), 404 (unknown
 * device or operation), 405, 409 (state), 413, 500. "error" is a stable code (invalid_request,
 * invalid_spec, not_found, no_route, method_not_allowed, exists, state, too_large, internal),
 * "detail" a sentence for people. Every answer, errors included, is a JSON object
 * (application/json). Details, the JSON forms and examples: docs/eim-api.yaml, docs/eim.md
 * ("Operator API and rsp-eimctl"). */
#ifndef RSP_EIM_API_H
#define RSP_EIM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/eim/store.h"

/* The largest request body: a bulk request of RSP_EIM_API_BULK_MAX EIDs with its spec. rsp-eim
 * gives it to its API server as max_request_body; rsp_eim_api_handle answers 413 beyond it, and
 * beyond RSP_EIM_API_MAX_ITEM_BODY on the routes other than bulk. */
#define RSP_EIM_API_MAX_BODY (1u << 20)
#define RSP_EIM_API_MAX_ITEM_BODY (256u * 1024u)
#define RSP_EIM_API_BULK_MAX 10000   /* EIDs in one bulk request (413 beyond) */
#define RSP_EIM_API_PAGE_DEFAULT 100 /* items of a list page when no limit is given */
#define RSP_EIM_API_CONTENT_TYPE "application/json"

struct rsp_eim_api_request {
  const char *method; /* "GET", "POST", "DELETE" ... */
  const char *path;   /* the request target as received, query string included */
  const uint8_t *body;
  size_t body_len;
};

/* The ESipa side's count for GET /v1/stats: requests served since `since` (Unix time). */
struct rsp_eim_api_esipa_count {
  uint64_t requests;
  int64_t since;
};

struct rsp_eim_api_options {
  struct rsp_eim_store *store; /* this thread's handle */
  const char *eim_id;          /* default eimId of registered devices */
  /* What AddInitialEim puts on new cards by default: our address and keys (DER). */
  const char *eim_fqdn;
  struct rsp_slice eim_certificate;     /* package signing certificate */
  struct rsp_slice eim_tls_certificate; /* trustedCertificateTls (or a CA) */
  int64_t (*now)(void *ctx);            /* NULL: time() */
  void *now_ctx;
  /* Reads the running server's ESipa request count (any thread may call it while the server
   * counts: rsp-eim keeps it in atomics); NULL: GET /v1/stats answers "esipa": null. */
  void (*esipa_count)(void *ctx, struct rsp_eim_api_esipa_count *out);
  void *esipa_count_ctx;
};

/* Fills `resp` (JSON text) and *status for one request. RSP_OK unless something internal failed
 * (then answer 500): the store failed, memory ran out, or the answer exceeds resp's cap. On such
 * a failure *status is 500 and `resp` holds an error JSON when one could be written. The caller
 * gives `resp` a cap of at least RSP_NET_MAX_RESPONSE_BODY (8 MiB) for full pages of
 * operations with their results. */
rsp_err_t rsp_eim_api_handle(const struct rsp_eim_api_options *o,
                             const struct rsp_eim_api_request *req, struct rsp_buf *resp,
                             int *status);

/* One route of the API: method and path template ("/v1/devices/{eid}"). */
struct rsp_eim_api_route {
  const char *method;
  const char *path;
  bool open; /* served without an API key (only GET /v1/health) */
};
/* Every route served, in a static table (the OpenAPI document is checked against it). */
const struct rsp_eim_api_route *rsp_eim_api_routes(size_t *n);
/* Whether a request for `path` (a request target, query allowed) must carry an API key: false
 * only for the paths of open routes (/v1/health, whatever the method: its 405 is harmless), true
 * for every other path, known or not, so an unknown path is answered 401/403 before 404. */
bool rsp_eim_api_key_required(const char *path);
/* The methods a path is served with, as an Allow header value ("GET, POST"), for rsp-eim's
 * answer to a 405. False (out empty) when no route has this path or `out` is too small. */
bool rsp_eim_api_allow(const char *path, char *out, size_t out_size);

#endif
