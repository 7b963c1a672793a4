/* openrsp: the JSON function bindings of ES9+, ES2+, ES11 and ES12 (SGP.22 §6.5) and ESipa
 * (SGP.32 §6.4).
 *
 * Every request and response body is a C struct described by a const table of fields (JSON key,
 * kind, offset, flags), and one engine (lib/msg/json_binding.c, on jansson) converts between the
 * JSON text and the struct for all of them. The tables are in lib/msg/es9p_json.c, es2p_json.c,
 * es11_json.c and esipa_json.c, the key names exactly as docs/sgp32-notes.md §2.3a and §6 give
 * them.
 *
 * Value conventions in the body structs (both for decoding and for encoding):
 *   - STRING values are NUL-terminated UTF-8 `const char *`; NULL = absent;
 *   - binary values (HEX, B64, B64_TLV, EID) are struct rsp_slice; p == NULL = absent. A B64_TLV
 *     slice holds one complete DER TLV, tag included (serverSignature1 = 5F37 40 ...);
 *   - INT and BOOL are struct rsp_msg_int / rsp_msg_bool with a `present` flag;
 *   - a status is an enum whose 0 means absent;
 *   - a nested JSON object is a pointer (NULL = absent), except the headers and ES2+
 *     notificationPointStatus, which are embedded (absent = all members absent);
 *   - a JSON array of objects (ES11 eventEntries) is a struct rsp_msg_json_array.
 * A decoded body points into a struct rsp_msg_json_doc, which owns every string and byte array of
 * it (the JSON text itself can be dropped right after decoding): keep the doc alive while the body
 * is used and release it with rsp_msg_json_doc_free.
 *
 * Decoding is strict about what it understands and lenient about the rest: unknown keys are
 * ignored (forward compatibility), but a missing required key, a wrong JSON type, bad base64 or
 * hex, a B64_TLV value that is not exactly one DER TLV (with one of the expected tags), a value
 * above its cap, a duplicated key, invalid UTF-8 or a top level that is not an object is an error,
 * with a diagnostic naming the key. A response whose header says Failed or Expired carries only
 * the header (SGP.22 §6.5.1): its other keys are neither required nor read.
 *
 * Errors: RSP_E_JSON_INVALID (syntax, type, value, base64), RSP_E_JSON_MISSING (missing required
 * key), RSP_E_HEX_INVALID (hex, EID), RSP_E_BUF_CAP (body or value above its cap), RSP_E_DER_* (a
 * B64_TLV value), RSP_E_NOMEM; rsp_msg_json_diag.problem and .text say exactly which rule.
 */
#ifndef RSP_MSG_JSON_H
#define RSP_MSG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/core/arena.h"
#include "rsp/core/buf.h"
#include "rsp/core/error.h"
#include "rsp/msg/msg.h"

/* Hard cap of one JSON body, in and out (a bound profile package in base64 is the largest). */
#define RSP_MSG_JSON_MAX_BODY (4u * 1024u * 1024u)
/* Default cap of a STRING value in bytes when its field gives none. */
#define RSP_MSG_JSON_MAX_STRING 4096u
/* Cap of the memory of one decoded body (all strings and bytes are smaller than the text). */
#define RSP_MSG_JSON_DOC_CAP (2u * RSP_MSG_JSON_MAX_BODY)
/* Tags a B64_TLV field may list. */
#define RSP_MSG_JSON_MAX_TAGS 6

/* ---- HTTP paths (SGP.22 §6.5, SGP.32 §6.4.1) ------------------------------------------------- */

#define RSP_ES9P_PATH_INITIATE_AUTHENTICATION "/gsma/rsp2/es9plus/initiateAuthentication"
#define RSP_ES9P_PATH_AUTHENTICATE_CLIENT "/gsma/rsp2/es9plus/authenticateClient"
#define RSP_ES9P_PATH_GET_BOUND_PROFILE_PACKAGE "/gsma/rsp2/es9plus/getBoundProfilePackage"
#define RSP_ES9P_PATH_HANDLE_NOTIFICATION "/gsma/rsp2/es9plus/handleNotification"
#define RSP_ES9P_PATH_CANCEL_SESSION "/gsma/rsp2/es9plus/cancelSession"

#define RSP_ES2P_PATH_DOWNLOAD_ORDER "/gsma/rsp2/es2plus/downloadOrder"
#define RSP_ES2P_PATH_CONFIRM_ORDER "/gsma/rsp2/es2plus/confirmOrder"
#define RSP_ES2P_PATH_CANCEL_ORDER "/gsma/rsp2/es2plus/cancelOrder"
#define RSP_ES2P_PATH_RELEASE_PROFILE "/gsma/rsp2/es2plus/releaseProfile"
#define RSP_ES2P_PATH_HANDLE_DOWNLOAD_PROGRESS_INFO "/gsma/rsp2/es2plus/handleDownloadProgressInfo"

