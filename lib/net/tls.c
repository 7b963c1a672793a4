/* Server-side TLS for lib/net: one OpenSSL context shared by every event loop. */
#include <openssl/err.h>
#include <openssl/x509.h>

#include "rsp/core/log.h"
#include "net_internal.h"

/* Session IDs and tickets are only resumed inside the context they were made for; with client
 * certificates OpenSSL refuses resumption unless this context is set. */
static const unsigned char session_context[] = "openrsp-net";

static void log_ssl_error(const char *what, const char *file) {
  char msg[256];
  ERR_error_string_n(ERR_get_error(), msg, sizeof msg);
  RSP_LOG_E("net", "%s %s: %s", what, file ? file : "(none)", msg);
  ERR_clear_error();
}

/* Logs the alerts the server sends (a refused client certificate, an unsupported version ...),
 * which are otherwise invisible: evhttp just drops the connection. */
static void on_tls_info(const SSL *ssl, int where, int ret) {
  if ((where & SSL_CB_ALERT) && (where & SSL_CB_WRITE))
    RSP_LOG_D("net", "TLS alert sent: %s", SSL_alert_desc_string_long(ret));
}

static rsp_err_t set_client_ca(SSL_CTX *ctx, const struct rsp_net_server_options *opt) {
  STACK_OF(X509_NAME) *names = NULL;
  int mode = SSL_VERIFY_PEER;
  if (SSL_CTX_load_verify_locations(ctx, opt->client_ca_file, NULL) != 1 ||
      !(names = SSL_load_client_CA_file(opt->client_ca_file))) {
    log_ssl_error("cannot load the client CA file", opt->client_ca_file);
    return RSP_E_TLS;
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  if (opt->require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, NULL);
  return RSP_OK;
}

rsp_err_t rsp__net_tls_server_ctx(const struct rsp_net_server_options *opt, SSL_CTX **out) {
  rsp_err_t rc = RSP_E_TLS;
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    log_ssl_error("cannot create a TLS context", NULL);
    goto out;
  }
  /* brainpoolP256r1 next to the default groups: RSP certificates (server and client) may be on
   * that curve, and OpenSSL 3.0 checks an ECDSA certificate's curve against these groups. */
  if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384:P-521:brainpoolP256r1") != 1) {
    log_ssl_error("cannot set the TLS groups", NULL);
    goto out;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, opt->cert_file) != 1) {
    log_ssl_error("cannot load the certificate", opt->cert_file);
    goto out;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, opt->key_file, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    log_ssl_error("cannot load the private key (or it does not match the certificate)",
                  opt->key_file);
    goto out;
  }
  /* Resumption: a server-side session cache for TLS 1.2 session IDs, and tickets (on by
   * default in OpenSSL 3) for both versions; a polling device reconnecting skips the full
   * handshake. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_session_id_context(ctx, session_context, sizeof session_context - 1);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_info_callback(ctx, on_tls_info);
  if (opt->client_ca_file && (rc = set_client_ca(ctx, opt)) != RSP_OK) goto out;
  *out = ctx;
  ctx = NULL;
  rc = RSP_OK;
out:
  SSL_CTX_free(ctx);
  return rc;
}

bool rsp__net_tls_peer_subject(SSL *ssl, char *out, size_t size) {
  X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
  BIO *bio = NULL;
  int n;
  if (!cert || size == 0) return false;
  bio = BIO_new(BIO_s_mem());
  if (!bio || X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    BIO_free(bio);
    return false;
  }
  n = BIO_read(bio, out, (int)(size - 1));
  out[n > 0 ? n : 0] = '\0';
  BIO_free(bio);
  return true;
}
