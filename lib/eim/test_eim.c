/* eIM: an in-memory eIM for tests, on the relay (rsp/eim/test_eim.h). */
#include "rsp/eim/test_eim.h"

#include <string.h>

#include "rsp/core/log.h"
#include "rsp/msg/tags.h"

#define NO_EIM_PACKAGE_AVAILABLE 1 /* GetEimPackageResponse.eimPackageError */

void rsp_eim_test_init(struct rsp_eim_test *t, struct rsp_eim_relay *relay) {
  memset(t, 0, sizeof *t);
  t->relay = relay;
  rsp_buf_init(&t->euicc_info1, RSP_EIM_TEST_ITEM_CAP);
  rsp_buf_init(&t->euicc_info2, RSP_EIM_TEST_ITEM_CAP);
  rsp_buf_init(&t->euicc_certificate, RSP_EIM_TEST_ITEM_CAP);
  rsp_buf_init(&t->eum_certificate, RSP_EIM_TEST_ITEM_CAP);
  rsp_buf_init(&t->eid, 16);
  rsp_buf_init(&t->last_request, 4 * RSP_EIM_TEST_ITEM_CAP);
  for (size_t i = 0; i < RSP_EIM_TEST_MAX_ITEMS; i++) {
    rsp_buf_init(&t->queue[i], RSP_EIM_TEST_ITEM_CAP);
    rsp_buf_init(&t->results[i], RSP_EIM_TEST_ITEM_CAP);
    rsp_buf_init(&t->notifications[i], RSP_EIM_TEST_ITEM_CAP);
  }
  t->last_state_change_cause = -1;
}

void rsp_eim_test_free(struct rsp_eim_test *t) {
  rsp_buf_free(&t->euicc_info1);
  rsp_buf_free(&t->euicc_info2);
  rsp_buf_free(&t->euicc_certificate);
  rsp_buf_free(&t->eum_certificate);
  rsp_buf_free(&t->eid);
  rsp_buf_free(&t->last_request);
  for (size_t i = 0; i < RSP_EIM_TEST_MAX_ITEMS; i++) {
    rsp_buf_free(&t->queue[i]);
    rsp_buf_free(&t->results[i]);
    rsp_buf_free(&t->notifications[i]);
  }
}

rsp_err_t rsp_eim_test_queue(struct rsp_eim_test *t, const uint8_t *der, size_t len) {
  if (t->queued == RSP_EIM_TEST_MAX_ITEMS) return RSP_E_BUF_CAP;
  return rsp_buf_append(&t->queue[t->queued++], der, len);
}

static rsp_err_t keep(struct rsp_buf *list, size_t *n, struct rsp_slice s) {
  if (*n == RSP_EIM_TEST_MAX_ITEMS) return RSP_E_BUF_CAP;
  return rsp_buf_append(&list[(*n)++], s.p, s.len);
}

static rsp_err_t learn(struct rsp_buf *b, struct rsp_slice s) {
  if (!s.p) return RSP_OK;
  rsp_buf_reset(b);
  return rsp_buf_append(b, s.p, s.len);
}

static struct rsp_slice view(const struct rsp_buf *b) {
  return b->len ? rsp_msg_slice(b->data, b->len) : rsp_msg_slice(NULL, 0);
}

/* What IpaEuiccData tells the eIM about the device (notes 3.5). */
static rsp_err_t learn_device(struct rsp_eim_test *t, const struct rsp_msg_eim_package_result *r) {
  if (r->which != RSP_MSG_EIM_PACKAGE_RESULT_IPA_EUICC_DATA_RESPONSE ||
      r->u.ipa_euicc_data_response->which != RSP_MSG_IPA_EUICC_DATA_RESPONSE_IPA_EUICC_DATA)
    return RSP_OK;
  const struct rsp_msg_ipa_euicc_data *d = r->u.ipa_euicc_data_response->u.ipa_euicc_data;
  rsp_err_t rc = RSP_OK;
  if (d->euicc_info1) rc = learn(&t->euicc_info1, d->euicc_info1->raw);
  if (rc == RSP_OK && d->euicc_info2) rc = learn(&t->euicc_info2, d->euicc_info2->raw);
  if (rc == RSP_OK) rc = learn(&t->euicc_certificate, d->euicc_certificate);
  if (rc == RSP_OK) rc = learn(&t->eum_certificate, d->eum_certificate);
  return rc;
}

