/* Test support: the HTTPS test eIM (see esipa_server.h). */
#include "esipa_server.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/arena.h"
#include "rsp/der/der.h"
#include "rsp/eim/relay.h"
#include "rsp/msg/msg.h"
#include "rsp/msg/tags.h"
#include "rsp/net/http.h"
#include "test.h"

#define ASN1_TYPE "application/x-gsma-rsp-asn1"
#define MAX_ACKS 64

struct rsp_test_esipa {
  struct rsp_net_server *srv;
  pthread_mutex_t mu;
  struct rsp_buf queue[RSP_TEST_ESIPA_MAX];
  size_t n_queue, next;
  struct rsp_buf results[RSP_TEST_ESIPA_MAX];
  size_t n_results;
  struct rsp_buf notifs[RSP_TEST_ESIPA_MAX];
  size_t n_notifs;
  struct rsp_test_esipa_counts counts;
  char content_type[128], admin_protocol[64], user_agent[128];
  int fail_which, fail_status;
  unsigned fail_times;
  struct rsp_eim_relay *relay;
  uint8_t eid[16];
};

static void keep(struct rsp_buf *list, size_t *n, const uint8_t *p, size_t len) {
  if (*n >= RSP_TEST_ESIPA_MAX) return;
  rsp_buf_init(&list[*n], 1 << 20);
  rsp_buf_append(&list[*n], p, len);
  (*n)++;
}

static void ack_result(const struct rsp_msg_euicc_package_result *r, int64_t *acks, size_t *n) {
  if (r && r->which == RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED && *n < MAX_ACKS)
    acks[(*n)++] = r->u.euicc_package_result_signed->euicc_package_result_data_signed->seq_number;
}

static void ack_notification(const struct rsp_msg_sgp32_pending_notification *p, int64_t *acks,
                             size_t *n) {
  if (*n >= MAX_ACKS) return;
  if (p->which == RSP_MSG_SGP32_PENDING_NOTIFICATION_OTHER_SIGNED_NOTIFICATION)
    acks[(*n)++] = p->u.other_signed_notification->tbs_other_notification->seq_number;
}

/* EimAcknowledgements for every signed result and notification in `res`. */
static rsp_err_t answer_result(const struct rsp_msg_eim_package_result *res, struct rsp_buf *out) {
  int64_t acks[MAX_ACKS];
  size_t n = 0;
  if (res->which == RSP_MSG_EIM_PACKAGE_RESULT_EUICC_PACKAGE_RESULT)
    ack_result(res->u.euicc_package_result, acks, &n);
  if (res->which == RSP_MSG_EIM_PACKAGE_RESULT_E_PR_AND_NOTIFICATIONS) {
    const struct rsp_msg_eim_package_result_e_pr_and_notifications *e =
        res->u.e_pr_and_notifications;
    ack_result(e->euicc_package_result, acks, &n);
    for (size_t i = 0; e->notification_list && i < e->notification_list->n; i++)
      ack_notification(&e->notification_list->v[i], acks, &n);
  }
  if (res->which == RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE &&
      res->u.ipa_euicc_data_response->which == RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA) {
    const struct rsp_msg_ipa_euicc_data *d = res->u.ipa_euicc_data_response->u.ipa_euicc_data;
    for (size_t i = 0; d->euicc_package_result_list && i < d->euicc_package_result_list->n; i++)
      ack_result(&d->euicc_package_result_list->v[i], acks, &n);
    for (size_t i = 0; d->notifications_list && i < d->notifications_list->n; i++)
      ack_notification(&d->notifications_list->v[i], acks, &n);
  }
  struct rsp_msg_eim_acknowledgements a = {.v = acks, .n = n};
  struct rsp_msg_provide_eim_package_result_response_empty_response empty = {0};
  struct rsp_msg_provide_eim_package_result_response r = {
      .which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EMPTY_RESPONSE,
      .u.empty_response = &empty};
  if (n) {
    r.which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EIM_ACKNOWLEDGEMENTS;
    r.u.eim_acknowledgements = &a;
  }
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE,
      .u.provide_eim_package_result_response = &r};
  return rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &m, out, NULL);
}

static rsp_err_t answer_get(struct rsp_test_esipa *s, struct rsp_arena *a, struct rsp_buf *out) {
  struct rsp_msg_get_eim_package_response g = {
      .which = RSP_MSG_GET_EIM_PACKAGE_RESPONSE_EIM_PACKAGE_ERROR, .u.eim_package_error = 1};
  if (s->next < s->n_queue) {
    struct rsp_buf *q = &s->queue[s->next++];
    void *v = NULL;
    rsp_err_t rc = rsp_msg_decode(&rsp_msgt_get_eim_package_response, q->data, q->len, a, &v, NULL);
    if (rc != RSP_OK) return rc;
    g = *(struct rsp_msg_get_eim_package_response *)v;
  }
  struct rsp_msg_esipa_message_from_eim_to_ipa m = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_GET_EIM_PACKAGE_RESPONSE,
      .u.get_eim_package_response = &g};
  return rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &m, out, NULL);
}

