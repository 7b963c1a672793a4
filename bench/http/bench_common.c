#include "bench_common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

char bench_body[BENCH_BODY_LEN + 1];

void bench_body_init(void) {
  /* {"padding":"xxxx...x"} padded to exactly BENCH_BODY_LEN bytes. */
  static const char head[] = "{\"padding\":\"";
  size_t n = sizeof(head) - 1;
  memcpy(bench_body, head, n);
  memset(bench_body + n, 'x', BENCH_BODY_LEN - n - 2);
  memcpy(bench_body + BENCH_BODY_LEN - 2, "\"}", 2);
  bench_body[BENCH_BODY_LEN] = '\0';
}

SSL_CTX *bench_tls_ctx(const char *cert, const char *key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    fprintf(stderr, "bench: cannot set up TLS with %s / %s\n", cert, key);
    exit(1);
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"bench", 5);
  /* run.sh measures full handshakes with resumption refused (wrk resumes when it can). */
  if (getenv("RSP_BENCH_NO_RESUME")) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  }
  return ctx;
}

int bench_listen(int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  socklen_t len = sizeof sa;
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* A peer that closes first must not kill the server with SIGPIPE. TCP_NODELAY set on the
   * listener is inherited by accepted sockets on Linux; without it a response written as two TLS
   * records (headers, body) waits for the peer's delayed ACK (40 ms). */
  signal(SIGPIPE, SIG_IGN);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
      bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    perror("bench: listen");
    exit(1);
  }
  printf("port %d\n", ntohs(sa.sin_port));
  fflush(stdout);
  return fd;
}

void bench_args_parse(int argc, char **argv, struct bench_args *a) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s cert.pem key.pem port [threads]\n", argv[0]);
    exit(2);
  }
  a->cert = argv[1];
  a->key = argv[2];
  a->port = atoi(argv[3]);
  a->threads = argc > 4 ? atoi(argv[4]) : 1;
  if (a->threads < 1 || a->threads > 64) a->threads = 1;
}

void bench_tls_stats(SSL_CTX *ctx) {
  fprintf(stderr, "tls handshakes %ld resumed %ld\n", SSL_CTX_sess_accept_good(ctx),
          SSL_CTX_sess_hits(ctx));
}
