/* Which backend a --state value names (include/rsp/eim/store.h rsp_eim_store_open): a
 * PostgreSQL URI or "pg:" + a libpq connection string, else a SQLite path. */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#ifdef RSP_HAVE_LIBPQ
#include "store_pg_internal.h"
#endif

#define PG_PREFIX "pg:"

bool rsp_eim_store_is_pg(const char *state) {
  return state &&
         (strncmp(state, "postgresql://", 13) == 0 || strncmp(state, "postgres://", 11) == 0 ||
          strncmp(state, PG_PREFIX, strlen(PG_PREFIX)) == 0);
}

rsp_err_t rsp_eim_store_open(const char *state, struct rsp_eim_store **out) {
  if (out) *out = NULL;
  if (!state || !out) return RSP_E_INVALID_ARG;
  if (!rsp_eim_store_is_pg(state)) return rsp_eim_store_sqlite_open(state, out);
  if (strncmp(state, PG_PREFIX, strlen(PG_PREFIX)) == 0) state += strlen(PG_PREFIX);
  return rsp_eim_store_pg_open(state, out);
}

void rsp_eim_store_describe(const char *state, char *out, size_t out_size) {
  if (!out || out_size == 0) return;
  if (!rsp_eim_store_is_pg(state)) {
    snprintf(out, out_size, "%s", state ? state : "(none)");
    return;
  }
  if (strncmp(state, PG_PREFIX, strlen(PG_PREFIX)) == 0) state += strlen(PG_PREFIX);
#ifdef RSP_HAVE_LIBPQ
  rsp__pg_describe(state, out, out_size);
#else
  snprintf(out, out_size, "(a PostgreSQL database)");
#endif
}

#ifndef RSP_HAVE_LIBPQ
/* A build without libpq (Debian libpq-dev absent when it was configured). */
rsp_err_t rsp_eim_store_pg_open(const char *conninfo, struct rsp_eim_store **out) {
  (void)conninfo;
  if (out) *out = NULL;
  rsp_log(RSP_LOG_ERROR, RSP__EIM_COMP,
          "store: this build has no PostgreSQL support (libpq-dev was missing at configure time)");
  return RSP_E_UNSUPPORTED;
}

int rsp_eim_store_pg_schema_version(void) { return 0; }
#endif