static rsp_err_t get_package(struct rsp_eim_test *t,
                             const struct rsp_msg_get_eim_package_request *q,
                             struct rsp_buf *resp) {
  struct rsp_der_writer w;
  rsp_err_t rc = learn(&t->eid, q->eid_value);
  t->last_notify_state_change = q->notify_state_change;
  t->last_state_change_cause = q->state_change_cause.present ? q->state_change_cause.v : -1;
  if (rc != RSP_OK) return rc;
  rsp_der_writer_init(&w, resp);
  rsp_der_begin(&w, RSP_TAG_GET_EIM_PACKAGE_RESPONSE); /* [79] CHOICE: explicit around the item */
  if (t->served < t->queued) {
    const struct rsp_buf *p = &t->queue[t->served++];
    rsp_der_put_raw(&w, p->data, p->len);
  } else {
    rsp_der_put_int64(&w, RSP_DER_INTEGER, NO_EIM_PACKAGE_AVAILABLE);
  }
  rsp_der_end(&w);
  return rsp_der_writer_finish(&w);
}

static rsp_err_t provide(struct rsp_eim_test *t, const struct rsp_msg_provide_eim_package_result *p,
                         struct rsp_buf *resp) {
  struct rsp_msg_provide_eim_package_result_response_empty_response e = {0};
  struct rsp_msg_provide_eim_package_result_response r = {
      .which = RSP_MSG_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE_EMPTY_RESPONSE, .u.empty_response = &e};
  struct rsp_msg_esipa_message_from_eim_to_ipa a = {
      .which = RSP_MSG_ESIPA_MESSAGE_FROM_EIM_TO_IPA_PROVIDE_EIM_PACKAGE_RESULT_RESPONSE,
      .u.provide_eim_package_result_response = &r};
  rsp_err_t rc = keep(t->results, &t->nresults, p->eim_package_result->raw);
  if (rc == RSP_OK) rc = learn_device(t, p->eim_package_result);
  if (rc == RSP_OK) rc = rsp_msg_encode(&rsp_msgt_esipa_message_from_eim_to_ipa, &a, resp, NULL);
  return rc;
}

/* A download request: to the relay with what the eIM knows of the device. */
static rsp_err_t relay(struct rsp_eim_test *t,
                       const struct rsp_msg_esipa_message_from_ipa_to_eim *m,
                       struct rsp_buf *resp) {
  struct rsp_eim_relay_device dev = t->device;
  dev.eid = view(&t->eid);
  dev.euicc_info1 = view(&t->euicc_info1);
  dev.euicc_info2 = view(&t->euicc_info2);
  dev.euicc_certificate = view(&t->euicc_certificate);
  dev.eum_certificate = view(&t->eum_certificate);
  if (!t->relay) return RSP_E_UNSUPPORTED;
  rsp_err_t rc = rsp_eim_relay_handle(t->relay, &dev, m, resp);
  if (rc != RSP_OK && m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA) {
    /* not forwardable: the eIM keeps it (HandleNotificationEsipa has no answer) */
    rsp_log(RSP_LOG_INFO, "eim", "test eIM: notification kept: %s", rsp_strerror(rc));
    rc = keep(t->notifications, &t->nnotifications, m->u.handle_notification_esipa->raw);
  }
  return rc;
}

rsp_err_t rsp_eim_test_exchange(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp) {
  struct rsp_eim_test *t = ctx;
  struct rsp_arena a;
  struct rsp_msg_esipa_message_from_ipa_to_eim *m = NULL;
  struct rsp_msg_diag diag;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_reset(&t->last_request);
  rsp_err_t rc = rsp_buf_append(&t->last_request, req, len);
  if (rc == RSP_OK)
    rc = rsp_msg_decode(&rsp_msgt_esipa_message_from_ipa_to_eim, t->last_request.data,
                        t->last_request.len, &a, (void **)&m, &diag);
  if (rc != RSP_OK) {
    rsp_log(RSP_LOG_WARN, "eim", "test eIM: request not understood: %s at %s", rsp_err_name(rc),
            diag.path);
    goto out;
  }
  if (m->which > 0 && m->which < RSP_EIM_TEST_KINDS) t->seen[m->which]++;
  if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_GET_EIM_PACKAGE_REQUEST)
    rc = get_package(t, m->u.get_eim_package_request, resp);
  else if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_PROVIDE_EIM_PACKAGE_RESULT)
    rc = provide(t, m->u.provide_eim_package_result, resp);
  else if (rsp_eim_relay_accepts(m))
    rc = relay(t, m, resp);
  else if (m->which == RSP_MSG_ESIPA_MESSAGE_FROM_IPA_TO_EIM_HANDLE_NOTIFICATION_ESIPA)
    rc =
        keep(t->results, &t->nresults,
             m->u.handle_notification_esipa->u.provide_eim_package_result->eim_package_result->raw);
  else
    rc = RSP_E_UNSUPPORTED;
out:
  rsp_arena_free(&a);
  return rc;
}
