/* bench/http: what every candidate server shares (test-only code, never linked into lib/).
 *
 * Each candidate answers any POST with the same 1 kB JSON body, over HTTPS with OpenSSL, TLS 1.2+,
 * on 127.0.0.1. The listening socket, the TLS context and the response body are made here so the
 * servers differ only in their HTTP library.
 */
#ifndef RSP_BENCH_HTTP_COMMON_H
#define RSP_BENCH_HTTP_COMMON_H

#include <stddef.h>

#include <openssl/ssl.h>

/* The response body: a JSON object of exactly BENCH_BODY_LEN bytes. */
#define BENCH_BODY_LEN 1024
extern char bench_body[BENCH_BODY_LEN + 1];
void bench_body_init(void);

/* Server TLS context: cert/key PEM, TLS 1.2 minimum, server session cache and tickets on, or both
 * off when RSP_BENCH_NO_RESUME is set in the environment. */
SSL_CTX *bench_tls_ctx(const char *cert, const char *key);

/* Non-blocking listening socket on 127.0.0.1:port (0 = ephemeral); prints "port N" on stdout. */
int bench_listen(int port);

/* Parses "cert key port [threads]"; exits with a usage message when wrong. */
struct bench_args {
  const char *cert, *key;
  int port, threads;
};
void bench_args_parse(int argc, char **argv, struct bench_args *a);

/* Prints how many TLS handshakes the context accepted and how many were resumptions. */
void bench_tls_stats(SSL_CTX *ctx);

#endif
