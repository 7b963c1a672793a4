/* IPA: reading the card's eIM configuration and EID (SGP.32 ES10b.GetEimConfigurationData). */
#include <string.h>

#include "rsp/core/log.h"
#include "rsp/ipa/config.h"

/* One ES10 request built from `v`, the answer decoded as `rt` into the arena. */
static rsp_err_t call(struct rsp_es10_client *es10, const struct rsp_msg_type *t, const void *v,
                      const struct rsp_msg_type *rt, struct rsp_arena *a, void **out) {
  struct rsp_buf req, resp;
  rsp_buf_init(&req, 4096);
  rsp_buf_init(&resp, RSP_ES10_MAX_RESPONSE);
  rsp_err_t rc = rsp_msg_encode(t, v, &req, NULL);
  if (rc == RSP_OK) rc = rsp_es10_client_call(es10, req.data, req.len, &resp);
  uint8_t *copy = rc == RSP_OK ? rsp_arena_alloc(a, resp.len ? resp.len : 1) : NULL;
  if (rc == RSP_OK && !copy) rc = RSP_E_NOMEM;
  if (rc == RSP_OK) {
    memcpy(copy, resp.data, resp.len);
    rc = rsp_msg_decode(rt, copy, resp.len, a, out, NULL);
  }
  rsp_buf_free(&req);
  rsp_buf_free(&resp);
  return rc;
}

rsp_err_t rsp_ipa_read_eim_config(struct rsp_es10_client *es10, const char *eim_id,
                                  struct rsp_arena *a,
                                  struct rsp_msg_eim_configuration_data **out) {
  struct rsp_msg_get_eim_configuration_data_request q = {0};
  struct rsp_msg_get_eim_configuration_data_response *r = NULL;
  *out = NULL;
  rsp_err_t rc = call(es10, &rsp_msgt_get_eim_configuration_data_request, &q,
                      &rsp_msgt_get_eim_configuration_data_response, a, (void **)&r);
  if (rc != RSP_OK) return rc;
  const struct rsp_msg_get_eim_configuration_data_response_eim_configuration_data_list *l =
      r->eim_configuration_data_list;
  for (size_t i = 0; l && i < l->n; i++) {
    const struct rsp_slice id = l->v[i].eim_id;
    if (!eim_id || (id.len == strlen(eim_id) && memcmp(id.p, eim_id, id.len) == 0)) {
      *out = &l->v[i];
      return RSP_OK;
    }
  }
  return RSP_E_NOT_FOUND;
}

rsp_err_t rsp_ipa_read_eid(struct rsp_es10_client *es10, uint8_t eid[16]) {
  struct rsp_arena a;
  struct rsp_msg_get_euicc_data_request q = {.tag_list = rsp_msg_slice("\x5A", 1)};
  struct rsp_msg_get_euicc_data_response *r = NULL;
  rsp_arena_init(&a, 1 << 16);
  rsp_err_t rc = call(es10, &rsp_msgt_get_euicc_data_request, &q, &rsp_msgt_get_euicc_data_response,
                      &a, (void **)&r);
  if (rc == RSP_OK && r->eid_value.len != 16) rc = RSP_E_DER_BAD_VALUE;
  if (rc == RSP_OK) memcpy(eid, r->eid_value.p, 16);
  rsp_arena_free(&a);
  return rc;
}