#define RSP_ESIPA_JSON_PATH_INITIATE_AUTHENTICATION "/gsma/rsp2/esipa/initiateAuthentication"
#define RSP_ESIPA_JSON_PATH_AUTHENTICATE_CLIENT "/gsma/rsp2/esipa/authenticateClient"
#define RSP_ESIPA_JSON_PATH_GET_BOUND_PROFILE_PACKAGE "/gsma/rsp2/esipa/getBoundProfilePackage"
#define RSP_ESIPA_JSON_PATH_TRANSFER_EIM_PACKAGE "/gsma/rsp2/esipa/transferEimPackage"
#define RSP_ESIPA_JSON_PATH_GET_EIM_PACKAGE "/gsma/rsp2/esipa/getEimPackage"
#define RSP_ESIPA_JSON_PATH_PROVIDE_EIM_PACKAGE_RESULT "/gsma/rsp2/esipa/provideEimPackageResult"
#define RSP_ESIPA_JSON_PATH_HANDLE_NOTIFICATION "/gsma/rsp2/esipa/handleNotification"
#define RSP_ESIPA_JSON_PATH_CANCEL_SESSION "/gsma/rsp2/esipa/cancelSession"

#define RSP_ES11_PATH_INITIATE_AUTHENTICATION "/gsma/rsp2/es11/initiateAuthentication"
#define RSP_ES11_PATH_AUTHENTICATE_CLIENT "/gsma/rsp2/es11/authenticateClient"
#define RSP_ES12_PATH_REGISTER_EVENT "/gsma/rsp2/es12/registerEvent"
#define RSP_ES12_PATH_DELETE_EVENT "/gsma/rsp2/es12/deleteEvent"

/* ---- the engine ------------------------------------------------------------------------------ */

enum rsp_msg_json_kind {
  RSP_MSG_JSON_STRING = 1, /* const char * */
  RSP_MSG_JSON_HEX,        /* struct rsp_slice; upper-case hex out, either case in */
  RSP_MSG_JSON_B64,        /* struct rsp_slice; base64 of the raw bytes */
  RSP_MSG_JSON_B64_TLV,    /* struct rsp_slice; base64 of exactly one DER TLV */
  RSP_MSG_JSON_INT,        /* struct rsp_msg_int; a JSON integer (not 1.0, not "1") */
  RSP_MSG_JSON_BOOL,       /* struct rsp_msg_bool */
  RSP_MSG_JSON_EID,        /* struct rsp_slice of RSP_EID_LEN bytes; 32 hex digits */
  RSP_MSG_JSON_ENUM,       /* an int-sized enum, 0 = absent; a JSON string from `names` */
  RSP_MSG_JSON_OBJECT,     /* nested object of `type`: a pointer, or embedded with F_INLINE */
  RSP_MSG_JSON_ARRAY,      /* struct rsp_msg_json_array of objects of `type` */
};

/* Default cap of the items of an ARRAY field when its `hi` gives none. */
#define RSP_MSG_JSON_MAX_ITEMS 64u

/* An ARRAY value: `n` objects of the field's `type`, one after the other as in a C array
 * (n * type->size bytes at v). v == NULL = absent; an empty array is v != NULL with n == 0. */
struct rsp_msg_json_array {
  void *v;
  size_t n;
};

#define RSP_MSG_JSON_F_REQUIRED 0x01u
#define RSP_MSG_JSON_F_INLINE 0x02u /* OBJECT stored in the parent struct, not behind a pointer */
#define RSP_MSG_JSON_F_CHOICE 0x04u /* an alternative of the body's CHOICE (see `choice`) */

/* Type flags. */
#define RSP_MSG_JSON_T_RESPONSE 0x01u /* fields[0] is the response header (Failed/Expired rule) */
#define RSP_MSG_JSON_T_EMPTY_OK 0x02u /* an empty body (HTTP 204) decodes as all-absent */

enum rsp_msg_json_choice {
  RSP_MSG_JSON_CHOICE_NONE = 0,
  RSP_MSG_JSON_CHOICE_AT_MOST_ONE, /* F_CHOICE fields: zero or one present */
  RSP_MSG_JSON_CHOICE_ONE,         /* F_CHOICE fields: exactly one present */
  RSP_MSG_JSON_CHOICE_CUSTOM,      /* the type's `check` decides */
};

enum rsp_msg_json_problem {
  RSP_MSG_JSON_P_NONE = 0,
  RSP_MSG_JSON_P_SYNTAX,  /* not JSON, invalid UTF-8, duplicate key, top level not an object */
  RSP_MSG_JSON_P_MISSING, /* a required key is absent */
  RSP_MSG_JSON_P_TYPE,    /* the value has the wrong JSON type */
  RSP_MSG_JSON_P_VALUE,   /* out of range, unknown name, CHOICE rule broken, too short */
  RSP_MSG_JSON_P_SIZE,    /* above the cap of the body or the value */
  RSP_MSG_JSON_P_BASE64,  /* not canonical base64 */
  RSP_MSG_JSON_P_HEX,     /* not hex / not an EID */
  RSP_MSG_JSON_P_DER,     /* a B64_TLV value is not one DER TLV with an expected tag */
  RSP_MSG_JSON_P_NOMEM,
};