static rsp_err_t handle_locked(struct rsp_test_esipa *s, const struct rsp_net_request *req,
                               struct rsp_net_response *res) {
  struct rsp_arena a;
  struct rsp_msg_esipa_message_from_ipa_to_eim *m = NULL;
  struct rsp_buf out;
  s->counts.requests++;
  snprintf(s->content_type, sizeof s->content_type, "%s",
           req->content_type ? req->content_type : "");
  snprintf(s->admin_protocol, sizeof s->admin_protocol, "%s",
           req->admin_protocol ? req->admin_protocol : "");
  snprintf(s->user_agent, sizeof s->user_agent, "%s", req->user_agent ? req->user_agent : "");
  if (strcmp(req->method, "POST") != 0 || strcmp(req->path, "/gsma/rsp2/asn1") != 0 ||
      !req->content_type || strcmp(req->content_type, ASN1_TYPE) != 0) {
    s->counts.bad++;
    return rsp_net_response_set(res, strcmp(req->method, "POST") ? 405 : 415, NULL, NULL, 0);
  }
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&out, 1 << 20);
  uint8_t *copy = rsp_arena_alloc(&a, req->body_len ? req->body_len : 1);
  rsp_err_t rc = RSP_E_NOMEM;
  if (copy) {
    memcpy(copy, req->body, req->body_len);
    rc = rsp_msg_decode(&rsp_msgt_esipa_message_from_ipa_to_eim, copy, req->body_len, &a,
                        (void **)&m, NULL);
  }
  int status = 200;
  if (rc != RSP_OK) {
    s->counts.bad++;
    status = 400;
  } else if (s->fail_times && m->which == s->fail_which) {
    s->fail_times--;
    s->counts.failed++;
    status = s->fail_status;
  } else if (s->relay && rsp_eim_relay_accepts(m)) {
    struct rsp_eim_relay_device dev = {.eid = rsp_msg_slice(s->eid, 16)};
    s->counts.relayed++;
    if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA) {
      const struct rsp_msg_sgp32_pending_notification *p =
          m->u.handle_notification_esipa->u.pending_notification;
      s->counts.notifications++;
      keep(s->notifs, &s->n_notifs, p->raw.p, p->raw.len);
    }
    rc = rsp_eim_relay_handle(s->relay, &dev, m, &out);
    if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA) {
      rc = RSP_OK; /* kept here; forwarding it to its notificationAddress is the eIM's business */
      rsp_buf_reset(&out);
    }
    if (rc == RSP_OK && out.len == 0) status = 204;
  } else if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST) {
    s->counts.get_package++;
    if (m->u.get_eim_package_request->notify_state_change) s->counts.state_changes++;
    rc = answer_get(s, &a, &out);
  } else if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT) {
    const struct rsp_msg_eim_package_result *r =
        m->u.provide_eim_package_result->eim_package_result;
    s->counts.results++;
    keep(s->results, &s->n_results, r->raw.p, r->raw.len);
    rc = answer_result(r, &out);
  } else if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA &&
             m->u.handle_notification_esipa->which ==
                 RSP_MSG_HANDLE_NOTIFICATION_ESIPA_PENDING_NOTIFICATION) {
    const struct rsp_msg_sgp32_pending_notification *p =
        m->u.handle_notification_esipa->u.pending_notification;
    s->counts.notifications++;
    keep(s->notifs, &s->n_notifs, p->raw.p, p->raw.len);
    status = 204;
  } else {
    s->counts.other++;
    status = 400;
  }
  if (rc != RSP_OK && status == 200) status = 500;
  rc = status == 200 ? rsp_net_response_set(res, 200, ASN1_TYPE, out.data, out.len)
                     : rsp_net_response_set(res, status, NULL, NULL, 0);
  if (rc == RSP_OK) rc = rsp_net_response_header(res, "X-Admin-Protocol", "gsma/rsp/v2.1.0");
  rsp_buf_free(&out);
  rsp_arena_free(&a);
  return rc;
}

