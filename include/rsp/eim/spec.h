/* openrsp eIM: operation specs. An operator orders an operation for a device as a JSON object
 * (the "spec", kept as text in the store's operations.spec); when the device polls, the eIM
 * turns it into the message it hands out: an EuiccPackage (PSMOs or eCOs, then signed with the
 * counter), an IpaEuiccDataRequest or a ProfileDownloadTriggerRequest.
 *
 * The JSON forms (also in docs/eim.md and the OpenAPI document docs/eim-api.yaml). ICCIDs are
 * 18..20 digits (an odd count is F-padded), hex strings are upper or lower case, certificates and
 * keys are base64 DER:
 *
 *   {"kind": "psmo", "psmos": [PSMO, ...]}            1..16 operations, executed in order
 *     {"enable": {"iccid": "...", "rollback": false}}
 *     {"disable": {"iccid": "..."}}
 *     {"delete": {"iccid": "..."}}
 *     {"listProfileInfo": {}}  or  {"listProfileInfo": {"iccid": "...", "tags": "5A9F70"}}
 *       (or "isdpAid": hex, or "profileClass": 0..2, instead of "iccid")
 *     {"getRAT": {}}
 *     {"configureImmediateEnable": {"enable": true, "smdpAddress": "..."}}  (address optional)
 *     {"setFallbackAttribute": {"iccid": "..."}}
 *     {"unsetFallbackAttribute": {}}
 *     {"setDefaultDpAddress": {"address": "..."}}           ("" clears it)
 *   {"kind": "eco", "ecos": [ECO, ...]}               1..16 operations
 *     {"addEim": EIMCONFIG}   {"updateEim": EIMCONFIG}   {"deleteEim": {"eimId": "..."}}
 *     {"listEim": {}}
 *     EIMCONFIG: {"eimId": "...", "fqdn": "...", "idType": 1..3, "counter": N,
 *                 "certificate": b64 | "publicKey": b64,             (package signing key)
 *                 "tlsCertificate": b64 | "tlsPublicKey": b64,       (trustedPublicKeyDataTls)
 *                 "supportedProtocols": hex, "indirect": true}       (all but eimId optional)
 *   {"kind": "euicc_data", "tags": "BF20BF22A5A6A2"}  IpaEuiccDataRequest tag list (hex)
 *   {"kind": "download", "activationCode": "1$SMDP$MATCHINGID[$OID[$1]]"}
 *   {"kind": "download", "defaultSmdp": true}          the card's default SM-DP+
 *   {"kind": "download", "smds": true}                 the card's root SM-DS
 * Unknown keys are refused (a typo must not silently change an operation). */
#ifndef RSP_EIM_SPEC_H
#define RSP_EIM_SPEC_H

#include <stddef.h>

#include "rsp/core/arena.h"
#include "rsp/core/error.h"
#include "rsp/eim/store.h"
#include "rsp/msg/asn1.h"

#define RSP_EIM_SPEC_MAX_OPS 16
#define RSP_EIM_SPEC_MAX_TEXT 65536 /* the store's cap on operations.spec */

/* A parsed spec: one of the three messages, built in the arena. */
struct rsp_eim_spec {
  enum rsp_eim_op_kind kind;
  struct rsp_msg_euicc_package *package;                    /* psmo, eco */
  struct rsp_msg_ipa_euicc_data_request *data_request;      /* euicc_data */
  struct rsp_msg_profile_download_trigger_request *trigger; /* download */
};

/* Parses and validates `json` (len bytes, not NUL-terminated). On error, RSP_E_JSON_INVALID or
 * RSP_E_JSON_MISSING (or RSP_E_INVALID_ARG) and `why` (if not NULL) says what and where, e.g.
 * "psmos[1].enable.iccid: 17 digits, 18 to 20 expected". The message structs live in the arena;
 * the eimTransactionId of data requests and triggers is left empty for the caller. */
rsp_err_t rsp_eim_spec_parse(const char *json, size_t len, struct rsp_arena *a,
                             struct rsp_eim_spec *out, char *why, size_t why_size);

/* A one-line JSON summary of an EuiccPackageResult / IpaEuiccDataResponse /
 * ProfileDownloadTriggerResult (DER of the EimPackageResult element) for the operator, e.g.
 * {"result":"ok","operations":[{"enable":"ok"},{"listProfileInfo":{"profiles":[...]}}]}; the text
 * in *out is allocated with rsp_malloc (free it with rsp_free, which is free() unless allocation
 * hooks are installed). The forms are listed in docs/eim.md, "Operation specs". */
rsp_err_t rsp_eim_result_summary(const uint8_t *der, size_t len, char **out);

#endif