/* What went wrong and where. */
struct rsp_msg_json_diag {
  enum rsp_msg_json_problem problem;
  char key[96];   /* dotted key path, "header.functionExecutionStatus.status"; "" = the body */
  char text[256]; /* "<key>: <what is wrong>" */
};

struct rsp_msg_json_type;

struct rsp_msg_json_field {
  const char *key;   /* JSON key, as the notes spell it */
  const char *alias; /* another spelling accepted on input only (NULL = none) */
  size_t offset;     /* of the value in the body struct */
  uint8_t kind;      /* enum rsp_msg_json_kind */
  uint8_t flags;     /* RSP_MSG_JSON_F_* */
  /* STRING: byte length bounds; HEX/B64/B64_TLV: decoded byte length bounds (hi 0 = the default
   * cap); INT: value bounds (lo == hi == 0: any value); ARRAY: item count bounds (hi 0 =
   * RSP_MSG_JSON_MAX_ITEMS). */
  int64_t lo, hi;
  /* B64_TLV: the accepted tags (0-terminated; none listed = any tag). */
  uint32_t tags[RSP_MSG_JSON_MAX_TAGS];
  /* B64_TLV: when non-zero, a bare value of exactly this many bytes is accepted too and stored
   * wrapped in tags[0] (a raw r||s signature becomes 5F37 40 r||s); a TLV must then hold exactly
   * this many value bytes. */
  uint16_t wrap_len;
  const struct rsp_msg_json_type *type; /* OBJECT, and the items of an ARRAY */
  const char *const *names;             /* ENUM: names[1..nnames] */
  uint8_t nnames;
};

struct rsp_msg_json_type {
  const char *name; /* "es9p.initiateAuthentication.response", for diagnostics */
  const struct rsp_msg_json_field *fields;
  size_t nfields;
  size_t size;    /* sizeof the body struct */
  uint8_t flags;  /* RSP_MSG_JSON_T_* */
  uint8_t choice; /* enum rsp_msg_json_choice */
  /* Cross-field rule, run after decoding and when encoding (NULL = none). Returns
   * RSP_E_JSON_INVALID (RSP_E_JSON_MISSING for a missing alternative) and fills diag (may be NULL)
   * when the body breaks it. Not run on a Failed/Expired response. */
  rsp_err_t (*check)(const void *body, struct rsp_msg_json_diag *diag);
};

/* The memory of decoded bodies. Cannot fail; free is NULL-safe and idempotent, and the doc stays
 * usable. Several bodies may be decoded into one doc; they are released together. */
struct rsp_msg_json_doc {
  struct rsp_arena arena;
};
void rsp_msg_json_doc_init(struct rsp_msg_json_doc *doc);
void rsp_msg_json_doc_free(struct rsp_msg_json_doc *doc);

/* Decodes `len` bytes of JSON text as `type` into *body (a struct of `type`, fully overwritten;
 * on error it is left all-absent). Strings and bytes are allocated in doc. diag may be NULL. */
rsp_err_t rsp_msg_json_decode(const struct rsp_msg_json_type *type, const char *json, size_t len,
                              struct rsp_msg_json_doc *doc, void *body,
                              struct rsp_msg_json_diag *diag);
/* Appends the compact JSON text of *body to out (no NUL; out->cap and RSP_MSG_JSON_MAX_BODY bound
 * it). Checks required keys, bounds and the CHOICE rules, so an invalid body is never produced.
 * On error out keeps its previous content. */
rsp_err_t rsp_msg_json_encode(const struct rsp_msg_json_type *type, const void *body,
                              struct rsp_buf *out, struct rsp_msg_json_diag *diag);
/* Value equality of two bodies of `type` (absent == absent; nested objects compared deeply). */
bool rsp_msg_json_equal(const struct rsp_msg_json_type *type, const void *a, const void *b);
/* True when the field holds a value in *body (the engine's notion of "present"). */
bool rsp_msg_json_field_present(const struct rsp_msg_json_field *f, const void *body);

/* ---- headers and functionExecutionStatus (SGP.22 §6.5.1) ------------------------------------- */

enum rsp_msg_json_status {
  RSP_MSG_JSON_STATUS_ABSENT = 0,
  RSP_MSG_JSON_STATUS_EXECUTED_SUCCESS,      /* "Executed-Success" */
  RSP_MSG_JSON_STATUS_EXECUTED_WITH_WARNING, /* "Executed-WithWarning" */
  RSP_MSG_JSON_STATUS_FAILED,                /* "Failed" */
  RSP_MSG_JSON_STATUS_EXPIRED,               /* "Expired" */
};

struct rsp_msg_json_status_code_data {
  const char *subject_code;       /* "8.1.1" (required) */
  const char *reason_code;        /* "3.7" (required) */
  const char *subject_identifier; /* optional */
  const char *message;            /* optional */
};

/* functionExecutionStatus, and ES2+ notificationPointStatus, which has the same shape. */
struct rsp_msg_json_exec_status {
  enum rsp_msg_json_status status;
  struct rsp_msg_json_status_code_data *status_code_data; /* NULL = absent */
};

/* Response `header`: {"functionExecutionStatus": {"status": ..., "statusCodeData": {...}}}. */
struct rsp_msg_json_resp_header {
  struct rsp_msg_json_exec_status function_execution_status;
};

