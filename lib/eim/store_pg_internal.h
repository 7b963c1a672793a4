/* The eIM store on PostgreSQL (store_pg.c: connection, statements, transactions, schema;
 * store_pg_ops.c: the operations of struct rsp_eim_store_ops). docs/adr/0010 has the reasons. */
#ifndef RSP_EIM_STORE_PG_INTERNAL_H
#define RSP_EIM_STORE_PG_INTERNAL_H

#include <libpq-fe.h>

#include "store_internal.h"

/* A transaction that failed with a serialization failure or a deadlock (SQLSTATE 40001, 40P01)
 * runs again from the start, at most this many times in all (each retry logged). */
#define RSP__PG_TRIES 12
#define RSP__PG_PARAMS_MAX 10
#define RSP__PG_WHERE_MAX 256

enum rsp__pg_query {
  PQ_AUDIT,
  PQ_DEVICE_INSERT,
  PQ_DEVICE_GET,
  PQ_DEVICE_POLL,
  PQ_DEVICE_EXISTS,
  PQ_DEVICE_LOCK,
  PQ_DEVICE_LOCK_BY_OP,
  PQ_DEVICE_LOCK_BY_TXID,
  PQ_DEVICE_SET_COUNTER,
  PQ_DEVICE_LIST,
  PQ_DEVICE_DATA,
  PQ_DEVICE_TOUCH,
  PQ_DEVICE_ENABLED,
  PQ_PROFILES_DELETE,
  PQ_PROFILE_INSERT,
  PQ_PROFILES_LIST,
  PQ_OP_INSERT,
  PQ_OP_GET,
  PQ_OP_BY_TXID,
  PQ_OP_BY_COUNTER,
  PQ_OP_LIST,
  PQ_OP_HEAD,
  PQ_OP_EARLIER_OPEN,
  PQ_OP_CLOSE,
  PQ_OP_SENT,
  PQ_OP_RESENT,
  PQ_OP_CHECKED,
  PQ_OP_RESULT,
  PQ_NOTIF_INSERT,
  PQ_NOTIF_NEXT,
  PQ_NOTIF_FORWARDED,
  PQ_NOTIF_EXISTS,
  PQ_AUDIT_LIST,
  PQ_STATS,
  PQ__COUNT
};

struct rsp__pg_store {
  struct rsp_eim_store base; /* first: the public functions see only this */
  PGconn *conn;
  char where[RSP__PG_WHERE_MAX]; /* user@host:port/dbname, never the password: for logs */
  bool prepared[PQ__COUNT];
  bool retry;       /* the failed statement asks for the transaction to run again */
  bool in_tx;       /* between BEGIN and COMMIT/ROLLBACK: never reconnect there */
  unsigned retries; /* transactions run again since open (logged each time) */
  unsigned seed;    /* rand_r state of the pauses between tries: differs between nodes */
  struct rsp__eim_touches touches;
  unsigned touch_ms;
};

/* The parameters of one statement: text for numbers and strings, binary for bytea. */
struct rsp__pg_args {
  int n;
  const char *v[RSP__PG_PARAMS_MAX];
  int len[RSP__PG_PARAMS_MAX];
  int fmt[RSP__PG_PARAMS_MAX];
  char num[RSP__PG_PARAMS_MAX][24];
};

void rsp__pg_str(struct rsp__pg_args *a, const char *t);  /* NULL: SQL NULL */
void rsp__pg_text(struct rsp__pg_args *a, const char *t); /* NULL or "": SQL NULL */
void rsp__pg_int(struct rsp__pg_args *a, int64_t v);
void rsp__pg_opt_int(struct rsp__pg_args *a, bool present, int64_t v);
void rsp__pg_bool(struct rsp__pg_args *a, bool v);
void rsp__pg_blob(struct rsp__pg_args *a, struct rsp_slice b); /* p NULL: SQL NULL */

/* Runs prepared statement `id` (binary results). RSP_OK with *res (PQclear it) or an error:
 * RSP_E_EXISTS for a unique violation, RSP_E_INTERNAL for another constraint (an invariant the
 * schema restates), RSP_E_IO otherwise (logged; s->retry set for 40001 and 40P01). */
rsp_err_t rsp__pg_exec(struct rsp__pg_store *s, enum rsp__pg_query id, const struct rsp__pg_args *a,
                       PGresult **res);
/* The same for a statement that returns no row; *changed (may be NULL) the rows it changed. */
rsp_err_t rsp__pg_cmd(struct rsp__pg_store *s, enum rsp__pg_query id, const struct rsp__pg_args *a,
                      long *changed);
/* The same for a statement that returns one row or none (RSP_E_NOT_FOUND, *res NULL). */
rsp_err_t rsp__pg_row(struct rsp__pg_store *s, enum rsp__pg_query id, const struct rsp__pg_args *a,
                      PGresult **res);

/* Runs fn in a READ COMMITTED transaction; committed when it returns RSP_OK, rolled back
 * otherwise, run again (bounded, logged) after a serialization failure or a deadlock. fn must
 * set its outputs afresh on every run. Polls held by the handle are written first (the oldest
 * batch, one statement committed by itself). */
typedef rsp_err_t (*rsp__pg_tx_fn)(struct rsp__pg_store *s, void *ctx);
rsp_err_t rsp__pg_tx(struct rsp__pg_store *s, rsp__pg_tx_fn fn, void *ctx);

/* Binary result columns. */
int64_t rsp__pg_col_int(const PGresult *r, int row, int col, int64_t if_null);
void rsp__pg_col_text(const PGresult *r, int row, int col, char *out, size_t size);
rsp_err_t rsp__pg_col_strdup(const PGresult *r, int row, int col, char **out);
rsp_err_t rsp__pg_col_buf(const PGresult *r, int row, int col, struct rsp_buf *b);
bool rsp__pg_col_null(const PGresult *r, int row, int col);

/* "postgresql://user@host:port/dbname" from a libpq connection string: for logs, never the
 * password. */
void rsp__pg_describe(const char *conninfo, char *out, size_t size);

/* Writes the oldest batch of held polls (rsp__eim_touch_batch_fn). */
rsp_err_t rsp__pg_touches_write(void *backend);

/* The members of the table that store_pg.c implements. */
void rsp__pg_close(struct rsp_eim_store *base);
rsp_err_t rsp__pg_flush(struct rsp_eim_store *base, bool due_only);
rsp_err_t rsp__pg_set_touch_interval(struct rsp_eim_store *base, unsigned ms);
size_t rsp__pg_touches_held(struct rsp_eim_store *base);

extern const struct rsp_eim_store_ops rsp__pg_ops;

#endif
