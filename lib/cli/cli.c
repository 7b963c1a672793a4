/* openrsp CLI helper (include/rsp/cli/cli.h). */
#include "rsp/cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rsp_cli_opt(const struct rsp_cli *cli, int id) {
  return id >= cli->first_id && id < cli->end_id ? cli->val[id - cli->first_id] : NULL;
}

bool rsp_cli_has(const struct rsp_cli *cli, int id) {
  return id >= cli->first_id && id < cli->end_id && (cli->used & rsp_cli_bit(cli, id)) != 0;
}

int rsp_cli_usage_error(const struct rsp_cli *cli, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", cli->prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (see --help)\n", stderr);
  return RSP_CLI_USAGE;
}

int rsp_cli_fail(const struct rsp_cli *cli, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", cli->prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return RSP_CLI_FAIL;
}

bool rsp_cli_parse_long(const char *s, long min, long max, long *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || !*s || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

bool rsp_cli_is_eid(const char *s, size_t n) {
  if (n != 32) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool rsp_cli_read_file(const struct rsp_cli *cli, const char *path, struct rsp_buf *out) {
  uint8_t chunk[8192];
  size_t n;
  bool ok = true, is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  if (!f) {
    rsp_cli_fail(cli, "%s: %s", path, strerror(errno));
    return false;
  }
  while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    ok = rsp_buf_append(out, chunk, n) == RSP_OK;
  if (ferror(f)) ok = false;
  if (!is_stdin) fclose(f);
  if (!ok) rsp_cli_fail(cli, "%s: unreadable or larger than %zu bytes", path, out->cap);
  return ok;
}

/* getopt_long over argv (options permuted among the words unless stop_at_word). -1 when done,
 * else an exit code (RSP_CLI_OK after help). */
static int parse_pass(struct rsp_cli *cli, int argc, char **argv, bool stop_at_word) {
  int o;
  optind = 0; /* glibc: a full restart, so each pass takes its own "+" (ordering) setting */
  opterr = 1;
  while ((o = getopt_long(argc, argv, stop_at_word ? "+h" : "h", cli->longopts, NULL)) != -1) {
    if (o == 'h' || o == cli->help_id) {
      fputs(cli->usage, stdout);
      return RSP_CLI_OK;
    }
    if (o < cli->first_id || o >= cli->end_id) {
      fprintf(stderr, "%s: see --help\n", cli->prog);
      return RSP_CLI_USAGE;
    }
    cli->used |= rsp_cli_bit(cli, o);
    cli->val[o - cli->first_id] = optarg;
    int rc = cli->on_opt ? cli->on_opt(cli->ctx, o, optarg) : RSP_CLI_OK;
    if (rc != RSP_CLI_OK) return rc;
  }
  return -1;
}

static const struct rsp_cli_cmd *cmd_at(const void *cmds, size_t stride, size_t i) {
  return (const struct rsp_cli_cmd *)((const char *)cmds + i * stride);
}

static int find_command(const void *cmds, size_t n, size_t stride, int argc, char **argv,
                        int *words) {
  for (size_t i = 0; i < n; i++) {
    const struct rsp_cli_cmd *k = cmd_at(cmds, stride, i);
    if (strcmp(argv[0], k->w1) != 0) continue;
    *words = k->w2 ? 2 : 1;
    if (!k->w2 || (argc > 1 && strcmp(argv[1], k->w2) == 0)) return (int)i;
  }
  return -1;
}

/* The options given that `k` does not take, and the count of positionals. */
static int check_command(struct rsp_cli *cli, const struct rsp_cli_cmd *k) {
  uint32_t stray = cli->used & ~(k->opts | cli->global);
  for (int o = cli->first_id; o < cli->end_id; o++) {
    if (!(stray & rsp_cli_bit(cli, o))) continue;
    for (const struct option *l = cli->longopts; l->name; l++)
      if (l->val == o)
        return rsp_cli_usage_error(cli, "--%s does not go with %s%s%s", l->name, k->w1,
                                   k->w2 ? " " : "", k->w2 ? k->w2 : "");
  }
  if (cli->n_pos < k->min_pos) return rsp_cli_usage_error(cli, "missing argument");
  if (k->max_pos >= 0 && cli->n_pos > k->max_pos)
    return rsp_cli_usage_error(cli, "unexpected argument %s", cli->pos[k->max_pos]);
  return RSP_CLI_OK;
}

int rsp_cli_parse(struct rsp_cli *cli, const void *cmds, size_t n_cmds, size_t stride, int argc,
                  char **argv, int *exit_code) {
  int rc, words = 0;
  /* global options before the command, then the command words, then its own options (global
   * ones accepted there too) */
  if ((rc = parse_pass(cli, argc, argv, true)) >= 0) goto out;
  if (optind >= argc) {
    fputs(cli->usage, stderr);
    rc = RSP_CLI_USAGE;
    goto out;
  }
  if (strcmp(argv[optind], "help") == 0) {
    fputs(cli->usage, stdout);
    rc = RSP_CLI_OK;
    goto out;
  }
  int first = optind;
  int k = find_command(cmds, n_cmds, stride, argc - first, argv + first, &words);
  if (k < 0) {
    rc = rsp_cli_usage_error(cli, "unknown command %s%s%s", argv[first],
                             first + 1 < argc ? " " : "", first + 1 < argc ? argv[first + 1] : "");
    goto out;
  }
  int sub_argc = argc - first - words + 1;
  char **sub_argv = argv + first + words - 1;
  if ((rc = parse_pass(cli, sub_argc, sub_argv, false)) >= 0) goto out;
  cli->pos = sub_argv + optind;
  cli->n_pos = sub_argc - optind;
  if ((rc = check_command(cli, cmd_at(cmds, stride, (size_t)k))) == RSP_CLI_OK) return k;
out:
  *exit_code = rc;
  return -1;
}
