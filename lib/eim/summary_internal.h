/* lib/eim internals: the operator's summary of a result (summary.c), shared by the public
 * rsp_eim_result_summary (spec.h) and the ESipa service, which also needs the verdict (done or
 * failed, and why) to record the result in the store. */
#ifndef RSP_EIM_SUMMARY_INTERNAL_H
#define RSP_EIM_SUMMARY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "rsp/core/error.h"
#include "rsp/msg/asn1.h"

#define RSP__EIM_OUTCOME_ERROR_MAX 256

struct rsp__eim_outcome {
  char *summary; /* one-line JSON object (rsp_malloc'd), at most RSP_EIM_SUMMARY_MAX - 1 bytes */
  /* The result closes its operation as failed: the card refused the package (signed or unsigned
   * error), ended it early (processingTerminated), or refused one of its operations (a result
   * code other than ok); IpaEuiccDataResponseError, a download error, an installation error and
   * eimPackageResultResponseError likewise. */
  bool failed;
  char error[RSP__EIM_OUTCOME_ERROR_MAX]; /* why, when failed: "enable: iccidOrAidNotFound" */
};

void rsp__eim_outcome_free(struct rsp__eim_outcome *o); /* NULL-safe, idempotent */

/* One EuiccPackageResult (BF51); `notifications` (the ePRAndNotifications list length, or 0) is
 * reported alongside. */
rsp_err_t rsp__eim_summarize_epr(const struct rsp_msg_euicc_package_result *r, size_t notifications,
                                 struct rsp__eim_outcome *o);
/* Any EimPackageResult alternative. */
rsp_err_t rsp__eim_summarize(const struct rsp_msg_eim_package_result *r,
                             struct rsp__eim_outcome *o);

/* The ASN.1 name of a result code, e.g. ("EuiccPackageErrorCode", 4) -> "replayError"; NULL when
 * the value has no name in that production. */
const char *rsp__eim_code_name(const char *production, int64_t v);

#endif
