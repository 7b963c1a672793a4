/* lib/eim internals of the operator API (include/rsp/eim/api.h), shared by api.c (routing,
 * answers, request checks), api_devices.c (the device routes), api_ops.c (operations, bulk,
 * audit) and api_stats.c (the counts). */
#ifndef RSP_EIM_API_INTERNAL_H
#define RSP_EIM_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rsp/core/log.h"
#include "rsp/eim/api.h"

#define RSP__EIM_API_COMP "eim-api"
/* Longest query value we read (an EID, a number). */
#define RSP__EIM_API_QUERY_VALUE_MAX 64

/* One request being served: the options, the request, what the route captured, the answer. */
struct rsp__eim_api_ctx {
  const struct rsp_eim_api_options *o;
  const struct rsp_eim_api_request *req;
  int64_t now;
  const char *query;            /* the text after '?', NULL without one */
  char eid[RSP_EID_DIGITS + 1]; /* {eid} of the path (checked: 32 digits) */
  int64_t id;                   /* {id} of the path (checked: positive) */
  struct rsp_buf *resp;
  int *status;
};

/* A route's handler: RSP_OK once an answer (success or client error) is written; anything else
 * is an internal failure (store, memory), which rsp_eim_api_handle turns into a 500. */
typedef rsp_err_t (*rsp__eim_api_fn)(struct rsp__eim_api_ctx *c);

/* ---- answers (api.c) ------------------------------------------------------------------------- */

/* Writes {"error": code, "detail": ...} with `status`; RSP_OK (the client's mistake is answered).
 */
rsp_err_t rsp__eim_api_error(struct rsp__eim_api_ctx *c, int status, const char *code,
                             const char *fmt, ...) RSP_PRINTF(4, 5);
/* Writes `body` (its reference is taken, NULL means out of memory) with `status`. */
rsp_err_t rsp__eim_api_reply(struct rsp__eim_api_ctx *c, int status, json_t *body);
/* Answers a store error: NOT_FOUND 404 (`what` names the resource), EXISTS and STATE 409,
 * INVALID_ARG 400; anything else is internal (500, returned). */
rsp_err_t rsp__eim_api_store_error(struct rsp__eim_api_ctx *c, rsp_err_t rc, const char *what);

/* ---- request bodies and queries (api.c) ------------------------------------------------------ */

/* Parses the body as one JSON object of at most `cap` bytes into *out. False when an error was
 * answered (413, 400); *out is then NULL. */
bool rsp__eim_api_body(struct rsp__eim_api_ctx *c, size_t cap, json_t **out);
/* Refuses (400) any key of `obj` outside the NULL-terminated `allowed` list; `where` names the
 * object in the message ("body", "initialEim"). False when refused. */
bool rsp__eim_api_keys_ok(struct rsp__eim_api_ctx *c, json_t *obj, const char *const *allowed,
                          const char *where);
/* Checks the query string: only the NULL-terminated `names`, each at most once, values decoded
 * (percent and '+') into values[i] ("" when absent, present[i] set when given). False when
 * answered 400. */
bool rsp__eim_api_query(struct rsp__eim_api_ctx *c, const char *const *names,
                        char values[][RSP__EIM_API_QUERY_VALUE_MAX + 1], bool *present);
/* A decimal integer in lo..hi; false when it is not. */
bool rsp__eim_api_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* A page size from the query (default RSP_EIM_API_PAGE_DEFAULT, 1..RSP_EIM_PAGE_MAX); false when
 * answered 400. */
bool rsp__eim_api_limit(struct rsp__eim_api_ctx *c, const char *value, bool present, size_t *out);
/* Exactly 32 decimal digits. */
bool rsp__eim_api_eid_ok(const char *s);

/* ---- JSON values (api.c) --------------------------------------------------------------------- */

/* base64 of bytes as a JSON string; NULL when out of memory. */
json_t *rsp__eim_api_b64(const uint8_t *p, size_t len);
/* Upper-case hex as a JSON string; NULL when out of memory. */
json_t *rsp__eim_api_hex(const uint8_t *p, size_t len);
/* A time (seconds) or JSON null for 0 ("never"). */
json_t *rsp__eim_api_time(int64_t t);
/* JSON object text embedded as an object (a string when it does not parse), null for NULL. */
json_t *rsp__eim_api_embed(const char *text);
/* Decodes a base64 JSON string into a fresh rsp_malloc'd buffer of at most `max` bytes. False
 * when answered 400 (`where` names the field) or 413. */
bool rsp__eim_api_b64_field(struct rsp__eim_api_ctx *c, json_t *v, size_t max, const char *where,
                            uint8_t **out, size_t *out_len);

/* ---- routes (api_devices.c, api_ops.c) ------------------------------------------------------ */

rsp_err_t rsp__eim_api_device_register(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_device_list(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_device_show(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_add_initial_eim(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_op_add(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_op_list(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_op_show(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_op_cancel(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_bulk(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_audit(struct rsp__eim_api_ctx *c);
rsp_err_t rsp__eim_api_stats(struct rsp__eim_api_ctx *c); /* api_stats.c */

/* Validates a spec with rsp_eim_spec_parse: its kind in *kind, or false when answered 400
 * (`where` prefixes the message). */
bool rsp__eim_api_spec_check(struct rsp__eim_api_ctx *c, const char *text, size_t len,
                             const char *where, enum rsp_eim_op_kind *kind);
/* The device exists: true; false when answered (404) or *rc set (internal failure).
 * (api_devices.c) */
bool rsp__eim_api_device_exists(struct rsp__eim_api_ctx *c, const char *eid, rsp_err_t *rc);

#endif
