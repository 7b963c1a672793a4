/* What the CoAP server and client share: libcoap's start-up and log, addresses, the PSK file. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coap_internal.h"
#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/core/log.h"

#define PSK_LINE_MAX 512

static pthread_once_t coap_once = PTHREAD_ONCE_INIT;

/* libcoap's messages end with a newline; rsp_log adds its own. */
static void coap_log_to_rsp(coap_log_t level, const char *message) {
  char text[512];
  size_t n = strcspn(message, "\n");
  enum rsp_log_level l = level <= LOG_ERR       ? RSP_LOG_ERROR
                         : level <= LOG_WARNING ? RSP_LOG_WARN
                         : level <= LOG_INFO    ? RSP_LOG_INFO
                                                : RSP_LOG_DEBUG;
  snprintf(text, sizeof text, "%.*s", (int)n, message);
  rsp_log(l, "libcoap", "%s", text);
}

static void coap_init_once(void) {
  coap_startup();
  coap_set_log_handler(coap_log_to_rsp);
  /* libcoap logs every dropped DTLS record at LOG_WARNING; ours are the access log and the
   * failures the callers see, so only its errors are kept. */
  coap_set_log_level(getenv("RSP_COAP_DEBUG") ? LOG_DEBUG : LOG_ERR);
  coap_dtls_set_log_level(getenv("RSP_COAP_DEBUG") ? LOG_DEBUG : LOG_ERR);
}

void rsp__net_coap_init(void) { pthread_once(&coap_once, coap_init_once); }

rsp_err_t rsp__net_coap_resolve(const char *host, uint16_t port, bool numeric,
                                coap_address_t *out) {
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM,
                           .ai_flags = numeric ? AI_NUMERICHOST | AI_PASSIVE : 0};
  struct addrinfo *ai = NULL;
  int err = getaddrinfo(host, NULL, &hints, &ai);
  if (err != 0 || !ai || ai->ai_addrlen > sizeof out->addr) {
    RSP_LOG_E("coap", "cannot resolve %s: %s", host, err ? gai_strerror(err) : "no address");
    if (ai) freeaddrinfo(ai);
    return numeric ? RSP_E_INVALID_ARG : RSP_E_NET;
  }
  /* An IPv4 address first when a name has both: "localhost" is ::1 and 127.0.0.1, and servers
   * listen on 127.0.0.1 by default. */
  const struct addrinfo *pick = ai;
  for (const struct addrinfo *p = ai; p; p = p->ai_next)
    if (p->ai_family == AF_INET) {
      pick = p;
      break;
    }
  coap_address_init(out);
  memcpy(&out->addr, pick->ai_addr, pick->ai_addrlen);
  out->size = pick->ai_addrlen;
  coap_address_set_port(out, port);
  freeaddrinfo(ai);
  return RSP_OK;
}

void rsp__net_coap_code_text(int code, char out[8]) {
  snprintf(out, 8, "%d.%02d", (code / 100) % 10, code % 100);
}

/* ---- the PSK file ---------------------------------------------------------------------------- */

/* "identity hexkey" into `psk`; false on any malformed part. */
static bool parse_psk_line(char *p, struct rsp_net_coap_psk *psk) {
  char *id = strtok(p, " \t"), *hex = strtok(NULL, " \t"), *extra = strtok(NULL, " \t");
  if (!id || !hex || extra || strlen(id) > RSP_NET_COAP_PSK_IDENTITY_MAX) return false;
  memset(psk, 0, sizeof *psk);
  snprintf(psk->identity, sizeof psk->identity, "%s", id);
  return rsp_hex_decode(hex, psk->key, sizeof psk->key, &psk->key_len) == RSP_OK && psk->key_len;
}

static rsp_err_t psk_file_check(FILE *f, const char *path) {
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    RSP_LOG_E("coap", "PSK file %s: %s", path, strerror(errno));
    return RSP_E_IO;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    RSP_LOG_E("coap", "PSK file %s is open to group or others (mode %03o): chmod 600 it", path,
              (unsigned)(st.st_mode & 0777));
    return RSP_E_IO;
  }
  return RSP_OK;
}

static rsp_err_t psk_read_lines(FILE *f, const char *path, struct rsp_net_coap_psk *t, size_t *n) {
  char line[PSK_LINE_MAX];
  int no = 0;
  while (fgets(line, sizeof line, f)) {
    no++;
    line[strcspn(line, "\r\n#")] = '\0';
    if (line[strspn(line, " \t")] == '\0') continue;
    if (*n >= RSP_NET_COAP_MAX_PSKS || !parse_psk_line(line, &t[*n])) {
      RSP_LOG_E("coap",
                "PSK file %s, line %d: not 'identity hexkey' (identity up to %d, key 1 to %d "
                "bytes, at most %d lines)",
                path, no, RSP_NET_COAP_PSK_IDENTITY_MAX, RSP_NET_COAP_PSK_KEY_MAX,
                RSP_NET_COAP_MAX_PSKS);
      return RSP_E_INVALID_ARG;
    }
    (*n)++;
  }
  return RSP_OK;
}

rsp_err_t rsp_net_coap_psk_load(const char *path, struct rsp_net_coap_psk **out, size_t *n) {
  rsp_err_t rc = RSP_E_INVALID_ARG;
  struct rsp_net_coap_psk *t = NULL;
  FILE *f = NULL;
  if (!path || !out || !n) goto out;
  *n = 0;
  rc = RSP_E_IO;
  if (!(f = fopen(path, "r"))) {
    RSP_LOG_E("coap", "PSK file %s: %s", path, strerror(errno));
    goto out;
  }
  if ((rc = psk_file_check(f, path)) != RSP_OK) goto out;
  rc = RSP_E_NOMEM;
  if (!(t = rsp_calloc(RSP_NET_COAP_MAX_PSKS, sizeof *t))) goto out;
  if ((rc = psk_read_lines(f, path, t, n)) != RSP_OK) goto out;
  if (*n == 0) {
    RSP_LOG_E("coap", "PSK file %s has no key", path);
    rc = RSP_E_INVALID_ARG;
    goto out;
  }
  *out = t;
  t = NULL;
out:
  if (f) fclose(f);
  if (t) {
    memset(t, 0, RSP_NET_COAP_MAX_PSKS * sizeof *t);
    rsp_free(t);
  }
  return rc;
}