/* Request `header` (mandatory on ES2+; LPAs omit it on ES9+, an eIM adds it; none on ESipa). */
struct rsp_msg_json_req_header {
  const char *function_requester_identifier;
  const char *function_call_identifier;
};

extern const struct rsp_msg_json_type rsp_msg_json_status_code_data_type;
extern const struct rsp_msg_json_type rsp_msg_json_exec_status_type;
extern const struct rsp_msg_json_type rsp_msg_json_resp_header_type;
extern const struct rsp_msg_json_type rsp_msg_json_req_header_type;

/* "Executed-Success" ...; NULL for ABSENT and unknown values. */
const char *rsp_msg_json_status_name(enum rsp_msg_json_status s);
/* Executed-Success or Executed-WithWarning. */
bool rsp_msg_json_status_ok(const struct rsp_msg_json_resp_header *h);
/* True when statusCodeData is present with exactly this subjectCode and reasonCode (reason NULL
 * matches any reason). */
bool rsp_msg_json_status_code_is(const struct rsp_msg_json_exec_status *st, const char *subject,
                                 const char *reason);

/* ---- function ids and paths ------------------------------------------------------------------ */

enum rsp_msg_json_func {
  RSP_MSG_JSON_FUNC_NONE = 0,
  RSP_MSG_JSON_FUNC_ES9P_INITIATE_AUTHENTICATION,
  RSP_MSG_JSON_FUNC_ES9P_AUTHENTICATE_CLIENT,
  RSP_MSG_JSON_FUNC_ES9P_GET_BOUND_PROFILE_PACKAGE,
  RSP_MSG_JSON_FUNC_ES9P_HANDLE_NOTIFICATION,
  RSP_MSG_JSON_FUNC_ES9P_CANCEL_SESSION,
  RSP_MSG_JSON_FUNC_ES2P_DOWNLOAD_ORDER,
  RSP_MSG_JSON_FUNC_ES2P_CONFIRM_ORDER,
  RSP_MSG_JSON_FUNC_ES2P_CANCEL_ORDER,
  RSP_MSG_JSON_FUNC_ES2P_RELEASE_PROFILE,
  RSP_MSG_JSON_FUNC_ES2P_HANDLE_DOWNLOAD_PROGRESS_INFO,
  RSP_MSG_JSON_FUNC_ESIPA_INITIATE_AUTHENTICATION,
  RSP_MSG_JSON_FUNC_ESIPA_AUTHENTICATE_CLIENT,
  RSP_MSG_JSON_FUNC_ESIPA_GET_BOUND_PROFILE_PACKAGE,
  RSP_MSG_JSON_FUNC_ESIPA_TRANSFER_EIM_PACKAGE,
  RSP_MSG_JSON_FUNC_ESIPA_GET_EIM_PACKAGE,
  RSP_MSG_JSON_FUNC_ESIPA_PROVIDE_EIM_PACKAGE_RESULT,
  RSP_MSG_JSON_FUNC_ESIPA_HANDLE_NOTIFICATION,
  RSP_MSG_JSON_FUNC_ESIPA_CANCEL_SESSION,
  RSP_MSG_JSON_FUNC_ES11_INITIATE_AUTHENTICATION,
  RSP_MSG_JSON_FUNC_ES11_AUTHENTICATE_CLIENT,
  RSP_MSG_JSON_FUNC_ES12_REGISTER_EVENT,
  RSP_MSG_JSON_FUNC_ES12_DELETE_EVENT,
  RSP_MSG_JSON_FUNC__COUNT
};

struct rsp_msg_json_func_info {
  enum rsp_msg_json_func func;
  const char *path; /* RSP_*_PATH_* */
  const char *name; /* "initiateAuthentication" */
  const struct rsp_msg_json_type *request;
  const struct rsp_msg_json_type *response;
};

/* The function served at an HTTP path; a query string ("?...") is ignored. NONE when unknown. */
enum rsp_msg_json_func rsp_msg_json_func_from_path(const char *path);
/* Path, name and body types of a function; NULL for NONE and out-of-range values. */
const struct rsp_msg_json_func_info *rsp_msg_json_func_get(enum rsp_msg_json_func func);

/* ---- ES9+ (SGP.22 §6.5.2; notes §6). Request headers are optional on ES9+. ------------------- */

struct rsp_es9p_json_initiate_authentication_req {
  struct rsp_msg_json_req_header *header;
  struct rsp_slice euicc_challenge; /* euiccChallenge: 16 raw bytes */
  struct rsp_slice euicc_info1;     /* euiccInfo1: BF20 TLV */
  const char *smdp_address;         /* smdpAddress */
};
struct rsp_es9p_json_initiate_authentication_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice transaction_id;            /* transactionId: hex, 1..16 bytes */
  struct rsp_slice server_signed1;            /* serverSigned1: 30 TLV */
  struct rsp_slice server_signature1;         /* serverSignature1: 5F37 TLV */
  struct rsp_slice euicc_ci_pk_id_to_be_used; /* euiccCiPKIdToBeUsed: 04 TLV */
  struct rsp_slice server_certificate;        /* serverCertificate: 30 TLV */
};

