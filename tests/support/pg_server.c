/* Test support: a private PostgreSQL server (pg_server.h). */
#include "pg_server.h"

#include <glob.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"

#define START_TRIES 3

static struct {
  char dir[64];  /* under /tmp, short: the socket path has a small limit */
  char bin[256]; /* where initdb and pg_ctl are */
  char as[64];   /* "runuser -u nobody -- " as root, else "" */
  unsigned port;
  pid_t owner; /* the process that started it (forked children must not stop it) */
  unsigned n_db;
  bool running;
} pg;

/* Debian: /usr/lib/postgresql/<version>/bin, the highest version; else initdb on the PATH;
 * RSP_TEST_PG_BIN overrides (a directory without initdb: as if PostgreSQL were not installed). */
static bool find_bin(void) {
  const char *env = getenv("RSP_TEST_PG_BIN");
  glob_t g;
  char initdb[300];
  if (env && env[0]) {
    snprintf(pg.bin, sizeof pg.bin, "%s", env);
    snprintf(initdb, sizeof initdb, "%s/initdb", env);
    return access(initdb, X_OK) == 0;
  }
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0) {
    const char *best = g.gl_pathv[0];
    for (size_t i = 1; i < g.gl_pathc; i++)
      if (atoi(g.gl_pathv[i] + 20) > atoi(best + 20)) best = g.gl_pathv[i];
    snprintf(pg.bin, sizeof pg.bin, "%.*s", (int)(strlen(best) - strlen("/initdb")), best);
    globfree(&g);
    return true;
  }
  globfree(&g);
  if (system("command -v initdb >/dev/null 2>&1") != 0) return false;
  snprintf(pg.bin, sizeof pg.bin, "$(dirname \"$(command -v initdb)\")");
  return true;
}

/* A shell command as the server's user, from / (nobody may not enter the test's directory). */
static int run(const char *fmt, const char *a, const char *b) {
  char cmd[1536], body[1024];
  snprintf(body, sizeof body, fmt, a, b);
  snprintf(cmd, sizeof cmd, "cd / && %s%s", pg.as, body);
  return system(cmd);
}

/* The directory, owned by nobody when the server runs as nobody. */
static bool make_dir(void) {
  snprintf(pg.dir, sizeof pg.dir, "/tmp/rsp-pg-XXXXXX");
  if (!mkdtemp(pg.dir)) return false;
  if (geteuid() != 0) return true;
  struct passwd *pw = getpwnam("nobody");
  if (!pw || chown(pg.dir, pw->pw_uid, pw->pw_gid) != 0) return false;
  snprintf(pg.as, sizeof pg.as, "runuser -u nobody -- ");
  return true;
}

static bool start_server(void) {
  char opts[512], ctl[300];
  for (int i = 0; i < START_TRIES; i++) {
    pg.port = rsp_test_free_port();
    snprintf(opts, sizeof opts,
             "-c listen_addresses=127.0.0.1 -p %u -k %s -c fsync=off -c synchronous_commit=off"
             " -c full_page_writes=off -c max_connections=60",
             pg.port, pg.dir);
    snprintf(ctl, sizeof ctl, "%s/pg_ctl", pg.bin);
    char fmt[700];
    snprintf(fmt, sizeof fmt,
             "%%s -D %s/data -l %s/server.log -w -t 60 -o \"%%s\" start"
             " >/dev/null 2>&1",
             pg.dir, pg.dir);
    if (run(fmt, ctl, opts) == 0) return true;
  }
  return false;
}

static void at_exit(void) {
  if (getpid() == pg.owner) rsp_test_pg_stop();
}

enum rsp_test_pg_status rsp_test_pg_start(const char **why) {
  char fmt[300];
  if (pg.running) return RSP_TEST_PG_READY;
  if (!find_bin()) {
    *why = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; scripts/deps.sh "
           "installs it): the PostgreSQL store tests are skipped";
    return RSP_TEST_PG_ABSENT;
  }
  if (!make_dir()) {
    *why = "cannot make the PostgreSQL test directory (or no user nobody to run it as root)";
    return RSP_TEST_PG_FAILED;
  }
  pg.owner = getpid();
  atexit(at_exit);
  snprintf(fmt, sizeof fmt,
           "%%s/initdb -D %s/data -U postgres -A trust --no-sync -E UTF8 --locale=C%%s"
           " >%s/initdb.log 2>&1",
           pg.dir, pg.dir);
  if (run(fmt, pg.bin, "") != 0 || !start_server()) {
    fprintf(stderr, "pg_server: see %s/initdb.log and %s/server.log\n", pg.dir, pg.dir);
    *why = "the private PostgreSQL server did not start";
    pg.owner = 0; /* keep the directory for the logs */
    return RSP_TEST_PG_FAILED;
  }
  pg.running = true;
  return RSP_TEST_PG_READY;
}

bool rsp_test_pg_createdb(char *uri, size_t size) {
  char admin[128], sql[96];
  snprintf(admin, sizeof admin, "postgresql://postgres@127.0.0.1:%u/postgres", pg.port);
  snprintf(sql, sizeof sql, "CREATE DATABASE t%ld_%u", (long)getpid(), ++pg.n_db);
  if (!pg.running || !rsp_test_pg_exec(admin, sql)) return false;
  snprintf(uri, size, "postgresql://postgres@127.0.0.1:%u/t%ld_%u", pg.port, (long)getpid(),
           pg.n_db);
  return true;
}

static PGresult *query(const char *uri, const char *sql, PGconn **conn) {
  PGresult *r = NULL;
  *conn = PQconnectdb(uri);
  if (PQstatus(*conn) != CONNECTION_OK) {
    fprintf(stderr, "pg_server: %s: %s", uri, PQerrorMessage(*conn));
    return NULL;
  }
  r = PQexec(*conn, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "pg_server: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
  }
  return r;
}

bool rsp_test_pg_exec(const char *uri, const char *sql) {
  PGconn *conn;
  PGresult *r = query(uri, sql, &conn);
  PQclear(r);
  PQfinish(conn);
  return r != NULL;
}

int64_t rsp_test_pg_int(const char *uri, const char *sql) {
  PGconn *conn;
  PGresult *r = query(uri, sql, &conn);
  int64_t v = -1;
  if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) v = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(conn);
  return v;
}

void rsp_test_pg_stop(void) {
  char fmt[200];
  if (pg.running) {
    snprintf(fmt, sizeof fmt, "%%s/pg_ctl -D %s/data -m fast -w stop >/dev/null 2>&1%%s", pg.dir);
    run(fmt, pg.bin, "");
    pg.running = false;
  }
  if (pg.dir[0] && pg.owner) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pg.dir);
    if (system(cmd) != 0) fprintf(stderr, "pg_server: cannot remove %s\n", pg.dir);
    pg.dir[0] = '\0';
  }
}
