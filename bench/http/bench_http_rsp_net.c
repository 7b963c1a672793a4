/* bench/http: lib/net's own server (libevent underneath), to show what our layer costs over the
 * bare libevent candidate: the handler call, the copied headers and the capped body buffer.
 * The access log is off (log level warn), as its cost depends on the sink. TLS resumption cannot
 * be switched off through lib/net, so run.sh skips the full-handshake load for it.
 * Usage: bench_http_rsp_net cert.pem key.pem port [threads]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/log.h"
#include "rsp/net/http.h"
#include "bench_common.h"

static rsp_err_t on_request(void *ctx, const struct rsp_net_request *req,
                            struct rsp_net_response *res) {
  if (strcmp(req->method, "POST") != 0) return rsp_net_response_set(res, 405, NULL, NULL, 0);
  return rsp_net_response_set(res, 200, "application/json", bench_body, BENCH_BODY_LEN);
}

int main(int argc, char **argv) {
  struct bench_args a;
  struct rsp_net_server *srv = NULL;
  struct rsp_net_server_stats st;
  sigset_t stop;
  int sig;
  bench_args_parse(argc, argv, &a);
  bench_body_init();
  rsp_log_set_level(RSP_LOG_WARN);
  struct rsp_net_server_options o = {.port = (uint16_t)a.port,
                                     .cert_file = a.cert,
                                     .key_file = a.key,
                                     .threads = (unsigned)a.threads,
                                     .handler = on_request};
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  if (rsp_net_server_new(&o, &srv) != RSP_OK || rsp_net_server_start(srv) != RSP_OK) {
    fprintf(stderr, "bench_http_rsp_net: cannot start\n");
    return 1;
  }
  printf("port %u\n", (unsigned)rsp_net_server_port(srv));
  fflush(stdout);
  sigwait(&stop, &sig);
  rsp_net_server_stats(srv, &st);
  fprintf(stderr, "tls handshakes %lu resumed %lu\n", st.handshakes, st.resumed);
  rsp_net_server_destroy(srv);
  return 0;
}