struct rsp_es9p_json_authenticate_client_req {
  struct rsp_msg_json_req_header *header;
  struct rsp_slice transaction_id;
  struct rsp_slice authenticate_server_response; /* authenticateServerResponse: BF38 TLV */
};
struct rsp_es9p_json_authenticate_client_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice transaction_id;
  struct rsp_slice profile_metadata; /* profileMetadata: BF25 TLV */
  struct rsp_slice smdp_signed2;     /* smdpSigned2: 30 TLV */
  struct rsp_slice smdp_signature2;  /* smdpSignature2: 5F37 TLV */
  struct rsp_slice smdp_certificate; /* smdpCertificate: 30 TLV */
};

struct rsp_es9p_json_get_bound_profile_package_req {
  struct rsp_msg_json_req_header *header;
  struct rsp_slice transaction_id;
  struct rsp_slice prepare_download_response; /* prepareDownloadResponse: BF21 TLV */
};
struct rsp_es9p_json_get_bound_profile_package_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice transaction_id;
  struct rsp_slice bound_profile_package; /* boundProfilePackage: BF36 TLV */
};

struct rsp_es9p_json_handle_notification_req {
  struct rsp_msg_json_req_header *header;
  struct rsp_slice pending_notification; /* pendingNotification: BF37 or 30 TLV */
};
/* No output data: HTTP 204 and an empty body, which decodes to an all-absent struct. */
struct rsp_es9p_json_handle_notification_resp {
  struct rsp_msg_json_resp_header header;
};

struct rsp_es9p_json_cancel_session_req {
  struct rsp_msg_json_req_header *header;
  struct rsp_slice transaction_id;
  struct rsp_slice cancel_session_response; /* cancelSessionResponse: BF41 TLV */
};
/* No output data per the spec (TTCN: no body); osmo-smdpp returns header + transactionId. */
struct rsp_es9p_json_cancel_session_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice transaction_id; /* optional */
};

extern const struct rsp_msg_json_type rsp_es9p_json_initiate_authentication_req_type;
extern const struct rsp_msg_json_type rsp_es9p_json_initiate_authentication_resp_type;
extern const struct rsp_msg_json_type rsp_es9p_json_authenticate_client_req_type;
extern const struct rsp_msg_json_type rsp_es9p_json_authenticate_client_resp_type;
extern const struct rsp_msg_json_type rsp_es9p_json_get_bound_profile_package_req_type;
extern const struct rsp_msg_json_type rsp_es9p_json_get_bound_profile_package_resp_type;
extern const struct rsp_msg_json_type rsp_es9p_json_handle_notification_req_type;
extern const struct rsp_msg_json_type rsp_es9p_json_handle_notification_resp_type;
extern const struct rsp_msg_json_type rsp_es9p_json_cancel_session_req_type;
extern const struct rsp_msg_json_type rsp_es9p_json_cancel_session_resp_type;

/* ---- ES2+ (SGP.22 §6.5.1; notes §6). Request headers are mandatory. -------------------------- */

struct rsp_es2p_json_download_order_req {
  struct rsp_msg_json_req_header header;
  struct rsp_slice eid;     /* optional */
  const char *iccid;        /* optional; 18..20 characters (19 digits + F allowed) */
  const char *profile_type; /* optional */
};
struct rsp_es2p_json_download_order_resp {
  struct rsp_msg_json_resp_header header;
  const char *iccid;
};

struct rsp_es2p_json_confirm_order_req {
  struct rsp_msg_json_req_header header;
  const char *iccid;
  struct rsp_slice eid;             /* optional */
  const char *matching_id;          /* optional */
  const char *confirmation_code;    /* optional */
  const char *smds_address;         /* optional */
  struct rsp_msg_bool release_flag; /* releaseFlag (required) */
};
struct rsp_es2p_json_confirm_order_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice eid; /* optional */
  const char *matching_id;
  const char *smdp_address; /* optional */
};

struct rsp_es2p_json_cancel_order_req {
  struct rsp_msg_json_req_header header;
  const char *iccid;
  struct rsp_slice eid;                       /* optional */
  const char *matching_id;                    /* optional */
  const char *final_profile_status_indicator; /* "Available" / "Unavailable" */
};
struct rsp_es2p_json_cancel_order_resp {
  struct rsp_msg_json_resp_header header;
};

struct rsp_es2p_json_release_profile_req {
  struct rsp_msg_json_req_header header;
  const char *iccid;
};
struct rsp_es2p_json_release_profile_resp {
  struct rsp_msg_json_resp_header header;
};

/* SM-DP+ -> operator. */
struct rsp_es2p_json_handle_download_progress_info_req {
  struct rsp_msg_json_req_header header;
  struct rsp_slice eid; /* optional */
  const char *iccid;
  const char *profile_type;
  const char *timestamp; /* "YYYY-MM-DDThh:mm:ssTZD", passed through unchanged */
  struct rsp_msg_int notification_point_id;
  struct rsp_msg_json_exec_status notification_point_status;
  struct rsp_slice result_data; /* resultData: base64 bytes, optional */
};
/* HTTP 204, no body. */
struct rsp_es2p_json_handle_download_progress_info_resp {
  struct rsp_msg_json_resp_header header;
};

