/* openrsp eIM: an in-memory eIM behind the IPA's ESipa port, for tests (and the fleet simulator)
 * built on the relay.
 *
 * It serves queued eIM packages to GetEimPackageRequest (then noEimPackageAvailable), keeps every
 * EimPackageResult the IPA provides, learns the device from IpaEuiccDataResponse (euiccInfo1/2,
 * the certificates: what minimizeEsipaBytes needs), hands the download requests to a relay
 * (rsp/eim/relay.h) and keeps other notifications. Its exchange function has the shape of
 * struct rsp_ipa_esipa_ops.exchange:
 *
 *   static const struct rsp_ipa_esipa_ops ops = {"test-eim", rsp_eim_test_exchange};
 *   rsp_ipa_init(&ipa, &card, &ops, eim);
 *
 * No transport, no persistence; one thread. */
#ifndef RSP_EIM_TEST_EIM_H
#define RSP_EIM_TEST_EIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/eim/relay.h"

#define RSP_EIM_TEST_MAX_ITEMS 32 /* queued packages, kept results, kept notifications */
#define RSP_EIM_TEST_ITEM_CAP (1u << 20)

/* Requests seen, by EsipaMessageFromIpaToEim alternative (1-based `which`). */
#define RSP_EIM_TEST_KINDS 9

struct rsp_eim_test {
  struct rsp_eim_relay *relay; /* borrowed; NULL: download requests are refused (unsupported) */
  struct rsp_eim_relay_device device; /* what the eIM knows; the slices point into the bufs below */
  struct rsp_buf euicc_info1, euicc_info2, euicc_certificate, eum_certificate, eid;
  struct rsp_buf queue[RSP_EIM_TEST_MAX_ITEMS]; /* BF51 / BF52 / BF54, served in order */
  size_t queued, served;
  struct rsp_buf results[RSP_EIM_TEST_MAX_ITEMS]; /* EimPackageResult TLVs, as received */
  size_t nresults;
  struct rsp_buf notifications[RSP_EIM_TEST_MAX_ITEMS]; /* not taken by the relay */
  size_t nnotifications;
  unsigned seen[RSP_EIM_TEST_KINDS];
  struct rsp_buf last_request; /* the last EsipaMessageFromIpaToEim, as received */
  bool last_notify_state_change;
  int64_t last_state_change_cause; /* -1: none */
};

/* Cannot fail; `relay` may be NULL. */
void rsp_eim_test_init(struct rsp_eim_test *t, struct rsp_eim_relay *relay);
void rsp_eim_test_free(struct rsp_eim_test *t); /* idempotent */
/* Queues one eIM package (EuiccPackageRequest, IpaEuiccDataRequest or
 * ProfileDownloadTriggerRequest, complete DER). */
rsp_err_t rsp_eim_test_queue(struct rsp_eim_test *t, const uint8_t *der, size_t len);
/* The ESipa port: one EsipaMessageFromIpaToEim in, the answer appended to resp. */
rsp_err_t rsp_eim_test_exchange(void *ctx, const uint8_t *req, size_t len, struct rsp_buf *resp);

#endif
