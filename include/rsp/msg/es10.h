/* openrsp: the ES10a/b/c functions between the IPA (or LPA) and the eUICC's ISD-R.
 *
 * Each function is one STORE DATA exchange: the request is one DER TLV whose tag names the
 * function, the answer one TLV with the same tag (notes section 5). This table maps the tag to
 * the request and response descriptors, so the card dispatches commands and the IPA decodes
 * answers from one place. */
#ifndef RSP_MSG_ES10_H
#define RSP_MSG_ES10_H

#include "rsp/msg/msg.h"

enum rsp_es10_iface {
  RSP_ES10A = 'a',
  RSP_ES10B = 'b',
  RSP_ES10C = 'c',
};

struct rsp_es10_function {
  const char *name;          /* the spec's function name, e.g. "GetEimConfigurationData" */
  enum rsp_es10_iface iface; /* ES10a/b/c; the split of the SGP.32 additions is unconfirmed */
  uint32_t tag;              /* request and response tag, e.g. 0xBF55 */
  const struct rsp_msg_type *request;        /* what the IPA sends */
  const struct rsp_msg_type *response;       /* what an SGP.32 eUICC answers */
  const struct rsp_msg_type *response_sgp22; /* the SGP.22-only form, when it differs (else NULL) */
  bool sgp32;                                /* defined by SGP.32 (not in SGP.22) */
};

extern const struct rsp_es10_function rsp_es10_functions[];
extern const size_t rsp_es10_functions_count;

/* The function a request tag selects; NULL when the tag names no ES10 function. */
const struct rsp_es10_function *rsp_es10_function_by_tag(uint32_t tag);

/* Card side: decodes one complete command TLV (after STORE DATA reassembly) and says which
 * function it is. RSP_E_UNSUPPORTED when the tag names no known function. LoadBoundProfilePackage
 * arrives in segments (SGP.22 §2.5.5) and is not decoded here. */
rsp_err_t rsp_es10_decode_command(const uint8_t *der, size_t len, struct rsp_arena *arena,
                                  const struct rsp_es10_function **fn, void **request,
                                  struct rsp_msg_diag *diag);
/* IPA side: decodes the answer to `fn`; an SGP.32 form first, then the SGP.22 form if one
 * exists (a plain SGP.22 card answers without the SGP.32 fields). `*sgp22` tells which. */
rsp_err_t rsp_es10_decode_response(const struct rsp_es10_function *fn, const uint8_t *der,
                                   size_t len, struct rsp_arena *arena, void **response,
                                   bool *sgp22, struct rsp_msg_diag *diag);

#endif
