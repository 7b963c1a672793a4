/* openrsp CLI helper: the command lines of the operator tools (rsp-eimctl, rsp-smdpctl).
 *
 *   PROG [global options] COMMAND [WORD] [options and arguments, in any order]
 *
 * Options are getopt_long options whose ids run from first_id to end_id - 1 (at most 32); each
 * command accepts the global ones and its own set, any other is a usage error naming it. Every
 * option's last value is kept by id (rsp_cli_opt), and on_opt sees each one as it is parsed so
 * that the program can check and convert it. Messages go to stderr prefixed with the program's
 * name; --help (or -h, or the command "help") prints the usage text on stdout. */
#ifndef RSP_CLI_CLI_H
#define RSP_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/log.h"

/* Exit codes of the tools. */
#define RSP_CLI_OK 0
#define RSP_CLI_FAIL 1
#define RSP_CLI_USAGE 2

#define RSP_CLI_MAX_OPTS 32

struct rsp_cli_cmd {
  const char *w1, *w2;  /* the command's words; w2 NULL for a one-word command */
  int min_pos, max_pos; /* how many positional arguments; max_pos -1: no upper limit */
  uint32_t opts;        /* the options it accepts besides the global ones (rsp_cli_bit) */
};

struct rsp_cli {
  /* set by the program */
  const char *prog, *usage;
  const struct option *longopts;
  int first_id, end_id, help_id;
  uint32_t global;
  /* called for each option parsed; returns RSP_CLI_OK or an exit code. May be NULL. */
  int (*on_opt)(void *ctx, int id, const char *arg);
  void *ctx;
  /* filled by rsp_cli_parse */
  const char *val[RSP_CLI_MAX_OPTS];
  uint32_t used;
  char **pos; /* the positional arguments after the command words */
  int n_pos;
};

static inline uint32_t rsp_cli_bit(const struct rsp_cli *cli, int id) {
  return 1u << (id - cli->first_id);
}

/* Parses argv against the command table: n_cmds entries `stride` bytes apart, each starting with
 * a struct rsp_cli_cmd (the program's own fields follow). Returns the command's index, or -1 with
 * *exit_code the code to exit with (RSP_CLI_OK after help, RSP_CLI_USAGE after a message). */
int rsp_cli_parse(struct rsp_cli *cli, const void *cmds, size_t n_cmds, size_t stride, int argc,
                  char **argv, int *exit_code);

const char *rsp_cli_opt(const struct rsp_cli *cli, int id); /* NULL when not given */
bool rsp_cli_has(const struct rsp_cli *cli, int id);

/* "PROG: message (see --help)" on stderr; returns RSP_CLI_USAGE. */
int rsp_cli_usage_error(const struct rsp_cli *cli, const char *fmt, ...) RSP_PRINTF(2, 3);
/* "PROG: message" on stderr; returns RSP_CLI_FAIL. */
int rsp_cli_fail(const struct rsp_cli *cli, const char *fmt, ...) RSP_PRINTF(2, 3);

/* A whole decimal number in [min, max]. */
bool rsp_cli_parse_long(const char *s, long min, long max, long *out);
/* 32 decimal digits (n bytes at s, not necessarily NUL-terminated). */
bool rsp_cli_is_eid(const char *s, size_t n);
/* A whole file ('-': standard input) appended to `out`, whose cap bounds it; false after a
 * message saying why. */
bool rsp_cli_read_file(const struct rsp_cli *cli, const char *path, struct rsp_buf *out);

#endif
