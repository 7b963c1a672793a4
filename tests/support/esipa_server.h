/* openrsp test support: a test eIM reachable over HTTPS (ESipa, ASN.1 binding) on 127.0.0.1,
 * running in the test process on lib/net's server. It serves queued, prepared packages to
 * GetEimPackage, records what the IPA sends (eIM package results, notifications, the request
 * headers), acknowledges signed results, and can be told to fail the next calls of a function.
 * Thread-safe: the server's loop thread and the test's thread share it under a mutex. */
#ifndef RSP_TEST_ESIPA_SERVER_H
#define RSP_TEST_ESIPA_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/msg/asn1.h"

#define RSP_TEST_ESIPA_MAX 64

struct rsp_test_esipa;

struct rsp_test_esipa_counts {
  unsigned requests;      /* every request the handler saw */
  unsigned get_package;   /* GetEimPackage */
  unsigned results;       /* ProvideEimPackageResult accepted */
  unsigned notifications; /* HandleNotification */
  unsigned other;         /* any other ESipa function (answered 400) */
  unsigned relayed;       /* download requests handed to the relay */
  unsigned failed;        /* requests failed on purpose */
  unsigned bad;           /* malformed requests, wrong method/content type (answered 4xx) */
  unsigned state_changes; /* GetEimPackage carrying notifyStateChange */
};

/* Starts on 127.0.0.1, an ephemeral port, with the TLS certificate and key (PEM files). */
struct rsp_test_esipa *rsp_test_esipa_start(const char *cert_pem, const char *key_pem);
void rsp_test_esipa_stop(struct rsp_test_esipa *s); /* NULL-safe */
unsigned rsp_test_esipa_port(const struct rsp_test_esipa *s);

/* Queues a GetEimPackageResponse carrying `inner` (a BF51, BF52 or BF54 element, DER). */
void rsp_test_esipa_queue(struct rsp_test_esipa *s, const uint8_t *inner, size_t len);
/* How many queued packages have not been handed out yet. */
size_t rsp_test_esipa_pending(struct rsp_test_esipa *s);

/* The n-th EimPackageResult received (DER copy into out); false when there is none. */
bool rsp_test_esipa_result(struct rsp_test_esipa *s, size_t n, struct rsp_buf *out);
size_t rsp_test_esipa_n_results(struct rsp_test_esipa *s);
/* The n-th PendingNotification received through HandleNotification (DER). */
bool rsp_test_esipa_notification(struct rsp_test_esipa *s, size_t n, struct rsp_buf *out);
void rsp_test_esipa_counts(struct rsp_test_esipa *s, struct rsp_test_esipa_counts *out);
/* Header values of the last request ("" when absent); copy is NUL-terminated. */
void rsp_test_esipa_last_headers(struct rsp_test_esipa *s, char content_type[128],
                                 char admin_protocol[64], char user_agent[128]);

/* Download requests (InitiateAuthentication, AuthenticateClient, GetBoundProfilePackage,
 * CancelSession, HandleNotification: indirect download) go to `relay` (lib/eim) as coming from the
 * device `eid`; without a relay they are answered 400. The relay stays the caller's. */
struct rsp_eim_relay;
void rsp_test_esipa_set_relay(struct rsp_test_esipa *s, struct rsp_eim_relay *relay,
                              const uint8_t eid[16]);

/* The next `times` requests for ESipa function `which` (RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_*)
 * are answered with HTTP `status` (and no body) and have no effect. */
void rsp_test_esipa_fail(struct rsp_test_esipa *s, int which, int status, unsigned times);

#endif
