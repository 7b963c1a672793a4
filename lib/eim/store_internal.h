/* lib/eim internals shared by store.c (the interface: argument checks, names, the state machine,
 * the delivery decision) and the backends (store_sqlite.c). */
#ifndef RSP_EIM_STORE_INTERNAL_H
#define RSP_EIM_STORE_INTERNAL_H

#include "rsp/core/log.h"
#include "rsp/eim/store.h"

#define RSP__EIM_COMP "eim"

/* Checks that `package` is what an operation of `kind` for device (eid, eim_id) may hand out:
 * one DER element of the kind's message (EuiccPackageRequest BF51 for psmo and eco with the
 * matching list, IpaEuiccDataRequest BF52, ProfileDownloadTriggerRequest BF54), whose eidValue,
 * eimId and counterValue (BF51) and eimTransactionId are `eid`, `eim_id`, `counter` and `txid`.
 * RSP_E_INVALID_ARG (logged) when it is not. Backends call it inside their transaction, once they
 * read the operation and its device. */
rsp_err_t rsp__eim_package_check(enum rsp_eim_op_kind kind, const char *eid, const char *eim_id,
                                 struct rsp_slice package, int64_t counter, struct rsp_slice txid);

/* Names as stored (and their reverse): profile states and classes, notification kinds. */
const char *rsp__eim_profile_state_name(enum rsp_eim_profile_state s);
enum rsp_eim_profile_state rsp__eim_profile_state_parse(const char *name);
const char *rsp__eim_profile_class_name(int profile_class); /* NULL for -1 / unknown */
int rsp__eim_profile_class_parse(const char *name);         /* -1 when NULL or unknown */
enum rsp_eim_notification_kind rsp__eim_notification_kind_parse(const char *name);

#endif
