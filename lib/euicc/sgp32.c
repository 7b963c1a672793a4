/* SGP.32 functions of the card: eIM associations, eUICC packages (PSMOs and eCOs), rollback,
 * immediate enable, fallback, emergency profile (notes sections 3 and 5). */
#include <stdio.h>
#include <string.h>

#include "euicc_handlers.h"
#include "euicc_internal.h"
#include "rsp/core/log.h"
#include "rsp/msg/signed.h"

#define EIM_ID_MAX 128
/* associationToken value that asks the eUICC to allocate one (SGP.32 §5.9.4, notes 3.7) */
#define TOKEN_ALLOCATE (-1)

/* ---- eIM associations
 * ---------------------------------------------------------------------------- */

static struct euicc_eim *find_eim(struct rsp_euicc *c, struct rsp_slice id) {
  for (size_t i = 0; i < c->st.n_eims; i++)
    if (strlen(c->st.eims[i].eim_id) == id.len && memcmp(c->st.eims[i].eim_id, id.p, id.len) == 0)
      return &c->st.eims[i];
  return NULL;
}

static bool ci_known(struct rsp_euicc *c, struct rsp_slice ski) {
  return !ski.p || rsp_ci_store_find(c->cis, ski.p, ski.len) != NULL;
}

/* Checks one EimConfigurationData for addition; 0 or the AddInitialEim/addEim error code:
 * insufficientMemory 1, associatedEimAlreadyExists 2, ciPKUnknown 3, invalidAssociationToken 5,
 * counterValueOutOfRange 6, commandError 7. */
static int64_t check_new_eim(struct rsp_euicc *c, const struct rsp_msg_eim_configuration_data *e,
                             size_t extra) {
  if (!e->counter_value.present || !e->eim_public_key_data) return 7;
  if (e->eim_public_key_data->which == RSP_MSG_ALT_UNKNOWN) return 7;
  if (find_eim(c, e->eim_id)) return 2;
  if (c->st.n_eims + extra >= EUICC_MAX_EIMS) return 1;
  if (!ci_known(c, e->euicc_ci_pk_id)) return 3;
  if (e->association_token.present && e->association_token.v != TOKEN_ALLOCATE) return 5;
  if (e->counter_value.v < 0 || e->counter_value.v > EUICC_COUNTER_MAX) return 6;
  return 0;
}

/* Stores a checked configuration; *token receives the allocated associationToken, if asked. */
static rsp_err_t add_eim(struct rsp_euicc *c, const struct rsp_msg_eim_configuration_data *e,
                         bool *has_token, int64_t *token) {
  struct euicc_eim *slot = &c->st.eims[c->st.n_eims];
  struct rsp_msg_eim_configuration_data copy = *e;
  copy.association_token.present = false; /* the request's -1 is not stored */
  rsp_buf_reset(&slot->config);
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_eim_configuration_data, &copy, &slot->config, NULL);
  if (rc != RSP_OK) return rc;
  snprintf(slot->eim_id, sizeof slot->eim_id, "%.*s", (int)e->eim_id.len,
           (const char *)e->eim_id.p);
  slot->counter = e->counter_value.v;
  slot->has_token = e->association_token.present;
  slot->token = slot->has_token ? c->st.next_token++ : 0;
  *has_token = slot->has_token;
  *token = slot->token;
  c->st.n_eims++;
  return RSP_OK;
}

/* The public key that verifies this eIM's packages (eimPublicKeyData: SPKI or certificate). */
static rsp_err_t eim_key(const struct euicc_eim *e, struct rsp_arena *a, struct rsp_key **key) {
  struct rsp_msg_eim_configuration_data *cfg = NULL;
  rsp_err_t rc = rsp_msg_decode(&rsp_msgt_eim_configuration_data, e->config.data, e->config.len, a,
                                (void **)&cfg, NULL);
  if (rc != RSP_OK || !cfg->eim_public_key_data) return rc != RSP_OK ? rc : RSP_E_KEY_INVALID;
  if (cfg->eim_public_key_data->which ==
      RSP_MSG_EIM_CONFIGURATION_DATA_EIM_PUBLIC_KEY_DATA_EIM_PUBLIC_KEY) {
    struct rsp_slice spki = cfg->eim_public_key_data->u.eim_public_key;
    return rsp_key_from_spki(spki.p, spki.len, key);
  }
  struct rsp_cert *cert = NULL;
  struct rsp_slice der = cfg->eim_public_key_data->u.eim_certificate;
  if ((rc = rsp_cert_parse(der.p, der.len, &cert)) != RSP_OK) return rc;
  rc = rsp_cert_public_key(cert, key);
  rsp_cert_free(cert);
  return rc;
}