extern const struct rsp_msg_json_type rsp_es2p_json_download_order_req_type;
extern const struct rsp_msg_json_type rsp_es2p_json_download_order_resp_type;
extern const struct rsp_msg_json_type rsp_es2p_json_confirm_order_req_type;
extern const struct rsp_msg_json_type rsp_es2p_json_confirm_order_resp_type;
extern const struct rsp_msg_json_type rsp_es2p_json_cancel_order_req_type;
extern const struct rsp_msg_json_type rsp_es2p_json_cancel_order_resp_type;
extern const struct rsp_msg_json_type rsp_es2p_json_release_profile_req_type;
extern const struct rsp_msg_json_type rsp_es2p_json_release_profile_resp_type;
extern const struct rsp_msg_json_type rsp_es2p_json_handle_download_progress_info_req_type;
extern const struct rsp_msg_json_type rsp_es2p_json_handle_download_progress_info_resp_type;

/* ---- ES11 (SGP.22 §5.8, the LPA's side of the SM-DS) and ES12 (§5.5, SM-DP+ -> SM-DS) -------
 * ES11 has the shape of ES9+ (notes §6): initiateAuthentication answers with the ES9+ keys
 * (rsp_es9p_json_initiate_authentication_resp) and authenticateClient takes the ES9+ request
 * (rsp_es9p_json_authenticate_client_req); only authenticateClient's answer differs. LPAs send the
 * ES9+ body (smdpAddress) to the SM-DS as well, so the ES11 request accepts that key too. ES12
 * requests carry the mandatory header of server-to-server functions, as on ES2+. The choices on
 * the unconfirmed points are docs/adr/0007-smds-es11-paths.md. */

struct rsp_es11_json_initiate_authentication_req {
  struct rsp_msg_json_req_header *header;
  struct rsp_slice euicc_challenge; /* euiccChallenge: 16 raw bytes */
  struct rsp_slice euicc_info1;     /* euiccInfo1: BF20 TLV */
  const char *smds_address;         /* smdsAddress (smdpAddress accepted on input) */
};

/* EventEntries (SGP.22 ASN.1): eventId is the matchingId to use at rspServerAddress. */
struct rsp_es11_json_event_entry {
  const char *event_id;           /* eventId */
  const char *rsp_server_address; /* rspServerAddress (FQDN[:port] of the SM-DP+) */
};
/* eventEntries is an array (empty when no event waits); transactionId is optional on input. */
struct rsp_es11_json_authenticate_client_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice transaction_id;
  struct rsp_msg_json_array event_entries; /* of struct rsp_es11_json_event_entry */
};

struct rsp_es12_json_register_event_req {
  struct rsp_msg_json_req_header header;
  struct rsp_slice eid;                     /* eid: 32 digits */
  const char *rsp_server_address;           /* rspServerAddress */
  const char *event_id;                     /* eventId */
  struct rsp_msg_bool forwarding_indicator; /* forwardingIndicator, optional */
};
struct rsp_es12_json_register_event_resp {
  struct rsp_msg_json_resp_header header;
};

struct rsp_es12_json_delete_event_req {
  struct rsp_msg_json_req_header header;
  struct rsp_slice eid;
  const char *event_id;
};
struct rsp_es12_json_delete_event_resp {
  struct rsp_msg_json_resp_header header;
};

extern const struct rsp_msg_json_type rsp_es11_json_initiate_authentication_req_type;
extern const struct rsp_msg_json_type rsp_es11_json_event_entry_type;
extern const struct rsp_msg_json_type rsp_es11_json_authenticate_client_resp_type;
extern const struct rsp_msg_json_type rsp_es12_json_register_event_req_type;
extern const struct rsp_msg_json_type rsp_es12_json_register_event_resp_type;
extern const struct rsp_msg_json_type rsp_es12_json_delete_event_req_type;
extern const struct rsp_msg_json_type rsp_es12_json_delete_event_resp_type;

/* ---- ESipa JSON binding (SGP.32 §6.4.1; notes §2.3a). Requests carry no header. -------------- */

struct rsp_esipa_json_get_eim_package_req {
  struct rsp_slice eid_value;              /* eidValue */
  struct rsp_msg_bool notify_state_change; /* notifyStateChange: true when set */
  struct rsp_msg_int state_change_cause;   /* stateChangeCause */
  struct rsp_slice r_plmn;                 /* rPlmn (rPLMN accepted): 3 bytes */
};
/* One of the three packages, or eimPackageError; see rsp_esipa_json_eim_package_error. */
struct rsp_esipa_json_get_eim_package_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice euicc_package_request;            /* BF51 TLV */
  struct rsp_slice ipa_euicc_data_request;           /* BF52 TLV */
  struct rsp_slice profile_download_trigger_request; /* BF54 TLV */
  struct rsp_msg_int eim_package_error;
};

