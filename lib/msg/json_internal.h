/* lib/msg internals of the JSON bindings: macros that keep the field tables of es9p_json.c,
 * es2p_json.c and esipa_json.c one line per JSON key. */
#ifndef RSP_MSG_JSON_INTERNAL_H
#define RSP_MSG_JSON_INTERNAL_H

#include <stddef.h>

#include "rsp/core/log.h"
#include "rsp/der/der.h"
#include "rsp/msg/json.h"
#include "rsp/msg/tags.h"

/* Tags of the B64_TLV values that tags.h does not name because they are not productions of their
 * own: the signatures are [APPLICATION 55] OCTET STRING (serverSignature1, smdpSignature2), and
 * EimPackageResult's eimPackageResultResponseError alternative is [0] (SGP.32 v1.2). */
#define RSP__J_TAG_SIGNATURE 0x5F37u
#define RSP__J_TAG_EIM_PACKAGE_RESULT_RESPONSE_ERROR 0xA0u
/* Raw sizes for the bare forms some peers send (see wrap_len): ECDSA r||s on a 256-bit curve
 * (SGP.22 §2.6.5) and hashCc (Octet32). */
#define RSP__J_SIGNATURE_LEN 64u
#define RSP__J_HASH_CC_LEN 32u
/* Cap of an FQDN-like address (smdpAddress, smdsAddress) and of matchingId. */
#define RSP__J_MAX_ADDRESS 255

#define RSP__J_REQ RSP_MSG_JSON_F_REQUIRED
#define RSP__J_OPT 0u
#define RSP__J_CHOICE RSP_MSG_JSON_F_CHOICE

/* One field: struct type, member, JSON key, kind, flags, then at least one further designated
 * initializer (.lo, .hi, .tags, .wrap_len, .type, .alias ...; C11 wants a non-empty `...`, so
 * tables write `.hi = 0`, "the kind's default cap", where nothing else applies). */
#define RSP__JF(st, member, key_, kind_, flags_, ...)                                              \
  { .key = (key_), .offset = offsetof(st, member), .kind = (kind_), .flags = (flags_), __VA_ARGS__ }

#define RSP__JSTR(st, m, key, fl, ...) RSP__JF(st, m, key, RSP_MSG_JSON_STRING, fl, __VA_ARGS__)
#define RSP__JHEX(st, m, key, fl, ...) RSP__JF(st, m, key, RSP_MSG_JSON_HEX, fl, __VA_ARGS__)
#define RSP__JB64(st, m, key, fl, ...) RSP__JF(st, m, key, RSP_MSG_JSON_B64, fl, __VA_ARGS__)
#define RSP__JTLV(st, m, key, fl, ...) RSP__JF(st, m, key, RSP_MSG_JSON_B64_TLV, fl, __VA_ARGS__)
#define RSP__JINT(st, m, key, fl, ...) RSP__JF(st, m, key, RSP_MSG_JSON_INT, fl, __VA_ARGS__)
#define RSP__JBOOL(st, m, key, fl) RSP__JF(st, m, key, RSP_MSG_JSON_BOOL, fl, .lo = 0)
#define RSP__JEID(st, m, key, fl) RSP__JF(st, m, key, RSP_MSG_JSON_EID, fl, .lo = 0)
#define RSP__JOBJ(st, m, key, fl, type_)                                                           \
  RSP__JF(st, m, key, RSP_MSG_JSON_OBJECT, fl, .type = (type_))

/* transactionId / eimTransactionId: OCTET STRING (SIZE(1..16)) as a hex string. */
#define RSP__JTXID(st, m, key, fl) RSP__JHEX(st, m, key, fl, .lo = 1, .hi = 16)
/* The response header: required, except for bodies that may be empty (HTTP 204). */
#define RSP__JRESP_HEADER(st, fl)                                                                  \
  RSP__JF(st, header, "header", RSP_MSG_JSON_OBJECT, (fl) | RSP_MSG_JSON_F_INLINE,                 \
          .type = &rsp_msg_json_resp_header_type)
/* The ES2+ request header (embedded, required) and the ES9+ one (pointer, optional). */
#define RSP__JREQ_HEADER_INLINE(st)                                                                \
  RSP__JF(st, header, "header", RSP_MSG_JSON_OBJECT, RSP__J_REQ | RSP_MSG_JSON_F_INLINE,           \
          .type = &rsp_msg_json_req_header_type)
#define RSP__JREQ_HEADER_PTR(st)                                                                   \
  RSP__JOBJ(st, header, "header", RSP__J_OPT, &rsp_msg_json_req_header_type)

#define RSP__JTYPE(ident, name_, st, fields_, flags_, choice_, check_)                             \
  const struct rsp_msg_json_type ident = {                                                         \
      .name = (name_),                                                                             \
      .fields = (fields_),                                                                         \
      .nfields = sizeof(fields_) / sizeof((fields_)[0]),                                           \
      .size = sizeof(st),                                                                          \
      .flags = (flags_),                                                                           \
      .choice = (choice_),                                                                         \
      .check = (check_),                                                                           \
  }

/* For the types' check functions: records a diagnostic about the body as a whole (diag may be
 * NULL; the first problem is kept) and returns rc. */
rsp_err_t rsp__msg_json_rule_fail(struct rsp_msg_json_diag *diag, rsp_err_t rc,
                                  enum rsp_msg_json_problem problem, const char *fmt, ...)
    RSP_PRINTF(4, 5);

#endif