EUICC_HANDLER(rsp__euicc_add_initial_eim) {
  const struct rsp_msg_add_initial_eim_request *r = req;
  const struct rsp_msg_add_initial_eim_request_eim_configuration_data_list *l =
      r->eim_configuration_data_list;
  struct rsp_msg_add_initial_eim_response_add_initial_eim_ok ok = {0};
  struct rsp_msg_add_initial_eim_response out = {
      .which = RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK, .u.add_initial_eim_ok = &ok};
  /* Atomic: every entry is checked before any is stored (notes 3.7). */
  int64_t err = l->n == 0 ? 7 : 0;
  for (size_t i = 0; i < l->n && !err; i++) {
    err = check_new_eim(c, &l->v[i], i);
    for (size_t k = 0; k < i && !err; k++)
      if (l->v[k].eim_id.len == l->v[i].eim_id.len &&
          memcmp(l->v[k].eim_id.p, l->v[i].eim_id.p, l->v[i].eim_id.len) == 0)
        err = 2;
  }
  if (err) {
    out.which = RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_ERROR;
    out.u.add_initial_eim_error = err;
    return rsp__euicc_encode(&rsp_msgt_add_initial_eim_response, &out, resp);
  }
  ok.v = rsp_arena_alloc(a, l->n * sizeof *ok.v);
  if (!ok.v) return RSP_E_NOMEM;
  for (size_t i = 0; i < l->n; i++) {
    bool has_token;
    int64_t token;
    rsp_err_t rc = add_eim(c, &l->v[i], &has_token, &token);
    if (rc != RSP_OK) return rc;
    ok.v[i].which = has_token
                        ? RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ASSOCIATION_TOKEN
                        : RSP_MSG_ADD_INITIAL_EIM_RESPONSE_ADD_INITIAL_EIM_OK_ITEM_ADD_OK;
    if (has_token)
      ok.v[i].u.association_token = token;
    else
      ok.v[i].u.add_ok = true;
  }
  ok.n = l->n;
  *changed = true;
  return rsp__euicc_encode(&rsp_msgt_add_initial_eim_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_get_eim_configuration) {
  const struct rsp_msg_get_eim_configuration_data_request *r = req;
  struct rsp_msg_get_eim_configuration_data_response_eim_configuration_data_list list = {0};
  struct rsp_msg_get_eim_configuration_data_response out = {.eim_configuration_data_list = &list};
  (void)changed;
  list.v = rsp_arena_alloc(a, (c->st.n_eims + 1) * sizeof *list.v);
  if (!list.v) return RSP_E_NOMEM;
  for (size_t i = 0; i < c->st.n_eims; i++) {
    struct euicc_eim *e = &c->st.eims[i];
    struct rsp_msg_eim_configuration_data *cfg = NULL;
    if (r->search_criteria &&
        (strlen(e->eim_id) != r->search_criteria->u.eim_id.len ||
         memcmp(e->eim_id, r->search_criteria->u.eim_id.p, strlen(e->eim_id)) != 0))
      continue;
    rsp_err_t rc = rsp_msg_decode(&rsp_msgt_eim_configuration_data, e->config.data, e->config.len,
                                  a, (void **)&cfg, NULL);
    if (rc != RSP_OK) return rc;
    /* Reported with the current counter and the association's token (docs/euicc.md). */
    cfg->counter_value = rsp_msg_int_make(e->counter);
    cfg->association_token.present = e->has_token;
    cfg->association_token.v = e->token;
    list.v[list.n++] = *cfg;
  }
  return rsp__euicc_encode(&rsp_msgt_get_eim_configuration_data_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_get_certs) {
  const struct rsp_msg_get_certs_request *r = req;
  struct rsp_msg_get_certs_response_certs certs = {.eum_certificate = rsp_cert_der(c->eum_cert),
                                                   .euicc_certificate = rsp_cert_der(c->cert)};
  struct rsp_msg_get_certs_response out = {.which = RSP_MSG_GET_CERTS_RESPONSE_CERTS,
                                           .u.certs = &certs};
  (void)a;
  (void)changed;
  if (!ci_known(c, r->euicc_ci_pk_id)) {
    out.which = RSP_MSG_GET_CERTS_RESPONSE_GET_CERTS_ERROR;
    out.u.get_certs_error = 1; /* invalidCiPKId */
  }
  return rsp__euicc_encode(&rsp_msgt_get_certs_response, &out, resp);
}

/* ---- PSMOs
 * ------------------------------------------------------------------------------------------ */

static struct euicc_profile *by_iccid(struct rsp_euicc *c, struct rsp_slice iccid) {
  return iccid.len == RSP_ICCID_LEN ? rsp__euicc_profile_by_iccid(c, iccid.p) : NULL;
}

static int64_t set_fallback(struct rsp_euicc *c, struct rsp_slice iccid, struct rsp_arena *a) {
  struct euicc_profile *p = by_iccid(c, iccid), *cur = rsp__euicc_enabled_profile(c);
  struct rsp_msg_sgp32_store_metadata_request *m = NULL;
  if (!p) return 1;
  if (rsp__euicc_metadata(p, a, &m) != RSP_OK || !rsp_msg_bool_or(m->fallback_allowed, false))
    return 2; /* fallbackNotAllowed */
  if (c->st.fallback_active && cur && cur->fallback_attribute) return 3;
  for (size_t i = 0; i < c->st.n_profiles; i++) c->st.profiles[i].fallback_attribute = false;
  p->fallback_attribute = true;
  return 0;
}

static int64_t unset_fallback(struct rsp_euicc *c) {
  struct euicc_profile *cur = rsp__euicc_enabled_profile(c);
  bool any = false;
  if (c->st.fallback_active && cur && cur->fallback_attribute) return 3;
  for (size_t i = 0; i < c->st.n_profiles; i++) {
    any |= c->st.profiles[i].fallback_attribute;
    c->st.profiles[i].fallback_attribute = false;
  }
  return any ? 0 : 2;
}

static int64_t configure_immediate(struct rsp_euicc *c, bool flag, struct rsp_slice oid,
                                   struct rsp_slice addr) {
  if (addr.len > EUICC_MAX_ADDRESS) return 7;
  c->st.immediate_enable = flag;
  rsp_buf_reset(&c->st.immediate_smdp_oid);
  if (oid.p && rsp_buf_append(&c->st.immediate_smdp_oid, oid.p, oid.len) != RSP_OK) return 1;
  snprintf(c->st.immediate_smdp_address, sizeof c->st.immediate_smdp_address, "%.*s", (int)addr.len,
           addr.p ? (const char *)addr.p : "");
  return 0;
}

static rsp_err_t run_psmo(struct rsp_euicc *c, const struct rsp_msg_psmo *op, struct rsp_arena *a,
                          struct rsp_msg_euicc_result_data *res) {
  struct euicc_profile *p;
  rsp_err_t rc = RSP_OK;
  switch (op->which) {
  case RSP_MSG_PSMO_ENABLE:
    res->which = RSP_MSG_EUICC_RESULT_DATA_ENABLE_RESULT;
    res->u.enable_result = 1;
    if ((p = by_iccid(c, op->u.enable->iccid)))
      rc = rsp__euicc_do_enable(c, p, op->u.enable->rollback_flag, &res->u.enable_result);
    return rc;
  case RSP_MSG_PSMO_DISABLE:
    res->which = RSP_MSG_EUICC_RESULT_DATA_DISABLE_RESULT;
    res->u.disable_result = 1;
    if ((p = by_iccid(c, op->u.disable->iccid)))
      rc = rsp__euicc_do_disable(c, p, &res->u.disable_result);
    return rc;
  case RSP_MSG_PSMO_DELETE:
    res->which = RSP_MSG_EUICC_RESULT_DATA_DELETE_RESULT;
    res->u.delete_result = 1;
    if ((p = by_iccid(c, op->u.delete->iccid)))
      rc = rsp__euicc_do_delete(c, p, &res->u.delete_result);
    return rc;
  case RSP_MSG_PSMO_LIST_PROFILE_INFO: {
    struct rsp_buf tmp;
    res->which = RSP_MSG_EUICC_RESULT_DATA_LIST_PROFILE_INFO_RESULT;
    rsp_buf_init(&tmp, EUICC_MAX_COMMAND);
    rc = rsp__euicc_profiles_response(c, op->u.list_profile_info, a, &tmp);
    size_t len = tmp.len;
    uint8_t *copy = rc == RSP_OK ? rsp_arena_alloc(a, len) : NULL;
    if (copy) memcpy(copy, tmp.data, len);
    rsp_buf_free(&tmp);
    if (rc != RSP_OK) return rc;
    if (!copy) return RSP_E_NOMEM;
    return rsp_msg_decode(&rsp_msgt_sgp32_profile_info_list_response, copy, len, a,
                          (void **)&res->u.list_profile_info_result, NULL);
  }
  case RSP_MSG_PSMO_GET_RAT:
    res->which = RSP_MSG_EUICC_RESULT_DATA_GET_RAT_RESULT;
    res->u.get_rat_result = rsp_arena_alloc(a, sizeof *res->u.get_rat_result);
    if (!res->u.get_rat_result || !(res->u.get_rat_result->v = rsp_arena_alloc(a, 1)))
      return RSP_E_NOMEM;
    return RSP_OK;
  case RSP_MSG_PSMO_CONFIGURE_IMMEDIATE_ENABLE: {
    const struct rsp_msg_psmo_configure_immediate_enable *ci = op->u.configure_immediate_enable;
    res->which = RSP_MSG_EUICC_RESULT_DATA_CONFIGURE_IMMEDIATE_ENABLE_RESULT;
    res->u.configure_immediate_enable_result = configure_immediate(
        c, ci->immediate_enable_flag, ci->default_smdp_oid, ci->default_smdp_address);
    return RSP_OK;
  }
  case RSP_MSG_PSMO_SET_FALLBACK_ATTRIBUTE:
    res->which = RSP_MSG_EUICC_RESULT_DATA_SET_FALLBACK_ATTRIBUTE_RESULT;
    res->u.set_fallback_attribute_result = set_fallback(c, op->u.set_fallback_attribute->iccid, a);
    return RSP_OK;
  case RSP_MSG_PSMO_UNSET_FALLBACK_ATTRIBUTE:
    res->which = RSP_MSG_EUICC_RESULT_DATA_UNSET_FALLBACK_ATTRIBUTE_RESULT;
    res->u.unset_fallback_attribute_result = unset_fallback(c);
    return RSP_OK;
  case RSP_MSG_PSMO_SET_DEFAULT_DP_ADDRESS: {
    struct rsp_slice addr = op->u.set_default_dp_address->default_dp_address;
    res->which = RSP_MSG_EUICC_RESULT_DATA_SET_DEFAULT_DP_ADDRESS_RESULT;
    res->u.set_default_dp_address_result =
        rsp_arena_alloc(a, sizeof *res->u.set_default_dp_address_result);
    if (!res->u.set_default_dp_address_result) return RSP_E_NOMEM;
    res->u.set_default_dp_address_result->set_default_dp_address_result =
        addr.len > EUICC_MAX_ADDRESS ? 127 : 0;
    if (addr.len <= EUICC_MAX_ADDRESS)
      snprintf(c->st.default_dp, sizeof c->st.default_dp, "%.*s", (int)addr.len,
               (const char *)addr.p);
    return RSP_OK;
  }
  default: /* an operation this version does not know */
    res->which = RSP_MSG_EUICC_RESULT_DATA_PROCESSING_TERMINATED;
    res->u.processing_terminated = 2; /* unknownOrDamagedCommand */
    return RSP_OK;
  }
}

/* ---- eCOs
 * ---------------------------------------------------------------------------------------- */

static int64_t update_eim(struct rsp_euicc *c, const struct rsp_msg_eim_configuration_data *e) {
  struct euicc_eim *cur = find_eim(c, e->eim_id);
  if (!cur) return 1;
  if (e->association_token.present) return 7; /* cannot carry a token (notes 3.3) */
  if (!ci_known(c, e->euicc_ci_pk_id)) return 3;
  if (e->counter_value.present &&
      (e->counter_value.v < 0 || e->counter_value.v > EUICC_COUNTER_MAX))
    return 6;
  rsp_buf_reset(&cur->config);
  if (rsp_msg_encode(&rsp_msgt_eim_configuration_data, e, &cur->config, NULL) != RSP_OK) return 7;
  if (e->counter_value.present) cur->counter = e->counter_value.v;
  return 0;
}

static rsp_err_t list_eim(struct rsp_euicc *c, struct rsp_arena *a,
                          struct rsp_msg_euicc_result_data *res) {
  struct rsp_msg_list_eim_result *l = rsp_arena_alloc(a, sizeof *l);
  struct rsp_msg_list_eim_result_eim_id_list *ids = rsp_arena_alloc(a, sizeof *ids);
  if (!l || !ids || !(ids->v = rsp_arena_alloc(a, (c->st.n_eims + 1) * sizeof *ids->v)))
    return RSP_E_NOMEM;
  for (size_t i = 0; i < c->st.n_eims; i++) {
    struct rsp_msg_eim_configuration_data *cfg = NULL;
    ids->v[i].eim_id = rsp_msg_slice(c->st.eims[i].eim_id, strlen(c->st.eims[i].eim_id));
    if (rsp_msg_decode(&rsp_msgt_eim_configuration_data, c->st.eims[i].config.data,
                       c->st.eims[i].config.len, a, (void **)&cfg, NULL) == RSP_OK)
      ids->v[i].eim_id_type = cfg->eim_id_type;
  }
  ids->n = c->st.n_eims;
  l->which = RSP_MSG_LIST_EIM_RESULT_EIM_ID_LIST;
  l->u.eim_id_list = ids;
  res->which = RSP_MSG_EUICC_RESULT_DATA_LIST_EIM_RESULT;
  res->u.list_eim_result = l;
  return RSP_OK;
}

static rsp_err_t run_eco(struct rsp_euicc *c, const struct rsp_msg_eco *op, struct rsp_arena *a,
                         struct rsp_msg_euicc_result_data *res) {
  switch (op->which) {
  case RSP_MSG_ECO_ADD_EIM: {
    struct rsp_msg_add_eim_result *r = rsp_arena_alloc(a, sizeof *r);
    bool has_token = false;
    int64_t token = 0, err = check_new_eim(c, op->u.add_eim, 0);
    if (!r) return RSP_E_NOMEM;
    if (!err) {
      rsp_err_t rc = add_eim(c, op->u.add_eim, &has_token, &token);
      if (rc != RSP_OK) return rc;
    }
    r->which = has_token ? RSP_MSG_ADD_EIM_RESULT_ASSOCIATION_TOKEN
                         : RSP_MSG_ADD_EIM_RESULT_ADD_EIM_RESULT_CODE;
    if (has_token)
      r->u.association_token = token;
    else
      r->u.add_eim_result_code = err;
    res->which = RSP_MSG_EUICC_RESULT_DATA_ADD_EIM_RESULT;
    res->u.add_eim_result = r;
    return RSP_OK;
  }
  case RSP_MSG_ECO_DELETE_EIM: {
    struct euicc_eim *e = find_eim(c, op->u.delete_eim->eim_id);
    res->which = RSP_MSG_EUICC_RESULT_DATA_DELETE_EIM_RESULT;
    res->u.delete_eim_result = e ? (c->st.n_eims == 1 ? 2 : 0) : 1; /* lastEimDeleted: 2 */
    if (e) {
      size_t i = (size_t)(e - c->st.eims);
      struct rsp_buf keep = e->config;
      memmove(e, e + 1, (c->st.n_eims - i - 1) * sizeof *e);
      c->st.eims[--c->st.n_eims].config = keep;
      rsp_buf_reset(&keep);
    }
    return RSP_OK;
  }
  case RSP_MSG_ECO_UPDATE_EIM:
    res->which = RSP_MSG_EUICC_RESULT_DATA_UPDATE_EIM_RESULT;
    res->u.update_eim_result = update_eim(c, op->u.update_eim);
    return RSP_OK;
  case RSP_MSG_ECO_LIST_EIM:
    return list_eim(c, a, res);
  default:
    res->which = RSP_MSG_EUICC_RESULT_DATA_PROCESSING_TERMINATED;
    res->u.processing_terminated = 2;
    return RSP_OK;
  }
}

/* ---- LoadEuiccPackage
 * -------------------------------------------------------------------------------- */

struct package_ctx {
  const struct rsp_msg_euicc_package_signed *ps;
  struct rsp_msg_token token;
  char eim_id[EIM_ID_MAX + 1];
};

static rsp_err_t signed_error(struct rsp_euicc *c, const struct package_ctx *p, int64_t code,
                              struct rsp_buf *resp) {
  struct rsp_msg_euicc_package_error_data_signed data = {.eim_id = p->ps->eim_id,
                                                         .counter_value = p->ps->counter_value,
                                                         .eim_transaction_id =
                                                             p->ps->eim_transaction_id,
                                                         .euicc_package_error_code = code};
  struct rsp_buf der, in;
  uint8_t sig[64];
  rsp_buf_init(&der, 4096);
  rsp_buf_init(&in, 4096);
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_euicc_package_error_data_signed, &data, &der, NULL);
  if (rc == RSP_OK) rc = rsp_msg_signed_with_token(rsp_msg_slice(der.data, der.len), p->token, &in);
  struct rsp_slice part = rsp_msg_slice(in.data, in.len);
  if (rc == RSP_OK) rc = rsp__euicc_sign(c, &part, 1, sig);
  struct rsp_msg_euicc_package_error_signed es = {.euicc_package_error_data_signed = &data,
                                                  .euicc_sign_epe = rsp_msg_slice(sig, 64)};
  struct rsp_msg_euicc_package_result out = {
      .which = RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_SIGNED,
      .u.euicc_package_error_signed = &es};
  if (rc == RSP_OK) rc = rsp__euicc_encode(&rsp_msgt_euicc_package_result, &out, resp);
  rsp_buf_free(&der);
  rsp_buf_free(&in);
  rsp_log(RSP_LOG_INFO, "euicc", "card %s: eUICC package from %s refused with error %lld",
          c->eid_digits, p->eim_id, (long long)code);
  return rc;
}

static rsp_err_t unsigned_error(struct rsp_euicc *c, const struct rsp_msg_euicc_package_signed *ps,
                                const char *why, struct rsp_buf *resp) {
  struct rsp_msg_euicc_package_error_unsigned eu = {.eim_id = ps->eim_id,
                                                    .eim_transaction_id = ps->eim_transaction_id};
  struct rsp_msg_euicc_package_result out = {
      .which = RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_ERROR_UNSIGNED,
      .u.euicc_package_error_unsigned = &eu};
  rsp_log(RSP_LOG_INFO, "euicc", "card %s: eUICC package refused: %s", c->eid_digits, why);
  return rsp__euicc_encode(&rsp_msgt_euicc_package_result, &out, resp);
}

/* Signs the result data, keeps the result as a pending notification, answers with it. */
static rsp_err_t signed_result(struct rsp_euicc *c, const struct package_ctx *p,
                               struct rsp_msg_euicc_package_result_data_signed_euicc_result *list,
                               struct rsp_buf *resp) {
  struct rsp_msg_euicc_package_result_data_signed data = {.eim_id = p->ps->eim_id,
                                                          .counter_value = p->ps->counter_value,
                                                          .eim_transaction_id =
                                                              p->ps->eim_transaction_id,
                                                          .seq_number = c->st.next_seq,
                                                          .euicc_result = list};
  struct rsp_buf der, in;
  uint8_t sig[64];
  size_t start = resp->len;
  rsp_buf_init(&der, EUICC_MAX_COMMAND);
  rsp_buf_init(&in, EUICC_MAX_COMMAND);
  rsp_err_t rc = rsp_msg_encode(&rsp_msgt_euicc_package_result_data_signed, &data, &der, NULL);
  if (rc == RSP_OK) rc = rsp_msg_signed_with_token(rsp_msg_slice(der.data, der.len), p->token, &in);
  struct rsp_slice part = rsp_msg_slice(in.data, in.len);
  if (rc == RSP_OK) rc = rsp__euicc_sign(c, &part, 1, sig);
  struct rsp_msg_euicc_package_result_signed rs = {.euicc_package_result_data_signed = &data,
                                                   .euicc_sign_epr = rsp_msg_slice(sig, 64)};
  struct rsp_msg_euicc_package_result out = {
      .which = RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED,
      .u.euicc_package_result_signed = &rs};
  if (rc == RSP_OK) rc = rsp__euicc_encode(&rsp_msgt_euicc_package_result, &out, resp);
  if (rc == RSP_OK) {
    struct euicc_notification n = {.seq = c->st.next_seq,
                                   .is_epr = true,
                                   .raw = {resp->data + start, resp->len - start, 0, 0}};
    snprintf(n.eim_id, sizeof n.eim_id, "%s", p->eim_id);
    if ((rc = rsp__euicc_add_pending(c, &n)) == RSP_OK) c->st.next_seq++;
  }
  rsp_buf_free(&der);
  rsp_buf_free(&in);
  return rc;
}

static rsp_err_t execute(struct rsp_euicc *c, const struct rsp_msg_euicc_package *pkg,
                         struct rsp_arena *a,
                         struct rsp_msg_euicc_package_result_data_signed_euicc_result *list) {
  bool psmo = pkg->which == RSP_MSG_EUICC_PACKAGE_PSMO_LIST;
  size_t n = psmo ? pkg->u.psmo_list->n : pkg->u.eco_list->n;
  list->v = rsp_arena_alloc(a, (n + 1) * sizeof *list->v);
  if (!list->v) return RSP_E_NOMEM;
  for (size_t i = 0; i < n; i++) {
    rsp_err_t rc = psmo ? run_psmo(c, &pkg->u.psmo_list->v[i], a, &list->v[i])
                        : run_eco(c, &pkg->u.eco_list->v[i], a, &list->v[i]);
    if (rc != RSP_OK) return rc;
    list->n = i + 1;
  }
  return RSP_OK;
}

EUICC_HANDLER(rsp__euicc_load_euicc_package) {
  const struct rsp_msg_euicc_package_request *r = req;
  const struct rsp_msg_euicc_package_signed *ps = r->euicc_package_signed;
  struct package_ctx p = {.ps = ps};
  struct rsp_msg_euicc_package_result_data_signed_euicc_result list = {0};
  struct rsp_key *key = NULL;
  struct rsp_buf in;
  rsp_err_t rc;
  struct euicc_eim *e = find_eim(c, ps->eim_id);
  if (!e) return unsigned_error(c, ps, "unknown eIM", resp);
  snprintf(p.eim_id, sizeof p.eim_id, "%s", e->eim_id);
  p.token = (struct rsp_msg_token){e->has_token, e->token};
  /* eimSignature over DER(euiccPackageSigned) || associationToken (notes 3.1) */
  rsp_buf_init(&in, EUICC_MAX_COMMAND);
  rc = rsp_msg_signed_with_token(ps->raw, p.token, &in);
  if (rc == RSP_OK) rc = eim_key(e, a, &key);
  if (rc == RSP_OK && (r->eim_signature.len != 64 ||
                       rsp_ecdsa_verify(key, in.data, in.len, r->eim_signature.p) != RSP_OK))
    rc = RSP_E_SIG_INVALID;
  rsp_key_free(key);
  rsp_buf_free(&in);
  if (rc == RSP_E_SIG_INVALID) return unsigned_error(c, ps, "eIM signature invalid", resp);
  if (rc != RSP_OK) return rc;
  if (ps->eid_value.len != RSP_EID_LEN || memcmp(ps->eid_value.p, c->eid, RSP_EID_LEN) != 0)
    return signed_error(c, &p, 3, resp); /* invalidEid */
  if (ps->counter_value > EUICC_COUNTER_MAX) return signed_error(c, &p, 6, resp);
  if (ps->counter_value <= e->counter) return signed_error(c, &p, 4, resp); /* replayError */
  if (ps->euicc_package->which == RSP_MSG_ALT_UNKNOWN) return signed_error(c, &p, 127, resp);
  e->counter = ps->counter_value;
  *changed = true;
  if ((rc = execute(c, ps->euicc_package, a, &list)) != RSP_OK) return rc;
  rsp_log(RSP_LOG_INFO, "euicc", "card %s: eUICC package %lld from %s: %zu operation(s)",
          c->eid_digits, (long long)ps->counter_value, p.eim_id, list.n);
  return signed_result(c, &p, &list, resp);
}

/* ---- rollback, immediate enable, fallback, emergency
 * ------------------------------------------------ */

/* The newest pending eUICC package result: the one of the enable that granted the rollback. */
static struct euicc_notification *last_epr(struct rsp_euicc *c) {
  for (size_t i = c->st.n_notifications; i-- > 0;)
    if (c->st.notifications[i].is_epr) return &c->st.notifications[i];
  return NULL;
}

/* After a rollback the card appends rollbackResult to that result, signs it again and keeps the
 * new form pending (notes 3.9: "BF51 EPR OPT with rollbackResult appended"). */
static rsp_err_t append_rollback_result(struct rsp_euicc *c, struct rsp_arena *a,
                                        struct rsp_msg_euicc_package_result **out) {
  struct euicc_notification *n = last_epr(c);
  struct rsp_msg_euicc_package_result *r = NULL;
  if (!n) return RSP_OK;
  struct euicc_eim *e = find_eim(c, rsp_msg_slice(n->eim_id, strlen(n->eim_id)));
  uint8_t *copy = rsp_arena_alloc(a, n->raw.len);
  if (!e || !copy) return e ? RSP_E_NOMEM : RSP_OK;
  memcpy(copy, n->raw.data, n->raw.len);
  rsp_err_t rc =
      rsp_msg_decode(&rsp_msgt_euicc_package_result, copy, n->raw.len, a, (void **)&r, NULL);
  if (rc != RSP_OK || r->which != RSP_MSG_EUICC_PACKAGE_RESULT_EUICC_PACKAGE_RESULT_SIGNED)
    return rc;
  struct rsp_msg_euicc_package_result_data_signed *d =
      r->u.euicc_package_result_signed->euicc_package_result_data_signed;
  struct rsp_msg_euicc_result_data *v = rsp_arena_alloc(a, (d->euicc_result->n + 1) * sizeof *v);
  if (!v) return RSP_E_NOMEM;
  memcpy(v, d->euicc_result->v, d->euicc_result->n * sizeof *v);
  v[d->euicc_result->n].which = RSP_MSG_EUICC_RESULT_DATA_ROLLBACK_RESULT;
  v[d->euicc_result->n].u.rollback_result = 0;
  d->euicc_result->v = v;
  d->euicc_result->n++;
  struct rsp_buf der, in;
  uint8_t *sig = rsp_arena_alloc(a, 64);
  rsp_buf_init(&der, EUICC_MAX_COMMAND);
  rsp_buf_init(&in, EUICC_MAX_COMMAND);
  struct rsp_msg_token tok = {e->has_token, e->token};
  rc =
      sig ? rsp_msg_encode(&rsp_msgt_euicc_package_result_data_signed, d, &der, NULL) : RSP_E_NOMEM;
  if (rc == RSP_OK) rc = rsp_msg_signed_with_token(rsp_msg_slice(der.data, der.len), tok, &in);
  struct rsp_slice part = rsp_msg_slice(in.data, in.len);
  if (rc == RSP_OK) rc = rsp__euicc_sign(c, &part, 1, sig);
  if (rc == RSP_OK) {
    r->u.euicc_package_result_signed->euicc_sign_epr = rsp_msg_slice(sig, 64);
    rsp_buf_reset(&n->raw);
    rc = rsp_msg_encode(&rsp_msgt_euicc_package_result, r, &n->raw, NULL);
  }
  rsp_buf_free(&der);
  rsp_buf_free(&in);
  if (rc == RSP_OK) *out = r;
  return rc;
}

EUICC_HANDLER(rsp__euicc_profile_rollback) {
  struct rsp_msg_profile_rollback_response out = {.cmd_result = 1}; /* rollbackNotAllowed */
  struct euicc_profile *cur = rsp__euicc_enabled_profile(c), *prev = NULL;
  (void)req;
  if (c->st.rollback_granted && cur && memcmp(cur->iccid, c->st.rollback_to, RSP_ICCID_LEN) == 0 &&
      c->st.rollback_has_from && (prev = rsp__euicc_profile_by_iccid(c, c->st.rollback_from))) {
    int64_t result;
    rsp_err_t rc = rsp__euicc_do_enable(c, prev, false, &result);
    if (rc != RSP_OK) return rc;
    out.cmd_result = result == 0 ? 0 : 7;
    c->st.rollback_granted = false; /* once */
    *changed = result == 0;
    if (result == 0 && (rc = append_rollback_result(c, a, &out.e_uicc_package_result)) != RSP_OK)
      return rc;
  }
  return rsp__euicc_encode(&rsp_msgt_profile_rollback_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_configure_immediate) {
  const struct rsp_msg_configure_immediate_profile_enabling_request *r = req;
  (void)a;
  struct rsp_msg_configure_immediate_profile_enabling_response out = {
      .config_immediate_enable_result = configure_immediate(
          c, r->immediate_enable_flag, r->default_smdp_oid, r->default_smdp_address)};
  *changed = out.config_immediate_enable_result == 0;
  return rsp__euicc_encode(&rsp_msgt_configure_immediate_profile_enabling_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_immediate_enable) {
  struct rsp_msg_immediate_enable_response out = {.immediate_enable_result = 1}; /* notAvailable */
  (void)req;
  (void)a;
  /* Enables the profile installed last, when immediate enable is configured (notes 3.9: the
   * exact eligibility rules are unconfirmed; docs/euicc.md). */
  if (c->st.immediate_enable && c->st.n_profiles) {
    struct euicc_profile *p = &c->st.profiles[c->st.n_profiles - 1];
    int64_t result = 0;
    if (p->state == EUICC_PROFILE_DISABLED) {
      rsp_err_t rc = rsp__euicc_do_enable(c, p, false, &result);
      if (rc != RSP_OK) return rc;
      out.immediate_enable_result = result == 0 ? 0 : 1;
      *changed = result == 0;
    }
  } else if (c->st.immediate_enable) {
    out.immediate_enable_result = 4; /* noSessionContext */
  }
  return rsp__euicc_encode(&rsp_msgt_immediate_enable_response, &out, resp);
}

static struct euicc_profile *fallback_profile(struct rsp_euicc *c) {
  for (size_t i = 0; i < c->st.n_profiles; i++)
    if (c->st.profiles[i].fallback_attribute) return &c->st.profiles[i];
  return NULL;
}

EUICC_HANDLER(rsp__euicc_execute_fallback) {
  struct rsp_msg_execute_fallback_mechanism_response out = {.execute_fallback_mechanism_result = 6};
  struct euicc_profile *fb = fallback_profile(c), *cur = rsp__euicc_enabled_profile(c);
  (void)req;
  (void)a;
  if (fb && fb == cur)
    out.execute_fallback_mechanism_result = 2; /* profileNotInDisabledState */
  else if (fb) {
    int64_t result;
    rsp_err_t rc = rsp__euicc_do_enable(c, fb, false, &result);
    if (rc != RSP_OK) return rc;
    if (result == 0) {
      c->st.fallback_active = true;
      c->st.fallback_has_return = cur != NULL;
      if (cur) memcpy(c->st.fallback_return_to, cur->iccid, RSP_ICCID_LEN);
      *changed = true;
    }
    out.execute_fallback_mechanism_result = result == 0 ? 0 : 7;
  }
  return rsp__euicc_encode(&rsp_msgt_execute_fallback_mechanism_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_return_from_fallback) {
  struct rsp_msg_return_from_fallback_response out = {.return_from_fallback_result = 6};
  struct euicc_profile *back = NULL;
  (void)req;
  (void)a;
  if (c->st.fallback_active && c->st.fallback_has_return &&
      (back = rsp__euicc_profile_by_iccid(c, c->st.fallback_return_to))) {
    int64_t result;
    rsp_err_t rc = rsp__euicc_do_enable(c, back, false, &result);
    if (rc != RSP_OK) return rc;
    out.return_from_fallback_result = result == 0 ? 0 : 7;
    if (result == 0) {
      c->st.fallback_active = false;
      *changed = true;
    }
  }
  return rsp__euicc_encode(&rsp_msgt_return_from_fallback_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_enable_emergency) {
  /* No emergency (eCall) profile on this card: ecallNotAvailable (8). */
  struct rsp_msg_enable_emergency_profile_response out = {.enable_emergency_profile_result = 8};
  (void)c;
  (void)req;
  (void)a;
  (void)changed;
  return rsp__euicc_encode(&rsp_msgt_enable_emergency_profile_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_disable_emergency) {
  struct rsp_msg_disable_emergency_profile_response out = {.disable_emergency_profile_result = 8};
  (void)c;
  (void)req;
  (void)a;
  (void)changed;
  return rsp__euicc_encode(&rsp_msgt_disable_emergency_profile_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_get_connectivity) {
  /* No connectivity parameters are provisioned: parametersNotAvailable (1). */
  struct rsp_msg_get_connectivity_parameters_response out = {
      .which = RSP_MSG_GET_CONNECTIVITY_PARAMETERS_RESPONSE_CONNECTIVITY_PARAMETERS_ERROR,
      .u.connectivity_parameters_error = 1};
  (void)c;
  (void)req;
  (void)a;
  (void)changed;
  return rsp__euicc_encode(&rsp_msgt_get_connectivity_parameters_response, &out, resp);
}

EUICC_HANDLER(rsp__euicc_ipae_activation) {
  /* This card runs with an IPAd (EUICCInfo2.ipaMode = ipad): IPAe is notSupported (1). */
  struct rsp_msg_ipae_activation_response out = {.ipae_activation_result = 1};
  (void)c;
  (void)req;
  (void)a;
  (void)changed;
  return rsp__euicc_encode(&rsp_msgt_ipae_activation_response, &out, resp);
}