static rsp_err_t handle(void *ctx, const struct rsp_net_request *req,
                        struct rsp_net_response *res) {
  struct rsp_test_esipa *s = ctx;
  pthread_mutex_lock(&s->mu);
  rsp_err_t rc = handle_locked(s, req, res);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

struct rsp_test_esipa *rsp_test_esipa_start(const char *cert_pem, const char *key_pem) {
  struct rsp_test_esipa *s = rsp_calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  struct rsp_net_server_options o = {.address = "127.0.0.1",
                                     .cert_file = cert_pem,
                                     .key_file = key_pem,
                                     .log_component = "test-eim",
                                     .handler = handle,
                                     .handler_ctx = s};
  if (rsp_net_server_new(&o, &s->srv) != RSP_OK || rsp_net_server_start(s->srv) != RSP_OK) {
    rsp_test_fail(__FILE__, __LINE__, "test eIM: cannot start the HTTPS server");
    rsp_test_esipa_stop(s);
    return NULL;
  }
  return s;
}

void rsp_test_esipa_stop(struct rsp_test_esipa *s) {
  if (!s) return;
  rsp_net_server_destroy(s->srv);
  for (size_t i = 0; i < s->n_queue; i++) rsp_buf_free(&s->queue[i]);
  for (size_t i = 0; i < s->n_results; i++) rsp_buf_free(&s->results[i]);
  for (size_t i = 0; i < s->n_notifs; i++) rsp_buf_free(&s->notifs[i]);
  pthread_mutex_destroy(&s->mu);
  rsp_free(s);
}

unsigned rsp_test_esipa_port(const struct rsp_test_esipa *s) { return rsp_net_server_port(s->srv); }

void rsp_test_esipa_queue(struct rsp_test_esipa *s, const uint8_t *inner, size_t len) {
  uint8_t hdr[9];
  size_t n = rsp_der_encode_tag(RSP_TAG_GET_EIM_PACKAGE_RESPONSE, hdr);
  n += rsp_der_encode_len(len, hdr + n);
  pthread_mutex_lock(&s->mu);
  if (s->n_queue < RSP_TEST_ESIPA_MAX) {
    struct rsp_buf *q = &s->queue[s->n_queue++];
    rsp_buf_init(q, 1 << 20);
    rsp_buf_append(q, hdr, n);
    rsp_buf_append(q, inner, len);
  } else {
    rsp_test_fail(__FILE__, __LINE__, "test eIM: queue full");
  }
  pthread_mutex_unlock(&s->mu);
}

size_t rsp_test_esipa_pending(struct rsp_test_esipa *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->n_queue - s->next;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static bool copy_out(struct rsp_test_esipa *s, const struct rsp_buf *list, size_t have, size_t n,
                     struct rsp_buf *out) {
  bool ok = n < have;
  rsp_buf_reset(out);
  if (ok) rsp_buf_append(out, list[n].data, list[n].len);
  pthread_mutex_unlock(&s->mu);
  return ok;
}

bool rsp_test_esipa_result(struct rsp_test_esipa *s, size_t n, struct rsp_buf *out) {
  pthread_mutex_lock(&s->mu);
  return copy_out(s, s->results, s->n_results, n, out);
}

size_t rsp_test_esipa_n_results(struct rsp_test_esipa *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->n_results;
  pthread_mutex_unlock(&s->mu);
  return n;
}

bool rsp_test_esipa_notification(struct rsp_test_esipa *s, size_t n, struct rsp_buf *out) {
  pthread_mutex_lock(&s->mu);
  return copy_out(s, s->notifs, s->n_notifs, n, out);
}

void rsp_test_esipa_counts(struct rsp_test_esipa *s, struct rsp_test_esipa_counts *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->counts;
  pthread_mutex_unlock(&s->mu);
}

void rsp_test_esipa_last_headers(struct rsp_test_esipa *s, char content_type[128],
                                 char admin_protocol[64], char user_agent[128]) {
  pthread_mutex_lock(&s->mu);
  memcpy(content_type, s->content_type, 128);
  memcpy(admin_protocol, s->admin_protocol, 64);
  memcpy(user_agent, s->user_agent, 128);
  pthread_mutex_unlock(&s->mu);
}

void rsp_test_esipa_set_relay(struct rsp_test_esipa *s, struct rsp_eim_relay *relay,
                              const uint8_t eid[16]) {
  pthread_mutex_lock(&s->mu);
  s->relay = relay;
  memcpy(s->eid, eid, 16);
  pthread_mutex_unlock(&s->mu);
}

void rsp_test_esipa_fail(struct rsp_test_esipa *s, int which, int status, unsigned times) {
  pthread_mutex_lock(&s->mu);
  s->fail_which = which;
  s->fail_status = status;
  s->fail_times = times;
  pthread_mutex_unlock(&s->mu);
}