struct rsp_esipa_json_provide_eim_package_result_req {
  struct rsp_slice eid_value;          /* optional (CR12014R02) */
  struct rsp_slice eim_package_result; /* BF51, 30, BF52, BF54, A0 (error) or 02 (v1.0) TLV */
};
/* eimAcknowledgements absent = emptyResponse. */
struct rsp_esipa_json_provide_eim_package_result_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice eim_acknowledgements; /* BF53 TLV, optional */
};

/* Exactly one of the two. */
struct rsp_esipa_json_handle_notification_req {
  struct rsp_slice pending_notification;       /* any TLV (BF37, 30, or a compact form) */
  struct rsp_slice provide_eim_package_result; /* BF50 TLV */
};
/* 200 with a header, or 204 / 200 with an empty body. */
struct rsp_esipa_json_handle_notification_resp {
  struct rsp_msg_json_resp_header header;
};

struct rsp_esipa_json_initiate_authentication_req {
  struct rsp_slice euicc_challenge;    /* 16 raw bytes */
  struct rsp_slice euicc_info1;        /* BF20 TLV; absent with minimizeEsipaBytes */
  const char *smdp_address;            /* absent with eimDownloadDataHandling */
  struct rsp_slice eim_transaction_id; /* hex, optional */
};
struct rsp_esipa_json_initiate_authentication_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice transaction_id; /* optional (minimizeEsipaBytes) */
  struct rsp_slice server_signed1;
  struct rsp_slice server_signature1; /* 5F37 TLV (a bare 64-byte value is wrapped) */
  struct rsp_slice euicc_ci_pk_identifier_to_be_used; /* 04 TLV */
  struct rsp_slice server_certificate;
  const char *matching_id;      /* optional */
  struct rsp_slice ctx_params1; /* optional, any TLV */
};

/* DP case: smdpSigned2, smdpSignature2 and smdpCertificate; DS case: transactionId and optionally
 * profileDownloadTrigger, without the three. */
struct rsp_esipa_json_authenticate_client_req {
  struct rsp_slice transaction_id;
  struct rsp_slice authenticate_server_response; /* BF38 TLV */
};
struct rsp_esipa_json_authenticate_client_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice transaction_id;
  struct rsp_slice profile_metadata; /* BF25 TLV, optional */
  struct rsp_slice smdp_signed2;
  struct rsp_slice smdp_signature2; /* 5F37 TLV (a bare 64-byte value is wrapped) */
  struct rsp_slice smdp_certificate;
  struct rsp_slice hash_cc;                  /* 04 TLV (a bare 32-byte value is wrapped) */
  struct rsp_slice profile_download_trigger; /* BF54 TLV, DS case */
};

struct rsp_esipa_json_get_bound_profile_package_req {
  struct rsp_slice transaction_id;
  struct rsp_slice prepare_download_response; /* BF21 TLV */
};
struct rsp_esipa_json_get_bound_profile_package_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice transaction_id; /* optional */
  struct rsp_slice bound_profile_package;
};

struct rsp_esipa_json_cancel_session_req {
  struct rsp_slice transaction_id;
  struct rsp_slice cancel_session_response; /* any TLV (BF41 as on ES9+) */
};
struct rsp_esipa_json_cancel_session_resp {
  struct rsp_msg_json_resp_header header;
};

/* eIM -> IPA: exactly one of the four. */
struct rsp_esipa_json_transfer_eim_package_req {
  struct rsp_slice euicc_package_request;            /* BF51 */
  struct rsp_slice ipa_euicc_data_request;           /* BF52 */
  struct rsp_slice eim_acknowledgements;             /* BF53 */
  struct rsp_slice profile_download_trigger_request; /* BF54 */
};
struct rsp_esipa_json_epr_and_notifications {
  struct rsp_slice euicc_package_result; /* BF51 */
  struct rsp_slice notification_list;    /* any TLV */
};
/* IPA -> eIM: at most one of the four; none = eimPackageReceived (header only). */
struct rsp_esipa_json_transfer_eim_package_resp {
  struct rsp_msg_json_resp_header header;
  struct rsp_slice euicc_package_result;
  struct rsp_esipa_json_epr_and_notifications *epr_and_notifications;
  struct rsp_slice ipa_euicc_data_response;
  struct rsp_msg_int eim_package_error;
};

extern const struct rsp_msg_json_type rsp_esipa_json_get_eim_package_req_type;
extern const struct rsp_msg_json_type rsp_esipa_json_get_eim_package_resp_type;
extern const struct rsp_msg_json_type rsp_esipa_json_provide_eim_package_result_req_type;
extern const struct rsp_msg_json_type rsp_esipa_json_provide_eim_package_result_resp_type;
extern const struct rsp_msg_json_type rsp_esipa_json_handle_notification_req_type;
extern const struct rsp_msg_json_type rsp_esipa_json_handle_notification_resp_type;
extern const struct rsp_msg_json_type rsp_esipa_json_initiate_authentication_req_type;
extern const struct rsp_msg_json_type rsp_esipa_json_initiate_authentication_resp_type;
extern const struct rsp_msg_json_type rsp_esipa_json_authenticate_client_req_type;
extern const struct rsp_msg_json_type rsp_esipa_json_authenticate_client_resp_type;
extern const struct rsp_msg_json_type rsp_esipa_json_get_bound_profile_package_req_type;
extern const struct rsp_msg_json_type rsp_esipa_json_get_bound_profile_package_resp_type;
extern const struct rsp_msg_json_type rsp_esipa_json_cancel_session_req_type;
extern const struct rsp_msg_json_type rsp_esipa_json_cancel_session_resp_type;
extern const struct rsp_msg_json_type rsp_esipa_json_transfer_eim_package_req_type;
extern const struct rsp_msg_json_type rsp_esipa_json_transfer_eim_package_resp_type;
extern const struct rsp_msg_json_type rsp_esipa_json_epr_and_notifications_type;

