/* bench/coap's load client (docs/benchmarks.md, driven by run.sh): ESipa polls over CoAP/DTLS-PSK
 * with lib/net's CoAP client, the same client against rsp-eim and against libcoap's coap-server.
 *
 *   bench_coap once URL PSK_IDENTITY PSK_HEX REQUEST_FILE [ANSWER_OUT]
 *       one POST; prints the code and the answer's length, writes the answer; exit 1 on failure
 *   bench_coap poll URL PSK_IDENTITY PSK_HEX REQUEST_FILE SECONDS CLIENTS
 *       CLIENTS processes, each with its own DTLS session, POST the request back to back for
 *       SECONDS; prints "polls N per_s R errors E"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rsp/core/hex.h"
#include "rsp/core/log.h"
#include "rsp/net/coap.h"

#define MAX_REQUEST 65536
#define MAX_CLIENTS 64

struct job {
  const char *url, *identity;
  uint8_t key[RSP_NET_COAP_PSK_KEY_MAX];
  size_t key_len;
  uint8_t request[MAX_REQUEST];
  size_t request_len;
};

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool load_job(struct job *j, char **argv) {
  FILE *f = fopen(argv[5], "rb");
  j->url = argv[2];
  j->identity = argv[3];
  if (!f || rsp_hex_decode(argv[4], j->key, sizeof j->key, &j->key_len) != RSP_OK) {
    fprintf(stderr, "bench_coap: bad key or request file %s\n", argv[5]);
    if (f) fclose(f);
    return false;
  }
  j->request_len = fread(j->request, 1, sizeof j->request, f);
  fclose(f);
  return j->request_len > 0;
}

static struct rsp_net_coap_client *client_for(const struct job *j) {
  struct rsp_net_coap_client *c = NULL;
  struct rsp_net_coap_client_options o = {.url = j->url,
                                          .psk_identity = j->identity,
                                          .psk_key = j->key,
                                          .psk_key_len = j->key_len,
                                          .timeout_ms = 5000};
  return rsp_net_coap_client_new(&o, &c) == RSP_OK ? c : NULL;
}

static int run_once(const struct job *j, const char *out_path) {
  struct rsp_net_coap_client *c = client_for(j);
  struct rsp_buf answer;
  int code = 0;
  rsp_buf_init(&answer, 1 << 20);
  rsp_err_t rc = c ? rsp_net_coap_client_post(c, j->request, j->request_len, &answer, &code)
                   : RSP_E_INVALID_ARG;
  if (rc == RSP_OK) printf("code %d.%02d answer %zu\n", code / 100, code % 100, answer.len);
  if (rc == RSP_OK && out_path) {
    FILE *f = fopen(out_path, "wb");
    if (!f || fwrite(answer.data, 1, answer.len, f) != answer.len) rc = RSP_E_IO;
    if (f) fclose(f);
  }
  rsp_buf_free(&answer);
  rsp_net_coap_client_destroy(c);
  return rc == RSP_OK && code / 100 == 2 ? 0 : 1;
}

/* One client process: polls until the deadline, then writes "polls errors" to fd. */
static void client_main(const struct job *j, double seconds, int fd) {
  struct rsp_net_coap_client *c = client_for(j);
  struct rsp_buf answer;
  unsigned long polls = 0, errors = 0;
  char line[64];
  rsp_buf_init(&answer, 1 << 20);
  for (double end = now_s() + seconds; c && now_s() < end;) {
    int code = 0;
    rsp_buf_reset(&answer);
    if (rsp_net_coap_client_post(c, j->request, j->request_len, &answer, &code) == RSP_OK &&
        code / 100 == 2)
      polls++;
    else
      errors++;
  }
  int n = snprintf(line, sizeof line, "%lu %lu\n", polls, c ? errors : 1);
  if (write(fd, line, (size_t)n) != n) errors++;
  rsp_buf_free(&answer);
  rsp_net_coap_client_destroy(c);
}

static int run_poll(const struct job *j, double seconds, int clients) {
  int fds[2];
  unsigned long polls = 0, errors = 0, p, e;
  if (clients < 1 || clients > MAX_CLIENTS || pipe(fds) != 0) return 2;
  double t0 = now_s();
  for (int i = 0; i < clients; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      client_main(j, seconds, fds[1]);
      _exit(0);
    }
  }
  close(fds[1]);
  FILE *in = fdopen(fds[0], "r");
  while (in && fscanf(in, "%lu %lu", &p, &e) == 2) {
    polls += p;
    errors += e;
  }
  if (in) fclose(in);
  while (wait(NULL) > 0) {
  }
  double elapsed = now_s() - t0;
  printf("polls %lu per_s %.0f errors %lu\n", polls, (double)polls / elapsed, errors);
  return 0;
}

int main(int argc, char **argv) {
  static struct job j;
  rsp_log_set_level(RSP_LOG_ERROR);
  if (argc >= 6 && !strcmp(argv[1], "once") && load_job(&j, argv))
    return run_once(&j, argc > 6 ? argv[6] : NULL);
  if (argc == 8 && !strcmp(argv[1], "poll") && load_job(&j, argv))
    return run_poll(&j, atof(argv[6]), atoi(argv[7]));
  fprintf(stderr, "usage: bench_coap once URL PSK_IDENTITY PSK_HEX REQUEST_FILE [ANSWER_OUT]\n"
                  "       bench_coap poll URL PSK_IDENTITY PSK_HEX REQUEST_FILE SECONDS CLIENTS\n");
  return 2;
}
