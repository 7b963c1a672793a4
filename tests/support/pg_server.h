/* Test support: a private PostgreSQL server for one test program (the eIM's PostgreSQL store,
 * docs/adr/0010). initdb into a fresh directory, the server on 127.0.0.1 and a free port with
 * its socket in that directory and fsync off, stopped and removed at exit. As root (CI) the
 * server runs as the unprivileged user nobody (PostgreSQL refuses to run as root). */
#ifndef RSP_TEST_PG_SERVER_H
#define RSP_TEST_PG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rsp_test_pg_status {
  RSP_TEST_PG_READY = 0,
  RSP_TEST_PG_ABSENT, /* not installed: the test skips, saying so */
  RSP_TEST_PG_FAILED, /* installed but it did not start: the test fails */
};
/* Starts the server (once per process; later calls answer at once); *why says what went wrong. */
enum rsp_test_pg_status rsp_test_pg_start(const char **why);
/* A fresh empty database on the server: its URI (postgresql://postgres@127.0.0.1:PORT/NAME). */
bool rsp_test_pg_createdb(char *uri, size_t size);
/* Runs `sql` on the database at `uri`; false (the server's message printed) on failure. */
bool rsp_test_pg_exec(const char *uri, const char *sql);
/* The integer in the first column of the first row of `sql`; -1 on failure (printed). */
int64_t rsp_test_pg_int(const char *uri, const char *sql);
/* Stops the server and removes its directory (also done at exit). */
void rsp_test_pg_stop(void);

#endif