/* The JSON status codes that SGP.32 v1.2 (CR12011R00) maps to ASN.1 error values, as GD-IPA reads
 * them (notes §2.3a). Each returns 0 when the response is not an error, else the ASN.1 value;
 * 127 (undefinedError) for a Failed/Expired status without a known code. */

/* GetEimPackageResponse.eimPackageError from either form: an integer eimPackageError in an
 * Executed-Success body (OIR, IAPYX; 0 next to a package means none), or status Failed with
 * subject 8.1.1 and reason 3.7 noEimPackageAvailable(1), 3.9 eidNotFound(2), 2.1 invalidEid(3),
 * 2.2 missingEid(4) (GD-IPA). */
int64_t rsp_esipa_json_eim_package_error(const struct rsp_esipa_json_get_eim_package_resp *r);
/* ProvideEimPackageResultResponse.provideEimPackageResultError (same subject/reason table). */
int64_t
rsp_esipa_json_provide_result_error(const struct rsp_esipa_json_provide_eim_package_result_resp *r);
/* InitiateAuthenticationResponseEsipa.error: 8.8.1/3.8 invalidDpAddress(1), 8.8.3/3.1
 * euiccVersionNotSupportedByDp(2), 8.8.2/3.1 and 8.8.4/3.7 ciPKIdNotSupported(3), 8.8.1/3.10
 * smdpAddressMismatch(50), 8.31.2 (eimTransactionId) invalidEimTransactionId(52); 8.9.x (SM-DS)
 * as 8.8.x. */
int64_t rsp_esipa_json_initiate_authentication_error(
    const struct rsp_esipa_json_initiate_authentication_resp *r);
/* The IPA side of the ESipa JSON binding (lib/msg/esipa_json_ipa.c). rsp_esipa_json_from_ipa:
 * an EsipaMessageFromIpaToEim (DER) as the JSON function it stands for: *function its name (a
 * static string: the path is /gsma/rsp2/esipa/<function>) and its body appended to `json`;
 * RSP_E_UNSUPPORTED for transferEimPackageResponse (push mode). rsp_esipa_json_to_ipa: the eIM's
 * JSON answer to `function` (a 2xx body; empty for handleNotification's 204) as the
 * EsipaMessageFromEimToIpa (DER) the ASN.1 binding would carry, appended to `der` (nothing for
 * handleNotification; RSP_E_STATE when the eIM answered it Failed). Every TLV in the answer is
 * decoded with the strict codec; nothing is appended on error. */
rsp_err_t rsp_esipa_json_from_ipa(const uint8_t *der, size_t len, const char **function,
                                  struct rsp_buf *json);
rsp_err_t rsp_esipa_json_to_ipa(const char *function, const char *body, size_t len,
                                struct rsp_buf *der);

/* The four download functions of ESipa, for their error values. */
enum rsp_esipa_json_download {
  RSP_ESIPA_JSON_DL_INITIATE_AUTHENTICATION,
  RSP_ESIPA_JSON_DL_AUTHENTICATE_CLIENT,
  RSP_ESIPA_JSON_DL_GET_BOUND_PROFILE_PACKAGE,
  RSP_ESIPA_JSON_DL_CANCEL_SESSION,
};
/* The ES9+-style subjectCode/reasonCode a Failed answer of `f` carries for an ESipa error value
 * (static strings; subject 8.8, reason 4.2 "execution error" for a value without its own). */
void rsp_esipa_json_download_error_status(enum rsp_esipa_json_download f, int64_t value,
                                          struct rsp_msg_json_status_code_data *out);
/* The ESipa error value of an answer of `f`: 0 when it succeeded, the value its statusCodeData
 * stands for, else 127 (undefinedError). The inverse of the above (initiateAuthentication also
 * reads the SM-DS and certificate codes listed for rsp_esipa_json_initiate_authentication_error).
 */
int64_t rsp_esipa_json_download_error(enum rsp_esipa_json_download f,
                                      const struct rsp_msg_json_resp_header *h);

/* For an eIM answering with the Failed form: the subjectCode/reasonCode of an eimPackageError
 * value (static strings). RSP_E_NOT_FOUND when the value has no JSON code (127, unknown). */
rsp_err_t rsp_esipa_json_eim_package_error_status(int64_t code,
                                                  struct rsp_msg_json_status_code_data *out);

#endif
