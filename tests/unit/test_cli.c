/* lib/cli: the command-line frame of the operator tools. Messages go to stderr (not checked
 * here; test_eimctl and test_smdpctl check them through the programs). */
#include <stdio.h>
#include <string.h>

#include "rsp/cli/cli.h"
#include "test.h"

enum { O_URL = 1000, O_JSON, O_HELP, O_LIMIT, O_OUT, O_TIMEOUT, O__END };

static const struct option longopts[] = {{"url", required_argument, NULL, O_URL},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, O_HELP},
                                         {"limit", required_argument, NULL, O_LIMIT},
                                         {"out", required_argument, NULL, O_OUT},
                                         {"timeout", required_argument, NULL, O_TIMEOUT},
                                         {NULL, 0, NULL, 0}};

struct cmd {
  struct rsp_cli_cmd cli;
  int tag;
};

#define B(o) (1u << ((o)-O_URL))
static const struct cmd cmds[] = {
    {{"health", NULL, 0, 0, 0}, 1},
    {{"device", "list", 0, 0, B(O_LIMIT)}, 2},
    {{"device", "show", 1, 1, B(O_OUT)}, 3},
    {{"op", "add", 1, -1, 0}, 4},
};

static int timeouts_seen;

static int on_opt(void *ctx, int id, const char *arg) {
  long v;
  if (id != O_TIMEOUT) return RSP_CLI_OK;
  timeouts_seen++;
  return rsp_cli_parse_long(arg, 1, 60, &v) ? RSP_CLI_OK : RSP_CLI_USAGE;
}

/* Parses the words of `line` (at most 15); returns the command's tag, or -exit code. */
static int parse(struct rsp_cli *cli, const char *line) {
  static char buf[512];
  char *argv[16] = {"prog"};
  int argc = 1, rc = -99;
  snprintf(buf, sizeof buf, "%s", line);
  for (char *w = strtok(buf, " "); w && argc < 15; w = strtok(NULL, " ")) argv[argc++] = w;
  argv[argc] = NULL;
  *cli = (struct rsp_cli){.prog = "test-cli",
                          .usage = "",
                          .longopts = longopts,
                          .first_id = O_URL,
                          .end_id = O__END,
                          .help_id = O_HELP,
                          .global = B(O_URL) | B(O_JSON) | B(O_HELP) | B(O_TIMEOUT),
                          .on_opt = on_opt};
  int i = rsp_cli_parse(cli, cmds, sizeof cmds / sizeof cmds[0], sizeof cmds[0], argc, argv, &rc);
  return i >= 0 ? cmds[i].tag : -rc;
}

static void commands_and_options(void) {
  struct rsp_cli c;
  CHECK_EQ(parse(&c, "health"), 1);
  CHECK(!rsp_cli_has(&c, O_JSON) && rsp_cli_opt(&c, O_URL) == NULL);
  /* global options before and after the command words, command options anywhere after */
  CHECK_EQ(parse(&c, "--url https://x device list --limit 5 --json"), 2);
  CHECK_STR(rsp_cli_opt(&c, O_URL), "https://x");
  CHECK_STR(rsp_cli_opt(&c, O_LIMIT), "5");
  CHECK(rsp_cli_has(&c, O_JSON));
  CHECK_EQ(parse(&c, "device show --out f E1"), 3);
  CHECK_EQ(c.n_pos, 1);
  CHECK_STR(c.pos[0], "E1");
  CHECK_STR(rsp_cli_opt(&c, O_OUT), "f");
  /* no upper limit */
  CHECK_EQ(parse(&c, "op add a b c d"), 4);
  CHECK_EQ(c.n_pos, 4);
  CHECK_STR(c.pos[3], "d");
  /* the last value wins */
  CHECK_EQ(parse(&c, "--url a health --url b"), 1);
  CHECK_STR(rsp_cli_opt(&c, O_URL), "b");
  CHECK(rsp_cli_opt(&c, 5) == NULL && !rsp_cli_has(&c, 99999));
}

static void refusals(void) {
  struct rsp_cli c;
  CHECK_EQ(parse(&c, ""), -RSP_CLI_USAGE);                    /* no command */
  CHECK_EQ(parse(&c, "nothing"), -RSP_CLI_USAGE);             /* unknown command */
  CHECK_EQ(parse(&c, "device"), -RSP_CLI_USAGE);              /* second word missing */
  CHECK_EQ(parse(&c, "device remove"), -RSP_CLI_USAGE);       /* unknown second word */
  CHECK_EQ(parse(&c, "device list --out f"), -RSP_CLI_USAGE); /* not this command's option */
  CHECK_EQ(parse(&c, "--limit 3 health"), -RSP_CLI_USAGE);    /* nor before it */
  CHECK_EQ(parse(&c, "device show"), -RSP_CLI_USAGE);         /* missing argument */
  CHECK_EQ(parse(&c, "device show a b"), -RSP_CLI_USAGE);     /* one too many */
  CHECK_EQ(parse(&c, "health --bogus"), -RSP_CLI_USAGE);      /* unknown option */
  CHECK_EQ(parse(&c, "health --url"), -RSP_CLI_USAGE);        /* value missing */
  timeouts_seen = 0;
  CHECK_EQ(parse(&c, "--timeout 0 health"), -RSP_CLI_USAGE); /* on_opt refused it */
  CHECK_EQ(timeouts_seen, 1);
  CHECK_EQ(parse(&c, "health --timeout 30"), 1);
  /* help is no error */
  CHECK_EQ(parse(&c, "--help"), -RSP_CLI_OK);
  CHECK_EQ(parse(&c, "device list -h"), -RSP_CLI_OK);
  CHECK_EQ(parse(&c, "help"), -RSP_CLI_OK);
}

static void helpers(void) {
  long v = 0;
  CHECK(rsp_cli_parse_long("42", 0, 100, &v) && v == 42);
  CHECK(!rsp_cli_parse_long("101", 0, 100, &v));
  CHECK(!rsp_cli_parse_long("", 0, 100, &v));
  CHECK(!rsp_cli_parse_long("4x", 0, 100, &v));
  CHECK(!rsp_cli_parse_long("99999999999999999999999", 0, 100, &v));
  CHECK(rsp_cli_is_eid("89049032000000000000000000070003", 32));
  CHECK(!rsp_cli_is_eid("8904903200000000000000000007000A", 32));
  CHECK(!rsp_cli_is_eid("8904903200000000000000000007000", 31));
  struct rsp_cli c = {.prog = "test-cli"};
  struct rsp_buf b;
  rsp_buf_init(&b, 4);
  CHECK(!rsp_cli_read_file(&c, "/nonexistent/file", &b));
  CHECK(!rsp_cli_read_file(&c, "/proc/self/status", &b)); /* larger than the cap */
  rsp_buf_free(&b);
  rsp_buf_init(&b, 1 << 20);
  CHECK(rsp_cli_read_file(&c, "/proc/self/status", &b) && b.len > 0);
  rsp_buf_free(&b);
}

int main(int argc, char **argv) {
  static const struct rsp_test_case cases[] = {T(commands_and_options), T(refusals), T(helpers)};
  return rsp_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
